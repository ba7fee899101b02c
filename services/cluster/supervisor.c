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

// A parked request. Waits for workers sit in a min-heap by the number of
// workers they want, so that a change answers those now satisfied in
// O(log n) each and never looks at the others; watches and stops sit in
// lists (a change answers every watch at once), unlinked in O(1).
typedef struct osc_waiter {
	struct osc_waiter *prev, *next; // watch and stop lists
	size_t             heap_idx;    // wait_workers: its place in the heap
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
	osc_waiter_t         **heap; // wait_workers, by want
	size_t                 n_heap;
	size_t                 cap_heap;
	osc_waiter_t          *watches;
	osc_waiter_t          *stops;
	size_t                 n_waits; // parked, of every kind
	uint64_t               refused; // registrations refused: the registry was full
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

static void osc_changed(oscar_actor_t *self, osc_csup_t *st);

// osc_entry_evict_dead makes room in a full registry by forgetting the
// worker marked dead the longest ago; false when none is dead.
static bool osc_entry_evict_dead(oscar_actor_t *self, osc_csup_t *st)
{
	osc_entry_t *oldest = NULL;
	for (size_t i = 0; i < st->n; i++) {
		osc_entry_t *e = &st->nodes[i];
		if (e->status == OSCAR_NODE_DEAD &&
		    (oldest == NULL || e->heard_mono < oldest->heard_mono)) {
			oldest = e;
		}
	}
	if (oldest == NULL) {
		return (false);
	}
	oscar_log(OSCAR_LOG_INFO, "cluster", "the node registry is full: forgetting dead worker %s",
	    oldest->address);
	osc_entry_remove(st, oldest);
	osc_changed(self, st);
	return (true);
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
	rv     = rv != 0
	             ? rv
	             : oscar_value_map_set(all, "role", oscar_value_new_str(oscar_role_name(e->role)));
	rv     = rv != 0 ? rv
	                 : oscar_value_map_set(
	                       all, "status", oscar_value_new_str(oscar_node_status_name(e->status)));
	rv     = rv != 0
	             ? rv
	             : oscar_value_map_set(all, "registered_ms", oscar_value_new_int(e->registered_ms));
	rv     = rv != 0 ? rv
	                 : oscar_value_map_set(all, "heartbeat_ms", oscar_value_new_int(e->heard_ms));
	rv     = rv != 0 ? rv
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

// The heap of waits for workers: parent (i - 1) / 2, smallest want on top.
static void osc_heap_set(osc_csup_t *st, size_t i, osc_waiter_t *w)
{
	st->heap[i] = w;
	w->heap_idx = i;
}

static void osc_heap_up(osc_csup_t *st, size_t i)
{
	osc_waiter_t *w = st->heap[i];
	while (i > 0 && st->heap[(i - 1) / 2]->want > w->want) {
		osc_heap_set(st, i, st->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	osc_heap_set(st, i, w);
}

static void osc_heap_down(osc_csup_t *st, size_t i)
{
	osc_waiter_t *w = st->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= st->n_heap) {
			break;
		}
		if (c + 1 < st->n_heap && st->heap[c + 1]->want < st->heap[c]->want) {
			c++;
		}
		if (st->heap[c]->want >= w->want) {
			break;
		}
		osc_heap_set(st, i, st->heap[c]);
		i = c;
	}
	osc_heap_set(st, i, w);
}

static void osc_heap_remove(osc_csup_t *st, osc_waiter_t *w)
{
	size_t        i    = w->heap_idx;
	osc_waiter_t *last = st->heap[--st->n_heap];
	if (i < st->n_heap) {
		osc_heap_set(st, i, last);
		osc_heap_up(st, i);
		osc_heap_down(st, last->heap_idx);
	}
}

static void osc_list_add(osc_waiter_t **head, osc_waiter_t *w)
{
	w->prev = NULL;
	w->next = *head;
	if (*head != NULL) {
		(*head)->prev = w;
	}
	*head = w;
}

static void osc_list_remove(osc_waiter_t **head, osc_waiter_t *w)
{
	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else {
		*head = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	}
	w->prev = w->next = NULL;
}

// osc_waiter_park files w where its kind waits; the heap has room (see
// osc_wait).
static void osc_waiter_park(osc_csup_t *st, osc_waiter_t *w)
{
	switch (w->kind) {
	case OSC_WAIT_WORKERS:
		st->heap[st->n_heap] = w;
		w->heap_idx          = st->n_heap++;
		osc_heap_up(st, w->heap_idx);
		break;
	case OSC_WAIT_WATCH:
		osc_list_add(&st->watches, w);
		break;
	case OSC_WAIT_STOP:
		osc_list_add(&st->stops, w);
		break;
	}
	st->n_waits++;
}

static void osc_waiter_unlink(osc_csup_t *st, osc_waiter_t *w)
{
	switch (w->kind) {
	case OSC_WAIT_WORKERS:
		osc_heap_remove(st, w);
		break;
	case OSC_WAIT_WATCH:
		osc_list_remove(&st->watches, w);
		break;
	case OSC_WAIT_STOP:
		osc_list_remove(&st->stops, w);
		break;
	}
	st->n_waits--;
}

static void osc_stop_node(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	if (res->code == 0) {
		osc_csup_t *st = oscar_actor_state(self);
		oscar_node_request_stop(st->node);
	}
}

// osc_waiter_retire takes w out of its heap or list; a stop_cluster
// request that is answered stops the supervisor itself a moment later,
// once the reply is on its way.
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

// osc_workers_left counts the workers a stop still waits for: dead ones
// will not deregister.
static size_t osc_workers_left(const osc_csup_t *st)
{
	return (osc_count(
	    st, OSCAR_ROLE_WORKER, OSCAR_NODE_STARTING | OSCAR_NODE_READY | OSCAR_NODE_STOPPING));
}

// osc_waiters_check answers the waiters whose condition now holds, each in
// O(log n) for a wait in the heap; the others are not looked at.
static void osc_waiters_check(oscar_actor_t *self, osc_csup_t *st)
{
	size_t ready = osc_count(st, OSCAR_ROLE_WORKER, OSCAR_NODE_READY);
	while (st->n_heap > 0 && st->heap[0]->want <= ready) {
		osc_waiter_answer(self, st, st->heap[0], oscar_value_new_uint(ready));
	}
	if (st->watches != NULL) {
		// Every parked watch waits for a version before this one: the
		// list is built once and copied to each.
		oscar_value_t *v = osc_watch_value(st);
		while (st->watches != NULL && st->watches->want < st->version) {
			osc_waiter_answer(
			    self, st, st->watches, v != NULL ? oscar_value_copy(v) : NULL);
		}
		oscar_value_free(v);
	}
	if (st->stops != NULL && osc_workers_left(st) == 0) {
		while (st->stops != NULL) {
			osc_waiter_answer(
			    self, st, st->stops, oscar_value_new_uint(st->stops->want));
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
				    "%zu of the %" PRIu64 " workers wanted are ready", ready,
				    w->want);
				break;
			case OSC_WAIT_WATCH:
				oscar_req_fail(w->req, OSCAR_ETIMEDOUT,
				    "the cluster did not change after version %" PRIu64, w->want);
				break;
			case OSC_WAIT_STOP:
				oscar_req_fail(w->req, OSCAR_ETIMEDOUT,
				    "%zu of the %" PRIu64
				    " workers told to stop had not left when the "
				    "time was up; the supervisor stops anyway",
				    osc_workers_left(st), w->want);
				break;
			}
		}
	}
	free(w);
}

// osc_wait_holds tells whether a request of kind wanting want is answered
// at once.
static bool osc_wait_holds(const osc_csup_t *st, osc_wait_kind_t kind, uint64_t want)
{
	switch (kind) {
	case OSC_WAIT_WORKERS:
		return (osc_count(st, OSCAR_ROLE_WORKER, OSCAR_NODE_READY) >= want);
	case OSC_WAIT_WATCH:
		return (st->version > want);
	case OSC_WAIT_STOP:
		return (osc_workers_left(st) == 0);
	}
	return (false);
}

// osc_wait defers req until the condition of kind holds or timeout_ms
// passes (clamped to cluster.wait_timeout_max). At most cluster.max_waits
// requests are parked: beyond, OSCAR_EMBOXFULL. Only this request's
// condition is checked, never the other parked ones.
static int osc_wait(
    oscar_actor_t *self, oscar_req_t *req, osc_wait_kind_t kind, uint64_t want, int64_t timeout_ms)
{
	osc_csup_t *st = oscar_actor_state(self);
	if (kind != OSC_WAIT_STOP && osc_wait_holds(st, kind, want)) {
		return (oscar_req_reply(req,
		    kind == OSC_WAIT_WORKERS
		        ? oscar_value_new_uint(osc_count(st, OSCAR_ROLE_WORKER, OSCAR_NODE_READY))
		        : osc_watch_value(st)));
	}
	if (st->n_waits >= (size_t) st->cfg.max_waits) {
		return (oscar_req_fail(req, OSCAR_EMBOXFULL,
		    "%zu requests are waiting already (cluster.max_waits); try again later",
		    st->n_waits));
	}
	// A timeout from the wire may be anything (cast negative from a huge
	// unsigned, say): it is clamped to the documented maximum.
	if (timeout_ms < 0 || timeout_ms > st->cfg.wait_timeout_max_ms) {
		timeout_ms = st->cfg.wait_timeout_max_ms;
	}
	if (kind == OSC_WAIT_WORKERS &&
	    osc_reserve(&st->heap, &st->cap_heap, st->n_heap, sizeof(*st->heap), 64) != 0) {
		return (OSCAR_ENOMEM);
	}
	osc_waiter_t *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return (OSCAR_ENOMEM);
	}
	w->kind = kind;
	w->req  = req;
	w->want = want;
	int rv  = oscar_actor_after(self, timeout_ms, osc_waiter_timeout, w, &w->timer);
	if (rv != 0) {
		free(w);
		return (rv);
	}
	osc_waiter_park(st, w);
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	if (kind == OSC_WAIT_STOP && osc_wait_holds(st, kind, want)) {
		osc_waiter_answer(self, st, w, oscar_value_new_uint(want)); // nobody to wait for
	}
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
		return (
		    oscar_req_fail(req, OSCAR_EBADARGS, "register needs a map with an address"));
	}
	osc_entry_t *e     = osc_entry_find(st, addr);
	bool         again = e != NULL;
	if (e == NULL && st->n >= (size_t) st->cfg.max_nodes && !osc_entry_evict_dead(self, st)) {
		// Say it once in a while, not once per forged register.
		if (st->refused++ % 1000 == 0) {
			oscar_log(OSCAR_LOG_WARN, "cluster",
			    "the node registry is full (%zu nodes, cluster.max_nodes): "
			    "registration "
			    "of %s refused (%" PRIu64 " refused so far)",
			    st->n, addr, st->refused);
		}
		return (oscar_req_fail(req, OSCAR_ESTATE,
		    "the node registry is full: %zu nodes (cluster.max_nodes)", st->n));
	}
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
	bool starting =
	    osc_status_from_name(oscar_value_map_str(info, "status")) == OSCAR_NODE_STARTING;
	e->status = st->stopping ? OSCAR_NODE_STOPPING
	            : starting   ? OSCAR_NODE_STARTING
	                         : OSCAR_NODE_READY;
	osc_entry_heard(e, oscar_req_take_args(req));
	osc_changed(self, st);

	oscar_value_t *reply = oscar_value_new_map(2);
	if (reply != NULL) {
		oscar_value_map_set(
		    reply, "heartbeat_ms", oscar_value_new_int(st->cfg.heartbeat_ms));
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
	bool changed =
	    oscar_value_map_int(e->info, "slots", -1) != oscar_value_map_int(info, "slots", -1);
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
			return (
			    oscar_req_fail(req, OSCAR_ENOENT, "no node registered at %s", addr));
		}
	}
	return (0);
}

static int osc_m_nodes(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t *st    = oscar_actor_state(self);
	unsigned    roles = (unsigned) oscar_value_at_uint(oscar_req_args(req), 0, OSCAR_ROLES_ALL);
	unsigned    statuses           = (unsigned) oscar_value_at_uint(oscar_req_args(req), 1, 0);
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
	osc_csup_t *st    = oscar_actor_state(self);
	unsigned    roles = (unsigned) oscar_value_at_uint(oscar_req_args(req), 0, OSCAR_ROLES_ALL);
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

// Telling the workers: a stop_cluster tells every live worker to stop, a
// stopping supervisor tells them it is going away. Each is told with a
// call, not a one-way message, so that the supervisor's pool stays up
// until the workers have heard it. Thousands of registered workers may be
// unreachable (forged, or gone without a word), and each call to one
// holds a connection attempt: so at most cluster.farewell_batch calls are
// in flight at once, and no call starts after the deadline (for going
// away, cluster.farewell_timeout; for a stop, the stop's own timeout),
// whoever was not told yet. The addresses are copied first: the registry
// may change meanwhile.
typedef struct osc_notice {
	int          method; // OSC_CLW_STOP or OSC_CLW_SUP_GONE
	oscar_req_t *req;    // going_away: answered with how many were told
	bool         open;   // not finished yet
	char (*addresses)[OSCAR_ADDR_MAX];
	size_t   n;
	size_t   next;     // the next address to call
	size_t   flying;   // calls in flight
	uint64_t told;     // calls answered
	int64_t  deadline; // osc_mono_ms
	bool     timer;    // the deadline's timer has not run yet
	uint64_t timer_id;
} osc_notice_t;

static void osc_notice_next(oscar_actor_t *self, osc_notice_t *f);

static void osc_notice_release(oscar_actor_t *self, osc_notice_t *f)
{
	if (!f->open && f->flying == 0 && !f->timer) {
		free(f->addresses);
		free(f);
	}
}

static void osc_notice_finish(oscar_actor_t *self, osc_notice_t *f)
{
	if (!f->open) {
		return;
	}
	f->open = false;
	if (f->next < f->n) {
		oscar_log(OSCAR_LOG_WARN, "cluster",
		    "%zu of %zu workers not told %s: out of time (%s)", f->n - f->next, f->n,
		    f->method == OSC_CLW_STOP ? "to stop" : "that the supervisor is going away",
		    f->method == OSC_CLW_STOP ? "the stop's timeout" : "cluster.farewell_timeout");
	}
	if (f->req != NULL) {
		oscar_req_reply(f->req, oscar_value_new_uint(f->told));
		f->req = NULL;
	}
	if (f->timer) {
		oscar_actor_cancel(self, f->timer_id); // its callback releases f
	}
}

static void osc_notice_done(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_notice_t *f = arg;
	f->flying--;
	f->told += res->code == 0;
	osc_notice_next(self, f);
	osc_notice_release(self, f);
}

static void osc_notice_timeout(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_notice_t *f = arg;
	f->timer        = false;
	osc_notice_finish(self, f);
	osc_notice_release(self, f);
}

// osc_notice_next starts calls while the batch has room and time is left,
// and finishes once every call is back or the time is up.
static void osc_notice_next(oscar_actor_t *self, osc_notice_t *f)
{
	osc_csup_t *st   = oscar_actor_state(self);
	int64_t     left = f->deadline - osc_mono_ms();
	while (
	    f->open && f->next < f->n && left > 0 && f->flying < (size_t) st->cfg.farewell_batch) {
		oscar_ref_t ref;
		const char *addr = f->addresses[f->next++];
		if (oscar_ref_make(&ref, addr, OSCAR_CLUSTER_UID) == 0 &&
		    oscar_actor_call(self, &ref, osc_clw_name(f->method), NULL,
		        left < 1000 ? left : 1000, osc_notice_done, f, NULL) == 0) {
			f->flying++;
		}
	}
	if (f->flying == 0 && (f->next >= f->n || left <= 0)) {
		osc_notice_finish(self, f);
	}
}

// osc_notice_start tells every live worker method, within timeout_ms;
// going_away's req is answered with how many were told. It gives how many
// workers there are to tell (-1: out of memory).
static int64_t osc_notice_start(
    oscar_actor_t *self, osc_csup_t *st, int method, oscar_req_t *req, int64_t timeout_ms)
{
	osc_notice_t *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->addresses = calloc(st->n + 1, sizeof(*f->addresses))) == NULL) {
		free(f);
		return (-1);
	}
	for (size_t i = 0; i < st->n; i++) {
		osc_entry_t *e = &st->nodes[i];
		if (e->role == OSCAR_ROLE_WORKER && e->status != OSCAR_NODE_DEAD) {
			snprintf(f->addresses[f->n++], OSCAR_ADDR_MAX, "%s", e->address);
			if (method == OSC_CLW_STOP) {
				e->status = OSCAR_NODE_STOPPING;
			}
		}
	}
	f->method   = method;
	f->req      = req;
	f->open     = true;
	f->deadline = osc_mono_ms() + timeout_ms;
	if (oscar_actor_after(self, timeout_ms, osc_notice_timeout, f, &f->timer_id) != 0) {
		free(f->addresses);
		free(f);
		return (-1);
	}
	f->timer     = true;
	int64_t told = (int64_t) f->n;
	osc_notice_next(self, f);
	osc_notice_release(self, f);
	return (told);
}

static int osc_m_stop(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t *st      = oscar_actor_state(self);
	uint64_t    timeout = 10000;
	oscar_value_get_uint(oscar_req_args(req), &timeout);
	if (timeout > (uint64_t) st->cfg.wait_timeout_max_ms) {
		timeout = (uint64_t) st->cfg.wait_timeout_max_ms;
	}
	// Dead workers will not answer: forget them now.
	for (size_t i = st->n; i-- > 0;) {
		if (st->nodes[i].status == OSCAR_NODE_DEAD) {
			osc_entry_remove(st, &st->nodes[i]);
		}
	}
	st->stopping = true;
	int64_t told = osc_notice_start(self, st, OSC_CLW_STOP, NULL, (int64_t) timeout);
	if (told < 0) {
		return (OSCAR_ENOMEM);
	}
	oscar_log(
	    OSCAR_LOG_INFO, "cluster", "stopping the cluster; workers to tell: %" PRId64, told);
	osc_changed(self, st);
	return (osc_wait(self, req, OSC_WAIT_STOP, (uint64_t) told, (int64_t) timeout));
}

// going_away: the supervisor stops (see osc_notice_t).
static int osc_m_going_away(oscar_actor_t *self, oscar_req_t *req)
{
	osc_csup_t *st = oscar_actor_state(self);
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	if (osc_notice_start(self, st, OSC_CLW_SUP_GONE, req, st->cfg.farewell_timeout_ms) < 0) {
		return (OSCAR_ENOMEM);
	}
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
	// The parked requests were failed, and their timers cancelled (they
	// free the waiters), before this hook runs.
	free(st->heap);
}

OSC_METHOD_TABLES(OSC_CLUSTER_SUP_METHODS, osc_cluster_sup_methods, OSC_CL_N, osc_csup_methods);

const oscar_actor_class_t osc_cluster_supervisor_class = {
	.name       = "oscar.cluster.supervisor",
	.state_size = sizeof(osc_csup_t),
	.create     = osc_csup_create,
	.destroy    = osc_csup_destroy,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_csup_methods,
};
