// Task functions: function tables (names, duplicates, lookups, the list a
// worker reports), the context, the checked call, and the example
// functions called directly (crash in a forked child).
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "examples/task-functions/taskfns.h"
#include "oscar/oscar.h"
#include "oscar/task.h"
#include "services/task/task_int.h"

static oscar_taskfns_t *fns;

static void setup(void)
{
	oscar_error_t err;
	cr_assert_eq(oscar_taskfns_new(&fns), 0);
	cr_assert_eq(oscar_example_taskfns_add(fns, &err), 0, "%s", err.message);
}

static void teardown(void)
{
	oscar_taskfns_free(&fns);
	cr_assert_null(fns);
}

TestSuite(taskfn, .init = setup, .fini = teardown);

static int nop(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	*result = oscar_value_new_nil();
	return (0);
}

// call runs fn on args (consumed) as task "t" with n_output outputs.
static int call(const char *fn, unsigned n_output, oscar_value_t *args, oscar_value_t **result,
    oscar_error_t *err)
{
	oscar_task_ctx_t ctx;
	osc_task_ctx_init(&ctx, "s1", "t", n_output, NULL, NULL);
	int rv = osc_task_run(fns, fn, &ctx, args, result, err);
	oscar_value_free(args);
	return (rv);
}

// ints makes an array of n ints.
static oscar_value_t *ints(size_t n, const int64_t *v)
{
	oscar_value_t *a = oscar_value_new_array(n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(oscar_value_array_push(a, oscar_value_new_int(v[i])), 0);
	}
	return (a);
}

static oscar_value_t *floats(size_t n, const double *v)
{
	oscar_value_t *a = oscar_value_new_array(n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(oscar_value_array_push(a, oscar_value_new_float(v[i])), 0);
	}
	return (a);
}

static oscar_value_t *wrap(oscar_value_t *v)
{
	oscar_value_t *a = oscar_value_new_array(1);
	cr_assert_eq(oscar_value_array_push(a, v), 0);
	return (a);
}

Test(taskfn, table_names_in_order)
{
	const char *want[] = { "inc", "add", "sum", "sum_all", "triage", "fail", "crash", "sleep",
		"spin", "driver" };
	cr_assert_eq(oscar_taskfns_count(fns), 10);
	oscar_value_t *names = oscar_taskfns_names(fns);
	cr_assert_not_null(names);
	cr_assert_eq(oscar_value_len(names), 10);
	for (size_t i = 0; i < 10; i++) {
		cr_assert_str_eq(oscar_taskfns_name(fns, i), want[i]);
		cr_assert_str_eq(oscar_value_at(names, i)->as.str.ptr, want[i]);
	}
	cr_assert_null(oscar_taskfns_name(fns, 10));
	oscar_value_free(names);
}

Test(taskfn, duplicates_and_bad_names)
{
	oscar_error_t err;
	cr_assert_eq(oscar_taskfns_add(fns, "inc", nop, NULL, &err), OSCAR_EEXIST);
	cr_assert(strstr(err.message, "inc") != NULL, "%s", err.message);
	cr_assert_eq(oscar_example_taskfns_add(fns, &err), OSCAR_EEXIST);
	const char *bad[] = { "", "has space", "semi;colon", "slash/no", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(
		    oscar_taskfns_add(fns, bad[i], nop, NULL, &err), OSCAR_EINVAL, "%s", bad[i]);
		cr_assert(strstr(err.message, "bad task function name") != NULL);
	}
	cr_assert_eq(oscar_taskfns_add(fns, NULL, nop, NULL, &err), OSCAR_EINVAL);
	cr_assert_eq(oscar_taskfns_add(fns, "ok", NULL, NULL, &err), OSCAR_EINVAL);
	char long_name[OSCAR_NAME_MAX + 1];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_eq(oscar_taskfns_add(fns, long_name, nop, NULL, &err), OSCAR_EINVAL);
	long_name[OSCAR_NAME_MAX - 1] = '\0'; // 63 bytes: the longest allowed
	cr_assert_eq(oscar_taskfns_add(fns, long_name, nop, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(
	    oscar_taskfns_add(fns, "ns.mod:fn-2_x", nop, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_taskfns_count(fns), 12);
	// Nothing was added by the failures.
	cr_assert_eq(oscar_taskfns_find(fns, "has space", NULL, NULL), OSCAR_ENOENT);
}

Test(taskfn, find_gives_fn_and_arg)
{
	int           marker = 7;
	oscar_task_fn fn;
	void         *arg;
	cr_assert_eq(oscar_taskfns_add(fns, "nop", nop, &marker, NULL), 0);
	cr_assert_eq(oscar_taskfns_find(fns, "nop", &fn, &arg), 0);
	cr_assert_eq(fn, nop);
	cr_assert_eq(arg, &marker);
	cr_assert_eq(oscar_taskfns_find(fns, "nope", &fn, &arg), OSCAR_ENOENT);
	cr_assert_eq(oscar_taskfns_find(NULL, "nop", &fn, &arg), OSCAR_ENOENT);
}

Test(taskfn, truncate_takes_functions_back)
{
	size_t before = oscar_taskfns_count(fns);
	cr_assert_eq(oscar_taskfns_add(fns, "a1", nop, NULL, NULL), 0);
	cr_assert_eq(oscar_taskfns_add(fns, "a2", nop, NULL, NULL), 0);
	osc_taskfns_truncate(fns, before);
	cr_assert_eq(oscar_taskfns_count(fns), before);
	cr_assert_eq(oscar_taskfns_find(fns, "a1", NULL, NULL), OSCAR_ENOENT);
	cr_assert_eq(oscar_taskfns_find(fns, "inc", NULL, NULL), 0);
	// A name taken back can be added again.
	cr_assert_eq(oscar_taskfns_add(fns, "a1", nop, NULL, NULL), 0);
}

Test(taskfn, many_functions)
{
	char name[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(oscar_taskfns_add(fns, name, nop, NULL, NULL), 0);
	}
	for (int i = 0; i < 2000; i += 97) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(oscar_taskfns_find(fns, name, NULL, NULL), 0);
	}
	cr_assert_str_eq(oscar_taskfns_name(fns, 10 + 1999), "f1999");
}

static int seen_arg_fn(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	char buf[160];
	snprintf(buf, sizeof(buf), "%s/%s/%u/%d", oscar_task_session(ctx), oscar_task_key(ctx),
	    oscar_task_n_output(ctx), *(int *) oscar_task_arg(ctx));
	*result = oscar_value_new_str(buf);
	return (0);
}

static double last_progress = -1;

static void on_progress(void *arg, double fraction)
{
	*(double *) arg = fraction;
}

Test(taskfn, context)
{
	int marker = 3;
	cr_assert_eq(oscar_taskfns_add(fns, "seen", seen_arg_fn, &marker, NULL), 0);
	oscar_value_t *r;
	oscar_error_t  err;
	cr_assert_eq(call("seen", 1, NULL, &r, &err), 0, "%s", err.message);
	cr_assert_str_eq(r->as.str.ptr, "s1/t/1/3");
	oscar_value_free(r);

	oscar_task_ctx_t ctx;
	osc_task_ctx_init(&ctx, "s", "k", 1, on_progress, &last_progress);
	cr_assert_not(oscar_task_cancelled(&ctx));
	cr_assert_eq(oscar_task_progress(&ctx, 0.25), 0);
	cr_assert_float_eq(last_progress, 0.25, 1e-12);
	cr_assert_eq(oscar_task_progress(&ctx, 1.5), OSCAR_EINVAL);
	cr_assert_eq(oscar_task_progress(&ctx, -0.1), OSCAR_EINVAL);
	cr_assert_eq(oscar_task_progress(&ctx, NAN), OSCAR_EINVAL);
	cr_assert_float_eq(last_progress, 0.25, 1e-12);
	osc_task_ctx_cancel(&ctx);
	cr_assert(oscar_task_cancelled(&ctx));
	cr_assert_eq(oscar_task_fail(&ctx, 0, "zero"), OSCAR_EAPP);
	cr_assert_eq(oscar_task_fail(&ctx, OSCAR_EUSER + 5, "mine %d", 5), OSCAR_EUSER + 5);
	cr_assert_str_eq(ctx.err.message, "mine 5");
}

Test(taskfn, inc_add_sum)
{
	oscar_value_t *r;
	oscar_error_t  err;
	int64_t        i;
	double         f;
	// Seed 001: inc over 0..9, then sum_all of the ten results is 55.
	oscar_value_t *results = oscar_value_new_array(10);
	for (int64_t x = 0; x < 10; x++) {
		cr_assert_eq(call("inc", 1, ints(1, &x), &r, &err), 0, "%s", err.message);
		cr_assert_eq(oscar_value_get_int(r, &i), 0);
		cr_assert_eq(i, x + 1);
		cr_assert_eq(oscar_value_array_push(results, r), 0);
	}
	cr_assert_eq(call("sum_all", 1, wrap(results), &r, &err), 0, "%s", err.message);
	cr_assert_eq(r->type, OSCAR_INT);
	cr_assert_eq(r->as.i, 55);
	oscar_value_free(r);

	cr_assert_eq(call("inc", 1, floats(1, (double[]) { 1.5 }), &r, &err), 0);
	cr_assert_eq(oscar_value_get_float(r, &f), 0);
	cr_assert_float_eq(f, 2.5, 1e-12);
	oscar_value_free(r);

	cr_assert_eq(call("add", 1, ints(2, (int64_t[]) { 40, 2 }), &r, &err), 0);
	cr_assert_eq(r->as.i, 42);
	oscar_value_free(r);

	cr_assert_eq(call("sum", 1, ints(4, (int64_t[]) { 1, 2, 3, 4 }), &r, &err), 0);
	cr_assert_eq(r->type, OSCAR_INT);
	cr_assert_eq(r->as.i, 10);
	oscar_value_free(r);
	cr_assert_eq(call("sum", 1, oscar_value_new_array(0), &r, &err), 0);
	cr_assert_eq(r->as.i, 0);
	oscar_value_free(r);
	oscar_value_t *mixed = ints(2, (int64_t[]) { 1, 2 });
	cr_assert_eq(oscar_value_array_push(mixed, oscar_value_new_float(0.5)), 0);
	cr_assert_eq(call("sum", 1, mixed, &r, &err), 0);
	cr_assert_eq(r->type, OSCAR_FLOAT);
	cr_assert_float_eq(r->as.f, 3.5, 1e-12);
	oscar_value_free(r);
}

Test(taskfn, bad_arguments_are_clear_errors)
{
	oscar_value_t *r = NULL;
	oscar_error_t  err;
	cr_assert_eq(call("inc", 1, oscar_value_new_array(0), &r, &err), OSCAR_EBADARGS);
	cr_assert_null(r);
	cr_assert(strstr(err.message, "inc takes one number") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "task t") != NULL, "%s", err.message);

	oscar_value_t *a = oscar_value_new_array(1);
	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_str("x")), 0);
	cr_assert_eq(call("inc", 1, a, &r, &err), OSCAR_EBADARGS);
	cr_assert_eq(call("add", 1, ints(1, (int64_t[]) { 1 }), &r, &err), OSCAR_EBADARGS);
	cr_assert_eq(call("inc", 1, ints(1, (int64_t[]) { INT64_MAX }), &r, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "overflow") != NULL, "%s", err.message);

	a = oscar_value_new_array(2);
	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_int(1)), 0);
	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_nil()), 0);
	cr_assert_eq(call("sum", 1, a, &r, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "item 1 is a nil") != NULL, "%s", err.message);
	cr_assert_eq(call("sum_all", 1, ints(1, (int64_t[]) { 3 }), &r, &err), OSCAR_EBADARGS);
	cr_assert_eq(call("sleep", 1, ints(1, (int64_t[]) { -1 }), &r, &err), OSCAR_EBADARGS);
	cr_assert_null(r);
}

Test(taskfn, unknown_function)
{
	oscar_value_t *r = NULL;
	oscar_error_t  err;
	cr_assert_eq(call("nope", 1, NULL, &r, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "no task function called nope") != NULL, "%s", err.message);
	cr_assert_null(r);
}

Test(taskfn, triage_two_outputs)
{
	// Seed 001: triage([0.4, 0.7, 0.2, 0.8]) with n_output=2, then
	// sum_all of each output gives 0.6 and 1.5.
	oscar_value_t *r;
	oscar_error_t  err;
	cr_assert_eq(
	    call("triage", 2, wrap(floats(4, (double[]) { 0.4, 0.7, 0.2, 0.8 })), &r, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_value_len(r), 2);
	cr_assert_eq(oscar_value_len(oscar_value_at(r, 0)), 2);
	cr_assert_eq(oscar_value_len(oscar_value_at(r, 1)), 2);
	double want[2] = { 0.6, 1.5 };
	for (size_t i = 0; i < 2; i++) {
		oscar_value_t *s;
		cr_assert_eq(
		    call("sum_all", 1, wrap(oscar_value_copy(oscar_value_at(r, i))), &s, &err), 0);
		cr_assert_eq(s->type, OSCAR_FLOAT);
		cr_assert_float_eq(s->as.f, want[i], 1e-12);
		oscar_value_free(s);
	}
	oscar_value_free(r);
	// Asked for one output, triage says why it cannot.
	cr_assert_eq(
	    call("triage", 1, wrap(floats(1, (double[]) { 0.1 })), &r, &err), OSCAR_EBADARGS);
	cr_assert(strstr(err.message, "two outputs") != NULL, "%s", err.message);
}

Test(taskfn, result_shape_is_checked)
{
	oscar_value_t *r = NULL;
	oscar_error_t  err;
	// inc gives one value where three are wanted.
	cr_assert_eq(call("inc", 3, ints(1, (int64_t[]) { 1 }), &r, &err), OSCAR_EAPP);
	cr_assert(strstr(err.message, "n_output is 3 but the function returned 1 value") != NULL,
	    "%s", err.message);
	cr_assert_null(r);
}

static int no_result(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	return (0);
}

static int bare_error(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	return (OSCAR_EUSER + 1);
}

Test(taskfn, result_or_error_required)
{
	oscar_value_t *r = NULL;
	oscar_error_t  err;
	cr_assert_eq(oscar_taskfns_add(fns, "none", no_result, NULL, NULL), 0);
	cr_assert_eq(oscar_taskfns_add(fns, "bare", bare_error, NULL, NULL), 0);
	cr_assert_eq(call("none", 1, NULL, &r, &err), OSCAR_EAPP);
	cr_assert(strstr(err.message, "without a result") != NULL, "%s", err.message);
	cr_assert_eq(call("bare", 1, NULL, &r, &err), OSCAR_EUSER + 1);
	cr_assert(strstr(err.message, "application error") != NULL, "%s", err.message);
}

Test(taskfn, fail_with_message_and_code)
{
	oscar_value_t *r = NULL;
	oscar_error_t  err;
	oscar_value_t *a = oscar_value_new_array(2);
	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_str("the disk is on fire")), 0);
	cr_assert_eq(oscar_value_array_push(a, oscar_value_new_int(OSCAR_EUSER + 42)), 0);
	cr_assert_eq(call("fail", 1, a, &r, &err), OSCAR_EUSER + 42);
	cr_assert_str_eq(err.message, "task t (fail): the disk is on fire");
	cr_assert_eq(call("fail", 1, oscar_value_new_array(0), &r, &err), OSCAR_EAPP);
	cr_assert(strstr(err.message, "failed on purpose") != NULL, "%s", err.message);
	cr_assert_null(r);
}

Test(taskfn, sleep_finishes)
{
	oscar_value_t   *r;
	oscar_error_t    err;
	double           progress = -1;
	oscar_task_ctx_t ctx;
	osc_task_ctx_init(&ctx, "s", "nap", 1, on_progress, &progress);
	oscar_value_t *args = ints(1, (int64_t[]) { 12 });
	cr_assert_eq(osc_task_run(fns, "sleep", &ctx, args, &r, &err), 0, "%s", err.message);
	oscar_value_free(args);
	cr_assert_eq(r->as.i, 12);
	cr_assert_gt(progress, 0.0);
	oscar_value_free(r);
}

Test(taskfn, sleep_sees_cancel_before_start)
{
	oscar_value_t   *r = NULL;
	oscar_error_t    err;
	oscar_task_ctx_t ctx;
	osc_task_ctx_init(&ctx, "s", "nap", 1, NULL, NULL);
	osc_task_ctx_cancel(&ctx);
	oscar_value_t *args = ints(1, (int64_t[]) { 600000 });
	cr_assert_eq(osc_task_run(fns, "sleep", &ctx, args, &r, &err), OSCAR_ECANCELED);
	oscar_value_free(args);
	cr_assert(strstr(err.message, "cancelled") != NULL, "%s", err.message);
	cr_assert_null(r);
}

typedef struct runner {
	oscar_task_ctx_t ctx;
	oscar_value_t   *args;
	oscar_value_t   *result;
	oscar_error_t    err;
	int              rv;
} runner_t;

static void *run_thread(void *arg)
{
	runner_t *ru = arg;
	ru->rv       = osc_task_run(fns, "sleep", &ru->ctx, ru->args, &ru->result, &ru->err);
	return (NULL);
}

static void on_progress_signal(void *arg, double fraction)
{
	// The first report tells the test the function is running.
	sem_t *started = arg;
	int    v;
	if (sem_getvalue(started, &v) == 0 && v == 0) {
		sem_post(started);
	}
}

Test(taskfn, sleep_sees_cancel_while_running)
{
	// Ten minutes of sleep, cancelled once it runs: it returns
	// ECANCELED, or the test's own timeout fails it.
	runner_t ru;
	sem_t    started;
	cr_assert_eq(sem_init(&started, 0, 0), 0);
	memset(&ru, 0, sizeof(ru));
	osc_task_ctx_init(&ru.ctx, "s", "nap", 1, on_progress_signal, &started);
	ru.args = ints(1, (int64_t[]) { 600000 });
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, run_thread, &ru), 0);
	cr_assert_eq(sem_wait(&started), 0);
	osc_task_ctx_cancel(&ru.ctx);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(ru.rv, OSCAR_ECANCELED, "%s", ru.err.message);
	cr_assert(strstr(ru.err.message, "ms left") != NULL, "%s", ru.err.message);
	cr_assert_null(ru.result);
	oscar_value_free(ru.args);
	sem_destroy(&started);
}

// crash_in_child runs crash with how in a forked child and returns how
// the child ended.
static int crash_in_child(const char *how)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		// The default action, not a sanitizer's report: the child
		// dies of the signal, as a slot would.
		signal(SIGSEGV, SIG_DFL);
		oscar_value_t *r;
		oscar_value_t *a = oscar_value_new_array(1);
		oscar_value_array_push(a, oscar_value_new_str(how));
		call("crash", 1, a, &r, NULL);
		_exit(0); // not reached
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return (status);
}

Test(taskfn, crash_kills_its_process)
{
	int status = crash_in_child("abort");
	cr_assert(WIFSIGNALED(status), "status %d", status);
	cr_assert_eq(WTERMSIG(status), SIGABRT);
	status = crash_in_child("segv");
	cr_assert(WIFSIGNALED(status), "status %d", status);
	cr_assert_eq(WTERMSIG(status), SIGSEGV);
}
