// The greeter service's typed API (greeter.h): one call each.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greeter.h"

static int greeter_ref(oscar_ref_t *ref, const char *address, const char *uid, oscar_error_t *err)
{
	int rv = oscar_ref_make(ref, address, uid != NULL ? uid : GREETER_UID);
	return (rv != 0 ? oscar_error_set(err, rv, "address or uid too long") : 0);
}

int greeter_greet(oscar_pool_t *pool, const char *address, const char *uid, const char *name,
    char **reply, oscar_error_t *err)
{
	oscar_ref_t    ref;
	oscar_value_t *v;
	int            rv = greeter_ref(&ref, address, uid, err);
	if (rv == 0) {
		rv = oscar_call(pool, &ref, "greet", oscar_value_new_str(name), 5000, &v, err);
	}
	if (rv != 0) {
		return (rv);
	}
	const char *text;
	size_t      len;
	if (oscar_value_get_str(v, &text, &len) != 0 || (*reply = strdup(text)) == NULL) {
		oscar_value_free(v);
		return (oscar_error_set(err, OSCAR_EUNEXPECTED, "greet did not answer a string"));
	}
	oscar_value_free(v);
	return (0);
}

int greeter_count(
    oscar_pool_t *pool, const char *address, const char *uid, uint64_t *count, oscar_error_t *err)
{
	oscar_ref_t    ref;
	oscar_value_t *v;
	int            rv = greeter_ref(&ref, address, uid, err);
	if (rv == 0) {
		rv = oscar_call(pool, &ref, "count", NULL, 5000, &v, err);
	}
	if (rv != 0) {
		return (rv);
	}
	rv = oscar_value_get_uint(v, count);
	oscar_value_free(v);
	return (
	    rv != 0 ? oscar_error_set(err, OSCAR_EUNEXPECTED, "count did not answer a number") : 0);
}
