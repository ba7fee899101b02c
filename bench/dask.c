// Dask distributed beside the task workloads (issue 14).
//
// Design note. The Dask side is a Python program, bench/peers/dask_peer.py,
// which bench/peers/build.sh copies into the peers folder once it has
// checked that Debian's Python (/usr/bin/python3, where the
// python3-distributed package lives, whatever python3 comes first in PATH)
// imports distributed; otherwise it leaves dask.na there with the reason.
// The bench starts the driver once, as a child (child.c), when a task
// workload is selected; the driver starts its LocalCluster and prints one
// JSON line, {"ready": true, ...}. The task workloads (tasks.c) call
// bench_dask_run right after each of their own rounds with the same count,
// so the rounds alternate: the bench writes "WORKLOAD N" and reads back
// one JSON line, {"workload": W, "figures": {ROW: value, ...}} or
// {"workload": W, "error": "why"}. Each figure is one more sample of the
// row it names; bench_dask_fill gives each row the median of its samples.
// A driver that is missing, fails to start, stops answering or exits is
// noted with the reason and left out; the Oscar-C rows go on.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/bench.h"

#define DASK_PYTHON         "/usr/bin/python3"
#define DASK_START_TIMEOUT  120000 // ms for the driver's cluster to be ready
#define DASK_ANSWER_TIMEOUT 600000 // ms for one round of a workload
#define MAX_FIGURES         16
#define MAX_ROUNDS          100
#define WHY_MAX             256

// The workloads the driver runs and the rows each one's figures go to.
static const struct {
	const char *workload;
	const char *rows[7];
} dask_workloads[] = {
	{ "task-one", { "task-one", "task-one-p99", NULL } },
	{ "tasks-10k", { "tasks-10k", "tasks-sup-cpu", NULL } },
	{ "tasks-tree", { "tasks-tree", NULL } },
	{ "tasks-chain", { "tasks-chain", NULL } },
	{ "tasks-bin64m", { "tasks-bin64m", NULL } },
	{ "tasks-cluster", { "cluster-start", "cluster-stop", "rss-supervisor", "rss-slot",
	                       "rss-cluster", NULL } },
};

#define NWORKLOADS (sizeof(dask_workloads) / sizeof(dask_workloads[0]))

// series_t holds one row's samples.
typedef struct series {
	char   row[BENCH_DASK_NAME_MAX];
	double v[MAX_ROUNDS];
	int    n;
} series_t;

struct bench_dask {
	bench_child_t child;
	bool          up;
	char          why[WHY_MAX];              // why it is not up
	char          version[64];               // distributed's version
	char          note[NWORKLOADS][WHY_MAX]; // why a workload has no figure
	series_t      s[24];
	int           ns;
};

// ---------------------------------------------------------------------------
// The answers: one JSON object a line

typedef struct scan {
	const char *p;
} scan_t;

static void skip_ws(scan_t *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n') {
		s->p++;
	}
}

// scan_str reads a JSON string into out (size bytes, truncated; NULL to
// skip it). Escapes other than \uXXXX keep their character; \uXXXX
// becomes '?' unless it is ASCII.
static int scan_str(scan_t *s, char *out, size_t size)
{
	size_t n = 0;
	if (*s->p != '"') {
		return (-1);
	}
	s->p++;
	while (*s->p != '"') {
		char c = *s->p++;
		if (c == '\0') {
			return (-1);
		}
		if (c == '\\') {
			c = *s->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
			case 'f':
				c = ' ';
				break;
			case 'u': {
				unsigned u = 0;
				for (int i = 0; i < 4; i++) {
					char h = *s->p++;
					u <<= 4;
					if (h >= '0' && h <= '9') {
						u |= (unsigned) (h - '0');
					} else if (h >= 'a' && h <= 'f') {
						u |= (unsigned) (h - 'a' + 10);
					} else if (h >= 'A' && h <= 'F') {
						u |= (unsigned) (h - 'A' + 10);
					} else {
						return (-1);
					}
				}
				c = u >= 0x20 && u < 0x7f ? (char) u : '?';
				break;
			}
			case '\0':
				return (-1);
			default:
				break; // \" \\ \/
			}
		}
		if (out != NULL && n + 1 < size) {
			out[n++] = c;
		}
	}
	s->p++;
	if (out != NULL && size > 0) {
		out[n] = '\0';
	}
	return (0);
}

static int scan_value(scan_t *s, int depth);

// scan_number reads a JSON number into *v.
static int scan_number(scan_t *s, double *v)
{
	char *end;
	if (!(*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
		return (-1);
	}
	*v = strtod(s->p, &end);
	if (end == s->p) {
		return (-1);
	}
	s->p = end;
	return (0);
}

// scan_container skips an object or an array.
static int scan_container(scan_t *s, int depth)
{
	char close = *s->p == '{' ? '}' : ']';
	bool obj   = close == '}';
	if (depth > 8) {
		return (-1);
	}
	s->p++;
	skip_ws(s);
	if (*s->p == close) {
		s->p++;
		return (0);
	}
	for (;;) {
		skip_ws(s);
		if (obj) {
			if (scan_str(s, NULL, 0) != 0) {
				return (-1);
			}
			skip_ws(s);
			if (*s->p++ != ':') {
				return (-1);
			}
			skip_ws(s);
		}
		if (scan_value(s, depth + 1) != 0) {
			return (-1);
		}
		skip_ws(s);
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p == close) {
			s->p++;
			return (0);
		}
		return (-1);
	}
}

// scan_value skips any JSON value.
static int scan_value(scan_t *s, int depth)
{
	double v;
	if (*s->p == '"') {
		return (scan_str(s, NULL, 0));
	}
	if (*s->p == '{' || *s->p == '[') {
		return (scan_container(s, depth));
	}
	if (strncmp(s->p, "true", 4) == 0 || strncmp(s->p, "null", 4) == 0) {
		s->p += 4;
		return (0);
	}
	if (strncmp(s->p, "false", 5) == 0) {
		s->p += 5;
		return (0);
	}
	return (scan_number(s, &v));
}

// scan_figures reads {"ROW": number, ...} into a.
static int scan_figures(scan_t *s, bench_dask_answer_t *a)
{
	if (*s->p++ != '{') {
		return (-1);
	}
	skip_ws(s);
	if (*s->p == '}') {
		s->p++;
		return (0);
	}
	for (;;) {
		char   name[BENCH_DASK_NAME_MAX];
		double v;
		skip_ws(s);
		if (scan_str(s, name, sizeof(name)) != 0) {
			return (-1);
		}
		skip_ws(s);
		if (*s->p++ != ':') {
			return (-1);
		}
		skip_ws(s);
		if (scan_number(s, &v) != 0) {
			return (-1);
		}
		if (a->nfigures < BENCH_DASK_FIGURES_MAX) {
			snprintf(a->figures[a->nfigures].row, BENCH_DASK_NAME_MAX, "%s", name);
			a->figures[a->nfigures++].value = v;
		}
		skip_ws(s);
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p++ == '}') {
			return (0);
		}
		return (-1);
	}
}

int bench_dask_parse(const char *line, bench_dask_answer_t *a)
{
	scan_t s = { .p = line };
	memset(a, 0, sizeof(*a));
	skip_ws(&s);
	if (*s.p++ != '{') {
		return (-1);
	}
	skip_ws(&s);
	if (*s.p == '}') {
		s.p++;
	} else {
		for (;;) {
			char key[32];
			skip_ws(&s);
			if (scan_str(&s, key, sizeof(key)) != 0) {
				return (-1);
			}
			skip_ws(&s);
			if (*s.p++ != ':') {
				return (-1);
			}
			skip_ws(&s);
			int rv;
			if (strcmp(key, "workload") == 0) {
				rv = scan_str(&s, a->workload, sizeof(a->workload));
			} else if (strcmp(key, "error") == 0) {
				rv          = scan_str(&s, a->error, sizeof(a->error));
				a->is_error = rv == 0;
			} else if (strcmp(key, "distributed") == 0) {
				rv = scan_str(&s, a->version, sizeof(a->version));
			} else if (strcmp(key, "figures") == 0) {
				rv = scan_figures(&s, a);
			} else if (strcmp(key, "ready") == 0) {
				a->has_ready = true;
				a->ready     = strncmp(s.p, "true", 4) == 0;
				rv           = scan_value(&s, 0);
			} else {
				rv = scan_value(&s, 0);
			}
			if (rv != 0) {
				return (-1);
			}
			skip_ws(&s);
			if (*s.p == ',') {
				s.p++;
				continue;
			}
			if (*s.p++ == '}') {
				break;
			}
			return (-1);
		}
	}
	skip_ws(&s);
	if (*s.p != '\0') {
		return (-1);
	}
	// What it must be: a ready line, an error, or a workload's figures.
	if (a->has_ready || (a->workload[0] != '\0' && (a->is_error || a->nfigures > 0))) {
		return (0);
	}
	return (-1);
}

// ---------------------------------------------------------------------------
// Starting and stopping

static int workload_index(const char *workload)
{
	for (size_t i = 0; i < NWORKLOADS; i++) {
		if (strcmp(dask_workloads[i].workload, workload) == 0) {
			return ((int) i);
		}
	}
	return (-1);
}

bool bench_dask_does(const char *row)
{
	for (size_t i = 0; i < NWORKLOADS; i++) {
		for (int k = 0; dask_workloads[i].rows[k] != NULL; k++) {
			if (strcmp(dask_workloads[i].rows[k], row) == 0) {
				return (true);
			}
		}
	}
	return (false);
}

// dask_down takes the driver out of the run, saying why.
static void dask_down(bench_dask_t *d, const char *why)
{
	snprintf(d->why, sizeof(d->why), "%s", why);
	d->up = false;
	bench_child_kill(&d->child);
}

bench_dask_t *bench_dask_start(char *const argv[], const bench_opts_t *o)
{
	bench_dask_t *d    = calloc(1, sizeof(*d));
	bool          want = false;
	char          line[4096], why[WHY_MAX];
	int           rv;
	if (d == NULL) {
		bench_die("dask", OSCAR_ENOMEM);
	}
	// A workload is run for its own name and for each of its rows
	// (tasks-sup-cpu comes from tasks-10k's rounds).
	for (size_t i = 0; i < NWORKLOADS; i++) {
		want = want || bench_want(o->only, dask_workloads[i].workload);
		for (int k = 0; dask_workloads[i].rows[k] != NULL; k++) {
			want = want || bench_want(o->only, dask_workloads[i].rows[k]);
		}
	}
	if (!want) {
		snprintf(d->why, sizeof(d->why), "no task workload selected");
		return (d);
	}
	if ((rv = bench_child_start(&d->child, "dask", argv, NULL)) != 0) {
		snprintf(d->why, sizeof(d->why), "cannot start %s: %s", argv[0], strerror(rv));
		return (d);
	}
	for (;;) {
		bench_dask_answer_t a;
		rv = bench_child_read_line(&d->child, line, sizeof(line), DASK_START_TIMEOUT);
		if (rv != 0) {
			snprintf(why, sizeof(why), "did not start (%s)",
			    rv == ETIMEDOUT ? "no answer in time" : "it exited");
			dask_down(d, why);
			return (d);
		}
		if (bench_dask_parse(line, &a) != 0 || !a.has_ready) {
			fprintf(stderr, "oscar-bench: dask: %s\n", line);
			continue;
		}
		if (!a.ready) {
			snprintf(why, sizeof(why), "did not start: %s",
			    a.error[0] != '\0' ? a.error : "no reason given");
			dask_down(d, why);
			return (d);
		}
		snprintf(d->version, sizeof(d->version), "%s", a.version);
		d->up = true;
		return (d);
	}
}

// is_file tells whether dir/name is a regular file.
static bool is_file(const char *dir, const char *name)
{
	char        path[1024];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (stat(path, &st) == 0 && S_ISREG(st.st_mode));
}

bench_dask_t *bench_dask_open(const char *dir, const bench_opts_t *o)
{
	char  script[1024];
	char *argv[] = { DASK_PYTHON, "-u", script, NULL };
	snprintf(script, sizeof(script), "%s/dask_peer.py", dir);
	if (!is_file(dir, "dask_peer.py")) {
		bench_dask_t *d = calloc(1, sizeof(*d));
		FILE         *f;
		if (d == NULL) {
			bench_die("dask", OSCAR_ENOMEM);
		}
		snprintf(d->why, sizeof(d->why), "not set up (make bench copies the driver)");
		snprintf(script, sizeof(script), "%s/dask.na", dir);
		if ((f = fopen(script, "r")) != NULL) {
			if (fgets(d->why, sizeof(d->why), f) != NULL) {
				d->why[strcspn(d->why, "\n")] = '\0';
			}
			fclose(f);
		}
		return (d);
	}
	bench_dask_t *d = bench_dask_start(argv, o);
	if (!d->up && d->why[0] != '\0' && strstr(d->why, "no task workload") == NULL) {
		fprintf(stderr, "oscar-bench: dask: n/a: %s\n", d->why);
	}
	return (d);
}

void bench_dask_close(bench_dask_t *d)
{
	if (d == NULL) {
		return;
	}
	if (d->up) {
		bench_child_reap(&d->child); // end of input: it stops its cluster
	}
	free(d);
}

// ---------------------------------------------------------------------------
// Running

static series_t *series_of(bench_dask_t *d, const char *row)
{
	for (int i = 0; i < d->ns; i++) {
		if (strcmp(d->s[i].row, row) == 0) {
			return (&d->s[i]);
		}
	}
	if (d->ns == (int) (sizeof(d->s) / sizeof(d->s[0]))) {
		return (NULL);
	}
	snprintf(d->s[d->ns].row, sizeof(d->s[d->ns].row), "%s", row);
	return (&d->s[d->ns++]);
}

void bench_dask_run(bench_dask_t *d, const char *workload, int64_t n)
{
	char cmd[96], line[4096], why[WHY_MAX];
	int  w = workload_index(workload), rv;
	if (d == NULL || !d->up || w < 0) {
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s %lld\n", workload, (long long) n);
	if (bench_child_write_line(&d->child, cmd) != 0) {
		snprintf(why, sizeof(why), "stopped before %s", workload);
		dask_down(d, why);
		return;
	}
	for (;;) {
		bench_dask_answer_t a;
		rv = bench_child_read_line(&d->child, line, sizeof(line), DASK_ANSWER_TIMEOUT);
		if (rv != 0) {
			snprintf(why, sizeof(why), "%s on %s",
			    rv == ETIMEDOUT ? "no answer in time" : "exited", workload);
			dask_down(d, why);
			return;
		}
		if (bench_dask_parse(line, &a) != 0 || strcmp(a.workload, workload) != 0) {
			fprintf(stderr, "oscar-bench: dask: %s\n", line);
			continue;
		}
		if (a.is_error) {
			snprintf(d->note[w], WHY_MAX, "%s", a.error);
			fprintf(stderr, "oscar-bench: dask: %s: %s\n", workload, a.error);
			return;
		}
		for (int i = 0; i < a.nfigures; i++) {
			series_t *s = series_of(d, a.figures[i].row);
			if (s != NULL && s->n < MAX_ROUNDS && a.figures[i].value > 0) {
				s->v[s->n++] = a.figures[i].value;
			}
		}
		return;
	}
}

void bench_dask_fill(const bench_dask_t *d, bench_row_t *rows, size_t n)
{
	if (d == NULL) {
		return;
	}
	for (size_t r = 0; r < n; r++) {
		for (int i = 0; i < d->ns; i++) {
			double v[MAX_ROUNDS];
			if (strcmp(d->s[i].row, rows[r].name) != 0 || d->s[i].n == 0) {
				continue;
			}
			memcpy(v, d->s[i].v, sizeof(double) * (size_t) d->s[i].n);
			rows[r].dask = bench_median(v, d->s[i].n);
		}
	}
}

const char *bench_dask_status(const bench_dask_t *d)
{
	if (d == NULL) {
		return ("not run (--no-peers)");
	}
	return (d->why[0] != '\0' ? d->why : NULL);
}

const char *bench_dask_version(const bench_dask_t *d)
{
	return (d != NULL && d->version[0] != '\0' ? d->version : NULL);
}

const char *bench_dask_note(const bench_dask_t *d, const char *row)
{
	if (d == NULL) {
		return (bench_dask_status(d));
	}
	for (size_t i = 0; i < NWORKLOADS; i++) {
		for (int k = 0; dask_workloads[i].rows[k] != NULL; k++) {
			if (strcmp(dask_workloads[i].rows[k], row) == 0 && d->note[i][0] != '\0') {
				return (d->note[i]);
			}
		}
	}
	return (bench_dask_status(d));
}
