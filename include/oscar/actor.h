// Oscar-C actors and pools.
//
// An actor is an instance of a class (a name, a state size, create and
// destroy hooks, a table of methods) living in a pool. A pool runs its own
// libuv loop on its own thread; every hook, handler and reply callback of
// its actors runs on that thread, one at a time. Several pools may live in
// one process. A ref names an actor by value: (pool address, uid).
//
// Two kinds of callers:
//  - host threads (any thread of the embedding program that is not a pool
//    thread) use the synchronous calls oscar_create, oscar_call, ... or the
//    handle-based oscar_call_start / oscar_call_wait;
//  - actors use the asynchronous calls oscar_actor_call, oscar_req_call,
//    ... whose callbacks run later on the actor's own pool thread.
// A synchronous call is the asynchronous one plus a wait: there is a single
// code path behind both.
//
// Ownership rules, stated once:
//  - Arguments (oscar_value_t *args) passed to any call, tell, batch,
//    create or reply function are consumed, whether the function succeeds
//    or fails. Pass NULL for "no arguments".
//  - Replies handed to the caller (oscar_value_t **reply) belong to the
//    caller, who frees them with oscar_value_free.
//  - If a function that takes a callback returns an error, the callback is
//    never called; if it returns 0, the callback is called exactly once.
//  - Every call has a deadline: timeout_ms > 0 sets it, 0 means the pool's
//    default (oscar_pool_config_t.default_timeout_ms), a negative value is
//    OSCAR_EINVAL, and anything above OSCAR_TIMEOUT_MAX_MS (2^40 ms, about
//    35 years) is clamped to it. There is
//    no way to wait forever. A host thread waits at most 20 ms past the
//    deadline even when the pool's thread is stuck (in a hook, say).
//  - Where a function takes oscar_error_t *err (which may be NULL), every
//    failure fills it, so it can always be formatted after a non-zero
//    return.
#ifndef OSCAR_ACTOR_H
#define OSCAR_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oscar/error.h"
#include "oscar/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oscar_pool  oscar_pool_t;
typedef struct oscar_actor oscar_actor_t;
typedef struct oscar_req   oscar_req_t;
typedef struct oscar_call  oscar_call_t;

// oscar_ref_t names an actor by value. It is safe to copy, store and send;
// using a ref whose actor is gone gives OSCAR_ENOACTOR, never a crash.
typedef struct oscar_ref {
	char addr[OSCAR_ADDR_MAX];
	char uid[OSCAR_UID_MAX];
} oscar_ref_t;

// oscar_error_format renders err as one line, such as
// "ENOMETHOD: no such method 'fly' (actor counter-1, method fly,
// at inproc://pool-1 pid 1234)". Returns what snprintf returns.
int oscar_error_format(const oscar_error_t *err, char *buf, size_t size);

// ---------------------------------------------------------------------------
// Classes

// oscar_method_fn handles one request. It returns 0 after replying (or
// deferring), or an error code: then, if it has not replied yet, the caller
// gets that code with the message given to oscar_req_fail or the code's own
// message. Returning 0 without replying or deferring replies nil.
typedef int (*oscar_method_fn)(oscar_actor_t *self, oscar_req_t *req);

typedef struct oscar_method {
	const char     *name;
	oscar_method_fn fn;
	// batch_fn, optional, receives a whole batch at once: its arguments
	// are an array with one item per call, and it must reply with an
	// array of as many results. Without it, a batch is handled as that
	// many calls to fn, in order.
	oscar_method_fn batch_fn;
} oscar_method_t;

enum {
	// OSCAR_CLASS_STATELESS: the actor never holds its mailbox while a
	// deferred request waits, so messages may interleave.
	OSCAR_CLASS_STATELESS = 1u << 0,
	// OSCAR_CLASS_PROTECTED: the actor cannot be destroyed or replaced
	// from another pool; a destroy frame for it, or a create frame that
	// names its uid, fails with OSCAR_EPROTECTED. Its own pool may still
	// destroy it (oscar_destroy, oscar_actor_destroy, oscar_actor_exit),
	// and closing the pool does. Calls and tells are served as usual:
	// what a class lets other pools do is up to its methods.
	OSCAR_CLASS_PROTECTED = 1u << 1,
};

typedef struct oscar_actor_class {
	const char *name;
	size_t      state_size; // bytes of zeroed state, oscar_actor_state()
	// create runs after the actor is set up and before it is visible
	// (Oscar's __post_create__). A non-zero return fails the creation,
	// and the actor is never registered; destroy is not called, and the
	// callbacks of calls the hook made run at once with OSCAR_ECANCELED.
	// oscar_actor_exit has no effect here: fail the hook instead.
	int (*create)(oscar_actor_t *self, const oscar_value_t *args);
	// destroy runs before the actor's memory is released (Oscar's
	// __pre_destroy__), after pending requests were failed.
	void (*destroy)(oscar_actor_t *self);
	// methods ends with an entry whose name is NULL.
	const oscar_method_t *methods;
	unsigned              flags;
} oscar_actor_class_t;

// ---------------------------------------------------------------------------
// Pools

// oscar_recover_t: what a main pool does when one of its sub pools dies.
typedef enum oscar_recover {
	OSCAR_RECOVER_OFF = 0, // nothing: calls to it fail with OSCAR_EPEERGONE
	OSCAR_RECOVER_PROCESS, // start a new, empty process at the same address
	OSCAR_RECOVER_ACTOR,   // and create again the actors it held (their
	                       // create hooks run again)
} oscar_recover_t;

typedef struct oscar_pool_config {
	// address names the pool; NULL gives a generated "inproc://pool-<id>".
	// When it is an NNG URL (inproc://, ipc://, tcp://, tls+tcp://), the pool listens
	// on it, and other pools reach its actors through it; a tcp port 0 is
	// replaced by the port bound, and a wildcard host by this machine's
	// address (see oscar_pool_address).
	const char *address;
	// default_timeout_ms is the deadline of calls that pass 0 (default
	// 30000).
	int64_t default_timeout_ms;
	// mailbox_limit bounds each actor's queued messages (default 65536);
	// beyond it a send fails with OSCAR_EMBOXFULL.
	size_t mailbox_limit;
	// inbox_limit bounds messages posted from other threads and not yet
	// taken by the pool thread (default 65536); beyond it posting fails
	// with OSCAR_EMBOXFULL, which is how a slow pool pushes back.
	size_t inbox_limit;
	// actor_batch is how many messages one actor handles before others
	// get a turn (default 100).
	unsigned actor_batch;
	// max_message is the largest message, in bytes, sent to or accepted
	// from another pool (default 1 GiB); a larger one fails with
	// OSCAR_ETOOLARGE.
	size_t max_message;
	// classes lists the classes other pools may create here by name
	// (oscar_create_by_name), ending with NULL. The array and the classes
	// must outlive the pool.
	const oscar_actor_class_t *const *classes;
	// sub_pools is how many sub pools (child processes) this pool starts
	// and watches; it needs an ipc:// or tcp:// address. Each runs
	// sub_pool_program (default: this program) with sub_pool_argv (NULL
	// terminated; default: none), which must call oscar_subpool_main
	// first. sub_pool_labels, if given, has one label per sub pool.
	unsigned           sub_pools;
	const char *const *sub_pool_labels;
	const char        *sub_pool_program;
	const char *const *sub_pool_argv;
	// sub_pool_env adds "NAME=value" settings (NULL terminated) to the
	// environment of every sub pool; sub_pool_envs, if given, has one such
	// list (or NULL) per sub pool. A setting replaces an inherited variable
	// of the same name, and a per-sub-pool one a sub_pool_env one.
	const char *const        *sub_pool_env;
	const char *const *const *sub_pool_envs;
	// recover says what happens when a sub pool dies.
	oscar_recover_t recover;
	// TLS, for tls+tcp:// addresses (this pool's and its peers'): PEM
	// files of this pool's certificate and key, and of the authority
	// that signs its peers' certificates. With a CA file, peers must
	// present certificates it signed (both ways); without one, traffic
	// is encrypted but peers are not verified.
	const char *tls_cert_file;
	const char *tls_key_file;
	const char *tls_ca_file;
	// context, with context_tag, is what the pool hands to its actors
	// (oscar_pool_context): the object that opened it, a node say. The
	// pool never reads either.
	void       *context;
	const void *context_tag;
	// secret, when secret_len is not 0, is the cluster secret
	// (OSCAR_SECRET_MIN to OSCAR_SECRET_MAX bytes, read with
	// oscar_secret_read): the pool then proves its knowledge of it on
	// every message it sends to other pools, without sending it, and
	// drops (and counts, oscar_pool_stats_t.rejected) every message that
	// does not prove the same, or that it has seen before. Every pool of
	// a cluster, and every client, needs the same secret; its sub pools
	// get it from it. The pool keeps a copy: the bytes need not outlive
	// oscar_pool_open. See docs/security.md.
	const void *secret;
	size_t      secret_len;
	// max_peers bounds the connections this pool opens to other pools
	// (default 256). Past it, opening one more first closes one whose
	// connection went down, with no call pending; when there is none,
	// the call fails with OSCAR_EMBOXFULL (an answer is dropped). Live
	// connections are never closed for a newcomer. The first time the
	// bound is reached, the pool says so on stderr.
	unsigned max_peers;
	// peer_connect_ms: a connection with no call pending that is not up
	// this long after its last use is closed (default 5000): an answer
	// to an address that cannot be reached is dropped, not redialled
	// for ever. peer_idle_ms: a connection with no call pending unused
	// this long is closed (default 60000). Either opens again on the
	// next use.
	int64_t peer_connect_ms;
	int64_t peer_idle_ms;
	// recv_budget bounds the bytes of large messages being received at
	// once, from all connections together (default 2 GiB). A message
	// larger than max_message travels in pieces of 1 MiB, and the pool
	// holds at most twice what has arrived of it (never what its first
	// piece announces), within max_message per connection. A message
	// past either bound is refused: its connection is closed (the
	// sender's calls fail with OSCAR_EPEERGONE), it is counted
	// (oscar_pool_stats_t.refused) and, the first time, said on stderr.
	// A message that stops arriving for peer_idle_ms is dropped.
	size_t recv_budget;
} oscar_pool_config_t;

// Timeouts and delays above this (2^40 ms, about 35 years) are clamped to
// it, so that deadline arithmetic never overflows.
#define OSCAR_TIMEOUT_MAX_MS ((int64_t) 1 << 40)

// Bounds of a cluster secret, in bytes.
#define OSCAR_SECRET_MIN 16
#define OSCAR_SECRET_MAX 1024

// oscar_secret_read reads a cluster secret from the file at path into a
// new buffer, *secretp (*lenp bytes), which the caller releases with
// oscar_secret_free. A line end at the end of the file is not part of the
// secret. Errors, each with err's message naming the file:
// OSCAR_ENOENT (no such file), OSCAR_ESYSTEM (it cannot be read), and
// OSCAR_EINVAL (not a regular file, empty, shorter than OSCAR_SECRET_MIN
// or longer than OSCAR_SECRET_MAX bytes). A file that other users may
// read is accepted with a warning on stderr.
int oscar_secret_read(const char *path, void **secretp, size_t *lenp, oscar_error_t *err);

// oscar_secret_free wipes and frees a secret (len bytes) from
// oscar_secret_read, and clears *secretp. NULL and *secretp == NULL are
// allowed.
void oscar_secret_free(void **secretp, size_t len);

// oscar_pool_config_init fills cfg with the defaults.
void oscar_pool_config_init(oscar_pool_config_t *cfg);

// oscar_pool_open starts a pool and its thread. cfg may be NULL for the
// defaults. On success *poolp owns the pool; release it with
// oscar_pool_free. On failure *poolp is NULL, nothing is left behind, and
// err (may be NULL) says why: its code is the one returned, its message
// the cause ("cannot listen on tcp://...: Address in use", a sub pool that
// could not start, ...), its address and pid the pool's.
int oscar_pool_open(oscar_pool_t **poolp, const oscar_pool_config_t *cfg, oscar_error_t *err);

// oscar_pool_close begins shutting the pool down and returns without
// waiting: every pending call fails with OSCAR_ECLOSED, every actor's
// destroy hook runs, and new calls fail with OSCAR_ECLOSED. Idempotent.
void oscar_pool_close(oscar_pool_t *pool);

// oscar_pool_free closes the pool, waits for its thread to finish, releases
// everything and clears *poolp. NULL and *poolp == NULL are allowed. Called
// from the pool's own thread, it aborts the process (a programming error).
void oscar_pool_free(oscar_pool_t **poolp);

// oscar_pool_address returns the pool's address (owned by the pool).
const char *oscar_pool_address(const oscar_pool_t *pool);

// oscar_pool_context gives the context the pool was opened with, when it
// was opened with context_tag tag; NULL otherwise. The tag (the address
// of something the opener owns) tells one kind of context from another.
void *oscar_pool_context(const oscar_pool_t *pool, const void *tag);

// oscar_pool_census_t counts what a pool holds.
typedef struct oscar_pool_census {
	uint64_t actors;          // alive in this pool
	unsigned sub_pools;       // configured or added, not removed
	unsigned sub_pools_ready; // of those, running and ready
} oscar_pool_census_t;

// oscar_pool_census fills out from the pool's own thread (an actor's
// handler or callback), at once. OSCAR_ESTATE from any other thread: use
// oscar_pool_sub_pools and oscar_pool_stats there.
int oscar_pool_census(oscar_pool_t *pool, oscar_pool_census_t *out);

// oscar_pool_stats_t holds counters; read them with oscar_pool_stats.
typedef struct oscar_pool_stats {
	uint64_t actors;    // alive now
	uint64_t messages;  // delivered to handlers
	uint64_t calls;     // calls started from this pool
	uint64_t errors;    // calls that completed with an error
	uint64_t dropped;   // one-way messages not delivered, or whose handler failed
	uint64_t timeouts;  // calls failed by the pool's deadline timer (a host
	                    // thread that gives up first is not counted)
	uint64_t deadlocks; // calls failed by deadlock detection
	uint64_t rejected;  // messages from other pools dropped because they did
	                    // not prove the cluster secret, or were replays
	uint64_t malformed; // messages from other pools dropped as malformed
	uint64_t peers;     // connections to other pools open now
	uint64_t refused;   // large messages refused by max_message or recv_budget
	uint64_t receiving; // bytes held now for large messages being received
	uint64_t turn_most; // the most messages one turn of the pool's loop
	                    // delivered (bounded: a longer backlog waits
	                    // for the next turn, after I/O and timers)
} oscar_pool_stats_t;

// oscar_pool_stats copies the pool's counters (a consistent snapshot taken
// on the pool thread; it waits at most timeout_ms).
int oscar_pool_stats(oscar_pool_t *pool, oscar_pool_stats_t *stats, int64_t timeout_ms);

// ---------------------------------------------------------------------------
// Sub pools

// oscar_subpool_main runs this process as a sub pool when its main pool
// started it, offering classes (NULL terminated) for creation by name, and
// returns the exit status once the sub pool has stopped (its main pool
// stopped it or died). In any other process it returns -1 at once. Call it
// first thing in main():
//
//     int rv = oscar_subpool_main(my_classes);
//     if (rv >= 0) {
//             return (rv);
//     }
int oscar_subpool_main(const oscar_actor_class_t *const *classes);

typedef struct oscar_sub_pool_info {
	unsigned index;
	char     address[OSCAR_ADDR_MAX];
	char     label[OSCAR_NAME_MAX];
	int64_t  pid;
	bool     alive;         // the process runs and is ready
	bool     removed;       // taken out of service
	unsigned restarts;      // times recovered
	char     last_exit[96]; // how the last process ended, or ""
} oscar_sub_pool_info_t;

// oscar_pool_sub_pools copies up to cap entries about pool's sub pools
// into out and sets *n to how many there are.
int oscar_pool_sub_pools(
    oscar_pool_t *pool, oscar_sub_pool_info_t *out, size_t cap, size_t *n, int64_t timeout_ms);

// oscar_pool_kill_sub_pool kills sub pool index with SIGKILL, the hard way
// to stop work that will not stop; its pending calls fail with
// OSCAR_EPEERGONE and the recovery mode applies.
int oscar_pool_kill_sub_pool(oscar_pool_t *pool, unsigned index, int64_t timeout_ms);

// oscar_pool_kill_actor stops the actor ref the hard way: it kills the
// whole sub pool at ref's address (recovery then applies). OSCAR_ENOENT
// when that address is not one of pool's sub pools.
int oscar_pool_kill_actor(oscar_pool_t *pool, const oscar_ref_t *ref, int64_t timeout_ms);

// oscar_pool_wait_recovered waits until sub pool index runs and is ready.
int oscar_pool_wait_recovered(oscar_pool_t *pool, unsigned index, int64_t timeout_ms);

// oscar_pool_add_sub_pool starts one more sub pool with label (may be
// NULL), waits until it is ready, and gives its index.
int oscar_pool_add_sub_pool(
    oscar_pool_t *pool, const char *label, unsigned *index, int64_t timeout_ms);

// oscar_pool_remove_sub_pool stops sub pool index for good and waits until
// it is reaped. Its index is not reused.
int oscar_pool_remove_sub_pool(oscar_pool_t *pool, unsigned index, int64_t timeout_ms);

// ---------------------------------------------------------------------------
// Refs

// oscar_ref_make fills ref from an address (NULL: any pool that receives
// it resolves the uid locally) and a uid. OSCAR_EINVAL if either is too long.
int oscar_ref_make(oscar_ref_t *ref, const char *addr, const char *uid);

// oscar_ref_equal tells whether two refs name the same actor.
bool oscar_ref_equal(const oscar_ref_t *a, const oscar_ref_t *b);

// ---------------------------------------------------------------------------
// Host-thread operations (synchronous, each with a deadline)
//
// err may be NULL; when given, it receives the details of any failure.

// oscar_create creates an actor of class cls in pool, with uid (NULL: a
// generated one) and creation args (consumed). *ref receives its ref.
// Errors: OSCAR_EEXIST (uid taken), the create hook's own code when it
// fails (OSCAR_EHOOK when that code is negative), OSCAR_ETIMEDOUT,
// OSCAR_ECLOSED, OSCAR_EINVAL.
int oscar_create(oscar_pool_t *pool, const oscar_actor_class_t *cls, const char *uid,
    oscar_value_t *args, int64_t timeout_ms, oscar_ref_t *ref, oscar_error_t *err);

// oscar_place_t says where oscar_create_by_name puts an actor.
typedef enum oscar_place {
	OSCAR_PLACE_HERE = 0,     // in the pool called through (the main pool)
	OSCAR_PLACE_ADDRESS,      // in the pool at placement.address
	OSCAR_PLACE_SUB_POOL,     // in sub pool placement.index
	OSCAR_PLACE_ANY_SUB_POOL, // in any ready sub pool (round robin)
	OSCAR_PLACE_LABEL,        // in a ready sub pool labelled placement.label
	OSCAR_PLACE_IDLE,         // in a sub pool labelled placement.label that holds
	                          // nothing created with placement.mark yet (one
	                          // actor of a kind per sub pool)
} oscar_place_t;

typedef struct oscar_placement {
	oscar_place_t how;
	const char   *address; // OSCAR_PLACE_ADDRESS
	unsigned      index;   // OSCAR_PLACE_SUB_POOL
	const char   *label;   // OSCAR_PLACE_LABEL, OSCAR_PLACE_IDLE
	const char   *mark;    // OSCAR_PLACE_IDLE
} oscar_placement_t;

// oscar_create_by_name creates an actor of the class named cls (one of the
// target pool's oscar_pool_config_t.classes) where placement says (NULL:
// here), with uid (NULL: generated) and args (consumed). *ref receives its
// ref. Errors as oscar_create, plus OSCAR_ENOENT for a class the target
// pool does not offer, and the transport's errors for another pool.
int oscar_create_by_name(oscar_pool_t *pool, const char *cls, const char *uid, oscar_value_t *args,
    const oscar_placement_t *placement, int64_t timeout_ms, oscar_ref_t *ref, oscar_error_t *err);

// oscar_destroy destroys the actor: pending requests fail with
// OSCAR_ENOACTOR, then its destroy hook runs. OSCAR_ENOACTOR if absent.
int oscar_destroy(
    oscar_pool_t *pool, const oscar_ref_t *ref, int64_t timeout_ms, oscar_error_t *err);

// oscar_has sets *exists to whether the actor is alive.
int oscar_has(oscar_pool_t *pool, const oscar_ref_t *ref, bool *exists, int64_t timeout_ms);

// oscar_lookup fills *ref for the actor uid in pool, or OSCAR_ENOACTOR.
int oscar_lookup(oscar_pool_t *pool, const char *uid, oscar_ref_t *ref, int64_t timeout_ms);

// oscar_lookup_at does the same for the pool at address, through pool.
int oscar_lookup_at(oscar_pool_t *pool, const char *address, const char *uid, oscar_ref_t *ref,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_call calls method on ref with args (consumed) and waits for the
// reply, which is stored in *reply (may be NULL to discard it).
int oscar_call(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **reply, oscar_error_t *err);

// oscar_tell sends a one-way message and waits until the target pool has
// queued it (Oscar's tell): it fails with OSCAR_ENOACTOR, OSCAR_ENOMETHOD
// or OSCAR_EMBOXFULL, but the handler's own outcome is not reported.
int oscar_tell(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_error_t *err);

// oscar_tell_nowait posts a one-way message and returns at once (to an
// actor of this pool or, through it, of another), from any thread. It
// fails only for bad arguments (OSCAR_EINVAL), a closed pool
// (OSCAR_ECLOSED), lack of memory (OSCAR_ENOMEM) or a full inbox
// (OSCAR_EMBOXFULL: back off and retry); later failures (no such actor or
// method, full mailbox, or a handler that fails) are counted in the pool's
// "dropped" counter.
int oscar_tell_nowait(
    oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args);

// oscar_batch makes several calls of one method in one message. args is
// an array (consumed) with one item per call; *replies receives an array
// of results in the same order. If any call fails, the batch fails with
// the first failure.
int oscar_batch(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args,
    int64_t timeout_ms, oscar_value_t **replies, oscar_error_t *err);

// oscar_call_start starts a call and returns a handle at once; the call
// runs while the host thread does other work.
int oscar_call_start(oscar_pool_t *pool, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_call_t **callp);

// oscar_call_cancel asks for the call to be cancelled. If the request has
// not started, it fails with OSCAR_ECANCELED; if it is running, the calls
// it made through oscar_req_call are cancelled too, then its cancel hook
// (oscar_req_on_cancel) runs and decides the reply; without a hook (or if
// the hook does not answer) the call fails with OSCAR_ECANCELED, and a
// request deferred with OSCAR_DEFER_HOLD keeps holding its actor until its
// handler answers. Returns at once; idempotent; safe after the pool was
// freed. Must not race with oscar_call_wait on the same handle.
void oscar_call_cancel(oscar_call_t *call);

// oscar_call_wait waits for the call to finish (never beyond its deadline)
// and returns its outcome as oscar_call would. It then frees the handle and
// clears *callp.
int oscar_call_wait(oscar_call_t **callp, oscar_value_t **reply, oscar_error_t *err);

// ---------------------------------------------------------------------------
// Inside actors (pool thread only)

// oscar_actor_state returns the actor's state block (state_size bytes).
void *oscar_actor_state(oscar_actor_t *self);
// oscar_actor_ref returns the actor's own ref.
const oscar_ref_t *oscar_actor_ref(const oscar_actor_t *self);
// oscar_actor_uid returns the actor's uid.
const char *oscar_actor_uid(const oscar_actor_t *self);
// oscar_actor_pool returns the actor's pool.
oscar_pool_t *oscar_actor_pool(oscar_actor_t *self);

// oscar_result_t is what a reply callback receives. The callback may take
// value (set it to NULL); otherwise it is freed after the callback.
typedef struct oscar_result {
	int                  code;  // 0 or an error code
	oscar_value_t       *value; // the reply when code is 0
	const oscar_error_t *error; // details when code is not 0, else NULL
	uint64_t             id;    // the call's id
} oscar_result_t;

typedef void (*oscar_reply_cb)(oscar_actor_t *self, oscar_result_t *res, void *arg);

// oscar_actor_call calls method on ref from actor self. When the reply
// comes (or the deadline passes), cb runs on self's pool thread with arg.
// If *id is given it receives the call's id, for oscar_actor_cancel.
// Calls made while handling a request should use oscar_req_call instead,
// so that call cycles are detected.
int oscar_actor_call(oscar_actor_t *self, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg, uint64_t *id);

// oscar_req_call is oscar_actor_call made on behalf of request req, which
// is taken to wait for it: the call carries req's chain of waiting
// requests, so a call that would close a cycle of waiting requests fails
// with OSCAR_EDEADLOCK instead of hanging (at once, or through its
// callback once req's handler has returned deferred), and cancelling req
// cancels it too. For calls req does not wait for (notifications), use
// oscar_actor_call or oscar_actor_tell.
int oscar_req_call(oscar_req_t *req, const oscar_ref_t *ref, const char *method,
    oscar_value_t *args, int64_t timeout_ms, oscar_reply_cb cb, void *arg, uint64_t *id);

// oscar_actor_after runs cb on self's pool thread after delay_ms (0: on
// the next turn of the loop), with res->code 0 and a nil value; *id (if
// given) names the timer for oscar_actor_cancel, which makes cb run with
// OSCAR_ECANCELED instead. Like a call's callback, cb runs exactly once:
// with OSCAR_ECANCELED if self is destroyed first, OSCAR_ECLOSED if the
// pool closes first.
int oscar_actor_after(
    oscar_actor_t *self, int64_t delay_ms, oscar_reply_cb cb, void *arg, uint64_t *id);

// oscar_actor_cancel cancels a call made by self (see oscar_call_cancel),
// or a timer set with oscar_actor_after.
void oscar_actor_cancel(oscar_actor_t *self, uint64_t id);

// oscar_actor_tell sends a one-way message. Failures known at once
// (OSCAR_ENOACTOR, OSCAR_ENOMETHOD, OSCAR_EMBOXFULL for a target in the same
// pool) are returned; later ones are counted as dropped.
int oscar_actor_tell(
    oscar_actor_t *self, const oscar_ref_t *ref, const char *method, oscar_value_t *args);

// oscar_actor_spawn creates an actor in self's pool at once, running its
// create hook before returning. uid may be NULL; ref may be NULL.
int oscar_actor_spawn(oscar_actor_t *self, const oscar_actor_class_t *cls, const char *uid,
    oscar_value_t *args, oscar_ref_t *ref, oscar_error_t *err);

// oscar_actor_exit destroys self once the current handler returns.
void oscar_actor_exit(oscar_actor_t *self);

// oscar_actor_destroy destroys the actor ref of self's pool at once (as
// oscar_destroy does), or, for self, once the current handler returns.
// OSCAR_ENOACTOR if it does not exist, OSCAR_EADDRINVAL for another pool.
int oscar_actor_destroy(oscar_actor_t *self, const oscar_ref_t *ref);

// ---------------------------------------------------------------------------
// Requests (the message a handler is serving)

typedef enum oscar_defer {
	// OSCAR_DEFER_HOLD keeps the actor busy until the reply is sent:
	// later messages wait (Oscar's default; the lock is held).
	OSCAR_DEFER_HOLD = 1,
	// OSCAR_DEFER_YIELD releases the actor while the reply is pending:
	// later messages are handled meanwhile (Oscar's yield).
	OSCAR_DEFER_YIELD = 2,
} oscar_defer_t;

// oscar_req_args returns the request's arguments (NULL for none),
// borrowed for as long as the request lives.
const oscar_value_t *oscar_req_args(const oscar_req_t *req);
// oscar_req_take_args hands the arguments over to the handler.
oscar_value_t *oscar_req_take_args(oscar_req_t *req);
// oscar_req_arg returns item i of array arguments, or NULL.
const oscar_value_t *oscar_req_arg(const oscar_req_t *req, size_t i);
// oscar_req_method returns the method name being served.
const char *oscar_req_method(const oscar_req_t *req);
// oscar_req_actor returns the actor serving the request.
oscar_actor_t *oscar_req_actor(oscar_req_t *req);

// oscar_req_reply sends value (consumed; NULL means nil) as the reply.
// Returns OSCAR_ESTATE if the request was already answered.
int oscar_req_reply(oscar_req_t *req, oscar_value_t *value);

// oscar_req_fail answers with an error: code and a printf-style message.
// Returns code, so a handler can end with "return oscar_req_fail(...)".
int oscar_req_fail(oscar_req_t *req, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// oscar_req_fail_result answers with the failure carried by res (from a
// reply callback), keeping its origin. Returns res->code.
int oscar_req_fail_result(oscar_req_t *req, const oscar_result_t *res);

// oscar_req_defer says the handler will answer later, from a callback,
// holding the actor busy or releasing it meanwhile. Call it before
// returning 0 from the handler. The request stays valid until answered.
int oscar_req_defer(oscar_req_t *req, oscar_defer_t mode);

typedef void (*oscar_cancel_cb)(oscar_actor_t *self, oscar_req_t *req, void *arg);

// oscar_req_on_cancel sets the hook run when the caller cancels req. The
// hook may reply (with a value or an error); if it does not, the caller gets
// OSCAR_ECANCELED and later answers are discarded.
void oscar_req_on_cancel(oscar_req_t *req, oscar_cancel_cb cb, void *arg);

// oscar_req_cancelled tells whether the caller asked to cancel req.
bool oscar_req_cancelled(const oscar_req_t *req);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_ACTOR_H
