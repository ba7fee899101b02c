// libFuzzer target: the storage's piecewise receiver on arbitrary bytes.
//
// The first input byte sets the size of the pieces (1..256 bytes); the
// rest is received as an object in pieces of that size. The receiver must
// accept exactly what oscar_value_decode accepts, and store the same
// value; anything else aborts, and the sanitizers catch memory errors on
// the way.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "oscar/error.h"
#include "oscar/value.h"
#include "services/storage/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// check aborts when cond is false: the fuzzer reports it as a crash.
static void check(int cond)
{
	if (!cond) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	osc_store_config_t cfg  = { 0 };
	osc_store_t       *s    = NULL;
	osc_store_recv_t  *r    = NULL;
	oscar_value_t     *want = NULL;
	oscar_value_t     *got  = NULL;
	size_t             piece;
	int                dec;
	int                rv = 0;

	if (size < 2) {
		return (0);
	}
	piece = 1 + (size_t) data[0];
	data++;
	size--;
	dec = oscar_value_decode(data, size, &want);
	check(dec == 0 || dec == OSCAR_EPROTO);
	check(osc_store_open(&cfg, &s, NULL) == 0);
	check(osc_store_session_create(s, "s", false, NULL) == 0);
	check(osc_store_recv_open(s, "s", "k", size, &r, NULL) == 0);
	for (size_t at = 0; at < size && rv == 0; at += piece) {
		rv = osc_store_recv_push(r, data + at, piece < size - at ? piece : size - at, NULL);
	}
	if (rv != 0) {
		osc_store_recv_abort(r);
	} else {
		rv = osc_store_recv_commit(r, NULL);
	}
	check((rv == 0) == (dec == 0));
	check(rv == 0 || rv == OSCAR_EPROTO);
	if (rv == 0) {
		check(osc_store_get(s, "s", "k", NULL, &got, NULL) == 0);
		check(oscar_value_equal(got, want));
		oscar_value_free(got);
	}
	oscar_value_free(want);
	osc_store_close(s);
	return (0);
}
