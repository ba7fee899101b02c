// Bounds on what other pools can make a pool hold: connections to reply
// addresses, idle connections, and a stop that never waits on peers
// (actors/transport.c).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <malloc.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "actors/stream.h"
#include "actors/wire.h"
#include "tests/common/raw.h"
#include "tests/actors/support.h"
#include "tests/common/proc.h"

// A stop that hangs fails the test through this deadline.
TestSuite(bounds, .timeout = 60);

// fds_settled waits, for 10 s at most, until at most base descriptors are
// open, and returns how many are. NNG closes the connections of a closed
// socket on a thread of its own, so their descriptors can outlive
// oscar_pool_free by a moment on a loaded machine.
static int fds_settled(int base)
{
	int n = open_fds();
	for (int i = 0; i < 1000 && n > base; i++) {
		usleep(10000);
		n = open_fds();
	}
	return (n);
}

static oscar_pool_t *open_pool(
    const char *address, unsigned max_peers, int64_t connect_ms, int64_t idle_ms)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address         = address;
	cfg.max_peers       = max_peers;
	cfg.peer_connect_ms = connect_ms;
	cfg.peer_idle_ms    = idle_ms;
	return (pool_open(&cfg));
}

// base_fds counts the descriptors open before a test's pools, once NNG
// has opened those it keeps for good with its first socket.
static int base_fds(void)
{
	oscar_pool_t *p = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	oscar_pool_free(&p);
	return (open_fds());
}

static oscar_pool_stats_t stats_of(oscar_pool_t *p)
{
	oscar_pool_stats_t st;
	cr_assert_eq(oscar_pool_stats(p, &st, 5000), 0);
	return (st);
}

// send_frame sends a call of uid.method from source through raw.
static void send_frame(
    raw_conn_t *raw, const char *source, uint64_t id, const char *uid, const char *method)
{
	osc_frame_t f;
	osc_wbuf_t  w;
	memset(&f, 0, sizeof(f));
	f.type = OSC_MSG_SEND;
	f.id   = id;
	snprintf(f.source, sizeof(f.source), "%s", source);
	snprintf(f.target, sizeof(f.target), "%s", uid);
	snprintf(f.method, sizeof(f.method), "%s", method);
	osc_wbuf_init(&w);
	cr_assert_eq(osc_frame_encode(&w, &f, NULL, NULL, 0), 0);
	raw_send(raw, w.data, w.len);
	osc_wbuf_fini(&w);
}

// Frames naming thousands of distinct reply addresses that cannot be
// reached, tcp and ipc: the pool holds at most max_peers connections,
// drops those that do not come up, still answers, and stops at once with
// its descriptors back near where they were.
Test(bounds, unreachable_reply_addresses_are_bounded_and_dropped)
{
	int           base = base_fds();
	oscar_pool_t *a    = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	oscar_pool_t *b    = open_pool("tcp://127.0.0.1:0", 32, 200, 0);
	int           open = open_fds();
	test_spawn(b, &test_counter_class, "c", NULL);
	raw_conn_t raw;
	raw_dial(&raw, oscar_pool_address(b));
	for (int i = 0; i < 3000; i++) {
		char source[OSCAR_ADDR_MAX];
		if (i % 3 == 2) {
			snprintf(source, sizeof(source), "ipc:///tmp/oscar-nowhere-%d-%d.sock",
			    (int) getpid(), i);
		} else {
			snprintf(source, sizeof(source), "tcp://127.%d.%d.%d:9", (i >> 16) & 255,
			    (i >> 8) & 255, (i & 255) | 1);
		}
		send_frame(&raw, source, (uint64_t) i + 1, i % 2 ? "c" : "nobody", "get");
	}
	raw_close(&raw);
	// Wait until the pool has served every frame (1500 reached c).
	oscar_pool_stats_t st = stats_of(b);
	for (int i = 0; i < 1000 && st.messages < 1500; i++) {
		cr_assert_leq(st.peers, 32, "%llu connections", (unsigned long long) st.peers);
		cr_assert_leq(
		    open_fds(), open + 32 * 4, "%d descriptors, %d at start", open_fds(), open);
		usleep(10000);
		st = stats_of(b);
	}
	cr_assert_geq(st.messages, 1500);
	cr_assert_leq(st.peers, 32, "%llu connections", (unsigned long long) st.peers);
	// The unreachable ones are dropped after their bounded try, and the
	// pool answers again.
	for (int i = 0; i < 1000 && stats_of(b).peers > 0; i++) {
		usleep(10000);
	}
	cr_assert_eq(stats_of(b).peers, 0, "connections to nowhere kept");
	oscar_ref_t c;
	cr_assert_eq(oscar_ref_make(&c, oscar_pool_address(b), "c"), 0);
	cr_assert_eq(test_call_int(a, &c, "add", 1), 1);
	oscar_pool_free(&b);
	oscar_pool_free(&a);
	int left = fds_settled(base);
	cr_assert_leq(left, base, "%d descriptors, %d before", left, base);
}

// The same flood with the peers still dialing: the stop does not wait
// for them.
Test(bounds, a_pool_stops_at_once_while_dialing_thousands)
{
	int           base = base_fds();
	oscar_pool_t *b    = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	raw_conn_t    raw;
	raw_dial(&raw, oscar_pool_address(b));
	for (int i = 0; i < 3000; i++) {
		char source[OSCAR_ADDR_MAX];
		snprintf(source, sizeof(source), "tcp://127.1.%d.%d:9", (i >> 8) & 255, i & 255);
		send_frame(&raw, source, (uint64_t) i + 1, "nobody", "get");
	}
	raw_close(&raw);
	oscar_pool_stats_t st = stats_of(b);
	cr_assert_leq(st.peers, 256);
	oscar_pool_free(&b);
	int left = fds_settled(base);
	cr_assert_leq(left, base, "%d descriptors, %d before", left, base);
}

// A connection nobody uses is closed after peer_idle_ms, and opens again
// when needed.
Test(bounds, idle_connections_are_closed)
{
	oscar_pool_t *a = open_pool("tcp://127.0.0.1:0", 0, 0, 50);
	oscar_pool_t *b = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	test_spawn(b, &test_counter_class, "c", NULL);
	oscar_ref_t c;
	cr_assert_eq(oscar_ref_make(&c, oscar_pool_address(b), "c"), 0);
	cr_assert_eq(test_call_int(a, &c, "add", 1), 1);
	cr_assert_eq(stats_of(a).peers, 1);
	for (int i = 0; i < 1000 && stats_of(a).peers != 0; i++) {
		usleep(10000);
	}
	cr_assert_eq(stats_of(a).peers, 0, "an idle connection stayed open");
	cr_assert_eq(test_call_int(a, &c, "add", 1), 2);
	oscar_pool_free(&a);
	oscar_pool_free(&b);
}

// max_peers with every connection busy: a clear error, not one more.
Test(bounds, max_peers_is_a_clear_error_and_live_connections_stay)
{
	oscar_pool_t *a = open_pool("tcp://127.0.0.1:0", 1, 0, 0);
	oscar_pool_t *b = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	oscar_pool_t *d = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	oscar_ref_t   g = test_spawn(b, &test_gate_class, "g", NULL);
	test_spawn(d, &test_counter_class, "c", NULL);
	oscar_ref_t gr, cr;
	cr_assert_eq(oscar_ref_make(&gr, oscar_pool_address(b), "g"), 0);
	cr_assert_eq(oscar_ref_make(&cr, oscar_pool_address(d), "c"), 0);
	oscar_call_t *h;
	cr_assert_eq(oscar_call_start(a, &gr, "wait", NULL, 0, &h), 0);
	test_wait_parked(b, &g, 1);
	oscar_error_t err;
	cr_assert_eq(oscar_call(a, &cr, "get", NULL, 0, NULL, &err), OSCAR_EMBOXFULL);
	cr_assert(strstr(err.message, "max_peers") != NULL, "%s", err.message);
	oscar_value_t *reply;
	cr_assert_eq(oscar_call(b, &g, "open", oscar_value_new_int(1), 0, NULL, &err), 0);
	cr_assert_eq(oscar_call_wait(&h, &reply, &err), 0);
	oscar_value_free(reply);
	// A live connection is not taken for a newcomer, even idle.
	cr_assert_eq(oscar_call(a, &cr, "get", NULL, 0, NULL, &err), OSCAR_EMBOXFULL);
	// Once its pool is gone, it makes room.
	oscar_pool_free(&b);
	for (int i = 0; i < 500; i++) {
		int rv = oscar_call(a, &cr, "add", oscar_value_new_int(3), 0, NULL, &err);
		if (rv == 0) {
			break;
		}
		cr_assert_eq(rv, OSCAR_EMBOXFULL, "%s", err.message);
		usleep(10000); // until the connection's loss reaches pool A
	}
	cr_assert_eq(test_call_int(a, &cr, "add", 0), 3);
	cr_assert_eq(stats_of(a).peers, 1);
	oscar_pool_free(&a);
	oscar_pool_free(&b);
	oscar_pool_free(&d);
}

// vm_size_kib reads this process's virtual memory size.
static long vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char  line[256];
	long  kib = -1;
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1) {
			break;
		}
	}
	fclose(f);
	return (kib);
}

static bool               holds_128_mib(const oscar_pool_stats_t *st);
static bool               holds_nothing(const oscar_pool_stats_t *st);
static bool               refused_one(const oscar_pool_stats_t *st);
static oscar_pool_stats_t wait_stats(oscar_pool_t *p, bool (*done)(const oscar_pool_stats_t *));

// link_header writes the stream link's header announcing len bytes.
static void link_header(unsigned char h[OSC_STREAM_HEADER], uint64_t len)
{
	memset(h, 0, OSC_STREAM_HEADER);
	memcpy(h, "OSCL", 4);
	h[4] = OSC_STREAM_VERSION;
	for (int i = 0; i < 8; i++) {
		h[8 + i] = (unsigned char) (len >> (8 * i));
	}
}

// Connections that each declare 1 GiB (within max_message), send 16 MiB
// and go quiet: eight of them. The pool holds at most twice what arrived,
// not the 8 GiB declared, and gives it back when they close. A body
// declared past max_message closes its connection at once.
Test(bounds, a_declared_gigabyte_is_not_reserved)
{
	// Each new malloc arena reserves 64 MiB of address space; on a busy
	// machine threads that meet in the allocator make new ones. Two
	// arenas keep that noise far below what one reserved gigabyte would
	// add, so the bound below measures the pool, not the load.
	mallopt(M_ARENA_MAX, 2);
	oscar_pool_t *b = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	test_spawn(b, &test_counter_class, "c", NULL);
	long       before = vm_size_kib();
	char      *chunk  = calloc(1, 1 << 20);
	raw_conn_t raw[8];
	cr_assert_not_null(chunk);
	for (int i = 0; i < 8; i++) {
		unsigned char h[OSC_STREAM_HEADER];
		link_header(h, (uint64_t) 1 << 30);
		raw_dial(&raw[i], oscar_pool_address(b));
		raw_write(&raw[i], h, sizeof(h));
		for (int j = 0; j < 16; j++) {
			raw_write(&raw[i], chunk, 1 << 20);
		}
	}
	oscar_pool_stats_t st = wait_stats(b, holds_128_mib);
	cr_assert_leq(st.receiving, 8 * ((32u << 20) + 1), "%llu bytes held",
	    (unsigned long long) st.receiving);
	long after = vm_size_kib();
	// One declared gigabyte reserved would add 1 GiB, eight of them 8.
	cr_assert_lt(after - before, 768 * 1024, "virtual memory grew by %ld KiB", after - before);
	for (int i = 0; i < 8; i++) {
		raw_close(&raw[i]);
	}
	wait_stats(b, holds_nothing);
	// Past max_message (1 GiB by default): closed on the header.
	unsigned char h[OSC_STREAM_HEADER];
	link_header(h, (uint64_t) 2 << 30);
	raw_dial(&raw[0], oscar_pool_address(b));
	raw_write(&raw[0], h, sizeof(h));
	cr_assert(raw_closed(&raw[0]), "the connection stayed open");
	raw_close(&raw[0]);
	st = wait_stats(b, refused_one);
	cr_assert_eq(st.receiving, 0);
	free(chunk);
	oscar_ref_t c;
	cr_assert_eq(oscar_ref_make(&c, oscar_pool_address(b), "c"), 0);
	cr_assert_eq(test_call_int(b, &c, "add", 1), 1);
	oscar_pool_free(&b);
}

// send_piece sends a piece of a large message of total bytes through raw.
static void send_piece(nng_socket raw, unsigned flags, uint64_t total, size_t n)
{
	nng_msg      *m;
	unsigned char head[OSC_WIRE_PIECE] = { 'O', 'S', 'C', 'K', (unsigned char) flags };
	for (int i = 0; i < 8; i++) {
		head[8 + i] = (unsigned char) (total >> (8 * i));
	}
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, head, sizeof(head)), 0);
	cr_assert_eq(nng_msg_realloc(m, OSC_WIRE_PIECE + n), 0);
	cr_assert_eq(nng_sendmsg(raw, m, 0), 0);
}

static oscar_pool_stats_t wait_stats(oscar_pool_t *p, bool (*done)(const oscar_pool_stats_t *))
{
	oscar_pool_stats_t st = stats_of(p);
	for (int i = 0; i < 1000 && !done(&st); i++) {
		usleep(10000);
		st = stats_of(p);
	}
	cr_assert(done(&st), "the pool never got there");
	return (st);
}

static bool holds_128_mib(const oscar_pool_stats_t *st)
{
	return (st->receiving >= (128u << 20));
}

static bool holds_16_mib(const oscar_pool_stats_t *st)
{
	return (st->receiving >= (16u << 20));
}

static bool holds_some(const oscar_pool_stats_t *st)
{
	return (st->receiving != 0);
}

static bool holds_nothing(const oscar_pool_stats_t *st)
{
	return (st->receiving == 0);
}

static bool refused_one(const oscar_pool_stats_t *st)
{
	return (st->refused >= 1);
}

// The same in the pool's own pieces: a message announced as 1 GiB of
// which 16 MiB arrive holds at most twice what arrived, and the memory
// comes back when its connection goes. Past max_message it is refused.
Test(bounds, a_message_in_pieces_holds_what_arrived)
{
	// Pieces are NNG's (inproc://, tls+tcp://); the stream link carries
	// a large message whole (above).
	oscar_pool_t *b = open_pool("inproc://bounds-pieces", 0, 0, 0);
	nng_socket    raw;
	cr_assert_eq(nng_push0_open(&raw), 0);
	cr_assert_eq(nng_dial(raw, oscar_pool_address(b), NULL, 0), 0);
	send_piece(raw, OSC_WIRE_PIECE_FIRST, (uint64_t) 1 << 30, 1 << 20);
	for (int i = 1; i < 16; i++) {
		send_piece(raw, 0, (uint64_t) 1 << 30, 1 << 20);
	}
	oscar_pool_stats_t st = wait_stats(b, holds_16_mib);
	cr_assert_leq(
	    st.receiving, (32u << 20) + 1, "%llu bytes held", (unsigned long long) st.receiving);
	nng_close(raw);
	wait_stats(b, holds_nothing);

	// A message that is not a piece, from the same connection, ends an
	// unfinished one: its sender gave it up.
	cr_assert_eq(nng_push0_open(&raw), 0);
	cr_assert_eq(nng_dial(raw, oscar_pool_address(b), NULL, 0), 0);
	send_piece(raw, OSC_WIRE_PIECE_FIRST, (uint64_t) 1 << 30, 1 << 20);
	wait_stats(b, holds_some);
	raw_conn_t rc = { .nng = true, .fd = -1, .sock = raw };
	send_frame(&rc, "", 0, "nobody", "get");
	wait_stats(b, holds_nothing);
	nng_close(raw);

	// Over max_message (here 64 MiB): refused on the first piece.
	oscar_pool_free(&b);
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address     = "inproc://bounds-pieces-64";
	cfg.max_message = 64u << 20;
	b               = pool_open(&cfg);
	cr_assert_eq(nng_push0_open(&raw), 0);
	cr_assert_eq(nng_dial(raw, oscar_pool_address(b), NULL, 0), 0);
	send_piece(raw, OSC_WIRE_PIECE_FIRST, (uint64_t) 1 << 30, 8);
	st = wait_stats(b, refused_one);
	cr_assert_eq(st.receiving, 0);
	nng_close(raw);
	oscar_pool_free(&b);
}

// listen_any listens on a loopback TCP port of the system's choice, and
// never accepts: connections complete in the backlog and stay silent.
static int listen_any(char *addr, size_t size)
{
	struct sockaddr_in sin;
	socklen_t          len = sizeof(sin);
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family      = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 64), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
	snprintf(addr, size, "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
	return (fd);
}

// A stalled peer: it answers the SP handshake as a pull socket, then never
// reads, so that everything sent to it piles up in the kernel.
typedef struct stalled {
	int         lfd;
	int         wake[2];
	uv_thread_t thread;
} stalled_t;

static void stalled_run(void *arg)
{
	stalled_t    *s        = arg;
	unsigned char hello[8] = { 0, 'S', 'P', 0, 0x00, 0x51, 0, 0 }; // pull0
	int           fd       = -1;
	char          c;
	// Until the test is done; the pool may stop before it connects.
	for (;;) {
		struct pollfd fds[2] = { { .fd = s->wake[0], .events = POLLIN },
			{ .fd = fd < 0 ? s->lfd : -1, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0 || fds[0].revents != 0) {
			break;
		}
		if (fds[1].revents != 0 && (fd = accept(s->lfd, NULL, NULL)) >= 0) {
			(void) send(fd, hello, sizeof(hello), MSG_NOSIGNAL);
		}
	}
	(void) read(s->wake[0], &c, 1);
	if (fd >= 0) {
		close(fd);
	}
}

// Stopping never waits on peers: one that accepted the connection and
// never answered the handshake, one that answered and never reads (with a
// 16 MiB message, more than the kernel buffers, and calls stuck behind
// it), with calls pending on both. The suite's deadline fails the test if
// a stop hangs.
Test(bounds, a_pool_stops_whatever_its_peers_do)
{
	char      silent[64], stalled_addr[64];
	stalled_t s;
	int       sfd = listen_any(silent, sizeof(silent));
	s.lfd         = listen_any(stalled_addr, sizeof(stalled_addr));
	cr_assert_eq(pipe(s.wake), 0);
	cr_assert_eq(uv_thread_create(&s.thread, stalled_run, &s), 0);

	int           base = base_fds();
	oscar_pool_t *a    = open_pool("tcp://127.0.0.1:0", 0, 0, 0);
	oscar_ref_t   r1, r2;
	oscar_call_t *h1, *h2, *h3;
	cr_assert_eq(oscar_ref_make(&r1, silent, "x"), 0);
	cr_assert_eq(oscar_ref_make(&r2, stalled_addr, "x"), 0);
	cr_assert_eq(oscar_call_start(a, &r1, "get", NULL, 600000, &h1), 0);
	char *big = malloc(16u << 20);
	cr_assert_not_null(big);
	memset(big, 7, 16u << 20);
	cr_assert_eq(
	    oscar_call_start(a, &r2, "take", oscar_value_new_bin(big, 16u << 20), 600000, &h2), 0);
	free(big);
	cr_assert_eq(oscar_call_start(a, &r2, "get", NULL, 600000, &h3), 0);
	oscar_pool_free(&a);
	oscar_error_t  err;
	oscar_value_t *reply;
	cr_assert_eq(oscar_call_wait(&h1, &reply, &err), OSCAR_ECLOSED);
	cr_assert_eq(oscar_call_wait(&h2, &reply, &err), OSCAR_ECLOSED);
	cr_assert_eq(oscar_call_wait(&h3, &reply, &err), OSCAR_ECLOSED);

	cr_assert_eq(write(s.wake[1], "x", 1), 1);
	uv_thread_join(&s.thread); // it closed the connection it accepted
	int left = fds_settled(base);
	cr_assert_leq(left, base, "%d descriptors, %d before", left, base);
	close(s.wake[0]);
	close(s.wake[1]);
	close(s.lfd);
	close(sfd);
}
