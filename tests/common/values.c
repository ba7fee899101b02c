// What every test program may use to build values.
#include <criterion/criterion.h>

#include "tests/common/values.h"

oscar_value_t *args1(oscar_value_t *a)
{
	oscar_value_t *v = oscar_value_new_array(1);
	cr_assert_not_null(v);
	cr_assert_eq(oscar_value_array_push(v, a), 0);
	return (v);
}

oscar_value_t *args2(oscar_value_t *a, oscar_value_t *b)
{
	oscar_value_t *v = args1(a);
	cr_assert_eq(oscar_value_array_push(v, b), 0);
	return (v);
}
