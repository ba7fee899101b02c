// The child process of the shared-memory tests (test_store.c), started
// with fork and exec: it talks to its parent over a unix socket (fd 3).
//
//   shm_child read    receive a segment, map it read-only, check that its
//                     bytes follow the pattern (byte i is (i * 31 + 7) &
//                     0xff) and that it cannot be written, answer "ok" or
//                     the failure.
//   shm_child write N make a sealed bin segment of N bytes in the pattern
//                     and send it to the parent, then wait for "done".
//   shm_child hold    receive a segment, map it, answer "held", then wait
//                     to be killed.
//
// Every wait has a deadline; the exit status is 0 on success.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "oscar/error.h"
#include "services/storage/shm.h"

#define SOCK       3
#define TIMEOUT_MS 60000

// answer sends a short text to the parent.
static int answer(const char *text)
{
	size_t n = strlen(text);

	return (write(SOCK, text, n) == (ssize_t) n ? 0 : 1);
}

static int child_read(void)
{
	osc_shm_map_t m;
	char          msg[64];
	size_t        len;
	int           fd;
	int           rv;

	if ((rv = osc_shm_recv_fd(SOCK, &fd, msg, sizeof(msg), &len, TIMEOUT_MS)) != 0) {
		return (answer(oscar_errname(rv)));
	}
	if ((rv = osc_shm_map(fd, false, &m)) != 0) {
		close(fd);
		return (answer(oscar_errname(rv)));
	}
	for (size_t i = 0; i < m.len; i++) {
		if ((unsigned char) m.data[i] != (unsigned char) (i * 31 + 7)) {
			char why[64];
			snprintf(why, sizeof(why), "byte %zu differs", i);
			return (answer(why));
		}
	}
	// Sealed: a writable shared mapping is refused.
	void *w = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w != MAP_FAILED) {
		return (answer("writable"));
	}
	char ok[64];
	snprintf(ok, sizeof(ok), "ok %zu", m.len);
	osc_shm_unmap(&m);
	close(fd);
	return (answer(ok));
}

static int child_write(size_t n)
{
	osc_shm_map_t m;
	char          buf[16];
	int           fd;
	int           rv;

	if ((rv = osc_shm_alloc(OSC_SHM_BIN, n, &fd, &m)) != 0) {
		return (answer(oscar_errname(rv)));
	}
	for (size_t i = 0; i < n; i++) {
		((char *) m.base)[OSC_SHM_HDR + i] = (char) (i * 31 + 7);
	}
	if ((rv = osc_shm_seal(fd, &m)) != 0 || (rv = osc_shm_send_fd(SOCK, fd, "bin", 3)) != 0) {
		return (1);
	}
	close(fd);
	// The parent says when it is done; the end of the stream works too.
	ssize_t k = read(SOCK, buf, sizeof(buf));
	return (k >= 0 ? 0 : 1);
}

static int child_hold(void)
{
	osc_shm_map_t m;
	char          msg[64];
	size_t        len;
	int           fd;

	if (osc_shm_recv_fd(SOCK, &fd, msg, sizeof(msg), &len, TIMEOUT_MS) != 0 ||
	    osc_shm_map(fd, false, &m) != 0) {
		return (1);
	}
	if (answer("held") != 0) {
		return (1);
	}
	// Hold the mapping and the descriptor until killed (or 60 s).
	sleep(60);
	return (1);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "read") == 0) {
		return (child_read());
	}
	if (argc >= 3 && strcmp(argv[1], "write") == 0) {
		return (child_write((size_t) strtoull(argv[2], NULL, 10)));
	}
	if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
		return (child_hold());
	}
	fprintf(stderr, "usage: shm_child read | write N | hold\n");
	return (2);
}
