// Tests of object references (OSCAR_REF) as values: constructors,
// accessors, copy, equality, formatting, walking and replacing the
// references in a value; and of the canonical encoding and hash of values.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "oscar/error.h"
#include "oscar/value.h"

// arr builds an array of the given heap values (consumed).
static oscar_value_t *arr(size_t n, oscar_value_t **items)
{
	oscar_value_t *a = oscar_value_new_array(n);

	cr_assert_not_null(a);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(oscar_value_array_push(a, items[i]), 0);
	}
	return (a);
}

Test(ref, constructors_and_accessors)
{
	oscar_value_t *r = oscar_value_new_ref("obj-1");
	const char    *key;
	size_t         len;
	int64_t        out;

	cr_assert_not_null(r);
	cr_assert_eq(r->type, OSCAR_REF);
	cr_assert_eq(oscar_value_get_ref(r, &key, &len, &out), 0);
	cr_assert_str_eq(key, "obj-1");
	cr_assert_eq(len, 5);
	cr_assert_eq(out, OSCAR_REF_WHOLE);
	cr_assert_str_eq(oscar_type_name(OSCAR_REF), "ref");
	cr_assert_eq(oscar_value_len(r), 0);
	oscar_value_free(r);

	r = oscar_value_new_ref_output("task", 7);
	cr_assert_eq(oscar_value_get_ref(r, &key, NULL, &out), 0);
	cr_assert_eq(out, 7);
	oscar_value_free(r);

	// Bad keys and outputs give NULL.
	char long_key[OSCAR_REF_KEY_MAX + 2];
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	cr_assert_null(oscar_value_new_ref(NULL));
	cr_assert_null(oscar_value_new_ref(""));
	cr_assert_null(oscar_value_new_ref(long_key));
	long_key[OSCAR_REF_KEY_MAX] = '\0';
	r                           = oscar_value_new_ref(long_key);
	cr_assert_not_null(r);
	oscar_value_free(r);
	cr_assert_null(oscar_value_new_ref_output("k", -2));
	cr_assert_null(oscar_value_new_ref_output("k", OSCAR_REF_OUTPUT_MAX + 1));

	// The accessor refuses other types.
	oscar_value_t *s = oscar_value_new_str("obj-1");
	cr_assert_eq(oscar_value_get_ref(s, &key, NULL, NULL), OSCAR_EBADARGS);
	cr_assert_eq(oscar_value_get_ref(NULL, &key, NULL, NULL), OSCAR_EBADARGS);
	oscar_value_free(s);
}

Test(ref, name)
{
	oscar_value_t *r = oscar_value_new_ref_output("abc", 12);
	oscar_value_t *w = oscar_value_new_ref("abc");
	char           buf[OSCAR_REF_NAME_MAX];
	char           small[6];

	cr_assert_eq(oscar_value_ref_name(r, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "abc#12");
	cr_assert_eq(oscar_value_ref_name(w, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "abc");
	cr_assert_eq(oscar_value_ref_name(r, small, sizeof(small)), OSCAR_ETOOLARGE);
	oscar_value_t *i = oscar_value_new_int(1);
	cr_assert_eq(oscar_value_ref_name(i, buf, sizeof(buf)), OSCAR_EBADARGS);
	oscar_value_free(i);
	oscar_value_free(r);
	oscar_value_free(w);

	// The longest name fits in OSCAR_REF_NAME_MAX.
	char key[OSCAR_REF_KEY_MAX + 1];
	memset(key, 'k', OSCAR_REF_KEY_MAX);
	key[OSCAR_REF_KEY_MAX] = '\0';
	r                      = oscar_value_new_ref_output(key, OSCAR_REF_OUTPUT_MAX);
	cr_assert_eq(oscar_value_ref_name(r, buf, sizeof(buf)), 0);
	oscar_value_free(r);
}

Test(ref, copy_equal_format)
{
	oscar_value_t *a = oscar_value_new_ref_output("k\"q", 1);
	oscar_value_t *c = oscar_value_copy(a);
	oscar_value_t *b = oscar_value_new_ref("k\"q");
	oscar_value_t *s = oscar_value_new_str("k\"q");
	char           buf[64];

	cr_assert(oscar_value_equal(a, c));
	cr_assert_neq(a->as.ref.key, c->as.ref.key);
	cr_assert_not(oscar_value_equal(a, b)); // another output
	cr_assert_not(oscar_value_equal(b, s)); // a string is not a reference
	oscar_value_t *d = oscar_value_new_ref_output("k\"r", 1);
	cr_assert_not(oscar_value_equal(a, d));
	oscar_value_free(d);

	oscar_value_format(a, buf, sizeof(buf));
	cr_assert_str_eq(buf, "ref(\"k\\\"q\", 1)");
	oscar_value_format(b, buf, sizeof(buf));
	cr_assert_str_eq(buf, "ref(\"k\\\"q\")");
	oscar_value_free(a);
	oscar_value_free(b);
	oscar_value_free(c);
	oscar_value_free(s);
}

// sample builds [1, ref a, {"x": ref b#0, ref k: [ref c]}, "ref"].
static oscar_value_t *sample(void)
{
	oscar_value_t *m = oscar_value_new_map(0);
	oscar_value_t *inner[1];
	oscar_kv_t    *kv;

	cr_assert_eq(oscar_value_map_set(m, "x", oscar_value_new_ref_output("b", 0)), 0);
	inner[0] = oscar_value_new_ref("c");
	cr_assert_eq(oscar_value_map_set(m, "y", arr(1, inner)), 0);
	// Make the second key a reference (decoded maps may have any key).
	kv = &m->as.map.kv[1];
	free(kv->key.as.str.ptr);
	memset(&kv->key, 0, sizeof(kv->key));
	oscar_value_t *k = oscar_value_new_ref("k");
	kv->key          = *k;
	free(k);

	oscar_value_t *items[] = { oscar_value_new_int(1), oscar_value_new_ref("a"), m,
		oscar_value_new_str("ref") };
	return (arr(4, items));
}

// names_cb appends each reference's name to the string arg.
static int names_cb(void *arg, const oscar_value_t *ref)
{
	char  name[OSCAR_REF_NAME_MAX];
	char *out = arg;

	cr_assert_eq(oscar_value_ref_name(ref, name, sizeof(name)), 0);
	strcat(out, name);
	strcat(out, " ");
	return (0);
}

// stop_cb stops the walk at the second reference.
static int stop_cb(void *arg, const oscar_value_t *ref)
{
	int *n = arg;

	(void) ref;
	return (++*n == 2 ? OSCAR_EUSER + 1 : 0);
}

Test(ref, walk_and_list)
{
	oscar_value_t *v = sample();
	oscar_value_t *list;
	char           names[128] = "";
	int            n          = 0;

	cr_assert_eq(oscar_value_walk_refs(v, names_cb, names), 0);
	cr_assert_str_eq(names, "a b#0 k c ");
	cr_assert_eq(oscar_value_walk_refs(v, stop_cb, &n), OSCAR_EUSER + 1);
	cr_assert_eq(n, 2);

	cr_assert_eq(oscar_value_list_refs(v, &list), 0);
	cr_assert_eq(list->as.arr.len, 4);
	cr_assert_str_eq(list->as.arr.items[0].as.ref.key, "a");
	cr_assert_eq(list->as.arr.items[1].as.ref.output, 0);
	cr_assert_str_eq(list->as.arr.items[3].as.ref.key, "c");
	oscar_value_free(list);

	// A value without references lists none; a lone reference lists itself.
	oscar_value_t *s = oscar_value_new_str("x");
	cr_assert_eq(oscar_value_list_refs(s, &list), 0);
	cr_assert_eq(list->as.arr.len, 0);
	oscar_value_free(list);
	oscar_value_free(s);
	cr_assert_eq(oscar_value_list_refs(NULL, &list), OSCAR_EINVAL);
	cr_assert_null(list);
	cr_assert_eq(oscar_value_walk_refs(v, NULL, NULL), OSCAR_EINVAL);
	oscar_value_free(v);
}

Test(ref, walk_depth_limit)
{
	oscar_value_t *v         = oscar_value_new_ref("deep");
	char           names[64] = "";

	for (int i = 0; i < OSCAR_VALUE_MAX_DEPTH; i++) {
		oscar_value_t *items[] = { v };
		v                      = arr(1, items);
	}
	cr_assert_eq(oscar_value_walk_refs(v, names_cb, names), 0);
	cr_assert_str_eq(names, "deep ");
	oscar_value_t *items[] = { v };
	v                      = arr(1, items);
	names[0]               = '\0';
	cr_assert_eq(oscar_value_walk_refs(v, names_cb, names), OSCAR_EINVAL);
	cr_assert_str_eq(names, ""); // no call at all
	oscar_value_free(v);
}

// resolve_cb replaces ref a by 10, b#0 by "bee", c by [ref z] (a new
// reference, which stays), and keeps k; it counts its calls.
typedef struct resolve {
	int calls;
	int fail_at; // fail on this call (1-based), 0: never
} resolve_t;

static int resolve_cb(void *arg, const oscar_value_t *ref, oscar_value_t **out)
{
	resolve_t  *r = arg;
	const char *key;
	int64_t     o;

	r->calls++;
	oscar_value_get_ref(ref, &key, NULL, &o);
	if (strcmp(key, "a") == 0) {
		*out = oscar_value_new_int(10);
	} else if (strcmp(key, "b") == 0 && o == 0) {
		*out = oscar_value_new_str("bee");
	} else if (strcmp(key, "c") == 0) {
		oscar_value_t *items[] = { oscar_value_new_ref("z") };
		*out                   = arr(1, items);
	}
	if (r->calls == r->fail_at) {
		// The value given with a failure is freed too.
		return (OSCAR_EUSER);
	}
	return (0);
}

Test(ref, replace_all_or_nothing)
{
	oscar_value_t *v    = sample();
	oscar_value_t *orig = oscar_value_copy(v);
	resolve_t      r    = { 0, 3 };
	char           buf[256];

	// A failure on the third call leaves v as it was.
	cr_assert_eq(oscar_value_replace_refs(v, resolve_cb, &r), OSCAR_EUSER);
	cr_assert_eq(r.calls, 3);
	cr_assert(oscar_value_equal(v, orig));

	r.calls   = 0;
	r.fail_at = 0;
	cr_assert_eq(oscar_value_replace_refs(v, resolve_cb, &r), 0);
	cr_assert_eq(r.calls, 4);
	oscar_value_format(v, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[1, 10, {\"x\": \"bee\", ref(\"k\"): [[ref(\"z\")]]}, \"ref\"]");
	oscar_value_free(v);
	oscar_value_free(orig);
}

Test(ref, replace_root)
{
	oscar_value_t *v = oscar_value_new_ref("a");
	resolve_t      r = { 0, 0 };
	int64_t        i;

	cr_assert_eq(oscar_value_replace_refs(v, resolve_cb, &r), 0);
	cr_assert_eq(oscar_value_get_int(v, &i), 0);
	cr_assert_eq(i, 10);
	oscar_value_free(v);
	cr_assert_eq(oscar_value_replace_refs(NULL, resolve_cb, &r), OSCAR_EINVAL);
}

// ---------------------------------------------------------------------------
// Canonical encoding and hash

// hex renders the hash of v.
static void hex(const oscar_value_t *v, char out[OSCAR_VALUE_HASH_HEX])
{
	cr_assert_eq(oscar_value_hash_hex(v, out), 0);
}

Test(canon, known_bytes_and_hashes)
{
	// {"b": 1, "a": 2} encodes as {"a": 2, "b": 1}.
	static const unsigned char want[] = { 0x82, 0xa1, 'a', 0x02, 0xa1, 'b', 0x01 };
	oscar_value_t             *m      = oscar_value_new_map(0);
	oscar_value_t             *nil    = oscar_value_new_nil();
	char                       h[OSCAR_VALUE_HASH_HEX];
	void                      *buf;
	size_t                     len;

	oscar_value_map_set(m, "b", oscar_value_new_int(1));
	oscar_value_map_set(m, "a", oscar_value_new_int(2));
	cr_assert_eq(oscar_value_canonical_encode(m, &buf, &len), 0);
	cr_assert_eq(len, sizeof(want));
	cr_assert_eq(memcmp(buf, want, len), 0);
	free(buf);
	// BLAKE2b with a 16-byte digest, no key, of those bytes (and of nil,
	// 0xc0), as any other BLAKE2b implementation computes it.
	hex(m, h);
	cr_assert_str_eq(h, "d719bb6a299dd4fe08e858fc720c6abf");
	hex(nil, h);
	cr_assert_str_eq(h, "45b5b4d6293993511d1f1368aee28b47");
	oscar_value_free(m);
	oscar_value_free(nil);
}

Test(canon, equal_values_hash_equal)
{
	char h1[OSCAR_VALUE_HASH_HEX];
	char h2[OSCAR_VALUE_HASH_HEX];

	// Map order, nested.
	oscar_value_t *a  = oscar_value_new_map(0);
	oscar_value_t *b  = oscar_value_new_map(0);
	oscar_value_t *ia = oscar_value_new_map(0);
	oscar_value_t *ib = oscar_value_new_map(0);
	oscar_value_map_set(ia, "p", oscar_value_new_ref("k"));
	oscar_value_map_set(ia, "q", oscar_value_new_bin("xy", 2));
	oscar_value_map_set(ib, "q", oscar_value_new_bin("xy", 2));
	oscar_value_map_set(ib, "p", oscar_value_new_ref("k"));
	oscar_value_map_set(a, "z", ia);
	oscar_value_map_set(a, "long key", oscar_value_new_float(-0.0));
	oscar_value_map_set(b, "long key", oscar_value_new_float(0.0));
	oscar_value_map_set(b, "z", ib);
	hex(a, h1);
	hex(b, h2);
	cr_assert_str_eq(h1, h2);
	oscar_value_free(a);
	oscar_value_free(b);

	// An int and a uint of the same value; two NaNs of other bits.
	oscar_value_t *i = oscar_value_new_int(42);
	oscar_value_t *u = oscar_value_new_uint(42);
	hex(i, h1);
	hex(u, h2);
	cr_assert_str_eq(h1, h2);
	oscar_value_free(i);
	oscar_value_free(u);
	uint64_t bits = 0xfff0000000000001ULL;
	double   odd;
	memcpy(&odd, &bits, sizeof(odd));
	oscar_value_t *n1 = oscar_value_new_float(NAN);
	oscar_value_t *n2 = oscar_value_new_float(odd);
	hex(n1, h1);
	hex(n2, h2);
	cr_assert_str_eq(h1, h2);
	oscar_value_free(n1);
	oscar_value_free(n2);
}

Test(canon, different_values_hash_differently)
{
	oscar_value_t *vals[] = {
		oscar_value_new_nil(),
		oscar_value_new_int(0),
		oscar_value_new_float(0.0),
		oscar_value_new_str("k"),
		oscar_value_new_bin("k", 1),
		oscar_value_new_ref("k"),
		oscar_value_new_ref_output("k", 0),
		oscar_value_new_array(0),
		oscar_value_new_map(0),
	};
	size_t n = sizeof(vals) / sizeof(vals[0]);
	char   h[sizeof(vals) / sizeof(vals[0])][OSCAR_VALUE_HASH_HEX];

	for (size_t i = 0; i < n; i++) {
		hex(vals[i], h[i]);
		for (size_t j = 0; j < i; j++) {
			cr_assert_str_neq(h[i], h[j], "%zu and %zu", i, j);
		}
	}
	for (size_t i = 0; i < n; i++) {
		oscar_value_free(vals[i]);
	}
}

Test(canon, large_bin_and_errors)
{
	size_t         n   = 1 << 20;
	char          *raw = malloc(n);
	oscar_value_t *v;
	uint8_t        h[OSCAR_VALUE_HASH_SIZE];
	void          *buf;
	size_t         len;

	cr_assert_not_null(raw);
	for (size_t i = 0; i < n; i++) {
		raw[i] = (char) (i * 7);
	}
	v = oscar_value_new_bin(raw, n);
	cr_assert_eq(oscar_value_hash(v, h), 0);
	// The canonical encoding of a value without maps, floats or uints is
	// its ordinary encoding.
	void  *enc;
	size_t elen;
	cr_assert_eq(oscar_value_canonical_encode(v, &buf, &len), 0);
	cr_assert_eq(oscar_value_encode(v, &enc, &elen), 0);
	cr_assert_eq(len, elen);
	cr_assert_eq(memcmp(buf, enc, len), 0);
	free(buf);
	free(enc);
	oscar_value_free(v);
	free(raw);

	// Too deep, and no value.
	v = oscar_value_new_nil();
	for (int i = 0; i <= OSCAR_VALUE_MAX_DEPTH; i++) {
		oscar_value_t *m = oscar_value_new_map(1);
		oscar_value_map_set(m, "k", v);
		v = m;
	}
	cr_assert_eq(oscar_value_hash(v, h), OSCAR_EINVAL);
	cr_assert_eq(oscar_value_canonical_encode(v, &buf, &len), OSCAR_EINVAL);
	cr_assert_null(buf);
	oscar_value_free(v);
	cr_assert_eq(oscar_value_hash(NULL, h), OSCAR_EINVAL);
}
