// Shared-memory segments (memfd) and descriptor passing (SCM_RIGHTS); the
// layout is in shm.h.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/codec.h"
#include "oscar/error.h"
#include "services/storage/shm.h"

// The seals every segment carries once written.
#define OSC_SHM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

// osc_put32 and osc_put64 store little-endian numbers.
static void osc_put32(unsigned char *p, uint32_t x)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char) (x >> (8 * i));
	}
}

static void osc_put64(unsigned char *p, uint64_t x)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char) (x >> (8 * i));
	}
}

static uint32_t osc_get32(const unsigned char *p)
{
	uint32_t x = 0;

	for (int i = 3; i >= 0; i--) {
		x = (x << 8) | p[i];
	}
	return (x);
}

static uint64_t osc_get64(const unsigned char *p)
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--) {
		x = (x << 8) | p[i];
	}
	return (x);
}

// OSC_SHM_POPULATE_MIN: segments from this size on have their pages
// mapped at once (osc_shm_populate); below it, faults cost little.
#define OSC_SHM_POPULATE_MIN ((size_t) 1 << 20)

// osc_shm_populate maps the pages of base[0..size) in one call, for
// writing or for reading, instead of one page fault each, which costs
// far more (in a virtual machine most of all). Only a hint: a kernel
// without MADV_POPULATE_* (before Linux 5.14) faults them as they come.
static void osc_shm_populate(void *base, size_t size, bool write)
{
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
	if (size >= OSC_SHM_POPULATE_MIN) {
		(void) madvise(base, size, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	}
#else
	(void) base;
	(void) size;
	(void) write;
#endif
}

int osc_shm_alloc(uint32_t kind, size_t len, int *fd, osc_shm_map_t *m)
{
	size_t size;
	void  *base;
	int    f;

	memset(m, 0, sizeof(*m));
	if (kind < OSC_SHM_BIN || kind > OSC_SHM_VALUE || len > SIZE_MAX - OSC_SHM_HDR - 1) {
		return (OSCAR_EINVAL);
	}
	size = OSC_SHM_HDR + len + 1;
	if ((f = memfd_create("oscar-object", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		return (OSCAR_ESYSTEM);
	}
	if (ftruncate(f, (off_t) size) != 0) {
		close(f);
		return (errno == ENOSPC || errno == EFBIG ? OSCAR_ENOSPACE : OSCAR_ESYSTEM);
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (base == MAP_FAILED) {
		close(f);
		return (OSCAR_ESYSTEM);
	}
	// The whole segment is about to be written: its pages are made and
	// mapped in one call rather than one fault each.
	osc_shm_populate(base, size, true);
	// The memfd starts zeroed: only the non-zero header fields are set.
	memcpy(base, OSC_SHM_MAGIC, 4);
	osc_put32((unsigned char *) base + 4, OSC_SHM_VERSION);
	osc_put32((unsigned char *) base + 8, kind);
	osc_put64((unsigned char *) base + 16, len);
	m->base = base;
	m->size = size;
	m->kind = kind;
	m->data = (const char *) base + OSC_SHM_HDR;
	m->len  = len;
	*fd     = f;
	return (0);
}

int osc_shm_seal(int fd, osc_shm_map_t *m)
{
	// A writable shared mapping would make F_SEAL_WRITE fail: unmap first.
	osc_shm_unmap(m);
	if (fcntl(fd, F_ADD_SEALS, OSC_SHM_SEALS) != 0) {
		return (OSCAR_ESYSTEM);
	}
	return (0);
}

int osc_shm_create(uint32_t kind, const void *data, size_t len, int *fd)
{
	osc_shm_map_t m;
	int           rv;

	if (data == NULL && len > 0) {
		return (OSCAR_EINVAL);
	}
	if ((rv = osc_shm_alloc(kind, len, fd, &m)) != 0) {
		return (rv);
	}
	if (len > 0) {
		memcpy((char *) m.base + OSC_SHM_HDR, data, len);
	}
	if ((rv = osc_shm_seal(*fd, &m)) != 0) {
		close(*fd);
		*fd = -1;
	}
	return (rv);
}

int osc_shm_create_value(const oscar_value_t *v, int *fd)
{
	void  *buf;
	size_t len;
	int    rv;

	if (v == NULL) {
		return (OSCAR_EINVAL);
	}
	if (v->type == OSCAR_BIN || v->type == OSCAR_STR) {
		return (osc_shm_create(v->type == OSCAR_BIN ? OSC_SHM_BIN : OSC_SHM_STR,
		    v->as.bin.ptr, v->as.bin.len, fd));
	}
	if ((rv = oscar_value_encode(v, &buf, &len)) != 0) {
		return (rv);
	}
	rv = osc_shm_create(OSC_SHM_VALUE, buf, len, fd);
	free(buf);
	return (rv);
}

int osc_shm_map(int fd, bool writable, osc_shm_map_t *m)
{
	const unsigned char *h;
	struct stat          st;
	uint64_t             len;
	uint32_t             kind;
	void                *base;
	int                  seals;

	memset(m, 0, sizeof(*m));
	if ((seals = fcntl(fd, F_GET_SEALS)) < 0) {
		return (errno == EINVAL ? OSCAR_EPROTO : OSCAR_ESYSTEM); // not a memfd
	}
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) {
		return (OSCAR_EPROTO);
	}
	if (fstat(fd, &st) != 0) {
		return (OSCAR_ESYSTEM);
	}
	if (st.st_size < OSC_SHM_HDR + 1 || (uint64_t) st.st_size > SIZE_MAX) {
		return (OSCAR_EPROTO);
	}
	base = mmap(NULL, (size_t) st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
	    writable ? MAP_PRIVATE : MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		return (OSCAR_ESYSTEM);
	}
	h    = base;
	kind = osc_get32(h + 8);
	len  = osc_get64(h + 16);
	if (memcmp(h, OSC_SHM_MAGIC, 4) != 0 || osc_get32(h + 4) != OSC_SHM_VERSION ||
	    kind < OSC_SHM_BIN || kind > OSC_SHM_VALUE ||
	    len != (uint64_t) st.st_size - OSC_SHM_HDR - 1 || h[OSC_SHM_HDR + len] != 0) {
		munmap(base, (size_t) st.st_size);
		return (OSCAR_EPROTO);
	}
	// A reader reads the whole segment, mostly: its pages are mapped in
	// one call (read-only, so a private mapping copies nothing).
	osc_shm_populate(base, (size_t) st.st_size, false);
	m->base = base;
	m->size = (size_t) st.st_size;
	m->kind = kind;
	m->data = (const char *) base + OSC_SHM_HDR;
	m->len  = (size_t) len;
	return (0);
}

void osc_shm_unmap(osc_shm_map_t *m)
{
	if (m->base != NULL) {
		munmap(m->base, m->size);
	}
	memset(m, 0, sizeof(*m));
}

int osc_shm_value(const osc_shm_map_t *m, oscar_value_t **out)
{
	*out = NULL;
	switch (m->kind) {
	case OSC_SHM_BIN:
		*out = oscar_value_new_bin(m->data, m->len);
		break;
	case OSC_SHM_STR:
		*out = oscar_value_new_strn(m->data, m->len);
		break;
	case OSC_SHM_VALUE:
		return (oscar_value_decode(m->data, m->len, out));
	default:
		return (OSCAR_EPROTO);
	}
	return (*out == NULL ? OSCAR_ENOMEM : 0);
}

int osc_shm_send_fd(int sock, int fd, const void *msg, size_t len)
{
	union {
		struct cmsghdr h;
		char           buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr   mh;
	struct iovec    iov;
	struct cmsghdr *c;
	ssize_t         n;

	if (msg == NULL || len == 0 || len > 256 || fd < 0) {
		return (OSCAR_EINVAL);
	}
	memset(&mh, 0, sizeof(mh));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base      = (void *) (uintptr_t) msg;
	iov.iov_len       = len;
	mh.msg_iov        = &iov;
	mh.msg_iovlen     = 1;
	mh.msg_control    = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	c                 = CMSG_FIRSTHDR(&mh);
	c->cmsg_level     = SOL_SOCKET;
	c->cmsg_type      = SCM_RIGHTS;
	c->cmsg_len       = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return (errno == EPIPE || errno == ECONNRESET ? OSCAR_EPEERGONE : OSCAR_ESYSTEM);
	}
	// A stream socket takes a message this small whole, or not at all.
	return ((size_t) n == len ? 0 : OSCAR_ESYSTEM);
}

int osc_shm_recv_fd(int sock, int *fd, void *msg, size_t cap, size_t *len, int timeout_ms)
{
	union {
		struct cmsghdr h;
		char           buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct pollfd   pfd = { .fd = sock, .events = POLLIN };
	struct msghdr   mh;
	struct iovec    iov;
	struct cmsghdr *c;
	int             fds[2];
	int             nfds = 0;
	ssize_t         n;
	int             rv;

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
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base      = msg;
	iov.iov_len       = cap;
	mh.msg_iov        = &iov;
	mh.msg_iovlen     = 1;
	mh.msg_control    = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return (errno == ECONNRESET ? OSCAR_EPEERGONE : OSCAR_ESYSTEM);
	}
	// Take every descriptor that came, so that none leaks, whatever else
	// is wrong with the message.
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (nfds < 2) {
					fds[nfds] = f;
				} else {
					close(f);
				}
				nfds++;
			}
		}
	}
	if (n == 0 && nfds == 0) {
		return (OSCAR_EPEERGONE);
	}
	if (nfds != 1 || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
		for (int i = 0; i < nfds && i < 2; i++) {
			close(fds[i]);
		}
		return (OSCAR_EPROTO);
	}
	*fd  = fds[0];
	*len = (size_t) n;
	return (0);
}

// ---------------------------------------------------------------------------
// Values in segments

// osc_shm_lender_t keeps a private mapping of a segment alive while a bin
// or str points into it.
typedef struct osc_shm_lender {
	osc_lender_t  l;
	osc_shm_map_t m;
} osc_shm_lender_t;

static void osc_shm_lender_release(osc_lender_t *l)
{
	osc_shm_lender_t *sl = (osc_shm_lender_t *) l;

	osc_shm_unmap(&sl->m);
	free(sl);
}

int osc_shm_borrow(int fd, oscar_value_t **out)
{
	osc_shm_lender_t *sl;
	oscar_value_t    *v;
	int               rv;

	*out = NULL;
	if ((sl = calloc(1, sizeof(*sl))) == NULL) {
		return (OSCAR_ENOMEM);
	}
	if ((rv = osc_shm_map(fd, true, &sl->m)) != 0) {
		free(sl);
		return (rv);
	}
	if (sl->m.kind == OSC_SHM_VALUE) {
		rv = osc_shm_value(&sl->m, out);
		osc_shm_lender_release(&sl->l);
		return (rv);
	}
	if ((v = oscar_value_new_nil()) == NULL) {
		osc_shm_lender_release(&sl->l);
		return (OSCAR_ENOMEM);
	}
	osc_lender_init(&sl->l, osc_shm_lender_release);
	// The mapping is private and copy-on-write: the value's bytes are
	// writable, as every bin's are, without touching the segment.
	v->type         = sl->m.kind == OSC_SHM_BIN ? OSCAR_BIN : OSCAR_STR;
	v->as.bin.ptr   = (char *) (uintptr_t) sl->m.data;
	v->as.bin.len   = sl->m.len;
	v->as.bin.owner = &sl->l;
	*out            = v;
	return (0);
}
