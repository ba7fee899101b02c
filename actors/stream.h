// The stream link: length-prefixed messages over TCP and unix sockets on a
// libuv loop (internal).
//
// A link (osc_stream_t) lives on one uv_loop_t and does all its I/O there,
// with no thread of its own: it listens on one address, accepts
// connections, and dials others, each dialed connection redialled with a
// backoff when it drops or cannot be made. A message travels as a 16-byte
// header (the magic "OSCL", a version byte, three zero bytes, the body's
// length as 8 little-endian bytes) followed by its body. What one loop turn
// queues on a connection leaves in one write at the end of the turn. A
// socket is read 16 KiB at a time, and once a read has given whole
// messages, the rest waits for the next turn, so that what they answer
// leaves before more is read.
// docs/wire.md lays out the bytes; docs/architecture.md says where the link
// sits.
//
// Bounds. Each connection's send queue holds at most sendbuf bytes (a full
// queue refuses the message with OSCAR_EMBOXFULL); a header that is not
// ours, or that announces more than max_message bytes, closes that
// connection and is counted; large messages being received hold at most
// recv_budget bytes at once, memory following what arrives, never what a
// header announces; at most max_conns accepted connections are open.
#ifndef OSC_STREAM_H
#define OSC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define OSC_STREAM_HEADER  16
#define OSC_STREAM_VERSION 1
// Bodies of at least this size are received into a buffer of their own,
// which the receiver takes over (no copy).
#define OSC_STREAM_LARGE 65536

typedef struct osc_stream      osc_stream_t;
typedef struct osc_stream_conn osc_stream_conn_t;

typedef struct osc_stream_config {
	size_t   max_message;   // largest body accepted
	size_t   recv_budget;   // bytes of large bodies being received at once
	size_t   sendbuf;       // bytes queued per connection
	unsigned max_conns;     // accepted connections open at once
	uint64_t redial_min_ms; // first redial delay, doubled up to the max
	uint64_t redial_max_ms;
	uint64_t resolve_ms; // how long a dialed host name may take to resolve
	                     // (0: 5000)
} osc_stream_config_t;

// The callbacks, all on the loop thread. A connection closed with
// osc_stream_conn_close, or by osc_stream_close, gets no more of them.
typedef struct osc_stream_cbs {
	// up: a dialed connection is established (pid: the peer process for
	// ipc, from SO_PEERCRED, else 0).
	void (*up)(osc_stream_conn_t *c, int64_t pid);
	// down: a connection that was up dropped (a dialed one redials).
	void (*down)(osc_stream_conn_t *c);
	// recv: one message body. When owned, data is a malloc'd block of
	// len + 1 bytes (the last one free for the receiver to use) that the
	// callee must free; otherwise data is only valid during the call.
	void (*recv)(osc_stream_conn_t *c, char *data, size_t len, bool owned);
	// failed: a dialed host name could not be resolved (code
	// OSCAR_EADDRINVAL), or not within resolve_ms (OSCAR_ETIMEDOUT); msg
	// says why. What c queued is dropped, it never dials, and it refuses
	// messages with that code until osc_stream_conn_close (which the
	// callee may call).
	void (*failed)(osc_stream_conn_t *c, int code, const char *msg);
} osc_stream_cbs_t;

typedef struct osc_stream_stats {
	uint64_t bad;       // connections closed for a header not ours
	uint64_t refused;   // connections closed for max_message or recv_budget
	uint64_t turned;    // accepted connections closed at once (max_conns)
	size_t   receiving; // bytes held by large bodies being received
	unsigned conns;     // accepted connections open
} osc_stream_stats_t;

// osc_stream_handles tells whether the link carries url: tcp://, tcp4://,
// tcp6:// and ipc://.
bool osc_stream_handles(const char *url);

// osc_stream_new makes a link on loop; arg is given back by
// osc_stream_arg. NULL when out of memory.
osc_stream_t *osc_stream_new(
    uv_loop_t *loop, const osc_stream_config_t *cfg, const osc_stream_cbs_t *cbs, void *arg);
void *osc_stream_arg(const osc_stream_t *s);

// osc_stream_listen listens on url; for tcp, *port (may be NULL) gets the
// port bound (port 0 lets the system choose). A host name is resolved
// here, on the calling thread. An ipc socket file left by
// a process that is gone is replaced; one someone listens on is
// OSCAR_EADDRINUSE. Else OSCAR_EADDRINVAL or OSCAR_ESYSTEM, msg saying
// why.
int osc_stream_listen(osc_stream_t *s, const char *url, int *port, char *msg, size_t size);

// osc_stream_dial starts connecting to url, and keeps the connection up
// (redialling) until osc_stream_conn_close. Messages sent meanwhile wait
// in its queue. A host name is resolved once, with uv_getaddrinfo on
// libuv's thread pool (the loop never waits for it), its addresses tried
// in turn; the failed callback says when that fails. NULL with *code
// and msg on failure (a url that cannot be parsed: OSCAR_EADDRINVAL; no
// memory); the callbacks then never hear of it.
osc_stream_conn_t *osc_stream_dial(
    osc_stream_t *s, const char *url, void *data, int *code, char *msg, size_t size);

// osc_stream_redial sets a dialed connection's redial delays.
void osc_stream_redial(osc_stream_conn_t *c, uint64_t min_ms, uint64_t max_ms);

// osc_stream_reserve queues a message of len bytes on c and returns
// where its body goes; the caller fills it before the loop turn ends.
// NULL with *code OSCAR_EMBOXFULL (the queue is full), OSCAR_ETOOLARGE
// (over max_message), OSCAR_ENOMEM, or the code c failed with.
void *osc_stream_reserve(osc_stream_conn_t *c, size_t len, int *code);

// osc_stream_flush writes what the turn queued now (it also goes by
// itself before the loop next waits).
void osc_stream_flush(osc_stream_t *s);

// osc_stream_conn_close closes a connection (dialed or accepted) at once,
// dropping what it still had to send; nothing waits.
void osc_stream_conn_close(osc_stream_conn_t *c);

// osc_stream_conn_data returns what was given to osc_stream_dial (NULL
// for an accepted connection), osc_stream_conn_link its link.
void         *osc_stream_conn_data(const osc_stream_conn_t *c);
osc_stream_t *osc_stream_conn_link(const osc_stream_conn_t *c);
bool          osc_stream_conn_dialed(const osc_stream_conn_t *c);

// osc_stream_pause stops (or starts again) reading from accepted
// connections: the senders' queues fill instead of this process's memory.
void osc_stream_pause(osc_stream_t *s, bool pause);

// osc_stream_sweep closes the connections whose large body has not
// progressed for idle_ms, giving its memory back.
void osc_stream_sweep(osc_stream_t *s, uint64_t idle_ms);

// osc_stream_stats fills *st.
void osc_stream_stats(const osc_stream_t *s, osc_stream_stats_t *st);

// osc_stream_close closes the listener and every connection. It never
// waits: the memory goes with the last handle's close callback, so the
// loop must run once more.
void osc_stream_close(osc_stream_t *s);

#endif // OSC_STREAM_H
