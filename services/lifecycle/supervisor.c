// The lifecycle service: a per-session actor on the supervisor counting
// references to object keys, created and destroyed by the service's
// session hooks.
//
// Design note. A batch is checked whole before a count changes: every
// item must be [key, n] with n >= 1, and a decref must find each key
// counted and not take it below zero (the amounts of one key in a batch
// are added up first). The keys a decref frees leave the table at once;
// then the actor deletes their meta entries (one call to the session's
// meta actor) and asks each worker that held some of them to delete them
// from its storage (one call per worker, in parallel), and answers once
// every call is back. A failing call is logged, never the decref's
// failure: the counts are gone either way, and a worker whose storage is
// missing or dead must not wedge the session. The actor is held meanwhile
// (OSCAR_DEFER_HOLD), so batches apply in the order they came.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/meta.h"
#include "oscar/oscar.h"
#include "services/lifecycle/lifecycle_int.h"
#include "services/meta/meta_int.h"
#include "services/strmap.h"

#define OSC_COUNT_MAX (UINT64_C(1) << 62) // the most references one key holds
#define OSC_STEP_MAX  (UINT64_C(1) << 32) // the most one item adds or takes

// The deletes of one decref that freed keys.
typedef struct osc_freeing {
	oscar_req_t   *req;
	oscar_value_t *freed; // [key...], the reply
	size_t         left;  // storage calls not answered
} osc_freeing_t;

typedef struct osc_lifecycle {
	char           session[OSCAR_SESSION_ID_MAX + 1];
	int64_t        max_keys;
	int64_t        timeout_ms;
	osc_strmap_t   counts; // key -> uint64_t *
	osc_freeing_t *op;
} osc_lifecycle_t;

// osc_items_check fails req unless batch is [[key, n]...] with 1 <= n <=
// OSC_STEP_MAX.
static int osc_items_check(oscar_req_t *req, const oscar_value_t *batch, const char *method)
{
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *item = oscar_value_at(batch, i);
		uint64_t             n;
		if (item == NULL || item->type != OSCAR_ARRAY || oscar_value_len(item) != 2 ||
		    !osc_key_ok(oscar_value_at(item, 0)) ||
		    oscar_value_get_uint(oscar_value_at(item, 1), &n) != 0 || n == 0 ||
		    n > OSC_STEP_MAX) {
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "%s: item %zu is not [key, n] with n from 1 to 2^32", method, i));
		}
	}
	return (0);
}

static int osc_lm_incref(oscar_actor_t *self, oscar_req_t *req)
{
	osc_lifecycle_t     *st    = oscar_actor_state(self);
	const oscar_value_t *batch = oscar_req_args(req);
	int                  rv    = osc_items_check(req, batch, "incref");
	if (rv != 0) {
		return (rv);
	}
	size_t added = 0;
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *item = oscar_value_at(batch, i);
		const uint64_t      *c = osc_strmap_get(&st->counts, oscar_value_at_str(item, 0));
		if (c == NULL) {
			added++;
		} else if (*c > OSC_COUNT_MAX - OSC_STEP_MAX * oscar_value_len(batch)) {
			return (oscar_req_fail(req, OSCAR_EINVAL,
			    "incref: key %s holds too many references",
			    oscar_value_at_str(item, 0)));
		}
	}
	if ((int64_t) (st->counts.len + added) > st->max_keys) {
		return (oscar_req_fail(req, OSCAR_ESTATE,
		    "session %s counts %zu keys; %zu more would pass lifecycle.max_keys (%lld)",
		    st->session, st->counts.len, added, (long long) st->max_keys));
	}
	for (size_t i = 0; i < oscar_value_len(batch); i++) {
		const oscar_value_t *item = oscar_value_at(batch, i);
		const char          *key  = oscar_value_at_str(item, 0);
		uint64_t            *c    = osc_strmap_get(&st->counts, key);
		if (c == NULL) {
			if ((c = calloc(1, sizeof(*c))) == NULL ||
			    osc_strmap_put(&st->counts, key, c, NULL) != 0) {
				free(c);
				return (oscar_req_fail(
				    req, OSCAR_ENOMEM, "out of memory after %zu items", i));
			}
		}
		*c += oscar_value_at_uint(item, 1, 0);
	}
	return (oscar_req_reply(req, NULL));
}

static void osc_freeing_done(osc_lifecycle_t *st)
{
	osc_freeing_t *op = st->op;
	oscar_req_reply(op->req, op->freed);
	st->op = NULL;
	free(op);
}

static void osc_storage_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_lifecycle_t *st = oscar_actor_state(self);
	char            *at = arg;
	if (res->code != 0) {
		oscar_log(OSCAR_LOG_WARN, "lifecycle",
		    "session %s: the storage at %s did not delete "
		    "freed objects: %s",
		    st->session, at,
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
	}
	free(at);
	if (st->op != NULL && --st->op->left == 0) {
		osc_freeing_done(st);
	}
}

// osc_storage_delete calls the storage of the worker at address to delete
// keys (consumed).
static void osc_storage_delete(
    oscar_actor_t *self, osc_lifecycle_t *st, const char *address, oscar_value_t *keys)
{
	oscar_ref_t    ref;
	oscar_value_t *args = oscar_value_new_map(2);
	char          *at   = strdup(address);
	oscar_value_map_set(args, "session", oscar_value_new_str(st->session));
	oscar_value_map_set(args, "keys", keys);
	int rv = at == NULL || oscar_value_len(args) != 2              ? OSCAR_ENOMEM
	         : oscar_ref_make(&ref, address, OSC_STORAGE_UID) != 0 ? OSCAR_EADDRINVAL
	                                                               : 0;
	if (rv == 0) {
		st->op->left++;
		rv   = oscar_req_call(st->op->req, &ref, OSC_STORAGE_DELETE, args, st->timeout_ms,
		      osc_storage_cb, at, NULL);
		args = NULL;
		if (rv != 0) {
			st->op->left--;
		}
	}
	oscar_value_free(args);
	if (rv != 0) {
		oscar_log(OSCAR_LOG_WARN, "lifecycle",
		    "session %s: cannot call the storage at %s: %s", st->session, address,
		    oscar_strerror(rv));
		free(at);
	}
}

// osc_meta_deleted_cb receives the deleted meta entries ([{key, workers}])
// and asks each worker to delete its keys.
static void osc_meta_deleted_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_lifecycle_t *st = oscar_actor_state(self);
	(void) arg;
	if (st->op == NULL) {
		return;
	}
	if (res->code != 0) {
		oscar_log(OSCAR_LOG_WARN, "lifecycle",
		    "session %s: meta did not delete freed keys: %s", st->session,
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
		osc_freeing_done(st);
		return;
	}
	// Group the keys by worker: one call each.
	osc_strmap_t by_worker = { 0 };
	for (size_t i = 0; i < oscar_value_len(res->value); i++) {
		const oscar_value_t *e       = oscar_value_at(res->value, i);
		const char          *key     = oscar_value_map_str(e, "key");
		const oscar_value_t *workers = oscar_value_map_get(e, "workers");
		for (size_t j = 0; key != NULL && j < oscar_value_len(workers); j++) {
			const char    *w    = oscar_value_at_str(workers, j);
			oscar_value_t *keys = w != NULL ? osc_strmap_get(&by_worker, w) : NULL;
			if (w == NULL) {
				continue;
			}
			if (keys == NULL && ((keys = oscar_value_new_array(1)) == NULL ||
			                        osc_strmap_put(&by_worker, w, keys, NULL) != 0)) {
				oscar_value_free(keys);
				continue;
			}
			oscar_value_array_push(keys, oscar_value_new_str(key));
		}
	}
	st->op->left = 1; // until every call is made
	for (const osc_strmap_item_t *it = osc_strmap_next(&by_worker, NULL); it != NULL;
	     it                          = osc_strmap_next(&by_worker, it)) {
		osc_storage_delete(self, st, it->key, it->value);
	}
	osc_strmap_fini(&by_worker, NULL); // the arrays went to the calls
	if (--st->op->left == 0) {
		osc_freeing_done(st);
	}
}

static int osc_lm_decref(oscar_actor_t *self, oscar_req_t *req)
{
	osc_lifecycle_t     *st    = oscar_actor_state(self);
	const oscar_value_t *batch = oscar_req_args(req);
	int                  rv    = osc_items_check(req, batch, "decref");
	if (rv != 0) {
		return (rv);
	}
	// What each key loses, added up over the batch.
	osc_strmap_t take = { 0 };
	uint64_t    *sums = calloc(oscar_value_len(batch) + 1, sizeof(*sums));
	if (sums == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (size_t i = 0; rv == 0 && i < oscar_value_len(batch); i++) {
		const oscar_value_t *item = oscar_value_at(batch, i);
		const char          *key  = oscar_value_at_str(item, 0);
		const uint64_t      *c    = osc_strmap_get(&st->counts, key);
		uint64_t            *sum  = osc_strmap_get(&take, key);
		if (c == NULL) {
			rv = oscar_req_fail(req, OSCAR_ENOENT,
			    "decref: key %s has no count in session %s (nothing was changed)", key,
			    st->session);
			break;
		}
		if (sum == NULL && osc_strmap_put(&take, key, (sum = &sums[i]), NULL) != 0) {
			rv = OSCAR_ENOMEM;
			break;
		}
		*sum += oscar_value_at_uint(item, 1, 0);
		if (*sum > *c) {
			rv = oscar_req_fail(req, OSCAR_EINVAL,
			    "decref: key %s holds %llu references, fewer than the %llu taken "
			    "(nothing "
			    "was changed)",
			    key, (unsigned long long) *c, (unsigned long long) *sum);
		}
	}
	oscar_value_t *freed = rv == 0 ? oscar_value_new_array(0) : NULL;
	if (rv == 0 && freed == NULL) {
		rv = OSCAR_ENOMEM;
	}
	for (const osc_strmap_item_t *it = rv == 0 ? osc_strmap_next(&take, NULL) : NULL;
	     it != NULL; it              = osc_strmap_next(&take, it)) {
		uint64_t *c = osc_strmap_get(&st->counts, it->key);
		*c -= *(uint64_t *) it->value;
		if (*c == 0) {
			free(osc_strmap_del(&st->counts, it->key));
			oscar_value_array_push(freed, oscar_value_new_str(it->key));
		}
	}
	osc_strmap_fini(&take, NULL);
	free(sums);
	if (rv != 0) {
		return (rv);
	}
	if (oscar_value_len(freed) == 0) {
		return (oscar_req_reply(req, freed));
	}
	// Meta first, then the workers meta names.
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t meta;
	st->op              = calloc(1, sizeof(*st->op));
	oscar_value_t *keys = oscar_value_copy(freed);
	if (st->op == NULL || keys == NULL ||
	    osc_session_uid(uid, OSCAR_META_UID_PREFIX, st->session) != 0 ||
	    oscar_ref_make(&meta, oscar_actor_ref(self)->addr, uid) != 0) {
		free(st->op);
		st->op = NULL;
		oscar_value_free(keys);
		return (oscar_req_reply(req, freed)); // the counts are gone: say which
	}
	st->op->req   = req;
	st->op->freed = freed;
	rv = oscar_req_call(req, &meta, osc_meta_methods[OSC_MM_DELETE].name, keys, st->timeout_ms,
	    osc_meta_deleted_cb, NULL, NULL);
	if (rv != 0) {
		oscar_log(OSCAR_LOG_WARN, "lifecycle", "session %s: cannot call meta: %s",
		    st->session, oscar_strerror(rv));
		osc_freeing_done(st);
		return (0);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

static int osc_lm_counts(oscar_actor_t *self, oscar_req_t *req)
{
	osc_lifecycle_t     *st   = oscar_actor_state(self);
	const oscar_value_t *keys = oscar_req_args(req);
	oscar_value_t       *list = oscar_value_new_array(oscar_value_len(keys));
	for (size_t i = 0; list != NULL && i < oscar_value_len(keys); i++) {
		if (!osc_key_ok(oscar_value_at(keys, i))) {
			oscar_value_free(list);
			return (
			    oscar_req_fail(req, OSCAR_EBADARGS, "counts: key %zu is not a key", i));
		}
		const uint64_t *c = osc_strmap_get(&st->counts, oscar_value_at_str(keys, i));
		if (oscar_value_array_push(list, oscar_value_new_uint(c != NULL ? *c : 0)) != 0) {
			oscar_value_free(list);
			list = NULL;
		}
	}
	return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
}

static int osc_lifecycle_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_lifecycle_t *st = oscar_actor_state(self);
	const char      *s  = oscar_value_map_str(args, "session");
	snprintf(st->session, sizeof(st->session), "%s", s != NULL ? s : "?");
	st->max_keys   = oscar_value_map_int(args, "max_keys", 1000000);
	st->timeout_ms = oscar_value_map_int(args, "timeout_ms", 10000);
	return (0);
}

static void osc_lifecycle_destroy(oscar_actor_t *self)
{
	osc_lifecycle_t *st = oscar_actor_state(self);
	if (st->op != NULL) {
		// Its request was failed before this hook.
		oscar_value_free(st->op->freed);
		free(st->op);
	}
	osc_strmap_fini(&st->counts, free);
}

OSC_METHOD_TABLES(
    OSC_LIFECYCLE_METHODS, osc_lifecycle_methods, OSC_LM_N, osc_lifecycle_actor_methods);

// Protected: no other pool may destroy or replace a service actor.
const oscar_actor_class_t osc_lifecycle_class = {
	.name       = "oscar.lifecycle",
	.state_size = sizeof(osc_lifecycle_t),
	.create     = osc_lifecycle_create,
	.destroy    = osc_lifecycle_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_lifecycle_actor_methods,
};
