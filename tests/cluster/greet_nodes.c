// oscar-test-greet: asks the greeter service of every ready node of a
// cluster to greet, from a pool listening where it is told.
//
//     oscar-test-greet LISTEN SUPERVISOR NODES
//
// multihost.sh runs it in one network namespace against nodes in others.
// Replies come back to LISTEN, so it must be an address the nodes can
// reach: oscar-greeter-client listens on tcp://127.0.0.1:0, the loopback
// of its own namespace, which no other host can reach. It waits until
// NODES nodes (the supervisor and NODES - 1 workers) are ready, prints
// "ROLE GREETING" for each, and exits with 0 when every one answered.
#include <stdio.h>
#include <stdlib.h>

#include "oscar/oscar.h"

#define TIMEOUT_MS 30000

static int fail(const char *what, const oscar_error_t *err)
{
	fprintf(stderr, "oscar-test-greet: %s: %s\n", what, err->message);
	return (1);
}

static int greet(oscar_pool_t *pool, const oscar_node_info_t *node)
{
	oscar_ref_t    ref;
	oscar_value_t *reply;
	oscar_error_t  err;
	const char    *text;
	if (oscar_ref_make(&ref, node->address, "greeter") != 0) {
		fprintf(stderr, "oscar-test-greet: bad address %s\n", node->address);
		return (1);
	}
	if (oscar_call(pool, &ref, "greet", oscar_value_new_str("multihost"), TIMEOUT_MS, &reply,
	        &err) != 0) {
		return (fail(node->address, &err));
	}
	int rv = oscar_value_get_str(reply, &text, NULL);
	if (rv == 0) {
		printf("%s %s\n", oscar_role_name(node->role), text);
	} else {
		fprintf(
		    stderr, "oscar-test-greet: %s did not answer with a string\n", node->address);
	}
	oscar_value_free(reply);
	return (rv != 0);
}

static int greet_all(oscar_pool_t *pool, oscar_cluster_t *cl, size_t want)
{
	oscar_error_t      err;
	oscar_node_info_t *nodes;
	size_t             n;
	if (oscar_cluster_wait_workers(cl, want - 1, TIMEOUT_MS, &err) != 0) {
		return (fail("waiting for the workers", &err));
	}
	if (oscar_cluster_nodes(
	        cl, OSCAR_ROLES_ALL, OSCAR_NODE_READY, &nodes, &n, TIMEOUT_MS, &err) != 0) {
		return (fail("listing the nodes", &err));
	}
	int status = n == want ? 0 : 1;
	if (status != 0) {
		fprintf(stderr, "oscar-test-greet: %zu nodes ready, %zu expected\n", n, want);
	}
	for (size_t i = 0; i < n && status == 0; i++) {
		status = greet(pool, &nodes[i]);
	}
	oscar_node_info_free(nodes, n);
	return (status);
}

int main(int argc, char **argv)
{
	if (argc != 4 || atoi(argv[3]) < 1) {
		fprintf(stderr, "usage: oscar-test-greet LISTEN SUPERVISOR NODES\n");
		return (2);
	}
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address = argv[1];
	oscar_pool_t *pool;
	int           rv = oscar_pool_open(&pool, &cfg, NULL);
	if (rv != 0) {
		fprintf(stderr, "oscar-test-greet: cannot open a pool at %s: %s\n", argv[1],
		    oscar_strerror(rv));
		return (1);
	}
	oscar_cluster_t *cl;
	oscar_error_t    err;
	int              status = 1;
	if (oscar_cluster_open(&cl, pool, argv[2], &err) == 0) {
		status = greet_all(pool, cl, (size_t) atoi(argv[3]));
		oscar_cluster_close(&cl);
	} else {
		fail(argv[2], &err);
	}
	oscar_pool_free(&pool);
	return (status);
}
