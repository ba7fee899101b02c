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

#include "actors/wire.h"
#include "tests/actors/support.h"
#include "tests/common/hostile.h"
#include "tests/common/rng.h"
#include "tests/common/proc.h"

TestSuite(hostile, .timeout = 300);

#define FRAMES      100000
#define PER_MESSAGE 16

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	return (xorshift64(&rng));
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

// pick_z picks from a NULL-terminated list.
static const char *pick_z(const char *const *list)
{
	size_t n = 0;
	while (list[n] != NULL) {
		n++;
	}
	return (pick(list, n));
}

// shape aims frame f: arg holds the NULL-terminated lists of targets,
// methods and sources. A tenth of the frames go to "keep", which they
// may only read; an eighth claim a reply address that cannot be
// reached, and a sixteenth one of their own (as in the report).
static void shape(osc_frame_t *f, int i, void *arg)
{
	const char *const *const *lists = arg;
	(void) i;
	snprintf(f->source, sizeof(f->source), "%s",
	    next() % 8 == 0 ? "tcp://127.0.0.1:9" : pick_z(lists[2]));
	if (next() % 16 == 0) {
		snprintf(f->source, sizeof(f->source), "tcp://127.%d.%d.%d:9", (int) (next() % 256),
		    (int) (next() % 256), (int) (next() % 255) + 1);
	}
	bool read_only = next() % 10 == 0;
	snprintf(f->target, sizeof(f->target), "%s", read_only ? "keep" : pick_z(lists[0]));
	snprintf(f->method, sizeof(f->method), "%s", pick_z(lists[1]));
	if (read_only) {
		// Whatever reaches "keep" only reads it.
		if (f->type == OSC_MSG_DESTROY || f->type == OSC_MSG_CREATE) {
			f->type = OSC_MSG_HAS;
		}
		snprintf(f->method, sizeof(f->method), "%s", next() & 1 ? "get" : "echo");
	}
}

Test(hostile, a_pool_survives_100000_forged_frames)
{
	static const oscar_actor_class_t *const offered[] = { &test_counter_class, NULL };
	oscar_pool_config_t                     cfg;
	oscar_pool_t                           *a, *b;
	oscar_pool_config_init(&cfg);
	cfg.address = "tcp://127.0.0.1:0";
	cfg.classes = offered;
	b           = pool_open(&cfg);
	a           = pool_open(&cfg);
	int base    = open_fds();
	// "keep" is the actor the flood may only read; the others it may do
	// anything to. (Once classes can be protected, "keep" will be one,
	// and the flood will destroy and replace it too.)
	test_spawn(b, &test_counter_class, "keep", oscar_value_new_int(42));
	test_spawn(b, &test_counter_class, "c1", NULL);
	test_spawn(b, &test_counter_class, "c2", NULL);

	char        self[OSCAR_ADDR_MAX], other[OSCAR_ADDR_MAX];
	const char *targets[] = { "c1", "c2", "c3", "nobody", "", "counter-1", "x.y.z", NULL };
	const char *methods[] = { "add", "get", "log", "get_log", "echo", "fail", "err", "sum",
		"bad_batch", "batches", "quit", "sync_call", "counter", "nosuch", "", NULL };
	const char *sources[] = { "", self, other, "tcp://127.9.9.9:9", "ipc:///tmp/oscar-nowhere",
		"inproc://nowhere", "garbage", "tcp://", "tls+tcp://127.0.0.1:1", NULL };
	snprintf(self, sizeof(self), "%s", oscar_pool_address(b));
	snprintf(other, sizeof(other), "%s", oscar_pool_address(a));

	const char *const *lists[] = { targets, methods, sources };
	hostile_ops_t      ops     = { next, random_value, shape, lists };
	hostile_flood(oscar_pool_address(b), FRAMES, PER_MESSAGE, &ops);

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
