// The stream link alone (actors/stream.h): two links on one loop, over
// tcp and ipc; garbage, oversize, a peer gone and back, many messages, a
// large message, a burst answered while it arrives, a full send queue,
// the bound on accepted connections, and ipc socket files left behind;
// host names dialed without stopping the loop, alone and through pools.
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "actors/stream.h"
#include "oscar/actor.h"
#include "oscar/error.h"

// What one link saw.
typedef struct seen {
	int      ups, downs;
	int64_t  pid;
	uint64_t msgs, bytes, owned;
	uint64_t next;  // the next sequence number expected (many)
	bool     order; // every sequence number came in order
	char    *large; // the last owned body
	size_t   large_len;
	char     last[64];
} seen_t;

static uv_loop_t loop;
static seen_t    sa, sb;

static void up_cb(osc_stream_conn_t *c, int64_t pid)
{
	seen_t *s = osc_stream_arg(osc_stream_conn_link(c));
	s->ups++;
	s->pid = pid;
}

static void down_cb(osc_stream_conn_t *c)
{
	seen_t *s = osc_stream_arg(osc_stream_conn_link(c));
	if (osc_stream_conn_dialed(c)) {
		s->downs++;
	}
}

// answer_first: a answers the first message it gets with "answer";
// answered_at: how many messages a had got when b got that answer.
static bool     answer_first;
static uint64_t answered_at;

static void recv_cb(osc_stream_conn_t *c, char *data, size_t len, bool owned)
{
	seen_t *s = osc_stream_arg(osc_stream_conn_link(c));
	s->msgs++;
	if (answer_first && s == &sa && s->msgs == 1) {
		int   code = 0;
		char *p    = osc_stream_reserve(c, 6, &code);
		cr_assert_not_null(p, "reserve: %d", code);
		memcpy(p, "answer", 6);
	}
	if (answer_first && s == &sb && len == 6 && memcmp(data, "answer", 6) == 0) {
		answered_at = sa.msgs;
	}
	s->bytes += len;
	if (len == sizeof(uint64_t)) {
		uint64_t v;
		memcpy(&v, data, sizeof(v));
		if (v != s->next) {
			s->order = false;
		}
		s->next = v + 1;
	}
	if (len < sizeof(s->last)) {
		memcpy(s->last, data, len);
		s->last[len] = '\0';
	}
	if (owned) {
		s->owned++;
		data[len] = '\0'; // the byte past the body is the receiver's
		free(s->large);
		s->large     = data;
		s->large_len = len;
	}
}

// What the failed callback said, for the last connection that failed.
static osc_stream_conn_t *failed_conn;
static int                failed_code;
static char               failed_msg[512];

static void failed_cb(osc_stream_conn_t *c, int code, const char *msg)
{
	failed_conn = c;
	failed_code = code;
	snprintf(failed_msg, sizeof(failed_msg), "%s", msg);
}

static const osc_stream_cbs_t cbs = { up_cb, down_cb, recv_cb, failed_cb };

static osc_stream_config_t config(void)
{
	osc_stream_config_t cfg = {
		.max_message   = (size_t) 64 << 20,
		.recv_budget   = (size_t) 256 << 20,
		.sendbuf       = (size_t) 128 << 20,
		.max_conns     = 16,
		.redial_min_ms = 5,
		.redial_max_ms = 50,
	};
	return (cfg);
}

static void setup(void)
{
	// As on a pool's thread: a write to a closed connection is EPIPE.
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	cr_assert_eq(uv_loop_init(&loop), 0);
	memset(&sa, 0, sizeof(sa));
	memset(&sb, 0, sizeof(sb));
	sa.order = sb.order = true;
	answer_first        = false;
	answered_at         = 0;
	failed_conn         = NULL;
	failed_code         = 0;
	failed_msg[0]       = '\0';
}

static void walk_cb(uv_handle_t *h, void *arg)
{
	(void) arg;
	cr_log_error("handle of type %d left open", (int) h->type);
}

static void teardown(void)
{
	// Closing never waits: one more turn frees everything.
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_walk(&loop, walk_cb, NULL);
	cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
	free(sa.large);
	free(sb.large);
}

TestSuite(stream, .init = setup, .fini = teardown, .timeout = 60);

static void deadline_cb(uv_timer_t *t)
{
	*(bool *) t->data = true;
}

// run_until turns the loop until *cond is true, for 10 s at most.
#define run_until(cond)                                        \
	do {                                                   \
		uv_timer_t t_;                                 \
		bool       late_ = false;                      \
		uv_timer_init(&loop, &t_);                     \
		t_.data = &late_;                              \
		uv_timer_start(&t_, deadline_cb, 10000, 0);    \
		while (!(cond) && !late_) {                    \
			uv_run(&loop, UV_RUN_ONCE);            \
		}                                              \
		uv_close((uv_handle_t *) &t_, NULL);           \
		uv_run(&loop, UV_RUN_NOWAIT);                  \
		cr_assert(cond, "not within 10 s: %s", #cond); \
	} while (0)

static osc_stream_t *link_at(
    seen_t *s, const char *url, char *bound, size_t size, const osc_stream_config_t *cfg)
{
	osc_stream_config_t def = config();
	osc_stream_t       *l   = osc_stream_new(&loop, cfg != NULL ? cfg : &def, &cbs, s);
	char                msg[256];
	int                 port = 0;
	cr_assert_not_null(l);
	if (url != NULL) {
		cr_assert_eq(osc_stream_listen(l, url, &port, msg, sizeof(msg)), 0, "%s", msg);
		if (strncmp(url, "tcp", 3) == 0) {
			cr_assert_gt(port, 0);
			snprintf(bound, size, "tcp://127.0.0.1:%d", port);
		} else {
			snprintf(bound, size, "%s", url);
		}
	}
	return (l);
}

static osc_stream_conn_t *dial(osc_stream_t *l, const char *url)
{
	char               msg[256];
	int                code = 0;
	osc_stream_conn_t *c    = osc_stream_dial(l, url, NULL, &code, msg, sizeof(msg));
	cr_assert_not_null(c, "%s", msg);
	return (c);
}

static void send_str(osc_stream_conn_t *c, const char *s)
{
	int   code = 0;
	char *p    = osc_stream_reserve(c, strlen(s), &code);
	cr_assert_not_null(p, "reserve: %d", code);
	memcpy(p, s, strlen(s));
}

static void ipc_url(char *buf, size_t size, const char *tag)
{
	snprintf(buf, size, "ipc:///tmp/oscar-test-stream-%d-%s.sock", (int) getpid(), tag);
	unlink(buf + 6);
}

static void both_ways(const char *url)
{
	char          at_a[128], at_b[128];
	osc_stream_t *a = link_at(&sa, url, at_a, sizeof(at_a), NULL);
	char          url_b[128];
	if (strncmp(url, "ipc", 3) == 0) {
		ipc_url(url_b, sizeof(url_b), "b");
	} else {
		snprintf(url_b, sizeof(url_b), "%s", url);
	}
	osc_stream_t      *b  = link_at(&sb, url_b, at_b, sizeof(at_b), NULL);
	osc_stream_conn_t *ab = dial(a, at_b);
	osc_stream_conn_t *ba = dial(b, at_a);
	send_str(ab, "hello b"); // queued before the connection is up
	send_str(ba, "hello a");
	run_until(sa.msgs == 1 && sb.msgs == 1);
	cr_assert_str_eq(sa.last, "hello a");
	cr_assert_str_eq(sb.last, "hello b");
	cr_assert_eq(sa.ups, 1);
	cr_assert_eq(sb.ups, 1);
	if (strncmp(url, "ipc", 3) == 0) {
		cr_assert_eq(sa.pid, (int64_t) getpid(), "SO_PEERCRED gives the peer's pid");
	} else {
		cr_assert_eq(sa.pid, 0);
	}
	osc_stream_stats_t st;
	osc_stream_stats(a, &st);
	cr_assert_eq(st.conns, 1);
	cr_assert_eq(st.bad + st.refused + st.turned, 0);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, tcp_both_ways)
{
	both_ways("tcp://127.0.0.1:0");
}

Test(stream, ipc_both_ways)
{
	char url[128];
	ipc_url(url, sizeof(url), "a");
	both_ways(url);
	cr_assert_eq(access(url + 6, F_OK), -1, "the socket file goes with the link");
}

// raw_connect connects a plain blocking socket to a tcp link's port.
static int raw_connect(const char *at)
{
	struct sockaddr_in sin;
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family      = AF_INET;
	sin.sin_port        = htons((uint16_t) atoi(strrchr(at, ':') + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0, "%s", strerror(errno));
	return (fd);
}

Test(stream, garbage_closes_that_connection_only)
{
	char          at_a[128];
	osc_stream_t *a      = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t *b      = link_at(&sb, NULL, NULL, 0, NULL);
	int           fd     = raw_connect(at_a);
	const char    junk[] = "GET / HTTP/1.0\r\n\r\n";
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t) sizeof(junk));
	osc_stream_stats_t st;
	run_until((osc_stream_stats(a, &st), st.bad == 1));
	// The link closed that connection: the raw socket reads its end.
	char c;
	cr_assert_eq(read(fd, &c, 1), 0);
	close(fd);
	cr_assert_eq(sa.msgs, 0);
	// Others still get through.
	osc_stream_conn_t *ba = dial(b, at_a);
	send_str(ba, "after");
	run_until(sa.msgs == 1);
	cr_assert_str_eq(sa.last, "after");
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, oversize_is_refused_and_counted)
{
	osc_stream_config_t small = config();
	small.max_message         = 1000;
	char               at_a[128];
	osc_stream_t      *a    = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), &small);
	osc_stream_t      *b    = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba   = dial(b, at_a);
	int                code = 0;
	char              *p    = osc_stream_reserve(ba, 5000, &code);
	cr_assert_not_null(p);
	memset(p, 'x', 5000);
	osc_stream_stats_t st;
	run_until((osc_stream_stats(a, &st), st.refused == 1) && sb.downs >= 1);
	cr_assert_eq(sa.msgs, 0);
	// The sender's own bound refuses at once.
	small.max_message = 1000;
	cr_assert_null(osc_stream_reserve(ba, (size_t) 65 << 20, &code));
	cr_assert_eq(code, OSCAR_ETOOLARGE);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, header_claiming_much_reserves_little)
{
	// A header announcing 60 MiB, then silence: the receiver holds what
	// arrived (within its first block), not what was announced.
	char          at_a[128];
	osc_stream_t *a  = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	int           fd = raw_connect(at_a);
	unsigned char h[OSC_STREAM_HEADER + 100] = { 'O', 'S', 'C', 'L', OSC_STREAM_VERSION };
	uint64_t      len                        = (uint64_t) 60 << 20;
	for (int i = 0; i < 8; i++) {
		h[8 + i] = (unsigned char) (len >> (8 * i));
	}
	cr_assert_eq(write(fd, h, sizeof(h)), (ssize_t) sizeof(h));
	osc_stream_stats_t st;
	run_until((osc_stream_stats(a, &st), st.receiving > 0));
	cr_assert_leq(st.receiving, (size_t) 1 << 20);
	close(fd);
	run_until((osc_stream_stats(a, &st), st.receiving == 0 && st.conns == 0));
	osc_stream_close(a);
}

Test(stream, budget_refuses)
{
	osc_stream_config_t tight = config();
	tight.recv_budget         = (size_t) 2 << 20;
	char               at_a[128];
	osc_stream_t      *a    = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), &tight);
	osc_stream_t      *b    = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba   = dial(b, at_a);
	int                code = 0;
	char              *p    = osc_stream_reserve(ba, (size_t) 8 << 20, &code);
	cr_assert_not_null(p);
	memset(p, 'y', (size_t) 8 << 20);
	osc_stream_stats_t st;
	run_until((osc_stream_stats(a, &st), st.refused == 1));
	run_until((osc_stream_stats(a, &st), st.receiving == 0));
	cr_assert_eq(sa.msgs, 0);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, peer_gone_and_back)
{
	char               at_a[128];
	osc_stream_t      *a  = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t      *b  = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba = dial(b, at_a);
	send_str(ba, "one");
	run_until(sa.msgs == 1 && sb.ups == 1);
	osc_stream_close(a);
	run_until(sb.downs == 1);
	// Whatever listens there next is redialled (same port, our own
	// listener's, free again).
	memset(&sa, 0, sizeof(sa));
	sa.order = true;
	char          again[128];
	osc_stream_t *a2 = link_at(&sa, at_a, again, sizeof(again), NULL);
	send_str(ba, "two");
	run_until(sa.msgs == 1 && sb.ups == 2);
	cr_assert_str_eq(sa.last, "two");
	osc_stream_close(a2);
	osc_stream_close(b);
}

Test(stream, unreachable_redials_then_closes)
{
	char at[128];
	ipc_url(at, sizeof(at), "none");
	osc_stream_t      *b  = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba = dial(b, at);
	send_str(ba, "waits");
	// Nobody there: it redials; then someone listens and gets it.
	uv_timer_t t;
	bool       late = false;
	uv_timer_init(&loop, &t);
	t.data = &late;
	uv_timer_start(&t, deadline_cb, 30, 0);
	run_until(late);
	uv_close((uv_handle_t *) &t, NULL);
	cr_assert_eq(sb.ups, 0);
	char          bound[128];
	osc_stream_t *a = link_at(&sa, at, bound, sizeof(bound), NULL);
	run_until(sa.msgs == 1);
	cr_assert_str_eq(sa.last, "waits");
	osc_stream_conn_close(ba);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, many_messages_in_order)
{
	char               at_a[128];
	osc_stream_t      *a  = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t      *b  = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba = dial(b, at_a);
	const uint64_t     n  = 200000;
	for (uint64_t i = 0; i < n; i++) {
		int   code = 0;
		char *p    = osc_stream_reserve(ba, sizeof(i), &code);
		cr_assert_not_null(p, "%d at %lu", code, (unsigned long) i);
		memcpy(p, &i, sizeof(i));
		if (i % 5000 == 4999) {
			uv_run(&loop, UV_RUN_NOWAIT);
		}
	}
	run_until(sa.msgs == n);
	cr_assert(sa.order);
	cr_assert_eq(sa.next, n);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, a_burst_is_answered_while_it_arrives)
{
	// 4 MiB of small messages queued in one turn: the receiver reads
	// them a slice per loop turn, and the answer to the first leaves
	// (and arrives) long before the last is read.
	char               at_a[128];
	osc_stream_t      *a  = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t      *b  = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba = dial(b, at_a);
	const uint64_t     n  = 40000;
	send_str(ba, "first");
	run_until(sa.msgs == 1 && sb.ups == 1);
	sa.msgs      = 0;
	answer_first = true;
	for (uint64_t i = 0; i < n; i++) {
		int   code = 0;
		char *p    = osc_stream_reserve(ba, 100, &code);
		cr_assert_not_null(p, "%d at %lu", code, (unsigned long) i);
		memset(p, 'm', 100);
	}
	run_until(sa.msgs == n && sb.msgs == 1);
	cr_assert_gt(answered_at, 0);
	cr_assert_lt(answered_at, n / 4, "the answer came after %lu of %lu messages",
	    (unsigned long) answered_at, (unsigned long) n);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, large_message_taken_whole)
{
	char               at_a[128];
	osc_stream_t      *a    = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t      *b    = link_at(&sb, NULL, NULL, 0, NULL);
	osc_stream_conn_t *ba   = dial(b, at_a);
	size_t             n    = ((size_t) 24 << 20) + 3;
	int                code = 0;
	unsigned char     *p    = osc_stream_reserve(ba, n, &code);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i] = (unsigned char) (i * 7);
	}
	send_str(ba, "small after");
	run_until(sa.msgs == 2);
	cr_assert_eq(sa.owned, 1);
	cr_assert_eq(sa.large_len, n);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char) sa.large[i] != (unsigned char) (i * 7)) {
			cr_assert_fail("byte %zu differs", i);
		}
	}
	cr_assert_str_eq(sa.last, "small after");
	osc_stream_stats_t st;
	osc_stream_stats(a, &st);
	cr_assert_eq(st.receiving, 0);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, full_queue_is_emboxfull)
{
	osc_stream_config_t cfg = config();
	cfg.sendbuf             = 10000;
	char          at[128];
	osc_stream_t *b = link_at(&sb, NULL, NULL, 0, &cfg);
	ipc_url(at, sizeof(at), "nobody");
	osc_stream_conn_t *ba   = dial(b, at); // never up: everything stays queued
	int                code = 0;
	cr_assert_not_null(osc_stream_reserve(ba, 20000, &code), "one message past the bound");
	cr_assert_null(osc_stream_reserve(ba, 1, &code));
	cr_assert_eq(code, OSCAR_EMBOXFULL);
	osc_stream_close(b);
}

Test(stream, accepted_connections_are_bounded)
{
	osc_stream_config_t cfg = config();
	cfg.max_conns           = 2;
	char          at_a[128];
	osc_stream_t *a = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), &cfg);
	int           fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = raw_connect(at_a);
	}
	osc_stream_stats_t st;
	run_until((osc_stream_stats(a, &st), st.turned == 1 && st.conns == 2));
	for (int i = 0; i < 3; i++) {
		close(fds[i]);
	}
	run_until((osc_stream_stats(a, &st), st.conns == 0));
	osc_stream_close(a);
}

Test(stream, ipc_stale_file_replaced_live_one_refused)
{
	char url[128];
	ipc_url(url, sizeof(url), "stale");
	// A socket file whose listener is gone.
	struct sockaddr_un sun;
	int                fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", url + 6);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	close(fd);
	cr_assert_eq(access(url + 6, F_OK), 0);
	char          bound[128];
	osc_stream_t *a = link_at(&sa, url, bound, sizeof(bound), NULL);
	// A live one is refused, and left alone.
	osc_stream_t *b = link_at(&sb, NULL, NULL, 0, NULL);
	char          msg[256];
	cr_assert_eq(osc_stream_listen(b, url, NULL, msg, sizeof(msg)), OSCAR_EADDRINUSE);
	cr_assert(strstr(msg, "Address in use") != NULL, "%s", msg);
	osc_stream_conn_t *ba = dial(b, url);
	send_str(ba, "still a's");
	run_until(sa.msgs == 1);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, bad_addresses)
{
	osc_stream_t *b = link_at(&sb, NULL, NULL, 0, NULL);
	char          msg[256];
	int           code = 0;
	cr_assert_null(osc_stream_dial(b, "tcp://127.0.0.1", NULL, &code, msg, sizeof(msg)));
	cr_assert_eq(code, OSCAR_EADDRINVAL);
	cr_assert_null(osc_stream_dial(b, "tcp://:5", NULL, &code, msg, sizeof(msg)));
	cr_assert_eq(code, OSCAR_EADDRINVAL);
	cr_assert_null(osc_stream_dial(b, "ipc://", NULL, &code, msg, sizeof(msg)));
	cr_assert_eq(code, OSCAR_EADDRINVAL);
	cr_assert_eq(
	    osc_stream_listen(b, "tcp://127.0.0.1:x", NULL, msg, sizeof(msg)), OSCAR_EADDRINVAL);
	cr_assert_eq(osc_stream_listen(b, "ipc:///nonexistent-dir/x.sock", NULL, msg, sizeof(msg)),
	    OSCAR_EADDRINVAL, "%s", msg);
	cr_assert(osc_stream_handles("tcp://a:1") && osc_stream_handles("ipc:///x"));
	cr_assert(!osc_stream_handles("tls+tcp://a:1") && !osc_stream_handles("inproc://x"));
	osc_stream_close(b);
}

// Dialing a host name. The name is looked up on libuv's thread pool; to
// see that the loop goes on meanwhile, the tests below first fill every
// thread of that pool with work that waits until they let it go, so that
// the lookup waits in the pool's queue as long as they like.

#define THREADS 4

typedef struct blocker {
	uv_work_t work;
	uv_sem_t *started, *release;
	bool      done;
} blocker_t;

static void block_work(uv_work_t *w)
{
	blocker_t *b = w->data;
	uv_sem_post(b->started);
	uv_sem_wait(b->release);
}

static void block_after(uv_work_t *w, int status)
{
	(void) status;
	((blocker_t *) w->data)->done = true;
}

typedef struct pool_block {
	blocker_t b[THREADS];
	uv_sem_t  started, release;
	bool      released;
} pool_block_t;

// pool_block occupies every thread of libuv's pool.
static void pool_block(pool_block_t *pb)
{
	char n[8];
	snprintf(n, sizeof(n), "%d", THREADS);
	// Read once, at the pool's first use, which is below.
	cr_assert_eq(setenv("UV_THREADPOOL_SIZE", n, 1), 0);
	cr_assert_eq(uv_sem_init(&pb->started, 0), 0);
	cr_assert_eq(uv_sem_init(&pb->release, 0), 0);
	pb->released = false;
	for (int i = 0; i < THREADS; i++) {
		pb->b[i] = (blocker_t) { .started = &pb->started, .release = &pb->release };
		pb->b[i].work.data = &pb->b[i];
		cr_assert_eq(uv_queue_work(&loop, &pb->b[i].work, block_work, block_after), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		uv_sem_wait(&pb->started);
	}
}

// pool_release lets the pool's threads go and waits for their work.
static void pool_release(pool_block_t *pb)
{
	if (pb->released) {
		return;
	}
	pb->released = true;
	for (int i = 0; i < THREADS; i++) {
		uv_sem_post(&pb->release);
	}
	run_until(pb->b[0].done && pb->b[1].done && pb->b[2].done && pb->b[3].done);
	uv_sem_destroy(&pb->started);
	uv_sem_destroy(&pb->release);
}

Test(stream, dial_by_name)
{
	char          at_a[128], by_name[128];
	osc_stream_t *a = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t *b = link_at(&sb, NULL, NULL, 0, NULL);
	snprintf(by_name, sizeof(by_name), "tcp://localhost:%s", strrchr(at_a, ':') + 1);
	osc_stream_conn_t *ba = dial(b, by_name);
	send_str(ba, "by name"); // waits for the name and the connection
	run_until(sa.msgs == 1 && sb.ups == 1);
	cr_assert_str_eq(sa.last, "by name");
	cr_assert_null(failed_conn);
	osc_stream_close(a);
	osc_stream_close(b);
}

// echo_n sends a message from ab and one back from ba, n times, each
// waiting for the other; with pending, it checks that nothing failed
// meanwhile.
static void echo_n(osc_stream_conn_t *ab, osc_stream_conn_t *ba, int n, bool pending)
{
	for (int i = 0; i < n; i++) {
		uint64_t want_a = sa.msgs + 1, want_b = sb.msgs + 1;
		send_str(ab, "ping");
		run_until(sb.msgs == want_b);
		send_str(ba, "pong");
		run_until(sa.msgs == want_a);
		cr_assert(!pending || failed_conn == NULL, "%s", failed_msg);
	}
}

Test(stream, unresolvable_name_fails_without_stopping_the_loop)
{
	pool_block_t       pb;
	char               at_a[128], at_b[128], msg[256];
	osc_stream_t      *a    = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t      *b    = link_at(&sb, "tcp://127.0.0.1:0", at_b, sizeof(at_b), NULL);
	osc_stream_conn_t *ab   = dial(a, at_b);
	osc_stream_conn_t *ba   = dial(b, at_a);
	int                code = 0;
	pool_block(&pb);
	const char        *bad = "tcp://no-such-host.invalid:1";
	osc_stream_conn_t *bx  = osc_stream_dial(b, bad, NULL, &code, msg, sizeof(msg));
	cr_assert_not_null(bx, "a name is looked up later: %s", msg);
	send_str(bx, "nowhere");
	// The lookup waits; the loop serves the others.
	echo_n(ab, ba, 50, true);
	pool_release(&pb);
	run_until(failed_conn != NULL);
	cr_assert_eq(failed_conn, bx);
	// No such name, or no answer in time where no resolver answers.
	cr_assert(failed_code == OSCAR_EADDRINVAL || failed_code == OSCAR_ETIMEDOUT, "%d: %s",
	    failed_code, failed_msg);
	cr_assert(strstr(failed_msg, "cannot resolve tcp://no-such-host.invalid:1") != NULL, "%s",
	    failed_msg);
	cr_assert_null(osc_stream_reserve(bx, 4, &code), "a failed connection takes nothing");
	cr_assert_eq(code, failed_code);
	cr_assert_eq(sb.ups, 1, "bx never came up");
	echo_n(ab, ba, 5, false);
	osc_stream_conn_close(bx);
	osc_stream_close(a);
	osc_stream_close(b);
}

Test(stream, lookup_past_its_deadline_fails)
{
	pool_block_t        pb;
	osc_stream_config_t cfg = config();
	cfg.resolve_ms          = 20;
	osc_stream_t *b         = link_at(&sb, NULL, NULL, 0, &cfg);
	pool_block(&pb);
	osc_stream_conn_t *bx = dial(b, "tcp://localhost:1");
	// The lookup cannot even start: its deadline gives it up.
	run_until(failed_conn != NULL);
	cr_assert_eq(failed_conn, bx);
	cr_assert_eq(failed_code, OSCAR_ETIMEDOUT, "%s", failed_msg);
	cr_assert(strstr(failed_msg, "no answer within 20 ms") != NULL, "%s", failed_msg);
	// Whatever answers later is dropped.
	pool_release(&pb);
	cr_assert_eq(sb.ups, 0);
	osc_stream_close(b);
}

Test(stream, closed_while_looking_up)
{
	pool_block_t  pb;
	char          at_a[128], by_name[128];
	osc_stream_t *a = link_at(&sa, "tcp://127.0.0.1:0", at_a, sizeof(at_a), NULL);
	osc_stream_t *b = link_at(&sb, NULL, NULL, 0, NULL);
	snprintf(by_name, sizeof(by_name), "tcp://localhost:%s", strrchr(at_a, ':') + 1);
	pool_block(&pb);
	osc_stream_conn_t *one = dial(b, by_name);
	osc_stream_conn_t *two = dial(b, by_name);
	send_str(one, "dropped");
	send_str(two, "kept");
	// One closes, the whole link the other, both before their answers.
	osc_stream_conn_close(one);
	uv_run(&loop, UV_RUN_NOWAIT);
	osc_stream_close(b);
	pool_release(&pb);
	uv_run(&loop, UV_RUN_NOWAIT);
	cr_assert_eq(sa.msgs, 0);
	cr_assert_null(failed_conn);
	cr_assert_eq(sb.ups, 0);
	(void) two;
	osc_stream_close(a);
}

// Through pools: a call to a host name reaches the pool there, and one to
// a name that does not resolve fails with the reason instead of waiting
// for its deadline.

static int answer_m(oscar_actor_t *self, oscar_req_t *req)
{
	(void) self;
	return (oscar_req_reply(req, oscar_value_new_int(42)));
}

static const oscar_method_t answer_methods[] = {
	{ "answer", answer_m, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t answer_class = {
	.name    = "answer",
	.methods = answer_methods,
};

static oscar_pool_t *open_tcp_pool(const char *address)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *pool = NULL;
	oscar_error_t       err;
	oscar_pool_config_init(&cfg);
	cfg.address = address;
	cr_assert_eq(oscar_pool_open(&pool, &cfg, &err), 0, "%s", err.message);
	return (pool);
}

Test(stream, pools_by_name)
{
	// b's address is a name: its answers come from the address called.
	oscar_pool_t  *a = open_tcp_pool("tcp://127.0.0.1:0");
	oscar_pool_t  *b = open_tcp_pool("tcp://localhost:0");
	oscar_ref_t    there, by_name, nowhere;
	oscar_error_t  err;
	oscar_value_t *reply = NULL;
	int64_t        v     = 0;
	cr_assert_eq(oscar_create(b, &answer_class, "answer", NULL, 10000, &there, &err), 0, "%s",
	    err.message);
	cr_assert(strncmp(oscar_pool_address(b), "tcp://localhost:", 16) == 0, "%s",
	    oscar_pool_address(b));
	cr_assert_eq(oscar_ref_make(&by_name, oscar_pool_address(b), "answer"), 0);
	cr_assert_eq(
	    oscar_call(a, &by_name, "answer", NULL, 10000, &reply, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_get_int(reply, &v), 0);
	cr_assert_eq(v, 42);
	oscar_value_free(reply);
	cr_assert_eq(oscar_ref_make(&nowhere, "tcp://no-such-host.invalid:1", "answer"), 0);
	for (int i = 0; i < 2; i++) {
		// Twice: the second call dials (and looks up) afresh.
		int rv = oscar_call(a, &nowhere, "answer", NULL, 60000, NULL, &err);
		cr_assert(
		    rv == OSCAR_EADDRINVAL || rv == OSCAR_ETIMEDOUT, "%d: %s", rv, err.message);
		cr_assert(strstr(err.message,
		              "cannot reach tcp://no-such-host.invalid:1: cannot resolve") != NULL,
		    "%s", err.message);
		cr_assert_str_eq(err.address, "tcp://no-such-host.invalid:1");
	}
	// The pool still answers.
	cr_assert_eq(
	    oscar_call(a, &by_name, "answer", NULL, 10000, NULL, &err), 0, "%s", err.message);
	oscar_pool_free(&a);
	oscar_pool_free(&b);
}
