// Oscar-C session service: the sessions of a cluster.
//
// A session is an isolated namespace on a cluster: its objects, their
// metadata and reference counts belong to it alone. The supervisor's
// session service creates and deletes sessions; creating one runs every
// service's session_create hook on the supervisor and on every ready
// worker (a worker that becomes ready later is given the live sessions),
// deleting one runs session_destroy everywhere. This header is the typed
// API over it, for host threads; its messages are in
// services/session/session_int.h and docs/services/session.md.
//
// Not to be confused with a client's session handle (the client API):
// these functions manage sessions on the cluster.
//
//     char id[OSCAR_SESSION_ID_MAX + 1];
//     oscar_sessions_create(pool, sup, NULL, false, id, NULL, 5000, &err);
//     ...
//     oscar_sessions_delete(pool, sup, id, false, 5000, &err);
#ifndef OSCAR_SESSIONS_H
#define OSCAR_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

// A session id is 1..OSCAR_SESSION_ID_MAX bytes of [A-Za-z0-9._-], so
// that every per-session uid ("oscar.lifecycle:<id>") fits in
// OSCAR_UID_MAX.
#define OSCAR_SESSION_ID_MAX 40

// The session service's actor, in the supervisor's main pool.
#define OSCAR_SESSIONS_UID "oscar.sessions"
// Every node's own actor (its main pool), which runs the node's session
// hooks: methods session_create id, session_destroy id, sessions nil.
#define OSCAR_NODE_UID "oscar.node"

// oscar_session_id_ok tells whether id is a valid session id.
bool oscar_session_id_ok(const char *id);

// oscar_session_info_t is one session as oscar_sessions_list gives it.
typedef struct oscar_session_info {
	char     id[OSCAR_SESSION_ID_MAX + 1];
	int64_t  created_ms; // Unix time, milliseconds
	unsigned nodes;      // nodes whose hooks ran for it (supervisor included)
	uint64_t objects;    // entries in its meta (0 without the meta service)
} oscar_session_info_t;

// oscar_sessions_create creates a session on the cluster whose supervisor
// is at address, calling through pool. id NULL: a generated id. When the
// session exists, if_not_exists makes it a success (nothing is run
// again), else OSCAR_EEXIST. The id is copied to id_out (may be NULL; at
// least OSCAR_SESSION_ID_MAX + 1 bytes) and the creation time to
// *created_ms (may be NULL). A hook that fails on any node fails the
// create with its code and message, after the nodes that had run their
// hooks ran session_destroy. OSCAR_EINVAL for a bad id, OSCAR_ESTATE past
// session.max_sessions.
int oscar_sessions_create(oscar_pool_t *pool, const char *address, const char *id,
    bool if_not_exists, char *id_out, int64_t *created_ms, int64_t timeout_ms, oscar_error_t *err);

// oscar_sessions_has sets *exists to whether session id exists.
int oscar_sessions_has(oscar_pool_t *pool, const char *address, const char *id, bool *exists,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_sessions_delete deletes session id: every node runs its
// session_destroy hooks. OSCAR_ENOENT, naming it, for an unknown session
// unless if_exists.
int oscar_sessions_delete(oscar_pool_t *pool, const char *address, const char *id, bool if_exists,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_sessions_list gives the sessions, oldest first, in *list
// (malloc'd; free it with free()) and their number in *n.
int oscar_sessions_list(oscar_pool_t *pool, const char *address, oscar_session_info_t **list,
    size_t *n, int64_t timeout_ms, oscar_error_t *err);

// oscar_node_sessions gives the sessions live on the node at address
// (its "oscar.node" actor), as an array of strings in *ids (the caller
// frees it).
int oscar_node_sessions(oscar_pool_t *pool, const char *address, oscar_value_t **ids,
    int64_t timeout_ms, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_SESSIONS_H
