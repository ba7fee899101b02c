// Peers: the same workloads run by Erlang/OTP and by CAF, beside Oscar-C's
// own, so that the report can put them side by side.
//
// Design note. The peers are programs of their own (bench/peers/), built
// by bench/peers/build.sh into one folder: oscar_peer.beam, an Erlang
// module, and caf-peer, a CAF program; when one cannot be built, the
// script leaves a file erlang.na or caf.na there saying why. Each peer is
// started once, as a child (child.c), and stays up for the whole run; the
// bench writes "WORKLOAD N" to its stdin whenever it is that peer's turn
// and reads back "WORKLOAD VALUE" or "WORKLOAD error REASON" (any other
// line, such as a log report, is passed on to stderr). The calls to
// bench_peers_run sit right after Oscar-C's own run of each workload, so
// every round alternates Oscar-C, Erlang and CAF.
//
// Erlang needs its port mapper (epmd) for the distribution between two
// nodes. The bench starts a private one, as its child, listening on
// 127.0.0.1 on a free port that it passes to the nodes in ERL_EPMD_PORT,
// so a system epmd is never touched, and it stops it at the end. The
// Erlang node's own second node (tcp-* workloads) is started by the
// module with OTP's peer module and halts when its origin node goes.
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "bench/bench.h"

#define PEER_ERLANG    0
#define PEER_CAF       1
#define START_TIMEOUT  30000  // ms for a peer to say it is ready
#define ANSWER_TIMEOUT 180000 // ms for a peer to answer one workload
#define EPMD_TIMEOUT   5000   // ms for epmd to answer
#define SETTLE_WINDOW  50     // ms: see settle
#define SETTLE_MAX     5000   // ms
#define MAX_WORKLOADS  16
#define MAX_ROUNDS     100
#define WHY_MAX        256

const char *const bench_peer_names[BENCH_NPEERS] = { "erlang", "caf" };

// The workloads the peers know (bench/peers/oscar_peer.erl, caf_peer.cpp).
static const char *const peer_workloads[] = { "call-rtt", "tell-rate", "spawn-tree", "idle-actor",
	"tcp-rtt", "tcp-pipe", "tcp-bin64m", NULL };

typedef struct peer {
	bench_child_t child;
	bool          up;
	char          why[WHY_MAX]; // why it is not up
} peer_t;

// samples_t holds one workload's values, per peer, and why a peer has
// none.
typedef struct samples {
	const char *workload;
	double      v[BENCH_NPEERS][MAX_ROUNDS];
	int         n[BENCH_NPEERS];
	char        why[BENCH_NPEERS][WHY_MAX];
} samples_t;

struct bench_peers {
	peer_t        peer[BENCH_NPEERS];
	bench_child_t epmd;
	bool          has_epmd;
	samples_t     w[MAX_WORKLOADS];
	int           nw;
};

// ---------------------------------------------------------------------------
// Starting and stopping

// read_na fills why with the first line of dir/name (a reason left by
// build.sh), or with fallback.
static void read_na(char *why, const char *dir, const char *name, const char *fallback)
{
	char  path[1024];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(why, WHY_MAX, "%s", fallback);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(why, WHY_MAX, f) == NULL) {
			snprintf(why, WHY_MAX, "%s", fallback);
		}
		why[strcspn(why, "\n")] = '\0';
		fclose(f);
	}
}

static bool is_file(const char *dir, const char *name)
{
	char        path[1024];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (stat(path, &st) == 0 && S_ISREG(st.st_mode));
}

// wait_ready reads the peer's lines until "ready". Returns 0 or sets why.
static int wait_ready(peer_t *p)
{
	char line[512];
	int  rv;
	for (;;) {
		if ((rv = bench_child_read_line(&p->child, line, sizeof(line), START_TIMEOUT)) !=
		    0) {
			snprintf(p->why, sizeof(p->why), "did not start (%s)",
			    rv == ETIMEDOUT ? "no answer in time" : "it exited");
			return (-1);
		}
		if (strcmp(line, "ready") == 0) {
			return (0);
		}
		fprintf(stderr, "oscar-bench: %s: %s\n", p->child.name, line);
	}
}

// loopback_port returns a TCP port of 127.0.0.1 that was free a moment
// ago, or 0.
static int loopback_port(void)
{
	struct sockaddr_in sa   = { .sin_family = AF_INET,
		  .sin_addr.s_addr              = htonl(INADDR_LOOPBACK) };
	socklen_t          len  = sizeof(sa);
	int                fd   = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int                port = 0;
	if (fd < 0) {
		return (0);
	}
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *) &sa, &len) == 0) {
		port = ntohs(sa.sin_port);
	}
	close(fd);
	return (port);
}

// epmd_answers tells whether an epmd on 127.0.0.1:port answers a NAMES
// request (a 2-byte length, then 'n'; it answers with its port and the
// nodes it knows, then closes). A bare connect would do as a probe, but
// epmd logs a complaint for each connection that sends nothing.
static bool epmd_answers(int port)
{
	static const char  names_req[] = { 0, 1, 'n' };
	struct sockaddr_in sa          = { .sin_family = AF_INET,
		         .sin_port                     = htons((uint16_t) port),
		         .sin_addr.s_addr              = htonl(INADDR_LOOPBACK) };
	char               buf[256];
	bool               ok = false;
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return (false);
	}
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
	    write(fd, names_req, sizeof(names_req)) == (ssize_t) sizeof(names_req)) {
		ok = read(fd, buf, sizeof(buf)) >= 4;
	}
	close(fd);
	return (ok);
}

// wait_epmd waits until epmd answers on port, at most timeout_ms.
static bool wait_epmd(int port, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (epmd_answers(port)) {
			return (true);
		}
		uv_sleep(10);
	}
	return (false);
}

// start_epmd starts a private epmd on a free loopback port and points the
// Erlang nodes this process starts at it (ERL_EPMD_PORT).
static int start_epmd(bench_peers_t *ps, peer_t *p)
{
	char  port_s[16];
	int   port   = loopback_port();
	char *args[] = { "epmd", "-address", "127.0.0.1", "-port", port_s, NULL };
	int   rv;
	snprintf(port_s, sizeof(port_s), "%d", port);
	if (port == 0) {
		snprintf(p->why, sizeof(p->why), "no free loopback port for epmd");
		return (-1);
	}
	if ((rv = bench_child_start(&ps->epmd, "epmd", args, NULL)) != 0) {
		snprintf(p->why, sizeof(p->why), "cannot start epmd: %s", strerror(rv));
		return (-1);
	}
	ps->has_epmd = true;
	if (!wait_epmd(port, EPMD_TIMEOUT)) {
		snprintf(p->why, sizeof(p->why), "epmd did not answer on 127.0.0.1:%d", port);
		return (-1);
	}
	setenv("ERL_EPMD_PORT", port_s, 1);
	return (0);
}

static void start_erlang(bench_peers_t *ps, const char *dir)
{
	peer_t *p = &ps->peer[PEER_ERLANG];
	char    name[64], cookie[64], prog[512];
	// +P: room for the spawn tree's 2^20 processes (the default is 2^18).
	char *args[] = { "erl", "+P", "4194304", "-noshell", "-name", name, "-setcookie", cookie,
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}", "-pa", (char *) dir, "-s",
		"oscar_peer", "main", NULL };
	int   rv;
	if (!is_file(dir, "oscar_peer.beam")) {
		read_na(p->why, dir, "erlang.na", "not built (make bench builds it)");
		return;
	}
	if (!bench_which("erl", prog, sizeof(prog)) || !bench_which("epmd", prog, sizeof(prog))) {
		snprintf(p->why, sizeof(p->why), "erl or epmd not found (Debian: erlang-nox)");
		return;
	}
	if (start_epmd(ps, p) != 0) {
		return;
	}
	// The cookie only has to differ between runs: the nodes listen on
	// loopback alone.
	snprintf(name, sizeof(name), "oscar_bench_%d@127.0.0.1", (int) getpid());
	snprintf(cookie, sizeof(cookie), "oscar_bench_%d_%llx", (int) getpid(),
	    (unsigned long long) uv_hrtime());
	if ((rv = bench_child_start(&p->child, "erlang", args, NULL)) != 0) {
		snprintf(p->why, sizeof(p->why), "cannot start erl: %s", strerror(rv));
		return;
	}
	p->up = wait_ready(p) == 0;
}

static void start_caf(bench_peers_t *ps, const char *dir)
{
	peer_t *p = &ps->peer[PEER_CAF];
	char    prog[1024];
	char   *args[] = { prog, NULL };
	int     rv;
	if (!is_file(dir, "caf-peer")) {
		read_na(p->why, dir, "caf.na", "not built (make bench builds it)");
		return;
	}
	snprintf(prog, sizeof(prog), "%s/caf-peer", dir);
	if ((rv = bench_child_start(&p->child, "caf", args, NULL)) != 0) {
		snprintf(p->why, sizeof(p->why), "cannot start %s: %s", prog, strerror(rv));
		return;
	}
	p->up = wait_ready(p) == 0;
}

// peer_down takes peer p out of the run, saying why.
static void peer_down(peer_t *p, const char *why)
{
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->up = false;
	bench_child_kill(&p->child);
}

bench_peers_t *bench_peers_open(const char *dir, const bench_opts_t *o)
{
	bench_peers_t *ps   = calloc(1, sizeof(*ps));
	bool           want = false;
	if (ps == NULL) {
		bench_die("peers", OSCAR_ENOMEM);
	}
	for (int i = 0; peer_workloads[i] != NULL; i++) {
		want = want || bench_want(o->only, peer_workloads[i]);
	}
	if (!want) {
		for (int i = 0; i < BENCH_NPEERS; i++) {
			snprintf(ps->peer[i].why, WHY_MAX, "no workload of theirs selected");
		}
		return (ps);
	}
	start_erlang(ps, dir);
	start_caf(ps, dir);
	for (int i = 0; i < BENCH_NPEERS; i++) {
		if (!ps->peer[i].up) {
			fprintf(stderr, "oscar-bench: %s: n/a: %s\n", bench_peer_names[i],
			    ps->peer[i].why);
		}
	}
	return (ps);
}

void bench_peers_close(bench_peers_t *ps)
{
	if (ps == NULL) {
		return;
	}
	for (int i = 0; i < BENCH_NPEERS; i++) {
		if (ps->peer[i].up) {
			bench_child_reap(&ps->peer[i].child); // end of input: it stops
		}
	}
	if (ps->has_epmd) {
		bench_child_kill(&ps->epmd); // our private one
	}
	free(ps);
}

// ---------------------------------------------------------------------------
// Running

static samples_t *samples_of(bench_peers_t *ps, const char *workload)
{
	for (int i = 0; i < ps->nw; i++) {
		if (strcmp(ps->w[i].workload, workload) == 0) {
			return (&ps->w[i]);
		}
	}
	if (ps->nw == MAX_WORKLOADS) {
		bench_fail("too many peer workloads");
	}
	ps->w[ps->nw].workload = workload;
	return (&ps->w[ps->nw++]);
}

// ask runs one workload on peer i: it sends the command, then reads lines
// until the answer. Returns 0 with *value, or -1 with s->why[i] set (the
// peer taken out when it stopped answering).
static int ask(peer_t *p, samples_t *s, int i, int64_t n, double *value)
{
	char   cmd[64], line[512], why[WHY_MAX];
	size_t len = strlen(s->workload);
	int    rv;
	snprintf(cmd, sizeof(cmd), "%s %lld\n", s->workload, (long long) n);
	if (bench_child_write_line(&p->child, cmd) != 0) {
		snprintf(why, sizeof(why), "stopped before %s", s->workload);
		peer_down(p, why);
		snprintf(s->why[i], WHY_MAX, "%s", why);
		return (-1);
	}
	for (;;) {
		rv = bench_child_read_line(&p->child, line, sizeof(line), ANSWER_TIMEOUT);
		if (rv != 0) {
			snprintf(why, sizeof(why), "%s on %s",
			    rv == ETIMEDOUT ? "no answer in time" : "exited", s->workload);
			peer_down(p, why);
			snprintf(s->why[i], WHY_MAX, "%s", why);
			return (-1);
		}
		if (strncmp(line, s->workload, len) != 0 || line[len] != ' ') {
			fprintf(stderr, "oscar-bench: %s: %s\n", p->child.name, line);
			continue;
		}
		char *end;
		*value = strtod(line + len + 1, &end);
		if (end != line + len + 1 && *end == '\0' && *value > 0) {
			return (0);
		}
		snprintf(s->why[i], WHY_MAX, "%s", line + len + 1);
		fprintf(stderr, "oscar-bench: %s: %s\n", p->child.name, line);
		return (-1);
	}
}

// cpu_ticks returns the CPU time process pid has used so far, in clock
// ticks, or -1.
static long long cpu_ticks(pid_t pid)
{
	char               path[64], line[1024], *p;
	unsigned long long ut, st;
	long long          ticks = -1;
	FILE              *f;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	if (fgets(line, sizeof(line), f) != NULL && (p = strrchr(line, ')')) != NULL &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
		ticks = (long long) (ut + st);
	}
	fclose(f);
	return (ticks);
}

// settle waits, at most SETTLE_MAX ms, until peer p is quiet: at most one
// clock tick of CPU in SETTLE_WINDOW ms. A peer answers as soon as its
// figure is taken, but may still be tearing down what it made (the
// actors of a spawn tree, 100,000 idle ones), and on a small machine that
// would slow down whoever runs next.
static void settle(const peer_t *p)
{
	long long before = cpu_ticks(p->child.pid);
	for (int waited = 0; before >= 0 && waited < SETTLE_MAX; waited += SETTLE_WINDOW) {
		uv_sleep(SETTLE_WINDOW);
		long long now = cpu_ticks(p->child.pid);
		if (now < 0 || now - before <= 1) {
			return;
		}
		before = now;
	}
}

void bench_peers_run(bench_peers_t *ps, const char *workload, int64_t n)
{
	samples_t *s;
	if (ps == NULL) {
		return;
	}
	s = samples_of(ps, workload);
	for (int i = 0; i < BENCH_NPEERS; i++) {
		double v;
		if (ps->peer[i].up && s->n[i] < MAX_ROUNDS && ask(&ps->peer[i], s, i, n, &v) == 0) {
			s->v[i][s->n[i]++] = v;
		}
		if (ps->peer[i].up) {
			settle(&ps->peer[i]);
		}
	}
}

void bench_peers_fill(const bench_peers_t *ps, bench_row_t *rows, size_t n)
{
	if (ps == NULL) {
		return;
	}
	for (size_t r = 0; r < n; r++) {
		for (int w = 0; w < ps->nw; w++) {
			const samples_t *s = &ps->w[w];
			if (strcmp(s->workload, rows[r].name) != 0) {
				continue;
			}
			for (int i = 0; i < BENCH_NPEERS; i++) {
				double v[MAX_ROUNDS];
				if (s->n[i] > 0) {
					memcpy(v, s->v[i], sizeof(double) * (size_t) s->n[i]);
					rows[r].peer[i] = bench_median(v, s->n[i]);
				}
			}
		}
	}
}

const char *bench_peers_status(const bench_peers_t *ps, int i)
{
	if (ps == NULL) {
		return ("not run (--no-peers)");
	}
	return (ps->peer[i].why[0] != '\0' ? ps->peer[i].why : NULL);
}

bool bench_peers_does(const char *workload)
{
	for (int i = 0; peer_workloads[i] != NULL; i++) {
		if (strcmp(peer_workloads[i], workload) == 0) {
			return (true);
		}
	}
	return (false);
}

const char *bench_peers_note(const bench_peers_t *ps, int i, const char *workload)
{
	if (ps == NULL || !bench_peers_does(workload)) {
		return (NULL);
	}
	for (int w = 0; w < ps->nw; w++) {
		if (strcmp(ps->w[w].workload, workload) == 0 && ps->w[w].why[i][0] != '\0') {
			return (ps->w[w].why[i]);
		}
	}
	return (NULL);
}
