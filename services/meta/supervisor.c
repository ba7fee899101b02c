// The meta service: a per-session actor on the supervisor holding an entry
// per object key, created and destroyed by the service's session hooks.
//
// Each entry is kept as a struct (osc_entry_t) in a hash table by key,
// and given out as a map ({key, size, workers, status, task, fields}). Every batch is
// checked whole before anything changes, so a malformed batch, or one
// that would pass meta.max_entries, changes nothing.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/oscar.h"
#include "services/meta/meta_int.h"
#include "services/strmap.h"
#include "services/vbuild.h"

// The fields of an entry, as a get's filter names them.
static const char *const osc_entry_fields[] = { "key", "size", "workers", "status", "task",
	"fields", NULL };

// The statuses, by their number in an entry.
static const char *const osc_statuses[] = { "stored", "pending", "lost" };

// OSC_ENTRY_WORKERS_INLINE workers fit in an entry itself; more take a
// block of their own.
#define OSC_ENTRY_WORKERS_INLINE 2

// osc_entry_t is an entry kept as a struct, in one block with its key:
// an entry costs one allocation (and its place in the map) where the map
// the methods give out costs a dozen. Worker addresses are interned in
// the actor's table (a session sees a handful of workers). The map is
// built only for a get.
typedef struct osc_entry {
	uint64_t       size;
	unsigned       status; // index in osc_statuses
	unsigned       n_workers, cap_workers;
	const char   **workers; // w_inline, or a block of its own
	const char    *w_inline[OSC_ENTRY_WORKERS_INLINE];
	char          *task;   // NULL for nil
	oscar_value_t *fields; // a map, NULL while empty
	size_t         key_len;
	char           key[];
} osc_entry_t;

typedef struct osc_meta {
	char         session[OSCAR_SESSION_ID_MAX + 1];
	int64_t      max_entries;
	osc_strmap_t entries; // key -> osc_entry_t
	osc_strmap_t addrs;   // address -> its interned copy (char *)
} osc_meta_t;

static void osc_entry_free(void *p)
{
	osc_entry_t *e = p;
	if (e == NULL) {
		return;
	}
	if (e->workers != e->w_inline) {
		free(e->workers);
	}
	free(e->task);
	oscar_value_free(e->fields);
	free(e);
}

static int osc_status_of(const oscar_value_t *v)
{
	const char *s;
	size_t      len;
	if (oscar_value_get_str(v, &s, &len) != 0) {
		return (-1);
	}
	for (int i = 0; i < (int) (sizeof(osc_statuses) / sizeof(osc_statuses[0])); i++) {
		if (strcmp(s, osc_statuses[i]) == 0) {
			return (i);
		}
	}
	return (-1);
}

static bool osc_addresses_ok(const oscar_value_t *v)
{
	if (v == NULL || v->type != OSCAR_ARRAY) {
		return (false);
	}
	for (size_t i = 0; i < oscar_value_len(v); i++) {
		const char *s;
		size_t      len;
		if (oscar_value_get_str(oscar_value_at(v, i), &s, &len) != 0 || len == 0 ||
		    len >= OSCAR_ADDR_MAX) {
			return (false);
		}
	}
	return (true);
}

// osc_addr_intern gives the actor's copy of address addr; NULL when out of
// memory.
static const char *osc_addr_intern(osc_meta_t *st, const char *addr)
{
	char *a = osc_strmap_get(&st->addrs, addr);
	if (a == NULL && (a = strdup(addr)) != NULL &&
	    osc_strmap_put(&st->addrs, addr, a, NULL) != 0) {
		free(a);
		a = NULL;
	}
	return (a);
}

// osc_entry_add_worker adds addr (interned) to e's workers unless there.
static int osc_entry_add_worker(osc_entry_t *e, const char *addr)
{
	for (unsigned j = 0; j < e->n_workers; j++) {
		if (e->workers[j] == addr) {
			return (0);
		}
	}
	if (e->n_workers == e->cap_workers) {
		unsigned     cap = e->cap_workers * 2;
		const char **w   = malloc(cap * sizeof(*w));
		if (w == NULL) {
			return (OSCAR_ENOMEM);
		}
		memcpy(w, e->workers, e->n_workers * sizeof(*w));
		if (e->workers != e->w_inline) {
			free(e->workers);
		}
		e->workers     = w;
		e->cap_workers = cap;
	}
	e->workers[e->n_workers++] = addr;
	return (0);
}

// osc_entry_find_or_add gives key's entry, making it with the defaults
// when absent (room was checked); NULL when out of memory.
static osc_entry_t *osc_entry_find_or_add(osc_meta_t *st, const char *key)
{
	osc_entry_t *e = osc_strmap_get(&st->entries, key);
	if (e != NULL) {
		return (e);
	}
	size_t len = strlen(key);
	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL) {
		return (NULL);
	}
	memcpy(e->key, key, len + 1);
	e->key_len     = len;
	e->workers     = e->w_inline;
	e->cap_workers = OSC_ENTRY_WORKERS_INLINE;
	if (osc_strmap_put(&st->entries, key, e, NULL) != 0) {
		free(e);
		return (NULL);
	}
	return (e);
}

// osc_entry_workers_value gives e's workers as an array of strings.
static oscar_value_t *osc_entry_workers_value(const osc_entry_t *e)
{
	oscar_value_t *w = oscar_value_new_array(e->n_workers);
	for (unsigned j = 0; w != NULL && j < e->n_workers; j++) {
		if (osc_vb_push_str(w, e->workers[j]) != 0) {
			oscar_value_free(w);
			w = NULL;
		}
	}
	return (w);
}

// osc_entry_field gives field name of e as a value (NULL when out of
// memory or for an unknown name).
static oscar_value_t *osc_entry_field(const osc_entry_t *e, const char *name)
{
	if (strcmp(name, "key") == 0) {
		return (oscar_value_new_strn(e->key, e->key_len));
	} else if (strcmp(name, "size") == 0) {
		return (oscar_value_new_uint(e->size));
	} else if (strcmp(name, "workers") == 0) {
		return (osc_entry_workers_value(e));
	} else if (strcmp(name, "status") == 0) {
		return (oscar_value_new_str(osc_statuses[e->status]));
	} else if (strcmp(name, "task") == 0) {
		return (e->task != NULL ? oscar_value_new_str(e->task) : oscar_value_new_nil());
	} else if (strcmp(name, "fields") == 0) {
		return (e->fields != NULL ? oscar_value_copy(e->fields) : oscar_value_new_map(0));
	}
	return (NULL);
}

// osc_entry_value gives e as the map the methods give out, with the
// fields named in fields (an array of names), or all of them for NULL.
static oscar_value_t *osc_entry_value(const osc_entry_t *e, const oscar_value_t *fields)
{
	size_t         n = fields != NULL ? oscar_value_len(fields) : 6;
	oscar_value_t *v = oscar_value_new_map(n);
	for (size_t j = 0; v != NULL && j < n; j++) {
		const char *name =
		    fields != NULL ? oscar_value_at_str(fields, j) : osc_entry_fields[j];
		if (oscar_value_map_set(v, name, osc_entry_field(e, name)) != 0) {
			oscar_value_free(v);
			v = NULL;
		}
	}
	return (v);
}

// osc_room fails req when adding the keys taken by key_of from each item
// of batch would pass meta.max_entries.
static int osc_room(osc_meta_t *st, oscar_req_t *req, const oscar_value_t *batch,
    const oscar_value_t *(*key_of)(const oscar_value_t *) )
{
	size_t added = 0;
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *k = key_of(oscar_value_at(batch, i));
		if (osc_strmap_get(&st->entries, k->as.str.ptr) == NULL) {
			added++;
		}
	}
	if ((int64_t) (st->entries.len + added) > st->max_entries) {
		return (oscar_req_fail(req, OSCAR_ESTATE,
		    "session %s holds %zu entries; %zu more would pass meta.max_entries (%lld)",
		    st->session, st->entries.len, added, (long long) st->max_entries));
	}
	return (0);
}

static const oscar_value_t *osc_key_of_entry(const oscar_value_t *entry)
{
	return (oscar_value_map_get(entry, "key"));
}

static const oscar_value_t *osc_key_of_location(const oscar_value_t *item)
{
	return (oscar_value_at(item, 0));
}

// osc_entry_check tells what is wrong with the i-th entry of a set, or NULL.
static const char *osc_entry_check(const oscar_value_t *e)
{
	if (e == NULL || e->type != OSCAR_MAP) {
		return ("is not a map");
	}
	if (!osc_key_ok(oscar_value_map_get(e, "key"))) {
		return ("has no key (a string of 1 to 1024 bytes)");
	}
	for (size_t j = 0; j < e->as.map.len; j++) {
		const oscar_value_t *k = &e->as.map.kv[j].key;
		const oscar_value_t *v = &e->as.map.kv[j].val;
		const char          *name;
		size_t               len;
		uint64_t             u;
		if (oscar_value_get_str(k, &name, &len) != 0) {
			return ("has a field name that is not a string");
		}
		if (strcmp(name, "key") == 0) {
			continue;
		} else if (strcmp(name, "size") == 0) {
			if (oscar_value_get_uint(v, &u) != 0) {
				return ("has a size that is not an unsigned integer");
			}
		} else if (strcmp(name, "workers") == 0) {
			if (!osc_addresses_ok(v)) {
				return ("has workers that are not an array of addresses");
			}
		} else if (strcmp(name, "status") == 0) {
			if (osc_status_of(v) < 0) {
				return ("has a status other than stored, pending or lost");
			}
		} else if (strcmp(name, "task") == 0) {
			if (v->type != OSCAR_NIL && !osc_key_ok(v)) {
				return ("has a task that is neither a key nor nil");
			}
		} else if (strcmp(name, "fields") == 0) {
			if (v->type != OSCAR_MAP) {
				return ("has fields that are not a map");
			}
		} else {
			return ("has an unknown field (key, size, workers, status, task, fields)");
		}
	}
	return (NULL);
}

static int osc_mm_set(oscar_actor_t *self, oscar_req_t *req)
{
	osc_meta_t          *st    = oscar_actor_state(self);
	const oscar_value_t *batch = oscar_req_args(req);
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const char *why = osc_entry_check(oscar_value_at(batch, i));
		if (why != NULL) {
			return (oscar_req_fail(req, OSCAR_EBADARGS, "set: entry %zu %s", i, why));
		}
	}
	int rv = osc_room(st, req, batch, osc_key_of_entry);
	if (rv != 0) {
		return (rv);
	}
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *given = oscar_value_at(batch, i);
		osc_entry_t *e = osc_entry_find_or_add(st, oscar_value_map_str(given, "key"));
		if (e == NULL) {
			return (oscar_req_fail(
			    req, OSCAR_ENOMEM, "out of memory after %zu entries", i));
		}
		for (size_t j = 0; j < given->as.map.len; j++) {
			const char          *name = given->as.map.kv[j].key.as.str.ptr;
			const oscar_value_t *v    = &given->as.map.kv[j].val;
			if (strcmp(name, "size") == 0) {
				oscar_value_get_uint(v, &e->size);
			} else if (strcmp(name, "status") == 0) {
				e->status = (unsigned) osc_status_of(v);
			} else if (strcmp(name, "task") == 0) {
				char *task = v->type == OSCAR_NIL ? NULL : strdup(v->as.str.ptr);
				if (v->type != OSCAR_NIL && task == NULL) {
					return (oscar_req_fail(req, OSCAR_ENOMEM,
					    "out of memory after %zu entries", i));
				}
				free(e->task);
				e->task = task;
			} else if (strcmp(name, "workers") == 0) {
				// The workers given replace those known.
				e->n_workers = 0;
				for (size_t k = 0; k < oscar_value_len(v); k++) {
					const char *a =
					    osc_addr_intern(st, oscar_value_at_str(v, k));
					if (a == NULL || osc_entry_add_worker(e, a) != 0) {
						return (oscar_req_fail(req, OSCAR_ENOMEM,
						    "out of memory after %zu entries", i));
					}
				}
			} else if (strcmp(name, "fields") == 0) {
				// User fields merge: those given replace, the others
				// stay.
				if (e->fields == NULL &&
				    (e->fields = oscar_value_new_map(v->as.map.len)) == NULL) {
					return (oscar_req_fail(req, OSCAR_ENOMEM,
					    "out of memory after %zu entries", i));
				}
				for (size_t f = 0; f < v->as.map.len; f++) {
					const char *fname;
					size_t      flen;
					if (oscar_value_get_str(
					        &v->as.map.kv[f].key, &fname, &flen) == 0) {
						oscar_value_map_set(e->fields, fname,
						    oscar_value_copy(&v->as.map.kv[f].val));
					}
				}
			}
		}
	}
	return (oscar_req_reply(req, NULL));
}

static int osc_mm_add_location(oscar_actor_t *self, oscar_req_t *req)
{
	osc_meta_t          *st    = oscar_actor_state(self);
	const oscar_value_t *batch = oscar_req_args(req);
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *item = oscar_value_at(batch, i);
		const char          *addr;
		size_t               len;
		uint64_t             size;
		if (item == NULL || item->type != OSCAR_ARRAY || oscar_value_len(item) != 3 ||
		    !osc_key_ok(oscar_value_at(item, 0)) ||
		    oscar_value_get_str(oscar_value_at(item, 1), &addr, &len) != 0 || len == 0 ||
		    len >= OSCAR_ADDR_MAX ||
		    oscar_value_get_uint(oscar_value_at(item, 2), &size) != 0) {
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "add_location: item %zu is not [key, address, size]", i));
		}
	}
	int rv = osc_room(st, req, batch, osc_key_of_location);
	if (rv != 0) {
		return (rv);
	}
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *item = oscar_value_at(batch, i);
		const char          *addr = osc_addr_intern(st, oscar_value_at_str(item, 1));
		osc_entry_t         *e    = osc_entry_find_or_add(st, oscar_value_at_str(item, 0));
		if (e == NULL || addr == NULL || osc_entry_add_worker(e, addr) != 0) {
			return (
			    oscar_req_fail(req, OSCAR_ENOMEM, "out of memory after %zu items", i));
		}
		e->size   = oscar_value_at_uint(item, 2, 0);
		e->status = 0; // stored
	}
	return (oscar_req_reply(req, NULL));
}

// osc_keys_check fails req unless keys is an array of keys.
static int osc_keys_check(oscar_req_t *req, const oscar_value_t *keys, const char *method)
{
	if (keys == NULL || keys->type != OSCAR_ARRAY) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "%s: keys must be an array", method));
	}
	for (size_t i = 0; i < oscar_value_len(keys); i++) {
		if (!osc_key_ok(oscar_value_at(keys, i))) {
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "%s: key %zu is not a string of 1 to %d bytes", method, i,
			    OSCAR_REF_KEY_MAX));
		}
	}
	return (0);
}

static int osc_mm_get(oscar_actor_t *self, oscar_req_t *req)
{
	osc_meta_t          *st     = oscar_actor_state(self);
	const oscar_value_t *keys   = oscar_value_map_get(oscar_req_args(req), "keys");
	const oscar_value_t *fields = oscar_value_map_get(oscar_req_args(req), "fields");
	int                  rv     = osc_keys_check(req, keys, "get");
	if (rv != 0) {
		return (rv);
	}
	if (fields != NULL && fields->type == OSCAR_NIL) {
		fields = NULL;
	}
	if (fields != NULL && fields->type != OSCAR_ARRAY) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "get: fields must be an array or nil"));
	}
	for (size_t i = 0; fields != NULL && i < oscar_value_len(fields); i++) {
		const char *name  = oscar_value_at_str(fields, i);
		bool        known = false;
		for (size_t j = 0; name != NULL && osc_entry_fields[j] != NULL && !known; j++) {
			known = strcmp(name, osc_entry_fields[j]) == 0;
		}
		if (!known) {
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "get: unknown field %s (key, size, workers, status, task, fields)",
			    name != NULL ? name : "(not a string)"));
		}
	}
	oscar_value_t *list = oscar_value_new_array(oscar_value_len(keys));
	for (size_t i = 0; list != NULL && i < oscar_value_len(keys); i++) {
		const osc_entry_t *e = osc_strmap_get(&st->entries, oscar_value_at_str(keys, i));
		oscar_value_t *v = e != NULL ? osc_entry_value(e, fields) : oscar_value_new_nil();
		if (oscar_value_array_push(list, v) != 0) {
			oscar_value_free(list);
			list = NULL;
		}
	}
	return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
}

static int osc_mm_delete(oscar_actor_t *self, oscar_req_t *req)
{
	osc_meta_t          *st   = oscar_actor_state(self);
	const oscar_value_t *keys = oscar_req_args(req);
	int                  rv   = osc_keys_check(req, keys, "delete");
	if (rv != 0) {
		return (rv);
	}
	oscar_value_t *list = oscar_value_new_array(0);
	if (list == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (size_t i = 0; i < oscar_value_len(keys); i++) {
		const char  *key = oscar_value_at_str(keys, i);
		osc_entry_t *e   = osc_strmap_del(&st->entries, key);
		if (e == NULL) {
			continue;
		}
		oscar_value_t *d = osc_vb_slot(list);
		oscar_value_t *k = NULL, *w = NULL;
		if (d != NULL) {
			d->type = OSCAR_MAP;
			k       = osc_vb_entry(d, "key");
		}
		if (k != NULL && osc_vb_set_strn(k, e->key, e->key_len) == 0) {
			w = osc_vb_entry(d, "workers");
		}
		if (w != NULL) {
			w->type = OSCAR_ARRAY;
			for (unsigned j = 0; j < e->n_workers; j++) {
				osc_vb_push_str(w, e->workers[j]);
			}
		}
		osc_entry_free(e);
	}
	return (oscar_req_reply(req, list));
}

static int osc_mm_on_worker(oscar_actor_t *self, oscar_req_t *req)
{
	osc_meta_t    *st      = oscar_actor_state(self);
	const char    *address = oscar_req_args(req)->as.str.ptr; // a string: checked
	oscar_value_t *list    = oscar_value_new_array(0);
	for (const osc_strmap_item_t *it    = osc_strmap_next(&st->entries, NULL);
	     list != NULL && it != NULL; it = osc_strmap_next(&st->entries, it)) {
		const osc_entry_t *e = it->value;
		for (unsigned j = 0; j < e->n_workers; j++) {
			if (strcmp(e->workers[j], address) == 0) {
				if (osc_vb_push_str(list, it->key) != 0) {
					oscar_value_free(list);
					list = NULL;
				}
				break;
			}
		}
	}
	return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
}

static int osc_mm_count(oscar_actor_t *self, oscar_req_t *req)
{
	osc_meta_t *st = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_uint(st->entries.len)));
}

static int osc_meta_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_meta_t *st = oscar_actor_state(self);
	const char *s  = oscar_value_map_str(args, "session");
	snprintf(st->session, sizeof(st->session), "%s", s != NULL ? s : "?");
	st->max_entries = oscar_value_map_int(args, "max_entries", 1000000);
	return (0);
}

static void osc_meta_destroy(oscar_actor_t *self)
{
	osc_meta_t *st = oscar_actor_state(self);
	osc_strmap_fini(&st->entries, osc_entry_free);
	osc_strmap_fini(&st->addrs, free);
}

OSC_METHOD_TABLES(OSC_META_METHODS, osc_meta_methods, OSC_MM_N, osc_meta_actor_methods);

// Protected: no other pool may destroy or replace a service actor.
const oscar_actor_class_t osc_meta_class = {
	.name       = "oscar.meta",
	.state_size = sizeof(osc_meta_t),
	.create     = osc_meta_create,
	.destroy    = osc_meta_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_meta_actor_methods,
};
