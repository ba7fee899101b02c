// Large task outputs: a task on one worker makes a large bin, a task on
// the other worker takes it as its input, in a cluster of one process
// (a supervisor and two workers with one slot each) whose workers keep
// the default dead timeout: moving the bytes must never keep a worker's
// loop so busy that the supervisor takes it for dead.
//
// Each worker offers one of the two functions (a worker offers only the
// functions of its registry), which puts the two tasks on two workers;
// the sub pools, this program again, have both.
//
// OSCAR_TEST_BIG_MIB sets the size (default 64), for profiling the path
// with other sizes.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/oscar.h"
#include "tests/common/values.h"
#include "tests/common/pools.h"

// big.make([n]): a bin of n bytes, byte i being i * 7 mod 251.
static int fn_make(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t n;
	char   *buf;
	if (oscar_value_get_int(oscar_value_at(args, 0), &n) != 0 || n < 0 ||
	    (uint64_t) n > (uint64_t) 1 << 32) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "make takes a size up to 4 GiB"));
	}
	if ((buf = malloc((size_t) n + 1)) == NULL) {
		return (
		    oscar_task_fail(ctx, OSCAR_ENOMEM, "no room for %lld bytes", (long long) n));
	}
	for (size_t i = 0; i < (size_t) n; i++) {
		buf[i] = (char) ((i * 7) % 251);
	}
	*result = oscar_value_new_bin(buf, (size_t) n);
	free(buf);
	return (*result != NULL ? 0 : oscar_task_fail(ctx, OSCAR_ENOMEM, "out of memory"));
}

// big.take([bin]): its length if every byte is as big.make wrote it, else
// -1 - the index of the first wrong byte.
static int fn_take(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const void *p;
	size_t      len;
	int64_t     out;
	if (oscar_value_get_bin(oscar_value_at(args, 0), &p, &len) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "take takes a bin"));
	}
	out = (int64_t) len;
	for (size_t i = 0; i < len; i++) {
		if (((const unsigned char *) p)[i] != (unsigned char) ((i * 7) % 251)) {
			out = -1 - (int64_t) i;
			break;
		}
	}
	*result = oscar_value_new_int(out);
	return (*result != NULL ? 0 : oscar_task_fail(ctx, OSCAR_ENOMEM, "out of memory"));
}

static oscar_registry_t *make_registry(bool make, bool take)
{
	oscar_registry_t *r = NULL;
	oscar_taskfns_t  *fns;
	oscar_error_t     err;
	if (oscar_registry_new(&r) != 0) {
		return (NULL);
	}
	fns = oscar_registry_taskfns(r);
	if ((make && oscar_taskfns_add(fns, "big.make", fn_make, NULL, &err) != 0) ||
	    (take && oscar_taskfns_add(fns, "big.take", fn_take, NULL, &err) != 0)) {
		oscar_registry_free(&r);
	}
	return (r);
}

static oscar_registry_t *reg0, *reg1, *reg2;
static oscar_node_t     *sup, *w1, *w2;
static oscar_pool_t     *client;
static const char       *sup_addr;
static const char       *S = "big";

static oscar_node_t *start_node(oscar_registry_t *r, oscar_role_t role)
{
	oscar_settings_t *s;
	oscar_node_t     *node;
	oscar_error_t     err;
	cr_assert_eq(oscar_settings_new(&s), 0);
	oscar_settings_set(s, "node", "listen", "tcp://127.0.0.1:0");
	oscar_settings_set(s, "node", "sub_pools", role == OSCAR_ROLE_WORKER ? "1" : "0");
	// The dead timeout is left at its default on purpose.
	if (role == OSCAR_ROLE_WORKER) {
		oscar_settings_set(s, "node", "supervisor", sup_addr);
	}
	cr_assert_eq(oscar_node_start(&node, role, s, r, &err), 0, "%s", err.message);
	oscar_settings_free(&s);
	return (node);
}

static void setup(void)
{
	oscar_pool_config_t cfg;
	oscar_cluster_t    *cl;
	oscar_error_t       err;
	// The sub pools inherit this sandbox's environment and must run as
	// sub pools, not as the test framework's sandboxes.
	unsetenv("BXFI_MAP");
	cr_assert_not_null(reg0 = make_registry(false, false));
	cr_assert_not_null(reg1 = make_registry(true, false));
	cr_assert_not_null(reg2 = make_registry(false, true));
	sup      = start_node(reg0, OSCAR_ROLE_SUPERVISOR);
	sup_addr = oscar_node_address(sup);
	w1       = start_node(reg1, OSCAR_ROLE_WORKER);
	w2       = start_node(reg2, OSCAR_ROLE_WORKER);
	oscar_pool_config_init(&cfg);
	client = pool_open(&cfg);
	cr_assert_eq(oscar_cluster_open(&cl, client, sup_addr, &err), 0);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 2, 20000, &err), 0, "%s", err.message);
	oscar_cluster_close(&cl);
	cr_assert_eq(oscar_sessions_create(client, sup_addr, S, false, NULL, NULL, 10000, &err), 0,
	    "%s", err.message);
}

static void teardown(void)
{
	oscar_pool_free(&client);
	oscar_node_stop(&w1);
	oscar_node_stop(&w2);
	oscar_node_stop(&sup);
	oscar_registry_free(&reg0);
	oscar_registry_free(&reg1);
	oscar_registry_free(&reg2);
}

TestSuite(bigdata, .init = setup, .fini = teardown, .timeout = 300);

// The output of a task on worker 1, taken whole by a task on worker 2:
// both succeed, the bytes arrive intact, and both workers are still
// alive afterwards.
Test(bigdata, a_large_output_made_on_one_worker_is_taken_on_the_other)
{
	const char    *env  = getenv("OSCAR_TEST_BIG_MIB");
	int64_t        size = (int64_t) (env != NULL ? atoi(env) : 64) << 20;
	char           gid[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL, *graph = oscar_value_new_array(2);
	cr_assert_eq(oscar_value_array_push(graph, oscar_graph_task("made", "big.make",
	                                               args1(oscar_value_new_int(size)), 1, false)),
	    0);
	cr_assert_eq(
	    oscar_value_array_push(graph,
	        oscar_graph_task("took", "big.take", args1(oscar_value_new_ref("made")), 1, false)),
	    0);
	cr_assert_eq(
	    oscar_graph_submit(client, sup_addr, S, graph, NULL, gid, sizeof(gid), 10000, &err), 0,
	    "%s", err.message);
	cr_assert_eq(
	    oscar_graph_wait(client, sup_addr, S, gid, 240000, &info, &err), 0, "%s", err.message);
	const oscar_value_t *e = oscar_value_map_get(info, "error");
	cr_assert_str_eq(oscar_value_map_str(info, "status"), "done", "graph %s: %s",
	    oscar_value_map_str(info, "status"),
	    e != NULL && e->type == OSCAR_MAP ? oscar_value_map_str(e, "message") : "");
	oscar_value_free(info);

	// Where each result is, and what "took" says.
	const char    *keys[]   = { "made", "took" };
	const char    *fields[] = { "workers", NULL };
	oscar_value_t *entries  = NULL;
	cr_assert_eq(
	    oscar_meta_get(client, sup_addr, S, keys, 2, fields, false, 10000, &entries, &err), 0,
	    "%s", err.message);
	const oscar_value_t *made = oscar_value_map_get(oscar_value_at(entries, 0), "workers");
	const oscar_value_t *took = oscar_value_map_get(oscar_value_at(entries, 1), "workers");
	cr_assert_geq(oscar_value_len(made), 1);
	cr_assert_eq(oscar_value_len(took), 1);
	cr_assert_str_eq(oscar_value_at_str(made, 0), oscar_node_address(w1));
	cr_assert_str_eq(oscar_value_at_str(took, 0), oscar_node_address(w2));
	oscar_ref_t    ref;
	oscar_value_t *q = oscar_value_new_map(2), *out = NULL;
	int64_t        got;
	cr_assert_eq(oscar_ref_make(&ref, oscar_node_address(w2), "oscar.storage"), 0);
	oscar_value_map_set(q, "session", oscar_value_new_str(S));
	oscar_value_map_set(q, "keys", args1(oscar_value_new_str("took")));
	cr_assert_eq(oscar_call(client, &ref, "get", q, 10000, &out, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_get_int(oscar_value_at(out, 0), &got), 0);
	cr_assert_eq(
	    got, size, "took saw %lld, not %lld bytes as made", (long long) got, (long long) size);
	oscar_value_free(out);
	oscar_value_free(entries);

	// Neither worker was taken for dead on the way.
	oscar_cluster_t *cl;
	cr_assert_eq(oscar_cluster_open(&cl, client, sup_addr, &err), 0);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 2, 10000, &err), 0, "%s", err.message);
	oscar_cluster_close(&cl);
}

// The program is also the workers' sub pool program: the slots have both
// functions.
static oscar_registry_t *slot_registry(void)
{
	return (make_registry(true, true));
}

int main(int argc, char *argv[])
{
	return (tests_main(argc, argv, slot_registry));
}
