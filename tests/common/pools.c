// What every test program may use to open pools.
#include <criterion/criterion.h>

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
