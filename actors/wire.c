// The wire: encoding and decoding of frames (see docs/wire.md).
//
// Design note. The prefix is fixed-size and little-endian so that a
// receiver can check the magic, the version and that the declared lengths
// add up to the bytes it holds before it parses anything. The header is a
// MessagePack array read by position; version 1 has nine items, and a
// decoder skips items past the ninth so that later minor additions stay
// readable. Every count in the header is bounded before anything is
// allocated, and the buffer sizes must add up to exactly the bytes after
// the payload, so no declared length can point past the end.
#include <stdlib.h>
#include <string.h>

#include "actors/wire.h"

#define OSC_HEADER_ITEMS 9

static const char magic[4] = { 'O', 'S', 'C', 'R' };

const char *osc_msg_type_name(int type)
{
	switch (type) {
#define OSC_MSG_NAME_(name, code, str) \
	case code:                     \
		return (str);
		OSC_MSG_TYPE_MAP(OSC_MSG_NAME_)
#undef OSC_MSG_NAME_
	default:
		return (NULL);
	}
}

static void put_le32(char *p, uint32_t x)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (char) (uint8_t) (x >> (8 * i));
	}
}

static uint32_t get_le32(const char *p)
{
	const uint8_t *b = (const uint8_t *) p;
	return ((uint32_t) b[0] | ((uint32_t) b[1] << 8) | ((uint32_t) b[2] << 16) |
	        ((uint32_t) b[3] << 24));
}

// osc_frame_encode appends f, with payload, to out.
int osc_frame_encode(osc_wbuf_t *out, const osc_frame_t *f, const oscar_value_t *payload,
    osc_oob_t *oob, size_t oob_threshold)
{
	osc_wbuf_t pw;
	char       zero[OSC_WIRE_PREFIX] = { 0 };
	int        rv;

	if (f->chain_len > OSC_WIRE_MAX_CHAIN || osc_msg_type_name((int) f->type) == NULL) {
		return (OSCAR_EINVAL);
	}
	osc_wbuf_init(&pw);
	if (payload != NULL) {
		if (oob != NULL) {
			oob->threshold = oob_threshold;
			oob->max       = OSC_WIRE_MAX_BUFFERS;
			pw.oob         = oob;
		}
		osc_write_value(&pw, payload);
		if (pw.err != 0 || pw.len > UINT32_MAX) {
			rv = pw.err != 0 ? pw.err : OSCAR_ETOOLARGE;
			osc_wbuf_fini(&pw);
			return (rv);
		}
	}

	size_t start = out->len;
	osc_write_raw(out, zero, sizeof(zero));
	size_t hstart = out->len;
	osc_write_array(out, OSC_HEADER_ITEMS);
	osc_write_uint(out, (uint64_t) f->type);
	osc_write_uint(out, f->id);
	osc_write_cstr(out, f->source);
	osc_write_cstr(out, f->target);
	osc_write_cstr(out, f->method);
	osc_write_uint(out, f->timeout_ms);
	uint32_t nbufs = oob != NULL && payload != NULL ? oob->n : 0;
	osc_write_array(out, nbufs);
	for (uint32_t i = 0; i < nbufs; i++) {
		osc_write_uint(out, oob->bufs[i].len);
	}
	osc_write_array(out, f->chain_len);
	for (uint32_t i = 0; i < f->chain_len; i++) {
		osc_write_uint(out, f->chain[i]);
	}
	if (f->has_error) {
		osc_write_array(out, 6);
		osc_write_int(out, f->error.code);
		osc_write_cstr(out, f->error.message);
		osc_write_cstr(out, f->error.address);
		osc_write_int(out, f->error.pid);
		osc_write_cstr(out, f->error.actor);
		osc_write_cstr(out, f->error.method);
	} else {
		osc_write_nil(out);
	}
	size_t hlen = out->len - hstart;
	if (out->err == 0 && hlen > OSC_WIRE_MAX_HEADER) {
		out->err = OSCAR_EINVAL;
	}
	osc_write_raw(out, pw.data, pw.len);
	if ((rv = out->err) != 0) {
		osc_wbuf_fini(&pw);
		return (rv);
	}
	char *p = out->data + start;
	memcpy(p, magic, sizeof(magic));
	p[4] = OSC_WIRE_VERSION;
	p[5] = payload != NULL ? OSC_WIRE_F_PAYLOAD : 0;
	put_le32(p + 8, (uint32_t) hlen);
	put_le32(p + 12, (uint32_t) pw.len);
	osc_wbuf_fini(&pw);
	return (0);
}

// read_name copies a header string into dst; too long is malformed.
static int read_name(osc_reader_t *r, char *dst, size_t size)
{
	return (osc_read_str_copy(r, dst, size) == 0 ? 0 : OSCAR_EPROTO);
}

static int read_error(osc_reader_t *r, oscar_error_t *e)
{
	uint32_t n;
	int64_t  code, pid;
	if (osc_read_array(r, &n) != 0 || n < 6 || osc_read_int(r, &code) != 0 || code <= 0 ||
	    code > INT32_MAX || read_name(r, e->message, sizeof(e->message)) != 0 ||
	    read_name(r, e->address, sizeof(e->address)) != 0 || osc_read_int(r, &pid) != 0 ||
	    read_name(r, e->actor, sizeof(e->actor)) != 0 ||
	    read_name(r, e->method, sizeof(e->method)) != 0) {
		return (OSCAR_EPROTO);
	}
	e->code = (int) code;
	e->pid  = pid;
	for (uint32_t i = 6; i < n; i++) {
		if (osc_read_skip(r) != 0) {
			return (OSCAR_EPROTO);
		}
	}
	return (0);
}

// frame_parse_header reads the header array into f and the buffer
// sizes into sizes[0..*nbufs).
static int frame_parse_header(osc_reader_t *r, osc_frame_t *f)
{
	uint32_t     n, nb, nc;
	uint64_t     type;
	oscar_type_t t;

	if (osc_read_array(r, &n) != 0 || n < OSC_HEADER_ITEMS || osc_read_uint(r, &type) != 0 ||
	    osc_msg_type_name((int) (type & 0xff)) == NULL || type > 0xff ||
	    osc_read_uint(r, &f->id) != 0 || read_name(r, f->source, sizeof(f->source)) != 0 ||
	    read_name(r, f->target, sizeof(f->target)) != 0 ||
	    read_name(r, f->method, sizeof(f->method)) != 0 ||
	    osc_read_uint(r, &f->timeout_ms) != 0) {
		return (OSCAR_EPROTO);
	}
	f->type = (osc_msg_type_t) type;

	if (osc_read_array(r, &nb) != 0 || nb > OSC_WIRE_MAX_BUFFERS) {
		return (OSCAR_EPROTO);
	}
	for (uint32_t i = 0; i < nb; i++) {
		uint64_t sz;
		if (osc_read_uint(r, &sz) != 0 || sz > SIZE_MAX) {
			return (OSCAR_EPROTO);
		}
		f->bufs[i].len = (size_t) sz;
	}
	f->nbufs = nb;

	if (osc_read_array(r, &nc) != 0 || nc > OSC_WIRE_MAX_CHAIN) {
		return (OSCAR_EPROTO);
	}
	if (nc != 0) {
		if ((f->chain = malloc(nc * sizeof(uint64_t))) == NULL) {
			return (OSCAR_ENOMEM);
		}
		for (uint32_t i = 0; i < nc; i++) {
			if (osc_read_uint(r, &f->chain[i]) != 0) {
				return (OSCAR_EPROTO);
			}
		}
	}
	f->chain_len = nc;

	if (osc_read_type(r, &t) != 0) {
		return (OSCAR_EPROTO);
	}
	if (t == OSCAR_NIL) {
		(void) osc_read_nil(r);
	} else if (read_error(r, &f->error) != 0) {
		return (OSCAR_EPROTO);
	} else {
		f->has_error = true;
	}
	if ((f->type == OSC_MSG_ERROR) != f->has_error) {
		return (OSCAR_EPROTO);
	}
	for (uint32_t i = OSC_HEADER_ITEMS; i < n; i++) {
		if (osc_read_skip(r) != 0) {
			return (OSCAR_EPROTO);
		}
	}
	return (osc_reader_left(r) == 0 ? 0 : OSCAR_EPROTO);
}

// frame_parse parses the frame at the start of data[0..len). With
// exact, the frame must fill len; without, *used receives its length and
// anything after it is left alone.
static int frame_parse(const void *data, size_t len, osc_frame_t *f, bool exact, size_t *used)
{
	const char  *p = data;
	osc_reader_t r;
	int          rv;

	memset(f, 0, sizeof(*f));
	if (p == NULL || len < OSC_WIRE_PREFIX || memcmp(p, magic, 4) != 0 ||
	    p[4] != OSC_WIRE_VERSION || (p[5] & ~OSC_WIRE_F_PAYLOAD) != 0 || p[6] != 0 ||
	    p[7] != 0) {
		return (OSCAR_EPROTO);
	}
	uint32_t hlen        = get_le32(p + 8);
	uint32_t plen        = get_le32(p + 12);
	bool     has_payload = (p[5] & OSC_WIRE_F_PAYLOAD) != 0;
	if (hlen == 0 || hlen > OSC_WIRE_MAX_HEADER || has_payload != (plen != 0) ||
	    (uint64_t) OSC_WIRE_PREFIX + hlen + plen > len) {
		return (OSCAR_EPROTO);
	}
	osc_reader_init(&r, p + OSC_WIRE_PREFIX, hlen);
	if ((rv = frame_parse_header(&r, f)) != 0) {
		osc_frame_fini(f);
		return (rv);
	}
	// The buffers follow the payload, within the bytes given (exactly
	// filling them for a lone frame).
	size_t at   = OSC_WIRE_PREFIX + (size_t) hlen + plen;
	size_t left = len - at;
	for (uint32_t i = 0; i < f->nbufs; i++) {
		if (f->bufs[i].len > left) {
			osc_frame_fini(f);
			return (OSCAR_EPROTO);
		}
		f->bufs[i].ptr = p + at;
		at += f->bufs[i].len;
		left -= f->bufs[i].len;
	}
	if (exact && left != 0) {
		osc_frame_fini(f);
		return (OSCAR_EPROTO);
	}
	f->payload     = has_payload ? p + OSC_WIRE_PREFIX + hlen : NULL;
	f->payload_len = plen;
	if (used != NULL) {
		*used = at;
	}
	return (0);
}

// osc_frame_decode parses and checks a frame.
int osc_frame_decode(const void *data, size_t len, osc_frame_t *f)
{
	return (frame_parse(data, len, f, true, NULL));
}

// osc_frame_decode_next parses the first of several frames sent back to back.
int osc_frame_decode_next(const void *data, size_t len, osc_frame_t *f, size_t *used)
{
	return (frame_parse(data, len, f, false, used));
}

// osc_frame_payload decodes f's payload.
int osc_frame_payload(const osc_frame_t *f, oscar_value_t **out)
{
	osc_reader_t r;
	osc_oob_t    oob = { 0 };
	int          rv;

	*out = NULL;
	if (f->payload == NULL) {
		return (0);
	}
	oob.n      = f->nbufs;
	oob.bufs   = (osc_oob_buf_t *) f->bufs;
	oob.lender = f->nbufs > 0 ? f->lender : NULL;
	osc_reader_init(&r, f->payload, f->payload_len);
	r.oob = &oob;
	if ((rv = osc_read_value(&r, out)) != 0) {
		return (rv);
	}
	if (osc_reader_left(&r) != 0) {
		oscar_value_free(*out);
		*out = NULL;
		return (OSCAR_EPROTO);
	}
	return (0);
}

// osc_frame_fini releases what decode allocated.
void osc_frame_fini(osc_frame_t *f)
{
	free(f->chain);
	f->chain     = NULL;
	f->chain_len = 0;
}
