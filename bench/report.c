// The report of oscar-bench: the table against the peers, the table
// against the baselines and targets, the cross-process costs, and the same
// figures as JSON with a description of the machine.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

// machine_t describes the machine the figures come from.
typedef struct machine {
	long cores;
	char kernel[128];
	char cpu[128];
} machine_t;

static void machine_describe(machine_t *m)
{
	struct utsname u;
	char           line[512];
	FILE          *f;
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(m->kernel, sizeof(m->kernel), "unknown");
	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if (uname(&u) == 0) {
		snprintf(m->kernel, sizeof(m->kernel), "%s %s", u.sysname, u.release);
	}
	if ((f = fopen("/proc/cpuinfo", "r")) == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			colon += 1 + (colon[1] == ' ');
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(m->cpu, sizeof(m->cpu), "%s", colon);
			break;
		}
	}
	fclose(f);
}

// ahead returns how many times Oscar-C is ahead of other on row r: the
// other's time (or bytes) over Oscar-C's, or Oscar-C's rate over the
// other's; 0 when either is missing.
static double ahead(const bench_row_t *r, double other)
{
	if (other <= 0 || r->value <= 0) {
		return (0);
	}
	return (r->higher_is_better ? r->value / other : other / r->value);
}

// ---------------------------------------------------------------------------
// Against the peers

// print_cell prints one peer's median and ratio, or why there is none:
// "-" where the peer has no such workload, "n/a" where it failed.
static void print_cell(const bench_row_t *r, double v, bool applies)
{
	if (v > 0) {
		printf(" %11.3f %6.2fx", v, ahead(r, v));
	} else {
		printf(" %11s %7s", applies ? "n/a" : "-", "");
	}
}

static void print_peers_table(const bench_opts_t *o, const bench_row_t *rows, size_t n)
{
	printf("%-11s %-8s %11s", "workload", "unit", "oscar-c");
	for (int i = 0; i < BENCH_NPEERS; i++) {
		printf(" %11s %7s", bench_peer_names[i], "ratio");
	}
	printf(" %11s %7s\n", "nng", "ratio");
	for (size_t k = 0; k < n; k++) {
		const bench_row_t *r = &rows[k];
		printf("%-11s %-8s %11.3f", r->name, r->unit, r->value);
		for (int i = 0; i < BENCH_NPEERS; i++) {
			print_cell(r, r->peer[i], bench_peers_does(r->name));
		}
		print_cell(r, r->floor, false);
		printf("\n");
	}
	printf("\nratio: how many times Oscar-C is ahead (above 1: Oscar-C is ahead): the "
	       "other's time\nor bytes over Oscar-C's, Oscar-C's rate over the other's. "
	       "nng: plain NNG doing the same\nover the same transport (the floor). "
	       "-: no such workload there.\n");
	for (size_t k = 0; k < n; k++) {
		if (strstr(rows[k].name, "bin64m") != NULL && rows[k].baseline > 0) {
			printf("64 MiB ceiling: memcpy of 64 MiB in this process, %.3f GB/s "
			       "(%s).\n",
			    rows[k].baseline, rows[k].name);
		}
	}
	for (int i = 0; i < BENCH_NPEERS; i++) {
		const char *why = bench_peers_status(o->peers, i);
		if (why != NULL) {
			printf("%s: n/a: %s\n", bench_peer_names[i], why);
		}
		for (size_t k = 0; k < n; k++) {
			const char *note = bench_peers_note(o->peers, i, rows[k].name);
			if (note != NULL && (why == NULL || strstr(why, note) == NULL)) {
				printf(
				    "%s, %s: n/a: %s\n", bench_peer_names[i], rows[k].name, note);
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Against Dask distributed

static void print_dask_table(const bench_opts_t *o, const bench_row_t *rows, size_t n)
{
	bool        any     = false;
	const char *why     = bench_dask_status(o->dask);
	const char *version = bench_dask_version(o->dask);
	for (size_t k = 0; k < n; k++) {
		any =
		    any || bench_dask_does(rows[k].name) || strcmp(rows[k].name, "rss-worker") == 0;
	}
	if (!any) {
		return;
	}
	printf("\nSide by side with Dask distributed%s%s: LocalCluster(n_workers=2, "
	       "threads_per_worker=1,\nprocesses=True) against a supervisor and two workers with "
	       "one slot each, alternating\nin each round (medians). aim: how many times ahead "
	       "issue 14 wants Oscar-C to be.\n\n",
	    version != NULL ? " " : "", version != NULL ? version : "");
	printf("%-14s %-8s %11s %11s %8s %6s\n", "workload", "unit", "oscar-c", "dask", "ratio",
	    "aim");
	for (size_t k = 0; k < n; k++) {
		const bench_row_t *r = &rows[k];
		if (!bench_dask_does(r->name) && strcmp(r->name, "rss-worker") != 0) {
			continue;
		}
		printf("%-14s %-8s %11.3f", r->name, r->unit, r->value);
		if (r->dask > 0) {
			double x = ahead(r, r->dask);
			printf(" %11.3f %7.2fx", r->dask, x);
			if (r->dask_aim > 0) {
				printf(
				    " %5.0fx  %s", r->dask_aim, x >= r->dask_aim ? "met" : "short");
			}
		} else {
			printf(" %11s", bench_dask_does(r->name) ? "n/a" : "-");
		}
		printf("\n");
	}
	printf("\nratio: above 1, Oscar-C is ahead (Dask's time or memory over Oscar-C's, "
	       "Oscar-C's rate\nover Dask's). rss-supervisor: Dask's process of the scheduler, "
	       "with its nannies and the\nclient; rss-slot: a Dask worker process; rss-worker: "
	       "-, a Dask nanny lives in the\nscheduler's process. tasks-bin64m: the 64 MiB "
	       "ceiling is "
	       "above.\n");
	if (why != NULL) {
		printf("dask: n/a: %s\n", why);
	}
	for (size_t k = 0; k < n; k++) {
		const char *note = bench_dask_note(o->dask, rows[k].name);
		if (rows[k].dask <= 0 && bench_dask_does(rows[k].name) && note != NULL &&
		    (why == NULL || strcmp(why, note) != 0)) {
			printf("dask, %s: n/a: %s\n", rows[k].name, note);
		}
	}
}

// ---------------------------------------------------------------------------
// Against the baselines and targets, and the cross-process costs

// print_count prints v in width 7, with a decimal only when it is small.
static void print_count(double v)
{
	printf(v < 1000 ? " %7.1f" : " %7.0f", v);
}

static void print_baseline_row(const bench_row_t *r)
{
	double vs_base = r->baseline > 0 ? ahead(r, r->baseline) : 0;
	printf("%-11s %12.3f %-8s %-24s %12.3f %8.2fx", r->name, r->value, r->unit,
	    r->baseline_name ? r->baseline_name : "-", r->baseline, vs_base);
	if (r->target > 0) {
		printf("   target %-10.3f %6.2fx\n", r->target, ahead(r, r->target));
	} else {
		printf("   %-17s %7s\n", "-", "");
	}
}

static void print_cost_table(const bench_row_t *rows, size_t n)
{
	bool header = false;
	for (size_t i = 0; i < n; i++) {
		const bench_row_t *r = &rows[i];
		if (r->floor <= 0) {
			continue;
		}
		if (!header) {
			printf(
			    "\nCross-process, against plain NNG on the same transport. \"cost\" is "
			    "Oscar-C's time per\noperation over NNG's, the median of the rounds' "
			    "ratios and their range (above 1:\nOscar-C is slower; the round trips "
			    "aim at 1.20x at most). Switches and CPU time\nare per operation, "
			    "both processes together.\n\n");
			printf("%-11s %6s %-13s %-24s %10s %-5s  %-15s  %s\n", "workload", "cost",
			    "(range)", "nng floor", "floor", "unit", "switches/op", "cpu us/op");
			printf("%-11s %6s %-13s %-24s %10s %-5s %8s %7s %8s %7s\n", "", "", "", "",
			    "", "", "oscar-c", "nng", "oscar-c", "nng");
			header = true;
		}
		printf("%-11s %5.2fx (%4.2f-%4.2fx)  %-24s %10.3f %-5s ", r->name, r->cost,
		    r->cost_min, r->cost_max, r->floor_name, r->floor, r->unit);
		print_count(r->switches);
		print_count(r->floor_switches);
		print_count(r->cpu_us);
		print_count(r->floor_cpu_us);
		if (r->backoffs > 0) {
			printf("  (%" PRId64 " backoffs)", r->backoffs);
		}
		if (r->faults >= 1000) { // only where big buffers are at stake
			printf("  (page faults/op: %.0f, nng %.0f)", r->faults, r->floor_faults);
		}
		printf("\n");
	}
}

void bench_report_print(const bench_opts_t *o, const bench_row_t *rows, size_t n)
{
	machine_t m;
	machine_describe(&m);
	printf("Oscar-C %s benchmarks: %d rounds%s, median of each; %ld cores, %s, %s\n",
	    OSCAR_VERSION, o->rounds, o->quick ? " (quick)" : "", m.cores, m.cpu, m.kernel);

	printf("\nAgainst baselines in this process and the targets:\n\n");
	printf("%-11s %12s %-8s %-24s %12s %9s   %-17s %6s\n", "workload", "oscar-c", "unit",
	    "baseline", "baseline", "vs base", "target", "vs tgt");
	for (size_t i = 0; i < n; i++) {
		print_baseline_row(&rows[i]);
	}
	printf("\n\"vs\" columns: above 1 means Oscar-C is ahead of the baseline or target.\n");
	print_cost_table(rows, n);

	printf("\nSide by side with Erlang/OTP, CAF and plain NNG, alternating in each round "
	       "(medians):\n\n");
	print_peers_table(o, rows, n);
	print_dask_table(o, rows, n);
}

// ---------------------------------------------------------------------------
// JSON

// json_str writes s as a JSON string.
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}

static void json_peers(FILE *f, const bench_opts_t *o, const bench_row_t *r)
{
	fprintf(f, ", \"peers\": {");
	for (int i = 0; i < BENCH_NPEERS; i++) {
		const char *why = bench_peers_note(o->peers, i, r->name);
		if (why == NULL) {
			why = bench_peers_status(o->peers, i);
		}
		fprintf(f, "%s\"%s\": ", i > 0 ? ", " : "", bench_peer_names[i]);
		if (r->peer[i] > 0) {
			fprintf(f, "{\"value\": %.6g, \"ratio\": %.4g}", r->peer[i],
			    ahead(r, r->peer[i]));
		} else if (!bench_peers_does(r->name)) {
			fprintf(f, "null");
		} else {
			fprintf(f, "{\"na\": ");
			json_str(f, why != NULL ? why : "no figure");
			fprintf(f, "}");
		}
	}
	fprintf(f, "}");
}

static void json_dask(FILE *f, const bench_opts_t *o, const bench_row_t *r)
{
	fprintf(f, ", \"dask\": ");
	if (r->dask > 0) {
		fprintf(f, "{\"value\": %.6g, \"ratio\": %.4g, \"aim\": %.4g}", r->dask,
		    ahead(r, r->dask), r->dask_aim);
	} else if (!bench_dask_does(r->name)) {
		fprintf(f, "null");
	} else {
		const char *why = bench_dask_note(o->dask, r->name);
		fprintf(f, "{\"na\": ");
		json_str(f, why != NULL ? why : "no figure");
		fprintf(f, "}");
	}
}

static void json_row(FILE *f, const bench_opts_t *o, const bench_row_t *r)
{
	fprintf(f, "    {\"workload\": ");
	json_str(f, r->name);
	fprintf(f, ", \"unit\": ");
	json_str(f, r->unit);
	fprintf(f, ", \"higher_is_better\": %s, \"value\": %.6g, \"baseline\": ",
	    r->higher_is_better ? "true" : "false", r->value);
	json_str(f, r->baseline_name != NULL ? r->baseline_name : "");
	fprintf(f, ", \"baseline_value\": %.6g, \"target\": %.6g", r->baseline, r->target);
	json_peers(f, o, r);
	json_dask(f, o, r);
	if (r->floor > 0) {
		fprintf(f, ", \"nng\": {\"value\": %.6g, \"ratio\": %.4g}, \"floor\": ", r->floor,
		    ahead(r, r->floor));
		json_str(f, r->floor_name);
		fprintf(f,
		    ", \"floor_value\": %.6g, \"cost_vs_floor\": %.4g, \"cost_min\": %.4g, "
		    "\"cost_max\": %.4g",
		    r->floor, r->cost, r->cost_min, r->cost_max);
	}
	if (r->switches > 0) {
		fprintf(f,
		    ", \"switches_per_op\": %.4g, \"floor_switches_per_op\": %.4g"
		    ", \"cpu_us_per_op\": %.4g, \"floor_cpu_us_per_op\": %.4g"
		    ", \"faults_per_op\": %.4g, \"floor_faults_per_op\": %.4g",
		    r->switches, r->floor_switches, r->cpu_us, r->floor_cpu_us, r->faults,
		    r->floor_faults);
	}
	fprintf(f, "}");
}

int bench_report_json(const char *path, const bench_opts_t *o, const bench_row_t *rows, size_t n)
{
	machine_t m;
	char      date[32];
	time_t    now = time(NULL);
	FILE     *f   = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return (-1);
	}
	machine_describe(&m);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f, "{\n  \"version\": \"%s\",\n  \"date\": \"%s\",\n", OSCAR_VERSION, date);
	fprintf(f, "  \"machine\": {\"cores\": %ld, \"kernel\": ", m.cores);
	json_str(f, m.kernel);
	fprintf(f, ", \"cpu\": ");
	json_str(f, m.cpu);
	fprintf(f, "},\n  \"rounds\": %d,\n  \"quick\": %s,\n  \"peers\": {", o->rounds,
	    o->quick ? "true" : "false");
	for (int i = 0; i < BENCH_NPEERS; i++) {
		const char *why = bench_peers_status(o->peers, i);
		fprintf(f, "%s\"%s\": ", i > 0 ? ", " : "", bench_peer_names[i]);
		if (why == NULL) {
			fprintf(f, "\"ran\"");
		} else {
			json_str(f, why);
		}
	}
	fprintf(f, "},\n  \"dask\": ");
	json_str(f, bench_dask_status(o->dask) != NULL ? bench_dask_status(o->dask) : "ran");
	fprintf(f, ",\n  \"dask_version\": ");
	json_str(f, bench_dask_version(o->dask) != NULL ? bench_dask_version(o->dask) : "");
	fprintf(f, ",\n  \"results\": [\n");
	for (size_t i = 0; i < n; i++) {
		json_row(f, o, &rows[i]);
		fprintf(f, "%s\n", i + 1 < n ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f) != 0) {
		perror(path);
		return (-1);
	}
	return (0);
}
