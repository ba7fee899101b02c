// The object store of one node: the engine that the storage service's
// actors wrap (docs/services/storage.md).
//
// Objects are values named by (session, key). The store keeps them as they
// are (a large bin is never re-encoded or copied when stored), counts
// their bytes against a memory limit, spills the least recently used ones
// to files when over it and reads them back on the next get, exports them
// to shared memory for the node's sub pools (shm.h), and hands them out in
// blocks for transfers between workers (osc_store_blocks_*,
// osc_store_recv_*).
//
// Threads. A store is single-threaded: it belongs to one pool's loop (the
// storage actor's), and every function here must be called from that one
// thread. It takes no lock. Concurrency (many callers putting and getting
// at once) is the actor's business: callers reach the store through
// messages to that actor, which runs one at a time.
//
// Lifetimes. Close every block iterator and commit or abort every
// receiver before closing the store. Objects pinned by osc_store_read when
// the store closes stay valid until released.
//
// Errors. Every function that can fail returns 0 or an error code and, when
// err is not NULL, fills err with the code and a message naming what
// failed ("no such object K in session S").
#ifndef OSC_STORE_H
#define OSC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oscar/actor.h"
#include "oscar/value.h"

typedef struct osc_store     osc_store_t;
typedef struct osc_store_obj osc_store_obj_t;

// Longest session id and key the store takes (bytes, without terminator).
#define OSC_STORE_SESSION_MAX 255
#define OSC_STORE_KEY_MAX     OSCAR_REF_NAME_MAX

// osc_store_write_fn writes n bytes of p to fd, as write(2) does (the
// number written, or -1 with errno set). Tests inject failures with it.
typedef ssize_t (*osc_store_write_fn)(void *arg, int fd, const void *p, size_t n);

typedef struct osc_store_config {
	// Bytes of objects kept in memory; 0: no limit.
	uint64_t memory_limit;
	// Where to spill when over the limit (created if missing); NULL: no
	// spilling, so a put over the limit is refused. The store spills
	// into a directory of its own inside it, removed on close.
	const char *spill_dir;
	// Spill writes go through this when set (tests), else write(2).
	osc_store_write_fn write_fn;
	void              *write_arg;
} osc_store_config_t;

typedef struct osc_store_stats {
	uint64_t used;      // bytes of objects in memory (reserved ones too)
	uint64_t limit;     // the memory limit, 0 for none
	uint64_t spilled;   // bytes of objects in spill files
	uint64_t objects;   // objects stored, in memory or spilled
	uint64_t n_spilled; // objects in spill files
	uint64_t shared;    // bytes of shared-memory segments exported
	uint64_t sessions;  // sessions open
} osc_store_stats_t;

// osc_store_open makes a store, owned by the caller until osc_store_close.
// Returns 0, OSCAR_EINVAL, OSCAR_ENOMEM or OSCAR_ESYSTEM (the spill
// directory cannot be made).
int osc_store_open(const osc_store_config_t *cfg, osc_store_t **sp, oscar_error_t *err);

// osc_store_close frees every object, removes every spill file and the
// store's spill directory, closes every shared-memory segment it made,
// and frees the store. Objects still pinned by a reader are freed when
// that reader releases them. NULL is allowed.
void osc_store_close(osc_store_t *s);

// osc_store_stats fills st.
void osc_store_stats(const osc_store_t *s, osc_store_stats_t *st);

// Sessions. An object can only be stored in a session the store knows.
// osc_store_session_create: 0, OSCAR_EEXIST (unless if_not_exists),
// OSCAR_EINVAL (bad id) or OSCAR_ENOMEM.
int osc_store_session_create(
    osc_store_t *s, const char *session, bool if_not_exists, oscar_error_t *err);
// osc_store_session_has tells whether the session is known.
bool osc_store_session_has(const osc_store_t *s, const char *session);
// osc_store_session_delete deletes the session and every object in it
// (their spill files and segments too). OSCAR_ENOENT when unknown, unless
// if_exists.
int osc_store_session_delete(
    osc_store_t *s, const char *session, bool if_exists, oscar_error_t *err);

// osc_store_put stores val as key in session, replacing an older object
// of that key unless it is pinned (OSCAR_ESTATE). val is consumed on
// success and left with the caller on failure. It is counted by the
// size of its MessagePack encoding; to make room, unpinned objects are
// spilled, least recently used first. Returns 0, OSCAR_ENOENT (no such
// session), OSCAR_EINVAL (bad key, or a value that cannot be encoded),
// OSCAR_ENOSPACE (larger than the limit, nothing left to spill, or the
// spill failed: disk full), OSCAR_ESTATE, OSCAR_ESYSTEM or OSCAR_ENOMEM.
// On failure nothing stored changed, except that objects may have been
// spilled.
int osc_store_put(
    osc_store_t *s, const char *session, const char *key, oscar_value_t *val, oscar_error_t *err);

// osc_store_put_batch stores vals[i] as keys[i] for i in [0, n), all or
// nothing: the keys are checked and room is made for all of them first.
// On success every value is consumed; on failure none is.
int osc_store_put_batch(osc_store_t *s, const char *session, size_t n, const char *const *keys,
    oscar_value_t **vals, oscar_error_t *err);

// osc_slice_t selects part of an array (items), str or bin (bytes), as a
// Python slice does: negative indexes count from the end, a missing start
// or stop means the whole way in the direction of step. Unlike Python, an
// index out of range is an error, not clamped. With index set, the slice
// is the one item (array: the item itself; str, bin: one byte) at start.
typedef struct osc_slice {
	int64_t start;
	int64_t stop;
	int64_t step; // not 0
	bool    has_start;
	bool    has_stop;
	bool    index;
} osc_slice_t;

// osc_slice_resolve resolves sl against a length: the first position,
// the step and the count of positions. OSCAR_EINVAL (with the reason in
// err) for a step of 0 or an index out of range.
int osc_slice_resolve(const osc_slice_t *sl, size_t len, int64_t *first, int64_t *step,
    size_t *count, oscar_error_t *err);

// osc_store_get gives a copy of the object (or of its slice, when sl is
// not NULL) in *out, the caller's. A spilled object is read back first.
// Returns 0, OSCAR_ENOENT (no such session, no such object), OSCAR_EINVAL
// (a slice of the wrong type or out of range), OSCAR_ENOSPACE (no room to
// read it back), OSCAR_ESYSTEM (the spill file is unreadable) or
// OSCAR_ENOMEM.
int osc_store_get(osc_store_t *s, const char *session, const char *key, const osc_slice_t *sl,
    oscar_value_t **out, oscar_error_t *err);

// osc_store_get_batch gets keys[i] (sliced by slices[i] when slices and
// slices[i] are not NULL) for i in [0, n) into a new array in *out, all
// or nothing.
int osc_store_get_batch(osc_store_t *s, const char *session, size_t n, const char *const *keys,
    const osc_slice_t *const *slices, oscar_value_t **out, oscar_error_t *err);

// osc_store_delete deletes an object. OSCAR_ENOENT when there is no such
// session or object. A pinned object leaves the store at once and is
// freed when its last reader releases it.
int osc_store_delete(osc_store_t *s, const char *session, const char *key, oscar_error_t *err);

// osc_store_delete_batch deletes keys[0..n), all or nothing: when one is
// missing, nothing is deleted.
int osc_store_delete_batch(
    osc_store_t *s, const char *session, size_t n, const char *const *keys, oscar_error_t *err);

// osc_store_has tells whether the object exists (in memory or spilled).
bool osc_store_has(const osc_store_t *s, const char *session, const char *key);

// osc_store_read pins the object (read back first when spilled) and gives
// its value in place, without a copy, in *val; *obj is the pin, to give
// back with osc_store_release. A pinned object is never spilled and its
// value never changes. The value is borrowed, read-only.
int osc_store_read(osc_store_t *s, const char *session, const char *key, osc_store_obj_t **obj,
    const oscar_value_t **val, oscar_error_t *err);
// osc_store_release drops a pin taken by osc_store_read.
void osc_store_release(osc_store_t *s, osc_store_obj_t *obj);

// ---------------------------------------------------------------------------
// Blocks: an object's encoded bytes, a block at a time, and back.

typedef struct osc_store_blocks osc_store_blocks_t;

// osc_store_blocks_open pins the object and prepares to read its
// MessagePack encoding in blocks of block_size bytes (the last one
// shorter); *total is the encoding's length. Large strs and bins are
// copied straight from the object into each block, so reading costs one
// block of memory, never a second copy of the object.
int osc_store_blocks_open(osc_store_t *s, const char *session, const char *key, size_t block_size,
    osc_store_blocks_t **bp, uint64_t *total, oscar_error_t *err);
// osc_store_blocks_next gives the next block in *p, *n (borrowed until the
// next call or close); *n is 0 at the end.
int osc_store_blocks_next(osc_store_blocks_t *b, const void **p, size_t *n);
// osc_store_blocks_close releases the pin and the iterator. NULL allowed.
void osc_store_blocks_close(osc_store_blocks_t *b);

typedef struct osc_store_recv osc_store_recv_t;

// osc_store_recv_open prepares to receive an object of total encoded
// bytes as key in session: room for it is made (spilling) and reserved
// now, so that the blocks can always be taken. OSCAR_ENOSPACE when it
// cannot fit; OSCAR_ETOOLARGE past 2^32 + 5 bytes; OSCAR_EPROTO for 0.
int osc_store_recv_open(osc_store_t *s, const char *session, const char *key, uint64_t total,
    osc_store_recv_t **rp, oscar_error_t *err);
// osc_store_recv_push takes the next n bytes. OSCAR_EPROTO when they go
// past the total announced, or are not a well-formed encoding as far as
// they go (a reserved byte, a length past the total, an ext other than a
// reference).
int osc_store_recv_push(osc_store_recv_t *r, const void *p, size_t n, oscar_error_t *err);
// osc_store_recv_commit decodes the bytes and stores the object, then
// frees r in every case. The bytes are decoded as they arrive: each large
// bin (64 KiB or more) goes straight into the block that becomes its
// value, so the object is never held twice; the rest is decoded at the
// end. OSCAR_EPROTO when bytes are missing or do not decode (push already
// refuses what cannot be the start of an encoding).
int osc_store_recv_commit(osc_store_recv_t *r, oscar_error_t *err);
// osc_store_recv_abort drops what was received and the reservation.
void osc_store_recv_abort(osc_store_recv_t *r);

// ---------------------------------------------------------------------------
// Shared memory (shm.c, the format in shm.h)

// osc_store_export gives a sealed shared-memory segment holding the object
// (made on first export, then reused): *fd stays the store's (send a
// duplicate, osc_shm_send_fd), *size is the segment's size. The segment is
// closed when the object is deleted, replaced or spilled, or the store
// closes; a reader that holds a duplicate or a mapping keeps it alive.
int osc_store_export(osc_store_t *s, const char *session, const char *key, int *fd, size_t *size,
    oscar_error_t *err);

// osc_store_import stores the segment fd (made by osc_shm_create, sealed)
// as key in session, without copying its bytes: a bin segment becomes a
// bin pointing into a private mapping of it. fd stays the caller's
// (the store keeps its own mapping). OSCAR_EPROTO for a segment that is
// not sealed or not well formed.
int osc_store_import(
    osc_store_t *s, const char *session, const char *key, int fd, oscar_error_t *err);

#endif // OSC_STORE_H
