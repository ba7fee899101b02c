// Oscar-C nodes: the supervisor and worker processes of a cluster.
//
// A node is one process's part in a cluster: a main pool listening at an
// address, its sub pools, and the services configured for its role, started
// in order and stopped in reverse. `oscar-supervisor` and `oscar-worker` are
// oscar_node_main() and nothing else; a program that embeds a node calls
// oscar_node_start() and oscar_node_stop() itself.
//
// Settings are strings in named sections, the shape of the configuration
// file (docs/operating.md): section "node" holds what the command-line flags
// set (listen, supervisor, sub_pools, ...), and every service reads its own
// section. Typed getters parse them and name the section and key in errors.
#ifndef OSCAR_NODE_H
#define OSCAR_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "oscar/actor.h"
#include "oscar/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oscar_node     oscar_node_t;
typedef struct oscar_settings oscar_settings_t;
typedef struct oscar_registry oscar_registry_t;

// oscar_role_t: what a node is in its cluster. Used as bits where several
// roles are meant (a service that runs on both sides, a query for both).
typedef enum oscar_role {
	OSCAR_ROLE_SUPERVISOR = 1u << 0,
	OSCAR_ROLE_WORKER     = 1u << 1,
} oscar_role_t;

#define OSCAR_ROLES_ALL (OSCAR_ROLE_SUPERVISOR | OSCAR_ROLE_WORKER)

// OSCAR_LABELS_MAX is how many labels a node may have (node.labels).
#define OSCAR_LABELS_MAX 8

// oscar_role_name gives "supervisor" or "worker" ("?" for anything else).
const char *oscar_role_name(oscar_role_t role);

// ---------------------------------------------------------------------------
// Settings

// oscar_settings_new makes an empty set; free it with oscar_settings_free.
int  oscar_settings_new(oscar_settings_t **sp);
void oscar_settings_free(oscar_settings_t **sp);

// oscar_settings_set sets section.key to value (copied), replacing any
// earlier value. Section and key are at most 63 bytes of [A-Za-z0-9_.-].
int oscar_settings_set(
    oscar_settings_t *s, const char *section, const char *key, const char *value);

// oscar_settings_get returns section.key's value, or NULL when it is unset.
const char *oscar_settings_get(const oscar_settings_t *s, const char *section, const char *key);

// oscar_settings_load_file reads an INI file into s (values already set
// are replaced by the file's). Errors name the file and line: OSCAR_ENOENT
// when it cannot be read, OSCAR_EINVAL for a syntax error.
int oscar_settings_load_file(oscar_settings_t *s, const char *path, oscar_error_t *err);

// The typed getters store def in *out when the key is unset, and fail with
// OSCAR_EINVAL and a message naming section, key and value when the value
// does not parse or is out of [min, max].
//
// oscar_settings_get_int: a decimal integer.
int oscar_settings_get_int(const oscar_settings_t *s, const char *section, const char *key,
    int64_t def, int64_t min, int64_t max, int64_t *out, oscar_error_t *err);
// oscar_settings_get_ms: a duration, "250ms", "5s", "2m", "1h" or a plain
// number of milliseconds; stored in milliseconds.
int oscar_settings_get_ms(const oscar_settings_t *s, const char *section, const char *key,
    int64_t def, int64_t min, int64_t max, int64_t *out, oscar_error_t *err);
// oscar_settings_get_bytes: a size, "512", "64K", "8M", "16G", "1T"
// (powers of 1024, an optional trailing "B" or "iB").
int oscar_settings_get_bytes(const oscar_settings_t *s, const char *section, const char *key,
    uint64_t def, uint64_t *out, oscar_error_t *err);
// oscar_settings_get_bool: true/false, yes/no, on/off, 1/0.
int oscar_settings_get_bool(const oscar_settings_t *s, const char *section, const char *key,
    bool def, bool *out, oscar_error_t *err);

// oscar_settings_each calls fn for every setting, in the order first set.
// A non-zero return from fn stops the walk and is returned.
int oscar_settings_each(const oscar_settings_t *s,
    int (*fn)(void *arg, const char *section, const char *key, const char *value), void *arg);

// ---------------------------------------------------------------------------
// Logs
//
// One line per record on stderr: "text" (the default) gives
// "2026-11-21T11:04:10.123Z info  worker[1234] cluster: registered with ...",
// "json" gives one JSON object per line with ts, level, role, pid, scope
// and msg. Records below the process's level are dropped. The settings are
// process-wide, as stderr is.

typedef enum oscar_log_level {
	OSCAR_LOG_DEBUG = 0,
	OSCAR_LOG_INFO,
	OSCAR_LOG_WARN,
	OSCAR_LOG_ERROR,
} oscar_log_level_t;

// oscar_log_setup sets the level ("debug", "info", "warn", "error") and
// the format ("text", "json"); NULL leaves one unchanged. OSCAR_EINVAL for
// anything else.
int oscar_log_setup(const char *level, const char *format);

// oscar_log writes one record from scope (a service name, say).
void oscar_log(oscar_log_level_t level, const char *scope, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void oscar_logv(oscar_log_level_t level, const char *scope, const char *fmt, va_list ap);

// ---------------------------------------------------------------------------
// Nodes

// oscar_node_start starts a node of role with settings (copied; the caller
// keeps its own) and the services of registry (NULL: the built-in services
// only), whose order is section "node" key "services" (a comma-separated
// list; default: every registered service that runs on this role, in the
// order registered). It opens the main pool (with its sub pools), loads the
// modules named in node.modules into the registry, then starts each
// service. If one fails, those already started are stopped in reverse, the
// pools are closed, and err says which service failed and why.
//
// Settings of section "node": listen (the main pool's address, default
// "tcp://127.0.0.1:0"), supervisor (workers: its address), sub_pools,
// cores, memory, labels, modules, services, address_file. See
// docs/operating.md for every key and its default.
int oscar_node_start(oscar_node_t **nodep, oscar_role_t role, const oscar_settings_t *settings,
    oscar_registry_t *registry, oscar_error_t *err);

// oscar_node_request_stop asks the node to stop: oscar_node_wait returns.
// Safe from any thread, including pool threads, and from a signal handler.
void oscar_node_request_stop(oscar_node_t *node);

// oscar_node_wait waits until a stop is requested (0) or timeout_ms passes
// (OSCAR_ETIMEDOUT).
int oscar_node_wait(oscar_node_t *node, int64_t timeout_ms);

// oscar_node_stop stops the services in reverse order, then the pools
// (sub pools are stopped and reaped), frees the node and clears *nodep.
void oscar_node_stop(oscar_node_t **nodep);

// Accessors. The strings belong to the node.
oscar_pool_t           *oscar_node_pool(oscar_node_t *node);
oscar_role_t            oscar_node_role(const oscar_node_t *node);
const char             *oscar_node_address(const oscar_node_t *node);
const oscar_settings_t *oscar_node_settings(const oscar_node_t *node);
// oscar_node_supervisor gives the supervisor's address: a worker's
// node.supervisor setting, or a supervisor's own address.
const char *oscar_node_supervisor(const oscar_node_t *node);
// oscar_node_runs tells whether the service called name runs (has started)
// on node. What a service keeps is its own: another service reaches it
// through its actors and typed API, never through its state.
bool oscar_node_runs(const oscar_node_t *node, const char *name);

// oscar_node_of_actor gives the node whose main pool hosts self (an actor
// a service created there), or NULL for an actor of any other pool. It is
// how a service's actors reach their node: the node hands itself to its
// main pool as the pool's context (oscar_pool_config_t.context).
oscar_node_t *oscar_node_of_actor(oscar_actor_t *self);

// oscar_node_session_create runs the session_create hook of every service
// running on node, in start order. If one fails, the session_destroy hooks
// of those that succeeded run in reverse, and err names the service that
// failed. oscar_node_session_destroy runs every session_destroy hook, in
// reverse start order. session_id is 1 to OSCAR_UID_MAX - 1 bytes
// (OSCAR_EINVAL otherwise). Call them from a host thread or from another
// pool's thread, never from the node's main pool thread: hooks may make
// synchronous calls to it.
int  oscar_node_session_create(oscar_node_t *node, const char *session_id, oscar_error_t *err);
void oscar_node_session_destroy(oscar_node_t *node, const char *session_id);

// oscar_address_check checks that address is one a node can listen at
// (listening: tcp://HOST:PORT with PORT 0 to 65535, an empty or wildcard
// HOST allowed; tls+tcp:// likewise; ipc:///PATH) or one to reach a node
// at (PORT 1 to 65535 and a HOST). OSCAR_EADDRINVAL, with err naming the
// address and what is wrong, otherwise. what names the address in the
// message ("node.listen", "the supervisor's address").
int oscar_address_check(const char *address, bool listening, const char *what, oscar_error_t *err);

// oscar_node_main is the whole program of `oscar-supervisor` (role
// OSCAR_ROLE_SUPERVISOR) and `oscar-worker`: it parses the flags and the
// configuration file, starts a node with registry's services (NULL: the
// built-in ones), runs until SIGINT or SIGTERM or a remote stop, stops
// gracefully and returns the exit status (0, 1 when the node failed, 2
// for bad flags, values or files). When this process is one of a node's
// sub pools, it runs as that sub pool instead. A program that adds its
// own services in code makes a registry, adds them and calls this.
int oscar_node_main(oscar_role_t role, int argc, char **argv, oscar_registry_t *registry);

// oscar_node_subpool_main runs this process as one of a node's sub pools
// when it is one, and returns its exit status; otherwise it returns -1 at
// once. A sub pool loads the node's modules (node.modules) into registry
// (NULL: a registry of its own) and offers every registered class. A
// program that starts nodes with sub pools through oscar_node_start calls
// it first thing in main(); oscar_node_main does so itself.
int oscar_node_subpool_main(oscar_registry_t *registry);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_NODE_H
