// The shared-memory link between a worker's storage and its sub pools.
//
// Design. The storage service listens on a unix SOCK_SEQPACKET socket
// whose abstract name comes from the worker's main pool address (so
// nothing appears in the file system, and a sub pool that knows its
// node's address finds it). A thread of the service accepts connections
// from the worker's own process and its children only (SO_PEERCRED: same
// user, and the peer's parent is this process) and serves one request at
// a time per connection, at most OSC_LINK_CONNS connections. The store
// is the actor's, so the thread asks the actor: shm_export makes (or
// reuses) the object's sealed segment and sends a duplicate of its
// descriptor on the connection itself, while the thread waits;
// shm_import adopts a segment the thread received. A segment lives as
// long as a descriptor or mapping of it does: deleting the object, the
// store closing and a sub pool dying each drop their own.
//
// Messages (each one packet):
//
//   request   'R' session NUL key          read: the reply carries the
//                                          segment's descriptor
//             'W' session NUL key + fd     put the segment as key
//   reply     int32 0 + fd                 read succeeded
//             int32 0, uint64 size         put succeeded
//             int32 code, message          failed (no descriptor)
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "oscar/oscar.h"
#include "services/storage/shm.h"
#include "services/storage/storage_int.h"

// The most sub pool connections served at once.
#define OSC_LINK_CONNS 64
// The longest request: 'R', a session, a zero byte, a key.
#define OSC_LINK_MSG (2 + OSC_STORE_SESSION_MAX + OSC_STORE_KEY_MAX)
// How long the thread waits for the actor.
#define OSC_LINK_CALL_MS 60000

struct osc_storage_link {
	osc_storage_svc_t *svc;
	int                listen_fd;
	int                stop_fd; // eventfd: the thread ends
	int                conns[OSC_LINK_CONNS];
	size_t             n_conns;
	pthread_t          thread;
	bool               started;
};

void osc_storage_link_name(const char *address, char *buf, size_t size)
{
	// FNV-1a: addresses of live pools differ, and so do their hashes.
	uint64_t h = UINT64_C(14695981039346656037);
	for (const char *p = address; *p != '\0'; p++) {
		h = (h ^ (unsigned char) *p) * UINT64_C(1099511628211);
	}
	snprintf(buf, size, "oscar-storage-%016" PRIx64, h);
}

static socklen_t osc_link_addr(const char *address, struct sockaddr_un *sa)
{
	char name[64];
	osc_storage_link_name(address, name, sizeof(name));
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n       = strlen(name);
	memcpy(sa->sun_path + 1, name, n); // sun_path[0] == 0: abstract
	return ((socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n));
}

// osc_link_send sends buf[0..len) and, when fd >= 0, a duplicate of fd.
static int osc_link_send(int sock, int fd, const void *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char           buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh;
	struct iovec  iov = { .iov_base = (void *) (uintptr_t) buf, .iov_len = len };
	memset(&mh, 0, sizeof(mh));
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_iov    = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		mh.msg_control    = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level     = SOL_SOCKET;
		c->cmsg_type      = SCM_RIGHTS;
		c->cmsg_len       = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return (errno == EPIPE || errno == ECONNRESET ? OSCAR_EPEERGONE : OSCAR_ESYSTEM);
	}
	return (0);
}

// osc_link_recv waits at most timeout_ms (-1: no limit) for a packet and
// gives it in buf[0..cap) (*len) and its descriptor, if one came, in *fd
// (else -1). Extra descriptors are closed. OSCAR_EPEERGONE at the end of
// the stream.
static int osc_link_recv(int sock, int *fd, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	union {
		struct cmsghdr h;
		char           buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct msghdr mh;
	struct iovec  iov = { .iov_base = buf, .iov_len = cap };
	int           rv;
	*fd  = -1;
	*len = 0;
	do {
		rv = poll(&pfd, 1, timeout_ms);
	} while (rv < 0 && errno == EINTR);
	if (rv < 0) {
		return (OSCAR_ESYSTEM);
	}
	if (rv == 0) {
		return (OSCAR_ETIMEDOUT);
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov        = &iov;
	mh.msg_iovlen     = 1;
	mh.msg_control    = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	ssize_t n;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return (errno == ECONNRESET ? OSCAR_EPEERGONE : OSCAR_ESYSTEM);
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*fd < 0) {
					*fd = f;
				} else {
					close(f);
				}
			}
		}
	}
	if (n == 0 && *fd < 0) {
		return (OSCAR_EPEERGONE);
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return (OSCAR_EPROTO);
	}
	*len = (size_t) n;
	return (0);
}

// osc_link_status sends a failure (code, message) or a success.
static void osc_link_status(int sock, int code, const char *msg, uint64_t size)
{
	char    buf[4 + OSCAR_ERRMSG_MAX];
	int32_t c   = code;
	size_t  len = 4;
	memcpy(buf, &c, 4);
	if (code != 0) {
		size_t m = strnlen(msg, OSCAR_ERRMSG_MAX - 1);
		memcpy(buf + 4, msg, m);
		len += m;
	} else {
		memcpy(buf + 4, &size, 8);
		len += 8;
	}
	osc_link_send(sock, -1, buf, len);
}

// ---------------------------------------------------------------------------
// The serving thread

// osc_link_peer_ok: the peer is this process or one of its children, of
// the same user.
static bool osc_link_peer_ok(int sock)
{
	struct ucred cred;
	socklen_t    len = sizeof(cred);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != geteuid()) {
		return (false);
	}
	if (cred.pid == getpid()) {
		return (true);
	}
	char path[64], stat[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) cred.pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return (false);
	}
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n]     = '\0';
	char *paren = strrchr(stat, ')'); // the command may hold anything
	int   ppid  = 0;
	return (paren != NULL && sscanf(paren + 1, " %*c %d", &ppid) == 1 && ppid == getpid());
}

// osc_link_serve handles one request on conn; false when conn is done.
static bool osc_link_serve(struct osc_storage_link *l, int conn)
{
	char   msg[OSC_LINK_MSG + 1];
	size_t len;
	int    fd;
	int    rv = osc_link_recv(conn, &fd, msg, sizeof(msg) - 1, &len, 0);
	if (rv == OSCAR_ETIMEDOUT) {
		return (true);
	}
	if (rv != 0) {
		return (false);
	}
	msg[len]        = '\0';
	const char *sep = len > 1 ? memchr(msg + 1, '\0', len - 1) : NULL;
	if (sep == NULL || (msg[0] != 'R' && msg[0] != 'W') || (msg[0] == 'W') != (fd >= 0)) {
		if (fd >= 0) {
			close(fd);
		}
		osc_link_status(conn, OSCAR_EPROTO, "malformed request", 0);
		return (true);
	}
	const char    *session = msg + 1;
	const char    *key     = sep + 1;
	oscar_value_t *args    = oscar_value_new_map(4);
	oscar_ref_t    ref;
	oscar_error_t  err;
	oscar_value_t *reply = NULL;
	memset(&err, 0, sizeof(err));
	oscar_ref_make(&ref, oscar_node_address(l->svc->node), OSCAR_STORAGE_UID);
	rv = args == NULL ? OSCAR_ENOMEM : 0;
	rv = rv != 0 ? rv : oscar_value_map_set(args, "token", oscar_value_new_uint(l->svc->token));
	rv = rv != 0 ? rv : oscar_value_map_set(args, "session", oscar_value_new_str(session));
	rv = rv != 0 ? rv : oscar_value_map_set(args, "key", oscar_value_new_str(key));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(args, msg[0] == 'R' ? "sock" : "fd",
	                   oscar_value_new_int(msg[0] == 'R' ? conn : fd));
	if (rv != 0) {
		oscar_value_free(args);
		oscar_error_set(&err, rv, "out of memory");
	} else {
		rv = osc_method_call(oscar_node_pool(l->svc->node), &ref,
		    &osc_storage_methods[msg[0] == 'R' ? OSC_ST_SHM_EXPORT : OSC_ST_SHM_IMPORT],
		    args, OSC_LINK_CALL_MS, &reply, &err);
	}
	if (fd >= 0) {
		close(fd); // the store keeps its own mapping
	}
	uint64_t size = 0;
	oscar_value_get_uint(reply, &size);
	oscar_value_free(reply);
	if (rv != 0 || msg[0] == 'W') {
		// A read that succeeded was answered by the actor.
		osc_link_status(conn, rv, err.message, size);
	}
	return (true);
}

static void *osc_link_thread(void *arg)
{
	struct osc_storage_link *l = arg;
	struct pollfd            pfd[OSC_LINK_CONNS + 2];
	for (;;) {
		pfd[0] = (struct pollfd) { .fd = l->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd) { .fd = l->listen_fd, .events = POLLIN };
		for (size_t i = 0; i < l->n_conns; i++) {
			pfd[2 + i] = (struct pollfd) { .fd = l->conns[i], .events = POLLIN };
		}
		int rv = poll(pfd, 2 + l->n_conns, -1);
		if (rv < 0 && errno != EINTR) {
			oscar_log(OSCAR_LOG_ERROR, "storage", "link: poll: %s", strerror(errno));
			break;
		}
		if (rv <= 0) {
			continue;
		}
		if (pfd[0].revents != 0) {
			break;
		}
		// Serve first, then compact: a closed connection leaves a hole.
		size_t kept = 0;
		for (size_t i = 0; i < l->n_conns; i++) {
			bool alive = true;
			if (pfd[2 + i].revents != 0) {
				alive = osc_link_serve(l, l->conns[i]);
			}
			if (alive) {
				l->conns[kept++] = l->conns[i];
			} else {
				close(l->conns[i]);
			}
		}
		l->n_conns = kept;
		if (pfd[1].revents != 0) {
			int c = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && (l->n_conns == OSC_LINK_CONNS || !osc_link_peer_ok(c))) {
				oscar_log(OSCAR_LOG_WARN, "storage", "link: %s",
				    l->n_conns == OSC_LINK_CONNS
				        ? "too many connections"
				        : "refused a peer of another process");
				close(c);
			} else if (c >= 0) {
				l->conns[l->n_conns++] = c;
			}
		}
	}
	return (NULL);
}

int osc_storage_link_start(osc_storage_svc_t *svc, oscar_error_t *err)
{
	struct osc_storage_link *l = calloc(1, sizeof(*l));
	struct sockaddr_un       sa;
	if (l == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	l->svc       = svc;
	l->stop_fd   = eventfd(0, EFD_CLOEXEC);
	l->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	socklen_t n  = osc_link_addr(oscar_node_address(svc->node), &sa);
	int       rv = 0;
	if (l->stop_fd < 0 || l->listen_fd < 0 ||
	    bind(l->listen_fd, (struct sockaddr *) &sa, n) != 0 || listen(l->listen_fd, 64) != 0) {
		rv = oscar_error_set(err, errno == EADDRINUSE ? OSCAR_EADDRINUSE : OSCAR_ESYSTEM,
		    "storage: cannot open the sub pools' link: %s", strerror(errno));
	} else if ((rv = pthread_create(&l->thread, NULL, osc_link_thread, l)) != 0) {
		rv = oscar_error_set(err, OSCAR_ESYSTEM,
		    "storage: cannot start the link's thread: %s", strerror(rv));
	}
	if (rv != 0) {
		osc_storage_link_stop(l);
		return (rv);
	}
	l->started = true;
	svc->link  = l;
	return (0);
}

void osc_storage_link_stop(struct osc_storage_link *l)
{
	if (l == NULL) {
		return;
	}
	if (l->started) {
		uint64_t one = 1;
		ssize_t  w   = write(l->stop_fd, &one, sizeof(one));
		(void) w;
		pthread_join(l->thread, NULL);
	}
	for (size_t i = 0; i < l->n_conns; i++) {
		close(l->conns[i]);
	}
	if (l->listen_fd >= 0) {
		close(l->listen_fd);
	}
	if (l->stop_fd >= 0) {
		close(l->stop_fd);
	}
	free(l);
}

// ---------------------------------------------------------------------------
// The sub pools' side

struct oscar_storage_local {
	int sock;
};

int oscar_storage_local_open(
    oscar_storage_local_t **lp, const char *node_address, oscar_error_t *err)
{
	struct sockaddr_un sa;
	if (lp == NULL || node_address == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no handle or address"));
	}
	*lp                      = NULL;
	oscar_storage_local_t *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	l->sock     = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	socklen_t n = osc_link_addr(node_address, &sa);
	if (l->sock < 0 || connect(l->sock, (struct sockaddr *) &sa, n) != 0) {
		int e = errno;
		if (l->sock >= 0) {
			close(l->sock);
		}
		free(l);
		return (oscar_error_set(err,
		    e == ECONNREFUSED || e == ENOENT ? OSCAR_ECONNREFUSED : OSCAR_ESYSTEM,
		    "no storage link for the node at %s: %s", node_address, strerror(e)));
	}
	*lp = l;
	return (0);
}

void oscar_storage_local_close(oscar_storage_local_t **lp)
{
	if (lp != NULL && *lp != NULL) {
		close((*lp)->sock);
		free(*lp);
		*lp = NULL;
	}
}

// osc_local_request sends op session NUL key (with fd when >= 0).
static int osc_local_request(oscar_storage_local_t *l, char op, const char *session,
    const char *key, int fd, oscar_error_t *err)
{
	char   msg[OSC_LINK_MSG];
	size_t ns = session != NULL ? strlen(session) : 0;
	size_t nk = key != NULL ? strlen(key) : 0;
	if (l == NULL || ns == 0 || nk == 0 || ns > OSC_STORE_SESSION_MAX ||
	    nk > OSC_STORE_KEY_MAX) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no link, or a bad session or key"));
	}
	msg[0] = op;
	memcpy(msg + 1, session, ns);
	msg[1 + ns] = '\0';
	memcpy(msg + 2 + ns, key, nk);
	int rv = osc_link_send(l->sock, fd, msg, 2 + ns + nk);
	if (rv != 0) {
		return (oscar_error_set(
		    err, rv, "cannot reach the node's storage: %s", strerror(errno)));
	}
	return (0);
}

// osc_local_reply waits for a reply: its descriptor (or -1) and size.
static int osc_local_reply(
    oscar_storage_local_t *l, int *fd, uint64_t *size, int64_t timeout_ms, oscar_error_t *err)
{
	char    buf[4 + OSCAR_ERRMSG_MAX + 1];
	size_t  len;
	int32_t code;
	int     rv = osc_link_recv(l->sock, fd, buf, sizeof(buf) - 1, &len,
            timeout_ms > INT32_MAX ? INT32_MAX : (int) timeout_ms);
	if (rv != 0) {
		return (oscar_error_set(
		    err, rv, "no answer from the node's storage: %s", oscar_strerror(rv)));
	}
	if (len < 4) {
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return (
		    oscar_error_set(err, OSCAR_EPROTO, "the node's storage sent a short reply"));
	}
	memcpy(&code, buf, 4);
	if (code != 0) {
		buf[len] = '\0';
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return (oscar_error_set(err, code, "%s", buf + 4));
	}
	*size = 0;
	if (len >= 12) {
		memcpy(size, buf + 4, 8);
	}
	return (0);
}

int oscar_storage_local_read(oscar_storage_local_t *l, const char *session, const char *key,
    oscar_storage_view_t *view, int64_t timeout_ms, oscar_error_t *err)
{
	int      fd = -1, rv;
	uint64_t size;
	if (view == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no view to fill"));
	}
	memset(view, 0, sizeof(*view));
	if ((rv = osc_local_request(l, 'R', session, key, -1, err)) != 0 ||
	    (rv = osc_local_reply(l, &fd, &size, timeout_ms, err)) != 0) {
		return (rv);
	}
	if (fd < 0) {
		return (oscar_error_set(err, OSCAR_EPROTO, "the node's storage sent no segment"));
	}
	osc_shm_map_t m;
	rv = osc_shm_map(fd, false, &m);
	close(fd); // the mapping keeps the segment
	if (rv != 0) {
		return (oscar_error_set(err, rv, "cannot map the segment of object %s", key));
	}
	view->data  = m.data;
	view->len   = m.len;
	view->type  = m.kind == OSC_SHM_BIN   ? OSCAR_BIN
	              : m.kind == OSC_SHM_STR ? OSCAR_STR
	                                      : OSCAR_NIL;
	view->base_ = m.base;
	view->size_ = m.size;
	return (0);
}

int oscar_storage_local_get(oscar_storage_local_t *l, const char *session, const char *key,
    oscar_value_t **out, int64_t timeout_ms, oscar_error_t *err)
{
	int      fd = -1, rv;
	uint64_t size;
	if (out == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no value to fill"));
	}
	*out = NULL;
	if ((rv = osc_local_request(l, 'R', session, key, -1, err)) != 0 ||
	    (rv = osc_local_reply(l, &fd, &size, timeout_ms, err)) != 0) {
		return (rv);
	}
	if (fd < 0) {
		return (oscar_error_set(err, OSCAR_EPROTO, "the node's storage sent no segment"));
	}
	rv = osc_shm_borrow(fd, out);
	close(fd); // a bin's or str's mapping keeps the segment
	if (rv != 0) {
		return (oscar_error_set(
		    err, rv, "cannot map the segment of object %s: %s", key, oscar_strerror(rv)));
	}
	return (0);
}

int oscar_storage_view_value(const oscar_storage_view_t *view, oscar_value_t **out)
{
	if (view == NULL || out == NULL || view->base_ == NULL) {
		return (OSCAR_EINVAL);
	}
	osc_shm_map_t m = {
		.base = view->base_,
		.size = view->size_,
		.kind = view->type == OSCAR_BIN   ? OSC_SHM_BIN
		        : view->type == OSCAR_STR ? OSC_SHM_STR
		                                  : OSC_SHM_VALUE,
		.data = view->data,
		.len  = view->len,
	};
	return (osc_shm_value(&m, out));
}

void oscar_storage_view_release(oscar_storage_view_t *view)
{
	if (view != NULL && view->base_ != NULL) {
		munmap(view->base_, view->size_);
	}
	if (view != NULL) {
		memset(view, 0, sizeof(*view));
	}
}

int oscar_storage_local_put(oscar_storage_local_t *l, const char *session, const char *key,
    const oscar_value_t *v, uint64_t *size, int64_t timeout_ms, oscar_error_t *err)
{
	int      seg = -1, fd = -1, rv;
	uint64_t sz = 0;
	if (v == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no value"));
	}
	if ((rv = osc_shm_create_value(v, &seg)) != 0) {
		return (oscar_error_set(err, rv, "cannot make a segment for object %s", key));
	}
	rv = osc_local_request(l, 'W', session, key, seg, err);
	close(seg); // the request carried a duplicate
	if (rv == 0 && (rv = osc_local_reply(l, &fd, &sz, timeout_ms, err)) == 0 && size != NULL) {
		*size = sz;
	}
	if (fd >= 0) {
		close(fd);
	}
	return (rv);
}
