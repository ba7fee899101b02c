// Sessions on a cluster of real programs: an oscar-supervisor and
// oscar-worker processes, driven through the typed APIs of the session,
// meta and lifecycle services.
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support_procs.h"

TestSuite(sessions, .init = procs_setup, .fini = procs_teardown, .timeout = 240);

#define STEADY_BEAT "--heartbeat-interval=200ms", "--dead-timeout=30s"

typedef proc_node_t node_t;

// start_node starts a supervisor (sup NULL) or a worker of sup, called
// name, and waits until it has written its address.
static node_t start_node(const char *name, const char *sup)
{
	return (procs_start_node(name, sup, STEADY_BEAT, NULL));
}

static void stop_node(node_t *n)
{
	proc_signal(n->proc, SIGTERM);
	int code = proc_wait_exit(n->proc);
	cr_assert_eq(code, 0, "%s exited with %d; its standard error:\n%s", n->proc->name, code,
	    proc_tail(n->proc));
}

static bool node_has(const char *address, const char *id)
{
	oscar_value_t *ids;
	oscar_error_t  err;
	cr_assert_eq(oscar_node_sessions(procs_client_pool(), address, &ids, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	bool found = false;
	for (size_t i = 0; i < oscar_value_len(ids); i++) {
		found = found || strcmp(oscar_value_at_str(ids, i), id) == 0;
	}
	oscar_value_free(ids);
	return (found);
}

Test(sessions, sessions_are_created_listed_and_deleted_on_real_nodes)
{
	node_t           sup  = start_node("sup", NULL);
	oscar_cluster_t *cl   = procs_client(sup.addr);
	oscar_pool_t    *pool = procs_client_pool();
	node_t           w1   = start_node("w1", sup.addr);
	oscar_error_t    err;
	cr_assert_eq(oscar_cluster_wait_workers(cl, 1, DEADLINE_MS, &err), 0, "%s", err.message);

	char id[OSCAR_SESSION_ID_MAX + 1];
	cr_assert_eq(
	    oscar_sessions_create(pool, sup.addr, "first", false, id, NULL, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	char gen[OSCAR_SESSION_ID_MAX + 1];
	cr_assert_eq(
	    oscar_sessions_create(pool, sup.addr, NULL, false, gen, NULL, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert(node_has(sup.addr, "first"));
	cr_assert(node_has(w1.addr, "first"));
	cr_assert(node_has(w1.addr, gen));

	oscar_session_info_t *list;
	size_t                n;
	cr_assert_eq(oscar_sessions_list(pool, sup.addr, &list, &n, DEADLINE_MS, &err), 0, "%s",
	    err.message);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].id, "first");
	cr_assert_str_eq(list[1].id, gen);
	cr_assert_eq(list[0].nodes, 2, "the supervisor and the worker");
	free(list);

	// Meta and lifecycle of the session answer across processes.
	oscar_value_t *e = oscar_value_new_map(2);
	oscar_value_map_set(e, "key", oscar_value_new_str("obj"));
	oscar_value_map_set(e, "size", oscar_value_new_uint(42));
	oscar_value_t *batch = oscar_value_new_array(1);
	oscar_value_array_push(batch, e);
	cr_assert_eq(oscar_meta_set(pool, sup.addr, "first", batch, DEADLINE_MS, &err), 0, "%s",
	    err.message);
	const char *const keys[] = { "obj" };
	oscar_value_t    *v;
	cr_assert_eq(
	    oscar_meta_get(pool, sup.addr, gen, keys, 1, NULL, false, DEADLINE_MS, &v, &err),
	    OSCAR_ENOENT, "another session does not see it");
	cr_assert_eq(
	    oscar_lifecycle_incref(pool, sup.addr, "first", keys, NULL, 1, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert_eq(
	    oscar_lifecycle_decref(pool, sup.addr, "first", keys, NULL, 1, DEADLINE_MS, &v, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_len(v), 1);
	oscar_value_free(v);
	cr_assert_eq(
	    oscar_meta_get(pool, sup.addr, "first", keys, 1, NULL, false, DEADLINE_MS, &v, &err),
	    OSCAR_ENOENT, "freed: meta forgot it");

	// A worker that comes later is given the live sessions.
	node_t  w2  = start_node("w2", sup.addr);
	int64_t end = procs_now_ms() + DEADLINE_MS;
	while (!(node_has(w2.addr, "first") && node_has(w2.addr, gen))) {
		cr_assert_lt(procs_now_ms(), end, "the late worker never got its sessions");
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}

	cr_assert_eq(oscar_sessions_delete(pool, sup.addr, "first", false, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert_not(node_has(sup.addr, "first"));
	cr_assert_not(node_has(w1.addr, "first"));
	cr_assert_not(node_has(w2.addr, "first"));
	bool exists = true;
	cr_assert_eq(oscar_sessions_has(pool, sup.addr, "first", &exists, DEADLINE_MS, &err), 0);
	cr_assert_not(exists);
	cr_assert_eq(
	    oscar_sessions_delete(pool, sup.addr, "first", false, DEADLINE_MS, &err), OSCAR_ENOENT);

	stop_node(&w2);
	stop_node(&w1);
	stop_node(&sup);
}
