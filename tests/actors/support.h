// Actor classes and helpers shared by the tests of actors/.
#ifndef TEST_ACTORS_SUPPORT_H
#define TEST_ACTORS_SUPPORT_H

#include <stdatomic.h>

#include <uv.h>

#include "oscar/oscar.h"
#include "tests/common/pools.h"

// The counter: state is an int64 and a log of strings.
//   add(int) -> new total       get() -> total
//   fail(int) -> EAPP "boom N"  err() -> returns OSCAR_EBADARGS
//   log(str) -> nil (appends)   get_log() -> array of str
//   sum (batch_fn) -> like add, but records how many batches it saw
//   batches() -> number of batch_fn invocations
//   bad_batch (batch_fn answering one result too few)
//   quit() -> nil, then the actor exits
//   sync_call() -> tries a synchronous call from the pool thread
//   echo(x) -> x
// Its create hook takes an optional int (the initial total) and fails with
// OSCAR_EBADARGS for "fail"; its destroy hook counts in test_destroyed.
extern const oscar_actor_class_t test_counter_class;
extern atomic_int                test_destroyed;

// The gate: wait() defers (YIELD) until open(value) answers every waiting
// request with value; waiting() -> number waiting; was_cancelled() -> bool.
// A waiting request's cancel hook answers "cancelled-<n>" when the gate was
// created with args "hook".
extern const oscar_actor_class_t test_gate_class;

// The relay: via([hold, uid, method, rest...]) calls uid.method (uid may be
// "uid@address" for another pool's actor) with [hold, rest...] through
// oscar_req_call and answers with its reply, deferring with HOLD or YIELD
// as hold says. get_log() -> entries "reply" appended by callbacks.
extern const oscar_actor_class_t test_relay_class;

// The blocker: its create hook, destroy hook or block() method waits on
// test_block_sem (when test_block_hooks is set for hooks) after posting
// test_block_started.
extern const oscar_actor_class_t test_blocker_class;
extern uv_sem_t                  test_block_sem;
extern uv_sem_t                  test_block_started;
extern atomic_int                test_block_hooks; // bit 1: create, bit 2: destroy

// test_pool opens a pool with defaults tweaked by the arguments (0 keeps
// the default) and asserts success.
oscar_pool_t *test_pool(size_t mailbox_limit, size_t inbox_limit);

// TEST_POOL_SUITE(suite, options...) declares Criterion's suite suite,
// with the options given, whose every test has a pool of its own with the
// defaults, named pool: opened before the test (test_destroyed set to 0
// first), freed after it (and checked gone).
#define TEST_POOL_SUITE(suite, ...)               \
	static oscar_pool_t *pool;                \
	static void          suite##_open(void)   \
	{                                         \
		atomic_store(&test_destroyed, 0); \
		pool = test_pool(0, 0);           \
	}                                         \
	static void suite##_free(void)            \
	{                                         \
		oscar_pool_free(&pool);           \
		cr_assert_null(pool);             \
	}                                         \
	TestSuite(suite, .init = suite##_open, .fini = suite##_free, __VA_ARGS__)

// test_spawn creates an actor from the host and asserts success.
oscar_ref_t test_spawn(
    oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid, oscar_value_t *args);

// test_call_int calls method with an int argument and returns the int
// reply, asserting success.
int64_t test_call_int(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, int64_t arg);

// test_wait_parked waits until gate g (through pool) holds n waiting
// requests, so that a test acts on requests known to have started.
void test_wait_parked(oscar_pool_t *pool, const oscar_ref_t *g, int64_t n);

// test_strs makes an array of strings (NULL-terminated list).
oscar_value_t *test_strs(const char *first, ...);

// test_via builds relay arguments [hold, uid, method, uid, method, ...]
// from a NULL-terminated list of strings.
oscar_value_t *test_via(bool hold, const char *first, ...);

#endif
