// The measuring helpers that oscar-bench and the tests of its parts share:
// a monotonic clock and the median of the rounds.
#include <stdlib.h>
#include <time.h>

#include "bench/bench.h"

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec * 1e-9);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return ((x > y) - (x < y));
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t) n, sizeof(double), cmp_double);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}
