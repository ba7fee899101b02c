// Oscar-C graphs: running task functions across a cluster's workers.
//
// A session's task manager ("oscar.task:<session>" in the supervisor's
// main pool) takes graphs of tasks, each a call to a task function by
// name (include/oscar/task.h), with arguments that may hold references
// (OSCAR_REF, oscar_value_new_ref_output) to other tasks' outputs or to
// stored objects. A task is a map:
//
//     {key: str, fn: str, args: value, n_output: uint (default 1),
//      pure: bool (default false), want: bool (default false)}
//
// want: the submitter wants the task's outputs back when the graph ends
// (oscar_graph_submit_run, oscar_graph_wait_outputs): small ones (4 KiB
// or less each) come with the answer, the others by the worker that
// holds them.
//
// Output i of task k is stored as the object "k" (n_output 1) or "k#i".
// These are the host-thread calls; an actor calls the same methods
// (services/task/task_int.h has their table, docs/services/task.md their
// argument and reply shapes). Every call takes the supervisor's address,
// the session id and a deadline.
//
// The info map of a graph: {graph_id, status: "running"|"done"|"failed"|
// "cancelled", n_tasks, counts: {state: n}, reused, joined, progress,
// start_ms, end_ms, error: nil | {code, message, key, fn, worker, signal}},
// and tasks: {key: state | nil} when asked about given tasks
// (oscar_graph_task_states).
#ifndef OSCAR_GRAPH_H
#define OSCAR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

// OSCAR_GRAPH_ID_MAX bounds a graph id, terminator included.
#define OSCAR_GRAPH_ID_MAX 128

// oscar_graph_task makes a task map: key, fn (copied), args (consumed; NULL:
// no arguments), n_output (0 means 1) and pure. NULL when out of memory.
oscar_value_t *oscar_graph_task(
    const char *key, const char *fn, oscar_value_t *args, unsigned n_output, bool pure);

// oscar_graph_submit submits graph (an array of task maps, consumed) to
// session's task manager under graph_id (NULL: one is generated) and
// writes the graph's id to id (size bytes; may be NULL). The graph is
// checked before anything runs: each failure names the task (OSCAR_EINVAL,
// OSCAR_EEXIST, OSCAR_ENOENT, see docs/services/task.md).
int oscar_graph_submit(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *graph, const char *graph_id, char *id, size_t size, int64_t timeout_ms,
    oscar_error_t *err);

// oscar_graph_run_opts_t is what oscar_graph_submit_run adds to a
// submission, each field optional (zero: not used).
typedef struct oscar_graph_run_opts {
	// incref[0..n_incref): object keys counted once more each on the
	// session's lifecycle service (oscar_lifecycle_incref) once the graph
	// is in, before the answer: a failure fails the call and deletes the
	// graph. decref[0..n_decref): keys whose counts are given back, after
	// the incref, without waiting (errors are not reported).
	const char *const *incref;
	size_t             n_incref;
	const char *const *decref;
	size_t             n_decref;
	// wait: the answer waits for the graph's end up to wait_ms (0: not at
	// all) and gives its info; the graph runs on past it.
	bool    wait;
	int64_t wait_ms;
	// outputs: the info carries the wanted tasks' outputs (see
	// oscar_graph_wait_outputs). release: the graph is deleted on the
	// cluster once its end is answered.
	bool outputs;
	bool release;
} oscar_graph_run_opts_t;

// oscar_graph_submit_run is oscar_graph_submit with opts (may be NULL):
// counts taken and given back, and the graph's end waited for, in the
// same round trip. *info (may be NULL; the caller's) is the info map when
// the graph ended within opts->wait_ms, else NULL (it still runs, or the
// manager had to ask meta first and answered at once).
int oscar_graph_submit_run(oscar_pool_t *pool, const char *address, const char *session,
    oscar_value_t *graph, const char *graph_id, const oscar_graph_run_opts_t *opts, char *id,
    size_t size, int64_t timeout_ms, oscar_value_t **info, oscar_error_t *err);

// oscar_graph_wait_outputs is oscar_graph_wait whose info map carries,
// once the graph ended, outputs: [[task key, worker|nil, [value...]|nil]
// ...], one item per task submitted with want that is done: the worker
// that holds its outputs (nil if unknown) and their values when each is
// at most 4 KiB (up to 1 MiB per answer and 16 MiB held per session; nil
// beyond). decref[0..n_decref) are given back on the way, as for
// oscar_graph_submit_run; release deletes the graph once its end is
// answered.
int oscar_graph_wait_outputs(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t wait_ms, const char *const *decref, size_t n_decref, bool release,
    oscar_value_t **info, oscar_error_t *err);

// oscar_graph_info gives the graph's info map in *info (the caller's),
// with only the fields named in fields (NULL terminated; NULL: all).
// OSCAR_ENOENT for an unknown graph.
int oscar_graph_info(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, const char *const *fields, int64_t timeout_ms, oscar_value_t **info,
    oscar_error_t *err);

// oscar_graph_task_states gives, in *states (the caller's), a map from
// each of keys[0..n) (task keys, not output keys) to the state of that
// task in the graph: "pending", "ready", "assigned", "running", "done",
// "failed" or "cancelled"; nil for a key that is no task of the graph.
// OSCAR_ENOENT for an unknown graph.
int oscar_graph_task_states(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, const char *const *keys, size_t n, int64_t timeout_ms,
    oscar_value_t **states, oscar_error_t *err);

// oscar_graph_wait waits up to wait_ms for the graph to end and gives its
// info map in *info (may be NULL). OSCAR_ETIMEDOUT when it still runs
// then (it goes on running). A graph that ended failed is not an error of
// this call: its info says so.
int oscar_graph_wait(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t wait_ms, oscar_value_t **info, oscar_error_t *err);

// oscar_graph_cancel stops a running graph; oscar_graph_delete forgets a
// graph (cancelling it first if it runs).
int oscar_graph_cancel(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t timeout_ms, oscar_error_t *err);
int oscar_graph_delete(oscar_pool_t *pool, const char *address, const char *session,
    const char *graph_id, int64_t timeout_ms, oscar_error_t *err);

// oscar_graph_list gives the session's graph ids, an array of strs, in
// *ids (the caller's).
int oscar_graph_list(oscar_pool_t *pool, const char *address, const char *session,
    int64_t timeout_ms, oscar_value_t **ids, oscar_error_t *err);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_GRAPH_H
