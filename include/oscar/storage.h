// Oscar-C storage: the objects a worker keeps for each session.
//
// Every worker runs the storage service's actor (OSCAR_STORAGE_UID in its
// main pool), which owns the node's object store: objects named by
// (session, key), kept in memory up to [storage] memory_limit and
// spilled to files under [storage] spill_dir past it, pulled from other
// workers in blocks of [storage] transfer_block_size.
// docs/services/storage.md describes its messages, settings and errors.
//
// The functions below are synchronous calls from a host thread: each
// takes the pool to call through, the worker's address and a deadline.
// Actors of other services call the same methods asynchronously with
// oscar_actor_call or oscar_req_call, with the arguments the docs page
// gives.
//
// Sub pools of a worker (the task slots) read objects and hand back new
// ones through shared memory with oscar_storage_local_*.
#ifndef OSCAR_STORAGE_H
#define OSCAR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OSCAR_STORAGE_UID "oscar.storage"

// oscar_storage_slice_t selects part of an array (items), str or bin
// (bytes), as a Python slice does; an index out of range is an error.
// With index set, the one item (or byte) at start.
typedef struct oscar_storage_slice {
	int64_t start;
	int64_t stop;
	int64_t step; // not 0
	bool    has_start;
	bool    has_stop;
	bool    index;
} oscar_storage_slice_t;

// oscar_storage_info_t: a worker's storage figures, in bytes.
typedef struct oscar_storage_info {
	uint64_t used;    // objects in memory
	uint64_t limit;   // storage.memory_limit
	uint64_t spilled; // objects in spill files
	uint64_t objects; // objects stored, in memory or spilled
	uint64_t shared;  // shared-memory segments exported to sub pools
	uint64_t sessions;
	uint64_t transfers;         // transfers under way
	uint64_t transfers_started; // transfers started since the node started
} oscar_storage_info_t;

// Flags of oscar_storage_get.
enum {
	// OSCAR_STORAGE_LZ4: large bins may travel lz4-compressed (worth it
	// across a network, not on loopback); the reply is decompressed here.
	OSCAR_STORAGE_LZ4 = 1u << 0,
};

// oscar_storage_put stores vals[i] (all consumed, whatever happens) as
// keys[i] in session on the worker at address, for i in [0, n), all or
// nothing. sizes, when not NULL, receives each object's size in bytes.
// Errors: OSCAR_ENOENT (no such session), OSCAR_EINVAL (a bad key),
// OSCAR_ENOSPACE (over the memory limit with nothing left to spill, or a
// full disk), OSCAR_ESTATE (replacing an object being read), and the
// call's errors.
int oscar_storage_put(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, oscar_value_t **vals, uint64_t *sizes, int64_t timeout_ms,
    oscar_error_t *err);

// oscar_storage_get gets keys[i] (sliced by slices[i] when slices is not
// NULL and slices[i] is not NULL) into a new array in *out, the caller's.
// flags: 0 or OSCAR_STORAGE_LZ4. Errors: OSCAR_ENOENT ("no such object K
// in session S"), OSCAR_EINVAL (a slice out of range or of the wrong
// type), OSCAR_ENOSPACE (no room to read a spilled object back).
int oscar_storage_get(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, const oscar_storage_slice_t *const *slices, unsigned flags,
    oscar_value_t **out, int64_t timeout_ms, oscar_error_t *err);

// oscar_storage_delete deletes keys[0..n) in session, all or nothing (an
// unknown key deletes nothing: OSCAR_ENOENT). *deleted (may be NULL)
// receives how many there were.
int oscar_storage_delete(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, uint64_t *deleted, int64_t timeout_ms, oscar_error_t *err);

// oscar_storage_pull makes the worker at address copy keys[0..n) of
// session from the worker at from, in blocks, then tells the session's
// meta where they are. sizes (may be NULL) receives their sizes. Two
// pulls of one key share one transfer.
int oscar_storage_pull(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, const char *from, uint64_t *sizes, int64_t timeout_ms,
    oscar_error_t *err);

// oscar_storage_pull_start starts the same pull and gives its handle in
// *callp at once: oscar_call_cancel cancels it (a transfer that no other
// pull shares is dropped), oscar_call_wait waits for its reply, an
// array of sizes.
int oscar_storage_pull_start(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, const char *from, int64_t timeout_ms, oscar_call_t **callp,
    oscar_error_t *err);

// oscar_storage_info fills info with the worker's figures.
int oscar_storage_info(oscar_pool_t *pool, const char *address, oscar_storage_info_t *info,
    int64_t timeout_ms, oscar_error_t *err);

// ---------------------------------------------------------------------------
// Shared memory with the node's sub pools
//
// Code running in a sub pool of a worker (or in the worker's own process)
// opens a link to the worker's storage with the worker's main pool
// address, then reads objects through read-only mappings of their
// shared-memory segments and hands large new objects over the same way:
// no copy goes through a socket. The link is a unix socket (an abstract
// name: nothing in the file system) that passes descriptors; only the
// worker's own process and its children may use it. A link serves one
// thread at a time.

typedef struct oscar_storage_local oscar_storage_local_t;

// oscar_storage_view_t is a read-only mapping of an object: data[0..len)
// are a bin's or str's bytes (type OSCAR_BIN, OSCAR_STR), or any other
// value's MessagePack encoding (type OSCAR_NIL here: decode it with
// oscar_storage_view_value). Valid until oscar_storage_view_release,
// whatever happens to the object meanwhile.
typedef struct oscar_storage_view {
	const void  *data;
	size_t       len;
	oscar_type_t type;
	void        *base_; // the mapping
	size_t       size_;
} oscar_storage_view_t;

// oscar_storage_local_open links to the storage of the worker whose main
// pool is at node_address. *lp is the caller's, for
// oscar_storage_local_close. OSCAR_ECONNREFUSED when no storage serves
// there.
int oscar_storage_local_open(
    oscar_storage_local_t **lp, const char *node_address, oscar_error_t *err);

// oscar_storage_local_close closes the link and clears *lp. Views stay
// valid. NULL allowed.
void oscar_storage_local_close(oscar_storage_local_t **lp);

// oscar_storage_local_read maps the object key of session read-only into
// *view (released with oscar_storage_view_release). Errors as
// oscar_storage_get, plus OSCAR_EPEERGONE when the worker went away.
int oscar_storage_local_read(oscar_storage_local_t *l, const char *session, const char *key,
    oscar_storage_view_t *view, int64_t timeout_ms, oscar_error_t *err);

// oscar_storage_local_get gives the object key of session as a value in
// *out (the caller's), read through the link: a bin or str points into a
// private, copy-on-write mapping of the object's segment, without a copy
// (the mapping lives until the value and every copy of it are freed);
// any other value is decoded from its segment. Errors as
// oscar_storage_local_read.
int oscar_storage_local_get(oscar_storage_local_t *l, const char *session, const char *key,
    oscar_value_t **out, int64_t timeout_ms, oscar_error_t *err);

// oscar_storage_view_value makes a value of the view (a copy of a bin or
// str, the decoded value otherwise) in *out, the caller's.
int oscar_storage_view_value(const oscar_storage_view_t *view, oscar_value_t **out);

// oscar_storage_view_release unmaps the view and zeroes it. Safe on a
// zeroed view.
void oscar_storage_view_release(oscar_storage_view_t *view);

// oscar_storage_local_put hands v (borrowed) to the node's storage as key
// of session: its bytes are written once, into a shared-memory segment,
// which the storage adopts without a copy. *size (may be NULL) receives
// the object's size. Errors as oscar_storage_put.
int oscar_storage_local_put(oscar_storage_local_t *l, const char *session, const char *key,
    const oscar_value_t *v, uint64_t *size, int64_t timeout_ms, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_STORAGE_H
