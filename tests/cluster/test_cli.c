// The command lines of oscar-supervisor, oscar-worker and oscar against a
// careless operator: bad addresses of every kind exit with status 2 at
// once, naming the address; a configuration file with a NUL byte, and a
// TLS key file that holds no key, are named; `oscar stop` to a closed port
// gives up when its timeout says, naming the address it tried.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/cluster/support_procs.h"

TestSuite(cli, .init = procs_setup, .fini = procs_teardown, .timeout = 240);

#define SUP    OSCAR_TEST_SUPERVISOR
#define WORKER OSCAR_TEST_WORKER
#define CLI    OSCAR_TEST_CLI

// refused runs argv, asserts that it exits with status 2 (proc_wait_exit
// bounds the wait: a program that retries forever fails the test) and
// that its standard error holds says, and that it started no node.
static void refused(const char *name, const char *const *argv, const char *say1, const char *say2)
{
	proc_t *p = proc_startv(name, argv);
	int     c = proc_wait_exit(p);
	cr_assert_eq(
	    c, 2, "%s: exit status %d, 2 expected; its standard error:\n%s", name, c, proc_tail(p));
	cr_assert(proc_output_has(p, true, say1), "%s: its standard error does not say '%s':\n%s",
	    name, say1, proc_tail(p));
	cr_assert(say2 == NULL || proc_output_has(p, true, say2),
	    "%s: its standard error does not say '%s':\n%s", name, say2, proc_tail(p));
	char *out = proc_output(p, false);
	cr_assert_eq(strstr(out, "listening at"), NULL, "%s started a node", name);
	free(out);
}

Test(cli, a_worker_with_a_bad_supervisor_address_exits_2_naming_it)
{
	static const char *const bad[] = { "ftp://127.0.0.1:7100", "tcp://127.0.0.1:99999",
		"garbage", "tcp://127.0.0.1", "tcp://:7100", "tcp://127.0.0.1:0", "ipc://", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		char name[32];
		snprintf(name, sizeof(name), "worker%zu", i);
		const char *argv[] = { WORKER, "--supervisor", bad[i], NULL };
		refused(name, argv, bad[i], "node.supervisor");
	}
}

Test(cli, bad_listen_addresses_exit_2_naming_them)
{
	static const char *const bad[] = { "tcp://127.0.0.1:99999", ":-1", "tcp://127.0.0.1:-1",
		"tcp://", "tcp://127.0.0.1:7x", "inproc://x", "ftp://127.0.0.1:0", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		char name[32];
		snprintf(name, sizeof(name), "listen%zu", i);
		const char *argv[] = { SUP, "--listen", bad[i], NULL };
		refused(name, argv, bad[i], "node.listen");
	}
}

Test(cli, status_and_stop_of_a_bad_address_exit_2_at_once)
{
	static const char *const bad[] = { "tcp://127.0.0.1:99999", "tcp://127.0.0.1:0",
		"tcp://:7100", "ftp://127.0.0.1:7100", "garbage", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		char name[32];
		snprintf(name, sizeof(name), "status%zu", i);
		const char *status[] = { CLI, "status", bad[i], NULL };
		refused(name, status, bad[i], NULL);
		snprintf(name, sizeof(name), "stop%zu", i);
		const char *stop[] = { CLI, "stop", bad[i], NULL };
		refused(name, stop, bad[i], NULL);
	}
}

Test(cli, a_nul_byte_in_a_configuration_file_is_named_with_its_line)
{
	char path[PATH_MAX];
	procs_path(path, sizeof(path), "nul.ini");
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	static const char text[] = "[node]\ncores = 2\nlabels = a\0b\n";
	cr_assert_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	fclose(f);
	const char *argv[] = { SUP, "--config", path, NULL };
	refused("nul", argv, path, "line 3: a NUL byte");
}

Test(cli, a_tls_key_that_is_not_a_key_is_named)
{
	char key[PATH_MAX], cert[PATH_MAX];
	procs_path(key, sizeof(key), "not-a-key.pem");
	procs_path(cert, sizeof(cert), "not-a-cert.pem");
	FILE *f = fopen(key, "w");
	cr_assert_not_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	f = fopen(cert, "w");
	cr_assert_not_null(f);
	fputs("hello\n", f);
	fclose(f);
	const char *argv[] = { SUP, "--tls-key", key, NULL };
	refused("key", argv, key, "not a PEM file holding a private key");
	const char *argv2[] = { SUP, "--listen", "tls+tcp://127.0.0.1:0", "--tls-cert", cert,
		"--tls-key", key, NULL };
	refused("cert", argv2, cert, "not a PEM file holding a certificate");
}

// closed_port gives a tcp:// address on this machine where nothing
// listens: a port the system handed out, then closed again.
static void closed_port(char *addr, size_t size)
{
	int                s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *) &sa, &len), 0);
	close(s);
	snprintf(addr, size, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
}

// wait_exit_by waits until p exits, at most until deadline_ms (on
// procs_now_ms's clock), and returns its exit status; a process still
// running then fails the test (its timeout was not honoured).
static int wait_exit_by(proc_t *p, int64_t deadline_ms, const char *what)
{
	while (proc_running(p)) {
		cr_assert(
		    procs_now_ms() < deadline_ms, "%s is still running past its timeout", what);
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return (p->code);
}

#ifdef OSCAR_TEST_SANITIZE
#define MARGIN_MS 10000
#else
#define MARGIN_MS 3000
#endif

Test(cli, stop_to_a_closed_port_honours_its_timeout_and_names_the_target)
{
	char addr[64];
	closed_port(addr, sizeof(addr));
	int64_t start = procs_now_ms();
	proc_t *p     = proc_start("stop-1s", CLI, "stop", addr, "--timeout", "1s", NULL);
	cr_assert_eq(wait_exit_by(p, start + 1000 + MARGIN_MS, "oscar stop --timeout 1s"), 1);
	cr_assert(proc_output_has(p, true, addr), "the error names the target: %s", proc_tail(p));
	cr_assert(proc_output_has(p, true, "ETIMEDOUT"), "%s", proc_tail(p));

	// The default timeout, 30 s, is honoured as well.
	start = procs_now_ms();
	p     = proc_start("stop-default", CLI, "stop", addr, NULL);
	cr_assert_eq(wait_exit_by(p, start + 30000 + MARGIN_MS, "oscar stop"), 1);
	cr_assert(proc_output_has(p, true, addr), "the error names the target: %s", proc_tail(p));
	// The command's own pool (on this machine too) is no part of the
	// story: every address the error gives is the target's.
	char *err = proc_output(p, true);
	for (const char *at = strstr(err, "tcp://"); at != NULL; at = strstr(at + 1, "tcp://")) {
		cr_assert(strncmp(at, addr, strlen(addr)) == 0 &&
		              strchr("0123456789", at[strlen(addr)]) == NULL,
		    "an address other than the target's: %s", err);
	}
	free(err);

	// And status, with its own.
	start = procs_now_ms();
	p     = proc_start("status-1s", CLI, "status", addr, "--timeout", "1s", NULL);
	cr_assert_eq(wait_exit_by(p, start + 1000 + MARGIN_MS, "oscar status --timeout 1s"), 1);
	cr_assert(proc_output_has(p, true, addr), "the error names the target: %s", proc_tail(p));
}
