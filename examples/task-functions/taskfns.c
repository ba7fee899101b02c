// The example task functions. Arguments come as an array of positional
// arguments, as with Mars's spawn(fn, args=(...)): inc([41]) is 42.
//
//   inc([x])            x + 1
//   add([a, b])         a + b
//   sum([x, y, ...])    the sum of the arguments
//   sum_all([[x, ...]]) the sum of one list (seed 001's sum_all)
//   triage([[x, ...]])  two outputs: the items below 0.5, the others
//   fail([msg, code])   fails with msg (default "failed on purpose") and
//                       code (default OSCAR_EAPP)
//   crash(["abort"])    kills its process: abort(), or SIGSEGV with "segv"
//   sleep([ms])         sleeps ms milliseconds, polling its cancelled
//                       flag; gives ms, or fails with OSCAR_ECANCELED
//   spin([])            never returns, and ignores its cancelled flag
//   driver([n, depth])  seed 001's driver: submits inc over 0..n-1 (n
//                       default 10) to its own session, waits, and gives
//                       the list of results; with depth > 0 it submits a
//                       driver of depth - 1 instead and gives its result
//
// Numbers are integers or floats; a sum of integers is an integer (an
// overflow is an error), a sum with a float in it is a float.
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "oscar/graph.h"
#include "taskfns.h"

// num_t is a number read from an argument.
typedef struct num {
	bool    is_float;
	int64_t i;
	double  f;
} num_t;

static int num_get(const oscar_value_t *v, num_t *n)
{
	if (v == NULL) {
		return (OSCAR_EBADARGS);
	}
	if ((v->type == OSCAR_INT || v->type == OSCAR_UINT) && oscar_value_get_int(v, &n->i) == 0) {
		n->is_float = false;
		return (0);
	}
	if (oscar_value_get_float(v, &n->f) == 0) {
		n->is_float = true;
		return (0);
	}
	return (OSCAR_EBADARGS);
}

// num_add adds b to a; OSCAR_EBADARGS when integers overflow.
static int num_add(num_t *a, const num_t *b)
{
	if (!a->is_float && !b->is_float) {
		return (__builtin_add_overflow(a->i, b->i, &a->i) ? OSCAR_EBADARGS : 0);
	}
	double x    = a->is_float ? a->f : (double) a->i;
	double y    = b->is_float ? b->f : (double) b->i;
	a->is_float = true;
	a->f        = x + y;
	return (0);
}

static int num_result(const num_t *n, oscar_value_t **result)
{
	*result = n->is_float ? oscar_value_new_float(n->f) : oscar_value_new_int(n->i);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// sum_items sums the items of an array value into *total.
static int sum_items(oscar_task_ctx_t *ctx, const char *fn, const oscar_value_t *list, num_t *total)
{
	*total = (num_t) { false, 0, 0.0 };
	if (list == NULL || list->type != OSCAR_ARRAY) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "%s takes a list of numbers", fn));
	}
	for (size_t i = 0; i < list->as.arr.len; i++) {
		num_t n;
		if (num_get(&list->as.arr.items[i], &n) != 0) {
			return (oscar_task_fail(ctx, OSCAR_EBADARGS,
			    "%s: item %zu is a %s, not a number", fn, i,
			    oscar_type_name(list->as.arr.items[i].type)));
		}
		if (num_add(total, &n) != 0) {
			return (oscar_task_fail(ctx, OSCAR_EBADARGS, "%s: integer overflow", fn));
		}
	}
	return (0);
}

static int fn_inc(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	num_t x;
	num_t one = { false, 1, 0.0 };
	if (oscar_value_len(args) != 1 || args->type != OSCAR_ARRAY ||
	    num_get(oscar_value_at(args, 0), &x) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "inc takes one number"));
	}
	if (num_add(&x, &one) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "inc: integer overflow"));
	}
	return (num_result(&x, result));
}

static int fn_add(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	num_t a, b;
	if (oscar_value_len(args) != 2 || args->type != OSCAR_ARRAY ||
	    num_get(oscar_value_at(args, 0), &a) != 0 ||
	    num_get(oscar_value_at(args, 1), &b) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "add takes two numbers"));
	}
	if (num_add(&a, &b) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "add: integer overflow"));
	}
	return (num_result(&a, result));
}

static int fn_sum(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	num_t total;
	int   rv;
	if ((rv = sum_items(ctx, "sum", args, &total)) != 0) {
		return (rv);
	}
	return (num_result(&total, result));
}

static int fn_sum_all(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	num_t total;
	int   rv;
	if (oscar_value_len(args) != 1 || args->type != OSCAR_ARRAY) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "sum_all takes one list of numbers"));
	}
	if ((rv = sum_items(ctx, "sum_all", oscar_value_at(args, 0), &total)) != 0) {
		return (rv);
	}
	return (num_result(&total, result));
}

static int fn_triage(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const oscar_value_t *list = oscar_value_at(args, 0);
	if (oscar_value_len(args) != 1 || args->type != OSCAR_ARRAY || list == NULL ||
	    list->type != OSCAR_ARRAY) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "triage takes one list of numbers"));
	}
	if (oscar_task_n_output(ctx) != 2) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS,
		    "triage has two outputs (n_output=2), not %u", oscar_task_n_output(ctx)));
	}
	oscar_value_t *low  = oscar_value_new_array(list->as.arr.len);
	oscar_value_t *high = oscar_value_new_array(list->as.arr.len);
	oscar_value_t *out  = oscar_value_new_array(2);
	if (low == NULL || high == NULL || out == NULL) {
		oscar_value_free(low);
		oscar_value_free(high);
		oscar_value_free(out);
		return (OSCAR_ENOMEM);
	}
	int rv = 0;
	for (size_t i = 0; i < list->as.arr.len && rv == 0; i++) {
		const oscar_value_t *item = &list->as.arr.items[i];
		double               x;
		if (oscar_value_get_float(item, &x) != 0) {
			rv = oscar_task_fail(ctx, OSCAR_EBADARGS,
			    "triage: item %zu is a %s, not a number", i,
			    oscar_type_name(item->type));
			break;
		}
		rv = oscar_value_array_push(x < 0.5 ? low : high, oscar_value_copy(item));
	}
	if (rv != 0) {
		oscar_value_free(low);
		oscar_value_free(high);
		oscar_value_free(out);
		return (rv);
	}
	// Each push consumes its item, on failure too.
	if ((rv = oscar_value_array_push(out, low)) != 0) {
		oscar_value_free(high);
		oscar_value_free(out);
		return (rv);
	}
	if ((rv = oscar_value_array_push(out, high)) != 0) {
		oscar_value_free(out);
		return (rv);
	}
	*result = out;
	return (0);
}

static int fn_fail(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const char *msg  = "failed on purpose";
	size_t      len  = 0;
	int64_t     code = OSCAR_EAPP;
	if (oscar_value_len(args) >= 1) {
		oscar_value_get_str(oscar_value_at(args, 0), &msg, &len);
	}
	if (oscar_value_len(args) >= 2 &&
	    (oscar_value_get_int(oscar_value_at(args, 1), &code) != 0 || code <= 0 ||
	        code > INT32_MAX)) {
		return (oscar_task_fail(
		    ctx, OSCAR_EBADARGS, "fail: the code must be a positive integer"));
	}
	return (oscar_task_fail(ctx, (int) code, "%s", msg));
}

static int fn_crash(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const char *how = "abort";
	size_t      len = 0;
	if (oscar_value_len(args) >= 1) {
		oscar_value_get_str(oscar_value_at(args, 0), &how, &len);
	}
	if (how[0] == 's') {
		raise(SIGSEGV);
	}
	abort();
}

// nap sleeps for ms milliseconds (at most a second).
static void nap(int64_t ms)
{
	struct timespec ts = { 0, (long) ms * 1000000L };
	nanosleep(&ts, NULL);
}

static int fn_sleep(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t ms;
	if (oscar_value_len(args) != 1 || args->type != OSCAR_ARRAY ||
	    oscar_value_get_int(oscar_value_at(args, 0), &ms) != 0 || ms < 0) {
		return (
		    oscar_task_fail(ctx, OSCAR_EBADARGS, "sleep takes a number of milliseconds"));
	}
	// Poll the flag every 5 ms at most.
	for (int64_t left = ms; left > 0; left -= 5) {
		if (oscar_task_cancelled(ctx)) {
			return (oscar_task_fail(ctx, OSCAR_ECANCELED,
			    "sleep: cancelled with %" PRId64 " ms left", left));
		}
		nap(left < 5 ? left : 5);
		oscar_task_progress(ctx, (double) (ms - left) / (double) ms);
	}
	if (oscar_task_cancelled(ctx)) {
		return (oscar_task_fail(ctx, OSCAR_ECANCELED, "sleep: cancelled"));
	}
	*result = oscar_value_new_int(ms);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

static int fn_spin(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	// On purpose: only killing the slot stops it.
	for (;;) {
		nap(10);
	}
	return (OSCAR_EAPP); // not reached
}

// driver_run submits graph to the task's session, waits for it and
// fetches the result of each key of keys (n of them) into a list, or the
// one result when list is false.
static int driver_run(oscar_task_ctx_t *ctx, oscar_value_t *graph, char (*keys)[300], size_t n,
    bool list, oscar_value_t **result)
{
	char           id[OSCAR_GRAPH_ID_MAX];
	oscar_error_t  err;
	oscar_value_t *info = NULL;
	int            rv   = oscar_task_submit(ctx, graph, id, sizeof(id), 10000, &err);
	if (rv == 0) {
		rv = oscar_task_wait(ctx, id, 600000, &info, &err);
	}
	if (rv != 0) {
		return (oscar_task_fail(ctx, rv, "driver: %s", err.message));
	}
	const char *status = oscar_value_map_str(info, "status");
	if (status == NULL || strcmp(status, "done") != 0) {
		oscar_value_free(info);
		return (oscar_task_fail(ctx, OSCAR_EAPP, "driver: its graph %s ended %s", id,
		    status != NULL ? status : "?"));
	}
	oscar_value_free(info);
	oscar_value_t *out = list ? oscar_value_new_array(n) : NULL;
	for (size_t i = 0; i < n; i++) {
		oscar_value_t *v;
		if ((rv = oscar_task_fetch(ctx, keys[i], 10000, &v, &err)) != 0) {
			oscar_value_free(out);
			return (oscar_task_fail(ctx, rv, "driver: %s", err.message));
		}
		if (!list) {
			*result = v;
			return (0);
		}
		if (oscar_value_array_push(out, v) != 0) {
			oscar_value_free(out);
			return (OSCAR_ENOMEM);
		}
	}
	*result = out;
	return (out != NULL ? 0 : OSCAR_ENOMEM);
}

static int fn_driver(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t n = 10, depth = 0;
	if ((oscar_value_len(args) > 0 && oscar_value_get_int(oscar_value_at(args, 0), &n) != 0) ||
	    (oscar_value_len(args) > 1 &&
	        oscar_value_get_int(oscar_value_at(args, 1), &depth) != 0) ||
	    n < 1 || n > 1000 || depth < 0 || depth > 6) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS,
		    "driver takes [n, depth]: n from 1 to 1000, depth from 0 to 6"));
	}
	char(*keys)[300]     = calloc((size_t) n, sizeof(*keys));
	oscar_value_t *graph = oscar_value_new_array((size_t) n);
	if (keys == NULL || graph == NULL) {
		free(keys);
		oscar_value_free(graph);
		return (OSCAR_ENOMEM);
	}
	int rv = 0;
	if (depth > 0) {
		oscar_value_t *a = oscar_value_new_array(2);
		snprintf(keys[0], sizeof(keys[0]), "%.200s/d", oscar_task_key(ctx));
		oscar_value_array_push(a, oscar_value_new_int(n));
		oscar_value_array_push(a, oscar_value_new_int(depth - 1));
		rv =
		    oscar_value_array_push(graph, oscar_graph_task(keys[0], "driver", a, 1, false));
		rv = rv != 0 ? rv : driver_run(ctx, graph, keys, 1, false, result);
		free(keys);
		return (rv);
	}
	for (int64_t i = 0; rv == 0 && i < n; i++) {
		oscar_value_t *a = oscar_value_new_array(1);
		snprintf(keys[i], sizeof(keys[i]), "%.200s/inc-%" PRId64, oscar_task_key(ctx), i);
		oscar_value_array_push(a, oscar_value_new_int(i));
		rv = oscar_value_array_push(graph, oscar_graph_task(keys[i], "inc", a, 1, false));
	}
	if (rv != 0) {
		oscar_value_free(graph);
		free(keys);
		return (OSCAR_ENOMEM);
	}
	rv = driver_run(ctx, graph, keys, (size_t) n, true, result);
	free(keys);
	return (rv);
}

static const struct {
	const char   *name;
	oscar_task_fn fn;
} examples[] = {
	{ "inc", fn_inc },
	{ "add", fn_add },
	{ "sum", fn_sum },
	{ "sum_all", fn_sum_all },
	{ "triage", fn_triage },
	{ "fail", fn_fail },
	{ "crash", fn_crash },
	{ "sleep", fn_sleep },
	{ "spin", fn_spin },
	{ "driver", fn_driver },
};

int oscar_example_taskfns_add(oscar_taskfns_t *fns, oscar_error_t *err)
{
	int rv;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		if ((rv = oscar_taskfns_add(fns, examples[i].name, examples[i].fn, NULL, err)) !=
		    0) {
			return (rv);
		}
	}
	return (0);
}
