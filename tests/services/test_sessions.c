// The session, meta and lifecycle services with a supervisor and two
// workers as nodes of the test process: sessions created, listed and
// deleted on every node, hooks undone when one fails, a worker that joins
// later, meta's batches and filters, lifecycle's counts, bad input and
// bounds.
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oscar/oscar.h"
#include "tests/common/proc.h"
#include "tests/common/pools.h"

#define T 20000 // the deadline of every call

static void init(void)
{
	oscar_log_setup("error", NULL);
}

TestSuite(sessions, .init = init, .timeout = 240);

// ---------------------------------------------------------------------------
// A probe service: its hooks note "<address> +<id>" and "<address> -<id>"
// in a journal, and its create hook fails on the node at fail_at for the
// session "doomed".

static pthread_mutex_t journal_mu = PTHREAD_MUTEX_INITIALIZER;
static char            journal[8192];
static char            fail_at[OSCAR_ADDR_MAX];

static void note(oscar_node_t *node, char sign, const char *id)
{
	pthread_mutex_lock(&journal_mu);
	size_t len = strlen(journal);
	snprintf(
	    journal + len, sizeof(journal) - len, "%s %c%s\n", oscar_node_address(node), sign, id);
	pthread_mutex_unlock(&journal_mu);
}

static int probe_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	(void) node;
	(void) err;
	*state = NULL;
	return (0);
}

// The session "slow" blocks the create hook on the node at slow_at until
// the test releases it (or 60 s pass).
static char           slow_at[OSCAR_ADDR_MAX];
static bool           released;
static pthread_cond_t released_cv = PTHREAD_COND_INITIALIZER;

static int probe_create(oscar_node_t *node, void *state, const char *id, oscar_error_t *err)
{
	(void) state;
	pthread_mutex_lock(&journal_mu);
	bool fail = strcmp(id, "doomed") == 0 && strcmp(oscar_node_address(node), fail_at) == 0;
	if (strcmp(id, "slow") == 0 && strcmp(oscar_node_address(node), slow_at) == 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 60;
		while (
		    !released && pthread_cond_timedwait(&released_cv, &journal_mu, &until) == 0) {
		}
	}
	pthread_mutex_unlock(&journal_mu);
	if (fail) {
		return (oscar_error_set(err, OSCAR_EUSER + 7, "the probe refuses %s", id));
	}
	note(node, '+', id);
	return (0);
}

static void probe_destroy(oscar_node_t *node, void *state, const char *id)
{
	(void) state;
	note(node, '-', id);
}

static const oscar_service_t probe = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = "probe",
	.roles           = OSCAR_ROLES_ALL,
	.start           = probe_start,
	.session_create  = probe_create,
	.session_destroy = probe_destroy,
};

// journal_count counts the lines "<address> <sign><id>".
static int journal_count(const char *address, char sign, const char *id)
{
	char line[256];
	snprintf(line, sizeof(line), "%s %c%s\n", address, sign, id);
	int n = 0;
	pthread_mutex_lock(&journal_mu);
	for (const char *p = journal; (p = strstr(p, line)) != NULL; p += strlen(line)) {
		n += p == journal || p[-1] == '\n';
	}
	pthread_mutex_unlock(&journal_mu);
	return (n);
}

// ---------------------------------------------------------------------------
// Nodes

typedef struct cluster {
	oscar_registry_t *reg;
	oscar_node_t     *sup;
	oscar_node_t     *w[2];
	size_t            n_workers;
	oscar_pool_t     *pool; // the test's client pool
	const char       *at;   // the supervisor's address
} cluster_t;

// start_cluster starts a supervisor (with the settings kv: section, key,
// value, ..., NULL) and n workers (running only worker_services when not
// NULL), every node with the probe service, and waits for the workers.
static void start_cluster(
    cluster_t *c, size_t n, const char *const *kv, const char *worker_services)
{
	oscar_error_t     err;
	oscar_settings_t *s;
	memset(c, 0, sizeof(*c));
	cr_assert_eq(oscar_registry_new(&c->reg), 0);
	cr_assert_eq(oscar_registry_add(c->reg, &probe, &err), 0, "%s", err.message);
	oscar_settings_new(&s);
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 3) {
		oscar_settings_set(s, kv[i], kv[i + 1], kv[i + 2]);
	}
	cr_assert_eq(oscar_node_start(&c->sup, OSCAR_ROLE_SUPERVISOR, s, c->reg, &err), 0, "%s",
	    err.message);
	oscar_settings_free(&s);
	c->at   = oscar_node_address(c->sup);
	c->pool = pool_open_at("tcp://127.0.0.1:0");
	for (size_t i = 0; i < n; i++) {
		oscar_settings_new(&s);
		oscar_settings_set(s, "node", "supervisor", c->at);
		if (worker_services != NULL) {
			oscar_settings_set(s, "node", "services", worker_services);
		}
		cr_assert_eq(oscar_node_start(&c->w[i], OSCAR_ROLE_WORKER, s, c->reg, &err), 0,
		    "%s", err.message);
		oscar_settings_free(&s);
	}
	c->n_workers = n;
	oscar_cluster_t *cl;
	cr_assert_eq(oscar_cluster_open(&cl, c->pool, c->at, &err), 0);
	cr_assert_eq(oscar_cluster_wait_workers(cl, n, T, &err), 0, "%s", err.message);
	oscar_cluster_close(&cl);
}

static void stop_cluster(cluster_t *c)
{
	for (size_t i = 0; i < 2; i++) {
		oscar_node_stop(&c->w[i]);
	}
	oscar_node_stop(&c->sup);
	oscar_pool_free(&c->pool);
	oscar_registry_free(&c->reg);
	journal[0] = '\0';
	fail_at[0] = '\0';
}

// node_has tells whether the node at address holds session id.
static bool node_has(cluster_t *c, const char *address, const char *id)
{
	oscar_value_t *ids;
	oscar_error_t  err;
	cr_assert_eq(oscar_node_sessions(c->pool, address, &ids, T, &err), 0, "%s", err.message);
	bool found = false;
	for (size_t i = 0; i < oscar_value_len(ids); i++) {
		found = found || strcmp(oscar_value_at_str(ids, i), id) == 0;
	}
	oscar_value_free(ids);
	return (found);
}

// ---------------------------------------------------------------------------
// Sessions

Test(sessions, create_has_list_and_delete_on_every_node)
{
	cluster_t     c;
	oscar_error_t err;
	start_cluster(&c, 2, NULL, NULL);
	const char *nodes[3] = { c.at, oscar_node_address(c.w[0]), oscar_node_address(c.w[1]) };

	char    id[OSCAR_SESSION_ID_MAX + 1];
	int64_t created;
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "alpha", false, id, &created, T, &err), 0,
	    "%s", err.message);
	cr_assert_str_eq(id, "alpha");
	cr_assert_gt(created, 0);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(
		    journal_count(nodes[i], '+', "alpha"), 1, "the hooks ran on %s", nodes[i]);
		cr_assert(node_has(&c, nodes[i], "alpha"), "%s lists alpha", nodes[i]);
	}
	// The supervisor's services made their per-session actors.
	oscar_ref_t ref;
	bool        exists = false;
	oscar_ref_make(&ref, c.at, "oscar.meta:alpha");
	cr_assert_eq(oscar_has(c.pool, &ref, &exists, T), 0);
	cr_assert(exists);
	oscar_ref_make(&ref, c.at, "oscar.lifecycle:alpha");
	cr_assert_eq(oscar_has(c.pool, &ref, &exists, T), 0);
	cr_assert(exists);

	cr_assert_eq(oscar_sessions_has(c.pool, c.at, "alpha", &exists, T, &err), 0);
	cr_assert(exists);
	cr_assert_eq(oscar_sessions_has(c.pool, c.at, "beta", &exists, T, &err), 0);
	cr_assert_not(exists);

	// Again: refused, or a success that runs nothing with if_not_exists.
	cr_assert_eq(
	    oscar_sessions_create(c.pool, c.at, "alpha", false, NULL, NULL, T, &err), OSCAR_EEXIST);
	cr_assert(strstr(err.message, "alpha") != NULL, "%s", err.message);
	int64_t again;
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "alpha", true, id, &again, T, &err), 0,
	    "%s", err.message);
	cr_assert_eq(again, created, "the same session");
	cr_assert_eq(journal_count(nodes[1], '+', "alpha"), 1, "no hook ran again");

	// A generated id.
	char gen[OSCAR_SESSION_ID_MAX + 1];
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, NULL, false, gen, NULL, T, &err), 0, "%s",
	    err.message);
	cr_assert(oscar_session_id_ok(gen));
	cr_assert_str_neq(gen, "alpha");
	cr_assert_eq(journal_count(nodes[2], '+', gen), 1);

	oscar_session_info_t *list;
	size_t                n;
	cr_assert_eq(oscar_sessions_list(c.pool, c.at, &list, &n, T, &err), 0, "%s", err.message);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].id, "alpha", "oldest first");
	cr_assert_str_eq(list[1].id, gen);
	cr_assert_eq(list[0].nodes, 3);
	cr_assert_eq(list[0].created_ms, created);
	free(list);

	// Delete runs the destroy hooks everywhere.
	cr_assert_eq(
	    oscar_sessions_delete(c.pool, c.at, "alpha", false, T, &err), 0, "%s", err.message);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(journal_count(nodes[i], '-', "alpha"), 1, "destroyed on %s", nodes[i]);
		cr_assert_not(node_has(&c, nodes[i], "alpha"));
	}
	oscar_ref_make(&ref, c.at, "oscar.meta:alpha");
	cr_assert_eq(oscar_has(c.pool, &ref, &exists, T), 0);
	cr_assert_not(exists, "meta's actor went with the session");
	cr_assert_eq(oscar_sessions_has(c.pool, c.at, "alpha", &exists, T, &err), 0);
	cr_assert_not(exists);
	cr_assert_eq(oscar_sessions_delete(c.pool, c.at, "alpha", false, T, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no such session alpha") != NULL, "%s", err.message);
	cr_assert_eq(
	    oscar_sessions_delete(c.pool, c.at, "alpha", true, T, &err), 0, "%s", err.message);
	stop_cluster(&c);
}

Test(sessions, bad_ids_are_refused)
{
	cluster_t     c;
	oscar_error_t err;
	start_cluster(&c, 0, NULL, NULL);
	const char *bad[] = { "", "a b", "x/y", "0123456789012345678901234567890123456789x", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		cr_assert_eq(
		    oscar_sessions_create(c.pool, c.at, bad[i], false, NULL, NULL, T, &err),
		    OSCAR_EINVAL, "'%s'", bad[i]);
	}
	// Straight to the actors, past the typed API's checks.
	oscar_ref_t    ref;
	oscar_value_t *args = oscar_value_new_map(1);
	oscar_value_map_set(args, "id", oscar_value_new_str("no spaces please"));
	oscar_ref_make(&ref, c.at, OSCAR_SESSIONS_UID);
	cr_assert_eq(oscar_call(c.pool, &ref, "create", args, T, NULL, &err), OSCAR_EINVAL);
	cr_assert_eq(oscar_call(c.pool, &ref, "create", oscar_value_new_int(3), T, NULL, &err),
	    OSCAR_EBADARGS);
	cr_assert_eq(oscar_call(c.pool, &ref, "delete", oscar_value_new_map(0), T, NULL, &err),
	    OSCAR_EBADARGS);
	oscar_ref_make(&ref, c.at, OSCAR_NODE_UID);
	cr_assert_eq(
	    oscar_call(c.pool, &ref, "session_create", oscar_value_new_str("a:b"), T, NULL, &err),
	    OSCAR_EINVAL);
	// A forged completion answers nothing.
	oscar_value_t *forged = oscar_value_new_array(3);
	oscar_value_array_push(forged, oscar_value_new_uint(12345));
	oscar_value_array_push(forged, oscar_value_new_int(0));
	oscar_value_array_push(forged, oscar_value_new_str(""));
	cr_assert_eq(oscar_call(c.pool, &ref, "hook_done", forged, T, NULL, &err), OSCAR_ENOENT);
	stop_cluster(&c);
}

Test(sessions, a_failing_hook_fails_the_create_and_is_undone_everywhere)
{
	cluster_t     c;
	oscar_error_t err;
	start_cluster(&c, 2, NULL, NULL);
	const char *w0 = oscar_node_address(c.w[0]);
	const char *w1 = oscar_node_address(c.w[1]);
	snprintf(fail_at, sizeof(fail_at), "%s", w1);
	int rv = oscar_sessions_create(c.pool, c.at, "doomed", false, NULL, NULL, T, &err);
	cr_assert_eq(rv, OSCAR_EUSER + 7, "%d: %s", rv, err.message);
	cr_assert(strstr(err.message, "the probe refuses doomed") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, w1) != NULL, "the failing node is named: %s", err.message);
	// The nodes whose hooks ran have undone them.
	cr_assert_eq(journal_count(c.at, '+', "doomed"), 1);
	cr_assert_eq(journal_count(c.at, '-', "doomed"), 1);
	cr_assert_eq(journal_count(w0, '+', "doomed"), 1);
	cr_assert_eq(journal_count(w0, '-', "doomed"), 1);
	cr_assert_eq(journal_count(w1, '-', "doomed"), 0, "nothing ran there to undo");
	for (size_t i = 0; i < 3; i++) {
		const char *at = i == 0 ? c.at : i == 1 ? w0 : w1;
		cr_assert_not(node_has(&c, at, "doomed"));
	}
	bool exists = true;
	cr_assert_eq(oscar_sessions_has(c.pool, c.at, "doomed", &exists, T, &err), 0);
	cr_assert_not(exists);
	oscar_value_t    *v;
	const char *const keys[] = { "k" };
	cr_assert_eq(
	    oscar_meta_get(c.pool, c.at, "doomed", keys, 1, NULL, true, T, &v, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no such session doomed") != NULL, "%s", err.message);

	// The supervisor's own services are undone too when the probe fails
	// there, after them.
	snprintf(fail_at, sizeof(fail_at), "%s", c.at);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "doomed", false, NULL, NULL, T, &err),
	    OSCAR_EUSER + 7);
	oscar_ref_t ref;
	oscar_ref_make(&ref, c.at, "oscar.lifecycle:doomed");
	cr_assert_eq(oscar_has(c.pool, &ref, &exists, T), 0);
	cr_assert_not(exists, "lifecycle's actor was destroyed again");
	// Then it works.
	fail_at[0] = '\0';
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "doomed", false, NULL, NULL, T, &err), 0,
	    "%s", err.message);
	cr_assert(node_has(&c, w1, "doomed"));
	stop_cluster(&c);
}

Test(sessions, a_node_that_answers_too_late_undoes_its_hooks_when_they_end)
{
	cluster_t         c;
	oscar_error_t     err;
	const char *const kv[] = { "session", "hook_timeout", "300ms", NULL };
	start_cluster(&c, 2, kv, NULL);
	const char *w1 = oscar_node_address(c.w[1]);
	pthread_mutex_lock(&journal_mu);
	snprintf(slow_at, sizeof(slow_at), "%s", w1);
	released = false;
	pthread_mutex_unlock(&journal_mu);
	// The hook on w1 blocks until released: the create's deadline for
	// that node passes whatever the machine's speed.
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "slow", false, NULL, NULL, T, &err),
	    OSCAR_ETIMEDOUT, "%s", err.message);
	cr_assert(strstr(err.message, w1) != NULL, "%s", err.message);
	cr_assert_eq(journal_count(c.at, '-', "slow"), 1, "undone on the supervisor");
	cr_assert_eq(journal_count(oscar_node_address(c.w[0]), '-', "slow"), 1);
	pthread_mutex_lock(&journal_mu);
	released = true;
	pthread_cond_broadcast(&released_cv);
	pthread_mutex_unlock(&journal_mu);
	// Its hooks end, then the destroy queued behind them undoes them and
	// then takes the session's actor away (the journal's entry is written
	// inside the undo, before the actor goes: wait for both).
	int64_t end = now_ms() + T;
	while (journal_count(w1, '-', "slow") == 0 || node_has(&c, w1, "slow")) {
		cr_assert_lt(now_ms(), end, "the late node never undid its hooks");
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(journal_count(w1, '+', "slow"), 1);
	cr_assert_eq(journal_count(w1, '-', "slow"), 1);
	bool exists = true;
	cr_assert_eq(oscar_sessions_has(c.pool, c.at, "slow", &exists, T, &err), 0);
	cr_assert_not(exists);
	slow_at[0] = '\0';
	stop_cluster(&c);
}

Test(sessions, a_worker_that_joins_later_learns_the_live_sessions)
{
	cluster_t     c;
	oscar_error_t err;
	start_cluster(&c, 1, NULL, NULL);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "s1", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "s2", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "gone", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(oscar_sessions_delete(c.pool, c.at, "gone", false, T, &err), 0);

	oscar_settings_t *s;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "supervisor", c.at);
	cr_assert_eq(
	    oscar_node_start(&c.w[1], OSCAR_ROLE_WORKER, s, c.reg, &err), 0, "%s", err.message);
	oscar_settings_free(&s);
	const char *late = oscar_node_address(c.w[1]);
	// The session service gives them once the worker is ready; a bounded
	// wait for it.
	int64_t end = now_ms() + T;
	while (!(node_has(&c, late, "s1") && node_has(&c, late, "s2"))) {
		cr_assert_lt(now_ms(), end, "the late worker never got its sessions");
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(journal_count(late, '+', "s1"), 1);
	cr_assert_eq(journal_count(late, '+', "gone"), 0, "a deleted session is not given");
	// And deleting reaches it.
	cr_assert_eq(oscar_sessions_delete(c.pool, c.at, "s1", false, T, &err), 0);
	cr_assert_not(node_has(&c, late, "s1"));
	cr_assert_eq(journal_count(late, '-', "s1"), 1);
	stop_cluster(&c);
}

Test(sessions, the_number_of_sessions_is_bounded)
{
	cluster_t         c;
	oscar_error_t     err;
	const char *const kv[] = { "session", "max_sessions", "2", NULL };
	start_cluster(&c, 0, kv, NULL);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "a", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "b", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(
	    oscar_sessions_create(c.pool, c.at, "c", false, NULL, NULL, T, &err), OSCAR_ESTATE);
	cr_assert(strstr(err.message, "session.max_sessions") != NULL, "%s", err.message);
	cr_assert_eq(oscar_sessions_delete(c.pool, c.at, "a", false, T, &err), 0);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "c", false, NULL, NULL, T, &err), 0, "%s",
	    err.message);
	stop_cluster(&c);
}

Test(sessions, many_sessions_are_listed_in_order)
{
	cluster_t     c;
	oscar_error_t err;
	start_cluster(&c, 1, NULL, NULL);
	char id[16];
	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "s%02d", i);
		cr_assert_eq(oscar_sessions_create(c.pool, c.at, id, false, NULL, NULL, T, &err), 0,
		    "%s: %s", id, err.message);
	}
	oscar_session_info_t *list;
	size_t                n;
	cr_assert_eq(oscar_sessions_list(c.pool, c.at, &list, &n, T, &err), 0, "%s", err.message);
	cr_assert_eq(n, 50);
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "s%02zu", i);
		cr_assert_str_eq(list[i].id, id);
	}
	free(list);
	oscar_value_t *ids;
	cr_assert_eq(oscar_node_sessions(c.pool, oscar_node_address(c.w[0]), &ids, T, &err), 0);
	cr_assert_eq(oscar_value_len(ids), 50, "the worker holds them all");
	oscar_value_free(ids);
	stop_cluster(&c);
}

// ---------------------------------------------------------------------------
// Meta

static oscar_value_t *entry(const char *key, uint64_t size, const char *worker)
{
	oscar_value_t *e = oscar_value_new_map(4);
	oscar_value_map_set(e, "key", oscar_value_new_str(key));
	oscar_value_map_set(e, "size", oscar_value_new_uint(size));
	if (worker != NULL) {
		oscar_value_t *w = oscar_value_new_array(1);
		oscar_value_array_push(w, oscar_value_new_str(worker));
		oscar_value_map_set(e, "workers", w);
	}
	return (e);
}

static oscar_value_t *batch_of(oscar_value_t *a, oscar_value_t *b)
{
	oscar_value_t *arr = oscar_value_new_array(2);
	oscar_value_array_push(arr, a);
	if (b != NULL) {
		oscar_value_array_push(arr, b);
	}
	return (arr);
}

Test(sessions, meta_keeps_sessions_apart_and_batches_with_filters)
{
	cluster_t     c;
	oscar_error_t err;
	start_cluster(&c, 0, NULL, NULL);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "A", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "B", false, NULL, NULL, T, &err), 0);
	oscar_value_t *x      = entry("x", 10, "tcp://10.0.0.1:1");
	oscar_value_t *fields = oscar_value_new_map(1);
	oscar_value_map_set(fields, "a", oscar_value_new_int(1));
	oscar_value_map_set(x, "fields", fields);
	oscar_value_map_set(x, "task", oscar_value_new_str("t1"));
	cr_assert_eq(oscar_meta_set(c.pool, c.at, "A", batch_of(x, entry("z", 3, NULL)), T, &err),
	    0, "%s", err.message);

	// The list counts each session's objects.
	oscar_session_info_t *list;
	size_t                n;
	cr_assert_eq(oscar_sessions_list(c.pool, c.at, &list, &n, T, &err), 0, "%s", err.message);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].id, "A");
	cr_assert_eq(list[0].objects, 2);
	cr_assert_eq(list[1].objects, 0);
	free(list);

	// Isolation: a key of A is no object of B.
	oscar_value_t    *v;
	const char *const x_only[] = { "x" };
	cr_assert_eq(
	    oscar_meta_get(c.pool, c.at, "B", x_only, 1, NULL, false, T, &v, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no such object x in session B") != NULL, "%s", err.message);

	// A field filter.
	const char *const some[] = { "size", "workers", NULL };
	const char *const xy[]   = { "x", "nope" };
	cr_assert_eq(oscar_meta_get(c.pool, c.at, "A", xy, 2, some, true, T, &v, &err), 0, "%s",
	    err.message);
	cr_assert_eq(oscar_value_len(v), 2);
	const oscar_value_t *got = oscar_value_at(v, 0);
	cr_assert_eq(oscar_value_len(got), 2, "only the fields asked for");
	cr_assert_eq(oscar_value_map_int(got, "size", 0), 10);
	cr_assert_str_eq(
	    oscar_value_at_str(oscar_value_map_get(got, "workers"), 0), "tcp://10.0.0.1:1");
	cr_assert_eq(oscar_value_at(v, 1)->type, OSCAR_NIL, "an unknown key is nil here");
	oscar_value_free(v);
	cr_assert_eq(
	    oscar_meta_get(c.pool, c.at, "A", xy, 2, some, false, T, &v, &err), OSCAR_ENOENT);
	cr_assert(
	    strstr(err.message, "no such object nope in session A") != NULL, "%s", err.message);

	// User fields merge; other fields are replaced.
	oscar_value_t *upd = oscar_value_new_map(3);
	oscar_value_map_set(upd, "key", oscar_value_new_str("x"));
	oscar_value_map_set(upd, "status", oscar_value_new_str("lost"));
	fields = oscar_value_new_map(1);
	oscar_value_map_set(fields, "b", oscar_value_new_int(2));
	oscar_value_map_set(upd, "fields", fields);
	cr_assert_eq(
	    oscar_meta_set(c.pool, c.at, "A", batch_of(upd, NULL), T, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_meta_get(c.pool, c.at, "A", x_only, 1, NULL, false, T, &v, &err), 0);
	got = oscar_value_at(v, 0);
	cr_assert_str_eq(oscar_value_map_str(got, "status"), "lost");
	cr_assert_str_eq(oscar_value_map_str(got, "task"), "t1");
	cr_assert_eq(oscar_value_map_int(oscar_value_map_get(got, "fields"), "a", 0), 1);
	cr_assert_eq(oscar_value_map_int(oscar_value_map_get(got, "fields"), "b", 0), 2);
	oscar_value_free(v);

	// Locations: added, and a new entry made as stored.
	oscar_value_t *locs = oscar_value_new_array(2);
	oscar_value_t *l1   = oscar_value_new_array(3);
	oscar_value_array_push(l1, oscar_value_new_str("x"));
	oscar_value_array_push(l1, oscar_value_new_str("tcp://10.0.0.2:1"));
	oscar_value_array_push(l1, oscar_value_new_uint(10));
	oscar_value_t *l2 = oscar_value_new_array(3);
	oscar_value_array_push(l2, oscar_value_new_str("y"));
	oscar_value_array_push(l2, oscar_value_new_str("tcp://10.0.0.1:1"));
	oscar_value_array_push(l2, oscar_value_new_uint(5));
	oscar_value_array_push(locs, l1);
	oscar_value_array_push(locs, l2);
	cr_assert_eq(
	    oscar_meta_add_location(c.pool, c.at, "A", locs, T, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_meta_on_worker(c.pool, c.at, "A", "tcp://10.0.0.1:1", T, &v, &err), 0);
	cr_assert_eq(oscar_value_len(v), 2, "x and y are there");
	oscar_value_free(v);
	cr_assert_eq(oscar_meta_on_worker(c.pool, c.at, "B", "tcp://10.0.0.1:1", T, &v, &err), 0);
	cr_assert_eq(oscar_value_len(v), 0, "nothing of B");
	oscar_value_free(v);
	const char *const y_only[] = { "y" };
	const char *const st[]     = { "status", NULL };
	cr_assert_eq(oscar_meta_get(c.pool, c.at, "A", y_only, 1, st, false, T, &v, &err), 0);
	cr_assert_str_eq(oscar_value_map_str(oscar_value_at(v, 0), "status"), "stored");
	oscar_value_free(v);

	// Delete gives the deleted entries' workers; unknown keys are skipped.
	const char *const del[] = { "x", "nope" };
	cr_assert_eq(
	    oscar_meta_delete(c.pool, c.at, "A", del, 2, T, &v, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_len(v), 1);
	cr_assert_str_eq(oscar_value_map_str(oscar_value_at(v, 0), "key"), "x");
	cr_assert_eq(oscar_value_len(oscar_value_map_get(oscar_value_at(v, 0), "workers")), 2);
	oscar_value_free(v);
	cr_assert_eq(
	    oscar_meta_get(c.pool, c.at, "A", x_only, 1, NULL, false, T, &v, &err), OSCAR_ENOENT);

	// Unknown session.
	cr_assert_eq(oscar_meta_get(c.pool, c.at, "nosuch", x_only, 1, NULL, true, T, &v, &err),
	    OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no such session nosuch") != NULL, "%s", err.message);
	stop_cluster(&c);
}

Test(sessions, meta_refuses_malformed_batches_whole_and_is_bounded)
{
	cluster_t         c;
	oscar_error_t     err;
	const char *const kv[] = { "meta", "max_entries", "3", NULL };
	start_cluster(&c, 0, kv, NULL);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "A", false, NULL, NULL, T, &err), 0);
	// The second entry is bad: the first is not stored either.
	cr_assert_eq(oscar_meta_set(c.pool, c.at, "A",
	                 batch_of(entry("ok", 1, NULL), oscar_value_new_int(42)), T, &err),
	    OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "entry 1") != NULL, "%s", err.message);
	oscar_value_t *bad = entry("k", 1, NULL);
	oscar_value_map_set(bad, "status", oscar_value_new_str("sideways"));
	cr_assert_eq(
	    oscar_meta_set(c.pool, c.at, "A", batch_of(bad, NULL), T, &err), OSCAR_EBADARGS);
	bad = entry("k", 1, NULL);
	oscar_value_map_set(bad, "colour", oscar_value_new_str("red"));
	cr_assert_eq(
	    oscar_meta_set(c.pool, c.at, "A", batch_of(bad, NULL), T, &err), OSCAR_EBADARGS);
	oscar_value_t *badloc = oscar_value_new_array(1);
	oscar_value_array_push(badloc, oscar_value_new_str("k"));
	cr_assert_eq(oscar_meta_add_location(c.pool, c.at, "A", batch_of(badloc, NULL), T, &err),
	    OSCAR_EBADARGS);
	const char *const k[]     = { "ok" };
	const char *const wrong[] = { "colour", NULL };
	oscar_value_t    *v;
	cr_assert_eq(
	    oscar_meta_get(c.pool, c.at, "A", k, 1, wrong, true, T, &v, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "colour") != NULL, "%s", err.message);
	// Not a map, not an array: the method table refuses the shape.
	oscar_ref_t ref;
	oscar_ref_make(&ref, c.at, "oscar.meta:A");
	cr_assert_eq(
	    oscar_call(c.pool, &ref, "get", oscar_value_new_int(1), T, NULL, &err), OSCAR_EBADARGS);
	cr_assert_eq(oscar_call(c.pool, &ref, "count", NULL, T, &v, &err), 0);
	cr_assert_eq(v->as.i, 0, "nothing was stored by the bad batches");
	oscar_value_free(v);

	// Three entries at most.
	oscar_value_t *three = batch_of(entry("a", 1, NULL), entry("b", 1, NULL));
	oscar_value_array_push(three, entry("c", 1, NULL));
	cr_assert_eq(oscar_meta_set(c.pool, c.at, "A", three, T, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_meta_set(c.pool, c.at, "A",
	                 batch_of(entry("a", 2, NULL), entry("d", 1, NULL)), T, &err),
	    OSCAR_ESTATE);
	cr_assert(strstr(err.message, "meta.max_entries") != NULL, "%s", err.message);
	const char *const a[] = { "a" };
	cr_assert_eq(oscar_meta_get(c.pool, c.at, "A", a, 1, NULL, false, T, &v, &err), 0);
	cr_assert_eq(oscar_value_map_int(oscar_value_at(v, 0), "size", 0), 1, "nothing changed");
	oscar_value_free(v);
	cr_assert_eq(
	    oscar_meta_set(c.pool, c.at, "A", batch_of(entry("a", 2, NULL), NULL), T, &err), 0,
	    "an update needs no room");
	stop_cluster(&c);
}

// ---------------------------------------------------------------------------
// Lifecycle

// A stand-in for the storage service's actor: it notes each delete.
static pthread_mutex_t deleted_mu = PTHREAD_MUTEX_INITIALIZER;
static char            deleted[1024];

static int fake_delete(oscar_actor_t *self, oscar_req_t *req)
{
	(void) self;
	const oscar_value_t *keys = oscar_value_map_get(oscar_req_args(req), "keys");
	pthread_mutex_lock(&deleted_mu);
	size_t len = strlen(deleted);
	snprintf(deleted + len, sizeof(deleted) - len,
	    "%s:%s:", oscar_value_map_str(oscar_req_args(req), "session"),
	    oscar_actor_ref(self)->addr);
	for (size_t i = 0; i < oscar_value_len(keys); i++) {
		len = strlen(deleted);
		snprintf(deleted + len, sizeof(deleted) - len, "%s,", oscar_value_at_str(keys, i));
	}
	len = strlen(deleted);
	snprintf(deleted + len, sizeof(deleted) - len, "\n");
	pthread_mutex_unlock(&deleted_mu);
	return (oscar_req_reply(req, oscar_value_new_uint(oscar_value_len(keys))));
}

static const oscar_method_t      fake_methods[] = { { "delete", fake_delete, NULL },
	     { NULL, NULL, NULL } };
static const oscar_actor_class_t fake_storage = { .name = "test.storage", .methods = fake_methods };

Test(sessions, lifecycle_counts_and_frees_through_meta_and_storage)
{
	cluster_t     c;
	oscar_error_t err;
	// The workers run no storage of their own: the first gets a stand-in,
	// the second has none at all, which must not wedge lifecycle.
	start_cluster(&c, 2, NULL, "cluster");
	const char *w0 = oscar_node_address(c.w[0]);
	const char *w1 = oscar_node_address(c.w[1]);
	oscar_ref_t ref;
	cr_assert_eq(oscar_create(oscar_node_pool(c.w[0]), &fake_storage, "oscar.storage", NULL, T,
	                 &ref, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "L", false, NULL, NULL, T, &err), 0);
	cr_assert_eq(oscar_meta_set(c.pool, c.at, "L",
	                 batch_of(entry("k1", 1, w0), entry("k2", 1, w0)), T, &err),
	    0);
	oscar_value_t *l = oscar_value_new_array(3);
	oscar_value_array_push(l, oscar_value_new_str("k2"));
	oscar_value_array_push(l, oscar_value_new_str(w1));
	oscar_value_array_push(l, oscar_value_new_uint(1));
	cr_assert_eq(oscar_meta_add_location(c.pool, c.at, "L", batch_of(l, NULL), T, &err), 0);

	const char *const keys[]   = { "k1", "k2" };
	const uint64_t    twoone[] = { 2, 1 };
	cr_assert_eq(oscar_lifecycle_incref(c.pool, c.at, "L", keys, twoone, 2, T, &err), 0, "%s",
	    err.message);
	uint64_t counts[2];
	cr_assert_eq(oscar_lifecycle_counts(c.pool, c.at, "L", keys, 2, counts, T, &err), 0);
	cr_assert_eq(counts[0], 2);
	cr_assert_eq(counts[1], 1);

	// A key with no count, or a count taken below zero: nothing changes.
	const char *const mixed[] = { "k1", "never" };
	oscar_value_t    *freed;
	cr_assert_eq(oscar_lifecycle_decref(c.pool, c.at, "L", mixed, NULL, 2, T, &freed, &err),
	    OSCAR_ENOENT);
	cr_assert(strstr(err.message, "never") != NULL, "%s", err.message);
	const char *const twice[] = { "k2", "k2" };
	cr_assert_eq(oscar_lifecycle_decref(c.pool, c.at, "L", twice, NULL, 2, T, &freed, &err),
	    OSCAR_EINVAL);
	cr_assert_eq(oscar_lifecycle_counts(c.pool, c.at, "L", keys, 2, counts, T, &err), 0);
	cr_assert_eq(counts[0], 2, "nothing changed");
	cr_assert_eq(counts[1], 1, "nothing changed");

	// k2 reaches zero: its meta entry goes, and each worker holding it is
	// asked to delete it (w1 has no storage: logged, not fatal).
	cr_assert_eq(oscar_lifecycle_decref(c.pool, c.at, "L", keys, NULL, 2, T, &freed, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_value_len(freed), 1);
	cr_assert_str_eq(oscar_value_at_str(freed, 0), "k2");
	oscar_value_free(freed);
	char want[256];
	snprintf(want, sizeof(want), "L:%s:k2,\n", w0);
	pthread_mutex_lock(&deleted_mu);
	cr_assert_str_eq(deleted, want);
	pthread_mutex_unlock(&deleted_mu);
	const char *const k2[] = { "k2" };
	oscar_value_t    *v;
	cr_assert_eq(
	    oscar_meta_get(c.pool, c.at, "L", k2, 1, NULL, false, T, &v, &err), OSCAR_ENOENT);
	const char *const k1[] = { "k1" };
	cr_assert_eq(oscar_meta_get(c.pool, c.at, "L", k1, 1, NULL, false, T, &v, &err), 0,
	    "k1 still counted");
	oscar_value_free(v);
	cr_assert_eq(oscar_lifecycle_decref(c.pool, c.at, "L", k2, NULL, 1, T, &freed, &err),
	    OSCAR_ENOENT, "k2 has no count any more");

	// Malformed batches.
	oscar_ref_make(&ref, c.at, "oscar.lifecycle:L");
	oscar_value_t *item = oscar_value_new_array(2);
	oscar_value_array_push(item, oscar_value_new_str("k1"));
	oscar_value_array_push(item, oscar_value_new_uint(0));
	cr_assert_eq(oscar_call(c.pool, &ref, "decref", batch_of(item, NULL), T, NULL, &err),
	    OSCAR_EBADARGS);
	cr_assert_eq(oscar_call(c.pool, &ref, "incref", batch_of(oscar_value_new_int(5), NULL), T,
	                 NULL, &err),
	    OSCAR_EBADARGS);
	cr_assert_eq(oscar_call(c.pool, &ref, "incref", oscar_value_new_str("k1"), T, NULL, &err),
	    OSCAR_EBADARGS);
	cr_assert_eq(
	    oscar_lifecycle_incref(c.pool, c.at, "nosuch", k1, NULL, 1, T, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no such session nosuch") != NULL, "%s", err.message);
	stop_cluster(&c);
	deleted[0] = '\0';
}

Test(sessions, lifecycle_is_bounded)
{
	cluster_t         c;
	oscar_error_t     err;
	const char *const kv[] = { "lifecycle", "max_keys", "2", NULL };
	start_cluster(&c, 0, kv, NULL);
	cr_assert_eq(oscar_sessions_create(c.pool, c.at, "L", false, NULL, NULL, T, &err), 0);
	const char *const keys[] = { "a", "b", "c" };
	cr_assert_eq(
	    oscar_lifecycle_incref(c.pool, c.at, "L", keys, NULL, 3, T, &err), OSCAR_ESTATE);
	cr_assert(strstr(err.message, "lifecycle.max_keys") != NULL, "%s", err.message);
	uint64_t counts[3];
	cr_assert_eq(oscar_lifecycle_counts(c.pool, c.at, "L", keys, 3, counts, T, &err), 0);
	cr_assert_eq(counts[0] + counts[1] + counts[2], 0, "nothing counted");
	cr_assert_eq(oscar_lifecycle_incref(c.pool, c.at, "L", keys, NULL, 2, T, &err), 0);
	cr_assert_eq(oscar_lifecycle_incref(c.pool, c.at, "L", keys, NULL, 2, T, &err), 0,
	    "more references to counted keys need no room");
	stop_cluster(&c);
}
