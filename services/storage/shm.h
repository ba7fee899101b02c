// Shared-memory segments: how a node's storage and its sub pools hand
// objects to each other without copying them through a socket.
//
// A segment is a sealed memfd: anonymous memory with a file descriptor,
// which leaves nothing in /dev/shm by construction and is freed by the
// kernel when its last descriptor and mapping go, a crashed process's
// included. Once written it is sealed (no write, no shrink, no grow), so a
// reader that maps it can trust that its bytes will not change under it.
// Descriptors travel between processes over a unix socket with SCM_RIGHTS
// (osc_shm_send_fd and osc_shm_recv_fd; why not /proc/<pid>/fd, see
// docs/services/storage.md).
//
// Segment layout (little-endian):
//
//   OFFSET SIZE DESCRIPTION
//   0      4    magic "OSCS"
//   4      4    version, 1
//   8      4    kind: 1 bin, 2 str (the bytes as they are), 3 value (its
//               MessagePack encoding)
//   12     4    reserved, 0
//   16     8    n, the length of the data
//   24     40   reserved, 0
//   64     n    the data
//   64+n   1    a zero byte (bins and strings are terminated)
//
// The segment's size is exactly 65 + n.
#ifndef OSC_SHM_H
#define OSC_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/value.h"

#define OSC_SHM_MAGIC   "OSCS"
#define OSC_SHM_VERSION 1
#define OSC_SHM_HDR     64

enum {
	OSC_SHM_BIN   = 1,
	OSC_SHM_STR   = 2,
	OSC_SHM_VALUE = 3,
};

// osc_shm_map_t is a mapping of a segment.
typedef struct osc_shm_map {
	void       *base; // the mapping, size bytes
	size_t      size;
	uint32_t    kind;
	const char *data; // base + OSC_SHM_HDR
	size_t      len;  // n
} osc_shm_map_t;

// osc_shm_alloc makes an unsealed segment for len bytes of data of the
// given kind and maps it writable: fill m->data[0..len), then seal it with
// osc_shm_seal. *fd is the caller's. OSCAR_ESYSTEM (memfd_create, mmap)
// or OSCAR_EINVAL.
int osc_shm_alloc(uint32_t kind, size_t len, int *fd, osc_shm_map_t *m);

// osc_shm_seal unmaps m and seals the segment fd against writes and size
// changes. OSCAR_ESYSTEM when sealing fails.
int osc_shm_seal(int fd, osc_shm_map_t *m);

// osc_shm_create makes a sealed segment of kind holding data[0..len).
int osc_shm_create(uint32_t kind, const void *data, size_t len, int *fd);

// osc_shm_create_value makes a sealed segment for v: its bytes for a bin
// or a str, its encoding otherwise.
int osc_shm_create_value(const oscar_value_t *v, int *fd);

// osc_shm_map maps the segment fd: read-only and shared when writable is
// false, else private and copy-on-write (the segment never changes; the
// mapping's pages may). It checks the seals and the header: OSCAR_EPROTO
// when the segment is not sealed or not well formed, OSCAR_ESYSTEM when
// it cannot be mapped. fd stays the caller's.
int osc_shm_map(int fd, bool writable, osc_shm_map_t *m);

// osc_shm_unmap releases a mapping. Safe on a zeroed one.
void osc_shm_unmap(osc_shm_map_t *m);

// osc_shm_value makes a value from a mapping: a bin or str copied, or the
// decoded value. Returns 0, OSCAR_EPROTO or OSCAR_ENOMEM.
int osc_shm_value(const osc_shm_map_t *m, oscar_value_t **out);

// osc_shm_borrow maps the segment fd privately (copy-on-write) and makes
// a value of it in *out, the caller's: a bin or str whose bytes are the
// mapping's, without a copy (the value holds the mapping until it and
// every copy of it are freed), or the value decoded from any other
// segment (then unmapped). fd stays the caller's. Errors as osc_shm_map,
// and OSCAR_ENOMEM.
int osc_shm_borrow(int fd, oscar_value_t **out);

// osc_shm_send_fd sends msg[0..len) (1..256 bytes) and a duplicate of fd
// over the unix socket sock. A SOCK_SEQPACKET socket keeps each message
// apart; over a SOCK_STREAM one, send the next descriptor only once the
// peer answered the last (Linux never joins data carrying descriptors to
// other data in one read, but a protocol should not depend on it).
// OSCAR_ESYSTEM on failure (OSCAR_EPEERGONE when the peer is gone).
int osc_shm_send_fd(int sock, int fd, const void *msg, size_t len);

// osc_shm_recv_fd waits at most timeout_ms for a message with one
// descriptor on sock, and gives the message in msg[0..cap) (*len bytes)
// and the descriptor in *fd (the caller's, close-on-exec). OSCAR_ETIMEDOUT,
// OSCAR_EPEERGONE (end of stream), OSCAR_EPROTO (no descriptor, or more
// than one, or a message cut short) or OSCAR_ESYSTEM.
int osc_shm_recv_fd(int sock, int *fd, void *msg, size_t cap, size_t *len, int timeout_ms);

#endif // OSC_SHM_H
