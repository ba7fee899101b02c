// The task manager: one actor per session, "oscar.task:<session>" in the
// supervisor's main pool, around the session's graph engine (graph.c).
//
// It learns the workers from the cluster service (a watch kept open all
// the time): a ready worker with slots and functions is added to the
// engine, a worker that leaves or dies goes through the engine's
// worker-loss path. A submission is parsed and checked by the engine; the
// keys it may ask about (pure tasks' outputs, references to stored
// objects) are asked from the session's meta in one batch first, the
// request holding the actor meanwhile so that no other change slips in
// between. Whatever a handler changes, the engine's batches leave once
// per loop turn: a timer of 0 armed by the first change of the turn
// calls osc_tm_flush, which sends one run message per worker (a call, so
// that a worker that cannot take it fails those tasks at once) and one
// cancel message per worker. Executors report in batches (report), which
// go to the engine in one call. Waits are parked with a timer each: the
// graph's end answers them, the timer answers OSCAR_ETIMEDOUT and leaves
// the graph running.
//
// Locality. The engine knows where the outputs of its own unfinished
// graphs' tasks are (their completions say); for every other input, a
// stored object, it asks the locate callback, which answers from a table
// of places kept here: the same meta request that tells which keys are
// stored at submit asks their size and workers too, so that placing a
// task never waits for a round trip. The table is bounded
// (OSC_TMGR_LOCS_MAX objects); when full it is emptied, and tasks whose
// inputs' places were forgotten go to the least loaded worker instead.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "oscar/cluster.h"
#include "oscar/lifecycle.h"
#include "services/strmap.h"
#include "services/task/graph.h"
#include "services/task/task_int.h"
#include "services/vbuild.h"

// How long a run message may take to be queued by an executor, and how
// long one watch of the cluster waits for a change.
#define OSC_TMGR_RUN_TIMEOUT_MS   30000
#define OSC_TMGR_WATCH_TIMEOUT_MS 30000
#define OSC_TMGR_META_TIMEOUT_MS  30000
#define OSC_TMGR_GRAPH_ID_MAX     128
// How many workers holding one object, and how many objects, the table
// of places keeps.
#define OSC_TMGR_LOC_WORKERS 4
#define OSC_TMGR_LOCS_MAX    65536
// The most bytes of outputs' values one answer carries (wait or submit
// with outputs); the others go by where they are.
#define OSC_TMGR_ANSWER_INLINE_MAX ((uint64_t) 1 << 20)

// osc_tmgr_loc_t is where a stored object is, as meta said at a
// submission: its size and up to OSC_TMGR_LOC_WORKERS workers (owned).
typedef struct osc_tmgr_loc {
	uint64_t size;
	size_t   n;
	char    *workers[OSC_TMGR_LOC_WORKERS];
} osc_tmgr_loc_t;

// osc_tmgr_wait_t is a request answered later: a wait parked on a
// graph's end, or a submission whose outputs' counts (lifecycle incref)
// are not answered yet, or both (a submit that waits). It is answered
// once the graph part is ready (answer, or arv and amsg) and the count
// is back (count_rv and count_msg).
typedef struct osc_tmgr_wait {
	osc_tm_waiter_t       w;
	oscar_req_t          *req;
	uint64_t              timer;
	struct osc_tmgr      *mgr;
	struct osc_tmgr_wait *prev, *next;
	char                  id[OSC_TMGR_GRAPH_ID_MAX];
	bool                  parked;   // on the graph's waiters, its timer armed
	bool                  submit;   // answers a submit: {graph_id, info}
	bool                  outputs;  // the info carries the wanted outputs
	bool                  release;  // the graph is deleted once its end is answered
	bool                  counting; // the incref is not answered yet
	bool                  ready;    // the graph part of the answer is ready
	oscar_value_t        *answer;
	int                   arv;
	char                  amsg[OSCAR_ERRMSG_MAX];
	int                   count_rv;
	char                  count_msg[OSCAR_ERRMSG_MAX];
} osc_tmgr_wait_t;

// osc_tmgr_sub_t is a submission whose stored keys meta is asked about.
typedef struct osc_tmgr_sub {
	oscar_req_t   *req;
	char           id[OSC_TMGR_GRAPH_ID_MAX];
	osc_tm_spec_t *specs;
	size_t         n;
	oscar_value_t *keys;   // the keys asked, an array of strs
	char         **stored; // those meta says are stored, sorted
	size_t         n_stored;
} osc_tmgr_sub_t;

typedef struct osc_tmgr_worker {
	char address[OSCAR_ADDR_MAX];
	bool seen; // in the latest cluster view
} osc_tmgr_worker_t;

typedef struct osc_tmgr {
	oscar_actor_t      *self;
	oscar_node_t       *node;
	char                session[OSCAR_UID_MAX];
	osc_task_settings_t cfg;
	osc_tm_t           *tm;
	oscar_ref_t         cluster;
	oscar_ref_t         meta;
	oscar_ref_t         lifecycle;
	uint64_t            watch_version;
	osc_tmgr_worker_t  *workers;
	size_t              n_workers, cap_workers;
	bool                flush_armed;
	uint64_t            seq; // generated graph ids
	osc_tmgr_wait_t    *waits;
	size_t              n_waits;
	osc_tmgr_sub_t     *sub;  // the submission being checked, or NULL
	osc_strmap_t        locs; // key -> osc_tmgr_loc_t of stored objects
	bool                closing;
} osc_tmgr_t;

// osc_tmgr_run_t is what a run call's callback needs: the worker and the
// keys it was given, to fail them if the worker cannot take them.
typedef struct osc_tmgr_run {
	osc_tmgr_t *mgr;
	int         send_rv; // why the run message could not be sent, or 0
	char        worker[OSCAR_ADDR_MAX];
	size_t      n;
	char       *keys[]; // n of them, then their bytes, in this block
} osc_tmgr_run_t;

// ---------------------------------------------------------------------------
// Engine callbacks

static int osc_tmgr_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

// osc_tmgr_stored answers from the batch meta gave for the submission
// being checked.
static bool osc_tmgr_stored(void *arg, const char *key)
{
	osc_tmgr_t *st = arg;
	if (st->sub == NULL || st->sub->n_stored == 0) {
		return (false);
	}
	return (bsearch(&key, st->sub->stored, st->sub->n_stored, sizeof(char *),
	            osc_tmgr_strcmp) != NULL);
}

static void osc_tmgr_loc_free(void *p)
{
	osc_tmgr_loc_t *l = p;
	for (size_t i = 0; l != NULL && i < l->n; i++) {
		free(l->workers[i]);
	}
	free(l);
}

// osc_tmgr_loc_learn records what meta's entry e (size, workers) says of
// stored object key. Out of memory, it records nothing: locality is a
// preference, never needed for a task to run.
static void osc_tmgr_loc_learn(osc_tmgr_t *st, const char *key, const oscar_value_t *e)
{
	const oscar_value_t *workers = oscar_value_map_get(e, "workers");
	size_t               nw      = oscar_value_len(workers);
	if (workers == NULL || workers->type != OSCAR_ARRAY || nw == 0) {
		osc_tmgr_loc_free(osc_strmap_del(&st->locs, key));
		return;
	}
	osc_tmgr_loc_t *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return;
	}
	l->size = oscar_value_map_uint(e, "size", 0);
	for (size_t i = 0; i < nw && l->n < OSC_TMGR_LOC_WORKERS; i++) {
		const char *w = oscar_value_at_str(workers, i);
		if (w != NULL && (l->workers[l->n] = strdup(w)) != NULL) {
			l->n++;
		}
	}
	if (st->locs.len >= OSC_TMGR_LOCS_MAX && osc_strmap_get(&st->locs, key) == NULL) {
		osc_strmap_fini(&st->locs, osc_tmgr_loc_free);
		memset(&st->locs, 0, sizeof(st->locs));
	}
	void *old = NULL;
	if (osc_strmap_put(&st->locs, key, l, &old) != 0) {
		osc_tmgr_loc_free(l);
		return;
	}
	osc_tmgr_loc_free(old);
}

// osc_tmgr_locate answers the engine from the table of places.
static size_t osc_tmgr_locate(void *arg, const char *key, osc_tm_loc_t *locs, size_t max)
{
	osc_tmgr_t     *st = arg;
	osc_tmgr_loc_t *l  = osc_strmap_get(&st->locs, key);
	size_t          n  = 0;
	for (; l != NULL && n < l->n && n < max; n++) {
		locs[n].worker = l->workers[n];
		locs[n].bytes  = l->size;
	}
	return (n);
}

static void osc_tmgr_ran(oscar_actor_t *self, oscar_result_t *res, void *arg);

static void osc_tmgr_assign(void *arg, const char *worker, osc_tm_task_t *const *tasks, size_t n)
{
	osc_tmgr_t    *st   = arg;
	oscar_value_t *msg  = oscar_value_new_map(2);
	oscar_value_t *list = oscar_value_new_array(n);
	oscar_ref_t    ref;
	// The run record keeps the keys, in one block after their pointers.
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		bytes += strlen(osc_tm_task_key(tasks[i])) + 1;
	}
	osc_tmgr_run_t *run = calloc(1, sizeof(*run) + n * sizeof(char *) + bytes);
	int             rv  = msg != NULL && list != NULL && run != NULL ? 0 : OSCAR_ENOMEM;
	if (run != NULL) {
		run->mgr = st;
		snprintf(run->worker, sizeof(run->worker), "%s", worker);
	}
	char *at = run != NULL ? (char *) &run->keys[n] : NULL;
	// Each task is [key, fn, args, n_output, after?, want?], built in place.
	for (size_t i = 0; rv == 0 && i < n; i++) {
		const char          *key   = osc_tm_task_key(tasks[i]);
		const oscar_value_t *args  = osc_tm_task_args(tasks[i]);
		const char          *after = osc_tm_task_after(tasks[i]);
		bool                 want  = osc_tm_task_want(tasks[i]);
		size_t               klen  = strlen(key);
		oscar_value_t       *item  = osc_vb_push_array(list, after != NULL || want ? 6 : 4);
		memcpy(at, key, klen + 1);
		run->keys[i] = at;
		run->n       = i + 1;
		at += klen + 1;
		if (item == NULL) {
			rv = OSCAR_ENOMEM;
			break;
		}
		rv = osc_vb_push_strn(item, key, klen);
		rv = rv != 0 ? rv : osc_vb_push_str(item, osc_tm_task_fn(tasks[i]));
		if (rv == 0) {
			oscar_value_t *c =
			    args != NULL ? oscar_value_copy(args) : oscar_value_new_array(0);
			rv = c != NULL ? osc_vb_push_move(item, c) : OSCAR_ENOMEM;
			if (c != NULL && rv != 0) {
				oscar_value_free(c);
			} else {
				free(c); // the shell: its contents moved
			}
		}
		rv = rv != 0 ? rv : osc_vb_push_uint(item, osc_tm_task_n_output(tasks[i]));
		if (rv == 0 && (after != NULL || want)) {
			rv = after != NULL ? osc_vb_push_str(item, after) : osc_vb_push_nil(item);
		}
		if (rv == 0 && want) {
			rv = osc_vb_push_bool(item, true);
		}
	}
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "session", oscar_value_new_str(st->session));
	if (rv == 0) {
		rv   = oscar_value_map_set(msg, "tasks", list);
		list = NULL;
	}
	rv = rv != 0 ? rv : oscar_ref_make(&ref, worker, OSC_EXECUTOR_UID);
	oscar_value_free(list);
	if (rv == 0) {
		rv  = oscar_actor_call(st->self, &ref, osc_texe_name(OSC_TEXE_RUN), msg,
		     OSC_TMGR_RUN_TIMEOUT_MS, osc_tmgr_ran, run, NULL);
		msg = NULL;
		if (rv == 0) {
			return;
		}
	}
	oscar_value_free(msg);
	oscar_log(OSCAR_LOG_ERROR, "task", "session %s: cannot send %zu task(s) to %s: %s",
	    st->session, n, worker, oscar_strerror(rv));
	// The callback fails them, on a later turn (never inside the engine).
	if (run != NULL) {
		run->send_rv = rv;
		if (oscar_actor_after(st->self, 0, osc_tmgr_ran, run, NULL) != 0) {
			free(run);
		}
	}
}

static void osc_tmgr_cancel_cb(void *arg, const char *worker, const char *const *keys, size_t n)
{
	osc_tmgr_t    *st   = arg;
	oscar_value_t *msg  = oscar_value_new_map(2);
	oscar_value_t *list = oscar_value_new_array(n);
	oscar_ref_t    ref;
	int            rv = msg != NULL && list != NULL ? 0 : OSCAR_ENOMEM;
	for (size_t i = 0; rv == 0 && i < n; i++) {
		rv = oscar_value_array_push(list, oscar_value_new_str(keys[i]));
	}
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "session", oscar_value_new_str(st->session));
	if (rv == 0) {
		rv   = oscar_value_map_set(msg, "keys", list);
		list = NULL;
	}
	rv = rv != 0 ? rv : oscar_ref_make(&ref, worker, OSC_EXECUTOR_UID);
	oscar_value_free(list);
	if (rv == 0) {
		rv  = oscar_actor_tell(st->self, &ref, osc_texe_name(OSC_TEXE_CANCEL), msg);
		msg = NULL;
	}
	oscar_value_free(msg);
	if (rv != 0) {
		oscar_log(OSCAR_LOG_WARN, "task",
		    "session %s: cannot tell %s to cancel %zu task(s): %s", st->session, worker, n,
		    oscar_strerror(rv));
	}
}

// ---------------------------------------------------------------------------
// Flushing once per loop turn

static void osc_tmgr_flush_now(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_tmgr_t *st = arg;
	if (res->code != 0) {
		return; // the actor or the pool is going
	}
	st->flush_armed = false;
	osc_tm_flush(st->tm);
}

// osc_tmgr_changed arms the flush of this loop turn.
static void osc_tmgr_changed(osc_tmgr_t *st)
{
	if (st->flush_armed || st->closing) {
		return;
	}
	if (oscar_actor_after(st->self, 0, osc_tmgr_flush_now, st, NULL) == 0) {
		st->flush_armed = true;
	} else {
		osc_tm_flush(st->tm);
	}
}

// osc_tmgr_ran is the answer to a run call: a worker that could not take
// the tasks fails them (the graph names the worker and why).
static void osc_tmgr_ran(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_tmgr_run_t *run = arg;
	osc_tmgr_t     *st  = run->mgr;
	// A timer (the send itself failed) comes with code 0 and send_rv set.
	bool failed = res->code != 0 || run->send_rv != 0;
	if (res->code != OSCAR_ECANCELED && res->code != OSCAR_ECLOSED && failed && !st->closing) {
		char msg[OSCAR_ERRMSG_MAX];
		int  code = res->code != 0 ? res->code : run->send_rv;
		snprintf(msg, sizeof(msg), "worker %s did not take the task: %s", run->worker,
		    res->error != NULL ? res->error->message : oscar_strerror(code));
		osc_tm_report_t *r = calloc(run->n, sizeof(*r));
		for (size_t i = 0; r != NULL && i < run->n; i++) {
			r[i] = (osc_tm_report_t) { .key = run->keys[i],
				.kind                   = OSC_TM_ERRORED,
				.code                   = code,
				.message                = msg };
		}
		if (r != NULL && run->n > 0) {
			osc_tm_report(st->tm, run->worker, r, run->n);
			osc_tmgr_changed(st);
		}
		free(r);
	}
	free(run); // the keys are in its block
}

// ---------------------------------------------------------------------------
// Workers, from the cluster service

static void osc_tmgr_watch(osc_tmgr_t *st);

static osc_tmgr_worker_t *osc_tmgr_worker_find(osc_tmgr_t *st, const char *address)
{
	for (size_t i = 0; i < st->n_workers; i++) {
		if (strcmp(st->workers[i].address, address) == 0) {
			return (&st->workers[i]);
		}
	}
	return (NULL);
}

// osc_tmgr_worker_add adds a ready worker the engine does not know yet.
static void osc_tmgr_worker_add(osc_tmgr_t *st, const oscar_value_t *node)
{
	const char          *addr  = oscar_value_map_str(node, "address");
	const oscar_value_t *fns   = oscar_value_map_get(node, "functions");
	uint64_t             slots = oscar_value_map_uint(node, "slots", 0);
	if (addr == NULL || strlen(addr) >= OSCAR_ADDR_MAX) {
		return;
	}
	// A worker known already stays, whatever its info says now: its
	// slots count may dip while one recovers.
	osc_tmgr_worker_t *w = osc_tmgr_worker_find(st, addr);
	if (w != NULL) {
		w->seen = true;
		return;
	}
	if (fns == NULL || fns->type != OSCAR_ARRAY || slots == 0) {
		return; // not a worker that runs tasks (yet)
	}
	size_t       n     = oscar_value_len(fns);
	const char **names = calloc(n + 1, sizeof(*names));
	size_t       k     = 0;
	for (size_t i = 0; names != NULL && i < n; i++) {
		size_t len;
		if (oscar_value_get_str(oscar_value_at(fns, i), &names[k], &len) == 0) {
			k++;
		}
	}
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	if (names == NULL ||
	    osc_reserve(&st->workers, &st->cap_workers, st->n_workers, sizeof(*st->workers), 8) !=
	        0 ||
	    osc_tm_worker_add(st->tm, addr,
	        slots > OSC_TM_SLOTS_MAX ? OSC_TM_SLOTS_MAX : (unsigned) slots,
	        st->cfg.queue < 0 ? OSC_TM_QUEUE_AUTO : (unsigned) st->cfg.queue, names, k,
	        &err) != 0) {
		oscar_log(OSCAR_LOG_ERROR, "task", "session %s: cannot add worker %s: %s",
		    st->session, addr, err.message[0] != '\0' ? err.message : "out of memory");
		free(names);
		return;
	}
	free(names);
	w = &st->workers[st->n_workers++];
	snprintf(w->address, sizeof(w->address), "%s", addr);
	w->seen = true;
	oscar_log(OSCAR_LOG_DEBUG, "task", "session %s: worker %s with %llu slot(s)", st->session,
	    addr, (unsigned long long) slots);
}

// osc_tmgr_view applies one view of the cluster: [version, [node map...]].
static void osc_tmgr_view(osc_tmgr_t *st, const oscar_value_t *view)
{
	const oscar_value_t *nodes = oscar_value_at(view, 1);
	st->watch_version          = oscar_value_at_uint(view, 0, 0);
	for (size_t i = 0; i < st->n_workers; i++) {
		st->workers[i].seen = false;
	}
	for (size_t i = 0; nodes != NULL && i < oscar_value_len(nodes); i++) {
		const oscar_value_t *node   = oscar_value_at(nodes, i);
		const char          *role   = oscar_value_map_str(node, "role");
		const char          *status = oscar_value_map_str(node, "status");
		if (role != NULL && strcmp(role, "worker") == 0 && status != NULL &&
		    strcmp(status, "ready") == 0) {
			osc_tmgr_worker_add(st, node);
		}
	}
	for (size_t i = 0; i < st->n_workers;) {
		if (st->workers[i].seen) {
			i++;
			continue;
		}
		oscar_log(OSCAR_LOG_INFO, "task", "session %s: worker %s is gone", st->session,
		    st->workers[i].address);
		osc_tm_worker_lost(st->tm, st->workers[i].address);
		st->workers[i] = st->workers[--st->n_workers];
	}
	osc_tmgr_changed(st);
}

static void osc_tmgr_rewatch(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	if (res->code == 0) {
		osc_tmgr_watch(arg);
	}
}

static void osc_tmgr_watched(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_tmgr_t *st = arg;
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		return;
	}
	if (res->code == 0) {
		osc_tmgr_view(st, res->value);
		osc_tmgr_watch(st);
		return;
	}
	// A watch that failed otherwise (the supervisor is stopping, say) is
	// tried again a little later.
	if (oscar_actor_after(self, 200, osc_tmgr_rewatch, st, NULL) != 0) {
		oscar_log(
		    OSCAR_LOG_ERROR, "task", "session %s: cannot watch the cluster", st->session);
	}
}

// osc_tmgr_watch asks the cluster service for the next change.
static void osc_tmgr_watch(osc_tmgr_t *st)
{
	oscar_value_t *args = oscar_value_new_array(2);
	if (args == NULL ||
	    oscar_value_array_push(args, oscar_value_new_uint(st->watch_version)) != 0 ||
	    oscar_value_array_push(args, oscar_value_new_uint(OSC_TMGR_WATCH_TIMEOUT_MS)) != 0) {
		oscar_value_free(args);
		args = NULL;
	}
	// The call takes args.
	if (args == NULL ||
	    oscar_actor_call(st->self, &st->cluster, "watch", args,
	        OSC_TMGR_WATCH_TIMEOUT_MS + 5000, osc_tmgr_watched, st, NULL) != 0) {
		oscar_log(
		    OSCAR_LOG_ERROR, "task", "session %s: cannot watch the cluster", st->session);
	}
}

// ---------------------------------------------------------------------------
// Info

// osc_tmgr_info_value renders g's info, keeping only fields when given.
static oscar_value_t *osc_tmgr_info_value(osc_tm_graph_t *g, const oscar_value_t *fields)
{
	osc_tm_info_t info;
	osc_tm_graph_info(g, &info);
	oscar_value_t *all    = oscar_value_new_map(12);
	oscar_value_t *counts = oscar_value_new_map(OSC_TASK_NSTATES);
	int            rv     = all != NULL && counts != NULL ? 0 : OSCAR_ENOMEM;
	for (int s = 0; rv == 0 && s < OSC_TASK_NSTATES; s++) {
		rv = oscar_value_map_set(counts, osc_task_state_name((osc_task_state_t) s),
		    oscar_value_new_uint(info.counts[s]));
	}
	rv = rv != 0
	         ? rv
	         : oscar_value_map_set(all, "graph_id", oscar_value_new_str(osc_tm_graph_id(g)));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   all, "status", oscar_value_new_str(osc_graph_status_name(info.status)));
	rv = rv != 0 ? rv : oscar_value_map_set(all, "n_tasks", oscar_value_new_uint(info.n_tasks));
	if (rv == 0) {
		rv     = oscar_value_map_set(all, "counts", counts);
		counts = NULL;
	}
	rv = rv != 0 ? rv : oscar_value_map_set(all, "reused", oscar_value_new_uint(info.reused));
	rv = rv != 0 ? rv : oscar_value_map_set(all, "joined", oscar_value_new_uint(info.joined));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(all, "progress", oscar_value_new_float(info.progress));
	rv =
	    rv != 0 ? rv : oscar_value_map_set(all, "start_ms", oscar_value_new_int(info.start_ms));
	rv = rv != 0 ? rv : oscar_value_map_set(all, "end_ms", oscar_value_new_int(info.end_ms));
	if (rv == 0 && info.error.code != 0) {
		oscar_value_t *e = oscar_value_new_map(6);
		rv               = e != NULL ? 0 : OSCAR_ENOMEM;
		rv               = rv != 0 ? rv
		                           : oscar_value_map_set(e, "code", oscar_value_new_int(info.error.code));
		rv               = rv != 0 ? rv
		                           : oscar_value_map_set(
		                                 e, "message", oscar_value_new_str(info.error.message));
		rv               = rv != 0 ? rv
		                           : oscar_value_map_set(e, "key", oscar_value_new_str(info.error.key));
		rv =
		    rv != 0 ? rv : oscar_value_map_set(e, "fn", oscar_value_new_str(info.error.fn));
		rv = rv != 0
		         ? rv
		         : oscar_value_map_set(e, "worker", oscar_value_new_str(info.error.worker));
		rv = rv != 0
		         ? rv
		         : oscar_value_map_set(e, "signal", oscar_value_new_int(info.error.signal));
		rv = rv != 0 ? (oscar_value_free(e), rv) : oscar_value_map_set(all, "error", e);
	} else if (rv == 0) {
		rv = oscar_value_map_set(all, "error", oscar_value_new_nil());
	}
	oscar_value_free(counts);
	if (rv != 0) {
		oscar_value_free(all);
		return (NULL);
	}
	if (fields == NULL || fields->type != OSCAR_ARRAY) {
		return (all);
	}
	oscar_value_t *some = oscar_value_new_map(oscar_value_len(fields));
	for (size_t i = 0; some != NULL && i < oscar_value_len(fields); i++) {
		const char          *name;
		size_t               len;
		const oscar_value_t *v;
		if (oscar_value_get_str(oscar_value_at(fields, i), &name, &len) == 0 &&
		    (v = oscar_value_map_get(all, name)) != NULL &&
		    oscar_value_map_set(some, name, oscar_value_copy(v)) != 0) {
			oscar_value_free(some);
			some = NULL;
		}
	}
	oscar_value_free(all);
	return (some);
}

// osc_tmgr_graph finds the graph a request names (a str, or a map's
// graph_id), failing the request when there is none.
static osc_tm_graph_t *osc_tmgr_graph(osc_tmgr_t *st, oscar_req_t *req, int *rv)
{
	const oscar_value_t *args = oscar_req_args(req);
	const char          *id   = NULL;
	size_t               len;
	if (args != NULL && args->type == OSCAR_MAP) {
		id = oscar_value_map_str(args, "graph_id");
	} else if (oscar_value_get_str(args, &id, &len) != 0) {
		id = NULL;
	}
	if (id == NULL) {
		*rv = oscar_req_fail(req, OSCAR_EBADARGS, "a graph_id (a str) is needed");
		return (NULL);
	}
	osc_tm_graph_t *g = osc_tm_graph_find(st->tm, id);
	if (g == NULL) {
		*rv =
		    oscar_req_fail(req, OSCAR_ENOENT, "no graph %s in session %s", id, st->session);
	}
	return (g);
}

// ---------------------------------------------------------------------------
// Answers given later: waits, and submissions whose counts are pending

static void osc_tmgr_wait_unlink(osc_tmgr_t *st, osc_tmgr_wait_t *w)
{
	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else {
		st->waits = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	}
	st->n_waits--;
}

// osc_tmgr_wait_new makes a later answer to req about graph id, on the
// manager's list.
static osc_tmgr_wait_t *osc_tmgr_wait_new(osc_tmgr_t *st, oscar_req_t *req, const char *id)
{
	osc_tmgr_wait_t *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return (NULL);
	}
	w->req = req;
	w->mgr = st;
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->next = st->waits;
	if (st->waits != NULL) {
		st->waits->prev = w;
	}
	st->waits = w;
	st->n_waits++;
	return (w);
}

typedef struct osc_tmgr_outs {
	oscar_value_t *list;
	uint64_t       inline_left; // OSC_TMGR_ANSWER_INLINE_MAX
} osc_tmgr_outs_t;

// osc_tmgr_output adds [key, worker|nil, values|nil] to the outputs.
static int osc_tmgr_output(void *arg, const char *key, unsigned n_output, const char *worker,
    const oscar_value_t *values, uint64_t bytes)
{
	osc_tmgr_outs_t *o    = arg;
	oscar_value_t   *item = osc_vb_push_array(o->list, 3);
	(void) n_output;
	if (values != NULL && bytes > o->inline_left) {
		values = NULL; // the answer is full: by where it is
	}
	if (values != NULL) {
		o->inline_left -= bytes;
	}
	if (item == NULL || osc_vb_push_str(item, key) != 0 ||
	    (worker != NULL ? osc_vb_push_str(item, worker) : osc_vb_push_nil(item)) != 0) {
		return (OSCAR_ENOMEM);
	}
	if (values != NULL) {
		oscar_value_t *c = oscar_value_copy(values);
		if (c == NULL || osc_vb_push_move(item, c) != 0) {
			oscar_value_free(c);
			return (OSCAR_ENOMEM);
		}
		free(c); // the shell: its contents moved
		return (0);
	}
	return (osc_vb_push_nil(item));
}

// osc_tmgr_end_value renders the end of g for w: its info map, with
// outputs: [[task key, worker|nil, [value...]|nil]...] when asked, and
// wrapped as {graph_id, info} for a submit.
static oscar_value_t *osc_tmgr_end_value(osc_tmgr_t *st, osc_tmgr_wait_t *w, osc_tm_graph_t *g)
{
	oscar_value_t *v  = osc_tmgr_info_value(g, NULL);
	int            rv = v != NULL ? 0 : OSCAR_ENOMEM;
	if (rv == 0 && w->outputs) {
		osc_tmgr_outs_t o = { .list = oscar_value_new_array(8),
			.inline_left        = OSC_TMGR_ANSWER_INLINE_MAX };
		rv = o.list != NULL ? osc_tm_graph_outputs(st->tm, g, osc_tmgr_output, &o)
		                    : OSCAR_ENOMEM;
		if (rv == 0) {
			rv = oscar_value_map_set(v, "outputs", o.list);
		} else {
			oscar_value_free(o.list);
		}
	}
	if (rv == 0 && w->submit) {
		oscar_value_t *m = oscar_value_new_map(2);
		if (m == NULL || oscar_value_map_set(
		                     m, "graph_id", oscar_value_new_str(osc_tm_graph_id(g))) != 0) {
			oscar_value_free(m);
			rv = OSCAR_ENOMEM;
		} else {
			rv = oscar_value_map_set(m, "info", v);
			v  = m;
		}
	}
	if (rv != 0) {
		oscar_value_free(v);
		return (NULL);
	}
	return (v);
}

// osc_tmgr_deliver answers w if both its parts are there, and frees it.
static void osc_tmgr_deliver(osc_tmgr_t *st, osc_tmgr_wait_t *w)
{
	if (w->counting || !w->ready) {
		return;
	}
	if (w->count_rv != 0) {
		oscar_req_fail(w->req, w->count_rv, "%s", w->count_msg);
	} else if (w->arv != 0) {
		oscar_req_fail(w->req, w->arv, "%s", w->amsg);
	} else if (w->answer != NULL) {
		oscar_req_reply(w->req, w->answer);
		w->answer = NULL;
	} else {
		oscar_req_fail(w->req, OSCAR_ENOMEM, "out of memory");
	}
	oscar_value_free(w->answer);
	osc_tmgr_wait_unlink(st, w);
	free(w);
}

// osc_tmgr_ended: w's graph ended.
static void osc_tmgr_ended(void *arg, osc_tm_graph_t *g)
{
	osc_tmgr_wait_t *w  = arg;
	osc_tmgr_t      *st = w->mgr;
	if (w->parked) {
		oscar_actor_cancel(st->self, w->timer);
		w->parked = false;
	}
	w->answer = osc_tmgr_end_value(st, w, g);
	w->ready  = true;
	if (w->release) {
		// The client has what it needs of the graph: forget it (its
		// other waiters are answered first).
		osc_tm_graph_delete(st->tm, g);
		osc_tmgr_changed(st);
	}
	osc_tmgr_deliver(st, w);
}

// osc_tmgr_timed_out answers a wait whose time is up; the graph runs on.
static void osc_tmgr_timed_out(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	(void) self;
	if (res->code != 0) {
		return; // cancelled: the graph ended first, or the actor is going
	}
	osc_tmgr_wait_t *w  = arg;
	osc_tmgr_t      *st = w->mgr;
	osc_tm_unwait(&w->w);
	w->parked = false;
	w->ready  = true;
	if (w->submit) {
		// A submit that waited: the graph's id, no info yet.
		oscar_value_t *m = oscar_value_new_map(2);
		if (m != NULL &&
		    (oscar_value_map_set(m, "graph_id", oscar_value_new_str(w->id)) != 0 ||
		        oscar_value_map_set(m, "info", oscar_value_new_nil()) != 0)) {
			oscar_value_free(m);
			m = NULL;
		}
		w->answer = m;
	} else {
		w->arv = OSCAR_ETIMEDOUT;
		snprintf(w->amsg, sizeof(w->amsg), "graph %s of session %s is still running", w->id,
		    st->session);
	}
	osc_tmgr_deliver(st, w);
}

// osc_tmgr_park parks w on g's end for up to timeout ms (g running).
static int osc_tmgr_park(osc_tmgr_t *st, osc_tmgr_wait_t *w, osc_tm_graph_t *g, int64_t timeout)
{
	int rv = oscar_actor_after(st->self, timeout, osc_tmgr_timed_out, w, &w->timer);
	if (rv != 0) {
		return (rv);
	}
	w->parked = true;
	osc_tm_wait(g, &w->w, osc_tmgr_ended, w);
	return (0);
}

// osc_tmgr_counted is the lifecycle's answer to the incref of a
// submission's outputs. A failure fails the submission: its graph is
// deleted (its tasks stop; outputs made meanwhile stay uncounted until
// the session ends).
static void osc_tmgr_counted(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	(void) self;
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		return; // the actor is going: w is freed with it
	}
	osc_tmgr_wait_t *w  = arg;
	osc_tmgr_t      *st = w->mgr;
	w->counting         = false;
	if (res->code != 0) {
		w->count_rv = res->code;
		snprintf(w->count_msg, sizeof(w->count_msg), "cannot count the outputs: %s",
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
		if (w->parked) {
			oscar_actor_cancel(st->self, w->timer);
			osc_tm_unwait(&w->w);
			w->parked = false;
		}
		w->ready          = true;
		osc_tm_graph_t *g = osc_tm_graph_find(st->tm, w->id);
		if (g != NULL) {
			osc_tm_graph_delete(st->tm, g);
			osc_tmgr_changed(st);
		}
	} else if (!w->parked && !w->ready) {
		// A submit that does not wait: its graph's id.
		w->answer = oscar_value_new_str(w->id);
		w->ready  = true;
	}
	osc_tmgr_deliver(st, w);
}

// osc_tmgr_tell_decref gives back the counts a request names (decref:
// [[key, n]...]), one-way: nothing waits for their deletion, and the
// lifecycle applies them after anything this manager sent it before.
static void osc_tmgr_tell_decref(osc_tmgr_t *st, const oscar_value_t *decref)
{
	if (decref == NULL || decref->type != OSCAR_ARRAY || oscar_value_len(decref) == 0) {
		return;
	}
	oscar_value_t *c = oscar_value_copy(decref);
	int rv = c != NULL ? oscar_actor_tell(st->self, &st->lifecycle, "decref", c) : OSCAR_ENOMEM;
	if (rv != 0) {
		oscar_log(OSCAR_LOG_WARN, "task", "session %s: cannot give back %zu count(s): %s",
		    st->session, oscar_value_len(decref), oscar_strerror(rv));
	}
}

// ---------------------------------------------------------------------------
// submit

static void osc_tmgr_sub_free(osc_tmgr_sub_t *sub)
{
	if (sub == NULL) {
		return;
	}
	for (size_t i = 0; i < sub->n; i++) {
		osc_tm_inputs_free((osc_tm_input_t *) sub->specs[i].inputs, sub->specs[i].n_inputs);
		oscar_value_free(sub->specs[i].args);
	}
	free(sub->specs);
	oscar_value_free(sub->keys);
	free(sub->stored);
	free(sub);
}

// osc_tmgr_flag reads a task's bool: item i of an array task, or the
// entry name of a map; false when absent or not a bool.
static bool osc_tmgr_flag(const oscar_value_t *t, bool arr, size_t i, const char *name)
{
	bool b = false;
	if (arr) {
		oscar_value_get_bool(oscar_value_at(t, i), &b);
		return (b);
	}
	return (oscar_value_map_bool(t, name, false));
}

// osc_tmgr_parse turns the graph's task maps into specs, borrowing their
// strings from graph (which must outlive the specs) and copying args.
static int osc_tmgr_parse(
    osc_tmgr_t *st, const oscar_value_t *graph, osc_tmgr_sub_t *sub, oscar_error_t *err)
{
	size_t n = oscar_value_len(graph);
	if (n == 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph has at least one task"));
	}
	if ((int64_t) n > st->cfg.max_graph_tasks) {
		return (
		    oscar_error_set(err, OSCAR_EINVAL, "a graph has at most %lld tasks, not %zu",
		        (long long) st->cfg.max_graph_tasks, n));
	}
	if ((sub->specs = calloc(n, sizeof(*sub->specs))) == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < n; i++) {
		const oscar_value_t *t = oscar_value_at(graph, i);
		osc_tm_spec_t       *s = &sub->specs[i];
		sub->n                 = i + 1;
		// A task map, or the same as an array (the client's, cheaper to
		// build and to decode): [key, fn, args, n_output, pure, want],
		// the items after fn optional.
		bool arr = t != NULL && t->type == OSCAR_ARRAY;
		if (t == NULL || (t->type != OSCAR_MAP && !arr)) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "task #%zu of the graph is neither a map nor an array", i));
		}
		s->key = arr ? oscar_value_at_str(t, 0) : oscar_value_map_str(t, "key");
		s->fn  = arr ? oscar_value_at_str(t, 1) : oscar_value_map_str(t, "fn");
		const oscar_value_t *nout =
		    arr ? oscar_value_at(t, 3) : oscar_value_map_get(t, "n_output");
		uint64_t n_out = 1;
		if (s->key == NULL || s->fn == NULL) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "task #%zu of the graph%s%s: a key and a fn (strs) are needed", i,
			    s->key != NULL ? " " : "", s->key != NULL ? s->key : ""));
		}
		if (nout != NULL && nout->type != OSCAR_NIL &&
		    (oscar_value_get_uint(nout, &n_out) != 0 || n_out > OSCAR_TASK_OUTPUT_MAX)) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "task %s: n_output must be 1 to %d", s->key, OSCAR_TASK_OUTPUT_MAX));
		}
		s->n_output = (unsigned) n_out;
		s->pure     = osc_tmgr_flag(t, arr, 4, "pure");
		s->want     = osc_tmgr_flag(t, arr, 5, "want");
		const oscar_value_t *args =
		    arr ? oscar_value_at(t, 2) : oscar_value_map_get(t, "args");
		if (args != NULL && args->type != OSCAR_NIL &&
		    (s->args = oscar_value_copy(args)) == NULL) {
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
		osc_tm_input_t *in;
		int             rv =
		    osc_tm_inputs_from_args(s->args, OSC_TM_DEFAULT_TASK_INPUTS, &in, &s->n_inputs);
		if (rv != 0) {
			return (oscar_error_set(err, rv, "task %s: %s", s->key,
			    rv == OSCAR_ENOMEM
			        ? "out of memory"
			        : "a reference in its args names no task output, or the "
			          "args are nested too deep or hold too many references"));
		}
		s->inputs = in;
	}
	return (0);
}

static int osc_tmgr_lookup_key(void *arg, const char *key)
{
	return (oscar_value_array_push(arg, oscar_value_new_str(key)));
}

// osc_tmgr_submit_now submits sub's graph to the engine and answers, now
// or later. Along with it come, from the request: incref (the outputs'
// counts, asked of the lifecycle once the graph is in; the answer waits
// for them), decref (counts given back, told to the lifecycle after the
// incref) and wait_ms (the answer waits for the graph's end, up to that
// long, and carries its info). held: the request holds the actor (it
// waited for meta), so it cannot wait for the graph's end: it answers
// with no info, and the client waits with a wait request.
static int osc_tmgr_submit_now(osc_tmgr_t *st, osc_tmgr_sub_t *sub, bool held, bool *answered)
{
	oscar_error_t        err;
	osc_tm_graph_t      *g;
	oscar_req_t         *req     = sub->req;
	const oscar_value_t *args    = oscar_req_args(req);
	const oscar_value_t *incref  = oscar_value_map_get(args, "incref");
	const oscar_value_t *decref  = oscar_value_map_get(args, "decref");
	const oscar_value_t *wait    = oscar_value_map_get(args, "wait_ms");
	int64_t              wait_ms = 0;
	bool                 waits   = wait != NULL && oscar_value_get_int(wait, &wait_ms) == 0;
	bool counts = incref != NULL && incref->type == OSCAR_ARRAY && oscar_value_len(incref) > 0;
	memset(&err, 0, sizeof(err));
	*answered = true;
	st->sub   = sub;
	int rv    = osc_tm_submit(st->tm, sub->id, sub->specs, sub->n, &g, &err);
	st->sub   = NULL;
	if (rv != 0) {
		osc_tmgr_tell_decref(st, decref);
		rv = oscar_req_fail(req, rv, "%s", err.message);
		osc_tmgr_sub_free(sub);
		return (rv);
	}
	// The engine took every spec's args.
	for (size_t i = 0; i < sub->n; i++) {
		sub->specs[i].args = NULL;
	}
	osc_tmgr_sub_free(sub);
	osc_tmgr_changed(st);
	osc_tm_info_t info;
	osc_tm_graph_info(g, &info);
	if (waits && (int64_t) st->n_waits >= st->cfg.max_waits) {
		held = true; // too many waits parked: answered without waiting
	}
	osc_tmgr_wait_t *w = NULL;
	if (counts || waits) {
		w = osc_tmgr_wait_new(st, req, osc_tm_graph_id(g));
		if (w == NULL) {
			osc_tm_graph_delete(st->tm, g);
			osc_tmgr_tell_decref(st, decref);
			return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
		}
		w->submit  = waits;
		w->outputs = oscar_value_map_bool(args, "outputs", false);
		w->release = oscar_value_map_bool(args, "release", false);
	}
	if (counts) {
		oscar_value_t *c = oscar_value_copy(incref);
		rv = c != NULL ? oscar_actor_call(st->self, &st->lifecycle, "incref", c,
		                     OSC_TMGR_META_TIMEOUT_MS, osc_tmgr_counted, w, NULL)
		               : OSCAR_ENOMEM;
		if (rv != 0) {
			osc_tmgr_wait_unlink(st, w);
			free(w);
			osc_tm_graph_delete(st->tm, g);
			osc_tmgr_tell_decref(st, decref);
			return (oscar_req_fail(
			    req, rv, "cannot count the outputs: %s", oscar_strerror(rv)));
		}
		w->counting = true;
	}
	osc_tmgr_tell_decref(st, decref);
	if (w == NULL) {
		return (oscar_req_reply(req, oscar_value_new_str(osc_tm_graph_id(g))));
	}
	// Answered below unless the count is pending, or it waits.
	*answered = !w->counting;
	if (waits && (info.status != OSC_GRAPH_RUNNING || held || wait_ms <= 0)) {
		// Ended at once (every task reused), or not to be waited for
		// here: answered now, with the info or without.
		if (info.status != OSC_GRAPH_RUNNING) {
			osc_tmgr_ended(w, g); // answers, unless the count is pending
			return (0);
		}
		osc_tmgr_timed_out(st->self, &(oscar_result_t) { 0 }, w);
		return (0);
	}
	if (!waits) {
		*answered = false; // once counted
		return (0);
	}
	if ((rv = osc_tmgr_park(st, w, g, wait_ms)) != 0) {
		w->arv = rv;
		snprintf(w->amsg, sizeof(w->amsg), "cannot wait: %s", oscar_strerror(rv));
		w->ready = true;
		osc_tmgr_deliver(st, w);
		return (0);
	}
	*answered = false;
	return (0);
}

// osc_tmgr_met is meta's answer about the submission's keys: [map|nil...].
static void osc_tmgr_met(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_tmgr_t     *st  = oscar_actor_state(self);
	osc_tmgr_sub_t *sub = arg;
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		// The manager is going: the runtime has failed the request.
		osc_tmgr_sub_free(sub);
		return;
	}
	const oscar_value_t *decref = oscar_value_map_get(oscar_req_args(sub->req), "decref");
	if (res->code != 0) {
		osc_tmgr_tell_decref(st, decref);
		oscar_req_fail(sub->req, res->code,
		    "cannot ask the session's meta which objects are stored: %s",
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
		osc_tmgr_sub_free(sub);
		return;
	}
	size_t n = oscar_value_len(sub->keys);
	if (res->value == NULL || res->value->type != OSCAR_ARRAY ||
	    oscar_value_len(res->value) != n ||
	    (sub->stored = calloc(n + 1, sizeof(char *))) == NULL) {
		osc_tmgr_tell_decref(st, decref);
		oscar_req_fail(sub->req, OSCAR_EPROTO, "meta answered get with a malformed reply");
		osc_tmgr_sub_free(sub);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const oscar_value_t *e = oscar_value_at(res->value, i);
		const char          *status =
                    e != NULL && e->type == OSCAR_MAP ? oscar_value_map_str(e, "status") : NULL;
		const char *key;
		size_t      len;
		if (status != NULL && strcmp(status, "stored") == 0 &&
		    oscar_value_get_str(oscar_value_at(sub->keys, i), &key, &len) == 0) {
			sub->stored[sub->n_stored++] = (char *) key;
			osc_tmgr_loc_learn(st, key, e);
		}
	}
	qsort(sub->stored, sub->n_stored, sizeof(char *), osc_tmgr_strcmp);
	bool answered;
	osc_tmgr_submit_now(st, sub, true, &answered);
}

// osc_tmgr_submit_start checks a submission and submits it, at once or
// once meta answers; *handed says whether it got that far (from then on
// the counts given back, decref, are told on every path).
static int osc_tmgr_submit_start(oscar_actor_t *self, oscar_req_t *req, bool *handed)
{
	osc_tmgr_t          *st    = oscar_actor_state(self);
	const oscar_value_t *args  = oscar_req_args(req);
	const oscar_value_t *graph = oscar_value_map_get(args, "graph");
	const oscar_value_t *gid   = oscar_value_map_get(args, "graph_id");
	oscar_error_t        err;
	memset(&err, 0, sizeof(err));
	if (graph == NULL || graph->type != OSCAR_ARRAY) {
		return (oscar_req_fail(
		    req, OSCAR_EBADARGS, "submit needs a graph: an array of task maps"));
	}
	osc_tmgr_sub_t *sub = calloc(1, sizeof(*sub));
	if (sub == NULL) {
		return (OSCAR_ENOMEM);
	}
	sub->req = req;
	const char *id;
	size_t      len;
	if (gid != NULL && gid->type != OSCAR_NIL) {
		if (oscar_value_get_str(gid, &id, &len) != 0 || len == 0 ||
		    len >= sizeof(sub->id) || memchr(id, '\0', len) != NULL) {
			osc_tmgr_sub_free(sub);
			return (oscar_req_fail(req, OSCAR_EBADARGS, "a graph_id is 1 to %d bytes",
			    OSC_TMGR_GRAPH_ID_MAX - 1));
		}
		if (osc_tm_graph_find(st->tm, id) != NULL) {
			osc_tmgr_sub_free(sub);
			return (oscar_req_fail(req, OSCAR_EEXIST,
			    "session %s has a graph %s already", st->session, id));
		}
		memcpy(sub->id, id, len);
	} else {
		do {
			snprintf(sub->id, sizeof(sub->id), "g%llu", (unsigned long long) ++st->seq);
		} while (osc_tm_graph_find(st->tm, sub->id) != NULL);
	}
	int rv = osc_tmgr_parse(st, graph, sub, &err);
	if (rv != 0) {
		osc_tmgr_sub_free(sub);
		return (oscar_req_fail(req, rv, "%s", err.message));
	}
	// The specs borrow strings from the request's arguments, which live
	// as long as the request.
	if ((sub->keys = oscar_value_new_array(8)) == NULL ||
	    (rv = osc_tm_lookups(st->tm, sub->specs, sub->n, osc_tmgr_lookup_key, sub->keys)) !=
	        0) {
		osc_tmgr_sub_free(sub);
		return (oscar_req_fail(req, rv != 0 ? rv : OSCAR_ENOMEM,
		    "cannot check the graph: %s", oscar_strerror(rv != 0 ? rv : OSCAR_ENOMEM)));
	}
	if (oscar_value_len(sub->keys) == 0) {
		bool answered;
		*handed = true;
		rv      = osc_tmgr_submit_now(st, sub, false, &answered);
		return (answered ? rv : oscar_req_defer(req, OSCAR_DEFER_YIELD));
	}
	// Ask meta about every key at once; the request holds the actor, so
	// that nothing changes the engine before the answer.
	oscar_value_t *q      = oscar_value_new_map(2);
	oscar_value_t *fields = oscar_value_new_array(3);
	rv                    = q != NULL && fields != NULL ? 0 : OSCAR_ENOMEM;
	rv = rv != 0 ? rv : oscar_value_array_push(fields, oscar_value_new_str("status"));
	rv = rv != 0 ? rv : oscar_value_array_push(fields, oscar_value_new_str("size"));
	rv = rv != 0 ? rv : oscar_value_array_push(fields, oscar_value_new_str("workers"));
	rv = rv != 0 ? rv : oscar_value_map_set(q, "keys", oscar_value_copy(sub->keys));
	if (rv == 0) {
		rv     = oscar_value_map_set(q, "fields", fields);
		fields = NULL;
	}
	oscar_value_free(fields);
	if (rv == 0) {
		rv = oscar_req_call(
		    req, &st->meta, "get", q, OSC_TMGR_META_TIMEOUT_MS, osc_tmgr_met, sub, NULL);
		q       = NULL;
		*handed = rv == 0;
	}
	oscar_value_free(q);
	if (rv != 0) {
		osc_tmgr_sub_free(sub);
		return (oscar_req_fail(req, rv,
		    "cannot ask the session's meta which objects are stored: %s",
		    oscar_strerror(rv)));
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

// submit {graph, graph_id?, incref?, decref?, wait_ms?, outputs?,
// release?} (docs/services/task.md): the graph id, or with wait_ms
// {graph_id, info|nil}.
static int osc_tmgr_m_submit(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t *st     = oscar_actor_state(self);
	bool        handed = false;
	int         rv     = osc_tmgr_submit_start(self, req, &handed);
	if (!handed) {
		osc_tmgr_tell_decref(st, oscar_value_map_get(oscar_req_args(req), "decref"));
	}
	return (rv);
}

// ---------------------------------------------------------------------------
// info, wait, cancel, delete, list

static int osc_tmgr_m_info(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t     *st = oscar_actor_state(self);
	int             rv = 0;
	osc_tm_graph_t *g  = osc_tmgr_graph(st, req, &rv);
	if (g == NULL) {
		return (rv);
	}
	const oscar_value_t *fields = oscar_value_map_get(oscar_req_args(req), "fields");
	const oscar_value_t *keys   = oscar_value_map_get(oscar_req_args(req), "keys");
	if (keys != NULL && keys->type != OSCAR_NIL && keys->type != OSCAR_ARRAY) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "keys must be an array of strs"));
	}
	oscar_value_t *v = osc_tmgr_info_value(g, fields);
	rv               = v != NULL ? 0 : OSCAR_ENOMEM;
	if (rv == 0 && keys != NULL && keys->type == OSCAR_ARRAY) {
		// tasks: {key: state name, or nil for no task of the graph}.
		size_t         n     = oscar_value_len(keys);
		oscar_value_t *tasks = oscar_value_new_map(n);
		rv                   = tasks != NULL ? 0 : OSCAR_ENOMEM;
		for (size_t i = 0; rv == 0 && i < n; i++) {
			const char *key;
			size_t      len;
			if (oscar_value_get_str(oscar_value_at(keys, i), &key, &len) != 0) {
				oscar_value_free(tasks);
				oscar_value_free(v);
				return (oscar_req_fail(req, OSCAR_EBADARGS,
				    "keys must be an array of strs (item %zu is not)", i));
			}
			osc_tm_task_t *t = osc_tm_graph_task(g, key);
			rv               = oscar_value_map_set(tasks, key,
                            t != NULL
			                      ? oscar_value_new_str(osc_task_state_name(osc_tm_task_state(t)))
			                      : oscar_value_new_nil());
		}
		if (rv == 0) {
			rv = oscar_value_map_set(v, "tasks", tasks);
		} else {
			oscar_value_free(tasks);
		}
	}
	if (rv != 0) {
		oscar_value_free(v);
		return (OSCAR_ENOMEM);
	}
	return (oscar_req_reply(req, v));
}

// wait {graph_id, timeout_ms, outputs?, release?, decref?}: the info map
// once the graph ends (with its wanted outputs when asked; the graph
// deleted then when release), OSCAR_ETIMEDOUT first. decref: counts
// given back on the way (one-way).
static int osc_tmgr_m_wait(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t          *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	int                  rv   = 0;
	osc_tmgr_tell_decref(st, oscar_value_map_get(args, "decref"));
	osc_tm_graph_t *g = osc_tmgr_graph(st, req, &rv);
	if (g == NULL) {
		return (rv);
	}
	int64_t timeout = oscar_value_map_int(args, "timeout_ms", 30000);
	if (timeout < 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "timeout_ms must not be negative"));
	}
	if ((int64_t) st->n_waits >= st->cfg.max_waits) {
		return (oscar_req_fail(req, OSCAR_ENOSPACE,
		    "session %s has %zu waits parked already (task.max_waits)", st->session,
		    st->n_waits));
	}
	osc_tmgr_wait_t *w = osc_tmgr_wait_new(st, req, osc_tm_graph_id(g));
	if (w == NULL) {
		return (OSCAR_ENOMEM);
	}
	w->outputs = oscar_value_map_bool(args, "outputs", false);
	w->release = oscar_value_map_bool(args, "release", false);
	osc_tm_info_t info;
	osc_tm_graph_info(g, &info);
	if (info.status != OSC_GRAPH_RUNNING) {
		osc_tmgr_ended(w, g); // answers at once
		return (0);
	}
	if ((rv = osc_tmgr_park(st, w, g, timeout)) != 0) {
		osc_tmgr_wait_unlink(st, w);
		free(w);
		return (rv);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static int osc_tmgr_m_cancel(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t     *st = oscar_actor_state(self);
	int             rv = 0;
	osc_tm_graph_t *g  = osc_tmgr_graph(st, req, &rv);
	if (g == NULL) {
		return (rv);
	}
	osc_tm_cancel(st->tm, g);
	osc_tmgr_changed(st);
	return (0);
}

static int osc_tmgr_m_delete(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t     *st = oscar_actor_state(self);
	int             rv = 0;
	osc_tm_graph_t *g  = osc_tmgr_graph(st, req, &rv);
	if (g == NULL) {
		return (rv);
	}
	osc_tm_graph_delete(st->tm, g);
	osc_tmgr_changed(st);
	return (0);
}

static int osc_tmgr_m_list(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t    *st   = oscar_actor_state(self);
	oscar_value_t *list = oscar_value_new_array(8);
	for (osc_tm_graph_t *g = osc_tm_graph_next(st->tm, NULL); list != NULL && g != NULL;
	     g                 = osc_tm_graph_next(st->tm, g)) {
		if (oscar_value_array_push(list, oscar_value_new_str(osc_tm_graph_id(g))) != 0) {
			oscar_value_free(list);
			list = NULL;
		}
	}
	return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
}

// ---------------------------------------------------------------------------
// report

static osc_tm_report_kind_t osc_tmgr_kind(const char *name, bool *ok)
{
	*ok = true;
	if (name != NULL && strcmp(name, "started") == 0) {
		return (OSC_TM_STARTED);
	}
	if (name != NULL && strcmp(name, "finished") == 0) {
		return (OSC_TM_FINISHED);
	}
	*ok = name != NULL && strcmp(name, "errored") == 0;
	return (OSC_TM_ERRORED);
}

// report: a batch of news from one executor. A malformed item is passed
// over (logged); the others go to the engine in one call.
static int osc_tmgr_m_report(oscar_actor_t *self, oscar_req_t *req)
{
	osc_tmgr_t          *st      = oscar_actor_state(self);
	const oscar_value_t *args    = oscar_req_args(req);
	const char          *worker  = oscar_value_map_str(args, "worker");
	const oscar_value_t *reports = oscar_value_map_get(args, "reports");
	if (worker == NULL || reports == NULL || reports->type != OSCAR_ARRAY) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "report needs a worker and reports"));
	}
	size_t           n       = oscar_value_len(reports);
	osc_tm_report_t *r       = calloc(n + 1, sizeof(*r));
	uint64_t        *sizes   = NULL;
	size_t           n_sizes = 0, k = 0;
	int              lend = 0;
	for (size_t i = 0; i < n; i++) {
		const oscar_value_t *s = oscar_value_at(oscar_value_at(reports, i), 2);
		n_sizes += s != NULL && s->type == OSCAR_ARRAY ? oscar_value_len(s) : 0;
	}
	if (r == NULL || (sizes = calloc(n_sizes + 1, sizeof(*sizes))) == NULL) {
		free(r);
		return (OSCAR_ENOMEM);
	}
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const oscar_value_t *item = oscar_value_at(reports, i);
		const char          *key, *kind, *msg = NULL;
		size_t               len;
		bool                 ok;
		if (oscar_value_get_str(oscar_value_at(item, 0), &key, &len) != 0 ||
		    oscar_value_get_str(oscar_value_at(item, 1), &kind, &len) != 0) {
			oscar_log(OSCAR_LOG_WARN, "task", "session %s: a malformed report from %s",
			    st->session, worker);
			continue;
		}
		// A task waiting for nested work lends its slot while it waits.
		if (strcmp(kind, "waiting") == 0 || strcmp(kind, "resumed") == 0) {
			lend += kind[0] == 'w' ? 1 : -1;
			continue;
		}
		osc_tm_report_t *x = &r[k];
		x->key             = key;
		x->kind            = osc_tmgr_kind(kind, &ok);
		if (!ok) {
			continue;
		}
		const oscar_value_t *s = oscar_value_at(item, 2);
		if (s != NULL && s->type == OSCAR_ARRAY) {
			x->sizes = &sizes[used];
			for (size_t j = 0; j < oscar_value_len(s); j++) {
				sizes[used++] = oscar_value_at_uint(s, j, 0);
			}
			x->n_sizes = oscar_value_len(s);
		}
		int64_t code = 0, sig = 0;
		oscar_value_get_int(oscar_value_at(item, 3), &code);
		oscar_value_get_int(oscar_value_at(item, 4), &sig);
		if (oscar_value_get_str(oscar_value_at(item, 5), &msg, &len) != 0) {
			msg = NULL;
		}
		x->code    = (int) code;
		x->signal  = (int) sig;
		x->message = msg;
		x->values  = oscar_value_at(item, 6);
		if (x->values != NULL && x->values->type == OSCAR_NIL) {
			x->values = NULL;
		}
		// A finished task's run time in its slot, in microseconds.
		const oscar_value_t *us = oscar_value_at(item, 7);
		x->timed                = us != NULL && oscar_value_get_uint(us, &x->us) == 0;
		k++;
	}
	if (lend != 0) {
		osc_tm_worker_lend(st->tm, worker, lend);
	}
	if (k > 0 && osc_tm_report(st->tm, worker, r, k) == OSCAR_ENOENT) {
		oscar_log(OSCAR_LOG_DEBUG, "task", "session %s: a report from unknown worker %s",
		    st->session, worker);
	}
	free(r);
	free(sizes);
	osc_tmgr_changed(st);
	return (0);
}

// ---------------------------------------------------------------------------
// The class

static int osc_tmgr_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_tmgr_t *st = oscar_actor_state(self);
	const char *sid;
	size_t      len;
	st->self = self;
	st->node = oscar_node_of_actor(self);
	if (st->node == NULL || oscar_node_role(st->node) != OSCAR_ROLE_SUPERVISOR) {
		return (OSCAR_ESTATE); // only the supervisor's task service creates it
	}
	if (oscar_value_get_str(args, &sid, &len) != 0 || len == 0 || len >= sizeof(st->session)) {
		return (OSCAR_EINVAL);
	}
	memcpy(st->session, sid, len);
	int rv = osc_task_settings(oscar_node_settings(st->node), &st->cfg, NULL);
	if (rv != 0) {
		return (rv);
	}
	char meta[OSCAR_UID_MAX], lifecycle[OSCAR_UID_MAX];
	if ((size_t) snprintf(meta, sizeof(meta), "oscar.meta:%s", st->session) >= sizeof(meta) ||
	    (size_t) snprintf(lifecycle, sizeof(lifecycle), "%s%s", OSCAR_LIFECYCLE_UID_PREFIX,
	        st->session) >= sizeof(lifecycle)) {
		return (OSCAR_EINVAL);
	}
	osc_tm_ops_t ops = {
		.stored = osc_tmgr_stored,
		.locate = osc_tmgr_locate,
		.assign = osc_tmgr_assign,
		.cancel = osc_tmgr_cancel_cb,
		.arg    = st,
	};
	osc_tm_limits_t limits = {
		.max_graph_tasks = (size_t) st->cfg.max_graph_tasks,
		.max_graphs      = (size_t) st->cfg.max_graphs,
		.run_ahead       = true,
		.queue_us        = (uint32_t) (st->cfg.queue_ms * 1000),
		.queue_max       = (uint32_t) st->cfg.queue_max,
	};
	if ((rv = oscar_ref_make(&st->cluster, oscar_node_address(st->node), OSCAR_CLUSTER_UID)) !=
	        0 ||
	    (rv = oscar_ref_make(&st->meta, oscar_node_address(st->node), meta)) != 0 ||
	    (rv = oscar_ref_make(&st->lifecycle, oscar_node_address(st->node), lifecycle)) != 0 ||
	    (rv = osc_tm_new(&st->tm, &ops, &limits)) != 0) {
		return (rv);
	}
	osc_tmgr_watch(st);
	return (0);
}

static void osc_tmgr_destroy(oscar_actor_t *self)
{
	osc_tmgr_t *st = oscar_actor_state(self);
	st->closing    = true;
	// The runtime has failed the parked waits' requests; their timers
	// run with OSCAR_ECANCELED and touch nothing.
	while (st->waits != NULL) {
		osc_tmgr_wait_t *w = st->waits;
		st->waits          = w->next;
		oscar_value_free(w->answer);
		free(w);
	}
	osc_tm_free(&st->tm);
	osc_strmap_fini(&st->locs, osc_tmgr_loc_free);
	free(st->workers);
}

OSC_METHOD_TABLES(OSC_TASK_MANAGER_METHODS, osc_task_manager_methods, OSC_TMGR_N, osc_tmgr_methods);

const oscar_actor_class_t osc_task_manager_class = {
	.name       = "oscar.task.manager",
	.state_size = sizeof(osc_tmgr_t),
	.create     = osc_tmgr_create,
	.destroy    = osc_tmgr_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_tmgr_methods,
};
