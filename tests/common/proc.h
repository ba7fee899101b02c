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

// status_kb reads the line field ("VmRSS:", "VmHWM:", ...) of process
// pid's /proc status (pid 0: this process), in KiB (-1 if absent).
long status_kb(pid_t pid, const char *field);

// peak_reset starts this process's peak RSS (VmHWM) afresh from its
// current RSS; false where the kernel cannot (Linux before 4.0).
bool peak_reset(void);

#endif // OSCAR_TESTS_COMMON_PROC_H
