// The cluster service's two actors (supervisor.c, worker.c), the typed API
// over them (api.c), and what they share: method names and how node info
// travels (a map, so that a node may add fields and a query may pick some).
#ifndef OSC_CLUSTER_INT_H
#define OSC_CLUSTER_INT_H

#include "services/services_int.h"

// Methods of the supervisor's actor.
#define OSC_CL_REGISTER   "register"     // info map -> {heartbeat_ms}
#define OSC_CL_HEARTBEAT  "heartbeat"    // info map -> nil; ENOENT: register again
#define OSC_CL_DEREGISTER "deregister"   // address -> nil
#define OSC_CL_NODES      "nodes"        // [roles, statuses, addresses|nil, fields|nil] -> [map]
#define OSC_CL_COUNT      "count"        // [roles, statuses] -> int
#define OSC_CL_WAIT       "wait_workers" // [n, timeout_ms] -> int (ready workers)
#define OSC_CL_WATCH      "watch"        // [version, timeout_ms] -> [version, [map]]
#define OSC_CL_STOP       "stop_cluster" // timeout_ms -> int (workers that left); ETIMEDOUT
#define OSC_CL_LEAVING    "going_away"   // nil -> int (workers told)

// Methods of a worker's actor.
#define OSC_CLW_STOP      "stop"               // the supervisor stops the cluster
#define OSC_CLW_SUP_GONE  "supervisor_leaving" // the supervisor is going away
#define OSC_CLW_LEAVE     "leave"              // the node stops: deregister
#define OSC_CLW_INFO      "info"               // -> this node's info map
#define OSC_CLW_READY     "node_ready"         // every service has started

extern const oscar_actor_class_t osc_cluster_supervisor_class;
extern const oscar_actor_class_t osc_cluster_worker_class;

// The settings both sides read.
typedef struct osc_cluster_settings {
	int64_t heartbeat_ms;
	int64_t dead_timeout_ms;
} osc_cluster_settings_t;

int osc_cluster_settings(const oscar_settings_t *s, oscar_role_t role,
    osc_cluster_settings_t *out, oscar_error_t *err);

// osc_status_from_name parses a status name (0 when unknown).
oscar_node_status_t osc_status_from_name(const char *name);

// Small readers of maps and arrays, tolerant of missing fields.
int64_t     osc_map_int(const oscar_value_t *map, const char *key, int64_t def);
const char *osc_map_str(const oscar_value_t *map, const char *key);
uint64_t    osc_arg_uint(const oscar_value_t *args, size_t i, uint64_t def);

#endif // OSC_CLUSTER_INT_H
