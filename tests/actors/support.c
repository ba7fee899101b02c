// Actor classes shared by the tests of actors/ (no Criterion here: the
// sub pool test program links this file too).
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/actors/support.h"

atomic_int test_destroyed;
atomic_int test_block_hooks;
uv_sem_t   test_block_sem;
uv_sem_t   test_block_started;

// ---------------------------------------------------------------------------
// counter

typedef struct counter {
	int64_t        total;
	int64_t        batches;
	oscar_value_t *log;
} counter_t;

static int counter_create(oscar_actor_t *self, const oscar_value_t *args)
{
	counter_t  *c = oscar_actor_state(self);
	const char *s;
	if (oscar_value_get_str(args, &s, NULL) == 0 && strcmp(s, "fail") == 0) {
		return (OSCAR_EBADARGS);
	}
	(void) oscar_value_get_int(args, &c->total);
	c->log = oscar_value_new_array(4);
	return (c->log != NULL ? 0 : OSCAR_ENOMEM);
}

static void counter_destroy(oscar_actor_t *self)
{
	counter_t *c = oscar_actor_state(self);
	oscar_value_free(c->log);
	atomic_fetch_add(&test_destroyed, 1);
}

static int counter_add(oscar_actor_t *self, oscar_req_t *req)
{
	counter_t *c = oscar_actor_state(self);
	int64_t    n;
	if (oscar_value_get_int(oscar_req_args(req), &n) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "add takes an int"));
	}
	c->total += n;
	return (oscar_req_reply(req, oscar_value_new_int(c->total)));
}

static int counter_get(oscar_actor_t *self, oscar_req_t *req)
{
	counter_t *c = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_int(c->total)));
}

static int counter_fail(oscar_actor_t *self, oscar_req_t *req)
{
	int64_t n = 0;
	(void) oscar_value_get_int(oscar_req_args(req), &n);
	return (oscar_req_fail(req, OSCAR_EAPP, "boom %lld", (long long) n));
}

static int counter_err(oscar_actor_t *self, oscar_req_t *req)
{
	return (OSCAR_EBADARGS);
}

static int counter_log(oscar_actor_t *self, oscar_req_t *req)
{
	counter_t *c = oscar_actor_state(self);
	return (oscar_value_array_push(c->log, oscar_req_take_args(req)));
}

static int counter_get_log(oscar_actor_t *self, oscar_req_t *req)
{
	counter_t *c = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_copy(c->log)));
}

static int counter_sum_batch(oscar_actor_t *self, oscar_req_t *req)
{
	counter_t           *c    = oscar_actor_state(self);
	const oscar_value_t *args = oscar_req_args(req);
	oscar_value_t       *out  = oscar_value_new_array(oscar_value_len(args));
	c->batches++;
	for (size_t i = 0; i < oscar_value_len(args); i++) {
		int64_t n;
		if (oscar_value_get_int(oscar_value_at(args, i), &n) != 0) {
			oscar_value_free(out);
			return (oscar_req_fail(req, OSCAR_EBADARGS, "item %zu is not an int", i));
		}
		c->total += n;
		oscar_value_array_push(out, oscar_value_new_int(c->total));
	}
	return (oscar_req_reply(req, out));
}

static int counter_batches(oscar_actor_t *self, oscar_req_t *req)
{
	counter_t *c = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_int(c->batches)));
}

static int counter_bad_batch(oscar_actor_t *self, oscar_req_t *req)
{
	size_t         n   = oscar_value_len(oscar_req_args(req));
	oscar_value_t *out = oscar_value_new_array(n);
	for (size_t i = 0; i + 1 < n; i++) {
		oscar_value_array_push(out, oscar_value_new_nil());
	}
	return (oscar_req_reply(req, out));
}

static int counter_quit(oscar_actor_t *self, oscar_req_t *req)
{
	oscar_actor_exit(self);
	return (0);
}

static int counter_echo(oscar_actor_t *self, oscar_req_t *req)
{
	return (oscar_req_reply(req, oscar_req_take_args(req)));
}

static int counter_sync_call(oscar_actor_t *self, oscar_req_t *req)
{
	oscar_error_t err;
	return (oscar_call(
	    oscar_actor_pool(self), oscar_actor_ref(self), "get", NULL, 1000, NULL, &err));
}

static const oscar_method_t counter_methods[] = {
	{ "add", counter_add, NULL },
	{ "get", counter_get, NULL },
	{ "fail", counter_fail, NULL },
	{ "err", counter_err, NULL },
	{ "log", counter_log, NULL },
	{ "get_log", counter_get_log, NULL },
	{ "sum", counter_add, counter_sum_batch },
	{ "batches", counter_batches, NULL },
	{ "bad_batch", counter_add, counter_bad_batch },
	{ "quit", counter_quit, NULL },
	{ "sync_call", counter_sync_call, NULL },
	{ "echo", counter_echo, NULL },
	{ NULL, NULL, NULL },
};

const oscar_actor_class_t test_counter_class = {
	.name       = "counter",
	.state_size = sizeof(counter_t),
	.create     = counter_create,
	.destroy    = counter_destroy,
	.methods    = counter_methods,
};

// ---------------------------------------------------------------------------
// gate

#define GATE_MAX 512

typedef struct gate {
	oscar_req_t *waiting[GATE_MAX];
	int          n;
	bool         hook;
	bool         cancelled;
} gate_t;

static int gate_create(oscar_actor_t *self, const oscar_value_t *args)
{
	gate_t     *g = oscar_actor_state(self);
	const char *s;
	g->hook = oscar_value_get_str(args, &s, NULL) == 0 && strcmp(s, "hook") == 0;
	return (0);
}

static void gate_forget(gate_t *g, oscar_req_t *req)
{
	for (int i = 0; i < g->n; i++) {
		if (g->waiting[i] == req) {
			g->waiting[i] = g->waiting[--g->n];
			return;
		}
	}
}

static void gate_on_cancel(oscar_actor_t *self, oscar_req_t *req, void *arg)
{
	gate_t *g = oscar_actor_state(self);
	char    s[32];
	g->cancelled = true;
	gate_forget(g, req);
	if (g->hook) {
		snprintf(s, sizeof(s), "cancelled-%d", g->n);
		oscar_req_reply(req, oscar_value_new_str(s));
	}
}

static int gate_park(oscar_actor_t *self, oscar_req_t *req, oscar_defer_t mode)
{
	gate_t *g = oscar_actor_state(self);
	if (g->n == GATE_MAX) {
		return (OSCAR_EMBOXFULL);
	}
	g->waiting[g->n++] = req;
	oscar_req_on_cancel(req, gate_on_cancel, NULL);
	return (oscar_req_defer(req, mode));
}

static int gate_wait(oscar_actor_t *self, oscar_req_t *req)
{
	return (gate_park(self, req, OSCAR_DEFER_YIELD));
}

static int gate_hold(oscar_actor_t *self, oscar_req_t *req)
{
	return (gate_park(self, req, OSCAR_DEFER_HOLD));
}

static int gate_open(oscar_actor_t *self, oscar_req_t *req)
{
	gate_t              *g = oscar_actor_state(self);
	const oscar_value_t *v = oscar_req_args(req);
	int                  n = g->n;
	// Answering may not touch the list: copy it first.
	oscar_req_t *w[GATE_MAX];
	memcpy(w, g->waiting, sizeof(w[0]) * (size_t) n);
	g->n = 0;
	for (int i = 0; i < n; i++) {
		oscar_req_reply(w[i], v ? oscar_value_copy(v) : NULL);
	}
	return (oscar_req_reply(req, oscar_value_new_int(n)));
}

static int gate_waiting(oscar_actor_t *self, oscar_req_t *req)
{
	gate_t *g = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_int(g->n)));
}

static int gate_was_cancelled(oscar_actor_t *self, oscar_req_t *req)
{
	gate_t *g = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_bool(g->cancelled)));
}

static void gate_destroy(oscar_actor_t *self)
{
	gate_t *g = oscar_actor_state(self);
	g->n      = 0;
	atomic_fetch_add(&test_destroyed, 1);
}

static const oscar_method_t gate_methods[] = {
	{ "wait", gate_wait, NULL },
	{ "hold", gate_hold, NULL },
	{ "open", gate_open, NULL },
	{ "waiting", gate_waiting, NULL },
	{ "was_cancelled", gate_was_cancelled, NULL },
	{ NULL, NULL, NULL },
};

const oscar_actor_class_t test_gate_class = {
	.name       = "gate",
	.state_size = sizeof(gate_t),
	.create     = gate_create,
	.destroy    = gate_destroy,
	.methods    = gate_methods,
};

// ---------------------------------------------------------------------------
// relay

typedef struct relay {
	oscar_value_t *log;
} relay_t;

static int relay_create(oscar_actor_t *self, const oscar_value_t *args)
{
	relay_t *r = oscar_actor_state(self);
	r->log     = oscar_value_new_array(4);
	return (0);
}

static void relay_destroy(oscar_actor_t *self)
{
	relay_t *r = oscar_actor_state(self);
	oscar_value_free(r->log);
}

static void relay_reply(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	relay_t     *r   = oscar_actor_state(self);
	oscar_req_t *req = arg;
	oscar_value_array_push(r->log, oscar_value_new_str("reply"));
	if (res->code != 0) {
		oscar_req_fail_result(req, res);
		return;
	}
	oscar_req_reply(req, res->value);
	res->value = NULL;
}

// relay_via: args [hold, uid, method, rest...].
static int relay_via(oscar_actor_t *self, oscar_req_t *req)
{
	const oscar_value_t *args = oscar_req_args(req);
	bool                 hold;
	const char          *uid, *method;
	oscar_ref_t          ref;
	int                  rv;
	if (oscar_value_get_bool(oscar_value_at(args, 0), &hold) != 0 ||
	    oscar_value_get_str(oscar_value_at(args, 1), &uid, NULL) != 0 ||
	    oscar_value_get_str(oscar_value_at(args, 2), &method, NULL) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "via takes [hold, uid, method, ...]"));
	}
	// "uid@address" names an actor of another pool.
	const char *at = strchr(uid, '@');
	if (at != NULL) {
		char local[OSCAR_UID_MAX];
		snprintf(local, sizeof(local), "%.*s", (int) (at - uid), uid);
		oscar_ref_make(&ref, at + 1, local);
	} else {
		oscar_ref_make(&ref, oscar_actor_ref(self)->addr, uid);
	}
	oscar_value_t *next = NULL;
	if (oscar_value_len(args) > 3) {
		next = oscar_value_new_array(oscar_value_len(args) - 2);
		oscar_value_array_push(next, oscar_value_new_bool(hold));
		for (size_t i = 3; i < oscar_value_len(args); i++) {
			oscar_value_array_push(next, oscar_value_copy(oscar_value_at(args, i)));
		}
	}
	if ((rv = oscar_req_call(req, &ref, method, next, 0, relay_reply, req, NULL)) != 0) {
		return (rv);
	}
	return (oscar_req_defer(req, hold ? OSCAR_DEFER_HOLD : OSCAR_DEFER_YIELD));
}

static int relay_noop(oscar_actor_t *self, oscar_req_t *req)
{
	return (oscar_req_reply(req, oscar_value_new_str("noop")));
}

static int relay_get_log(oscar_actor_t *self, oscar_req_t *req)
{
	relay_t *r = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_copy(r->log)));
}

static const oscar_method_t relay_methods[] = {
	{ "via", relay_via, NULL },
	{ "noop", relay_noop, NULL },
	{ "get_log", relay_get_log, NULL },
	{ NULL, NULL, NULL },
};

const oscar_actor_class_t test_relay_class = {
	.name       = "relay",
	.state_size = sizeof(relay_t),
	.create     = relay_create,
	.destroy    = relay_destroy,
	.methods    = relay_methods,
};

// ---------------------------------------------------------------------------
// blocker

static void blocker_block_now(void)
{
	uv_sem_post(&test_block_started);
	uv_sem_wait(&test_block_sem);
}

static int blocker_create(oscar_actor_t *self, const oscar_value_t *args)
{
	if (atomic_load(&test_block_hooks) & 1) {
		blocker_block_now();
	}
	return (0);
}

static void blocker_destroy(oscar_actor_t *self)
{
	if (atomic_load(&test_block_hooks) & 2) {
		blocker_block_now();
	}
}

static int blocker_block(oscar_actor_t *self, oscar_req_t *req)
{
	blocker_block_now();
	return (0);
}

static const oscar_method_t blocker_methods[] = {
	{ "block", blocker_block, NULL },
	{ NULL, NULL, NULL },
};

const oscar_actor_class_t test_blocker_class = {
	.name    = "blocker",
	.create  = blocker_create,
	.destroy = blocker_destroy,
	.methods = blocker_methods,
};
