// Dynamic values: constructors, accessors, deep copy, equality and a
// JSON-like formatter. The MessagePack side (oscar_value_encode and
// oscar_value_decode) lives in codec.c.
//
// Design note. Containers store their children inline: an array is one
// malloc'd block of oscar_value_t, a map one block of oscar_kv_t, so a
// value tree costs one allocation per container, string or bin plus the
// root. Pushing a heap value into a container moves its contents into the
// block and frees the empty shell. All storage (blocks, bytes) comes from
// malloc and is released with free, so the codec may build values in place
// as long as it keeps len <= cap and every counted slot valid.
//
// Strings and bins always own len + 1 bytes, the last one zero: strings are
// NUL-terminated for C callers, and a zero-length bin still has a non-NULL
// pointer. One exception to "comes from malloc": a bin whose `owner` is set
// points into a received transport message (a large out-of-band buffer,
// read in place, still terminated and writable); freeing it drops its
// reference to the owner (osc_lender_t in codec.h) instead of calling
// free, and copying it shares the bytes: the copy holds one more
// reference to the same owner (bins are never written once made, so
// sharing is safe). osc_value_share_bins gives large bins that own their
// bytes an owner, so that their copies cost nothing either. Moving a value
// (push, set) moves the owner with it.
//
// Maps keep insertion order and look keys up linearly: they carry call
// arguments and replies, which have a handful of entries. A map built with
// oscar_value_map_set has string keys only; a decoded map may hold keys of
// any type, which oscar_value_map_get simply never matches.
//
// A reference (OSCAR_REF) owns its key like a string: len + 1 bytes from
// malloc, terminated. oscar_value_replace_refs collects every replacement
// before it changes anything, so that a failing callback leaves the value
// as it was.
//
// Depth is not tracked here (a container does not know how deep it sits);
// the encoder and the decoder enforce OSCAR_VALUE_MAX_DEPTH.
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/codec.h"
#include "actors/map.h"
#include "oscar/error.h"
#include "oscar/value.h"

// The owner field sits in the room the union already had (arr and map
// are three words too), so the size and layout of oscar_value_t did not
// change with it.
_Static_assert(sizeof(((oscar_value_t *) 0)->as.bin) <= sizeof(((oscar_value_t *) 0)->as.arr),
    "the bin's owner field must not grow oscar_value_t");

void osc_lender_init(osc_lender_t *l, void (*release)(osc_lender_t *l))
{
	atomic_init(&l->refs, 1);
	l->release = release;
}

void osc_lender_hold(osc_lender_t *l)
{
	atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
}

void osc_lender_drop(osc_lender_t *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1) {
		l->release(l);
	}
}

// osc_heap_lender_t owns the malloc'd bytes of one bin that
// osc_value_share_bins made shared: the last reference frees them.
typedef struct osc_heap_lender {
	osc_lender_t base;
	char        *ptr;
} osc_heap_lender_t;

static void heap_lender_release(osc_lender_t *l)
{
	osc_heap_lender_t *h = (osc_heap_lender_t *) l;
	free(h->ptr);
	free(h);
}

int osc_value_share_bins(oscar_value_t *v, size_t min)
{
	size_t i;
	int    rv;

	switch (v->type) {
	case OSCAR_BIN:
		if (v->as.bin.owner == NULL && v->as.bin.len >= min) {
			osc_heap_lender_t *h = malloc(sizeof(*h));
			if (h == NULL) {
				return (OSCAR_ENOMEM);
			}
			osc_lender_init(&h->base, heap_lender_release);
			h->ptr          = v->as.bin.ptr;
			v->as.bin.owner = &h->base;
		}
		return (0);
	case OSCAR_ARRAY:
		for (i = 0; i < v->as.arr.len; i++) {
			if ((rv = osc_value_share_bins(&v->as.arr.items[i], min)) != 0) {
				return (rv);
			}
		}
		return (0);
	case OSCAR_MAP:
		for (i = 0; i < v->as.map.len; i++) {
			if ((rv = osc_value_share_bins(&v->as.map.kv[i].val, min)) != 0) {
				return (rv);
			}
		}
		return (0);
	default:
		return (0);
	}
}

// value_alloc returns a new heap value of type t with zeroed contents.
static oscar_value_t *value_alloc(oscar_type_t t)
{
	oscar_value_t *v;

	if ((v = calloc(1, sizeof(*v))) == NULL) {
		return (NULL);
	}
	v->type = t;
	return (v);
}

// value_clear releases everything v owns and leaves it nil. v itself
// (inline in a container, or a heap shell) is not freed.
static void value_clear(oscar_value_t *v)
{
	size_t i;

	switch (v->type) {
	case OSCAR_STR:
	case OSCAR_BIN:
		if (v->as.str.owner != NULL) {
			osc_lender_drop(v->as.str.owner);
		} else {
			free(v->as.str.ptr);
		}
		break;
	case OSCAR_REF:
		free(v->as.ref.key);
		break;
	case OSCAR_ARRAY:
		for (i = 0; i < v->as.arr.len; i++) {
			value_clear(&v->as.arr.items[i]);
		}
		free(v->as.arr.items);
		break;
	case OSCAR_MAP:
		for (i = 0; i < v->as.map.len; i++) {
			value_clear(&v->as.map.kv[i].key);
			value_clear(&v->as.map.kv[i].val);
		}
		free(v->as.map.kv);
		break;
	default:
		break;
	}
	memset(v, 0, sizeof(*v));
	v->type = OSCAR_NIL;
}

// bytes_dup copies n bytes of p into a new block of n + 1 bytes whose
// last byte is zero. Returns NULL when out of memory.
static char *bytes_dup(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX || (s = malloc(n + 1)) == NULL) {
		return (NULL);
	}
	if (n > 0) {
		memcpy(s, p, n);
	}
	s[n] = '\0';
	return (s);
}

oscar_value_t *oscar_value_new_nil(void)
{
	return (value_alloc(OSCAR_NIL));
}

oscar_value_t *oscar_value_new_bool(bool b)
{
	oscar_value_t *v;

	if ((v = value_alloc(OSCAR_BOOL)) != NULL) {
		v->as.b = b;
	}
	return (v);
}

oscar_value_t *oscar_value_new_int(int64_t i)
{
	oscar_value_t *v;

	if ((v = value_alloc(OSCAR_INT)) != NULL) {
		v->as.i = i;
	}
	return (v);
}

oscar_value_t *oscar_value_new_uint(uint64_t u)
{
	oscar_value_t *v;

	if ((v = value_alloc(OSCAR_UINT)) != NULL) {
		v->as.u = u;
	}
	return (v);
}

oscar_value_t *oscar_value_new_float(double f)
{
	oscar_value_t *v;

	if ((v = value_alloc(OSCAR_FLOAT)) != NULL) {
		v->as.f = f;
	}
	return (v);
}

// oscar_value_new_str copies s; a NULL s gives NULL, like running out of
// memory, so that the next consuming call reports OSCAR_EINVAL.
oscar_value_t *oscar_value_new_str(const char *s)
{
	if (s == NULL) {
		return (NULL);
	}
	return (oscar_value_new_strn(s, strlen(s)));
}

oscar_value_t *oscar_value_new_strn(const char *s, size_t n)
{
	oscar_value_t *v;

	if (s == NULL && n > 0) {
		return (NULL);
	}
	if ((v = value_alloc(OSCAR_STR)) == NULL) {
		return (NULL);
	}
	if ((v->as.str.ptr = bytes_dup(s, n)) == NULL) {
		free(v);
		return (NULL);
	}
	v->as.str.len = n;
	return (v);
}

oscar_value_t *oscar_value_new_bin(const void *data, size_t n)
{
	oscar_value_t *v;

	if (data == NULL && n > 0) {
		return (NULL);
	}
	if ((v = value_alloc(OSCAR_BIN)) == NULL) {
		return (NULL);
	}
	if ((v->as.bin.ptr = bytes_dup(data, n)) == NULL) {
		free(v);
		return (NULL);
	}
	v->as.bin.len = n;
	return (v);
}

oscar_value_t *oscar_value_new_array(size_t cap)
{
	oscar_value_t *v;

	if ((v = value_alloc(OSCAR_ARRAY)) == NULL) {
		return (NULL);
	}
	if (cap > 0) {
		if ((v->as.arr.items = calloc(cap, sizeof(oscar_value_t))) == NULL) {
			free(v);
			return (NULL);
		}
		v->as.arr.cap = cap;
	}
	return (v);
}

oscar_value_t *oscar_value_new_map(size_t cap)
{
	oscar_value_t *v;

	if ((v = value_alloc(OSCAR_MAP)) == NULL) {
		return (NULL);
	}
	if (cap > 0) {
		if ((v->as.map.kv = calloc(cap, sizeof(oscar_kv_t))) == NULL) {
			free(v);
			return (NULL);
		}
		v->as.map.cap = cap;
	}
	return (v);
}

oscar_value_t *oscar_value_new_ref(const char *key)
{
	return (oscar_value_new_ref_output(key, OSCAR_REF_WHOLE));
}

oscar_value_t *oscar_value_new_ref_output(const char *key, int64_t output)
{
	oscar_value_t *v;
	size_t         n;

	if (key == NULL || (n = strlen(key)) == 0 || n > OSCAR_REF_KEY_MAX) {
		return (NULL);
	}
	if (output != OSCAR_REF_WHOLE && (output < 0 || output > OSCAR_REF_OUTPUT_MAX)) {
		return (NULL);
	}
	if ((v = value_alloc(OSCAR_REF)) == NULL) {
		return (NULL);
	}
	if ((v->as.ref.key = bytes_dup(key, n)) == NULL) {
		free(v);
		return (NULL);
	}
	v->as.ref.len    = n;
	v->as.ref.output = output;
	return (v);
}

void oscar_value_free(oscar_value_t *v)
{
	if (v == NULL) {
		return;
	}
	value_clear(v);
	free(v);
}

// value_copy_into deep-copies src into the inline slot dst, which must
// be nil. On failure dst is left nil and OSCAR_ENOMEM is returned.
static int value_copy_into(oscar_value_t *dst, const oscar_value_t *src)
{
	oscar_value_t tmp;
	size_t        i;
	int           rv;

	memset(&tmp, 0, sizeof(tmp));
	tmp.type = src->type;
	switch (src->type) {
	case OSCAR_BIN:
		if (src->as.bin.owner != NULL) {
			// Shared bytes: one more reference, no copy.
			osc_lender_hold(src->as.bin.owner);
			tmp.as.bin.ptr   = src->as.bin.ptr;
			tmp.as.bin.len   = src->as.bin.len;
			tmp.as.bin.owner = src->as.bin.owner;
			break;
		}
		// fall through
	case OSCAR_STR:
		tmp.as.str.ptr = bytes_dup(src->as.str.ptr, src->as.str.len);
		if (tmp.as.str.ptr == NULL) {
			return (OSCAR_ENOMEM);
		}
		tmp.as.str.len = src->as.str.len;
		break;
	case OSCAR_REF:
		if ((tmp.as.ref.key = bytes_dup(src->as.ref.key, src->as.ref.len)) == NULL) {
			return (OSCAR_ENOMEM);
		}
		tmp.as.ref.len    = src->as.ref.len;
		tmp.as.ref.output = src->as.ref.output;
		break;
	case OSCAR_ARRAY:
		if (src->as.arr.len > 0) {
			tmp.as.arr.items = calloc(src->as.arr.len, sizeof(oscar_value_t));
			if (tmp.as.arr.items == NULL) {
				return (OSCAR_ENOMEM);
			}
			tmp.as.arr.cap = src->as.arr.len;
		}
		for (i = 0; i < src->as.arr.len; i++) {
			// Count the slot first: it is nil until the copy
			// fills it, so clearing tmp on failure is safe.
			tmp.as.arr.len = i + 1;
			rv = value_copy_into(&tmp.as.arr.items[i], &src->as.arr.items[i]);
			if (rv != 0) {
				value_clear(&tmp);
				return (rv);
			}
		}
		break;
	case OSCAR_MAP:
		if (src->as.map.len > 0) {
			tmp.as.map.kv = calloc(src->as.map.len, sizeof(oscar_kv_t));
			if (tmp.as.map.kv == NULL) {
				return (OSCAR_ENOMEM);
			}
			tmp.as.map.cap = src->as.map.len;
		}
		for (i = 0; i < src->as.map.len; i++) {
			tmp.as.map.len = i + 1;
			if (((rv = value_copy_into(
			          &tmp.as.map.kv[i].key, &src->as.map.kv[i].key)) != 0) ||
			    ((rv = value_copy_into(
			          &tmp.as.map.kv[i].val, &src->as.map.kv[i].val)) != 0)) {
				value_clear(&tmp);
				return (rv);
			}
		}
		break;
	default:
		tmp.as = src->as;
		break;
	}
	*dst = tmp;
	return (0);
}

oscar_value_t *oscar_value_copy(const oscar_value_t *v)
{
	oscar_value_t *c;

	if (v == NULL || (c = value_alloc(OSCAR_NIL)) == NULL) {
		return (NULL);
	}
	if (value_copy_into(c, v) != 0) {
		free(c);
		return (NULL);
	}
	return (c);
}

// is_int tells whether t is one of the two integer types.
static bool is_int(oscar_type_t t)
{
	return (t == OSCAR_INT || t == OSCAR_UINT);
}

// int_equal compares two integers by value, whatever their tags.
static bool int_equal(const oscar_value_t *a, const oscar_value_t *b)
{
	if (a->type == b->type) {
		return (a->as.u == b->as.u);
	}
	if (a->type == OSCAR_UINT) {
		const oscar_value_t *t = a;
		a                      = b;
		b                      = t;
	}
	// Now a is OSCAR_INT and b is OSCAR_UINT.
	return (a->as.i >= 0 && (uint64_t) a->as.i == b->as.u);
}

// oscar_value_equal compares deeply. Floats are equal when they compare
// equal or are both NaN, so that any value equals its own copy and its own
// encode/decode round trip; 0.0 and -0.0 are equal.
bool oscar_value_equal(const oscar_value_t *a, const oscar_value_t *b)
{
	size_t i;

	if (a == NULL || b == NULL) {
		return (a == b);
	}
	if (is_int(a->type) && is_int(b->type)) {
		return (int_equal(a, b));
	}
	if (a->type != b->type) {
		return (false);
	}
	switch (a->type) {
	case OSCAR_NIL:
		return (true);
	case OSCAR_BOOL:
		return (a->as.b == b->as.b);
	case OSCAR_FLOAT:
		return (a->as.f == b->as.f || (isnan(a->as.f) && isnan(b->as.f)));
	case OSCAR_STR:
	case OSCAR_BIN:
		return (a->as.str.len == b->as.str.len &&
		        (a->as.str.len == 0 ||
		            memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len) == 0));
	case OSCAR_REF:
		return (a->as.ref.output == b->as.ref.output && a->as.ref.len == b->as.ref.len &&
		        memcmp(a->as.ref.key, b->as.ref.key, a->as.ref.len) == 0);
	case OSCAR_ARRAY:
		if (a->as.arr.len != b->as.arr.len) {
			return (false);
		}
		for (i = 0; i < a->as.arr.len; i++) {
			if (!oscar_value_equal(&a->as.arr.items[i], &b->as.arr.items[i])) {
				return (false);
			}
		}
		return (true);
	case OSCAR_MAP:
		if (a->as.map.len != b->as.map.len) {
			return (false);
		}
		for (i = 0; i < a->as.map.len; i++) {
			if (!oscar_value_equal(&a->as.map.kv[i].key, &b->as.map.kv[i].key) ||
			    !oscar_value_equal(&a->as.map.kv[i].val, &b->as.map.kv[i].val)) {
				return (false);
			}
		}
		return (true);
	default:
		return (false);
	}
}

// grow_cap returns the capacity to grow to from cap so that one more
// element of size elem fits, or 0 when that would overflow.
static size_t grow_cap(size_t cap, size_t elem)
{
	size_t n = cap < 4 ? 4 : cap * 2;

	if (cap > SIZE_MAX / 2 || n > SIZE_MAX / elem) {
		return (0);
	}
	return (n);
}

int oscar_value_array_push(oscar_value_t *arr, oscar_value_t *item)
{
	oscar_value_t *items;
	size_t         cap;

	if (item == NULL) {
		return (OSCAR_EINVAL);
	}
	if (arr == item) {
		// Pushing an array into itself would free it; leave both
		// alone, as there is only one value to "consume".
		return (OSCAR_EINVAL);
	}
	if (arr == NULL || arr->type != OSCAR_ARRAY) {
		oscar_value_free(item);
		return (OSCAR_EINVAL);
	}
	if (arr->as.arr.len == arr->as.arr.cap) {
		cap = grow_cap(arr->as.arr.cap, sizeof(oscar_value_t));
		if (cap == 0 ||
		    (items = realloc(arr->as.arr.items, cap * sizeof(oscar_value_t))) == NULL) {
			oscar_value_free(item);
			return (OSCAR_ENOMEM);
		}
		arr->as.arr.items = items;
		arr->as.arr.cap   = cap;
	}
	arr->as.arr.items[arr->as.arr.len++] = *item;
	free(item);
	return (0);
}

// is_key tells whether k is the string key (the bytes of) key.
static bool is_key(const oscar_value_t *k, const char *key, size_t len)
{
	return (
	    k->type == OSCAR_STR && k->as.str.len == len && memcmp(k->as.str.ptr, key, len) == 0);
}

int oscar_value_map_set(oscar_value_t *map, const char *key, oscar_value_t *val)
{
	oscar_kv_t *kv;
	size_t      len;
	size_t      cap;
	size_t      i;
	char       *k;

	if (val == NULL) {
		return (OSCAR_EINVAL);
	}
	if (map == val) {
		return (OSCAR_EINVAL);
	}
	if (map == NULL || map->type != OSCAR_MAP || key == NULL) {
		oscar_value_free(val);
		return (OSCAR_EINVAL);
	}
	len = strlen(key);
	for (i = 0; i < map->as.map.len; i++) {
		kv = &map->as.map.kv[i];
		if (is_key(&kv->key, key, len)) {
			value_clear(&kv->val);
			kv->val = *val;
			free(val);
			return (0);
		}
	}
	if ((k = bytes_dup(key, len)) == NULL) {
		oscar_value_free(val);
		return (OSCAR_ENOMEM);
	}
	if (map->as.map.len == map->as.map.cap) {
		cap = grow_cap(map->as.map.cap, sizeof(oscar_kv_t));
		if (cap == 0 || (kv = realloc(map->as.map.kv, cap * sizeof(oscar_kv_t))) == NULL) {
			free(k);
			oscar_value_free(val);
			return (OSCAR_ENOMEM);
		}
		map->as.map.kv  = kv;
		map->as.map.cap = cap;
	}
	kv = &map->as.map.kv[map->as.map.len++];
	memset(&kv->key, 0, sizeof(kv->key));
	kv->key.type       = OSCAR_STR;
	kv->key.as.str.ptr = k;
	kv->key.as.str.len = len;
	kv->val            = *val;
	free(val);
	return (0);
}

const oscar_value_t *oscar_value_map_get(const oscar_value_t *map, const char *key)
{
	size_t len;
	size_t i;

	if (map == NULL || map->type != OSCAR_MAP || key == NULL) {
		return (NULL);
	}
	len = strlen(key);
	for (i = 0; i < map->as.map.len; i++) {
		if (is_key(&map->as.map.kv[i].key, key, len)) {
			return (&map->as.map.kv[i].val);
		}
	}
	return (NULL);
}

const oscar_value_t *oscar_value_at(const oscar_value_t *v, size_t i)
{
	if (v == NULL || v->type != OSCAR_ARRAY || i >= v->as.arr.len) {
		return (NULL);
	}
	return (&v->as.arr.items[i]);
}

size_t oscar_value_len(const oscar_value_t *v)
{
	if (v == NULL) {
		return (0);
	}
	switch (v->type) {
	case OSCAR_STR:
	case OSCAR_BIN:
		return (v->as.str.len);
	case OSCAR_ARRAY:
		return (v->as.arr.len);
	case OSCAR_MAP:
		return (v->as.map.len);
	default:
		return (0);
	}
}

int oscar_value_get_bool(const oscar_value_t *v, bool *out)
{
	if (v == NULL || v->type != OSCAR_BOOL) {
		return (OSCAR_EBADARGS);
	}
	*out = v->as.b;
	return (0);
}

int oscar_value_get_int(const oscar_value_t *v, int64_t *out)
{
	if (v == NULL) {
		return (OSCAR_EBADARGS);
	}
	if (v->type == OSCAR_INT) {
		*out = v->as.i;
		return (0);
	}
	if (v->type == OSCAR_UINT && v->as.u <= (uint64_t) INT64_MAX) {
		*out = (int64_t) v->as.u;
		return (0);
	}
	return (OSCAR_EBADARGS);
}

int oscar_value_get_uint(const oscar_value_t *v, uint64_t *out)
{
	if (v == NULL) {
		return (OSCAR_EBADARGS);
	}
	if (v->type == OSCAR_UINT) {
		*out = v->as.u;
		return (0);
	}
	if (v->type == OSCAR_INT && v->as.i >= 0) {
		*out = (uint64_t) v->as.i;
		return (0);
	}
	return (OSCAR_EBADARGS);
}

int oscar_value_get_float(const oscar_value_t *v, double *out)
{
	if (v == NULL) {
		return (OSCAR_EBADARGS);
	}
	switch (v->type) {
	case OSCAR_FLOAT:
		*out = v->as.f;
		return (0);
	case OSCAR_INT:
		*out = (double) v->as.i;
		return (0);
	case OSCAR_UINT:
		*out = (double) v->as.u;
		return (0);
	default:
		return (OSCAR_EBADARGS);
	}
}

// oscar_value_get_str gives the string and, when len is not NULL, its
// length in bytes.
int oscar_value_get_str(const oscar_value_t *v, const char **out, size_t *len)
{
	if (v == NULL || v->type != OSCAR_STR) {
		return (OSCAR_EBADARGS);
	}
	*out = v->as.str.ptr;
	if (len != NULL) {
		*len = v->as.str.len;
	}
	return (0);
}

// oscar_value_get_bin gives the bytes and, when len is not NULL, their
// number. The pointer is never NULL, even for zero bytes.
int oscar_value_get_bin(const oscar_value_t *v, const void **out, size_t *len)
{
	if (v == NULL || v->type != OSCAR_BIN) {
		return (OSCAR_EBADARGS);
	}
	*out = v->as.bin.ptr;
	if (len != NULL) {
		*len = v->as.bin.len;
	}
	return (0);
}

// oscar_value_get_ref gives the key and, when asked, its length and the
// output index.
int oscar_value_get_ref(const oscar_value_t *v, const char **key, size_t *len, int64_t *output)
{
	if (v == NULL || v->type != OSCAR_REF || key == NULL) {
		return (OSCAR_EBADARGS);
	}
	*key = v->as.ref.key;
	if (len != NULL) {
		*len = v->as.ref.len;
	}
	if (output != NULL) {
		*output = v->as.ref.output;
	}
	return (0);
}

int oscar_value_ref_name(const oscar_value_t *v, char *buf, size_t size)
{
	int n;

	if (v == NULL || v->type != OSCAR_REF || buf == NULL) {
		return (OSCAR_EBADARGS);
	}
	if (v->as.ref.output == OSCAR_REF_WHOLE) {
		n = snprintf(buf, size, "%s", v->as.ref.key);
	} else {
		n = snprintf(buf, size, "%s#%" PRId64, v->as.ref.key, v->as.ref.output);
	}
	return (n < 0 || (size_t) n >= size ? OSCAR_ETOOLARGE : 0);
}

// ---------------------------------------------------------------------------
// Walking and replacing references

// walk_depth calls cb for each reference in v, which sits inside
// depth containers. With cb NULL it only checks the depth.
static int walk_depth(const oscar_value_t *v, int depth, oscar_ref_cb cb, void *arg)
{
	size_t i;
	int    rv;

	switch (v->type) {
	case OSCAR_REF:
		return (cb != NULL ? cb(arg, v) : 0);
	case OSCAR_ARRAY:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			return (OSCAR_EINVAL);
		}
		for (i = 0; i < v->as.arr.len; i++) {
			if ((rv = walk_depth(&v->as.arr.items[i], depth + 1, cb, arg)) != 0) {
				return (rv);
			}
		}
		return (0);
	case OSCAR_MAP:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			return (OSCAR_EINVAL);
		}
		for (i = 0; i < v->as.map.len; i++) {
			if (((rv = walk_depth(&v->as.map.kv[i].key, depth + 1, cb, arg)) != 0) ||
			    ((rv = walk_depth(&v->as.map.kv[i].val, depth + 1, cb, arg)) != 0)) {
				return (rv);
			}
		}
		return (0);
	default:
		return (0);
	}
}

// oscar_value_walk_refs checks the depth of the whole value first, so that
// a value too deep gets no call at all.
int oscar_value_walk_refs(const oscar_value_t *v, oscar_ref_cb cb, void *arg)
{
	int rv;

	if (v == NULL || cb == NULL) {
		return (OSCAR_EINVAL);
	}
	if ((rv = walk_depth(v, 0, NULL, NULL)) != 0) {
		return (rv);
	}
	return (walk_depth(v, 0, cb, arg));
}

// list_ref appends a copy of ref to the array arg.
static int list_ref(void *arg, const oscar_value_t *ref)
{
	oscar_value_t *c;

	if ((c = oscar_value_copy(ref)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	return (oscar_value_array_push(arg, c));
}

int oscar_value_list_refs(const oscar_value_t *v, oscar_value_t **out)
{
	oscar_value_t *list;
	int            rv;

	if (out == NULL) {
		return (OSCAR_EINVAL);
	}
	*out = NULL;
	if (v == NULL) {
		return (OSCAR_EINVAL);
	}
	if ((list = oscar_value_new_array(0)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if ((rv = oscar_value_walk_refs(v, list_ref, list)) != 0) {
		oscar_value_free(list);
		return (rv);
	}
	*out = list;
	return (0);
}

// osc_subst_t is one pending replacement: the reference's slot and the
// value that goes there.
typedef struct osc_subst {
	oscar_value_t *slot;
	oscar_value_t *with;
} osc_subst_t;

// osc_replace_t collects the replacements of oscar_value_replace_refs.
typedef struct osc_replace {
	oscar_ref_replace_cb cb;
	void                *arg;
	osc_subst_t         *subst;
	size_t               n;
	size_t               cap;
} osc_replace_t;

// replace_one asks for the replacement of one reference and records
// it. The slot is the reference itself: the walk hands out pointers into
// the value, which stays unchanged until every replacement is known.
static int replace_one(void *arg, const oscar_value_t *ref)
{
	osc_replace_t *r    = arg;
	oscar_value_t *with = NULL;
	int            rv;

	if ((rv = r->cb(r->arg, ref, &with)) != 0) {
		oscar_value_free(with);
		return (rv);
	}
	if (with == NULL) {
		return (0);
	}
	if (osc_reserve(&r->subst, &r->cap, r->n, sizeof(*r->subst), 8) != 0) {
		oscar_value_free(with);
		return (OSCAR_ENOMEM);
	}
	r->subst[r->n].slot = (oscar_value_t *) (uintptr_t) ref;
	r->subst[r->n].with = with;
	r->n++;
	return (0);
}

int oscar_value_replace_refs(oscar_value_t *v, oscar_ref_replace_cb cb, void *arg)
{
	osc_replace_t r;
	size_t        i;
	int           rv;

	if (v == NULL || cb == NULL) {
		return (OSCAR_EINVAL);
	}
	memset(&r, 0, sizeof(r));
	r.cb  = cb;
	r.arg = arg;
	if ((rv = oscar_value_walk_refs(v, replace_one, &r)) != 0) {
		for (i = 0; i < r.n; i++) {
			oscar_value_free(r.subst[i].with);
		}
		free(r.subst);
		return (rv);
	}
	for (i = 0; i < r.n; i++) {
		value_clear(r.subst[i].slot);
		*r.subst[i].slot = *r.subst[i].with;
		free(r.subst[i].with);
	}
	free(r.subst);
	return (0);
}

const char *oscar_type_name(oscar_type_t t)
{
	switch (t) {
	case OSCAR_NIL:
		return ("nil");
	case OSCAR_BOOL:
		return ("bool");
	case OSCAR_INT:
		return ("int");
	case OSCAR_UINT:
		return ("uint");
	case OSCAR_FLOAT:
		return ("float");
	case OSCAR_STR:
		return ("str");
	case OSCAR_BIN:
		return ("bin");
	case OSCAR_ARRAY:
		return ("array");
	case OSCAR_MAP:
		return ("map");
	case OSCAR_REF:
		return ("ref");
	default:
		return ("unknown");
	}
}

// ---------------------------------------------------------------------------
// Formatting

// osc_fmt_t collects formatted text into buf[0..size), always keeping room
// for the terminator, and counts every byte it was asked to write.
typedef struct osc_fmt {
	char  *buf;
	size_t size;
	size_t len; // bytes wanted so far; may exceed size
} osc_fmt_t;

// fmt_put appends n bytes of s, or the part of them that fits.
static void fmt_put(osc_fmt_t *f, const char *s, size_t n)
{
	size_t room;

	if (f->size > 0 && f->len < f->size - 1) {
		room = f->size - 1 - f->len;
		memcpy(f->buf + f->len, s, n < room ? n : room);
	}
	f->len += n;
}

// fmt_puts appends the NUL-terminated string s.
static void fmt_puts(osc_fmt_t *f, const char *s)
{
	fmt_put(f, s, strlen(s));
}

// fmt_float renders f with the fewest digits that read back as the same
// double, and with a ".0" when it would otherwise look like an integer.
static void fmt_float(osc_fmt_t *f, double d)
{
	char tmp[40];
	int  prec;

	if (isnan(d)) {
		fmt_puts(f, "nan");
		return;
	}
	if (isinf(d)) {
		fmt_puts(f, d < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d) {
			break;
		}
	}
	if (prec == 17) {
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	}
	fmt_puts(f, tmp);
	if (strpbrk(tmp, ".e") == NULL) {
		fmt_puts(f, ".0");
	}
}

// fmt_str renders n bytes of s as a quoted string, escaping quotes,
// backslashes and control characters as JSON does. Other bytes (UTF-8) go
// through unchanged.
static void fmt_str(osc_fmt_t *f, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const char       *run   = s;
	char              esc[7];
	size_t            i;
	unsigned char     c;

	fmt_put(f, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char) s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
			continue;
		}
		fmt_put(f, run, (size_t) (s + i - run));
		run = s + i + 1;
		switch (c) {
		case '"':
			fmt_puts(f, "\\\"");
			break;
		case '\\':
			fmt_puts(f, "\\\\");
			break;
		case '\n':
			fmt_puts(f, "\\n");
			break;
		case '\r':
			fmt_puts(f, "\\r");
			break;
		case '\t':
			fmt_puts(f, "\\t");
			break;
		case '\b':
			fmt_puts(f, "\\b");
			break;
		case '\f':
			fmt_puts(f, "\\f");
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			fmt_put(f, esc, 6);
			break;
		}
	}
	fmt_put(f, run, (size_t) (s + n - run));
	fmt_put(f, "\"", 1);
}

// fmt_value renders v; containers deeper than OSCAR_VALUE_MAX_DEPTH
// show as "...".
static void fmt_value(osc_fmt_t *f, const oscar_value_t *v, int depth)
{
	char   tmp[64];
	size_t i;

	switch (v->type) {
	case OSCAR_NIL:
		fmt_puts(f, "null");
		break;
	case OSCAR_BOOL:
		fmt_puts(f, v->as.b ? "true" : "false");
		break;
	case OSCAR_INT:
		snprintf(tmp, sizeof(tmp), "%" PRId64, v->as.i);
		fmt_puts(f, tmp);
		break;
	case OSCAR_UINT:
		snprintf(tmp, sizeof(tmp), "%" PRIu64, v->as.u);
		fmt_puts(f, tmp);
		break;
	case OSCAR_FLOAT:
		fmt_float(f, v->as.f);
		break;
	case OSCAR_STR:
		fmt_str(f, v->as.str.ptr, v->as.str.len);
		break;
	case OSCAR_BIN:
		snprintf(tmp, sizeof(tmp), "<bin %zu bytes>", v->as.bin.len);
		fmt_puts(f, tmp);
		break;
	case OSCAR_REF:
		fmt_puts(f, "ref(");
		fmt_str(f, v->as.ref.key, v->as.ref.len);
		if (v->as.ref.output != OSCAR_REF_WHOLE) {
			snprintf(tmp, sizeof(tmp), ", %" PRId64, v->as.ref.output);
			fmt_puts(f, tmp);
		}
		fmt_puts(f, ")");
		break;
	case OSCAR_ARRAY:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			fmt_puts(f, "[...]");
			break;
		}
		fmt_puts(f, "[");
		for (i = 0; i < v->as.arr.len; i++) {
			if (i > 0) {
				fmt_puts(f, ", ");
			}
			fmt_value(f, &v->as.arr.items[i], depth + 1);
		}
		fmt_puts(f, "]");
		break;
	case OSCAR_MAP:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			fmt_puts(f, "{...}");
			break;
		}
		fmt_puts(f, "{");
		for (i = 0; i < v->as.map.len; i++) {
			if (i > 0) {
				fmt_puts(f, ", ");
			}
			fmt_value(f, &v->as.map.kv[i].key, depth + 1);
			fmt_puts(f, ": ");
			fmt_value(f, &v->as.map.kv[i].val, depth + 1);
		}
		fmt_puts(f, "}");
		break;
	default:
		fmt_puts(f, "<?>");
		break;
	}
}

// oscar_value_format renders v (NULL renders as null) and returns the
// length of the full rendering, capped at INT_MAX.
int oscar_value_format(const oscar_value_t *v, char *buf, size_t size)
{
	osc_fmt_t     f;
	oscar_value_t nil;

	f.buf  = buf;
	f.size = buf == NULL ? 0 : size;
	f.len  = 0;
	if (v == NULL) {
		memset(&nil, 0, sizeof(nil));
		nil.type = OSCAR_NIL;
		v        = &nil;
	}
	fmt_value(&f, v, 0);
	if (f.size > 0) {
		f.buf[f.len < f.size ? f.len : f.size - 1] = '\0';
	}
	return (f.len > INT_MAX ? INT_MAX : (int) f.len);
}

// ---------------------------------------------------------------------------
// Tolerant readers

int64_t oscar_value_map_int(const oscar_value_t *map, const char *key, int64_t def)
{
	int64_t v;
	return (oscar_value_get_int(oscar_value_map_get(map, key), &v) == 0 ? v : def);
}

uint64_t oscar_value_map_uint(const oscar_value_t *map, const char *key, uint64_t def)
{
	uint64_t v;
	return (oscar_value_get_uint(oscar_value_map_get(map, key), &v) == 0 ? v : def);
}

double oscar_value_map_float(const oscar_value_t *map, const char *key, double def)
{
	double v;
	return (oscar_value_get_float(oscar_value_map_get(map, key), &v) == 0 ? v : def);
}

bool oscar_value_map_bool(const oscar_value_t *map, const char *key, bool def)
{
	bool v;
	return (oscar_value_get_bool(oscar_value_map_get(map, key), &v) == 0 ? v : def);
}

const char *oscar_value_map_str(const oscar_value_t *map, const char *key)
{
	const char *v;
	size_t      len;
	return (oscar_value_get_str(oscar_value_map_get(map, key), &v, &len) == 0 ? v : NULL);
}

int64_t oscar_value_at_int(const oscar_value_t *array, size_t i, int64_t def)
{
	int64_t v;
	return (oscar_value_get_int(oscar_value_at(array, i), &v) == 0 ? v : def);
}

uint64_t oscar_value_at_uint(const oscar_value_t *array, size_t i, uint64_t def)
{
	uint64_t v;
	return (oscar_value_get_uint(oscar_value_at(array, i), &v) == 0 ? v : def);
}

const char *oscar_value_at_str(const oscar_value_t *array, size_t i)
{
	const char *v;
	size_t      len;
	return (oscar_value_get_str(oscar_value_at(array, i), &v, &len) == 0 ? v : NULL);
}
