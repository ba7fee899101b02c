// A small hash map from strings to pointers, for the services' per-session
// tables (meta's entries, lifecycle's counts). Keys are copied; values are
// the caller's. Not thread safe: each map belongs to one actor.
#ifndef OSC_STRMAP_H
#define OSC_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct osc_strmap_item {
	struct osc_strmap_item *next;
	void                   *value;
	char                    key[]; // NUL-terminated copy
} osc_strmap_item_t;

typedef struct osc_strmap {
	osc_strmap_item_t **buckets;
	size_t              n_buckets; // a power of two, or 0 before the first put
	size_t              len;
} osc_strmap_t;

// osc_strmap_get gives key's value, or NULL when key is absent.
void *osc_strmap_get(const osc_strmap_t *m, const char *key);

// osc_strmap_put sets key to value (a previous value is returned in *old
// when old is not NULL, and is otherwise the caller's to have freed
// first). OSCAR_ENOMEM when out of memory, nothing changed.
int osc_strmap_put(osc_strmap_t *m, const char *key, void *value, void **old);

// osc_strmap_del removes key and gives its value (NULL when absent).
void *osc_strmap_del(osc_strmap_t *m, const char *key);

// osc_strmap_next walks the map: pass NULL to start; gives NULL at the end.
// The map must not change during a walk.
const osc_strmap_item_t *osc_strmap_next(const osc_strmap_t *m, const osc_strmap_item_t *at);

// osc_strmap_fini frees the map's own memory, calling free_value (may be
// NULL) on each value.
void osc_strmap_fini(osc_strmap_t *m, void (*free_value)(void *));

#endif // OSC_STRMAP_H
