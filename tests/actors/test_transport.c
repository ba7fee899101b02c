// The transport: pools reaching each other's actors over NNG (ipc and
// tcp), within one process (actors/transport.c).
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "tests/actors/support.h"
#include "tests/common/raw.h"

static oscar_pool_t *open_at(const char *address, size_t max_message)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address     = address;
	cfg.max_message = max_message;
	return (pool_open(&cfg));
}

// ipc_address makes a socket path of this test process's own.
static const char *ipc_address(char *buf, size_t size, int n)
{
	snprintf(buf, size, "ipc:///tmp/oscar-test-%d-%d.sock", (int) getpid(), n);
	return (buf);
}

static oscar_pool_t *a_pool, *b_pool;

// open_offering opens b_pool offering classes to other pools, and a_pool,
// both over tcp.
static void open_offering(const oscar_actor_class_t *const *classes)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address = "tcp://127.0.0.1:0";
	cfg.classes = classes;
	b_pool      = pool_open(&cfg);
	a_pool      = open_at("tcp://127.0.0.1:0", 0);
}

static void open_tcp(void)
{
	a_pool = open_at("tcp://127.0.0.1:0", 0);
	b_pool = open_at("tcp://127.0.0.1:0", 0);
}

static void open_ipc(void)
{
	char a[96], b[96];
	a_pool = open_at(ipc_address(a, sizeof(a), 1), 0);
	b_pool = open_at(ipc_address(b, sizeof(b), 2), 0);
}

static void close_both(void)
{
	oscar_pool_free(&a_pool);
	oscar_pool_free(&b_pool);
}

TestSuite(transport, .timeout = 60);

// remote_ref names uid in pool p, as another pool would.
static oscar_ref_t remote_ref(oscar_pool_t *p, const char *uid)
{
	oscar_ref_t ref;
	cr_assert_eq(oscar_ref_make(&ref, oscar_pool_address(p), uid), 0);
	return (ref);
}

static void calls_round_trip(void)
{
	test_spawn(b_pool, &test_counter_class, "c", oscar_value_new_int(40));
	oscar_ref_t    c = remote_ref(b_pool, "c");
	oscar_value_t *reply;
	oscar_error_t  err;
	// From a host thread, through pool A, to an actor of pool B.
	cr_assert_eq(test_call_int(a_pool, &c, "add", 2), 42);
	cr_assert_eq(oscar_tell(a_pool, &c, "add", oscar_value_new_int(8), 0, &err), 0);
	cr_assert_eq(test_call_int(a_pool, &c, "add", 0), 50);

	// A remote handler's error keeps its code, message and origin.
	cr_assert_eq(
	    oscar_call(a_pool, &c, "fail", oscar_value_new_int(3), 0, NULL, &err), OSCAR_EAPP);
	cr_assert_str_eq(err.message, "boom 3");
	cr_assert_str_eq(err.actor, "c");
	cr_assert_str_eq(err.method, "fail");
	cr_assert_str_eq(err.address, oscar_pool_address(b_pool));
	cr_assert_eq(err.pid, (int64_t) getpid());

	oscar_ref_t ghost = remote_ref(b_pool, "ghost");
	cr_assert_eq(oscar_call(a_pool, &ghost, "get", NULL, 0, NULL, &err), OSCAR_ENOACTOR);
	cr_assert_eq(oscar_call(a_pool, &c, "fly", NULL, 0, NULL, &err), OSCAR_ENOMETHOD);
	cr_assert(strstr(err.message, "'fly'") != NULL, "%s", err.message);

	// Batches, with and without a batch handler.
	oscar_value_t *args = oscar_value_new_array(3);
	for (int i = 0; i < 3; i++) {
		oscar_value_array_push(args, oscar_value_new_int(1));
	}
	cr_assert_eq(oscar_batch(a_pool, &c, "add", args, 0, &reply, &err), 0);
	cr_assert_eq(oscar_value_len(reply), 3);
	oscar_value_free(reply);

	// A value of every type survives the trip.
	oscar_value_t *v = oscar_value_new_map(4);
	oscar_value_map_set(v, "s", oscar_value_new_str("text"));
	oscar_value_map_set(v, "f", oscar_value_new_float(2.5));
	oscar_value_map_set(v, "n", oscar_value_new_nil());
	oscar_value_map_set(v, "b", oscar_value_new_bin("\0\1\2", 3));
	oscar_value_t *copy = oscar_value_copy(v);
	cr_assert_eq(oscar_call(a_pool, &c, "echo", v, 0, &reply, &err), 0, "%s", err.message);
	cr_assert(oscar_value_equal(reply, copy));
	oscar_value_free(reply);
	oscar_value_free(copy);
}

Test(transport, calls_round_trip_over_tcp, .init = open_tcp, .fini = close_both)
{
	calls_round_trip();
}

Test(transport, calls_round_trip_over_ipc, .init = open_ipc, .fini = close_both)
{
	calls_round_trip();
}

Test(transport, tcp_port_zero_reports_the_real_port, .init = open_tcp, .fini = close_both)
{
	const char *addr = oscar_pool_address(a_pool);
	cr_assert(strncmp(addr, "tcp://127.0.0.1:", 16) == 0, "%s", addr);
	cr_assert_gt(atoi(addr + 16), 0, "%s", addr);
	cr_assert_str_neq(addr, oscar_pool_address(b_pool));
}

Test(transport, address_in_use_is_a_clear_error, .init = open_tcp, .fini = close_both)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *p = NULL;
	oscar_pool_config_init(&cfg);
	cfg.address = oscar_pool_address(a_pool);
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), OSCAR_EADDRINUSE);
	cr_assert_null(p);
	// The error says why, and where.
	oscar_error_t err;
	cr_assert_eq(oscar_pool_open(&p, &cfg, &err), OSCAR_EADDRINUSE);
	cr_assert_null(p);
	cr_assert_eq(err.code, OSCAR_EADDRINUSE);
	cr_assert(strstr(err.message, "cannot listen on") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "Address in use") != NULL, "%s", err.message);
	cr_assert_str_eq(err.address, cfg.address);
	// Nothing was left behind: the first pool still serves.
	test_spawn(a_pool, &test_counter_class, "c", NULL);
	oscar_ref_t c = remote_ref(a_pool, "c");
	cr_assert_eq(test_call_int(b_pool, &c, "add", 1), 1);
}

Test(transport, large_values_travel_intact, .init = open_tcp, .fini = close_both)
{
	size_t n    = 16u << 20;
	char  *data = malloc(n);
	for (size_t i = 0; i < n; i++) {
		data[i] = (char) (i * 31 + 7);
	}
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	oscar_ref_t    c = remote_ref(b_pool, "c");
	oscar_value_t *reply;
	const void    *got;
	size_t         len;
	cr_assert_eq(
	    oscar_call(a_pool, &c, "echo", oscar_value_new_bin(data, n), 0, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_bin(reply, &got, &len), 0);
	cr_assert_eq(len, n);
	cr_assert(memcmp(got, data, n) == 0);
	oscar_value_free(reply);
	free(data);
}

Test(transport, too_large_is_refused_and_the_pool_goes_on)
{
	a_pool = open_at("tcp://127.0.0.1:0", 1u << 20);
	b_pool = open_at("tcp://127.0.0.1:0", 1u << 20);
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	oscar_ref_t   c = remote_ref(b_pool, "c");
	oscar_error_t err;
	char         *big = calloc(1, 2u << 20);
	cr_assert_eq(
	    oscar_call(a_pool, &c, "echo", oscar_value_new_bin(big, 2u << 20), 0, NULL, &err),
	    OSCAR_ETOOLARGE);
	cr_assert(strstr(err.message, "larger than the limit") != NULL, "%s", err.message);
	cr_assert_eq(test_call_int(a_pool, &c, "add", 5), 5);
	free(big);
	close_both();
}

// A peer pool that closes answers its pending remote calls (ECLOSED) or,
// if its connection goes first, they fail with EPEERGONE: at once, either
// way. (A peer killed outright is in test_subpool.c.)
Test(transport, closed_peer_fails_pending_calls_at_once, .init = open_ipc, .fini = close_both)
{
	test_spawn(b_pool, &test_gate_class, "g", NULL);
	oscar_ref_t   g = remote_ref(b_pool, "g");
	oscar_call_t *calls[20];
	oscar_error_t err;
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(oscar_call_start(a_pool, &g, "wait", NULL, 30000, &calls[i]), 0);
	}
	test_wait_parked(a_pool, &g, 20);
	oscar_pool_free(&b_pool);
	for (int i = 0; i < 20; i++) {
		int rv = oscar_call_wait(&calls[i], NULL, &err);
		cr_assert(
		    rv == OSCAR_ECLOSED || rv == OSCAR_EPEERGONE, "call %d: %s", i, err.message);
		cr_assert(strstr(err.message, "destroyed while serving wait") != NULL ||
		              strstr(err.message, "lost the connection") != NULL,
		    "%s", err.message);
	}
}

Test(transport, remote_cancel_reaches_the_handler, .init = open_tcp, .fini = close_both)
{
	test_spawn(b_pool, &test_gate_class, "g", oscar_value_new_str("hook"));
	oscar_ref_t    g = remote_ref(b_pool, "g");
	oscar_call_t  *call;
	oscar_value_t *reply;
	const char    *s;
	cr_assert_eq(oscar_call_start(a_pool, &g, "wait", NULL, 30000, &call), 0);
	test_wait_parked(a_pool, &g, 1);
	oscar_call_cancel(call);
	cr_assert_eq(oscar_call_wait(&call, &reply, NULL), 0);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "cancelled-0");
	oscar_value_free(reply);
}

Test(transport, deadlock_across_pools_is_detected, .init = open_tcp, .fini = close_both)
{
	// r1 in A holds while calling r2 in B, which calls back into r1.
	char r1_at[160], r2_at[160];
	test_spawn(a_pool, &test_relay_class, "r1", NULL);
	test_spawn(b_pool, &test_relay_class, "r2", NULL);
	snprintf(r1_at, sizeof(r1_at), "r1@%s", oscar_pool_address(a_pool));
	snprintf(r2_at, sizeof(r2_at), "r2@%s", oscar_pool_address(b_pool));
	oscar_ref_t   r1 = remote_ref(a_pool, "r1");
	oscar_error_t err;
	cr_assert_eq(oscar_call(b_pool, &r1, "via",
	                 test_via(true, r2_at, "via", r1_at, "noop", NULL), 10000, NULL, &err),
	    OSCAR_EDEADLOCK, "%s", err.message);
	// With yielding relays the same ring completes.
	oscar_value_t *reply;
	const char    *s;
	cr_assert_eq(oscar_call(b_pool, &r1, "via",
	                 test_via(false, r2_at, "via", r1_at, "noop", NULL), 10000, &reply, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	cr_assert_str_eq(s, "noop");
	oscar_value_free(reply);
}

// Hostile bytes at a pool's address: dropped, and the pool carries on.
Test(transport, garbage_frames_do_not_hurt_the_pool, .init = open_tcp, .fini = close_both)
{
	raw_conn_t raw;
	uint64_t   x = 0x2545f4914f6cdd1dull;
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	raw_dial(&raw, oscar_pool_address(b_pool));
	for (int i = 0; i < 3000; i++) {
		char   buf[256];
		size_t n = (size_t) (x % sizeof(buf)) + 1;
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (char) x;
		}
		if (i % 3 == 0 && n > 8) {
			memcpy(buf, "OSCR\x01\x01\x00\x00", 8); // past the magic
		}
		raw_send(&raw, buf, n);
	}
	// Every message was dropped and counted, none served. Waiting for the
	// last of them also keeps the sockets from closing while frames still
	// arrive, which NNG 1.5.2 may not survive (see osc_transport_close).
	oscar_pool_stats_t st = { 0 };
	for (int i = 0; i < 3000 && st.malformed < 3000; i++) {
		cr_assert_eq(oscar_pool_stats(b_pool, &st, 5000), 0);
	}
	cr_assert_eq(st.malformed, 3000, "%llu of 3000 garbage messages counted",
	    (unsigned long long) st.malformed);
	// Bytes that are not even the link's framing: that connection is
	// closed, and counted.
	raw_write(&raw, "GET / HTTP/1.0\r\n\r\n", 18);
	cr_assert(raw_closed(&raw), "the connection stayed open");
	raw_close(&raw);
	cr_assert_eq(oscar_pool_stats(b_pool, &st, 5000), 0);
	cr_assert_eq(st.malformed, 3001);
	oscar_ref_t c = remote_ref(b_pool, "c");
	cr_assert_eq(test_call_int(a_pool, &c, "add", 7), 7);
}

static const oscar_actor_class_t *const offered[] = { &test_counter_class, NULL };

Test(transport, actors_are_created_and_managed_in_other_pools)
{
	open_offering(offered);

	oscar_placement_t there = { .how = OSCAR_PLACE_ADDRESS,
		.address                 = oscar_pool_address(b_pool) };
	oscar_ref_t       ref, found;
	oscar_error_t     err;
	bool              exists;
	cr_assert_eq(oscar_create_by_name(
	                 a_pool, "counter", "c", oscar_value_new_int(10), &there, 0, &ref, &err),
	    0, "%s", err.message);
	cr_assert_str_eq(ref.addr, oscar_pool_address(b_pool));
	cr_assert_str_eq(ref.uid, "c");
	cr_assert_eq(test_call_int(a_pool, &ref, "add", 1), 11);

	// Errors come back from the other pool.
	cr_assert_eq(oscar_create_by_name(a_pool, "counter", "c", NULL, &there, 0, NULL, &err),
	    OSCAR_EEXIST);
	cr_assert_eq(
	    oscar_create_by_name(a_pool, "gate", NULL, NULL, &there, 0, NULL, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "gate") != NULL, "%s", err.message);
	// A generated uid.
	cr_assert_eq(
	    oscar_create_by_name(a_pool, "counter", NULL, NULL, &there, 0, &found, &err), 0);
	cr_assert(strncmp(found.uid, "counter-", 8) == 0, "%s", found.uid);

	cr_assert_eq(oscar_has(a_pool, &ref, &exists, 0), 0);
	cr_assert(exists);
	cr_assert_eq(oscar_lookup_at(a_pool, oscar_pool_address(b_pool), "c", &found, 0, &err), 0);
	cr_assert(oscar_ref_equal(&found, &ref));
	cr_assert_eq(oscar_destroy(a_pool, &ref, 0, &err), 0);
	cr_assert_eq(oscar_has(a_pool, &ref, &exists, 0), 0);
	cr_assert_not(exists);
	cr_assert_eq(oscar_destroy(a_pool, &ref, 0, &err), OSCAR_ENOACTOR);
	cr_assert_eq(oscar_lookup_at(a_pool, oscar_pool_address(b_pool), "c", &found, 0, &err),
	    OSCAR_ENOACTOR);
	// Here, by name.
	cr_assert_eq(
	    oscar_create_by_name(b_pool, "counter", "local", NULL, NULL, 0, &ref, &err), 0);
	cr_assert_str_eq(ref.addr, oscar_pool_address(b_pool));
	close_both();
}

// The keeper: a protected class (OSCAR_CLASS_PROTECTED) with one method,
// get() -> 7.
static int keeper_get(oscar_actor_t *self, oscar_req_t *req)
{
	return (oscar_req_reply(req, oscar_value_new_int(7)));
}

static const oscar_method_t keeper_methods[] = {
	{ "get", keeper_get, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t keeper_class = {
	.name    = "keeper",
	.methods = keeper_methods,
	.flags   = OSCAR_CLASS_PROTECTED,
};

static const oscar_actor_class_t *const offered_with_keeper[] = { &test_counter_class,
	&keeper_class, NULL };

// Another pool may call a protected actor, but neither destroy it nor
// create anything over its uid; its own pool still may.
Test(transport, protected_actors_survive_remote_destroy_and_create)
{
	open_offering(offered_with_keeper);

	oscar_placement_t there    = { .how = OSCAR_PLACE_ADDRESS,
		   .address                 = oscar_pool_address(b_pool) };
	oscar_ref_t       k        = test_spawn(b_pool, &keeper_class, "k", NULL);
	oscar_ref_t       remote_k = remote_ref(b_pool, "k");
	oscar_error_t     err;
	bool              exists;
	cr_assert(oscar_ref_equal(&k, &remote_k));
	cr_assert_eq(test_call_int(a_pool, &remote_k, "get", 0), 7);

	// A destroy from another pool is refused, and says why.
	cr_assert_eq(oscar_destroy(a_pool, &remote_k, 0, &err), OSCAR_EPROTECTED);
	cr_assert_eq(err.code, OSCAR_EPROTECTED);
	cr_assert(strstr(err.message, "protected") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "keeper") != NULL, "%s", err.message);
	cr_assert_str_eq(err.actor, "k");
	cr_assert_str_eq(err.address, oscar_pool_address(b_pool));
	cr_assert_eq(oscar_has(b_pool, &k, &exists, 0), 0);
	cr_assert(exists);

	// So is a create over its uid, whatever the class.
	cr_assert_eq(oscar_create_by_name(a_pool, "counter", "k", NULL, &there, 0, NULL, &err),
	    OSCAR_EPROTECTED);
	cr_assert(strstr(err.message, "replaced") != NULL, "%s", err.message);
	cr_assert_eq(oscar_create_by_name(a_pool, "keeper", "k", NULL, &there, 0, NULL, &err),
	    OSCAR_EPROTECTED);
	cr_assert_eq(test_call_int(a_pool, &remote_k, "get", 0), 7);

	// A protected actor created by another pool is protected too.
	oscar_ref_t k2;
	cr_assert_eq(oscar_create_by_name(a_pool, "keeper", "k2", NULL, &there, 0, &k2, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_destroy(a_pool, &k2, 0, &err), OSCAR_EPROTECTED);

	// Unprotected actors of the same pool are not.
	oscar_ref_t c;
	cr_assert_eq(oscar_create_by_name(a_pool, "counter", "c", NULL, &there, 0, &c, &err), 0);
	cr_assert_eq(oscar_destroy(a_pool, &c, 0, &err), 0);

	// Its own pool may destroy it.
	cr_assert_eq(oscar_destroy(b_pool, &k, 0, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_has(a_pool, &remote_k, &exists, 0), 0);
	cr_assert_not(exists);
	close_both();
}

// tls+tcp: pools with a certificate signed by a shared authority (here a
// self-signed one, made for the test with the openssl tool).
Test(transport, tls_pools_talk_over_verified_connections)
{
	char dir[] = "/tmp/oscar-tls-XXXXXX";
	char cmd[512], cert[128], key[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
	    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
	    key, cert);
	cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");

	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address       = "tls+tcp://127.0.0.1:0";
	cfg.tls_cert_file = cert;
	cfg.tls_key_file  = key;
	cfg.tls_ca_file   = cert;
	a_pool            = pool_open(&cfg);
	b_pool            = pool_open(&cfg);
	cr_assert(strncmp(oscar_pool_address(b_pool), "tls+tcp://127.0.0.1:", 20) == 0, "%s",
	    oscar_pool_address(b_pool));
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	oscar_ref_t c = remote_ref(b_pool, "c");
	cr_assert_eq(test_call_int(a_pool, &c, "add", 21), 21);
	close_both();

	// A listener without a certificate is refused with a clear error.
	oscar_pool_t *p;
	cfg.tls_cert_file = NULL;
	cfg.tls_key_file  = NULL;
	cr_assert_eq(oscar_pool_open(&p, &cfg, NULL), OSCAR_EINVAL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

// blaster.blast([address, n]): n tells to counter "c" at address, all in
// one handler (so they share transport messages), then a call for its log.
static void blast_done(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	oscar_req_t *req = arg;
	if (res->code != 0) {
		oscar_req_fail_result(req, res);
		return;
	}
	oscar_req_reply(req, res->value);
	res->value = NULL;
}

static int blast(oscar_actor_t *self, oscar_req_t *req)
{
	const char *addr;
	int64_t     n;
	oscar_ref_t c;
	char        s[24];
	if (oscar_value_get_str(oscar_req_arg(req, 0), &addr, NULL) != 0 ||
	    oscar_value_get_int(oscar_req_arg(req, 1), &n) != 0) {
		return (OSCAR_EBADARGS);
	}
	oscar_ref_make(&c, addr, "c");
	for (int64_t i = 0; i < n; i++) {
		snprintf(s, sizeof(s), "%lld", (long long) i);
		int rv = oscar_actor_tell(self, &c, "log", oscar_value_new_str(s));
		if (rv != 0) {
			return (oscar_req_fail(req, rv, "tell %lld failed", (long long) i));
		}
	}
	int rv = oscar_req_call(req, &c, "get_log", NULL, 0, blast_done, req, NULL);
	return (rv != 0 ? rv : oscar_req_defer(req, OSCAR_DEFER_YIELD));
}

static const oscar_method_t blaster_methods[] = {
	{ "blast", blast, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t blaster_class = {
	.name    = "blaster",
	.methods = blaster_methods,
};

Test(transport, many_frames_in_one_turn_arrive_in_order, .init = open_tcp, .fini = close_both)
{
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	oscar_ref_t    bl   = test_spawn(a_pool, &blaster_class, "bl", NULL);
	oscar_value_t *args = oscar_value_new_array(2), *log;
	oscar_error_t  err;
	oscar_value_array_push(args, oscar_value_new_str(oscar_pool_address(b_pool)));
	oscar_value_array_push(args, oscar_value_new_int(6000));
	cr_assert_eq(
	    oscar_call(a_pool, &bl, "blast", args, 30000, &log, &err), 0, "%s", err.message);
	cr_assert_eq(oscar_value_len(log), 6000);
	for (size_t i = 0; i < 6000; i++) {
		const char *s;
		char        want[24];
		snprintf(want, sizeof(want), "%zu", i);
		cr_assert_eq(oscar_value_get_str(oscar_value_at(log, i), &s, NULL), 0);
		cr_assert_str_eq(s, want);
	}
	oscar_value_free(log);
}

Test(transport, tell_nowait_reaches_other_pools, .init = open_ipc, .fini = close_both)
{
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	oscar_ref_t c = remote_ref(b_pool, "c");
	for (int i = 0; i < 100; i++) {
		int rv;
		while ((rv = oscar_tell_nowait(a_pool, &c, "add", oscar_value_new_int(1))) ==
		       OSCAR_EMBOXFULL) {
			;
		}
		cr_assert_eq(rv, 0);
	}
	// Tells and the call travel the same connection, in order.
	cr_assert_eq(test_call_int(a_pool, &c, "add", 0), 100);
}

// A receiving pool with a tiny inbox stops reading instead of dropping:
// a flood of tells all arrive.
Test(transport, a_full_inbox_pushes_back_instead_of_dropping)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address     = "tcp://127.0.0.1:0";
	cfg.inbox_limit = 4;
	b_pool          = pool_open(&cfg);
	a_pool          = open_at("tcp://127.0.0.1:0", 0);
	test_spawn(b_pool, &test_counter_class, "c", NULL);
	oscar_ref_t        bl = test_spawn(a_pool, &blaster_class, "bl", NULL);
	oscar_value_t     *args, *log;
	oscar_error_t      err;
	oscar_pool_stats_t st;
	for (int round = 0; round < 3; round++) {
		args = oscar_value_new_array(2);
		oscar_value_array_push(args, oscar_value_new_str(oscar_pool_address(b_pool)));
		oscar_value_array_push(args, oscar_value_new_int(3000));
		cr_assert_eq(oscar_call(a_pool, &bl, "blast", args, 30000, &log, &err), 0, "%s",
		    err.message);
		cr_assert_eq(oscar_value_len(log), 3000 * (size_t) (round + 1));
		oscar_value_free(log);
	}
	cr_assert_eq(oscar_pool_stats(b_pool, &st, 0), 0);
	cr_assert_eq(st.dropped, 0);
	close_both();
}
