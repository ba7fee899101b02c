// Nodes inside the test process: the service framework's order, its
// failure handling, and a supervisor and a worker finding each other.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "oscar/oscar.h"

// Each test service appends "<name>+" when it starts and "<name>-" when it
// stops to a shared journal; "bad" fails to start.
static char journal[256];

static int note_start(const char *name, void **state, oscar_error_t *err)
{
	strcat(journal, name);
	strcat(journal, "+ ");
	*state = (void *) name;
	if (strcmp(name, "bad") == 0) {
		snprintf(err->message, sizeof(err->message), "bad on purpose");
		return (OSCAR_EUSER + 1);
	}
	return (0);
}

static void note_stop(oscar_node_t *node, void *state)
{
	strcat(journal, (const char *) state);
	strcat(journal, "- ");
}

#define TEST_SERVICE(id, roles_)                                                    \
	static int start_##id(oscar_node_t *node, void **state, oscar_error_t *err) \
	{                                                                           \
		return (note_start(#id, state, err));                               \
	}                                                                           \
	static const oscar_service_t svc_##id = { .abi = OSCAR_SERVICE_ABI,         \
		.name                                  = #id,                       \
		.roles                                 = (roles_),                  \
		.start                                 = start_##id,                \
		.stop                                  = note_stop }

TEST_SERVICE(alpha, OSCAR_ROLES_ALL);
TEST_SERVICE(beta, OSCAR_ROLES_ALL);
TEST_SERVICE(only_workers, OSCAR_ROLE_WORKER);
TEST_SERVICE(bad, OSCAR_ROLES_ALL);

static oscar_registry_t *registry_with(const oscar_service_t *const *extra)
{
	oscar_registry_t *reg;
	oscar_error_t     err;
	cr_assert_eq(oscar_registry_new(&reg), 0);
	for (size_t i = 0; extra[i] != NULL; i++) {
		cr_assert_eq(oscar_registry_add(reg, extra[i], &err), 0, "%s", err.message);
	}
	return (reg);
}

static void fini(void)
{
	journal[0] = '\0';
}

TestSuite(node, .fini = fini);

Test(node, services_start_in_order_and_stop_in_reverse)
{
	const oscar_service_t *const extra[] = { &svc_alpha, &svc_beta, &svc_only_workers, NULL };
	oscar_registry_t            *reg     = registry_with(extra);
	oscar_settings_t            *s;
	oscar_node_t                *node;
	oscar_error_t                err;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "services", "beta, alpha, only_workers");
	oscar_log_setup("warn", NULL);
	cr_assert_eq(
	    oscar_node_start(&node, OSCAR_ROLE_SUPERVISOR, s, reg, &err), 0, "%s", err.message);
	cr_assert_str_eq(journal, "beta+ alpha+ ",
	    "the configured order; a worker-only "
	    "service is skipped on a supervisor");
	cr_assert(oscar_node_runs(node, "alpha"));
	cr_assert(oscar_node_runs(node, "cluster"), "the cluster service always runs");
	cr_assert_not(oscar_node_runs(node, "only_workers"));
	cr_assert_str_eq(oscar_node_supervisor(node), oscar_node_address(node));
	oscar_node_stop(&node);
	cr_assert_null(node);
	cr_assert_str_eq(journal, "beta+ alpha+ alpha- beta- ");
	oscar_settings_free(&s);
	oscar_registry_free(&reg);
}

Test(node, a_failing_service_stops_those_started_before_it)
{
	const oscar_service_t *const extra[] = { &svc_alpha, &svc_bad, &svc_beta, NULL };
	oscar_registry_t            *reg     = registry_with(extra);
	oscar_settings_t            *s;
	oscar_node_t                *node = NULL;
	oscar_error_t                err;
	oscar_settings_new(&s);
	oscar_log_setup("error", NULL);
	cr_assert_eq(oscar_node_start(&node, OSCAR_ROLE_SUPERVISOR, s, reg, &err), OSCAR_EUSER + 1);
	cr_assert_null(node);
	cr_assert(strstr(err.message, "service bad failed to start: bad on purpose") != NULL, "%s",
	    err.message);
	cr_assert_str_eq(journal, "alpha+ bad+ alpha- ", "beta never starts; alpha is stopped");
	oscar_settings_free(&s);
	oscar_registry_free(&reg);
}

Test(node, unknown_services_and_bad_settings_are_refused)
{
	oscar_settings_t *s;
	oscar_node_t     *node = NULL;
	oscar_error_t     err;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "services", "nonesuch");
	cr_assert_eq(oscar_node_start(&node, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "nonesuch") != NULL, "%s", err.message);

	oscar_settings_set(s, "node", "services", "cluster");
	oscar_settings_set(s, "node", "listen", "inproc://x");
	cr_assert_eq(oscar_node_start(&node, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "node.listen") != NULL, "%s", err.message);

	oscar_settings_set(s, "node", "listen", "tcp://127.0.0.1:0");
	cr_assert_eq(oscar_node_start(&node, OSCAR_ROLE_WORKER, s, NULL, &err), OSCAR_EINVAL,
	    "a worker without a supervisor");
	cr_assert(strstr(err.message, "supervisor") != NULL, "%s", err.message);
	cr_assert_null(node);
	oscar_settings_free(&s);
}

Test(node, a_supervisor_and_a_worker_in_one_process)
{
	oscar_settings_t *s;
	oscar_node_t     *sup = NULL, *worker = NULL;
	oscar_error_t     err;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "labels", "here,now");
	oscar_settings_set(s, "node", "cores", "5");
	oscar_log_setup("warn", NULL);
	cr_assert_eq(
	    oscar_node_start(&sup, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), 0, "%s", err.message);
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(sup));
	cr_assert_eq(
	    oscar_node_start(&worker, OSCAR_ROLE_WORKER, s, NULL, &err), 0, "%s", err.message);

	oscar_cluster_t *cl;
	cr_assert_eq(
	    oscar_cluster_open(&cl, oscar_node_pool(worker), oscar_node_address(sup), &err), 0);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 1, 10000, &err), 0, "%s", err.message);
	oscar_node_info_t *nodes;
	size_t             n;
	cr_assert_eq(oscar_cluster_nodes(cl, OSCAR_ROLES_ALL, 0, &nodes, &n, 5000, &err), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(nodes[0].role, OSCAR_ROLE_SUPERVISOR, "supervisors first");
	cr_assert_str_eq(nodes[1].address, oscar_node_address(worker));
	cr_assert_eq(nodes[1].status, OSCAR_NODE_READY);
	cr_assert_eq(nodes[1].cores, 5);
	cr_assert_eq(nodes[1].n_labels, 2);
	cr_assert_str_eq(nodes[1].labels[1], "now");
	oscar_node_info_free(nodes, n);

	// A field filter keeps only what is asked for.
	const char *const fields[] = { "address", "cores", NULL };
	oscar_value_t    *info;
	cr_assert_eq(
	    oscar_cluster_nodes_info(cl, OSCAR_ROLE_WORKER, NULL, fields, 5000, &info, &err), 0);
	cr_assert_eq(oscar_value_len(info), 1);
	cr_assert_eq(oscar_value_len(oscar_value_at(info, 0)), 2);
	cr_assert_null(oscar_value_map_get(oscar_value_at(info, 0), "labels"));
	oscar_value_free(info);
	const char *const nowhere[] = { "tcp://127.0.0.1:1", NULL };
	cr_assert_eq(
	    oscar_cluster_nodes_info(cl, OSCAR_ROLES_ALL, nowhere, NULL, 5000, &info, &err),
	    OSCAR_ENOENT);

	// A watch sees the worker leave when its node stops.
	uint64_t version = 0;
	cr_assert_eq(oscar_cluster_watch(cl, &version, &nodes, &n, 5000, &err), 0);
	oscar_node_info_free(nodes, n);
	oscar_cluster_close(&cl);
	oscar_node_stop(&worker);
	cr_assert_eq(
	    oscar_cluster_open(&cl, oscar_node_pool(sup), oscar_node_address(sup), &err), 0);
	cr_assert_eq(
	    oscar_cluster_watch(cl, &version, &nodes, &n, 5000, &err), 0, "%s", err.message);
	cr_assert_eq(n, 1, "only the supervisor is left");
	oscar_node_info_free(nodes, n);
	size_t workers = 9;
	cr_assert_eq(oscar_cluster_count(cl, OSCAR_ROLE_WORKER, 0, &workers, 5000, &err), 0);
	cr_assert_eq(workers, 0);
	cr_assert_eq(oscar_cluster_wait_workers(cl, 1, 100, &err), OSCAR_ETIMEDOUT);
	cr_assert(strstr(err.message, "0 of the 1 workers") != NULL, "%s", err.message);
	oscar_cluster_close(&cl);
	oscar_node_stop(&sup);
	oscar_settings_free(&s);
}
