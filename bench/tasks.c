// The task service's workloads of oscar-bench, issue 12's figures: a
// supervisor and two workers with one slot each, in this process (the
// workers' slots are sub pools running this program, which main() sends
// to bench_tasks_subpool first), running the example functions.
//
//   tasks-10k  10,000 independent inc tasks in one graph, from submit to
//              the graph's end (every result stored): tasks per second
//   task-one   one inc task, from submit to its result fetched: µs
//   tasks-tree a fan-in tree: 10,000 inc leaves, 100 sums of 100 leaves
//              each, one sum of the 100 (10,101 tasks): tasks per second
//   tasks-chain a chain of 1,000 inc tasks, each taking the one before:
//              µs per task
//   tasks-sup-cpu the supervisor pool thread's CPU time per task over
//              10,000 independent tasks: µs per task
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "oscar/oscar.h"

#include "taskfns.h"

const char *const bench_tasks_names[] = { "tasks-10k", "task-one", "tasks-tree", "tasks-chain",
	"tasks-sup-cpu", NULL };

static oscar_registry_t *tasks_registry(void)
{
	oscar_registry_t *reg = NULL;
	oscar_error_t     err;
	if (oscar_registry_new(&reg) != 0 ||
	    oscar_example_taskfns_add(oscar_registry_taskfns(reg), &err) != 0) {
		oscar_registry_free(&reg);
	}
	return (reg);
}

int bench_tasks_subpool(void)
{
	if (getenv("OSCAR_SUBPOOL_ADDRESS") == NULL) {
		return (-1);
	}
	oscar_registry_t *reg = tasks_registry();
	int               rv  = reg != NULL ? oscar_node_subpool_main(reg) : 1;
	oscar_registry_free(&reg);
	return (rv);
}

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

// run_graph submits graph and waits for its end.
static void run_graph(oscar_pool_t *pool, const char *sup, oscar_value_t *graph)
{
	char           id[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	if (oscar_graph_submit(pool, sup, "bench", graph, NULL, id, sizeof(id), 60000, &err) != 0 ||
	    oscar_graph_wait(pool, sup, "bench", id, 600000, &info, &err) != 0) {
		bench_fail("graph: %s", err.message);
	}
	const char *status = oscar_value_map_str(info, "status");
	if (status == NULL || strcmp(status, "done") != 0) {
		const oscar_value_t *e = oscar_value_map_get(info, "error");
		bench_fail("a graph ended %s: %s", status != NULL ? status : "?",
		    e != NULL && e->type == OSCAR_MAP ? oscar_value_map_str(e, "message") : "");
	}
	oscar_value_free(info);
	oscar_graph_delete(pool, sup, "bench", id, 60000, NULL);
}

static oscar_value_t *inc_task(const char *key, int64_t x)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, oscar_value_new_int(x));
	return (oscar_graph_task(key, "inc", a, 1, false));
}

// inc_of is an inc task taking the output of task prev.
static oscar_value_t *inc_of(const char *key, const char *prev)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, oscar_value_new_ref(prev));
	return (oscar_graph_task(key, "inc", a, 1, false));
}

// tree_graph makes the fan-in tree of round r: 10,000 leaves (2,000
// quick), 100 (20) sums of 100 leaves each, and a sum of those sums.
static oscar_value_t *tree_graph(int r, int leaves, int fan, int *count)
{
	char           key[64];
	int            mids = leaves / fan;
	oscar_value_t *g    = oscar_value_new_array((size_t) (leaves + mids + 1));
	oscar_value_t *top  = oscar_value_new_array((size_t) mids);
	for (int m = 0; m < mids; m++) {
		oscar_value_t *a = oscar_value_new_array((size_t) fan);
		for (int i = 0; i < fan; i++) {
			snprintf(key, sizeof(key), "tree%d-l%d", r, m * fan + i);
			oscar_value_array_push(g, inc_task(key, m * fan + i));
			oscar_value_array_push(a, oscar_value_new_ref(key));
		}
		snprintf(key, sizeof(key), "tree%d-m%d", r, m);
		oscar_value_array_push(g, oscar_graph_task(key, "sum", a, 1, false));
		oscar_value_array_push(top, oscar_value_new_ref(key));
	}
	snprintf(key, sizeof(key), "tree%d-root", r);
	oscar_value_array_push(g, oscar_graph_task(key, "sum", top, 1, false));
	*count = leaves + mids + 1;
	return (g);
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

// cpu_read gives the supervisor pool thread's CPU time in seconds.
static double cpu_read(oscar_pool_t *pool, const oscar_ref_t *clock)
{
	oscar_value_t *v = NULL;
	oscar_error_t  err;
	uint64_t       ns;
	if (oscar_call(pool, clock, "now", NULL, 60000, &v, &err) != 0 ||
	    oscar_value_get_uint(v, &ns) != 0) {
		bench_fail("cannot read the supervisor's CPU clock: %s", err.message);
	}
	oscar_value_free(v);
	return ((double) ns / 1e9);
}

// fetch reads object key from the worker meta says holds it.
static void fetch(oscar_pool_t *pool, const char *sup, const char *key)
{
	oscar_value_t *entries = NULL, *out = NULL;
	oscar_error_t  err;
	const char    *keys[]   = { key, NULL };
	const char    *fields[] = { "workers", NULL };
	const char    *w;
	size_t         len;
	oscar_ref_t    ref;
	if (oscar_meta_get(pool, sup, "bench", keys, 1, fields, false, 60000, &entries, &err) !=
	        0 ||
	    oscar_value_get_str(
	        oscar_value_at(oscar_value_map_get(oscar_value_at(entries, 0), "workers"), 0), &w,
	        &len) != 0 ||
	    oscar_ref_make(&ref, w, "oscar.storage") != 0) {
		bench_fail("cannot locate %s", key);
	}
	oscar_value_t *q = oscar_value_new_map(2);
	oscar_value_t *k = oscar_value_new_array(1);
	oscar_value_array_push(k, oscar_value_new_str(key));
	oscar_value_map_set(q, "session", oscar_value_new_str("bench"));
	oscar_value_map_set(q, "keys", k);
	if (oscar_call(pool, &ref, "get", q, 60000, &out, &err) != 0) {
		bench_fail("cannot fetch %s: %s", key, err.message);
	}
	oscar_value_free(entries);
	oscar_value_free(out);
}

size_t bench_tasks_run(const bench_opts_t *o, bench_row_t *rows, size_t max)
{
	bool   many  = bench_want(o->only, "tasks-10k");
	bool   one   = bench_want(o->only, "task-one");
	bool   tree  = bench_want(o->only, "tasks-tree");
	bool   chain = bench_want(o->only, "tasks-chain");
	bool   cpu   = bench_want(o->only, "tasks-sup-cpu");
	size_t n     = 0;
	if ((!many && !one && !tree && !chain && !cpu) || max == 0) {
		return (0);
	}
	oscar_log_setup("error", NULL);
	oscar_registry_t *reg = tasks_registry();
	if (reg == NULL) {
		bench_fail("cannot make a registry");
	}
	oscar_node_t       *sup = start_node(reg, OSCAR_ROLE_SUPERVISOR, NULL);
	const char         *sa  = oscar_node_address(sup);
	oscar_node_t       *w1  = start_node(reg, OSCAR_ROLE_WORKER, sa);
	oscar_node_t       *w2  = start_node(reg, OSCAR_ROLE_WORKER, sa);
	oscar_pool_t       *pool;
	oscar_pool_config_t cfg;
	oscar_cluster_t    *cl;
	oscar_error_t       err;
	oscar_pool_config_init(&cfg);
	if (oscar_pool_open(&pool, &cfg) != 0 || oscar_cluster_open(&cl, pool, sa, &err) != 0 ||
	    oscar_cluster_wait_workers(cl, 2, 30000, &err) != 0 ||
	    oscar_sessions_create(pool, sa, "bench", false, NULL, NULL, 30000, &err) != 0) {
		bench_fail("cannot set the cluster up: %s", err.message);
	}
	oscar_cluster_close(&cl);
	oscar_ref_t clock;
	if (oscar_create(
	        oscar_node_pool(sup), &cpu_class, "bench.cpu", NULL, 30000, &clock, &err) != 0) {
		bench_fail("cannot make the CPU clock actor: %s", err.message);
	}
	int    rounds = o->rounds;
	double v[100], c[100];
	char   key[64];
	// A warm-up graph: the slots are up and the connections made.
	oscar_value_t *g = oscar_value_new_array(100);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "warm-%d", i);
		oscar_value_array_push(g, inc_task(key, i));
	}
	run_graph(pool, sa, g);
	if ((many || cpu) && n < max) {
		int count = o->quick ? 2000 : 10000;
		for (int r = 0; r < rounds; r++) {
			g = oscar_value_new_array((size_t) count);
			for (int i = 0; i < count; i++) {
				snprintf(key, sizeof(key), "r%d-t%d", r, i);
				oscar_value_array_push(g, inc_task(key, i));
			}
			double c0 = cpu_read(pool, &clock);
			double t0 = bench_now();
			run_graph(pool, sa, g);
			v[r] = count / (bench_now() - t0);
			c[r] = (cpu_read(pool, &clock) - c0) / count * 1e6;
		}
	}
	if (many && n < max) {
		rows[n++] = (bench_row_t) { .name = "tasks-10k",
			.unit                     = "tasks/s",
			.value                    = bench_median(v, rounds),
			.baseline_name            = "Dask distributed",
			.baseline                 = 650,
			.higher_is_better         = true,
			.target                   = 50000 };
	}
	if (cpu && n < max) {
		// No target in issue 12: the figure is reported, and tells how
		// much of a task's end-to-end time the supervisor spends.
		rows[n++] = (bench_row_t) { .name = "tasks-sup-cpu",
			.unit                     = "us",
			.value                    = bench_median(c, rounds),
			.higher_is_better         = false };
	}
	if (tree && n < max) {
		for (int r = 0; r < rounds; r++) {
			int count;
			g         = tree_graph(r, o->quick ? 2000 : 10000, 100, &count);
			double t0 = bench_now();
			run_graph(pool, sa, g);
			v[r] = count / (bench_now() - t0);
		}
		rows[n++] = (bench_row_t) { .name = "tasks-tree",
			.unit                     = "tasks/s",
			.value                    = bench_median(v, rounds),
			.baseline_name            = "Dask distributed",
			.baseline                 = 550,
			.higher_is_better         = true,
			.target                   = 30000 };
	}
	if (chain && n < max) {
		int  count = o->quick ? 200 : 1000;
		char prev[64];
		for (int r = 0; r < rounds; r++) {
			g = oscar_value_new_array((size_t) count);
			snprintf(key, sizeof(key), "chain%d-0", r);
			oscar_value_array_push(g, inc_task(key, 0));
			for (int i = 1; i < count; i++) {
				memcpy(prev, key, sizeof(prev));
				snprintf(key, sizeof(key), "chain%d-%d", r, i);
				oscar_value_array_push(g, inc_of(key, prev));
			}
			double t0 = bench_now();
			run_graph(pool, sa, g);
			v[r] = (bench_now() - t0) / count * 1e6;
		}
		rows[n++] = (bench_row_t) { .name = "tasks-chain",
			.unit                     = "us",
			.value                    = bench_median(v, rounds),
			.baseline_name            = "Dask distributed",
			.baseline                 = 5900,
			.higher_is_better         = false,
			.target                   = 100 };
	}
	if (one && n < max) {
		int reps = o->quick ? 50 : 200;
		for (int r = 0; r < rounds; r++) {
			double t0 = bench_now();
			for (int i = 0; i < reps; i++) {
				snprintf(key, sizeof(key), "one-%d-%d", r, i);
				g = oscar_value_new_array(1);
				oscar_value_array_push(g, inc_task(key, i));
				run_graph(pool, sa, g);
				fetch(pool, sa, key);
			}
			v[r] = (bench_now() - t0) / reps * 1e6;
		}
		rows[n++] = (bench_row_t) { .name = "task-one",
			.unit                     = "us",
			.value                    = bench_median(v, rounds),
			.baseline_name            = "Dask distributed",
			.baseline                 = 10400,
			.higher_is_better         = false,
			.target                   = 500 };
	}
	oscar_pool_free(&pool);
	oscar_node_stop(&w1);
	oscar_node_stop(&w2);
	oscar_node_stop(&sup);
	oscar_registry_free(&reg);
	return (n);
}
