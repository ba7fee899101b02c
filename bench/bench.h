// What the parts of oscar-bench share: timing helpers, the result rows,
// child processes (child.c), the entry points of the cross-process
// workloads (cross.c), the peers it compares with (peers.c) and the
// report (report.c).
#ifndef OSCAR_BENCH_H
#define OSCAR_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oscar/oscar.h"

// bench_now returns a monotonic time in seconds.
double bench_now(void);

// bench_median sorts v[0..n) and returns its median.
double bench_median(double *v, int n);

// bench_die reports what failed with Oscar-C code rv and exits with 1.
void bench_die(const char *what, int rv)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

// bench_fail reports a printf-style message and exits with 1.
void bench_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 1, 2)))
#endif
    ;

// bench_want tells whether workload name is selected by only: NULL selects
// everything; otherwise only is a comma-separated list of workload names,
// where "cross" stands for every cross-process workload.
bool bench_want(const char *only, const char *name);

// The pinger class (bench.c): pinger.run([peer_uid, n]) calls
// peer_uid.echo n times, one call after the other from the reply callback,
// and answers once the last reply came; pinger.run([peer_uid, n, address])
// does the same with an actor of the pool at address, and
// pinger.run([peer_uid, n, address, in_flight]) keeps in_flight calls
// outstanding. pinger.echo answers nil.
extern const oscar_actor_class_t bench_pinger_class;

// The peers: Erlang/OTP and CAF (bench/peers/), in the report's order.
#define BENCH_NPEERS 2
extern const char *const bench_peer_names[BENCH_NPEERS];

// bench_row_t is one line of the report.
typedef struct bench_row {
	const char *name;
	const char *unit;
	double      value;
	const char *baseline_name;
	double      baseline;
	bool        higher_is_better;
	double      target;
	// floor, when not 0, is plain NNG doing the same over the same
	// transport, in the row's unit. cost is Oscar-C's time per operation
	// over the floor's (above 1: Oscar-C is slower): the median, lowest
	// and highest of the rounds' ratios, each round timing both.
	double      floor;
	const char *floor_name;
	double      cost, cost_min, cost_max;
	// Context switches and CPU microseconds per operation, both processes
	// together (Linux), for Oscar-C and for the floor; 0 when not measured.
	double switches;
	double floor_switches;
	double cpu_us;
	double floor_cpu_us;
	// Minor page faults per operation, likewise (fresh memory touched).
	double faults;
	double floor_faults;
	// Times the sender backed off on OSCAR_EMBOXFULL (tell rows).
	int64_t backoffs;
	// The peers' medians (bench_peer_names order), 0 when not measured.
	double peer[BENCH_NPEERS];
	// Dask distributed's median (dask.c), 0 when not measured, and how
	// many times ahead of it issue 14 wants Oscar-C to be (0: no aim).
	double dask;
	double dask_aim;
} bench_row_t;

typedef struct bench_peers bench_peers_t;
typedef struct bench_dask  bench_dask_t;

typedef struct bench_opts {
	bool           quick;
	int            rounds;
	const char    *only;
	bench_peers_t *peers; // the peers to run beside Oscar-C, or NULL
	bench_dask_t  *dask;  // Dask distributed beside the task rows, or NULL
} bench_opts_t;

// bench_cross_names lists the cross-process workloads, NULL-terminated.
extern const char *const bench_cross_names[];

// bench_cross_serve runs the child side of the cross-process workloads when
// argv asks for it (the hidden flags --serve-oscar ADDRESS and --serve-nng
// ADDRESS) and returns the process's exit status; otherwise it returns -1.
int bench_cross_serve(int argc, char **argv);

// bench_cross_run runs the cross-process workloads that o selects, starting
// and reaping the child processes they need, and stores up to max rows in
// rows. Returns the number of rows stored.
size_t bench_cross_run(const bench_opts_t *o, bench_row_t *rows, size_t max);

// bench_graph_names lists the graph engine's workloads (graph.c),
// NULL-terminated; bench_graph_run runs those o selects and stores up to
// max rows. Returns the number of rows stored.
extern const char *const bench_graph_names[];
size_t                   bench_graph_run(const bench_opts_t *o, bench_row_t *rows, size_t max);
// bench_storage_names lists the storage workloads (storage.c),
// NULL-terminated.
extern const char *const bench_storage_names[];

// bench_storage_run runs the storage workloads that o selects and stores
// up to max rows. Returns the number of rows stored.
size_t bench_storage_run(const bench_opts_t *o, bench_row_t *rows, size_t max);

// bench_tasks_names lists the task workloads (tasks.c),
// NULL-terminated; bench_tasks_run runs those o selects and stores up to
// max rows. bench_tasks_subpool runs this process as a worker's sub pool
// (a slot) when a node started it so, and returns its exit status;
// otherwise it returns -1.
extern const char *const bench_tasks_names[];
size_t                   bench_tasks_run(const bench_opts_t *o, bench_row_t *rows, size_t max);
int                      bench_tasks_subpool(void);

// ---------------------------------------------------------------------------
// Child processes (child.c)

// bench_child_t is a child process with its stdin and stdout on pipes.
typedef struct bench_child {
	pid_t  pid;                  // 0 once reaped
	int    in;                   // the write end of its stdin, or -1
	int    out;                  // the read end of its stdout, or -1
	char   name[32];             // for messages
	char   addr[OSCAR_ADDR_MAX]; // what it said it listens on (cross.c)
	char   path[OSCAR_ADDR_MAX]; // a file to remove once it is gone, or ""
	char   buf[4096];            // what was read past the last line
	size_t len;
} bench_child_t;

// bench_child_start starts argv[0] (looked up in PATH unless it holds a
// slash) with argv, its stdin and stdout on pipes, and registers it to be
// killed and reaped should the bench exit or be interrupted; path, if not
// NULL, is a file to remove once it is gone. Returns 0 or an errno value.
int bench_child_start(bench_child_t *c, const char *name, char *const argv[], const char *path);

// bench_child_read_line reads the next line the child prints, without its
// newline, waiting at most timeout_ms. Returns 0, ETIMEDOUT, or EPIPE when
// the child closed its stdout (it exited).
int bench_child_read_line(bench_child_t *c, char *line, size_t size, int timeout_ms);

// bench_child_write_line writes line (with its newline) to the child's
// stdin. Returns 0 or EPIPE.
int bench_child_write_line(bench_child_t *c, const char *line);

// bench_child_reap closes the child's stdin (which tells it to exit),
// waits for it (SIGKILL after a grace period), and removes its file.
void bench_child_reap(bench_child_t *c);

// bench_child_kill kills the child at once, then reaps it.
void bench_child_kill(bench_child_t *c);

// bench_which finds prog in PATH (or checks it, if it holds a slash) and
// writes its path to out.
bool bench_which(const char *prog, char *out, size_t size);

// bench_file_track registers a file to remove should the bench exit or be
// interrupted; bench_file_untrack removes it now and forgets it.
void bench_file_track(const char *path);
void bench_file_untrack(const char *path);

// ---------------------------------------------------------------------------
// Peers (peers.c)

// bench_peers_open starts the peers built in dir (bench/peers/build.sh
// puts them there), for o's counts; a peer that is missing or does not
// start is noted with its reason and left out. Never fails.
bench_peers_t *bench_peers_open(const char *dir, const bench_opts_t *o);

// bench_peers_run runs workload with count n on each peer that is up, one
// after the other, and keeps each value as one more sample of the peer's.
// A peer that fails is left out from then on, with the reason.
void bench_peers_run(bench_peers_t *p, const char *workload, int64_t n);

// bench_peers_fill sets each row's peer medians from the samples kept.
void bench_peers_fill(const bench_peers_t *p, bench_row_t *rows, size_t n);

// bench_peers_status returns NULL when peer i ran, else why it did not
// (a constant or a string owned by p).
const char *bench_peers_status(const bench_peers_t *p, int i);

// bench_peers_does tells whether the peers have a workload of that name.
bool bench_peers_does(const char *workload);

// bench_peers_note returns why peer i has no figure for workload when the
// workload failed there, or NULL.
const char *bench_peers_note(const bench_peers_t *p, int i, const char *workload);

// bench_peers_close stops the peers and frees p (NULL is fine).
void bench_peers_close(bench_peers_t *p);

// ---------------------------------------------------------------------------
// The task client (taskclient.c): what the task workloads ask of a
// cluster, through the client API (session.h). Every call exits the bench
// with the client's error on failure. Futures and objects are the
// caller's, to release with bench_tc_release.

typedef struct bench_tc bench_tc_t;

// bench_tc_open starts a supervisor and two workers with one slot each in
// this process (the slots are sub pools running this program), with the
// registries given (worker i: wi; the bench's functions are offered by
// the workers whose registry has them), waits for both workers and opens
// a session on the supervisor (oscar_session_open). bench_tc_close closes
// the session (all it holds is released), stops it all and clears *tcp.
bench_tc_t *bench_tc_open(oscar_registry_t *sup, oscar_registry_t *w0, oscar_registry_t *w1);
void        bench_tc_close(bench_tc_t **tcp);

// bench_tc_map is oscar_future_map of fn over items (consumed), impure (a
// random key per call, as Dask's pure=False), into futs[0..len(items)).
// bench_tc_submit is oscar_future_submit of fn with args (consumed),
// impure. bench_tc_gather is oscar_future_gather into values[0..n).
void bench_tc_map(bench_tc_t *tc, const char *fn, oscar_value_t *items, oscar_future_t **futs);
oscar_future_t *bench_tc_submit(bench_tc_t *tc, const char *fn, oscar_value_t *args);
void            bench_tc_gather(oscar_future_t *const *futs, size_t n, oscar_value_t **values);

// bench_tc_spawn is oscar_spawn of fn with args (consumed), one output,
// impure; bench_tc_execute is oscar_execute of objs[0..n) (one graph of
// them and what they depend on, waited for); bench_tc_fetch is oscar_fetch
// of objs[0..n) into values[0..n).
oscar_object_t *bench_tc_spawn(bench_tc_t *tc, const char *fn, oscar_value_t *args);
void            bench_tc_execute(bench_tc_t *tc, oscar_object_t *const *objs, size_t n);
void bench_tc_fetch(bench_tc_t *tc, oscar_object_t *const *objs, size_t n, oscar_value_t **values);

// bench_tc_release frees objs[0..n) (futures too; the cluster deletes
// their outputs); bench_tc_values_free frees values[0..n).
void bench_tc_release(oscar_object_t **objs, size_t n);
void bench_tc_values_free(oscar_value_t **values, size_t n);

// bench_tc_sup_cpu gives the CPU time of the supervisor's pool thread, in
// seconds.
double bench_tc_sup_cpu(bench_tc_t *tc);

// bench_tc_local_start starts a local cluster of processes and opens a
// session on it (oscar_session_new_local): a supervisor and two workers
// with one slot each, on 127.0.0.1, from the programs in bin_dir.
// bench_tc_local_stop closes the session, which stops the cluster. Their
// results are oscar_session_new_local's and oscar_session_close's.
int bench_tc_local_start(oscar_session_t **sp, const char *bin_dir, oscar_error_t *err);
int bench_tc_local_stop(oscar_session_t **sp, oscar_error_t *err);

// ---------------------------------------------------------------------------
// Dask distributed (dask.c), beside the task workloads

// bench_dask_open starts the Dask driver that bench/peers/build.sh copied
// into dir (dask_peer.py, run by /usr/bin/python3) when o selects a task
// workload; a driver that is missing or does not start is noted with its
// reason (dir/dask.na, left by build.sh, says why it is missing). Never
// fails.
bench_dask_t *bench_dask_open(const char *dir, const bench_opts_t *o);

// bench_dask_start does the same with the driver's command line argv.
bench_dask_t *bench_dask_start(char *const argv[], const bench_opts_t *o);

// bench_dask_run runs one round of workload with count n on the driver,
// when it is up, and keeps each figure of its answer as one more sample of
// the row it names. A workload that fails is noted; a driver that stops
// answering or exits is left out from then on, with the reason.
void bench_dask_run(bench_dask_t *d, const char *workload, int64_t n);

// bench_dask_fill sets each row's dask field from the samples kept.
void bench_dask_fill(const bench_dask_t *d, bench_row_t *rows, size_t n);

// bench_dask_does tells whether Dask has a figure for the row of that name.
bool bench_dask_does(const char *row);

// bench_dask_status returns NULL when the driver ran, else why it did not;
// bench_dask_note returns why row has no figure (its workload failed, or
// the driver's status), or NULL. Both strings are owned by d or constant.
const char *bench_dask_status(const bench_dask_t *d);
const char *bench_dask_note(const bench_dask_t *d, const char *row);

// bench_dask_version gives the driver's distributed version, or NULL.
const char *bench_dask_version(const bench_dask_t *d);

// bench_dask_close stops the driver (its cluster with it) and frees d
// (NULL is fine).
void bench_dask_close(bench_dask_t *d);

// One line of the driver's, parsed (bench_dask_parse).
#define BENCH_DASK_NAME_MAX    32
#define BENCH_DASK_FIGURES_MAX 16
typedef struct bench_dask_answer {
	bool has_ready; // a "ready" field: the start line
	bool ready;
	bool is_error; // an "error" field
	char workload[BENCH_DASK_NAME_MAX];
	char error[256];
	char version[64];
	int  nfigures;
	struct {
		char   row[BENCH_DASK_NAME_MAX];
		double value;
	} figures[BENCH_DASK_FIGURES_MAX];
} bench_dask_answer_t;

// bench_dask_parse reads one of the driver's JSON lines into a: a start
// line ({"ready": bool, ...}), or a workload's answer ({"workload": W,
// "figures": {ROW: number, ...}} or {"workload": W, "error": "..."}).
// Unknown fields are skipped; strings are truncated to fit. Returns 0, or
// -1 for anything else (not JSON, not one object, numbers that are not).
int bench_dask_parse(const char *line, bench_dask_answer_t *a);

// ---------------------------------------------------------------------------
// The report (report.c)

// bench_report_print prints the rows: against the peers first, then the
// baselines and targets, then the cross-process costs.
void bench_report_print(const bench_opts_t *o, const bench_row_t *rows, size_t n);

// bench_report_json writes the rows and the machine's description to
// path. Returns 0, or -1 after saying why on stderr.
int bench_report_json(const char *path, const bench_opts_t *o, const bench_row_t *rows, size_t n);

#endif // OSCAR_BENCH_H
