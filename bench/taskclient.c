// The task client of oscar-bench: what the task workloads (tasks.c) ask of
// a cluster, as a user's program would: start it, compute a graph, gather
// results, release them, stop it.
//
// Design note. This is the one file to change when the client API
// (include/oscar/session.h: sessions, submit/map/gather futures, cluster
// control) is in: bench_tc_compute becomes an execute of the graph,
// bench_tc_gather a fetch of the keys' futures, bench_tc_local_* the
// session's local cluster. Until then it is built on what exists: the
// graph calls (oscar_graph_submit and _wait), meta (where an object is)
// and storage (reading and deleting it on that worker), one batch per
// worker, so that a gather costs one meta call and one storage call per
// worker whatever the number of keys.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

#define TC_SESSION "bench"
#define TC_TIMEOUT 600000 // ms, for any one call or graph

struct bench_tc {
	oscar_node_t *sup;
	oscar_node_t *w[2];
	oscar_pool_t *pool;
	oscar_ref_t   clock;
	const char   *sa; // the supervisor's address
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
	// supervisor.
	oscar_settings_set(s, "task", "queue", "64");
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
// that pool: the thread where the task manager and meta run.
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
	bench_tc_t         *tc = calloc(1, sizeof(*tc));
	oscar_pool_config_t cfg;
	oscar_cluster_t    *cl;
	oscar_error_t       err;
	if (tc == NULL) {
		bench_die("task client", OSCAR_ENOMEM);
	}
	tc->sup  = start_node(sup, OSCAR_ROLE_SUPERVISOR, NULL);
	tc->sa   = oscar_node_address(tc->sup);
	tc->w[0] = start_node(w0, OSCAR_ROLE_WORKER, tc->sa);
	tc->w[1] = start_node(w1, OSCAR_ROLE_WORKER, tc->sa);
	oscar_pool_config_init(&cfg);
	if (oscar_pool_open(&tc->pool, &cfg) != 0 ||
	    oscar_cluster_open(&cl, tc->pool, tc->sa, &err) != 0 ||
	    oscar_cluster_wait_workers(cl, 2, 30000, &err) != 0 ||
	    oscar_sessions_create(tc->pool, tc->sa, TC_SESSION, false, NULL, NULL, 30000, &err) !=
	        0) {
		bench_fail("cannot set the cluster up: %s", err.message);
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
	bench_tc_t *tc = *tcp;
	if (tc == NULL) {
		return;
	}
	oscar_pool_free(&tc->pool);
	oscar_node_stop(&tc->w[0]);
	oscar_node_stop(&tc->w[1]);
	oscar_node_stop(&tc->sup);
	free(tc);
	*tcp = NULL;
}

void bench_tc_compute(bench_tc_t *tc, oscar_value_t *graph)
{
	char           id[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	if (oscar_graph_submit(
	        tc->pool, tc->sa, TC_SESSION, graph, NULL, id, sizeof(id), TC_TIMEOUT, &err) != 0 ||
	    oscar_graph_wait(tc->pool, tc->sa, TC_SESSION, id, TC_TIMEOUT, &info, &err) != 0) {
		bench_fail("graph: %s", err.message);
	}
	const char *status = oscar_value_map_str(info, "status");
	if (status == NULL || strcmp(status, "done") != 0) {
		const oscar_value_t *e = oscar_value_map_get(info, "error");
		bench_fail("a graph ended %s: task %s (%s): %s", status != NULL ? status : "?",
		    oscar_value_map_str(e, "key") ? oscar_value_map_str(e, "key") : "?",
		    oscar_value_map_str(e, "fn") ? oscar_value_map_str(e, "fn") : "?",
		    oscar_value_map_str(e, "message") ? oscar_value_map_str(e, "message") : "?");
	}
	oscar_value_free(info);
	oscar_graph_delete(tc->pool, tc->sa, TC_SESSION, id, TC_TIMEOUT, NULL);
}

// holder gives the address of the (first) worker entry e of meta says
// holds its object.
static const char *holder(const oscar_value_t *e, const char *key)
{
	const char *w;
	size_t      len;
	if (oscar_value_get_str(oscar_value_at(oscar_value_map_get(e, "workers"), 0), &w, &len) !=
	    0) {
		bench_fail("no worker holds %s", key);
	}
	return (w);
}

// by_worker calls fn once per worker that holds some of keys[0..n), with
// the indexes of its keys, after one meta call for them all.
static void by_worker(bench_tc_t *tc, const char *const *keys, size_t n,
    void (*fn)(bench_tc_t *tc, const char *worker, const char **wkeys, const size_t *idx, size_t m,
        void *arg),
    void *arg)
{
	oscar_value_t *entries = NULL;
	oscar_error_t  err;
	const char    *fields[] = { "workers", NULL };
	const char   **wkeys    = calloc(n, sizeof(*wkeys));
	const char   **holders  = calloc(n, sizeof(*holders));
	size_t        *idx      = calloc(n, sizeof(*idx));
	bool          *done     = calloc(n, sizeof(*done));
	if (n == 0) {
		goto out;
	}
	if (wkeys == NULL || holders == NULL || idx == NULL || done == NULL) {
		bench_die("task client", OSCAR_ENOMEM);
	}
	if (oscar_meta_get(tc->pool, tc->sa, TC_SESSION, keys, n, fields, false, TC_TIMEOUT,
	        &entries, &err) != 0) {
		bench_fail("cannot locate %zu objects: %s", n, err.message);
	}
	for (size_t i = 0; i < n; i++) {
		holders[i] = holder(oscar_value_at(entries, i), keys[i]);
	}
	// The workers are few: one pass per worker over the keys left.
	for (size_t first = 0; first < n; first++) {
		size_t m = 0;
		if (done[first]) {
			continue;
		}
		for (size_t i = first; i < n; i++) {
			if (!done[i] && strcmp(holders[i], holders[first]) == 0) {
				done[i]  = true;
				wkeys[m] = keys[i];
				idx[m++] = i;
			}
		}
		fn(tc, holders[first], wkeys, idx, m, arg);
	}
out:
	oscar_value_free(entries);
	free(wkeys);
	free(holders);
	free(idx);
	free(done);
}

static void gather_from(
    bench_tc_t *tc, const char *worker, const char **wkeys, const size_t *idx, size_t m, void *arg)
{
	bench_tc_results_t *r   = arg;
	oscar_value_t      *out = NULL;
	oscar_error_t       err;
	if (oscar_storage_get(
	        tc->pool, worker, TC_SESSION, m, wkeys, NULL, 0, &out, TC_TIMEOUT, &err) != 0) {
		bench_fail("cannot read %zu objects from %s: %s", m, worker, err.message);
	}
	if (r->nreplies == 2) {
		bench_fail("objects on more than two workers");
	}
	r->replies[r->nreplies++] = out; // the values stay in the reply
	for (size_t k = 0; k < m; k++) {
		if ((r->vals[idx[k]] = oscar_value_at(out, k)) == NULL) {
			bench_fail("%s gave no value for %s", worker, wkeys[k]);
		}
	}
}

void bench_tc_gather(bench_tc_t *tc, const char *const *keys, size_t n, bench_tc_results_t *r)
{
	memset(r, 0, sizeof(*r));
	r->n    = n;
	r->vals = calloc(n > 0 ? n : 1, sizeof(*r->vals));
	if (r->vals == NULL) {
		bench_die("gather", OSCAR_ENOMEM);
	}
	by_worker(tc, keys, n, gather_from, r);
}

void bench_tc_results_fini(bench_tc_results_t *r)
{
	for (size_t i = 0; i < r->nreplies; i++) {
		oscar_value_free(r->replies[i]);
	}
	free(r->vals);
	memset(r, 0, sizeof(*r));
}

static void release_from(
    bench_tc_t *tc, const char *worker, const char **wkeys, const size_t *idx, size_t m, void *arg)
{
	oscar_error_t err;
	(void) idx;
	(void) arg;
	if (oscar_storage_delete(tc->pool, worker, TC_SESSION, m, wkeys, NULL, TC_TIMEOUT, &err) !=
	    0) {
		bench_fail("cannot delete %zu objects on %s: %s", m, worker, err.message);
	}
}

void bench_tc_release(bench_tc_t *tc, const char *const *keys, size_t n)
{
	oscar_error_t err;
	by_worker(tc, keys, n, release_from, NULL);
	if (oscar_meta_delete(tc->pool, tc->sa, TC_SESSION, keys, n, TC_TIMEOUT, NULL, &err) != 0) {
		bench_fail("cannot forget %zu objects: %s", n, err.message);
	}
}

double bench_tc_sup_cpu(bench_tc_t *tc)
{
	oscar_value_t *v = NULL;
	oscar_error_t  err;
	uint64_t       ns;
	if (oscar_call(tc->pool, &tc->clock, "now", NULL, 60000, &v, &err) != 0 ||
	    oscar_value_get_uint(v, &ns) != 0) {
		bench_fail("cannot read the supervisor's CPU clock: %s", err.message);
	}
	oscar_value_free(v);
	return ((double) ns / 1e9);
}

int bench_tc_local_start(oscar_local_t **lcp, const char *bin_dir, oscar_error_t *err)
{
	oscar_local_config_t cfg;
	oscar_local_config_init(&cfg);
	cfg.workers    = 2;
	cfg.sub_pools  = 1;
	cfg.host       = "127.0.0.1";
	cfg.bin_dir    = bin_dir;
	cfg.log_level  = "error";
	cfg.timeout_ms = 60000;
	return (oscar_local_start(lcp, &cfg, err));
}

int bench_tc_local_stop(oscar_local_t **lcp)
{
	return (oscar_local_stop(lcp));
}
