// Cross-module declarations of the task service: the context a slot
// builds around one call of a task function, and what the registry and
// the slot runner need from function tables.
#ifndef OSCAR_TASK_INT_H
#define OSCAR_TASK_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "oscar/task.h"
#include "services/services_int.h"

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
	// waited_us is the time the function spent in oscar_task_wait, in
	// microseconds, taken from its run time (written and read on the
	// function's thread).
	uint64_t waited_us;
	// nested is what nested submission needs (an osc_task_nested_t of
	// the slot runner); NULL outside a slot.
	void *nested;
};

// osc_task_nested_t is what a task running in a slot needs to submit
// work to its own session and wait for it: the slot's pool (the
// function's thread makes host-thread calls through it), the
// supervisor's address, and the executor, told while the task waits
// (lend, unlend) so that its slot does not count as busy meanwhile.
typedef struct osc_task_nested {
	oscar_pool_t *pool;
	char          supervisor[OSCAR_ADDR_MAX];
	oscar_ref_t   executor;
	unsigned      slot;
} osc_task_nested_t;

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

// osc_task_value_large tells whether v is large enough to go between a
// worker and its slot through shared memory: its encoding may take
// threshold bytes or more (a bound that stops early, never a walk of a
// large value's every item). False when threshold is 0 (never).
bool osc_task_value_large(const oscar_value_t *v, uint64_t threshold);

// osc_taskfn_name_ok tells whether name is a valid function name.
bool osc_taskfn_name_ok(const char *name);

// ---------------------------------------------------------------------------
// The task service's actors (docs/services/task.md)

// The task manager of session S is "oscar.task:S" in the supervisor's main
// pool (OSC_TASK_UID_PREFIX); a worker's executor is "oscar.executor" in
// its main pool.
#define OSC_TASK_UID_PREFIX "oscar.task:"
#define OSC_EXECUTOR_UID    "oscar.executor"
#define OSC_TASK_SECTION    "task"

// The methods of the task manager, one table: id, name, handler, the
// shape of the arguments and of the reply.
//
//   submit  {graph: [task map...], graph_id: str|nil, incref, decref,
//           wait_ms, outputs, release} -> graph_id, or {graph_id,
//           info|nil} with wait_ms
//           task map: {key, fn, args, n_output: uint|nil, pure: bool|nil,
//           want: bool|nil}
//           incref, decref: [[key, n]...] counts taken and given back
//           through the session's lifecycle (incref first, answered
//           before the reply; decref one-way)
//   info    {graph_id, fields: [names]|nil} -> info map
//   wait    {graph_id, timeout_ms, outputs, release, decref} -> info map
//           (with outputs: [[key, worker|nil, [value...]|nil]...] of the
//           wanted tasks when asked), or OSCAR_ETIMEDOUT
//   cancel  graph_id -> nil
//   delete  graph_id -> nil
//   list    nil -> [graph_id...]
//   report  {worker, reports: [[key, kind, sizes|nil, code, signal, message,
//           values|nil, us]...]} (items shortened after the last one that
//           says something; us: a finished task's run time in its slot,
//           in microseconds)
//           (from executors; kind "started", "finished", "errored", or
//           "waiting" and "resumed" around a wait for nested work)
#define OSC_TASK_MANAGER_METHODS(X)                                          \
	X(SUBMIT, "submit", osc_tmgr_m_submit, OSC_SHAPE_MAP, OSC_SHAPE_ANY) \
	X(INFO, "info", osc_tmgr_m_info, OSC_SHAPE_MAP, OSC_SHAPE_MAP)       \
	X(WAIT, "wait", osc_tmgr_m_wait, OSC_SHAPE_MAP, OSC_SHAPE_MAP)       \
	X(CANCEL, "cancel", osc_tmgr_m_cancel, OSC_SHAPE_STR, OSC_SHAPE_NIL) \
	X(DELETE, "delete", osc_tmgr_m_delete, OSC_SHAPE_STR, OSC_SHAPE_NIL) \
	X(LIST, "list", osc_tmgr_m_list, OSC_SHAPE_ANY, OSC_SHAPE_ARRAY)     \
	X(REPORT, "report", osc_tmgr_m_report, OSC_SHAPE_MAP, OSC_SHAPE_NIL)

// The methods of a worker's executor.
//
//   run      {session, tasks: [[key, fn, args, n_output, after?]...]} ->
//            nil once queued (from the manager); a task with after (a
//            key) runs once that task of the session, held here, has
//            stored its output, and is dropped if it fails
//   cancel   {session, keys: [key...]} (one-way, from the manager)
//   slot_up  {index, address, last_exit}: the slot keeper made sub pool
//            index's slot runner at address, or gave up on it (address
//            ""); last_exit says how the slot's last process ended (from
//            the keeper's thread)
//   lend     {session, key}: the task waits for nested work; its slot
//            takes another task meanwhile (from the slot's task)
//   unlend   {session, key}: it waits no more
//   ran      {batch, from, results: [result...]}: results of the tasks of
//            a run message (batch: its number) from index from on, told
//            by the slot while the rest of the run goes on (one-way)
#define OSC_EXECUTOR_METHODS(X)                                                 \
	X(RUN, "run", osc_exec_m_run, OSC_SHAPE_MAP, OSC_SHAPE_NIL)             \
	X(CANCEL, "cancel", osc_exec_m_cancel, OSC_SHAPE_MAP, OSC_SHAPE_NIL)    \
	X(SLOT_UP, "slot_up", osc_exec_m_slot_up, OSC_SHAPE_MAP, OSC_SHAPE_NIL) \
	X(LEND, "lend", osc_exec_m_lend, OSC_SHAPE_MAP, OSC_SHAPE_NIL)          \
	X(UNLEND, "unlend", osc_exec_m_unlend, OSC_SHAPE_MAP, OSC_SHAPE_NIL)    \
	X(RAN, "ran", osc_exec_m_ran, OSC_SHAPE_MAP, OSC_SHAPE_NIL)

// The methods of the slot runner (class OSC_SLOT_CLASS, uid OSC_SLOT_UID
// in each of a worker's sub pools).
//
//   run     {session, supervisor, executor, slot, batch, tasks: [[key, fn,
//           args, n_output]...]} -> [result...], one per task not told
//           in a ran message yet (the last ones), in order: its
//           [output..., us] (n_output values, then how long the
//           function ran, in microseconds), or {code, message}, the
//           function's error. The tasks run one after the other; a
//           reference in a task's args to an output of a task before it
//           in the same run is resolved in the slot (a chain run ahead).
//           While the run goes on, the results of the tasks done so far
//           go to the executor at once, in "ran" messages (batch is the
//           executor's number for the run); the answer carries the rest.
//   cancel  key|nil: set the cancelled flag of the task called key
//           (every task for nil; one-way)
//   done    index: items of run index finished, or its thread ended (from
//           the slot itself)
#define OSC_SLOT_CLASS "oscar.task.slot"
#define OSC_SLOT_UID   "oscar.slot"
// OSC_SLOT_RUNS_MAX bounds the tasks a slot holds at once: one running,
// the others waiting for nested work.
#define OSC_SLOT_RUNS_MAX 8
// OSC_SLOT_BATCH_MAX bounds the tasks of one run message.
#define OSC_SLOT_BATCH_MAX 256
#define OSC_SLOT_METHODS(X)                                                  \
	X(RUN, "run", osc_slot_m_run, OSC_SHAPE_MAP, OSC_SHAPE_ANY)          \
	X(CANCEL, "cancel", osc_slot_m_cancel, OSC_SHAPE_ANY, OSC_SHAPE_NIL) \
	X(DONE, "done", osc_slot_m_done, OSC_SHAPE_ANY, OSC_SHAPE_NIL)

#define OSC_TMGR_ID_(id, name, fn, args, reply) OSC_TMGR_##id,
#define OSC_TEXE_ID_(id, name, fn, args, reply) OSC_TEXE_##id,
#define OSC_SLOT_ID_(id, name, fn, args, reply) OSC_SLOT_##id,
enum { OSC_SLOT_METHODS(OSC_SLOT_ID_) OSC_SLOT_N };
#undef OSC_SLOT_ID_
enum { OSC_TASK_MANAGER_METHODS(OSC_TMGR_ID_) OSC_TMGR_N };
enum { OSC_EXECUTOR_METHODS(OSC_TEXE_ID_) OSC_TEXE_N };
#undef OSC_TMGR_ID_
#undef OSC_TEXE_ID_

extern const osc_method_spec_t osc_task_manager_methods[OSC_TMGR_N];
extern const osc_method_spec_t osc_executor_methods[OSC_TEXE_N];

#define osc_tmgr_name(id) (osc_task_manager_methods[(id)].name)
#define osc_texe_name(id) (osc_executor_methods[(id)].name)
extern const osc_method_spec_t osc_slot_methods[OSC_SLOT_N];
#define osc_slot_name(id) (osc_slot_methods[(id)].name)

extern const oscar_actor_class_t osc_task_slot_class;

extern const oscar_actor_class_t osc_task_manager_class;
extern const oscar_actor_class_t osc_executor_class;

// osc_keeper_t is a worker's slot keeper: a thread that makes the slot
// runners in the node's sub pools and kills a slot whose task will not
// stop, with the pool's host-thread calls, which an actor cannot make.
typedef struct osc_keeper osc_keeper_t;

// osc_keeper_start starts the keeper of node's sub pools and the node's
// executor; osc_keeper_stop stops the thread (from the service's stop,
// while the pools are up) and frees it.
int  osc_keeper_start(oscar_node_t *node, osc_keeper_t **kp, oscar_error_t *err);
void osc_keeper_stop(osc_keeper_t **kp);
extern const oscar_service_t osc_task_service;

// osc_task_settings_t: the [task] settings.
typedef struct osc_task_settings {
	int64_t queue;           // tasks a worker may hold beyond its slots; -1: auto
	int64_t queue_ms;        // auto: the work queued per slot, in ms
	int64_t queue_max;       // auto: the most tasks queued beyond the slots
	int64_t max_graph_tasks; // tasks in one graph
	int64_t max_graphs;      // graphs a session holds
	int64_t max_waits;       // wait requests parked per session
	int64_t kill_timeout_ms; // a cancelled task still running is killed then
	int64_t shm_threshold;   // bytes: larger values go through shared memory; 0: never
} osc_task_settings_t;

int osc_task_settings(const oscar_settings_t *s, osc_task_settings_t *out, oscar_error_t *err);

#endif // OSCAR_TASK_INT_H
