// Local clusters (oscar_local_*): real supervisor and worker processes
// started, watched and stopped by the library.
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "oscar/oscar.h"
#include "tests/common/pools.h"

static oscar_local_config_t local_config(unsigned workers)
{
	static const char *const fast[] = { "--heartbeat-interval=100ms", "--dead-timeout=2s",
		NULL };
	oscar_local_config_t     cfg;
	oscar_local_config_init(&cfg);
	cfg.workers    = workers;
	cfg.bin_dir    = OSCAR_TEST_BIN_DIR;
	cfg.extra_args = fast;
	cfg.timeout_ms = 20000;
	return (cfg);
}

// client opens a pool that can take replies, and a cluster handle on lc.
static oscar_pool_t *client(const oscar_local_t *lc, oscar_cluster_t **cl)
{
	oscar_pool_t *pool = pool_open_at("tcp://127.0.0.1:0");
	oscar_error_t err;
	cr_assert_eq(oscar_cluster_open(cl, pool, oscar_local_address(lc), &err), 0);
	return (pool);
}

// start starts a cluster of cfg and a client for it.
static oscar_pool_t *start(oscar_local_config_t *cfg, oscar_local_t **lc, oscar_cluster_t **cl)
{
	oscar_error_t err;
	cr_assert_eq(oscar_local_start(lc, cfg, &err), 0, "%s", err.message);
	return (client(*lc, cl));
}

Test(local, starts_two_workers_and_stops_cleanly)
{
	oscar_local_config_t cfg = local_config(2);
	cfg.sub_pools            = 1;
	oscar_local_t *lc;
	oscar_error_t  err;
	cr_assert_eq(oscar_local_start(&lc, &cfg, &err), 0, "%s", err.message);
	cr_assert(strncmp(oscar_local_address(lc), "tcp://127.0.0.1:", 16) == 0);
	cr_assert_gt(oscar_local_worker_pid(lc, 0), 0);
	cr_assert_gt(oscar_local_worker_pid(lc, 1), 0);
	cr_assert_eq(oscar_local_worker_pid(lc, 2), -1);

	oscar_cluster_t *cl;
	oscar_pool_t    *pool = client(lc, &cl);
	size_t           n;
	cr_assert_eq(oscar_cluster_count(cl, OSCAR_ROLE_WORKER, OSCAR_NODE_READY, &n, 5000, &err),
	    0, "%s", err.message);
	cr_assert_eq(n, 2);
	cr_assert_eq(oscar_local_wait(lc, 0, &err), OSCAR_ETIMEDOUT, "no news while all is well");
	oscar_cluster_close(&cl);
	oscar_pool_free(&pool);

	int64_t w0 = oscar_local_worker_pid(lc, 0);
	cr_assert_eq(oscar_local_stop(&lc), 0, "every process exits with status 0");
	cr_assert_null(lc);
	cr_assert_eq(kill((pid_t) w0, 0), -1, "the worker is gone and reaped");
}

Test(local, a_node_that_cannot_start_is_quoted)
{
	static const char *const bad[] = { "--set=cluster.dead_timeout=xyz", NULL };
	oscar_local_config_t     cfg   = local_config(1);
	cfg.extra_args                 = bad;
	oscar_local_t *lc              = NULL;
	oscar_error_t  err;
	cr_assert_neq(oscar_local_start(&lc, &cfg, &err), 0);
	cr_assert_null(lc);
	cr_assert(
	    strstr(err.message, "dead_timeout") != NULL, "the node's own words: %s", err.message);
}

Test(local, missing_programs_are_named)
{
	oscar_local_config_t cfg = local_config(1);
	cfg.bin_dir              = "/nonexistent/bin";
	oscar_local_t *lc        = NULL;
	oscar_error_t  err;
	cr_assert_eq(oscar_local_start(&lc, &cfg, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "/nonexistent/bin") != NULL, "%s", err.message);
}

Test(local, a_killed_worker_is_news_and_is_marked_dead)
{
	oscar_local_config_t cfg = local_config(2);
	oscar_local_t       *lc;
	oscar_cluster_t     *cl;
	oscar_error_t        err;
	oscar_pool_t        *pool    = start(&cfg, &lc, &cl);
	uint64_t             version = 0;
	oscar_node_info_t   *nodes;
	size_t               n;
	cr_assert_eq(oscar_cluster_watch(cl, &version, &nodes, &n, 5000, &err), 0);
	oscar_node_info_free(nodes, n);

	int64_t victim = oscar_local_worker_pid(lc, 1);
	cr_assert_eq(kill((pid_t) victim, SIGKILL), 0);
	cr_assert_eq(oscar_local_wait(lc, 10000, &err), OSCAR_EPEERGONE);

	// The supervisor notices within the dead timeout; the watch says so.
	bool dead = false;
	for (int round = 0; round < 20 && !dead; round++) {
		cr_assert_eq(oscar_cluster_watch(cl, &version, &nodes, &n, 10000, &err), 0, "%s",
		    err.message);
		for (size_t i = 0; i < n; i++) {
			dead =
			    dead || (nodes[i].pid == victim && nodes[i].status == OSCAR_NODE_DEAD);
		}
		oscar_node_info_free(nodes, n);
	}
	cr_assert(dead, "the killed worker is marked dead");
	// A stop does not wait for the dead worker: only the live one leaves.
	cr_assert_eq(oscar_cluster_stop(cl, 20000, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_local_wait(lc, 10000, &err), 0, "the supervisor exits with 0: %s", err.message);
	oscar_cluster_close(&cl);
	oscar_pool_free(&pool);
	cr_assert_eq(oscar_local_stop(&lc), OSCAR_ESYSTEM, "one worker did not exit cleanly");
}

Test(local, oscar_cluster_stop_ends_it_all)
{
	oscar_local_config_t cfg = local_config(2);
	oscar_local_t       *lc;
	oscar_cluster_t     *cl;
	oscar_error_t        err;
	oscar_pool_t        *pool = start(&cfg, &lc, &cl);
	cr_assert_eq(oscar_cluster_stop(cl, 10000, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_local_wait(lc, 10000, &err), 0, "the supervisor exits with 0: %s", err.message);
	oscar_cluster_close(&cl);
	oscar_pool_free(&pool);
	cr_assert_eq(oscar_local_stop(&lc), 0);
}

static bool give_up(void *arg)
{
	int *asked = arg;
	return (++*asked >= 1);
}

Test(local, a_cancelled_start_stops_what_it_started)
{
	oscar_local_config_t cfg   = local_config(1);
	int                  asked = 0;
	cfg.cancelled              = give_up;
	cfg.cancel_arg             = &asked;
	oscar_local_t *lc          = NULL;
	oscar_error_t  err;
	cr_assert_eq(oscar_local_start(&lc, &cfg, &err), OSCAR_ECANCELED, "%s", err.message);
	cr_assert_null(lc);
	cr_assert_geq(asked, 1);
}
