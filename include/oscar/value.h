// Oscar-C dynamic values.
//
// oscar_value_t is the small dynamic type that carries call arguments and
// replies: nil, bool, int, uint, float, str, bin, array and map, mirroring
// MessagePack, and ref, a reference to a stored object by its key (a
// MessagePack ext type, see docs/values.md). Inside one pool a value is handed over as it is, with
// no encoding; between pools it is encoded as MessagePack by the codec.
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
	OSCAR_REF,
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
			// pool, read in place, or a large stored bin, whose
			// copies share its bytes): oscar_value_free releases
			// it. Leave it NULL in values built by hand.
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
		struct {
			char   *key;    // NUL-terminated (not counted in len)
			size_t  len;    // 1..OSCAR_REF_KEY_MAX bytes, no zero byte
			int64_t output; // OSCAR_REF_WHOLE, or 0..OSCAR_REF_OUTPUT_MAX
		} ref;
	} as;
};

struct oscar_kv {
	oscar_value_t key;
	oscar_value_t val;
};

// Nesting limit, enforced by the encoder (OSCAR_EINVAL) and the decoder
// (OSCAR_EPROTO); constructors do not track depth.
#define OSCAR_VALUE_MAX_DEPTH 64

// Object references (OSCAR_REF). A reference names a stored object by its
// key. A task with several outputs stores output i as its own object; a
// reference to it keeps the task's key and the output index apart, and
// names the object "key#i" (oscar_value_ref_name). A reference to a whole
// object has output OSCAR_REF_WHOLE.
#define OSCAR_REF_KEY_MAX    1024
#define OSCAR_REF_WHOLE      ((int64_t) -1)
#define OSCAR_REF_OUTPUT_MAX ((int64_t) 0xfffffffe)

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

// oscar_value_new_ref makes a reference to the object named key (a
// NUL-terminated string of 1..OSCAR_REF_KEY_MAX bytes). Returns NULL when
// key is NULL, empty or too long, or when out of memory.
oscar_value_t *oscar_value_new_ref(const char *key);
// oscar_value_new_ref_output makes a reference to output `output` (0 ..
// OSCAR_REF_OUTPUT_MAX, or OSCAR_REF_WHOLE) of the task whose key is key.
// NULL as for oscar_value_new_ref, or when output is out of range.
oscar_value_t *oscar_value_new_ref_output(const char *key, int64_t output);

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
// oscar_value_get_ref gives a reference's borrowed key (NUL-terminated)
// and, when not NULL, its length and output index (OSCAR_REF_WHOLE for a
// whole object). OSCAR_EBADARGS when v is not a reference.
int oscar_value_get_ref(const oscar_value_t *v, const char **key, size_t *len, int64_t *output);

// oscar_value_ref_name writes the name of the object a reference points to
// into buf[0..size): its key, or "key#i" for output i. Returns 0,
// OSCAR_EBADARGS when v is not a reference, or OSCAR_ETOOLARGE when the
// name and its terminator do not fit (buf then holds nothing usable).
// OSCAR_REF_NAME_MAX bytes always fit.
#define OSCAR_REF_NAME_MAX (OSCAR_REF_KEY_MAX + 12)
int oscar_value_ref_name(const oscar_value_t *v, char *buf, size_t size);

// oscar_ref_cb is called with each reference found by
// oscar_value_walk_refs; ref is borrowed for the call. A non-zero return
// stops the walk, which then returns that code.
typedef int (*oscar_ref_cb)(void *arg, const oscar_value_t *ref);

// oscar_value_walk_refs calls cb for every reference in v, depth first in
// order (v itself, array items, map keys and values), at most
// OSCAR_VALUE_MAX_DEPTH containers deep (deeper: OSCAR_EINVAL, before any
// call). Returns 0, OSCAR_EINVAL, or what cb returned.
int oscar_value_walk_refs(const oscar_value_t *v, oscar_ref_cb cb, void *arg);

// oscar_value_list_refs sets *out to a new array (the caller's) holding a
// copy of every reference in v, in the order oscar_value_walk_refs finds
// them, duplicates included. Returns 0, OSCAR_EINVAL or OSCAR_ENOMEM
// (then *out is NULL).
int oscar_value_list_refs(const oscar_value_t *v, oscar_value_t **out);

// oscar_ref_replace_cb gives the value that replaces the reference ref:
// it sets *out to a new heap value, which oscar_value_replace_refs then
// owns in every case, or leaves *out NULL to keep the reference. A
// non-zero return fails the whole replacement.
typedef int (*oscar_ref_replace_cb)(void *arg, const oscar_value_t *ref, oscar_value_t **out);

// oscar_value_replace_refs replaces the references in v (v itself
// included, and map keys) by what cb gives, all or nothing: cb is called
// for every reference first, in walk order, and only when every call
// succeeded are the references freed and the new values moved into their
// places. On failure (what cb returned, OSCAR_EINVAL for nesting deeper
// than OSCAR_VALUE_MAX_DEPTH, or OSCAR_ENOMEM) v is unchanged and every
// value cb gave is freed.
int oscar_value_replace_refs(oscar_value_t *v, oscar_ref_replace_cb cb, void *arg);

// oscar_type_name returns "nil", "bool", "int", ... for messages.
const char *oscar_type_name(oscar_type_t t);

// oscar_value_encode encodes v as MessagePack into a new buffer that the
// caller releases with free(). Returns 0, OSCAR_EINVAL or OSCAR_ENOMEM.
int oscar_value_encode(const oscar_value_t *v, void **buf, size_t *len);

// oscar_value_decode decodes exactly one MessagePack value that fills
// buf[0..len). Untrusted input is fine: truncated, trailing, ill-typed
// (ext types other than references, malformed references), too deep or oversized input gives
// OSCAR_EPROTO and *out is left NULL. Returns 0, OSCAR_EPROTO or OSCAR_ENOMEM.
int oscar_value_decode(const void *buf, size_t len, oscar_value_t **out);

// Canonical encoding and hash, for keys derived from values (pure tasks).
// The canonical encoding is the MessagePack encoding with every map's
// entries sorted by the canonical encoding of their keys (bytewise, then
// by length; equal keys by their values' encodings), every integer in its
// shortest form whatever its tag, every float as float64 with -0.0 written
// as 0.0 and every NaN as the one quiet NaN 0x7ff8000000000000, every bin
// inline (never out of band), references as their ext type. Values that
// oscar_value_equal calls equal, up to the order of map entries, encode
// to the same bytes. The hash is the unkeyed BLAKE2b of those bytes,
// OSCAR_VALUE_HASH_SIZE (16) bytes long; see docs/values.md.
#define OSCAR_VALUE_HASH_SIZE 16
// OSCAR_VALUE_HASH_HEX is the size of the hash's hex rendering with its
// terminator.
#define OSCAR_VALUE_HASH_HEX (2 * OSCAR_VALUE_HASH_SIZE + 1)

// oscar_value_canonical_encode encodes v canonically into a new buffer
// that the caller releases with free(). Returns 0, OSCAR_EINVAL (as for
// oscar_value_encode) or OSCAR_ENOMEM.
int oscar_value_canonical_encode(const oscar_value_t *v, void **buf, size_t *len);

// oscar_value_hash hashes the canonical encoding of v into
// out[0..OSCAR_VALUE_HASH_SIZE). Returns 0, OSCAR_EINVAL or OSCAR_ENOMEM.
int oscar_value_hash(const oscar_value_t *v, uint8_t out[OSCAR_VALUE_HASH_SIZE]);

// oscar_value_hash_hex writes the hash of v as lower-case hex into
// out[0..OSCAR_VALUE_HASH_HEX). Returns as oscar_value_hash.
int oscar_value_hash_hex(const oscar_value_t *v, char out[OSCAR_VALUE_HASH_HEX]);

// oscar_value_format writes a short, JSON-like rendering of v into
// buf[0..size) (always terminated when size > 0) and returns the length it
// wanted, like snprintf. Meant for logs and examples.
int oscar_value_format(const oscar_value_t *v, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_VALUE_H
