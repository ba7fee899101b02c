// The graph engine alone (services/task/graph.c): how many tasks per
// second the supervisor's core can schedule and retire, with no actors,
// no wire and no slots. A fake executor of two workers (one slot and a
// queue of 16 each) finishes every task it is sent at once and reports
// them in one batch per worker per turn, as the executor will.
//
//   graph-engine       10,000 independent tasks, submit to graph done
//   graph-engine-tree  a fan-in tree: 10,000 leaves, fan-in 100 (10,101
//                      tasks)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "services/task/graph.h"

const char *const bench_graph_names[] = { "graph-engine", "graph-engine-tree", NULL };

#define GRAPH_WORKERS 2

typedef struct gbench {
	const char *keys[GRAPH_WORKERS][64];
	size_t      n[GRAPH_WORKERS];
} gbench_t;

static bool gb_stored(void *arg, const char *key)
{
	return (false);
}

static int worker_index(const char *worker)
{
	return (worker[1] - '1');
}

static void gb_assign(void *arg, const char *worker, osc_tm_task_t *const *tasks, size_t n)
{
	gbench_t *b = arg;
	int       w = worker_index(worker);
	for (size_t i = 0; i < n; i++) {
		b->keys[w][b->n[w]++] = osc_tm_task_key(tasks[i]);
	}
}

static void gb_cancel(void *arg, const char *worker, const char *const *keys, size_t n)
{
}

// graph_run submits specs and runs them to the end; returns seconds.
static double graph_run(osc_tm_spec_t *specs, size_t n)
{
	gbench_t                 b   = { 0 };
	osc_tm_ops_t             ops = { gb_stored, NULL, gb_assign, gb_cancel, &b };
	osc_tm_t                *tm;
	osc_tm_graph_t          *g;
	oscar_error_t            err;
	int                      rv;
	static const char *const fns[]    = { "inc", "sum" };
	static const uint64_t    sizes[1] = { 8 };
	if ((rv = osc_tm_new(&tm, &ops, NULL)) != 0) {
		bench_die("graph engine", rv);
	}
	const char *addrs[GRAPH_WORKERS] = { "w1", "w2" };
	for (int w = 0; w < GRAPH_WORKERS; w++) {
		if ((rv = osc_tm_worker_add(tm, addrs[w], 1, 16, fns, 2, &err)) != 0) {
			bench_fail("graph engine: %s", err.message);
		}
	}
	double t0 = bench_now();
	if ((rv = osc_tm_submit(tm, "bench", specs, n, &g, &err)) != 0) {
		bench_fail("graph engine: %s", err.message);
	}
	osc_tm_report_t reports[64];
	osc_tm_info_t   info;
	for (;;) {
		osc_tm_flush(tm);
		size_t sent = 0;
		for (int w = 0; w < GRAPH_WORKERS; w++) {
			for (size_t i = 0; i < b.n[w]; i++) {
				reports[i] = (osc_tm_report_t) { .key = b.keys[w][i],
					.kind                         = OSC_TM_FINISHED,
					.sizes                        = sizes,
					.n_sizes                      = 1 };
			}
			sent += b.n[w];
			size_t k = b.n[w];
			b.n[w]   = 0;
			if (k > 0) {
				osc_tm_report(tm, addrs[w], reports, k);
			}
		}
		if (sent == 0) {
			break;
		}
	}
	double t1 = bench_now();
	osc_tm_graph_info(g, &info);
	if (info.status != OSC_GRAPH_DONE || info.counts[OSC_TASK_DONE] != n) {
		bench_fail("graph engine: the graph ended %s with %zu of %zu tasks done",
		    osc_graph_status_name(info.status), info.counts[OSC_TASK_DONE], n);
	}
	osc_tm_free(&tm);
	return (t1 - t0);
}

// specs_make builds the specs of a workload (the keys and inputs live in
// the arrays given).
static size_t specs_make(bool tree, osc_tm_spec_t *specs, char (*keys)[16], osc_tm_input_t *inputs)
{
	size_t n = 0;
	if (!tree) {
		for (int i = 0; i < 10000; i++, n++) {
			snprintf(keys[n], sizeof(keys[n]), "t%d", i);
			specs[n] = (osc_tm_spec_t) { .key = keys[n], .fn = "inc", .n_output = 1 };
		}
		return (n);
	}
	size_t k = 0;
	for (int s = 0; s < 100; s++) {
		for (int l = 0; l < 100; l++, n++) {
			snprintf(keys[n], sizeof(keys[n]), "l%d", s * 100 + l);
			specs[n] = (osc_tm_spec_t) { .key = keys[n], .fn = "inc", .n_output = 1 };
		}
		snprintf(keys[n], sizeof(keys[n]), "s%d", s);
		specs[n] = (osc_tm_spec_t) { .key = keys[n],
			.fn                       = "sum",
			.n_output                 = 1,
			.inputs                   = &inputs[k],
			.n_inputs                 = 100 };
		for (int l = 0; l < 100; l++) {
			inputs[k++] = (osc_tm_input_t) { keys[n - 100 + l], OSC_TM_WHOLE };
		}
		n++;
	}
	specs[n] = (osc_tm_spec_t) {
		.key = "root", .fn = "sum", .n_output = 1, .inputs = &inputs[k], .n_inputs = 100
	};
	for (int s = 0; s < 100; s++) {
		inputs[k + s] = (osc_tm_input_t) { keys[s * 101 + 100], OSC_TM_WHOLE };
	}
	return (n + 1);
}

size_t bench_graph_run(const bench_opts_t *o, bench_row_t *rows, size_t max)
{
	static double         v[2][100];
	static char           keys[10101][16];
	static osc_tm_input_t inputs[10100];
	static osc_tm_spec_t  specs[10101];
	size_t                nrows = 0;
	for (int r = 0; r < o->rounds; r++) {
		for (int w = 0; w < 2; w++) {
			if (!bench_want(o->only, bench_graph_names[w])) {
				continue;
			}
			size_t n = specs_make(w == 1, specs, keys, inputs);
			v[w][r]  = (double) n / graph_run(specs, n) / 1e6;
		}
	}
	for (int w = 0; w < 2 && nrows < max; w++) {
		if (bench_want(o->only, bench_graph_names[w])) {
			rows[nrows++] = (bench_row_t) { .name = bench_graph_names[w],
				.unit                         = "M tasks/s",
				.value                        = bench_median(v[w], o->rounds),
				.higher_is_better             = true,
				.target                       = 1.0 };
		}
	}
	return (nrows);
}
