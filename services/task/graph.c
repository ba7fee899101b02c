// The graph engine: one session's graphs, tasks and scheduling (graph.h).
//
// Design note.
//
// Tasks. A task record is shared by every graph that holds it (a pure
// task joined by a later graph) and counted by references: one per graph
// holding it, one while a worker holds it, one per edge from a producer's
// dependents list. Unfinished tasks are also in the engine's live map, by
// key, which is how a later graph joins a pure task or depends on a task
// of another graph. A task that finishes leaves the live map, frees its
// arguments and its dependents list; its record lives on, small, for its
// graphs' info, until they are deleted.
//
// Checks. osc_tm_submit checks everything before it changes anything:
// each spec, duplicate keys, which tasks are new, joined (pure and live)
// or reused (pure and stored), every reference (in the graph, live, or
// stored, and its output index), then a cycle among the new tasks (Kahn's
// algorithm; a cycle found is walked back to be named). It then allocates
// all it needs, and only then links the tasks in, so that a failure
// leaves the engine as it was.
//
// Scheduling. Each function that some worker offers has an entry with
// the workers offering it and a FIFO of its ready tasks. A task whose
// inputs are all there goes, at once, to the worker with room (fewer
// tasks held than slots + queue) holding most of its input bytes, among
// those offering its function; failing that to the least loaded one of
// them; failing that into its function's FIFO. Input locations are known
// without asking anyone for outputs of the engine's own tasks (the
// producer's completion records worker and size in each dependent's
// input); the ops.locate callback gives them for stored objects. A worker
// that gets room (a completion, a new worker, a task cancelled before it
// was sent) takes tasks from the FIFOs of the functions it offers, in
// turn. Assignments and cancellations are gathered per worker (its
// outbox holds exactly its tasks not yet sent) and handed out by
// osc_tm_flush, one batch per worker.
//
// Running ahead (limits.run_ahead). A task assigned to a worker brings
// along, while the worker has room, the chain behind it: each pending
// dependent whose one unfinished input is the task before it is assigned
// there too, flagged ahead, with the task it follows (after, until the
// flush that sends it; follower, the other way). The worker runs it once
// that input is stored there. When a task finishes, its follower stops
// being ahead, and the chain grows again from its last task; a failure
// or a cancel upstream withdraws the tasks ahead like any held task; a
// lost worker's tasks ahead go back to pending.
//
// Cancelled runs. A task cancelled while a worker runs it stays held
// there, counting against the worker's room, until the worker reports it
// ended; meanwhile its key is in the zombie map and cannot be submitted
// again, so that a worker's reports, which name tasks by key, are never
// ambiguous.
//
// Cost. Submitting is linear in tasks plus references. Each event is
// constant work plus what it touches, never a scan of all tasks or all
// workers: a completion costs O(1) hash lookups, plus O(1) per dependent,
// plus, for each dependent that becomes ready, O(its inputs) for the
// locality choice and O(W_f) for the least-loaded choice when no input
// decides, where W_f is the number of workers offering its function; a
// worker with room costs O(F_w) per task it pulls, F_w being the number
// of functions it offers. A worker lost costs O(tasks it holds + ready
// tasks of functions nobody offers any more). Failure propagation is
// O(tasks failed + their edges), with no recursion (a chain of a
// million tasks fails in constant stack).
//
// Waiters. Graphs that end are put on a list, and their waiters are
// called at the end of the public call that ended them, when the engine
// is consistent again, so a waiter may call the engine (delete the graph,
// submit another).
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "services/services_int.h"
#include "services/task/graph.h"
#include "services/task/task_int.h"

#define OSC_TM_ID_MAX      128
#define OSC_TM_WORKERS_MAX 65536
// How many places of a stored input ops.locate may give.
#define OSC_TM_LOCS_MAX 8

typedef struct osc_tm_fn     osc_tm_fn_t;
typedef struct osc_tm_worker osc_tm_worker_t;

// osc_tm_in_t is one input of a task.
typedef struct osc_tm_in {
	char    *key;   // the object's key: "k" or "k#i"
	int      index; // the output of the producer, or OSC_TM_WHOLE
	bool     local; // the output of a task of the engine
	bool     done;  // local and finished: wid and bytes are known
	uint64_t wid;
	uint64_t bytes;
} osc_tm_in_t;

// osc_tm_dep_t is one edge to a dependent: the task and its input.
typedef struct osc_tm_dep {
	osc_tm_task_t *task;
	size_t         in;
} osc_tm_dep_t;

struct osc_tm_task {
	uint64_t         hash;
	osc_tm_fn_t     *fn;
	oscar_value_t   *args;
	unsigned         n_output;
	unsigned         refs;
	osc_task_state_t state;
	bool             pure;
	bool             live;    // in tm->live
	bool             unsent;  // assigned, not yet flushed
	bool             started; // its worker reported it started
	bool             zombie;  // in tm->zombies
	bool             ahead;   // assigned before its one unfinished input (run ahead)
	bool             want;    // its submitter wants its outputs back
	size_t           waiting; // unfinished inputs
	// Done: the worker that reported it (0 for none) and, when wanted
	// and small, its outputs' values, counted in *held.
	uint64_t       done_wid;
	oscar_value_t *outs;
	uint64_t       outs_bytes;
	uint64_t      *held;
	osc_tm_in_t   *inputs;
	size_t         n_inputs;
	osc_tm_dep_t  *deps;
	size_t         n_deps, cap_deps;
	size_t         want_deps; // scratch for osc_tm_submit
	// The graphs holding it: graph0, then more[0..n_more).
	osc_tm_graph_t  *graph0;
	osc_tm_graph_t **more;
	size_t           n_more, cap_more;
	osc_tm_worker_t *worker; // holding it, or NULL
	// Run ahead: after is the task it follows on its worker until the
	// flush that sends it; follower is the task assigned ahead behind
	// it. Each holds a reference.
	osc_tm_task_t *after;
	osc_tm_task_t *follower;
	// The FIFO of its function while ready; next is also the stack link
	// of failure propagation (for pending tasks, never in a FIFO).
	osc_tm_task_t *prev, *next;
	char           key[]; // NUL-terminated
};

struct osc_tm_fn {
	char             *name;
	uint64_t          hash;
	osc_tm_worker_t **workers;
	size_t            n_workers, cap_workers;
	osc_tm_task_t    *head, *tail; // ready tasks
};

struct osc_tm_worker {
	char            *addr;
	uint64_t         hash;
	uint64_t         id;
	unsigned         slots, queue;
	bool             autoq;  // queue sized from run times (OSC_TM_QUEUE_AUTO)
	bool             timed;  // avg_us holds at least one run time
	double           avg_us; // moving average of its tasks' run times
	unsigned         lent;   // slots lent while their tasks wait for nested work
	unsigned         load, running;
	osc_map_t        held; // of osc_tm_task_t *, by key hash
	osc_tm_fn_t    **fns;
	size_t           n_fns;
	size_t           pull_next;
	osc_tm_task_t  **outbox;
	size_t           n_out, cap_out;
	osc_tm_task_t  **cancels;
	const char     **cancel_keys;
	size_t           n_cancel, cap_cancel, cap_keys;
	bool             dirty;
	bool             gone; // being forgotten (osc_tm_worker_lost)
	osc_tm_worker_t *dirty_next;
	uint64_t         scratch; // input bytes, while picking
	bool             touched;
};

struct osc_tm_graph {
	char              *id;
	uint64_t           hash;
	osc_tm_task_t    **tasks;
	size_t             n;
	osc_map_t          bykey; // tasks[0..n_indexed) by key
	size_t             n_indexed;
	size_t             counts[OSC_TASK_NSTATES];
	size_t             finished;
	size_t             reused, joined;
	osc_graph_status_t status;
	bool               cancelling;
	bool               deleting;
	bool               in_ended;
	int64_t            start_ms, end_ms;
	osc_tm_error_t     error;
	osc_tm_waiter_t   *waiters;
	osc_tm_graph_t    *prev, *next; // submission order
	osc_tm_graph_t    *ended_next;
};

struct osc_tm {
	osc_tm_ops_t      ops;
	osc_tm_limits_t   limits;
	osc_map_t         live;    // unfinished tasks, by key
	osc_map_t         zombies; // cancelled tasks a worker still holds, by key
	osc_map_t         graphs;  // by id
	osc_map_t         fns;     // by name
	osc_map_t         workers; // by address
	osc_map_t         wids;    // by osc_hash_u64(id)
	size_t            n_workers;
	uint64_t          held; // bytes of wanted outputs kept (OSC_TM_HELD_MAX)
	uint64_t          next_wid;
	size_t            n_graphs;
	size_t            n_ready;
	osc_tm_graph_t   *first, *last;
	osc_tm_graph_t   *ended;
	osc_tm_worker_t  *dirty;
	osc_tm_worker_t **touched;
	size_t            n_touched, cap_touched;
	bool              firing;
	osc_tm_graph_t   *fire_graph;
	bool              fire_graph_freed;
};

static const char *const state_names[OSC_TASK_NSTATES] = { "pending", "ready", "assigned",
	"running", "done", "failed", "cancelled" };

const char *osc_task_state_name(osc_task_state_t s)
{
	return ((unsigned) s < OSC_TASK_NSTATES ? state_names[s] : "?");
}

const char *osc_graph_status_name(osc_graph_status_t s)
{
	switch (s) {
	case OSC_GRAPH_RUNNING:
		return ("running");
	case OSC_GRAPH_DONE:
		return ("done");
	case OSC_GRAPH_FAILED:
		return ("failed");
	case OSC_GRAPH_CANCELLED:
		return ("cancelled");
	}
	return ("?");
}

static bool state_final(osc_task_state_t s)
{
	return (s >= OSC_TASK_DONE);
}

int osc_tm_ref_parse(const char *ref, size_t *lenp, int *index)
{
	if (ref == NULL || ref[0] == '\0') {
		return (OSCAR_EINVAL);
	}
	size_t      len  = strlen(ref);
	const char *hash = strrchr(ref, '#');
	*lenp            = len;
	*index           = OSC_TM_WHOLE;
	if (hash == NULL) {
		return (0);
	}
	const char *p = hash + 1;
	long        v = 0;
	if (hash == ref || *p == '\0') {
		return (OSCAR_EINVAL);
	}
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v >= OSCAR_TASK_OUTPUT_MAX) {
			return (OSCAR_EINVAL);
		}
		v = v * 10 + (*p - '0');
	}
	if (v >= OSCAR_TASK_OUTPUT_MAX) {
		return (OSCAR_EINVAL);
	}
	*lenp  = (size_t) (hash - ref);
	*index = (int) v;
	return (0);
}

// inputs_t gathers the references of one task's arguments.
typedef struct inputs {
	size_t          max;
	osc_tm_input_t *v;
	size_t          n, cap;
} inputs_t;

// inputs_add is oscar_value_walk_refs's callback: one reference, whose
// key is "key" or "key#i" for a whole object and "key" with an output
// index otherwise.
static int inputs_add(void *arg, const oscar_value_t *ref)
{
	inputs_t   *in = arg;
	const char *key;
	size_t      len;
	int64_t     output;
	int         index;
	int         rv;
	char       *copy;
	if (oscar_value_get_ref(ref, &key, &len, &output) != 0) {
		return (OSCAR_EINVAL);
	}
	if (output == OSCAR_REF_WHOLE) {
		if ((rv = osc_tm_ref_parse(key, &len, &index)) != 0) {
			return (rv);
		}
	} else {
		if (output < 0 || output >= OSCAR_TASK_OUTPUT_MAX ||
		    memchr(key, '#', len) != NULL) {
			return (OSCAR_EINVAL);
		}
		index = (int) output;
	}
	if (len == 0 || len >= OSCAR_TASK_KEY_MAX || in->n >= in->max) {
		return (OSCAR_EINVAL);
	}
	if (osc_reserve(&in->v, &in->cap, in->n, sizeof(*in->v), 4) != 0 ||
	    (copy = strndup(key, len)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	in->v[in->n++] = (osc_tm_input_t) { copy, index };
	return (0);
}

int osc_tm_inputs_from_args(
    const oscar_value_t *args, size_t max, osc_tm_input_t **inputs, size_t *n)
{
	inputs_t in = { max, NULL, 0, 0 };
	int      rv = 0;
	*inputs     = NULL;
	*n          = 0;
	if (args != NULL && (rv = oscar_value_walk_refs(args, inputs_add, &in)) != 0) {
		osc_tm_inputs_free(in.v, in.n);
		return (rv);
	}
	*inputs = in.v;
	*n      = in.n;
	return (0);
}

void osc_tm_inputs_free(osc_tm_input_t *inputs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *) inputs[i].key);
	}
	free(inputs);
}

// ---------------------------------------------------------------------------
// Lookups

static osc_tm_task_t *live_find(const osc_tm_t *tm, const char *key, uint64_t h)
{
	size_t         pos = osc_map_first(&tm->live, h);
	osc_tm_task_t *t;
	while ((t = osc_map_next(&tm->live, h, &pos)) != NULL) {
		if (strcmp(t->key, key) == 0) {
			return (t);
		}
	}
	return (NULL);
}

static osc_tm_task_t *zombie_find(const osc_tm_t *tm, const char *key, uint64_t h)
{
	size_t         pos = osc_map_first(&tm->zombies, h);
	osc_tm_task_t *t;
	while ((t = osc_map_next(&tm->zombies, h, &pos)) != NULL) {
		if (strcmp(t->key, key) == 0) {
			return (t);
		}
	}
	return (NULL);
}

static osc_tm_fn_t *fn_find(const osc_tm_t *tm, const char *name)
{
	uint64_t     h   = osc_hash_str(name);
	size_t       pos = osc_map_first(&tm->fns, h);
	osc_tm_fn_t *f;
	while ((f = osc_map_next(&tm->fns, h, &pos)) != NULL) {
		if (strcmp(f->name, name) == 0) {
			return (f);
		}
	}
	return (NULL);
}

static osc_tm_worker_t *worker_find(const osc_tm_t *tm, const char *addr)
{
	uint64_t         h   = osc_hash_str(addr);
	size_t           pos = osc_map_first(&tm->workers, h);
	osc_tm_worker_t *w;
	while ((w = osc_map_next(&tm->workers, h, &pos)) != NULL) {
		if (strcmp(w->addr, addr) == 0) {
			return (w);
		}
	}
	return (NULL);
}

static osc_tm_worker_t *worker_by_id(const osc_tm_t *tm, uint64_t id)
{
	uint64_t         h   = osc_hash_u64(id);
	size_t           pos = osc_map_first(&tm->wids, h);
	osc_tm_worker_t *w;
	while ((w = osc_map_next(&tm->wids, h, &pos)) != NULL) {
		if (w->id == id) {
			return (w);
		}
	}
	return (NULL);
}

static osc_tm_task_t *held_find(const osc_tm_worker_t *w, const char *key)
{
	uint64_t       h   = osc_hash_str(key);
	size_t         pos = osc_map_first(&w->held, h);
	osc_tm_task_t *t;
	while ((t = osc_map_next(&w->held, h, &pos)) != NULL) {
		if (strcmp(t->key, key) == 0) {
			return (t);
		}
	}
	return (NULL);
}

static bool worker_offers(const osc_tm_worker_t *w, const osc_tm_fn_t *f)
{
	for (size_t i = 0; i < w->n_fns; i++) {
		if (w->fns[i] == f) {
			return (true);
		}
	}
	return (false);
}

static bool worker_room(const osc_tm_worker_t *w)
{
	return (w->load < w->slots + w->lent + w->queue);
}

// ---------------------------------------------------------------------------
// Tasks and graphs

static void task_free(osc_tm_task_t *t)
{
	for (size_t i = 0; i < t->n_inputs; i++) {
		free(t->inputs[i].key);
	}
	free(t->inputs);
	free(t->deps);
	free(t->more);
	oscar_value_free(t->args);
	if (t->outs != NULL) {
		*t->held -= t->outs_bytes;
		oscar_value_free(t->outs);
	}
	free(t);
}

static void task_unref(osc_tm_task_t *t)
{
	if (--t->refs == 0) {
		task_free(t);
	}
}

// graph_end records that g ended and queues its waiters.
static void graph_end(osc_tm_t *tm, osc_tm_graph_t *g)
{
	if (g->status != OSC_GRAPH_RUNNING) {
		return;
	}
	g->status = g->cancelling        ? OSC_GRAPH_CANCELLED
	            : g->error.code != 0 ? OSC_GRAPH_FAILED
	                                 : OSC_GRAPH_DONE;
	g->end_ms = osc_now_ms();
	if (!g->in_ended) {
		g->in_ended   = true;
		g->ended_next = tm->ended;
		tm->ended     = g;
	}
}

static void graph_count(osc_tm_t *tm, osc_tm_graph_t *g, osc_task_state_t old, osc_task_state_t s)
{
	g->counts[old]--;
	g->counts[s]++;
	if (state_final(s) && !state_final(old) && ++g->finished == g->n) {
		graph_end(tm, g);
	}
}

// task_set moves t to state s in every graph that holds it.
static void task_set(osc_tm_t *tm, osc_tm_task_t *t, osc_task_state_t s)
{
	osc_task_state_t old = t->state;
	t->state             = s;
	graph_count(tm, t->graph0, old, s);
	for (size_t i = 0; i < t->n_more; i++) {
		graph_count(tm, t->more[i], old, s);
	}
}

static void error_record(osc_tm_graph_t *g, const osc_tm_error_t *err)
{
	if (g->error.code == 0) {
		g->error = *err;
	}
}

static void task_error_record(osc_tm_task_t *t, const osc_tm_error_t *err)
{
	error_record(t->graph0, err);
	for (size_t i = 0; i < t->n_more; i++) {
		error_record(t->more[i], err);
	}
}

static void error_fill(osc_tm_error_t *err, int code, int sig, const osc_tm_task_t *t,
    const char *worker, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

static void error_fill(osc_tm_error_t *err, int code, int sig, const osc_tm_task_t *t,
    const char *worker, const char *fmt, ...)
{
	memset(err, 0, sizeof(*err));
	err->code   = code != 0 ? code : OSCAR_EAPP;
	err->signal = sig;
	snprintf(err->key, sizeof(err->key), "%s", t->key);
	snprintf(err->fn, sizeof(err->fn), "%s", t->fn != NULL ? t->fn->name : "");
	snprintf(err->worker, sizeof(err->worker), "%s", worker != NULL ? worker : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

// task_retire does what every task that reaches a final state needs: it
// leaves the live map and drops its arguments.
static void task_retire(osc_tm_t *tm, osc_tm_task_t *t)
{
	if (t->live) {
		osc_map_remove(&tm->live, t->hash, t);
		t->live = false;
	}
	oscar_value_free(t->args);
	t->args = NULL;
}

static void deps_drop(osc_tm_task_t *t)
{
	if (t->follower != NULL) {
		task_unref(t->follower);
		t->follower = NULL;
	}
	for (size_t i = 0; i < t->n_deps; i++) {
		task_unref(t->deps[i].task);
	}
	free(t->deps);
	t->deps   = NULL;
	t->n_deps = t->cap_deps = 0;
}

static bool task_only_in(const osc_tm_task_t *t, const osc_tm_graph_t *g)
{
	return (t->graph0 == g && t->n_more == 0);
}

static void withdraw(osc_tm_t *tm, osc_tm_task_t *t);

// propagate ends every task downstream of root (which has ended, failed
// or cancelled): those of cancel_g alone are cancelled, the others fail
// with err. Iterative, with the tasks' next links as the stack.
static void propagate(
    osc_tm_t *tm, osc_tm_task_t *root, const osc_tm_error_t *err, const osc_tm_graph_t *cancel_g)
{
	osc_tm_task_t *stack = root;
	root->next           = NULL;
	while (stack != NULL) {
		osc_tm_task_t *x = stack;
		stack            = x->next;
		x->next          = NULL;
		for (size_t i = 0; i < x->n_deps; i++) {
			osc_tm_task_t *d = x->deps[i].task;
			if (d->ahead) {
				// Given to a worker ahead of its input: taken back.
				withdraw(tm, d);
			} else if (d->state != OSC_TASK_PENDING) {
				continue;
			}
			bool cancel = cancel_g != NULL && task_only_in(d, cancel_g);
			if (!cancel) {
				task_error_record(d, err);
			}
			task_retire(tm, d);
			d->next = stack;
			stack   = d;
			task_set(tm, d, cancel ? OSC_TASK_CANCELLED : OSC_TASK_FAILED);
		}
		deps_drop(x);
	}
}

static void ready_remove(osc_tm_t *tm, osc_tm_task_t *t)
{
	osc_tm_fn_t *f = t->fn;
	if (t->prev != NULL) {
		t->prev->next = t->next;
	} else {
		f->head = t->next;
	}
	if (t->next != NULL) {
		t->next->prev = t->prev;
	} else {
		f->tail = t->prev;
	}
	t->prev = t->next = NULL;
	tm->n_ready--;
}

static void ready_push(osc_tm_t *tm, osc_tm_task_t *t, bool front)
{
	osc_tm_fn_t *f = t->fn;
	t->prev = t->next = NULL;
	if (f->head == NULL) {
		f->head = f->tail = t;
	} else if (front) {
		t->next       = f->head;
		f->head->prev = t;
		f->head       = t;
	} else {
		t->prev       = f->tail;
		f->tail->next = t;
		f->tail       = t;
	}
	tm->n_ready++;
	if (t->state != OSC_TASK_READY) {
		task_set(tm, t, OSC_TASK_READY);
	}
}

// task_fail fails t (not final, not in a FIFO) with err and everything
// downstream of it.
static void task_fail(osc_tm_t *tm, osc_tm_task_t *t, const osc_tm_error_t *err)
{
	task_error_record(t, err);
	task_retire(tm, t);
	task_set(tm, t, OSC_TASK_FAILED);
	propagate(tm, t, err, NULL);
}

// ---------------------------------------------------------------------------
// Scheduling

static void dirty_mark(osc_tm_t *tm, osc_tm_worker_t *w)
{
	if (!w->dirty) {
		w->dirty      = true;
		w->dirty_next = tm->dirty;
		tm->dirty     = w;
	}
}

// assign gives t to w: 0, or OSCAR_ENOMEM with nothing changed.
static int assign(osc_tm_t *tm, osc_tm_task_t *t, osc_tm_worker_t *w)
{
	if (osc_map_reserve(&w->held) != 0 ||
	    osc_reserve(&w->outbox, &w->cap_out, w->n_out, sizeof(*w->outbox), 16) != 0) {
		return (OSCAR_ENOMEM);
	}
	osc_map_insert(&w->held, t->hash, t);
	w->outbox[w->n_out++] = t;
	t->worker             = w;
	t->unsent             = true;
	t->started            = false;
	t->refs++;
	w->load++;
	dirty_mark(tm, w);
	task_set(tm, t, OSC_TASK_ASSIGNED);
	return (0);
}

// after_clear forgets which task t follows (sent, or taken back).
static void after_clear(osc_tm_task_t *t)
{
	if (t->after != NULL) {
		osc_tm_task_t *a = t->after;
		t->after         = NULL;
		task_unref(a);
	}
}

// release takes t back from the worker holding it; t may be freed.
static void release(osc_tm_t *tm, osc_tm_task_t *t)
{
	osc_tm_worker_t *w = t->worker;
	osc_map_remove(&w->held, t->hash, t);
	if (t->zombie) {
		osc_map_remove(&tm->zombies, t->hash, t);
		t->zombie = false;
	}
	w->load--;
	if (t->started) {
		w->running--;
	}
	t->worker  = NULL;
	t->started = false;
	t->unsent  = false;
	t->ahead   = false;
	after_clear(t);
	task_unref(t);
}

static void touch(osc_tm_t *tm, osc_tm_worker_t *w, uint64_t bytes)
{
	if (!w->touched) {
		w->touched                   = true;
		w->scratch                   = 0;
		tm->touched[tm->n_touched++] = w;
	}
	w->scratch += bytes;
}

// pick chooses the worker for ready task t, or NULL when none has room.
static osc_tm_worker_t *pick(osc_tm_t *tm, osc_tm_task_t *t)
{
	osc_tm_fn_t     *f    = t->fn;
	osc_tm_worker_t *best = NULL;
	for (size_t i = 0; i < t->n_inputs; i++) {
		osc_tm_in_t *in = &t->inputs[i];
		if (in->local) {
			osc_tm_worker_t *w;
			if (in->done && (w = worker_by_id(tm, in->wid)) != NULL) {
				touch(tm, w, in->bytes);
			}
		} else if (tm->ops.locate != NULL) {
			osc_tm_loc_t locs[OSC_TM_LOCS_MAX];
			size_t n = tm->ops.locate(tm->ops.arg, in->key, locs, OSC_TM_LOCS_MAX);
			for (size_t j = 0; j < n && j < OSC_TM_LOCS_MAX; j++) {
				osc_tm_worker_t *w;
				if (locs[j].worker != NULL &&
				    (w = worker_find(tm, locs[j].worker)) != NULL) {
					touch(tm, w, locs[j].bytes);
				}
			}
		}
	}
	for (size_t i = 0; i < tm->n_touched; i++) {
		osc_tm_worker_t *w = tm->touched[i];
		w->touched         = false;
		if (w->scratch == 0 || !worker_room(w) || !worker_offers(w, f)) {
			continue;
		}
		if (best == NULL || w->scratch > best->scratch ||
		    (w->scratch == best->scratch && w->load < best->load)) {
			best = w;
		}
	}
	tm->n_touched = 0;
	if (best != NULL) {
		return (best);
	}
	// The least loaded, counting free slots: a worker with more free
	// slots wins.
	long best_free = 0;
	for (size_t i = 0; i < f->n_workers; i++) {
		osc_tm_worker_t *w          = f->workers[i];
		long             free_slots = (long) w->slots + (long) w->lent - (long) w->load;
		if (worker_room(w) && (best == NULL || free_slots > best_free)) {
			best      = w;
			best_free = free_slots;
		}
	}
	return (best);
}

// ahead_next gives the dependent of t that may run ahead behind it on w:
// pending, with t's output as its one unfinished input, and a function w
// offers; NULL if none, or if t has a follower already.
static osc_tm_task_t *ahead_next(osc_tm_task_t *t, const osc_tm_worker_t *w)
{
	if (t->follower != NULL) {
		if (t->follower->ahead) {
			return (NULL);
		}
		task_unref(t->follower); // taken back since: t may have another
		t->follower = NULL;
	}
	for (size_t i = 0; i < t->n_deps; i++) {
		osc_tm_task_t *d = t->deps[i].task;
		if (d->state == OSC_TASK_PENDING && !d->ahead && d->waiting == 1 &&
		    worker_offers(w, d->fn)) {
			return (d);
		}
	}
	return (NULL);
}

// ahead_extend assigns to w, while it has room, the chain that follows t
// there (t is held by w): each task whose one unfinished input is the
// task before it, so that w runs it as soon as that input is stored,
// without a round trip through the engine. A no-op unless the engine
// runs ahead (osc_tm_limits_t.run_ahead).
static void ahead_extend(osc_tm_t *tm, osc_tm_worker_t *w, osc_tm_task_t *t)
{
	osc_tm_task_t *d;
	if (!tm->limits.run_ahead) {
		return;
	}
	while (worker_room(w) && (d = ahead_next(t, w)) != NULL && assign(tm, d, w) == 0) {
		d->ahead    = true;
		d->after    = t;
		t->follower = d;
		t->refs++;
		d->refs++;
		t = d;
	}
}

// ahead_tail extends the chain running ahead behind t, which finished,
// from its last task: its worker has room again.
static void ahead_tail(osc_tm_t *tm, osc_tm_task_t *t)
{
	osc_tm_task_t   *x = t->follower;
	osc_tm_worker_t *w = x != NULL ? x->worker : NULL;
	if (w == NULL || state_final(x->state)) {
		return;
	}
	while (
	    x->follower != NULL && x->follower->worker == w && !state_final(x->follower->state)) {
		x = x->follower;
	}
	ahead_extend(tm, w, x);
}

// schedule places t, whose inputs are all there: on a worker, or in its
// function's FIFO; it fails when no worker offers its function.
static void schedule(osc_tm_t *tm, osc_tm_task_t *t)
{
	osc_tm_fn_t *f = t->fn;
	if (f->n_workers == 0) {
		osc_tm_error_t err;
		error_fill(&err, OSCAR_ENOENT, 0, t, NULL,
		    "task %s: no worker offers function %s any more", t->key, f->name);
		task_fail(tm, t, &err);
		return;
	}
	osc_tm_worker_t *w = pick(tm, t);
	if (w != NULL && assign(tm, t, w) == 0) {
		ahead_extend(tm, w, t);
		return;
	}
	ready_push(tm, t, false);
}

// pull gives w ready tasks of the functions it offers while it has room.
static void pull(osc_tm_t *tm, osc_tm_worker_t *w)
{
	while (tm->n_ready > 0 && worker_room(w)) {
		osc_tm_task_t *t = NULL;
		for (size_t k = 0; k < w->n_fns && t == NULL; k++) {
			size_t       i = (w->pull_next + k) % w->n_fns;
			osc_tm_fn_t *f = w->fns[i];
			if (f->head != NULL) {
				t            = f->head;
				w->pull_next = (i + 1) % w->n_fns;
			}
		}
		if (t == NULL) {
			return;
		}
		ready_remove(tm, t);
		if (assign(tm, t, w) != 0) {
			ready_push(tm, t, true);
			return;
		}
		ahead_extend(tm, w, t);
	}
}

// task_done records that t finished on w with the output sizes given.
static void task_done(osc_tm_t *tm, osc_tm_task_t *t, uint64_t wid, const uint64_t *sizes,
    const oscar_value_t *values)
{
	t->done_wid = wid;
	if (t->want && t->outs == NULL && values != NULL && values->type == OSCAR_ARRAY &&
	    oscar_value_len(values) == t->n_output) {
		uint64_t bytes = 0;
		bool     small = true;
		for (unsigned i = 0; small && i < t->n_output; i++) {
			small = sizes[i] <= OSC_TM_INLINE_MAX;
			bytes += sizes[i] + 16;
		}
		if (small && tm->held + bytes <= OSC_TM_HELD_MAX &&
		    (t->outs = oscar_value_copy(values)) != NULL) {
			t->outs_bytes = bytes;
			t->held       = &tm->held;
			tm->held += bytes;
		}
	}
	task_retire(tm, t);
	task_set(tm, t, OSC_TASK_DONE);
	for (size_t i = 0; i < t->n_deps; i++) {
		osc_tm_task_t *d  = t->deps[i].task;
		osc_tm_in_t   *in = &d->inputs[t->deps[i].in];
		in->done          = true;
		in->wid           = wid;
		in->bytes         = sizes[in->index > 0 ? in->index : 0];
		if (d->ahead) {
			// On its worker already, behind t: from now on an
			// ordinary assigned task.
			if (--d->waiting == 0) {
				d->ahead = false;
			}
		} else if (d->state == OSC_TASK_PENDING && --d->waiting == 0) {
			schedule(tm, d);
		}
	}
	ahead_tail(tm, t);
	deps_drop(t);
}

// ---------------------------------------------------------------------------
// Waiters

static void waiter_unlink(osc_tm_waiter_t *w)
{
	osc_tm_graph_t *g = w->graph;
	if (g == NULL) {
		return;
	}
	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else {
		g->waiters = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	}
	w->prev = w->next = NULL;
	w->graph          = NULL;
}

void osc_tm_wait(osc_tm_graph_t *g, osc_tm_waiter_t *w, osc_tm_wait_cb cb, void *arg)
{
	w->cb    = cb;
	w->arg   = arg;
	w->prev  = NULL;
	w->next  = NULL;
	w->graph = NULL;
	if (g->status != OSC_GRAPH_RUNNING) {
		cb(arg, g);
		return;
	}
	w->graph = g;
	w->next  = g->waiters;
	if (g->waiters != NULL) {
		g->waiters->prev = w;
	}
	g->waiters = w;
}

void osc_tm_unwait(osc_tm_waiter_t *w)
{
	if (w != NULL) {
		waiter_unlink(w);
	}
}

static void graph_free(osc_tm_graph_t *g)
{
	osc_map_fini(&g->bykey);
	free(g->tasks);
	free(g->id);
	free(g);
}

// fire calls the waiters of the graphs that ended.
static void fire(osc_tm_t *tm)
{
	if (tm->firing) {
		return;
	}
	tm->firing = true;
	while (tm->ended != NULL) {
		osc_tm_graph_t *g    = tm->ended;
		tm->ended            = g->ended_next;
		g->in_ended          = false;
		tm->fire_graph       = g;
		tm->fire_graph_freed = false;
		while (g->waiters != NULL) {
			osc_tm_waiter_t *w = g->waiters;
			waiter_unlink(w);
			w->cb(w->arg, g);
			if (tm->fire_graph_freed) {
				break;
			}
		}
		if (tm->fire_graph_freed) {
			graph_free(g);
		}
		tm->fire_graph = NULL;
	}
	tm->firing = false;
}

// ---------------------------------------------------------------------------
// The engine

int osc_tm_new(osc_tm_t **tmp, const osc_tm_ops_t *ops, const osc_tm_limits_t *limits)
{
	if (tmp == NULL || ops == NULL || ops->assign == NULL || ops->cancel == NULL ||
	    ops->stored == NULL) {
		return (OSCAR_EINVAL);
	}
	osc_tm_t *tm = calloc(1, sizeof(*tm));
	if (tm == NULL) {
		return (OSCAR_ENOMEM);
	}
	tm->ops = *ops;
	if (limits != NULL) {
		tm->limits = *limits;
	}
	if (tm->limits.max_graph_tasks == 0) {
		tm->limits.max_graph_tasks = OSC_TM_DEFAULT_GRAPH_TASKS;
	}
	if (tm->limits.max_task_inputs == 0) {
		tm->limits.max_task_inputs = OSC_TM_DEFAULT_TASK_INPUTS;
	}
	if (tm->limits.max_graphs == 0) {
		tm->limits.max_graphs = OSC_TM_DEFAULT_GRAPHS;
	}
	if (tm->limits.queue_us == 0) {
		tm->limits.queue_us = OSC_TM_DEFAULT_QUEUE_US;
	}
	if (tm->limits.queue_max == 0) {
		tm->limits.queue_max = OSC_TM_DEFAULT_QUEUE_MAX;
	}
	if (tm->limits.queue_max < OSC_TM_QUEUE_MIN) {
		tm->limits.queue_max = OSC_TM_QUEUE_MIN;
	}
	if (tm->limits.queue_max > OSC_TM_QUEUE_MAX) {
		tm->limits.queue_max = OSC_TM_QUEUE_MAX;
	}
	tm->next_wid = 1;
	*tmp         = tm;
	return (0);
}

static void worker_free(osc_tm_worker_t *w)
{
	// Cancellations not sent hold their tasks.
	for (size_t i = 0; i < w->n_cancel; i++) {
		task_unref(w->cancels[i]);
	}
	osc_map_fini(&w->held);
	free(w->fns);
	free(w->outbox);
	free(w->cancels);
	free(w->cancel_keys);
	free(w->addr);
	free(w);
}

void osc_tm_free(osc_tm_t **tmp)
{
	if (tmp == NULL || *tmp == NULL) {
		return;
	}
	osc_tm_t *tm = *tmp;
	// Edges first, then what workers hold, then the graphs' references:
	// every task is freed exactly when its last reference goes.
	for (osc_tm_graph_t *g = tm->first; g != NULL; g = g->next) {
		for (size_t i = 0; i < g->n; i++) {
			deps_drop(g->tasks[i]);
		}
	}
	for (size_t i = 0; i < tm->workers.cap; i++) {
		osc_tm_worker_t *w = osc_map_at(&tm->workers, i);
		if (w == NULL) {
			continue;
		}
		for (size_t j = 0; j < w->held.cap; j++) {
			osc_tm_task_t *t = osc_map_at(&w->held, j);
			if (t != NULL) {
				release(tm, t);
			}
		}
		worker_free(w);
	}
	osc_tm_graph_t *g = tm->first;
	while (g != NULL) {
		osc_tm_graph_t *next = g->next;
		for (osc_tm_waiter_t *w = g->waiters; w != NULL; w = w->next) {
			w->graph = NULL;
		}
		for (size_t i = 0; i < g->n; i++) {
			task_unref(g->tasks[i]);
		}
		graph_free(g);
		g = next;
	}
	for (size_t i = 0; i < tm->fns.cap; i++) {
		osc_tm_fn_t *f = osc_map_at(&tm->fns, i);
		if (f != NULL) {
			free(f->workers);
			free(f->name);
			free(f);
		}
	}
	osc_map_fini(&tm->live);
	osc_map_fini(&tm->zombies);
	osc_map_fini(&tm->graphs);
	osc_map_fini(&tm->fns);
	osc_map_fini(&tm->workers);
	osc_map_fini(&tm->wids);
	free(tm->touched);
	free(tm);
	*tmp = NULL;
}

// ---------------------------------------------------------------------------
// Workers

static osc_tm_fn_t *fn_get(osc_tm_t *tm, const char *name)
{
	osc_tm_fn_t *f = fn_find(tm, name);
	if (f != NULL) {
		return (f);
	}
	if (osc_map_reserve(&tm->fns) != 0 || (f = calloc(1, sizeof(*f))) == NULL) {
		return (NULL);
	}
	if ((f->name = strdup(name)) == NULL) {
		free(f);
		return (NULL);
	}
	f->hash = osc_hash_str(name);
	osc_map_insert(&tm->fns, f->hash, f);
	return (f);
}

static void fn_drop_worker(osc_tm_fn_t *f, const osc_tm_worker_t *w)
{
	for (size_t i = 0; i < f->n_workers; i++) {
		if (f->workers[i] == w) {
			f->workers[i] = f->workers[--f->n_workers];
			return;
		}
	}
}

int osc_tm_worker_add(osc_tm_t *tm, const char *addr, unsigned slots, unsigned queue,
    const char *const *fns, size_t n_fns, oscar_error_t *err)
{
	if (tm == NULL || addr == NULL || addr[0] == '\0' || strlen(addr) >= OSCAR_ADDR_MAX) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a worker needs an address of 1 to %d bytes", OSCAR_ADDR_MAX - 1));
	}
	if (slots == 0 || slots > OSC_TM_SLOTS_MAX ||
	    (queue > OSC_TM_QUEUE_MAX && queue != OSC_TM_QUEUE_AUTO)) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "worker %s: slots must be 1 to %d and its queue 0 to %d, not %u and %u", addr,
		    OSC_TM_SLOTS_MAX, OSC_TM_QUEUE_MAX, slots, queue));
	}
	if (n_fns > OSCAR_TASKFNS_MAX || (n_fns > 0 && fns == NULL)) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "worker %s: at most %d functions", addr, OSCAR_TASKFNS_MAX));
	}
	for (size_t i = 0; i < n_fns; i++) {
		if (!osc_taskfn_name_ok(fns[i])) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "worker %s offers a function with a bad name", addr));
		}
	}
	if (worker_find(tm, addr) != NULL) {
		return (oscar_error_set(err, OSCAR_EEXIST, "worker %s is known already", addr));
	}
	if (tm->n_workers >= OSC_TM_WORKERS_MAX) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "worker %s: the engine knows %d workers already", addr, OSC_TM_WORKERS_MAX));
	}
	osc_tm_worker_t *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->addr = strdup(addr)) == NULL ||
	    (n_fns > 0 && (w->fns = calloc(n_fns, sizeof(*w->fns))) == NULL) ||
	    osc_reserve(&tm->touched, &tm->cap_touched, tm->n_workers, sizeof(*tm->touched), 8) !=
	        0 ||
	    osc_map_reserve(&tm->workers) != 0 || osc_map_reserve(&tm->wids) != 0) {
		goto nomem;
	}
	size_t linked = 0;
	for (size_t i = 0; i < n_fns; i++) {
		osc_tm_fn_t *f = fn_get(tm, fns[i]);
		if (f == NULL) {
			goto unlink;
		}
		if (worker_offers(w, f)) {
			continue; // named twice
		}
		if (osc_reserve(
		        &f->workers, &f->cap_workers, f->n_workers, sizeof(*f->workers), 4) != 0) {
			goto unlink;
		}
		f->workers[f->n_workers++] = w;
		w->fns[w->n_fns++]         = f;
		linked++;
	}
	w->hash  = osc_hash_str(addr);
	w->id    = tm->next_wid++;
	w->slots = slots;
	w->autoq = queue == OSC_TM_QUEUE_AUTO;
	w->queue = w->autoq ? OSC_TM_QUEUE_MIN : queue;
	osc_map_insert(&tm->workers, w->hash, w);
	osc_map_insert(&tm->wids, osc_hash_u64(w->id), w);
	tm->n_workers++;
	pull(tm, w);
	return (0);
unlink:
	for (size_t i = 0; i < linked; i++) {
		fn_drop_worker(w->fns[i], w);
	}
nomem:
	if (w != NULL) {
		worker_free(w);
	}
	return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
}

int osc_tm_worker_load(const osc_tm_t *tm, const char *addr, unsigned *held, unsigned *running)
{
	osc_tm_worker_t *w = tm != NULL && addr != NULL ? worker_find(tm, addr) : NULL;
	if (w == NULL) {
		return (OSCAR_ENOENT);
	}
	if (held != NULL) {
		*held = w->load;
	}
	if (running != NULL) {
		*running = w->running;
	}
	return (0);
}

int osc_tm_worker_queue(const osc_tm_t *tm, const char *addr, unsigned *queue)
{
	osc_tm_worker_t *w = tm != NULL && addr != NULL ? worker_find(tm, addr) : NULL;
	if (w == NULL) {
		return (OSCAR_ENOENT);
	}
	if (queue != NULL) {
		*queue = w->queue;
	}
	return (0);
}

// worker_timed takes one run time (us) into w's moving average and, for
// an automatic queue, sizes its room: about limits.queue_us of work per
// slot, within [OSC_TM_QUEUE_MIN, limits.queue_max]. The average weighs
// the newest run by 1/8, and the first one alone: a long task shrinks
// the room at once, short ones grow it within a few dozen reports.
static void worker_timed(const osc_tm_t *tm, osc_tm_worker_t *w, uint64_t us)
{
	w->avg_us = w->timed ? w->avg_us + ((double) us - w->avg_us) / 8 : (double) us;
	w->timed  = true;
	if (!w->autoq) {
		return;
	}
	double room = (double) w->slots * tm->limits.queue_us / (w->avg_us > 1 ? w->avg_us : 1);
	w->queue    = room >= tm->limits.queue_max ? tm->limits.queue_max
	              : room <= OSC_TM_QUEUE_MIN   ? OSC_TM_QUEUE_MIN
	                                           : (unsigned) room;
}

int osc_tm_worker_lend(osc_tm_t *tm, const char *addr, int delta)
{
	osc_tm_worker_t *w = tm != NULL && addr != NULL ? worker_find(tm, addr) : NULL;
	if (w == NULL) {
		return (OSCAR_ENOENT);
	}
	if (delta < 0) {
		w->lent -= (unsigned) -delta < w->lent ? (unsigned) -delta : w->lent;
		return (0);
	}
	w->lent = w->lent + (unsigned) delta < OSC_TM_SLOTS_MAX ? w->lent + (unsigned) delta
	                                                        : OSC_TM_SLOTS_MAX;
	pull(tm, w);
	return (0);
}

int osc_tm_worker_lost(osc_tm_t *tm, const char *addr)
{
	osc_tm_worker_t *w = tm != NULL && addr != NULL ? worker_find(tm, addr) : NULL;
	if (w == NULL) {
		return (OSCAR_ENOENT);
	}
	// Out of every list first, so that nothing below picks it.
	for (size_t i = 0; i < w->n_fns; i++) {
		fn_drop_worker(w->fns[i], w);
	}
	osc_map_remove(&tm->workers, w->hash, w);
	osc_map_remove(&tm->wids, osc_hash_u64(w->id), w);
	tm->n_workers--;
	w->gone = true;
	if (w->dirty) {
		for (osc_tm_worker_t **pp = &tm->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
			if (*pp == w) {
				*pp = w->dirty_next;
				break;
			}
		}
	}
	// Removing from a map leaves a tombstone and never moves slots, so
	// the walk may release as it goes.
	for (size_t i = 0; i < w->held.cap; i++) {
		osc_tm_task_t *t = osc_map_at(&w->held, i);
		if (t == NULL) {
			continue;
		}
		if (state_final(t->state)) {
			release(tm, t);
			continue;
		}
		// Its graphs hold it: t lives on after release.
		osc_task_state_t was   = t->state;
		bool             ahead = t->ahead;
		release(tm, t);
		if (ahead) {
			// Its input is not there yet: it waits for it again.
			task_set(tm, t, OSC_TASK_PENDING);
		} else if (was == OSC_TASK_ASSIGNED) {
			schedule(tm, t);
		} else {
			osc_tm_error_t err;
			error_fill(&err, OSCAR_EPEERGONE, 0, t, addr,
			    "task %s: worker %s was lost while the task ran there", t->key, addr);
			task_fail(tm, t, &err);
		}
	}
	for (size_t i = 0; i < w->n_fns; i++) {
		osc_tm_fn_t *f = w->fns[i];
		while (f->n_workers == 0 && f->head != NULL) {
			osc_tm_task_t *t = f->head;
			ready_remove(tm, t);
			osc_tm_error_t err;
			error_fill(&err, OSCAR_ENOENT, 0, t, NULL,
			    "task %s: no worker offers function %s any more (worker %s was lost)",
			    t->key, f->name, addr);
			task_fail(tm, t, &err);
		}
	}
	worker_free(w);
	fire(tm);
	return (0);
}

// ---------------------------------------------------------------------------
// Reports and batches

int osc_tm_report(osc_tm_t *tm, const char *worker, const osc_tm_report_t *r, size_t n)
{
	if (tm == NULL || worker == NULL || (r == NULL && n > 0)) {
		return (OSCAR_EINVAL);
	}
	osc_tm_worker_t *w = worker_find(tm, worker);
	if (w == NULL) {
		return (OSCAR_ENOENT);
	}
	for (size_t i = 0; i < n; i++) {
		osc_tm_task_t *t = r[i].key != NULL ? held_find(w, r[i].key) : NULL;
		if (t == NULL || t->unsent) {
			// Not held, or not sent yet: the worker cannot know it.
			continue;
		}
		if (r[i].kind == OSC_TM_STARTED) {
			if (!t->started) {
				t->started = true;
				w->running++;
			}
			if (t->state == OSC_TASK_ASSIGNED) {
				task_set(tm, t, OSC_TASK_RUNNING);
			}
			continue;
		}
		if (state_final(t->state)) {
			// Cancelled while the worker held it: it is free now.
			release(tm, t);
			continue;
		}
		bool early = t->ahead;
		release(tm, t);
		if (r[i].kind == OSC_TM_FINISHED && r[i].timed) {
			worker_timed(tm, w, r[i].us);
		}
		osc_tm_error_t err;
		if (early) {
			error_fill(&err, OSCAR_EPROTO, 0, t, w->addr,
			    "task %s: worker %s reported it ended before its input %s did", t->key,
			    w->addr, t->inputs != NULL ? t->inputs[0].key : "");
			task_fail(tm, t, &err);
		} else if (r[i].kind == OSC_TM_FINISHED && r[i].n_sizes == t->n_output &&
		           r[i].sizes != NULL) {
			task_done(tm, t, w->id, r[i].sizes, r[i].values);
		} else if (r[i].kind == OSC_TM_FINISHED) {
			error_fill(&err, OSCAR_EPROTO, 0, t, w->addr,
			    "task %s: worker %s reported %zu output sizes for %u outputs", t->key,
			    w->addr, r[i].n_sizes, t->n_output);
			task_fail(tm, t, &err);
		} else {
			error_fill(&err, r[i].code, r[i].signal, t, w->addr, "%s",
			    r[i].message != NULL && r[i].message[0] != '\0'
			        ? r[i].message
			        : oscar_strerror(r[i].code != 0 ? r[i].code : OSCAR_EAPP));
			task_fail(tm, t, &err);
		}
	}
	pull(tm, w);
	fire(tm);
	return (0);
}

void osc_tm_flush(osc_tm_t *tm)
{
	while (tm->dirty != NULL) {
		osc_tm_worker_t *w = tm->dirty;
		tm->dirty          = w->dirty_next;
		w->dirty           = false;
		// The outbox holds exactly the tasks assigned and not sent:
		// one cancelled before it was sent left it then.
		for (size_t i = 0; i < w->n_out; i++) {
			w->outbox[i]->unsent = false;
		}
		if (w->n_out > 0) {
			tm->ops.assign(tm->ops.arg, w->addr, w->outbox, w->n_out);
		}
		for (size_t i = 0; i < w->n_out; i++) {
			after_clear(w->outbox[i]);
		}
		w->n_out = 0;
		if (w->n_cancel > 0) {
			tm->ops.cancel(tm->ops.arg, w->addr, w->cancel_keys, w->n_cancel);
			for (size_t i = 0; i < w->n_cancel; i++) {
				task_unref(w->cancels[i]);
			}
			w->n_cancel = 0;
		}
	}
}

// ---------------------------------------------------------------------------
// Cancel and delete

// withdraw takes t back from the worker holding it, if any: a task not
// sent yet leaves the outbox and the worker never hears of it; one sent
// the worker is asked to drop or stop, and it stays held (its slot may
// be busy) until the worker reports it ended.
static void withdraw(osc_tm_t *tm, osc_tm_task_t *t)
{
	osc_tm_worker_t *w = t->worker;
	t->ahead           = false;
	if (w == NULL) {
		return;
	}
	if (t->unsent || w->gone) {
		// The outbox is at most slots + queue long.
		for (size_t i = 0; t->unsent && i < w->n_out; i++) {
			if (w->outbox[i] == t) {
				memmove(&w->outbox[i], &w->outbox[i + 1],
				    (w->n_out - i - 1) * sizeof(*w->outbox));
				w->n_out--;
				break;
			}
		}
		release(tm, t);
		return;
	}
	if (osc_reserve(&w->cancels, &w->cap_cancel, w->n_cancel, sizeof(*w->cancels), 8) == 0 &&
	    osc_reserve(&w->cancel_keys, &w->cap_keys, w->n_cancel, sizeof(*w->cancel_keys), 8) ==
	        0) {
		t->refs++;
		w->cancels[w->n_cancel]       = t;
		w->cancel_keys[w->n_cancel++] = t->key;
		dirty_mark(tm, w);
	}
	// Until the worker reports it ended, the key is taken: a new task
	// with it could not be told apart in the worker's reports.
	if (osc_map_reserve(&tm->zombies) == 0) {
		osc_map_insert(&tm->zombies, t->hash, t);
		t->zombie = true;
	}
}

// task_cancel cancels t, a task of g alone.
static void task_cancel(osc_tm_t *tm, osc_tm_task_t *t, osc_tm_graph_t *g)
{
	if (t->state == OSC_TASK_READY) {
		ready_remove(tm, t);
	} else {
		withdraw(tm, t);
	}
	task_retire(tm, t);
	task_set(tm, t, OSC_TASK_CANCELLED);
	osc_tm_error_t err;
	error_fill(&err, OSCAR_ECANCELED, 0, t, NULL, "task %s was cancelled with graph %s", t->key,
	    g->id);
	propagate(tm, t, &err, g);
}

// task_detach takes g out of the graphs holding t (which another graph
// holds too); for g, t counts as cancelled.
static void task_detach(osc_tm_t *tm, osc_tm_task_t *t, osc_tm_graph_t *g)
{
	if (t->graph0 == g) {
		t->graph0 = t->more[--t->n_more];
	} else {
		for (size_t i = 0; i < t->n_more; i++) {
			if (t->more[i] == g) {
				t->more[i] = t->more[--t->n_more];
				break;
			}
		}
	}
	g->counts[t->state]--;
	g->counts[OSC_TASK_CANCELLED]++;
	g->finished++;
}

static bool task_in(const osc_tm_task_t *t, const osc_tm_graph_t *g)
{
	if (t->graph0 == g) {
		return (true);
	}
	for (size_t i = 0; i < t->n_more; i++) {
		if (t->more[i] == g) {
			return (true);
		}
	}
	return (false);
}

static void cancel(osc_tm_t *tm, osc_tm_graph_t *g)
{
	if (g->status != OSC_GRAPH_RUNNING) {
		return;
	}
	g->cancelling = true;
	for (size_t i = 0; i < g->n; i++) {
		osc_tm_task_t *t = g->tasks[i];
		if (state_final(t->state) || !task_in(t, g)) {
			continue;
		}
		if (!task_only_in(t, g)) {
			task_detach(tm, t, g);
		} else {
			task_cancel(tm, t, g);
		}
	}
	graph_end(tm, g);
	// Workers that got tasks back (all of them in the dirty list: they
	// had unsent ones) take ready work of other graphs.
	for (osc_tm_worker_t *w = tm->dirty; w != NULL; w = w->dirty_next) {
		pull(tm, w);
	}
}

void osc_tm_cancel(osc_tm_t *tm, osc_tm_graph_t *g)
{
	if (tm == NULL || g == NULL) {
		return;
	}
	cancel(tm, g);
	fire(tm);
}

void osc_tm_graph_delete(osc_tm_t *tm, osc_tm_graph_t *g)
{
	if (tm == NULL || g == NULL || g->deleting) {
		return;
	}
	g->deleting = true;
	cancel(tm, g);
	while (g->waiters != NULL) {
		osc_tm_waiter_t *w = g->waiters;
		waiter_unlink(w);
		w->cb(w->arg, g);
	}
	if (g->in_ended) {
		for (osc_tm_graph_t **pp = &tm->ended; *pp != NULL; pp = &(*pp)->ended_next) {
			if (*pp == g) {
				*pp = g->ended_next;
				break;
			}
		}
		g->in_ended = false;
	}
	if (g->prev != NULL) {
		g->prev->next = g->next;
	} else {
		tm->first = g->next;
	}
	if (g->next != NULL) {
		g->next->prev = g->prev;
	} else {
		tm->last = g->prev;
	}
	osc_map_remove(&tm->graphs, g->hash, g);
	tm->n_graphs--;
	for (size_t i = 0; i < g->n; i++) {
		osc_tm_task_t *t = g->tasks[i];
		// A finished task may still name g among its graphs.
		if (t->graph0 == g && t->n_more > 0) {
			t->graph0 = t->more[--t->n_more];
		} else if (t->graph0 != g) {
			for (size_t j = 0; j < t->n_more; j++) {
				if (t->more[j] == g) {
					t->more[j] = t->more[--t->n_more];
					break;
				}
			}
		}
		task_unref(t);
	}
	if (tm->fire_graph == g) {
		tm->fire_graph_freed = true;
	} else {
		graph_free(g);
	}
	fire(tm);
}

// ---------------------------------------------------------------------------
// Submission

enum { SUB_NEW = 0, SUB_JOIN, SUB_DROP };
// What an input resolved to, besides a new task's index.
#define SUB_LIVE   (-1)
#define SUB_STORED (-2)

// sub_t is a submission being checked.
typedef struct sub {
	osc_tm_spec_t  *specs;
	size_t          n;
	osc_map_t       idx;  // spec index + 1, by key hash
	uint64_t       *hash; // of each spec's key
	uint8_t        *kind;
	osc_tm_task_t **live; // SUB_JOIN: the task joined
	osc_tm_fn_t   **fn;   // SUB_NEW: its function
	size_t         *off;  // spec i's inputs are [off[i], off[i + 1])
	size_t          total;
	int64_t        *prod;   // per input: a new task's spec index, SUB_LIVE or SUB_STORED
	osc_tm_task_t **lprod;  // per input, SUB_LIVE: the live task
	char          **objkey; // per input: the object's key
	size_t         *want;   // per spec: edges to its dependents
} sub_t;

static void sub_fini(sub_t *sb)
{
	for (size_t i = 0; sb->objkey != NULL && i < sb->total; i++) {
		free(sb->objkey[i]);
	}
	osc_map_fini(&sb->idx);
	free(sb->hash);
	free(sb->kind);
	free(sb->live);
	free(sb->fn);
	free(sb->off);
	free(sb->prod);
	free(sb->lprod);
	free(sb->objkey);
	free(sb->want);
}

static int64_t sub_find(const sub_t *sb, const char *key, uint64_t h)
{
	size_t pos = osc_map_first(&sb->idx, h);
	void  *v;
	while ((v = osc_map_next(&sb->idx, h, &pos)) != NULL) {
		size_t i = (size_t) (uintptr_t) v - 1;
		if (strcmp(sb->specs[i].key, key) == 0) {
			return ((int64_t) i);
		}
	}
	return (-1);
}

// key_ok: 1 to OSCAR_TASK_KEY_MAX - 1 bytes, no '#' (it names outputs).
static bool key_ok(const char *key)
{
	if (key == NULL || key[0] == '\0') {
		return (false);
	}
	size_t len = strnlen(key, OSCAR_TASK_KEY_MAX);
	return (len < OSCAR_TASK_KEY_MAX && memchr(key, '#', len) == NULL);
}

// object_key gives the key of output index of key, whose task has n_out
// outputs (0: unknown, a stored object), in a new string.
static char *object_key(const char *key, int index, unsigned n_out)
{
	char buf[OSCAR_TASK_KEY_MAX + 16];
	if (index == OSC_TM_WHOLE || (n_out == 1 && index == 0)) {
		return (strdup(key));
	}
	snprintf(buf, sizeof(buf), "%s#%d", key, index);
	return (strdup(buf));
}

// all_stored tells whether every output of spec s is stored.
static bool all_stored(const osc_tm_t *tm, const osc_tm_spec_t *s)
{
	char buf[OSCAR_TASK_KEY_MAX + 16];
	if (s->n_output == 1) {
		return (tm->ops.stored(tm->ops.arg, s->key));
	}
	for (unsigned i = 0; i < s->n_output; i++) {
		snprintf(buf, sizeof(buf), "%s#%u", s->key, i);
		if (!tm->ops.stored(tm->ops.arg, buf)) {
			return (false);
		}
	}
	return (true);
}

// check_index checks that a task refers to an output its producer has.
static int check_index(
    const char *who, const osc_tm_input_t *in, unsigned n_out, oscar_error_t *err)
{
	if (in->index == OSC_TM_WHOLE && n_out > 1) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "task %s refers to task %s, which has %u outputs: name one (%s#0 to %s#%u)",
		    who, in->key, n_out, in->key, in->key, n_out - 1));
	}
	if (in->index != OSC_TM_WHOLE && (in->index < 0 || (unsigned) in->index >= n_out)) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "task %s refers to output #%d of task %s, which has %u output%s", who,
		    in->index, in->key, n_out, n_out == 1 ? "" : "s"));
	}
	return (0);
}

// sub_specs checks each spec on its own and the keys for duplicates.
static int sub_specs(const osc_tm_t *tm, sub_t *sb, oscar_error_t *err)
{
	for (size_t i = 0; i < sb->n; i++) {
		const osc_tm_spec_t *s = &sb->specs[i];
		if (!key_ok(s->key)) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "task #%zu of the graph: a key is 1 to %d bytes without '#'", i,
			    OSCAR_TASK_KEY_MAX - 1));
		}
		if (!osc_taskfn_name_ok(s->fn)) {
			return (
			    oscar_error_set(err, OSCAR_EINVAL, "task %s: bad function name '%.64s'",
			        s->key, s->fn != NULL ? s->fn : "(null)"));
		}
		if (s->n_output < 1 || s->n_output > OSCAR_TASK_OUTPUT_MAX) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "task %s: n_output must be 1 to %d, not %u", s->key,
			    OSCAR_TASK_OUTPUT_MAX, s->n_output));
		}
		if (s->n_inputs > tm->limits.max_task_inputs ||
		    (s->n_inputs > 0 && s->inputs == NULL)) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "task %s: %zu references, more than the limit of %zu", s->key,
			    s->n_inputs, tm->limits.max_task_inputs));
		}
		for (size_t j = 0; j < s->n_inputs; j++) {
			if (!key_ok(s->inputs[j].key) || s->inputs[j].index < OSC_TM_WHOLE ||
			    s->inputs[j].index >= OSCAR_TASK_OUTPUT_MAX) {
				return (oscar_error_set(err, OSCAR_EINVAL,
				    "task %s: reference #%zu is malformed", s->key, j));
			}
		}
		sb->hash[i] = osc_hash_str(s->key);
		int64_t dup = sub_find(sb, s->key, sb->hash[i]);
		if (dup >= 0) {
			return (oscar_error_set(err, OSCAR_EEXIST,
			    "duplicate task key %s (tasks #%" PRId64 " and #%zu of the graph)",
			    s->key, dup, i));
		}
		if (osc_map_reserve(&sb->idx) != 0) {
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
		osc_map_insert(&sb->idx, sb->hash[i], (void *) (uintptr_t) (i + 1));
		sb->off[i + 1] = sb->off[i] + s->n_inputs;
	}
	sb->total = sb->off[sb->n];
	return (0);
}

// sub_classify tells new tasks from joined (pure and live) and reused
// (pure and stored) ones, and checks the functions of new ones.
static int sub_classify(osc_tm_t *tm, sub_t *sb, oscar_error_t *err)
{
	for (size_t i = 0; i < sb->n; i++) {
		const osc_tm_spec_t *s  = &sb->specs[i];
		osc_tm_task_t       *lt = live_find(tm, s->key, sb->hash[i]);
		if (lt != NULL) {
			if (!s->pure || !lt->pure) {
				return (oscar_error_set(err, OSCAR_EEXIST,
				    "task %s: the key is in use by a task of graph %s", s->key,
				    lt->graph0->id));
			}
			if (strcmp(lt->fn->name, s->fn) != 0 || lt->n_output != s->n_output) {
				return (oscar_error_set(err, OSCAR_EEXIST,
				    "task %s: graph %s runs a task with this key but function %s "
				    "and %u "
				    "output(s)",
				    s->key, lt->graph0->id, lt->fn->name, lt->n_output));
			}
			sb->kind[i] = SUB_JOIN;
			sb->live[i] = lt;
			continue;
		}
		if ((lt = zombie_find(tm, s->key, sb->hash[i])) != NULL) {
			return (oscar_error_set(err, OSCAR_ESTATE,
			    "task %s: a cancelled run of it is still stopping on worker %s; submit "
			    "it "
			    "again once that ends",
			    s->key, lt->worker->addr));
		}
		if (s->pure && all_stored(tm, s)) {
			sb->kind[i] = SUB_DROP;
			continue;
		}
		osc_tm_fn_t *f = fn_find(tm, s->fn);
		if (f == NULL || f->n_workers == 0) {
			return (oscar_error_set(err, OSCAR_ENOENT,
			    "task %s: no worker offers function %s", s->key, s->fn));
		}
		sb->kind[i] = SUB_NEW;
		sb->fn[i]   = f;
	}
	return (0);
}

// sub_resolve resolves every reference of the new tasks.
static int sub_resolve(osc_tm_t *tm, sub_t *sb, oscar_error_t *err)
{
	int rv;
	for (size_t i = 0; i < sb->n; i++) {
		const osc_tm_spec_t *s = &sb->specs[i];
		if (sb->kind[i] != SUB_NEW) {
			continue;
		}
		for (size_t j = 0; j < s->n_inputs; j++) {
			const osc_tm_input_t *in = &s->inputs[j];
			size_t                k  = sb->off[i] + j;
			uint64_t              h  = osc_hash_str(in->key);
			int64_t               p  = sub_find(sb, in->key, h);
			osc_tm_task_t        *lt = NULL;
			unsigned              n_out;
			if (p >= 0) {
				n_out = sb->specs[p].n_output;
				if (sb->kind[p] == SUB_NEW) {
					sb->prod[k] = p;
					sb->want[p]++;
				} else if (sb->kind[p] == SUB_JOIN) {
					sb->prod[k]  = SUB_LIVE;
					sb->lprod[k] = lt = sb->live[p];
				} else {
					sb->prod[k] = SUB_STORED;
				}
			} else if ((lt = live_find(tm, in->key, h)) != NULL) {
				n_out        = lt->n_output;
				sb->prod[k]  = SUB_LIVE;
				sb->lprod[k] = lt;
			} else {
				n_out       = 0;
				sb->prod[k] = SUB_STORED;
			}
			if (n_out > 0 && (rv = check_index(s->key, in, n_out, err)) != 0) {
				return (rv);
			}
			if ((sb->objkey[k] = object_key(in->key, in->index, n_out)) == NULL) {
				return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
			}
			if (n_out == 0 && !tm->ops.stored(tm->ops.arg, sb->objkey[k])) {
				return (oscar_error_set(err, OSCAR_ENOENT,
				    "task %s refers to %s, which is neither a task of the graph "
				    "nor stored "
				    "in the session",
				    s->key, sb->objkey[k]));
			}
			if (lt != NULL) {
				lt->want_deps++;
			}
		}
	}
	return (0);
}

// sub_cycles looks for a cycle among the new tasks (Kahn's algorithm),
// and names one if there is.
static int sub_cycles(sub_t *sb, oscar_error_t *err)
{
	size_t  n      = sb->n;
	size_t *indeg  = calloc(n, sizeof(*indeg));
	size_t *outoff = calloc(n + 1, sizeof(*outoff));
	size_t *adj    = calloc(sb->total + 1, sizeof(*adj));
	size_t *queue  = calloc(n, sizeof(*queue));
	size_t *step   = calloc(n, sizeof(*step));
	int     rv     = 0;
	if (indeg == NULL || outoff == NULL || adj == NULL || queue == NULL || step == NULL) {
		rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
		goto out;
	}
	size_t n_new = 0;
	for (size_t i = 0; i < n; i++) {
		n_new += sb->kind[i] == SUB_NEW;
		for (size_t k = sb->off[i]; sb->kind[i] == SUB_NEW && k < sb->off[i + 1]; k++) {
			if (sb->prod[k] >= 0) {
				indeg[i]++;
				outoff[sb->prod[k] + 1]++;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		outoff[i + 1] += outoff[i];
	}
	// step[] doubles as the fill cursor of each producer's edges here.
	for (size_t i = 0; i < n; i++) {
		for (size_t k = sb->off[i]; sb->kind[i] == SUB_NEW && k < sb->off[i + 1]; k++) {
			if (sb->prod[k] >= 0) {
				size_t p                   = (size_t) sb->prod[k];
				adj[outoff[p] + step[p]++] = i;
			}
		}
	}
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < n; i++) {
		if (sb->kind[i] == SUB_NEW && indeg[i] == 0) {
			queue[tail++] = i;
		}
	}
	while (head < tail) {
		size_t p = queue[head++];
		for (size_t e = outoff[p]; e < outoff[p + 1]; e++) {
			if (--indeg[adj[e]] == 0) {
				queue[tail++] = adj[e];
			}
		}
	}
	if (tail == n_new) {
		goto out;
	}
	// Walk back from a task left over, through producers left over,
	// until a task comes again: that is a cycle.
	size_t v = 0;
	while (sb->kind[v] != SUB_NEW || indeg[v] == 0) {
		v++;
	}
	memset(step, 0, n * sizeof(*step));
	size_t *path = queue; // reused: the tasks walked, in order
	size_t  len  = 0;
	while (step[v] == 0) {
		path[len++] = v;
		step[v]     = len;
		size_t next = v;
		for (size_t k = sb->off[v]; k < sb->off[v + 1]; k++) {
			if (sb->prod[k] >= 0 && indeg[sb->prod[k]] > 0) {
				next = (size_t) sb->prod[k];
				break;
			}
		}
		v = next;
	}
	// path[step[v] - 1 .. len) is the cycle, each task's producer after
	// it: print it the other way, producer first.
	char   msg[OSCAR_ERRMSG_MAX];
	size_t used  = 0;
	size_t first = step[v] - 1;
	used += (size_t) snprintf(msg, sizeof(msg), "cycle: task %s", sb->specs[path[first]].key);
	for (size_t i = len; i-- > first && used < sizeof(msg);) {
		used += (size_t) snprintf(
		    msg + used, sizeof(msg) - used, " -> %s", sb->specs[path[i]].key);
	}
	rv = oscar_error_set(err, OSCAR_EINVAL, "%s", msg);
out:
	free(indeg);
	free(outoff);
	free(adj);
	free(queue);
	free(step);
	return (rv);
}

static osc_tm_task_t *task_new(const osc_tm_spec_t *s, uint64_t hash)
{
	size_t         len = strlen(s->key);
	osc_tm_task_t *t   = calloc(1, sizeof(*t) + len + 1);
	if (t == NULL) {
		return (NULL);
	}
	memcpy(t->key, s->key, len + 1);
	t->hash     = hash;
	t->n_output = s->n_output;
	t->pure     = s->pure;
	t->want     = s->want;
	return (t);
}

// reserve_deps makes room in t's dependents for want more.
static int reserve_deps(osc_tm_task_t *t, size_t want)
{
	while (t->cap_deps < t->n_deps + want) {
		size_t cap = t->cap_deps;
		if (osc_reserve(&t->deps, &cap, cap, sizeof(*t->deps), want > 4 ? want : 4) != 0) {
			return (OSCAR_ENOMEM);
		}
		t->cap_deps = cap;
	}
	return (0);
}

int osc_tm_lookups(const osc_tm_t *tm, const osc_tm_spec_t *specs, size_t n,
    int (*fn)(void *arg, const char *key), void *arg)
{
	char buf[OSCAR_TASK_KEY_MAX + 16];
	int  rv = 0;
	if (tm == NULL || fn == NULL || (specs == NULL && n > 0)) {
		return (OSCAR_EINVAL);
	}
	sub_t sb;
	memset(&sb, 0, sizeof(sb));
	sb.specs = (osc_tm_spec_t *) specs;
	sb.n     = n;
	for (size_t i = 0; i < n; i++) {
		if (!key_ok(specs[i].key) ||
		    sub_find(&sb, specs[i].key, osc_hash_str(specs[i].key)) >= 0) {
			continue;
		}
		if (osc_map_reserve(&sb.idx) != 0) {
			osc_map_fini(&sb.idx);
			return (OSCAR_ENOMEM);
		}
		osc_map_insert(&sb.idx, osc_hash_str(specs[i].key), (void *) (uintptr_t) (i + 1));
	}
	for (size_t i = 0; i < n && rv == 0; i++) {
		const osc_tm_spec_t *s = &specs[i];
		if (!key_ok(s->key)) {
			continue;
		}
		if (s->pure && live_find(tm, s->key, osc_hash_str(s->key)) == NULL) {
			for (unsigned k = 0;
			     k < s->n_output && k < OSCAR_TASK_OUTPUT_MAX && rv == 0; k++) {
				if (s->n_output == 1) {
					rv = fn(arg, s->key);
				} else {
					snprintf(buf, sizeof(buf), "%s#%u", s->key, k);
					rv = fn(arg, buf);
				}
			}
		}
		for (size_t j = 0; s->inputs != NULL && j < s->n_inputs && rv == 0; j++) {
			const osc_tm_input_t *in = &s->inputs[j];
			uint64_t              h;
			if (!key_ok(in->key) ||
			    sub_find(&sb, in->key, h = osc_hash_str(in->key)) >= 0 ||
			    live_find(tm, in->key, h) != NULL) {
				continue;
			}
			if (in->index == OSC_TM_WHOLE) {
				rv = fn(arg, in->key);
			} else {
				snprintf(buf, sizeof(buf), "%s#%d", in->key, in->index);
				rv = fn(arg, buf);
			}
		}
	}
	osc_map_fini(&sb.idx);
	return (rv);
}

int osc_tm_submit(osc_tm_t *tm, const char *id, osc_tm_spec_t *specs, size_t n, osc_tm_graph_t **gp,
    oscar_error_t *err)
{
	if (tm == NULL || gp == NULL || (specs == NULL && n > 0)) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no engine, graph or tasks"));
	}
	if (id == NULL || id[0] == '\0' || strnlen(id, OSC_TM_ID_MAX) >= OSC_TM_ID_MAX) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "a graph id is 1 to %d bytes", OSC_TM_ID_MAX - 1));
	}
	if (osc_tm_graph_find(tm, id) != NULL) {
		return (oscar_error_set(err, OSCAR_EEXIST, "graph %s exists already", id));
	}
	if (n == 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "graph %s has no tasks", id));
	}
	if (n > tm->limits.max_graph_tasks) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "graph %s has %zu tasks, more than the limit of %zu", id, n,
		    tm->limits.max_graph_tasks));
	}
	if (tm->n_graphs >= tm->limits.max_graphs) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "the session holds %zu graphs, its limit: delete finished ones first",
		    tm->n_graphs));
	}
	sub_t sb;
	memset(&sb, 0, sizeof(sb));
	sb.specs = specs;
	sb.n     = n;
	int rv   = 0;
	if ((sb.hash = calloc(n, sizeof(*sb.hash))) == NULL ||
	    (sb.kind = calloc(n, sizeof(*sb.kind))) == NULL ||
	    (sb.live = calloc(n, sizeof(*sb.live))) == NULL ||
	    (sb.fn = calloc(n, sizeof(*sb.fn))) == NULL ||
	    (sb.want = calloc(n, sizeof(*sb.want))) == NULL ||
	    (sb.off = calloc(n + 1, sizeof(*sb.off))) == NULL) {
		sub_fini(&sb);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	if ((rv = sub_specs(tm, &sb, err)) != 0) {
		sub_fini(&sb);
		return (rv);
	}
	if ((sb.prod = calloc(sb.total + 1, sizeof(*sb.prod))) == NULL ||
	    (sb.lprod = calloc(sb.total + 1, sizeof(*sb.lprod))) == NULL ||
	    (sb.objkey = calloc(sb.total + 1, sizeof(*sb.objkey))) == NULL) {
		sub_fini(&sb);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	osc_tm_graph_t *g        = NULL;
	size_t          inserted = 0;
	if ((rv = sub_classify(tm, &sb, err)) != 0 || (rv = sub_resolve(tm, &sb, err)) != 0 ||
	    (rv = sub_cycles(&sb, err)) != 0) {
		goto fail;
	}

	// Allocate everything; nothing is linked in yet.
	rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
	if ((g = calloc(1, sizeof(*g))) == NULL || (g->id = strdup(id)) == NULL ||
	    (g->tasks = calloc(n, sizeof(*g->tasks))) == NULL ||
	    osc_map_reserve(&tm->graphs) != 0) {
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const osc_tm_spec_t *s = &specs[i];
		osc_tm_task_t       *t;
		if (sb.kind[i] == SUB_JOIN) {
			t = sb.live[i];
			if (osc_reserve(&t->more, &t->cap_more, t->n_more, sizeof(*t->more), 2) !=
			    0) {
				goto fail;
			}
		} else if ((t = task_new(s, sb.hash[i])) == NULL) {
			goto fail;
		}
		g->tasks[i] = t;
		g->n        = i + 1;
		if (sb.kind[i] == SUB_NEW) {
			t->fn = sb.fn[i];
			if ((s->n_inputs > 0 &&
			        (t->inputs = calloc(s->n_inputs, sizeof(*t->inputs))) == NULL) ||
			    reserve_deps(t, sb.want[i]) != 0) {
				goto fail;
			}
		}
	}
	for (size_t k = 0; k < sb.total; k++) {
		osc_tm_task_t *lt = sb.lprod[k];
		if (sb.prod[k] == SUB_LIVE && lt->want_deps > 0) {
			if (reserve_deps(lt, lt->want_deps) != 0) {
				goto fail;
			}
			lt->want_deps = 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (sb.kind[i] == SUB_NEW) {
			if (osc_map_reserve(&tm->live) != 0) {
				goto fail;
			}
			osc_map_insert(&tm->live, g->tasks[i]->hash, g->tasks[i]);
			g->tasks[i]->live = true;
			inserted          = i + 1;
		}
	}

	// Link: nothing fails from here on.
	rv = 0;
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
	}
	g->hash     = osc_hash_str(id);
	g->status   = OSC_GRAPH_RUNNING;
	g->start_ms = osc_now_ms();
	for (size_t i = 0; i < n; i++) {
		osc_tm_spec_t *s = &specs[i];
		osc_tm_task_t *t = g->tasks[i];
		if (sb.kind[i] == SUB_JOIN) {
			t->more[t->n_more++] = g;
			t->refs++;
			g->joined++;
			oscar_value_free(s->args);
		} else if (sb.kind[i] == SUB_DROP) {
			t->state  = OSC_TASK_DONE;
			t->graph0 = g;
			t->refs   = 1;
			g->reused++;
			oscar_value_free(s->args);
		} else {
			t->state  = OSC_TASK_PENDING;
			t->graph0 = g;
			t->refs   = 1;
			t->args   = s->args;
			for (size_t j = 0; j < s->n_inputs; j++) {
				size_t       k   = sb.off[i] + j;
				osc_tm_in_t *in  = &t->inputs[j];
				in->key          = sb.objkey[k];
				in->index        = s->inputs[j].index;
				sb.objkey[k]     = NULL;
				t->n_inputs      = j + 1;
				osc_tm_task_t *p = sb.prod[k] >= 0          ? g->tasks[sb.prod[k]]
				                   : sb.prod[k] == SUB_LIVE ? sb.lprod[k]
				                                            : NULL;
				if (p != NULL) {
					in->local            = true;
					p->deps[p->n_deps++] = (osc_tm_dep_t) { t, j };
					t->refs++;
					t->waiting++;
				}
			}
		}
		s->args = NULL;
		g->counts[t->state]++;
		if (state_final(t->state)) {
			g->finished++;
		}
	}
	g->prev = tm->last;
	if (tm->last != NULL) {
		tm->last->next = g;
	} else {
		tm->first = g;
	}
	tm->last = g;
	osc_map_insert(&tm->graphs, g->hash, g);
	tm->n_graphs++;
	sub_fini(&sb);
	*gp = g;
	if (g->finished == g->n) {
		graph_end(tm, g);
	}
	for (size_t i = 0; i < n; i++) {
		osc_tm_task_t *t = g->tasks[i];
		if (t->state == OSC_TASK_PENDING && t->waiting == 0 && t->graph0 == g) {
			schedule(tm, t);
		}
	}
	fire(tm);
	return (0);

fail:
	for (size_t i = 0; i < inserted; i++) {
		if (sb.kind[i] == SUB_NEW) {
			osc_map_remove(&tm->live, g->tasks[i]->hash, g->tasks[i]);
			g->tasks[i]->live = false;
		}
	}
	for (size_t k = 0; k < sb.total; k++) {
		if (sb.prod[k] == SUB_LIVE) {
			sb.lprod[k]->want_deps = 0;
		}
	}
	if (g != NULL) {
		for (size_t i = 0; i < g->n; i++) {
			if (sb.kind[i] != SUB_JOIN) {
				task_free(g->tasks[i]);
			}
		}
		osc_map_fini(&g->bykey);
		free(g->tasks);
		free(g->id);
		free(g);
	}
	sub_fini(&sb);
	return (rv);
}

// ---------------------------------------------------------------------------
// Graph queries

osc_tm_graph_t *osc_tm_graph_find(const osc_tm_t *tm, const char *id)
{
	if (tm == NULL || id == NULL) {
		return (NULL);
	}
	uint64_t        h   = osc_hash_str(id);
	size_t          pos = osc_map_first(&tm->graphs, h);
	osc_tm_graph_t *g;
	while ((g = osc_map_next(&tm->graphs, h, &pos)) != NULL) {
		if (strcmp(g->id, id) == 0) {
			return (g);
		}
	}
	return (NULL);
}

osc_tm_graph_t *osc_tm_graph_next(const osc_tm_t *tm, const osc_tm_graph_t *prev)
{
	return (prev == NULL ? tm->first : prev->next);
}

const char *osc_tm_graph_id(const osc_tm_graph_t *g)
{
	return (g->id);
}

void osc_tm_graph_info(const osc_tm_graph_t *g, osc_tm_info_t *info)
{
	memset(info, 0, sizeof(*info));
	info->status  = g->status;
	info->n_tasks = g->n;
	memcpy(info->counts, g->counts, sizeof(info->counts));
	info->reused   = g->reused;
	info->joined   = g->joined;
	info->progress = g->n > 0 ? (double) g->finished / (double) g->n : 1.0;
	info->start_ms = g->start_ms;
	info->end_ms   = g->end_ms;
	info->error    = g->error;
}

osc_tm_task_t *osc_tm_graph_task(osc_tm_graph_t *g, const char *key)
{
	if (g == NULL || key == NULL) {
		return (NULL);
	}
	// The index by key is built on the first lookup, not on the
	// submission's path; without memory for it, a scan does.
	for (; g->n_indexed < g->n; g->n_indexed++) {
		osc_tm_task_t *t = g->tasks[g->n_indexed];
		if (osc_map_reserve(&g->bykey) != 0) {
			for (size_t i = 0; i < g->n; i++) {
				if (strcmp(g->tasks[i]->key, key) == 0) {
					return (g->tasks[i]);
				}
			}
			return (NULL);
		}
		osc_map_insert(&g->bykey, t->hash, t);
	}
	uint64_t       h   = osc_hash_str(key);
	size_t         pos = osc_map_first(&g->bykey, h);
	osc_tm_task_t *t;
	while ((t = osc_map_next(&g->bykey, h, &pos)) != NULL) {
		if (strcmp(t->key, key) == 0) {
			return (t);
		}
	}
	return (NULL);
}

osc_task_state_t osc_tm_task_state(const osc_tm_task_t *t)
{
	return (t->state);
}

const char *osc_tm_task_key(const osc_tm_task_t *t)
{
	return (t->key);
}

const char *osc_tm_task_fn(const osc_tm_task_t *t)
{
	return (t->fn != NULL ? t->fn->name : "");
}

const oscar_value_t *osc_tm_task_args(const osc_tm_task_t *t)
{
	return (t->args);
}

unsigned osc_tm_task_n_output(const osc_tm_task_t *t)
{
	return (t->n_output);
}

const char *osc_tm_task_after(const osc_tm_task_t *t)
{
	return (t->after != NULL ? t->after->key : NULL);
}

const char *osc_tm_task_worker(const osc_tm_task_t *t)
{
	return (t->worker != NULL ? t->worker->addr : "");
}

bool osc_tm_task_want(const osc_tm_task_t *t)
{
	return (t->want);
}

int osc_tm_graph_outputs(
    const osc_tm_t *tm, const osc_tm_graph_t *g, osc_tm_output_cb cb, void *arg)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		const osc_tm_task_t *t = g->tasks[i];
		if (!t->want || t->state != OSC_TASK_DONE) {
			continue;
		}
		const osc_tm_worker_t *w  = t->done_wid != 0 ? worker_by_id(tm, t->done_wid) : NULL;
		int                    rv = cb(
		                       arg, t->key, t->n_output, w != NULL ? w->addr : NULL, t->outs, t->outs_bytes);
		if (rv != 0) {
			return (rv);
		}
	}
	return (0);
}
