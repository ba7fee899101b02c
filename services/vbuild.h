// Values built in place, for the services' per-task messages.
//
// Containers hold their children inline (actors/value.c): pushing a value
// made with an oscar_value_new_* constructor moves it into the block and
// frees its shell, so every item costs a malloc and a free of the shell on
// top of its bytes. These helpers write the item straight into the next
// slot of an array (or the next entry of a map) instead: a number, a bool
// or nil costs nothing, a string only its bytes. They keep len <= cap and
// every counted slot valid, as the value module requires of code that
// builds values in place, and allocate from malloc, so oscar_value_free
// releases what they build.
//
// Each returns 0, OSCAR_EINVAL for a container of the wrong type, or
// OSCAR_ENOMEM, leaving the container as it was. A map entry's key is not
// checked against the keys already there: the caller adds distinct keys.
#ifndef OSC_VBUILD_H
#define OSC_VBUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/error.h"
#include "oscar/value.h"

// osc_vb_grow makes room for one more element of elem bytes in a block of
// *cap elements, len used; 0 or OSCAR_ENOMEM.
static inline int osc_vb_grow(void **items, size_t *cap, size_t len, size_t elem)
{
	if (len < *cap) {
		return (0);
	}
	size_t ncap = *cap < 4 ? 4 : *cap * 2;
	if (ncap > SIZE_MAX / elem) {
		return (OSCAR_ENOMEM);
	}
	void *p = realloc(*items, ncap * elem);
	if (p == NULL) {
		return (OSCAR_ENOMEM);
	}
	*items = p;
	*cap   = ncap;
	return (0);
}

// osc_vb_slot gives the next slot of array arr, counted and nil; NULL for
// a non-array or out of memory.
static inline oscar_value_t *osc_vb_slot(oscar_value_t *arr)
{
	if (arr == NULL || arr->type != OSCAR_ARRAY ||
	    osc_vb_grow((void **) &arr->as.arr.items, &arr->as.arr.cap, arr->as.arr.len,
	        sizeof(oscar_value_t)) != 0) {
		return (NULL);
	}
	oscar_value_t *v = &arr->as.arr.items[arr->as.arr.len++];
	memset(v, 0, sizeof(*v));
	v->type = OSCAR_NIL;
	return (v);
}

// osc_vb_set_strn makes the nil slot v a string of s[0..n).
static inline int osc_vb_set_strn(oscar_value_t *v, const char *s, size_t n)
{
	char *p = n < SIZE_MAX ? malloc(n + 1) : NULL;
	if (p == NULL) {
		return (OSCAR_ENOMEM);
	}
	memcpy(p, s, n);
	p[n]            = '\0';
	v->type         = OSCAR_STR;
	v->as.str.ptr   = p;
	v->as.str.len   = n;
	v->as.str.owner = NULL;
	return (0);
}

static inline int osc_vb_push_strn(oscar_value_t *arr, const char *s, size_t n)
{
	oscar_value_t *v = osc_vb_slot(arr);
	if (v == NULL) {
		return (arr == NULL || arr->type != OSCAR_ARRAY ? OSCAR_EINVAL : OSCAR_ENOMEM);
	}
	if (osc_vb_set_strn(v, s, n) != 0) {
		arr->as.arr.len--;
		return (OSCAR_ENOMEM);
	}
	return (0);
}

static inline int osc_vb_push_str(oscar_value_t *arr, const char *s)
{
	return (osc_vb_push_strn(arr, s, strlen(s)));
}

static inline int osc_vb_push_uint(oscar_value_t *arr, uint64_t u)
{
	oscar_value_t *v = osc_vb_slot(arr);
	if (v == NULL) {
		return (arr == NULL || arr->type != OSCAR_ARRAY ? OSCAR_EINVAL : OSCAR_ENOMEM);
	}
	v->type = OSCAR_UINT;
	v->as.u = u;
	return (0);
}

static inline int osc_vb_push_int(oscar_value_t *arr, int64_t i)
{
	oscar_value_t *v = osc_vb_slot(arr);
	if (v == NULL) {
		return (arr == NULL || arr->type != OSCAR_ARRAY ? OSCAR_EINVAL : OSCAR_ENOMEM);
	}
	v->type = OSCAR_INT;
	v->as.i = i;
	return (0);
}

static inline int osc_vb_push_bool(oscar_value_t *arr, bool b)
{
	oscar_value_t *v = osc_vb_slot(arr);
	if (v == NULL) {
		return (arr == NULL || arr->type != OSCAR_ARRAY ? OSCAR_EINVAL : OSCAR_ENOMEM);
	}
	v->type = OSCAR_BOOL;
	v->as.b = b;
	return (0);
}

static inline int osc_vb_push_nil(oscar_value_t *arr)
{
	if (osc_vb_slot(arr) == NULL) {
		return (arr == NULL || arr->type != OSCAR_ARRAY ? OSCAR_EINVAL : OSCAR_ENOMEM);
	}
	return (0);
}

// osc_vb_push_array pushes an empty array with room for cap items and
// gives it (NULL when out of memory or arr is not an array).
static inline oscar_value_t *osc_vb_push_array(oscar_value_t *arr, size_t cap)
{
	oscar_value_t *items = NULL;
	if (arr == NULL || arr->type != OSCAR_ARRAY) {
		return (NULL);
	}
	if (cap > 0 && (items = calloc(cap, sizeof(oscar_value_t))) == NULL) {
		return (NULL);
	}
	oscar_value_t *v = osc_vb_slot(arr);
	if (v == NULL) {
		free(items);
		return (NULL);
	}
	v->type         = OSCAR_ARRAY;
	v->as.arr.items = items;
	v->as.arr.cap   = cap;
	v->as.arr.len   = 0;
	return (v);
}

// osc_vb_push_move moves *item (an inline slot, or a value whose shell the
// caller frees) into arr, leaving *item nil.
static inline int osc_vb_push_move(oscar_value_t *arr, oscar_value_t *item)
{
	oscar_value_t *v = osc_vb_slot(arr);
	if (v == NULL) {
		return (arr == NULL || arr->type != OSCAR_ARRAY ? OSCAR_EINVAL : OSCAR_ENOMEM);
	}
	*v = *item;
	memset(item, 0, sizeof(*item));
	item->type = OSCAR_NIL;
	return (0);
}

// osc_vb_pop takes the last item out of array arr and frees it (a
// half-built item, after a failure). Should the shell it needs not be
// had, the item stays, made nil.
static inline void osc_vb_pop(oscar_value_t *arr)
{
	if (arr == NULL || arr->type != OSCAR_ARRAY || arr->as.arr.len == 0) {
		return;
	}
	oscar_value_t *last = &arr->as.arr.items[arr->as.arr.len - 1];
	oscar_value_t *h    = malloc(sizeof(*h));
	if (h != NULL) {
		*h = *last;
		arr->as.arr.len--;
		oscar_value_free(h);
	}
}

// osc_vb_entry adds key to map with a nil value and gives that value's
// slot; NULL for a non-map or out of memory.
static inline oscar_value_t *osc_vb_entry(oscar_value_t *map, const char *key)
{
	if (map == NULL || map->type != OSCAR_MAP ||
	    osc_vb_grow((void **) &map->as.map.kv, &map->as.map.cap, map->as.map.len,
	        sizeof(oscar_kv_t)) != 0) {
		return (NULL);
	}
	oscar_kv_t *kv = &map->as.map.kv[map->as.map.len];
	memset(kv, 0, sizeof(*kv));
	kv->val.type = OSCAR_NIL;
	if (osc_vb_set_strn(&kv->key, key, strlen(key)) != 0) {
		return (NULL);
	}
	map->as.map.len++;
	return (&kv->val);
}

#endif // OSC_VBUILD_H
