// What the parts of oscar-bench share: timing helpers, the result rows,
// and the entry points of the cross-process workloads (cross.c).
#ifndef OSCAR_BENCH_H
#define OSCAR_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
// does the same with an actor of the pool at address. pinger.echo answers
// nil.
extern const oscar_actor_class_t bench_pinger_class;

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
	// Times the sender backed off on OSCAR_EMBOXFULL (tell rows).
	int64_t backoffs;
} bench_row_t;

typedef struct bench_opts {
	bool        quick;
	int         rounds;
	const char *only;
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

#endif // OSCAR_BENCH_H
