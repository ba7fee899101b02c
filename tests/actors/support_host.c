// Helpers shared by the tests of actors/ (they assert with Criterion).
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tests/actors/support.h"

// ---------------------------------------------------------------------------
// helpers

oscar_pool_t *test_pool(size_t mailbox_limit, size_t inbox_limit)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	if (mailbox_limit != 0) {
		cfg.mailbox_limit = mailbox_limit;
	}
	if (inbox_limit != 0) {
		cfg.inbox_limit = inbox_limit;
	}
	return (pool_open(&cfg));
}

oscar_ref_t test_spawn(
    oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid, oscar_value_t *args)
{
	oscar_ref_t   ref;
	oscar_error_t err;
	int           rv = oscar_create(pool, cls, uid, args, 5000, &ref, &err);
	cr_assert_eq(rv, 0, "create %s: %s", uid ? uid : "(generated)", err.message);
	return (ref);
}

int64_t test_call_int(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, int64_t arg)
{
	oscar_value_t *reply;
	oscar_error_t  err;
	int64_t        n = 0;
	int rv = oscar_call(pool, ref, method, oscar_value_new_int(arg), 5000, &reply, &err);
	cr_assert_eq(rv, 0, "call %s: %s", method, err.message);
	cr_assert_eq(oscar_value_get_int(reply, &n), 0);
	oscar_value_free(reply);
	return (n);
}

oscar_value_t *test_strs(const char *first, ...)
{
	va_list        ap;
	oscar_value_t *arr = oscar_value_new_array(4);
	va_start(ap, first);
	for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
		oscar_value_array_push(arr, oscar_value_new_str(s));
	}
	va_end(ap);
	return (arr);
}

oscar_value_t *test_via(bool hold, const char *first, ...)
{
	va_list        ap;
	oscar_value_t *a = oscar_value_new_array(4);
	oscar_value_array_push(a, oscar_value_new_bool(hold));
	va_start(ap, first);
	for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
		oscar_value_array_push(a, oscar_value_new_str(s));
	}
	va_end(ap);
	return (a);
}

void test_wait_parked(oscar_pool_t *pool, const oscar_ref_t *g, int64_t n)
{
	while (test_call_int(pool, g, "waiting", 0) != n) {
		;
	}
}
