// The slot runner: the actor in each of a worker's sub pools that runs
// one task at a time (class "oscar.task.slot", uid "oscar.slot").
//
// A sub pool is the worker's own program with the same modules loaded,
// so its registry (osc_subpool_registry) holds the node's task
// functions. The function runs on a thread of its own, so that the sub
// pool's loop stays free to take a cancel message, which sets the task's
// cancelled flag from that loop while the function runs; the thread
// posts "done" to the actor when the function returns, and the actor
// answers the run request. A function that crashes takes the whole sub
// pool with it: the executor sees its call fail with OSCAR_EPEERGONE and
// the exit signal, and the sub pool is recovered.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/task/task_int.h"

typedef struct osc_slot {
	const oscar_taskfns_t *fns;
	oscar_pool_t          *pool;
	oscar_ref_t            ref;
	bool                   busy;
	bool                   joinable;
	pthread_t              thread;
	oscar_req_t           *req;
	char                   session[OSCAR_UID_MAX];
	char                   key[OSCAR_TASK_KEY_MAX];
	char                   fn[OSCAR_NAME_MAX];
	unsigned               n_output;
	oscar_value_t         *args;
	oscar_task_ctx_t       ctx;
	oscar_value_t         *result;
	int                    rv;
	oscar_error_t          err;
} osc_slot_t;

static void *osc_slot_thread(void *arg)
{
	osc_slot_t *st = arg;
	st->rv         = osc_task_run(st->fns, st->fn, &st->ctx, st->args, &st->result, &st->err);
	// The actor joins this thread when "done" arrives; if the post
	// fails, nothing would ever answer the run, so keep trying.
	while (oscar_tell_nowait(st->pool, &st->ref, osc_slot_name(OSC_SLOT_DONE), NULL) ==
	       OSCAR_EMBOXFULL) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return (NULL);
}

// run {session, key, fn, args, n_output} -> [output...]
static int osc_slot_m_run(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t          *st   = oscar_actor_state(self);
	const oscar_value_t *a    = oscar_req_args(req);
	const char          *sid  = oscar_value_map_str(a, "session");
	const char          *key  = oscar_value_map_str(a, "key");
	const char          *fn   = oscar_value_map_str(a, "fn");
	uint64_t             nout = oscar_value_map_uint(a, "n_output", 1);
	if (st->busy) {
		return (oscar_req_fail(req, OSCAR_ESTATE, "slot runs task %s already", st->key));
	}
	if (st->fns == NULL) {
		return (oscar_req_fail(req, OSCAR_ESTATE, "this pool is not a node's sub pool"));
	}
	if (sid == NULL || key == NULL || fn == NULL || nout == 0 || nout > OSCAR_TASK_OUTPUT_MAX ||
	    strlen(sid) >= sizeof(st->session) || strlen(key) >= sizeof(st->key) ||
	    strlen(fn) >= sizeof(st->fn)) {
		return (oscar_req_fail(
		    req, OSCAR_EBADARGS, "run needs a session, key, fn and n_output"));
	}
	snprintf(st->session, sizeof(st->session), "%s", sid);
	snprintf(st->key, sizeof(st->key), "%s", key);
	snprintf(st->fn, sizeof(st->fn), "%s", fn);
	st->n_output              = (unsigned) nout;
	const oscar_value_t *args = oscar_value_map_get(a, "args");
	st->args   = args != NULL ? oscar_value_copy(args) : oscar_value_new_array(0);
	st->result = NULL;
	st->rv     = 0;
	memset(&st->err, 0, sizeof(st->err));
	if (st->args == NULL) {
		return (OSCAR_ENOMEM);
	}
	osc_task_ctx_init(&st->ctx, st->session, st->key, st->n_output, NULL, NULL);
	st->pool = oscar_actor_pool(self);
	st->ref  = *oscar_actor_ref(self);
	if (pthread_create(&st->thread, NULL, osc_slot_thread, st) != 0) {
		oscar_value_free(st->args);
		st->args = NULL;
		return (oscar_req_fail(req, OSCAR_ESYSTEM, "cannot start the task's thread"));
	}
	st->busy     = true;
	st->joinable = true;
	st->req      = req;
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

// done: the function returned; answer the run.
static int osc_slot_m_done(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t *st = oscar_actor_state(self);
	(void) req;
	if (!st->busy) {
		return (0);
	}
	pthread_join(st->thread, NULL);
	st->joinable = false;
	st->busy     = false;
	oscar_value_free(st->args);
	st->args = NULL;
	if (st->rv != 0) {
		// The function's failure is the reply's value, not the call's
		// failure: its code (OSCAR_ECANCELED, say) must not be taken for
		// the call's own.
		oscar_value_t *e = oscar_value_new_map(2);
		if (e == NULL || oscar_value_map_set(e, "code", oscar_value_new_int(st->rv)) != 0 ||
		    oscar_value_map_set(e, "message", oscar_value_new_str(st->err.message)) != 0) {
			oscar_value_free(e);
			oscar_req_fail(st->req, OSCAR_ENOMEM, "out of memory");
		} else {
			oscar_req_reply(st->req, e);
		}
		st->req = NULL;
		return (0);
	}
	oscar_value_t *out = st->result;
	st->result         = NULL;
	if (st->n_output == 1) {
		oscar_value_t *one = oscar_value_new_array(1);
		if (one == NULL || oscar_value_array_push(one, out) != 0) {
			oscar_value_free(one);
			oscar_req_fail(st->req, OSCAR_ENOMEM, "out of memory");
			st->req = NULL;
			return (0);
		}
		out = one;
	}
	oscar_req_reply(st->req, out);
	st->req = NULL;
	return (0);
}

// cancel: set the running task's cancelled flag.
static int osc_slot_m_cancel(oscar_actor_t *self, oscar_req_t *req)
{
	osc_slot_t *st  = oscar_actor_state(self);
	const char *key = NULL;
	size_t      len;
	if (oscar_value_get_str(oscar_req_args(req), &key, &len) != 0) {
		key = NULL;
	}
	if (st->busy && (key == NULL || strcmp(key, st->key) == 0)) {
		osc_task_ctx_cancel(&st->ctx);
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
	if (st->joinable) {
		// The pool stops while a function runs: tell it to stop and wait
		// for it, since the thread uses this state.
		osc_task_ctx_cancel(&st->ctx);
		pthread_join(st->thread, NULL);
		st->joinable = false;
	}
	oscar_value_free(st->args);
	oscar_value_free(st->result);
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
	.methods    = osc_slot_class_methods,
};
