// The storage workloads of oscar-bench: the object store's put and get of
// small objects, a 64 MiB object moved between two stores in blocks (the
// iterator and the receiver of a transfer, without the network), and the
// handover of a 64 MiB object to another process through a shared-memory
// segment, each against a memcpy.
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

#include "bench/bench.h"
#include "services/storage/shm.h"
#include "services/storage/store.h"

const char *const bench_storage_names[] = { "store-put-get", "store-blocks-64m", "shm-handover-64m",
	NULL };

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
	return (n);
}
