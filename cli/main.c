// oscar: the command that starts local clusters and looks at running ones.
//
//     oscar local --workers 2        a supervisor and two workers, until Ctrl-C
//     oscar status tcp://host:port   the nodes of a running cluster
//     oscar stop tcp://host:port     stop a whole cluster
//
// Exit status: 0 when the command did what it was asked, 1 when it could
// not (a cluster that cannot start or be reached), 2 for a bad command
// line. Every flag takes its value as "--flag VALUE" or "--flag=VALUE".
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oscar/cluster.h"
#include "oscar/local.h"
#include "oscar/oscar.h"

#define CLI_STATUS_TIMEOUT_MS 5000
#define CLI_STOP_TIMEOUT_MS   30000

// ---------------------------------------------------------------------------
// Help

static const char usage_main[] =
    "oscar: start Oscar-C clusters on this machine and look at running ones.\n"
    "\n"
    "Usage: oscar COMMAND [flags]\n"
    "\n"
    "Commands:\n"
    "  local    run a supervisor and workers on this machine until Ctrl-C\n"
    "  status   show the nodes of a running cluster\n"
    "  stop     stop a running cluster, workers first\n"
    "  help     show this help, or a command's: oscar help local\n"
    "\n"
    "Flags:\n"
    "  -h, --help      this help\n"
    "  -V, --version   the version\n"
    "\n"
    "The nodes are the programs oscar-supervisor and oscar-worker, which may\n"
    "also be started by hand (see their --help).\n";

static const char usage_local[] =
    "Usage: oscar local [flags]\n"
    "\n"
    "Runs a cluster on this machine: one supervisor and N workers, each a\n"
    "process listening on tcp://HOST at a free port. Prints the supervisor's\n"
    "address and the nodes once every worker is ready, then runs until Ctrl-C\n"
    "(SIGINT), SIGTERM or SIGHUP, or until the cluster is stopped with\n"
    "`oscar stop`; then stops the workers, then the supervisor.\n"
    "\n"
    "Flags:\n"
    "  -w, --workers N            worker processes (default 1)\n"
    "  -n, --sub-pools N          sub pools (child processes) per worker (default 0)\n"
    "      --host HOST            where every process listens (default 127.0.0.1)\n"
    "      --load-modules A[,B]   shared objects with custom services, loaded by\n"
    "                             every process (repeatable)\n"
    "  -f, --config FILE          configuration file for every process\n"
    "      --log-level LEVEL      the processes' log level: debug, info, warn\n"
    "                             (default), error\n"
    "      --set SECTION.KEY=VAL  a setting for every process (repeatable)\n"
    "      --address-file PATH    write the supervisor's address there once the\n"
    "                             cluster is ready; removed when it stops\n"
    "      --timeout DURATION     bound on the start, and on each stage of the stop\n"
    "                             (default 30s)\n"
    "      --secret-file FILE     the cluster secret, for every process (see\n"
    "                             docs/security.md)\n"
    "  -q, --quiet                keep the processes' logs out of the terminal\n"
    "  -h, --help                 this help\n"
    "\n"
    "Durations are like 500ms, 5s, 2m or 1h; a plain number is milliseconds.\n";

static const char usage_status[] =
    "Usage: oscar status ADDRESS [flags]\n"
    "\n"
    "Shows the nodes of the cluster whose supervisor is at ADDRESS\n"
    "(tcp://host:port or ipc:///path): role, address, status, pid, cores,\n"
    "memory, sub pools (ready/configured), labels, load and the age of the last\n"
    "heartbeat. Exits with 1 when the supervisor cannot be reached in time.\n"
    "\n"
    "Flags:\n"
    "      --json                 one JSON document: {\"supervisor\": ADDRESS,\n"
    "                             \"nodes\": [{...}, ...]}\n"
    "  -t, --timeout DURATION     how long to wait for the supervisor (default 5s)\n"
    "      --secret-file FILE     the cluster secret, when the cluster has one\n"
    "  -h, --help                 this help\n";

static const char usage_stop[] =
    "Usage: oscar stop ADDRESS [flags]\n"
    "\n"
    "Stops the cluster whose supervisor is at ADDRESS: the supervisor tells\n"
    "every worker to stop, waits until they have deregistered, then stops\n"
    "itself. Exits with 0 once it has, 1 otherwise.\n"
    "\n"
    "Flags:\n"
    "  -t, --timeout DURATION     how long to wait (default 30s)\n"
    "      --secret-file FILE     the cluster secret, when the cluster has one\n"
    "  -h, --help                 this help\n";

// cli_usage_error prints what is wrong with the command line of cmd and
// how to get help, and returns 2, the exit status for it.
static int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "oscar%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'oscar %s%s--help' for usage.\n", cmd != NULL ? cmd : "",
	    cmd != NULL ? " " : "");
	return (2);
}

// cli_own is the address of the command's own pool, while it has one.
static char cli_own[OSCAR_ADDR_MAX];
// cli_secret_file is --secret-file: the cluster secret the command's own
// pool proves, or NULL.
static const char *cli_secret_file;

static bool cli_own_pool(const char *address)
{
	return (cli_own[0] != '\0' && strcmp(address, cli_own) == 0);
}

// cli_fail prints that cmd failed, with err's details, and returns 1.
static int cli_fail(const char *cmd, const oscar_error_t *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int cli_fail(const char *cmd, const oscar_error_t *err, const char *fmt, ...)
{
	va_list ap;
	char    detail[OSCAR_ERRMSG_MAX + 3 * OSCAR_ADDR_MAX];
	fprintf(stderr, "oscar %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err != NULL && (err->address[0] == '\0' || cli_own_pool(err->address))) {
		// Not from a pool (oscar_local_start's own errors, say), or from
		// the command's own pool (a call that timed out): the message is
		// the whole story, and the target is in what the caller printed.
		fprintf(stderr, ": %s: %s", oscar_errname(err->code), err->message);
	} else if (err != NULL) {
		oscar_error_format(err, detail, sizeof(detail));
		fprintf(stderr, ": %s", detail);
	}
	fprintf(stderr, "\n");
	return (1);
}

// cli_bad_flag reports the flag getopt_long refused: unknown, or missing
// its value (c is '?' or ':').
static int cli_bad_flag(const char *cmd, int c, char **argv)
{
	char        flag[64];
	const char *last = argv[optind - 1];
	// An unknown short flag is in optopt (getopt may still be inside a
	// bundle such as -xj); otherwise the flag is the argument getopt has
	// just moved past: an unknown long flag, or one missing its value.
	if (c == '?' && optopt != 0) {
		snprintf(flag, sizeof(flag), "-%c", optopt);
	} else {
		snprintf(flag, sizeof(flag), "%s", last);
		flag[strcspn(flag, "=")] = '\0';
	}
	if (c == ':') {
		return (cli_usage_error(cmd, "%s needs a value", flag));
	}
	return (cli_usage_error(cmd, "unknown flag '%s'", flag));
}

// ---------------------------------------------------------------------------
// Values of flags

// cli_parse_uint parses a whole number in [min, max].
static int cli_parse_uint(const char *cmd, const char *flag, const char *text, unsigned long min,
    unsigned long max, unsigned *out)
{
	char         *end;
	unsigned long v;
	errno = 0;
	v     = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
		return (cli_usage_error(cmd, "%s wants a whole number from %lu to %lu, not '%s'",
		    flag, min, max, text));
	}
	*out = (unsigned) v;
	return (0);
}

// cli_parse_ms parses a duration: 250ms, 5s, 2m, 1h, or milliseconds.
static int cli_parse_ms(const char *cmd, const char *flag, const char *text, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t     ms;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	char  *end;
	double v;
	errno = 0;
	v     = strtod(text, &end);
	if (errno == 0 && end != text && isfinite(v) && v > 0 && v < 1e9) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(end, units[i].unit) == 0 && v * (double) units[i].ms >= 1) {
				*out = (int64_t) (v * (double) units[i].ms);
				return (0);
			}
		}
	}
	return (cli_usage_error(
	    cmd, "%s wants a duration such as 500ms, 5s or 2m, not '%s'", flag, text));
}

// cli_one_address takes the one positional argument of status and stop.
static int cli_one_address(const char *cmd, int argc, char **argv, const char **address)
{
	if (optind >= argc) {
		return (cli_usage_error(cmd, "which cluster? Give its supervisor's address"));
	}
	if (optind + 1 < argc) {
		return (cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]));
	}
	*address = argv[optind];
	oscar_error_t err;
	if (strncmp(*address, "tcp://", 6) != 0 && strncmp(*address, "ipc://", 6) != 0) {
		return (cli_usage_error(cmd,
		    "'%s' is not a supervisor address (tcp://host:port or ipc:///path)", *address));
	}
	if (oscar_address_check(*address, false, "supervisor address", &err) != 0) {
		return (cli_usage_error(cmd, "%s", err.message));
	}
	return (0);
}

// ---------------------------------------------------------------------------
// The nodes, as a table or as JSON

#define CLI_COLS 10

typedef char cli_cell_t[OSCAR_ADDR_MAX + 16];

// cli_bytes renders a size the way people read it: 512 MiB, 15.6 GiB.
static void cli_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double             v       = (double) n;
	size_t             u       = 0;
	if (n == 0) {
		snprintf(buf, size, "-");
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, v < 10 && u > 0 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

// cli_age renders how long ago the last heartbeat came.
static void cli_age(const oscar_node_info_t *n, char *buf, size_t size)
{
	int64_t ms = n->heartbeat_age_ms;
	if (n->heartbeat_ms <= 0 || ms < 0) {
		snprintf(buf, size, "-");
	} else if (ms < 60000) {
		snprintf(buf, size, "%.1fs ago", (double) ms / 1000);
	} else {
		snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s ago", ms / 60000, ms / 1000 % 60);
	}
}

// cli_node_row fills the cells of one node's row.
static void cli_node_row(const oscar_node_info_t *n, cli_cell_t *row)
{
	size_t off = 0;
	snprintf(row[0], sizeof(row[0]), "%s", oscar_role_name(n->role));
	snprintf(row[1], sizeof(row[1]), "%s", n->address);
	snprintf(row[2], sizeof(row[2]), "%s", oscar_node_status_name(n->status));
	snprintf(row[3], sizeof(row[3]), "%" PRId64, n->pid);
	snprintf(row[4], sizeof(row[4]), n->cores > 0 ? "%u" : "-", n->cores);
	cli_bytes(n->memory, row[5], sizeof(row[5]));
	snprintf(row[6], sizeof(row[6]), "%u/%u", n->slots, n->sub_pools);
	row[7][0] = '\0';
	for (unsigned i = 0; i < n->n_labels && i < OSCAR_LABELS_MAX && off < sizeof(row[7]); i++) {
		off += (size_t) snprintf(
		    row[7] + off, sizeof(row[7]) - off, "%s%s", i > 0 ? "," : "", n->labels[i]);
	}
	if (row[7][0] == '\0') {
		snprintf(row[7], sizeof(row[7]), "-");
	}
	snprintf(row[8], sizeof(row[8]), n->load >= 0 && isfinite(n->load) ? "%.2f" : "-", n->load);
	cli_age(n, row[9], sizeof(row[9]));
}

// cli_print_nodes prints nodes as a table with a header, columns as wide
// as their widest cell. `oscar local` and `oscar status` both show the
// cluster with it.
static void cli_print_nodes(FILE *out, const oscar_node_info_t *nodes, size_t n)
{
	static const char *head[CLI_COLS] = { "ROLE", "ADDRESS", "STATUS", "PID", "CORES", "MEMORY",
		"SUB POOLS", "LABELS", "LOAD", "HEARTBEAT" };
	size_t             width[CLI_COLS];
	cli_cell_t        *cells = calloc(n > 0 ? n * CLI_COLS : 1, sizeof(cli_cell_t));
	if (cells == NULL) {
		fprintf(out, "(out of memory: cannot show %zu nodes)\n", n);
		return;
	}
	for (size_t c = 0; c < CLI_COLS; c++) {
		width[c] = strlen(head[c]);
	}
	for (size_t i = 0; i < n; i++) {
		cli_node_row(&nodes[i], &cells[i * CLI_COLS]);
		for (size_t c = 0; c < CLI_COLS; c++) {
			size_t w = strlen(cells[i * CLI_COLS + c]);
			width[c] = w > width[c] ? w : width[c];
		}
	}
	for (size_t i = 0; i <= n; i++) {
		for (size_t c = 0; c < CLI_COLS; c++) {
			const char *text = i == 0 ? head[c] : cells[(i - 1) * CLI_COLS + c];
			if (c + 1 == CLI_COLS) {
				fprintf(out, "%s\n", text);
			} else {
				fprintf(out, "%-*s  ", (int) width[c], text);
			}
		}
	}
	free(cells);
}

// cli_json_str writes s as a JSON string.
static void cli_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			fprintf(out, "\\%c", *p);
		} else if (*p < 0x20) {
			fprintf(out, "\\u%04x", *p);
		} else {
			fputc(*p, out);
		}
	}
	fputc('"', out);
}

// cli_print_json prints the document of `oscar status --json`.
static void cli_print_json(FILE *out, const char *address, const oscar_node_info_t *nodes, size_t n)
{
	fprintf(out, "{\"supervisor\": ");
	cli_json_str(out, address);
	fprintf(out, ", \"nodes\": [");
	for (size_t i = 0; i < n; i++) {
		const oscar_node_info_t *nd = &nodes[i];
		fprintf(out, "%s\n  {\"address\": ", i > 0 ? "," : "");
		cli_json_str(out, nd->address);
		fprintf(out, ", \"role\": ");
		cli_json_str(out, oscar_role_name(nd->role));
		fprintf(out, ", \"status\": ");
		cli_json_str(out, oscar_node_status_name(nd->status));
		fprintf(out, ", \"hostname\": ");
		cli_json_str(out, nd->hostname);
		fprintf(out,
		    ", \"pid\": %" PRId64 ", \"cores\": %u, \"memory\": %" PRIu64
		    ", \"sub_pools\": %u, \"slots\": %u, \"labels\": [",
		    nd->pid, nd->cores, nd->memory, nd->sub_pools, nd->slots);
		for (unsigned l = 0; l < nd->n_labels && l < OSCAR_LABELS_MAX; l++) {
			fprintf(out, "%s", l > 0 ? ", " : "");
			cli_json_str(out, nd->labels[l]);
		}
		fprintf(out,
		    "], \"load\": %.2f, \"actors\": %" PRIu64 ", \"registered_ms\": %" PRId64
		    ", \"heartbeat_ms\": %" PRId64 ", \"heartbeat_age_ms\": %" PRId64 "}",
		    isfinite(nd->load) ? nd->load : -1.0, nd->actors, nd->registered_ms,
		    nd->heartbeat_ms, nd->heartbeat_age_ms);
	}
	fprintf(out, "%s]}\n", n > 0 ? "\n" : "");
}

// ---------------------------------------------------------------------------
// Reaching a cluster

// cli_client_t is what status and stop need to talk to a supervisor.
typedef struct cli_client {
	oscar_pool_t    *pool;
	oscar_cluster_t *cl;
} cli_client_t;

static int cli_client_open(cli_client_t *c, const char *cmd, const char *address)
{
	oscar_pool_config_t cfg;
	oscar_error_t       err;
	char                mine[OSCAR_ADDR_MAX];
	int                 rv;

	void  *secret     = NULL;
	size_t secret_len = 0;

	memset(c, 0, sizeof(*c));
	if (oscar_cluster_client_address(address, mine, sizeof(mine), &err) != 0) {
		fprintf(stderr, "oscar %s: %s\n", cmd, err.message);
		return (1);
	}
	if (cli_secret_file != NULL &&
	    oscar_secret_read(cli_secret_file, &secret, &secret_len, &err) != 0) {
		fprintf(stderr, "oscar %s: --secret-file: %s\n", cmd, err.message);
		return (2);
	}
	oscar_pool_config_init(&cfg);
	cfg.address    = mine;
	cfg.secret     = secret;
	cfg.secret_len = secret_len;
	rv             = oscar_pool_open(&c->pool, &cfg, &err);
	oscar_secret_free(&secret, secret_len);
	if (rv != 0) {
		fprintf(stderr, "oscar %s: cannot open a client pool at %s: %s\n", cmd, mine,
		    err.message);
		return (1);
	}
	snprintf(cli_own, sizeof(cli_own), "%s", oscar_pool_address(c->pool));
	if ((rv = oscar_cluster_open(&c->cl, c->pool, address, &err)) != 0) {
		oscar_pool_free(&c->pool);
		return (cli_fail(cmd, &err, "cannot use %s", address));
	}
	return (0);
}

static void cli_client_close(cli_client_t *c)
{
	oscar_cluster_close(&c->cl);
	oscar_pool_free(&c->pool);
}

// cli_show_cluster prints the nodes of the cluster at address, as a table
// or as JSON. Returns the exit status.
static int cli_show_cluster(const char *cmd, const char *address, bool json, int64_t timeout_ms)
{
	cli_client_t       c;
	oscar_node_info_t *nodes = NULL;
	size_t             n     = 0;
	oscar_error_t      err;
	int                rv;

	if ((rv = cli_client_open(&c, cmd, address)) != 0) {
		return (rv);
	}
	rv = oscar_cluster_nodes(c.cl, OSCAR_ROLES_ALL, 0, &nodes, &n, timeout_ms, &err);
	cli_client_close(&c);
	if (rv != 0) {
		bool unreachable =
		    rv == OSCAR_ETIMEDOUT || rv == OSCAR_ECONNREFUSED || rv == OSCAR_EPEERGONE;
		return (cli_fail(cmd, &err, "%s %s",
		    unreachable ? "cannot reach the supervisor at" : "cannot list the nodes of",
		    address));
	}
	if (json) {
		cli_print_json(stdout, address, nodes, n);
	} else {
		size_t workers = 0, ready = 0;
		for (size_t i = 0; i < n; i++) {
			if (nodes[i].role == OSCAR_ROLE_WORKER) {
				workers++;
				ready += nodes[i].status == OSCAR_NODE_READY;
			}
		}
		printf("cluster at %s: %zu worker%s, %zu ready\n\n", address, workers,
		    workers == 1 ? "" : "s", ready);
		cli_print_nodes(stdout, nodes, n);
	}
	fflush(stdout);
	oscar_node_info_free(nodes, n);
	return (0);
}

// ---------------------------------------------------------------------------
// oscar status, oscar stop

// cli_address_flags reads the flags of status and stop (the table opts:
// --timeout, --secret-file, --help, and --json where json is not NULL)
// and their one address. It gives -1 to go on, else the exit status.
static int cli_address_flags(const char *cmd, const char *usage, const struct option *opts,
    int argc, char **argv, int64_t *timeout_ms, bool *json, const char **address)
{
	int c;
	while ((c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 't':
			if (cli_parse_ms(cmd, "--timeout", optarg, timeout_ms) != 0) {
				return (2);
			}
			break;
		case 'K':
			cli_secret_file = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return (0);
		default:
			return (cli_bad_flag(cmd, c, argv));
		}
	}
	return (cli_one_address(cmd, argc, argv, address) != 0 ? 2 : -1);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "secret-file", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t     timeout_ms = CLI_STATUS_TIMEOUT_MS;
	bool        json       = false;
	const char *address;
	int         rv = cli_address_flags(
	            "status", usage_status, opts, argc, argv, &timeout_ms, &json, &address);
	if (rv >= 0) {
		return (rv);
	}
	return (cli_show_cluster("status", address, json, timeout_ms));
}

static int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "secret-file", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t       timeout_ms = CLI_STOP_TIMEOUT_MS;
	const char   *address;
	cli_client_t  cc;
	oscar_error_t err;
	int           rv =
	    cli_address_flags("stop", usage_stop, opts, argc, argv, &timeout_ms, NULL, &address);
	if (rv >= 0) {
		return (rv);
	}
	if ((rv = cli_client_open(&cc, "stop", address)) != 0) {
		return (rv);
	}
	rv = oscar_cluster_stop(cc.cl, timeout_ms, &err);
	cli_client_close(&cc);
	if (rv != 0) {
		bool unreachable =
		    rv == OSCAR_ETIMEDOUT || rv == OSCAR_ECONNREFUSED || rv == OSCAR_EPEERGONE;
		return (cli_fail("stop", &err, "%s %s",
		    unreachable ? "cannot stop the cluster: no answer from the supervisor at"
		                : "cannot stop the cluster at",
		    address));
	}
	printf("stopped the cluster at %s\n", address);
	return (0);
}

// ---------------------------------------------------------------------------
// oscar local

// local_opts_t is what the flags of `oscar local` say.
typedef struct local_opts {
	oscar_local_config_t cfg;
	const char         **modules; // NULL terminated
	const char         **extra;   // NULL terminated
	size_t               n_modules, n_extra;
	const char          *address_file;
} local_opts_t;

// local_parse reads the flags of `oscar local` into o. Returns -1 to go
// on, or the exit status (help, or a bad command line).
static int local_parse(local_opts_t *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "sub-pools", required_argument, NULL, 'n' },
		{ "host", required_argument, NULL, 'H' },
		{ "load-modules", required_argument, NULL, 'M' },
		{ "config", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "set", required_argument, NULL, 'S' },
		{ "address-file", required_argument, NULL, 'A' },
		{ "timeout", required_argument, NULL, 't' },
		{ "secret-file", required_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":w:n:f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (cli_parse_uint(
			        "local", "--workers", optarg, 0, 1024, &o->cfg.workers) != 0) {
				return (2);
			}
			break;
		case 'n':
			if (cli_parse_uint(
			        "local", "--sub-pools", optarg, 0, 1024, &o->cfg.sub_pools) != 0) {
				return (2);
			}
			break;
		case 'H':
			o->cfg.host = optarg;
			break;
		case 'M':
			o->modules[o->n_modules++] = optarg;
			break;
		case 'f':
			o->cfg.config_file = optarg;
			break;
		case 'L':
			if (strcmp(optarg, "debug") != 0 && strcmp(optarg, "info") != 0 &&
			    strcmp(optarg, "warn") != 0 && strcmp(optarg, "error") != 0) {
				return (cli_usage_error("local",
				    "--log-level wants debug, info, warn or error, not '%s'",
				    optarg));
			}
			o->cfg.log_level = optarg;
			break;
		case 'S': {
			const char *eq  = strchr(optarg, '=');
			const char *dot = strchr(optarg, '.');
			if (eq == NULL || dot == NULL || dot > eq || dot == optarg ||
			    dot + 1 == eq) {
				return (cli_usage_error(
				    "local", "--set wants SECTION.KEY=VALUE, not '%s'", optarg));
			}
			o->extra[o->n_extra++] = "--set";
			o->extra[o->n_extra++] = optarg;
			break;
		}
		case 'A':
			o->address_file = optarg;
			break;
		case 't':
			if (cli_parse_ms("local", "--timeout", optarg, &o->cfg.timeout_ms) != 0) {
				return (2);
			}
			break;
		case 'K':
			cli_secret_file    = optarg;
			o->cfg.secret_file = optarg;
			break;
		case 'q':
			o->cfg.show_output = false;
			break;
		case 'h':
			printf("%s", usage_local);
			return (0);
		default:
			return (cli_bad_flag("local", c, argv));
		}
	}
	if (optind < argc) {
		return (cli_usage_error("local", "unexpected argument '%s'", argv[optind]));
	}
	return (-1);
}

// local_write_address writes address into path atomically (a temporary
// file renamed), so that a script that waits for the file reads it whole.
static int local_write_address(const char *path, const char *address)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int) getpid());
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		return (-1);
	}
	bool ok = fprintf(f, "%s\n", address) > 0;
	ok      = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e; // for the caller's message
		return (-1);
	}
	return (0);
}

// local_wait_stop waits until a signal in set arrives or the supervisor
// exits on its own, as `oscar stop` makes it do. Returns 1 when the
// supervisor failed, else 0.
static int local_wait_stop(oscar_local_t *lc, const sigset_t *set)
{
	oscar_error_t err;
	for (;;) {
		struct timespec ts  = { .tv_sec = 0, .tv_nsec = 250 * 1000000 };
		int             sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0) {
			printf("\n%s: stopping the cluster\n", sig == SIGINT   ? "interrupted"
			                                       : sig == SIGHUP ? "hung up"
			                                                       : "terminated");
			return (0);
		}
		int rv = oscar_local_wait(lc, 0, &err);
		if (rv == 0) {
			printf("the supervisor has stopped: someone stopped the cluster\n");
			return (0);
		}
		if (rv == OSCAR_EPEERGONE) {
			// The cluster goes on without it; the table shows it
			// dead once the supervisor gives up on it.
			cli_fail("local", &err, "a worker is gone");
			fflush(stderr);
		} else if (rv != OSCAR_ETIMEDOUT) {
			cli_fail("local", &err, "the cluster failed");
			return (1);
		}
	}
}

// local_run starts the cluster, shows it, and runs it until told to stop.
// local_interrupted: a stopping signal is pending (they are blocked, to be
// taken once the cluster runs), so a slow start gives up.
static bool local_interrupted(void *arg)
{
	const sigset_t *set = arg;
	sigset_t        pending;
	if (sigpending(&pending) != 0) {
		return (false);
	}
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(set, sig) == 1 && sigismember(&pending, sig) == 1) {
			return (true);
		}
	}
	return (false);
}

static int local_run(local_opts_t *o, const sigset_t *set)
{
	oscar_local_t *lc;
	oscar_error_t  err;
	int            status = 0;

	printf("starting a supervisor and %u worker%s...\n", o->cfg.workers,
	    o->cfg.workers == 1 ? "" : "s");
	fflush(stdout);
	o->cfg.cancelled  = local_interrupted;
	o->cfg.cancel_arg = (void *) set;
	if (oscar_local_start(&lc, &o->cfg, &err) != 0) {
		if (err.code == OSCAR_ECANCELED) {
			fprintf(stderr,
			    "oscar local: interrupted while starting; everything stopped\n");
			return (1);
		}
		return (cli_fail("local", &err, "cannot start the cluster"));
	}
	const char *address = oscar_local_address(lc);
	bool        wrote   = false;
	if (o->address_file != NULL) {
		wrote = local_write_address(o->address_file, address) == 0;
		if (!wrote) {
			fprintf(stderr, "oscar local: cannot write %s: %s\n", o->address_file,
			    strerror(errno));
			status = 1;
		}
	}
	if (status == 0) {
		status = cli_show_cluster("local", address, false, CLI_STATUS_TIMEOUT_MS);
	}
	if (status == 0) {
		printf("\nrunning; Ctrl-C stops the cluster\n");
		fflush(stdout);
		status = local_wait_stop(lc, set);
	}
	if (wrote) {
		unlink(o->address_file); // the address is no longer good
	}
	int rv = oscar_local_stop(&lc);
	if (rv == OSCAR_ETIMEDOUT) {
		fprintf(
		    stderr, "oscar local: some processes did not stop in time and were killed\n");
		status = 1;
	} else if (rv != 0) {
		fprintf(stderr, "oscar local: some processes did not exit cleanly\n");
		status = 1;
	} else {
		printf("stopped: every process exited cleanly\n");
	}
	return (status);
}

static int cmd_local(int argc, char **argv)
{
	local_opts_t o;
	sigset_t     set;
	int          rv;

	memset(&o, 0, sizeof(o));
	oscar_local_config_init(&o.cfg);
	o.cfg.show_output = true; // a person at a terminal wants to see the logs
	// Each flag adds at most two entries.
	o.modules = calloc((size_t) argc + 1, sizeof(char *));
	o.extra   = calloc(2 * (size_t) argc + 1, sizeof(char *));
	if (o.modules == NULL || o.extra == NULL) {
		free(o.modules);
		free(o.extra);
		fprintf(stderr, "oscar local: out of memory\n");
		return (1);
	}
	o.cfg.modules    = o.modules;
	o.cfg.extra_args = o.extra;
	rv               = local_parse(&o, argc, argv);
	if (rv < 0) {
		// Blocked before any thread starts (the cluster's client pool
		// makes some), so that every thread inherits the mask and the
		// signals wait for sigtimedwait.
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP); // the terminal went away: stop as well
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		rv = local_run(&o, &set);
	}
	free(o.modules);
	free(o.extra);
	return (rv);
}

// ---------------------------------------------------------------------------
// main

typedef struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} cli_cmd_t;

static const cli_cmd_t commands[] = {
	{ "local", cmd_local, usage_local },
	{ "status", cmd_status, usage_status },
	{ "stop", cmd_stop, usage_stop },
};

static const cli_cmd_t *cli_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			return (&commands[i]);
		}
	}
	return (NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "%s", usage_main);
		return (2);
	}
	const char *word = argv[1];
	if (strcmp(word, "-h") == 0 || strcmp(word, "--help") == 0) {
		printf("%s", usage_main);
		return (0);
	}
	if (strcmp(word, "-V") == 0 || strcmp(word, "--version") == 0) {
		printf("oscar %s\n", OSCAR_VERSION);
		return (0);
	}
	if (strcmp(word, "help") == 0) {
		if (argc < 3) {
			printf("%s", usage_main);
			return (0);
		}
		const cli_cmd_t *cmd = cli_find(argv[2]);
		if (cmd == NULL) {
			return (cli_usage_error(NULL, "no command '%s'", argv[2]));
		}
		printf("%s", cmd->usage);
		return (0);
	}
	if (word[0] == '-') {
		return (
		    cli_usage_error(NULL, "unknown flag '%s' (flags follow the command)", word));
	}
	const cli_cmd_t *cmd = cli_find(word);
	if (cmd == NULL) {
		return (cli_usage_error(NULL, "unknown command '%s'", word));
	}
	// The command sees its own name as argv[0]; errors name it.
	opterr = 0;
	optind = 1;
	return (cmd->run(argc - 1, argv + 1));
}
