// Oscar-C local clusters: a supervisor and workers as real processes on
// this machine, started and stopped by one call each. `oscar local` and
// `make run` are built on it; a program can use it for a throwaway cluster.
//
//     oscar_local_config_t cfg;
//     oscar_local_config_init(&cfg);
//     cfg.workers = 2;
//     oscar_local_t *lc;
//     if (oscar_local_start(&lc, &cfg, &err) == 0) {
//             printf("%s\n", oscar_local_address(lc));
//             ...
//             oscar_local_stop(&lc);
//     }
//
// The processes are children of the calling process, each in a process
// group of its own (a Ctrl-C at the terminal reaches only the caller, which
// then stops them in order), and each dies with the thread that started it
// (PR_SET_PDEATHSIG): start and stop a cluster from a thread that outlives
// it, such as the main thread. They are reaped with waitpid() by pid, so
// the caller must not ignore SIGCHLD nor reap every child itself.
#ifndef OSCAR_LOCAL_H
#define OSCAR_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "oscar/actor.h"
#include "oscar/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oscar_local_config {
	unsigned workers;   // worker processes (default 1)
	unsigned sub_pools; // sub pools per worker (default 0)
	// host is where every process listens, as tcp://host:0 (default
	// "127.0.0.1").
	const char *host;
	// modules (NULL terminated, may be NULL) are loaded by every process.
	const char *const *modules;
	// config_file, if given, is passed to every process (--config).
	const char *config_file;
	// secret_file, if given, names the cluster secret: every process
	// reads it (--secret-file), and so does the pool that waits for the
	// cluster to be ready. A program's own client pool needs it too.
	const char *secret_file;
	// log_level for the processes (default "warn").
	const char *log_level;
	// program, if given, is the one program every node runs instead of
	// oscar-supervisor and oscar-worker (bin_dir is then unused): it is
	// started with the same flags and OSCAR_NODE_ROLE=supervisor or
	// OSCAR_NODE_ROLE=worker in its environment, and must run
	// oscar_node_main with that role (oscar_session_main does; it is how
	// a program's own task functions run on a local cluster).
	const char *program;
	// bin_dir holds oscar-supervisor and oscar-worker. NULL: the
	// environment variable OSCAR_BIN_DIR, else the directory of this
	// program, else the installed bin directory.
	const char *bin_dir;
	// extra_args (NULL terminated, may be NULL) are added to every
	// process's command line, such as "--heartbeat-interval=200ms".
	const char *const *extra_args;
	// min_workers: the start returns once this many workers are ready
	// (default, and when 0: all of them; at most workers). The others
	// go on starting.
	unsigned min_workers;
	// timeout_ms bounds the start (min_workers registered and ready)
	// and each stage of the stop: the workers, then the supervisor
	// (default, and when 0: 30000).
	int64_t timeout_ms;
	// show_output sends the processes' standard error to this process's
	// own (default false: to a file in a temporary directory, removed by
	// oscar_local_stop, whose last lines errors quote). Their standard
	// output goes to another file there either way.
	bool show_output;
	// cancelled, if given, is asked with cancel_arg between the waits of
	// oscar_local_start (every 10 to 200 ms); when it returns true, the
	// start gives up with OSCAR_ECANCELED and stops what it started. A
	// program that blocks SIGINT to take it later can check for a pending
	// one here, so that a Ctrl-C during a slow start is not ignored.
	bool (*cancelled)(void *cancel_arg);
	void *cancel_arg;
} oscar_local_config_t;

// oscar_local_config_init fills cfg with the defaults.
void oscar_local_config_init(oscar_local_config_t *cfg);

typedef struct oscar_local oscar_local_t;

// oscar_local_start starts the supervisor, reads its address, starts the
// workers and waits until all are ready. On success *lcp owns the cluster;
// stop it with oscar_local_stop. On failure everything started is stopped
// and reaped, and err says what failed (with the process's last lines of
// output when one exited): OSCAR_EINVAL for a bad configuration,
// OSCAR_ENOENT when the programs cannot be found, OSCAR_ESYSTEM when a
// process could not start or exited, OSCAR_ETIMEDOUT when timeout_ms
// passed first.
int oscar_local_start(oscar_local_t **lcp, const oscar_local_config_t *cfg, oscar_error_t *err);

// oscar_local_address gives the supervisor's address (owned by lc).
const char *oscar_local_address(const oscar_local_t *lc);

// oscar_local_worker_pid gives worker i's process id, or -1.
int64_t oscar_local_worker_pid(const oscar_local_t *lc, unsigned i);

// oscar_local_wait waits up to timeout_ms (0: only looks) for news of the
// processes: OSCAR_ETIMEDOUT when there is none. 0 when the supervisor has
// exited with status 0, as it does when someone stops the cluster
// (oscar_cluster_stop, `oscar stop`); OSCAR_ESYSTEM when it has exited
// otherwise; OSCAR_EPEERGONE when a worker has died or exited with a
// status other than 0 (each such worker is told once; the cluster goes on
// without it). err (may be NULL) says which process and how it ended.
// oscar_local_stop is still needed afterwards in every case.
int oscar_local_wait(oscar_local_t *lc, int64_t timeout_ms, oscar_error_t *err);

// oscar_local_stop stops the workers (SIGTERM: each deregisters and stops
// its sub pools), then the supervisor, waits for each (SIGKILL to its
// whole process group past the deadline), reaps them all, removes the
// temporary directory, frees lc and clears *lcp. Returns 0 when every
// process exited with status 0, OSCAR_ETIMEDOUT when one had to be killed,
// OSCAR_ESYSTEM when one exited otherwise. NULL and *lcp == NULL are
// allowed.
int oscar_local_stop(oscar_local_t **lcp);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_LOCAL_H
