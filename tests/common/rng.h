// The random number generator of the randomized tests: xorshift64, with
// Marsaglia's shifts 13, 7 and 17. Each test keeps its own state, seeded
// with a fixed nonzero value, so that its runs are all alike.
#ifndef OSCAR_TESTS_COMMON_RNG_H
#define OSCAR_TESTS_COMMON_RNG_H

#include <stdint.h>

// xorshift64 advances *state (never zero) and returns its new value.
static inline uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (x);
}

#endif // OSCAR_TESTS_COMMON_RNG_H
