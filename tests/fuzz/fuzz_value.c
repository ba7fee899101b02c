// libFuzzer target: oscar_value_decode on arbitrary bytes.
//
// Any input must either decode or fail with OSCAR_EPROTO, leaving the
// output NULL. A value that decodes must encode, decode again to an equal
// value, and encode to the same bytes again; its references (OSCAR_REF,
// MessagePack ext type 2) must list and replace consistently, and the two
// equal values must have the same canonical hash. Any other outcome aborts, and
// the sanitizers catch memory errors and undefined behaviour on the way.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/error.h"
#include "oscar/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// count_ref counts the references a walk finds.
static int count_ref(void *arg, const oscar_value_t *ref)
{
	(void) ref;
	++*(size_t *) arg;
	return (0);
}

// nil_for_ref replaces every reference by nil.
static int nil_for_ref(void *arg, const oscar_value_t *ref, oscar_value_t **out)
{
	(void) arg;
	(void) ref;
	*out = oscar_value_new_nil();
	return (*out == NULL ? OSCAR_ENOMEM : 0);
}

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

	// References: as many listed as walked; none left once replaced;
	// equal values hash equal.
	oscar_value_t *list = NULL;
	size_t         refs = 0;
	size_t         left = 0;
	uint8_t        h1[OSCAR_VALUE_HASH_SIZE];
	uint8_t        h2[OSCAR_VALUE_HASH_SIZE];
	check(oscar_value_walk_refs(v, count_ref, &refs) == 0);
	check(oscar_value_list_refs(v, &list) == 0 && oscar_value_len(list) == refs);
	check(oscar_value_hash(v, h1) == 0 && oscar_value_hash(v2, h2) == 0);
	check(memcmp(h1, h2, sizeof(h1)) == 0);
	check(oscar_value_replace_refs(v2, nil_for_ref, NULL) == 0);
	check(oscar_value_walk_refs(v2, count_ref, &left) == 0 && left == 0);
	oscar_value_free(list);
	oscar_value_free(v);
	oscar_value_free(v2);
	free(b1);
	free(b2);
	return (0);
}
