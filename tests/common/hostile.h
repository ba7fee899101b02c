// Floods of hostile but well-formed frames, for the tests that throw them
// at a live pool (tests/actors/test_hostile.c) or a live supervisor
// (tests/services/test_hostile_cluster.c).
#ifndef TESTS_COMMON_HOSTILE_H
#define TESTS_COMMON_HOSTILE_H

#include <stdint.h>

#include "actors/wire.h"

// hostile_ops_t says what a flood aims at. next is the test's random
// number generator; value makes a random payload at a nesting depth;
// shape fills the frame's source, target and method (and may change its
// type) for frame i, and gives the address an ERROR frame claims.
typedef struct hostile_ops {
	uint64_t (*next)(void);
	oscar_value_t *(*value)(int depth);
	void (*shape)(osc_frame_t *f, int i, void *arg);
	void *arg;
} hostile_ops_t;

// hostile_flood sends frames hostile frames to address through a raw
// connection (tests/common/raw.h, proving no secret), per_message of them to a message:
// every message type, forged ids, timeouts, deadlock chains and errors,
// random payloads and batches. It asserts that every type was sent.
void hostile_flood(const char *address, int frames, int per_message, const hostile_ops_t *ops);

#endif // TESTS_COMMON_HOSTILE_H
