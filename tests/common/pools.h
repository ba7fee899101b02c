// What every test program may use to open pools.
#ifndef OSCAR_TESTS_COMMON_POOLS_H
#define OSCAR_TESTS_COMMON_POOLS_H

#include "oscar/actor.h"
#include "oscar/service.h"

// pool_open opens a pool with cfg (NULL: the defaults) and asserts
// (Criterion) that it opened; a failure names the address and the error.
oscar_pool_t *pool_open(const oscar_pool_config_t *cfg);

// pool_open_at opens a pool at address with the defaults otherwise, the
// same way.
oscar_pool_t *pool_open_at(const char *address);

// tests_main is the main of a test program that is also its nodes' sub
// pool program: started as a node's sub pool (OSCAR_SUBPOOL_ADDRESS set),
// it runs as one with the registry registry() makes; otherwise it runs
// the program's tests.
int tests_main(int argc, char *argv[], oscar_registry_t *(*registry)(void) );

#endif // OSCAR_TESTS_COMMON_POOLS_H
