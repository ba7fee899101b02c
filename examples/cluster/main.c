// oscar-cluster: a cluster on this machine, start to finish.
//
// It starts a supervisor and two workers, each a process of its own
// (oscar-supervisor, oscar-worker), every one loading the greeter module of
// examples/custom-service, which offers an actor class named "greeter".
// Then, from this program, through a small client pool: it lists the
// workers, creates one greeter on each worker, calls it, and stops the
// cluster, workers first.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/cluster.h"
#include "oscar/local.h"
#include "oscar/oscar.h"

#define TIMEOUT_MS 10000

// print_error prints what failed and why.
static void print_error(const char *what, const oscar_error_t *err)
{
	char line[OSCAR_ERRMSG_MAX + 3 * OSCAR_ADDR_MAX];
	if (err->address[0] == '\0') {
		// Not from a pool: the message is the whole story.
		fprintf(stderr, "%s: %s\n", what, err->message);
		return;
	}
	oscar_error_format(err, line, sizeof(line));
	fprintf(stderr, "%s: %s\n", what, line);
}

// show_workers lists the workers as the supervisor sees them.
static int show_workers(oscar_cluster_t *cl)
{
	oscar_node_info_t *nodes;
	size_t             n;
	oscar_error_t      err;
	if (oscar_cluster_nodes(cl, OSCAR_ROLE_WORKER, 0, &nodes, &n, TIMEOUT_MS, &err) != 0) {
		print_error("listing the workers", &err);
		return (1);
	}
	printf("The supervisor knows %zu workers:\n", n);
	for (size_t i = 0; i < n; i++) {
		printf("  %-24s %-6s pid %-7" PRId64 " %u cores\n", nodes[i].address,
		    oscar_node_status_name(nodes[i].status), nodes[i].pid, nodes[i].cores);
	}
	oscar_node_info_free(nodes, n);
	return (0);
}

#ifdef OSCAR_GREETER_MODULE
// greet_on_worker creates a greeter saying greeting on worker i, has it
// greet name, asks how many greetings it made, and destroys it.
static int greet_on_worker(
    oscar_pool_t *pool, oscar_cluster_t *cl, size_t i, const char *greeting, const char *name)
{
	char              where[OSCAR_ADDR_MAX];
	oscar_placement_t place = { .how = OSCAR_PLACE_ADDRESS, .address = where };
	oscar_ref_t       ref;
	oscar_value_t    *reply = NULL;
	oscar_error_t     err;
	const char       *text;
	uint64_t          count = 0;
	int               rv;

	if (oscar_cluster_worker_address(cl, i, where, sizeof(where), TIMEOUT_MS, &err) != 0) {
		print_error("picking a worker", &err);
		return (1);
	}
	if (oscar_create_by_name(pool, "greeter", NULL, oscar_value_new_str(greeting), &place,
	        TIMEOUT_MS, &ref, &err) != 0) {
		print_error("creating a greeter", &err);
		return (1);
	}
	rv = oscar_call(pool, &ref, "greet", oscar_value_new_str(name), TIMEOUT_MS, &reply, &err);
	if (rv != 0) {
		print_error("calling greet", &err);
	} else {
		if (oscar_value_get_str(reply, &text, NULL) != 0) {
			text = "(not a string)";
		}
		printf("  worker %zu: \"%s\"", i, text);
		oscar_value_free(reply);
		reply = NULL;
		if ((rv = oscar_call(pool, &ref, "count", NULL, TIMEOUT_MS, &reply, &err)) != 0) {
			printf("\n");
			print_error("calling count", &err);
		} else {
			oscar_value_get_uint(reply, &count);
			printf(" (%llu greeting%s so far)\n", (unsigned long long) count,
			    count == 1 ? "" : "s");
			oscar_value_free(reply);
		}
	}
	if (oscar_destroy(pool, &ref, TIMEOUT_MS, &err) != 0 && rv == 0) {
		print_error("destroying the greeter", &err);
		rv = 1;
	}
	return (rv != 0 ? 1 : 0);
}
#endif

// use_cluster does the work on the running cluster at address.
static int use_cluster(const char *address)
{
	oscar_pool_config_t pcfg;
	oscar_pool_t       *pool;
	oscar_cluster_t    *cl;
	oscar_error_t       err;
	int                 failed = 0;

	// Our own pool, listening so that replies can come back to it.
	oscar_pool_config_init(&pcfg);
	pcfg.address = "tcp://127.0.0.1:0";
	if (oscar_pool_open(&pool, &pcfg) != 0) {
		fprintf(stderr, "cannot open a client pool\n");
		return (1);
	}
	if (oscar_cluster_open(&cl, pool, address, &err) != 0) {
		print_error("opening the cluster", &err);
		oscar_pool_free(&pool);
		return (1);
	}
	failed = show_workers(cl);
#ifdef OSCAR_GREETER_MODULE
	static const char *const greetings[] = { "Hello", "Bonjour" };
	static const char *const names[]     = { "Ada", "Grace" };
	printf("\nA greeter actor on each worker, created from here by class name:\n");
	for (size_t i = 0; i < 2 && failed == 0; i++) {
		failed = greet_on_worker(pool, cl, i, greetings[i], names[i]);
	}
#else
	printf("\n(The greeter module, examples/custom-service, is not built: no greetings.)\n");
#endif
	oscar_cluster_close(&cl);
	oscar_pool_free(&pool);
	return (failed);
}

int main(void)
{
	oscar_local_config_t cfg;
	oscar_local_t       *lc;
	oscar_error_t        err;

	oscar_local_config_init(&cfg);
	cfg.workers = 2;
	// The node programs of this build, unless OSCAR_BIN_DIR says otherwise.
	cfg.bin_dir = getenv("OSCAR_BIN_DIR") == NULL ? OSCAR_EXAMPLE_BIN_DIR : NULL;
#ifdef OSCAR_GREETER_MODULE
	static const char *const modules[] = { OSCAR_GREETER_MODULE, NULL };
	cfg.modules                        = modules;
#endif

	printf("Starting a cluster on this machine: a supervisor and 2 workers, each a process.\n");
	fflush(stdout);
	if (oscar_local_start(&lc, &cfg, &err) != 0) {
		print_error("starting the cluster", &err);
		return (1);
	}
	printf("The supervisor listens at %s.\n\n", oscar_local_address(lc));
	int failed = use_cluster(oscar_local_address(lc));

	printf(
	    "\nStopping the cluster: the workers first (they deregister), then the supervisor.\n");
	int rv = oscar_local_stop(&lc);
	if (rv != 0) {
		fprintf(stderr, "the cluster did not stop cleanly: %s\n", oscar_strerror(rv));
		return (1);
	}
	printf("Stopped: every process exited cleanly.\n");
	return (failed);
}
