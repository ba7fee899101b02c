// Oscar-C services: what makes pools a cluster.
//
// A service is a table of operations: its name, the roles it runs on, the
// actor classes it brings, start and stop hooks, and optional hooks run
// when a session is created or destroyed. A node starts its services in
// the configured order and stops them in reverse (oscar_node_start).
//
// Services come from a registry. The built-in ones (the cluster service)
// are always there; a program adds its own with oscar_registry_add, and a
// shared object loaded with `--load-modules path.so` adds its own from its
// entry point:
//
//     int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err)
//     {
//             return (oscar_registry_add(reg, &echo_service, err));
//     }
//
// docs/extending.md walks through examples/custom-service, a complete one.
#ifndef OSCAR_SERVICE_H
#define OSCAR_SERVICE_H

#include "oscar/actor.h"
#include "oscar/error.h"
#include "oscar/node.h"

#ifdef __cplusplus
extern "C" {
#endif

// OSCAR_SERVICE_ABI is the service table layout this header describes; a
// module built against another layout is refused when it is loaded.
#define OSCAR_SERVICE_ABI 1

typedef struct oscar_service {
	// abi is OSCAR_SERVICE_ABI.
	unsigned abi;
	// name is unique in a registry; it names the service in the node's
	// "services" setting and its own settings section.
	const char *name;
	// roles the service runs on: OSCAR_ROLE_SUPERVISOR, OSCAR_ROLE_WORKER
	// or both (OSCAR_ROLES_ALL).
	unsigned roles;
	// classes (NULL terminated, may be NULL) are offered for creation by
	// name in the node's main pool and its sub pools.
	const oscar_actor_class_t *const *classes;
	// start runs on the thread that starts the node, after the pools are
	// up and the services before it have started. It may create actors,
	// call other services and store what it needs in *state. A non-zero
	// return (with err filled) fails the node's start.
	int (*start)(oscar_node_t *node, void **state, oscar_error_t *err);
	// stop, optional, runs when the node stops, in reverse order, with
	// what start stored. The pools are still up.
	void (*stop)(oscar_node_t *node, void *state);
	// ready, optional, runs once every service of the node has started
	// (in start order), when the node is about to report itself ready.
	void (*ready)(oscar_node_t *node, void *state);
	// session_create and session_destroy, optional, run when a session is
	// created or destroyed on the cluster (the session service calls
	// them on every node that runs this service).
	int (*session_create)(
	    oscar_node_t *node, void *state, const char *session_id, oscar_error_t *err);
	void (*session_destroy)(oscar_node_t *node, void *state, const char *session_id);
} oscar_service_t;

// oscar_module_init_fn is the entry point a module exports under the name
// "oscar_module_init" (OSCAR_MODULE_INIT_SYMBOL).
typedef int (*oscar_module_init_fn)(oscar_registry_t *reg, oscar_error_t *err);
#define OSCAR_MODULE_INIT_SYMBOL "oscar_module_init"

// oscar_registry_new makes a registry holding the built-in services.
int  oscar_registry_new(oscar_registry_t **regp);
void oscar_registry_free(oscar_registry_t **regp);

// oscar_registry_add adds svc (not copied: it must outlive the registry).
// OSCAR_EEXIST for a name already there, OSCAR_EINVAL for a table that is
// incomplete or of another ABI.
int oscar_registry_add(oscar_registry_t *reg, const oscar_service_t *svc, oscar_error_t *err);

// oscar_registry_find returns the service called name, or NULL.
const oscar_service_t *oscar_registry_find(const oscar_registry_t *reg, const char *name);

// oscar_registry_load loads the shared object at path and runs its
// oscar_module_init. The object stays loaded until the registry is freed.
// Errors: OSCAR_ENOENT (cannot be loaded: dlerror's text), OSCAR_ENOENT
// (no entry point), or what the entry point returns.
int oscar_registry_load(oscar_registry_t *reg, const char *path, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_SERVICE_H
