// What every test program may use about processes.
#ifndef OSCAR_TESTS_COMMON_PROC_H
#define OSCAR_TESTS_COMMON_PROC_H

#include <stdbool.h>
#include <sys/types.h>

// pid_alive tells whether process pid runs (a zombie does not count).
bool pid_alive(pid_t pid);

#endif // OSCAR_TESTS_COMMON_PROC_H
