// Cross-module declarations of services/: the node runtime, the registry,
// settings and the built-in services. Nothing outside services/ (and the
// tests) includes this header.
#ifndef OSCAR_SERVICES_INT_H
#define OSCAR_SERVICES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "oscar/node.h"
#include "oscar/service.h"

// osc_now_ms gives the Unix time in milliseconds; osc_mono_ms a monotonic
// clock in milliseconds.
int64_t osc_now_ms(void);
int64_t osc_mono_ms(void);

// Settings.
int osc_settings_copy(oscar_settings_t *dst, const oscar_settings_t *src);
// osc_split_list splits a comma-separated list, trimming blanks and
// dropping empty items, into a malloc'd array of strings (NULL at the end).
int  osc_split_list(const char *text, char ***itemsp, size_t *np);
void osc_free_list(char **items, size_t n);

// The registry.
size_t                 osc_registry_count(const oscar_registry_t *reg);
const oscar_service_t *osc_registry_at(const oscar_registry_t *reg, size_t i);
// osc_registry_classes gives every class of every service in a malloc'd,
// NULL-terminated array (NULL when out of memory); the caller frees it.
const oscar_actor_class_t **osc_registry_classes(const oscar_registry_t *reg);

// osc_builtin_services lists the built-in services (services/builtin.c),
// ending with NULL, in the order they register: each after those it needs.
extern const oscar_service_t *const osc_builtin_services[];

// osc_service_plan picks the services a node of role runs, in start order
// (services/node.c): those flagged OSCAR_SERVICE_ALWAYS, then node.services
// when set, else every registered service of role; each after the
// services it needs. *planp is malloc'd. OSCAR_ENOENT for an unknown
// service or a missing dependency, OSCAR_EINVAL for a cycle, each named.
int osc_service_plan(const oscar_registry_t *reg, const oscar_settings_t *s, oscar_role_t role,
    const oscar_service_t ***planp, size_t *np, oscar_error_t *err);

// osc_setting_int_t names an integer setting of a service and where its
// value goes.
typedef struct osc_setting_int {
	const char *key;
	int64_t    *out;
} osc_setting_int_t;

// osc_service_settings_int reads the n integer settings of svc named in
// all, in order, with oscar_service_setting_int; the first failure is
// returned, err filled, and the settings after it are not read.
int osc_service_settings_int(const oscar_settings_t *s, const oscar_service_t *svc,
    const osc_setting_int_t *all, size_t n, oscar_error_t *err);

// osc_service_check_settings checks svc's section of s against its
// setting specs, then runs its check hook (services/service.c).
int osc_service_check_settings(
    const oscar_service_t *svc, const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err);

// A service's methods, in one table per service: the name, the handler,
// and the shape of the arguments and the reply. The service's actors
// dispatch through it (osc_method_dispatch checks the arguments before the
// handler runs) and its typed API calls through it (osc_method_call
// checks the reply), so the three cannot drift apart.
enum {
	OSC_SHAPE_ANY = 0, // anything, nil included
	OSC_SHAPE_NIL,
	OSC_SHAPE_MAP,
	OSC_SHAPE_ARRAY,
	OSC_SHAPE_UINT,
	OSC_SHAPE_INT,
	OSC_SHAPE_STR,
	OSC_SHAPE_OR_NIL = 1u << 8, // or nil (the handler has defaults)
};

typedef struct osc_method_spec {
	const char     *name;
	oscar_method_fn fn; // NULL in the tables of other actors' callers
	unsigned        args;
	unsigned        reply;
} osc_method_spec_t;

// osc_shape_ok tells whether v (NULL: nil) has shape.
bool osc_shape_ok(unsigned shape, const oscar_value_t *v);
// osc_shape_name names shape for messages ("a map", "an array or nil").
const char *osc_shape_name(unsigned shape);

// osc_method_dispatch finds req's method in specs (n entries), fails it
// with OSCAR_EBADARGS when its arguments do not have the shape the table
// says, and otherwise runs its handler. A class's method table points
// every entry at a one-line function that calls it with its specs
// (OSC_METHOD_TABLES, below, defines both).
int osc_method_dispatch(
    const osc_method_spec_t *specs, size_t n, oscar_actor_t *self, oscar_req_t *req);

// OSC_METHOD_TABLES(METHODS, specs, n, table) defines, from a class's
// method X-macro METHODS (X(id, name, fn, args, reply) per method, the
// same that numbers its methods 0 to n - 1), the class's spec table
// specs (n entries, in that order, for its callers and for the
// dispatch) and its static oscar_method_t table, whose every entry
// dispatches through osc_method_dispatch with specs. One per file: it
// defines the static function osc_methods_dispatch.
#define OSC_METHOD_SPEC_(id, name, fn, args, reply)  { name, fn, args, reply },
#define OSC_METHOD_ENTRY_(id, name, fn, args, reply) { name, osc_methods_dispatch, NULL },
#define OSC_METHOD_TABLES(METHODS, specs, n, table)                                                \
	const osc_method_spec_t specs[n] = { METHODS(OSC_METHOD_SPEC_) };                          \
	static int              osc_methods_dispatch(oscar_actor_t *self, oscar_req_t *req)        \
	{                                                                                          \
		return (osc_method_dispatch(specs, n, self, req));                                 \
	}                                                                                          \
	static const oscar_method_t table[] = { METHODS(OSC_METHOD_ENTRY_) { NULL, NULL, NULL } }; \
	_Static_assert(sizeof(table) / sizeof(table[0]) == (n) + 1, "one entry per method")

// osc_method_call calls spec's method on ref with args (consumed), from a
// host thread, and checks the reply's shape (OSCAR_EPROTO, naming the
// method, when it is wrong). reply may be NULL to discard it.
int osc_method_call(oscar_pool_t *pool, const oscar_ref_t *ref, const osc_method_spec_t *spec,
    oscar_value_t *args, int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err);

// Node facts a worker reports and a supervisor lists.
typedef struct osc_node_facts {
	unsigned cores;
	uint64_t memory;
	unsigned sub_pools;
	char   **labels;
	size_t   n_labels;
	char     hostname[64];
} osc_node_facts_t;

const osc_node_facts_t *osc_node_facts(const oscar_node_t *node);

// osc_node_registry gives the registry node started with.
oscar_registry_t *osc_node_registry(oscar_node_t *node);

// osc_subpool_registry gives the registry of this process when it runs as
// one of a node's sub pools (oscar_node_subpool_main), else NULL: its
// actors find the node's task functions there.
oscar_registry_t *osc_subpool_registry(void);

// osc_node_info_fields runs the info hook of every service running on
// node, adding their fields to map; on the main pool's thread only.
int osc_node_info_fields(oscar_node_t *node, oscar_value_t *map);

// osc_node_check_settings checks a node's settings before it starts
// (services/check.c): its own section, then the section of every service
// it would run from reg: OSCAR_EINVAL, with err naming the setting, for a
// mistake; OSCAR_ENOENT, naming it, for an unknown service or a missing
// dependency.
int osc_node_check_settings(
    const oscar_settings_t *s, oscar_role_t role, const oscar_registry_t *reg, oscar_error_t *err);
// osc_node_load_modules loads the modules named in s's node.modules into
// reg, and gives their list as "OSCAR_NODE_MODULES=a,b" for sub pools in
// *envp (malloc'd; NULL when there is none) when envp is not NULL.
int osc_node_load_modules(
    oscar_registry_t *reg, const oscar_settings_t *s, char **envp, oscar_error_t *err);
// osc_node_default_listen gives the address a node listens on when
// node.listen is not set.
const char *osc_node_default_listen(const oscar_settings_t *s, oscar_role_t role);
// osc_node_warn_unreachable warns when a worker listens where its
// supervisor cannot reach it.
void osc_node_warn_unreachable(const char *address, const char *supervisor);

// osc_node_stop_fd is readable once a stop was requested.
int osc_node_stop_fd(const oscar_node_t *node);

// osc_log_level_of gives the level named level (-1: none);
// osc_log_format_ok tells whether format is a log format.
int  osc_log_level_of(const char *level);
bool osc_log_format_ok(const char *format);

// osc_log_role sets the role and pid shown in log records.
void osc_log_role(const char *role);

// The node's own actor, OSCAR_NODE_UID in every node's main pool
// (services/node_sessions.c), and the thread that runs the node's session
// hooks for it off the pool's thread, one job at a time.
//
//   session_create  id -> nil: run the hooks (nothing when already live)
//   session_destroy id -> nil: run the destroy hooks (nothing when not live)
//   sessions        nil -> [id]: the sessions live on this node
//   hook_done       [token, code, message]: from the hook thread only
#define OSC_NODE_METHODS(X)                                                         \
	X(CREATE, "session_create", osc_nm_create, OSC_SHAPE_STR, OSC_SHAPE_NIL)    \
	X(DESTROY, "session_destroy", osc_nm_destroy, OSC_SHAPE_STR, OSC_SHAPE_NIL) \
	X(SESSIONS, "sessions", osc_nm_sessions, OSC_SHAPE_ANY, OSC_SHAPE_ARRAY)    \
	X(DONE, "hook_done", osc_nm_done, OSC_SHAPE_ARRAY, OSC_SHAPE_NIL)

#define OSC_NM_ID_(id, name, fn, args, reply) OSC_NM_##id,
enum { OSC_NODE_METHODS(OSC_NM_ID_) OSC_NM_N };
#undef OSC_NM_ID_
extern const osc_method_spec_t osc_node_methods[OSC_NM_N];

typedef struct osc_hooks osc_hooks_t;
// osc_hooks_open starts node's hook thread and creates its actor.
int osc_hooks_open(oscar_node_t *node, osc_hooks_t **hp, oscar_error_t *err);
// osc_hooks_close stops the thread, after the job it runs; the jobs still
// queued fail with OSCAR_ECLOSED. From the thread that stops the node,
// while the pool is up.
void osc_hooks_close(osc_hooks_t **hp);
// osc_node_hooks gives node's hook runner (NULL before it started).
osc_hooks_t *osc_node_hooks(oscar_node_t *node);

// osc_session_id_ok tells whether the len bytes at id are a session id.
bool osc_session_id_ok(const char *id, size_t len);
// osc_session_uid writes "<prefix><session>" to uid (OSCAR_UID_MAX bytes):
// the uid of a per-session actor. OSCAR_EINVAL for a bad session id.
int osc_session_uid(char *uid, const char *prefix, const char *session);
// osc_key_ok tells whether v is an object key: a string of 1 to
// OSCAR_REF_KEY_MAX bytes without a zero byte.
bool osc_key_ok(const oscar_value_t *v);

#endif // OSCAR_SERVICES_INT_H
