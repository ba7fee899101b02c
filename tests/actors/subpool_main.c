// oscar-test-subpool: the program the sub pool tests start as sub pools.
// It offers the shared test classes for creation by name. With
// "--main ADDRESS" it is instead a main pool with two sub pools that
// prints their pids and waits to be killed (the orphan test).
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/actors/support.h"

// sleepy: its destroy hook takes two seconds (a hook that blocks).
static void sleepy_destroy(oscar_actor_t *self)
{
	sleep(2);
}

static const oscar_method_t sleepy_methods[] = { { NULL, NULL, NULL } };

static const oscar_actor_class_t sleepy_class = {
	.name    = "sleepy",
	.destroy = sleepy_destroy,
	.methods = sleepy_methods,
};

static const oscar_actor_class_t *const classes[] = {
	&test_counter_class,
	&test_gate_class,
	&test_relay_class,
	&sleepy_class,
	NULL,
};

static int run_main(const char *address)
{
	oscar_pool_config_t   cfg;
	oscar_pool_t         *pool;
	oscar_sub_pool_info_t info[2];
	size_t                n;
	oscar_pool_config_init(&cfg);
	cfg.address   = address;
	cfg.sub_pools = 2;
	cfg.recover   = OSCAR_RECOVER_PROCESS;
	if (oscar_pool_open(&pool, &cfg) != 0 || oscar_pool_sub_pools(pool, info, 2, &n, 0) != 0) {
		return (1);
	}
	printf("%lld %lld\n", (long long) info[0].pid, (long long) info[1].pid);
	fflush(stdout);
	for (;;) {
		pause(); // until killed
	}
}

int main(int argc, char **argv)
{
	int rv = oscar_subpool_main(classes);
	if (rv >= 0) {
		return (rv);
	}
	if (argc == 3 && strcmp(argv[1], "--main") == 0) {
		return (run_main(argv[2]));
	}
	return (2); // not started by a main pool
}
