// Tests of the object store engine (services/storage/store.c): sessions,
// put/get/delete and their batches, slices, the memory quota and spilling
// (a full disk injected through the write hook), pins, blocks and the
// receiver, lz4, and shared memory with a fork/exec child.
//
// The store is owned by one pool loop and takes no lock (store.h): its
// concurrency is the storage actor's, tested at the actor level. Here a
// randomized run of interleaved operations under a tiny quota checks it
// against a model instead.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "actors/codec.h"
#include "oscar/error.h"
#include "oscar/value.h"
#include "services/storage/compress.h"
#include "services/storage/shm.h"
#include "services/storage/store.h"
#include "tests/common/proc.h"

// ---------------------------------------------------------------------------
// Helpers

// tmp_dir makes a fresh directory for spill files; rm_dir removes it (it
// must be empty: the store leaves nothing behind).
static void tmp_dir(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/oscar-test-store-%d-XXXXXX", (int) getpid());
	cr_assert_not_null(mkdtemp(buf));
}

// count_files counts the entries of dir and of its subdirectories.
static int count_files(const char *dir)
{
	DIR           *d = opendir(dir);
	struct dirent *e;
	int            n = 0;
	char           sub[4096];

	if (d == NULL) {
		return (-1);
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		n++;
		if (e->d_type == DT_DIR) {
			snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			n += count_files(sub);
		}
	}
	closedir(d);
	return (n);
}

static osc_store_t *open_store(uint64_t limit, const char *dir)
{
	osc_store_config_t cfg = { .memory_limit = limit, .spill_dir = dir };
	osc_store_t       *s   = NULL;
	oscar_error_t      err;
	int                rv = osc_store_open(&cfg, &s, &err);

	cr_assert_eq(rv, 0, "open: %s", err.message);
	cr_assert_eq(osc_store_session_create(s, "s1", false, &err), 0);
	return (s);
}

// pattern_bin makes a bin of n bytes, byte i being (i * 31 + seed).
static oscar_value_t *pattern_bin(size_t n, unsigned seed)
{
	char          *buf = malloc(n + 1);
	oscar_value_t *v;

	cr_assert_not_null(buf);
	for (size_t i = 0; i < n; i++) {
		buf[i] = (char) (i * 31 + seed);
	}
	v = oscar_value_new_bin(buf, n);
	free(buf);
	cr_assert_not_null(v);
	return (v);
}

static void put(osc_store_t *s, const char *session, const char *key, oscar_value_t *v)
{
	oscar_error_t err;
	int           rv = osc_store_put(s, session, key, v, &err);

	cr_assert_eq(rv, 0, "put %s: %s", key, err.message);
}

// get_eq checks that key holds a value equal to want.
static void get_eq(osc_store_t *s, const char *session, const char *key, const oscar_value_t *want)
{
	oscar_value_t *v = NULL;
	oscar_error_t  err;
	int            rv = osc_store_get(s, session, key, NULL, &v, &err);

	cr_assert_eq(rv, 0, "get %s: %s", key, err.message);
	cr_assert(oscar_value_equal(v, want), "object %s differs", key);
	oscar_value_free(v);
}

static oscar_value_t *int_array(int n)
{
	oscar_value_t *a = oscar_value_new_array((size_t) n);

	for (int i = 0; i < n; i++) {
		oscar_value_array_push(a, oscar_value_new_int(i));
	}
	return (a);
}

// ---------------------------------------------------------------------------
// Sessions, put, get, delete

Test(store, sessions)
{
	osc_store_t      *s = open_store(0, NULL);
	osc_store_stats_t st;
	oscar_error_t     err;

	cr_assert(osc_store_session_has(s, "s1"));
	cr_assert_not(osc_store_session_has(s, "s2"));
	cr_assert_eq(osc_store_session_create(s, "s1", false, &err), OSCAR_EEXIST);
	cr_assert_str_eq(err.message, "session s1 exists already");
	cr_assert_eq(osc_store_session_create(s, "s1", true, &err), 0);
	cr_assert_eq(osc_store_session_create(s, "", false, &err), OSCAR_EINVAL);
	cr_assert_eq(osc_store_session_delete(s, "s2", false, &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such session s2");
	cr_assert_eq(osc_store_session_delete(s, "s2", true, &err), 0);
	cr_assert_eq(osc_store_session_create(s, "s2", false, &err), 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.sessions, 2);
	cr_assert_eq(osc_store_session_delete(s, "s2", false, &err), 0);
	cr_assert_not(osc_store_session_has(s, "s2"));
	osc_store_close(s);
}

Test(store, put_get_delete_and_errors)
{
	osc_store_t      *s = open_store(0, NULL);
	oscar_value_t    *v = NULL;
	oscar_value_t    *m = oscar_value_new_map(0);
	osc_store_stats_t st;
	oscar_error_t     err;

	oscar_value_map_set(m, "a", oscar_value_new_ref("other"));
	oscar_value_map_set(m, "b", int_array(3));
	oscar_value_t *want = oscar_value_copy(m);
	put(s, "s1", "k1", m);
	get_eq(s, "s1", "k1", want);
	cr_assert(osc_store_has(s, "s1", "k1"));
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 1);
	cr_assert_eq(st.used, osc_value_encoded_len(want));

	// Unknown session, unknown key: clear errors naming them.
	cr_assert_eq(osc_store_get(s, "nope", "k1", NULL, &v, &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such session nope");
	cr_assert_eq(osc_store_get(s, "s1", "k2", NULL, &v, &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such object k2 in session s1");
	cr_assert_null(v);
	oscar_value_t *x = oscar_value_new_int(1);
	cr_assert_eq(osc_store_put(s, "nope", "k", x, &err), OSCAR_ENOENT);
	cr_assert_eq(osc_store_put(s, "s1", "", x, &err), OSCAR_EINVAL);
	cr_assert_eq(osc_store_put(s, "s1", "k", NULL, &err), OSCAR_EINVAL);
	oscar_value_free(x); // left with the caller on failure

	// Session isolation: the key of another session is "no such object".
	cr_assert_eq(osc_store_session_create(s, "s2", false, &err), 0);
	cr_assert_eq(osc_store_get(s, "s2", "k1", NULL, &v, &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such object k1 in session s2");
	put(s, "s2", "k1", oscar_value_new_str("two"));
	get_eq(s, "s1", "k1", want);

	// Replacing, deleting.
	oscar_value_t *three = oscar_value_new_int(3);
	put(s, "s1", "k1", oscar_value_copy(three));
	get_eq(s, "s1", "k1", three);
	cr_assert_eq(osc_store_delete(s, "s1", "k1", &err), 0);
	cr_assert_eq(osc_store_delete(s, "s1", "k1", &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such object k1 in session s1");
	cr_assert_not(osc_store_has(s, "s1", "k1"));
	cr_assert(osc_store_has(s, "s2", "k1"));

	// Deleting a session leaves nothing counted.
	cr_assert_eq(osc_store_session_delete(s, "s2", false, &err), 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 0);
	cr_assert_eq(st.used, 0);
	oscar_value_free(three);
	oscar_value_free(want);
	osc_store_close(s);
}

Test(store, batches_all_or_nothing)
{
	osc_store_t      *s       = open_store(0, NULL);
	const char       *keys[]  = { "a", "b", "c" };
	oscar_value_t    *vals[3] = { oscar_value_new_int(1), oscar_value_new_str("two"), NULL };
	oscar_value_t    *out     = NULL;
	osc_store_stats_t st;
	oscar_error_t     err;

	// A batch with a bad item stores nothing and keeps every value.
	cr_assert_eq(osc_store_put_batch(s, "s1", 3, keys, vals, &err), OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "object c: the value cannot be encoded");
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 0);
	vals[2] = int_array(4);
	cr_assert_eq(osc_store_put_batch(s, "s1", 3, keys, vals, &err), 0);

	// Get: all, or an error naming the missing key.
	cr_assert_eq(osc_store_get_batch(s, "s1", 3, keys, NULL, &out, &err), 0);
	cr_assert_eq(out->as.arr.len, 3);
	cr_assert_str_eq(out->as.arr.items[1].as.str.ptr, "two");
	oscar_value_free(out);
	const char *bad[] = { "a", "zz", "c" };
	cr_assert_eq(osc_store_get_batch(s, "s1", 3, bad, NULL, &out, &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such object zz in session s1");
	cr_assert_null(out);

	// Get with a slice per key.
	osc_slice_t        first_two = { .stop = 2, .has_stop = true, .step = 1 };
	const osc_slice_t *slices[]  = { NULL, &first_two, &first_two };
	cr_assert_eq(osc_store_get_batch(s, "s1", 3, keys, slices, &out, &err), 0);
	cr_assert_str_eq(out->as.arr.items[1].as.str.ptr, "tw");
	cr_assert_eq(out->as.arr.items[2].as.arr.len, 2);
	oscar_value_free(out);

	// Delete: a missing key deletes nothing.
	cr_assert_eq(osc_store_delete_batch(s, "s1", 3, bad, &err), OSCAR_ENOENT);
	cr_assert_str_eq(err.message, "no such object zz in session s1");
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 3);
	cr_assert_eq(osc_store_delete_batch(s, "s1", 3, keys, &err), 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 0);
	cr_assert_eq(st.used, 0);
	osc_store_close(s);
}

// ---------------------------------------------------------------------------
// Slices

// get_slice gets key sliced by sl, which must succeed, and formats it.
static void get_slice(osc_store_t *s, const char *key, osc_slice_t sl, const char *want)
{
	oscar_value_t *v = NULL;
	oscar_error_t  err;
	char           buf[256];
	int            rv = osc_store_get(s, "s1", key, &sl, &v, &err);

	cr_assert_eq(rv, 0, "%s: %s", key, err.message);
	oscar_value_format(v, buf, sizeof(buf));
	cr_assert_str_eq(buf, want);
	oscar_value_free(v);
}

#define SL(a, b, k)      \
	((osc_slice_t) { \
	    .start = (a), .stop = (b), .step = (k), .has_start = true, .has_stop = true })

Test(store, slices)
{
	osc_store_t   *s = open_store(0, NULL);
	oscar_value_t *v = NULL;
	oscar_error_t  err;

	put(s, "s1", "arr", int_array(10));
	put(s, "s1", "str", oscar_value_new_str("abcdefghij"));
	put(s, "s1", "bin", oscar_value_new_bin("0123456789", 10));
	put(s, "s1", "map", oscar_value_new_map(0));

	get_slice(s, "arr", SL(2, 5, 1), "[2, 3, 4]");
	get_slice(s, "arr", SL(-3, 10, 1), "[7, 8, 9]");
	get_slice(s, "arr", SL(0, 10, 3), "[0, 3, 6, 9]");
	get_slice(s, "arr", SL(5, 2, 1), "[]");
	get_slice(s, "arr", ((osc_slice_t) { .step = -1 }), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
	get_slice(
	    s, "arr", ((osc_slice_t) { .start = 8, .has_start = true, .step = -3 }), "[8, 5, 2]");
	get_slice(s, "arr", SL(-1, -4, -1), "[9, 8, 7]");
	get_slice(s, "arr", ((osc_slice_t) { .start = -2, .index = true }), "8");
	get_slice(s, "str", SL(1, 4, 1), "\"bcd\"");
	get_slice(s, "str", ((osc_slice_t) { .step = -2 }), "\"jhfdb\"");
	get_slice(s, "bin", SL(0, 10, 1), "<bin 10 bytes>");
	get_slice(s, "bin", ((osc_slice_t) { .start = 3, .index = true }), "<bin 1 bytes>");

	// A bin's bytes, exactly.
	osc_slice_t sl = SL(2, 9, 3);
	cr_assert_eq(osc_store_get(s, "s1", "bin", &sl, &v, &err), 0);
	cr_assert_eq(v->as.bin.len, 3);
	cr_assert_eq(memcmp(v->as.bin.ptr, "258", 3), 0);
	oscar_value_free(v);

	// Errors: out of range, a zero step, the wrong type.
	sl = SL(0, 11, 1);
	cr_assert_eq(osc_store_get(s, "s1", "arr", &sl, &v, &err), OSCAR_EINVAL);
	cr_assert_str_eq(err.message,
	    "object arr in session s1: slice [0:11:1] out of range for a length of 10");
	sl = SL(-11, 3, 1);
	cr_assert_eq(osc_store_get(s, "s1", "str", &sl, &v, &err), OSCAR_EINVAL);
	sl = ((osc_slice_t) { .start = 10, .index = true });
	cr_assert_eq(osc_store_get(s, "s1", "bin", &sl, &v, &err), OSCAR_EINVAL);
	cr_assert_str_eq(
	    err.message, "object bin in session s1: index 10 out of range for a length of 10");
	sl = SL(0, 2, 0);
	cr_assert_eq(osc_store_get(s, "s1", "arr", &sl, &v, &err), OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "object arr in session s1: slice step cannot be zero");
	sl = SL(0, 1, 1);
	cr_assert_eq(osc_store_get(s, "s1", "map", &sl, &v, &err), OSCAR_EINVAL);
	cr_assert_str_eq(err.message,
	    "object map in session s1 is a map: only arrays, str and bin can be sliced");
	cr_assert_null(v);
	osc_store_close(s);
}

// ref_count counts positions the Python way, for in-range slices.
static size_t ref_count(int64_t a, int64_t b, int64_t k)
{
	size_t n = 0;

	if (k > 0) {
		for (int64_t i = a; i < b; i += k) {
			n++;
		}
	} else {
		for (int64_t i = a; i > b; i += k) {
			n++;
		}
	}
	return (n);
}

Test(store, slice_resolve_matches_python_counts)
{
	for (int64_t len = 0; len <= 7; len++) {
		for (int64_t a = -len; a <= len; a++) {
			for (int64_t b = -len; b <= len; b++) {
				for (int64_t k = -3; k <= 3; k++) {
					osc_slice_t sl = SL(a, b, k);
					int64_t     first;
					int64_t     step;
					size_t      count;
					int         rv = osc_slice_resolve(
					            &sl, (size_t) len, &first, &step, &count, NULL);
					int64_t ra = a < 0 ? a + len : a;
					int64_t rb = b < 0 ? b + len : b;
					if (k == 0 || (k < 0 && ra >= len)) {
						cr_assert_eq(rv, OSCAR_EINVAL);
						continue;
					}
					cr_assert_eq(rv, 0, "len %ld [%ld:%ld:%ld]", (long) len,
					    (long) a, (long) b, (long) k);
					cr_assert_eq(count, ref_count(ra, rb, k),
					    "len %ld [%ld:%ld:%ld]", (long) len, (long) a, (long) b,
					    (long) k);
					cr_assert_eq(first, ra);
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Quota and spilling

Test(store, spill_and_read_back)
{
	char              dir[128];
	osc_store_t      *s;
	osc_store_stats_t st;
	oscar_value_t    *want[6];
	char              key[16];
	oscar_error_t     err;

	tmp_dir(dir, sizeof(dir));
	// Room for about two of the 100 KB objects.
	s = open_store(250000, dir);
	for (int i = 0; i < 6; i++) {
		want[i] = i == 5 ? int_array(20000) : pattern_bin(100000, (unsigned) i);
		snprintf(key, sizeof(key), "k%d", i);
		put(s, "s1", key, oscar_value_copy(want[i]));
		osc_store_stats(s, &st);
		cr_assert_leq(st.used, st.limit);
	}
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 6);
	cr_assert_geq(st.n_spilled, 3);
	cr_assert_gt(st.spilled, 0);
	cr_assert_eq(count_files(dir), 1 + (int) st.n_spilled); // the store's dir + files

	// Every object reads back intact, whatever was spilled.
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		get_eq(s, "s1", key, want[i]);
		osc_store_stats(s, &st);
		cr_assert_leq(st.used, st.limit);
	}

	// Deleting the session leaves no byte and no file.
	cr_assert_eq(osc_store_session_delete(s, "s1", false, &err), 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.used, 0);
	cr_assert_eq(st.spilled, 0);
	cr_assert_eq(st.n_spilled, 0);
	cr_assert_eq(count_files(dir), 1);
	osc_store_close(s);
	cr_assert_eq(count_files(dir), 0);
	cr_assert_eq(rmdir(dir), 0);
	for (int i = 0; i < 6; i++) {
		oscar_value_free(want[i]);
	}
}

Test(store, lru_order)
{
	char              dir[128];
	osc_store_t      *s;
	osc_store_stats_t st;
	oscar_value_t    *v;

	tmp_dir(dir, sizeof(dir));
	s = open_store(3 * 10003, dir); // three 10 000-byte bins (3 bytes of header)
	put(s, "s1", "a", pattern_bin(10000, 1));
	put(s, "s1", "b", pattern_bin(10000, 2));
	put(s, "s1", "c", pattern_bin(10000, 3));
	// Reading a makes b the least recently used: b goes when d comes.
	v = NULL;
	cr_assert_eq(osc_store_get(s, "s1", "a", NULL, &v, NULL), 0);
	oscar_value_free(v);
	put(s, "s1", "d", pattern_bin(10000, 4));
	osc_store_stats(s, &st);
	cr_assert_eq(st.n_spilled, 1);
	cr_assert_eq(st.spilled, 10003);
	// b comes back (c, now the oldest, goes), and is intact.
	v = pattern_bin(10000, 2);
	get_eq(s, "s1", "b", v);
	oscar_value_free(v);
	osc_store_stats(s, &st);
	cr_assert_eq(st.n_spilled, 1);
	cr_assert_eq(st.used, 3 * 10003);
	osc_store_close(s);
	cr_assert_eq(rmdir(dir), 0);
}

Test(store, refused_when_it_cannot_fit)
{
	char                 dir[128];
	osc_store_t         *s;
	osc_store_t         *nospill;
	osc_store_stats_t    st;
	osc_store_obj_t     *pin;
	const oscar_value_t *pv;
	oscar_value_t       *big;
	oscar_error_t        err;

	tmp_dir(dir, sizeof(dir));
	s   = open_store(50000, dir);
	big = pattern_bin(60000, 0);
	cr_assert_eq(osc_store_put(s, "s1", "big", big, &err), OSCAR_ENOSPACE);
	cr_assert_str_eq(err.message, "60003 bytes do not fit in the memory limit of 50000 bytes");
	oscar_value_free(big);

	// Everything pinned: nothing left to spill.
	put(s, "s1", "a", pattern_bin(30000, 1));
	cr_assert_eq(osc_store_read(s, "s1", "a", &pin, &pv, &err), 0);
	big = pattern_bin(30000, 2);
	cr_assert_eq(osc_store_put(s, "s1", "b", big, &err), OSCAR_ENOSPACE);
	cr_assert_str_eq(err.message,
	    "no room for 30003 bytes: 30003 of 50000 bytes in use and nothing left to spill");
	// Pinned objects cannot be replaced either.
	cr_assert_eq(osc_store_put(s, "s1", "a", big, &err), OSCAR_ESTATE);
	osc_store_release(s, pin);
	put(s, "s1", "b", big); // now a can go to disk
	osc_store_stats(s, &st);
	cr_assert_eq(st.n_spilled, 1);
	osc_store_close(s);
	cr_assert_eq(rmdir(dir), 0);

	// Without a spill directory, the quota is a hard limit.
	nospill = open_store(50000, NULL);
	put(nospill, "s1", "a", pattern_bin(30000, 1));
	big = pattern_bin(30000, 2);
	cr_assert_eq(osc_store_put(nospill, "s1", "b", big, &err), OSCAR_ENOSPACE);
	cr_assert_str_eq(err.message,
	    "no room for 30003 bytes: 30003 of 50000 bytes in use and no spill directory");
	oscar_value_free(big);
	osc_store_close(nospill);
}

// full_disk is a write hook that takes `room` bytes in all, then fails
// with ENOSPC.
typedef struct full_disk {
	size_t room;
	int    calls;
} full_disk_t;

static ssize_t full_disk_write(void *arg, int fd, const void *p, size_t n)
{
	full_disk_t *d = arg;

	d->calls++;
	if (d->room == 0) {
		errno = ENOSPC;
		return (-1);
	}
	if (n > d->room) {
		n = d->room;
	}
	ssize_t k = write(fd, p, n);
	if (k > 0) {
		d->room -= (size_t) k;
	}
	return (k);
}

Test(store, full_disk_is_a_clear_error_and_loses_nothing)
{
	char               dir[128];
	full_disk_t        disk = { .room = 150000 };
	osc_store_config_t cfg  = { .memory_limit = 250000,
		 .spill_dir                       = dir,
		 .write_fn                        = full_disk_write,
		 .write_arg                       = &disk };
	osc_store_t       *s;
	osc_store_stats_t  st;
	oscar_value_t     *want[5];
	char               key[16];
	oscar_error_t      err;
	int                i;
	int                refused = -1;

	tmp_dir(dir, sizeof(dir));
	cr_assert_eq(osc_store_open(&cfg, &s, &err), 0);
	cr_assert_eq(osc_store_session_create(s, "s1", false, &err), 0);
	// The disk takes one spilled object and part of a second.
	for (i = 0; i < 5; i++) {
		want[i] = pattern_bin(100000, (unsigned) i);
		snprintf(key, sizeof(key), "k%d", i);
		oscar_value_t *v  = oscar_value_copy(want[i]);
		int            rv = osc_store_put(s, "s1", key, v, &err);
		if (rv != 0) {
			cr_assert_eq(rv, OSCAR_ENOSPACE, "%s", oscar_errname(rv));
			cr_assert(strstr(err.message, "No space left on device") != NULL, "%s",
			    err.message);
			oscar_value_free(v);
			refused = i;
			break;
		}
	}
	cr_assert_eq(refused, 3);
	cr_assert_gt(disk.calls, 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.objects, 3);
	cr_assert_eq(st.n_spilled, 1);
	// The failed spill left no partial file.
	cr_assert_eq(count_files(dir), 2);
	// Reading the spilled object back needs room, which needs a spill:
	// a clear error while the disk is full.
	oscar_value_t *v = NULL;
	cr_assert_eq(osc_store_get(s, "s1", "k0", NULL, &v, &err), OSCAR_ENOSPACE);
	cr_assert_null(v);
	get_eq(s, "s1", "k2", want[2]);
	// Nothing stored was lost or corrupted: with room again, all of it
	// reads back.
	disk.room = SIZE_MAX;
	for (int j = 0; j < 3; j++) {
		snprintf(key, sizeof(key), "k%d", j);
		get_eq(s, "s1", key, want[j]);
	}
	osc_store_close(s);
	cr_assert_eq(count_files(dir), 0);
	cr_assert_eq(rmdir(dir), 0);
	for (int j = 0; j <= refused; j++) {
		oscar_value_free(want[j]);
	}
}

Test(store, pins)
{
	char                 dir[128];
	osc_store_t         *s;
	osc_store_obj_t     *pin;
	const oscar_value_t *pv;
	osc_store_stats_t    st;
	oscar_value_t       *want = pattern_bin(30000, 9);
	oscar_error_t        err;

	tmp_dir(dir, sizeof(dir));
	s = open_store(70000, dir);
	put(s, "s1", "a", oscar_value_copy(want));
	cr_assert_eq(osc_store_read(s, "s1", "a", &pin, &pv, &err), 0);
	// Pinned: b and c push past the limit, but a is never spilled.
	put(s, "s1", "b", pattern_bin(30000, 1));
	put(s, "s1", "c", pattern_bin(30000, 2));
	osc_store_stats(s, &st);
	cr_assert_eq(st.n_spilled, 1);
	cr_assert(oscar_value_equal(pv, want));
	// Deleted while pinned: gone from the store, still readable here.
	cr_assert_eq(osc_store_delete(s, "s1", "a", &err), 0);
	cr_assert_not(osc_store_has(s, "s1", "a"));
	cr_assert(oscar_value_equal(pv, want));
	osc_store_release(s, pin);
	// Pinned when the store closes: valid until released.
	cr_assert_eq(osc_store_read(s, "s1", "b", &pin, &pv, &err), 0);
	osc_store_close(s);
	cr_assert_eq(pv->as.bin.len, 30000);
	osc_store_release(NULL, pin);
	cr_assert_eq(rmdir(dir), 0);
	oscar_value_free(want);
}

// The model of the randomized run: which value each key holds, if any.
#define MODEL_KEYS 24

Test(store, random_operations_under_a_tiny_quota)
{
	char              dir[128];
	osc_store_t      *s;
	osc_store_stats_t st;
	oscar_value_t    *model[MODEL_KEYS] = { 0 };
	uint64_t          x                 = 0x9E3779B97F4A7C15ULL;
	char              key[16];
	oscar_error_t     err;

	tmp_dir(dir, sizeof(dir));
	s = open_store(64 * 1024, dir);
	for (int step = 0; step < 3000; step++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t r = x * 0x2545F4914F6CDD1DULL;
		int      k = (int) (r % MODEL_KEYS);
		snprintf(key, sizeof(key), "key%d", k);
		switch ((r >> 8) % 4) {
		case 0:
		case 1: {
			oscar_value_t *v = (r >> 16) % 3 == 0
			                       ? int_array((int) ((r >> 20) % 500))
			                       : pattern_bin((r >> 20) % 20000, (unsigned) step);
			oscar_value_t *c = oscar_value_copy(v);
			put(s, "s1", key, v);
			oscar_value_free(model[k]);
			model[k] = c;
			break;
		}
		case 2:
			if (model[k] != NULL) {
				get_eq(s, "s1", key, model[k]);
			} else {
				oscar_value_t *v = NULL;
				cr_assert_eq(
				    osc_store_get(s, "s1", key, NULL, &v, &err), OSCAR_ENOENT);
			}
			break;
		default:
			cr_assert_eq(osc_store_delete(s, "s1", key, &err),
			    model[k] != NULL ? 0 : OSCAR_ENOENT);
			oscar_value_free(model[k]);
			model[k] = NULL;
			break;
		}
		osc_store_stats(s, &st);
		cr_assert_leq(st.used, st.limit);
	}
	for (int k = 0; k < MODEL_KEYS; k++) {
		snprintf(key, sizeof(key), "key%d", k);
		cr_assert_eq(osc_store_has(s, "s1", key), model[k] != NULL);
		if (model[k] != NULL) {
			get_eq(s, "s1", key, model[k]);
		}
		oscar_value_free(model[k]);
	}
	osc_store_stats(s, &st);
	cr_assert_gt(st.n_spilled, 0);
	osc_store_close(s);
	cr_assert_eq(rmdir(dir), 0);
}

// ---------------------------------------------------------------------------
// Blocks and the receiver

// transfer moves key from store a to store b in blocks of bs bytes.
static void transfer(osc_store_t *a, osc_store_t *b, const char *key, size_t bs)
{
	osc_store_blocks_t *it;
	osc_store_recv_t   *r;
	uint64_t            total;
	const void         *p;
	size_t              n;
	uint64_t            seen = 0;
	oscar_error_t       err;

	cr_assert_eq(
	    osc_store_blocks_open(a, "s1", key, bs, &it, &total, &err), 0, "%s", err.message);
	cr_assert_eq(osc_store_recv_open(b, "s1", key, total, &r, &err), 0, "%s", err.message);
	for (;;) {
		cr_assert_eq(osc_store_blocks_next(it, &p, &n), 0);
		if (n == 0) {
			break;
		}
		cr_assert_leq(n, bs);
		seen += n;
		cr_assert_eq(osc_store_recv_push(r, p, n, &err), 0);
	}
	cr_assert_eq(seen, total);
	osc_store_blocks_close(it);
	cr_assert_eq(osc_store_recv_commit(r, &err), 0, "%s", err.message);
}

Test(store, blocks_round_trip)
{
	osc_store_t   *a    = open_store(0, NULL);
	osc_store_t   *b    = open_store(0, NULL);
	oscar_value_t *comp = oscar_value_new_map(0);
	oscar_value_t *bin  = pattern_bin(300001, 5);
	oscar_value_t *str  = oscar_value_new_str("a string");

	oscar_value_map_set(comp, "big", pattern_bin(200000, 1));
	oscar_value_map_set(comp, "small", int_array(100));
	oscar_value_map_set(comp, "ref", oscar_value_new_ref_output("k", 1));
	oscar_value_map_set(comp, "big2", pattern_bin(70000, 2));
	put(a, "s1", "comp", oscar_value_copy(comp));
	put(a, "s1", "bin", oscar_value_copy(bin));
	put(a, "s1", "str", oscar_value_copy(str));

	// Block by block, the bytes are exactly the encoding.
	osc_store_blocks_t *it;
	uint64_t            total;
	const void         *p;
	size_t              n;
	void               *enc;
	size_t              elen;
	size_t              at = 0;
	cr_assert_eq(oscar_value_encode(comp, &enc, &elen), 0);
	cr_assert_eq(osc_store_blocks_open(a, "s1", "comp", 4099, &it, &total, NULL), 0);
	cr_assert_eq(total, elen);
	while (osc_store_blocks_next(it, &p, &n) == 0 && n > 0) {
		cr_assert_eq(memcmp(p, (char *) enc + at, n), 0, "at %zu", at);
		at += n;
	}
	cr_assert_eq(at, elen);
	osc_store_blocks_close(it);
	free(enc);

	size_t sizes[] = { 1, 7, 4096, 65536, 1 << 20 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		transfer(a, b, "comp", sizes[i]);
		transfer(a, b, "bin", sizes[i]);
		transfer(a, b, "str", sizes[i]);
		get_eq(b, "s1", "comp", comp);
		get_eq(b, "s1", "bin", bin);
		get_eq(b, "s1", "str", str);
	}
	oscar_value_free(comp);
	oscar_value_free(bin);
	oscar_value_free(str);
	osc_store_close(a);
	osc_store_close(b);
}

// recv_bytes receives want[0..n) as an object of total bytes in pieces
// of one byte (so that every header is cut), and returns what the first
// failing push or the commit returned.
static int recv_bytes(
    osc_store_t *s, const void *want, size_t n, uint64_t total, oscar_error_t *err)
{
	osc_store_recv_t *r;
	int               rv;

	cr_assert_eq(osc_store_recv_open(s, "s1", "k", total, &r, err), 0);
	for (size_t i = 0; i < n; i++) {
		if ((rv = osc_store_recv_push(r, (const char *) want + i, 1, err)) != 0) {
			osc_store_recv_abort(r);
			return (rv);
		}
	}
	return (osc_store_recv_commit(r, err));
}

Test(store, receiver_errors)
{
	osc_store_t      *s = open_store(100000, NULL);
	osc_store_recv_t *r;
	osc_store_stats_t st;
	oscar_error_t     err;
	const char        bin8[10] = { (char) 0xc4, 8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };

	// Past the announced total; too few bytes.
	cr_assert_eq(osc_store_recv_open(s, "s1", "k", 10, &r, &err), 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.used, 10); // reserved
	cr_assert_eq(osc_store_recv_push(r, bin8, 11, &err), OSCAR_EPROTO);
	cr_assert_eq(osc_store_recv_push(r, bin8, 5, &err), 0);
	cr_assert_eq(osc_store_recv_commit(r, &err), OSCAR_EPROTO);
	cr_assert_str_eq(err.message, "object k: 5 of 10 bytes received");
	// The whole of it, a byte at a time.
	cr_assert_eq(recv_bytes(s, bin8, 10, 10, &err), 0, "%s", err.message);
	cr_assert(osc_store_has(s, "s1", "k"));
	cr_assert_eq(osc_store_delete(s, "s1", "k", &err), 0);

	// Malformed: the reserved byte; a str longer than the bytes left; an
	// out-of-band reference (only references to objects travel); an
	// array missing an item; a truncated header at the end.
	const char reserved[]  = { (char) 0xc1 };
	const char long_str[]  = { (char) 0xa5, 'a', 'b' };
	const char oob_ext[]   = { (char) 0xd6, 0x01, 0, 0, 0, 0 };
	const char short_arr[] = { (char) 0x92, (char) 0xc0 };
	const char cut_head[]  = { (char) 0x91, (char) 0xcd, 0x01 };
	cr_assert_eq(recv_bytes(s, reserved, 1, 1, &err), OSCAR_EPROTO);
	cr_assert_str_eq(err.message, "object k: malformed encoding in the bytes received");
	cr_assert_eq(recv_bytes(s, long_str, 3, 3, &err), OSCAR_EPROTO);
	cr_assert_eq(recv_bytes(s, oob_ext, 6, 6, &err), OSCAR_EPROTO);
	cr_assert_eq(recv_bytes(s, short_arr, 2, 2, &err), OSCAR_EPROTO);
	cr_assert_str_eq(err.message, "object k: the bytes received do not decode");
	cr_assert_eq(recv_bytes(s, cut_head, 3, 3, &err), OSCAR_EPROTO);

	cr_assert_eq(osc_store_recv_open(s, "s1", "k", 10, &r, &err), 0);
	osc_store_recv_abort(r);
	osc_store_stats(s, &st);
	cr_assert_eq(st.used, 0);
	cr_assert_eq(st.objects, 0);
	// Over the quota, an unknown session.
	cr_assert_eq(osc_store_recv_open(s, "s1", "k", 200000, &r, &err), OSCAR_ENOSPACE);
	cr_assert_eq(osc_store_recv_open(s, "s9", "k", 10, &r, &err), OSCAR_ENOENT);
	osc_store_close(s);
}

// rnd is xorshift64*, for the randomized receiver test.
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return (*x * 0x2545F4914F6CDD1DULL);
}

// rnd_value makes a random value with now and then a large bin.
static oscar_value_t *rnd_value(uint64_t *x, int depth)
{
	switch (rnd(x) % (depth < 3 ? 7 : 4)) {
	case 0:
		return (oscar_value_new_int((int64_t) rnd(x) >> (rnd(x) % 64)));
	case 1:
		return (oscar_value_new_str("some text"));
	case 2:
		return (oscar_value_new_ref_output("key", (int64_t) (rnd(x) % 3)));
	case 3:
		return (pattern_bin(
		    rnd(x) % 4 == 0 ? 65536 + rnd(x) % 5000 : rnd(x) % 300, (unsigned) rnd(x)));
	case 4:
	case 5: {
		oscar_value_t *a = oscar_value_new_array(0);
		for (int i = (int) (rnd(x) % 5); i > 0; i--) {
			oscar_value_array_push(a, rnd_value(x, depth + 1));
		}
		return (a);
	}
	default: {
		oscar_value_t *m = oscar_value_new_map(0);
		char           k[8];
		for (int i = (int) (rnd(x) % 4); i > 0; i--) {
			snprintf(k, sizeof(k), "k%d", i);
			oscar_value_map_set(m, k, rnd_value(x, depth + 1));
		}
		return (m);
	}
	}
}

Test(store, receiver_agrees_with_the_decoder_on_random_input)
{
	osc_store_t *s        = open_store(0, NULL);
	uint64_t     x        = 0x853c49e6748fea9bULL;
	int          accepted = 0;
	int          refused  = 0;

	for (int k = 0; k < 400; k++) {
		oscar_value_t    *v    = rnd_value(&x, 0);
		oscar_value_t    *want = NULL;
		oscar_value_t    *got  = NULL;
		osc_store_recv_t *r;
		oscar_error_t     err;
		unsigned char    *buf;
		size_t            len;
		int               rv = 0;

		cr_assert_eq(oscar_value_encode(v, (void **) &buf, &len), 0);
		oscar_value_free(v);
		// Most rounds, break a few bytes, mostly near the start where
		// the headers are.
		if (k % 4 != 0) {
			for (int m = 1 + (int) (rnd(&x) % 3); m > 0; m--) {
				size_t at =
				    rnd(&x) % 2 ? rnd(&x) % (len < 64 ? len : 64) : rnd(&x) % len;
				buf[at] = (unsigned char) rnd(&x);
			}
		}
		int dec = oscar_value_decode(buf, len, &want);
		cr_assert(dec == 0 || dec == OSCAR_EPROTO);
		cr_assert_eq(osc_store_recv_open(s, "s1", "k", len, &r, &err), 0);
		for (size_t at = 0; at < len && rv == 0;) {
			size_t n = 1 + rnd(&x) % 5000;
			n        = n > len - at ? len - at : n;
			rv       = osc_store_recv_push(r, buf + at, n, &err);
			at += n;
		}
		if (rv != 0) {
			cr_assert_eq(rv, OSCAR_EPROTO);
			osc_store_recv_abort(r);
		} else {
			rv = osc_store_recv_commit(r, &err);
		}
		cr_assert_eq(rv == 0, dec == 0, "round %d: receiver %s, decoder %s", k,
		    oscar_errname(rv), oscar_errname(dec));
		if (rv == 0) {
			cr_assert_eq(osc_store_get(s, "s1", "k", NULL, &got, &err), 0);
			cr_assert(oscar_value_equal(got, want), "round %d", k);
			oscar_value_free(got);
			accepted++;
		} else {
			cr_assert_eq(rv, OSCAR_EPROTO);
			refused++;
		}
		oscar_value_free(want);
		free(buf);
	}
	cr_assert_gt(accepted, 50);
	cr_assert_gt(refused, 50);
	osc_store_close(s);
}

Test(store, receiving_a_large_object_never_holds_it_twice)
{
	size_t               size = 64u << 20;
	osc_store_t         *a    = open_store(0, NULL);
	osc_store_t         *b    = open_store(0, NULL);
	oscar_value_t       *v    = pattern_bin(size, 3);
	const oscar_value_t *got;
	osc_store_obj_t     *pin;
	long                 base;
	long                 peak;

	put(a, "s1", "big", v);
	// Reset the peak (Linux >= 4.0) so that it starts from here.
	if (!peak_reset()) {
		cr_skip_test("cannot reset the peak RSS");
	}
	base = status_kb(0, "VmRSS:");
	transfer(a, b, "big", 4 << 20);
	peak = status_kb(0, "VmHWM:");
	// One more copy of the object and one block, with some slack: well
	// under twice the object.
	cr_assert_lt(
	    peak - base, (long) (size / 1024) * 5 / 4, "peak grew by %ld KiB", peak - base);
	cr_assert_eq(osc_store_read(b, "s1", "big", &pin, &got, NULL), 0);
	cr_assert_eq(got->as.bin.len, size);
	for (size_t i = 0; i < size; i += 4093) {
		cr_assert_eq((unsigned char) got->as.bin.ptr[i], (unsigned char) (i * 31 + 3));
	}
	osc_store_release(b, pin);
	osc_store_close(a);
	osc_store_close(b);
}

Test(store, receiving_a_composite_object_never_holds_it_twice)
{
	size_t         half = 32u << 20;
	osc_store_t   *a    = open_store(0, NULL);
	osc_store_t   *b    = open_store(0, NULL);
	oscar_value_t *m    = oscar_value_new_map(0);
	long           base;
	long           peak;

	oscar_value_map_set(m, "x", pattern_bin(half, 1));
	oscar_value_map_set(m, "meta", int_array(100));
	oscar_value_map_set(m, "y", pattern_bin(half, 2));
	oscar_value_t *want = oscar_value_copy(m);
	put(a, "s1", "pair", m);
	if (!peak_reset()) {
		cr_skip_test("cannot reset the peak RSS");
	}
	base = status_kb(0, "VmRSS:");
	transfer(a, b, "pair", 3 << 20);
	peak = status_kb(0, "VmHWM:");
	// Each large bin went straight into its own block.
	cr_assert_lt(
	    peak - base, (long) (2 * half / 1024) * 5 / 4, "peak grew by %ld KiB", peak - base);
	get_eq(b, "s1", "pair", want);
	oscar_value_free(want);
	osc_store_close(a);
	osc_store_close(b);
}

// ---------------------------------------------------------------------------
// lz4

Test(store, lz4)
{
	size_t n   = 1 << 20;
	char  *raw = malloc(n);
	void  *c;
	void  *d;
	size_t clen;
	size_t dlen;

	cr_assert_not_null(raw);
	for (size_t i = 0; i < n; i++) {
		raw[i] = (char) ("abcabcabd"[i % 9]);
	}
	cr_assert_eq(osc_lz4_compress(raw, n, &c, &clen), 0);
	cr_assert(osc_lz4_worth(n, clen));
	cr_assert_eq(osc_lz4_decompress(c, clen, n, &d, &dlen), 0);
	cr_assert_eq(dlen, n);
	cr_assert_eq(memcmp(d, raw, n), 0);
	cr_assert_eq(((char *) d)[n], 0);
	free(d);
	// A peer's bound, a cut, corruption.
	cr_assert_eq(osc_lz4_decompress(c, clen, n - 1, &d, &dlen), OSCAR_ETOOLARGE);
	cr_assert_eq(osc_lz4_decompress(c, clen - 1, n, &d, &dlen), OSCAR_EPROTO);
	cr_assert_eq(osc_lz4_decompress(c, 3, n, &d, &dlen), OSCAR_EPROTO);
	((unsigned char *) c)[0] ^= 1; // another raw length than the block's
	cr_assert_eq(osc_lz4_decompress(c, clen, n + 1, &d, &dlen), OSCAR_EPROTO);
	((unsigned char *) c)[0] ^= 1;
	((unsigned char *) c)[clen / 2] ^= 0x5a; // a corrupt block
	int rv = osc_lz4_decompress(c, clen, n, &d, &dlen);
	if (rv == 0) {
		// lz4 has no checksum: corruption may decode, but never out of
		// bounds, and never to the original.
		cr_assert_neq(memcmp(d, raw, n), 0);
		free(d);
	} else {
		cr_assert_eq(rv, OSCAR_EPROTO);
	}
	cr_assert_null(d);
	free(c);

	// Random bytes do not compress: not worth sending.
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		raw[i] = (char) x;
	}
	cr_assert_eq(osc_lz4_compress(raw, n, &c, &clen), 0);
	cr_assert_not(osc_lz4_worth(n, clen));
	cr_assert_eq(osc_lz4_decompress(c, clen, n, &d, &dlen), 0);
	cr_assert_eq(memcmp(d, raw, n), 0);
	free(c);
	free(d);
	// Empty.
	cr_assert_eq(osc_lz4_compress(raw, 0, &c, &clen), 0);
	cr_assert_eq(osc_lz4_decompress(c, clen, 0, &d, &dlen), 0);
	cr_assert_eq(dlen, 0);
	free(c);
	free(d);
	free(raw);
}

// ---------------------------------------------------------------------------
// Shared memory

// memfds counts what this process holds of segments: descriptors and
// mappings of memfds named "oscar-object".
static int memfds(void)
{
	char           path[512];
	char           target[512];
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	FILE          *f;
	int            n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = '\0';
			n += strstr(target, "memfd:oscar-object") != NULL;
		}
	}
	closedir(d);
	f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	while (fgets(path, sizeof(path), f) != NULL) {
		n += strstr(path, "memfd:oscar-object") != NULL;
	}
	fclose(f);
	return (n);
}

// dev_shm_ours counts the entries of /dev/shm that Oscar-C could have
// made (other programs may come and go there at the same time).
static int dev_shm_ours(void)
{
	DIR           *d = opendir("/dev/shm");
	struct dirent *e;
	int            n = 0;

	if (d == NULL) {
		return (0);
	}
	while ((e = readdir(d)) != NULL) {
		n += strncmp(e->d_name, "oscar", 5) == 0;
	}
	closedir(d);
	return (n);
}

Test(store, export_in_process)
{
	osc_store_t      *s = open_store(0, NULL);
	osc_store_stats_t st;
	osc_shm_map_t     m;
	oscar_value_t    *want = pattern_bin(1 << 20, 7);
	oscar_value_t    *v;
	oscar_error_t     err;
	size_t            size;
	size_t            size2;
	int               fd;
	int               fd2;
	put(s, "s1", "bin", oscar_value_copy(want));
	put(s, "s1", "arr", int_array(5));
	cr_assert_eq(osc_store_export(s, "s1", "bin", &fd, &size, &err), 0, "%s", err.message);
	cr_assert_eq(size, OSC_SHM_HDR + (1 << 20) + 1);
	cr_assert_eq(osc_store_export(s, "s1", "bin", &fd2, &size2, &err), 0);
	cr_assert_eq(fd, fd2); // made once
	// Read-only, sealed, the object's bytes.
	cr_assert_eq(osc_shm_map(fd, false, &m), 0);
	cr_assert_eq(m.kind, OSC_SHM_BIN);
	cr_assert_eq(memcmp(m.data, want->as.bin.ptr, m.len), 0);
	cr_assert_eq(mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(ftruncate(fd, 10), -1);
	osc_shm_unmap(&m);
	// The object itself still reads the same (it moved into the segment).
	get_eq(s, "s1", "bin", want);

	// Other values travel encoded.
	cr_assert_eq(osc_store_export(s, "s1", "arr", &fd2, &size2, &err), 0);
	cr_assert_eq(osc_shm_map(fd2, false, &m), 0);
	cr_assert_eq(m.kind, OSC_SHM_VALUE);
	cr_assert_eq(osc_shm_value(&m, &v), 0);
	cr_assert_eq(v->as.arr.len, 5);
	oscar_value_free(v);
	osc_shm_unmap(&m);

	// Import as a new object, without copying.
	cr_assert_eq(osc_store_import(s, "s1", "copy", fd, &err), 0, "%s", err.message);
	get_eq(s, "s1", "copy", want);
	osc_store_stats(s, &st);
	cr_assert_eq(st.shared, size * 2 + size2);

	// Released with the objects; nothing in /dev/shm ever.
	cr_assert_gt(memfds(), 0);
	cr_assert_eq(osc_store_delete(s, "s1", "bin", &err), 0);
	osc_store_stats(s, &st);
	cr_assert_eq(st.shared, size + size2);
	cr_assert_eq(dev_shm_ours(), 0);
	osc_store_close(s);
	cr_assert_eq(memfds(), 0);
	cr_assert_eq(dev_shm_ours(), 0);
	oscar_value_free(want);
}

Test(store, import_refuses_bad_segments)
{
	osc_store_t  *s = open_store(0, NULL);
	osc_shm_map_t m;
	oscar_error_t err;
	int           fd;

	// Not sealed.
	cr_assert_eq(osc_shm_alloc(OSC_SHM_BIN, 10, &fd, &m), 0);
	cr_assert_eq(osc_store_import(s, "s1", "k", fd, &err), OSCAR_EPROTO);
	cr_assert_str_eq(
	    err.message, "importing object k into session s1: not a sealed, well-formed segment");
	// Sealed, but a bad header.
	memcpy(m.base, "XXXX", 4);
	cr_assert_eq(osc_shm_seal(fd, &m), 0);
	cr_assert_eq(osc_store_import(s, "s1", "k", fd, &err), OSCAR_EPROTO);
	close(fd);
	// Not a memfd at all.
	fd = open("/dev/null", O_RDONLY);
	cr_assert_eq(osc_store_import(s, "s1", "k", fd, &err), OSCAR_EPROTO);
	close(fd);
	cr_assert_not(osc_store_has(s, "s1", "k"));
	osc_store_close(s);
}

// spawn starts the shm child with its socket as fd 3.
static pid_t spawn(int sock, const char *a1, const char *a2)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (dup2(sock, 3) < 0) {
			_exit(127);
		}
		execl(OSCAR_TEST_SHM_CHILD, OSCAR_TEST_SHM_CHILD, a1, a2, (char *) NULL);
		_exit(127);
	}
	return (pid);
}

// reap waits for pid and returns its exit status (or 128 + signal).
static int reap(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// read_answer reads the child's answer, waiting at most a minute.
static void read_answer(int sock, char *buf, size_t size)
{
	struct timeval tv = { .tv_sec = 60 };
	ssize_t        n;

	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = read(sock, buf, size - 1);
	cr_assert_gt(n, 0, "no answer from the child");
	buf[n] = '\0';
}

Test(store, a_child_process_reads_64_mib_through_shared_memory)
{
	size_t        size = 64u << 20;
	osc_store_t  *s    = open_store(0, NULL);
	oscar_error_t err;
	char          ans[64];
	char          want[64];
	size_t        ssize;
	int           sv[2];
	int           fd;
	pid_t         pid;

	put(s, "s1", "big", pattern_bin(size, 7));
	cr_assert_eq(osc_store_export(s, "s1", "big", &fd, &ssize, &err), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = spawn(sv[1], "read", NULL);
	close(sv[1]);
	cr_assert_eq(osc_shm_send_fd(sv[0], fd, "big", 3), 0);
	read_answer(sv[0], ans, sizeof(ans));
	snprintf(want, sizeof(want), "ok %zu", size);
	cr_assert_str_eq(ans, want);
	cr_assert_eq(reap(pid), 0);
	close(sv[0]);
	osc_store_close(s);
	cr_assert_eq(memfds(), 0);
	cr_assert_eq(dev_shm_ours(), 0);
}

Test(store, a_child_process_hands_over_a_segment)
{
	size_t         size = 8u << 20;
	osc_store_t   *s    = open_store(0, NULL);
	oscar_value_t *want = pattern_bin(size, 7);
	oscar_error_t  err;
	char           msg[16];
	size_t         len;
	int            sv[2];
	int            fd;
	pid_t          pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = spawn(sv[1], "write", "8388608");
	close(sv[1]);
	cr_assert_eq(osc_shm_recv_fd(sv[0], &fd, msg, sizeof(msg), &len, 60000), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(osc_store_import(s, "s1", "from-child", fd, &err), 0, "%s", err.message);
	close(fd);
	cr_assert_eq(write(sv[0], "done", 4), 4);
	cr_assert_eq(reap(pid), 0);
	// The child is gone; the object lives on in the store.
	get_eq(s, "s1", "from-child", want);
	close(sv[0]);
	osc_store_close(s);
	oscar_value_free(want);
}

Test(store, a_killed_child_leaves_nothing_behind)
{
	osc_store_t  *s = open_store(0, NULL);
	oscar_error_t err;
	char          ans[64];
	size_t        ssize;
	int           sv[2];
	int           fd;
	pid_t         pid;

	put(s, "s1", "obj", pattern_bin(1 << 20, 1));
	cr_assert_eq(osc_store_export(s, "s1", "obj", &fd, &ssize, &err), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = spawn(sv[1], "hold", NULL);
	close(sv[1]);
	cr_assert_eq(osc_shm_send_fd(sv[0], fd, "obj", 3), 0);
	read_answer(sv[0], ans, sizeof(ans));
	cr_assert_str_eq(ans, "held");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(reap(pid), 128 + SIGKILL);
	close(sv[0]);
	cr_assert_gt(memfds(), 0); // the store's
	osc_store_close(s);
	cr_assert_eq(memfds(), 0);
	cr_assert_eq(dev_shm_ours(), 0);
}

Test(store, recv_fd_errors)
{
	char   msg[16];
	size_t len;
	int    sv[2];
	int    fd;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	// Nothing comes: the deadline.
	cr_assert_eq(osc_shm_recv_fd(sv[0], &fd, msg, sizeof(msg), &len, 10), OSCAR_ETIMEDOUT);
	// A message without a descriptor.
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_assert_eq(osc_shm_recv_fd(sv[0], &fd, msg, sizeof(msg), &len, 1000), OSCAR_EPROTO);
	cr_assert_eq(fd, -1);
	// The peer gone.
	close(sv[1]);
	cr_assert_eq(osc_shm_recv_fd(sv[0], &fd, msg, sizeof(msg), &len, 1000), OSCAR_EPEERGONE);
	close(sv[0]);
}
