// The wire: frames round-trip, and hostile bytes are rejected without a
// crash (actors/wire.c).
#include <string.h>

#include <criterion/criterion.h>

#include "actors/wire.h"
#include "tests/common/rng.h"

static osc_frame_t make_frame(osc_msg_type_t type)
{
	osc_frame_t f;
	memset(&f, 0, sizeof(f));
	f.type       = type;
	f.id         = 0x1122334455667788ull;
	f.timeout_ms = 30000;
	strcpy(f.source, "ipc:///tmp/oscar-pool-1");
	strcpy(f.target, "counter-7");
	strcpy(f.method, "add");
	return (f);
}

static void *encode(const osc_frame_t *f, const oscar_value_t *payload, osc_oob_t *oob,
    size_t threshold, size_t *len)
{
	osc_wbuf_t w;
	osc_wbuf_init(&w);
	cr_assert_eq(osc_frame_encode(&w, f, payload, oob, threshold), 0);
	size_t extra = 0;
	for (uint32_t i = 0; oob != NULL && i < oob->n; i++) {
		extra += oob->bufs[i].len;
	}
	// Out-of-band buffers follow the frame's own bytes, as a transport
	// sends them.
	cr_assert_eq(osc_wbuf_reserve(&w, extra), 0);
	for (uint32_t i = 0; oob != NULL && i < oob->n; i++) {
		osc_write_raw(&w, oob->bufs[i].ptr, oob->bufs[i].len);
	}
	return (osc_wbuf_take(&w, len));
}

Test(wire, every_type_round_trips)
{
	for (int type = OSC_MSG_CONTROL; type <= OSC_MSG_BATCH; type++) {
		osc_frame_t    f        = make_frame((osc_msg_type_t) type), g;
		uint64_t       chain[3] = { 1, 2, UINT64_MAX };
		oscar_value_t *payload  = oscar_value_new_array(2), *back;
		size_t         len;
		oscar_value_array_push(payload, oscar_value_new_int(-5));
		oscar_value_array_push(payload, oscar_value_new_str("x"));
		f.chain     = chain;
		f.chain_len = 3;
		if (type == OSC_MSG_ERROR) {
			f.has_error = true;
			f.error     = (oscar_error_t) { .code = OSCAR_EAPP, .pid = 42 };
			strcpy(f.error.message, "boom");
			strcpy(f.error.address, "tcp://10.0.0.1:1");
			strcpy(f.error.actor, "a");
			strcpy(f.error.method, "m");
		}
		void *buf = encode(&f, payload, NULL, 0, &len);
		cr_assert_eq(osc_frame_decode(buf, len, &g), 0, "type %d", type);
		cr_assert_eq(g.type, f.type);
		cr_assert_eq(g.id, f.id);
		cr_assert_eq(g.timeout_ms, 30000);
		cr_assert_str_eq(g.source, f.source);
		cr_assert_str_eq(g.target, f.target);
		cr_assert_str_eq(g.method, f.method);
		cr_assert_eq(g.chain_len, 3);
		cr_assert_eq(g.chain[2], UINT64_MAX);
		cr_assert_eq(g.has_error, type == OSC_MSG_ERROR);
		if (g.has_error) {
			cr_assert_eq(g.error.code, OSCAR_EAPP);
			cr_assert_eq(g.error.pid, 42);
			cr_assert_str_eq(g.error.message, "boom");
			cr_assert_str_eq(g.error.method, "m");
		}
		cr_assert_eq(osc_frame_payload(&g, &back), 0);
		cr_assert(oscar_value_equal(back, payload));
		cr_assert_str_eq(osc_msg_type_name(type), osc_msg_type_name((int) g.type));
		oscar_value_free(back);
		oscar_value_free(payload);
		osc_frame_fini(&g);
		free(buf);
	}
	cr_assert_null(osc_msg_type_name(0));
	cr_assert_null(osc_msg_type_name(99));
}

Test(wire, frame_without_payload)
{
	osc_frame_t    f    = make_frame(OSC_MSG_HAS), g;
	oscar_value_t *back = (oscar_value_t *) 1;
	size_t         len;
	void          *buf = encode(&f, NULL, NULL, 0, &len);
	cr_assert_eq(osc_frame_decode(buf, len, &g), 0);
	cr_assert_null(g.payload);
	cr_assert_eq(osc_frame_payload(&g, &back), 0);
	cr_assert_null(back);
	osc_frame_fini(&g);
	free(buf);
}

Test(wire, large_bins_travel_out_of_band)
{
	size_t         big     = 1 << 20;
	char          *data    = malloc(big);
	osc_frame_t    f       = make_frame(OSC_MSG_SEND), g;
	osc_oob_t      oob     = { 0 };
	oscar_value_t *payload = oscar_value_new_map(3), *back;
	size_t         len;
	for (size_t i = 0; i < big; i++) {
		data[i] = (char) (i * 7);
	}
	oscar_value_map_set(payload, "big", oscar_value_new_bin(data, big));
	oscar_value_map_set(payload, "small", oscar_value_new_bin("abc", 3));
	oscar_value_map_set(payload, "big2", oscar_value_new_bin(data, big / 2));
	void *buf = encode(&f, payload, &oob, 4096, &len);
	cr_assert_eq(oob.n, 2);
	// The frame's MessagePack part stays small: the bins are not in it.
	cr_assert_lt(len - big - big / 2, 512);
	cr_assert_eq(osc_frame_decode(buf, len, &g), 0);
	cr_assert_eq(g.nbufs, 2);
	cr_assert_eq(osc_frame_payload(&g, &back), 0);
	cr_assert(oscar_value_equal(back, payload));
	oscar_value_free(back);
	oscar_value_free(payload);
	osc_oob_fini(&oob);
	osc_frame_fini(&g);
	free(buf);
	free(data);
}

Test(wire, object_references_beside_out_of_band_bins)
{
	// Object references (ext type 2) and out-of-band bins (ext type 1)
	// in one payload: each resolves to its own kind.
	size_t         big     = 8192;
	char          *data    = calloc(1, big);
	osc_frame_t    f       = make_frame(OSC_MSG_SEND), g;
	osc_oob_t      oob     = { 0 };
	oscar_value_t *payload = oscar_value_new_array(3), *back;
	size_t         len;
	oscar_value_array_push(payload, oscar_value_new_ref("input-1"));
	oscar_value_array_push(payload, oscar_value_new_bin(data, big));
	oscar_value_array_push(payload, oscar_value_new_ref_output("task", 3));
	void *buf = encode(&f, payload, &oob, 4096, &len);
	cr_assert_eq(oob.n, 1);
	cr_assert_eq(osc_frame_decode(buf, len, &g), 0);
	cr_assert_eq(osc_frame_payload(&g, &back), 0);
	cr_assert(oscar_value_equal(back, payload));
	cr_assert_eq(back->as.arr.items[0].type, OSCAR_REF);
	cr_assert_eq(back->as.arr.items[1].type, OSCAR_BIN);
	cr_assert_eq(back->as.arr.items[2].as.ref.output, 3);
	oscar_value_free(back);
	oscar_value_free(payload);
	osc_oob_fini(&oob);
	osc_frame_fini(&g);
	free(buf);
	free(data);
}

Test(wire, references_need_the_frame)
{
	// An out-of-band reference outside a frame is an unknown ext.
	const char     ext[] = { (char) 0xd6, 0x01, 0, 0, 0, 0 };
	oscar_value_t *v;
	cr_assert_eq(oscar_value_decode(ext, sizeof(ext), &v), OSCAR_EPROTO);
}

// valid_frame makes a frame with a payload and two out-of-band buffers.
static void *valid_frame(size_t *len)
{
	osc_frame_t    f   = make_frame(OSC_MSG_SEND);
	osc_oob_t      oob = { 0 };
	char           blob[300];
	uint64_t       chain[2] = { 7, 8 };
	oscar_value_t *payload  = oscar_value_new_array(3);
	memset(blob, 'b', sizeof(blob));
	f.chain     = chain;
	f.chain_len = 2;
	oscar_value_array_push(payload, oscar_value_new_bin(blob, sizeof(blob)));
	oscar_value_array_push(payload, oscar_value_new_str("hello"));
	oscar_value_array_push(payload, oscar_value_new_bin(blob, 200));
	void *buf = encode(&f, payload, &oob, 100, len);
	osc_oob_fini(&oob);
	oscar_value_free(payload);
	return (buf);
}

static void check_bad(const void *buf, size_t len, const char *what)
{
	osc_frame_t g;
	cr_assert_eq(osc_frame_decode(buf, len, &g), OSCAR_EPROTO, "%s", what);
	cr_assert_null(g.chain, "%s", what);
}

Test(wire, malformed_prefixes_are_rejected)
{
	size_t      len;
	char       *buf = valid_frame(&len);
	char       *bad = malloc(len);
	osc_frame_t g;
	cr_assert_eq(osc_frame_decode(buf, len, &g), 0);
	osc_frame_fini(&g);

	// Truncated anywhere, or with bytes added.
	for (size_t n = 0; n < len; n++) {
		check_bad(buf, n, "truncated");
	}
	char *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	check_bad(longer, len + 1, "trailing byte");
	free(longer);

	struct {
		size_t      at;
		char        byte;
		const char *what;
	} cases[] = {
		{ 0, 'X', "magic" },
		{ 4, 2, "version" },
		{ 4, 0, "version 0" },
		{ 5, 0x7f, "unknown flags" },
		{ 5, 0, "payload flag off with a payload" },
		{ 6, 1, "reserved" },
		{ 11, 0x7f, "header length past the end" },
		{ 15, 0x7f, "payload length past the end" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, len);
		bad[cases[i].at] = cases[i].byte;
		check_bad(bad, len, cases[i].what);
	}
	check_bad(NULL, 0, "NULL");
	free(bad);
	free(buf);
}

// frame_with_header wraps raw header bytes in a valid prefix.
static char *frame_with_header(const osc_wbuf_t *h, size_t tail, size_t *len)
{
	*len    = OSC_WIRE_PREFIX + h->len + tail;
	char *p = calloc(1, *len);
	memcpy(p, "OSCR", 4);
	p[4] = OSC_WIRE_VERSION;
	p[8] = (char) (h->len & 0xff);
	p[9] = (char) ((h->len >> 8) & 0xff);
	memcpy(p + OSC_WIRE_PREFIX, h->data, h->len);
	return (p);
}

static void header_start(osc_wbuf_t *w, unsigned type)
{
	osc_wbuf_init(w);
	osc_write_array(w, 9);
	osc_write_uint(w, type);
	osc_write_uint(w, 1);
	osc_write_cstr(w, "src");
	osc_write_cstr(w, "t");
	osc_write_cstr(w, "m");
	osc_write_uint(w, 0);
}

// header_rejected frames the header in w with tail more bytes, checks
// that the decoder rejects it (check_bad, with what), and frees both.
static void header_rejected(osc_wbuf_t *w, size_t tail, const char *what)
{
	size_t len;
	char  *p = frame_with_header(w, tail, &len);
	check_bad(p, len, what);
	free(p);
	osc_wbuf_fini(w);
}

Test(wire, hostile_headers_are_rejected)
{
	osc_wbuf_t w;
	size_t     len;
	char      *p;

	// Billions of declared buffers.
	header_start(&w, OSC_MSG_SEND);
	osc_write_array(&w, UINT32_MAX);
	header_rejected(&w, 0, "4 billion buffers");

	// Buffer sizes that do not add up to the bytes present.
	header_start(&w, OSC_MSG_SEND);
	osc_write_array(&w, 2);
	osc_write_uint(&w, UINT64_MAX);
	osc_write_uint(&w, 2);
	osc_write_array(&w, 0);
	osc_write_nil(&w);
	header_rejected(&w, 2, "buffer sizes overflow");

	header_start(&w, OSC_MSG_SEND);
	osc_write_array(&w, 1);
	osc_write_uint(&w, 10);
	osc_write_array(&w, 0);
	osc_write_nil(&w);
	header_rejected(&w, 9, "buffer longer than the frame");

	// A huge chain, an unknown type, an error frame without an error.
	header_start(&w, OSC_MSG_SEND);
	osc_write_array(&w, 0);
	osc_write_array(&w, OSC_WIRE_MAX_CHAIN + 1);
	for (int i = 0; i <= OSC_WIRE_MAX_CHAIN; i++) {
		osc_write_uint(&w, 1);
	}
	osc_write_nil(&w);
	header_rejected(&w, 0, "chain too long");

	header_start(&w, 77);
	osc_write_array(&w, 0);
	osc_write_array(&w, 0);
	osc_write_nil(&w);
	header_rejected(&w, 0, "unknown type");

	header_start(&w, OSC_MSG_ERROR);
	osc_write_array(&w, 0);
	osc_write_array(&w, 0);
	osc_write_nil(&w);
	header_rejected(&w, 0, "error frame without an error");

	// A good header is accepted by the same helper (the checks above fail
	// for their own reason), and extra header items are skipped.
	header_start(&w, OSC_MSG_TELL);
	w.data[0] = (char) 0x9a; // an array of 10 items, not 9
	osc_write_array(&w, 0);
	osc_write_array(&w, 0);
	osc_write_nil(&w);
	osc_write_cstr(&w, "a later addition");
	p = frame_with_header(&w, 0, &len);
	osc_frame_t g;
	cr_assert_eq(osc_frame_decode(p, len, &g), 0);
	cr_assert_eq(g.type, OSC_MSG_TELL);
	osc_frame_fini(&g);
	free(p);
	osc_wbuf_fini(&w);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	return (xorshift64(&rng_state));
}

// Random bytes and mutations of a valid frame: never a crash, and
// whatever decodes also decodes its payload without trouble.
Test(wire, random_and_mutated_frames)
{
	size_t len;
	char  *valid    = valid_frame(&len);
	char  *buf      = malloc(len + 64);
	int    accepted = 0;
	for (int i = 0; i < 120000; i++) {
		size_t n;
		if (i % 3 == 0) {
			n = rng() % (len + 64);
			for (size_t j = 0; j < n; j++) {
				buf[j] = (char) rng();
			}
			if (n >= 6 && i % 2 == 0) {
				memcpy(buf, "OSCR\x01\x01", 6); // get past the magic
			}
		} else {
			memcpy(buf, valid, len);
			n         = len;
			int flips = 1 + (int) (rng() % 4);
			for (int k = 0; k < flips; k++) {
				buf[rng() % len] ^= (char) (1u << (rng() % 8));
			}
			if (i % 5 == 0) {
				n = rng() % (len + 1);
			}
		}
		osc_frame_t g;
		if (osc_frame_decode(buf, n, &g) == 0) {
			oscar_value_t *v;
			if (osc_frame_payload(&g, &v) == 0) {
				oscar_value_free(v);
			}
			osc_frame_fini(&g);
			accepted++;
		}
	}
	cr_log_info("%d of 120000 random or mutated frames decoded", accepted);
	free(buf);
	free(valid);
}
