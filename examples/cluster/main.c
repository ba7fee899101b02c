// oscar-cluster: what `make run` shows, the main job of Oscar-C.
//
// It starts a local cluster (a supervisor and two workers with two task
// slots each, every one a process running this very program), then, as a
// Mars or Dask user would: seed 001's spawn examples (inc over 0..9, their
// sum_all, triage with two outputs, the nested driver), a Dask-style map
// of inc over 1,000 numbers and a gather, a repeated pure call served from
// its stored result, a failing task whose error says where it happened, a
// progress bar on a larger graph, and a clean stop. It exits 0 only if
// every result was right. The task functions are the examples of
// examples/task-functions, registered by oscar_session_main below.
//
//     oscar-cluster [--no-progress]
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/oscar.h"
#include "taskfns.h"

static int failures;

// check counts a result that was not right.
static void check(bool ok, const char *what)
{
	if (!ok) {
		failures++;
		printf("  WRONG: %s\n", what);
	}
}

static void print_error(const char *what, const oscar_error_t *err)
{
	failures++;
	printf("  ERROR %s: %s\n", what, err->message);
}

static oscar_value_t *one(oscar_value_t *v)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, v);
	return (a);
}

static void show(const char *label, const oscar_value_t *v)
{
	char buf[512];
	oscar_value_format(v, buf, sizeof(buf));
	printf("  %-34s %s\n", label, buf);
}

static int64_t int_at(const oscar_value_t *v, size_t i)
{
	return (oscar_value_at_int(v, i, INT64_MIN));
}

// seed_001 runs seed 001's examples with spawned objects.
static void seed_001(void)
{
	oscar_error_t   err;
	oscar_object_t *incs[10], *total, *tri[2], *sums[2], *driver;
	oscar_value_t  *refs = oscar_value_new_array(10);
	oscar_value_t  *v[10];

	printf("\nSeed 001, spawn style (lazy until executed):\n");
	for (int i = 0; i < 10; i++) {
		if (oscar_spawn(NULL, "inc", one(oscar_value_new_int(i)), NULL, &incs[i], &err) !=
		    0) {
			print_error("spawning inc", &err);
			oscar_value_free(refs);
			return;
		}
		oscar_value_array_push(refs, oscar_object_ref(incs[i]));
	}
	// The ten incs together (Mars's ExecutableTuple), then their sum.
	if (oscar_execute(NULL, incs, 10, NULL, &err) != 0 ||
	    oscar_fetch(NULL, incs, 10, NULL, v, &err) != 0) {
		print_error("inc over 0..9", &err);
	} else {
		oscar_value_t *list = oscar_value_new_array(10);
		bool           ok   = true;
		for (int i = 0; i < 10; i++) {
			int64_t x;
			ok = ok && oscar_value_get_int(v[i], &x) == 0 && x == i + 1;
			oscar_value_array_push(list, v[i]);
		}
		show("[inc(i) for i in 0..9]", list);
		check(ok, "inc over 0..9 is not 1..10");
		oscar_value_free(list);
	}
	if (oscar_spawn(NULL, "sum_all", one(refs), NULL, &total, &err) != 0 ||
	    oscar_execute(NULL, &total, 1, NULL, &err) != 0 ||
	    oscar_fetch(NULL, &total, 1, NULL, v, &err) != 0) {
		print_error("sum_all", &err);
	} else {
		show("sum_all(those)", v[0]);
		int64_t x = 0;
		check(oscar_value_get_int(v[0], &x) == 0 && x == 55, "sum_all is not 55");
		oscar_value_free(v[0]);
		oscar_object_free(&total);
	}

	// triage with two outputs, each summed.
	oscar_value_t *l    = oscar_value_new_array(4);
	const double   xs[] = { 0.4, 0.7, 0.2, 0.8 };
	for (int i = 0; i < 4; i++) {
		oscar_value_array_push(l, oscar_value_new_float(xs[i]));
	}
	oscar_spawn_opts_t two = { .n_output = 2 };
	if (oscar_spawn(NULL, "triage", one(l), &two, tri, &err) != 0 ||
	    oscar_spawn(NULL, "sum_all", one(oscar_object_ref(tri[0])), NULL, &sums[0], &err) !=
	        0 ||
	    oscar_spawn(NULL, "sum_all", one(oscar_object_ref(tri[1])), NULL, &sums[1], &err) !=
	        0 ||
	    oscar_execute(NULL, sums, 2, NULL, &err) != 0 ||
	    oscar_fetch(NULL, sums, 2, NULL, v, &err) != 0) {
		print_error("triage", &err);
	} else {
		oscar_value_t *pair = oscar_value_new_array(2);
		double         a = 0, b = 0;
		oscar_value_get_float(v[0], &a);
		oscar_value_get_float(v[1], &b);
		oscar_value_array_push(pair, v[0]);
		oscar_value_array_push(pair, v[1]);
		show("triage([0.4, 0.7, 0.2, 0.8]) sums", pair);
		check(a > 0.6 - 1e-9 && a < 0.6 + 1e-9 && b > 1.5 - 1e-9 && b < 1.5 + 1e-9,
		    "the triage sums are not 0.6 and 1.5");
		oscar_value_free(pair);
		oscar_object_free(&tri[0]);
		oscar_object_free(&tri[1]);
		oscar_object_free(&sums[0]);
		oscar_object_free(&sums[1]);
	}

	// The driver spawns inc over 0..9 itself, from inside a task.
	if (oscar_spawn(NULL, "driver", NULL, NULL, &driver, &err) != 0 ||
	    oscar_execute(NULL, &driver, 1, NULL, &err) != 0 ||
	    oscar_fetch(NULL, &driver, 1, NULL, v, &err) != 0) {
		print_error("driver", &err);
	} else {
		show("driver() (nested spawns)", v[0]);
		bool ok = oscar_value_len(v[0]) == 10;
		for (size_t i = 0; ok && i < 10; i++) {
			ok = int_at(v[0], i) == (int64_t) i + 1;
		}
		check(ok, "the driver did not give 1..10");
		oscar_value_free(v[0]);
		oscar_object_free(&driver);
	}
	for (int i = 0; i < 10; i++) {
		oscar_object_free(&incs[i]);
	}
}

// futures runs seed 003's style: map and gather, a pure call again.
static void futures(void)
{
	enum { N = 1000 };
	oscar_error_t   err;
	oscar_future_t *fs[N];
	oscar_value_t  *items = oscar_value_new_array(N);
	oscar_value_t **vals  = calloc(N, sizeof(*vals));

	printf("\nSeed 003, futures (eager):\n");
	for (int i = 0; i < N; i++) {
		oscar_value_array_push(items, oscar_value_new_int(i + 1));
	}
	if (vals == NULL || oscar_future_map(NULL, "inc", items, NULL, fs, &err) != 0) {
		print_error("map", &err);
		free(vals);
		return;
	}
	if (oscar_future_gather(fs, N, 0, vals, &err) != 0) {
		print_error("gather", &err);
	} else {
		bool    ok  = true;
		int64_t sum = 0, x;
		for (int i = 0; i < N; i++) {
			ok = ok && oscar_value_get_int(vals[i], &x) == 0 && x == i + 2;
			sum += x;
			oscar_value_free(vals[i]);
		}
		printf("  %-34s %d results, %" PRId64 " .. %" PRId64 ", sum %" PRId64 "\n",
		    "gather(map(inc, 1..1000))", N, (int64_t) 2, (int64_t) N + 1, sum);
		check(ok && sum == (int64_t) N * (N + 3) / 2, "map and gather gave wrong results");
	}
	free(vals);
	for (int i = 0; i < N; i++) {
		oscar_future_release(&fs[i]);
	}

	// A pure call made twice: the same key, and no second task.
	oscar_future_t  *a, *b;
	oscar_value_t   *va = NULL, *vb = NULL;
	oscar_session_t *s;
	oscar_value_t   *before = NULL, *after = NULL;
	if (oscar_future_submit(NULL, "inc", one(oscar_value_new_int(41)), NULL, &a, &err) != 0 ||
	    oscar_future_result(a, 0, &va, &err) != 0 || oscar_session_default(&s, &err) != 0 ||
	    oscar_graph_list(oscar_session_pool(s), oscar_session_address(s), oscar_session_id(s),
	        0, &before, &err) != 0 ||
	    oscar_future_submit(NULL, "inc", one(oscar_value_new_int(41)), NULL, &b, &err) != 0 ||
	    oscar_graph_list(oscar_session_pool(s), oscar_session_address(s), oscar_session_id(s),
	        0, &after, &err) != 0 ||
	    oscar_future_result(b, 0, &vb, &err) != 0) {
		print_error("the pure call", &err);
		return;
	}
	show("inc(41)", va);
	printf("  %-34s same key %s, no new graph (%zu before, %zu after): %s\n", "inc(41) again",
	    oscar_future_key(b), oscar_value_len(before), oscar_value_len(after),
	    oscar_value_equal(va, vb) ? "served from the stored result" : "DIFFERENT");
	check(strcmp(oscar_future_key(a), oscar_future_key(b)) == 0 &&
	          oscar_value_len(before) == oscar_value_len(after) && oscar_value_equal(va, vb),
	    "the repeated pure call was not served from its stored result");
	oscar_value_free(va);
	oscar_value_free(vb);
	oscar_value_free(before);
	oscar_value_free(after);
	oscar_future_release(&a);
	oscar_future_release(&b);
}

// failing runs a task that fails: its error comes back with where.
static void failing(void)
{
	oscar_error_t   err;
	oscar_future_t *f;
	oscar_value_t  *v = NULL;
	printf("\nA failing task:\n");
	if (oscar_future_submit(
	        NULL, "fail", one(oscar_value_new_str("the input was bad")), NULL, &f, &err) != 0) {
		print_error("submitting fail", &err);
		return;
	}
	int rv = oscar_future_result(f, 0, &v, &err);
	if (rv == 0) {
		oscar_value_free(v);
		check(false, "the failing task did not fail");
	} else {
		printf("  %-34s %s (%s)\n", "fail(\"the input was bad\")", err.message,
		    oscar_strerror(rv));
		check(strstr(err.message, "the input was bad") != NULL &&
		          strstr(err.message, "on worker") != NULL,
		    "the error does not say what and where");
	}
	oscar_future_release(&f);
}

// larger runs a graph of 400 short sleeps and 20 sums with a progress bar.
static void larger(bool bar)
{
	enum { N = 400, G = 20 };
	oscar_error_t   err;
	oscar_object_t *o[N + G];
	printf("\nA larger graph (%d tasks of 5 ms and %d sums of them), with a progress bar:\n", N,
	    G);
	fflush(stdout);
	for (int i = 0; i < N; i++) {
		if (oscar_spawn(NULL, "sleep", one(oscar_value_new_int(5)), NULL, &o[i], &err) !=
		    0) {
			print_error("spawning sleep", &err);
			return;
		}
	}
	for (int g = 0; g < G; g++) {
		oscar_value_t *refs = oscar_value_new_array(N / G);
		for (int i = g * (N / G); i < (g + 1) * (N / G); i++) {
			oscar_value_array_push(refs, oscar_object_ref(o[i]));
		}
		oscar_spawn(NULL, "sum_all", one(refs), NULL, &o[N + g], &err);
	}
	oscar_exec_opts_t opts = { .progress_bar = bar };
	oscar_value_t    *v[G];
	if (oscar_execute(NULL, &o[N], G, &opts, &err) != 0 ||
	    oscar_fetch(NULL, &o[N], G, NULL, v, &err) != 0) {
		print_error("the larger graph", &err);
	} else {
		int64_t total = 0, x;
		for (int g = 0; g < G; g++) {
			oscar_value_get_int(v[g], &x);
			total += x;
			oscar_value_free(v[g]);
		}
		printf("  %-34s %" PRId64 " ms slept in all\n", "sum of the sums", total);
		check(total == 5 * N, "the larger graph's sums are wrong");
	}
	for (int i = 0; i < N + G; i++) {
		oscar_object_free(&o[i]);
	}
}

static int setup(oscar_taskfns_t *fns, oscar_error_t *err)
{
	return (oscar_example_taskfns_add(fns, err));
}

int main(int argc, char **argv)
{
	// In the cluster's processes (this program, run again), this runs
	// the node and returns its exit status.
	int rc = oscar_session_main(argc, argv, setup);
	if (rc >= 0) {
		return (rc);
	}
	bool bar = !(argc > 1 && strcmp(argv[1], "--no-progress") == 0);

	oscar_session_config_t cfg;
	oscar_session_t       *s;
	oscar_error_t          err;
	oscar_session_config_init(&cfg);
	cfg.workers = 2;
	cfg.slots   = 2;
	printf("Starting a local cluster: a supervisor and 2 workers with 2 slots each, every one "
	       "a process of this program.\n");
	fflush(stdout);
	if (oscar_session_new_local(&s, &cfg, &err) != 0) {
		fprintf(stderr, "cannot start the cluster: %s\n", err.message);
		return (1);
	}
	oscar_session_set_default(s);
	printf("The supervisor listens at %s; session %s.\n", oscar_session_address(s),
	    oscar_session_id(s));

	seed_001();
	futures();
	failing();
	larger(bar);

	printf("\nStopping the cluster.\n");
	if (oscar_session_close(&s, &err) != 0) {
		print_error("stopping", &err);
	} else {
		printf("Stopped: every process exited cleanly.\n");
	}
	printf("%s\n", failures == 0 ? "Every result was right." : "Some results were WRONG.");
	return (failures == 0 ? 0 : 1);
}
