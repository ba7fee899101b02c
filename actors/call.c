// Calls: the caller's side. Call records and their deadlines, reply
// callbacks, cancellation, and the actor-side API built on them.
//
// Design note. Every call, from an actor or from a host thread, is an
// osc_call_t on the loop of the pool that started it, sitting in a binary
// heap ordered by deadline; one libuv timer per pool fires for the earliest.
// A finished call (replied, failed, timed out, cancelled) leaves the heap
// and joins the done queue, whose callbacks run from the pool's run loop,
// never from inside the replying handler.
//
// A host thread's call (host.c) is an ordinary call record started by the
// loop on the handle's behalf; the done queue completes the handle.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/pool_int.h"
#include "actors/transport.h"
#include "actors/wire.h"

#define OSC_MAX_CHAIN 256

// ---------------------------------------------------------------------------
// Errors

// osc_error_set fills err with code, a formatted message and where.
void osc_error_set(oscar_error_t *err, const oscar_pool_t *pool, int code, const char *actor,
    const char *method, const char *fmt, ...)
{
	va_list ap;
	memset(err, 0, sizeof(*err));
	err->code = code;
	err->pid  = pool->pid;
	snprintf(err->address, sizeof(err->address), "%s", pool->address);
	snprintf(err->actor, sizeof(err->actor), "%s", actor ? actor : "");
	snprintf(err->method, sizeof(err->method), "%s", method ? method : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

// osc_error_dup copies err to the heap (NULL when out of memory).
oscar_error_t *osc_error_dup(const oscar_error_t *err)
{
	oscar_error_t *e = malloc(sizeof(*e));
	if (e != NULL) {
		*e = *err;
	}
	return (e);
}

// oscar_error_format renders err on one line.
int oscar_error_format(const oscar_error_t *err, char *buf, size_t size)
{
	if (err == NULL) {
		return (snprintf(buf, size, "no error"));
	}
	return (snprintf(buf, size, "%s: %s (actor %s, method %s, at %s pid %" PRId64 ")",
	    oscar_errname(err->code), err->message, err->actor[0] ? err->actor : "-",
	    err->method[0] ? err->method : "-", err->address[0] ? err->address : "-", err->pid));
}

// ---------------------------------------------------------------------------
// The deadline heap

static bool heap_less(const osc_call_t *a, const osc_call_t *b)
{
	return (a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id));
}

static void heap_set(oscar_pool_t *pool, size_t i, osc_call_t *c)
{
	pool->heap.items[i] = c;
	c->heap_idx         = i;
}

static void heap_up(oscar_pool_t *pool, size_t i)
{
	osc_call_t *c = pool->heap.items[i];
	while (i > 0) {
		size_t      p  = (i - 1) / 2;
		osc_call_t *pc = pool->heap.items[p];
		if (!heap_less(c, pc)) {
			break;
		}
		heap_set(pool, i, pc);
		i = p;
	}
	heap_set(pool, i, c);
}

static void heap_down(oscar_pool_t *pool, size_t i)
{
	osc_call_t *c = pool->heap.items[i];
	size_t      n = pool->heap.len;
	for (;;) {
		size_t      l = 2 * i + 1, m = i;
		osc_call_t *mc = c;
		if (l < n && heap_less(pool->heap.items[l], mc)) {
			m  = l;
			mc = pool->heap.items[l];
		}
		if (l + 1 < n && heap_less(pool->heap.items[l + 1], mc)) {
			m  = l + 1;
			mc = pool->heap.items[l + 1];
		}
		if (m == i) {
			break;
		}
		heap_set(pool, i, mc);
		i = m;
	}
	heap_set(pool, i, c);
}

// heap_reserve makes room for one more call.
static int heap_reserve(oscar_pool_t *pool)
{
	return (osc_reserve(
	    &pool->heap.items, &pool->heap.cap, pool->heap.len, sizeof(*pool->heap.items), 64));
}

// heap_push adds c; heap_reserve must have succeeded first.
static void heap_push(oscar_pool_t *pool, osc_call_t *c)
{
	pool->heap.items[pool->heap.len] = c;
	c->heap_idx                      = pool->heap.len++;
	heap_up(pool, c->heap_idx);
}

static void heap_remove(oscar_pool_t *pool, osc_call_t *c)
{
	size_t i = c->heap_idx;
	if (i == SIZE_MAX) {
		return;
	}
	c->heap_idx = SIZE_MAX;
	pool->heap.len--;
	if (i == pool->heap.len) {
		return;
	}
	heap_set(pool, i, pool->heap.items[pool->heap.len]);
	heap_up(pool, i);
	heap_down(pool, pool->heap.items[i]->heap_idx);
}

// call_arm makes sure the pool's deadline timer fires no later than
// deadline (a uv_now() time in milliseconds). A timer that fires early
// finds nothing due and re-arms for the earliest pending deadline
// (osc_call_expire).
static void call_arm(oscar_pool_t *pool, int64_t deadline)
{
	if (pool->state == OSC_POOL_CLOSED) {
		return;
	}
	if (pool->armed_at >= 0 && pool->armed_at <= deadline) {
		return;
	}
	int64_t now   = (int64_t) uv_now(&pool->loop);
	int64_t delay = deadline > now ? deadline - now : 0;
	uv_timer_start(&pool->timer, pool->timer_cb, (uint64_t) delay, 0);
	pool->armed_at = deadline;
}

// ---------------------------------------------------------------------------
// Starting and finishing calls

static void owner_link(osc_actor_t *a, osc_call_t *c)
{
	osc_list_prepend(&a->calls, &c->onode);
}

static void owner_unlink(osc_call_t *c)
{
	osc_list_remove(&c->owner->calls, &c->onode);
	c->owner = NULL;
}

static void parent_unlink(osc_call_t *c)
{
	osc_list_remove(&c->parent->children, &c->cnode);
	c->parent = NULL;
}

// osc_chain_build gives req the chain of a call made for parent: parent's
// chain and parent's own token.
int osc_chain_build(osc_req_t *req, const osc_req_t *parent, oscar_error_t *err)
{
	oscar_pool_t *pool = req->actor->pool;
	uint32_t      n    = parent->chain_len + 1;
	if (n > OSC_MAX_CHAIN) {
		osc_error_set(err, pool, OSCAR_ETOOLARGE, req->actor->ref.uid, req->method->name,
		    "call chain deeper than %d calls", OSC_MAX_CHAIN);
		return (OSCAR_ETOOLARGE);
	}
	if ((req->chain = malloc(n * sizeof(uint64_t))) == NULL) {
		osc_error_set(err, pool, OSCAR_ENOMEM, req->actor->ref.uid, req->method->name,
		    "no memory for a call");
		return (OSCAR_ENOMEM);
	}
	if (parent->chain_len != 0) {
		memcpy(req->chain, parent->chain, parent->chain_len * sizeof(uint64_t));
	}
	req->chain[n - 1] = parent->token;
	req->chain_len    = n;
	return (0);
}

// osc_call_reserve makes room in the deadline heap for one more call, so
// that osc_call_link cannot fail.
int osc_call_reserve(oscar_pool_t *pool)
{
	return (heap_reserve(pool));
}

// osc_call_new makes a call record for uid.method, not yet registered.
osc_call_t *osc_call_new(oscar_pool_t *pool, const char *uid, const char *method,
    int64_t timeout_ms, oscar_reply_cb cb, void *arg, oscar_call_t *host)
{
	osc_call_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return (NULL);
	}
	if (timeout_ms <= 0) {
		timeout_ms = pool->cfg.default_timeout_ms;
	}
	if (timeout_ms > OSCAR_TIMEOUT_MAX_MS) {
		timeout_ms = OSCAR_TIMEOUT_MAX_MS;
	}
	c->id = pool->next_call_id++;
	if (pool->next_call_id == 0) {
		pool->next_call_id = 1; // 0 names no call on the wire
	}
	c->pool       = pool;
	c->heap_idx   = SIZE_MAX;
	c->timeout_ms = timeout_ms;
	c->deadline   = (int64_t) uv_now(&pool->loop) + timeout_ms;
	c->cb         = cb;
	c->arg        = arg;
	c->host       = host;
	c->uid_len    = (uint8_t) strnlen(uid, OSCAR_UID_MAX - 1);
	snprintf(c->target, sizeof(c->target), "%s.%s", uid, method);
	return (c);
}

// osc_call_link registers c: its deadline, its owner's and its parent's
// lists. osc_call_reserve must have succeeded since the last link.
void osc_call_link(oscar_pool_t *pool, osc_call_t *c, osc_actor_t *owner, osc_req_t *parent)
{
	heap_push(pool, c);
	call_arm(pool, c->deadline);
	if (owner != NULL) {
		c->owner = owner;
		owner_link(owner, c);
	}
	if (parent != NULL) {
		c->parent = parent;
		osc_list_prepend(&parent->children, &c->cnode);
	}
	pool->stats.calls++;
}

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

// osc_call_complete settles c (once): unlinks it from its request and the
// heap, records the outcome and queues its callback. value is consumed.
void osc_call_complete(osc_call_t *c, int code, oscar_value_t *value, const oscar_error_t *err)
{
	oscar_pool_t *pool = c->pool;
	if (c->done) {
		oscar_value_free(value);
		return;
	}
	c->done = true;
	heap_remove(pool, c);
	if (c->peer != NULL) {
		osc_remote_detach(c);
	}
	if (c->req != NULL) {
		c->req->call = NULL;
		c->req       = NULL;
	}
	if (c->batch != NULL) {
		c->batch->call = NULL;
		c->batch       = NULL;
	}
	if (code == 0 && value == NULL && (value = oscar_value_new_nil()) == NULL) {
		code = OSCAR_ENOMEM;
	}
	if (code != 0) {
		oscar_value_free(value);
		value = NULL;
		oscar_error_t e;
		if (err == NULL) {
			osc_error_set(&e, pool, code, "", "", "%s", oscar_strerror(code));
			err = &e;
		}
		c->err = osc_error_dup(err);
		if (!c->internal) { // the pool's own calls are not its users'
			pool->stats.errors++;
			if (code == OSCAR_ETIMEDOUT) {
				pool->stats.timeouts++;
			}
		}
	}
	c->code  = code;
	c->value = value;
	osc_list_append(&pool->done, &c->dnode);
}

// call_invoke runs c's callback on its owner, which stays valid
// throughout: an exit requested by the callback waits until it returns.
static void call_invoke(osc_call_t *c, osc_actor_t *owner)
{
	oscar_result_t res = {
		.code  = c->code,
		.value = c->value,
		.error = c->err != NULL || c->code == 0 ? c->err : &c->pool->oom_err,
		.id    = c->id,
	};
	c->value     = NULL;
	bool running = (owner->flags & OSC_ACTOR_RUNNING) != 0;
	owner->flags |= OSC_ACTOR_RUNNING;
	c->cb(owner, &res, c->arg);
	if (!running) {
		owner->flags &= ~OSC_ACTOR_RUNNING;
	}
	oscar_value_free(res.value);
}

static void call_free(osc_call_t *c)
{
	if (c->parent != NULL) {
		osc_req_t *p = c->parent;
		parent_unlink(c);
		osc_req_maybe_free(p);
	}
	oscar_value_free(c->value);
	free(c->err);
	free(c);
}

// osc_call_run_done runs the callbacks of finished calls, in order.
void osc_call_run_done(oscar_pool_t *pool)
{
	osc_node_t *node;
	while ((node = osc_list_pop(&pool->done)) != NULL) {
		osc_call_t *c = OSC_CONTAINER_OF(node, osc_call_t, dnode);
		if (c->host != NULL) {
			pool->hooks->host_finish(c);
		} else if (c->internal) {
			oscar_result_t res = {
				.code  = c->code,
				.value = c->value,
				.error = c->err != NULL || c->code == 0 ? c->err : &pool->oom_err,
				.id    = c->id,
			};
			c->value = NULL;
			c->cb(NULL, &res, c->arg);
			oscar_value_free(res.value);
		} else if (c->owner != NULL && !c->orphan) {
			osc_actor_t *owner = c->owner;
			owner_unlink(c);
			call_invoke(c, owner);
			if ((owner->flags & (OSC_ACTOR_EXITING | OSC_ACTOR_RUNNING)) ==
			    OSC_ACTOR_EXITING) {
				osc_actor_destroy(owner);
			}
		}
		call_free(c);
	}
}

// osc_call_expire fails every call whose deadline has passed, then arms
// the timer for the next one.
void osc_call_expire(oscar_pool_t *pool, int64_t now)
{
	while (pool->heap.len != 0 && pool->heap.items[0]->deadline <= now) {
		osc_call_t   *c = pool->heap.items[0];
		oscar_error_t err;
		if (c->timer) {
			osc_call_complete(c, 0, NULL, NULL); // a timer is due
			continue;
		}
		osc_error_set(&err, pool, OSCAR_ETIMEDOUT, "", "",
		    "call to %s timed out after %" PRId64 " ms", c->target, c->timeout_ms);
		if (c->req != NULL) {
			snprintf(err.actor, sizeof(err.actor), "%s", c->req->actor->ref.uid);
			snprintf(err.method, sizeof(err.method), "%s", c->req->method->name);
		} else if (c->peer != NULL) {
			osc_remote_timeout(c, &err);
		}
		osc_call_complete(c, OSCAR_ETIMEDOUT, NULL, &err);
	}
	if (pool->heap.len != 0) {
		call_arm(pool, pool->heap.items[0]->deadline);
	}
}

// osc_call_cancel asks the target of c to stop; a call whose request is
// gone (or was split into a batch) fails with OSCAR_ECANCELED at once.
void osc_call_cancel(osc_call_t *c)
{
	if (c->done) {
		return;
	}
	if (c->req != NULL) {
		osc_req_cancel(c->req);
		return;
	}
	if (c->peer != NULL) {
		// The remote pool decides, as a local one would; the deadline
		// still holds if the cancel never arrives.
		osc_remote_cancel(c);
		return;
	}
	oscar_error_t err;
	osc_error_set(&err, c->pool, OSCAR_ECANCELED, "", "", "call to %s cancelled", c->target);
	osc_call_complete(c, OSCAR_ECANCELED, NULL, &err);
}

// osc_call_fail_all fails every pending call of pool with code.
void osc_call_fail_all(oscar_pool_t *pool, int code)
{
	while (pool->heap.len != 0) {
		osc_call_t   *c = pool->heap.items[0];
		oscar_error_t err;
		osc_error_set(&err, pool, code, "", "", "call to %s failed: pool %s is closing",
		    c->target, pool->address);
		osc_call_complete(c, code, NULL, &err);
	}
}

// osc_call_detach_owner settles every call a made: pending ones fail with
// OSCAR_ECANCELED. With notify, their callbacks run now, while a is still
// whole; without, they are dropped.
void osc_call_detach_owner(osc_actor_t *a, bool notify)
{
	osc_call_t *c;
	while ((c = OSC_LIST_FIRST(&a->calls, osc_call_t, onode)) != NULL) {
		if (!c->done) {
			oscar_error_t err;
			osc_error_set(&err, a->pool, OSCAR_ECANCELED, a->ref.uid, "",
			    "call to %s cancelled: the calling actor %s is being destroyed",
			    c->target, a->ref.uid);
			osc_call_complete(c, OSCAR_ECANCELED, NULL, &err);
		}
		// c now waits in the done queue; it is told here instead.
		owner_unlink(c);
		c->orphan = true;
		if (notify) {
			call_invoke(c, a);
		}
	}
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
