// The canonical encoding of a value and its hash, for keys derived from
// values (the keys of pure tasks, see docs/values.md).
//
// Design note. The canonical encoding is the ordinary MessagePack encoding
// (codec.c) with the choices that encoding leaves open fixed: map entries
// sorted, integers by value whatever their tag, one bit pattern for zero
// and for NaN, bins always inline. It is written to a sink: a buffer
// (oscar_value_canonical_encode) or straight into a BLAKE2b state
// (oscar_value_hash), so hashing a value with a large bin never copies the
// bin. Only map entries are encoded apart first, into buffers of their
// own, to be sorted; a bin inside a map is therefore copied once per map
// level above it.
#include <sodium.h>

#include <stdlib.h>
#include <string.h>

#include "actors/codec.h"
#include "oscar/error.h"
#include "oscar/value.h"

// osc_canon_t is where canonical bytes go: into w, or when h is set into
// the hash state. scratch holds the header or scalar being written.
typedef struct osc_canon {
	osc_wbuf_t                       *w;
	crypto_generichash_blake2b_state *h;
	osc_wbuf_t                        scratch;
	int                               err;
} osc_canon_t;

// osc_entry_t is one map entry, encoded canonically on its own.
typedef struct osc_entry {
	osc_wbuf_t key;
	osc_wbuf_t val;
} osc_entry_t;

static void canon_value(osc_canon_t *c, const oscar_value_t *v, int depth);

// canon_fail records the first error.
static void canon_fail(osc_canon_t *c, int err)
{
	if (c->err == 0) {
		c->err = err;
	}
}

// canon_put sends n bytes of p to the sink.
static void canon_put(osc_canon_t *c, const void *p, size_t n)
{
	if (c->err != 0 || n == 0) {
		return;
	}
	if (c->h != NULL) {
		crypto_generichash_blake2b_update(c->h, p, n);
	} else {
		osc_write_raw(c->w, p, n);
		if (c->w->err != 0) {
			canon_fail(c, c->w->err);
		}
	}
}

// canon_flush sends the scratch buffer to the sink and empties it.
static void canon_flush(osc_canon_t *c)
{
	if (c->scratch.err != 0) {
		canon_fail(c, c->scratch.err);
		c->scratch.err = 0;
	}
	canon_put(c, c->scratch.data, c->scratch.len);
	c->scratch.len = 0;
}

// entry_cmp orders entries by their keys' bytes, then by length, then
// by their values the same way.
static int bytes_cmp(const osc_wbuf_t *a, const osc_wbuf_t *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int    d = n > 0 ? memcmp(a->data, b->data, n) : 0;

	if (d != 0) {
		return (d);
	}
	return (a->len < b->len ? -1 : a->len > b->len ? 1 : 0);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const osc_entry_t *a = pa;
	const osc_entry_t *b = pb;
	int                d = bytes_cmp(&a->key, &b->key);

	return (d != 0 ? d : bytes_cmp(&a->val, &b->val));
}

// canon_entry encodes v canonically into the buffer out.
static int canon_entry(osc_wbuf_t *out, const oscar_value_t *v, int depth)
{
	osc_canon_t c;

	memset(&c, 0, sizeof(c));
	c.w = out;
	canon_value(&c, v, depth);
	osc_wbuf_fini(&c.scratch);
	return (c.err);
}

// canon_map writes a map with its entries sorted.
static void canon_map(osc_canon_t *c, const oscar_value_t *v, int depth)
{
	osc_entry_t *e;
	size_t       n = v->as.map.len;
	size_t       i;
	int          rv = 0;

	if (n > UINT32_MAX) {
		canon_fail(c, OSCAR_EINVAL);
		return;
	}
	osc_write_map(&c->scratch, (uint32_t) n);
	canon_flush(c);
	if (n == 0 || c->err != 0) {
		return;
	}
	if ((e = calloc(n, sizeof(*e))) == NULL) {
		canon_fail(c, OSCAR_ENOMEM);
		return;
	}
	for (i = 0; i < n && rv == 0; i++) {
		if ((rv = canon_entry(&e[i].key, &v->as.map.kv[i].key, depth + 1)) == 0) {
			rv = canon_entry(&e[i].val, &v->as.map.kv[i].val, depth + 1);
		}
	}
	if (rv == 0) {
		qsort(e, n, sizeof(*e), entry_cmp);
		for (i = 0; i < n; i++) {
			canon_put(c, e[i].key.data, e[i].key.len);
			canon_put(c, e[i].val.data, e[i].val.len);
		}
	} else {
		canon_fail(c, rv);
	}
	for (i = 0; i < n; i++) {
		osc_wbuf_fini(&e[i].key);
		osc_wbuf_fini(&e[i].val);
	}
	free(e);
}

// canon_value writes v, which sits inside depth containers.
static void canon_value(osc_canon_t *c, const oscar_value_t *v, int depth)
{
	size_t i;
	double f;

	if (c->err != 0) {
		return;
	}
	switch (v->type) {
	case OSCAR_NIL:
		osc_write_nil(&c->scratch);
		break;
	case OSCAR_BOOL:
		osc_write_bool(&c->scratch, v->as.b);
		break;
	case OSCAR_INT:
		osc_write_int(&c->scratch, v->as.i); // non-negative: as a uint
		break;
	case OSCAR_UINT:
		osc_write_uint(&c->scratch, v->as.u);
		break;
	case OSCAR_FLOAT:
		f = v->as.f;
		if (f != f) {
			uint64_t bits = 0x7ff8000000000000ULL;
			memcpy(&f, &bits, sizeof(f));
		} else if (f == 0) {
			f = 0.0; // -0.0 too
		}
		osc_write_float(&c->scratch, f);
		break;
	case OSCAR_STR:
	case OSCAR_BIN:
		if (v->type == OSCAR_STR) {
			osc_write_str_header(&c->scratch, v->as.str.len);
		} else {
			osc_write_bin_header(&c->scratch, v->as.bin.len);
		}
		canon_flush(c);
		canon_put(c, v->as.str.ptr, v->as.str.len);
		return;
	case OSCAR_REF:
		osc_write_ref(&c->scratch, v->as.ref.key, v->as.ref.len, v->as.ref.output);
		break;
	case OSCAR_ARRAY:
		if (depth >= OSCAR_VALUE_MAX_DEPTH || v->as.arr.len > UINT32_MAX) {
			canon_fail(c, OSCAR_EINVAL);
			return;
		}
		osc_write_array(&c->scratch, (uint32_t) v->as.arr.len);
		canon_flush(c);
		for (i = 0; i < v->as.arr.len && c->err == 0; i++) {
			canon_value(c, &v->as.arr.items[i], depth + 1);
		}
		return;
	case OSCAR_MAP:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			canon_fail(c, OSCAR_EINVAL);
			return;
		}
		canon_map(c, v, depth);
		return;
	default:
		canon_fail(c, OSCAR_EINVAL);
		return;
	}
	canon_flush(c);
}

int oscar_value_canonical_encode(const oscar_value_t *v, void **buf, size_t *len)
{
	osc_wbuf_t w;
	int        rv;

	if (buf == NULL || len == NULL) {
		return (OSCAR_EINVAL);
	}
	*buf = NULL;
	*len = 0;
	if (v == NULL) {
		return (OSCAR_EINVAL);
	}
	osc_wbuf_init(&w);
	if ((rv = canon_entry(&w, v, 0)) != 0) {
		osc_wbuf_fini(&w);
		return (rv);
	}
	*buf = osc_wbuf_take(&w, len);
	return (*buf == NULL ? OSCAR_ENOMEM : 0);
}

int oscar_value_hash(const oscar_value_t *v, uint8_t out[OSCAR_VALUE_HASH_SIZE])
{
	crypto_generichash_blake2b_state h;
	osc_canon_t                      c;

	if (v == NULL || out == NULL) {
		return (OSCAR_EINVAL);
	}
	// sodium_init picks the fastest BLAKE2b for this CPU; it is safe to
	// call from any thread, any number of times.
	if (sodium_init() < 0) {
		return (OSCAR_ESYSTEM);
	}
	crypto_generichash_blake2b_init(&h, NULL, 0, OSCAR_VALUE_HASH_SIZE);
	memset(&c, 0, sizeof(c));
	c.h = &h;
	canon_value(&c, v, 0);
	osc_wbuf_fini(&c.scratch);
	if (c.err != 0) {
		sodium_memzero(&h, sizeof(h));
		return (c.err);
	}
	crypto_generichash_blake2b_final(&h, out, OSCAR_VALUE_HASH_SIZE);
	return (0);
}

int oscar_value_hash_hex(const oscar_value_t *v, char out[OSCAR_VALUE_HASH_HEX])
{
	uint8_t h[OSCAR_VALUE_HASH_SIZE];
	int     rv;

	if (out == NULL) {
		return (OSCAR_EINVAL);
	}
	if ((rv = oscar_value_hash(v, h)) != 0) {
		return (rv);
	}
	sodium_bin2hex(out, OSCAR_VALUE_HASH_HEX, h, sizeof(h));
	return (0);
}
