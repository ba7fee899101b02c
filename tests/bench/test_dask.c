// oscar-bench's Dask side (bench/dask.c), without Dask: the driver's
// answers parsed, and every way the driver can be missing or fail shown
// as n/a with its reason while the figures it did give are kept. The
// driver here is a shell script that answers as bench/peers/dask_peer.py
// does; no Python or Dask runs.
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

// What dask.c and child.c take from bench.c, which holds oscar-bench's
// main(): the same behaviour, for this test's needs (bench_now and
// bench_median come from bench/util.c, as in oscar-bench).
void bench_die(const char *what, int rv)
{
	cr_assert_fail("%s: %s", what, oscar_strerror(rv));
	exit(1);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(1);
}

bool bench_want(const char *only, const char *name)
{
	return (only == NULL || strstr(only, name) != NULL);
}

// ---------------------------------------------------------------------------
// Parsing

Test(dask, parse_figures)
{
	bench_dask_answer_t a;
	cr_assert_eq(bench_dask_parse("{\"workload\": \"task-one\", \"figures\": {\"task-one\": "
	                              "812.5, \"task-one-p99\": 1.5e3}}",
	                 &a),
	    0);
	cr_assert_str_eq(a.workload, "task-one");
	cr_assert(!a.is_error && !a.has_ready);
	cr_assert_eq(a.nfigures, 2);
	cr_assert_str_eq(a.figures[0].row, "task-one");
	cr_assert_float_eq(a.figures[0].value, 812.5, 1e-9);
	cr_assert_str_eq(a.figures[1].row, "task-one-p99");
	cr_assert_float_eq(a.figures[1].value, 1500, 1e-9);
}

Test(dask, parse_error_and_ready)
{
	bench_dask_answer_t a;
	cr_assert_eq(bench_dask_parse("{\"workload\": \"tasks-10k\", \"error\": \"RuntimeError: "
	                              "\\\"x\\\" \\u00e9\\u0041\"}",
	                 &a),
	    0);
	cr_assert(a.is_error);
	cr_assert_str_eq(a.error, "RuntimeError: \"x\" ?A");
	cr_assert_eq(a.nfigures, 0);

	// Unknown fields of any shape are skipped.
	cr_assert_eq(bench_dask_parse(" {\"ready\": true, \"distributed\": \"2022.12.1\", "
	                              "\"python\": \"3.11\", \"workers\": [\"tcp://a\", "
	                              "{\"n\": [1, 2.5, null, false]}]} ",
	                 &a),
	    0);
	cr_assert(a.has_ready && a.ready);
	cr_assert_str_eq(a.version, "2022.12.1");

	cr_assert_eq(bench_dask_parse("{\"ready\": false, \"error\": \"ModuleNotFoundError: no "
	                              "module named 'distributed'\"}",
	                 &a),
	    0);
	cr_assert(a.has_ready && !a.ready && a.is_error);
	cr_assert_str_eq(a.error, "ModuleNotFoundError: no module named 'distributed'");
}

Test(dask, parse_refuses)
{
	static const char *const bad[] = {
		"",
		"INFO:distributed.scheduler:State start",
		"ready",
		"{",
		"{\"workload\": \"x\"}",                              // neither figures nor error
		"{\"figures\": {\"a\": 1}}",                          // no workload
		"{\"workload\": \"x\", \"figures\": {\"a\": \"1\"}}", // not a number
		"{\"workload\": \"x\", \"figures\": {\"a\": 1}} trailing",
		"{\"workload\": \"x\", \"error\": \"unterminated}",
		"{\"workload\": \"x\" \"error\": \"no comma\"}",
		"[1, 2]",
		"{\"ready\": true, \"deep\": [[[[[[[[[[[1]]]]]]]]]]]}",
		NULL,
	};
	for (int i = 0; bad[i] != NULL; i++) {
		bench_dask_answer_t a;
		cr_assert_eq(bench_dask_parse(bad[i], &a), -1, "accepted: %s", bad[i]);
	}
}

Test(dask, parse_truncates)
{
	bench_dask_answer_t a;
	char                line[1024];
	char                longname[200];
	memset(longname, 'w', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(line, sizeof(line), "{\"workload\": \"%s\", \"error\": \"e\"}", longname);
	cr_assert_eq(bench_dask_parse(line, &a), 0);
	cr_assert_eq(strlen(a.workload), sizeof(a.workload) - 1);
}

// ---------------------------------------------------------------------------
// The n/a paths

// tmpdir makes an empty folder for a test, removed by rmdir_all.
static void tmpdir(char *dir, size_t size)
{
	snprintf(dir, size, "%s/oscar-test-dask-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_in(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

Test(dask, not_set_up)
{
	char         dir[512];
	bench_opts_t o = { .rounds = 1 };
	tmpdir(dir, sizeof(dir));
	bench_dask_t *d = bench_dask_open(dir, &o);
	cr_assert_not_null(d);
	cr_assert_not_null(bench_dask_status(d));
	cr_assert(strstr(bench_dask_status(d), "not set up") != NULL, "%s", bench_dask_status(d));
	bench_dask_run(d, "tasks-10k", 10); // nothing to run it on: no effect
	bench_row_t row = { .name = "tasks-10k", .value = 1 };
	bench_dask_fill(d, &row, 1);
	cr_assert_eq(row.dask, 0);
	cr_assert_str_eq(bench_dask_note(d, "tasks-10k"), bench_dask_status(d));
	bench_dask_close(d);

	// build.sh's reason, when it left one.
	char  path[1024];
	FILE *f;
	snprintf(path, sizeof(path), "%s/dask.na", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f, "/usr/bin/python3 cannot import distributed (Debian: python3-distributed)\n");
	fclose(f);
	d = bench_dask_open(dir, &o);
	cr_assert_str_eq(bench_dask_status(d),
	    "/usr/bin/python3 cannot import distributed (Debian: python3-distributed)");
	bench_dask_close(d);
	rm_in(dir, "dask.na");
	rmdir(dir);

	// --no-peers: no driver at all.
	cr_assert_str_eq(bench_dask_status(NULL), "not run (--no-peers)");
	cr_assert_str_eq(bench_dask_note(NULL, "tasks-10k"), "not run (--no-peers)");
	bench_dask_run(NULL, "tasks-10k", 10);
	bench_dask_close(NULL);
}

Test(dask, not_selected)
{
	char *argv[] = { "/bin/sh", "-c", "exit 9", NULL };
	// No task workload selected: the driver is not even started.
	bench_opts_t  o = { .rounds = 1, .only = "call-rtt" };
	bench_dask_t *d = bench_dask_start(argv, &o);
	cr_assert_str_eq(bench_dask_status(d), "no task workload selected");
	bench_dask_close(d);
}

Test(dask, does)
{
	cr_assert(bench_dask_does("tasks-10k"));
	cr_assert(bench_dask_does("tasks-sup-cpu"));
	cr_assert(bench_dask_does("task-one-p99"));
	cr_assert(bench_dask_does("rss-cluster"));
	cr_assert(!bench_dask_does("rss-worker"));
	cr_assert(!bench_dask_does("call-rtt"));
}

Test(dask, start_fails)
{
	bench_opts_t o = { .rounds = 1 };
	// Exits before it is ready.
	char         *exits[] = { "/bin/sh", "-c", "echo some noise; exit 3", NULL };
	bench_dask_t *d       = bench_dask_start(exits, &o);
	cr_assert_str_eq(bench_dask_status(d), "did not start (it exited)");
	bench_dask_close(d);
	// Says it cannot start, and why.
	char *refuses[] = { "/bin/sh", "-c",
		"echo '{\"ready\": false, \"error\": \"ModuleNotFoundError: distributed\"}'; "
		"exit 1",
		NULL };
	d               = bench_dask_start(refuses, &o);
	cr_assert_str_eq(bench_dask_status(d), "did not start: ModuleNotFoundError: distributed");
	bench_dask_close(d);
	// Cannot be started at all.
	char *missing[] = { "/nonexistent/python3", "driver.py", NULL };
	d               = bench_dask_start(missing, &o);
	cr_assert(strstr(bench_dask_status(d), "/nonexistent/python3") != NULL, "%s",
	    bench_dask_status(d));
	bench_dask_close(d);
}

// A driver that answers tasks-10k with figures (after a line of noise),
// task-one with an error, anything else by exiting.
static const char fake_driver[] =
    "echo 'a log line before the start'; "
    "echo '{\"ready\": true, \"distributed\": \"0.0-fake\"}'; "
    "i=0; "
    "while read w n; do "
    "  case $w in "
    "  tasks-10k) i=$((i + 1)); echo 'a log line'; "
    "    echo \"{\\\"workload\\\": \\\"$w\\\", \\\"figures\\\": {\\\"tasks-10k\\\": $((i * 100)), "
    "\\\"tasks-sup-cpu\\\": $n}}\";; "
    "  task-one) echo '{\"workload\": \"task-one\", \"error\": \"RuntimeError: boom\"}';; "
    "  *) exit 4;; "
    "  esac; "
    "done";

Test(dask, runs_and_fails)
{
	bench_opts_t  o      = { .rounds = 3 };
	char         *argv[] = { "/bin/sh", "-c", (char *) fake_driver, NULL };
	bench_dask_t *d      = bench_dask_start(argv, &o);
	cr_assert_null(bench_dask_status(d), "%s", bench_dask_status(d));
	cr_assert_str_eq(bench_dask_version(d), "0.0-fake");
	bench_dask_run(d, "tasks-10k", 7);
	bench_dask_run(d, "tasks-10k", 7);
	bench_dask_run(d, "tasks-10k", 7);
	bench_dask_run(d, "task-one", 5);
	bench_dask_run(d, "no-such-workload", 1); // not the driver's: not sent
	cr_assert_null(bench_dask_status(d), "%s", bench_dask_status(d));
	bench_dask_run(d, "tasks-chain", 10); // the driver exits
	cr_assert_str_eq(bench_dask_status(d), "exited on tasks-chain");
	bench_dask_run(d, "tasks-10k", 7); // left out from then on

	bench_row_t rows[] = {
		{ .name = "tasks-10k", .value = 1000, .higher_is_better = true },
		{ .name = "tasks-sup-cpu", .value = 1 },
		{ .name = "task-one", .value = 1 },
		{ .name = "tasks-chain", .value = 1 },
		{ .name = "rss-worker", .value = 1 },
	};
	bench_dask_fill(d, rows, 5);
	cr_assert_float_eq(rows[0].dask, 200, 1e-9); // the median of 100, 200, 300
	cr_assert_float_eq(rows[1].dask, 7, 1e-9);
	cr_assert_eq(rows[2].dask, 0);
	cr_assert_str_eq(bench_dask_note(d, "task-one"), "RuntimeError: boom");
	cr_assert_eq(rows[3].dask, 0);
	cr_assert_str_eq(bench_dask_note(d, "tasks-chain"), "exited on tasks-chain");
	cr_assert_eq(rows[4].dask, 0);
	bench_dask_close(d);
}

// A driver that stops answering is killed once its closed stdin is seen;
// one that answers with figures for rows it was not asked about keeps
// them only under the rows named.
Test(dask, close_reaps)
{
	bench_opts_t  o      = { .rounds = 1 };
	char         *argv[] = { "/bin/sh", "-c",
		        "echo '{\"ready\": true}'; read w n; "
		                "echo '{\"workload\": \"tasks-tree\", \"figures\": {\"tasks-tree\": 5, "
		                "\"rss-slot\": 9}}'; "
		                "read w n; exit 0",
		        NULL };
	bench_dask_t *d      = bench_dask_start(argv, &o);
	cr_assert_null(bench_dask_status(d));
	cr_assert_null(bench_dask_version(d));
	bench_dask_run(d, "tasks-tree", 100);
	bench_row_t rows[] = { { .name = "tasks-tree", .value = 1 }, { .name = "rss-slot" } };
	bench_dask_fill(d, rows, 2);
	cr_assert_float_eq(rows[0].dask, 5, 1e-9);
	cr_assert_float_eq(rows[1].dask, 9, 1e-9);
	bench_dask_close(d); // closes its stdin: the script's read ends, it exits
}
