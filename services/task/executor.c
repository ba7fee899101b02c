// The worker's executor ("oscar.executor" in its main pool) and its slot
// keeper.
//
// The executor holds the tasks the session managers give it, in one FIFO
// queue, and a slot per sub pool (the slot runner, slot.c), each running
// one batch at a time: up to OSC_EXEC_BATCH_MAX tasks of one session in
// one run message, run one after the other. For each task of a batch it
// makes the inputs local and resolves the references in the arguments:
// one get of every referenced object from the node's storage
// ("oscar.storage"); for objects the node does not hold, it asks the
// session's meta where they are and has the storage pull them, then gets
// again. Once all are resolved it sends the batch to a free slot. The
// slot tells the results as they come (ran) and answers the run with the
// last ones; the outputs of the tasks whose results came together are
// stored with one put (each output its own object: "key", or "key#i" for
// n_output > 1). Reports to the managers (started, finished with the
// output sizes, errored) and the outputs' places for meta (add_location)
// leave in one message each per session per loop turn (a timer of 0
// armed by the first of the turn).
//
// Running ahead: a task sent with "after" (the key of a task held here)
// waits behind that task, goes along in its batch (the slot resolves the
// references between them) or to the head of the queue once its outputs
// are stored, and fails without running if that task fails. The tasks
// held here are in a map by session and key ("live"), for that lookup
// and for cancels.
//
// Cancel: a queued task is dropped and reported cancelled; a running
// one's slot is told to set its cancelled flag, and a timer of
// [task] kill_timeout kills the slot if the task still runs then. A slot
// whose call fails with OSCAR_EPEERGONE died (a crash, or the kill): the
// first task of its batch without a result, the one that ran, fails with
// the signal in its error, the others run again, each alone, and the
// keeper brings the slot back (it waits for the sub pool's recovery,
// then makes its runner).
//
// The keeper is a thread of the task service on each worker: actors make
// no host-thread calls, and making an actor in a sub pool or killing one
// is such a call. It takes jobs from a queue and tells the executor
// slot_up when a slot is ready.
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "services/strmap.h"
#include "services/task/graph.h"
#include "services/task/task_int.h"
#include "services/vbuild.h"

#define OSC_EXEC_CALL_TIMEOUT_MS 60000
// A task may run for as long as it needs: the run call's deadline only
// bounds a slot that never answers (a day).
#define OSC_EXEC_RUN_TIMEOUT_MS 86400000
// The most tasks an executor queues (beyond those in its slots).
#define OSC_EXEC_QUEUE_MAX (OSC_TM_QUEUE_MAX + OSC_TM_SLOTS_MAX)
// The most tasks in one run message to a slot.
#define OSC_EXEC_BATCH_MAX 64
// How long the results a slot told before its answer may take to come
// after it (they come first, so they are in the mailbox already).
#define OSC_EXEC_RESULTS_TIMEOUT_MS 10000

// ---------------------------------------------------------------------------
// The keeper

typedef enum osc_keep_op { OSC_KEEP_START, OSC_KEEP_KILL } osc_keep_op_t;

typedef struct osc_keep_job {
	struct osc_keep_job *next;
	osc_keep_op_t        op;
	unsigned             index;
} osc_keep_job_t;

struct osc_keeper {
	oscar_node_t   *node;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	osc_keep_job_t *head, *tail;
	bool            stop;
	oscar_ref_t     executor;
};

static void osc_keeper_push(osc_keeper_t *k, osc_keep_op_t op, unsigned index)
{
	osc_keep_job_t *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		oscar_log(OSCAR_LOG_ERROR, "task", "out of memory: slot %u is not %s", index,
		    op == OSC_KEEP_START ? "restarted" : "killed");
		return;
	}
	j->op    = op;
	j->index = index;
	pthread_mutex_lock(&k->mu);
	if (k->tail != NULL) {
		k->tail->next = j;
	} else {
		k->head = j;
	}
	k->tail = j;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

// osc_keeper_slot waits for sub pool index to run, makes its slot runner
// and tells the executor. It tries for a while, then gives up on the
// slot (logged): the worker runs on with fewer slots.
static void osc_keeper_slot(osc_keeper_t *k, unsigned index)
{
	oscar_pool_t *pool = oscar_node_pool(k->node);
	oscar_error_t err;
	const char   *addr          = "";
	char          last_exit[96] = "";
	oscar_ref_t   ref;
	int           rv = OSCAR_ETIMEDOUT;
	for (int attempt = 0; attempt < 30; attempt++) {
		pthread_mutex_lock(&k->mu);
		bool stop = k->stop;
		pthread_mutex_unlock(&k->mu);
		if (stop) {
			return;
		}
		oscar_placement_t      where = { .how = OSCAR_PLACE_SUB_POOL, .index = index };
		size_t                 cap   = osc_node_facts(k->node)->sub_pools + 1;
		oscar_sub_pool_info_t *info  = calloc(cap, sizeof(*info));
		size_t                 n     = 0;
		rv                           = oscar_pool_wait_recovered(pool, index, 1000);
		// Once the sub pool is back, its last process has been reaped:
		// how it ended (a signal) is known.
		if (rv == 0 && info != NULL &&
		    oscar_pool_sub_pools(pool, info, cap, &n, 5000) == 0) {
			for (size_t i = 0; i < n && i < cap; i++) {
				if (info[i].index == index) {
					snprintf(
					    last_exit, sizeof(last_exit), "%s", info[i].last_exit);
				}
			}
		}
		free(info);
		if (rv == 0) {
			rv = oscar_create_by_name(
			    pool, OSC_SLOT_CLASS, OSC_SLOT_UID, NULL, &where, 5000, &ref, &err);
		}
		if (rv == 0) {
			addr = ref.addr;
			break;
		}
		if (rv == OSCAR_ECLOSED) {
			return;
		}
		if (rv != OSCAR_ETIMEDOUT) {
			struct timespec ts = { 0, 100000000 };
			nanosleep(&ts, NULL);
		}
	}
	if (rv != 0) {
		oscar_log(OSCAR_LOG_ERROR, "task",
		    "slot %u could not be made ready (%s); running "
		    "without it",
		    index, oscar_strerror(rv));
	}
	// The executor learns either way: a slot up, or one given up on
	// (address ""), and how its last process ended.
	oscar_value_t *m = oscar_value_new_map(3);
	if (m != NULL && oscar_value_map_set(m, "index", oscar_value_new_uint(index)) == 0 &&
	    oscar_value_map_set(m, "address", oscar_value_new_str(addr)) == 0 &&
	    oscar_value_map_set(m, "last_exit", oscar_value_new_str(last_exit)) == 0) {
		rv = oscar_tell(pool, &k->executor, osc_texe_name(OSC_TEXE_SLOT_UP), m, 5000, &err);
		m  = NULL;
		// The executor is gone when the node stops: nothing to tell.
		if (rv != 0 && rv != OSCAR_ECLOSED && rv != OSCAR_ENOACTOR) {
			oscar_log(OSCAR_LOG_ERROR, "task",
			    "cannot tell the executor about slot %u: %s", index, err.message);
		}
	}
	oscar_value_free(m);
}

static void *osc_keeper_main(void *arg)
{
	osc_keeper_t *k = arg;
	for (;;) {
		pthread_mutex_lock(&k->mu);
		while (!k->stop && k->head == NULL) {
			pthread_cond_wait(&k->cv, &k->mu);
		}
		if (k->stop) {
			pthread_mutex_unlock(&k->mu);
			return (NULL);
		}
		osc_keep_job_t *j = k->head;
		k->head           = j->next;
		if (k->head == NULL) {
			k->tail = NULL;
		}
		pthread_mutex_unlock(&k->mu);
		if (j->op == OSC_KEEP_KILL) {
			int rv = oscar_pool_kill_sub_pool(oscar_node_pool(k->node), j->index, 5000);
			if (rv != 0) {
				oscar_log(OSCAR_LOG_WARN, "task", "cannot kill slot %u: %s",
				    j->index, oscar_strerror(rv));
			}
			// The executor sees the running call fail and asks for the
			// slot back.
		} else {
			osc_keeper_slot(k, j->index);
		}
		free(j);
	}
}

// ---------------------------------------------------------------------------
// The executor

typedef struct osc_xbatch osc_xbatch_t;

typedef struct osc_xtask {
	struct osc_xtask *next;          // in the queue, or a slot's crashed list
	struct osc_xtask *aprev, *anext; // in the active list, while in a batch
	char              session[OSCAR_UID_MAX];
	char              key[OSCAR_TASK_KEY_MAX];
	char              fn[OSCAR_NAME_MAX];
	oscar_value_t    *args;     // as the manager gave them
	oscar_value_t    *resolved; // a copy with its references replaced, or NULL
	unsigned          n_output;
	int               slot; // the slot of its batch, or -1
	osc_xbatch_t     *batch;
	size_t            bidx; // in its batch
	bool              prepared;
	bool              cancelled;
	bool              killed;
	bool              pulled;  // inputs pulled once already
	bool              waiting; // lent its slot while it waits for nested work
	bool              alone;   // runs in a batch of its own (its batch's slot died)
	bool              in_live; // in the executor's map of tasks by key
	bool              want;    // its manager wants its outputs back when small
	bool              storing; // its outputs are being stored
	uint64_t          run_us;  // its run time in its slot, once it returned
	// pre[k]: the size of output k, which the slot handed to the node's
	// storage itself (shared memory), or UINT64_MAX; NULL when none was.
	uint64_t        *pre;
	uint64_t         kill_timer;
	struct osc_exec *ex;
	// Run ahead: after is the key of the task of the session it follows
	// ("" for none). While that task is held here, this one waits in its
	// followers list (lead says whose); in a batch behind it, blead
	// points to it, and the slot resolves the references between them.
	char              after[OSCAR_TASK_KEY_MAX];
	struct osc_xtask *lead;
	struct osc_xtask *blead;
	struct osc_xtask *followers; // linked by next, in order
	struct osc_xtask *cnext;     // a failure's work list
	// inl: copies of its outputs, when wanted and small, for its
	// finished report.
	oscar_value_t *inl;
	// A failure of a task running ahead behind a task whose outputs are
	// still being stored waits for that task's report (its input must
	// be reported first): held in the lead's deferred list (linked by
	// dnext) with its code and message.
	struct osc_xtask *deferred;
	struct osc_xtask *dnext;
	int               dcode;
	char             *dmsg;
} osc_xtask_t;

// osc_xbatch_t is one run message to a slot: tasks of one session, their
// inputs read first (pending counts those still being read), then sent
// together. It holds its slot from the moment it is made until the
// slot answers.
struct osc_xbatch {
	osc_xbatch_t *prev, *next; // the executor's batches
	uint64_t      id;          // names it in the slot's ran messages
	unsigned      slot;
	size_t        n;       // entries of tasks (NULL once a task left)
	size_t        live;    // tasks still in it
	size_t        pending; // tasks whose inputs are being read
	bool          sent;
	bool          busy;     // being filled or sent: no sending from inside
	bool          answered; // the slot answered; ran messages for it are due
	uint64_t      timer;    // while answered: the results' deadline
	// The answer's results (from index stash_from on), kept while results
	// before them are still due in ran messages: they are stored and
	// reported after those, so that a chain is reported in its order.
	oscar_value_t *stash;
	size_t         stash_from;
	osc_xtask_t   *tasks[];
};

// osc_xstore_t is a batch's finished tasks while their outputs are stored.
typedef struct osc_xstore {
	size_t       n;
	osc_xtask_t *tasks[];
} osc_xstore_t;

// A slot runs one batch at a time, plus one more for each of its tasks
// that waits for nested work (lent): it is free while held < 1 + lent.
typedef struct osc_xslot {
	unsigned     index;
	oscar_ref_t  ref;
	bool         up;
	bool         restarting; // the keeper was asked to bring it back
	unsigned     held;       // batches holding it
	unsigned     lent;       // tasks of those waiting for nested work
	osc_xtask_t *crashed;    // died with the slot: reported once it is back
} osc_xslot_t;

typedef struct osc_exec {
	oscar_actor_t      *self;
	oscar_node_t       *node;
	osc_keeper_t       *keeper;
	osc_task_settings_t cfg;
	oscar_ref_t         storage;
	osc_xslot_t        *slots;
	unsigned            n_slots;
	osc_xtask_t        *head, *tail;
	size_t              queued;
	osc_xtask_t        *active;  // tasks in a batch
	osc_xbatch_t       *batches; // batches not answered yet
	oscar_value_t      *reports; // session -> [report...]
	oscar_value_t      *locs;    // session -> [[key, address, size]...] for meta
	osc_strmap_t        live;    // "session/key" -> osc_xtask_t, every task held
	uint64_t            next_batch;
	bool                report_armed;
	bool                scheduling;
	bool                again;
	bool                closing;
} osc_exec_t;

static void osc_exec_schedule(osc_exec_t *ex);
static void osc_batch_ready(osc_exec_t *ex, osc_xbatch_t *b);

// osc_exec_steal moves item (an inline slot of an array) into a value of
// its own, leaving nil behind; NULL when out of memory.
static oscar_value_t *osc_exec_steal(oscar_value_t *item)
{
	oscar_value_t *v = malloc(sizeof(*v));
	if (v != NULL) {
		*v = *item;
		memset(item, 0, sizeof(*item));
		item->type = OSCAR_NIL;
	}
	return (v);
}

// osc_live_name writes the name of t in the executor's map of tasks.
static void osc_live_name(const char *session, const char *key, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", session, key);
}

// osc_xtask_free frees t, and the tasks waiting behind it (which no one
// will run any more: the executor is going), without recursion.
static void osc_xtask_free(osc_xtask_t *t)
{
	osc_xtask_t *work = t;
	if (t != NULL) {
		t->cnext = NULL;
	}
	while (work != NULL) {
		osc_xtask_t *x = work;
		work           = x->cnext;
		for (osc_xtask_t *f = x->followers; f != NULL;) {
			osc_xtask_t *n = f->next;
			f->cnext       = work;
			work           = f;
			f              = n;
		}
		for (osc_xtask_t *f = x->deferred; f != NULL;) {
			osc_xtask_t *n = f->dnext;
			f->cnext       = work;
			work           = f;
			f              = n;
		}
		if (x->in_live) {
			char name[OSCAR_UID_MAX + OSCAR_TASK_KEY_MAX + 2];
			osc_live_name(x->session, x->key, name, sizeof(name));
			osc_strmap_del(&x->ex->live, name);
		}
		oscar_value_free(x->args);
		oscar_value_free(x->resolved);
		oscar_value_free(x->inl);
		free(x->pre);
		free(x->dmsg);
		free(x);
	}
}

// ---------------------------------------------------------------------------
// Reports and locations, one message per session per loop turn

// osc_exec_send_to tells each session's actor named prefix+session the
// list kept for it in *lists (consumed), wrapped by wrap.
static void osc_exec_send_to(
    osc_exec_t *ex, oscar_value_t **lists, const char *prefix, const char *method, bool wrap)
{
	oscar_value_t *all = *lists;
	*lists             = NULL;
	for (size_t i = 0; all != NULL && i < all->as.map.len; i++) {
		const char    *sid;
		size_t         len;
		char           uid[OSCAR_UID_MAX];
		oscar_ref_t    ref;
		oscar_value_t *list = osc_exec_steal(&all->as.map.kv[i].val);
		oscar_value_t *msg  = list;
		int            rv   = list != NULL ? 0 : OSCAR_ENOMEM;
		if (rv == 0 && wrap) {
			msg = oscar_value_new_map(2);
			rv  = msg == NULL ||
                                     oscar_value_map_set(msg, "worker",
			                  oscar_value_new_str(oscar_node_address(ex->node))) != 0
			          ? OSCAR_ENOMEM
			          : 0;
			if (rv == 0) {
				rv   = oscar_value_map_set(msg, "reports", list);
				list = NULL;
			}
			if (rv != 0) {
				oscar_value_free(msg);
				msg = NULL;
			}
		}
		list = NULL;
		if (rv == 0 &&
		    (oscar_value_get_str(&all->as.map.kv[i].key, &sid, &len) != 0 ||
		        (size_t) snprintf(uid, sizeof(uid), "%s%.*s", prefix, (int) len, sid) >=
		            sizeof(uid) ||
		        oscar_ref_make(&ref, oscar_node_supervisor(ex->node), uid) != 0)) {
			rv = OSCAR_EINVAL;
		}
		if (rv == 0) {
			rv  = oscar_actor_tell(ex->self, &ref, method, msg);
			msg = NULL;
		}
		oscar_value_free(msg);
		oscar_value_free(list);
		if (rv != 0) {
			oscar_log(OSCAR_LOG_WARN, "task", "cannot tell a session's %s %s: %s",
			    prefix, method, oscar_strerror(rv));
		}
	}
	oscar_value_free(all);
}

static void osc_exec_send_reports(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_exec_t *ex = arg;
	(void) self;
	if (res->code != 0) {
		return;
	}
	ex->report_armed = false;
	// Meta first: once the manager hears that a task finished, meta
	// knows where its outputs are (both live in the supervisor's pool
	// and get this turn's messages in order).
	osc_exec_send_to(ex, &ex->locs, "oscar.meta:", "add_location", false);
	osc_exec_send_to(
	    ex, &ex->reports, OSC_TASK_UID_PREFIX, osc_tmgr_name(OSC_TMGR_REPORT), true);
}

static void osc_exec_arm(osc_exec_t *ex)
{
	if (!ex->report_armed && !ex->closing &&
	    oscar_actor_after(ex->self, 0, osc_exec_send_reports, ex, NULL) == 0) {
		ex->report_armed = true;
	}
}

// osc_exec_list gives the list kept for session in *all (made if need be).
static oscar_value_t *osc_exec_list(oscar_value_t **all, const char *session)
{
	if (*all == NULL && (*all = oscar_value_new_map(4)) == NULL) {
		return (NULL);
	}
	oscar_value_t *list = (oscar_value_t *) oscar_value_map_get(*all, session);
	if (list == NULL && oscar_value_map_set(*all, session, oscar_value_new_array(16)) == 0) {
		list = (oscar_value_t *) oscar_value_map_get(*all, session);
	}
	return (list);
}

// osc_exec_report queues one report for t's session's manager:
// [key, kind, sizes|nil, code, signal, message].
static void osc_exec_report_values(osc_exec_t *ex, const osc_xtask_t *t, const char *kind,
    oscar_value_t *sizes, int code, int sig, const char *message, oscar_value_t *values,
    const uint64_t *us);

static void osc_exec_report(osc_exec_t *ex, const osc_xtask_t *t, const char *kind,
    oscar_value_t *sizes, int code, int sig, const char *message)
{
	osc_exec_report_values(ex, t, kind, sizes, code, sig, message, NULL, NULL);
}

// osc_exec_report_values queues one report for t's session's manager:
// [key, kind, sizes|nil, code, signal, message, values|nil, us], values
// (taken; may be NULL) being the outputs of a finished task its manager
// wants back, us (may be NULL) a finished task's run time in its slot,
// in microseconds. The items after the last one that says something
// (sizes, a code, a signal, a message, values, us) are left out: a
// started report is [key, kind], a finished one [key, kind, sizes, 0,
// 0, "", nil, us]. It is built in place in the session's list (no value
// of its own per item).
static void osc_exec_report_values(osc_exec_t *ex, const osc_xtask_t *t, const char *kind,
    oscar_value_t *sizes, int code, int sig, const char *message, oscar_value_t *values,
    const uint64_t *us)
{
	if (message != NULL && message[0] == '\0') {
		message = NULL;
	}
	size_t         n    = us != NULL        ? 8
	                      : values != NULL  ? 7
	                      : message != NULL ? 6
	                      : sig != 0        ? 5
	                      : code != 0       ? 4
	                      : sizes != NULL   ? 3
	                                        : 2;
	oscar_value_t *list = osc_exec_list(&ex->reports, t->session);
	oscar_value_t *item = list != NULL ? osc_vb_push_array(list, n) : NULL;
	int            rv   = item != NULL ? 0 : OSCAR_ENOMEM;
	rv                  = rv != 0 ? rv : osc_vb_push_str(item, t->key);
	rv                  = rv != 0 ? rv : osc_vb_push_str(item, kind);
	// sizes and values are moved into the item (their emptied shells
	// freed below) or, on a failure, freed whole.
	if (rv == 0 && n > 2) {
		rv = sizes != NULL ? osc_vb_push_move(item, sizes) : osc_vb_push_nil(item);
	}
	rv = rv != 0 || n <= 3 ? rv : osc_vb_push_int(item, code);
	rv = rv != 0 || n <= 4 ? rv : osc_vb_push_int(item, sig);
	if (rv == 0 && n > 5) {
		rv = osc_vb_push_str(item, message != NULL ? message : "");
	}
	if (rv == 0 && values != NULL) {
		rv = osc_vb_push_move(item, values);
	} else if (rv == 0 && n > 6) {
		rv = osc_vb_push_nil(item);
	}
	rv = rv != 0 || us == NULL ? rv : osc_vb_push_uint(item, *us);
	oscar_value_free(sizes); // nil once moved: its shell only
	oscar_value_free(values);
	if (rv != 0 && item != NULL) {
		osc_vb_pop(list); // not sent half made
	}
	if (rv != 0) {
		oscar_log(OSCAR_LOG_ERROR, "task", "cannot report task %s: %s", t->key,
		    oscar_strerror(rv));
		return;
	}
	osc_exec_arm(ex);
}

// ---------------------------------------------------------------------------
// Batches and their slots

static void osc_active_unlink(osc_exec_t *ex, osc_xtask_t *t)
{
	if (t->aprev != NULL) {
		t->aprev->anext = t->anext;
	} else if (ex->active == t) {
		ex->active = t->anext;
	}
	if (t->anext != NULL) {
		t->anext->aprev = t->aprev;
	}
	t->aprev = t->anext = NULL;
}

// osc_task_leave takes t out of its batch and the active list, and gives
// back the slot it lent (a no-op for a task in no batch).
static void osc_task_leave(osc_exec_t *ex, osc_xtask_t *t)
{
	osc_xbatch_t *b = t->batch;
	if (b == NULL) {
		return;
	}
	b->tasks[t->bidx] = NULL;
	b->live--;
	if (!t->prepared && !b->sent) {
		b->pending--;
	}
	if (t->waiting) {
		ex->slots[t->slot].lent--;
		t->waiting = false;
		osc_exec_report(ex, t, "resumed", NULL, 0, 0, NULL);
	}
	osc_active_unlink(ex, t);
	t->batch = NULL;
	t->slot  = -1;
	if (t->kill_timer != 0) {
		oscar_actor_cancel(ex->self, t->kill_timer);
		t->kill_timer = 0;
	}
}

// osc_batch_end frees b and its slot (its tasks have left it).
static void osc_batch_end(osc_exec_t *ex, osc_xbatch_t *b)
{
	if (!b->answered) {
		ex->slots[b->slot].held--;
	}
	if (b->timer != 0) {
		oscar_actor_cancel(ex->self, b->timer);
	}
	oscar_value_free(b->stash);
	if (b->prev != NULL) {
		b->prev->next = b->next;
	} else {
		ex->batches = b->next;
	}
	if (b->next != NULL) {
		b->next->prev = b->prev;
	}
	free(b);
}

// osc_exec_end frees t, which left its batch or is leaving it now.
static void osc_exec_end(osc_exec_t *ex, osc_xtask_t *t)
{
	osc_xbatch_t *b = t->batch;
	osc_task_leave(ex, t);
	osc_xtask_free(t);
	if (b != NULL && !b->sent) {
		osc_batch_ready(ex, b);
	}
	osc_exec_schedule(ex);
}

// osc_exec_drop frees t without a report: the executor is going.
static void osc_exec_drop(osc_exec_t *ex, osc_xtask_t *t)
{
	osc_task_leave(ex, t);
	osc_xtask_free(t);
}

// osc_exec_dependents moves the tasks that run ahead behind t (waiting
// for it, or in its batch not sent yet) to the work list *work.
static void osc_exec_dependents(osc_xtask_t *t, osc_xtask_t **work)
{
	while (t->followers != NULL) {
		osc_xtask_t *f = t->followers;
		t->followers   = f->next;
		f->next        = NULL;
		f->lead        = NULL;
		f->cnext       = *work;
		*work          = f;
	}
	osc_xbatch_t *b = t->batch;
	for (size_t i = 0; b != NULL && !b->sent && i < b->n; i++) {
		osc_xtask_t *x = b->tasks[i];
		if (x != NULL && x->blead == t) {
			x->blead = NULL;
			x->cnext = *work;
			*work    = x;
		}
	}
}

// osc_exec_cascade fails every task that runs ahead behind t, which
// failed: they never run. Without recursion: a chain may be long.
static void osc_exec_cascade(osc_exec_t *ex, osc_xtask_t *t)
{
	osc_xtask_t *work = NULL;
	osc_exec_dependents(t, &work);
	while (work != NULL) {
		osc_xtask_t *x = work;
		work           = x->cnext;
		osc_exec_dependents(x, &work);
		char msg[OSCAR_ERRMSG_MAX];
		snprintf(msg, sizeof(msg), "task %s (%s) did not run: its input %s failed", x->key,
		    x->fn, x->after);
		osc_exec_report(ex, x, "errored", NULL, OSCAR_ECANCELED, 0, msg);
		osc_xbatch_t *b = x->batch;
		osc_task_leave(ex, x);
		osc_xtask_free(x);
		if (b != NULL && !b->sent) {
			osc_batch_ready(ex, b);
		}
	}
}

static void osc_exec_fail(osc_exec_t *ex, osc_xtask_t *t, int code, int sig, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void osc_out_name(const osc_xtask_t *t, unsigned i, char *buf, size_t size);

// osc_exec_unstore deletes the outputs that t's slot handed to the node's
// storage itself, when t fails after all: no one will know of them (one
// delete per key, one-way: a missing key deletes nothing of the others).
static void osc_exec_unstore(osc_exec_t *ex, osc_xtask_t *t)
{
	for (unsigned k = 0; t->pre != NULL && k < t->n_output; k++) {
		char           name[OSCAR_TASK_KEY_MAX + 16];
		oscar_value_t *m    = oscar_value_new_map(2);
		oscar_value_t *keys = oscar_value_new_array(1);
		if (t->pre[k] == UINT64_MAX) {
			oscar_value_free(m);
			oscar_value_free(keys);
			continue;
		}
		osc_out_name(t, k, name, sizeof(name));
		int rv = m != NULL && keys != NULL ? 0 : OSCAR_ENOMEM;
		rv     = rv != 0 ? rv : oscar_value_array_push(keys, oscar_value_new_str(name));
		rv     = rv != 0 ? rv
		                 : oscar_value_map_set(m, "session", oscar_value_new_str(t->session));
		if (rv == 0) {
			rv   = oscar_value_map_set(m, "keys", keys);
			keys = NULL;
		}
		if (rv == 0) {
			rv = oscar_actor_tell(ex->self, &ex->storage, "delete", m);
			m  = NULL;
		}
		oscar_value_free(m);
		oscar_value_free(keys);
		if (rv != 0) {
			oscar_log(OSCAR_LOG_WARN, "task",
			    "task %s failed: cannot delete its output %s from storage: %s", t->key,
			    name, oscar_strerror(rv));
		}
	}
	free(t->pre);
	t->pre = NULL;
}

static void osc_exec_fail(osc_exec_t *ex, osc_xtask_t *t, int code, int sig, const char *fmt, ...)
{
	char    msg[OSCAR_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t->cancelled) {
		code = OSCAR_ECANCELED;
	}
	osc_exec_unstore(ex, t);
	// A task running ahead behind one whose outputs are being stored
	// (reported once stored) is reported after it: the manager must hear
	// of an input's end before its dependent's.
	osc_xtask_t *lead = NULL;
	if (t->after[0] != '\0') {
		char name[OSCAR_UID_MAX + OSCAR_TASK_KEY_MAX + 2];
		osc_live_name(t->session, t->after, name, sizeof(name));
		lead = osc_strmap_get(&ex->live, name);
	}
	if (lead != NULL && lead != t && t->lead == NULL && (lead->storing || lead->dmsg != NULL) &&
	    (t->dmsg = strdup(msg)) != NULL) {
		osc_xbatch_t *b = t->batch;
		osc_task_leave(ex, t);
		t->dcode         = code;
		osc_xtask_t **pp = &lead->deferred;
		while (*pp != NULL) {
			pp = &(*pp)->dnext;
		}
		*pp = t;
		if (b != NULL && !b->sent) {
			osc_batch_ready(ex, b);
		}
		return;
	}
	osc_exec_report(ex, t, "errored", NULL, code, sig, msg);
	osc_exec_cascade(ex, t);
	osc_exec_end(ex, t);
}

// osc_exec_deferred reports the failures of list d (linked by dnext),
// which waited for their lead's report (osc_exec_fail), in order, each
// followed by those that waited for it.
static void osc_exec_deferred(osc_exec_t *ex, osc_xtask_t *d)
{
	while (d != NULL) {
		osc_xtask_t *next = d->dnext;
		d->dnext          = NULL;
		if (d->deferred != NULL) {
			osc_xtask_t *last = d->deferred;
			while (last->dnext != NULL) {
				last = last->dnext;
			}
			last->dnext = next;
			next        = d->deferred;
			d->deferred = NULL;
		}
		osc_exec_report(ex, d, "errored", NULL, d->dcode, 0, d->dmsg);
		osc_exec_cascade(ex, d);
		osc_exec_end(ex, d);
		d = next;
	}
}

static const char *osc_res_message(const oscar_result_t *res)
{
	return (res->error != NULL ? res->error->message : oscar_strerror(res->code));
}

// ---------------------------------------------------------------------------
// Inputs

static void osc_exec_got_inputs(oscar_actor_t *self, oscar_result_t *res, void *arg);
static void osc_exec_get_inputs(osc_exec_t *ex, osc_xtask_t *t, oscar_value_t *names);

// osc_exec_names lists the names of the objects t's arguments refer to.
static int osc_exec_names(osc_xtask_t *t, oscar_value_t **names)
{
	oscar_value_t *refs = NULL;
	int            rv   = oscar_value_list_refs(t->args, &refs);
	*names              = NULL;
	if (rv != 0) {
		return (rv);
	}
	oscar_value_t *out = oscar_value_new_array(oscar_value_len(refs));
	for (size_t i = 0; out != NULL && i < oscar_value_len(refs); i++) {
		char name[OSCAR_REF_NAME_MAX];
		if ((rv = oscar_value_ref_name(oscar_value_at(refs, i), name, sizeof(name))) != 0 ||
		    (rv = oscar_value_array_push(out, oscar_value_new_str(name))) != 0) {
			break;
		}
	}
	oscar_value_free(refs);
	if (out == NULL || rv != 0) {
		oscar_value_free(out);
		return (rv != 0 ? rv : OSCAR_ENOMEM);
	}
	*names = out;
	return (0);
}

// osc_replace_t maps the references of a task's arguments to the values
// read for them. names lists them in the order the walk meets them
// (osc_exec_names), so the cursor next finds each in O(1): a task with
// 10,000 inputs costs 10,000 steps, not 10,000 squared, on the
// executor's loop. A name that is not next (one left to the slot) is
// looked for in the whole list.
typedef struct osc_replace {
	const oscar_value_t *names;
	const oscar_value_t *values;
	size_t               next;
	uint64_t             shm; // [task] shm_threshold
} osc_replace_t;

static bool osc_replace_is(const oscar_value_t *names, size_t i, const char *name, size_t len)
{
	const char *n;
	size_t      nlen;
	return (oscar_value_get_str(oscar_value_at(names, i), &n, &nlen) == 0 && nlen == len &&
	        memcmp(n, name, len) == 0);
}

static int osc_exec_replace_cb(void *arg, const oscar_value_t *ref, oscar_value_t **out)
{
	osc_replace_t *r = arg;
	char           name[OSCAR_REF_NAME_MAX];
	size_t         n = oscar_value_len(r->names);
	if (oscar_value_ref_name(ref, name, sizeof(name)) != 0) {
		return (OSCAR_EINVAL);
	}
	size_t len = strlen(name);
	size_t at  = r->next;
	if (at >= n || !osc_replace_is(r->names, at, name, len)) {
		for (at = 0; at < n && !osc_replace_is(r->names, at, name, len); at++) {
		}
	}
	if (at < n) {
		const oscar_value_t *v = oscar_value_at(r->values, at);
		r->next                = at + 1;
		if (osc_task_value_large(v, r->shm)) {
			// Large: it stays a reference, which the slot maps from the
			// node's storage (shared memory) instead of receiving its
			// bytes in the run message.
			*out = NULL;
			return (0);
		}
		*out = oscar_value_copy(v);
		return (*out != NULL ? 0 : OSCAR_ENOMEM);
	}
	// An output of a task before it in its batch: the slot resolves it.
	*out = NULL;
	return (0);
}

// osc_exec_prepared: t's inputs are in its resolved arguments (or it
// needs none); its batch leaves once every task of it is prepared.
static void osc_exec_prepared(osc_exec_t *ex, osc_xtask_t *t)
{
	osc_xbatch_t *b = t->batch;
	t->prepared     = true;
	b->pending--;
	osc_batch_ready(ex, b);
}

static void osc_exec_pulled(oscar_actor_t *self, oscar_result_t *res, void *arg);

// osc_exec_located is meta's answer about the objects the node lacked:
// pull them all from the first worker holding each (one pull per worker,
// chained).
typedef struct osc_pull {
	osc_xtask_t   *t;
	oscar_value_t *names;  // every input name, for the get after the pulls
	oscar_value_t *groups; // address -> [key...]
	size_t         next;
} osc_pull_t;

static void osc_pull_free(osc_pull_t *p)
{
	oscar_value_free(p->names);
	oscar_value_free(p->groups);
	free(p);
}

static void osc_exec_pull_next(osc_exec_t *ex, osc_pull_t *p)
{
	osc_xtask_t *t = p->t;
	if (p->next >= oscar_value_len(p->groups)) {
		oscar_value_t *names = p->names;
		p->names             = NULL;
		osc_pull_free(p);
		osc_exec_get_inputs(ex, t, names);
		return;
	}
	const oscar_value_t *from = &p->groups->as.map.kv[p->next].key;
	const oscar_value_t *keys = &p->groups->as.map.kv[p->next].val;
	p->next++;
	oscar_value_t *msg = oscar_value_new_map(3);
	int            rv  = msg != NULL ? 0 : OSCAR_ENOMEM;
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "session", oscar_value_new_str(t->session));
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "keys", oscar_value_copy(keys));
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "from", oscar_value_copy(from));
	if (rv == 0) {
		rv = oscar_actor_call(ex->self, &ex->storage, "pull", msg, OSC_EXEC_CALL_TIMEOUT_MS,
		    osc_exec_pulled, p, NULL);
		msg = NULL;
	}
	oscar_value_free(msg);
	if (rv != 0) {
		osc_pull_free(p);
		osc_exec_fail(ex, t, rv, 0, "task %s (%s): cannot pull its inputs: %s", t->key,
		    t->fn, oscar_strerror(rv));
	}
}

static void osc_exec_pulled(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_pull_t *p  = arg;
	osc_exec_t *ex = oscar_actor_state(self);
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		osc_exec_drop(ex, p->t);
		osc_pull_free(p);
		return;
	}
	if (res->code != 0) {
		osc_xtask_t *t = p->t;
		osc_pull_free(p);
		osc_exec_fail(ex, t, res->code, 0, "task %s (%s): cannot pull its inputs: %s",
		    t->key, t->fn, osc_res_message(res));
		return;
	}
	osc_exec_pull_next(ex, p);
}

static void osc_exec_located(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_pull_t  *p  = arg;
	osc_exec_t  *ex = oscar_actor_state(self);
	osc_xtask_t *t  = p->t;
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		osc_exec_drop(ex, t);
		osc_pull_free(p);
		return;
	}
	if (res->code != 0) {
		osc_pull_free(p);
		osc_exec_fail(ex, t, res->code, 0, "task %s (%s): cannot find its inputs: %s",
		    t->key, t->fn, osc_res_message(res));
		return;
	}
	p->groups = oscar_value_new_map(4);
	for (size_t i = 0; p->groups != NULL && i < oscar_value_len(p->names); i++) {
		const oscar_value_t *e = oscar_value_at(res->value, i);
		const char          *name, *from = NULL;
		size_t               len;
		oscar_value_get_str(oscar_value_at(p->names, i), &name, &len);
		const oscar_value_t *workers =
		    e != NULL && e->type == OSCAR_MAP ? oscar_value_map_get(e, "workers") : NULL;
		for (size_t j = 0; j < oscar_value_len(workers); j++) {
			const char *w;
			if (oscar_value_get_str(oscar_value_at(workers, j), &w, &len) == 0 &&
			    strcmp(w, oscar_node_address(ex->node)) != 0) {
				from = w;
				break;
			}
		}
		if (from == NULL) {
			continue; // here already, or nowhere: the get says which
		}
		oscar_value_t *list = (oscar_value_t *) oscar_value_map_get(p->groups, from);
		if (list == NULL) {
			oscar_value_map_set(p->groups, from, oscar_value_new_array(4));
			list = (oscar_value_t *) oscar_value_map_get(p->groups, from);
		}
		if (list == NULL || oscar_value_array_push(list, oscar_value_new_str(name)) != 0) {
			oscar_value_free(p->groups);
			p->groups = NULL;
		}
	}
	if (p->groups == NULL) {
		osc_pull_free(p);
		osc_exec_fail(ex, t, OSCAR_ENOMEM, 0, "task %s (%s): out of memory", t->key, t->fn);
		return;
	}
	osc_exec_pull_next(ex, p);
}

// osc_exec_locate asks meta where t's inputs are, to pull them.
static void osc_exec_locate(osc_exec_t *ex, osc_xtask_t *t, oscar_value_t *names)
{
	char           uid[OSCAR_UID_MAX];
	oscar_ref_t    meta;
	osc_pull_t    *p      = calloc(1, sizeof(*p));
	oscar_value_t *q      = oscar_value_new_map(2);
	oscar_value_t *fields = oscar_value_new_array(1);
	int            rv     = p != NULL && q != NULL && fields != NULL ? 0 : OSCAR_ENOMEM;
	snprintf(uid, sizeof(uid), "oscar.meta:%s", t->session);
	rv = rv != 0 ? rv : oscar_ref_make(&meta, oscar_node_supervisor(ex->node), uid);
	rv = rv != 0 ? rv : oscar_value_array_push(fields, oscar_value_new_str("workers"));
	rv = rv != 0 ? rv : oscar_value_map_set(q, "keys", oscar_value_copy(names));
	if (rv == 0) {
		rv     = oscar_value_map_set(q, "fields", fields);
		fields = NULL;
	}
	if (rv == 0) {
		p->t     = t;
		p->names = names;
		names    = NULL;
		rv       = oscar_actor_call(
		          ex->self, &meta, "get", q, OSC_EXEC_CALL_TIMEOUT_MS, osc_exec_located, p, NULL);
		q = NULL;
		if (rv != 0) {
			names    = p->names;
			p->names = NULL;
		}
	}
	oscar_value_free(fields);
	oscar_value_free(q);
	oscar_value_free(names);
	if (rv != 0) {
		free(p);
		osc_exec_fail(ex, t, rv, 0, "task %s (%s): cannot ask where its inputs are: %s",
		    t->key, t->fn, oscar_strerror(rv));
	}
}

typedef struct osc_get {
	osc_xtask_t   *t;
	oscar_value_t *names;
} osc_get_t;

static void osc_exec_got_inputs(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_get_t     *g     = arg;
	osc_exec_t    *ex    = oscar_actor_state(self);
	osc_xtask_t   *t     = g->t;
	oscar_value_t *names = g->names;
	free(g);
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		osc_exec_drop(ex, t);
		oscar_value_free(names);
		return;
	}
	if (t->cancelled) {
		oscar_value_free(names);
		osc_exec_fail(
		    ex, t, OSCAR_ECANCELED, 0, "task %s (%s) was cancelled", t->key, t->fn);
		return;
	}
	if (res->code == OSCAR_ENOENT && !t->pulled) {
		t->pulled = true;
		osc_exec_locate(ex, t, names);
		return;
	}
	if (res->code != 0 || oscar_value_len(res->value) != oscar_value_len(names)) {
		oscar_value_free(names);
		osc_exec_fail(ex, t, res->code != 0 ? res->code : OSCAR_EPROTO, 0,
		    "task %s (%s): cannot read its inputs: %s", t->key, t->fn,
		    res->code != 0 ? osc_res_message(res)
		                   : "storage answered get with a malformed reply");
		return;
	}
	osc_replace_t  r = { names, res->value, 0, (uint64_t) ex->cfg.shm_threshold };
	oscar_value_t *a = oscar_value_copy(t->args);
	int rv = a != NULL ? oscar_value_replace_refs(a, osc_exec_replace_cb, &r) : OSCAR_ENOMEM;
	oscar_value_free(names);
	if (rv != 0) {
		oscar_value_free(a);
		osc_exec_fail(ex, t, rv, 0, "task %s (%s): cannot resolve its inputs: %s", t->key,
		    t->fn, oscar_strerror(rv));
		return;
	}
	t->resolved = a;
	osc_exec_prepared(ex, t);
}

// osc_exec_get_inputs reads every object names lists (consumed) from the
// node's storage in one call.
static void osc_exec_get_inputs(osc_exec_t *ex, osc_xtask_t *t, oscar_value_t *names)
{
	osc_get_t     *g   = calloc(1, sizeof(*g));
	oscar_value_t *msg = oscar_value_new_map(2);
	int            rv  = g != NULL && msg != NULL ? 0 : OSCAR_ENOMEM;
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "session", oscar_value_new_str(t->session));
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "keys", oscar_value_copy(names));
	if (rv == 0) {
		g->t     = t;
		g->names = names;
		rv  = oscar_actor_call(ex->self, &ex->storage, "get", msg, OSC_EXEC_CALL_TIMEOUT_MS,
		     osc_exec_got_inputs, g, NULL);
		msg = NULL;
		if (rv == 0) {
			return;
		}
	}
	oscar_value_free(msg);
	oscar_value_free(names);
	free(g);
	osc_exec_fail(ex, t, rv, 0, "task %s (%s): cannot read its inputs: %s", t->key, t->fn,
	    oscar_strerror(rv));
}

// osc_batch_makes tells whether a task of t's batch before it has an
// output called name (the slot gives it to t).
static bool osc_batch_makes(const osc_xtask_t *t, const char *name, size_t len)
{
	const osc_xbatch_t *b = t->batch;
	for (size_t i = 0; b != NULL && i < t->bidx; i++) {
		const osc_xtask_t *x = b->tasks[i];
		size_t             k = x != NULL ? strlen(x->key) : 0;
		if (x != NULL && len >= k && memcmp(name, x->key, k) == 0 &&
		    (len == k ? x->n_output == 1 : name[k] == '#' && x->n_output > 1)) {
			return (true);
		}
	}
	return (false);
}

// osc_exec_prepare reads t's inputs, if it has any: those that tasks
// before it in its batch make are left to the slot.
static void osc_exec_prepare(osc_exec_t *ex, osc_xtask_t *t)
{
	oscar_value_t *names;
	int            rv = osc_exec_names(t, &names);
	if (rv != 0) {
		osc_exec_fail(
		    ex, t, rv, 0, "task %s (%s): bad references in its args", t->key, t->fn);
		return;
	}
	if (t->blead != NULL) {
		oscar_value_t *keep = oscar_value_new_array(oscar_value_len(names));
		for (size_t i = 0; keep != NULL && i < oscar_value_len(names); i++) {
			const char *n;
			size_t      len;
			if (oscar_value_get_str(oscar_value_at(names, i), &n, &len) == 0 &&
			    !osc_batch_makes(t, n, len) &&
			    oscar_value_array_push(keep, oscar_value_new_str(n)) != 0) {
				oscar_value_free(keep);
				keep = NULL;
			}
		}
		oscar_value_free(names);
		if ((names = keep) == NULL) {
			osc_exec_fail(
			    ex, t, OSCAR_ENOMEM, 0, "task %s (%s): out of memory", t->key, t->fn);
			return;
		}
	}
	if (oscar_value_len(names) == 0) {
		oscar_value_free(names);
		osc_exec_prepared(ex, t);
		return;
	}
	osc_exec_get_inputs(ex, t, names);
}

// osc_out_name names output i of t.
static void osc_out_name(const osc_xtask_t *t, unsigned i, char *buf, size_t size)
{
	if (t->n_output == 1) {
		snprintf(buf, size, "%s", t->key);
	} else {
		snprintf(buf, size, "%s#%u", t->key, i);
	}
}

// ---------------------------------------------------------------------------
// Running a batch: the slot, then the outputs

static void osc_exec_ran(oscar_actor_t *self, oscar_result_t *res, void *arg);

// osc_batch_send sends b's tasks to its slot in one run message.
static void osc_batch_send(osc_exec_t *ex, osc_xbatch_t *b)
{
	osc_xslot_t *s = &ex->slots[b->slot];
	// Tasks cancelled meanwhile leave first; the others close ranks, so
	// that the answer's i-th result is tasks[i]'s.
	b->busy = true;
	for (size_t i = 0; i < b->n; i++) {
		osc_xtask_t *t = b->tasks[i];
		if (t != NULL && t->cancelled) {
			osc_exec_fail(ex, t, OSCAR_ECANCELED, 0,
			    "task %s (%s) was cancelled before it ran", t->key, t->fn);
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->tasks[i] != NULL) {
			b->tasks[k]       = b->tasks[i];
			b->tasks[k]->bidx = k;
			k++;
		}
	}
	b->n    = k;
	b->busy = false;
	if (k == 0) {
		osc_batch_end(ex, b);
		osc_exec_schedule(ex);
		return;
	}
	osc_xtask_t   *t0   = b->tasks[0];
	oscar_value_t *msg  = oscar_value_new_map(8);
	oscar_value_t *list = oscar_value_new_array(k);
	int            rv   = msg != NULL && list != NULL ? 0 : OSCAR_ENOMEM;
	for (size_t i = 0; rv == 0 && i < k; i++) {
		osc_xtask_t   *t    = b->tasks[i];
		oscar_value_t *item = osc_vb_push_array(list, 4); // [key, fn, args, n_output]
		oscar_value_t *a    = t->resolved != NULL ? t->resolved : oscar_value_copy(t->args);
		t->resolved         = NULL;
		rv                  = item != NULL && a != NULL ? 0 : OSCAR_ENOMEM;
		rv                  = rv != 0 ? rv : osc_vb_push_str(item, t->key);
		rv                  = rv != 0 ? rv : osc_vb_push_str(item, t->fn);
		rv                  = rv != 0 ? rv : osc_vb_push_move(item, a);
		oscar_value_free(a); // nil once moved: its shell only
		rv = rv != 0 ? rv : osc_vb_push_uint(item, t->n_output);
	}
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "session", oscar_value_new_str(t0->session));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   msg, "supervisor", oscar_value_new_str(oscar_node_supervisor(ex->node)));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(msg, "executor",
	                   oscar_value_new_str(oscar_pool_address(oscar_actor_pool(ex->self))));
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "slot", oscar_value_new_uint(s->index));
	rv = rv != 0 ? rv : oscar_value_map_set(msg, "batch", oscar_value_new_uint(b->id));
	// The node's storage, and from what size on values go through its
	// shared memory (the slot maps large inputs and hands large outputs
	// over).
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   msg, "node", oscar_value_new_str(oscar_node_address(ex->node)));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   msg, "shm", oscar_value_new_uint((uint64_t) ex->cfg.shm_threshold));
	if (rv == 0) {
		rv   = oscar_value_map_set(msg, "tasks", list);
		list = NULL;
	}
	oscar_value_free(list);
	if (rv == 0) {
		rv  = oscar_actor_call(ex->self, &s->ref, osc_slot_name(OSC_SLOT_RUN), msg,
		     OSC_EXEC_RUN_TIMEOUT_MS, osc_exec_ran, b, NULL);
		msg = NULL;
	}
	oscar_value_free(msg);
	if (rv != 0) {
		b->busy = true;
		for (size_t i = 0; i < b->n; i++) {
			osc_xtask_t *t = b->tasks[i];
			if (t != NULL) {
				osc_exec_fail(ex, t, rv, 0,
				    "task %s (%s): cannot start it in slot %u: %s", t->key, t->fn,
				    s->index, oscar_strerror(rv));
			}
		}
		osc_batch_end(ex, b);
		osc_exec_schedule(ex);
		return;
	}
	// Started: in its slot, which runs them in order; one behind
	// another task of the batch waits for it, and is not reported
	// started (it ends with the batch all the same).
	b->sent = true;
	for (size_t i = 0; i < b->n; i++) {
		if (b->tasks[i]->blead == NULL) {
			osc_exec_report(ex, b->tasks[i], "started", NULL, 0, 0, NULL);
		}
	}
}

// osc_batch_ready sends b once every task of it is prepared (or ends it
// when none is left).
static void osc_batch_ready(osc_exec_t *ex, osc_xbatch_t *b)
{
	if (b->busy || b->sent || b->pending > 0 || ex->closing) {
		return;
	}
	osc_batch_send(ex, b);
}

// osc_signal_of finds the signal in a message saying a sub pool "was
// killed by signal N" (0 if none).
static int osc_signal_of(const char *msg)
{
	const char *p = msg != NULL ? strstr(msg, "killed by signal ") : NULL;
	return (p != NULL ? atoi(p + strlen("killed by signal ")) : 0);
}

static void osc_exec_stored(oscar_actor_t *self, oscar_result_t *res, void *arg);

// osc_exec_push_front puts the tasks first..last (linked by next) at the
// head of ex's queue, in their order; nothing when first is NULL.
static void osc_exec_push_front(osc_exec_t *ex, osc_xtask_t *first, osc_xtask_t *last)
{
	if (first == NULL) {
		return;
	}
	last->next = ex->head;
	if (ex->head == NULL) {
		ex->tail = last;
	}
	ex->head = first;
}

// osc_batch_crashed: b's slot died. The slot told the results of the
// tasks before it as they came (ran), so the first task left is the one
// that ran: it fails once the slot is back, with how its process ended
// (so do tasks killed or cancelled). The others go back to the head of
// the queue, each to run alone: should the dying slot's last results
// have been lost on the way, the task that crashes it is still named
// exactly when it crashes alone.
static void osc_batch_crashed(osc_exec_t *ex, osc_xbatch_t *b)
{
	osc_xslot_t *s     = &ex->slots[b->slot];
	osc_xtask_t *first = NULL, *last = NULL;
	bool         blame = true;
	s->up              = false;
	for (size_t i = 0; i < b->n; i++) {
		osc_xtask_t *t = b->tasks[i];
		if (t == NULL) {
			continue;
		}
		osc_task_leave(ex, t);
		if (blame || t->killed || t->cancelled || t->alone) {
			blame      = false;
			t->next    = s->crashed;
			s->crashed = t;
			continue;
		}
		t->alone    = true;
		t->prepared = false;
		t->next     = NULL;
		if (t->blead != NULL) {
			// It takes the output of a task of the batch before it:
			// it waits behind that one again (which fails or runs
			// again, and takes it along).
			osc_xtask_t *l = t->blead, **pp = &l->followers;
			t->blead = NULL;
			t->lead  = l;
			while (*pp != NULL) {
				pp = &(*pp)->next;
			}
			*pp = t;
			continue;
		}
		if (last != NULL) {
			last->next = t;
		} else {
			first = t;
		}
		last = t;
		ex->queued++;
	}
	osc_exec_push_front(ex, first, last);
	osc_batch_end(ex, b);
	// Every task the slot held fails this way; one restart for all.
	if (!s->restarting) {
		s->restarting = true;
		osc_keeper_push(ex->keeper, OSC_KEEP_START, s->index);
	}
	osc_exec_schedule(ex);
}

// osc_value_small tells whether v would take at most *left bytes encoded
// (a bound, not the exact size), taking its size from *left.
static bool osc_value_small(const oscar_value_t *v, uint64_t *left, int depth)
{
	uint64_t n = 9;
	if (depth > OSCAR_VALUE_MAX_DEPTH) {
		return (false);
	}
	switch (v->type) {
	case OSCAR_STR:
	case OSCAR_BIN:
		n += v->as.str.len;
		break;
	case OSCAR_REF:
		n += v->as.ref.len + 9;
		break;
	default:
		break;
	}
	if (n > *left) {
		return (false);
	}
	*left -= n;
	if (v->type == OSCAR_ARRAY) {
		for (size_t i = 0; i < v->as.arr.len; i++) {
			if (!osc_value_small(&v->as.arr.items[i], left, depth + 1)) {
				return (false);
			}
		}
	} else if (v->type == OSCAR_MAP) {
		for (size_t i = 0; i < v->as.map.len; i++) {
			if (!osc_value_small(&v->as.map.kv[i].key, left, depth + 1) ||
			    !osc_value_small(&v->as.map.kv[i].val, left, depth + 1)) {
				return (false);
			}
		}
	}
	return (true);
}

// osc_keep_small keeps in t->inl copies of t's outputs (r, an array of
// n_output) when its manager wants them back and each is small
// (OSC_TM_INLINE_MAX). Out of memory, it keeps nothing: the outputs are
// then read from storage.
static void osc_keep_small(osc_xtask_t *t, const oscar_value_t *r)
{
	if (!t->want) {
		return;
	}
	for (size_t j = 0; j < oscar_value_len(r); j++) {
		uint64_t left = OSC_TM_INLINE_MAX;
		if (!osc_value_small(&r->as.arr.items[j], &left, 0)) {
			return;
		}
	}
	t->inl = oscar_value_copy(r);
}

// osc_result_parse checks r, the result of t from its slot, takes its run
// time and the sizes of the outputs the slot stored itself (t->pre); r's
// first n_output items are then its outputs (r is exactly those when the
// slot stored none). OSCAR_EPROTO when malformed, OSCAR_ENOMEM.
static int osc_result_parse(osc_xtask_t *t, oscar_value_t *r)
{
	size_t len = oscar_value_len(r);
	if (r->type != OSCAR_ARRAY || (len != t->n_output + 1 && len != t->n_output + 2) ||
	    oscar_value_get_uint(&r->as.arr.items[t->n_output], &t->run_us) != 0) {
		return (OSCAR_EPROTO);
	}
	if (len == t->n_output + 2) {
		const oscar_value_t *st = &r->as.arr.items[t->n_output + 1];
		if (st->type != OSCAR_ARRAY || oscar_value_len(st) == 0 ||
		    oscar_value_len(st) > t->n_output) {
			return (OSCAR_EPROTO);
		}
		uint64_t *pre = malloc(t->n_output * sizeof(uint64_t));
		if (pre == NULL) {
			return (OSCAR_ENOMEM);
		}
		for (unsigned k = 0; k < t->n_output; k++) {
			pre[k] = UINT64_MAX;
		}
		for (size_t i = 0; i < oscar_value_len(st); i++) {
			const oscar_value_t *e = oscar_value_at(st, i);
			uint64_t             k = UINT64_MAX, size = UINT64_MAX;
			if (oscar_value_len(e) != 2 ||
			    oscar_value_get_uint(oscar_value_at(e, 0), &k) != 0 ||
			    oscar_value_get_uint(oscar_value_at(e, 1), &size) != 0 ||
			    k >= t->n_output || size == UINT64_MAX || pre[k] != UINT64_MAX ||
			    r->as.arr.items[k].type != OSCAR_NIL) {
				free(pre);
				return (OSCAR_EPROTO);
			}
			pre[k] = size;
		}
		free(t->pre);
		t->pre = pre;
		// The run time and the list stay at the end, freed with r:
		// only the first n_output items are read.
		return (0);
	}
	r->as.arr.len--; // the run time, a uint: nothing to free
	return (0);
}

// osc_batch_results applies the results of b's tasks from index from on
// (an array, consumed): a function's failure fails its task; the outputs
// of the others are stored with one put, then reported. Those tasks leave
// the batch.
static void osc_batch_results(osc_exec_t *ex, osc_xbatch_t *b, size_t from, oscar_value_t *results)
{
	size_t         len   = oscar_value_len(results);
	osc_xstore_t  *store = calloc(1, sizeof(*store) + len * sizeof(osc_xtask_t *));
	oscar_value_t *items = oscar_value_new_array(len);
	bool           busy  = b->busy;
	b->busy              = true;
	for (size_t i = 0; i < len && from + i < b->n; i++) {
		osc_xtask_t   *t = b->tasks[from + i];
		oscar_value_t *r = &results->as.arr.items[i];
		if (t == NULL) {
			continue;
		}
		if (r->type == OSCAR_MAP) {
			// The function failed: its code and message, as osc_task_run
			// gave them (naming the task and the function).
			const char *msg = oscar_value_map_str(r, "message");
			osc_exec_fail(ex, t, (int) oscar_value_map_int(r, "code", OSCAR_EAPP), 0,
			    "%s", msg != NULL ? msg : "failed");
			continue;
		}
		// [output..., us] or [output..., us, [[k, size]...]]: its
		// outputs, its run time, and the outputs the slot handed to the
		// node's storage itself (nil among the outputs).
		int rv = osc_result_parse(t, r);
		if (rv != 0) {
			osc_exec_fail(ex, t, rv, 0,
			    "task %s (%s): its slot answered a malformed result", t->key, t->fn);
			continue;
		}
		// Its other outputs, each its own object, join the one put.
		if (t->pre == NULL) {
			osc_keep_small(t, r);
		}
		rv = store != NULL && items != NULL ? 0 : OSCAR_ENOMEM;
		for (unsigned j = 0; rv == 0 && j < t->n_output; j++) {
			if (t->pre != NULL && t->pre[j] != UINT64_MAX) {
				continue;
			}
			// [name, value], the value moved out of the result.
			char           name[OSCAR_TASK_KEY_MAX + 16];
			oscar_value_t *item = osc_vb_push_array(items, 2);
			osc_out_name(t, j, name, sizeof(name));
			rv = item != NULL ? osc_vb_push_str(item, name) : OSCAR_ENOMEM;
			rv = rv != 0 ? rv : osc_vb_push_move(item, &r->as.arr.items[j]);
			if (rv != 0 && item != NULL) {
				osc_vb_pop(items);
			}
		}
		if (rv != 0) {
			osc_exec_fail(ex, t, rv, 0, "task %s (%s): cannot store its outputs: %s",
			    t->key, t->fn, oscar_strerror(rv));
			continue;
		}
		// Its function returned; the task keeps its record until it is
		// stored and reported.
		osc_task_leave(ex, t);
		t->storing               = true;
		store->tasks[store->n++] = t;
	}
	b->busy = busy;
	oscar_value_free(results);
	const char *session = store != NULL && store->n > 0 ? store->tasks[0]->session : NULL;
	if (session == NULL) {
		free(store);
		oscar_value_free(items);
		return;
	}
	oscar_value_t *msg = NULL;
	int            rv  = 0;
	if (oscar_value_len(items) == 0) {
		// Every output is in the node's storage already (the slot handed
		// it over): no put, only the report, on the next turn (as a put's
		// answer would be).
		rv = oscar_actor_after(ex->self, 0, osc_exec_stored, store, NULL);
	} else {
		msg = oscar_value_new_map(2);
		rv  = msg != NULL ? 0 : OSCAR_ENOMEM;
		rv  = rv != 0 ? rv
		              : oscar_value_map_set(msg, "session", oscar_value_new_str(session));
	}
	if (rv == 0 && msg != NULL) {
		rv    = oscar_value_map_set(msg, "items", items);
		items = NULL;
	}
	if (rv == 0 && msg != NULL) {
		rv  = oscar_actor_call(ex->self, &ex->storage, "put", msg, OSC_EXEC_CALL_TIMEOUT_MS,
		     osc_exec_stored, store, NULL);
		msg = NULL;
	}
	oscar_value_free(items);
	oscar_value_free(msg);
	if (rv != 0) {
		for (size_t i = 0; i < store->n; i++) {
			osc_xtask_t *t = store->tasks[i];
			osc_xtask_t *d = t->deferred;
			t->deferred    = NULL;
			t->storing     = false;
			osc_exec_fail(ex, t, rv, 0, "task %s (%s): cannot store its outputs: %s",
			    t->key, t->fn, oscar_strerror(rv));
			osc_exec_deferred(ex, d);
		}
		free(store);
	}
}

static void osc_exec_results_lost(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_xbatch_t *b  = arg;
	osc_exec_t   *ex = oscar_actor_state(self);
	if (res->code != 0) {
		return; // the results came, or the executor is going
	}
	b->timer = 0;
	b->busy  = true;
	for (size_t i = 0; i < b->n; i++) {
		osc_xtask_t *t = b->tasks[i];
		if (t != NULL) {
			osc_exec_fail(ex, t, OSCAR_EPROTO, 0,
			    "task %s (%s): its slot answered, but its result never came", t->key,
			    t->fn);
		}
	}
	osc_batch_end(ex, b);
	osc_exec_schedule(ex);
}

// osc_batch_due_before tells whether a task of b before index from still
// waits for its result (told in a ran message that has not been read).
static bool osc_batch_due_before(const osc_xbatch_t *b, size_t from)
{
	for (size_t i = 0; i < from && i < b->n; i++) {
		if (b->tasks[i] != NULL) {
			return (true);
		}
	}
	return (false);
}

// osc_exec_ran is the run's answer: the results of the tasks the slot
// had not told already (ran), the last ones of the batch.
static void osc_exec_ran(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_xbatch_t *b  = arg;
	osc_exec_t   *ex = oscar_actor_state(self);
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		for (size_t i = 0; i < b->n; i++) {
			if (b->tasks[i] != NULL) {
				osc_exec_drop(ex, b->tasks[i]);
			}
		}
		osc_batch_end(ex, b);
		return;
	}
	if (res->code == OSCAR_EPEERGONE) {
		osc_batch_crashed(ex, b);
		return;
	}
	size_t len = res->code == 0 && res->value != NULL && res->value->type == OSCAR_ARRAY
	                 ? oscar_value_len(res->value)
	                 : SIZE_MAX;
	if (len <= b->n) {
		oscar_value_t *results = res->value;
		res->value             = NULL;
		if (osc_batch_due_before(b, b->n - len)) {
			b->stash      = results;
			b->stash_from = b->n - len;
		} else {
			osc_batch_results(ex, b, b->n - len, results);
		}
		if (b->live > 0) {
			// The slot told the results before these in ran messages,
			// which came first but wait in the mailbox while this
			// callback runs: they follow. The slot is free already.
			b->answered = true;
			ex->slots[b->slot].held--;
			if (oscar_actor_after(self, OSC_EXEC_RESULTS_TIMEOUT_MS,
			        osc_exec_results_lost, b, &b->timer) == 0) {
				osc_exec_schedule(ex);
				return;
			}
		}
	}
	// What is left had no result: the call failed, or the slot answered
	// a malformed reply.
	b->busy = true;
	for (size_t i = 0; i < b->n; i++) {
		osc_xtask_t *t = b->tasks[i];
		if (t == NULL) {
			continue;
		}
		if (res->code != 0) {
			osc_exec_fail(ex, t, res->code, 0, "task %s (%s): its slot failed: %s",
			    t->key, t->fn, osc_res_message(res));
		} else {
			osc_exec_fail(ex, t, OSCAR_EPROTO, 0,
			    "task %s (%s): its slot answered a malformed result", t->key, t->fn);
		}
	}
	osc_batch_end(ex, b);
	osc_exec_schedule(ex);
}

// osc_exec_unblock puts the tasks waiting behind t, which stored its
// outputs, at the head of the queue, in order: their input is here.
static void osc_exec_unblock(osc_exec_t *ex, osc_xtask_t *t)
{
	osc_xtask_t *first = t->followers, *last = NULL;
	t->followers = NULL;
	for (osc_xtask_t *f = first; f != NULL; f = f->next) {
		f->lead = NULL;
		last    = f;
		ex->queued++;
	}
	osc_exec_push_front(ex, first, last);
}

// osc_exec_stored: a batch's outputs are stored; meta learns where (in
// this turn's add_location), then the manager that they finished.
static void osc_exec_stored(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_xstore_t *store = arg;
	osc_exec_t   *ex    = oscar_actor_state(self);
	size_t        want  = 0;
	for (size_t i = 0; i < store->n; i++) {
		const osc_xtask_t *t = store->tasks[i];
		for (unsigned j = 0; j < t->n_output; j++) {
			want += t->pre == NULL || t->pre[j] == UINT64_MAX;
		}
	}
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		for (size_t i = 0; i < store->n; i++) {
			osc_xtask_free(store->tasks[i]);
		}
		free(store);
		return;
	}
	// With nothing to put (every output handed over by the slot), no put
	// was made: this is a timer's call, with nil.
	bool bad =
	    res->code != 0 || (want > 0 && (res->value == NULL || res->value->type != OSCAR_ARRAY ||
	                                       oscar_value_len(res->value) != want));
	size_t at = 0;
	for (size_t i = 0; i < store->n; i++) {
		osc_xtask_t *t = store->tasks[i];
		// The failures that waited for this task's report follow it.
		osc_xtask_t *deferred = t->deferred;
		t->deferred           = NULL;
		t->storing            = false;
		if (bad) {
			osc_exec_fail(ex, t, res->code != 0 ? res->code : OSCAR_EPROTO, 0,
			    "task %s (%s): cannot store its outputs: %s", t->key, t->fn,
			    res->code != 0 ? osc_res_message(res)
			                   : "storage answered put with a malformed reply");
			osc_exec_deferred(ex, deferred);
			continue;
		}
		oscar_value_t *sizes = oscar_value_new_array(t->n_output);
		oscar_value_t *locs  = osc_exec_list(&ex->locs, t->session);
		int            rv    = sizes != NULL && locs != NULL ? 0 : OSCAR_ENOMEM;
		for (unsigned j = 0; rv == 0 && j < t->n_output; j++) {
			// [name, address, size], for meta.
			char     name[OSCAR_TASK_KEY_MAX + 16];
			uint64_t size;
			if (t->pre != NULL && t->pre[j] != UINT64_MAX) {
				size = t->pre[j];
			} else {
				size = oscar_value_at_uint(res->value, at++, 0);
			}
			oscar_value_t *loc = osc_vb_push_array(locs, 3);
			osc_out_name(t, j, name, sizeof(name));
			rv = loc != NULL ? osc_vb_push_str(loc, name) : OSCAR_ENOMEM;
			rv = rv != 0 ? rv : osc_vb_push_str(loc, oscar_node_address(ex->node));
			rv = rv != 0 ? rv : osc_vb_push_uint(loc, size);
			rv = rv != 0 ? rv : osc_vb_push_uint(sizes, size);
			if (rv != 0 && loc != NULL) {
				osc_vb_pop(locs);
			}
		}
		if (rv != 0) {
			oscar_value_free(sizes);
			osc_exec_fail(ex, t, rv, 0,
			    "task %s (%s): cannot tell meta where its outputs are: %s", t->key,
			    t->fn, oscar_strerror(rv));
			osc_exec_deferred(ex, deferred);
			continue;
		}
		// Small outputs its manager wants go with the report.
		oscar_value_t *inl = t->inl;
		t->inl             = NULL;
		for (unsigned j = 0; inl != NULL && j < t->n_output; j++) {
			if (oscar_value_at_uint(sizes, j, UINT64_MAX) > OSC_TM_INLINE_MAX) {
				oscar_value_free(inl);
				inl = NULL;
			}
		}
		osc_exec_report_values(ex, t, "finished", sizes, 0, 0, NULL, inl, &t->run_us);
		osc_exec_unblock(ex, t);
		osc_xtask_free(t);
		osc_exec_deferred(ex, deferred);
	}
	free(store);
	osc_exec_arm(ex);
	osc_exec_schedule(ex);
}

// osc_exec_batch_size: how many tasks a free slot takes at once. Half of
// what is queued for each free slot (so that the other half runs while
// the first half's results travel and the manager refills the queue),
// at least 1, at most OSC_EXEC_BATCH_MAX.
static size_t osc_exec_batch_size(const osc_exec_t *ex, unsigned free_slots)
{
	size_t n = (ex->queued + 2 * (size_t) free_slots - 1) / (2 * (size_t) free_slots);
	return (n < 1 ? 1 : n > OSC_EXEC_BATCH_MAX ? OSC_EXEC_BATCH_MAX : n);
}

// osc_batch_add puts t in b (held by slot b->slot), behind blead (a task
// of b whose output it takes) or NULL.
static void osc_batch_add(osc_exec_t *ex, osc_xbatch_t *b, osc_xtask_t *t, osc_xtask_t *blead)
{
	t->slot  = (int) b->slot;
	t->batch = b;
	t->bidx  = b->n;
	t->blead = blead;
	t->aprev = NULL;
	t->anext = ex->active;
	if (ex->active != NULL) {
		ex->active->aprev = t;
	}
	ex->active       = t;
	b->tasks[b->n++] = t;
	b->live++;
	b->pending++;
}

// osc_exec_schedule gives queued tasks to free slots, in batches.
static void osc_exec_schedule(osc_exec_t *ex)
{
	if (ex->scheduling) {
		ex->again = true;
		return;
	}
	ex->scheduling = true;
	do {
		ex->again           = false;
		unsigned free_slots = 0;
		for (unsigned i = 0; i < ex->n_slots; i++) {
			osc_xslot_t *s = &ex->slots[i];
			free_slots += s->up && s->held < 1 + s->lent ? 1 : 0;
		}
		for (unsigned i = 0; i < ex->n_slots && ex->head != NULL && !ex->closing; i++) {
			osc_xslot_t *s = &ex->slots[i];
			if (!s->up || s->held >= 1 + s->lent) {
				continue;
			}
			// The queued tasks it takes are bounded by max; the chains
			// waiting behind them come along up to OSC_EXEC_BATCH_MAX
			// in all.
			size_t max = ex->head->alone ? 1 : osc_exec_batch_size(ex, free_slots);
			osc_xbatch_t *b =
			    calloc(1, sizeof(*b) + OSC_EXEC_BATCH_MAX * sizeof(osc_xtask_t *));
			if (b == NULL) {
				break; // out of memory: later events schedule again
			}
			free_slots--;
			b->id   = ++ex->next_batch;
			b->slot = i;
			b->busy = true;
			b->next = ex->batches;
			if (ex->batches != NULL) {
				ex->batches->prev = b;
			}
			ex->batches = b;
			s->held++;
			const char *sid = ex->head->session;
			while (b->n < max && ex->head != NULL &&
			       strcmp(ex->head->session, sid) == 0 &&
			       (b->n == 0 || !ex->head->alone)) {
				osc_xtask_t *t = ex->head;
				ex->head       = t->next;
				if (ex->head == NULL) {
					ex->tail = NULL;
				}
				ex->queued--;
				t->next = NULL;
				osc_batch_add(ex, b, t, NULL);
				// The chain waiting behind it comes along, unless it
				// must run alone: the slot runs each link as soon as
				// the one before it returns.
				for (size_t j = b->n - 1;
				     j < b->n && b->n < OSC_EXEC_BATCH_MAX && !t->alone; j++) {
					osc_xtask_t *x = b->tasks[j];
					while (x->followers != NULL && b->n < OSC_EXEC_BATCH_MAX) {
						osc_xtask_t *f = x->followers;
						x->followers   = f->next;
						f->next        = NULL;
						f->lead        = NULL;
						osc_batch_add(ex, b, f, x);
					}
				}
			}
			for (size_t j = 0; j < b->n; j++) {
				if (b->tasks[j] != NULL) {
					osc_exec_prepare(ex, b->tasks[j]);
				}
			}
			b->busy = false;
			osc_batch_ready(ex, b);
		}
	} while (ex->again && !ex->closing);
	ex->scheduling = false;
}

// ---------------------------------------------------------------------------
// Methods

static int osc_exec_run_tasks(
    osc_exec_t *ex, oscar_req_t *req, const char *sid, oscar_value_t *tasks);

// run: the tasks are queued, their arguments moved out of the message
// (taken from the request) rather than copied.
static int osc_exec_m_run(oscar_actor_t *self, oscar_req_t *req)
{
	osc_exec_t *ex = oscar_actor_state(self);
	// The request's arguments are ours: each task's args are moved out.
	oscar_value_t *a     = oscar_req_take_args(req);
	const char    *sid   = oscar_value_map_str(a, "session");
	oscar_value_t *tasks = (oscar_value_t *) oscar_value_map_get(a, "tasks");
	int            rv    = osc_exec_run_tasks(ex, req, sid, tasks);
	oscar_value_free(a);
	return (rv);
}

static int osc_exec_run_tasks(
    osc_exec_t *ex, oscar_req_t *req, const char *sid, oscar_value_t *tasks)
{
	if (sid == NULL || strlen(sid) >= OSCAR_UID_MAX || tasks == NULL ||
	    tasks->type != OSCAR_ARRAY) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "run needs a session and tasks"));
	}
	// The manager gives a worker at most its slots and [task] queue; a
	// peer that sends more is refused rather than let the queue grow.
	if (ex->queued + oscar_value_len(tasks) > OSC_EXEC_QUEUE_MAX) {
		return (oscar_req_fail(req, OSCAR_ENOSPACE,
		    "worker %s holds %zu queued tasks already (at most %d)",
		    oscar_node_address(ex->node), ex->queued, OSC_EXEC_QUEUE_MAX));
	}
	for (size_t i = 0; i < oscar_value_len(tasks); i++) {
		const oscar_value_t *item = oscar_value_at(tasks, i);
		const char          *key, *fn;
		size_t               klen, flen;
		uint64_t             nout = oscar_value_at_uint(item, 3, 0);
		if (oscar_value_get_str(oscar_value_at(item, 0), &key, &klen) != 0 ||
		    oscar_value_get_str(oscar_value_at(item, 1), &fn, &flen) != 0 ||
		    klen >= OSCAR_TASK_KEY_MAX || flen >= OSCAR_NAME_MAX || nout == 0 ||
		    nout > OSCAR_TASK_OUTPUT_MAX) {
			oscar_log(OSCAR_LOG_WARN, "task",
			    "a malformed task in a run message: passed over");
			continue;
		}
		osc_xtask_t *t = calloc(1, sizeof(*t));
		if (t == NULL) {
			return (OSCAR_ENOMEM);
		}
		snprintf(t->session, sizeof(t->session), "%s", sid);
		memcpy(t->key, key, klen);
		memcpy(t->fn, fn, flen);
		t->n_output         = (unsigned) nout;
		t->slot             = -1;
		t->ex               = ex;
		oscar_value_t *args = (oscar_value_t *) oscar_value_at(item, 2);
		t->args = args != NULL ? osc_exec_steal(args) : oscar_value_new_array(0);
		if (t->args == NULL) {
			free(t);
			return (OSCAR_ENOMEM);
		}
		const oscar_value_t *want = oscar_value_at(item, 5);
		t->want                   = want != NULL && want->type == OSCAR_BOOL && want->as.b;
		char         name[OSCAR_UID_MAX + OSCAR_TASK_KEY_MAX + 2];
		const char  *after = oscar_value_at_str(item, 4);
		osc_xtask_t *lead  = NULL;
		if (after != NULL && strlen(after) < sizeof(t->after)) {
			snprintf(t->after, sizeof(t->after), "%s", after);
			osc_live_name(sid, after, name, sizeof(name));
			lead = osc_strmap_get(&ex->live, name);
		}
		osc_live_name(sid, t->key, name, sizeof(name));
		if (osc_strmap_get(&ex->live, name) == NULL &&
		    osc_strmap_put(&ex->live, name, t, NULL) == 0) {
			t->in_live = true;
		}
		if (lead != NULL) {
			// It runs ahead behind a task held here: it waits for it
			// (and goes along in its batch if that is not sent yet).
			osc_xtask_t **pp = &lead->followers;
			while (*pp != NULL) {
				pp = &(*pp)->next;
			}
			*pp     = t;
			t->lead = lead;
			continue;
		}
		// Not here (any more): its input is stored here, or its
		// producer failed, which reading its inputs tells.
		if (ex->tail != NULL) {
			ex->tail->next = t;
		} else {
			ex->head = t;
		}
		ex->tail = t;
		ex->queued++;
	}
	osc_exec_schedule(ex);
	return (0);
}

// ran {batch, from, results}: results of a batch's tasks from index from
// on, told by its slot while the rest of the batch runs.
static int osc_exec_m_ran(oscar_actor_t *self, oscar_req_t *req)
{
	osc_exec_t    *ex      = oscar_actor_state(self);
	oscar_value_t *a       = oscar_req_take_args(req);
	uint64_t       id      = oscar_value_map_uint(a, "batch", 0);
	uint64_t       from    = oscar_value_map_uint(a, "from", UINT64_MAX);
	oscar_value_t *results = (oscar_value_t *) oscar_value_map_get(a, "results");
	osc_xbatch_t  *b       = ex->batches;
	while (b != NULL && (b->id != id || !b->sent)) {
		b = b->next;
	}
	// A batch whose slot died meanwhile is gone: its tasks are taken
	// care of.
	if (b == NULL || results == NULL || results->type != OSCAR_ARRAY || from > b->n ||
	    oscar_value_len(results) > b->n - from) {
		oscar_value_free(a);
		return (0);
	}
	oscar_value_t *mine = osc_exec_steal(results);
	oscar_value_free(a);
	if (mine == NULL) {
		return (OSCAR_ENOMEM);
	}
	osc_batch_results(ex, b, (size_t) from, mine);
	if (b->stash != NULL && !osc_batch_due_before(b, b->stash_from)) {
		oscar_value_t *answer = b->stash;
		b->stash              = NULL;
		osc_batch_results(ex, b, b->stash_from, answer);
	}
	if (b->answered && b->live == 0) {
		osc_batch_end(ex, b);
	}
	osc_exec_schedule(ex);
	return (0);
}

static void osc_exec_kill(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_xtask_t *t = arg;
	if (res->code != 0) {
		return; // the task ended first
	}
	osc_exec_t *ex = oscar_actor_state(self);
	t->kill_timer  = 0;
	if (t->batch != NULL && t->batch->sent && !t->batch->answered) {
		oscar_log(OSCAR_LOG_WARN, "task",
		    "task %s (%s) ignores its cancel: killing slot %u", t->key, t->fn,
		    ex->slots[t->slot].index);
		t->killed = true;
		osc_keeper_push(ex->keeper, OSC_KEEP_KILL, ex->slots[t->slot].index);
	}
}

static int osc_exec_m_cancel(oscar_actor_t *self, oscar_req_t *req)
{
	osc_exec_t          *ex   = oscar_actor_state(self);
	const oscar_value_t *a    = oscar_req_args(req);
	const char          *sid  = oscar_value_map_str(a, "session");
	const oscar_value_t *keys = oscar_value_map_get(a, "keys");
	if (sid == NULL) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "cancel needs a session and keys"));
	}
	for (size_t i = 0; i < oscar_value_len(keys); i++) {
		const char *key;
		size_t      len;
		if (oscar_value_get_str(oscar_value_at(keys, i), &key, &len) != 0) {
			continue;
		}
		// Queued: dropped.
		for (osc_xtask_t **pp = &ex->head; *pp != NULL; pp = &(*pp)->next) {
			osc_xtask_t *t = *pp;
			if (strcmp(t->key, key) != 0 || strcmp(t->session, sid) != 0) {
				continue;
			}
			*pp = t->next;
			if (ex->tail == t) {
				ex->tail = NULL;
				for (osc_xtask_t *x = ex->head; x != NULL; x = x->next) {
					ex->tail = x;
				}
			}
			ex->queued--;
			t->cancelled = true;
			osc_exec_report(
			    ex, t, "errored", NULL, OSCAR_ECANCELED, 0, "cancelled before it ran");
			osc_exec_cascade(ex, t);
			osc_xtask_free(t);
			break;
		}
		// Waiting behind the task it runs ahead of: dropped.
		char name[OSCAR_UID_MAX + OSCAR_TASK_KEY_MAX + 2];
		osc_live_name(sid, key, name, sizeof(name));
		osc_xtask_t *w = osc_strmap_get(&ex->live, name);
		if (w != NULL && w->lead != NULL) {
			osc_xtask_t **pp = &w->lead->followers;
			while (*pp != NULL && *pp != w) {
				pp = &(*pp)->next;
			}
			if (*pp == w) {
				*pp = w->next;
			}
			w->next      = NULL;
			w->lead      = NULL;
			w->cancelled = true;
			osc_exec_report(
			    ex, w, "errored", NULL, OSCAR_ECANCELED, 0, "cancelled before it ran");
			osc_exec_cascade(ex, w);
			osc_xtask_free(w);
		}
		// Held by a slot: its flag, then the kill timer.
		for (osc_xtask_t *t = ex->active; t != NULL; t = t->anext) {
			if (t->cancelled || strcmp(t->key, key) != 0 ||
			    strcmp(t->session, sid) != 0) {
				continue;
			}
			t->cancelled = true;
			if (!t->batch->sent) {
				continue; // it leaves its batch before the batch is sent
			}
			oscar_actor_tell(self, &ex->slots[t->slot].ref,
			    osc_slot_name(OSC_SLOT_CANCEL), oscar_value_new_str(t->key));
			oscar_actor_after(
			    self, ex->cfg.kill_timeout_ms, osc_exec_kill, t, &t->kill_timer);
		}
	}
	return (0);
}

// osc_exec_active finds the task of session sid called key holding a slot.
static osc_xtask_t *osc_exec_active(osc_exec_t *ex, const oscar_value_t *args)
{
	const char *sid = oscar_value_map_str(args, "session");
	const char *key = oscar_value_map_str(args, "key");
	for (osc_xtask_t *t = ex->active; sid != NULL && key != NULL && t != NULL; t = t->anext) {
		if (strcmp(t->key, key) == 0 && strcmp(t->session, sid) == 0) {
			return (t);
		}
	}
	return (NULL);
}

// lend: a task waits for work it submitted; its slot takes another task
// meanwhile (at most OSC_SLOT_RUNS_MAX at once).
static int osc_exec_m_lend(oscar_actor_t *self, oscar_req_t *req)
{
	osc_exec_t  *ex = oscar_actor_state(self);
	osc_xtask_t *t  = osc_exec_active(ex, oscar_req_args(req));
	if (t != NULL && t->batch->sent && !t->waiting &&
	    ex->slots[t->slot].held < OSC_SLOT_RUNS_MAX) {
		t->waiting = true;
		ex->slots[t->slot].lent++;
		// The manager counts the slot free too, so that it sends the
		// nested work here if it must.
		osc_exec_report(ex, t, "waiting", NULL, 0, 0, NULL);
		osc_exec_schedule(ex);
	}
	return (0);
}

// unlend: it waits no more.
static int osc_exec_m_unlend(oscar_actor_t *self, oscar_req_t *req)
{
	osc_exec_t  *ex = oscar_actor_state(self);
	osc_xtask_t *t  = osc_exec_active(ex, oscar_req_args(req));
	if (t != NULL && t->waiting) {
		t->waiting = false;
		ex->slots[t->slot].lent--;
		osc_exec_report(ex, t, "resumed", NULL, 0, 0, NULL);
	}
	return (0);
}

static int osc_exec_m_slot_up(oscar_actor_t *self, oscar_req_t *req)
{
	osc_exec_t          *ex    = oscar_actor_state(self);
	const oscar_value_t *a     = oscar_req_args(req);
	uint64_t             index = oscar_value_map_uint(a, "index", UINT64_MAX);
	const char          *addr  = oscar_value_map_str(a, "address");
	const char          *how   = oscar_value_map_str(a, "last_exit");
	for (unsigned i = 0; addr != NULL && i < ex->n_slots; i++) {
		osc_xslot_t *s = &ex->slots[i];
		if (s->index != index) {
			continue;
		}
		s->up         = addr[0] != '\0' && oscar_ref_make(&s->ref, addr, OSC_SLOT_UID) == 0;
		s->restarting = false;
		int sig       = osc_signal_of(how);
		how           = how != NULL && how[0] != '\0' ? how : "ended";
		while (s->crashed != NULL) {
			osc_xtask_t *t = s->crashed;
			s->crashed     = t->next;
			t->next        = NULL;
			if (t->killed) {
				osc_exec_fail(ex, t, OSCAR_ECANCELED, sig,
				    "task %s (%s) was cancelled and did not stop within "
				    "task.kill_timeout: its slot %u was killed",
				    t->key, t->fn, s->index);
			} else {
				osc_exec_fail(ex, t, OSCAR_ESYSTEM, sig,
				    "task %s (%s) crashed its slot %u on worker %s: the slot's "
				    "process %s",
				    t->key, t->fn, s->index, oscar_node_address(ex->node), how);
			}
		}
	}
	osc_exec_schedule(ex);
	return (0);
}

// ---------------------------------------------------------------------------
// The class and the keeper's life

static int osc_exec_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_exec_t *ex = oscar_actor_state(self);
	uint64_t    k  = 0;
	// Only the task service creates this class (it is offered to no
	// one by name), handing over its keeper.
	if (oscar_value_get_uint(args, &k) != 0 || k == 0) {
		return (OSCAR_EINVAL);
	}
	ex->keeper = (osc_keeper_t *) (uintptr_t) k;
	ex->self   = self;
	ex->node   = oscar_node_of_actor(self);
	if (ex->node == NULL || oscar_node_role(ex->node) != OSCAR_ROLE_WORKER) {
		return (OSCAR_ESTATE);
	}
	int rv = osc_task_settings(oscar_node_settings(ex->node), &ex->cfg, NULL);
	if (rv != 0 || (rv = oscar_ref_make(&ex->storage, NULL, "oscar.storage")) != 0) {
		return (rv);
	}
	ex->n_slots = osc_node_facts(ex->node)->sub_pools;
	if (ex->n_slots > 0 && (ex->slots = calloc(ex->n_slots, sizeof(*ex->slots))) == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (unsigned i = 0; i < ex->n_slots; i++) {
		ex->slots[i].index = i;
	}
	return (0);
}

static void osc_exec_destroy(oscar_actor_t *self)
{
	osc_exec_t *ex = oscar_actor_state(self);
	ex->closing    = true;
	// Tasks held by calls in flight were freed by those calls' callbacks
	// (OSCAR_ECANCELED), which ran before this hook; the queued ones, and
	// those of batches still being prepared, here.
	while (ex->head != NULL) {
		osc_xtask_t *t = ex->head;
		ex->head       = t->next;
		osc_xtask_free(t);
	}
	while (ex->batches != NULL) {
		osc_xbatch_t *b = ex->batches;
		for (size_t i = 0; i < b->n; i++) {
			if (b->tasks[i] != NULL) {
				osc_exec_drop(ex, b->tasks[i]);
			}
		}
		osc_batch_end(ex, b);
	}
	for (unsigned i = 0; i < ex->n_slots; i++) {
		while (ex->slots[i].crashed != NULL) {
			osc_xtask_t *t       = ex->slots[i].crashed;
			ex->slots[i].crashed = t->next;
			osc_xtask_free(t);
		}
	}
	free(ex->slots);
	oscar_value_free(ex->reports);
	oscar_value_free(ex->locs);
	osc_strmap_fini(&ex->live, NULL);
}

OSC_METHOD_TABLES(OSC_EXECUTOR_METHODS, osc_executor_methods, OSC_TEXE_N, osc_exec_methods);

const oscar_actor_class_t osc_executor_class = {
	.name       = "oscar.task.executor",
	.state_size = sizeof(osc_exec_t),
	.create     = osc_exec_create,
	.destroy    = osc_exec_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_exec_methods,
};

int osc_keeper_start(oscar_node_t *node, osc_keeper_t **kp, oscar_error_t *err)
{
	osc_keeper_t *k = calloc(1, sizeof(*k));
	*kp             = NULL;
	if (k == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	k->node = node;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	int rv = oscar_create(oscar_node_pool(node), &osc_executor_class, OSC_EXECUTOR_UID,
	    oscar_value_new_uint((uint64_t) (uintptr_t) k), 5000, &k->executor, err);
	if (rv != 0) {
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->cv);
		free(k);
		return (rv);
	}
	if (pthread_create(&k->thread, NULL, osc_keeper_main, k) != 0) {
		oscar_destroy(oscar_node_pool(node), &k->executor, 5000, NULL);
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->cv);
		free(k);
		return (
		    oscar_error_set(err, OSCAR_ESYSTEM, "cannot start the slot keeper's thread"));
	}
	unsigned n = osc_node_facts(node)->sub_pools;
	for (unsigned i = 0; i < n; i++) {
		osc_keeper_push(k, OSC_KEEP_START, i);
	}
	*kp = k;
	return (0);
}

void osc_keeper_stop(osc_keeper_t **kp)
{
	osc_keeper_t *k = *kp;
	if (k == NULL) {
		return;
	}
	*kp = NULL;
	// The executor goes first: it pushes its kills and restarts to k.
	oscar_destroy(oscar_node_pool(k->node), &k->executor, 5000, NULL);
	pthread_mutex_lock(&k->mu);
	k->stop = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	while (k->head != NULL) {
		osc_keep_job_t *j = k->head;
		k->head           = j->next;
		free(j);
	}
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k);
}
