// Oscar-C dynamic values.
//
// oscar_value_t is the small dynamic type that carries call arguments and
// replies: nil, bool, int, uint, float, str, bin, array and map, mirroring
// MessagePack. Inside one pool a value is handed over as it is, with no
// encoding; between pools it is encoded as MessagePack by the codec.
//
// Ownership: a value returned by a oscar_value_new_* constructor belongs to
// the caller until it is passed to a function documented as consuming it
// (container appends, calls, replies). oscar_value_free releases a value and
// everything inside it. Accessors return borrowed pointers that stay valid
// until the container is freed or changed (a push or set may move its
// items; replacing a map entry frees the old value).
//
// Integers: MessagePack does not tell signed from unsigned, so the decoder
// gives OSCAR_INT for every integer that fits in int64_t and OSCAR_UINT only
// above INT64_MAX. oscar_value_get_int and oscar_value_get_uint accept either
// type when the number fits; oscar_value_equal compares numbers, not tags.
#ifndef OSCAR_VALUE_H
#define OSCAR_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oscar_type {
	OSCAR_NIL = 0,
	OSCAR_BOOL,
	OSCAR_INT,
	OSCAR_UINT,
	OSCAR_FLOAT,
	OSCAR_STR,
	OSCAR_BIN,
	OSCAR_ARRAY,
	OSCAR_MAP,
} oscar_type_t;

typedef struct oscar_value oscar_value_t;
typedef struct oscar_kv    oscar_kv_t;

// oscar_value is public so that readers can switch on type and read fields
// directly; build and modify values with the functions below so that the
// length and capacity fields stay consistent.
struct oscar_value {
	oscar_type_t type;
	union {
		bool     b;
		int64_t  i;
		uint64_t u;
		double   f;
		struct {
			char  *ptr; // NUL-terminated for OSCAR_STR (not counted in len)
			size_t len;
			// Internal, NULL unless ptr points into memory the
			// runtime shares (a large bin received from another
			// pool, read in place): oscar_value_free releases it.
			// Leave it NULL in values built by hand.
			void *owner;
		} str, bin;
		struct {
			oscar_value_t *items; // items[0..len)
			size_t         len;
			size_t         cap;
		} arr;
		struct {
			oscar_kv_t *kv; // kv[0..len), in insertion order
			size_t      len;
			size_t      cap;
		} map;
	} as;
};

struct oscar_kv {
	oscar_value_t key;
	oscar_value_t val;
};

// Nesting limit, enforced by the encoder (OSCAR_EINVAL) and the decoder
// (OSCAR_EPROTO); constructors do not track depth.
#define OSCAR_VALUE_MAX_DEPTH 64

// Constructors. Each returns a new heap value, or NULL when out of memory.
oscar_value_t *oscar_value_new_nil(void);
oscar_value_t *oscar_value_new_bool(bool b);
oscar_value_t *oscar_value_new_int(int64_t i);
oscar_value_t *oscar_value_new_uint(uint64_t u);
oscar_value_t *oscar_value_new_float(double f);
// oscar_value_new_str copies the NUL-terminated string s.
oscar_value_t *oscar_value_new_str(const char *s);
// oscar_value_new_strn copies n bytes of s (which need not be terminated).
oscar_value_t *oscar_value_new_strn(const char *s, size_t n);
// oscar_value_new_bin copies n bytes of data (data may be NULL when n is 0).
oscar_value_t *oscar_value_new_bin(const void *data, size_t n);
// oscar_value_new_array makes an empty array with room for cap items.
oscar_value_t *oscar_value_new_array(size_t cap);
// oscar_value_new_map makes an empty map with room for cap entries.
oscar_value_t *oscar_value_new_map(size_t cap);

// oscar_value_free releases v and everything it contains. NULL is allowed.
void oscar_value_free(oscar_value_t *v);

// oscar_value_copy returns a deep copy of v, or NULL when out of memory.
oscar_value_t *oscar_value_copy(const oscar_value_t *v);

// oscar_value_equal compares two values deeply. Numbers compare by value
// across OSCAR_INT and OSCAR_UINT; maps compare entry by entry in order.
bool oscar_value_equal(const oscar_value_t *a, const oscar_value_t *b);

// oscar_value_array_push appends item to arr and consumes item in every
// case (on failure it is freed), except when item is arr itself
// (OSCAR_EINVAL, nothing freed). Returns OSCAR_EINVAL when arr is not an
// array or item is NULL (an earlier constructor ran out of memory), or
// OSCAR_ENOMEM.
int oscar_value_array_push(oscar_value_t *arr, oscar_value_t *item);

// oscar_value_map_set sets key to val in map, replacing an existing entry
// with the same string key. val is consumed in every case, except when it
// is map itself (OSCAR_EINVAL, nothing freed). Returns
// OSCAR_EINVAL when map is not a map or val is NULL, or OSCAR_ENOMEM.
int oscar_value_map_set(oscar_value_t *map, const char *key, oscar_value_t *val);

// oscar_value_map_get returns the value for a string key, or NULL.
const oscar_value_t *oscar_value_map_get(const oscar_value_t *map, const char *key);

// oscar_value_at returns item i of an array, or NULL when v is not an array
// or i is out of range.
const oscar_value_t *oscar_value_at(const oscar_value_t *v, size_t i);

// oscar_value_len returns the number of items (array), entries (map) or
// bytes (str, bin); 0 for scalars.
size_t oscar_value_len(const oscar_value_t *v);

// Typed getters: 0 on success, OSCAR_EBADARGS when v is NULL, of another
// type, or out of range for the target type.
int oscar_value_get_bool(const oscar_value_t *v, bool *out);
int oscar_value_get_int(const oscar_value_t *v, int64_t *out);
int oscar_value_get_uint(const oscar_value_t *v, uint64_t *out);
// oscar_value_get_float also accepts integers.
int oscar_value_get_float(const oscar_value_t *v, double *out);
// oscar_value_get_str gives a borrowed NUL-terminated string.
int oscar_value_get_str(const oscar_value_t *v, const char **out, size_t *len);
int oscar_value_get_bin(const oscar_value_t *v, const void **out, size_t *len);

// Tolerant readers, for fields a peer may leave out or send with another
// type (a newer or older node, say): each gives def (NULL for strings) when
// v is not a map (an array), the field is missing, or it does not convert.
int64_t     oscar_value_map_int(const oscar_value_t *map, const char *key, int64_t def);
uint64_t    oscar_value_map_uint(const oscar_value_t *map, const char *key, uint64_t def);
double      oscar_value_map_float(const oscar_value_t *map, const char *key, double def);
bool        oscar_value_map_bool(const oscar_value_t *map, const char *key, bool def);
const char *oscar_value_map_str(const oscar_value_t *map, const char *key);
int64_t     oscar_value_at_int(const oscar_value_t *array, size_t i, int64_t def);
uint64_t    oscar_value_at_uint(const oscar_value_t *array, size_t i, uint64_t def);
const char *oscar_value_at_str(const oscar_value_t *array, size_t i);

// oscar_type_name returns "nil", "bool", "int", ... for messages.
const char *oscar_type_name(oscar_type_t t);

// oscar_value_encode encodes v as MessagePack into a new buffer that the
// caller releases with free(). Returns 0, OSCAR_EINVAL or OSCAR_ENOMEM.
int oscar_value_encode(const oscar_value_t *v, void **buf, size_t *len);

// oscar_value_decode decodes exactly one MessagePack value that fills
// buf[0..len). Untrusted input is fine: truncated, trailing, ill-typed
// (ext types), too deep or oversized input gives OSCAR_EPROTO and *out is
// left NULL. Returns 0, OSCAR_EPROTO or OSCAR_ENOMEM.
int oscar_value_decode(const void *buf, size_t len, oscar_value_t **out);

// oscar_value_format writes a short, JSON-like rendering of v into
// buf[0..size) (always terminated when size > 0) and returns the length it
// wanted, like snprintf. Meant for logs and examples.
int oscar_value_format(const oscar_value_t *v, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_VALUE_H
