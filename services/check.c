// Checking a node's settings before anything starts, so that a mistake is
// reported at once, naming the setting, and never half-way through a
// start. oscar_node_start runs these checks; the node programs run them
// first to tell a usage error (exit status 2) from a failure (1). The
// node's own section is checked here; every other section belongs to a
// service, checked through its table (its setting specs and check hook),
// so this file names no service.
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/services_int.h"

// The keys of the section the node itself reads. A key not listed there
// is a typing mistake worth stopping for; other sections belong to
// services, which describe their own.
static const char *const osc_node_keys[] = { "listen", "supervisor", "sub_pools", "cores", "memory",
	"labels", "modules", "services", "address_file", "tls_cert", "tls_key", "tls_ca",
	"secret_file", "max_peers", "log_level", "log_format", NULL };

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

int oscar_address_check(const char *address, bool listening, const char *what, oscar_error_t *err)
{
	static const char expected[] = "expected tcp://HOST:PORT, tls+tcp://HOST:PORT or "
	                               "ipc:///PATH";
	what                         = what != NULL ? what : "address";
	if (address == NULL || address[0] == '\0') {
		return (oscar_error_set(err, OSCAR_EADDRINVAL, "no %s: %s", what, expected));
	}
	if (strlen(address) >= OSCAR_ADDR_MAX) {
		return (oscar_error_set(err, OSCAR_EADDRINVAL,
		    "bad %s '%.60s...': longer than %d bytes", what, address, OSCAR_ADDR_MAX - 1));
	}
	for (const char *p = address; *p != '\0'; p++) {
		if ((unsigned char) *p <= ' ' || *p == 0x7f) {
			return (oscar_error_set(err, OSCAR_EADDRINVAL,
			    "bad %s '%s': it holds a blank or control character", what, address));
		}
	}
	if (osc_prefix(address, "ipc://")) {
		const char *path = address + 6;
		if (path[0] == '\0' || strlen(path) > 107) {
			return (oscar_error_set(err, OSCAR_EADDRINVAL,
			    "bad %s '%s': an ipc:// path is 1 to 107 bytes", what, address));
		}
		return (0);
	}
	const char *hp = osc_prefix(address, "tcp://")       ? address + 6
	                 : osc_prefix(address, "tls+tcp://") ? address + 10
	                                                     : NULL;
	if (hp == NULL) {
		return (oscar_error_set(
		    err, OSCAR_EADDRINVAL, "bad %s '%s': %s", what, address, expected));
	}
	const char *colon = strrchr(hp, ':');
	const char *close = strrchr(hp, ']');
	if (colon == NULL || (close != NULL && colon < close)) {
		return (oscar_error_set(
		    err, OSCAR_EADDRINVAL, "bad %s '%s': no port (%s)", what, address, expected));
	}
	size_t host_len = (size_t) (colon - hp);
	if (host_len == 0 && !listening) {
		return (
		    oscar_error_set(err, OSCAR_EADDRINVAL, "bad %s '%s': no host", what, address));
	}
	if (hp[0] == '[' && (host_len < 3 || hp[host_len - 1] != ']')) {
		return (oscar_error_set(err, OSCAR_EADDRINVAL,
		    "bad %s '%s': an IPv6 host is written [ADDRESS]", what, address));
	}
	const char *port = colon + 1;
	long        v    = 0;
	size_t      nd   = strspn(port, "0123456789");
	if (nd == 0 || port[nd] != '\0' || nd > 5 || (v = strtol(port, NULL, 10)) > 65535 ||
	    (v == 0 && !listening)) {
		return (oscar_error_set(err, OSCAR_EADDRINVAL,
		    "bad %s '%s': the port must be a number from %d to 65535", what, address,
		    listening ? 0 : 1));
	}
	return (0);
}

// osc_bad_setting turns the error in err into OSCAR_EINVAL, keeping its
// message.
static int osc_bad_setting(oscar_error_t *err)
{
	if (err != NULL) {
		err->code = OSCAR_EINVAL;
	}
	return (OSCAR_EINVAL);
}

// osc_check_pem checks that the file at path, the setting key, is a PEM
// file holding a block whose label ends with label ("CERTIFICATE",
// "PRIVATE KEY"), so that a wrong file is named before the pool opens.
static int osc_check_pem(const char *key, const char *path, const char *label, oscar_error_t *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "cannot read node.%s file %s: %s", key,
		    path, strerror(errno)));
	}
	char line[512];
	bool found = false;
	for (int i = 0; i < 100000 && !found && fgets(line, sizeof(line), f) != NULL; i++) {
		const char *end =
		    osc_prefix(line, "-----BEGIN ") ? strstr(line + 11, "-----") : NULL;
		found = end != NULL && (size_t) (end - line) >= strlen(label) &&
		        strncmp(end - strlen(label), label, strlen(label)) == 0;
	}
	fclose(f);
	if (!found) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "node.%s file %s is not a PEM file holding a %s (no '-----BEGIN ...%s-----' "
		    "line)",
		    key, path, strcmp(label, "CERTIFICATE") == 0 ? "certificate" : "private key",
		    label));
	}
	return (0);
}

// osc_check_listen: a node listens where other processes can reach it, so
// not on inproc://; TLS needs a certificate and its key, and is not yet
// offered to sub pools. A worker's supervisor address must be one to
// reach.
static int osc_check_listen(const oscar_settings_t *s, oscar_role_t role, oscar_error_t *err)
{
	const char *listen = oscar_settings_get(s, "node", "listen");
	bool        tls    = osc_prefix(listen, "tls+tcp://");
	int         rv;
	// A bad address in the settings is a bad value: OSCAR_EINVAL, as
	// for any other setting.
	if (listen != NULL && oscar_address_check(listen, true, "node.listen", err) != 0) {
		return (osc_bad_setting(err));
	}
	const char *sup = oscar_settings_get(s, "node", "supervisor");
	if (role == OSCAR_ROLE_WORKER && sup != NULL && sup[0] != '\0' &&
	    oscar_address_check(sup, false, "node.supervisor", err) != 0) {
		return (osc_bad_setting(err));
	}
	const char *files[] = { "tls_cert", "tls_key", "tls_ca" };
	const char *label[] = { "CERTIFICATE", "PRIVATE KEY", "CERTIFICATE" };
	for (size_t i = 0; i < 3; i++) {
		const char *path = oscar_settings_get(s, "node", files[i]);
		if (path != NULL && (rv = osc_check_pem(files[i], path, label[i], err)) != 0) {
			return (rv);
		}
	}
	if (tls && (oscar_settings_get(s, "node", "tls_cert") == NULL ||
	               oscar_settings_get(s, "node", "tls_key") == NULL)) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a tls+tcp:// address needs a certificate and its key (--tls-cert, "
		    "--tls-key)"));
	}
	const char *subs = oscar_settings_get(s, "node", "sub_pools");
	if (tls && subs != NULL && strcmp(subs, "0") != 0) {
		return (oscar_error_set(err, OSCAR_ENOTSUP,
		    "sub pools of a node on a tls+tcp:// address are not supported yet: "
		    "listen on tcp:// or ipc://, or run without sub pools"));
	}
	return (0);
}

// osc_check_secret reads node.secret_file once, so that a missing, short
// or unreadable secret stops the node before anything starts, naming it.
static int osc_check_secret(const oscar_settings_t *s, oscar_error_t *err)
{
	const char *path = oscar_settings_get(s, "node", "secret_file");
	void       *secret;
	size_t      len;
	if (path == NULL) {
		return (0);
	}
	oscar_error_t why;
	if (oscar_secret_read(path, &secret, &len, &why) != 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "node.secret_file: %s", why.message));
	}
	oscar_secret_free(&secret, len);
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
		rv = oscar_error_set(err, OSCAR_EINVAL,
		    "at most %d labels in node.labels, %zu given", OSCAR_LABELS_MAX, n);
	}
	for (size_t i = 0; i < n && rv == 0; i++) {
		if (strlen(labels[i]) >= OSCAR_NAME_MAX) {
			rv = oscar_error_set(err, OSCAR_EINVAL,
			    "label '%s' is longer than %d bytes", labels[i], OSCAR_NAME_MAX - 1);
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
static int osc_check_services(
    const oscar_settings_t *s, oscar_role_t role, const oscar_registry_t *reg, oscar_error_t *err)
{
	oscar_registry_t       *own  = NULL;
	const oscar_service_t **plan = NULL;
	size_t                  n    = 0;
	int                     rv;
	if (reg == NULL) {
		if ((rv = oscar_registry_new(&own)) != 0) {
			return (oscar_error_set(
			    err, rv, "cannot make a service registry: %s", oscar_strerror(rv)));
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

int osc_node_check_settings(
    const oscar_settings_t *s, oscar_role_t role, const oscar_registry_t *reg, oscar_error_t *err)
{
	int64_t  i64;
	uint64_t u64;
	int      rv = oscar_settings_each(s, osc_check_key, err);
	rv = rv != 0 ? rv : oscar_settings_get_int(s, "node", "sub_pools", 0, 0, 256, &i64, err);
	rv = rv != 0 ? rv : oscar_settings_get_int(s, "node", "cores", 1, 1, 4096, &i64, err);
	rv = rv != 0 ? rv : oscar_settings_get_bytes(s, "node", "memory", 0, &u64, err);
	rv =
	    rv != 0 ? rv : oscar_settings_get_int(s, "node", "max_peers", 256, 1, 65536, &i64, err);
	rv              = rv != 0 ? rv : osc_check_listen(s, role, err);
	rv              = rv != 0 ? rv : osc_check_secret(s, err);
	rv              = rv != 0 ? rv : osc_check_labels(s, err);
	rv              = rv != 0 ? rv : osc_check_log(s, err);
	const char *sup = oscar_settings_get(s, "node", "supervisor");
	if (rv == 0 && role == OSCAR_ROLE_WORKER && (sup == NULL || sup[0] == '\0')) {
		rv = oscar_error_set(
		    err, OSCAR_EINVAL, "a worker needs its supervisor's address: --supervisor URL");
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
