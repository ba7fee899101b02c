// Running the real programs from a test (support_procs.h).
//
// Processes are started with fork and execv rather than posix_spawn: the
// child must set its death signal and its process group before it runs
// the program, which posix_spawn cannot do. Waits poll every few
// milliseconds up to DEADLINE_MS: waitpid has no timeout, and a test must
// never hang on a process that does not exit.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/cluster/support_procs.h"

#define PROCS_MAX   24
#define CLIENTS_MAX 8
#define ARGS_MAX    64
#define POLL_US     5000

// One test runs in one process (Criterion forks each), so these hold the
// processes and the temporary directory of the test that runs.
static proc_t           procs[PROCS_MAX];
static size_t           n_procs;
static char             tmp_dir[PATH_MAX];
static oscar_pool_t    *client_pool;
static oscar_cluster_t *clients[CLIENTS_MAX];
static size_t           n_clients;

int64_t procs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void nap(void)
{
	usleep(POLL_US);
}

// ---------------------------------------------------------------------------
// Set-up and teardown

void procs_setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/oscar-test-cluster-XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp %s: %s", tmp_dir, strerror(errno));
	// Orphans (sub pools whose node exited without reaping them) are
	// then ours to see and to reap, not init's.
	cr_assert_eq(
	    prctl(PR_SET_CHILD_SUBREAPER, 1), 0, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
}

static void proc_reap(proc_t *p, int flags)
{
	int status;
	if (p->reaped || waitpid(p->pid, &status, flags) != p->pid) {
		return;
	}
	p->reaped = true;
	p->status = status;
	p->code   = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void proc_kill(proc_t *p)
{
	if (!p->reaped) {
		kill(-p->pid, SIGKILL); // its group: its sub pools too
		kill(p->pid, SIGKILL);
		proc_reap(p, 0);
	}
}

static bool is_ours(pid_t pid)
{
	for (size_t i = 0; i < n_procs; i++) {
		if (procs[i].pid == pid) {
			return (true);
		}
	}
	return (false);
}

// own_children lists this process's children: those of every thread, as
// an orphan is given to one of them.
static size_t own_children(pid_t *pids, size_t max)
{
	return (proc_children(getpid(), pids, max));
}

// reap_orphans kills and reaps every child the test did not start;
// returns how many there were, and how many of those were still running.
static size_t reap_orphans(size_t *running, char *list, size_t size)
{
	size_t found = 0;
	*running     = 0;
	if (size > 0) {
		list[0] = '\0';
	}
	// An orphan's own children may become ours as it dies: go round
	// until none are left, a bounded number of times.
	for (int round = 0; round < 20; round++) {
		pid_t  pids[64];
		size_t n     = own_children(pids, 64);
		size_t fresh = 0;
		for (size_t i = 0; i < n && i < 64; i++) {
			if (is_ours(pids[i])) {
				continue;
			}
			bool alive = pid_alive(pids[i]);
			*running += alive;
			size_t len = strlen(list);
			snprintf(list + len, size - len, "%s%d%s", len > 0 ? ", " : "",
			    (int) pids[i], alive ? "" : " (exited, not reaped)");
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			found++;
			fresh++;
		}
		if (fresh == 0) {
			break;
		}
	}
	return (found);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return (0);
}

void procs_teardown(void)
{
	for (size_t i = 0; i < n_clients; i++) {
		oscar_cluster_close(&clients[i]);
	}
	n_clients = 0;
	oscar_pool_free(&client_pool);
	for (size_t i = 0; i < n_procs; i++) {
		proc_kill(&procs[i]);
	}
	size_t running;
	char   list[256];
	reap_orphans(&running, list, sizeof(list));
	n_procs = 0;
	// OSCAR_TEST_KEEP=1 keeps the directory, with the programs' output,
	// for whoever looks into a failure.
	const char *keep = getenv("OSCAR_TEST_KEEP");
	if (tmp_dir[0] != '\0' && keep != NULL && strcmp(keep, "1") == 0) {
		fprintf(stderr, "kept %s\n", tmp_dir);
	} else if (tmp_dir[0] != '\0') {
		nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	tmp_dir[0] = '\0';
}

void procs_assert_no_orphans(void)
{
	size_t running;
	char   list[256];
	size_t n = reap_orphans(&running, list, sizeof(list));
	cr_assert_eq(n, 0,
	    "%zu process(es) outlived the node that started them (%zu still running): %s", n,
	    running, list);
}

void procs_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmp_dir, name);
}

// ---------------------------------------------------------------------------
// Starting

// child_exec runs in the child between fork and exec: only
// async-signal-safe calls here.
static void child_exec(const proc_t *p, const char *const *argv, pid_t parent)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127); // the test died before the prctl
	}
	// Whatever the test process blocks or ignores is not the program's.
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	int sigs[]     = { SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &dfl, NULL);
	}
	int in  = open("/dev/null", O_RDONLY);
	int out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(err, 2) < 0) {
		_exit(126);
	}
	execv(argv[0], (char *const *) argv);
	static const char msg[] = "cannot execute the program\n";
	ssize_t           n     = write(2, msg, sizeof(msg) - 1);
	(void) n;
	_exit(127);
}

proc_t *proc_startv(const char *name, const char *const *argv)
{
	cr_assert_lt(n_procs, PROCS_MAX, "too many processes in one test");
	cr_assert_neq(tmp_dir[0], '\0', "procs_setup did not run");
	proc_t *p = &procs[n_procs];
	memset(p, 0, sizeof(*p));
	p->code = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->out, sizeof(p->out), "%s/%s.out", tmp_dir, name);
	snprintf(p->err, sizeof(p->err), "%s/%s.err", tmp_dir, name);
	pid_t parent = getpid();
	pid_t pid    = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		child_exec(p, argv, parent);
	}
	// Also here, so that a kill of the group right away finds it.
	setpgid(pid, pid);
	p->pid = pid;
	n_procs++;
	return (p);
}

// collect_args turns prog and the NULL-terminated arguments after it into
// an argv.
static void collect_args(const char **argv, const char *prog, va_list ap)
{
	size_t n  = 0;
	argv[n++] = prog;
	const char *arg;
	while ((arg = va_arg(ap, const char *)) != NULL) {
		cr_assert_lt(n, ARGS_MAX - 1, "too many arguments");
		argv[n++] = arg;
	}
	argv[n] = NULL;
}

proc_t *proc_start(const char *name, const char *prog, ...)
{
	const char *argv[ARGS_MAX];
	va_list     ap;
	va_start(ap, prog);
	collect_args(argv, prog, ap);
	va_end(ap);
	return (proc_startv(name, argv));
}

proc_t *proc_run(const char *name, const char *prog, ...)
{
	const char *argv[ARGS_MAX];
	va_list     ap;
	va_start(ap, prog);
	collect_args(argv, prog, ap);
	va_end(ap);
	proc_t *p = proc_startv(name, argv);
	proc_wait_exit(p);
	return (p);
}

// ---------------------------------------------------------------------------
// Watching

char *proc_output(const proc_t *p, bool err)
{
	FILE *f = fopen(err ? p->err : p->out, "r");
	cr_assert_not_null(f, "cannot read the output of %s: %s", p->name, strerror(errno));
	size_t cap = 4096, len = 0;
	char  *buf = malloc(cap);
	cr_assert_not_null(buf);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return (buf);
}

bool proc_output_has(const proc_t *p, bool err, const char *needle)
{
	char *text = proc_output(p, err);
	bool  has  = strstr(text, needle) != NULL;
	free(text);
	return (has);
}

const char *proc_tail(const proc_t *p)
{
	static char tail[2048];
	char       *text = proc_output(p, true);
	size_t      len  = strlen(text);
	snprintf(
	    tail, sizeof(tail), "%s", text + (len >= sizeof(tail) ? len - sizeof(tail) + 1 : 0));
	free(text);
	return (tail);
}

bool proc_running(proc_t *p)
{
	proc_reap(p, WNOHANG);
	return (!p->reaped);
}

void proc_signal(proc_t *p, int sig)
{
	cr_assert_not(p->reaped, "%s has exited already; cannot signal it", p->name);
	cr_assert_eq(kill(p->pid, sig), 0, "kill %s: %s", p->name, strerror(errno));
}

// exit_text says how a reaped process ended.
static const char *exit_text(const proc_t *p)
{
	static char text[64];
	if (WIFEXITED(p->status)) {
		snprintf(text, sizeof(text), "exit status %d", WEXITSTATUS(p->status));
	} else if (WIFSIGNALED(p->status)) {
		snprintf(text, sizeof(text), "killed by signal %d", WTERMSIG(p->status));
	} else {
		snprintf(text, sizeof(text), "wait status %#x", p->status);
	}
	return (text);
}

void proc_wait_address(proc_t *p, const char *path, char *addr, size_t size)
{
	int64_t end = procs_now_ms() + DEADLINE_MS;
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			// The node writes the file whole (a rename), newline last.
			bool  got = fgets(addr, (int) size, f) != NULL;
			char *nl  = got ? strchr(addr, '\n') : NULL;
			fclose(f);
			if (nl != NULL) {
				*nl = '\0';
				return;
			}
		}
		if (!proc_running(p)) {
			cr_assert_fail("%s ended (%s) before writing its address to %s; its "
			               "standard error:\n%s",
			    p->name, exit_text(p), path, proc_tail(p));
		}
		if (procs_now_ms() > end) {
			cr_assert_fail("%s did not write its address to %s within %d ms; its "
			               "standard error:\n%s",
			    p->name, path, DEADLINE_MS, proc_tail(p));
		}
		nap();
	}
}

void proc_wait_output(proc_t *p, bool err, const char *needle)
{
	int64_t end = procs_now_ms() + DEADLINE_MS;
	for (;;) {
		// Look once more after it exits: its output is complete then.
		bool exited = !proc_running(p);
		if (proc_output_has(p, err, needle)) {
			return;
		}
		cr_assert_not(exited, "%s ended (%s) without writing '%s' to its standard %s:\n%s",
		    p->name, exit_text(p), needle, err ? "error" : "output", proc_tail(p));
		cr_assert_leq(procs_now_ms(), end,
		    "%s did not write '%s' to its standard %s within %d ms; its standard "
		    "error:\n%s",
		    p->name, needle, err ? "error" : "output", DEADLINE_MS, proc_tail(p));
		nap();
	}
}

void proc_sigkill(proc_t *p)
{
	proc_signal(p, SIGKILL);
	proc_reap(p, 0);
	cr_assert(p->reaped && WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL,
	    "%s was not killed by SIGKILL (%s)", p->name, exit_text(p));
}

int proc_wait_exit(proc_t *p)
{
	int64_t end = procs_now_ms() + DEADLINE_MS;
	while (proc_running(p) && procs_now_ms() <= end) {
		nap();
	}
	if (!p->reaped) {
		proc_kill(p);
		cr_assert_fail("%s did not exit within %d ms (killed); its standard error:\n%s",
		    p->name, DEADLINE_MS, proc_tail(p));
	}
	cr_assert(WIFEXITED(p->status), "%s was %s; its standard error:\n%s", p->name, exit_text(p),
	    proc_tail(p));
	return (p->code);
}

size_t proc_children(pid_t pid, pid_t *pids, size_t max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
	DIR *d = opendir(path);
	if (d == NULL) {
		return (0);
	}
	size_t         n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char file[300];
		snprintf(file, sizeof(file), "%s/%s/children", path, e->d_name);
		FILE *f = fopen(file, "r");
		if (f == NULL) {
			continue;
		}
		int child;
		while (fscanf(f, "%d", &child) == 1) {
			if (n < max) {
				pids[n] = child;
			}
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return (n);
}

// ---------------------------------------------------------------------------
// Files and clients

void file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
	cr_assert_geq(fputs(text, f), 0, "cannot write %s", path);
	cr_assert_eq(fclose(f), 0, "cannot write %s: %s", path, strerror(errno));
}

bool file_exists(const char *path)
{
	struct stat sb;
	return (stat(path, &sb) == 0);
}

oscar_pool_t *procs_client_pool(void)
{
	if (client_pool == NULL) {
		oscar_pool_config_t cfg;
		oscar_pool_config_init(&cfg);
		cfg.address = "tcp://127.0.0.1:0";
		int rv      = oscar_pool_open(&client_pool, &cfg, NULL);
		cr_assert_eq(rv, 0, "cannot open the test's client pool: %s", oscar_strerror(rv));
	}
	return (client_pool);
}

oscar_cluster_t *procs_client(const char *address)
{
	cr_assert_lt(n_clients, CLIENTS_MAX, "too many cluster handles in one test");
	oscar_error_t err;
	int rv = oscar_cluster_open(&clients[n_clients], procs_client_pool(), address, &err);
	cr_assert_eq(rv, 0, "oscar_cluster_open %s: %s", address, err.message);
	return (clients[n_clients++]);
}

proc_node_t procs_start_nodev(const char *name, const char *sup, va_list ap)
{
	proc_node_t n = { 0 };
	const char *argv[64];
	size_t      argc = 0;
	char        file[80];
	snprintf(file, sizeof(file), "%s.addr", name);
	procs_path(n.addr_file, sizeof(n.addr_file), file);
	argv[argc++] = sup == NULL ? OSCAR_TEST_SUPERVISOR : OSCAR_TEST_WORKER;
	argv[argc++] = "--address-file";
	argv[argc++] = n.addr_file;
	if (sup != NULL) {
		argv[argc++] = "--supervisor";
		argv[argc++] = sup;
	}
	const char *arg;
	while ((arg = va_arg(ap, const char *)) != NULL) {
		cr_assert_lt(argc, 63, "too many flags for %s", name);
		argv[argc++] = arg;
	}
	argv[argc] = NULL;
	n.proc     = proc_startv(name, argv);
	proc_wait_address(n.proc, n.addr_file, n.addr, sizeof(n.addr));
	return (n);
}

proc_node_t procs_start_node(const char *name, const char *sup, ...)
{
	va_list ap;
	va_start(ap, sup);
	proc_node_t n = procs_start_nodev(name, sup, ap);
	va_end(ap);
	return (n);
}

#ifdef OSCAR_TEST_TASKFNS
proc_node_t procs_start_task_node(const char *name, const char *sup, unsigned sub_pools)
{
	char slots[32];
	snprintf(slots, sizeof(slots), "--sub-pools=%u", sub_pools);
	if (sup == NULL) {
		return (procs_start_node(
		    name, NULL, "--heartbeat-interval=200ms", "--dead-timeout=30s", NULL));
	}
	return (procs_start_node(name, sup, "--load-modules", OSCAR_TEST_TASKFNS, slots, NULL));
}
#endif
