// The cluster service, worker side: registration and heartbeats.
//
// One actor (OSCAR_CLUSTER_UID in the worker's main pool) registers with
// the supervisor, retrying every heartbeat interval while the supervisor
// is not up yet, then sends its node info every interval. A heartbeat
// answered with OSCAR_ENOENT (the supervisor restarted, or marked this
// worker dead) registers again; one that fails otherwise goes back to
// registering. Exactly one timer or one call is outstanding at any time.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/cluster/cluster_int.h"

typedef enum osc_cw_phase {
	OSC_CW_REGISTERING, // a register call, or the timer before the next
	OSC_CW_REGISTERED,  // heartbeats
	OSC_CW_LEAVING,     // the node stops: nothing more is sent
} osc_cw_phase_t;

typedef struct osc_cw {
	oscar_node_t  *node;
	oscar_ref_t    supervisor;
	int64_t        heartbeat_ms;
	osc_cw_phase_t phase;
	uint64_t       pending;  // the timer or call outstanding, or 0
	bool           timer;    // pending is a timer, not a call
	unsigned       failures; // register attempts failed in a row
	bool           was_registered;
	bool           node_ready; // every service of the node has started
	bool           told_ready; // and the last register or heartbeat said so
} osc_cw_t;

static void osc_cw_send(oscar_actor_t *self, oscar_result_t *res, void *arg);

// osc_cw_info is the node's info with its status: starting until every
// service of the node has started, then ready.
static oscar_value_t *osc_cw_info(osc_cw_t *st)
{
	oscar_value_t *info = osc_node_info_value(st->node);
	if (info != NULL &&
	    oscar_value_map_set(info, "status",
	        oscar_value_new_str(oscar_node_status_name(
	            st->node_ready ? OSCAR_NODE_READY : OSCAR_NODE_STARTING))) != 0) {
		oscar_value_free(info);
		return (NULL);
	}
	return (info);
}

// osc_cw_later sends the next register or heartbeat after delay_ms.
static void osc_cw_later(oscar_actor_t *self, osc_cw_t *st, int64_t delay_ms)
{
	st->pending = 0;
	st->timer   = true;
	if (st->phase != OSC_CW_LEAVING &&
	    oscar_actor_after(self, delay_ms, osc_cw_send, NULL, &st->pending) != 0) {
		oscar_log(OSCAR_LOG_ERROR, "cluster", "cannot arm the heartbeat timer");
	}
}

// osc_cw_next: the next heartbeat is due after the interval, or at once
// when the node became ready after the last one was sent.
static int64_t osc_cw_next(const osc_cw_t *st)
{
	return (st->node_ready && !st->told_ready ? 0 : st->heartbeat_ms);
}

// osc_cw_on_registered handles the answer to a register call.
static void osc_cw_on_registered(oscar_actor_t *self, osc_cw_t *st, const oscar_result_t *res)
{
	if (res->code != 0) {
		// Say it once, then quietly keep trying.
		if (st->failures++ == 0) {
			oscar_log(st->was_registered ? OSCAR_LOG_WARN : OSCAR_LOG_INFO, "cluster",
			    "supervisor %s not reachable yet (%s); retrying every %" PRId64 " ms",
			    st->supervisor.addr, res->error != NULL ? res->error->message : "",
			    st->heartbeat_ms);
		}
		osc_cw_later(self, st, st->heartbeat_ms);
		return;
	}
	int64_t every    = oscar_value_map_int(res->value, "heartbeat_ms", st->heartbeat_ms);
	st->heartbeat_ms = every > 0 ? every : st->heartbeat_ms;
	st->phase        = OSC_CW_REGISTERED;
	st->failures     = 0;
	oscar_log(OSCAR_LOG_INFO, "cluster", "%s with supervisor %s",
	    st->was_registered ? "registered again" : "registered", st->supervisor.addr);
	st->was_registered = true;
	osc_cw_later(self, st, osc_cw_next(st));
}

// osc_cw_on_beat handles the answer to a heartbeat.
static void osc_cw_on_beat(oscar_actor_t *self, osc_cw_t *st, const oscar_result_t *res)
{
	if (res->code == OSCAR_ENOENT) {
		oscar_log(OSCAR_LOG_WARN, "cluster",
		    "supervisor %s does not know this worker; "
		    "registering again",
		    st->supervisor.addr);
		st->phase = OSC_CW_REGISTERING;
		osc_cw_later(self, st, 0);
		return;
	}
	if (res->code != 0) {
		oscar_log(OSCAR_LOG_WARN, "cluster", "heartbeat to %s failed: %s",
		    st->supervisor.addr, res->error != NULL ? res->error->message : "");
		st->phase = OSC_CW_REGISTERING;
	}
	osc_cw_later(self, st, osc_cw_next(st));
}

// osc_cw_answered is the callback of both calls; arg is non-NULL for a
// register call.
static void osc_cw_answered(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_cw_t *st = oscar_actor_state(self);
	if (res->id != st->pending) {
		// Cancelled (a cancelled call to another pool may still answer):
		// whoever cancelled it has moved on, and pending is theirs.
		return;
	}
	st->pending = 0;
	if (st->phase == OSC_CW_LEAVING || res->code == OSCAR_ECLOSED) {
		return;
	}
	if (arg != NULL) {
		osc_cw_on_registered(self, st, res);
	} else {
		osc_cw_on_beat(self, st, res);
	}
}

static void osc_cw_send(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_cw_t *st = oscar_actor_state(self);
	if (res->id != st->pending || res->code != 0 || st->phase == OSC_CW_LEAVING) {
		return; // cancelled, or the actor or pool is going
	}
	st->pending         = 0;
	oscar_value_t *info = osc_cw_info(st);
	bool           reg  = st->phase == OSC_CW_REGISTERING;
	st->timer           = false;
	st->told_ready      = st->node_ready;
	// A call that outlives the interval would pile up behind the next.
	int rv = oscar_actor_call(self, &st->supervisor,
	    osc_cl_name(reg ? OSC_CL_REGISTER : OSC_CL_HEARTBEAT), info,
	    st->heartbeat_ms > 500 ? st->heartbeat_ms : 500, osc_cw_answered, reg ? st : NULL,
	    &st->pending);
	if (rv != 0) {
		osc_cw_later(self, st, st->heartbeat_ms);
	}
}

// ---------------------------------------------------------------------------
// Methods

// stop: the supervisor stops the cluster. The node stops, and its stop
// deregisters it.
static int osc_cw_m_stop(oscar_actor_t *self, oscar_req_t *req)
{
	osc_cw_t *st = oscar_actor_state(self);
	oscar_log(OSCAR_LOG_INFO, "cluster", "the supervisor stops the cluster");
	oscar_node_request_stop(st->node);
	return (0);
}

// supervisor_leaving: the supervisor is going away. Register again, so
// that a supervisor restarted at the same address finds this worker.
static int osc_cw_m_sup_gone(oscar_actor_t *self, oscar_req_t *req)
{
	osc_cw_t *st = oscar_actor_state(self);
	if (st->phase == OSC_CW_LEAVING) {
		return (0);
	}
	oscar_log(OSCAR_LOG_WARN, "cluster",
	    "supervisor %s is going away; will register again "
	    "when it is back",
	    st->supervisor.addr);
	if (st->pending != 0) {
		oscar_actor_cancel(self, st->pending); // its callback re-arms nothing
	}
	st->phase    = OSC_CW_REGISTERING;
	st->failures = 1; // already said
	osc_cw_later(self, st, st->heartbeat_ms);
	return (0);
}

static void osc_cw_left(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	oscar_req_t *req = arg;
	if (res->code != 0 && res->code != OSCAR_ENOENT) {
		oscar_log(OSCAR_LOG_WARN, "cluster", "could not deregister: %s",
		    res->error != NULL ? res->error->message : oscar_strerror(res->code));
	}
	oscar_req_reply(req, NULL);
}

// leave: the node stops. Deregister (bounded by the caller's deadline),
// then answer.
static int osc_cw_m_leave(oscar_actor_t *self, oscar_req_t *req)
{
	osc_cw_t *st = oscar_actor_state(self);
	// Registered, or a register call on its way whose answer the
	// supervisor may have sent already: either way it may list us.
	bool was_in = st->phase == OSC_CW_REGISTERED || (st->pending != 0 && !st->timer);
	st->phase   = OSC_CW_LEAVING;
	if (st->pending != 0) {
		oscar_actor_cancel(self, st->pending);
	}
	if (!was_in) {
		return (0);
	}
	int64_t timeout = 2000;
	oscar_value_get_int(oscar_req_args(req), &timeout);
	int rv = oscar_req_call(req, &st->supervisor, osc_cl_name(OSC_CL_DEREGISTER),
	    oscar_value_new_str(oscar_node_address(st->node)), timeout, osc_cw_left, req, NULL);
	if (rv != 0) {
		return (0);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

static int osc_cw_m_info(oscar_actor_t *self, oscar_req_t *req)
{
	osc_cw_t *st = oscar_actor_state(self);
	return (oscar_req_reply(req, osc_cw_info(st)));
}

// node_ready: every service of the node has started. Say so at once
// rather than at the next heartbeat, unless a call is on its way (its
// answer arms the next one soon enough).
static int osc_cw_m_ready(oscar_actor_t *self, oscar_req_t *req)
{
	osc_cw_t *st   = oscar_actor_state(self);
	st->node_ready = true;
	if (st->phase == OSC_CW_REGISTERED && st->pending != 0 && st->timer) {
		oscar_actor_cancel(self, st->pending);
		osc_cw_later(self, st, 0);
	}
	return (0);
}

// ---------------------------------------------------------------------------
// The class

static int osc_cw_create(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_cw_t *st = oscar_actor_state(self);
	(void) args;
	st->node = oscar_node_of_actor(self);
	if (st->node == NULL) {
		return (OSCAR_ESTATE); // only a node's cluster service creates it
	}
	osc_cluster_settings_t cfg;
	int                    rv = osc_cluster_settings(oscar_node_settings(st->node), &cfg, NULL);
	if (rv != 0) {
		return (rv);
	}
	st->heartbeat_ms = cfg.heartbeat_ms;
	st->phase        = OSC_CW_REGISTERING;
	rv = oscar_ref_make(&st->supervisor, oscar_node_supervisor(st->node), OSCAR_CLUSTER_UID);
	if (rv != 0) {
		return (rv);
	}
	osc_cw_later(self, st, 0);
	return (0);
}

OSC_METHOD_TABLES(
    OSC_CLUSTER_WORKER_METHODS, osc_cluster_worker_methods, OSC_CLW_N, osc_cw_methods);

const oscar_actor_class_t osc_cluster_worker_class = {
	.name       = "oscar.cluster.worker",
	.state_size = sizeof(osc_cw_t),
	.create     = osc_cw_create,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_cw_methods,
};
