// Local clusters: a supervisor and workers as child processes.
//
// Design note. oscar_local_start runs the node programs with posix_spawn,
// no event loop: the supervisor first, with --address-file naming a file
// in a temporary directory, which the supervisor writes (atomically) once
// it listens and its services run. We poll for that file every few
// milliseconds, and between two looks we also reap the supervisor if it
// has exited, so that a supervisor that fails at once is reported at once,
// with the last lines of its standard error (a file in the same directory,
// unless show_output). Then the workers start, all together, and we ask
// the supervisor, through a small client pool of our own, to wait until
// they are ready (oscar_cluster_wait_workers), in short slices, again
// checking between two slices that no process has exited.
//
// Every child gets its own process group, so that a Ctrl-C at a terminal
// reaches only the program that started the cluster, which then stops the
// workers before the supervisor (workers deregister on the way out); and
// OSCAR_DIE_WITH_PARENT=1, which makes the node programs ask the kernel to
// kill them when their parent goes, so that they never outlive a killed
// parent. Stopping sends SIGTERM, waits for the exit within a deadline,
// and only then sends SIGKILL to the child's whole process group (its sub
// pools included). Every child is reaped by pid; nothing waits unbounded.
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oscar/cluster.h"
#include "oscar/local.h"

#ifndef OSCAR_INSTALL_BINDIR
#define OSCAR_INSTALL_BINDIR "/usr/local/bin"
#endif

extern char **environ;

#define OSC_LOCAL_POLL_MS      10   // how often we look for files and exits
#define OSC_LOCAL_SLICE_MS     200  // one wait for the workers, between exit checks
#define OSC_LOCAL_RETRY_MS     50   // after a wait for the workers that failed
#define OSC_LOCAL_KILL_WAIT_MS 5000 // for a SIGKILLed process to be reaped
#define OSC_LOCAL_FAIL_GRACE   5000 // stop grace when the start failed
#define OSC_LOCAL_MAX_WORKERS  1024
#define OSC_LOCAL_TAIL_BYTES   2048 // of a log, read to quote its last lines

static const char *const osc_supervisor_prog = "oscar-supervisor";
static const char *const osc_worker_prog     = "oscar-worker";

// osc_child_t is one node process.
typedef struct osc_child {
	char  name[32];      // "supervisor", "worker 0", ...
	pid_t pid;           // 0: not started
	bool  reaped;        // waited for: status is known
	bool  reported;      // its failure was told by oscar_local_wait
	int   status;        // as waitpid gives it; -1 when unknown
	char  log[PATH_MAX]; // its standard error, unless show_output
	char  out[PATH_MAX]; // its standard output
} osc_child_t;

struct oscar_local {
	char    address[OSCAR_ADDR_MAX];
	char    dir[PATH_MAX]; // the temporary directory, "" once removed
	char    bin_dir[PATH_MAX];
	int64_t timeout_ms;
	bool    show_output;
	bool (*cancelled)(void *arg);
	void        *cancel_arg;
	osc_child_t  supervisor;
	osc_child_t *workers;
	unsigned     n_workers;
	unsigned     started;     // workers spawned so far
	unsigned     min_workers; // how many must be ready for the start
	char        *secret_file; // the cluster secret's file, or NULL
	char        *program;     // the one program of every node, or NULL
};

// ---------------------------------------------------------------------------
// Small helpers

// osc_cancelled tells whether the caller has given up on the start.
static bool osc_cancelled(const oscar_local_t *lc)
{
	return (lc->cancelled != NULL && lc->cancelled(lc->cancel_arg));
}

static int64_t osc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void osc_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

// osc_fail fills err (which may be NULL) and returns code.
static int osc_fail(oscar_error_t *err, int code, int64_t pid, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int osc_fail(oscar_error_t *err, int code, int64_t pid, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	oscar_error_setv(err, code, fmt, ap);
	va_end(ap);
	if (err != NULL) {
		err->pid = pid;
	}
	return (code);
}

// osc_is_exe tells whether dir/name is a file this process may run.
static bool osc_is_exe(const char *dir, const char *name)
{
	char path[PATH_MAX];
	if (strlen(dir) > sizeof(path) - 32) {
		return (false); // no room for the program's name
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (access(path, X_OK) == 0);
}

// osc_find_bin_dir picks the directory of the node programs, in the order
// local.h gives. An explicit choice (the configuration or OSCAR_BIN_DIR)
// that lacks them is an error rather than a reason to look elsewhere: a
// program from another build would be more confusing than a clear error.
static int osc_find_bin_dir(const char *want, char *out, size_t size, oscar_error_t *err)
{
	const char *env = getenv("OSCAR_BIN_DIR");
	const char *why = want != NULL ? "bin_dir" : "OSCAR_BIN_DIR";
	if (want == NULL && env != NULL && *env != '\0') {
		want = env;
	}
	if (want != NULL) {
		if (!osc_is_exe(want, osc_supervisor_prog) || !osc_is_exe(want, osc_worker_prog)) {
			return (
			    osc_fail(err, OSCAR_ENOENT, getpid(), "no %s and %s in %s (set by %s)",
			        osc_supervisor_prog, osc_worker_prog, want, why));
		}
		snprintf(out, size, "%s", want);
		return (0);
	}
	char    self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n]         = '\0';
		const char *dir = dirname(self);
		if (osc_is_exe(dir, osc_supervisor_prog) && osc_is_exe(dir, osc_worker_prog)) {
			snprintf(out, size, "%s", dir);
			return (0);
		}
	} else {
		snprintf(self, sizeof(self), "(this program's directory)");
	}
	if (osc_is_exe(OSCAR_INSTALL_BINDIR, osc_supervisor_prog) &&
	    osc_is_exe(OSCAR_INSTALL_BINDIR, osc_worker_prog)) {
		snprintf(out, size, "%s", OSCAR_INSTALL_BINDIR);
		return (0);
	}
	return (osc_fail(err, OSCAR_ENOENT, getpid(),
	    "cannot find %s and %s: tried %s and %s; set OSCAR_BIN_DIR to their directory",
	    osc_supervisor_prog, osc_worker_prog, self, OSCAR_INSTALL_BINDIR));
}

// osc_strip_stamp skips the timestamp that starts a text log record
// ("2026-11-21T11:04:10.123Z "), which would take much of an error
// message's room and says nothing there.
static const char *osc_strip_stamp(const char *line)
{
	size_t n = strlen(line);
	if (n > 20 && line[4] == '-' && line[7] == '-' && line[10] == 'T') {
		const char *sp = strchr(line, ' ');
		if (sp != NULL && sp - line < 40 && sp[-1] == 'Z') {
			return (sp + 1);
		}
	}
	return (line);
}

// osc_log_tail writes into buf the last lines of the file at path that
// fit, oldest first, joined by " | ". Empty when there is nothing.
static void osc_log_tail(const char *path, char *buf, size_t size)
{
	char   text[OSC_LOCAL_TAIL_BYTES + 1];
	char  *lines[64];
	size_t n = 0;
	buf[0]   = '\0';
	FILE *f  = fopen(path, "r");
	if (f == NULL) {
		return;
	}
	long len = 0;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > OSC_LOCAL_TAIL_BYTES) {
		fseek(f, len - OSC_LOCAL_TAIL_BYTES, SEEK_SET);
	} else {
		fseek(f, 0, SEEK_SET);
	}
	size_t got = fread(text, 1, OSC_LOCAL_TAIL_BYTES, f);
	fclose(f);
	text[got] = '\0';
	// The first line may be cut by the seek: keep it only if whole.
	char *p = text;
	if (len > OSC_LOCAL_TAIL_BYTES) {
		char *nl = strchr(text, '\n');
		p        = nl != NULL ? nl + 1 : text;
	}
	for (char *save = NULL, *l = strtok_r(p, "\r\n", &save); l != NULL;
	     l = strtok_r(NULL, "\r\n", &save)) {
		if (n == sizeof(lines) / sizeof(lines[0])) {
			memmove(lines, lines + 1, (n - 1) * sizeof(lines[0]));
			n--;
		}
		lines[n++] = l;
	}
	// Take lines from the end while they fit; the last one always.
	size_t first = n, used = 0;
	while (first > 0) {
		size_t l = strlen(osc_strip_stamp(lines[first - 1])) + 3;
		if (first < n && used + l >= size) {
			break;
		}
		used += l;
		first--;
	}
	size_t off = 0;
	for (size_t i = first; i < n && off < size; i++) {
		off += (size_t) snprintf(buf + off, size - off, "%s%s", i > first ? " | " : "",
		    osc_strip_stamp(lines[i]));
	}
}

// osc_exit_text describes how a reaped child ended.
static void osc_exit_text(const osc_child_t *c, char *buf, size_t size)
{
	if (c->status < 0) {
		snprintf(buf, size, "exited (status unknown)");
	} else if (WIFEXITED(c->status)) {
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(c->status));
	} else if (WIFSIGNALED(c->status)) {
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(c->status),
		    strsignal(WTERMSIG(c->status)));
	} else {
		snprintf(buf, size, "stopped (status %#x)", c->status);
	}
}

// osc_fail_exited reports, as code, that child c ended when it should not
// have: how, and what it last wrote.
static int osc_fail_exited(
    const oscar_local_t *lc, const osc_child_t *c, int code, const char *when, oscar_error_t *err)
{
	char how[96], tail[OSCAR_ERRMSG_MAX] = "";
	osc_exit_text(c, how, sizeof(how));
	// With show_output, what it wrote is on our own standard error.
	if (!lc->show_output) {
		osc_log_tail(c->log, tail, sizeof(tail));
		if (tail[0] == '\0') {
			snprintf(tail, sizeof(tail), "it wrote nothing");
		}
	}
	return (osc_fail(err, code, c->pid, "%s (pid %d) %s %s%s%s", c->name, (int) c->pid, how,
	    when, tail[0] != '\0' ? ": " : "", tail));
}

// ---------------------------------------------------------------------------
// Children

// osc_child_exited reaps c if it has exited, without waiting, and tells
// whether it has (a child never started counts as exited).
static bool osc_child_exited(osc_child_t *c)
{
	if (c->pid <= 0 || c->reaped) {
		return (true);
	}
	int   st;
	pid_t r = waitpid(c->pid, &st, WNOHANG);
	if (r == c->pid) {
		c->reaped = true;
		c->status = st;
	} else if (r < 0 && errno == ECHILD) {
		// Someone else reaped it (SIGCHLD ignored, say): it is gone.
		c->reaped = true;
		c->status = -1;
	}
	return (c->reaped);
}

// osc_children_wait waits until every child of c[0..n) has exited, or
// until deadline (true when they all have).
static bool osc_children_wait(osc_child_t *c, size_t n, int64_t deadline)
{
	for (;;) {
		bool all = true;
		for (size_t i = 0; i < n; i++) {
			all = osc_child_exited(&c[i]) && all;
		}
		int64_t left = deadline - osc_now_ms();
		if (all || left <= 0) {
			return (all);
		}
		osc_sleep_ms(left < OSC_LOCAL_POLL_MS ? left : OSC_LOCAL_POLL_MS);
	}
}

// osc_children_stop stops c[0..n): SIGTERM, grace_ms for them to exit,
// then SIGKILL to each one's process group (its sub pools too) and a
// bounded wait to reap it. Returns false when one had to be killed.
static bool osc_children_stop(osc_child_t *c, size_t n, int64_t grace_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (!osc_child_exited(&c[i])) {
			kill(c[i].pid, SIGTERM);
		}
	}
	if (osc_children_wait(c, n, osc_now_ms() + grace_ms)) {
		return (true);
	}
	for (size_t i = 0; i < n; i++) {
		// Not yet reaped, so the pid and its group are still ours.
		if (!osc_child_exited(&c[i])) {
			kill(-c[i].pid, SIGKILL);
			kill(c[i].pid, SIGKILL);
		}
	}
	osc_children_wait(c, n, osc_now_ms() + OSC_LOCAL_KILL_WAIT_MS);
	return (false);
}

// osc_child_ok tells whether c exited with status 0.
static bool osc_child_ok(const osc_child_t *c)
{
	return (c->pid <= 0 || (c->reaped && c->status >= 0 && WIFEXITED(c->status) &&
	                           WEXITSTATUS(c->status) == 0));
}

// osc_args_t is a command line being built, sized beforehand for the
// configuration (osc_args_init); a push that finds no room (no memory) is
// remembered and reported once, when the line is used.
typedef struct osc_args {
	char **v;
	size_t n, cap;
	bool   failed;
} osc_args_t;

// OSC_ARGS_FIXED is room for the flags every node gets from us.
#define OSC_ARGS_FIXED 16

static void osc_args_init(osc_args_t *a, const oscar_local_config_t *cfg)
{
	size_t cap = OSC_ARGS_FIXED;
	for (const char *const *m = cfg->modules; m != NULL && *m != NULL; m++) {
		cap += 2;
	}
	for (const char *const *x = cfg->extra_args; x != NULL && *x != NULL; x++) {
		cap++;
	}
	a->n      = 0;
	a->v      = calloc(cap, sizeof(char *));
	a->cap    = a->v != NULL ? cap : 0;
	a->failed = a->v == NULL;
}

static void osc_args_push(osc_args_t *a, const char *s)
{
	if (a->n + 1 >= a->cap) {
		a->failed = true;
		return;
	}
	a->v[a->n++] = (char *) s;
	a->v[a->n]   = NULL;
}

static void osc_args_fini(osc_args_t *a)
{
	free(a->v);
	a->v = NULL;
}

// osc_child_env makes the environment of a node: ours, less anything that
// would make it act as a sub pool (a node re-executed as its own sub pools
// reads OSCAR_SUBPOOL_*) or as a node of another role, plus
// OSCAR_DIE_WITH_PARENT=<our pid>, held in buf, and role (an
// "OSCAR_NODE_ROLE=..." string, or NULL) when every node is one program. Free the array (not the
// strings) with free().
static char **osc_child_env(char *buf, size_t size, const char *role)
{
	size_t n = 0;
	while (environ[n] != NULL) {
		n++;
	}
	char **env = calloc(n + 3, sizeof(char *));
	if (env == NULL) {
		return (NULL);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "OSCAR_SUBPOOL_", 14) != 0 &&
		    strncmp(environ[i], "OSCAR_DIE_WITH_PARENT=", 22) != 0 &&
		    strncmp(environ[i], "OSCAR_NODE_ROLE=", 16) != 0) {
			env[k++] = environ[i];
		}
	}
	snprintf(buf, size, "OSCAR_DIE_WITH_PARENT=%d", (int) getpid());
	env[k++] = buf;
	if (role != NULL) {
		env[k++] = (char *) role;
	}
	env[k] = NULL;
	return (env);
}

// osc_child_spawn runs args as child c: its own process group, default
// signal handling and an empty signal mask whatever ours are (a program
// that waits for signals blocks them), standard input from /dev/null,
// standard output to c->out and standard error (unless show_output) to
// c->log, apart so that errors quote only what it said was wrong.
static int osc_child_spawn(
    oscar_local_t *lc, osc_child_t *c, const osc_args_t *args, const char *role, oscar_error_t *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          attr;
	sigset_t                   none, dfl;
	int                        rv;

	char   die_with[48];
	char **env = args->failed ? NULL
	                          : osc_child_env(die_with, sizeof(die_with),
	                                lc->program != NULL ? role : NULL);
	if (env == NULL) {
		return (
		    osc_fail(err, OSCAR_ENOMEM, getpid(), "out of memory starting %s", c->name));
	}
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(
	    &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, c->out, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (!lc->show_output) {
		posix_spawn_file_actions_addopen(
		    &fa, 2, c->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	}
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	// Descriptors we hold without close-on-exec are none of its business.
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	rv = posix_spawn(&c->pid, args->v[0], &fa, &attr, args->v, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env);
	if (rv != 0) {
		c->pid = 0;
		return (osc_fail(err, OSCAR_ESYSTEM, getpid(), "cannot start %s (%s): %s", c->name,
		    args->v[0], strerror(rv)));
	}
	return (0);
}

// osc_node_args fills a with what every node's command line holds after
// the program and its role's own flags.
static void osc_node_args(osc_args_t *a, const oscar_local_config_t *cfg, const char *listen)
{
	osc_args_push(a, "--listen");
	osc_args_push(a, listen);
	osc_args_push(a, "--log-level");
	osc_args_push(a, cfg->log_level != NULL ? cfg->log_level : "warn");
	if (cfg->config_file != NULL) {
		osc_args_push(a, "--config");
		osc_args_push(a, cfg->config_file);
	}
	if (cfg->secret_file != NULL) {
		osc_args_push(a, "--secret-file");
		osc_args_push(a, cfg->secret_file);
	}
	for (const char *const *m = cfg->modules; m != NULL && *m != NULL; m++) {
		osc_args_push(a, "--load-modules");
		osc_args_push(a, *m);
	}
	for (const char *const *x = cfg->extra_args; x != NULL && *x != NULL; x++) {
		osc_args_push(a, *x);
	}
}

// ---------------------------------------------------------------------------
// The start

// osc_read_address reads the address file at path: 0 and the address,
// or OSCAR_ENOENT while it is not there yet. The supervisor writes it by
// rename, so a file that exists is whole.
static int osc_read_address(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return (OSCAR_ENOENT);
	}
	char  *got = fgets(out, (int) size, f);
	size_t n   = got != NULL ? strcspn(out, "\r\n \t") : 0;
	fclose(f);
	out[n] = '\0';
	return (n > 0 ? 0 : OSCAR_ENOENT);
}

// osc_start_supervisor starts the supervisor and waits for its address.
static int osc_start_supervisor(oscar_local_t *lc, const oscar_local_config_t *cfg,
    const char *listen, int64_t deadline, oscar_error_t *err)
{
	osc_child_t *c = &lc->supervisor;
	char         prog[PATH_MAX], addr_file[PATH_MAX];
	osc_args_t   a;
	int          rv;

	snprintf(c->name, sizeof(c->name), "supervisor");
	snprintf(c->log, sizeof(c->log), "%s/supervisor.log", lc->dir);
	snprintf(c->out, sizeof(c->out), "%s/supervisor.out", lc->dir);
	if (lc->program != NULL) {
		snprintf(prog, sizeof(prog), "%s", lc->program);
	} else {
		snprintf(prog, sizeof(prog), "%s/%s", lc->bin_dir, osc_supervisor_prog);
	}
	snprintf(addr_file, sizeof(addr_file), "%s/supervisor.addr", lc->dir);
	osc_args_init(&a, cfg);
	osc_args_push(&a, prog);
	osc_args_push(&a, "--address-file");
	osc_args_push(&a, addr_file);
	osc_node_args(&a, cfg, listen);
	rv = osc_child_spawn(lc, c, &a, "OSCAR_NODE_ROLE=supervisor", err);
	osc_args_fini(&a);
	if (rv != 0) {
		return (rv);
	}
	for (;;) {
		if (osc_read_address(addr_file, lc->address, sizeof(lc->address)) == 0) {
			return (0);
		}
		if (osc_child_exited(c)) {
			return (
			    osc_fail_exited(lc, c, OSCAR_ESYSTEM, "before it was listening", err));
		}
		if (osc_cancelled(lc)) {
			return (
			    osc_fail(err, OSCAR_ECANCELED, getpid(), "the start was cancelled"));
		}
		int64_t left = deadline - osc_now_ms();
		if (left <= 0) {
			return (osc_fail(err, OSCAR_ETIMEDOUT, c->pid,
			    "supervisor (pid %d) did not start listening within %lld ms",
			    (int) c->pid, (long long) lc->timeout_ms));
		}
		osc_sleep_ms(left < OSC_LOCAL_POLL_MS ? left : OSC_LOCAL_POLL_MS);
	}
}

// osc_start_workers starts every worker, without waiting for them.
static int osc_start_workers(
    oscar_local_t *lc, const oscar_local_config_t *cfg, const char *listen, oscar_error_t *err)
{
	char prog[PATH_MAX], subs[16];
	int  rv;

	if (lc->program != NULL) {
		snprintf(prog, sizeof(prog), "%s", lc->program);
	} else {
		snprintf(prog, sizeof(prog), "%s/%s", lc->bin_dir, osc_worker_prog);
	}
	snprintf(subs, sizeof(subs), "%u", cfg->sub_pools);
	for (unsigned i = 0; i < lc->n_workers; i++) {
		osc_child_t *c = &lc->workers[i];
		osc_args_t   a;
		snprintf(c->name, sizeof(c->name), "worker %u", i);
		snprintf(c->log, sizeof(c->log), "%s/worker-%u.log", lc->dir, i);
		snprintf(c->out, sizeof(c->out), "%s/worker-%u.out", lc->dir, i);
		osc_args_init(&a, cfg);
		osc_args_push(&a, prog);
		osc_args_push(&a, "--supervisor");
		osc_args_push(&a, lc->address);
		osc_args_push(&a, "--sub-pools");
		osc_args_push(&a, subs);
		osc_node_args(&a, cfg, listen);
		rv = osc_child_spawn(lc, c, &a, "OSCAR_NODE_ROLE=worker", err);
		osc_args_fini(&a);
		if (rv != 0) {
			return (rv);
		}
		lc->started++;
	}
	return (0);
}

// osc_check_alive fails when any process has exited.
static int osc_check_alive(oscar_local_t *lc, oscar_error_t *err)
{
	if (osc_child_exited(&lc->supervisor)) {
		return (osc_fail_exited(
		    lc, &lc->supervisor, OSCAR_ESYSTEM, "while the workers started", err));
	}
	for (unsigned i = 0; i < lc->started; i++) {
		if (osc_child_exited(&lc->workers[i])) {
			return (osc_fail_exited(
			    lc, &lc->workers[i], OSCAR_ESYSTEM, "before it was ready", err));
		}
	}
	return (0);
}

// osc_fail_not_ready reports that the workers were not ready in time:
// what the supervisor last said, and what the first worker that wrote
// anything last wrote (a warning about the supervisor, say).
static int osc_fail_not_ready(
    const oscar_local_t *lc, const oscar_error_t *last, oscar_error_t *err)
{
	char tail[OSCAR_ERRMSG_MAX / 2] = "";
	char who[48]                    = "";
	for (unsigned i = 0; i < lc->started && !lc->show_output && tail[0] == '\0'; i++) {
		osc_log_tail(lc->workers[i].log, tail, sizeof(tail));
		snprintf(who, sizeof(who), "; %s wrote: ", lc->workers[i].name);
	}
	return (osc_fail(err, OSCAR_ETIMEDOUT, lc->supervisor.pid,
	    "the workers were not all ready within %lld ms (%s)%s%s", (long long) lc->timeout_ms,
	    last->message[0] != '\0' ? last->message : "no answer", tail[0] != '\0' ? who : "",
	    tail));
}

// osc_wait_ready waits until the supervisor counts every worker as ready,
// asking it through a client pool at client_addr, in slices so that a
// process that exits meanwhile is noticed within one slice.
static int osc_wait_ready(
    oscar_local_t *lc, const char *client_addr, int64_t deadline, oscar_error_t *err)
{
	oscar_pool_config_t pcfg;
	oscar_pool_t       *pool = NULL;
	oscar_cluster_t    *cl   = NULL;
	oscar_error_t       last;
	int                 rv;

	void  *secret     = NULL;
	size_t secret_len = 0;

	memset(&last, 0, sizeof(last));
	if (lc->secret_file != NULL &&
	    (rv = oscar_secret_read(lc->secret_file, &secret, &secret_len, err)) != 0) {
		return (rv);
	}
	oscar_pool_config_init(&pcfg);
	pcfg.address    = client_addr;
	pcfg.secret     = secret;
	pcfg.secret_len = secret_len;
	oscar_error_t perr;
	rv = oscar_pool_open(&pool, &pcfg, &perr);
	oscar_secret_free(&secret, secret_len);
	if (rv != 0) {
		return (osc_fail(err, rv, getpid(), "cannot open a client pool at %s: %s",
		    client_addr, perr.message));
	}
	if ((rv = oscar_cluster_open(&cl, pool, lc->address, err)) != 0) {
		oscar_pool_free(&pool);
		return (rv);
	}
	for (;;) {
		if ((rv = osc_check_alive(lc, err)) != 0) {
			break;
		}
		if (osc_cancelled(lc)) {
			rv = osc_fail(err, OSCAR_ECANCELED, getpid(), "the start was cancelled");
			break;
		}
		int64_t left = deadline - osc_now_ms();
		if (left <= 0) {
			rv = osc_fail_not_ready(lc, &last, err);
			break;
		}
		// Any failure may be passing (the workers are still
		// registering): keep the last one to explain a timeout.
		rv = oscar_cluster_wait_workers(cl, lc->min_workers,
		    left < OSC_LOCAL_SLICE_MS ? left : OSC_LOCAL_SLICE_MS, &last);
		if (rv == 0) {
			break;
		}
		if (rv != OSCAR_ETIMEDOUT) {
			// A quick failure: do not spin on it.
			osc_sleep_ms(OSC_LOCAL_RETRY_MS);
		}
	}
	oscar_cluster_close(&cl);
	oscar_pool_free(&pool);
	return (rv);
}

// osc_tcp_url writes "tcp://host:0", bracketing an IPv6 host.
static void osc_tcp_url(const char *host, char *buf, size_t size)
{
	bool v6 = strchr(host, ':') != NULL && host[0] != '[';
	snprintf(buf, size, "tcp://%s%s%s:0", v6 ? "[" : "", host, v6 ? "]" : "");
}

// osc_remove_cb removes one entry of the temporary directory.
static int osc_remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return (0);
}

// osc_local_free removes the temporary directory and frees lc.
static void osc_local_free(oscar_local_t *lc)
{
	if (lc->dir[0] != '\0') {
		// Depth first, not following links: only what is inside goes.
		nftw(lc->dir, osc_remove_cb, 8, FTW_DEPTH | FTW_PHYS);
	}
	free(lc->workers);
	free(lc->secret_file);
	free(lc->program);
	free(lc);
}

// osc_local_teardown stops whatever runs (workers first), reaps every
// process, and tells whether all exited with status 0 without being
// killed (0), or how not.
static int osc_local_teardown(oscar_local_t *lc, int64_t grace_ms)
{
	bool clean = osc_children_stop(lc->workers, lc->started, grace_ms);
	clean      = osc_children_stop(&lc->supervisor, 1, grace_ms) && clean;
	if (!clean) {
		return (OSCAR_ETIMEDOUT);
	}
	bool ok = osc_child_ok(&lc->supervisor);
	for (unsigned i = 0; i < lc->started; i++) {
		ok = osc_child_ok(&lc->workers[i]) && ok;
	}
	return (ok ? 0 : OSCAR_ESYSTEM);
}

// ---------------------------------------------------------------------------
// Public API

void oscar_local_config_init(oscar_local_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers    = 1;
	cfg->host       = "127.0.0.1";
	cfg->log_level  = "warn";
	cfg->timeout_ms = 30000;
}

// osc_check_config says what is wrong with cfg, if anything.
static int osc_check_config(const oscar_local_config_t *cfg, oscar_error_t *err)
{
	if (cfg->workers > OSC_LOCAL_MAX_WORKERS) {
		return (osc_fail(err, OSCAR_EINVAL, getpid(), "workers is %u, more than %d",
		    cfg->workers, OSC_LOCAL_MAX_WORKERS));
	}
	if (cfg->timeout_ms < 0) {
		return (osc_fail(err, OSCAR_EINVAL, getpid(), "timeout_ms is negative"));
	}
	if (cfg->min_workers > cfg->workers) {
		return (osc_fail(err, OSCAR_EINVAL, getpid(),
		    "min_workers is %u, more than the %u workers", cfg->min_workers, cfg->workers));
	}
	const char *host = cfg->host != NULL ? cfg->host : "127.0.0.1";
	if (*host == '\0' || strlen(host) > OSCAR_ADDR_MAX - 16 || strpbrk(host, "/ \t") != NULL) {
		return (osc_fail(
		    err, OSCAR_EINVAL, getpid(), "host '%s' is not a host name or address", host));
	}
	// A secret that cannot be read stops the start here, not in every
	// node the cluster starts.
	void  *secret;
	size_t len;
	if (cfg->secret_file != NULL) {
		int rv = oscar_secret_read(cfg->secret_file, &secret, &len, err);
		if (rv != 0) {
			return (rv);
		}
		oscar_secret_free(&secret, len);
	}
	return (0);
}

// osc_make_dir makes the temporary directory of lc.
static int osc_make_dir(oscar_local_t *lc, oscar_error_t *err)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	// Room is left for the names of the files inside.
	if (strlen(tmp) > sizeof(lc->dir) - 64) {
		return (osc_fail(err, OSCAR_EINVAL, getpid(), "TMPDIR is too long"));
	}
	snprintf(lc->dir, sizeof(lc->dir), "%s/oscar-local-XXXXXX", tmp);
	if (mkdtemp(lc->dir) == NULL) {
		int e      = errno;
		lc->dir[0] = '\0';
		return (osc_fail(err, OSCAR_ESYSTEM, getpid(), "cannot make a directory in %s: %s",
		    tmp, strerror(e)));
	}
	return (0);
}

int oscar_local_start(oscar_local_t **lcp, const oscar_local_config_t *cfg, oscar_error_t *err)
{
	oscar_local_config_t defaults;
	char                 listen[OSCAR_ADDR_MAX];
	int                  rv;

	if (lcp == NULL) {
		return (osc_fail(err, OSCAR_EINVAL, getpid(), "no place for the cluster (lcp)"));
	}
	*lcp = NULL;
	if (cfg == NULL) {
		oscar_local_config_init(&defaults);
		cfg = &defaults;
	}
	if ((rv = osc_check_config(cfg, err)) != 0) {
		return (rv);
	}
	oscar_local_t *lc = calloc(1, sizeof(*lc));
	if (lc == NULL || (cfg->workers > 0 &&
	                      (lc->workers = calloc(cfg->workers, sizeof(osc_child_t))) == NULL)) {
		free(lc);
		return (osc_fail(err, OSCAR_ENOMEM, getpid(), "out of memory"));
	}
	lc->n_workers   = cfg->workers;
	lc->timeout_ms  = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	lc->cancelled   = cfg->cancelled;
	lc->cancel_arg  = cfg->cancel_arg;
	lc->show_output = cfg->show_output;
	lc->min_workers = cfg->min_workers > 0 ? cfg->min_workers : cfg->workers;
	if ((cfg->secret_file != NULL && (lc->secret_file = strdup(cfg->secret_file)) == NULL) ||
	    (cfg->program != NULL && (lc->program = strdup(cfg->program)) == NULL)) {
		free(lc->secret_file);
		free(lc->workers);
		free(lc);
		return (osc_fail(err, OSCAR_ENOMEM, getpid(), "out of memory"));
	}
	osc_tcp_url(cfg->host != NULL ? cfg->host : "127.0.0.1", listen, sizeof(listen));
	int64_t deadline = osc_now_ms() + lc->timeout_ms;

	if ((lc->program == NULL && (rv = osc_find_bin_dir(cfg->bin_dir, lc->bin_dir,
	                                 sizeof(lc->bin_dir), err)) != 0) ||
	    (rv = osc_make_dir(lc, err)) != 0 ||
	    (rv = osc_start_supervisor(lc, cfg, listen, deadline, err)) != 0 ||
	    (rv = osc_start_workers(lc, cfg, listen, err)) != 0 ||
	    (rv = osc_wait_ready(lc, listen, deadline, err)) != 0) {
		osc_local_teardown(lc,
		    lc->timeout_ms < OSC_LOCAL_FAIL_GRACE ? lc->timeout_ms : OSC_LOCAL_FAIL_GRACE);
		osc_local_free(lc);
		return (rv);
	}
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
	}
	*lcp = lc;
	return (0);
}

const char *oscar_local_address(const oscar_local_t *lc)
{
	return (lc->address);
}

int64_t oscar_local_worker_pid(const oscar_local_t *lc, unsigned i)
{
	if (lc == NULL || i >= lc->started) {
		return (-1);
	}
	return (lc->workers[i].pid);
}

// osc_failed_worker returns a worker that has exited otherwise than with
// status 0 and was not reported yet, or NULL. A worker that exits with 0
// was stopped by someone (`oscar stop` stops the workers first): not news.
static osc_child_t *osc_failed_worker(oscar_local_t *lc)
{
	for (unsigned i = 0; i < lc->started; i++) {
		osc_child_t *c = &lc->workers[i];
		if (!c->reported && osc_child_exited(c) && !osc_child_ok(c)) {
			return (c);
		}
	}
	return (NULL);
}

int oscar_local_wait(oscar_local_t *lc, int64_t timeout_ms, oscar_error_t *err)
{
	int64_t deadline = osc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		osc_child_t *w = osc_failed_worker(lc);
		if (w != NULL) {
			w->reported = true;
			return (
			    osc_fail_exited(lc, w, OSCAR_EPEERGONE, "while the cluster ran", err));
		}
		osc_child_t *c = &lc->supervisor;
		if (osc_child_exited(c) && osc_child_ok(c)) {
			return (0);
		}
		if (c->reaped) {
			return (
			    osc_fail_exited(lc, c, OSCAR_ESYSTEM, "while the cluster ran", err));
		}
		int64_t left = deadline - osc_now_ms();
		if (left <= 0) {
			return (osc_fail(err, OSCAR_ETIMEDOUT, c->pid, "the supervisor runs"));
		}
		osc_sleep_ms(left < OSC_LOCAL_POLL_MS ? left : OSC_LOCAL_POLL_MS);
	}
}

int oscar_local_stop(oscar_local_t **lcp)
{
	if (lcp == NULL || *lcp == NULL) {
		return (0);
	}
	oscar_local_t *lc = *lcp;
	*lcp              = NULL;
	int rv            = osc_local_teardown(lc, lc->timeout_ms);
	osc_local_free(lc);
	return (rv);
}
