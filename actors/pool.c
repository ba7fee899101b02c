// Pools: the loop thread, the run loop, and shutdown.
//
// Design note. Each pool runs one libuv loop on its own thread. Work
// reaches the loop in two ways: from the loop itself (an actor calling
// another actor of the same pool puts the request straight into the
// target's mailbox and the target on the run queue), and from other threads
// through the inbox, a lock-free queue followed by uv_async_send. Every
// libuv callback of the pool ends in pool_run, which alternates between
// draining the inbox, running ready actors (each for at most actor_batch
// messages) and running reply callbacks, until nothing is left or the
// turn's budget is spent; then an idle handle brings the loop straight back
// after it has polled for I/O, so a flood of messages never starves timers.
//
// Shutdown is careful about the one race that matters: a host thread that
// checked "not closing" and is about to post. The async handle therefore
// stays open after shutdown, until oscar_pool_free: a late post still
// wakes a live loop, which fails it with OSCAR_ECLOSED, and whatever
// arrives after the loop has ended is failed by oscar_pool_free itself.
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/pool_int.h"
#include "actors/transport.h"

// Per pool_run: rounds before yielding to I/O (and OSC_TURN_MESSAGES,
// pool_int.h, messages delivered at most); per round: posts taken from
// the inbox and actor activations.
#define OSC_RUN_BUDGET  64
#define OSC_POST_SLICE  256
#define OSC_ACTOR_SLICE 256

// ---------------------------------------------------------------------------
// Run loop

static void pool_idle_cb(uv_idle_t *h);

// pool_dispatch_post starts (or, when the pool is shutting down,
// fails) one posted item: the transport's, or the host-thread API's
// through the pool's hooks.
static void pool_dispatch_post(oscar_pool_t *pool, osc_post_t *p)
{
	if (p->kind == OSC_POST_NET) {
		osc_transport_dispatch(pool, p);
	} else {
		pool->hooks->post(pool, p);
	}
}

// pool_run does the pool's work until there is none left or the
// turn's budget is spent. Each round takes a bounded slice of the inbox and
// then lets the ready actors drain their mailboxes, so posts from other
// threads cannot outrun the actors: when they do, the inbox fills and the
// posters get OSCAR_EMBOXFULL (backpressure) instead of mailboxes
// overflowing. Re-entrant calls (from a handler that triggers a run) return
// at once: the outer call picks the work up.
static void pool_run(oscar_pool_t *pool)
{
	if (pool->in_run) {
		return;
	}
	pool->in_run       = true;
	unsigned turns     = OSC_RUN_BUDGET;
	bool     more      = false;
	uint64_t delivered = 0; // messages this run, at most OSC_TURN_MESSAGES
	for (;;) {
		unsigned    work = 0;
		osc_post_t *p;
		while (work < OSC_POST_SLICE && (p = osc_inbox_pop(&pool->inbox)) != NULL) {
			pool_dispatch_post(pool, p);
			work++;
		}
		if (work != 0) {
			// Relaxed: the count only bounds memory. Once per slice,
			// to keep the producers' cache line quiet.
			atomic_fetch_sub_explicit(&pool->inbox.count, work, memory_order_relaxed);
		}
		osc_call_run_done(pool);
		osc_node_t *node;
		for (unsigned n = 0; n < OSC_ACTOR_SLICE && delivered < OSC_TURN_MESSAGES &&
		                     (node = osc_list_pop(&pool->runq)) != NULL;
		     n++) {
			osc_actor_t *a = OSC_CONTAINER_OF(node, osc_actor_t, runq_node);
			a->flags &= ~OSC_ACTOR_QUEUED;
			uint64_t left = OSC_TURN_MESSAGES - delivered;
			uint64_t m0   = pool->stats.messages;
			osc_actor_run(
			    a, (unsigned) (left < pool->cfg.actor_batch ? left
			                                                : pool->cfg.actor_batch));
			osc_call_run_done(pool);
			delivered += pool->stats.messages - m0;
			work++;
		}
		if (work == 0) {
			break;
		}
		if (--turns == 0 || delivered >= OSC_TURN_MESSAGES) {
			more = true;
			break;
		}
	}
	if (delivered > pool->stats.turn_most) {
		pool->stats.turn_most = delivered;
	}
	pool->in_run = false;
	if (more && pool->state != OSC_POOL_CLOSED) {
		// More work is likely waiting: come back right after polling.
		uv_idle_start(&pool->idle, pool_idle_cb);
	}
	// A transport that stopped receiving (a full inbox, or work left
	// for the next turn) starts again once the pool has caught up.
	osc_transport_resume(pool);
}

static void pool_idle_cb(uv_idle_t *h)
{
	oscar_pool_t *pool = h->data;
	uv_idle_stop(h);
	pool_run(pool);
}

static void pool_timer_cb(uv_timer_t *t)
{
	oscar_pool_t *pool = t->data;
	pool->armed_at     = -1;
	uv_update_time(&pool->loop);
	osc_call_expire(pool, (int64_t) uv_now(&pool->loop));
	pool_run(pool);
}

// ---------------------------------------------------------------------------
// Shutdown

static void pool_drain_inbox(oscar_pool_t *pool)
{
	osc_post_t *p;
	while ((p = osc_inbox_pop(&pool->inbox)) != NULL) {
		pool_dispatch_post(pool, p);
		// Relaxed: the count only bounds memory.
		atomic_fetch_sub_explicit(&pool->inbox.count, 1, memory_order_relaxed);
	}
}

// pool_shutdown fails every pending call, destroys every actor and
// closes the loop's handles, after which uv_run returns.
static void pool_shutdown(oscar_pool_t *pool)
{
	pool->state = OSC_POOL_CLOSING;
	pool->hooks->subs_stop(pool);
	pool_drain_inbox(pool);
	osc_call_fail_all(pool, OSCAR_ECLOSED);
	osc_call_run_done(pool);
	osc_actors_close_all(pool);
	osc_call_fail_all(pool, OSCAR_ECLOSED);
	osc_call_run_done(pool);
	osc_transport_close(pool);
	osc_call_run_done(pool);
	pool_drain_inbox(pool);
	pool->state = OSC_POOL_CLOSED;
	uv_close((uv_handle_t *) &pool->timer, NULL);
	uv_close((uv_handle_t *) &pool->idle, NULL);
	// The wake handle closes in oscar_pool_free; see the design note.
}

static void pool_wake_cb(uv_async_t *h)
{
	oscar_pool_t *pool = h->data;
	// Acquire: pairs with the release stores in oscar_pool_close and
	// oscar_pool_free.
	if (atomic_load_explicit(&pool->closing, memory_order_acquire)) {
		if (pool->state == OSC_POOL_RUNNING) {
			pool_shutdown(pool);
		} else {
			pool_drain_inbox(pool);
		}
		if (atomic_load_explicit(&pool->freeing, memory_order_acquire)) {
			uv_close((uv_handle_t *) &pool->wake, NULL);
		}
		return;
	}
	pool_run(pool);
}

// ---------------------------------------------------------------------------
// Open, close, free

static void pool_thread(void *arg)
{
	oscar_pool_t *pool = arg;
	sigset_t      pipe;
	// A write to a connection its peer closed fails with EPIPE instead
	// of killing the process: the stream link writes with libuv, which
	// does not ask the kernel to spare the signal. Blocked for this
	// thread only; the processes it spawns start with a clean mask.
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	// Sub pools start from this thread, before the loop runs; open waits
	// until they are ready.
	if (pool->hooks->subs_start(pool, &pool->start_err) != OSC_SUBS_WAIT) {
		uv_sem_post(&pool->started);
	}
	uv_run(&pool->loop, UV_RUN_DEFAULT);
}

// oscar_pool_config_init fills cfg with the defaults.
void oscar_pool_config_init(oscar_pool_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_timeout_ms = 30000;
	cfg->mailbox_limit      = 65536;
	cfg->inbox_limit        = 65536;
	cfg->actor_batch        = 100;
	cfg->max_message        = (size_t) 1 << 30;
	cfg->max_peers          = 256;
	cfg->peer_connect_ms    = 5000;
	cfg->peer_idle_ms       = 60000;
	cfg->recv_budget        = (size_t) 1 << 31;
}

static uint64_t random_id(void)
{
	uint64_t id = 0;
	if (uv_random(NULL, NULL, &id, sizeof(id), 0, NULL) != 0 || id == 0) {
		id = uv_hrtime() ^ ((uint64_t) getpid() << 32);
	}
	return (id);
}

// open_fail fills err (if given) for a pool that could not open, and
// returns code.
static int open_fail(oscar_error_t *err, int code, const char *address, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int open_fail(oscar_error_t *err, int code, const char *address, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	oscar_error_setv(err, code, fmt, ap);
	va_end(ap);
	if (err != NULL) {
		err->pid = (int64_t) getpid();
		snprintf(err->address, sizeof(err->address), "%s", address != NULL ? address : "");
	}
	return (code);
}

// osc_pool_open_home opens a pool for oscar_pool_open, with the hooks of
// the layers above the loop; home, when not NULL, is the address of the
// main pool that started this process.
int osc_pool_open_home(oscar_pool_t **poolp, const oscar_pool_config_t *cfg, const char *home,
    const osc_pool_hooks_t *hooks, oscar_error_t *err)
{
	oscar_pool_config_t defaults;
	if (poolp == NULL) {
		return (open_fail(err, OSCAR_EINVAL, NULL, "no pool pointer given"));
	}
	*poolp = NULL;
	oscar_pool_config_init(&defaults);
	if (cfg == NULL) {
		cfg = &defaults;
	}
	if (cfg->default_timeout_ms < 0 || cfg->peer_connect_ms < 0 || cfg->peer_idle_ms < 0) {
		return (open_fail(err, OSCAR_EINVAL, NULL,
		    "default_timeout_ms, peer_connect_ms and peer_idle_ms must not be negative"));
	}
	if (cfg->address != NULL && strlen(cfg->address) >= OSCAR_ADDR_MAX) {
		return (open_fail(err, OSCAR_EADDRINVAL, NULL,
		    "address of %zu bytes is longer than the limit of %d", strlen(cfg->address),
		    OSCAR_ADDR_MAX - 1));
	}
	if (cfg->sub_pools > 0 && getenv("OSCAR_SUBPOOL_ADDRESS") != NULL) {
		// A sub pool whose program skipped oscar_subpool_main would start
		// sub pools of its own, and they theirs, without end.
		fprintf(stderr, "oscar: this process was started as a sub pool; "
		                "its program must call oscar_subpool_main first\n");
		return (open_fail(err, OSCAR_ESTATE, cfg->address,
		    "this process was started as a sub pool; its program must call "
		    "oscar_subpool_main first"));
	}
	if (cfg->sub_pools > 0 &&
	    (cfg->address == NULL || (strncmp(cfg->address, "ipc://", 6) != 0 &&
	                                 strncmp(cfg->address, "tcp://", 6) != 0))) {
		// Sub pools are reached over ipc or tcp.
		return (open_fail(err, OSCAR_EADDRINVAL, cfg->address,
		    "sub pools need an ipc:// or tcp:// address, not %s",
		    cfg->address != NULL ? cfg->address : "a generated inproc:// one"));
	}

	oscar_pool_t *pool = calloc(1, sizeof(*pool));
	if (pool == NULL) {
		return (open_fail(err, OSCAR_ENOMEM, cfg->address, "no memory for a pool"));
	}
	pool->cfg    = *cfg;
	pool->hooks  = hooks;
	pool->owners = &osc_actor_owner_ops;
	if (pool->cfg.default_timeout_ms == 0) {
		pool->cfg.default_timeout_ms = defaults.default_timeout_ms;
	}
	if (pool->cfg.mailbox_limit == 0) {
		pool->cfg.mailbox_limit = defaults.mailbox_limit;
	}
	if (pool->cfg.inbox_limit == 0) {
		pool->cfg.inbox_limit = defaults.inbox_limit;
	}
	if (pool->cfg.actor_batch == 0) {
		pool->cfg.actor_batch = defaults.actor_batch;
	}
	if (pool->cfg.max_message == 0) {
		pool->cfg.max_message = defaults.max_message;
	}
	if (pool->cfg.max_peers == 0) {
		pool->cfg.max_peers = defaults.max_peers;
	}
	if (pool->cfg.peer_connect_ms == 0) {
		pool->cfg.peer_connect_ms = defaults.peer_connect_ms;
	}
	if (pool->cfg.peer_idle_ms == 0) {
		pool->cfg.peer_idle_ms = defaults.peer_idle_ms;
	}
	if (pool->cfg.recv_budget == 0) {
		pool->cfg.recv_budget = defaults.recv_budget;
	}
	pool->id       = random_id();
	pool->pid      = (int64_t) getpid();
	pool->armed_at = -1;
	// Call ids start at a random point: an answer names its call by id,
	// so ids that others cannot guess keep a third pool from steering a
	// forged answer onto one of our calls (a pool it calls on our behalf,
	// say, by naming our address as its own).
	pool->next_call_id = random_id();
	pool->next_token   = pool->id;
	if (cfg->address != NULL) {
		snprintf(pool->address, sizeof(pool->address), "%s", cfg->address);
	} else {
		snprintf(pool->address, sizeof(pool->address), "inproc://pool-%016llx",
		    (unsigned long long) pool->id);
	}
	pool->cfg.address = pool->address;
	if (home != NULL) {
		snprintf(pool->home, sizeof(pool->home), "%s", home);
	}
	if (pool->cfg.default_timeout_ms > OSCAR_TIMEOUT_MAX_MS) {
		pool->cfg.default_timeout_ms = OSCAR_TIMEOUT_MAX_MS;
	}
	osc_error_set(
	    &pool->oom_err, pool, OSCAR_ENOMEM, "", "", "out of memory while reporting an error");
	osc_inbox_init(&pool->inbox);
	atomic_init(&pool->closing, false);
	atomic_init(&pool->freeing, false);
	atomic_init(&pool->dropped, 0);

	int rv;
	if ((rv = uv_loop_init(&pool->loop)) != 0) {
		free(pool);
		return (open_fail(
		    err, OSCAR_ESYSTEM, cfg->address, "cannot set up a loop: %s", uv_strerror(rv)));
	}
	uv_async_init(&pool->loop, &pool->wake, pool_wake_cb);
	uv_timer_init(&pool->loop, &pool->timer);
	pool->timer_cb = pool_timer_cb; // call.c arms the timer
	uv_idle_init(&pool->loop, &pool->idle);
	pool->wake.data  = pool;
	pool->timer.data = pool;
	pool->idle.data  = pool;
	pool->run        = pool_run;
	char why[OSCAR_ERRMSG_MAX];
	why[0] = '\0';
	if ((rv = osc_transport_open(pool, why, sizeof(why))) != 0) {
		// The transport says why ("cannot listen on ...: Address in use").
		if (why[0] != '\0') {
			(void) open_fail(err, rv, pool->address, "%s", why);
		} else {
			(void) open_fail(err, rv, pool->address, "cannot open pool %s: %s",
			    pool->address, oscar_strerror(rv));
		}
		goto fail_loop;
	}
	rv = OSCAR_ESYSTEM;
	if (uv_sem_init(&pool->started, 0) != 0) {
		(void) open_fail(err, rv, pool->address, "cannot make a semaphore");
		goto fail_transport;
	}
	if (uv_thread_create(&pool->thread, pool_thread, pool) != 0) {
		uv_sem_destroy(&pool->started);
		(void) open_fail(err, rv, pool->address, "cannot start the pool's thread");
		goto fail_transport;
	}
	uv_sem_wait(&pool->started);
	uv_sem_destroy(&pool->started);
	if ((rv = pool->start_err.code) != 0) {
		// A sub pool could not start: stop and reap the others.
		(void) open_fail(err, rv, pool->address, "cannot open pool %s: %s", pool->address,
		    pool->start_err.message);
		oscar_pool_free(&pool);
		return (rv);
	}
	*poolp = pool;
	return (0);

fail_transport:
	pool->state = OSC_POOL_CLOSING; // NNG's late posts are dropped
	atomic_store(&pool->closing, true);
	osc_transport_close(pool);
	pool_drain_inbox(pool);
fail_loop:
	uv_close((uv_handle_t *) &pool->wake, NULL);
	uv_close((uv_handle_t *) &pool->timer, NULL);
	uv_close((uv_handle_t *) &pool->idle, NULL);
	uv_run(&pool->loop, UV_RUN_DEFAULT);
	uv_loop_close(&pool->loop);
	free(pool);
	return (rv);
}

// oscar_pool_close begins shutdown; idempotent, any thread, never blocks.
void oscar_pool_close(oscar_pool_t *pool)
{
	if (pool == NULL) {
		return;
	}
	// Release: pairs with the acquire load in pool_wake_cb. The
	// wake handle stays open until oscar_pool_free.
	if (!atomic_exchange_explicit(&pool->closing, true, memory_order_acq_rel)) {
		osc_pool_wake(pool);
	}
}

// oscar_pool_free closes the pool, joins its thread and frees it.
void oscar_pool_free(oscar_pool_t **poolp)
{
	if (poolp == NULL || *poolp == NULL) {
		return;
	}
	oscar_pool_t *pool = *poolp;
	if (osc_pool_on_loop(pool)) {
		// A programming error: the thread cannot wait for itself.
		fprintf(stderr, "oscar: oscar_pool_free called from the thread of pool %s\n",
		    pool->address);
		abort();
	}
	*poolp = NULL;
	oscar_pool_close(pool);
	// Release: pairs with the acquire load in pool_wake_cb, which
	// then closes the wake handle and lets the loop end.
	atomic_store_explicit(&pool->freeing, true, memory_order_release);
	osc_pool_wake(pool);
	uv_thread_join(&pool->thread);
	// Posts that raced with the end of the loop.
	pool_drain_inbox(pool);
	uv_loop_close(&pool->loop);
	pool->hooks->subs_free(pool);
	osc_map_fini(&pool->actors);
	free(pool->heap.items);
	free(pool);
}

// oscar_pool_address returns the pool's address.
const char *oscar_pool_address(const oscar_pool_t *pool)
{
	return (pool->address);
}

void *oscar_pool_context(const oscar_pool_t *pool, const void *tag)
{
	if (pool == NULL || tag == NULL || pool->cfg.context_tag != tag) {
		return (NULL);
	}
	return (pool->cfg.context);
}

// osc_pool_on_loop tells whether the calling thread is pool's own.
bool osc_pool_on_loop(const oscar_pool_t *pool)
{
	uv_thread_t self = uv_thread_self();
	return (uv_thread_equal(&self, &pool->thread) != 0);
}

// ---------------------------------------------------------------------------
// Refs

// oscar_ref_make fills ref from an address and a uid.
int oscar_ref_make(oscar_ref_t *ref, const char *addr, const char *uid)
{
	if (ref == NULL || uid == NULL || uid[0] == '\0') {
		return (OSCAR_EINVAL);
	}
	if (addr == NULL) {
		addr = "";
	}
	size_t alen = strlen(addr);
	size_t ulen = strlen(uid);
	if (alen >= sizeof(ref->addr) || ulen >= sizeof(ref->uid)) {
		return (OSCAR_EINVAL);
	}
	memset(ref, 0, sizeof(*ref));
	memcpy(ref->addr, addr, alen);
	memcpy(ref->uid, uid, ulen);
	return (0);
}

// oscar_ref_equal tells whether a and b name the same actor.
bool oscar_ref_equal(const oscar_ref_t *a, const oscar_ref_t *b)
{
	return (strcmp(a->uid, b->uid) == 0 && strcmp(a->addr, b->addr) == 0);
}
