// The typed API over the meta service (include/oscar/meta.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/meta/meta_int.h"

// osc_meta_call calls method id of session's meta actor at address; a
// missing actor is a session that does not exist.
static int osc_meta_call(oscar_pool_t *pool, const char *address, const char *session, int id,
    oscar_value_t *args, int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t ref;
	if (pool == NULL || address == NULL) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no pool or address"));
	}
	if (session == NULL || osc_session_uid(uid, OSCAR_META_UID_PREFIX, session) != 0 ||
	    oscar_ref_make(&ref, address, uid) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "bad session id '%s' or address",
		    session != NULL ? session : "(null)"));
	}
	int rv = osc_method_call(pool, &ref, &osc_meta_methods[id], args, timeout_ms, reply, err);
	if (rv == OSCAR_ENOACTOR) {
		rv = oscar_error_set(err, OSCAR_ENOENT, "no such session %s", session);
	}
	return (rv);
}

// osc_key_array builds an array of keys[0..n).
static oscar_value_t *osc_key_array(const char *const *keys, size_t n)
{
	oscar_value_t *arr = oscar_value_new_array(n);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		if (keys[i] == NULL ||
		    oscar_value_array_push(arr, oscar_value_new_str(keys[i])) != 0) {
			oscar_value_free(arr);
			return (NULL);
		}
	}
	return (arr);
}

int oscar_meta_set(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *entries, int64_t timeout_ms, oscar_error_t *err)
{
	return (osc_meta_call(pool, address, session, OSC_MM_SET, entries, timeout_ms, NULL, err));
}

int oscar_meta_add_location(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *items, int64_t timeout_ms, oscar_error_t *err)
{
	return (osc_meta_call(
	    pool, address, session, OSC_MM_ADD_LOCATION, items, timeout_ms, NULL, err));
}

int oscar_meta_get(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, size_t n, const char *const *fields, bool missing_ok,
    int64_t timeout_ms, oscar_value_t **entries, oscar_error_t *err)
{
	if (entries == NULL || (keys == NULL && n > 0)) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no keys or no entries"));
	}
	size_t nf = 0;
	while (fields != NULL && fields[nf] != NULL) {
		nf++;
	}
	oscar_value_t *args = oscar_value_new_map(2);
	oscar_value_t *k    = osc_key_array(keys, n);
	oscar_value_t *f    = fields != NULL ? osc_key_array(fields, nf) : oscar_value_new_nil();
	if (args == NULL || k == NULL || f == NULL) {
		oscar_value_free(args);
		oscar_value_free(k);
		oscar_value_free(f);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	oscar_value_map_set(args, "keys", k);
	oscar_value_map_set(args, "fields", f);
	oscar_value_t *reply;
	int rv = osc_meta_call(pool, address, session, OSC_MM_GET, args, timeout_ms, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	if (oscar_value_len(reply) != n) {
		oscar_value_free(reply);
		return (oscar_error_set(err, OSCAR_EPROTO, "meta gave a reply of another length"));
	}
	for (size_t i = 0; !missing_ok && i < n; i++) {
		if (oscar_value_at(reply, i)->type == OSCAR_NIL) {
			oscar_value_free(reply);
			return (oscar_error_set(err, OSCAR_ENOENT,
			    "no such object %s in session %s", keys[i], session));
		}
	}
	*entries = reply;
	return (0);
}

int oscar_meta_delete(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, size_t n, int64_t timeout_ms, oscar_value_t **deleted,
    oscar_error_t *err)
{
	if (keys == NULL && n > 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no keys"));
	}
	oscar_value_t *k = osc_key_array(keys, n);
	if (k == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	return (osc_meta_call(pool, address, session, OSC_MM_DELETE, k, timeout_ms, deleted, err));
}

int oscar_meta_on_worker(oscar_pool_t *pool, const char *address, const char *session,
    const char *worker, int64_t timeout_ms, oscar_value_t **keys, oscar_error_t *err)
{
	if (worker == NULL || keys == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no worker or no keys"));
	}
	return (osc_meta_call(pool, address, session, OSC_MM_ON_WORKER, oscar_value_new_str(worker),
	    timeout_ms, keys, err));
}
