// A live pool under a flood of hostile but well-formed frames: every
// message type of the wire table, with forged ids, sources, targets,
// methods and payloads. Afterwards it must still serve calls, keep the
// actors nobody was allowed to touch, and hold a bounded number of
// descriptors (actors/transport.c as a whole).
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "actors/wire.h"
#include "tests/actors/support.h"

TestSuite(hostile, .timeout = 300);

#define FRAMES      100000
#define PER_MESSAGE 16

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int  n = 0;
	cr_assert_not_null(d);
	while (readdir(d) != NULL) {
		n++;
	}
	closedir(d);
	return (n - 3);
}

// random_value makes a small value of any type, nested a little.
static oscar_value_t *random_value(int depth)
{
	char buf[32] = "0123456789abcdefghijklmnopqrstu";
	switch (next() % (depth > 1 ? 6 : 8)) {
	case 0:
		return (oscar_value_new_nil());
	case 1:
		return (oscar_value_new_int((int64_t) next()));
	case 2:
		return (oscar_value_new_bool(next() & 1));
	case 3:
		snprintf(buf, sizeof(buf), "s%llu", (unsigned long long) (next() % 1000));
		return (oscar_value_new_str(buf));
	case 4:
		return (oscar_value_new_float((double) (next() % 1000) / 7.0));
	case 5:
		return (oscar_value_new_bin(buf, next() % sizeof(buf)));
	case 6: {
		oscar_value_t *a = oscar_value_new_array(4);
		for (uint64_t i = next() % 4; i > 0; i--) {
			oscar_value_array_push(a, random_value(depth + 1));
		}
		return (a);
	}
	default: {
		oscar_value_t *m = oscar_value_new_map(2);
		oscar_value_map_set(m, "k", random_value(depth + 1));
		return (m);
	}
	}
}

static const char *pick(const char *const *list, size_t n)
{
	return (list[next() % n]);
}

#define PICK(list) pick(list, sizeof(list) / sizeof(list[0]))

Test(hostile, a_pool_survives_100000_forged_frames)
{
	static const oscar_actor_class_t *const offered[] = { &test_counter_class, NULL };
	oscar_pool_config_t                     cfg;
	oscar_pool_t                           *a, *b;
	oscar_pool_config_init(&cfg);
	cfg.address = "tcp://127.0.0.1:0";
	cfg.classes = offered;
	cr_assert_eq(oscar_pool_open(&b, &cfg), 0);
	cr_assert_eq(oscar_pool_open(&a, &cfg), 0);
	int base = open_fds();
	// "keep" is the actor the flood may only read; the others it may do
	// anything to. (Once classes can be protected, "keep" will be one,
	// and the flood will destroy and replace it too.)
	test_spawn(b, &test_counter_class, "keep", oscar_value_new_int(42));
	test_spawn(b, &test_counter_class, "c1", NULL);
	test_spawn(b, &test_counter_class, "c2", NULL);

	char        self[OSCAR_ADDR_MAX], other[OSCAR_ADDR_MAX];
	const char *targets[] = { "c1", "c2", "c3", "nobody", "", "counter-1", "x.y.z" };
	const char *methods[] = { "add", "get", "log", "get_log", "echo", "fail", "err", "sum",
		"bad_batch", "batches", "quit", "sync_call", "counter", "nosuch", "" };
	const char *sources[] = { "", self, other, "tcp://127.9.9.9:9", "ipc:///tmp/oscar-nowhere",
		"inproc://nowhere", "garbage", "tcp://", "tls+tcp://127.0.0.1:1" };
	snprintf(self, sizeof(self), "%s", oscar_pool_address(b));
	snprintf(other, sizeof(other), "%s", oscar_pool_address(a));

	nng_socket raw;
	cr_assert_eq(nng_push0_open(&raw), 0);
	cr_assert_eq(nng_dial(raw, oscar_pool_address(b), NULL, 0), 0);
	osc_wbuf_t w;
	osc_wbuf_init(&w);
	unsigned types_seen = 0;
	for (int i = 0; i < FRAMES; i++) {
		osc_frame_t f;
		memset(&f, 0, sizeof(f));
		f.type = (osc_msg_type_t) (1 + next() % 11);
		types_seen |= 1u << f.type;
		f.id         = next() % 4 == 0 ? 0 : next() % 4 == 0 ? next() : next() % 64;
		f.timeout_ms = next() % 3 == 0 ? 0 : next() % 100000;
		snprintf(f.source, sizeof(f.source), "%s",
		    next() % 8 == 0 ? "tcp://127.0.0.1:9" : PICK(sources));
		if (next() % 16 == 0) {
			// A distinct reply address, as in the report.
			snprintf(f.source, sizeof(f.source), "tcp://127.%d.%d.%d:9",
			    (int) (next() % 256), (int) (next() % 256), (int) (next() % 255) + 1);
		}
		bool read_only = next() % 10 == 0;
		snprintf(f.target, sizeof(f.target), "%s", read_only ? "keep" : PICK(targets));
		snprintf(f.method, sizeof(f.method), "%s", PICK(methods));
		if (read_only) {
			// Whatever reaches "keep" only reads it.
			if (f.type == OSC_MSG_DESTROY || f.type == OSC_MSG_CREATE) {
				f.type = OSC_MSG_HAS;
			}
			snprintf(f.method, sizeof(f.method), "%s", next() & 1 ? "get" : "echo");
		}
		uint64_t chain[3] = { next(), next(), next() };
		f.chain           = chain;
		f.chain_len       = (uint32_t) (next() % 4);
		if (f.type == OSC_MSG_ERROR) {
			f.has_error  = true;
			f.error.code = 1 + (int) (next() % 40); // codes are positive
			f.error.pid  = (int64_t) next();
			snprintf(f.error.message, sizeof(f.error.message), "forged %d", i);
			snprintf(f.error.address, sizeof(f.error.address), "%s", PICK(sources));
		}
		oscar_value_t *payload = next() % 4 == 0 ? NULL : random_value(0);
		if (f.type == OSC_MSG_BATCH && next() % 2 == 0) {
			oscar_value_free(payload);
			payload = oscar_value_new_array(3);
			for (int k = 0; k < 3; k++) {
				oscar_value_array_push(payload, random_value(1));
			}
		}
		cr_assert_eq(osc_frame_encode(&w, &f, payload, NULL, 0), 0);
		oscar_value_free(payload);
		if ((i + 1) % PER_MESSAGE == 0 || i + 1 == FRAMES) {
			cr_assert_eq(nng_send(raw, w.data, w.len, 0), 0);
			w.len = 0;
		}
	}
	osc_wbuf_fini(&w);
	nng_close(raw);
	cr_assert_eq(types_seen, 0xffeu, "every message type");

	// Calls are still answered, from the pool itself and from another
	// pool, and "keep" is intact. While the flood's unreachable reply
	// addresses hold every connection slot (each for its bounded try,
	// peer_connect_ms), an answer to a new address is dropped, so the
	// other pool asks again as a client would, until the slots free up.
	oscar_ref_t keep, local;
	cr_assert_eq(oscar_ref_make(&keep, oscar_pool_address(b), "keep"), 0);
	cr_assert_eq(oscar_ref_make(&local, "", "keep"), 0);
	oscar_error_t err;
	int64_t       v = -1;
	cr_assert_eq(oscar_call(b, &local, "has", NULL, 60000, NULL, &err), OSCAR_ENOMETHOD);
	for (int i = 0; i < 60; i++) {
		oscar_value_t *reply;
		int            rv = oscar_call(a, &keep, "get", NULL, 2000, &reply, &err);
		if (rv == 0) {
			cr_assert_eq(oscar_value_get_int(reply, &v), 0);
			oscar_value_free(reply);
			break;
		}
		cr_assert_eq(rv, OSCAR_ETIMEDOUT, "%s", err.message);
	}
	cr_assert_eq(v, 42, "keep was changed");
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(test_call_int(a, &keep, "add", 1), 43 + i);
	}
	cr_assert_eq(test_call_int(b, &local, "add", 1), 143);
	oscar_pool_stats_t st;
	cr_assert_eq(oscar_pool_stats(b, &st, 5000), 0);
	cr_assert_eq(st.malformed, 0, "well-formed frames were counted as malformed");
	cr_assert_leq(st.peers, 256);
	cr_assert_leq(open_fds(), base + 256 * 4, "%d descriptors, %d before", open_fds(), base);
	// New actors can still be made there, from elsewhere.
	oscar_placement_t there = { .how = OSCAR_PLACE_ADDRESS, .address = oscar_pool_address(b) };
	oscar_ref_t       made;
	cr_assert_eq(oscar_create_by_name(a, "counter", "after-the-flood", oscar_value_new_int(1),
	                 &there, 0, &made, &err),
	    0, "%s", err.message);
	cr_assert_eq(test_call_int(a, &made, "add", 1), 2);

	oscar_pool_free(&b);
	oscar_pool_free(&a);
	cr_assert_leq(open_fds(), base, "%d descriptors, %d before", open_fds(), base);
}
