// The task workloads of oscar-bench, issues 12 and 14's figures: a
// supervisor and two workers with one slot each, in this process (the
// workers' slots are sub pools running this program, which main() sends
// to bench_tasks_subpool first), running the example functions, driven
// through the client API by way of the task client (taskclient.c): a
// session, futures and spawned objects, released after each round,
// outside the clock. Each round of each workload is
// followed by the same round on Dask distributed (dask.c), with the same
// counts, when it is up.
//
//   tasks-10k   10,000 independent inc tasks in one graph, from submit to
//               every result gathered in this process: tasks per second
//   task-one    one inc task, from submit to its result fetched: p50 and
//               p99 (row task-one-p99) of the tasks' latencies, µs
//   tasks-tree  a fan-in tree: 10,000 inc leaves, 100 sums of 100 leaves
//               each, one sum of the 100 (10,101 tasks), from submit to
//               the root's result gathered: tasks per second
//   tasks-chain a chain of 1,000 inc tasks, each taking the one before,
//               from submit to the last result gathered: µs per task
//   tasks-sup-cpu the supervisor pool thread's CPU time per task over
//               tasks-10k's rounds: µs per task
//   tasks-bin64m a 64 MiB result made on worker 0 (bench.make), taken as
//               the input of a task on worker 1 (bench.take, its length),
//               then both results gathered here: GB/s over the 128 MiB
//               moved, beside a memcpy of 64 MiB in this process
//   tasks-cluster a local cluster of processes and a session on it
//               (oscar_session_new_local): a supervisor, two workers, one
//               slot each: start to the session open, and the session's
//               close, which stops the cluster (rows cluster-start,
//               cluster-stop, ms), and the RSS of the supervisor, of
//               each worker and of each slot, and of them all
//               (rss-supervisor, rss-worker, rss-slot, rss-cluster: MiB,
//               the workers' and slots' averaged)
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "oscar/oscar.h"

#include "taskfns.h"

#define BIN_SIZE ((size_t) 64 << 20)

const char *const bench_tasks_names[] = { "tasks-10k", "task-one", "tasks-tree", "tasks-chain",
	"tasks-sup-cpu", "tasks-bin64m", "tasks-cluster", NULL };

// bench.make([n]): a bin of n bytes, every one written.
static int fn_make(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t n;
	char   *buf;
	if (oscar_value_get_int(oscar_value_at(args, 0), &n) != 0 || n < 0 ||
	    (uint64_t) n > (uint64_t) 1 << 32) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "make takes a size up to 4 GiB"));
	}
	if ((buf = malloc((size_t) n + 1)) == NULL) {
		return (
		    oscar_task_fail(ctx, OSCAR_ENOMEM, "no room for %lld bytes", (long long) n));
	}
	memset(buf, 1, (size_t) n);
	*result = oscar_value_new_bin(buf, (size_t) n);
	free(buf);
	return (*result != NULL ? 0 : oscar_task_fail(ctx, OSCAR_ENOMEM, "out of memory"));
}

// bench.take([bin]): its length.
static int fn_take(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const void *p;
	size_t      len;
	if (oscar_value_get_bin(oscar_value_at(args, 0), &p, &len) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "take takes a bin"));
	}
	*result = oscar_value_new_uint(len);
	return (*result != NULL ? 0 : oscar_task_fail(ctx, OSCAR_ENOMEM, "out of memory"));
}

// tasks_registry makes a registry of the example functions, with
// bench.make when make, and bench.take when take: a worker offers only
// the functions of its registry, which is how tasks-bin64m puts its two
// tasks on two workers. The slots have them all.
static oscar_registry_t *tasks_registry(bool make, bool take)
{
	oscar_registry_t *reg = NULL;
	oscar_taskfns_t  *fns;
	oscar_error_t     err;
	if (oscar_registry_new(&reg) != 0) {
		return (NULL);
	}
	fns = oscar_registry_taskfns(reg);
	if (oscar_example_taskfns_add(fns, &err) != 0 ||
	    (make && oscar_taskfns_add(fns, "bench.make", fn_make, NULL, &err) != 0) ||
	    (take && oscar_taskfns_add(fns, "bench.take", fn_take, NULL, &err) != 0)) {
		oscar_registry_free(&reg);
	}
	return (reg);
}

int bench_tasks_subpool(void)
{
	if (getenv("OSCAR_SUBPOOL_ADDRESS") == NULL) {
		return (-1);
	}
	oscar_registry_t *reg = tasks_registry(true, true);
	int               rv  = reg != NULL ? oscar_node_subpool_main(reg) : 1;
	oscar_registry_free(&reg);
	return (rv);
}

// int_args gives the arguments [x].
static oscar_value_t *int_args(int64_t x)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, oscar_value_new_int(x));
	return (a);
}

// ref_args gives the arguments [o], a reference to o's output.
static oscar_value_t *ref_args(const oscar_object_t *o)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, oscar_object_ref(o));
	return (a);
}

// tree_spawn spawns the fan-in tree: leaves inc leaves, sums of fan leaves
// each, and a sum of those sums, into objs (leaves + leaves / fan + 1 of
// them, the root last), and gives how many.
static int tree_spawn(bench_tc_t *tc, int leaves, int fan, oscar_object_t **objs)
{
	int            mids = leaves / fan, k = 0;
	oscar_value_t *top = oscar_value_new_array((size_t) mids);
	for (int m = 0; m < mids; m++) {
		oscar_value_t *a = oscar_value_new_array((size_t) fan);
		for (int i = 0; i < fan; i++) {
			objs[k] = bench_tc_spawn(tc, "inc", int_args(m * fan + i));
			oscar_value_array_push(a, oscar_object_ref(objs[k++]));
		}
		objs[k] = bench_tc_spawn(tc, "sum", a);
		oscar_value_array_push(top, oscar_object_ref(objs[k++]));
	}
	objs[k] = bench_tc_spawn(tc, "sum", top);
	return (k + 1);
}

// check_int checks that v is the integer want.
static void check_int(const oscar_value_t *v, int64_t want, const char *what)
{
	int64_t got;
	if (oscar_value_get_int(v, &got) != 0 || got != want) {
		bench_fail("%s is not %lld", what, (long long) want);
	}
}

// percentile returns the p-th percentile of v[0..n), sorted in place, as
// the Dask driver computes it (the nearest rank).
static double percentile(double *v, int n, double p)
{
	bench_median(v, n); // sorts
	int k = (int) (p / 100.0 * (n - 1) + 0.5);
	return (v[k < 0 ? 0 : k >= n ? n - 1 : k]);
}

// memcpy_rate returns GB/s for n copies of 64 MiB between buffers already
// in memory: the ceiling for moving the bytes at all.
static double memcpy_rate(int n)
{
	char  *src = malloc(BIN_SIZE), *dst = malloc(BIN_SIZE);
	double total = 0;
	if (src == NULL || dst == NULL) {
		bench_die("memcpy baseline", OSCAR_ENOMEM);
	}
	memset(src, 1, BIN_SIZE);
	memset(dst, 0, BIN_SIZE);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now();
		memcpy(dst, src, BIN_SIZE);
		total += bench_now() - t0;
		// Keep the copy observable.
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	free(src);
	free(dst);
	return ((double) BIN_SIZE * n / total / 1e9);
}

// ---------------------------------------------------------------------------
// The local cluster of processes (tasks-cluster)

// rss_mib gives the resident set size of process pid in MiB, or 0.
static double rss_mib(pid_t pid)
{
	char  path[64], line[256];
	long  kb = 0;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (0);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	return ((double) kb / 1024.0);
}

// children lists the child processes of pid (from each of its threads'
// children file) into out, at most max; returns how many.
static int children(pid_t pid, pid_t *out, int max)
{
	char           path[64];
	int            n = 0;
	DIR           *d;
	struct dirent *e;
	snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
	if ((d = opendir(path)) == NULL) {
		return (0);
	}
	while ((e = readdir(d)) != NULL) {
		char  file[320];
		long  child;
		FILE *f;
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int) pid, e->d_name);
		if ((f = fopen(file, "r")) == NULL) {
			continue;
		}
		while (n < max && fscanf(f, "%ld", &child) == 1) {
			out[n++] = (pid_t) child;
		}
		fclose(f);
	}
	closedir(d);
	return (n);
}

// comm_is tells whether process pid's name (15 bytes at most) starts as
// name does.
static bool comm_is(pid_t pid, const char *name)
{
	char  path[64], comm[32] = "";
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (false);
	}
	if (fgets(comm, sizeof(comm), f) == NULL) {
		comm[0] = '\0';
	}
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return (comm[0] != '\0' && strncmp(name, comm, strlen(comm)) == 0);
}

typedef struct cluster_figures {
	double start_ms, stop_ms, sup, worker, slot, total;
} cluster_figures_t;

// cluster_round starts a local cluster, measures it and stops it.
static void cluster_round(const char *bin_dir, cluster_figures_t *f)
{
	oscar_session_t *s = NULL;
	oscar_error_t    err;
	pid_t            kids[64], slots[8];
	int              nslots = 0;
	double           t0     = bench_now();
	if (bench_tc_local_start(&s, bin_dir, &err) != 0) {
		bench_fail("cannot start a local cluster from %s: %s", bin_dir, err.message);
	}
	double t1 = bench_now();
	int    n  = children(getpid(), kids, 64);
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < n; i++) {
		if (comm_is(kids[i], "oscar-supervisor")) {
			f->sup = rss_mib(kids[i]);
		}
	}
	for (unsigned w = 0; w < 2; w++) {
		pid_t pid = (pid_t) oscar_session_local_pid(s, w);
		f->worker += rss_mib(pid) / 2;
		nslots += children(pid, slots + nslots, 4);
	}
	for (int i = 0; i < nslots; i++) {
		f->slot += rss_mib(slots[i]) / nslots;
	}
	if (f->sup <= 0 || f->worker <= 0 || nslots != 2 || f->slot <= 0) {
		bench_fail(
		    "local cluster: found no supervisor, %d slots of 2, or no memory figures",
		    nslots);
	}
	f->total    = f->sup + 2 * f->worker + nslots * f->slot;
	f->start_ms = (t1 - t0) * 1e3;
	double t2   = bench_now();
	if (bench_tc_local_stop(&s, &err) != 0) {
		bench_fail("the local cluster did not stop cleanly: %s", err.message);
	}
	f->stop_ms = (bench_now() - t2) * 1e3;
}

static size_t run_cluster(const bench_opts_t *o, bench_row_t *rows, size_t max)
{
	double            v[6][100];
	cluster_figures_t f;
	const char       *bin_dir = getenv("OSCAR_BIN_DIR");
	static const struct {
		const char *name, *unit;
	} names[6] = { { "cluster-start", "ms" }, { "cluster-stop", "ms" },
		{ "rss-supervisor", "MiB" }, { "rss-worker", "MiB" }, { "rss-slot", "MiB" },
		{ "rss-cluster", "MiB" } };
	size_t n   = 0;
	if (bin_dir == NULL) {
		bin_dir = OSCAR_BENCH_BIN_DIR;
	}
	for (int r = 0; r < o->rounds; r++) {
		cluster_round(bin_dir, &f);
		v[0][r] = f.start_ms;
		v[1][r] = f.stop_ms;
		v[2][r] = f.sup;
		v[3][r] = f.worker;
		v[4][r] = f.slot;
		v[5][r] = f.total;
		bench_dask_run(o->dask, "tasks-cluster", 1);
	}
	for (int i = 0; i < 6 && n < max; i++) {
		rows[n++] = (bench_row_t) { .name = names[i].name,
			.unit                     = names[i].unit,
			.value                    = bench_median(v[i], o->rounds),
			.higher_is_better         = false,
			.dask_aim                 = 1 };
	}
	return (n);
}

// ---------------------------------------------------------------------------

size_t bench_tasks_run(const bench_opts_t *o, bench_row_t *rows, size_t max)
{
	bool   many    = bench_want(o->only, "tasks-10k");
	bool   one     = bench_want(o->only, "task-one");
	bool   tree    = bench_want(o->only, "tasks-tree");
	bool   chain   = bench_want(o->only, "tasks-chain");
	bool   cpu     = bench_want(o->only, "tasks-sup-cpu");
	bool   bin     = bench_want(o->only, "tasks-bin64m");
	bool   cluster = bench_want(o->only, "tasks-cluster");
	int    rounds  = o->rounds;
	size_t n       = 0;
	if ((!many && !one && !tree && !chain && !cpu && !bin && !cluster) || max == 0) {
		return (0);
	}
	oscar_log_setup("error", NULL);
	// First, while nothing else of Oscar-C's runs: the cluster of
	// processes, whose memory is measured.
	if (cluster) {
		n += run_cluster(o, rows, max);
		if (!many && !one && !tree && !chain && !cpu && !bin) {
			return (n);
		}
	}
	oscar_registry_t *reg  = tasks_registry(false, false);
	oscar_registry_t *reg0 = tasks_registry(true, false);
	oscar_registry_t *reg1 = tasks_registry(false, true);
	if (reg == NULL || reg0 == NULL || reg1 == NULL) {
		bench_fail("cannot make a registry");
	}
	bench_tc_t *tc = bench_tc_open(reg, reg0, reg1);
	double      v[100], c[100], p99[100];
	// A warm-up map: the slots are up and the connections made.
	{
		oscar_future_t *warm[100];
		oscar_value_t  *vals[100];
		oscar_value_t  *items = oscar_value_new_array(100);
		for (int i = 0; i < 100; i++) {
			oscar_value_array_push(items, oscar_value_new_int(i));
		}
		bench_tc_map(tc, "inc", items, warm);
		bench_tc_gather(warm, 100, vals);
		bench_tc_values_free(vals, 100);
		bench_tc_release(warm, 100);
	}
	if ((many || cpu) && n < max) {
		int              count = o->quick ? 2000 : 10000;
		oscar_future_t **futs  = malloc((size_t) count * sizeof(*futs));
		oscar_value_t  **vals  = malloc((size_t) count * sizeof(*vals));
		if (futs == NULL || vals == NULL) {
			bench_die("tasks-10k", OSCAR_ENOMEM);
		}
		for (int r = 0; r < rounds; r++) {
			oscar_value_t *items = oscar_value_new_array((size_t) count);
			for (int i = 0; i < count; i++) {
				oscar_value_array_push(items, oscar_value_new_int(i));
			}
			double c0 = bench_tc_sup_cpu(tc);
			double t0 = bench_now();
			bench_tc_map(tc, "inc", items, futs);
			bench_tc_gather(futs, (size_t) count, vals);
			v[r] = count / (bench_now() - t0);
			c[r] = (bench_tc_sup_cpu(tc) - c0) / count * 1e6;
			for (int i = 0; i < count; i++) {
				check_int(vals[i], i + 1, oscar_future_key(futs[i]));
			}
			bench_tc_values_free(vals, (size_t) count);
			bench_tc_release(futs, (size_t) count);
			bench_dask_run(o->dask, "tasks-10k", count);
		}
		free(futs);
		free(vals);
	}
	if (many && n < max) {
		rows[n++] = (bench_row_t) { .name = "tasks-10k",
			.unit                     = "tasks/s",
			.value                    = bench_median(v, rounds),
			.higher_is_better         = true,
			.target                   = 50000,
			.dask_aim                 = 75 };
	}
	if (cpu && n < max) {
		// No target in issue 12: the figure is reported, and tells how
		// much of a task's end-to-end time the supervisor spends.
		rows[n++] = (bench_row_t) { .name = "tasks-sup-cpu",
			.unit                     = "us",
			.value                    = bench_median(c, rounds),
			.higher_is_better         = false,
			.dask_aim                 = 1 };
	}
	if (tree && n < max) {
		int              leaves = o->quick ? 2000 : 10000;
		oscar_object_t **objs =
		    malloc((size_t) (leaves + leaves / 100 + 1) * sizeof(*objs));
		if (objs == NULL) {
			bench_die("tasks-tree", OSCAR_ENOMEM);
		}
		for (int r = 0; r < rounds; r++) {
			oscar_value_t *got;
			int            count = tree_spawn(tc, leaves, 100, objs);
			double         t0    = bench_now();
			bench_tc_execute(tc, &objs[count - 1], 1);
			bench_tc_fetch(tc, &objs[count - 1], 1, &got);
			v[r] = count / (bench_now() - t0);
			check_int(got, (int64_t) leaves * (leaves + 1) / 2, "the tree's root");
			oscar_value_free(got);
			bench_tc_release(objs, (size_t) count);
			bench_dask_run(o->dask, "tasks-tree", leaves);
		}
		free(objs);
		rows[n++] = (bench_row_t) { .name = "tasks-tree",
			.unit                     = "tasks/s",
			.value                    = bench_median(v, rounds),
			.higher_is_better         = true,
			.target                   = 30000,
			.dask_aim                 = 75 };
	}
	if (chain && n < max) {
		int              count = o->quick ? 200 : 1000;
		oscar_object_t **objs  = malloc((size_t) count * sizeof(*objs));
		if (objs == NULL) {
			bench_die("tasks-chain", OSCAR_ENOMEM);
		}
		for (int r = 0; r < rounds; r++) {
			oscar_value_t *got;
			objs[0] = bench_tc_spawn(tc, "inc", int_args(0));
			for (int i = 1; i < count; i++) {
				objs[i] = bench_tc_spawn(tc, "inc", ref_args(objs[i - 1]));
			}
			double t0 = bench_now();
			bench_tc_execute(tc, &objs[count - 1], 1);
			bench_tc_fetch(tc, &objs[count - 1], 1, &got);
			v[r] = (bench_now() - t0) / count * 1e6;
			check_int(got, count, "the chain's last");
			oscar_value_free(got);
			bench_tc_release(objs, (size_t) count);
			bench_dask_run(o->dask, "tasks-chain", count);
		}
		free(objs);
		rows[n++] = (bench_row_t) { .name = "tasks-chain",
			.unit                     = "us",
			.value                    = bench_median(v, rounds),
			.higher_is_better         = false,
			.target                   = 100,
			.dask_aim                 = 50 };
	}
	if (one && n < max) {
		int     reps = o->quick ? 50 : 200;
		double *lat  = malloc(sizeof(double) * (size_t) reps);
		if (lat == NULL) {
			bench_die("task-one", OSCAR_ENOMEM);
		}
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < reps; i++) {
				oscar_value_t  *got;
				double          t0 = bench_now();
				oscar_future_t *f  = bench_tc_submit(tc, "inc", int_args(i));
				bench_tc_gather(&f, 1, &got);
				lat[i] = (bench_now() - t0) * 1e6;
				check_int(got, i + 1, oscar_future_key(f));
				oscar_value_free(got);
				bench_tc_release(&f, 1);
			}
			v[r]   = percentile(lat, reps, 50);
			p99[r] = percentile(lat, reps, 99);
			bench_dask_run(o->dask, "task-one", reps);
		}
		free(lat);
		rows[n++] = (bench_row_t) { .name = "task-one",
			.unit                     = "us",
			.value                    = bench_median(v, rounds),
			.higher_is_better         = false,
			.target                   = 500,
			.dask_aim                 = 20 };
		if (n < max) {
			rows[n++] = (bench_row_t) { .name = "task-one-p99",
				.unit                     = "us",
				.value                    = bench_median(p99, rounds),
				.higher_is_better         = false,
				.dask_aim                 = 1 };
		}
	}
	if (bin && n < max) {
		double base[100];
		for (int r = 0; r < rounds; r++) {
			oscar_object_t *objs[2];
			oscar_value_t  *vals[2];
			const void     *p;
			size_t          len;
			int64_t         got;
			// The placement is the workers' registries': only worker
			// 0 offers bench.make, only worker 1 bench.take.
			objs[0]   = bench_tc_spawn(tc, "bench.make", int_args((int64_t) BIN_SIZE));
			objs[1]   = bench_tc_spawn(tc, "bench.take", ref_args(objs[0]));
			double t0 = bench_now();
			bench_tc_execute(tc, objs, 2);
			bench_tc_fetch(tc, objs, 2, vals);
			v[r] = 2.0 * BIN_SIZE / (bench_now() - t0) / 1e9;
			if (oscar_value_get_bin(vals[0], &p, &len) != 0 || len != BIN_SIZE ||
			    oscar_value_get_int(vals[1], &got) != 0 || got != (int64_t) BIN_SIZE) {
				bench_fail("tasks-bin64m: the results are not 64 MiB");
			}
			bench_tc_values_free(vals, 2);
			bench_tc_release(objs, 2);
			base[r] = memcpy_rate(3);
			bench_dask_run(o->dask, "tasks-bin64m", (int64_t) BIN_SIZE);
		}
		rows[n++] = (bench_row_t) { .name = "tasks-bin64m",
			.unit                     = "GB/s",
			.value                    = bench_median(v, rounds),
			.baseline_name            = "memcpy 64 MiB",
			.baseline                 = bench_median(base, rounds),
			.higher_is_better         = true,
			.dask_aim                 = 1 };
	}
	bench_tc_close(&tc);
	oscar_registry_free(&reg);
	oscar_registry_free(&reg0);
	oscar_registry_free(&reg1);
	return (n);
}
