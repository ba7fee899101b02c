// A live supervisor with two workers under a flood of hostile but
// well-formed frames: every message type of the wire table, forged ids,
// sources and targets, aimed at the service actors too. Afterwards the
// cluster must still work: its service actors are there (they are
// protected: a peer cannot destroy or replace them), both workers are
// listed as ready, calls are answered, and everything stops cleanly.
//
// Without a secret, a peer may call any method, so the flood leaves out
// the methods that stop or leave the cluster by design (stop_cluster,
// going_away, deregister, stop, leave, supervisor_leaving): those are
// what the secret is for, and the second test throws them too, from a
// peer that does not know it.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/wire.h"
#include "oscar/oscar.h"
#include "tests/common/hostile.h"
#include "tests/common/rng.h"
#include "tests/common/pools.h"

#define FRAMES      100000
#define PER_MESSAGE 16
#define DEADLINE_MS 60000

static void init(void)
{
	oscar_log_setup("error", NULL);
}

TestSuite(hostile_cluster, .init = init, .timeout = 300);

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
	return (xorshift64(&rng));
}

static const char *pick(const char *const *list, size_t n)
{
	return (list[next() % n]);
}

#define PICK(list) pick(list, sizeof(list) / sizeof(list[0]))

// random_value makes a small value of any type, nested a little, shaped
// now and then like what the cluster's methods take (a map with an
// address, an array of numbers).
static oscar_value_t *random_value(int depth)
{
	switch (next() % (depth > 1 ? 6 : 9)) {
	case 0:
		return (oscar_value_new_nil());
	case 1:
		return (oscar_value_new_int((int64_t) (next() % 5 == 0 ? next() : next() % 100)));
	case 2:
		return (oscar_value_new_bool(next() & 1));
	case 3: {
		char buf[48];
		snprintf(buf, sizeof(buf), "tcp://127.0.0.%d:%d", (int) (next() % 250) + 1,
		    (int) (next() % 60000) + 1);
		return (oscar_value_new_str(buf));
	}
	case 4:
		return (oscar_value_new_float((double) (next() % 1000) / 7.0));
	case 5: {
		char buf[16] = "bin-of-bytes";
		return (oscar_value_new_bin(buf, next() % sizeof(buf)));
	}
	case 6: {
		oscar_value_t *a = oscar_value_new_array(4);
		for (int k = (int) (next() % 4); k > 0; k--) {
			oscar_value_array_push(a, random_value(depth + 1));
		}
		return (a);
	}
	case 7: {
		oscar_value_t *m = oscar_value_new_map(4);
		oscar_value_map_set(m, "address", random_value(depth + 1));
		if (next() & 1) {
			oscar_value_map_set(
			    m, "pid", oscar_value_new_int((int64_t) next() % 100000));
		}
		if (next() & 1) {
			oscar_value_map_set(
			    m, "role", oscar_value_new_str(next() & 1 ? "worker" : "x"));
		}
		return (m);
	}
	default: {
		oscar_value_t *m = oscar_value_new_map(2);
		oscar_value_map_set(m, "id", oscar_value_new_str("s1"));
		oscar_value_map_set(m, "if_not_exists", oscar_value_new_bool(next() & 1));
		return (m);
	}
	}
}

typedef struct cluster {
	oscar_node_t    *sup;
	oscar_node_t    *w[2];
	oscar_pool_t    *client;
	oscar_cluster_t *cl;
} cluster_t;

static oscar_settings_t *settings(const char *secret_file)
{
	oscar_settings_t *s;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "listen", "tcp://127.0.0.1:0");
	oscar_settings_set(s, "cluster", "heartbeat_interval", "100ms");
	oscar_settings_set(s, "cluster", "dead_timeout", "30s");
	if (secret_file != NULL) {
		oscar_settings_set(s, "node", "secret_file", secret_file);
	}
	return (s);
}

static void cluster_start(cluster_t *c, const char *secret_file)
{
	oscar_error_t     err;
	oscar_settings_t *s = settings(secret_file);
	memset(c, 0, sizeof(*c));
	cr_assert_eq(
	    oscar_node_start(&c->sup, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), 0, "%s", err.message);
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(c->sup));
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(oscar_node_start(&c->w[i], OSCAR_ROLE_WORKER, s, NULL, &err), 0, "%s",
		    err.message);
	}
	oscar_settings_free(&s);

	oscar_pool_config_t cfg;
	void               *secret = NULL;
	size_t              len    = 0;
	if (secret_file != NULL) {
		cr_assert_eq(
		    oscar_secret_read(secret_file, &secret, &len, &err), 0, "%s", err.message);
	}
	oscar_pool_config_init(&cfg);
	cfg.address    = "tcp://127.0.0.1:0";
	cfg.secret     = secret;
	cfg.secret_len = len;
	c->client      = pool_open(&cfg);
	oscar_secret_free(&secret, len);
	cr_assert_eq(oscar_cluster_open(&c->cl, c->client, oscar_node_address(c->sup), &err), 0);
	cr_assert_eq(oscar_cluster_wait_workers(c->cl, 2, DEADLINE_MS, &err), 0, "%s", err.message);
}

// cluster_check asserts that the cluster works: the cluster service's
// actor is in the supervisor's main pool, both real workers are listed as
// ready, and the workers' own actors answer.
static void cluster_check(cluster_t *c)
{
	oscar_error_t err;
	oscar_ref_t   ref;
	bool          exists = false;
	cr_assert_eq(oscar_ref_make(&ref, oscar_node_address(c->sup), OSCAR_CLUSTER_UID), 0);
	cr_assert_eq(oscar_has(c->client, &ref, &exists, DEADLINE_MS), 0);
	cr_assert(exists, "the supervisor's cluster actor is gone");

	oscar_node_info_t *nodes;
	size_t             n;
	cr_assert_eq(oscar_cluster_nodes(
	                 c->cl, OSCAR_ROLE_WORKER, OSCAR_NODE_READY, &nodes, &n, DEADLINE_MS, &err),
	    0, "%s", err.message);
	for (int i = 0; i < 2; i++) {
		bool found = false;
		for (size_t k = 0; k < n; k++) {
			found = found || strcmp(nodes[k].address, oscar_node_address(c->w[i])) == 0;
		}
		cr_assert(
		    found, "worker %s is no longer listed as ready", oscar_node_address(c->w[i]));
		cr_assert_eq(
		    oscar_ref_make(&ref, oscar_node_address(c->w[i]), OSCAR_CLUSTER_UID), 0);
		exists = false;
		cr_assert_eq(oscar_has(c->client, &ref, &exists, DEADLINE_MS), 0);
		cr_assert(exists, "the cluster actor of worker %d is gone", i);
	}
	oscar_node_info_free(nodes, n);
}

static void cluster_stop(cluster_t *c)
{
	oscar_cluster_close(&c->cl);
	oscar_pool_free(&c->client);
	for (int i = 0; i < 2; i++) {
		oscar_node_stop(&c->w[i]);
	}
	oscar_node_stop(&c->sup);
}

static const char *const targets[] = { OSCAR_CLUSTER_UID, OSCAR_CLUSTER_UID, "oscar.node",
	"oscar.sessions", "oscar.storage", "oscar.meta:s1", "oscar.lifecycle:s1", "oscar.task:s1",
	"oscar.executor", "nobody", "" };
static const char *const tame[]    = { "register", "heartbeat", "nodes", "count", "wait_workers",
	   "watch", "info", "node_ready", "create", "has", "list", "get", "set", "put", "incref",
	   "decref", "submit", "session_create", "nosuch", "" };
static const char *const harsh[]   = { "stop_cluster", "going_away", "deregister", "stop", "leave",
	  "supervisor_leaving", "delete", "session_destroy", "cancel" };

// flood_aim_t: the reply addresses a flood claims (9 of them), and
// whether it throws the methods that stop or leave the cluster.
typedef struct flood_aim {
	const char *const *sources;
	bool               destructive;
} flood_aim_t;

static void shape(osc_frame_t *f, int i, void *arg)
{
	const flood_aim_t *aim = arg;
	(void) i;
	snprintf(f->source, sizeof(f->source), "%s", pick(aim->sources, 9));
	snprintf(f->target, sizeof(f->target), "%s", PICK(targets));
	snprintf(f->method, sizeof(f->method), "%s",
	    aim->destructive && next() % 3 == 0 ? PICK(harsh) : PICK(tame));
}

// flood sends FRAMES hostile frames to address, PER_MESSAGE to an NNG
// message, through a raw push socket that proves no secret. With
// destructive false, the methods that stop or leave the cluster by
// design are left out.
static void flood(const char *address, const char *const *workers, bool destructive)
{
	const char *sources[] = { "", address, workers[0], workers[1], "tcp://127.9.9.9:9",
		"ipc:///nowhere/at/all", "inproc://nowhere", "garbage", "tcp://" };

	flood_aim_t   aim = { sources, destructive };
	hostile_ops_t ops = { next, random_value, shape, &aim };
	hostile_flood(address, FRAMES, PER_MESSAGE, &ops);
}

Test(hostile_cluster, a_supervisor_with_workers_survives_100000_forged_frames)
{
	cluster_t c;
	cluster_start(&c, NULL);
	const char *workers[] = { oscar_node_address(c.w[0]), oscar_node_address(c.w[1]) };
	flood(oscar_node_address(c.sup), workers, false);

	// The flood's unreachable reply addresses may hold the supervisor's
	// connection slots for their bounded try; a client asks again as it
	// would, until they free up.
	oscar_error_t err;
	size_t        n  = 0;
	int           rv = OSCAR_ETIMEDOUT;
	for (int i = 0; i < 30 && rv == OSCAR_ETIMEDOUT; i++) {
		rv = oscar_cluster_count(c.cl, OSCAR_ROLE_WORKER, OSCAR_NODE_READY, &n, 2000, &err);
	}
	cr_assert_eq(rv, 0, "%s", err.message);
	cluster_check(&c);
	oscar_pool_stats_t st;
	cr_assert_eq(oscar_pool_stats(oscar_node_pool(c.sup), &st, DEADLINE_MS), 0);
	cr_assert_eq(st.malformed, 0, "well-formed frames were counted as malformed");
	cluster_stop(&c);
}

Test(hostile_cluster, without_the_secret_even_a_stop_does_nothing)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/oscar-test-secret-%d", (int) getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("the secret of this test cluster, long enough\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, 0600), 0);

	cluster_t c;
	cluster_start(&c, path);
	const char *workers[] = { oscar_node_address(c.w[0]), oscar_node_address(c.w[1]) };
	flood(oscar_node_address(c.sup), workers, true);
	cluster_check(&c);
	oscar_pool_stats_t st;
	cr_assert_eq(oscar_pool_stats(oscar_node_pool(c.sup), &st, DEADLINE_MS), 0);
	cr_assert_geq(st.rejected, FRAMES / PER_MESSAGE, "every message was rejected (%llu)",
	    (unsigned long long) st.rejected);
	cluster_stop(&c);
	unlink(path);
}
