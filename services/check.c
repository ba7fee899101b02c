// Checking a node's settings before anything starts, so that a mistake is
// reported at once, naming the setting, and never half-way through a
// start. oscar_node_start runs these checks; the node programs run them
// first to tell a usage error (exit status 2) from a failure (1). The
// node's own section is checked here; every other section belongs to a
// service, checked through its table (its setting specs and check hook),
// so this file names no service.
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/services_int.h"

// The keys of the section the node itself reads. A key not listed there
// is a typing mistake worth stopping for; other sections belong to
// services, which describe their own.
static const char *const osc_node_keys[] = { "listen", "supervisor", "sub_pools", "cores",
	"memory", "labels", "modules", "services", "address_file", "tls_cert", "tls_key", "tls_ca",
	"log_level", "log_format", NULL };

static bool osc_listed(const char *const *keys, const char *key)
{
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], key) == 0) {
			return (true);
		}
	}
	return (false);
}

static int osc_check_key(void *arg, const char *section, const char *key, const char *value)
{
	oscar_error_t *err = arg;
	if (strcmp(section, "node") == 0 && !osc_listed(osc_node_keys, key)) {
		return (oscar_error_set(err, OSCAR_EINVAL, "unknown setting node.%s", key));
	}
	return (0);
}

static bool osc_prefix(const char *s, const char *prefix)
{
	return (s != NULL && strncmp(s, prefix, strlen(prefix)) == 0);
}

// osc_check_listen: a node listens where other processes can reach it, so
// not on inproc://; TLS needs a certificate and its key, and is not yet
// offered to sub pools.
static int osc_check_listen(const oscar_settings_t *s, oscar_error_t *err)
{
	const char *listen = oscar_settings_get(s, "node", "listen");
	bool        tls    = osc_prefix(listen, "tls+tcp://");
	if (listen != NULL && !tls && !osc_prefix(listen, "tcp://") &&
	    !osc_prefix(listen, "ipc://")) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "bad value '%s' for node.listen: expected tcp://HOST:PORT, "
		    "tls+tcp://HOST:PORT or ipc:///PATH",
		    listen));
	}
	const char *files[] = { "tls_cert", "tls_key", "tls_ca" };
	for (size_t i = 0; i < 3; i++) {
		const char *path = oscar_settings_get(s, "node", files[i]);
		if (path != NULL && access(path, R_OK) != 0) {
			return (oscar_error_set(err, OSCAR_EINVAL, "cannot read node.%s file %s", files[i],
			    path));
		}
	}
	if (tls && (oscar_settings_get(s, "node", "tls_cert") == NULL ||
	               oscar_settings_get(s, "node", "tls_key") == NULL)) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a tls+tcp:// address needs a certificate and its key (--tls-cert, --tls-key)"));
	}
	const char *subs = oscar_settings_get(s, "node", "sub_pools");
	if (tls && subs != NULL && strcmp(subs, "0") != 0) {
		return (oscar_error_set(err, OSCAR_ENOTSUP,
		    "sub pools of a node on a tls+tcp:// address are not supported yet: "
		    "listen on tcp:// or ipc://, or run without sub pools"));
	}
	return (0);
}

static int osc_check_labels(const oscar_settings_t *s, oscar_error_t *err)
{
	char **labels;
	size_t n;
	if (osc_split_list(oscar_settings_get(s, "node", "labels"), &labels, &n) != 0) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	int rv = 0;
	if (n > OSCAR_LABELS_MAX) {
		rv = oscar_error_set(err, OSCAR_EINVAL, "at most %d labels in node.labels, %zu given",
		    OSCAR_LABELS_MAX, n);
	}
	for (size_t i = 0; i < n && rv == 0; i++) {
		if (strlen(labels[i]) >= OSCAR_NAME_MAX) {
			rv = oscar_error_set(err, OSCAR_EINVAL, "label '%s' is longer than %d bytes",
			    labels[i], OSCAR_NAME_MAX - 1);
		}
	}
	osc_free_list(labels, n);
	return (rv);
}

static int osc_check_log(const oscar_settings_t *s, oscar_error_t *err)
{
	const char *level  = oscar_settings_get(s, "node", "log_level");
	const char *format = oscar_settings_get(s, "node", "log_format");
	if (level != NULL && osc_log_level_of(level) < 0) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "bad value '%s' for node.log_level: expected debug, info, warn or error",
		    level));
	}
	if (format != NULL && !osc_log_format_ok(format)) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "bad value '%s' for node.log_format: expected text or json", format));
	}
	return (0);
}

// osc_check_services checks the section of every service the node would
// run, in start order.
static int osc_check_services(const oscar_settings_t *s, oscar_role_t role,
    const oscar_registry_t *reg, oscar_error_t *err)
{
	oscar_registry_t      *own = NULL;
	const oscar_service_t **plan = NULL;
	size_t                  n    = 0;
	int                     rv;
	if (reg == NULL) {
		if ((rv = oscar_registry_new(&own)) != 0) {
			return (oscar_error_set(err, rv, "cannot make a service registry: %s",
			    oscar_strerror(rv)));
		}
		reg = own;
	}
	rv = osc_service_plan(reg, s, role, &plan, &n, err);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		rv = osc_service_check_settings(plan[i], s, role, err);
	}
	free(plan);
	oscar_registry_free(&own);
	return (rv);
}

int osc_node_check_settings(const oscar_settings_t *s, oscar_role_t role,
    const oscar_registry_t *reg, oscar_error_t *err)
{
	int64_t  i64;
	uint64_t u64;
	int      rv = oscar_settings_each(s, osc_check_key, err);
	rv = rv != 0 ? rv : oscar_settings_get_int(s, "node", "sub_pools", 0, 0, 256, &i64, err);
	rv = rv != 0 ? rv : oscar_settings_get_int(s, "node", "cores", 1, 1, 4096, &i64, err);
	rv = rv != 0 ? rv : oscar_settings_get_bytes(s, "node", "memory", 0, &u64, err);
	rv = rv != 0 ? rv : osc_check_listen(s, err);
	rv = rv != 0 ? rv : osc_check_labels(s, err);
	rv = rv != 0 ? rv : osc_check_log(s, err);
	const char *sup = oscar_settings_get(s, "node", "supervisor");
	if (rv == 0 && role == OSCAR_ROLE_WORKER && (sup == NULL || sup[0] == '\0')) {
		rv = oscar_error_set(err, OSCAR_EINVAL,
		    "a worker needs its supervisor's address: --supervisor URL");
	}
	return (rv != 0 ? rv : osc_check_services(s, role, reg, err));
}

// osc_is_loopback tells whether a tcp:// address names this host only.
static bool osc_is_loopback(const char *address)
{
	const char *host = strstr(address, "://");
	host             = host != NULL ? host + 3 : address;
	return (osc_prefix(host, "127.") || osc_prefix(host, "localhost") ||
	        osc_prefix(host, "[::1]") || osc_prefix(host, "::1"));
}

const char *osc_node_default_listen(const oscar_settings_t *s, oscar_role_t role)
{
	const char *sup = oscar_settings_get(s, "node", "supervisor");
	// A worker of a supervisor on another host must be reachable from
	// there: listen on every interface (the wildcard is replaced by this
	// machine's address when the pool opens).
	if (role == OSCAR_ROLE_WORKER && osc_prefix(sup, "tcp://") && !osc_is_loopback(sup)) {
		return ("tcp://0.0.0.0:0");
	}
	return ("tcp://127.0.0.1:0");
}

void osc_node_warn_unreachable(const char *address, const char *supervisor)
{
	if (supervisor != NULL && osc_prefix(address, "tcp://") && osc_is_loopback(address) &&
	    osc_prefix(supervisor, "tcp://") && !osc_is_loopback(supervisor)) {
		oscar_log(OSCAR_LOG_WARN, "node",
		    "this worker listens at %s, which the supervisor at %s cannot reach: its "
		    "replies will be lost (listen on tcp://0.0.0.0:0 or a routable address)",
		    address, supervisor);
	}
}
