// A client of the greeter service: it joins no cluster, it only calls one.
//
//     oscar-greeter-client SUPERVISOR_ADDRESS [NAME]
//
// Through the cluster service it finds every node, asks the greeter each
// one runs to greet NAME, then creates one more greeter by class name on
// a worker, with its own greeting, calls it and destroys it.
#include <stdio.h>
#include <stdlib.h>

#include "greeter.h"

static int fail(const char *what, const oscar_error_t *err)
{
	fprintf(stderr, "oscar-greeter-client: %s: %s\n", what, err->message);
	return (1);
}

static int greet_every_node(oscar_pool_t *pool, oscar_cluster_t *cl, const char *name)
{
	oscar_error_t      err;
	oscar_node_info_t *nodes;
	size_t             n;
	if (oscar_cluster_nodes(cl, OSCAR_ROLES_ALL, OSCAR_NODE_READY, &nodes, &n, 5000, &err) !=
	    0) {
		return (fail("cannot list the nodes", &err));
	}
	int status = 0;
	for (size_t i = 0; i < n && status == 0; i++) {
		char *text;
		if (greeter_greet(pool, nodes[i].address, NULL, name, &text, &err) != 0) {
			status = fail(nodes[i].address, &err);
			break;
		}
		printf("%-10s %s\n", oscar_role_name(nodes[i].role), text);
		free(text);
	}
	oscar_node_info_free(nodes, n);
	return (status);
}

static int greet_from_a_new_greeter(oscar_pool_t *pool, oscar_cluster_t *cl, const char *name)
{
	oscar_error_t err;
	char          worker[OSCAR_ADDR_MAX];
	if (oscar_cluster_worker_address(cl, 0, worker, sizeof(worker), 5000, &err) != 0) {
		return (fail("no worker", &err));
	}
	oscar_placement_t where = { .how = OSCAR_PLACE_ADDRESS, .address = worker };
	oscar_ref_t       ref;
	if (oscar_create_by_name(pool, GREETER_CLASS, NULL, oscar_value_new_str("Bonjour"), &where,
	        5000, &ref, &err) != 0) {
		return (fail("cannot create a greeter", &err));
	}
	char    *text;
	uint64_t count = 0;
	int      rv    = greeter_greet(pool, ref.addr, ref.uid, name, &text, &err);
	if (rv == 0) {
		printf("new greeter %s\n", text);
		free(text);
		rv = greeter_count(pool, ref.addr, ref.uid, &count, &err);
	}
	if (rv != 0) {
		fail("the new greeter", &err);
	}
	oscar_destroy(pool, &ref, 5000, NULL);
	return (rv != 0 || count != 1);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: oscar-greeter-client SUPERVISOR_ADDRESS [NAME]\n");
		return (2);
	}
	const char *name = argc == 3 ? argv[2] : "world";

	// A pool at an address the cluster can answer to, wherever it is.
	char          mine[OSCAR_ADDR_MAX];
	oscar_error_t err;
	if (oscar_cluster_client_address(argv[1], mine, sizeof(mine), &err) != 0) {
		return (fail(argv[1], &err));
	}
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address = mine;
	oscar_pool_t *pool;
	int           rv = oscar_pool_open(&pool, &cfg, &err);
	if (rv != 0) {
		fprintf(stderr, "oscar-greeter-client: cannot open a pool: %s\n", err.message);
		return (1);
	}
	oscar_cluster_t *cl;
	int              status = 1;
	if (oscar_cluster_open(&cl, pool, argv[1], &err) == 0) {
		status = greet_every_node(pool, cl, name);
		status = status != 0 ? status : greet_from_a_new_greeter(pool, cl, name);
		oscar_cluster_close(&cl);
	}
	oscar_pool_free(&pool);
	return (status);
}
