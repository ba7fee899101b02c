// Calls: the caller's side. Call records, their deadline heap and the
// done queue (Oscar-C's counterpart of NNG's nni_aio).
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
//
// Layers. Call records know neither actors nor the transport: whoever
// starts a call (start.c, for local calls with the actor layer's ops, or
// the transport) gives it its target's ops (osc_call_ops_t: cancel,
// detach, timeout), and what the done queue needs of calling actors goes
// through the pool's owner ops (osc_owner_ops_t, actor.c).
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/pool_int.h"

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
		osc_list_prepend(&owner->calls, &c->onode);
	}
	if (parent != NULL) {
		c->parent = parent;
		osc_list_prepend(&parent->children, &c->cnode);
	}
	pool->stats.calls++;
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
	if (c->ops != NULL) {
		c->ops->detach(c);
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

static void call_free(osc_call_t *c)
{
	if (c->parent != NULL) {
		c->pool->owners->unparent(c);
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
			pool->owners->finish(c);
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
		if (c->ops != NULL) {
			c->ops->timeout(c, &err);
		}
		osc_call_complete(c, OSCAR_ETIMEDOUT, NULL, &err);
	}
	if (pool->heap.len != 0) {
		call_arm(pool, pool->heap.items[0]->deadline);
	}
}

// osc_call_cancel asks the target of c to stop (its ops); a call with
// nothing left to ask (a local request gone, or split into a batch) fails
// with OSCAR_ECANCELED at once.
void osc_call_cancel(osc_call_t *c)
{
	if (c->done) {
		return;
	}
	if (c->ops != NULL && c->ops->cancel(c)) {
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
