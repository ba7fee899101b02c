// Cross-module declarations of the task service: the context a slot
// builds around one call of a task function, and what the registry and
// the slot runner need from function tables.
#ifndef OSCAR_TASK_INT_H
#define OSCAR_TASK_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "oscar/task.h"

// osc_task_progress_cb is told of each progress report.
typedef void (*osc_task_progress_cb)(void *arg, double fraction);

// struct oscar_task_ctx is built by the slot runner (or a test) with
// osc_task_ctx_init around one call. Strings are borrowed and must outlive
// the call.
struct oscar_task_ctx {
	const char *session;
	const char *key;
	unsigned    n_output;
	void       *arg;
	// cancelled is set by another thread (the slot's message loop) while
	// the function runs, and read by the function.
	atomic_bool          cancelled;
	_Atomic double       progress;
	osc_task_progress_cb progress_cb;
	void                *progress_arg;
	// err holds the failure the function gave with oscar_task_fail.
	oscar_error_t err;
	// nested will hold what nested submission needs (the slot's handle
	// on the task's session); NULL until it exists.
	void *nested;
};

// osc_task_ctx_init prepares ctx for one call of a task: session and key
// are borrowed; progress_cb (may be NULL) is called on the calling thread
// for each report.
void osc_task_ctx_init(oscar_task_ctx_t *ctx, const char *session, const char *key,
    unsigned n_output, osc_task_progress_cb progress_cb, void *progress_arg);

// osc_task_ctx_cancel sets the task's cancelled flag; any thread may call
// it while the function runs.
void osc_task_ctx_cancel(oscar_task_ctx_t *ctx);

// osc_task_run calls the function called name from fns on args
// (borrowed) with ctx, and checks what it gives back: on success *result
// is its value (the caller's), an array of exactly n_output values when
// n_output > 1. Every failure fills err with a message naming the task
// and the function: OSCAR_ENOENT for a function not in fns, the
// function's own code and message, OSCAR_EAPP for a function that
// returned 0 without a result or a result of the wrong shape (freed).
int osc_task_run(const oscar_taskfns_t *fns, const char *name, oscar_task_ctx_t *ctx,
    const oscar_value_t *args, oscar_value_t **result, oscar_error_t *err);

// osc_taskfns_truncate forgets every function added after the first n
// (a module whose oscar_module_init failed takes its functions back).
void osc_taskfns_truncate(oscar_taskfns_t *fns, size_t n);

// osc_taskfn_name_ok tells whether name is a valid function name.
bool osc_taskfn_name_ok(const char *name);

#endif // OSCAR_TASK_INT_H
