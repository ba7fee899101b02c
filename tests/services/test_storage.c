// The storage service with nodes in the test process: a supervisor and two
// workers, reached through the typed API (include/oscar/storage.h) from a
// client pool. Put, get (sliced, lz4), delete, info, sessions, the memory
// quota and spilling under concurrent callers, pulls between workers
// (shared, cancelled, a 256 MiB one under an RSS bound), the node info's
// storage fields, bad input, and the sub pools' shared-memory link
// (a real sub pool of the worker reads a 64 MiB object and hands one
// back; one SIGKILLed while holding a segment leaves nothing behind).
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oscar/oscar.h"
#include "tests/common/proc.h"
#include "tests/common/pools.h"
#include "tests/common/values.h"

#define T_MS 60000

static void init(void)
{
	oscar_log_setup("error", NULL);
}

TestSuite(storage, .init = init, .timeout = 600);

typedef struct cluster {
	oscar_node_t *sup;
	oscar_node_t *w[2];
	oscar_pool_t *pool; // the client's
	char          spill[256];
} cluster_t;

// start brings up a supervisor and n workers with [storage] kv, and a
// client pool; the spill directory is the test's own.
static void start(cluster_t *c, int n, const char *const *kv)
{
	oscar_settings_t *s;
	oscar_error_t     err;
	memset(c, 0, sizeof(*c));
	snprintf(c->spill, sizeof(c->spill), "/tmp/oscar-test-storage-%d", (int) getpid());
	oscar_settings_new(&s);
	cr_assert_eq(
	    oscar_node_start(&c->sup, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), 0, "%s", err.message);
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(c->sup));
	oscar_settings_set(s, "storage", "spill_dir", c->spill);
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		oscar_settings_set(s, "storage", kv[i], kv[i + 1]);
	}
	for (int i = 0; i < n; i++) {
		cr_assert_eq(oscar_node_start(&c->w[i], OSCAR_ROLE_WORKER, s, NULL, &err), 0, "%s",
		    err.message);
	}
	oscar_settings_free(&s);
	c->pool = pool_open_at("tcp://127.0.0.1:0");
}

static void stop(cluster_t *c)
{
	oscar_node_stop(&c->w[1]);
	oscar_node_stop(&c->w[0]);
	oscar_node_stop(&c->sup);
	oscar_pool_free(&c->pool);
	rmdir(c->spill);
}

static const char *addr(cluster_t *c, int i)
{
	return (oscar_node_address(c->w[i]));
}

// session makes session id on every worker, as the session service does.
static void session(cluster_t *c, const char *id)
{
	oscar_error_t err;
	for (int i = 0; i < 2; i++) {
		if (c->w[i] != NULL) {
			cr_assert_eq(
			    oscar_node_session_create(c->w[i], id, &err), 0, "%s", err.message);
		}
	}
}

static int put1(
    cluster_t *c, int w, const char *sid, const char *key, oscar_value_t *v, oscar_error_t *err)
{
	const char *keys[] = { key };
	return (oscar_storage_put(c->pool, addr(c, w), sid, 1, keys, &v, NULL, T_MS, err));
}

static int get1(cluster_t *c, int w, const char *sid, const char *key,
    const oscar_storage_slice_t *sl, oscar_value_t **out, oscar_error_t *err)
{
	const char                  *keys[] = { key };
	const oscar_storage_slice_t *sls[]  = { sl };
	oscar_value_t               *arr    = NULL;
	int                          rv     = oscar_storage_get(
	                                 c->pool, addr(c, w), sid, 1, keys, sl != NULL ? sls : NULL, 0, &arr, T_MS, err);
	*out = NULL;
	if (rv == 0) {
		*out = oscar_value_copy(oscar_value_at(arr, 0));
	}
	oscar_value_free(arr);
	return (rv);
}

// expect_pattern asserts that worker w holds key of session sid, and that
// it is pattern_bin(n).
static void expect_pattern(cluster_t *c, int w, const char *sid, const char *key, size_t n)
{
	oscar_value_t *v = NULL;
	oscar_error_t  err;
	cr_assert_eq(get1(c, w, sid, key, NULL, &v, &err), 0, "%s", err.message);
	cr_assert(is_pattern(v, n));
	oscar_value_free(v);
}

static oscar_storage_info_t info(cluster_t *c, int w)
{
	oscar_storage_info_t in;
	oscar_error_t        err;
	cr_assert_eq(
	    oscar_storage_info(c->pool, addr(c, w), &in, T_MS, &err), 0, "%s", err.message);
	return (in);
}

// spill_files counts the files under the spill directory (one level of
// the store's own directory).
static int spill_files(cluster_t *c)
{
	int  n = 0;
	DIR *d = opendir(c->spill);
	if (d == NULL) {
		return (0);
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char sub[512];
		snprintf(sub, sizeof(sub), "%s/%s", c->spill, e->d_name);
		DIR *s = opendir(sub);
		if (s == NULL) {
			n++;
			continue;
		}
		struct dirent *f;
		while ((f = readdir(s)) != NULL) {
			n += f->d_name[0] != '.';
		}
		closedir(s);
	}
	closedir(d);
	return (n);
}

// ---------------------------------------------------------------------------
// Put, get, delete, sessions

Test(storage, put_get_delete_and_info_batched)
{
	cluster_t     c;
	oscar_error_t err;
	start(&c, 1, NULL);
	session(&c, "s1");
	const char    *keys[] = { "a", "b", "c" };
	oscar_value_t *vals[] = { oscar_value_new_str("hello"), oscar_value_new_int(42),
		pattern_bin(100000) };
	uint64_t       sizes[3];
	cr_assert_eq(oscar_storage_put(c.pool, addr(&c, 0), "s1", 3, keys, vals, sizes, T_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(sizes[0], 6); // fixstr header + 5 bytes
	cr_assert_eq(sizes[1], 1);
	cr_assert_eq(sizes[2], 100005); // bin32 header + bytes
	oscar_value_t *out = NULL;
	cr_assert_eq(
	    oscar_storage_get(c.pool, addr(&c, 0), "s1", 3, keys, NULL, 0, &out, T_MS, &err), 0,
	    "%s", err.message);
	cr_assert_str_eq(oscar_value_at_str(out, 0), "hello");
	cr_assert_eq(oscar_value_at_int(out, 1, 0), 42);
	cr_assert(is_pattern(oscar_value_at(out, 2), 100000));
	oscar_value_free(out);
	oscar_storage_info_t in = info(&c, 0);
	cr_assert_eq(in.objects, 3);
	cr_assert_eq(in.used, 6 + 1 + 100005);
	cr_assert_eq(in.sessions, 1);
	// The same key twice counts once; a missing key deletes nothing.
	const char *dk[] = { "a", "a", "nope" };
	uint64_t    n    = 99;
	cr_assert_eq(
	    oscar_storage_delete(c.pool, addr(&c, 0), "s1", 3, dk, &n, T_MS, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "nope") != NULL, "%s", err.message);
	cr_assert_eq(info(&c, 0).objects, 3);
	cr_assert_eq(oscar_storage_delete(c.pool, addr(&c, 0), "s1", 2, dk, &n, T_MS, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(info(&c, 0).objects, 2);
	stop(&c);
}

Test(storage, unknown_session_and_key_are_named_and_sessions_are_isolated)
{
	cluster_t      c;
	oscar_error_t  err;
	oscar_value_t *v;
	start(&c, 1, NULL);
	session(&c, "s1");
	session(&c, "s2");
	cr_assert_eq(put1(&c, 0, "nosuch", "k", oscar_value_new_int(1), &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "nosuch") != NULL, "%s", err.message);
	cr_assert_eq(
	    put1(&c, 0, "s1", "k", oscar_value_new_str("secret"), &err), 0, "%s", err.message);
	cr_assert_eq(get1(&c, 0, "s2", "k", NULL, &v, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no such object k in session s2") != NULL, "%s", err.message);
	cr_assert_eq(get1(&c, 0, "s1", "missing", NULL, &v, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "missing") != NULL && strstr(err.message, "s1") != NULL, "%s",
	    err.message);
	cr_assert_eq(get1(&c, 0, "s1", "k", NULL, &v, &err), 0);
	cr_assert_str_eq(v->as.str.ptr, "secret");
	oscar_value_free(v);
	stop(&c);
}

Test(storage, slices_select_and_bad_slices_are_refused)
{
	cluster_t      c;
	oscar_error_t  err;
	oscar_value_t *v;
	start(&c, 1, NULL);
	session(&c, "s1");
	oscar_value_t *arr = oscar_value_new_array(10);
	for (int i = 0; i < 10; i++) {
		oscar_value_array_push(arr, oscar_value_new_int(i));
	}
	cr_assert_eq(put1(&c, 0, "s1", "arr", arr, &err), 0, "%s", err.message);
	cr_assert_eq(put1(&c, 0, "s1", "str", oscar_value_new_str("abcdef"), &err), 0);
	oscar_value_t *m = oscar_value_new_map(1);
	oscar_value_map_set(m, "x", oscar_value_new_int(1));
	cr_assert_eq(put1(&c, 0, "s1", "map", m, &err), 0);

	oscar_storage_slice_t sl = {
		.start = 2, .stop = 8, .step = 3, .has_start = true, .has_stop = true
	};
	cr_assert_eq(get1(&c, 0, "s1", "arr", &sl, &v, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_len(v), 2);
	cr_assert_eq(oscar_value_at_int(v, 0, -1), 2);
	cr_assert_eq(oscar_value_at_int(v, 1, -1), 5);
	oscar_value_free(v);
	oscar_storage_slice_t rev = { .step = -1 };
	cr_assert_eq(get1(&c, 0, "s1", "str", &rev, &v, &err), 0, "%s", err.message);
	cr_assert_str_eq(v->as.str.ptr, "fedcba");
	oscar_value_free(v);
	oscar_storage_slice_t idx = { .start = -2, .index = true };
	cr_assert_eq(get1(&c, 0, "s1", "arr", &idx, &v, &err), 0, "%s", err.message);
	cr_assert_eq(v->as.i, 8);
	oscar_value_free(v);
	// Out of range, step 0, a map: refused, naming the object.
	oscar_storage_slice_t out = {
		.start = 0, .stop = 11, .step = 1, .has_start = true, .has_stop = true
	};
	cr_assert_eq(get1(&c, 0, "s1", "arr", &out, &v, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "out of range") != NULL, "%s", err.message);
	oscar_storage_slice_t zero = { .step = 0 };
	cr_assert_eq(get1(&c, 0, "s1", "arr", &zero, &v, &err), OSCAR_EINVAL);
	cr_assert_eq(get1(&c, 0, "s1", "map", &sl, &v, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "map") != NULL, "%s", err.message);
	stop(&c);
}

Test(storage, large_bins_travel_lz4_when_the_reader_accepts_it)
{
	cluster_t     c;
	oscar_error_t err;
	start(&c, 1, NULL);
	session(&c, "s1");
	// Compressible: a repeating pattern of 1 MiB.
	size_t         n      = 1u << 20;
	const char    *keys[] = { "big", "small" };
	oscar_value_t *vals[] = { pattern_bin(n), oscar_value_new_str("x") };
	cr_assert_eq(
	    oscar_storage_put(c.pool, addr(&c, 0), "s1", 2, keys, vals, NULL, T_MS, &err), 0);
	// The raw reply, as another service's actor sees it.
	oscar_ref_t    ref;
	oscar_value_t *args = oscar_value_new_map(3), *ks = oscar_value_new_array(2),
	              *acc = oscar_value_new_array(1), *reply = NULL;
	oscar_value_array_push(ks, oscar_value_new_str("big"));
	oscar_value_array_push(ks, oscar_value_new_str("small"));
	oscar_value_array_push(acc, oscar_value_new_str("lz4"));
	oscar_value_map_set(args, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(args, "keys", ks);
	oscar_value_map_set(args, "accept", acc);
	oscar_ref_make(&ref, addr(&c, 0), OSCAR_STORAGE_UID);
	cr_assert_eq(
	    oscar_call(c.pool, &ref, "get", args, T_MS, &reply, &err), 0, "%s", err.message);
	const oscar_value_t *which = oscar_value_map_get(reply, "lz4");
	cr_assert_eq(oscar_value_len(which), 1);
	cr_assert_eq(oscar_value_at_uint(which, 0, 9), 0);
	const oscar_value_t *z = oscar_value_at(oscar_value_map_get(reply, "values"), 0);
	cr_assert_lt(z->as.bin.len, n / 4, "compressed to %zu bytes", z->as.bin.len);
	oscar_value_free(reply);
	// Through the typed API: decompressed on arrival.
	oscar_value_t *out = NULL;
	cr_assert_eq(oscar_storage_get(c.pool, addr(&c, 0), "s1", 2, keys, NULL, OSCAR_STORAGE_LZ4,
	                 &out, T_MS, &err),
	    0, "%s", err.message);
	cr_assert(is_pattern(oscar_value_at(out, 0), n));
	cr_assert_str_eq(oscar_value_at_str(out, 1), "x");
	oscar_value_free(out);
	stop(&c);
}

Test(storage, malformed_batches_are_refused_and_change_nothing)
{
	cluster_t     c;
	oscar_error_t err;
	oscar_ref_t   ref;
	start(&c, 1, NULL);
	session(&c, "s1");
	oscar_ref_make(&ref, addr(&c, 0), OSCAR_STORAGE_UID);
	// Not a map; no items; an item that is not [key, value].
	cr_assert_eq(oscar_call(c.pool, &ref, "put", oscar_value_new_int(3), T_MS, NULL, &err),
	    OSCAR_EBADARGS);
	oscar_value_t *a = oscar_value_new_map(2);
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	cr_assert_eq(oscar_call(c.pool, &ref, "put", a, T_MS, NULL, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "items") != NULL, "%s", err.message);
	a                    = oscar_value_new_map(2);
	oscar_value_t *items = oscar_value_new_array(2);
	oscar_value_t *good  = oscar_value_new_array(2);
	oscar_value_array_push(good, oscar_value_new_str("k1"));
	oscar_value_array_push(good, oscar_value_new_int(1));
	oscar_value_array_push(items, good);
	oscar_value_array_push(items, oscar_value_new_str("bad"));
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(a, "items", items);
	cr_assert_eq(oscar_call(c.pool, &ref, "put", a, T_MS, NULL, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "item 1") != NULL, "%s", err.message);
	cr_assert_eq(info(&c, 0).objects, 0); // k1 was not stored either
	// A get with keys that are not strs, slices of the wrong count.
	a                 = oscar_value_new_map(2);
	oscar_value_t *ks = oscar_value_new_array(1);
	oscar_value_array_push(ks, oscar_value_new_int(5));
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(a, "keys", ks);
	cr_assert_eq(oscar_call(c.pool, &ref, "get", a, T_MS, NULL, &err), OSCAR_EBADARGS);
	// read_blocks with a block size of 0 and shm calls without the token.
	a = oscar_value_new_map(4);
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(a, "key", oscar_value_new_str("k1"));
	oscar_value_map_set(a, "offset", oscar_value_new_uint(0));
	oscar_value_map_set(a, "size", oscar_value_new_uint(0));
	cr_assert_eq(oscar_call(c.pool, &ref, "read_blocks", a, T_MS, NULL, &err), OSCAR_EBADARGS);
	a = oscar_value_new_map(4);
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(a, "key", oscar_value_new_str("k1"));
	oscar_value_map_set(a, "fd", oscar_value_new_int(0));
	cr_assert_eq(oscar_call(c.pool, &ref, "shm_import", a, T_MS, NULL, &err), OSCAR_EBADARGS);
	cr_assert_eq(info(&c, 0).objects, 0);
	stop(&c);
}

Test(storage, a_destroyed_session_leaves_zero_bytes_and_no_spill_file)
{
	const char *const kv[] = { "memory_limit", "300000", NULL };
	cluster_t         c;
	oscar_error_t     err;
	start(&c, 1, kv);
	session(&c, "s1");
	for (int i = 0; i < 8; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(
		    put1(&c, 0, "s1", key, pattern_bin(100000), &err), 0, "%s", err.message);
	}
	oscar_storage_info_t in = info(&c, 0);
	cr_assert_gt(in.spilled, 0);
	cr_assert_gt(spill_files(&c), 0);
	oscar_node_session_destroy(c.w[0], "s1");
	in = info(&c, 0);
	cr_assert_eq(in.used, 0);
	cr_assert_eq(in.spilled, 0);
	cr_assert_eq(in.objects, 0);
	cr_assert_eq(spill_files(&c), 0);
	cr_assert_eq(put1(&c, 0, "s1", "k", oscar_value_new_int(1), &err), OSCAR_ENOENT);
	stop(&c);
}

Test(storage, a_put_over_the_quota_with_nothing_to_spill_is_refused)
{
	const char *const kv[] = { "memory_limit", "200000", "spill_dir", "", NULL };
	cluster_t         c;
	oscar_error_t     err;
	start(&c, 1, kv);
	session(&c, "s1");
	cr_assert_eq(put1(&c, 0, "s1", "a", pattern_bin(150000), &err), 0, "%s", err.message);
	cr_assert_eq(put1(&c, 0, "s1", "b", pattern_bin(150000), &err), OSCAR_ENOSPACE);
	cr_assert(strstr(err.message, "nothing left to spill") != NULL ||
	              strstr(err.message, "no room") != NULL,
	    "%s", err.message);
	cr_assert_eq(put1(&c, 0, "s1", "c", pattern_bin(300000), &err), OSCAR_ENOSPACE);
	// Nothing lost.
	expect_pattern(&c, 0, "s1", "a", 150000);
	cr_assert_eq(info(&c, 0).objects, 1);
	stop(&c);
}

// ---------------------------------------------------------------------------
// Spilling under four threads

typedef struct worker_arg {
	cluster_t *c;
	int        id;
	int        failures;
	char       why[256];
} worker_arg_t;

static void *put_get_thread(void *p)
{
	worker_arg_t *a = p;
	oscar_error_t err;
	for (int i = 0; i < 25 && a->failures == 0; i++) {
		char key[32];
		snprintf(key, sizeof(key), "t%d-%d", a->id, i);
		size_t         n    = 20000 + (size_t) (a->id * 1000 + i);
		const char    *ks[] = { key };
		oscar_value_t *v    = pattern_bin(n);
		if (oscar_storage_put(
		        a->c->pool, addr(a->c, 0), "s1", 1, ks, &v, NULL, T_MS, &err) != 0) {
			a->failures++;
			snprintf(a->why, sizeof(a->why), "put %s: %s", key, err.message);
			break;
		}
		// Read back every earlier key of this thread (most are spilled).
		for (int j = 0; j <= i; j += 3) {
			snprintf(key, sizeof(key), "t%d-%d", a->id, j);
			oscar_value_t *out = NULL;
			if (oscar_storage_get(a->c->pool, addr(a->c, 0), "s1", 1, ks, NULL, 0, &out,
			        T_MS, &err) != 0 ||
			    !is_pattern(
			        oscar_value_at(out, 0), 20000 + (size_t) (a->id * 1000 + j))) {
				a->failures++;
				snprintf(a->why, sizeof(a->why), "get %s: %s", key, err.message);
			}
			oscar_value_free(out);
		}
	}
	return (NULL);
}

Test(storage, spill_and_read_back_with_a_tiny_quota_under_four_threads)
{
	const char *const kv[] = { "memory_limit", "100000", NULL };
	cluster_t         c;
	start(&c, 1, kv);
	session(&c, "s1");
	pthread_t    t[4];
	worker_arg_t a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (worker_arg_t) { .c = &c, .id = i };
		cr_assert_eq(pthread_create(&t[i], NULL, put_get_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(a[i].failures, 0, "thread %d: %s", i, a[i].why);
	}
	oscar_storage_info_t in = info(&c, 0);
	cr_assert_eq(in.objects, 100);
	cr_assert_leq(in.used, 100000);
	cr_assert_gt(in.spilled, 0);
	stop(&c);
	cr_assert_eq(spill_files(&c), 0); // the store's directory went with it
}

// ---------------------------------------------------------------------------
// Pulls between workers

Test(storage, a_pull_copies_objects_in_blocks_and_a_second_pull_shares_the_transfer)
{
	const char *const kv[] = { "transfer_block_size", "4K", NULL };
	cluster_t         c;
	oscar_error_t     err;
	start(&c, 2, kv);
	session(&c, "s1");
	size_t n = 16u << 20;
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	cr_assert_eq(put1(&c, 0, "s1", "small", oscar_value_new_str("hi"), &err), 0);
	// A pull of the big one, and while it is under way (4 KiB blocks:
	// thousands of them), a second pull of the same key: it joins the
	// first one's transfer.
	const char   *k1[] = { "big" };
	oscar_call_t *p1, *p2;
	cr_assert_eq(oscar_storage_pull_start(
	                 c.pool, addr(&c, 1), "s1", 1, k1, addr(&c, 0), T_MS, &p1, &err),
	    0, "%s", err.message);
	oscar_storage_info_t in;
	int                  polls = 0;
	do {
		in = info(&c, 1);
		cr_assert_lt(++polls, 1000000, "the transfer never started");
	} while (in.transfers == 0);
	cr_assert_eq(oscar_storage_pull_start(
	                 c.pool, addr(&c, 1), "s1", 1, k1, addr(&c, 0), T_MS, &p2, &err),
	    0, "%s", err.message);
	oscar_value_t *r1 = NULL, *r2 = NULL;
	cr_assert_eq(oscar_call_wait(&p1, &r1, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_call_wait(&p2, &r2, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_at_uint(r1, 0, 0), n + 5);
	cr_assert_eq(oscar_value_at_uint(r2, 0, 0), n + 5);
	oscar_value_free(r1);
	oscar_value_free(r2);
	cr_assert_eq(info(&c, 1).transfers_started, 1);
	// Both keys: the big one is here already, the small one is pulled.
	const char *k2[] = { "big", "small" };
	uint64_t    sizes[2];
	cr_assert_eq(
	    oscar_storage_pull(c.pool, addr(&c, 1), "s1", 2, k2, addr(&c, 0), sizes, T_MS, &err), 0,
	    "%s", err.message);
	cr_assert_eq(sizes[0], n + 5);
	cr_assert_eq(sizes[1], 3);
	cr_assert_eq(info(&c, 1).transfers_started, 2);
	expect_pattern(&c, 1, "s1", "big", n);
	cr_assert_eq(info(&c, 1).objects, 2);
	cr_assert_eq(info(&c, 1).transfers, 0);
	// Unknown key, unknown session: named.
	const char *k3[] = { "nope" };
	cr_assert_eq(
	    oscar_storage_pull(c.pool, addr(&c, 1), "s1", 1, k3, addr(&c, 0), NULL, T_MS, &err),
	    OSCAR_ENOENT);
	cr_assert(strstr(err.message, "nope") != NULL, "%s", err.message);
	cr_assert_eq(
	    oscar_storage_pull(c.pool, addr(&c, 1), "s9", 1, k3, addr(&c, 0), NULL, T_MS, &err),
	    OSCAR_ENOENT);
	cr_assert(strstr(err.message, "s9") != NULL, "%s", err.message);
	cr_assert_eq(info(&c, 1).objects, 2);
	stop(&c);
}

Test(storage, a_pull_with_lz4_blocks_arrives_intact)
{
	const char *const kv[] = { "transfer_block_size", "256K", "transfer_lz4", "true", NULL };
	cluster_t         c;
	oscar_error_t     err;
	start(&c, 2, kv);
	session(&c, "s1");
	size_t n = (3u << 20) + 12345;
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	// A peer answers a read_blocks that accepts lz4 with a smaller,
	// compressed block.
	oscar_ref_t    ref;
	oscar_value_t *a = oscar_value_new_map(5), *acc = oscar_value_new_array(1), *r = NULL;
	oscar_value_array_push(acc, oscar_value_new_str("lz4"));
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(a, "key", oscar_value_new_str("big"));
	oscar_value_map_set(a, "offset", oscar_value_new_uint(0));
	oscar_value_map_set(a, "size", oscar_value_new_uint(256 << 10));
	oscar_value_map_set(a, "accept", acc);
	oscar_ref_make(&ref, addr(&c, 0), OSCAR_STORAGE_UID);
	cr_assert_eq(
	    oscar_call(c.pool, &ref, "read_blocks", a, T_MS, &r, &err), 0, "%s", err.message);
	cr_assert(oscar_value_map_bool(r, "lz4", false));
	cr_assert_lt(oscar_value_map_get(r, "data")->as.bin.len, 256u << 10);
	cr_assert_eq(oscar_value_map_uint(r, "total", 0), n + 5);
	oscar_value_free(r);
	const char *k[] = { "big" };
	cr_assert_eq(
	    oscar_storage_pull(c.pool, addr(&c, 1), "s1", 1, k, addr(&c, 0), NULL, T_MS, &err), 0,
	    "%s", err.message);
	expect_pattern(&c, 1, "s1", "big", n);
	stop(&c);
}

Test(storage, a_cancelled_pull_drops_its_transfer)
{
	// Small blocks, so that the transfer is still under way when
	// cancelled.
	const char *const kv[] = { "transfer_block_size", "4K", NULL };
	cluster_t         c;
	oscar_error_t     err;
	start(&c, 2, kv);
	session(&c, "s1");
	size_t n = 64u << 20;
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	const char   *k[] = { "big" };
	oscar_call_t *p;
	cr_assert_eq(
	    oscar_storage_pull_start(c.pool, addr(&c, 1), "s1", 1, k, addr(&c, 0), T_MS, &p, &err),
	    0, "%s", err.message);
	// Wait until it is under way (bytes reserved), then cancel it.
	oscar_storage_info_t in;
	int                  polls = 0;
	do {
		in = info(&c, 1);
		cr_assert_lt(++polls, 1000000, "the transfer never started");
	} while (in.transfers == 0 || in.used == 0);
	oscar_call_cancel(p);
	cr_assert_eq(oscar_call_wait(&p, NULL, &err), OSCAR_ECANCELED);
	in = info(&c, 1);
	cr_assert_eq(in.transfers, 0);
	cr_assert_eq(in.used, 0);
	cr_assert_eq(in.objects, 0);
	stop(&c);
}

Test(storage, a_256_mib_pull_arrives_intact_under_twice_its_size)
{
	cluster_t     c;
	oscar_error_t err;
	start(&c, 2, NULL);
	session(&c, "s1");
	size_t n = 256u << 20;
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	// Reset the peak so that it starts from here (Linux >= 4.0).
	if (!peak_reset()) {
		cr_skip_test("cannot reset the peak RSS");
	}
	long        base = status_kb(0, "VmRSS:");
	const char *k[]  = { "big" };
	uint64_t    size;
	cr_assert_eq(
	    oscar_storage_pull(c.pool, addr(&c, 1), "s1", 1, k, addr(&c, 0), &size, T_MS, &err), 0,
	    "%s", err.message);
	long peak = status_kb(0, "VmHWM:");
	cr_assert_eq(size, n + 5);
	// The receiver holds one more copy and a few blocks: well under
	// twice the object.
	cr_assert_lt(peak - base, (long) (n / 1024) * 3 / 2, "peak grew by %ld KiB", peak - base);
	expect_pattern(&c, 1, "s1", "big", n);
	stop(&c);
}

// ---------------------------------------------------------------------------
// The node info

Test(storage, the_node_info_has_the_storage_figures)
{
	const char *const kv[] = { "memory_limit", "10M", NULL };
	cluster_t         c;
	oscar_error_t     err;
	start(&c, 1, kv);
	session(&c, "s1");
	cr_assert_eq(put1(&c, 0, "s1", "k", pattern_bin(1000), &err), 0);
	oscar_ref_t    ref;
	oscar_value_t *m = NULL;
	oscar_ref_make(&ref, addr(&c, 0), OSCAR_CLUSTER_UID);
	cr_assert_eq(oscar_call(c.pool, &ref, "info", NULL, T_MS, &m, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_map_uint(m, "storage_used", 0), 1003);
	cr_assert_eq(oscar_value_map_uint(m, "storage_limit", 0), 10u << 20);
	cr_assert_eq(oscar_value_map_uint(m, "storage_spilled", 99), 0);
	oscar_value_free(m);
	stop(&c);
}

Test(storage, bad_settings_are_refused_before_the_node_starts)
{
	oscar_settings_t *s;
	oscar_node_t     *w;
	oscar_error_t     err;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "supervisor", "tcp://127.0.0.1:9");
	oscar_settings_set(s, "storage", "transfer_block_size", "1");
	cr_assert_eq(oscar_node_start(&w, OSCAR_ROLE_WORKER, s, NULL, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "transfer_block_size") != NULL, "%s", err.message);
	oscar_settings_set(s, "storage", "transfer_block_size", "1M");
	oscar_settings_set(s, "storage", "spill_dir", "relative/dir");
	cr_assert_eq(oscar_node_start(&w, OSCAR_ROLE_WORKER, s, NULL, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "spill_dir") != NULL, "%s", err.message);
	oscar_settings_set(s, "storage", "spill_dir", "/tmp");
	oscar_settings_set(s, "storage", "memory_limt", "1M");
	cr_assert_eq(oscar_node_start(&w, OSCAR_ROLE_WORKER, s, NULL, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "memory_limt") != NULL, "%s", err.message);
	oscar_settings_free(&s);
}

// ---------------------------------------------------------------------------
// Shared memory with the sub pools
//
// The worker's sub pools run this very program (main, below, makes it a
// sub pool when its node started it), which offers the class of a test
// service: an actor that reads objects through oscar_storage_local_*, as
// the task slots do.

typedef struct reader {
	oscar_storage_view_t held;
} reader_t;

// reader_link opens the link to the node named in the arguments.
static int reader_link(oscar_req_t *req, oscar_storage_local_t **l)
{
	oscar_error_t err;
	const char   *address = oscar_value_map_str(oscar_req_args(req), "address");
	if (oscar_storage_local_open(l, address, &err) != 0) {
		return (oscar_req_fail(req, err.code, "%s", err.message));
	}
	return (0);
}

// reader_read maps {session, key} and checks that it is a bin of n bytes
// in the pattern; keeps the mapping when hold is set. Replies n.
static int reader_map(oscar_actor_t *self, oscar_req_t *req, bool hold)
{
	reader_t              *st   = oscar_actor_state(self);
	const oscar_value_t   *args = oscar_req_args(req);
	oscar_storage_local_t *l;
	oscar_storage_view_t   view;
	oscar_error_t          err;
	int                    rv;
	if ((rv = reader_link(req, &l)) != 0) {
		return (rv);
	}
	rv = oscar_storage_local_read(l, oscar_value_map_str(args, "session"),
	    oscar_value_map_str(args, "key"), &view, T_MS, &err);
	oscar_storage_local_close(&l);
	if (rv != 0) {
		return (oscar_req_fail(req, err.code, "%s", err.message));
	}
	size_t               n  = oscar_value_map_uint(args, "n", 0);
	const unsigned char *p  = view.data;
	bool                 ok = view.type == OSCAR_BIN && view.len == n;
	for (size_t i = 0; ok && i < n; i++) {
		ok = p[i] == (unsigned char) ((i * 31 + 7) & 0xff);
	}
	if (!ok) {
		oscar_storage_view_release(&view);
		return (oscar_req_fail(req, OSCAR_EPROTO, "the mapping differs"));
	}
	if (hold) {
		st->held = view; // released if ever destroyed; the test kills us
	} else {
		oscar_storage_view_release(&view);
	}
	return (oscar_req_reply(req, oscar_value_new_uint(n)));
}

static int reader_read(oscar_actor_t *self, oscar_req_t *req)
{
	return (reader_map(self, req, false));
}

static int reader_hold(oscar_actor_t *self, oscar_req_t *req)
{
	return (reader_map(self, req, true));
}

// reader_put hands a bin of n bytes in the pattern to the node.
static int reader_put(oscar_actor_t *self, oscar_req_t *req)
{
	const oscar_value_t   *args = oscar_req_args(req);
	oscar_storage_local_t *l;
	oscar_error_t          err;
	uint64_t               size = 0;
	int                    rv;
	(void) self;
	if ((rv = reader_link(req, &l)) != 0) {
		return (rv);
	}
	oscar_value_t *v = pattern_bin(oscar_value_map_uint(args, "n", 0));
	rv               = oscar_storage_local_put(l, oscar_value_map_str(args, "session"),
	                  oscar_value_map_str(args, "key"), v, &size, T_MS, &err);
	oscar_value_free(v);
	oscar_storage_local_close(&l);
	if (rv != 0) {
		return (oscar_req_fail(req, err.code, "%s", err.message));
	}
	return (oscar_req_reply(req, oscar_value_new_uint(size)));
}

static void reader_destroy(oscar_actor_t *self)
{
	reader_t *st = oscar_actor_state(self);
	oscar_storage_view_release(&st->held);
}

static const oscar_method_t reader_methods[] = {
	{ "read", reader_read, NULL },
	{ "hold", reader_hold, NULL },
	{ "put", reader_put, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t reader_class = {
	.name       = "test.storage.reader",
	.state_size = sizeof(reader_t),
	.destroy    = reader_destroy,
	.methods    = reader_methods,
};

static int reader_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	(void) node;
	(void) err;
	*state = NULL;
	return (0);
}

static const oscar_actor_class_t *const reader_classes[] = { &reader_class, NULL };

static const oscar_service_t reader_service = {
	.abi     = OSCAR_SERVICE_ABI,
	.name    = "test_reader",
	.roles   = OSCAR_ROLE_WORKER,
	.classes = reader_classes,
	.start   = reader_start,
};

static oscar_registry_t *reader_registry(void)
{
	oscar_registry_t *reg;
	if (oscar_registry_new(&reg) != 0 || oscar_registry_add(reg, &reader_service, NULL) != 0) {
		return (NULL);
	}
	return (reg);
}

// start_subpooled starts a supervisor and a worker with one sub pool
// running this program, and creates a reader there.
static void start_subpooled(cluster_t *c, oscar_registry_t **regp, oscar_ref_t *reader)
{
	oscar_settings_t *s;
	oscar_error_t     err;
	memset(c, 0, sizeof(*c));
	snprintf(c->spill, sizeof(c->spill), "/tmp/oscar-test-storage-%d", (int) getpid());
	// Criterion runs each test in a process of its own that found its
	// context through this variable at startup; a sub pool running this
	// program again must not take itself for one.
	unsetenv("BXFI_MAP");
	*regp = reader_registry();
	cr_assert_not_null(*regp);
	oscar_settings_new(&s);
	cr_assert_eq(
	    oscar_node_start(&c->sup, OSCAR_ROLE_SUPERVISOR, s, *regp, &err), 0, "%s", err.message);
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(c->sup));
	oscar_settings_set(s, "node", "sub_pools", "1");
	oscar_settings_set(s, "storage", "spill_dir", c->spill);
	char listen[128];
	snprintf(listen, sizeof(listen), "ipc:///tmp/oscar-test-storage-node-%d", (int) getpid());
	oscar_settings_set(s, "node", "listen", listen);
	cr_assert_eq(
	    oscar_node_start(&c->w[0], OSCAR_ROLE_WORKER, s, *regp, &err), 0, "%s", err.message);
	oscar_settings_free(&s);
	c->pool              = pool_open_at("tcp://127.0.0.1:0");
	oscar_placement_t at = { .how = OSCAR_PLACE_SUB_POOL, .index = 0 };
	cr_assert_eq(oscar_create_by_name(oscar_node_pool(c->w[0]), reader_class.name, NULL, NULL,
	                 &at, T_MS, reader, &err),
	    0, "%s", err.message);
}

static oscar_value_t *reader_args(cluster_t *c, const char *key, size_t n)
{
	oscar_value_t *a = oscar_value_new_map(4);
	oscar_value_map_set(a, "address", oscar_value_new_str(addr(c, 0)));
	oscar_value_map_set(a, "session", oscar_value_new_str("s1"));
	oscar_value_map_set(a, "key", oscar_value_new_str(key));
	oscar_value_map_set(a, "n", oscar_value_new_uint(n));
	return (a);
}

// dev_shm_entries counts the entries of /dev/shm, leaving out the test
// framework's own (bxfi_<pid>, one per running test process, of this
// suite or of any other running at the same time).
static int dev_shm_entries(void)
{
	int  n = 0;
	DIR *d = opendir("/dev/shm");
	if (d == NULL) {
		return (0);
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.' && strncmp(e->d_name, "bxfi_", 5) != 0;
	}
	closedir(d);
	return (n);
}

Test(storage, a_sub_pool_reads_64_mib_through_shared_memory_and_hands_one_back)
{
	cluster_t         c;
	oscar_registry_t *reg;
	oscar_ref_t       reader;
	oscar_error_t     err;
	oscar_value_t    *reply = NULL;
	start_subpooled(&c, &reg, &reader);
	session(&c, "s1");
	size_t n = 64u << 20;
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	oscar_pool_t *wp = oscar_node_pool(c.w[0]);
	cr_assert_eq(oscar_call(wp, &reader, "read", reader_args(&c, "big", n), T_MS, &reply, &err),
	    0, "%s", err.message);
	oscar_value_free(reply);
	cr_assert_eq(info(&c, 0).shared, n + 65); // the segment stays with the object
	// The other way: a new object handed over as a segment.
	cr_assert_eq(
	    oscar_call(wp, &reader, "put", reader_args(&c, "fromsub", n), T_MS, &reply, &err), 0,
	    "%s", err.message);
	cr_assert_eq(reply->as.u, n + 5);
	oscar_value_free(reply);
	expect_pattern(&c, 0, "s1", "fromsub", n);
	// Errors travel back, named: an unknown key, an unknown session.
	cr_assert_eq(oscar_call(wp, &reader, "read", reader_args(&c, "nope", n), T_MS, NULL, &err),
	    OSCAR_ENOENT);
	cr_assert(
	    strstr(err.message, "no such object nope in session s1") != NULL, "%s", err.message);
	stop(&c);
	oscar_registry_free(&reg);
}

Test(storage, a_sub_pool_killed_while_holding_a_segment_leaves_nothing)
{
	cluster_t         c;
	oscar_registry_t *reg;
	oscar_ref_t       reader;
	oscar_error_t     err;
	int               before = dev_shm_entries();
	start_subpooled(&c, &reg, &reader);
	session(&c, "s1");
	size_t n = 8u << 20;
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	oscar_pool_t *wp = oscar_node_pool(c.w[0]);
	cr_assert_eq(oscar_call(wp, &reader, "hold", reader_args(&c, "big", n), T_MS, NULL, &err),
	    0, "%s", err.message);
	cr_assert_gt(info(&c, 0).shared, 0);
	// SIGKILL the sub pool holding the mapping; the node recovers it.
	cr_assert_eq(oscar_pool_kill_sub_pool(wp, 0, T_MS), 0);
	cr_assert_eq(oscar_pool_wait_recovered(wp, 0, T_MS), 0);
	// Deleting the object closes the store's segment.
	const char *k[] = { "big" };
	cr_assert_eq(oscar_storage_delete(c.pool, addr(&c, 0), "s1", 1, k, NULL, T_MS, &err), 0);
	cr_assert_eq(info(&c, 0).shared, 0);
	// Hold one again, and stop the node with it held.
	cr_assert_eq(put1(&c, 0, "s1", "big", pattern_bin(n), &err), 0, "%s", err.message);
	oscar_placement_t at = { .how = OSCAR_PLACE_SUB_POOL, .index = 0 };
	cr_assert_eq(
	    oscar_create_by_name(wp, reader_class.name, NULL, NULL, &at, T_MS, &reader, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_call(wp, &reader, "hold", reader_args(&c, "big", n), T_MS, NULL, &err),
	    0, "%s", err.message);
	stop(&c);
	oscar_registry_free(&reg);
	cr_assert_eq(dev_shm_entries(), before);
}

#if defined(__SANITIZE_ADDRESS__)
// __asan_default_options keeps AddressSanitizer's quarantine of freed
// memory small, so that the RSS bound of the 256 MiB pull measures the
// storage, not the sanitizer (ASAN_OPTIONS still overrides it).
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return ("quarantine_size_mb=4");
}
#endif

// main makes this program a sub pool when a node started it as one, and
// otherwise runs the tests.
int main(int argc, char *argv[])
{
	return (tests_main(argc, argv, reader_registry));
}
