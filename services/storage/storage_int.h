// The storage service's actor (service.c), the typed API over it (api.c),
// the sub pools' shared-memory link (local.c), and what they share: the
// method table and how arguments travel.
#ifndef OSC_STORAGE_INT_H
#define OSC_STORAGE_INT_H

#include "oscar/storage.h"
#include "services/services_int.h"
#include "services/storage/store.h"

// The methods of a worker's storage actor (OSCAR_STORAGE_UID in its main
// pool), one table: id, name, handler, the shape of the arguments and of
// the reply. service.c builds the class from it; api.c and other
// services' actors call through it. docs/services/storage.md gives every
// argument and reply.
//
//   put              {session, items: [[key, value]...]} -> [size...]
//   get              {session, keys, slices|nil, accept|nil}
//                    -> [value...], or {values, lz4: [index...]} when
//                    accept names "lz4"
//   delete           {session, keys} -> uint (how many were there)
//   pull             {session, keys, from} -> [size...]
//   read_blocks      {session, key, offset, size, accept|nil}
//                    -> {total, data: bin, lz4: true|absent}
//   info             nil -> {used, limit, spilled, objects, shared, sessions,
//                    transfers, transfers_started}
//   session_create   session -> nil (the service's session hook)
//   session_destroy  session -> nil
//   shm_export       {token, session, key, sock} -> uint (segment size)
//   shm_import       {token, session, key, fd} -> uint (object size)
//
// shm_export and shm_import carry descriptor numbers of the worker's own
// process and answer only the service's own link thread (local.c), which
// proves itself with the token the service drew at start.
#define OSC_STORAGE_METHODS(X)                                                                     \
	X(PUT, "put", osc_st_m_put, OSC_SHAPE_MAP, OSC_SHAPE_ARRAY)                                \
	X(GET, "get", osc_st_m_get, OSC_SHAPE_MAP, OSC_SHAPE_ANY)                                  \
	X(DELETE, "delete", osc_st_m_delete, OSC_SHAPE_MAP, OSC_SHAPE_UINT)                        \
	X(PULL, "pull", osc_st_m_pull, OSC_SHAPE_MAP, OSC_SHAPE_ARRAY)                             \
	X(READ_BLOCKS, "read_blocks", osc_st_m_read_blocks, OSC_SHAPE_MAP, OSC_SHAPE_MAP)          \
	X(INFO, "info", osc_st_m_info, OSC_SHAPE_ANY, OSC_SHAPE_MAP)                               \
	X(SESSION_CREATE, "session_create", osc_st_m_session_create, OSC_SHAPE_STR, OSC_SHAPE_NIL) \
	X(SESSION_DESTROY, "session_destroy", osc_st_m_session_destroy, OSC_SHAPE_STR,             \
	    OSC_SHAPE_NIL)                                                                         \
	X(SHM_EXPORT, "shm_export", osc_st_m_shm_export, OSC_SHAPE_MAP, OSC_SHAPE_UINT)            \
	X(SHM_IMPORT, "shm_import", osc_st_m_shm_import, OSC_SHAPE_MAP, OSC_SHAPE_UINT)

#define OSC_ST_ID_(id, name, fn, args, reply) OSC_ST_##id,
enum { OSC_STORAGE_METHODS(OSC_ST_ID_) OSC_ST_N };
#undef OSC_ST_ID_

// The table, indexed by OSC_ST_*.
extern const osc_method_spec_t osc_storage_methods[OSC_ST_N];
#define osc_st_name(id) (osc_storage_methods[(id)].name)

// The service's table and its settings section.
extern const oscar_service_t osc_storage_service;
#define OSC_STORAGE_SECTION "storage"

extern const oscar_actor_class_t osc_storage_class;

// Bins at least this long travel lz4-compressed to a reader that accepts
// it (when that saves an eighth).
#define OSC_STORAGE_LZ4_MIN 65536

// The service's state, shared by its hooks (any thread), its actor (the
// main pool's thread) and its link thread. The actor owns the store; the
// info hook, which runs on the same thread, reads its figures.
typedef struct osc_storage_svc {
	oscar_node_t            *node;
	osc_store_t             *store; // the actor's; NULL before it starts and after it ends
	uint64_t                 memory_limit;
	char                    *spill_dir; // NULL: no spilling
	uint64_t                 block_size;
	bool                     transfer_lz4; // ask for compressed blocks
	uint64_t                 token;        // proves a shm_* call comes from the link thread
	struct osc_storage_link *link;
} osc_storage_svc_t;

// osc_storage_link_start opens the node's shared-memory link: a unix
// socket (abstract name from the node's address) and a thread serving
// the sub pools on it (local.c). osc_storage_link_stop ends the thread
// and closes everything; NULL allowed.
int  osc_storage_link_start(osc_storage_svc_t *svc, oscar_error_t *err);
void osc_storage_link_stop(struct osc_storage_link *link);

// osc_storage_link_name writes the abstract socket name (without its
// leading zero byte) of the node at address.
void osc_storage_link_name(const char *address, char *buf, size_t size);

// osc_storage_slice_value turns a slice of the typed API into its wire
// form, [start|nil, stop|nil, step] or {index: i}; NULL when out of
// memory. osc_storage_slice_parse reads one (OSCAR_EBADARGS naming what
// is wrong).
oscar_value_t *osc_storage_slice_value(const oscar_storage_slice_t *sl);
int            osc_storage_slice_parse(const oscar_value_t *v, osc_slice_t *sl, oscar_error_t *err);

#endif // OSC_STORAGE_INT_H
