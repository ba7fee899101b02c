// Oscar-C cluster service: who is in the cluster.
//
// The supervisor keeps the node registry: every worker registers with it,
// then sends a heartbeat with fresh node info every heartbeat interval; a
// worker not heard from for the dead timeout is marked dead, and watchers
// are told. This header is the typed API over it, usable from any host
// thread of a program that has a pool able to reach the supervisor (one
// with an ipc:// or tcp:// address, so that replies can come back).
//
//     oscar_cluster_t *cl;
//     oscar_cluster_open(&cl, pool, "tcp://10.0.0.1:7100", &err);
//     oscar_cluster_wait_workers(cl, 2, 10000, &err);
//     oscar_node_info_t *nodes; size_t n;
//     oscar_cluster_nodes(cl, OSCAR_ROLE_WORKER, 0, &nodes, &n, 5000, &err);
//     ...
//     oscar_node_info_free(nodes, n);
//     oscar_cluster_close(&cl);
//
// docs/services/cluster.md describes the service and its settings.
#ifndef OSCAR_CLUSTER_H
#define OSCAR_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"
#include "oscar/node.h"
#include "oscar/value.h"

#ifdef __cplusplus
extern "C" {
#endif

// The uid of the cluster service's actor, in a supervisor's main pool and
// in each worker's.
#define OSCAR_CLUSTER_UID "oscar.cluster"

// oscar_node_status_t: a node's life, as the supervisor sees it. Used as
// bits in queries (0 means any status).
typedef enum oscar_node_status {
	OSCAR_NODE_STARTING = 1u << 0, // registered, services still starting
	OSCAR_NODE_READY    = 1u << 1, // running and heard from in time
	OSCAR_NODE_STOPPING = 1u << 2, // stopping gracefully
	OSCAR_NODE_DEAD     = 1u << 3, // not heard from within the dead timeout
} oscar_node_status_t;

const char *oscar_node_status_name(oscar_node_status_t status);

// oscar_node_info_t is one node of the registry.
typedef struct oscar_node_info {
	char                address[OSCAR_ADDR_MAX];
	oscar_role_t        role;
	oscar_node_status_t status;
	char                hostname[64];
	int64_t             pid;
	unsigned            cores;
	uint64_t            memory;    // bytes
	unsigned            sub_pools; // configured
	unsigned            slots;     // sub pools alive and ready
	char                labels[OSCAR_LABELS_MAX][OSCAR_NAME_MAX];
	unsigned            n_labels;
	double              load;             // 1-minute load average of its host
	uint64_t            actors;           // alive in its main pool
	int64_t             registered_ms;    // Unix time, milliseconds
	int64_t             heartbeat_ms;     // last heard from, Unix time
	int64_t             heartbeat_age_ms; // how long ago, by the supervisor's clock
} oscar_node_info_t;

typedef struct oscar_cluster oscar_cluster_t;

// oscar_cluster_open makes a handle on the cluster whose supervisor is at
// address, calling through pool (which must outlive the handle). It does
// not contact the supervisor.
int oscar_cluster_open(
    oscar_cluster_t **clp, oscar_pool_t *pool, const char *address, oscar_error_t *err);
void oscar_cluster_close(oscar_cluster_t **clp);

// oscar_cluster_count sets *n to how many nodes have one of roles (bits)
// and one of statuses (bits; 0: any).
int oscar_cluster_count(oscar_cluster_t *cl, unsigned roles, unsigned statuses, size_t *n,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_cluster_nodes gives the nodes with one of roles and one of
// statuses, supervisors first, then workers in the order they registered.
// Free *nodes with oscar_node_info_free.
int  oscar_cluster_nodes(oscar_cluster_t *cl, unsigned roles, unsigned statuses,
     oscar_node_info_t **nodes, size_t *n, int64_t timeout_ms, oscar_error_t *err);
void oscar_node_info_free(oscar_node_info_t *nodes, size_t n);

// oscar_cluster_nodes_info is oscar_cluster_nodes as values, for the nodes
// at addresses (NULL: every node with one of roles), each a map holding
// only the fields named (NULL: all): address, role, status, hostname, pid,
// cores, memory, sub_pools, slots, labels, load, actors, registered_ms,
// heartbeat_ms, heartbeat_age_ms, plus whatever extra info the node sends.
// OSCAR_ENOENT names an address that is not registered.
int oscar_cluster_nodes_info(oscar_cluster_t *cl, unsigned roles, const char *const *addresses,
    const char *const *fields, int64_t timeout_ms, oscar_value_t **info, oscar_error_t *err);

// oscar_cluster_wait_workers waits until at least n workers are ready
// (Mars's min_worker_num); OSCAR_ETIMEDOUT, saying how many were, when
// timeout_ms passes first.
int oscar_cluster_wait_workers(
    oscar_cluster_t *cl, size_t n, int64_t timeout_ms, oscar_error_t *err);

// oscar_cluster_watch waits until the registry changes after *version (0:
// returns at once), then sets *version to the new one and gives the nodes
// as oscar_cluster_nodes does. OSCAR_ETIMEDOUT when nothing changed within
// timeout_ms. Every registration, status change and deregistration is a
// change; heartbeats that change nothing else are not.
int oscar_cluster_watch(oscar_cluster_t *cl, uint64_t *version, oscar_node_info_t **nodes,
    size_t *n, int64_t timeout_ms, oscar_error_t *err);

// oscar_cluster_stop stops the whole cluster: the supervisor tells every
// worker to stop, waits until they have deregistered, and stops itself.
// The whole call takes at most timeout_ms (the supervisor waits for its
// workers up to 2 s, or a quarter, less, so that its answer can come).
int oscar_cluster_stop(oscar_cluster_t *cl, int64_t timeout_ms, oscar_error_t *err);

// oscar_cluster_worker_address picks the address of a ready worker: the
// i-th in registration order, modulo their number. OSCAR_ENOENT when there
// is none. A convenience for placing actors (OSCAR_PLACE_ADDRESS).
int oscar_cluster_worker_address(oscar_cluster_t *cl, size_t i, char *address, size_t size,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_cluster_client_address gives an address for a client's own pool
// from which the supervisor at address can answer: for tcp://, the local
// address this machine would use to reach it, port 0 (so a supervisor on
// another machine can answer too); for ipc://, a socket in $TMPDIR (or
// /tmp) named after this process. OSCAR_EADDRINVAL when there is no route
// or the address is of another kind.
int oscar_cluster_client_address(const char *address, char *out, size_t size, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_CLUSTER_H
