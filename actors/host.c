// The host-thread API: what threads other than a pool's own ask of it.
//
// Design note. A host thread never touches a pool's state. It makes a host
// handle (oscar_call_t) for one operation, posts it to the pool's inbox
// and waits on the handle's condition variable; the loop performs the
// operation (the operation's run function, osc_host_op_t) and completes the
// handle. A call is an ordinary call record started by the loop on the
// handle's behalf, so a synchronous call is the asynchronous one plus a
// wait (oscar_call_start, oscar_call_wait). The host enforces the deadline
// itself as well, so even a pool thread stuck in a hook never holds it past
// it. The handle is shared by the host and the loop under a reference
// count, and freed by whichever lets go last.
//
// Each operation keeps what only it needs in its own payload after the
// handle: the class to create, whether an actor exists, the counters. The
// sub pool operations (and the create by name, which may place an actor
// in a sub pool) are in subpool.c, on the same handles.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/host.h"
#include "actors/transport.h"
#include "actors/wire.h"

// How long after a call's deadline a host thread stops waiting for the
// pool to report it.
#define OSC_HOST_GRACE_MS 20

static const osc_host_op_t tell_nowait_op;

// ---------------------------------------------------------------------------
// Handles

int osc_host_new(oscar_pool_t *pool, const osc_host_op_t *op, const oscar_ref_t *ref,
    const char *method, oscar_value_t *args, int64_t timeout_ms, oscar_call_t **hp,
    oscar_error_t *err)
{
	*hp = NULL;
	if (pool == NULL || timeout_ms < 0 ||
	    (method != NULL && strlen(method) >= OSCAR_NAME_MAX)) {
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_EINVAL,
		    pool == NULL     ? "no pool given"
		    : timeout_ms < 0 ? "negative timeout"
		                     : "method name longer than 63 bytes"));
	}
	if (op != &tell_nowait_op && osc_pool_on_loop(pool)) {
		// Waiting here would stop the very loop that must answer.
		oscar_value_free(args);
		if (err != NULL) {
			osc_error_set(err, pool, OSCAR_ESTATE, ref ? ref->uid : "", method,
			    "synchronous call from the thread of pool %s; use the actor API",
			    pool->address);
		}
		return (OSCAR_ESTATE);
	}
	oscar_call_t *h = calloc(1, sizeof(*h) + op->size);
	if (h == NULL) {
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_ENOMEM, "no memory for a call"));
	}
	if (uv_mutex_init(&h->mu) != 0) {
		free(h);
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_ESYSTEM, "cannot make a mutex"));
	}
	if (uv_cond_init(&h->cv) != 0) {
		uv_mutex_destroy(&h->mu);
		free(h);
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_ESYSTEM, "cannot make a condition variable"));
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
	*hp = h;
	return (0);
}

// host_post hands h to its pool. On failure h is released and err (may be
// NULL) says why.
static int host_post(oscar_call_t *h, oscar_error_t *err)
{
	oscar_pool_t *pool = h->pool;
	int           rv   = osc_pool_post(pool, &h->post);
	if (rv != 0) {
		if (err != NULL) {
			osc_error_set(err, pool, rv, h->ref.uid, h->method,
			    rv == OSCAR_ECLOSED ? "pool %s is closed" : "inbox of pool %s is full",
			    pool->address);
		}
		atomic_store(&h->refs, 1);
		osc_host_release(h);
	}
	return (rv);
}

// host_wait waits for h until its deadline; its code, with err (may be
// NULL) filled on a failure. h stays the caller's to release.
static int host_wait(oscar_call_t *h, oscar_error_t *err)
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

int osc_host_sync(oscar_call_t *h, bool keep, oscar_error_t *err)
{
	int rv = host_post(h, err);
	if (rv != 0) {
		return (rv);
	}
	rv = host_wait(h, err);
	if (rv != 0 || !keep) {
		osc_host_release(h);
	}
	return (rv);
}

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
	if (h->op->fini != NULL) {
		h->op->fini(h);
	}
	oscar_value_free(h->args);
	oscar_value_free(h->reply);
	uv_cond_destroy(&h->cv);
	uv_mutex_destroy(&h->mu);
	free(h);
}

// host_run performs h on the loop and, unless it finishes later,
// completes it.
static void host_run(oscar_pool_t *pool, oscar_call_t *h)
{
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	int rv = h->op->run(pool, h, &err);
	if (rv == OSC_HOST_LATER) {
		return;
	}
	osc_host_complete(h, rv, &err);
	osc_host_release(h);
}

// host_cancel cancels the call behind h, if it is still running.
static void host_cancel(oscar_pool_t *pool, oscar_call_t *h)
{
	if (pool->state == OSC_POOL_RUNNING && h->call != NULL) {
		osc_call_cancel(h->call);
	}
	osc_host_release(h);
}

// osc_host_finish completes the handle waiting for call c, which is done.
void osc_host_finish(osc_call_t *c)
{
	oscar_call_t *h = c->host;
	h->call         = NULL;
	c->host         = NULL;
	h->reply        = c->value;
	c->value        = NULL;
	if (c->code == 0 && h->op->reply != NULL) {
		// A pool-level request answered by another pool.
		h->op->reply(c->pool, h);
	}
	oscar_error_t e;
	if (c->code != 0 && c->err == NULL) {
		osc_error_set(&e, c->pool, c->code, "", "", "%s", oscar_strerror(c->code));
	}
	osc_host_complete(h, c->code, c->err != NULL ? c->err : &e);
	osc_host_release(h);
}

// osc_host_read_ref reads the ref another pool answered, [address, uid],
// into h->ref; false when the answer is not one.
bool osc_host_read_ref(oscar_call_t *h)
{
	const char *addr, *uid;
	if (oscar_value_get_str(oscar_value_at(h->reply, 0), &addr, NULL) != 0 ||
	    oscar_value_get_str(oscar_value_at(h->reply, 1), &uid, NULL) != 0) {
		return (false);
	}
	(void) oscar_ref_make(&h->ref, addr, uid);
	return (true);
}

// tell_run resolves and queues a tell posted by oscar_tell_nowait.
static void tell_run(oscar_pool_t *pool, osc_req_t *req)
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

void osc_host_dispatch(oscar_pool_t *pool, osc_post_t *p)
{
	switch (p->kind) {
	case OSC_POST_HOST: {
		oscar_call_t *h = OSC_CONTAINER_OF(p, oscar_call_t, post);
		if (pool->state == OSC_POOL_RUNNING) {
			host_run(pool, h);
		} else {
			oscar_error_t err;
			osc_error_set(&err, pool, OSCAR_ECLOSED, h->ref.uid, h->method,
			    "pool %s is closed", pool->address);
			osc_host_complete(h, OSCAR_ECLOSED, &err);
			osc_host_release(h);
		}
		break;
	}
	case OSC_POST_CANCEL:
		host_cancel(pool, OSC_CONTAINER_OF(p, oscar_call_t, cancel_post));
		break;
	case OSC_POST_TELL: {
		osc_req_t *req = OSC_CONTAINER_OF(p, osc_req_t, post);
		if (pool->state == OSC_POOL_RUNNING) {
			tell_run(pool, req);
		} else {
			// Relaxed: a statistic.
			atomic_fetch_add_explicit(&pool->dropped, 1, memory_order_relaxed);
			oscar_value_free(req->args);
			free(req);
		}
		break;
	}
	case OSC_POST_NET:
		break; // the transport's (pool.c)
	}
}

// ---------------------------------------------------------------------------
// The operations

// host_take_args takes h's arguments, for an operation that passes
// them on.
static oscar_value_t *host_take_args(oscar_call_t *h)
{
	oscar_value_t *args = h->args;
	h->args             = NULL;
	return (args);
}

// host_start starts a call of kind for h: the call's completion
// finishes h.
static int host_start(oscar_pool_t *pool, oscar_call_t *h, osc_req_kind_t kind, osc_call_t **callp,
    oscar_error_t *err)
{
	osc_call_desc_t d = {
		.ref        = &h->ref,
		.method     = h->method,
		.kind       = kind,
		.args       = host_take_args(h),
		.timeout_ms = kind == OSC_REQ_TELL ? 0 : h->timeout_ms,
		.host       = kind == OSC_REQ_TELL ? NULL : h,
	};
	return (osc_call_start(pool, &d, callp, err));
}

static int host_call_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	int rv = host_start(pool, h, OSC_REQ_CALL, &h->call, err);
	return (rv == 0 ? OSC_HOST_LATER : rv);
}

static const osc_host_op_t call_op = { .name = "call", .run = host_call_run };

static int host_batch_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	int rv = host_start(pool, h, OSC_REQ_BATCH, &h->call, err);
	return (rv == 0 ? OSC_HOST_LATER : rv);
}

static const osc_host_op_t batch_op = { .name = "batch", .run = host_batch_run };

static int host_tell_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	return (host_start(pool, h, OSC_REQ_TELL, NULL, err));
}

static const osc_host_op_t tell_op = { .name = "tell", .run = host_tell_run };

// A tell to another pool's actor that nobody waits for
// (oscar_tell_nowait): a failure only counts as dropped.
static int host_tell_nowait_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	int rv = host_start(pool, h, OSC_REQ_TELL, NULL, err);
	if (rv != 0) {
		// Relaxed: a statistic.
		atomic_fetch_add_explicit(&pool->dropped, 1, memory_order_relaxed);
	}
	return (rv);
}

static const osc_host_op_t tell_nowait_op = {
	.name = "tell_nowait",
	.run  = host_tell_nowait_run,
};

// oscar_create's payload: the class.
typedef struct osc_host_create {
	const oscar_actor_class_t *cls;
} osc_host_create_t;

static int host_create_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_host_create_t *p = OSC_HOST_PAYLOAD(h, osc_host_create_t);
	osc_actor_t       *a;
	int                rv = osc_actor_create(
	                   pool, p->cls, h->ref.uid[0] ? h->ref.uid : NULL, host_take_args(h), &a, err);
	if (rv == 0) {
		h->ref = a->ref;
	}
	return (rv);
}

static const osc_host_op_t create_op = {
	.name = "create",
	.size = sizeof(osc_host_create_t),
	.run  = host_create_run,
};

// host_remote sends h's pool-level request of type to the pool of
// h->ref; its answer finishes h.
static int host_remote(oscar_pool_t *pool, oscar_call_t *h, int type, oscar_error_t *err)
{
	int rv = osc_remote_control(
	    pool, type, h->ref.addr, h->ref.uid, "", host_take_args(h), h->timeout_ms, h, err);
	return (rv == 0 ? OSC_HOST_LATER : rv);
}

// host_find returns the actor h names in pool, or NULL with err filled.
static osc_actor_t *host_find(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_actor_t *a = osc_actor_find(pool, h->ref.uid);
	if (a == NULL) {
		osc_error_set(err, pool, OSCAR_ENOACTOR, h->ref.uid, "", "no actor %s in pool %s",
		    h->ref.uid, pool->address);
	}
	return (a);
}

static int host_destroy_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	if (!osc_ref_is_local(pool, &h->ref)) {
		return (host_remote(pool, h, OSC_MSG_DESTROY, err));
	}
	osc_actor_t *a = host_find(pool, h, err);
	return (a != NULL ? osc_actor_destroy(a) : OSCAR_ENOACTOR);
}

static const osc_host_op_t destroy_op = {
	.name = "destroy",
	.run  = host_destroy_run,
};

// oscar_has's payload: the answer.
typedef struct osc_host_has {
	bool exists;
} osc_host_has_t;

static int host_has_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	if (!osc_ref_is_local(pool, &h->ref)) {
		return (host_remote(pool, h, OSC_MSG_HAS, err));
	}
	OSC_HOST_PAYLOAD(h, osc_host_has_t)->exists = osc_actor_find(pool, h->ref.uid) != NULL;
	return (0);
}

static void host_has_reply(oscar_pool_t *pool, oscar_call_t *h)
{
	(void) pool;
	(void) oscar_value_get_bool(h->reply, &OSC_HOST_PAYLOAD(h, osc_host_has_t)->exists);
}

static const osc_host_op_t has_op = {
	.name  = "has",
	.size  = sizeof(osc_host_has_t),
	.run   = host_has_run,
	.reply = host_has_reply,
};

static int host_lookup_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	if (!osc_ref_is_local(pool, &h->ref)) {
		return (host_remote(pool, h, OSC_MSG_LOOKUP, err));
	}
	osc_actor_t *a = host_find(pool, h, err);
	if (a == NULL) {
		return (OSCAR_ENOACTOR);
	}
	h->ref = a->ref;
	return (0);
}

static void host_lookup_reply(oscar_pool_t *pool, oscar_call_t *h)
{
	(void) pool;
	(void) osc_host_read_ref(h);
}

static const osc_host_op_t lookup_op = {
	.name  = "lookup",
	.run   = host_lookup_run,
	.reply = host_lookup_reply,
};

// oscar_pool_stats's payload: the counters.
typedef struct osc_host_stats {
	oscar_pool_stats_t stats;
} osc_host_stats_t;

static int host_stats_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	oscar_pool_stats_t *s = &OSC_HOST_PAYLOAD(h, osc_host_stats_t)->stats;
	(void) err;
	*s        = pool->stats;
	s->actors = pool->actors.len;
	// Relaxed: a statistic.
	s->dropped = atomic_load_explicit(&pool->dropped, memory_order_relaxed);
	osc_transport_stats(pool, s);
	return (0);
}

static const osc_host_op_t stats_op = {
	.name = "stats",
	.size = sizeof(osc_host_stats_t),
	.run  = host_stats_run,
};

// ---------------------------------------------------------------------------
// Host-thread API

int oscar_call_start(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_call_t **callp)
{
	oscar_call_t *h;
	int           rv;
	if (callp == NULL || ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (OSCAR_EINVAL);
	}
	*callp = NULL;
	if ((rv = osc_host_new(pool, &call_op, ref, method, args, timeout_ms, &h, NULL)) != 0 ||
	    (rv = host_post(h, NULL)) != 0) {
		return (rv);
	}
	*callp = h;
	return (0);
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
		return (osc_error_here(err, OSCAR_EINVAL, "no call handle given"));
	}
	oscar_call_t *h = *callp;
	*callp          = NULL;
	int rv          = host_wait(h, err);
	if (rv == 0 && reply != NULL) {
		// The loop is done with h->reply once done is set.
		*reply   = h->reply;
		h->reply = NULL;
	}
	osc_host_release(h);
	return (rv);
}

// host_call_sync runs a call or a batch (op) and takes its answer.
static int host_call_sync(oscar_pool_t *pool, const osc_host_op_t *op, const oscar_ref_t *ref,
    const char *method, oscar_value_t *args, int64_t timeout_ms, oscar_value_t **reply,
    oscar_error_t *err)
{
	oscar_call_t *h;
	int           rv = osc_host_new(pool, op, ref, method, args, timeout_ms, &h, err);
	if (rv == 0 && (rv = osc_host_sync(h, true, err)) == 0) {
		if (reply != NULL) {
			*reply   = h->reply;
			h->reply = NULL;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_call(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	if (reply != NULL) {
		*reply = NULL;
	}
	if (ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (osc_error_here(
		    err, OSCAR_EINVAL, ref == NULL ? "no ref given" : "no method given"));
	}
	return (host_call_sync(pool, &call_op, ref, method, args, timeout_ms, reply, err));
}

int oscar_batch(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **replies, oscar_error_t *err)
{
	if (replies != NULL) {
		*replies = NULL;
	}
	if (ref == NULL || method == NULL || args == NULL || args->type != OSCAR_ARRAY) {
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_EINVAL,
		    ref == NULL || method == NULL
		        ? "no ref or method given"
		        : "a batch takes an array of per-call arguments"));
	}
	return (host_call_sync(pool, &batch_op, ref, method, args, timeout_ms, replies, err));
}

int oscar_tell(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_call_t *h;
	if (ref == NULL || method == NULL) {
		oscar_value_free(args);
		return (osc_error_here(
		    err, OSCAR_EINVAL, ref == NULL ? "no ref given" : "no method given"));
	}
	int rv = osc_host_new(pool, &tell_op, ref, method, args, timeout_ms, &h, err);
	return (rv != 0 ? rv : osc_host_sync(h, false, err));
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
		oscar_call_t *h;
		int rv = osc_host_new(pool, &tell_nowait_op, ref, method, args, 0, &h, NULL);
		if (rv == 0 && (rv = host_post(h, NULL)) == 0) {
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
		return (osc_error_here(err, OSCAR_EINVAL,
		    pool == NULL                       ? "no pool given"
		    : cls == NULL || cls->name == NULL ? "no actor class given"
		                                       : "actor uid must be 1 to 63 bytes long"));
	}
	if (uid != NULL) {
		snprintf(target.uid, sizeof(target.uid), "%s", uid);
	}
	int rv = osc_host_new(pool, &create_op, &target, NULL, args, timeout_ms, &h, err);
	if (rv != 0) {
		return (rv);
	}
	OSC_HOST_PAYLOAD(h, osc_host_create_t)->cls = cls;
	if ((rv = osc_host_sync(h, true, err)) == 0) {
		if (ref != NULL) {
			*ref = h->ref;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_destroy(
    oscar_pool_t *pool, const oscar_ref_t *ref, int64_t timeout_ms, oscar_error_t *err)
{
	oscar_call_t *h;
	if (ref == NULL) {
		return (osc_error_here(err, OSCAR_EINVAL, "no ref given"));
	}
	int rv = osc_host_new(pool, &destroy_op, ref, NULL, NULL, timeout_ms, &h, err);
	return (rv != 0 ? rv : osc_host_sync(h, false, err));
}

int oscar_has(oscar_pool_t *pool, const oscar_ref_t *ref, bool *exists, int64_t timeout_ms)
{
	oscar_call_t *h;
	if (ref == NULL || exists == NULL) {
		return (OSCAR_EINVAL);
	}
	int rv = osc_host_new(pool, &has_op, ref, NULL, NULL, timeout_ms, &h, NULL);
	if (rv == 0 && (rv = osc_host_sync(h, true, NULL)) == 0) {
		*exists = OSC_HOST_PAYLOAD(h, osc_host_has_t)->exists;
		osc_host_release(h);
	}
	return (rv);
}

// host_lookup looks target up and fills ref.
static int host_lookup(oscar_pool_t *pool, const oscar_ref_t *target, oscar_ref_t *ref,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_call_t *h;
	int           rv = osc_host_new(pool, &lookup_op, target, NULL, NULL, timeout_ms, &h, err);
	if (rv == 0 && (rv = osc_host_sync(h, true, err)) == 0) {
		*ref = h->ref;
		osc_host_release(h);
	}
	return (rv);
}

int oscar_lookup(oscar_pool_t *pool, const char *uid, oscar_ref_t *ref, int64_t timeout_ms)
{
	oscar_ref_t target;
	if (pool == NULL || ref == NULL || oscar_ref_make(&target, pool->address, uid) != 0) {
		return (OSCAR_EINVAL);
	}
	return (host_lookup(pool, &target, ref, timeout_ms, NULL));
}

int oscar_lookup_at(oscar_pool_t *pool, const char *address, const char *uid, oscar_ref_t *ref,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_ref_t target;
	if (pool == NULL || ref == NULL || address == NULL ||
	    oscar_ref_make(&target, address, uid) != 0) {
		return (osc_error_here(err, OSCAR_EINVAL, "bad pool, address, uid or ref"));
	}
	return (host_lookup(pool, &target, ref, timeout_ms, err));
}

int oscar_pool_stats(oscar_pool_t *pool, oscar_pool_stats_t *stats, int64_t timeout_ms)
{
	oscar_call_t *h;
	if (stats == NULL) {
		return (OSCAR_EINVAL);
	}
	int rv = osc_host_new(pool, &stats_op, NULL, NULL, NULL, timeout_ms, &h, NULL);
	if (rv == 0 && (rv = osc_host_sync(h, true, NULL)) == 0) {
		*stats = OSC_HOST_PAYLOAD(h, osc_host_stats_t)->stats;
		osc_host_release(h);
	}
	return (rv);
}
