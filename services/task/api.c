// The typed API of the task service (include/oscar/graph.h): host-thread
// calls through the task manager's method table.
#include <stdio.h>
#include <string.h>

#include "oscar/graph.h"
#include "services/task/task_int.h"

// osc_graph_call calls method id of session's task manager at address.
static int osc_graph_call(oscar_pool_t *pool, const char *address, const char *session, int id,
    oscar_value_t *args, int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t ref;
	if (pool == NULL || address == NULL || session == NULL ||
	    (size_t) snprintf(uid, sizeof(uid), "%s%s", OSC_TASK_UID_PREFIX, session) >=
	        sizeof(uid) ||
	    oscar_ref_make(&ref, address, uid) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "a pool, an address and a session id are needed"));
	}
	int rv = osc_method_call(
	    pool, &ref, &osc_task_manager_methods[id], args, timeout_ms, reply, err);
	if (rv == OSCAR_ENOACTOR) {
		return (oscar_error_set(
		    err, OSCAR_ENOENT, "no session %s (no task manager for it)", session));
	}
	return (rv);
}

oscar_value_t *oscar_graph_task(
    const char *key, const char *fn, oscar_value_t *args, unsigned n_output, bool pure)
{
	oscar_value_t *t  = oscar_value_new_map(5);
	int            rv = t != NULL && key != NULL && fn != NULL ? 0 : OSCAR_EINVAL;
	rv                = rv != 0 ? rv : oscar_value_map_set(t, "key", oscar_value_new_str(key));
	rv                = rv != 0 ? rv : oscar_value_map_set(t, "fn", oscar_value_new_str(fn));
	if (rv == 0) {
		rv = oscar_value_map_set(t, "args", args != NULL ? args : oscar_value_new_array(0));
		args = NULL;
	}
	rv = rv != 0 ? rv
	             : oscar_value_map_set(
	                   t, "n_output", oscar_value_new_uint(n_output != 0 ? n_output : 1));
	rv = rv != 0 ? rv : oscar_value_map_set(t, "pure", oscar_value_new_bool(pure));
	oscar_value_free(args);
	if (rv != 0) {
		oscar_value_free(t);
		return (NULL);
	}
	return (t);
}

int oscar_graph_submit(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *graph, const char *graph_id, char *id, size_t size, int64_t timeout_ms,
    oscar_error_t *err)
{
	oscar_value_t *args  = oscar_value_new_map(2);
	oscar_value_t *reply = NULL;
	if (args == NULL || graph == NULL) {
		oscar_value_free(args);
		oscar_value_free(graph);
		return (oscar_error_set(err, graph == NULL ? OSCAR_EINVAL : OSCAR_ENOMEM,
		    graph == NULL ? "no graph given" : "out of memory"));
	}
	int rv = oscar_value_map_set(args, "graph", graph);
	rv     = rv != 0
	             ? rv
	             : oscar_value_map_set(args, "graph_id",
                       graph_id != NULL ? oscar_value_new_str(graph_id) : oscar_value_new_nil());
        if (rv != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, rv, "%s", oscar_strerror(rv)));
	}
	rv = osc_graph_call(pool, address, session, OSC_TMGR_SUBMIT, args, timeout_ms, &reply, err);
	if (rv == 0 && id != NULL && size > 0) {
		const char *s;
		size_t      len;
		oscar_value_get_str(reply, &s, &len);
		snprintf(id, size, "%.*s", (int) len, s);
	}
	oscar_value_free(reply);
	return (rv);
}

// osc_graph_args makes {graph_id} plus one more field (consumed).
static oscar_value_t *osc_graph_args(const char *graph_id, const char *name, oscar_value_t *v)
{
	oscar_value_t *m = oscar_value_new_map(2);
	if (m == NULL || graph_id == NULL ||
	    oscar_value_map_set(m, "graph_id", oscar_value_new_str(graph_id)) != 0) {
		oscar_value_free(v);
		oscar_value_free(m);
		return (NULL);
	}
	// oscar_value_map_set consumes v in every case.
	if (oscar_value_map_set(m, name, v) != 0) {
		oscar_value_free(m);
		return (NULL);
	}
	return (m);
}

int oscar_graph_info(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, const char *const *fields, int64_t timeout_ms, oscar_value_t **info,
    oscar_error_t *err)
{
	oscar_value_t *f = fields != NULL ? oscar_value_new_array(4) : oscar_value_new_nil();
	for (size_t i = 0; fields != NULL && f != NULL && fields[i] != NULL; i++) {
		if (oscar_value_array_push(f, oscar_value_new_str(fields[i])) != 0) {
			oscar_value_free(f);
			f = NULL;
		}
	}
	oscar_value_t *args = f != NULL ? osc_graph_args(graph_id, "fields", f) : NULL;
	if (args == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph id is needed"));
	}
	return (osc_graph_call(pool, address, session, OSC_TMGR_INFO, args, timeout_ms, info, err));
}

int oscar_graph_wait(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t wait_ms, oscar_value_t **info, oscar_error_t *err)
{
	if (wait_ms < 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "wait_ms must not be negative"));
	}
	oscar_value_t *args = osc_graph_args(graph_id, "timeout_ms", oscar_value_new_int(wait_ms));
	if (args == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph id is needed"));
	}
	// The call outlives the wait by a margin, so that the manager's own
	// timeout answers first.
	return (
	    osc_graph_call(pool, address, session, OSC_TMGR_WAIT, args, wait_ms + 5000, info, err));
}

int oscar_graph_cancel(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t timeout_ms, oscar_error_t *err)
{
	if (graph_id == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph id is needed"));
	}
	return (osc_graph_call(pool, address, session, OSC_TMGR_CANCEL,
	    oscar_value_new_str(graph_id), timeout_ms, NULL, err));
}

int oscar_graph_delete(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t timeout_ms, oscar_error_t *err)
{
	if (graph_id == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph id is needed"));
	}
	return (osc_graph_call(pool, address, session, OSC_TMGR_DELETE,
	    oscar_value_new_str(graph_id), timeout_ms, NULL, err));
}

int oscar_graph_list(oscar_pool_t *pool, const char *address, const char *session,
    int64_t timeout_ms, oscar_value_t **ids, oscar_error_t *err)
{
	return (osc_graph_call(pool, address, session, OSC_TMGR_LIST, NULL, timeout_ms, ids, err));
}
