// The node's own actor (OSCAR_NODE_UID) and its hook thread.
//
// Design note. A service's session_create and session_destroy hooks run
// on a thread that is not the main pool's: they may make synchronous calls
// into the pool (meta's hook creates an actor with oscar_create), which
// would deadlock on the pool's own thread. So the actor does not run them:
// it checks the request, releases itself (OSCAR_DEFER_YIELD), and queues a
// job for the node's hook thread, which runs oscar_node_session_create or
// _destroy and posts the outcome back to the actor ("hook_done", with the
// job's token, code and message) with oscar_tell_nowait. The actor then
// answers the request. Jobs run one at a time, in the order they came, so
// a create and a destroy of one session never overlap. The thread keeps
// the set of sessions live on the node: a create of a live session, or a
// destroy of one that is not, runs nothing. The queue and the set are
// bounded; a full queue answers OSCAR_EMBOXFULL, a full set OSCAR_ESTATE.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "oscar/sessions.h"
#include "services/services_int.h"
#include "services/strmap.h"

#define OSC_HOOK_JOBS_MAX     4096   // jobs queued or waiting for their answer
#define OSC_NODE_SESSIONS_MAX 100000 // sessions live on one node
#define OSC_POST_TRIES_MS     5000   // how long an answer is retried on a full inbox

typedef struct osc_hook_job {
	struct osc_hook_job *next;
	bool                 create;
	uint64_t             token;
	char                 id[OSCAR_SESSION_ID_MAX + 1];
} osc_hook_job_t;

struct osc_hooks {
	oscar_node_t   *node;
	oscar_ref_t     actor;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	osc_hook_job_t *head, *tail; // queued, under mu
	size_t          queued;
	bool            stopping;
	osc_strmap_t    live; // session id -> (void *) 1, under mu
};

bool osc_session_id_ok(const char *id, size_t len)
{
	if (id == NULL || len == 0 || len > OSCAR_SESSION_ID_MAX) {
		return (false);
	}
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == '-')) {
			return (false);
		}
	}
	return (true);
}

bool oscar_session_id_ok(const char *id)
{
	return (id != NULL && osc_session_id_ok(id, strlen(id)));
}

int osc_session_uid(char *uid, const char *prefix, const char *session)
{
	if (!oscar_session_id_ok(session) || strlen(prefix) + strlen(session) >= OSCAR_UID_MAX) {
		return (OSCAR_EINVAL);
	}
	snprintf(uid, OSCAR_UID_MAX, "%s%s", prefix, session);
	return (0);
}

bool osc_key_ok(const oscar_value_t *v)
{
	const char *s;
	size_t      len;
	return (oscar_value_get_str(v, &s, &len) == 0 && len >= 1 && len <= OSCAR_REF_KEY_MAX &&
	        strlen(s) == len);
}

// osc_hooks_post tells the actor how job ended. Runs on the hook thread.
static void osc_hooks_post(osc_hooks_t *h, const osc_hook_job_t *job, int code, const char *msg)
{
	oscar_value_t *v = oscar_value_new_array(3);
	oscar_value_array_push(v, oscar_value_new_uint(job->token));
	oscar_value_array_push(v, oscar_value_new_int(code));
	oscar_value_array_push(v, oscar_value_new_str(msg));
	if (v == NULL || oscar_value_len(v) != 3) {
		oscar_value_free(v);
		v = NULL;
	}
	// A full inbox pushes back: try again for a while (this thread has
	// nothing else to do), then give up and let the caller's deadline
	// answer it.
	int     rv  = OSCAR_ENOMEM;
	int64_t end = osc_mono_ms() + OSC_POST_TRIES_MS;
	while (v != NULL) {
		oscar_value_t *copy = oscar_value_copy(v);
		rv = copy != NULL ? oscar_tell_nowait(oscar_node_pool(h->node), &h->actor,
		                        osc_node_methods[OSC_NM_DONE].name, copy)
		                  : OSCAR_ENOMEM;
		if (rv != OSCAR_EMBOXFULL || osc_mono_ms() >= end) {
			break;
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	oscar_value_free(v);
	if (rv != 0) {
		// The caller's deadline answers it.
		oscar_log(OSCAR_LOG_WARN, "node", "cannot answer a session %s of %s: %s",
		    job->create ? "create" : "destroy", job->id, oscar_strerror(rv));
	}
}

// osc_hooks_run runs one job on the hook thread.
static void osc_hooks_run(osc_hooks_t *h, osc_hook_job_t *job)
{
	oscar_error_t err;
	memset(&err, 0, sizeof(err));
	pthread_mutex_lock(&h->mu);
	bool live = osc_strmap_get(&h->live, job->id) != NULL;
	bool full = h->live.len >= OSC_NODE_SESSIONS_MAX;
	pthread_mutex_unlock(&h->mu);
	int rv = 0;
	if (job->create && !live) {
		if (full) {
			rv = oscar_error_set(&err, OSCAR_ESTATE,
			    "node %s holds %d sessions, its most", oscar_node_address(h->node),
			    OSC_NODE_SESSIONS_MAX);
		} else {
			rv = oscar_node_session_create(h->node, job->id, &err);
		}
		if (rv == 0) {
			pthread_mutex_lock(&h->mu);
			if (osc_strmap_put(&h->live, job->id, (void *) 1, NULL) != 0) {
				pthread_mutex_unlock(&h->mu);
				oscar_node_session_destroy(h->node, job->id);
				rv = oscar_error_set(&err, OSCAR_ENOMEM, "out of memory");
			} else {
				pthread_mutex_unlock(&h->mu);
			}
		}
	} else if (!job->create && live) {
		oscar_node_session_destroy(h->node, job->id);
		pthread_mutex_lock(&h->mu);
		osc_strmap_del(&h->live, job->id);
		pthread_mutex_unlock(&h->mu);
	}
	osc_hooks_post(h, job, rv, rv != 0 ? err.message : "");
}

static void *osc_hooks_main(void *arg)
{
	osc_hooks_t *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->head == NULL && !h->stopping) {
			pthread_cond_wait(&h->cv, &h->mu);
		}
		osc_hook_job_t *job = h->head;
		if (job == NULL) {
			break; // stopping, and nothing left
		}
		h->head = job->next;
		h->tail = h->head != NULL ? h->tail : NULL;
		h->queued--;
		bool stopping = h->stopping;
		pthread_mutex_unlock(&h->mu);
		if (stopping) {
			osc_hooks_post(h, job, OSCAR_ECLOSED, "the node is stopping");
		} else {
			osc_hooks_run(h, job);
		}
		free(job);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return (NULL);
}

// osc_hooks_queue queues a job; OSCAR_EMBOXFULL past the bound.
static int osc_hooks_queue(osc_hooks_t *h, bool create, const char *id, uint64_t token)
{
	osc_hook_job_t *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		return (OSCAR_ENOMEM);
	}
	job->create = create;
	job->token  = token;
	snprintf(job->id, sizeof(job->id), "%s", id);
	pthread_mutex_lock(&h->mu);
	int rv = h->stopping ? OSCAR_ECLOSED : h->queued >= OSC_HOOK_JOBS_MAX ? OSCAR_EMBOXFULL : 0;
	if (rv == 0) {
		if (h->tail != NULL) {
			h->tail->next = job;
		} else {
			h->head = job;
		}
		h->tail = job;
		h->queued++;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	if (rv != 0) {
		free(job);
	}
	return (rv);
}

// ---------------------------------------------------------------------------
// The actor

typedef struct osc_waiting {
	uint64_t     token;
	oscar_req_t *req;
} osc_waiting_t;

typedef struct osc_node_actor {
	osc_hooks_t   *hooks;
	uint64_t       next_token; // starts at a random number: tokens are not guessable
	osc_waiting_t *waiting;    // requests whose job has not answered
	size_t         n_waiting;
} osc_node_actor_t;

static int osc_nm_job(oscar_actor_t *self, oscar_req_t *req, bool create)
{
	osc_node_actor_t *st = oscar_actor_state(self);
	const char       *id;
	size_t            len;
	oscar_value_get_str(oscar_req_args(req), &id, &len);
	if (!osc_session_id_ok(id, len) || strlen(id) != len) {
		return (oscar_req_fail(req, OSCAR_EINVAL,
		    "a session id is 1 to %d bytes of [A-Za-z0-9._-]", OSCAR_SESSION_ID_MAX));
	}
	if (st->hooks == NULL) {
		return (oscar_req_fail(req, OSCAR_ESTATE, "this node runs no session hooks"));
	}
	if (st->n_waiting >= OSC_HOOK_JOBS_MAX) {
		return (oscar_req_fail(req, OSCAR_EMBOXFULL, "%d session jobs are waiting already",
		    OSC_HOOK_JOBS_MAX));
	}
	uint64_t token = st->next_token++;
	int      rv    = osc_hooks_queue(st->hooks, create, id, token);
	if (rv != 0) {
		return (oscar_req_fail(
		    req, rv, "cannot queue the session's hooks: %s", oscar_strerror(rv)));
	}
	st->waiting[st->n_waiting++] = (osc_waiting_t) { token, req };
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static int osc_nm_create(oscar_actor_t *self, oscar_req_t *req)
{
	return (osc_nm_job(self, req, true));
}

static int osc_nm_destroy(oscar_actor_t *self, oscar_req_t *req)
{
	return (osc_nm_job(self, req, false));
}

static int osc_nm_sessions(oscar_actor_t *self, oscar_req_t *req)
{
	osc_node_actor_t *st   = oscar_actor_state(self);
	osc_hooks_t      *h    = st->hooks;
	oscar_value_t    *list = oscar_value_new_array(0);
	if (h != NULL && list != NULL) {
		pthread_mutex_lock(&h->mu);
		for (const osc_strmap_item_t *it    = osc_strmap_next(&h->live, NULL);
		     list != NULL && it != NULL; it = osc_strmap_next(&h->live, it)) {
			if (oscar_value_array_push(list, oscar_value_new_str(it->key)) != 0) {
				oscar_value_free(list);
				list = NULL;
			}
		}
		pthread_mutex_unlock(&h->mu);
	}
	return (list != NULL ? oscar_req_reply(req, list) : OSCAR_ENOMEM);
}

// osc_nm_done answers the request whose job ended. A token that names no
// waiting request (a stray or forged message) is refused.
static int osc_nm_done(oscar_actor_t *self, oscar_req_t *req)
{
	osc_node_actor_t *st    = oscar_actor_state(self);
	uint64_t          token = oscar_value_at_uint(oscar_req_args(req), 0, 0);
	int64_t           code  = oscar_value_at_int(oscar_req_args(req), 1, OSCAR_EPROTO);
	const char       *msg   = oscar_value_at_str(oscar_req_args(req), 2);
	size_t            i     = 0;
	while (i < st->n_waiting && st->waiting[i].token != token) {
		i++;
	}
	if (i == st->n_waiting) {
		return (oscar_req_fail(req, OSCAR_ENOENT, "no session job waits for that token"));
	}
	oscar_req_t *done = st->waiting[i].req;
	st->waiting[i]    = st->waiting[--st->n_waiting];
	if (code == 0) {
		oscar_req_reply(done, NULL);
	} else {
		oscar_req_fail(done, (int) code, "%s",
		    msg != NULL && msg[0] != '\0' ? msg : oscar_strerror((int) code));
	}
	return (0);
}

static int osc_nm_create_hook(oscar_actor_t *self, const oscar_value_t *args)
{
	osc_node_actor_t *st   = oscar_actor_state(self);
	oscar_node_t     *node = oscar_node_of_actor(self);
	st->hooks              = node != NULL ? osc_node_hooks(node) : NULL;
	st->waiting            = calloc(OSC_HOOK_JOBS_MAX, sizeof(*st->waiting));
	if (st->waiting == NULL) {
		return (OSCAR_ENOMEM);
	}
	if (getrandom(&st->next_token, sizeof(st->next_token), 0) != sizeof(st->next_token)) {
		st->next_token = (uint64_t) osc_mono_ms() * UINT64_C(2654435761);
	}
	return (0);
}

static void osc_nm_destroy_hook(oscar_actor_t *self)
{
	osc_node_actor_t *st = oscar_actor_state(self);
	// The waiting requests were failed before this hook runs.
	free(st->waiting);
}

OSC_METHOD_TABLES(OSC_NODE_METHODS, osc_node_methods, OSC_NM_N, osc_nm_methods);

// Protected: no other pool may destroy or replace a service actor.
static const oscar_actor_class_t osc_node_actor_class = {
	.name       = "oscar.node",
	.state_size = sizeof(osc_node_actor_t),
	.create     = osc_nm_create_hook,
	.destroy    = osc_nm_destroy_hook,
	.flags      = OSCAR_CLASS_PROTECTED,
	.methods    = osc_nm_methods,
};

// ---------------------------------------------------------------------------
// Opening and closing

int osc_hooks_open(oscar_node_t *node, osc_hooks_t **hp, oscar_error_t *err)
{
	osc_hooks_t *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	h->node = node;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->thread, NULL, osc_hooks_main, h) != 0) {
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		free(h);
		return (
		    oscar_error_set(err, OSCAR_ESYSTEM, "cannot start the session hook thread"));
	}
	*hp    = h; // before the actor exists: its create hook reads it
	int rv = oscar_create(oscar_node_pool(node), &osc_node_actor_class, OSCAR_NODE_UID, NULL,
	    5000, &h->actor, err);
	if (rv != 0) {
		osc_hooks_close(hp);
	}
	return (rv);
}

void osc_hooks_close(osc_hooks_t **hp)
{
	osc_hooks_t *h = hp != NULL ? *hp : NULL;
	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	// The actor reads h: it goes first. Should it not (a pool that does
	// not answer), h is left allocated rather than freed under it.
	int rv = h->actor.uid[0] != '\0'
	             ? oscar_destroy(oscar_node_pool(h->node), &h->actor, 5000, NULL)
	             : 0;
	*hp    = NULL;
	if (rv != 0 && rv != OSCAR_ENOACTOR) {
		oscar_log(OSCAR_LOG_WARN, "node", "cannot destroy the node's own actor: %s",
		    oscar_strerror(rv));
		return;
	}
	osc_strmap_fini(&h->live, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}
