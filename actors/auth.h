// Authentication of transport messages with the cluster secret (internal).
//
// When a pool has a cluster secret, every NNG message it sends ends with a
// trailer: the sending pool's id, a sequence number, the sender's clock
// (together, the nonce), and an XChaCha20-Poly1305 tag over everything
// before the tag. A receiver with
// the same secret checks the tag, then refuses what it has already seen
// from that sender (a window of sequence numbers) and what is too old or
// too far in the future (OSC_AUTH_SKEW_MS). The secret itself never
// travels; docs/security.md says what this protects and what it does not.
#ifndef OSC_AUTH_H
#define OSC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "actors/map.h"

#define OSC_AUTH_KEY     32                         // crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define OSC_AUTH_TAG     16                         // crypto_aead_xchacha20poly1305_ietf_ABYTES
#define OSC_AUTH_TRAILER (8 + 8 + 8 + OSC_AUTH_TAG) // sender, sequence, time, tag
// How far a sender's clock may be from the receiver's, and how long a
// receiver remembers a silent sender's sequence numbers.
#define OSC_AUTH_SKEW_MS ((int64_t) 300000)
// At most this many senders are remembered at once; beyond it, messages
// from a new sender are refused until an old one has been silent for
// OSC_AUTH_SKEW_MS.
#define OSC_AUTH_SENDERS 4096

// osc_auth_t is one pool's authentication state. key and secret are set
// once at open and then only read (any thread); seq and seen belong to the
// loop thread.
typedef struct osc_auth {
	unsigned char  key[OSC_AUTH_KEY];
	unsigned char *secret; // a copy, handed to sub pools
	size_t         secret_len;
	uint64_t       sender; // this pool's id on the wire
	uint64_t       seq;    // last sequence number sent
	osc_map_t      seen;   // sender id -> osc_auth_seen_t
} osc_auth_t;

// osc_auth_init derives a's key from secret (len bytes, copied) for a
// pool known as sender. 0, OSCAR_EINVAL (length out of range),
// OSCAR_ENOMEM or OSCAR_ESYSTEM (the crypto library would not start).
int osc_auth_init(osc_auth_t *a, const void *secret, size_t len, uint64_t sender);

// osc_auth_fini wipes and releases what a holds.
void osc_auth_fini(osc_auth_t *a);

// osc_auth_seal appends the trailer to m (loop thread). 0 or OSCAR_ENOMEM.
int osc_auth_seal(osc_auth_t *a, nng_msg *m);

// osc_auth_seal_buf writes the trailer of buf[0..len) right after it:
// buf must have room for OSC_AUTH_TRAILER more bytes (loop thread).
void osc_auth_seal_buf(osc_auth_t *a, unsigned char *buf, size_t len);

// osc_auth_check verifies m's tag and removes its trailer, giving the
// sender, sequence number and sending time; false when m is too short or
// its tag is wrong (m is then unchanged). Any thread: it only reads the
// key.
bool osc_auth_check(
    const osc_auth_t *a, nng_msg *m, uint64_t *sender, uint64_t *seq, int64_t *sent_ms);

// osc_auth_check_buf is osc_auth_check for body[0..*lenp): on success
// *lenp loses the trailer's length.
bool osc_auth_check_buf(const osc_auth_t *a, const unsigned char *body, size_t *lenp,
    uint64_t *sender, uint64_t *seq, int64_t *sent_ms);

// osc_auth_fresh tells whether a checked message (sender, seq, sent_ms)
// is new: within the clock skew of now_ms and never seen before from
// that sender; it then remembers it (loop thread).
bool osc_auth_fresh(osc_auth_t *a, uint64_t sender, uint64_t seq, int64_t sent_ms, int64_t now_ms);

// osc_auth_now_ms is the wall clock in milliseconds.
int64_t osc_auth_now_ms(void);

#endif // OSC_AUTH_H
