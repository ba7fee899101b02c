// The client API (include/oscar/session.h): sessions, spawned objects,
// execution, fetch and futures, over the services' typed APIs.
//
// Design note. A session keeps a table of the calls its objects stand for,
// by key. A call is spawned (not executed), or executed in one of the
// session's graphs; the objects of a call (one per output, or more when a
// pure call is made again) and the calls that take its outputs as
// arguments hold it. While a call lives and has been executed, each of its
// outputs holds one reference count on the cluster (lifecycle); the last
// release of the call gives them back, and the cluster then deletes the
// outputs. A dependent call holds its inputs until its graph is seen to
// end, so that releasing an object never deletes an input that a task
// still needs.
//
// Graphs are kept here with what the client saw of them: once a wait sees
// a graph end, its status and first error are kept here and the graph is
// deleted on the cluster (a task manager holds a bounded number).
//
// Every operation takes the session's mutex, and keeps it over its calls
// to the cluster, except waits, which give it up between slices so that
// another thread can cancel or fetch meanwhile.
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "oscar/cluster.h"
#include "oscar/graph.h"
#include "oscar/lifecycle.h"
#include "oscar/local.h"
#include "oscar/meta.h"
#include "oscar/service.h"
#include "oscar/session.h"
#include "oscar/sessions.h"
#include "services/strmap.h"
#include "services/vbuild.h"

// OSC_SLICE_MS is the longest single wait on a graph: between slices the
// client looks at its local cluster and reports progress.
#define OSC_SLICE_MS 500
// OSC_PROGRESS_SLICE_MS is the slice when progress is reported.
#define OSC_PROGRESS_SLICE_MS 100
// OSC_SUBMIT_WAIT_MS is the longest an execution's submission waits for
// the graph's end in the same call, keeping the session's lock.
#define OSC_SUBMIT_WAIT_MS 100
// OSC_ANSWER_GRACE_MS: a slice whose answer comes this much later than the
// slice asked for means the supervisor no longer answers.
#define OSC_ANSWER_GRACE_MS 4000
// Releases are batched: the keys of released outputs are queued and given
// back in one lifecycle decref at the session's next call to the cluster,
// once OSC_RELEASE_BATCH keys wait, when an object is freed
// OSC_RELEASE_MS or more after the first key was queued, and at close.
#define OSC_RELEASE_BATCH 512
#define OSC_RELEASE_MS    200
// OSC_OBJKEY_MAX bounds an output's key ("k#i"), terminator included.
#define OSC_OBJKEY_MAX (OSCAR_TASK_KEY_MAX + 12)

typedef enum osc_gstatus {
	OSC_G_RUNNING = 0,
	OSC_G_DONE,
	OSC_G_FAILED,
	OSC_G_CANCELLED,
} osc_gstatus_t;

typedef struct osc_graph {
	char          id[OSCAR_GRAPH_ID_MAX];
	osc_gstatus_t status;
	// A wait that asked the cluster to delete the graph once it answers
	// its end (release) is on its way: another wait may then find no
	// graph, and waits for that one's answer instead.
	bool              releasing;
	oscar_error_t     error; // the first error, once failed or cancelled
	uint64_t          n_tasks;
	unsigned          refs; // calls executed in it
	struct osc_graph *next;
	struct osc_graph *prev;
} osc_graph_t;

typedef struct osc_call {
	char              key[OSCAR_TASK_KEY_MAX];
	char              fn[OSCAR_NAME_MAX];
	oscar_value_t    *args; // until submitted
	unsigned          n_output;
	bool              pure;
	bool              counted; // its outputs hold a count on the cluster
	unsigned          refs;    // objects and dependent calls
	osc_graph_t      *graph;   // NULL until executed
	struct osc_call **inputs;  // held until its graph ends
	size_t            n_inputs;
	uint64_t          mark; // for walks
	// What the end of its graph said of its outputs (wanted ones): the
	// worker that holds them, and their values when small (an array of
	// n_output), so that a fetch needs no meta lookup, or no call at all.
	char          *where;
	oscar_value_t *outs;
} osc_call_t;

struct oscar_session {
	pthread_mutex_t mu;
	pthread_cond_t  idle;    // waiters reached 0
	unsigned        waiters; // threads in a call to the cluster, unlocked
	unsigned        refs;    // the opener's, and one per object
	bool            closed;
	bool            owns_session;
	bool            gone; // a wait saw the cluster go
	oscar_pool_t   *pool;
	oscar_local_t  *lc;
	char            address[OSCAR_ADDR_MAX];
	char            id[OSCAR_SESSION_ID_MAX + 1];
	int64_t         timeout_ms;
	osc_strmap_t    calls;
	osc_graph_t    *graphs;
	uint64_t        marks;
	// Released output keys not yet given back (OSC_RELEASE_BATCH).
	char (*released)[OSC_OBJKEY_MAX];
	size_t  n_released, cap_released;
	int64_t released_at; // when the first of them was queued
	// Impure calls' keys: 16 random bytes drawn once (keyseed_ok), the
	// last 8 of them counted up for each key, so that keys are unique in
	// the session and random across sessions without a system call each.
	uint8_t keyseed[OSCAR_VALUE_HASH_SIZE];
	bool    keyseed_ok;
};

struct oscar_object {
	oscar_session_t *s;
	osc_call_t      *call;
	unsigned         output;
	char             key[OSCAR_TASK_KEY_MAX + 12];
};

// ---------------------------------------------------------------------------
// Process-wide state: the default session and whether this program runs
// its own nodes (oscar_session_main).

static pthread_mutex_t  osc_default_mu = PTHREAD_MUTEX_INITIALIZER;
static oscar_session_t *osc_default;      // the default session, or NULL
static oscar_session_t *osc_default_own;  // the one we started, or NULL
static bool             osc_exit_hooked;  // atexit done
static bool             osc_self_program; // oscar_session_main was called

static int64_t osc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int oscar_session_main(int argc, char **argv, oscar_session_setup_fn setup)
{
	const char *role = getenv("OSCAR_NODE_ROLE");
	bool        sub  = getenv("OSCAR_SUBPOOL_ADDRESS") != NULL;
	if (!sub && role == NULL) {
		osc_self_program = true;
		return (-1);
	}
	oscar_registry_t *reg;
	oscar_error_t     err = { 0 };
	if (oscar_registry_new(&reg) != 0) {
		fprintf(stderr, "out of memory\n");
		return (1);
	}
	if (setup != NULL && setup(oscar_registry_taskfns(reg), &err) != 0) {
		fprintf(stderr, "cannot register the program's task functions: %s\n", err.message);
		oscar_registry_free(&reg);
		return (1);
	}
	int rc;
	if (sub) {
		rc = oscar_node_subpool_main(reg);
	} else if (strcmp(role, "supervisor") == 0) {
		rc = oscar_node_main(OSCAR_ROLE_SUPERVISOR, argc, argv, reg);
	} else if (strcmp(role, "worker") == 0) {
		rc = oscar_node_main(OSCAR_ROLE_WORKER, argc, argv, reg);
	} else {
		fprintf(stderr, "OSCAR_NODE_ROLE is '%s': neither supervisor nor worker\n", role);
		rc = 2;
	}
	oscar_registry_free(&reg);
	return (rc < 0 ? 1 : rc);
}

// ---------------------------------------------------------------------------
// Sessions

void oscar_session_config_init(oscar_session_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = 30000;
	cfg->workers    = 1;
	cfg->slots      = 2;
}

static int64_t osc_timeout(const oscar_session_config_t *cfg)
{
	return (cfg != NULL && cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000);
}

// osc_client_address gives the address of the client's own pool for the
// supervisor at address: an ipc:// socket of its own (a program may open
// several sessions), or a tcp:// address on the route to the supervisor.
static int osc_client_address(const char *address, char *out, size_t size, oscar_error_t *err)
{
	static unsigned seq;
	if (strncmp(address, "ipc://", 6) == 0) {
		const char *tmp = getenv("TMPDIR");
		unsigned    n   = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
		int         len = snprintf(out, size, "ipc://%s/oscar-session-%d-%u.sock",
                    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (int) getpid(), n);
		if (len < 0 || (size_t) len >= size || len - 6 > 107) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "the client's socket path under $TMPDIR is too long"));
		}
		return (0);
	}
	if (strncmp(address, "tls+tcp://", 10) == 0) {
		char tcp[OSCAR_ADDR_MAX], mine[OSCAR_ADDR_MAX];
		snprintf(tcp, sizeof(tcp), "tcp://%s", address + 10);
		int rv = oscar_cluster_client_address(tcp, mine, sizeof(mine), err);
		if (rv != 0) {
			return (rv);
		}
		if ((size_t) snprintf(out, size, "tls+%s", mine) >= size) {
			return (oscar_error_set(err, OSCAR_EADDRINVAL, "%s: too long", address));
		}
		return (0);
	}
	return (oscar_cluster_client_address(address, out, size, err));
}

static void osc_session_free(oscar_session_t *s)
{
	osc_graph_t *g = s->graphs;
	while (g != NULL) {
		osc_graph_t *next = g->next;
		free(g);
		g = next;
	}
	osc_strmap_fini(&s->calls, NULL);
	free(s->released);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

// osc_session_unref drops a reference; the last frees s.
static void osc_session_unref(oscar_session_t *s)
{
	pthread_mutex_lock(&s->mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last) {
		osc_session_free(s);
	}
}

// osc_session_connect opens s's pool for the supervisor at address and
// creates a session there.
static int osc_session_connect(
    oscar_session_t *s, const char *address, const oscar_session_config_t *cfg, oscar_error_t *err)
{
	char                client[OSCAR_ADDR_MAX];
	oscar_pool_config_t pcfg;
	void               *secret     = NULL;
	size_t              secret_len = 0;
	int                 rv;

	if ((rv = oscar_address_check(address, false, "the supervisor's address", err)) != 0) {
		return (rv);
	}
	if (strlen(address) >= sizeof(s->address)) {
		return (oscar_error_set(err, OSCAR_EADDRINVAL, "%s: too long", address));
	}
	snprintf(s->address, sizeof(s->address), "%s", address);
	if ((rv = osc_client_address(address, client, sizeof(client), err)) != 0) {
		return (rv);
	}
	if (cfg != NULL && cfg->secret_file != NULL &&
	    (rv = oscar_secret_read(cfg->secret_file, &secret, &secret_len, err)) != 0) {
		return (rv);
	}
	oscar_pool_config_init(&pcfg);
	pcfg.address    = client;
	pcfg.secret     = secret;
	pcfg.secret_len = secret_len;
	if (cfg != NULL) {
		pcfg.tls_cert_file = cfg->tls_cert_file;
		pcfg.tls_key_file  = cfg->tls_key_file;
		pcfg.tls_ca_file   = cfg->tls_ca_file;
	}
	oscar_error_t perr;
	rv = oscar_pool_open(&s->pool, &pcfg, &perr);
	oscar_secret_free(&secret, secret_len);
	if (rv != 0) {
		return (oscar_error_set(
		    err, rv, "cannot open the client's pool at %s: %s", client, perr.message));
	}
	rv = oscar_sessions_create(
	    s->pool, s->address, NULL, false, s->id, NULL, s->timeout_ms, err);
	if (rv == 0) {
		s->owns_session = true;
	}
	return (rv);
}

static oscar_session_t *osc_session_alloc(const oscar_session_config_t *cfg)
{
	oscar_session_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (NULL);
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->refs       = 1;
	s->timeout_ms = osc_timeout(cfg);
	return (s);
}

int oscar_session_open(oscar_session_t **sp, const char *address, const oscar_session_config_t *cfg,
    oscar_error_t *err)
{
	if (sp == NULL || address == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a place for the session and an address "
		    "are needed"));
	}
	*sp                = NULL;
	oscar_session_t *s = osc_session_alloc(cfg);
	if (s == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	int rv = osc_session_connect(s, address, cfg, err);
	if (rv != 0) {
		oscar_session_t *t = s;
		oscar_session_close(&t, NULL);
		return (rv);
	}
	*sp = s;
	return (0);
}

int oscar_session_new_local(
    oscar_session_t **sp, const oscar_session_config_t *cfg, oscar_error_t *err)
{
	oscar_session_config_t defaults;
	oscar_local_config_t   lcfg;
	char                   cores[32], memory[48], exe[PATH_MAX];
	const char           **extra = NULL;
	int                    rv;

	if (sp == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a place for the session is needed"));
	}
	*sp = NULL;
	if (cfg == NULL) {
		oscar_session_config_init(&defaults);
		cfg = &defaults;
	}
	if (cfg->workers == 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "a local cluster needs a worker"));
	}
	oscar_local_config_init(&lcfg);
	lcfg.workers     = cfg->workers;
	lcfg.sub_pools   = cfg->slots;
	lcfg.min_workers = cfg->min_workers;
	lcfg.modules     = cfg->modules;
	lcfg.secret_file = cfg->secret_file;
	lcfg.bin_dir     = cfg->bin_dir;
	lcfg.timeout_ms  = osc_timeout(cfg);
	lcfg.show_output = cfg->show_output;
	if (osc_self_program) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) {
			return (oscar_error_set(err, OSCAR_ESYSTEM,
			    "cannot find this program to run its nodes: %s", strerror(errno)));
		}
		exe[n]       = '\0';
		lcfg.program = exe;
	}
	size_t n_extra = 0;
	for (const char *const *x = cfg->extra_args; x != NULL && *x != NULL; x++) {
		n_extra++;
	}
	if ((extra = calloc(n_extra + 3, sizeof(char *))) == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	size_t k = 0;
	if (cfg->cores > 0) {
		snprintf(cores, sizeof(cores), "--cores=%u", cfg->cores);
		extra[k++] = cores;
	}
	if (cfg->memory > 0) {
		snprintf(memory, sizeof(memory), "--memory=%llu", (unsigned long long) cfg->memory);
		extra[k++] = memory;
	}
	for (size_t i = 0; i < n_extra; i++) {
		extra[k++] = cfg->extra_args[i];
	}
	lcfg.extra_args = extra;

	oscar_session_t *s = osc_session_alloc(cfg);
	if (s == NULL) {
		free(extra);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	rv = oscar_local_start(&s->lc, &lcfg, err);
	free(extra);
	if (rv == 0) {
		rv = osc_session_connect(s, oscar_local_address(s->lc), cfg, err);
	}
	if (rv != 0) {
		oscar_session_t *t = s;
		oscar_session_close(&t, NULL);
		return (rv);
	}
	*sp = s;
	return (0);
}

static void osc_default_at_exit(void)
{
	pthread_mutex_lock(&osc_default_mu);
	oscar_session_t *s = osc_default_own;
	osc_default_own    = NULL;
	if (osc_default == s) {
		osc_default = NULL;
	}
	pthread_mutex_unlock(&osc_default_mu);
	oscar_session_close(&s, NULL);
}

int oscar_session_default(oscar_session_t **sp, oscar_error_t *err)
{
	int rv = 0;
	pthread_mutex_lock(&osc_default_mu);
	if (osc_default == NULL) {
		oscar_session_t *s;
		if ((rv = oscar_session_new_local(&s, NULL, err)) == 0) {
			osc_default     = s;
			osc_default_own = s;
			if (!osc_exit_hooked) {
				osc_exit_hooked = true;
				atexit(osc_default_at_exit);
			}
		}
	}
	*sp = osc_default;
	pthread_mutex_unlock(&osc_default_mu);
	return (rv);
}

void oscar_session_set_default(oscar_session_t *s)
{
	pthread_mutex_lock(&osc_default_mu);
	osc_default = s;
	pthread_mutex_unlock(&osc_default_mu);
}

// osc_resolve gives s, or the default session when s is NULL.
static int osc_resolve(oscar_session_t **s, oscar_error_t *err)
{
	if (*s != NULL) {
		return (0);
	}
	return (oscar_session_default(s, err));
}

const char *oscar_session_address(const oscar_session_t *s)
{
	return (s->address);
}

const char *oscar_session_id(const oscar_session_t *s)
{
	return (s->id);
}

oscar_pool_t *oscar_session_pool(oscar_session_t *s)
{
	return (s->pool);
}

int64_t oscar_session_local_pid(const oscar_session_t *s, unsigned i)
{
	return (s->lc != NULL ? oscar_local_worker_pid(s->lc, i) : -1);
}

// ---------------------------------------------------------------------------
// Calls and graphs

static void osc_graph_unref(oscar_session_t *s, osc_graph_t *g)
{
	if (g == NULL || --g->refs > 0) {
		return;
	}
	if (g->status == OSC_G_RUNNING && !s->closed && !s->gone && s->pool != NULL) {
		// Nothing of the client needs it any more: stop it.
		oscar_graph_delete(s->pool, s->address, s->id, g->id, s->timeout_ms, NULL);
	}
	if (g->prev != NULL) {
		g->prev->next = g->next;
	} else {
		s->graphs = g->next;
	}
	if (g->next != NULL) {
		g->next->prev = g->prev;
	}
	free(g);
}

// osc_output_key writes the key of output i of call c.
static void osc_output_key(const osc_call_t *c, unsigned i, char *buf, size_t size)
{
	if (c->n_output == 1) {
		snprintf(buf, size, "%s", c->key);
	} else {
		snprintf(buf, size, "%s#%u", c->key, i);
	}
}

// osc_count changes the cluster's counts of the outputs of calls[0..n) by
// one each (up or down), in one call.
static int osc_count(
    oscar_session_t *s, osc_call_t *const *calls, size_t n, bool up, oscar_error_t *err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += calls[i]->n_output;
	}
	if (total == 0) {
		return (0);
	}
	char **keys = calloc(total, sizeof(char *));
	char  *buf  = calloc(total, OSCAR_TASK_KEY_MAX + 12);
	int    rv;
	if (keys == NULL || buf == NULL) {
		free(keys);
		free(buf);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		for (unsigned o = 0; o < calls[i]->n_output; o++) {
			keys[k] = buf + k * (OSCAR_TASK_KEY_MAX + 12);
			osc_output_key(calls[i], o, keys[k], OSCAR_TASK_KEY_MAX + 12);
			k++;
		}
	}
	if (up) {
		rv = oscar_lifecycle_incref(s->pool, s->address, s->id, (const char *const *) keys,
		    NULL, total, s->timeout_ms, err);
	} else {
		rv = oscar_lifecycle_decref(s->pool, s->address, s->id, (const char *const *) keys,
		    NULL, total, s->timeout_ms, NULL, err);
	}
	free(keys);
	free(buf);
	return (rv);
}

// osc_release_flush gives back the queued released keys in one decref.
// Errors are left: the session's deletion releases all anyway.
static void osc_release_flush(oscar_session_t *s)
{
	if (s->n_released == 0) {
		return;
	}
	if (!s->closed && !s->gone && s->pool != NULL) {
		const char **keys = calloc(s->n_released, sizeof(*keys));
		if (keys != NULL) {
			for (size_t i = 0; i < s->n_released; i++) {
				keys[i] = s->released[i];
			}
			oscar_lifecycle_decref(s->pool, s->address, s->id, keys, NULL,
			    s->n_released, s->timeout_ms, NULL, NULL);
			free(keys);
		}
	}
	s->n_released = 0;
}

// osc_release_queue queues the keys of c's outputs to be given back.
static void osc_release_queue(oscar_session_t *s, osc_call_t *c)
{
	if (s->n_released + c->n_output > s->cap_released) {
		size_t cap = s->cap_released * 2;
		cap        = cap >= s->n_released + c->n_output ? cap : s->n_released + c->n_output;
		cap        = cap >= 64 ? cap : 64;
		void *p    = realloc(s->released, cap * sizeof(*s->released));
		if (p == NULL) {
			// Out of memory: give back what waits, and c's at once.
			osc_release_flush(s);
			osc_count(s, &c, 1, false, NULL);
			return;
		}
		s->released     = p;
		s->cap_released = cap;
	}
	if (s->n_released == 0) {
		s->released_at = osc_now_ms();
	}
	for (unsigned o = 0; o < c->n_output; o++) {
		osc_output_key(c, o, s->released[s->n_released++], OSC_OBJKEY_MAX);
	}
	if (s->n_released >= OSC_RELEASE_BATCH) {
		osc_release_flush(s);
	}
}

static void osc_call_unref(oscar_session_t *s, osc_call_t *c);

// osc_call_drop_inputs lets go of c's inputs.
static void osc_call_drop_inputs(oscar_session_t *s, osc_call_t *c)
{
	osc_call_t **in = c->inputs;
	size_t       n  = c->n_inputs;
	c->inputs       = NULL;
	c->n_inputs     = 0;
	for (size_t i = 0; i < n; i++) {
		osc_call_unref(s, in[i]);
	}
	free(in);
}

static void osc_call_unref(oscar_session_t *s, osc_call_t *c)
{
	if (--c->refs > 0) {
		return;
	}
	if (c->counted && !s->closed && !s->gone && s->pool != NULL) {
		osc_release_queue(s, c);
	}
	osc_strmap_del(&s->calls, c->key);
	osc_call_drop_inputs(s, c);
	osc_graph_unref(s, c->graph);
	oscar_value_free(c->args);
	oscar_value_free(c->outs);
	free(c->where);
	free(c);
}

// osc_fn_ok tells whether fn is a task function's name.
static bool osc_fn_ok(const char *fn)
{
	size_t n = fn != NULL ? strlen(fn) : 0;
	if (n == 0 || n >= 64) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		char ch = fn[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
		        ch == '-')) {
			return (false);
		}
	}
	return (true);
}

typedef struct osc_inputs {
	oscar_session_t *s;
	osc_call_t     **v;
	size_t           n, cap;
	oscar_error_t   *err;
} osc_inputs_t;

// osc_input_cb finds the call a reference in arguments points to.
static int osc_input_cb(void *arg, const oscar_value_t *ref)
{
	osc_inputs_t *in = arg;
	const char   *key;
	int64_t       output;
	char          name[OSCAR_REF_NAME_MAX];
	char          base[OSCAR_TASK_KEY_MAX];
	if (oscar_value_get_ref(ref, &key, NULL, &output) != 0 ||
	    oscar_value_ref_name(ref, name, sizeof(name)) != 0) {
		return (oscar_error_set(
		    in->err, OSCAR_EINVAL, "a malformed reference in the arguments"));
	}
	// "k#1" names output 1 of k.
	const char *hash = strchr(key, '#');
	size_t      len  = hash != NULL ? (size_t) (hash - key) : strlen(key);
	if (len >= sizeof(base)) {
		len = sizeof(base) - 1;
	}
	memcpy(base, key, len);
	base[len]     = '\0';
	osc_call_t *c = osc_strmap_get(&in->s->calls, base);
	if (c == NULL) {
		return (oscar_error_set(in->err, OSCAR_EINVAL,
		    "an argument refers to %s, which is not an object of session %s (an object of "
		    "another session, or one released?)",
		    name, in->s->id));
	}
	for (size_t i = 0; i < in->n; i++) {
		if (in->v[i] == c) {
			return (0);
		}
	}
	if (in->n == in->cap) {
		size_t       cap = in->cap != 0 ? 2 * in->cap : 4;
		osc_call_t **v   = realloc(in->v, cap * sizeof(*v));
		if (v == NULL) {
			return (oscar_error_set(in->err, OSCAR_ENOMEM, "out of memory"));
		}
		in->v   = v;
		in->cap = cap;
	}
	in->v[in->n++] = c;
	return (0);
}

// osc_make_key derives the key of a call: for a pure one, from the call
// alone; for an impure one, at random.
static int osc_make_key(oscar_session_t *s, const char *fn, const oscar_value_t *args,
    unsigned n_output, bool pure, char *key, size_t size, oscar_error_t *err)
{
	char hex[OSCAR_VALUE_HASH_HEX];
	if (pure) {
		oscar_value_t *call = oscar_value_new_array(3);
		int rv = call != NULL ? oscar_value_array_push(call, oscar_value_new_str(fn))
		                      : OSCAR_ENOMEM;
		rv     = rv != 0
		             ? rv
		             : oscar_value_array_push(call,
                               args != NULL ? oscar_value_copy(args) : oscar_value_new_array(0));
		rv = rv != 0 ? rv : oscar_value_array_push(call, oscar_value_new_uint(n_output));
		rv = rv != 0 ? rv : oscar_value_hash_hex(call, hex);
		oscar_value_free(call);
		if (rv != 0) {
			return (oscar_error_set(
			    err, rv, "cannot hash the call's arguments: %s", oscar_strerror(rv)));
		}
	} else {
		uint8_t *r = s->keyseed;
		if (!s->keyseed_ok) {
			if (getrandom(r, sizeof(s->keyseed), 0) != (ssize_t) sizeof(s->keyseed)) {
				return (oscar_error_set(
				    err, OSCAR_ESYSTEM, "getrandom: %s", strerror(errno)));
			}
			s->keyseed_ok = true;
		}
		// The next key: the low 8 bytes counted up.
		for (size_t i = sizeof(s->keyseed); i-- > sizeof(s->keyseed) - 8;) {
			if (++r[i] != 0) {
				break;
			}
		}
		static const char digits[] = "0123456789abcdef";
		for (size_t i = 0; i < sizeof(s->keyseed); i++) {
			hex[2 * i]     = digits[r[i] >> 4];
			hex[2 * i + 1] = digits[r[i] & 15];
		}
		hex[2 * sizeof(s->keyseed)] = '\0';
	}
	snprintf(key, size, "%s-%s", fn, hex);
	return (0);
}

// osc_object_new makes an object for output i of c, holding c and s.
static oscar_object_t *osc_object_new(oscar_session_t *s, osc_call_t *c, unsigned i)
{
	oscar_object_t *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		return (NULL);
	}
	o->s      = s;
	o->call   = c;
	o->output = i;
	osc_output_key(c, i, o->key, sizeof(o->key));
	c->refs++;
	s->refs++;
	return (o);
}

// osc_spawn_locked is oscar_spawn with s resolved and locked.
static int osc_spawn_locked(oscar_session_t *s, const char *fn, oscar_value_t *args,
    unsigned n_output, bool pure, oscar_object_t **outs, oscar_error_t *err)
{
	osc_inputs_t in = { .s = s, .err = err };
	char         key[OSCAR_TASK_KEY_MAX];
	int          rv;

	if (s->closed) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed", s->id));
	}
	if (!osc_fn_ok(fn)) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "'%s' is not a task function's name (1 to 63 of [A-Za-z0-9_.:-])",
		    fn != NULL ? fn : "(null)"));
	}
	if (n_output > OSCAR_TASK_OUTPUT_MAX) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "n_output must be 1 to %d, not %u",
		    OSCAR_TASK_OUTPUT_MAX, n_output));
	}
	if (args != NULL && (rv = oscar_value_walk_refs(args, osc_input_cb, &in)) != 0) {
		free(in.v);
		oscar_value_free(args);
		if (rv == OSCAR_EINVAL && err != NULL && err->code != OSCAR_EINVAL) {
			oscar_error_set(err, rv, "the arguments nest too deep");
		}
		return (rv);
	}
	if ((rv = osc_make_key(s, fn, args, n_output, pure, key, sizeof(key), err)) != 0) {
		free(in.v);
		oscar_value_free(args);
		return (rv);
	}
	osc_call_t *c = osc_strmap_get(&s->calls, key);
	if (c != NULL) {
		// The same pure call: one more object of it.
		free(in.v);
		oscar_value_free(args);
	} else {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			free(in.v);
			oscar_value_free(args);
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
		snprintf(c->key, sizeof(c->key), "%s", key);
		snprintf(c->fn, sizeof(c->fn), "%s", fn);
		c->args     = args;
		c->n_output = n_output;
		c->pure     = pure;
		c->inputs   = in.v;
		c->n_inputs = in.n;
		if (osc_strmap_put(&s->calls, c->key, c, NULL) != 0) {
			free(in.v);
			oscar_value_free(args);
			free(c);
			return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
		}
		for (size_t i = 0; i < in.n; i++) {
			in.v[i]->refs++;
		}
	}
	// The objects hold c; a new c with no object yet holds itself
	// meanwhile.
	c->refs++;
	size_t made = 0;
	for (; made < n_output; made++) {
		if ((outs[made] = osc_object_new(s, c, (unsigned) made)) == NULL) {
			break;
		}
	}
	if (made < n_output) {
		for (size_t i = 0; i < made; i++) {
			s->refs--;
			c->refs--;
			free(outs[i]);
			outs[i] = NULL;
		}
		osc_call_unref(s, c);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	c->refs--;
	return (0);
}

int oscar_spawn(oscar_session_t *s, const char *fn, oscar_value_t *args,
    const oscar_spawn_opts_t *opts, oscar_object_t **outs, oscar_error_t *err)
{
	unsigned n_output = opts != NULL && opts->n_output > 0 ? opts->n_output : 1;
	bool     pure     = opts != NULL && opts->pure;
	int      rv;
	if (outs == NULL) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no place for the objects"));
	}
	if ((rv = osc_resolve(&s, err)) != 0) {
		oscar_value_free(args);
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	rv = osc_spawn_locked(s, fn, args, n_output, pure, outs, err);
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

oscar_value_t *oscar_object_ref(const oscar_object_t *o)
{
	return (o != NULL ? oscar_value_new_ref(o->key) : NULL);
}

const char *oscar_object_key(const oscar_object_t *o)
{
	return (o->key);
}

oscar_session_t *oscar_object_session(const oscar_object_t *o)
{
	return (o->s);
}

void oscar_object_free(oscar_object_t **op)
{
	if (op == NULL || *op == NULL) {
		return;
	}
	oscar_object_t  *o = *op;
	oscar_session_t *s = o->s;
	*op                = NULL;
	pthread_mutex_lock(&s->mu);
	osc_call_unref(s, o->call);
	if (s->n_released > 0 && osc_now_ms() - s->released_at >= OSC_RELEASE_MS) {
		osc_release_flush(s);
	}
	pthread_mutex_unlock(&s->mu);
	free(o);
	osc_session_unref(s);
}

// osc_check_objects checks that objs[0..n) are objects of one open
// session, *s when it is given, and gives it in *s.
static int osc_check_objects(
    oscar_session_t **s, oscar_object_t *const *objs, size_t n, oscar_error_t *err)
{
	if (n == 0 || objs == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no objects given"));
	}
	for (size_t i = 0; i < n; i++) {
		if (objs[i] == NULL) {
			return (oscar_error_set(err, OSCAR_EINVAL, "object #%zu is NULL", i));
		}
	}
	oscar_session_t *want = *s != NULL ? *s : objs[0]->s;
	for (size_t i = 0; i < n; i++) {
		if (objs[i]->s != want) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "object %s belongs to session %s, not to session %s", objs[i]->key,
			    objs[i]->s->id, want->id));
		}
	}
	*s = want;
	return (0);
}

// osc_collect adds to *v the calls c depends on, c included, that have
// not been executed, each once.
static int osc_collect(
    oscar_session_t *s, osc_call_t *c, osc_call_t ***v, size_t *n, size_t *cap, uint64_t mark)
{
	if (c->graph != NULL || c->mark == mark) {
		return (0);
	}
	c->mark = mark;
	for (size_t i = 0; i < c->n_inputs; i++) {
		int rv = osc_collect(s, c->inputs[i], v, n, cap, mark);
		if (rv != 0) {
			return (rv);
		}
	}
	if (*n == *cap) {
		size_t       nc = *cap != 0 ? 2 * *cap : 16;
		osc_call_t **nv = realloc(*v, nc * sizeof(*nv));
		if (nv == NULL) {
			return (OSCAR_ENOMEM);
		}
		*v   = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = c;
	return (0);
}

static void osc_graph_ended(
    oscar_session_t *s, osc_graph_t *g, const oscar_value_t *info, bool released);

// osc_submit_locked submits every call objs depend on that has not been
// executed, as one graph, in one call to the cluster: with it go the
// counts of the new outputs (incref), the releases waiting (decref), and
// which outputs the client wants back (the objects'). With wait_ms >= 0
// the call also waits up to wait_ms for the graph's end (keeping the
// session's lock: a short wait), and *ended tells whether it saw it.
static int osc_submit_locked(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    int64_t wait_ms, bool *ended, oscar_error_t *err)
{
	osc_call_t **v  = NULL;
	size_t       nv = 0, cap = 0;
	int          rv = 0;

	if (ended != NULL) {
		*ended = false;
	}
	if (s->closed) {
		return (oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed", s->id));
	}
	uint64_t mark = ++s->marks;
	for (size_t i = 0; i < n && rv == 0; i++) {
		rv = osc_collect(s, objs[i]->call, &v, &nv, &cap, mark);
	}
	if (rv != 0) {
		free(v);
		return (oscar_error_set(err, rv, "out of memory"));
	}
	if (nv == 0) {
		return (0);
	}
	// The objects' calls are wanted: their mark is one more.
	uint64_t want = ++s->marks;
	for (size_t i = 0; i < n; i++) {
		objs[i]->call->mark = want;
	}
	size_t total = 0;
	for (size_t i = 0; i < nv; i++) {
		total += v[i]->n_output;
	}
	osc_graph_t   *g     = calloc(1, sizeof(*g));
	oscar_value_t *graph = oscar_value_new_array(nv);
	char         **keys  = calloc(total + 1, sizeof(char *));
	char          *kbuf  = calloc(total + 1, OSC_OBJKEY_MAX);
	const char   **rel   = calloc(s->n_released + 1, sizeof(char *));
	if (g == NULL || graph == NULL || keys == NULL || kbuf == NULL || rel == NULL) {
		rv = OSCAR_ENOMEM;
	}
	for (size_t i = 0, k = 0; i < nv && rv == 0; i++) {
		oscar_value_t *a = v[i]->args != NULL ? oscar_value_copy(v[i]->args) : NULL;
		if (v[i]->args != NULL && a == NULL) {
			rv = OSCAR_ENOMEM;
			break;
		}
		// A task as an array, [key, fn, args, n_output, pure, want]
		// (docs/services/task.md): the map's six names cost as much again
		// to build and to decode. Built in place in the graph.
		oscar_value_t *t = osc_vb_push_array(graph, 6);
		rv               = t != NULL ? 0 : OSCAR_ENOMEM;
		rv               = rv != 0 ? rv : osc_vb_push_str(t, v[i]->key);
		rv               = rv != 0 ? rv : osc_vb_push_str(t, v[i]->fn);
		if (rv == 0) {
			rv = a != NULL                         ? osc_vb_push_move(t, a)
			     : osc_vb_push_array(t, 0) != NULL ? 0
			                                       : OSCAR_ENOMEM;
		}
		oscar_value_free(a); // nil once moved: its shell only
		rv = rv != 0 ? rv : osc_vb_push_uint(t, v[i]->n_output != 0 ? v[i]->n_output : 1);
		rv = rv != 0 ? rv : osc_vb_push_bool(t, v[i]->pure);
		rv = rv != 0 ? rv : osc_vb_push_bool(t, v[i]->mark == want);
		for (unsigned o = 0; rv == 0 && o < v[i]->n_output; o++, k++) {
			keys[k] = kbuf + k * OSC_OBJKEY_MAX;
			osc_output_key(v[i], o, keys[k], OSC_OBJKEY_MAX);
		}
	}
	if (rv != 0) {
		free(g);
		free(v);
		free(keys);
		free(kbuf);
		free(rel);
		oscar_value_free(graph);
		return (oscar_error_set(err, rv, "out of memory"));
	}
	// The releases waiting go with it: the cluster counts the new
	// outputs first, so that a call made again after its release keeps
	// its outputs.
	size_t n_rel = s->closed || s->gone || s->pool == NULL ? 0 : s->n_released;
	for (size_t i = 0; i < n_rel; i++) {
		rel[i] = s->released[i];
	}
	oscar_graph_run_opts_t opts = {
		.incref   = (const char *const *) keys,
		.n_incref = total,
		.decref   = rel,
		.n_decref = n_rel,
		.wait     = wait_ms >= 0,
		.wait_ms  = wait_ms >= 0 ? wait_ms : 0,
		.outputs  = true,
		.release  = true,
	};
	oscar_value_t *info = NULL;
	rv = oscar_graph_submit_run(s->pool, s->address, s->id, graph, NULL, &opts, g->id,
	    sizeof(g->id), s->timeout_ms, &info, err);
	// Given back, whatever the answer (as osc_release_flush does).
	s->n_released = 0;
	free(keys);
	free(kbuf);
	free(rel);
	if (rv != 0) {
		free(g);
		free(v);
		return (rv);
	}
	g->n_tasks = nv;
	g->next    = s->graphs;
	if (s->graphs != NULL) {
		s->graphs->prev = g;
	}
	s->graphs = g;
	for (size_t i = 0; i < nv; i++) {
		v[i]->graph   = g;
		v[i]->counted = true;
		g->refs++;
		oscar_value_free(v[i]->args);
		v[i]->args = NULL;
	}
	free(v);
	if (info != NULL) {
		// It ended within the wait: the cluster forgot it (release).
		g->refs++;
		osc_graph_ended(s, g, info, true);
		oscar_value_free(info);
		if (ended != NULL) {
			*ended = g->status != OSC_G_RUNNING;
		}
		osc_graph_unref(s, g);
	}
	return (0);
}

int oscar_execute_start(
    oscar_session_t *s, oscar_object_t *const *objs, size_t n, oscar_error_t *err)
{
	int rv = osc_check_objects(&s, objs, n, err);
	if (rv != 0) {
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	rv = osc_submit_locked(s, objs, n, -1, NULL, err);
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

// osc_graph_outputs records what info's outputs ([[task key, worker|nil,
// [value...]|nil]...]) say of the calls of g: where their outputs are,
// and their values. Out of memory, a call learns nothing: a fetch then
// asks meta.
static void osc_graph_outputs(oscar_session_t *s, osc_graph_t *g, const oscar_value_t *info)
{
	const oscar_value_t *outs = oscar_value_map_get(info, "outputs");
	for (size_t i = 0; outs != NULL && outs->type == OSCAR_ARRAY && i < oscar_value_len(outs);
	     i++) {
		const oscar_value_t *item = oscar_value_at(outs, i);
		const char          *key  = oscar_value_at_str(item, 0);
		const char          *w    = oscar_value_at_str(item, 1);
		const oscar_value_t *vals = oscar_value_at(item, 2);
		osc_call_t          *c    = key != NULL ? osc_strmap_get(&s->calls, key) : NULL;
		if (c == NULL || c->graph != g || w == NULL || c->where != NULL) {
			continue;
		}
		c->where = strdup(w);
		if (c->where != NULL && vals != NULL && vals->type == OSCAR_ARRAY &&
		    oscar_value_len(vals) == c->n_output) {
			c->outs = oscar_value_copy(vals);
		}
	}
}

// osc_graph_ended records what the info map of an ended graph says and
// deletes the graph on the cluster, unless the cluster did already
// (released: the wait that answered asked it to).
static void osc_graph_ended(
    oscar_session_t *s, osc_graph_t *g, const oscar_value_t *info, bool released)
{
	const char *status = oscar_value_map_str(info, "status");
	if (g->status != OSC_G_RUNNING || status == NULL || strcmp(status, "running") == 0) {
		return;
	}
	if (strcmp(status, "done") == 0) {
		g->status = OSC_G_DONE;
	} else if (strcmp(status, "cancelled") == 0) {
		g->status = OSC_G_CANCELLED;
		oscar_error_set(&g->error, OSCAR_ECANCELED, "graph %s was cancelled", g->id);
	} else {
		g->status                 = OSC_G_FAILED;
		const oscar_value_t *e    = oscar_value_map_get(info, "error");
		const char          *m    = oscar_value_map_str(e, "message");
		const char          *k    = oscar_value_map_str(e, "key");
		const char          *fn   = oscar_value_map_str(e, "fn");
		const char          *w    = oscar_value_map_str(e, "worker");
		int64_t              code = oscar_value_map_int(e, "code", OSCAR_EAPP);
		int64_t              sig  = oscar_value_map_int(e, "signal", 0);
		char                 where[OSCAR_ADDR_MAX + 32] = "";
		if (w != NULL && *w != '\0') {
			snprintf(where, sizeof(where), " on worker %s", w);
		}
		char signal_text[32] = "";
		if (sig > 0) {
			snprintf(signal_text, sizeof(signal_text), " (signal %d)", (int) sig);
		}
		int c = code > 0 && code <= INT_MAX ? (int) code : OSCAR_EAPP;
		if (m != NULL && k != NULL && strstr(m, k) != NULL) {
			// The message names the task already.
			oscar_error_set(&g->error, c, "%s (on worker %s%s)", m,
			    w != NULL && *w != '\0' ? w : "?", signal_text);
		} else {
			oscar_error_set(&g->error, c, "task %s (%s) failed%s%s: %s",
			    k != NULL ? k : "?", fn != NULL ? fn : "?", where, signal_text,
			    m != NULL ? m : "no message");
		}
	}
	osc_graph_outputs(s, g, info);
	// The calls of the graph need their inputs no more.
	const osc_strmap_item_t *it = NULL;
	while ((it = osc_strmap_next(&s->calls, it)) != NULL) {
		osc_call_t *c = it->value;
		if (c->graph == g && c->n_inputs > 0) {
			// Dropping inputs may free calls, changing the map: start
			// the walk again.
			osc_call_drop_inputs(s, c);
			it = NULL;
		}
	}
	if (!released) {
		oscar_graph_delete(s->pool, s->address, s->id, g->id, s->timeout_ms, NULL);
	}
}

// osc_supervisor_gone tells, for a session on a local cluster it owns,
// whether the supervisor has exited.
static bool osc_supervisor_gone(oscar_session_t *s, oscar_error_t *why)
{
	if (s->lc == NULL) {
		return (false);
	}
	int rv = oscar_local_wait(s->lc, 0, why);
	return (rv == 0 || rv == OSCAR_ESYSTEM);
}

typedef struct osc_bar {
	int  last; // last tenth or percent drawn, -1 before
	bool tty;
} osc_bar_t;

static void osc_bar_draw(osc_bar_t *b, double f)
{
	fflush(stdout); // what the program printed comes first
	int pct = (int) (f * 100.0 + 0.5);
	if (b->tty) {
		if (pct == b->last) {
			return;
		}
		b->last    = pct;
		int  width = 40, fill = (int) (f * width + 0.5);
		char line[64];
		for (int i = 0; i < width; i++) {
			line[i] = i < fill ? '#' : '.';
		}
		line[width] = '\0';
		fprintf(stderr, "\r[%s] %3d%%%s", line, pct, pct >= 100 ? "\n" : "");
	} else {
		int tenth = pct / 10;
		if (tenth <= b->last) {
			return;
		}
		b->last = tenth;
		fprintf(stderr, "progress: %d%%\n", tenth * 10);
	}
	fflush(stderr);
}

void oscar_progress_bar(void *arg, double fraction)
{
	static _Thread_local osc_bar_t bar = { .last = -1 };
	static _Thread_local bool      init;
	(void) arg;
	if (!init || fraction < 0.0001) {
		init     = true;
		bar.last = -1;
		bar.tty  = isatty(2) != 0;
	}
	osc_bar_draw(&bar, fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
}

// osc_wait_graphs waits for graphs[0..n) until deadline (INT64_MAX: none),
// unlocking s between slices, and reporting progress.
static int osc_wait_graphs(oscar_session_t *s, osc_graph_t **graphs, size_t n, int64_t deadline,
    const oscar_exec_opts_t *opts, oscar_error_t *err)
{
	bool     report = opts != NULL && (opts->progress != NULL || opts->progress_bar);
	int64_t  slice  = report ? OSC_PROGRESS_SLICE_MS : OSC_SLICE_MS;
	uint64_t total  = 0;
	for (size_t i = 0; i < n; i++) {
		total += graphs[i]->n_tasks;
	}
	osc_bar_t bar = { .last = -1, .tty = isatty(2) != 0 };
	for (size_t i = 0; i < n; i++) {
		osc_graph_t *g = graphs[i];
		while (g->status == OSC_G_RUNNING) {
			if (s->closed) {
				return (oscar_error_set(
				    err, OSCAR_ECLOSED, "session %s is closed", s->id));
			}
			int64_t now  = osc_now_ms();
			int64_t left = deadline - now;
			if (left <= 0) {
				return (oscar_error_set(err, OSCAR_ETIMEDOUT,
				    "graph %s still runs (it goes on; wait again to see it end)",
				    g->id));
			}
			oscar_error_t why;
			if (osc_supervisor_gone(s, &why)) {
				s->gone = true;
				return (oscar_error_set(err, OSCAR_EPEERGONE,
				    "the cluster went away while waiting: %s", why.message));
			}
			char id[OSCAR_GRAPH_ID_MAX];
			snprintf(id, sizeof(id), "%s", g->id);
			int64_t        this_slice = left < slice ? left : slice;
			oscar_value_t *info       = NULL;
			oscar_error_t  e;
			// The releases waiting go along; the graph is forgotten on
			// the cluster once its end is answered, unless another
			// thread's wait asked for that already.
			size_t       n_rel            = 0;
			const char **rel              = NULL;
			char(*relbuf)[OSC_OBJKEY_MAX] = NULL;
			if (s->n_released > 0 && !s->gone &&
			    (rel = calloc(s->n_released, sizeof(*rel))) != NULL &&
			    (relbuf = calloc(s->n_released, sizeof(*relbuf))) != NULL) {
				n_rel = s->n_released;
				memcpy(relbuf, s->released, n_rel * sizeof(*relbuf));
				for (size_t k = 0; k < n_rel; k++) {
					rel[k] = relbuf[k];
				}
				s->n_released = 0;
			}
			bool release = !g->releasing;
			g->releasing = true;
			g->refs++; // kept while unlocked
			s->waiters++;
			pthread_mutex_unlock(&s->mu);
			int rv = oscar_graph_wait_outputs(s->pool, s->address, s->id, id,
			    this_slice, rel, n_rel, release, &info, &e);
			free(rel);
			free(relbuf);
			int64_t        took  = osc_now_ms() - now;
			oscar_value_t *pinfo = NULL;
			if (rv == OSCAR_ETIMEDOUT && report) {
				static const char *const fields[] = { "progress", "counts", NULL };
				oscar_graph_info(s->pool, s->address, s->id, id, fields,
				    s->timeout_ms, &pinfo, NULL);
			}
			pthread_mutex_lock(&s->mu);
			--s->waiters;
			if (release) {
				g->releasing = false;
			}
			if (rv == 0 && !s->closed) {
				osc_graph_ended(s, g, info, release);
			}
			// Waits of other threads look again (see below).
			pthread_cond_broadcast(&s->idle);
			if (rv == OSCAR_ENOENT && !release) {
				// The wait of another thread that released the graph
				// was answered first: its end is recorded once that
				// thread has the lock again.
				while (g->status == OSC_G_RUNNING && g->releasing && !s->closed) {
					pthread_cond_wait(&s->idle, &s->mu);
				}
				if (g->status != OSC_G_RUNNING) {
					rv = 0;
				}
			}
			oscar_value_free(info);
			if (pinfo != NULL && total > 0) {
				// Tasks ended in the graphs before this one, and this one's.
				uint64_t ended = 0;
				for (size_t j = 0; j < i; j++) {
					ended += graphs[j]->n_tasks;
				}
				ended += (uint64_t) (oscar_value_map_float(pinfo, "progress", 0) *
				                     (double) g->n_tasks);
				double f = (double) ended / (double) total;
				if (opts->progress != NULL) {
					opts->progress(opts->progress_arg, f);
				}
				if (opts->progress_bar) {
					osc_bar_draw(&bar, f);
				}
			}
			oscar_value_free(pinfo);
			bool closed_meanwhile = s->closed;
			osc_graph_unref(s, g);
			if (closed_meanwhile) {
				return (oscar_error_set(
				    err, OSCAR_ECLOSED, "session %s is closed", s->id));
			}
			if (rv == OSCAR_ETIMEDOUT && took > this_slice + OSC_ANSWER_GRACE_MS) {
				s->gone = true;
				return (oscar_error_set(err, OSCAR_EPEERGONE,
				    "the cluster went away while waiting: the supervisor at %s did "
				    "not "
				    "answer within %lld ms",
				    s->address, (long long) took));
			}
			if (rv != 0 && rv != OSCAR_ETIMEDOUT) {
				if (rv == OSCAR_EPEERGONE || rv == OSCAR_ECONNREFUSED ||
				    rv == OSCAR_ECLOSED) {
					s->gone = true;
					return (oscar_error_set(err, OSCAR_EPEERGONE,
					    "the cluster went away while waiting: %s", e.message));
				}
				if (err != NULL) {
					*err = e;
				}
				return (rv);
			}
		}
	}
	if (opts != NULL && total > 0) {
		if (opts->progress != NULL) {
			opts->progress(opts->progress_arg, 1.0);
		}
		if (opts->progress_bar) {
			osc_bar_draw(&bar, 1.0);
		}
	}
	// The first failure among them.
	for (size_t i = 0; i < n; i++) {
		if (graphs[i]->status != OSC_G_DONE) {
			if (err != NULL) {
				*err = graphs[i]->error;
			}
			return (graphs[i]->error.code != 0 ? graphs[i]->error.code : OSCAR_EAPP);
		}
	}
	return (0);
}

// osc_wait_locked waits for the graphs objs were executed in.
static int osc_wait_locked(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    int64_t timeout_ms, const oscar_exec_opts_t *opts, oscar_error_t *err)
{
	if (s->closed) {
		return (oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed", s->id));
	}
	osc_graph_t **graphs = calloc(n, sizeof(*graphs));
	size_t        ng     = 0;
	if (graphs == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < n; i++) {
		osc_graph_t *g = objs[i]->call->graph;
		if (g == NULL) {
			free(graphs);
			return (oscar_error_set(err, OSCAR_ESTATE,
			    "object %s (%s) was never executed: execute it first", objs[i]->key,
			    objs[i]->call->fn));
		}
		size_t j = 0;
		while (j < ng && graphs[j] != g) {
			j++;
		}
		if (j == ng) {
			graphs[ng++] = g;
		}
	}
	// Held while the waits unlock the session.
	for (size_t i = 0; i < ng; i++) {
		graphs[i]->refs++;
	}
	int64_t deadline = timeout_ms < 0
	                       ? INT64_MAX
	                       : osc_now_ms() + (timeout_ms > 0 ? timeout_ms : s->timeout_ms);
	int     rv       = osc_wait_graphs(s, graphs, ng, deadline, opts, err);
	for (size_t i = 0; i < ng; i++) {
		osc_graph_unref(s, graphs[i]);
	}
	free(graphs);
	return (rv);
}

int oscar_wait(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_exec_opts_t *opts, oscar_error_t *err)
{
	int rv = osc_check_objects(&s, objs, n, err);
	if (rv != 0) {
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	rv = osc_wait_locked(s, objs, n, opts != NULL ? opts->timeout_ms : 0, opts, err);
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

int oscar_execute(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_exec_opts_t *opts, oscar_error_t *err)
{
	int rv = osc_check_objects(&s, objs, n, err);
	if (rv != 0) {
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	// Without progress to report, the submission itself waits a little:
	// a small graph's end comes in the same round trip.
	bool    report = opts != NULL && (opts->progress != NULL || opts->progress_bar);
	int64_t t      = opts != NULL ? opts->timeout_ms : 0;
	if (t <= 0 || t > OSC_SUBMIT_WAIT_MS) {
		t = OSC_SUBMIT_WAIT_MS;
	}
	rv = osc_submit_locked(s, objs, n, report ? -1 : t, NULL, err);
	if (rv == 0) {
		rv = osc_wait_locked(s, objs, n, opts != NULL ? opts->timeout_ms : 0, opts, err);
	}
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

// ---------------------------------------------------------------------------
// Fetch

// osc_remote tells whether a worker's address is on another machine, where
// compression pays.
static bool osc_remote(const char *addr)
{
	return (strncmp(addr, "ipc://", 6) != 0 && strncmp(addr, "inproc://", 9) != 0 &&
	        strstr(addr, "://127.") == NULL && strstr(addr, "://[::1]") == NULL &&
	        strstr(addr, "://localhost") == NULL);
}

// osc_fetch_locked reads the values of objs: those the end of their graph
// gave (small outputs) at once, the others from the workers that hold
// them, known from that end too or else asked of meta (one lookup), with
// one storage get per worker.
static int osc_fetch_locked(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_storage_slice_t *const *slices, oscar_value_t **values, oscar_error_t *err)
{
	static const char *const      fields[] = { "workers", NULL };
	oscar_value_t                *entries  = NULL;
	const char                  **keys     = NULL;
	const char                  **where    = NULL;
	const char                  **wkeys    = NULL;
	const oscar_storage_slice_t **wslices  = NULL;
	size_t                       *widx     = NULL;
	bool                         *taken    = NULL;
	size_t                        nask     = 0;
	int                           rv       = 0;

	if (s->closed) {
		return (oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed", s->id));
	}
	for (size_t i = 0; i < n; i++) {
		osc_call_t *c = objs[i]->call;
		if (c->graph == NULL) {
			return (oscar_error_set(err, OSCAR_ESTATE,
			    "cannot fetch an object that was never executed: %s (%s)", objs[i]->key,
			    c->fn));
		}
	}
	keys    = calloc(n, sizeof(*keys));
	where   = calloc(n, sizeof(*where));
	wkeys   = calloc(n, sizeof(*wkeys));
	wslices = calloc(n, sizeof(*wslices));
	widx    = calloc(n, sizeof(*widx));
	taken   = calloc(n, sizeof(*taken));
	if (keys == NULL || where == NULL || wkeys == NULL || wslices == NULL || widx == NULL ||
	    taken == NULL) {
		rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		values[i] = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		osc_call_t *c = objs[i]->call;
		if (c->outs != NULL && (slices == NULL || slices[i] == NULL)) {
			// Small: it came with the end of its graph.
			values[i] = oscar_value_copy(oscar_value_at(c->outs, objs[i]->output));
			if (values[i] == NULL) {
				rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
				goto done;
			}
			taken[i] = true;
			continue;
		}
		if (c->where != NULL) {
			where[i] = c->where;
			continue;
		}
		keys[nask++] = objs[i]->key;
	}
	// A call to the cluster gives back the releases waiting first.
	bool call = nask > 0;
	for (size_t i = 0; !call && i < n; i++) {
		call = !taken[i];
	}
	if (call) {
		osc_release_flush(s);
	}
	if (nask > 0) {
		rv = oscar_meta_get(s->pool, s->address, s->id, keys, nask, fields, true,
		    s->timeout_ms, &entries, err);
		if (rv != 0) {
			goto done;
		}
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		if (taken[i] || where[i] != NULL) {
			continue;
		}
		const oscar_value_t *e = oscar_value_at(entries, k++);
		where[i]               = oscar_value_at_str(oscar_value_map_get(e, "workers"), 0);
		if (where[i] == NULL) {
			osc_graph_t *g = objs[i]->call->graph;
			if (g->status == OSC_G_FAILED || g->status == OSC_G_CANCELLED) {
				if (err != NULL) {
					*err = g->error;
				}
				rv = g->error.code != 0 ? g->error.code : OSCAR_EAPP;
			} else if (g->status == OSC_G_RUNNING) {
				rv = oscar_error_set(err, OSCAR_ESTATE,
				    "%s is not computed yet (graph %s still runs): wait for it "
				    "first",
				    objs[i]->key, g->id);
			} else {
				rv = oscar_error_set(err, OSCAR_ENOENT,
				    "%s is not stored on any worker any more", objs[i]->key);
			}
			goto done;
		}
	}
	// One storage get per worker, for every object it holds first.
	for (size_t i = 0; i < n; i++) {
		if (taken[i]) {
			continue;
		}
		const char *w  = where[i];
		size_t      nw = 0;
		for (size_t j = i; j < n; j++) {
			if (!taken[j] && strcmp(where[j], w) == 0) {
				taken[j]    = true;
				wkeys[nw]   = objs[j]->key;
				wslices[nw] = slices != NULL ? slices[j] : NULL;
				widx[nw]    = j;
				nw++;
			}
		}
		oscar_value_t *out = NULL;
		rv                 = oscar_storage_get(s->pool, w, s->id, nw, wkeys, wslices,
                    osc_remote(w) ? OSCAR_STORAGE_LZ4 : 0, &out, s->timeout_ms, err);
		if (rv != 0) {
			goto done;
		}
		for (size_t k = 0; k < nw; k++) {
			values[widx[k]] = oscar_value_copy(oscar_value_at(out, k));
			if (values[widx[k]] == NULL) {
				rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
			}
		}
		oscar_value_free(out);
		if (rv != 0) {
			goto done;
		}
	}
done:
	if (rv != 0 && values != NULL) {
		for (size_t i = 0; i < n; i++) {
			oscar_value_free(values[i]);
			values[i] = NULL;
		}
	}
	oscar_value_free(entries);
	free(keys);
	free(where);
	free(wkeys);
	free(wslices);
	free(widx);
	free(taken);
	return (rv);
}

int oscar_fetch(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_storage_slice_t *const *slices, oscar_value_t **values, oscar_error_t *err)
{
	if (values == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no place for the values"));
	}
	int rv = osc_check_objects(&s, objs, n, err);
	if (rv != 0) {
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	rv = osc_fetch_locked(s, objs, n, slices, values, err);
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

// ---------------------------------------------------------------------------
// Futures

int oscar_future_submit(oscar_session_t *s, const char *fn, oscar_value_t *args,
    const oscar_spawn_opts_t *opts, oscar_future_t **fp, oscar_error_t *err)
{
	oscar_spawn_opts_t o = { .n_output = 1, .pure = true };
	if (opts != NULL) {
		o = *opts;
	}
	if (o.n_output > 1) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a future has one output: spawn calls with several (n_output %u)", o.n_output));
	}
	if (fp == NULL) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no place for the future"));
	}
	*fp    = NULL;
	int rv = osc_resolve(&s, err);
	if (rv != 0) {
		oscar_value_free(args);
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	rv = osc_spawn_locked(s, fn, args, 1, o.pure, fp, err);
	if (rv == 0 && (rv = osc_submit_locked(s, fp, 1, -1, NULL, err)) != 0) {
		pthread_mutex_unlock(&s->mu);
		oscar_object_free(fp);
		return (rv);
	}
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

int oscar_future_map(oscar_session_t *s, const char *fn, oscar_value_t *items,
    const oscar_spawn_opts_t *opts, oscar_future_t **futs, oscar_error_t *err)
{
	oscar_spawn_opts_t o = { .n_output = 1, .pure = true };
	if (opts != NULL) {
		o = *opts;
	}
	if (futs == NULL || items == NULL || items->type != OSCAR_ARRAY) {
		oscar_value_free(items);
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "map needs an array of items and a place "
		    "for the futures"));
	}
	if (o.n_output > 1) {
		oscar_value_free(items);
		return (oscar_error_set(err, OSCAR_EINVAL, "a future has one output"));
	}
	size_t n  = oscar_value_len(items);
	int    rv = osc_resolve(&s, err);
	if (rv != 0) {
		oscar_value_free(items);
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	size_t made = 0;
	for (; made < n && rv == 0; made++) {
		// The items are the call's (consumed): each moves into its args.
		oscar_value_t *args = oscar_value_new_array(1);
		if (args == NULL || osc_vb_push_move(args, &items->as.arr.items[made]) != 0) {
			oscar_value_free(args);
			rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
			break;
		}
		rv = osc_spawn_locked(s, fn, args, 1, o.pure, &futs[made], err);
		if (rv != 0) {
			break;
		}
	}
	oscar_value_free(items);
	if (rv == 0 && n > 0) {
		rv = osc_submit_locked(s, futs, n, -1, NULL, err);
	}
	pthread_mutex_unlock(&s->mu);
	if (rv != 0) {
		for (size_t i = 0; i < made; i++) {
			oscar_object_free(&futs[i]);
		}
	}
	return (rv);
}

int oscar_future_result(
    oscar_future_t *f, int64_t timeout_ms, oscar_value_t **value, oscar_error_t *err)
{
	return (oscar_future_gather(&f, 1, timeout_ms, value, err));
}

int oscar_future_gather(oscar_future_t *const *futs, size_t n, int64_t timeout_ms,
    oscar_value_t **values, oscar_error_t *err)
{
	oscar_session_t *s = NULL;
	if (values == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no place for the values"));
	}
	int rv = osc_check_objects(&s, futs, n, err);
	if (rv != 0) {
		return (rv);
	}
	oscar_exec_opts_t opts = { .timeout_ms = timeout_ms };
	pthread_mutex_lock(&s->mu);
	rv = osc_wait_locked(s, futs, n, timeout_ms, &opts, err);
	if (rv == 0) {
		rv = osc_fetch_locked(s, futs, n, NULL, values, err);
	}
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

int oscar_future_done(oscar_future_t *f, bool *done, oscar_error_t *err)
{
	oscar_session_t *s  = NULL;
	int              rv = osc_check_objects(&s, &f, 1, err);
	if (rv != 0 || done == NULL) {
		return (
		    rv != 0 ? rv : oscar_error_set(err, OSCAR_EINVAL, "no place for the answer"));
	}
	pthread_mutex_lock(&s->mu);
	osc_graph_t *g = f->call->graph;
	if (!s->closed) {
		osc_release_flush(s);
	}
	if (s->closed) {
		rv = oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed", s->id);
	} else if (g == NULL) {
		*done = false;

	} else if (g->status != OSC_G_RUNNING) {
		*done = true;
	} else {
		// Its own task may have ended (done, failed or cancelled) while
		// the rest of its graph runs.
		const char    *tkeys[] = { f->call->key };
		oscar_value_t *states  = NULL;
		rv                     = oscar_graph_task_states(
		                        s->pool, s->address, s->id, g->id, tkeys, 1, s->timeout_ms, &states, err);
		const char *st = rv == 0 ? oscar_value_map_str(states, f->call->key) : NULL;
		*done = st != NULL && (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0 ||
		                          strcmp(st, "cancelled") == 0);
		oscar_value_free(states);
		if (rv == 0 && st == NULL) {
			// Not a task of the graph (run for another one): its output
			// stored says it ended.
			static const char *const fields[] = { "workers", NULL };
			const char              *keys[]   = { f->key };
			oscar_value_t           *entries  = NULL;
			rv = oscar_meta_get(s->pool, s->address, s->id, keys, 1, fields, true,
			    s->timeout_ms, &entries, err);
			if (rv == 0) {
				*done =
				    oscar_value_at_str(
				        oscar_value_map_get(oscar_value_at(entries, 0), "workers"),
				        0) != NULL;
			}
			oscar_value_free(entries);
		}
		if (rv == 0 && !*done) {
			oscar_value_t *info = NULL;
			rv = oscar_graph_wait(s->pool, s->address, s->id, g->id, 0, &info, err);
			if (rv == 0) {
				osc_graph_ended(s, g, info, false);
				*done = true;
			} else if (rv == OSCAR_ETIMEDOUT) {
				rv = 0;
			}
			oscar_value_free(info);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

int oscar_future_cancel(oscar_future_t *f, oscar_error_t *err)
{
	oscar_session_t *s  = NULL;
	int              rv = osc_check_objects(&s, &f, 1, err);
	if (rv != 0) {
		return (rv);
	}
	pthread_mutex_lock(&s->mu);
	osc_graph_t *g = f->call->graph;
	if (s->closed) {
		rv = oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed", s->id);
	} else if (g != NULL && g->status == OSC_G_RUNNING) {
		rv = oscar_graph_cancel(s->pool, s->address, s->id, g->id, s->timeout_ms, err);
	}
	pthread_mutex_unlock(&s->mu);
	return (rv);
}

oscar_value_t *oscar_future_ref(const oscar_future_t *f)
{
	return (oscar_object_ref(f));
}

const char *oscar_future_key(const oscar_future_t *f)
{
	return (oscar_object_key(f));
}

void oscar_future_release(oscar_future_t **fp)
{
	oscar_object_free(fp);
}

// ---------------------------------------------------------------------------
// Close

int oscar_session_close(oscar_session_t **sp, oscar_error_t *err)
{
	if (sp == NULL || *sp == NULL) {
		return (0);
	}
	oscar_session_t *s = *sp;
	*sp                = NULL;
	int rv             = 0;

	pthread_mutex_lock(&osc_default_mu);
	if (osc_default == s) {
		osc_default = NULL;
	}
	if (osc_default_own == s) {
		osc_default_own = NULL;
	}
	pthread_mutex_unlock(&osc_default_mu);

	pthread_mutex_lock(&s->mu);
	if (s->closed) {
		pthread_mutex_unlock(&s->mu);
		return (oscar_error_set(err, OSCAR_ECLOSED, "session %s is closed already", s->id));
	}
	osc_release_flush(s);
	s->closed = true;
	if (s->owns_session && s->pool != NULL && !s->gone) {
		// Deleting the session releases all it holds on the cluster.
		rv = oscar_sessions_delete(s->pool, s->address, s->id, true, s->timeout_ms, err);
	}
	// A wait of another thread may be in a call: it sees the session
	// closed at the end of its slice.
	while (s->waiters > 0) {
		pthread_cond_wait(&s->idle, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->lc != NULL) {
		int srv = oscar_local_stop(&s->lc);
		if (srv != 0 && rv == 0) {
			rv = oscar_error_set(err, srv, "the local cluster did not stop cleanly: %s",
			    oscar_strerror(srv));
		}
	}
	oscar_pool_free(&s->pool);
	osc_session_unref(s);
	return (rv);
}
