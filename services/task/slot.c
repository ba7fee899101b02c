// The slot runner: the actor in each of a worker's sub pools that runs
// its tasks (class "oscar.task.slot", uid "oscar.slot").
//
// A sub pool is the worker's own program with the same modules loaded,
// so its registry (osc_subpool_registry) holds the node's task
// functions. A function runs on a thread of its own, so that the sub
// pool's loop stays free to take a cancel message, which sets the task's
// cancelled flag from that loop while the function runs; the thread
// posts "done" to the actor when the function returns, and the actor
// answers the run request. A function that crashes takes the whole sub
// pool with it: the executor sees its call fail with OSCAR_EPEERGONE and
// the exit signal, and the sub pool is recovered.
//
// A slot runs one task at a time, except while a task waits for work it
// submitted (nested submission, oscar_task_wait): the executor then
// counts the slot as free and may give it another task, which runs on
// another thread beside the waiting one. OSC_SLOT_RUNS_MAX bounds how
// many a slot holds at once, and so how deep nesting goes.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/task/task_int.h"

// osc_run_t is one task running in the slot.
typedef struct osc_run {
	struct osc_slot  *slot;
	unsigned          index; // in the slot's runs
	pthread_t         thread;
	oscar_req_t      *req;
	char              session[OSCAR_UID_MAX];
	char              key[OSCAR_TASK_KEY_MAX];
	char              fn[OSCAR_NAME_MAX];
	unsigned          n_output;
	oscar_value_t    *args;
	oscar_task_ctx_t  ctx;
	osc_task_nested_t nested;
	oscar_value_t    *result;
	int               rv;
	oscar_error_t     err;
} osc_run_t;

typedef struct osc_slot {
	const oscar_taskfns_t *fns;
	oscar_pool_t          *pool;
	oscar_ref_t            ref;
	osc_run_t             *runs[OSC_SLOT_RUNS_MAX];
} osc_slot_t;

static void osc_run_free(osc_run_t *r)
{
	oscar_value_free(r->args);
	oscar_value_free(r->result);
	free(r);
}

static void *osc_slot_thread(void *arg)
{
	osc_run_t  *r  = arg;
	osc_slot_t *st = r->slot;
	r->rv          = osc_task_run(st->fns, r->fn, &r->ctx, r->args, &r->result, &r->err);
	// The actor joins this thread when "done" arrives; if the post
	// fails, nothing would ever answer the run, so keep trying.
	while (oscar_tell_nowait(st->pool, &st->ref, osc_slot_name(OSC_SLOT_DONE),
	           oscar_value_new_uint(r->index)) == OSCAR_EMBOXFULL) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return (NULL);
}

// run {session, key, fn, args, n_output, supervisor, executor, slot}
// -> [output...] or {code, message}
static int osc_slot_m_run(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t          *st   = oscar_actor_state(self);
	const oscar_value_t *a    = oscar_req_args(req);
	const char          *sid  = oscar_value_map_str(a, "session");
	const char          *key  = oscar_value_map_str(a, "key");
	const char          *fn   = oscar_value_map_str(a, "fn");
	const char          *sup  = oscar_value_map_str(a, "supervisor");
	const char          *exe  = oscar_value_map_str(a, "executor");
	uint64_t             nout = oscar_value_map_uint(a, "n_output", 1);
	unsigned             i    = 0;
	while (i < OSC_SLOT_RUNS_MAX && st->runs[i] != NULL) {
		i++;
	}
	if (i == OSC_SLOT_RUNS_MAX) {
		return (oscar_req_fail(req, OSCAR_ESTATE,
		    "slot holds %d tasks already (nested too deep)", OSC_SLOT_RUNS_MAX));
	}
	if (st->fns == NULL) {
		return (oscar_req_fail(req, OSCAR_ESTATE, "this pool is not a node's sub pool"));
	}
	if (sid == NULL || key == NULL || fn == NULL || nout == 0 || nout > OSCAR_TASK_OUTPUT_MAX ||
	    strlen(sid) >= OSCAR_UID_MAX || strlen(key) >= OSCAR_TASK_KEY_MAX ||
	    strlen(fn) >= OSCAR_NAME_MAX || (sup != NULL && strlen(sup) >= OSCAR_ADDR_MAX)) {
		return (oscar_req_fail(
		    req, OSCAR_EBADARGS, "run needs a session, key, fn and n_output"));
	}
	osc_run_t *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return (OSCAR_ENOMEM);
	}
	r->slot  = st;
	r->index = i;
	snprintf(r->session, sizeof(r->session), "%s", sid);
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->fn, sizeof(r->fn), "%s", fn);
	r->n_output               = (unsigned) nout;
	const oscar_value_t *args = oscar_value_map_get(a, "args");
	r->args = args != NULL ? oscar_value_copy(args) : oscar_value_new_array(0);
	if (r->args == NULL) {
		free(r);
		return (OSCAR_ENOMEM);
	}
	st->pool = oscar_actor_pool(self);
	st->ref  = *oscar_actor_ref(self);
	osc_task_ctx_init(&r->ctx, r->session, r->key, r->n_output, NULL, NULL);
	// What nested submission needs: this pool, for host-thread calls
	// from the function's thread, the supervisor, and the executor to
	// tell while the task waits.
	if (sup != NULL && exe != NULL) {
		r->nested.pool = st->pool;
		r->nested.slot = (unsigned) oscar_value_map_uint(a, "slot", 0);
		snprintf(r->nested.supervisor, sizeof(r->nested.supervisor), "%s", sup);
		if (oscar_ref_make(&r->nested.executor, exe, OSC_EXECUTOR_UID) == 0) {
			r->ctx.nested = &r->nested;
		}
	}
	if (pthread_create(&r->thread, NULL, osc_slot_thread, r) != 0) {
		osc_run_free(r);
		return (oscar_req_fail(req, OSCAR_ESYSTEM, "cannot start the task's thread"));
	}
	r->req      = req;
	st->runs[i] = r;
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

// done index: the function of run index returned; answer its run.
static int osc_slot_m_done(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t *st = oscar_actor_state(self);
	uint64_t    i  = OSC_SLOT_RUNS_MAX;
	oscar_value_get_uint(oscar_req_args(req), &i);
	if (i >= OSC_SLOT_RUNS_MAX || st->runs[i] == NULL) {
		return (0);
	}
	osc_run_t *r = st->runs[i];
	st->runs[i]  = NULL;
	pthread_join(r->thread, NULL);
	oscar_value_t *out = NULL;
	if (r->rv != 0) {
		// The function's failure is the reply's value, not the call's
		// failure: its code (OSCAR_ECANCELED, say) must not be taken for
		// the call's own.
		out = oscar_value_new_map(2);
		if (out == NULL ||
		    oscar_value_map_set(out, "code", oscar_value_new_int(r->rv)) != 0 ||
		    oscar_value_map_set(out, "message", oscar_value_new_str(r->err.message)) != 0) {
			oscar_value_free(out);
			out = NULL;
		}
	} else if (r->n_output == 1) {
		out = oscar_value_new_array(1);
		if (out != NULL && oscar_value_array_push(out, r->result) != 0) {
			oscar_value_free(out);
			out = NULL;
		}
		r->result = NULL;
	} else {
		out       = r->result;
		r->result = NULL;
	}
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
		if (r != NULL && (key == NULL || strcmp(key, r->key) == 0)) {
			osc_task_ctx_cancel(&r->ctx);
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
		osc_task_ctx_cancel(&r->ctx);
		pthread_join(r->thread, NULL);
		osc_run_free(r);
		st->runs[i] = NULL;
	}
}

#define OSC_SPEC_(id, name, fn, args, reply) [OSC_SLOT_##id] = { name, fn, args, reply },
const osc_method_spec_t osc_slot_methods[OSC_SLOT_N] = { OSC_SLOT_METHODS(OSC_SPEC_) };
#undef OSC_SPEC_

static int osc_slot_dispatch(oscar_actor_t *self, oscar_req_t *req)
{
	return (osc_method_dispatch(osc_slot_methods, OSC_SLOT_N, self, req));
}

#define OSC_METHOD_(id, name, fn, args, reply) { name, osc_slot_dispatch, NULL },
static const oscar_method_t osc_slot_class_methods[] = {
	OSC_SLOT_METHODS(OSC_METHOD_) { NULL, NULL, NULL },
};
#undef OSC_METHOD_

const oscar_actor_class_t osc_task_slot_class = {
	.name       = OSC_SLOT_CLASS,
	.state_size = sizeof(osc_slot_t),
	.create     = osc_slot_create,
	.destroy    = osc_slot_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_slot_class_methods,
};
