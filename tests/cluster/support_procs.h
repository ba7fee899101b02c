// Running the real programs from a test: oscar-supervisor, oscar-worker,
// oscar and the greeter client, each a child process of the test, with
// its output in files of the test's own temporary directory.
//
// Every process a test starts is recorded, and procs_teardown (the
// suite's fini hook, which Criterion runs even after a failed assertion)
// kills and reaps whatever is still running, orphans included: the test
// process is a child subreaper, so a node's sub pools that outlive their
// node come back to it instead of to init. Each child also dies with the
// test process (PR_SET_PDEATHSIG), which covers a test killed for its
// timeout, when no fini runs.
#ifndef TEST_CLUSTER_SUPPORT_PROCS_H
#define TEST_CLUSTER_SUPPORT_PROCS_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oscar/oscar.h"
#include "tests/common/proc.h"

// DEADLINE_MS bounds every wait of these tests. It is a bound, not an
// expectation: things take milliseconds, and only a failing test waits
// this long. The sanitizer build runs everything several times slower.
#ifdef OSCAR_TEST_SANITIZE
#define DEADLINE_MS 60000
#else
#define DEADLINE_MS 20000
#endif

typedef struct proc {
	char  name[32]; // names its output files and its messages
	pid_t pid;
	bool  reaped;
	int   status;        // its wait status, once reaped
	int   code;          // its exit status, once it has exited (-1 before)
	char  out[PATH_MAX]; // its standard output
	char  err[PATH_MAX]; // its standard error
} proc_t;

// procs_setup makes the test's temporary directory and makes the test
// process a child subreaper. Use it as the suite's init hook.
void procs_setup(void);

// procs_teardown kills (SIGKILL, to each process group) and reaps every
// process still running, adopted orphans too, closes the clients opened
// by procs_client, and removes the temporary directory (kept, and named on
// standard error, when the environment has OSCAR_TEST_KEEP=1). The
// suite's fini.
void procs_teardown(void);

// procs_path writes the path of name in the test's temporary directory
// into buf.
void procs_path(char *buf, size_t size, const char *name);

// proc_start starts prog with the NULL-terminated arguments that follow
// (argv[0] is prog), its standard output and error going to name.out and
// name.err in the temporary directory, its input from /dev/null. It runs
// in a process group of its own (so that its sub pools can be killed with
// it) and dies with the test process.
proc_t *proc_start(const char *name, const char *prog, ...);
proc_t *proc_startv(const char *name, const char *const *argv);

// proc_wait_address waits until the node p writes its address file path
// (its --address-file) and returns the address it holds, without the
// newline, in addr. Fails the test, quoting p's standard error, when p
// exits first or the deadline passes.
void proc_wait_address(proc_t *p, const char *path, char *addr, size_t size);

// proc_node_t is a node started as a process, with its address file and
// the address it wrote there.
typedef struct proc_node {
	proc_t *proc;
	char    addr[OSCAR_ADDR_MAX];
	char    addr_file[PATH_MAX];
} proc_node_t;

// procs_start_node starts, as name, a supervisor (sup NULL) or a worker
// of sup, with --address-file and then the flags that follow (ending with
// NULL), and waits until it has written its address; procs_start_nodev
// takes the flags as a va_list.
proc_node_t procs_start_node(const char *name, const char *sup, ...);
proc_node_t procs_start_nodev(const char *name, const char *sup, va_list ap);

#ifdef OSCAR_TEST_TASKFNS
// procs_start_task_node starts, as name, a supervisor (sup NULL) or a
// worker of sup that loads the example task functions and runs sub_pools
// task slots, and waits until it has written its address.
proc_node_t procs_start_task_node(const char *name, const char *sup, unsigned sub_pools);
#endif

// proc_wait_output waits until p's standard output (err false) or error
// (err true) holds needle. Fails the test when the deadline passes; p
// exiting first is fine (its output is complete then).
void proc_wait_output(proc_t *p, bool err, const char *needle);

// proc_output reads p's standard output or error so far (malloc'd).
char *proc_output(const proc_t *p, bool err);

// proc_output_has tells whether p's standard output or error so far
// holds needle.
bool proc_output_has(const proc_t *p, bool err, const char *needle);

// proc_tail gives the last part of p's standard error, for messages (a
// static buffer, overwritten by the next call).
const char *proc_tail(const proc_t *p);

// proc_running tells whether p has not exited yet (reaping it if it has).
bool proc_running(proc_t *p);

// proc_signal sends sig to p.
void proc_signal(proc_t *p, int sig);

// proc_sigkill kills p alone with SIGKILL (not its process group: what it
// started must die with it by itself) and reaps it.
void proc_sigkill(proc_t *p);

// proc_wait_exit waits up to the deadline for p to exit and returns its
// exit status. A process that is still running then is killed, and the
// test fails; one killed by a signal fails the test too.
int proc_wait_exit(proc_t *p);

// proc_run starts prog with the arguments that follow and waits for it to
// exit (proc_wait_exit): p->code is its exit status, and its output is in
// p->out and p->err.
proc_t *proc_run(const char *name, const char *prog, ...);

// proc_children lists the children of process pid (at most max of them)
// and returns how many there are.
size_t proc_children(pid_t pid, pid_t *pids, size_t max);

// procs_assert_no_orphans fails the test when a process that the test did
// not start has become its child: something a node started (a sub pool)
// outlived it. Orphans found are killed and reaped first.
void procs_assert_no_orphans(void);

// procs_now_ms reads the monotonic clock, in milliseconds.
int64_t procs_now_ms(void);

// file_write writes text to path, creating or replacing it.
void file_write(const char *path, const char *text);

// file_exists tells whether path exists.
bool file_exists(const char *path);

// procs_client gives a cluster handle on the supervisor at address,
// through a pool of the test process at tcp://127.0.0.1:0 (replies need
// an address to come back to). procs_teardown frees both.
oscar_cluster_t *procs_client(const char *address);
oscar_pool_t    *procs_client_pool(void);

#endif
