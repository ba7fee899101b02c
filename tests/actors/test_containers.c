// The actor layer's containers, tested directly: the intrusive list
// (actors/list.h), the hash set and the growth of plain arrays
// (actors/map.c), and the inbox, the pool's multi-producer queue
// (actors/pool.c).
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "actors/list.h"
#include "actors/map.h"
#include "actors/pool_int.h"
#include "oscar/error.h"
#include "tests/common/proc.h"

// An element of the set: its key, and the hash the tests store it under.
typedef struct item {
	uint64_t key;
	uint64_t hash;
} item_t;

// find walks the elements stored under it->hash for one with it->key.
static item_t *find(const osc_map_t *m, uint64_t key, uint64_t hash)
{
	size_t  pos = osc_map_first(m, hash);
	item_t *e;
	while ((e = osc_map_next(m, hash, &pos)) != NULL) {
		if (e->key == key) {
			return (e);
		}
	}
	return (NULL);
}

static void put(osc_map_t *m, item_t *it)
{
	cr_assert_eq(osc_map_reserve(m), 0);
	osc_map_insert(m, it->hash, it);
}

// The load stays at or below three quarters of a power-of-two table, so
// that a probe always ends at an empty slot.
static void check_shape(const osc_map_t *m)
{
	cr_assert(m->cap == 0 || (m->cap & (m->cap - 1)) == 0, "cap %zu", m->cap);
	cr_assert_leq((m->len + m->tombs) * 4, m->cap * 3, "len %zu tombs %zu cap %zu", m->len,
	    m->tombs, m->cap);
}

Test(map, an_empty_set_finds_nothing)
{
	osc_map_t m = { 0 };
	size_t    pos;
	pos = osc_map_first(&m, 42);
	cr_assert_null(osc_map_next(&m, 42, &pos));
	osc_map_remove(&m, 42, &m); // harmless
	cr_assert_eq(m.len, 0);
	osc_map_fini(&m);
}

// Many elements, a quarter of them sharing one hash and the rest spread
// over a few dozen: every one is found, removed ones are not, and the
// slots vacated are used again.
Test(map, elements_are_found_removed_and_found_again)
{
	enum { N = 20000 };
	osc_map_t m     = { 0 };
	item_t   *items = calloc(N, sizeof(*items));
	cr_assert_not_null(items);
	for (uint64_t i = 0; i < N; i++) {
		items[i].key  = i;
		items[i].hash = i % 4 == 0 ? 7 : osc_hash_u64(i % 37);
		put(&m, &items[i]);
		check_shape(&m);
	}
	cr_assert_eq(m.len, N);
	for (uint64_t i = 0; i < N; i++) {
		cr_assert_eq(
		    find(&m, i, items[i].hash), &items[i], "key %llu", (unsigned long long) i);
	}
	for (uint64_t i = 0; i < N; i += 2) {
		osc_map_remove(&m, items[i].hash, &items[i]);
	}
	cr_assert_eq(m.len, N / 2);
	for (uint64_t i = 0; i < N; i++) {
		item_t *want = i % 2 == 0 ? NULL : &items[i];
		cr_assert_eq(find(&m, i, items[i].hash), want, "key %llu", (unsigned long long) i);
	}
	// Removing what is not there changes nothing.
	osc_map_remove(&m, items[0].hash, &items[0]);
	cr_assert_eq(m.len, N / 2);
	for (uint64_t i = 0; i < N; i += 2) {
		put(&m, &items[i]);
		check_shape(&m);
	}
	cr_assert_eq(m.len, N);
	for (uint64_t i = 0; i < N; i++) {
		cr_assert_eq(
		    find(&m, i, items[i].hash), &items[i], "key %llu", (unsigned long long) i);
	}
	// osc_map_at sees every element once, and no tombstone.
	size_t seen = 0;
	for (size_t i = 0; i < m.cap; i++) {
		item_t *e = osc_map_at(&m, i);
		if (e != NULL) {
			cr_assert_lt(e->key, N);
			seen++;
		}
	}
	cr_assert_eq(seen, N);
	osc_map_fini(&m);
	cr_assert_eq(m.cap, 0);
	cr_assert_null(m.slots);
	free(items);
}

// Inserting and removing the same few elements for ever leaves tombstones
// behind; they are swept out by a rehash, so the table does not grow.
Test(map, churn_does_not_grow_the_table)
{
	osc_map_t m = { 0 };
	item_t    items[8];
	for (uint64_t i = 0; i < 8; i++) {
		items[i].key  = i;
		items[i].hash = osc_hash_u64(i);
	}
	for (int round = 0; round < 100000; round++) {
		item_t *it = &items[round % 8];
		put(&m, it);
		check_shape(&m);
		cr_assert_eq(find(&m, it->key, it->hash), it);
		osc_map_remove(&m, it->hash, it);
		cr_assert_null(find(&m, it->key, it->hash));
	}
	cr_assert_eq(m.len, 0);
	cr_assert_leq(m.cap, 64, "cap %zu after churn", m.cap);
	osc_map_fini(&m);
}

Test(map, reserve_refuses_impossible_sizes)
{
	osc_map_t m = { 0 };
	cr_assert_eq(osc_map_reserve_n(&m, SIZE_MAX / 4), OSCAR_ENOMEM);
	cr_assert_eq(m.cap, 0);
	cr_assert_eq(osc_map_reserve_n(&m, 100), 0);
	cr_assert_geq(m.cap * 3, 100 * 4);
	size_t cap = m.cap;
	// Room that is there already costs nothing.
	cr_assert_eq(osc_map_reserve_n(&m, 10), 0);
	cr_assert_eq(m.cap, cap);
	osc_map_fini(&m);
}

// FNV-1a's published test vectors, and a mix that spreads neighbours.
Test(map, hashes)
{
	cr_assert_eq(osc_hash_str(""), UINT64_C(0xcbf29ce484222325));
	cr_assert_eq(osc_hash_str("a"), UINT64_C(0xaf63dc4c8601ec8c));
	cr_assert_eq(osc_hash_str("foobar"), UINT64_C(0x85944171f73967e8));
	// Consecutive keys land in different buckets of a small table.
	int used[64] = { 0 }, distinct = 0;
	for (uint64_t i = 0; i < 64; i++) {
		int b = (int) (osc_hash_u64(i) & 63);
		distinct += used[b] == 0;
		used[b] = 1;
	}
	cr_assert_geq(distinct, 32, "%d of 64 buckets", distinct);
}

Test(map, arrays_grow_by_doubling)
{
	int   *a   = NULL;
	size_t cap = 0;
	for (size_t n = 0; n < 1000; n++) {
		cr_assert_eq(osc_reserve(&a, &cap, n, sizeof(*a), 16), 0);
		cr_assert_gt(cap, n);
		a[n] = (int) n;
	}
	cr_assert_eq(cap, 1024); // 16, 32, ..., 1024
	for (size_t n = 0; n < 1000; n++) {
		cr_assert_eq(a[n], (int) n);
	}
	// An element size that cannot be doubled is refused, the array kept.
	size_t big_cap = SIZE_MAX / 64 + 1;
	void  *kept    = a;
	cr_assert_eq(osc_reserve(&kept, &big_cap, big_cap, 64, 16), OSCAR_ENOMEM);
	cr_assert_eq(kept, (void *) a);
	cr_assert_eq(big_cap, SIZE_MAX / 64 + 1);
	free(a);
}

// ---------------------------------------------------------------------------
// The intrusive list

// An element on two lists at once, through two nodes; the node of the
// first list is not the first member, so that OSC_LIST_ITEM has an offset
// to undo.
typedef struct elem {
	int        n;
	osc_node_t a;
	osc_node_t b;
} elem_t;

// expect asserts that list (through node a) holds exactly the n values of
// want, in order, walking it both ways.
static void expect(const osc_list_t *list, const int *want, int n)
{
	int i = 0;
	for (elem_t *e = OSC_LIST_FIRST(list, elem_t, a); e != NULL;
	     e         = OSC_LIST_NEXT(e, elem_t, a)) {
		cr_assert_lt(i, n, "more than %d elements", n);
		cr_assert_eq(e->n, want[i], "element %d is %d, not %d", i, e->n, want[i]);
		i++;
	}
	cr_assert_eq(i, n);
	for (elem_t *e = OSC_LIST_LAST(list, elem_t, a); e != NULL;
	     e         = OSC_LIST_PREV(e, elem_t, a)) {
		cr_assert_eq(e->n, want[--i]);
	}
	cr_assert_eq(i, 0);
	cr_assert_eq(osc_list_empty(list), n == 0);
}

Test(list, a_zeroed_list_is_empty)
{
	osc_list_t l = { 0 };
	cr_assert(osc_list_empty(&l));
	cr_assert_null(OSC_LIST_FIRST(&l, elem_t, a));
	cr_assert_null(OSC_LIST_LAST(&l, elem_t, a));
	cr_assert_null(osc_list_pop(&l));
}

Test(list, append_prepend_and_remove_anywhere)
{
	osc_list_t l = { 0 };
	elem_t     e[5];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 5; i++) {
		e[i].n = i;
	}
	osc_list_append(&l, &e[2].a);
	osc_list_append(&l, &e[3].a);
	osc_list_prepend(&l, &e[1].a);
	osc_list_append(&l, &e[4].a);
	osc_list_prepend(&l, &e[0].a);
	expect(&l, (int[]) { 0, 1, 2, 3, 4 }, 5);
	// The middle, the head, the tail: each leaves its neighbours joined
	// and its own node zero.
	osc_list_remove(&l, &e[2].a);
	cr_assert_null(e[2].a.next);
	cr_assert_null(e[2].a.prev);
	expect(&l, (int[]) { 0, 1, 3, 4 }, 4);
	osc_list_remove(&l, &e[0].a);
	expect(&l, (int[]) { 1, 3, 4 }, 3);
	osc_list_remove(&l, &e[4].a);
	expect(&l, (int[]) { 1, 3 }, 2);
	// A removed element may go back, at either end.
	osc_list_append(&l, &e[0].a);
	osc_list_prepend(&l, &e[4].a);
	expect(&l, (int[]) { 4, 1, 3, 0 }, 4);
	osc_list_remove(&l, &e[1].a);
	osc_list_remove(&l, &e[3].a);
	osc_list_remove(&l, &e[4].a);
	osc_list_remove(&l, &e[0].a);
	expect(&l, NULL, 0);
	cr_assert_null(l.head);
	cr_assert_null(l.tail);
}

Test(list, pop_takes_the_oldest_first)
{
	osc_list_t l = { 0 };
	elem_t     e[100];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 100; i++) {
		e[i].n = i;
		osc_list_append(&l, &e[i].a);
	}
	for (int i = 0; i < 100; i++) {
		osc_node_t *node = osc_list_pop(&l);
		cr_assert_not_null(node);
		elem_t *got = OSC_LIST_ITEM(node, elem_t, a);
		cr_assert_eq(got, &e[i]);
		cr_assert_null(got->a.next);
		cr_assert_null(got->a.prev);
	}
	cr_assert_null(osc_list_pop(&l));
	cr_assert(osc_list_empty(&l));
}

Test(list, one_element_on_two_lists)
{
	osc_list_t la = { 0 }, lb = { 0 };
	elem_t     e[3];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 3; i++) {
		e[i].n = i;
		osc_list_append(&la, &e[i].a);
		osc_list_prepend(&lb, &e[i].b);
	}
	// Leaving one list does not disturb the other.
	osc_list_remove(&lb, &e[1].b);
	expect(&la, (int[]) { 0, 1, 2 }, 3);
	int n = 0;
	for (elem_t *x = OSC_LIST_FIRST(&lb, elem_t, b); x != NULL;
	     x         = OSC_LIST_NEXT(x, elem_t, b)) {
		cr_assert_eq(x->n, n == 0 ? 2 : 0);
		n++;
	}
	cr_assert_eq(n, 2);
}

Test(list, splice_head_moves_a_run_in_order)
{
	osc_list_t l = { 0 }, run = { 0 };
	elem_t     e[6];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 6; i++) {
		e[i].n = i;
	}
	// An empty run changes nothing, also on an empty list.
	osc_list_splice_head(&l, &run);
	expect(&l, NULL, 0);
	// A run onto an empty list becomes the list.
	osc_list_append(&run, &e[3].a);
	osc_list_append(&run, &e[4].a);
	osc_list_splice_head(&l, &run);
	expect(&l, (int[]) { 3, 4 }, 2);
	expect(&run, NULL, 0);
	// A run onto a list goes before its head, in order (a batch's items
	// at the head of a mailbox).
	osc_list_append(&l, &e[5].a);
	osc_list_append(&run, &e[0].a);
	osc_list_append(&run, &e[1].a);
	osc_list_append(&run, &e[2].a);
	osc_list_splice_head(&l, &run);
	expect(&l, (int[]) { 0, 1, 2, 3, 4, 5 }, 6);
	expect(&run, NULL, 0);
	// The tail is still the tail: appending after the splice works.
	osc_list_remove(&l, &e[5].a);
	osc_list_append(&l, &e[5].a);
	expect(&l, (int[]) { 0, 1, 2, 3, 4, 5 }, 6);
}

// ---------------------------------------------------------------------------
// The inbox

typedef struct msg {
	osc_post_t post; // first: a popped post is the message
	int        producer;
	int        seq;
} msg_t;

Test(inbox, one_thread_gets_its_posts_in_order)
{
	osc_inbox_t q;
	msg_t       m[100];
	osc_inbox_init(&q);
	cr_assert_null(osc_inbox_pop(&q));
	// In rounds, so that the queue empties and the stub goes round again.
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 10; i++) {
			m[round * 10 + i].seq = round * 10 + i;
			osc_inbox_push(&q, &m[round * 10 + i].post);
		}
		for (int i = 0; i < 10; i++) {
			msg_t *got = (msg_t *) osc_inbox_pop(&q);
			cr_assert_not_null(got);
			cr_assert_eq(got->seq, round * 10 + i);
		}
		cr_assert_null(osc_inbox_pop(&q));
	}
}

enum { PRODUCERS = 4, PER_PRODUCER = 20000 };

typedef struct producer {
	osc_inbox_t *q;
	msg_t       *msgs;
	int          id;
} producer_t;

static void *produce(void *arg)
{
	producer_t *p = arg;
	for (int i = 0; i < PER_PRODUCER; i++) {
		p->msgs[i].producer = p->id;
		p->msgs[i].seq      = i;
		osc_inbox_push(p->q, &p->msgs[i].post);
		if (i % 1000 == 0) {
			sched_yield(); // let the others interleave
		}
	}
	return (NULL);
}

// Several threads post at once while one pops: every post arrives once,
// and each producer's posts arrive in the order it made them. (A pop may
// come back empty while a producer is half way through a push; the
// consumer then tries again, as the pool's loop does when woken.)
Test(inbox, many_producers_one_consumer)
{
	osc_inbox_t q;
	pthread_t   threads[PRODUCERS];
	producer_t  prod[PRODUCERS];
	int         next[PRODUCERS] = { 0 };
	osc_inbox_init(&q);
	for (int i = 0; i < PRODUCERS; i++) {
		prod[i].q    = &q;
		prod[i].id   = i;
		prod[i].msgs = calloc(PER_PRODUCER, sizeof(msg_t));
		cr_assert_not_null(prod[i].msgs);
		cr_assert_eq(pthread_create(&threads[i], NULL, produce, &prod[i]), 0);
	}
	int     got      = 0;
	int64_t deadline = now_ms() + 60000;
	while (got < PRODUCERS * PER_PRODUCER) {
		msg_t *m = (msg_t *) osc_inbox_pop(&q);
		if (m == NULL) {
			cr_assert_lt(now_ms(), deadline, "%d of %d posts arrived", got,
			    PRODUCERS * PER_PRODUCER);
			sched_yield();
			continue;
		}
		cr_assert_eq(m->seq, next[m->producer], "producer %d: post %d came as number %d",
		    m->producer, m->seq, next[m->producer]);
		next[m->producer]++;
		got++;
	}
	cr_assert_null(osc_inbox_pop(&q));
	for (int i = 0; i < PRODUCERS; i++) {
		cr_assert_eq(pthread_join(threads[i], NULL), 0);
		cr_assert_eq(next[i], PER_PRODUCER);
		free(prod[i].msgs);
	}
}
