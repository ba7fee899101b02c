// Little-endian 64-bit integers in byte buffers (internal): the stream
// link's header and the cluster secret's trailer write and read them.
#ifndef OSC_BYTES_H
#define OSC_BYTES_H

#include <stdint.h>

static inline void osc_put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char) (v >> (8 * i));
	}
}

static inline uint64_t osc_get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--) {
		v = (v << 8) | p[i];
	}
	return (v);
}

#endif // OSC_BYTES_H
