// The task service's table: its settings, the task manager each session
// gets on the supervisor (created by the session_create hook, destroyed
// by session_destroy), and the functions a worker offers, added to its
// node info.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/oscar.h"
#include "services/task/graph.h"
#include "services/task/task_int.h"

// The task service's settings: section [task].
static const oscar_setting_spec_t osc_task_specs[] = {
	{ "queue", OSCAR_SETTING_STR, "auto", 0, 0,
	    "tasks a worker is given beyond its slots, so that slots do not idle: auto "
	    "(sized from its tasks' run times, see queue_ms) or 0 to 65536" },
	{ "queue_ms", OSCAR_SETTING_MS, "5ms", 1, 1000,
	    "with queue = auto: about this much work is queued per slot" },
	{ "queue_max", OSCAR_SETTING_INT, "1024", 2, 65536,
	    "with queue = auto: the most tasks a worker is given beyond its slots" },
	{ "max_graph_tasks", OSCAR_SETTING_INT, "1048576", 1, 16777216,
	    "the most tasks in one graph" },
	{ "max_graphs", OSCAR_SETTING_INT, "4096", 1, 1048576,
	    "the most graphs a session holds, finished ones included" },
	{ "max_waits", OSCAR_SETTING_INT, "10000", 1, 1048576,
	    "the most wait requests parked at once in one session" },
	{ "kill_timeout", OSCAR_SETTING_MS, "3s", 0, 3600000,
	    "a cancelled task still running this long after is stopped by killing its slot" },
	{ "shm_threshold", OSCAR_SETTING_BYTES, "1M", 0, (int64_t) 1 << 40,
	    "inputs and outputs of a task this large or larger go between the worker and its "
	    "slot through the storage's shared memory, not in messages; 0: never" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

int osc_task_settings(const oscar_settings_t *s, osc_task_settings_t *out, oscar_error_t *err)
{
	const char *q = oscar_service_setting_str(s, &osc_task_service, "queue");
	if (q == NULL || strcmp(q, "auto") == 0) {
		out->queue = -1;
	} else {
		char     *end = NULL;
		long long v   = strtoll(q, &end, 10);
		if (end == q || *end != '\0' || v < 0 || v > OSC_TM_QUEUE_MAX) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "setting [task] queue: \"%s\" is neither auto nor a number from 0 to "
			    "%d",
			    q, OSC_TM_QUEUE_MAX));
		}
		out->queue = v;
	}
	const osc_setting_int_t all[] = {
		{ "queue_ms", &out->queue_ms },
		{ "queue_max", &out->queue_max },
		{ "max_graph_tasks", &out->max_graph_tasks },
		{ "max_graphs", &out->max_graphs },
		{ "max_waits", &out->max_waits },
		{ "kill_timeout", &out->kill_timeout_ms },
		{ "shm_threshold", &out->shm_threshold },
	};
	return (
	    osc_service_settings_int(s, &osc_task_service, all, sizeof(all) / sizeof(all[0]), err));
}

// osc_task_start: a worker gets its executor and slot keeper; the
// supervisor's task managers come with sessions.
static int osc_task_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	osc_task_settings_t cfg;
	osc_keeper_t       *k = NULL;
	*state                = NULL;
	int rv                = osc_task_settings(oscar_node_settings(node), &cfg, err);
	if (rv == 0 && oscar_node_role(node) == OSCAR_ROLE_WORKER &&
	    (rv = osc_keeper_start(node, &k, err)) == 0) {
		*state = k;
	}
	return (rv);
}

static void osc_task_stop(oscar_node_t *node, void *state)
{
	osc_keeper_t *k = state;
	(void) node;
	osc_keeper_stop(&k);
}

// osc_task_uid makes the uid of session_id's task manager.
static int osc_task_uid(char *uid, size_t size, const char *session_id, oscar_error_t *err)
{
	if ((size_t) snprintf(uid, size, "%s%s", OSC_TASK_UID_PREFIX, session_id) >= size) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "session id %s is too long for a task manager", session_id));
	}
	return (0);
}

// osc_task_session_create starts the session's task manager on the
// supervisor; workers need nothing per session.
static int osc_task_session_create(
    oscar_node_t *node, void *state, const char *session_id, oscar_error_t *err)
{
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t ref;
	int         rv;
	(void) state;
	if (oscar_node_role(node) != OSCAR_ROLE_SUPERVISOR) {
		return (0);
	}
	if ((rv = osc_task_uid(uid, sizeof(uid), session_id, err)) != 0) {
		return (rv);
	}
	return (oscar_create(oscar_node_pool(node), &osc_task_manager_class, uid,
	    oscar_value_new_str(session_id), 5000, &ref, err));
}

static void osc_task_session_destroy(oscar_node_t *node, void *state, const char *session_id)
{
	char          uid[OSCAR_UID_MAX];
	oscar_ref_t   ref;
	oscar_error_t err;
	(void) state;
	if (oscar_node_role(node) != OSCAR_ROLE_SUPERVISOR ||
	    osc_task_uid(uid, sizeof(uid), session_id, &err) != 0 ||
	    oscar_ref_make(&ref, oscar_node_address(node), uid) != 0) {
		return;
	}
	int rv = oscar_destroy(oscar_node_pool(node), &ref, 5000, &err);
	if (rv != 0 && rv != OSCAR_ENOACTOR) {
		oscar_log(OSCAR_LOG_WARN, "task", "cannot stop the task manager of session %s: %s",
		    session_id, err.message);
	}
}

// osc_task_info adds the functions a worker offers to its node info: the
// supervisor sends a task only to a worker that offers its function.
static int osc_task_info(oscar_node_t *node, void *state, oscar_value_t *info)
{
	(void) state;
	if (oscar_node_role(node) != OSCAR_ROLE_WORKER) {
		return (0);
	}
	oscar_value_t *names = oscar_taskfns_names(oscar_registry_taskfns(osc_node_registry(node)));
	if (names == NULL) {
		return (OSCAR_ENOMEM);
	}
	return (oscar_value_map_set(info, "functions", names));
}

static const char *const osc_task_needs[] = { "cluster", NULL };

// Only the slot runner is offered by name: the executor makes it in the
// sub pools. The manager and the executor are made by the service itself.
static const oscar_actor_class_t *const osc_task_classes[] = {
	&osc_task_slot_class,
	NULL,
};

const oscar_service_t osc_task_service = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = OSC_TASK_SECTION,
	.roles           = OSCAR_ROLES_ALL,
	.needs           = osc_task_needs,
	.settings        = osc_task_specs,
	.classes         = osc_task_classes,
	.start           = osc_task_start,
	.stop            = osc_task_stop,
	.session_create  = osc_task_session_create,
	.session_destroy = osc_task_session_destroy,
	.info            = osc_task_info,
};
