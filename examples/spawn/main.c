// Seed 001 in C: spawn calls of the program's own task functions, lazily,
// and execute them on the default session (a local cluster of this very
// program, started on first use and stopped at exit).
//
//     cc -o oscar-spawn main.c $(pkg-config --cflags --libs oscar)
//     ./oscar-spawn
#include <stdio.h>

#include "oscar/oscar.h"

// inc([x]) gives x + 1.
static int inc(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	int64_t x;
	if (oscar_value_len(args) != 1 || oscar_value_get_int(oscar_value_at(args, 0), &x) != 0) {
		return (oscar_task_fail(ctx, OSCAR_EBADARGS, "inc takes one integer"));
	}
	*result = oscar_value_new_int(x + 1);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// sum_all([[x, ...]]) gives the sum of a list of numbers, as a float.
static int sum_all(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const oscar_value_t *xs  = oscar_value_at(args, 0);
	double               sum = 0, x;
	for (size_t i = 0; i < oscar_value_len(xs); i++) {
		if (oscar_value_get_float(oscar_value_at(xs, i), &x) != 0) {
			return (oscar_task_fail(
			    ctx, OSCAR_EBADARGS, "sum_all takes a list of numbers"));
		}
		sum += x;
	}
	*result = oscar_value_new_float(sum);
	return (*result != NULL ? 0 : OSCAR_ENOMEM);
}

// triage([[x, ...]]) gives two outputs: the items below 0.5, the others.
static int triage(oscar_task_ctx_t *ctx, const oscar_value_t *args, oscar_value_t **result)
{
	const oscar_value_t *xs  = oscar_value_at(args, 0);
	oscar_value_t       *out = oscar_value_new_array(2);
	oscar_value_t       *lo = oscar_value_new_array(0), *hi = oscar_value_new_array(0);
	double               x;
	for (size_t i = 0; i < oscar_value_len(xs); i++) {
		if (oscar_value_get_float(oscar_value_at(xs, i), &x) != 0) {
			oscar_value_free(out);
			oscar_value_free(lo);
			oscar_value_free(hi);
			return (
			    oscar_task_fail(ctx, OSCAR_EBADARGS, "triage takes a list of numbers"));
		}
		oscar_value_array_push(x < 0.5 ? lo : hi, oscar_value_new_float(x));
	}
	oscar_value_array_push(out, lo);
	oscar_value_array_push(out, hi);
	*result = out;
	return (0);
}

static int setup(oscar_taskfns_t *fns, oscar_error_t *err)
{
	int rv = oscar_taskfns_add(fns, "inc", inc, NULL, err);
	rv     = rv != 0 ? rv : oscar_taskfns_add(fns, "sum_all", sum_all, NULL, err);
	return (rv != 0 ? rv : oscar_taskfns_add(fns, "triage", triage, NULL, err));
}

// args1 makes the argument array [a].
static oscar_value_t *args1(oscar_value_t *a)
{
	oscar_value_t *v = oscar_value_new_array(1);
	oscar_value_array_push(v, a);
	return (v);
}

static void print(const char *label, const oscar_value_t *v)
{
	char buf[256];
	oscar_value_format(v, buf, sizeof(buf));
	printf("%s %s\n", label, buf);
}

int main(int argc, char **argv)
{
	// In the cluster's processes, run the node instead.
	int rc = oscar_session_main(argc, argv, setup);
	if (rc >= 0) {
		return (rc);
	}
	oscar_error_t   err;
	oscar_object_t *incs[10], *total, *tri[2], *sums[2];
	oscar_value_t  *v[10], *refs = oscar_value_new_array(10);

	// results = [spawn(inc, args=(i,)) for i in range(10)]: nothing runs.
	for (int i = 0; i < 10; i++) {
		if (oscar_spawn(NULL, "inc", args1(oscar_value_new_int(i)), NULL, &incs[i], &err) !=
		    0) {
			goto failed;
		}
		oscar_value_array_push(refs, oscar_object_ref(incs[i]));
	}
	// spawn(sum_all, args=(results,)).execute().fetch(): the incs run
	// first, in the same graph, and their outputs become the list.
	if (oscar_spawn(NULL, "sum_all", args1(refs), NULL, &total, &err) != 0 ||
	    oscar_execute(NULL, &total, 1, NULL, &err) != 0 ||
	    oscar_fetch(NULL, &total, 1, NULL, v, &err) != 0) {
		goto failed;
	}
	print("sum_all(inc(i) for i in 0..9) =", v[0]);
	oscar_value_free(v[0]);
	// ExecutableTuple(results).fetch(): they ran already.
	if (oscar_fetch(NULL, incs, 10, NULL, v, &err) != 0) {
		goto failed;
	}
	oscar_value_t *list = oscar_value_new_array(10);
	for (int i = 0; i < 10; i++) {
		oscar_value_array_push(list, v[i]);
	}
	print("[inc(i) for i in 0..9] =", list);
	oscar_value_free(list);

	// la, lb = spawn(triage, args=(l,), n_output=2)
	oscar_value_t     *l    = oscar_value_new_array(4);
	const double       xs[] = { 0.4, 0.7, 0.2, 0.8 };
	oscar_spawn_opts_t two  = { .n_output = 2 };
	for (int i = 0; i < 4; i++) {
		oscar_value_array_push(l, oscar_value_new_float(xs[i]));
	}
	if (oscar_spawn(NULL, "triage", args1(l), &two, tri, &err) != 0 ||
	    oscar_spawn(NULL, "sum_all", args1(oscar_object_ref(tri[0])), NULL, &sums[0], &err) !=
	        0 ||
	    oscar_spawn(NULL, "sum_all", args1(oscar_object_ref(tri[1])), NULL, &sums[1], &err) !=
	        0 ||
	    oscar_execute(NULL, sums, 2, NULL, &err) != 0 ||
	    oscar_fetch(NULL, sums, 2, NULL, v, &err) != 0) {
		goto failed;
	}
	print("sum_all(la) =", v[0]);
	print("sum_all(lb) =", v[1]);
	oscar_value_free(v[0]);
	oscar_value_free(v[1]);

	// Releasing objects releases their data on the cluster; the default
	// session and its cluster stop at exit.
	for (int i = 0; i < 10; i++) {
		oscar_object_free(&incs[i]);
	}
	oscar_object_free(&total);
	oscar_object_free(&tri[0]);
	oscar_object_free(&tri[1]);
	oscar_object_free(&sums[0]);
	oscar_object_free(&sums[1]);
	return (0);
failed:
	fprintf(stderr, "error: %s\n", err.message);
	return (1);
}
