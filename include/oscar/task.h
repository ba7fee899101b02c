// Oscar-C task functions: the header for function authors.
//
// A task function is a C function called by name, with the task's
// arguments, in one of a worker's slots:
//
//     static int inc(oscar_task_ctx_t *ctx, const oscar_value_t *args,
//         oscar_value_t **result)
//     {
//             int64_t x;
//             if (oscar_value_get_int(oscar_value_at(args, 0), &x) != 0) {
//                     return (oscar_task_fail(ctx, OSCAR_EBADARGS,
//                         "inc takes one integer"));
//             }
//             *result = oscar_value_new_int(x + 1);
//             return (*result != NULL ? 0 : OSCAR_ENOMEM);
//     }
//
// args is the task's argument value (an array of positional arguments by
// convention) with every object reference already replaced by the
// object's value; it is borrowed for the call. On success the function
// returns 0 and stores a new value in *result, which the runtime takes.
// A task with n_output > 1 returns an array of exactly n_output values,
// each stored as its own object (key#0, key#1, ...). On failure it returns
// an error code (an OSCAR_E* code, or OSCAR_EUSER and above for its own),
// with a message given through oscar_task_fail, and leaves *result NULL.
//
// Functions are registered by name in a function table,
// oscar_taskfns_t. A program that defines its own functions fills the
// table of the registry it starts its node or local cluster with; a
// module loaded with --load-modules fills the same table from its
// oscar_module_init:
//
//     int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err)
//     {
//             return (oscar_taskfns_add(oscar_registry_taskfns(reg), "inc",
//                 inc, NULL, err));
//     }
//
// docs/services/task.md describes how tasks run.
#ifndef OSCAR_TASK_H
#define OSCAR_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"
#include "oscar/error.h"
#include "oscar/node.h"
#include "oscar/value.h"

#ifdef __cplusplus
extern "C" {
#endif

// OSCAR_TASK_KEY_MAX bounds a task or object key, terminator included.
#define OSCAR_TASK_KEY_MAX 256
// OSCAR_TASK_OUTPUT_MAX bounds a task's n_output.
#define OSCAR_TASK_OUTPUT_MAX 1024

typedef struct oscar_task_ctx oscar_task_ctx_t;
typedef struct oscar_taskfns  oscar_taskfns_t;

// oscar_task_fn is a task function. ctx and args are borrowed for the
// call; *result, set on success, is handed to the runtime.
typedef int (*oscar_task_fn)(
    oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result);

// ---------------------------------------------------------------------------
// The task context: what a running function may ask about its task. Every
// string returned is borrowed and valid for the call.

// oscar_task_session gives the id of the task's session.
const char *oscar_task_session(const oscar_task_ctx_t *ctx);
// oscar_task_key gives the task's key.
const char *oscar_task_key(const oscar_task_ctx_t *ctx);
// oscar_task_n_output gives the number of outputs the task must return.
unsigned oscar_task_n_output(const oscar_task_ctx_t *ctx);
// oscar_task_arg gives the pointer registered with the function.
void *oscar_task_arg(const oscar_task_ctx_t *ctx);
// oscar_task_cancelled tells whether the task was cancelled. A function
// that runs for long polls it and returns OSCAR_ECANCELED when it is set;
// one that does not is stopped by killing its slot.
bool oscar_task_cancelled(const oscar_task_ctx_t *ctx);
// oscar_task_progress reports how far the task is, from 0 to 1. Returns
// OSCAR_EINVAL (and reports nothing) for a fraction outside [0, 1].
int oscar_task_progress(oscar_task_ctx_t *ctx, double fraction);
// oscar_task_fail records why the task failed, a printf-style message,
// and returns code, so that a function ends with
// `return (oscar_task_fail(ctx, OSCAR_EBADARGS, "..."));`. A code of 0 is
// turned into OSCAR_EAPP.
int oscar_task_fail(oscar_task_ctx_t *ctx, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// Nested submission: a function running in a slot submits work to its
// own session and waits for it (seed 001's driver). While it waits
// (oscar_task_wait), its slot does not count as busy: the worker gives
// the slot another task meanwhile, so nested work never deadlocks, even
// with one slot in the whole cluster (up to 8 tasks deep per slot).
// These calls block the function's thread and take deadlines; outside a
// slot they fail with OSCAR_ESTATE.

// oscar_task_submit submits graph (an array of task maps, consumed; see
// include/oscar/graph.h) to the task's session and writes its id to id
// (size bytes, may be NULL when size is 0).
int oscar_task_submit(oscar_task_ctx_t *ctx, oscar_value_t *graph, char *id, size_t size,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_task_wait waits up to wait_ms for graph_id of the task's session
// to end and gives its info map in *info (the caller's; may be NULL).
// OSCAR_ETIMEDOUT when it still runs then.
int oscar_task_wait(oscar_task_ctx_t *ctx, const char *graph_id, int64_t wait_ms,
    oscar_value_t **info, oscar_error_t *err);

// oscar_task_fetch reads the object called key ("k" or "k#i") of the
// task's session into *value (the caller's). OSCAR_ENOENT for an unknown
// object.
int oscar_task_fetch(oscar_task_ctx_t *ctx, const char *key, int64_t timeout_ms,
    oscar_value_t **value, oscar_error_t *err);

// ---------------------------------------------------------------------------
// Function tables

// OSCAR_TASKFNS_MAX bounds the functions in one table.
#define OSCAR_TASKFNS_MAX 4096

// oscar_taskfns_new makes an empty table; oscar_taskfns_free releases it
// and clears *fnsp (NULL and a NULL *fnsp are allowed).
int  oscar_taskfns_new(oscar_taskfns_t **fnsp);
void oscar_taskfns_free(oscar_taskfns_t **fnsp);

// oscar_taskfns_add registers fn under name (copied), with arg handed to
// it through oscar_task_arg. A name is 1 to 63 bytes of [A-Za-z0-9_.:-].
// OSCAR_EINVAL for a bad name, a NULL fn or a full table, OSCAR_EEXIST for
// a name already registered, OSCAR_ENOMEM.
int oscar_taskfns_add(
    oscar_taskfns_t *fns, const char *name, oscar_task_fn fn, void *arg, oscar_error_t *err);

// oscar_taskfns_find looks name up: 0 with *fn and *arg set (either may
// be NULL), or OSCAR_ENOENT.
int oscar_taskfns_find(const oscar_taskfns_t *fns, const char *name, oscar_task_fn *fn, void **arg);

// oscar_taskfns_count gives the number of functions; oscar_taskfns_name
// the name of function i in the order they were added (NULL out of range).
size_t      oscar_taskfns_count(const oscar_taskfns_t *fns);
const char *oscar_taskfns_name(const oscar_taskfns_t *fns, size_t i);

// oscar_taskfns_names returns a new array value of the names, in the
// order they were added (what a worker reports in its node info), or
// NULL when out of memory. The caller frees it.
oscar_value_t *oscar_taskfns_names(const oscar_taskfns_t *fns);

// oscar_registry_taskfns gives the function table of a registry: the one
// a node started with that registry offers. The registry owns it.
oscar_taskfns_t *oscar_registry_taskfns(oscar_registry_t *reg);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_TASK_H
