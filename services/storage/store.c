// The object store of one node (store.h; docs/services/storage.md).
//
// Design note. Objects live in one hash set keyed by (session, key)
// (actors/map.h) and on two intrusive lists: their session's list, for
// deleting a session, and the LRU list of the objects that could be
// spilled now (in memory and not pinned), most recently used first, so
// that both a touch and the choice of what to spill are O(1). A pinned
// object leaves the LRU list and comes back at its head when unpinned.
//
// Sizes are the objects' encoded sizes (osc_value_encoded_len), computed
// once on put. used counts the objects in memory plus the reservations of
// receivers; spilled counts the objects in spill files. Room is made
// before anything changes, so a put that fails leaves the store as it
// was, except for the objects it spilled, which are still there and read
// back on demand.
//
// Spilling writes the object's encoding into a file of its own, in a
// directory the store makes inside the configured spill directory and
// removes on close. Strs and bins are written straight from the value
// (never encoded into a second buffer). Reading back and receiving blocks
// share one piecewise decoder (osc_sdec_t), which puts each large bin
// straight into its final block. A failed write (a full disk) removes the
// partial file and leaves the object in memory, untouched.
//
// Single-threaded: see store.h.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/codec.h"
#include "actors/map.h"
#include "oscar/error.h"
#include "services/storage/shm.h"
#include "services/storage/store.h"

// Strs and bins at least this long are written to spill files straight
// from the value; the rest of an encoding goes through a buffer of
// about this size.
#define OSC_SPILL_CHUNK (64 * 1024)

// Spill files are read back this much at a time.
#define OSC_READ_CHUNK (1024 * 1024)

// Bins at least this long are shared, not copied, by gets
// (osc_value_share_bins).
#define OSC_STORE_SHARE_MIN (64 * 1024)

typedef struct osc_sess osc_sess_t;

struct osc_store_obj {
	osc_store_t     *store;
	osc_sess_t      *sess; // NULL once deleted while pinned
	char            *key;
	uint64_t         hash;
	oscar_value_t   *val;  // NULL while spilled
	uint64_t         size; // encoded bytes
	uint64_t         file; // spill file number, 0 when in memory
	int              pins;
	int              shm_fd; // exported segment, or -1
	size_t           shm_size;
	osc_store_obj_t *lprev; // LRU list (in memory and unpinned only)
	osc_store_obj_t *lnext;
	osc_store_obj_t *sprev; // the session's objects
	osc_store_obj_t *snext;
};

struct osc_sess {
	char            *id;
	uint64_t         hash;
	osc_store_obj_t *objs;
	uint64_t         n;
};

struct osc_store {
	uint64_t           limit;
	char              *dir; // the store's own spill directory, or NULL
	osc_store_write_fn write_fn;
	void              *write_arg;
	osc_map_t          objs;     // osc_store_obj_t by (session, key)
	osc_map_t          sessions; // osc_sess_t by id
	osc_store_obj_t   *lru_head; // most recently used
	osc_store_obj_t   *lru_tail;
	uint64_t           used;
	uint64_t           spilled;
	uint64_t           shared;
	uint64_t           n_objs;
	uint64_t           n_spilled;
	uint64_t           next_file;
};

// ---------------------------------------------------------------------------
// Errors

// osc_serr fills err (when not NULL) and returns code.
static int osc_serr(oscar_error_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int osc_serr(oscar_error_t *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = code;
		err->pid  = (int64_t) getpid();
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return (code);
}

// ---------------------------------------------------------------------------
// Lookup

// osc_obj_hash hashes (session, key): FNV-1a over both, with a zero byte
// between them.
static uint64_t osc_obj_hash(const char *session, const char *key)
{
	uint64_t h = osc_hash_str(session);

	h *= 1099511628211ull; // the zero byte
	for (; *key != '\0'; key++) {
		h ^= (uint8_t) *key;
		h *= 1099511628211ull;
	}
	return (h);
}

static osc_sess_t *osc_sess_find(const osc_store_t *s, const char *id)
{
	uint64_t    h   = osc_hash_str(id);
	size_t      pos = osc_map_first(&s->sessions, h);
	osc_sess_t *x;

	while ((x = osc_map_next(&s->sessions, h, &pos)) != NULL) {
		if (strcmp(x->id, id) == 0) {
			return (x);
		}
	}
	return (NULL);
}

static osc_store_obj_t *osc_obj_find(const osc_store_t *s, const osc_sess_t *x, const char *key)
{
	uint64_t         h   = osc_obj_hash(x->id, key);
	size_t           pos = osc_map_first(&s->objs, h);
	osc_store_obj_t *o;

	while ((o = osc_map_next(&s->objs, h, &pos)) != NULL) {
		if (o->sess == x && strcmp(o->key, key) == 0) {
			return (o);
		}
	}
	return (NULL);
}

// osc_check_name checks a session id or key: 1..max bytes.
static int osc_check_name(const char *what, const char *name, size_t max, oscar_error_t *err)
{
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0) {
		return (osc_serr(err, OSCAR_EINVAL, "empty %s", what));
	}
	if (n > max) {
		return (osc_serr(
		    err, OSCAR_EINVAL, "%s of %zu bytes is longer than %zu", what, n, max));
	}
	return (0);
}

// osc_sess_get finds a session that must exist.
static int osc_sess_get(osc_store_t *s, const char *session, osc_sess_t **xp, oscar_error_t *err)
{
	int rv;

	if ((rv = osc_check_name("session id", session, OSC_STORE_SESSION_MAX, err)) != 0) {
		return (rv);
	}
	if ((*xp = osc_sess_find(s, session)) == NULL) {
		return (osc_serr(err, OSCAR_ENOENT, "no such session %s", session));
	}
	return (0);
}

// osc_obj_get finds an object that must exist.
static int osc_obj_get(
    osc_store_t *s, const char *session, const char *key, osc_store_obj_t **op, oscar_error_t *err)
{
	osc_sess_t *x;
	int         rv;

	if ((rv = osc_sess_get(s, session, &x, err)) != 0 ||
	    (rv = osc_check_name("key", key, OSC_STORE_KEY_MAX, err)) != 0) {
		return (rv);
	}
	if ((*op = osc_obj_find(s, x, key)) == NULL) {
		return (
		    osc_serr(err, OSCAR_ENOENT, "no such object %s in session %s", key, session));
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Lists

static void osc_lru_remove(osc_store_t *s, osc_store_obj_t *o)
{
	if (o->lprev != NULL) {
		o->lprev->lnext = o->lnext;
	} else if (s->lru_head == o) {
		s->lru_head = o->lnext;
	} else {
		return; // not on the list
	}
	if (o->lnext != NULL) {
		o->lnext->lprev = o->lprev;
	} else {
		s->lru_tail = o->lprev;
	}
	o->lprev = o->lnext = NULL;
}

// osc_lru_touch puts o at the head of the LRU list when it may be
// spilled (in memory, unpinned), and takes it off otherwise.
static void osc_lru_touch(osc_store_t *s, osc_store_obj_t *o)
{
	osc_lru_remove(s, o);
	if (o->val == NULL || o->pins > 0) {
		return;
	}
	o->lnext = s->lru_head;
	if (s->lru_head != NULL) {
		s->lru_head->lprev = o;
	} else {
		s->lru_tail = o;
	}
	s->lru_head = o;
}

static void osc_sess_link(osc_sess_t *x, osc_store_obj_t *o)
{
	o->sess  = x;
	o->sprev = NULL;
	o->snext = x->objs;
	if (x->objs != NULL) {
		x->objs->sprev = o;
	}
	x->objs = o;
	x->n++;
}

static void osc_sess_unlink(osc_sess_t *x, osc_store_obj_t *o)
{
	if (o->sprev != NULL) {
		o->sprev->snext = o->snext;
	} else {
		x->objs = o->snext;
	}
	if (o->snext != NULL) {
		o->snext->sprev = o->sprev;
	}
	o->sprev = o->snext = NULL;
	x->n--;
}

// ---------------------------------------------------------------------------
// Spill files

// osc_spill_path writes the path of spill file n.
static void osc_spill_path(const osc_store_t *s, uint64_t n, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%" PRIu64 ".obj", s->dir, n);
}

// osc_spill_t streams an encoding into a file.
typedef struct osc_spill {
	osc_store_t *s;
	int          fd;
	osc_wbuf_t   w;
	int          err;    // first failure, an OSCAR_ code
	int          errnum; // its errno
} osc_spill_t;

// osc_spill_write writes all of p[0..n) to the file.
static void osc_spill_write(osc_spill_t *sp, const void *p, size_t n)
{
	const char *c = p;
	ssize_t     k;

	while (n > 0 && sp->err == 0) {
		if (sp->s->write_fn != NULL) {
			k = sp->s->write_fn(sp->s->write_arg, sp->fd, c, n);
		} else {
			k = write(sp->fd, c, n);
		}
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			sp->errnum = k < 0 ? errno : ENOSPC;
			sp->err    = sp->errnum == ENOSPC || sp->errnum == EDQUOT ? OSCAR_ENOSPACE
			                                                          : OSCAR_ESYSTEM;
			return;
		}
		c += k;
		n -= (size_t) k;
	}
}

static void osc_spill_flush(osc_spill_t *sp)
{
	if (sp->w.err != 0 && sp->err == 0) {
		sp->err = sp->w.err;
	}
	osc_spill_write(sp, sp->w.data, sp->w.len);
	sp->w.len = 0;
}

// osc_spill_value writes v's encoding, large strs and bins straight from
// their bytes. v was measured on put, so it encodes.
static void osc_spill_value(osc_spill_t *sp, const oscar_value_t *v)
{
	size_t i;

	switch (v->type) {
	case OSCAR_STR:
	case OSCAR_BIN:
		if (v->as.str.len < OSC_SPILL_CHUNK) {
			osc_write_value(&sp->w, v);
			break;
		}
		if (v->type == OSCAR_STR) {
			osc_write_str_header(&sp->w, v->as.str.len);
		} else {
			osc_write_bin_header(&sp->w, v->as.bin.len);
		}
		osc_spill_flush(sp);
		osc_spill_write(sp, v->as.str.ptr, v->as.str.len);
		break;
	case OSCAR_ARRAY:
		osc_write_array(&sp->w, (uint32_t) v->as.arr.len);
		for (i = 0; i < v->as.arr.len && sp->err == 0; i++) {
			osc_spill_value(sp, &v->as.arr.items[i]);
		}
		break;
	case OSCAR_MAP:
		osc_write_map(&sp->w, (uint32_t) v->as.map.len);
		for (i = 0; i < v->as.map.len && sp->err == 0; i++) {
			osc_spill_value(sp, &v->as.map.kv[i].key);
			osc_spill_value(sp, &v->as.map.kv[i].val);
		}
		break;
	default:
		osc_write_value(&sp->w, v);
		break;
	}
	if (sp->w.len >= OSC_SPILL_CHUNK) {
		osc_spill_flush(sp);
	}
}

// osc_shm_drop closes the object's exported segment, if any.
static void osc_shm_drop(osc_store_t *s, osc_store_obj_t *o)
{
	if (o->shm_fd >= 0) {
		close(o->shm_fd);
		o->shm_fd = -1;
		s->shared -= o->shm_size;
		o->shm_size = 0;
	}
}

// osc_spill writes o to a new spill file and frees its value. On failure
// the partial file is removed and o is left as it was.
static int osc_spill(osc_store_t *s, osc_store_obj_t *o, oscar_error_t *err)
{
	char        path[4096];
	osc_spill_t sp;
	uint64_t    n = ++s->next_file;

	osc_spill_path(s, n, path, sizeof(path));
	memset(&sp, 0, sizeof(sp));
	sp.s  = s;
	sp.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (sp.fd < 0) {
		int e = errno;
		return (osc_serr(err, e == ENOSPC ? OSCAR_ENOSPACE : OSCAR_ESYSTEM,
		    "spilling object %s of session %s: %s: %s", o->key, o->sess->id, path,
		    strerror(e)));
	}
	osc_spill_value(&sp, o->val);
	osc_spill_flush(&sp);
	osc_wbuf_fini(&sp.w);
	if (close(sp.fd) != 0 && sp.err == 0) {
		sp.errnum = errno;
		sp.err    = sp.errnum == ENOSPC ? OSCAR_ENOSPACE : OSCAR_ESYSTEM;
	}
	if (sp.err != 0) {
		unlink(path);
		return (osc_serr(err, sp.err, "spilling object %s of session %s to %s: %s", o->key,
		    o->sess->id, s->dir,
		    sp.errnum != 0 ? strerror(sp.errnum) : oscar_strerror(sp.err)));
	}
	osc_lru_remove(s, o);
	osc_shm_drop(s, o);
	oscar_value_free(o->val);
	o->val  = NULL;
	o->file = n;
	s->used -= o->size;
	s->spilled += o->size;
	s->n_spilled++;
	return (0);
}

// osc_unspill_file removes o's spill file and its count.
static void osc_unspill_file(osc_store_t *s, osc_store_obj_t *o)
{
	char path[4096];

	osc_spill_path(s, o->file, path, sizeof(path));
	unlink(path);
	o->file = 0;
	s->spilled -= o->size;
	s->n_spilled--;
}

// osc_make_room spills until need more bytes fit under the limit.
static int osc_make_room(osc_store_t *s, uint64_t need, oscar_error_t *err)
{
	int rv;

	if (s->limit == 0) {
		return (0);
	}
	if (need > s->limit) {
		return (osc_serr(err, OSCAR_ENOSPACE,
		    "%" PRIu64 " bytes do not fit in the memory limit of %" PRIu64 " bytes", need,
		    s->limit));
	}
	while (s->used + need > s->limit) {
		if (s->lru_tail == NULL || s->dir == NULL) {
			return (osc_serr(err, OSCAR_ENOSPACE,
			    "no room for %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64
			    " bytes in use and %s",
			    need, s->used, s->limit,
			    s->dir == NULL ? "no spill directory" : "nothing left to spill"));
		}
		if ((rv = osc_spill(s, s->lru_tail, err)) != 0) {
			return (rv);
		}
	}
	return (0);
}

// osc_read_all reads exactly n bytes from fd into p.
static int osc_read_all(int fd, void *p, size_t n)
{
	char   *c = p;
	ssize_t k;

	while (n > 0) {
		if ((k = read(fd, c, n)) < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			return (-1);
		}
		c += k;
		n -= (size_t) k;
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Decoding an encoding that arrives in pieces

// osc_sdec_t decodes an object's encoding that arrives in pieces (blocks
// of a transfer, chunks of a spill file) without holding the object
// twice: each large bin goes straight into a block of its own as its bytes
// arrive, and everything else gathers in a skeleton, the encoding with
// those bins replaced by references to out-of-band buffers. At the end the
// skeleton is decoded and each bin adopts its block (osc_oob_t.owned).
typedef struct osc_sdec {
	uint64_t       total; // bytes announced
	uint64_t       got;   // bytes taken
	osc_wbuf_t     skel;
	unsigned char  head[16]; // a header cut between two pieces
	size_t         nhead;
	uint64_t       copy; // payload bytes still to copy into skel
	char          *fill; // the block of the large bin being filled
	size_t         fill_len;
	size_t         fill_got;
	char         **blocks; // the large bins' blocks, n of them
	osc_oob_buf_t *bufs;
	uint32_t       n;
	size_t         cap;
	size_t         cap2;
} osc_sdec_t;

static void osc_sdec_init(osc_sdec_t *d, uint64_t total)
{
	memset(d, 0, sizeof(*d));
	d->total = total;
}

static void osc_sdec_fini(osc_sdec_t *d)
{
	for (uint32_t i = 0; i < d->n; i++) {
		free(d->blocks[i]);
	}
	free(d->blocks);
	free(d->bufs);
	osc_wbuf_fini(&d->skel);
	memset(d, 0, sizeof(*d));
}

// osc_sdec_head acts on a complete header hp[0..hl), described by h, with
// left bytes of the stream after it.
static int osc_sdec_head(
    osc_sdec_t *d, const void *hp, size_t hl, const osc_head_t *h, uint64_t left)
{
	char *block;

	if (h->kind == OSC_HEAD_EXT && h->ext_type != OSC_REF_EXT) {
		return (OSCAR_EPROTO); // only references travel in an object
	}
	if ((h->kind == OSC_HEAD_STR || h->kind == OSC_HEAD_BIN || h->kind == OSC_HEAD_EXT) &&
	    h->len > left) {
		return (OSCAR_EPROTO);
	}
	if (h->kind != OSC_HEAD_BIN || h->len < OSC_SPILL_CHUNK) {
		osc_write_raw(&d->skel, hp, hl);
		if (h->kind == OSC_HEAD_STR || h->kind == OSC_HEAD_BIN || h->kind == OSC_HEAD_EXT) {
			d->copy = h->len;
		}
		return (d->skel.err);
	}
	// A large bin: its own block, filled as its bytes come. The count of
	// blocks is bounded by the total over OSC_SPILL_CHUNK.
	if (osc_reserve(&d->blocks, &d->cap, d->n, sizeof(*d->blocks), 4) != 0 ||
	    osc_reserve(&d->bufs, &d->cap2, d->n, sizeof(*d->bufs), 4) != 0 ||
	    (block = malloc((size_t) h->len + 1)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	block[h->len]     = '\0';
	d->blocks[d->n]   = block;
	d->bufs[d->n].ptr = block;
	d->bufs[d->n].len = (size_t) h->len;
	osc_write_oob_ref(&d->skel, d->n);
	d->n++;
	d->fill     = block;
	d->fill_len = (size_t) h->len;
	d->fill_got = 0;
	return (d->skel.err);
}

// osc_sdec_push takes the next n bytes of p.
static int osc_sdec_push(osc_sdec_t *d, const void *buf, size_t n)
{
	const char *p = buf;
	osc_head_t  h;
	size_t      take;
	int         rv;

	if (n > d->total - d->got) {
		return (OSCAR_EPROTO);
	}
	d->got += n;
	while (n > 0) {
		if (d->fill != NULL) {
			take = d->fill_len - d->fill_got < n ? d->fill_len - d->fill_got : n;
			memcpy(d->fill + d->fill_got, p, take);
			d->fill_got += take;
			if (d->fill_got == d->fill_len) {
				d->fill = NULL;
			}
		} else if (d->copy > 0) {
			take = d->copy < n ? (size_t) d->copy : n;
			osc_write_raw(&d->skel, p, take);
			d->copy -= take;
			if (d->skel.err != 0) {
				return (d->skel.err);
			}
		} else if (d->nhead == 0 && (rv = osc_read_head(p, n, &h)) == 0 && n >= h.hdr) {
			// A whole header in this piece (the usual case).
			take = h.hdr;
			if ((rv = osc_sdec_head(d, p, take, &h, d->total - (d->got - n) - take)) !=
			    0) {
				return (rv);
			}
		} else {
			// A header cut between pieces: gather it byte by byte.
			d->head[d->nhead++] = (unsigned char) *p;
			take                = 1;
			if ((rv = osc_read_head(d->head, d->nhead, &h)) != 0) {
				return (rv);
			}
			if (d->nhead == h.hdr) {
				d->nhead = 0;
				rv       = osc_sdec_head(
				          d, d->head, h.hdr, &h, d->total - (d->got - n) - take);
				if (rv != 0) {
					return (rv);
				}
			}
		}
		p += take;
		n -= take;
	}
	return (0);
}

// osc_sdec_finish decodes what was taken into *out; d is then done with
// (osc_sdec_fini still releases it).
static int osc_sdec_finish(osc_sdec_t *d, oscar_value_t **out)
{
	osc_reader_t r;
	osc_oob_t    oob;
	int          rv;

	*out = NULL;
	if (d->got != d->total || d->nhead != 0 || d->copy != 0 || d->fill != NULL) {
		return (OSCAR_EPROTO);
	}
	memset(&oob, 0, sizeof(oob));
	oob.n     = d->n;
	oob.bufs  = d->bufs;
	oob.owned = d->blocks;
	osc_reader_init(&r, d->skel.data, d->skel.len);
	r.oob = &oob;
	if ((rv = osc_read_value(&r, out)) != 0) {
		return (rv);
	}
	if (osc_reader_left(&r) != 0) {
		oscar_value_free(*out);
		*out = NULL;
		return (OSCAR_EPROTO);
	}
	return (0);
}

// osc_unspill reads a spilled object back into memory, making room first.
// The file is read in chunks through a piecewise decoder, so a large bin
// goes straight into its final block.
static int osc_unspill(osc_store_t *s, osc_store_obj_t *o, oscar_error_t *err)
{
	char           path[4096];
	oscar_value_t *v = NULL;
	osc_sdec_t     d;
	char          *chunk;
	uint64_t       left = o->size;
	size_t         n;
	int            fd;
	int            rv = 0;

	if ((rv = osc_make_room(s, o->size, err)) != 0) {
		return (rv);
	}
	osc_spill_path(s, o->file, path, sizeof(path));
	if ((chunk = malloc(OSC_READ_CHUNK)) == NULL) {
		return (
		    osc_serr(err, OSCAR_ENOMEM, "reading back object %s: out of memory", o->key));
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int e = errno;
		free(chunk);
		return (
		    osc_serr(err, OSCAR_ESYSTEM, "reading back object %s of session %s from %s: %s",
		        o->key, o->sess->id, path, strerror(e)));
	}
	osc_sdec_init(&d, o->size);
	while (left > 0 && rv == 0) {
		n     = left < OSC_READ_CHUNK ? (size_t) left : OSC_READ_CHUNK;
		errno = 0;
		if (osc_read_all(fd, chunk, n) != 0) {
			int e = errno;
			close(fd);
			free(chunk);
			osc_sdec_fini(&d);
			return (osc_serr(err, OSCAR_ESYSTEM,
			    "reading back object %s of session %s from %s: %s", o->key, o->sess->id,
			    path, e != 0 ? strerror(e) : "file cut short"));
		}
		rv = osc_sdec_push(&d, chunk, n);
		left -= n;
	}
	close(fd);
	free(chunk);
	if (rv == 0) {
		rv = osc_sdec_finish(&d, &v);
	}
	osc_sdec_fini(&d);
	if (rv != 0) {
		return (osc_serr(err, rv, "reading back object %s of session %s: %s", o->key,
		    o->sess->id, oscar_strerror(rv)));
	}
	osc_unspill_file(s, o);
	o->val = v;
	s->used += o->size;
	return (0);
}

// osc_obj_load makes sure o is in memory and touches it.
static int osc_obj_load(osc_store_t *s, osc_store_obj_t *o, oscar_error_t *err)
{
	int rv;

	if (o->val == NULL && (rv = osc_unspill(s, o, err)) != 0) {
		return (rv);
	}
	osc_lru_touch(s, o);
	return (0);
}

// ---------------------------------------------------------------------------
// Objects

// osc_obj_free frees o, which is in no list and no map.
static void osc_obj_free(osc_store_obj_t *o)
{
	oscar_value_free(o->val);
	free(o->key);
	free(o);
}

// osc_obj_drop takes o out of the store: its value, spill file and
// segment. A pinned object is only detached; the last release frees it.
static void osc_obj_drop(osc_store_t *s, osc_store_obj_t *o)
{
	osc_map_remove(&s->objs, o->hash, o);
	osc_lru_remove(s, o);
	osc_sess_unlink(o->sess, o);
	osc_shm_drop(s, o);
	if (o->file != 0) {
		osc_unspill_file(s, o);
	} else {
		s->used -= o->size;
	}
	s->n_objs--;
	o->sess = NULL;
	if (o->pins == 0) {
		osc_obj_free(o);
	}
}

// osc_obj_new makes an object for val (not yet stored).
static int osc_obj_new(
    osc_store_t *s, const char *key, oscar_value_t *val, osc_store_obj_t **op, oscar_error_t *err)
{
	osc_store_obj_t *o;
	size_t           size;
	int              rv;

	if ((rv = osc_check_name("key", key, OSC_STORE_KEY_MAX, err)) != 0) {
		return (rv);
	}
	if (val == NULL || (size = osc_value_encoded_len(val)) == 0) {
		return (osc_serr(err, OSCAR_EINVAL, "object %s: the value cannot be encoded", key));
	}
	if ((o = calloc(1, sizeof(*o))) == NULL || (o->key = strdup(key)) == NULL) {
		free(o);
		return (osc_serr(err, OSCAR_ENOMEM, "object %s: out of memory", key));
	}
	// Its large bins become shared, so that a get (a copy) hands out
	// their bytes without copying them. Out of memory here only means
	// copies later.
	(void) osc_value_share_bins(val, OSC_STORE_SHARE_MIN);
	o->store  = s;
	o->size   = size;
	o->shm_fd = -1;
	o->val    = val;
	*op       = o;
	return (0);
}

// osc_obj_insert stores o in session x (room made, map reserved).
static void osc_obj_insert(osc_store_t *s, osc_sess_t *x, osc_store_obj_t *o)
{
	o->hash = osc_obj_hash(x->id, o->key);
	osc_map_insert(&s->objs, o->hash, o);
	osc_sess_link(x, o);
	s->used += o->size;
	s->n_objs++;
	osc_lru_touch(s, o);
}

int osc_store_put_batch(osc_store_t *s, const char *session, size_t n, const char *const *keys,
    oscar_value_t **vals, oscar_error_t *err)
{
	osc_store_obj_t **objs;
	osc_store_obj_t  *old;
	osc_sess_t       *x;
	uint64_t          need = 0;
	size_t            i;
	int               rv;

	if ((rv = osc_sess_get(s, session, &x, err)) != 0) {
		return (rv);
	}
	if (n == 0) {
		return (0);
	}
	if (keys == NULL || vals == NULL) {
		return (osc_serr(err, OSCAR_EINVAL, "a batch without keys or values"));
	}
	if ((objs = calloc(n, sizeof(*objs))) == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "put: out of memory"));
	}
	for (i = 0; i < n && rv == 0; i++) {
		if ((rv = osc_obj_new(s, keys[i], vals[i], &objs[i], err)) != 0) {
			break;
		}
		need += objs[i]->size;
		old = osc_obj_find(s, x, keys[i]);
		if (old != NULL && old->pins > 0) {
			rv = osc_serr(err, OSCAR_ESTATE,
			    "object %s in session %s is being read and cannot be replaced", keys[i],
			    session);
		}
	}
	// Room for all of them, and slots in the map, before anything changes.
	if (rv == 0 && (rv = osc_make_room(s, need, err)) == 0 &&
	    osc_map_reserve_n(&s->objs, n) != 0) {
		rv = osc_serr(err, OSCAR_ENOMEM, "put: out of memory");
	}
	if (rv != 0) {
		for (i = 0; i < n; i++) {
			if (objs[i] != NULL) {
				objs[i]->val = NULL; // the caller's still
				osc_obj_free(objs[i]);
			}
		}
		free(objs);
		return (rv);
	}
	for (i = 0; i < n; i++) {
		if ((old = osc_obj_find(s, x, objs[i]->key)) != NULL) {
			osc_obj_drop(s, old);
		}
		osc_obj_insert(s, x, objs[i]);
	}
	free(objs);
	// Room was made for every new object as if none replaced an old one,
	// so used is now within the limit, maybe with room to spare.
	return (0);
}

int osc_store_put(
    osc_store_t *s, const char *session, const char *key, oscar_value_t *val, oscar_error_t *err)
{
	return (osc_store_put_batch(s, session, 1, &key, &val, err));
}

int osc_store_delete_batch(
    osc_store_t *s, const char *session, size_t n, const char *const *keys, oscar_error_t *err)
{
	osc_store_obj_t *o;
	size_t           i;
	int              rv;

	if (n > 0 && keys == NULL) {
		return (osc_serr(err, OSCAR_EINVAL, "a batch without keys"));
	}
	// Check them all first: all or nothing.
	for (i = 0; i < n; i++) {
		if ((rv = osc_obj_get(s, session, keys[i], &o, err)) != 0) {
			return (rv);
		}
	}
	for (i = 0; i < n; i++) {
		// A key twice in the batch is gone the second time.
		if (osc_obj_get(s, session, keys[i], &o, NULL) == 0) {
			osc_obj_drop(s, o);
		}
	}
	return (0);
}

int osc_store_delete(osc_store_t *s, const char *session, const char *key, oscar_error_t *err)
{
	return (osc_store_delete_batch(s, session, 1, &key, err));
}

bool osc_store_has(const osc_store_t *s, const char *session, const char *key)
{
	const osc_sess_t *x;

	if (session == NULL || key == NULL || (x = osc_sess_find(s, session)) == NULL) {
		return (false);
	}
	return (osc_obj_find(s, x, key) != NULL);
}

// ---------------------------------------------------------------------------
// Slices and gets

int osc_slice_resolve(const osc_slice_t *sl, size_t len, int64_t *first, int64_t *step,
    size_t *count, oscar_error_t *err)
{
	int64_t n = (int64_t) len;
	int64_t a;
	int64_t b;
	int64_t k = sl->step;

	if (len > INT64_MAX) {
		return (osc_serr(err, OSCAR_EINVAL, "object too long to slice"));
	}
	if (sl->index) {
		a = sl->start < 0 ? sl->start + n : sl->start;
		if (a < 0 || a >= n) {
			return (osc_serr(err, OSCAR_EINVAL,
			    "index %" PRId64 " out of range for a length of %zu", sl->start, len));
		}
		*first = a;
		*step  = 1;
		*count = 1;
		return (0);
	}
	if (k == 0) {
		return (osc_serr(err, OSCAR_EINVAL, "slice step cannot be zero"));
	}
	if (k > 0) {
		a = sl->has_start ? (sl->start < 0 ? sl->start + n : sl->start) : 0;
		b = sl->has_stop ? (sl->stop < 0 ? sl->stop + n : sl->stop) : n;
		if (a < 0 || a > n || b < 0 || b > n) {
			goto range;
		}
		*count = b > a ? (size_t) ((b - a + k - 1) / k) : 0;
	} else {
		// Backwards: start defaults to the last position, stop to
		// before the first one (-1 after resolution). A stop of len
		// is in range, as it is forwards (the slice is empty).
		a = sl->has_start ? (sl->start < 0 ? sl->start + n : sl->start) : n - 1;
		b = sl->has_stop ? (sl->stop < 0 ? sl->stop + n : sl->stop) : -1;
		if ((sl->has_start && (a < 0 || a >= n)) || b < -1 || b > n || k == INT64_MIN) {
			goto range;
		}
		*count = a > b ? (size_t) ((a - b - k - 1) / -k) : 0;
	}
	*first = a;
	*step  = k;
	return (0);
range:
	return (osc_serr(err, OSCAR_EINVAL,
	    "slice [%s%" PRId64 ":%s%" PRId64 ":%" PRId64 "] out of range for a length of %zu",
	    sl->has_start ? "" : "~", sl->has_start ? sl->start : 0, sl->has_stop ? "" : "~",
	    sl->has_stop ? sl->stop : 0, k, len));
}

// osc_slice_value makes the slice sl of v.
static int osc_slice_value(const oscar_value_t *v, const osc_slice_t *sl, const char *key,
    const char *session, oscar_value_t **out, oscar_error_t *err)
{
	oscar_value_t *r;
	int64_t        first;
	int64_t        step;
	size_t         count;
	size_t         i;
	int            rv;

	if (v->type != OSCAR_ARRAY && v->type != OSCAR_STR && v->type != OSCAR_BIN) {
		return (osc_serr(err, OSCAR_EINVAL,
		    "object %s in session %s is a %s: only arrays, str and bin can be sliced", key,
		    session, oscar_type_name(v->type)));
	}
	if ((rv = osc_slice_resolve(sl, oscar_value_len(v), &first, &step, &count, err)) != 0) {
		char msg[sizeof(err->message)];
		if (err != NULL) {
			snprintf(msg, sizeof(msg), "%s", err->message);
			osc_serr(err, rv, "object %s in session %s: %s", key, session, msg);
		}
		return (rv);
	}
	if (v->type == OSCAR_ARRAY) {
		if (sl->index) {
			r = oscar_value_copy(&v->as.arr.items[first]);
		} else if ((r = oscar_value_new_array(count)) != NULL) {
			for (i = 0; i < count; i++) {
				oscar_value_t *c =
				    oscar_value_copy(&v->as.arr.items[first + (int64_t) i * step]);
				if (oscar_value_array_push(r, c) != 0) {
					oscar_value_free(r);
					r = NULL;
					break;
				}
			}
		}
	} else {
		char *buf = malloc(count + 1);
		r         = NULL;
		if (buf != NULL) {
			if (step == 1) {
				memcpy(buf, v->as.str.ptr + first, count);
			} else {
				for (i = 0; i < count; i++) {
					buf[i] = v->as.str.ptr[first + (int64_t) i * step];
				}
			}
			r = v->type == OSCAR_STR ? oscar_value_new_strn(buf, count)
			                         : oscar_value_new_bin(buf, count);
			free(buf);
		}
	}
	if (r == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "slicing object %s: out of memory", key));
	}
	*out = r;
	return (0);
}

// osc_get_one gets one object (sliced) into *out.
static int osc_get_one(osc_store_t *s, const char *session, const char *key, const osc_slice_t *sl,
    oscar_value_t **out, oscar_error_t *err)
{
	osc_store_obj_t *o;
	int              rv;

	if ((rv = osc_obj_get(s, session, key, &o, err)) != 0 ||
	    (rv = osc_obj_load(s, o, err)) != 0) {
		return (rv);
	}
	if (sl != NULL) {
		return (osc_slice_value(o->val, sl, key, session, out, err));
	}
	if ((*out = oscar_value_copy(o->val)) == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "copying object %s: out of memory", key));
	}
	return (0);
}

int osc_store_get(osc_store_t *s, const char *session, const char *key, const osc_slice_t *sl,
    oscar_value_t **out, oscar_error_t *err)
{
	if (out == NULL) {
		return (osc_serr(err, OSCAR_EINVAL, "get without a place for the result"));
	}
	*out = NULL;
	return (osc_get_one(s, session, key, sl, out, err));
}

int osc_store_get_batch(osc_store_t *s, const char *session, size_t n, const char *const *keys,
    const osc_slice_t *const *slices, oscar_value_t **out, oscar_error_t *err)
{
	oscar_value_t *arr;
	oscar_value_t *v;
	size_t         i;
	int            rv;

	if (out == NULL || (n > 0 && keys == NULL)) {
		return (
		    osc_serr(err, OSCAR_EINVAL, "a batch without keys or a place for the result"));
	}
	*out = NULL;
	if ((arr = oscar_value_new_array(n)) == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "get: out of memory"));
	}
	for (i = 0; i < n; i++) {
		rv = osc_get_one(s, session, keys[i], slices != NULL ? slices[i] : NULL, &v, err);
		if (rv == 0 && oscar_value_array_push(arr, v) != 0) {
			rv = osc_serr(err, OSCAR_ENOMEM, "get: out of memory");
		}
		if (rv != 0) {
			oscar_value_free(arr);
			return (rv);
		}
	}
	*out = arr;
	return (0);
}

int osc_store_read(osc_store_t *s, const char *session, const char *key, osc_store_obj_t **obj,
    const oscar_value_t **val, oscar_error_t *err)
{
	osc_store_obj_t *o;
	int              rv;

	if ((rv = osc_obj_get(s, session, key, &o, err)) != 0 ||
	    (rv = osc_obj_load(s, o, err)) != 0) {
		return (rv);
	}
	o->pins++;
	osc_lru_remove(s, o);
	*obj = o;
	*val = o->val;
	return (0);
}

void osc_store_release(osc_store_t *s, osc_store_obj_t *o)
{
	if (o == NULL || --o->pins > 0) {
		return;
	}
	if (o->sess == NULL) {
		osc_obj_free(o); // deleted while pinned
		return;
	}
	osc_lru_touch(s, o);
}

// ---------------------------------------------------------------------------
// Sessions

int osc_store_session_create(
    osc_store_t *s, const char *session, bool if_not_exists, oscar_error_t *err)
{
	osc_sess_t *x;
	int         rv;

	if ((rv = osc_check_name("session id", session, OSC_STORE_SESSION_MAX, err)) != 0) {
		return (rv);
	}
	if (osc_sess_find(s, session) != NULL) {
		return (if_not_exists
		            ? 0
		            : osc_serr(err, OSCAR_EEXIST, "session %s exists already", session));
	}
	if (osc_map_reserve(&s->sessions) != 0 || (x = calloc(1, sizeof(*x))) == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "session %s: out of memory", session));
	}
	if ((x->id = strdup(session)) == NULL) {
		free(x);
		return (osc_serr(err, OSCAR_ENOMEM, "session %s: out of memory", session));
	}
	x->hash = osc_hash_str(session);
	osc_map_insert(&s->sessions, x->hash, x);
	return (0);
}

bool osc_store_session_has(const osc_store_t *s, const char *session)
{
	return (session != NULL && osc_sess_find(s, session) != NULL);
}

// osc_sess_free drops every object of x and x itself.
static void osc_sess_free(osc_store_t *s, osc_sess_t *x)
{
	while (x->objs != NULL) {
		osc_obj_drop(s, x->objs);
	}
	osc_map_remove(&s->sessions, x->hash, x);
	free(x->id);
	free(x);
}

int osc_store_session_delete(
    osc_store_t *s, const char *session, bool if_exists, oscar_error_t *err)
{
	osc_sess_t *x;
	int         rv;

	if ((rv = osc_sess_get(s, session, &x, err)) != 0) {
		return (rv == OSCAR_ENOENT && if_exists ? 0 : rv);
	}
	osc_sess_free(s, x);
	return (0);
}

// ---------------------------------------------------------------------------
// The store

int osc_store_open(const osc_store_config_t *cfg, osc_store_t **sp, oscar_error_t *err)
{
	osc_store_t *s;
	size_t       n;

	if (cfg == NULL || sp == NULL) {
		return (osc_serr(err, OSCAR_EINVAL, "no store configuration"));
	}
	*sp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "store: out of memory"));
	}
	s->limit     = cfg->memory_limit;
	s->write_fn  = cfg->write_fn;
	s->write_arg = cfg->write_arg;
	if (cfg->spill_dir != NULL) {
		if ((n = strlen(cfg->spill_dir)) == 0 || n > 3000) {
			free(s);
			return (osc_serr(err, OSCAR_EINVAL, "bad spill directory"));
		}
		if (mkdir(cfg->spill_dir, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			free(s);
			return (osc_serr(err, OSCAR_ESYSTEM, "spill directory %s: %s",
			    cfg->spill_dir, strerror(e)));
		}
		if ((s->dir = malloc(n + 32)) == NULL) {
			free(s);
			return (osc_serr(err, OSCAR_ENOMEM, "store: out of memory"));
		}
		snprintf(s->dir, n + 32, "%s/oscar-store-XXXXXX", cfg->spill_dir);
		if (mkdtemp(s->dir) == NULL) {
			int e = errno;
			free(s->dir);
			free(s);
			return (osc_serr(err, OSCAR_ESYSTEM, "spill directory %s: %s",
			    cfg->spill_dir, strerror(e)));
		}
	}
	*sp = s;
	return (0);
}

void osc_store_close(osc_store_t *s)
{
	osc_sess_t *x;
	size_t      i;

	if (s == NULL) {
		return;
	}
	for (i = 0; i < s->sessions.cap; i++) {
		if ((x = osc_map_at(&s->sessions, i)) != NULL) {
			osc_sess_free(s, x);
		}
	}
	osc_map_fini(&s->sessions);
	osc_map_fini(&s->objs);
	if (s->dir != NULL) {
		rmdir(s->dir);
		free(s->dir);
	}
	free(s);
}

void osc_store_stats(const osc_store_t *s, osc_store_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	st->used      = s->used;
	st->limit     = s->limit;
	st->spilled   = s->spilled;
	st->objects   = s->n_objs;
	st->n_spilled = s->n_spilled;
	st->shared    = s->shared;
	st->sessions  = s->sessions.len;
}

// ---------------------------------------------------------------------------
// Shared memory

int osc_store_export(
    osc_store_t *s, const char *session, const char *key, int *fd, size_t *size, oscar_error_t *err)
{
	osc_store_obj_t *o;
	oscar_value_t   *v;
	struct stat      st;
	int              f;
	int              rv;

	if ((rv = osc_obj_get(s, session, key, &o, err)) != 0 ||
	    (rv = osc_obj_load(s, o, err)) != 0) {
		return (rv);
	}
	if (o->shm_fd < 0) {
		if ((rv = osc_shm_create_value(o->val, &f)) != 0) {
			return (osc_serr(err, rv, "exporting object %s of session %s: %s", key,
			    session, rv == OSCAR_ESYSTEM ? strerror(errno) : oscar_strerror(rv)));
		}
		if (fstat(f, &st) != 0) {
			close(f);
			return (osc_serr(
			    err, OSCAR_ESYSTEM, "exporting object %s: %s", key, strerror(errno)));
		}
		// A str or bin nobody is reading moves into the segment (a
		// private mapping of it), so that its bytes are held once.
		if ((o->val->type == OSCAR_BIN || o->val->type == OSCAR_STR) && o->pins == 0 &&
		    osc_shm_borrow(f, &v) == 0) {
			oscar_value_free(o->val);
			o->val = v;
		}
		o->shm_fd   = f;
		o->shm_size = (size_t) st.st_size;
		s->shared += o->shm_size;
	}
	*fd   = o->shm_fd;
	*size = o->shm_size;
	return (0);
}

int osc_store_import(
    osc_store_t *s, const char *session, const char *key, int fd, oscar_error_t *err)
{
	osc_store_obj_t *o;
	oscar_value_t   *v;
	struct stat      st;
	bool             mapped;
	int              keep;
	int              rv;

	if ((rv = osc_shm_borrow(fd, &v)) != 0) {
		return (osc_serr(err, rv, "importing object %s into session %s: %s", key, session,
		    rv == OSCAR_EPROTO ? "not a sealed, well-formed segment" : oscar_strerror(rv)));
	}
	// A bin or str points into the segment; any other value was decoded
	// out of it.
	mapped = v->type == OSCAR_BIN || v->type == OSCAR_STR;
	if ((rv = osc_store_put(s, session, key, v, err)) != 0) {
		oscar_value_free(v);
		return (rv);
	}
	// Keep a descriptor of a segment the object lives in, so that
	// exporting the object again hands out the same one.
	if (mapped && osc_obj_get(s, session, key, &o, NULL) == 0 && fstat(fd, &st) == 0 &&
	    (keep = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		o->shm_fd   = keep;
		o->shm_size = (size_t) st.st_size;
		s->shared += o->shm_size;
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Blocks

// osc_piece_t is a run of an object's encoding: bytes of the iterator's
// inline buffer (from off), or of the object itself (at p).
typedef struct osc_piece {
	const char *p; // NULL: inline
	size_t      off;
	size_t      n;
} osc_piece_t;

struct osc_store_blocks {
	osc_store_t     *s;
	osc_store_obj_t *o;
	osc_wbuf_t       inl;
	osc_piece_t     *pieces;
	size_t           np;
	size_t           cap;
	size_t           ip;   // piece being read
	size_t           off;  // bytes of it already given
	size_t           mark; // inline bytes already in pieces
	char            *block;
	size_t           bsize;
	int              err;
};

// osc_blocks_piece adds a piece; p NULL closes the inline run so far.
static void osc_blocks_piece(osc_store_blocks_t *b, const char *p, size_t n)
{
	if (p == NULL) {
		n = b->inl.len - b->mark;
		if (n == 0) {
			return;
		}
	}
	if (osc_reserve(&b->pieces, &b->cap, b->np, sizeof(*b->pieces), 16) != 0) {
		b->err = OSCAR_ENOMEM;
		return;
	}
	b->pieces[b->np].p   = p;
	b->pieces[b->np].off = b->mark;
	b->pieces[b->np].n   = n;
	b->np++;
	if (p == NULL) {
		b->mark = b->inl.len;
	}
}

// osc_blocks_walk lays out v's encoding as pieces.
static void osc_blocks_walk(osc_store_blocks_t *b, const oscar_value_t *v)
{
	size_t i;

	switch (v->type) {
	case OSCAR_STR:
	case OSCAR_BIN:
		if (v->as.str.len < OSC_SPILL_CHUNK) {
			osc_write_value(&b->inl, v);
			return;
		}
		if (v->type == OSCAR_STR) {
			osc_write_str_header(&b->inl, v->as.str.len);
		} else {
			osc_write_bin_header(&b->inl, v->as.bin.len);
		}
		osc_blocks_piece(b, NULL, 0);
		osc_blocks_piece(b, v->as.str.ptr, v->as.str.len);
		return;
	case OSCAR_ARRAY:
		osc_write_array(&b->inl, (uint32_t) v->as.arr.len);
		for (i = 0; i < v->as.arr.len; i++) {
			osc_blocks_walk(b, &v->as.arr.items[i]);
		}
		return;
	case OSCAR_MAP:
		osc_write_map(&b->inl, (uint32_t) v->as.map.len);
		for (i = 0; i < v->as.map.len; i++) {
			osc_blocks_walk(b, &v->as.map.kv[i].key);
			osc_blocks_walk(b, &v->as.map.kv[i].val);
		}
		return;
	default:
		osc_write_value(&b->inl, v);
		return;
	}
}

int osc_store_blocks_open(osc_store_t *s, const char *session, const char *key, size_t block_size,
    osc_store_blocks_t **bp, uint64_t *total, oscar_error_t *err)
{
	osc_store_blocks_t  *b;
	const oscar_value_t *v;
	osc_store_obj_t     *o;
	int                  rv;

	if (block_size == 0 || bp == NULL || total == NULL) {
		return (osc_serr(err, OSCAR_EINVAL, "blocks: no block size or no place for them"));
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		return (osc_serr(err, OSCAR_ENOMEM, "blocks: out of memory"));
	}
	if ((rv = osc_store_read(s, session, key, &o, &v, err)) != 0) {
		free(b);
		return (rv);
	}
	b->s = s;
	b->o = o;
	// A block is never larger than the object: a transfer of thousands
	// of small objects allocates small blocks, not a block_size each.
	b->bsize = o->size < block_size ? (o->size > 0 ? o->size : 1) : block_size;
	b->block = malloc(b->bsize);
	osc_blocks_walk(b, v);
	osc_blocks_piece(b, NULL, 0);
	if (b->block == NULL || b->err != 0 || b->inl.err != 0) {
		osc_store_blocks_close(b);
		return (osc_serr(err, OSCAR_ENOMEM, "blocks: out of memory"));
	}
	*total = o->size;
	*bp    = b;
	return (0);
}

int osc_store_blocks_next(osc_store_blocks_t *b, const void **p, size_t *n)
{
	size_t got = 0;

	while (got < b->bsize && b->ip < b->np) {
		const osc_piece_t *pc   = &b->pieces[b->ip];
		const char        *src  = pc->p != NULL ? pc->p : b->inl.data + pc->off;
		size_t             take = pc->n - b->off;

		if (take > b->bsize - got) {
			take = b->bsize - got;
		}
		memcpy(b->block + got, src + b->off, take);
		got += take;
		b->off += take;
		if (b->off == pc->n) {
			b->ip++;
			b->off = 0;
		}
	}
	*p = b->block;
	*n = got;
	return (0);
}

void osc_store_blocks_close(osc_store_blocks_t *b)
{
	if (b == NULL) {
		return;
	}
	osc_store_release(b->s, b->o);
	osc_wbuf_fini(&b->inl);
	free(b->pieces);
	free(b->block);
	free(b);
}

// ---------------------------------------------------------------------------
// Receiving blocks

struct osc_store_recv {
	osc_store_t *s;
	char        *session;
	char        *key;
	uint64_t     total; // reserved
	osc_sdec_t   d;
};

int osc_store_recv_open(osc_store_t *s, const char *session, const char *key, uint64_t total,
    osc_store_recv_t **rp, oscar_error_t *err)
{
	osc_store_recv_t *r;
	osc_sess_t       *x;
	int               rv;

	if ((rv = osc_sess_get(s, session, &x, err)) != 0 ||
	    (rv = osc_check_name("key", key, OSC_STORE_KEY_MAX, err)) != 0) {
		return (rv);
	}
	if (total == 0 || total > (uint64_t) UINT32_MAX + 5 || total >= SIZE_MAX) {
		return (osc_serr(err, total == 0 ? OSCAR_EPROTO : OSCAR_ETOOLARGE,
		    "object %s of %" PRIu64 " bytes cannot be received", key, total));
	}
	if ((rv = osc_make_room(s, total, err)) != 0) {
		return (rv);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL || (r->session = strdup(session)) == NULL ||
	    (r->key = strdup(key)) == NULL) {
		if (r != NULL) {
			free(r->session);
			free(r);
		}
		return (osc_serr(err, OSCAR_ENOMEM, "receiving object %s: out of memory", key));
	}
	r->s     = s;
	r->total = total;
	osc_sdec_init(&r->d, total);
	s->used += total; // the reservation
	*rp = r;
	return (0);
}

int osc_store_recv_push(osc_store_recv_t *r, const void *p, size_t n, oscar_error_t *err)
{
	int rv;

	if (n > r->d.total - r->d.got) {
		return (osc_serr(err, OSCAR_EPROTO,
		    "object %s: block of %zu bytes past the %" PRIu64 " announced", r->key, n,
		    r->d.total));
	}
	if ((rv = osc_sdec_push(&r->d, p, n)) != 0) {
		return (osc_serr(err, rv, "object %s: %s in the bytes received", r->key,
		    rv == OSCAR_EPROTO ? "malformed encoding" : oscar_strerror(rv)));
	}
	return (0);
}

// osc_recv_free releases r and its reservation.
static void osc_recv_free(osc_store_recv_t *r)
{
	r->s->used -= r->total;
	osc_sdec_fini(&r->d);
	free(r->session);
	free(r->key);
	free(r);
}

int osc_store_recv_commit(osc_store_recv_t *r, oscar_error_t *err)
{
	oscar_value_t *v;
	int            rv;

	if (r->d.got != r->d.total) {
		rv = osc_serr(err, OSCAR_EPROTO,
		    "object %s: %" PRIu64 " of %" PRIu64 " bytes received", r->key, r->d.got,
		    r->d.total);
		osc_recv_free(r);
		return (rv);
	}
	if ((rv = osc_sdec_finish(&r->d, &v)) != 0) {
		rv = osc_serr(err, rv, "object %s: the bytes received do not decode", r->key);
		osc_recv_free(r);
		return (rv);
	}
	// Release the reservation first: the object takes its place.
	osc_sdec_fini(&r->d);
	r->s->used -= r->total;
	r->total = 0;
	if ((rv = osc_store_put(r->s, r->session, r->key, v, err)) != 0) {
		oscar_value_free(v);
	}
	osc_recv_free(r);
	return (rv);
}

void osc_store_recv_abort(osc_store_recv_t *r)
{
	if (r != NULL) {
		osc_recv_free(r);
	}
}
