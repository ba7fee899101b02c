// A raw connection to a pool's address, for the tests that send it bytes
// no pool would: over tcp:// and ipc:// a plain blocking socket speaking
// the stream link's framing (actors/stream.h), elsewhere an NNG push
// socket.
#ifndef TESTS_COMMON_RAW_H
#define TESTS_COMMON_RAW_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>

typedef struct raw_conn {
	bool       nng;
	int        fd;
	nng_socket sock;
} raw_conn_t;

// raw_dial connects to address (asserting success; sends time out after
// 20 s).
void raw_dial(raw_conn_t *r, const char *address);

// raw_send sends data[0..len) as one transport message.
void raw_send(raw_conn_t *r, const void *data, size_t len);

// raw_write writes bytes as they are, with no framing (stream link only).
void raw_write(raw_conn_t *r, const void *data, size_t len);

// raw_closed tells whether the pool closed the connection: reads its end
// within 10 s (stream link only).
bool raw_closed(raw_conn_t *r);

void raw_close(raw_conn_t *r);

#endif
