// Tests of oscar_value_t: constructors, getters and their type checks,
// containers, deep copy, equality and formatting. Every test frees what it
// builds, so that a leak shows up under AddressSanitizer.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "actors/codec.h"
#include "oscar/error.h"
#include "oscar/value.h"

// ---------------------------------------------------------------------------
// Helpers

// all_types returns one heap value of each type, in oscar_type_t order.
static void all_types(oscar_value_t *v[9])
{
	v[0] = oscar_value_new_nil();
	v[1] = oscar_value_new_bool(true);
	v[2] = oscar_value_new_int(-5);
	v[3] = oscar_value_new_uint(UINT64_MAX);
	v[4] = oscar_value_new_float(2.5);
	v[5] = oscar_value_new_str("hi");
	v[6] = oscar_value_new_bin("\x01\x02", 2);
	v[7] = oscar_value_new_array(0);
	v[8] = oscar_value_new_map(0);
	for (int i = 0; i < 9; i++) {
		cr_assert_not_null(v[i]);
		cr_assert_eq(v[i]->type, (oscar_type_t) i);
	}
}

// free_all frees what all_types made.
static void free_all(oscar_value_t *v[9])
{
	for (int i = 0; i < 9; i++) {
		oscar_value_free(v[i]);
	}
}

// fmt renders v into a static buffer and checks the returned length.
static const char *fmt(const oscar_value_t *v)
{
	static char buf[4096];
	int         n = oscar_value_format(v, buf, sizeof(buf));

	cr_assert_eq((size_t) n, strlen(buf));
	return (buf);
}

// ---------------------------------------------------------------------------
// Constructors and getters

Test(value, nil)
{
	oscar_value_t *v = oscar_value_new_nil();

	cr_assert_not_null(v);
	cr_assert_eq(v->type, OSCAR_NIL);
	cr_assert_eq(oscar_value_len(v), 0);
	oscar_value_free(v);
}

Test(value, bool)
{
	oscar_value_t *t = oscar_value_new_bool(true);
	oscar_value_t *f = oscar_value_new_bool(false);
	bool           b = false;

	cr_assert_eq(t->type, OSCAR_BOOL);
	cr_assert_eq(oscar_value_get_bool(t, &b), 0);
	cr_assert(b);
	cr_assert_eq(oscar_value_get_bool(f, &b), 0);
	cr_assert_not(b);
	cr_assert_eq(oscar_value_len(t), 0);
	oscar_value_free(t);
	oscar_value_free(f);
}

Test(value, int)
{
	const int64_t cases[] = { 0, 1, -1, 42, INT64_MIN, INT64_MAX };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		oscar_value_t *v = oscar_value_new_int(cases[i]);
		int64_t        got;
		double         d;

		cr_assert_eq(v->type, OSCAR_INT);
		cr_assert_eq(oscar_value_get_int(v, &got), 0);
		cr_assert_eq(got, cases[i]);
		cr_assert_eq(oscar_value_get_float(v, &d), 0);
		cr_assert_eq(d, (double) cases[i]);
		oscar_value_free(v);
	}
}

Test(value, uint)
{
	const uint64_t cases[] = { 0, 1, 255, (uint64_t) INT64_MAX, UINT64_MAX };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		oscar_value_t *v = oscar_value_new_uint(cases[i]);
		uint64_t       got;
		double         d;

		cr_assert_eq(v->type, OSCAR_UINT);
		cr_assert_eq(oscar_value_get_uint(v, &got), 0);
		cr_assert_eq(got, cases[i]);
		cr_assert_eq(oscar_value_get_float(v, &d), 0);
		cr_assert_eq(d, (double) cases[i]);
		oscar_value_free(v);
	}
}

Test(value, int_uint_cross_getters)
{
	oscar_value_t *small = oscar_value_new_uint(7);
	oscar_value_t *big   = oscar_value_new_uint((uint64_t) INT64_MAX + 1);
	oscar_value_t *neg   = oscar_value_new_int(-7);
	oscar_value_t *pos   = oscar_value_new_int(7);
	int64_t        i     = 0;
	uint64_t       u     = 0;

	cr_assert_eq(oscar_value_get_int(small, &i), 0);
	cr_assert_eq(i, 7);
	cr_assert_eq(oscar_value_get_int(big, &i), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_uint(pos, &u), 0);
	cr_assert_eq(u, 7);
	cr_assert_eq(oscar_value_get_uint(neg, &u), OSCAR_EBADARGS);
	oscar_value_free(small);
	oscar_value_free(big);
	oscar_value_free(neg);
	oscar_value_free(pos);
}

Test(value, float)
{
	const double cases[] = { 0.0, -0.0, 1.5, -1e300, DBL_MIN, INFINITY };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		oscar_value_t *v = oscar_value_new_float(cases[i]);
		double         d;

		cr_assert_eq(v->type, OSCAR_FLOAT);
		cr_assert_eq(oscar_value_get_float(v, &d), 0);
		cr_assert_eq(memcmp(&d, &cases[i], sizeof(d)), 0);
		oscar_value_free(v);
	}
}

Test(value, str)
{
	oscar_value_t *v = oscar_value_new_str("hello");
	const char    *s;
	size_t         n;

	cr_assert_eq(v->type, OSCAR_STR);
	cr_assert_eq(oscar_value_get_str(v, &s, &n), 0);
	cr_assert_str_eq(s, "hello");
	cr_assert_eq(n, 5);
	cr_assert_eq(oscar_value_len(v), 5);
	s = NULL;
	cr_assert_eq(oscar_value_get_str(v, &s, NULL), 0);
	cr_assert_str_eq(s, "hello");
	oscar_value_free(v);

	v = oscar_value_new_str("");
	cr_assert_eq(oscar_value_get_str(v, &s, &n), 0);
	cr_assert_str_eq(s, "");
	cr_assert_eq(n, 0);
	oscar_value_free(v);

	cr_assert_null(oscar_value_new_str(NULL));
}

Test(value, strn)
{
	const char     src[] = { 'a', '\0', 'b', 'c' };
	oscar_value_t *v     = oscar_value_new_strn(src, 3);
	const char    *s;
	size_t         n;

	cr_assert_eq(oscar_value_get_str(v, &s, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(s, "a\0b", 3), 0);
	cr_assert_eq(s[3], '\0'); // terminated, and "c" not copied
	oscar_value_free(v);

	v = oscar_value_new_strn(NULL, 0);
	cr_assert_not_null(v);
	cr_assert_eq(oscar_value_get_str(v, &s, &n), 0);
	cr_assert_str_eq(s, "");
	oscar_value_free(v);

	cr_assert_null(oscar_value_new_strn(NULL, 1));
}

Test(value, bin)
{
	const unsigned char data[] = { 0, 1, 2, 255 };
	oscar_value_t      *v      = oscar_value_new_bin(data, sizeof(data));
	const void         *p;
	size_t              n;

	cr_assert_eq(v->type, OSCAR_BIN);
	cr_assert_eq(oscar_value_get_bin(v, &p, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(p, data, 4), 0);
	cr_assert_neq(p, (const void *) data); // a copy
	cr_assert_eq(oscar_value_len(v), 4);
	oscar_value_free(v);

	v = oscar_value_new_bin(NULL, 0);
	cr_assert_not_null(v);
	cr_assert_eq(oscar_value_get_bin(v, &p, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_not_null(p);
	oscar_value_free(v);

	cr_assert_null(oscar_value_new_bin(NULL, 3));
}

Test(value, getters_reject_other_types)
{
	oscar_value_t *v[9];
	bool           b;
	int64_t        i;
	uint64_t       u;
	double         f;
	const char    *s;
	const void    *p;
	size_t         n;

	all_types(v);
	for (int t = 0; t < 9; t++) {
		int want_bool = t == OSCAR_BOOL ? 0 : OSCAR_EBADARGS;
		int want_int  = t == OSCAR_INT ? 0 : OSCAR_EBADARGS;
		int want_uint = t == OSCAR_UINT ? 0 : OSCAR_EBADARGS;
		int want_float =
		    (t == OSCAR_FLOAT || t == OSCAR_INT || t == OSCAR_UINT) ? 0 : OSCAR_EBADARGS;
		int want_str = t == OSCAR_STR ? 0 : OSCAR_EBADARGS;
		int want_bin = t == OSCAR_BIN ? 0 : OSCAR_EBADARGS;

		cr_assert_eq(oscar_value_get_bool(v[t], &b), want_bool, "type %d", t);
		cr_assert_eq(oscar_value_get_int(v[t], &i), want_int, "type %d", t);
		cr_assert_eq(oscar_value_get_uint(v[t], &u), want_uint, "type %d", t);
		cr_assert_eq(oscar_value_get_float(v[t], &f), want_float, "type %d", t);
		cr_assert_eq(oscar_value_get_str(v[t], &s, &n), want_str, "type %d", t);
		cr_assert_eq(oscar_value_get_bin(v[t], &p, &n), want_bin, "type %d", t);
	}
	free_all(v);

	cr_assert_eq(oscar_value_get_bool(NULL, &b), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_int(NULL, &i), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_uint(NULL, &u), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_float(NULL, &f), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_str(NULL, &s, &n), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_bin(NULL, &p, &n), OSCAR_EBADARGS);
}

Test(value, type_names)
{
	const char *names[] = { "nil", "bool", "int", "uint", "float", "str", "bin", "array",
		"map" };

	for (int t = 0; t < 9; t++) {
		cr_assert_str_eq(oscar_type_name((oscar_type_t) t), names[t]);
	}
	cr_assert_str_eq(oscar_type_name((oscar_type_t) 99), "unknown");
}

Test(value, free_null)
{
	oscar_value_free(NULL);
}

// ---------------------------------------------------------------------------
// Arrays

Test(value, array_push_and_at)
{
	oscar_value_t *a = oscar_value_new_array(2);
	int64_t        i;

	cr_assert_eq(a->type, OSCAR_ARRAY);
	cr_assert_eq(oscar_value_len(a), 0);
	cr_assert_null(oscar_value_at(a, 0));
	for (int k = 0; k < 1000; k++) {
		cr_assert_eq(oscar_value_array_push(a, oscar_value_new_int(k)), 0);
	}
	cr_assert_eq(oscar_value_len(a), 1000);
	cr_assert_geq(a->as.arr.cap, 1000);
	for (int k = 0; k < 1000; k++) {
		cr_assert_eq(oscar_value_get_int(oscar_value_at(a, (size_t) k), &i), 0);
		cr_assert_eq(i, k);
	}
	cr_assert_null(oscar_value_at(a, 1000));
	oscar_value_free(a);
}

Test(value, array_zero_cap_and_nesting)
{
	oscar_value_t       *a = oscar_value_new_array(0);
	oscar_value_t       *b = oscar_value_new_array(0);
	const oscar_value_t *inner;
	const char          *s;

	cr_assert_eq(oscar_value_array_push(b, oscar_value_new_str("x")), 0);
	cr_assert_eq(oscar_value_array_push(a, b), 0); // b is moved into a
	inner = oscar_value_at(a, 0);
	cr_assert_eq(inner->type, OSCAR_ARRAY);
	cr_assert_eq(oscar_value_get_str(oscar_value_at(inner, 0), &s, NULL), 0);
	cr_assert_str_eq(s, "x");
	oscar_value_free(a);
}

Test(value, array_push_errors)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_t *m = oscar_value_new_map(1);

	// The item is consumed even on failure (checked by the leak detector).
	cr_assert_eq(oscar_value_array_push(m, oscar_value_new_int(1)), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_array_push(NULL, oscar_value_new_str("x")), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_array_push(a, NULL), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_array_push(a, a), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_len(a), 0);
	cr_assert_null(oscar_value_at(m, 0));
	cr_assert_null(oscar_value_at(NULL, 0));
	oscar_value_free(a);
	oscar_value_free(m);
}

// ---------------------------------------------------------------------------
// Maps

Test(value, map_set_get)
{
	oscar_value_t       *m = oscar_value_new_map(0);
	const oscar_value_t *v;
	int64_t              i;

	cr_assert_eq(m->type, OSCAR_MAP);
	cr_assert_eq(oscar_value_map_set(m, "a", oscar_value_new_int(1)), 0);
	cr_assert_eq(oscar_value_map_set(m, "b", oscar_value_new_str("two")), 0);
	cr_assert_eq(oscar_value_map_set(m, "", oscar_value_new_nil()), 0);
	cr_assert_eq(oscar_value_len(m), 3);
	cr_assert_eq(oscar_value_get_int(oscar_value_map_get(m, "a"), &i), 0);
	cr_assert_eq(i, 1);
	v = oscar_value_map_get(m, "b");
	cr_assert_not_null(v);
	cr_assert_eq(v->type, OSCAR_STR);
	v = oscar_value_map_get(m, "");
	cr_assert_not_null(v);
	cr_assert_eq(v->type, OSCAR_NIL);
	cr_assert_null(oscar_value_map_get(m, "c"));
	cr_assert_null(oscar_value_map_get(m, "ab"));
	cr_assert_null(oscar_value_map_get(m, NULL));
	// Insertion order is kept.
	cr_assert_str_eq(m->as.map.kv[0].key.as.str.ptr, "a");
	cr_assert_str_eq(m->as.map.kv[1].key.as.str.ptr, "b");
	cr_assert_str_eq(m->as.map.kv[2].key.as.str.ptr, "");
	oscar_value_free(m);
}

Test(value, map_replace)
{
	oscar_value_t *m = oscar_value_new_map(4);
	int64_t        i;

	cr_assert_eq(oscar_value_map_set(m, "k", oscar_value_new_str("old")), 0);
	cr_assert_eq(oscar_value_map_set(m, "z", oscar_value_new_int(9)), 0);
	// Replacing frees the old value (a leak would show) and keeps the slot.
	cr_assert_eq(oscar_value_map_set(m, "k", oscar_value_new_int(5)), 0);
	cr_assert_eq(oscar_value_len(m), 2);
	cr_assert_str_eq(m->as.map.kv[0].key.as.str.ptr, "k");
	cr_assert_eq(oscar_value_get_int(oscar_value_map_get(m, "k"), &i), 0);
	cr_assert_eq(i, 5);
	cr_assert_eq(oscar_value_get_int(oscar_value_map_get(m, "z"), &i), 0);
	cr_assert_eq(i, 9);
	oscar_value_free(m);
}

Test(value, map_grows)
{
	oscar_value_t *m = oscar_value_new_map(0);
	char           key[16];
	int64_t        i;

	for (int k = 0; k < 300; k++) {
		snprintf(key, sizeof(key), "key%d", k);
		cr_assert_eq(oscar_value_map_set(m, key, oscar_value_new_int(k)), 0);
	}
	cr_assert_eq(oscar_value_len(m), 300);
	for (int k = 0; k < 300; k++) {
		snprintf(key, sizeof(key), "key%d", k);
		cr_assert_eq(oscar_value_get_int(oscar_value_map_get(m, key), &i), 0);
		cr_assert_eq(i, k);
	}
	oscar_value_free(m);
}

Test(value, map_set_errors)
{
	oscar_value_t *m = oscar_value_new_map(0);
	oscar_value_t *a = oscar_value_new_array(0);

	cr_assert_eq(oscar_value_map_set(a, "k", oscar_value_new_int(1)), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_map_set(NULL, "k", oscar_value_new_int(1)), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_map_set(m, NULL, oscar_value_new_int(1)), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_map_set(m, "k", NULL), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_map_set(m, "k", m), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_len(m), 0);
	cr_assert_null(oscar_value_map_get(a, "k"));
	cr_assert_null(oscar_value_map_get(NULL, "k"));
	oscar_value_free(m);
	oscar_value_free(a);
}

Test(value, map_get_ignores_non_string_keys)
{
	oscar_value_t *m = oscar_value_new_map(1);

	// A decoded map may have any key; build one by hand here.
	m->as.map.kv[0].key.type       = OSCAR_BIN;
	m->as.map.kv[0].key.as.bin.ptr = strdup("k");
	m->as.map.kv[0].key.as.bin.len = 1;
	m->as.map.kv[0].val.type       = OSCAR_BOOL;
	m->as.map.len                  = 1;
	cr_assert_null(oscar_value_map_get(m, "k"));
	cr_assert_eq(oscar_value_map_set(m, "k", oscar_value_new_nil()), 0);
	cr_assert_eq(oscar_value_len(m), 2);
	cr_assert_eq(oscar_value_map_get(m, "k")->type, OSCAR_NIL);
	oscar_value_free(m);
}

// ---------------------------------------------------------------------------
// Copy and equality

// sample builds {"n": nil, "list": [1, -2, 3.5, "s", <bin>, true,
// {"deep": [18446744073709551615]}], "empty": {}}.
static oscar_value_t *sample(void)
{
	oscar_value_t *m    = oscar_value_new_map(0);
	oscar_value_t *list = oscar_value_new_array(0);
	oscar_value_t *deep = oscar_value_new_map(0);
	oscar_value_t *arr  = oscar_value_new_array(0);

	cr_assert_eq(oscar_value_array_push(arr, oscar_value_new_uint(UINT64_MAX)), 0);
	cr_assert_eq(oscar_value_map_set(deep, "deep", arr), 0);
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_int(1)), 0);
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_int(-2)), 0);
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_float(3.5)), 0);
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_str("s")), 0);
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_bin("\0\1", 2)), 0);
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_bool(true)), 0);
	cr_assert_eq(oscar_value_array_push(list, deep), 0);
	cr_assert_eq(oscar_value_map_set(m, "n", oscar_value_new_nil()), 0);
	cr_assert_eq(oscar_value_map_set(m, "list", list), 0);
	cr_assert_eq(oscar_value_map_set(m, "empty", oscar_value_new_map(0)), 0);
	return (m);
}

Test(value, copy_is_deep)
{
	oscar_value_t *a = sample();
	oscar_value_t *b = oscar_value_copy(a);
	oscar_value_t *list;

	cr_assert_not_null(b);
	cr_assert(oscar_value_equal(a, b));
	cr_assert(oscar_value_equal(b, a));
	// Change the copy: the original must not see it.
	list = (oscar_value_t *) oscar_value_map_get(b, "list");
	cr_assert_neq(list, oscar_value_map_get(a, "list"));
	list->as.arr.items[3].as.str.ptr[0] = 'X';
	cr_assert_not(oscar_value_equal(a, b));
	cr_assert_str_eq(oscar_value_map_get(a, "list")->as.arr.items[3].as.str.ptr, "s");
	cr_assert_eq(oscar_value_array_push(list, oscar_value_new_nil()), 0);
	cr_assert_eq(oscar_value_len(oscar_value_map_get(a, "list")), 7);
	oscar_value_free(a);
	oscar_value_free(b);
}

Test(value, copy_scalars_and_null)
{
	oscar_value_t *v[9];

	all_types(v);
	for (int t = 0; t < 9; t++) {
		oscar_value_t *c = oscar_value_copy(v[t]);

		cr_assert_not_null(c);
		cr_assert_eq(c->type, v[t]->type);
		cr_assert(oscar_value_equal(c, v[t]));
		if (t == OSCAR_STR || t == OSCAR_BIN) {
			cr_assert_neq(c->as.str.ptr, v[t]->as.str.ptr);
		}
		oscar_value_free(c);
	}
	free_all(v);
	cr_assert_null(oscar_value_copy(NULL));
}

Test(value, equal_numbers)
{
	oscar_value_t *i5  = oscar_value_new_int(5);
	oscar_value_t *u5  = oscar_value_new_uint(5);
	oscar_value_t *im1 = oscar_value_new_int(-1);
	oscar_value_t *umx = oscar_value_new_uint(UINT64_MAX);
	oscar_value_t *f5  = oscar_value_new_float(5.0);
	oscar_value_t *n1  = oscar_value_new_float(NAN);
	oscar_value_t *n2  = oscar_value_new_float(-NAN);
	oscar_value_t *z   = oscar_value_new_float(0.0);
	oscar_value_t *nz  = oscar_value_new_float(-0.0);

	cr_assert(oscar_value_equal(i5, u5));
	cr_assert(oscar_value_equal(u5, i5));
	cr_assert_not(oscar_value_equal(im1, umx)); // same bits, other numbers
	cr_assert_not(oscar_value_equal(umx, im1));
	cr_assert_not(oscar_value_equal(i5, f5)); // int and float differ
	cr_assert(oscar_value_equal(n1, n2));
	cr_assert(oscar_value_equal(n1, n1));
	cr_assert_not(oscar_value_equal(n1, f5));
	cr_assert(oscar_value_equal(z, nz));
	oscar_value_free(i5);
	oscar_value_free(u5);
	oscar_value_free(im1);
	oscar_value_free(umx);
	oscar_value_free(f5);
	oscar_value_free(n1);
	oscar_value_free(n2);
	oscar_value_free(z);
	oscar_value_free(nz);
}

Test(value, equal_other_types)
{
	oscar_value_t *v[9];
	oscar_value_t *w[9];
	oscar_value_t *s  = oscar_value_new_str("ab");
	oscar_value_t *s2 = oscar_value_new_strn("abc", 2);
	oscar_value_t *s3 = oscar_value_new_str("ac");
	oscar_value_t *b  = oscar_value_new_bin("ab", 2);

	all_types(v);
	all_types(w);
	for (int i = 0; i < 9; i++) {
		for (int j = 0; j < 9; j++) {
			cr_assert_eq(
			    oscar_value_equal(v[i], w[j]), i == j, "types %d and %d", i, j);
		}
	}
	free_all(v);
	free_all(w);
	cr_assert(oscar_value_equal(s, s2));
	cr_assert_not(oscar_value_equal(s, s3));
	cr_assert_not(oscar_value_equal(s, b)); // same bytes, other type
	cr_assert(oscar_value_equal(NULL, NULL));
	cr_assert_not(oscar_value_equal(s, NULL));
	cr_assert_not(oscar_value_equal(NULL, s));
	oscar_value_free(s);
	oscar_value_free(s2);
	oscar_value_free(s3);
	oscar_value_free(b);
}

Test(value, equal_containers)
{
	oscar_value_t *a = oscar_value_new_array(0);
	oscar_value_t *b = oscar_value_new_array(0);
	oscar_value_t *m = oscar_value_new_map(0);
	oscar_value_t *n = oscar_value_new_map(0);

	cr_assert(oscar_value_equal(a, b));
	oscar_value_array_push(a, oscar_value_new_int(1));
	cr_assert_not(oscar_value_equal(a, b));
	oscar_value_array_push(b, oscar_value_new_int(2));
	cr_assert_not(oscar_value_equal(a, b));

	// Maps compare entry by entry, in order.
	oscar_value_map_set(m, "x", oscar_value_new_int(1));
	oscar_value_map_set(m, "y", oscar_value_new_int(2));
	oscar_value_map_set(n, "y", oscar_value_new_int(2));
	oscar_value_map_set(n, "x", oscar_value_new_int(1));
	cr_assert_not(oscar_value_equal(m, n));
	oscar_value_map_set(n, "y", oscar_value_new_int(3));
	cr_assert_not(oscar_value_equal(m, n));
	oscar_value_free(a);
	oscar_value_free(b);
	oscar_value_free(m);
	oscar_value_free(n);
}

// ---------------------------------------------------------------------------
// Formatting

Test(value, format_scalars)
{
	oscar_value_t *v;

	cr_assert_str_eq(fmt(NULL), "null");
	v = oscar_value_new_nil();
	cr_assert_str_eq(fmt(v), "null");
	oscar_value_free(v);
	v = oscar_value_new_bool(true);
	cr_assert_str_eq(fmt(v), "true");
	oscar_value_free(v);
	v = oscar_value_new_bool(false);
	cr_assert_str_eq(fmt(v), "false");
	oscar_value_free(v);
	v = oscar_value_new_int(INT64_MIN);
	cr_assert_str_eq(fmt(v), "-9223372036854775808");
	oscar_value_free(v);
	v = oscar_value_new_uint(UINT64_MAX);
	cr_assert_str_eq(fmt(v), "18446744073709551615");
	oscar_value_free(v);
	v = oscar_value_new_bin("abc", 3);
	cr_assert_str_eq(fmt(v), "<bin 3 bytes>");
	oscar_value_free(v);
}

Test(value, format_floats)
{
	const struct {
		double      f;
		const char *want;
	} cases[] = {
		{ 1.0, "1.0" },
		{ -0.0, "-0.0" },
		{ 0.1, "0.1" },
		{ 2.5, "2.5" },
		{ 1e300, "1e+300" },
		{ 0.30000000000000004, "0.30000000000000004" },
		{ NAN, "nan" },
		{ INFINITY, "inf" },
		{ -INFINITY, "-inf" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		oscar_value_t *v = oscar_value_new_float(cases[i].f);

		cr_assert_str_eq(fmt(v), cases[i].want);
		oscar_value_free(v);
	}
}

Test(value, format_strings_are_escaped)
{
	oscar_value_t *v = oscar_value_new_strn("a\"b\\c\n\t\r\b\f\x01\x7f\0z\xc3\xa9", 16);

	cr_assert_str_eq(fmt(v), "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u007f\\u0000z\xc3\xa9\"");
	oscar_value_free(v);
}

Test(value, format_containers)
{
	oscar_value_t *v = sample();

	cr_assert_str_eq(fmt(v), "{\"n\": null, \"list\": [1, -2, 3.5, \"s\", <bin 2 bytes>, true, "
	                         "{\"deep\": [18446744073709551615]}], \"empty\": {}}");
	oscar_value_free(v);
	v = oscar_value_new_array(0);
	cr_assert_str_eq(fmt(v), "[]");
	oscar_value_free(v);
}

Test(value, format_truncates_safely)
{
	oscar_value_t *v = sample();
	char           full[512];
	char           buf[512];
	int            n = oscar_value_format(v, full, sizeof(full));

	cr_assert_gt(n, 0);
	cr_assert_eq(oscar_value_format(v, NULL, 0), n);
	for (size_t size = 0; size <= (size_t) n + 1; size++) {
		memset(buf, 'Z', sizeof(buf));
		cr_assert_eq(oscar_value_format(v, buf, size), n);
		if (size > 0) {
			size_t len = size - 1 < (size_t) n ? size - 1 : (size_t) n;

			cr_assert_eq(strlen(buf), len);
			cr_assert_eq(memcmp(buf, full, len), 0);
		}
		cr_assert_eq(buf[size], 'Z'); // nothing written past size
	}
	oscar_value_free(v);
}

Test(value, format_deep_nesting_is_cut)
{
	oscar_value_t *root = oscar_value_new_array(0);
	oscar_value_t *cur  = root;
	char           buf[1024];
	int            n;

	// 100 nested arrays: the first OSCAR_VALUE_MAX_DEPTH are shown.
	for (int i = 1; i < 100; i++) {
		oscar_value_t *next = oscar_value_new_array(0);

		cr_assert_eq(oscar_value_array_push(cur, next), 0);
		cur = &cur->as.arr.items[0];
	}
	n = oscar_value_format(root, buf, sizeof(buf));
	cr_assert_eq((size_t) n, strlen(buf));
	cr_assert_eq(n, 2 * OSCAR_VALUE_MAX_DEPTH + 5);
	cr_assert_not_null(strstr(buf, "[...]"));
	oscar_value_free(root);
}

// A bin made shared (as the store makes the large bins it holds) is
// copied by reference: the copy points at the same bytes, outlives the
// original, and frees them when it goes last. Bins under the bound, and
// strings, are left to be copied.
Test(value, shared_bins_are_copied_by_reference)
{
	char big[4096], small[16];
	memset(big, 'b', sizeof(big));
	memset(small, 's', sizeof(small));
	oscar_value_t *v = oscar_value_new_array(3);
	cr_assert_eq(oscar_value_array_push(v, oscar_value_new_bin(big, sizeof(big))), 0);
	cr_assert_eq(oscar_value_array_push(v, oscar_value_new_bin(small, sizeof(small))), 0);
	oscar_value_t *m = oscar_value_new_map(1);
	cr_assert_eq(oscar_value_map_set(m, "k", oscar_value_new_bin(big, sizeof(big))), 0);
	cr_assert_eq(oscar_value_array_push(v, m), 0);
	cr_assert_eq(osc_value_share_bins(v, 1024), 0);
	// Sharing twice changes nothing.
	cr_assert_eq(osc_value_share_bins(v, 1024), 0);

	oscar_value_t *c = oscar_value_copy(v);
	cr_assert_not_null(c);
	const void *p0, *q0, *p1, *q1, *p2, *q2;
	size_t      n;
	cr_assert_eq(oscar_value_get_bin(oscar_value_at(v, 0), &p0, &n), 0);
	cr_assert_eq(oscar_value_get_bin(oscar_value_at(c, 0), &q0, &n), 0);
	cr_assert_eq(p0, q0, "a shared bin was copied");
	cr_assert_eq(oscar_value_get_bin(oscar_value_at(v, 1), &p1, &n), 0);
	cr_assert_eq(oscar_value_get_bin(oscar_value_at(c, 1), &q1, &n), 0);
	cr_assert_neq(p1, q1, "a bin under the bound was shared");
	cr_assert_eq(
	    oscar_value_get_bin(oscar_value_map_get(oscar_value_at(v, 2), "k"), &p2, &n), 0);
	cr_assert_eq(
	    oscar_value_get_bin(oscar_value_map_get(oscar_value_at(c, 2), "k"), &q2, &n), 0);
	cr_assert_eq(p2, q2, "a shared bin in a map was copied");
	cr_assert(oscar_value_equal(v, c));

	// The copy outlives the original, and a copy of the copy shares too.
	oscar_value_free(v);
	oscar_value_t *cc = oscar_value_copy(c);
	oscar_value_free(c);
	cr_assert_eq(oscar_value_get_bin(oscar_value_at(cc, 0), &q0, &n), 0);
	cr_assert_eq(n, sizeof(big));
	cr_assert_eq(memcmp(q0, big, sizeof(big)), 0);
	cr_assert_eq(((const char *) q0)[n], '\0', "a shared bin is still terminated");
	oscar_value_free(cc);
}
