// The inbox: how other threads hand work to a pool's loop. A lock-free
// multi-producer queue (Vyukov's intrusive one) of osc_post_t, a bound on
// what it holds, and the wake-up that makes the loop drain it (pool.c).
//
// It sits below the transport, whose NNG callbacks post what they receive,
// and below the pool loop and the host-thread API, which post too; it
// calls nothing of theirs.
#include <stdatomic.h>

#include "actors/pool_int.h"

// ---------------------------------------------------------------------------
// Inbox

// osc_inbox_init makes an empty queue whose only node is the stub.
void osc_inbox_init(osc_inbox_t *q)
{
	atomic_init(&q->stub.next, NULL);
	atomic_init(&q->head, &q->stub);
	q->tail = &q->stub;
	atomic_init(&q->count, 0);
}

// osc_inbox_push appends p; any thread.
void osc_inbox_push(osc_inbox_t *q, osc_post_t *p)
{
	// Relaxed: p is not visible to the consumer until the release store
	// below links it in.
	atomic_store_explicit(&p->next, NULL, memory_order_relaxed);
	// Acquire-release: orders our writes to *p before publication and
	// makes the previous head's contents visible to us.
	osc_post_t *prev = atomic_exchange_explicit(&q->head, p, memory_order_acq_rel);
	// Release: the consumer's acquire load of prev->next sees *p whole.
	atomic_store_explicit(&prev->next, p, memory_order_release);
}

// osc_inbox_pop takes the oldest node, or NULL when the queue is empty or a
// producer is half-way through a push (it will wake the loop again when
// done). Loop thread only.
osc_post_t *osc_inbox_pop(osc_inbox_t *q)
{
	osc_post_t *tail = q->tail;
	// Acquire: pairs with the release store in osc_inbox_push.
	osc_post_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (tail == &q->stub) {
		if (next == NULL) {
			return (NULL);
		}
		q->tail = next;
		tail    = next;
		next    = atomic_load_explicit(&next->next, memory_order_acquire);
	}
	if (next != NULL) {
		q->tail = next;
		return (tail);
	}
	// Acquire: see the latest producer to have swapped in.
	if (tail != atomic_load_explicit(&q->head, memory_order_acquire)) {
		return (NULL);
	}
	osc_inbox_push(q, &q->stub);
	next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next != NULL) {
		q->tail = next;
		return (tail);
	}
	return (NULL);
}

// ---------------------------------------------------------------------------
// Posting

// osc_pool_wake wakes the loop after a push. uv_async_send skips the
// wake-up when it sees one already pending, with a plain load; without a
// full fence our last store (linking the node) could still sit in this
// CPU's store buffer when that load runs, and the loop, clearing the flag
// and draining just then, would miss the node until the next post.
void osc_pool_wake(oscar_pool_t *pool)
{
	atomic_thread_fence(memory_order_seq_cst);
	uv_async_send(&pool->wake);
}

// osc_pool_post hands p to the pool from any thread. 0, OSCAR_ECLOSED or
// OSCAR_EMBOXFULL (the inbox bound); on error p stays with the caller.
int osc_pool_post(oscar_pool_t *pool, osc_post_t *p)
{
	// Relaxed: a post that slips past a concurrent close is failed by
	// the loop or by oscar_pool_free; nothing is ordered by this load.
	if (atomic_load_explicit(&pool->closing, memory_order_relaxed)) {
		return (OSCAR_ECLOSED);
	}
	// Relaxed: the count only bounds memory.
	size_t n = atomic_fetch_add_explicit(&pool->inbox.count, 1, memory_order_relaxed);
	if (n >= pool->cfg.inbox_limit) {
		atomic_fetch_sub_explicit(&pool->inbox.count, 1, memory_order_relaxed);
		return (OSCAR_EMBOXFULL);
	}
	osc_inbox_push(&pool->inbox, p);
	osc_pool_wake(pool);
	return (0);
}

// osc_pool_post_always hands p to the pool past the inbox bound, for the
// few posts that must not be lost and cannot pile up (one cancel per host
// handle). Once the loop has ended, oscar_pool_free's drain handles p.
void osc_pool_post_always(oscar_pool_t *pool, osc_post_t *p)
{
	// Relaxed: the count only bounds memory.
	atomic_fetch_add_explicit(&pool->inbox.count, 1, memory_order_relaxed);
	osc_inbox_push(&pool->inbox, p);
	osc_pool_wake(pool);
}
