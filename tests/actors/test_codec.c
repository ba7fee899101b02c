// Tests of the MessagePack codec: exact encodings, round trips, the typed
// reader, and hostile input (truncated, trailing, too deep, oversized
// lengths, ext types, random bytes and mutated encodings).
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "actors/codec.h"
#include "oscar/error.h"
#include "oscar/value.h"

// ---------------------------------------------------------------------------
// Helpers

// B declares a byte array from a list of byte values.
#define B(name, ...) static const unsigned char name[] = { __VA_ARGS__ }

// rng_t is xorshift64*; a fixed seed keeps the randomized tests
// deterministic.
typedef struct rng {
	uint64_t s; // never zero
} rng_t;

// rng_next returns the next 64 random bits.
static uint64_t rng_next(rng_t *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (r->s * 0x2545F4914F6CDD1DULL);
}

// rng_below returns a number in [0, n), or 0 when n is 0.
static size_t rng_below(rng_t *r, size_t n)
{
	return (n == 0 ? 0 : (size_t) (rng_next(r) % n));
}

// encode encodes v, which must succeed.
static void *encode(const oscar_value_t *v, size_t *len)
{
	void *buf = NULL;

	cr_assert_eq(oscar_value_encode(v, &buf, len), 0);
	cr_assert_not_null(buf);
	cr_assert_gt(*len, 0);
	return (buf);
}

// decode decodes buf[0..len), which must succeed.
static oscar_value_t *decode(const void *buf, size_t len)
{
	oscar_value_t *v  = NULL;
	int            rv = oscar_value_decode(buf, len, &v);

	cr_assert_eq(rv, 0, "decode: %s", oscar_errname(rv));
	cr_assert_not_null(v);
	return (v);
}

// expect_eproto checks that buf[0..len) is rejected as malformed.
static void expect_eproto(const void *buf, size_t len)
{
	static oscar_value_t sentinel;
	oscar_value_t       *v  = &sentinel; // to see it cleared
	int                  rv = oscar_value_decode(buf, len, &v);

	cr_assert_eq(rv, OSCAR_EPROTO, "got %s for %zu bytes starting %02x", oscar_errname(rv), len,
	    len > 0 ? *(const unsigned char *) buf : 0);
	cr_assert_null(v);
}

// expect_value_bytes checks that v encodes to exactly want[0..n) and that
// those bytes decode to a value equal to v.
static void expect_value_bytes(const oscar_value_t *v, const void *want, size_t n)
{
	size_t         len;
	void          *buf = encode(v, &len);
	oscar_value_t *back;

	cr_assert_eq(len, n, "length %zu, want %zu", len, n);
	cr_assert_eq(memcmp(buf, want, n), 0);
	back = decode(buf, len);
	cr_assert(oscar_value_equal(v, back));
	oscar_value_free(back);
	free(buf);
}

// round_trip checks that v survives encode and decode, and that encoding
// the result gives the same bytes again.
static void round_trip(const oscar_value_t *v)
{
	size_t         len1;
	size_t         len2;
	void          *buf1 = encode(v, &len1);
	oscar_value_t *back = decode(buf1, len1);
	void          *buf2 = encode(back, &len2);

	cr_assert(oscar_value_equal(v, back));
	cr_assert_eq(len1, len2);
	cr_assert_eq(memcmp(buf1, buf2, len1), 0);
	oscar_value_free(back);
	free(buf1);
	free(buf2);
}

// map_put appends key and val (both heap values, consumed) to map m as a
// new entry, whatever the key's type: oscar_value_map_set takes string
// keys only, while decoded maps may have any.
static void map_put(oscar_value_t *m, oscar_value_t *key, oscar_value_t *val)
{
	oscar_kv_t *kv;

	cr_assert_eq(m->type, OSCAR_MAP);
	if (m->as.map.len == m->as.map.cap) {
		m->as.map.cap = m->as.map.cap * 2 + 1;
		m->as.map.kv  = realloc(m->as.map.kv, m->as.map.cap * sizeof(*kv));
		cr_assert_not_null(m->as.map.kv);
	}
	kv      = &m->as.map.kv[m->as.map.len++];
	kv->key = *key;
	kv->val = *val;
	free(key);
	free(val);
}

// sample builds a value holding every type, several levels deep.
static oscar_value_t *sample(void)
{
	oscar_value_t *m     = oscar_value_new_map(0);
	oscar_value_t *list  = oscar_value_new_array(0);
	oscar_value_t *inner = oscar_value_new_map(0);
	char           big[300];

	memset(big, 'q', sizeof(big));
	oscar_value_array_push(list, oscar_value_new_nil());
	oscar_value_array_push(list, oscar_value_new_bool(false));
	oscar_value_array_push(list, oscar_value_new_int(-129));
	oscar_value_array_push(list, oscar_value_new_int(INT64_MIN));
	oscar_value_array_push(list, oscar_value_new_uint(UINT64_MAX));
	oscar_value_array_push(list, oscar_value_new_float(-0.1));
	oscar_value_array_push(list, oscar_value_new_strn(big, sizeof(big)));
	oscar_value_array_push(list, oscar_value_new_bin("\0\1\2", 3));
	map_put(inner, oscar_value_new_int(7), oscar_value_new_str("int key"));
	map_put(inner, oscar_value_new_nil(), oscar_value_new_array(0));
	map_put(inner, oscar_value_new_bin("k", 1), oscar_value_new_map(0));
	oscar_value_array_push(list, inner);
	oscar_value_map_set(m, "list", list);
	oscar_value_map_set(m, "ok", oscar_value_new_bool(true));
	oscar_value_map_set(m, "n", oscar_value_new_int(65536));
	oscar_value_map_set(m, "pi", oscar_value_new_float(3.14159));
	oscar_value_map_set(m, "", oscar_value_new_str(""));
	return (m);
}

// nested_bytes returns n nested one-item arrays (or one-entry maps with a
// nil key) around a nil, and its length.
static unsigned char *nested_bytes(size_t n, bool map, size_t *len)
{
	size_t         step = map ? 2 : 1;
	unsigned char *p    = malloc(n * step + 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++) {
		if (map) {
			p[2 * i]     = 0x81;
			p[2 * i + 1] = 0xc0;
		} else {
			p[i] = 0x91;
		}
	}
	p[n * step] = 0xc0;
	*len        = n * step + 1;
	return (p);
}

// nested_value builds n nested arrays around a nil.
static oscar_value_t *nested_value(size_t n)
{
	oscar_value_t *v = oscar_value_new_nil();

	for (size_t i = 0; i < n; i++) {
		oscar_value_t *a = oscar_value_new_array(1);

		cr_assert_eq(oscar_value_array_push(a, v), 0);
		v = a;
	}
	return (v);
}

// ---------------------------------------------------------------------------
// Exact encodings

typedef struct int_case {
	int64_t       i;
	unsigned char bytes[9];
	size_t        n;
} int_case_t;

static const int_case_t int_cases[] = {
	{ 0, { 0x00 }, 1 },
	{ 1, { 0x01 }, 1 },
	{ 127, { 0x7f }, 1 },
	{ 128, { 0xcc, 0x80 }, 2 },
	{ 255, { 0xcc, 0xff }, 2 },
	{ 256, { 0xcd, 0x01, 0x00 }, 3 },
	{ 65535, { 0xcd, 0xff, 0xff }, 3 },
	{ 65536, { 0xce, 0x00, 0x01, 0x00, 0x00 }, 5 },
	{ 4294967295LL, { 0xce, 0xff, 0xff, 0xff, 0xff }, 5 },
	{ 4294967296LL, { 0xcf, 0, 0, 0, 0x01, 0, 0, 0, 0 }, 9 },
	{ INT64_MAX, { 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
	{ -1, { 0xff }, 1 },
	{ -32, { 0xe0 }, 1 },
	{ -33, { 0xd0, 0xdf }, 2 },
	{ -128, { 0xd0, 0x80 }, 2 },
	{ -129, { 0xd1, 0xff, 0x7f }, 3 },
	{ -32768, { 0xd1, 0x80, 0x00 }, 3 },
	{ -32769, { 0xd2, 0xff, 0xff, 0x7f, 0xff }, 5 },
	{ INT32_MIN, { 0xd2, 0x80, 0x00, 0x00, 0x00 }, 5 },
	{ (int64_t) INT32_MIN - 1, { 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff }, 9 },
	{ -4294967296LL, { 0xd3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 }, 9 },
	{ -4294967297LL, { 0xd3, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff }, 9 },
	{ INT64_MIN, { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9 },
};

Test(codec, int_encodings_and_round_trip)
{
	for (size_t k = 0; k < sizeof(int_cases) / sizeof(int_cases[0]); k++) {
		const int_case_t *c = &int_cases[k];
		oscar_value_t    *v = oscar_value_new_int(c->i);
		oscar_value_t    *back;
		int64_t           got;

		expect_value_bytes(v, c->bytes, c->n);
		back = decode(c->bytes, c->n);
		cr_assert_eq(back->type, OSCAR_INT, "case %zu", k);
		cr_assert_eq(oscar_value_get_int(back, &got), 0);
		cr_assert_eq(got, c->i, "case %zu", k);
		oscar_value_free(back);
		oscar_value_free(v);
	}
}

Test(codec, uint_encodings_and_types)
{
	B(max, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
	B(top, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0);
	B(small, 0x05);
	oscar_value_t *v;
	oscar_value_t *back;

	v = oscar_value_new_uint(UINT64_MAX);
	expect_value_bytes(v, max, sizeof(max));
	back = decode(max, sizeof(max));
	cr_assert_eq(back->type, OSCAR_UINT);
	cr_assert_eq(back->as.u, UINT64_MAX);
	oscar_value_free(back);
	oscar_value_free(v);

	v = oscar_value_new_uint((uint64_t) INT64_MAX + 1);
	expect_value_bytes(v, top, sizeof(top));
	oscar_value_free(v);

	// A small uint is written like the int and decodes as OSCAR_INT.
	v = oscar_value_new_uint(5);
	expect_value_bytes(v, small, sizeof(small));
	back = decode(small, sizeof(small));
	cr_assert_eq(back->type, OSCAR_INT);
	oscar_value_free(back);
	oscar_value_free(v);
}

Test(codec, non_canonical_ints_decode)
{
	const struct {
		unsigned char bytes[9];
		size_t        n;
		int64_t       want;
	} cases[] = {
		{ { 0xcc, 0x05 }, 2, 5 },
		{ { 0xcd, 0x00, 0x05 }, 3, 5 },
		{ { 0xce, 0, 0, 0, 0x05 }, 5, 5 },
		{ { 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05 }, 9, 5 },
		{ { 0xd0, 0x05 }, 2, 5 },
		{ { 0xd0, 0xff }, 2, -1 },
		{ { 0xd1, 0x00, 0x05 }, 3, 5 },
		{ { 0xd1, 0xff, 0xff }, 3, -1 },
		{ { 0xd2, 0x7f, 0xff, 0xff, 0xff }, 5, INT32_MAX },
		{ { 0xd2, 0xff, 0xff, 0xff, 0xfe }, 5, -2 },
		{ { 0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05 }, 9, 5 },
		{ { 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, -1 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		oscar_value_t *v = decode(cases[k].bytes, cases[k].n);

		cr_assert_eq(v->type, OSCAR_INT, "case %zu", k);
		cr_assert_eq(v->as.i, cases[k].want, "case %zu", k);
		oscar_value_free(v);
	}
}

Test(codec, scalar_encodings)
{
	B(nil, 0xc0);
	B(yes, 0xc3);
	B(no, 0xc2);
	B(f15, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0);
	B(fneg0, 0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0);
	B(estr, 0xa0);
	B(ebin, 0xc4, 0x00);
	B(earr, 0x90);
	B(emap, 0x80);
	oscar_value_t *v;

	v = oscar_value_new_nil();
	expect_value_bytes(v, nil, sizeof(nil));
	oscar_value_free(v);
	v = oscar_value_new_bool(true);
	expect_value_bytes(v, yes, sizeof(yes));
	oscar_value_free(v);
	v = oscar_value_new_bool(false);
	expect_value_bytes(v, no, sizeof(no));
	oscar_value_free(v);
	v = oscar_value_new_float(1.5);
	expect_value_bytes(v, f15, sizeof(f15));
	oscar_value_free(v);
	v = oscar_value_new_float(-0.0);
	expect_value_bytes(v, fneg0, sizeof(fneg0));
	oscar_value_free(v);
	v = oscar_value_new_str("");
	expect_value_bytes(v, estr, sizeof(estr));
	oscar_value_free(v);
	v = oscar_value_new_bin(NULL, 0);
	expect_value_bytes(v, ebin, sizeof(ebin));
	oscar_value_free(v);
	v = oscar_value_new_array(4);
	expect_value_bytes(v, earr, sizeof(earr));
	oscar_value_free(v);
	v = oscar_value_new_map(4);
	expect_value_bytes(v, emap, sizeof(emap));
	oscar_value_free(v);
}

Test(codec, floats_round_trip_bit_exact)
{
	const double cases[] = { 0.0, -0.0, 0.1, -2.5, 1e300, -1e-300, DBL_MAX, DBL_MIN,
		DBL_TRUE_MIN, INFINITY, -INFINITY, 3.4028234663852886e38 };

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		oscar_value_t *v = oscar_value_new_float(cases[k]);
		size_t         len;
		void          *buf  = encode(v, &len);
		oscar_value_t *back = decode(buf, len);

		cr_assert_eq(len, 9);
		cr_assert_eq(back->type, OSCAR_FLOAT);
		cr_assert_eq(memcmp(&back->as.f, &cases[k], sizeof(double)), 0, "case %zu", k);
		oscar_value_free(back);
		oscar_value_free(v);
		free(buf);
	}
}

Test(codec, nan_round_trip)
{
	oscar_value_t *v = oscar_value_new_float(NAN);
	size_t         len;
	void          *buf  = encode(v, &len);
	oscar_value_t *back = decode(buf, len);

	cr_assert(isnan(back->as.f));
	cr_assert(oscar_value_equal(v, back));
	oscar_value_free(back);
	oscar_value_free(v);
	free(buf);
}

Test(codec, float32_input_decodes)
{
	const struct {
		unsigned char bytes[5];
		double        want;
	} cases[] = {
		{ { 0xca, 0x3f, 0xc0, 0x00, 0x00 }, 1.5 },
		{ { 0xca, 0xbf, 0x80, 0x00, 0x00 }, -1.0 },
		{ { 0xca, 0x00, 0x00, 0x00, 0x00 }, 0.0 },
		{ { 0xca, 0x7f, 0x7f, 0xff, 0xff }, FLT_MAX },
		{ { 0xca, 0x00, 0x00, 0x00, 0x01 }, 1.40129846e-45f },
		{ { 0xca, 0xff, 0x80, 0x00, 0x00 }, -INFINITY },
		{ { 0xca, 0x3d, 0xcc, 0xcc, 0xcd }, 0.1f },
	};
	B(nan32, 0xca, 0x7f, 0xc0, 0x00, 0x00);
	oscar_value_t *v;
	osc_reader_t   r;
	double         d;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		v = decode(cases[k].bytes, 5);
		cr_assert_eq(v->type, OSCAR_FLOAT);
		cr_assert_eq(v->as.f, cases[k].want, "case %zu", k);
		round_trip(v); // re-encoded as float64, same number
		oscar_value_free(v);

		osc_reader_init(&r, cases[k].bytes, 5);
		cr_assert_eq(osc_read_float(&r, &d), 0);
		cr_assert_eq(d, cases[k].want);
	}
	v = decode(nan32, sizeof(nan32));
	cr_assert(isnan(v->as.f));
	oscar_value_free(v);
}

Test(codec, strings_and_bins_of_every_width)
{
	const struct {
		size_t        n;
		unsigned char str_hdr;
		unsigned char bin_hdr;
		size_t        hdr_len;
		size_t        bin_hdr_len;
	} cases[] = {
		{ 0, 0xa0, 0xc4, 1, 2 },
		{ 1, 0xa1, 0xc4, 1, 2 },
		{ 31, 0xbf, 0xc4, 1, 2 },
		{ 32, 0xd9, 0xc4, 2, 2 },
		{ 255, 0xd9, 0xc4, 2, 2 },
		{ 256, 0xda, 0xc5, 3, 3 },
		{ 65535, 0xda, 0xc5, 3, 3 },
		{ 65536, 0xdb, 0xc6, 5, 5 },
		{ 70001, 0xdb, 0xc6, 5, 5 },
	};
	char *data = malloc(70001);

	cr_assert_not_null(data);
	for (size_t i = 0; i < 70001; i++) {
		data[i] = (char) ('a' + i % 26);
	}
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		oscar_value_t *s = oscar_value_new_strn(data, cases[k].n);
		oscar_value_t *b = oscar_value_new_bin(data, cases[k].n);
		size_t         len;
		unsigned char *buf;
		oscar_value_t *back;

		buf = encode(s, &len);
		cr_assert_eq(len, cases[k].hdr_len + cases[k].n);
		cr_assert_eq(buf[0], cases[k].str_hdr, "case %zu", k);
		back = decode(buf, len);
		cr_assert_eq(back->type, OSCAR_STR);
		cr_assert_eq(back->as.str.len, cases[k].n);
		cr_assert_eq(back->as.str.ptr[cases[k].n], '\0');
		cr_assert(oscar_value_equal(s, back));
		oscar_value_free(back);
		free(buf);

		buf = encode(b, &len);
		cr_assert_eq(len, cases[k].bin_hdr_len + cases[k].n);
		cr_assert_eq(buf[0], cases[k].bin_hdr, "case %zu", k);
		back = decode(buf, len);
		cr_assert_eq(back->type, OSCAR_BIN);
		cr_assert(oscar_value_equal(b, back));
		oscar_value_free(back);
		free(buf);

		oscar_value_free(s);
		oscar_value_free(b);
	}
	free(data);
}

Test(codec, containers_of_every_width)
{
	const struct {
		size_t        n;
		unsigned char arr_hdr;
		unsigned char map_hdr;
		size_t        hdr_len;
	} cases[] = {
		{ 0, 0x90, 0x80, 1 },
		{ 1, 0x91, 0x81, 1 },
		{ 15, 0x9f, 0x8f, 1 },
		{ 16, 0xdc, 0xde, 3 },
		{ 65535, 0xdc, 0xde, 3 },
		{ 65536, 0xdd, 0xdf, 5 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		oscar_value_t *a = oscar_value_new_array(cases[k].n);
		oscar_value_t *m = oscar_value_new_map(cases[k].n);
		size_t         len;
		unsigned char *buf;
		oscar_value_t *back;

		for (size_t i = 0; i < cases[k].n; i++) {
			oscar_value_array_push(a, oscar_value_new_int((int64_t) i));
			map_put(m, oscar_value_new_int((int64_t) i), oscar_value_new_nil());
		}
		buf = encode(a, &len);
		cr_assert_eq(buf[0], cases[k].arr_hdr, "case %zu", k);
		back = decode(buf, len);
		cr_assert_eq(back->type, OSCAR_ARRAY);
		cr_assert_eq(oscar_value_len(back), cases[k].n);
		cr_assert(oscar_value_equal(a, back));
		oscar_value_free(back);
		free(buf);

		buf = encode(m, &len);
		cr_assert_eq(buf[0], cases[k].map_hdr, "case %zu", k);
		back = decode(buf, len);
		cr_assert_eq(back->type, OSCAR_MAP);
		cr_assert_eq(oscar_value_len(back), cases[k].n);
		cr_assert(oscar_value_equal(m, back));
		oscar_value_free(back);
		free(buf);

		oscar_value_free(a);
		oscar_value_free(m);
	}
}

Test(codec, nested_round_trip)
{
	oscar_value_t       *v = sample();
	size_t               len;
	void                *buf  = encode(v, &len);
	oscar_value_t       *back = decode(buf, len);
	const oscar_value_t *list = oscar_value_map_get(back, "list");
	const oscar_value_t *inner;
	const char          *s;

	cr_assert(oscar_value_equal(v, back));
	cr_assert_not_null(list);
	cr_assert_eq(oscar_value_len(list), 9);
	inner = oscar_value_at(list, 8);
	cr_assert_eq(inner->type, OSCAR_MAP);
	cr_assert_eq(inner->as.map.kv[0].key.type, OSCAR_INT);
	cr_assert_eq(oscar_value_get_str(&inner->as.map.kv[0].val, &s, NULL), 0);
	cr_assert_str_eq(s, "int key");
	cr_assert_eq(inner->as.map.kv[1].key.type, OSCAR_NIL);
	cr_assert_eq(inner->as.map.kv[2].key.type, OSCAR_BIN);
	round_trip(v);
	oscar_value_free(back);
	oscar_value_free(v);
	free(buf);
}

Test(codec, duplicate_map_keys_are_kept)
{
	B(dup, 0x82, 0xa1, 'k', 0x01, 0xa1, 'k', 0x02);
	oscar_value_t *v = decode(dup, sizeof(dup));
	int64_t        i;

	cr_assert_eq(oscar_value_len(v), 2);
	cr_assert_eq(oscar_value_get_int(oscar_value_map_get(v, "k"), &i), 0);
	cr_assert_eq(i, 1); // the first one wins
	round_trip(v);
	oscar_value_free(v);
}

// ---------------------------------------------------------------------------
// Writer and buffer

Test(codec, wbuf_take_and_fini)
{
	osc_wbuf_t w;
	size_t     len = 99;
	char      *p;

	osc_wbuf_init(&w);
	cr_assert_null(osc_wbuf_take(&w, &len));
	cr_assert_eq(len, 0);

	osc_write_cstr(&w, "abc");
	osc_write_raw(&w, "\xc0", 1);
	osc_write_raw(&w, NULL, 0);
	cr_assert_eq(w.err, 0);
	p = osc_wbuf_take(&w, &len);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(p,
	                 "\xa3"
	                 "abc\xc0",
	                 5),
	    0);
	cr_assert_null(w.data);
	cr_assert_eq(w.len, 0);
	free(p);

	// A zeroed buffer works without init, and fini releases it.
	memset(&w, 0, sizeof(w));
	for (int i = 0; i < 10000; i++) {
		osc_write_int(&w, i);
	}
	cr_assert_eq(w.err, 0);
	cr_assert_geq(w.cap, w.len);
	osc_wbuf_fini(&w);
	cr_assert_null(w.data);
}

Test(codec, wbuf_errors_are_sticky)
{
	osc_wbuf_t w;
	size_t     len;

	osc_wbuf_init(&w);
	osc_write_nil(&w);
	cr_assert_eq(osc_wbuf_reserve(&w, SIZE_MAX), OSCAR_ENOMEM);
	cr_assert_eq(w.err, OSCAR_ENOMEM);
	osc_write_str(&w, "xyz", 3);
	osc_write_int(&w, -1000);
	osc_write_float(&w, 1.0);
	cr_assert_eq(w.len, 1);
	cr_assert_eq(osc_wbuf_reserve(&w, 1), OSCAR_ENOMEM);
	osc_write_cstr(&w, NULL); // the first error stays
	cr_assert_eq(w.err, OSCAR_ENOMEM);
	cr_assert_null(osc_wbuf_take(&w, &len));
	cr_assert_eq(len, 0);
	cr_assert_eq(w.err, 0);

	osc_write_cstr(&w, NULL);
	cr_assert_eq(w.err, OSCAR_EINVAL);
	osc_wbuf_fini(&w);
	osc_write_str(&w, NULL, 3);
	cr_assert_eq(w.err, OSCAR_EINVAL);
	osc_wbuf_fini(&w);
}

Test(codec, writer_headers)
{
	B(want, 0x93, 0xc3, 0xde, 0x00, 0x10, 0xc4, 0x02, 0x01, 0x02, 0xa2, 'h', 'i', 0xdd, 0x00,
	    0x01, 0x00, 0x00);
	osc_wbuf_t w;
	size_t     len;
	void      *p;

	osc_wbuf_init(&w);
	osc_write_array(&w, 3);
	osc_write_bool(&w, true);
	osc_write_map(&w, 16);
	osc_write_bin(&w, "\x01\x02", 2);
	osc_write_str(&w, "hix", 2);
	osc_write_array(&w, 65536);
	p = osc_wbuf_take(&w, &len);
	cr_assert_eq(len, sizeof(want));
	cr_assert_eq(memcmp(p, want, len), 0);
	free(p);
}

Test(codec, encode_errors)
{
	oscar_value_t *v   = oscar_value_new_array(0);
	void          *buf = (void *) &buf;
	size_t         len = 1;

	cr_assert_eq(oscar_value_encode(NULL, &buf, &len), OSCAR_EINVAL);
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	cr_assert_eq(oscar_value_encode(v, NULL, &len), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_encode(v, &buf, NULL), OSCAR_EINVAL);

	// An unknown type inside a container.
	oscar_value_array_push(v, oscar_value_new_int(1));
	v->as.arr.items[0].type = (oscar_type_t) 42;
	cr_assert_eq(oscar_value_encode(v, &buf, &len), OSCAR_EINVAL);
	cr_assert_null(buf);
	v->as.arr.items[0].type = OSCAR_INT;
	oscar_value_free(v);

	cr_assert_eq(oscar_value_decode("\xc0", 1, NULL), OSCAR_EINVAL);
}

// ---------------------------------------------------------------------------
// Reader

// reader_sample writes one value of each kind, in this order: nil, true,
// -5, UINT64_MAX, 2.5, "str", bin {1,2,3}, [1, 2], {"k": nil}, 7.
static void *reader_sample(size_t *len)
{
	osc_wbuf_t w;

	osc_wbuf_init(&w);
	osc_write_nil(&w);
	osc_write_bool(&w, true);
	osc_write_int(&w, -5);
	osc_write_uint(&w, UINT64_MAX);
	osc_write_float(&w, 2.5);
	osc_write_cstr(&w, "str");
	osc_write_bin(&w, "\x01\x02\x03", 3);
	osc_write_array(&w, 2);
	osc_write_int(&w, 1);
	osc_write_int(&w, 2);
	osc_write_map(&w, 1);
	osc_write_cstr(&w, "k");
	osc_write_nil(&w);
	osc_write_uint(&w, 7);
	cr_assert_eq(w.err, 0);
	return (osc_wbuf_take(&w, len));
}

Test(codec, reader_typed_getters)
{
	size_t       len;
	void        *buf = reader_sample(&len);
	osc_reader_t r;
	oscar_type_t t;
	bool         b;
	int64_t      i;
	uint64_t     u;
	double       f;
	const char  *s;
	const void  *p;
	size_t       n;
	uint32_t     cnt;
	char         key[4];

	osc_reader_init(&r, buf, len);
	cr_assert_eq(osc_reader_left(&r), len);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_NIL);
	cr_assert_eq(osc_read_nil(&r), 0);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_BOOL);
	cr_assert_eq(osc_read_bool(&r, &b), 0);
	cr_assert(b);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_INT);
	cr_assert_eq(osc_read_int(&r, &i), 0);
	cr_assert_eq(i, -5);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_UINT);
	cr_assert_eq(osc_read_uint(&r, &u), 0);
	cr_assert_eq(u, UINT64_MAX);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_FLOAT);
	cr_assert_eq(osc_read_float(&r, &f), 0);
	cr_assert_eq(f, 2.5);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_STR);
	cr_assert_eq(osc_read_str(&r, &s, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(s, "str", 3), 0);
	cr_assert(s > (const char *) buf && s < (const char *) buf + len);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_BIN);
	cr_assert_eq(osc_read_bin(&r, &p, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(p, "\x01\x02\x03", 3), 0);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_ARRAY);
	cr_assert_eq(osc_read_array(&r, &cnt), 0);
	cr_assert_eq(cnt, 2);
	cr_assert_eq(osc_read_int(&r, &i), 0);
	cr_assert_eq(i, 1);
	cr_assert_eq(osc_read_uint(&r, &u), 0);
	cr_assert_eq(u, 2);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_MAP);
	cr_assert_eq(osc_read_map(&r, &cnt), 0);
	cr_assert_eq(cnt, 1);
	cr_assert_eq(osc_read_str_copy(&r, key, sizeof(key)), 0);
	cr_assert_str_eq(key, "k");
	cr_assert_eq(osc_read_nil(&r), 0);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_INT); // written as uint, fits int64
	cr_assert_eq(osc_read_int(&r, &i), 0);
	cr_assert_eq(i, 7);
	cr_assert_eq(osc_reader_left(&r), 0);

	// Nothing left: every getter fails.
	cr_assert_eq(osc_read_type(&r, &t), OSCAR_EPROTO);
	cr_assert_eq(osc_read_nil(&r), OSCAR_EPROTO);
	cr_assert_eq(osc_read_int(&r, &i), OSCAR_EPROTO);
	cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
	free(buf);
}

// Getter bits for try_all.
enum {
	G_NIL   = 1 << 0,
	G_BOOL  = 1 << 1,
	G_INT   = 1 << 2,
	G_UINT  = 1 << 3,
	G_FLOAT = 1 << 4,
	G_STR   = 1 << 5,
	G_BIN   = 1 << 6,
	G_ARRAY = 1 << 7,
	G_MAP   = 1 << 8,
	G_COPY  = 1 << 9,
};

// try_all runs every getter on the value in buf and checks that exactly
// the ones in ok_mask succeed; failing ones must not move the position.
static void try_all(const void *buf, size_t len, unsigned ok_mask)
{
	osc_reader_t r;
	bool         b;
	int64_t      i;
	uint64_t     u;
	double       f;
	const char  *s;
	const void  *p;
	size_t       n;
	uint32_t     cnt;
	char         dst[64];
	int          rv;

	for (unsigned g = 0; g < 10; g++) {
		osc_reader_init(&r, buf, len);
		switch (1u << g) {
		case G_NIL:
			rv = osc_read_nil(&r);
			break;
		case G_BOOL:
			rv = osc_read_bool(&r, &b);
			break;
		case G_INT:
			rv = osc_read_int(&r, &i);
			break;
		case G_UINT:
			rv = osc_read_uint(&r, &u);
			break;
		case G_FLOAT:
			rv = osc_read_float(&r, &f);
			break;
		case G_STR:
			rv = osc_read_str(&r, &s, &n);
			break;
		case G_BIN:
			rv = osc_read_bin(&r, &p, &n);
			break;
		case G_ARRAY:
			rv = osc_read_array(&r, &cnt);
			break;
		case G_MAP:
			rv = osc_read_map(&r, &cnt);
			break;
		default:
			rv = osc_read_str_copy(&r, dst, sizeof(dst));
			break;
		}
		if (ok_mask & (1u << g)) {
			cr_assert_eq(rv, 0, "getter %u", g);
			cr_assert_gt(r.pos, 0);
		} else {
			cr_assert_eq(rv, OSCAR_EPROTO, "getter %u", g);
			cr_assert_eq(r.pos, 0, "getter %u moved", g);
		}
	}
}

Test(codec, reader_wrong_types)
{
	B(nil, 0xc0);
	B(yes, 0xc3);
	B(neg, 0xd0, 0x80);
	B(pos, 0x05);
	B(big, 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0);
	B(flt, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0);
	B(str, 0xa2, 'h', 'i');
	B(bin, 0xc4, 0x01, 0x00);
	B(arr, 0x91, 0xc0);
	B(map, 0x81, 0xc0, 0xc0);

	try_all(nil, sizeof(nil), G_NIL);
	try_all(yes, sizeof(yes), G_BOOL);
	try_all(neg, sizeof(neg), G_INT | G_FLOAT);
	try_all(pos, sizeof(pos), G_INT | G_UINT | G_FLOAT);
	try_all(big, sizeof(big), G_UINT | G_FLOAT);
	try_all(flt, sizeof(flt), G_FLOAT);
	try_all(str, sizeof(str), G_STR | G_COPY);
	try_all(bin, sizeof(bin), G_BIN);
	try_all(arr, sizeof(arr), G_ARRAY);
	try_all(map, sizeof(map), G_MAP);
}

Test(codec, reader_int_ranges)
{
	B(i64max, 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
	B(i64min, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);
	osc_reader_t r;
	int64_t      i;
	uint64_t     u;
	double       f;

	osc_reader_init(&r, i64max, sizeof(i64max));
	cr_assert_eq(osc_read_int(&r, &i), 0);
	cr_assert_eq(i, INT64_MAX);
	osc_reader_init(&r, i64max, sizeof(i64max));
	cr_assert_eq(osc_read_uint(&r, &u), 0);
	cr_assert_eq(u, (uint64_t) INT64_MAX);
	osc_reader_init(&r, i64min, sizeof(i64min));
	cr_assert_eq(osc_read_int(&r, &i), 0);
	cr_assert_eq(i, INT64_MIN);
	osc_reader_init(&r, i64min, sizeof(i64min));
	cr_assert_eq(osc_read_float(&r, &f), 0);
	cr_assert_eq(f, -9223372036854775808.0);
	osc_reader_init(&r, i64min, sizeof(i64min));
	cr_assert_eq(osc_read_uint(&r, &u), OSCAR_EPROTO);
}

Test(codec, read_str_copy_limits)
{
	B(five, 0xa5, 'h', 'e', 'l', 'l', 'o');
	B(empty, 0xa0);
	osc_reader_t r;
	char         dst[8];

	osc_reader_init(&r, five, sizeof(five));
	cr_assert_eq(osc_read_str_copy(&r, dst, 5), OSCAR_ETOOLARGE);
	cr_assert_eq(r.pos, 0);
	cr_assert_eq(osc_read_str_copy(&r, dst, 0), OSCAR_ETOOLARGE);
	cr_assert_eq(osc_read_str_copy(&r, dst, 6), 0);
	cr_assert_str_eq(dst, "hello");
	cr_assert_eq(osc_reader_left(&r), 0);

	osc_reader_init(&r, empty, sizeof(empty));
	cr_assert_eq(osc_read_str_copy(&r, dst, 1), 0);
	cr_assert_str_eq(dst, "");
}

Test(codec, read_skip)
{
	size_t       len;
	void        *buf = reader_sample(&len);
	osc_reader_t r;
	int64_t      i;
	int          count = 0;

	osc_reader_init(&r, buf, len);
	while (osc_reader_left(&r) > 1) {
		cr_assert_eq(osc_read_skip(&r), 0);
		count++;
	}
	cr_assert_eq(count, 9); // the ten values but the last
	cr_assert_eq(osc_read_int(&r, &i), 0);
	cr_assert_eq(i, 7);

	// Without the last byte, the tenth value is missing.
	osc_reader_init(&r, buf, len - 1);
	for (int k = 0; k < 9; k++) {
		cr_assert_eq(osc_read_skip(&r), 0);
	}
	cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);

	// A truncated container fails and leaves the position alone.
	osc_reader_init(&r, "\x92\x01", 2);
	cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
	cr_assert_eq(r.pos, 0);
	free(buf);
}

Test(codec, read_value_leaves_rest)
{
	B(two, 0x92, 0x01, 0xa1, 'x', 0xc3);
	osc_reader_t   r;
	oscar_value_t *v;
	bool           b;

	osc_reader_init(&r, two, sizeof(two));
	cr_assert_eq(osc_read_value(&r, &v), 0);
	cr_assert_eq(oscar_value_len(v), 2);
	cr_assert_eq(osc_read_bool(&r, &b), 0);
	cr_assert(b);
	oscar_value_free(v);

	// Failure leaves *out NULL and the position where it was.
	osc_reader_init(&r, two, 3);
	cr_assert_eq(osc_read_value(&r, &v), OSCAR_EPROTO);
	cr_assert_null(v);
	cr_assert_eq(r.pos, 0);
}

// ---------------------------------------------------------------------------
// Hostile input

Test(codec, empty_input)
{
	osc_reader_t r;
	oscar_type_t t;

	expect_eproto("", 0);
	expect_eproto(NULL, 0);
	expect_eproto(NULL, 5);
	osc_reader_init(&r, NULL, 0);
	cr_assert_eq(osc_read_type(&r, &t), OSCAR_EPROTO);
	cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
}

Test(codec, truncation_at_every_byte)
{
	oscar_value_t *v = sample();
	size_t         len;
	unsigned char *buf = encode(v, &len);
	osc_reader_t   r;

	cr_assert_gt(len, 300);
	for (size_t n = 0; n < len; n++) {
		// Copy the prefix so that AddressSanitizer sees any read past it.
		unsigned char *cut = malloc(n + 1);

		memcpy(cut, buf, n);
		expect_eproto(n > 0 ? cut : NULL, n);
		osc_reader_init(&r, cut, n);
		cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
		cr_assert_eq(r.pos, 0);
		free(cut);
	}
	oscar_value_free(v);
	free(buf);
}

Test(codec, truncated_scalars)
{
	for (size_t k = 0; k < sizeof(int_cases) / sizeof(int_cases[0]); k++) {
		for (size_t n = 1; n < int_cases[k].n; n++) {
			unsigned char *cut = malloc(n);

			memcpy(cut, int_cases[k].bytes, n);
			expect_eproto(cut, n);
			free(cut);
		}
	}
	expect_eproto("\xcb\x3f\xf8\x00", 4);
	expect_eproto("\xca\x3f", 2);
	expect_eproto("\xd9", 1);
	expect_eproto("\xda\x00", 2);
	expect_eproto("\xdb\x00\x00\x00", 4);
	expect_eproto("\xc5\x00", 2);
	expect_eproto("\xdc\x00", 2);
	expect_eproto("\xdf\x00\x00", 3);
}

Test(codec, trailing_bytes_rejected)
{
	oscar_value_t *v = sample();
	size_t         len;
	unsigned char *buf     = encode(v, &len);
	unsigned char *extra   = malloc(len + 2);
	const int      tails[] = { 0x00, 0xc0, 0xff, 0xc1 };

	for (size_t k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
		memcpy(extra, buf, len);
		extra[len] = (unsigned char) tails[k];
		expect_eproto(extra, len + 1);
	}
	memcpy(extra, buf, len);
	extra[len]     = 0x91;
	extra[len + 1] = 0xc0;
	expect_eproto(extra, len + 2);
	expect_eproto("\xc0\xc0", 2);
	expect_eproto("\x90\x90", 2);
	expect_eproto("\xa1xy", 3);
	oscar_value_free(v);
	free(buf);
	free(extra);
}

Test(codec, depth_limit_on_decode)
{
	for (int map = 0; map < 2; map++) {
		size_t         len;
		unsigned char *ok  = nested_bytes(OSCAR_VALUE_MAX_DEPTH, map, &len);
		oscar_value_t *v   = decode(ok, len);
		unsigned char *bad = nested_bytes(OSCAR_VALUE_MAX_DEPTH + 1, map, &len);
		osc_reader_t   r;

		oscar_value_free(v);
		free(ok);
		expect_eproto(bad, len);
		osc_reader_init(&r, bad, len);
		cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
		cr_assert_eq(r.pos, 0);
		free(bad);

		// Far too deep: rejected without running out of stack.
		bad = nested_bytes(200000, map, &len);
		expect_eproto(bad, len);
		osc_reader_init(&r, bad, len);
		cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
		free(bad);
	}
}

Test(codec, depth_limit_on_encode)
{
	oscar_value_t *ok  = nested_value(OSCAR_VALUE_MAX_DEPTH);
	oscar_value_t *bad = nested_value(OSCAR_VALUE_MAX_DEPTH + 1);
	void          *buf = NULL;
	size_t         len;

	round_trip(ok);
	cr_assert_eq(oscar_value_encode(bad, &buf, &len), OSCAR_EINVAL);
	cr_assert_null(buf);
	oscar_value_free(ok);
	oscar_value_free(bad);
}

// huge_case checks that a header declaring far more than the input holds
// is rejected, with some bytes after it so that only the length is wrong.
static void huge_case(const unsigned char *hdr, size_t hdr_len, size_t pad)
{
	unsigned char *buf = calloc(1, hdr_len + pad);
	osc_reader_t   r;
	uint32_t       n;

	memcpy(buf, hdr, hdr_len);
	expect_eproto(buf, hdr_len + pad);
	osc_reader_init(&r, buf, hdr_len + pad);
	cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO);
	cr_assert_eq(osc_read_array(&r, &n), OSCAR_EPROTO);
	cr_assert_eq(osc_read_map(&r, &n), OSCAR_EPROTO);
	cr_assert_eq(r.pos, 0);
	free(buf);
}

Test(codec, huge_declared_lengths)
{
	B(arr32, 0xdd, 0xff, 0xff, 0xff, 0xff);
	B(arr32b, 0xdd, 0x80, 0x00, 0x00, 0x00);
	B(arr16, 0xdc, 0xff, 0xff);
	B(str32, 0xdb, 0xff, 0xff, 0xff, 0xff);
	B(str16, 0xda, 0xff, 0xff);
	B(str8, 0xd9, 0xff);
	B(bin32, 0xc6, 0xff, 0xff, 0xff, 0xff);
	B(bin16, 0xc5, 0xff, 0xff);
	B(map32, 0xdf, 0xff, 0xff, 0xff, 0xff);
	B(map32odd, 0xdf, 0x80, 0x00, 0x00, 0x01);
	B(map16, 0xde, 0xff, 0xff);
	B(fixarr, 0x9f);
	B(fixstr, 0xbf);
	B(fixmap, 0x8f);
	const size_t pads[] = { 0, 1, 14, 100 };

	for (size_t k = 0; k < sizeof(pads) / sizeof(pads[0]); k++) {
		size_t pad = pads[k];

		huge_case(arr32, sizeof(arr32), pad);
		huge_case(arr32b, sizeof(arr32b), pad);
		huge_case(arr16, sizeof(arr16), pad);
		huge_case(str32, sizeof(str32), pad);
		huge_case(str16, sizeof(str16), pad);
		huge_case(str8, sizeof(str8), pad);
		huge_case(bin32, sizeof(bin32), pad);
		huge_case(bin16, sizeof(bin16), pad);
		huge_case(map32, sizeof(map32), pad);
		huge_case(map32odd, sizeof(map32odd), pad);
		huge_case(map16, sizeof(map16), pad);
		// Fixed-size headers declare little: pad to just short of it.
		huge_case(fixarr, sizeof(fixarr), pad < 14 ? pad : 14);
		huge_case(fixstr, sizeof(fixstr), pad < 30 ? pad : 30);
		huge_case(fixmap, sizeof(fixmap), pad < 29 ? pad : 29);
	}
}

Test(codec, counts_checked_against_bytes_left)
{
	// Two map entries need at least four bytes.
	expect_eproto("\x82\xc0\xc0\xc0", 4);
	// But a count that exactly fits is fine.
	{
		unsigned char  buf[5 + 4096];
		oscar_value_t *v;

		buf[0] = 0xdd;
		buf[1] = 0x00;
		buf[2] = 0x00;
		buf[3] = 0x10;
		buf[4] = 0x00;
		memset(buf + 5, 0xc0, 4096);
		v = decode(buf, sizeof(buf));
		cr_assert_eq(oscar_value_len(v), 4096);
		oscar_value_free(v);
		expect_eproto(buf, sizeof(buf) - 1);
	}
}

Test(codec, ext_and_reserved_rejected)
{
	B(fixext1, 0xd4, 0x01, 0x02);
	B(fixext2, 0xd5, 0x01, 0x02, 0x03);
	B(fixext4, 0xd6, 0x01, 0, 0, 0, 0);
	B(fixext8, 0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0);
	B(fixext16, 0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	B(ext8, 0xc7, 0x01, 0x05, 0xaa);
	B(ext8e, 0xc7, 0x00, 0x05);
	B(ext16, 0xc8, 0x00, 0x01, 0x05, 0xaa);
	B(ext32, 0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 0xaa);
	B(in_array, 0x92, 0xc0, 0xd4, 0x01, 0x02);
	B(in_map, 0x81, 0xa1, 'k', 0xd4, 0x01, 0x02);
	B(as_key, 0x81, 0xd4, 0x01, 0x02, 0xc0);
	B(reserved, 0xc1);
	B(reserved_in, 0x91, 0xc1);
	const struct {
		const unsigned char *p;
		size_t               n;
	} cases[] = {
		{ fixext1, sizeof(fixext1) },
		{ fixext2, sizeof(fixext2) },
		{ fixext4, sizeof(fixext4) },
		{ fixext8, sizeof(fixext8) },
		{ fixext16, sizeof(fixext16) },
		{ ext8, sizeof(ext8) },
		{ ext8e, sizeof(ext8e) },
		{ ext16, sizeof(ext16) },
		{ ext32, sizeof(ext32) },
		{ in_array, sizeof(in_array) },
		{ in_map, sizeof(in_map) },
		{ as_key, sizeof(as_key) },
		{ reserved, sizeof(reserved) },
		{ reserved_in, sizeof(reserved_in) },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		osc_reader_t r;
		oscar_type_t t;

		expect_eproto(cases[k].p, cases[k].n);
		osc_reader_init(&r, cases[k].p, cases[k].n);
		cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO, "case %zu", k);
		if (k < 9 || k == 12) {
			cr_assert_eq(osc_read_type(&r, &t), OSCAR_EPROTO);
		}
	}
}

// ---------------------------------------------------------------------------
// Object references (ext type 2)

Test(codec, ref_encodings)
{
	// ext 8: 6 bytes of payload, type 2, output 0xffffffff (whole), "ab".
	B(whole, 0xc7, 0x06, 0x02, 0xff, 0xff, 0xff, 0xff, 'a', 'b');
	// fixext 8: output 3, "abcd".
	B(out3, 0xd7, 0x02, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c', 'd');
	// fixext 16: output 0, "abcdefghijkl".
	B(fix16, 0xd8, 0x02, 0x00, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
	    'j', 'k', 'l');
	oscar_value_t *v;

	v = oscar_value_new_ref("ab");
	expect_value_bytes(v, whole, sizeof(whole));
	oscar_value_free(v);
	v = oscar_value_new_ref_output("abcd", 3);
	expect_value_bytes(v, out3, sizeof(out3));
	oscar_value_free(v);
	v = oscar_value_new_ref_output("abcdefghijkl", 0);
	expect_value_bytes(v, fix16, sizeof(fix16));
	oscar_value_free(v);

	// The longest key, and the largest output index.
	char key[OSCAR_REF_KEY_MAX + 1];
	memset(key, 'k', OSCAR_REF_KEY_MAX);
	key[OSCAR_REF_KEY_MAX] = '\0';
	v                      = oscar_value_new_ref_output(key, OSCAR_REF_OUTPUT_MAX);
	cr_assert_not_null(v);
	round_trip(v);
	oscar_value_free(v);
}

Test(codec, refs_inside_containers)
{
	oscar_value_t *a = oscar_value_new_array(0);
	oscar_value_t *m = oscar_value_new_map(0);
	oscar_value_t *back;
	size_t         len;
	void          *buf;

	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_int(1)), 0);
	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_ref("x")), 0);
	cr_assert_eq(oscar_value_map_set(m, "r", oscar_value_new_ref_output("task", 2)), 0);
	map_put(m, oscar_value_new_ref("as-key"), oscar_value_new_nil());
	cr_assert_eq(oscar_value_array_push(a, m), 0);
	round_trip(a);

	buf  = encode(a, &len);
	back = decode(buf, len);
	cr_assert_eq(back->as.arr.items[1].type, OSCAR_REF);
	cr_assert_str_eq(back->as.arr.items[1].as.ref.key, "x");
	cr_assert_eq(back->as.arr.items[1].as.ref.output, OSCAR_REF_WHOLE);
	cr_assert_eq(oscar_value_map_get(&back->as.arr.items[2], "r")->as.ref.output, 2);
	cr_assert_eq(back->as.arr.items[2].as.map.kv[1].key.type, OSCAR_REF);

	// The reader's typed side: the type, and skipping it.
	osc_reader_t r;
	oscar_type_t t;
	uint32_t     n;
	osc_reader_init(&r, buf, len);
	cr_assert_eq(osc_read_array(&r, &n), 0);
	cr_assert_eq(osc_read_skip(&r), 0);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_REF);
	cr_assert_eq(osc_read_skip(&r), 0);
	cr_assert_eq(osc_read_type(&r, &t), 0);
	cr_assert_eq(t, OSCAR_MAP);
	oscar_value_free(back);
	oscar_value_free(a);
	free(buf);
}

Test(codec, malformed_refs_rejected)
{
	B(no_key, 0xd6, 0x02, 0xff, 0xff, 0xff, 0xff);            // 4 bytes: no key
	B(short_ext, 0xd5, 0x02, 0x00, 0x00);                     // 2 bytes
	B(one_byte, 0xd4, 0x02, 0x00);                            // 1 byte
	B(zero_in_key, 0xd7, 0x02, 0, 0, 0, 0, 'a', 0, 'b', 'c'); // a zero byte
	B(truncated, 0xc7, 0x06, 0x02, 0xff, 0xff, 0xff, 0xff, 'a');
	B(no_payload, 0xc7, 0x06, 0x02);
	const struct {
		const unsigned char *p;
		size_t               n;
	} cases[] = {
		{ no_key, sizeof(no_key) },
		{ short_ext, sizeof(short_ext) },
		{ one_byte, sizeof(one_byte) },
		{ zero_in_key, sizeof(zero_in_key) },
		{ truncated, sizeof(truncated) },
		{ no_payload, sizeof(no_payload) },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		osc_reader_t r;

		expect_eproto(cases[k].p, cases[k].n);
		osc_reader_init(&r, cases[k].p, cases[k].n);
		cr_assert_eq(osc_read_skip(&r), OSCAR_EPROTO, "case %zu", k);
	}

	// A key one byte too long: ext 16 of 4 + OSCAR_REF_KEY_MAX + 1 bytes.
	size_t         plen = 4 + OSCAR_REF_KEY_MAX + 1;
	unsigned char *big  = malloc(4 + plen);
	cr_assert_not_null(big);
	big[0] = 0xc8;
	big[1] = (unsigned char) (plen >> 8);
	big[2] = (unsigned char) plen;
	big[3] = 0x02;
	memset(big + 4, 'k', plen);
	expect_eproto(big, 4 + plen);
	// One byte less is the longest key: accepted.
	oscar_value_t *v = NULL;
	big[2]           = (unsigned char) (plen - 1);
	big[1]           = (unsigned char) ((plen - 1) >> 8);
	cr_assert_eq(oscar_value_decode(big, 4 + plen - 1, &v), 0);
	cr_assert_eq(v->type, OSCAR_REF);
	cr_assert_eq(v->as.ref.len, OSCAR_REF_KEY_MAX);
	oscar_value_free(v);
	free(big);
}

Test(codec, bad_refs_not_encoded)
{
	// Built by hand past the constructors' checks: each must be refused
	// by the encoder, so that whatever is written can be read back.
	char          key[] = "a\0b";
	oscar_value_t v;
	void         *buf = NULL;
	size_t        len = 0;

	memset(&v, 0, sizeof(v));
	v.type          = OSCAR_REF;
	v.as.ref.key    = key;
	v.as.ref.len    = 3; // holds a zero byte
	v.as.ref.output = OSCAR_REF_WHOLE;
	cr_assert_eq(oscar_value_encode(&v, &buf, &len), OSCAR_EINVAL);
	v.as.ref.len = 0;
	cr_assert_eq(oscar_value_encode(&v, &buf, &len), OSCAR_EINVAL);
	v.as.ref.len    = 1;
	v.as.ref.output = -2;
	cr_assert_eq(oscar_value_encode(&v, &buf, &len), OSCAR_EINVAL);
	v.as.ref.output = OSCAR_REF_OUTPUT_MAX + 1;
	cr_assert_eq(oscar_value_encode(&v, &buf, &len), OSCAR_EINVAL);
	cr_assert_null(buf);
}

// ---------------------------------------------------------------------------
// Randomized robustness. Whatever the bytes, oscar_value_decode must not
// crash; when it succeeds, the value must encode, decode again to an equal
// value, and encode to the same bytes (the writer is canonical).

// check_decode runs one input and returns whether it decoded.
static bool check_decode(const void *p, size_t n)
{
	oscar_value_t *v  = NULL;
	oscar_value_t *v2 = NULL;
	void          *b1;
	void          *b2;
	size_t         n1;
	size_t         n2;
	int            rv = oscar_value_decode(p, n, &v);

	if (rv != 0) {
		cr_assert_eq(rv, OSCAR_EPROTO, "%s", oscar_errname(rv));
		cr_assert_null(v);
		return (false);
	}
	cr_assert_eq(oscar_value_encode(v, &b1, &n1), 0);
	cr_assert_eq(oscar_value_decode(b1, n1, &v2), 0);
	cr_assert(oscar_value_equal(v, v2));
	cr_assert_eq(oscar_value_encode(v2, &b2, &n2), 0);
	cr_assert_eq(n1, n2);
	cr_assert_eq(memcmp(b1, b2, n1), 0);
	oscar_value_free(v);
	oscar_value_free(v2);
	free(b1);
	free(b2);
	return (true);
}

static const int64_t edge_ints[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL,
	4294967296LL, INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
	(int64_t) INT32_MIN - 1, INT64_MIN };

// rand_value builds a random value at most four containers deep.
static oscar_value_t *rand_value(rng_t *r, int depth)
{
	char   buf[300];
	size_t n;

	switch (rng_below(r, depth < 4 ? 12 : 9)) {
	case 0:
		return (oscar_value_new_nil());
	case 1:
		return (oscar_value_new_bool(rng_next(r) & 1));
	case 2:
		return (oscar_value_new_int(
		    edge_ints[rng_below(r, sizeof(edge_ints) / sizeof(edge_ints[0]))]));
	case 3: {
		// Any magnitude, either sign.
		size_t  shift = 1 + rng_below(r, 63);
		int64_t i     = (int64_t) (rng_next(r) >> shift);

		return (oscar_value_new_int(rng_next(r) & 1 ? -i - 1 : i));
	}
	case 4:
		return (oscar_value_new_uint(rng_next(r) | (1ULL << 63)));
	case 5: {
		uint64_t bits = rng_next(r);
		double   d;

		memcpy(&d, &bits, sizeof(d));
		return (oscar_value_new_float(d));
	}
	case 6:
	case 7:
		n = rng_below(r, 8) == 0 ? rng_below(r, sizeof(buf)) : rng_below(r, 12);
		for (size_t i = 0; i < n; i++) {
			buf[i] = (char) rng_next(r);
		}
		return (
		    rng_next(r) & 1 ? oscar_value_new_strn(buf, n) : oscar_value_new_bin(buf, n));
	case 8: {
		// A reference: a key of 1..40 printable bytes, now and then
		// an output index.
		n = 1 + rng_below(r, 40);
		for (size_t i = 0; i < n; i++) {
			buf[i] = (char) ('!' + rng_below(r, 94));
		}
		buf[n] = '\0';
		return (oscar_value_new_ref_output(
		    buf, rng_next(r) & 1 ? OSCAR_REF_WHOLE : (int64_t) rng_below(r, 1000)));
	}
	case 9:
	case 10: {
		oscar_value_t *a = oscar_value_new_array(0);

		n = rng_below(r, 6);
		for (size_t i = 0; i < n; i++) {
			oscar_value_array_push(a, rand_value(r, depth + 1));
		}
		return (a);
	}
	default: {
		oscar_value_t *m = oscar_value_new_map(0);

		n = rng_below(r, 5);
		for (size_t i = 0; i < n; i++) {
			map_put(m, rand_value(r, depth + 1), rand_value(r, depth + 1));
		}
		return (m);
	}
	}
}

// rand_encoding returns the encoding of a random value (always a
// container, so that mutations have structure to break).
static unsigned char *rand_encoding(rng_t *r, size_t *len)
{
	oscar_value_t *v;
	unsigned char *buf;

	do {
		v = rand_value(r, 0);
		if (v->type == OSCAR_ARRAY || v->type == OSCAR_MAP) {
			break;
		}
		oscar_value_free(v);
	} while (true);
	buf = encode(v, len);
	oscar_value_free(v);
	return (buf);
}

Test(codec_random, generated_values_round_trip)
{
	rng_t r = { 0x9E3779B97F4A7C15ULL };

	for (int k = 0; k < 5000; k++) {
		oscar_value_t *v = rand_value(&r, 0);
		size_t         len;
		void          *buf;

		round_trip(v);
		// The measured length is the encoding's.
		buf = encode(v, &len);
		cr_assert_eq(osc_value_encoded_len(v), len);
		// Header by header, osc_read_head walks the encoding to its
		// end exactly, and agrees with the reader on every type.
		size_t pos = 0;
		while (pos < len) {
			osc_head_t   h;
			osc_reader_t rd;
			oscar_type_t t;
			cr_assert_eq(osc_read_head((char *) buf + pos, len - pos, &h), 0);
			cr_assert_leq(h.hdr, len - pos);
			osc_reader_init(&rd, (char *) buf + pos, len - pos);
			cr_assert_eq(osc_read_type(&rd, &t), 0);
			switch (h.kind) {
			case OSC_HEAD_STR:
				cr_assert_eq(t, OSCAR_STR);
				break;
			case OSC_HEAD_BIN:
				cr_assert_eq(t, OSCAR_BIN);
				break;
			case OSC_HEAD_EXT:
				cr_assert_eq(t, OSCAR_REF);
				cr_assert_eq(h.ext_type, 2);
				break;
			case OSC_HEAD_ARRAY:
				cr_assert_eq(t, OSCAR_ARRAY);
				break;
			case OSC_HEAD_MAP:
				cr_assert_eq(t, OSCAR_MAP);
				break;
			default:
				cr_assert(t != OSCAR_STR && t != OSCAR_BIN && t != OSCAR_ARRAY &&
				          t != OSCAR_MAP && t != OSCAR_REF);
				break;
			}
			pos += h.hdr;
			if (h.kind == OSC_HEAD_STR || h.kind == OSC_HEAD_BIN ||
			    h.kind == OSC_HEAD_EXT) {
				pos += h.len;
			}
		}
		cr_assert_eq(pos, len);
		free(buf);
		oscar_value_free(v);
	}
}

Test(codec, read_head_edges)
{
	B(ext8, 0xc7, 0x06, 0x02);
	B(bin16, 0xc5, 0x01, 0x00);
	B(fix8, 0xd7, 0x02);
	B(f64, 0xcb);
	B(map32, 0xdf, 0, 0, 0, 3);
	B(neg, 0xe0);
	osc_head_t h;

	cr_assert_eq(osc_read_head("\xc1", 1, &h), OSCAR_EPROTO);
	cr_assert_eq(osc_read_head(ext8, 0, &h), OSCAR_EPROTO);
	// Cut short: only the header's length is known.
	cr_assert_eq(osc_read_head(ext8, 1, &h), 0);
	cr_assert_eq(h.hdr, 3);
	cr_assert_eq(osc_read_head(ext8, 3, &h), 0);
	cr_assert_eq(h.kind, OSC_HEAD_EXT);
	cr_assert_eq(h.len, 6);
	cr_assert_eq(h.ext_type, 2);
	cr_assert_eq(osc_read_head(bin16, 2, &h), 0);
	cr_assert_eq(h.hdr, 3);
	cr_assert_eq(osc_read_head(bin16, 3, &h), 0);
	cr_assert_eq(h.kind, OSC_HEAD_BIN);
	cr_assert_eq(h.len, 256);
	cr_assert_eq(osc_read_head(fix8, 2, &h), 0);
	cr_assert_eq(h.hdr, 2);
	cr_assert_eq(h.len, 8);
	cr_assert_eq(osc_read_head(f64, 1, &h), 0);
	cr_assert_eq(h.kind, OSC_HEAD_SCALAR);
	cr_assert_eq(h.hdr, 9);
	cr_assert_eq(osc_read_head(map32, 5, &h), 0);
	cr_assert_eq(h.kind, OSC_HEAD_MAP);
	cr_assert_eq(h.len, 3);
	cr_assert_eq(osc_read_head(neg, 1, &h), 0);
	cr_assert_eq(h.kind, OSC_HEAD_SCALAR);
	cr_assert_eq(h.hdr, 1);
}

Test(codec, encoded_len_at_every_width)
{
	static const size_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536, 70000 };
	static const size_t keys[] = { 1, 3, 4, 12, 13, 251, 252, 300 };
	char               *buf    = calloc(1, 70001);
	oscar_value_t      *v;
	size_t              n;
	void               *enc;

	cr_assert_not_null(buf);
	memset(buf, 'x', 70000);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		oscar_value_t *a = oscar_value_new_array(0);
		oscar_value_t *m = oscar_value_new_map(0);
		for (size_t j = 0; j < lens[i] && j < 70000; j++) {
			oscar_value_array_push(a, oscar_value_new_nil());
		}
		for (size_t j = 0; j < lens[i] && j < 300; j++) {
			char k[16];
			snprintf(k, sizeof(k), "%zu", j);
			oscar_value_map_set(m, k, oscar_value_new_nil());
		}
		oscar_value_t *vals[] = { oscar_value_new_strn(buf, lens[i]),
			oscar_value_new_bin(buf, lens[i]), a, m };
		for (size_t j = 0; j < 4; j++) {
			enc = encode(vals[j], &n);
			cr_assert_eq(
			    osc_value_encoded_len(vals[j]), n, "len %zu kind %zu", lens[i], j);
			free(enc);
			oscar_value_free(vals[j]);
		}
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		buf[keys[i]] = '\0';
		v            = oscar_value_new_ref_output(buf, (int64_t) i);
		buf[keys[i]] = 'x';
		enc          = encode(v, &n);
		cr_assert_eq(osc_value_encoded_len(v), n, "key %zu", keys[i]);
		free(enc);
		oscar_value_free(v);
	}
	free(buf);
}

Test(codec_random, random_bytes)
{
	rng_t         r  = { 0x0123456789ABCDEFULL };
	int           ok = 0;
	unsigned char buf[64];

	for (int k = 0; k < 40000; k++) {
		size_t         n = rng_below(&r, sizeof(buf) + 1);
		unsigned char *p;

		for (size_t i = 0; i < n; i++) {
			buf[i] = (unsigned char) rng_next(&r);
		}
		// An exact-size copy lets AddressSanitizer catch over-reads.
		p = malloc(n + 1);
		memcpy(p, buf, n);
		ok += check_decode(p, n);
		free(p);
	}
	cr_assert_gt(ok, 0);
}

// mutate applies one mutation of the given kind to a copy of
// src[0..len) and returns the new bytes and their length.
static unsigned char *mutate(
    rng_t *r, int kind, const unsigned char *src, size_t len, size_t *out_len)
{
	unsigned char *p = malloc(len + 8);
	size_t         at;
	size_t         n;

	memcpy(p, src, len);
	*out_len = len;
	switch (kind) {
	case 0: // flip one to three bits
		n = 1 + rng_below(r, 3);
		for (size_t i = 0; i < n; i++) {
			p[rng_below(r, len)] ^= (unsigned char) (1u << rng_below(r, 8));
		}
		break;
	case 1: // replace a byte, often with a type byte
		at    = rng_below(r, len);
		p[at] = rng_next(r) & 1 ? (unsigned char) (0xc0 + rng_below(r, 0x20))
		                        : (unsigned char) rng_next(r);
		break;
	case 2: // truncate
		*out_len = rng_below(r, len);
		break;
	default: // insert one to eight random bytes
		at = rng_below(r, len + 1);
		n  = 1 + rng_below(r, 8);
		memmove(p + at + n, p + at, len - at);
		for (size_t i = 0; i < n; i++) {
			p[at + i] = (unsigned char) rng_next(r);
		}
		*out_len = len + n;
		break;
	}
	return (p);
}

// run_mutations decodes count mutations of the given kind. Some must
// decode, except truncations: no proper prefix of a value is a value.
static void run_mutations(uint64_t seed, int kind, int count)
{
	rng_t          r   = { seed };
	int            ok  = 0;
	size_t         len = 0;
	unsigned char *src = NULL;

	for (int k = 0; k < count; k++) {
		unsigned char *p;
		size_t         n;

		if (k % 16 == 0) {
			free(src);
			src = rand_encoding(&r, &len);
		}
		p = mutate(&r, kind, src, len, &n);
		ok += check_decode(p, n);
		free(p);
	}
	free(src);
	if (kind == 2) {
		cr_assert_eq(ok, 0);
	} else {
		cr_assert_gt(ok, 0);
	}
}

Test(codec_random, bit_flips)
{
	run_mutations(0xDEADBEEFCAFEF00DULL, 0, 20000);
}

Test(codec_random, byte_replacements)
{
	run_mutations(0x1234567812345678ULL, 1, 20000);
}

Test(codec_random, truncations)
{
	run_mutations(0x0F0F0F0F0F0F0F0FULL, 2, 10000);
}

Test(codec_random, insertions)
{
	run_mutations(0xA5A5A5A5A5A5A5A5ULL, 3, 20000);
}
