// Sub pools (internal): child processes started and watched by a main pool.
#ifndef OSC_SUBPOOL_H
#define OSC_SUBPOOL_H

#include "actors/pool_int.h"

typedef struct osc_subpool osc_subpool_t;

// An actor created in a sub pool through the main pool, remembered so that
// OSCAR_RECOVER_ACTOR can create it again.
typedef struct osc_placed {
	osc_node_t     node; // in its sub pool's placed list
	char           cls[OSCAR_NAME_MAX];
	char           uid[OSCAR_UID_MAX];
	oscar_value_t *args;
} osc_placed_t;

struct osc_subpool {
	oscar_pool_t *pool;
	unsigned      index;
	char          label[OSCAR_NAME_MAX];
	char          address[OSCAR_ADDR_MAX];
	uv_process_t  proc;
	uv_pipe_t     in;  // the child's stdin: end of file tells it to stop
	uv_pipe_t     out; // the child's stdout: its ready line
	char          line[OSCAR_ADDR_MAX + 32];
	size_t        line_len;
	int           handles; // open among proc, in, out
	int64_t       pid;
	bool          alive;     // the process runs
	bool          ready;     // and said it listens
	bool          announced; // the process said it listens (killed since or not)
	bool          stopping;  // stopped for good: no restart
	bool          removed;   // taken out of service (oscar_pool_remove_sub_pool)
	bool          gone;      // stopped and reaped
	unsigned      restarts;
	int64_t       kill_at; // when stopping: uv_now() time for SIGKILL
	int64_t       exit_status;
	int           term_signal;
	char          last_exit[96];
	int64_t       last_pid;        // the process last_exit is about, or 0
	uint64_t      spawned_at;      // uv_hrtime() when the process was started
	uint64_t      last_spawned_at; // the same for last_pid
	osc_list_t    placed;          // osc_placed_t, the newest first
	char        **marks;           // OSCAR_PLACE_IDLE marks taken here
	size_t        nmarks;
};

int  osc_subpools_start(oscar_pool_t *pool, oscar_error_t *err);
void osc_subpools_stop(oscar_pool_t *pool);
void osc_subpools_free(oscar_pool_t *pool);
int  osc_subpool_add(oscar_pool_t *pool, const char *label, unsigned *index);
void osc_subpool_stop(oscar_pool_t *pool, osc_subpool_t *s);
int  osc_subpool_place(
     oscar_pool_t *pool, const oscar_placement_t *where, osc_subpool_t **out, oscar_error_t *err);
void osc_subpool_record(
    osc_subpool_t *s, const char *cls, const char *uid, const oscar_value_t *args);
osc_subpool_t *osc_subpool_find(oscar_pool_t *pool, const char *address);

// osc_subpool_death tells how the process of the sub pool at address
// ended, for a pool that lost its connection to it: pid is the process it
// knew there, or 0; up_at, when not 0, is when that connection came up
// (uv_hrtime(), from a pool of this host), which names the process when
// pid does not. Returns 0 with why (size bytes) and *dead_pid filled;
// 1 when that process still runs as far as this pool knows (the answer
// comes with its exit, osc_transport_peer_gone); OSCAR_ENOENT when address
// is not one of pool's sub pools, or pid none of its recent processes.
int osc_subpool_death(oscar_pool_t *pool, const char *address, int64_t pid, uint64_t up_at,
    char *why, size_t size, int64_t *dead_pid);

// osc_sub_notify completes the host handles waiting for sub pools to be
// ready.
void osc_sub_notify(oscar_pool_t *pool);

#endif // OSC_SUBPOOL_H
