// The cluster service, supervisor side: the node registry.
//
// One actor (OSCAR_CLUSTER_UID in the supervisor's main pool) holds an
// entry per node: the info map the node last sent, its status, when it
// registered and when it was last heard from. A periodic check marks
// workers not heard from within the dead timeout as dead. Every change
// bumps the registry's version and answers the requests waiting on it:
// watches (a newer version) and waits for N ready workers. Those are
// deferred with OSCAR_DEFER_YIELD, so queries go on meanwhile, and each
// has a timer that answers it when its own timeout passes first.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "services/cluster/cluster_int.h"

typedef struct osc_entry {
	char                address[OSCAR_ADDR_MAX];
	oscar_role_t        role;
	oscar_node_status_t status;
	oscar_value_t      *info; // as the node sent it
	int64_t             registered_ms;
	int64_t             heard_ms;   // Unix time
	int64_t             heard_mono; // monotonic, for the dead check
} osc_entry_t;

typedef enum osc_wait_kind { OSC_WAIT_WORKERS, OSC_WAIT_WATCH, OSC_WAIT_STOP } osc_wait_kind_t;

typedef struct osc_waiter {
	struct osc_waiter *next;
	osc_wait_kind_t    kind;
	oscar_req_t       *req;
	uint64_t           want;  // workers ready, or a version to pass
	uint64_t           timer; // answers the request when its time is up
	bool               done;
} osc_waiter_t;

typedef struct osc_csup {
	oscar_node_t          *node;
	osc_cluster_settings_t cfg;
	osc_entry_t           *nodes;
	size_t                 n;
	size_t                 cap;
	uint64_t               version;
	osc_waiter_t          *waiters;
	uint64_t               check_timer;
	bool                   stopping; // stop_cluster is under way
} osc_csup_t;

static const char *const osc_status_names[] = { "starting", "ready", "stopping", "dead" };

const char *oscar_node_status_name(oscar_node_status_t status)
{
	for (unsigned i = 0; i < 4; i++) {
		if (status == (1u << i)) {
			return (osc_status_names[i]);
		}
	}
	return ("?");
}

oscar_node_status_t osc_status_from_name(const char *name)
{
	for (unsigned i = 0; name != NULL && i < 4; i++) {
		if (strcmp(name, osc_status_names[i]) == 0) {
			return ((oscar_node_status_t) (1u << i));
		}
	}
	return ((oscar_node_status_t) 0);
}

// ---------------------------------------------------------------------------
// Entries

static osc_entry_t *osc_entry_find(osc_csup_t *st, const char *address)
{
	for (size_t i = 0; address != NULL && i < st->n; i++) {
		if (strcmp(st->nodes[i].address, address) == 0) {
			return (&st->nodes[i]);
		}
	}
	return (NULL);
}

static osc_entry_t *osc_entry_add(osc_csup_t *st, const char *address, oscar_role_t role)
{
	if (osc_reserve(&st->nodes, &st->cap, st->n, sizeof(*st->nodes), 16) != 0) {
		return (NULL);
	}
	osc_entry_t *e = &st->nodes[st->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->address, sizeof(e->address), "%s", address);
	e->role          = role;
	e->registered_ms = osc_now_ms();
	return (e);
}

static void osc_entry_remove(osc_csup_t *st, osc_entry_t *e)
{
	oscar_value_free(e->info);
	size_t i = (size_t) (e - st->nodes);
	memmove(&st->nodes[i], &st->nodes[i + 1], (st->n - i - 1) * sizeof(*e));
	st->n--;
}

static void osc_entry_heard(osc_entry_t *e, oscar_value_t *info)
{
	oscar_value_free(e->info);
	e->info       = info;
	e->heard_ms   = osc_now_ms();
	e->heard_mono = osc_mono_ms();
}

static size_t osc_count(const osc_csup_t *st, unsigned roles, unsigned statuses)
{
	size_t n = 0;
	for (size_t i = 0; i < st->n; i++) {
		n += (st->nodes[i].role & roles) != 0 &&
		     (statuses == 0 || (st->nodes[i].status & statuses) != 0);
	}
	return (n);
}

// osc_entry_value renders an entry for a query: the node's own info with
// the registry's fields over it, keeping only fields (when given).
static oscar_value_t *osc_entry_value(const osc_entry_t *e, const oscar_value_t *fields)
{
	oscar_value_t *all = e->info != NULL ? oscar_value_copy(e->info) : oscar_value_new_map(8);
	if (all == NULL) {
		return (NULL);
	}
	int rv = oscar_value_map_set(all, "address", oscar_value_new_str(e->address));
	rv     = rv != 0 ? rv : oscar_value_map_set(all, "role",
                                    oscar_value_new_str(oscar_role_name(e->role)));
	rv     = rv != 0 ? rv : oscar_value_map_set(all, "status",
                                    oscar_value_new_str(oscar_node_status_name(e->status)));
	rv     = rv != 0 ? rv : oscar_value_map_set(all, "registered_ms",
                                    oscar_value_new_int(e->registered_ms));
	rv = rv != 0 ? rv : oscar_value_map_set(all, "heartbeat_ms", oscar_value_new_int(e->heard_ms));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(all, "heartbeat_age_ms",
	                   oscar_value_new_int(osc_mono_ms() - e->heard_mono));
	if (rv != 0 || fields == NULL || fields->type != OSCAR_ARRAY) {
		if (rv != 0) {
			oscar_value_free(all);
			return (NULL);
		}
		return (all);
	}
	oscar_value_t *some = oscar_value_new_map(oscar_value_len(fields));
	for (size_t i = 0; some != NULL && i < oscar_value_len(fields); i++) {
		const char *name;
		size_t      len;
		if (oscar_value_get_str(oscar_value_at(fields, i), &name, &len) != 0) {
			continue;
		}
		const oscar_value_t *v = oscar_value_map_get(all, name);
		if (v != NULL && oscar_value_map_set(some, name, oscar_value_copy(v)) != 0) {
			oscar_value_free(some);
			some = NULL;
		}
	}
	oscar_value_free(all);
	return (some);
}

// osc_nodes_value lists the nodes with one of roles and statuses:
// supervisors first, then workers, each in registration order.
static oscar_value_t *osc_nodes_value(
    const osc_csup_t *st, unsigned roles, unsigned statuses, const oscar_value_t *fields)
{
	oscar_value_t *list = oscar_value_new_array(st->n);
	for (int pass = 0; pass < 2 && list != NULL; pass++) {
		oscar_role_t role = pass == 0 ? OSCAR_ROLE_SUPERVISOR : OSCAR_ROLE_WORKER;
		for (size_t i = 0; i < st->n && list != NULL; i++) {
			const osc_entry_t *e = &st->nodes[i];
			if (e->role != role || (role & roles) == 0 ||
			    (statuses != 0 && (e->status & statuses) == 0)) {
				continue;
			}
			oscar_value_t *v = osc_entry_value(e, fields);
			if (v == NULL || oscar_value_array_push(list, v) != 0) {
				oscar_value_free(list);
				list = NULL;
			}
		}
	}
	return (list);
}

// ---------------------------------------------------------------------------
// Waiting requests

static void osc_waiter_unlink(osc_csup_t *st, osc_waiter_t *w)
{
	for (osc_waiter_t **p = &st->waiters; *p != NULL; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			return;
		}
	}
}

static void osc_stop_node(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	if (res->code == 0) {
		osc_csup_t *st = oscar_actor_state(self);
		oscar_node_request_stop(st->node);
	}
}

// osc_waiter_retire takes w out of the list; a stop_cluster request that
// is answered stops the supervisor itself a moment later, once the reply
// is on its way.
static void osc_waiter_retire(oscar_actor_t *self, osc_csup_t *st, osc_waiter_t *w)
{
	osc_waiter_unlink(st, w);
	if (w->kind == OSC_WAIT_STOP) {
		oscar_actor_after(self, 50, osc_stop_node, NULL, NULL);
	}
}

// osc_waiter_answer replies to w's request with value and retires w; its
// timer, cancelled here, frees it.
static void osc_waiter_answer(
    oscar_actor_t *self, osc_csup_t *st, osc_waiter_t *w, oscar_value_t *value)
{
	w->done = true;
	osc_waiter_retire(self, st, w);
	oscar_req_reply(w->req, value);
	oscar_actor_cancel(self, w->timer);
}

static oscar_value_t *osc_watch_value(const osc_csup_t *st)
{
	oscar_value_t *pair  = oscar_value_new_array(2);
	oscar_value_t *nodes = osc_nodes_value(st, OSCAR_ROLES_ALL, 0, NULL);
	if (pair == NULL || nodes == NULL ||
	    oscar_value_array_push(pair, oscar_value_new_uint(st->version)) != 0) {
		oscar_value_free(pair);
		oscar_value_free(nodes);
		return (NULL);
	}
	if (oscar_value_array_push(pair, nodes) != 0) {
		oscar_value_free(pair);
		return (NULL);
	}
	return (pair);
}

// osc_waiters_check answers every waiter whose condition now holds.
static void osc_waiters_check(oscar_actor_t *self, osc_csup_t *st)
{
	size_t        ready   = osc_count(st, OSCAR_ROLE_WORKER, OSCAR_NODE_READY);
	// Dead workers will not deregister: a stop does not wait for them.
	size_t workers = osc_count(st, OSCAR_ROLE_WORKER,
	    OSCAR_NODE_STARTING | OSCAR_NODE_READY | OSCAR_NODE_STOPPING);
	osc_waiter_t *next;
	for (osc_waiter_t *w = st->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->kind == OSC_WAIT_WORKERS && ready >= w->want) {
			osc_waiter_answer(self, st, w, oscar_value_new_uint(ready));
		} else if (w->kind == OSC_WAIT_WATCH && st->version > w->want) {
			osc_waiter_answer(self, st, w, osc_watch_value(st));
		} else if (w->kind == OSC_WAIT_STOP && workers == 0) {
			osc_waiter_answer(self, st, w, oscar_value_new_uint(w->want));
		}
	}
}

static void osc_changed(oscar_actor_t *self, osc_csup_t *st)
{
	st->version++;
	osc_waiters_check(self, st);
}

static void osc_waiter_timeout(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_waiter_t *w = arg;
	if (!w->done) {
		osc_csup_t *st = oscar_actor_state(self);
		osc_waiter_retire(self, st, w);
		if (res->code == 0) {
			size_t ready = osc_count(st, OSCAR_ROLE_WORKER, OSCAR_NODE_READY);
			switch (w->kind) {
			case OSC_WAIT_WORKERS:
				oscar_req_fail(w->req, OSCAR_ETIMEDOUT,
				    "%zu of the %" PRIu64 " workers wanted are ready", ready, w->want);
				break;
			case OSC_WAIT_WATCH:
				oscar_req_fail(w->req, OSCAR_ETIMEDOUT,
				    "the cluster did not change after version %" PRIu64, w->want);
				break;
			case OSC_WAIT_STOP:
				oscar_req_fail(w->req, OSCAR_ETIMEDOUT,
				    "%zu of the %" PRIu64 " workers told to stop had not left when the "
				    "time was up; the supervisor stops anyway",
				    osc_count(st, OSCAR_ROLE_WORKER,
				        OSCAR_NODE_STARTING | OSCAR_NODE_READY | OSCAR_NODE_STOPPING),
				    w->want);
				break;
			}
		}
	}
	free(w);
}

// osc_wait defers req until the condition of kind holds or timeout_ms
// passes.
static int osc_wait(oscar_actor_t *self, oscar_req_t *req, osc_wait_kind_t kind, uint64_t want,
    int64_t timeout_ms)
{
	osc_csup_t   *st = oscar_actor_state(self);
	osc_waiter_t *w  = calloc(1, sizeof(*w));
	if (w == NULL) {
		return (OSCAR_ENOMEM);
	}
	// A timeout from the wire may be anything: past ~35 years (or cast
	// negative from a huge unsigned) it means "as long as the caller waits".
	if (timeout_ms < 0 || timeout_ms > (INT64_C(1) << 50)) {
		timeout_ms = INT64_C(1) << 50;
	}
	w->kind = kind;
	w->req  = req;
	w->want = want;
	int rv  = oscar_actor_after(self, timeout_ms, osc_waiter_timeout, w, &w->timer);
	if (rv != 0) {
		free(w);
		return (rv);
	}
	w->next     = st->waiters;
	st->waiters = w;
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	osc_waiters_check(self, st); // it may hold already
	return (0);
}

// ---------------------------------------------------------------------------
// The dead check

static void osc_check(oscar_actor_t *self, oscar_result_t *res, void *arg);

static void osc_check_schedule(oscar_actor_t *self, osc_csup_t *st)
{
	int64_t every = st->cfg.dead_timeout_ms / 4;
	every         = every < st->cfg.heartbeat_ms ? every : st->cfg.heartbeat_ms;
	every         = every > 10 ? every : 10;
	if (oscar_actor_after(self, every, osc_check, NULL, &st->check_timer) != 0) {
		oscar_log(OSCAR_LOG_ERROR, "cluster", "cannot arm the dead-node check");
	}
}

static void osc_check(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	if (res->code != 0) {
		return; // the actor or the pool is going
	}
	osc_csup_t *st      = oscar_actor_state(self);
	int64_t     now     = osc_mono_ms();
	bool        changed = false;
	for (size_t i = 0; i < st->n; i++) {
		osc_entry_t *e = &st->nodes[i];
		if (e->role == OSCAR_ROLE_SUPERVISOR) {
			osc_entry_heard(e, osc_node_info_value(st->node)); // itself: always current
			continue;
		}
		if (e->status != OSCAR_NODE_DEAD && now - e->heard_mono > st->cfg.dead_timeout_ms) {
			oscar_log(OSCAR_LOG_WARN, "cluster",
			    "worker %s not heard from for %" PRId64 " ms: marked dead", e->address,
			    now - e->heard_mono);
			e->status = OSCAR_NODE_DEAD;
			changed   = true;
		}
	}
	if (changed) {
		osc_changed(self, st);
	}
	osc_check_schedule(self, st);
}

// ---------------------------------------------------------------------------
// Methods

static int osc_m_register(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t          *st   = oscar_actor_state(self);
	const oscar_value_t *info = oscar_req_args(req);
	const char          *addr = oscar_value_map_str(info, "address");
	if (addr == NULL || strlen(addr) >= OSCAR_ADDR_MAX) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "register needs a map with an address"));
	}
	osc_entry_t *e     = osc_entry_find(st, addr);
	bool         again = e != NULL;
	if (e == NULL && (e = osc_entry_add(st, addr, OSCAR_ROLE_WORKER)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if (again && e->role != OSCAR_ROLE_WORKER) {
		return (oscar_req_fail(req, OSCAR_EEXIST, "%s is the supervisor's address", addr));
	}
	// A register the worker sent while this supervisor was away may come
	// late, after one sent since: the same process again is no news.
	bool same = again && e->status != OSCAR_NODE_DEAD &&
	            oscar_value_map_int(e->info, "pid", -1) == oscar_value_map_int(info, "pid", -2);
	oscar_log(same ? OSCAR_LOG_DEBUG : OSCAR_LOG_INFO, "cluster",
	    "worker %s %s (%" PRId64 " cores, pid %" PRId64 ")", addr,
	    again ? "registered again" : "registered", oscar_value_map_int(info, "cores", 0),
	    oscar_value_map_int(info, "pid", 0));
	// A worker whose other services are still starting says so.
	bool starting = osc_status_from_name(oscar_value_map_str(info, "status")) == OSCAR_NODE_STARTING;
	e->status     = st->stopping ? OSCAR_NODE_STOPPING
	                : starting   ? OSCAR_NODE_STARTING
	                             : OSCAR_NODE_READY;
	osc_entry_heard(e, oscar_req_take_args(req));
	osc_changed(self, st);

	oscar_value_t *reply = oscar_value_new_map(2);
	if (reply != NULL) {
		oscar_value_map_set(reply, "heartbeat_ms", oscar_value_new_int(st->cfg.heartbeat_ms));
		oscar_value_map_set(reply, "version", oscar_value_new_uint(st->version));
	}
	if (st->stopping) {
		// Registered while the cluster stops: stop it too.
		oscar_ref_t ref;
		if (oscar_ref_make(&ref, addr, OSCAR_CLUSTER_UID) == 0) {
			oscar_actor_tell(self, &ref, osc_clw_name(OSC_CLW_STOP), NULL);
		}
	}
	return (oscar_req_reply(req, reply));
}

static int osc_m_heartbeat(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t          *st   = oscar_actor_state(self);
	const oscar_value_t *info = oscar_req_args(req);
	osc_entry_t         *e    = osc_entry_find(st, oscar_value_map_str(info, "address"));
	if (e == NULL || e->role != OSCAR_ROLE_WORKER || e->status == OSCAR_NODE_DEAD) {
		// Unknown (the supervisor restarted) or given up on: the worker
		// registers again, which is a change watchers see.
		return (oscar_req_fail(req, OSCAR_ENOENT, "not registered; register again"));
	}
	bool changed = oscar_value_map_int(e->info, "slots", -1) != oscar_value_map_int(info, "slots", -1);
	if (e->status == OSCAR_NODE_STARTING &&
	    osc_status_from_name(oscar_value_map_str(info, "status")) == OSCAR_NODE_READY) {
		e->status = OSCAR_NODE_READY;
		changed   = true;
	}
	osc_entry_heard(e, oscar_req_take_args(req));
	if (changed) {
		osc_changed(self, st);
	}
	return (0);
}

static int osc_m_deregister(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t  *st = oscar_actor_state(self);
	const char  *addr;
	size_t       len;
	osc_entry_t *e = NULL;
	if (oscar_value_get_str(oscar_req_args(req), &addr, &len) == 0) {
		e = osc_entry_find(st, addr);
	}
	if (e == NULL || e->role != OSCAR_ROLE_WORKER) {
		return (oscar_req_fail(req, OSCAR_ENOENT, "no worker registered at that address"));
	}
	oscar_log(OSCAR_LOG_INFO, "cluster", "worker %s left", e->address);
	osc_entry_remove(st, e);
	osc_changed(self, st);
	return (0);
}

// osc_addresses_known fails req when one of addresses is not registered.
static int osc_addresses_known(osc_csup_t *st, oscar_req_t *req, const oscar_value_t *addresses)
{
	for (size_t i = 0; i < oscar_value_len(addresses); i++) {
		const char *addr;
		size_t      len;
		if (oscar_value_get_str(oscar_value_at(addresses, i), &addr, &len) != 0) {
			return (oscar_req_fail(req, OSCAR_EBADARGS, "addresses must be strings"));
		}
		if (osc_entry_find(st, addr) == NULL) {
			return (oscar_req_fail(req, OSCAR_ENOENT, "no node registered at %s", addr));
		}
	}
	return (0);
}

static int osc_m_nodes(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t          *st        = oscar_actor_state(self);
	unsigned             roles     = (unsigned) oscar_value_at_uint(oscar_req_args(req), 0, OSCAR_ROLES_ALL);
	unsigned             statuses  = (unsigned) oscar_value_at_uint(oscar_req_args(req), 1, 0);
	const oscar_value_t *addresses = oscar_req_arg(req, 2);
	const oscar_value_t *fields    = oscar_req_arg(req, 3);
	if (addresses == NULL || addresses->type != OSCAR_ARRAY) {
		oscar_value_t *list = osc_nodes_value(st, roles, statuses, fields);
		return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
	}
	int rv = osc_addresses_known(st, req, addresses);
	if (rv != 0) {
		return (rv);
	}
	oscar_value_t *list = oscar_value_new_array(oscar_value_len(addresses));
	for (size_t i = 0; list != NULL && i < oscar_value_len(addresses); i++) {
		const char *addr;
		size_t      len;
		oscar_value_get_str(oscar_value_at(addresses, i), &addr, &len);
		oscar_value_t *v = osc_entry_value(osc_entry_find(st, addr), fields);
		if (v == NULL || oscar_value_array_push(list, v) != 0) {
			oscar_value_free(list);
			list = NULL;
		}
	}
	return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
}

static int osc_m_count(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t *st       = oscar_actor_state(self);
	unsigned    roles    = (unsigned) oscar_value_at_uint(oscar_req_args(req), 0, OSCAR_ROLES_ALL);
	unsigned    statuses = (unsigned) oscar_value_at_uint(oscar_req_args(req), 1, 0);
	return (oscar_req_reply(req, oscar_value_new_uint(osc_count(st, roles, statuses))));
}

static int osc_m_wait(oscar_actor_t *self, oscar_req_t *req)
{
	uint64_t n       = oscar_value_at_uint(oscar_req_args(req), 0, 1);
	uint64_t timeout = oscar_value_at_uint(oscar_req_args(req), 1, 30000);
	return (osc_wait(self, req, OSC_WAIT_WORKERS, n, (int64_t) timeout));
}

static int osc_m_watch(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t *st      = oscar_actor_state(self);
	uint64_t    version = oscar_value_at_uint(oscar_req_args(req), 0, 0);
	uint64_t    timeout = oscar_value_at_uint(oscar_req_args(req), 1, 30000);
	// Any other version answers at once: a supervisor that restarted
	// counts from 1 again, and its watchers must not wait for it.
	if (version != st->version) {
		oscar_value_t *v = osc_watch_value(st);
		return (v != NULL ? oscar_req_reply(req, v) : OSCAR_ENOMEM);
	}
	return (osc_wait(self, req, OSC_WAIT_WATCH, version, (int64_t) timeout));
}

// osc_tell_workers sends the worker method id to every live worker; gives
// how many.
static uint64_t osc_tell_workers(oscar_actor_t *self, osc_csup_t *st, int id)
{
	uint64_t told = 0;
	for (size_t i = 0; i < st->n; i++) {
		osc_entry_t *e = &st->nodes[i];
		oscar_ref_t  ref;
		if (e->role != OSCAR_ROLE_WORKER || e->status == OSCAR_NODE_DEAD ||
		    oscar_ref_make(&ref, e->address, OSCAR_CLUSTER_UID) != 0) {
			continue;
		}
		if (id == OSC_CLW_STOP) {
			e->status = OSCAR_NODE_STOPPING;
		}
		told += oscar_actor_tell(self, &ref, osc_clw_name(id), NULL) == 0;
	}
	return (told);
}

static int osc_m_stop(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t *st      = oscar_actor_state(self);
	uint64_t    timeout = 10000;
	oscar_value_get_uint(oscar_req_args(req), &timeout);
	// Dead workers will not answer: forget them now.
	for (size_t i = st->n; i-- > 0;) {
		if (st->nodes[i].status == OSCAR_NODE_DEAD) {
			osc_entry_remove(st, &st->nodes[i]);
		}
	}
	st->stopping  = true;
	uint64_t told = osc_tell_workers(self, st, OSC_CLW_STOP);
	oscar_log(OSCAR_LOG_INFO, "cluster", "stopping the cluster; workers told: %" PRIu64, told);
	osc_changed(self, st);
	return (osc_wait(self, req, OSC_WAIT_STOP, told, (int64_t) timeout));
}

// going_away: the supervisor stops. Each live worker is told with a call,
// not a one-way message, so that the supervisor's pool stays up until
// every worker has heard it (or a second has passed).
typedef struct osc_farewell {
	oscar_req_t *req;
	uint64_t     waiting;
	uint64_t     told;
} osc_farewell_t;

static void osc_farewell_done(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_farewell_t *f = arg;
	f->told += res->code == 0;
	if (--f->waiting == 0) {
		oscar_req_reply(f->req, oscar_value_new_uint(f->told));
		free(f);
	}
}

static int osc_m_going_away(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t     *st = oscar_actor_state(self);
	osc_farewell_t *f  = calloc(1, sizeof(*f));
	if (f == NULL) {
		return (OSCAR_ENOMEM);
	}
	f->req     = req;
	f->waiting = 1; // held until every call is made
	for (size_t i = 0; i < st->n; i++) {
		const osc_entry_t *e = &st->nodes[i];
		oscar_ref_t        ref;
		if (e->role != OSCAR_ROLE_WORKER || e->status == OSCAR_NODE_DEAD ||
		    oscar_ref_make(&ref, e->address, OSCAR_CLUSTER_UID) != 0) {
			continue;
		}
		f->waiting++;
		if (oscar_actor_call(self, &ref, osc_clw_name(OSC_CLW_SUP_GONE), NULL, 1000, osc_farewell_done, f,
		        NULL) != 0) {
			f->waiting--;
		}
	}
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	oscar_result_t none = { .code = OSCAR_ECANCELED };
	osc_farewell_done(self, &none, f);
	return (0);
}

// ---------------------------------------------------------------------------
// The class

static int osc_csup_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_csup_t *st = oscar_actor_state(self);
	(void) args;
	st->node = oscar_node_of_actor(self);
	if (st->node == NULL) {
		return (OSCAR_ESTATE); // only a node's cluster service creates it
	}
	int rv = osc_cluster_settings(oscar_node_settings(st->node), &st->cfg, NULL);
	if (rv != 0) {
		return (rv);
	}
	st->version     = 1;
	osc_entry_t *me = osc_entry_add(st, oscar_node_address(st->node), OSCAR_ROLE_SUPERVISOR);
	if (me == NULL) {
		return (OSCAR_ENOMEM);
	}
	me->status = OSCAR_NODE_READY;
	osc_entry_heard(me, osc_node_info_value(st->node));
	osc_check_schedule(self, st);
	return (0);
}

static void osc_csup_destroy(oscar_actor_t *self)
{
	osc_csup_t *st = oscar_actor_state(self);
	for (size_t i = 0; i < st->n; i++) {
		oscar_value_free(st->nodes[i].info);
	}
	free(st->nodes);
}

#define OSC_SPEC_(id, name, fn, args, reply) [OSC_CL_##id] = { name, fn, args, reply },
const osc_method_spec_t osc_cluster_sup_methods[OSC_CL_N] = {
	OSC_CLUSTER_SUP_METHODS(OSC_SPEC_)
};
#undef OSC_SPEC_

static int osc_csup_dispatch(oscar_actor_t *self, oscar_req_t *req)
{
	return (osc_method_dispatch(osc_cluster_sup_methods, OSC_CL_N, self, req));
}

#define OSC_METHOD_(id, name, fn, args, reply) { name, osc_csup_dispatch, NULL },
static const oscar_method_t osc_csup_methods[] = {
	OSC_CLUSTER_SUP_METHODS(OSC_METHOD_){ NULL, NULL, NULL },
};
#undef OSC_METHOD_

const oscar_actor_class_t osc_cluster_supervisor_class = {
	.name       = "oscar.cluster.supervisor",
	.state_size = sizeof(osc_csup_t),
	.create     = osc_csup_create,
	.destroy    = osc_csup_destroy,
	.methods    = osc_csup_methods,
};
