// The greeter module: a custom service loaded into oscar-supervisor and
// oscar-worker with --load-modules. Its entry point, oscar_module_init,
// adds the service to the node's registry; the node starts it after the
// built-in services and stops it before them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greeter.h"

// A greeter's state: what it says, and how often it has said it.
typedef struct greeter {
	char     greeting[64];
	uint64_t count;
} greeter_t;

// create: args may be a greeting (a string); the default is "Hello".
static int greeter_create(oscar_actor_t *self, const oscar_value_t *args)
{
	greeter_t  *g = oscar_actor_state(self);
	const char *greeting;
	size_t      len;
	if (oscar_value_get_str(args, &greeting, &len) != 0) {
		greeting = "Hello";
	}
	snprintf(g->greeting, sizeof(g->greeting), "%s", greeting);
	return (0);
}

// greet(name) -> "Hello, name, from <pool address>"
static int greeter_greet_m(oscar_actor_t *self, oscar_req_t *req)
{
	greeter_t  *g = oscar_actor_state(self);
	const char *name;
	size_t      len;
	if (oscar_value_get_str(oscar_req_args(req), &name, &len) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "greet takes a name (a string)"));
	}
	char text[512];
	snprintf(text, sizeof(text), "%s, %s, from %s", g->greeting, name,
	    oscar_pool_address(oscar_actor_pool(self)));
	g->count++;
	return (oscar_req_reply(req, oscar_value_new_str(text)));
}

// count() -> how many greetings so far
static int greeter_count_m(oscar_actor_t *self, oscar_req_t *req)
{
	greeter_t *g = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_uint(g->count)));
}

static const oscar_method_t greeter_methods[] = {
	{ "greet", greeter_greet_m, NULL },
	{ "count", greeter_count_m, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t greeter_class = {
	.name       = GREETER_CLASS,
	.state_size = sizeof(greeter_t),
	.create     = greeter_create,
	.methods    = greeter_methods,
};

static const oscar_actor_class_t *const greeter_classes[] = { &greeter_class, NULL };

// The service's settings, section [greeter]: the node refuses any other key
// there, and a fail_start that is not a boolean, before anything starts.
static const oscar_setting_spec_t greeter_settings[] = {
	{ "greeting", OSCAR_SETTING_STR, "Hello", 0, 0, "what the greeter says" },
	{ "fail_start", OSCAR_SETTING_BOOL, "false", 0, 0, "fail the start (for tests)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static const oscar_service_t greeter_service;

// The service: on start, one greeter with the configured greeting.
static int greeter_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	const oscar_settings_t *s = oscar_node_settings(node);
	bool                    fail;
	int rv = oscar_service_setting_bool(s, &greeter_service, "fail_start", &fail, err);
	if (rv != 0) {
		return (rv);
	}
	if (fail) {
		return (oscar_error_set(err, OSCAR_EUSER, "told to fail (greeter.fail_start)"));
	}
	const char *greeting = oscar_service_setting_str(s, &greeter_service, "greeting");
	oscar_ref_t ref;
	rv = oscar_create(oscar_node_pool(node), &greeter_class, GREETER_UID,
	    oscar_value_new_str(greeting), 5000, &ref, err);
	if (rv == 0) {
		oscar_log(OSCAR_LOG_INFO, "greeter", "greeting with '%s'", greeting);
	}
	return (rv);
}

static void greeter_stop(oscar_node_t *node, void *state)
{
	oscar_ref_t ref;
	oscar_ref_make(&ref, oscar_node_address(node), GREETER_UID);
	oscar_destroy(oscar_node_pool(node), &ref, 2000, NULL);
}

// It needs the cluster service (started first anyway): said for the reader.
static const char *const greeter_needs[] = { "cluster", NULL };

static const oscar_service_t greeter_service = {
	.abi      = OSCAR_SERVICE_ABI,
	.name     = "greeter",
	.roles    = OSCAR_ROLES_ALL,
	.needs    = greeter_needs,
	.settings = greeter_settings,
	.classes  = greeter_classes,
	.start    = greeter_start,
	.stop     = greeter_stop,
};

// oscar_module_init is what the node looks up after loading the module.
int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err);

int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err)
{
	return (oscar_registry_add(reg, &greeter_service, err));
}
