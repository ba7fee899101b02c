// MessagePack codec on top of libmpack's token API. This is the only file
// that includes <mpack.h>.
//
// Design note. libmpack turns bytes into tokens (nil, bool, uint, sint,
// float, str/bin/ext headers, array/map headers) and back. We use it one
// token at a time with a fresh mpack_tokbuf_t, so no partial state ever
// survives a call:
//  - Writing reserves MPACK_MAX_TOKEN_LEN bytes before each mpack_write, so
//    the token always goes straight into the buffer (MPACK_OK); str and bin
//    payloads are copied by hand right after their header.
//  - Reading hands mpack_read the bytes left. A token cut short gives
//    MPACK_EOF, which here means truncated input (OSCAR_EPROTO). After a
//    str or bin header we check the declared length against the bytes left
//    and step over the payload ourselves instead of reading CHUNK tokens.
//    mpack_read asserts on an empty buffer, so we never call it with one.
//
// Untrusted input. Every declared length is checked against the bytes left
// before anything is allocated: a str or bin needs its bytes, an array item
// at least one byte, a map entry at least two. So a decoded value costs at
// most a small constant times the input size, whatever the input claims.
// Nesting is capped at OSCAR_VALUE_MAX_DEPTH containers, ext types other
// than references (and out-of-band buffers, for a reader given them) are
// rejected, and every reader function leaves the position unchanged when it
// fails.
//
// libmpack quirks, as found in the 1.0.x packaged by Debian:
//  - Map tokens carry the number of entries (older releases used twice
//    that); the round-trip tests pin this down.
//  - mpack_write chooses the width of a negative integer from its low 32
//    bits only, so it writes -129 as int8 (+127) and -2^32-1 as fixint -1.
//    We encode negative integers by hand.
//  - Floats are always written as float64 so that every double survives the
//    trip exactly; float32 is accepted on input.
#include <stdbool.h> // before <mpack.h>, which defines bool otherwise

#include <mpack.h>

#include <stdlib.h>
#include <string.h>

#include "actors/codec.h"
#include "oscar/error.h"
#include "oscar/value.h"

// ---------------------------------------------------------------------------
// Write buffer

void osc_wbuf_init(osc_wbuf_t *w)
{
	memset(w, 0, sizeof(*w));
}

void osc_wbuf_fini(osc_wbuf_t *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}

// osc_wbuf_reserve grows the buffer geometrically. Failure sets the sticky
// error, so that the writes that follow do nothing.
int osc_wbuf_reserve(osc_wbuf_t *w, size_t n)
{
	size_t cap;
	char  *data;

	if (w->err != 0) {
		return (w->err);
	}
	if (n <= w->cap - w->len) {
		return (0);
	}
	if (n > SIZE_MAX - w->len) {
		w->err = OSCAR_ENOMEM;
		return (w->err);
	}
	cap = w->cap < 64 ? 64 : w->cap;
	while (cap < w->len + n) {
		cap = cap > SIZE_MAX / 2 ? w->len + n : cap * 2;
	}
	if ((data = realloc(w->data, cap)) == NULL) {
		w->err = OSCAR_ENOMEM;
		return (w->err);
	}
	w->data = data;
	w->cap  = cap;
	return (0);
}

// osc_wbuf_take returns the bytes written, or NULL (with *len 0) when a
// write failed or nothing was written; either way w is left empty.
void *osc_wbuf_take(osc_wbuf_t *w, size_t *len)
{
	void *data = w->data;

	*len = w->len;
	if (w->err != 0 || w->len == 0) {
		free(data);
		data = NULL;
		*len = 0;
	}
	memset(w, 0, sizeof(*w));
	return (data);
}

// wbuf_fail records err unless an earlier error is already recorded.
static void wbuf_fail(osc_wbuf_t *w, int err)
{
	if (w->err == 0) {
		w->err = err;
	}
}

// write_token appends one token.
static void write_token(osc_wbuf_t *w, const mpack_token_t *tok)
{
	mpack_tokbuf_t tb;
	char          *p;
	size_t         left;

	if (osc_wbuf_reserve(w, MPACK_MAX_TOKEN_LEN) != 0) {
		return;
	}
	mpack_tokbuf_init(&tb);
	p    = w->data + w->len;
	left = w->cap - w->len;
	if (mpack_write(&tb, &p, &left, tok) != MPACK_OK) {
		// Only an unknown token type gets here: a bug of ours.
		wbuf_fail(w, OSCAR_EINVAL);
		return;
	}
	w->len = (size_t) (p - w->data);
}

// write_be appends the low n bytes of x, most significant first.
static void write_be(osc_wbuf_t *w, uint8_t type, uint64_t x, int n)
{
	char *p;

	if (osc_wbuf_reserve(w, 1 + (size_t) n) != 0) {
		return;
	}
	p    = w->data + w->len;
	*p++ = (char) type;
	while (n-- > 0) {
		*p++ = (char) (uint8_t) (x >> (8 * n));
	}
	w->len = (size_t) (p - w->data);
}

void osc_write_nil(osc_wbuf_t *w)
{
	mpack_token_t tok = mpack_pack_nil();

	write_token(w, &tok);
}

void osc_write_bool(osc_wbuf_t *w, bool b)
{
	mpack_token_t tok = mpack_pack_boolean(b);

	write_token(w, &tok);
}

// osc_write_int writes i in the shortest MessagePack form. Non-negative
// values go through libmpack; negative ones are encoded here (see the
// design note).
void osc_write_int(osc_wbuf_t *w, int64_t i)
{
	uint64_t x = (uint64_t) i;

	if (i >= 0) {
		osc_write_uint(w, x);
	} else if (i >= -32) {
		write_be(w, (uint8_t) x, 0, 0); // negative fixint
	} else if (i >= INT8_MIN) {
		write_be(w, 0xd0, x, 1);
	} else if (i >= INT16_MIN) {
		write_be(w, 0xd1, x, 2);
	} else if (i >= INT32_MIN) {
		write_be(w, 0xd2, x, 4);
	} else {
		write_be(w, 0xd3, x, 8);
	}
}

void osc_write_uint(osc_wbuf_t *w, uint64_t u)
{
	mpack_token_t tok = mpack_pack_uint(u);

	write_token(w, &tok);
}

// osc_write_float writes f as a float64, bit for bit.
void osc_write_float(osc_wbuf_t *w, double f)
{
	mpack_token_t tok;
	uint64_t      bits;

	memcpy(&bits, &f, sizeof(bits));
	memset(&tok, 0, sizeof(tok));
	tok.type          = MPACK_TOKEN_FLOAT;
	tok.length        = 8;
	tok.data.value.hi = (mpack_uint32_t) (bits >> 32);
	tok.data.value.lo = (mpack_uint32_t) (bits & 0xffffffffu);
	write_token(w, &tok);
}

// write_blob writes a str or bin header and its payload. MessagePack
// lengths are 32-bit; anything longer is OSCAR_EINVAL.
static void write_blob(osc_wbuf_t *w, bool str, const void *p, size_t len)
{
	mpack_token_t tok;

	if (len > UINT32_MAX || (p == NULL && len > 0)) {
		wbuf_fail(w, OSCAR_EINVAL);
		return;
	}
	tok = str ? mpack_pack_str((mpack_uint32_t) len) : mpack_pack_bin((mpack_uint32_t) len);
	write_token(w, &tok);
	osc_write_raw(w, p, len);
}

// write_blob_header writes the header of a str or bin of len bytes.
static void write_blob_header(osc_wbuf_t *w, bool str, size_t len)
{
	mpack_token_t tok;

	if (len > UINT32_MAX) {
		wbuf_fail(w, OSCAR_EINVAL);
		return;
	}
	tok = str ? mpack_pack_str((mpack_uint32_t) len) : mpack_pack_bin((mpack_uint32_t) len);
	write_token(w, &tok);
}

void osc_write_str_header(osc_wbuf_t *w, size_t len)
{
	write_blob_header(w, true, len);
}

void osc_write_bin_header(osc_wbuf_t *w, size_t len)
{
	write_blob_header(w, false, len);
}

void osc_write_str(osc_wbuf_t *w, const char *s, size_t len)
{
	write_blob(w, true, s, len);
}

void osc_write_cstr(osc_wbuf_t *w, const char *s)
{
	if (s == NULL) {
		wbuf_fail(w, OSCAR_EINVAL);
		return;
	}
	write_blob(w, true, s, strlen(s));
}

void osc_write_bin(osc_wbuf_t *w, const void *p, size_t len)
{
	write_blob(w, false, p, len);
}

void osc_write_array(osc_wbuf_t *w, uint32_t n)
{
	mpack_token_t tok = mpack_pack_array(n);

	write_token(w, &tok);
}

void osc_write_map(osc_wbuf_t *w, uint32_t n)
{
	mpack_token_t tok = mpack_pack_map(n);

	write_token(w, &tok);
}

void osc_write_raw(osc_wbuf_t *w, const void *p, size_t len)
{
	if (len == 0 || osc_wbuf_reserve(w, len) != 0) {
		return;
	}
	memcpy(w->data + w->len, p, len);
	w->len += len;
}

// osc_oob_fini releases a writer's buffer list.
void osc_oob_fini(osc_oob_t *oob)
{
	free(oob->bufs);
	oob->bufs = NULL;
	oob->n = oob->cap = 0;
}

// write_oob lists p[0..len) as the next out-of-band buffer and writes
// a reference to it: fixext 4 of type OSC_OOB_EXT, the index big-endian.
static void write_oob(osc_wbuf_t *w, const void *p, size_t len)
{
	osc_oob_t *oob = w->oob;
	if (oob->n == oob->cap) {
		uint32_t       cap  = oob->cap ? oob->cap * 2 : 4;
		osc_oob_buf_t *bufs = realloc(oob->bufs, cap * sizeof(*bufs));
		if (bufs == NULL) {
			wbuf_fail(w, OSCAR_ENOMEM);
			return;
		}
		oob->bufs = bufs;
		oob->cap  = cap;
	}
	oob->bufs[oob->n].ptr = p;
	oob->bufs[oob->n].len = len;
	write_be(w, 0xd6, ((uint64_t) OSC_OOB_EXT << 32) | oob->n, 5);
	oob->n++;
}

void osc_write_ref(osc_wbuf_t *w, const char *key, size_t len, int64_t output)
{
	mpack_token_t tok;
	uint32_t      idx;

	if (key == NULL || len == 0 || len > OSCAR_REF_KEY_MAX || memchr(key, 0, len) != NULL ||
	    (output != OSCAR_REF_WHOLE && (output < 0 || output > OSCAR_REF_OUTPUT_MAX))) {
		wbuf_fail(w, OSCAR_EINVAL);
		return;
	}
	idx = output == OSCAR_REF_WHOLE ? OSC_REF_EXT_WHOLE : (uint32_t) output;
	tok = mpack_pack_ext(OSC_REF_EXT, (mpack_uint32_t) (4 + len));
	write_token(w, &tok);
	if (osc_wbuf_reserve(w, 4) == 0) {
		w->data[w->len++] = (char) (uint8_t) (idx >> 24);
		w->data[w->len++] = (char) (uint8_t) (idx >> 16);
		w->data[w->len++] = (char) (uint8_t) (idx >> 8);
		w->data[w->len++] = (char) (uint8_t) idx;
	}
	osc_write_raw(w, key, len);
}

void osc_write_oob_ref(osc_wbuf_t *w, uint32_t idx)
{
	write_be(w, 0xd6, ((uint64_t) OSC_OOB_EXT << 32) | idx, 5);
}

// read_be reads n bytes big-endian.
static uint64_t read_be(const unsigned char *p, int n)
{
	uint64_t x = 0;

	for (int i = 0; i < n; i++) {
		x = (x << 8) | p[i];
	}
	return (x);
}

int osc_read_head(const void *buf, size_t n, osc_head_t *h)
{
	const unsigned char *p = buf;
	unsigned             b;
	int                  sz = 0; // bytes of the length field

	memset(h, 0, sizeof(*h));
	if (n == 0) {
		return (OSCAR_EPROTO);
	}
	b      = p[0];
	h->hdr = 1;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		h->kind = OSC_HEAD_SCALAR;
		return (0);
	}
	if (b <= 0x8f || (b >= 0x90 && b <= 0x9f) || (b >= 0xa0 && b <= 0xbf)) {
		h->kind = b <= 0x8f ? OSC_HEAD_MAP : b <= 0x9f ? OSC_HEAD_ARRAY : OSC_HEAD_STR;
		h->len  = b & (b <= 0x9f ? 0x0f : 0x1f);
		return (0);
	}
	switch (b) {
	case 0xc1:
		return (OSCAR_EPROTO);
	case 0xca:
	case 0xcb:
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		static const unsigned char w[] = { 4, 8, 1, 2, 4, 8, 1, 2, 4, 8 };
		h->kind                        = OSC_HEAD_SCALAR;
		h->hdr                         = 1 + (size_t) w[b - 0xca];
		return (0);
	}
	case 0xc4:
	case 0xc5:
	case 0xc6:
		h->kind = OSC_HEAD_BIN;
		sz      = 1 << (b - 0xc4);
		break;
	case 0xd9:
	case 0xda:
	case 0xdb:
		h->kind = OSC_HEAD_STR;
		sz      = 1 << (b - 0xd9);
		break;
	case 0xdc:
	case 0xdd:
		h->kind = OSC_HEAD_ARRAY;
		sz      = b == 0xdc ? 2 : 4;
		break;
	case 0xde:
	case 0xdf:
		h->kind = OSC_HEAD_MAP;
		sz      = b == 0xde ? 2 : 4;
		break;
	case 0xc7:
	case 0xc8:
	case 0xc9:
		// ext 8/16/32: the length, then the type.
		h->kind = OSC_HEAD_EXT;
		sz      = 1 << (b - 0xc7);
		h->hdr  = 1 + (size_t) sz + 1;
		if (n < h->hdr) {
			return (0);
		}
		h->len      = read_be(p + 1, sz);
		h->ext_type = (int) (signed char) p[1 + sz];
		return (0);
	default: // 0xd4..0xd8, fixext 1..16: the type, then 2^k bytes
		h->kind = OSC_HEAD_EXT;
		h->hdr  = 2;
		h->len  = (uint64_t) 1 << (b - 0xd4);
		if (n >= 2) {
			h->ext_type = (int) (signed char) p[1];
		}
		return (0);
	}
	h->hdr = 1 + (size_t) sz;
	if (n >= h->hdr) {
		h->len = read_be(p + 1, sz);
	}
	return (0);
}

// write_value_depth writes v, which sits inside depth containers.
static void write_value_depth(osc_wbuf_t *w, const oscar_value_t *v, int depth)
{
	size_t i;

	if (w->err != 0) {
		return;
	}
	if (v == NULL) {
		wbuf_fail(w, OSCAR_EINVAL);
		return;
	}
	switch (v->type) {
	case OSCAR_NIL:
		osc_write_nil(w);
		break;
	case OSCAR_BOOL:
		osc_write_bool(w, v->as.b);
		break;
	case OSCAR_INT:
		osc_write_int(w, v->as.i);
		break;
	case OSCAR_UINT:
		osc_write_uint(w, v->as.u);
		break;
	case OSCAR_FLOAT:
		osc_write_float(w, v->as.f);
		break;
	case OSCAR_STR:
		osc_write_str(w, v->as.str.ptr, v->as.str.len);
		break;
	case OSCAR_BIN:
		if (w->oob != NULL && v->as.bin.len >= w->oob->threshold &&
		    w->oob->n < w->oob->max) {
			write_oob(w, v->as.bin.ptr, v->as.bin.len);
		} else {
			osc_write_bin(w, v->as.bin.ptr, v->as.bin.len);
		}
		break;
	case OSCAR_REF:
		osc_write_ref(w, v->as.ref.key, v->as.ref.len, v->as.ref.output);
		break;
	case OSCAR_ARRAY:
		if (depth >= OSCAR_VALUE_MAX_DEPTH || v->as.arr.len > UINT32_MAX) {
			wbuf_fail(w, OSCAR_EINVAL);
			return;
		}
		osc_write_array(w, (uint32_t) v->as.arr.len);
		for (i = 0; i < v->as.arr.len && w->err == 0; i++) {
			write_value_depth(w, &v->as.arr.items[i], depth + 1);
		}
		break;
	case OSCAR_MAP:
		if (depth >= OSCAR_VALUE_MAX_DEPTH || v->as.map.len > UINT32_MAX) {
			wbuf_fail(w, OSCAR_EINVAL);
			return;
		}
		osc_write_map(w, (uint32_t) v->as.map.len);
		for (i = 0; i < v->as.map.len && w->err == 0; i++) {
			write_value_depth(w, &v->as.map.kv[i].key, depth + 1);
			write_value_depth(w, &v->as.map.kv[i].val, depth + 1);
		}
		break;
	default:
		wbuf_fail(w, OSCAR_EINVAL);
		break;
	}
}

// uint_len is the length of the shortest encoding of u.
static size_t uint_len(uint64_t u)
{
	return (u < 128 ? 1 : u <= UINT8_MAX ? 2 : u <= UINT16_MAX ? 3 : u <= UINT32_MAX ? 5 : 9);
}

// count_len is the length of an array or map header for n.
static size_t count_len(size_t n)
{
	return (n < 16 ? 1 : n <= UINT16_MAX ? 3 : 5);
}

// encoded_len_depth measures v, which sits inside depth containers;
// 0 when it cannot be encoded.
static size_t encoded_len_depth(const oscar_value_t *v, int depth)
{
	size_t n;
	size_t i;
	size_t a;
	size_t b;

	switch (v->type) {
	case OSCAR_NIL:
	case OSCAR_BOOL:
		return (1);
	case OSCAR_INT:
		if (v->as.i >= 0) {
			return (uint_len((uint64_t) v->as.i));
		}
		return (v->as.i >= -32         ? 1
		        : v->as.i >= INT8_MIN  ? 2
		        : v->as.i >= INT16_MIN ? 3
		        : v->as.i >= INT32_MIN ? 5
		                               : 9);
	case OSCAR_UINT:
		return (uint_len(v->as.u));
	case OSCAR_FLOAT:
		return (9);
	case OSCAR_STR:
		n = v->as.str.len;
		if (n > UINT32_MAX) {
			return (0);
		}
		return (n + (n < 32 ? 1 : n <= UINT8_MAX ? 2 : n <= UINT16_MAX ? 3 : 5));
	case OSCAR_BIN:
		n = v->as.bin.len;
		if (n > UINT32_MAX) {
			return (0);
		}
		return (n + (n <= UINT8_MAX ? 2 : n <= UINT16_MAX ? 3 : 5));
	case OSCAR_REF:
		n = v->as.ref.len;
		if (n == 0 || n > OSCAR_REF_KEY_MAX || memchr(v->as.ref.key, 0, n) != NULL ||
		    (v->as.ref.output != OSCAR_REF_WHOLE &&
		        (v->as.ref.output < 0 || v->as.ref.output > OSCAR_REF_OUTPUT_MAX))) {
			return (0);
		}
		n += 4;
		return (n + (n == 8 || n == 16 ? 2 : n <= UINT8_MAX ? 3 : 4));
	case OSCAR_ARRAY:
		if (depth >= OSCAR_VALUE_MAX_DEPTH || v->as.arr.len > UINT32_MAX) {
			return (0);
		}
		n = count_len(v->as.arr.len);
		for (i = 0; i < v->as.arr.len; i++) {
			if ((a = encoded_len_depth(&v->as.arr.items[i], depth + 1)) == 0) {
				return (0);
			}
			n += a;
		}
		return (n);
	case OSCAR_MAP:
		if (depth >= OSCAR_VALUE_MAX_DEPTH || v->as.map.len > UINT32_MAX) {
			return (0);
		}
		n = count_len(v->as.map.len);
		for (i = 0; i < v->as.map.len; i++) {
			if ((a = encoded_len_depth(&v->as.map.kv[i].key, depth + 1)) == 0 ||
			    (b = encoded_len_depth(&v->as.map.kv[i].val, depth + 1)) == 0) {
				return (0);
			}
			n += a + b;
		}
		return (n);
	default:
		return (0);
	}
}

size_t osc_value_encoded_len(const oscar_value_t *v)
{
	return (v == NULL ? 0 : encoded_len_depth(v, 0));
}

// osc_write_value writes v and everything in it. A NULL value, an unknown
// type, a length beyond 32 bits or nesting deeper than
// OSCAR_VALUE_MAX_DEPTH sets OSCAR_EINVAL, so that whatever is written can
// also be read back.
void osc_write_value(osc_wbuf_t *w, const oscar_value_t *v)
{
	write_value_depth(w, v, 0);
}

// ---------------------------------------------------------------------------
// Reader

void osc_reader_init(osc_reader_t *r, const void *buf, size_t len)
{
	r->buf  = buf;
	r->len  = buf == NULL ? 0 : len;
	r->pos  = 0;
	r->oob  = NULL;
	r->lent = false;
}

// osc_tok_t is one token as read at the current position: the token and
// the number of bytes it takes, payload included for str and bin.
typedef struct osc_tok {
	mpack_token_t tok;
	size_t        hdr;  // bytes of the token itself
	size_t        size; // hdr plus the str/bin payload
} osc_tok_t;

// peek reads the token at the current position without consuming it,
// and checks what it declares against the bytes left: a str or bin payload
// must be there in full, an array needs a byte per item and a map two per
// entry. Ext types and reserved bytes are OSCAR_EPROTO.
static int peek(const osc_reader_t *r, osc_tok_t *t)
{
	mpack_tokbuf_t tb;
	const char    *p;
	size_t         left;
	size_t         after;

	if (r->pos >= r->len) {
		return (OSCAR_EPROTO);
	}
	p    = r->buf + r->pos;
	left = r->len - r->pos;
	mpack_tokbuf_init(&tb);
	memset(&t->tok, 0, sizeof(t->tok));
	if (mpack_read(&tb, &p, &left, &t->tok) != MPACK_OK) {
		return (OSCAR_EPROTO); // truncated (EOF) or reserved byte
	}
	after   = left;
	t->hdr  = r->len - r->pos - after;
	t->size = t->hdr;
	switch (t->tok.type) {
	case MPACK_TOKEN_NIL:
	case MPACK_TOKEN_BOOLEAN:
	case MPACK_TOKEN_UINT:
	case MPACK_TOKEN_SINT:
	case MPACK_TOKEN_FLOAT:
		return (0);
	case MPACK_TOKEN_STR:
	case MPACK_TOKEN_BIN:
		if (t->tok.length > after) {
			return (OSCAR_EPROTO);
		}
		t->size += t->tok.length;
		return (0);
	case MPACK_TOKEN_ARRAY:
		return (t->tok.length > after ? OSCAR_EPROTO : 0);
	case MPACK_TOKEN_MAP:
		return ((uint64_t) t->tok.length * 2 > after ? OSCAR_EPROTO : 0);
	case MPACK_TOKEN_EXT:
		if (t->tok.data.ext_type == OSC_REF_EXT) {
			// An object reference: an output index and a key of
			// 1..OSCAR_REF_KEY_MAX bytes with no zero byte.
			if (t->tok.length < 5 || t->tok.length > 4 + OSCAR_REF_KEY_MAX ||
			    t->tok.length > after || memchr(p + 4, 0, t->tok.length - 4) != NULL) {
				return (OSCAR_EPROTO);
			}
			t->size += t->tok.length;
			return (0);
		}
		// Otherwise only references to out-of-band buffers, and only
		// when the reader was given them.
		if (r->oob == NULL || t->tok.data.ext_type != OSC_OOB_EXT || t->tok.length != 4 ||
		    after < 4) {
			return (OSCAR_EPROTO);
		}
		t->size += 4;
		return (0);
	default:
		return (OSCAR_EPROTO); // a stray chunk
	}
}

// tok_type maps a token to the value type it starts.
static oscar_type_t tok_type(const mpack_token_t *tok)
{
	switch (tok->type) {
	case MPACK_TOKEN_BOOLEAN:
		return (OSCAR_BOOL);
	case MPACK_TOKEN_UINT:
		return (tok->data.value.hi > INT32_MAX ? OSCAR_UINT : OSCAR_INT);
	case MPACK_TOKEN_SINT:
		return (OSCAR_INT);
	case MPACK_TOKEN_FLOAT:
		return (OSCAR_FLOAT);
	case MPACK_TOKEN_STR:
		return (OSCAR_STR);
	case MPACK_TOKEN_BIN:
		return (OSCAR_BIN);
	case MPACK_TOKEN_EXT: // a reference, or an out-of-band buffer (a bin)
		return (tok->data.ext_type == OSC_REF_EXT ? OSCAR_REF : OSCAR_BIN);
	case MPACK_TOKEN_ARRAY:
		return (OSCAR_ARRAY);
	case MPACK_TOKEN_MAP:
		return (OSCAR_MAP);
	default:
		return (OSCAR_NIL);
	}
}

// tok_uint gives the value of a UINT token.
static uint64_t tok_uint(const mpack_token_t *tok)
{
	return (mpack_unpack_uint(*tok));
}

// tok_sint gives the value of a SINT token. libmpack gives SINT only
// for negative numbers; positive int8..int64 come back as UINT.
static int64_t tok_sint(const mpack_token_t *tok)
{
	return (mpack_unpack_sint(*tok));
}

// tok_float gives the value of a FLOAT token, float32 or float64.
static double tok_float(const mpack_token_t *tok)
{
	uint64_t bits;
	uint32_t bits32;
	double   d;
	float    f;

	if (tok->length == 4) {
		bits32 = tok->data.value.lo;
		memcpy(&f, &bits32, sizeof(f));
		return ((double) f);
	}
	bits = ((uint64_t) tok->data.value.hi << 32) | tok->data.value.lo;
	memcpy(&d, &bits, sizeof(d));
	return (d);
}

int osc_read_type(osc_reader_t *r, oscar_type_t *t)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	*t = tok_type(&tok.tok);
	return (0);
}

int osc_read_nil(osc_reader_t *r)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != MPACK_TOKEN_NIL) {
		return (OSCAR_EPROTO);
	}
	r->pos += tok.size;
	return (0);
}

int osc_read_bool(osc_reader_t *r, bool *b)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != MPACK_TOKEN_BOOLEAN) {
		return (OSCAR_EPROTO);
	}
	*b = tok.tok.data.value.lo != 0;
	r->pos += tok.size;
	return (0);
}

int osc_read_int(osc_reader_t *r, int64_t *i)
{
	osc_tok_t tok;
	uint64_t  u;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	switch (tok.tok.type) {
	case MPACK_TOKEN_SINT:
		*i = tok_sint(&tok.tok);
		break;
	case MPACK_TOKEN_UINT:
		if ((u = tok_uint(&tok.tok)) > (uint64_t) INT64_MAX) {
			return (OSCAR_EPROTO);
		}
		*i = (int64_t) u;
		break;
	default:
		return (OSCAR_EPROTO);
	}
	r->pos += tok.size;
	return (0);
}

int osc_read_uint(osc_reader_t *r, uint64_t *u)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != MPACK_TOKEN_UINT) {
		return (OSCAR_EPROTO); // negative, or not an integer
	}
	*u = tok_uint(&tok.tok);
	r->pos += tok.size;
	return (0);
}

int osc_read_float(osc_reader_t *r, double *f)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	switch (tok.tok.type) {
	case MPACK_TOKEN_FLOAT:
		*f = tok_float(&tok.tok);
		break;
	case MPACK_TOKEN_UINT:
		*f = (double) tok_uint(&tok.tok);
		break;
	case MPACK_TOKEN_SINT:
		*f = (double) tok_sint(&tok.tok);
		break;
	default:
		return (OSCAR_EPROTO);
	}
	r->pos += tok.size;
	return (0);
}

// read_blob reads a str or bin (as asked) and points into the buffer.
static int read_blob(osc_reader_t *r, mpack_token_type_t type, const char **p, size_t *len)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != type) {
		return (OSCAR_EPROTO);
	}
	*p   = r->buf + r->pos + tok.hdr;
	*len = tok.tok.length;
	r->pos += tok.size;
	return (0);
}

int osc_read_str(osc_reader_t *r, const char **s, size_t *len)
{
	return (read_blob(r, MPACK_TOKEN_STR, s, len));
}

int osc_read_str_copy(osc_reader_t *r, char *dst, size_t size)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != MPACK_TOKEN_STR) {
		return (OSCAR_EPROTO);
	}
	if (tok.tok.length >= size) {
		return (OSCAR_ETOOLARGE);
	}
	memcpy(dst, r->buf + r->pos + tok.hdr, tok.tok.length);
	dst[tok.tok.length] = '\0';
	r->pos += tok.size;
	return (0);
}

int osc_read_bin(osc_reader_t *r, const void **p, size_t *len)
{
	const char *s;
	int         rv;

	if ((rv = read_blob(r, MPACK_TOKEN_BIN, &s, len)) != 0) {
		return (rv);
	}
	*p = s;
	return (0);
}

int osc_read_array(osc_reader_t *r, uint32_t *n)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != MPACK_TOKEN_ARRAY) {
		return (OSCAR_EPROTO);
	}
	*n = tok.tok.length;
	r->pos += tok.size;
	return (0);
}

int osc_read_map(osc_reader_t *r, uint32_t *n)
{
	osc_tok_t tok;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	if (tok.tok.type != MPACK_TOKEN_MAP) {
		return (OSCAR_EPROTO);
	}
	*n = tok.tok.length;
	r->pos += tok.size;
	return (0);
}

// skip_depth skips one value that sits inside depth containers. On
// failure the position is somewhere inside the value; the caller restores
// it.
static int skip_depth(osc_reader_t *r, int depth)
{
	osc_tok_t tok;
	uint64_t  n;
	uint64_t  i;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	r->pos += tok.size;
	switch (tok.tok.type) {
	case MPACK_TOKEN_ARRAY:
		n = tok.tok.length;
		break;
	case MPACK_TOKEN_MAP:
		n = (uint64_t) tok.tok.length * 2;
		break;
	default:
		return (0);
	}
	if (depth >= OSCAR_VALUE_MAX_DEPTH) {
		return (OSCAR_EPROTO);
	}
	for (i = 0; i < n; i++) {
		if ((rv = skip_depth(r, depth + 1)) != 0) {
			return (rv);
		}
	}
	return (0);
}

int osc_read_skip(osc_reader_t *r)
{
	size_t pos = r->pos;
	int    rv;

	if ((rv = skip_depth(r, 0)) != 0) {
		r->pos = pos;
	}
	return (rv);
}

// dup_bytes copies n bytes of p into a new block with a terminator.
static char *dup_bytes(const char *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL) {
		return (NULL);
	}
	if (n > 0) {
		memcpy(s, p, n);
	}
	s[n] = '\0';
	return (s);
}

// read_into decodes one value into the nil slot v, which sits inside
// depth containers. It keeps v consistent at every step (a container counts
// its slots before filling them, and they start nil), so that on failure
// freeing the root releases everything decoded so far.
static int read_into(osc_reader_t *r, oscar_value_t *v, int depth)
{
	osc_tok_t tok;
	size_t    n;
	size_t    i;
	int       rv;

	if ((rv = peek(r, &tok)) != 0) {
		return (rv);
	}
	switch (tok.tok.type) {
	case MPACK_TOKEN_NIL:
		break;
	case MPACK_TOKEN_BOOLEAN:
		v->type = OSCAR_BOOL;
		v->as.b = tok.tok.data.value.lo != 0;
		break;
	case MPACK_TOKEN_UINT:
		v->as.u = tok_uint(&tok.tok);
		v->type = v->as.u > (uint64_t) INT64_MAX ? OSCAR_UINT : OSCAR_INT;
		break;
	case MPACK_TOKEN_SINT:
		v->type = OSCAR_INT;
		v->as.i = tok_sint(&tok.tok);
		break;
	case MPACK_TOKEN_FLOAT:
		v->type = OSCAR_FLOAT;
		v->as.f = tok_float(&tok.tok);
		break;
	case MPACK_TOKEN_STR:
	case MPACK_TOKEN_BIN:
		n = tok.tok.length;
		if ((v->as.str.ptr = dup_bytes(r->buf + r->pos + tok.hdr, n)) == NULL) {
			return (OSCAR_ENOMEM);
		}
		v->as.str.len = n;
		v->type       = tok.tok.type == MPACK_TOKEN_STR ? OSCAR_STR : OSCAR_BIN;
		break;
	case MPACK_TOKEN_EXT: {
		// A reference, or an out-of-band buffer (peek let nothing
		// else through).
		const uint8_t *b = (const uint8_t *) r->buf + r->pos + tok.hdr;
		if (tok.tok.data.ext_type == OSC_REF_EXT) {
			uint32_t out = ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
			               ((uint32_t) b[2] << 8) | b[3];
			n = tok.tok.length - 4;
			if ((v->as.ref.key = dup_bytes((const char *) b + 4, n)) == NULL) {
				return (OSCAR_ENOMEM);
			}
			v->as.ref.len = n;
			v->as.ref.output =
			    out == OSC_REF_EXT_WHOLE ? OSCAR_REF_WHOLE : (int64_t) out;
			v->type = OSCAR_REF;
			break;
		}
		uint32_t idx = ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
		               ((uint32_t) b[2] << 8) | b[3];
		if (idx >= r->oob->n) {
			return (OSCAR_EPROTO);
		}
		n = r->oob->bufs[idx].len;
		if (r->oob->owned != NULL && r->oob->owned[idx] != NULL) {
			// Adopted, not copied: a block of n + 1 bytes, terminated.
			v->as.bin.ptr      = r->oob->owned[idx];
			r->oob->owned[idx] = NULL;
		} else if (r->oob->lender != NULL && !r->lent && idx == r->oob->n - 1) {
			// Lent, not copied: the bytes are the lender's, writable
			// and terminated (see osc_oob_t). Only once, so that two
			// references to one buffer never share their bytes.
			v->as.bin.ptr   = (char *) (uintptr_t) r->oob->bufs[idx].ptr;
			v->as.bin.owner = r->oob->lender;
			osc_lender_hold(r->oob->lender);
			r->lent = true;
		} else if ((v->as.bin.ptr = dup_bytes(r->oob->bufs[idx].ptr, n)) == NULL) {
			return (OSCAR_ENOMEM);
		}
		v->as.bin.len = n;
		v->type       = OSCAR_BIN;
		break;
	}
	case MPACK_TOKEN_ARRAY:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			return (OSCAR_EPROTO);
		}
		r->pos += tok.size;
		v->type = OSCAR_ARRAY;
		if ((n = tok.tok.length) == 0) {
			return (0);
		}
		if ((v->as.arr.items = calloc(n, sizeof(oscar_value_t))) == NULL) {
			return (OSCAR_ENOMEM);
		}
		v->as.arr.cap = v->as.arr.len = n;
		for (i = 0; i < n; i++) {
			if ((rv = read_into(r, &v->as.arr.items[i], depth + 1)) != 0) {
				return (rv);
			}
		}
		return (0);
	case MPACK_TOKEN_MAP:
		if (depth >= OSCAR_VALUE_MAX_DEPTH) {
			return (OSCAR_EPROTO);
		}
		r->pos += tok.size;
		v->type = OSCAR_MAP;
		if ((n = tok.tok.length) == 0) {
			return (0);
		}
		if ((v->as.map.kv = calloc(n, sizeof(oscar_kv_t))) == NULL) {
			return (OSCAR_ENOMEM);
		}
		v->as.map.cap = v->as.map.len = n;
		for (i = 0; i < n; i++) {
			if (((rv = read_into(r, &v->as.map.kv[i].key, depth + 1)) != 0) ||
			    ((rv = read_into(r, &v->as.map.kv[i].val, depth + 1)) != 0)) {
				return (rv);
			}
		}
		return (0);
	default:
		return (OSCAR_EPROTO); // peek lets no other token through
	}
	r->pos += tok.size;
	return (0);
}

int osc_read_value(osc_reader_t *r, oscar_value_t **out)
{
	oscar_value_t *v;
	size_t         pos = r->pos;
	int            rv;

	*out = NULL;
	if ((v = oscar_value_new_nil()) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if ((rv = read_into(r, v, 0)) != 0) {
		oscar_value_free(v);
		r->pos = pos;
		return (rv);
	}
	*out = v;
	return (0);
}

// ---------------------------------------------------------------------------
// Public encode and decode (declared in oscar/value.h)

int oscar_value_encode(const oscar_value_t *v, void **buf, size_t *len)
{
	osc_wbuf_t w;

	if (buf == NULL || len == NULL) {
		return (OSCAR_EINVAL);
	}
	*buf = NULL;
	*len = 0;
	if (v == NULL) {
		return (OSCAR_EINVAL);
	}
	osc_wbuf_init(&w);
	osc_write_value(&w, v);
	if (w.err != 0) {
		int rv = w.err;
		osc_wbuf_fini(&w);
		return (rv);
	}
	*buf = osc_wbuf_take(&w, len);
	return (0);
}

int oscar_value_decode(const void *buf, size_t len, oscar_value_t **out)
{
	osc_reader_t r;
	int          rv;

	if (out == NULL) {
		return (OSCAR_EINVAL);
	}
	*out = NULL;
	osc_reader_init(&r, buf, len);
	if ((rv = osc_read_value(&r, out)) != 0) {
		return (rv);
	}
	if (osc_reader_left(&r) != 0) {
		oscar_value_free(*out);
		*out = NULL;
		return (OSCAR_EPROTO); // trailing bytes
	}
	return (0);
}
