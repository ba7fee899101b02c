// oscar-bench: figures for the actor system, each beside a baseline
// measured in the same run and beside the same work done by Erlang/OTP and
// CAF (peers.c), and for the task service beside Dask distributed
// (dask.c), so the ratios hold on a noisy machine.
//
//   oscar-bench [--quick] [--rounds N] [--only WORKLOAD[,WORKLOAD...]] [--json FILE]
//               [--peers DIR | --no-peers]
//
// In-process workloads (each run for several rounds, alternating with its
// baseline and the peers; the median is reported); the cross-process ones
// are in cross.c, the graph engine's alone in graph.c:
//   call-rtt     a call and its reply between two actors of one pool
//                baseline: a ping-pong between two threads (mutex+condvar)
//   tell-rate    one-way messages from 4 host threads into one actor
//                baseline: 4 threads into one consumer through a mutex queue
//   spawn        create + destroy of an actor, from inside the pool
//                baseline: malloc + free of the same size
//   spawn-tree   a tree of 2^20 - 1 actors, each spawning two children
//                down to depth 20 and waiting for their reports; time per
//                actor (CAF's and Erlang's classic benchmark)
//   idle-actor   bytes per idle actor with 100,000 alive (runtime overhead,
//                excluding the class's own state)
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "bench/bench.h"

void bench_die(const char *what, int rv)
{
	fprintf(stderr, "oscar-bench: %s: %s\n", what, oscar_strerror(rv));
	exit(1);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "oscar-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static const char *const inproc_names[] = { "call-rtt", "tell-rate", "spawn", "spawn-tree",
	"idle-actor", NULL };

static bool bench_is_cross(const char *name)
{
	for (int i = 0; bench_cross_names[i] != NULL; i++) {
		if (strcmp(name, bench_cross_names[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

// bench_known tells whether every name in the list only is a workload.
static bool bench_known(const char *only)
{
	for (const char *p = only; *p != '\0';) {
		size_t len = strcspn(p, ",");
		bool   ok  = len == 5 && strncmp(p, "cross", 5) == 0;
		for (int i = 0; !ok && inproc_names[i] != NULL; i++) {
			ok =
			    strlen(inproc_names[i]) == len && strncmp(p, inproc_names[i], len) == 0;
		}
		for (int i = 0; !ok && bench_cross_names[i] != NULL; i++) {
			ok = strlen(bench_cross_names[i]) == len &&
			     strncmp(p, bench_cross_names[i], len) == 0;
		}
		for (int i = 0; !ok && bench_graph_names[i] != NULL; i++) {
			ok = strlen(bench_graph_names[i]) == len &&
			     strncmp(p, bench_graph_names[i], len) == 0;
		}
		for (int i = 0; !ok && bench_storage_names[i] != NULL; i++) {
			ok = strlen(bench_storage_names[i]) == len &&
			     strncmp(p, bench_storage_names[i], len) == 0;
		}
		for (int i = 0; !ok && bench_tasks_names[i] != NULL; i++) {
			ok = strlen(bench_tasks_names[i]) == len &&
			     strncmp(p, bench_tasks_names[i], len) == 0;
		}
		if (!ok) {
			return (false);
		}
		p += len + (p[len] == ',');
	}
	return (true);
}

bool bench_want(const char *only, const char *name)
{
	size_t n = strlen(name);
	if (only == NULL) {
		return (true);
	}
	for (const char *p = only; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if ((len == n && strncmp(p, name, n) == 0) ||
		    (len == 5 && strncmp(p, "cross", 5) == 0 && bench_is_cross(name))) {
			return (true);
		}
		p += len + (p[len] == ',');
	}
	return (false);
}

// ---------------------------------------------------------------------------
// Actors used by the workloads

typedef struct pinger {
	oscar_ref_t  peer;
	oscar_req_t *req;
	int64_t      to_send; // calls not sent yet
	int64_t      to_get;  // replies still to come
} pinger_t;

static void pinger_next(oscar_actor_t *self, oscar_result_t *res, void *arg);

static void pinger_send(oscar_actor_t *self, pinger_t *p)
{
	int rv = oscar_actor_call(self, &p->peer, "echo", NULL, 0, pinger_next, p, NULL);
	if (rv != 0) {
		oscar_req_fail(p->req, rv, "ping failed");
		p->req = NULL;
		return;
	}
	p->to_send--;
}

static void pinger_next(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	pinger_t *p = arg;
	if (p->req == NULL) {
		return; // failed already; the calls still in flight end here
	}
	if (res->code != 0) {
		oscar_req_fail_result(p->req, res);
		p->req = NULL;
		return;
	}
	if (--p->to_get == 0) {
		oscar_req_reply(p->req, NULL);
		p->req = NULL;
		return;
	}
	if (p->to_send > 0) {
		pinger_send(self, p);
	}
}

// pinger.run([peer_uid, n]) calls peer.echo n times, one after the other;
// pinger.run([peer_uid, n, address]) calls the peer in the pool at address;
// pinger.run([peer_uid, n, address, in_flight]) keeps in_flight calls
// outstanding, each reply sending the next call.
static int pinger_run(oscar_actor_t *self, oscar_req_t *req)
{
	pinger_t   *p         = oscar_actor_state(self);
	const char *addr      = oscar_actor_ref(self)->addr;
	int64_t     in_flight = 1, n;
	const char *uid;
	if (p->req != NULL || oscar_value_get_str(oscar_req_arg(req, 0), &uid, NULL) != 0 ||
	    oscar_value_get_int(oscar_req_arg(req, 1), &n) != 0 || n <= 0 ||
	    (oscar_req_arg(req, 2) != NULL &&
	        oscar_value_get_str(oscar_req_arg(req, 2), &addr, NULL) != 0) ||
	    (oscar_req_arg(req, 3) != NULL &&
	        (oscar_value_get_int(oscar_req_arg(req, 3), &in_flight) != 0 || in_flight < 1))) {
		return (OSCAR_EBADARGS);
	}
	oscar_ref_make(&p->peer, addr, uid);
	p->req     = req;
	p->to_send = n;
	p->to_get  = n;
	oscar_req_defer(req, OSCAR_DEFER_YIELD);
	for (int64_t i = 0; i < in_flight && p->req != NULL && p->to_send > 0; i++) {
		pinger_send(self, p);
	}
	return (0);
}

static int echo(oscar_actor_t *self, oscar_req_t *req)
{
	return (oscar_req_reply(req, NULL));
}

static const oscar_method_t pinger_methods[] = {
	{ "run", pinger_run, NULL },
	{ "echo", echo, NULL },
	{ NULL, NULL, NULL },
};

const oscar_actor_class_t bench_pinger_class = {
	.name       = "pinger",
	.state_size = sizeof(pinger_t),
	.methods    = pinger_methods,
};

// sink: counts messages and answers wait_for(n) once it has seen n.
typedef struct sink {
	int64_t      count;
	int64_t      want;
	oscar_req_t *waiter;
} sink_t;

static int sink_hit(oscar_actor_t *self, oscar_req_t *req)
{
	sink_t *s = oscar_actor_state(self);
	if (++s->count == s->want && s->waiter != NULL) {
		oscar_req_reply(s->waiter, NULL);
		s->waiter = NULL;
	}
	return (0);
}

static int sink_wait_for(oscar_actor_t *self, oscar_req_t *req)
{
	sink_t *s = oscar_actor_state(self);
	if (oscar_value_get_int(oscar_req_args(req), &s->want) != 0) {
		return (OSCAR_EBADARGS);
	}
	s->count  = 0;
	s->waiter = req;
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static const oscar_method_t sink_methods[] = {
	{ "hit", sink_hit, NULL },
	{ "wait_for", sink_wait_for, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t sink_class = {
	.name       = "sink",
	.state_size = sizeof(sink_t),
	.methods    = sink_methods,
};

// idle: the smallest actor there is (8 bytes of state).
static const oscar_method_t      idle_methods[] = { { NULL, NULL, NULL } };
static const oscar_actor_class_t idle_class     = {
	    .name       = "idle",
	    .state_size = 8,
	    .methods    = idle_methods,
};

// spawner.churn(n): creates and destroys n actors, one at a time.
// spawner.fill(n): creates n idle actors and keeps them.
// spawner.clear(): destroys what fill created.
typedef struct spawner {
	oscar_ref_t *refs;
	int64_t      n;
} spawner_t;

static int spawner_churn(oscar_actor_t *self, oscar_req_t *req)
{
	int64_t     n;
	oscar_ref_t ref;
	int         rv;
	if (oscar_value_get_int(oscar_req_args(req), &n) != 0) {
		return (OSCAR_EBADARGS);
	}
	for (int64_t i = 0; i < n; i++) {
		if ((rv = oscar_actor_spawn(self, &idle_class, NULL, NULL, &ref, NULL)) != 0 ||
		    (rv = oscar_actor_destroy(self, &ref)) != 0) {
			return (rv);
		}
	}
	return (0);
}

static int spawner_fill(oscar_actor_t *self, oscar_req_t *req)
{
	spawner_t *s = oscar_actor_state(self);
	int        rv;
	if (oscar_value_get_int(oscar_req_args(req), &s->n) != 0 ||
	    (s->refs = calloc((size_t) s->n, sizeof(oscar_ref_t))) == NULL) {
		return (OSCAR_EBADARGS);
	}
	for (int64_t i = 0; i < s->n; i++) {
		if ((rv = oscar_actor_spawn(self, &idle_class, NULL, NULL, &s->refs[i], NULL)) !=
		    0) {
			return (rv);
		}
	}
	return (0);
}

static int spawner_clear(oscar_actor_t *self, oscar_req_t *req)
{
	spawner_t *s = oscar_actor_state(self);
	for (int64_t i = 0; i < s->n; i++) {
		oscar_actor_destroy(self, &s->refs[i]);
	}
	free(s->refs);
	s->refs = NULL;
	s->n    = 0;
	return (0);
}

static const oscar_method_t spawner_methods[] = {
	{ "churn", spawner_churn, NULL },
	{ "fill", spawner_fill, NULL },
	{ "clear", spawner_clear, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t spawner_class = {
	.name       = "spawner",
	.state_size = sizeof(spawner_t),
	.methods    = spawner_methods,
};

// tree: the spawn tree. The parent tells spread(depth) to each child
// right after spawning it; an actor told spread(depth) spawns two children
// and spreads depth - 1 to each, unless depth is 1. Once both children
// reported done(count), it reports done(count + 1, itself) to its parent
// and exits, so 2^depth - 1 actors are made in all. The root is called by
// the host instead of told, and answers that call with the count.
typedef struct tree {
	char         parent[OSCAR_UID_MAX]; // the parent's uid; "" for the root
	oscar_req_t *req;                   // the root's call
	int64_t      count;                 // actors reported, with this one
	int          reports;
} tree_t;

static const oscar_actor_class_t tree_class;

static int tree_create(oscar_actor_t *self, const oscar_value_t *args)
{
	tree_t     *t      = oscar_actor_state(self);
	const char *parent = "";
	size_t      len    = 0;
	if (args != NULL &&
	    (oscar_value_get_str(args, &parent, &len) != 0 || len >= sizeof(t->parent))) {
		return (OSCAR_EBADARGS);
	}
	memcpy(t->parent, parent, len);
	t->count = 1;
	return (0);
}

// tree_report hands the count up: to the parent, or as the root's answer.
static int tree_report(oscar_actor_t *self, tree_t *t)
{
	oscar_ref_t parent;
	int         rv;
	if (t->req != NULL) {
		return (oscar_req_reply(t->req, oscar_value_new_int(t->count)));
	}
	oscar_ref_make(&parent, oscar_actor_ref(self)->addr, t->parent);
	rv = oscar_actor_tell(self, &parent, "done", oscar_value_new_int(t->count));
	oscar_actor_exit(self);
	return (rv);
}

static int tree_spread(oscar_actor_t *self, oscar_req_t *req)
{
	tree_t     *t = oscar_actor_state(self);
	int64_t     depth;
	oscar_ref_t child;
	int         rv;
	if (oscar_value_get_int(oscar_req_args(req), &depth) != 0 || depth < 1 || depth > 30) {
		return (OSCAR_EBADARGS);
	}
	if (t->parent[0] == '\0') {
		t->req = req;
		oscar_req_defer(req, OSCAR_DEFER_YIELD);
	}
	if (depth == 1) {
		return (tree_report(self, t));
	}
	for (int i = 0; i < 2; i++) {
		if ((rv = oscar_actor_spawn(self, &tree_class, NULL,
		         oscar_value_new_str(oscar_actor_uid(self)), &child, NULL)) != 0 ||
		    (rv = oscar_actor_tell(
		         self, &child, "spread", oscar_value_new_int(depth - 1))) != 0) {
			return (rv);
		}
	}
	return (0);
}

static int tree_done(oscar_actor_t *self, oscar_req_t *req)
{
	tree_t *t = oscar_actor_state(self);
	int64_t count;
	if (oscar_value_get_int(oscar_req_args(req), &count) != 0) {
		return (OSCAR_EBADARGS);
	}
	t->count += count;
	return (++t->reports == 2 ? tree_report(self, t) : 0);
}

static const oscar_method_t tree_methods[] = {
	{ "spread", tree_spread, NULL },
	{ "done", tree_done, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t tree_class = {
	.name       = "tree",
	.state_size = sizeof(tree_t),
	.create     = tree_create,
	.methods    = tree_methods,
};

// ---------------------------------------------------------------------------
// Baselines

typedef struct pingpong {
	uv_mutex_t mu;
	uv_cond_t  cv;
	int        turn; // 0: ping's turn, 1: pong's
	int64_t    left;
} pingpong_t;

static void pong_thread(void *arg)
{
	pingpong_t *pp = arg;
	uv_mutex_lock(&pp->mu);
	for (;;) {
		while (pp->turn != 1) {
			uv_cond_wait(&pp->cv, &pp->mu);
		}
		if (pp->left < 0) {
			break;
		}
		pp->turn = 0;
		uv_cond_broadcast(&pp->cv);
	}
	uv_mutex_unlock(&pp->mu);
}

// baseline_thread_rtt times n round trips between two threads.
static double baseline_thread_rtt(int64_t n)
{
	pingpong_t  pp = { .turn = 0, .left = n };
	uv_thread_t t;
	uv_mutex_init(&pp.mu);
	uv_cond_init(&pp.cv);
	uv_thread_create(&t, pong_thread, &pp);
	double t0 = bench_now();
	uv_mutex_lock(&pp.mu);
	for (int64_t i = 0; i < n; i++) {
		pp.turn = 1;
		uv_cond_broadcast(&pp.cv);
		while (pp.turn != 0) {
			uv_cond_wait(&pp.cv, &pp.mu);
		}
	}
	pp.left = -1;
	pp.turn = 1;
	uv_cond_broadcast(&pp.cv);
	uv_mutex_unlock(&pp.mu);
	double dt = bench_now() - t0;
	uv_thread_join(&t);
	uv_cond_destroy(&pp.cv);
	uv_mutex_destroy(&pp.mu);
	return (dt / (double) n);
}

typedef struct mq_node {
	struct mq_node *next;
	int64_t         v;
} mq_node_t;

typedef struct mq {
	uv_mutex_t mu;
	uv_cond_t  cv;
	mq_node_t *head, *tail;
	int64_t    per_sender;
} mq_t;

static void mq_sender(void *arg)
{
	mq_t *q = arg;
	for (int64_t i = 0; i < q->per_sender; i++) {
		mq_node_t *n = malloc(sizeof(*n));
		n->next      = NULL;
		n->v         = i;
		uv_mutex_lock(&q->mu);
		if (q->tail != NULL) {
			q->tail->next = n;
		} else {
			q->head = n;
		}
		q->tail = n;
		uv_cond_signal(&q->cv);
		uv_mutex_unlock(&q->mu);
	}
}

// baseline_mutex_queue returns messages per second through a mutex queue
// from 4 producers to one consumer.
static double baseline_mutex_queue(int64_t per_sender)
{
	mq_t        q = { .per_sender = per_sender };
	uv_thread_t t[4];
	int64_t     got = 0, want = per_sender * 4;
	uv_mutex_init(&q.mu);
	uv_cond_init(&q.cv);
	double t0 = bench_now();
	for (int i = 0; i < 4; i++) {
		uv_thread_create(&t[i], mq_sender, &q);
	}
	uv_mutex_lock(&q.mu);
	while (got < want) {
		while (q.head == NULL) {
			uv_cond_wait(&q.cv, &q.mu);
		}
		mq_node_t *n = q.head;
		q.head       = n->next;
		if (q.head == NULL) {
			q.tail = NULL;
		}
		uv_mutex_unlock(&q.mu);
		free(n);
		got++;
		uv_mutex_lock(&q.mu);
	}
	uv_mutex_unlock(&q.mu);
	double dt = bench_now() - t0;
	for (int i = 0; i < 4; i++) {
		uv_thread_join(&t[i]);
	}
	uv_cond_destroy(&q.cv);
	uv_mutex_destroy(&q.mu);
	return ((double) want / dt);
}

// ---------------------------------------------------------------------------
// Workloads

static double bench_call_rtt(oscar_pool_t *pool, int64_t n)
{
	oscar_ref_t    a, b;
	oscar_value_t *args = oscar_value_new_array(2);
	int            rv;
	if ((rv = oscar_create(pool, &bench_pinger_class, NULL, NULL, 0, &a, NULL)) != 0 ||
	    (rv = oscar_create(pool, &bench_pinger_class, NULL, NULL, 0, &b, NULL)) != 0) {
		bench_die("create pinger", rv);
	}
	oscar_value_array_push(args, oscar_value_new_str(b.uid));
	oscar_value_array_push(args, oscar_value_new_int(n));
	double t0 = bench_now();
	if ((rv = oscar_call(pool, &a, "run", args, 600000, NULL, NULL)) != 0) {
		bench_die("pinger.run", rv);
	}
	double dt = bench_now() - t0;
	oscar_destroy(pool, &a, 0, NULL);
	oscar_destroy(pool, &b, 0, NULL);
	return (dt / (double) n);
}

typedef struct sender {
	oscar_pool_t *pool;
	oscar_ref_t   sink;
	int64_t       n;
	int64_t       full; // retries on a full inbox
} sender_t;

static void sender_thread(void *arg)
{
	sender_t *s = arg;
	for (int64_t i = 0; i < s->n; i++) {
		int rv;
		while (
		    (rv = oscar_tell_nowait(s->pool, &s->sink, "hit", NULL)) == OSCAR_EMBOXFULL) {
			s->full++;
			uv_sleep(0);
		}
		if (rv != 0) {
			bench_die("tell", rv);
		}
	}
}

static double bench_tell_rate(oscar_pool_t *pool, int64_t per_sender)
{
	oscar_ref_t   sink;
	oscar_call_t *done;
	sender_t      s[4];
	uv_thread_t   t[4];
	int           rv;
	if ((rv = oscar_create(pool, &sink_class, NULL, NULL, 0, &sink, NULL)) != 0) {
		bench_die("create sink", rv);
	}
	if ((rv = oscar_call_start(pool, &sink, "wait_for", oscar_value_new_int(per_sender * 4),
	         600000, &done)) != 0) {
		bench_die("sink.wait_for", rv);
	}
	// The wait_for request must be parked before the first hit arrives;
	// the inbox is FIFO, so posting it first is enough.
	double t0 = bench_now();
	for (int i = 0; i < 4; i++) {
		s[i] = (sender_t) { .pool = pool, .sink = sink, .n = per_sender };
		uv_thread_create(&t[i], sender_thread, &s[i]);
	}
	for (int i = 0; i < 4; i++) {
		uv_thread_join(&t[i]);
	}
	if ((rv = oscar_call_wait(&done, NULL, NULL)) != 0) {
		bench_die("sink.wait_for", rv);
	}
	double dt = bench_now() - t0;
	oscar_destroy(pool, &sink, 0, NULL);
	return ((double) (per_sender * 4) / dt);
}

static double bench_spawn(oscar_pool_t *pool, oscar_ref_t *spawner, int64_t n)
{
	double t0 = bench_now();
	int    rv = oscar_call(pool, spawner, "churn", oscar_value_new_int(n), 600000, NULL, NULL);
	if (rv != 0) {
		bench_die("spawner.churn", rv);
	}
	return ((bench_now() - t0) / (double) n);
}

static double baseline_malloc(int64_t n, size_t size)
{
	double t0 = bench_now();
	for (int64_t i = 0; i < n; i++) {
		void *volatile p = malloc(size);
		free(p);
	}
	return ((bench_now() - t0) / (double) n);
}

static double bench_idle_bytes(oscar_pool_t *pool, oscar_ref_t *spawner, int64_t n)
{
	// Settle the allocator, measure, fill, measure.
	malloc_trim(0);
	size_t before = mallinfo2().uordblks;
	int    rv = oscar_call(pool, spawner, "fill", oscar_value_new_int(n), 600000, NULL, NULL);
	if (rv != 0) {
		bench_die("spawner.fill", rv);
	}
	size_t after = mallinfo2().uordblks;
	if ((rv = oscar_call(pool, spawner, "clear", NULL, 600000, NULL, NULL)) != 0) {
		bench_die("spawner.clear", rv);
	}
	// The spawner's own table of refs is the benchmark's, not the runtime's.
	double bytes = (double) (after - before) - (double) n * sizeof(oscar_ref_t);
	return (bytes / (double) n - (double) idle_class.state_size);
}

// bench_spawn_tree returns the time per actor of a spawn tree of depth.
static double bench_spawn_tree(oscar_pool_t *pool, int depth)
{
	oscar_ref_t    root;
	oscar_value_t *reply = NULL;
	oscar_error_t  err;
	char           msg[512];
	int64_t        count = 0, want = ((int64_t) 1 << depth) - 1;
	int            rv;
	double         t0 = bench_now();
	if ((rv = oscar_create(pool, &tree_class, NULL, NULL, 0, &root, &err)) != 0 ||
	    (rv = oscar_call(
	         pool, &root, "spread", oscar_value_new_int(depth), 600000, &reply, &err)) != 0) {
		oscar_error_format(&err, msg, sizeof(msg));
		bench_fail("spawn tree: %s", msg);
	}
	double dt = bench_now() - t0;
	oscar_destroy(pool, &root, 0, NULL);
	if (oscar_value_get_int(reply, &count) != 0 || count != want) {
		bench_fail("spawn tree: counted %" PRId64 " actors of %" PRId64, count, want);
	}
	oscar_value_free(reply);
	return (dt / (double) count);
}

// ---------------------------------------------------------------------------

// counts_t holds the counts of the in-process workloads.
typedef struct counts {
	int64_t rtt;   // calls
	int64_t tell;  // tells per sender
	int64_t spawn; // creates + destroys
	int     depth; // of the spawn tree
	int64_t idle;  // idle actors
} counts_t;

// run_inproc runs the in-process workloads that o selects, each beside its
// baseline and the peers, round after round, and stores their rows.
static size_t run_inproc(const bench_opts_t *o, const counts_t *n, bench_row_t *rows)
{
	static double v[5][100], b[5][100];
	oscar_pool_t *pool;
	oscar_ref_t   spawner;
	int           rv;
	bool          any = false;
	for (int i = 0; inproc_names[i] != NULL; i++) {
		any = any || bench_want(o->only, inproc_names[i]);
	}
	if (!any) {
		return (0);
	}
	if ((rv = oscar_pool_open(&pool, NULL, NULL)) != 0) {
		bench_die("pool", rv);
	}
	if ((rv = oscar_create(pool, &spawner_class, "spawner", NULL, 0, &spawner, NULL)) != 0) {
		bench_die("create spawner", rv);
	}
	for (int r = 0; r < o->rounds; r++) {
		// Alternate each workload with its baseline and the peers.
		if (bench_want(o->only, "call-rtt")) {
			v[0][r] = bench_call_rtt(pool, n->rtt) * 1e6;
			b[0][r] = baseline_thread_rtt(n->rtt / 20) * 1e6;
			bench_peers_run(o->peers, "call-rtt", n->rtt);
		}
		if (bench_want(o->only, "tell-rate")) {
			v[1][r] = bench_tell_rate(pool, n->tell) / 1e6;
			b[1][r] = baseline_mutex_queue(n->tell) / 1e6;
			bench_peers_run(o->peers, "tell-rate", n->tell);
		}
		if (bench_want(o->only, "spawn")) {
			v[2][r] = bench_spawn(pool, &spawner, n->spawn) * 1e6;
			b[2][r] = baseline_malloc(n->spawn, 320) * 1e6;
		}
		if (bench_want(o->only, "spawn-tree")) {
			v[3][r] = bench_spawn_tree(pool, n->depth) * 1e6;
			bench_peers_run(o->peers, "spawn-tree", n->depth);
		}
		if (bench_want(o->only, "idle-actor")) {
			v[4][r] = bench_idle_bytes(pool, &spawner, n->idle);
			bench_peers_run(o->peers, "idle-actor", n->idle);
		}
	}
	oscar_pool_free(&pool);

	bench_row_t all[5] = {
		{ .name            = "call-rtt",
		    .unit          = "us",
		    .value         = bench_median(v[0], o->rounds),
		    .baseline_name = "thread ping-pong",
		    .baseline      = bench_median(b[0], o->rounds),
		    .target        = 1.0 },
		{ .name               = "tell-rate",
		    .unit             = "M/s",
		    .value            = bench_median(v[1], o->rounds),
		    .baseline_name    = "mutex queue, 4 senders",
		    .baseline         = bench_median(b[1], o->rounds),
		    .higher_is_better = true,
		    .target           = 5.0 },
		{ .name            = "spawn",
		    .unit          = "us",
		    .value         = bench_median(v[2], o->rounds),
		    .baseline_name = "malloc+free 320 B",
		    .baseline      = bench_median(b[2], o->rounds),
		    .target        = 1.0 },
		{ .name     = "spawn-tree",
		    .unit   = "us/actor",
		    .value  = bench_median(v[3], o->rounds),
		    .target = 1.0 },
		{ .name     = "idle-actor",
		    .unit   = "bytes",
		    .value  = bench_median(v[4], o->rounds),
		    .target = 512.0 },
	};
	size_t nrows = 0;
	for (size_t i = 0; i < 5; i++) {
		if (bench_want(o->only, all[i].name)) {
			rows[nrows++] = all[i];
		}
	}
	return (nrows);
}

static void usage(void)
{
	fprintf(stderr, "usage: oscar-bench [--quick] [--rounds N] [--only WORKLOAD[,...]] "
	                "[--json FILE]\n"
	                "                   [--peers DIR | --no-peers]\nworkloads:");
	for (int i = 0; inproc_names[i] != NULL; i++) {
		fprintf(stderr, " %s", inproc_names[i]);
	}
	for (int i = 0; bench_cross_names[i] != NULL; i++) {
		fprintf(stderr, " %s", bench_cross_names[i]);
	}
	for (int i = 0; bench_graph_names[i] != NULL; i++) {
		fprintf(stderr, " %s", bench_graph_names[i]);
	}
	for (int i = 0; bench_storage_names[i] != NULL; i++) {
		fprintf(stderr, " %s", bench_storage_names[i]);
	}
	for (int i = 0; bench_tasks_names[i] != NULL; i++) {
		fprintf(stderr, " %s", bench_tasks_names[i]);
	}
	fprintf(stderr, " (cross: every cross-process one)\n");
}

// default_peers_dir returns the folder where bench/peers/build.sh puts the
// peers by default: "peers" beside this program.
static const char *default_peers_dir(void)
{
	static char dir[1024];
	ssize_t     n = readlink("/proc/self/exe", dir, sizeof(dir) - 8);
	char       *slash;
	if (n <= 0) {
		return ("peers");
	}
	dir[n] = '\0';
	if ((slash = strrchr(dir, '/')) == NULL) {
		return ("peers");
	}
	strcpy(slash, "/peers");
	return (dir);
}

int main(int argc, char **argv)
{
	bench_opts_t o         = { .rounds = 5 };
	const char  *json      = NULL;
	const char  *peers_dir = NULL;
	bool         no_peers  = false;
	int          rv;
	// A child of the cross-process workloads (cross.c)?
	if ((rv = bench_cross_serve(argc, argv)) >= 0) {
		return (rv);
	}
	// A worker's slot of the task workloads (tasks.c)?
	if ((rv = bench_tasks_subpool()) >= 0) {
		return (rv);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o.quick = true;
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			o.rounds = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			o.only = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			json = argv[++i];
		} else if (strcmp(argv[i], "--peers") == 0 && i + 1 < argc) {
			peers_dir = argv[++i];
		} else if (strcmp(argv[i], "--no-peers") == 0) {
			no_peers = true;
		} else {
			usage();
			return (2);
		}
	}
	if (o.rounds < 1 || o.rounds > 100) {
		fprintf(stderr, "oscar-bench: --rounds must be 1..100\n");
		return (2);
	}
	if (o.only != NULL && !bench_known(o.only)) {
		fprintf(stderr, "oscar-bench: unknown workload in '%s'\n", o.only);
		usage();
		return (2);
	}
	if (o.quick) {
		o.rounds = 3;
	}
	counts_t n = {
		.rtt   = o.quick ? 200000 : 1000000,
		.tell  = o.quick ? 250000 : 1000000,
		.spawn = o.quick ? 100000 : 500000,
		.depth = o.quick ? 18 : 20,
		.idle  = 100000,
	};
	if (!no_peers) {
		o.peers = bench_peers_open(peers_dir != NULL ? peers_dir : default_peers_dir(), &o);
	}

	bench_row_t rows[64];
	size_t      nrows = run_inproc(&o, &n, rows);
	nrows += bench_cross_run(&o, rows + nrows, sizeof(rows) / sizeof(rows[0]) - nrows);
	nrows += bench_graph_run(&o, rows + nrows, sizeof(rows) / sizeof(rows[0]) - nrows);
	nrows += bench_storage_run(&o, rows + nrows, sizeof(rows) / sizeof(rows[0]) - nrows);
	// Dask's cluster starts only now, so that it does not idle beside
	// the workloads before.
	if (!no_peers) {
		o.dask = bench_dask_open(peers_dir != NULL ? peers_dir : default_peers_dir(), &o);
	}
	nrows += bench_tasks_run(&o, rows + nrows, sizeof(rows) / sizeof(rows[0]) - nrows);
	bench_peers_fill(o.peers, rows, nrows);
	bench_dask_fill(o.dask, rows, nrows);
	bench_report_print(&o, rows, nrows);
	rv = json != NULL && bench_report_json(json, &o, rows, nrows) != 0;
	bench_peers_close(o.peers);
	bench_dask_close(o.dask);
	return (rv);
}
