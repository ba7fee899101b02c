// Cross-process workloads: Oscar-C pools talking over ipc and tcp, each
// beside plain NNG doing the same over the same transport.
//
// Design note. The bench re-executes itself (/proc/self/exe) as a child
// with a hidden flag: --serve-oscar ADDRESS opens a pool listening there
// with one actor, "peer"; --serve-nng ADDRESS opens a pair1 socket
// listening there with an echo server driven by nng_aio callbacks. The
// child writes "ready ADDRESS" on its stdout (a pipe; a tcp port 0 is
// replaced by the port bound) and runs until its stdin (another pipe)
// reaches end of file, which is how the parent tells it to exit; if the
// parent dies first, PR_SET_PDEATHSIG kills it. child.c starts it, always
// reaps it (waitpid, with SIGKILL after a grace period), and does the same
// from an exit handler when the bench dies on an error. Addresses are
// loopback only; ipc socket paths carry the parent's pid and are removed
// afterwards. Over tcp, the peers (peers.c) run their own versions of the
// round trips, pipelined calls and 64 MiB transfers right after each of
// Oscar-C's rounds.
//
// Workloads (the bench process is the client; the child serves):
//   ipc-rtt, tcp-rtt     an actor calls peer.echo in the child, the next
//                        call sent from the reply callback (like call-rtt);
//                        floor: a pair1 echo of 96-byte messages, the next
//                        send issued from the receive callback
//   ipc-pipe, tcp-pipe   the same calls with PIPE_WINDOW (1,000) in flight,
//                        each reply sending the next; calls per second;
//                        floor: pair1 echo with as many messages in flight
//   ipc-tell, tcp-tell   an actor sends one-way peer.hit tells, with at most
//                        BLAST_WINDOW unconfirmed (a peer.sync call every
//                        BLAST_CHUNK tells confirms the count), backing off
//                        on OSCAR_EMBOXFULL until a confirmation comes;
//                        timed until the peer has seen them all;
//                        floor: pair1 one-way 96-byte messages, each send
//                        issued from the previous send's callback, then a
//                        count request
//   ipc-bin64m,          a host thread calls peer.take with one 64 MiB bin,
//   tcp-bin64m           which answers the bin's length: one direction;
//                        baseline: memcpy of 64 MiB in this process (the
//                        ceiling); floor: the same 64 MiB as one pair1
//                        message (built from the caller's buffer, which
//                        any NNG program must do) answered with 8 bytes
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <uv.h>

#include "bench/bench.h"

#define PEER_UID       "peer"
#define BIG_SIZE       ((size_t) 64 << 20)
#define FLOOR_MSG_SIZE 96
#define BLAST_WINDOW   16384  // unconfirmed tells; under the peer's inbox bound
#define BLAST_CHUNK    1024   // tells per confirmation
#define PIPE_WINDOW    1000   // calls in flight in the pipelined workloads
#define CALL_TIMEOUT   120000 // ms, for every call the parent makes
#define READY_TIMEOUT  10000  // ms for a child to say it is ready
#define CHILD_LIFETIME 7200   // s: a child left alone exits after this

// Workload w over transport t (0: ipc, 1: tcp) is bench_cross_names[w * 2 + t].
const char *const bench_cross_names[] = { "ipc-rtt", "tcp-rtt", "ipc-pipe", "tcp-pipe", "ipc-tell",
	"tcp-tell", "ipc-bin64m", "tcp-bin64m", NULL };

// ---------------------------------------------------------------------------
// The child's actor: peer

typedef struct peer {
	int64_t count; // hits since the last reset
} peer_t;

static int peer_echo(oscar_actor_t *self, oscar_req_t *req)
{
	return (oscar_req_reply(req, NULL));
}

// peer.take(bin) answers the bin's length.
static int peer_take(oscar_actor_t *self, oscar_req_t *req)
{
	const void *p;
	size_t      len;
	if (oscar_value_get_bin(oscar_req_args(req), &p, &len) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "take wants a bin"));
	}
	return (oscar_req_reply(req, oscar_value_new_int((int64_t) len)));
}

static int peer_hit(oscar_actor_t *self, oscar_req_t *req)
{
	peer_t *p = oscar_actor_state(self);
	p->count++;
	return (0);
}

// peer.sync(expected) answers the hits seen, or fails if that is not
// expected: tells and calls travel in order on one connection, so a
// difference means tells were lost.
static int peer_sync(oscar_actor_t *self, oscar_req_t *req)
{
	peer_t *p = oscar_actor_state(self);
	int64_t expected;
	if (oscar_value_get_int(oscar_req_args(req), &expected) != 0) {
		return (OSCAR_EBADARGS);
	}
	if (p->count != expected) {
		return (oscar_req_fail(req, OSCAR_EPROTO,
		    "peer saw %" PRId64 " tells where %" PRId64 " were sent", p->count, expected));
	}
	return (oscar_req_reply(req, oscar_value_new_int(p->count)));
}

static int peer_reset(oscar_actor_t *self, oscar_req_t *req)
{
	peer_t *p = oscar_actor_state(self);
	p->count  = 0;
	return (0);
}

static const oscar_method_t peer_methods[] = {
	{ "echo", peer_echo, NULL },
	{ "take", peer_take, NULL },
	{ "hit", peer_hit, NULL },
	{ "sync", peer_sync, NULL },
	{ "reset", peer_reset, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t peer_class = {
	.name       = "peer",
	.state_size = sizeof(peer_t),
	.methods    = peer_methods,
};

// ---------------------------------------------------------------------------
// The parent's sender of tells: blaster

typedef struct blaster {
	oscar_ref_t  sink;
	oscar_req_t *req;    // the run being served, or NULL
	int64_t      n;      // tells to send
	int64_t      sent;   // tells queued for sending
	int64_t      synced; // tells covered by the syncs sent
	int64_t      acked;  // tells the sink confirmed
	int64_t      full;   // times OSCAR_EMBOXFULL made us back off
	int          syncs;  // syncs in flight
	uint64_t     deadline_ns;
} blaster_t;

static void blaster_pump(oscar_actor_t *self, blaster_t *b);

static void blaster_fail(blaster_t *b, int rv, const char *what)
{
	oscar_req_fail(b->req, rv, "%s: %s", what, oscar_strerror(rv));
	b->req = NULL;
}

static void blaster_synced(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	blaster_t *b = arg;
	int64_t    count;
	b->syncs--;
	if (b->req == NULL) {
		return;
	}
	if (res->code != 0) {
		oscar_req_fail_result(b->req, res);
		b->req = NULL;
		return;
	}
	if (oscar_value_get_int(res->value, &count) != 0) {
		blaster_fail(b, OSCAR_EPROTO, "sync answered something else than a count");
		return;
	}
	if (count > b->acked) {
		b->acked = count;
	}
	if (b->acked == b->n) {
		oscar_req_reply(b->req, oscar_value_new_int(b->full));
		b->req = NULL;
		return;
	}
	blaster_pump(self, b);
}

// blaster_pump sends tells while the window allows, and a sync every
// BLAST_CHUNK tells and after the last one. On OSCAR_EMBOXFULL (the
// connection's send queue is full) it stops: the next sync reply pumps
// again, or, when no sync is in flight, a tell to itself does, once the
// loop has had a turn.
static void blaster_pump(oscar_actor_t *self, blaster_t *b)
{
	int  rv;
	bool blocked = false;
	if (b->req == NULL) {
		return;
	}
	if (uv_hrtime() > b->deadline_ns) {
		blaster_fail(b, OSCAR_ETIMEDOUT, "tells not confirmed in time");
		return;
	}
	for (;;) {
		if (b->sent > b->synced &&
		    (b->sent - b->synced >= BLAST_CHUNK || b->sent == b->n)) {
			rv = oscar_actor_call(self, &b->sink, "sync", oscar_value_new_int(b->sent),
			    CALL_TIMEOUT, blaster_synced, b, NULL);
			if (rv == OSCAR_EMBOXFULL) {
				blocked = true;
				break;
			}
			if (rv != 0) {
				blaster_fail(b, rv, "sync");
				return;
			}
			b->synced = b->sent;
			b->syncs++;
			continue;
		}
		if (b->sent == b->n || b->sent - b->acked >= BLAST_WINDOW) {
			break;
		}
		rv = oscar_actor_tell(self, &b->sink, "hit", NULL);
		if (rv == OSCAR_EMBOXFULL) {
			blocked = true;
			break;
		}
		if (rv != 0) {
			blaster_fail(b, rv, "tell");
			return;
		}
		b->sent++;
	}
	if (blocked) {
		b->full++;
		if (b->syncs == 0 &&
		    (rv = oscar_actor_tell(self, oscar_actor_ref(self), "pump", NULL)) != 0) {
			blaster_fail(b, rv, "retry");
		}
	}
}

// blaster.run([address, uid, n]) sends n tells to uid.hit at address and
// answers how many times it had to back off, once all were confirmed.
static int blaster_run(oscar_actor_t *self, oscar_req_t *req)
{
	blaster_t  *b = oscar_actor_state(self);
	const char *addr, *uid;
	int64_t     n;
	if (b->req != NULL || oscar_value_get_str(oscar_req_arg(req, 0), &addr, NULL) != 0 ||
	    oscar_value_get_str(oscar_req_arg(req, 1), &uid, NULL) != 0 ||
	    oscar_value_get_int(oscar_req_arg(req, 2), &n) != 0 || n <= 0) {
		return (OSCAR_EBADARGS);
	}
	*b = (blaster_t) {
		.req = req, .n = n, .deadline_ns = uv_hrtime() + CALL_TIMEOUT * 1000000ull
	};
	oscar_ref_make(&b->sink, addr, uid);
	blaster_pump(self, b);
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static int blaster_pump_m(oscar_actor_t *self, oscar_req_t *req)
{
	blaster_pump(self, oscar_actor_state(self));
	return (0);
}

static const oscar_method_t blaster_methods[] = {
	{ "run", blaster_run, NULL },
	{ "pump", blaster_pump_m, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t blaster_class = {
	.name       = "blaster",
	.state_size = sizeof(blaster_t),
	.methods    = blaster_methods,
};

// ---------------------------------------------------------------------------
// The floor: plain NNG, pair1, driven by nng_aio callbacks

typedef enum nmode {
	NMODE_ECHO,   // round trips of 'E' messages
	NMODE_PIPE,   // 'E' messages, PIPE_WINDOW of them in flight
	NMODE_ONEWAY, // 'T' messages, then an 'S' for the count
	NMODE_BIG,    // one 'B' message, answered with its length
} nmode_t;

static void put_u64(nng_msg *m, uint64_t v)
{
	nng_msg_clear(m);
	nng_msg_append(m, &v, sizeof(v));
}

static uint64_t get_u64(nng_msg *m)
{
	uint64_t v = 0;
	if (nng_msg_len(m) >= sizeof(v)) {
		memcpy(&v, nng_msg_body(m), sizeof(v));
	}
	return (v);
}

// The server (in the child): 'E' comes back as it is, 'T' is counted,
// 'S' is answered with the count (which starts again), 'B' with its
// length.
typedef struct nserver {
	nng_socket sock;
	nng_aio   *rx, *tx;
	uint64_t   count;
} nserver_t;

static void nserver_rx_cb(void *arg)
{
	nserver_t *s  = arg;
	int        rv = nng_aio_result(s->rx);
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return;
	}
	if (rv != 0) {
		nng_recv_aio(s->sock, s->rx);
		return;
	}
	nng_msg *m   = nng_aio_get_msg(s->rx);
	char     tag = nng_msg_len(m) > 0 ? *(char *) nng_msg_body(m) : 0;
	switch (tag) {
	case 'E':
		break;
	case 'S':
		put_u64(m, s->count);
		s->count = 0;
		break;
	case 'B':
		put_u64(m, nng_msg_len(m));
		break;
	default: // 'T', and anything else is counted as one-way
		s->count++;
		nng_msg_free(m);
		nng_recv_aio(s->sock, s->rx);
		return;
	}
	nng_aio_set_msg(s->tx, m);
	nng_send_aio(s->sock, s->tx);
}

static void nserver_tx_cb(void *arg)
{
	nserver_t *s  = arg;
	int        rv = nng_aio_result(s->tx);
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(s->tx));
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			return;
		}
	}
	nng_recv_aio(s->sock, s->rx);
}

// The client (in the bench process).
typedef struct nclient {
	nng_socket sock;
	nng_aio   *rx, *tx;
	uv_mutex_t mu;
	uv_cond_t  cv;
	bool       done; // under mu
	int        err;  // under mu
	nmode_t    mode;
	int64_t    left;  // round trips, or one-way messages, still to go
	bool       asked; // NMODE_ONEWAY: the 'S' was sent
	uint64_t   answer;
	// NMODE_PIPE, where both callbacks may run at once: under mu.
	int64_t n, sent, got;
	bool    tx_busy;
} nclient_t;

static void nclient_finish(nclient_t *c, int err)
{
	uv_mutex_lock(&c->mu);
	c->done = true;
	c->err  = err;
	uv_cond_signal(&c->cv);
	uv_mutex_unlock(&c->mu);
}

static int nclient_send_new(nclient_t *c, char tag)
{
	nng_msg *m;
	int      rv;
	if ((rv = nng_msg_alloc(&m, FLOOR_MSG_SIZE)) != 0) {
		return (rv);
	}
	memset(nng_msg_body(m), 0, FLOOR_MSG_SIZE);
	*(char *) nng_msg_body(m) = tag;
	nng_aio_set_msg(c->tx, m);
	nng_send_aio(c->sock, c->tx);
	return (0);
}

// The pipelined floor: one send at a time on the tx aio (each send's
// callback issues the next while fewer than PIPE_WINDOW are unanswered),
// and a receive always posted; a reply that opens the window restarts the
// sends when they had stopped. Whoever claims the tx aio under mu sends,
// outside it. The run ends with the last reply and the last send's
// callback both in.
static bool npipe_claim_locked(nclient_t *c)
{
	if (c->tx_busy || c->sent >= c->n || c->sent - c->got >= PIPE_WINDOW) {
		return (false);
	}
	c->tx_busy = true;
	c->sent++;
	return (true);
}

static void npipe_send(nclient_t *c)
{
	int rv = nclient_send_new(c, 'E');
	if (rv != 0) {
		nclient_finish(c, rv);
	}
}

static void npipe_sent(nclient_t *c)
{
	uv_mutex_lock(&c->mu);
	c->tx_busy = false;
	bool done  = c->got == c->n;
	bool send  = npipe_claim_locked(c);
	uv_mutex_unlock(&c->mu);
	if (send) {
		npipe_send(c);
	}
	if (done) {
		nclient_finish(c, 0);
	}
}

static void npipe_received(nclient_t *c)
{
	uv_mutex_lock(&c->mu);
	c->got++;
	bool done = c->got == c->n && !c->tx_busy;
	bool more = c->got < c->n;
	bool send = npipe_claim_locked(c);
	uv_mutex_unlock(&c->mu);
	if (more) {
		nng_recv_aio(c->sock, c->rx);
	}
	if (send) {
		npipe_send(c);
	}
	if (done) {
		nclient_finish(c, 0);
	}
}

static void nclient_tx_cb(void *arg)
{
	nclient_t *c  = arg;
	int        rv = nng_aio_result(c->tx);
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(c->tx));
		nclient_finish(c, rv);
		return;
	}
	if (c->mode == NMODE_PIPE) {
		npipe_sent(c);
		return;
	}
	if (c->mode == NMODE_ONEWAY && !c->asked) {
		if (c->left > 0) {
			c->left--;
			rv = nclient_send_new(c, 'T');
		} else {
			c->asked = true;
			rv       = nclient_send_new(c, 'S');
		}
		if (rv != 0) {
			nclient_finish(c, rv);
		}
		return;
	}
	nng_recv_aio(c->sock, c->rx);
}

static void nclient_rx_cb(void *arg)
{
	nclient_t *c  = arg;
	int        rv = nng_aio_result(c->rx);
	if (rv != 0) {
		nclient_finish(c, rv);
		return;
	}
	nng_msg *m = nng_aio_get_msg(c->rx);
	if (c->mode == NMODE_PIPE) {
		nng_msg_free(m);
		npipe_received(c);
		return;
	}
	if (c->mode == NMODE_ECHO && --c->left > 0) {
		nng_aio_set_msg(c->tx, m);
		nng_send_aio(c->sock, c->tx);
		return;
	}
	c->answer = get_u64(m);
	nng_msg_free(m);
	nclient_finish(c, 0);
}

static void nclient_open(nclient_t *c, const char *addr)
{
	int rv;
	memset(c, 0, sizeof(*c));
	if ((rv = nng_pair1_open(&c->sock)) != 0 ||
	    (rv = nng_aio_alloc(&c->tx, nclient_tx_cb, c)) != 0 ||
	    (rv = nng_aio_alloc(&c->rx, nclient_rx_cb, c)) != 0 ||
	    (rv = nng_dial(c->sock, addr, NULL, 0)) != 0) {
		bench_fail("nng client for %s: %s", addr, nng_strerror(rv));
	}
	uv_mutex_init(&c->mu);
	uv_cond_init(&c->cv);
}

static void nclient_close(nclient_t *c)
{
	nng_close(c->sock);
	nng_aio_stop(c->tx);
	nng_aio_stop(c->rx);
	nng_aio_free(c->tx);
	nng_aio_free(c->rx);
	uv_cond_destroy(&c->cv);
	uv_mutex_destroy(&c->mu);
}

// nclient_start begins a run; big, for NMODE_BIG, is the message to send.
static void nclient_start(nclient_t *c, nmode_t mode, int64_t n, nng_msg *big)
{
	int rv   = 0;
	c->done  = false;
	c->err   = 0;
	c->mode  = mode;
	c->left  = n;
	c->asked = false;
	switch (mode) {
	case NMODE_ECHO:
		rv = nclient_send_new(c, 'E');
		break;
	case NMODE_PIPE:
		uv_mutex_lock(&c->mu);
		c->n       = n;
		c->sent    = 0;
		c->got     = 0;
		c->tx_busy = false;
		npipe_claim_locked(c);
		uv_mutex_unlock(&c->mu);
		nng_recv_aio(c->sock, c->rx);
		npipe_send(c);
		break;
	case NMODE_ONEWAY:
		c->left--;
		rv = nclient_send_new(c, 'T');
		break;
	case NMODE_BIG:
		nng_aio_set_msg(c->tx, big);
		nng_send_aio(c->sock, c->tx);
		break;
	}
	if (rv != 0) {
		bench_fail("nng client: %s", nng_strerror(rv));
	}
}

// nclient_wait waits for the run to finish, at most CALL_TIMEOUT.
static void nclient_wait(nclient_t *c, const char *what)
{
	uint64_t deadline = uv_hrtime() + CALL_TIMEOUT * 1000000ull;
	uv_mutex_lock(&c->mu);
	while (!c->done) {
		uint64_t now = uv_hrtime();
		if (now >= deadline) {
			uv_mutex_unlock(&c->mu);
			nng_aio_stop(c->tx);
			nng_aio_stop(c->rx);
			bench_fail("%s: no answer within %d ms", what, CALL_TIMEOUT);
		}
		(void) uv_cond_timedwait(&c->cv, &c->mu, deadline - now);
	}
	int err = c->err;
	uv_mutex_unlock(&c->mu);
	if (err != 0) {
		bench_fail("%s: %s", what, nng_strerror(err));
	}
}

// ---------------------------------------------------------------------------
// The child's side

// serve_wait returns when stdin reaches end of file (or fails), or after
// CHILD_LIFETIME seconds.
static void serve_wait(void)
{
	char buf[64];
	for (int i = 0; i < CHILD_LIFETIME; i++) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		int           n   = poll(&pfd, 1, 1000);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 || (n > 0 && read(0, buf, sizeof(buf)) <= 0)) {
			return;
		}
	}
}

// bench_secret gives both pools the cluster secret in OSCAR_BENCH_SECRET,
// if set, to measure what authenticating every message costs.
static void bench_secret(oscar_pool_config_t *cfg)
{
	const char *secret = getenv("OSCAR_BENCH_SECRET");
	if (secret != NULL && secret[0] != '\0') {
		cfg->secret     = secret;
		cfg->secret_len = strlen(secret);
	}
}

static int serve_oscar(const char *addr)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *pool;
	oscar_ref_t         ref;
	oscar_error_t       err;
	char                msg[512];
	int                 rv;
	oscar_pool_config_init(&cfg);
	cfg.address = addr;
	bench_secret(&cfg);
	if ((rv = oscar_pool_open(&pool, &cfg, &err)) != 0) {
		fprintf(stderr, "oscar-bench child: pool at %s: %s\n", addr, err.message);
		return (1);
	}
	if ((rv = oscar_create(pool, &peer_class, PEER_UID, NULL, 0, &ref, &err)) != 0) {
		oscar_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "oscar-bench child: %s\n", msg);
		oscar_pool_free(&pool);
		return (1);
	}
	printf("ready %s\n", oscar_pool_address(pool));
	fflush(stdout);
	serve_wait();
	oscar_pool_free(&pool);
	return (0);
}

static int serve_nng(const char *addr)
{
	nserver_t    s = { 0 };
	nng_listener l;
	int          rv, port;
	if ((rv = nng_pair1_open(&s.sock)) != 0 ||
	    (rv = nng_socket_set_size(s.sock, NNG_OPT_RECVMAXSZ, 0)) != 0 ||
	    (rv = nng_aio_alloc(&s.rx, nserver_rx_cb, &s)) != 0 ||
	    (rv = nng_aio_alloc(&s.tx, nserver_tx_cb, &s)) != 0 ||
	    (rv = nng_listen(s.sock, addr, &l, 0)) != 0) {
		fprintf(stderr, "oscar-bench child: nng at %s: %s\n", addr, nng_strerror(rv));
		return (1);
	}
	if (strncmp(addr, "tcp://", 6) == 0 &&
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0) {
		printf("ready tcp://127.0.0.1:%d\n", port);
	} else {
		printf("ready %s\n", addr);
	}
	fflush(stdout);
	nng_recv_aio(s.sock, s.rx);
	serve_wait();
	nng_close(s.sock);
	nng_aio_stop(s.rx);
	nng_aio_stop(s.tx);
	nng_aio_free(s.rx);
	nng_aio_free(s.tx);
	return (0);
}

int bench_cross_serve(int argc, char **argv)
{
	if (argc != 3 ||
	    (strcmp(argv[1], "--serve-oscar") != 0 && strcmp(argv[1], "--serve-nng") != 0)) {
		return (-1);
	}
	// Set before exec by the parent too; repeated in case this binary was
	// started some other way.
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "oscar-serve"); // rather than "exe", in ps and perf
	return (strcmp(argv[1], "--serve-oscar") == 0 ? serve_oscar(argv[2]) : serve_nng(argv[2]));
}

// ---------------------------------------------------------------------------
// The parent's side: children (child.c starts and reaps them)

// ipc_address makes a unique ipc address for this run (pid, name) and its
// socket file's path; ipc paths must fit in sun_path (108 bytes).
static void ipc_address(const char *name, char *addr, char *path)
{
	const char *dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0' || strlen(dir) > 60) {
		dir = "/tmp";
	}
	snprintf(path, OSCAR_ADDR_MAX, "%s/oscar-bench-%d-%s.ipc", dir, (int) getpid(), name);
	snprintf(addr, OSCAR_ADDR_MAX, "ipc://%s", path);
	unlink(path); // a leftover of a run with the same pid
}

// child_start starts this program as a child serving mode ("--serve-oscar"
// or "--serve-nng") at addr and waits until it is ready; c->addr receives
// the address it listens on. path, if not NULL, is its ipc socket file.
static void child_start(bench_child_t *c, const char *mode, const char *addr, const char *path)
{
	char *args[] = { "/proc/self/exe", (char *) mode, (char *) addr, NULL };
	char  line[OSCAR_ADDR_MAX + 16];
	int   rv;
	if ((rv = bench_child_start(c, mode + 2, args, path)) != 0) {
		bench_fail("cannot start a child %s %s: %s", mode, addr, strerror(rv));
	}
	if ((rv = bench_child_read_line(c, line, sizeof(line), READY_TIMEOUT)) != 0) {
		bench_fail("child %s %s did not say it was ready: %s", mode, addr,
		    rv == ETIMEDOUT ? "timed out" : "it exited");
	}
	if (strncmp(line, "ready ", 6) != 0 || strlen(line + 6) >= sizeof(c->addr)) {
		bench_fail("child %s %s said '%s'", mode, addr, line);
	}
	snprintf(c->addr, sizeof(c->addr), "%s", line + 6);
}

// ---------------------------------------------------------------------------
// The parent's side: workloads

typedef struct side {
	const char   *transport; // "ipc" or "tcp"
	oscar_pool_t *pool;      // the bench's pool, listening on this transport
	oscar_ref_t   pinger, blaster, peer;
	bench_child_t oscar_child, nng_child;
	char          own_path[OSCAR_ADDR_MAX]; // the pool's ipc socket file, or ""
	bool          has_oscar, has_nng;
	nclient_t     nng;
} side_t;

// side_open opens this process's pool on transport ("ipc" or "tcp"), with
// a pinger and a blaster, and starts the two children, an Oscar-C pool and
// an NNG echo server.
static void side_open(side_t *s, const char *transport)
{
	char                addr[OSCAR_ADDR_MAX], path[OSCAR_ADDR_MAX];
	oscar_pool_config_t cfg;
	oscar_error_t       err;
	char                msg[512];
	int                 rv;
	bool                ipc = strcmp(transport, "ipc") == 0;
	memset(s, 0, sizeof(*s));
	s->transport = transport;

	if (ipc) {
		ipc_address("bench", addr, s->own_path);
		bench_file_track(s->own_path);
	} else {
		snprintf(addr, sizeof(addr), "tcp://127.0.0.1:0");
	}
	oscar_pool_config_init(&cfg);
	cfg.address = addr;
	bench_secret(&cfg);
	if ((rv = oscar_pool_open(&s->pool, &cfg, &err)) != 0) {
		bench_fail("cannot open a pool at %s: %s", addr, err.message);
	}
	if ((rv = oscar_create(s->pool, &bench_pinger_class, NULL, NULL, 0, &s->pinger, &err)) !=
	        0 ||
	    (rv = oscar_create(s->pool, &blaster_class, NULL, NULL, 0, &s->blaster, &err)) != 0) {
		oscar_error_format(&err, msg, sizeof(msg));
		bench_fail("create: %s", msg);
	}
	if (ipc) {
		ipc_address("oscar", addr, path);
	}
	child_start(&s->oscar_child, "--serve-oscar", addr, ipc ? path : NULL);
	s->has_oscar = true;
	oscar_ref_make(&s->peer, s->oscar_child.addr, PEER_UID);
	// Warm up: both connections up, the first allocations made.
	if ((rv = oscar_call(s->pool, &s->peer, "echo", NULL, CALL_TIMEOUT, NULL, &err)) != 0) {
		oscar_error_format(&err, msg, sizeof(msg));
		bench_fail("first call to %s: %s", s->oscar_child.addr, msg);
	}

	if (ipc) {
		ipc_address("nng", addr, path);
	} else {
		snprintf(addr, sizeof(addr), "tcp://127.0.0.1:0");
	}
	child_start(&s->nng_child, "--serve-nng", addr, ipc ? path : NULL);
	s->has_nng = true;
	nclient_open(&s->nng, s->nng_child.addr);
	nclient_start(&s->nng, NMODE_ECHO, 100, NULL);
	nclient_wait(&s->nng, "nng warm-up");
}

static void side_close(side_t *s)
{
	if (s->has_nng) {
		nclient_close(&s->nng);
		bench_child_reap(&s->nng_child);
	}
	if (s->has_oscar) {
		oscar_pool_free(&s->pool);
		bench_child_reap(&s->oscar_child);
		if (s->own_path[0] != '\0') {
			bench_file_untrack(s->own_path);
			s->own_path[0] = '\0';
		}
	}
}

static void call_or_fail(side_t *s, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    oscar_value_t **reply)
{
	oscar_error_t err;
	char          msg[512];
	int           rv = oscar_call(s->pool, ref, method, args, CALL_TIMEOUT, reply, &err);
	if (rv != 0) {
		oscar_error_format(&err, msg, sizeof(msg));
		bench_fail("%s %s.%s: %s", s->transport, ref->uid, method, msg);
	}
}

// oscar_rtt returns microseconds per round trip of n calls to the child.
static double oscar_rtt(side_t *s, int64_t n)
{
	oscar_value_t *args = oscar_value_new_array(3);
	oscar_value_array_push(args, oscar_value_new_str(PEER_UID));
	oscar_value_array_push(args, oscar_value_new_int(n));
	oscar_value_array_push(args, oscar_value_new_str(s->oscar_child.addr));
	double t0 = bench_now();
	call_or_fail(s, &s->pinger, "run", args, NULL);
	return ((bench_now() - t0) / (double) n * 1e6);
}

static double nng_rtt(side_t *s, int64_t n)
{
	double t0 = bench_now();
	nclient_start(&s->nng, NMODE_ECHO, n, NULL);
	nclient_wait(&s->nng, "nng echo");
	return ((bench_now() - t0) / (double) n * 1e6);
}

// oscar_pipelined returns thousands of calls per second for n calls to the
// child, PIPE_WINDOW of them in flight.
static double oscar_pipelined(side_t *s, int64_t n)
{
	oscar_value_t *args = oscar_value_new_array(4);
	oscar_value_array_push(args, oscar_value_new_str(PEER_UID));
	oscar_value_array_push(args, oscar_value_new_int(n));
	oscar_value_array_push(args, oscar_value_new_str(s->oscar_child.addr));
	oscar_value_array_push(args, oscar_value_new_int(PIPE_WINDOW));
	double t0 = bench_now();
	call_or_fail(s, &s->pinger, "run", args, NULL);
	return ((double) n / (bench_now() - t0) / 1e3);
}

static double nng_pipelined(side_t *s, int64_t n)
{
	double t0 = bench_now();
	nclient_start(&s->nng, NMODE_PIPE, n, NULL);
	nclient_wait(&s->nng, "nng pipelined echo");
	return ((double) n / (bench_now() - t0) / 1e3);
}

// oscar_tells returns millions of tells per second, n confirmed by the child.
static double oscar_tells(side_t *s, int64_t n, int64_t *backoffs)
{
	oscar_value_t *reply = NULL;
	oscar_value_t *args  = oscar_value_new_array(3);
	int64_t        full  = 0;
	call_or_fail(s, &s->peer, "reset", NULL, NULL);
	oscar_value_array_push(args, oscar_value_new_str(s->oscar_child.addr));
	oscar_value_array_push(args, oscar_value_new_str(PEER_UID));
	oscar_value_array_push(args, oscar_value_new_int(n));
	double t0 = bench_now();
	call_or_fail(s, &s->blaster, "run", args, &reply);
	double dt = bench_now() - t0;
	oscar_value_get_int(reply, &full);
	oscar_value_free(reply);
	*backoffs += full;
	return ((double) n / dt / 1e6);
}

static double nng_tells(side_t *s, int64_t n)
{
	double t0 = bench_now();
	nclient_start(&s->nng, NMODE_ONEWAY, n, NULL);
	nclient_wait(&s->nng, "nng one-way");
	double dt = bench_now() - t0;
	if (s->nng.answer != (uint64_t) n) {
		bench_fail(
		    "nng one-way: the server counted %" PRIu64 " of %" PRId64, s->nng.answer, n);
	}
	return ((double) n / dt / 1e6);
}

// oscar_big returns GB/s for n calls carrying one 64 MiB bin each.
static double oscar_big(side_t *s, int n, const char *src)
{
	double total = 0;
	for (int i = 0; i < n; i++) {
		oscar_value_t *reply = NULL;
		int64_t        len   = 0;
		oscar_value_t *bin   = oscar_value_new_bin(src, BIG_SIZE);
		if (bin == NULL) {
			bench_die("64 MiB bin", OSCAR_ENOMEM);
		}
		double t0 = bench_now();
		call_or_fail(s, &s->peer, "take", bin, &reply);
		total += bench_now() - t0;
		if (oscar_value_get_int(reply, &len) != 0 || (size_t) len != BIG_SIZE) {
			bench_fail("peer.take answered the wrong length");
		}
		oscar_value_free(reply);
	}
	return ((double) BIG_SIZE * n / total / 1e9);
}

static double nng_big(side_t *s, int n, const char *src)
{
	double total = 0;
	for (int i = 0; i < n; i++) {
		nng_msg *m;
		double   t0 = bench_now();
		if (nng_msg_alloc(&m, BIG_SIZE) != 0) {
			bench_die("64 MiB nng message", OSCAR_ENOMEM);
		}
		memcpy(nng_msg_body(m), src, BIG_SIZE);
		*(char *) nng_msg_body(m) = 'B';
		nclient_start(&s->nng, NMODE_BIG, 1, m);
		nclient_wait(&s->nng, "nng 64 MiB");
		total += bench_now() - t0;
		if (s->nng.answer != BIG_SIZE) {
			bench_fail(
			    "nng 64 MiB: the server counted %" PRIu64 " bytes", s->nng.answer);
		}
	}
	return ((double) BIG_SIZE * n / total / 1e9);
}

// memcpy_rate returns GB/s for n copies of 64 MiB between buffers already
// in memory: the ceiling for moving the bytes at all.
static double memcpy_rate(int n, char *dst, const char *src)
{
	double total = 0;
	for (int i = 0; i < n; i++) {
		double t0 = bench_now();
		memcpy(dst, src, BIG_SIZE);
		total += bench_now() - t0;
		// Keep the copy observable.
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	return ((double) BIG_SIZE * n / total / 1e9);
}

// usage_t is what the processes of a workload spent: context switches,
// CPU seconds (user and system), over all their threads, and minor page
// faults (a fresh page touched for the first time).
typedef struct usage {
	double switches;
	double cpu;
	double faults;
} usage_t;

// usage_add adds what process pid has spent so far (Linux: /proc/PID/stat
// and /proc/PID/task/*/status); it adds nothing it cannot read.
static void usage_add(usage_t *u, pid_t pid)
{
	char           dir[64], path[128], line[512];
	DIR           *d;
	struct dirent *e;
	FILE          *f;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) != NULL) {
		unsigned long long minflt, ut, st;
		char              *p;
		if (fgets(line, sizeof(line), f) != NULL && (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %*u %*u %llu %llu", &minflt,
		        &ut, &st) == 3) {
			u->faults += (double) minflt;
			u->cpu += (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
		}
		fclose(f);
	}
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int) pid);
	if ((d = opendir(dir)) == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		if ((f = fopen(path, "r")) == NULL) {
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long long n;
			if (sscanf(line, "voluntary_ctxt_switches: %llu", &n) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &n) == 1) {
				u->switches += (double) n;
			}
		}
		fclose(f);
	}
	closedir(d);
}

// usage_now returns what this process and child c have spent so far.
static usage_t usage_now(const bench_child_t *c)
{
	usage_t u = { 0, 0, 0 };
	usage_add(&u, getpid());
	usage_add(&u, c->pid);
	return (u);
}

// usage_per_op returns what this process and child c spent since start,
// per operation (n of them), with the CPU time in microseconds.
static usage_t usage_per_op(const bench_child_t *c, usage_t start, double n)
{
	usage_t u = usage_now(c);
	return ((usage_t) { .switches = (u.switches - start.switches) / n,
	    .cpu                      = (u.cpu - start.cpu) / n * 1e6,
	    .faults                   = (u.faults - start.faults) / n });
}

// The workloads of each transport, in the order of bench_cross_names.
enum { W_RTT, W_PIPE, W_TELL, W_BIG, NW };

static const char *const floor_names[2][NW] = {
	{ "nng pair1 echo, ipc", "nng 1000 in flight, ipc", "nng pair1 one-way, ipc",
	    "nng pair1 64 MiB, ipc" },
	{ "nng pair1 echo, tcp", "nng 1000 in flight, tcp", "nng pair1 one-way, tcp",
	    "nng pair1 64 MiB, tcp" },
};

// counts_t holds a run's counts for the cross-process workloads.
typedef struct counts {
	int64_t rtt, pipe, tell;
	int     big;
} counts_t;

// samples_t holds one workload's rounds: Oscar-C (v), the NNG floor (f),
// another baseline (b, memcpy), and what Oscar-C and the floor spent per
// operation (vu, fu).
typedef struct samples {
	double  v[100], f[100], b[100];
	usage_t vu[100], fu[100];
} samples_t;

// run_round runs workload w of side s once, Oscar-C then the floor, and,
// over tcp, the peers.
static void run_round(const bench_opts_t *o, side_t *s, int w, const counts_t *n, int r,
    samples_t *x, int64_t *backoffs, char *src, char *dst)
{
	bool    tcp = strcmp(s->transport, "tcp") == 0;
	usage_t u0  = usage_now(&s->oscar_child);
	double  ops = 0;
	switch (w) {
	case W_RTT:
		x->v[r] = oscar_rtt(s, n->rtt);
		ops     = (double) n->rtt;
		break;
	case W_PIPE:
		x->v[r] = oscar_pipelined(s, n->pipe);
		ops     = (double) n->pipe;
		break;
	case W_TELL:
		x->v[r] = oscar_tells(s, n->tell, backoffs);
		ops     = (double) n->tell;
		break;
	case W_BIG:
		x->v[r] = oscar_big(s, n->big, src);
		ops     = n->big;
		break;
	}
	x->vu[r] = usage_per_op(&s->oscar_child, u0, ops);
	u0       = usage_now(&s->nng_child);
	switch (w) {
	case W_RTT:
		x->f[r] = nng_rtt(s, n->rtt);
		break;
	case W_PIPE:
		x->f[r] = nng_pipelined(s, n->pipe);
		break;
	case W_TELL:
		x->f[r] = nng_tells(s, n->tell);
		break;
	case W_BIG:
		x->f[r] = nng_big(s, n->big, src);
		x->b[r] = memcpy_rate(n->big, dst, src);
		break;
	}
	x->fu[r] = usage_per_op(&s->nng_child, u0, ops);
	// The peers have no ipc transport and no one-way workload across
	// processes: they run beside the tcp rows of the others.
	if (tcp && w == W_RTT) {
		bench_peers_run(o->peers, "tcp-rtt", n->rtt);
	} else if (tcp && w == W_PIPE) {
		bench_peers_run(o->peers, "tcp-pipe", n->pipe);
	} else if (tcp && w == W_BIG) {
		bench_peers_run(o->peers, "tcp-bin64m", n->big);
	}
}

// fill_row makes the row of workload w over transport t from its rounds.
static void fill_row(bench_row_t *row, int t, int w, samples_t *x, int rounds, int64_t backoffs)
{
	double sw[100], fsw[100], cpu[100], fcpu[100], flt[100], fflt[100], ratio[100];
	double fl = bench_median(x->f, rounds);
	memset(row, 0, sizeof(*row));
	row->name       = bench_cross_names[w * 2 + t];
	row->value      = bench_median(x->v, rounds);
	row->floor      = fl;
	row->floor_name = floor_names[t][w];
	for (int r = 0; r < rounds; r++) {
		sw[r]   = x->vu[r].switches;
		fsw[r]  = x->fu[r].switches;
		cpu[r]  = x->vu[r].cpu;
		fcpu[r] = x->fu[r].cpu;
		flt[r]  = x->vu[r].faults;
		fflt[r] = x->fu[r].faults;
		// Time per operation over the floor's: rates invert.
		ratio[r] = w == W_RTT ? x->v[r] / x->f[r] : x->f[r] / x->v[r];
	}
	row->cost           = bench_median(ratio, rounds); // sorts ratio
	row->cost_min       = ratio[0];
	row->cost_max       = ratio[rounds - 1];
	row->switches       = bench_median(sw, rounds);
	row->floor_switches = bench_median(fsw, rounds);
	row->cpu_us         = bench_median(cpu, rounds);
	row->floor_cpu_us   = bench_median(fcpu, rounds);
	row->faults         = bench_median(flt, rounds);
	row->floor_faults   = bench_median(fflt, rounds);
	row->baseline_name  = floor_names[t][w];
	row->baseline       = fl;
	switch (w) {
	case W_RTT:
		row->unit   = "us";
		row->target = 1.2 * fl; // within 1.2x of the floor
		break;
	case W_PIPE:
		row->unit             = "k/s";
		row->higher_is_better = true;
		row->target           = 100.0;
		break;
	case W_TELL:
		row->unit             = "M/s";
		row->higher_is_better = true;
		row->target           = 0.5;
		row->backoffs         = backoffs;
		break;
	case W_BIG:
		row->unit             = "GB/s";
		row->baseline_name    = "memcpy 64 MiB";
		row->baseline         = bench_median(x->b, rounds);
		row->higher_is_better = true;
		row->target           = 2.0;
		break;
	}
}

size_t bench_cross_run(const bench_opts_t *o, bench_row_t *rows, size_t max)
{
	static const char *transports[2] = { "ipc", "tcp" };
	static samples_t   x[2][NW];
	counts_t           n = {
		          .rtt  = o->quick ? 5000 : 10000,
		          .pipe = o->quick ? 30000 : 100000,
		          .tell = o->quick ? 200000 : 500000,
		          .big  = o->quick ? 2 : 5,
	};
	size_t  nrows = 0;
	bool    want[2][NW], open[2] = { false, false }, any = false, big = false;
	int64_t backoffs[2] = { 0, 0 };
	side_t  side[2];
	char   *src = NULL, *dst = NULL;

	for (int t = 0; t < 2; t++) {
		for (int w = 0; w < NW; w++) {
			want[t][w] = bench_want(o->only, bench_cross_names[w * 2 + t]);
			open[t]    = open[t] || want[t][w];
			big        = big || (want[t][w] && w == W_BIG);
		}
		any = any || open[t];
	}
	if (!any) {
		return (0);
	}
	for (int t = 0; t < 2; t++) {
		if (open[t]) {
			side_open(&side[t], transports[t]);
		}
	}
	if (big) {
		if ((src = malloc(BIG_SIZE)) == NULL || (dst = malloc(BIG_SIZE)) == NULL) {
			bench_die("64 MiB buffers", OSCAR_ENOMEM);
		}
		memset(src, 'x', BIG_SIZE);
		memset(dst, 0, BIG_SIZE);
	}
	for (int r = 0; r < o->rounds; r++) {
		for (int t = 0; t < 2; t++) {
			for (int w = 0; w < NW; w++) {
				if (want[t][w]) {
					run_round(o, &side[t], w, &n, r, &x[t][w], &backoffs[t],
					    src, dst);
				}
			}
		}
	}
	for (int t = 0; t < 2; t++) {
		if (open[t]) {
			side_close(&side[t]);
		}
	}
	free(src);
	free(dst);
	for (int t = 0; t < 2; t++) {
		for (int w = 0; w < NW && nrows < max; w++) {
			if (want[t][w]) {
				fill_row(&rows[nrows++], t, w, &x[t][w], o->rounds, backoffs[t]);
			}
		}
	}
	return (nrows);
}
