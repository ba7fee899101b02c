// oscar-actor-example: the program that docs/actors.md walks through.
//
// Two classes share one pool. A "store" keeps stock counts; a "clerk"
// serves orders by calling the store on behalf of the request it is
// serving. The main thread creates them, calls, tells, sends batches,
// cancels a parked request, lets a call run past its deadline, and prints
// every reply and every error. It uses only <oscar/oscar.h> and exits 0
// when every step gave the expected result.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oscar/oscar.h>

// WAIT_MS is the deadline of the host calls below. 0 would mean the pool's
// default; there is no way to wait forever.
#define WAIT_MS 5000

// SHOP_ESTOCK is an application error code. Codes from OSCAR_EUSER up are
// left to programs and reach the caller unchanged.
#define SHOP_ESTOCK (OSCAR_EUSER + 1)

#define ITEM_MAX    32 // bytes of an item name, with the terminator
#define WAITERS_MAX 16 // requests parked in wait_for at once

// parse_order reads arguments of the form [item, count] with count > 0.
// The item string is borrowed from args.
static int parse_order(const oscar_value_t *args, const char **item, int64_t *n)
{
	size_t len;

	if (args == NULL || args->type != OSCAR_ARRAY || oscar_value_len(args) != 2 ||
	    oscar_value_get_str(oscar_value_at(args, 0), item, &len) != 0 || len == 0 ||
	    len >= ITEM_MAX || oscar_value_get_int(oscar_value_at(args, 1), n) != 0 || *n <= 0) {
		return (OSCAR_EBADARGS);
	}
	return (0);
}

// ---------------------------------------------------------------------------
// store: stock counts by item name.
//
//   count(item)            -> int
//   put([item, n])         -> new count; batch_fn: a batch of puts at once
//   take([item, n])        -> new count, or SHOP_ESTOCK
//   wait_for(item)         -> the count, once there is some (deferred)
//   waiting()              -> how many wait_for requests are parked

typedef struct waiter {
	oscar_req_t *req;
	char         item[ITEM_MAX];
} waiter_t;

typedef struct store {
	oscar_value_t *stock; // map: item -> int
	waiter_t       waiters[WAITERS_MAX];
	int            n_waiters;
} store_t;

// stock_of returns the count of item, 0 when it is unknown.
static int64_t stock_of(const store_t *s, const char *item)
{
	int64_t n = 0;

	(void) oscar_value_get_int(oscar_value_map_get(s->stock, item), &n);
	return (n);
}

// store_create takes an optional map of initial stock, {"apple": 10, ...}.
// Its arguments are borrowed, so it keeps a copy. A non-zero return fails
// the creation; the destroy hook is then not called.
static int store_create(oscar_actor_t *self, const oscar_value_t *args)
{
	store_t *s = oscar_actor_state(self);

	if (args == NULL) {
		s->stock = oscar_value_new_map(4);
		return (s->stock != NULL ? 0 : OSCAR_ENOMEM);
	}
	if (args->type != OSCAR_MAP) {
		return (OSCAR_EBADARGS);
	}
	for (size_t i = 0; i < oscar_value_len(args); i++) {
		const oscar_kv_t *kv = &args->as.map.kv[i];
		int64_t           n;

		if (kv->key.type != OSCAR_STR || kv->key.as.str.len >= ITEM_MAX ||
		    oscar_value_get_int(&kv->val, &n) != 0 || n < 0) {
			return (OSCAR_EBADARGS);
		}
	}
	s->stock = oscar_value_copy(args);
	return (s->stock != NULL ? 0 : OSCAR_ENOMEM);
}

// store_destroy runs when the store is destroyed, here when the pool is
// freed. The callers still waiting on parked requests have been told
// already; the requests themselves go away with the actor.
static void store_destroy(oscar_actor_t *self)
{
	store_t *s = oscar_actor_state(self);

	printf("  [store] destroyed with %d request(s) still parked\n", s->n_waiters);
	s->n_waiters = 0;
	oscar_value_free(s->stock);
}

// store_wake answers the wait_for requests parked on item with its count.
static void store_wake(store_t *s, const char *item)
{
	int64_t n    = stock_of(s, item);
	int     kept = 0;

	for (int i = 0; i < s->n_waiters; i++) {
		if (strcmp(s->waiters[i].item, item) == 0) {
			oscar_req_reply(s->waiters[i].req, oscar_value_new_int(n));
		} else {
			s->waiters[kept++] = s->waiters[i];
		}
	}
	s->n_waiters = kept;
}

// store_add adds n of item, wakes its waiters and gives the new count.
static int store_add(store_t *s, const char *item, int64_t n, int64_t *total)
{
	int rv;

	*total = stock_of(s, item) + n;
	if ((rv = oscar_value_map_set(s->stock, item, oscar_value_new_int(*total))) != 0) {
		return (rv);
	}
	store_wake(s, item);
	return (0);
}

static int store_count(oscar_actor_t *self, oscar_req_t *req)
{
	store_t    *s = oscar_actor_state(self);
	const char *item;

	if (oscar_value_get_str(oscar_req_args(req), &item, NULL) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "count takes an item name"));
	}
	return (oscar_req_reply(req, oscar_value_new_int(stock_of(s, item))));
}

static int store_put(oscar_actor_t *self, oscar_req_t *req)
{
	store_t    *s = oscar_actor_state(self);
	const char *item;
	int64_t     n, total;
	int         rv;

	if (parse_order(oscar_req_args(req), &item, &n) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "put takes [item, count > 0]"));
	}
	if ((rv = store_add(s, item, n, &total)) != 0) {
		return (rv); // the caller gets rv with its standard message
	}
	return (oscar_req_reply(req, oscar_value_new_int(total)));
}

// store_put_batch receives a whole batch of put calls at once: its
// arguments are an array with one [item, count] per call, and it answers
// an array with one result per call. It checks every call before changing
// anything, so one bad call fails the whole batch and changes nothing.
static int store_put_batch(oscar_actor_t *self, oscar_req_t *req)
{
	store_t             *s     = oscar_actor_state(self);
	const oscar_value_t *calls = oscar_req_args(req);
	size_t               n     = oscar_value_len(calls);
	oscar_value_t       *out;
	const char          *item;
	int64_t              k, total;
	int                  rv;

	for (size_t i = 0; i < n; i++) {
		if (parse_order(oscar_value_at(calls, i), &item, &k) != 0) {
			return (oscar_req_fail(req, OSCAR_EBADARGS,
			    "put %zu of the batch: takes [item, count > 0]", i));
		}
	}
	if ((out = oscar_value_new_array(n)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		(void) parse_order(oscar_value_at(calls, i), &item, &k);
		if ((rv = store_add(s, item, k, &total)) != 0 ||
		    (rv = oscar_value_array_push(out, oscar_value_new_int(total))) != 0) {
			oscar_value_free(out);
			return (rv);
		}
	}
	return (oscar_req_reply(req, out));
}

static int store_take(oscar_actor_t *self, oscar_req_t *req)
{
	store_t    *s = oscar_actor_state(self);
	const char *item;
	int64_t     n, have;
	int         rv;

	if (parse_order(oscar_req_args(req), &item, &n) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "take takes [item, count > 0]"));
	}
	if ((have = stock_of(s, item)) < n) {
		return (oscar_req_fail(req, SHOP_ESTOCK,
		    "only %" PRId64 " %s left, %" PRId64 " asked", have, item, n));
	}
	if ((rv = oscar_value_map_set(s->stock, item, oscar_value_new_int(have - n))) != 0) {
		return (rv);
	}
	return (oscar_req_reply(req, oscar_value_new_int(have - n)));
}

// store_on_cancel runs when the caller of a parked wait_for cancels it. It
// forgets the request, which must not be answered from store_wake later,
// and answers it now: with an error here, but a value would do as well.
// Answering also lets the runtime free the request at once.
static void store_on_cancel(oscar_actor_t *self, oscar_req_t *req, void *arg)
{
	store_t    *s    = oscar_actor_state(self);
	const char *item = "?";

	(void) arg;
	for (int i = 0; i < s->n_waiters; i++) {
		if (s->waiters[i].req == req) {
			s->waiters[i] = s->waiters[--s->n_waiters];
			break;
		}
	}
	(void) oscar_value_get_str(oscar_req_args(req), &item, NULL);
	oscar_req_fail(req, OSCAR_ECANCELED, "stopped waiting for %s", item);
}

// store_wait_for answers at once when item is in stock; otherwise it parks
// the request until a put brings some. It yields: the store goes on
// serving other messages meanwhile, the put that will answer among them.
static int store_wait_for(oscar_actor_t *self, oscar_req_t *req)
{
	store_t    *s = oscar_actor_state(self);
	const char *item;
	size_t      len;
	int64_t     n;

	if (oscar_value_get_str(oscar_req_args(req), &item, &len) != 0 || len == 0 ||
	    len >= ITEM_MAX) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "wait_for takes an item name"));
	}
	if ((n = stock_of(s, item)) > 0) {
		return (oscar_req_reply(req, oscar_value_new_int(n)));
	}
	if (s->n_waiters == WAITERS_MAX) {
		return (oscar_req_fail(req, OSCAR_EMBOXFULL, "too many requests waiting"));
	}
	s->waiters[s->n_waiters].req = req;
	memcpy(s->waiters[s->n_waiters].item, item, len + 1);
	s->n_waiters++;
	oscar_req_on_cancel(req, store_on_cancel, NULL);
	return (oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static int store_waiting(oscar_actor_t *self, oscar_req_t *req)
{
	store_t *s = oscar_actor_state(self);

	return (oscar_req_reply(req, oscar_value_new_int(s->n_waiters)));
}

static const oscar_method_t store_methods[] = {
	{ "count", store_count, NULL },
	{ "put", store_put, store_put_batch },
	{ "take", store_take, NULL },
	{ "wait_for", store_wait_for, NULL },
	{ "waiting", store_waiting, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t store_class = {
	.name       = "store",
	.state_size = sizeof(store_t),
	.create     = store_create,
	.destroy    = store_destroy,
	.methods    = store_methods,
};

// ---------------------------------------------------------------------------
// clerk: serves order([item, n]) by taking the items from its store.

typedef struct clerk {
	oscar_ref_t store;
	int64_t     orders;
} clerk_t;

// clerk_create takes the uid of the store that serves its orders.
static int clerk_create(oscar_actor_t *self, const oscar_value_t *args)
{
	clerk_t    *c = oscar_actor_state(self);
	const char *uid;

	if (oscar_value_get_str(args, &uid, NULL) != 0) {
		return (OSCAR_EBADARGS);
	}
	// A ref is a value: this pool's address and the store's uid.
	return (oscar_ref_make(&c->store, oscar_actor_ref(self)->addr, uid));
}

// clerk_taken is the reply callback of the store's take. It runs on the
// pool thread after the store answered (or the call failed), and answers
// the order. The order request is still alive here: a request lives on
// until the callbacks of the calls made for it with oscar_req_call ran.
static void clerk_taken(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	clerk_t     *c   = oscar_actor_state(self);
	oscar_req_t *req = arg;
	const char  *item;
	int64_t      n, left = 0;
	char         line[128];

	if (res->code != 0) {
		// Pass the store's failure on, with its origin (actor, method).
		oscar_req_fail_result(req, res);
		return;
	}
	(void) parse_order(oscar_req_args(req), &item, &n);
	(void) oscar_value_get_int(res->value, &left);
	c->orders++;
	snprintf(line, sizeof(line), "order %" PRId64 ": %" PRId64 " %s shipped, %" PRId64 " left",
	    c->orders, n, item, left);
	oscar_req_reply(req, oscar_value_new_str(line));
}

// clerk_order calls the store on behalf of req and defers its answer. It
// holds: the clerk serves one order at a time, and later orders wait in
// its mailbox until this one is answered.
static int clerk_order(oscar_actor_t *self, oscar_req_t *req)
{
	clerk_t       *c = oscar_actor_state(self);
	oscar_value_t *args;
	const char    *item;
	int64_t        n;
	int            rv;

	if (parse_order(oscar_req_args(req), &item, &n) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "order takes [item, count > 0]"));
	}
	if ((args = oscar_value_copy(oscar_req_args(req))) == NULL) {
		return (OSCAR_ENOMEM);
	}
	rv = oscar_req_call(req, &c->store, "take", args, 0, clerk_taken, req, NULL);
	if (rv != 0) {
		// The call failed at once and clerk_taken will not run.
		// Returning its code passes the call's error details on.
		return (rv);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

static const oscar_method_t clerk_methods[] = {
	{ "order", clerk_order, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t clerk_class = {
	.name       = "clerk",
	.state_size = sizeof(clerk_t),
	.create     = clerk_create,
	.methods    = clerk_methods,
};

// ---------------------------------------------------------------------------
// The host program

static int failures;

// show prints one step: the reply, or the error with where it happened.
// want is what the step should give: the reply as oscar_value_format
// renders it, or the name of the error code. It takes reply.
static void show(
    const char *step, int rv, oscar_value_t *reply, const oscar_error_t *err, const char *want)
{
	char got[512];

	if (rv == 0) {
		oscar_value_format(reply, got, sizeof(got));
		printf("%-40s -> %s\n", step, got);
	} else {
		// err is filled for failures reported by the pool; a call
		// refused before it reached the pool may leave it as it was.
		if (err != NULL && err->code == rv) {
			oscar_error_format(err, got, sizeof(got));
		} else {
			snprintf(got, sizeof(got), "%s: %s", oscar_errname(rv), oscar_strerror(rv));
		}
		printf("%-40s -> error %s\n", step, got);
		snprintf(got, sizeof(got), "%s", oscar_errname(rv));
	}
	if (strcmp(got, want) != 0) {
		printf("  unexpected: wanted %s\n", want);
		failures++;
	}
	oscar_value_free(reply);
}

// order makes the arguments [item, n].
static oscar_value_t *order(const char *item, int64_t n)
{
	oscar_value_t *v = oscar_value_new_array(2);

	oscar_value_array_push(v, oscar_value_new_str(item));
	oscar_value_array_push(v, oscar_value_new_int(n));
	return (v);
}

// tell_nowait_retry posts a one-way message, trying again while the pool's
// inbox is full (OSCAR_EMBOXFULL: the pool pushes back). A failed post
// consumes its arguments too, so each try sends a copy. args are consumed.
static int tell_nowait_retry(
    oscar_pool_t *pool, const oscar_ref_t *ref, const char *method, oscar_value_t *args)
{
	int rv;

	do {
		oscar_value_t *copy = NULL;

		if (args != NULL && (copy = oscar_value_copy(args)) == NULL) {
			rv = OSCAR_ENOMEM;
			break;
		}
		// A real program would back off (sleep, or do other work)
		// before trying again.
		rv = oscar_tell_nowait(pool, ref, method, copy);
	} while (rv == OSCAR_EMBOXFULL);
	oscar_value_free(args);
	return (rv);
}

// wait_parked polls store.waiting() until n requests are parked, so that a
// cancel reaches a running request rather than one still queued.
static int wait_parked(oscar_pool_t *pool, const oscar_ref_t *store, int64_t n)
{
	for (;;) {
		oscar_value_t *reply;
		int64_t        got = -1;
		int            rv;

		if ((rv = oscar_call(pool, store, "waiting", NULL, WAIT_MS, &reply, NULL)) != 0) {
			return (rv);
		}
		rv = oscar_value_get_int(reply, &got);
		oscar_value_free(reply);
		if (rv != 0 || got == n) {
			return (rv);
		}
	}
}

int main(void)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *pool = NULL;
	oscar_ref_t         store, clerk, lost;
	oscar_value_t      *args, *reply;
	oscar_error_t       err;
	oscar_call_t       *call;
	bool                exists = true;
	int                 rv;

	// A pool: one loop thread. Its address is a name for now; refs carry
	// it.
	oscar_pool_config_init(&cfg);
	cfg.address = "inproc://shop";
	if ((rv = oscar_pool_open(&pool, &cfg, &err)) != 0) {
		fprintf(stderr, "oscar-actor-example: cannot open a pool: %s\n", err.message);
		return (EXIT_FAILURE);
	}
	printf("pool %s\n", oscar_pool_address(pool));

	// Actors. Creation arguments are consumed, like every argument.
	args = oscar_value_new_map(2);
	oscar_value_map_set(args, "apple", oscar_value_new_int(10));
	oscar_value_map_set(args, "pear", oscar_value_new_int(4));
	if ((rv = oscar_create(pool, &store_class, "store", args, WAIT_MS, &store, &err)) != 0 ||
	    (rv = oscar_create(pool, &clerk_class, NULL, oscar_value_new_str("store"), WAIT_MS,
	         &clerk, &err)) != 0 ||
	    (rv = oscar_create(pool, &clerk_class, "lost-clerk", oscar_value_new_str("nowhere"),
	         WAIT_MS, &lost, &err)) != 0) {
		show("create", rv, NULL, &err, "OK");
		oscar_pool_free(&pool);
		return (EXIT_FAILURE);
	}
	printf("created %s, %s and %s\n", store.uid, clerk.uid, lost.uid);

	// Calls: a reply, or an error with where it happened.
	rv = oscar_call(pool, &store, "count", oscar_value_new_str("apple"), WAIT_MS, &reply, &err);
	show("call store.count(\"apple\")", rv, reply, &err, "10");
	rv = oscar_call(pool, &store, "put", order("apple", 5), WAIT_MS, &reply, &err);
	show("call store.put([\"apple\", 5])", rv, reply, &err, "15");
	rv = oscar_call(pool, &store, "put", oscar_value_new_str("plenty"), WAIT_MS, &reply, &err);
	show("call store.put(\"plenty\")", rv, reply, &err, "EBADARGS");
	rv = oscar_call(pool, &store, "take", order("pear", 9), WAIT_MS, &reply, &err);
	show("call store.take([\"pear\", 9])", rv, reply, &err, "EUSER");
	rv = oscar_call(pool, &store, "steal", NULL, WAIT_MS, &reply, &err);
	show("call store.steal()", rv, reply, &err, "ENOMETHOD");

	// Tells: oscar_tell returns once the message is queued;
	// oscar_tell_nowait returns at once. Messages from one host thread
	// are served in the order they were sent, so the count below sees
	// them all.
	rv = oscar_tell(pool, &store, "put", order("plum", 3), WAIT_MS, &err);
	show("tell store.put([\"plum\", 3])", rv, NULL, &err, "null");
	for (int i = 0; i < 3 && rv == 0; i++) {
		rv = tell_nowait_retry(pool, &store, "put", order("plum", 1));
	}
	show("tell_nowait store.put([\"plum\", 1]) x3", rv, NULL, NULL, "null");
	rv = oscar_call(pool, &store, "count", oscar_value_new_str("plum"), WAIT_MS, &reply, &err);
	show("call store.count(\"plum\")", rv, reply, &err, "6");

	// Batches: put has a batch handler, which gets all three calls at
	// once; count has none, so the batch runs as three calls in order.
	args = oscar_value_new_array(3);
	oscar_value_array_push(args, order("apple", 1));
	oscar_value_array_push(args, order("pear", 1));
	oscar_value_array_push(args, order("plum", 1));
	rv = oscar_batch(pool, &store, "put", args, WAIT_MS, &reply, &err);
	show("batch store.put(apple, pear, plum)", rv, reply, &err, "[16, 5, 7]");
	args = oscar_value_new_array(3);
	oscar_value_array_push(args, oscar_value_new_str("apple"));
	oscar_value_array_push(args, oscar_value_new_str("pear"));
	oscar_value_array_push(args, oscar_value_new_str("plum"));
	rv = oscar_batch(pool, &store, "count", args, WAIT_MS, &reply, &err);
	show("batch store.count(apple, pear, plum)", rv, reply, &err, "[16, 5, 7]");

	// An actor calling an actor. A failure deep down keeps its origin.
	rv = oscar_call(pool, &clerk, "order", order("apple", 6), WAIT_MS, &reply, &err);
	show("call clerk.order([\"apple\", 6])", rv, reply, &err,
	    "\"order 1: 6 apple shipped, 10 left\"");
	rv = oscar_call(pool, &clerk, "order", order("pear", 50), WAIT_MS, &reply, &err);
	show("call clerk.order([\"pear\", 50])", rv, reply, &err, "EUSER");
	rv = oscar_call(pool, &lost, "order", order("apple", 1), WAIT_MS, &reply, &err);
	show("call lost-clerk.order([\"apple\", 1])", rv, reply, &err, "ENOACTOR");

	// A deferred request answered by a later message: wait_for("fig")
	// parks until a put brings figs. A handle from oscar_call_start must
	// be waited for exactly once; oscar_call_wait frees it.
	reply = NULL;
	args  = oscar_value_new_str("fig");
	rv    = oscar_call_start(pool, &store, "wait_for", args, WAIT_MS, &call);
	if (rv == 0) {
		if (wait_parked(pool, &store, 1) == 0) {
			args = order("fig", 2);
			rv   = oscar_call(pool, &store, "put", args, WAIT_MS, &reply, &err);
			show("call store.put([\"fig\", 2])", rv, reply, &err, "2");
		}
		rv = oscar_call_wait(&call, &reply, &err);
	}
	show("wait store.wait_for(\"fig\")", rv, reply, &err, "2");

	// Cancelling a running request: once it is parked, its cancel hook
	// decides the answer. (Cancelled while still queued, it would fail
	// with OSCAR_ECANCELED without ever running.)
	reply = NULL;
	args  = oscar_value_new_str("kiwi");
	rv    = oscar_call_start(pool, &store, "wait_for", args, WAIT_MS, &call);
	if (rv == 0) {
		if (wait_parked(pool, &store, 1) == 0) {
			oscar_call_cancel(call);
		}
		rv = oscar_call_wait(&call, &reply, &err);
	}
	show("cancel store.wait_for(\"kiwi\")", rv, reply, &err, "ECANCELED");

	// A deadline: nothing brings durians, so the call times out. The
	// request itself stays parked; its late answer would be discarded.
	rv = oscar_call(pool, &store, "wait_for", oscar_value_new_str("durian"), 50, &reply, &err);
	show("call store.wait_for(\"durian\"), 50 ms", rv, reply, &err, "ETIMEDOUT");
	rv = oscar_call(pool, &store, "waiting", NULL, WAIT_MS, &reply, &err);
	show("call store.waiting()", rv, reply, &err, "1");

	// Destroying an actor; the rest go with the pool.
	rv = oscar_destroy(pool, &clerk, WAIT_MS, &err);
	if (rv == 0) {
		rv = oscar_has(pool, &clerk, &exists, WAIT_MS);
	}
	show("destroy clerk", rv, oscar_value_new_bool(exists), &err, "false");

	oscar_pool_free(&pool);
	printf("pool freed; %s\n", failures == 0 ? "all steps as expected" : "some steps failed");
	return (failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
