// lz4 helpers (compress.h).
#include <lz4.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/error.h"
#include "services/storage/compress.h"

_Static_assert(OSC_LZ4_MAX_INPUT == LZ4_MAX_INPUT_SIZE, "lz4's input limit");

int osc_lz4_compress(const void *src, size_t n, void **out, size_t *outlen)
{
	unsigned char *buf;
	int            bound;
	int            k;

	*out    = NULL;
	*outlen = 0;
	if (n > OSC_LZ4_MAX_INPUT || (src == NULL && n > 0)) {
		return (n > OSC_LZ4_MAX_INPUT ? OSCAR_ETOOLARGE : OSCAR_EINVAL);
	}
	bound = LZ4_compressBound((int) n);
	if ((buf = malloc(4 + (size_t) bound)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (int i = 0; i < 4; i++) {
		buf[i] = (unsigned char) (n >> (8 * i));
	}
	k = n == 0 ? 0 : LZ4_compress_default(src, (char *) buf + 4, (int) n, bound);
	if (n > 0 && k <= 0) {
		free(buf); // cannot happen with a buffer of the bound's size
		return (OSCAR_ENOMEM);
	}
	*out    = buf;
	*outlen = 4 + (size_t) k;
	return (0);
}

int osc_lz4_raw_len(const void *src, size_t n, size_t *raw)
{
	const unsigned char *p = src;
	uint32_t             x = 0;

	if (src == NULL || n < 4) {
		return (OSCAR_EPROTO);
	}
	for (int i = 3; i >= 0; i--) {
		x = (x << 8) | p[i];
	}
	*raw = x;
	return (0);
}

int osc_lz4_decompress(const void *src, size_t n, size_t max, void **out, size_t *outlen)
{
	char  *buf;
	size_t raw;
	int    k;
	int    rv;

	*out    = NULL;
	*outlen = 0;
	if ((rv = osc_lz4_raw_len(src, n, &raw)) != 0) {
		return (rv);
	}
	if (raw > max) {
		return (OSCAR_ETOOLARGE);
	}
	if (raw > OSC_LZ4_MAX_INPUT || n - 4 > (size_t) INT32_MAX) {
		return (OSCAR_EPROTO);
	}
	if ((buf = malloc(raw + 1)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if (raw == 0) {
		k = n == 4 ? 0 : -1;
	} else {
		// The safe decoder never reads or writes out of bounds, whatever
		// the input.
		k = LZ4_decompress_safe((const char *) src + 4, buf, (int) (n - 4), (int) raw);
	}
	if (k < 0 || (size_t) k != raw) {
		free(buf);
		return (OSCAR_EPROTO);
	}
	buf[raw] = '\0';
	*out     = buf;
	*outlen  = raw;
	return (0);
}
