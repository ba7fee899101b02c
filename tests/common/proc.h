// What every test program may use about processes.
#ifndef OSCAR_TESTS_COMMON_PROC_H
#define OSCAR_TESTS_COMMON_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

// pid_alive tells whether process pid runs (a zombie does not count).
bool pid_alive(pid_t pid);

// open_fds counts this process's open file descriptors (asserting, with
// Criterion, that it can).
int open_fds(void);

// now_ms reads the monotonic clock, in milliseconds.
int64_t now_ms(void);

#endif // OSCAR_TESTS_COMMON_PROC_H
