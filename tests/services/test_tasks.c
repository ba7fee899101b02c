// The task service in one process: a supervisor and two workers, each
// worker with one sub pool (its slot), running the example task
// functions. The test program is also the program of the workers' sub
// pools: main() runs it as one when a node started it so.
//
// Until the storage service is part of the tree, the workers' storage
// ("oscar.storage", put / get / pull as the contract says) is a small
// stand-in registered here, used only when no "storage" service is
// registered.
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "examples/task-functions/taskfns.h"
#include "oscar/oscar.h"
#include "services/services_int.h"
#include "tests/common/values.h"
#include "tests/common/pools.h"

// ---------------------------------------------------------------------------
// The storage stand-in: objects in a map by "session/key".

typedef struct teststore {
	oscar_value_t *objects;
} teststore_t;

static int ts_name(char *buf, size_t size, const char *sid, const char *key)
{
	return ((size_t) snprintf(buf, size, "%s/%s", sid, key) < size ? 0 : OSCAR_EINVAL);
}

static int ts_put(oscar_actor_t *self, oscar_req_t *req)
{
	teststore_t         *st    = oscar_actor_state(self);
	const char          *sid   = oscar_value_map_str(oscar_req_args(req), "session");
	const oscar_value_t *items = oscar_value_map_get(oscar_req_args(req), "items");
	oscar_value_t       *sizes = oscar_value_new_array(oscar_value_len(items));
	for (size_t i = 0; sid != NULL && i < oscar_value_len(items); i++) {
		const char          *key;
		size_t               len;
		char                 name[2048];
		void                *buf;
		const oscar_value_t *v = oscar_value_at(oscar_value_at(items, i), 1);
		if (oscar_value_get_str(oscar_value_at(oscar_value_at(items, i), 0), &key, &len) !=
		        0 ||
		    v == NULL || ts_name(name, sizeof(name), sid, key) != 0 ||
		    oscar_value_encode(v, &buf, &len) != 0) {
			oscar_value_free(sizes);
			return (oscar_req_fail(req, OSCAR_EBADARGS, "bad put"));
		}
		free(buf);
		oscar_value_map_set(st->objects, name, oscar_value_copy(v));
		oscar_value_array_push(sizes, oscar_value_new_uint(len));
	}
	return (oscar_req_reply(req, sizes));
}

static int ts_get(oscar_actor_t *self, oscar_req_t *req)
{
	teststore_t         *st   = oscar_actor_state(self);
	const char          *sid  = oscar_value_map_str(oscar_req_args(req), "session");
	const oscar_value_t *keys = oscar_value_map_get(oscar_req_args(req), "keys");
	oscar_value_t       *out  = oscar_value_new_array(oscar_value_len(keys));
	for (size_t i = 0; sid != NULL && i < oscar_value_len(keys); i++) {
		const char          *key;
		size_t               len;
		char                 name[2048];
		const oscar_value_t *v = NULL;
		if (oscar_value_get_str(oscar_value_at(keys, i), &key, &len) == 0 &&
		    ts_name(name, sizeof(name), sid, key) == 0) {
			v = oscar_value_map_get(st->objects, name);
		}
		if (v == NULL) {
			oscar_value_free(out);
			return (oscar_req_fail(
			    req, OSCAR_ENOENT, "no object %s in session %s", key, sid));
		}
		oscar_value_array_push(out, oscar_value_copy(v));
	}
	return (oscar_req_reply(req, out));
}

// pull: get the objects from the storage at from, then put them here.
static void ts_pulled(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	oscar_req_t *req = arg;
	teststore_t *st  = oscar_actor_state(self);
	if (res->code != 0) {
		oscar_req_fail_result(req, res);
		return;
	}
	const char          *sid   = oscar_value_map_str(oscar_req_args(req), "session");
	const oscar_value_t *keys  = oscar_value_map_get(oscar_req_args(req), "keys");
	oscar_value_t       *sizes = oscar_value_new_array(oscar_value_len(keys));
	for (size_t i = 0; i < oscar_value_len(keys); i++) {
		const char *key;
		size_t      len;
		char        name[2048];
		oscar_value_get_str(oscar_value_at(keys, i), &key, &len);
		ts_name(name, sizeof(name), sid, key);
		oscar_value_map_set(
		    st->objects, name, oscar_value_copy(oscar_value_at(res->value, i)));
		oscar_value_array_push(sizes, oscar_value_new_uint(1));
	}
	oscar_req_reply(req, sizes);
}

static int ts_pull(oscar_actor_t *self, oscar_req_t *req)
{
	const oscar_value_t *a    = oscar_req_args(req);
	const char          *from = oscar_value_map_str(a, "from");
	oscar_ref_t          ref;
	oscar_value_t       *q = oscar_value_new_map(2);
	if (from == NULL || oscar_ref_make(&ref, from, "oscar.storage") != 0) {
		oscar_value_free(q);
		return (oscar_req_fail(req, OSCAR_EBADARGS, "bad pull"));
	}
	oscar_value_map_set(q, "session", oscar_value_copy(oscar_value_map_get(a, "session")));
	oscar_value_map_set(q, "keys", oscar_value_copy(oscar_value_map_get(a, "keys")));
	int rv = oscar_req_call(req, &ref, "get", q, 10000, ts_pulled, req, NULL);
	if (rv != 0) {
		return (rv);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

static int ts_create(oscar_actor_t *self, const oscar_value_t *args)
{
	teststore_t *st = oscar_actor_state(self);
	st->objects     = oscar_value_new_map(64);
	return (st->objects != NULL ? 0 : OSCAR_ENOMEM);
}

static void ts_destroy(oscar_actor_t *self)
{
	teststore_t *st = oscar_actor_state(self);
	oscar_value_free(st->objects);
}

static const oscar_method_t ts_methods[] = {
	{ "put", ts_put, NULL },
	{ "get", ts_get, NULL },
	{ "pull", ts_pull, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t ts_class = {
	.name       = "test.storage",
	.state_size = sizeof(teststore_t),
	.create     = ts_create,
	.destroy    = ts_destroy,
	.methods    = ts_methods,
};

static int ts_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	oscar_ref_t ref;
	return (
	    oscar_create(oscar_node_pool(node), &ts_class, "oscar.storage", NULL, 5000, &ref, err));
}

static const oscar_service_t ts_service = {
	.abi   = OSCAR_SERVICE_ABI,
	.name  = "test_storage",
	.roles = OSCAR_ROLE_WORKER,
	.start = ts_start,
};

// ---------------------------------------------------------------------------
// The cluster

// hold(args...) keeps its slot busy until it is cancelled (a minute at
// most), whatever its arguments, then gives 0: a task that holds its
// worker for as long as a test needs, and that may take any input.
static int fn_hold(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	(void) args;
	for (int i = 0; i < 12000 && !oscar_task_cancelled(ctx); i++) {
		struct timespec ts = { 0, 5000000L };
		nanosleep(&ts, NULL);
	}
	*result = oscar_value_new_int(0);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// Large values, which go between a worker and its slot through shared
// memory ([task] shm_threshold). bin_byte(seed, i) is byte i of the bin
// mkbin makes with seed.
static unsigned char bin_byte(int64_t seed, size_t i)
{
	return ((unsigned char) ((uint64_t) seed * 31 + i * 7 + (i >> 12)));
}

// fnv64 hashes p[0..len).
static uint64_t fnv64(const unsigned char *p, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * UINT64_C(1099511628211);
	}
	return (h);
}

// mkbin([n, seed]): a bin of n bytes, bin_byte(seed, i) each.
static int fn_mkbin(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t n = 0, seed = 0;
	if (oscar_value_get_int(oscar_value_at(args, 0), &n) != 0 || n < 0 || n > (1 << 28) ||
	    oscar_value_get_int(oscar_value_at(args, 1), &seed) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "mkbin takes [n, seed]"));
	}
	unsigned char *buf = malloc((size_t) n + 1);
	if (buf == NULL) {
		return (oscar_task_fail(ctx, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < (size_t) n; i++) {
		buf[i] = bin_byte(seed, i);
	}
	*result = oscar_value_new_bin(buf, (size_t) n);
	free(buf);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// binsum([bin]): [its length, its fnv64].
static int fn_binsum(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const void *p;
	size_t      len;
	if (oscar_value_get_bin(oscar_value_at(args, 0), &p, &len) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "binsum takes [bin]"));
	}
	*result = args2(oscar_value_new_uint(len), oscar_value_new_uint(fnv64(p, len)));
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// binflip([bin]): a new bin, each byte of it inverted.
static int fn_binflip(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const void *v;
	size_t      len;
	if (oscar_value_get_bin(oscar_value_at(args, 0), &v, &len) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "binflip takes [bin]"));
	}
	const unsigned char *p   = v;
	unsigned char       *buf = malloc(len + 1);
	if (buf == NULL) {
		return (oscar_task_fail(ctx, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < len; i++) {
		buf[i] = (unsigned char) ~p[i];
	}
	*result = oscar_value_new_bin(buf, len);
	free(buf);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// bincrash([bin]): reads the bin, then aborts while it holds it.
static int fn_bincrash(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const void *p;
	size_t      len;
	(void) result;
	if (oscar_value_get_bin(oscar_value_at(args, 0), &p, &len) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "bincrash takes [bin]"));
	}
	volatile uint64_t h = fnv64(p, len);
	(void) h;
	abort();
}

// mkbin_late([n, seed]): makes the bin, waits until it is cancelled (a
// minute at most), then gives the bin all the same: a large output
// nobody wants any more.
static int fn_mkbin_late(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int rv = fn_mkbin(ctx, args, result);
	for (int i = 0; rv == 0 && i < 12000 && !oscar_task_cancelled(ctx); i++) {
		struct timespec ts = { 0, 5000000L };
		nanosleep(&ts, NULL);
	}
	return (rv);
}

// nestsleep([ms]): submits a sleep of ms to its own session (key
// "<its key>/s") and waits for it; gives 0.
static int fn_nestsleep(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	char          key[OSCAR_TASK_KEY_MAX], gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t err;
	int64_t       ms = 0;
	if (oscar_value_get_int(oscar_value_at(args, 0), &ms) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "nestsleep takes [ms]"));
	}
	snprintf(key, sizeof(key), "%s/s", oscar_task_key(ctx));
	oscar_value_t *g = oscar_value_new_array(1);
	oscar_value_array_push(
	    g, oscar_graph_task(key, "sleep", args1(oscar_value_new_int(ms)), 1, false));
	int rv = oscar_task_submit(ctx, g, gid, sizeof(gid), 10000, &err);
	rv     = rv != 0 ? rv : oscar_task_wait(ctx, gid, 30000, NULL, &err);
	if (rv != 0) {
		return (oscar_task_fail(ctx, rv, "%s", err.message));
	}
	*result = oscar_value_new_int(0);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

static oscar_registry_t *make_registry(void)
{
	oscar_registry_t *reg = NULL;
	oscar_error_t     err;
	if (oscar_registry_new(&reg) != 0 ||
	    oscar_example_taskfns_add(oscar_registry_taskfns(reg), &err) != 0 ||
	    oscar_taskfns_add(oscar_registry_taskfns(reg), "hold", fn_hold, NULL, &err) != 0 ||
	    oscar_taskfns_add(oscar_registry_taskfns(reg), "mkbin", fn_mkbin, NULL, &err) != 0 ||
	    oscar_taskfns_add(oscar_registry_taskfns(reg), "binsum", fn_binsum, NULL, &err) != 0 ||
	    oscar_taskfns_add(oscar_registry_taskfns(reg), "binflip", fn_binflip, NULL, &err) !=
	        0 ||
	    oscar_taskfns_add(oscar_registry_taskfns(reg), "bincrash", fn_bincrash, NULL, &err) !=
	        0 ||
	    oscar_taskfns_add(
	        oscar_registry_taskfns(reg), "mkbin_late", fn_mkbin_late, NULL, &err) != 0 ||
	    oscar_taskfns_add(oscar_registry_taskfns(reg), "nestsleep", fn_nestsleep, NULL, &err) !=
	        0 ||
	    (oscar_registry_find(reg, "storage") == NULL &&
	        oscar_registry_add(reg, &ts_service, &err) != 0)) {
		oscar_registry_free(&reg);
		return (NULL);
	}
	return (reg);
}

static oscar_registry_t *reg;
static oscar_node_t     *sup, *w1, *w2;
// The [task] shm_threshold and kill_timeout the nodes start with.
static const char   *shm_threshold = "256K";
static const char   *kill_timeout  = "300ms";
static oscar_pool_t *client;
static const char   *sup_addr;
static const char   *S = "s1";

static oscar_node_t *start_node(oscar_role_t role, unsigned sub_pools)
{
	oscar_settings_t *s;
	oscar_node_t     *node;
	oscar_error_t     err;
	char              n[16];
	snprintf(n, sizeof(n), "%u", sub_pools);
	cr_assert_eq(oscar_settings_new(&s), 0);
	oscar_settings_set(s, "node", "listen", "tcp://127.0.0.1:0");
	oscar_settings_set(s, "node", "sub_pools", n);
	oscar_settings_set(s, "cluster", "heartbeat_interval", "100ms");
	// No test here loses a worker on purpose: a dead timeout far above
	// what a loaded sanitizer build may keep a worker's loop busy.
	oscar_settings_set(s, "cluster", "dead_timeout", "60s");
	oscar_settings_set(s, "task", "kill_timeout", kill_timeout);
	// Values of BIG bytes go between a worker and its slots through
	// shared memory, whatever the default.
	oscar_settings_set(s, "task", "shm_threshold", shm_threshold);
	if (role == OSCAR_ROLE_WORKER) {
		oscar_settings_set(s, "node", "supervisor", sup_addr);
	}
	cr_assert_eq(oscar_node_start(&node, role, s, reg, &err), 0, "%s", err.message);
	oscar_settings_free(&s);
	return (node);
}

static void setup_with(int workers, unsigned slots)
{
	oscar_pool_config_t cfg;
	oscar_cluster_t    *cl;
	oscar_error_t       err;
	// The test runs in a sandbox process whose environment tells the
	// test framework's library to act as a sandbox; the sub pools the
	// workers start inherit the environment, and must run as sub pools.
	unsetenv("BXFI_MAP");
	// Under AddressSanitizer, a slot whose function crashes on purpose
	// must die of its signal, as it would in production, rather than
	// have the sanitizer report the fault: the sub pools read their
	// options from the environment they inherit (this process read its
	// own already).
	const char *asan = getenv("ASAN_OPTIONS");
	if (asan != NULL) {
		char opts[1024];
		snprintf(opts, sizeof(opts), "%s:handle_segv=0", asan);
		setenv("ASAN_OPTIONS", opts, 1);
	}
	cr_assert_not_null(reg = make_registry());
	sup      = start_node(OSCAR_ROLE_SUPERVISOR, 0);
	sup_addr = oscar_node_address(sup);
	w1       = start_node(OSCAR_ROLE_WORKER, slots);
	w2       = workers > 1 ? start_node(OSCAR_ROLE_WORKER, slots) : NULL;
	oscar_pool_config_init(&cfg);
	client = pool_open(&cfg);
	cr_assert_eq(oscar_cluster_open(&cl, client, sup_addr, &err), 0);
	cr_assert_eq(
	    oscar_cluster_wait_workers(cl, (size_t) workers, 20000, &err), 0, "%s", err.message);
	oscar_cluster_close(&cl);
	cr_assert_eq(oscar_sessions_create(client, sup_addr, S, false, NULL, NULL, 10000, &err), 0,
	    "%s", err.message);
}

static void setup(void)
{
	setup_with(2, 1);
}

// setup_one_slot: a cluster with a single slot in all.
static void setup_one_slot(void)
{
	setup_with(1, 1);
}

// setup_no_shm: the default cluster, with values of any size travelling
// between workers and slots in messages.
static void setup_no_shm(void)
{
	shm_threshold = "0";
	setup_with(2, 1);
}

// setup_patient: the default cluster, where a cancelled task has ten
// seconds to end before its slot is killed.
static void setup_patient(void)
{
	kill_timeout = "10s";
	setup_with(2, 1);
}

// setup_two_slots: two workers with two slots each.
static void setup_two_slots(void)
{
	setup_with(2, 2);
}

static void teardown(void)
{
	oscar_pool_free(&client);
	oscar_node_stop(&w1);
	if (w2 != NULL) {
		oscar_node_stop(&w2);
	}
	oscar_node_stop(&sup);
	oscar_registry_free(&reg);
}

TestSuite(tasks, .init = setup, .fini = teardown, .timeout = 120);

// ---------------------------------------------------------------------------
// Helpers

static void add(oscar_value_t *graph, const char *key, const char *fn, oscar_value_t *args,
    unsigned n_output, bool pure)
{
	cr_assert_eq(
	    oscar_value_array_push(graph, oscar_graph_task(key, fn, args, n_output, pure)), 0);
}

// run_within submits graph in session sid, waits up to wait_ms for it
// and gives its info.
static oscar_value_t *run_within(
    const char *sid, oscar_value_t *graph, const char *id, int64_t wait_ms)
{
	char           gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, sid, graph, id, gid, sizeof(gid), 10000, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_graph_wait(client, sup_addr, sid, gid, wait_ms, &info, &err), 0, "%s",
	    err.message);
	return (info);
}

// run_in submits graph in session sid, waits for it and gives its info.
static oscar_value_t *run_in(const char *sid, oscar_value_t *graph, const char *id)
{
	return (run_within(sid, graph, id, 60000));
}

static oscar_value_t *run(oscar_value_t *graph)
{
	return (run_in(S, graph, NULL));
}

static void assert_status(const oscar_value_t *info, const char *status)
{
	const oscar_value_t *e = oscar_value_map_get(info, "error");
	cr_assert_str_eq(oscar_value_map_str(info, "status"), status, "graph %s: %s",
	    oscar_value_map_str(info, "status"),
	    e != NULL && e->type == OSCAR_MAP ? oscar_value_map_str(e, "message") : "");
}

// fetch reads object key of session sid from a worker that holds it.
static oscar_value_t *fetch_in(const char *sid, const char *key)
{
	oscar_value_t *entries, *out;
	oscar_error_t  err;
	const char    *keys[]   = { key, NULL };
	const char    *fields[] = { "workers", NULL };
	cr_assert_eq(
	    oscar_meta_get(client, sup_addr, sid, keys, 1, fields, false, 10000, &entries, &err), 0,
	    "%s", err.message);
	const oscar_value_t *workers = oscar_value_map_get(oscar_value_at(entries, 0), "workers");
	cr_assert_geq(oscar_value_len(workers), 1);
	oscar_ref_t ref;
	const char *w;
	size_t      len;
	cr_assert_eq(oscar_value_get_str(oscar_value_at(workers, 0), &w, &len), 0);
	cr_assert_eq(oscar_ref_make(&ref, w, "oscar.storage"), 0);
	oscar_value_free(entries);
	oscar_value_t *q = oscar_value_new_map(2);
	oscar_value_map_set(q, "session", oscar_value_new_str(sid));
	oscar_value_map_set(q, "keys", args1(oscar_value_new_str(key)));
	cr_assert_eq(oscar_call(client, &ref, "get", q, 10000, &out, &err), 0, "%s", err.message);
	oscar_value_t *v = oscar_value_copy(oscar_value_at(out, 0));
	oscar_value_free(out);
	return (v);
}

static int64_t fetch_int(const char *key)
{
	oscar_value_t *v = fetch_in(S, key);
	int64_t        i;
	cr_assert_eq(oscar_value_get_int(v, &i), 0, "%s is not an int", key);
	oscar_value_free(v);
	return (i);
}

static double fetch_float(const char *key)
{
	oscar_value_t *v = fetch_in(S, key);
	double         f;
	cr_assert_eq(oscar_value_get_float(v, &f), 0, "%s is not a float", key);
	oscar_value_free(v);
	return (f);
}

static const oscar_value_t *error_of(const oscar_value_t *info)
{
	const oscar_value_t *e = oscar_value_map_get(info, "error");
	cr_assert(e != NULL && e->type == OSCAR_MAP, "the graph has no error");
	return (e);
}

// ---------------------------------------------------------------------------
// Seed 001's examples

Test(tasks, workers_report_their_functions)
{
	oscar_cluster_t *cl;
	oscar_value_t   *info;
	oscar_error_t    err;
	const char      *fields[] = { "functions", NULL };
	cr_assert_eq(oscar_cluster_open(&cl, client, sup_addr, &err), 0);
	cr_assert_eq(
	    oscar_cluster_nodes_info(cl, OSCAR_ROLE_WORKER, NULL, fields, 5000, &info, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_value_len(info), 2);
	for (size_t i = 0; i < 2; i++) {
		const oscar_value_t *fns =
		    oscar_value_map_get(oscar_value_at(info, i), "functions");
		bool found = false;
		for (size_t j = 0; j < oscar_value_len(fns); j++) {
			const char *name;
			size_t      len;
			oscar_value_get_str(oscar_value_at(fns, j), &name, &len);
			found = found || strcmp(name, "triage") == 0;
		}
		cr_assert(found, "worker %zu does not offer triage", i);
	}
	oscar_value_free(info);
	oscar_cluster_close(&cl);
}

Test(tasks, inc_over_ten_then_sum_all_is_55)
{
	oscar_value_t *g    = oscar_value_new_array(11);
	oscar_value_t *refs = oscar_value_new_array(10);
	for (int i = 0; i < 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "inc-%d", i);
		add(g, key, "inc", args1(oscar_value_new_int(i)), 1, false);
		cr_assert_eq(oscar_value_array_push(refs, oscar_value_new_ref(key)), 0);
	}
	add(g, "total", "sum_all", args1(refs), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	for (int i = 0; i < 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "inc-%d", i);
		cr_assert_eq(fetch_int(key), i + 1);
	}
	cr_assert_eq(fetch_int("total"), 55);
	cr_assert_eq(oscar_value_map_uint(info, "n_tasks", 0), 11);
	oscar_value_free(info);
}

Test(tasks, triage_with_two_outputs)
{
	oscar_value_t *g    = oscar_value_new_array(3);
	oscar_value_t *l    = oscar_value_new_array(4);
	const double   xs[] = { 0.4, 0.7, 0.2, 0.8 };
	for (int i = 0; i < 4; i++) {
		oscar_value_array_push(l, oscar_value_new_float(xs[i]));
	}
	add(g, "tri", "triage", args1(l), 2, false);
	add(g, "sa", "sum_all", args1(oscar_value_new_ref_output("tri", 0)), 1, false);
	add(g, "sb", "sum_all", args1(oscar_value_new_ref_output("tri", 1)), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_float_eq(fetch_float("sa"), 0.6, 1e-9);
	cr_assert_float_eq(fetch_float("sb"), 1.5, 1e-9);
}

Test(tasks, a_diamond)
{
	oscar_value_t *g = oscar_value_new_array(4);
	add(g, "top", "inc", args1(oscar_value_new_int(1)), 1, false);
	add(g, "left", "inc", args1(oscar_value_new_ref("top")), 1, false);
	add(g, "right", "add", args2(oscar_value_new_ref("top"), oscar_value_new_int(10)), 1,
	    false);
	add(g, "bottom", "add", args2(oscar_value_new_ref("left"), oscar_value_new_ref("right")), 1,
	    false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(fetch_int("bottom"), 3 + 12);
}

Test(tasks, ten_thousand_tasks_and_their_sum)
{
	oscar_value_t *g    = oscar_value_new_array(10001);
	oscar_value_t *refs = oscar_value_new_array(10000);
	for (int i = 0; i < 10000; i++) {
		char key[16];
		snprintf(key, sizeof(key), "t%d", i);
		add(g, key, "inc", args1(oscar_value_new_int(i)), 1, false);
		oscar_value_array_push(refs, oscar_value_new_ref(key));
	}
	add(g, "sum", "sum_all", args1(refs), 1, false);
	// A few seconds in the plain build; the sanitizer build, beside the
	// rest of the suite on two cores, has taken over a minute.
	oscar_value_t *info = run_within(S, g, NULL, 300000);
	assert_status(info, "done");
	cr_assert_eq(oscar_value_map_uint(oscar_value_map_get(info, "counts"), "done", 0), 10001);
	oscar_value_free(info);
	cr_assert_eq(fetch_int("sum"), 10000 * 10001 / 2);
}

// ---------------------------------------------------------------------------
// Errors

Test(tasks, a_failing_task_fails_its_dependents_and_the_graph)
{
	oscar_value_t *g = oscar_value_new_array(3);
	add(g, "bad", "fail",
	    args2(oscar_value_new_str("the disk is on fire"), oscar_value_new_int(OSCAR_EUSER + 7)),
	    1, false);
	add(g, "after", "inc", args1(oscar_value_new_ref("bad")), 1, false);
	add(g, "fine", "inc", args1(oscar_value_new_int(1)), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "failed");
	const oscar_value_t *e = error_of(info);
	cr_assert_eq(oscar_value_map_int(e, "code", 0), OSCAR_EUSER + 7);
	cr_assert_str_eq(oscar_value_map_str(e, "key"), "bad");
	cr_assert_str_eq(oscar_value_map_str(e, "fn"), "fail");
	cr_assert(strstr(oscar_value_map_str(e, "message"), "the disk is on fire") != NULL, "%s",
	    oscar_value_map_str(e, "message"));
	const char *w = oscar_value_map_str(e, "worker");
	cr_assert(strcmp(w, oscar_node_address(w1)) == 0 || strcmp(w, oscar_node_address(w2)) == 0,
	    "%s", w);
	// The dependent never ran.
	const oscar_value_t *counts = oscar_value_map_get(info, "counts");
	cr_assert_eq(oscar_value_map_uint(counts, "done", 99) +
	                 oscar_value_map_uint(counts, "failed", 0) +
	                 oscar_value_map_uint(counts, "cancelled", 0),
	    3);
	cr_assert_eq(oscar_value_map_uint(counts, "pending", 9), 0);
	oscar_value_free(info);
}

// A link of a chain that fails right after its input succeeded, both run
// in one batch of a slot (the link runs ahead behind its input), is
// reported with its own error: its input's end reaches the manager first,
// although storing the input's output takes longer than reporting a
// failure.
Test(tasks, a_chained_failure_after_its_input_is_reported_as_its_own)
{
	for (int r = 0; r < 20; r++) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "link-a%d", r);
		snprintf(b, sizeof(b), "link-b%d", r);
		oscar_value_t *g = oscar_value_new_array(2);
		add(g, a, "inc", args1(oscar_value_new_int(r)), 1, false);
		add(g, b, "fail", args1(oscar_value_new_ref(a)), 1, false);
		oscar_value_t *info = run(g);
		assert_status(info, "failed");
		const oscar_value_t *e = error_of(info);
		cr_assert_str_eq(oscar_value_map_str(e, "key"), b);
		cr_assert_eq(oscar_value_map_int(e, "code", 0), OSCAR_EAPP, "%s",
		    oscar_value_map_str(e, "message"));
		cr_assert(strstr(oscar_value_map_str(e, "message"), "failed on purpose") != NULL,
		    "round %d: %s", r, oscar_value_map_str(e, "message"));
		const oscar_value_t *counts = oscar_value_map_get(info, "counts");
		cr_assert_eq(oscar_value_map_uint(counts, "done", 0), 1);
		cr_assert_eq(fetch_int(a), r + 1);
		oscar_value_free(info);
	}
}

// want marks the last task of graph as wanted back.
static void want_last(oscar_value_t *graph)
{
	oscar_value_t *t = (oscar_value_t *) oscar_value_at(graph, oscar_value_len(graph) - 1);
	cr_assert_eq(oscar_value_map_set(t, "want", oscar_value_new_bool(true)), 0);
}

// output_of finds the item of key in an info map's outputs.
static const oscar_value_t *output_of(const oscar_value_t *info, const char *key)
{
	const oscar_value_t *outs = oscar_value_map_get(info, "outputs");
	for (size_t i = 0; i < oscar_value_len(outs); i++) {
		const char *k = oscar_value_at_str(oscar_value_at(outs, i), 0);
		if (k != NULL && strcmp(k, key) == 0) {
			return (oscar_value_at(outs, i));
		}
	}
	return (NULL);
}

static uint64_t count_of(const char *key)
{
	const char   *keys[] = { key };
	uint64_t      n      = 99;
	oscar_error_t err;
	cr_assert_eq(oscar_lifecycle_counts(client, sup_addr, S, keys, 1, &n, 10000, &err), 0, "%s",
	    err.message);
	return (n);
}

// A submission that counts its outputs, waits for its end and asks for
// the wanted outputs gets, in one answer, the small values and where the
// large ones are; the graph is forgotten then (release), the counts are
// taken, and a later submission gives them back.
Test(tasks, a_submit_that_waits_gives_the_small_outputs_and_where_the_large_are)
{
	oscar_value_t *g    = oscar_value_new_array(3);
	oscar_value_t *list = oscar_value_new_array(2000);
	for (int i = 0; i < 2000; i++) {
		oscar_value_array_push(list, oscar_value_new_float(i % 2 == 0 ? 0.25 : 0.75));
	}
	add(g, "big", "triage", args1(list), 2, false);
	want_last(g);
	add(g, "small", "sum_all", args1(oscar_value_new_ref_output("big", 0)), 1, false);
	want_last(g);
	add(g, "unwanted", "inc", args1(oscar_value_new_int(1)), 1, false);
	const char            *incref[] = { "big#0", "big#1", "small", "unwanted" };
	oscar_graph_run_opts_t opts     = { .incref = incref,
		    .n_incref                       = 4,
		    .wait                           = true,
		    .wait_ms                        = 60000,
		    .outputs                        = true,
		    .release                        = true };
	char                   gid[OSCAR_GRAPH_ID_MAX];
	oscar_value_t         *info = NULL;
	oscar_error_t          err;
	cr_assert_eq(oscar_graph_submit_run(
	                 client, sup_addr, S, g, NULL, &opts, gid, sizeof(gid), 10000, &info, &err),
	    0, "%s", err.message);
	cr_assert_not_null(info, "the graph did not end within the wait");
	assert_status(info, "done");
	// The small output's value came with the answer, with its worker.
	const oscar_value_t *small = output_of(info, "small");
	cr_assert_not_null(small);
	const char *w = oscar_value_at_str(small, 1);
	cr_assert(w != NULL && (strcmp(w, oscar_node_address(w1)) == 0 ||
	                           strcmp(w, oscar_node_address(w2)) == 0));
	double sum;
	cr_assert_eq(oscar_value_len(oscar_value_at(small, 2)), 1);
	cr_assert_eq(oscar_value_get_float(oscar_value_at(oscar_value_at(small, 2), 0), &sum), 0);
	cr_assert_float_eq(sum, 250.0, 1e-9);
	// The large ones (2000 floats each half, over 4 KiB): where only.
	const oscar_value_t *big = output_of(info, "big");
	cr_assert_not_null(big);
	cr_assert_not_null(oscar_value_at_str(big, 1));
	cr_assert_eq(oscar_value_at(big, 2)->type, OSCAR_NIL);
	// Only the wanted tasks are listed.
	cr_assert_null(output_of(info, "unwanted"));
	cr_assert_eq(oscar_value_len(oscar_value_map_get(info, "outputs")), 2);
	oscar_value_free(info);
	// Released: the graph is gone; the counts were taken.
	cr_assert_eq(
	    oscar_graph_info(client, sup_addr, S, gid, NULL, 10000, &info, &err), OSCAR_ENOENT);
	cr_assert_eq(count_of("small"), 1);
	cr_assert_eq(count_of("big#1"), 1);
	cr_assert_eq(fetch_int("unwanted"), 2);
	// A later submission gives back what it names (decref), after its
	// own counts: "unwanted" is freed, "small" counted once more.
	g                     = oscar_value_new_array(1);
	const char *incref2[] = { "again" };
	const char *decref2[] = { "unwanted", "small" };
	add(g, "again", "inc", args1(oscar_value_new_int(5)), 1, false);
	oscar_graph_run_opts_t opts2 = {
		.incref = incref2, .n_incref = 1, .decref = decref2, .n_decref = 2
	};
	cr_assert_eq(oscar_graph_submit_run(client, sup_addr, S, g, NULL, &opts2, gid, sizeof(gid),
	                 10000, &info, &err),
	    0, "%s", err.message);
	cr_assert_null(info, "a submit without wait_ms gives no info");
	cr_assert_eq(
	    oscar_graph_wait_outputs(client, sup_addr, S, gid, 60000, NULL, 0, true, &info, &err),
	    0, "%s", err.message);
	assert_status(info, "done");
	cr_assert_eq(oscar_value_len(oscar_value_map_get(info, "outputs")), 0);
	oscar_value_free(info);
	cr_assert_eq(count_of("again"), 1);
	cr_assert_eq(count_of("small"), 0);
	cr_assert_eq(count_of("unwanted"), 0);
}

// A count that the lifecycle refuses fails the submission with its
// error, and the graph is deleted.
Test(tasks, a_refused_count_fails_the_submission_and_deletes_its_graph)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "c1", "sleep", args1(oscar_value_new_int(200)), 1, false);
	const char            *incref[] = { "" };
	oscar_graph_run_opts_t opts     = {
		    .incref = incref, .n_incref = 1, .wait = true, .wait_ms = 10000
	};
	oscar_error_t err;
	int           rv =
	    oscar_graph_submit_run(client, sup_addr, S, g, "gc", &opts, NULL, 0, 10000, NULL, &err);
	cr_assert_eq(rv, OSCAR_EBADARGS, "%s", err.message);
	cr_assert(strstr(err.message, "cannot count the outputs") != NULL, "%s", err.message);
	oscar_value_t *info = NULL;
	cr_assert_eq(
	    oscar_graph_info(client, sup_addr, S, "gc", NULL, 10000, &info, &err), OSCAR_ENOENT);
}

// after_crash checks a graph still runs on both slots.
static void assert_cluster_runs(void)
{
	oscar_value_t *g = oscar_value_new_array(4);
	for (int i = 0; i < 4; i++) {
		char key[16];
		snprintf(key, sizeof(key), "after-%d", i);
		add(g, key, "inc", args1(oscar_value_new_int(i)), 1, false);
	}
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(fetch_int("after-3"), 4);
}

Test(tasks, a_crashing_task_kills_only_its_slot)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "boom", "crash", args1(oscar_value_new_str("segv")), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "failed");
	const oscar_value_t *e = error_of(info);
	cr_assert_eq(
	    oscar_value_map_int(e, "signal", 0), SIGSEGV, "%s", oscar_value_map_str(e, "message"));
	cr_assert_str_eq(oscar_value_map_str(e, "key"), "boom");
	oscar_value_free(info);
	assert_cluster_runs();
}

Test(tasks, an_aborting_task_names_sigabrt)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "boom", "crash", args1(oscar_value_new_str("abort")), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "failed");
	cr_assert_eq(oscar_value_map_int(error_of(info), "signal", 0), SIGABRT);
	oscar_value_free(info);
	assert_cluster_runs();
}

static void assert_refused(oscar_value_t *g, int code, const char *needle)
{
	oscar_error_t err;
	int           rv = oscar_graph_submit(client, sup_addr, S, g, NULL, NULL, 0, 10000, &err);
	cr_assert_eq(rv, code, "%s: %s", oscar_strerror(rv), err.message);
	cr_assert(
	    strstr(err.message, needle) != NULL, "'%s' does not name %s", err.message, needle);
}

Test(tasks, bad_graphs_are_refused_naming_the_task)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "lonely", "nobody_offers_this", NULL, 1, false);
	assert_refused(g, OSCAR_ENOENT, "lonely");

	g = oscar_value_new_array(1);
	add(g, "orphan", "inc", args1(oscar_value_new_ref("nowhere")), 1, false);
	assert_refused(g, OSCAR_ENOENT, "orphan");

	g = oscar_value_new_array(2);
	add(g, "a", "inc", args1(oscar_value_new_ref("b")), 1, false);
	add(g, "b", "inc", args1(oscar_value_new_ref("a")), 1, false);
	assert_refused(g, OSCAR_EINVAL, "cycle");

	g = oscar_value_new_array(2);
	add(g, "twin", "inc", args1(oscar_value_new_int(1)), 1, false);
	add(g, "twin", "inc", args1(oscar_value_new_int(2)), 1, false);
	assert_refused(g, OSCAR_EEXIST, "twin");

	g = oscar_value_new_array(2);
	add(g, "one", "inc", args1(oscar_value_new_int(1)), 1, false);
	add(g, "two", "inc", args1(oscar_value_new_ref_output("one", 3)), 1, false);
	assert_refused(g, OSCAR_EINVAL, "two");

	// The array form of a task ([key, fn, args, n_output, pure, want]) is
	// checked as a map is: no fn, and a task that is neither.
	g                   = oscar_value_new_array(1);
	oscar_value_t *bare = oscar_value_new_array(1);
	oscar_value_array_push(bare, oscar_value_new_str("fnless"));
	oscar_value_array_push(g, bare);
	assert_refused(g, OSCAR_EINVAL, "fnless");

	g = oscar_value_new_array(1);
	oscar_value_array_push(g, oscar_value_new_int(7));
	assert_refused(g, OSCAR_EINVAL, "neither a map nor an array");

	// Nothing ran: the session has no graph.
	oscar_value_t *ids;
	oscar_error_t  err;
	cr_assert_eq(oscar_graph_list(client, sup_addr, S, 5000, &ids, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_len(ids), 0);
	oscar_value_free(ids);
}

// A graph of tasks in the array form runs as one of maps: n_output and
// the args taken from their places, the items after them optional.
Test(tasks, tasks_as_arrays_run)
{
	oscar_value_t *g = oscar_value_new_array(2);
	oscar_value_t *a = oscar_value_new_array(3);
	oscar_value_array_push(a, oscar_value_new_str("arr-a"));
	oscar_value_array_push(a, oscar_value_new_str("inc"));
	oscar_value_array_push(a, args1(oscar_value_new_int(40)));
	oscar_value_array_push(g, a);
	oscar_value_t *b = oscar_value_new_array(6);
	oscar_value_array_push(b, oscar_value_new_str("arr-b"));
	oscar_value_array_push(b, oscar_value_new_str("inc"));
	oscar_value_array_push(b, args1(oscar_value_new_ref("arr-a")));
	oscar_value_array_push(b, oscar_value_new_uint(1));
	oscar_value_array_push(b, oscar_value_new_bool(false));
	oscar_value_array_push(b, oscar_value_new_bool(false));
	oscar_value_array_push(g, b);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(fetch_int("arr-b"), 42);
}

// ---------------------------------------------------------------------------
// Wait, cancel, kill, delete, list

Test(tasks, a_wait_times_out_and_the_graph_runs_on_then_cancel_stops_it)
{
	char           gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	oscar_value_t *g    = oscar_value_new_array(2);
	add(g, "slow", "sleep", args1(oscar_value_new_int(60000)), 1, false);
	add(g, "after", "inc", args1(oscar_value_new_ref("slow")), 1, false);
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, S, g, "g-slow", gid, sizeof(gid), 10000, &err), 0,
	    "%s", err.message);
	cr_assert_str_eq(gid, "g-slow");
	cr_assert_eq(oscar_graph_wait(client, sup_addr, S, gid, 300, &info, &err), OSCAR_ETIMEDOUT);
	const char *fields[] = { "status", NULL };
	cr_assert_eq(oscar_graph_info(client, sup_addr, S, gid, fields, 5000, &info, &err), 0);
	cr_assert_str_eq(oscar_value_map_str(info, "status"), "running");
	cr_assert_null(
	    oscar_value_map_get(info, "n_tasks"), "the field filter let n_tasks through");
	oscar_value_free(info);
	cr_assert_eq(
	    oscar_graph_cancel(client, sup_addr, S, gid, 5000, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_graph_wait(client, sup_addr, S, gid, 10000, &info, &err), 0);
	assert_status(info, "cancelled");
	oscar_value_free(info);
	// The sleeping task saw its flag and its slot is free again.
	assert_cluster_runs();
	oscar_value_t *ids;
	cr_assert_eq(oscar_graph_list(client, sup_addr, S, 5000, &ids, &err), 0);
	cr_assert_eq(oscar_value_len(ids), 2);
	oscar_value_free(ids);
	cr_assert_eq(oscar_graph_delete(client, sup_addr, S, gid, 5000, &err), 0);
	cr_assert_eq(
	    oscar_graph_info(client, sup_addr, S, gid, NULL, 5000, &info, &err), OSCAR_ENOENT);
}

// await_running polls graph gid's info until one of its tasks runs,
// failing the test if none has started after 500 polls of 20 ms.
static void await_running(const char *gid)
{
	oscar_error_t  err;
	oscar_value_t *info    = NULL;
	uint64_t       running = 0;
	for (int i = 0; i < 500 && running == 0; i++) {
		cr_assert_eq(
		    oscar_graph_info(client, sup_addr, S, gid, NULL, 5000, &info, &err), 0);
		running = oscar_value_map_uint(oscar_value_map_get(info, "counts"), "running", 0);
		oscar_value_free(info);
		if (running == 0) {
			cr_assert_eq(oscar_graph_wait(client, sup_addr, S, gid, 20, NULL, &err),
			    OSCAR_ETIMEDOUT);
		}
	}
	cr_assert_eq(running, 1, "the task never started");
}

Test(tasks, a_task_that_ignores_its_flag_is_killed_and_its_slot_recovers)
{
	char           gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	oscar_value_t *g    = oscar_value_new_array(1);
	add(g, "forever", "spin", NULL, 1, false);
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, S, g, NULL, gid, sizeof(gid), 10000, &err), 0,
	    "%s", err.message);
	// It runs: started on a worker.
	await_running(gid);
	cr_assert_eq(oscar_graph_cancel(client, sup_addr, S, gid, 5000, &err), 0);
	// Both slots come back: the killed one recovers (task.kill_timeout is
	// 300 ms here).
	for (int i = 0; i < 2; i++) {
		assert_cluster_runs();
	}
	oscar_value_t *g2 = oscar_value_new_array(2);
	add(g2, "x", "sleep", args1(oscar_value_new_int(200)), 1, false);
	add(g2, "y", "sleep", args1(oscar_value_new_int(200)), 1, false);
	info = run(g2);
	assert_status(info, "done");
	oscar_value_free(info);
}

// slot_pid gives the pid of the process of node's sub pool index (0 while
// it is down).
static int64_t slot_pid(oscar_node_t *node, unsigned index)
{
	oscar_sub_pool_info_t info[4];
	size_t                n = 0;
	cr_assert_eq(oscar_pool_sub_pools(oscar_node_pool(node), info, 4, &n, 5000), 0);
	for (size_t i = 0; i < n && i < 4; i++) {
		if (info[i].index == index && info[i].alive) {
			return (info[i].pid);
		}
	}
	return (0);
}

Test(tasks, a_slot_killed_from_outside_fails_its_task_and_comes_back, .init = setup_one_slot)
{
	char           gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	oscar_value_t *g    = oscar_value_new_array(2);
	add(g, "victim", "sleep", args1(oscar_value_new_int(60000)), 1, false);
	add(g, "after", "inc", args1(oscar_value_new_ref("victim")), 1, false);
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, S, g, NULL, gid, sizeof(gid), 10000, &err), 0,
	    "%s", err.message);
	// It runs, in the cluster's only slot.
	await_running(gid);
	int64_t pid = slot_pid(w1, 0);
	cr_assert_gt(pid, 0);
	cr_assert_eq(kill((pid_t) pid, SIGKILL), 0);
	cr_assert_eq(
	    oscar_graph_wait(client, sup_addr, S, gid, 30000, &info, &err), 0, "%s", err.message);
	assert_status(info, "failed");
	const oscar_value_t *e   = error_of(info);
	const char          *msg = oscar_value_map_str(e, "message");
	cr_assert_eq(oscar_value_map_int(e, "signal", 0), SIGKILL, "%s", msg);
	cr_assert_eq(oscar_value_map_int(e, "code", 0), OSCAR_ESYSTEM, "%s", msg);
	cr_assert_str_eq(oscar_value_map_str(e, "key"), "victim");
	cr_assert_str_eq(oscar_value_map_str(e, "fn"), "sleep");
	cr_assert(strstr(msg, "victim") != NULL && strstr(msg, "signal 9") != NULL, "%s", msg);
	// Its dependent never ran.
	const oscar_value_t *counts = oscar_value_map_get(info, "counts");
	cr_assert_eq(oscar_value_map_uint(counts, "done", 99), 0);
	cr_assert_eq(oscar_value_map_uint(counts, "failed", 0) +
	                 oscar_value_map_uint(counts, "cancelled", 0),
	    2);
	oscar_value_free(info);
	// The worker made the slot again, in a new process, and runs the
	// next graph there.
	oscar_value_t *g2 = oscar_value_new_array(2);
	add(g2, "next", "inc", args1(oscar_value_new_int(1)), 1, false);
	add(g2, "then", "inc", args1(oscar_value_new_ref("next")), 1, false);
	info = run(g2);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(fetch_int("then"), 3);
	int64_t again = slot_pid(w1, 0);
	cr_assert(again > 0 && again != pid, "the slot's process is %lld, was %lld",
	    (long long) again, (long long) pid);
}

Test(tasks, a_pure_task_already_stored_is_reused)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "p", "inc", args1(oscar_value_new_int(41)), 1, true);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	cr_assert_eq(oscar_value_map_uint(info, "reused", 9), 0);
	oscar_value_free(info);
	g = oscar_value_new_array(2);
	add(g, "p", "inc", args1(oscar_value_new_int(41)), 1, true);
	add(g, "q", "inc", args1(oscar_value_new_ref("p")), 1, false);
	info = run(g);
	assert_status(info, "done");
	cr_assert_eq(oscar_value_map_uint(info, "reused", 0), 1);
	oscar_value_free(info);
	cr_assert_eq(fetch_int("q"), 43);
}

Test(tasks, an_impure_task_runs_every_time)
{
	for (int i = 0; i < 2; i++) {
		oscar_value_t *g = oscar_value_new_array(1);
		add(g, "again", "inc", args1(oscar_value_new_int(i)), 1, false);
		oscar_value_t *info = run(g);
		assert_status(info, "done");
		cr_assert_eq(oscar_value_map_uint(info, "reused", 9), 0);
		oscar_value_free(info);
		cr_assert_eq(fetch_int("again"), i + 1);
	}
}

Test(tasks, two_sessions_do_not_see_each_others_keys)
{
	oscar_error_t err;
	cr_assert_eq(oscar_sessions_create(client, sup_addr, "s2", false, NULL, NULL, 10000, &err),
	    0, "%s", err.message);
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "k", "inc", args1(oscar_value_new_int(1)), 1, false);
	oscar_value_t *h = oscar_value_new_array(1);
	add(h, "k", "inc", args1(oscar_value_new_int(100)), 1, false);
	oscar_value_t *i1 = run_in(S, g, NULL);
	oscar_value_t *i2 = run_in("s2", h, NULL);
	assert_status(i1, "done");
	assert_status(i2, "done");
	oscar_value_free(i1);
	oscar_value_free(i2);
	oscar_value_t *a = fetch_in(S, "k"), *b = fetch_in("s2", "k");
	int64_t        x, y;
	cr_assert_eq(oscar_value_get_int(a, &x), 0);
	cr_assert_eq(oscar_value_get_int(b, &y), 0);
	cr_assert_eq(x, 2);
	cr_assert_eq(y, 101);
	oscar_value_free(a);
	oscar_value_free(b);
	// A reference to s1's key from s2 finds nothing there.
	g = oscar_value_new_array(1);
	add(g, "peek", "inc", args1(oscar_value_new_ref("only-in-s1")), 1, false);
	cr_assert_eq(oscar_graph_submit(client, sup_addr, "s2", g, NULL, NULL, 0, 10000, &err),
	    OSCAR_ENOENT);
}

// ---------------------------------------------------------------------------
// What a peer should not send

Test(tasks, malformed_messages_are_refused_and_change_nothing)
{
	oscar_ref_t    exe, mgr;
	oscar_error_t  err;
	oscar_value_t *m = oscar_value_new_map(2);
	cr_assert_eq(oscar_ref_make(&exe, oscar_node_address(w1), "oscar.executor"), 0);
	cr_assert_eq(oscar_ref_make(&mgr, sup_addr, "oscar.task:s1"), 0);
	// An executor's run without tasks, and with a task that is no task.
	oscar_value_map_set(m, "session", oscar_value_new_str(S));
	cr_assert_eq(oscar_call(client, &exe, "run", m, 5000, NULL, &err), OSCAR_EBADARGS);
	m = oscar_value_new_map(2);
	oscar_value_map_set(m, "session", oscar_value_new_str(S));
	oscar_value_map_set(m, "tasks", args1(oscar_value_new_str("not a task")));
	cr_assert_eq(oscar_call(client, &exe, "run", m, 5000, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_call(client, &exe, "run", oscar_value_new_int(3), 5000, NULL, &err),
	    OSCAR_EBADARGS);
	// A manager's report from nobody, and a submit of no graph.
	m = oscar_value_new_map(2);
	oscar_value_map_set(m, "worker", oscar_value_new_str("tcp://127.0.0.1:1"));
	oscar_value_map_set(
	    m, "reports", args1(args2(oscar_value_new_str("k"), oscar_value_new_str("finished"))));
	cr_assert_eq(oscar_call(client, &mgr, "report", m, 5000, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_call(client, &mgr, "report", oscar_value_new_map(0), 5000, NULL, &err),
	    OSCAR_EBADARGS);
	m = oscar_value_new_map(1);
	oscar_value_map_set(m, "graph", oscar_value_new_str("no"));
	cr_assert_eq(oscar_call(client, &mgr, "submit", m, 5000, NULL, &err), OSCAR_EBADARGS);
	// The cluster runs on.
	assert_cluster_runs();
}

// ---------------------------------------------------------------------------
// Nested submission

// assert_one_to_ten checks that v is the list 1..10 (seed 001's driver).
static void assert_one_to_ten(const char *key)
{
	oscar_value_t *v = fetch_in(S, key);
	cr_assert_eq(oscar_value_len(v), 10);
	for (size_t i = 0; i < 10; i++) {
		int64_t x;
		cr_assert_eq(oscar_value_get_int(oscar_value_at(v, i), &x), 0);
		cr_assert_eq(x, (int64_t) i + 1);
	}
	oscar_value_free(v);
}

Test(tasks, the_driver_submits_ten_incs_and_gives_one_to_ten)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "driver", "driver", NULL, 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	assert_one_to_ten("driver");
}

Test(tasks, nested_two_levels_deep_with_one_slot_in_the_cluster, .init = setup_one_slot)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "top", "driver", args2(oscar_value_new_int(10), oscar_value_new_int(2)), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	assert_one_to_ten("top");
	// The inner drivers ran in the same session, under keys of their own.
	assert_one_to_ten("top/d");
	assert_one_to_ten("top/d/d");
}

// ---------------------------------------------------------------------------
// Locality

// put_on stores value (consumed) as object key of session S on worker
// w's storage, and tells meta it is there.
static void put_on(oscar_node_t *w, const char *key, oscar_value_t *value)
{
	oscar_ref_t    ref;
	oscar_error_t  err;
	oscar_value_t *out  = NULL;
	oscar_value_t *q    = oscar_value_new_map(2);
	oscar_value_t *item = args2(oscar_value_new_str(key), value);
	cr_assert_eq(oscar_ref_make(&ref, oscar_node_address(w), "oscar.storage"), 0);
	oscar_value_map_set(q, "session", oscar_value_new_str(S));
	oscar_value_map_set(q, "items", args1(item));
	cr_assert_eq(oscar_call(client, &ref, "put", q, 10000, &out, &err), 0, "%s", err.message);
	uint64_t size = oscar_value_at_uint(out, 0, 0);
	oscar_value_free(out);
	cr_assert_gt(size, 0);
	oscar_value_t *loc = args1(oscar_value_new_str(key));
	oscar_value_array_push(loc, oscar_value_new_str(oscar_node_address(w)));
	oscar_value_array_push(loc, oscar_value_new_uint(size));
	cr_assert_eq(oscar_meta_add_location(client, sup_addr, S, args1(loc), 10000, &err), 0, "%s",
	    err.message);
}

// assert_only_on asserts that meta says object key is held by w alone:
// the task that made it ran there, and no other worker pulled it.
static void assert_only_on(const char *key, oscar_node_t *w)
{
	oscar_value_t *entries;
	oscar_error_t  err;
	const char    *keys[]   = { key, NULL };
	const char    *fields[] = { "workers", NULL };
	cr_assert_eq(
	    oscar_meta_get(client, sup_addr, S, keys, 1, fields, false, 10000, &entries, &err), 0,
	    "%s", err.message);
	const oscar_value_t *workers = oscar_value_map_get(oscar_value_at(entries, 0), "workers");
	cr_assert_eq(
	    oscar_value_len(workers), 1, "%s is on %zu workers", key, oscar_value_len(workers));
	cr_assert_str_eq(oscar_value_at_str(workers, 0), oscar_node_address(w),
	    "%s is on %s, not on %s", key, oscar_value_at_str(workers, 0), oscar_node_address(w));
	oscar_value_free(entries);
}

// A task goes where its large input is: a big list stored on the second
// worker draws a task that holds one of its two slots; while it holds, a
// sum of the list goes there too although the first worker, with both
// slots free, is less loaded, and a chain from that sum, in a later
// graph, stays there.
Test(tasks, a_task_runs_where_its_large_input_is_and_chains_stay_there, .init = setup_two_slots)
{
	oscar_value_t *big = oscar_value_new_array(20000);
	for (int i = 0; i < 20000; i++) {
		oscar_value_array_push(big, oscar_value_new_int(i));
	}
	put_on(w2, "big", big);
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "busy", "hold", args1(oscar_value_new_ref("big")), 1, false);
	char          hold[OSCAR_GRAPH_ID_MAX];
	oscar_error_t err;
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, S, g, NULL, hold, sizeof(hold), 10000, &err), 0,
	    "%s", err.message);
	// The second worker holds "busy" now (the submission placed it), the
	// first holds nothing: the least loaded worker is the first.
	g = oscar_value_new_array(1);
	add(g, "total", "sum", oscar_value_new_ref("big"), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(fetch_int("total"), (int64_t) 20000 * 19999 / 2);
	assert_only_on("total", w2);
	g = oscar_value_new_array(3);
	add(g, "c1", "inc", args1(oscar_value_new_ref("total")), 1, false);
	add(g, "c2", "inc", args1(oscar_value_new_ref("c1")), 1, false);
	add(g, "c3", "inc", args1(oscar_value_new_ref("c2")), 1, false);
	info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(fetch_int("c3"), (int64_t) 20000 * 19999 / 2 + 3);
	assert_only_on("c1", w2);
	assert_only_on("c2", w2);
	assert_only_on("c3", w2);
	cr_assert_eq(
	    oscar_graph_cancel(client, sup_addr, S, hold, 10000, &err), 0, "%s", err.message);
	// The held task ran on the second worker: it was placed by its input
	// too, and nothing pulled the list to the first worker.
	assert_only_on("big", w2);
}

// worker_of gives the address of the one worker that meta says holds
// object key (the worker that ran the task that made it).
static char *worker_of(const char *key)
{
	oscar_value_t *entries;
	oscar_error_t  err;
	const char    *keys[]   = { key, NULL };
	const char    *fields[] = { "workers", NULL };
	cr_assert_eq(
	    oscar_meta_get(client, sup_addr, S, keys, 1, fields, false, 10000, &entries, &err), 0,
	    "%s", err.message);
	const oscar_value_t *workers = oscar_value_map_get(oscar_value_at(entries, 0), "workers");
	cr_assert_eq(
	    oscar_value_len(workers), 1, "%s is on %zu workers", key, oscar_value_len(workers));
	char *addr = strdup(oscar_value_at_str(workers, 0));
	oscar_value_free(entries);
	return (addr);
}

// With the default, automatic queue, tiny tasks grow both workers' room
// well beyond their slot; long tasks after them still spread over both
// workers rather than pile on one: four tasks of 200 ms on two workers
// of one slot each run on both.
Test(tasks, long_tasks_after_short_ones_run_on_both_workers)
{
	oscar_value_t *g = oscar_value_new_array(500);
	for (int i = 0; i < 500; i++) {
		char key[16];
		snprintf(key, sizeof(key), "tiny-%d", i);
		add(g, key, "inc", args1(oscar_value_new_int(i)), 1, false);
	}
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	g = oscar_value_new_array(4);
	for (int i = 0; i < 4; i++) {
		char key[16];
		snprintf(key, sizeof(key), "long-%d", i);
		add(g, key, "sleep", args1(oscar_value_new_int(200)), 1, false);
	}
	info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	size_t on1 = 0, on2 = 0;
	for (int i = 0; i < 4; i++) {
		char key[16];
		snprintf(key, sizeof(key), "long-%d", i);
		char *addr = worker_of(key);
		on1 += strcmp(addr, oscar_node_address(w1)) == 0;
		on2 += strcmp(addr, oscar_node_address(w2)) == 0;
		free(addr);
	}
	cr_assert_eq(on1 + on2, 4);
	cr_assert_gt(on1, 0, "no long task ran on the first worker");
	cr_assert_gt(on2, 0, "no long task ran on the second worker");
}

// assert_setting_refused starts a supervisor with [task] key set to each of
// bad[0..n) and asserts each is refused with EINVAL and a message that
// contains needle.
static void assert_setting_refused(
    const char *key, const char *needle, const char *const *bad, size_t n)
{
	oscar_registry_t *r = make_registry();
	cr_assert_not_null(r);
	for (size_t i = 0; i < n; i++) {
		oscar_settings_t *s;
		oscar_node_t     *node = NULL;
		oscar_error_t     err;
		cr_assert_eq(oscar_settings_new(&s), 0);
		oscar_settings_set(s, "node", "listen", "tcp://127.0.0.1:0");
		oscar_settings_set(s, "task", key, bad[i]);
		int rv = oscar_node_start(&node, OSCAR_ROLE_SUPERVISOR, s, r, &err);
		oscar_settings_free(&s);
		cr_assert_eq(rv, OSCAR_EINVAL, "%s \"%s\" gave %d", key, bad[i], rv);
		cr_assert_null(node);
		cr_assert(strstr(err.message, needle) != NULL, "%s", err.message);
	}
	oscar_registry_free(&r);
}

// [task] queue is auto or a number from 0 to 65536: a node given anything
// else does not start, and says which setting is wrong.
Test(task_settings, a_bad_queue_setting_is_refused)
{
	const char *const bad[] = { "many", "-1", "65537", "12x", "" };
	assert_setting_refused("queue", "[task] queue", bad, sizeof(bad) / sizeof(bad[0]));
}

// The program is also the workers' sub pool program.
int main(int argc, char *argv[])
{
	return (tests_main(argc, argv, make_registry));
}

// ---------------------------------------------------------------------------
// Large values through shared memory between a worker and its slots

// BIG is above the tests' [task] shm_threshold (256 KiB), and odd.
#define BIG ((size_t) (3 << 20) + 5)

// bin_hash gives the fnv64 of the bin mkbin([n, seed]) makes, inverted
// when flip.
static uint64_t bin_hash(size_t n, int64_t seed, bool flip)
{
	unsigned char *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < n; i++) {
		buf[i] = flip ? (unsigned char) ~bin_byte(seed, i) : bin_byte(seed, i);
	}
	uint64_t h = fnv64(buf, n);
	free(buf);
	return (h);
}

static oscar_value_t *bin_of(size_t n, int64_t seed)
{
	unsigned char *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < n; i++) {
		buf[i] = bin_byte(seed, i);
	}
	oscar_value_t *v = oscar_value_new_bin(buf, n);
	free(buf);
	cr_assert_not_null(v);
	return (v);
}

// assert_binsum asserts that object key (a binsum) is [n, hash].
static void assert_binsum(const char *key, size_t n, uint64_t hash)
{
	oscar_value_t *v = fetch_in(S, key);
	cr_assert_eq(oscar_value_at_uint(v, 0, 0), n, "%s: a length of %llu, not %zu", key,
	    (unsigned long long) oscar_value_at_uint(v, 0, 0), n);
	cr_assert_eq(oscar_value_at_uint(v, 1, 0), hash, "%s: not the bytes expected", key);
	oscar_value_free(v);
}

// assert_bin asserts that object key is the bin of n bytes whose fnv64 is
// hash.
static void assert_bin(const char *key, size_t n, uint64_t hash)
{
	oscar_value_t *v = fetch_in(S, key);
	const void    *p;
	size_t         len;
	cr_assert_eq(oscar_value_get_bin(v, &p, &len), 0, "%s is not a bin", key);
	cr_assert_eq(len, n, "%s: %zu bytes, not %zu", key, len, n);
	cr_assert_eq(fnv64(p, len), hash, "%s: not the bytes expected", key);
	oscar_value_free(v);
}

// storage_of gives the storage figures of the worker at addr.
static oscar_storage_info_t storage_of(const char *addr)
{
	oscar_storage_info_t info;
	oscar_error_t        err;
	cr_assert_eq(oscar_storage_info(client, addr, &info, 10000, &err), 0, "%s", err.message);
	return (info);
}

// A task whose input is above the threshold gets the right bytes: the
// slot maps the object from the node's storage (which made a shared
// segment of it: its shared bytes grew) instead of receiving it in the
// run message.
Test(tasks, a_large_input_is_mapped_by_the_slot)
{
	put_on(w1, "big", bin_of(BIG, 5));
	cr_assert_eq(storage_of(oscar_node_address(w1)).shared, 0);
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "sum", "binsum", args1(oscar_value_new_ref("big")), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	assert_binsum("sum", BIG, bin_hash(BIG, 5, false));
	char *addr = worker_of("sum");
	cr_assert_geq(storage_of(addr).shared, BIG, "the input was not shared with the slot");
	free(addr);
}

// A task returning a large output hands it to the node's storage itself
// (a segment the storage adopts: its shared bytes count it); meta knows
// where it is and its size, and a fetch gets the right bytes.
Test(tasks, a_large_output_is_handed_over_by_the_slot)
{
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "out", "mkbin", args2(oscar_value_new_int((int64_t) BIG), oscar_value_new_int(9)), 1,
	    false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	char *addr = worker_of("out");
	cr_assert_geq(
	    storage_of(addr).shared, BIG, "the output did not come through shared memory");
	free(addr);
	assert_bin("out", BIG, bin_hash(BIG, 9, false));
	oscar_value_t *entries;
	oscar_error_t  err;
	const char    *keys[]   = { "out", NULL };
	const char    *fields[] = { "size", NULL };
	cr_assert_eq(
	    oscar_meta_get(client, sup_addr, S, keys, 1, fields, false, 10000, &entries, &err), 0,
	    "%s", err.message);
	cr_assert_gt(oscar_value_map_uint(oscar_value_at(entries, 0), "size", 0), BIG);
	oscar_value_free(entries);
}

// A chain large -> large -> small: each link's large output goes to
// storage through shared memory, and the next link maps it.
Test(tasks, a_chain_of_large_values)
{
	oscar_value_t *g = oscar_value_new_array(3);
	add(g, "a", "mkbin", args2(oscar_value_new_int((int64_t) BIG), oscar_value_new_int(3)), 1,
	    false);
	add(g, "b", "binflip", args1(oscar_value_new_ref("a")), 1, false);
	add(g, "c", "binsum", args1(oscar_value_new_ref("b")), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	assert_binsum("c", BIG, bin_hash(BIG, 3, true));
	assert_bin("a", BIG, bin_hash(BIG, 3, false));
	assert_bin("b", BIG, bin_hash(BIG, 3, true));
}

// dev_shm_entries counts the entries of /dev/shm, leaving out the test
// framework's own (bxfi_<pid>).
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

// A slot that crashes while its task holds a mapped input: the task fails
// with the signal, the object is intact for the next task, and once the
// node stops nothing is left in /dev/shm.
Test(tasks, a_slot_crashing_with_a_mapped_input_leaves_nothing, .init = setup_one_slot)
{
	int before = dev_shm_entries();
	put_on(w1, "big", bin_of(BIG, 7));
	oscar_value_t *g = oscar_value_new_array(1);
	add(g, "boom", "bincrash", args1(oscar_value_new_ref("big")), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "failed");
	const oscar_value_t *e = error_of(info);
	cr_assert_eq(
	    oscar_value_map_int(e, "signal", 0), SIGABRT, "%s", oscar_value_map_str(e, "message"));
	cr_assert_str_eq(oscar_value_map_str(e, "key"), "boom");
	oscar_value_free(info);
	g = oscar_value_new_array(1);
	add(g, "sum", "binsum", args1(oscar_value_new_ref("big")), 1, false);
	info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	assert_binsum("sum", BIG, bin_hash(BIG, 7, false));
	oscar_node_stop(&w1);
	cr_assert_leq(dev_shm_entries(), before, "the node left entries in /dev/shm");
}

// A large output of a task whose graph was cancelled while it ran: the
// slot hands it over all the same, and deleting the session leaves both
// workers holding nothing, shared memory included.
Test(tasks, a_large_output_of_a_cancelled_graph_leaves_nothing_behind, .init = setup_patient)
{
	char           gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	oscar_value_t *g    = oscar_value_new_array(2);
	add(g, "late", "mkbin_late",
	    args2(oscar_value_new_int((int64_t) BIG), oscar_value_new_int(1)), 1, false);
	add(g, "after", "binsum", args1(oscar_value_new_ref("late")), 1, false);
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, S, g, NULL, gid, sizeof(gid), 10000, &err), 0,
	    "%s", err.message);
	await_running(gid);
	cr_assert_eq(
	    oscar_graph_cancel(client, sup_addr, S, gid, 10000, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_graph_wait(client, sup_addr, S, gid, 30000, &info, &err), 0, "%s", err.message);
	assert_status(info, "cancelled");
	oscar_value_free(info);
	// The slot makes the bin once it sees its flag and hands it over; the
	// executor may delete it before a poll here could see it, so what is
	// asserted is the end: nothing is left once the session is deleted.
	// The slots run the next graph.
	g = oscar_value_new_array(1);
	add(g, "next", "inc", args1(oscar_value_new_int(1)), 1, false);
	info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	cr_assert_eq(
	    oscar_sessions_delete(client, sup_addr, S, false, 10000, &err), 0, "%s", err.message);
	oscar_node_t *ws[] = { w1, w2 };
	for (int i = 0; i < 2; i++) {
		oscar_storage_info_t st = storage_of(oscar_node_address(ws[i]));
		cr_assert_eq(st.objects, 0, "worker %d holds %llu objects", i,
		    (unsigned long long) st.objects);
		cr_assert_eq(st.shared, 0, "worker %d holds %llu shared bytes", i,
		    (unsigned long long) st.shared);
	}
}

// slot_run calls the slot runner of w's sub pool 0 directly with one
// task [key, fn, args, 1] of session S (as the executor would) and gives
// the task's reported run time, in microseconds.
static uint64_t slot_run(oscar_node_t *w, const char *key, const char *fn, oscar_value_t *args)
{
	oscar_sub_pool_info_t sp[4];
	size_t                n = 0;
	oscar_ref_t           ref;
	oscar_error_t         err;
	oscar_value_t        *out = NULL;
	cr_assert_eq(oscar_pool_sub_pools(oscar_node_pool(w), sp, 4, &n, 5000), 0);
	cr_assert_geq(n, 1);
	cr_assert_eq(oscar_ref_make(&ref, sp[0].address, "oscar.slot"), 0);
	oscar_value_t *task = oscar_value_new_array(4);
	oscar_value_array_push(task, oscar_value_new_str(key));
	oscar_value_array_push(task, oscar_value_new_str(fn));
	oscar_value_array_push(task, args);
	oscar_value_array_push(task, oscar_value_new_uint(1));
	oscar_value_t *m = oscar_value_new_map(6);
	oscar_value_map_set(m, "session", oscar_value_new_str(S));
	oscar_value_map_set(m, "supervisor", oscar_value_new_str(sup_addr));
	oscar_value_map_set(m, "executor", oscar_value_new_str(oscar_node_address(w)));
	oscar_value_map_set(m, "slot", oscar_value_new_uint(0));
	oscar_value_map_set(m, "batch", oscar_value_new_uint(UINT64_C(1) << 40));
	oscar_value_map_set(m, "tasks", args1(task));
	// Through the worker's own pool, which its sub pools answer.
	cr_assert_eq(oscar_call(oscar_node_pool(w), &ref, "run", m, 60000, &out, &err), 0, "%s",
	    err.message);
	const oscar_value_t *r = oscar_value_at(out, 0);
	cr_assert(r != NULL && r->type == OSCAR_ARRAY && oscar_value_len(r) == 2,
	    "task %s failed in its slot: %s", key,
	    r != NULL && r->type == OSCAR_MAP ? oscar_value_map_str(r, "message") : "?");
	uint64_t us = oscar_value_at_uint(r, 1, UINT64_MAX);
	oscar_value_free(out);
	return (us);
}

// The run time a slot reports (which sizes its worker's automatic queue)
// is the function's own work: a task that waits for a nested sleep of
// 500 ms reports less than that, while a task that sleeps 100 ms itself
// reports at least its sleep.
Test(tasks, the_run_time_leaves_out_waits_for_nested_work)
{
	uint64_t own = slot_run(w1, "slept", "sleep", args1(oscar_value_new_int(100)));
	cr_assert_geq(own, 100000, "a sleep of 100 ms reported %llu us", (unsigned long long) own);
	uint64_t nested = slot_run(w1, "waited", "nestsleep", args1(oscar_value_new_int(500)));
	cr_assert_lt(nested, 500000, "a wait of 500 ms for nested work was counted: %llu us",
	    (unsigned long long) nested);
	// The nested sleep did run.
	cr_assert_eq(fetch_int("waited/s"), 500);
}

// With shm_threshold 0, large values travel in the messages, as small
// ones do: the same chain gives the same bytes, and no worker made a
// shared segment.
Test(tasks, with_no_shared_memory_large_values_travel_in_messages, .init = setup_no_shm)
{
	oscar_value_t *g = oscar_value_new_array(3);
	add(g, "a", "mkbin", args2(oscar_value_new_int((int64_t) BIG), oscar_value_new_int(4)), 1,
	    false);
	add(g, "b", "binflip", args1(oscar_value_new_ref("a")), 1, false);
	add(g, "c", "binsum", args1(oscar_value_new_ref("b")), 1, false);
	oscar_value_t *info = run(g);
	assert_status(info, "done");
	oscar_value_free(info);
	assert_binsum("c", BIG, bin_hash(BIG, 4, true));
	assert_bin("b", BIG, bin_hash(BIG, 4, true));
	cr_assert_eq(storage_of(oscar_node_address(w1)).shared, 0);
	cr_assert_eq(storage_of(oscar_node_address(w2)).shared, 0);
}

// [task] shm_threshold is a size from 0 to 1 TiB: anything else stops
// the node, naming the setting.
Test(task_settings, a_bad_shm_threshold_is_refused)
{
	const char *const bad[] = { "-1", "lots", "2T" };
	assert_setting_refused("shm_threshold", "shm_threshold", bad, sizeof(bad) / sizeof(bad[0]));
}
