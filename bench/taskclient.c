// The task client of oscar-bench: what the task workloads (tasks.c) ask of
// a cluster, through the client API (include/oscar/session.h) as a user's
// program does: a session, futures mapped and gathered, objects spawned,
// executed and fetched, and released.
//
// Design note. The cluster itself is the one part that is not the
// client's: a supervisor and two workers with one slot each are started
// in this process with oscar_node_start, and the session is opened on the
// supervisor's address with oscar_session_open. A local cluster of the
// client (oscar_session_new_local) runs every worker with the same task
// functions and in processes of their own, and the bench needs two things
// it cannot give: tasks-bin64m puts its two tasks on two given workers,
// which the task service offers only through what each worker's registry
// holds (worker 0 alone has bench.make, worker 1 alone bench.take); and
// tasks-sup-cpu reads the CPU clock of the supervisor's pool thread, from
// an actor in that pool. tasks-cluster, which measures a cluster of
// processes, uses oscar_session_new_local.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

#define TC_TIMEOUT 600000 // ms, for any one call or graph

struct bench_tc {
	oscar_node_t    *sup;
	oscar_node_t    *w[2];
	oscar_session_t *s;
	oscar_ref_t      clock;
};

static oscar_node_t *start_node(oscar_registry_t *reg, oscar_role_t role, const char *sup)
{
	oscar_settings_t *s;
	oscar_node_t     *node;
	oscar_error_t     err;
	if (oscar_settings_new(&s) != 0) {
		bench_fail("out of memory");
	}
	oscar_settings_set(s, "node", "listen", "tcp://127.0.0.1:0");
	oscar_settings_set(s, "node", "sub_pools", role == OSCAR_ROLE_WORKER ? "1" : "0");
	oscar_settings_set(s, "cluster", "heartbeat_interval", "200ms");
	// A worker's loop stays busy for seconds with a 64 MiB task output
	// (tasks-bin64m; docs/performance.md), longer than the default 5 s.
	oscar_settings_set(s, "cluster", "dead_timeout", "120s");
	// Enough queued work per worker that its slot never waits for the
	// supervisor, and that batches are large: every message to and from a
	// slot, the executor and the manager carries a batch, and what a task
	// costs is mostly its share of those messages (docs/performance.md:
	// 256 against 64 takes a third off the CPU per task).
	oscar_settings_set(s, "task", "queue", "256");
	if (sup != NULL) {
		oscar_settings_set(s, "node", "supervisor", sup);
	}
	if (oscar_node_start(&node, role, s, reg, &err) != 0) {
		bench_fail("cannot start a node: %s", err.message);
	}
	oscar_settings_free(&s);
	return (node);
}

// The CPU clock of the supervisor's pool thread, read by an actor in
// that pool: the thread where the task manager and meta run. The client
// API has no such figure; this actor is the bench's own.
static int cpu_now(oscar_actor_t *self, oscar_req_t *req)
{
	struct timespec ts;
	(void) self;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
		return (oscar_req_fail(req, OSCAR_EINVAL, "no thread CPU clock"));
	}
	return (oscar_req_reply(
	    req, oscar_value_new_uint((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec)));
}

static const oscar_method_t cpu_methods[] = {
	{ "now", cpu_now, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t cpu_class = {
	.name    = "bench.cpu",
	.methods = cpu_methods,
};

bench_tc_t *bench_tc_open(oscar_registry_t *sup, oscar_registry_t *w0, oscar_registry_t *w1)
{
	bench_tc_t            *tc = calloc(1, sizeof(*tc));
	oscar_session_config_t cfg;
	oscar_cluster_t       *cl;
	oscar_error_t          err;
	if (tc == NULL) {
		bench_die("task client", OSCAR_ENOMEM);
	}
	tc->sup        = start_node(sup, OSCAR_ROLE_SUPERVISOR, NULL);
	const char *sa = oscar_node_address(tc->sup);
	tc->w[0]       = start_node(w0, OSCAR_ROLE_WORKER, sa);
	tc->w[1]       = start_node(w1, OSCAR_ROLE_WORKER, sa);
	oscar_session_config_init(&cfg);
	cfg.timeout_ms = TC_TIMEOUT;
	if (oscar_session_open(&tc->s, sa, &cfg, &err) != 0) {
		bench_fail("cannot open a session at %s: %s", sa, err.message);
	}
	// Both workers up before the first graph: the client API does not
	// wait for workers of a cluster it did not start.
	if (oscar_cluster_open(&cl, oscar_session_pool(tc->s), sa, &err) != 0 ||
	    oscar_cluster_wait_workers(cl, 2, 30000, &err) != 0) {
		bench_fail("the workers are not up: %s", err.message);
	}
	oscar_cluster_close(&cl);
	if (oscar_create(oscar_node_pool(tc->sup), &cpu_class, "bench.cpu", NULL, 30000, &tc->clock,
	        &err) != 0) {
		bench_fail("cannot make the CPU clock actor: %s", err.message);
	}
	return (tc);
}

void bench_tc_close(bench_tc_t **tcp)
{
	bench_tc_t   *tc = *tcp;
	oscar_error_t err;
	if (tc == NULL) {
		return;
	}
	if (oscar_session_close(&tc->s, &err) != 0) {
		bench_fail("cannot close the session: %s", err.message);
	}
	oscar_node_stop(&tc->w[0]);
	oscar_node_stop(&tc->w[1]);
	oscar_node_stop(&tc->sup);
	free(tc);
	*tcp = NULL;
}

void bench_tc_map(bench_tc_t *tc, const char *fn, oscar_value_t *items, oscar_future_t **futs)
{
	oscar_spawn_opts_t opts = { .n_output = 1, .pure = false };
	oscar_error_t      err;
	size_t             n = oscar_value_len(items);
	if (oscar_future_map(tc->s, fn, items, &opts, futs, &err) != 0) {
		bench_fail("map of %s over %zu items: %s", fn, n, err.message);
	}
}

oscar_future_t *bench_tc_submit(bench_tc_t *tc, const char *fn, oscar_value_t *args)
{
	oscar_spawn_opts_t opts = { .n_output = 1, .pure = false };
	oscar_future_t    *f;
	oscar_error_t      err;
	if (oscar_future_submit(tc->s, fn, args, &opts, &f, &err) != 0) {
		bench_fail("submit of %s: %s", fn, err.message);
	}
	return (f);
}

void bench_tc_gather(oscar_future_t *const *futs, size_t n, oscar_value_t **values)
{
	oscar_error_t err;
	if (oscar_future_gather(futs, n, TC_TIMEOUT, values, &err) != 0) {
		bench_fail("gather of %zu futures: %s", n, err.message);
	}
}

oscar_object_t *bench_tc_spawn(bench_tc_t *tc, const char *fn, oscar_value_t *args)
{
	oscar_object_t *o;
	oscar_error_t   err;
	if (oscar_spawn(tc->s, fn, args, NULL, &o, &err) != 0) {
		bench_fail("spawn of %s: %s", fn, err.message);
	}
	return (o);
}

void bench_tc_execute(bench_tc_t *tc, oscar_object_t *const *objs, size_t n)
{
	oscar_error_t err;
	if (oscar_execute(tc->s, objs, n, NULL, &err) != 0) {
		bench_fail("execute: %s", err.message);
	}
}

void bench_tc_fetch(bench_tc_t *tc, oscar_object_t *const *objs, size_t n, oscar_value_t **values)
{
	oscar_error_t err;
	if (oscar_fetch(tc->s, objs, n, NULL, values, &err) != 0) {
		bench_fail("fetch of %zu objects: %s", n, err.message);
	}
}

void bench_tc_release(oscar_object_t **objs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		oscar_object_free(&objs[i]);
	}
}

void bench_tc_values_free(oscar_value_t **values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		oscar_value_free(values[i]);
		values[i] = NULL;
	}
}

double bench_tc_sup_cpu(bench_tc_t *tc)
{
	oscar_value_t *v = NULL;
	oscar_error_t  err;
	uint64_t       ns;
	if (oscar_call(oscar_session_pool(tc->s), &tc->clock, "now", NULL, 60000, &v, &err) != 0 ||
	    oscar_value_get_uint(v, &ns) != 0) {
		bench_fail("cannot read the supervisor's CPU clock: %s", err.message);
	}
	oscar_value_free(v);
	return ((double) ns / 1e9);
}

int bench_tc_local_start(oscar_session_t **sp, const char *bin_dir, oscar_error_t *err)
{
	oscar_session_config_t cfg;
	oscar_session_config_init(&cfg);
	cfg.workers    = 2;
	cfg.slots      = 1;
	cfg.bin_dir    = bin_dir;
	cfg.timeout_ms = 60000;
	return (oscar_session_new_local(sp, &cfg, err));
}

int bench_tc_local_stop(oscar_session_t **sp, oscar_error_t *err)
{
	return (oscar_session_close(sp, err));
}
