// Calls: the caller's side. Call records and their deadlines, reply
// callbacks, cancellation, and the host-thread API built on them.
//
// Design note. Every call, from an actor or from a host thread, is an
// osc_call_t on the loop of the pool that started it, sitting in a binary
// heap ordered by deadline; one libuv timer per pool fires for the earliest.
// A finished call (replied, failed, timed out, cancelled) leaves the heap
// and joins the done queue, whose callbacks run from the pool's run loop,
// never from inside the replying handler.
//
// A host thread's synchronous call is oscar_call_start plus
// oscar_call_wait: the handle is posted to the pool's inbox, the loop
// starts an ordinary call on its behalf, and the done queue signals the
// handle's condition variable. The host enforces the deadline itself as
// well, so even a pool thread stuck in a hook never holds it past it.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "actors/pool_int.h"
#include "actors/subpool.h"
#include "actors/transport.h"
#include "actors/wire.h"

#define OSC_MAX_CHAIN 256

// How long after a call's deadline a host thread stops waiting for the
// pool to report it.
#define OSC_HOST_GRACE_MS 20

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

// osc_fail fills err (if given) for a failure found before any pool was
// involved, and returns code.
static int osc_fail(oscar_error_t *err, int code, const char *msg)
{
	if (oscar_error_set(err, code, "%s", msg) != 0 && err != NULL) {
		err->pid = (int64_t) getpid();
	}
	return (code);
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

static bool osc_heap_less(const osc_call_t *a, const osc_call_t *b)
{
	return (a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id));
}

static void osc_heap_set(oscar_pool_t *pool, size_t i, osc_call_t *c)
{
	pool->heap.items[i] = c;
	c->heap_idx         = i;
}

static void osc_heap_up(oscar_pool_t *pool, size_t i)
{
	osc_call_t *c = pool->heap.items[i];
	while (i > 0) {
		size_t      p  = (i - 1) / 2;
		osc_call_t *pc = pool->heap.items[p];
		if (!osc_heap_less(c, pc)) {
			break;
		}
		osc_heap_set(pool, i, pc);
		i = p;
	}
	osc_heap_set(pool, i, c);
}

static void osc_heap_down(oscar_pool_t *pool, size_t i)
{
	osc_call_t *c = pool->heap.items[i];
	size_t      n = pool->heap.len;
	for (;;) {
		size_t      l = 2 * i + 1, m = i;
		osc_call_t *mc = c;
		if (l < n && osc_heap_less(pool->heap.items[l], mc)) {
			m  = l;
			mc = pool->heap.items[l];
		}
		if (l + 1 < n && osc_heap_less(pool->heap.items[l + 1], mc)) {
			m  = l + 1;
			mc = pool->heap.items[l + 1];
		}
		if (m == i) {
			break;
		}
		osc_heap_set(pool, i, mc);
		i = m;
	}
	osc_heap_set(pool, i, c);
}

// osc_heap_reserve makes room for one more call.
static int osc_heap_reserve(oscar_pool_t *pool)
{
	return (osc_reserve(
	    &pool->heap.items, &pool->heap.cap, pool->heap.len, sizeof(*pool->heap.items), 64));
}

// osc_heap_push adds c; osc_heap_reserve must have succeeded first.
static void osc_heap_push(oscar_pool_t *pool, osc_call_t *c)
{
	pool->heap.items[pool->heap.len] = c;
	c->heap_idx                      = pool->heap.len++;
	osc_heap_up(pool, c->heap_idx);
}

static void osc_heap_remove(oscar_pool_t *pool, osc_call_t *c)
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
	osc_heap_set(pool, i, pool->heap.items[pool->heap.len]);
	osc_heap_up(pool, i);
	osc_heap_down(pool, pool->heap.items[i]->heap_idx);
}

// ---------------------------------------------------------------------------
// Starting and finishing calls

static void osc_owner_link(osc_actor_t *a, osc_call_t *c)
{
	c->oprev = NULL;
	c->onext = a->calls;
	if (a->calls != NULL) {
		a->calls->oprev = c;
	}
	a->calls = c;
}

static void osc_owner_unlink(osc_call_t *c)
{
	osc_actor_t *a = c->owner;
	if (c->oprev != NULL) {
		c->oprev->onext = c->onext;
	} else {
		a->calls = c->onext;
	}
	if (c->onext != NULL) {
		c->onext->oprev = c->oprev;
	}
	c->onext = c->oprev = NULL;
	c->owner            = NULL;
}

static void osc_parent_unlink(osc_call_t *c)
{
	osc_req_t *p = c->parent;
	if (c->cprev != NULL) {
		c->cprev->cnext = c->cnext;
	} else {
		p->children = c->cnext;
	}
	if (c->cnext != NULL) {
		c->cnext->cprev = c->cprev;
	}
	c->cnext = c->cprev = NULL;
	c->parent           = NULL;
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
	return (osc_heap_reserve(pool));
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
	osc_heap_push(pool, c);
	osc_pool_arm(pool, c->deadline);
	if (owner != NULL) {
		c->owner = owner;
		osc_owner_link(owner, c);
	}
	if (parent != NULL) {
		c->parent = parent;
		c->cprev  = NULL;
		c->cnext  = parent->children;
		if (parent->children != NULL) {
			parent->children->cprev = c;
		}
		parent->children = c;
	}
	pool->stats.calls++;
}

// osc_call_start resolves ref and method in pool, queues a request for it,
// and (for anything but a tell) makes the call record that waits for the
// answer; a ref to another pool goes to the transport. args are consumed.
// On failure nothing is left behind, err says why, and neither cb nor host
// is ever told.
int osc_call_start(oscar_pool_t *pool, osc_actor_t *owner, osc_req_t *parent,
    const oscar_ref_t *ref, const char *method, osc_req_kind_t kind, oscar_value_t *args,
    int64_t timeout_ms, oscar_reply_cb cb, void *arg, oscar_call_t *host, osc_call_t **callp,
    oscar_error_t *err)
{
	int rv;
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
		return (osc_remote_start(pool, owner, parent, ref, method, kind, args, timeout_ms,
		    cb, arg, host, callp, err));
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
		    (c = osc_call_new(pool, ref->uid, method, timeout_ms, cb, arg, host)) == NULL) {
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
	osc_heap_remove(pool, c);
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
	c->code      = code;
	c->value     = value;
	c->done_next = NULL;
	if (pool->done_tail != NULL) {
		pool->done_tail->done_next = c;
	} else {
		pool->done_head = c;
	}
	pool->done_tail = c;
}

static void osc_host_finish(osc_call_t *c)
{
	oscar_call_t *h = c->host;
	h->call         = NULL;
	c->host         = NULL;
	h->reply        = c->value;
	c->value        = NULL;
	if (c->code == 0) {
		// Pool-level requests answered by another pool.
		const char *addr, *uid;
		if (h->op == OSC_OP_HAS) {
			(void) oscar_value_get_bool(h->reply, &h->exists);
		} else if ((h->op == OSC_OP_LOOKUP || h->op == OSC_OP_CREATE_NAMED) &&
		           oscar_value_get_str(oscar_value_at(h->reply, 0), &addr, NULL) == 0 &&
		           oscar_value_get_str(oscar_value_at(h->reply, 1), &uid, NULL) == 0) {
			(void) oscar_ref_make(&h->ref, addr, uid);
			if (h->op == OSC_OP_CREATE_NAMED && h->sub_index > 0 &&
			    h->sub_index <= c->pool->subs.n) {
				osc_subpool_record(c->pool->subs.v[h->sub_index - 1], h->method,
				    uid, h->args_copy);
			}
		}
	}
	oscar_error_t e;
	if (c->code != 0 && c->err == NULL) {
		osc_error_set(&e, c->pool, c->code, "", "", "%s", oscar_strerror(c->code));
	}
	osc_host_complete(h, c->code, c->err != NULL ? c->err : &e);
	osc_host_release(h);
}

// osc_call_invoke runs c's callback on its owner, which stays valid
// throughout: an exit requested by the callback waits until it returns.
static void osc_call_invoke(osc_call_t *c, osc_actor_t *owner)
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

static void osc_call_free(osc_call_t *c)
{
	if (c->parent != NULL) {
		osc_req_t *p = c->parent;
		osc_parent_unlink(c);
		osc_req_maybe_free(p);
	}
	oscar_value_free(c->value);
	free(c->err);
	free(c);
}

// osc_call_run_done runs the callbacks of finished calls, in order.
void osc_call_run_done(oscar_pool_t *pool)
{
	osc_call_t *c;
	while ((c = pool->done_head) != NULL) {
		pool->done_head = c->done_next;
		if (pool->done_head == NULL) {
			pool->done_tail = NULL;
		}
		if (c->host != NULL) {
			osc_host_finish(c);
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
			osc_owner_unlink(c);
			osc_call_invoke(c, owner);
			if ((owner->flags & (OSC_ACTOR_EXITING | OSC_ACTOR_RUNNING)) ==
			    OSC_ACTOR_EXITING) {
				osc_actor_destroy(owner);
			}
		}
		osc_call_free(c);
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
		osc_pool_arm(pool, pool->heap.items[0]->deadline);
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
	while ((c = a->calls) != NULL) {
		if (!c->done) {
			oscar_error_t err;
			osc_error_set(&err, a->pool, OSCAR_ECANCELED, a->ref.uid, "",
			    "call to %s cancelled: the calling actor %s is being destroyed",
			    c->target, a->ref.uid);
			osc_call_complete(c, OSCAR_ECANCELED, NULL, &err);
		}
		// c now waits in the done queue; it is told here instead.
		osc_owner_unlink(c);
		c->orphan = true;
		if (notify) {
			osc_call_invoke(c, a);
		}
	}
}

// ---------------------------------------------------------------------------
// Actor-side API

// oscar_actor_call calls ref.method from actor self.
int oscar_actor_call(oscar_actor_t *self, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg, uint64_t *id)
{
	oscar_error_t err;
	osc_call_t   *c;
	if (self == NULL || ref == NULL || method == NULL || cb == NULL || timeout_ms < 0) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	int rv = osc_call_start(self->pool, self, NULL, ref, method, OSC_REQ_CALL, args, timeout_ms,
	    cb, arg, NULL, &c, &err);
	if (rv != 0) {
		self->pool->last_err = err;
	} else if (id != NULL) {
		*id = c->id;
	}
	return (rv);
}

// oscar_req_call calls ref.method on behalf of req.
int oscar_req_call(oscar_req_t *req, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg, uint64_t *id)
{
	oscar_error_t err;
	osc_call_t   *c;
	if (req == NULL || ref == NULL || method == NULL || cb == NULL || timeout_ms < 0) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	osc_actor_t *self = req->actor;
	int rv = osc_call_start(self->pool, self, req, ref, method, OSC_REQ_CALL, args, timeout_ms,
	    cb, arg, NULL, &c, &err);
	if (rv != 0) {
		self->pool->last_err = err;
	} else if (id != NULL) {
		*id = c->id;
	}
	return (rv);
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
	for (osc_call_t *c = self->calls; c != NULL; c = c->onext) {
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
	int rv = osc_call_start(self->pool, self, NULL, ref, method, OSC_REQ_TELL, args, 0, NULL,
	    NULL, NULL, NULL, &err);
	if (rv != 0) {
		self->pool->last_err = err;
	}
	return (rv);
}

// ---------------------------------------------------------------------------
// Host handles

// osc_host_complete records the outcome in h and wakes its waiter; if the
// waiter gave up, the outcome is dropped.
void osc_host_complete(oscar_call_t *h, int code, const oscar_error_t *err)
{
	uv_mutex_lock(&h->mu);
	if (!h->abandoned) {
		h->code = code;
		if (code != 0 && err != NULL) {
			h->err = *err;
		}
		h->done = true;
		uv_cond_signal(&h->cv);
	}
	uv_mutex_unlock(&h->mu);
}

// osc_host_release drops one reference to h, freeing it with the last.
void osc_host_release(oscar_call_t *h)
{
	// Acq-rel: the last owner must see every write the others made
	// before it frees the handle.
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1) {
		return;
	}
	oscar_value_free(h->args);
	oscar_value_free(h->reply);
	oscar_value_free(h->args_copy);
	uv_cond_destroy(&h->cv);
	uv_mutex_destroy(&h->mu);
	free(h);
}

enum {
	OSC_SUB_INFO,
	OSC_SUB_KILL,
	OSC_SUB_WAIT,
	OSC_SUB_ADD,
	OSC_SUB_REMOVE,
};

// osc_sub_done tells whether waiter h is finished, and how.
static bool osc_sub_done(oscar_pool_t *pool, oscar_call_t *h, int *rv, oscar_error_t *err)
{
	osc_subpool_t *s = pool->subs.v[h->sub_index];
	if (h->sub_op == OSC_SUB_REMOVE) {
		*rv = 0;
		return (s->handles == 0);
	}
	if (s->ready) {
		*rv = 0;
		return (true);
	}
	if (s->stopping || s->removed || pool->state != OSC_POOL_RUNNING ||
	    (!s->alive && s->handles == 0 && pool->cfg.recover == OSCAR_RECOVER_OFF)) {
		*rv = OSCAR_EPEERGONE;
		osc_error_set(err, pool, *rv, "", "", "sub pool %u (%s) will not be back: %s",
		    s->index, s->address, s->last_exit[0] ? s->last_exit : "stopped");
		return (true);
	}
	return (false);
}

// osc_sub_notify finishes the waiters whose sub pool got where they wait.
void osc_sub_notify(oscar_pool_t *pool)
{
	oscar_call_t **pp = &pool->subs.waiters;
	while (*pp != NULL) {
		oscar_call_t *h = *pp;
		oscar_error_t err;
		int           rv;
		memset(&err, 0, sizeof(err));
		if (!osc_sub_done(pool, h, &rv, &err)) {
			pp = &h->wnext;
			continue;
		}
		*pp = h->wnext;
		osc_host_complete(h, rv, &err);
		osc_host_release(h);
	}
}

// osc_host_sub performs a sub pool operation; true when h now waits.
static bool osc_host_sub(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err, int *rv)
{
	*rv = 0;
	if (h->sub_op == OSC_SUB_INFO) {
		oscar_sub_pool_info_t *out = h->out;
		h->out_n                   = pool->subs.n;
		for (unsigned i = 0; i < pool->subs.n && i < h->out_cap; i++) {
			osc_subpool_t *s = pool->subs.v[i];
			memset(&out[i], 0, sizeof(out[i]));
			out[i].index    = s->index;
			out[i].pid      = s->pid;
			out[i].alive    = s->alive && s->ready;
			out[i].removed  = s->removed;
			out[i].restarts = s->restarts;
			snprintf(out[i].address, sizeof(out[i].address), "%s", s->address);
			snprintf(out[i].label, sizeof(out[i].label), "%s", s->label);
			snprintf(out[i].last_exit, sizeof(out[i].last_exit), "%s", s->last_exit);
		}
		return (false);
	}
	if (h->sub_op == OSC_SUB_ADD) {
		if ((*rv = osc_subpool_add(pool, h->label[0] ? h->label : NULL, &h->sub_index)) !=
		    0) {
			osc_error_set(err, pool, *rv, "", "", "cannot add a sub pool");
			return (false);
		}
	} else if (h->sub_index >= pool->subs.n || pool->subs.v[h->sub_index]->removed) {
		*rv = OSCAR_ENOENT;
		osc_error_set(
		    err, pool, *rv, "", "", "no sub pool %u in %s", h->sub_index, pool->address);
		return (false);
	}
	osc_subpool_t *s = pool->subs.v[h->sub_index];
	if (h->sub_op == OSC_SUB_KILL) {
		if (s->alive) {
			uv_process_kill(&s->proc, SIGKILL);
			// Not ready from now on: a wait for recovery waits for the
			// next process, not for this one's exit to be noticed.
			s->ready = false;
		}
		return (false);
	}
	if (h->sub_op == OSC_SUB_REMOVE) {
		s->removed = true;
		osc_subpool_stop(pool, s);
	}
	if (osc_sub_done(pool, h, rv, err)) {
		return (false);
	}
	h->wnext           = pool->subs.waiters;
	pool->subs.waiters = h;
	return (true);
}

// osc_host_run performs host handle h on the loop.
void osc_host_run(oscar_pool_t *pool, oscar_call_t *h)
{
	oscar_error_t  err;
	osc_actor_t   *a;
	oscar_value_t *args = h->args;
	int            rv   = 0;
	h->args             = NULL;
	memset(&err, 0, sizeof(err));

	switch (h->op) {
	case OSC_OP_CALL:
	case OSC_OP_BATCH:
		rv = osc_call_start(pool, NULL, NULL, &h->ref, h->method,
		    h->op == OSC_OP_CALL ? OSC_REQ_CALL : OSC_REQ_BATCH, args, h->timeout_ms, NULL,
		    NULL, h, &h->call, &err);
		if (rv == 0) {
			return; // the call's completion finishes h
		}
		break;
	case OSC_OP_TELL:
		rv = osc_call_start(pool, NULL, NULL, &h->ref, h->method, OSC_REQ_TELL, args, 0,
		    NULL, NULL, NULL, NULL, &err);
		if (rv != 0 && h->nowait) {
			// Relaxed: a statistic.
			atomic_fetch_add_explicit(&pool->dropped, 1, memory_order_relaxed);
		}
		break;
	case OSC_OP_CREATE:
		rv = osc_actor_create(
		    pool, h->cls, h->ref.uid[0] ? h->ref.uid : NULL, args, &a, &err);
		if (rv == 0) {
			h->ref = a->ref;
		}
		break;
	case OSC_OP_CREATE_NAMED:
		if (h->placement.how >= OSCAR_PLACE_SUB_POOL) {
			osc_subpool_t *sp;
			h->placement.label = h->label[0] ? h->label : NULL;
			h->placement.mark  = h->mark[0] ? h->mark : NULL;
			if ((rv = osc_subpool_place(pool, &h->placement, &sp, &err)) != 0) {
				oscar_value_free(args);
				break;
			}
			h->sub_index = sp->index + 1;
			if (pool->cfg.recover == OSCAR_RECOVER_ACTOR && args != NULL) {
				h->args_copy = oscar_value_copy(args);
			}
			snprintf(h->ref.addr, sizeof(h->ref.addr), "%s", sp->address);
		}
		if (h->ref.addr[0] != '\0' && strcmp(h->ref.addr, pool->address) != 0) {
			rv = osc_remote_control(pool, OSC_MSG_CREATE, h->ref.addr, h->ref.uid,
			    h->method, args, h->timeout_ms, h, &err);
			if (rv == 0) {
				return; // the reply finishes h
			}
			break;
		}
		if ((h->cls = osc_class_find(pool, h->method)) == NULL) {
			oscar_value_free(args);
			rv = OSCAR_ENOENT;
			osc_error_set(&err, pool, rv, h->ref.uid, "",
			    "no class %s offered by pool %s", h->method, pool->address);
			break;
		}
		rv = osc_actor_create(
		    pool, h->cls, h->ref.uid[0] ? h->ref.uid : NULL, args, &a, &err);
		if (rv == 0) {
			h->ref = a->ref;
		}
		break;
	case OSC_OP_DESTROY:
	case OSC_OP_HAS:
	case OSC_OP_LOOKUP:
		if (!osc_ref_is_local(pool, &h->ref)) {
			rv = osc_remote_control(pool,
			    h->op == OSC_OP_DESTROY ? OSC_MSG_DESTROY
			    : h->op == OSC_OP_HAS   ? OSC_MSG_HAS
			                            : OSC_MSG_LOOKUP,
			    h->ref.addr, h->ref.uid, "", args, h->timeout_ms, h, &err);
			if (rv == 0) {
				return; // the reply finishes h
			}
			break;
		}
		oscar_value_free(args);
		a = osc_actor_find(pool, h->ref.uid);
		if (h->op == OSC_OP_HAS) {
			h->exists = a != NULL;
		} else if (a == NULL) {
			rv = OSCAR_ENOACTOR;
			osc_error_set(&err, pool, rv, h->ref.uid, "", "no actor %s in pool %s",
			    h->ref.uid, pool->address);
		} else if (h->op == OSC_OP_LOOKUP) {
			h->ref = a->ref;
		} else {
			rv = osc_actor_destroy(a);
		}
		break;
	case OSC_OP_SUB:
		oscar_value_free(args);
		if (osc_host_sub(pool, h, &err, &rv)) {
			return; // a waiter: osc_sub_notify finishes h
		}
		break;
	case OSC_OP_STATS:
		oscar_value_free(args);
		h->stats        = pool->stats;
		h->stats.actors = pool->actors.len;
		// Relaxed: a statistic.
		h->stats.dropped = atomic_load_explicit(&pool->dropped, memory_order_relaxed);
		osc_transport_stats(pool, &h->stats);
		break;
	}
	osc_host_complete(h, rv, &err);
	osc_host_release(h);
}

// osc_host_cancel cancels the call behind h, if it is still running.
void osc_host_cancel(oscar_pool_t *pool, oscar_call_t *h)
{
	if (pool->state == OSC_POOL_RUNNING && h->call != NULL) {
		osc_call_cancel(h->call);
	}
	osc_host_release(h);
}

// osc_tell_run resolves and queues a tell posted by a host thread.
void osc_tell_run(oscar_pool_t *pool, osc_req_t *req)
{
	oscar_error_t         err;
	const char           *uid    = req->target;
	const char           *method = uid + strlen(uid) + 1;
	osc_actor_t          *a      = osc_actor_find(pool, uid);
	const oscar_method_t *m      = a != NULL ? osc_method_find(a->cls, method) : NULL;
	if (m != NULL) {
		req->actor  = a;
		req->method = m;
		if (osc_actor_enqueue(a, req, &err) == 0) {
			return;
		}
	}
	// Relaxed: a statistic.
	atomic_fetch_add_explicit(&pool->dropped, 1, memory_order_relaxed);
	oscar_value_free(req->args);
	free(req);
}

// osc_host_new_cls makes and posts a host handle. args are consumed.
// osc_host_prep_t fills what an operation needs in h before it is posted.
typedef struct osc_host_prep {
	int                      sub_op;
	unsigned                 sub_index;
	const char              *label;
	const char              *mark;
	const oscar_placement_t *placement;
	oscar_sub_pool_info_t   *out;
	size_t                   out_cap;
	bool                     nowait; // a tell nobody waits for
} osc_host_prep_t;

static int osc_host_new_prep(oscar_pool_t *pool, osc_op_t op, const oscar_ref_t *ref,
    const char *method, const oscar_actor_class_t *cls, oscar_value_t *args, int64_t timeout_ms,
    oscar_call_t **hp, oscar_error_t *err, const osc_host_prep_t *prep);

static int osc_host_new_cls(oscar_pool_t *pool, osc_op_t op, const oscar_ref_t *ref,
    const char *method, const oscar_actor_class_t *cls, oscar_value_t *args, int64_t timeout_ms,
    oscar_call_t **hp, oscar_error_t *err)
{
	return (osc_host_new_prep(pool, op, ref, method, cls, args, timeout_ms, hp, err, NULL));
}

// osc_host_new_prep makes and posts a host handle. args are consumed.
static int osc_host_new_prep(oscar_pool_t *pool, osc_op_t op, const oscar_ref_t *ref,
    const char *method, const oscar_actor_class_t *cls, oscar_value_t *args, int64_t timeout_ms,
    oscar_call_t **hp, oscar_error_t *err, const osc_host_prep_t *prep)
{
	int rv;
	*hp = NULL;
	if (pool == NULL || timeout_ms < 0 ||
	    (method != NULL && strlen(method) >= OSCAR_NAME_MAX)) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_EINVAL,
		    pool == NULL     ? "no pool given"
		    : timeout_ms < 0 ? "negative timeout"
		                     : "method name longer than 63 bytes"));
	}
	if (osc_pool_on_loop(pool) && (prep == NULL || !prep->nowait)) {
		// Waiting here would stop the very loop that must answer.
		oscar_value_free(args);
		if (err != NULL) {
			osc_error_set(err, pool, OSCAR_ESTATE, ref ? ref->uid : "", method,
			    "synchronous call from the thread of pool %s; use the actor API",
			    pool->address);
		}
		return (OSCAR_ESTATE);
	}
	oscar_call_t *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_ENOMEM, "no memory for a call"));
	}
	if (uv_mutex_init(&h->mu) != 0) {
		free(h);
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_ESYSTEM, "cannot make a mutex"));
	}
	if (uv_cond_init(&h->cv) != 0) {
		uv_mutex_destroy(&h->mu);
		free(h);
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_ESYSTEM, "cannot make a condition variable"));
	}
	if (timeout_ms == 0) {
		timeout_ms = pool->cfg.default_timeout_ms;
	}
	if (timeout_ms > OSCAR_TIMEOUT_MAX_MS) {
		timeout_ms = OSCAR_TIMEOUT_MAX_MS;
	}
	atomic_init(&h->refs, 2);
	atomic_init(&h->cancel_sent, false);
	h->post.kind        = OSC_POST_HOST;
	h->cancel_post.kind = OSC_POST_CANCEL;
	h->op               = op;
	h->pool             = pool;
	h->cls              = cls;
	h->timeout_ms       = timeout_ms;
	// The pool's own timer fails the call at its deadline, with the
	// details only the pool knows; the host gives up OSC_HOST_GRACE_MS
	// later in case the pool thread is stuck (a blocking hook, say).
	h->deadline_ns = uv_hrtime() + (uint64_t) (timeout_ms + OSC_HOST_GRACE_MS) * 1000000u;
	h->args        = args;
	if (ref != NULL) {
		h->ref = *ref;
	}
	if (method != NULL) {
		snprintf(h->method, sizeof(h->method), "%s", method);
	}
	if (prep != NULL) {
		h->sub_op    = prep->sub_op;
		h->sub_index = prep->sub_index;
		h->out       = prep->out;
		h->out_cap   = prep->out_cap;
		h->nowait    = prep->nowait;
		if (prep->placement != NULL) {
			h->placement = *prep->placement;
		}
		snprintf(h->label, sizeof(h->label), "%s", prep->label ? prep->label : "");
		snprintf(h->mark, sizeof(h->mark), "%s", prep->mark ? prep->mark : "");
	}
	if ((rv = osc_pool_post(pool, &h->post)) != 0) {
		if (err != NULL) {
			osc_error_set(err, pool, rv, h->ref.uid, h->method,
			    rv == OSCAR_ECLOSED ? "pool %s is closed" : "inbox of pool %s is full",
			    pool->address);
		}
		atomic_store(&h->refs, 1);
		osc_host_release(h);
		return (rv);
	}
	*hp = h;
	return (0);
}

// osc_host_new makes and posts a host handle. args are consumed.
static int osc_host_new(oscar_pool_t *pool, osc_op_t op, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_call_t **hp, oscar_error_t *err)
{
	return (osc_host_new_cls(pool, op, ref, method, NULL, args, timeout_ms, hp, err));
}

// osc_host_wait waits for h until its deadline. Returns its code; on a
// failure err (if given) gets the details. Releases the host's reference.
static int osc_host_wait(oscar_call_t *h, oscar_error_t *err)
{
	int rv;
	uv_mutex_lock(&h->mu);
	while (!h->done) {
		uint64_t now = uv_hrtime();
		if (now >= h->deadline_ns) {
			h->abandoned = true;
			break;
		}
		(void) uv_cond_timedwait(&h->cv, &h->mu, h->deadline_ns - now);
	}
	if (h->done) {
		rv = h->code;
		if (rv != 0 && err != NULL) {
			*err = h->err;
		}
	} else {
		rv = OSCAR_ETIMEDOUT;
		if (err != NULL) {
			osc_error_set(err, h->pool, rv, h->ref.uid, h->method,
			    "%s%s%s timed out after %" PRId64 " ms", h->ref.uid,
			    h->method[0] ? "." : "", h->method, h->timeout_ms);
		}
	}
	uv_mutex_unlock(&h->mu);
	return (rv);
}

// ---------------------------------------------------------------------------
// Host-thread API

int oscar_call_start(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_call_t **callp)
{
	if (callp == NULL || ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	return (osc_host_new(pool, OSC_OP_CALL, ref, method, args, timeout_ms, callp, NULL));
}

void oscar_call_cancel(oscar_call_t *h)
{
	if (h == NULL) {
		return;
	}
	// Under the handle's lock, a call that is not done keeps its pool
	// alive: the pool cannot finish closing before it has completed the
	// call, which needs this lock. A done call needs no cancel.
	uv_mutex_lock(&h->mu);
	if (h->done || h->abandoned || atomic_exchange(&h->cancel_sent, true)) {
		uv_mutex_unlock(&h->mu);
		return;
	}
	atomic_fetch_add(&h->refs, 1);
	// Past the inbox bound: a cancel must not be lost to a full inbox,
	// and there is at most one per handle.
	osc_pool_post_always(h->pool, &h->cancel_post);
	uv_mutex_unlock(&h->mu);
}

int oscar_call_wait(oscar_call_t **callp, oscar_value_t **reply, oscar_error_t *err)
{
	if (reply != NULL) {
		*reply = NULL;
	}
	if (callp == NULL || *callp == NULL) {
		return (osc_fail(err, OSCAR_EINVAL, "no call handle given"));
	}
	oscar_call_t *h = *callp;
	*callp          = NULL;
	int rv          = osc_host_wait(h, err);
	if (rv == 0 && reply != NULL) {
		// The loop is done with h->reply once done is set.
		*reply   = h->reply;
		h->reply = NULL;
	}
	osc_host_release(h);
	return (rv);
}

// osc_host_sync posts a host operation and waits for it; out (optional)
// receives the finished handle, which the caller then releases.
static int osc_host_sync(oscar_pool_t *pool, osc_op_t op, const oscar_ref_t *ref,
    const char *method, oscar_value_t *args, int64_t timeout_ms, oscar_call_t **out,
    oscar_error_t *err)
{
	oscar_call_t *h;
	int           rv = osc_host_new(pool, op, ref, method, args, timeout_ms, &h, err);
	if (rv != 0) {
		return (rv);
	}
	rv = osc_host_wait(h, err);
	if (out != NULL && rv == 0) {
		*out = h;
	} else {
		osc_host_release(h);
	}
	return (rv);
}

int oscar_call(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	oscar_call_t *h;
	if (reply != NULL) {
		*reply = NULL;
	}
	if (ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (
		    osc_fail(err, OSCAR_EINVAL, ref == NULL ? "no ref given" : "no method given"));
	}
	int rv = osc_host_sync(pool, OSC_OP_CALL, ref, method, args, timeout_ms, &h, err);
	if (rv == 0) {
		if (reply != NULL) {
			*reply   = h->reply;
			h->reply = NULL;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_batch(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **replies, oscar_error_t *err)
{
	oscar_call_t *h;
	if (replies != NULL) {
		*replies = NULL;
	}
	if (ref == NULL || method == NULL || args == NULL || args->type != OSCAR_ARRAY) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_EINVAL,
		    ref == NULL || method == NULL
		        ? "no ref or method given"
		        : "a batch takes an array of per-call arguments"));
	}
	int rv = osc_host_sync(pool, OSC_OP_BATCH, ref, method, args, timeout_ms, &h, err);
	if (rv == 0) {
		if (replies != NULL) {
			*replies = h->reply;
			h->reply = NULL;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_tell(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_error_t *err)
{
	if (ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (
		    osc_fail(err, OSCAR_EINVAL, ref == NULL ? "no ref given" : "no method given"));
	}
	return (osc_host_sync(pool, OSC_OP_TELL, ref, method, args, timeout_ms, NULL, err));
}

int oscar_tell_nowait(
    oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args)
{
	if (pool == NULL || ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	size_t ulen = strnlen(ref->uid, OSCAR_UID_MAX);
	size_t mlen = strnlen(method, OSCAR_NAME_MAX);
	if (ulen == 0 || ulen == OSCAR_UID_MAX || mlen == OSCAR_NAME_MAX) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	if (!osc_ref_is_local(pool, ref)) {
		// Another pool's actor: the loop sends it; nobody waits.
		oscar_call_t   *h;
		osc_host_prep_t prep = { .nowait = true };
		int             rv   = osc_host_new_prep(
		                  pool, OSC_OP_TELL, ref, method, NULL, args, 0, &h, NULL, &prep);
		if (rv == 0) {
			osc_host_release(h);
		}
		return (rv);
	}
	// One allocation: the request, then "uid\0method\0" for the loop to
	// resolve.
	osc_req_t *req = calloc(1, sizeof(*req) + ulen + mlen + 2);
	if (req == NULL) {
		oscar_value_free(args);
		return (OSCAR_ENOMEM);
	}
	char *target = (char *) (req + 1);
	memcpy(target, ref->uid, ulen);
	memcpy(target + ulen + 1, method, mlen);
	req->target    = target;
	req->post.kind = OSC_POST_TELL;
	req->kind      = OSC_REQ_TELL;
	req->args      = args;
	int rv         = osc_pool_post(pool, &req->post);
	if (rv != 0) {
		oscar_value_free(args);
		free(req);
	}
	return (rv);
}

int oscar_create(oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid,
    oscar_value_t *args, int64_t timeout_ms, oscar_ref_t *ref, oscar_error_t *err)
{
	oscar_call_t *h;
	oscar_ref_t   target;
	memset(&target, 0, sizeof(target));
	if (pool == NULL || cls == NULL || cls->name == NULL ||
	    (uid != NULL && (uid[0] == '\0' || strlen(uid) >= OSCAR_UID_MAX))) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_EINVAL,
		    pool == NULL                       ? "no pool given"
		    : cls == NULL || cls->name == NULL ? "no actor class given"
		                                       : "actor uid must be 1 to 63 bytes long"));
	}
	if (uid != NULL) {
		snprintf(target.uid, sizeof(target.uid), "%s", uid);
	}
	int rv =
	    osc_host_new_cls(pool, OSC_OP_CREATE, &target, NULL, cls, args, timeout_ms, &h, err);
	if (rv == 0 && (rv = osc_host_wait(h, err)) == 0 && ref != NULL) {
		*ref = h->ref;
	}
	if (h != NULL) {
		osc_host_release(h);
	}
	return (rv);
}

int oscar_destroy(
    oscar_pool_t *pool, const oscar_ref_t *ref, int64_t timeout_ms, oscar_error_t *err)
{
	if (ref == NULL) {
		return (osc_fail(err, OSCAR_EINVAL, "no ref given"));
	}
	return (osc_host_sync(pool, OSC_OP_DESTROY, ref, NULL, NULL, timeout_ms, NULL, err));
}

int oscar_has(oscar_pool_t *pool, const oscar_ref_t *ref, bool *exists, int64_t timeout_ms)
{
	oscar_call_t *h;
	if (ref == NULL || exists == NULL) {
		return (OSCAR_EINVAL);
	}
	int rv = osc_host_sync(pool, OSC_OP_HAS, ref, NULL, NULL, timeout_ms, &h, NULL);
	if (rv == 0) {
		*exists = h->exists;
		osc_host_release(h);
	}
	return (rv);
}

int oscar_lookup(oscar_pool_t *pool, const char *uid, oscar_ref_t *ref, int64_t timeout_ms)
{
	oscar_call_t *h;
	oscar_ref_t   target;
	if (pool == NULL || ref == NULL || oscar_ref_make(&target, pool->address, uid) != 0) {
		return (OSCAR_EINVAL);
	}
	int rv = osc_host_sync(pool, OSC_OP_LOOKUP, &target, NULL, NULL, timeout_ms, &h, NULL);
	if (rv == 0) {
		*ref = h->ref;
		osc_host_release(h);
	}
	return (rv);
}

int oscar_pool_stats(oscar_pool_t *pool, oscar_pool_stats_t *stats, int64_t timeout_ms)
{
	oscar_call_t *h;
	if (stats == NULL) {
		return (OSCAR_EINVAL);
	}
	int rv = osc_host_sync(pool, OSC_OP_STATS, NULL, NULL, NULL, timeout_ms, &h, NULL);
	if (rv == 0) {
		*stats = h->stats;
		osc_host_release(h);
	}
	return (rv);
}

int oscar_create_by_name(oscar_pool_t *pool, const char *cls, const char *uid, oscar_value_t *args,
    const oscar_placement_t *placement, int64_t timeout_ms, oscar_ref_t *ref, oscar_error_t *err)
{
	oscar_call_t *h;
	oscar_ref_t   target;
	memset(&target, 0, sizeof(target));
	if (pool == NULL || cls == NULL ||
	    (uid != NULL && (uid[0] == '\0' || strlen(uid) >= OSCAR_UID_MAX))) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_EINVAL,
		    pool == NULL  ? "no pool given"
		    : cls == NULL ? "no class name given"
		                  : "actor uid must be 1 to 63 bytes long"));
	}
	if (placement != NULL && placement->how == OSCAR_PLACE_ADDRESS) {
		if (placement->address == NULL || strlen(placement->address) >= OSCAR_ADDR_MAX) {
			oscar_value_free(args);
			return (osc_fail(err, OSCAR_EINVAL, "no valid address given"));
		}
		snprintf(target.addr, sizeof(target.addr), "%s", placement->address);
	} else if (placement != NULL && placement->how > OSCAR_PLACE_IDLE) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_EINVAL, "unknown placement"));
	} else if (placement != NULL && placement->how >= OSCAR_PLACE_LABEL &&
	           (placement->label == NULL || strlen(placement->label) >= OSCAR_NAME_MAX ||
	               (placement->how == OSCAR_PLACE_IDLE &&
	                   (placement->mark == NULL ||
	                       strlen(placement->mark) >= OSCAR_NAME_MAX)))) {
		oscar_value_free(args);
		return (osc_fail(err, OSCAR_EINVAL, "placement needs a label (and a mark)"));
	}
	osc_host_prep_t prep = { .placement = placement,
		.label                      = placement ? placement->label : NULL,
		.mark                       = placement ? placement->mark : NULL };
	if (uid != NULL) {
		snprintf(target.uid, sizeof(target.uid), "%s", uid);
	}
	int rv = osc_host_new_prep(
	    pool, OSC_OP_CREATE_NAMED, &target, cls, NULL, args, timeout_ms, &h, err, &prep);
	if (rv == 0 && (rv = osc_host_wait(h, err)) == 0 && ref != NULL) {
		*ref = h->ref;
	}
	if (h != NULL) {
		osc_host_release(h);
	}
	return (rv);
}

int oscar_lookup_at(oscar_pool_t *pool, const char *address, const char *uid, oscar_ref_t *ref,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_call_t *h;
	oscar_ref_t   target;
	if (pool == NULL || ref == NULL || address == NULL ||
	    oscar_ref_make(&target, address, uid) != 0) {
		return (osc_fail(err, OSCAR_EINVAL, "bad pool, address, uid or ref"));
	}
	int rv = osc_host_sync(pool, OSC_OP_LOOKUP, &target, NULL, NULL, timeout_ms, &h, err);
	if (rv == 0) {
		*ref = h->ref;
		osc_host_release(h);
	}
	return (rv);
}

// osc_host_sub_sync runs a sub pool operation from a host thread.
static int osc_host_sub_sync(
    oscar_pool_t *pool, const osc_host_prep_t *prep, int64_t timeout_ms, oscar_call_t **out)
{
	oscar_call_t *h;
	int           rv =
	    osc_host_new_prep(pool, OSC_OP_SUB, NULL, NULL, NULL, NULL, timeout_ms, &h, NULL, prep);
	if (rv != 0) {
		return (rv);
	}
	rv = osc_host_wait(h, NULL);
	if (rv == 0 && out != NULL) {
		*out = h;
	} else {
		osc_host_release(h);
	}
	return (rv);
}

int oscar_pool_sub_pools(
    oscar_pool_t *pool, oscar_sub_pool_info_t *out, size_t cap, size_t *n, int64_t timeout_ms)
{
	oscar_call_t         *h;
	osc_host_prep_t       prep = { .sub_op = OSC_SUB_INFO, .out = out, .out_cap = cap };
	oscar_sub_pool_info_t none;
	if (out == NULL) {
		prep.out     = &none;
		prep.out_cap = 0;
	}
	int rv = osc_host_sub_sync(pool, &prep, timeout_ms, &h);
	if (rv == 0) {
		if (n != NULL) {
			*n = h->out_n;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_pool_kill_sub_pool(oscar_pool_t *pool, unsigned index, int64_t timeout_ms)
{
	osc_host_prep_t prep = { .sub_op = OSC_SUB_KILL, .sub_index = index };
	return (osc_host_sub_sync(pool, &prep, timeout_ms, NULL));
}

int oscar_pool_wait_recovered(oscar_pool_t *pool, unsigned index, int64_t timeout_ms)
{
	osc_host_prep_t prep = { .sub_op = OSC_SUB_WAIT, .sub_index = index };
	return (osc_host_sub_sync(pool, &prep, timeout_ms, NULL));
}

int oscar_pool_add_sub_pool(
    oscar_pool_t *pool, const char *label, unsigned *index, int64_t timeout_ms)
{
	oscar_call_t   *h;
	osc_host_prep_t prep = { .sub_op = OSC_SUB_ADD, .label = label };
	if (label != NULL && strlen(label) >= OSCAR_NAME_MAX) {
		return (OSCAR_EINVAL);
	}
	int rv = osc_host_sub_sync(pool, &prep, timeout_ms, &h);
	if (rv == 0) {
		if (index != NULL) {
			*index = h->sub_index;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_pool_remove_sub_pool(oscar_pool_t *pool, unsigned index, int64_t timeout_ms)
{
	osc_host_prep_t prep = { .sub_op = OSC_SUB_REMOVE, .sub_index = index };
	return (osc_host_sub_sync(pool, &prep, timeout_ms, NULL));
}

int oscar_pool_kill_actor(oscar_pool_t *pool, const oscar_ref_t *ref, int64_t timeout_ms)
{
	oscar_sub_pool_info_t *info;
	size_t                 n;
	int                    rv;
	if (ref == NULL) {
		return (OSCAR_EINVAL);
	}
	if ((rv = oscar_pool_sub_pools(pool, NULL, 0, &n, timeout_ms)) != 0) {
		return (rv);
	}
	if (n == 0) {
		return (OSCAR_ENOENT);
	}
	if ((info = calloc(n, sizeof(*info))) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if ((rv = oscar_pool_sub_pools(pool, info, n, &n, timeout_ms)) == 0) {
		rv = OSCAR_ENOENT;
		for (size_t i = 0; i < n; i++) {
			if (!info[i].removed && strcmp(info[i].address, ref->addr) == 0) {
				rv = oscar_pool_kill_sub_pool(pool, info[i].index, timeout_ms);
				break;
			}
		}
	}
	free(info);
	return (rv);
}
