// oscar_node_main: the whole program of oscar-supervisor and oscar-worker.
// Flags and the configuration file become settings (flags win), the node
// starts, and the main thread waits for SIGINT, SIGTERM or a remote stop.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "oscar/oscar.h"
#include "services/services_int.h"

// Exit statuses.
enum { OSC_EXIT_OK = 0, OSC_EXIT_FAILED = 1, OSC_EXIT_USAGE = 2 };

typedef enum osc_flag_kind {
	OSC_FLAG_SETTING, // sets section.key
	OSC_FLAG_APPEND,  // appends to a comma-separated section.key
	OSC_FLAG_CONFIG,  // names the configuration file
	OSC_FLAG_SET,     // --set section.key=value
	OSC_FLAG_HELP,
	OSC_FLAG_VERSION,
} osc_flag_kind_t;

typedef struct osc_flag {
	const char     *name;  // long name, without "--"
	char            alias; // short name, or 0
	osc_flag_kind_t kind;
	const char     *section;
	const char     *key;
	unsigned        roles;
	const char     *arg; // what the value looks like, NULL for none
	const char     *help;
} osc_flag_t;

#define OSC_BOTH   OSCAR_ROLES_ALL
#define OSC_WORKER OSCAR_ROLE_WORKER

static const osc_flag_t osc_flags[] = {
	{ "listen", 'l', OSC_FLAG_SETTING, "node", "listen", OSC_BOTH, "URL",
	    "address of the node's main pool: tcp://HOST:PORT, tls+tcp://HOST:PORT or\n"
	    "ipc:///PATH (default tcp://127.0.0.1:0; port 0 picks a free port, and a\n"
	    "wildcard host such as 0.0.0.0 is replaced by this machine's address)" },
	{ "supervisor", 's', OSC_FLAG_SETTING, "node", "supervisor", OSC_WORKER, "URL",
	    "the supervisor's address (required)" },
	{ "sub-pools", 'n', OSC_FLAG_SETTING, "node", "sub_pools", OSC_BOTH, "N",
	    "sub pools (child processes) the node starts and watches; a worker's are its task "
	    "slots (default: a worker one per core, a supervisor 0)" },
	{ "cores", 0, OSC_FLAG_SETTING, "node", "cores", OSC_BOTH, "N",
	    "cores the node offers (default: the CPUs online)" },
	{ "memory", 0, OSC_FLAG_SETTING, "node", "memory", OSC_BOTH, "SIZE",
	    "memory the node offers, such as 16G (default: the physical memory)" },
	{ "labels", 0, OSC_FLAG_SETTING, "node", "labels", OSC_BOTH, "A,B",
	    "labels of this node, at most 8 (default none)" },
	{ "config", 'f', OSC_FLAG_CONFIG, NULL, NULL, OSC_BOTH, "FILE",
	    "INI configuration file; flags override it" },
	{ "load-modules", 0, OSC_FLAG_APPEND, "node", "modules", OSC_BOTH, "A.so,B.so",
	    "shared objects that add services (repeatable)" },
	{ "services", 0, OSC_FLAG_SETTING, "node", "services", OSC_BOTH, "A,B",
	    "services to run, in order (default: every registered one of this role;\n"
	    "the cluster service always runs, first)" },
	{ "address-file", 0, OSC_FLAG_SETTING, "node", "address_file", OSC_BOTH, "PATH",
	    "write the node's real address there once it is up (removed at stop)" },
	{ "heartbeat-interval", 0, OSC_FLAG_SETTING, "cluster", "heartbeat_interval", OSC_BOTH,
	    "DURATION", "how often a worker reports to its supervisor (default 1s)" },
	{ "dead-timeout", 0, OSC_FLAG_SETTING, "cluster", "dead_timeout", OSC_BOTH, "DURATION",
	    "a worker not heard from this long is marked dead (default 5s)" },
	{ "tls-cert", 0, OSC_FLAG_SETTING, "node", "tls_cert", OSC_BOTH, "FILE",
	    "PEM certificate, for tls+tcp:// addresses" },
	{ "tls-key", 0, OSC_FLAG_SETTING, "node", "tls_key", OSC_BOTH, "FILE",
	    "PEM private key of that certificate" },
	{ "tls-ca", 0, OSC_FLAG_SETTING, "node", "tls_ca", OSC_BOTH, "FILE",
	    "PEM authority that signs the peers' certificates (verifies both ways)" },
	{ "secret-file", 0, OSC_FLAG_SETTING, "node", "secret_file", OSC_BOTH, "FILE",
	    "the cluster secret (16 to 1024 bytes, readable by its owner only): every\n"
	    "message between pools proves it; peers without it are ignored" },
	{ "max-peers", 0, OSC_FLAG_SETTING, "node", "max_peers", OSC_BOTH, "N",
	    "connections this node opens to other pools at most (default 256)" },
	{ "log-level", 0, OSC_FLAG_SETTING, "node", "log_level", OSC_BOTH, "LEVEL",
	    "debug, info, warn or error (default info)" },
	{ "log-format", 0, OSC_FLAG_SETTING, "node", "log_format", OSC_BOTH, "FORMAT",
	    "text or json, one record per line on stderr (default text)" },
	{ "set", 0, OSC_FLAG_SET, NULL, NULL, OSC_BOTH, "SECTION.KEY=VALUE",
	    "any setting, as the configuration file would give it (repeatable)" },
	{ "help", 'h', OSC_FLAG_HELP, NULL, NULL, OSC_BOTH, NULL, "show this help and exit" },
	{ "version", 0, OSC_FLAG_VERSION, NULL, NULL, OSC_BOTH, NULL, "show the version and exit" },
};
#define OSC_NFLAGS (sizeof(osc_flags) / sizeof(osc_flags[0]))

// The program's name in messages: argv[0]'s last part, so that a program
// of one's own built on oscar_node_main speaks with its own name.
static char osc_program_name[64];

static const char *osc_program(oscar_role_t role)
{
	if (osc_program_name[0] != '\0') {
		return (osc_program_name);
	}
	return (role == OSCAR_ROLE_SUPERVISOR ? "oscar-supervisor" : "oscar-worker");
}

static void osc_usage(oscar_role_t role)
{
	const char *prog = osc_program(role);
	printf(
	    "Usage: %s %s[FLAGS]\n\n", prog, role == OSCAR_ROLE_WORKER ? "--supervisor URL " : "");
	printf(role == OSCAR_ROLE_SUPERVISOR
	           ? "Runs a cluster's supervisor: the node registry that workers join, and\n"
	             "the supervisor side of every configured service.\n\n"
	           : "Runs a worker: a main pool and its sub pools that join the cluster of\n"
	             "the supervisor given, and the worker side of every configured service.\n\n");
	printf("Flags:\n");
	for (size_t i = 0; i < OSC_NFLAGS; i++) {
		const osc_flag_t *f = &osc_flags[i];
		if ((f->roles & role) == 0) {
			continue;
		}
		char alias[8] = "    ";
		if (f->alias != 0) {
			snprintf(alias, sizeof(alias), "-%c, ", f->alias);
		}
		printf("  %s--%s%s%s\n", alias, f->name, f->arg != NULL ? " " : "",
		    f->arg != NULL ? f->arg : "");
		for (const char *p = f->help; *p != '\0';) {
			const char *nl  = strchr(p, '\n');
			int         len = nl != NULL ? (int) (nl - p) : (int) strlen(p);
			printf("        %.*s\n", len, p);
			p += len + (nl != NULL);
		}
	}
	printf("\nThe configuration file (INI) holds the same settings in section [node]\n"
	       "(listen, supervisor, sub_pools, cores, memory, labels, modules, services,\n"
	       "address_file, tls_cert, tls_key, tls_ca, secret_file, max_peers, log_level,\n"
	       "log_format) and one section per service, such as [cluster]\n"
	       "heartbeat_interval, dead_timeout.\n\n"
	       "Signals: SIGINT or SIGTERM stops the node gracefully%s.\n"
	       "Exit status: 0 after a clean stop, 1 when the node could not start or\n"
	       "failed, 2 for bad flags, values or files.\n",
	    role == OSCAR_ROLE_WORKER ? " (it deregisters first)" : " (its workers are told)");
}

static int osc_usage_error(oscar_role_t role, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int osc_usage_error(oscar_role_t role, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", osc_program(role));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", osc_program(role));
	return (OSC_EXIT_USAGE);
}

// ---------------------------------------------------------------------------
// Flags

typedef struct osc_cmdline {
	const char       *config; // --config, or NULL
	oscar_settings_t *flags;  // what the flags set, applied over the file
	bool              help;
	bool              version;
} osc_cmdline_t;

static const osc_flag_t *osc_flag_find(const char *arg, oscar_role_t role)
{
	for (size_t i = 0; i < OSC_NFLAGS; i++) {
		const osc_flag_t *f  = &osc_flags[i];
		bool              is = arg[1] == '-' ? strcmp(arg + 2, f->name) == 0
		                                     : (arg[1] == f->alias && arg[2] == '\0');
		if (is && (f->roles & role) != 0) {
			return (f);
		}
	}
	return (NULL);
}

static int osc_flag_apply(
    osc_cmdline_t *cl, const osc_flag_t *f, const char *value, oscar_role_t role)
{
	switch (f->kind) {
	case OSC_FLAG_HELP:
		cl->help = true;
		return (0);
	case OSC_FLAG_VERSION:
		cl->version = true;
		return (0);
	case OSC_FLAG_CONFIG:
		cl->config = value;
		return (0);
	case OSC_FLAG_SETTING:
		if (value[0] == '\0') {
			return (osc_usage_error(role, "--%s needs a value", f->name));
		}
		return (oscar_settings_set(cl->flags, f->section, f->key, value) == 0
		            ? 0
		            : osc_usage_error(role, "cannot store --%s", f->name));
	case OSC_FLAG_APPEND: {
		const char *old = oscar_settings_get(cl->flags, f->section, f->key);
		char       *all = malloc((old != NULL ? strlen(old) : 0) + strlen(value) + 2);
		if (all == NULL) {
			return (osc_usage_error(role, "out of memory"));
		}
		sprintf(all, "%s%s%s", old != NULL ? old : "", old != NULL ? "," : "", value);
		int rv = oscar_settings_set(cl->flags, f->section, f->key, all);
		free(all);
		return (rv == 0 ? 0 : osc_usage_error(role, "cannot store --%s", f->name));
	}
	case OSC_FLAG_SET: {
		const char *dot = strchr(value, '.');
		const char *eq  = strchr(value, '=');
		char        section[64];
		char        key[64];
		if (dot == NULL || eq == NULL || dot > eq || dot - value >= 64 || eq - dot > 64) {
			return (
			    osc_usage_error(role, "--set '%s': expected SECTION.KEY=VALUE", value));
		}
		snprintf(section, sizeof(section), "%.*s", (int) (dot - value), value);
		snprintf(key, sizeof(key), "%.*s", (int) (eq - dot - 1), dot + 1);
		if (oscar_settings_set(cl->flags, section, key, eq + 1) != 0) {
			return (
			    osc_usage_error(role, "--set '%s': bad section or key name", value));
		}
		return (0);
	}
	}
	return (0);
}

static int osc_parse_flags(osc_cmdline_t *cl, int argc, char **argv, oscar_role_t role)
{
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		if (arg[0] != '-' || arg[1] == '\0') {
			return (osc_usage_error(role, "unexpected argument '%s'", arg));
		}
		// --name=value
		char  name[96];
		char *value = NULL;
		char *eq    = arg[1] == '-' ? strchr(arg, '=') : NULL;
		snprintf(name, sizeof(name), "%.*s",
		    eq != NULL ? (int) (eq - arg) : (int) strlen(arg), arg);
		const osc_flag_t *f = osc_flag_find(name, role);
		if (f == NULL) {
			return (osc_usage_error(role, "unknown flag '%s'", name));
		}
		if (f->arg == NULL) {
			if (eq != NULL) {
				return (osc_usage_error(role, "%s takes no value", name));
			}
		} else if (eq != NULL) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			return (osc_usage_error(role, "%s needs a value (%s)", name, f->arg));
		}
		int rv = osc_flag_apply(cl, f, value != NULL ? value : "", role);
		if (rv != 0) {
			return (rv);
		}
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Running

// osc_subpool_reg is this process's registry while it runs as a sub pool.
static oscar_registry_t *osc_subpool_reg;

oscar_registry_t *osc_subpool_registry(void)
{
	return (osc_subpool_reg);
}

int oscar_node_subpool_main(oscar_registry_t *given)
{
	if (getenv("OSCAR_SUBPOOL_ADDRESS") == NULL) {
		return (-1);
	}
	oscar_registry_t *reg = given;
	if (reg == NULL && oscar_registry_new(&reg) != 0) {
		return (OSC_EXIT_FAILED);
	}
	char **paths = NULL;
	size_t n     = 0;
	int    rv    = osc_split_list(getenv("OSCAR_NODE_MODULES"), &paths, &n);
	for (size_t i = 0; i < n && rv == 0; i++) {
		oscar_error_t err;
		rv = oscar_registry_load(reg, paths[i], &err);
		if (rv != 0) {
			fprintf(stderr, "oscar sub pool: %s\n", err.message);
		}
	}
	osc_free_list(paths, n);
	const oscar_actor_class_t **classes = rv == 0 ? osc_registry_classes(reg) : NULL;
	osc_subpool_reg                     = reg;
	int status      = classes != NULL ? oscar_subpool_main(classes) : OSC_EXIT_FAILED;
	osc_subpool_reg = NULL;
	free(classes);
	if (reg != given) {
		oscar_registry_free(&reg);
	}
	return (status < 0 ? OSC_EXIT_FAILED : status);
}

// osc_wait_for_stop blocks until SIGINT, SIGTERM or a requested stop.
static void osc_wait_for_stop(oscar_node_t *node, int sfd)
{
	struct pollfd fds[2] = { { .fd = osc_node_stop_fd(node), .events = POLLIN },
		{ .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			oscar_log(OSCAR_LOG_ERROR, "node", "poll: %s; stopping", strerror(errno));
			return;
		}
		if (fds[1].revents != 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
				oscar_log(OSCAR_LOG_INFO, "node", "received %s; stopping",
				    si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			}
			return;
		}
		if (fds[0].revents != 0) {
			oscar_log(OSCAR_LOG_INFO, "node", "stop requested");
			return;
		}
	}
}

// osc_worker_default_subs gives a worker started without --sub-pools one
// sub pool (one task slot) per core: the cores it offers (--cores, else
// the CPUs online), at most 256. *own is then a copy of settings with
// node.sub_pools set (the caller frees it), else NULL. A node on
// tls+tcp://, where sub pools are not supported yet, keeps none.
static int osc_worker_default_subs(
    oscar_role_t role, const oscar_settings_t *settings, oscar_settings_t **own)
{
	const char *listen = oscar_settings_get(settings, "node", "listen");
	const char *cores  = oscar_settings_get(settings, "node", "cores");
	*own               = NULL;
	if (role != OSCAR_ROLE_WORKER ||
	    oscar_settings_get(settings, "node", "sub_pools") != NULL ||
	    (listen != NULL && strncmp(listen, "tls+tcp://", 10) == 0)) {
		return (0);
	}
	long n = cores != NULL ? strtol(cores, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	n      = n < 1 ? 1 : n > 256 ? 256 : n;
	char buf[16];
	snprintf(buf, sizeof(buf), "%ld", n);
	int rv = oscar_settings_new(own);
	rv     = rv != 0 ? rv : osc_settings_copy(*own, settings);
	rv     = rv != 0 ? rv : oscar_settings_set(*own, "node", "sub_pools", buf);
	if (rv != 0) {
		oscar_settings_free(own);
	}
	return (rv);
}

static int osc_run(oscar_role_t role, const oscar_settings_t *settings, oscar_registry_t *reg)
{
	// Die with the program that started us (oscar local), when asked:
	// OSCAR_DIE_WITH_PARENT is 1, or that program's pid, which also
	// catches a parent that died before the request was made.
	const char *dwp = getenv("OSCAR_DIE_WITH_PARENT");
	if (dwp != NULL && dwp[0] != '\0' && strcmp(dwp, "0") != 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		pid_t parent = strcmp(dwp, "1") == 0 ? 0 : (pid_t) atoi(dwp);
		if (getppid() == 1 || (parent > 0 && getppid() != parent)) {
			return (OSC_EXIT_FAILED);
		}
	}
	// Signals are taken through a signalfd; block them before any thread
	// exists, so that every thread inherits the mask.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		oscar_log(OSCAR_LOG_ERROR, "node", "signalfd: %s", strerror(errno));
		return (OSC_EXIT_FAILED);
	}

	oscar_node_t     *node;
	oscar_error_t     err;
	oscar_settings_t *own = NULL;
	int               rv  = osc_worker_default_subs(role, settings, &own);
	if (rv != 0) {
		fprintf(stderr, "%s: cannot start: %s\n", osc_program(role), oscar_strerror(rv));
		close(sfd);
		return (OSC_EXIT_FAILED);
	}
	rv = oscar_node_start(&node, role, own != NULL ? own : settings, reg, &err);
	oscar_settings_free(&own);
	if (rv != 0) {
		fprintf(stderr, "%s: cannot start: %s\n", osc_program(role), err.message);
		close(sfd);
		return (OSC_EXIT_FAILED);
	}
	printf("listening at %s\n", oscar_node_address(node));
	fflush(stdout);
	osc_wait_for_stop(node, sfd);
	oscar_node_stop(&node);
	close(sfd);
	oscar_log(OSCAR_LOG_INFO, "node", "stopped");
	return (OSC_EXIT_OK);
}

int oscar_node_main(oscar_role_t role, int argc, char **argv, oscar_registry_t *registry)
{
	int rv = oscar_node_subpool_main(registry);
	if (rv >= 0) {
		return (rv);
	}
	osc_log_role(oscar_role_name(role));
	if (argc > 0 && argv[0] != NULL) {
		const char *slash = strrchr(argv[0], '/');
		snprintf(osc_program_name, sizeof(osc_program_name), "%s",
		    slash != NULL ? slash + 1 : argv[0]);
	}
	osc_cmdline_t cl = { 0 };
	if (oscar_settings_new(&cl.flags) != 0) {
		return (OSC_EXIT_FAILED);
	}
	oscar_settings_t *settings = NULL;
	oscar_registry_t *reg      = registry;
	oscar_registry_t *own      = NULL;
	rv                         = osc_parse_flags(&cl, argc, argv, role);
	if (rv == 0 && cl.help) {
		osc_usage(role);
	} else if (rv == 0 && cl.version) {
		printf("%s %s\n", osc_program(role), OSCAR_VERSION);
	} else if (rv == 0) {
		oscar_error_t err = { 0 };
		// The file first, then the flags over it.
		rv = oscar_settings_new(&settings);
		if (rv == 0 && cl.config != NULL) {
			rv = oscar_settings_load_file(settings, cl.config, &err);
		}
		rv = rv != 0 ? rv : osc_settings_copy(settings, cl.flags);
		// The modules' services are checked with the others: load them
		// first (a module that cannot be loaded is a failure, status 1).
		if (rv == 0 && reg == NULL && (rv = oscar_registry_new(&own)) == 0) {
			reg = own;
		}
		if (rv == 0 && osc_node_load_modules(reg, settings, NULL, &err) != 0) {
			fprintf(stderr, "%s: cannot start: %s\n", osc_program(role), err.message);
			rv = OSC_EXIT_FAILED;
		} else {
			rv = rv != 0 ? rv : osc_node_check_settings(settings, role, reg, &err);
			if (rv == OSCAR_ENOMEM) {
				fprintf(stderr, "%s: out of memory\n", osc_program(role));
				rv = OSC_EXIT_FAILED;
			} else if (rv != 0) {
				rv = osc_usage_error(role, "%s", err.message);
			} else {
				rv = osc_run(role, settings, reg);
			}
		}
	}
	oscar_registry_free(&own);
	oscar_settings_free(&settings);
	oscar_settings_free(&cl.flags);
	return (rv);
}
