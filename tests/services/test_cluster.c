// The cluster service's bounds, with nodes in the test process: the node
// registry (cluster.max_nodes), parked waits (100,000 of them leave the
// supervisor answering; cluster.max_waits, cluster.wait_timeout_max), and
// a stop that must tell thousands of unreachable workers it goes away.
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oscar/oscar.h"
#include "tests/common/pools.h"

#define DEADLINE_MS 60000

static void init(void)
{
	oscar_log_setup("error", NULL);
}

TestSuite(cluster, .init = init, .timeout = 300);

static oscar_node_t *start_supervisor(const char *const *kv)
{
	oscar_settings_t *s;
	oscar_node_t     *sup;
	oscar_error_t     err;
	oscar_settings_new(&s);
	// The cluster service alone: the bounds below count every parked
	// watch, and the session service parks one of its own.
	oscar_settings_set(s, "node", "services", "cluster");
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		oscar_settings_set(s, "cluster", kv[i], kv[i + 1]);
	}
	cr_assert_eq(
	    oscar_node_start(&sup, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), 0, "%s", err.message);
	oscar_settings_free(&s);
	return (sup);
}

static oscar_pool_t *client_pool(void)
{
	return (pool_open_at("tcp://127.0.0.1:0"));
}

// forge_register registers a worker that does not exist, at address.
static int forge_register(
    oscar_pool_t *pool, const char *sup, const char *address, oscar_error_t *err)
{
	oscar_ref_t    ref;
	oscar_value_t *info = oscar_value_new_map(2);
	oscar_value_map_set(info, "address", oscar_value_new_str(address));
	oscar_value_map_set(info, "pid", oscar_value_new_int(1));
	oscar_ref_make(&ref, sup, OSCAR_CLUSTER_UID);
	return (oscar_call(pool, &ref, "register", info, 10000, NULL, err));
}

// stop_within stops *nodep on another thread and asserts that the stop
// ends before DEADLINE_MS (a hung stop would otherwise hang the test).
typedef struct stopper {
	oscar_node_t   *node;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            done;
} stopper_t;

static void *stop_thread(void *arg)
{
	stopper_t *st = arg;
	oscar_node_stop(&st->node);
	pthread_mutex_lock(&st->mu);
	st->done = true;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return (NULL);
}

static void stop_within(oscar_node_t **nodep)
{
	stopper_t st = { .node = *nodep, .done = false };
	pthread_t t;
	pthread_mutex_init(&st.mu, NULL);
	pthread_cond_init(&st.cv, NULL);
	cr_assert_eq(pthread_create(&t, NULL, stop_thread, &st), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DEADLINE_MS / 1000;
	pthread_mutex_lock(&st.mu);
	while (!st.done && pthread_cond_timedwait(&st.cv, &st.mu, &until) == 0) {
	}
	bool done = st.done;
	pthread_mutex_unlock(&st.mu);
	cr_assert(done, "the supervisor did not stop within %d ms", DEADLINE_MS);
	pthread_join(t, NULL);
	*nodep = NULL;
}

// ---------------------------------------------------------------------------
// The node registry

Test(cluster, the_node_registry_is_bounded)
{
	const char *const kv[] = { "max_nodes", "5", "heartbeat_interval", "20ms", "dead_timeout",
		"200ms", NULL };
	oscar_node_t     *sup  = start_supervisor(kv);
	oscar_pool_t     *pool = client_pool();
	const char       *at   = oscar_node_address(sup);
	oscar_error_t     err;
	char              addr[64];
	// The supervisor is one of the five.
	for (int i = 1; i <= 4; i++) {
		snprintf(addr, sizeof(addr), "tcp://127.0.0.%d:9", i);
		cr_assert_eq(forge_register(pool, at, addr, &err), 0, "%s", err.message);
	}
	cr_assert_eq(forge_register(pool, at, "tcp://127.0.0.5:9", &err), OSCAR_ESTATE);
	cr_assert(strstr(err.message, "cluster.max_nodes") != NULL, "%s", err.message);
	// Registering again is no new entry.
	cr_assert_eq(forge_register(pool, at, "tcp://127.0.0.1:9", &err), 0, "%s", err.message);

	// Once the forged workers are marked dead, the oldest dead one makes
	// room for a newcomer.
	oscar_cluster_t *cl;
	cr_assert_eq(oscar_cluster_open(&cl, pool, at, &err), 0);
	size_t   dead    = 0;
	uint64_t version = 0;
	while (dead < 4) {
		oscar_node_info_t *nodes;
		size_t             n;
		cr_assert_eq(oscar_cluster_watch(cl, &version, &nodes, &n, 10000, &err), 0, "%s",
		    err.message);
		oscar_node_info_free(nodes, n);
		cr_assert_eq(
		    oscar_cluster_count(cl, OSCAR_ROLE_WORKER, OSCAR_NODE_DEAD, &dead, 5000, &err),
		    0);
	}
	cr_assert_eq(forge_register(pool, at, "tcp://127.0.0.5:9", &err), 0, "%s", err.message);
	size_t all = 0;
	cr_assert_eq(oscar_cluster_count(cl, OSCAR_ROLES_ALL, 0, &all, 5000, &err), 0);
	cr_assert_eq(all, 5);
	oscar_cluster_close(&cl);
	stop_within(&sup);
	oscar_pool_free(&pool);
}

// ---------------------------------------------------------------------------
// Parked waits

#define FLOOD_CHUNK 5000

// The flood actor parks n wait_workers calls at the supervisor, a chunk at
// a time: a count call after each chunk comes back once the supervisor has
// taken the chunk (one connection keeps the order), so its mailbox never
// overflows. It counts the calls that failed before the end.
typedef struct flood {
	oscar_req_t *req;
	oscar_ref_t  sup;
	uint64_t     n;
	uint64_t     sent;
	uint64_t     failed_early;
	uint64_t     finished;
	bool         ending;
} flood_t;

static void flood_chunk(oscar_actor_t *self, oscar_result_t *res, void *arg);

static void flood_waited(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	flood_t *f = oscar_actor_state(self);
	f->finished++;
	f->failed_early += !f->ending;
}

static void flood_chunk(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	flood_t *f = oscar_actor_state(self);
	if (res != NULL && res->code != 0) {
		oscar_req_fail(f->req, res->code, "count failed between chunks");
		return;
	}
	if (f->sent >= f->n) {
		oscar_req_reply(f->req, oscar_value_new_uint(f->failed_early));
		return;
	}
	for (int i = 0; i < FLOOD_CHUNK && f->sent < f->n; i++, f->sent++) {
		oscar_value_t *args = oscar_value_new_array(2);
		oscar_value_array_push(args, oscar_value_new_uint(1000000)); // never that many
		oscar_value_array_push(args, oscar_value_new_uint(UINT64_C(1) << 62)); // clamped
		if (oscar_actor_call(self, &f->sup, "wait_workers", args, 3600000, flood_waited,
		        NULL, NULL) != 0) {
			f->failed_early++;
		}
	}
	if (oscar_actor_call(self, &f->sup, "count", NULL, 60000, flood_chunk, NULL, NULL) != 0) {
		oscar_req_fail(f->req, OSCAR_ESTATE, "cannot send count");
	}
}

static int flood_go(oscar_actor_t *self, oscar_req_t *req)
{
	flood_t *f = oscar_actor_state(self);
	f->req     = req;
	f->n       = oscar_value_at_uint(oscar_req_args(req), 1, 0);
	oscar_ref_make(&f->sup, oscar_value_at_str(oscar_req_args(req), 0), OSCAR_CLUSTER_UID);
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	flood_chunk(self, NULL, NULL);
	return (0);
}

// flood_end: the test is about to stop the supervisor; failures from now
// on are expected.
static int flood_end(oscar_actor_t *self, oscar_req_t *req)
{
	flood_t *f = oscar_actor_state(self);
	f->ending  = true;
	return (oscar_req_reply(req, oscar_value_new_uint(f->failed_early)));
}

static const oscar_method_t flood_methods[] = {
	{ "go", flood_go, NULL },
	{ "end", flood_end, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t flood_class = {
	.name       = "test.flood",
	.state_size = sizeof(flood_t),
	.methods    = flood_methods,
};

Test(cluster, a_hundred_thousand_parked_waits_leave_the_supervisor_answering)
{
	oscar_node_t *sup  = start_supervisor(NULL);
	oscar_pool_t *pool = client_pool();
	oscar_error_t err;
	oscar_ref_t   flood;
	cr_assert_eq(oscar_create(pool, &flood_class, "flood", NULL, 5000, &flood, &err), 0);
	oscar_value_t *args = oscar_value_new_array(2);
	oscar_value_array_push(args, oscar_value_new_str(oscar_node_address(sup)));
	oscar_value_array_push(args, oscar_value_new_uint(100000));
	oscar_value_t *v;
	cr_assert_eq(oscar_call(pool, &flood, "go", args, 240000, &v, &err), 0, "%s", err.message);
	uint64_t failed = 99;
	cr_assert_eq(oscar_value_get_uint(v, &failed), 0);
	oscar_value_free(v);
	cr_assert_eq(failed, 0, "every one of the 100,000 waits is parked");

	// The supervisor still answers at once, and its bound on parked waits
	// (cluster.max_waits, 100,000 by default) is reached.
	oscar_cluster_t *cl;
	size_t           n = 0;
	cr_assert_eq(oscar_cluster_open(&cl, pool, oscar_node_address(sup), &err), 0);
	cr_assert_eq(
	    oscar_cluster_count(cl, OSCAR_ROLES_ALL, 0, &n, 10000, &err), 0, "%s", err.message);
	cr_assert_eq(n, 1);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 5, 60000, &err), OSCAR_EMBOXFULL);
	cr_assert(strstr(err.message, "cluster.max_waits") != NULL, "%s", err.message);
	// A wait that holds at once is answered, not parked.
	cr_assert_eq(oscar_cluster_wait_workers(cl, 0, 60000, &err), 0, "%s", err.message);
	oscar_cluster_close(&cl);

	cr_assert_eq(oscar_call(pool, &flood, "end", NULL, 10000, &v, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_get_uint(v, &failed), 0);
	oscar_value_free(v);
	cr_assert_eq(failed, 0, "no parked wait failed while the supervisor ran");
	stop_within(&sup);
	oscar_pool_free(&pool);
}

Test(cluster, parked_waits_are_clamped_to_wait_timeout_max)
{
	const char *const kv[] = { "wait_timeout_max", "1s", NULL };
	oscar_node_t     *sup  = start_supervisor(kv);
	oscar_pool_t     *pool = client_pool();
	oscar_cluster_t  *cl;
	oscar_error_t     err;
	cr_assert_eq(oscar_cluster_open(&cl, pool, oscar_node_address(sup), &err), 0);
	// A day asked for; the supervisor answers after its maximum, with its
	// own message (not the caller's deadline).
	cr_assert_eq(oscar_cluster_wait_workers(cl, 3, 86400000, &err), OSCAR_ETIMEDOUT);
	cr_assert(
	    strstr(err.message, "0 of the 3 workers wanted are ready") != NULL, "%s", err.message);
	uint64_t           version = 0;
	oscar_node_info_t *nodes;
	size_t             n;
	cr_assert_eq(oscar_cluster_watch(cl, &version, &nodes, &n, 5000, &err), 0);
	oscar_node_info_free(nodes, n);
	cr_assert_eq(
	    oscar_cluster_watch(cl, &version, &nodes, &n, 86400000, &err), OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "did not change after version") != NULL, "%s", err.message);
	oscar_cluster_close(&cl);
	stop_within(&sup);
	oscar_pool_free(&pool);
}

Test(cluster, waits_are_answered_in_order_of_what_they_want)
{
	oscar_node_t *sup  = start_supervisor(NULL);
	oscar_pool_t *pool = client_pool();
	oscar_error_t err;
	oscar_ref_t   ref;
	oscar_ref_make(&ref, oscar_node_address(sup), OSCAR_CLUSTER_UID);
	// Waits for 3, 1 and 2 workers, parked in that order; workers join one
	// by one, and each wait is answered once enough are ready.
	oscar_call_t  *calls[3];
	const uint64_t want[3] = { 3, 1, 2 };
	for (int i = 0; i < 3; i++) {
		oscar_value_t *args = oscar_value_new_array(2);
		oscar_value_array_push(args, oscar_value_new_uint(want[i]));
		oscar_value_array_push(args, oscar_value_new_uint(60000));
		cr_assert_eq(
		    oscar_call_start(pool, &ref, "wait_workers", args, 60000, &calls[i]), 0);
	}
	oscar_cluster_t *cl;
	size_t           n = 0;
	cr_assert_eq(oscar_cluster_open(&cl, pool, oscar_node_address(sup), &err), 0);
	cr_assert_eq(oscar_cluster_count(cl, OSCAR_ROLES_ALL, 0, &n, 10000, &err), 0);
	const int order[3] = { 1, 2, 0 }; // the wait answered after each join
	for (int j = 0; j < 3; j++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "tcp://127.0.1.%d:9", j + 1);
		cr_assert_eq(forge_register(pool, oscar_node_address(sup), addr, &err), 0, "%s",
		    err.message);
		oscar_value_t *v;
		uint64_t       ready = 0;
		cr_assert_eq(oscar_call_wait(&calls[order[j]], &v, &err), 0, "%s", err.message);
		cr_assert_eq(oscar_value_get_uint(v, &ready), 0);
		cr_assert_eq(ready, (uint64_t) j + 1);
		oscar_value_free(v);
	}
	oscar_cluster_close(&cl);
	stop_within(&sup);
	oscar_pool_free(&pool);
}

// ---------------------------------------------------------------------------
// Stopping

// start_crowdable starts a supervisor with room for 5,000 nodes, and a
// client pool. Forged workers send no heartbeat: a long dead timeout
// keeps the first ones from being declared dead while the rest register,
// which takes seconds in the sanitizer build on a loaded machine.
static oscar_node_t *start_crowdable(oscar_pool_t **pool)
{
	const char *const kv[] = { "max_nodes", "5000", "dead_timeout", "600s", NULL };
	oscar_node_t     *sup  = start_supervisor(kv);
	*pool                  = client_pool();
	return (sup);
}

Test(cluster, a_supervisor_with_thousands_of_unreachable_workers_stops)
{
	oscar_pool_t *pool;
	oscar_node_t *sup = start_crowdable(&pool);
	oscar_error_t err;
	// 3,000 registered workers, none of which answers: every address
	// refuses connections, or is not there at all.
	for (int i = 0; i < 3000; i++) {
		char addr[64];
		if (i % 2 == 0) {
			snprintf(addr, sizeof(addr), "tcp://127.1.%d.%d:9", i / 250, i % 250 + 1);
		} else {
			snprintf(addr, sizeof(addr), "ipc:///nonexistent/oscar-test-%d.sock", i);
		}
		cr_assert_eq(forge_register(pool, oscar_node_address(sup), addr, &err), 0, "%s",
		    err.message);
	}
	oscar_cluster_t *cl;
	size_t           n = 0;
	cr_assert_eq(oscar_cluster_open(&cl, pool, oscar_node_address(sup), &err), 0);
	cr_assert_eq(
	    oscar_cluster_count(cl, OSCAR_ROLE_WORKER, OSCAR_NODE_READY, &n, 10000, &err), 0);
	cr_assert_eq(n, 3000);
	oscar_cluster_close(&cl);
	// Telling them all that it goes away is bounded (cluster.farewell_*).
	stop_within(&sup);
	oscar_pool_free(&pool);
}

Test(cluster, a_cluster_stop_with_thousands_of_unreachable_workers_ends)
{
	oscar_pool_t *pool;
	oscar_node_t *sup = start_crowdable(&pool);
	oscar_error_t err;
	for (int i = 0; i < 3000; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "tcp://127.2.%d.%d:9", i / 250, i % 250 + 1);
		cr_assert_eq(forge_register(pool, oscar_node_address(sup), addr, &err), 0, "%s",
		    err.message);
	}
	oscar_cluster_t *cl;
	cr_assert_eq(oscar_cluster_open(&cl, pool, oscar_node_address(sup), &err), 0);
	// None of them will leave: the stop runs out of time, says so, and
	// the supervisor stops itself anyway.
	cr_assert_eq(oscar_cluster_stop(cl, 3000, &err), OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "3000 of the 3000 workers told to stop had not left") != NULL,
	    "%s", err.message);
	oscar_cluster_close(&cl);
	cr_assert_eq(oscar_node_wait(sup, DEADLINE_MS), 0, "the supervisor asked itself to stop");
	stop_within(&sup);
	oscar_pool_free(&pool);
}
