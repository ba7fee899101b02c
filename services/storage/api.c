// The typed API over the storage service (include/oscar/storage.h): each
// function is one call to a worker's storage actor, with its arguments
// built and its reply read here, so callers never see messages.
#include <stdlib.h>
#include <string.h>

#include "oscar/oscar.h"
#include "services/storage/compress.h"
#include "services/storage/storage_int.h"

// osc_sta_call calls method id on the storage actor at address through
// the method table (which checks the reply's shape).
static int osc_sta_call(oscar_pool_t *pool, const char *address, int id, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	oscar_ref_t ref;
	if (pool == NULL || address == NULL ||
	    oscar_ref_make(&ref, address, OSCAR_STORAGE_UID) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no pool, or a bad address"));
	}
	return (
	    osc_method_call(pool, &ref, &osc_storage_methods[id], args, timeout_ms, reply, err));
}

// osc_sta_keys makes an array of n strs; NULL when out of memory or when
// a key is NULL.
static oscar_value_t *osc_sta_keys(size_t n, const char *const *keys)
{
	oscar_value_t *a = keys != NULL ? oscar_value_new_array(n) : NULL;
	for (size_t i = 0; a != NULL && i < n; i++) {
		if (keys[i] == NULL ||
		    oscar_value_array_push(a, oscar_value_new_str(keys[i])) != 0) {
			oscar_value_free(a);
			return (NULL);
		}
	}
	return (a);
}

// osc_sta_args makes {session, keys} plus room for more.
static int osc_sta_args(const char *session, size_t n, const char *const *keys,
    oscar_value_t **argsp, oscar_error_t *err)
{
	if (session == NULL || n == 0 || keys == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no session, or no keys"));
	}
	oscar_value_t *a  = oscar_value_new_map(4);
	oscar_value_t *ks = osc_sta_keys(n, keys);
	int            rv = a == NULL || ks == NULL ? OSCAR_EINVAL : 0;
	rv = rv != 0 ? rv : oscar_value_map_set(a, "session", oscar_value_new_str(session));
	if (rv == 0) {
		rv = oscar_value_map_set(a, "keys", ks);
		ks = NULL;
	}
	oscar_value_free(ks);
	if (rv != 0) {
		oscar_value_free(a);
		return (oscar_error_set(err, rv, "a NULL key, or out of memory"));
	}
	*argsp = a;
	return (0);
}

// osc_sta_uints copies an array of uints of length n into out (may be
// NULL); OSCAR_EPROTO when it is not one.
static int osc_sta_uints(const oscar_value_t *reply, size_t n, uint64_t *out, oscar_error_t *err)
{
	if (oscar_value_len(reply) != n) {
		return (oscar_error_set(err, OSCAR_EPROTO,
		    "storage answered %zu sizes for %zu keys", oscar_value_len(reply), n));
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		if (oscar_value_get_uint(oscar_value_at(reply, i), &u) != 0) {
			return (oscar_error_set(
			    err, OSCAR_EPROTO, "storage answered a size that is no uint"));
		}
		if (out != NULL) {
			out[i] = u;
		}
	}
	return (0);
}

int oscar_storage_put(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, oscar_value_t **vals, uint64_t *sizes, int64_t timeout_ms,
    oscar_error_t *err)
{
	oscar_value_t *args  = oscar_value_new_map(2);
	oscar_value_t *items = oscar_value_new_array(n);
	int            rv    = session == NULL || keys == NULL || vals == NULL || n == 0
	                           ? oscar_error_set(err, OSCAR_EINVAL, "no session, keys or values")
	                           : 0;
	if (rv == 0 && (args == NULL || items == NULL)) {
		rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && vals != NULL; i++) {
		oscar_value_t *it = NULL;
		if (rv == 0 && keys[i] == NULL) {
			rv = oscar_error_set(err, OSCAR_EINVAL, "key %zu is NULL", i);
		}
		if (rv == 0 && (it = oscar_value_new_array(2)) == NULL) {
			rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
		}
		if (rv == 0) {
			oscar_value_array_push(it, oscar_value_new_str(keys[i]));
			oscar_value_array_push(it, vals[i]);
			rv = oscar_value_array_push(items, it);
			if (rv != 0) {
				oscar_error_set(err, rv, "out of memory");
			}
		} else {
			oscar_value_free(vals[i]);
		}
		vals[i] = NULL;
	}
	if (rv == 0 &&
	    (rv = oscar_value_map_set(args, "session", oscar_value_new_str(session))) == 0) {
		rv    = oscar_value_map_set(args, "items", items);
		items = NULL;
	}
	oscar_value_free(items);
	if (rv != 0) {
		oscar_value_free(args);
		return (
		    err != NULL && err->code != 0 ? rv : oscar_error_set(err, rv, "out of memory"));
	}
	oscar_value_t *reply = NULL;
	rv = osc_sta_call(pool, address, OSC_ST_PUT, args, timeout_ms, &reply, err);
	rv = rv != 0 ? rv : osc_sta_uints(reply, n, sizes, err);
	oscar_value_free(reply);
	return (rv);
}

// osc_sta_unlz4 turns {values, lz4: [index...]} into the array of values,
// each compressed bin decompressed.
static int osc_sta_unlz4(oscar_value_t *reply, size_t n, oscar_value_t **out, oscar_error_t *err)
{
	oscar_value_t       *values = (oscar_value_t *) oscar_value_map_get(reply, "values");
	const oscar_value_t *which  = oscar_value_map_get(reply, "lz4");
	if (values == NULL || values->type != OSCAR_ARRAY || values->as.arr.len != n ||
	    which == NULL || which->type != OSCAR_ARRAY) {
		return (
		    oscar_error_set(err, OSCAR_EPROTO, "storage answered a malformed lz4 reply"));
	}
	for (size_t k = 0; k < oscar_value_len(which); k++) {
		uint64_t i;
		if (oscar_value_get_uint(oscar_value_at(which, k), &i) != 0 || i >= n ||
		    values->as.arr.items[i].type != OSCAR_BIN) {
			return (
			    oscar_error_set(err, OSCAR_EPROTO, "storage answered a bad lz4 index"));
		}
		oscar_value_t *it = &values->as.arr.items[i];
		void          *raw;
		size_t         len;
		int            rv = osc_lz4_decompress(
		               it->as.bin.ptr, it->as.bin.len, OSC_LZ4_MAX_INPUT, &raw, &len);
		if (rv != 0) {
			return (oscar_error_set(
			    err, rv, "object %zu: cannot decompress its lz4 frame", (size_t) i));
		}
		// The buffer (the raw bytes and a zero byte) becomes the bin as it
		// is: no second copy. The compressed bin goes into a shell of its
		// own to be freed.
		oscar_value_t *old = malloc(sizeof(*old));
		if (old == NULL) {
			free(raw);
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
		*old = *it;
		memset(it, 0, sizeof(*it));
		it->type       = OSCAR_BIN;
		it->as.bin.ptr = raw;
		it->as.bin.len = len;
		oscar_value_free(old);
	}
	// Hand the array over: take it out of the map.
	oscar_value_t *arr = malloc(sizeof(*arr));
	if (arr == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	*arr = *values;
	memset(values, 0, sizeof(*values));
	values->type = OSCAR_NIL;
	*out         = arr;
	return (0);
}

int oscar_storage_get(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, const oscar_storage_slice_t *const *slices, unsigned flags,
    oscar_value_t **out, int64_t timeout_ms, oscar_error_t *err)
{
	oscar_value_t *args = NULL;
	int            rv;
	if (out == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no place for the values"));
	}
	*out = NULL;
	if ((rv = osc_sta_args(session, n, keys, &args, err)) != 0) {
		return (rv);
	}
	if (slices != NULL) {
		oscar_value_t *sl = oscar_value_new_array(n);
		for (size_t i = 0; sl != NULL && i < n; i++) {
			oscar_value_t *x = slices[i] != NULL ? osc_storage_slice_value(slices[i])
			                                     : oscar_value_new_nil();
			if (oscar_value_array_push(sl, x) != 0) {
				oscar_value_free(sl);
				sl = NULL;
			}
		}
		if (sl == NULL || oscar_value_map_set(args, "slices", sl) != 0) {
			oscar_value_free(args);
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
	}
	if ((flags & OSCAR_STORAGE_LZ4) != 0) {
		oscar_value_t *acc = oscar_value_new_array(1);
		if (acc == NULL || oscar_value_array_push(acc, oscar_value_new_str("lz4")) != 0 ||
		    oscar_value_map_set(args, "accept", acc) != 0) {
			oscar_value_free(args);
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
	}
	oscar_value_t *reply = NULL;
	if ((rv = osc_sta_call(pool, address, OSC_ST_GET, args, timeout_ms, &reply, err)) != 0) {
		return (rv);
	}
	if (reply != NULL && reply->type == OSCAR_MAP && (flags & OSCAR_STORAGE_LZ4) != 0) {
		rv = osc_sta_unlz4(reply, n, out, err);
		oscar_value_free(reply);
		return (rv);
	}
	if (reply == NULL || reply->type != OSCAR_ARRAY || oscar_value_len(reply) != n) {
		oscar_value_free(reply);
		return (oscar_error_set(
		    err, OSCAR_EPROTO, "storage answered no array of %zu values", n));
	}
	*out = reply;
	return (0);
}

int oscar_storage_delete(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, uint64_t *deleted, int64_t timeout_ms, oscar_error_t *err)
{
	oscar_value_t *args = NULL, *reply = NULL;
	int            rv;
	if ((rv = osc_sta_args(session, n, keys, &args, err)) != 0) {
		return (rv);
	}
	if ((rv = osc_sta_call(pool, address, OSC_ST_DELETE, args, timeout_ms, &reply, err)) == 0 &&
	    deleted != NULL) {
		oscar_value_get_uint(reply, deleted);
	}
	oscar_value_free(reply);
	return (rv);
}

// osc_sta_pull_args makes the arguments of a pull.
static int osc_sta_pull_args(const char *session, size_t n, const char *const *keys,
    const char *from, oscar_value_t **argsp, oscar_error_t *err)
{
	int rv;
	if (from == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no address to pull from"));
	}
	if ((rv = osc_sta_args(session, n, keys, argsp, err)) != 0) {
		return (rv);
	}
	if (oscar_value_map_set(*argsp, "from", oscar_value_new_str(from)) != 0) {
		oscar_value_free(*argsp);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	return (0);
}

int oscar_storage_pull(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, const char *from, uint64_t *sizes, int64_t timeout_ms,
    oscar_error_t *err)
{
	oscar_value_t *args = NULL, *reply = NULL;
	int            rv;
	if ((rv = osc_sta_pull_args(session, n, keys, from, &args, err)) != 0) {
		return (rv);
	}
	rv = osc_sta_call(pool, address, OSC_ST_PULL, args, timeout_ms, &reply, err);
	rv = rv != 0 ? rv : osc_sta_uints(reply, n, sizes, err);
	oscar_value_free(reply);
	return (rv);
}

int oscar_storage_pull_start(oscar_pool_t *pool, const char *address, const char *session, size_t n,
    const char *const *keys, const char *from, int64_t timeout_ms, oscar_call_t **callp,
    oscar_error_t *err)
{
	oscar_value_t *args = NULL;
	oscar_ref_t    ref;
	int            rv;
	if (pool == NULL || callp == NULL || address == NULL ||
	    oscar_ref_make(&ref, address, OSCAR_STORAGE_UID) != 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no pool or handle, or a bad address"));
	}
	if ((rv = osc_sta_pull_args(session, n, keys, from, &args, err)) != 0) {
		return (rv);
	}
	if ((rv = oscar_call_start(
	         pool, &ref, osc_st_name(OSC_ST_PULL), args, timeout_ms, callp)) != 0) {
		return (oscar_error_set(err, rv, "cannot start the pull: %s", oscar_strerror(rv)));
	}
	return (0);
}

int oscar_storage_info(oscar_pool_t *pool, const char *address, oscar_storage_info_t *info,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_value_t *reply = NULL;
	if (info == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no info to fill"));
	}
	int rv = osc_sta_call(pool, address, OSC_ST_INFO, NULL, timeout_ms, &reply, err);
	if (rv == 0) {
		info->used              = oscar_value_map_uint(reply, "used", 0);
		info->limit             = oscar_value_map_uint(reply, "limit", 0);
		info->spilled           = oscar_value_map_uint(reply, "spilled", 0);
		info->objects           = oscar_value_map_uint(reply, "objects", 0);
		info->shared            = oscar_value_map_uint(reply, "shared", 0);
		info->sessions          = oscar_value_map_uint(reply, "sessions", 0);
		info->transfers         = oscar_value_map_uint(reply, "transfers", 0);
		info->transfers_started = oscar_value_map_uint(reply, "transfers_started", 0);
	}
	oscar_value_free(reply);
	return (rv);
}
