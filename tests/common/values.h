// What every test program may use to build values.
#ifndef OSCAR_TESTS_COMMON_VALUES_H
#define OSCAR_TESTS_COMMON_VALUES_H

#include <stdbool.h>
#include <stddef.h>

#include "oscar/value.h"

// args1 makes the argument array [a], taking a; args2 makes [a, b]. They
// assert (Criterion) that the values could be made.
oscar_value_t *args1(oscar_value_t *a);
oscar_value_t *args2(oscar_value_t *a, oscar_value_t *b);

// pattern_bin makes a bin of n bytes of a fixed pattern (byte i is
// i * 31 + 7, modulo 256); is_pattern tells whether v is such a bin.
oscar_value_t *pattern_bin(size_t n);
bool           is_pattern(const oscar_value_t *v, size_t n);

#endif // OSCAR_TESTS_COMMON_VALUES_H
