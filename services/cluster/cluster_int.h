// The cluster service's two actors (supervisor.c, worker.c), the typed API
// over them (api.c), and what they share: method names and how node info
// travels (a map, so that a node may add fields and a query may pick some).
#ifndef OSC_CLUSTER_INT_H
#define OSC_CLUSTER_INT_H

#include "oscar/cluster.h"
#include "services/services_int.h"

// The methods of the supervisor's actor, one table: id, name, handler,
// the shape of the arguments and of the reply. supervisor.c builds its
// class from it; worker.c and api.c call through it (osc_method_call).
//
//   register      info map -> {heartbeat_ms, version}
//   heartbeat     info map -> nil; ENOENT: register again
//   deregister    address -> nil
//   nodes         [roles, statuses, addresses|nil, fields|nil] -> [map]
//   count         [roles, statuses] -> uint
//   wait_workers  [n, timeout_ms] -> uint (ready workers)
//   watch         [version, timeout_ms] -> [version, [map]]
//   stop_cluster  timeout_ms -> uint (workers that left); ETIMEDOUT
//   going_away    nil -> uint (workers told)
#define OSC_CLUSTER_SUP_METHODS(X)                                                              \
	X(REGISTER, "register", osc_m_register, OSC_SHAPE_MAP, OSC_SHAPE_MAP)                   \
	X(HEARTBEAT, "heartbeat", osc_m_heartbeat, OSC_SHAPE_MAP, OSC_SHAPE_NIL)                \
	X(DEREGISTER, "deregister", osc_m_deregister, OSC_SHAPE_STR, OSC_SHAPE_NIL)             \
	X(NODES, "nodes", osc_m_nodes, OSC_SHAPE_ARRAY | OSC_SHAPE_OR_NIL, OSC_SHAPE_ARRAY)     \
	X(COUNT, "count", osc_m_count, OSC_SHAPE_ARRAY | OSC_SHAPE_OR_NIL, OSC_SHAPE_UINT)      \
	X(WAIT, "wait_workers", osc_m_wait, OSC_SHAPE_ARRAY | OSC_SHAPE_OR_NIL, OSC_SHAPE_UINT) \
	X(WATCH, "watch", osc_m_watch, OSC_SHAPE_ARRAY | OSC_SHAPE_OR_NIL, OSC_SHAPE_ARRAY)     \
	X(STOP, "stop_cluster", osc_m_stop, OSC_SHAPE_UINT | OSC_SHAPE_OR_NIL, OSC_SHAPE_UINT)  \
	X(LEAVING, "going_away", osc_m_going_away, OSC_SHAPE_ANY, OSC_SHAPE_UINT)

// The methods of a worker's actor.
//
//   stop                nil: the supervisor stops the cluster
//   supervisor_leaving  nil: the supervisor is going away
//   leave               timeout_ms|nil: the node stops, deregister
//   info                nil -> this node's info map
//   node_ready          nil: every service of the node has started
#define OSC_CLUSTER_WORKER_METHODS(X)                                                      \
	X(STOP, "stop", osc_cw_m_stop, OSC_SHAPE_ANY, OSC_SHAPE_NIL)                       \
	X(SUP_GONE, "supervisor_leaving", osc_cw_m_sup_gone, OSC_SHAPE_ANY, OSC_SHAPE_NIL) \
	X(LEAVE, "leave", osc_cw_m_leave, OSC_SHAPE_INT | OSC_SHAPE_OR_NIL, OSC_SHAPE_NIL) \
	X(INFO, "info", osc_cw_m_info, OSC_SHAPE_ANY, OSC_SHAPE_MAP)                       \
	X(READY, "node_ready", osc_cw_m_ready, OSC_SHAPE_ANY, OSC_SHAPE_NIL)

#define OSC_CL_ID_(id, name, fn, args, reply)  OSC_CL_##id,
#define OSC_CLW_ID_(id, name, fn, args, reply) OSC_CLW_##id,
enum { OSC_CLUSTER_SUP_METHODS(OSC_CL_ID_) OSC_CL_N };
enum { OSC_CLUSTER_WORKER_METHODS(OSC_CLW_ID_) OSC_CLW_N };
#undef OSC_CL_ID_
#undef OSC_CLW_ID_

// The tables, indexed by OSC_CL_* and OSC_CLW_*.
extern const osc_method_spec_t osc_cluster_sup_methods[OSC_CL_N];
extern const osc_method_spec_t osc_cluster_worker_methods[OSC_CLW_N];

// osc_cl_name and osc_clw_name give a method's name by id.
#define osc_cl_name(id)  (osc_cluster_sup_methods[(id)].name)
#define osc_clw_name(id) (osc_cluster_worker_methods[(id)].name)

// The service's table, and its settings section and defaults.
extern const oscar_service_t osc_cluster_service;
#define OSC_CLUSTER_SECTION "cluster"

extern const oscar_actor_class_t osc_cluster_supervisor_class;
extern const oscar_actor_class_t osc_cluster_worker_class;

// The settings both sides read.
typedef struct osc_cluster_settings {
	int64_t heartbeat_ms;
	int64_t dead_timeout_ms;
	int64_t max_nodes;           // entries in the node registry
	int64_t max_waits;           // requests parked (wait_workers, watch, stop_cluster)
	int64_t wait_timeout_max_ms; // the longest a parked request waits
	int64_t farewell_batch;      // workers told at once that the supervisor goes away
	int64_t farewell_timeout_ms; // how long the supervisor spends telling them
} osc_cluster_settings_t;

// osc_cluster_settings reads them (checked before the node started).
int osc_cluster_settings(
    const oscar_settings_t *s, osc_cluster_settings_t *out, oscar_error_t *err);

// osc_node_info_value builds the info map a node reports about itself;
// from its main pool's thread only (it takes the pool's census).
oscar_value_t *osc_node_info_value(oscar_node_t *node);

// osc_node_info_from_value fills info from a registry map.
void osc_node_info_from_value(const oscar_value_t *v, oscar_node_info_t *info);

// osc_status_from_name parses a status name (0 when unknown).
oscar_node_status_t osc_status_from_name(const char *name);

#endif // OSC_CLUSTER_INT_H
