// The cluster service's table: on a supervisor it starts the registry
// actor, on a worker the actor that registers and sends heartbeats; and
// the node info both sides exchange.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oscar/oscar.h"
#include "services/cluster/cluster_int.h"

// The cluster service's settings: section [cluster].
static const oscar_setting_spec_t osc_cluster_specs[] = {
	{ "heartbeat_interval", OSCAR_SETTING_MS, "1s", 10, 3600000,
	    "how often a worker reports to the supervisor (the supervisor's value wins)" },
	{ "dead_timeout", OSCAR_SETTING_MS, "5s", 20, 86400000,
	    "a worker not heard from for this long is marked dead" },
	{ "max_nodes", OSCAR_SETTING_INT, "10000", 2, 10000000,
	    "the most nodes the supervisor's registry holds (itself included)" },
	{ "max_waits", OSCAR_SETTING_INT, "100000", 1, 10000000,
	    "the most wait_workers, watch and stop_cluster requests parked at once" },
	{ "wait_timeout_max", OSCAR_SETTING_MS, "1h", 1000, INT64_C(2592000000),
	    "the longest a parked request waits, whatever timeout it asked for" },
	{ "farewell_batch", OSCAR_SETTING_INT, "32", 1, 4096,
	    "workers told at once that the supervisor is going away" },
	{ "farewell_timeout", OSCAR_SETTING_MS, "1s", 10, 60000,
	    "how long a stopping supervisor spends telling its workers" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

int osc_cluster_settings(const oscar_settings_t *s, osc_cluster_settings_t *out, oscar_error_t *err)
{
	const osc_setting_int_t all[] = {
		{ "heartbeat_interval", &out->heartbeat_ms },
		{ "dead_timeout", &out->dead_timeout_ms },
		{ "max_nodes", &out->max_nodes },
		{ "max_waits", &out->max_waits },
		{ "wait_timeout_max", &out->wait_timeout_max_ms },
		{ "farewell_batch", &out->farewell_batch },
		{ "farewell_timeout", &out->farewell_timeout_ms },
	};
	return (osc_service_settings_int(
	    s, &osc_cluster_service, all, sizeof(all) / sizeof(all[0]), err));
}

// osc_cluster_check: the supervisor decides both durations for its
// workers, so only its own pair must agree.
static int osc_cluster_check(const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err)
{
	osc_cluster_settings_t cfg;
	int                    rv = osc_cluster_settings(s, &cfg, err);
	if (rv == 0 && role == OSCAR_ROLE_SUPERVISOR && cfg.dead_timeout_ms <= cfg.heartbeat_ms) {
		rv = oscar_error_set(err, OSCAR_EINVAL,
		    "cluster.dead_timeout (%lld ms) must be longer than cluster.heartbeat_interval "
		    "(%lld ms)",
		    (long long) cfg.dead_timeout_ms, (long long) cfg.heartbeat_ms);
	}
	return (rv);
}

// osc_load_average reads the host's 1-minute load average (0 if unknown).
static double osc_load_average(void)
{
	double load = 0;
	FILE  *f    = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf", &load) != 1) {
			load = 0;
		}
		fclose(f);
	}
	return (load);
}

oscar_value_t *osc_node_info_value(oscar_node_t *node)
{
	const osc_node_facts_t *facts  = osc_node_facts(node);
	oscar_pool_census_t     census = { 0 };
	oscar_pool_census(oscar_node_pool(node), &census);
	unsigned slots  = census.sub_pools_ready;
	uint64_t actors = census.actors;

	oscar_value_t *labels = oscar_value_new_array(facts->n_labels);
	for (size_t i = 0; labels != NULL && i < facts->n_labels; i++) {
		oscar_value_array_push(labels, oscar_value_new_str(facts->labels[i]));
	}
	oscar_value_t *m = oscar_value_new_map(16);
	if (m == NULL || labels == NULL) {
		oscar_value_free(m);
		oscar_value_free(labels);
		return (NULL);
	}
	int rv = oscar_value_map_set(m, "address", oscar_value_new_str(oscar_node_address(node)));
	rv     = rv != 0 ? rv
	                 : oscar_value_map_set(
	                       m, "role", oscar_value_new_str(oscar_role_name(oscar_node_role(node))));
	rv =
	    rv != 0 ? rv : oscar_value_map_set(m, "hostname", oscar_value_new_str(facts->hostname));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "pid", oscar_value_new_int(getpid()));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "cores", oscar_value_new_uint(facts->cores));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "memory", oscar_value_new_uint(facts->memory));
	rv = rv != 0 ? rv
	             : oscar_value_map_set(m, "sub_pools", oscar_value_new_uint(facts->sub_pools));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "slots", oscar_value_new_uint(slots));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "labels", labels);
	labels = NULL;
	rv     = rv != 0 ? rv
	                 : oscar_value_map_set(m, "load", oscar_value_new_float(osc_load_average()));
	rv     = rv != 0 ? rv : oscar_value_map_set(m, "actors", oscar_value_new_uint(actors));
	rv = rv != 0 ? rv : oscar_value_map_set(m, "version", oscar_value_new_str(OSCAR_VERSION));
	// What the node's services add (storage figures, say).
	rv = rv != 0 ? rv : osc_node_info_fields(node, m);
	oscar_value_free(labels);
	if (rv != 0) {
		oscar_value_free(m);
		return (NULL);
	}
	return (m);
}

// ---------------------------------------------------------------------------
// Start and stop

static int osc_cluster_start(oscar_node_t *node, void **state, oscar_error_t *err)
{
	bool        sup = oscar_node_role(node) == OSCAR_ROLE_SUPERVISOR;
	oscar_ref_t ref;
	// The actor finds its node and its settings through its pool
	// (oscar_node_of_actor): no arguments.
	*state = NULL;
	return (oscar_create(oscar_node_pool(node),
	    sup ? &osc_cluster_supervisor_class : &osc_cluster_worker_class, OSCAR_CLUSTER_UID,
	    NULL, 5000, &ref, err));
}

static void osc_cluster_stop(oscar_node_t *node, void *state)
{
	bool                   sup = oscar_node_role(node) == OSCAR_ROLE_SUPERVISOR;
	oscar_ref_t            ref;
	oscar_error_t          err;
	osc_cluster_settings_t cfg;
	oscar_ref_make(&ref, oscar_node_address(node), OSCAR_CLUSTER_UID);
	if (osc_cluster_settings(oscar_node_settings(node), &cfg, &err) != 0) {
		cfg.farewell_timeout_ms = 1000; // checked at start: cannot happen
	}
	// A supervisor tells its workers it is going away, in bounded batches
	// for at most cluster.farewell_timeout; a worker deregisters. Both
	// are bounded: a stop never hangs on a peer.
	int rv = sup ? osc_method_call(oscar_node_pool(node), &ref,
	                   &osc_cluster_sup_methods[OSC_CL_LEAVING], NULL,
	                   cfg.farewell_timeout_ms + 1000, NULL, &err)
	             : osc_method_call(oscar_node_pool(node), &ref,
	                   &osc_cluster_worker_methods[OSC_CLW_LEAVE], oscar_value_new_int(2000),
	                   3000, NULL, &err);
	if (rv != 0) {
		oscar_log(OSCAR_LOG_WARN, "cluster", "%s: %s",
		    sup ? "could not tell the workers" : "could not deregister", err.message);
	}
}

// osc_cluster_ready: every service of the node has started, so a worker
// now reports itself ready.
static void osc_cluster_ready(oscar_node_t *node, void *state)
{
	oscar_ref_t   ref;
	oscar_error_t err;
	if (oscar_node_role(node) != OSCAR_ROLE_WORKER ||
	    oscar_ref_make(&ref, oscar_node_address(node), OSCAR_CLUSTER_UID) != 0) {
		return;
	}
	if (oscar_tell(
	        oscar_node_pool(node), &ref, osc_clw_name(OSC_CLW_READY), NULL, 2000, &err) != 0) {
		oscar_log(
		    OSCAR_LOG_WARN, "cluster", "cannot report the node ready: %s", err.message);
	}
}

const oscar_service_t osc_cluster_service = {
	.abi      = OSCAR_SERVICE_ABI,
	.name     = OSC_CLUSTER_SECTION,
	.roles    = OSCAR_ROLES_ALL,
	.flags    = OSCAR_SERVICE_ALWAYS,
	.settings = osc_cluster_specs,
	.check    = osc_cluster_check,
	.start    = osc_cluster_start,
	.stop     = osc_cluster_stop,
	.ready    = osc_cluster_ready,
};
