// The session service: the supervisor's table of sessions, and the actor
// that creates and deletes them on every node.
//
// Design note. Creating a session asks the cluster actor for the ready
// workers, then calls every node's own actor (OSCAR_NODE_UID, the
// supervisor's included) with session_create, all at once, and waits for
// every answer. When one fails, every node runs session_destroy before the
// create fails (a node runs nothing for a session it does not hold), so a
// failed create leaves nothing behind, even on a node that answered too
// late. Deleting calls session_destroy the same way; a node
// that fails to answer is logged, and the session goes all the same.
// Create and delete hold the actor (OSCAR_DEFER_HOLD), so one runs at a
// time and has, list and other creates wait for it.
//
// Workers that become ready later: the actor watches the cluster (the
// cluster actor's "watch" method, one parked call at a time) and gives
// each worker that newly turns ready every live session, with one
// session_create call per session; a node's actor runs nothing for a
// session it already has, so giving one twice is harmless.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "oscar/oscar.h"
#include "services/cluster/cluster_int.h"
#include "services/meta/meta_int.h"
#include "services/session/session_int.h"

#define OSC_WATCH_MS       60000 // how long one parked watch waits
#define OSC_WATCH_RETRY_MS 1000  // the pause before watching again after a failure

typedef struct osc_session {
	char     id[OSCAR_SESSION_ID_MAX + 1];
	int64_t  created_ms;
	unsigned nodes;
} osc_session_t;

// The create or delete under way: one node call per target.
typedef struct osc_op {
	oscar_req_t *req;
	bool         create;
	bool         undoing; // a failed create runs session_destroy on those that succeeded
	char         id[OSCAR_SESSION_ID_MAX + 1];
	char (*targets)[OSCAR_ADDR_MAX];
	int          *codes; // per target: 0, an error, or -1 while waiting
	size_t        n;
	size_t        left;    // calls not answered
	oscar_error_t failure; // the first failure of a create
} osc_op_t;

typedef struct osc_sessions {
	osc_session_t *v; // oldest first
	size_t         cap;
	size_t         n;
	int64_t        max_sessions;
	int64_t        hook_timeout_ms;
	osc_op_t      *op;
	// The watch of the cluster: its version and the workers ready then.
	uint64_t version;
	char (*ready)[OSCAR_ADDR_MAX];
	size_t n_ready;
} osc_sessions_t;

static osc_session_t *osc_find(osc_sessions_t *st, const char *id)
{
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->v[i].id, id) == 0) {
			return (&st->v[i]);
		}
	}
	return (NULL);
}

static oscar_value_t *osc_session_value(const osc_session_t *s)
{
	oscar_value_t *m  = oscar_value_new_map(3);
	int            rv = oscar_value_map_set(m, "id", oscar_value_new_str(s->id));
	rv =
	    rv != 0 ? rv : oscar_value_map_set(m, "created_ms", oscar_value_new_int(s->created_ms));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "nodes", oscar_value_new_uint(s->nodes));
	if (rv != 0) {
		oscar_value_free(m);
		return (NULL);
	}
	return (m);
}

static void osc_op_free(osc_op_t *op)
{
	if (op != NULL) {
		free(op->targets);
		free(op->codes);
		free(op);
	}
}

static void osc_node_ref(oscar_ref_t *ref, const char *address)
{
	oscar_ref_make(ref, address, OSCAR_NODE_UID);
}

// ---------------------------------------------------------------------------
// Create and delete

static void osc_op_node_cb(oscar_actor_t *self, oscar_result_t *res, void *arg);
static void osc_give_late(oscar_actor_t *self, osc_sessions_t *st, const osc_op_t *op);
static void osc_op_finish(oscar_actor_t *self, osc_sessions_t *st);

// osc_op_call_all calls every target whose code is -1 with method. The
// count of calls left starts at one more than their number, so that a
// call failing at once cannot finish the operation inside the loop.
static void osc_op_call_all(oscar_actor_t *self, osc_sessions_t *st, int method)
{
	osc_op_t *op = st->op;
	op->left     = 1;
	for (size_t i = 0; i < op->n; i++) {
		if (op->codes[i] != -1) {
			continue;
		}
		op->left++;
		oscar_ref_t ref;
		osc_node_ref(&ref, op->targets[i]);
		int rv = oscar_req_call(op->req, &ref, osc_node_methods[method].name,
		    oscar_value_new_str(op->id), st->hook_timeout_ms, osc_op_node_cb,
		    (void *) (uintptr_t) i, NULL);
		if (rv != 0) {
			oscar_error_t  err;
			oscar_result_t res = { .code = rv, .error = &err };
			oscar_error_set(
			    &err, rv, "cannot call %s: %s", op->targets[i], oscar_strerror(rv));
			osc_op_node_cb(self, &res, (void *) (uintptr_t) i);
		}
	}
	if (--op->left == 0) {
		osc_op_finish(self, st);
	}
}

// osc_op_finish answers the request once every node answered.
static void osc_op_finish(oscar_actor_t *self, osc_sessions_t *st)
{
	osc_op_t *op = st->op;
	if (op->create && !op->undoing) {
		size_t failed = op->n;
		for (size_t i = 0; i < op->n && failed == op->n; i++) {
			failed = op->codes[i] != 0 ? i : failed;
		}
		if (failed == op->n) {
			osc_session_t *s = &st->v[st->n++]; // room was checked
			memset(s, 0, sizeof(*s));
			snprintf(s->id, sizeof(s->id), "%s", op->id);
			s->created_ms = osc_now_ms();
			s->nodes      = (unsigned) op->n;
			oscar_log(OSCAR_LOG_INFO, "session", "session %s created on %zu nodes",
			    s->id, op->n);
			oscar_req_reply(op->req, osc_session_value(s));
			st->op = NULL;
			osc_give_late(self, st, op);
			osc_op_free(op);
			return;
		}
		// Undo: every node runs session_destroy. Those that failed too:
		// one that timed out may still finish its hooks later, and its
		// destroy, queued behind them, undoes them then; on a node
		// whose hook failed, nothing is live and the destroy runs
		// nothing.
		op->undoing = true;
		for (size_t i = 0; i < op->n; i++) {
			op->codes[i] = -1;
		}
		if (!oscar_req_cancelled(op->req)) {
			osc_op_call_all(self, st, OSC_NM_DESTROY);
			return;
		}
	}
	if (op->create) {
		oscar_log(OSCAR_LOG_WARN, "session", "session %s not created: %s", op->id,
		    op->failure.message);
		oscar_req_fail(op->req, op->failure.code, "%s", op->failure.message);
	} else {
		osc_session_t *s = osc_find(st, op->id);
		if (s != NULL) {
			size_t at = (size_t) (s - st->v);
			memmove(&st->v[at], &st->v[at + 1], (st->n - at - 1) * sizeof(*st->v));
			st->n--;
		}
		oscar_log(OSCAR_LOG_INFO, "session", "session %s deleted", op->id);
		oscar_req_reply(op->req, NULL);
	}
	st->op = NULL;
	osc_op_free(op);
}

static void osc_op_node_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_sessions_t *st = oscar_actor_state(self);
	osc_op_t       *op = st->op;
	size_t          i  = (size_t) (uintptr_t) arg;
	if (op == NULL || i >= op->n) {
		return;
	}
	op->codes[i] = res->code;
	if (res->code != 0) {
		const char *why =
		    res->error != NULL ? res->error->message : oscar_strerror(res->code);
		if (op->create && !op->undoing && op->failure.code == 0) {
			oscar_error_set(&op->failure, res->code,
			    "session %s cannot be created on %s: %s", op->id, op->targets[i], why);
		} else {
			oscar_log(OSCAR_LOG_WARN, "session", "session %s: %s on %s failed: %s",
			    op->id, op->create ? "undoing a create" : "delete", op->targets[i],
			    why);
		}
	}
	if (--op->left == 0) {
		osc_op_finish(self, st);
	}
}

// osc_op_workers_cb receives the ready workers and calls every node.
static void osc_op_workers_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_sessions_t *st = oscar_actor_state(self);
	osc_op_t       *op = st->op;
	(void) arg;
	if (op == NULL) {
		return;
	}
	if (res->code != 0) {
		oscar_req_fail_result(op->req, res);
		st->op = NULL;
		osc_op_free(op);
		return;
	}
	size_t n    = 1 + oscar_value_len(res->value);
	op->targets = calloc(n, sizeof(*op->targets));
	op->codes   = calloc(n, sizeof(*op->codes));
	if (op->targets == NULL || op->codes == NULL) {
		oscar_req_fail(op->req, OSCAR_ENOMEM, "out of memory");
		st->op = NULL;
		osc_op_free(op);
		return;
	}
	snprintf(op->targets[op->n++], OSCAR_ADDR_MAX, "%s", oscar_actor_ref(self)->addr);
	for (size_t i = 0; i + 1 < n; i++) {
		const char *addr = oscar_value_map_str(oscar_value_at(res->value, i), "address");
		if (addr != NULL && strlen(addr) < OSCAR_ADDR_MAX) {
			snprintf(op->targets[op->n++], OSCAR_ADDR_MAX, "%s", addr);
		}
	}
	for (size_t i = 0; i < op->n; i++) {
		op->codes[i] = -1;
	}
	osc_op_call_all(self, st, op->create ? OSC_NM_CREATE : OSC_NM_DESTROY);
}

// osc_op_start asks the cluster actor for the ready workers, then goes on
// in osc_op_workers_cb; the request holds the actor until it is answered.
static int osc_op_start(oscar_actor_t *self, oscar_req_t *req, bool create, const char *id)
{
	osc_sessions_t *st     = oscar_actor_state(self);
	osc_op_t       *op     = calloc(1, sizeof(*op));
	oscar_value_t  *args   = oscar_value_new_array(4);
	oscar_value_t  *fields = oscar_value_new_array(1);
	if (op == NULL || args == NULL || fields == NULL) {
		free(op);
		oscar_value_free(args);
		oscar_value_free(fields);
		return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
	}
	op->req    = req;
	op->create = create;
	snprintf(op->id, sizeof(op->id), "%s", id);
	oscar_value_array_push(fields, oscar_value_new_str("address"));
	oscar_value_array_push(args, oscar_value_new_uint(OSCAR_ROLE_WORKER));
	oscar_value_array_push(args, oscar_value_new_uint(OSCAR_NODE_READY));
	oscar_value_array_push(args, oscar_value_new_nil());
	oscar_value_array_push(args, fields);
	oscar_ref_t cluster;
	oscar_ref_make(&cluster, oscar_actor_ref(self)->addr, OSCAR_CLUSTER_UID);
	st->op = op;
	int rv = oscar_req_call(req, &cluster, osc_cl_name(OSC_CL_NODES), args, st->hook_timeout_ms,
	    osc_op_workers_cb, NULL, NULL);
	if (rv != 0) {
		st->op = NULL;
		osc_op_free(op);
		return (oscar_req_fail(
		    req, rv, "cannot ask the cluster for its workers: %s", oscar_strerror(rv)));
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

// osc_generate_id makes a random session id of 16 hex digits.
static void osc_generate_id(char *id, size_t size)
{
	uint64_t r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		r = (uint64_t) osc_mono_ms() * UINT64_C(6364136223846793005) +
		    (uint64_t) osc_now_ms();
	}
	snprintf(id, size, "%016llx", (unsigned long long) r);
}

static int osc_sm_create(oscar_actor_t *self, oscar_req_t *req)
{
	osc_sessions_t      *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const oscar_value_t *idv  = oscar_value_map_get(args, "id");
	bool                 ine  = oscar_value_map_bool(args, "if_not_exists", false);
	char                 id[OSCAR_SESSION_ID_MAX + 1];
	if (idv == NULL || idv->type == OSCAR_NIL) {
		do {
			osc_generate_id(id, sizeof(id));
		} while (osc_find(st, id) != NULL);
	} else {
		const char *s;
		size_t      len;
		if (oscar_value_get_str(idv, &s, &len) != 0 || !osc_session_id_ok(s, len) ||
		    strlen(s) != len) {
			return (oscar_req_fail(req, OSCAR_EINVAL,
			    "a session id is 1 to %d bytes of [A-Za-z0-9._-]",
			    OSCAR_SESSION_ID_MAX));
		}
		snprintf(id, sizeof(id), "%s", s);
		const osc_session_t *have = osc_find(st, id);
		if (have != NULL) {
			if (ine) {
				oscar_value_t *v = osc_session_value(have);
				return (v != NULL ? oscar_req_reply(req, v) : OSCAR_ENOMEM);
			}
			return (oscar_req_fail(req, OSCAR_EEXIST, "session %s exists already", id));
		}
	}
	if ((int64_t) st->n >= st->max_sessions) {
		return (oscar_req_fail(req, OSCAR_ESTATE,
		    "the cluster holds %zu sessions, its most (session.max_sessions)", st->n));
	}
	if (st->n == st->cap) {
		// Room for the new session before any node runs a hook.
		size_t         cap = st->cap * 2;
		osc_session_t *v   = realloc(st->v, cap * sizeof(*v));
		if (v == NULL) {
			return (oscar_req_fail(req, OSCAR_ENOMEM, "out of memory"));
		}
		st->v   = v;
		st->cap = cap;
	}
	return (osc_op_start(self, req, true, id));
}

static int osc_sm_has(oscar_actor_t *self, oscar_req_t *req)
{
	osc_sessions_t *st = oscar_actor_state(self);
	const char     *id;
	size_t          len;
	oscar_value_get_str(oscar_req_args(req), &id, &len);
	return (oscar_req_reply(
	    req, oscar_value_new_bool(strlen(id) == len && osc_find(st, id) != NULL)));
}

static int osc_sm_delete(oscar_actor_t *self, oscar_req_t *req)
{
	osc_sessions_t      *st   = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	const char          *id   = oscar_value_map_str(args, "id");
	if (id == NULL) {
		return (
		    oscar_req_fail(req, OSCAR_EBADARGS, "delete takes {id: str, if_exists: bool}"));
	}
	if (osc_find(st, id) == NULL) {
		if (oscar_value_map_bool(args, "if_exists", false)) {
			return (oscar_req_reply(req, NULL));
		}
		return (oscar_req_fail(req, OSCAR_ENOENT, "no such session %s", id));
	}
	return (osc_op_start(self, req, false, id));
}

// A list under way: each session's meta is asked how many entries it
// holds, all at once, and the list is answered when every one is back.
typedef struct osc_listing osc_listing_t;
typedef struct osc_list_item {
	osc_listing_t *listing;
	size_t         i;
} osc_list_item_t;

struct osc_listing {
	oscar_req_t     *req;
	oscar_value_t   *list;
	size_t           left;
	osc_list_item_t *items;
};

static void osc_listing_end(osc_listing_t *l)
{
	oscar_req_reply(l->req, l->list);
	free(l->items);
	free(l);
}

// osc_list_count_cb adds a session's object count to its map; a session
// whose meta does not answer (a supervisor not running meta) has none.
static void osc_list_count_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_list_item_t *item = arg;
	osc_listing_t   *l    = item->listing;
	uint64_t         n;
	(void) self;
	if (res->code == 0 && oscar_value_get_uint(res->value, &n) == 0) {
		oscar_value_t *m = (oscar_value_t *) oscar_value_at(l->list, item->i);
		oscar_value_map_set(m, "objects", oscar_value_new_uint(n));
	}
	if (--l->left == 0) {
		osc_listing_end(l);
	}
}

static int osc_sm_list(oscar_actor_t *self, oscar_req_t *req)
{
	osc_sessions_t *st   = oscar_actor_state(self);
	oscar_value_t  *list = oscar_value_new_array(st->n);
	for (size_t i = 0; list != NULL && i < st->n; i++) {
		if (oscar_value_array_push(list, osc_session_value(&st->v[i])) != 0) {
			oscar_value_free(list);
			list = NULL;
		}
	}
	if (list == NULL) {
		return (OSCAR_ENOMEM);
	}
	osc_listing_t *l = st->n > 0 ? calloc(1, sizeof(*l)) : NULL;
	if (l == NULL || (l->items = calloc(st->n, sizeof(*l->items))) == NULL) {
		free(l);
		return (oscar_req_reply(req, list)); // no counts: none, or no memory for them
	}
	l->req  = req;
	l->list = list;
	l->left = 1; // until every call is made
	for (size_t i = 0; i < st->n; i++) {
		char        uid[OSCAR_UID_MAX];
		oscar_ref_t meta;
		l->items[i] = (osc_list_item_t) { l, i };
		if (osc_session_uid(uid, OSCAR_META_UID_PREFIX, st->v[i].id) != 0 ||
		    oscar_ref_make(&meta, oscar_actor_ref(self)->addr, uid) != 0) {
			continue;
		}
		l->left++;
		if (oscar_req_call(req, &meta, osc_meta_methods[OSC_MM_COUNT].name, NULL,
		        st->hook_timeout_ms, osc_list_count_cb, &l->items[i], NULL) != 0) {
			l->left--;
		}
	}
	if (--l->left == 0) {
		osc_listing_end(l);
		return (0);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

// ---------------------------------------------------------------------------
// Watching the cluster

static void osc_watch(oscar_actor_t *self);

static void osc_give_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	(void) self;
	(void) arg;
	if (res->code != 0 && res->code != OSCAR_ECANCELED && res->code != OSCAR_ECLOSED) {
		oscar_log(OSCAR_LOG_WARN, "session", "cannot give a session to a worker: %s",
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
	}
}

// osc_give gives session id to the worker at address.
static void osc_give(oscar_actor_t *self, osc_sessions_t *st, const char *address, const char *id)
{
	oscar_ref_t ref;
	osc_node_ref(&ref, address);
	oscar_actor_call(self, &ref, osc_node_methods[OSC_NM_CREATE].name, oscar_value_new_str(id),
	    st->hook_timeout_ms, osc_give_cb, NULL, NULL);
}

// osc_give_sessions gives every live session to the worker at address.
static void osc_give_sessions(oscar_actor_t *self, osc_sessions_t *st, const char *address)
{
	if (st->n > 0) {
		oscar_log(
		    OSCAR_LOG_INFO, "session", "giving %zu sessions to worker %s", st->n, address);
	}
	for (size_t i = 0; i < st->n; i++) {
		if (st->op != NULL && !st->op->create && strcmp(st->op->id, st->v[i].id) == 0) {
			continue; // being deleted
		}
		osc_give(self, st, address, st->v[i].id);
	}
}

// osc_give_late gives the session op created to the workers the watch
// saw turn ready after the create asked for the ready workers.
static void osc_give_late(oscar_actor_t *self, osc_sessions_t *st, const osc_op_t *op)
{
	for (size_t i = 0; i < st->n_ready; i++) {
		bool called = false;
		for (size_t j = 0; j < op->n && !called; j++) {
			called = strcmp(op->targets[j], st->ready[i]) == 0;
		}
		if (!called) {
			osc_give(self, st, st->ready[i], op->id);
		}
	}
}

static void osc_watch_again_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	(void) arg;
	if (res->code == 0) {
		osc_watch(self);
	}
}

static void osc_watch_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_sessions_t *st = oscar_actor_state(self);
	(void) arg;
	if (res->code == OSCAR_ECANCELED || res->code == OSCAR_ECLOSED) {
		return; // the actor or its pool is going away
	}
	const oscar_value_t *nodes = oscar_value_at(res->value, 1);
	if (res->code != 0 || nodes == NULL || nodes->type != OSCAR_ARRAY) {
		oscar_actor_after(self, OSC_WATCH_RETRY_MS, osc_watch_again_cb, NULL, NULL);
		return;
	}
	st->version                  = oscar_value_at_uint(res->value, 0, 0);
	size_t n                     = oscar_value_len(nodes);
	char(*ready)[OSCAR_ADDR_MAX] = calloc(n + 1, sizeof(*ready));
	size_t n_ready               = 0;
	for (size_t i = 0; ready != NULL && i < n; i++) {
		const oscar_value_t *m      = oscar_value_at(nodes, i);
		const char          *addr   = oscar_value_map_str(m, "address");
		const char          *role   = oscar_value_map_str(m, "role");
		const char          *status = oscar_value_map_str(m, "status");
		if (addr == NULL || role == NULL || status == NULL || strcmp(role, "worker") != 0 ||
		    strcmp(status, "ready") != 0 || strlen(addr) >= OSCAR_ADDR_MAX) {
			continue;
		}
		bool known = false;
		for (size_t j = 0; j < st->n_ready && !known; j++) {
			known = strcmp(st->ready[j], addr) == 0;
		}
		if (!known) {
			osc_give_sessions(self, st, addr);
		}
		snprintf(ready[n_ready++], OSCAR_ADDR_MAX, "%s", addr);
	}
	if (ready != NULL) {
		free(st->ready);
		st->ready   = ready;
		st->n_ready = n_ready;
	}
	osc_watch(self);
}

// osc_watch parks a watch call on the cluster actor.
static void osc_watch(oscar_actor_t *self)
{
	osc_sessions_t *st   = oscar_actor_state(self);
	oscar_value_t  *args = oscar_value_new_array(2);
	oscar_value_array_push(args, oscar_value_new_uint(st->version));
	oscar_value_array_push(args, oscar_value_new_uint(OSC_WATCH_MS));
	oscar_ref_t cluster;
	oscar_ref_make(&cluster, oscar_actor_ref(self)->addr, OSCAR_CLUSTER_UID);
	int rv = oscar_actor_call(self, &cluster, osc_cl_name(OSC_CL_WATCH), args,
	    OSC_WATCH_MS + 5000, osc_watch_cb, NULL, NULL);
	if (rv != 0) {
		oscar_actor_after(self, OSC_WATCH_RETRY_MS, osc_watch_again_cb, NULL, NULL);
	}
}

// ---------------------------------------------------------------------------
// The actor

static int osc_sessions_create_hook(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_sessions_t *st  = oscar_actor_state(self);
	st->max_sessions    = oscar_value_map_int(args, "max_sessions", 10000);
	st->hook_timeout_ms = oscar_value_map_int(args, "hook_timeout_ms", 30000);
	st->cap             = 16;
	st->v               = calloc(st->cap, sizeof(*st->v));
	if (st->v == NULL) {
		return (OSCAR_ENOMEM);
	}
	return (oscar_actor_after(self, 0, osc_watch_again_cb, NULL, NULL));
}

static void osc_sessions_destroy_hook(oscar_actor_t *self)
{
	osc_sessions_t *st = oscar_actor_state(self);
	osc_op_free(st->op); // its request was failed before this hook
	free(st->v);
	free(st->ready);
}

OSC_METHOD_TABLES(OSC_SESSION_METHODS, osc_session_methods, OSC_SM_N, osc_sessions_methods);

// Protected: no other pool may destroy or replace a service actor.
const oscar_actor_class_t osc_sessions_class = {
	.name       = "oscar.sessions",
	.state_size = sizeof(osc_sessions_t),
	.create     = osc_sessions_create_hook,
	.destroy    = osc_sessions_destroy_hook,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_sessions_methods,
};
