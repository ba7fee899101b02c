// The service table honoured: a registered service's settings (keys,
// defaults, ranges, check hook), the services it needs, its session hooks,
// the context its actors reach the node through, and the method tables.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "oscar/oscar.h"
#include "tests/common/pools.h"

// What the hooks saw: "<service>@<node address>:<op>:<session>" lines.
static char journal[4096];

static void note(const char *fmt, const char *a, const char *b, const char *c)
{
	size_t at = strlen(journal);
	snprintf(journal + at, sizeof(journal) - at, fmt, a, b, c);
}

// ---------------------------------------------------------------------------
// probe: settings, a check hook, session hooks, an actor that finds its
// node.

static const oscar_setting_spec_t probe_settings[] = {
	{ "level", OSCAR_SETTING_INT, "3", 1, 9, "a number from 1 to 9" },
	{ "pause", OSCAR_SETTING_MS, "250ms", 0, 10000, "a duration" },
	{ "floor", OSCAR_SETTING_INT, "1", 0, 9, "at most level" },
	{ "name", OSCAR_SETTING_STR, "probe", 0, 0, "a name" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static const oscar_service_t probe_service;

static int probe_check(const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err)
{
	int64_t level, floor;
	int     rv = oscar_service_setting_int(s, &probe_service, "level", &level, err);
	rv = rv != 0 ? rv : oscar_service_setting_int(s, &probe_service, "floor", &floor, err);
	if (rv == 0 && floor > level) {
		rv = oscar_error_set(err, OSCAR_EINVAL, "probe.floor (%lld) is above probe.level",
		    (long long) floor);
	}
	return (rv);
}

// The probe actor answers with the address of the node that hosts it, as
// oscar_node_of_actor finds it.
static int probe_where(oscar_actor_t *self, oscar_req_t *req)
{
	oscar_node_t *node = oscar_node_of_actor(self);
	return (node != NULL ? oscar_req_reply(req, oscar_value_new_str(oscar_node_address(node)))
	                     : oscar_req_fail(req, OSCAR_ENOENT, "no node"));
}

static const oscar_method_t probe_methods[] = {
	{ "where", probe_where, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t probe_class = {
	.name    = "test.probe",
	.methods = probe_methods,
};

static int probe_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	int64_t level;
	int     rv = oscar_service_setting_int(
	        oscar_node_settings(node), &probe_service, "level", &level, err);
	if (rv != 0) {
		return (rv);
	}
	note("probe@%s:start:%s ", oscar_node_address(node),
	    oscar_service_setting_str(oscar_node_settings(node), &probe_service, "name"), "");
	oscar_ref_t ref;
	return (
	    oscar_create(oscar_node_pool(node), &probe_class, "test.probe", NULL, 5000, &ref, err));
}

static int probe_session_create(
    oscar_node_t *node, void *state, const char *session_id, oscar_error_t *err)
{
	note("probe@%s:create:%s\n", oscar_node_address(node), session_id, "");
	return (0);
}

static void probe_session_destroy(oscar_node_t *node, void *state, const char *session_id)
{
	note("probe@%s:destroy:%s\n", oscar_node_address(node), session_id, "");
}

static const oscar_service_t probe_service = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = "probe",
	.roles           = OSCAR_ROLES_ALL,
	.settings        = probe_settings,
	.check           = probe_check,
	.start           = probe_start,
	.session_create  = probe_session_create,
	.session_destroy = probe_session_destroy,
};

// ---------------------------------------------------------------------------
// Services that need others.

static int plain_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	return (0);
}

// wprobe runs on workers only, needs probe, and refuses the session "bad".
static int wprobe_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	note("wprobe@%s:start:%s ", oscar_node_address(node), "", "");
	return (0);
}

static int wprobe_session_create(
    oscar_node_t *node, void *state, const char *session_id, oscar_error_t *err)
{
	if (strcmp(session_id, "bad") == 0) {
		return (oscar_error_set(err, OSCAR_EUSER + 7, "no bad sessions here"));
	}
	note("wprobe@%s:create:%s\n", oscar_node_address(node), session_id, "");
	return (0);
}

static void wprobe_session_destroy(oscar_node_t *node, void *state, const char *session_id)
{
	note("wprobe@%s:destroy:%s\n", oscar_node_address(node), session_id, "");
}

static const char *const needs_probe[]  = { "probe", NULL };
static const char *const needs_absent[] = { "absent", NULL };
static const char *const needs_wprobe[] = { "wprobe", NULL };
static const char *const needs_loop_b[] = { "loop_b", NULL };
static const char *const needs_loop_a[] = { "loop_a", NULL };

static const oscar_service_t wprobe_service = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = "wprobe",
	.roles           = OSCAR_ROLE_WORKER,
	.needs           = needs_probe,
	.start           = wprobe_start,
	.session_create  = wprobe_session_create,
	.session_destroy = wprobe_session_destroy,
};

static const oscar_service_t needy_service            = { .abi = OSCAR_SERVICE_ABI,
	           .name                                       = "needy",
	           .roles                                      = OSCAR_ROLES_ALL,
	           .needs                                      = needs_absent,
	           .start                                      = plain_start };
static const oscar_service_t sup_needs_worker_service = { .abi = OSCAR_SERVICE_ABI,
	.name                                                  = "lonely",
	.roles                                                 = OSCAR_ROLES_ALL,
	.needs                                                 = needs_wprobe,
	.start                                                 = plain_start };
static const oscar_service_t loop_a_service           = { .abi = OSCAR_SERVICE_ABI,
	          .name                                        = "loop_a",
	          .roles                                       = OSCAR_ROLES_ALL,
	          .needs                                       = needs_loop_b,
	          .start                                       = plain_start };
static const oscar_service_t loop_b_service           = { .abi = OSCAR_SERVICE_ABI,
	          .name                                        = "loop_b",
	          .roles                                       = OSCAR_ROLES_ALL,
	          .needs                                       = needs_loop_a,
	          .start                                       = plain_start };

static oscar_registry_t *registry_with(const oscar_service_t *const *extra)
{
	oscar_registry_t *reg;
	oscar_error_t     err;
	cr_assert_eq(oscar_registry_new(&reg), 0);
	for (size_t i = 0; extra[i] != NULL; i++) {
		cr_assert_eq(oscar_registry_add(reg, extra[i], &err), 0, "%s", err.message);
	}
	return (reg);
}

static void init(void)
{
	journal[0] = '\0';
	oscar_log_setup("error", NULL);
}

TestSuite(service, .init = init);

// ---------------------------------------------------------------------------
// Settings

// refused starts a supervisor with section.key=value and asserts that it
// fails with code, naming every one of says.
static void refused(
    oscar_registry_t *reg, const char *const *kv, int code, const char *say1, const char *say2)
{
	oscar_settings_t *s;
	oscar_node_t     *node = NULL;
	oscar_error_t     err;
	oscar_settings_new(&s);
	for (size_t i = 0; kv[i] != NULL; i += 3) {
		oscar_settings_set(s, kv[i], kv[i + 1], kv[i + 2]);
	}
	int rv = oscar_node_start(&node, OSCAR_ROLE_SUPERVISOR, s, reg, &err);
	cr_assert_eq(rv, code, "%s=%s: %d, %d expected (%s)", kv[1], kv[2], rv, code, err.message);
	cr_assert_null(node);
	cr_assert(strstr(err.message, say1) != NULL, "'%s' does not say '%s'", err.message, say1);
	cr_assert(say2 == NULL || strstr(err.message, say2) != NULL, "'%s' does not say '%s'",
	    err.message, say2);
	cr_assert_str_eq(journal, "", "nothing started");
	oscar_settings_free(&s);
}

Test(service, settings_are_checked_before_anything_starts)
{
	const oscar_service_t *const extra[]   = { &probe_service, NULL };
	oscar_registry_t            *reg       = registry_with(extra);
	const char *const            unknown[] = { "probe", "levle", "2", NULL };
	refused(reg, unknown, OSCAR_EINVAL, "unknown setting probe.levle", NULL);
	const char *const range[] = { "probe", "level", "12", NULL };
	refused(reg, range, OSCAR_EINVAL, "probe.level", "12");
	const char *const junk[] = { "probe", "pause", "soon", NULL };
	refused(reg, junk, OSCAR_EINVAL, "probe.pause", "soon");
	const char *const hook[] = { "probe", "floor", "5", "probe", "level", "4", NULL };
	refused(reg, hook, OSCAR_EINVAL, "probe.floor (5) is above probe.level", NULL);

	// The defaults apply when nothing is set, and a value in range is read.
	oscar_settings_t *s;
	oscar_settings_new(&s);
	int64_t v = 0;
	cr_assert_eq(oscar_service_setting_int(s, &probe_service, "pause", &v, NULL), 0);
	cr_assert_eq(v, 250);
	cr_assert_str_eq(oscar_service_setting_str(s, &probe_service, "name"), "probe");
	oscar_settings_set(s, "probe", "level", "7");
	cr_assert_eq(oscar_service_setting_int(s, &probe_service, "level", &v, NULL), 0);
	cr_assert_eq(v, 7);
	oscar_error_t err;
	cr_assert_eq(
	    oscar_service_setting_int(s, &probe_service, "nonesuch", &v, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "nonesuch") != NULL);
	oscar_settings_free(&s);
	oscar_registry_free(&reg);
}

Test(service, a_bad_setting_makes_the_node_program_exit_2_naming_it)
{
	const oscar_service_t *const extra[] = { &probe_service, NULL };
	oscar_registry_t            *reg     = registry_with(extra);
	char *argv1[] = { "oscar-supervisor", "--set", "probe.level=12", NULL };
	cr_assert_eq(oscar_node_main(OSCAR_ROLE_SUPERVISOR, 3, argv1, reg), 2);
	char *argv2[] = { "oscar-supervisor", "--set", "probe.bogus=1", NULL };
	cr_assert_eq(oscar_node_main(OSCAR_ROLE_SUPERVISOR, 3, argv2, reg), 2);
	cr_assert_str_eq(journal, "", "nothing started");
	oscar_registry_free(&reg);
}

// ---------------------------------------------------------------------------
// Dependencies

Test(service, a_missing_dependency_is_a_clear_error)
{
	const oscar_service_t *const extra[] = { &needy_service, NULL };
	oscar_registry_t            *reg     = registry_with(extra);
	const char *const            none[]  = { "node", "listen", "tcp://127.0.0.1:0", NULL };
	refused(reg, none, OSCAR_ENOENT, "service needy needs service absent", "not registered");
	oscar_registry_free(&reg);

	// A service a supervisor runs cannot need one that runs on workers only.
	const oscar_service_t *const extra2[] = { &probe_service, &wprobe_service,
		&sup_needs_worker_service, NULL };
	reg                                   = registry_with(extra2);
	refused(reg, none, OSCAR_ENOENT, "service lonely needs service wprobe",
	    "does not run on a supervisor");
	oscar_registry_free(&reg);

	const oscar_service_t *const loops[] = { &loop_a_service, &loop_b_service, NULL };
	reg                                  = registry_with(loops);
	refused(reg, none, OSCAR_EINVAL, "cycle", NULL);
	oscar_registry_free(&reg);

	// Through the program: a usage error, status 2.
	reg          = registry_with(extra);
	char *argv[] = { "oscar-supervisor", NULL };
	cr_assert_eq(oscar_node_main(OSCAR_ROLE_SUPERVISOR, 1, argv, reg), 2);
	oscar_registry_free(&reg);
}

Test(service, needed_services_start_first_even_when_not_named)
{
	const oscar_service_t *const extra[] = { &wprobe_service, &probe_service, NULL };
	oscar_registry_t            *reg     = registry_with(extra);
	oscar_settings_t            *s;
	oscar_node_t                *sup, *worker;
	oscar_error_t                err;
	oscar_settings_new(&s);
	oscar_settings_set(s, "node", "services", "probe");
	cr_assert_eq(
	    oscar_node_start(&sup, OSCAR_ROLE_SUPERVISOR, s, reg, &err), 0, "%s", err.message);
	// wprobe is registered first, but needs probe: probe starts first.
	oscar_settings_set(s, "node", "services", "wprobe");
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(sup));
	journal[0] = '\0';
	cr_assert_eq(
	    oscar_node_start(&worker, OSCAR_ROLE_WORKER, s, reg, &err), 0, "%s", err.message);
	char want[512];
	snprintf(want, sizeof(want),
	    "probe@%s:start:probe wprobe@%s:start: ", oscar_node_address(worker),
	    oscar_node_address(worker));
	cr_assert_str_eq(journal, want);
	cr_assert(oscar_node_runs(worker, "cluster") && oscar_node_runs(worker, "probe") &&
	          oscar_node_runs(worker, "wprobe"));
	oscar_node_stop(&worker);
	oscar_node_stop(&sup);
	oscar_settings_free(&s);
	oscar_registry_free(&reg);
}

// ---------------------------------------------------------------------------
// Session hooks, and the node's context

Test(service, session_hooks_run_on_every_node_that_runs_the_service)
{
	const oscar_service_t *const extra[] = { &probe_service, &wprobe_service, NULL };
	oscar_registry_t            *reg     = registry_with(extra);
	oscar_settings_t            *s;
	oscar_node_t                *nodes[3];
	oscar_error_t                err;
	oscar_settings_new(&s);
	cr_assert_eq(
	    oscar_node_start(&nodes[0], OSCAR_ROLE_SUPERVISOR, s, reg, &err), 0, "%s", err.message);
	oscar_settings_set(s, "node", "supervisor", oscar_node_address(nodes[0]));
	for (int i = 1; i < 3; i++) {
		cr_assert_eq(oscar_node_start(&nodes[i], OSCAR_ROLE_WORKER, s, reg, &err), 0, "%s",
		    err.message);
	}
	journal[0] = '\0';
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(oscar_node_session_create(nodes[i], "s1", &err), 0, "%s", err.message);
	}
	char   want[2048] = "";
	size_t at         = 0;
	for (int i = 0; i < 3; i++) {
		const char *a = oscar_node_address(nodes[i]);
		at += (size_t) snprintf(want + at, sizeof(want) - at, "probe@%s:create:s1\n", a);
		if (i > 0) { // wprobe runs on the workers only
			at += (size_t) snprintf(
			    want + at, sizeof(want) - at, "wprobe@%s:create:s1\n", a);
		}
	}
	cr_assert_str_eq(journal, want);

	// Destroyed in reverse order on each node.
	journal[0] = '\0';
	oscar_node_session_destroy(nodes[1], "s1");
	const char *a = oscar_node_address(nodes[1]);
	snprintf(want, sizeof(want), "wprobe@%s:destroy:s1\nprobe@%s:destroy:s1\n", a, a);
	cr_assert_str_eq(journal, want);

	// A hook that fails undoes the hooks that ran before it, and says which
	// service failed.
	journal[0] = '\0';
	cr_assert_eq(oscar_node_session_create(nodes[2], "bad", &err), OSCAR_EUSER + 7);
	cr_assert(strstr(err.message, "service wprobe cannot create session bad: no bad "
	                              "sessions here") != NULL,
	    "%s", err.message);
	a = oscar_node_address(nodes[2]);
	snprintf(want, sizeof(want), "probe@%s:create:bad\nprobe@%s:destroy:bad\n", a, a);
	cr_assert_str_eq(journal, want);
	cr_assert_eq(oscar_node_session_create(nodes[2], "", &err), OSCAR_EINVAL);

	// Each node's probe actor finds its own node through its pool.
	for (int i = 0; i < 3; i++) {
		oscar_ref_t    ref;
		oscar_value_t *v;
		const char    *where;
		size_t         len;
		oscar_ref_make(&ref, oscar_node_address(nodes[i]), "test.probe");
		cr_assert_eq(
		    oscar_call(oscar_node_pool(nodes[i]), &ref, "where", NULL, 5000, &v, &err), 0,
		    "%s", err.message);
		cr_assert_eq(oscar_value_get_str(v, &where, &len), 0);
		cr_assert_str_eq(where, oscar_node_address(nodes[i]));
		oscar_value_free(v);
	}
	for (int i = 2; i >= 0; i--) {
		oscar_node_stop(&nodes[i]);
	}
	oscar_settings_free(&s);
	oscar_registry_free(&reg);
}

Test(service, an_actor_of_a_plain_pool_has_no_node)
{
	oscar_pool_t *pool;
	oscar_ref_t   ref;
	oscar_error_t err;
	pool = pool_open(NULL);
	cr_assert_eq(oscar_create(pool, &probe_class, "p", NULL, 5000, &ref, &err), 0);
	cr_assert_eq(oscar_call(pool, &ref, "where", NULL, 5000, NULL, &err), OSCAR_ENOENT);
	cr_assert_null(oscar_pool_context(pool, &probe_class), "no context was given");
	oscar_pool_census_t census;
	cr_assert_eq(oscar_pool_census(pool, &census), OSCAR_ESTATE, "not from a host thread");
	oscar_pool_free(&pool);
}

// ---------------------------------------------------------------------------
// Method tables

Test(service, method_tables_check_the_shape_of_arguments)
{
	oscar_settings_t *s;
	oscar_node_t     *sup;
	oscar_error_t     err;
	oscar_settings_new(&s);
	cr_assert_eq(
	    oscar_node_start(&sup, OSCAR_ROLE_SUPERVISOR, s, NULL, &err), 0, "%s", err.message);
	oscar_ref_t ref;
	oscar_ref_make(&ref, oscar_node_address(sup), OSCAR_CLUSTER_UID);
	cr_assert_eq(oscar_call(oscar_node_pool(sup), &ref, "register", oscar_value_new_str("x"),
	                 5000, NULL, &err),
	    OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "register takes a map") != NULL, "%s", err.message);
	cr_assert_eq(oscar_call(oscar_node_pool(sup), &ref, "count", oscar_value_new_str("x"), 5000,
	                 NULL, &err),
	    OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "count takes an array or nil") != NULL, "%s", err.message);
	oscar_value_t *v;
	cr_assert_eq(oscar_call(oscar_node_pool(sup), &ref, "count", NULL, 5000, &v, &err), 0,
	    "nil arguments take the defaults: %s", err.message);
	oscar_value_free(v);
	oscar_node_stop(&sup);
	oscar_settings_free(&s);
}

// ---------------------------------------------------------------------------
// Errors and readers

Test(service, oscar_error_set_and_the_tolerant_readers)
{
	oscar_error_t err;
	memset(&err, 0x55, sizeof(err));
	cr_assert_eq(oscar_error_set(&err, OSCAR_EINVAL, "bad %s %d", "thing", 3), OSCAR_EINVAL);
	cr_assert_eq(err.code, OSCAR_EINVAL);
	cr_assert_str_eq(err.message, "bad thing 3");
	cr_assert_eq(err.pid, 0);
	cr_assert_str_eq(err.address, "");
	cr_assert_eq(oscar_error_set(NULL, OSCAR_ENOENT, "nowhere"), OSCAR_ENOENT);

	oscar_value_t *m = oscar_value_new_map(4);
	oscar_value_map_set(m, "n", oscar_value_new_int(-4));
	oscar_value_map_set(m, "s", oscar_value_new_str("yes"));
	cr_assert_eq(oscar_value_map_int(m, "n", 9), -4);
	cr_assert_eq(oscar_value_map_uint(m, "n", 9), 9, "negative: not a uint");
	cr_assert_eq(oscar_value_map_int(m, "s", 9), 9, "a string is not a number");
	cr_assert_eq(oscar_value_map_int(m, "missing", 9), 9);
	cr_assert_str_eq(oscar_value_map_str(m, "s"), "yes");
	cr_assert_null(oscar_value_map_str(m, "n"));
	cr_assert_null(oscar_value_map_str(NULL, "s"));
	cr_assert_eq(oscar_value_at_uint(m, 0, 5), 5, "a map is not an array");
	oscar_value_t *a = oscar_value_new_array(2);
	oscar_value_array_push(a, oscar_value_new_uint(8));
	cr_assert_eq(oscar_value_at_uint(a, 0, 5), 8);
	cr_assert_eq(oscar_value_at_uint(a, 1, 5), 5);
	cr_assert_null(oscar_value_at_str(a, 0));
	oscar_value_free(a);
	oscar_value_free(m);
}
