// The typed API of the task service (include/oscar/graph.h): host-thread
// calls through the task manager's method table.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oscar/graph.h"
#include "oscar/meta.h"
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
	const char *s;
	size_t      len;
	if (rv == 0 && oscar_value_get_str(reply, &s, &len) != 0) {
		rv = oscar_error_set(err, OSCAR_EPROTO, "submit answered without a graph id");
	}
	if (rv == 0 && id != NULL && size > 0) {
		snprintf(id, size, "%.*s", (int) len, s);
	}
	oscar_value_free(reply);
	return (rv);
}

// osc_count_items builds [[key, 1]...] from keys[0..n).
static oscar_value_t *osc_count_items(const char *const *keys, size_t n)
{
	oscar_value_t *arr = oscar_value_new_array(n);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		oscar_value_t *item = oscar_value_new_array(2);
		if (keys[i] == NULL || item == NULL ||
		    oscar_value_array_push(item, oscar_value_new_str(keys[i])) != 0 ||
		    oscar_value_array_push(item, oscar_value_new_uint(1)) != 0 ||
		    oscar_value_array_push(arr, item) != 0) {
			if (keys[i] == NULL) {
				oscar_value_free(item);
			}
			oscar_value_free(arr);
			return (NULL);
		}
	}
	return (arr);
}

int oscar_graph_submit_run(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *graph, const char *graph_id, const oscar_graph_run_opts_t *opts, char *id,
    size_t size, int64_t timeout_ms, oscar_value_t **info, oscar_error_t *err)
{
	oscar_graph_run_opts_t o = { 0 };
	oscar_value_t         *args, *reply = NULL;
	if (info != NULL) {
		*info = NULL;
	}
	if (opts != NULL) {
		o = *opts;
	}
	if (graph == NULL || (o.incref == NULL && o.n_incref > 0) ||
	    (o.decref == NULL && o.n_decref > 0) || (o.wait && o.wait_ms < 0)) {
		oscar_value_free(graph);
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a graph, the keys counted and a wait_ms not negative are needed"));
	}
	int rv = (args = oscar_value_new_map(7)) != NULL ? 0 : OSCAR_ENOMEM;
	rv = rv != 0 ? (oscar_value_free(graph), rv) : oscar_value_map_set(args, "graph", graph);
	rv = rv != 0
	         ? rv
	         : oscar_value_map_set(args, "graph_id",
	               graph_id != NULL ? oscar_value_new_str(graph_id) : oscar_value_new_nil());
	if (rv == 0 && o.n_incref > 0) {
		oscar_value_t *c = osc_count_items(o.incref, o.n_incref);
		rv = c != NULL ? oscar_value_map_set(args, "incref", c) : OSCAR_EINVAL;
	}
	if (rv == 0 && o.n_decref > 0) {
		oscar_value_t *c = osc_count_items(o.decref, o.n_decref);
		rv = c != NULL ? oscar_value_map_set(args, "decref", c) : OSCAR_EINVAL;
	}
	rv = rv != 0 || !o.wait
	         ? rv
	         : oscar_value_map_set(args, "wait_ms", oscar_value_new_int(o.wait_ms));
	rv = rv != 0 ? rv : oscar_value_map_set(args, "outputs", oscar_value_new_bool(o.outputs));
	rv = rv != 0 ? rv : oscar_value_map_set(args, "release", oscar_value_new_bool(o.release));
	if (rv != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, rv, "%s",
		    rv == OSCAR_EINVAL ? "a key to count is NULL" : oscar_strerror(rv)));
	}
	// The call outlives the wait by a margin, so that the manager's own
	// timeout answers first.
	int64_t t = timeout_ms;
	if (o.wait && o.wait_ms > 0) {
		t = o.wait_ms < INT64_MAX - timeout_ms ? o.wait_ms + timeout_ms : INT64_MAX;
	}
	rv = osc_graph_call(pool, address, session, OSC_TMGR_SUBMIT, args, t, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	const char    *gid = NULL;
	size_t         len = 0;
	oscar_value_t *in  = NULL;
	if (reply != NULL && reply->type == OSCAR_MAP) {
		const oscar_value_t *i = oscar_value_map_get(reply, "info");
		if (oscar_value_get_str(oscar_value_map_get(reply, "graph_id"), &gid, &len) != 0) {
			gid = NULL;
		}
		if (i != NULL && i->type == OSCAR_MAP) {
			in = (oscar_value_t *) i;
		}
	} else if (oscar_value_get_str(reply, &gid, &len) != 0) {
		gid = NULL;
	}
	if (gid == NULL) {
		oscar_value_free(reply);
		return (oscar_error_set(err, OSCAR_EPROTO, "submit answered without a graph id"));
	}
	if (id != NULL && size > 0) {
		snprintf(id, size, "%.*s", (int) len, gid);
	}
	if (info != NULL && in != NULL && (*info = oscar_value_copy(in)) == NULL) {
		oscar_value_free(reply);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	oscar_value_free(reply);
	return (0);
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

int oscar_graph_task_states(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, const char *const *keys, size_t n, int64_t timeout_ms,
    oscar_value_t **states, oscar_error_t *err)
{
	if (states == NULL || (keys == NULL && n > 0)) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "keys and a place for the states are needed"));
	}
	*states           = NULL;
	oscar_value_t *k  = oscar_value_new_array(n);
	oscar_value_t *f  = oscar_value_new_array(1);
	int            rv = k != NULL && f != NULL ? 0 : OSCAR_ENOMEM;
	for (size_t i = 0; rv == 0 && i < n; i++) {
		rv = keys[i] != NULL ? oscar_value_array_push(k, oscar_value_new_str(keys[i]))
		                     : OSCAR_EINVAL;
	}
	rv = rv != 0 ? rv : oscar_value_array_push(f, oscar_value_new_str("status"));
	if (rv != 0) {
		oscar_value_free(k);
		oscar_value_free(f);
		return (oscar_error_set(
		    err, rv, "%s", rv == OSCAR_EINVAL ? "a key is NULL" : oscar_strerror(rv)));
	}
	oscar_value_t *args = osc_graph_args(graph_id, "fields", f);
	if (args == NULL) {
		oscar_value_free(k);
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph id is needed"));
	}
	if (oscar_value_map_set(args, "keys", k) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	oscar_value_t *info = NULL;
	rv = osc_graph_call(pool, address, session, OSC_TMGR_INFO, args, timeout_ms, &info, err);
	if (rv != 0) {
		return (rv);
	}
	const oscar_value_t *tasks = oscar_value_map_get(info, "tasks");
	*states                    = tasks != NULL ? oscar_value_copy(tasks) : NULL;
	oscar_value_free(info);
	return (*states != NULL
	            ? 0
	            : oscar_error_set(err, OSCAR_EPROTO, "the task manager gave no task states"));
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

int oscar_graph_wait_outputs(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t wait_ms, const char *const *decref, size_t n_decref, bool release,
    oscar_value_t **info, oscar_error_t *err)
{
	if (wait_ms < 0 || (decref == NULL && n_decref > 0)) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "wait_ms must not be negative, and the keys given"));
	}
	oscar_value_t *args = osc_graph_args(graph_id, "timeout_ms", oscar_value_new_int(wait_ms));
	if (args == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a graph id is needed"));
	}
	int rv = oscar_value_map_set(args, "outputs", oscar_value_new_bool(true));
	rv     = rv != 0 ? rv : oscar_value_map_set(args, "release", oscar_value_new_bool(release));
	if (rv == 0 && n_decref > 0) {
		oscar_value_t *c = osc_count_items(decref, n_decref);
		rv = c != NULL ? oscar_value_map_set(args, "decref", c) : OSCAR_EINVAL;
	}
	if (rv != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, rv, "%s",
		    rv == OSCAR_EINVAL ? "a key to give back is NULL" : oscar_strerror(rv)));
	}
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

// ---------------------------------------------------------------------------
// Nested submission, from a task function's thread in a slot

static osc_task_nested_t *osc_nested(oscar_task_ctx_t *ctx, oscar_error_t *err)
{
	if (ctx == NULL || ctx->nested == NULL) {
		oscar_error_set(
		    err, OSCAR_ESTATE, "nested submission works only in a worker's slot");
		return (NULL);
	}
	return (ctx->nested);
}

int oscar_task_submit(oscar_task_ctx_t *ctx, oscar_value_t *graph, char *id, size_t size,
    int64_t timeout_ms, oscar_error_t *err)
{
	osc_task_nested_t *n = osc_nested(ctx, err);
	if (n == NULL) {
		oscar_value_free(graph);
		return (OSCAR_ESTATE);
	}
	return (oscar_graph_submit(
	    n->pool, n->supervisor, ctx->session, graph, NULL, id, size, timeout_ms, err));
}

// osc_nested_tell tells the executor that the task waits (lend) or not.
static void osc_nested_tell(oscar_task_ctx_t *ctx, osc_task_nested_t *n, int method)
{
	oscar_value_t *m = oscar_value_new_map(2);
	if (m == NULL ||
	    oscar_value_map_set(m, "session", oscar_value_new_str(ctx->session)) != 0 ||
	    oscar_value_map_set(m, "key", oscar_value_new_str(ctx->key)) != 0) {
		oscar_value_free(m);
		return;
	}
	// A tell lost (a full inbox) only costs the slot's loan.
	oscar_tell_nowait(n->pool, &n->executor, osc_texe_name(method), m);
}

int oscar_task_wait(oscar_task_ctx_t *ctx, const char *graph_id, int64_t wait_ms,
    oscar_value_t **info, oscar_error_t *err)
{
	osc_task_nested_t *n = osc_nested(ctx, err);
	if (n == NULL) {
		return (OSCAR_ESTATE);
	}
	// The wait is not the function's own work: its run time, which
	// sizes the worker's queue, leaves it out.
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	osc_nested_tell(ctx, n, OSC_TEXE_LEND);
	int rv =
	    oscar_graph_wait(n->pool, n->supervisor, ctx->session, graph_id, wait_ms, info, err);
	osc_nested_tell(ctx, n, OSC_TEXE_UNLEND);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ctx->waited_us +=
	    (uint64_t) ((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	return (rv);
}

int oscar_task_fetch(oscar_task_ctx_t *ctx, const char *key, int64_t timeout_ms,
    oscar_value_t **value, oscar_error_t *err)
{
	osc_task_nested_t *n       = osc_nested(ctx, err);
	oscar_value_t     *entries = NULL, *out = NULL;
	const char        *keys[]   = { key, NULL };
	const char        *fields[] = { "workers", NULL };
	const char        *w;
	size_t             len;
	oscar_ref_t        ref;
	*value = NULL;
	if (n == NULL) {
		return (OSCAR_ESTATE);
	}
	int rv = oscar_meta_get(n->pool, n->supervisor, ctx->session, keys, 1, fields, false,
	    timeout_ms, &entries, err);
	if (rv != 0) {
		return (rv);
	}
	const oscar_value_t *workers = oscar_value_map_get(oscar_value_at(entries, 0), "workers");
	if (oscar_value_get_str(oscar_value_at(workers, 0), &w, &len) != 0 ||
	    oscar_ref_make(&ref, w, "oscar.storage") != 0) {
		oscar_value_free(entries);
		return (oscar_error_set(err, OSCAR_ENOENT,
		    "object %s of session %s is on no worker", key, ctx->session));
	}
	oscar_value_free(entries);
	oscar_value_t *q = oscar_value_new_map(2);
	oscar_value_t *k = oscar_value_new_array(1);
	if (q == NULL || k == NULL || oscar_value_array_push(k, oscar_value_new_str(key)) != 0 ||
	    oscar_value_map_set(q, "session", oscar_value_new_str(ctx->session)) != 0) {
		oscar_value_free(q);
		oscar_value_free(k);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	if (oscar_value_map_set(q, "keys", k) != 0) {
		oscar_value_free(q);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	if ((rv = oscar_call(n->pool, &ref, "get", q, timeout_ms, &out, err)) != 0) {
		return (rv);
	}
	*value = oscar_value_copy(oscar_value_at(out, 0));
	oscar_value_free(out);
	return (*value != NULL ? 0 : oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
}
