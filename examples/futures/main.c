// Seed 003 in C: futures on the default session (a local cluster of this
// very program, started on first use and stopped at exit).
//
//     cc -o oscar-futures main.c $(pkg-config --cflags --libs oscar)
//     ./oscar-futures
#include <inttypes.h>
#include <stdio.h>

#include "oscar/oscar.h"

// square([x]) gives x * x.
static int square(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t x;
	if (oscar_value_len(args) != 1 || oscar_value_get_int(oscar_value_at(args, 0), &x) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "square takes one integer"));
	}
	*result = oscar_value_new_int(x * x);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// total([[x, ...]]) gives the sum of a list of integers.
static int total(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const oscar_value_t *xs  = oscar_value_at(args, 0);
	int64_t              sum = 0, x;
	for (size_t i = 0; i < oscar_value_len(xs); i++) {
		if (oscar_value_get_int(oscar_value_at(xs, i), &x) != 0) {
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
	int rv = oscar_taskfns_add(fns, "square", square, NULL, err);
	return (rv != 0 ? rv : oscar_taskfns_add(fns, "total", total, NULL, err));
}

int main(int argc, char **argv)
{
	int rc = oscar_session_main(argc, argv, setup);
	if (rc >= 0) {
		return (rc);
	}
	enum { N = 100 };
	oscar_error_t   err;
	oscar_future_t *fs[N], *sum, *again;
	oscar_value_t  *vals[N], *v;

	// futures = client.map(square, range(100))
	oscar_value_t *items = oscar_value_new_array(N);
	for (int i = 0; i < N; i++) {
		oscar_value_array_push(items, oscar_value_new_int(i));
	}
	if (oscar_future_map(NULL, "square", items, NULL, fs, &err) != 0) {
		goto failed;
	}
	// client.submit(total, futures): the futures are its argument.
	oscar_value_t *list = oscar_value_new_array(N), *args = oscar_value_new_array(1);
	for (int i = 0; i < N; i++) {
		oscar_value_array_push(list, oscar_future_ref(fs[i]));
	}
	oscar_value_array_push(args, list);
	if (oscar_future_submit(NULL, "total", args, NULL, &sum, &err) != 0 ||
	    oscar_future_result(sum, 10000, &v, &err) != 0) {
		goto failed;
	}
	int64_t t = 0;
	oscar_value_get_int(v, &t);
	printf("total(map(square, 0..99)) = %" PRId64 "\n", t);
	oscar_value_free(v);

	// client.gather(futures): one batched read per worker.
	if (oscar_future_gather(fs, N, 10000, vals, &err) != 0) {
		goto failed;
	}
	int64_t last = 0;
	oscar_value_get_int(vals[N - 1], &last);
	printf("gathered %d squares, the last %" PRId64 "\n", N, last);
	for (int i = 0; i < N; i++) {
		oscar_value_free(vals[i]);
	}

	// Pure calls: the same call has the same key, and its result is reused.
	oscar_value_t *seven = oscar_value_new_array(1);
	oscar_value_array_push(seven, oscar_value_new_int(7));
	if (oscar_future_submit(NULL, "square", seven, NULL, &again, &err) != 0) {
		goto failed;
	}
	printf("square(7) again: key %s, the same as before: %s\n", oscar_future_key(again),
	    oscar_future_key(fs[7]));

	for (int i = 0; i < N; i++) {
		oscar_future_release(&fs[i]);
	}
	oscar_future_release(&sum);
	oscar_future_release(&again);
	return (t == 328350 ? 0 : 1);
failed:
	fprintf(stderr, "error: %s\n", err.message);
	return (1);
}
