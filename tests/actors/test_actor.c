// Actors: lifecycle, hooks, ordering, holding vs yielding, deadlock
// detection and bounded mailboxes (actors/actor.c).
#include <string.h>

#include <criterion/criterion.h>

#include "tests/actors/support.h"

TEST_POOL_SUITE(actor, .timeout = 60);

Test(actor, create_runs_hook_with_args_and_destroy_runs_hook)
{
	oscar_ref_t c = test_spawn(pool, &test_counter_class, "c", oscar_value_new_int(41));
	bool        exists;
	cr_assert_str_eq(c.uid, "c");
	cr_assert_str_eq(c.addr, oscar_pool_address(pool));
	cr_assert_eq(test_call_int(pool, &c, "add", 1), 42);
	cr_assert_eq(oscar_has(pool, &c, &exists, 0), 0);
	cr_assert(exists);
	cr_assert_eq(oscar_destroy(pool, &c, 0, NULL), 0);
	cr_assert_eq(atomic_load(&test_destroyed), 1);
	cr_assert_eq(oscar_has(pool, &c, &exists, 0), 0);
	cr_assert_not(exists);
	cr_assert_eq(oscar_destroy(pool, &c, 0, NULL), OSCAR_ENOACTOR);
	cr_assert_eq(oscar_call(pool, &c, "get", NULL, 0, NULL, NULL), OSCAR_ENOACTOR);
}

Test(actor, generated_uids_are_unique)
{
	oscar_ref_t a = test_spawn(pool, &test_counter_class, NULL, NULL);
	oscar_ref_t b = test_spawn(pool, &test_counter_class, NULL, NULL);
	cr_assert(strncmp(a.uid, "counter-", 8) == 0, "%s", a.uid);
	cr_assert_str_neq(a.uid, b.uid);
	cr_assert_not(oscar_ref_equal(&a, &b));
	cr_assert_eq(test_call_int(pool, &a, "add", 1), 1);
	cr_assert_eq(test_call_int(pool, &b, "add", 2), 2);
}

Test(actor, create_errors_leave_nothing_behind)
{
	oscar_error_t err;
	oscar_ref_t   ref;
	bool          exists;
	test_spawn(pool, &test_counter_class, "dup", NULL);
	cr_assert_eq(
	    oscar_create(pool, &test_counter_class, "dup", oscar_value_new_int(1), 0, &ref, &err),
	    OSCAR_EEXIST);
	cr_assert(strstr(err.message, "dup") != NULL, "%s", err.message);

	// A failing create hook: the actor is never registered, and its
	// destroy hook does not run.
	cr_assert_eq(oscar_create(pool, &test_counter_class, "bad", oscar_value_new_str("fail"), 0,
	                 &ref, &err),
	    OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "create hook") != NULL, "%s", err.message);
	cr_assert_str_eq(err.actor, "bad");
	oscar_ref_make(&ref, NULL, "bad");
	cr_assert_eq(oscar_has(pool, &ref, &exists, 0), 0);
	cr_assert_not(exists);
	cr_assert_eq(atomic_load(&test_destroyed), 0);

	// Bad uids and classes.
	cr_assert_eq(
	    oscar_create(pool, &test_counter_class, "", NULL, 0, &ref, &err), OSCAR_EINVAL);
	char long_uid[OSCAR_UID_MAX + 1];
	memset(long_uid, 'u', OSCAR_UID_MAX);
	long_uid[OSCAR_UID_MAX] = '\0';
	cr_assert_eq(
	    oscar_create(pool, &test_counter_class, long_uid, NULL, 0, &ref, &err), OSCAR_EINVAL);
	cr_assert_eq(oscar_create(pool, NULL, "x", NULL, 0, &ref, &err), OSCAR_EINVAL);
}

Test(actor, lookup_finds_by_uid)
{
	oscar_ref_t c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_ref_t found;
	cr_assert_eq(oscar_lookup(pool, "c", &found, 0), 0);
	cr_assert(oscar_ref_equal(&c, &found));
	cr_assert_eq(oscar_lookup(pool, "nobody", &found, 0), OSCAR_ENOACTOR);
}

Test(actor, messages_are_served_in_arrival_order)
{
	oscar_ref_t    c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_value_t *log;
	char           s[16];
	for (int i = 0; i < 500; i++) {
		snprintf(s, sizeof(s), "%d", i);
		cr_assert_eq(oscar_tell_nowait(pool, &c, "log", oscar_value_new_str(s)), 0);
	}
	cr_assert_eq(oscar_call(pool, &c, "get_log", NULL, 0, &log, NULL), 0);
	cr_assert_eq(oscar_value_len(log), 500);
	for (size_t i = 0; i < 500; i++) {
		const char *got;
		snprintf(s, sizeof(s), "%zu", i);
		cr_assert_eq(oscar_value_get_str(oscar_value_at(log, i), &got, NULL), 0);
		cr_assert_str_eq(got, s);
	}
	oscar_value_free(log);
}

// resource_lock: a request that defers with HOLD keeps its actor busy
// until it answers, so a message sent meanwhile sees the answer's effect.
Test(actor, hold_keeps_the_actor_busy_while_waiting)
{
	oscar_ref_t    g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_ref_t    r = test_spawn(pool, &test_relay_class, "r", NULL);
	oscar_call_t  *waiting, *after;
	oscar_value_t *log;

	cr_assert_eq(
	    oscar_call_start(pool, &r, "via", test_via(true, "g", "wait", NULL), 0, &waiting), 0);
	test_wait_parked(pool, &g, 1);
	cr_assert_eq(oscar_call_start(pool, &r, "get_log", NULL, 0, &after), 0);
	cr_assert_eq(test_call_int(pool, &g, "open", 0), 1);
	cr_assert_eq(oscar_call_wait(&waiting, NULL, NULL), 0);
	cr_assert_eq(oscar_call_wait(&after, &log, NULL), 0);
	cr_assert_eq(oscar_value_len(log), 1, "get_log ran before the held request answered");
	oscar_value_free(log);
}

// promise_chain: with YIELD, the actor serves other messages meanwhile.
Test(actor, yield_releases_the_actor_while_waiting)
{
	oscar_ref_t    g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_ref_t    r = test_spawn(pool, &test_relay_class, "r", NULL);
	oscar_call_t  *waiting;
	oscar_value_t *log, *reply;

	cr_assert_eq(
	    oscar_call_start(pool, &r, "via", test_via(false, "g", "wait", NULL), 0, &waiting), 0);
	test_wait_parked(pool, &g, 1);
	cr_assert_eq(oscar_call(pool, &r, "get_log", NULL, 0, &log, NULL), 0);
	cr_assert_eq(oscar_value_len(log), 0);
	oscar_value_free(log);
	cr_assert_eq(oscar_call(pool, &g, "open", oscar_value_new_str("done"), 0, NULL, NULL), 0);
	cr_assert_eq(oscar_call_wait(&waiting, &reply, NULL), 0);
	const char *s;
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "done");
	oscar_value_free(reply);
}

Test(actor, call_cycle_of_two_is_a_deadlock_error)
{
	test_spawn(pool, &test_relay_class, "a", NULL);
	oscar_ref_t        b = test_spawn(pool, &test_relay_class, "b", NULL);
	oscar_ref_t        a;
	oscar_error_t      err;
	oscar_pool_stats_t st;
	oscar_ref_make(&a, NULL, "a");
	// a holds while calling b, and b calls back into a.
	cr_assert_eq(oscar_call(pool, &a, "via", test_via(true, "b", "via", "a", "noop", NULL),
	                 5000, NULL, &err),
	    OSCAR_EDEADLOCK);
	cr_assert(strstr(err.message, "deadlock") != NULL, "%s", err.message);
	cr_assert_eq(oscar_pool_stats(pool, &st, 0), 0);
	cr_assert_eq(st.deadlocks, 1);
	// Both actors are free again.
	cr_assert_eq(oscar_call(pool, &a, "noop", NULL, 0, NULL, NULL), 0);
	cr_assert_eq(oscar_call(pool, &b, "noop", NULL, 0, NULL, NULL), 0);
}

Test(actor, call_cycle_of_three_is_a_deadlock_error)
{
	oscar_ref_t a = test_spawn(pool, &test_relay_class, "a", NULL);
	test_spawn(pool, &test_relay_class, "b", NULL);
	test_spawn(pool, &test_relay_class, "c", NULL);
	cr_assert_eq(
	    oscar_call(pool, &a, "via", test_via(true, "b", "via", "c", "via", "a", "noop", NULL),
	        5000, NULL, NULL),
	    OSCAR_EDEADLOCK);
}

Test(actor, call_to_self_while_holding_is_a_deadlock_error)
{
	oscar_ref_t a = test_spawn(pool, &test_relay_class, "a", NULL);
	cr_assert_eq(
	    oscar_call(pool, &a, "via", test_via(true, "a", "noop", NULL), 5000, NULL, NULL),
	    OSCAR_EDEADLOCK);
}

Test(actor, cycles_through_yielding_actors_complete)
{
	oscar_ref_t    a = test_spawn(pool, &test_relay_class, "a", NULL);
	oscar_value_t *reply;
	const char    *s;
	test_spawn(pool, &test_relay_class, "b", NULL);
	cr_assert_eq(oscar_call(pool, &a, "via", test_via(false, "b", "via", "a", "noop", NULL),
	                 5000, &reply, NULL),
	    0);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "noop");
	oscar_value_free(reply);
	cr_assert_eq(
	    oscar_call(pool, &a, "via", test_via(false, "a", "noop", NULL), 5000, NULL, NULL), 0);
}

Test(actor, full_mailbox_refuses_with_mailbox_full)
{
	oscar_pool_free(&pool);
	pool            = test_pool(4, 0);
	oscar_ref_t   g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_ref_t   r = test_spawn(pool, &test_relay_class, "r", NULL);
	oscar_error_t err;
	oscar_call_t *held;
	cr_assert_eq(
	    oscar_call_start(pool, &r, "via", test_via(true, "g", "wait", NULL), 0, &held), 0);
	test_wait_parked(pool, &g, 1);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(oscar_tell(pool, &r, "noop", NULL, 0, &err), 0);
	}
	cr_assert_eq(oscar_tell(pool, &r, "noop", NULL, 0, &err), OSCAR_EMBOXFULL);
	cr_assert(strstr(err.message, "full") != NULL, "%s", err.message);
	cr_assert_eq(oscar_call(pool, &r, "noop", NULL, 0, NULL, &err), OSCAR_EMBOXFULL);
	// Nothing was lost: once released, the queued messages are served.
	cr_assert_eq(test_call_int(pool, &g, "open", 0), 1);
	cr_assert_eq(oscar_call_wait(&held, NULL, NULL), 0);
	cr_assert_eq(oscar_call(pool, &r, "noop", NULL, 0, NULL, &err), 0);
}

Test(actor, exit_from_a_handler_destroys_after_the_reply)
{
	oscar_ref_t c = test_spawn(pool, &test_counter_class, "c", NULL);
	bool        exists;
	cr_assert_eq(oscar_call(pool, &c, "quit", NULL, 0, NULL, NULL), 0);
	cr_assert_eq(oscar_has(pool, &c, &exists, 0), 0);
	cr_assert_not(exists);
	cr_assert_eq(atomic_load(&test_destroyed), 1);
}

Test(actor, destroy_fails_pending_requests)
{
	oscar_ref_t   g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_call_t *calls[3];
	oscar_error_t err;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(oscar_call_start(pool, &g, "wait", NULL, 10000, &calls[i]), 0);
	}
	test_wait_parked(pool, &g, 3);
	cr_assert_eq(oscar_destroy(pool, &g, 0, NULL), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(oscar_call_wait(&calls[i], NULL, &err), OSCAR_ENOACTOR);
		cr_assert(strstr(err.message, "destroyed") != NULL, "%s", err.message);
	}
	cr_assert_eq(atomic_load(&test_destroyed), 1);
}

Test(actor, blocking_create_hook_does_not_hold_the_caller_past_its_deadline)
{
	oscar_ref_t   ref;
	oscar_error_t err;
	cr_assert_eq(uv_sem_init(&test_block_sem, 0), 0);
	cr_assert_eq(uv_sem_init(&test_block_started, 0), 0);
	atomic_store(&test_block_hooks, 1);
	cr_assert_eq(oscar_create(pool, &test_blocker_class, "slow", NULL, 100, &ref, &err),
	    OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "timed out") != NULL, "%s", err.message);
	// The hook is still blocked: only now let it go.
	uv_sem_wait(&test_block_started);
	atomic_store(&test_block_hooks, 0);
	uv_sem_post(&test_block_sem);
	oscar_pool_free(&pool);
	uv_sem_destroy(&test_block_sem);
	uv_sem_destroy(&test_block_started);
}

Test(actor, blocking_destroy_hook_does_not_hold_the_caller_past_its_deadline)
{
	oscar_error_t err;
	cr_assert_eq(uv_sem_init(&test_block_sem, 0), 0);
	cr_assert_eq(uv_sem_init(&test_block_started, 0), 0);
	oscar_ref_t b = test_spawn(pool, &test_blocker_class, "slow", NULL);
	atomic_store(&test_block_hooks, 2);
	cr_assert_eq(oscar_destroy(pool, &b, 100, &err), OSCAR_ETIMEDOUT);
	uv_sem_wait(&test_block_started);
	atomic_store(&test_block_hooks, 0);
	uv_sem_post(&test_block_sem);
	oscar_pool_free(&pool);
	uv_sem_destroy(&test_block_sem);
	uv_sem_destroy(&test_block_started);
}

// A stateless class never holds its mailbox: a request deferred with HOLD
// lets the next message through.
static int sl_park(oscar_actor_t *self, oscar_req_t *req)
{
	oscar_req_t **slot = oscar_actor_state(self);
	*slot              = req;
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

static int sl_release(oscar_actor_t *self, oscar_req_t *req)
{
	oscar_req_t **slot = oscar_actor_state(self);
	if (*slot == NULL) {
		return (oscar_req_fail(req, OSCAR_ESTATE, "nothing parked"));
	}
	oscar_req_reply(*slot, oscar_value_new_str("released"));
	*slot = NULL;
	return (0);
}

static const oscar_method_t sl_methods[] = {
	{ "park", sl_park, NULL },
	{ "release", sl_release, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t stateless_class = {
	.name       = "stateless",
	.state_size = sizeof(oscar_req_t *),
	.methods    = sl_methods,
	.flags      = OSCAR_CLASS_STATELESS,
};

Test(actor, stateless_actors_interleave)
{
	oscar_ref_t    s = test_spawn(pool, &stateless_class, "s", NULL);
	oscar_call_t  *parked;
	oscar_value_t *reply;
	const char    *str;
	cr_assert_eq(oscar_call_start(pool, &s, "park", NULL, 10000, &parked), 0);
	// Served while park is still pending: a stateful actor would hold.
	int rv;
	while ((rv = oscar_call(pool, &s, "release", NULL, 0, NULL, NULL)) == OSCAR_ESTATE) {
		;
	}
	cr_assert_eq(rv, 0);
	cr_assert_eq(oscar_call_wait(&parked, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_str(reply, &str, NULL), 0);
	cr_assert_str_eq(str, "released");
	oscar_value_free(reply);
}

// An actor's own calls have deadlines too: the relay's call to a gate that
// never opens fails with OSCAR_ETIMEDOUT, which the relay passes on.
Test(actor, calls_from_actors_time_out)
{
	oscar_pool_free(&pool);
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.default_timeout_ms = 100;
	pool                   = pool_open(&cfg);
	oscar_ref_t   r        = test_spawn(pool, &test_relay_class, "r", NULL);
	oscar_error_t err;
	test_spawn(pool, &test_gate_class, "g", NULL);
	cr_assert_eq(
	    oscar_call(pool, &r, "via", test_via(false, "g", "wait", NULL), 10000, NULL, &err),
	    OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "g.wait") != NULL, "%s", err.message);
}

// ticker: start(n) ticks n times, one timer after another; park() sets a
// long timer and answers when it fires or is cancelled (with the code);
// stop() cancels it.
typedef struct ticker {
	int64_t      left;
	int64_t      ticks;
	oscar_req_t *req;
	uint64_t     long_timer;
} ticker_t;

static void tick(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	ticker_t *t = oscar_actor_state(self);
	if (res->code != 0) {
		oscar_req_fail_result(t->req, res);
		return;
	}
	t->ticks++;
	if (--t->left == 0) {
		oscar_req_reply(t->req, oscar_value_new_int(t->ticks));
		return;
	}
	int rv = oscar_actor_after(self, 1, tick, NULL, NULL);
	if (rv != 0) {
		oscar_req_fail(t->req, rv, "cannot set a timer");
	}
}

static int ticker_start(oscar_actor_t *self, oscar_req_t *req)
{
	ticker_t *t = oscar_actor_state(self);
	int       rv;
	if (oscar_value_get_int(oscar_req_args(req), &t->left) != 0 || t->left <= 0) {
		return (OSCAR_EBADARGS);
	}
	t->req = req;
	if ((rv = oscar_actor_after(self, 0, tick, NULL, NULL)) != 0) {
		return (rv);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static void long_done(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	oscar_req_t *req = arg;
	oscar_req_reply(req, oscar_value_new_int(res->code));
}

static int ticker_park(oscar_actor_t *self, oscar_req_t *req)
{
	ticker_t *t  = oscar_actor_state(self);
	int       rv = oscar_actor_after(self, 3600000, long_done, req, &t->long_timer);
	if (rv != 0) {
		return (rv);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static int ticker_stop(oscar_actor_t *self, oscar_req_t *req)
{
	ticker_t *t = oscar_actor_state(self);
	oscar_actor_cancel(self, t->long_timer);
	return (0);
}

static const oscar_method_t ticker_methods[] = {
	{ "start", ticker_start, NULL },
	{ "park", ticker_park, NULL },
	{ "stop", ticker_stop, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t ticker_class = {
	.name       = "ticker",
	.state_size = sizeof(ticker_t),
	.methods    = ticker_methods,
};

Test(actor, timers_fire_and_can_be_cancelled)
{
	oscar_ref_t    t = test_spawn(pool, &ticker_class, "t", NULL);
	oscar_call_t  *parked;
	oscar_value_t *reply;
	int64_t        code;
	cr_assert_eq(test_call_int(pool, &t, "start", 20), 20);
	cr_assert_eq(oscar_call_start(pool, &t, "park", NULL, 10000, &parked), 0);
	cr_assert_eq(oscar_call(pool, &t, "stop", NULL, 0, NULL, NULL), 0);
	cr_assert_eq(oscar_call_wait(&parked, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_int(reply, &code), 0);
	cr_assert_eq(code, OSCAR_ECANCELED);
	oscar_value_free(reply);
	// A timer pending when its actor goes is told so, and nothing leaks.
	cr_assert_eq(oscar_call_start(pool, &t, "park", NULL, 10000, &parked), 0);
	cr_assert_eq(oscar_destroy(pool, &t, 0, NULL), 0);
	cr_assert_eq(oscar_call_wait(&parked, NULL, NULL), OSCAR_ENOACTOR);
}
