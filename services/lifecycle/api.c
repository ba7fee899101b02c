// The typed API over the lifecycle service (include/oscar/lifecycle.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/lifecycle/lifecycle_int.h"

// osc_lc_call calls method id of session's lifecycle actor at address; a
// missing actor is a session that does not exist.
static int osc_lc_call(oscar_pool_t *pool, const char *address, const char *session, int id,
    oscar_value_t *args, int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t ref;
	if (pool == NULL || address == NULL || args == NULL) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no pool, address or keys"));
	}
	if (session == NULL || osc_session_uid(uid, OSCAR_LIFECYCLE_UID_PREFIX, session) != 0 ||
	    oscar_ref_make(&ref, address, uid) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "bad session id '%s' or address",
		    session != NULL ? session : "(null)"));
	}
	int rv =
	    osc_method_call(pool, &ref, &osc_lifecycle_methods[id], args, timeout_ms, reply, err);
	if (rv == OSCAR_ENOACTOR) {
		rv = oscar_error_set(err, OSCAR_ENOENT, "no such session %s", session);
	}
	return (rv);
}

// osc_items builds [[key, n]...].
static oscar_value_t *osc_items(const char *const *keys, const uint64_t *counts, size_t n)
{
	if (keys == NULL && n > 0) {
		return (NULL);
	}
	oscar_value_t *arr = oscar_value_new_array(n);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		oscar_value_t *item = oscar_value_new_array(2);
		oscar_value_array_push(item, oscar_value_new_str(keys[i] != NULL ? keys[i] : ""));
		oscar_value_array_push(item, oscar_value_new_uint(counts != NULL ? counts[i] : 1));
		if (oscar_value_len(item) != 2 || oscar_value_array_push(arr, item) != 0) {
			oscar_value_free(arr);
			return (NULL);
		}
	}
	return (arr);
}

int oscar_lifecycle_incref(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, const uint64_t *counts, size_t n, int64_t timeout_ms,
    oscar_error_t *err)
{
	return (osc_lc_call(pool, address, session, OSC_LM_INCREF, osc_items(keys, counts, n),
	    timeout_ms, NULL, err));
}

int oscar_lifecycle_decref(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, const uint64_t *counts, size_t n, int64_t timeout_ms,
    oscar_value_t **freed, oscar_error_t *err)
{
	return (osc_lc_call(pool, address, session, OSC_LM_DECREF, osc_items(keys, counts, n),
	    timeout_ms, freed, err));
}

int oscar_lifecycle_counts(oscar_pool_t *pool, const char *address, const char *session,
    const char *const *keys, size_t n, uint64_t *counts, int64_t timeout_ms, oscar_error_t *err)
{
	if (counts == NULL || (keys == NULL && n > 0)) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no keys or counts"));
	}
	oscar_value_t *arr = oscar_value_new_array(n);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		if (oscar_value_array_push(
		        arr, oscar_value_new_str(keys[i] != NULL ? keys[i] : "")) != 0) {
			oscar_value_free(arr);
			arr = NULL;
		}
	}
	oscar_value_t *reply;
	int rv = osc_lc_call(pool, address, session, OSC_LM_COUNTS, arr, timeout_ms, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	if (oscar_value_len(reply) != n) {
		oscar_value_free(reply);
		return (
		    oscar_error_set(err, OSCAR_EPROTO, "lifecycle gave a reply of another length"));
	}
	for (size_t i = 0; i < n; i++) {
		counts[i] = oscar_value_at_uint(reply, i, 0);
	}
	oscar_value_free(reply);
	return (0);
}
