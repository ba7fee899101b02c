// The cluster secret: who may talk to a pool (actors/auth.c and its use in
// actors/transport.c), and the secret file reader.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "actors/auth.h"
#include "actors/wire.h"
#include "tests/actors/support.h"
#include "tests/common/raw.h"

TestSuite(security, .timeout = 60);

static const char secret_a[] = "a cluster secret of 34 bytes, say.";
static const char secret_b[] = "another secret, just as long, too.";

static oscar_pool_t *open_secret(const char *address, const char *secret)
{
	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address    = address;
	cfg.secret     = secret;
	cfg.secret_len = secret != NULL ? strlen(secret) : 0;
	return (pool_open(&cfg));
}

static oscar_ref_t ref_in(oscar_pool_t *p, const char *uid)
{
	oscar_ref_t ref;
	cr_assert_eq(oscar_ref_make(&ref, oscar_pool_address(p), uid), 0);
	return (ref);
}

static oscar_pool_stats_t stats_of(oscar_pool_t *p)
{
	oscar_pool_stats_t st;
	cr_assert_eq(oscar_pool_stats(p, &st, 5000), 0);
	return (st);
}

// wait_rejected waits (with a deadline) until p has rejected at least n
// messages, and returns the count.
static uint64_t wait_rejected(oscar_pool_t *p, uint64_t n)
{
	for (int i = 0; i < 500; i++) {
		oscar_pool_stats_t st = stats_of(p);
		if (st.rejected >= n) {
			return (st.rejected);
		}
		usleep(10000);
	}
	cr_assert_fail("pool %s rejected fewer than %llu messages", oscar_pool_address(p),
	    (unsigned long long) n);
	return (0);
}

// frame_msg encodes one frame (payload may be NULL) as an NNG message.
static nng_msg *frame_msg(const osc_frame_t *f, const oscar_value_t *payload)
{
	osc_wbuf_t w;
	nng_msg   *m;
	osc_wbuf_init(&w);
	cr_assert_eq(osc_frame_encode(&w, f, payload, NULL, 0), 0);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, w.data, w.len), 0);
	osc_wbuf_fini(&w);
	return (m);
}

static nng_msg *tell_msg(const char *source, const char *uid, const char *method, int64_t arg)
{
	osc_frame_t f;
	memset(&f, 0, sizeof(f));
	f.type = OSC_MSG_TELL;
	snprintf(f.source, sizeof(f.source), "%s", source);
	snprintf(f.target, sizeof(f.target), "%s", uid);
	snprintf(f.method, sizeof(f.method), "%s", method);
	oscar_value_t *v = oscar_value_new_int(arg);
	nng_msg       *m = frame_msg(&f, v);
	oscar_value_free(v);
	return (m);
}

static nng_msg *destroy_msg(const char *source, const char *uid)
{
	osc_frame_t f;
	memset(&f, 0, sizeof(f));
	f.type = OSC_MSG_DESTROY;
	f.id   = 7;
	snprintf(f.source, sizeof(f.source), "%s", source);
	snprintf(f.target, sizeof(f.target), "%s", uid);
	return (frame_msg(&f, NULL));
}

static raw_conn_t dial_raw(oscar_pool_t *p)
{
	raw_conn_t raw;
	raw_dial(&raw, oscar_pool_address(p));
	return (raw);
}

// raw_sendmsg sends m's bytes as one transport message, and frees m.
static void raw_sendmsg(raw_conn_t *raw, nng_msg *m)
{
	raw_send(raw, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
}

Test(security, pools_with_the_same_secret_talk)
{
	oscar_pool_t *a = open_secret("tcp://127.0.0.1:0", secret_a);
	oscar_pool_t *b = open_secret("tcp://127.0.0.1:0", secret_a);
	test_spawn(b, &test_counter_class, "c", oscar_value_new_int(40));
	oscar_ref_t c = ref_in(b, "c");
	cr_assert_eq(test_call_int(a, &c, "add", 2), 42);
	for (int i = 0; i < 1000; i++) {
		oscar_error_t err;
		cr_assert_eq(oscar_tell(a, &c, "add", oscar_value_new_int(1), 0, &err), 0);
	}
	cr_assert_eq(test_call_int(a, &c, "add", 0), 1042);
	cr_assert_eq(stats_of(a).rejected, 0);
	cr_assert_eq(stats_of(b).rejected, 0);
	oscar_pool_free(&a);
	oscar_pool_free(&b);
}

// A pool without the secret, or with another one, reaches nothing: its
// calls go unanswered, its frames are dropped and counted.
Test(security, frames_without_the_secret_are_dropped_and_counted)
{
	oscar_pool_t *b     = open_secret("tcp://127.0.0.1:0", secret_a);
	oscar_pool_t *plain = open_secret("tcp://127.0.0.1:0", NULL);
	oscar_pool_t *other = open_secret("tcp://127.0.0.1:0", secret_b);
	oscar_error_t err;
	test_spawn(b, &test_counter_class, "c", oscar_value_new_int(5));
	oscar_ref_t c = ref_in(b, "c");

	cr_assert_eq(
	    oscar_call(plain, &c, "add", oscar_value_new_int(1), 300, NULL, &err), OSCAR_ETIMEDOUT);
	cr_assert_eq(
	    oscar_call(other, &c, "add", oscar_value_new_int(1), 300, NULL, &err), OSCAR_ETIMEDOUT);
	cr_assert_eq(oscar_destroy(other, &c, 300, &err), OSCAR_ETIMEDOUT);
	uint64_t seen = wait_rejected(b, 3);

	// The forged destroy of the issue, from a bare socket.
	raw_conn_t raw = dial_raw(b);
	raw_sendmsg(&raw, destroy_msg("tcp://127.0.0.1:9", "c"));
	raw_sendmsg(&raw, tell_msg("", "c", "add", 100));
	wait_rejected(b, seen + 2);
	raw_close(&raw);

	bool        exists;
	oscar_ref_t local = ref_in(b, "c");
	cr_assert_eq(oscar_has(b, &local, &exists, 0), 0);
	cr_assert(exists, "a destroy without the secret destroyed the actor");
	cr_assert_eq(test_call_int(b, &local, "add", 0), 5, "a tell without the secret ran");
	oscar_pool_free(&b);
	oscar_pool_free(&plain);
	oscar_pool_free(&other);
}

// A message that proves the secret is served once: sent again (a replay
// by someone who captured it), or with a stale clock, it is dropped.
Test(security, replayed_messages_are_dropped)
{
	oscar_pool_t *b = open_secret("tcp://127.0.0.1:0", secret_a);
	test_spawn(b, &test_counter_class, "c", NULL);
	osc_auth_t auth;
	cr_assert_eq(osc_auth_init(&auth, secret_a, strlen(secret_a), 12345), 0);
	nng_msg *m = tell_msg("", "c", "add", 10);
	cr_assert_eq(osc_auth_seal(&auth, m), 0);
	nng_msg *copy;
	cr_assert_eq(nng_msg_dup(&copy, m), 0);
	raw_conn_t raw = dial_raw(b);
	raw_sendmsg(&raw, m);
	raw_sendmsg(&raw, copy);
	wait_rejected(b, 1);
	oscar_ref_t c = ref_in(b, "c");
	cr_assert_eq(test_call_int(b, &c, "add", 0), 10, "the replay ran");

	// A sealed message changed on the way is dropped.
	m = tell_msg("", "c", "add", 1000);
	cr_assert_eq(osc_auth_seal(&auth, m), 0);
	((char *) nng_msg_body(m))[nng_msg_len(m) - OSC_AUTH_TRAILER - 1] ^= 1;
	raw_sendmsg(&raw, m);
	wait_rejected(b, 2);
	cr_assert_eq(test_call_int(b, &c, "add", 0), 10, "a changed message ran");

	// A later message of the same sender is served.
	m = tell_msg("", "c", "add", 1);
	cr_assert_eq(osc_auth_seal(&auth, m), 0);
	raw_sendmsg(&raw, m);
	for (int i = 0; i < 500 && test_call_int(b, &c, "add", 0) != 11; i++) {
		usleep(10000);
	}
	cr_assert_eq(test_call_int(b, &c, "add", 0), 11);
	raw_close(&raw);
	osc_auth_fini(&auth);
	oscar_pool_free(&b);
}

Test(security, freshness_window_and_clock_skew)
{
	osc_auth_t a;
	int64_t    now = 1700000000000;
	cr_assert_eq(osc_auth_init(&a, secret_a, strlen(secret_a), 1), 0);
	cr_assert(osc_auth_fresh(&a, 9, 100, now, now));
	cr_assert_not(osc_auth_fresh(&a, 9, 100, now, now), "the same number twice");
	cr_assert(osc_auth_fresh(&a, 9, 98, now, now), "a little out of order");
	cr_assert_not(osc_auth_fresh(&a, 9, 98, now, now));
	cr_assert(osc_auth_fresh(&a, 9, 300, now, now));
	cr_assert_not(osc_auth_fresh(&a, 9, 200, now, now), "too far behind the window");
	cr_assert_not(osc_auth_fresh(&a, 10, 1, now - OSC_AUTH_SKEW_MS - 1, now), "too old");
	cr_assert_not(
	    osc_auth_fresh(&a, 10, 1, now + OSC_AUTH_SKEW_MS + 1, now), "from the future");
	cr_assert(osc_auth_fresh(&a, 10, 1, now, now));
	osc_auth_fini(&a);
	cr_assert_eq(osc_auth_init(&a, "short", 5, 1), OSCAR_EINVAL);
	osc_auth_fini(&a);
}

// write_file makes a file with the given bytes and mode.
static void write_file(const char *path, const char *bytes, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(bytes, 1, len, f), len);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

Test(security, secret_files_are_read_with_clear_errors, .init = cr_redirect_stderr)
{
	char          dir[] = "/tmp/oscar-secret-XXXXXX";
	char          path[128];
	void         *s;
	size_t        len;
	oscar_error_t err;
	cr_assert_not_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/missing", dir);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, path) != NULL, "%s", err.message);
	cr_assert_null(s);

	snprintf(path, sizeof(path), "%s/empty", dir);
	write_file(path, "", 0, 0600);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "empty") != NULL, "%s", err.message);
	write_file(path, "\n", 1, 0600);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), OSCAR_EINVAL);

	snprintf(path, sizeof(path), "%s/short", dir);
	write_file(path, "0123456789\n", 11, 0600);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "too short") != NULL, "%s", err.message);
	cr_assert(strstr(err.message, path) != NULL, "%s", err.message);

	char big[OSCAR_SECRET_MAX + 10];
	memset(big, 'x', sizeof(big));
	snprintf(path, sizeof(path), "%s/long", dir);
	write_file(path, big, sizeof(big), 0600);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "too long") != NULL, "%s", err.message);

	cr_assert_eq(oscar_secret_read(dir, &s, &len, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "not a regular file") != NULL, "%s", err.message);
	// A FIFO is refused at once, not waited on.
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "not a regular file") != NULL, "%s", err.message);

	// A good one: the line end is not part of it, and a private file
	// gives no warning.
	snprintf(path, sizeof(path), "%s/good", dir);
	write_file(path, "0123456789abcdef\r\n", 18, 0600);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), 0, "%s", err.message);
	cr_assert_eq(len, 16);
	cr_assert_eq(memcmp(s, "0123456789abcdef", 16), 0);
	oscar_secret_free(&s, len);
	cr_assert_null(s);

	// Readable by others: accepted, with a warning.
	write_file(path, "0123456789abcdef", 16, 0644);
	cr_assert_eq(oscar_secret_read(path, &s, &len, &err), 0, "%s", err.message);
	oscar_secret_free(&s, len);
	fflush(stderr);
	char  line[512] = "";
	FILE *out       = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(line, sizeof(line), out));
	cr_assert(strstr(line, "warning") != NULL && strstr(line, path) != NULL, "%s", line);
	cr_assert_null(fgets(line, sizeof(line), out), "one warning only: %s", line);

	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

// A pool listening beyond loopback with neither a secret nor TLS says so
// at start; on loopback, or with a secret, it does not.
Test(security, an_open_pool_warns_at_start, .init = cr_redirect_stderr)
{
	oscar_pool_t *p = open_secret("tcp://127.0.0.1:0", NULL);
	oscar_pool_free(&p);
	p = open_secret("tcp://0.0.0.0:0", secret_a);
	oscar_pool_free(&p);
	fflush(stderr);
	char  line[512] = "";
	FILE *out       = cr_get_redirected_stderr();
	cr_assert_null(fgets(line, sizeof(line), out), "unexpected: %s", line);
	p = open_secret("tcp://0.0.0.0:0", NULL);
	oscar_pool_free(&p);
	fflush(stderr);
	cr_assert_not_null(fgets(line, sizeof(line), out));
	cr_assert(strstr(line, "beyond loopback") != NULL, "%s", line);
}

// A main pool hands its secret to its sub pools, which then talk to it.
Test(security, sub_pools_share_the_secret)
{
	static const char *const labels[] = { "only" };
	oscar_pool_config_t      cfg;
	char                     addr[96];
	oscar_pool_t            *p;
	snprintf(addr, sizeof(addr), "ipc:///tmp/oscar-test-secret-%d.sock", (int) getpid());
	oscar_pool_config_init(&cfg);
	cfg.address             = addr;
	cfg.sub_pools           = 1;
	cfg.sub_pool_labels     = labels;
	cfg.sub_pool_program    = OSCAR_TEST_SUBPOOL;
	cfg.secret              = secret_a;
	cfg.secret_len          = strlen(secret_a);
	p                       = pool_open(&cfg);
	oscar_placement_t where = { .how = OSCAR_PLACE_SUB_POOL, .index = 0 };
	oscar_ref_t       ref;
	oscar_error_t     err;
	cr_assert_eq(
	    oscar_create_by_name(p, "counter", "c", oscar_value_new_int(1), &where, 0, &ref, &err),
	    0, "%s", err.message);
	cr_assert_eq(test_call_int(p, &ref, "add", 2), 3);
	cr_assert_eq(stats_of(p).rejected, 0);
	// A pool without the secret cannot reach the sub pool.
	oscar_pool_t *plain = open_secret("tcp://127.0.0.1:0", NULL);
	cr_assert_eq(oscar_call(plain, &ref, "add", oscar_value_new_int(1), 300, NULL, &err),
	    OSCAR_ETIMEDOUT);
	cr_assert_eq(test_call_int(p, &ref, "add", 0), 3);
	oscar_pool_free(&plain);
	oscar_pool_free(&p);
}
