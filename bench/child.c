// Child processes of oscar-bench: the serving copies of itself that the
// cross-process workloads talk to (cross.c), and the peers it compares
// with (peers.c).
//
// Design note. Every child gets its standard input and output on pipes:
// it says it is ready with a line on its stdout, and it exits when its
// stdin reaches end of file, which is how the bench asks it to stop. It
// also dies with the bench (PR_SET_PDEATHSIG, set between fork and exec;
// it survives exec). The bench always reaps it, with SIGKILL after a grace
// period. An exit handler does the same when the bench stops on an error,
// and a signal handler (SIGINT, SIGTERM, SIGHUP) kills every child and
// removes the files registered with bench_file_track before the bench dies
// of the signal. The tables below are only touched by the main thread.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "bench/bench.h"

#define MAX_CHILDREN 8
#define MAX_FILES    4
#define EXIT_GRACE   5000 // ms for a child to exit once told

static bench_child_t *live_children[MAX_CHILDREN];
static char           tracked_files[MAX_FILES][OSCAR_ADDR_MAX];

// on_signal kills the children and removes the tracked files, then dies
// of the same signal. Only async-signal-safe calls (kill, unlink, signal,
// raise); the children are reaped by whoever inherits them.
static void on_signal(int sig)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		bench_child_t *c = live_children[i];
		if (c != NULL) {
			if (c->pid > 0) {
				kill(c->pid, SIGKILL);
			}
			if (c->path[0] != '\0') {
				unlink(c->path);
			}
		}
	}
	for (int i = 0; i < MAX_FILES; i++) {
		if (tracked_files[i][0] != '\0') {
			unlink(tracked_files[i]);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void cleanup_at_exit(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (live_children[i] != NULL) {
			if (live_children[i]->pid > 0) {
				kill(live_children[i]->pid, SIGKILL);
			}
			bench_child_reap(live_children[i]);
		}
	}
	for (int i = 0; i < MAX_FILES; i++) {
		if (tracked_files[i][0] != '\0') {
			unlink(tracked_files[i]);
			tracked_files[i][0] = '\0';
		}
	}
}

// guard_once installs the exit and signal handlers, the first time a
// child starts or a file is tracked.
static void guard_once(void)
{
	static bool done;
	if (done) {
		return;
	}
	done = true;
	atexit(cleanup_at_exit);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
}

void bench_file_track(const char *path)
{
	guard_once();
	for (int i = 0; i < MAX_FILES; i++) {
		if (tracked_files[i][0] == '\0') {
			snprintf(tracked_files[i], sizeof(tracked_files[i]), "%s", path);
			return;
		}
	}
}

void bench_file_untrack(const char *path)
{
	for (int i = 0; i < MAX_FILES; i++) {
		if (strcmp(tracked_files[i], path) == 0) {
			unlink(path);
			tracked_files[i][0] = '\0';
		}
	}
}

bool bench_which(const char *prog, char *out, size_t size)
{
	const char *path = getenv("PATH");
	if (strchr(prog, '/') != NULL) {
		snprintf(out, size, "%s", prog);
		return (access(out, X_OK) == 0);
	}
	if (path == NULL) {
		path = "/usr/local/bin:/usr/bin:/bin";
	}
	for (const char *p = path; *p != '\0';) {
		size_t len = strcspn(p, ":");
		if (len > 0 && (size_t) snprintf(out, size, "%.*s/%s", (int) len, p, prog) < size &&
		    access(out, X_OK) == 0) {
			return (true);
		}
		p += len + (p[len] == ':');
	}
	return (false);
}

int bench_child_start(bench_child_t *c, const char *name, char *const argv[], const char *path)
{
	int   in[2], out[2];
	pid_t parent = getpid();
	char  prog[512];
	memset(c, 0, sizeof(*c));
	c->in  = -1;
	c->out = -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->path, sizeof(c->path), "%s", path != NULL ? path : "");
	if (!bench_which(argv[0], prog, sizeof(prog))) {
		return (ENOENT);
	}
	guard_once();
	if (pipe2(in, O_CLOEXEC) != 0) {
		return (errno);
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		return (e);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return (e);
	}
	if (pid == 0) {
		// Only async-signal-safe calls between fork and exec. The death
		// signal follows the thread that forked: this is the main thread,
		// which lives as long as the bench.
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0) {
			_exit(127);
		}
		execv(prog, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->pid = pid;
	c->in  = in[1];
	c->out = out[0];
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (live_children[i] == NULL) {
			live_children[i] = c;
			break;
		}
	}
	return (0);
}

int bench_child_read_line(bench_child_t *c, char *line, size_t size, int timeout_ms)
{
	double deadline = bench_now() + timeout_ms / 1000.0;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t n = (size_t) (nl - c->buf);
			snprintf(line, size, "%.*s", (int) n, c->buf);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return (0);
		}
		if (c->len == sizeof(c->buf)) {
			c->len = 0; // a line too long to be an answer: drop it
		}
		double        left = deadline - bench_now();
		struct pollfd pfd  = { .fd = c->out, .events = POLLIN };
		if (left <= 0 || c->out < 0) {
			return (ETIMEDOUT);
		}
		int n = poll(&pfd, 1, (int) (left * 1000) + 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			continue; // the deadline is checked above
		}
		ssize_t got = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len);
		if (got <= 0) {
			return (EPIPE); // it exited, or closed its stdout
		}
		c->len += (size_t) got;
	}
}

int bench_child_write_line(bench_child_t *c, const char *line)
{
	size_t len = strlen(line), done = 0;
	while (done < len) {
		ssize_t n = write(c->in, line + done, len - done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (EPIPE);
		}
		done += (size_t) n;
	}
	return (0);
}

void bench_child_reap(bench_child_t *c)
{
	int status = 0;
	if (c->in >= 0) {
		close(c->in); // end of file on its stdin: exit now
		c->in = -1;
	}
	if (c->out >= 0) {
		close(c->out); // nothing it still prints can block it
		c->out = -1;
	}
	if (c->pid > 0) {
		pid_t got = 0;
		for (int i = 0; i < EXIT_GRACE && (got = waitpid(c->pid, &status, WNOHANG)) == 0;
		     i++) {
			uv_sleep(1);
		}
		if (got == 0) {
			kill(c->pid, SIGKILL);
			got = waitpid(c->pid, &status, 0);
			fprintf(stderr, "oscar-bench: %s (pid %d) did not exit; killed it\n",
			    c->name, (int) c->pid);
		} else if (got > 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
			fprintf(stderr, "oscar-bench: %s (pid %d) ended with status 0x%x\n",
			    c->name, (int) c->pid, status);
		}
		c->pid = 0;
	}
	if (c->path[0] != '\0') {
		unlink(c->path);
		c->path[0] = '\0';
	}
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (live_children[i] == c) {
			live_children[i] = NULL;
		}
	}
}

void bench_child_kill(bench_child_t *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	bench_child_reap(c);
}
