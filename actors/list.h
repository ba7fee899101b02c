// The intrusive list of the actor layer (internal).
//
// A doubly linked list whose nodes live inside the elements, as in the BSD
// TAILQ macros and NNG's nni_list: an element on a list costs no
// allocation, and removing one is O(1) given the element. An all-zero list
// is empty and an all-zero node is on no list, so structures allocated
// with calloc need no set-up. An element may sit on several lists at once,
// one node per list.
//
// The list holds nodes; OSC_LIST_ITEM turns a node back into its element:
//
//     typedef struct job { int n; osc_node_t link; } job_t;
//     osc_list_t jobs = { 0 };
//     osc_list_append(&jobs, &j->link);
//     for (job_t *j = OSC_LIST_FIRST(&jobs, job_t, link); j != NULL;
//          j = OSC_LIST_NEXT(j, job_t, link)) { ... }
//
// None of it is thread-safe: each list belongs to one thread (a pool's
// loop), like the structures holding it.
#ifndef OSC_LIST_H
#define OSC_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct osc_node {
	struct osc_node *next;
	struct osc_node *prev;
} osc_node_t;

typedef struct osc_list {
	osc_node_t *head; // NULL when empty
	osc_node_t *tail;
} osc_list_t;

// OSC_CONTAINER_OF turns a pointer to member of type into a pointer to the
// type.
#define OSC_CONTAINER_OF(ptr, type, member) ((type *) ((char *) (ptr) -offsetof(type, member)))

// OSC_LIST_ITEM is the element of type whose node member is node, or NULL
// for a NULL node.
#define OSC_LIST_ITEM(node, type, member) \
	((node) != NULL ? OSC_CONTAINER_OF((node), type, member) : (type *) NULL)

// OSC_LIST_FIRST and OSC_LIST_LAST are the first and the last element of
// list, or NULL; OSC_LIST_NEXT and OSC_LIST_PREV the neighbours of the
// element item, which must be on the list whose node is member.
#define OSC_LIST_FIRST(list, type, member) OSC_LIST_ITEM((list)->head, type, member)
#define OSC_LIST_LAST(list, type, member)  OSC_LIST_ITEM((list)->tail, type, member)
#define OSC_LIST_NEXT(item, type, member)  OSC_LIST_ITEM((item)->member.next, type, member)
#define OSC_LIST_PREV(item, type, member)  OSC_LIST_ITEM((item)->member.prev, type, member)

// osc_list_empty tells whether list has no element.
static inline bool osc_list_empty(const osc_list_t *list)
{
	return (list->head == NULL);
}

// osc_list_append puts node, which is on no list, at the end of list.
static inline void osc_list_append(osc_list_t *list, osc_node_t *node)
{
	node->next = NULL;
	node->prev = list->tail;
	if (list->tail != NULL) {
		list->tail->next = node;
	} else {
		list->head = node;
	}
	list->tail = node;
}

// osc_list_prepend puts node, which is on no list, at the head of list.
static inline void osc_list_prepend(osc_list_t *list, osc_node_t *node)
{
	node->prev = NULL;
	node->next = list->head;
	if (list->head != NULL) {
		list->head->prev = node;
	} else {
		list->tail = node;
	}
	list->head = node;
}

// osc_list_remove takes node, which is on list, off it; node is then on
// no list (zero).
static inline void osc_list_remove(osc_list_t *list, osc_node_t *node)
{
	if (node->prev != NULL) {
		node->prev->next = node->next;
	} else {
		list->head = node->next;
	}
	if (node->next != NULL) {
		node->next->prev = node->prev;
	} else {
		list->tail = node->prev;
	}
	node->next = NULL;
	node->prev = NULL;
}

// osc_list_pop takes the first node off list and returns it, or NULL when
// list is empty.
static inline osc_node_t *osc_list_pop(osc_list_t *list)
{
	osc_node_t *node = list->head;
	if (node != NULL) {
		osc_list_remove(list, node);
	}
	return (node);
}

// osc_list_splice_head moves every node of from, in order, to the head of
// list; from is then empty.
static inline void osc_list_splice_head(osc_list_t *list, osc_list_t *from)
{
	if (from->head == NULL) {
		return;
	}
	from->tail->next = list->head;
	if (list->head != NULL) {
		list->head->prev = from->tail;
	} else {
		list->tail = from->tail;
	}
	list->head = from->head;
	from->head = NULL;
	from->tail = NULL;
}

#endif // OSC_LIST_H
