// A client program of the session tests: it defines its own task
// functions, and runs them on the default session, a local cluster of
// this very program started on first use (oscar_session_main). It prints
// what it got and exits 0 only when every result was right.
//
//     oscar-test-session-local            spawn, execute, fetch; futures
//     oscar-test-session-local exit       the same, then exit without closing
//     oscar-test-session-local gone       kills the cluster's supervisor while
//                                         waiting: the wait must say so
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oscar/oscar.h"

static int twice(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t x;
	if (oscar_value_len(args) != 1 || oscar_value_get_int(oscar_value_at(args, 0), &x) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS,
		    "twice takes one integer, not %zu arguments", oscar_value_len(args)));
	}
	*result = oscar_value_new_int(2 * x);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

static int total(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const oscar_value_t *list = oscar_value_at(args, 0);
	int64_t              sum  = 0, x;
	for (size_t i = 0; i < oscar_value_len(list); i++) {
		if (oscar_value_get_int(oscar_value_at(list, i), &x) != 0) {
			return (
			    oscar_task_fail(ctx, OSCAR_EBADARGS, "total takes a list of integers"));
		}
		sum += x;
	}
	*result = oscar_value_new_int(sum);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// nap([ms]) sleeps, polling its cancelled flag.
static int nap(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t ms = 0;
	oscar_value_get_int(oscar_value_at(args, 0), &ms);
	for (; ms > 0 && !oscar_task_cancelled(ctx); ms -= 10) {
		nanosleep(&(struct timespec) { .tv_nsec = 10000000 }, NULL);
	}
	*result = oscar_value_new_nil();
	return (0);
}

static int setup(oscar_taskfns_t *fns, oscar_error_t *err)
{
	int rv = oscar_taskfns_add(fns, "twice", twice, NULL, err);
	rv     = rv != 0 ? rv : oscar_taskfns_add(fns, "nap", nap, NULL, err);
	return (rv != 0 ? rv : oscar_taskfns_add(fns, "total", total, NULL, err));
}

static oscar_value_t *one(oscar_value_t *v)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, v);
	return (a);
}

// gone waits on a long nap while the supervisor is killed.
static int gone(void)
{
	oscar_session_t   *s;
	oscar_error_t      err;
	oscar_future_t    *f;
	oscar_value_t     *v;
	oscar_cluster_t   *cl;
	oscar_node_info_t *nodes;
	size_t             n;
	if (oscar_session_default(&s, &err) != 0 ||
	    oscar_future_submit(NULL, "nap", one(oscar_value_new_int(60000)), NULL, &f, &err) !=
	        0 ||
	    oscar_cluster_open(&cl, oscar_session_pool(s), oscar_session_address(s), &err) != 0 ||
	    oscar_cluster_nodes(cl, OSCAR_ROLE_SUPERVISOR, 0, &nodes, &n, 10000, &err) != 0) {
		fprintf(stderr, "gone: %s\n", err.message);
		return (1);
	}
	kill((pid_t) nodes[0].pid, SIGKILL);
	oscar_node_info_free(nodes, n);
	oscar_cluster_close(&cl);
	int rv = oscar_future_result(f, -1, &v, &err);
	printf("wait: %s: %s\n", oscar_strerror(rv), err.message);
	oscar_future_release(&f);
	oscar_session_close(&s, NULL);
	return (rv == OSCAR_EPEERGONE ? 0 : 1);
}

int main(int argc, char **argv)
{
	int rc = oscar_session_main(argc, argv, setup);
	if (rc >= 0) {
		return (rc);
	}
	if (argc > 1 && strcmp(argv[1], "gone") == 0) {
		return (gone());
	}
	oscar_error_t   err;
	oscar_object_t *xs[5], *sum;
	oscar_value_t  *refs = oscar_value_new_array(5);
	for (int i = 0; i < 5; i++) {
		if (oscar_spawn(NULL, "twice", one(oscar_value_new_int(i)), NULL, &xs[i], &err) !=
		    0) {
			fprintf(stderr, "spawn: %s\n", err.message);
			return (1);
		}
		oscar_value_array_push(refs, oscar_object_ref(xs[i]));
	}
	oscar_exec_opts_t bar = { .progress_bar = true };
	if (oscar_spawn(NULL, "total", one(refs), NULL, &sum, &err) != 0 ||
	    oscar_execute(NULL, &sum, 1, &bar, &err) != 0) {
		fprintf(stderr, "total: %s\n", err.message);
		return (1);
	}
	oscar_value_t *v;
	int64_t        got = -1;
	if (oscar_fetch(NULL, &sum, 1, NULL, &v, &err) != 0) {
		fprintf(stderr, "fetch: %s\n", err.message);
		return (1);
	}
	oscar_value_get_int(v, &got);
	oscar_value_free(v);
	printf("total of twice(0..4) = %lld\n", (long long) got);

	// Another graph, waited for without asking for a bar: nothing is
	// drawn on standard error.
	oscar_object_t *quiet;
	if (oscar_spawn(NULL, "twice", one(oscar_value_new_int(21)), NULL, &quiet, &err) != 0 ||
	    oscar_execute(NULL, &quiet, 1, NULL, &err) != 0) {
		fprintf(stderr, "quiet: %s\n", err.message);
		return (1);
	}
	oscar_object_free(&quiet);

	oscar_future_t *f;
	oscar_value_t  *args = oscar_value_new_array(2);
	oscar_value_array_push(args, oscar_value_new_int(1));
	oscar_value_array_push(args, oscar_value_new_int(2));
	rc = oscar_future_submit(NULL, "twice", args, NULL, &f, &err);
	if (rc == 0) {
		rc = oscar_future_result(f, 0, &v, &err);
	}
	printf("twice(1, 2): %s\n", rc != 0 ? err.message : "no error");
	oscar_future_release(&f);

	oscar_session_t *s;
	oscar_session_default(&s, &err);
	printf("workers pid %lld\n", (long long) oscar_session_local_pid(s, 0));
	for (int i = 0; i < 5; i++) {
		oscar_object_free(&xs[i]);
	}
	oscar_object_free(&sum);
	if (argc > 1 && strcmp(argv[1], "exit") == 0) {
		// The default session is closed at exit.
		return (got == 20 && rc == OSCAR_EBADARGS ? 0 : 1);
	}
	if (oscar_session_close(&s, &err) != 0) {
		fprintf(stderr, "close: %s\n", err.message);
		return (1);
	}
	printf("closed\n");
	return (got == 20 && rc == OSCAR_EBADARGS ? 0 : 1);
}
