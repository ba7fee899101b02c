// The meta service's table: its settings, and its session hooks, which
// create and destroy a session's actor (supervisor.c).
#include <stdlib.h>

#include "oscar/oscar.h"
#include "services/meta/meta_int.h"

static const oscar_setting_spec_t osc_meta_specs[] = {
	{ "max_entries", OSCAR_SETTING_INT, "1000000", 1, 1000000000,
	    "the most object entries one session's meta holds" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static int osc_meta_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	int64_t *max = malloc(sizeof(*max));
	if (max == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	int rv = oscar_service_setting_int(
	    oscar_node_settings(node), &osc_meta_service, "max_entries", max, err);
	if (rv != 0) {
		free(max);
		return (rv);
	}
	*state = max;
	return (0);
}

static void osc_meta_stop(oscar_node_t *node, void *state)
{
	(void) node;
	free(state);
}

static int osc_meta_session_create(
    oscar_node_t *node, void *state, const char *session, oscar_error_t *err)
{
	char uid[OSCAR_UID_MAX];
	if (osc_session_uid(uid, OSCAR_META_UID_PREFIX, session) != 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "bad session id %s", session));
	}
	oscar_value_t *args = oscar_value_new_map(2);
	oscar_value_map_set(args, "session", oscar_value_new_str(session));
	oscar_value_map_set(args, "max_entries", oscar_value_new_int(*(int64_t *) state));
	oscar_ref_t ref;
	int rv = oscar_create(oscar_node_pool(node), &osc_meta_class, uid, args, 10000, &ref, err);
	return (rv == OSCAR_EEXIST ? 0 : rv);
}

static void osc_meta_session_destroy(oscar_node_t *node, void *state, const char *session)
{
	char        uid[OSCAR_UID_MAX];
	oscar_ref_t ref;
	(void) state;
	if (osc_session_uid(uid, OSCAR_META_UID_PREFIX, session) == 0 &&
	    oscar_ref_make(&ref, oscar_node_address(node), uid) == 0) {
		oscar_destroy(oscar_node_pool(node), &ref, 10000, NULL);
	}
}

static const char *const osc_meta_needs[] = { "session", NULL };

const oscar_service_t osc_meta_service = {
	.abi             = OSCAR_SERVICE_ABI,
	.name            = OSC_META_SECTION,
	.roles           = OSCAR_ROLE_SUPERVISOR,
	.needs           = osc_meta_needs,
	.settings        = osc_meta_specs,
	.start           = osc_meta_start,
	.stop            = osc_meta_stop,
	.session_create  = osc_meta_session_create,
	.session_destroy = osc_meta_session_destroy,
};
