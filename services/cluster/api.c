// The typed API over the cluster service (include/oscar/cluster.h): each
// function is one call to the supervisor's registry actor, with its
// arguments built and its reply read here, so callers never see messages.
#include <stdio.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "services/cluster/cluster_int.h"

// How long past its own timeout a waiting call may take to come back
// before the caller gives up on the supervisor itself.
#define OSC_WAIT_SLACK_MS 2000
// Timeouts are clamped to OSCAR_TIMEOUT_MAX_MS, as calls' are, so that
// adding the slack cannot overflow.
static int64_t osc_clamp(int64_t timeout_ms)
{
	return (timeout_ms < OSCAR_TIMEOUT_MAX_MS ? timeout_ms : OSCAR_TIMEOUT_MAX_MS);
}

struct oscar_cluster {
	oscar_pool_t *pool;
	oscar_ref_t   registry;
};

int oscar_cluster_open(
    oscar_cluster_t **clp, oscar_pool_t *pool, const char *address, oscar_error_t *err)
{
	if (clp == NULL || pool == NULL || address == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no handle, pool or address"));
	}
	oscar_cluster_t *cl = calloc(1, sizeof(*cl));
	if (cl == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	if (oscar_ref_make(&cl->registry, address, OSCAR_CLUSTER_UID) != 0) {
		free(cl);
		return (oscar_error_set(err, OSCAR_EINVAL, "address too long: %s", address));
	}
	cl->pool = pool;
	*clp     = cl;
	return (0);
}

void oscar_cluster_close(oscar_cluster_t **clp)
{
	if (clp != NULL) {
		free(*clp);
		*clp = NULL;
	}
}

// osc_cl_call calls the registry's method id through its table, which
// checks the shape of the reply.
static int osc_cl_call(oscar_cluster_t *cl, int id, oscar_value_t *args, int64_t timeout_ms,
    oscar_value_t **reply, oscar_error_t *err)
{
	if (cl == NULL) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_EINVAL, "no cluster handle"));
	}
	return (osc_method_call(
	    cl->pool, &cl->registry, &osc_cluster_sup_methods[id], args, timeout_ms, reply, err));
}

// osc_args builds an array of unsigned integers.
static oscar_value_t *osc_args(size_t n, const uint64_t *v)
{
	oscar_value_t *args = oscar_value_new_array(n);
	for (size_t i = 0; args != NULL && i < n; i++) {
		if (oscar_value_array_push(args, oscar_value_new_uint(v[i])) != 0) {
			oscar_value_free(args);
			return (NULL);
		}
	}
	return (args);
}

static oscar_value_t *osc_strings(const char *const *strs)
{
	if (strs == NULL) {
		return (oscar_value_new_nil());
	}
	size_t n = 0;
	while (strs[n] != NULL) {
		n++;
	}
	oscar_value_t *arr = oscar_value_new_array(n);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		if (oscar_value_array_push(arr, oscar_value_new_str(strs[i])) != 0) {
			oscar_value_free(arr);
			return (NULL);
		}
	}
	return (arr);
}

static int osc_bad_reply(oscar_value_t *reply, const char *method, oscar_error_t *err)
{
	oscar_value_free(reply);
	return (oscar_error_set(
	    err, OSCAR_EPROTO, "unexpected reply from the supervisor to %s", method));
}

int oscar_cluster_count(oscar_cluster_t *cl, unsigned roles, unsigned statuses, size_t *n,
    int64_t timeout_ms, oscar_error_t *err)
{
	uint64_t       v[2] = { roles, statuses };
	oscar_value_t *reply;
	int            rv = osc_cl_call(cl, OSC_CL_COUNT, osc_args(2, v), timeout_ms, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	uint64_t count;
	if (oscar_value_get_uint(reply, &count) != 0) {
		return (osc_bad_reply(reply, osc_cl_name(OSC_CL_COUNT), err));
	}
	oscar_value_free(reply);
	*n = (size_t) count;
	return (0);
}

// ---------------------------------------------------------------------------
// Node info

void osc_node_info_from_value(const oscar_value_t *v, oscar_node_info_t *info)
{
	memset(info, 0, sizeof(*info));
	const char *s;
	if ((s = oscar_value_map_str(v, "address")) != NULL) {
		snprintf(info->address, sizeof(info->address), "%s", s);
	}
	s = oscar_value_map_str(v, "role");
	info->role =
	    s != NULL && strcmp(s, "supervisor") == 0 ? OSCAR_ROLE_SUPERVISOR : OSCAR_ROLE_WORKER;
	info->status = osc_status_from_name(oscar_value_map_str(v, "status"));
	if ((s = oscar_value_map_str(v, "hostname")) != NULL) {
		snprintf(info->hostname, sizeof(info->hostname), "%s", s);
	}
	info->pid              = oscar_value_map_int(v, "pid", 0);
	info->cores            = (unsigned) oscar_value_map_int(v, "cores", 0);
	info->memory           = (uint64_t) oscar_value_map_int(v, "memory", 0);
	info->sub_pools        = (unsigned) oscar_value_map_int(v, "sub_pools", 0);
	info->slots            = (unsigned) oscar_value_map_int(v, "slots", 0);
	info->actors           = (uint64_t) oscar_value_map_int(v, "actors", 0);
	info->registered_ms    = oscar_value_map_int(v, "registered_ms", 0);
	info->heartbeat_ms     = oscar_value_map_int(v, "heartbeat_ms", 0);
	info->heartbeat_age_ms = oscar_value_map_int(v, "heartbeat_age_ms", 0);
	oscar_value_get_float(oscar_value_map_get(v, "load"), &info->load);
	const oscar_value_t *labels = oscar_value_map_get(v, "labels");
	for (size_t i = 0; i < oscar_value_len(labels) && info->n_labels < OSCAR_LABELS_MAX; i++) {
		size_t len;
		if (oscar_value_get_str(oscar_value_at(labels, i), &s, &len) == 0) {
			snprintf(info->labels[info->n_labels++], OSCAR_NAME_MAX, "%s", s);
		}
	}
}

// osc_infos turns an array of maps into node infos.
static int osc_infos(oscar_value_t *list, const char *method, oscar_node_info_t **nodes, size_t *n,
    oscar_error_t *err)
{
	if (list == NULL || list->type != OSCAR_ARRAY) {
		return (osc_bad_reply(list, method, err));
	}
	size_t count = oscar_value_len(list);
	*nodes       = calloc(count > 0 ? count : 1, sizeof(**nodes));
	if (*nodes == NULL) {
		oscar_value_free(list);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < count; i++) {
		osc_node_info_from_value(oscar_value_at(list, i), &(*nodes)[i]);
	}
	*n = count;
	oscar_value_free(list);
	return (0);
}

void oscar_node_info_free(oscar_node_info_t *nodes, size_t n)
{
	(void) n; // flat records: one block
	free(nodes);
}

int oscar_cluster_nodes_info(oscar_cluster_t *cl, unsigned roles, const char *const *addresses,
    const char *const *fields, int64_t timeout_ms, oscar_value_t **info, oscar_error_t *err)
{
	uint64_t       v[2] = { roles, 0 };
	oscar_value_t *args = osc_args(2, v);
	oscar_value_t *a    = osc_strings(addresses);
	oscar_value_t *f    = osc_strings(fields);
	if (args == NULL || a == NULL || f == NULL) {
		oscar_value_free(args);
		oscar_value_free(a);
		oscar_value_free(f);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	if (oscar_value_array_push(args, a) != 0) { // a is freed either way
		oscar_value_free(args);
		oscar_value_free(f);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	if (oscar_value_array_push(args, f) != 0) {
		oscar_value_free(args);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	return (osc_cl_call(cl, OSC_CL_NODES, args, timeout_ms, info, err));
}

int oscar_cluster_nodes(oscar_cluster_t *cl, unsigned roles, unsigned statuses,
    oscar_node_info_t **nodes, size_t *n, int64_t timeout_ms, oscar_error_t *err)
{
	if (nodes == NULL || n == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "nowhere to put the nodes"));
	}
	uint64_t       v[2] = { roles, statuses };
	oscar_value_t *list;
	int            rv = osc_cl_call(cl, OSC_CL_NODES, osc_args(2, v), timeout_ms, &list, err);
	return (rv != 0 ? rv : osc_infos(list, osc_cl_name(OSC_CL_NODES), nodes, n, err));
}

int oscar_cluster_wait_workers(
    oscar_cluster_t *cl, size_t n, int64_t timeout_ms, oscar_error_t *err)
{
	if (timeout_ms <= 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "wait_workers needs a timeout"));
	}
	timeout_ms    = osc_clamp(timeout_ms);
	uint64_t v[2] = { n, (uint64_t) timeout_ms };
	return (osc_cl_call(
	    cl, OSC_CL_WAIT, osc_args(2, v), timeout_ms + OSC_WAIT_SLACK_MS, NULL, err));
}

int oscar_cluster_watch(oscar_cluster_t *cl, uint64_t *version, oscar_node_info_t **nodes,
    size_t *n, int64_t timeout_ms, oscar_error_t *err)
{
	if (version == NULL || nodes == NULL || n == NULL || timeout_ms <= 0) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "watch needs a version, outputs and a timeout"));
	}
	timeout_ms          = osc_clamp(timeout_ms);
	uint64_t       v[2] = { *version, (uint64_t) timeout_ms };
	oscar_value_t *reply;
	int            rv = osc_cl_call(
	               cl, OSC_CL_WATCH, osc_args(2, v), timeout_ms + OSC_WAIT_SLACK_MS, &reply, err);
	if (rv != 0) {
		return (rv);
	}
	uint64_t new_version;
	if (oscar_value_get_uint(oscar_value_at(reply, 0), &new_version) != 0) {
		return (osc_bad_reply(reply, osc_cl_name(OSC_CL_WATCH), err));
	}
	oscar_value_t *list = oscar_value_copy(oscar_value_at(reply, 1));
	oscar_value_free(reply);
	rv = osc_infos(list, osc_cl_name(OSC_CL_WATCH), nodes, n, err);
	if (rv == 0) {
		*version = new_version;
	}
	return (rv);
}

int oscar_cluster_stop(oscar_cluster_t *cl, int64_t timeout_ms, oscar_error_t *err)
{
	if (timeout_ms <= 0) {
		return (oscar_error_set(err, OSCAR_EINVAL, "stop needs a timeout"));
	}
	// The whole stop takes at most timeout_ms, whether the supervisor
	// answers or not: it waits for its workers a little less, so that its
	// answer (ETIMEDOUT, saying how many had not left) has time to come.
	timeout_ms    = osc_clamp(timeout_ms);
	int64_t slack = timeout_ms / 4 < OSC_WAIT_SLACK_MS ? timeout_ms / 4 : OSC_WAIT_SLACK_MS;
	return (osc_cl_call(cl, OSC_CL_STOP, oscar_value_new_uint((uint64_t) (timeout_ms - slack)),
	    timeout_ms, NULL, err));
}

int oscar_cluster_worker_address(oscar_cluster_t *cl, size_t i, char *address, size_t size,
    int64_t timeout_ms, oscar_error_t *err)
{
	oscar_node_info_t *nodes;
	size_t             n;
	int                rv = oscar_cluster_nodes(
	                   cl, OSCAR_ROLE_WORKER, OSCAR_NODE_READY, &nodes, &n, timeout_ms, err);
	if (rv != 0) {
		return (rv);
	}
	if (n == 0) {
		oscar_node_info_free(nodes, n);
		return (oscar_error_set(err, OSCAR_ENOENT, "no worker is ready"));
	}
	rv = strlen(nodes[i % n].address) < size ? 0 : OSCAR_EINVAL;
	if (rv == 0) {
		snprintf(address, size, "%s", nodes[i % n].address);
	} else {
		oscar_error_set(err, rv, "the address does not fit in %zu bytes", size);
	}
	oscar_node_info_free(nodes, n);
	return (rv);
}

// ---------------------------------------------------------------------------
// Where a client listens

// osc_tcp_host_port splits "tcp://host:port" (host may be "[v6]").
static int osc_tcp_host_port(const char *address, char *host, size_t hsize, const char **port)
{
	const char *h     = address + strlen("tcp://");
	const char *colon = strrchr(h, ':');
	if (colon == NULL || colon == h) {
		return (-1);
	}
	size_t len = (size_t) (colon - h);
	if (h[0] == '[' && len >= 2 && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	if (len == 0 || len >= hsize) {
		return (-1);
	}
	memcpy(host, h, len);
	host[len] = '\0';
	*port     = colon + 1;
	return (0);
}

int oscar_cluster_client_address(const char *address, char *out, size_t size, oscar_error_t *err)
{
	if (strncmp(address, "ipc://", 6) == 0) {
		const char *tmp = getenv("TMPDIR");
		int         n   = snprintf(out, size, "ipc://%s/oscar-client-%d.sock",
                    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (int) getpid());
		// A socket path is at most 107 bytes (sun_path).
		if (n < 0 || (size_t) n >= size || n - 6 > 107) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "the client's socket path under $TMPDIR is too long"));
		}
		return (0);
	}
	char                    host[OSCAR_ADDR_MAX], local[NI_MAXHOST];
	const char             *port;
	struct addrinfo         hints = { .ai_socktype = SOCK_DGRAM }, *ai, *a;
	struct sockaddr_storage ss;
	socklen_t               sl    = sizeof(ss);
	bool                    found = false;
	if (strncmp(address, "tcp://", 6) != 0 ||
	    osc_tcp_host_port(address, host, sizeof(host), &port) != 0) {
		return (oscar_error_set(
		    err, OSCAR_EADDRINVAL, "%s: expected tcp://HOST:PORT or ipc:///PATH", address));
	}
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		return (oscar_error_set(
		    err, OSCAR_EADDRINVAL, "cannot resolve the host of %s", address));
	}
	for (a = ai; a != NULL && !found; a = a->ai_next) {
		int s = socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			continue;
		}
		sl    = sizeof(ss);
		found = connect(s, a->ai_addr, a->ai_addrlen) == 0 &&
		        getsockname(s, (struct sockaddr *) &ss, &sl) == 0 &&
		        getnameinfo((struct sockaddr *) &ss, sl, local, sizeof(local), NULL, 0,
		            NI_NUMERICHOST) == 0;
		close(s);
	}
	freeaddrinfo(ai);
	if (!found) {
		return (oscar_error_set(err, OSCAR_EADDRINVAL, "no route to %s", address));
	}
	bool v6 = strchr(local, ':') != NULL;
	snprintf(out, size, "tcp://%s%s%s:0", v6 ? "[" : "", local, v6 ? "]" : "");
	return (0);
}
