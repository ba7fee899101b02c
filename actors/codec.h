// Internal codec: the only module that touches libmpack.
//
// A writer appends MessagePack to a growable buffer; a reader walks
// untrusted bytes with typed getters and strict bounds checks. The wire
// layer (frames, headers) and oscar_value_encode/decode are built on these
// two; no other file includes <mpack.h>.
#ifndef OSC_CODEC_H
#define OSC_CODEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/value.h"

// osc_lender_t keeps alive bytes that bins point into instead of owning a
// copy: a received transport message whose last out-of-band buffer became
// a bin without a copy, or a large bin that the store shares
// (osc_value_share_bins). Such a bin has its `owner` set to the lender
// (ordinary bins and strings have NULL there), holds one reference, and
// drops it when freed (value.c); release runs, on whichever thread drops
// the last reference, when no bin and no holder is left.
typedef struct osc_lender {
	atomic_size_t refs;
	void (*release)(struct osc_lender *l);
} osc_lender_t;

// osc_lender_init sets one reference, the caller's.
void osc_lender_init(osc_lender_t *l, void (*release)(osc_lender_t *l));
void osc_lender_hold(osc_lender_t *l);
void osc_lender_drop(osc_lender_t *l);

// osc_value_share_bins gives every bin of v of at least min bytes that
// owns its bytes an owner of its own (a lender that frees them), without
// copying them: a copy of such a bin (oscar_value_copy) then shares its
// bytes instead of copying them, which is how a large stored object is
// read, and handed on, in O(1). A bin that has an owner already is left
// as it is. OSCAR_ENOMEM leaves the bins not reached yet as they were.
int osc_value_share_bins(oscar_value_t *v, size_t min);

// Out-of-band buffers. A frame carries large binary values after its
// MessagePack parts, as raw bytes that are never re-encoded; inside the
// payload such a value is an ext of type OSC_OOB_EXT holding the buffer's
// index as a big-endian uint32. A writer with an osc_oob_t sends every bin
// of at least `threshold` bytes that way and lists the buffers; a reader
// with one resolves the references (a reader without one rejects them, as
// it rejects every ext).
#define OSC_OOB_EXT 1

// Object references (OSCAR_REF) are an ext of type OSC_REF_EXT, accepted by
// every reader: a big-endian uint32 output index (0xffffffff for a whole
// object) followed by the key's bytes (docs/wire.md).
#define OSC_REF_EXT       2
#define OSC_REF_EXT_WHOLE 0xffffffffu

typedef struct osc_oob_buf {
	const void *ptr;
	size_t      len;
} osc_oob_buf_t;

typedef struct osc_oob {
	size_t         threshold; // writer: smallest bin sent out of band
	uint32_t       max;       // writer: most buffers (then inline)
	uint32_t       n;         // buffers listed
	uint32_t       cap;       // writer: room in bufs
	osc_oob_buf_t *bufs;      // writer: grown here, release with osc_oob_fini
	// Reader: when set, the last buffer's bytes belong to this lender,
	// are writable, and are followed by a zero byte (bins are
	// terminated), so the first reference to it becomes a bin pointing
	// into them, holding the lender, instead of a copy.
	osc_lender_t *lender;
	// Reader: when set, owned[i] (when not NULL) is buffer i as a block
	// of malloc'd memory, len + 1 bytes with a zero last, that the first
	// reference to it adopts as its bin (owned[i] is then set to NULL;
	// the caller frees what is left).
	char **owned;
} osc_oob_t;

// osc_oob_fini releases a writer's buffer list (not the buffers).
void osc_oob_fini(osc_oob_t *oob);

// osc_wbuf_t is a growable byte buffer. Zero-initialise it (or call
// osc_wbuf_init) before use; release with osc_wbuf_fini.
typedef struct osc_wbuf {
	char      *data;
	size_t     len;
	size_t     cap;
	int        err; // first error (OSCAR_ENOMEM), sticky; writes become no-ops
	osc_oob_t *oob; // optional: where large bins go (see above)
} osc_wbuf_t;

void osc_wbuf_init(osc_wbuf_t *w);
void osc_wbuf_fini(osc_wbuf_t *w);
// osc_wbuf_reserve makes room for n more bytes; 0 or OSCAR_ENOMEM.
int osc_wbuf_reserve(osc_wbuf_t *w, size_t n);
// osc_wbuf_take hands the buffer to the caller (free() it) and resets w.
void *osc_wbuf_take(osc_wbuf_t *w, size_t *len);

// Writers. Errors are sticky in w->err, so a run of writes can be checked
// once at the end.
void osc_write_nil(osc_wbuf_t *w);
void osc_write_bool(osc_wbuf_t *w, bool b);
void osc_write_int(osc_wbuf_t *w, int64_t i);
void osc_write_uint(osc_wbuf_t *w, uint64_t u);
void osc_write_float(osc_wbuf_t *w, double f);
void osc_write_str(osc_wbuf_t *w, const char *s, size_t len);
void osc_write_cstr(osc_wbuf_t *w, const char *s);
void osc_write_bin(osc_wbuf_t *w, const void *p, size_t len);
// osc_write_str_header and osc_write_bin_header write only the header of a
// str or bin of len bytes; the caller writes the payload (or hashes it).
void osc_write_str_header(osc_wbuf_t *w, size_t len);
void osc_write_bin_header(osc_wbuf_t *w, size_t len);
void osc_write_array(osc_wbuf_t *w, uint32_t n);
void osc_write_map(osc_wbuf_t *w, uint32_t n);
void osc_write_raw(osc_wbuf_t *w, const void *p, size_t len);
void osc_write_value(osc_wbuf_t *w, const oscar_value_t *v);
// osc_write_oob_ref writes a reference to out-of-band buffer idx (a
// fixext 4 of type OSC_OOB_EXT), for a writer that lists buffers itself.
void osc_write_oob_ref(osc_wbuf_t *w, uint32_t idx);

// osc_head_t describes the token that starts a MessagePack value, read
// from its first bytes alone: osc_read_head.
typedef enum osc_head_kind {
	OSC_HEAD_SCALAR, // nil, bool, a number: the header is the whole token
	OSC_HEAD_STR,
	OSC_HEAD_BIN,
	OSC_HEAD_EXT,
	OSC_HEAD_ARRAY,
	OSC_HEAD_MAP,
} osc_head_kind_t;

typedef struct osc_head {
	osc_head_kind_t kind;
	size_t          hdr;      // bytes of the header (the type byte included)
	uint64_t        len;      // payload bytes (str, bin, ext), or items/entries
	int             ext_type; // for OSC_HEAD_EXT
} osc_head_t;

// osc_read_head reads the header at p[0..n) for a reader that gets its
// bytes piecewise. It sets h->hdr to the header's length from the first
// byte; when n is shorter the rest of h is unset and the caller reads on
// once it has h->hdr bytes. OSCAR_EPROTO for the reserved byte 0xc1 or
// n == 0.
int osc_read_head(const void *p, size_t n, osc_head_t *h);

// osc_value_encoded_len returns the length of v's encoding as
// osc_write_value writes it without out-of-band buffers, or 0 when v
// cannot be encoded (too deep, too long, a bad reference).
size_t osc_value_encoded_len(const oscar_value_t *v);
// osc_write_ref writes a reference to output `output` (or OSCAR_REF_WHOLE)
// of the object key[0..len); a key that is empty, too long or holds a zero
// byte, or an output out of range, sets OSCAR_EINVAL.
void osc_write_ref(osc_wbuf_t *w, const char *key, size_t len, int64_t output);

// osc_reader_t reads MessagePack from buf[0..len). It never reads past the
// end; every getter returns 0 or OSCAR_EPROTO (wrong type, truncated,
// oversized) and never crashes on any input.
typedef struct osc_reader {
	const char      *buf;
	size_t           len;
	size_t           pos;
	const osc_oob_t *oob;  // optional: buffers that ext references resolve to
	bool             lent; // the lender's buffer went to a bin already
} osc_reader_t;

void                 osc_reader_init(osc_reader_t *r, const void *buf, size_t len);
static inline size_t osc_reader_left(const osc_reader_t *r)
{
	return r->len - r->pos;
}

// osc_read_type peeks at the type of the next value without consuming it.
int osc_read_type(osc_reader_t *r, oscar_type_t *t);
int osc_read_nil(osc_reader_t *r);
int osc_read_bool(osc_reader_t *r, bool *b);
int osc_read_int(osc_reader_t *r, int64_t *i);   // any integer fitting int64
int osc_read_uint(osc_reader_t *r, uint64_t *u); // any non-negative integer
int osc_read_float(osc_reader_t *r, double *f);  // float or integer
// osc_read_str gives a pointer into the buffer (not terminated) and length.
int osc_read_str(osc_reader_t *r, const char **s, size_t *len);
// osc_read_str_copy copies a string into dst[0..size) with a terminator;
// OSCAR_ETOOLARGE when it does not fit.
int osc_read_str_copy(osc_reader_t *r, char *dst, size_t size);
int osc_read_bin(osc_reader_t *r, const void **p, size_t *len);
// Container headers give the number of items (array) or entries (map);
// the count is checked against the bytes left, so it can be trusted as a
// bound for allocation.
int osc_read_array(osc_reader_t *r, uint32_t *n);
int osc_read_map(osc_reader_t *r, uint32_t *n);
// osc_read_skip skips one complete value (nested to at most
// OSCAR_VALUE_MAX_DEPTH).
int osc_read_skip(osc_reader_t *r);
// osc_read_value decodes one complete value into a new heap value.
int osc_read_value(osc_reader_t *r, oscar_value_t **out);

#endif // OSC_CODEC_H
