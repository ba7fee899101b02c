#include "tests/common/hostile.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tests/common/raw.h"

void hostile_flood(const char *address, int frames, int per_message, const hostile_ops_t *ops)
{
	raw_conn_t raw;
	raw_dial(&raw, address);
	osc_wbuf_t w;
	osc_wbuf_init(&w);
	unsigned types_seen = 0;
	for (int i = 0; i < frames; i++) {
		osc_frame_t f;
		memset(&f, 0, sizeof(f));
		f.type       = (osc_msg_type_t) (1 + ops->next() % 11);
		f.id         = ops->next() % 4 == 0   ? 0
		               : ops->next() % 4 == 0 ? ops->next()
		                                      : ops->next() % 64;
		f.timeout_ms = ops->next() % 3 == 0 ? 0 : ops->next() % 100000;
		ops->shape(&f, i, ops->arg);
		types_seen |= 1u << f.type;
		uint64_t chain[3] = { ops->next(), ops->next(), ops->next() };
		f.chain           = chain;
		f.chain_len       = (uint32_t) (ops->next() % 4);
		if (f.type == OSC_MSG_ERROR) {
			f.has_error  = true;
			f.error.code = 1 + (int) (ops->next() % 40); // codes are positive
			f.error.pid  = (int64_t) ops->next();
			snprintf(f.error.message, sizeof(f.error.message), "forged %d", i);
			snprintf(f.error.address, sizeof(f.error.address), "%s", f.source);
		}
		oscar_value_t *payload = ops->next() % 4 == 0 ? NULL : ops->value(0);
		if (f.type == OSC_MSG_BATCH && ops->next() % 2 == 0) {
			oscar_value_free(payload);
			payload = oscar_value_new_array(3);
			for (int k = 0; k < 3; k++) {
				oscar_value_array_push(payload, ops->value(1));
			}
		}
		cr_assert_eq(osc_frame_encode(&w, &f, payload, NULL, 0), 0);
		oscar_value_free(payload);
		if ((i + 1) % per_message == 0 || i + 1 == frames) {
			raw_send(&raw, w.data, w.len);
			w.len = 0;
		}
	}
	osc_wbuf_fini(&w);
	raw_close(&raw);
	cr_assert_eq(types_seen, 0xffeu, "every message type");
}
