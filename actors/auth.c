// Authentication: the cluster secret, read from a file, and the keyed tag
// on every transport message of a pool that has one (actors/auth.h).
//
// Design note. NNG's push and pull sockets carry messages one way, so there
// is no handshake in which to run a challenge: each message proves on its
// own that its sender knows the secret. The key is a BLAKE2b hash of the
// secret (libsodium's crypto_generichash, keyed with a context string).
// The tag is XChaCha20-Poly1305's (libsodium's AEAD, detached, with the
// whole message as additional data and nothing encrypted): its nonce is
// the sender's random id, a sequence number and the sender's clock, never
// twice the same for one sender, and Poly1305 runs at several GB/s where
// a keyed BLAKE2b manages under one. The tag covers the frames and the
// nonce, so none of them can be changed. Replays are
// refused by the receiver: per sender, a window of the last 64 sequence
// numbers (as IPsec does), and a clock skew bound that lets it forget
// senders that stayed silent longer than that.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <sodium.h>

#include "actors/bytes.h"
#include "actors/auth.h"
#include "oscar/actor.h"

// A receiver's memory of one sender.
typedef struct osc_auth_seen {
	uint64_t sender;
	uint64_t max;    // highest sequence number seen
	uint64_t window; // bit i: max - i was seen
	int64_t  last_ms;
} osc_auth_seen_t;

#define OSC_STR_(x) #x
#define OSC_STR(x)  OSC_STR_(x)

static const char auth_context[] = "oscar-c cluster secret, v1";

int64_t osc_auth_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int osc_auth_init(osc_auth_t *a, const void *secret, size_t len, uint64_t sender)
{
	memset(a, 0, sizeof(*a));
	if (len < OSCAR_SECRET_MIN || len > OSCAR_SECRET_MAX) {
		return (OSCAR_EINVAL);
	}
	if (sodium_init() < 0) {
		return (OSCAR_ESYSTEM);
	}
	if ((a->secret = malloc(len)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	memcpy(a->secret, secret, len);
	a->secret_len = len;
	a->sender     = sender;
	// The key: BLAKE2b of the secret, keyed with the context string, so
	// that the key is bound to this use of the secret.
	crypto_generichash(a->key, sizeof(a->key), secret, len,
	    (const unsigned char *) auth_context, sizeof(auth_context) - 1);
	return (0);
}

void osc_auth_fini(osc_auth_t *a)
{
	for (size_t i = 0; i < a->seen.cap; i++) {
		free(osc_map_at(&a->seen, i));
	}
	osc_map_fini(&a->seen);
	if (a->secret != NULL) {
		sodium_memzero(a->secret, a->secret_len);
		free(a->secret);
	}
	sodium_memzero(a->key, sizeof(a->key));
	a->secret = NULL;
}

void osc_auth_seal_buf(osc_auth_t *a, unsigned char *buf, size_t len)
{
	unsigned char     *t = buf + len; // the nonce
	unsigned long long tag_len;
	osc_put_le64(t, a->sender);
	osc_put_le64(t + 8, ++a->seq);
	osc_put_le64(t + 16, (uint64_t) osc_auth_now_ms());
	unsigned char none[1] = { 0 }; // nothing is encrypted
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(none,
	    t + OSC_AUTH_TRAILER - OSC_AUTH_TAG, &tag_len, none, 0, buf,
	    len + OSC_AUTH_TRAILER - OSC_AUTH_TAG, NULL, t, a->key);
}

int osc_auth_seal(osc_auth_t *a, nng_msg *m)
{
	size_t len = nng_msg_len(m);
	if (nng_msg_realloc(m, len + OSC_AUTH_TRAILER) != 0) {
		return (OSCAR_ENOMEM);
	}
	osc_auth_seal_buf(a, nng_msg_body(m), len);
	return (0);
}

bool osc_auth_check_buf(const osc_auth_t *a, const unsigned char *body, size_t *lenp,
    uint64_t *sender, uint64_t *seq, int64_t *sent_ms)
{
	size_t len = *lenp;
	if (len < OSC_AUTH_TRAILER) {
		return (false);
	}
	const unsigned char *t          = body + len - OSC_AUTH_TRAILER;
	size_t               signed_len = len - OSC_AUTH_TAG;
	// The comparison of tags inside is constant time.
	unsigned char none[1] = { 0 }; // nothing is encrypted
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
	        none, NULL, none, 0, body + signed_len, body, signed_len, t, a->key) != 0) {
		return (false);
	}
	*sender  = osc_get_le64(t);
	*seq     = osc_get_le64(t + 8);
	*sent_ms = (int64_t) osc_get_le64(t + 16);
	*lenp    = len - OSC_AUTH_TRAILER;
	return (true);
}

bool osc_auth_check(
    const osc_auth_t *a, nng_msg *m, uint64_t *sender, uint64_t *seq, int64_t *sent_ms)
{
	size_t len = nng_msg_len(m);
	if (!osc_auth_check_buf(a, nng_msg_body(m), &len, sender, seq, sent_ms)) {
		return (false);
	}
	nng_msg_chop(m, OSC_AUTH_TRAILER);
	return (true);
}

// auth_forget drops the senders silent for longer than the clock skew:
// any message of theirs that could be replayed is too old by now.
static void auth_forget(osc_auth_t *a, int64_t now_ms)
{
	for (size_t i = 0; i < a->seen.cap; i++) {
		osc_auth_seen_t *s = osc_map_at(&a->seen, i);
		if (s != NULL && now_ms - s->last_ms > OSC_AUTH_SKEW_MS) {
			osc_map_remove(&a->seen, osc_hash_u64(s->sender), s);
			free(s);
		}
	}
}

bool osc_auth_fresh(osc_auth_t *a, uint64_t sender, uint64_t seq, int64_t sent_ms, int64_t now_ms)
{
	uint64_t         h   = osc_hash_u64(sender);
	size_t           pos = osc_map_first(&a->seen, h);
	osc_auth_seen_t *s;
	if (seq == 0 || sent_ms < now_ms - OSC_AUTH_SKEW_MS ||
	    sent_ms > now_ms + OSC_AUTH_SKEW_MS) {
		return (false);
	}
	while ((s = osc_map_next(&a->seen, h, &pos)) != NULL) {
		if (s->sender == sender) {
			break;
		}
	}
	if (s == NULL) {
		if (a->seen.len >= OSC_AUTH_SENDERS) {
			auth_forget(a, now_ms);
		}
		if (a->seen.len >= OSC_AUTH_SENDERS || osc_map_reserve(&a->seen) != 0 ||
		    (s = malloc(sizeof(*s))) == NULL) {
			return (false);
		}
		s->sender  = sender;
		s->max     = seq;
		s->window  = 1;
		s->last_ms = now_ms;
		osc_map_insert(&a->seen, h, s);
		return (true);
	}
	if (seq > s->max) {
		uint64_t shift = seq - s->max;
		s->window      = shift >= 64 ? 1 : (s->window << shift) | 1;
		s->max         = seq;
	} else {
		uint64_t d = s->max - seq;
		if (d >= 64 || (s->window & ((uint64_t) 1 << d)) != 0) {
			return (false);
		}
		s->window |= (uint64_t) 1 << d;
	}
	s->last_ms = now_ms;
	return (true);
}

// ---------------------------------------------------------------------------
// Secret files

static int secret_fail(
    oscar_error_t *err, int code, const char *fmt, const char *path, const char *why)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = code;
		err->pid  = (int64_t) getpid();
		snprintf(err->message, sizeof(err->message), fmt, path, why);
	}
	return (code);
}

int oscar_secret_read(const char *path, void **secretp, size_t *lenp, oscar_error_t *err)
{
	struct stat st;
	int         fd;
	if (secretp == NULL || lenp == NULL || path == NULL || path[0] == '\0') {
		return (secret_fail(err, OSCAR_EINVAL, "no secret file given%s%s", "", ""));
	}
	*secretp = NULL;
	*lenp    = 0;
	// Non-blocking, so that a FIFO (or a device) named by mistake is
	// refused at once instead of waiting for a writer.
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		int e = errno;
		return (secret_fail(err, e == ENOENT ? OSCAR_ENOENT : OSCAR_ESYSTEM,
		    "cannot read the secret file %s: %s", path, strerror(e)));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return (secret_fail(
		    err, OSCAR_EINVAL, "the secret file %s is not a regular file%s", path, ""));
	}
	if (st.st_size > OSCAR_SECRET_MAX + 2) {
		close(fd);
		return (secret_fail(err, OSCAR_EINVAL,
		    "the secret file %s is too long: a secret has at most %s bytes", path,
		    OSC_STR(OSCAR_SECRET_MAX)));
	}
	unsigned char *buf = malloc(OSCAR_SECRET_MAX + 3);
	if (buf == NULL) {
		close(fd);
		return (secret_fail(err, OSCAR_ENOMEM, "no memory to read %s%s", path, ""));
	}
	size_t n = 0;
	int    e = 0;
	while (n < OSCAR_SECRET_MAX + 3) {
		ssize_t got = read(fd, buf + n, OSCAR_SECRET_MAX + 3 - n);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			e = got < 0 ? errno : 0;
			break;
		}
		n += (size_t) got;
	}
	close(fd);
	if (e != 0) {
		sodium_memzero(buf, OSCAR_SECRET_MAX + 3);
		free(buf);
		return (secret_fail(
		    err, OSCAR_ESYSTEM, "cannot read the secret file %s: %s", path, strerror(e)));
	}
	// A trailing line end is not part of the secret, so that a file
	// written by an editor or `echo` means the same as one without it.
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
		n--;
	}
	const char *bad = n == 0 ? "the secret file %s is empty%s"
	                  : n < OSCAR_SECRET_MIN
	                      ? "the secret file %s is too short: a secret has at least %s bytes"
	                  : n > OSCAR_SECRET_MAX
	                      ? "the secret file %s is too long: a secret has at most %s bytes"
	                      : NULL;
	if (bad != NULL) {
		sodium_memzero(buf, OSCAR_SECRET_MAX + 3);
		free(buf);
		return (secret_fail(err, OSCAR_EINVAL, bad, path,
		    n == 0                 ? ""
		    : n < OSCAR_SECRET_MIN ? OSC_STR(OSCAR_SECRET_MIN)
		                           : OSC_STR(OSCAR_SECRET_MAX)));
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		fprintf(stderr,
		    "oscar: warning: the secret file %s may be read by other users (mode %03o); "
		    "make it private with chmod 600\n",
		    path, (unsigned) (st.st_mode & 0777));
	}
	sodium_memzero(buf + n, OSCAR_SECRET_MAX + 3 - n);
	*secretp = buf;
	*lenp    = n;
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
	}
	return (0);
}

void oscar_secret_free(void **secretp, size_t len)
{
	if (secretp == NULL || *secretp == NULL) {
		return;
	}
	sodium_memzero(*secretp, len);
	free(*secretp);
	*secretp = NULL;
}
