// The graph engine: the core of one session's task manager, on the
// supervisor (docs/services/task.md).
//
// It holds the session's graphs and their tasks, checks a graph before
// anything runs, counts each task's unfinished inputs, keeps the ready
// tasks, picks a worker for each, and applies what workers report. It
// knows nothing of actors or of the wire: the caller (the task manager
// actor) tells it about workers and reports, and it hands back, through
// the callbacks of osc_tm_ops_t, the batches of assignments and
// cancellations to send, one per worker per osc_tm_flush.
//
// Threading: none. One engine is used from one thread (its actor's).
// Ownership: strings passed in are copied unless said otherwise; task
// and graph pointers handed out stay valid until the graph is deleted
// (osc_tm_graph_delete) or the engine freed.
#ifndef OSC_TASK_GRAPH_H
#define OSC_TASK_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"
#include "oscar/task.h"
#include "oscar/value.h"

typedef struct osc_tm        osc_tm_t;
typedef struct osc_tm_graph  osc_tm_graph_t;
typedef struct osc_tm_task   osc_tm_task_t;
typedef struct osc_tm_waiter osc_tm_waiter_t;

// osc_task_state_t: the states of a task, in the order it goes through
// them. DONE, FAILED and CANCELLED are final.
typedef enum osc_task_state {
	OSC_TASK_PENDING = 0, // waits for inputs
	OSC_TASK_READY,       // inputs there, waits for a worker with room
	OSC_TASK_ASSIGNED,    // given to a worker, not started
	OSC_TASK_RUNNING,     // started in a slot
	OSC_TASK_DONE,
	OSC_TASK_FAILED,
	OSC_TASK_CANCELLED,
	OSC_TASK_NSTATES
} osc_task_state_t;

// osc_task_state_name gives "pending", "ready", ...
const char *osc_task_state_name(osc_task_state_t s);

typedef enum osc_graph_status {
	OSC_GRAPH_RUNNING = 0,
	OSC_GRAPH_DONE,
	OSC_GRAPH_FAILED,
	OSC_GRAPH_CANCELLED,
} osc_graph_status_t;

// osc_graph_status_name gives "running", "done", "failed", "cancelled".
const char *osc_graph_status_name(osc_graph_status_t s);

// OSC_TM_WHOLE as an input's index names the object itself: the only
// output of a task with n_output 1, or a stored object.
#define OSC_TM_WHOLE (-1)

// osc_tm_input_t is one reference in a task's arguments: output #index
// of the task (or stored object) key. osc_tm_ref_parse makes one from a
// reference's key.
typedef struct osc_tm_input {
	const char *key;
	int         index;
} osc_tm_input_t;

// osc_tm_ref_parse splits an object key as it appears in a reference,
// "key" or "key#i", into an input: *keyp and *lenp give the task's key
// within ref (borrowed), *index the output (OSC_TM_WHOLE without "#i").
// OSCAR_EINVAL for an empty key or a bad output number.
int osc_tm_ref_parse(const char *ref, size_t *lenp, int *index);

// osc_tm_inputs_from_args lists the object references (OSCAR_REF) found
// anywhere in args (nested in arrays and maps, keys included), in order,
// as inputs with their keys copied: a reference to output i of task k
// gives {k, i}; a reference to a whole object named "k" or "k#i" is
// split by osc_tm_ref_parse. *inputs (NULL when there are none) is freed
// with osc_tm_inputs_free. At most max references (OSCAR_EINVAL beyond);
// OSCAR_EINVAL for a reference that names no task output (an empty key,
// a key of OSCAR_TASK_KEY_MAX bytes or more, a bad output number) or
// nesting deeper than OSCAR_VALUE_MAX_DEPTH, OSCAR_ENOMEM. On failure
// *inputs is NULL and *n 0.
int osc_tm_inputs_from_args(
    const oscar_value_t *args, size_t max, osc_tm_input_t **inputs, size_t *n);
void osc_tm_inputs_free(osc_tm_input_t *inputs, size_t n);

// osc_tm_spec_t is one task of a submitted graph. Strings and inputs are
// borrowed for the call; args (may be NULL) is taken by a successful
// osc_tm_submit.
typedef struct osc_tm_spec {
	const char           *key;
	const char           *fn;
	oscar_value_t        *args;
	unsigned              n_output;
	bool                  pure;
	const osc_tm_input_t *inputs;
	size_t                n_inputs;
	// want: the submitter wants the outputs' values back when the graph
	// ends (osc_tm_graph_outputs): the worker sends them with its
	// finished report when they are small (osc_tm_task_want), and the
	// engine keeps them, within OSC_TM_HELD_MAX bytes in all, until the
	// graph is deleted.
	bool want;
} osc_tm_spec_t;

// osc_tm_error_t is why a graph failed: the first task's error.
typedef struct osc_tm_error {
	int  code;   // 0: no error
	int  signal; // the slot's exit signal for a crash, else 0
	char message[OSCAR_ERRMSG_MAX];
	char key[OSCAR_TASK_KEY_MAX];
	char fn[OSCAR_NAME_MAX];
	char worker[OSCAR_ADDR_MAX];
} osc_tm_error_t;

// osc_tm_info_t is what osc_tm_graph_info tells.
typedef struct osc_tm_info {
	osc_graph_status_t status;
	size_t             n_tasks;
	size_t             counts[OSC_TASK_NSTATES];
	size_t             reused;   // pure tasks already stored: not run
	size_t             joined;   // pure tasks running for another graph
	double             progress; // finished tasks / tasks
	int64_t            start_ms; // Unix time of the submission
	int64_t            end_ms;   // 0 while running
	osc_tm_error_t     error;
} osc_tm_info_t;

// osc_tm_loc_t says that worker holds bytes of an object.
typedef struct osc_tm_loc {
	const char *worker;
	uint64_t    bytes;
} osc_tm_loc_t;

// osc_tm_ops_t: what the engine asks of its caller. Every callback runs
// on the caller's thread, inside the engine call that needs it, and must
// not call back into the engine (the waiters of osc_tm_wait may).
typedef struct osc_tm_ops {
	// stored tells whether the session stores the object called key (meta).
	bool (*stored)(void *arg, const char *key);
	// locate fills up to max places holding the object called key and
	// returns how many it filled (may be NULL: no locality for stored
	// objects). The worker strings need only last for the call.
	size_t (*locate)(void *arg, const char *key, osc_tm_loc_t *locs, size_t max);
	// assign hands over one batch of tasks for worker (borrowed for the
	// call; read them with osc_tm_task_*).
	void (*assign)(void *arg, const char *worker, osc_tm_task_t *const *tasks, size_t n);
	// cancel asks worker to drop or stop the tasks called keys (borrowed).
	void (*cancel)(void *arg, const char *worker, const char *const *keys, size_t n);
	void *arg;
} osc_tm_ops_t;

// osc_tm_limits_t bounds what submissions may grow. Zero fields take the
// defaults (OSC_TM_DEFAULT_*).
typedef struct osc_tm_limits {
	size_t max_graph_tasks; // tasks in one graph
	size_t max_task_inputs; // references in one task
	size_t max_graphs;      // graphs held (finished ones included)
	// run_ahead: a task assigned to a worker brings along, while the
	// worker has room, the chain behind it: each dependent whose one
	// unfinished input is the task before it (osc_tm_task_after), which
	// the worker runs as soon as that input is stored there. Such a task
	// counts as assigned from then on.
	bool run_ahead;
	// A worker added with queue OSC_TM_QUEUE_AUTO holds, beyond its
	// slots, room for about queue_us microseconds of work per slot, from
	// a moving average of the run times its finished reports give
	// (osc_tm_report_t.us), within [OSC_TM_QUEUE_MIN, queue_max]; with no
	// run time told yet, OSC_TM_QUEUE_MIN. Zero: OSC_TM_DEFAULT_QUEUE_US
	// and OSC_TM_DEFAULT_QUEUE_MAX.
	uint32_t queue_us;
	uint32_t queue_max;
} osc_tm_limits_t;

#define OSC_TM_DEFAULT_GRAPH_TASKS ((size_t) 1 << 20)
#define OSC_TM_DEFAULT_TASK_INPUTS ((size_t) 1 << 16)
#define OSC_TM_DEFAULT_GRAPHS      ((size_t) 4096)
// Bounds on a worker's slots and queue.
#define OSC_TM_SLOTS_MAX 4096
#define OSC_TM_QUEUE_MAX 65536
// The queue of a worker sized from its tasks' run times (limits.queue_us).
#define OSC_TM_QUEUE_AUTO        UINT32_MAX
#define OSC_TM_QUEUE_MIN         2
#define OSC_TM_DEFAULT_QUEUE_US  5000
#define OSC_TM_DEFAULT_QUEUE_MAX 1024
// Outputs sent back with a finished report (spec.want): each output at
// most OSC_TM_INLINE_MAX bytes (its size as stored), and at most
// OSC_TM_HELD_MAX bytes held by one engine at once; beyond, the engine
// keeps only where the outputs are.
#define OSC_TM_INLINE_MAX ((uint64_t) 4096)
#define OSC_TM_HELD_MAX   ((uint64_t) 16 << 20)

// osc_tm_new makes an engine with ops (copied; assign and cancel are
// required, stored too) and limits (NULL: the defaults).
int osc_tm_new(osc_tm_t **tmp, const osc_tm_ops_t *ops, const osc_tm_limits_t *limits);
// osc_tm_free releases the engine, its graphs and their tasks, without
// telling waiters (whose waiter structs the caller still owns).
void osc_tm_free(osc_tm_t **tmp);

// ---------------------------------------------------------------------------
// Workers

// osc_tm_worker_add makes a worker known: its address (unique), slots
// (1 to OSC_TM_SLOTS_MAX) and how many tasks beyond them it may queue (0
// to OSC_TM_QUEUE_MAX, or OSC_TM_QUEUE_AUTO: sized from the run times
// it reports, see osc_tm_limits_t), and the functions it offers (names,
// copied). It
// then gets the ready tasks it can take. OSCAR_EINVAL, OSCAR_EEXIST,
// OSCAR_ENOMEM.
int osc_tm_worker_add(osc_tm_t *tm, const char *addr, unsigned slots, unsigned queue,
    const char *const *fns, size_t n_fns, oscar_error_t *err);

// osc_tm_worker_lost forgets a worker that is gone: its tasks assigned
// and not started go back to the ready tasks, those running fail with
// OSCAR_EPEERGONE naming the worker, and ready tasks whose function no
// worker offers any more fail. OSCAR_ENOENT for an unknown worker.
int osc_tm_worker_lost(osc_tm_t *tm, const char *addr);

// osc_tm_worker_lend changes by delta how many slots worker lends: a
// task that waits for work it submitted (nested submission) does not
// count as busy, so the worker takes one more task per waiting task
// (delta +1, then -1 when the wait ends; never below 0). Growing it gives
// the worker the ready tasks it can now take. OSCAR_ENOENT for an unknown
// worker.
int osc_tm_worker_lend(osc_tm_t *tm, const char *addr, int delta);

// osc_tm_worker_load tells how many tasks worker holds (assigned and
// running) and how many of them run. OSCAR_ENOENT for an unknown worker.
int osc_tm_worker_load(const osc_tm_t *tm, const char *addr, unsigned *held, unsigned *running);

// osc_tm_worker_queue tells how many tasks beyond its slots worker may
// hold now (its fixed queue, or its automatic one as sized so far).
// OSCAR_ENOENT for an unknown worker.
int osc_tm_worker_queue(const osc_tm_t *tm, const char *addr, unsigned *queue);

// ---------------------------------------------------------------------------
// Graphs

// osc_tm_submit checks a graph of n tasks and starts it under id (1 to
// 127 bytes, unique in the engine). On success *gp is the graph and every
// spec's args is taken. On failure nothing changed, the specs are the
// caller's, and err names the task at fault: OSCAR_EINVAL (a bad spec, a
// bad output index, a cycle, a limit), OSCAR_EEXIST (a duplicate key, or
// an impure task whose key is in use), OSCAR_ENOENT (a function no worker
// offers, a reference to a key neither in the graph nor stored),
// OSCAR_ENOMEM.
int osc_tm_submit(osc_tm_t *tm, const char *id, osc_tm_spec_t *specs, size_t n, osc_tm_graph_t **gp,
    oscar_error_t *err);

// osc_tm_lookups calls fn(arg, key) for each object key that submitting
// specs may ask ops.stored about (perhaps more than once): every output
// of a pure task that is not running, and every reference to a key that
// is neither in the graph nor running. A task manager whose meta answers
// asynchronously asks for these in one batch, then submits with a stored
// callback that answers from the batch. Malformed specs are passed over
// (osc_tm_submit reports them). Returns 0, what fn returned to stop the
// walk, OSCAR_EINVAL or OSCAR_ENOMEM.
int osc_tm_lookups(const osc_tm_t *tm, const osc_tm_spec_t *specs, size_t n,
    int (*fn)(void *arg, const char *key), void *arg);

// osc_tm_graph_find gives the graph called id, or NULL.
osc_tm_graph_t *osc_tm_graph_find(const osc_tm_t *tm, const char *id);
// osc_tm_graph_next walks the graphs in submission order: start with
// prev NULL; NULL at the end.
osc_tm_graph_t *osc_tm_graph_next(const osc_tm_t *tm, const osc_tm_graph_t *prev);
const char     *osc_tm_graph_id(const osc_tm_graph_t *g);
void            osc_tm_graph_info(const osc_tm_graph_t *g, osc_tm_info_t *info);

// osc_tm_graph_task gives the task of g called key (NULL if none); the
// first call indexes g's tasks. osc_tm_task_state gives a task's state.
osc_tm_task_t   *osc_tm_graph_task(osc_tm_graph_t *g, const char *key);
osc_task_state_t osc_tm_task_state(const osc_tm_task_t *t);

// osc_tm_cancel stops a running graph: its tasks that no other running
// graph shares are cancelled (workers holding them are asked to drop or
// stop them), the others are left to those graphs, and the graph ends,
// cancelled. A no-op on a finished graph.
void osc_tm_cancel(osc_tm_t *tm, osc_tm_graph_t *g);

// osc_tm_graph_delete cancels g if it runs and forgets it; g is invalid
// afterwards. Its waiters are called first (it ends, cancelled).
void osc_tm_graph_delete(osc_tm_t *tm, osc_tm_graph_t *g);

// osc_tm_waiter_t is a wait on a graph's end, owned by the caller (who
// may embed it), linked into the graph by osc_tm_wait.
typedef void (*osc_tm_wait_cb)(void *arg, osc_tm_graph_t *g);
struct osc_tm_waiter {
	osc_tm_wait_cb   cb;
	void            *arg;
	osc_tm_graph_t  *graph;
	osc_tm_waiter_t *prev, *next;
};

// osc_tm_wait calls cb(arg, g) once g ends: later, from the engine call
// that ends it (after the engine's state is consistent, so cb may call
// the engine), or at once if g has ended already. w must stay valid until
// then or until osc_tm_unwait.
void osc_tm_wait(osc_tm_graph_t *g, osc_tm_waiter_t *w, osc_tm_wait_cb cb, void *arg);
// osc_tm_unwait takes back a wait that has not fired (a timeout, say); a
// no-op for one that fired.
void osc_tm_unwait(osc_tm_waiter_t *w);

// ---------------------------------------------------------------------------
// What workers report, and what goes out to them

typedef enum osc_tm_report_kind {
	OSC_TM_STARTED = 0,
	OSC_TM_FINISHED,
	OSC_TM_ERRORED,
} osc_tm_report_kind_t;

// osc_tm_report_t is one task's news from its worker. Borrowed.
typedef struct osc_tm_report {
	const char          *key;
	osc_tm_report_kind_t kind;
	// FINISHED: the size in bytes of each output (n_output of them).
	const uint64_t *sizes;
	size_t          n_sizes;
	// FINISHED, may be NULL: the outputs' values (an array of n_output),
	// sent for a task the submitter wants back; the engine keeps a copy
	// when each is at most OSC_TM_INLINE_MAX bytes and OSC_TM_HELD_MAX
	// allows.
	const oscar_value_t *values;
	// FINISHED, when timed: how long the task ran in its slot, in
	// microseconds (sizes the queue of a worker added with
	// OSC_TM_QUEUE_AUTO).
	bool     timed;
	uint64_t us;
	// ERRORED: the error, and the slot's exit signal for a crash.
	int         code;
	int         signal;
	const char *message;
} osc_tm_report_t;

// osc_tm_report applies a batch of reports from worker. News of tasks
// the worker does not hold (cancelled and dropped already, or from
// before a loss) is ignored; a finished task whose sizes do not match
// its n_output fails with OSCAR_EPROTO, an error report with code 0 is
// OSCAR_EAPP. Returns OSCAR_ENOENT for an unknown worker, OSCAR_EINVAL
// for no reports (nothing applied either way), else 0.
int osc_tm_report(osc_tm_t *tm, const char *worker, const osc_tm_report_t *r, size_t n);

// osc_tm_flush hands out, through ops.assign and ops.cancel, every
// worker's batch gathered since the last flush: call it once per loop
// turn, after the reports of that turn.
void osc_tm_flush(osc_tm_t *tm);

// Task accessors, for the assign callback. The strings and args are
// borrowed: valid while the task is held.
const char          *osc_tm_task_key(const osc_tm_task_t *t);
const char          *osc_tm_task_fn(const osc_tm_task_t *t);
const oscar_value_t *osc_tm_task_args(const osc_tm_task_t *t);
unsigned             osc_tm_task_n_output(const osc_tm_task_t *t);
// osc_tm_task_after gives, in the assign callback, the key of the task
// that t runs ahead behind on the same worker (sent in an earlier batch
// or earlier in this one), or NULL: the worker runs t once that task's
// output is stored there, and drops it if that task fails.
const char *osc_tm_task_after(const osc_tm_task_t *t);
// osc_tm_task_worker gives the worker that holds t ("" if none).
const char *osc_tm_task_worker(const osc_tm_task_t *t);
// osc_tm_task_want tells whether t's submitter wants its outputs back
// (osc_tm_spec_t.want): its worker sends the small ones with its report.
bool osc_tm_task_want(const osc_tm_task_t *t);

// osc_tm_output_cb is told, for one task of a graph whose outputs the
// submitter wants, the worker that holds them (NULL when unknown: the
// task was reused, or its worker is gone) and their values, an array of
// n_output (NULL when not kept), with bytes, what they count against
// OSC_TM_HELD_MAX. Borrowed for the call.
typedef int (*osc_tm_output_cb)(void *arg, const char *key, unsigned n_output, const char *worker,
    const oscar_value_t *values, uint64_t bytes);

// osc_tm_graph_outputs calls cb for each task of g that is done and
// wanted, in submission order; a non-zero return stops the walk and is
// returned.
int osc_tm_graph_outputs(
    const osc_tm_t *tm, const osc_tm_graph_t *g, osc_tm_output_cb cb, void *arg);

#endif // OSC_TASK_GRAPH_H
