// What every service shares: reading and checking the settings its table
// describes, and the method tables its actors dispatch through and its
// typed API calls through.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/services_int.h"

// ---------------------------------------------------------------------------
// Settings

static const oscar_setting_spec_t *osc_spec_find(const oscar_service_t *svc, const char *key)
{
	for (size_t i = 0; svc != NULL && svc->settings != NULL && svc->settings[i].key != NULL;
	     i++) {
		if (strcmp(svc->settings[i].key, key) == 0) {
			return (&svc->settings[i]);
		}
	}
	return (NULL);
}

// osc_spec_int reads spec's setting as an integer: unset, its default,
// which is parsed as a value in the file would be (a default that does not
// parse is the service's bug, reported as the setting's).
static int osc_spec_int(const oscar_settings_t *s, const char *section,
    const oscar_setting_spec_t *spec, int64_t *out, oscar_error_t *err)
{
	oscar_settings_t *defs = NULL;
	const char       *have = oscar_settings_get(s, section, spec->key);
	int               rv;
	if (have == NULL && spec->def != NULL) {
		// The default goes through the same parser as a value would.
		if ((rv = oscar_settings_new(&defs)) != 0 ||
		    (rv = oscar_settings_set(defs, section, spec->key, spec->def)) != 0) {
			oscar_settings_free(&defs);
			return (oscar_error_set(err, rv, "cannot read the default of %s.%s: %s",
			    section, spec->key, oscar_strerror(rv)));
		}
		s = defs;
	}
	uint64_t u;
	switch (spec->type) {
	case OSCAR_SETTING_INT:
		rv = oscar_settings_get_int(
		    s, section, spec->key, spec->min, spec->min, spec->max, out, err);
		break;
	case OSCAR_SETTING_MS:
		rv = oscar_settings_get_ms(
		    s, section, spec->key, spec->min, spec->min, spec->max, out, err);
		break;
	case OSCAR_SETTING_BYTES:
		rv = oscar_settings_get_bytes(s, section, spec->key, (uint64_t) spec->min, &u, err);
		if (rv == 0 && (u < (uint64_t) spec->min || u > (uint64_t) spec->max)) {
			rv = oscar_error_set(err, OSCAR_EINVAL,
			    "bad value '%s' for %s.%s: expected %" PRId64 " to %" PRId64 " bytes",
			    oscar_settings_get(s, section, spec->key), section, spec->key,
			    spec->min, spec->max);
		}
		*out = rv == 0 ? (int64_t) u : 0;
		break;
	default:
		rv = oscar_error_set(
		    err, OSCAR_EINVAL, "%s.%s is not a number setting", section, spec->key);
		break;
	}
	oscar_settings_free(&defs);
	return (rv);
}

int oscar_service_setting_int(const oscar_settings_t *s, const oscar_service_t *svc,
    const char *key, int64_t *out, oscar_error_t *err)
{
	const oscar_setting_spec_t *spec = key != NULL ? osc_spec_find(svc, key) : NULL;
	if (spec == NULL || out == NULL) {
		return (oscar_error_set(err, OSCAR_ENOENT, "service %s has no setting %s",
		    svc != NULL ? svc->name : "?", key != NULL ? key : "?"));
	}
	return (osc_spec_int(s, svc->name, spec, out, err));
}

int osc_service_settings_int(const oscar_settings_t *s, const oscar_service_t *svc,
    const osc_setting_int_t *all, size_t n, oscar_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		int rv = oscar_service_setting_int(s, svc, all[i].key, all[i].out, err);
		if (rv != 0) {
			return (rv);
		}
	}
	return (0);
}

int oscar_service_setting_bool(const oscar_settings_t *s, const oscar_service_t *svc,
    const char *key, bool *out, oscar_error_t *err)
{
	const oscar_setting_spec_t *spec = key != NULL ? osc_spec_find(svc, key) : NULL;
	if (spec == NULL || out == NULL || spec->type != OSCAR_SETTING_BOOL) {
		return (oscar_error_set(err, OSCAR_ENOENT, "service %s has no boolean setting %s",
		    svc != NULL ? svc->name : "?", key != NULL ? key : "?"));
	}
	const char *def = spec->def != NULL ? spec->def : "false";
	bool d = strcmp(def, "true") == 0 || strcmp(def, "yes") == 0 || strcmp(def, "on") == 0 ||
	         strcmp(def, "1") == 0;
	return (oscar_settings_get_bool(s, svc->name, key, d, out, err));
}

const char *oscar_service_setting_str(
    const oscar_settings_t *s, const oscar_service_t *svc, const char *key)
{
	const oscar_setting_spec_t *spec = key != NULL ? osc_spec_find(svc, key) : NULL;
	if (spec == NULL) {
		return (NULL);
	}
	const char *v = oscar_settings_get(s, svc->name, key);
	return (v != NULL ? v : spec->def);
}

typedef struct osc_keys_walk {
	const oscar_service_t *svc;
	oscar_error_t         *err;
} osc_keys_walk_t;

static int osc_check_key(void *arg, const char *section, const char *key, const char *value)
{
	osc_keys_walk_t *w = arg;
	(void) value;
	if (strcmp(section, w->svc->name) == 0 && osc_spec_find(w->svc, key) == NULL) {
		return (
		    oscar_error_set(w->err, OSCAR_EINVAL, "unknown setting %s.%s", section, key));
	}
	return (0);
}

int osc_service_check_settings(
    const oscar_service_t *svc, const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err)
{
	int rv;
	if (svc->settings != NULL) {
		osc_keys_walk_t w = { svc, err };
		if ((rv = oscar_settings_each(s, osc_check_key, &w)) != 0) {
			return (rv);
		}
		for (size_t i = 0; svc->settings[i].key != NULL; i++) {
			const oscar_setting_spec_t *spec = &svc->settings[i];
			int64_t                     v;
			bool                        b;
			switch (spec->type) {
			case OSCAR_SETTING_INT:
			case OSCAR_SETTING_MS:
			case OSCAR_SETTING_BYTES:
				rv = osc_spec_int(s, svc->name, spec, &v, err);
				break;
			case OSCAR_SETTING_BOOL:
				rv = oscar_service_setting_bool(s, svc, spec->key, &b, err);
				break;
			default:
				rv = 0;
				break;
			}
			if (rv != 0) {
				return (rv);
			}
		}
	}
	if (svc->check != NULL && (rv = svc->check(s, role, err)) != 0) {
		if (err != NULL && err->message[0] == '\0') {
			oscar_error_set(err, rv, "service %s refuses its settings: %s", svc->name,
			    oscar_strerror(rv));
		}
		return (rv);
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Method tables

bool osc_shape_ok(unsigned shape, const oscar_value_t *v)
{
	oscar_type_t t = v != NULL ? v->type : OSCAR_NIL;
	if (t == OSCAR_NIL && (shape & OSC_SHAPE_OR_NIL) != 0) {
		return (true);
	}
	int64_t  i;
	uint64_t u;
	switch (shape & ~OSC_SHAPE_OR_NIL) {
	case OSC_SHAPE_ANY:
		return (true);
	case OSC_SHAPE_NIL:
		return (t == OSCAR_NIL);
	case OSC_SHAPE_MAP:
		return (t == OSCAR_MAP);
	case OSC_SHAPE_ARRAY:
		return (t == OSCAR_ARRAY);
	case OSC_SHAPE_UINT:
		return (oscar_value_get_uint(v, &u) == 0);
	case OSC_SHAPE_INT:
		return (oscar_value_get_int(v, &i) == 0);
	case OSC_SHAPE_STR:
		return (t == OSCAR_STR);
	}
	return (false);
}

const char *osc_shape_name(unsigned shape)
{
	static const char *const names[]  = { "anything", "nil", "a map", "an array",
		 "an unsigned integer", "an integer", "a string" };
	static const char *const or_nil[] = { "anything", "nil", "a map or nil", "an array or nil",
		"an unsigned integer or nil", "an integer or nil", "a string or nil" };
	unsigned                 base     = shape & ~OSC_SHAPE_OR_NIL;
	if (base > OSC_SHAPE_STR) {
		return ("?");
	}
	return ((shape & OSC_SHAPE_OR_NIL) != 0 ? or_nil[base] : names[base]);
}

int osc_method_dispatch(
    const osc_method_spec_t *specs, size_t n, oscar_actor_t *self, oscar_req_t *req)
{
	const char *method = oscar_req_method(req);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(specs[i].name, method) != 0) {
			continue;
		}
		if (!osc_shape_ok(specs[i].args, oscar_req_args(req))) {
			return (oscar_req_fail(req, OSCAR_EBADARGS, "%s takes %s", method,
			    osc_shape_name(specs[i].args)));
		}
		return (specs[i].fn(self, req));
	}
	// The class's method table and specs disagree: a programming error,
	// answered as an unknown method rather than a crash.
	return (oscar_req_fail(req, OSCAR_ENOMETHOD, "no handler for %s", method));
}

int osc_method_call(oscar_pool_t *pool, const oscar_ref_t *ref, const osc_method_spec_t *spec,
    oscar_value_t *args, int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err)
{
	if (!osc_shape_ok(spec->args, args)) {
		oscar_value_free(args);
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "%s takes %s", spec->name, osc_shape_name(spec->args)));
	}
	oscar_value_t *v  = NULL;
	int            rv = oscar_call(pool, ref, spec->name, args, timeout_ms, &v, err);
	if (rv != 0) {
		return (rv);
	}
	if (!osc_shape_ok(spec->reply, v)) {
		oscar_value_free(v);
		return (oscar_error_set(err, OSCAR_EPROTO,
		    "unexpected reply from %s to %s: expected %s", ref->addr, spec->name,
		    osc_shape_name(spec->reply)));
	}
	if (reply != NULL) {
		*reply = v;
	} else {
		oscar_value_free(v);
	}
	return (0);
}
