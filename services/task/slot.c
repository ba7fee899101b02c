// The slot runner: the actor in each of a worker's sub pools that runs
// its tasks (class "oscar.task.slot", uid "oscar.slot").
//
// A sub pool is the worker's own program with the same modules loaded,
// so its registry (osc_subpool_registry) holds the node's task
// functions. A run message is a batch of tasks of one session, which run
// one after the other on a thread of the run's own, so that the sub
// pool's loop stays free to take a cancel message, which sets a task's
// cancelled flag from that loop while its function runs. A reference in
// a task's arguments to an output of a task before it in the batch is
// resolved here, from that task's result (a chain run ahead). The thread
// posts "done" after each function but the last: the actor tells the
// executor the results so far (ran), so that it stores them at once and
// knows which task ran should the process die; once the thread ended,
// the actor answers the run with the rest. A function that crashes takes
// the whole sub pool with it: the executor sees its call fail with
// OSCAR_EPEERGONE and the exit signal, and the sub pool is recovered.
//
// A slot runs one batch at a time, except while a task waits for work
// it submitted (nested submission, oscar_task_wait): the executor then
// counts the slot as free and may give it another batch, which runs on
// another thread beside the waiting one. OSC_SLOT_RUNS_MAX bounds how
// many runs a slot holds at once, and so how deep nesting goes.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/codec.h"
#include "oscar/storage.h"
#include "services/task/task_int.h"
#include "services/vbuild.h"

// How long a read or a hand-over through the node's storage may take.
#define OSC_SLOT_STORAGE_MS 60000
// Bins of this size or more in a result are shared, not copied, by the
// copies its run makes (a ran message, a task after it in the batch).
#define OSC_SLOT_SHARE_MIN 65536

// osc_item_t is one task of a run: its strings and arguments borrowed
// from the run's arguments (which the run took from its request), its
// context, and what the function gave.
typedef struct osc_item {
	const char      *key;
	const char      *fn;
	oscar_value_t   *args;
	unsigned         n_output;
	oscar_task_ctx_t ctx;
	oscar_value_t   *result;
	int              rv;
	oscar_error_t    err;
	uint64_t         us; // how long its function ran, in microseconds
	// stored[k]: the size of output k, handed to the node's storage
	// through shared memory (its value then stays out of the answer), or
	// UINT64_MAX; NULL when none was.
	uint64_t *stored;
	// mapped: an input of it was read from the node's storage (mapped):
	// its arguments are freed as soon as its function returns.
	bool mapped;
} osc_item_t;

// osc_run_t is one run message: a batch of tasks of one session that the
// slot runs one after the other on a thread of its own.
typedef struct osc_run {
	struct osc_slot  *slot;
	unsigned          index; // in the slot's runs
	pthread_t         thread;
	oscar_req_t      *req;
	oscar_value_t    *margs; // the request's arguments, taken
	char              session[OSCAR_UID_MAX];
	osc_task_nested_t nested;
	uint64_t          batch; // the executor's number for the run
	// node: the worker's address, whose storage the run reads inputs
	// from and hands large outputs to (shm: from this size on; 0: never)
	char        node[OSCAR_ADDR_MAX];
	uint64_t    shm;
	bool        has_exec; // exec names the executor, told of results early
	oscar_ref_t exec;
	size_t      sent; // results handed out (the loop's)
	// Between the thread and the loop. Sequentially consistent: the
	// thread stores finished (or ended) and then swaps posted; the loop
	// clears posted and then loads them, so that a result is never left
	// without a "done" to hand it out.
	atomic_size_t finished; // items whose function returned
	atomic_bool   ended;    // the thread is done with every item
	atomic_bool   posted;   // a "done" is on its way
	size_t        n;
	osc_item_t    items[];
} osc_run_t;

typedef struct osc_slot {
	const oscar_taskfns_t *fns;
	oscar_pool_t          *pool;
	oscar_ref_t            ref;
	osc_run_t             *runs[OSC_SLOT_RUNS_MAX];
	// The link to the node's storage (shared memory), opened at the first
	// need; runs' threads take turns on it.
	pthread_mutex_t        link_mu;
	oscar_storage_local_t *link;
} osc_slot_t;

static void osc_run_free(osc_run_t *r)
{
	for (size_t i = 0; i < r->n; i++) {
		oscar_value_free(r->items[i].result);
		free(r->items[i].stored);
	}
	oscar_value_free(r->margs);
	free(r);
}

// osc_out_name_of names output k of item it: its key for a task with
// one output, "key#k" otherwise.
static void osc_out_name_of(const osc_item_t *it, unsigned k, char *buf, size_t size)
{
	if (it->n_output == 1) {
		snprintf(buf, size, "%s", it->key);
	} else {
		snprintf(buf, size, "%s#%u", it->key, k);
	}
}

// osc_local_t resolves the references of item j to outputs of the items
// before it in the same run (a chain run ahead in one batch).
typedef struct osc_local {
	osc_run_t    *run;
	size_t        j;
	size_t        failed; // the item whose failure the reference met, or SIZE_MAX
	oscar_error_t err;    // why an object could not be read from the node's storage
} osc_local_t;

// osc_slot_link_locked gives the slot's link to the node's storage,
// opened if need be (with link_mu held); NULL, with err set, when the
// node's storage cannot be reached through it.
static oscar_storage_local_t *osc_slot_link_locked(osc_run_t *r, oscar_error_t *err)
{
	osc_slot_t *st = r->slot;
	if (st->link == NULL) {
		oscar_storage_local_open(&st->link, r->node, err);
	}
	return (st->link);
}

// osc_slot_link_failed drops the link after a failure that may have left
// it unusable (the node's storage gone, a reply never read), so that the
// next use opens a new one (with link_mu held).
static void osc_slot_link_failed(osc_slot_t *st, int rv)
{
	if (rv == OSCAR_EPEERGONE || rv == OSCAR_ETIMEDOUT || rv == OSCAR_ESYSTEM ||
	    rv == OSCAR_EPROTO) {
		oscar_storage_local_close(&st->link);
	}
}

// osc_slot_read reads the object name of the run's session from the
// node's storage: mapped through the link, without a copy for a bin;
// should the link fail, by a storage get, through messages.
static int osc_slot_read(osc_run_t *r, const char *name, oscar_value_t **out, oscar_error_t *err)
{
	osc_slot_t   *st = r->slot;
	oscar_error_t lerr;
	int           rv;
	memset(&lerr, 0, sizeof(lerr));
	pthread_mutex_lock(&st->link_mu);
	oscar_storage_local_t *l = osc_slot_link_locked(r, &lerr);
	rv                       = l != NULL
	                               ? oscar_storage_local_get(l, r->session, name, out, OSC_SLOT_STORAGE_MS, &lerr)
	                               : OSCAR_ECONNREFUSED;
	if (rv != 0) {
		osc_slot_link_failed(st, rv);
	}
	pthread_mutex_unlock(&st->link_mu);
	if (rv == 0 || rv == OSCAR_ENOENT || rv == OSCAR_ENOMEM) {
		if (rv != 0) {
			oscar_error_set(err, rv, "%s", lerr.message);
		}
		return (rv);
	}
	// The link is down or refused the read: the message path.
	oscar_value_t *got  = NULL;
	const char    *k[1] = { name };
	rv                  = oscar_storage_get(
	                     st->pool, r->node, r->session, 1, k, NULL, 0, &got, OSC_SLOT_STORAGE_MS, err);
	if (rv == 0) {
		oscar_value_t *v = oscar_value_copy(oscar_value_at(got, 0));
		oscar_value_free(got);
		if ((*out = v) == NULL) {
			rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
		}
	}
	return (rv);
}

static int osc_local_cb(void *arg, const oscar_value_t *ref, oscar_value_t **out)
{
	osc_local_t *l = arg;
	char         name[OSCAR_REF_NAME_MAX];
	char         have[OSCAR_TASK_KEY_MAX + 16];
	if (oscar_value_ref_name(ref, name, sizeof(name)) != 0) {
		return (OSCAR_EINVAL);
	}
	for (size_t i = l->j; i-- > 0;) {
		osc_item_t *it = &l->run->items[i];
		for (unsigned k = 0; k < it->n_output; k++) {
			osc_out_name_of(it, k, have, sizeof(have));
			if (strcmp(have, name) != 0) {
				continue;
			}
			if (it->rv != 0) {
				l->failed = i;
				return (OSCAR_ECANCELED);
			}
			const oscar_value_t *v =
			    it->n_output == 1 ? it->result : oscar_value_at(it->result, k);
			*out = oscar_value_copy(v);
			return (*out != NULL ? 0 : OSCAR_ENOMEM);
		}
	}
	// A large input the executor left to the slot: the node's storage
	// has it.
	if (l->run->node[0] == '\0') {
		return (oscar_error_set(&l->err, OSCAR_ENOENT, "no task before it makes %s", name));
	}
	int rv = osc_slot_read(l->run, name, out, &l->err);
	if (rv == 0) {
		l->run->items[l->j].mapped = true;
	}
	return (rv);
}

// osc_slot_hand_over hands each large output of it (a result) to the
// node's storage through the link: written once into a shared-memory
// segment, which the storage adopts; it->stored tells their sizes, and
// the answer leaves their values out. An output the link cannot take
// (the link down, or refused) travels in the answer as a small one does.
static void osc_slot_hand_over(osc_run_t *r, osc_item_t *it)
{
	osc_slot_t *st = r->slot;
	// Copies of the result (a ran message, a task after it in the run)
	// share its large bins rather than copy them.
	osc_value_share_bins(it->result, OSC_SLOT_SHARE_MIN);
	if (r->shm == 0 || r->node[0] == '\0') {
		return;
	}
	for (unsigned k = 0; k < it->n_output; k++) {
		const oscar_value_t *v =
		    it->n_output == 1 ? it->result : oscar_value_at(it->result, k);
		if (!osc_task_value_large(v, r->shm)) {
			continue;
		}
		if (it->stored == NULL) {
			if ((it->stored = malloc(it->n_output * sizeof(uint64_t))) == NULL) {
				return;
			}
			for (unsigned x = 0; x < it->n_output; x++) {
				it->stored[x] = UINT64_MAX;
			}
		}
		char          name[OSCAR_TASK_KEY_MAX + 16];
		oscar_error_t err;
		uint64_t      size = 0;
		memset(&err, 0, sizeof(err));
		osc_out_name_of(it, k, name, sizeof(name));
		pthread_mutex_lock(&st->link_mu);
		oscar_storage_local_t *l  = osc_slot_link_locked(r, &err);
		int                    rv = l != NULL ? oscar_storage_local_put(
		                                            l, r->session, name, v, &size, OSC_SLOT_STORAGE_MS, &err)
		                                      : OSCAR_ECONNREFUSED;
		if (rv != 0) {
			osc_slot_link_failed(st, rv);
		}
		pthread_mutex_unlock(&st->link_mu);
		if (rv == 0) {
			it->stored[k] = size;
		} else {
			oscar_log(OSCAR_LOG_DEBUG, "task",
			    "task %s: output %s goes in the answer: the node's storage did not "
			    "take it through shared memory: %s",
			    it->key, name, err.message);
		}
	}
}

static int osc_has_ref(void *arg, const oscar_value_t *ref)
{
	(void) ref;
	*(bool *) arg = true;
	return (1);
}

// osc_slot_post has the loop hand out r's results, unless a "done" is on
// its way already. The actor joins the thread once it sees it ended; if
// the post fails, nothing would ever answer the run, so keep trying.
static void osc_slot_post(osc_run_t *r)
{
	osc_slot_t *st = r->slot;
	if (atomic_exchange(&r->posted, true)) {
		return;
	}
	while (oscar_tell_nowait(st->pool, &st->ref, osc_slot_name(OSC_SLOT_DONE),
	           oscar_value_new_uint(r->index)) == OSCAR_EMBOXFULL) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void *osc_slot_thread(void *arg)
{
	osc_run_t  *r  = arg;
	osc_slot_t *st = r->slot;
	for (size_t j = 0; j < r->n; j++) {
		osc_item_t *it   = &r->items[j];
		bool        refs = false;
		if (oscar_task_cancelled(&it->ctx)) {
			it->rv = oscar_error_set(&it->err, OSCAR_ECANCELED,
			    "task %s (%s) was cancelled before it ran", it->key, it->fn);
			continue;
		}
		oscar_value_walk_refs(it->args, osc_has_ref, &refs);
		if (refs) {
			osc_local_t l  = { r, j, SIZE_MAX, { 0 } };
			int         rv = oscar_value_replace_refs(it->args, osc_local_cb, &l);
			if (rv == OSCAR_ECANCELED && l.failed != SIZE_MAX) {
				it->rv = oscar_error_set(&it->err, OSCAR_ECANCELED,
				    "task %s (%s) did not run: its input %s failed", it->key,
				    it->fn, r->items[l.failed].key);
				continue;
			}
			if (rv != 0) {
				it->rv =
				    oscar_error_set(&it->err, l.err.code != 0 ? l.err.code : rv,
				        "task %s (%s): cannot read its inputs: %s", it->key, it->fn,
				        l.err.code != 0 ? l.err.message : oscar_strerror(rv));
				continue;
			}
		}
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		it->rv = osc_task_run(st->fns, it->fn, &it->ctx, it->args, &it->result, &it->err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		// Its run time, without the time it waited for nested work
		// (its slot was lent meanwhile: that was not its work).
		uint64_t us = (uint64_t) ((t1.tv_sec - t0.tv_sec) * 1000000 +
		                          (t1.tv_nsec - t0.tv_nsec) / 1000);
		it->us      = us > it->ctx.waited_us ? us - it->ctx.waited_us : 0;
		// Its arguments are done with: mapped inputs go now, not with
		// the run (nothing after it reads them).
		if (it->mapped && it->args != NULL) {
			oscar_value_t *a = malloc(sizeof(*a));
			if (a != NULL) {
				*a = *it->args;
				memset(it->args, 0, sizeof(*it->args));
				it->args->type = OSCAR_NIL;
				oscar_value_free(a);
			}
		}
		if (it->rv == 0) {
			osc_slot_hand_over(r, it);
		}
		// Its result goes out with the next "done" the loop serves (the
		// last one's with the answer).
		atomic_store(&r->finished, j + 1);
		if (j + 1 < r->n) {
			osc_slot_post(r);
		}
	}
	atomic_store(&r->ended, true);
	osc_slot_post(r);
	return (NULL);
}

// run {session, supervisor, executor, slot, tasks: [[key, fn, args,
// n_output]...]} -> [[output...] | {code, message}...], one per task
static int osc_slot_m_run(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t          *st    = oscar_actor_state(self);
	const oscar_value_t *a     = oscar_req_args(req);
	const char          *sid   = oscar_value_map_str(a, "session");
	const char          *sup   = oscar_value_map_str(a, "supervisor");
	const char          *exe   = oscar_value_map_str(a, "executor");
	const oscar_value_t *tasks = oscar_value_map_get(a, "tasks");
	size_t               n     = oscar_value_len(tasks);
	unsigned             i     = 0;
	while (i < OSC_SLOT_RUNS_MAX && st->runs[i] != NULL) {
		i++;
	}
	if (i == OSC_SLOT_RUNS_MAX) {
		return (oscar_req_fail(req, OSCAR_ESTATE,
		    "slot holds %d runs already (nested too deep)", OSC_SLOT_RUNS_MAX));
	}
	if (st->fns == NULL) {
		return (oscar_req_fail(req, OSCAR_ESTATE, "this pool is not a node's sub pool"));
	}
	if (sid == NULL || strlen(sid) >= OSCAR_UID_MAX || tasks == NULL ||
	    tasks->type != OSCAR_ARRAY || n == 0 || n > OSC_SLOT_BATCH_MAX ||
	    (sup != NULL && strlen(sup) >= OSCAR_ADDR_MAX)) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "run needs a session and 1 to %d tasks",
		    OSC_SLOT_BATCH_MAX));
	}
	for (size_t j = 0; j < n; j++) {
		const oscar_value_t *t    = oscar_value_at(tasks, j);
		const char          *key  = oscar_value_at_str(t, 0);
		const char          *fn   = oscar_value_at_str(t, 1);
		uint64_t             nout = oscar_value_at_uint(t, 3, 0);
		if (key == NULL || fn == NULL || strlen(key) >= OSCAR_TASK_KEY_MAX ||
		    strlen(fn) >= OSCAR_NAME_MAX || nout == 0 || nout > OSCAR_TASK_OUTPUT_MAX) {
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "run: task #%zu is not [key, fn, args, n_output]", j));
		}
	}
	osc_run_t *r = calloc(1, sizeof(*r) + n * sizeof(osc_item_t));
	if (r == NULL) {
		return (OSCAR_ENOMEM);
	}
	r->slot  = st;
	r->index = i;
	r->n     = n;
	snprintf(r->session, sizeof(r->session), "%s", sid);
	// The run keeps the arguments: its items borrow their strings, and
	// their args are resolved in place.
	r->margs = oscar_req_take_args(req);
	tasks    = oscar_value_map_get(r->margs, "tasks");
	for (size_t j = 0; j < n; j++) {
		oscar_value_t *t  = &tasks->as.arr.items[j];
		osc_item_t    *it = &r->items[j];
		it->key           = oscar_value_at_str(t, 0);
		it->fn            = oscar_value_at_str(t, 1);
		it->args          = t->as.arr.len > 2 ? &t->as.arr.items[2] : NULL;
		it->n_output      = (unsigned) oscar_value_at_uint(t, 3, 1);
		if (it->args != NULL && it->args->type == OSCAR_NIL) {
			it->args = NULL;
		}
		osc_task_ctx_init(&it->ctx, r->session, it->key, it->n_output, NULL, NULL);
	}
	st->pool = oscar_actor_pool(self);
	st->ref  = *oscar_actor_ref(self);
	atomic_init(&r->finished, 0);
	atomic_init(&r->ended, false);
	atomic_init(&r->posted, false);
	r->batch         = oscar_value_map_uint(r->margs, "batch", 0);
	r->shm           = oscar_value_map_uint(r->margs, "shm", 0);
	const char *node = oscar_value_map_str(r->margs, "node");
	if (node != NULL && strlen(node) < sizeof(r->node)) {
		snprintf(r->node, sizeof(r->node), "%s", node);
	}
	r->has_exec = exe != NULL && oscar_ref_make(&r->exec, exe, OSC_EXECUTOR_UID) == 0;
	// What nested submission needs: this pool, for host-thread calls
	// from the function's thread, the supervisor, and the executor to
	// tell while the task waits.
	if (sup != NULL && exe != NULL) {
		r->nested.pool = st->pool;
		r->nested.slot = (unsigned) oscar_value_map_uint(r->margs, "slot", 0);
		snprintf(r->nested.supervisor, sizeof(r->nested.supervisor), "%s", sup);
		if (oscar_ref_make(&r->nested.executor, exe, OSC_EXECUTOR_UID) == 0) {
			for (size_t j = 0; j < n; j++) {
				r->items[j].ctx.nested = &r->nested;
			}
		}
	}
	if (pthread_create(&r->thread, NULL, osc_slot_thread, r) != 0) {
		osc_run_free(r);
		return (oscar_req_fail(req, OSCAR_ESYSTEM, "cannot start the tasks' thread"));
	}
	r->req      = req;
	st->runs[i] = r;
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

// osc_item_reply gives what item it's run answers for it: a copy of its
// result while the thread runs on (a later item of the run may read it),
// the result itself once the thread ended. A success is [output..., us]
// or, when some outputs went to the node's storage through shared
// memory, [output..., us, [[k, size]...]] with nil for each output k so
// handed over.
static oscar_value_t *osc_item_reply(osc_item_t *it, bool copy)
{
	oscar_value_t *out = NULL;
	if (it->rv != 0) {
		// The function's failure is the reply's value, not the call's
		// failure: its code (OSCAR_ECANCELED, say) must not be taken for
		// the call's own.
		out = oscar_value_new_map(2);
		if (out == NULL ||
		    oscar_value_map_set(out, "code", oscar_value_new_int(it->rv)) != 0 ||
		    oscar_value_map_set(out, "message", oscar_value_new_str(it->err.message)) !=
		        0) {
			oscar_value_free(out);
			out = NULL;
		}
		return (out);
	}
	oscar_value_t *stored = NULL;
	int            rv     = 0;
	out                   = oscar_value_new_array(it->n_output + 2);
	if (out == NULL) {
		return (NULL);
	}
	for (unsigned k = 0; rv == 0 && k < it->n_output; k++) {
		oscar_value_t *v = it->n_output == 1
		                       ? it->result
		                       : (oscar_value_t *) oscar_value_at(it->result, k);
		if (v == NULL) {
			rv = OSCAR_EPROTO;
		} else if (it->stored != NULL && it->stored[k] != UINT64_MAX) {
			oscar_value_t *e = NULL;
			if ((stored == NULL && (stored = oscar_value_new_array(4)) == NULL) ||
			    (e = oscar_value_new_array(2)) == NULL ||
			    oscar_value_array_push(e, oscar_value_new_uint(k)) != 0 ||
			    oscar_value_array_push(e, oscar_value_new_uint(it->stored[k])) != 0) {
				oscar_value_free(e);
				rv = OSCAR_ENOMEM;
			} else {
				rv = oscar_value_array_push(stored, e);
				rv = rv != 0 ? rv : osc_vb_push_nil(out);
			}
		} else if (copy) {
			rv = oscar_value_array_push(out, oscar_value_copy(v));
		} else {
			rv = osc_vb_push_move(out, v);
		}
	}
	// Then its run time, after the outputs, and what went through shared
	// memory.
	rv = rv != 0 ? rv : oscar_value_array_push(out, oscar_value_new_uint(it->us));
	if (rv == 0 && stored != NULL) {
		rv     = oscar_value_array_push(out, stored);
		stored = NULL;
	}
	oscar_value_free(stored);
	if (!copy && it->n_output == 1 && it->result != NULL && it->result->type == OSCAR_NIL) {
		// Moved out: its shell only.
		oscar_value_free(it->result);
		it->result = NULL;
	}
	if (rv != 0) {
		oscar_value_free(out);
		out = NULL;
	}
	return (out);
}

// osc_run_results gives the replies for items [r->sent, upto) and counts
// them sent; NULL when out of memory.
static oscar_value_t *osc_run_results(osc_run_t *r, size_t upto, bool copy)
{
	oscar_value_t *out = oscar_value_new_array(upto - r->sent);
	for (size_t j = r->sent; out != NULL && j < upto; j++) {
		oscar_value_t *v = osc_item_reply(&r->items[j], copy);
		if (v == NULL || oscar_value_array_push(out, v) != 0) {
			oscar_value_free(out);
			out = NULL;
		}
	}
	if (out != NULL) {
		r->sent = upto;
	}
	return (out);
}

// done index: items of run index finished. While the thread runs on,
// their results go to the executor at once (ran), so that it stores and
// reports them, and knows which task runs should the slot die; once the
// thread ended, the run's answer carries the rest: [result...] for the
// items not told yet, the last ones.
static int osc_slot_m_done(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t *st = oscar_actor_state(self);
	uint64_t    i  = OSC_SLOT_RUNS_MAX;
	oscar_value_get_uint(oscar_req_args(req), &i);
	if (i >= OSC_SLOT_RUNS_MAX || st->runs[i] == NULL) {
		return (0);
	}
	osc_run_t *r = st->runs[i];
	atomic_store(&r->posted, false);
	bool   ended    = atomic_load(&r->ended);
	size_t finished = atomic_load(&r->finished);
	if (!ended) {
		if (!r->has_exec || finished <= r->sent) {
			return (0);
		}
		oscar_value_t *m       = oscar_value_new_map(3);
		oscar_value_t *results = osc_run_results(r, finished, true);
		size_t         from    = r->sent - (results != NULL ? oscar_value_len(results) : 0);
		if (m == NULL || results == NULL) {
			oscar_value_free(results);
			results = NULL;
		}
		if (results == NULL ||
		    oscar_value_map_set(m, "batch", oscar_value_new_uint(r->batch)) != 0 ||
		    oscar_value_map_set(m, "from", oscar_value_new_uint(from)) != 0 ||
		    oscar_value_map_set(m, "results", results) != 0) {
			// Out of memory: the answer carries them all later (the
			// results given out were copies; map_set took them).
			r->sent = from;
			oscar_value_free(m);
			return (0);
		}
		oscar_actor_tell(self, &r->exec, "ran", m);
		return (0);
	}
	st->runs[i] = NULL;
	pthread_join(r->thread, NULL);
	oscar_value_t *out = osc_run_results(r, r->n, false);
	if (out != NULL) {
		oscar_req_reply(r->req, out);
	} else {
		oscar_req_fail(r->req, OSCAR_ENOMEM, "out of memory");
	}
	osc_run_free(r);
	return (0);
}

// cancel key|nil: set the cancelled flag of the task called key (every
// task for nil).
static int osc_slot_m_cancel(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t *st  = oscar_actor_state(self);
	const char *key = NULL;
	size_t      len;
	if (oscar_value_get_str(oscar_req_args(req), &key, &len) != 0) {
		key = NULL;
	}
	for (unsigned i = 0; i < OSC_SLOT_RUNS_MAX; i++) {
		osc_run_t *r = st->runs[i];
		for (size_t j = 0; r != NULL && j < r->n; j++) {
			if (key == NULL || strcmp(key, r->items[j].key) == 0) {
				osc_task_ctx_cancel(&r->items[j].ctx);
			}
		}
	}
	return (0);
}

static int osc_slot_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_slot_t       *st  = oscar_actor_state(self);
	oscar_registry_t *reg = osc_subpool_registry();
	(void) args;
	st->fns = reg != NULL ? oscar_registry_taskfns(reg) : NULL;
	pthread_mutex_init(&st->link_mu, NULL);
	return (0);
}

static void osc_slot_destroy(oscar_actor_t *self)
{
	osc_slot_t *st = oscar_actor_state(self);
	for (unsigned i = 0; i < OSC_SLOT_RUNS_MAX; i++) {
		osc_run_t *r = st->runs[i];
		if (r == NULL) {
			continue;
		}
		// The pool stops while a function runs: tell it to stop and wait
		// for it, since the thread uses the run.
		for (size_t j = 0; j < r->n; j++) {
			osc_task_ctx_cancel(&r->items[j].ctx);
		}
		pthread_join(r->thread, NULL);
		osc_run_free(r);
		st->runs[i] = NULL;
	}
	oscar_storage_local_close(&st->link);
	pthread_mutex_destroy(&st->link_mu);
}

OSC_METHOD_TABLES(OSC_SLOT_METHODS, osc_slot_methods, OSC_SLOT_N, osc_slot_class_methods);

const oscar_actor_class_t osc_task_slot_class = {
	.name       = OSC_SLOT_CLASS,
	.state_size = sizeof(osc_slot_t),
	.create     = osc_slot_create,
	.destroy    = osc_slot_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_slot_class_methods,
};
