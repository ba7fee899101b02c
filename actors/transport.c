// The transport: calls, tells and replies between pools, as frames.
//
// Design note. A pool whose address is a transport URL listens on it. To
// reach another pool it opens one connection dialed to that pool's
// address (an osc_peer) and sends every frame for that pool through it,
// so there is one connection per peer pool whatever the number of calls
// or actors. Answers come back the same way: the answering pool sends a
// result frame to the address in the call's source field, over its own
// connection to the caller.
//
// Links. What carries a peer's bytes is behind osc_link_ops_t: the
// stream link (actors/stream.c) for tcp:// and ipc://, NNG's push and
// pull sockets for tls+tcp://, inproc:// and abstract://. Everything else
// here (frames, routes, peers, death reports, the secret) is the same for
// both.
//
// Threads. The stream link does its I/O on the pool's loop: a received
// message is checked and its frames served in the link's read callback,
// and a check handle (runner_cb) runs the pool once the turn's reads are
// done. NNG runs its callbacks on its own threads; they touch nothing but
// the pool's inbox. A received frame, or a connection coming up or going
// down on a peer socket, becomes an osc_netpost_t posted to the inbox,
// and the pool's loop does the rest. Frames are sent from the loop: each
// link's queue is bounded, and a full one is OSCAR_EMBOXFULL.
//
// Failure. When the last connection to a peer goes down, every call
// pending on that peer fails with OSCAR_EPEERGONE. A peer that was never
// reached leaves its calls to their deadlines, whose error then says the
// pool could not be reached. Malformed frames are dropped and counted; the
// pool carries on.
//
// Death reports. A lost connection alone does not say how the pool at the
// other end ended; for a sub pool, its main pool knows (the process's exit
// status or signal, and its pid). So the calls pending on a lost peer are
// held (the peer's held list) until that word comes, for at most
// OSC_DEATH_WAIT_MS, then fail with it, or with the bare "lost the
// connection" when none came:
//  - in a main pool, for one of its sub pools: the process's exit fails
//    them (osc_transport_peer_gone), whether it is seen before or after
//    the connection drops;
//  - in any other pool, when the peer's main pool is known: it is asked
//    (a control frame "exit" with [address, pid, up_at], answered with
//    [description, pid] once the process has exited). A sub pool names its
//    main pool and its pid to every pool it talks to, in a "home" control
//    frame before anything else; a sub pool also asks its own main pool
//    about peers it heard nothing from (its siblings). Such a lost peer is
//    retired at once, so that new calls dial whatever runs at its address
//    next, and it stays only for its held calls and until its socket can
//    close outside a handshake (peer_retire). Retired peers are
//    bounded like live ones (max_peers); past the bound, a loss fails its
//    calls at once.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/tls/tls.h>

#include "actors/auth.h"
#include "actors/stream.h"
#include "actors/transport.h"
#include "actors/wire.h"

// Bins of at least this size travel as out-of-band buffers.
#define OSC_OOB_THRESHOLD 65536
// Frames a peer socket holds while its connection is slow or down.
#define OSC_PEER_SENDBUF 8192
// Frames smaller than this are coalesced, up to OSC_COALESCE_MAX bytes per
// NNG message (OSC_LINK_BATCH on the stream link).
#define OSC_COALESCE_FRAME 16384
#define OSC_COALESCE_MAX   262144
// How long the calls of a lost peer wait for word of how its pool ended.
#define OSC_DEATH_WAIT_MS 2000
// Questions about sub pools that still run, parked until they end (a
// main pool), and how long one is kept for an asker that gave up.
#define OSC_ASKS_MAX    1024
#define OSC_ASK_KEEP_MS (2 * OSC_DEATH_WAIT_MS)
// The redial delay of a connection that is dropped once lost (see
// peer_slow_redial).
#define OSC_RETIRED_REDIAL_MS 600000
// The stream link: bytes queued per connection, and the least bound on
// accepted connections (4 * max_peers otherwise).
#define OSC_LINK_SENDBUF ((size_t) 256 << 20)
// Small frames coalesced per message on the stream link: a burst goes as
// several messages, which the receiver serves as each arrives (see
// docs/performance.md, "The stream link's pipelined rows").
#define OSC_LINK_BATCH     ((size_t) 16 << 10)
#define OSC_LINK_CONNS_MIN 1024

typedef enum osc_net_kind {
	OSC_NET_FRAME,
	OSC_NET_UP,
	OSC_NET_DOWN,
	OSC_NET_IN_DOWN, // an incoming connection closed
} osc_net_kind_t;

typedef struct osc_netpost {
	osc_post_t     post;
	osc_net_kind_t kind;
	nng_msg       *msg;     // OSC_NET_FRAME
	uint32_t       sock_id; // OSC_NET_UP, OSC_NET_DOWN: the peer's socket;
	                        // OSC_NET_IN_DOWN: the pipe
	// OSC_NET_FRAME with a cluster secret: what its trailer said.
	uint64_t sender, seq;
	int64_t  sent_ms;
	int64_t  pid; // OSC_NET_UP over ipc: the peer's process, else 0
	uint64_t at;  // OSC_NET_UP: uv_hrtime() when it came up
} osc_netpost_t;

// osc_link_ops_t is what carries a peer's messages: NNG's push socket
// (tls+tcp://, inproc://, abstract://) or the stream link on the pool's
// loop (tcp://, ipc://). The protocol above (frames, routes, peers, death
// reports, the secret) does not care which.
typedef struct osc_link_ops {
	// dial opens peer p's connection to p->addr; it comes up later.
	int (*dial)(oscar_pool_t *pool, osc_peer_t *p, oscar_error_t *err);
	// send sends bufs[0..n) (total bytes) as one message, sealed when
	// the pool has a secret; target and method name it in err.
	int (*send)(oscar_pool_t *pool, osc_peer_t *p, const uv_buf_t *bufs, unsigned n,
	    size_t total, const char *target, const char *method, oscar_error_t *err);
	// close closes p's connection, dropping what it still had to send.
	void (*close)(osc_peer_t *p);
	// slow_redial makes p wait long before dialing again after a loss.
	void (*slow_redial)(osc_peer_t *p);
	// pieces: a message larger than OSC_WIRE_PIECE_MAX travels in pieces.
	bool pieces;
	// batch_max: bytes of small frames coalesced into one message.
	size_t batch_max;
} osc_link_ops_t;

static const osc_link_ops_t nng_link_ops;
static const osc_link_ops_t stream_link_ops;

struct osc_peer {
	osc_peer_t           *next;
	oscar_pool_t         *pool;
	char                  addr[OSCAR_ADDR_MAX];
	const osc_link_ops_t *ops;
	nng_socket            sock;    // NNG
	nng_dialer            dialer;  // NNG
	osc_stream_conn_t    *conn;    // the stream link
	int                   pipes;   // connections up now
	bool                  reached; // ever connected
	int64_t               used_ms; // loop time of its last use (peer_get)
	// Small frames wait here until the end of the loop turn, and go as
	// one NNG message (peer_flush); batch_ids names the calls among
	// them, so that a failed send fails them.
	osc_wbuf_t  out;
	uint32_t    out_frames;
	uint64_t   *batch_ids;
	size_t      batch_len, batch_cap;
	osc_peer_t *dirty_next;
	bool        dirty;
	osc_list_t  calls; // pending calls sent here, by their pnode
	// Death reports (see the design note).
	osc_list_t held;                 // calls pending when the connection dropped
	bool       asking;               // word of how the pool ended is on its way
	bool       retired;              // in the retired list (see peer_retire)
	bool       open;                 // retired, its socket not closed yet
	int64_t    lost_ms;              // retired: loop time of the loss
	uint64_t   serial;               // names the peer to that word
	int64_t    pid;                  // the peer's process, from its home frame, or 0
	uint64_t   up_at;                // uv_hrtime() when its connection last came up
	char       home[OSCAR_ADDR_MAX]; // its main pool, or ""
};

// A question about a sub pool that still runs (control "exit"), answered
// when it ends.
typedef struct osc_ask {
	struct osc_ask *next;
	uint64_t        id;
	int64_t         pid; // the process asked about, or 0
	int64_t         at;  // uv_now() when asked
	char            source[OSCAR_ADDR_MAX];
	char            addr[OSCAR_ADDR_MAX];
} osc_ask_t;

// A large message arriving in pieces from one connection (pipe).
typedef struct osc_assembly {
	uint32_t pipe;
	char    *buf; // cap bytes, len used; total + 1 once complete
	size_t   len, cap, total;
	int64_t  last_ms; // loop time of the last piece
} osc_assembly_t;

// An answer owed to a call from another pool.
typedef struct osc_route {
	osc_node_t node; // in the transport's routes
	osc_req_t *req;
	uint64_t   id;
	char       source[OSCAR_ADDR_MAX];
} osc_route_t;

struct osc_transport {
	nng_socket      in; // when listening with NNG (nng_in)
	bool            nng_in;
	osc_stream_t   *link; // tcp:// and ipc://, listening or dialing
	bool            link_paused;
	uv_check_t      runner; // runs the pool after frames came on the link
	nng_listener    listener;
	nng_aio        *rx;
	osc_peer_t     *peers;
	unsigned        npeers;
	osc_peer_t     *retired; // lost peers holding calls (at most max_peers)
	unsigned        nretired;
	uint64_t        next_serial;
	osc_ask_t      *asks; // parked death questions (a main pool)
	size_t          nasks;
	bool            warned_full; // said once that max_peers was reached
	uv_timer_t      sweeper;     // closes idle and unreachable peers
	osc_list_t      routes;      // osc_route_t, the newest first
	osc_map_t       calls;       // id -> pending remote call
	uint64_t        bad_frames;
	osc_map_t       assemblies; // pipe id -> osc_assembly_t
	size_t          assembling; // bytes they hold, for recv_budget
	uint64_t        refused;    // large messages refused by the budget
	bool            warned_refused;
	atomic_bool     rx_paused;  // receiving stopped: the inbox was full
	uv_prepare_t    flusher;    // sends the turn's coalesced frames
	osc_peer_t     *dirty;      // peers with frames waiting in out
	nng_tls_config *tls_server; // for a tls+tcp listener
	nng_tls_config *tls_client; // for tls+tcp peers
	int             handles;    // libuv handles not yet closed
	// With a cluster secret: every message is sealed and checked.
	bool          authed;
	osc_auth_t    auth;
	atomic_ullong rejected; // messages dropped: no proof, or a replay
};

// buf_of names n bytes at p for a link's send (uv_buf_init takes an int).
static uv_buf_t buf_of(const void *p, size_t n)
{
	uv_buf_t b;
	b.base = (char *) p;
	b.len  = n;
	return (b);
}

static int nng_err(int rv)
{
	switch (rv) {
	case 0:
		return (0);
	case NNG_ENOMEM:
		return (OSCAR_ENOMEM);
	case NNG_EADDRINUSE:
		return (OSCAR_EADDRINUSE);
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
		return (OSCAR_EADDRINVAL);
	case NNG_ECONNREFUSED:
		return (OSCAR_ECONNREFUSED);
	case NNG_EAGAIN:
		return (OSCAR_EMBOXFULL);
	case NNG_EMSGSIZE:
		return (OSCAR_ETOOLARGE);
	case NNG_ECLOSED:
		return (OSCAR_ECLOSED);
	default:
		return (OSCAR_ESYSTEM);
	}
}

// ---------------------------------------------------------------------------
// Pending remote calls by id (actors/map.h)

static osc_call_t *calls_find(osc_transport_t *t, uint64_t id)
{
	uint64_t    h   = osc_hash_u64(id);
	size_t      pos = osc_map_first(&t->calls, h);
	osc_call_t *c;
	while ((c = osc_map_next(&t->calls, h, &pos)) != NULL) {
		if (c->id == id) {
			return (c);
		}
	}
	return (NULL);
}

// ---------------------------------------------------------------------------
// NNG callbacks (NNG threads: they only post)

// net_post makes a post of what NNG brought (a frame or a connection
// event), which the caller then posts past the inbox bound
// (osc_pool_post_always); NULL when out of memory (msg is then freed).
static osc_netpost_t *net_post(
    oscar_pool_t *pool, osc_net_kind_t kind, nng_msg *msg, uint32_t sock_id)
{
	osc_netpost_t *np = malloc(sizeof(*np));
	if (np == NULL) {
		if (msg != NULL) {
			nng_msg_free(msg);
		}
		return (NULL);
	}
	np->post.kind = OSC_POST_NET;
	np->kind      = kind;
	np->msg       = msg;
	np->sock_id   = sock_id;
	np->sender    = 0;
	np->seq       = 0;
	np->sent_ms   = 0;
	np->pid       = 0;
	np->at        = 0;
	return (np);
}

static void rx_cb(void *arg)
{
	oscar_pool_t    *pool = arg;
	osc_transport_t *t    = pool->transport;
	int              rv   = nng_aio_result(t->rx);
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return;
	}
	if (rv == 0) {
		nng_msg *msg    = nng_aio_get_msg(t->rx);
		uint64_t sender = 0, seq = 0;
		int64_t  sent_ms = 0;
		// The tag is checked here, on NNG's thread, so that the pool's
		// loop never spends time on messages from strangers.
		if (t->authed && !osc_auth_check(&t->auth, msg, &sender, &seq, &sent_ms)) {
			// Relaxed: a statistic.
			atomic_fetch_add_explicit(&t->rejected, 1, memory_order_relaxed);
			nng_msg_free(msg);
			nng_recv_aio(t->in, t->rx);
			return;
		}
		// Backpressure: rather than drop a frame when the pool's inbox is
		// full, post it anyway and stop receiving; the loop resumes once
		// it has caught up (osc_transport_resume), and meanwhile the
		// sender's connection fills up instead of our memory.
		// Relaxed: the count only bounds memory.
		size_t         n = atomic_load_explicit(&pool->inbox.count, memory_order_relaxed);
		bool           pause = n + 1 >= pool->cfg.inbox_limit;
		osc_netpost_t *np    = net_post(pool, OSC_NET_FRAME, msg, 0);
		if (np != NULL) {
			np->sender  = sender;
			np->seq     = seq;
			np->sent_ms = sent_ms;
			osc_pool_post_always(pool, &np->post);
		}
		if (np != NULL && pause) {
			// Seq-cst: published once this callback is done with the
			// aio; the loop re-arms it only then (osc_transport_resume),
			// and the wake-up makes sure it looks.
			atomic_store(&t->rx_paused, true);
			osc_pool_wake(pool);
			return;
		}
	}
	nng_recv_aio(t->in, t->rx);
}

void osc_transport_resume(oscar_pool_t *pool)
{
	osc_transport_t *t = pool->transport;
	if (t != NULL && t->link_paused && pool->state == OSC_POOL_RUNNING &&
	    !uv_is_active((uv_handle_t *) &pool->idle)) {
		t->link_paused = false;
		osc_stream_pause(t->link, false);
	}
	// Seq-cst: pairs with the store in rx_cb.
	if (t == NULL || !t->nng_in || !atomic_load(&t->rx_paused) ||
	    pool->state != OSC_POOL_RUNNING) {
		return;
	}
	// Relaxed: the count only bounds memory.
	if (atomic_load_explicit(&pool->inbox.count, memory_order_relaxed) <
	    pool->cfg.inbox_limit / 2) {
		atomic_store(&t->rx_paused, false);
		nng_recv_aio(t->in, t->rx);
	}
}

// pipe_cb posts a peer's connection event. It names the peer by its
// socket's id, not by pointer, so that the loop may close and free a peer
// whose last events are still on their way: they then find no peer.
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	oscar_pool_t *pool = arg;
	uint64_t      pid  = 0;
	// Over ipc the kernel says which process is at the other end: the
	// one whose death a lost connection will be about.
	if (ev == NNG_PIPE_EV_ADD_POST && nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) != 0) {
		pid = 0;
	}
	// Past the inbox bound: a lost connection event would leave the
	// peer's state wrong for good, and there are few of them (peers are
	// bounded). The sockets are closed before the pool's loop ends, so
	// none comes after oscar_pool_free's last drain. Out of memory, the
	// peer's pending calls keep their deadlines.
	osc_netpost_t *np = net_post(pool, ev == NNG_PIPE_EV_ADD_POST ? OSC_NET_UP : OSC_NET_DOWN,
	    NULL, (uint32_t) nng_socket_id(nng_pipe_socket(p)));
	if (np != NULL) {
		np->pid = (int64_t) pid;
		np->at  = uv_hrtime();
		osc_pool_post_always(pool, &np->post);
	}
}

// in_pipe_cb posts the end of an incoming connection, so that a large
// message it was sending in pieces is dropped.
static void in_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	oscar_pool_t  *pool = arg;
	osc_netpost_t *np   = net_post(pool, OSC_NET_IN_DOWN, NULL, nng_pipe_id(p));
	(void) ev;
	if (np != NULL) {
		osc_pool_post_always(pool, &np->post);
	}
}

// ---------------------------------------------------------------------------
// Open and close

// read_file reads a small PEM file into a new string.
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long  n;
	if (f == NULL) {
		return (NULL);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1 << 20) ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t) n + 1)) == NULL) {
		fclose(f);
		return (NULL);
	}
	size_t got = fread(buf, 1, (size_t) n, f);
	fclose(f);
	buf[got] = '\0';
	return (buf);
}

// tls_config makes a TLS configuration from the pool's files.
static int tls_config(
    const oscar_pool_t *pool, nng_tls_mode mode, nng_tls_config **out, char *msg, size_t size)
{
	const oscar_pool_config_t *c = &pool->cfg;
	nng_tls_config            *cfg;
	int                        rv;
	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0) {
		snprintf(msg, size, "cannot set up TLS: %s", nng_strerror(rv));
		return (nng_err(rv));
	}
	if (c->tls_cert_file != NULL || c->tls_key_file != NULL) {
		char *cert = c->tls_cert_file ? read_file(c->tls_cert_file) : NULL;
		char *key  = c->tls_key_file ? read_file(c->tls_key_file) : NULL;
		rv         = cert == NULL || key == NULL ? NNG_ENOENT
		                                         : nng_tls_config_own_cert(cfg, cert, key, NULL);
		free(cert);
		free(key);
		if (rv != 0) {
			snprintf(msg, size, "cannot use the certificate %s and key %s: %s",
			    c->tls_cert_file ? c->tls_cert_file : "(none)",
			    c->tls_key_file ? c->tls_key_file : "(none)", nng_strerror(rv));
			nng_tls_config_free(cfg);
			return (OSCAR_EINVAL);
		}
	} else if (mode == NNG_TLS_MODE_SERVER) {
		snprintf(msg, size, "a tls+tcp listener needs tls_cert_file and tls_key_file");
		nng_tls_config_free(cfg);
		return (OSCAR_EINVAL);
	}
	if (c->tls_ca_file != NULL) {
		if ((rv = nng_tls_config_ca_file(cfg, c->tls_ca_file)) != 0 ||
		    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
			snprintf(msg, size, "cannot use the CA file %s: %s", c->tls_ca_file,
			    nng_strerror(rv));
			nng_tls_config_free(cfg);
			return (OSCAR_EINVAL);
		}
	} else {
		nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
	}
	*out = cfg;
	return (0);
}

// url_listens tells whether NNG listens on addr.
static bool url_listens(const char *addr)
{
	static const char *const schemes[] = { "inproc://", "ipc://", "tcp://", "tcp4://",
		"tcp6://", "tls+tcp://", "abstract://" };
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(addr, schemes[i], strlen(schemes[i])) == 0) {
			return (true);
		}
	}
	return (false);
}

// fix_tcp_address rewrites a tcp address after listening: port 0
// becomes the port bound, and a wildcard host (0.0.0.0, or none) the first
// external IPv4 address of the machine, or 127.0.0.1, so that the address
// can be handed to others.
static void fix_tcp_address(oscar_pool_t *pool, int port)
{
	const char *scheme_end = strstr(pool->address, "://");
	const char *host       = scheme_end + 3;
	const char *colon      = strrchr(host, ':');
	char        scheme[16];
	char        hostname[64];
	if (colon == NULL || (size_t) (scheme_end - pool->address) >= sizeof(scheme)) {
		return;
	}
	snprintf(scheme, sizeof(scheme), "%.*s", (int) (scheme_end - pool->address), pool->address);
	snprintf(hostname, sizeof(hostname), "%.*s", (int) (colon - host), host);
	if (hostname[0] == '\0' || strcmp(hostname, "0.0.0.0") == 0 || strcmp(hostname, "*") == 0) {
		uv_interface_address_t *ifs;
		int                     n;
		snprintf(hostname, sizeof(hostname), "127.0.0.1");
		if (uv_interface_addresses(&ifs, &n) == 0) {
			for (int i = 0; i < n; i++) {
				if (!ifs[i].is_internal &&
				    ifs[i].address.address4.sin_family == AF_INET) {
					uv_ip4_name(
					    &ifs[i].address.address4, hostname, sizeof(hostname));
					break;
				}
			}
			uv_free_interface_addresses(ifs, n);
		}
	}
	snprintf(pool->address, sizeof(pool->address), "%s://%s:%d", scheme, hostname, port);
}

// listens_beyond_loopback tells whether a tcp address (before the
// port and wildcard are fixed) may be reached from other machines.
static bool listens_beyond_loopback(const char *addr)
{
	static const char *const schemes[] = { "tcp://", "tcp4://", "tcp6://" };
	const char              *host      = NULL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(addr, schemes[i], strlen(schemes[i])) == 0) {
			host = addr + strlen(schemes[i]);
		}
	}
	if (host == NULL) {
		return (false); // inproc, ipc and abstract stay on this machine
	}
	return (!(strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
	          strncmp(host, "[::1]:", 6) == 0));
}

static void sweep_cb(uv_timer_t *h);
static void assembly_drop(osc_transport_t *t, osc_assembly_t *a);
static int  link_open(oscar_pool_t *pool, osc_transport_t *t, char *msg, size_t size);

// warn_open says on stderr, at start, that a pool open to the network
// trusts whoever reaches it.
static void warn_open(const oscar_pool_t *pool)
{
	if (pool->cfg.secret_len == 0 && listens_beyond_loopback(pool->address)) {
		fprintf(stderr,
		    "oscar: warning: pool %s listens beyond loopback with neither a cluster "
		    "secret nor TLS: whoever reaches it can create, call and destroy its "
		    "actors (see docs/security.md)\n",
		    pool->address);
	}
}

int osc_transport_open(oscar_pool_t *pool, char *msg, size_t size)
{
	int rv;
	if (!url_listens(pool->address)) {
		// Nothing travels: the secret has no use.
		pool->cfg.secret     = NULL;
		pool->cfg.secret_len = 0;
		return (0);
	}
	osc_transport_t *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(msg, size, "no memory for the transport");
		return (OSCAR_ENOMEM);
	}
	atomic_init(&t->rejected, 0);
	if (pool->cfg.secret_len != 0) {
		rv = pool->cfg.secret == NULL ? OSCAR_EINVAL
		                              : osc_auth_init(&t->auth, pool->cfg.secret,
		                                    pool->cfg.secret_len, pool->id);
		if (rv != 0) {
			snprintf(msg, size,
			    rv == OSCAR_EINVAL ? "a cluster secret has %d to %d bytes"
			                       : "cannot set up the cluster secret (%d, %d)",
			    OSCAR_SECRET_MIN, OSCAR_SECRET_MAX);
			osc_auth_fini(&t->auth);
			free(t);
			return (rv);
		}
		t->authed = true;
		// The pool's own copy, for its sub pools.
		pool->cfg.secret = t->auth.secret;
	}
	warn_open(pool);
	if (osc_stream_handles(pool->address)) {
		int port = 0;
		if ((rv = link_open(pool, t, msg, size)) != 0 ||
		    (rv = osc_stream_listen(t->link, pool->address, &port, msg, size)) != 0) {
			if (t->link != NULL) {
				osc_stream_close(t->link); // freed by the loop's last run
			}
			osc_auth_fini(&t->auth);
			free(t);
			return (rv);
		}
		if (strncmp(pool->address, "tcp", 3) == 0) {
			fix_tcp_address(pool, port);
		}
		goto started;
	}
	if ((rv = nng_pull0_open(&t->in)) != 0) {
		snprintf(msg, size, "cannot open a socket: %s", nng_strerror(rv));
		osc_auth_fini(&t->auth);
		free(t);
		return (nng_err(rv));
	}
	// No message is larger than a piece (or a batch of small frames), so
	// NNG, which allocates what a message's length prefix says before
	// reading it, never reserves more than that on a peer's word.
	nng_socket_set_size(
	    t->in, NNG_OPT_RECVMAXSZ, OSC_WIRE_PIECE_MAX + OSC_WIRE_PIECE + OSC_AUTH_TRAILER);
	nng_pipe_notify(t->in, NNG_PIPE_EV_REM_POST, in_pipe_cb, pool);
	bool tls = strncmp(pool->address, "tls+", 4) == 0;
	if (tls && (rv = tls_config(pool, NNG_TLS_MODE_SERVER, &t->tls_server, msg, size)) != 0) {
		nng_close(t->in);
		osc_auth_fini(&t->auth);
		free(t);
		return (rv);
	}
	if ((rv = nng_aio_alloc(&t->rx, rx_cb, pool)) != 0 ||
	    (rv = nng_listener_create(&t->listener, t->in, pool->address)) != 0 ||
	    (tls &&
	        (rv = nng_listener_set_ptr(t->listener, NNG_OPT_TLS_CONFIG, t->tls_server)) != 0) ||
	    (rv = nng_listener_start(t->listener, 0)) != 0) {
		snprintf(msg, size, "cannot listen on %s: %s", pool->address, nng_strerror(rv));
		nng_close(t->in);
		if (t->rx != NULL) {
			nng_aio_free(t->rx);
		}
		if (t->tls_server != NULL) {
			nng_tls_config_free(t->tls_server);
		}
		osc_auth_fini(&t->auth);
		free(t);
		return (nng_err(rv));
	}
	int port;
	if ((strncmp(pool->address, "tcp", 3) == 0 || tls) &&
	    nng_listener_get_int(t->listener, NNG_OPT_TCP_BOUND_PORT, &port) == 0) {
		fix_tcp_address(pool, port);
	}
	t->nng_in = true;
started:
	atomic_init(&t->rx_paused, false);
	uv_prepare_init(&pool->loop, &t->flusher);
	t->flusher.data = pool;
	uv_check_init(&pool->loop, &t->runner);
	t->runner.data = pool;
	uv_timer_init(&pool->loop, &t->sweeper);
	t->sweeper.data = pool;
	int64_t every   = pool->cfg.peer_connect_ms < pool->cfg.peer_idle_ms
	                      ? pool->cfg.peer_connect_ms
	                      : pool->cfg.peer_idle_ms;
	every           = every / 2 < 10 ? 10 : every / 2 > 1000 ? 1000 : every / 2;
	uv_timer_start(&t->sweeper, sweep_cb, (uint64_t) every, (uint64_t) every);
	pool->transport = t;
	if (t->nng_in) {
		nng_recv_aio(t->in, t->rx);
	}
	return (0);
}

static int peer_flush(oscar_pool_t *pool, osc_peer_t *peer, oscar_error_t *err);

static void peer_release(osc_peer_t *p)
{
	osc_wbuf_fini(&p->out);
	free(p->batch_ids);
	free(p);
}

// transport_closed_cb frees the transport once libuv is done with
// both of its handles, which live inside it.
static void transport_closed_cb(uv_handle_t *h)
{
	osc_transport_t *t = h->data;
	if (--t->handles == 0) {
		free(t);
	}
}

// peer_close closes peer p's connection and frees it. Its pending
// calls must be gone already; what it still had to send is dropped. Its
// connection events still on their way find no peer (pipe_cb).
static void peer_close(osc_transport_t *t, osc_peer_t *p)
{
	for (osc_peer_t **pp = &t->peers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (p->dirty) {
		for (osc_peer_t **pp = &t->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
			if (*pp == p) {
				*pp = p->dirty_next;
				break;
			}
		}
	}
	p->ops->close(p);
	t->npeers--;
	peer_release(p);
}

// peer_shut closes the socket of retired peer p, if still open.
static void peer_shut(osc_peer_t *p)
{
	if (p->open) {
		p->open = false;
		p->ops->close(p);
	}
}

// peer_forget frees retired peer p, whose held calls are gone.
static void peer_forget(osc_transport_t *t, osc_peer_t *p)
{
	peer_shut(p);
	for (osc_peer_t **pp = &t->retired; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	t->nretired--;
	peer_release(p);
}

// sweep_cb closes the peers that have no call pending and either were
// not connected for peer_connect_ms (an address that cannot be reached:
// never redialled for long) or were not used for peer_idle_ms.
static void sweep_cb(uv_timer_t *h)
{
	oscar_pool_t    *pool = h->data;
	osc_transport_t *t    = pool->transport;
	int64_t          now  = (int64_t) uv_now(&pool->loop);
	osc_peer_t      *next;
	for (osc_peer_t *p = t->peers; p != NULL; p = next) {
		next          = p->next;
		int64_t quiet = now - p->used_ms;
		if (osc_list_empty(&p->calls) && osc_list_empty(&p->held) && !p->dirty &&
		    ((p->pipes == 0 && quiet >= pool->cfg.peer_connect_ms) ||
		        quiet >= pool->cfg.peer_idle_ms)) {
			peer_close(t, p);
		}
	}
	// A retired peer whose connection did not come back within
	// peer_connect_ms is closed (nothing is there to meet half way), and
	// freed once its held calls are done too.
	for (osc_peer_t *p = t->retired; p != NULL; p = next) {
		next = p->next;
		if (now - p->lost_ms >= pool->cfg.peer_connect_ms) {
			peer_shut(p);
		}
		if (osc_list_empty(&p->held) && !p->open) {
			peer_forget(t, p);
		}
	}
	// A large message that stopped arriving gives its memory back.
	if (t->link != NULL) {
		osc_stream_sweep(t->link, (uint64_t) pool->cfg.peer_idle_ms);
	}
	for (size_t i = 0; i < t->assemblies.cap; i++) {
		osc_assembly_t *a = osc_map_at(&t->assemblies, i);
		if (a != NULL && now - a->last_ms >= pool->cfg.peer_idle_ms) {
			assembly_drop(t, a);
		}
	}
}

void osc_transport_close(oscar_pool_t *pool)
{
	osc_transport_t *t = pool->transport;
	if (t == NULL) {
		return;
	}
	// The receive stops first, then the socket closes. NNG 1.5.2 can hang
	// for good in nng_close when a connection of the socket is closed
	// while its receive callback runs, that is while a peer is still
	// sending: the callback re-arms its read on an aio that the close has
	// just stopped, which then never finishes, and NNG's reaper waits for
	// it (fixed in NNG after 1.5.2, nanomsg/nng#1636). With no receive of
	// ours waiting, pull0 re-arms no connection: each goes quiet once its
	// current message is in, which narrows that window to the messages
	// in flight (under valgrind: a bare pull socket closed after a flood
	// hung in 5 of 6 runs the other way round, in none of 6 this way) but
	// does not close it while a peer keeps sending. Closing the sockets
	// ends the connection callbacks; whatever they still post is refused,
	// since the pool is closing.
	if (t->nng_in) {
		nng_aio_stop(t->rx);
		nng_close(t->in);
		nng_aio_free(t->rx);
	}
	osc_peer_t *p;
	for (p = t->peers; p != NULL; p = p->next) {
		oscar_error_t err;
		(void) peer_flush(pool, p, &err); // answers already owed
	}
	t->dirty = NULL;
	if (t->link != NULL) {
		osc_stream_flush(t->link); // the answers above
	}
	while ((p = t->peers) != NULL) {
		t->peers = p->next;
		p->ops->close(p);
		peer_release(p);
	}
	while ((p = t->retired) != NULL) {
		t->retired = p->next;
		peer_shut(p);
		peer_release(p);
	}
	while (t->asks != NULL) {
		osc_ask_t *a = t->asks;
		t->asks      = a->next;
		free(a);
	}
	osc_node_t *rn;
	while ((rn = osc_list_pop(&t->routes)) != NULL) {
		osc_route_t *r = OSC_CONTAINER_OF(rn, osc_route_t, node);
		if (r->req != NULL) {
			r->req->reply     = NULL;
			r->req->reply_ctx = NULL;
		}
		free(r);
	}
	osc_map_fini(&t->calls);
	for (size_t i = 0; i < t->assemblies.cap; i++) {
		osc_assembly_t *a = osc_map_at(&t->assemblies, i);
		if (a != NULL) {
			free(a->buf);
			free(a);
		}
	}
	osc_map_fini(&t->assemblies);
	if (t->tls_server != NULL) {
		nng_tls_config_free(t->tls_server);
	}
	if (t->tls_client != NULL) {
		nng_tls_config_free(t->tls_client);
	}
	osc_auth_fini(&t->auth);
	if (t->link != NULL) {
		// Never waits: its memory goes with its handles' close callbacks.
		osc_stream_close(t->link);
	}
	pool->transport = NULL;
	// The loop still links the handles until their close callbacks have
	// run, so the memory goes only then (transport_closed_cb).
	t->handles      = 3;
	t->flusher.data = t;
	t->sweeper.data = t;
	t->runner.data  = t;
	uv_close((uv_handle_t *) &t->flusher, transport_closed_cb);
	uv_close((uv_handle_t *) &t->sweeper, transport_closed_cb);
	uv_close((uv_handle_t *) &t->runner, transport_closed_cb);
}

// ---------------------------------------------------------------------------
// Peers and sending

// peer_evict makes room for a new peer when max_peers are open, by
// closing one whose connection came up and went down since, with nothing
// pending (the one used longest ago). Live connections are never taken
// from their pools for a newcomer, and peers still trying to connect for
// the first time are left to the sweeper (their bounded try), so that a
// flood of unreachable reply addresses costs one failed lookup each, not
// a close and a dial, and takes nothing from anyone. OSCAR_EMBOXFULL when
// no peer can go.
static int peer_evict(oscar_pool_t *pool, oscar_error_t *err)
{
	osc_transport_t *t      = pool->transport;
	osc_peer_t      *victim = NULL;
	for (osc_peer_t *p = t->peers; p != NULL; p = p->next) {
		if (!osc_list_empty(&p->calls) || !osc_list_empty(&p->held) || p->dirty ||
		    !p->reached || p->pipes != 0) {
			continue;
		}
		if (victim == NULL || p->used_ms < victim->used_ms) {
			victim = p;
		}
	}
	if (!t->warned_full) {
		t->warned_full = true;
		fprintf(stderr,
		    "oscar: pool %s: %u connections to other pools open (max_peers); "
		    "closing those whose connection went down, or refusing more\n",
		    pool->address, t->npeers);
	}
	if (victim == NULL) {
		osc_error_set(err, pool, OSCAR_EMBOXFULL, "", "",
		    "too many connections to other pools (max_peers %u), none of which can close "
		    "now",
		    pool->cfg.max_peers);
		return (OSCAR_EMBOXFULL);
	}
	peer_close(t, victim);
	return (0);
}

static int send_frame(oscar_pool_t *pool, osc_peer_t *peer, const osc_frame_t *f,
    const oscar_value_t *payload, oscar_error_t *err);

// send_home tells a new peer, first thing, that this pool is a sub
// pool, of which main pool, and its pid, so that the peer knows whom to
// ask if the connection drops (see the design note).
static void send_home(oscar_pool_t *pool, osc_peer_t *peer)
{
	osc_frame_t    f;
	oscar_error_t  err;
	oscar_value_t *v = oscar_value_new_array(2);
	if (v == NULL || oscar_value_array_push(v, oscar_value_new_str(pool->home)) != 0 ||
	    oscar_value_array_push(v, oscar_value_new_int(pool->pid)) != 0) {
		oscar_value_free(v);
		return; // the peer will only know the connection dropped
	}
	memset(&f, 0, sizeof(f));
	f.type = OSC_MSG_CONTROL;
	snprintf(f.source, sizeof(f.source), "%s", pool->address);
	snprintf(f.method, sizeof(f.method), "home");
	(void) send_frame(pool, peer, &f, v, &err);
	oscar_value_free(v);
}

static osc_peer_t *peer_get(oscar_pool_t *pool, const char *addr, oscar_error_t *err)
{
	osc_transport_t *t   = pool->transport;
	int64_t          now = (int64_t) uv_now(&pool->loop);
	for (osc_peer_t *p = t->peers; p != NULL; p = p->next) {
		if (strcmp(p->addr, addr) == 0) {
			p->used_ms = now;
			return (p);
		}
	}
	if (t->npeers >= pool->cfg.max_peers && peer_evict(pool, err) != 0) {
		return (NULL);
	}
	osc_peer_t *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		osc_error_set(err, pool, OSCAR_ENOMEM, "", "", "no memory for a connection");
		return (NULL);
	}
	p->pool = pool;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->ops = osc_stream_handles(addr) ? &stream_link_ops : &nng_link_ops;
	if (p->ops->dial(pool, p, err) != 0) {
		free(p);
		return (NULL);
	}
	p->used_ms = now;
	p->serial  = ++t->next_serial;
	// A pool lost at this address, whose calls are still held, keeps
	// its main pool.
	for (osc_peer_t *r = t->retired; r != NULL; r = r->next) {
		if (r->home[0] != '\0' && strcmp(r->addr, addr) == 0) {
			snprintf(p->home, sizeof(p->home), "%s", r->home);
			break;
		}
	}
	p->next  = t->peers;
	t->peers = p;
	t->npeers++;
	if (pool->home[0] != '\0' && strcmp(addr, pool->home) != 0) {
		send_home(pool, p);
	}
	return (p);
}

// nng_link_dial opens a push socket dialed to p->addr, whose connection
// events come through pipe_cb.
static int nng_link_dial(oscar_pool_t *pool, osc_peer_t *p, oscar_error_t *err)
{
	osc_transport_t *t = pool->transport;
	int              rv;
	if ((rv = nng_push0_open(&p->sock)) != 0) {
		osc_error_set(err, pool, nng_err(rv), "", "", "cannot open a socket to %s: %s",
		    p->addr, nng_strerror(rv));
		return (err->code);
	}
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, OSC_PEER_SENDBUF);
	nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, pool);
	nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, pipe_cb, pool);
	if ((rv = nng_dialer_create(&p->dialer, p->sock, p->addr)) != 0) {
		osc_error_set(err, pool, nng_err(rv), "", "", "cannot reach %s: %s", p->addr,
		    nng_strerror(rv));
		nng_close(p->sock);
		return (err->code);
	}
	if (strncmp(p->addr, "tls+", 4) == 0) {
		char why[OSCAR_ERRMSG_MAX];
		if (t->tls_client == NULL && (rv = tls_config(pool, NNG_TLS_MODE_CLIENT,
		                                  &t->tls_client, why, sizeof(why))) != 0) {
			osc_error_set(err, pool, rv, "", "", "cannot reach %s: %s", p->addr, why);
			nng_close(p->sock);
			return (err->code);
		}
		if ((rv = nng_dialer_set_ptr(p->dialer, NNG_OPT_TLS_CONFIG, t->tls_client)) != 0) {
			osc_error_set(err, pool, nng_err(rv), "", "",
			    "cannot reach %s over TLS: %s", p->addr, nng_strerror(rv));
			nng_close(p->sock);
			return (err->code);
		}
	}
	nng_dialer_set_ms(p->dialer, NNG_OPT_RECONNMINT, 10);
	nng_dialer_set_ms(p->dialer, NNG_OPT_RECONNMAXT, 1000);
	if ((rv = nng_dialer_start(p->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		osc_error_set(err, pool, nng_err(rv), "", "", "cannot reach %s: %s", p->addr,
		    nng_strerror(rv));
		nng_close(p->sock);
		return (err->code);
	}
	return (0);
}

// send_msg hands one NNG message to peer's socket; on failure the
// message is freed and err says why.
static int send_msg(oscar_pool_t *pool, osc_peer_t *peer, nng_msg *m, const char *target,
    const char *method, oscar_error_t *err)
{
	osc_transport_t *t = pool->transport;
	if (t->authed && osc_auth_seal(&t->auth, m) != 0) {
		nng_msg_free(m);
		osc_error_set(err, pool, OSCAR_ENOMEM, target, method,
		    "no memory to seal a message to %s", peer->addr);
		return (OSCAR_ENOMEM);
	}
	int rv = nng_sendmsg(peer->sock, m, NNG_FLAG_NONBLOCK);
	if (rv == 0) {
		return (0);
	}
	nng_msg_free(m);
	int code = nng_err(rv);
	osc_error_set(err, pool, code, target, method,
	    code == OSCAR_EMBOXFULL ? "send queue to %s is full (%s)" : "cannot send to %s: %s",
	    peer->addr, nng_strerror(rv));
	return (code);
}

// nng_link_send copies bufs into one NNG message (with room for the
// trailer, so that sealing never moves the bytes) and sends it.
static int nng_link_send(oscar_pool_t *pool, osc_peer_t *p, const uv_buf_t *bufs, unsigned n,
    size_t total, const char *target, const char *method, oscar_error_t *err)
{
	nng_msg *m = NULL;
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_reserve(m, total + OSC_AUTH_TRAILER) != 0) {
		if (m != NULL) {
			nng_msg_free(m);
		}
		osc_error_set(err, pool, OSCAR_ENOMEM, target, method,
		    "no memory for a message to %s", p->addr);
		return (OSCAR_ENOMEM);
	}
	for (unsigned i = 0; i < n; i++) {
		nng_msg_append(m, bufs[i].base, bufs[i].len);
	}
	return (send_msg(pool, p, m, target, method, err));
}

static void nng_link_close(osc_peer_t *p)
{
	nng_close(p->sock);
}

// nng_link_slow_redial makes peer's dialer wait before it dials again after
// a loss (NNG waits a random time below the minimum).
static void nng_link_slow_redial(osc_peer_t *p)
{
	nng_dialer_set_ms(p->dialer, NNG_OPT_RECONNMINT, OSC_RETIRED_REDIAL_MS);
	nng_dialer_set_ms(p->dialer, NNG_OPT_RECONNMAXT, OSC_RETIRED_REDIAL_MS);
}

static const osc_link_ops_t nng_link_ops = {
	.dial        = nng_link_dial,
	.send        = nng_link_send,
	.close       = nng_link_close,
	.slow_redial = nng_link_slow_redial,
	.pieces      = true,
	.batch_max   = OSC_COALESCE_MAX,
};

// peer_flush sends the frames waiting for peer as one message. If that
// fails, the calls among them fail with the reason.
static int peer_flush(oscar_pool_t *pool, osc_peer_t *peer, oscar_error_t *err)
{
	int rv = 0;
	if (peer->out.len == 0) {
		return (0);
	}
	uv_buf_t b = buf_of(peer->out.data, peer->out.len);
	rv         = peer->ops->send(pool, peer, &b, 1, peer->out.len, "", "", err);
	if (rv != 0) {
		for (size_t i = 0; i < peer->batch_len; i++) {
			osc_call_t *c = calls_find(pool->transport, peer->batch_ids[i]);
			if (c != NULL) {
				osc_call_complete(c, rv, NULL, err);
			}
		}
	}
	peer->out.len    = 0;
	peer->out_frames = 0;
	peer->batch_len  = 0;
	return (rv);
}

// flush_cb runs before the loop waits for I/O: what this turn queued
// for each peer leaves now, so coalescing adds no latency.
static void flush_cb(uv_prepare_t *h)
{
	oscar_pool_t    *pool   = h->data;
	osc_transport_t *t      = pool->transport;
	bool             failed = false;
	osc_peer_t      *p;
	while ((p = t->dirty) != NULL) {
		oscar_error_t err;
		t->dirty = p->dirty_next;
		p->dirty = false;
		failed   = peer_flush(pool, p, &err) != 0 || failed;
	}
	uv_prepare_stop(h);
	if (t->link != NULL) {
		osc_stream_flush(t->link); // now, whichever prepare handle runs first
	}
	if (failed) {
		// The calls of a batch that could not leave are failed now,
		// not when the loop next happens to wake.
		osc_call_run_done(pool);
	}
}

// send_pieces sends a large frame (its encoding w, then its
// out-of-band buffers, total bytes) as pieces of at most
// OSC_WIRE_PIECE_MAX bytes, each a message of its own. If one cannot be
// sent, the rest are not: the receiver drops the unfinished message when
// the next one starts.
static int send_pieces(oscar_pool_t *pool, osc_peer_t *peer, const osc_wbuf_t *w,
    const osc_oob_t *oob, size_t total, const osc_frame_t *f, oscar_error_t *err)
{
	uint32_t src = 0; // 0: w, i + 1: oob->bufs[i]
	size_t   pos = 0; // within src
	for (size_t off = 0; off < total;) {
		size_t n = total - off < OSC_WIRE_PIECE_MAX ? total - off : OSC_WIRE_PIECE_MAX;
		unsigned char head[OSC_WIRE_PIECE] = { 'O', 'S', 'C', 'K' };
		uv_buf_t      bufs[2 + OSC_WIRE_MAX_BUFFERS];
		unsigned      nb = 0;
		head[4]          = (unsigned char) ((off == 0 ? OSC_WIRE_PIECE_FIRST : 0) |
                                           (off + n == total ? OSC_WIRE_PIECE_LAST : 0));
		for (int i = 0; i < 8; i++) {
			head[8 + i] = (unsigned char) ((uint64_t) total >> (8 * i));
		}
		bufs[nb++] = buf_of(head, sizeof(head));
		for (size_t left = n; left > 0;) {
			char  *p   = src == 0 ? w->data : (char *) oob->bufs[src - 1].ptr;
			size_t len = src == 0 ? w->len : oob->bufs[src - 1].len;
			size_t k   = len - pos < left ? len - pos : left;
			bufs[nb++] = buf_of(p + pos, k);
			pos += k;
			left -= k;
			if (pos == len) {
				src++;
				pos = 0;
			}
		}
		int rv = peer->ops->send(
		    pool, peer, bufs, nb, OSC_WIRE_PIECE + n, f->target, f->method, err);
		if (rv != 0) {
			return (rv);
		}
		off += n;
	}
	return (0);
}

// send_frame encodes f (with payload) for peer. A small frame joins
// the turn's batch for that peer; a large one (or one with out-of-band
// buffers) goes at once, after the batch, so order is kept. id, when not
// 0, is the call waiting for an answer to f.
static int send_frame(oscar_pool_t *pool, osc_peer_t *peer, const osc_frame_t *f,
    const oscar_value_t *payload, oscar_error_t *err)
{
	osc_transport_t *t = pool->transport;
	osc_wbuf_t       w;
	osc_oob_t        oob = { 0 };
	int              rv;

	osc_wbuf_init(&w);
	if ((rv = osc_frame_encode(&w, f, payload, &oob, OSC_OOB_THRESHOLD)) != 0) {
		osc_error_set(err, pool, rv, f->target, f->method, "cannot encode a %s frame: %s",
		    osc_msg_type_name((int) f->type), oscar_strerror(rv));
		goto done;
	}
	size_t total = w.len;
	for (uint32_t i = 0; i < oob.n; i++) {
		total += oob.bufs[i].len;
	}
	if (total > pool->cfg.max_message) {
		rv = OSCAR_ETOOLARGE;
		osc_error_set(err, pool, rv, f->target, f->method,
		    "message of %zu bytes is larger than the limit of %zu", total,
		    pool->cfg.max_message);
		goto done;
	}
	if (oob.n == 0 && total < OSC_COALESCE_FRAME) {
		if (peer->out.len + total > peer->ops->batch_max &&
		    (rv = peer_flush(pool, peer, err)) != 0) {
			goto done;
		}
		if (f->id != 0 && f->type != OSC_MSG_RESULT && f->type != OSC_MSG_ERROR &&
		    f->type != OSC_MSG_CANCEL) {
			if (peer->batch_len == peer->batch_cap) {
				size_t    cap = peer->batch_cap ? peer->batch_cap * 2 : 64;
				uint64_t *ids = realloc(peer->batch_ids, cap * sizeof(*ids));
				if (ids == NULL) {
					rv = OSCAR_ENOMEM;
					osc_error_set(
					    err, pool, rv, f->target, f->method, "no memory");
					goto done;
				}
				peer->batch_ids = ids;
				peer->batch_cap = cap;
			}
			peer->batch_ids[peer->batch_len++] = f->id;
		}
		osc_write_raw(&peer->out, w.data, w.len);
		if ((rv = peer->out.err) != 0) {
			peer->out.err = 0;
			osc_error_set(err, pool, rv, f->target, f->method, "no memory");
			goto done;
		}
		peer->out_frames++;
		if (!peer->dirty) {
			peer->dirty      = true;
			peer->dirty_next = t->dirty;
			t->dirty         = peer;
			uv_prepare_start(&t->flusher, flush_cb);
		}
		goto done;
	}
	if ((rv = peer_flush(pool, peer, err)) != 0) {
		goto done;
	}
	if (peer->ops->pieces && total > OSC_WIRE_PIECE_MAX) {
		rv = send_pieces(pool, peer, &w, &oob, total, f, err);
		goto done;
	}
	// One copy of each buffer, straight into the message.
	uv_buf_t bufs[1 + OSC_WIRE_MAX_BUFFERS];
	bufs[0] = buf_of(w.data, w.len);
	for (uint32_t i = 0; i < oob.n; i++) {
		bufs[1 + i] = buf_of((char *) oob.bufs[i].ptr, oob.bufs[i].len);
	}
	rv = peer->ops->send(pool, peer, bufs, 1 + oob.n, total, f->target, f->method, err);
done:
	osc_oob_fini(&oob);
	osc_wbuf_fini(&w);
	return (rv);
}

// ---------------------------------------------------------------------------
// Calls to other pools

static int remote_send(oscar_pool_t *pool, osc_peer_t *peer, osc_frame_t *f,
    const osc_call_desc_t *d, bool reply, osc_call_t **callp, uint64_t *chain, oscar_error_t *err);

// The target's side of a remote call (osc_call_ops_t), below.
static bool remote_cancel(osc_call_t *c);
static void remote_detach(osc_call_t *c);
static void remote_timeout(const osc_call_t *c, oscar_error_t *err);

static const osc_call_ops_t remote_call_ops = {
	.cancel  = remote_cancel,
	.detach  = remote_detach,
	.timeout = remote_timeout,
};

int osc_remote_start(
    oscar_pool_t *pool, const osc_call_desc_t *d, osc_call_t **callp, oscar_error_t *err)
{
	osc_transport_t   *t      = pool->transport;
	osc_req_t         *parent = d->parent;
	const oscar_ref_t *ref    = d->ref;
	const char        *method = d->method;
	osc_req_kind_t     kind   = d->kind;
	oscar_value_t     *args   = d->args;
	osc_frame_t        f;
	int                rv;
	uint64_t          *chain = NULL;

	if (t == NULL || ref->addr[0] == '\0') {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_EADDRINVAL, ref->uid, method,
		    "no route from %s to %s: this pool has no transport", pool->address, ref->addr);
		return (OSCAR_EADDRINVAL);
	}
	osc_peer_t *peer = peer_get(pool, ref->addr, err);
	if (peer == NULL) {
		oscar_value_free(args);
		snprintf(err->actor, sizeof(err->actor), "%s", ref->uid);
		snprintf(err->method, sizeof(err->method), "%s", method);
		return (err->code);
	}
	memset(&f, 0, sizeof(f));
	f.type = kind == OSC_REQ_TELL    ? OSC_MSG_TELL
	         : kind == OSC_REQ_BATCH ? OSC_MSG_BATCH
	                                 : OSC_MSG_SEND;
	snprintf(f.source, sizeof(f.source), "%s", pool->address);
	snprintf(f.target, sizeof(f.target), "%s", ref->uid);
	snprintf(f.method, sizeof(f.method), "%s", method);
	if (parent != NULL && kind != OSC_REQ_TELL) {
		if (parent->chain_len + 1 > OSC_WIRE_MAX_CHAIN ||
		    (chain = malloc((parent->chain_len + 1) * sizeof(uint64_t))) == NULL) {
			oscar_value_free(args);
			rv = parent->chain_len + 1 > OSC_WIRE_MAX_CHAIN ? OSCAR_ETOOLARGE
			                                                : OSCAR_ENOMEM;
			osc_error_set(
			    err, pool, rv, ref->uid, method, "cannot extend the call chain");
			return (rv);
		}
		if (parent->chain_len != 0) {
			memcpy(chain, parent->chain, parent->chain_len * sizeof(uint64_t));
		}
		chain[parent->chain_len] = parent->token;
		f.chain                  = chain;
		f.chain_len              = parent->chain_len + 1;
	}
	return (remote_send(pool, peer, &f, d, kind != OSC_REQ_TELL, callp, chain, err));
}

// remote_send sends frame f with d->args (consumed) to peer and, when
// a reply is expected, registers the call record that waits for it, as d
// describes (its target and method are f's). chain (owned, may be NULL)
// is released.
static int remote_send(oscar_pool_t *pool, osc_peer_t *peer, osc_frame_t *f,
    const osc_call_desc_t *d, bool reply, osc_call_t **callp, uint64_t *chain, oscar_error_t *err)
{
	osc_transport_t *t    = pool->transport;
	oscar_value_t   *args = d->args;
	osc_call_t      *c    = NULL;
	int              rv;
	if (reply) {
		if (osc_call_reserve(pool) != 0 || osc_map_reserve(&t->calls) != 0 ||
		    (c = osc_call_new(pool, f->target, f->method, d->timeout_ms, d->cb, d->arg,
		         d->host)) == NULL) {
			free(chain);
			oscar_value_free(args);
			osc_error_set(
			    err, pool, OSCAR_ENOMEM, f->target, f->method, "no memory for a call");
			return (OSCAR_ENOMEM);
		}
		c->ops        = &remote_call_ops;
		f->id         = c->id;
		f->timeout_ms = (uint64_t) c->timeout_ms;
	}
	rv = send_frame(pool, peer, f, args, err);
	free(chain);
	oscar_value_free(args);
	if (rv != 0) {
		free(c);
		return (rv);
	}
	if (c != NULL) {
		osc_call_link(pool, c, d->owner, d->parent);
		c->peer = peer;
		osc_list_prepend(&peer->calls, &c->pnode);
		osc_map_insert(&t->calls, osc_hash_u64(c->id), c);
	}
	if (callp != NULL) {
		*callp = c;
	}
	return (0);
}

int osc_remote_control(oscar_pool_t *pool, int type, const char *addr, const char *uid,
    const char *name, oscar_value_t *args, int64_t timeout_ms, oscar_call_t *h, oscar_error_t *err)
{
	osc_frame_t f;
	if (pool->transport == NULL) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_EADDRINVAL, uid, name,
		    "no route from %s to %s: this pool has no transport", pool->address, addr);
		return (OSCAR_EADDRINVAL);
	}
	osc_peer_t *peer = peer_get(pool, addr, err);
	if (peer == NULL) {
		oscar_value_free(args);
		return (err->code);
	}
	memset(&f, 0, sizeof(f));
	f.type = (osc_msg_type_t) type;
	snprintf(f.source, sizeof(f.source), "%s", pool->address);
	snprintf(f.target, sizeof(f.target), "%s", uid);
	snprintf(f.method, sizeof(f.method), "%s", name);
	osc_call_desc_t d = {
		.args       = args,
		.timeout_ms = timeout_ms,
		.host       = h,
	};
	return (remote_send(pool, peer, &f, &d, true, h != NULL ? &h->call : NULL, NULL, err));
}

// remote_detach forgets a finished remote call (osc_call_complete).
static void remote_detach(osc_call_t *c)
{
	osc_peer_t *peer = c->peer;
	if (peer == NULL) {
		return;
	}
	osc_map_remove(&c->pool->transport->calls, osc_hash_u64(c->id), c);
	osc_list_remove(c->held ? &peer->held : &peer->calls, &c->pnode);
	c->peer = NULL;
}

// remote_cancel sends a cancel for a remote call: the remote pool
// decides, as a local one would; the deadline still holds if the cancel
// never arrives.
static bool remote_cancel(osc_call_t *c)
{
	osc_frame_t   f;
	oscar_error_t err;
	if (c->peer == NULL) {
		return (false);
	}
	memset(&f, 0, sizeof(f));
	f.type = OSC_MSG_CANCEL;
	f.id   = c->id;
	snprintf(f.source, sizeof(f.source), "%s", c->pool->address);
	// If the cancel cannot be queued, the call's deadline still holds.
	(void) send_frame(c->pool, c->peer, &f, NULL, &err);
	return (true);
}

// remote_timeout fills err for a remote call that hit its deadline,
// saying whether the peer was ever reached.
static void remote_timeout(const osc_call_t *c, oscar_error_t *err)
{
	if (c->peer == NULL) {
		return;
	}
	snprintf(err->actor, sizeof(err->actor), "%.*s", (int) c->uid_len, c->target);
	snprintf(err->method, sizeof(err->method), "%s", c->target + c->uid_len + 1);
	snprintf(err->address, sizeof(err->address), "%s", c->peer->addr);
	if (!c->peer->reached) {
		err->pid = 0; // no process was ever reached there
		snprintf(err->message, sizeof(err->message),
		    "could not connect to pool %s within %" PRId64 " ms (call to %s)",
		    c->peer->addr, c->timeout_ms, c->target);
	}
}

// ---------------------------------------------------------------------------
// Answering calls from other pools

static void route_unlink(osc_transport_t *t, osc_route_t *r)
{
	osc_list_remove(&t->routes, &r->node);
}

// send_answer sends a result or error frame for call id to source.
static void send_answer(oscar_pool_t *pool, const char *source, uint64_t id, int code,
    const oscar_value_t *value, const oscar_error_t *err)
{
	osc_frame_t   f;
	oscar_error_t send_err;
	if (source[0] == '\0' || id == 0) {
		return; // a tell: nobody to answer
	}
	osc_peer_t *peer = peer_get(pool, source, &send_err);
	if (peer == NULL) {
		return;
	}
	memset(&f, 0, sizeof(f));
	f.type = code == 0 ? OSC_MSG_RESULT : OSC_MSG_ERROR;
	f.id   = id;
	snprintf(f.source, sizeof(f.source), "%s", pool->address);
	if (code != 0) {
		f.has_error  = true;
		f.error      = *err;
		f.error.code = code;
	}
	if (send_frame(pool, peer, &f, code == 0 ? value : NULL, &send_err) != 0 && code == 0) {
		// The reply cannot travel (too large, say): tell the caller so.
		f.type      = OSC_MSG_ERROR;
		f.has_error = true;
		f.error     = send_err;
		(void) send_frame(pool, peer, &f, NULL, &send_err);
	}
}

// The reply ops of a request from another pool (osc_reply_ops_t): its
// route says where the answer goes.

// route_take: a batch answered item by item answers r from now on, and
// cancels for r find no request to cancel.
static void route_take(void *ctx)
{
	osc_route_t *r = ctx;
	r->req         = NULL;
}

// route_answer sends the answer owed along route ctx, then frees it.
static void route_answer(
    oscar_pool_t *pool, void *ctx, int code, const oscar_value_t *value, const oscar_error_t *err)
{
	osc_route_t *r = ctx;
	if (pool->transport == NULL) {
		return; // closed: the route went with it
	}
	send_answer(pool, r->source, r->id, code, value, err);
	route_unlink(pool->transport, r);
	free(r);
}

// route_forget drops a route that will never be answered.
static void route_forget(oscar_pool_t *pool, void *ctx)
{
	osc_route_t *r = ctx;
	if (pool->transport == NULL) {
		return; // closed: the route went with it
	}
	route_unlink(pool->transport, r);
	free(r);
}

static const osc_reply_ops_t route_ops = {
	.answer = route_answer,
	.forget = route_forget,
	.take   = route_take,
};

static void answer_error(
    oscar_pool_t *pool, const osc_frame_t *f, int code, const char *fmt, const char *arg)
{
	oscar_error_t err;
	osc_error_set(&err, pool, code, f->target, f->method, fmt, arg);
	send_answer(pool, f->source, f->id, code, NULL, &err);
}

// serve_call queues a call, tell or batch that came from another pool.
static void serve_call(oscar_pool_t *pool, const osc_frame_t *f)
{
	osc_transport_t *t = pool->transport;
	oscar_error_t    err;
	oscar_value_t   *args;
	bool             tell = f->type == OSC_MSG_TELL;
	osc_actor_t     *a    = osc_actor_find(pool, f->target);
	if (a == NULL) {
		answer_error(pool, f, OSCAR_ENOACTOR, "no actor %s in pool", f->target);
		return;
	}
	const oscar_method_t *m = osc_method_find(a->cls, f->method);
	if (m == NULL) {
		osc_error_set(&err, pool, OSCAR_ENOMETHOD, f->target, f->method,
		    "actor %s (class %s) has no method '%s'", f->target, a->cls->name, f->method);
		send_answer(pool, f->source, f->id, OSCAR_ENOMETHOD, NULL, &err);
		return;
	}
	int rv = osc_frame_payload(f, &args);
	if (rv != 0) {
		answer_error(pool, f, rv, "malformed arguments for %s", f->method);
		return;
	}
	if (f->type == OSC_MSG_BATCH && (args == NULL || args->type != OSCAR_ARRAY)) {
		oscar_value_free(args);
		answer_error(
		    pool, f, OSCAR_EBADARGS, "a batch takes an array of per-call %s", "arguments");
		return;
	}
	osc_req_t   *req = osc_req_new(a, m,
            tell                       ? OSC_REQ_TELL
	      : f->type == OSC_MSG_BATCH ? OSC_REQ_BATCH
	                                 : OSC_REQ_CALL,
	      args);
	osc_route_t *r   = tell ? NULL : calloc(1, sizeof(*r));
	if (req == NULL || (!tell && r == NULL) ||
	    (f->chain_len != 0 && (req->chain = malloc(f->chain_len * sizeof(uint64_t))) == NULL)) {
		free(r);
		if (req != NULL) {
			req->replied = true;
			osc_req_maybe_free(req);
		}
		answer_error(pool, f, OSCAR_ENOMEM, "no memory for %s", f->method);
		return;
	}
	if (f->chain_len != 0) {
		memcpy(req->chain, f->chain, f->chain_len * sizeof(uint64_t));
		req->chain_len = f->chain_len;
	}
	if (r != NULL) {
		r->req = req;
		r->id  = f->id;
		snprintf(r->source, sizeof(r->source), "%s", f->source);
		osc_list_prepend(&t->routes, &r->node);
		req->reply     = &route_ops;
		req->reply_ctx = r;
	}
	if ((rv = osc_actor_enqueue(a, req, &err)) != 0) {
		if (r != NULL) {
			send_answer(pool, f->source, f->id, rv, NULL, &err);
		}
		req->replied = true;
		osc_req_maybe_free(req); // forgets the route
	}
}

// take_reply completes the pending call a result or error frame
// answers; an answer to nothing (late, or forged) is dropped.
static void take_reply(oscar_pool_t *pool, const osc_frame_t *f)
{
	osc_call_t    *c = calls_find(pool->transport, f->id);
	oscar_value_t *value;
	if (c == NULL || strcmp(c->peer->addr, f->source) != 0) {
		return;
	}
	if (f->type == OSC_MSG_ERROR) {
		osc_call_complete(c, f->error.code, NULL, &f->error);
		return;
	}
	int rv = osc_frame_payload(f, &value);
	if (rv != 0) {
		oscar_error_t err;
		osc_error_set(&err, pool, rv, "", "", "malformed reply from %s", f->source);
		osc_call_complete(c, rv, NULL, &err);
		return;
	}
	osc_call_complete(c, 0, value, NULL);
}

static void serve_cancel(oscar_pool_t *pool, const osc_frame_t *f)
{
	for (osc_route_t *r = OSC_LIST_FIRST(&pool->transport->routes, osc_route_t, node);
	     r != NULL; r   = OSC_LIST_NEXT(r, osc_route_t, node)) {
		if (r->id == f->id && strcmp(r->source, f->source) == 0) {
			if (r->req != NULL) {
				osc_req_cancel(r->req);
			}
			return;
		}
	}
}

// actor_protected tells whether a's class forbids other pools to
// destroy or replace it.
static bool actor_protected(const osc_actor_t *a)
{
	return ((a->cls->flags & OSCAR_CLASS_PROTECTED) != 0);
}

// answer_protected refuses a destroy or a create over protected actor
// a; what says which ("destroyed", "replaced").
static void answer_protected(
    oscar_pool_t *pool, const osc_frame_t *f, const osc_actor_t *a, const char *what)
{
	oscar_error_t err;
	osc_error_set(&err, pool, OSCAR_EPROTECTED, f->target, osc_msg_type_name((int) f->type),
	    "actor %s (class %s) is protected: it cannot be %s from another pool (%s)", f->target,
	    a->cls->name, what, f->source);
	send_answer(pool, f->source, f->id, OSCAR_EPROTECTED, NULL, &err);
}

// serve_control answers create, has, lookup and destroy from another
// pool. Actors of a protected class are neither destroyed nor replaced.
static void serve_control(oscar_pool_t *pool, const osc_frame_t *f)
{
	osc_actor_t   *a = osc_actor_find(pool, f->target);
	oscar_value_t *v = NULL;
	int            rv;
	switch (f->type) {
	case OSC_MSG_CREATE: {
		const oscar_actor_class_t *cls = osc_class_find(pool, f->method);
		oscar_value_t             *args;
		oscar_error_t              err;
		if (cls == NULL) {
			answer_error(pool, f, OSCAR_ENOENT, "no class %s offered here", f->method);
			return;
		}
		if (a != NULL && actor_protected(a)) {
			answer_protected(pool, f, a, "replaced");
			return;
		}
		if ((rv = osc_frame_payload(f, &args)) != 0) {
			answer_error(pool, f, rv, "malformed arguments for %s", f->method);
			return;
		}
		if ((rv = osc_actor_create(
		         pool, cls, f->target[0] ? f->target : NULL, args, &a, &err)) != 0) {
			send_answer(pool, f->source, f->id, rv, NULL, &err);
			return;
		}
		v = oscar_value_new_array(2);
		oscar_value_array_push(v, oscar_value_new_str(pool->address));
		oscar_value_array_push(v, oscar_value_new_str(a->ref.uid));
		break;
	}
	case OSC_MSG_HAS:
		v = oscar_value_new_bool(a != NULL);
		break;
	case OSC_MSG_LOOKUP:
	case OSC_MSG_DESTROY:
		if (a == NULL) {
			answer_error(pool, f, OSCAR_ENOACTOR, "no actor %s in pool", f->target);
			return;
		}
		if (f->type == OSC_MSG_DESTROY && actor_protected(a)) {
			answer_protected(pool, f, a, "destroyed");
			return;
		}
		if (f->type == OSC_MSG_DESTROY && (rv = osc_actor_destroy(a)) != 0) {
			answer_error(pool, f, rv, "cannot destroy %s", f->target);
			return;
		}
		// a may be gone (destroy): name it by the frame's uid.
		v = oscar_value_new_array(2);
		oscar_value_array_push(v, oscar_value_new_str(pool->address));
		oscar_value_array_push(v, oscar_value_new_str(f->target));
		break;
	default:
		answer_error(pool, f, OSCAR_ENOTSUP, "%s messages are not supported yet",
		    osc_msg_type_name((int) f->type));
		return;
	}
	send_answer(pool, f->source, f->id, 0, v, NULL);
	oscar_value_free(v);
}

// osc_msg_lender_t keeps a received message alive for the bin that reads
// its last out-of-band buffer in place, and frees it with the last
// reference, on whichever thread drops it (nng_msg_free is thread-safe).
typedef struct osc_msg_lender {
	osc_lender_t base;
	nng_msg     *msg;
} osc_msg_lender_t;

static void msg_lender_release(osc_lender_t *l)
{
	osc_msg_lender_t *ml = OSC_CONTAINER_OF(l, osc_msg_lender_t, base);
	nng_msg_free(ml->msg);
	free(ml);
}

// msg_lender_new makes *mp's message lendable when it is large: its
// last out-of-band buffer may then become a bin without a copy. That needs
// a zero byte right after the buffer, which NNG's spare room at the end of
// the message gives (nng_msg_append within the capacity moves nothing); no
// room, or no memory, and everything is copied as usual. The lender takes
// over the message (*mp becomes NULL) and holds one reference, the
// caller's.
static osc_msg_lender_t *msg_lender_new(nng_msg **mp)
{
	nng_msg          *m   = *mp;
	size_t            len = nng_msg_len(m);
	osc_msg_lender_t *ml;
	if (len < OSC_OOB_THRESHOLD || nng_msg_capacity(m) <= len ||
	    (ml = malloc(sizeof(*ml))) == NULL) {
		return (NULL);
	}
	if (nng_msg_append(m, "", 1) != 0) {
		free(ml);
		return (NULL);
	}
	nng_msg_chop(m, 1); // the zero stays in place, past the frames
	osc_lender_init(&ml->base, msg_lender_release);
	ml->msg = m;
	*mp     = NULL;
	return (ml);
}

// serve_frames serves the frames of one received message, body[0..len).
// lender, when not NULL, owns the bytes, which are writable and followed
// by a zero byte: the last buffer's bin may then point into them.
static void serve_pool_verb(oscar_pool_t *pool, const osc_frame_t *f);

static void serve_frames(oscar_pool_t *pool, const char *body, size_t len, osc_lender_t *lender)
{
	size_t off = 0;
	// One message carries one or more frames, back to back.
	while (off < len) {
		osc_frame_t f;
		size_t      used;
		if (osc_frame_decode_next(body + off, len - off, &f, &used) != 0) {
			pool->transport->bad_frames++;
			break; // no way to find the next frame
		}
		off += used;
		// A frame that ends the message ends with its last buffer, which
		// the zero byte follows. Lent only when that buffer is most of
		// the message, so that a bin never keeps much more memory alive
		// than its own size.
		if (lender != NULL && off == len && f.nbufs > 0 &&
		    f.bufs[f.nbufs - 1].len >= len / 2) {
			f.lender = lender;
		}
		switch (f.type) {
		case OSC_MSG_SEND:
		case OSC_MSG_TELL:
		case OSC_MSG_BATCH:
			serve_call(pool, &f);
			break;
		case OSC_MSG_RESULT:
		case OSC_MSG_ERROR:
			take_reply(pool, &f);
			break;
		case OSC_MSG_CANCEL:
			serve_cancel(pool, &f);
			break;
		case OSC_MSG_CONTROL:
			serve_pool_verb(pool, &f);
			break;
		default:
			serve_control(pool, &f);
			break;
		}
		osc_frame_fini(&f);
		if (pool->transport == NULL) {
			break;
		}
	}
}

// on_frame serves the frames of one received message. It takes the
// message over when a bin may read it in place (then *mp becomes NULL);
// otherwise the caller frees it.
static void on_frame(oscar_pool_t *pool, nng_msg **mp)
{
	osc_msg_lender_t *ml = msg_lender_new(mp);
	nng_msg          *m  = ml != NULL ? ml->msg : *mp;
	serve_frames(pool, nng_msg_body(m), nng_msg_len(m), ml != NULL ? &ml->base : NULL);
	if (ml != NULL) {
		osc_lender_drop(&ml->base);
	}
}

// osc_buf_lender_t owns an assembled message's buffer for the bins that
// read it in place, and frees it with the last reference.
typedef struct osc_buf_lender {
	osc_lender_t base;
	char        *buf;
} osc_buf_lender_t;

static void buf_lender_release(osc_lender_t *l)
{
	osc_buf_lender_t *bl = OSC_CONTAINER_OF(l, osc_buf_lender_t, base);
	free(bl->buf);
	free(bl);
}

static osc_assembly_t *assembly_find(osc_transport_t *t, uint32_t pipe)
{
	uint64_t        h   = osc_hash_u64(pipe);
	size_t          pos = osc_map_first(&t->assemblies, h);
	osc_assembly_t *a;
	while ((a = osc_map_next(&t->assemblies, h, &pos)) != NULL) {
		if (a->pipe == pipe) {
			return (a);
		}
	}
	return (NULL);
}

// assembly_drop forgets a message being assembled, and gives back its
// bytes to the budget.
static void assembly_drop(osc_transport_t *t, osc_assembly_t *a)
{
	osc_map_remove(&t->assemblies, osc_hash_u64(a->pipe), a);
	t->assembling -= a->cap;
	free(a->buf);
	free(a);
}

// piece_refuse drops what a connection was sending and closes it: a
// message over the pool's limits, or pieces that do not add up. The
// sender sees its connection drop, and its pending calls fail with
// OSCAR_EPEERGONE.
static void piece_refuse(
    oscar_pool_t *pool, nng_pipe pipe, osc_assembly_t *a, bool budget, size_t total)
{
	osc_transport_t *t = pool->transport;
	if (a != NULL) {
		assembly_drop(t, a);
	}
	if (budget) {
		t->refused++;
		if (!t->warned_refused) {
			t->warned_refused = true;
			fprintf(stderr,
			    "oscar: pool %s: refused a message of %zu bytes from a connection: "
			    "over max_message (%zu) or recv_budget (%zu bytes being received)\n",
			    pool->address, total, pool->cfg.max_message, pool->cfg.recv_budget);
		}
	} else {
		t->bad_frames++;
	}
	nng_pipe_close(pipe);
}

// on_piece adds a piece of a large message to what its connection is
// sending, and serves the message once whole. Memory follows what
// arrives, never what the first piece announces: the copy at most
// doubles as pieces come, within max_message per connection and
// recv_budget for the pool.
static void on_piece(oscar_pool_t *pool, nng_msg *m)
{
	osc_transport_t     *t     = pool->transport;
	const unsigned char *body  = nng_msg_body(m);
	size_t               len   = nng_msg_len(m);
	nng_pipe             pipe  = nng_msg_get_pipe(m);
	uint64_t             total = 0;
	if (len <= OSC_WIRE_PIECE ||
	    (body[4] & ~(OSC_WIRE_PIECE_FIRST | OSC_WIRE_PIECE_LAST)) != 0 || body[5] != 0 ||
	    body[6] != 0 || body[7] != 0) {
		t->bad_frames++;
		return;
	}
	for (int i = 7; i >= 0; i--) {
		total = (total << 8) | body[8 + i];
	}
	const char     *data = (const char *) body + OSC_WIRE_PIECE;
	size_t          n    = len - OSC_WIRE_PIECE;
	osc_assembly_t *a    = assembly_find(t, (uint32_t) nng_pipe_id(pipe));
	if ((body[4] & OSC_WIRE_PIECE_FIRST) != 0) {
		if (a != NULL) {
			assembly_drop(t, a); // its sender gave it up
			a = NULL;
		}
		if (total > pool->cfg.max_message || total > pool->cfg.recv_budget) {
			piece_refuse(pool, pipe, NULL, true, (size_t) total);
			return;
		}
		if (osc_map_reserve(&t->assemblies) != 0 || (a = calloc(1, sizeof(*a))) == NULL) {
			piece_refuse(pool, pipe, NULL, true, (size_t) total);
			return;
		}
		a->pipe  = (uint32_t) nng_pipe_id(pipe);
		a->total = (size_t) total;
		osc_map_insert(&t->assemblies, osc_hash_u64(a->pipe), a);
	} else if (a == NULL) {
		t->bad_frames++; // the rest of a message dropped before
		return;
	}
	if (total != a->total || n > a->total - a->len) {
		piece_refuse(pool, pipe, a, false, a->total);
		return;
	}
	if (a->len + n + 1 > a->cap) {
		// Double, up to the whole message and its terminating zero.
		size_t cap = a->cap * 2 > a->len + n + 1 ? a->cap * 2 : a->len + n + 1;
		cap        = cap > a->total + 1 ? a->total + 1 : cap;
		char *buf;
		if (t->assembling - a->cap + cap > pool->cfg.recv_budget ||
		    (buf = realloc(a->buf, cap)) == NULL) {
			piece_refuse(pool, pipe, a, true, a->total);
			return;
		}
		t->assembling += cap - a->cap;
		a->buf = buf;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, data, n);
	a->len += n;
	a->last_ms = (int64_t) uv_now(&pool->loop);
	if ((body[4] & OSC_WIRE_PIECE_LAST) == 0) {
		return;
	}
	if (a->len != a->total) {
		piece_refuse(pool, pipe, a, false, a->total);
		return;
	}
	// Whole: serve it from the assembled buffer, lent to the bins.
	osc_buf_lender_t *bl  = malloc(sizeof(*bl));
	char             *buf = a->buf;
	size_t            tot = a->total;
	a->buf                = NULL;
	assembly_drop(t, a);
	if (bl == NULL) {
		free(buf);
		t->refused++;
		return;
	}
	buf[tot] = '\0';
	osc_lender_init(&bl->base, buf_lender_release);
	bl->buf = buf;
	serve_frames(pool, buf, tot, &bl->base);
	osc_lender_drop(&bl->base);
}

// peer_fail fails every call of list (peer->calls or peer->held) with
// OSCAR_EPEERGONE, the message why, and pid, the process that ended there
// (0: unknown).
static void peer_fail(
    oscar_pool_t *pool, osc_peer_t *peer, osc_list_t *list, const char *why, int64_t pid)
{
	osc_call_t *c;
	while ((c = OSC_LIST_FIRST(list, osc_call_t, pnode)) != NULL) {
		oscar_error_t err;
		osc_error_set(
		    &err, pool, OSCAR_EPEERGONE, "", "", "%s while calling %s", why, c->target);
		snprintf(err.address, sizeof(err.address), "%s", peer->addr);
		err.pid = pid;
		snprintf(err.actor, sizeof(err.actor), "%.*s", (int) c->uid_len, c->target);
		snprintf(err.method, sizeof(err.method), "%s", c->target + c->uid_len + 1);
		osc_call_complete(c, OSCAR_EPEERGONE, NULL, &err); // unlinks c
	}
}

// peer_fail_held fails the held calls of peer (see peer_fail) and
// frees peer if it was retired and its socket is closed: nothing else
// waits on it.
static void peer_fail_held(oscar_pool_t *pool, osc_peer_t *peer, const char *why, int64_t pid)
{
	peer_fail(pool, peer, &peer->held, why, pid);
	if (peer->retired && !peer->open) {
		peer_forget(pool->transport, peer);
	}
}

// peer_retire takes lost peer out of the live ones, so that whatever
// runs at its address next (a restarted sub pool) gets a fresh connection,
// dialed at once, instead of messages lost in the old; what it still had
// to send is dropped. The peer is kept for its held calls.
//
// Its socket is not closed yet: NNG may be redialling it, and NNG 1.5.2's
// listener stops accepting for good when a connection is closed half way
// through its handshake (nanomsg/nng#1518), which would leave the
// restarted pool unreachable. So the socket is closed once its connection
// is up again (the handshake is over), or after peer_connect_ms without
// one (the sweeper), and the peer freed once its held calls are done too.
// False when max_peers peers are retired already: then it stays as it is.
static bool peer_retire(oscar_pool_t *pool, osc_peer_t *peer)
{
	osc_transport_t *t = pool->transport;
	if (t->nretired >= pool->cfg.max_peers) {
		return (false);
	}
	for (osc_peer_t **pp = &t->peers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == peer) {
			*pp = peer->next;
			break;
		}
	}
	if (peer->dirty) {
		for (osc_peer_t **pp = &t->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
			if (*pp == peer) {
				*pp = peer->dirty_next;
				break;
			}
		}
		peer->dirty = false;
	}
	t->npeers--;
	osc_wbuf_fini(&peer->out);
	peer->out_frames = 0;
	peer->batch_len  = 0;
	peer->pipes      = 0;
	peer->retired    = true;
	peer->open       = true;
	peer->lost_ms    = (int64_t) uv_now(&pool->loop);
	peer->next       = t->retired;
	t->retired       = peer;
	t->nretired++;
	return (true);
}

// peer_authority returns the pool that a lost connection to peer asks
// how its pool ended, holding its calls meanwhile, or NULL when there is
// nobody to ask (a main pool watches its own sub pools instead, see
// peer_down).
static const char *peer_authority(const oscar_pool_t *pool, const osc_peer_t *peer)
{
	const char *authority = peer->home[0] != '\0'   ? peer->home
	                        : pool->home[0] != '\0' ? pool->home
	                                                : NULL;
	if (authority == NULL || strcmp(authority, pool->address) == 0 ||
	    strcmp(authority, peer->addr) == 0) {
		return (NULL);
	}
	return (authority);
}

// peer_slow_redial makes peer's connection wait before it dials again
// after a loss, for a peer whose loss closes it (peer_down): by then the
// loop has closed it, so that it does not connect to the successor of the
// lost process only to be closed half way through the handshake.
static void peer_slow_redial(osc_peer_t *peer)
{
	peer->ops->slow_redial(peer);
}

// osc_verdict_t names the peer that word of a death is for; the peer may
// be gone by the time it comes, so it is found again by serial.
typedef struct osc_verdict {
	oscar_pool_t *pool;
	uint64_t      serial;
	int64_t       pid; // the peer's process as known when it was lost
} osc_verdict_t;

static osc_peer_t *peer_by_serial(osc_transport_t *t, uint64_t serial)
{
	for (osc_peer_t *p = t->peers; p != NULL; p = p->next) {
		if (p->serial == serial) {
			return (p);
		}
	}
	for (osc_peer_t *p = t->retired; p != NULL; p = p->next) {
		if (p->serial == serial) {
			return (p);
		}
	}
	return (NULL);
}

// verdict_cb fails the held calls of a lost peer once word of how its
// pool ended came (res->value: [description, pid]), or the wait for it
// ended (a timer, or a failed question): then with the bare loss.
static void verdict_cb(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	osc_verdict_t   *v    = arg;
	oscar_pool_t    *pool = v->pool;
	osc_transport_t *t    = pool->transport;
	osc_peer_t      *peer;
	const char      *how;
	int64_t          pid    = v->pid;
	uint64_t         serial = v->serial;
	char             why[OSCAR_ERRMSG_MAX];
	(void) self;
	free(v);
	if (t == NULL || pool->state != OSC_POOL_RUNNING ||
	    (peer = peer_by_serial(t, serial)) == NULL) {
		return; // closing, or nothing was left waiting
	}
	peer->asking = false;
	if (res->code == 0 && oscar_value_get_str(oscar_value_at(res->value, 0), &how, NULL) == 0 &&
	    oscar_value_get_int(oscar_value_at(res->value, 1), &pid) == 0) {
		snprintf(why, sizeof(why), "%s", how);
	} else if (res->code == 0) {
		snprintf(why, sizeof(why),
		    "lost the connection to sub pool %s (pid %" PRId64
		    "), which had not exited %d ms later",
		    peer->addr, pid, OSC_DEATH_WAIT_MS);
	} else {
		snprintf(why, sizeof(why), "lost the connection to pool %s", peer->addr);
	}
	peer_fail_held(pool, peer, why, pid);
}

// verdict_ask starts waiting for word of how the pool of peer ended:
// from the pool at authority, or, when authority is NULL, from this
// pool's own sub pool watch (a timer bounds the wait for its exit).
static int verdict_ask(oscar_pool_t *pool, osc_peer_t *peer, const char *authority)
{
	osc_verdict_t *v = malloc(sizeof(*v));
	osc_call_t    *c = NULL;
	oscar_error_t  err;
	int            rv;
	if (v == NULL) {
		return (OSCAR_ENOMEM);
	}
	v->pool   = pool;
	v->serial = peer->serial;
	v->pid    = peer->pid;
	if (authority == NULL) {
		if (osc_call_reserve(pool) != 0 ||
		    (c = osc_call_new(pool, "(peer)", "(death)", OSC_DEATH_WAIT_MS, verdict_cb, v,
		         NULL)) == NULL) {
			free(v);
			return (OSCAR_ENOMEM);
		}
		c->timer = true;
		osc_call_link(pool, c, NULL, NULL);
	} else {
		osc_peer_t    *to = peer_get(pool, authority, &err);
		oscar_value_t *q  = oscar_value_new_array(3);
		// A sibling (a sub pool of the same main pool) shares the host
		// and its monotonic clock: when the connection came up tells
		// which process it reached, should the pid be unknown.
		uint64_t up_at =
		    pool->home[0] != '\0' && strcmp(authority, pool->home) == 0 ? peer->up_at : 0;
		osc_frame_t f;
		if (to == NULL || q == NULL ||
		    oscar_value_array_push(q, oscar_value_new_str(peer->addr)) != 0 ||
		    oscar_value_array_push(q, oscar_value_new_int(peer->pid)) != 0 ||
		    oscar_value_array_push(q, oscar_value_new_uint(up_at)) != 0) {
			oscar_value_free(q);
			free(v);
			return (OSCAR_ENOMEM);
		}
		memset(&f, 0, sizeof(f));
		f.type = OSC_MSG_CONTROL;
		snprintf(f.source, sizeof(f.source), "%s", pool->address);
		snprintf(f.method, sizeof(f.method), "exit");
		osc_call_desc_t d = {
			.args       = q,
			.timeout_ms = OSC_DEATH_WAIT_MS,
			.cb         = verdict_cb,
			.arg        = v,
		};
		if ((rv = remote_send(pool, to, &f, &d, true, &c, NULL, &err)) != 0) {
			free(v);
			return (rv);
		}
	}
	c->internal = true;
	pool->stats.calls--; // the pool's own, not a call of its users
	peer->asking = true;
	return (0);
}

// peer_down handles the loss of the last connection to peer: the
// calls pending there are held until word of how its pool ended comes
// (see the design note), or fail at once when nobody can say.
static void peer_down(oscar_pool_t *pool, osc_peer_t *peer)
{
	char        why[OSCAR_ERRMSG_MAX];
	int64_t     pid = peer->pid;
	osc_node_t *n;
	while ((n = osc_list_pop(&peer->calls)) != NULL) {
		OSC_CONTAINER_OF(n, osc_call_t, pnode)->held = true;
		osc_list_prepend(&peer->held, n);
	}
	if (peer->asking) {
		return; // the word on its way covers these too
	}
	int64_t sub_pid;
	if (pool->hooks->sub_find(pool, peer->addr, &sub_pid)) {
		if (osc_list_empty(&peer->held)) {
			return;
		}
		// One of ours: its exit tells, now or when it comes.
		int rv =
		    pool->hooks->sub_death(pool, peer->addr, sub_pid, 0, why, sizeof(why), &pid);
		if (rv == 1 && verdict_ask(pool, peer, NULL) == 0) {
			return;
		}
		if (rv != 0) {
			snprintf(why, sizeof(why), "lost the connection to pool %s", peer->addr);
		}
		peer_fail(pool, peer, &peer->held, why, pid);
		return;
	}
	const char *authority = peer_authority(pool, peer);
	snprintf(why, sizeof(why), "lost the connection to pool %s", peer->addr);
	if (authority == NULL) {
		peer_fail(pool, peer, &peer->held, why, pid);
		return;
	}
	// Retired, held calls or not: new calls dial afresh, instead of
	// waiting for its redialling, which is slow (peer_slow_redial)
	// and which NNG may give up for good when an attempt meets the dying
	// process half way. Retired before the question goes out, so that
	// making room for the asked pool's connection never closes it.
	if (!peer_retire(pool, peer)) {
		peer_fail(pool, peer, &peer->held, why, pid);
		peer_close(pool->transport, peer);
		return;
	}
	if (!osc_list_empty(&peer->held) && verdict_ask(pool, peer, authority) != 0) {
		peer_fail_held(pool, peer, why, pid);
	}
}

// serve_home records what a sub pool says of itself (its main pool and
// its pid) on the peer that reaches it; a pool this one never called is
// not recorded.
static void serve_home(oscar_pool_t *pool, const osc_frame_t *f)
{
	oscar_value_t *v;
	const char    *home;
	size_t         len;
	int64_t        pid;
	if (osc_frame_payload(f, &v) != 0) {
		pool->transport->bad_frames++;
		return;
	}
	for (osc_peer_t *p = pool->transport->peers; p != NULL; p = p->next) {
		if (strcmp(p->addr, f->source) == 0 &&
		    oscar_value_get_str(oscar_value_at(v, 0), &home, &len) == 0 &&
		    len < sizeof(p->home) && oscar_value_get_int(oscar_value_at(v, 1), &pid) == 0 &&
		    pid > 0) {
			memcpy(p->home, home, len);
			p->home[len] = '\0';
			p->pid       = pid;
			if (peer_authority(pool, p) != NULL) {
				peer_slow_redial(p);
			}
			break;
		}
	}
	oscar_value_free(v);
}

// answer_death answers a question about how the pool at addr ended.
static void answer_death(
    oscar_pool_t *pool, const char *source, uint64_t id, const char *why, int64_t pid)
{
	oscar_value_t *v = oscar_value_new_array(2);
	if (v == NULL || oscar_value_array_push(v, oscar_value_new_str(why)) != 0 ||
	    oscar_value_array_push(v, oscar_value_new_int(pid)) != 0) {
		oscar_value_free(v);
		return; // the asker's own deadline ends its wait
	}
	send_answer(pool, source, id, 0, v, NULL);
	oscar_value_free(v);
}

// serve_exit answers control "exit" [address, pid, up_at]: how the
// process of this pool's sub pool at address ended, now, or once it has
// (parked, at most OSC_ASKS_MAX questions).
static void serve_exit(oscar_pool_t *pool, const osc_frame_t *f)
{
	osc_transport_t *t = pool->transport;
	oscar_value_t   *v = NULL;
	const char      *addr;
	int64_t          pid, dead = 0;
	uint64_t         up_at;
	char             why[OSCAR_ERRMSG_MAX];
	int              rv;
	if (f->id == 0) {
		return;
	}
	if ((rv = osc_frame_payload(f, &v)) != 0 ||
	    oscar_value_get_str(oscar_value_at(v, 0), &addr, NULL) != 0 ||
	    oscar_value_get_int(oscar_value_at(v, 1), &pid) != 0) {
		oscar_value_free(v);
		answer_error(pool, f, OSCAR_EBADARGS, "%s takes [address, pid]", "exit");
		return;
	}
	// The third item, when a sibling asks: when its connection came up.
	if (oscar_value_get_uint(oscar_value_at(v, 2), &up_at) != 0) {
		up_at = 0;
	}
	rv = pool->hooks->sub_death(pool, addr, pid, up_at, why, sizeof(why), &dead);
	if (rv == 0) {
		answer_death(pool, f->source, f->id, why, dead);
	} else if (rv == 1) {
		// Parked until it ends; those whose askers gave up go first.
		int64_t     now = (int64_t) uv_now(&pool->loop);
		osc_ask_t **pp  = &t->asks;
		while (*pp != NULL) {
			osc_ask_t *a = *pp;
			if (now - a->at > OSC_ASK_KEEP_MS) {
				*pp = a->next;
				free(a);
				t->nasks--;
			} else {
				pp = &a->next;
			}
		}
		osc_ask_t *a = t->nasks < OSC_ASKS_MAX ? calloc(1, sizeof(*a)) : NULL;
		if (a == NULL) {
			answer_error(pool, f, OSCAR_EMBOXFULL,
			    "too many questions about sub pools pending (%s)", addr);
		} else {
			a->id  = f->id;
			a->pid = pid;
			a->at  = now;
			snprintf(a->source, sizeof(a->source), "%s", f->source);
			snprintf(a->addr, sizeof(a->addr), "%s", addr);
			a->next = t->asks;
			t->asks = a;
			t->nasks++;
		}
	} else {
		answer_error(pool, f, OSCAR_ENOENT, "no record of the sub pool at %s", addr);
	}
	oscar_value_free(v);
}

// serve_pool_verb serves a control frame: "home" and "exit" (above);
// other verbs are not supported.
static void serve_pool_verb(oscar_pool_t *pool, const osc_frame_t *f)
{
	if (strcmp(f->method, "home") == 0) {
		serve_home(pool, f);
	} else if (strcmp(f->method, "exit") == 0) {
		serve_exit(pool, f);
	} else {
		serve_control(pool, f);
	}
}

// osc_transport_peer_gone fails the calls pending on the pool at addr
// (held or not) and closes the connection to it, so that whatever runs
// there next (a restarted sub pool) gets a fresh one instead of messages
// lost in the old; questions parked about it are answered.
void osc_transport_peer_gone(
    oscar_pool_t *pool, const char *addr, int64_t pid, const char *fmt, ...)
{
	char    why[OSCAR_ERRMSG_MAX];
	va_list ap;
	if (pool->transport == NULL) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	osc_transport_t *t = pool->transport;
	for (osc_ask_t **pp = &t->asks; *pp != NULL;) {
		osc_ask_t *a = *pp;
		if (strcmp(a->addr, addr) == 0 && (a->pid == 0 || a->pid == pid)) {
			*pp = a->next;
			t->nasks--;
			answer_death(pool, a->source, a->id, why, pid);
			free(a);
		} else {
			pp = &a->next;
		}
	}
	for (osc_peer_t *p = t->peers; p != NULL; p = p->next) {
		if (strcmp(p->addr, addr) == 0) {
			// Frames still waiting for it go nowhere: dropped.
			peer_fail(pool, p, &p->held, why, pid);
			peer_fail(pool, p, &p->calls, why, pid);
			peer_close(t, p);
			return;
		}
	}
}

// peer_up counts a connection of peer come up (pid: the process at the
// other end, when the link knows it; at: uv_hrtime() then).
static void peer_up(oscar_pool_t *pool, osc_peer_t *peer, int64_t pid, uint64_t at)
{
	peer->pipes++;
	peer->reached = true;
	peer->up_at   = at;
	if (pid > 0) {
		peer->pid = pid;
	}
	if (peer_authority(pool, peer) != NULL) {
		peer_slow_redial(peer);
	}
}

// peer_lost counts a connection of peer gone down.
static void peer_lost(oscar_pool_t *pool, osc_peer_t *peer)
{
	if (peer->pipes > 0 && --peer->pipes == 0) {
		peer_down(pool, peer);
	}
}

// retired_up closes retired peer r once its connection is up again: its
// handshake is over (peer_retire).
static void retired_up(osc_transport_t *t, osc_peer_t *r)
{
	peer_shut(r);
	if (osc_list_empty(&r->held)) {
		peer_forget(t, r);
	}
}

void osc_transport_dispatch(oscar_pool_t *pool, osc_post_t *p)
{
	osc_netpost_t *np   = OSC_CONTAINER_OF(p, osc_netpost_t, post);
	osc_peer_t    *peer = NULL;
	if (pool->state == OSC_POOL_RUNNING && pool->transport != NULL &&
	    (np->kind == OSC_NET_UP || np->kind == OSC_NET_DOWN)) {
		// A connection event of a peer closed since finds none.
		for (peer = pool->transport->peers; peer != NULL; peer = peer->next) {
			if (peer->ops == &nng_link_ops &&
			    (uint32_t) nng_socket_id(peer->sock) == np->sock_id) {
				break;
			}
		}
		if (peer == NULL && np->kind == OSC_NET_UP) {
			// A retired peer whose connection is up again: its
			// handshake is over, so it may close now (peer_retire).
			for (osc_peer_t *r = pool->transport->retired; r != NULL; r = r->next) {
				if (r->open && r->ops == &nng_link_ops &&
				    (uint32_t) nng_socket_id(r->sock) == np->sock_id) {
					retired_up(pool->transport, r);
					break;
				}
			}
		}
	}
	if (pool->state == OSC_POOL_RUNNING && pool->transport != NULL &&
	    (np->kind == OSC_NET_FRAME || np->kind == OSC_NET_IN_DOWN || peer != NULL)) {
		switch (np->kind) {
		case OSC_NET_FRAME:
			if (pool->transport->authed &&
			    !osc_auth_fresh(&pool->transport->auth, np->sender, np->seq,
			        np->sent_ms, osc_auth_now_ms())) {
				// Relaxed: a statistic.
				atomic_fetch_add_explicit(
				    &pool->transport->rejected, 1, memory_order_relaxed);
				break;
			}
			if (nng_msg_len(np->msg) >= 4 &&
			    memcmp(nng_msg_body(np->msg), "OSCK", 4) == 0) {
				on_piece(pool, np->msg);
			} else {
				// The pieces of a message follow each other: anything
				// else from its connection means its sender gave it up.
				osc_assembly_t *a =
				    pool->transport->assemblies.len == 0
				        ? NULL
				        : assembly_find(pool->transport,
				              (uint32_t) nng_pipe_id(nng_msg_get_pipe(np->msg)));
				if (a != NULL) {
					assembly_drop(pool->transport, a);
				}
				on_frame(pool, &np->msg);
			}
			break;
		case OSC_NET_IN_DOWN: {
			osc_assembly_t *a = assembly_find(pool->transport, np->sock_id);
			if (a != NULL) {
				assembly_drop(pool->transport, a);
			}
			break;
		}
		case OSC_NET_UP:
			peer_up(pool, peer, np->pid, np->at);
			break;
		case OSC_NET_DOWN:
			peer_lost(pool, peer);
			break;
		}
	}
	if (np->msg != NULL) {
		nng_msg_free(np->msg);
	}
	free(np);
}

void osc_transport_stats(oscar_pool_t *pool, oscar_pool_stats_t *stats)
{
	osc_transport_t *t = pool->transport;
	if (t == NULL) {
		return;
	}
	// Relaxed: a statistic.
	stats->rejected  = atomic_load_explicit(&t->rejected, memory_order_relaxed);
	stats->malformed = t->bad_frames;
	stats->peers     = t->npeers;
	stats->refused   = t->refused;
	stats->receiving = t->assembling;
	if (t->link != NULL) {
		// The link's: connections closed for a header not ours, or
		// for a body over max_message or recv_budget.
		osc_stream_stats_t ls;
		osc_stream_stats(t->link, &ls);
		stats->malformed += ls.bad;
		stats->refused += ls.refused;
		stats->receiving += ls.receiving;
	}
}

const void *osc_transport_secret(const oscar_pool_t *pool, size_t *len)
{
	const osc_transport_t *t = pool->transport;
	if (t == NULL || !t->authed) {
		*len = 0;
		return (NULL);
	}
	*len = t->auth.secret_len;
	return (t->auth.secret);
}

// ---------------------------------------------------------------------------
// The stream link (tcp:// and ipc://): everything on the pool's loop

static void link_up_cb(osc_stream_conn_t *c, int64_t pid)
{
	oscar_pool_t *pool = osc_stream_arg(osc_stream_conn_link(c));
	osc_peer_t   *peer = osc_stream_conn_data(c);
	if (pool->state != OSC_POOL_RUNNING || pool->transport == NULL) {
		return;
	}
	if (peer->retired) {
		if (peer->open) {
			retired_up(pool->transport, peer);
		}
		return;
	}
	peer_up(pool, peer, pid, uv_hrtime());
}

static void link_down_cb(osc_stream_conn_t *c)
{
	oscar_pool_t *pool = osc_stream_arg(osc_stream_conn_link(c));
	osc_peer_t   *peer = osc_stream_conn_data(c);
	// An accepted connection carries no state of ours: the link drops
	// what it was receiving.
	if (peer == NULL || peer->retired || pool->state != OSC_POOL_RUNNING ||
	    pool->transport == NULL) {
		return;
	}
	peer_lost(pool, peer);
}

static void runner_cb(uv_check_t *h);

// link_failed_cb gives up a peer whose host name could not be resolved:
// the calls sent there fail with the reason, and the peer is closed, so
// that the next call to that address dials (and resolves) afresh.
static void link_failed_cb(osc_stream_conn_t *c, int code, const char *msg)
{
	oscar_pool_t    *pool = osc_stream_arg(osc_stream_conn_link(c));
	osc_peer_t      *peer = osc_stream_conn_data(c);
	osc_transport_t *t    = pool->transport;
	osc_call_t      *call;
	if (peer == NULL || peer->retired || pool->state != OSC_POOL_RUNNING || t == NULL) {
		return;
	}
	while ((call = OSC_LIST_FIRST(&peer->calls, osc_call_t, pnode)) != NULL) {
		oscar_error_t err;
		osc_error_set(&err, pool, code, "", "", "cannot reach %s: %s", peer->addr, msg);
		snprintf(err.address, sizeof(err.address), "%s", peer->addr);
		snprintf(err.actor, sizeof(err.actor), "%.*s", (int) call->uid_len, call->target);
		snprintf(err.method, sizeof(err.method), "%s", call->target + call->uid_len + 1);
		osc_call_complete(call, code, NULL, &err); // unlinks it
	}
	if (osc_list_empty(&peer->held)) {
		peer_close(t, peer);
	}
	if (!uv_is_active((uv_handle_t *) &t->runner)) {
		uv_check_start(&t->runner, runner_cb); // the failed calls' callbacks
	}
}

// runner_cb runs the pool's work once the turn's reads are served, and
// stops reading while the pool is behind (its run left work for later),
// as a full inbox pauses NNG's receive; osc_transport_resume starts again.
static void runner_cb(uv_check_t *h)
{
	oscar_pool_t    *pool = h->data;
	osc_transport_t *t    = pool->transport;
	uv_check_stop(h);
	pool->run(pool);
	t = pool->transport;
	if (t != NULL && t->link != NULL && !t->link_paused &&
	    uv_is_active((uv_handle_t *) &pool->idle)) {
		t->link_paused = true;
		osc_stream_pause(t->link, true);
	}
}

// link_recv_cb serves one message from the link, right on the loop: no
// inbox, no wake-up. An owned body is lent to the bins that read it.
static void link_recv_cb(osc_stream_conn_t *c, char *data, size_t len, bool owned)
{
	oscar_pool_t    *pool   = osc_stream_arg(osc_stream_conn_link(c));
	osc_transport_t *t      = pool->transport;
	uint64_t         sender = 0, seq = 0;
	int64_t          sent_ms = 0;
	if (pool->state != OSC_POOL_RUNNING || t == NULL) {
		if (owned) {
			free(data);
		}
		return;
	}
	if (t->authed && (!osc_auth_check_buf(&t->auth, (const unsigned char *) data, &len, &sender,
	                      &seq, &sent_ms) ||
	                     !osc_auth_fresh(&t->auth, sender, seq, sent_ms, osc_auth_now_ms()))) {
		// Relaxed: a statistic.
		atomic_fetch_add_explicit(&t->rejected, 1, memory_order_relaxed);
		if (owned) {
			free(data);
		}
		return;
	}
	if (!uv_is_active((uv_handle_t *) &t->runner)) {
		uv_check_start(&t->runner, runner_cb);
	}
	osc_buf_lender_t *bl = NULL;
	if (owned && len >= OSC_OOB_THRESHOLD && (bl = malloc(sizeof(*bl))) != NULL) {
		data[len] = '\0'; // the link leaves one byte past the body
		osc_lender_init(&bl->base, buf_lender_release);
		bl->buf = data;
	}
	serve_frames(pool, data, len, bl != NULL ? &bl->base : NULL);
	if (bl != NULL) {
		osc_lender_drop(&bl->base);
	} else if (owned) {
		free(data);
	}
}

static int link_open(oscar_pool_t *pool, osc_transport_t *t, char *msg, size_t size)
{
	static const osc_stream_cbs_t cbs = { link_up_cb, link_down_cb, link_recv_cb,
		link_failed_cb };
	const oscar_pool_config_t    *c   = &pool->cfg;
	osc_stream_config_t           cfg = {
		          // The trailer travels inside the body.
		          .max_message = c->max_message + OSC_WIRE_PIECE + OSC_AUTH_TRAILER,
		          .recv_budget = c->recv_budget,
		          .sendbuf     = OSC_LINK_SENDBUF,
		          .max_conns =
                    c->max_peers * 4 > OSC_LINK_CONNS_MIN ? c->max_peers * 4 : OSC_LINK_CONNS_MIN,
		          .redial_min_ms = 10,
		          .redial_max_ms = 1000,
		          .resolve_ms    = (uint64_t) c->peer_connect_ms,
	};
	if (t->link != NULL) {
		return (0);
	}
	if ((t->link = osc_stream_new(&pool->loop, &cfg, &cbs, pool)) == NULL) {
		snprintf(msg, size, "no memory for the transport");
		return (OSCAR_ENOMEM);
	}
	return (0);
}

static int stream_dial(oscar_pool_t *pool, osc_peer_t *p, oscar_error_t *err)
{
	osc_transport_t *t = pool->transport;
	char             why[OSCAR_ERRMSG_MAX];
	int              code;
	if ((code = link_open(pool, t, why, sizeof(why))) != 0 ||
	    (p->conn = osc_stream_dial(t->link, p->addr, p, &code, why, sizeof(why))) == NULL) {
		osc_error_set(err, pool, code, "", "", "cannot reach %s: %s", p->addr, why);
		return (code);
	}
	return (0);
}

// stream_send queues bufs as one message on p's connection, sealed in
// place: the one copy from the frames to the socket's buffer.
static int stream_send(oscar_pool_t *pool, osc_peer_t *p, const uv_buf_t *bufs, unsigned n,
    size_t total, const char *target, const char *method, oscar_error_t *err)
{
	osc_transport_t *t    = pool->transport;
	int              code = 0;
	unsigned char   *m =
	    osc_stream_reserve(p->conn, total + (t->authed ? OSC_AUTH_TRAILER : 0), &code);
	if (m == NULL) {
		osc_error_set(err, pool, code, target, method,
		    code == OSCAR_EMBOXFULL ? "send queue to %s is full" : "cannot send to %s: %s",
		    p->addr, oscar_strerror(code));
		return (code);
	}
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(m + off, bufs[i].base, bufs[i].len);
		off += bufs[i].len;
	}
	if (t->authed) {
		osc_auth_seal_buf(&t->auth, m, total);
	}
	return (0);
}

static void stream_close(osc_peer_t *p)
{
	osc_stream_conn_close(p->conn);
}

static void stream_slow_redial(osc_peer_t *p)
{
	osc_stream_redial(p->conn, OSC_RETIRED_REDIAL_MS, OSC_RETIRED_REDIAL_MS);
}

static const osc_link_ops_t stream_link_ops = {
	.dial        = stream_dial,
	.send        = stream_send,
	.close       = stream_close,
	.slow_redial = stream_slow_redial,
	.pieces      = false,
	.batch_max   = OSC_LINK_BATCH,
};
