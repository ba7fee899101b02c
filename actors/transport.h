// The transport: frames between pools (internal).
//
// Every pool listens on its own address; to reach another pool it dials
// that pool's address once, and reuses that one connection for every
// call, tell and reply it sends there. Replies travel back the same way,
// to the address named in the frame's source field. tcp:// and ipc://
// travel on the stream link (actors/stream.h), on the pool's loop;
// tls+tcp://, inproc:// and abstract:// on NNG, whose threads never touch
// pool state: what they receive is posted to the pool's inbox.
#ifndef OSC_TRANSPORT_H
#define OSC_TRANSPORT_H

#include "actors/host.h" // osc_remote_control completes host handles
#include "actors/pool_int.h"

typedef struct osc_peer      osc_peer_t;
typedef struct osc_transport osc_transport_t;

// osc_transport_open starts listening on pool->address when it is a
// transport URL (inproc, ipc, tcp, tls+tcp), rewriting a tcp port 0 to the port
// bound. OSCAR_EADDRINUSE, OSCAR_EADDRINVAL or OSCAR_ESYSTEM on failure,
// with msg (size bytes) saying why. Called before the pool thread starts.
int osc_transport_open(oscar_pool_t *pool, char *msg, size_t size);

// osc_transport_close closes every socket and detaches the transport from
// the pool; its memory is released by the close callback of its libuv
// handles, so the loop must run once more (it does, during shutdown).
// Called on the loop thread during shutdown, after pending calls failed.
void osc_transport_close(oscar_pool_t *pool);

// osc_remote_start sends a call (or tell, or batch) to a pool at another
// address; like osc_call_start, on failure nothing is left and err says
// why. On success *callp (NULL for tells) waits for the reply frame; its
// ops (cancel, detach, timeout) are the transport's. A request that comes
// from another pool answers through the transport's reply ops
// (osc_reply_ops_t, pool_int.h).
int osc_remote_start(
    oscar_pool_t *pool, const osc_call_desc_t *d, osc_call_t **callp, oscar_error_t *err);

// osc_remote_control sends a pool-level request (create, destroy, has,
// lookup) for uid to the pool at addr, on behalf of host handle h; name is
// the class for a create. The reply completes h like a call's.
int osc_remote_control(oscar_pool_t *pool, int type, const char *addr, const char *uid,
    const char *name, oscar_value_t *args, int64_t timeout_ms, oscar_call_t *h, oscar_error_t *err);

// osc_transport_peer_gone fails the calls pending on the pool at addr
// with OSCAR_EPEERGONE, saying why (a printf format) and naming pid, the
// process that ended there, in their errors; questions parked about it
// get the same answer.
void osc_transport_peer_gone(
    oscar_pool_t *pool, const char *addr, int64_t pid, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

// osc_transport_resume starts receiving again once the inbox has room,
// after a full inbox paused it (loop thread, after each inbox slice).
void osc_transport_resume(oscar_pool_t *pool);

// osc_transport_dispatch handles what NNG posted (a frame, a connection
// event); when the pool is no longer running it only releases it.
void osc_transport_dispatch(oscar_pool_t *pool, osc_post_t *p);

// osc_transport_stats fills the transport's counters in stats.
void osc_transport_stats(oscar_pool_t *pool, oscar_pool_stats_t *stats);

// osc_transport_secret returns the pool's cluster secret (*len bytes,
// owned by the transport), or NULL when it has none.
const void *osc_transport_secret(const oscar_pool_t *pool, size_t *len);

#endif // OSC_TRANSPORT_H
