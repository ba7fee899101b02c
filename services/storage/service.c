// The storage service: one actor in every worker's main pool that owns the
// node's object store (store.h) and serves it as messages.
//
// Design. The store is single-threaded, and the actor is the only thing
// that touches it: every put, get, delete, transfer and shared-memory
// export is a message handled on the main pool's thread, one at a time.
// The service's session hooks, which run on another thread, call the
// actor; so does the thread serving the sub pools' shared-memory link
// (local.c).
//
// Transfers. A pull asks the peer's actor for the object's encoding a
// block at a time (read_blocks, transfer_block_size bytes) and feeds each
// block into a store receiver, which reserved room for the whole object
// at the first block and decodes large bins straight into their final
// memory: the receiver never holds the object twice, and the actor keeps
// serving other messages between blocks (the pull yields). A transfer
// belongs to (session, key), not to a pull: a second pull of the same key
// waits on the first one's transfer. A pull cancelled by its caller stops
// waiting; a transfer nobody waits for any more is dropped. The serving
// side keeps a bounded cache of open block iterators, so that reading
// block after block costs one block of memory and no re-encoding.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/codec.h"
#include "oscar/oscar.h"
#include "services/storage/compress.h"
#include "services/storage/shm.h"
#include "services/storage/storage_int.h"

// The most block iterators kept open for peers at once; the oldest goes
// first. A peer whose iterator went starts again from its offset.
#define OSC_ST_ITERS_MAX 64
// The largest block a peer may ask for.
#define OSC_ST_BLOCK_MAX (64u << 20)
// How long a block read and the meta update may take.
#define OSC_ST_BLOCK_TIMEOUT_MS 60000
#define OSC_ST_META_TIMEOUT_MS  10000

typedef struct osc_st_pull osc_st_pull_t;

// osc_st_iter: a block iterator held for a peer's read_blocks.
typedef struct osc_st_iter {
	struct osc_st_iter *next;
	char               *session;
	char               *key;
	osc_store_blocks_t *it;
	uint64_t            total;
	uint64_t            offset; // of the next block
	size_t              size;
} osc_st_iter_t;

// osc_st_waiter: a pull waiting for a transfer's key i.
typedef struct osc_st_waiter {
	struct osc_st_waiter *next;
	osc_st_pull_t        *pull;
	size_t                i;
} osc_st_waiter_t;

// osc_st_xfer: a transfer of one object from a peer.
typedef struct osc_st_xfer {
	struct osc_st_xfer *next;
	char               *session;
	char               *key;
	oscar_ref_t         peer;
	osc_store_recv_t   *recv;
	uint64_t            total;
	uint64_t            offset;
	uint64_t            call;    // the block read under way
	bool                dropped; // nobody waits: its callback frees it
	osc_st_waiter_t    *waiters;
} osc_st_xfer_t;

// osc_st_pull: one pull request.
struct osc_st_pull {
	oscar_req_t    *req; // NULL once answered (cancelled)
	char           *session;
	size_t          n;
	size_t          left; // keys not done
	char          **keys;
	uint64_t       *sizes;
	osc_st_xfer_t **xfers; // the transfer key i waits on, or NULL
	int             code;  // the first failure
	oscar_error_t   err;
	bool            in_meta; // the meta call is under way
};

typedef struct osc_st {
	osc_storage_svc_t *svc;
	osc_store_t       *store;
	osc_st_xfer_t     *xfers;
	osc_st_iter_t     *iters;
	size_t             n_iters;
	uint64_t           n_xfers;
	uint64_t           n_started; // transfers started, ever
} osc_st_t;

// ---------------------------------------------------------------------------
// Helpers

// osc_st_fail answers req with err's code and message.
static int osc_st_fail(oscar_req_t *req, const oscar_error_t *err)
{
	return (oscar_req_fail(req, err->code != 0 ? err->code : OSCAR_ESYSTEM, "%s",
	    err->message[0] != '\0' ? err->message : oscar_strerror(err->code)));
}

// osc_st_steal moves item (an inline slot of an array) into a value of its
// own, leaving nil behind; NULL when out of memory.
static oscar_value_t *osc_st_steal(oscar_value_t *item)
{
	oscar_value_t *v = malloc(sizeof(*v));
	if (v != NULL) {
		*v = *item;
		memset(item, 0, sizeof(*item));
		item->type = OSCAR_NIL;
	}
	return (v);
}

// osc_st_str reads a string field of args that must be there.
static int osc_st_str(
    oscar_req_t *req, const oscar_value_t *args, const char *field, const char **out)
{
	*out = oscar_value_map_str(args, field);
	if (*out == NULL || (*out)[0] == '\0') {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "%s: '%s' must be a non-empty str",
		    oscar_req_method(req), field));
	}
	return (0);
}

// osc_st_keys checks that v is a non-empty array of non-empty strs and
// gives them in a malloc'd array (borrowed from v).
static int osc_st_keys(oscar_req_t *req, const oscar_value_t *v, const char ***keysp, size_t *np)
{
	size_t n = v != NULL && v->type == OSCAR_ARRAY ? oscar_value_len(v) : 0;
	if (n == 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "%s: 'keys' must be a non-empty array",
		    oscar_req_method(req)));
	}
	const char **keys = calloc(n, sizeof(*keys));
	if (keys == NULL) {
		return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < n; i++) {
		keys[i] = oscar_value_at_str(v, i);
		if (keys[i] == NULL || keys[i][0] == '\0') {
			free(keys);
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "%s: key %zu must be a non-empty str", oscar_req_method(req), i));
		}
	}
	*keysp = keys;
	*np    = n;
	return (0);
}

// osc_st_size gives the size of a stored object (its encoding's length).
static int osc_st_size(
    osc_st_t *st, const char *session, const char *key, uint64_t *size, oscar_error_t *err)
{
	osc_store_obj_t     *obj;
	const oscar_value_t *val;
	int                  rv = osc_store_read(st->store, session, key, &obj, &val, err);
	if (rv == 0) {
		*size = osc_value_encoded_len(val);
		osc_store_release(st->store, obj);
	}
	return (rv);
}

oscar_value_t *osc_storage_slice_value(const oscar_storage_slice_t *sl)
{
	if (sl->index) {
		return (oscar_value_new_int(sl->start));
	}
	oscar_value_t *a = oscar_value_new_array(3);
	if (a == NULL) {
		return (NULL);
	}
	int rv = oscar_value_array_push(
	    a, sl->has_start ? oscar_value_new_int(sl->start) : oscar_value_new_nil());
	rv = rv != 0 ? rv
	             : oscar_value_array_push(
	                   a, sl->has_stop ? oscar_value_new_int(sl->stop) : oscar_value_new_nil());
	rv = rv != 0 ? rv : oscar_value_array_push(a, oscar_value_new_int(sl->step));
	if (rv != 0) {
		oscar_value_free(a);
		return (NULL);
	}
	return (a);
}

int osc_storage_slice_parse(const oscar_value_t *v, osc_slice_t *sl, oscar_error_t *err)
{
	int64_t i;
	memset(sl, 0, sizeof(*sl));
	sl->step = 1;
	if (oscar_value_get_int(v, &i) == 0) {
		sl->index     = true;
		sl->start     = i;
		sl->has_start = true;
		return (0);
	}
	size_t n = v != NULL && v->type == OSCAR_ARRAY ? oscar_value_len(v) : 0;
	if (n < 1 || n > 3) {
		return (oscar_error_set(err, OSCAR_EBADARGS,
		    "a slice is an int (an index) or [start|nil, stop|nil, step|nil]"));
	}
	for (size_t k = 0; k < n; k++) {
		const oscar_value_t *x = oscar_value_at(v, k);
		if (x->type == OSCAR_NIL) {
			continue;
		}
		if (oscar_value_get_int(x, &i) != 0) {
			return (oscar_error_set(err, OSCAR_EBADARGS,
			    "a slice's start, stop and step are ints or nil, not %s",
			    oscar_type_name(x->type)));
		}
		if (k == 0) {
			sl->start     = i;
			sl->has_start = true;
		} else if (k == 1) {
			sl->stop     = i;
			sl->has_stop = true;
		} else {
			sl->step = i;
		}
	}
	return (0);
}

// ---------------------------------------------------------------------------
// put, get, delete, info

static int osc_st_m_put(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t      *st   = oscar_actor_state(self);
	oscar_value_t *args = oscar_req_take_args(req);
	const char    *session;
	int            rv;
	if ((rv = osc_st_str(req, args, "session", &session)) != 0) {
		oscar_value_free(args);
		return (rv);
	}
	oscar_value_t *items = (oscar_value_t *) oscar_value_map_get(args, "items");
	size_t         n     = items != NULL && items->type == OSCAR_ARRAY ? items->as.arr.len : 0;
	if (n == 0) {
		oscar_value_free(args);
		return (oscar_req_fail(
		    req, OSCAR_EBADARGS, "put: 'items' must be a non-empty array of [key, value]"));
	}
	const char    **keys  = calloc(n, sizeof(*keys));
	oscar_value_t **vals  = calloc(n, sizeof(*vals));
	oscar_value_t  *sizes = oscar_value_new_array(n);
	rv                    = keys == NULL || vals == NULL || sizes == NULL ? OSCAR_ENOMEM : 0;
	for (size_t i = 0; rv == 0 && i < n; i++) {
		oscar_value_t *it = &items->as.arr.items[i];
		if (it->type != OSCAR_ARRAY || it->as.arr.len != 2 ||
		    (keys[i] = oscar_value_at_str(it, 0)) == NULL) {
			rv = oscar_req_fail(
			    req, OSCAR_EBADARGS, "put: item %zu is not [key, value]", i);
			break;
		}
		if ((vals[i] = osc_st_steal(&it->as.arr.items[1])) == NULL) {
			rv = OSCAR_ENOMEM;
			break;
		}
		size_t len = osc_value_encoded_len(vals[i]);
		rv         = oscar_value_array_push(sizes, oscar_value_new_uint(len));
	}
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	if (rv == 0 && (rv = osc_store_put_batch(st->store, session, n, keys, vals, &err)) != 0) {
		osc_st_fail(req, &err);
	}
	if (rv == 0) {
		memset(vals, 0, n * sizeof(*vals)); // consumed
		rv    = oscar_req_reply(req, sizes);
		sizes = NULL;
	}
	for (size_t i = 0; vals != NULL && i < n; i++) {
		oscar_value_free(vals[i]);
	}
	free(vals);
	free(keys);
	oscar_value_free(sizes);
	oscar_value_free(args);
	return (rv);
}

// osc_st_lz4 replaces the large bins of out that compress well by their
// lz4 frames, and gives {values, lz4: [index...]}.
static int osc_st_lz4(oscar_value_t *out, oscar_value_t **replyp)
{
	oscar_value_t *values = oscar_value_new_array(out->as.arr.len);
	oscar_value_t *which  = oscar_value_new_array(4);
	oscar_value_t *reply  = oscar_value_new_map(2);
	int            rv     = values == NULL || which == NULL || reply == NULL ? OSCAR_ENOMEM : 0;
	for (size_t i = 0; rv == 0 && i < out->as.arr.len; i++) {
		oscar_value_t *it = &out->as.arr.items[i];
		void          *z  = NULL;
		size_t         zn = 0;
		if (it->type == OSCAR_BIN && it->as.bin.len >= OSC_STORAGE_LZ4_MIN &&
		    osc_lz4_compress(it->as.bin.ptr, it->as.bin.len, &z, &zn) == 0 &&
		    osc_lz4_worth(it->as.bin.len, zn)) {
			rv = oscar_value_array_push(values, oscar_value_new_bin(z, zn));
			rv = rv != 0 ? rv : oscar_value_array_push(which, oscar_value_new_uint(i));
		} else {
			oscar_value_t *v = osc_st_steal(it);
			rv = v == NULL ? OSCAR_ENOMEM : oscar_value_array_push(values, v);
		}
		free(z);
	}
	rv = rv != 0 ? rv : oscar_value_map_set(reply, "values", values);
	if (rv == 0) {
		values = NULL;
		rv     = oscar_value_map_set(reply, "lz4", which);
		which  = NULL;
	}
	oscar_value_free(values);
	oscar_value_free(which);
	if (rv != 0) {
		oscar_value_free(reply);
		return (rv);
	}
	*replyp = reply;
	return (0);
}

// osc_st_accepts_lz4 tells whether an accept list (nil or an array of
// strs) names lz4.
static bool osc_st_accepts_lz4(const oscar_value_t *accept)
{
	for (size_t i = 0;
	     accept != NULL && accept->type == OSCAR_ARRAY && i < oscar_value_len(accept); i++) {
		const char *a = oscar_value_at_str(accept, i);
		if (a != NULL && strcmp(a, "lz4") == 0) {
			return (true);
		}
	}
	return (false);
}

static int osc_st_m_get(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *session;
	const char         **keys = NULL;
	size_t               n;
	int                  rv;
	if ((rv = osc_st_str(req, args, "session", &session)) != 0 ||
	    (rv = osc_st_keys(req, oscar_value_map_get(args, "keys"), &keys, &n)) != 0) {
		return (rv);
	}
	const oscar_value_t *slv    = oscar_value_map_get(args, "slices");
	const oscar_value_t *accept = oscar_value_map_get(args, "accept");
	bool                 lz4    = false;
	if (slv != NULL && slv->type != OSCAR_NIL &&
	    (slv->type != OSCAR_ARRAY || oscar_value_len(slv) != n)) {
		free(keys);
		return (oscar_req_fail(req, OSCAR_EBADARGS,
		    "get: 'slices' must be nil or an array of %zu slices or nils", n));
	}
	for (size_t i = 0;
	     accept != NULL && accept->type == OSCAR_ARRAY && i < oscar_value_len(accept); i++) {
		const char *a = oscar_value_at_str(accept, i);
		lz4           = lz4 || (a != NULL && strcmp(a, "lz4") == 0);
	}
	osc_slice_t        *sl  = calloc(n, sizeof(*sl));
	const osc_slice_t **slp = calloc(n, sizeof(*slp));
	oscar_error_t       err;
	memset(&err, 0, sizeof(err));
	if (sl == NULL || slp == NULL) {
		rv = oscar_req_fail(req, OSCAR_ENOMEM, "out of memory");
	}
	for (size_t i = 0; rv == 0 && slv != NULL && slv->type == OSCAR_ARRAY && i < n; i++) {
		const oscar_value_t *x = oscar_value_at(slv, i);
		if (x->type == OSCAR_NIL) {
			continue;
		}
		if (osc_storage_slice_parse(x, &sl[i], &err) != 0) {
			rv = oscar_req_fail(req, OSCAR_EINVAL, "get: slice %zu of key %s: %s", i,
			    keys[i], err.message);
			break;
		}
		slp[i] = &sl[i];
	}
	oscar_value_t *out = NULL;
	if (rv == 0 &&
	    (rv = osc_store_get_batch(st->store, session, n, keys, slp, &out, &err)) != 0) {
		osc_st_fail(req, &err);
	}
	if (rv == 0 && lz4) {
		oscar_value_t *reply = NULL;
		if ((rv = osc_st_lz4(out, &reply)) != 0) {
			oscar_req_fail(req, rv, "get: cannot compress the reply");
		} else {
			rv = oscar_req_reply(req, reply);
		}
	} else if (rv == 0) {
		rv  = oscar_req_reply(req, out);
		out = NULL;
	}
	oscar_value_free(out);
	free(sl);
	free(slp);
	free(keys);
	return (rv);
}

static int osc_st_m_delete(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *session;
	const char         **keys = NULL;
	size_t               n;
	int                  rv;
	if ((rv = osc_st_str(req, args, "session", &session)) != 0 ||
	    (rv = osc_st_keys(req, oscar_value_map_get(args, "keys"), &keys, &n)) != 0) {
		return (rv);
	}
	// A key twice in the batch counts once.
	uint64_t count = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++) {
			dup = strcmp(keys[i], keys[j]) == 0;
		}
		count += dup ? 0 : 1;
	}
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	if ((rv = osc_store_delete_batch(st->store, session, n, keys, &err)) != 0) {
		free(keys);
		return (osc_st_fail(req, &err));
	}
	free(keys);
	return (oscar_req_reply(req, oscar_value_new_uint(count)));
}

static void osc_st_stats(osc_st_t *st, oscar_storage_info_t *info)
{
	osc_store_stats_t s;
	osc_store_stats(st->store, &s);
	memset(info, 0, sizeof(*info));
	info->used              = s.used;
	info->limit             = s.limit;
	info->spilled           = s.spilled;
	info->objects           = s.objects;
	info->shared            = s.shared;
	info->sessions          = s.sessions;
	info->transfers         = st->n_xfers;
	info->transfers_started = st->n_started;
}

static int osc_st_m_info(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st = oscar_actor_state(self);
	oscar_storage_info_t info;
	osc_st_stats(st, &info);
	oscar_value_t *m  = oscar_value_new_map(8);
	int            rv = m == NULL ? OSCAR_ENOMEM : 0;
	rv = rv != 0 ? rv : oscar_value_map_set(m, "used", oscar_value_new_uint(info.used));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "limit", oscar_value_new_uint(info.limit));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "spilled", oscar_value_new_uint(info.spilled));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "objects", oscar_value_new_uint(info.objects));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "shared", oscar_value_new_uint(info.shared));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "sessions", oscar_value_new_uint(info.sessions));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(m, "transfers", oscar_value_new_uint(info.transfers));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   m, "transfers_started", oscar_value_new_uint(info.transfers_started));
	if (rv != 0) {
		oscar_value_free(m);
		return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
	}
	return (oscar_req_reply(req, m));
}

// ---------------------------------------------------------------------------
// read_blocks: the serving side of a transfer

static void osc_st_iter_free(osc_st_iter_t *r)
{
	osc_store_blocks_close(r->it);
	free(r->session);
	free(r->key);
	free(r);
}

// osc_st_iter_drop closes the iterators of session (every one when NULL).
static void osc_st_iter_drop(osc_st_t *st, const char *session)
{
	osc_st_iter_t **pp = &st->iters;
	while (*pp != NULL) {
		osc_st_iter_t *r = *pp;
		if (session == NULL || strcmp(r->session, session) == 0) {
			*pp = r->next;
			osc_st_iter_free(r);
			st->n_iters--;
		} else {
			pp = &r->next;
		}
	}
}

// osc_st_iter_find takes the iterator of (session, key) whose next block
// is at offset, of blocks of size, off the list; NULL when there is none.
static osc_st_iter_t *osc_st_iter_find(
    osc_st_t *st, const char *session, const char *key, uint64_t offset, size_t size)
{
	for (osc_st_iter_t **pp = &st->iters; *pp != NULL; pp = &(*pp)->next) {
		osc_st_iter_t *r = *pp;
		if (r->offset == offset && r->size == size && strcmp(r->session, session) == 0 &&
		    strcmp(r->key, key) == 0) {
			*pp = r->next;
			st->n_iters--;
			return (r);
		}
	}
	return (NULL);
}

// osc_st_iter_open opens an iterator and skips to offset (a multiple of
// size): a peer whose iterator was evicted goes on where it was.
static int osc_st_iter_open(osc_st_t *st, const char *session, const char *key, uint64_t offset,
    size_t size, osc_st_iter_t **rp, oscar_error_t *err)
{
	osc_st_iter_t *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->session = strdup(session)) == NULL || (r->key = strdup(key)) == NULL) {
		if (r != NULL) {
			free(r->session);
		}
		free(r);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	r->size = size;
	int rv  = osc_store_blocks_open(st->store, session, key, size, &r->it, &r->total, err);
	if (rv == 0 && offset > r->total) {
		rv = oscar_error_set(err, OSCAR_EINVAL,
		    "read_blocks: offset %" PRIu64 " past the %" PRIu64 " bytes of object %s",
		    offset, r->total, key);
	}
	while (rv == 0 && r->offset < offset) {
		const void *p;
		size_t      n;
		if ((rv = osc_store_blocks_next(r->it, &p, &n)) != 0) {
			oscar_error_set(err, rv, "read_blocks: reading object %s", key);
		} else if (n == 0) {
			break;
		}
		r->offset += n;
	}
	if (rv != 0) {
		osc_st_iter_free(r);
		return (rv);
	}
	*rp = r;
	return (0);
}

static int osc_st_m_read_blocks(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *session, *key;
	uint64_t             offset, size;
	int                  rv;
	if ((rv = osc_st_str(req, args, "session", &session)) != 0 ||
	    (rv = osc_st_str(req, args, "key", &key)) != 0) {
		return (rv);
	}
	if (oscar_value_get_uint(oscar_value_map_get(args, "offset"), &offset) != 0 ||
	    oscar_value_get_uint(oscar_value_map_get(args, "size"), &size) != 0 || size == 0 ||
	    size > OSC_ST_BLOCK_MAX || offset % size != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS,
		    "read_blocks: 'size' must be 1 to %u and 'offset' a multiple of it",
		    OSC_ST_BLOCK_MAX));
	}
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	osc_st_iter_t *r = osc_st_iter_find(st, session, key, offset, (size_t) size);
	if (r == NULL &&
	    (rv = osc_st_iter_open(st, session, key, offset, (size_t) size, &r, &err)) != 0) {
		return (osc_st_fail(req, &err));
	}
	const void *p = NULL;
	size_t      n = 0;
	if (r->offset < r->total && (rv = osc_store_blocks_next(r->it, &p, &n)) != 0) {
		osc_st_iter_free(r);
		return (oscar_req_fail(req, rv, "read_blocks: reading object %s", key));
	}
	// A block that shrinks by an eighth travels lz4-compressed when the
	// reader accepts it.
	void  *z   = NULL;
	size_t zn  = 0;
	bool   lz4 = n >= 4096 && osc_st_accepts_lz4(oscar_value_map_get(args, "accept")) &&
	           osc_lz4_compress(p, n, &z, &zn) == 0 && osc_lz4_worth(n, zn);
	oscar_value_t *m = oscar_value_new_map(3);
	rv               = m == NULL ? OSCAR_ENOMEM : 0;
	rv = rv != 0 ? rv : oscar_value_map_set(m, "total", oscar_value_new_uint(r->total));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   m, "data", lz4 ? oscar_value_new_bin(z, zn) : oscar_value_new_bin(p, n));
	rv = rv != 0 || !lz4 ? rv : oscar_value_map_set(m, "lz4", oscar_value_new_bool(true));
	free(z);
	r->offset += n;
	if (rv != 0 || r->offset >= r->total) {
		osc_st_iter_free(r);
	} else {
		// Keep it for the next block, dropping the oldest past the bound.
		r->next   = st->iters;
		st->iters = r;
		if (++st->n_iters > OSC_ST_ITERS_MAX) {
			osc_st_iter_t **pp = &st->iters;
			while ((*pp)->next != NULL) {
				pp = &(*pp)->next;
			}
			osc_st_iter_free(*pp);
			*pp = NULL;
			st->n_iters--;
		}
	}
	if (rv != 0) {
		oscar_value_free(m);
		return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
	}
	return (oscar_req_reply(req, m));
}

// ---------------------------------------------------------------------------
// pull: the receiving side

static void osc_st_pull_free(osc_st_pull_t *pl)
{
	for (size_t i = 0; pl->keys != NULL && i < pl->n; i++) {
		free(pl->keys[i]);
	}
	free(pl->keys);
	free(pl->sizes);
	free(pl->xfers);
	free(pl->session);
	free(pl);
}

static void osc_st_xfer_free(osc_st_xfer_t *x)
{
	while (x->waiters != NULL) {
		osc_st_waiter_t *w = x->waiters;
		x->waiters         = w->next;
		free(w);
	}
	osc_store_recv_abort(x->recv);
	free(x->session);
	free(x->key);
	free(x);
}

// osc_st_xfer_unlink takes x off the list of transfers under way.
static void osc_st_xfer_unlink(osc_st_t *st, osc_st_xfer_t *x)
{
	for (osc_st_xfer_t **pp = &st->xfers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			st->n_xfers--;
			return;
		}
	}
}

static void osc_st_pull_done(oscar_actor_t *self, osc_st_pull_t *pl);

// osc_st_pull_key records the outcome of key i of pl (code 0: size).
static void osc_st_pull_key(oscar_actor_t *self, osc_st_pull_t *pl, size_t i, int code,
    uint64_t size, const oscar_error_t *err)
{
	pl->xfers[i] = NULL;
	pl->sizes[i] = size;
	if (code != 0 && pl->code == 0) {
		pl->code = code;
		if (err != NULL) {
			pl->err = *err;
		}
		oscar_error_set(&pl->err, code, "pulling object %s of session %s: %s", pl->keys[i],
		    pl->session,
		    err != NULL && err->message[0] != '\0' ? err->message : oscar_strerror(code));
	}
	if (--pl->left == 0) {
		osc_st_pull_done(self, pl);
	}
}

// osc_st_xfer_end ends transfer x (taken off the list) for every pull
// waiting on it, and frees it.
static void osc_st_xfer_end(
    oscar_actor_t *self, osc_st_xfer_t *x, int code, const oscar_error_t *err)
{
	osc_st_t *st = oscar_actor_state(self);
	osc_st_xfer_unlink(st, x);
	osc_st_waiter_t *w = x->waiters;
	x->waiters         = NULL;
	uint64_t total     = x->total;
	osc_st_xfer_free(x);
	while (w != NULL) {
		osc_st_waiter_t *next = w->next;
		osc_st_pull_key(self, w->pull, w->i, code, total, err);
		free(w);
		w = next;
	}
}

static void osc_st_xfer_read(oscar_actor_t *self, osc_st_xfer_t *x);

// osc_st_xfer_block takes a block from the peer.
static void osc_st_xfer_block(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_st_t      *st = oscar_actor_state(self);
	osc_st_xfer_t *x  = arg;
	oscar_error_t  err;
	memset(&err, 0, sizeof(err));
	x->call = 0;
	if (x->dropped) {
		osc_st_xfer_free(x);
		return;
	}
	if (res->code != 0) {
		osc_st_xfer_end(self, x, res->code, res->error);
		return;
	}
	uint64_t    total = oscar_value_map_uint(res->value, "total", 0);
	const void *p     = NULL;
	size_t      n     = 0;
	int         rv    = 0;
	if (oscar_value_get_bin(oscar_value_map_get(res->value, "data"), &p, &n) != 0 ||
	    total == 0 || n == 0 || (x->recv != NULL && total != x->total) ||
	    n > total - x->offset) {
		rv = oscar_error_set(&err, OSCAR_EPROTO,
		    "%s sent a block that does not follow (offset %" PRIu64
		    ", %zu bytes of %" PRIu64 ")",
		    x->peer.addr, x->offset, n, total);
	}
	void  *raw = NULL;
	size_t rn  = 0;
	if (rv == 0 && oscar_value_map_bool(res->value, "lz4", false)) {
		// Never more than the block asked for, whatever the frame says.
		if ((rv = osc_lz4_decompress(p, n, (size_t) st->svc->block_size, &raw, &rn)) != 0 ||
		    rn == 0 || rn > total - x->offset) {
			rv = oscar_error_set(&err, OSCAR_EPROTO,
			    "%s sent an lz4 block that does not decompress to what follows",
			    x->peer.addr);
		}
		p = raw;
		n = rn;
	}
	if (rv == 0 && x->recv == NULL) {
		x->total = total;
		rv = osc_store_recv_open(st->store, x->session, x->key, total, &x->recv, &err);
	}
	rv = rv != 0 ? rv : osc_store_recv_push(x->recv, p, n, &err);
	free(raw);
	if (rv == 0) {
		x->offset += n;
		if (x->offset < x->total) {
			osc_st_xfer_read(self, x);
			return;
		}
		osc_store_recv_t *r = x->recv;
		x->recv             = NULL;
		rv                  = osc_store_recv_commit(r, &err);
	}
	osc_st_xfer_end(self, x, rv, rv != 0 ? &err : NULL);
}

// osc_st_xfer_read asks the peer for the next block.
static void osc_st_xfer_read(oscar_actor_t *self, osc_st_xfer_t *x)
{
	osc_st_t      *st = oscar_actor_state(self);
	oscar_value_t *a  = oscar_value_new_map(4);
	int            rv = a == NULL ? OSCAR_ENOMEM : 0;
	rv = rv != 0 ? rv : oscar_value_map_set(a, "session", oscar_value_new_str(x->session));
	rv = rv != 0 ? rv : oscar_value_map_set(a, "key", oscar_value_new_str(x->key));
	rv = rv != 0 ? rv : oscar_value_map_set(a, "offset", oscar_value_new_uint(x->offset));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(a, "size", oscar_value_new_uint(st->svc->block_size));
	if (rv == 0 && st->svc->transfer_lz4) {
		oscar_value_t *acc = oscar_value_new_array(1);
		if (acc == NULL || oscar_value_array_push(acc, oscar_value_new_str("lz4")) != 0) {
			oscar_value_free(acc);
			rv = OSCAR_ENOMEM;
		} else {
			rv = oscar_value_map_set(a, "accept", acc); // consumes acc
		}
	}
	if (rv != 0) {
		oscar_value_free(a);
	} else {
		rv = oscar_actor_call(self, &x->peer, osc_st_name(OSC_ST_READ_BLOCKS), a,
		    OSC_ST_BLOCK_TIMEOUT_MS, osc_st_xfer_block, x, &x->call);
	}
	if (rv != 0) {
		oscar_error_t err;
		oscar_error_set(
		    &err, rv, "cannot ask %s for a block: %s", x->peer.addr, oscar_strerror(rv));
		osc_st_xfer_end(self, x, rv, &err);
	}
}

// osc_st_meta_told: meta answered (or could not be reached: the objects
// are here all the same, so the pull succeeds).
static void osc_st_meta_told(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_st_pull_t *pl = arg;
	(void) self;
	if (res->code != 0) {
		oscar_log(OSCAR_LOG_WARN, "storage",
		    "cannot tell meta of session %s where %zu pulled "
		    "objects are: %s",
		    pl->session, pl->n,
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
	}
	if (pl->req != NULL) {
		oscar_value_t *sizes = oscar_value_new_array(pl->n);
		for (size_t i = 0; sizes != NULL && i < pl->n; i++) {
			oscar_value_array_push(sizes, oscar_value_new_uint(pl->sizes[i]));
		}
		if (sizes == NULL) {
			oscar_req_fail(pl->req, OSCAR_ENOMEM, "out of memory");
		} else {
			oscar_req_reply(pl->req, sizes);
		}
	}
	osc_st_pull_free(pl);
}

// osc_st_pull_done: every key of pl is done. On success, tell the
// session's meta where the objects are ("oscar.meta:<session>" on the
// supervisor, add_location), then answer.
static void osc_st_pull_done(oscar_actor_t *self, osc_st_pull_t *pl)
{
	osc_st_t *st = oscar_actor_state(self);
	if (pl->code != 0) {
		if (pl->req != NULL) {
			osc_st_fail(pl->req, &pl->err);
		}
		osc_st_pull_free(pl);
		return;
	}
	oscar_node_t  *node = st->svc->node;
	oscar_ref_t    meta;
	char           uid[OSCAR_UID_MAX + 16];
	oscar_value_t *locs = oscar_value_new_array(pl->n);
	for (size_t i = 0; locs != NULL && i < pl->n; i++) {
		oscar_value_t *e = oscar_value_new_array(3);
		oscar_value_array_push(e, oscar_value_new_str(pl->keys[i]));
		oscar_value_array_push(e, oscar_value_new_str(oscar_node_address(node)));
		oscar_value_array_push(e, oscar_value_new_uint(pl->sizes[i]));
		oscar_value_array_push(locs, e);
	}
	snprintf(uid, sizeof(uid), "oscar.meta:%s", pl->session);
	int rv =
	    locs == NULL ? OSCAR_ENOMEM : oscar_ref_make(&meta, oscar_node_supervisor(node), uid);
	if (rv == 0) {
		pl->in_meta = true;
		rv   = oscar_actor_call(self, &meta, "add_location", locs, OSC_ST_META_TIMEOUT_MS,
		      osc_st_meta_told, pl, NULL);
		locs = NULL;
	}
	oscar_value_free(locs);
	if (rv != 0) {
		oscar_error_t  err;
		oscar_result_t res = { .code = rv, .error = &err };
		oscar_error_set(&err, rv, "%s", oscar_strerror(rv));
		osc_st_meta_told(self, &res, pl);
	}
}

// osc_st_pull_cancel: the caller cancelled the pull. It stops waiting; a
// transfer no other pull waits for is dropped.
static void osc_st_pull_cancel(oscar_actor_t *self, oscar_req_t *req, void *arg)
{
	osc_st_t      *st = oscar_actor_state(self);
	osc_st_pull_t *pl = arg;
	oscar_req_fail(req, OSCAR_ECANCELED, "pull of %zu objects of session %s cancelled", pl->n,
	    pl->session);
	pl->req = NULL;
	if (pl->in_meta) {
		return; // the meta callback frees it
	}
	for (size_t i = 0; i < pl->n; i++) {
		osc_st_xfer_t *x = pl->xfers[i];
		if (x == NULL) {
			continue;
		}
		for (osc_st_waiter_t **pp = &x->waiters; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->pull == pl && (*pp)->i == i) {
				osc_st_waiter_t *w = *pp;
				*pp                = w->next;
				free(w);
				break;
			}
		}
		if (x->waiters == NULL) {
			osc_st_xfer_unlink(st, x);
			osc_store_recv_abort(x->recv);
			x->recv = NULL;
			if (x->call != 0) {
				x->dropped = true; // its callback frees it
				oscar_actor_cancel(self, x->call);
			} else {
				osc_st_xfer_free(x);
			}
		}
	}
	osc_st_pull_free(pl);
}

// osc_st_pull_wait makes pull pl wait for key i: joins the transfer of
// that key under way, or starts one.
static int osc_st_pull_wait(oscar_actor_t *self, osc_st_pull_t *pl, size_t i, const char *from)
{
	osc_st_t        *st = oscar_actor_state(self);
	osc_st_waiter_t *w  = calloc(1, sizeof(*w));
	if (w == NULL) {
		return (OSCAR_ENOMEM);
	}
	w->pull = pl;
	w->i    = i;
	for (osc_st_xfer_t *x = st->xfers; x != NULL; x = x->next) {
		if (strcmp(x->session, pl->session) == 0 && strcmp(x->key, pl->keys[i]) == 0) {
			w->next      = x->waiters;
			x->waiters   = w;
			pl->xfers[i] = x;
			return (0);
		}
	}
	osc_st_xfer_t *x = calloc(1, sizeof(*x));
	if (x == NULL || (x->session = strdup(pl->session)) == NULL ||
	    (x->key = strdup(pl->keys[i])) == NULL ||
	    oscar_ref_make(&x->peer, from, OSCAR_STORAGE_UID) != 0) {
		if (x != NULL) {
			free(x->session);
			free(x->key);
		}
		free(x);
		free(w);
		return (OSCAR_ENOMEM);
	}
	x->waiters   = w;
	pl->xfers[i] = x;
	x->next      = st->xfers;
	st->xfers    = x;
	st->n_xfers++;
	st->n_started++;
	osc_st_xfer_read(self, x); // on failure it ends x, and with it key i
	return (0);
}

static int osc_st_m_pull(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *session, *from;
	const char         **keys = NULL;
	size_t               n;
	int                  rv;
	if ((rv = osc_st_str(req, args, "session", &session)) != 0 ||
	    (rv = osc_st_str(req, args, "from", &from)) != 0 ||
	    (rv = osc_st_keys(req, oscar_value_map_get(args, "keys"), &keys, &n)) != 0) {
		return (rv);
	}
	if (strlen(from) >= OSCAR_ADDR_MAX) {
		free(keys);
		return (oscar_req_fail(req, OSCAR_EBADARGS, "pull: 'from' is not an address"));
	}
	if (!osc_store_session_has(st->store, session)) {
		free(keys);
		return (oscar_req_fail(req, OSCAR_ENOENT, "no such session %s", session));
	}
	osc_st_pull_t *pl = calloc(1, sizeof(*pl));
	if (pl == NULL || (pl->session = strdup(session)) == NULL ||
	    (pl->keys = calloc(n, sizeof(*pl->keys))) == NULL ||
	    (pl->sizes = calloc(n, sizeof(*pl->sizes))) == NULL ||
	    (pl->xfers = calloc(n, sizeof(*pl->xfers))) == NULL) {
		if (pl != NULL) {
			osc_st_pull_free(pl);
		}
		free(keys);
		return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
	}
	pl->n = n;
	for (size_t i = 0; i < n; i++) {
		if ((pl->keys[i] = strdup(keys[i])) == NULL) {
			osc_st_pull_free(pl);
			free(keys);
			return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
		}
	}
	free(keys);
	pl->req  = req;
	pl->left = n + 1; // one for this handler, so that nothing ends under it
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	oscar_req_on_cancel(req, osc_st_pull_cancel, pl);
	for (size_t i = 0; i < n; i++) {
		uint64_t      size = 0;
		oscar_error_t err;
		memset(&err, 0, sizeof(err));
		if (pl->code != 0) {
			pl->left--; // a key before failed: this one is not started
		} else if (osc_store_has(st->store, session, pl->keys[i])) {
			// Here already (pulled before, or put here).
			rv = osc_st_size(st, session, pl->keys[i], &size, &err);
			osc_st_pull_key(self, pl, i, rv, size, &err);
		} else if (strcmp(from, oscar_node_address(st->svc->node)) == 0) {
			oscar_error_set(&err, OSCAR_ENOENT, "no such object %s in session %s",
			    pl->keys[i], session);
			osc_st_pull_key(self, pl, i, OSCAR_ENOENT, 0, &err);
		} else if ((rv = osc_st_pull_wait(self, pl, i, from)) != 0) {
			oscar_error_set(&err, rv, "%s", oscar_strerror(rv));
			osc_st_pull_key(self, pl, i, rv, 0, &err);
		}
	}
	if (--pl->left == 0) { // the handler's own count
		osc_st_pull_done(self, pl);
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Sessions and shared memory

// osc_st_xfer_drop_session fails the transfers of session.
static void osc_st_xfer_drop_session(oscar_actor_t *self, const char *session)
{
	osc_st_t      *st = oscar_actor_state(self);
	osc_st_xfer_t *x  = st->xfers;
	while (x != NULL) {
		osc_st_xfer_t *next = x->next;
		if (strcmp(x->session, session) == 0) {
			osc_store_recv_abort(x->recv);
			x->recv = NULL;
			if (x->call != 0) {
				// Cancelled: its callback sees the cancellation and
				// ends it for its pulls.
				oscar_actor_cancel(self, x->call);
			}
		}
		x = next;
	}
}

static int osc_st_m_session_create(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t     *st = oscar_actor_state(self);
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	if (osc_store_session_create(st->store, oscar_req_args(req)->as.str.ptr, true, &err) != 0) {
		return (osc_st_fail(req, &err));
	}
	return (0);
}

static int osc_st_m_session_destroy(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t     *st      = oscar_actor_state(self);
	const char   *session = oscar_req_args(req)->as.str.ptr;
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	osc_st_xfer_drop_session(self, session);
	osc_st_iter_drop(st, session);
	if (osc_store_session_delete(st->store, session, true, &err) != 0) {
		return (osc_st_fail(req, &err));
	}
	return (0);
}

// osc_st_token_ok checks the token of a shm_* call.
static bool osc_st_token_ok(osc_st_t *st, const oscar_value_t *args)
{
	uint64_t token;
	return (oscar_value_get_uint(oscar_value_map_get(args, "token"), &token) == 0 &&
	        token == st->svc->token);
}

// shm_export: export the object to a segment and send a duplicate of its
// descriptor over the link's socket sock, after a status message saying
// it comes.
static int osc_st_m_shm_export(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *session, *key;
	int64_t              sock;
	int                  rv;
	if (!osc_st_token_ok(st, args)) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "shm_export is the node's own"));
	}
	if ((rv = osc_st_str(req, args, "session", &session)) != 0 ||
	    (rv = osc_st_str(req, args, "key", &key)) != 0) {
		return (rv);
	}
	sock = oscar_value_map_int(args, "sock", -1);
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	int    fd;
	size_t size;
	if ((rv = osc_store_export(st->store, session, key, &fd, &size, &err)) != 0) {
		return (osc_st_fail(req, &err));
	}
	int32_t ok = 0;
	if ((rv = osc_shm_send_fd((int) sock, fd, &ok, sizeof(ok))) != 0) {
		return (oscar_req_fail(req, rv, "cannot send the segment of object %s", key));
	}
	return (oscar_req_reply(req, oscar_value_new_uint(size)));
}

// shm_import: adopt the segment fd (the link thread's) as key.
static int osc_st_m_shm_import(oscar_actor_t *self, oscar_req_t *req)
{
	osc_st_t            *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *session, *key;
	int                  rv;
	if (!osc_st_token_ok(st, args)) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "shm_import is the node's own"));
	}
	if ((rv = osc_st_str(req, args, "session", &session)) != 0 ||
	    (rv = osc_st_str(req, args, "key", &key)) != 0) {
		return (rv);
	}
	int64_t       fd = oscar_value_map_int(args, "fd", -1);
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	uint64_t size = 0;
	if ((rv = osc_store_import(st->store, session, key, (int) fd, &err)) != 0 ||
	    (rv = osc_st_size(st, session, key, &size, &err)) != 0) {
		return (osc_st_fail(req, &err));
	}
	return (oscar_req_reply(req, oscar_value_new_uint(size)));
}

// ---------------------------------------------------------------------------
// The class

// osc_st_create opens the store. Its argument is the service's state, as
// a uint: only the service's start creates the actor (the class is not
// offered by name).
static int osc_st_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_st_t *st = oscar_actor_state(self);
	uint64_t  p;
	if (oscar_value_get_uint(args, &p) != 0 || p == 0) {
		return (OSCAR_EINVAL);
	}
	st->svc                = (osc_storage_svc_t *) (uintptr_t) p;
	osc_store_config_t cfg = {
		.memory_limit = st->svc->memory_limit,
		.spill_dir    = st->svc->spill_dir,
	};
	oscar_error_t err;
	int           rv = osc_store_open(&cfg, &st->store, &err);
	if (rv != 0) {
		oscar_log(OSCAR_LOG_ERROR, "storage", "cannot open the store: %s", err.message);
		return (rv);
	}
	st->svc->store = st->store;
	return (0);
}

static void osc_st_destroy(oscar_actor_t *self)
{
	osc_st_t *st = oscar_actor_state(self);
	// The calls under way were cancelled before this hook, and their
	// callbacks ended their transfers; what is left had no call.
	while (st->xfers != NULL) {
		osc_st_xfer_t *x = st->xfers;
		osc_st_xfer_end(self, x, OSCAR_ECLOSED, NULL);
	}
	osc_st_iter_drop(st, NULL);
	st->svc->store = NULL;
	osc_store_close(st->store);
	st->store = NULL;
}

OSC_METHOD_TABLES(OSC_STORAGE_METHODS, osc_storage_methods, OSC_ST_N, osc_st_methods);

// Protected: no other pool may destroy or replace a service actor.
const oscar_actor_class_t osc_storage_class = {
	.name       = "oscar.storage",
	.state_size = sizeof(osc_st_t),
	.create     = osc_st_create,
	.destroy    = osc_st_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_st_methods,
};

// ---------------------------------------------------------------------------
// The service's table

// The storage service's settings: section [storage].
static const oscar_setting_spec_t osc_storage_specs[] = {
	{ "memory_limit", OSCAR_SETTING_BYTES, NULL, 0, INT64_MAX,
	    "bytes of objects kept in memory before spilling (default: half of node.memory; 0: "
	    "no limit)" },
	{ "spill_dir", OSCAR_SETTING_STR, NULL, 0, 0,
	    "where objects spill past the memory limit (default: $TMPDIR or /tmp; empty: never "
	    "spill)" },
	{ "transfer_block_size", OSCAR_SETTING_BYTES, "4M", 4096, OSC_ST_BLOCK_MAX,
	    "bytes asked at a time when pulling an object from another worker" },
	{ "transfer_lz4", OSCAR_SETTING_BOOL, "false", 0, 0,
	    "ask for the blocks of a pull lz4-compressed (worth it across a network, not on "
	    "loopback)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

// osc_storage_read_settings fills svc from s (memory: the node's, for the
// default limit).
static int osc_storage_read_settings(
    const oscar_settings_t *s, uint64_t memory, osc_storage_svc_t *svc, oscar_error_t *err)
{
	int64_t v;
	int     rv;
	svc->memory_limit = memory / 2;
	if (oscar_settings_get(s, OSC_STORAGE_SECTION, "memory_limit") != NULL) {
		if ((rv = oscar_service_setting_int(
		         s, &osc_storage_service, "memory_limit", &v, err)) != 0) {
			return (rv);
		}
		svc->memory_limit = (uint64_t) v;
	}
	if ((rv = oscar_service_setting_int(
	         s, &osc_storage_service, "transfer_block_size", &v, err)) != 0) {
		return (rv);
	}
	svc->block_size = (uint64_t) v;
	if ((rv = oscar_service_setting_bool(
	         s, &osc_storage_service, "transfer_lz4", &svc->transfer_lz4, err)) != 0) {
		return (rv);
	}
	const char *dir = oscar_service_setting_str(s, &osc_storage_service, "spill_dir");
	if (dir == NULL) {
		dir = getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR")
		                                                             : "/tmp";
	}
	if (dir[0] != '\0' && dir[0] != '/') {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "storage.spill_dir must be an absolute path or empty, not '%s'", dir));
	}
	if (strlen(dir) > 3000) {
		return (oscar_error_set(err, OSCAR_EINVAL, "storage.spill_dir is too long"));
	}
	return (0);
}

static int osc_storage_check(const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err)
{
	osc_storage_svc_t svc;
	(void) role;
	memset(&svc, 0, sizeof(svc));
	return (osc_storage_read_settings(s, 0, &svc, err));
}

static void osc_storage_svc_free(osc_storage_svc_t *svc)
{
	if (svc != NULL) {
		free(svc->spill_dir);
		free(svc);
	}
}

static int osc_storage_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	osc_storage_svc_t *svc = calloc(1, sizeof(*svc));
	oscar_ref_t        ref;
	int                rv;
	if (svc == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	svc->node = node;
	rv        = osc_storage_read_settings(
	           oscar_node_settings(node), osc_node_facts(node)->memory, svc, err);
	const char *dir =
	    oscar_service_setting_str(oscar_node_settings(node), &osc_storage_service, "spill_dir");
	if (dir == NULL) {
		dir = getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR")
		                                                             : "/tmp";
	}
	if (rv == 0 && dir[0] != '\0' && (svc->spill_dir = strdup(dir)) == NULL) {
		rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
	}
	if (rv == 0 && getentropy(&svc->token, sizeof(svc->token)) != 0) {
		rv = oscar_error_set(err, OSCAR_ESYSTEM, "getentropy: %s", strerror(errno));
	}
	if (rv == 0) {
		rv = oscar_create(oscar_node_pool(node), &osc_storage_class, OSCAR_STORAGE_UID,
		    oscar_value_new_uint((uint64_t) (uintptr_t) svc), 10000, &ref, err);
	}
	if (rv == 0 && (rv = osc_storage_link_start(svc, err)) != 0) {
		oscar_destroy(oscar_node_pool(node), &ref, 10000, NULL);
	}
	if (rv != 0) {
		osc_storage_svc_free(svc);
		return (rv);
	}
	oscar_log(OSCAR_LOG_DEBUG, "storage", "memory limit %" PRIu64 " bytes, spilling to %s",
	    svc->memory_limit, svc->spill_dir != NULL ? svc->spill_dir : "nowhere");
	*state = svc;
	return (0);
}

static void osc_storage_stop(oscar_node_t *node, void *state)
{
	osc_storage_svc_t *svc = state;
	oscar_ref_t        ref;
	oscar_error_t      err;
	osc_storage_link_stop(svc->link);
	svc->link = NULL;
	oscar_ref_make(&ref, oscar_node_address(node), OSCAR_STORAGE_UID);
	if (oscar_destroy(oscar_node_pool(node), &ref, 30000, &err) != 0) {
		oscar_log(
		    OSCAR_LOG_WARN, "storage", "cannot stop the storage actor: %s", err.message);
		return; // it may still use svc: leave it
	}
	osc_storage_svc_free(svc);
}

// osc_storage_session_call calls the node's own storage actor.
static int osc_storage_session_call(
    oscar_node_t *node, int id, const char *session_id, oscar_error_t *err)
{
	oscar_ref_t ref;
	oscar_ref_make(&ref, oscar_node_address(node), OSCAR_STORAGE_UID);
	return (osc_method_call(oscar_node_pool(node), &ref, &osc_storage_methods[id],
	    oscar_value_new_str(session_id), 30000, NULL, err));
}

static int osc_storage_session_create(
    oscar_node_t *node, void *state, const char *session_id, oscar_error_t *err)
{
	(void) state;
	return (osc_storage_session_call(node, OSC_ST_SESSION_CREATE, session_id, err));
}

static void osc_storage_session_destroy(oscar_node_t *node, void *state, const char *session_id)
{
	oscar_error_t err;
	(void) state;
	if (osc_storage_session_call(node, OSC_ST_SESSION_DESTROY, session_id, &err) != 0) {
		oscar_log(OSCAR_LOG_WARN, "storage", "cannot drop session %s: %s", session_id,
		    err.message);
	}
}

// osc_storage_info adds the storage figures to the node's info map; on the
// main pool's thread, where the actor owns the store.
static int osc_storage_info(oscar_node_t *node, void *state, oscar_value_t *map)
{
	osc_storage_svc_t *svc = state;
	osc_store_stats_t  s;
	(void) node;
	if (svc->store == NULL) {
		return (0);
	}
	osc_store_stats(svc->store, &s);
	int rv = oscar_value_map_set(map, "storage_used", oscar_value_new_uint(s.used));
	rv =
	    rv != 0 ? rv : oscar_value_map_set(map, "storage_limit", oscar_value_new_uint(s.limit));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(map, "storage_spilled", oscar_value_new_uint(s.spilled));
	return (rv);
}

static const char *const osc_storage_needs[] = { "cluster", NULL };

const oscar_service_t osc_storage_service = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = OSC_STORAGE_SECTION,
	.roles           = OSCAR_ROLE_WORKER,
	.needs           = osc_storage_needs,
	.settings        = osc_storage_specs,
	.check           = osc_storage_check,
	.start           = osc_storage_start,
	.stop            = osc_storage_stop,
	.session_create  = osc_storage_session_create,
	.session_destroy = osc_storage_session_destroy,
	.info            = osc_storage_info,
};
