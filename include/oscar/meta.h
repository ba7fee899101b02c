// Oscar-C meta service: what a session's objects are and where they live.
//
// Per session, the supervisor holds an actor ("oscar.meta:<session>",
// created when the session is) with an entry per object key:
//
//     {key: str, size: uint (bytes), workers: [address...],
//      status: "stored" | "pending" | "lost", task: key | nil, fields: map}
//
// Every call is batched: one message for many keys. This header is the
// typed API for host threads; an actor calls the same methods with
// oscar_req_call (services/meta/meta_int.h has their table, and
// docs/services/meta.md their argument and reply shapes).
//
// Errors: OSCAR_ENOENT "no such session S" when the session does not
// exist; OSCAR_ENOENT "no such object K in session S" for an unknown key
// where the caller asks for one; OSCAR_EBADARGS for a malformed batch
// (nothing is changed); OSCAR_ESTATE past meta.max_entries.
#ifndef OSCAR_META_H
#define OSCAR_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

// The uid of a session's meta actor is this prefix and the session id.
#define OSCAR_META_UID_PREFIX "oscar.meta:"

// oscar_meta_set upserts entries (an array of entry maps, consumed): the
// fields given replace those stored, except `fields`, which is merged
// into the stored user fields. A new entry starts as {size 0, workers [],
// status "stored", task nil, fields {}}.
int oscar_meta_set(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *entries, int64_t timeout_ms, oscar_error_t *err);

// oscar_meta_add_location records that worker holds key (size bytes),
// for each [key, worker, size] of items (an array, consumed); an entry
// that does not exist is created as stored.
int oscar_meta_add_location(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *items, int64_t timeout_ms, oscar_error_t *err);

// oscar_meta_get gives the entries of keys[0..n) in *entries (an array in
// the same order; the caller frees it), each with only the fields named
// in fields (NULL terminated; NULL: all of them). An unknown key is
// OSCAR_ENOENT naming it, or, with missing_ok, a nil in its place.
int oscar_meta_get(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, size_t n, const char *const *fields, bool missing_ok,
    int64_t timeout_ms, oscar_value_t **entries, oscar_error_t *err);

// oscar_meta_delete deletes the entries of keys[0..n) (unknown keys are
// skipped) and gives the deleted ones as [{key, workers}] in *deleted
// (may be NULL).
int oscar_meta_delete(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, size_t n, int64_t timeout_ms, oscar_value_t **deleted,
    oscar_error_t *err);

// oscar_meta_on_worker gives the keys stored on worker as an array of
// strings in *keys.
int oscar_meta_on_worker(oscar_pool_t *pool, const char *address, const char *session,
    const char *worker, int64_t timeout_ms, oscar_value_t **keys, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_META_H
