// A hash set of pointers: see map.h.
#include <stdint.h>
#include <stdlib.h>

#include "actors/map.h"
#include "oscar/error.h"

static char map_tomb;
#define OSC_MAP_TOMB ((void *) &map_tomb)

int osc_map_reserve(osc_map_t *m)
{
	return (osc_map_reserve_n(m, 1));
}

int osc_map_reserve_n(osc_map_t *m, size_t n)
{
	if (n > SIZE_MAX / 8 - m->len - m->tombs) {
		return (OSCAR_ENOMEM);
	}
	if ((m->len + m->tombs + n) * 4 <= m->cap * 3) {
		return (0);
	}
	size_t cap = m->cap ? m->cap : 64;
	while ((m->len + n) * 2 > cap) {
		cap *= 2;
	}
	osc_slot_t *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (size_t i = 0; i < m->cap; i++) {
		osc_slot_t *s = &m->slots[i];
		if (s->val == NULL || s->val == OSC_MAP_TOMB) {
			continue;
		}
		size_t j = s->hash & (cap - 1);
		while (slots[j].val != NULL) {
			j = (j + 1) & (cap - 1);
		}
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap   = cap;
	m->tombs = 0;
	return (0);
}

void osc_map_insert(osc_map_t *m, uint64_t hash, void *val)
{
	size_t mask = m->cap - 1;
	size_t i    = hash & mask;
	while (m->slots[i].val != NULL && m->slots[i].val != OSC_MAP_TOMB) {
		i = (i + 1) & mask;
	}
	if (m->slots[i].val == OSC_MAP_TOMB) {
		m->tombs--;
	}
	m->slots[i].hash = hash;
	m->slots[i].val  = val;
	m->len++;
}

void osc_map_remove(osc_map_t *m, uint64_t hash, const void *val)
{
	size_t mask = m->cap - 1;
	for (size_t i = hash & mask; m->cap != 0 && m->slots[i].val != NULL; i = (i + 1) & mask) {
		if (m->slots[i].val == val) {
			m->slots[i].val = OSC_MAP_TOMB;
			m->len--;
			m->tombs++;
			return;
		}
	}
}

size_t osc_map_first(const osc_map_t *m, uint64_t hash)
{
	return (m->cap != 0 ? hash & (m->cap - 1) : 0);
}

void *osc_map_next(const osc_map_t *m, uint64_t hash, size_t *pos)
{
	if (m->cap == 0) {
		return (NULL);
	}
	size_t mask = m->cap - 1;
	for (size_t i = *pos;; i = (i + 1) & mask) {
		const osc_slot_t *s = &m->slots[i];
		if (s->val == NULL) {
			*pos = i;
			return (NULL);
		}
		if (s->val != OSC_MAP_TOMB && s->hash == hash) {
			*pos = (i + 1) & mask;
			return (s->val);
		}
	}
}

void *osc_map_at(const osc_map_t *m, size_t i)
{
	void *v = m->slots[i].val;
	return (v == OSC_MAP_TOMB ? NULL : v);
}

void osc_map_fini(osc_map_t *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = m->tombs = 0;
}

uint64_t osc_hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s != '\0'; s++) {
		h ^= (uint8_t) *s;
		h *= 1099511628211ull;
	}
	return (h);
}

uint64_t osc_hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (x);
}

int osc_reserve(void *itemsp, size_t *cap, size_t n, size_t elem, size_t first)
{
	if (n < *cap) {
		return (0);
	}
	size_t want = *cap != 0 ? *cap * 2 : first;
	if (want <= *cap || want > SIZE_MAX / elem) {
		return (OSCAR_ENOMEM);
	}
	void **items = itemsp;
	void  *v     = realloc(*items, want * elem);
	if (v == NULL) {
		return (OSCAR_ENOMEM);
	}
	*items = v;
	*cap   = want;
	return (0);
}
