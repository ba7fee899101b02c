// The typed API over the session service (include/oscar/sessions.h): each
// function is one call through the method table, which checks the reply.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/session/session_int.h"

// osc_ss_call calls method id of the session actor at address.
static int osc_ss_call(oscar_pool_t *pool, const char *address, int id, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	oscar_ref_t ref;
	if (pool == NULL || address == NULL ||
	    oscar_ref_make(&ref, address, OSCAR_SESSIONS_UID) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no pool, or no or a bad address"));
	}
	return (
	    osc_method_call(pool, &ref, &osc_session_methods[id], args, timeout_ms, reply, err));
}

static int osc_bad_id(const char *id, oscar_error_t *err)
{
	return (oscar_error_set(err, OSCAR_EINVAL,
	    "bad session id '%s': 1 to %d bytes of [A-Za-z0-9._-]", id != NULL ? id : "(null)",
	    OSCAR_SESSION_ID_MAX));
}

int oscar_sessions_create(oscar_pool_t *pool, const char *address, const char *id,
    bool if_not_exists, char *id_out, int64_t *created_ms, int64_t timeout_ms, oscar_error_t *err)
{
	if (id != NULL && !oscar_session_id_ok(id)) {
		return (osc_bad_id(id, err));
	}
	oscar_value_t *args = oscar_value_new_map(2);
	oscar_value_map_set(
	    args, "id", id != NULL ? oscar_value_new_str(id) : oscar_value_new_nil());
	oscar_value_map_set(args, "if_not_exists", oscar_value_new_bool(if_not_exists));
	if (oscar_value_len(args) != 2) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	oscar_value_t *reply;
	int rv = osc_ss_call(pool, address, OSC_SM_CREATE, args, timeout_ms, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	const char *got = oscar_value_map_str(reply, "id");
	if (got == NULL || !oscar_session_id_ok(got)) {
		oscar_value_free(reply);
		return (
		    oscar_error_set(err, OSCAR_EPROTO, "the session service gave no session id"));
	}
	if (id_out != NULL) {
		snprintf(id_out, OSCAR_SESSION_ID_MAX + 1, "%s", got);
	}
	if (created_ms != NULL) {
		*created_ms = oscar_value_map_int(reply, "created_ms", 0);
	}
	oscar_value_free(reply);
	return (0);
}

int oscar_sessions_has(oscar_pool_t *pool, const char *address, const char *id, bool *exists,
    int64_t timeout_ms, oscar_error_t *err)
{
	if (!oscar_session_id_ok(id) || exists == NULL) {
		return (osc_bad_id(id, err));
	}
	oscar_value_t *reply;
	int            rv = osc_ss_call(
	               pool, address, OSC_SM_HAS, oscar_value_new_str(id), timeout_ms, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	rv = oscar_value_get_bool(reply, exists);
	oscar_value_free(reply);
	return (rv != 0 ? oscar_error_set(err, OSCAR_EPROTO, "has gave no bool") : 0);
}

int oscar_sessions_delete(oscar_pool_t *pool, const char *address, const char *id, bool if_exists,
    int64_t timeout_ms, oscar_error_t *err)
{
	if (!oscar_session_id_ok(id)) {
		return (osc_bad_id(id, err));
	}
	oscar_value_t *args = oscar_value_new_map(2);
	oscar_value_map_set(args, "id", oscar_value_new_str(id));
	oscar_value_map_set(args, "if_exists", oscar_value_new_bool(if_exists));
	if (oscar_value_len(args) != 2) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	return (osc_ss_call(pool, address, OSC_SM_DELETE, args, timeout_ms, NULL, err));
}

int oscar_sessions_list(oscar_pool_t *pool, const char *address, oscar_session_info_t **list,
    size_t *n, int64_t timeout_ms, oscar_error_t *err)
{
	if (list == NULL || n == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no list or count"));
	}
	oscar_value_t *reply;
	int            rv = osc_ss_call(pool, address, OSC_SM_LIST, NULL, timeout_ms, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	size_t count = oscar_value_len(reply);
	*list        = calloc(count > 0 ? count : 1, sizeof(**list));
	if (*list == NULL) {
		oscar_value_free(reply);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < count; i++) {
		const oscar_value_t *m  = oscar_value_at(reply, i);
		const char          *id = oscar_value_map_str(m, "id");
		snprintf((*list)[i].id, sizeof((*list)[i].id), "%s", id != NULL ? id : "");
		(*list)[i].created_ms = oscar_value_map_int(m, "created_ms", 0);
		(*list)[i].nodes      = (unsigned) oscar_value_map_int(m, "nodes", 0);
		(*list)[i].objects    = oscar_value_map_uint(m, "objects", 0);
	}
	*n = count;
	oscar_value_free(reply);
	return (0);
}

int oscar_node_sessions(oscar_pool_t *pool, const char *address, oscar_value_t **ids,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_ref_t ref;
	if (pool == NULL || address == NULL || ids == NULL ||
	    oscar_ref_make(&ref, address, OSCAR_NODE_UID) != 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no pool, ids, or no or a bad address"));
	}
	return (osc_method_call(
	    pool, &ref, &osc_node_methods[OSC_NM_SESSIONS], NULL, timeout_ms, ids, err));
}
