// The stream link: length-prefixed messages over TCP and unix sockets on a
// libuv loop (actors/stream.h).
//
// Design note. Each connection (osc_stream_conn_t) outlives the sockets
// that carry it: a dialed one gets a new socket (sock_t) at each redial,
// and keeps its send queue across them, as NNG's dialer does; an
// accepted one ends with its socket. Writes: a message is appended to
// the connection's queue (out); before the loop waits for I/O, the queue
// becomes the socket's write buffer, tried at once with uv_try_write and
// handed to uv_write for what the kernel did not take, so that what a
// loop turn queued leaves in one system call. While a write is under
// way, new messages wait in the queue. Reads: small messages arrive in
// the socket's read buffer (several per read) and are handed to the
// receiver in place. A socket is read READ_MAX bytes at a time (or what
// completes the message begun), and once a read has given whole
// messages, the next waits for the next loop turn, so that the answers
// to a burst leave while the rest of it is still coming in; a large body gets a buffer of its own,
// grown as its bytes arrive, which the receiver takes over whole. A dialed host name is resolved on
// libuv's thread pool (uv_getaddrinfo), never on the loop. Closing never waits: a closed connection
// is detached from its socket at once, and the memory goes with the libuv close callbacks.
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "actors/bytes.h"
#include "actors/stream.h"
#include "oscar/error.h"

// A read buffer holds a header and a small body at least.
#define RBUF (OSC_STREAM_LARGE + OSC_STREAM_HEADER)
// Bytes of small messages read from a socket at a time; a read that gave
// whole messages is the socket's last in its loop turn: what they ask is
// served and its answers written before more is read, so that a burst
// is worked on at both ends at once, not in turns of the whole.
#define READ_MAX ((size_t) 16 << 10)
// The first block of a large body; it doubles as the body arrives.
#define BIG_FIRST ((size_t) 1 << 20)
#define BACKLOG   128
// Addresses of a host name tried in turn when dialing.
#define ADDRS 4

typedef union handle {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t    tcp;
	uv_pipe_t   pipe;
} handle_t;

typedef enum kind { KIND_TCP, KIND_IPC } kind_t;

// One socket of a connection.
typedef struct sock {
	handle_t           h;
	osc_stream_t      *s;
	osc_stream_conn_t *conn; // NULL once detached (closing)
	uv_connect_t       connect;
	uv_write_t         write;
	char              *wbuf; // being written, wlen of wcap bytes
	size_t             wlen, wcap;
	bool               writing;
	bool               yield; // a full read this turn: the next waits
	char              *rbuf;  // RBUF bytes, rlen used
	size_t             rlen;
	char              *big; // a large body arriving: big_len of big_total,
	size_t             big_len, big_cap, big_total; // in big_cap bytes
	uint64_t           big_at;                      // loop time its last bytes came
} sock_t;

struct osc_stream_conn {
	osc_stream_conn_t *next, *prev; // in the link's conns
	osc_stream_t      *s;
	sock_t            *sock; // the socket now, or NULL
	void              *data;
	bool               dialed, up, closed, dirty;
	osc_stream_conn_t *dirty_next;
	char              *out; // queued, out_len of out_cap bytes
	size_t             out_len, out_cap;
	// Dialed connections.
	uv_timer_t timer; // the next redial, or the resolution's deadline
	kind_t     kind;
	// tcp: the addresses the host has (tried in turn, from at), once
	// resolved; resolving while a name is being looked up.
	struct sockaddr_storage sa[ADDRS];
	unsigned                naddrs, at, tried;
	struct resolve         *resolving;
	int                     failed; // the code it failed with, or 0
	char                    path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	uint64_t                redial_min, redial_max, redial_cur;
};

// A host name being resolved for a dialed connection, with
// uv_getaddrinfo on libuv's thread pool. It outlives its connection when
// that closes or gives up meanwhile (conn NULL): the answer, when it
// comes, only frees it. Until then the link counts it as a handle.
typedef struct resolve {
	uv_getaddrinfo_t   req;
	osc_stream_t      *s;
	osc_stream_conn_t *conn;
	char               url[300];
} resolve_t;

struct osc_stream {
	uv_loop_t          *loop;
	osc_stream_config_t cfg;
	osc_stream_cbs_t    cbs;
	void               *arg;
	handle_t            listener;
	bool                listening;
	char                path[sizeof(((struct sockaddr_un *) 0)->sun_path)]; // ipc: to remove
	uv_prepare_t        flusher;
	osc_stream_conn_t  *conns;
	osc_stream_conn_t  *dirty;
	unsigned            naccepted;
	bool                paused, closed;
	int                 handles; // libuv handles not closed yet
	osc_stream_stats_t  stats;
};

// ---------------------------------------------------------------------------
// Addresses

bool osc_stream_handles(const char *url)
{
	return (strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tcp4://", 7) == 0 ||
	        strncmp(url, "tcp6://", 7) == 0 || strncmp(url, "ipc://", 6) == 0);
}

// A parsed address: an ipc path, or a tcp host (a name or a numeric
// address), port and family.
typedef struct url {
	kind_t kind;
	char   path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	char   host[256];
	char   port[6];
	int    family; // AF_UNSPEC, or AF_INET / AF_INET6 (tcp4://, tcp6://)
	bool   wild;   // listening on every interface
} url_t;

// parse_url splits url into u; listen makes an empty or "*" host the
// wildcard. Nothing is resolved. 0 or OSCAR_EADDRINVAL with msg.
static int parse_url(const char *url, bool listen, url_t *u, char *msg, size_t size)
{
	memset(u, 0, sizeof(*u));
	if (strncmp(url, "ipc://", 6) == 0) {
		const char *p = url + 6;
		if (*p == '\0' || strlen(p) >= sizeof(u->path)) {
			snprintf(msg, size, "bad ipc address %s (a path of 1 to %zu bytes)", url,
			    sizeof(u->path) - 1);
			return (OSCAR_EADDRINVAL);
		}
		u->kind = KIND_IPC;
		snprintf(u->path, sizeof(u->path), "%s", p);
		return (0);
	}
	const char *rest = NULL;
	u->kind          = KIND_TCP;
	u->family        = AF_UNSPEC;
	if (strncmp(url, "tcp://", 6) == 0) {
		rest = url + 6;
	} else if (strncmp(url, "tcp4://", 7) == 0) {
		rest      = url + 7;
		u->family = AF_INET;
	} else if (strncmp(url, "tcp6://", 7) == 0) {
		rest      = url + 7;
		u->family = AF_INET6;
	} else {
		snprintf(msg, size, "address %s is neither tcp:// nor ipc://", url);
		return (OSCAR_EADDRINVAL);
	}
	const char *colon = strrchr(rest, ':');
	if (colon == NULL || colon[1] == '\0' || (size_t) (colon - rest) >= sizeof(u->host)) {
		snprintf(msg, size, "bad tcp address %s (host:port)", url);
		return (OSCAR_EADDRINVAL);
	}
	const char *port = colon + 1;
	unsigned    num  = 0;
	for (const char *c = port; *c != '\0'; c++) {
		if (*c < '0' || *c > '9' || (num = num * 10 + (unsigned) (*c - '0')) > 65535) {
			snprintf(msg, size, "bad port in %s", url);
			return (OSCAR_EADDRINVAL);
		}
	}
	snprintf(u->port, sizeof(u->port), "%u", num);
	size_t hlen = (size_t) (colon - rest);
	if (hlen >= 2 && rest[0] == '[' && rest[hlen - 1] == ']') {
		snprintf(u->host, sizeof(u->host), "%.*s", (int) hlen - 2, rest + 1);
	} else {
		snprintf(u->host, sizeof(u->host), "%.*s", (int) hlen, rest);
	}
	u->wild = u->host[0] == '\0' || strcmp(u->host, "*") == 0;
	if (u->wild && !listen) {
		snprintf(msg, size, "cannot dial %s: no host", url);
		return (OSCAR_EADDRINVAL);
	}
	return (0);
}

// url_numeric fills sa when u's host is a numeric address of its
// family (no lookup); false when it is a name.
static bool url_numeric(const url_t *u, struct sockaddr_storage *sa)
{
	int port = atoi(u->port);
	memset(sa, 0, sizeof(*sa));
	if (u->family != AF_INET6 && uv_ip4_addr(u->host, port, (struct sockaddr_in *) sa) == 0) {
		return (true);
	}
	if (u->family != AF_INET && uv_ip6_addr(u->host, port, (struct sockaddr_in6 *) sa) == 0) {
		return (true);
	}
	return (false);
}

// url_hints fills the hints for resolving u.
static void url_hints(const url_t *u, struct addrinfo *hints)
{
	memset(hints, 0, sizeof(*hints));
	hints->ai_family   = u->family;
	hints->ai_socktype = SOCK_STREAM;
	hints->ai_flags    = AI_NUMERICSERV | (u->wild ? AI_PASSIVE : 0);
	if (u->family == AF_UNSPEC && u->wild) {
		hints->ai_family = AF_INET;
	}
}

// url_resolve_now resolves the address to listen on, u from url, into
// sa, on the calling thread (a name blocks it while it is looked up).
// 0 or OSCAR_EADDRINVAL with msg.
static int url_resolve_now(
    const url_t *u, const char *url, struct sockaddr_storage *sa, char *msg, size_t size)
{
	struct addrinfo hints, *res = NULL;
	if (!u->wild && url_numeric(u, sa)) {
		return (0);
	}
	url_hints(u, &hints);
	int rv = getaddrinfo(u->wild ? NULL : u->host, u->port, &hints, &res);
	if (rv != 0 || res == NULL) {
		snprintf(msg, size, "cannot resolve %s: %s", url, gai_strerror(rv));
		if (res != NULL) {
			freeaddrinfo(res);
		}
		return (OSCAR_EADDRINVAL);
	}
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return (0);
}

// ---------------------------------------------------------------------------
// Handles and their memory

static void link_release(osc_stream_t *s)
{
	if (s->closed && s->handles == 0) {
		free(s);
	}
}

static void sock_closed_cb(uv_handle_t *h)
{
	sock_t       *k = h->data;
	osc_stream_t *s = k->s;
	if (k->big != NULL) {
		s->stats.receiving -= k->big_cap;
		free(k->big);
	}
	free(k->rbuf);
	free(k->wbuf);
	free(k);
	s->handles--;
	link_release(s);
}

static void timer_closed_cb(uv_handle_t *h)
{
	osc_stream_conn_t *c = h->data;
	osc_stream_t      *s = c->s;
	free(c);
	s->handles--;
	link_release(s);
}

static void plain_closed_cb(uv_handle_t *h)
{
	osc_stream_t *s = h->data;
	s->handles--;
	link_release(s);
}

static sock_t *sock_new(osc_stream_t *s, osc_stream_conn_t *c, kind_t kind)
{
	sock_t *k = calloc(1, sizeof(*k));
	if (k == NULL || (k->rbuf = malloc(RBUF)) == NULL) {
		free(k);
		return (NULL);
	}
	if (kind == KIND_TCP) {
		uv_tcp_init(s->loop, &k->h.tcp);
	} else {
		uv_pipe_init(s->loop, &k->h.pipe, 0);
	}
	k->h.handle.data = k;
	k->s             = s;
	k->conn          = c;
	s->handles++;
	return (k);
}

// sock_drop detaches k from its connection and closes it.
static void sock_drop(sock_t *k)
{
	if (k->conn != NULL) {
		k->conn->sock = NULL;
		k->conn       = NULL;
	}
	uv_close(&k->h.handle, sock_closed_cb);
}

static void dirty_unlink(osc_stream_t *s, osc_stream_conn_t *c)
{
	if (!c->dirty) {
		return;
	}
	for (osc_stream_conn_t **pp = &s->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	}
	c->dirty = false;
}

void osc_stream_conn_close(osc_stream_conn_t *c)
{
	osc_stream_t *s = c->s;
	if (c->closed) {
		return;
	}
	c->closed = true;
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		s->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	dirty_unlink(s, c);
	free(c->out);
	c->out     = NULL;
	c->out_len = c->out_cap = 0;
	if (c->sock != NULL) {
		sock_drop(c->sock);
	}
	if (c->resolving != NULL) {
		// Its answer only frees it (resolve_cb).
		c->resolving->conn = NULL;
		(void) uv_cancel((uv_req_t *) &c->resolving->req);
		c->resolving = NULL;
	}
	if (c->dialed) {
		uv_close((uv_handle_t *) &c->timer, timer_closed_cb);
	} else {
		s->naccepted--;
		free(c);
	}
}

// ---------------------------------------------------------------------------
// Connections lost and redialled

static void dial_now(osc_stream_conn_t *c);

static void redial_cb(uv_timer_t *t)
{
	dial_now(t->data);
}

static void redial_later(osc_stream_conn_t *c)
{
	uint64_t wait = c->redial_cur;
	c->redial_cur = c->redial_cur * 2 > c->redial_max ? c->redial_max : c->redial_cur * 2;
	uv_timer_start(&c->timer, redial_cb, wait, 0);
}

// conn_lost ends c's socket: an accepted connection is closed, a dialed
// one redials. The receiver hears of a connection that was up.
static void conn_lost(osc_stream_conn_t *c)
{
	bool was_up = c->up;
	if (c->sock != NULL) {
		sock_drop(c->sock);
	}
	c->up = false;
	if (was_up && c->s->cbs.down != NULL) {
		c->s->cbs.down(c);
	}
	if (c->closed) {
		return;
	}
	if (c->dialed) {
		redial_later(c);
	} else {
		osc_stream_conn_close(c);
	}
}

// ---------------------------------------------------------------------------
// Writing

static void write_cb(uv_write_t *req, int status);

static void conn_flush(osc_stream_conn_t *c)
{
	sock_t *k = c->sock;
	if (!c->up || k == NULL || k->writing || c->out_len == 0) {
		return;
	}
	// The queue becomes the write buffer, and the old write buffer the
	// (empty) queue.
	char  *buf = k->wbuf;
	size_t cap = k->wcap;
	k->wbuf    = c->out;
	k->wcap    = c->out_cap;
	k->wlen    = c->out_len;
	c->out     = buf;
	c->out_cap = cap;
	c->out_len = 0;
	uv_buf_t b = { .base = k->wbuf, .len = k->wlen };
	int      n = uv_try_write(&k->h.stream, &b, 1);
	if (n >= 0 && (size_t) n == k->wlen) {
		k->wlen = 0;
		return;
	}
	if (n < 0 && n != UV_EAGAIN) {
		// The connection is broken: the read side reports it.
		k->wlen = 0;
		return;
	}
	size_t off    = n > 0 ? (size_t) n : 0;
	b.base        = k->wbuf + off;
	b.len         = k->wlen - off;
	k->write.data = k;
	if (uv_write(&k->write, &k->h.stream, &b, 1, write_cb) != 0) {
		k->wlen = 0;
		return;
	}
	k->writing = true;
}

static void write_cb(uv_write_t *req, int status)
{
	sock_t *k  = req->data;
	k->writing = false;
	k->wlen    = 0;
	if (status < 0 || k->conn == NULL) {
		return; // a failed write: the read side reports the loss
	}
	conn_flush(k->conn);
}

void osc_stream_flush(osc_stream_t *s)
{
	osc_stream_conn_t *c;
	while ((c = s->dirty) != NULL) {
		s->dirty      = c->dirty_next;
		c->dirty      = false;
		c->dirty_next = NULL;
		conn_flush(c);
	}
}

static void flush_cb(uv_prepare_t *h)
{
	osc_stream_t *s = h->data;
	osc_stream_flush(s);
	uv_prepare_stop(h);
}

void *osc_stream_reserve(osc_stream_conn_t *c, size_t len, int *code)
{
	osc_stream_t *s = c->s;
	size_t queued   = c->out_len + (c->sock != NULL && c->sock->writing ? c->sock->wlen : 0);
	size_t need     = OSC_STREAM_HEADER + len;
	if (c->closed || c->failed != 0) {
		*code = c->closed ? OSCAR_ECLOSED : c->failed;
		return (NULL);
	}
	if (len > s->cfg.max_message) {
		*code = OSCAR_ETOOLARGE;
		return (NULL);
	}
	if (queued != 0 && queued + need > s->cfg.sendbuf) {
		*code = OSCAR_EMBOXFULL;
		return (NULL);
	}
	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap != 0 ? c->out_cap : 4096;
		while (cap < c->out_len + need) {
			cap *= 2;
		}
		char *out = realloc(c->out, cap);
		if (out == NULL) {
			*code = OSCAR_ENOMEM;
			return (NULL);
		}
		c->out     = out;
		c->out_cap = cap;
	}
	unsigned char *h = (unsigned char *) c->out + c->out_len;
	memcpy(h, "OSCL", 4);
	h[4] = OSC_STREAM_VERSION;
	h[5] = h[6] = h[7] = 0;
	osc_put_le64(h + 8, (uint64_t) len);
	c->out_len += need;
	if (!c->dirty) {
		c->dirty      = true;
		c->dirty_next = s->dirty;
		s->dirty      = c;
		uv_prepare_start(&s->flusher, flush_cb);
	}
	return (h + OSC_STREAM_HEADER);
}

// ---------------------------------------------------------------------------
// Reading

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	sock_t *k = h->data;
	(void) suggested;
	if (k->big != NULL) {
		size_t end = k->big_cap < k->big_total ? k->big_cap : k->big_total;
		buf->base  = k->big + k->big_len;
		buf->len   = end - k->big_len;
	} else if (k->yield) {
		// No more this turn (read_cb gets UV_ENOBUFS); the socket is
		// still readable, so the next turn reads on.
		k->yield  = false;
		buf->base = NULL;
		buf->len  = 0;
	} else {
		// READ_MAX, or what completes the message begun, if more.
		size_t want = READ_MAX;
		if (k->rlen >= OSC_STREAM_HEADER) {
			uint64_t len = osc_get_le64((const unsigned char *) k->rbuf + 8);
			if (len < OSC_STREAM_LARGE && OSC_STREAM_HEADER + len - k->rlen > want) {
				want = OSC_STREAM_HEADER + (size_t) len - k->rlen;
			}
		}
		buf->base = k->rbuf + k->rlen;
		buf->len  = RBUF - k->rlen < want ? RBUF - k->rlen : want;
	}
}

// refuse closes the connection of k for a header not ours (bad) or a
// body over the bounds.
static void refuse(sock_t *k, bool bad)
{
	if (bad) {
		k->s->stats.bad++;
	} else {
		k->s->stats.refused++;
	}
	conn_lost(k->conn);
}

// big_grow makes room in k's large body for more bytes, within the
// link's budget. False when the budget is spent or memory is short.
static bool big_grow(sock_t *k)
{
	osc_stream_t *s   = k->s;
	size_t        cap = k->big_cap == 0 ? BIG_FIRST : k->big_cap * 2;
	if (cap >= k->big_total) {
		cap = k->big_total + 1; // room for the receiver's byte
	}
	if (s->stats.receiving - k->big_cap + cap > s->cfg.recv_budget) {
		return (false);
	}
	char *big = realloc(k->big, cap);
	if (big == NULL) {
		return (false);
	}
	s->stats.receiving += cap - k->big_cap;
	k->big     = big;
	k->big_cap = cap;
	return (true);
}

// big_done hands a whole large body to the receiver.
static void big_done(sock_t *k)
{
	osc_stream_t *s   = k->s;
	char         *big = k->big;
	size_t        len = k->big_total;
	s->stats.receiving -= k->big_cap;
	k->big     = NULL;
	k->big_len = k->big_cap = k->big_total = 0;
	s->cbs.recv(k->conn, big, len, true);
}

// parse hands the whole messages in k's read buffer to the receiver,
// and starts a large body's own buffer.
static unsigned parse(sock_t *k)
{
	osc_stream_t *s   = k->s;
	size_t        off = 0;
	unsigned      n   = 0;
	while (k->conn != NULL && k->rlen - off >= OSC_STREAM_HEADER) {
		const unsigned char *h = (const unsigned char *) k->rbuf + off;
		if (memcmp(h, "OSCL", 4) != 0 || h[4] != OSC_STREAM_VERSION || h[5] != 0 ||
		    h[6] != 0 || h[7] != 0) {
			refuse(k, true);
			return (n);
		}
		uint64_t len   = osc_get_le64(h + 8);
		size_t   avail = k->rlen - off - OSC_STREAM_HEADER;
		if (len > s->cfg.max_message || len > SIZE_MAX / 2) {
			refuse(k, false);
			return (n);
		}
		if (len >= OSC_STREAM_LARGE) {
			k->big_total = (size_t) len;
			if (!big_grow(k)) {
				k->big_total = 0;
				refuse(k, false);
				return (n);
			}
			memcpy(k->big, h + OSC_STREAM_HEADER, avail);
			k->big_len = avail;
			k->big_at  = uv_now(s->loop);
			k->rlen    = 0;
			if (k->big_len == k->big_total) {
				big_done(k);
				n++;
			}
			return (n);
		}
		if (avail < len) {
			break;
		}
		s->cbs.recv(k->conn, (char *) h + OSC_STREAM_HEADER, (size_t) len, false);
		off += OSC_STREAM_HEADER + (size_t) len;
		n++;
	}
	if (k->conn != NULL && off != 0) {
		memmove(k->rbuf, k->rbuf + off, k->rlen - off);
		k->rlen -= off;
	}
	return (n);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	sock_t *k = st->data;
	if (k->conn == NULL || nread == 0 || nread == UV_ENOBUFS) {
		return;
	}
	if (nread < 0) {
		conn_lost(k->conn);
		return;
	}
	if (k->big == NULL) {
		// A read that filled its buffer is followed by another at once
		// (libuv reads on while it can): when this one gave messages,
		// that one waits for the next turn, after they are served and
		// what they answered is written.
		bool full = (size_t) nread == buf->len;
		k->rlen += (size_t) nread;
		k->yield = parse(k) > 0 && full;
		return;
	}
	k->big_len += (size_t) nread;
	k->big_at = uv_now(k->s->loop);
	if (k->big_len == k->big_total) {
		big_done(k);
	} else if (k->big_len == k->big_cap && !big_grow(k)) {
		refuse(k, false);
	}
}

// ---------------------------------------------------------------------------
// Dialing

// dial_failed ends an attempt of c that did not connect: the next of
// the host's addresses is tried at once, and once each was, c redials
// later.
static void dial_failed(osc_stream_conn_t *c)
{
	if (c->naddrs > 1) {
		c->at = (c->at + 1) % c->naddrs;
		if (++c->tried < c->naddrs) {
			dial_now(c);
			return;
		}
	}
	c->tried = 0;
	redial_later(c);
}

static void connect_cb(uv_connect_t *req, int status)
{
	sock_t            *k   = req->data;
	osc_stream_conn_t *c   = k->conn;
	int64_t            pid = 0;
	if (c == NULL) {
		return; // closed meanwhile
	}
	if (status < 0) {
		sock_drop(k);
		dial_failed(c);
		return;
	}
	if (c->kind == KIND_TCP) {
		uv_tcp_nodelay(&k->h.tcp, 1);
	} else {
		uv_os_fd_t   fd;
		struct ucred cred;
		socklen_t    len = sizeof(cred);
		if (uv_fileno(&k->h.handle, &fd) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			pid = cred.pid;
		}
	}
	if (uv_read_start(&k->h.stream, alloc_cb, read_cb) != 0) {
		sock_drop(k);
		dial_failed(c);
		return;
	}
	c->up         = true;
	c->tried      = 0;
	c->redial_cur = c->redial_min;
	if (c->s->cbs.up != NULL) {
		c->s->cbs.up(c, pid);
	}
	if (!c->closed) {
		conn_flush(c);
	}
}

static void dial_now(osc_stream_conn_t *c)
{
	sock_t *k = sock_new(c->s, c, c->kind);
	int     rv;
	if (k == NULL) {
		redial_later(c);
		return;
	}
	c->sock         = k;
	k->connect.data = k;
	if (c->kind == KIND_TCP) {
		rv = uv_tcp_connect(
		    &k->connect, &k->h.tcp, (struct sockaddr *) &c->sa[c->at], connect_cb);
	} else {
		uv_pipe_connect(&k->connect, &k->h.pipe, c->path, connect_cb);
		rv = 0;
	}
	if (rv != 0) {
		sock_drop(k);
		dial_failed(c);
	}
}

// resolve_fail gives c up: its name could not be resolved (code, and
// the reason in msg). What it queued is dropped, and it stays closed to
// new messages until osc_stream_conn_close.
static void resolve_fail(osc_stream_conn_t *c, int code, const char *msg)
{
	c->failed = code;
	dirty_unlink(c->s, c);
	free(c->out);
	c->out     = NULL;
	c->out_len = c->out_cap = 0;
	if (c->s->cbs.failed != NULL) {
		c->s->cbs.failed(c, code, msg);
	}
}

// resolve_cb takes the host's addresses and dials the first, unless the
// connection closed or gave up meanwhile.
static void resolve_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	resolve_t         *r = req->data;
	osc_stream_t      *s = r->s;
	osc_stream_conn_t *c = r->conn;
	if (c != NULL) {
		c->resolving = NULL;
		uv_timer_stop(&c->timer);
		for (struct addrinfo *a = res; status == 0 && a != NULL && c->naddrs < ADDRS;
		     a                  = a->ai_next) {
			if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
			    a->ai_addrlen <= sizeof(c->sa[0])) {
				memset(&c->sa[c->naddrs], 0, sizeof(c->sa[0]));
				memcpy(&c->sa[c->naddrs++], a->ai_addr, a->ai_addrlen);
			}
		}
		if (c->naddrs > 0) {
			dial_now(c);
		} else {
			char msg[400];
			snprintf(msg, sizeof(msg), "cannot resolve %s: %s", r->url,
			    status != 0 ? uv_strerror(status) : "no address");
			resolve_fail(c, OSCAR_EADDRINVAL, msg);
		}
	}
	uv_freeaddrinfo(res);
	free(r);
	s->handles--;
	link_release(s);
}

// resolve_late_cb gives up a resolution that took longer than
// resolve_ms; its answer, when it comes, is dropped.
static void resolve_late_cb(uv_timer_t *t)
{
	osc_stream_conn_t *c = t->data;
	resolve_t         *r = c->resolving;
	char               msg[400];
	if (r == NULL) {
		return;
	}
	c->resolving = NULL;
	r->conn      = NULL;
	(void) uv_cancel((uv_req_t *) &r->req);
	snprintf(msg, sizeof(msg), "cannot resolve %s: no answer within %" PRIu64 " ms", r->url,
	    c->s->cfg.resolve_ms);
	resolve_fail(c, OSCAR_ETIMEDOUT, msg);
}

osc_stream_conn_t *osc_stream_dial(
    osc_stream_t *s, const char *url, void *data, int *code, char *msg, size_t size)
{
	url_t              u;
	resolve_t         *r = NULL;
	osc_stream_conn_t *c;
	if ((*code = parse_url(url, false, &u, msg, size)) != 0) {
		return (NULL);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (u.kind == KIND_TCP && !url_numeric(&u, &c->sa[0]) &&
	        (r = calloc(1, sizeof(*r))) == NULL)) {
		free(c);
		*code = OSCAR_ENOMEM;
		snprintf(msg, size, "no memory for a connection");
		return (NULL);
	}
	c->kind = u.kind;
	snprintf(c->path, sizeof(c->path), "%s", u.path);
	if (r != NULL) {
		// A name: looked up on libuv's thread pool, never on the loop.
		struct addrinfo hints;
		url_hints(&u, &hints);
		r->s        = s;
		r->conn     = c;
		r->req.data = r;
		snprintf(r->url, sizeof(r->url), "%s", url);
		int rv = uv_getaddrinfo(s->loop, &r->req, resolve_cb, u.host, u.port, &hints);
		if (rv != 0) {
			*code = rv == UV_ENOMEM ? OSCAR_ENOMEM : OSCAR_EADDRINVAL;
			snprintf(msg, size, "cannot resolve %s: %s", url, uv_strerror(rv));
			free(r);
			free(c);
			return (NULL);
		}
		c->resolving = r;
		s->handles++;
	} else if (u.kind == KIND_TCP) {
		c->naddrs = 1;
	}
	c->s          = s;
	c->data       = data;
	c->dialed     = true;
	c->redial_min = s->cfg.redial_min_ms;
	c->redial_max = s->cfg.redial_max_ms;
	c->redial_cur = c->redial_min;
	uv_timer_init(s->loop, &c->timer);
	c->timer.data = c;
	s->handles++;
	c->next = s->conns;
	if (s->conns != NULL) {
		s->conns->prev = c;
	}
	s->conns = c;
	if (r != NULL) {
		uv_timer_start(&c->timer, resolve_late_cb, s->cfg.resolve_ms, 0);
	} else {
		dial_now(c);
	}
	return (c);
}

void osc_stream_redial(osc_stream_conn_t *c, uint64_t min_ms, uint64_t max_ms)
{
	c->redial_min = min_ms;
	c->redial_max = max_ms;
	c->redial_cur = min_ms;
}

// ---------------------------------------------------------------------------
// Listening

static void accept_cb(uv_stream_t *server, int status)
{
	osc_stream_t *s    = server->data;
	kind_t        kind = server->type == UV_TCP ? KIND_TCP : KIND_IPC;
	if (status < 0) {
		return;
	}
	osc_stream_conn_t *c = s->naccepted < s->cfg.max_conns ? calloc(1, sizeof(*c)) : NULL;
	sock_t            *k = sock_new(s, c, kind);
	if (k == NULL) {
		free(c);
		// Out of memory: the connection waits in the backlog.
		return;
	}
	if (uv_accept(server, &k->h.stream) != 0) {
		k->conn = NULL;
		free(c);
		sock_drop(k);
		return;
	}
	if (c == NULL) {
		s->stats.turned++;
		sock_drop(k);
		return;
	}
	c->s    = s;
	c->sock = k;
	c->up   = true;
	c->next = s->conns;
	if (s->conns != NULL) {
		s->conns->prev = c;
	}
	s->conns = c;
	s->naccepted++;
	if (kind == KIND_TCP) {
		uv_tcp_nodelay(&k->h.tcp, 1);
	}
	if (!s->paused && uv_read_start(&k->h.stream, alloc_cb, read_cb) != 0) {
		osc_stream_conn_close(c);
	}
}

// ipc_stale tells whether the socket file at path is left by a process
// that is gone: nobody accepts a connection there.
static bool ipc_stale(const char *path)
{
	struct sockaddr_un sun;
	int                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool               stale;
	if (fd < 0) {
		return (false);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	stale = connect(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0 && errno == ECONNREFUSED;
	close(fd);
	return (stale);
}

int osc_stream_listen(osc_stream_t *s, const char *url, int *port, char *msg, size_t size)
{
	struct sockaddr_storage sa;
	url_t                   u;
	int                     rv;
	if (s->listening) {
		snprintf(msg, size, "already listening");
		return (OSCAR_EINVAL);
	}
	if ((rv = parse_url(url, true, &u, msg, size)) != 0 ||
	    (u.kind == KIND_TCP && (rv = url_resolve_now(&u, url, &sa, msg, size)) != 0)) {
		return (rv);
	}
	kind_t      kind = u.kind;
	const char *path = u.path;
	if (kind == KIND_TCP) {
		uv_tcp_init(s->loop, &s->listener.tcp);
		rv = uv_tcp_bind(&s->listener.tcp, (struct sockaddr *) &sa, 0);
	} else {
		uv_pipe_init(s->loop, &s->listener.pipe, 0);
		rv = uv_pipe_bind(&s->listener.pipe, path);
		if (rv == UV_EADDRINUSE && ipc_stale(path) && unlink(path) == 0) {
			rv = uv_pipe_bind(&s->listener.pipe, path);
		}
	}
	s->listener.handle.data = s;
	s->handles++;
	if (rv == 0) {
		rv = uv_listen(&s->listener.stream, BACKLOG, accept_cb);
	}
	if (rv != 0) {
		snprintf(msg, size, "cannot listen on %s: %s", url,
		    rv == UV_EADDRINUSE ? "Address in use" : uv_strerror(rv));
		uv_close(&s->listener.handle, plain_closed_cb);
		return (rv == UV_EADDRINUSE ? OSCAR_EADDRINUSE
		        : rv == UV_EADDRNOTAVAIL || rv == UV_ENOENT || rv == UV_EACCES ||
		                rv == UV_ENOTDIR
		            ? OSCAR_EADDRINVAL
		            : OSCAR_ESYSTEM);
	}
	s->listening = true;
	if (kind == KIND_IPC) {
		snprintf(s->path, sizeof(s->path), "%s", path);
	}
	if (kind == KIND_TCP && port != NULL) {
		struct sockaddr_storage bound;
		int                     len = sizeof(bound);
		*port                       = 0;
		if (uv_tcp_getsockname(&s->listener.tcp, (struct sockaddr *) &bound, &len) == 0) {
			*port = bound.ss_family == AF_INET6
			            ? ntohs(((struct sockaddr_in6 *) &bound)->sin6_port)
			            : ntohs(((struct sockaddr_in *) &bound)->sin_port);
		}
	}
	return (0);
}

// ---------------------------------------------------------------------------
// The link

osc_stream_t *osc_stream_new(
    uv_loop_t *loop, const osc_stream_config_t *cfg, const osc_stream_cbs_t *cbs, void *arg)
{
	osc_stream_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (NULL);
	}
	s->loop = loop;
	s->cfg  = *cfg;
	s->cbs  = *cbs;
	s->arg  = arg;
	if (s->cfg.redial_min_ms == 0) {
		s->cfg.redial_min_ms = 1;
	}
	if (s->cfg.resolve_ms == 0) {
		s->cfg.resolve_ms = 5000;
	}
	if (s->cfg.redial_max_ms < s->cfg.redial_min_ms) {
		s->cfg.redial_max_ms = s->cfg.redial_min_ms;
	}
	uv_prepare_init(loop, &s->flusher);
	s->flusher.data = s;
	s->handles      = 1;
	return (s);
}

void *osc_stream_arg(const osc_stream_t *s)
{
	return (s->arg);
}

void *osc_stream_conn_data(const osc_stream_conn_t *c)
{
	return (c->data);
}

osc_stream_t *osc_stream_conn_link(const osc_stream_conn_t *c)
{
	return (c->s);
}

bool osc_stream_conn_dialed(const osc_stream_conn_t *c)
{
	return (c->dialed);
}

void osc_stream_pause(osc_stream_t *s, bool pause)
{
	if (s->paused == pause) {
		return;
	}
	s->paused = pause;
	for (osc_stream_conn_t *c = s->conns; c != NULL; c = c->next) {
		if (c->dialed || c->sock == NULL) {
			continue;
		}
		if (pause) {
			uv_read_stop(&c->sock->h.stream);
		} else {
			(void) uv_read_start(&c->sock->h.stream, alloc_cb, read_cb);
		}
	}
}

void osc_stream_sweep(osc_stream_t *s, uint64_t idle_ms)
{
	uint64_t           now = uv_now(s->loop);
	osc_stream_conn_t *next;
	for (osc_stream_conn_t *c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->sock != NULL && c->sock->big != NULL && now - c->sock->big_at >= idle_ms) {
			conn_lost(c);
		}
	}
}

void osc_stream_stats(const osc_stream_t *s, osc_stream_stats_t *st)
{
	*st       = s->stats;
	st->conns = s->naccepted;
}

void osc_stream_close(osc_stream_t *s)
{
	if (s->closed) {
		return;
	}
	while (s->conns != NULL) {
		osc_stream_conn_close(s->conns);
	}
	if (s->listening) {
		uv_close(&s->listener.handle, plain_closed_cb);
		if (s->path[0] != '\0') {
			unlink(s->path);
		}
	}
	uv_close((uv_handle_t *) &s->flusher, plain_closed_cb);
	s->closed = true;
}
