// The task service in real processes: an oscar-supervisor and two
// oscar-workers with one slot each, loading the example task functions
// as a module (--load-modules liboscar-taskfns.so), run seed 001's
// examples, a failure and a crash.
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cluster/support_procs.h"
#include "tests/common/values.h"

TestSuite(graphs, .init = procs_setup, .fini = procs_teardown, .timeout = 240);

typedef proc_node_t node_t;

static node_t start(const char *name, const char *sup)
{
	return (procs_start_task_node(name, sup, 1));
}

static oscar_value_t *fetch(oscar_pool_t *pool, const char *sup, const char *key)
{
	oscar_value_t *entries, *out;
	oscar_error_t  err;
	const char    *keys[]   = { key, NULL };
	const char    *fields[] = { "workers", NULL };
	cr_assert_eq(
	    oscar_meta_get(pool, sup, "s", keys, 1, fields, false, DEADLINE_MS, &entries, &err), 0,
	    "%s", err.message);
	const char *w;
	size_t      len;
	cr_assert_eq(
	    oscar_value_get_str(
	        oscar_value_at(oscar_value_map_get(oscar_value_at(entries, 0), "workers"), 0), &w,
	        &len),
	    0);
	oscar_ref_t ref;
	cr_assert_eq(oscar_ref_make(&ref, w, "oscar.storage"), 0);
	oscar_value_free(entries);
	oscar_value_t *q = oscar_value_new_map(2);
	oscar_value_map_set(q, "session", oscar_value_new_str("s"));
	oscar_value_map_set(q, "keys", args1(oscar_value_new_str(key)));
	cr_assert_eq(
	    oscar_call(pool, &ref, "get", q, DEADLINE_MS, &out, &err), 0, "%s", err.message);
	oscar_value_t *v = oscar_value_copy(oscar_value_at(out, 0));
	oscar_value_free(out);
	return (v);
}

Test(graphs, seed_examples_a_failure_and_a_crash_on_real_workers)
{
#ifndef OSCAR_TEST_TASKFNS
	cr_skip_test("the examples (the task functions module) are not built");
#else
	// Under AddressSanitizer, a slot whose function crashes on purpose
	// must die of its signal, as it would in production, rather than
	// have the sanitizer report the fault: the nodes and their sub pools
	// read their options from the environment they inherit.
	const char *asan = getenv("ASAN_OPTIONS");
	if (asan != NULL) {
		char opts[1024];
		snprintf(opts, sizeof(opts), "%s:handle_segv=0", asan);
		setenv("ASAN_OPTIONS", opts, 1);
	}
	node_t           sup  = start("sup", NULL);
	node_t           w1   = start("w1", sup.addr);
	node_t           w2   = start("w2", sup.addr);
	oscar_cluster_t *cl   = procs_client(sup.addr);
	oscar_pool_t    *pool = procs_client_pool();
	oscar_error_t    err;
	(void) w1;
	(void) w2;
	cr_assert_eq(oscar_cluster_wait_workers(cl, 2, DEADLINE_MS, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_sessions_create(pool, sup.addr, "s", false, NULL, NULL, DEADLINE_MS, &err), 0,
	    "%s", err.message);

	// inc over 0..9, sum_all of the ten results; triage with two outputs.
	oscar_value_t *g    = oscar_value_new_array(14);
	oscar_value_t *refs = oscar_value_new_array(10);
	for (int i = 0; i < 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "inc-%d", i);
		oscar_value_array_push(
		    g, oscar_graph_task(key, "inc", args1(oscar_value_new_int(i)), 1, false));
		oscar_value_array_push(refs, oscar_value_new_ref(key));
	}
	oscar_value_array_push(g, oscar_graph_task("total", "sum_all", args1(refs), 1, false));
	oscar_value_t *l    = oscar_value_new_array(4);
	const double   xs[] = { 0.4, 0.7, 0.2, 0.8 };
	for (int i = 0; i < 4; i++) {
		oscar_value_array_push(l, oscar_value_new_float(xs[i]));
	}
	oscar_value_array_push(g, oscar_graph_task("tri", "triage", args1(l), 2, false));
	oscar_value_array_push(g, oscar_graph_task("sa", "sum_all",
	                              args1(oscar_value_new_ref_output("tri", 0)), 1, false));
	oscar_value_array_push(g, oscar_graph_task("sb", "sum_all",
	                              args1(oscar_value_new_ref_output("tri", 1)), 1, false));
	char gid[OSCAR_GRAPH_ID_MAX];
	cr_assert_eq(
	    oscar_graph_submit(pool, sup.addr, "s", g, NULL, gid, sizeof(gid), DEADLINE_MS, &err),
	    0, "%s", err.message);
	oscar_value_t *info;
	cr_assert_eq(oscar_graph_wait(pool, sup.addr, "s", gid, DEADLINE_MS, &info, &err), 0, "%s",
	    err.message);
	cr_assert_str_eq(oscar_value_map_str(info, "status"), "done");
	oscar_value_free(info);
	int64_t        total;
	double         sa, sb;
	oscar_value_t *v = fetch(pool, sup.addr, "total");
	cr_assert_eq(oscar_value_get_int(v, &total), 0);
	cr_assert_eq(total, 55);
	oscar_value_free(v);
	v = fetch(pool, sup.addr, "sa");
	cr_assert_eq(oscar_value_get_float(v, &sa), 0);
	oscar_value_free(v);
	v = fetch(pool, sup.addr, "sb");
	cr_assert_eq(oscar_value_get_float(v, &sb), 0);
	oscar_value_free(v);
	cr_assert_float_eq(sa, 0.6, 1e-9);
	cr_assert_float_eq(sb, 1.5, 1e-9);

	// A crash kills only its slot: the graph names the signal, and the
	// workers run the next graph.
	g = oscar_value_new_array(1);
	oscar_value_array_push(
	    g, oscar_graph_task("boom", "crash", args1(oscar_value_new_str("segv")), 1, false));
	cr_assert_eq(
	    oscar_graph_submit(pool, sup.addr, "s", g, NULL, gid, sizeof(gid), DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_graph_wait(pool, sup.addr, "s", gid, DEADLINE_MS, &info, &err), 0);
	cr_assert_str_eq(oscar_value_map_str(info, "status"), "failed");
	const oscar_value_t *e = oscar_value_map_get(info, "error");
	cr_assert_eq(
	    oscar_value_map_int(e, "signal", 0), SIGSEGV, "%s", oscar_value_map_str(e, "message"));
	oscar_value_free(info);

	g = oscar_value_new_array(2);
	oscar_value_array_push(
	    g, oscar_graph_task("x", "inc", args1(oscar_value_new_int(1)), 1, false));
	oscar_value_array_push(
	    g, oscar_graph_task("y", "fail", args1(oscar_value_new_str("no")), 1, false));
	cr_assert_eq(
	    oscar_graph_submit(pool, sup.addr, "s", g, NULL, gid, sizeof(gid), DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_graph_wait(pool, sup.addr, "s", gid, DEADLINE_MS, &info, &err), 0);
	cr_assert_str_eq(oscar_value_map_str(info, "status"), "failed");
	e = oscar_value_map_get(info, "error");
	cr_assert_str_eq(
	    oscar_value_map_str(e, "key"), "y", "%s", oscar_value_map_str(e, "message"));
	cr_assert_str_eq(oscar_value_map_str(e, "fn"), "fail");
	oscar_value_free(info);

	// Both slots run the next graph.
	g = oscar_value_new_array(2);
	oscar_value_array_push(
	    g, oscar_graph_task("p", "sleep", args1(oscar_value_new_int(50)), 1, false));
	oscar_value_array_push(
	    g, oscar_graph_task("q", "sleep", args1(oscar_value_new_int(50)), 1, false));
	cr_assert_eq(
	    oscar_graph_submit(pool, sup.addr, "s", g, NULL, gid, sizeof(gid), DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_graph_wait(pool, sup.addr, "s", gid, DEADLINE_MS, &info, &err), 0);
	cr_assert_str_eq(oscar_value_map_str(info, "status"), "done");
	oscar_value_free(info);
	v = fetch(pool, sup.addr, "q");
	cr_assert_eq(oscar_value_get_int(v, &total), 0);
	cr_assert_eq(total, 50);
	oscar_value_free(v);
#endif
}
