// The child process of the storage service's shared-memory tests
// (test_storage.c): it plays a sub pool of the worker at ADDRESS, the
// test process itself, through the public oscar_storage_local_* API.
//
//   storage_child read ADDRESS SESSION KEY N   map the object, check that
//       it is a bin of N bytes following the pattern (byte i is
//       (i * 31 + 7) & 0xff) and cannot be written through; exit 0
//   storage_child hold ADDRESS SESSION KEY     map the object, write
//       "held\n" to stdout, then wait to be killed
//   storage_child put ADDRESS SESSION KEY N    hand a bin of N bytes in
//       the pattern to the storage; exit 0
//
// Every wait has a deadline; a failure prints why on stderr, exit 1.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "oscar/oscar.h"

#define TIMEOUT_MS 60000

static int fail(const char *what, const oscar_error_t *err)
{
	fprintf(stderr, "storage_child: %s: %s\n", what, err != NULL ? err->message : "");
	return (1);
}

int main(int argc, char **argv)
{
	oscar_storage_local_t *l;
	oscar_storage_view_t   view;
	oscar_error_t          err;
	prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive the test
	if (argc < 5) {
		fprintf(stderr, "usage: storage_child read|hold|put ADDRESS SESSION KEY [N]\n");
		return (2);
	}
	size_t n = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
	if (oscar_storage_local_open(&l, argv[2], &err) != 0) {
		return (fail("open", &err));
	}
	if (strcmp(argv[1], "put") == 0) {
		unsigned char *p = malloc(n);
		for (size_t i = 0; p != NULL && i < n; i++) {
			p[i] = (unsigned char) ((i * 31 + 7) & 0xff);
		}
		oscar_value_t *v    = oscar_value_new_bin(p, n);
		uint64_t       size = 0;
		free(p);
		int rv = oscar_storage_local_put(l, argv[3], argv[4], v, &size, TIMEOUT_MS, &err);
		oscar_value_free(v);
		oscar_storage_local_close(&l);
		return (rv != 0 ? fail("put", &err) : 0);
	}
	int rv = oscar_storage_local_read(l, argv[3], argv[4], &view, TIMEOUT_MS, &err);
	oscar_storage_local_close(&l);
	if (rv != 0) {
		return (fail("read", &err));
	}
	if (strcmp(argv[1], "hold") == 0) {
		printf("held\n");
		fflush(stdout);
		sleep(600); // killed long before
		return (1);
	}
	const unsigned char *p = view.data;
	if (view.type != OSCAR_BIN || view.len != n) {
		fprintf(stderr, "storage_child: a %s of %zu bytes, not a bin of %zu\n",
		    oscar_type_name(view.type), view.len, n);
		return (1);
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (unsigned char) ((i * 31 + 7) & 0xff)) {
			fprintf(stderr, "storage_child: byte %zu differs\n", i);
			return (1);
		}
	}
	oscar_storage_view_release(&view);
	return (0);
}
