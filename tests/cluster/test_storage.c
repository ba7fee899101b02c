// The storage service in real processes: a supervisor and two workers
// (oscar-supervisor, oscar-worker), reached over tcp from the test. Put,
// get, info, bad input, a 256 MiB pull whose receiving worker's peak RSS
// stays well under twice the object, and the storage figures in the
// worker's node info.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/cluster/support_procs.h"
#include "tests/common/values.h"

TestSuite(storage_procs, .init = procs_setup, .fini = procs_teardown, .timeout = 300);

typedef proc_node_t node_t;

static node_t start_node(const char *name, const char *sup, const char *spill)
{
	char set[PATH_MAX + 32];
	snprintf(set, sizeof(set), "storage.spill_dir=%s", spill);
	if (sup == NULL) {
		return (procs_start_node(name, NULL, "--log-level", "error", NULL));
	}
	return (procs_start_node(name, sup, "--log-level", "error", "--set", set, NULL));
}

static void session(oscar_pool_t *pool, const node_t *w, const char *id)
{
	oscar_ref_t   ref;
	oscar_error_t err;
	oscar_ref_make(&ref, w->addr, OSCAR_STORAGE_UID);
	cr_assert_eq(oscar_call(pool, &ref, "session_create", oscar_value_new_str(id), DEADLINE_MS,
	                 NULL, &err),
	    0, "%s", err.message);
}

Test(storage_procs, put_get_pull_256_mib_and_node_info_in_real_workers)
{
	char spill[PATH_MAX];
	procs_path(spill, sizeof(spill), "spill");
#ifdef OSCAR_TEST_SANITIZE
	// AddressSanitizer keeps freed memory in quarantine (256 MiB by
	// default), which would count every block of the transfer in the
	// worker's RSS: keep the quarantine small so that RSS measures the
	// storage, not the sanitizer.
	char        opts[1024];
	const char *old = getenv("ASAN_OPTIONS");
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", old != NULL ? old : "",
	    old != NULL && old[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
#endif
	node_t        sup  = start_node("sup", NULL, spill);
	node_t        a    = start_node("w1", sup.addr, spill);
	node_t        b    = start_node("w2", sup.addr, spill);
	oscar_pool_t *pool = procs_client_pool();
	oscar_error_t err;
	session(pool, &a, "s1");
	session(pool, &b, "s1");

	// Put and get back, sliced; bad input answered with clear errors.
	size_t         n      = 256u << 20;
	const char    *keys[] = { "big", "small" };
	oscar_value_t *vals[] = { pattern_bin(n), oscar_value_new_str("hello") };
	uint64_t       sizes[2];
	cr_assert_eq(oscar_storage_put(pool, a.addr, "s1", 2, keys, vals, sizes, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(sizes[0], n + 5);
	const char *k1[] = { "small" };
	cr_assert_eq(
	    oscar_storage_get(pool, a.addr, "s9", 1, k1, NULL, 0, &vals[0], DEADLINE_MS, &err),
	    OSCAR_ENOENT);
	cr_assert(strstr(err.message, "s9") != NULL, "%s", err.message);

	// Pull the big one to the second worker and watch its peak RSS.
	long        base = status_kb(b.proc->pid, "VmRSS:");
	const char *k0[] = { "big" };
	uint64_t    size = 0;
	cr_assert_eq(
	    oscar_storage_pull(pool, b.addr, "s1", 1, k0, a.addr, &size, DEADLINE_MS * 3, &err), 0,
	    "%s", err.message);
	cr_assert_eq(size, n + 5);
	long peak = status_kb(b.proc->pid, "VmHWM:");
	long grew = peak - base;
	cr_assert_gt(
	    grew, (long) (n / 1024), "the object is not in the receiver? grew %ld KiB", grew);
	cr_assert_lt(grew, (long) (n / 1024) * 3 / 2, "peak grew by %ld KiB", grew);

	// It arrived intact: read it back in slices (its first and last MiB).
	oscar_storage_slice_t first = {
		.start = 0, .stop = 1 << 20, .step = 1, .has_start = true, .has_stop = true
	};
	oscar_storage_slice_t        last = { .start = -(1 << 20), .step = 1, .has_start = true };
	const oscar_storage_slice_t *sl[] = { &first, &last };
	const char                  *kk[] = { "big", "big" };
	oscar_value_t               *out  = NULL;
	cr_assert_eq(oscar_storage_get(pool, b.addr, "s1", 2, kk, sl, 0, &out, DEADLINE_MS, &err),
	    0, "%s", err.message);
	for (int j = 0; j < 2; j++) {
		const oscar_value_t *v   = oscar_value_at(out, (size_t) j);
		size_t               off = j == 0 ? 0 : n - (1u << 20);
		cr_assert_eq(v->as.bin.len, 1u << 20);
		for (size_t i = 0; i < v->as.bin.len; i++) {
			cr_assert_eq((unsigned char) v->as.bin.ptr[i],
			    (unsigned char) (((off + i) * 31 + 7) & 0xff), "byte %zu", off + i);
		}
	}
	oscar_value_free(out);

	// The worker's node info carries the storage figures.
	oscar_ref_t    ref;
	oscar_value_t *info = NULL;
	oscar_ref_make(&ref, b.addr, OSCAR_CLUSTER_UID);
	cr_assert_eq(
	    oscar_call(pool, &ref, "info", NULL, DEADLINE_MS, &info, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_map_uint(info, "storage_used", 0), n + 5);
	cr_assert_gt(oscar_value_map_uint(info, "storage_limit", 0), 0);
	cr_assert_eq(oscar_value_map_uint(info, "storage_spilled", 1), 0);
	oscar_value_free(info);

	// The nodes stop cleanly.
	proc_signal(b.proc, SIGTERM);
	proc_signal(a.proc, SIGTERM);
	cr_assert_eq(proc_wait_exit(b.proc), 0, "%s", proc_tail(b.proc));
	cr_assert_eq(proc_wait_exit(a.proc), 0, "%s", proc_tail(a.proc));
	proc_signal(sup.proc, SIGTERM);
	cr_assert_eq(proc_wait_exit(sup.proc), 0, "%s", proc_tail(sup.proc));
}
