#include "tests/common/raw.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <criterion/criterion.h>
#include <nng/protocol/pipeline0/push.h>

#include "actors/stream.h"

void raw_dial(raw_conn_t *r, const char *address)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (!osc_stream_handles(address)) {
		r->nng = true;
		cr_assert_eq(nng_push0_open(&r->sock), 0);
		cr_assert_eq(nng_socket_set_ms(r->sock, NNG_OPT_SENDTIMEO, 20000), 0);
		cr_assert_eq(nng_dial(r->sock, address, NULL, 0), 0, "dial %s", address);
		return;
	}
	struct sockaddr_storage sa;
	socklen_t               salen;
	memset(&sa, 0, sizeof(sa));
	if (strncmp(address, "ipc://", 6) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *) &sa;
		sun->sun_family         = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", address + 6);
		salen = sizeof(*sun);
	} else {
		const char *host = strstr(address, "://") + 3;
		const char *port = strrchr(host, ':');
		char        name[256];
		cr_assert_not_null(port, "%s", address);
		snprintf(name, sizeof(name), "%.*s", (int) (port - host), host);
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		cr_assert_eq(getaddrinfo(name, port + 1, &hints, &res), 0, "%s", address);
		memcpy(&sa, res->ai_addr, res->ai_addrlen);
		salen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	r->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(r->fd, 0);
	struct timeval tv = { 20, 0 };
	setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(r->fd, (struct sockaddr *) &sa, salen), 0, "connect %s: %s", address,
	    strerror(errno));
}

void raw_write(raw_conn_t *r, const void *data, size_t len)
{
	const char *p = data;
	cr_assert(!r->nng);
	while (len > 0) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);
		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t) n;
	}
}

void raw_send(raw_conn_t *r, const void *data, size_t len)
{
	if (r->nng) {
		cr_assert_eq(nng_send(r->sock, (void *) data, len, 0), 0);
		return;
	}
	unsigned char h[OSC_STREAM_HEADER] = { 'O', 'S', 'C', 'L', OSC_STREAM_VERSION };
	for (int i = 0; i < 8; i++) {
		h[8 + i] = (unsigned char) ((uint64_t) len >> (8 * i));
	}
	raw_write(r, h, sizeof(h));
	raw_write(r, data, len);
}

bool raw_closed(raw_conn_t *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	char          c;
	cr_assert(!r->nng);
	return (poll(&pfd, 1, 10000) == 1 && recv(r->fd, &c, 1, 0) <= 0);
}

void raw_close(raw_conn_t *r)
{
	if (r->nng) {
		nng_close(r->sock);
	} else if (r->fd >= 0) {
		close(r->fd);
	}
	r->fd = -1;
}
