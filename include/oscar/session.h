// Oscar-C client API: sessions, spawned objects and futures.
//
// What a C program uses to run work on a cluster, as a Mars or Dask user
// does in Python (docs/client.md walks through it). A session is a
// client's handle on one session of a cluster: a pool of the program's
// own, the supervisor's address and the session's id there. Work is calls
// to task functions by name (include/oscar/task.h), as objects:
//
//     oscar_object_t *o;
//     oscar_spawn(NULL, "inc", args, NULL, &o, &err);   // lazy: nothing runs
//     oscar_execute(NULL, &o, 1, NULL, &err);             // one graph submit
//     oscar_value_t *v;
//     oscar_fetch(NULL, &o, 1, NULL, &v, &err);           // from its worker
//     oscar_object_free(&o);                              // released there
//
// or as futures, submitted at once (seed 003):
//
//     oscar_future_t *f;
//     oscar_future_submit(NULL, "inc", args, NULL, &f, &err);
//     oscar_future_result(f, 5000, &v, &err);
//
// A NULL session is the default session: the one made default with
// oscar_session_set_default, else a local cluster started for the program
// on first use (oscar_session_default) and stopped when it is closed or the
// program exits. The default session is the one piece of process-wide
// state of the library, as a program has one "current" session.
//
// Objects and futures are one type: a future is an object executed when
// it is made. An object belongs to its session: using it with another
// session fails with OSCAR_EINVAL, and so does passing it as an argument
// of another session's call. Every call is synchronous, takes a deadline
// where it talks to the cluster, and fills err (may be NULL) on failure.
// Sessions and their objects may be used from several threads.
#ifndef OSCAR_SESSION_H
#define OSCAR_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/actor.h"
#include "oscar/error.h"
#include "oscar/storage.h"
#include "oscar/task.h"
#include "oscar/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oscar_session oscar_session_t;
typedef struct oscar_object  oscar_object_t;
// oscar_future_t is an object executed when it was made.
typedef struct oscar_object oscar_future_t;

// ---------------------------------------------------------------------------
// The program's own task functions

// oscar_session_setup_fn registers the program's task functions in fns.
typedef int (*oscar_session_setup_fn)(oscar_taskfns_t *fns, oscar_error_t *err);

// oscar_session_main is the first line of a program's main() that defines
// its own task functions:
//
//     int main(int argc, char **argv)
//     {
//             int rc = oscar_session_main(argc, argv, setup);
//             if (rc >= 0) {
//                     return (rc);
//             }
//             ... the program itself ...
//
// The local clusters a session starts run their supervisor and workers as
// this very program (a re-execution of it, told its role through the
// environment), and their task slots as its sub pools: in those
// processes, oscar_session_main runs the node (or sub pool) with the
// functions setup registers and returns its exit status. In the program
// itself it registers nothing and returns -1 at once. setup may be NULL
// (no functions of its own). A program that does not call it gets local
// clusters of the installed oscar-supervisor and oscar-worker, which offer
// the functions of the modules it names (oscar_session_config_t.modules).
int oscar_session_main(int argc, char **argv, oscar_session_setup_fn setup);

// ---------------------------------------------------------------------------
// Sessions

typedef struct oscar_session_config {
	// timeout_ms bounds each call to the cluster and the start and stop
	// of a local cluster (default, and when 0: 30000).
	int64_t timeout_ms;
	// secret_file names the cluster's shared secret, when it has one.
	const char *secret_file;
	// TLS files of the client's pool, for a tls+tcp:// cluster (see
	// oscar_pool_config_t).
	const char *tls_cert_file;
	const char *tls_key_file;
	const char *tls_ca_file;

	// The local cluster (oscar_session_new_local and the default session).
	unsigned workers;     // worker processes (default 1)
	unsigned slots;       // task slots (sub pools) per worker (default 2)
	unsigned cores;       // cores each worker offers (0: the machine's)
	uint64_t memory;      // bytes each worker offers (0: the machine's)
	unsigned min_workers; // return once this many are ready (0: all)
	// modules (NULL terminated, may be NULL) are loaded by every node.
	const char *const *modules;
	// bin_dir holds oscar-supervisor and oscar-worker, for a program
	// that did not call oscar_session_main (see oscar_local_config_t).
	const char *bin_dir;
	// extra_args (NULL terminated, may be NULL) are added to every node's
	// command line.
	const char *const *extra_args;
	// show_output sends the nodes' standard error to ours.
	bool show_output;
} oscar_session_config_t;

// oscar_session_config_init fills cfg with the defaults.
void oscar_session_config_init(oscar_session_config_t *cfg);

// oscar_session_open opens a new session on the running cluster whose
// supervisor is at address (tcp://, ipc:// or tls+tcp://): it opens the
// program's own pool, creates a session there with a generated id and
// gives the handle in *sp. cfg may be NULL (the defaults).
// OSCAR_EADDRINVAL for a bad address; the call's errors when the
// supervisor cannot be reached.
int oscar_session_open(oscar_session_t **sp, const char *address, const oscar_session_config_t *cfg,
    oscar_error_t *err);

// oscar_session_new_local starts a local cluster (seed 002: cfg's
// workers, each with cfg's cores, memory and slots), waits until at least
// min_workers of them are ready (or fails saying how many were), and opens
// a session on it. The session owns the cluster: oscar_session_close
// stops it. Errors are oscar_local_start's.
int oscar_session_new_local(
    oscar_session_t **sp, const oscar_session_config_t *cfg, oscar_error_t *err);

// oscar_session_default gives the default session in *sp (borrowed: do
// not close it unless you mean to end it for everyone): the one set with
// oscar_session_set_default, else a local cluster with the defaults of
// oscar_session_config_init, started on first use and stopped by
// oscar_session_close or at exit.
int oscar_session_default(oscar_session_t **sp, oscar_error_t *err);

// oscar_session_set_default makes s the default session (NULL: none; the
// next use starts a local one). The default session it replaces stays
// open; it is still its opener's to close.
void oscar_session_set_default(oscar_session_t *s);

// oscar_session_close deletes the session on the cluster (every object
// it holds there is released), stops the local cluster it owns, closes
// its pool and clears *sp. Objects of the session that are still held
// stay valid to free, and fail every other call with OSCAR_ECLOSED.
// Returns 0, or the first error met on the way (everything is released
// anyway). NULL and *sp == NULL are allowed.
int oscar_session_close(oscar_session_t **sp, oscar_error_t *err);

// The session's supervisor address (its endpoint), id on the cluster and
// pool, for the typed service APIs (cluster.h, sessions.h, graph.h, meta.h,
// storage.h): all owned by the session. oscar_session_local_pid gives the
// pid of worker i of the local cluster the session owns, or -1.
const char   *oscar_session_address(const oscar_session_t *s);
const char   *oscar_session_id(const oscar_session_t *s);
oscar_pool_t *oscar_session_pool(oscar_session_t *s);
int64_t       oscar_session_local_pid(const oscar_session_t *s, unsigned i);

// ---------------------------------------------------------------------------
// Spawned objects (seed 001)

typedef struct oscar_spawn_opts {
	unsigned n_output; // outputs, each its own object (0 means 1)
	// pure calls have a key derived from the call alone (the function's
	// name and the canonical encoding of its arguments): the same call
	// gives the same key in any program, and a stored result is reused.
	// Impure ones get a random key. Spawns default to impure, futures to
	// pure.
	bool pure;
} oscar_spawn_opts_t;

// oscar_spawn makes opts->n_output objects (outs[0..n_output), the
// caller's) for a call of the task function fn with args (consumed in
// every case; NULL: no arguments; an array of positional arguments by
// convention). args may hold references to other objects of the session
// (oscar_object_ref) anywhere, in nested arrays and maps. Nothing runs
// until the object, or one that depends on it, is executed. OSCAR_EINVAL
// for a bad function name or n_output, or a reference to an object that
// is not one of the session's; OSCAR_ECLOSED for a closed session.
int oscar_spawn(oscar_session_t *s, const char *fn, oscar_value_t *args,
    const oscar_spawn_opts_t *opts, oscar_object_t **outs, oscar_error_t *err);

// oscar_object_ref gives a new reference value to o, to put in the
// arguments of another call (NULL when out of memory).
oscar_value_t *oscar_object_ref(const oscar_object_t *o);

// oscar_object_key gives o's key on the cluster ("k", or "k#i" for output
// i of a call with several); owned by o.
const char *oscar_object_key(const oscar_object_t *o);

// oscar_object_session gives the session o belongs to.
oscar_session_t *oscar_object_session(const oscar_object_t *o);

// oscar_object_free releases o and clears *op. Once no object of the
// session refers to a call's outputs any more, nor any call that still
// needs them, they are released on the cluster (lifecycle decref), and
// its workers delete them. NULL and *op == NULL are allowed.
void oscar_object_free(oscar_object_t **op);

// oscar_progress_cb is told the fraction of the tasks done (0 to 1)
// while an execution is waited for.
typedef void (*oscar_progress_cb)(void *arg, double fraction);

typedef struct oscar_exec_opts {
	// timeout_ms bounds the wait (0: the session's timeout; -1: no bound
	// but the death of the cluster). On OSCAR_ETIMEDOUT the work goes on.
	int64_t           timeout_ms;
	oscar_progress_cb progress; // may be NULL
	void             *progress_arg;
	// progress_bar draws a bar on standard error while waiting: redrawn
	// in place on a terminal, a line per tenth otherwise.
	bool progress_bar;
} oscar_exec_opts_t;

// oscar_execute runs objs[0..n) and every object they depend on that has
// not run yet, as one graph (one submit), and waits for them (opts may be
// NULL). s may be NULL: the objects' session; a session given must be
// theirs. A task that failed fails the call with its code and a message
// naming the task, its function and the worker it ran on (the graph's
// first error). OSCAR_ETIMEDOUT leaves the work running: wait again with
// oscar_wait. OSCAR_EPEERGONE when the cluster went away meanwhile.
int oscar_execute(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_exec_opts_t *opts, oscar_error_t *err);

// oscar_execute_start submits what oscar_execute would, without waiting.
int oscar_execute_start(
    oscar_session_t *s, oscar_object_t *const *objs, size_t n, oscar_error_t *err);

// oscar_wait waits for objs[0..n), which must have been executed, as
// oscar_execute does.
int oscar_wait(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_exec_opts_t *opts, oscar_error_t *err);

// oscar_fetch reads the values of objs[0..n), each sliced by slices[i]
// when slices and slices[i] are not NULL, into values[0..n) (the
// caller's), straight from the workers that hold them: one meta lookup,
// then one storage get per worker. Each object must have been executed
// successfully: OSCAR_ESTATE "cannot fetch an object that was never
// executed" otherwise (and the task's error for one whose task failed).
// s as for oscar_execute. On failure no value is given.
int oscar_fetch(oscar_session_t *s, oscar_object_t *const *objs, size_t n,
    const oscar_storage_slice_t *const *slices, oscar_value_t **values, oscar_error_t *err);

// ---------------------------------------------------------------------------
// Futures (seed 003)

// oscar_future_submit submits a call of fn with args (consumed) at once and
// gives its future in *fp. opts NULL: one output, pure (a repeated call
// gets the same key, and the stored result of the first is reused). args
// may hold references to futures and objects of the session.
int oscar_future_submit(oscar_session_t *s, const char *fn, oscar_value_t *args,
    const oscar_spawn_opts_t *opts, oscar_future_t **fp, oscar_error_t *err);

// oscar_future_map submits fn over each item of items (an array,
// consumed), called with the one argument [item], as one graph, and gives
// the futures in futs[0..len(items)) (the caller's).
int oscar_future_map(oscar_session_t *s, const char *fn, oscar_value_t *items,
    const oscar_spawn_opts_t *opts, oscar_future_t **futs, oscar_error_t *err);

// oscar_future_result waits up to timeout_ms (0: the session's) for f and
// gives its value in *value (the caller's). OSCAR_ETIMEDOUT leaves it
// running; a failed task gives its error.
int oscar_future_result(
    oscar_future_t *f, int64_t timeout_ms, oscar_value_t **value, oscar_error_t *err);

// oscar_future_done sets *done to whether f has ended (done, failed or
// cancelled), without waiting.
int oscar_future_done(oscar_future_t *f, bool *done, oscar_error_t *err);

// oscar_future_cancel cancels f's task, and with it the rest of the graph
// it was submitted in (every future of one oscar_future_map). A future
// that has ended is left as it is.
int oscar_future_cancel(oscar_future_t *f, oscar_error_t *err);

// oscar_future_gather waits for futs[0..n) (up to timeout_ms in all; 0:
// the session's) and fetches their values into values[0..n) with one
// storage get per worker.
int oscar_future_gather(oscar_future_t *const *futs, size_t n, int64_t timeout_ms,
    oscar_value_t **values, oscar_error_t *err);

// oscar_future_ref, oscar_future_key and oscar_future_release are
// oscar_object_ref, oscar_object_key and oscar_object_free.
oscar_value_t *oscar_future_ref(const oscar_future_t *f);
const char    *oscar_future_key(const oscar_future_t *f);
void           oscar_future_release(oscar_future_t **fp);

// ---------------------------------------------------------------------------
// Progress bar

// oscar_progress_bar is an oscar_progress_cb that draws on standard error
// (what oscar_exec_opts_t.progress_bar uses); arg is unused.
void oscar_progress_bar(void *arg, double fraction);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_SESSION_H
