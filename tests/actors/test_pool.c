// Pools: lifecycle, several pools per process, closing with calls in
// flight, the inbox bound, refs and counters (actors/pool.c).
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "actors/pool_int.h"
#include "tests/actors/support.h"

TestSuite(pool, .timeout = 60);

Test(pool, open_and_free)
{
	oscar_pool_t       *p;
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cr_assert_eq(cfg.default_timeout_ms, 30000);
	cr_assert_eq(cfg.actor_batch, 100);
	cfg.address = "inproc://named";
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), 0);
	cr_assert_str_eq(oscar_pool_address(p), "inproc://named");
	oscar_pool_close(p);
	oscar_pool_close(p); // idempotent
	oscar_pool_free(&p);
	cr_assert_null(p);
	oscar_pool_free(&p); // NULL is fine
	oscar_pool_free(NULL);

	oscar_error_t err;
	cr_assert_eq(oscar_pool_open(NULL, NULL, NULL), OSCAR_EINVAL);
	cr_assert_eq(oscar_pool_open(NULL, NULL, &err), OSCAR_EINVAL);
	cr_assert_eq(err.code, OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "no pool pointer given");
	cfg.default_timeout_ms = -1;
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), OSCAR_EINVAL);
	cr_assert_eq(oscar_pool_open(&p, &cfg, &err), OSCAR_EINVAL);
	cr_assert_null(p);
	cr_assert_eq(err.code, OSCAR_EINVAL);
	cr_assert(strstr(err.message, "must not be negative") != NULL, "%s", err.message);
	char addr[OSCAR_ADDR_MAX + 10];
	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	oscar_pool_config_init(&cfg);
	cfg.address = addr;
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), OSCAR_EADDRINVAL);
	cr_assert_eq(oscar_pool_open(&p, &cfg, &err), OSCAR_EADDRINVAL);
	cr_assert_eq(err.code, OSCAR_EADDRINVAL);
	cr_assert(strstr(err.message, "longer than the limit") != NULL, "%s", err.message);
	cr_assert_eq(err.pid, (int64_t) getpid());
}

Test(pool, several_pools_in_one_process)
{
	oscar_pool_t *pools[4];
	oscar_ref_t   refs[4];
	for (int i = 0; i < 4; i++) {
		pools[i] = test_pool(0, 0);
		refs[i]  = test_spawn(pools[i], &test_counter_class, "c", oscar_value_new_int(i));
	}
	for (int i = 0; i < 4; i++) {
		cr_assert_str_eq(refs[i].addr, oscar_pool_address(pools[i]));
		for (int j = 0; j < i; j++) {
			cr_assert_str_neq(refs[i].addr, refs[j].addr);
		}
		cr_assert_eq(test_call_int(pools[i], &refs[i], "add", 100), 100 + i);
	}
	for (int i = 0; i < 4; i++) {
		oscar_pool_free(&pools[i]);
	}
}

Test(pool, closing_fails_every_call_in_flight)
{
	oscar_pool_t *p = test_pool(0, 0);
	oscar_ref_t   g = test_spawn(p, &test_gate_class, "g", NULL);
	oscar_call_t *calls[200];
	oscar_error_t err;
	atomic_store(&test_destroyed, 0);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(oscar_call_start(p, &g, "wait", NULL, 30000, &calls[i]), 0);
	}
	test_wait_parked(p, &g, 200);
	oscar_pool_close(p);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(oscar_call_wait(&calls[i], NULL, &err), OSCAR_ECLOSED, "call %d", i);
	}
	// New calls fail at once.
	cr_assert_eq(oscar_call(p, &g, "waiting", NULL, 0, NULL, &err), OSCAR_ECLOSED);
	cr_assert_eq(oscar_tell_nowait(p, &g, "waiting", NULL), OSCAR_ECLOSED);
	oscar_pool_free(&p);
	cr_assert_eq(atomic_load(&test_destroyed), 1);
}

Test(pool, closing_with_queued_messages_loses_nothing_silently)
{
	oscar_pool_t *p = test_pool(0, 0);
	oscar_ref_t   r = test_spawn(p, &test_relay_class, "r", NULL);
	test_spawn(p, &test_gate_class, "g", NULL);
	oscar_call_t  *held, *queued[10];
	oscar_value_t *args = test_via(true, "g", "wait", NULL);
	cr_assert_eq(oscar_call_start(p, &r, "via", args, 0, &held), 0);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(oscar_call_start(p, &r, "noop", NULL, 0, &queued[i]), 0);
	}
	oscar_pool_free(&p);
	cr_assert_eq(oscar_call_wait(&held, NULL, NULL), OSCAR_ECLOSED);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(oscar_call_wait(&queued[i], NULL, NULL), OSCAR_ECLOSED);
	}
}

Test(pool, full_inbox_refuses_with_mailbox_full)
{
	oscar_pool_t *p = test_pool(0, 8);
	cr_assert_eq(uv_sem_init(&test_block_sem, 0), 0);
	cr_assert_eq(uv_sem_init(&test_block_started, 0), 0);
	atomic_store(&test_block_hooks, 0);
	oscar_ref_t b = test_spawn(p, &test_blocker_class, "b", NULL);
	oscar_ref_t c = test_spawn(p, &test_counter_class, "c", NULL);
	// Block the pool's thread, then fill its inbox.
	cr_assert_eq(oscar_tell_nowait(p, &b, "block", NULL), 0);
	uv_sem_wait(&test_block_started);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(oscar_tell_nowait(p, &c, "add", oscar_value_new_int(1)), 0);
	}
	cr_assert_eq(oscar_tell_nowait(p, &c, "add", oscar_value_new_int(1)), OSCAR_EMBOXFULL);
	oscar_error_t err;
	cr_assert_eq(oscar_call(p, &c, "get", NULL, 0, NULL, &err), OSCAR_EMBOXFULL);
	cr_assert(strstr(err.message, "inbox") != NULL, "%s", err.message);
	uv_sem_post(&test_block_sem);
	// Everything accepted was delivered (once the inbox has room again).
	oscar_value_t *reply = NULL;
	int            rv;
	while ((rv = oscar_call(p, &c, "get", NULL, 0, &reply, NULL)) == OSCAR_EMBOXFULL) {
		;
	}
	cr_assert_eq(rv, 0);
	int64_t n;
	cr_assert_eq(oscar_value_get_int(reply, &n), 0);
	cr_assert_eq(n, 8);
	oscar_value_free(reply);
	oscar_pool_free(&p);
	uv_sem_destroy(&test_block_sem);
	uv_sem_destroy(&test_block_started);
}

// A backlog of messages is served over several turns of the loop, at most
// OSC_TURN_MESSAGES in each, so that timers and I/O come between them.
Test(pool, one_turn_delivers_a_bounded_number_of_messages)
{
	oscar_pool_t *p = test_pool(0, 0);
	cr_assert_eq(uv_sem_init(&test_block_sem, 0), 0);
	cr_assert_eq(uv_sem_init(&test_block_started, 0), 0);
	atomic_store(&test_block_hooks, 0);
	oscar_ref_t b = test_spawn(p, &test_blocker_class, "b", NULL);
	oscar_ref_t c = test_spawn(p, &test_counter_class, "c", NULL);
	// Block the pool's thread, queue five turns' worth, then let it go:
	// the turn that served the block serves the backlog next.
	int n = 5 * OSC_TURN_MESSAGES;
	cr_assert_eq(oscar_tell_nowait(p, &b, "block", NULL), 0);
	uv_sem_wait(&test_block_started);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(oscar_tell_nowait(p, &c, "add", oscar_value_new_int(1)), 0);
	}
	uv_sem_post(&test_block_sem);
	// Everything was delivered, in turns of at most the bound, and one
	// turn reached it.
	cr_assert_eq(test_call_int(p, &c, "add", 0), n);
	oscar_pool_stats_t st;
	cr_assert_eq(oscar_pool_stats(p, &st, 5000), 0);
	cr_assert_eq(st.messages, (uint64_t) n + 2);
	cr_assert_eq(st.turn_most, OSC_TURN_MESSAGES);
	oscar_pool_free(&p);
	uv_sem_destroy(&test_block_sem);
	uv_sem_destroy(&test_block_started);
}

Test(pool, stats_count_messages_and_calls)
{
	oscar_pool_t      *p = test_pool(0, 0);
	oscar_ref_t        c = test_spawn(p, &test_counter_class, "c", NULL);
	oscar_pool_stats_t st;
	for (int i = 0; i < 10; i++) {
		test_call_int(p, &c, "add", 1);
	}
	cr_assert_eq(oscar_call(p, &c, "fail", NULL, 0, NULL, NULL), OSCAR_EAPP);
	cr_assert_eq(oscar_pool_stats(p, &st, 0), 0);
	cr_assert_eq(st.actors, 1);
	cr_assert_eq(st.messages, 11);
	cr_assert_eq(st.calls, 11);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.timeouts, 0);
	oscar_pool_free(&p);
	cr_assert_eq(oscar_pool_stats(NULL, &st, 0), OSCAR_EINVAL);
}

Test(pool, refs_are_values)
{
	oscar_ref_t a, b;
	cr_assert_eq(oscar_ref_make(&a, "inproc://x", "u"), 0);
	cr_assert_eq(oscar_ref_make(&b, "inproc://x", "u"), 0);
	cr_assert(oscar_ref_equal(&a, &b));
	cr_assert_eq(oscar_ref_make(&b, "inproc://y", "u"), 0);
	cr_assert_not(oscar_ref_equal(&a, &b));
	cr_assert_eq(oscar_ref_make(&b, NULL, "u"), 0);
	cr_assert_str_eq(b.addr, "");
	cr_assert_eq(oscar_ref_make(&b, NULL, ""), OSCAR_EINVAL);
	cr_assert_eq(oscar_ref_make(&b, NULL, NULL), OSCAR_EINVAL);
	char uid[OSCAR_UID_MAX + 1];
	memset(uid, 'u', OSCAR_UID_MAX);
	uid[OSCAR_UID_MAX] = '\0';
	cr_assert_eq(oscar_ref_make(&b, NULL, uid), OSCAR_EINVAL);
}
