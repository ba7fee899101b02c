// Sub pools: pools in child processes, started, watched and restarted by
// their main pool.
//
// Design note. A main pool with sub_pools > 0 starts that many children
// from its loop thread (uv_spawn), each running the same program, which
// calls oscar_subpool_main first thing. The child finds its address and
// label in its environment, opens a pool there, and writes one line,
// "OSCAR-READY <address>", on its standard output, which is a pipe to the
// main pool. oscar_pool_open returns once every child has said so (or
// fails, reaping them all).
//
// No orphans. A child asks the kernel to kill it when its parent goes
// (PR_SET_PDEATHSIG), whatever killed the parent, SIGKILL included, and it
// also stops by itself when its standard input (a pipe from the main pool)
// reaches end of file. Stopping a main pool sends SIGTERM to its children
// and reaps them, escalating to SIGKILL after a grace period.
//
// Watching. The exit callback of a child fires at once when it dies: the
// calls pending on it fail with OSCAR_EPEERGONE, saying how it exited, and
// the recovery mode applies: nothing, a new process at the same address,
// or a new process in which the actors created there through the main
// pool are created again (their create hooks run again).
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "actors/host.h"
#include "actors/subpool.h"
#include "actors/transport.h"
#include "actors/wire.h"

#define OSC_STOP_GRACE_MS 5000

// The payload of a sub pool operation from a host thread: which sub pool
// (or, for an add, its label), and its place among the pool's waiters
// while it waits for that sub pool.
typedef struct osc_sub_wait {
	osc_node_t    node; // in pool->subs.waiters while waiting
	oscar_call_t *h;    // the handle waiting
	unsigned      index;
	bool          until_gone; // a remove: wait until its process is reaped
	char          label[OSCAR_NAME_MAX];
} osc_sub_wait_t;

static const osc_pool_hooks_t osc_hooks; // below, with oscar_pool_open

extern char **environ;

static void sub_spawn(osc_subpool_t *s);

// sub_address gives sub pool i its address: next to the main pool's
// socket for ipc, any free port of the same host for tcp.
static void sub_address(const oscar_pool_t *pool, unsigned i, char *buf, size_t size)
{
	if (strncmp(pool->address, "ipc://", 6) == 0) {
		snprintf(buf, size, "%s-sub%u", pool->address, i);
		return;
	}
	const char *host  = strstr(pool->address, "://") + 3;
	const char *colon = strrchr(host, ':');
	snprintf(buf, size, "%.*s:0", (int) (colon - pool->address), pool->address);
}

// sub_started is called when a child is ready (rv 0), or
// failed to start: rv and the message fmt say why, for oscar_pool_open.
static void sub_started(oscar_pool_t *pool, int rv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void sub_started(oscar_pool_t *pool, int rv, const char *fmt, ...)
{
	if (pool->subs.starting == 0) {
		return;
	}
	if (rv != 0 && pool->subs.start_error == 0) {
		va_list ap;
		va_start(ap, fmt);
		pool->subs.start_error = rv;
		vsnprintf(pool->subs.start_why, sizeof(pool->subs.start_why), fmt, ap);
		va_end(ap);
	}
	if (rv != 0 || --pool->subs.starting == 0) {
		pool->subs.starting = 0;
		uv_timer_stop(&pool->subs.start_timer);
		uv_sem_post(&pool->started);
	}
}

static void sub_recreate(osc_subpool_t *s)
{
	oscar_pool_t *pool = s->pool;
	for (osc_placed_t *p = OSC_LIST_FIRST(&s->placed, osc_placed_t, node); p != NULL;
	     p               = OSC_LIST_NEXT(p, osc_placed_t, node)) {
		oscar_error_t err;
		// The answer goes nowhere: a failure is the actor's own to
		// report when it is next called.
		(void) osc_remote_control(pool, OSC_MSG_CREATE, s->address, p->uid, p->cls,
		    p->args != NULL ? oscar_value_copy(p->args) : NULL, 0, NULL, &err);
	}
}

static void sub_ready(osc_subpool_t *s, const char *address)
{
	oscar_pool_t *pool = s->pool;
	snprintf(s->address, sizeof(s->address), "%s", address);
	s->ready     = true;
	s->announced = true;
	if (s->restarts > 0 && pool->cfg.recover == OSCAR_RECOVER_ACTOR) {
		sub_recreate(s);
	}
	sub_started(pool, 0, "ready");
	osc_sub_notify(pool);
}

static void sub_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	osc_subpool_t *s = h->data;
	if (s->ready) {
		buf->base = s->line; // after the ready line: a relay buffer
		buf->len  = sizeof(s->line);
		return;
	}
	buf->base = s->line + s->line_len;
	buf->len  = sizeof(s->line) - 1 - s->line_len;
}

// sub_relay copies what a sub pool writes on its standard output to
// ours, so that it is neither lost nor left to fill the pipe (which would
// block the sub pool).
static void sub_relay(const char *p, size_t n)
{
	if (n > 0) {
		fwrite(p, 1, n, stdout);
		fflush(stdout);
	}
}

static void sub_read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	osc_subpool_t *s = stream->data;
	if (n < 0) {
		uv_read_stop(stream);
		return;
	}
	if (s->ready) {
		sub_relay(buf->base, (size_t) n);
		return;
	}
	s->line_len += (size_t) n;
	s->line[s->line_len] = '\0';
	char *nl             = strchr(s->line, '\n');
	if (nl == NULL) {
		if (s->line_len >= sizeof(s->line) - 1) {
			sub_relay(s->line, s->line_len); // not the ready line
			s->line_len = 0;
		}
		return;
	}
	*nl = '\0';
	if (strncmp(s->line, "OSCAR-READY ", 12) == 0) {
		size_t rest = s->line_len - (size_t) (nl + 1 - s->line);
		char   after[sizeof(s->line)];
		memcpy(after, nl + 1, rest);
		sub_ready(s, s->line + 12);
		sub_relay(after, rest);
	} else {
		// Something the program printed before it became a sub pool.
		*nl         = '\n';
		size_t upto = (size_t) (nl + 1 - s->line);
		sub_relay(s->line, upto);
		memmove(s->line, nl + 1, s->line_len - upto);
		s->line_len -= upto;
	}
}

// sub_check_reaped closes the escalation timer once the pool is
// shutting down and no sub pool process is left to kill.
static void sub_check_reaped(oscar_pool_t *pool)
{
	if (pool->state == OSC_POOL_RUNNING) {
		return; // later stops may still need it
	}
	for (unsigned i = 0; i < pool->subs.n; i++) {
		if (pool->subs.v[i]->handles != 0) {
			return;
		}
	}
	if (pool->subs.escalating && !uv_is_closing((uv_handle_t *) &pool->subs.kill_timer)) {
		uv_close((uv_handle_t *) &pool->subs.kill_timer, NULL);
	}
}

static void sub_handle_closed(uv_handle_t *h)
{
	osc_subpool_t *s = h->data;
	if (--s->handles != 0) {
		return;
	}
	oscar_pool_t *pool = s->pool;
	if (!s->stopping && pool->state == OSC_POOL_RUNNING &&
	    pool->cfg.recover != OSCAR_RECOVER_OFF) {
		s->restarts++;
		sub_spawn(s);
	}
	if (s->handles == 0 && (s->stopping || s->removed)) {
		s->gone = true;
		// A child killed hard leaves its socket file behind.
		if (strncmp(s->address, "ipc://", 6) == 0) {
			(void) unlink(s->address + 6);
		}
	}
	sub_check_reaped(pool);
	osc_sub_notify(pool);
}

static void sub_close_handles(osc_subpool_t *s)
{
	uv_close((uv_handle_t *) &s->proc, sub_handle_closed);
	uv_close((uv_handle_t *) &s->in, sub_handle_closed);
	uv_close((uv_handle_t *) &s->out, sub_handle_closed);
}

static void sub_exit_cb(uv_process_t *proc, int64_t status, int signal)
{
	osc_subpool_t *s    = proc->data;
	oscar_pool_t  *pool = s->pool;
	char           how[96];
	s->alive       = false;
	s->ready       = false;
	s->exit_status = status;
	s->term_signal = signal;
	if (signal != 0) {
		snprintf(how, sizeof(how), "was killed by signal %d", signal);
	} else {
		snprintf(how, sizeof(how), "exited with status %" PRId64, status);
	}
	snprintf(s->last_exit, sizeof(s->last_exit), "%s", how);
	s->last_pid        = s->pid;
	s->last_spawned_at = s->spawned_at;
	osc_transport_peer_gone(pool, s->address, s->pid, "sub pool %u (%s, pid %" PRId64 ") %s",
	    s->index, s->address, s->pid, how);
	if (pool->subs.starting > 0) {
		sub_started(pool, OSCAR_EPEERGONE,
		    "sub pool %u (%s, pid %" PRId64 ") %s before it was ready", s->index,
		    s->address, s->pid, how);
	}
	sub_close_handles(s);
}

// env_has tells whether list (NAME=value settings, NULL terminated)
// sets the variable that entry sets.
static bool env_has(const char *const *list, const char *entry)
{
	const char *eq  = strchr(entry, '=');
	size_t      len = eq != NULL ? (size_t) (eq - entry) : strlen(entry);
	for (; list != NULL && *list != NULL; list++) {
		if (strncmp(*list, entry, len) == 0 &&
		    ((*list)[len] == '=' || (*list)[len] == '\0')) {
			return (true);
		}
	}
	return (false);
}

// sub_spawn starts (or restarts) sub pool s. A failure to start is
// reported as an exit, so recovery and waiting work the same.
static void sub_spawn(osc_subpool_t *s)
{
	oscar_pool_t        *pool = s->pool;
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	char                 exe[1024];
	size_t               exe_len = sizeof(exe);
	char                 env_addr[OSCAR_ADDR_MAX + 32], env_label[OSCAR_NAME_MAX + 32];
	char                 env_parent[48], env_index[48];
	char                 env_secret[32 + 2 * OSCAR_SECRET_MAX + 1];
	size_t               secret_len;
	const void          *secret = osc_transport_secret(pool, &secret_len);
	char                 env_main[OSCAR_ADDR_MAX + 32];
	char                *args[66];
	size_t               nenv = 0;
	int                  rv;

	while (environ[nenv] != NULL) {
		nenv++;
	}
	size_t nextra = 0;
	for (const char *const *e = pool->cfg.sub_pool_env; e != NULL && *e != NULL; e++) {
		nextra++;
	}
	const char *const *own = pool->cfg.sub_pool_envs != NULL && s->index < pool->cfg.sub_pools
	                             ? pool->cfg.sub_pool_envs[s->index]
	                             : NULL;
	for (const char *const *e = own; e != NULL && *e != NULL; e++) {
		nextra++;
	}
	char **env = calloc(nenv + nextra + 7, sizeof(char *));
	if (env == NULL) {
		// Reported like a death without recovery, so nobody waits in vain.
		snprintf(s->last_exit, sizeof(s->last_exit), "could not start: out of memory");
		s->alive    = false;
		s->stopping = true;
		sub_started(
		    pool, OSCAR_ENOMEM, "sub pool %u could not start: out of memory", s->index);
		osc_sub_notify(pool);
		return;
	}
	// The inherited environment, then sub_pool_env, then this sub pool's
	// own list: a later setting replaces an earlier one of the same name.
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++) {
		if (strncmp(environ[i], "OSCAR_SUBPOOL_", 14) != 0 &&
		    !env_has(pool->cfg.sub_pool_env, environ[i]) && !env_has(own, environ[i])) {
			env[k++] = environ[i];
		}
	}
	snprintf(env_addr, sizeof(env_addr), "OSCAR_SUBPOOL_ADDRESS=%s", s->address);
	snprintf(env_label, sizeof(env_label), "OSCAR_SUBPOOL_LABEL=%s", s->label);
	snprintf(env_parent, sizeof(env_parent), "OSCAR_SUBPOOL_PARENT=%d", (int) getpid());
	snprintf(env_index, sizeof(env_index), "OSCAR_SUBPOOL_INDEX=%u", s->index);
	snprintf(env_main, sizeof(env_main), "OSCAR_SUBPOOL_MAIN=%s", pool->address);
	for (const char *const *e = pool->cfg.sub_pool_env; e != NULL && *e != NULL; e++) {
		if (!env_has(own, *e)) {
			env[k++] = (char *) *e;
		}
	}
	for (const char *const *e = own; e != NULL && *e != NULL; e++) {
		env[k++] = (char *) *e;
	}
	env[k++] = env_addr;
	env[k++] = env_label;
	env[k++] = env_parent;
	env[k++] = env_index;
	if (secret != NULL) {
		// The cluster secret, so that the sub pool's messages and ours
		// prove it; the environment of a process is readable only by
		// its user, like the secret's file, and the sub pool wipes it.
		snprintf(env_secret, sizeof(env_secret), "OSCAR_SUBPOOL_SECRET=");
		sodium_bin2hex(env_secret + 21, sizeof(env_secret) - 21, secret, secret_len);
		env[k++] = env_secret;
	}
	env[k++] = env_main;

	const char *program = pool->cfg.sub_pool_program;
	if (program == NULL) {
		if (uv_exepath(exe, &exe_len) != 0) {
			sodium_memzero(env_secret, sizeof(env_secret));
			free(env);
			sub_started(pool, OSCAR_ESYSTEM,
			    "sub pool %u could not start: this program's path is unknown",
			    s->index);
			return;
		}
		program = exe;
	}
	size_t n  = 0;
	args[n++] = (char *) program;
	for (const char *const *a = pool->cfg.sub_pool_argv; a != NULL && *a != NULL && n < 64;
	     a++) {
		args[n++] = (char *) *a;
	}
	args[n] = NULL;

	uv_pipe_init(&pool->loop, &s->in, 0);
	uv_pipe_init(&pool->loop, &s->out, 0);
	s->in.data           = s;
	s->out.data          = s;
	s->proc.data         = s;
	stdio[0].flags       = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *) &s->in;
	stdio[1].flags       = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *) &s->out;
	stdio[2].flags       = UV_INHERIT_FD;
	stdio[2].data.fd     = 2;
	memset(&opt, 0, sizeof(opt));
	opt.file        = program;
	opt.args        = args;
	opt.env         = env;
	opt.exit_cb     = sub_exit_cb;
	opt.stdio       = stdio;
	opt.stdio_count = 3;
	s->line_len     = 0;
	s->ready        = false;
	s->announced    = false;
	s->handles      = 3;
	s->spawned_at   = uv_hrtime(); // before: nothing can reach it earlier
	rv              = uv_spawn(&pool->loop, &s->proc, &opt);
	sodium_memzero(env_secret, sizeof(env_secret));
	free(env);
	if (rv != 0) {
		snprintf(
		    s->last_exit, sizeof(s->last_exit), "could not start: %s", uv_strerror(rv));
		s->alive = false;
		// The process handle needs closing even when the spawn failed.
		s->stopping = true; // no restart loop on a program that cannot run
		if (pool->subs.starting > 0) {
			sub_started(pool, OSCAR_ESYSTEM, "sub pool %u could not start: %s",
			    s->index, uv_strerror(rv));
		}
		sub_close_handles(s);
		return;
	}
	s->alive = true;
	s->pid   = s->proc.pid;
	uv_read_start((uv_stream_t *) &s->out, sub_alloc_cb, sub_read_cb);
}

static void sub_start_timeout(uv_timer_t *t)
{
	oscar_pool_t *pool = t->data;
	sub_started(pool, OSCAR_ETIMEDOUT,
	    "%u of %u sub pools not ready after %" PRId64 " ms (default_timeout_ms)",
	    pool->subs.starting, pool->cfg.sub_pools, pool->cfg.default_timeout_ms);
}

// osc_subpools_start starts the configured sub pools (loop thread, before
// uv_run). oscar_pool_open waits on pool->started for them.
int osc_subpools_start(oscar_pool_t *pool)
{
	unsigned n = pool->cfg.sub_pools;
	if (n == 0) {
		return (0);
	}
	uv_timer_init(&pool->loop, &pool->subs.start_timer);
	pool->subs.start_timer.data = pool;
	pool->subs.starting         = n;
	uv_timer_start(
	    &pool->subs.start_timer, sub_start_timeout, (uint64_t) pool->cfg.default_timeout_ms, 0);
	for (unsigned i = 0; i < n; i++) {
		if (osc_subpool_add(pool,
		        pool->cfg.sub_pool_labels ? pool->cfg.sub_pool_labels[i] : NULL,
		        NULL) != 0) {
			sub_started(pool, OSCAR_ENOMEM, "no memory for sub pool %u", i);
			break;
		}
	}
	return (1);
}

// osc_subpool_add adds and starts one more sub pool.
int osc_subpool_add(oscar_pool_t *pool, const char *label, unsigned *index)
{
	if (pool->subs.n == pool->subs.cap) {
		unsigned        cap = pool->subs.cap ? pool->subs.cap * 2 : 4;
		osc_subpool_t **v   = realloc(pool->subs.v, cap * sizeof(*v));
		if (v == NULL) {
			return (OSCAR_ENOMEM);
		}
		pool->subs.v   = v;
		pool->subs.cap = cap;
	}
	osc_subpool_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (OSCAR_ENOMEM);
	}
	s->pool  = pool;
	s->index = pool->subs.n;
	snprintf(s->label, sizeof(s->label), "%s", label != NULL ? label : "");
	sub_address(pool, s->index, s->address, sizeof(s->address));
	pool->subs.v[pool->subs.n++] = s;
	if (index != NULL) {
		*index = s->index;
	}
	sub_spawn(s);
	return (0);
}

// sub_arm_kill (re)arms the shared escalation timer for the earliest
// kill deadline among the stopping sub pools still running.
static void sub_escalate(uv_timer_t *t);

static void sub_arm_kill(oscar_pool_t *pool)
{
	int64_t next = -1;
	for (unsigned i = 0; i < pool->subs.n; i++) {
		osc_subpool_t *s = pool->subs.v[i];
		if (s->stopping && s->alive && (next < 0 || s->kill_at < next)) {
			next = s->kill_at;
		}
	}
	if (next < 0 || uv_is_closing((uv_handle_t *) &pool->subs.kill_timer)) {
		return;
	}
	int64_t now = (int64_t) uv_now(&pool->loop);
	uv_timer_start(
	    &pool->subs.kill_timer, sub_escalate, (uint64_t) (next > now ? next - now : 0), 0);
}

// sub_escalate kills, with SIGKILL, every stopping sub pool whose
// grace period is over, then waits for the next one.
static void sub_escalate(uv_timer_t *t)
{
	oscar_pool_t *pool = t->data;
	int64_t       now  = (int64_t) uv_now(&pool->loop);
	for (unsigned i = 0; i < pool->subs.n; i++) {
		osc_subpool_t *s = pool->subs.v[i];
		if (s->alive && s->stopping && s->kill_at <= now) {
			uv_process_kill(&s->proc, SIGKILL);
		}
	}
	sub_arm_kill(pool);
}

// osc_subpool_stop stops sub pool s for good: SIGTERM now, SIGKILL once
// its own grace period is over.
void osc_subpool_stop(oscar_pool_t *pool, osc_subpool_t *s)
{
	if (s->stopping) {
		return;
	}
	s->stopping = true;
	if (!s->alive) {
		return;
	}
	uv_process_kill(&s->proc, SIGTERM);
	s->kill_at = (int64_t) uv_now(&pool->loop) + OSC_STOP_GRACE_MS;
	if (!pool->subs.escalating) {
		pool->subs.escalating = true;
		uv_timer_init(&pool->loop, &pool->subs.kill_timer);
		pool->subs.kill_timer.data = pool;
	}
	sub_arm_kill(pool);
}

// osc_subpools_stop stops every sub pool (shutdown). The loop goes on
// until their handles are closed, so oscar_pool_free reaps them all.
void osc_subpools_stop(oscar_pool_t *pool)
{
	for (unsigned i = 0; i < pool->subs.n; i++) {
		osc_subpool_stop(pool, pool->subs.v[i]);
	}
	if (pool->subs.starting > 0) {
		sub_started(pool, OSCAR_ECLOSED, "the pool closed while its sub pools started");
	}
	if (pool->cfg.sub_pools > 0 && !uv_is_closing((uv_handle_t *) &pool->subs.start_timer)) {
		uv_close((uv_handle_t *) &pool->subs.start_timer, NULL);
	}
	sub_check_reaped(pool);
}

void osc_subpools_free(oscar_pool_t *pool)
{
	// Waiters left when the loop ended (their host threads gave up).
	osc_node_t *node;
	while ((node = osc_list_pop(&pool->subs.waiters)) != NULL) {
		oscar_call_t *h = OSC_CONTAINER_OF(node, osc_sub_wait_t, node)->h;
		oscar_error_t err;
		osc_error_set(
		    &err, pool, OSCAR_ECLOSED, "", "", "pool %s is closed", pool->address);
		osc_host_complete(h, OSCAR_ECLOSED, &err);
		osc_host_release(h);
	}
	for (unsigned i = 0; i < pool->subs.n; i++) {
		osc_subpool_t *s = pool->subs.v[i];
		// Every child is reaped by now; one killed hard left its socket.
		if (strncmp(s->address, "ipc://", 6) == 0) {
			(void) unlink(s->address + 6);
		}
		while ((node = osc_list_pop(&s->placed)) != NULL) {
			osc_placed_t *p = OSC_CONTAINER_OF(node, osc_placed_t, node);
			oscar_value_free(p->args);
			free(p);
		}
		for (size_t j = 0; j < s->nmarks; j++) {
			free(s->marks[j]);
		}
		free(s->marks);
		free(s);
	}
	free(pool->subs.v);
}

// ---------------------------------------------------------------------------
// Placement

static bool sub_has_mark(const osc_subpool_t *s, const char *mark)
{
	for (size_t i = 0; i < s->nmarks; i++) {
		if (strcmp(s->marks[i], mark) == 0) {
			return (true);
		}
	}
	return (false);
}

// osc_subpool_place picks the sub pool for a creation; OSCAR_ENOENT when
// none fits.
int osc_subpool_place(
    oscar_pool_t *pool, const oscar_placement_t *where, osc_subpool_t **out, oscar_error_t *err)
{
	unsigned n = pool->subs.n;
	*out       = NULL;
	if (where->how == OSCAR_PLACE_SUB_POOL) {
		if (where->index >= n || pool->subs.v[where->index]->removed) {
			osc_error_set(err, pool, OSCAR_ENOENT, "", "", "no sub pool %u in %s",
			    where->index, pool->address);
			return (OSCAR_ENOENT);
		}
		*out = pool->subs.v[where->index];
		return (0);
	}
	for (unsigned k = 0; k < n; k++) {
		osc_subpool_t *s = pool->subs.v[(pool->subs.rr + k) % n];
		if (s->removed || !s->ready) {
			continue;
		}
		if ((where->how == OSCAR_PLACE_LABEL || where->how == OSCAR_PLACE_IDLE) &&
		    (where->label == NULL || strcmp(s->label, where->label) != 0)) {
			continue;
		}
		if (where->how == OSCAR_PLACE_IDLE &&
		    (where->mark == NULL || sub_has_mark(s, where->mark))) {
			continue;
		}
		pool->subs.rr = (pool->subs.rr + k + 1) % n;
		if (where->how == OSCAR_PLACE_IDLE) {
			// Taken now, so that concurrent creations spread out.
			char **m = realloc(s->marks, (s->nmarks + 1) * sizeof(*m));
			if (m == NULL || (m[s->nmarks] = strdup(where->mark)) == NULL) {
				if (m != NULL) {
					s->marks = m;
				}
				osc_error_set(err, pool, OSCAR_ENOMEM, "", "", "no memory");
				return (OSCAR_ENOMEM);
			}
			s->marks = m;
			s->nmarks++;
		}
		*out = s;
		return (0);
	}
	osc_error_set(err, pool, OSCAR_ENOENT, "", "", "no %ssub pool%s%s%s%s%s in %s",
	    where->how == OSCAR_PLACE_IDLE ? "idle " : "", where->label ? " labelled " : "",
	    where->label ? where->label : "", where->mark ? " for mark " : "",
	    where->mark ? where->mark : "", n == 0 ? " (it has none)" : "", pool->address);
	return (OSCAR_ENOENT);
}

// osc_subpool_record remembers an actor created in s through the main
// pool, for OSCAR_RECOVER_ACTOR.
void osc_subpool_record(
    osc_subpool_t *s, const char *cls, const char *uid, const oscar_value_t *args)
{
	osc_placed_t *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return;
	}
	snprintf(p->cls, sizeof(p->cls), "%s", cls);
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	p->args = args != NULL ? oscar_value_copy(args) : NULL;
	osc_list_prepend(&s->placed, &p->node);
}

// osc_subpool_find returns the sub pool at address, or NULL.
osc_subpool_t *osc_subpool_find(oscar_pool_t *pool, const char *address)
{
	for (unsigned i = 0; i < pool->subs.n; i++) {
		if (strcmp(pool->subs.v[i]->address, address) == 0) {
			return (pool->subs.v[i]);
		}
	}
	return (NULL);
}

int osc_subpool_death(oscar_pool_t *pool, const char *address, int64_t pid, uint64_t up_at,
    char *why, size_t size, int64_t *dead_pid)
{
	osc_subpool_t *s = osc_subpool_find(pool, address);
	if (s == NULL) {
		return (OSCAR_ENOENT);
	}
	if (pid == 0 && up_at != 0) {
		// A connection that came up after a process was started, and
		// before the next one was, reached that process.
		if (s->alive && s->spawned_at <= up_at) {
			return (1);
		}
		if (s->last_pid != 0 && s->last_spawned_at <= up_at) {
			pid = s->last_pid;
		}
	}
	// Without a pid, the asker lost the process that runs now if it has
	// said it is ready; one that has not (a recovery under way) cannot be
	// the one it was connected to, so the last death is the answer.
	if (s->alive && (pid == s->pid || (pid == 0 && s->announced))) {
		return (1);
	}
	if (s->last_pid == 0 || (pid != 0 && pid != s->last_pid)) {
		return (OSCAR_ENOENT);
	}
	snprintf(why, size, "sub pool %u (%s, pid %" PRId64 ") %s", s->index, s->address,
	    s->last_pid, s->last_exit);
	*dead_pid = s->last_pid;
	return (0);
}

// oscar_pool_census counts the pool's actors and sub pools; the loop's
// own state, so only its thread may read it.
int oscar_pool_census(oscar_pool_t *pool, oscar_pool_census_t *out)
{
	if (pool == NULL || out == NULL) {
		return (OSCAR_EINVAL);
	}
	if (!osc_pool_on_loop(pool)) {
		return (OSCAR_ESTATE);
	}
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < pool->subs.n; i++) {
		const osc_subpool_t *s = pool->subs.v[i];
		out->sub_pools += !s->removed;
		out->sub_pools_ready += s->alive && s->ready && !s->removed;
	}
	out->actors = pool->actors.len;
	return (0);
}

// ---------------------------------------------------------------------------
// The child's side

int oscar_subpool_main(const oscar_actor_class_t *const *classes)
{
	const char *addr   = getenv("OSCAR_SUBPOOL_ADDRESS");
	const char *parent = getenv("OSCAR_SUBPOOL_PARENT");
	if (addr == NULL || parent == NULL) {
		return (-1);
	}
	// Die with the parent, whatever kills it; and if it is already gone,
	// do not start at all.
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t) atoi(parent)) {
		return (1);
	}
	// Stop on SIGTERM, or when the parent closes our stdin. SIGINT is
	// ignored: a Ctrl-C at a terminal reaches the whole process group,
	// and the main pool, which gets it too, stops its sub pools in order.
	signal(SIGINT, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL); // before the pool's threads exist
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);

	oscar_pool_config_t cfg;
	oscar_pool_t       *pool;
	oscar_pool_config_init(&cfg);
	cfg.address = addr;
	cfg.classes = classes;
	unsigned char secret[OSCAR_SECRET_MAX];
	char         *hex = getenv("OSCAR_SUBPOOL_SECRET");
	if (hex != NULL) {
		size_t len = 0;
		if (sodium_init() < 0 || sodium_hex2bin(secret, sizeof(secret), hex, strlen(hex),
		                             NULL, &len, NULL) != 0) {
			fprintf(stderr, "oscar sub pool: the cluster secret from the main pool "
			                "is malformed\n");
			return (1);
		}
		sodium_memzero(hex, strlen(hex)); // out of /proc/<pid>/environ too
		cfg.secret     = secret;
		cfg.secret_len = len;
	}
	oscar_error_t err;
	int rv = osc_pool_open_home(&pool, &cfg, getenv("OSCAR_SUBPOOL_MAIN"), &osc_hooks, &err);
	sodium_memzero(secret, sizeof(secret));
	if (rv != 0) {
		fprintf(
		    stderr, "oscar sub pool: cannot open a pool at %s: %s\n", addr, err.message);
		return (1);
	}
	// Line by line from here on, so that what the actors print shows up
	// in the main pool's output as it happens.
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("OSCAR-READY %s\n", oscar_pool_address(pool));
	fflush(stdout);

	struct pollfd fds[2] = { { .fd = 0, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(fds, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) {
			break;
		}
		if (fds[1].revents != 0) {
			break; // a signal to stop
		}
		if (fds[0].revents != 0) {
			char    buf[64];
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				break; // the main pool is gone
			}
		}
	}
	oscar_pool_free(&pool);
	if (sfd >= 0) {
		close(sfd);
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Opening a pool

// sub_find tells the transport whether address is one of pool's sub
// pools, and which process it knows there (osc_pool_hooks_t.sub_find).
static bool sub_find(oscar_pool_t *pool, const char *address, int64_t *pid)
{
	osc_subpool_t *s = osc_subpool_find(pool, address);
	if (s == NULL) {
		return (false);
	}
	*pid = s->pid;
	return (true);
}

// The hooks that plug the layers above the pool loop into it: the
// host-thread API (host.c) and the sub pools (this file).
static const osc_pool_hooks_t osc_hooks = {
	.post        = osc_host_dispatch,
	.host_finish = osc_host_finish,
	.subs_start  = osc_subpools_start,
	.subs_stop   = osc_subpools_stop,
	.subs_free   = osc_subpools_free,
	.sub_find    = sub_find,
	.sub_death   = osc_subpool_death,
};

// oscar_pool_open starts a pool and its thread (pool.c), with its sub
// pools.
int oscar_pool_open(oscar_pool_t **poolp, const oscar_pool_config_t *cfg, oscar_error_t *err)
{
	return (osc_pool_open_home(poolp, cfg, NULL, &osc_hooks, err));
}

// ---------------------------------------------------------------------------
// Sub pool operations from host threads

// sub_done tells whether the operation of waiter w is finished, and
// how.
static bool sub_done(oscar_pool_t *pool, osc_sub_wait_t *w, int *rv, oscar_error_t *err)
{
	osc_subpool_t *s = pool->subs.v[w->index];
	if (w->until_gone) {
		*rv = 0;
		return (s->handles == 0);
	}
	if (s->ready) {
		*rv = 0;
		return (true);
	}
	if (s->stopping || s->removed || pool->state != OSC_POOL_RUNNING ||
	    (!s->alive && s->handles == 0 && pool->cfg.recover == OSCAR_RECOVER_OFF)) {
		*rv = OSCAR_EPEERGONE;
		osc_error_set(err, pool, *rv, "", "", "sub pool %u (%s) will not be back: %s",
		    s->index, s->address, s->last_exit[0] ? s->last_exit : "stopped");
		return (true);
	}
	return (false);
}

// osc_sub_notify finishes the waiters whose sub pool got where they wait.
void osc_sub_notify(oscar_pool_t *pool)
{
	osc_sub_wait_t *next;
	for (osc_sub_wait_t *w = OSC_LIST_FIRST(&pool->subs.waiters, osc_sub_wait_t, node);
	     w != NULL; w      = next) {
		oscar_error_t err;
		int           rv;
		next = OSC_LIST_NEXT(w, osc_sub_wait_t, node);
		memset(&err, 0, sizeof(err));
		if (!sub_done(pool, w, &rv, &err)) {
			continue;
		}
		osc_list_remove(&pool->subs.waiters, &w->node);
		osc_host_complete(w->h, rv, &err);
		osc_host_release(w->h);
	}
}

// sub_wait_or_finish finishes h's operation, or has it wait among the
// pool's waiters until osc_sub_notify does.
static int sub_wait_or_finish(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_sub_wait_t *w = OSC_HOST_PAYLOAD(h, osc_sub_wait_t);
	int             rv;
	if (sub_done(pool, w, &rv, err)) {
		return (rv);
	}
	w->h = h;
	osc_list_prepend(&pool->subs.waiters, &w->node);
	return (OSC_HOST_LATER);
}

// sub_lookup returns the sub pool h names, or NULL with err filled.
static osc_subpool_t *sub_lookup(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	unsigned i = OSC_HOST_PAYLOAD(h, osc_sub_wait_t)->index;
	if (i >= pool->subs.n || pool->subs.v[i]->removed) {
		osc_error_set(
		    err, pool, OSCAR_ENOENT, "", "", "no sub pool %u in %s", i, pool->address);
		return (NULL);
	}
	return (pool->subs.v[i]);
}

// oscar_pool_sub_pools's payload: where the descriptions go.
typedef struct osc_sub_info {
	oscar_sub_pool_info_t *out;
	size_t                 cap;
	size_t                 n;
} osc_sub_info_t;

static int sub_info_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_sub_info_t *p = OSC_HOST_PAYLOAD(h, osc_sub_info_t);
	(void) err;
	p->n = pool->subs.n;
	for (unsigned i = 0; i < pool->subs.n && i < p->cap; i++) {
		osc_subpool_t         *s   = pool->subs.v[i];
		oscar_sub_pool_info_t *out = &p->out[i];
		memset(out, 0, sizeof(*out));
		out->index    = s->index;
		out->pid      = s->pid;
		out->alive    = s->alive && s->ready;
		out->removed  = s->removed;
		out->restarts = s->restarts;
		snprintf(out->address, sizeof(out->address), "%s", s->address);
		snprintf(out->label, sizeof(out->label), "%s", s->label);
		snprintf(out->last_exit, sizeof(out->last_exit), "%s", s->last_exit);
	}
	return (0);
}

static const osc_host_op_t osc_sub_info_op = {
	.name = "sub_pools",
	.size = sizeof(osc_sub_info_t),
	.run  = sub_info_run,
};

static int sub_kill_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_subpool_t *s = sub_lookup(pool, h, err);
	if (s == NULL) {
		return (OSCAR_ENOENT);
	}
	if (s->alive) {
		uv_process_kill(&s->proc, SIGKILL);
		// Not ready from now on: a wait for recovery waits for the next
		// process, not for this one's exit to be noticed.
		s->ready = false;
	}
	return (0);
}

static const osc_host_op_t osc_sub_kill_op = {
	.name = "kill_sub_pool",
	.size = sizeof(osc_sub_wait_t),
	.run  = sub_kill_run,
};

static int sub_wait_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	if (sub_lookup(pool, h, err) == NULL) {
		return (OSCAR_ENOENT);
	}
	return (sub_wait_or_finish(pool, h, err));
}

static const osc_host_op_t osc_sub_wait_op = {
	.name = "wait_recovered",
	.size = sizeof(osc_sub_wait_t),
	.run  = sub_wait_run,
};

static int sub_add_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_sub_wait_t *w  = OSC_HOST_PAYLOAD(h, osc_sub_wait_t);
	int             rv = osc_subpool_add(pool, w->label[0] ? w->label : NULL, &w->index);
	if (rv != 0) {
		osc_error_set(err, pool, rv, "", "", "cannot add a sub pool");
		return (rv);
	}
	return (sub_wait_or_finish(pool, h, err));
}

static const osc_host_op_t osc_sub_add_op = {
	.name = "add_sub_pool",
	.size = sizeof(osc_sub_wait_t),
	.run  = sub_add_run,
};

static int sub_remove_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_subpool_t *s = sub_lookup(pool, h, err);
	if (s == NULL) {
		return (OSCAR_ENOENT);
	}
	s->removed                                      = true;
	OSC_HOST_PAYLOAD(h, osc_sub_wait_t)->until_gone = true;
	osc_subpool_stop(pool, s);
	return (sub_wait_or_finish(pool, h, err));
}

static const osc_host_op_t osc_sub_remove_op = {
	.name = "remove_sub_pool",
	.size = sizeof(osc_sub_wait_t),
	.run  = sub_remove_run,
};

// sub_sync runs sub pool operation op on sub pool index (or with
// label, for an add). On success with out, the handle is the caller's to
// read and release.
static int sub_sync(oscar_pool_t *pool, const osc_host_op_t *op, unsigned index, const char *label,
    int64_t timeout_ms, oscar_call_t **out)
{
	oscar_call_t *h;
	int           rv = osc_host_new(pool, op, NULL, NULL, NULL, timeout_ms, &h, NULL);
	if (rv != 0) {
		return (rv);
	}
	osc_sub_wait_t *w = OSC_HOST_PAYLOAD(h, osc_sub_wait_t);
	w->index          = index;
	snprintf(w->label, sizeof(w->label), "%s", label != NULL ? label : "");
	if ((rv = osc_host_sync(h, out != NULL, NULL)) == 0 && out != NULL) {
		*out = h;
	}
	return (rv);
}

int oscar_pool_sub_pools(
    oscar_pool_t *pool, oscar_sub_pool_info_t *out, size_t cap, size_t *n, int64_t timeout_ms)
{
	oscar_call_t *h;
	int rv = osc_host_new(pool, &osc_sub_info_op, NULL, NULL, NULL, timeout_ms, &h, NULL);
	if (rv != 0) {
		return (rv);
	}
	osc_sub_info_t *p = OSC_HOST_PAYLOAD(h, osc_sub_info_t);
	p->out            = out;
	p->cap            = out != NULL ? cap : 0;
	if ((rv = osc_host_sync(h, true, NULL)) == 0) {
		if (n != NULL) {
			*n = p->n;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_pool_kill_sub_pool(oscar_pool_t *pool, unsigned index, int64_t timeout_ms)
{
	return (sub_sync(pool, &osc_sub_kill_op, index, NULL, timeout_ms, NULL));
}

int oscar_pool_wait_recovered(oscar_pool_t *pool, unsigned index, int64_t timeout_ms)
{
	return (sub_sync(pool, &osc_sub_wait_op, index, NULL, timeout_ms, NULL));
}

int oscar_pool_add_sub_pool(
    oscar_pool_t *pool, const char *label, unsigned *index, int64_t timeout_ms)
{
	oscar_call_t *h;
	if (label != NULL && strlen(label) >= OSCAR_NAME_MAX) {
		return (OSCAR_EINVAL);
	}
	int rv = sub_sync(pool, &osc_sub_add_op, 0, label, timeout_ms, &h);
	if (rv == 0) {
		if (index != NULL) {
			*index = OSC_HOST_PAYLOAD(h, osc_sub_wait_t)->index;
		}
		osc_host_release(h);
	}
	return (rv);
}

int oscar_pool_remove_sub_pool(oscar_pool_t *pool, unsigned index, int64_t timeout_ms)
{
	return (sub_sync(pool, &osc_sub_remove_op, index, NULL, timeout_ms, NULL));
}

int oscar_pool_kill_actor(oscar_pool_t *pool, const oscar_ref_t *ref, int64_t timeout_ms)
{
	oscar_sub_pool_info_t *info;
	size_t                 n;
	int                    rv;
	if (ref == NULL) {
		return (OSCAR_EINVAL);
	}
	if ((rv = oscar_pool_sub_pools(pool, NULL, 0, &n, timeout_ms)) != 0) {
		return (rv);
	}
	if (n == 0) {
		return (OSCAR_ENOENT);
	}
	if ((info = calloc(n, sizeof(*info))) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if ((rv = oscar_pool_sub_pools(pool, info, n, &n, timeout_ms)) == 0) {
		rv = OSCAR_ENOENT;
		for (size_t i = 0; i < n; i++) {
			if (!info[i].removed && strcmp(info[i].address, ref->addr) == 0) {
				rv = oscar_pool_kill_sub_pool(pool, info[i].index, timeout_ms);
				break;
			}
		}
	}
	free(info);
	return (rv);
}

// ---------------------------------------------------------------------------
// Creating an actor by class name, here or in a sub pool

// oscar_create_by_name's payload: where to place the actor, and what to
// remember of it for OSCAR_RECOVER_ACTOR.
typedef struct osc_sub_create {
	oscar_placement_t placement;
	char              label[OSCAR_NAME_MAX];
	char              mark[OSCAR_NAME_MAX];
	unsigned          sub_index; // the sub pool chosen, + 1; 0 for none
	oscar_value_t    *args_copy; // for OSCAR_RECOVER_ACTOR
} osc_sub_create_t;

static int sub_create_run(oscar_pool_t *pool, oscar_call_t *h, oscar_error_t *err)
{
	osc_sub_create_t *p    = OSC_HOST_PAYLOAD(h, osc_sub_create_t);
	oscar_value_t    *args = h->args;
	osc_actor_t      *a;
	int               rv;
	h->args = NULL;
	if (p->placement.how >= OSCAR_PLACE_SUB_POOL) {
		osc_subpool_t *sp;
		p->placement.label = p->label[0] ? p->label : NULL;
		p->placement.mark  = p->mark[0] ? p->mark : NULL;
		if ((rv = osc_subpool_place(pool, &p->placement, &sp, err)) != 0) {
			oscar_value_free(args);
			return (rv);
		}
		p->sub_index = sp->index + 1;
		if (pool->cfg.recover == OSCAR_RECOVER_ACTOR && args != NULL) {
			p->args_copy = oscar_value_copy(args);
		}
		snprintf(h->ref.addr, sizeof(h->ref.addr), "%s", sp->address);
	}
	if (h->ref.addr[0] != '\0' && strcmp(h->ref.addr, pool->address) != 0) {
		rv = osc_remote_control(pool, OSC_MSG_CREATE, h->ref.addr, h->ref.uid, h->method,
		    args, h->timeout_ms, h, err);
		return (rv == 0 ? OSC_HOST_LATER : rv);
	}
	const oscar_actor_class_t *cls = osc_class_find(pool, h->method);
	if (cls == NULL) {
		oscar_value_free(args);
		osc_error_set(err, pool, OSCAR_ENOENT, h->ref.uid, "",
		    "no class %s offered by pool %s", h->method, pool->address);
		return (OSCAR_ENOENT);
	}
	rv = osc_actor_create(pool, cls, h->ref.uid[0] ? h->ref.uid : NULL, args, &a, err);
	if (rv == 0) {
		h->ref = a->ref;
	}
	return (rv);
}

static void sub_create_reply(oscar_pool_t *pool, oscar_call_t *h)
{
	osc_sub_create_t *p = OSC_HOST_PAYLOAD(h, osc_sub_create_t);
	if (osc_host_read_ref(h) && p->sub_index > 0 && p->sub_index <= pool->subs.n) {
		osc_subpool_record(
		    pool->subs.v[p->sub_index - 1], h->method, h->ref.uid, p->args_copy);
	}
}

static void sub_create_fini(oscar_call_t *h)
{
	oscar_value_free(OSC_HOST_PAYLOAD(h, osc_sub_create_t)->args_copy);
}

static const osc_host_op_t osc_sub_create_op = {
	.name  = "create_by_name",
	.size  = sizeof(osc_sub_create_t),
	.run   = sub_create_run,
	.reply = sub_create_reply,
	.fini  = sub_create_fini,
};

int oscar_create_by_name(oscar_pool_t *pool, const char *cls, const char *uid, oscar_value_t *args,
    const oscar_placement_t *placement, int64_t timeout_ms, oscar_ref_t *ref, oscar_error_t *err)
{
	oscar_call_t *h;
	oscar_ref_t   target;
	memset(&target, 0, sizeof(target));
	if (pool == NULL || cls == NULL ||
	    (uid != NULL && (uid[0] == '\0' || strlen(uid) >= OSCAR_UID_MAX))) {
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_EINVAL,
		    pool == NULL  ? "no pool given"
		    : cls == NULL ? "no class name given"
		                  : "actor uid must be 1 to 63 bytes long"));
	}
	if (placement != NULL && placement->how == OSCAR_PLACE_ADDRESS) {
		if (placement->address == NULL || strlen(placement->address) >= OSCAR_ADDR_MAX) {
			oscar_value_free(args);
			return (osc_error_here(err, OSCAR_EINVAL, "no valid address given"));
		}
		snprintf(target.addr, sizeof(target.addr), "%s", placement->address);
	} else if (placement != NULL && placement->how > OSCAR_PLACE_IDLE) {
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_EINVAL, "unknown placement"));
	} else if (placement != NULL && placement->how >= OSCAR_PLACE_LABEL &&
	           (placement->label == NULL || strlen(placement->label) >= OSCAR_NAME_MAX ||
	               (placement->how == OSCAR_PLACE_IDLE &&
	                   (placement->mark == NULL ||
	                       strlen(placement->mark) >= OSCAR_NAME_MAX)))) {
		oscar_value_free(args);
		return (osc_error_here(err, OSCAR_EINVAL, "placement needs a label (and a mark)"));
	}
	if (uid != NULL) {
		snprintf(target.uid, sizeof(target.uid), "%s", uid);
	}
	int rv = osc_host_new(pool, &osc_sub_create_op, &target, cls, args, timeout_ms, &h, err);
	if (rv != 0) {
		return (rv);
	}
	osc_sub_create_t *p = OSC_HOST_PAYLOAD(h, osc_sub_create_t);
	if (placement != NULL) {
		p->placement = *placement;
		snprintf(
		    p->label, sizeof(p->label), "%s", placement->label ? placement->label : "");
		snprintf(p->mark, sizeof(p->mark), "%s", placement->mark ? placement->mark : "");
	}
	if ((rv = osc_host_sync(h, true, err)) == 0) {
		if (ref != NULL) {
			*ref = h->ref;
		}
		osc_host_release(h);
	}
	return (rv);
}
