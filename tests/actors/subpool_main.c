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

// chatty: shout(n) prints n long lines on its standard output.
static int chatty_shout(oscar_actor_t *self, oscar_req_t *req)
{
	int64_t n = 0;
	char    line[1001];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	(void) oscar_value_get_int(oscar_req_args(req), &n);
	for (int64_t i = 0; i < n; i++) {
		printf("%s\n", line);
	}
	return (oscar_req_reply(req, oscar_value_new_int(n)));
}

static const oscar_method_t chatty_methods[] = {
	{ "shout", chatty_shout, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t chatty_class = {
	.name    = "chatty",
	.methods = chatty_methods,
};

static const oscar_actor_class_t *const classes[] = {
	&chatty_class,
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
	if (oscar_pool_open(&pool, &cfg, NULL) != 0 ||
	    oscar_pool_sub_pools(pool, info, 2, &n, 0) != 0) {
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
