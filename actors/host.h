// Host handles (internal): how a thread other than a pool's own asks that
// pool to do something and waits for the answer.
//
// A host operation is an osc_host_op_t: one function that performs it on
// the pool's loop, and the size of the payload it keeps after the handle
// (its arguments and results beyond the common ones). The host-thread API
// (host.c, and the sub pool operations in subpool.c) makes a handle for
// an operation, fills its payload, posts it and waits.
#ifndef OSC_HOST_H
#define OSC_HOST_H

#include "actors/pool_int.h"

typedef struct osc_host_op osc_host_op_t;

// OSC_HOST_LATER, returned by an operation's run, says that h is not
// finished yet: a call's answer or a sub pool's progress finishes it.
#define OSC_HOST_LATER (-1)

struct osc_host_op {
	const char *name;
	size_t      size; // payload bytes
	// run performs h on the loop: 0 or an error code (with err filled),
	// or OSC_HOST_LATER. It owns h->args from then on.
	int (*run)(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err);
	// reply, if any, reads a successful answer from another pool, in
	// h->reply, into h.
	void (*reply)(oscar_pool_t *pool, oscar_call_t *h);
	// fini, if any, releases what the payload owns.
	void (*fini)(oscar_call_t *h);
};

struct oscar_call {
	osc_post_t           post;        // OSC_POST_HOST
	osc_post_t           cancel_post; // OSC_POST_CANCEL
	atomic_int           refs;        // host + loop (+ a posted cancel)
	atomic_bool          cancel_sent;
	uv_mutex_t           mu;
	uv_cond_t            cv;
	bool                 done;      // under mu
	bool                 abandoned; // under mu: the host stopped waiting
	const osc_host_op_t *op;
	oscar_pool_t        *pool;
	int64_t              timeout_ms;
	uint64_t             deadline_ns;            // host clock (uv_hrtime)
	oscar_ref_t          ref;                    // the target, if any
	char                 method[OSCAR_NAME_MAX]; // or a class name
	oscar_value_t       *args;                   // taken by the loop
	// The outcome, written by the loop before done is set.
	int            code;
	oscar_value_t *reply;
	oscar_error_t  err;
	// Loop: the call record while a call runs for h.
	osc_call_t *call;
	max_align_t payload[]; // op->size bytes
};

// OSC_HOST_PAYLOAD is h's payload as a type *.
#define OSC_HOST_PAYLOAD(h, type) \
	((type *) (void *) ((char *) (h) + offsetof(oscar_call_t, payload)))

// osc_host_new makes a handle for op on pool, for ref (may be NULL) and
// method (may be NULL), taking args, with a zeroed payload; nothing is
// posted yet. timeout_ms 0 is the pool's default. On failure args are
// freed, *hp is NULL and err (may be NULL) says why. Any thread but
// pool's own, unless op is the one operation nobody waits for.
int osc_host_new(oscar_pool_t *pool, const osc_host_op_t *op, const oscar_ref_t *ref,
    const char *method, oscar_value_t *args, int64_t timeout_ms, oscar_call_t **hp,
    oscar_error_t *err);

// osc_host_sync posts h and waits for it. On success with keep, h stays
// the caller's to read and release; otherwise it is released.
int osc_host_sync(oscar_call_t *h, bool keep, oscar_error_t *err);

// osc_host_complete records the outcome in h and wakes its waiter (loop).
void osc_host_complete(oscar_call_t *h, int code, const oscar_error_t *err);

// osc_host_release drops one reference to h (any thread).
void osc_host_release(oscar_call_t *h);

// osc_host_dispatch performs what a host thread posted (a handle, a
// cancel, a tell from oscar_tell_nowait), or fails it when the pool no
// longer runs: the pool's post hook. osc_host_finish completes the handle
// of call c, which has finished: the pool's host_finish hook.
void osc_host_dispatch(oscar_pool_t *pool, osc_post_t *p);
void osc_host_finish(osc_call_t *c);

// osc_host_read_ref reads the ref another pool answered, [address, uid]
// in h->reply, into h->ref; false when the answer is not one.
bool osc_host_read_ref(oscar_call_t *h);

#endif // OSC_HOST_H
