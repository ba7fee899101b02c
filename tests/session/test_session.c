// The client API (include/oscar/session.h) against real processes: an
// oscar-supervisor and two oscar-workers with two slots each, loading the
// example task functions as a module, and the default session of a
// program with functions of its own (oscar-test-session-local).
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oscar/session.h"
#include "tests/cluster/support_procs.h"
#include "tests/common/values.h"

TestSuite(session, .init = procs_setup, .fini = procs_teardown, .timeout = 240);

typedef proc_node_t node_t;

static node_t start(const char *name, const char *sup)
{
	return (procs_start_task_node(name, sup, 2));
}

static node_t workers[2];

// cluster starts a supervisor and two workers (in workers[]) and opens a
// session on it.
static oscar_session_t *cluster(node_t *sup)
{
	oscar_error_t err;
	*sup                = start("sup", NULL);
	workers[0]          = start("w1", sup->addr);
	workers[1]          = start("w2", sup->addr);
	oscar_cluster_t *cl = procs_client(sup->addr);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 2, DEADLINE_MS, &err), 0, "%s", err.message);
	oscar_session_config_t cfg;
	oscar_session_config_init(&cfg);
	cfg.timeout_ms     = DEADLINE_MS;
	oscar_session_t *s = NULL;
	cr_assert_eq(oscar_session_open(&s, sup->addr, &cfg, &err), 0, "%s", err.message);
	return (s);
}

static int64_t int_of(const oscar_value_t *v)
{
	int64_t x;
	cr_assert_eq(oscar_value_get_int(v, &x), 0);
	return (x);
}

static oscar_object_t *spawn1(oscar_session_t *s, const char *fn, oscar_value_t *args)
{
	oscar_object_t *o;
	oscar_error_t   err;
	cr_assert_eq(oscar_spawn(s, fn, args, NULL, &o, &err), 0, "%s", err.message);
	return (o);
}

Test(session, seed_001_spawn_execute_fetch)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;

	// inc over 0..9, executed together; nothing ran before.
	oscar_object_t *incs[10];
	oscar_value_t  *refs = oscar_value_new_array(10);
	for (int i = 0; i < 10; i++) {
		incs[i] = spawn1(s, "inc", args1(oscar_value_new_int(i)));
		oscar_value_array_push(refs, oscar_object_ref(incs[i]));
	}
	oscar_value_t *v[10];
	cr_assert_eq(oscar_fetch(s, incs, 1, NULL, v, &err), OSCAR_ESTATE);
	cr_assert(strstr(err.message, "never executed") != NULL, "%s", err.message);
	oscar_value_t *graphs = NULL;
	cr_assert_eq(oscar_graph_list(oscar_session_pool(s), oscar_session_address(s),
	                 oscar_session_id(s), DEADLINE_MS, &graphs, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_len(graphs), 0, "a spawn ran something");
	oscar_value_free(graphs);
	cr_assert_eq(oscar_execute(s, incs, 10, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_fetch(s, incs, 10, NULL, v, &err), 0, "%s", err.message);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(int_of(v[i]), i + 1);
		oscar_value_free(v[i]);
	}

	// sum_all of the ten objects, in an array argument; and a sum of a
	// map holding one of them, executed lazily with its input.
	oscar_object_t *total = spawn1(s, "sum_all", args1(refs));
	cr_assert_eq(oscar_execute(NULL, &total, 1, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_fetch(NULL, &total, 1, NULL, v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v[0]), 55);
	oscar_value_free(v[0]);

	// triage with two outputs, each summed by its own call.
	oscar_value_t *l    = oscar_value_new_array(4);
	const double   xs[] = { 0.4, 0.7, 0.2, 0.8 };
	for (int i = 0; i < 4; i++) {
		oscar_value_array_push(l, oscar_value_new_float(xs[i]));
	}
	oscar_object_t    *tri[2];
	oscar_spawn_opts_t two = { .n_output = 2 };
	cr_assert_eq(oscar_spawn(s, "triage", args1(l), &two, tri, &err), 0, "%s", err.message);
	oscar_object_t *sums[2] = { spawn1(s, "sum_all", args1(oscar_object_ref(tri[0]))),
		spawn1(s, "sum_all", args1(oscar_object_ref(tri[1]))) };
	// The triage outputs are released before anything runs: the sums
	// still hold them.
	oscar_object_free(&tri[0]);
	oscar_object_free(&tri[1]);
	cr_assert_eq(oscar_execute(s, sums, 2, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_fetch(s, sums, 2, NULL, v, &err), 0, "%s", err.message);
	double a, b;
	cr_assert_eq(oscar_value_get_float(v[0], &a), 0);
	cr_assert_eq(oscar_value_get_float(v[1], &b), 0);
	cr_assert_float_eq(a, 0.6, 1e-9);
	cr_assert_float_eq(b, 1.5, 1e-9);
	oscar_value_free(v[0]);
	oscar_value_free(v[1]);

	// The nested driver: a task that spawns inc over 0..9 itself.
	oscar_object_t *d = spawn1(s, "driver", NULL);
	cr_assert_eq(oscar_execute(s, &d, 1, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_fetch(s, &d, 1, NULL, v, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_len(v[0]), 10);
	for (size_t i = 0; i < 10; i++) {
		cr_assert_eq(int_of(oscar_value_at(v[0], i)), (int64_t) i + 1);
	}
	// A slice of it: items 2, 4 and 6.
	oscar_storage_slice_t sl = {
		.start = 2, .stop = 7, .step = 2, .has_start = true, .has_stop = true
	};
	const oscar_storage_slice_t *slices[] = { &sl };
	oscar_value_t               *part;
	cr_assert_eq(oscar_fetch(s, &d, 1, slices, &part, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_len(part), 3);
	cr_assert_eq(int_of(oscar_value_at(part, 0)), 3);
	cr_assert_eq(int_of(oscar_value_at(part, 2)), 7);
	oscar_value_free(part);
	oscar_value_free(v[0]);

	// Executing again submits nothing new.
	cr_assert_eq(oscar_execute(s, incs, 10, NULL, &err), 0, "%s", err.message);

	for (int i = 0; i < 10; i++) {
		oscar_object_free(&incs[i]);
	}
	oscar_object_free(&total);
	oscar_object_free(&sums[0]);
	oscar_object_free(&sums[1]);
	oscar_object_free(&d);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
	cr_assert_null(s);
}

static void count_progress(void *arg, double f)
{
	double *last = arg;
	cr_assert(f >= *last - 1e-9, "progress went back from %f to %f", *last, f);
	*last = f;
}

Test(session, execute_start_wait_progress_and_timeout)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;

	// Forty short sleeps (spawns are impure: forty distinct calls), waited
	// for with a progress callback.
	oscar_object_t *o[40];
	for (int i = 0; i < 40; i++) {
		o[i] = spawn1(s, "sleep", args1(oscar_value_new_int(20)));
	}
	cr_assert_eq(oscar_execute_start(s, o, 40, &err), 0, "%s", err.message);
	double            last = 0;
	oscar_exec_opts_t opts = { .progress = count_progress, .progress_arg = &last };
	cr_assert_eq(oscar_wait(s, o, 40, &opts, &err), 0, "%s", err.message);
	cr_assert_float_eq(last, 1.0, 1e-9);
	for (int i = 0; i < 40; i++) {
		oscar_object_free(&o[i]);
	}

	// A timeout leaves the work running: a later wait sees it end.
	oscar_object_t   *slow  = spawn1(s, "sleep", args1(oscar_value_new_int(1500)));
	oscar_exec_opts_t quick = { .timeout_ms = 100 };
	cr_assert_eq(oscar_execute(s, &slow, 1, &quick, &err), OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "still runs") != NULL, "%s", err.message);
	cr_assert_eq(oscar_wait(s, &slow, 1, NULL, &err), 0, "%s", err.message);
	oscar_value_t *v;
	cr_assert_eq(oscar_fetch(s, &slow, 1, NULL, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 1500);
	oscar_value_free(v);
	oscar_object_free(&slow);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}

Test(session, futures_map_gather_pure_keys_and_release)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;

	// map inc over 0..299 and gather.
	enum { N = 300 };
	oscar_future_t *fs[N];
	oscar_value_t  *items = oscar_value_new_array(N);
	for (int i = 0; i < N; i++) {
		oscar_value_array_push(items, oscar_value_new_int(i));
	}
	cr_assert_eq(oscar_future_map(s, "inc", items, NULL, fs, &err), 0, "%s", err.message);
	oscar_value_t **vals = calloc(N, sizeof(*vals));
	cr_assert_eq(oscar_future_gather(fs, N, 0, vals, &err), 0, "%s", err.message);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(int_of(vals[i]), i + 1);
		oscar_value_free(vals[i]);
	}
	free(vals);

	// A future as an argument: sum_all of three of them.
	oscar_value_t *three = oscar_value_new_array(3);
	for (int i = 0; i < 3; i++) {
		oscar_value_array_push(three, oscar_future_ref(fs[i]));
	}
	oscar_future_t *sum;
	cr_assert_eq(oscar_future_submit(s, "sum_all", args1(three), NULL, &sum, &err), 0, "%s",
	    err.message);
	oscar_value_t *v;
	cr_assert_eq(oscar_future_result(sum, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 1 + 2 + 3);
	oscar_value_free(v);
	bool done = false;
	cr_assert_eq(oscar_future_done(sum, &done, &err), 0, "%s", err.message);
	cr_assert(done);

	// Pure keys: the same call gives the same key, in this session and in
	// another one; it is the function's name and a hash of the call.
	// Made again while the first is held, it is served from the stored
	// result: nothing is sent to the cluster, nothing runs.
	oscar_future_t    *again;
	oscar_pool_stats_t before, after;
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &before, DEADLINE_MS), 0);
	cr_assert_eq(
	    oscar_future_submit(s, "inc", args1(oscar_value_new_int(5)), NULL, &again, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &after, DEADLINE_MS), 0);
	cr_assert_eq(after.calls, before.calls, "the repeated pure call was sent");
	cr_assert_eq(oscar_future_result(again, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 6);
	oscar_value_free(v);
	cr_assert_str_eq(oscar_future_key(again), oscar_future_key(fs[5]));
	cr_assert(strncmp(oscar_future_key(again), "inc-", 4) == 0);
	oscar_session_t *other;
	cr_assert_eq(oscar_session_open(&other, sup.addr, NULL, &err), 0, "%s", err.message);
	oscar_future_t *elsewhere;
	cr_assert_eq(oscar_future_submit(
	                 other, "inc", args1(oscar_value_new_int(5)), NULL, &elsewhere, &err),
	    0, "%s", err.message);
	cr_assert_str_eq(oscar_future_key(elsewhere), oscar_future_key(fs[5]));
	cr_assert_eq(oscar_future_result(elsewhere, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 6);
	oscar_value_free(v);
	// Impure calls get random keys.
	oscar_spawn_opts_t impure = { .pure = false };
	oscar_future_t    *r1, *r2;
	cr_assert_eq(
	    oscar_future_submit(s, "inc", args1(oscar_value_new_int(5)), &impure, &r1, &err), 0);
	cr_assert_eq(
	    oscar_future_submit(s, "inc", args1(oscar_value_new_int(5)), &impure, &r2, &err), 0);
	cr_assert_str_neq(oscar_future_key(r1), oscar_future_key(r2));
	cr_assert_str_neq(oscar_future_key(r1), oscar_future_key(fs[5]));
	oscar_future_t *rs[2] = { r1, r2 };
	oscar_value_t  *rv[2] = { NULL, NULL };
	cr_assert_eq(oscar_future_gather(rs, 2, 0, rv, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(rv[0]), 6);
	cr_assert_eq(int_of(rv[1]), 6);
	oscar_value_free(rv[0]);
	oscar_value_free(rv[1]);

	// Releasing the last future of a call releases its object on the
	// cluster: its count goes, and so does its meta entry.
	char key[OSCAR_TASK_KEY_MAX];
	snprintf(key, sizeof(key), "%s", oscar_future_key(fs[7]));
	const char *keys[] = { key };
	uint64_t    count  = 0;
	cr_assert_eq(oscar_lifecycle_counts(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 keys, 1, &count, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(count, 1);
	oscar_future_release(&fs[7]);
	cr_assert_null(fs[7]);
	// The release is given back with the session's next call to the
	// cluster (batched).
	cr_assert_eq(oscar_future_done(sum, &done, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_lifecycle_counts(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 keys, 1, &count, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(count, 0);
	oscar_value_t *entries;
	cr_assert_eq(oscar_meta_get(oscar_session_pool(s), sup.addr, oscar_session_id(s), keys, 1,
	                 NULL, true, DEADLINE_MS, &entries, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_at(entries, 0)->type, OSCAR_NIL, "the entry is still there");
	oscar_value_free(entries);

	// Cancel: a long sleep ends cancelled, its result says so.
	oscar_future_t *slow;
	cr_assert_eq(
	    oscar_future_submit(s, "sleep", args1(oscar_value_new_int(60000)), NULL, &slow, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_future_done(slow, &done, &err), 0, "%s", err.message);
	cr_assert(!done);
	cr_assert_eq(oscar_future_cancel(slow, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_future_result(slow, 0, &v, &err), OSCAR_ECANCELED, "%s", err.message);
	cr_assert_eq(oscar_future_done(slow, &done, &err), 0, "%s", err.message);
	cr_assert(done);

	for (int i = 0; i < N; i++) {
		oscar_future_release(&fs[i]);
	}
	oscar_future_release(&sum);
	oscar_future_release(&again);
	oscar_future_release(&r1);
	oscar_future_release(&r2);
	oscar_future_release(&slow);
	oscar_future_release(&elsewhere);
	cr_assert_eq(oscar_session_close(&other, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}

// done_within polls oscar_future_done on f until it says done, up to the
// tests' deadline; it gives whether it did.
static bool done_within(oscar_future_t *f)
{
	oscar_error_t err;
	int64_t       end  = procs_now_ms() + DEADLINE_MS;
	bool          done = false;
	while (!done && procs_now_ms() < end) {
		cr_assert_eq(oscar_future_done(f, &done, &err), 0, "%s", err.message);
		if (!done) {
			usleep(20 * 1000);
		}
	}
	return (done);
}

Test(session, future_done_when_its_own_task_failed)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;

	// One graph: a task that fails at once, and an independent long sleep
	// that runs on. The failed one is done; the sleep is not.
	oscar_object_t *o[2];
	o[0] = spawn1(s, "fail", args1(oscar_value_new_str("on purpose")));
	o[1] = spawn1(s, "sleep", args1(oscar_value_new_int(60000)));
	cr_assert_eq(oscar_execute_start(s, o, 2, &err), 0, "%s", err.message);
	cr_assert(done_within(o[0]), "the failed task's future never said done");
	bool done = true;
	cr_assert_eq(oscar_future_done(o[1], &done, &err), 0, "%s", err.message);
	cr_assert(!done, "the sleep said done while it runs");

	// The task manager's per-task states say the same.
	oscar_value_t *ids = NULL;
	cr_assert_eq(oscar_graph_list(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 DEADLINE_MS, &ids, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_len(ids), 1);
	const char    *gid     = oscar_value_at_str(ids, 0);
	const char    *keys[3] = { oscar_object_key(o[0]), oscar_object_key(o[1]), "no-such" };
	oscar_value_t *states  = NULL;
	cr_assert_eq(oscar_graph_task_states(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 gid, keys, 3, DEADLINE_MS, &states, &err),
	    0, "%s", err.message);
	cr_assert_str_eq(oscar_value_map_str(states, keys[0]), "failed");
	const char *st = oscar_value_map_str(states, keys[1]);
	cr_assert(st != NULL && (strcmp(st, "running") == 0 || strcmp(st, "assigned") == 0 ||
	                            strcmp(st, "ready") == 0),
	    "the sleep is %s", st != NULL ? st : "(none)");
	const oscar_value_t *none = oscar_value_map_get(states, "no-such");
	cr_assert(none != NULL && none->type == OSCAR_NIL);
	oscar_value_free(states);
	// Bad input: an unknown graph, a NULL key.
	cr_assert_eq(oscar_graph_task_states(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 "no-graph", keys, 1, DEADLINE_MS, &states, &err),
	    OSCAR_ENOENT);
	const char *nullkey[1] = { NULL };
	cr_assert_eq(oscar_graph_task_states(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 gid, nullkey, 1, DEADLINE_MS, &states, &err),
	    OSCAR_EINVAL);
	oscar_value_free(ids);

	// Cancelled: the sleep is done too.
	cr_assert_eq(oscar_future_cancel(o[1], &err), 0, "%s", err.message);
	cr_assert(done_within(o[1]), "the cancelled task's future never said done");
	oscar_object_free(&o[0]);
	oscar_object_free(&o[1]);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}

// An execution's end brings the values of the objects executed when
// they are small (4 KiB or less), and where the others are: a fetch of a
// small one calls nothing, one of large ones is one storage get from the
// worker that holds them, with no meta lookup.
Test(session, small_values_come_with_the_end_and_large_ones_from_their_worker)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;
	oscar_value_t   *list = oscar_value_new_array(2000);
	for (int i = 0; i < 2000; i++) {
		oscar_value_array_push(list, oscar_value_new_float(i % 2 == 0 ? 0.25 : 0.75));
	}
	oscar_object_t    *halves[2], *sum;
	oscar_spawn_opts_t two = { .n_output = 2 };
	cr_assert_eq(
	    oscar_spawn(s, "triage", args1(list), &two, halves, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_spawn(s, "sum_all", args1(oscar_object_ref(halves[0])), NULL, &sum, &err), 0,
	    "%s", err.message);
	oscar_object_t *all[3] = { halves[0], halves[1], sum };
	cr_assert_eq(oscar_execute(s, all, 3, NULL, &err), 0, "%s", err.message);
	oscar_pool_stats_t before, after;
	oscar_value_t     *v, *vs[2];
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &before, DEADLINE_MS), 0);
	cr_assert_eq(oscar_fetch(s, &sum, 1, NULL, &v, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &after, DEADLINE_MS), 0);
	cr_assert_eq(after.calls - before.calls, 0, "%llu calls to fetch a small value",
	    (unsigned long long) (after.calls - before.calls));
	double f;
	cr_assert_eq(oscar_value_get_float(v, &f), 0);
	cr_assert_float_eq(f, 250.0, 1e-9);
	oscar_value_free(v);
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &before, DEADLINE_MS), 0);
	cr_assert_eq(oscar_fetch(s, halves, 2, NULL, vs, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &after, DEADLINE_MS), 0);
	cr_assert_eq(after.calls - before.calls, 1, "%llu calls to fetch two large values",
	    (unsigned long long) (after.calls - before.calls));
	cr_assert_eq(oscar_value_len(vs[0]), 1000);
	cr_assert_eq(oscar_value_len(vs[1]), 1000);
	oscar_value_free(vs[0]);
	oscar_value_free(vs[1]);
	oscar_object_free(&halves[0]);
	oscar_object_free(&halves[1]);
	oscar_object_free(&sum);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}

Test(session, releases_are_batched_and_counts_go_back_to_zero)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;

	enum { N = 100 };
	oscar_future_t *fs[N];
	oscar_value_t  *items = oscar_value_new_array(N);
	for (int i = 0; i < N; i++) {
		oscar_value_array_push(items, oscar_value_new_int(1000 + i));
	}
	cr_assert_eq(oscar_future_map(s, "inc", items, NULL, fs, &err), 0, "%s", err.message);
	oscar_value_t *vals[N];
	cr_assert_eq(oscar_future_gather(fs, N, 0, vals, &err), 0, "%s", err.message);
	static char kbuf[N][OSCAR_TASK_KEY_MAX];
	const char *keys[N];
	uint64_t    counts[N];
	for (int i = 0; i < N; i++) {
		oscar_value_free(vals[i]);
		snprintf(kbuf[i], sizeof(kbuf[i]), "%s", oscar_future_key(fs[i]));
		keys[i] = kbuf[i];
	}
	cr_assert_eq(oscar_lifecycle_counts(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 keys, N, counts, DEADLINE_MS, &err),
	    0, "%s", err.message);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(
		    counts[i], 1, "%s has count %llu", keys[i], (unsigned long long) counts[i]);
	}
	// A gather of the hundred is one meta lookup and one storage get per
	// worker that holds some of them.
	oscar_value_t *entries = NULL;
	cr_assert_eq(oscar_meta_get(oscar_session_pool(s), sup.addr, oscar_session_id(s), keys, N,
	                 NULL, false, DEADLINE_MS, &entries, &err),
	    0, "%s", err.message);
	const char *holders[2] = { NULL, NULL };
	unsigned    n_holders  = 0;
	for (int i = 0; i < N; i++) {
		const char *w = oscar_value_at_str(
		    oscar_value_map_get(oscar_value_at(entries, (size_t) i), "workers"), 0);
		cr_assert_not_null(w, "%s is on no worker", keys[i]);
		bool known = false;
		for (unsigned j = 0; j < n_holders; j++) {
			known = known || strcmp(holders[j], w) == 0;
		}
		if (!known) {
			cr_assert_lt(n_holders, 2, "more than two workers hold objects");
			holders[n_holders++] = w;
		}
	}
	// A gather again calls nothing: the small values came with the end
	// of their graph.
	oscar_pool_stats_t before, after;
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &before, DEADLINE_MS), 0);
	cr_assert_eq(oscar_future_gather(fs, N, 0, vals, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &after, DEADLINE_MS), 0);
	cr_assert_eq(after.calls - before.calls, 0, "%llu calls for a gather on %u workers",
	    (unsigned long long) (after.calls - before.calls), n_holders);
	oscar_value_free(entries);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(int_of(vals[i]), 1001 + i);
		oscar_value_free(vals[i]);
	}

	oscar_future_t *keep;
	cr_assert_eq(
	    oscar_future_submit(s, "inc", args1(oscar_value_new_int(-5)), NULL, &keep, &err), 0,
	    "%s", err.message);
	oscar_value_t *v;
	cr_assert_eq(oscar_future_result(keep, 0, &v, &err), 0, "%s", err.message);
	oscar_value_free(v);

	// Releasing the hundred futures and one more call to the cluster take
	// a handful of calls from the client's pool, not one per future.
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &before, DEADLINE_MS), 0);
	for (int i = 0; i < N; i++) {
		oscar_future_release(&fs[i]);
	}
	bool done = false;
	cr_assert_eq(oscar_future_done(keep, &done, &err), 0, "%s", err.message);
	cr_assert(done);
	cr_assert_eq(oscar_pool_stats(oscar_session_pool(s), &after, DEADLINE_MS), 0);
	cr_assert(after.calls - before.calls >= 1, "nothing was released");
	cr_assert(after.calls - before.calls <= 4, "%llu calls for releasing %d futures",
	    (unsigned long long) (after.calls - before.calls), N);
	// Every count is back to zero: nothing leaked on the cluster.
	cr_assert_eq(oscar_lifecycle_counts(oscar_session_pool(s), sup.addr, oscar_session_id(s),
	                 keys, N, counts, DEADLINE_MS, &err),
	    0, "%s", err.message);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(
		    counts[i], 0, "%s has count %llu", keys[i], (unsigned long long) counts[i]);
	}

	// Releases still queued at close are given back (a second session,
	// its future released just before it closes), and closing deletes the
	// session with everything it holds.
	oscar_session_t *other;
	cr_assert_eq(oscar_session_open(&other, sup.addr, NULL, &err), 0, "%s", err.message);
	char oid[OSCAR_SESSION_ID_MAX + 1];
	snprintf(oid, sizeof(oid), "%s", oscar_session_id(other));
	oscar_future_t *g;
	cr_assert_eq(
	    oscar_future_submit(other, "inc", args1(oscar_value_new_int(7)), NULL, &g, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_future_result(g, 0, &v, &err), 0, "%s", err.message);
	oscar_value_free(v);
	char gkey[OSCAR_TASK_KEY_MAX];
	snprintf(gkey, sizeof(gkey), "%s", oscar_future_key(g));
	const char *gkeys[1] = { gkey };
	cr_assert_eq(oscar_meta_get(oscar_session_pool(other), sup.addr, oid, gkeys, 1, NULL, false,
	                 DEADLINE_MS, &entries, &err),
	    0, "%s", err.message);
	char holder[OSCAR_ADDR_MAX];
	snprintf(holder, sizeof(holder), "%s",
	    oscar_value_at_str(oscar_value_map_get(oscar_value_at(entries, 0), "workers"), 0));
	oscar_value_free(entries);
	oscar_value_t *held = NULL;
	cr_assert_eq(oscar_storage_get(oscar_session_pool(s), holder, oid, 1, gkeys, NULL, 0, &held,
	                 DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(int_of(oscar_value_at(held, 0)), 8);
	oscar_value_free(held);
	oscar_future_release(&g);
	cr_assert_eq(oscar_session_close(&other, &err), 0, "%s", err.message);
	uint64_t gc = 99;
	int      rv = oscar_lifecycle_counts(
	         oscar_session_pool(s), sup.addr, oid, gkeys, 1, &gc, DEADLINE_MS, &err);
	cr_assert(rv != 0 || gc == 0, "the closed session's object still has count %llu",
	    (unsigned long long) gc);
	// Its worker lets go of the object (the deletes may follow the close).
	int64_t end = procs_now_ms() + DEADLINE_MS;
	for (;;) {
		oscar_value_t *out = NULL;
		rv                 = oscar_storage_get(
		                    oscar_session_pool(s), holder, oid, 1, gkeys, NULL, 0, &out, DEADLINE_MS, &err);
		oscar_value_free(out);
		if (rv != 0 || procs_now_ms() > end) {
			break;
		}
		usleep(20 * 1000);
	}
	cr_assert_neq(rv, 0, "worker %s still holds %s of closed session %s", holder, gkey, oid);
	oscar_future_release(&keep);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}

Test(session, bad_input_gets_clear_errors)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;
	oscar_value_t   *v;

	// An unknown function.
	oscar_object_t *o = spawn1(s, "no_such_fn", NULL);
	cr_assert_eq(oscar_execute(s, &o, 1, NULL, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no_such_fn") != NULL, "%s", err.message);
	oscar_object_free(&o);
	// A bad function name, refused before anything is sent.
	cr_assert_eq(oscar_spawn(s, "no spaces", NULL, NULL, &o, &err), OSCAR_EINVAL);

	// A wrong number of arguments, as the function reports it, with the
	// task, its function and the worker it ran on.
	oscar_value_t *two = oscar_value_new_array(2);
	oscar_value_array_push(two, oscar_value_new_int(1));
	oscar_value_array_push(two, oscar_value_new_int(2));
	oscar_future_t *f;
	cr_assert_eq(oscar_future_submit(s, "add", args1(oscar_value_new_int(1)), NULL, &f, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_future_result(f, 0, &v, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "add takes two numbers") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "(add)") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "on worker tcp://") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, oscar_future_key(f)) != NULL, "%s", err.message);
	// Fetching its object gives the same error.
	cr_assert_eq(oscar_fetch(s, &f, 1, NULL, &v, &err), OSCAR_EBADARGS, "%s", err.message);
	oscar_future_release(&f);
	cr_assert_eq(oscar_future_submit(s, "add", two, NULL, &f, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_future_result(f, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 3);
	oscar_value_free(v);

	// A future of another session: as an argument, and to fetch.
	oscar_session_t *other;
	cr_assert_eq(oscar_session_open(&other, sup.addr, NULL, &err), 0, "%s", err.message);
	oscar_future_t *g;
	cr_assert_eq(oscar_future_submit(other, "inc", args1(oscar_future_ref(f)), NULL, &g, &err),
	    OSCAR_EINVAL);
	cr_assert(strstr(err.message, "not an object of session") != NULL, "%s", err.message);
	cr_assert_eq(oscar_fetch(other, &f, 1, NULL, &v, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "belongs to session") != NULL, "%s", err.message);

	// A closed session.
	cr_assert_eq(oscar_session_close(&other, &err), 0, "%s", err.message);
	oscar_session_t *third;
	cr_assert_eq(oscar_session_open(&third, sup.addr, NULL, &err), 0, "%s", err.message);
	oscar_future_t *h;
	cr_assert_eq(
	    oscar_future_submit(third, "inc", args1(oscar_value_new_int(1)), NULL, &h, &err), 0,
	    "%s", err.message);
	char id[OSCAR_SESSION_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", oscar_session_id(third));
	oscar_session_t *kept = third;
	(void) kept;
	cr_assert_eq(oscar_session_close(&third, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_future_result(h, 0, &v, &err), OSCAR_ECLOSED);
	cr_assert(strstr(err.message, "closed") != NULL, "%s", err.message);
	cr_assert_eq(oscar_future_submit(oscar_object_session(h), "inc", NULL, NULL, &g, &err),
	    OSCAR_ECLOSED);
	// Closing released everything it held on the cluster.
	bool exists = true;
	cr_assert_eq(
	    oscar_sessions_has(oscar_session_pool(s), sup.addr, id, &exists, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert(!exists);
	oscar_future_release(&h); // frees the closed session's memory

	// An address that is not one.
	cr_assert_eq(oscar_session_open(&other, "http://nowhere", NULL, &err), OSCAR_EADDRINVAL);
	cr_assert_null(other);

	oscar_future_release(&f);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}

Test(session, cluster_gone_while_waiting)
{
	node_t           sup;
	oscar_session_t *s = cluster(&sup);
	oscar_error_t    err;
	oscar_future_t  *f;
	cr_assert_eq(
	    oscar_future_submit(s, "sleep", args1(oscar_value_new_int(60000)), NULL, &f, &err), 0,
	    "%s", err.message);
	// The supervisor dies while we wait without a bound of our own.
	proc_sigkill(sup.proc);
	int64_t        t0 = procs_now_ms();
	oscar_value_t *v;
	int            rv = oscar_future_result(f, -1, &v, &err);
	cr_assert_eq(rv, OSCAR_EPEERGONE, "%d %s", rv, err.message);
	cr_assert(strstr(err.message, "went away") != NULL, "%s", err.message);
	cr_assert(procs_now_ms() - t0 < DEADLINE_MS);
	// Releasing and closing do not wait on the cluster seen gone.
	t0 = procs_now_ms();
	oscar_future_release(&f);
	oscar_session_close(&s, &err);
	cr_assert(procs_now_ms() - t0 < DEADLINE_MS / 2);
	proc_sigkill(workers[0].proc);
	proc_sigkill(workers[1].proc);
}

Test(session, default_session_runs_the_programs_own_functions)
{
	// The program closes its session itself, then exits.
	proc_t *p   = proc_run("local", OSCAR_TEST_SESSION_LOCAL, NULL);
	char   *out = proc_output(p, false);
	cr_assert_eq(p->code, 0, "%s\n%s", out, proc_tail(p));
	cr_assert(strstr(out, "total of twice(0..4) = 20") != NULL, "%s", out);
	cr_assert(strstr(out, "twice takes one integer, not 2 arguments") != NULL, "%s", out);
	cr_assert(strstr(out, "closed") != NULL, "%s", out);
	free(out);
	// The progress bar, on a standard error that is not a terminal: plain
	// lines, ending at 100%.
	out = proc_output(p, true);
	cr_assert(strstr(out, "progress: 100%\n") != NULL, "%s", out);
	cr_assert(strchr(out, '\r') == NULL, "%s", out);
	// Only the execution that asked for it drew a bar.
	const char *end = strstr(out, "progress: 100%\n");
	cr_assert(strstr(end + 1, "progress: 100%") == NULL, "%s", out);
	free(out);
	// Without closing: the cluster is stopped at exit, nothing is left.
	p   = proc_run("local-exit", OSCAR_TEST_SESSION_LOCAL, "exit", NULL);
	out = proc_output(p, false);
	cr_assert_eq(p->code, 0, "%s\n%s", out, proc_tail(p));
	// Its worker, by its pid, is gone (not merely orphaned).
	const char *at  = strstr(out, "workers pid ");
	long long   pid = at != NULL ? atoll(at + strlen("workers pid ")) : 0;
	cr_assert(pid > 0, "%s", out);
	errno = 0;
	cr_assert(
	    kill((pid_t) pid, 0) == -1 && errno == ESRCH, "worker %lld outlived the program", pid);
	free(out);
	procs_assert_no_orphans();
}

Test(session, default_session_cluster_gone_while_waiting)
{
	proc_t *p   = proc_run("gone", OSCAR_TEST_SESSION_LOCAL, "gone", NULL);
	char   *out = proc_output(p, false);
	cr_assert_eq(p->code, 0, "%s\n%s", out, proc_tail(p));
	cr_assert(strstr(out, "went away") != NULL, "%s", out);
	free(out);
	procs_assert_no_orphans();
}

Test(session, local_cluster_control)
{
	oscar_error_t          err;
	oscar_session_config_t cfg;
	oscar_session_t       *s         = NULL;
	static const char     *modules[] = { OSCAR_TEST_TASKFNS, NULL };

	oscar_session_config_init(&cfg);
	cfg.timeout_ms  = DEADLINE_MS;
	cfg.bin_dir     = OSCAR_TEST_BIN_DIR;
	cfg.modules     = modules;
	cfg.workers     = 2;
	cfg.slots       = 1;
	cfg.cores       = 3;
	cfg.memory      = 1u << 30;
	cfg.min_workers = 3;
	cr_assert_eq(oscar_session_new_local(&s, &cfg, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "min_workers") != NULL, "%s", err.message);
	cr_assert_null(s);

	cfg.min_workers = 1;
	cr_assert_eq(oscar_session_new_local(&s, &cfg, &err), 0, "%s", err.message);
	cr_assert(strncmp(oscar_session_address(s), "tcp://", 6) == 0);
	oscar_cluster_t *cl;
	cr_assert_eq(oscar_cluster_open(&cl, oscar_session_pool(s), oscar_session_address(s), &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 2, DEADLINE_MS, &err), 0, "%s", err.message);
	oscar_node_info_t *nodes;
	size_t             n;
	cr_assert_eq(oscar_cluster_nodes(cl, OSCAR_ROLE_WORKER, 0, &nodes, &n, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(nodes[i].cores, 3);
		cr_assert_eq(nodes[i].memory, (uint64_t) 1 << 30);
		cr_assert_eq(nodes[i].sub_pools, 1);
	}
	oscar_node_info_free(nodes, n);
	oscar_cluster_close(&cl);

	// Made the default, it serves NULL.
	oscar_session_set_default(s);
	oscar_future_t *f;
	oscar_value_t  *v;
	cr_assert_eq(
	    oscar_future_submit(NULL, "inc", args1(oscar_value_new_int(1)), NULL, &f, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_object_session(f), s);
	cr_assert_eq(oscar_future_result(f, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 2);
	oscar_value_free(v);
	oscar_future_release(&f);
	int64_t pid = oscar_session_local_pid(s, 0);
	cr_assert(pid > 0);
	// Closing stops the cluster: its processes are gone.
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
	cr_assert_eq(kill((pid_t) pid, 0), -1);
	procs_assert_no_orphans();
}

Test(session, ipc_cluster)
{
	oscar_error_t err;
	char          path[PATH_MAX], url[PATH_MAX + 8], addr_file[PATH_MAX], addr[OSCAR_ADDR_MAX];
	procs_path(path, sizeof(path), "sup.sock");
	snprintf(url, sizeof(url), "ipc://%s", path);
	procs_path(addr_file, sizeof(addr_file), "sup.addr");
	proc_t *sup = proc_start("sup", OSCAR_TEST_SUPERVISOR, "--listen", url, "--address-file",
	    addr_file, "--heartbeat-interval=200ms", NULL);
	proc_wait_address(sup, addr_file, addr, sizeof(addr));
	node_t           w  = start("w1", addr);
	oscar_cluster_t *cl = procs_client(addr);
	(void) w;
	cr_assert_eq(oscar_cluster_wait_workers(cl, 1, DEADLINE_MS, &err), 0, "%s", err.message);
	oscar_session_t *a, *b;
	cr_assert_eq(oscar_session_open(&a, addr, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_session_open(&b, addr, NULL, &err), 0, "%s", err.message);
	oscar_future_t *f, *g;
	oscar_value_t  *v;
	cr_assert_eq(oscar_future_submit(a, "inc", args1(oscar_value_new_int(1)), NULL, &f, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_future_submit(b, "inc", args1(oscar_value_new_int(2)), NULL, &g, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_future_result(f, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 2);
	oscar_value_free(v);
	cr_assert_eq(oscar_future_result(g, 0, &v, &err), 0, "%s", err.message);
	cr_assert_eq(int_of(v), 3);
	oscar_value_free(v);
	oscar_future_release(&f);
	oscar_future_release(&g);
	cr_assert_eq(oscar_session_close(&a, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_session_close(&b, &err), 0, "%s", err.message);
}

Test(session, tls_cluster)
{
	oscar_error_t err;
	char cert[PATH_MAX], key[PATH_MAX], cmd[3 * PATH_MAX], sup_file[PATH_MAX], w_file[PATH_MAX],
	    sup_addr[OSCAR_ADDR_MAX], w_addr[OSCAR_ADDR_MAX];
	procs_path(cert, sizeof(cert), "cert.pem");
	procs_path(key, sizeof(key), "key.pem");
	snprintf(cmd, sizeof(cmd),
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
	    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
	    key, cert);
	cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
	procs_path(sup_file, sizeof(sup_file), "sup.addr");
	procs_path(w_file, sizeof(w_file), "w.addr");
	(void) w_addr;
	proc_t *sup = proc_start("sup", OSCAR_TEST_SUPERVISOR, "--listen", "tls+tcp://127.0.0.1:0",
	    "--tls-cert", cert, "--tls-key", key, "--tls-ca", cert, "--address-file", sup_file,
	    "--heartbeat-interval=200ms", NULL);
	proc_wait_address(sup, sup_file, sup_addr, sizeof(sup_addr));
	proc_t *w = proc_start("w", OSCAR_TEST_WORKER, "--listen", "tls+tcp://127.0.0.1:0",
	    "--tls-cert", cert, "--tls-key", key, "--tls-ca", cert, "--address-file", w_file,
	    "--supervisor", sup_addr, NULL);
	proc_wait_address(w, w_file, w_addr, sizeof(w_addr));

	oscar_session_config_t cfg;
	oscar_session_config_init(&cfg);
	cfg.timeout_ms     = DEADLINE_MS;
	cfg.tls_cert_file  = cert;
	cfg.tls_key_file   = key;
	cfg.tls_ca_file    = cert;
	oscar_session_t *s = NULL;
	cr_assert_eq(oscar_session_open(&s, sup_addr, &cfg, &err), 0, "%s", err.message);
	oscar_cluster_t *cl;
	cr_assert_eq(oscar_cluster_open(&cl, oscar_session_pool(s), sup_addr, &err), 0);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 1, DEADLINE_MS, &err), 0, "%s", err.message);
	oscar_cluster_close(&cl);
	// The session exists on the cluster until closed. (Task slots are
	// sub pools, which a tls+tcp:// node cannot have yet: no task runs.)
	char id[OSCAR_SESSION_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", oscar_session_id(s));
	bool exists = false;
	cr_assert_eq(
	    oscar_sessions_has(oscar_session_pool(s), sup_addr, id, &exists, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert(exists);
	oscar_session_t *t;
	cr_assert_eq(oscar_session_open(&t, sup_addr, &cfg, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_sessions_has(oscar_session_pool(t), sup_addr, id, &exists, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert(!exists);
	s = t;
	cr_assert_eq(oscar_session_close(&s, &err), 0, "%s", err.message);
}
