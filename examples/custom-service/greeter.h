// The greeter service's typed API: what a client calls instead of building
// messages. A small, complete custom service (docs/extending.md):
//
//  - greeter.c is the module: `--load-modules liboscar-greeter.so` adds
//    the service "greeter" to a supervisor or worker. On every node it
//    runs an actor (uid GREETER_UID) and offers the class "greeter" for
//    creation by name, so a client can place more greeters anywhere.
//  - greeter_api.c is this API, linked into clients.
//  - client.c is a client: it greets through every node of a cluster.
//
// Settings, in the configuration file's [greeter] section or with
// --set greeter.KEY=VALUE:
//   greeting      what a greeting starts with (default "Hello")
//   fail_start    true makes the service fail to start (to see how a node
//                 handles that: it stops what it started and exits 1)
#ifndef GREETER_H
#define GREETER_H

#include <oscar/oscar.h>

#define GREETER_UID   "greeter"
#define GREETER_CLASS "greeter"

// greeter_greet asks the greeter at address (actor uid, NULL for
// GREETER_UID) to greet name; *reply (malloc'd, free it) is the greeting.
int greeter_greet(oscar_pool_t *pool, const char *address, const char *uid, const char *name,
    char **reply, oscar_error_t *err);

// greeter_count gives how many greetings that greeter has made.
int greeter_count(
    oscar_pool_t *pool, const char *address, const char *uid, uint64_t *count, oscar_error_t *err);

#endif // GREETER_H
