// Calls, tells, batches, cancellation and deadlines (actors/call.c).
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/actors/support.h"

TEST_POOL_SUITE(call, .timeout = 60);

Test(call, reply_carries_value)
{
	oscar_ref_t c = test_spawn(pool, &test_counter_class, "c", oscar_value_new_int(10));
	cr_assert_eq(test_call_int(pool, &c, "add", 5), 15);
	cr_assert_eq(test_call_int(pool, &c, "add", -20), -5);
}

Test(call, nil_reply_is_a_value)
{
	oscar_ref_t    c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_value_t *reply;
	cr_assert_eq(oscar_call(pool, &c, "log", oscar_value_new_str("x"), 0, &reply, NULL), 0);
	cr_assert_not_null(reply);
	cr_assert_eq(reply->type, OSCAR_NIL);
	oscar_value_free(reply);
}

Test(call, unknown_actor_and_method)
{
	oscar_ref_t    c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_ref_t    ghost;
	oscar_error_t  err;
	oscar_value_t *reply = (oscar_value_t *) 1;

	oscar_ref_make(&ghost, oscar_pool_address(pool), "ghost");
	cr_assert_eq(oscar_call(pool, &ghost, "get", NULL, 0, &reply, &err), OSCAR_ENOACTOR);
	cr_assert_null(reply);
	cr_assert_str_eq(err.actor, "ghost");
	cr_assert(strstr(err.message, "ghost") != NULL, "%s", err.message);

	cr_assert_eq(
	    oscar_call(pool, &c, "fly", oscar_value_new_int(1), 0, NULL, &err), OSCAR_ENOMETHOD);
	cr_assert_str_eq(err.method, "fly");
	cr_assert(strstr(err.message, "'fly'") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "counter") != NULL, "%s", err.message);
}

Test(call, handler_error_says_where)
{
	oscar_ref_t   c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_error_t err;
	char          line[512];

	cr_assert_eq(
	    oscar_call(pool, &c, "fail", oscar_value_new_int(7), 0, NULL, &err), OSCAR_EAPP);
	cr_assert_eq(err.code, OSCAR_EAPP);
	cr_assert_str_eq(err.message, "boom 7");
	cr_assert_str_eq(err.actor, "c");
	cr_assert_str_eq(err.method, "fail");
	cr_assert_str_eq(err.address, oscar_pool_address(pool));
	cr_assert_eq(err.pid, (int64_t) getpid());
	oscar_error_format(&err, line, sizeof(line));
	cr_assert(strstr(line, "EAPP: boom 7") == line, "%s", line);

	// A handler that only returns a code gets the code's own message.
	cr_assert_eq(oscar_call(pool, &c, "err", NULL, 0, NULL, &err), OSCAR_EBADARGS);
	cr_assert_str_eq(err.message, oscar_strerror(OSCAR_EBADARGS));
	cr_assert_str_eq(err.method, "err");

	// Wrong argument type.
	cr_assert_eq(
	    oscar_call(pool, &c, "add", oscar_value_new_str("x"), 0, NULL, &err), OSCAR_EBADARGS);
	cr_assert_str_eq(err.message, "add takes an int");
}

Test(call, tell_acknowledges_delivery)
{
	oscar_ref_t   c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_ref_t   ghost;
	oscar_error_t err;
	oscar_ref_make(&ghost, NULL, "ghost");

	cr_assert_eq(oscar_tell(pool, &c, "add", oscar_value_new_int(3), 0, &err), 0);
	cr_assert_eq(
	    oscar_tell(pool, &ghost, "add", oscar_value_new_int(3), 0, &err), OSCAR_ENOACTOR);
	cr_assert_eq(oscar_tell(pool, &c, "nope", NULL, 0, &err), OSCAR_ENOMETHOD);
	cr_assert_eq(test_call_int(pool, &c, "add", 0), 3);
}

Test(call, tell_nowait_counts_what_it_drops)
{
	oscar_ref_t        c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_ref_t        ghost;
	oscar_pool_stats_t st;
	oscar_ref_make(&ghost, NULL, "ghost");

	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(oscar_tell_nowait(pool, &c, "add", oscar_value_new_int(1)), 0);
	}
	cr_assert_eq(oscar_tell_nowait(pool, &ghost, "add", NULL), 0);
	cr_assert_eq(oscar_tell_nowait(pool, &c, "fail", NULL), 0);
	cr_assert_eq(test_call_int(pool, &c, "add", 0), 1000);
	cr_assert_eq(oscar_pool_stats(pool, &st, 0), 0);
	cr_assert_eq(st.dropped, 2);
	cr_assert_geq(st.messages, 1002);
}

Test(call, batch_without_batch_handler_runs_each_call)
{
	oscar_ref_t    c    = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_value_t *args = oscar_value_new_array(3), *out;
	for (int i = 1; i <= 3; i++) {
		oscar_value_array_push(args, oscar_value_new_int(i));
	}
	cr_assert_eq(oscar_batch(pool, &c, "add", args, 0, &out, NULL), 0);
	cr_assert_eq(oscar_value_len(out), 3);
	int64_t want[] = { 1, 3, 6 };
	for (size_t i = 0; i < 3; i++) {
		int64_t n;
		cr_assert_eq(oscar_value_get_int(oscar_value_at(out, i), &n), 0);
		cr_assert_eq(n, want[i]);
	}
	oscar_value_free(out);

	// An empty batch answers an empty array.
	cr_assert_eq(oscar_batch(pool, &c, "add", oscar_value_new_array(0), 0, &out, NULL), 0);
	cr_assert_eq(out->type, OSCAR_ARRAY);
	cr_assert_eq(oscar_value_len(out), 0);
	oscar_value_free(out);
}

Test(call, batch_with_batch_handler_sees_the_whole_batch)
{
	oscar_ref_t    c    = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_value_t *args = oscar_value_new_array(4), *out;
	for (int i = 0; i < 4; i++) {
		oscar_value_array_push(args, oscar_value_new_int(10));
	}
	cr_assert_eq(oscar_batch(pool, &c, "sum", args, 0, &out, NULL), 0);
	cr_assert_eq(oscar_value_len(out), 4);
	oscar_value_free(out);
	cr_assert_eq(test_call_int(pool, &c, "batches", 0), 1);
	cr_assert_eq(test_call_int(pool, &c, "get", 0), 40);
}

Test(call, batch_errors)
{
	oscar_ref_t    c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_error_t  err;
	oscar_value_t *out  = NULL;
	oscar_value_t *args = oscar_value_new_array(3);
	oscar_value_array_push(args, oscar_value_new_int(1));
	oscar_value_array_push(args, oscar_value_new_str("two"));
	oscar_value_array_push(args, oscar_value_new_int(3));
	cr_assert_eq(oscar_batch(pool, &c, "add", args, 0, &out, &err), OSCAR_EBADARGS);
	cr_assert_null(out);
	cr_assert(strstr(err.message, "batch item 1") != NULL, "%s", err.message);
	// Items before and after the failing one still ran, in order.
	cr_assert_eq(test_call_int(pool, &c, "get", 0), 4);

	// A batch handler must answer one result per call.
	args = oscar_value_new_array(2);
	oscar_value_array_push(args, oscar_value_new_int(1));
	oscar_value_array_push(args, oscar_value_new_int(1));
	cr_assert_eq(oscar_batch(pool, &c, "bad_batch", args, 0, &out, &err), OSCAR_EPROTO);
	cr_assert(strstr(err.message, "1 results for 2 calls") != NULL, "%s", err.message);

	// Arguments must be an array.
	cr_assert_eq(
	    oscar_batch(pool, &c, "add", oscar_value_new_int(1), 0, &out, &err), OSCAR_EINVAL);
}

Test(call, cancel_running_call_returns_hook_value)
{
	oscar_ref_t    g = test_spawn(pool, &test_gate_class, "g", oscar_value_new_str("hook"));
	oscar_call_t  *call;
	oscar_value_t *reply;
	const char    *s;

	cr_assert_eq(oscar_call_start(pool, &g, "wait", NULL, 10000, &call), 0);
	// Make sure the request is parked before cancelling.
	test_wait_parked(pool, &g, 1);
	oscar_call_cancel(call);
	oscar_call_cancel(call); // idempotent
	cr_assert_eq(oscar_call_wait(&call, &reply, NULL), 0);
	cr_assert_null(call);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "cancelled-0");
	oscar_value_free(reply);
}

Test(call, cancel_without_hook_fails_with_cancelled)
{
	oscar_ref_t   g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_call_t *call;
	oscar_error_t err;
	cr_assert_eq(oscar_call_start(pool, &g, "wait", NULL, 10000, &call), 0);
	test_wait_parked(pool, &g, 1);
	oscar_call_cancel(call);
	cr_assert_eq(oscar_call_wait(&call, NULL, &err), OSCAR_ECANCELED);
	cr_assert_str_eq(err.actor, "g");
	cr_assert_str_eq(err.method, "wait");
}

Test(call, cancel_queued_call_never_runs)
{
	oscar_ref_t   g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_ref_t   c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_ref_t   r = test_spawn(pool, &test_relay_class, "r", NULL);
	oscar_call_t *held, *queued;
	oscar_error_t err;

	// r holds itself while waiting on the gate; a call queued behind it
	// is cancelled before it can start.
	oscar_value_t *args = test_via(true, "g", "wait", NULL);
	cr_assert_eq(oscar_call_start(pool, &r, "via", args, 10000, &held), 0);
	test_wait_parked(pool, &g, 1);
	cr_assert_eq(oscar_call_start(pool, &r, "get_log", NULL, 10000, &queued), 0);
	oscar_call_cancel(queued);
	cr_assert_eq(oscar_call_wait(&queued, NULL, &err), OSCAR_ECANCELED);
	cr_assert(strstr(err.message, "before it started") != NULL, "%s", err.message);

	cr_assert_eq(oscar_call(pool, &g, "open", oscar_value_new_int(42), 0, NULL, NULL), 0);
	oscar_value_t *reply;
	cr_assert_eq(oscar_call_wait(&held, &reply, NULL), 0);
	int64_t n;
	cr_assert_eq(oscar_value_get_int(reply, &n), 0);
	cr_assert_eq(n, 42);
	oscar_value_free(reply);
	(void) c;
}

Test(call, cancel_reaches_calls_made_for_the_request)
{
	oscar_ref_t    g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_ref_t    r = test_spawn(pool, &test_relay_class, "r", NULL);
	oscar_call_t  *call;
	oscar_value_t *reply;
	bool           b;

	oscar_value_t *args = test_via(false, "g", "wait", NULL);
	cr_assert_eq(oscar_call_start(pool, &r, "via", args, 10000, &call), 0);
	test_wait_parked(pool, &g, 1);
	oscar_call_cancel(call);
	cr_assert_eq(oscar_call_wait(&call, NULL, NULL), OSCAR_ECANCELED);
	cr_assert_eq(oscar_call(pool, &g, "was_cancelled", NULL, 0, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_bool(reply, &b), 0);
	cr_assert(b, "the gate's request was not cancelled with its parent");
	oscar_value_free(reply);
}

Test(call, deadline_fires)
{
	oscar_ref_t   g = test_spawn(pool, &test_gate_class, "g", NULL);
	oscar_error_t err;
	cr_assert_eq(oscar_call(pool, &g, "wait", NULL, 50, NULL, &err), OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "timed out") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "g.wait") != NULL, "%s", err.message);
	// The late answer goes nowhere, and the pool is fine.
	cr_assert_eq(test_call_int(pool, &g, "open", 0), 1);
	cr_assert_eq(test_call_int(pool, &g, "waiting", 0), 0);
}

Test(call, synchronous_call_from_pool_thread_is_refused)
{
	oscar_ref_t   c = test_spawn(pool, &test_counter_class, "c", NULL);
	oscar_error_t err;
	cr_assert_eq(oscar_call(pool, &c, "sync_call", NULL, 0, NULL, &err), OSCAR_ESTATE);
}

Test(call, foreign_address_is_not_local)
{
	oscar_ref_t   far;
	oscar_error_t err;
	test_spawn(pool, &test_counter_class, "c", NULL);
	// Same uid, another pool's address: never mistaken for the local
	// one. Nothing listens there, so the call ends at its deadline.
	oscar_ref_make(&far, "tcp://127.0.0.1:1", "c");
	cr_assert_eq(oscar_call(pool, &far, "get", NULL, 300, NULL, &err), OSCAR_ETIMEDOUT);
	cr_assert_str_eq(err.actor, "c");
	cr_assert_str_eq(err.method, "get");
}

// From an actor, the deadline is the pool's own, whose error says that
// the pool could not be reached.
Test(call, unreachable_pool_is_a_clear_connect_error)
{
	oscar_pool_config_t cfg;
	oscar_error_t       err;
	oscar_pool_free(&pool);
	oscar_pool_config_init(&cfg);
	cfg.default_timeout_ms = 300;
	pool                   = pool_open(&cfg);
	oscar_ref_t r          = test_spawn(pool, &test_relay_class, "r", NULL);
	cr_assert_eq(oscar_call(pool, &r, "via",
	                 test_via(false, "c@tcp://127.0.0.1:1", "get", NULL), 10000, NULL, &err),
	    OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "could not connect to pool tcp://127.0.0.1:1") != NULL, "%s",
	    err.message);
	cr_assert_str_eq(err.address, "tcp://127.0.0.1:1");
}

Test(call, bad_arguments_are_rejected_and_consumed)
{
	oscar_ref_t c = test_spawn(pool, &test_counter_class, "c", NULL);
	cr_assert_eq(
	    oscar_call(NULL, &c, "get", oscar_value_new_int(1), 0, NULL, NULL), OSCAR_EINVAL);
	cr_assert_eq(
	    oscar_call(pool, NULL, "get", oscar_value_new_int(1), 0, NULL, NULL), OSCAR_EINVAL);
	cr_assert_eq(
	    oscar_call(pool, &c, NULL, oscar_value_new_int(1), 0, NULL, NULL), OSCAR_EINVAL);
	cr_assert_eq(
	    oscar_call(pool, &c, "get", oscar_value_new_int(1), -1, NULL, NULL), OSCAR_EINVAL);
	char long_name[OSCAR_NAME_MAX + 8];
	memset(long_name, 'm', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_eq(oscar_call(pool, &c, long_name, NULL, 0, NULL, NULL), OSCAR_EINVAL);
	cr_assert_eq(oscar_call_wait(NULL, NULL, NULL), OSCAR_EINVAL);
}
