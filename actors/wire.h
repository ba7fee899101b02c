// The wire: one versioned frame format for every message between pools.
//
// A frame is a fixed 16-byte prefix, a MessagePack header, a MessagePack
// payload, then raw out-of-band buffers; docs/wire.md lays out the bytes.
// Message types come from one table, OSC_MSG_TYPE_MAP. Encoding and
// decoding go through the codec (actors/codec.h); no other module builds or
// parses frames by hand.
#ifndef OSC_WIRE_H
#define OSC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/codec.h"
#include "oscar/actor.h"

#define OSC_WIRE_VERSION     1
#define OSC_WIRE_PREFIX      16
#define OSC_WIRE_MAX_HEADER  65536 // bytes
#define OSC_WIRE_MAX_BUFFERS 64
#define OSC_WIRE_MAX_CHAIN   256 // calls in a chain: in a frame, and made at all (actor.c)

// Pieces. A transport message larger than OSC_WIRE_PIECE_MAX travels as
// several, each starting with a 16-byte piece header: the magic "OSCK",
// flags, 3 reserved bytes, and the whole message's length (little-endian,
// 8 bytes). The receiver grows its copy as pieces arrive, never on the
// first piece's word (docs/wire.md).
#define OSC_WIRE_PIECE       16
#define OSC_WIRE_PIECE_MAX   ((size_t) 1 << 20)
#define OSC_WIRE_PIECE_FIRST 0x01
#define OSC_WIRE_PIECE_LAST  0x02

// Prefix flags.
#define OSC_WIRE_F_PAYLOAD 0x01 // a payload value follows the header

// OSC_MSG_TYPE_MAP(X) expands X(NAME, code, "name") once per message type.
#define OSC_MSG_TYPE_MAP(X)                                             \
	X(CONTROL, 1, "control") /* method: "home" or "exit" */         \
	X(RESULT, 2, "result")   /* a reply: id of the call, payload */ \
	X(ERROR, 3, "error")     /* a failed reply: id, error */        \
	X(CREATE, 4, "create")   /* method: class name, target: uid */  \
	X(DESTROY, 5, "destroy")                                        \
	X(HAS, 6, "has")                                                \
	X(LOOKUP, 7, "lookup")                                          \
	X(SEND, 8, "send")      /* a call: target.method(payload) */    \
	X(TELL, 9, "tell")      /* one-way: no reply */                 \
	X(CANCEL, 10, "cancel") /* id: the call to cancel */            \
	X(BATCH, 11, "batch")   /* payload: array of per-call arguments */

typedef enum osc_msg_type {
#define OSC_MSG_ENUM_(name, code, str) OSC_MSG_##name = code,
	OSC_MSG_TYPE_MAP(OSC_MSG_ENUM_)
#undef OSC_MSG_ENUM_
} osc_msg_type_t;

// osc_msg_type_name returns "send", "result", ... or NULL if unknown.
const char *osc_msg_type_name(int type);

// osc_frame_t is a decoded (or to-be-encoded) frame. On decode, payload and
// bufs point into the frame's bytes, which must outlive the frame; chain is
// owned by the frame (osc_frame_fini).
typedef struct osc_frame {
	osc_msg_type_t type;
	uint64_t       id;                     // message id; replies carry the call's id
	uint64_t       timeout_ms;             // time left before the deadline; 0: none
	char           source[OSCAR_ADDR_MAX]; // the sender's pool address
	char           target[OSCAR_UID_MAX];  // target actor uid, or ""
	char           method[OSCAR_NAME_MAX]; // method, class or control verb
	uint32_t       chain_len;
	uint64_t      *chain; // tokens of waiting requests (deadlock detection)
	bool           has_error;
	oscar_error_t  error; // OSC_MSG_ERROR
	// Decode only:
	const void   *payload; // MessagePack, or NULL
	size_t        payload_len;
	osc_oob_buf_t bufs[OSC_WIRE_MAX_BUFFERS];
	uint32_t      nbufs;
	// Set by the receiver after decode (decode leaves it NULL): the
	// last buffer's bytes belong to this lender, are writable and are
	// followed by a zero byte, so osc_frame_payload makes its first
	// reference a bin pointing into them instead of a copy (osc_oob_t).
	// Decode the payload once per frame.
	osc_lender_t *lender;
} osc_frame_t;

// osc_frame_encode appends a whole frame to out: prefix, header and payload
// (payload may be NULL). Bins of at least oob_threshold bytes in the
// payload are not copied: they are listed in *oob (which the caller
// initialises to zero and releases with osc_oob_fini) and must be sent,
// in order, right after out's bytes. oob may be NULL to keep everything
// inline. Returns 0, OSCAR_EINVAL (a value or field that cannot be
// encoded) or OSCAR_ENOMEM.
int osc_frame_encode(osc_wbuf_t *out, const osc_frame_t *f, const oscar_value_t *payload,
    osc_oob_t *oob, size_t oob_threshold);

// osc_frame_decode parses data[0..len) into f. Untrusted input is fine:
// anything malformed (magic, version, flags, lengths that do not add up,
// bad header fields, too many buffers, strings too long) gives
// OSCAR_EPROTO and leaves nothing to release. On success release f with
// osc_frame_fini.
int osc_frame_decode(const void *data, size_t len, osc_frame_t *f);

// osc_frame_decode_next parses the first frame of data[0..len), where
// several frames may follow each other (one transport message carries the
// frames a pool sent a peer in one loop turn), and sets *used to its
// length. Same checks and errors as osc_frame_decode, except that bytes
// may follow the frame.
int osc_frame_decode_next(const void *data, size_t len, osc_frame_t *f, size_t *used);

// osc_frame_payload decodes f's payload into a new value (*out is NULL for
// a frame without one), resolving out-of-band references. OSCAR_EPROTO if
// it is malformed.
int osc_frame_payload(const osc_frame_t *f, oscar_value_t **out);

// osc_frame_fini releases what decode allocated (the chain).
void osc_frame_fini(osc_frame_t *f);

#endif // OSC_WIRE_H
