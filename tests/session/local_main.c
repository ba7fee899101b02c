// A client program of the session tests: it defines its own task
// functions, and runs them on the default session, a local cluster of
// this very program started on first use (oscar_session_main). It prints
// what it got and exits 0 only when every result was right.
//
//     oscar-test-session-local            spawn, execute, fetch; futures
//     oscar-test-session-local exit       the same, then exit without closing
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int setup(oscar_taskfns_t *fns, oscar_error_t *err)
{
	int rv = oscar_taskfns_add(fns, "twice", twice, NULL, err);
	return (rv != 0 ? rv : oscar_taskfns_add(fns, "total", total, NULL, err));
}

static oscar_value_t *one(oscar_value_t *v)
{
	oscar_value_t *a = oscar_value_new_array(1);
	oscar_value_array_push(a, v);
	return (a);
}

int main(int argc, char **argv)
{
	int rc = oscar_session_main(argc, argv, setup);
	if (rc >= 0) {
		return (rc);
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
	if (oscar_spawn(NULL, "total", one(refs), NULL, &sum, &err) != 0 ||
	    oscar_execute(NULL, &sum, 1, NULL, &err) != 0) {
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
