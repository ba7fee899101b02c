// The session service's table: its settings, and its actor started on a
// supervisor (supervisor.c).
#include "oscar/oscar.h"
#include "services/session/session_int.h"

static const oscar_setting_spec_t osc_session_specs[] = {
	{ "max_sessions", OSCAR_SETTING_INT, "10000", 1, 1000000,
	    "the most sessions a cluster holds at once" },
	{ "hook_timeout", OSCAR_SETTING_MS, "30s", 10, 3600000,
	    "how long a node may take to run its session hooks" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static int osc_session_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	int64_t                 max, timeout;
	const osc_setting_int_t all[] = {
		{ "max_sessions", &max },
		{ "hook_timeout", &timeout },
	};
	int rv =
	    osc_service_settings_int(oscar_node_settings(node), &osc_session_service, all, 2, err);
	if (rv != 0) {
		return (rv);
	}
	oscar_value_t *args = oscar_value_new_map(2);
	oscar_value_map_set(args, "max_sessions", oscar_value_new_int(max));
	oscar_value_map_set(args, "hook_timeout_ms", oscar_value_new_int(timeout));
	oscar_ref_t ref;
	*state = NULL;
	return (oscar_create(
	    oscar_node_pool(node), &osc_sessions_class, OSCAR_SESSIONS_UID, args, 5000, &ref, err));
}

static const char *const osc_session_needs[] = { "cluster", NULL };

const oscar_service_t osc_session_service = {
	.abi      = OSCAR_SERVICE_ABI,
	.name     = OSC_SESSION_SECTION,
	.roles    = OSCAR_ROLE_SUPERVISOR,
	.needs    = osc_session_needs,
	.settings = osc_session_specs,
	.start    = osc_session_start,
};
