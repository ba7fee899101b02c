// Private structures of the in-process actor system, shared by pool.c,
// actor.c and call.c. Nothing outside actors/ includes this file.
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
//  - oscar_call: a host thread's handle, shared by that thread and the loop
//    under a reference count; the host waits on its condition variable.
#ifndef OSC_POOL_INT_H
#define OSC_POOL_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "actors/map.h"
#include "oscar/actor.h"

typedef struct oscar_actor osc_actor_t;
typedef struct oscar_req   osc_req_t;
typedef struct osc_call    osc_call_t;
typedef struct osc_batch   osc_batch_t;
typedef struct osc_post    osc_post_t;
typedef struct osc_subpool osc_subpool_t;

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
// Host handles

typedef enum osc_op {
	OSC_OP_CALL,
	OSC_OP_BATCH,
	OSC_OP_TELL,
	OSC_OP_CREATE,
	OSC_OP_DESTROY,
	OSC_OP_HAS,
	OSC_OP_LOOKUP,
	OSC_OP_STATS,
	OSC_OP_CREATE_NAMED, // method holds the class name
	OSC_OP_SUB,          // a sub pool operation (sub_op)
} osc_op_t;

struct oscar_call {
	osc_post_t    post;        // OSC_POST_HOST
	osc_post_t    cancel_post; // OSC_POST_CANCEL
	atomic_int    refs;        // host + loop (+ a posted cancel)
	atomic_bool   cancel_sent;
	uv_mutex_t    mu;
	uv_cond_t     cv;
	bool          done;      // under mu
	bool          abandoned; // under mu: the host stopped waiting
	osc_op_t      op;
	oscar_pool_t *pool;
	int64_t       timeout_ms;
	uint64_t      deadline_ns; // host clock (uv_hrtime)
	// request
	oscar_ref_t                ref;
	char                       method[OSCAR_NAME_MAX];
	oscar_value_t             *args;
	const oscar_actor_class_t *cls;
	// outcome, written by the loop before done is set
	int                code;
	oscar_value_t     *reply;
	oscar_error_t      err;
	bool               exists;
	oscar_pool_stats_t stats;
	// loop: the call record while the call runs
	osc_call_t *call;
	// sub pool operations
	int               sub_op;
	unsigned          sub_index; // the sub pool (index + 1 when set by placement)
	oscar_placement_t placement;
	char              label[OSCAR_NAME_MAX];
	char              mark[OSCAR_NAME_MAX];
	oscar_value_t    *args_copy; // for OSCAR_RECOVER_ACTOR
	bool              nowait;    // oscar_tell_nowait to another pool
	oscar_call_t     *wnext;     // in pool->subs.waiters
	void             *out;       // oscar_sub_pool_info_t array
	size_t            out_cap;
	size_t            out_n;
};

// ---------------------------------------------------------------------------
// Pool

typedef enum osc_pool_state {
	OSC_POOL_RUNNING,
	OSC_POOL_CLOSING,
	OSC_POOL_CLOSED,
} osc_pool_state_t;

struct oscar_pool {
	oscar_pool_config_t cfg;
	char                address[OSCAR_ADDR_MAX];
	// home is the address of this pool's main pool when it runs as a sub
	// pool (oscar_subpool_main), else "": who to ask how a peer died.
	char        home[OSCAR_ADDR_MAX];
	uint64_t    id;
	int64_t     pid;
	uv_loop_t   loop;
	uv_thread_t thread;
	uv_async_t  wake;
	uv_timer_t  timer;
	uv_idle_t   idle;
	uv_sem_t    started;

	// Cross-thread.
	osc_inbox_t   inbox;
	atomic_bool   closing; // set once by oscar_pool_close
	atomic_bool   freeing; // set once by oscar_pool_free
	atomic_ullong dropped;

	// Loop only.
	osc_pool_state_t state;
	bool             in_run; // osc_pool_run is on the stack
	osc_map_t        actors; // uid -> actor
	osc_actor_t     *runq_head;
	osc_actor_t     *runq_tail;
	osc_call_t      *done_head; // completed calls whose callback is pending
	osc_call_t      *done_tail;
	struct {
		osc_call_t **items;
		size_t       len;
		size_t       cap;
	} heap;                      // pending calls by deadline
	int64_t            armed_at; // when the timer fires, or -1
	uint64_t           next_call_id;
	uint64_t           next_token;
	uint64_t           next_uid;
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
	// Sub pools (actors/subpool.c).
	struct {
		osc_subpool_t **v;
		unsigned        n;
		unsigned        cap;
		unsigned        rr;          // round robin for placement
		unsigned        starting;    // not yet ready at open
		int             start_error; // why open fails
		uv_timer_t      start_timer;
		uv_timer_t      kill_timer;
		bool            escalating;
		oscar_call_t   *waiters; // host handles waiting for sub pools
	} subs;
};

// ---------------------------------------------------------------------------
// Actors and requests

enum {
	OSC_ACTOR_DEAD    = 1u << 0, // out of the map; no new work
	OSC_ACTOR_EXITING = 1u << 1, // destroy when the handler returns
	OSC_ACTOR_RUNNING = 1u << 2, // a handler is on the stack
};

struct oscar_actor {
	oscar_pool_t              *pool;
	const oscar_actor_class_t *cls;
	uint32_t                   flags;
	osc_req_t                 *mb_head; // mailbox
	osc_req_t                 *mb_tail;
	size_t                     mb_len;
	osc_req_t                 *held;     // deferred with OSCAR_DEFER_HOLD
	osc_req_t                 *deferred; // all deferred requests
	osc_call_t                *calls;    // outstanding calls made by us
	osc_actor_t               *runq_next;
	bool                       scheduled;
	oscar_ref_t                ref;
	max_align_t                state[]; // cls->state_size bytes
};

typedef enum osc_req_kind {
	OSC_REQ_CALL,
	OSC_REQ_TELL,
	OSC_REQ_BATCH, // a whole batch for a batch_fn
	OSC_REQ_ITEM,  // one call of a batch without batch_fn
} osc_req_kind_t;

typedef enum osc_req_state {
	OSC_REQ_QUEUED,
	OSC_REQ_RUNNING,
	OSC_REQ_HELD,
	OSC_REQ_YIELDED,
	OSC_REQ_ZOMBIE, // answered, kept until its child calls' callbacks ran
} osc_req_state_t;

struct oscar_req {
	osc_post_t            post;          // OSC_POST_TELL: posted by a host thread
	const char           *target;        // that tell's "uid\0method", after the struct
	osc_req_t            *next;          // mailbox link
	osc_req_t            *dprev, *dnext; // actor's deferred list
	osc_actor_t          *actor;
	const oscar_method_t *method;
	oscar_value_t        *args;
	osc_call_t           *call;  // waiting caller, or NULL
	osc_batch_t          *batch; // OSC_REQ_ITEM: its batch
	uint32_t              batch_idx;
	uint8_t               kind;
	uint8_t               state;
	uint8_t               defer; // oscar_defer_t chosen by the handler
	bool                  replied;
	bool                  cancelled;
	uint8_t               pins;  // > 0: someone on the stack still uses it
	uint64_t              token; // names this request in call chains
	uint64_t             *chain; // tokens of the requests upstream
	uint32_t              chain_len;
	oscar_cancel_cb       cancel_cb;
	void                 *cancel_arg;
	osc_call_t           *children; // calls made through oscar_req_call
	struct osc_route     *route;    // came from another pool: where to answer
};

// A batch served item by item: the items report here, and the last one
// answers the caller.
struct osc_batch {
	oscar_pool_t     *pool;
	osc_call_t       *call;
	struct osc_route *route;   // or: the caller is in another pool
	oscar_value_t    *results; // array
	uint32_t          n;
	uint32_t          pending;
	bool              failed;
};

// ---------------------------------------------------------------------------
// Calls (caller side)

struct osc_call {
	uint64_t       id;
	int64_t        deadline; // uv_now() milliseconds
	size_t         heap_idx; // SIZE_MAX when not in the heap
	oscar_pool_t  *pool;
	osc_actor_t   *owner; // calling actor, or NULL
	oscar_reply_cb cb;
	void          *arg;
	oscar_call_t  *host;   // calling host handle, or NULL
	osc_req_t     *req;    // the request while both live
	osc_req_t     *parent; // oscar_req_call's request while both live
	osc_batch_t   *batch;  // the batch collecting item replies, if any
	int64_t        timeout_ms;
	osc_call_t    *onext, *oprev; // owner's list
	osc_call_t    *cnext, *cprev; // parent's children list
	osc_call_t    *done_next;
	bool           done;
	bool           orphan; // in the done queue, but nobody to tell
	bool           timer;  // oscar_actor_after: its deadline is its success
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
	uint8_t          uid_len;       // where the uid ends in target (uids may hold dots)
	struct osc_peer *peer;          // remote call: the pool it went to
	osc_call_t      *pnext, *pprev; // the peer's list of pending calls
};

// ---------------------------------------------------------------------------
// Cross-file functions (loop thread unless noted)

#define OSC_CONTAINER_OF(ptr, type, member) ((type *) ((char *) (ptr) -offsetof(type, member)))

// pool.c
// osc_pool_open_home is oscar_pool_open for a sub pool, whose main pool is
// at home (see oscar_pool_t.home).
int  osc_pool_open_home(oscar_pool_t **poolp, const oscar_pool_config_t *cfg, const char *home);
void osc_pool_arm(oscar_pool_t *pool, int64_t deadline);
bool osc_pool_on_loop(const oscar_pool_t *pool); // any thread
void osc_pool_schedule(oscar_pool_t *pool, osc_actor_t *a);
int  osc_pool_post(oscar_pool_t *pool, osc_post_t *p);        // any thread
void osc_pool_post_always(oscar_pool_t *pool, osc_post_t *p); // any thread
void osc_pool_wake(oscar_pool_t *pool);                       // any thread
bool osc_ref_is_local(const oscar_pool_t *pool, const oscar_ref_t *ref);

// osc_class_find returns the class called name among pool's classes.
const oscar_actor_class_t *osc_class_find(const oscar_pool_t *pool, const char *name);

// actor.c
osc_actor_t *osc_actor_find(oscar_pool_t *pool, const char *uid);
int          osc_actor_create(oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid,
             oscar_value_t *args, osc_actor_t **ap, oscar_error_t *err);
int          osc_actor_destroy(osc_actor_t *a);
void         osc_actor_run(osc_actor_t *a, unsigned budget);
int          osc_actor_enqueue(osc_actor_t *a, osc_req_t *req, oscar_error_t *err);
const oscar_method_t *osc_method_find(const oscar_actor_class_t *cls, const char *name);
osc_req_t            *osc_req_new(
               osc_actor_t *a, const oscar_method_t *m, osc_req_kind_t kind, oscar_value_t *args);
void osc_req_maybe_free(osc_req_t *req);
void osc_req_cancel(osc_req_t *req);
void osc_req_finish(osc_req_t *req, int code, oscar_value_t *value, const oscar_error_t *err);
void osc_actors_close_all(oscar_pool_t *pool);

// call.c
int  osc_call_start(oscar_pool_t *pool, osc_actor_t *owner, osc_req_t *parent,
     const oscar_ref_t *ref, const char *method, osc_req_kind_t kind, oscar_value_t *args,
     int64_t timeout_ms, oscar_reply_cb cb, void *arg, oscar_call_t *host, osc_call_t **callp,
     oscar_error_t *err);
void osc_call_complete(osc_call_t *c, int code, oscar_value_t *value, const oscar_error_t *err);
void osc_call_cancel(osc_call_t *c);
void osc_call_run_done(oscar_pool_t *pool);
void osc_call_expire(oscar_pool_t *pool, int64_t now);
void osc_call_fail_all(oscar_pool_t *pool, int code);
void osc_call_detach_owner(osc_actor_t *a, bool notify);
void osc_host_complete(oscar_call_t *h, int code, const oscar_error_t *err);
void osc_host_release(oscar_call_t *h);
void osc_host_run(oscar_pool_t *pool, oscar_call_t *h);
void osc_host_cancel(oscar_pool_t *pool, oscar_call_t *h);
void osc_tell_run(oscar_pool_t *pool, osc_req_t *req);

// error helpers (call.c)
void osc_error_set(oscar_error_t *err, const oscar_pool_t *pool, int code, const char *actor,
    const char *method, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
oscar_error_t *osc_error_dup(const oscar_error_t *err);

#endif // OSC_POOL_INT_H
