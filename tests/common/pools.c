// What every test program may use to open pools.
#include <stdlib.h>

#include <criterion/criterion.h>

#include "oscar/node.h"

#include "tests/common/pools.h"

oscar_pool_t *pool_open(const oscar_pool_config_t *cfg)
{
	oscar_pool_t *p   = NULL;
	oscar_error_t err = { 0 };
	int           rv  = oscar_pool_open(&p, cfg, &err);
	cr_assert_eq(rv, 0, "open %s: %s",
	    cfg != NULL && cfg->address != NULL ? cfg->address : "a pool", err.message);
	return (p);
}

oscar_pool_t *pool_open_at(const char *address)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address = address;
	return (pool_open(&cfg));
}

int tests_main(int argc, char *argv[], oscar_registry_t *(*registry)(void) )
{
	if (getenv("OSCAR_SUBPOOL_ADDRESS") != NULL) {
		oscar_registry_t *reg = registry();
		int               rv  = reg != NULL ? oscar_node_subpool_main(reg) : 1;
		oscar_registry_free(&reg);
		return (rv);
	}
	struct criterion_test_set *tests = criterion_initialize();
	int                        rv    = 0;
	if (criterion_handle_args(argc, argv, true)) {
		rv = !criterion_run_all_tests(tests);
	}
	criterion_finalize(tests);
	return (rv);
}
