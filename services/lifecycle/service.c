// The lifecycle service's table: its settings, and its session hooks,
// which create and destroy a session's actor (supervisor.c).
#include <stdlib.h>

#include "oscar/oscar.h"
#include "services/lifecycle/lifecycle_int.h"

static const oscar_setting_spec_t osc_lifecycle_specs[] = {
	{ "max_keys", OSCAR_SETTING_INT, "1000000", 1, 1000000000,
	    "the most keys one session's lifecycle counts" },
	{ "storage_timeout", OSCAR_SETTING_MS, "10s", 10, 3600000,
	    "how long a freed key's meta entry and storage deletes may take" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

typedef struct osc_lifecycle_cfg {
	int64_t max_keys;
	int64_t timeout_ms;
} osc_lifecycle_cfg_t;

static int osc_lifecycle_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	osc_lifecycle_cfg_t *cfg = malloc(sizeof(*cfg));
	if (cfg == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	const osc_setting_int_t all[] = {
		{ "max_keys", &cfg->max_keys },
		{ "storage_timeout", &cfg->timeout_ms },
	};
	int rv = osc_service_settings_int(
	    oscar_node_settings(node), &osc_lifecycle_service, all, 2, err);
	if (rv != 0) {
		free(cfg);
		return (rv);
	}
	*state = cfg;
	return (0);
}

static void osc_lifecycle_stop(oscar_node_t *node, void *state)
{
	(void) node;
	free(state);
}

static int osc_lifecycle_session_create(
    oscar_node_t *node, void *state, const char *session, oscar_error_t *err)
{
	const osc_lifecycle_cfg_t *cfg = state;
	char                       uid[OSCAR_UID_MAX];
	if (osc_session_uid(uid, OSCAR_LIFECYCLE_UID_PREFIX, session) != 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "bad session id %s", session));
	}
	oscar_value_t *args = oscar_value_new_map(3);
	oscar_value_map_set(args, "session", oscar_value_new_str(session));
	oscar_value_map_set(args, "max_keys", oscar_value_new_int(cfg->max_keys));
	oscar_value_map_set(args, "timeout_ms", oscar_value_new_int(cfg->timeout_ms));
	oscar_ref_t ref;
	int         rv =
	    oscar_create(oscar_node_pool(node), &osc_lifecycle_class, uid, args, 10000, &ref, err);
	return (rv == OSCAR_EEXIST ? 0 : rv);
}

static void osc_lifecycle_session_destroy(oscar_node_t *node, void *state, const char *session)
{
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t ref;
	(void) state;
	if (osc_session_uid(uid, OSCAR_LIFECYCLE_UID_PREFIX, session) == 0 &&
	    oscar_ref_make(&ref, oscar_node_address(node), uid) == 0) {
		oscar_destroy(oscar_node_pool(node), &ref, 10000, NULL);
	}
}

static const char *const osc_lifecycle_needs[] = { "meta", NULL };

const oscar_service_t osc_lifecycle_service = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = OSC_LIFECYCLE_SECTION,
	.roles           = OSCAR_ROLE_SUPERVISOR,
	.needs           = osc_lifecycle_needs,
	.settings        = osc_lifecycle_specs,
	.start           = osc_lifecycle_start,
	.stop            = osc_lifecycle_stop,
	.session_create  = osc_lifecycle_session_create,
	.session_destroy = osc_lifecycle_session_destroy,
};
