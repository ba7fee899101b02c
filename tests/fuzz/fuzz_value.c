// libFuzzer target: oscar_value_decode on arbitrary bytes.
//
// Any input must either decode or fail with OSCAR_EPROTO, leaving the
// output NULL. A value that decodes must encode, decode again to an equal
// value, and encode to the same bytes again. Any other outcome aborts, and
// the sanitizers catch memory errors and undefined behaviour on the way.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/error.h"
#include "oscar/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// check aborts when cond is false: the fuzzer reports it as a crash.
static void check(int cond)
{
	if (!cond) {
		abort();
	}
}

// LLVMFuzzerTestOneInput runs one input through the decoder and, when it
// decodes, through a second round trip.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	oscar_value_t *v  = NULL;
	oscar_value_t *v2 = NULL;
	void          *b1 = NULL;
	void          *b2 = NULL;
	size_t         n1 = 0;
	size_t         n2 = 0;
	int            rv;

	if ((rv = oscar_value_decode(data, size, &v)) != 0) {
		check(rv == OSCAR_EPROTO && v == NULL);
		return (0);
	}
	check(oscar_value_encode(v, &b1, &n1) == 0);
	check(oscar_value_decode(b1, n1, &v2) == 0);
	check(oscar_value_equal(v, v2));
	check(oscar_value_encode(v2, &b2, &n2) == 0);
	check(n1 == n2 && memcmp(b1, b2, n1) == 0);
	oscar_value_free(v);
	oscar_value_free(v2);
	free(b1);
	free(b2);
	return (0);
}
