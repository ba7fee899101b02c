// Oscar-C services: what makes pools a cluster.
//
// A service is a table: its name, the roles it runs on, the services it
// needs before it, its settings (keys, defaults, a check hook), the actor
// classes it brings, start, stop and ready hooks, and hooks run when a
// session is created or destroyed. A node starts its services in the
// configured order, each after those it needs, and stops them in reverse
// (oscar_node_start). The node knows no service by name: everything it
// needs to know is in the table.
//
// Services come from a registry. The built-in ones are always there; a program adds its own with
// oscar_registry_add, and a shared object loaded with `--load-modules path.so` adds its own from
// its entry point:
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
#define OSCAR_SERVICE_ABI 3

// oscar_setting_type_t: how a service's setting is parsed (the typed
// getters of node.h).
typedef enum oscar_setting_type {
	OSCAR_SETTING_STR = 0, // any text
	OSCAR_SETTING_INT,     // oscar_settings_get_int, within [min, max]
	OSCAR_SETTING_MS,      // oscar_settings_get_ms, within [min, max]
	OSCAR_SETTING_BYTES,   // oscar_settings_get_bytes, within [min, max]
	OSCAR_SETTING_BOOL,    // oscar_settings_get_bool
} oscar_setting_type_t;

// oscar_setting_spec_t describes one key of a service's settings section
// (the section is named after the service). The node refuses, before
// anything starts, a key of that section that no spec names and a value
// that does not parse or is out of range, naming the setting: the node
// programs then exit with status 2.
typedef struct oscar_setting_spec {
	const char          *key;
	oscar_setting_type_t type;
	// def is the default, written as in a configuration file ("1s",
	// "64M", "true"); NULL: no default (a string setting left unset).
	const char *def;
	int64_t     min; // INT, MS and BYTES: the range allowed
	int64_t     max;
	const char *help; // one line, for the docs and error messages
} oscar_setting_spec_t;

// Service flags.
enum {
	// OSCAR_SERVICE_ALWAYS: the service runs on its roles whether or not
	// node.services names it (the cluster service: every other relies on
	// it).
	OSCAR_SERVICE_ALWAYS = 1u << 0,
};

typedef struct oscar_service {
	// abi is OSCAR_SERVICE_ABI.
	unsigned abi;
	// name is unique in a registry; it names the service in the node's
	// "services" setting and its own settings section.
	const char *name;
	// roles the service runs on: OSCAR_ROLE_SUPERVISOR, OSCAR_ROLE_WORKER
	// or both (OSCAR_ROLES_ALL).
	unsigned roles;
	// flags: OSCAR_SERVICE_ALWAYS or 0.
	unsigned flags;
	// needs (NULL terminated, may be NULL) names the services that must
	// run, and have started, before this one on the same node. A needed
	// service that node.services does not name is started anyway, before
	// this one; one that is not registered, or does not run on this
	// role, fails the node's start with OSCAR_ENOENT naming both.
	const char *const *needs;
	// settings (ending with an entry whose key is NULL, may be NULL) are
	// the keys of the section named after the service. With settings
	// NULL, the node does not check that section.
	const oscar_setting_spec_t *settings;
	// check, optional, runs before anything starts, after every key was
	// checked against settings; it checks what the specs cannot say (one
	// value against another) and fills err naming the setting.
	int (*check)(const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err);
	// classes (NULL terminated, may be NULL) are offered for creation by
	// name in the node's main pool and its sub pools.
	const oscar_actor_class_t *const *classes;
	// start runs on the thread that starts the node, after the pools are
	// up and the services before it have started. It may create actors,
	// call other services and store what it needs in *state. A non-zero
	// return (with err filled) fails the node's start. The actors it
	// creates in the node's main pool reach the node with
	// oscar_node_of_actor.
	int (*start)(oscar_node_t *node, void **state, oscar_error_t *err);
	// stop, optional, runs when the node stops, in reverse order, with
	// what start stored. The pools are still up.
	void (*stop)(oscar_node_t *node, void *state);
	// ready, optional, runs once every service of the node has started
	// (in start order), when the node is about to report itself ready.
	void (*ready)(oscar_node_t *node, void *state);
	// session_create and session_destroy, optional, run when a session is
	// created or destroyed on the cluster: oscar_node_session_create and
	// oscar_node_session_destroy run them on one node (the session
	// service calls those on every node, through each node's own actor,
	// OSCAR_NODE_UID, which runs them on a thread of the node's). They
	// run on the calling thread, which is not the node's main pool
	// thread, so they may make synchronous calls into the node's pool.
	int (*session_create)(
	    oscar_node_t *node, void *state, const char *session_id, oscar_error_t *err);
	void (*session_destroy)(oscar_node_t *node, void *state, const char *session_id);
	// info, optional, adds fields to the map a node reports about itself
	// (the cluster service's node info) with oscar_value_map_set. It runs
	// on the node's main pool thread, while the service runs (from the
	// end of its start to the beginning of its stop), and must not wait.
	int (*info)(oscar_node_t *node, void *state, oscar_value_t *map);
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

// oscar_service_setting_int reads svc's setting key (one of its specs, of
// type INT, MS or BYTES) from s, its spec's default when unset; for BYTES
// the value is given in bytes. OSCAR_ENOENT for a key that svc does not
// describe, OSCAR_EINVAL (naming the setting) for a bad value.
int oscar_service_setting_int(const oscar_settings_t *s, const oscar_service_t *svc,
    const char *key, int64_t *out, oscar_error_t *err);
// oscar_service_setting_bool does the same for a BOOL setting.
int oscar_service_setting_bool(const oscar_settings_t *s, const oscar_service_t *svc,
    const char *key, bool *out, oscar_error_t *err);
// oscar_service_setting_str gives a STR setting (its default when unset;
// owned by s or by the spec).
const char *oscar_service_setting_str(
    const oscar_settings_t *s, const oscar_service_t *svc, const char *key);

// oscar_registry_load loads the shared object at path and runs its
// oscar_module_init. The object stays loaded until the registry is freed.
// Errors: OSCAR_ENOENT (cannot be loaded: dlerror's text), OSCAR_ENOENT
// (no entry point), or what the entry point returns.
int oscar_registry_load(oscar_registry_t *reg, const char *path, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_SERVICE_H
