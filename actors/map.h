// The internal containers: a hash set of pointers, and the growth of
// plain arrays.
//
// The hash set: open addressing, linear probing,
// tombstones. Callers hash their keys themselves and compare candidates
// themselves; the set stores each element with its hash, so it never
// needs to look inside an element. Used for the uid -> actor map of a pool
// (actor.c), its transport's pending calls and message assemblies, the
// replay window of the cluster secret (auth.c), and maps of the services
// (the task functions, the task graph, the store).
#ifndef OSC_MAP_H
#define OSC_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct osc_slot {
	uint64_t hash;
	void    *val; // NULL: empty; OSC_MAP_TOMB (map.c): removed
} osc_slot_t;

typedef struct osc_map {
	osc_slot_t *slots;
	size_t      cap; // a power of two, or 0
	size_t      len;
	size_t      tombs;
} osc_map_t;

// osc_map_reserve makes room for one more element, so that the next
// osc_map_insert cannot fail. 0 or OSCAR_ENOMEM.
int osc_map_reserve(osc_map_t *m);
// osc_map_reserve_n makes room for n more elements at once.
int osc_map_reserve_n(osc_map_t *m, size_t n);
// osc_map_insert adds val under hash (after osc_map_reserve).
void osc_map_insert(osc_map_t *m, uint64_t hash, void *val);
// osc_map_remove removes val, stored under hash.
void osc_map_remove(osc_map_t *m, uint64_t hash, const void *val);
// osc_map_next walks the elements stored under hash: start with *pos set
// to osc_map_first(m, hash); NULL when there are no more.
size_t osc_map_first(const osc_map_t *m, uint64_t hash);
void  *osc_map_next(const osc_map_t *m, uint64_t hash, size_t *pos);
// osc_map_at returns the element in slot i (0 <= i < cap), or NULL.
void *osc_map_at(const osc_map_t *m, size_t i);
// osc_map_fini releases the slots (not the elements).
void osc_map_fini(osc_map_t *m);

// osc_hash_str is 64-bit FNV-1a; osc_hash_u64 mixes an integer key.
uint64_t osc_hash_str(const char *s);
uint64_t osc_hash_u64(uint64_t x);

// osc_reserve makes room for one more element in an array: *itemsp points
// to the array (of *cap elements of elem bytes, n of them used), which is
// doubled, or allocated with first elements when empty. 0 or
// OSCAR_ENOMEM, leaving the array as it was.
int osc_reserve(void *itemsp, size_t *cap, size_t n, size_t elem, size_t first);

#endif // OSC_MAP_H
