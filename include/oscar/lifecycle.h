// Oscar-C lifecycle service: reference counts on a session's objects.
//
// Per session, the supervisor holds an actor ("oscar.lifecycle:<session>",
// created when the session is) counting references to object keys. When a
// key's count reaches zero, its meta entry is deleted and every worker
// that held it is asked to delete it from its storage (one batched call
// per worker to "oscar.storage", method delete {session, keys}). This
// header is the typed API for host threads; an actor calls the same
// methods (services/lifecycle/lifecycle_int.h, docs/services/lifecycle.md).
//
// Errors: OSCAR_ENOENT "no such session S"; OSCAR_ENOENT naming the key
// for a decref of a key with no count, and OSCAR_EINVAL for one that
// would go below zero (the whole batch is checked first: nothing is
// changed); OSCAR_EBADARGS for a malformed batch; OSCAR_ESTATE past
// lifecycle.max_keys.
#ifndef OSCAR_LIFECYCLE_H
#define OSCAR_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

// The uid of a session's lifecycle actor is this prefix and the session id.
#define OSCAR_LIFECYCLE_UID_PREFIX "oscar.lifecycle:"

// oscar_lifecycle_incref adds counts[i] (NULL: 1 each) to keys[i].
int oscar_lifecycle_incref(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, const uint64_t *counts, size_t n, int64_t timeout_ms,
    oscar_error_t *err);

// oscar_lifecycle_decref takes counts[i] (NULL: 1 each) from keys[i] and
// gives the keys whose count reached zero, and that were deleted, as an
// array of strings in *freed (may be NULL).
int oscar_lifecycle_decref(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, const uint64_t *counts, size_t n, int64_t timeout_ms,
    oscar_value_t **freed, oscar_error_t *err);

// oscar_lifecycle_counts gives the counts of keys[0..n) in counts (0 for a
// key with no count).
int oscar_lifecycle_counts(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, size_t n, uint64_t *counts, int64_t timeout_ms, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_LIFECYCLE_H
