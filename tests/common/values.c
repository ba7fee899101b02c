// What every test program may use to build values.
#include <stdlib.h>

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

oscar_value_t *pattern_bin(size_t n)
{
	unsigned char *p = malloc(n);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i] = (unsigned char) ((i * 31 + 7) & 0xff);
	}
	oscar_value_t *v = oscar_value_new_bin(p, n);
	free(p);
	return (v);
}

bool is_pattern(const oscar_value_t *v, size_t n)
{
	if (v == NULL || v->type != OSCAR_BIN || v->as.bin.len != n) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char) v->as.bin.ptr[i] != (unsigned char) ((i * 31 + 7) & 0xff)) {
			return (false);
		}
	}
	return (true);
}
