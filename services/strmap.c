// A chained hash map from strings to pointers (strmap.h), FNV-1a hashed,
// doubling its buckets when it holds as many items as buckets.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscar/error.h"
#include "services/strmap.h"

static size_t osc_strmap_hash(const char *key)
{
	uint64_t h = UINT64_C(1469598103934665603);
	for (const unsigned char *p = (const unsigned char *) key; *p != '\0'; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	return ((size_t) h);
}

void *osc_strmap_get(const osc_strmap_t *m, const char *key)
{
	if (m->n_buckets == 0) {
		return (NULL);
	}
	osc_strmap_item_t *it = m->buckets[osc_strmap_hash(key) & (m->n_buckets - 1)];
	while (it != NULL && strcmp(it->key, key) != 0) {
		it = it->next;
	}
	return (it != NULL ? it->value : NULL);
}

static int osc_strmap_grow(osc_strmap_t *m)
{
	size_t              n = m->n_buckets == 0 ? 16 : m->n_buckets * 2;
	osc_strmap_item_t **b = calloc(n, sizeof(*b));
	if (b == NULL) {
		return (OSCAR_ENOMEM);
	}
	for (size_t i = 0; i < m->n_buckets; i++) {
		osc_strmap_item_t *it = m->buckets[i];
		while (it != NULL) {
			osc_strmap_item_t *next = it->next;
			size_t             at   = osc_strmap_hash(it->key) & (n - 1);
			it->next                = b[at];
			b[at]                   = it;
			it                      = next;
		}
	}
	free(m->buckets);
	m->buckets   = b;
	m->n_buckets = n;
	return (0);
}

int osc_strmap_put(osc_strmap_t *m, const char *key, void *value, void **old)
{
	if (old != NULL) {
		*old = NULL;
	}
	if (m->n_buckets > 0) {
		osc_strmap_item_t *it = m->buckets[osc_strmap_hash(key) & (m->n_buckets - 1)];
		while (it != NULL && strcmp(it->key, key) != 0) {
			it = it->next;
		}
		if (it != NULL) {
			if (old != NULL) {
				*old = it->value;
			}
			it->value = value;
			return (0);
		}
	}
	if (m->len >= m->n_buckets && osc_strmap_grow(m) != 0 && m->n_buckets == 0) {
		return (OSCAR_ENOMEM); // a map that cannot grow still takes items
	}
	size_t             len = strlen(key);
	osc_strmap_item_t *it  = malloc(sizeof(*it) + len + 1);
	if (it == NULL) {
		return (OSCAR_ENOMEM);
	}
	memcpy(it->key, key, len + 1);
	it->value      = value;
	size_t at      = osc_strmap_hash(key) & (m->n_buckets - 1);
	it->next       = m->buckets[at];
	m->buckets[at] = it;
	m->len++;
	return (0);
}

void *osc_strmap_del(osc_strmap_t *m, const char *key)
{
	if (m->n_buckets == 0) {
		return (NULL);
	}
	osc_strmap_item_t **at = &m->buckets[osc_strmap_hash(key) & (m->n_buckets - 1)];
	while (*at != NULL && strcmp((*at)->key, key) != 0) {
		at = &(*at)->next;
	}
	if (*at == NULL) {
		return (NULL);
	}
	osc_strmap_item_t *it    = *at;
	void              *value = it->value;
	*at                      = it->next;
	free(it);
	m->len--;
	return (value);
}

const osc_strmap_item_t *osc_strmap_next(const osc_strmap_t *m, const osc_strmap_item_t *at)
{
	size_t i = 0;
	if (at != NULL) {
		if (at->next != NULL) {
			return (at->next);
		}
		i = (osc_strmap_hash(at->key) & (m->n_buckets - 1)) + 1;
	}
	for (; i < m->n_buckets; i++) {
		if (m->buckets[i] != NULL) {
			return (m->buckets[i]);
		}
	}
	return (NULL);
}

void osc_strmap_fini(osc_strmap_t *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		osc_strmap_item_t *it = m->buckets[i];
		while (it != NULL) {
			osc_strmap_item_t *next = it->next;
			if (free_value != NULL) {
				free_value(it->value);
			}
			free(it);
			it = next;
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}
