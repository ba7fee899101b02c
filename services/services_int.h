// Cross-module declarations of services/: the node runtime, the registry,
// settings and the built-in services. Nothing outside services/ (and the
// tests) includes this header.
#ifndef OSCAR_SERVICES_INT_H
#define OSCAR_SERVICES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "oscar/cluster.h"
#include "oscar/node.h"
#include "oscar/service.h"

// osc_fail fills err (when given) with code and a printf-style message,
// with no origin (these are local failures), and returns code.
int osc_fail(oscar_error_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// osc_now_ms gives the Unix time in milliseconds; osc_mono_ms a monotonic
// clock in milliseconds.
int64_t osc_now_ms(void);
int64_t osc_mono_ms(void);

// Settings.
int  osc_settings_copy(oscar_settings_t *dst, const oscar_settings_t *src);
// osc_split_list splits a comma-separated list, trimming blanks and
// dropping empty items, into a malloc'd array of strings (NULL at the end).
int  osc_split_list(const char *text, char ***itemsp, size_t *np);
void osc_free_list(char **items, size_t n);

// The registry.
size_t                 osc_registry_count(const oscar_registry_t *reg);
const oscar_service_t *osc_registry_at(const oscar_registry_t *reg, size_t i);
// osc_registry_classes gives every class of every service in a malloc'd,
// NULL-terminated array (NULL when out of memory); the caller frees it.
const oscar_actor_class_t **osc_registry_classes(const oscar_registry_t *reg);

// The built-in services, in the order they start.
extern const oscar_service_t osc_cluster_service;

// The cluster service's settings section and their defaults.
#define OSC_CLUSTER_SECTION        "cluster"
#define OSC_HEARTBEAT_DEFAULT_MS   1000
#define OSC_DEAD_TIMEOUT_DEFAULT_MS 5000

// Node facts a worker reports and a supervisor lists.
typedef struct osc_node_facts {
	unsigned cores;
	uint64_t memory;
	unsigned sub_pools;
	char   **labels;
	size_t   n_labels;
	char     hostname[64];
} osc_node_facts_t;

const osc_node_facts_t *osc_node_facts(const oscar_node_t *node);

// osc_node_info_value builds the info map a node reports about itself.
oscar_value_t *osc_node_info_value(oscar_node_t *node);

// osc_node_info_from_value fills info from a registry map.
void osc_node_info_from_value(const oscar_value_t *v, oscar_node_info_t *info);

// osc_node_check_settings checks a node's settings before it starts
// (services/check.c): OSCAR_EINVAL, with err naming the setting, for a
// mistake.
int osc_node_check_settings(const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err);
// osc_node_default_listen gives the address a node listens on when
// node.listen is not set.
const char *osc_node_default_listen(const oscar_settings_t *s, oscar_role_t role);
// osc_node_warn_unreachable warns when a worker listens where its
// supervisor cannot reach it.
void osc_node_warn_unreachable(const char *address, const char *supervisor);

// osc_node_stop_fd is readable once a stop was requested.
int osc_node_stop_fd(const oscar_node_t *node);

// osc_log_level_of gives the level named level (-1: none);
// osc_log_format_ok tells whether format is a log format.
int  osc_log_level_of(const char *level);
bool osc_log_format_ok(const char *format);

// osc_log_role sets the role and pid shown in log records.
void osc_log_role(const char *role);

#endif // OSCAR_SERVICES_INT_H
