// What every test program may use to build values.
#ifndef OSCAR_TESTS_COMMON_VALUES_H
#define OSCAR_TESTS_COMMON_VALUES_H

#include "oscar/value.h"

// args1 makes the argument array [a], taking a; args2 makes [a, b]. They
// assert (Criterion) that the values could be made.
oscar_value_t *args1(oscar_value_t *a);
oscar_value_t *args2(oscar_value_t *a, oscar_value_t *b);

#endif // OSCAR_TESTS_COMMON_VALUES_H
