// Actors: the uid map, creation and destruction, mailboxes, dispatch, and
// the request API handlers use.
//
// Design note. A stateful actor serves one request at a time, in arrival
// order. A handler that defers its answer chooses OSCAR_DEFER_HOLD (the
// actor stays busy: `held` is set and the mailbox waits) or
// OSCAR_DEFER_YIELD (the actor takes its next message meanwhile).
//
// Deadlocks. Every request gets a token when it starts. A call made on
// behalf of a request (oscar_req_call) carries the tokens of that request
// and of all requests upstream of it: its chain. If a call reaches an actor
// held by a request whose token is in the call's chain, that request is
// (transitively) waiting for this very call, so queueing it would hang for
// ever: it fails with OSCAR_EDEADLOCK. The check runs when a message is
// queued and, for messages already queued, when the actor becomes held.
//
// Request lifetime. A request is freed once (1) it has been answered,
// (2) its handler is not on the stack and (3) no call made through
// oscar_req_call on its behalf still has a callback to run, since those
// callbacks usually get the request as their argument. Until then an
// answered request lingers as a "zombie" on the actor's deferred list.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/pool_int.h"

#define OSC_MAX_CHAIN 256

static void calls_detach(osc_actor_t *a, bool notify);

// ---------------------------------------------------------------------------
// The uid map (actors/map.h), hashed by uid.

// osc_actor_find returns the live actor uid of pool, or NULL.
osc_actor_t *osc_actor_find(oscar_pool_t *pool, const char *uid)
{
	uint64_t     h   = osc_hash_str(uid);
	size_t       pos = osc_map_first(&pool->actors, h);
	osc_actor_t *a;
	while ((a = osc_map_next(&pool->actors, h, &pos)) != NULL) {
		if (strcmp(a->ref.uid, uid) == 0) {
			return (a);
		}
	}
	return (NULL);
}

// actor_schedule puts a on its pool's run queue (once), which the
// pool's loop serves (pool.c).
static void actor_schedule(osc_actor_t *a)
{
	if (a->flags & OSC_ACTOR_QUEUED) {
		return;
	}
	a->flags |= OSC_ACTOR_QUEUED;
	osc_list_append(&a->pool->runq, &a->runq_node);
}

// ---------------------------------------------------------------------------
// Requests

// osc_class_find returns the class called name among pool's classes.
const oscar_actor_class_t *osc_class_find(const oscar_pool_t *pool, const char *name)
{
	for (const oscar_actor_class_t *const *c = pool->cfg.classes; c != NULL && *c != NULL;
	     c++) {
		if (strcmp((*c)->name, name) == 0) {
			return (*c);
		}
	}
	return (NULL);
}

// osc_method_find returns the method called name of cls, or NULL.
const oscar_method_t *osc_method_find(const oscar_actor_class_t *cls, const char *name)
{
	for (const oscar_method_t *m = cls->methods; m != NULL && m->name != NULL; m++) {
		if (strcmp(m->name, name) == 0) {
			return (m);
		}
	}
	return (NULL);
}

// osc_req_new makes a request for method m of actor a, taking args. On
// failure args are freed and NULL is returned.
osc_req_t *osc_req_new(
    osc_actor_t *a, const oscar_method_t *m, osc_req_kind_t kind, oscar_value_t *args)
{
	osc_req_t *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		oscar_value_free(args);
		return (NULL);
	}
	req->actor  = a;
	req->method = m;
	req->kind   = (uint8_t) kind;
	req->args   = args;
	if (kind == OSC_REQ_BATCH) {
		req->batch_idx = (uint32_t) oscar_value_len(args);
	}
	return (req);
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

static void deferred_link(osc_actor_t *a, osc_req_t *req)
{
	osc_list_prepend(&a->deferred, &req->node);
}

static void deferred_unlink(osc_actor_t *a, osc_req_t *req)
{
	osc_list_remove(&a->deferred, &req->node);
}

static bool req_is_deferred(const osc_req_t *req)
{
	return (req->state == OSC_REQ_HELD || req->state == OSC_REQ_YIELDED ||
	        req->state == OSC_REQ_ZOMBIE);
}

static void req_release(osc_req_t *req)
{
	if (req->reply != NULL) {
		req->reply->forget(req->actor->pool, req->reply_ctx);
		req->reply = NULL;
	}
	osc_node_t *n;
	while ((n = osc_list_pop(&req->children)) != NULL) {
		OSC_CONTAINER_OF(n, osc_call_t, cnode)->parent = NULL;
	}
	oscar_value_free(req->args);
	free(req->chain);
	free(req);
}

// osc_req_maybe_free frees req once it is answered, off the stack, and
// without child callbacks to come; otherwise it waits as a zombie.
void osc_req_maybe_free(osc_req_t *req)
{
	if (!req->replied || req->state == OSC_REQ_RUNNING || req->pins != 0) {
		return;
	}
	if (!osc_list_empty(&req->children)) {
		if (req->state != OSC_REQ_ZOMBIE) {
			if (!req_is_deferred(req)) {
				deferred_link(req->actor, req);
			}
			req->state = OSC_REQ_ZOMBIE;
		}
		return;
	}
	if (req_is_deferred(req)) {
		deferred_unlink(req->actor, req);
	}
	req_release(req);
}

static void req_error(osc_req_t *req, oscar_error_t *err, int code, const char *fmt, va_list ap)
{
	char msg[OSCAR_ERRMSG_MAX];
	if (fmt != NULL) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
	} else {
		snprintf(msg, sizeof(msg), "%s", oscar_strerror(code));
	}
	osc_error_set(
	    err, req->actor->pool, code, req->actor->ref.uid, req->method->name, "%s", msg);
}

// req_answer answers req, which came from above the actor layer, through
// the reply ops its deliverer set.
static void req_answer(
    osc_req_t *req, int code, const oscar_value_t *value, const oscar_error_t *err)
{
	const osc_reply_ops_t *ops = req->reply;
	req->reply                 = NULL;
	ops->answer(req->actor->pool, req->reply_ctx, code, value, err);
	req->reply_ctx = NULL;
}

static void batch_item_done(
    osc_batch_t *b, uint32_t idx, int code, oscar_value_t *value, const oscar_error_t *err)
{
	b->pending--;
	if (code != 0) {
		oscar_value_free(value);
		if (!b->failed) {
			b->failed       = true;
			oscar_error_t e = *err;
			snprintf(
			    e.message, sizeof(e.message), "batch item %u: %s", idx, err->message);
			if (b->call != NULL) {
				osc_call_complete(b->call, code, NULL, &e);
			} else if (b->reply != NULL) {
				b->reply->answer(b->pool, b->reply_ctx, code, NULL, &e);
				b->reply = NULL;
			}
		}
	} else if (value != NULL) {
		oscar_value_t *slot = &b->results->as.arr.items[idx];
		*slot               = *value; // slot held nil: nothing to release
		free(value);
	}
	if (b->pending > 0) {
		return;
	}
	if (!b->failed && b->call != NULL) {
		osc_call_complete(b->call, 0, b->results, NULL);
	} else if (!b->failed && b->reply != NULL) {
		b->reply->answer(b->pool, b->reply_ctx, 0, b->results, NULL);
		oscar_value_free(b->results);
	} else {
		if (b->call != NULL) {
			b->call->batch = NULL;
		}
		oscar_value_free(b->results);
	}
	free(b);
}

// osc_req_finish answers req (once; later answers are dropped): routes the
// outcome to the waiting call, the batch, or nowhere for a tell, and
// releases the actor if req held it.
void osc_req_finish(osc_req_t *req, int code, oscar_value_t *value, const oscar_error_t *err)
{
	if (req->replied) {
		oscar_value_free(value);
		return;
	}
	req->replied    = true;
	osc_actor_t  *a = req->actor;
	oscar_error_t e;
	if (code != 0 && err == NULL) {
		osc_error_set(
		    &e, a->pool, code, a->ref.uid, req->method->name, "%s", oscar_strerror(code));
		err = &e;
	}
	if (req->kind == OSC_REQ_BATCH && code == 0 &&
	    (value == NULL || value->type != OSCAR_ARRAY || value->as.arr.len != req->batch_idx)) {
		osc_error_set(&e, a->pool, OSCAR_EPROTO, a->ref.uid, req->method->name,
		    "batch handler of %s answered %zu results for %u calls", req->method->name,
		    value != NULL && value->type == OSCAR_ARRAY ? value->as.arr.len : 0,
		    req->batch_idx);
		oscar_value_free(value);
		value = NULL;
		code  = OSCAR_EPROTO;
		err   = &e;
	}

	if (req->kind == OSC_REQ_ITEM) {
		batch_item_done(req->batch, req->batch_idx, code, value, err);
	} else if (req->reply != NULL) {
		req_answer(req, code, value, err);
		oscar_value_free(value);
	} else if (req->call != NULL) {
		osc_call_complete(req->call, code, value, err);
	} else {
		if (code != 0 && req->kind == OSC_REQ_TELL) {
			// Relaxed: a statistic.
			atomic_fetch_add_explicit(&a->pool->dropped, 1, memory_order_relaxed);
		}
		oscar_value_free(value);
	}

	if (req->state == OSC_REQ_HELD) {
		a->held    = NULL;
		req->state = OSC_REQ_YIELDED;
		if (!osc_list_empty(&a->mailbox) && !(a->flags & OSC_ACTOR_DEAD)) {
			actor_schedule(a);
		}
	}
	osc_req_maybe_free(req);
}

// ---------------------------------------------------------------------------
// Mailboxes and deadlock detection

static bool chain_has(const osc_req_t *req, uint64_t token)
{
	for (uint32_t i = 0; i < req->chain_len; i++) {
		if (req->chain[i] == token) {
			return (true);
		}
	}
	return (false);
}

static void deadlock_error(const osc_actor_t *a, const osc_req_t *req, oscar_error_t *err)
{
	osc_error_set(err, a->pool, OSCAR_EDEADLOCK, a->ref.uid, req->method->name,
	    "deadlock detected: %s.%s would wait for %s, which is held by a request "
	    "waiting on this call",
	    a->ref.uid, req->method->name, a->ref.uid);
}

// waits_on tells whether request w, which keeps its actor busy, waits
// (through the calls made on its behalf, the actors they queue at, and
// the requests holding those) on a request in x's chain, the requests
// waiting for x: then queueing x behind w closes a cycle. *budget bounds
// the walk.
static bool waits_on(const osc_req_t *w, const osc_req_t *x, int *budget)
{
	if (--*budget < 0) {
		return (false);
	}
	if (chain_has(x, w->token)) {
		return (true);
	}
	for (const osc_call_t *c = OSC_LIST_FIRST(&w->children, osc_call_t, cnode); c != NULL;
	     c                   = OSC_LIST_NEXT(c, osc_call_t, cnode)) {
		const osc_req_t *r = c->req;
		if (c->done || r == NULL) {
			continue;
		}
		const osc_actor_t *u = r->actor;
		if (u->held != NULL && u->held != r && waits_on(u->held, x, budget)) {
			return (true);
		}
		if ((r->state == OSC_REQ_HELD || r->state == OSC_REQ_YIELDED) &&
		    waits_on(r, x, budget)) {
			return (true);
		}
	}
	return (false);
}

// would_deadlock tells whether queueing x at a, which is held, would
// close a cycle of waiting requests.
static bool would_deadlock(const osc_actor_t *a, const osc_req_t *x)
{
	int budget = 256;
	return (x->chain_len != 0 && a->held != NULL && waits_on(a->held, x, &budget));
}

// osc_actor_enqueue queues req in a's mailbox. On failure req is left to
// the caller and err is filled.
int osc_actor_enqueue(osc_actor_t *a, osc_req_t *req, oscar_error_t *err)
{
	if (a->flags & OSC_ACTOR_DEAD) {
		osc_error_set(err, a->pool, OSCAR_ENOACTOR, a->ref.uid, req->method->name,
		    "actor %s is being destroyed", a->ref.uid);
		return (OSCAR_ENOACTOR);
	}
	// A batch served item by item takes one mailbox slot per item.
	size_t need = req->kind == OSC_REQ_BATCH && req->method->batch_fn == NULL && req->batch_idx
	                  ? req->batch_idx
	                  : 1;
	// The length is kept in 32 bits: a mailbox_limit above that is no
	// limit, as no process holds four billion requests.
	if (a->mb_len + need > a->pool->cfg.mailbox_limit || a->mb_len + need >= UINT32_MAX) {
		osc_error_set(err, a->pool, OSCAR_EMBOXFULL, a->ref.uid, req->method->name,
		    "mailbox of %s is full (%zu messages, limit %zu)", a->ref.uid,
		    (size_t) a->mb_len, a->pool->cfg.mailbox_limit);
		return (OSCAR_EMBOXFULL);
	}
	// A call made from a handler still running is checked when that
	// handler commits to waiting (req_check_children): it may yet
	// answer without waiting for it.
	// A request from another pool is checked at once: its sender's
	// state is not known here.
	const osc_req_t *sender = req->call != NULL ? req->call->parent : NULL;
	bool check = sender != NULL ? sender->state != OSC_REQ_RUNNING : req->reply != NULL;
	if (check && would_deadlock(a, req)) {
		a->pool->stats.deadlocks++;
		deadlock_error(a, req, err);
		return (OSCAR_EDEADLOCK);
	}
	req->state = OSC_REQ_QUEUED;
	osc_list_append(&a->mailbox, &req->node);
	a->mb_len++;
	if (a->held == NULL) {
		actor_schedule(a);
	}
	return (0);
}

// mailbox_unlink removes req (known to be queued) from a's mailbox.
static void mailbox_unlink(osc_actor_t *a, osc_req_t *req)
{
	osc_list_remove(&a->mailbox, &req->node);
	a->mb_len--;
}

// fail_deadlocked takes the queued request x out of its mailbox and
// fails it with OSCAR_EDEADLOCK.
static void fail_deadlocked(osc_req_t *x)
{
	osc_actor_t  *a = x->actor;
	oscar_error_t err;
	mailbox_unlink(a, x);
	a->pool->stats.deadlocks++;
	deadlock_error(a, x, &err);
	x->state = OSC_REQ_YIELDED; // off the mailbox, not running
	deferred_link(a, x);
	osc_req_finish(x, OSCAR_EDEADLOCK, NULL, &err);
}

// actor_check_deadlocks fails the queued requests of a that the
// request now holding it waits on.
static void actor_check_deadlocks(osc_actor_t *a)
{
	osc_req_t *req = OSC_LIST_FIRST(&a->mailbox, osc_req_t, node);
	while (req != NULL && a->held != NULL) {
		osc_req_t *next = OSC_LIST_NEXT(req, osc_req_t, node);
		if (would_deadlock(a, req)) {
			fail_deadlocked(req);
		}
		req = next;
	}
}

// req_check_children runs when req's handler returns committed to
// waiting: each call it made that sits queued behind a held actor which
// (transitively) waits on req can never run, so it fails now.
static void req_check_children(osc_req_t *req)
{
	for (osc_call_t *c = OSC_LIST_FIRST(&req->children, osc_call_t, cnode); c != NULL;
	     c             = OSC_LIST_NEXT(c, osc_call_t, cnode)) {
		osc_req_t *x = c->req;
		if (!c->done && x != NULL && x->state == OSC_REQ_QUEUED &&
		    would_deadlock(x->actor, x)) {
			fail_deadlocked(x);
		}
	}
}

// ---------------------------------------------------------------------------
// Dispatch

// batch_expand turns a batch for a method without batch_fn into one
// request per item, queued at the head of the mailbox in order.
static void batch_expand(osc_actor_t *a, osc_req_t *req)
{
	oscar_value_t *args  = req->args;
	uint32_t       n     = req->batch_idx;
	osc_batch_t   *b     = calloc(1, sizeof(*b));
	oscar_value_t *res   = oscar_value_new_array(n);
	osc_req_t    **items = n ? calloc(n, sizeof(*items)) : NULL;
	bool           ok    = b != NULL && res != NULL && (n == 0 || items != NULL);
	for (uint32_t i = 0; ok && i < n; i++) {
		if ((items[i] = calloc(1, sizeof(osc_req_t))) == NULL ||
		    (items[i]->args = malloc(sizeof(oscar_value_t))) == NULL) {
			ok = false;
		}
		if (ok && req->chain_len != 0) {
			items[i]->chain = malloc(req->chain_len * sizeof(uint64_t));
			if (items[i]->chain == NULL) {
				ok = false;
			}
		}
	}
	if (!ok) {
		for (uint32_t i = 0; items != NULL && i < n; i++) {
			if (items[i] != NULL) {
				free(items[i]->args);
				free(items[i]->chain);
				free(items[i]);
			}
		}
		free(items);
		free(b);
		oscar_value_free(res);
		req->state = OSC_REQ_YIELDED;
		deferred_link(a, req);
		osc_req_finish(req, OSCAR_ENOMEM, NULL, NULL);
		return;
	}

	b->pool = a->pool;
	b->call = req->call;
	if (req->reply != NULL) {
		req->reply->take(req->reply_ctx);
		b->reply       = req->reply;
		b->reply_ctx   = req->reply_ctx;
		req->reply     = NULL;
		req->reply_ctx = NULL;
	}
	b->n            = n;
	b->pending      = n;
	b->results      = res;
	res->as.arr.len = n; // n nils (the items were zeroed)
	if (b->call != NULL) {
		b->call->req   = NULL;
		b->call->batch = b;
	}
	req->call      = NULL;
	osc_list_t run = { 0 }; // the items, in order
	for (uint32_t i = 0; i < n; i++) {
		osc_req_t *it = items[i];
		it->actor     = a;
		it->method    = req->method;
		it->kind      = OSC_REQ_ITEM;
		it->state     = OSC_REQ_QUEUED;
		it->batch     = b;
		it->batch_idx = i;
		// Move the item's contents out of the batch's argument array.
		*it->args                  = args->as.arr.items[i];
		args->as.arr.items[i].type = OSCAR_NIL;
		if (req->chain_len != 0) {
			memcpy(it->chain, req->chain, req->chain_len * sizeof(uint64_t));
			it->chain_len = req->chain_len;
		}
		osc_list_append(&run, &it->node);
	}
	free(items);
	if (n == 0) {
		b->pending = 1;
		batch_item_done(b, 0, 0, NULL, NULL);
	} else {
		osc_list_splice_head(&a->mailbox, &run);
		a->mb_len += n; // room made for them at enqueue
	}
	req->replied = true;
	req_release(req);
}

// actor_dispatch runs the handler for req and settles its outcome.
// Returns false when the actor is gone (it exited).
static bool actor_dispatch(osc_actor_t *a, osc_req_t *req)
{
	if (req->kind == OSC_REQ_BATCH && req->method->batch_fn == NULL) {
		batch_expand(a, req);
		return (true);
	}
	oscar_pool_t   *pool = a->pool;
	oscar_method_fn fn   = req->kind == OSC_REQ_BATCH ? req->method->batch_fn : req->method->fn;
	req->state           = OSC_REQ_RUNNING;
	req->token           = ++pool->next_token;
	pool->stats.messages++;
	pool->last_err.code = 0;
	a->flags |= OSC_ACTOR_RUNNING;
	int rv = fn(a, req);
	a->flags &= ~OSC_ACTOR_RUNNING;

	if (!req->replied) {
		if (rv != 0) {
			// A code straight from a failed call keeps that call's
			// details: they say more than the code alone.
			const oscar_error_t *err =
			    pool->last_err.code == rv ? &pool->last_err : NULL;
			req->state = OSC_REQ_YIELDED;
			deferred_link(a, req);
			osc_req_finish(req, rv, NULL, err);
		} else if (req->defer != 0) {
			bool hold = req->defer == OSCAR_DEFER_HOLD &&
			            !(a->cls->flags & OSCAR_CLASS_STATELESS);
			req->state = hold ? OSC_REQ_HELD : OSC_REQ_YIELDED;
			deferred_link(a, req);
			if (hold) {
				a->held = req;
				actor_check_deadlocks(a);
			}
			req_check_children(req);
		} else {
			req->state = OSC_REQ_YIELDED;
			deferred_link(a, req);
			osc_req_finish(req, 0, NULL, NULL);
		}
	} else {
		req->state = OSC_REQ_YIELDED;
		deferred_link(a, req);
		osc_req_maybe_free(req);
	}
	if (a->flags & OSC_ACTOR_EXITING) {
		osc_actor_destroy(a);
		return (false);
	}
	return (true);
}

// osc_actor_run serves up to budget messages of a, then requeues it if it
// still has work and is free to do it.
void osc_actor_run(osc_actor_t *a, unsigned budget)
{
	for (unsigned n = 0; n < budget; n++) {
		if (a->held != NULL || (a->flags & OSC_ACTOR_DEAD)) {
			return;
		}
		osc_node_t *node = osc_list_pop(&a->mailbox);
		if (node == NULL) {
			return;
		}
		osc_req_t *req = OSC_CONTAINER_OF(node, osc_req_t, node);
		a->mb_len--;
		if (!actor_dispatch(a, req)) {
			return;
		}
	}
	if (!osc_list_empty(&a->mailbox) && a->held == NULL && !(a->flags & OSC_ACTOR_DEAD)) {
		actor_schedule(a);
	}
}

// ---------------------------------------------------------------------------
// Create and destroy

static void actor_free(osc_actor_t *a)
{
	free(a);
}

// osc_actor_create makes an actor of cls in pool and runs its create hook.
// args are consumed. On failure err says why.
int osc_actor_create(oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid,
    oscar_value_t *args, osc_actor_t **ap, oscar_error_t *err)
{
	int rv;
	if (cls == NULL || cls->name == NULL) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_EINVAL, uid ? uid : "", "", "no actor class given");
		return (OSCAR_EINVAL);
	}
	if (uid != NULL && (uid[0] == '\0' || strlen(uid) >= OSCAR_UID_MAX)) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_EINVAL, "", "",
		    "actor uid must be 1 to %d bytes long", OSCAR_UID_MAX - 1);
		return (OSCAR_EINVAL);
	}
	if (pool->state != OSC_POOL_RUNNING) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_ECLOSED, uid ? uid : "", "", "pool %s is closed",
		    pool->address);
		return (OSCAR_ECLOSED);
	}
	if (uid != NULL && osc_actor_find(pool, uid) != NULL) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_EEXIST, uid, "",
		    "an actor with uid %s already exists in %s", uid, pool->address);
		return (OSCAR_EEXIST);
	}
	if ((rv = osc_map_reserve(&pool->actors)) != 0) {
		oscar_value_free(args);
		osc_error_set(err, pool, rv, uid ? uid : "", "", "no memory for a new actor");
		return (rv);
	}
	osc_actor_t *a = calloc(1, sizeof(*a) + cls->state_size);
	if (a == NULL) {
		oscar_value_free(args);
		osc_error_set(
		    err, pool, OSCAR_ENOMEM, uid ? uid : "", "", "no memory for a new actor");
		return (OSCAR_ENOMEM);
	}
	a->pool = pool;
	a->cls  = cls;
	snprintf(a->ref.addr, sizeof(a->ref.addr), "%s", pool->address);
	if (uid != NULL) {
		snprintf(a->ref.uid, sizeof(a->ref.uid), "%s", uid);
	} else {
		do {
			snprintf(a->ref.uid, sizeof(a->ref.uid), "%.40s-%llx", cls->name,
			    (unsigned long long) ++pool->next_uid);
		} while (osc_actor_find(pool, a->ref.uid) != NULL);
	}

	if (cls->create != NULL) {
		a->flags |= OSC_ACTOR_RUNNING;
		rv = cls->create(a, args);
		a->flags &= ~OSC_ACTOR_RUNNING;
		if (rv == 0 && osc_actor_find(pool, a->ref.uid) != NULL) {
			// The hook created another actor with our uid.
			if (cls->destroy != NULL) {
				cls->destroy(a);
			}
			rv = OSCAR_EEXIST;
		}
		if (rv < 0) {
			rv = OSCAR_EHOOK; // not one of ours: say what failed
		}
		if (rv != 0) {
			// The actor never existed, but calls its hook made still
			// get their callbacks, as promised.
			a->flags |= OSC_ACTOR_DEAD;
			calls_detach(a, true);
			oscar_value_free(args);
			osc_error_set(err, pool, rv, a->ref.uid, "create",
			    "create hook of %s (class %s) failed: %s", a->ref.uid, cls->name,
			    oscar_strerror(rv));
			actor_free(a);
			return (rv);
		}
		if ((rv = osc_map_reserve(&pool->actors)) != 0) {
			if (cls->destroy != NULL) {
				cls->destroy(a);
			}
			calls_detach(a, false);
			oscar_value_free(args);
			osc_error_set(err, pool, rv, a->ref.uid, "", "no memory for a new actor");
			actor_free(a);
			return (rv);
		}
	}
	oscar_value_free(args);
	osc_map_insert(&pool->actors, osc_hash_str(a->ref.uid), a);
	a->flags &= ~OSC_ACTOR_EXITING;
	if (ap != NULL) {
		*ap = a;
	}
	return (0);
}

static void runq_unlink(oscar_pool_t *pool, osc_actor_t *a)
{
	osc_list_remove(&pool->runq, &a->runq_node);
	a->flags &= ~OSC_ACTOR_QUEUED;
}

// osc_actor_destroy takes a out of service: queued requests fail with
// OSCAR_ENOACTOR, callers of deferred ones too, its own pending calls run
// their callbacks with OSCAR_ECANCELED, then the destroy hook runs and the
// memory goes. From inside a's own handler it is deferred until the handler
// returns.
int osc_actor_destroy(osc_actor_t *a)
{
	oscar_pool_t *pool = a->pool;
	if (a->flags & OSC_ACTOR_DEAD) {
		return (OSCAR_ENOACTOR);
	}
	if (a->flags & OSC_ACTOR_RUNNING) {
		a->flags |= OSC_ACTOR_EXITING;
		return (0);
	}
	a->flags |= OSC_ACTOR_DEAD;
	osc_map_remove(&pool->actors, osc_hash_str(a->ref.uid), a);
	if (a->flags & OSC_ACTOR_QUEUED) {
		runq_unlink(pool, a);
	}
	int code = pool->state == OSC_POOL_RUNNING ? OSCAR_ENOACTOR : OSCAR_ECLOSED;

	// Fail what is queued.
	osc_req_t *req;
	while ((req = OSC_LIST_FIRST(&a->mailbox, osc_req_t, node)) != NULL) {
		oscar_error_t err;
		mailbox_unlink(a, req);
		osc_error_set(&err, pool, code, a->ref.uid, req->method->name,
		    "actor %s was destroyed before serving %s", a->ref.uid, req->method->name);
		req->state = OSC_REQ_YIELDED;
		deferred_link(a, req);
		osc_req_finish(req, code, NULL, &err);
	}
	// Tell the callers of deferred requests; keep the requests alive
	// until after the destroy hook, which may still look at them.
	a->held = NULL;
	for (req = OSC_LIST_FIRST(&a->deferred, osc_req_t, node); req != NULL;
	     req = OSC_LIST_NEXT(req, osc_req_t, node)) {
		if (req->kind == OSC_REQ_ITEM && !req->replied) {
			oscar_error_t err;
			osc_error_set(&err, pool, code, a->ref.uid, req->method->name,
			    "actor %s was destroyed while serving %s", a->ref.uid,
			    req->method->name);
			req->replied = true;
			batch_item_done(req->batch, req->batch_idx, code, NULL, &err);
		} else if (req->call != NULL || (req->reply != NULL && !req->replied)) {
			oscar_error_t err;
			osc_error_set(&err, pool, code, a->ref.uid, req->method->name,
			    "actor %s was destroyed while serving %s", a->ref.uid,
			    req->method->name);
			if (req->call != NULL) {
				osc_call_complete(req->call, code, NULL, &err);
			} else {
				// A caller in another pool: answer it as well.
				req->replied = true;
				req_answer(req, code, NULL, &err);
			}
		}
	}
	calls_detach(a, true);
	if (a->cls->destroy != NULL) {
		a->flags |= OSC_ACTOR_RUNNING;
		a->cls->destroy(a);
		a->flags &= ~OSC_ACTOR_RUNNING;
	}
	// Calls the destroy hook made have no one to report to.
	calls_detach(a, false);
	while ((req = OSC_LIST_FIRST(&a->deferred, osc_req_t, node)) != NULL) {
		deferred_unlink(a, req);
		req_release(req);
	}
	actor_free(a);
	return (0);
}

// osc_actors_close_all destroys every actor of pool (at shutdown).
void osc_actors_close_all(oscar_pool_t *pool)
{
	for (size_t i = 0; i < pool->actors.cap; i++) {
		osc_actor_t *a = osc_map_at(&pool->actors, i);
		if (a != NULL) {
			osc_actor_destroy(a);
		}
	}
}

// ---------------------------------------------------------------------------
// Public: inside actors

void *oscar_actor_state(oscar_actor_t *self)
{
	return (self->state);
}

const oscar_ref_t *oscar_actor_ref(const oscar_actor_t *self)
{
	return (&self->ref);
}

const char *oscar_actor_uid(const oscar_actor_t *self)
{
	return (self->ref.uid);
}

oscar_pool_t *oscar_actor_pool(oscar_actor_t *self)
{
	return (self->pool);
}

// oscar_actor_spawn creates an actor in self's pool at once.
int oscar_actor_spawn(oscar_actor_t *self, const oscar_actor_class_t *cls, const char *uid,
    oscar_value_t *args, oscar_ref_t *ref, oscar_error_t *err)
{
	oscar_error_t local;
	osc_actor_t  *a;
	int           rv = osc_actor_create(self->pool, cls, uid, args, &a, err ? err : &local);
	if (rv == 0 && ref != NULL) {
		*ref = a->ref;
	}
	return (rv);
}

// oscar_actor_exit destroys self once its current handler or callback
// returns.
void oscar_actor_exit(oscar_actor_t *self)
{
	if (self->flags & OSC_ACTOR_RUNNING) {
		self->flags |= OSC_ACTOR_EXITING;
	} else {
		osc_actor_destroy(self);
	}
}

// oscar_actor_destroy destroys an actor of self's pool.
int oscar_actor_destroy(oscar_actor_t *self, const oscar_ref_t *ref)
{
	if (self == NULL || ref == NULL) {
		return (OSCAR_EINVAL);
	}
	if (!osc_ref_is_local(self->pool, ref)) {
		return (OSCAR_EADDRINVAL);
	}
	osc_actor_t *a = osc_actor_find(self->pool, ref->uid);
	if (a == NULL) {
		return (OSCAR_ENOACTOR);
	}
	if (a == self) {
		oscar_actor_exit(self);
		return (0);
	}
	return (osc_actor_destroy(a));
}

// ---------------------------------------------------------------------------
// Public: requests

const oscar_value_t *oscar_req_args(const oscar_req_t *req)
{
	return (req->args);
}

oscar_value_t *oscar_req_take_args(oscar_req_t *req)
{
	oscar_value_t *v = req->args;
	req->args        = NULL;
	return (v);
}

const oscar_value_t *oscar_req_arg(const oscar_req_t *req, size_t i)
{
	return (oscar_value_at(req->args, i));
}

const char *oscar_req_method(const oscar_req_t *req)
{
	return (req->method->name);
}

oscar_actor_t *oscar_req_actor(oscar_req_t *req)
{
	return (req->actor);
}

// oscar_req_reply answers req with value.
int oscar_req_reply(oscar_req_t *req, oscar_value_t *value)
{
	if (req->replied) {
		oscar_value_free(value);
		return (OSCAR_ESTATE);
	}
	osc_req_finish(req, 0, value, NULL);
	return (0);
}

// oscar_req_fail answers req with an error.
int oscar_req_fail(oscar_req_t *req, int code, const char *fmt, ...)
{
	if (code == 0) {
		code = OSCAR_EAPP;
	}
	if (req->replied) {
		return (code);
	}
	oscar_error_t err;
	va_list       ap;
	va_start(ap, fmt);
	req_error(req, &err, code, fmt, ap);
	va_end(ap);
	osc_req_finish(req, code, NULL, &err);
	return (code);
}

// oscar_req_fail_result answers req with the failure in res.
int oscar_req_fail_result(oscar_req_t *req, const oscar_result_t *res)
{
	int code = res->code != 0 ? res->code : OSCAR_EAPP;
	if (!req->replied) {
		osc_req_finish(req, code, NULL, res->error);
	}
	return (code);
}

// oscar_req_defer says the answer will come later.
int oscar_req_defer(oscar_req_t *req, oscar_defer_t mode)
{
	if (mode != OSCAR_DEFER_HOLD && mode != OSCAR_DEFER_YIELD) {
		return (OSCAR_EINVAL);
	}
	if (req->state != OSC_REQ_RUNNING || req->replied) {
		return (OSCAR_ESTATE);
	}
	req->defer = (uint8_t) mode;
	return (0);
}

void oscar_req_on_cancel(oscar_req_t *req, oscar_cancel_cb cb, void *arg)
{
	req->cancel_cb  = cb;
	req->cancel_arg = arg;
}

bool oscar_req_cancelled(const oscar_req_t *req)
{
	return (req->cancelled);
}

// osc_req_cancel handles a caller's cancel: a queued request is dropped; a
// started one has its child calls cancelled and its cancel hook run; if
// nothing answered, the caller gets OSCAR_ECANCELED and the handler's later
// answer is discarded.
void osc_req_cancel(osc_req_t *req)
{
	osc_actor_t *a = req->actor;
	if (req->replied || req->cancelled) {
		return;
	}
	req->cancelled = true;
	if (req->state == OSC_REQ_QUEUED) {
		oscar_error_t err;
		mailbox_unlink(a, req);
		osc_error_set(&err, a->pool, OSCAR_ECANCELED, a->ref.uid, req->method->name,
		    "cancelled before it started");
		req->state = OSC_REQ_YIELDED;
		deferred_link(a, req);
		osc_req_finish(req, OSCAR_ECANCELED, NULL, &err);
		return;
	}
	// The actor counts as running for the whole cancel: whatever the
	// cascade or the hook triggers, destroying it waits until we are done.
	bool running = (a->flags & OSC_ACTOR_RUNNING) != 0;
	a->flags |= OSC_ACTOR_RUNNING;
	req->pins++;
	for (osc_call_t *c = OSC_LIST_FIRST(&req->children, osc_call_t, cnode); c != NULL;
	     c             = OSC_LIST_NEXT(c, osc_call_t, cnode)) {
		osc_call_cancel(c);
	}
	if (req->cancel_cb != NULL && !req->replied) {
		req->cancel_cb(a, req, req->cancel_arg);
	}
	if (!req->replied && req->call != NULL) {
		oscar_error_t err;
		osc_error_set(&err, a->pool, OSCAR_ECANCELED, a->ref.uid, req->method->name,
		    "cancelled while running");
		osc_call_complete(req->call, OSCAR_ECANCELED, NULL, &err);
	}
	req->pins--;
	if (!running) {
		a->flags &= ~OSC_ACTOR_RUNNING;
	}
	osc_req_maybe_free(req);
	if (!(a->flags & OSC_ACTOR_RUNNING) && (a->flags & OSC_ACTOR_EXITING)) {
		osc_actor_destroy(a);
	}
}

// ---------------------------------------------------------------------------
// The calls actors make: the actor layer's side of call records

// Local calls (osc_call_ops_t): the target is a request of this pool,
// c->req, while both live.

static bool local_cancel(osc_call_t *c)
{
	if (c->req == NULL) {
		return (false); // gone, or split into a batch
	}
	osc_req_cancel(c->req);
	return (true);
}

static void local_detach(osc_call_t *c)
{
	if (c->req != NULL) {
		c->req->call = NULL;
		c->req       = NULL;
	}
	if (c->batch != NULL) {
		c->batch->call = NULL;
		c->batch       = NULL;
	}
}

static void local_timeout(const osc_call_t *c, oscar_error_t *err)
{
	if (c->req != NULL) {
		snprintf(err->actor, sizeof(err->actor), "%s", c->req->actor->ref.uid);
		snprintf(err->method, sizeof(err->method), "%s", c->req->method->name);
	}
}

const osc_call_ops_t osc_local_call_ops = {
	.cancel  = local_cancel,
	.detach  = local_detach,
	.timeout = local_timeout,
};

// The caller's side (osc_owner_ops_t).

static void owner_unlink(osc_call_t *c)
{
	osc_list_remove(&c->owner->calls, &c->onode);
	c->owner = NULL;
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

static void owner_finish(osc_call_t *c)
{
	osc_actor_t *owner = c->owner;
	owner_unlink(c);
	call_invoke(c, owner);
	if ((owner->flags & (OSC_ACTOR_EXITING | OSC_ACTOR_RUNNING)) == OSC_ACTOR_EXITING) {
		osc_actor_destroy(owner);
	}
}

static void owner_unparent(osc_call_t *c)
{
	osc_req_t *p = c->parent;
	osc_list_remove(&p->children, &c->cnode);
	c->parent = NULL;
	osc_req_maybe_free(p);
}

const osc_owner_ops_t osc_actor_owner_ops = {
	.finish   = owner_finish,
	.unparent = owner_unparent,
};

// calls_detach settles every call a made: pending ones fail with
// OSCAR_ECANCELED. With notify, their callbacks run now, while a is still
// whole; without, they are dropped.
static void calls_detach(osc_actor_t *a, bool notify)
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
