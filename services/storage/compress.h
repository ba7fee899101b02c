// lz4 compression of the bytes that storage sends: large bins read by a
// client that accepts lz4, and the blocks of a transfer between workers
// (docs/services/storage.md; why lz4: docs/decisions.md).
//
// A compressed buffer is a frame of its own, so that a receiver can check
// it before allocating anything:
//
//   OFFSET SIZE DESCRIPTION
//   0      4    n, the length of the raw bytes, little-endian
//   4      ...  the raw bytes as one lz4 block (LZ4_compress_default)
#ifndef OSC_COMPRESS_H
#define OSC_COMPRESS_H

#include <stddef.h>

// The longest input one buffer takes (LZ4_MAX_INPUT_SIZE); compress
// larger data in blocks.
#define OSC_LZ4_MAX_INPUT 0x7E000000

// osc_lz4_compress compresses src[0..n) into a new buffer (*out, *outlen,
// the caller's, free()). Returns 0, OSCAR_ETOOLARGE (n above
// OSC_LZ4_MAX_INPUT), or OSCAR_ENOMEM. *outlen may be larger than n for
// incompressible data; osc_lz4_worth tells whether to send it.
int osc_lz4_compress(const void *src, size_t n, void **out, size_t *outlen);

// osc_lz4_worth tells whether a compressed length is worth sending instead
// of the raw one: it saves at least an eighth.
static inline int osc_lz4_worth(size_t raw, size_t compressed)
{
	return (compressed < raw - raw / 8);
}

// osc_lz4_raw_len reads the raw length a compressed buffer announces.
// OSCAR_EPROTO when it is shorter than its header.
int osc_lz4_raw_len(const void *src, size_t n, size_t *raw);

// osc_lz4_decompress decompresses src[0..n) into a new buffer of the raw
// length plus a zero byte (so that it can become a bin as it is): *out,
// *outlen, the caller's. The raw length must be at most max, since it
// comes from a peer. Returns 0, OSCAR_ETOOLARGE (over max), OSCAR_EPROTO
// (not a well-formed buffer: cut short, corrupt, another length than
// announced) or OSCAR_ENOMEM.
int osc_lz4_decompress(const void *src, size_t n, size_t max, void **out, size_t *outlen);

#endif // OSC_COMPRESS_H
