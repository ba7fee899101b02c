// The storage workloads of oscar-bench: the object store's put and get of
// small objects, a 64 MiB object moved between two stores in blocks (the
// iterator and the receiver of a transfer, without the network), and the
// handover of a 64 MiB object to another process through a shared-memory
// segment, each against a memcpy; and the storage service's round trips
// (a put and a get through a worker's storage actor, from a client pool
// over tcp loopback: small objects and 64 MiB ones) and a 64 MiB pull
// between two workers, next to plain NNG (req/rep over tcp loopback, the
// same bytes) and memcpy. The service workloads run a supervisor and two
// workers in this process.
//
// The handover is what a sub pool sees when the node's storage gives it
// an object: the segment already exists (it is made once per object, on
// its first export, and counted apart as "store-export-64m"); the parent
// sends its descriptor over a unix socket and the child maps it and reads
// its first and last bytes, then answers. The child is a fork of this
// process that does nothing else.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>

#include "bench/bench.h"
#include "oscar/oscar.h"
#include "services/storage/shm.h"
#include "services/storage/store.h"

const char *const bench_storage_names[] = { "store-put-get", "store-blocks-64m", "shm-handover-64m",
	"storage-rt-small", "storage-rt-64m", "storage-pull-64m", NULL };

#define BIG (64u << 20)

// put_get times n put+get pairs of 64-byte bins; returns the pairs per
// second.
static double put_get(int64_t n)
{
	osc_store_config_t cfg = { 0 };
	osc_store_t       *s;
	oscar_value_t     *v;
	char               key[32];
	char               data[64];
	int                rv;

	memset(data, 'x', sizeof(data));
	if ((rv = osc_store_open(&cfg, &s, NULL)) != 0 ||
	    (rv = osc_store_session_create(s, "bench", false, NULL)) != 0) {
		bench_die("store", rv);
	}
	double t0 = bench_now();
	for (int64_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%lld", (long long) (i & 1023));
		if ((rv = osc_store_put(
		         s, "bench", key, oscar_value_new_bin(data, sizeof(data)), NULL)) != 0 ||
		    (rv = osc_store_get(s, "bench", key, NULL, &v, NULL)) != 0) {
			bench_die("put/get", rv);
		}
		oscar_value_free(v);
	}
	double t = bench_now() - t0;
	osc_store_close(s);
	return ((double) n / t);
}

// copy_baseline times n malloc+memcpy+free of 64 bytes, twice per pair;
// returns the pairs per second.
static double copy_baseline(int64_t n)
{
	char data[64];
	void *volatile sink;

	memset(data, 'x', sizeof(data));
	double t0 = bench_now();
	for (int64_t i = 0; i < 2 * n; i++) {
		void *p = malloc(sizeof(data));
		memcpy(p, data, sizeof(data));
		sink = p;
		free(sink);
	}
	return ((double) n / (bench_now() - t0));
}

// blocks_64m moves a 64 MiB bin from one store to another in 4 MiB blocks
// (the block iterator and the receiver, as a transfer between workers does
// them, without the network), rounds times; returns the median GB/s, and
// the median GB/s of a memcpy of the object in *copy_gbs.
static double blocks_64m(int rounds, double *copy_gbs)
{
	osc_store_config_t  cfg = { 0 };
	osc_store_t        *a;
	osc_store_t        *b;
	osc_store_blocks_t *it;
	osc_store_recv_t   *r;
	char               *big = malloc(BIG);
	char               *dst = malloc(BIG);
	double              t[100];
	double              c[100];
	uint64_t            total;
	const void         *p;
	size_t              n;
	int                 rv;

	if (big == NULL || dst == NULL) {
		bench_fail("out of memory");
	}
	memset(big, 7, BIG);
	memset(dst, 0, BIG);
	if ((rv = osc_store_open(&cfg, &a, NULL)) != 0 ||
	    (rv = osc_store_open(&cfg, &b, NULL)) != 0 ||
	    (rv = osc_store_session_create(a, "bench", false, NULL)) != 0 ||
	    (rv = osc_store_session_create(b, "bench", false, NULL)) != 0 ||
	    (rv = osc_store_put(a, "bench", "big", oscar_value_new_bin(big, BIG), NULL)) != 0) {
		bench_die("store", rv);
	}
	for (int k = 0; k < rounds; k++) {
		double t0 = bench_now();
		if ((rv = osc_store_blocks_open(a, "bench", "big", 4u << 20, &it, &total, NULL)) !=
		        0 ||
		    (rv = osc_store_recv_open(b, "bench", "big", total, &r, NULL)) != 0) {
			bench_die("blocks", rv);
		}
		while (osc_store_blocks_next(it, &p, &n) == 0 && n > 0) {
			if ((rv = osc_store_recv_push(r, p, n, NULL)) != 0) {
				bench_die("push", rv);
			}
		}
		osc_store_blocks_close(it);
		if ((rv = osc_store_recv_commit(r, NULL)) != 0) {
			bench_die("commit", rv);
		}
		t[k] = (double) BIG / (bench_now() - t0) / 1e9;
		t0   = bench_now();
		memcpy(dst, big, BIG);
		c[k] = (double) BIG / (bench_now() - t0) / 1e9;
	}
	osc_store_close(a);
	osc_store_close(b);
	free(big);
	free(dst);
	*copy_gbs = bench_median(c, rounds);
	return (bench_median(t, rounds));
}

// child_serve maps each segment it receives, reads two bytes, answers.
static void child_serve(int sock)
{
	osc_shm_map_t m;
	char          msg[16];
	size_t        len;
	int           fd;

	while (osc_shm_recv_fd(sock, &fd, msg, sizeof(msg), &len, 60000) == 0) {
		char ans = 'e';
		if (osc_shm_map(fd, false, &m) == 0) {
			ans = (char) (m.data[0] ^ m.data[m.len - 1]);
			osc_shm_unmap(&m);
		}
		close(fd);
		if (write(sock, &ans, 1) != 1) {
			break;
		}
	}
	_exit(0);
}

// handover times rounds handovers of a 64 MiB object, and one export and
// one memcpy of it; in milliseconds (medians).
static void handover(int rounds, double *ms, double *export_ms, double *copy_ms)
{
	osc_store_config_t cfg = { 0 };
	osc_store_t       *s;
	char              *big = malloc(BIG);
	char              *dst = malloc(BIG);
	double             t[100];
	double             c[100];
	size_t             size;
	int                sv[2];
	int                fd;
	int                rv;
	pid_t              pid;

	if (big == NULL || dst == NULL) {
		bench_fail("out of memory");
	}
	for (size_t i = 0; i < BIG; i++) {
		big[i] = (char) i;
	}
	memset(dst, 0, BIG);
	if ((rv = osc_store_open(&cfg, &s, NULL)) != 0 ||
	    (rv = osc_store_session_create(s, "bench", false, NULL)) != 0 ||
	    (rv = osc_store_put(s, "bench", "big", oscar_value_new_bin(big, BIG), NULL)) != 0) {
		bench_die("store", rv);
	}
	double t0 = bench_now();
	if ((rv = osc_store_export(s, "bench", "big", &fd, &size, NULL)) != 0) {
		bench_die("export", rv);
	}
	*export_ms = (bench_now() - t0) * 1e3;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		bench_fail("socketpair");
	}
	if ((pid = fork()) < 0) {
		bench_fail("fork");
	}
	if (pid == 0) {
		close(sv[0]);
		child_serve(sv[1]);
	}
	close(sv[1]);
	for (int r = 0; r < rounds; r++) {
		char ans;
		t0 = bench_now();
		if (osc_shm_send_fd(sv[0], fd, "big", 3) != 0 || read(sv[0], &ans, 1) != 1 ||
		    ans != (char) (big[0] ^ big[BIG - 1])) {
			bench_fail("handover: the child did not answer right");
		}
		t[r] = (bench_now() - t0) * 1e3;
		t0   = bench_now();
		memcpy(dst, big, BIG);
		c[r] = (bench_now() - t0) * 1e3;
	}
	close(sv[0]); // the child sees the end of the stream and exits
	waitpid(pid, NULL, 0);
	*ms      = bench_median(t, rounds);
	*copy_ms = bench_median(c, rounds);
	osc_store_close(s);
	free(big);
	free(dst);
}

// ---------------------------------------------------------------------------
// The service: nodes in this process

typedef struct svc_bench {
	oscar_node_t *sup;
	oscar_node_t *w[2];
	oscar_pool_t *pool;
} svc_bench_t;

static void svc_open(svc_bench_t *b)
{
	oscar_settings_t   *s;
	oscar_error_t       err;
	oscar_pool_config_t cfg;
	int                 rv;
	oscar_log_setup("error", NULL);
	oscar_settings_new(&s);
	if ((rv = oscar_node_start(&b->sup, OSCAR_ROLE_SUPERVISOR, s, NULL, &err)) != 0) {
		bench_fail("supervisor: %s", err.message);
	}
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(b->sup));
	for (int i = 0; i < 2; i++) {
		if ((rv = oscar_node_start(&b->w[i], OSCAR_ROLE_WORKER, s, NULL, &err)) != 0 ||
		    (rv = oscar_node_session_create(b->w[i], "bench", &err)) != 0) {
			bench_fail("worker: %s", err.message);
		}
	}
	oscar_settings_free(&s);
	oscar_pool_config_init(&cfg);
	cfg.address = "tcp://127.0.0.1:0";
	if ((rv = oscar_pool_open(&b->pool, &cfg, NULL)) != 0) {
		bench_die("client pool", rv);
	}
}

static void svc_close(svc_bench_t *b)
{
	oscar_node_stop(&b->w[1]);
	oscar_node_stop(&b->w[0]);
	oscar_node_stop(&b->sup);
	oscar_pool_free(&b->pool);
}

// svc_rt times n put+get pairs of a bin of size bytes through worker 0's
// storage; returns the seconds per pair.
static double svc_rt(svc_bench_t *b, int64_t n, size_t size)
{
	const char   *at     = oscar_node_address(b->w[0]);
	const char   *keys[] = { "k" };
	char         *data   = malloc(size);
	oscar_error_t err;
	if (data == NULL) {
		bench_fail("out of memory");
	}
	memset(data, 'x', size);
	double t0 = bench_now();
	for (int64_t i = 0; i < n; i++) {
		oscar_value_t *v   = oscar_value_new_bin(data, size);
		oscar_value_t *out = NULL;
		if (oscar_storage_put(b->pool, at, "bench", 1, keys, &v, NULL, 60000, &err) != 0 ||
		    oscar_storage_get(b->pool, at, "bench", 1, keys, NULL, 0, &out, 60000, &err) !=
		        0) {
			bench_fail("storage put/get: %s", err.message);
		}
		oscar_value_free(out);
	}
	double t = (bench_now() - t0) / (double) n;
	free(data);
	return (t);
}

// svc_pull times a pull of a 64 MiB bin from worker 0 to worker 1 (the
// copy there deleted after each); returns the seconds per pull.
static double svc_pull(svc_bench_t *b)
{
	const char   *keys[] = { "big" };
	oscar_error_t err;
	char         *data = malloc(BIG);
	if (data == NULL) {
		bench_fail("out of memory");
	}
	memset(data, 'y', BIG);
	oscar_value_t *v = oscar_value_new_bin(data, BIG);
	free(data);
	if (oscar_storage_put(b->pool, oscar_node_address(b->w[0]), "bench", 1, keys, &v, NULL,
	        60000, &err) != 0) {
		bench_fail("storage put: %s", err.message);
	}
	double t0 = bench_now();
	if (oscar_storage_pull(b->pool, oscar_node_address(b->w[1]), "bench", 1, keys,
	        oscar_node_address(b->w[0]), NULL, 60000, &err) != 0) {
		bench_fail("storage pull: %s", err.message);
	}
	double t = bench_now() - t0;
	if (oscar_storage_delete(
	        b->pool, oscar_node_address(b->w[1]), "bench", 1, keys, NULL, 60000, &err) != 0) {
		bench_fail("storage delete: %s", err.message);
	}
	return (t);
}

// The floor: plain NNG req/rep over tcp loopback, a thread echoing.
typedef struct nng_echo {
	nng_socket rep;
	pthread_t  thread;
} nng_echo_t;

static void *nng_echo_thread(void *arg)
{
	nng_echo_t *e = arg;
	nng_msg    *m;
	while (nng_recvmsg(e->rep, &m, 0) == 0) {
		if (nng_sendmsg(e->rep, m, 0) != 0) {
			nng_msg_free(m);
		}
	}
	return (NULL);
}

// nng_rt times n pairs of request/reply round trips carrying size bytes
// each way (what a put and a get move); returns the seconds per pair.
static double nng_rt(int64_t n, size_t size)
{
	nng_echo_t   e;
	nng_socket   req;
	nng_listener l;
	char         url[128];
	int          port;
	if (nng_rep0_open(&e.rep) != 0 || nng_req0_open(&req) != 0 ||
	    nng_listener_create(&l, e.rep, "tcp://127.0.0.1:0") != 0 ||
	    nng_listener_start(l, 0) != 0 ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
		bench_fail("nng floor: cannot listen");
	}
	nng_socket_set_size(e.rep, NNG_OPT_RECVMAXSZ, 0);
	nng_socket_set_size(req, NNG_OPT_RECVMAXSZ, 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	if (nng_dial(req, url, NULL, 0) != 0 ||
	    pthread_create(&e.thread, NULL, nng_echo_thread, &e) != 0) {
		bench_fail("nng floor: cannot dial");
	}
	char  *data = calloc(1, size);
	double t0   = bench_now();
	for (int64_t i = 0; i < 2 * n; i++) {
		nng_msg *m;
		// A put sends the bytes and gets a short answer; a get the
		// other way round: each round trip moves them once.
		if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, data, size) != 0 ||
		    nng_sendmsg(req, m, 0) != 0 || nng_recvmsg(req, &m, 0) != 0) {
			bench_fail("nng floor: round trip");
		}
		nng_msg_free(m);
	}
	double t = (bench_now() - t0) / (double) n;
	free(data);
	nng_close(req);
	nng_close(e.rep);
	pthread_join(e.thread, NULL);
	return (t);
}

// copy_big times one memcpy of 64 MiB into fresh memory, in seconds.
static double copy_big(void)
{
	char *a = malloc(BIG), *b = malloc(BIG);
	if (a == NULL || b == NULL) {
		bench_fail("out of memory");
	}
	memset(a, 1, BIG);
	double t0 = bench_now();
	memcpy(b, a, BIG);
	// Keep the compiler from dropping a copy that is read only once.
	__asm__ volatile("" : : "r"(b) : "memory");
	double t = bench_now() - t0;
	if (b[BIG - 1] != 1) {
		bench_fail("memcpy");
	}
	free(a);
	free(b);
	return (t);
}

static double bench_min(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++) {
		m = v[i] < m ? v[i] : m;
	}
	return (m);
}

static double bench_max(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++) {
		m = v[i] > m ? v[i] : m;
	}
	return (m);
}

static void svc_rows(const bench_opts_t *o, bench_row_t *rows, size_t max, size_t *n)
{
	bool small = bench_want(o->only, "storage-rt-small");
	bool big   = bench_want(o->only, "storage-rt-64m");
	bool pull  = bench_want(o->only, "storage-pull-64m");
	if (!small && !big && !pull) {
		return;
	}
	svc_bench_t b = { 0 };
	svc_open(&b);
	int rounds = o->rounds < 100 ? o->rounds : 100;
	if (small && *n < max) {
		int64_t count = o->quick ? 2000 : 20000;
		double  v[100], f[100], c[100];
		for (int r = 0; r < rounds; r++) {
			v[r] = 1.0 / svc_rt(&b, count, 64) / 1e3;
			f[r] = 1.0 / nng_rt(count, 64) / 1e3;
			c[r] = f[r] / v[r];
		}
		rows[(*n)++]          = (bench_row_t) { .name = "storage-rt-small",
			         .unit                        = "k/s",
			         .value                       = bench_median(v, rounds),
			         .baseline_name               = "NNG req/rep, 2 round trips",
			         .baseline                    = bench_median(f, rounds),
			         .higher_is_better            = true,
			         .floor                       = bench_median(f, rounds),
			         .floor_name                  = "NNG req/rep tcp",
			         .cost                        = bench_median(c, rounds) };
		rows[*n - 1].cost_min = bench_min(c, rounds);
		rows[*n - 1].cost_max = bench_max(c, rounds);
	}
	if (big && *n < max) {
		int    count = o->quick ? 2 : 5;
		double v[100], f[100], m[100], c[100];
		for (int r = 0; r < rounds; r++) {
			// GB/s of object moved: 64 MiB in and 64 MiB out per pair.
			v[r] = 2.0 * BIG / svc_rt(&b, count, BIG) / 1e9;
			f[r] = 2.0 * BIG / nng_rt(count, BIG) / 1e9;
			m[r] = BIG / copy_big() / 1e9;
			c[r] = f[r] / v[r];
		}
		rows[(*n)++]          = (bench_row_t) { .name = "storage-rt-64m",
			         .unit                        = "GB/s",
			         .value                       = bench_median(v, rounds),
			         .baseline_name               = "memcpy 64 MiB",
			         .baseline                    = bench_median(m, rounds),
			         .higher_is_better            = true,
			         .floor                       = bench_median(f, rounds),
			         .floor_name                  = "NNG req/rep tcp",
			         .cost                        = bench_median(c, rounds) };
		rows[*n - 1].cost_min = bench_min(c, rounds);
		rows[*n - 1].cost_max = bench_max(c, rounds);
	}
	if (pull && *n < max) {
		double v[100], m[100];
		for (int r = 0; r < rounds; r++) {
			v[r] = BIG / svc_pull(&b) / 1e9;
			m[r] = BIG / copy_big() / 1e9;
		}
		rows[(*n)++] = (bench_row_t) { .name = "storage-pull-64m",
			.unit                        = "GB/s",
			.value                       = bench_median(v, rounds),
			.baseline_name               = "memcpy 64 MiB",
			.baseline                    = bench_median(m, rounds),
			.higher_is_better            = true };
	}
	svc_close(&b);
}

size_t bench_storage_run(const bench_opts_t *o, bench_row_t *rows, size_t max)
{
	size_t n = 0;

	if (bench_want(o->only, "store-put-get") && n < max) {
		int64_t count = o->quick ? 200000 : 1000000;
		double  v[100];
		double  b[100];
		for (int r = 0; r < o->rounds; r++) {
			v[r] = put_get(count) / 1e6;
			b[r] = copy_baseline(count) / 1e6;
		}
		rows[n++] = (bench_row_t) { .name = "store-put-get",
			.unit                     = "M/s",
			.value                    = bench_median(v, o->rounds),
			.baseline_name            = "2x malloc+memcpy 64 B",
			.baseline                 = bench_median(b, o->rounds),
			.higher_is_better         = true };
	}
	if (bench_want(o->only, "store-blocks-64m") && n < max) {
		double copy_gbs;
		double gbs = blocks_64m(o->rounds < 5 ? 5 : o->rounds, &copy_gbs);
		rows[n++]  = (bench_row_t) { .name = "store-blocks-64m",
			 .unit                     = "GB/s",
			 .value                    = gbs,
			 .baseline_name            = "memcpy 64 MiB",
			 .baseline                 = copy_gbs,
			 .higher_is_better         = true };
	}
	if (bench_want(o->only, "shm-handover-64m") && n < max) {
		double ms;
		double export_ms;
		double copy_ms;
		handover(o->rounds < 5 ? 5 : o->rounds, &ms, &export_ms, &copy_ms);
		rows[n++] = (bench_row_t) { .name = "shm-handover-64m",
			.unit                     = "ms",
			.value                    = ms,
			.baseline_name            = "memcpy 64 MiB",
			.baseline                 = copy_ms,
			.target                   = 1.0 };
		printf("store-export-64m (the segment made once per object): %.3f ms\n", export_ms);
	}
	svc_rows(o, rows, max, &n);
	return (n);
}
