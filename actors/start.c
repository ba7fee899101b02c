// Starting calls: the one place that decides whether a call (or tell, or
// batch) goes to an actor of this pool or, through the transport, to
// another pool; and the actor-side call API built on it (oscar_actor_call,
// oscar_req_call, oscar_actor_tell, oscar_actor_after, oscar_actor_cancel).
//
// It sits above the transport and the actor layer, which it calls both:
// a local call is a request queued at its actor (actor.c) and a call record
// (call.c) whose target's ops are the actor layer's (osc_local_call_ops); a
// remote one is the transport's (osc_remote_start), ops included. Host
// threads start theirs through host.c, which calls osc_call_start too.
#include <stdlib.h>

#include "actors/pool_int.h"
#include "actors/transport.h"

// ---------------------------------------------------------------------------
// The starter

// osc_call_start starts the call d describes: it resolves d->ref and
// d->method in pool, queues a request for them and (for anything but a
// tell) makes the call record that waits for the answer, *callp; a ref to
// another pool goes to the transport. d->args are consumed. On failure
// nothing is left behind, err says why, and neither d->cb nor d->host is
// ever told.
int osc_call_start(
    oscar_pool_t *pool, const osc_call_desc_t *d, osc_call_t **callp, oscar_error_t *err)
{
	osc_actor_t       *owner  = d->owner;
	osc_req_t         *parent = d->parent;
	const oscar_ref_t *ref    = d->ref;
	const char        *method = d->method;
	osc_req_kind_t     kind   = d->kind;
	oscar_value_t     *args   = d->args;
	int                rv;
	if (pool->state != OSC_POOL_RUNNING || (owner != NULL && (owner->flags & OSC_ACTOR_DEAD))) {
		oscar_value_free(args);
		if (pool->state != OSC_POOL_RUNNING) {
			osc_error_set(err, pool, OSCAR_ECLOSED, ref->uid, method,
			    "pool %s is closed", pool->address);
		} else {
			osc_error_set(err, pool, OSCAR_ECLOSED, ref->uid, method,
			    "the calling actor %s is being destroyed", owner->ref.uid);
		}
		return (OSCAR_ECLOSED);
	}
	if (kind == OSC_REQ_BATCH && (args == NULL || args->type != OSCAR_ARRAY)) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_EBADARGS, ref->uid, method,
		    "a batch takes an array of per-call arguments");
		return (OSCAR_EBADARGS);
	}
	if (!osc_ref_is_local(pool, ref)) {
		return (osc_remote_start(pool, d, callp, err));
	}
	osc_actor_t *a = osc_actor_find(pool, ref->uid);
	if (a == NULL) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_ENOACTOR, ref->uid, method, "no actor %s in pool %s",
		    ref->uid, pool->address);
		return (OSCAR_ENOACTOR);
	}
	const oscar_method_t *m = osc_method_find(a->cls, method);
	if (m == NULL) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_ENOMETHOD, ref->uid, method,
		    "actor %s (class %s) has no method '%s'", ref->uid, a->cls->name, method);
		return (OSCAR_ENOMETHOD);
	}
	osc_req_t *req = osc_req_new(a, m, kind, args);
	if (req == NULL) {
		osc_error_set(err, pool, OSCAR_ENOMEM, ref->uid, method, "no memory for a request");
		return (OSCAR_ENOMEM);
	}
	if (parent != NULL && kind != OSC_REQ_TELL &&
	    (rv = osc_chain_build(req, parent, err)) != 0) {
		osc_req_maybe_free((req->replied = true, req));
		return (rv);
	}
	osc_call_t *c = NULL;
	if (kind != OSC_REQ_TELL) {
		if (osc_call_reserve(pool) != 0 ||
		    (c = osc_call_new(
		         pool, ref->uid, method, d->timeout_ms, d->cb, d->arg, d->host)) == NULL) {
			osc_req_maybe_free((req->replied = true, req));
			osc_error_set(
			    err, pool, OSCAR_ENOMEM, ref->uid, method, "no memory for a call");
			return (OSCAR_ENOMEM);
		}
		c->ops    = &osc_local_call_ops;
		c->req    = req;
		req->call = c;
		// The sender's request, for the deadlock check at enqueue.
		c->parent = parent;
	}
	if ((rv = osc_actor_enqueue(a, req, err)) != 0) {
		req->call = NULL;
		osc_req_maybe_free((req->replied = true, req));
		free(c);
		return (rv);
	}
	if (c != NULL) {
		c->parent = NULL;
		osc_call_link(pool, c, owner, parent);
	}
	if (callp != NULL) {
		*callp = c;
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Actor-side API

// call_from starts a call of ref.method by actor self, on behalf of
// its request parent when not NULL (the public calls below); the failure
// is kept as the pool's last error.
static int call_from(osc_actor_t *self, oscar_req_t *parent, const oscar_ref_t *ref,
    const char *method, oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg,
    uint64_t *id)
{
	oscar_error_t   err;
	osc_call_t     *c;
	osc_call_desc_t d = {
		.owner      = self,
		.parent     = parent,
		.ref        = ref,
		.method     = method,
		.kind       = OSC_REQ_CALL,
		.args       = args,
		.timeout_ms = timeout_ms,
		.cb         = cb,
		.arg        = arg,
	};
	int rv = osc_call_start(self->pool, &d, &c, &err);
	if (rv != 0) {
		self->pool->last_err = err;
	} else if (id != NULL) {
		*id = c->id;
	}
	return (rv);
}

// oscar_actor_call calls ref.method from actor self.
int oscar_actor_call(oscar_actor_t *self, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg, uint64_t *id)
{
	if (self == NULL || ref == NULL || method == NULL || cb == NULL || timeout_ms < 0) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	return (call_from(self, NULL, ref, method, args, timeout_ms, cb, arg, id));
}

// oscar_req_call calls ref.method on behalf of req.
int oscar_req_call(oscar_req_t *req, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg, uint64_t *id)
{
	if (req == NULL || ref == NULL || method == NULL || cb == NULL || timeout_ms < 0) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	return (call_from(req->actor, req, ref, method, args, timeout_ms, cb, arg, id));
}

// oscar_actor_after runs cb on self after delay_ms (a timer is a call to
// nobody whose deadline is its success).
int oscar_actor_after(
    oscar_actor_t *self, int64_t delay_ms, oscar_reply_cb cb, void *arg, uint64_t *id)
{
	oscar_pool_t *pool;
	osc_call_t   *c;
	if (self == NULL || cb == NULL || delay_ms < 0) {
		return (OSCAR_EINVAL);
	}
	pool = self->pool;
	if (pool->state != OSC_POOL_RUNNING || (self->flags & OSC_ACTOR_DEAD)) {
		return (OSCAR_ECLOSED);
	}
	if (osc_call_reserve(pool) != 0 ||
	    (c = osc_call_new(pool, self->ref.uid, "(timer)", delay_ms, cb, arg, NULL)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	// osc_call_new reads 0 as "the default timeout": a timer means 0.
	if (delay_ms > OSCAR_TIMEOUT_MAX_MS) {
		delay_ms = OSCAR_TIMEOUT_MAX_MS;
	}
	c->timeout_ms = delay_ms;
	c->deadline   = (int64_t) uv_now(&pool->loop) + delay_ms;
	c->timer      = true;
	osc_call_link(pool, c, self, NULL);
	pool->stats.calls--; // not a call
	if (id != NULL) {
		*id = c->id;
	}
	return (0);
}

// oscar_actor_cancel cancels the call id made by self, if still pending.
void oscar_actor_cancel(oscar_actor_t *self, uint64_t id)
{
	for (osc_call_t *c = OSC_LIST_FIRST(&self->calls, osc_call_t, onode); c != NULL;
	     c             = OSC_LIST_NEXT(c, osc_call_t, onode)) {
		if (c->id == id) {
			osc_call_cancel(c);
			return;
		}
	}
}

// oscar_actor_tell sends a one-way message from self.
int oscar_actor_tell(
    oscar_actor_t *self, const oscar_ref_t *ref, const char *method, oscar_value_t *args)
{
	oscar_error_t err;
	if (self == NULL || ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	osc_call_desc_t d = {
		.owner  = self,
		.ref    = ref,
		.method = method,
		.kind   = OSC_REQ_TELL,
		.args   = args,
	};
	int rv = osc_call_start(self->pool, &d, NULL, &err);
	if (rv != 0) {
		self->pool->last_err = err;
	}
	return (rv);
}
