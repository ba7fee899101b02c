// Error helpers of the actor core (error.c), the bottom layer: they fill
// an oscar_error_t and know nothing of pools but where they are.
#ifndef OSC_ERROR_H
#define OSC_ERROR_H

#include <stdint.h>

#include "oscar/error.h"

// osc_error_at fills err with code, a formatted message and where: the
// pool at address, in process pid.
void osc_error_at(oscar_error_t *err, const char *address, int64_t pid, int code, const char *actor,
    const char *method, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

// osc_error_set is osc_error_at at pool (anything with an address and a
// pid, an oscar_pool_t): osc_error_set(err, pool, code, actor, method,
// fmt, ...).
#define osc_error_set(err, pool, ...) osc_error_at((err), (pool)->address, (pool)->pid, __VA_ARGS__)

// osc_error_dup copies err to the heap (NULL when out of memory).
oscar_error_t *osc_error_dup(const oscar_error_t *err);

// osc_error_here fills err (if given) for a failure found before any pool
// was involved, in this process, and returns code.
int osc_error_here(oscar_error_t *err, int code, const char *msg);

#endif // OSC_ERROR_H
