// Private structures of the in-process actor system, shared by the files
// of the actor core (docs/architecture.md, "Layers"), and the tables
// through which a lower layer reaches a higher one without naming it.
// Nothing outside actors/ (but the tests) includes this file.
//
// Threads. A pool owns one libuv loop and the thread that runs it; all the
// fields marked "loop" below are touched only by that thread. Other threads
// reach a pool only through its inbox (a lock-free multi-producer queue of
// osc_post_t) followed by uv_async_send, which libuv coalesces. The loop
// drains the inbox, then runs ready actors and reply callbacks until there
// is nothing left or the turn's budget is spent.
//
// Objects.
//  - oscar_actor: an actor, its mailbox (a FIFO of requests), and the
//    requests it deferred; lives in the pool's uid map.
//  - oscar_req: a message being delivered or served (call, tell, batch or
//    batch item); points at the osc_call waiting for its reply, if any.
//  - osc_call: the caller's side of a call; holds the deadline (in the
//    pool's deadline heap), the reply callback or host handle, and a link to
//    the request while both live. Whichever side finishes first unlinks the
//    other, so neither ever points at freed memory.
//  - oscar_call: a host thread's handle (actors/host.h), shared by that
//    thread and the loop under a reference count.
#ifndef OSC_POOL_INT_H
#define OSC_POOL_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <uv.h>

#include "actors/error.h"
#include "actors/list.h"
#include "actors/map.h"
#include "oscar/actor.h"

typedef struct oscar_actor osc_actor_t;
typedef struct oscar_req   osc_req_t;
typedef struct osc_call    osc_call_t;
typedef struct osc_batch   osc_batch_t;
typedef struct osc_post    osc_post_t;

// ---------------------------------------------------------------------------
// Inbox: Vyukov's intrusive multi-producer single-consumer queue.

typedef enum osc_post_kind {
	OSC_POST_HOST,   // a host handle (oscar_call) to start
	OSC_POST_CANCEL, // a host handle to cancel
	OSC_POST_TELL,   // a fire-and-forget tell: an unresolved oscar_req
	OSC_POST_NET,    // from the transport: a frame or a connection event
} osc_post_kind_t;

struct osc_post {
	_Atomic(osc_post_t *) next;
	osc_post_kind_t       kind;
};

typedef struct osc_inbox {
	_Atomic(osc_post_t *) head; // producers swap themselves in here
	osc_post_t           *tail; // consumer (loop) only
	osc_post_t            stub;
	atomic_size_t         count; // posted and not yet popped, for the bound
} osc_inbox_t;

void        osc_inbox_init(osc_inbox_t *q);
void        osc_inbox_push(osc_inbox_t *q, osc_post_t *p);
osc_post_t *osc_inbox_pop(osc_inbox_t *q);

// ---------------------------------------------------------------------------
// Pool

// osc_pool_hooks_t is what the layers above the pool loop (the host-thread
// API, sub pools) plug into it, so that the loop and the call records
// call them without naming them. oscar_pool_open (subpool.c) sets them.
typedef struct osc_pool_hooks {
	// post handles a post of any kind but OSC_POST_NET (host.c), and
	// fails it when the pool no longer runs.
	void (*post)(oscar_pool_t *pool, osc_post_t *p);
	// host_finish completes the host handle of a finished call (host.c).
	void (*host_finish)(osc_call_t *c);
	// subs_start starts the sub pools, on the pool's thread before its
	// loop runs. It returns 0 when they run (or there are none),
	// OSC_SUBS_WAIT when open must wait on pool->started, which the sub
	// pools post once all are ready or one failed (then filling *err),
	// or an error code with *err filled. subs_stop stops them at
	// shutdown; subs_free reaps them when the pool is freed. Each copes
	// with sub pools that never started (subs_start failed).
	int (*subs_start)(oscar_pool_t *pool, oscar_error_t *err);
	void (*subs_stop)(oscar_pool_t *pool);
	void (*subs_free)(oscar_pool_t *pool);
	// sub_find tells whether address is one of the pool's sub pools, with
	// the pid of the process it knows there (*pid); sub_death tells how
	// such a process ended (subpool.c). The transport
	// asks them when it loses a connection.
	bool (*sub_find)(oscar_pool_t *pool, const char *address, int64_t *pid);
	int (*sub_death)(oscar_pool_t *pool, const char *address, int64_t pid, uint64_t up_at,
	    char *why, size_t size, int64_t *dead_pid);
} osc_pool_hooks_t;

// osc_owner_ops_t is what the call records need of the actors that make
// calls (actor.c); the pool sets it at open, so that call.c names no
// function of the actor layer.
typedef struct osc_owner_ops {
	// finish takes a finished call c off its owner's list and runs its
	// callback on the owner, which it destroys if it asked to exit.
	void (*finish)(osc_call_t *c);
	// unparent takes c off the list of its parent request, which is
	// freed if c was all that kept it.
	void (*unparent)(osc_call_t *c);
} osc_owner_ops_t;

#define OSC_SUBS_WAIT (-1) // subs_start: open waits for the sub pools

typedef enum osc_pool_state {
	OSC_POOL_RUNNING,
	OSC_POOL_CLOSING,
	OSC_POOL_CLOSED,
} osc_pool_state_t;

struct oscar_pool {
	oscar_pool_config_t     cfg;
	const osc_pool_hooks_t *hooks;
	const osc_owner_ops_t  *owners; // &osc_actor_owner_ops (actor.c)
	char                    address[OSCAR_ADDR_MAX];
	// home is the address of this pool's main pool when it runs as a sub
	// pool (oscar_subpool_main), else "": who to ask how a peer died.
	char        home[OSCAR_ADDR_MAX];
	uint64_t    id;
	int64_t     pid;
	uv_loop_t   loop;
	uv_thread_t thread;
	uv_async_t  wake;
	uv_timer_t  timer;    // the deadline timer, armed by call.c
	uv_timer_cb timer_cb; // what it runs (pool.c)
	uv_idle_t   idle;
	// run does the pool's queued work (pool.c): the transport calls it
	// after serving frames received on the loop.
	void (*run)(oscar_pool_t *pool);
	uv_sem_t started;

	// Cross-thread.
	osc_inbox_t   inbox;
	atomic_bool   closing; // set once by oscar_pool_close
	atomic_bool   freeing; // set once by oscar_pool_free
	atomic_ullong dropped;

	// Loop only.
	osc_pool_state_t state;
	bool             in_run; // pool_run is on the stack
	osc_map_t        actors; // uid -> actor
	osc_list_t       runq;   // actors with work to do, by runq_node
	osc_list_t       done;   // completed calls whose callback is pending
	struct {
		osc_call_t **items;
		size_t       len;
		size_t       cap;
	} heap;                      // pending calls by deadline
	int64_t            armed_at; // when the timer fires, or -1
	uint64_t           next_call_id;
	uint64_t           next_token;
	uint64_t           next_uid; // for actors created without a uid (actor.c)
	oscar_pool_stats_t stats;
	// The details of the last actor-side call that failed at once, so a
	// handler that just returns that code passes the details on.
	oscar_error_t last_err;
	// Handed out when a failure's details cannot be copied for lack of
	// memory, so that a failed result always has details.
	oscar_error_t oom_err;
	// The transport (actors/transport.c), or NULL when the address is not
	// one that NNG listens on.
	struct osc_transport *transport;
	// Sub pools (actors/subpool.c), whose layer owns them.
	struct osc_subs *subs;
	// Why the sub pools could not start (subs_start), for open.
	oscar_error_t start_err;
};

// ---------------------------------------------------------------------------
// Actors and requests

// The flags of an actor that other files read; actor.c has its own
// (OSC_ACTOR_EXITING, OSC_ACTOR_RUNNING) in bits 1 and 2.
enum {
	OSC_ACTOR_DEAD   = 1u << 0, // out of the map; no new work
	OSC_ACTOR_QUEUED = 1u << 3, // on the pool's run queue
};

// OSC_TURN_MESSAGES is the most messages one run of a pool's loop
// (pool_run, pool.c) delivers before it lets the loop poll for I/O and
// fire due timers: a backlog of slow messages (thousands of a peer's
// requests to one actor) then delays a heartbeat by one run, not by all
// of them.
#define OSC_TURN_MESSAGES 1024

struct oscar_actor {
	oscar_pool_t              *pool;
	const oscar_actor_class_t *cls;
	uint32_t                   flags;
	uint32_t                   mb_len;    // below UINT32_MAX (osc_actor_enqueue)
	osc_list_t                 mailbox;   // queued requests, by their node
	osc_req_t                 *held;      // deferred with OSCAR_DEFER_HOLD
	osc_list_t                 deferred;  // all deferred requests, by their node
	osc_list_t                 calls;     // outstanding calls made by us, by onode
	osc_node_t                 runq_node; // on pool->runq when OSC_ACTOR_QUEUED
	oscar_ref_t                ref;
	max_align_t                state[]; // cls->state_size bytes
};

// osc_reply_ops_t is how a request that came from above the actor layer
// (from another pool, through the transport) is answered: whoever
// delivered it sets req->reply and req->reply_ctx, and the actor layer
// answers through them without naming their layer.
typedef struct osc_reply_ops {
	// answer sends the outcome owed to ctx, then releases ctx.
	void (*answer)(oscar_pool_t *pool, void *ctx, int code, const oscar_value_t *value,
	    const oscar_error_t *err);
	// forget releases ctx without answering (the request never will).
	void (*forget)(oscar_pool_t *pool, void *ctx);
	// take hands ctx over from its request to a batch answered item by
	// item: the request no longer stands for it (a cancel finds nothing).
	void (*take)(void *ctx);
} osc_reply_ops_t;

typedef enum osc_req_kind {
	OSC_REQ_CALL,
	OSC_REQ_TELL,
	OSC_REQ_BATCH, // a whole batch for a batch_fn
	               // actor.c adds OSC_REQ_ITEM, one call of a batch without batch_fn.
} osc_req_kind_t;

struct oscar_req {
	osc_post_t  post;   // OSC_POST_TELL: posted by a host thread
	const char *target; // that tell's "uid\0method", after the struct
	// In the actor's mailbox while queued, in its deferred list once
	// held, yielded or a zombie; never in both.
	osc_node_t            node;
	osc_actor_t          *actor;
	const oscar_method_t *method;
	oscar_value_t        *args;
	osc_call_t           *call;  // waiting caller, or NULL
	osc_batch_t          *batch; // OSC_REQ_ITEM: its batch
	uint32_t              batch_idx;
	uint8_t               kind;
	uint8_t               state; // osc_req_state_t (actor.c)
	uint8_t               defer; // oscar_defer_t chosen by the handler
	bool                  replied;
	bool                  cancelled;
	uint8_t               pins;  // > 0: someone on the stack still uses it
	uint64_t              token; // names this request in call chains
	uint64_t             *chain; // tokens of the requests upstream
	uint32_t              chain_len;
	oscar_cancel_cb       cancel_cb;
	void                 *cancel_arg;
	osc_list_t            children; // calls made through oscar_req_call, by cnode
	// Delivered from another pool: how to answer (set by the transport).
	const osc_reply_ops_t *reply;
	void                  *reply_ctx;
};

// ---------------------------------------------------------------------------
// Calls (caller side)

// osc_call_ops_t is the target's side of a call record, filled by whoever
// started the call: the local path (osc_local_call_ops, actor.c) or the
// transport. call.c reaches the target only through them; a timer or the
// pool's own internal call has none.
typedef struct osc_call_ops {
	// cancel asks the target to stop; false when there is nothing left
	// to ask (the call then fails with OSCAR_ECANCELED at once).
	bool (*cancel)(osc_call_t *c);
	// detach unlinks a finished c from the target's side.
	void (*detach)(osc_call_t *c);
	// timeout completes err, the details of c's timeout, with what the
	// target's side knows.
	void (*timeout)(const osc_call_t *c, oscar_error_t *err);
} osc_call_ops_t;

struct osc_call {
	uint64_t              id;
	int64_t               deadline; // uv_now() milliseconds
	size_t                heap_idx; // SIZE_MAX when not in the heap
	oscar_pool_t         *pool;
	const osc_call_ops_t *ops;   // the target's side, or NULL
	osc_actor_t          *owner; // calling actor, or NULL
	oscar_reply_cb        cb;
	void                 *arg;
	oscar_call_t         *host;   // calling host handle, or NULL
	osc_req_t            *req;    // the request while both live
	osc_req_t            *parent; // oscar_req_call's request while both live
	osc_batch_t          *batch;  // the batch collecting item replies, if any
	int64_t               timeout_ms;
	osc_node_t            onode; // owner's list of calls
	osc_node_t            cnode; // parent's list of children
	osc_node_t            dnode; // the pool's done queue
	bool                  done;
	bool                  orphan; // in the done queue, but nobody to tell
	bool                  timer;  // oscar_actor_after: its deadline is its success
	// internal: the pool's own call (transport.c), whose callback runs
	// with a NULL actor.
	bool internal;
	// held: its peer's connection dropped, and it waits for word of how
	// that pool ended (in the peer's held list, transport.c).
	bool             held;
	int              code;
	oscar_value_t   *value;
	oscar_error_t   *err;
	char             target[OSCAR_UID_MAX + OSCAR_NAME_MAX]; // "uid.method"
	uint8_t          uid_len; // where the uid ends in target (uids may hold dots)
	struct osc_peer *peer;    // remote call: the pool it went to
	osc_node_t       pnode;   // in the peer's list of pending (or held) calls
};

// ---------------------------------------------------------------------------
// Cross-file functions (loop thread unless noted)

// inbox.c: posting to a pool from any thread
int  osc_pool_post(oscar_pool_t *pool, osc_post_t *p);        // any thread
void osc_pool_post_always(oscar_pool_t *pool, osc_post_t *p); // any thread
void osc_pool_wake(oscar_pool_t *pool);                       // any thread

// pool.c
// osc_pool_open_home opens a pool (oscar_pool_open), whose main pool is at
// home when it is a sub pool (see oscar_pool_t.home), with the hooks of
// the layers above the loop.
int  osc_pool_open_home(oscar_pool_t **poolp, const oscar_pool_config_t *cfg, const char *home,
     const osc_pool_hooks_t *hooks, oscar_error_t *err);
bool osc_pool_on_loop(const oscar_pool_t *pool); // any thread

// osc_ref_is_local tells whether ref names an actor of pool: its address
// is pool's own, or empty.
static inline bool osc_ref_is_local(const oscar_pool_t *pool, const oscar_ref_t *ref)
{
	return (ref->addr[0] == '\0' || strcmp(ref->addr, pool->address) == 0);
}

// actor.c
// osc_class_find returns the class called name among pool's classes.
const oscar_actor_class_t *osc_class_find(const oscar_pool_t *pool, const char *name);
osc_actor_t               *osc_actor_find(oscar_pool_t *pool, const char *uid);
int  osc_actor_create(oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid,
     oscar_value_t *args, osc_actor_t **ap, oscar_error_t *err);
int  osc_actor_destroy(osc_actor_t *a);
void osc_actor_run(osc_actor_t *a, unsigned budget);
int  osc_actor_enqueue(osc_actor_t *a, osc_req_t *req, oscar_error_t *err);
const oscar_method_t *osc_method_find(const oscar_actor_class_t *cls, const char *name);
osc_req_t            *osc_req_new(
               osc_actor_t *a, const oscar_method_t *m, osc_req_kind_t kind, oscar_value_t *args);
void osc_req_maybe_free(osc_req_t *req);
void osc_req_cancel(osc_req_t *req);
void osc_actors_close_all(oscar_pool_t *pool);
// osc_chain_build gives req the chain of a call made for parent: parent's
// chain and parent's own token.
int osc_chain_build(osc_req_t *req, const osc_req_t *parent, oscar_error_t *err);
// The target's side of a local call (c->req), and the actor layer's side
// of the calls actors make.
extern const osc_call_ops_t  osc_local_call_ops;
extern const osc_owner_ops_t osc_actor_owner_ops;

// start.c
// osc_call_desc_t describes a call for osc_call_start: who calls, whom,
// with what, and who hears the answer.
typedef struct osc_call_desc {
	osc_actor_t       *owner;  // the calling actor, or NULL (a host thread)
	osc_req_t         *parent; // the request it calls for (oscar_req_call), or NULL
	const oscar_ref_t *ref;    // the target
	const char        *method;
	osc_req_kind_t     kind;
	oscar_value_t     *args;       // consumed by osc_call_start
	int64_t            timeout_ms; // 0: the pool's default
	oscar_reply_cb     cb;         // the answer goes to cb on owner, with arg,
	void              *arg;
	oscar_call_t      *host; // or to this host handle
} osc_call_desc_t;

int osc_call_start(
    oscar_pool_t *pool, const osc_call_desc_t *d, osc_call_t **callp, oscar_error_t *err);

// call.c
// osc_call_new and osc_call_link make and register a call record; the
// local and the remote paths share them. osc_call_reserve makes room in
// the deadline heap so that osc_call_link cannot fail.
osc_call_t *osc_call_new(oscar_pool_t *pool, const char *uid, const char *method,
    int64_t timeout_ms, oscar_reply_cb cb, void *arg, oscar_call_t *host);
int         osc_call_reserve(oscar_pool_t *pool);
void        osc_call_link(oscar_pool_t *pool, osc_call_t *c, osc_actor_t *owner, osc_req_t *parent);
void osc_call_complete(osc_call_t *c, int code, oscar_value_t *value, const oscar_error_t *err);
void osc_call_cancel(osc_call_t *c);
void osc_call_run_done(oscar_pool_t *pool);
void osc_call_expire(oscar_pool_t *pool, int64_t now);
void osc_call_fail_all(oscar_pool_t *pool, int code);

#endif // OSC_POOL_INT_H
