// Fault tests of the actor system: the cases a review found, each kept as
// a regression test (actors/actor.c, actors/call.c, actors/pool.c).
#include <string.h>

#include <criterion/criterion.h>

#include "tests/actors/support.h"

TEST_POOL_SUITE(fault, .timeout = 60);

// A cancel hook that destroys the actor whose request is being cancelled
// (through the cascade): the destruction waits until the cancel is done.
static void destroying_hook(oscar_actor_t *self, oscar_req_t *req, void *arg)
{
	oscar_ref_t a;
	oscar_ref_make(&a, NULL, "A");
	oscar_actor_destroy(self, &a);
}

static int parked(oscar_actor_t *self, oscar_req_t *req)
{
	int *n = oscar_actor_state(self);
	(*n)++;
	oscar_req_on_cancel(req, destroying_hook, NULL);
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static int parked_count(oscar_actor_t *self, oscar_req_t *req)
{
	int *n = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_int(*n)));
}

static const oscar_method_t parker_methods[] = {
	{ "wait", parked, NULL },
	{ "count", parked_count, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t parker_class = {
	.name       = "parker",
	.state_size = sizeof(int),
	.methods    = parker_methods,
};

Test(fault, cancel_hook_destroying_the_caller_is_safe)
{
	oscar_ref_t   a = test_spawn(pool, &test_relay_class, "A", NULL);
	oscar_ref_t   b = test_spawn(pool, &parker_class, "B", NULL);
	oscar_call_t *call;
	bool          exists;
	cr_assert_eq(
	    oscar_call_start(pool, &a, "via", test_via(true, "B", "wait", NULL), 10000, &call), 0);
	while (test_call_int(pool, &b, "count", 0) != 1) {
		;
	}
	oscar_call_cancel(call);
	int rv = oscar_call_wait(&call, NULL, NULL);
	cr_assert(rv == OSCAR_ECANCELED || rv == OSCAR_ENOACTOR, "got %s", oscar_errname(rv));
	cr_assert_eq(oscar_has(pool, &a, &exists, 0), 0);
	cr_assert_not(exists);
}

Test(fault, cancel_is_not_lost_to_a_full_inbox)
{
	oscar_pool_free(&pool);
	pool = test_pool(0, 4);
	cr_assert_eq(uv_sem_init(&test_block_sem, 0), 0);
	cr_assert_eq(uv_sem_init(&test_block_started, 0), 0);
	atomic_store(&test_block_hooks, 0);
	oscar_ref_t    g = test_spawn(pool, &test_gate_class, "g", oscar_value_new_str("hook"));
	oscar_ref_t    b = test_spawn(pool, &test_blocker_class, "b", NULL);
	oscar_call_t  *call;
	oscar_value_t *reply;
	const char    *s;
	cr_assert_eq(oscar_call_start(pool, &g, "wait", NULL, 30000, &call), 0);
	test_wait_parked(pool, &g, 1);
	// Block the pool thread and fill its inbox; the cancel still gets in.
	cr_assert_eq(oscar_tell_nowait(pool, &b, "block", NULL), 0);
	uv_sem_wait(&test_block_started);
	while (oscar_tell_nowait(pool, &g, "waiting", NULL) == 0) {
		;
	}
	oscar_call_cancel(call);
	uv_sem_post(&test_block_sem);
	cr_assert_eq(oscar_call_wait(&call, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "cancelled-0");
	oscar_value_free(reply);
	oscar_pool_free(&pool);
	uv_sem_destroy(&test_block_sem);
	uv_sem_destroy(&test_block_started);
}

Test(fault, cancel_after_the_pool_is_gone_is_harmless)
{
	oscar_ref_t   g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_call_t *call;
	cr_assert_eq(oscar_call_start(pool, &g, "wait", NULL, 30000, &call), 0);
	oscar_pool_free(&pool);
	oscar_call_cancel(call);
	cr_assert_eq(oscar_call_wait(&call, NULL, NULL), OSCAR_ECLOSED);
}

Test(fault, huge_timeouts_do_not_overflow)
{
	oscar_ref_t   c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_error_t err;
	cr_assert_eq(oscar_call(pool, &c, "get", NULL, INT64_MAX, NULL, &err), 0);
	cr_assert_eq(oscar_call(pool, &c, "get", NULL, (int64_t) 1 << 62, NULL, &err), 0);
	cr_assert_eq(oscar_call(pool, &c, "get", NULL, -1, NULL, &err), OSCAR_EINVAL);
	cr_assert_eq(err.code, OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "negative timeout");
}

// A create hook that calls another actor and then fails: the call's
// callback still runs, exactly once.
static atomic_int hook_callbacks;

static void hook_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	atomic_fetch_add(&hook_callbacks, 1);
}

static int failing_create(oscar_actor_t *self, const oscar_value_t *args)
{
	oscar_ref_t g;
	oscar_ref_make(&g, NULL, "g");
	if (oscar_actor_call(self, &g, "waiting", NULL, 0, hook_cb, NULL, NULL) != 0) {
		return (OSCAR_ESTATE);
	}
	return (OSCAR_EAPP);
}

static int negative_create(oscar_actor_t *self, const oscar_value_t *args)
{
	return (-5);
}

static const oscar_method_t no_methods[] = { { NULL, NULL, NULL } };

Test(fault, failing_create_hook_still_reports_its_calls)
{
	const oscar_actor_class_t cls = {
		.name = "failing", .create = failing_create, .methods = no_methods
	};
	const oscar_actor_class_t neg = {
		.name = "negative", .create = negative_create, .methods = no_methods
	};
	oscar_error_t err;
	test_spawn(pool, &test_gate_class, "g", NULL);
	atomic_store(&hook_callbacks, 0);
	cr_assert_eq(oscar_create(pool, &cls, "f", NULL, 0, NULL, &err), OSCAR_EAPP);
	cr_assert_eq(atomic_load(&hook_callbacks), 1);
	cr_assert_eq(oscar_create(pool, &neg, "n", NULL, 0, NULL, &err), OSCAR_EHOOK);
}

Test(fault, crossed_holds_are_a_deadlock_error)
{
	// A holds waiting on B while B holds waiting on A: two requests from
	// different callers, each waiting on the other.
	oscar_ref_t   a = test_spawn(pool, &test_relay_class, "A", NULL);
	oscar_ref_t   b = test_spawn(pool, &test_relay_class, "B", NULL);
	oscar_ref_t   k = test_spawn(pool, &test_blocker_class, "k", NULL);
	oscar_call_t *ab, *ba;
	// Hold the pool thread so that both calls arrive together.
	cr_assert_eq(uv_sem_init(&test_block_sem, 0), 0);
	cr_assert_eq(uv_sem_init(&test_block_started, 0), 0);
	atomic_store(&test_block_hooks, 0);
	cr_assert_eq(oscar_tell_nowait(pool, &k, "block", NULL), 0);
	uv_sem_wait(&test_block_started);
	cr_assert_eq(
	    oscar_call_start(pool, &a, "via", test_via(true, "B", "noop", NULL), 5000, &ab), 0);
	cr_assert_eq(
	    oscar_call_start(pool, &b, "via", test_via(true, "A", "noop", NULL), 5000, &ba), 0);
	uv_sem_post(&test_block_sem);
	int r1 = oscar_call_wait(&ab, NULL, NULL);
	int r2 = oscar_call_wait(&ba, NULL, NULL);
	// One of them is refused, which frees the other.
	cr_assert((r1 == OSCAR_EDEADLOCK && r2 == 0) || (r1 == 0 && r2 == OSCAR_EDEADLOCK),
	    "got %s and %s", oscar_errname(r1), oscar_errname(r2));
	oscar_pool_free(&pool);
	uv_sem_destroy(&test_block_sem);
	uv_sem_destroy(&test_block_started);
}

// notify: a request that calls back into its (held) caller and answers
// without waiting is not a deadlock.
static void ignore_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
}

static int notifier_go(oscar_actor_t *self, oscar_req_t *req)
{
	oscar_ref_t a;
	oscar_ref_make(&a, NULL, "A");
	int rv = oscar_req_call(req, &a, "noop", NULL, 0, ignore_cb, NULL, NULL);
	if (rv != 0) {
		return (rv);
	}
	return (oscar_req_reply(req, oscar_value_new_str("notified")));
}

static const oscar_method_t notifier_methods[] = {
	{ "go", notifier_go, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t notifier_class = {
	.name    = "notifier",
	.methods = notifier_methods,
};

Test(fault, calling_back_without_waiting_is_not_a_deadlock)
{
	oscar_ref_t    a = test_spawn(pool, &test_relay_class, "A", NULL);
	oscar_value_t *reply;
	const char    *s;
	test_spawn(pool, &notifier_class, "N", NULL);
	cr_assert_eq(
	    oscar_call(pool, &a, "via", test_via(true, "N", "go", NULL), 5000, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "notified");
	oscar_value_free(reply);
}

Test(fault, batch_larger_than_the_mailbox_is_refused)
{
	oscar_pool_free(&pool);
	pool             = test_pool(8, 0);
	oscar_ref_t    c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_error_t  err;
	oscar_value_t *args = oscar_value_new_array(9);
	for (int i = 0; i < 9; i++) {
		oscar_value_array_push(args, oscar_value_new_int(1));
	}
	cr_assert_eq(oscar_batch(pool, &c, "add", args, 0, NULL, &err), OSCAR_EMBOXFULL);
	args = oscar_value_new_array(8);
	for (int i = 0; i < 8; i++) {
		oscar_value_array_push(args, oscar_value_new_int(1));
	}
	cr_assert_eq(oscar_batch(pool, &c, "add", args, 0, NULL, &err), 0);
	cr_assert_eq(test_call_int(pool, &c, "get", 0), 8);
}

Test(fault, every_failure_fills_the_error)
{
	oscar_error_t err;
	oscar_ref_t   c = test_spawn(pool, &test_counter_class, "c", NULL);
	memset(&err, 0, sizeof(err));
	cr_assert_eq(oscar_call(NULL, &c, "get", NULL, 0, NULL, &err), OSCAR_EINVAL);
	cr_assert_eq(err.code, OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "no pool given");
	memset(&err, 0, sizeof(err));
	cr_assert_eq(oscar_call(pool, NULL, "get", NULL, 0, NULL, &err), OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "no ref given");
	memset(&err, 0, sizeof(err));
	cr_assert_eq(oscar_create(pool, NULL, "x", NULL, 0, NULL, &err), OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "no actor class given");
	memset(&err, 0, sizeof(err));
	cr_assert_eq(oscar_call_wait(NULL, NULL, &err), OSCAR_EINVAL);
	cr_assert_eq(err.code, OSCAR_EINVAL);
}
