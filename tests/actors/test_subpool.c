// Sub pools: child processes started, watched, killed and recovered by a
// main pool (actors/subpool.c). The children run oscar-test-subpool.
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "tests/actors/support.h"
#include "tests/common/raw.h"
#include "tests/common/proc.h"

extern char **environ;

TestSuite(subpool, .timeout = 90);

// main_config sets cfg up for a main pool of this test process with n sub
// pools running oscar-test-subpool; pool_open opens it.
static void main_config(
    oscar_pool_config_t *cfg, unsigned n, const char *const *labels, oscar_recover_t recover)
{
	static char addr[96];
	snprintf(addr, sizeof(addr), "ipc:///tmp/oscar-test-main-%d.sock", (int) getpid());
	oscar_pool_config_init(cfg);
	cfg->address          = addr;
	cfg->sub_pools        = n;
	cfg->sub_pool_labels  = labels;
	cfg->sub_pool_program = OSCAR_TEST_SUBPOOL;
	cfg->recover          = recover;
}

static oscar_pool_t *open_main(unsigned n, const char *const *labels, oscar_recover_t recover)
{
	oscar_pool_config_t cfg;
	main_config(&cfg, n, labels, recover);
	return (pool_open(&cfg));
}

static oscar_ref_t create_in(
    oscar_pool_t *p, unsigned index, const char *cls, const char *uid, oscar_value_t *args)
{
	oscar_placement_t where = { .how = OSCAR_PLACE_SUB_POOL, .index = index };
	oscar_ref_t       ref;
	oscar_error_t     err;
	int               rv = oscar_create_by_name(p, cls, uid, args, &where, 0, &ref, &err);
	cr_assert_eq(rv, 0, "create %s in sub pool %u: %s", cls, index, err.message);
	return (ref);
}

Test(subpool, sub_pools_run_in_their_own_processes)
{
	const char *const     labels[] = { "red", "blue" };
	oscar_pool_t         *p        = open_main(2, labels, OSCAR_RECOVER_OFF);
	oscar_sub_pool_info_t info[4];
	size_t                n;
	oscar_error_t         err;
	cr_assert_eq(oscar_pool_sub_pools(p, info, 4, &n, 0), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		cr_assert(info[i].alive);
		cr_assert_neq(info[i].pid, (int64_t) getpid());
		cr_assert(pid_alive((pid_t) info[i].pid));
		cr_assert_str_neq(info[i].address, oscar_pool_address(p));
	}
	cr_assert_str_eq(info[0].label, "red");
	cr_assert_str_eq(info[1].label, "blue");

	oscar_ref_t c = create_in(p, 1, "counter", "c", oscar_value_new_int(1));
	cr_assert_str_eq(c.addr, info[1].address);
	cr_assert_eq(test_call_int(p, &c, "add", 2), 3);
	cr_assert_eq(oscar_call(p, &c, "fail", oscar_value_new_int(9), 0, NULL, &err), OSCAR_EAPP);
	cr_assert_eq(err.pid, info[1].pid, "the error says which process");
	cr_assert_str_eq(err.address, info[1].address);

	int64_t pids[2] = { info[0].pid, info[1].pid };
	oscar_pool_free(&p);
	// Stopping the main pool stops and reaps its sub pools.
	cr_assert_not(pid_alive((pid_t) pids[0]));
	cr_assert_not(pid_alive((pid_t) pids[1]));
}

Test(subpool, killed_sub_pool_fails_its_calls_at_once)
{
	oscar_pool_t *p = open_main(1, NULL, OSCAR_RECOVER_OFF);
	oscar_ref_t   g = create_in(p, 0, "gate", "g", NULL);
	oscar_call_t *call;
	oscar_error_t err;
	cr_assert_eq(oscar_call_start(p, &g, "wait", NULL, 60000, &call), 0);
	test_wait_parked(p, &g, 1);
	cr_assert_eq(oscar_pool_kill_sub_pool(p, 0, 0), 0);
	cr_assert_eq(oscar_call_wait(&call, NULL, &err), OSCAR_EPEERGONE);
	cr_assert(strstr(err.message, "killed by signal 9") != NULL ||
	              strstr(err.message, "lost the connection") != NULL,
	    "%s", err.message);
	// Recovery is off: the sub pool stays down, and says so.
	cr_assert_eq(oscar_pool_wait_recovered(p, 0, 5000), OSCAR_EPEERGONE);
	oscar_sub_pool_info_t info;
	size_t                n;
	cr_assert_eq(oscar_pool_sub_pools(p, &info, 1, &n, 0), 0);
	cr_assert_not(info.alive);
	cr_assert(strstr(info.last_exit, "signal 9") != NULL, "%s", info.last_exit);
	oscar_pool_free(&p);
}

Test(subpool, process_recovery_restarts_it_empty)
{
	oscar_pool_t *p = open_main(1, NULL, OSCAR_RECOVER_PROCESS);
	oscar_ref_t   c = create_in(p, 0, "counter", "c", oscar_value_new_int(5));
	bool          exists;
	cr_assert_eq(oscar_pool_kill_sub_pool(p, 0, 0), 0);
	cr_assert_eq(oscar_pool_wait_recovered(p, 0, 20000), 0);
	// The same address, a new process, no actors.
	cr_assert_eq(oscar_has(p, &c, &exists, 0), 0);
	cr_assert_not(exists);
	oscar_ref_t d = create_in(p, 0, "counter", "d", NULL);
	cr_assert_str_eq(d.addr, c.addr);
	cr_assert_eq(test_call_int(p, &d, "add", 1), 1);
	oscar_sub_pool_info_t info;
	size_t                n;
	cr_assert_eq(oscar_pool_sub_pools(p, &info, 1, &n, 0), 0);
	cr_assert_eq(info.restarts, 1);
	oscar_pool_free(&p);
}

Test(subpool, actor_recovery_creates_its_actors_again)
{
	oscar_pool_t *p = open_main(1, NULL, OSCAR_RECOVER_ACTOR);
	oscar_ref_t   c = create_in(p, 0, "counter", "c", oscar_value_new_int(5));
	cr_assert_eq(test_call_int(p, &c, "add", 10), 15);
	cr_assert_eq(oscar_pool_kill_sub_pool(p, 0, 0), 0);
	cr_assert_eq(oscar_pool_wait_recovered(p, 0, 20000), 0);
	// Created again with its creation arguments (its state starts over).
	bool exists = false;
	for (int i = 0; i < 1000 && !exists; i++) {
		cr_assert_eq(oscar_has(p, &c, &exists, 0), 0);
	}
	cr_assert(exists);
	cr_assert_eq(test_call_int(p, &c, "add", 0), 5);
	oscar_pool_free(&p);
}

Test(subpool, idle_placement_puts_one_per_sub_pool)
{
	const char *const labels[] = { "w", "w", "w", "other" };
	oscar_pool_t     *p        = open_main(4, labels, OSCAR_RECOVER_OFF);
	oscar_placement_t idle     = { .how = OSCAR_PLACE_IDLE, .label = "w", .mark = "slot" };
	oscar_ref_t       refs[3];
	oscar_error_t     err;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(
		    oscar_create_by_name(p, "counter", NULL, NULL, &idle, 0, &refs[i], &err), 0,
		    "%s", err.message);
	}
	cr_assert_str_neq(refs[0].addr, refs[1].addr);
	cr_assert_str_neq(refs[1].addr, refs[2].addr);
	cr_assert_str_neq(refs[0].addr, refs[2].addr);
	cr_assert_eq(
	    oscar_create_by_name(p, "counter", NULL, NULL, &idle, 0, NULL, &err), OSCAR_ENOENT);
	// Other marks, labels and strategies.
	idle.mark = "other-slot";
	cr_assert_eq(oscar_create_by_name(p, "counter", NULL, NULL, &idle, 0, NULL, &err), 0);
	oscar_placement_t by_label = { .how = OSCAR_PLACE_LABEL, .label = "other" };
	oscar_ref_t       o;
	cr_assert_eq(oscar_create_by_name(p, "counter", NULL, NULL, &by_label, 0, &o, &err), 0);
	oscar_sub_pool_info_t info[4];
	size_t                n;
	cr_assert_eq(oscar_pool_sub_pools(p, info, 4, &n, 0), 0);
	cr_assert_str_eq(o.addr, info[3].address);
	oscar_placement_t any = { .how = OSCAR_PLACE_ANY_SUB_POOL };
	cr_assert_eq(oscar_create_by_name(p, "counter", NULL, NULL, &any, 0, NULL, &err), 0);
	oscar_placement_t none = { .how = OSCAR_PLACE_LABEL, .label = "nope" };
	cr_assert_eq(
	    oscar_create_by_name(p, "counter", NULL, NULL, &none, 0, NULL, &err), OSCAR_ENOENT);
	oscar_pool_free(&p);
}

Test(subpool, sub_pools_come_and_go_at_run_time)
{
	oscar_pool_t         *p = open_main(1, NULL, OSCAR_RECOVER_PROCESS);
	unsigned              index;
	oscar_sub_pool_info_t info[3];
	size_t                n;
	cr_assert_eq(oscar_pool_add_sub_pool(p, "extra", &index, 0), 0);
	cr_assert_eq(index, 1);
	oscar_ref_t c = create_in(p, 1, "counter", "c", NULL);
	cr_assert_eq(test_call_int(p, &c, "add", 4), 4);
	cr_assert_eq(oscar_pool_sub_pools(p, info, 3, &n, 0), 0);
	cr_assert_eq(n, 2);
	int64_t pid = info[1].pid;
	cr_assert_eq(oscar_pool_remove_sub_pool(p, 1, 0), 0);
	cr_assert_not(pid_alive((pid_t) pid));
	cr_assert_eq(oscar_pool_sub_pools(p, info, 3, &n, 0), 0);
	cr_assert(info[1].removed);
	cr_assert_eq(oscar_pool_remove_sub_pool(p, 1, 0), OSCAR_ENOENT);
	cr_assert_eq(oscar_pool_kill_sub_pool(p, 7, 0), OSCAR_ENOENT);
	oscar_pool_free(&p);
}

// A main pool killed with SIGKILL leaves no sub pool behind. The main
// pool runs in a process of its own (oscar-test-subpool --main).
Test(subpool, sigkill_of_the_main_pool_leaves_no_orphans)
{
	int                        fds[2];
	char                       addr[96];
	posix_spawn_file_actions_t fa;
	pid_t                      main_pid;
	snprintf(addr, sizeof(addr), "ipc:///tmp/oscar-test-orphan-%d.sock", (int) getpid());
	char *const argv[] = { OSCAR_TEST_SUBPOOL, "--main", addr, NULL };
	cr_assert_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	cr_assert_eq(posix_spawn(&main_pid, OSCAR_TEST_SUBPOOL, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	FILE     *in = fdopen(fds[0], "r");
	long long pids[2];
	cr_assert_eq(fscanf(in, "%lld %lld", &pids[0], &pids[1]), 2);
	fclose(in);
	cr_assert(pid_alive((pid_t) pids[0]) && pid_alive((pid_t) pids[1]));
	kill(main_pid, SIGKILL);
	int status;
	cr_assert_eq(waitpid(main_pid, &status, 0), main_pid);
	for (int i = 0; i < 2; i++) {
		// The kernel sends the death signal at once; give it a moment
		// to act, bounded.
		for (int k = 0; k < 500 && pid_alive((pid_t) pids[i]); k++) {
			usleep(10000);
		}
		cr_assert_not(
		    pid_alive((pid_t) pids[i]), "sub pool %lld outlived its main pool", pids[i]);
	}
	// Nobody closed the sockets of the killed processes.
	char path[128];
	for (int i = -1; i < 2; i++) {
		if (i < 0) {
			snprintf(path, sizeof(path), "%s", addr + 6);
		} else {
			snprintf(path, sizeof(path), "%s-sub%d", addr + 6, i);
		}
		unlink(path);
	}
}

Test(subpool, bad_configurations_are_refused)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *p = NULL;
	oscar_pool_config_init(&cfg);
	cfg.sub_pools = 1;
	// inproc cannot reach another process.
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), OSCAR_EADDRINVAL);
	// A program that cannot run: open fails and leaves nothing behind.
	char addr[96];
	snprintf(addr, sizeof(addr), "ipc:///tmp/oscar-test-bad-%d.sock", (int) getpid());
	cfg.address          = addr;
	cfg.sub_pool_program = "/nonexistent/oscar-sub-pool";
	cr_assert_neq(oscar_pool_open(&p, &cfg, NULL), 0);
	cr_assert_null(p);
	oscar_error_t err;
	int           rv = oscar_pool_open(&p, &cfg, &err);
	cr_assert_neq(rv, 0);
	cr_assert_null(p);
	cr_assert_eq(err.code, rv);
	cr_assert(strstr(err.message, "sub pool 0") != NULL, "%s", err.message);
	// A sub pool that did not call oscar_subpool_main cannot start sub
	// pools of its own (no endless chain of processes).
	cfg.sub_pool_program = OSCAR_TEST_SUBPOOL;
	setenv("OSCAR_SUBPOOL_ADDRESS", "ipc:///nowhere", 1);
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), OSCAR_ESTATE);
	cr_assert_eq(oscar_pool_open(&p, &cfg, &err), OSCAR_ESTATE);
	cr_assert(strstr(err.message, "oscar_subpool_main") != NULL, "%s", err.message);
	unsetenv("OSCAR_SUBPOOL_ADDRESS");
	cr_assert_null(p);
}

// Garbage sent to a sub pool's address from outside: dropped, and the sub
// pool (another process) goes on serving.
Test(subpool, hostile_bytes_do_not_hurt_a_sub_pool)
{
	oscar_pool_t         *p = open_main(1, NULL, OSCAR_RECOVER_OFF);
	oscar_ref_t           c = create_in(p, 0, "counter", "c", NULL);
	oscar_sub_pool_info_t info;
	size_t                n;
	raw_conn_t            raw;
	uint64_t              x = 0x9e3779b97f4a7c15ull;
	cr_assert_eq(oscar_pool_sub_pools(p, &info, 1, &n, 0), 0);
	raw_dial(&raw, info.address);
	for (int i = 0; i < 3000; i++) {
		char   buf[512];
		size_t len = (size_t) (x % sizeof(buf)) + 1;
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (char) x;
		}
		if (i % 2 == 0 && len > 16) {
			// A valid prefix whose lengths point past the end.
			memcpy(buf, "OSCR\x01\x01\x00\x00\xff\xff\x00\x00\x10\x00\x00\x00", 16);
		}
		raw_send(&raw, buf, len);
	}
	// And bytes that are not the link's framing at all.
	if (!raw.nng) {
		raw_write(&raw, "\x00\x53\x50\x00\x00\x50\x00\x00", 8);
	}
	raw_close(&raw);
	cr_assert_eq(test_call_int(p, &c, "add", 3), 3);
	cr_assert_eq(oscar_pool_sub_pools(p, &info, 1, &n, 0), 0);
	cr_assert(info.alive);
	oscar_pool_free(&p);
}

// A 256 MiB value makes the round trip to a sub pool and back intact.
Test(subpool, a_256_mib_value_round_trips)
{
	oscar_pool_t  *p    = open_main(1, NULL, OSCAR_RECOVER_OFF);
	oscar_ref_t    c    = create_in(p, 0, "counter", "c", NULL);
	size_t         size = (size_t) 256 << 20;
	unsigned char *data = calloc(1, size); // all of it defined (memcheck)
	oscar_value_t *reply;
	const void    *got;
	size_t         len;
	cr_assert_not_null(data);
	for (size_t i = 0; i < size; i += 4096) {
		data[i] = (unsigned char) (i >> 12);
	}
	data[size - 1] = 0x5a;
	cr_assert_eq(
	    oscar_call(p, &c, "echo", oscar_value_new_bin(data, size), 120000, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_bin(reply, &got, &len), 0);
	cr_assert_eq(len, size);
	cr_assert(memcmp(got, data, size) == 0);
	oscar_value_free(reply);
	free(data);
	oscar_pool_free(&p);
}

// Many host threads creating with the same idle mark at once still get one
// actor per sub pool.
typedef struct creator {
	oscar_pool_t *pool;
	oscar_ref_t   ref;
	int           rv;
} creator_t;

static void create_idle(void *arg)
{
	creator_t        *c    = arg;
	oscar_placement_t idle = { .how = OSCAR_PLACE_IDLE, .label = "w", .mark = "m" };
	c->rv = oscar_create_by_name(c->pool, "counter", NULL, NULL, &idle, 0, &c->ref, NULL);
}

Test(subpool, concurrent_idle_creations_spread_out)
{
	const char *const labels[] = { "w", "w", "w" };
	oscar_pool_t     *p        = open_main(3, labels, OSCAR_RECOVER_OFF);
	creator_t         c[8];
	uv_thread_t       t[8];
	int               ok = 0;
	for (int i = 0; i < 8; i++) {
		c[i].pool = p;
		uv_thread_create(&t[i], create_idle, &c[i]);
	}
	for (int i = 0; i < 8; i++) {
		uv_thread_join(&t[i]);
	}
	for (int i = 0; i < 8; i++) {
		if (c[i].rv == 0) {
			for (int j = 0; j < i; j++) {
				if (c[j].rv == 0) {
					cr_assert_str_neq(c[i].ref.addr, c[j].ref.addr);
				}
			}
			ok++;
		} else {
			cr_assert_eq(c[i].rv, OSCAR_ENOENT);
		}
	}
	cr_assert_eq(ok, 3);
	oscar_pool_free(&p);
}

// Killing an actor the hard way kills its sub pool; recovery applies.
// Sub pools also get the environment settings they were configured with.
Test(subpool, killing_an_actor_kills_its_sub_pool)
{
	static const char *const  all[]  = { "OSCAR_TEST_ALL=1", NULL };
	static const char *const  one[]  = { "OSCAR_TEST_ONE=yes", NULL };
	static const char *const *envs[] = { one, NULL };
	oscar_pool_config_t       cfg;
	main_config(&cfg, 2, NULL, OSCAR_RECOVER_PROCESS);
	cfg.sub_pool_env  = all;
	cfg.sub_pool_envs = envs;
	setenv("OSCAR_TEST_ALL", "0", 1); // replaced by the configured setting
	oscar_pool_t *p = pool_open(&cfg);

	oscar_sub_pool_info_t info[2];
	size_t                n;
	cr_assert_eq(oscar_pool_sub_pools(p, info, 2, &n, 0), 0);
	char path[64], env[4096];
	snprintf(path, sizeof(path), "/proc/%lld/environ", (long long) info[0].pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t len = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	bool has_all = false, has_one = false, has_old = false;
	for (size_t i = 0; i < len; i += strlen(env + i) + 1) {
		has_all = has_all || strcmp(env + i, "OSCAR_TEST_ALL=1") == 0;
		has_one = has_one || strcmp(env + i, "OSCAR_TEST_ONE=yes") == 0;
		has_old = has_old || strcmp(env + i, "OSCAR_TEST_ALL=0") == 0;
	}
	cr_assert(has_all && has_one);
	cr_assert_not(has_old, "the inherited value was not replaced");

	oscar_ref_t c = create_in(p, 1, "counter", "c", NULL);
	oscar_ref_t local;
	oscar_ref_make(&local, oscar_pool_address(p), "nobody");
	cr_assert_eq(oscar_pool_kill_actor(p, &local, 0), OSCAR_ENOENT);
	cr_assert_eq(oscar_pool_kill_actor(p, &c, 0), 0);
	cr_assert_eq(oscar_pool_wait_recovered(p, 1, 20000), 0);
	cr_assert_eq(oscar_pool_sub_pools(p, info, 2, &n, 0), 0);
	cr_assert_eq(info[1].restarts, 1);
	cr_assert_eq(info[0].restarts, 0);
	oscar_pool_free(&p);
}

// Cancel reaches a handler in another process, and its hook's value comes
// back; a destroy hook that blocks over there does not hold the caller
// past its deadline.
Test(subpool, cancel_and_blocking_hooks_across_processes)
{
	oscar_pool_t  *p = open_main(1, NULL, OSCAR_RECOVER_OFF);
	oscar_ref_t    g = create_in(p, 0, "gate", "g", oscar_value_new_str("hook"));
	oscar_call_t  *call;
	oscar_value_t *reply;
	oscar_error_t  err;
	const char    *s;
	cr_assert_eq(oscar_call_start(p, &g, "wait", NULL, 30000, &call), 0);
	test_wait_parked(p, &g, 1);
	oscar_call_cancel(call);
	cr_assert_eq(oscar_call_wait(&call, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "cancelled-0");
	oscar_value_free(reply);

	oscar_ref_t z = create_in(p, 0, "sleepy", "z", NULL);
	cr_assert_eq(oscar_destroy(p, &z, 200, &err), OSCAR_ETIMEDOUT);
	// The sub pool is fine once the hook is done.
	cr_assert_eq(test_call_int(p, &g, "waiting", 0), 0);
	oscar_pool_free(&p);
}

// A sub pool that ignores SIGTERM is killed after its grace period, each
// time one is stopped (not only the first time).
Test(subpool, stuck_sub_pools_are_killed_at_every_stop)
{
	char script[96];
	snprintf(script, sizeof(script), "/tmp/oscar-test-stuck-%d.sh", (int) getpid());
	FILE *f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\ntrap '' TERM\nexec %s\n", OSCAR_TEST_SUBPOOL);
	fclose(f);
	cr_assert_eq(chmod(script, 0755), 0);
	oscar_pool_config_t cfg;
	main_config(&cfg, 2, NULL, OSCAR_RECOVER_OFF);
	cfg.sub_pool_program = script;
	oscar_pool_t *p      = pool_open(&cfg);
	cr_assert_eq(oscar_pool_remove_sub_pool(p, 0, 20000), 0);
	cr_assert_eq(oscar_pool_remove_sub_pool(p, 1, 20000), 0);
	oscar_pool_free(&p);
	unlink(script);
}

// A request from another pool that its actor deferred is answered when
// the actor is destroyed.
Test(subpool, destroying_an_actor_answers_remote_waiters)
{
	oscar_pool_t *p = open_main(1, NULL, OSCAR_RECOVER_OFF);
	oscar_ref_t   g = create_in(p, 0, "gate", "g", NULL);
	oscar_call_t *call;
	oscar_error_t err;
	cr_assert_eq(oscar_call_start(p, &g, "wait", NULL, 30000, &call), 0);
	test_wait_parked(p, &g, 1);
	cr_assert_eq(oscar_destroy(p, &g, 0, &err), 0);
	cr_assert_eq(oscar_call_wait(&call, NULL, &err), OSCAR_ENOACTOR);
	cr_assert(strstr(err.message, "destroyed") != NULL, "%s", err.message);
	oscar_pool_free(&p);
}

// A sub pool that prints a lot is not blocked by its standard output: the
// main pool relays it.
Test(subpool, chatty_sub_pools_do_not_block)
{
	oscar_pool_t *p = open_main(1, NULL, OSCAR_RECOVER_OFF);
	oscar_ref_t   c = create_in(p, 0, "chatty", "c", NULL);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(test_call_int(p, &c, "shout", 200), 200); // 200 KB each
	}
	oscar_pool_free(&p);
}

// wait_parked waits until gate g holds n requests, asking through pool;
// it fails the test if they are not all there after many turns.
static void wait_parked(oscar_pool_t *pool, const oscar_ref_t *g, int64_t n, int round)
{
	int64_t have = 0;
	for (int i = 0; i < 200000 && (have = test_call_int(pool, g, "waiting", 0)) != n; i++) {
		;
	}
	cr_assert_eq(have, n, "round %d: %lld requests parked, not %lld", round, (long long) have,
	    (long long) n);
}

// death_round starts n calls to gate g of sub pool 0 from three kinds of
// callers: the main pool itself, a relay in sub pool 1 (a sibling), and
// pool c, an unrelated pool of this process; kills sub pool 0 once they
// all wait; and checks that every call fails naming the signal and the
// pid of the process that died.
static void death_round(oscar_pool_t *p, oscar_pool_t *c, const oscar_ref_t *relay, int round)
{
	enum { FROM_MAIN = 20, FROM_SIBLING = 15, FROM_OTHER = 15 };
	oscar_call_t         *calls[FROM_MAIN + FROM_SIBLING + FROM_OTHER];
	oscar_sub_pool_info_t info;
	size_t                n;
	char                  uid[32], target[OSCAR_UID_MAX + OSCAR_ADDR_MAX];
	snprintf(uid, sizeof(uid), "g%d", round);
	oscar_ref_t g = create_in(p, 0, "gate", uid, NULL);
	snprintf(target, sizeof(target), "%s@%s", uid, g.addr);
	cr_assert_eq(oscar_pool_sub_pools(p, &info, 1, &n, 0), 0);
	size_t k = 0;
	for (int i = 0; i < FROM_MAIN; i++) {
		cr_assert_eq(oscar_call_start(p, &g, "wait", NULL, 60000, &calls[k++]), 0);
	}
	for (int i = 0; i < FROM_SIBLING; i++) {
		cr_assert_eq(oscar_call_start(p, relay, "via",
		                 test_via(false, target, "wait", NULL), 60000, &calls[k++]),
		    0);
	}
	for (int i = 0; i < FROM_OTHER; i++) {
		cr_assert_eq(oscar_call_start(c, &g, "wait", NULL, 60000, &calls[k++]), 0);
	}
	wait_parked(p, &g, (int64_t) k, round);
	wait_parked(c, &g, (int64_t) k, round);
	cr_assert_eq(oscar_pool_kill_sub_pool(p, 0, 0), 0);
	// Every outcome is checked; the test fails on the first that is not
	// as it should be, naming it.
	for (size_t i = 0; i < k; i++) {
		oscar_error_t err;
		const char   *who = i < FROM_MAIN                  ? "main pool"
		                    : i < FROM_MAIN + FROM_SIBLING ? "sibling"
		                                                   : "other pool";
		int           rv  = oscar_call_wait(&calls[i], NULL, &err);
		if (rv != OSCAR_EPEERGONE || strstr(err.message, "killed by signal 9") == NULL ||
		    err.pid != info.pid || strcmp(err.address, g.addr) != 0) {
			cr_assert_fail(
			    "round %d, call %zu (%s): %s: %s (pid %lld at %s; the sub pool was "
			    "pid %lld at %s)",
			    round, i, who, oscar_errname(rv), err.message, (long long) err.pid,
			    err.address, (long long) info.pid, g.addr);
		}
	}
	cr_assert_eq(oscar_pool_wait_recovered(p, 0, 20000), 0);
}

// A call pending on a sub pool that dies fails with how it died and its
// pid, whichever comes first of the lost connection and the exit, for
// callers in the main pool, in a sibling sub pool and in another pool.
// death_rounds runs rounds of death_round with a main pool at main_addr
// (two sub pools, recovered) and another pool at other_addr.
static void death_rounds(const char *main_addr, const char *other_addr, int rounds)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *p, *c;
	main_config(&cfg, 2, NULL, OSCAR_RECOVER_PROCESS);
	cfg.address       = main_addr;
	p                 = pool_open(&cfg);
	c                 = pool_open_at(other_addr);
	oscar_ref_t relay = create_in(p, 1, "relay", "relay", NULL);
	for (int round = 0; round < rounds; round++) {
		death_round(p, c, &relay, round);
	}
	oscar_pool_free(&c);
	oscar_pool_free(&p);
}

Test(subpool, deaths_are_reported_with_their_signal_every_time)
{
	char main_addr[96], other_addr[96];
	snprintf(
	    main_addr, sizeof(main_addr), "ipc:///tmp/oscar-test-main-%d.sock", (int) getpid());
	snprintf(
	    other_addr, sizeof(other_addr), "ipc:///tmp/oscar-test-other-%d.sock", (int) getpid());
	death_rounds(main_addr, other_addr, 50);
}

// Over tcp the kernel does not name the process at the other end of a
// connection: the sub pools' own word (their home frames) does.
Test(subpool, deaths_over_tcp_are_reported_with_their_signal)
{
	death_rounds("tcp://127.0.0.1:0", "tcp://127.0.0.1:0", 10);
}
