// The graph engine (services/task/graph.c), driven by a fake executor:
// the checks of a submission, graphs of several shapes run to the end,
// failures, cancel, pure tasks reused and joined, workers lost,
// locality, bounded queues and waiters.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "oscar/oscar.h"
#include "services/task/graph.h"
#include "tests/common/rng.h"

// ---------------------------------------------------------------------------
// The fake executor. It remembers each submitted task's inputs, checks at
// every assignment that they have all finished, and runs what it was
// given when asked, reporting in one batch per worker.

typedef struct entry {
	char     key[OSCAR_TASK_KEY_MAX];
	char   **inputs; // task keys this task reads
	size_t   n_inputs;
	bool     done;
	int      runs;
	char     ran_on[64];
	int      fail_code; // report this error instead of success
	int      fail_signal;
	uint64_t out_bytes;
} entry_t;

typedef struct sent {
	char     worker[64];
	char     key[OSCAR_TASK_KEY_MAX];
	unsigned n_output;
	char     after[OSCAR_TASK_KEY_MAX]; // run ahead behind it ("" if not)
} sent_t;

typedef struct fake_worker {
	char     addr[64];
	unsigned bound; // slots + queue
	unsigned outstanding;
	bool     lost; // its tasks are never run
} fake_worker_t;

static struct {
	osc_tm_t     *tm;
	osc_map_t     entries; // entry_t *, by key
	osc_map_t     stored;  // char *, by key
	sent_t       *sent;
	size_t        n_sent, cap_sent;
	size_t        head; // sent[head..n_sent) not run yet
	char        **cancels;
	size_t        n_cancels, cap_cancels;
	fake_worker_t workers[8];
	size_t        n_workers;
	size_t        batches;
	// A stored object's place, for locate.
	char     loc_key[64];
	char     loc_worker[64];
	uint64_t loc_bytes;
	int      ended;
	bool     store_results; // finished tasks' outputs become stored
	// Finished reports tell run_us as the tasks' run time when timed.
	bool     timed;
	uint64_t run_us;
	unsigned queue_max; // the engine's limits.queue_max
} F;

static entry_t *entry_find(const char *key)
{
	uint64_t h   = osc_hash_str(key);
	size_t   pos = osc_map_first(&F.entries, h);
	entry_t *e;
	while ((e = osc_map_next(&F.entries, h, &pos)) != NULL) {
		if (strcmp(e->key, key) == 0) {
			return (e);
		}
	}
	return (NULL);
}

static bool is_stored(const char *key)
{
	uint64_t h   = osc_hash_str(key);
	size_t   pos = osc_map_first(&F.stored, h);
	char    *k;
	while ((k = osc_map_next(&F.stored, h, &pos)) != NULL) {
		if (strcmp(k, key) == 0) {
			return (true);
		}
	}
	return (false);
}

static void store(const char *key)
{
	if (is_stored(key)) {
		return;
	}
	cr_assert_eq(osc_map_reserve(&F.stored), 0);
	osc_map_insert(&F.stored, osc_hash_str(key), strdup(key));
}

static fake_worker_t *fworker(const char *addr)
{
	for (size_t i = 0; i < F.n_workers; i++) {
		if (strcmp(F.workers[i].addr, addr) == 0) {
			return (&F.workers[i]);
		}
	}
	cr_assert_fail("unknown worker %s", addr);
	return (NULL);
}

static bool cb_stored(void *arg, const char *key)
{
	return (is_stored(key));
}

static size_t cb_locate(void *arg, const char *key, osc_tm_loc_t *locs, size_t max)
{
	if (strcmp(key, F.loc_key) != 0 || max == 0) {
		return (0);
	}
	locs[0].worker = F.loc_worker;
	locs[0].bytes  = F.loc_bytes;
	return (1);
}

// sent_before tells whether task key was sent to worker and not run yet.
static bool sent_before(const char *worker, const char *key)
{
	for (size_t i = F.head; i < F.n_sent; i++) {
		if (strcmp(F.sent[i].key, key) == 0 && strcmp(F.sent[i].worker, worker) == 0) {
			return (true);
		}
	}
	return (false);
}

static void cb_assign(void *arg, const char *worker, osc_tm_task_t *const *tasks, size_t n)
{
	fake_worker_t *fw = fworker(worker);
	F.batches++;
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		const char *key   = osc_tm_task_key(tasks[i]);
		const char *after = osc_tm_task_after(tasks[i]);
		entry_t    *e     = entry_find(key);
		cr_assert_not_null(e, "assigned %s, never submitted", key);
		cr_assert_not(e->done, "%s assigned after it finished", key);
		cr_assert_str_eq(osc_tm_task_worker(tasks[i]), worker);
		for (size_t j = 0; j < e->n_inputs; j++) {
			char task_key[OSCAR_TASK_KEY_MAX];
			snprintf(task_key, sizeof(task_key), "%s", e->inputs[j]);
			char *hash = strchr(task_key, '#');
			if (hash != NULL) {
				*hash = '\0';
			}
			entry_t *in = entry_find(task_key);
			// A task run ahead follows its one unfinished input,
			// sent to the same worker before it.
			bool ahead = after != NULL && strcmp(after, task_key) == 0 &&
			             sent_before(worker, after);
			cr_assert(is_stored(e->inputs[j]) || (in != NULL && in->done) || ahead,
			    "%s assigned before its input %s finished", key, e->inputs[j]);
		}
		fw->outstanding++;
		cr_assert_leq(
		    fw->outstanding, fw->bound, "worker %s holds more than it may", worker);
		if (osc_reserve(&F.sent, &F.cap_sent, F.n_sent, sizeof(*F.sent), 64) != 0) {
			cr_assert_fail("out of memory");
		}
		sent_t *s = &F.sent[F.n_sent++];
		snprintf(s->worker, sizeof(s->worker), "%s", worker);
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->n_output = osc_tm_task_n_output(tasks[i]);
		snprintf(s->after, sizeof(s->after), "%s", after != NULL ? after : "");
	}
}

static void cb_cancel(void *arg, const char *worker, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char buf[OSCAR_TASK_KEY_MAX + 80];
		snprintf(buf, sizeof(buf), "%s:%s", worker, keys[i]);
		cr_assert_eq(
		    osc_reserve(&F.cancels, &F.cap_cancels, F.n_cancels, sizeof(char *), 8), 0);
		F.cancels[F.n_cancels++] = strdup(buf);
	}
}

static bool cancelled_sent(const char *worker, const char *key)
{
	char buf[OSCAR_TASK_KEY_MAX + 80];
	snprintf(buf, sizeof(buf), "%s:%s", worker, key);
	for (size_t i = 0; i < F.n_cancels; i++) {
		if (strcmp(F.cancels[i], buf) == 0) {
			return (true);
		}
	}
	return (false);
}

static void setup_limits(const osc_tm_limits_t *limits)
{
	memset(&F, 0, sizeof(F));
	osc_tm_ops_t ops = { cb_stored, cb_locate, cb_assign, cb_cancel, NULL };
	cr_assert_eq(osc_tm_new(&F.tm, &ops, limits), 0);
	F.queue_max =
	    limits != NULL && limits->queue_max != 0 ? limits->queue_max : OSC_TM_DEFAULT_QUEUE_MAX;
}

static void setup(void)
{
	setup_limits(NULL);
}

static void teardown(void)
{
	osc_tm_free(&F.tm);
	cr_assert_null(F.tm);
	for (size_t i = 0; i < F.entries.cap; i++) {
		entry_t *e = osc_map_at(&F.entries, i);
		if (e != NULL) {
			for (size_t j = 0; j < e->n_inputs; j++) {
				free(e->inputs[j]);
			}
			free(e->inputs);
			free(e);
		}
	}
	for (size_t i = 0; i < F.stored.cap; i++) {
		free(osc_map_at(&F.stored, i));
	}
	for (size_t i = 0; i < F.n_cancels; i++) {
		free(F.cancels[i]);
	}
	osc_map_fini(&F.entries);
	osc_map_fini(&F.stored);
	free(F.sent);
	free(F.cancels);
}

TestSuite(graph, .init = setup, .fini = teardown);

static const char *const all_fns[] = { "inc", "add", "sum", "triage", "slow" };

static void worker(const char *addr, unsigned slots, unsigned queue)
{
	oscar_error_t err;
	cr_assert_eq(
	    osc_tm_worker_add(F.tm, addr, slots, queue, all_fns, 5, &err), 0, "%s", err.message);
	fake_worker_t *fw = &F.workers[F.n_workers++];
	snprintf(fw->addr, sizeof(fw->addr), "%s", addr);
	// An automatic queue may grow to queue_max.
	fw->bound = slots + (queue == OSC_TM_QUEUE_AUTO ? F.queue_max : queue);
}

// A graph under construction: specs whose strings and inputs the
// builder owns.
typedef struct gb {
	osc_tm_spec_t *specs;
	size_t         n, cap;
} gb_t;

// task adds a task to b; refs is a string of inputs separated by
// spaces, each "key" or "key#i".
static void task(
    gb_t *b, const char *key, const char *fn, unsigned n_output, bool pure, const char *refs)
{
	cr_assert_eq(osc_reserve(&b->specs, &b->cap, b->n, sizeof(*b->specs), 16), 0);
	osc_tm_spec_t *s = &b->specs[b->n++];
	memset(s, 0, sizeof(*s));
	s->key      = strdup(key);
	s->fn       = strdup(fn);
	s->n_output = n_output;
	s->pure     = pure;
	s->args     = oscar_value_new_array(0);
	entry_t *e  = entry_find(key);
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->out_bytes = 8;
		cr_assert_eq(osc_map_reserve(&F.entries), 0);
		osc_map_insert(&F.entries, osc_hash_str(key), e);
	}
	if (refs == NULL || refs[0] == '\0') {
		return;
	}
	char  *copy = strdup(refs);
	size_t n    = 1;
	for (const char *p = refs; *p; p++) {
		n += *p == ' ';
	}
	osc_tm_input_t *in = calloc(n, sizeof(*in));
	size_t          i  = 0;
	char           *save;
	for (char *tok = strtok_r(copy, " ", &save); tok != NULL;
	     tok       = strtok_r(NULL, " ", &save)) {
		size_t len;
		int    index;
		cr_assert_eq(osc_tm_ref_parse(tok, &len, &index), 0, "%s", tok);
		in[i].key   = strndup(tok, len);
		in[i].index = index;
		i++;
	}
	free(copy);
	s->inputs   = in;
	s->n_inputs = i;
	// The latest submission of a key says what it reads: the raw
	// references, "key" or "key#i".
	for (size_t j = 0; j < e->n_inputs; j++) {
		free(e->inputs[j]);
	}
	free(e->inputs);
	e->inputs   = calloc(i, sizeof(char *));
	e->n_inputs = i;
	copy        = strdup(refs);
	size_t k    = 0;
	for (char *tok = strtok_r(copy, " ", &save); tok != NULL;
	     tok       = strtok_r(NULL, " ", &save)) {
		e->inputs[k++] = strdup(tok);
	}
	free(copy);
}

static void gb_free(gb_t *b)
{
	for (size_t i = 0; i < b->n; i++) {
		osc_tm_spec_t *s = &b->specs[i];
		free((char *) s->key);
		free((char *) s->fn);
		for (size_t j = 0; j < s->n_inputs; j++) {
			free((char *) s->inputs[j].key);
		}
		free((void *) s->inputs);
		oscar_value_free(s->args);
	}
	free(b->specs);
	memset(b, 0, sizeof(*b));
}

static int submit(gb_t *b, const char *id, osc_tm_graph_t **gp, oscar_error_t *err)
{
	int rv = osc_tm_submit(F.tm, id, b->specs, b->n, gp, err);
	if (rv == 0) {
		for (size_t i = 0; i < b->n; i++) {
			cr_assert_null(b->specs[i].args, "args of %s not taken", b->specs[i].key);
		}
	}
	gb_free(b);
	return (rv);
}

static osc_tm_graph_t *submit_ok(gb_t *b, const char *id)
{
	osc_tm_graph_t *g;
	oscar_error_t   err;
	int             rv = submit(b, id, &g, &err);
	cr_assert_eq(rv, 0, "%s: %s", id, err.message);
	return (g);
}

static entry_t *E(const char *key);

// run_step runs every task sent and not run yet: each worker gets one
// batch of reports (started and finished, or errored). Returns how many
// ran.
static size_t run_step(void)
{
	osc_tm_flush(F.tm);
	size_t end = F.n_sent, ran = end - F.head;
	for (size_t wi = 0; wi < F.n_workers; wi++) {
		fake_worker_t *fw = &F.workers[wi];
		if (fw->lost) {
			continue;
		}
		osc_tm_report_t *r = calloc(2 * (end - F.head) + 1, sizeof(*r));
		size_t           n = 0;
		// Every task's outputs have the same size here: one array does.
		static uint64_t out_sizes[OSCAR_TASK_OUTPUT_MAX];
		for (size_t i = F.head; i < end; i++) {
			sent_t *s = &F.sent[i];
			if (strcmp(s->worker, fw->addr) != 0) {
				continue;
			}
			entry_t *e = entry_find(s->key);
			fw->outstanding--;
			// As the executor does: a task run ahead behind one that
			// failed never runs.
			if (s->after[0] != '\0' && !E(s->after)->done) {
				r[n++] = (osc_tm_report_t) { .key = e->key,
					.kind                     = OSC_TM_ERRORED,
					.code                     = OSCAR_ECANCELED,
					.message                  = "its input failed" };
				continue;
			}
			e->runs++;
			snprintf(e->ran_on, sizeof(e->ran_on), "%s", s->worker);
			r[n++] = (osc_tm_report_t) { .key = e->key, .kind = OSC_TM_STARTED };
			if (e->fail_code != 0) {
				r[n++] = (osc_tm_report_t) { .key = e->key,
					.kind                     = OSC_TM_ERRORED,
					.code                     = e->fail_code,
					.signal                   = e->fail_signal,
					.message                  = "it went wrong" };
				continue;
			}
			for (unsigned k = 0; k < s->n_output; k++) {
				out_sizes[k] = e->out_bytes;
			}
			e->done = true;
			if (F.store_results && s->n_output == 1) {
				store(e->key);
			}
			for (unsigned k = 0; F.store_results && s->n_output > 1 && k < s->n_output;
			     k++) {
				char obj[OSCAR_TASK_KEY_MAX + 16];
				snprintf(obj, sizeof(obj), "%s#%u", e->key, k);
				store(obj);
			}
			r[n++] = (osc_tm_report_t) { .key = e->key,
				.kind                     = OSC_TM_FINISHED,
				.sizes                    = out_sizes,
				.n_sizes                  = s->n_output,
				.timed                    = F.timed,
				.us                       = F.run_us };
		}
		if (n > 0) {
			cr_assert_eq(osc_tm_report(F.tm, fw->addr, r, n), 0);
		}
		free(r);
	}
	F.head = end;
	osc_tm_flush(F.tm);
	return (ran);
}

// run_all runs until nothing more is sent.
static void run_all(void)
{
	while (run_step() > 0 || F.head < F.n_sent) {
	}
}

static osc_tm_info_t info_of(osc_tm_graph_t *g)
{
	osc_tm_info_t info;
	osc_tm_graph_info(g, &info);
	return (info);
}

// run_done submits b's tasks as graph id, runs everything to the end and
// asserts that the graph is done.
static osc_tm_graph_t *run_done(gb_t *b, const char *id)
{
	osc_tm_graph_t *g = submit_ok(b, id);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	return (g);
}

static osc_task_state_t state_of(osc_tm_graph_t *g, const char *key)
{
	osc_tm_task_t *t = osc_tm_graph_task(g, key);
	cr_assert_not_null(t, "no task %s", key);
	return (osc_tm_task_state(t));
}

static entry_t *E(const char *key)
{
	entry_t *e = entry_find(key);
	cr_assert_not_null(e);
	return (e);
}

// expect_reject submits b and checks the error's code and text.
static void expect_reject(gb_t *b, int code, const char *text)
{
	osc_tm_graph_t *g = NULL;
	oscar_error_t   err;
	osc_tm_flush(F.tm);
	size_t sent = F.n_sent;
	cr_assert_eq(submit(b, "bad", &g, &err), code, "%s", err.message);
	cr_assert(strstr(err.message, text) != NULL, "'%s' lacks '%s'", err.message, text);
	cr_assert_null(osc_tm_graph_find(F.tm, "bad"));
	osc_tm_flush(F.tm);
	cr_assert_eq(F.n_sent, sent);
}

// ---------------------------------------------------------------------------
// Checks

Test(graph, ref_parse)
{
	size_t len;
	int    index;
	cr_assert_eq(osc_tm_ref_parse("abc", &len, &index), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(index, OSC_TM_WHOLE);
	cr_assert_eq(osc_tm_ref_parse("abc#12", &len, &index), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(index, 12);
	cr_assert_eq(osc_tm_ref_parse("", &len, &index), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_ref_parse("#1", &len, &index), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_ref_parse("a#", &len, &index), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_ref_parse("a#x", &len, &index), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_ref_parse("a#99999999999", &len, &index), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_ref_parse(NULL, &len, &index), OSCAR_EINVAL);
}

static oscar_value_t *ref(const char *key)
{
	oscar_value_t *r = oscar_value_new_ref(key);
	cr_assert_not_null(r);
	return (r);
}

Test(graph, inputs_from_args)
{
	// [1, ref(a), {"x": [ref(t#1)], "y": 2}, "plain"]
	oscar_value_t *args  = oscar_value_new_array(4);
	oscar_value_t *inner = oscar_value_new_array(1);
	oscar_value_t *m     = oscar_value_new_map(2);
	cr_assert_eq(oscar_value_array_push(args, oscar_value_new_int(1)), 0);
	cr_assert_eq(oscar_value_array_push(args, ref("a")), 0);
	cr_assert_eq(oscar_value_array_push(inner, ref("t#1")), 0);
	cr_assert_eq(oscar_value_map_set(m, "x", inner), 0);
	cr_assert_eq(oscar_value_map_set(m, "y", oscar_value_new_int(2)), 0);
	cr_assert_eq(oscar_value_array_push(args, m), 0);
	cr_assert_eq(oscar_value_array_push(args, oscar_value_new_str("plain")), 0);
	cr_assert_eq(oscar_value_array_push(args, oscar_value_new_ref_output("u", 0)), 0);
	osc_tm_input_t *in;
	size_t          n;
	cr_assert_eq(osc_tm_inputs_from_args(args, 16, &in, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(in[2].key, "u");
	cr_assert_eq(in[2].index, 0);
	cr_assert_str_eq(in[0].key, "a");
	cr_assert_eq(in[0].index, OSC_TM_WHOLE);
	cr_assert_str_eq(in[1].key, "t");
	cr_assert_eq(in[1].index, 1);
	osc_tm_inputs_free(in, n);
	// Over the limit, and a malformed reference.
	cr_assert_eq(osc_tm_inputs_from_args(args, 1, &in, &n), OSCAR_EINVAL);
	cr_assert_null(in);
	cr_assert_eq(n, 0);
	cr_assert_eq(oscar_value_array_push(args, ref("bad#x")), 0);
	cr_assert_eq(osc_tm_inputs_from_args(args, 16, &in, &n), OSCAR_EINVAL);
	oscar_value_free(args);
	// A task key with '#' is no task's output.
	args = oscar_value_new_ref_output("bad#1", 0);
	cr_assert_eq(osc_tm_inputs_from_args(args, 16, &in, &n), OSCAR_EINVAL);
	oscar_value_free(args);
	cr_assert_eq(osc_tm_inputs_from_args(NULL, 16, &in, &n), 0);
	cr_assert_eq(n, 0);
}

Test(graph, unknown_function)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "nobody_has_it", 1, false, "a");
	expect_reject(&b, OSCAR_ENOENT, "task b: no worker offers function nobody_has_it");
	// No worker at all: inc is offered by nobody either.
	osc_tm_worker_lost(F.tm, "w1");
	task(&b, "a", "inc", 1, false, NULL);
	expect_reject(&b, OSCAR_ENOENT, "task a: no worker offers function inc");
}

Test(graph, unknown_reference)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, "a ghost");
	expect_reject(&b, OSCAR_ENOENT,
	    "task b refers to ghost, which is neither a task of the graph nor stored in the "
	    "session");
	// Output #1 of something unknown names the object it looked for.
	task(&b, "c", "inc", 1, false, "ghost#1");
	expect_reject(&b, OSCAR_ENOENT, "task c refers to ghost#1");
}

Test(graph, cycles_are_named)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "start", "inc", 1, false, NULL);
	task(&b, "a", "inc", 1, false, "c start");
	task(&b, "b", "inc", 1, false, "a");
	task(&b, "c", "inc", 1, false, "b");
	task(&b, "tail", "inc", 1, false, "c");
	expect_reject(&b, OSCAR_EINVAL, "cycle: task ");
	task(&b, "a", "inc", 1, false, "c");
	task(&b, "b", "inc", 1, false, "a");
	task(&b, "c", "inc", 1, false, "b");
	osc_tm_graph_t *g;
	oscar_error_t   err;
	cr_assert_eq(submit(&b, "bad", &g, &err), OSCAR_EINVAL);
	// The cycle, in either rotation, producer first.
	cr_assert(strcmp(err.message, "cycle: task a -> b -> c -> a") == 0 ||
	              strcmp(err.message, "cycle: task b -> c -> a -> b") == 0 ||
	              strcmp(err.message, "cycle: task c -> a -> b -> c") == 0,
	    "%s", err.message);
	task(&b, "self", "inc", 1, false, "self");
	expect_reject(&b, OSCAR_EINVAL, "cycle: task self -> self");
}

Test(graph, duplicate_keys)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "x", "inc", 1, false, NULL);
	task(&b, "a", "add", 1, false, NULL);
	expect_reject(&b, OSCAR_EEXIST, "duplicate task key a (tasks #0 and #2 of the graph)");
}

Test(graph, output_index_checked)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "t", "triage", 2, false, NULL);
	task(&b, "u", "inc", 1, false, "t#2");
	expect_reject(
	    &b, OSCAR_EINVAL, "task u refers to output #2 of task t, which has 2 outputs");
	task(&b, "t", "triage", 2, false, NULL);
	task(&b, "u", "inc", 1, false, "t");
	expect_reject(&b, OSCAR_EINVAL, "task u refers to task t, which has 2 outputs: name one");
	task(&b, "one", "inc", 1, false, NULL);
	task(&b, "u", "inc", 1, false, "one#1");
	expect_reject(&b, OSCAR_EINVAL, "output #1 of task one, which has 1 output");
	// #0 of a task with one output is the output itself.
	task(&b, "one", "inc", 1, false, NULL);
	task(&b, "u", "inc", 1, false, "one#0");
	run_done(&b, "g");
}

Test(graph, bad_specs_and_ids)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a#1", "inc", 1, false, NULL);
	expect_reject(&b, OSCAR_EINVAL, "a key is 1 to 255 bytes without '#'");
	task(&b, "a", "inc", 0, false, NULL);
	expect_reject(&b, OSCAR_EINVAL, "task a: n_output must be 1 to 1024, not 0");
	task(&b, "a", "bad name", 1, false, NULL);
	expect_reject(&b, OSCAR_EINVAL, "task a: bad function name");
	expect_reject(&b, OSCAR_EINVAL, "graph bad has no tasks");
	oscar_error_t   err;
	osc_tm_graph_t *g;
	task(&b, "a", "inc", 1, false, NULL);
	cr_assert_eq(submit(&b, "", &g, &err), OSCAR_EINVAL);
	task(&b, "a", "inc", 1, false, NULL);
	g = submit_ok(&b, "g1");
	task(&b, "z", "inc", 1, false, NULL);
	cr_assert_eq(submit(&b, "g1", &g, &err), OSCAR_EEXIST);
	cr_assert(strstr(err.message, "graph g1 exists already") != NULL);
}

Test(graph, rejected_graph_changes_nothing)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, "a");
	task(&b, "c", "inc", 1, false, "b ghost");
	expect_reject(&b, OSCAR_ENOENT, "ghost");
	// The same keys are free: nothing of the rejected graph is live.
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, "a");
	run_done(&b, "g");
	cr_assert_eq(E("a")->runs, 1);
}

Test(graph, impure_key_in_use)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "slow", 1, false, NULL);
	submit_ok(&b, "g1");
	task(&b, "a", "slow", 1, false, NULL);
	expect_reject(&b, OSCAR_EEXIST, "task a: the key is in use by a task of graph g1");
}

Test(graph, limits)
{
	osc_tm_free(&F.tm);
	osc_tm_limits_t lim = { .max_graph_tasks = 3, .max_task_inputs = 2, .max_graphs = 2 };
	osc_tm_ops_t    ops = { cb_stored, cb_locate, cb_assign, cb_cancel, NULL };
	cr_assert_eq(osc_tm_new(&F.tm, &ops, &lim), 0);
	gb_t b = { 0 };
	worker("w1", 1, 4);
	for (int i = 0; i < 4; i++) {
		char key[8];
		snprintf(key, sizeof(key), "t%d", i);
		task(&b, key, "inc", 1, false, NULL);
	}
	expect_reject(&b, OSCAR_EINVAL, "graph bad has 4 tasks, more than the limit of 3");
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, NULL);
	task(&b, "c", "sum", 1, false, "a b a");
	expect_reject(&b, OSCAR_EINVAL, "task c: 3 references, more than the limit of 2");
	task(&b, "a", "inc", 1, false, NULL);
	submit_ok(&b, "g1");
	task(&b, "b", "inc", 1, false, NULL);
	submit_ok(&b, "g2");
	task(&b, "c", "inc", 1, false, NULL);
	expect_reject(&b, OSCAR_EINVAL, "the session holds 2 graphs, its limit");
	osc_tm_graph_delete(F.tm, osc_tm_graph_find(F.tm, "g1"));
	task(&b, "c", "inc", 1, false, NULL);
	submit_ok(&b, "g3");
}

// ---------------------------------------------------------------------------
// Graphs run to the end

Test(graph, diamond)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	worker("w2", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, "a");
	task(&b, "c", "inc", 1, false, "a");
	task(&b, "d", "add", 1, false, "b c");
	osc_tm_graph_t *g = submit_ok(&b, "diamond");
	osc_tm_info_t   i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_RUNNING);
	cr_assert_eq(i.n_tasks, 4);
	cr_assert_eq(i.counts[OSC_TASK_ASSIGNED], 1);
	cr_assert_eq(i.counts[OSC_TASK_PENDING], 3);
	cr_assert_eq(i.end_ms, 0);
	cr_assert_gt(i.start_ms, 0);
	cr_assert_eq(state_of(g, "a"), OSC_TASK_ASSIGNED);
	run_step();
	cr_assert_eq(state_of(g, "a"), OSC_TASK_DONE);
	cr_assert_float_eq(info_of(g).progress, 0.25, 1e-9);
	run_all();
	i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_DONE);
	cr_assert_eq(i.counts[OSC_TASK_DONE], 4);
	cr_assert_float_eq(i.progress, 1.0, 1e-9);
	cr_assert_geq(i.end_ms, i.start_ms);
	cr_assert_eq(i.error.code, 0);
	const char *keys[] = { "a", "b", "c", "d" };
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(E(keys[k])->runs, 1);
	}
	unsigned held, running;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, &running), 0);
	cr_assert_eq(held + running, 0);
}

Test(graph, ten_thousand_independent_tasks)
{
	gb_t b = { 0 };
	worker("w1", 1, 16);
	worker("w2", 1, 16);
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "inc-%d", i);
		task(&b, key, "inc", 1, false, NULL);
	}
	osc_tm_graph_t *g = submit_ok(&b, "big");
	osc_tm_info_t   i = info_of(g);
	// Each worker holds its slot plus its queue; the rest wait.
	cr_assert_eq(i.counts[OSC_TASK_ASSIGNED], 34);
	cr_assert_eq(i.counts[OSC_TASK_READY], 10000 - 34);
	size_t batches_before = F.batches;
	run_step();
	// One batch per worker per flush.
	cr_assert_eq(F.batches - batches_before, 2 + 2);
	run_all();
	i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_DONE);
	cr_assert_eq(i.counts[OSC_TASK_DONE], 10000);
	size_t on_w1 = 0;
	for (int k = 0; k < 10000; k++) {
		snprintf(key, sizeof(key), "inc-%d", k);
		cr_assert_eq(E(key)->runs, 1);
		on_w1 += strcmp(E(key)->ran_on, "w1") == 0;
	}
	// Both workers took their share.
	cr_assert_gt(on_w1, 2000);
	cr_assert_lt(on_w1, 8000);
}

Test(graph, fan_in_tree)
{
	// 10,000 leaves, fan-in 100: 100 sums of 100 leaves, and a root.
	gb_t b = { 0 };
	worker("w1", 1, 8);
	worker("w2", 1, 8);
	char  key[32];
	char *refs = calloc(100, 16);
	for (int s = 0; s < 100; s++) {
		refs[0] = '\0';
		for (int l = 0; l < 100; l++) {
			snprintf(key, sizeof(key), "leaf-%d", s * 100 + l);
			task(&b, key, "inc", 1, false, NULL);
			strcat(refs, key);
			strcat(refs, " ");
		}
		refs[strlen(refs) - 1] = '\0';
		snprintf(key, sizeof(key), "sum-%d", s);
		task(&b, key, "sum", 1, false, refs);
	}
	refs[0] = '\0';
	for (int s = 0; s < 100; s++) {
		snprintf(key, sizeof(key), "sum-%d ", s);
		strcat(refs, key);
	}
	refs[strlen(refs) - 1] = '\0';
	task(&b, "root", "sum", 1, false, refs);
	free(refs);
	osc_tm_graph_t *g = submit_ok(&b, "tree");
	cr_assert_eq(info_of(g).n_tasks, 10101);
	run_all();
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_DONE);
	cr_assert_eq(i.counts[OSC_TASK_DONE], 10101);
	cr_assert_eq(E("root")->runs, 1);
	// The root was the last task sent.
	cr_assert_str_eq(F.sent[F.n_sent - 1].key, "root");
}

Test(graph, chain_stays_where_its_input_is)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	worker("w2", 1, 4);
	char key[32], prev[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		task(&b, key, "inc", 1, false, i > 0 ? prev : NULL);
		memcpy(prev, key, sizeof(key));
	}
	run_done(&b, "chain");
	// Each step ran where its input was: all on the first one's worker.
	const char *first = E("c0")->ran_on;
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		cr_assert_str_eq(E(key)->ran_on, first, "%s", key);
		// One step per round: it was sent only after its input finished.
		cr_assert_str_eq(F.sent[i].key, key);
	}
}

Test(graph, two_outputs)
{
	gb_t b = { 0 };
	worker("w1", 2, 4);
	task(&b, "t", "triage", 2, false, NULL);
	task(&b, "sa", "sum", 1, false, "t#0");
	task(&b, "sb", "sum", 1, false, "t#1");
	run_done(&b, "triage");
	cr_assert_eq(F.sent[0].n_output, 2);
}

Test(graph, stored_inputs)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	store("old");
	store("older#1");
	task(&b, "a", "inc", 1, false, "old older#1");
	run_done(&b, "g");
}

// ---------------------------------------------------------------------------
// Failures

Test(graph, failure_fails_every_dependent)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, "a");
	task(&b, "c", "add", 1, false, "b x");
	task(&b, "x", "inc", 1, false, NULL);
	task(&b, "y", "inc", 1, false, "x");
	E("a")->fail_code = OSCAR_EUSER + 7;
	osc_tm_graph_t *g = submit_ok(&b, "g");
	run_all();
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_FAILED);
	cr_assert_eq(state_of(g, "a"), OSC_TASK_FAILED);
	cr_assert_eq(state_of(g, "b"), OSC_TASK_FAILED);
	cr_assert_eq(state_of(g, "c"), OSC_TASK_FAILED);
	// The independent branch ran to the end.
	cr_assert_eq(state_of(g, "x"), OSC_TASK_DONE);
	cr_assert_eq(state_of(g, "y"), OSC_TASK_DONE);
	cr_assert_eq(i.counts[OSC_TASK_FAILED], 3);
	cr_assert_eq(E("b")->runs, 0);
	cr_assert_eq(E("c")->runs, 0);
	cr_assert_eq(i.error.code, OSCAR_EUSER + 7);
	cr_assert_str_eq(i.error.key, "a");
	cr_assert_str_eq(i.error.fn, "inc");
	cr_assert_str_eq(i.error.worker, "w1");
	cr_assert_str_eq(i.error.message, "it went wrong");
	cr_assert_eq(i.error.signal, 0);
}

Test(graph, error_report_without_code_or_message)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	osc_tm_report_t r = { .key = "a", .kind = OSC_TM_ERRORED };
	cr_assert_eq(osc_tm_report(F.tm, "w1", &r, 1), 0);
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.error.code, OSCAR_EAPP);
	cr_assert_str_eq(i.error.message, "application error");
}

Test(graph, crash_keeps_signal_and_first_error)
{
	gb_t b = { 0 };
	worker("w1", 2, 4);
	task(&b, "boom", "inc", 1, false, NULL);
	task(&b, "later", "inc", 1, false, "boom");
	E("boom")->fail_code   = OSCAR_EPEERGONE;
	E("boom")->fail_signal = 11;
	osc_tm_graph_t *g      = submit_ok(&b, "g");
	run_all();
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_FAILED);
	cr_assert_eq(i.error.signal, 11);
	cr_assert_str_eq(i.error.key, "boom");
}

Test(graph, long_chain_fails_without_recursion)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	char key[32], prev[32];
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		task(&b, key, "inc", 1, false, i > 0 ? prev : NULL);
		memcpy(prev, key, sizeof(key));
	}
	E("c0")->fail_code = OSCAR_EAPP;
	osc_tm_graph_t *g  = submit_ok(&b, "chain");
	run_all();
	cr_assert_eq(info_of(g).counts[OSC_TASK_FAILED], 100000);
	cr_assert_eq(F.n_sent, 1);
}

Test(graph, report_checks)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "t", "triage", 2, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	osc_tm_report_t r = { .key = "t", .kind = OSC_TM_FINISHED };
	cr_assert_eq(osc_tm_report(F.tm, "nobody", &r, 1), OSCAR_ENOENT);
	cr_assert_eq(osc_tm_report(F.tm, "w1", NULL, 1), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_report(F.tm, "w1", NULL, 0), 0);
	// Unknown keys are ignored.
	osc_tm_report_t ghost = { .key = "ghost", .kind = OSC_TM_FINISHED };
	cr_assert_eq(osc_tm_report(F.tm, "w1", &ghost, 1), 0);
	cr_assert_eq(state_of(g, "t"), OSC_TASK_ASSIGNED);
	// One size for two outputs: a broken report fails the task.
	uint64_t one = 8;
	r.sizes      = &one;
	r.n_sizes    = 1;
	cr_assert_eq(osc_tm_report(F.tm, "w1", &r, 1), 0);
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_FAILED);
	cr_assert_eq(i.error.code, OSCAR_EPROTO);
	cr_assert(strstr(i.error.message, "reported 1 output sizes for 2 outputs") != NULL);
}

// ---------------------------------------------------------------------------
// Cancel

Test(graph, cancel_running_graph)
{
	gb_t b = { 0 };
	worker("w1", 1, 1);
	task(&b, "run", "slow", 1, false, NULL);
	task(&b, "queued", "slow", 1, false, NULL);
	task(&b, "ready", "slow", 1, false, NULL);
	task(&b, "pending", "slow", 1, false, "run");
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	osc_tm_report_t started = { .key = "run", .kind = OSC_TM_STARTED };
	cr_assert_eq(osc_tm_report(F.tm, "w1", &started, 1), 0);
	cr_assert_eq(state_of(g, "run"), OSC_TASK_RUNNING);
	cr_assert_eq(state_of(g, "queued"), OSC_TASK_ASSIGNED);
	cr_assert_eq(state_of(g, "ready"), OSC_TASK_READY);
	osc_tm_cancel(F.tm, g);
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_CANCELLED);
	cr_assert_eq(i.counts[OSC_TASK_CANCELLED], 4);
	cr_assert_gt(i.end_ms, 0);
	osc_tm_flush(F.tm);
	// The worker is told about what it holds, and keeps its slot busy
	// until it reports.
	cr_assert(cancelled_sent("w1", "run"));
	cr_assert(cancelled_sent("w1", "queued"));
	cr_assert_eq(F.n_cancels, 2);
	unsigned held, running;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, &running), 0);
	cr_assert_eq(held, 2);
	cr_assert_eq(running, 1);
	osc_tm_report_t r[2] = {
		{ .key = "run", .kind = OSC_TM_ERRORED, .code = OSCAR_ECANCELED },
		{ .key = "queued", .kind = OSC_TM_ERRORED, .code = OSCAR_ECANCELED },
	};
	cr_assert_eq(osc_tm_report(F.tm, "w1", r, 2), 0);
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, &running), 0);
	cr_assert_eq(held + running, 0);
	cr_assert_eq(info_of(g).error.code, 0);
	// Cancelling again is harmless.
	osc_tm_cancel(F.tm, g);
	cr_assert_eq(info_of(g).status, OSC_GRAPH_CANCELLED);
}

Test(graph, cancel_before_send_sends_nothing)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "slow", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_cancel(F.tm, g);
	osc_tm_flush(F.tm);
	cr_assert_eq(F.n_sent, 0);
	cr_assert_eq(F.n_cancels, 0);
	unsigned held;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, NULL), 0);
	cr_assert_eq(held, 0);
	// The slot is free for the next graph.
	task(&b, "b", "inc", 1, false, NULL);
	run_done(&b, "g2");
}

// ---------------------------------------------------------------------------
// Pure tasks

Test(graph, pure_stored_task_is_reused)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	store("p");
	task(&b, "p", "inc", 1, true, NULL);
	task(&b, "q", "inc", 1, false, "p");
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_info_t   i = info_of(g);
	cr_assert_eq(i.reused, 1);
	cr_assert_eq(state_of(g, "p"), OSC_TASK_DONE);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	cr_assert_eq(E("p")->runs, 0);
	cr_assert_eq(E("q")->runs, 1);
	// A graph of stored pure tasks alone is done at once.
	task(&b, "p", "inc", 1, true, NULL);
	osc_tm_graph_t *g2 = submit_ok(&b, "g2");
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_DONE);
	// An impure task is run whatever is stored.
	task(&b, "p", "inc", 1, false, NULL);
	run_done(&b, "g3");
	cr_assert_eq(E("p")->runs, 1);
}

Test(graph, pure_running_task_is_joined)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "p", "slow", 1, true, NULL);
	osc_tm_graph_t *g1 = submit_ok(&b, "g1");
	task(&b, "p", "slow", 1, true, NULL);
	task(&b, "q", "inc", 1, false, "p");
	osc_tm_graph_t *g2 = submit_ok(&b, "g2");
	cr_assert_eq(info_of(g2).joined, 1);
	cr_assert_eq(osc_tm_graph_task(g1, "p"), osc_tm_graph_task(g2, "p"));
	run_all();
	cr_assert_eq(E("p")->runs, 1);
	cr_assert_eq(info_of(g1).status, OSC_GRAPH_DONE);
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_DONE);
	cr_assert_eq(info_of(g2).counts[OSC_TASK_DONE], 2);
	// Joined with another function: refused.
	task(&b, "r", "slow", 1, true, NULL);
	submit_ok(&b, "g3");
	task(&b, "r", "inc", 1, true, NULL);
	expect_reject(&b, OSCAR_EEXIST, "runs a task with this key but function slow");
}

Test(graph, cancel_leaves_shared_tasks_to_other_graphs)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "p", "slow", 1, true, NULL);
	task(&b, "own", "slow", 1, false, "p");
	osc_tm_graph_t *g1 = submit_ok(&b, "g1");
	task(&b, "p", "slow", 1, true, NULL);
	osc_tm_graph_t *g2 = submit_ok(&b, "g2");
	osc_tm_cancel(F.tm, g1);
	cr_assert_eq(info_of(g1).status, OSC_GRAPH_CANCELLED);
	cr_assert_eq(state_of(g1, "own"), OSC_TASK_CANCELLED);
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_RUNNING);
	run_all();
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_DONE);
	cr_assert_eq(E("p")->runs, 1);
	cr_assert_eq(E("own")->runs, 0);
}

Test(graph, later_graph_depends_on_running_one)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "slow", 1, false, NULL);
	osc_tm_graph_t *g1 = submit_ok(&b, "g1");
	task(&b, "b", "inc", 1, false, "a");
	osc_tm_graph_t *g2 = submit_ok(&b, "g2");
	cr_assert_eq(state_of(g2, "b"), OSC_TASK_PENDING);
	run_all();
	cr_assert_eq(info_of(g1).status, OSC_GRAPH_DONE);
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_DONE);
	// A failure upstream fails the other graph's dependent too.
	task(&b, "x", "slow", 1, false, NULL);
	osc_tm_graph_t *g3 = submit_ok(&b, "g3");
	task(&b, "y", "inc", 1, false, "x");
	osc_tm_graph_t *g4 = submit_ok(&b, "g4");
	E("x")->fail_code  = OSCAR_EAPP;
	run_all();
	cr_assert_eq(info_of(g3).status, OSC_GRAPH_FAILED);
	cr_assert_eq(info_of(g4).status, OSC_GRAPH_FAILED);
	cr_assert_str_eq(info_of(g4).error.key, "x");
}

// ---------------------------------------------------------------------------
// Workers

Test(graph, worker_lost)
{
	gb_t b = { 0 };
	worker("w1", 1, 2);
	task(&b, "run", "slow", 1, false, NULL);
	task(&b, "q1", "slow", 1, false, NULL);
	task(&b, "q2", "slow", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	osc_tm_report_t started = { .key = "run", .kind = OSC_TM_STARTED };
	cr_assert_eq(osc_tm_report(F.tm, "w1", &started, 1), 0);
	// A second worker joins, then the first is lost.
	worker("w2", 1, 4);
	F.head = F.n_sent; // w1's tasks will never be run by the fake
	cr_assert_eq(osc_tm_worker_lost(F.tm, "w1"), 0);
	F.workers[0].outstanding = 0;
	cr_assert_eq(osc_tm_worker_lost(F.tm, "w1"), OSCAR_ENOENT);
	cr_assert_eq(state_of(g, "run"), OSC_TASK_FAILED);
	cr_assert_eq(state_of(g, "q1"), OSC_TASK_ASSIGNED);
	cr_assert_eq(state_of(g, "q2"), OSC_TASK_ASSIGNED);
	cr_assert_str_eq(osc_tm_task_worker(osc_tm_graph_task(g, "q1")), "w2");
	run_all();
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_FAILED);
	cr_assert_eq(i.error.code, OSCAR_EPEERGONE);
	cr_assert_str_eq(i.error.worker, "w1");
	cr_assert_str_eq(i.error.key, "run");
	cr_assert(strstr(i.error.message, "worker w1 was lost") != NULL, "%s", i.error.message);
	cr_assert_eq(i.counts[OSC_TASK_DONE], 2);
	cr_assert_str_eq(E("q1")->ran_on, "w2");
}

// ---------------------------------------------------------------------------
// Running ahead (osc_tm_limits_t.run_ahead)

static void setup_ahead(void)
{
	osc_tm_limits_t limits = { .run_ahead = true };
	// The suite's own setup may have run first: its engine goes.
	osc_tm_free(&F.tm);
	setup_limits(&limits);
}

// chain adds a chain of n inc tasks, prefix0 to prefix(n-1), to b.
static void chain(gb_t *b, const char *prefix, int n)
{
	char key[32], prev[32];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s%d", prefix, i);
		task(b, key, "inc", 1, false, i > 0 ? prev : NULL);
		memcpy(prev, key, sizeof(key));
	}
}

Test(graph, a_chain_runs_ahead_on_its_worker, .init = setup_ahead)
{
	gb_t b = { 0 };
	worker("w1", 1, 7);
	worker("w2", 1, 7);
	chain(&b, "c", 100);
	osc_tm_graph_t *g = submit_ok(&b, "chain");
	osc_tm_flush(F.tm);
	// The first batch holds the head and the 7 behind it: slots + queue.
	cr_assert_eq(F.n_sent, 8);
	cr_assert_eq(F.batches, 1);
	cr_assert_str_eq(F.sent[1].after, "c0");
	cr_assert_str_eq(F.sent[7].after, "c6");
	cr_assert_eq(state_of(g, "c7"), OSC_TASK_ASSIGNED);
	cr_assert_eq(state_of(g, "c8"), OSC_TASK_PENDING);
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.counts[OSC_TASK_ASSIGNED], 8);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	const char *first = E("c0")->ran_on;
	char        key[32];
	for (int k = 0; k < 100; k++) {
		snprintf(key, sizeof(key), "c%d", k);
		cr_assert_str_eq(E(key)->ran_on, first, "%s", key);
		cr_assert_eq(E(key)->runs, 1, "%s", key);
	}
	// A batch per 8 links or so, not one per link.
	cr_assert_leq(F.batches, 100 / 8 + 2, "%zu batches", F.batches);
	unsigned held;
	cr_assert_eq(osc_tm_worker_load(F.tm, first, &held, NULL), 0);
	cr_assert_eq(held, 0);
}

Test(graph, a_failure_takes_back_the_chain_run_ahead, .init = setup_ahead)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	chain(&b, "c", 4);
	E("c0")->fail_code = OSCAR_EUSER + 1;
	osc_tm_graph_t *g  = submit_ok(&b, "g");
	run_all();
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_FAILED);
	cr_assert_str_eq(i.error.key, "c0");
	cr_assert_eq(i.error.code, OSCAR_EUSER + 1);
	cr_assert_eq(i.counts[OSC_TASK_FAILED], 4);
	for (int k = 1; k < 4; k++) {
		char key[8];
		snprintf(key, sizeof(key), "c%d", k);
		cr_assert_eq(E(key)->runs, 0, "%s ran", key);
		// The worker was asked to drop it, and its report freed it.
		cr_assert(cancelled_sent("w1", key), "%s", key);
	}
	unsigned held;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, NULL), 0);
	cr_assert_eq(held, 0);
	// The key of a task taken back is free once the worker reported it
	// (its new run reads nothing).
	task(&b, "c1", "inc", 1, false, NULL);
	for (size_t k = 0; k < E("c1")->n_inputs; k++) {
		free(E("c1")->inputs[k]);
	}
	E("c1")->n_inputs = 0;
	g                 = submit_ok(&b, "again");
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
}

Test(graph, cancel_takes_back_a_chain_run_ahead, .init = setup_ahead)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	chain(&b, "c", 3);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	cr_assert_eq(F.n_sent, 3);
	osc_tm_cancel(F.tm, g);
	osc_tm_flush(F.tm);
	cr_assert_eq(info_of(g).counts[OSC_TASK_CANCELLED], 3);
	for (int k = 0; k < 3; k++) {
		char key[8];
		snprintf(key, sizeof(key), "c%d", k);
		cr_assert(cancelled_sent("w1", key), "%s", key);
	}
	osc_tm_report_t r[3] = {
		{ .key = "c0", .kind = OSC_TM_ERRORED, .code = OSCAR_ECANCELED },
		{ .key = "c1", .kind = OSC_TM_ERRORED, .code = OSCAR_ECANCELED },
		{ .key = "c2", .kind = OSC_TM_ERRORED, .code = OSCAR_ECANCELED },
	};
	cr_assert_eq(osc_tm_report(F.tm, "w1", r, 3), 0);
	unsigned held;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, NULL), 0);
	cr_assert_eq(held, 0);
	F.head = F.n_sent;
}

Test(graph, a_lost_worker_gives_back_its_chain_run_ahead, .init = setup_ahead)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	chain(&b, "c", 5);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	cr_assert_eq(F.n_sent, 5);
	worker("w2", 1, 4);
	F.head = F.n_sent; // w1 never runs them
	cr_assert_eq(osc_tm_worker_lost(F.tm, "w1"), 0);
	F.workers[0].outstanding = 0;
	// The head went to w2, and the chain behind it with it.
	cr_assert_str_eq(osc_tm_task_worker(osc_tm_graph_task(g, "c0")), "w2");
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	for (int k = 0; k < 5; k++) {
		char key[8];
		snprintf(key, sizeof(key), "c%d", k);
		cr_assert_str_eq(E(key)->ran_on, "w2", "%s", key);
	}
}

Test(graph, last_worker_of_a_function_lost)
{
	gb_t b = { 0 };
	worker("w1", 1, 0);
	task(&b, "a", "slow", 1, false, NULL);
	task(&b, "b", "slow", 1, false, NULL);
	task(&b, "c", "slow", 1, false, "b");
	osc_tm_graph_t *g = submit_ok(&b, "g");
	cr_assert_eq(state_of(g, "b"), OSC_TASK_READY);
	cr_assert_eq(osc_tm_worker_lost(F.tm, "w1"), 0);
	// Nobody offers slow: nothing waits forever.
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.status, OSC_GRAPH_FAILED);
	cr_assert_eq(i.counts[OSC_TASK_FAILED], 3);
}

Test(graph, locality_preferred)
{
	gb_t b = { 0 };
	worker("w1", 2, 4);
	worker("w2", 2, 4);
	// A stored object lives on w2: its reader goes there, though w1 is
	// as free.
	store("big");
	snprintf(F.loc_key, sizeof(F.loc_key), "big");
	snprintf(F.loc_worker, sizeof(F.loc_worker), "w2");
	F.loc_bytes = 1 << 20;
	task(&b, "reader", "inc", 1, false, "big");
	osc_tm_graph_t *g = submit_ok(&b, "g");
	cr_assert_str_eq(osc_tm_task_worker(osc_tm_graph_task(g, "reader")), "w2");
	run_all();
	// Outputs of the engine's own tasks: the biggest input decides.
	task(&b, "small", "inc", 1, false, NULL);
	task(&b, "large", "inc", 1, false, NULL);
	task(&b, "join", "add", 1, false, "small large");
	E("large")->out_bytes = 1000;
	E("small")->out_bytes = 10;
	osc_tm_graph_t *g2    = submit_ok(&b, "g2");
	run_step();
	cr_assert_str_neq(E("small")->ran_on, E("large")->ran_on);
	cr_assert_str_eq(osc_tm_task_worker(osc_tm_graph_task(g2, "join")), E("large")->ran_on);
	run_all();
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_DONE);
}

Test(graph, bounded_queues_and_new_worker)
{
	gb_t b = { 0 };
	worker("w1", 1, 2);
	char key[16];
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "t%d", i);
		task(&b, key, "inc", 1, false, NULL);
	}
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_info_t   i = info_of(g);
	cr_assert_eq(i.counts[OSC_TASK_ASSIGNED], 3);
	cr_assert_eq(i.counts[OSC_TASK_READY], 7);
	unsigned held;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, NULL), 0);
	cr_assert_eq(held, 3);
	// A worker that comes gets work at once.
	worker("w2", 2, 0);
	i = info_of(g);
	cr_assert_eq(i.counts[OSC_TASK_ASSIGNED], 5);
	cr_assert_eq(i.counts[OSC_TASK_READY], 5);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
}

// ---------------------------------------------------------------------------
// Automatic queues (OSC_TM_QUEUE_AUTO): sized from the run times told

// sent_now gives how many tasks were sent and not run yet to worker addr,
// after a flush.
static size_t sent_now(const char *addr)
{
	osc_tm_flush(F.tm);
	size_t n = 0;
	for (size_t i = F.head; i < F.n_sent; i++) {
		n += strcmp(F.sent[i].worker, addr) == 0;
	}
	return (n);
}

static unsigned queue_of(const char *addr)
{
	unsigned q = 0;
	cr_assert_eq(osc_tm_worker_queue(F.tm, addr, &q), 0);
	return (q);
}

// independent submits n independent tasks as graph id.
static osc_tm_graph_t *independent(const char *id, int n)
{
	gb_t b = { 0 };
	char key[32];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s-%d", id, i);
		task(&b, key, "inc", 1, false, NULL);
	}
	return (submit_ok(&b, id));
}

// A worker with no run time told holds slots + OSC_TM_QUEUE_MIN; once
// short tasks finish, its room grows (about 5 ms of work per slot by
// default), and the tasks it can now take leave in the batch of that
// same turn.
Test(graph, an_auto_queue_grows_with_short_tasks)
{
	worker("w", 1, OSC_TM_QUEUE_AUTO);
	cr_assert_eq(queue_of("w"), OSC_TM_QUEUE_MIN);
	osc_tm_graph_t *g = independent("g", 20000);
	cr_assert_eq(sent_now("w"), 1 + OSC_TM_QUEUE_MIN);
	F.timed  = true;
	F.run_us = 50; // 5000 us / 50 us: room for 100 per slot
	run_step();
	cr_assert_eq(queue_of("w"), 100);
	cr_assert_eq(sent_now("w"), 1 + 100);
	cr_assert_eq(info_of(g).counts[OSC_TASK_ASSIGNED], 101);
	// Shorter still: the average moves by an eighth of the difference
	// per run, up to the bound (1024 by default).
	F.run_us = 1;
	for (int i = 0; i < 60 && queue_of("w") < OSC_TM_DEFAULT_QUEUE_MAX; i++) {
		run_step();
	}
	cr_assert_eq(queue_of("w"), OSC_TM_DEFAULT_QUEUE_MAX);
	cr_assert_eq(sent_now("w"), 1 + OSC_TM_DEFAULT_QUEUE_MAX);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
}

// Long tasks keep a worker at slots + OSC_TM_QUEUE_MIN, and one long
// task after short ones brings its room down at once.
Test(graph, an_auto_queue_stays_small_with_long_tasks)
{
	worker("w", 2, OSC_TM_QUEUE_AUTO);
	osc_tm_graph_t *g = independent("g", 40);
	F.timed           = true;
	F.run_us          = 200000;
	for (int step = 0; step < 40; step++) {
		cr_assert_eq(sent_now("w"), 2 + OSC_TM_QUEUE_MIN);
		run_step();
		cr_assert_eq(queue_of("w"), OSC_TM_QUEUE_MIN);
		if (info_of(g).status != OSC_GRAPH_RUNNING) {
			break;
		}
	}
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	g = independent("h", 3000);
	// Short tasks after long ones: the room grows back within a few
	// dozen reports.
	F.run_us = 10;
	for (int step = 0; step < 40 && queue_of("w") == OSC_TM_QUEUE_MIN; step++) {
		run_step();
	}
	cr_assert_gt(queue_of("w"), OSC_TM_QUEUE_MIN);
	F.run_us = 400000;
	run_step();
	cr_assert_eq(queue_of("w"), OSC_TM_QUEUE_MIN);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
}

// A fixed queue is honoured whatever the run times; an automatic one
// stays within the engine's queue_max, and reports without a run time
// leave it as it is.
Test(graph, a_fixed_queue_is_honoured_and_auto_stays_bounded)
{
	osc_tm_limits_t limits = { .queue_max = 16, .queue_us = 1000 };
	osc_tm_free(&F.tm);
	osc_tm_ops_t ops = { cb_stored, cb_locate, cb_assign, cb_cancel, NULL };
	cr_assert_eq(osc_tm_new(&F.tm, &ops, &limits), 0);
	F.queue_max = 16;
	worker("fixed", 1, 4);
	worker("auto", 1, OSC_TM_QUEUE_AUTO);
	osc_tm_graph_t *g = independent("g", 500);
	F.timed           = false;
	run_step();
	cr_assert_eq(queue_of("auto"), OSC_TM_QUEUE_MIN);
	F.timed  = true;
	F.run_us = 1;
	for (int i = 0; i < 5; i++) {
		run_step();
		cr_assert_eq(queue_of("fixed"), 4);
		cr_assert_eq(sent_now("fixed"), 1 + 4);
		cr_assert_eq(queue_of("auto"), 16);
		cr_assert_eq(sent_now("auto"), 1 + 16);
	}
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	cr_assert_eq(osc_tm_worker_queue(F.tm, "nobody", NULL), OSCAR_ENOENT);
}

Test(graph, worker_checks)
{
	oscar_error_t     err;
	const char *const fns[] = { "inc", "bad name" };
	cr_assert_eq(osc_tm_worker_add(F.tm, "w", 0, 1, fns, 1, &err), OSCAR_EINVAL);
	cr_assert_eq(
	    osc_tm_worker_add(F.tm, "w", 1, OSC_TM_QUEUE_MAX + 1, fns, 1, &err), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_worker_add(F.tm, "", 1, 1, fns, 1, &err), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_worker_add(F.tm, "w", 1, 1, fns, 2, &err), OSCAR_EINVAL);
	cr_assert_eq(osc_tm_worker_add(F.tm, "w", 1, 1, fns, 1, &err), 0);
	cr_assert_eq(osc_tm_worker_add(F.tm, "w", 1, 1, fns, 1, &err), OSCAR_EEXIST);
	cr_assert_eq(osc_tm_worker_load(F.tm, "nobody", NULL, NULL), OSCAR_ENOENT);
}

// ---------------------------------------------------------------------------
// Waiters, listing, deleting

static void on_end(void *arg, osc_tm_graph_t *g)
{
	F.ended++;
	*(osc_graph_status_t *) arg = info_of(g).status;
}

static void on_end_delete(void *arg, osc_tm_graph_t *g)
{
	F.ended++;
	osc_tm_graph_delete(F.tm, g);
}

Test(graph, waiters)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	osc_tm_graph_t    *g = submit_ok(&b, "g");
	osc_tm_waiter_t    w1, w2;
	osc_graph_status_t st = OSC_GRAPH_RUNNING, st2 = OSC_GRAPH_RUNNING;
	osc_tm_wait(g, &w1, on_end, &st);
	osc_tm_wait(g, &w2, on_end, &st2);
	osc_tm_unwait(&w2);
	cr_assert_eq(F.ended, 0);
	run_all();
	cr_assert_eq(F.ended, 1);
	cr_assert_eq(st, OSC_GRAPH_DONE);
	cr_assert_eq(st2, OSC_GRAPH_RUNNING);
	osc_tm_unwait(&w1); // fired already: a no-op
	// A wait on a graph that ended fires at once.
	osc_tm_wait(g, &w2, on_end, &st2);
	cr_assert_eq(F.ended, 2);
	cr_assert_eq(st2, OSC_GRAPH_DONE);
}

Test(graph, waiter_may_delete_its_graph)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, "a");
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_waiter_t w1, w2;
	osc_tm_wait(g, &w1, on_end_delete, NULL);
	osc_tm_wait(g, &w2, on_end_delete, NULL);
	run_all();
	cr_assert_eq(F.ended, 2);
	cr_assert_null(osc_tm_graph_find(F.tm, "g"));
	cr_assert_null(osc_tm_graph_next(F.tm, NULL));
}

Test(graph, delete_running_graph_calls_waiters)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "a", "slow", 1, false, NULL);
	task(&b, "b", "slow", 1, false, "a");
	osc_tm_graph_t    *g = submit_ok(&b, "g");
	osc_tm_waiter_t    w;
	osc_graph_status_t st = OSC_GRAPH_RUNNING;
	osc_tm_wait(g, &w, on_end, &st);
	osc_tm_flush(F.tm);
	osc_tm_graph_delete(F.tm, g);
	cr_assert_eq(F.ended, 1);
	cr_assert_eq(st, OSC_GRAPH_CANCELLED);
	osc_tm_flush(F.tm);
	cr_assert(cancelled_sent("w1", "a"));
	// The worker's late report is ignored, and frees its slot.
	osc_tm_report_t r = {
		.key = "a", .kind = OSC_TM_FINISHED, .sizes = (uint64_t[]) { 1 }, .n_sizes = 1
	};
	cr_assert_eq(osc_tm_report(F.tm, "w1", &r, 1), 0);
	unsigned held;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, NULL), 0);
	cr_assert_eq(held, 0);
}

Test(graph, list_graphs)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	const char *ids[] = { "one", "two", "three" };
	for (int i = 0; i < 3; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		task(&b, key, "inc", 1, false, NULL);
		submit_ok(&b, ids[i]);
	}
	int n = 0;
	for (osc_tm_graph_t *g = osc_tm_graph_next(F.tm, NULL); g != NULL;
	     g                 = osc_tm_graph_next(F.tm, g)) {
		cr_assert_str_eq(osc_tm_graph_id(g), ids[n++]);
	}
	cr_assert_eq(n, 3);
	osc_tm_graph_delete(F.tm, osc_tm_graph_find(F.tm, "two"));
	cr_assert_null(osc_tm_graph_find(F.tm, "two"));
	cr_assert_str_eq(
	    osc_tm_graph_id(osc_tm_graph_next(F.tm, osc_tm_graph_find(F.tm, "one"))), "three");
	run_all();
}

Test(graph, worker_lost_with_cancels_unsent)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	worker("w2", 1, 4);
	task(&b, "a", "slow", 1, false, NULL);
	task(&b, "b", "slow", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	osc_tm_cancel(F.tm, g);
	// The cancellations are gathered, not sent, when both workers go.
	cr_assert_eq(osc_tm_worker_lost(F.tm, "w1"), 0);
	cr_assert_eq(osc_tm_worker_lost(F.tm, "w2"), 0);
	osc_tm_flush(F.tm);
	cr_assert_eq(F.n_cancels, 0);
	osc_tm_graph_delete(F.tm, g);
	cr_assert_null(osc_tm_graph_next(F.tm, NULL));
}

Test(graph, cancel_frees_room_for_other_graphs)
{
	gb_t b = { 0 };
	worker("w1", 1, 0);
	task(&b, "a", "slow", 1, false, NULL);
	osc_tm_graph_t *g1 = submit_ok(&b, "g1");
	task(&b, "b", "inc", 1, false, NULL);
	osc_tm_graph_t *g2 = submit_ok(&b, "g2");
	cr_assert_eq(state_of(g2, "b"), OSC_TASK_READY);
	// a was never sent: cancelling it gives its slot to b at once.
	osc_tm_cancel(F.tm, g1);
	cr_assert_eq(state_of(g2, "b"), OSC_TASK_ASSIGNED);
	osc_tm_flush(F.tm);
	cr_assert_eq(F.n_sent, 1);
	cr_assert_str_eq(F.sent[0].key, "b");
	cr_assert_eq(F.n_cancels, 0);
	run_all();
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_DONE);
}

Test(graph, joined_task_failure_reaches_both_graphs)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "p", "slow", 1, true, NULL);
	osc_tm_graph_t *g1 = submit_ok(&b, "g1");
	task(&b, "p", "slow", 1, true, NULL);
	task(&b, "q", "inc", 1, false, "p");
	osc_tm_graph_t *g2 = submit_ok(&b, "g2");
	E("p")->fail_code  = OSCAR_EUSER + 1;
	run_all();
	cr_assert_eq(E("p")->runs, 1);
	cr_assert_eq(info_of(g1).status, OSC_GRAPH_FAILED);
	cr_assert_eq(info_of(g2).status, OSC_GRAPH_FAILED);
	cr_assert_eq(info_of(g2).error.code, OSCAR_EUSER + 1);
	cr_assert_eq(state_of(g2, "q"), OSC_TASK_FAILED);
	cr_assert_eq(E("q")->runs, 0);
}

Test(graph, started_tasks_count_as_running)
{
	gb_t b = { 0 };
	worker("w1", 2, 2);
	task(&b, "a", "slow", 1, false, NULL);
	task(&b, "b", "slow", 1, false, NULL);
	task(&b, "c", "slow", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	osc_tm_flush(F.tm);
	osc_tm_report_t r[2] = { { .key = "a", .kind = OSC_TM_STARTED },
		{ .key = "b", .kind = OSC_TM_STARTED } };
	cr_assert_eq(osc_tm_report(F.tm, "w1", r, 2), 0);
	// Twice is once.
	cr_assert_eq(osc_tm_report(F.tm, "w1", r, 1), 0);
	unsigned held, running;
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, &running), 0);
	cr_assert_eq(held, 3);
	cr_assert_eq(running, 2);
	osc_tm_info_t i = info_of(g);
	cr_assert_eq(i.counts[OSC_TASK_RUNNING], 2);
	cr_assert_eq(i.counts[OSC_TASK_ASSIGNED], 1);
	F.head                   = F.n_sent;
	F.workers[0].outstanding = 0;
	osc_tm_report_t done[3]  = {
		 { .key = "a", .kind = OSC_TM_FINISHED, .sizes = (uint64_t[]) { 1 }, .n_sizes = 1 },
		 { .key = "b", .kind = OSC_TM_FINISHED, .sizes = (uint64_t[]) { 1 }, .n_sizes = 1 },
		 { .key = "c", .kind = OSC_TM_FINISHED, .sizes = (uint64_t[]) { 1 }, .n_sizes = 1 },
	};
	cr_assert_eq(osc_tm_report(F.tm, "w1", done, 3), 0);
	cr_assert_eq(osc_tm_worker_load(F.tm, "w1", &held, &running), 0);
	cr_assert_eq(held + running, 0);
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
}

Test(graph, tasks_go_only_to_workers_offering_their_function)
{
	gb_t              b = { 0 };
	oscar_error_t     err;
	const char *const only_inc[] = { "inc" };
	const char *const only_add[] = { "add", "add" }; // named twice: once
	cr_assert_eq(osc_tm_worker_add(F.tm, "wi", 4, 4, only_inc, 1, &err), 0);
	cr_assert_eq(osc_tm_worker_add(F.tm, "wa", 1, 0, only_add, 2, &err), 0);
	snprintf(F.workers[0].addr, sizeof(F.workers[0].addr), "wi");
	F.workers[0].bound = 8;
	snprintf(F.workers[1].addr, sizeof(F.workers[1].addr), "wa");
	F.workers[1].bound = 1;
	F.n_workers        = 2;
	task(&b, "i1", "inc", 1, false, NULL);
	task(&b, "a1", "add", 1, false, NULL);
	task(&b, "a2", "add", 1, false, "i1");
	task(&b, "a3", "add", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g");
	// wa has one slot and no queue: a3 waits, though wi is idle.
	cr_assert_eq(state_of(g, "a3"), OSC_TASK_READY);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	cr_assert_str_eq(E("i1")->ran_on, "wi");
	cr_assert_str_eq(E("a1")->ran_on, "wa");
	// a2's input is on wi, which does not offer add.
	cr_assert_str_eq(E("a2")->ran_on, "wa");
	cr_assert_str_eq(E("a3")->ran_on, "wa");
}

// Every key the engine asks stored about must have been listed by
// osc_tm_lookups first.
static char   listed[16][64];
static size_t n_listed;
static bool   strict_stored;

static int list_key(void *arg, const char *key)
{
	cr_assert_lt(n_listed, 16);
	snprintf(listed[n_listed++], sizeof(listed[0]), "%s", key);
	return (0);
}

static bool listed_stored(void *arg, const char *key)
{
	bool found = false;
	for (size_t i = 0; i < n_listed; i++) {
		found = found || strcmp(listed[i], key) == 0;
	}
	cr_assert(!strict_stored || found, "asked about %s, which was not listed", key);
	return (is_stored(key));
}

Test(graph, lookups_list_what_submit_asks)
{
	osc_tm_free(&F.tm);
	osc_tm_ops_t ops = { listed_stored, cb_locate, cb_assign, cb_cancel, NULL };
	cr_assert_eq(osc_tm_new(&F.tm, &ops, NULL), 0);
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "run", "slow", 1, false, NULL);
	submit_ok(&b, "g1");
	store("old#1");
	store("p");
	task(&b, "p", "inc", 1, true, NULL);         // pure: p asked
	task(&b, "t", "triage", 2, true, NULL);      // pure: t#0, t#1 asked
	task(&b, "u", "add", 1, false, "t#0 old#1"); // old#1 asked, t#0 not
	task(&b, "v", "add", 1, false, "run p");     // run is running: not asked
	n_listed = 0;
	cr_assert_eq(osc_tm_lookups(F.tm, b.specs, b.n, list_key, NULL), 0);
	cr_assert_eq(n_listed, 4);
	cr_assert_str_eq(listed[0], "p");
	cr_assert_str_eq(listed[1], "t#0");
	cr_assert_str_eq(listed[2], "t#1");
	cr_assert_str_eq(listed[3], "old#1");
	strict_stored     = true;
	osc_tm_graph_t *g = submit_ok(&b, "g2");
	strict_stored     = false;
	cr_assert_eq(info_of(g).reused, 1);
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
	cr_assert_eq(osc_tm_lookups(F.tm, NULL, 1, list_key, NULL), OSCAR_EINVAL);
}

Test(graph, key_of_a_cancelled_run_still_stopping)
{
	gb_t b = { 0 };
	worker("w1", 1, 4);
	task(&b, "p", "slow", 1, true, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "g1");
	osc_tm_flush(F.tm);
	osc_tm_cancel(F.tm, g);
	// The worker still runs p: a new p could not be told from it.
	task(&b, "p", "slow", 1, true, NULL);
	expect_reject(
	    &b, OSCAR_ESTATE, "task p: a cancelled run of it is still stopping on worker w1");
	osc_tm_report_t r = { .key = "p", .kind = OSC_TM_ERRORED, .code = OSCAR_ECANCELED };
	cr_assert_eq(osc_tm_report(F.tm, "w1", &r, 1), 0);
	F.head                   = F.n_sent;
	F.workers[0].outstanding = 0;
	task(&b, "p", "slow", 1, true, NULL);
	run_done(&b, "g2");
}

// ---------------------------------------------------------------------------
// A random workload: graphs with shared pure tasks, references across
// graphs, failures, cancels, deletes and workers lost and back, with the
// invariants checked after every event (and by the fake executor at every
// assignment: inputs finished, queues bounded).

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return (xorshift64(&rng_state));
}

typedef struct known {
	char     key[32];
	unsigned n_output;
} known_t;

static known_t known[4096];
static size_t  n_known;

static void check_graphs(void)
{
	for (osc_tm_graph_t *g = osc_tm_graph_next(F.tm, NULL); g != NULL;
	     g                 = osc_tm_graph_next(F.tm, g)) {
		osc_tm_info_t i   = info_of(g);
		size_t        sum = 0, final = 0;
		for (int s = 0; s < OSC_TASK_NSTATES; s++) {
			sum += i.counts[s];
		}
		final = i.counts[OSC_TASK_DONE] + i.counts[OSC_TASK_FAILED] +
		        i.counts[OSC_TASK_CANCELLED];
		cr_assert_eq(sum, i.n_tasks, "graph %s", osc_tm_graph_id(g));
		if (i.status == OSC_GRAPH_RUNNING) {
			cr_assert_lt(final, i.n_tasks, "graph %s", osc_tm_graph_id(g));
			cr_assert_eq(i.end_ms, 0);
		} else {
			cr_assert_eq(final, i.n_tasks, "graph %s", osc_tm_graph_id(g));
			cr_assert_gt(i.end_ms, 0);
			cr_assert_eq(i.status == OSC_GRAPH_FAILED,
			    i.error.code != 0 && !(i.status == OSC_GRAPH_CANCELLED));
		}
	}
}

static void random_graph(int id)
{
	gb_t     b = { 0 };
	char     gid[16], key[32], refs[128];
	unsigned n_out[32];
	char     keys[32][32];
	int      n = 1 + (int) (rnd() % 25);
	snprintf(gid, sizeof(gid), "g%d", id);
	for (int i = 0; i < n; i++) {
		bool pure = rnd() % 4 == 0;
		snprintf(key, sizeof(key), "P%d", (int) (rnd() % 12));
		for (int j = 0; pure && j < i; j++) {
			pure = strcmp(keys[j], key) != 0;
		}
		if (!pure) {
			snprintf(key, sizeof(key), "g%d-%d", id, i);
		}
		unsigned outs = !pure && rnd() % 5 == 0 ? 2 : 1;
		refs[0]       = '\0';
		int n_refs    = pure ? 0 : (int) (rnd() % 4);
		for (int r = 0; r < n_refs; r++) {
			char     one[48];
			unsigned o;
			if (i > 0 && (n_known == 0 || rnd() % 8 != 0)) {
				int j = (int) (rnd() % (uint64_t) i);
				o     = n_out[j];
				snprintf(one, sizeof(one), "%s", keys[j]);
			} else if (n_known > 0) {
				known_t *k = &known[rnd() % n_known];
				o          = k->n_output;
				snprintf(one, sizeof(one), "%s", k->key);
			} else {
				continue;
			}
			if (o > 1) {
				snprintf(one + strlen(one), sizeof(one) - strlen(one), "#%d",
				    (int) (rnd() % o));
			}
			if (strlen(refs) + strlen(one) + 2 < sizeof(refs)) {
				strcat(refs, refs[0] != '\0' ? " " : "");
				strcat(refs, one);
			}
		}
		task(&b, key, outs == 2 ? "triage" : "inc", outs, pure, refs);
		E(key)->fail_code = rnd() % 25 == 0 ? OSCAR_EUSER + 1 : 0;
		snprintf(keys[i], sizeof(keys[i]), "%s", key);
		n_out[i] = outs;
	}
	osc_tm_graph_t *g;
	oscar_error_t   err;
	int             rv = submit(&b, gid, &g, &err);
	cr_assert(rv == 0 || rv == OSCAR_ENOENT || rv == OSCAR_ESTATE, "%s: %s", gid, err.message);
	// Later graphs may refer to the impure tasks of accepted ones.
	for (int i = 0; rv == 0 && i < n && n_known < sizeof(known) / sizeof(known[0]); i++) {
		if (keys[i][0] != 'P') {
			snprintf(known[n_known].key, sizeof(known[0].key), "%s", keys[i]);
			known[n_known++].n_output = n_out[i];
		}
	}
}

static osc_tm_graph_t *random_existing_graph(void)
{
	size_t n = 0;
	for (osc_tm_graph_t *g = osc_tm_graph_next(F.tm, NULL); g != NULL;
	     g                 = osc_tm_graph_next(F.tm, g)) {
		n++;
	}
	if (n == 0) {
		return (NULL);
	}
	size_t          k = rnd() % n;
	osc_tm_graph_t *g = osc_tm_graph_next(F.tm, NULL);
	while (k-- > 0) {
		g = osc_tm_graph_next(F.tm, g);
	}
	return (g);
}

Test(graph, random_workload_keeps_invariants, .timeout = 600)
{
	for (uint64_t seed = 1; seed <= 8; seed++) {
		// A fresh engine and fake for each seed.
		teardown();
		setup();
		F.store_results = true;
		rng_state       = seed * 0x9e3779b97f4a7c15ull;
		n_known         = 0;
		worker("r1", 1, 2);
		worker("r2", 2, 0);
		worker("r3", 1, 8);
		int next_id = 0;
		for (int step = 0; step < 400; step++) {
			unsigned        ev = (unsigned) (rnd() % 20);
			osc_tm_graph_t *g;
			fake_worker_t  *fw    = &F.workers[rnd() % F.n_workers];
			size_t          alive = 0;
			for (size_t w = 0; w < F.n_workers; w++) {
				alive += !F.workers[w].lost;
			}
			if (ev < 8) {
				run_step();
			} else if (ev < 12) {
				random_graph(next_id++);
			} else if (ev == 12 && (g = random_existing_graph()) != NULL) {
				osc_tm_cancel(F.tm, g);
			} else if (ev == 13 && (g = random_existing_graph()) != NULL) {
				osc_tm_graph_delete(F.tm, g);
			} else if (ev == 14 && !fw->lost && alive >= 2) {
				cr_assert_eq(osc_tm_worker_lost(F.tm, fw->addr), 0);
				fw->lost        = true;
				fw->outstanding = 0;
			} else if (ev == 15 && fw->lost) {
				cr_assert_eq(
				    osc_tm_worker_add(F.tm, fw->addr, 1, 2, all_fns, 5, NULL), 0);
				fw->lost  = false;
				fw->bound = 3;
			} else {
				run_step();
			}
			check_graphs();
		}
		for (size_t w = 0; w < F.n_workers; w++) {
			fake_worker_t *fw = &F.workers[w];
			if (fw->lost) {
				cr_assert_eq(
				    osc_tm_worker_add(F.tm, fw->addr, 1, 2, all_fns, 5, NULL), 0);
				fw->lost  = false;
				fw->bound = 3;
			}
		}
		run_all();
		check_graphs();
		for (osc_tm_graph_t *g = osc_tm_graph_next(F.tm, NULL); g != NULL;
		     g                 = osc_tm_graph_next(F.tm, g)) {
			cr_assert_neq(info_of(g).status, OSC_GRAPH_RUNNING, "graph %s never ended",
			    osc_tm_graph_id(g));
		}
		unsigned held;
		for (size_t w = 0; w < F.n_workers; w++) {
			cr_assert_eq(osc_tm_worker_load(F.tm, F.workers[w].addr, &held, NULL), 0);
			cr_assert_eq(held, 0, "worker %s", F.workers[w].addr);
		}
	}
}

Test(graph, a_lent_slot_takes_one_more_task)
{
	gb_t b = { 0 };
	worker("w1", 1, 0);
	task(&b, "a", "inc", 1, false, NULL);
	task(&b, "b", "inc", 1, false, NULL);
	task(&b, "c", "inc", 1, false, NULL);
	osc_tm_graph_t *g = submit_ok(&b, "lend");
	cr_assert_eq(info_of(g).counts[OSC_TASK_ASSIGNED], 1);
	// A task waits for nested work: its slot is lent, and the worker
	// takes one more task at once.
	fworker("w1")->bound++;
	cr_assert_eq(osc_tm_worker_lend(F.tm, "w1", 1), 0);
	cr_assert_eq(info_of(g).counts[OSC_TASK_ASSIGNED], 2);
	cr_assert_eq(info_of(g).counts[OSC_TASK_READY], 1);
	// The wait ends: nothing is taken back, and nothing more is given.
	cr_assert_eq(osc_tm_worker_lend(F.tm, "w1", -1), 0);
	fworker("w1")->bound--;
	cr_assert_eq(info_of(g).counts[OSC_TASK_ASSIGNED], 2);
	// Never below zero; an unknown worker is ENOENT.
	cr_assert_eq(osc_tm_worker_lend(F.tm, "w1", -5), 0);
	cr_assert_eq(osc_tm_worker_lend(F.tm, "nobody", 1), OSCAR_ENOENT);
	fworker("w1")->bound += 2; // the two held now
	run_all();
	cr_assert_eq(info_of(g).status, OSC_GRAPH_DONE);
}
