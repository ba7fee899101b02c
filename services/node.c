// Nodes: a main pool, its sub pools, and the services of one role, started
// in order and stopped in reverse.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "services/services_int.h"

#define OSC_NODE_SECTION  "node"
#define OSC_SUB_POOLS_MAX 256

// osc_node_tag marks a pool whose context is a node (oscar_node_of_actor).
static const char osc_node_tag = 'N';

typedef struct osc_running {
	const oscar_service_t *svc;
	void                  *state;
} osc_running_t;

struct oscar_node {
	oscar_role_t                role;
	oscar_settings_t           *settings;
	oscar_registry_t           *registry;
	bool                        own_registry;
	const oscar_actor_class_t **classes;
	oscar_pool_t               *pool;
	char                        address[OSCAR_ADDR_MAX];
	char                        supervisor[OSCAR_ADDR_MAX];
	char                        address_file[4096];
	osc_node_facts_t            facts;
	char                       *modules_env; // OSCAR_NODE_MODULES=... for sub pools
	// modules_envv is the sub pools' extra environment: the pool reads
	// it whenever it starts one, recovered ones included, so it lives as
	// long as the node.
	const char             *modules_envv[2];
	const oscar_service_t **plan; // the services to run, in order
	size_t                  n_plan;
	osc_running_t          *running; // started, in order
	size_t                  n_running;
	// The services whose info hooks run: running[0..n_info), guarded by
	// info_mu, since the hooks run on the main pool's thread while the
	// services start and stop on another.
	pthread_mutex_t info_mu;
	size_t          n_info;
	int             stop_fd; // eventfd: a stop was requested
	osc_hooks_t    *hooks;   // runs session hooks for OSCAR_NODE_UID
};

const char *oscar_role_name(oscar_role_t role)
{
	switch (role) {
	case OSCAR_ROLE_SUPERVISOR:
		return ("supervisor");
	case OSCAR_ROLE_WORKER:
		return ("worker");
	}
	return ("?");
}

// ---------------------------------------------------------------------------
// Reading the node's settings

static const char *osc_node_get(const oscar_node_t *node, const char *key)
{
	return (oscar_settings_get(node->settings, OSC_NODE_SECTION, key));
}

static int osc_node_read_facts(oscar_node_t *node, oscar_error_t *err)
{
	const oscar_settings_t *s     = node->settings;
	long                    ncpu  = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t                 pages = sysconf(_SC_PHYS_PAGES);
	int64_t                 psize = sysconf(_SC_PAGESIZE);
	int64_t                 value;
	int                     rv = oscar_settings_get_int(
	                        s, OSC_NODE_SECTION, "cores", ncpu > 0 ? ncpu : 1, 1, 4096, &value, err);
	if (rv != 0) {
		return (rv);
	}
	node->facts.cores = (unsigned) value;
	gethostname(node->facts.hostname, sizeof(node->facts.hostname) - 1);
	rv = oscar_settings_get_bytes(s, OSC_NODE_SECTION, "memory",
	    pages > 0 && psize > 0 ? (uint64_t) (pages * psize) : 0, &node->facts.memory, err);
	if (rv != 0) {
		return (rv);
	}
	rv = oscar_settings_get_int(
	    s, OSC_NODE_SECTION, "sub_pools", 0, 0, OSC_SUB_POOLS_MAX, &value, err);
	if (rv != 0) {
		return (rv);
	}
	node->facts.sub_pools = (unsigned) value;
	if (osc_split_list(
	        osc_node_get(node, "labels"), &node->facts.labels, &node->facts.n_labels) != 0) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	return (0);
}

int osc_node_load_modules(
    oscar_registry_t *reg, const oscar_settings_t *s, char **envp, oscar_error_t *err)
{
	char **paths;
	size_t n;
	if (envp != NULL) {
		*envp = NULL;
	}
	if (osc_split_list(oscar_settings_get(s, OSC_NODE_SECTION, "modules"), &paths, &n) != 0) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	size_t len = strlen("OSCAR_NODE_MODULES=") + 1;
	int    rv  = 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		len += strlen(paths[i]) + 1;
		rv = oscar_registry_load(reg, paths[i], err);
	}
	if (rv == 0 && n > 0 && envp != NULL) {
		char *env = malloc(len);
		if (env == NULL) {
			rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
		} else {
			strcpy(env, "OSCAR_NODE_MODULES=");
			for (size_t i = 0; i < n; i++) {
				strcat(env, paths[i]);
				strcat(env, i + 1 < n ? "," : "");
			}
			*envp = env;
		}
	}
	osc_free_list(paths, n);
	return (rv);
}

// A plan being made: the services in start order, and which registry
// entries are on the way (to find cycles).
typedef struct osc_plan {
	const oscar_registry_t *reg;
	oscar_role_t            role;
	const oscar_service_t **v;
	size_t                  n;
	bool                   *visiting; // by registry index
} osc_plan_t;

static size_t osc_registry_index(const oscar_registry_t *reg, const oscar_service_t *svc)
{
	size_t i = 0;
	while (i < osc_registry_count(reg) && osc_registry_at(reg, i) != svc) {
		i++;
	}
	return (i);
}

// osc_plan_add appends svc to the plan after the services it needs
// (depth first), unless it is there already.
static int osc_plan_add(osc_plan_t *p, const oscar_service_t *svc, oscar_error_t *err)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i] == svc) {
			return (0);
		}
	}
	size_t at = osc_registry_index(p->reg, svc);
	if (p->visiting[at]) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "service %s needs itself through the services it needs (a cycle)", svc->name));
	}
	p->visiting[at] = true;
	int rv          = 0;
	for (size_t i = 0; rv == 0 && svc->needs != NULL && svc->needs[i] != NULL; i++) {
		const oscar_service_t *need = oscar_registry_find(p->reg, svc->needs[i]);
		if (need == NULL) {
			rv = oscar_error_set(err, OSCAR_ENOENT,
			    "service %s needs service %s, which is not registered (is its module "
			    "loaded?)",
			    svc->name, svc->needs[i]);
		} else if ((need->roles & p->role) == 0) {
			rv = oscar_error_set(err, OSCAR_ENOENT,
			    "service %s needs service %s, which does not run on a %s", svc->name,
			    need->name, oscar_role_name(p->role));
		} else {
			rv = osc_plan_add(p, need, err);
		}
	}
	p->visiting[at] = false;
	if (rv == 0) {
		p->v[p->n++] = svc;
	}
	return (rv);
}

int osc_service_plan(const oscar_registry_t *reg, const oscar_settings_t *s, oscar_role_t role,
    const oscar_service_t ***planp, size_t *np, oscar_error_t *err)
{
	size_t     count = osc_registry_count(reg);
	osc_plan_t p     = { .reg = reg, .role = role };
	*planp           = NULL;
	*np              = 0;
	p.v              = calloc(count + 1, sizeof(*p.v));
	p.visiting       = calloc(count + 1, sizeof(*p.visiting));
	if (p.v == NULL || p.visiting == NULL) {
		free(p.v);
		free(p.visiting);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	int rv = 0;
	for (size_t i = 0; rv == 0 && i < count; i++) {
		const oscar_service_t *svc = osc_registry_at(reg, i);
		if ((svc->flags & OSCAR_SERVICE_ALWAYS) != 0 && (svc->roles & role) != 0) {
			rv = osc_plan_add(&p, svc, err);
		}
	}
	const char *wanted = oscar_settings_get(s, OSC_NODE_SECTION, "services");
	if (wanted == NULL) {
		for (size_t i = 0; rv == 0 && i < count; i++) {
			const oscar_service_t *svc = osc_registry_at(reg, i);
			if ((svc->roles & role) != 0) {
				rv = osc_plan_add(&p, svc, err);
			}
		}
	} else {
		char **names;
		size_t n;
		if (rv == 0 && osc_split_list(wanted, &names, &n) != 0) {
			rv = oscar_error_set(err, OSCAR_ENOMEM, "out of memory");
		} else if (rv == 0) {
			// A named service of the other role is skipped, so that one
			// file can serve both.
			for (size_t i = 0; rv == 0 && i < n; i++) {
				const oscar_service_t *svc = oscar_registry_find(reg, names[i]);
				if (svc == NULL) {
					rv = oscar_error_set(err, OSCAR_ENOENT,
					    "unknown service '%s' in node.services (is its module "
					    "loaded?)",
					    names[i]);
				} else if ((svc->roles & role) != 0) {
					rv = osc_plan_add(&p, svc, err);
				}
			}
			osc_free_list(names, n);
		}
	}
	free(p.visiting);
	if (rv != 0) {
		free(p.v);
		return (rv);
	}
	*planp = p.v;
	*np    = p.n;
	return (0);
}

static int osc_node_open_pool(oscar_node_t *node, oscar_error_t *err)
{
	const char *listen = osc_node_get(node, "listen");
	listen = listen != NULL ? listen : osc_node_default_listen(node->settings, node->role);
	node->classes = osc_registry_classes(node->registry);
	if (node->classes == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	node->modules_envv[0]   = node->modules_env;
	node->modules_envv[1]   = NULL;
	const char *secret_file = osc_node_get(node, "secret_file");
	void       *secret      = NULL;
	size_t      secret_len  = 0;
	int64_t     max_peers   = 256;
	int         rv;
	// Both were checked before the node started: a failure here is a
	// file changed since, reported as such.
	if (secret_file != NULL &&
	    (rv = oscar_secret_read(secret_file, &secret, &secret_len, err)) != 0) {
		return (rv);
	}
	if ((rv = oscar_settings_get_int(
	         node->settings, "node", "max_peers", 256, 1, 65536, &max_peers, err)) != 0) {
		oscar_secret_free(&secret, secret_len);
		return (rv);
	}

	oscar_pool_config_t cfg;
	oscar_pool_config_init(&cfg);
	cfg.address       = listen;
	cfg.classes       = node->classes;
	cfg.sub_pools     = node->facts.sub_pools;
	cfg.recover       = OSCAR_RECOVER_PROCESS;
	cfg.sub_pool_env  = node->modules_env != NULL ? node->modules_envv : NULL;
	cfg.tls_cert_file = osc_node_get(node, "tls_cert");
	cfg.tls_key_file  = osc_node_get(node, "tls_key");
	cfg.tls_ca_file   = osc_node_get(node, "tls_ca");
	cfg.secret        = secret;
	cfg.secret_len    = secret_len;
	cfg.max_peers     = (unsigned) max_peers;
	cfg.context       = node;
	cfg.context_tag   = &osc_node_tag;
	oscar_error_t perr;
	rv = oscar_pool_open(&node->pool, &cfg, &perr);
	oscar_secret_free(&secret, secret_len);
	if (rv != 0) {
		return (oscar_error_set(
		    err, rv, "cannot open the node's pool at %s: %s", listen, perr.message));
	}
	snprintf(node->address, sizeof(node->address), "%s", oscar_pool_address(node->pool));
	return (0);
}

static int osc_node_find_supervisor(oscar_node_t *node, oscar_error_t *err)
{
	if (node->role == OSCAR_ROLE_SUPERVISOR) {
		snprintf(node->supervisor, sizeof(node->supervisor), "%s", node->address);
		return (0);
	}
	const char *sup = osc_node_get(node, "supervisor");
	if (sup == NULL || sup[0] == '\0') {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "a worker needs its supervisor's address (--supervisor or node.supervisor)"));
	}
	if (strlen(sup) >= sizeof(node->supervisor)) {
		return (oscar_error_set(err, OSCAR_EINVAL, "node.supervisor is too long"));
	}
	snprintf(node->supervisor, sizeof(node->supervisor), "%s", sup);
	osc_node_warn_unreachable(node->address, node->supervisor);
	return (0);
}

// osc_node_write_address writes the node's address to node.address_file,
// through a temporary file and a rename, so that a reader never sees half
// of it.
static int osc_node_write_address(oscar_node_t *node, oscar_error_t *err)
{
	const char *path = osc_node_get(node, "address_file");
	if (path == NULL || path[0] == '\0') {
		return (0);
	}
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int) getpid());
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		return (oscar_error_set(err, OSCAR_ENOENT, "cannot write the address file %s: %s",
		    tmp, strerror(errno)));
	}
	bool ok = fprintf(f, "%s\n", node->address) > 0;
	ok      = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return (oscar_error_set(
		    err, OSCAR_ESYSTEM, "cannot write the address file %s: %s", path, strerror(e)));
	}
	snprintf(node->address_file, sizeof(node->address_file), "%s", path);
	return (0);
}

// ---------------------------------------------------------------------------
// Starting and stopping

static void osc_node_stop_services(oscar_node_t *node)
{
	while (node->n_running > 0) {
		osc_running_t *r = &node->running[--node->n_running];
		pthread_mutex_lock(&node->info_mu);
		node->n_info = node->n_running;
		pthread_mutex_unlock(&node->info_mu);
		oscar_log(OSCAR_LOG_DEBUG, "node", "stopping service %s", r->svc->name);
		if (r->svc->stop != NULL) {
			r->svc->stop(node, r->state);
		}
	}
}

static int osc_node_start_services(oscar_node_t *node, oscar_error_t *err)
{
	node->running = calloc(node->n_plan + 1, sizeof(*node->running));
	if (node->running == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	for (size_t i = 0; i < node->n_plan; i++) {
		const oscar_service_t *svc   = node->plan[i];
		void                  *state = NULL;
		oscar_error_t          why;
		memset(&why, 0, sizeof(why));
		oscar_log(OSCAR_LOG_DEBUG, "node", "starting service %s", svc->name);
		int rv = svc->start(node, &state, &why);
		if (rv != 0) {
			oscar_error_set(err, rv, "service %s failed to start: %s", svc->name,
			    why.message[0] != '\0' ? why.message : oscar_strerror(rv));
			osc_node_stop_services(node);
			return (rv);
		}
		node->running[node->n_running++] = (osc_running_t) { svc, state };
		pthread_mutex_lock(&node->info_mu);
		node->n_info = node->n_running;
		pthread_mutex_unlock(&node->info_mu);
	}
	return (0);
}

static void osc_node_free(oscar_node_t *node)
{
	oscar_pool_free(&node->pool);
	if (node->address_file[0] != '\0') {
		unlink(node->address_file);
	}
	if (node->stop_fd >= 0) {
		close(node->stop_fd);
	}
	osc_free_list(node->facts.labels, node->facts.n_labels);
	free(node->running);
	pthread_mutex_destroy(&node->info_mu);
	free(node->plan);
	free(node->classes);
	free(node->modules_env);
	oscar_settings_free(&node->settings);
	if (node->own_registry) {
		oscar_registry_free(&node->registry);
	}
	free(node);
}

int oscar_node_start(oscar_node_t **nodep, oscar_role_t role, const oscar_settings_t *settings,
    oscar_registry_t *registry, oscar_error_t *err)
{
	if (nodep == NULL || (role != OSCAR_ROLE_SUPERVISOR && role != OSCAR_ROLE_WORKER)) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no node pointer, or an unknown role"));
	}
	*nodep = NULL;
	if (err != NULL) {
		memset(err, 0, sizeof(*err)); // filled by whichever step fails
	}
	oscar_node_t *node = calloc(1, sizeof(*node));
	if (node == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	pthread_mutex_init(&node->info_mu, NULL);
	node->role    = role;
	node->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int rv        = node->stop_fd < 0
	                    ? oscar_error_set(err, OSCAR_ESYSTEM, "eventfd: %s", strerror(errno))
	                    : 0;
	if (rv == 0 && (rv = oscar_settings_new(&node->settings)) == 0) {
		rv = osc_settings_copy(node->settings, settings);
	}
	if (rv != 0 && err != NULL && err->code == 0) {
		oscar_error_set(err, rv, "cannot copy the settings: %s", oscar_strerror(rv));
	}
	if (rv == 0 && registry == NULL) {
		node->own_registry = true;
		rv                 = oscar_registry_new(&registry);
		if (rv != 0) {
			oscar_error_set(
			    err, rv, "cannot make a service registry: %s", oscar_strerror(rv));
		}
	}
	node->registry = registry;
	// Modules first: their services' settings are checked with the rest.
	rv = rv != 0
	         ? rv
	         : osc_node_load_modules(node->registry, node->settings, &node->modules_env, err);
	rv = rv != 0 ? rv : osc_node_check_settings(node->settings, role, node->registry, err);
	if (rv == 0) {
		// Logs are the process's: the node's settings set them (checked).
		oscar_log_setup(osc_node_get(node, "log_level"), osc_node_get(node, "log_format"));
	}
	rv = rv != 0 ? rv : osc_node_read_facts(node, err);
	rv = rv != 0 ? rv
	             : osc_service_plan(
	                   node->registry, node->settings, role, &node->plan, &node->n_plan, err);
	rv = rv != 0 ? rv : osc_node_open_pool(node, err);
	rv = rv != 0 ? rv : osc_node_find_supervisor(node, err);
	rv = rv != 0 ? rv : osc_node_start_services(node, err);
	// The node's own actor comes once every service has started, so that
	// its hooks never run on a node still starting, and before the node
	// publishes its address and reports itself ready, so that whoever
	// reads the address file, and the session service, find it.
	if (rv == 0 && ((rv = osc_hooks_open(node, &node->hooks, err)) != 0 ||
	                   (rv = osc_node_write_address(node, err)) != 0)) {
		osc_hooks_close(&node->hooks);
		osc_node_stop_services(node);
	}
	if (rv != 0) {
		osc_node_free(node);
		return (rv);
	}
	for (size_t i = 0; i < node->n_running; i++) {
		const osc_running_t *r = &node->running[i];
		if (r->svc->ready != NULL) {
			r->svc->ready(node, r->state);
		}
	}
	oscar_log(OSCAR_LOG_INFO, "node", "%s listening at %s with %u sub pools",
	    oscar_role_name(role), node->address, node->facts.sub_pools);
	*nodep = node;
	return (0);
}

void oscar_node_request_stop(oscar_node_t *node)
{
	if (node != NULL) {
		uint64_t one = 1;
		// Async-signal-safe; a full counter already means "stop".
		ssize_t n = write(node->stop_fd, &one, sizeof(one));
		(void) n;
	}
}

int oscar_node_wait(oscar_node_t *node, int64_t timeout_ms)
{
	if (node == NULL || timeout_ms < 0) {
		return (OSCAR_EINVAL);
	}
	// Clamped to OSCAR_TIMEOUT_MAX_MS, so that the sum cannot overflow.
	int64_t deadline =
	    osc_mono_ms() + (timeout_ms < OSCAR_TIMEOUT_MAX_MS ? timeout_ms : OSCAR_TIMEOUT_MAX_MS);
	for (;;) {
		int64_t left = deadline - osc_mono_ms();
		if (left < 0) {
			return (OSCAR_ETIMEDOUT);
		}
		struct pollfd pfd = { .fd = node->stop_fd, .events = POLLIN };
		int           n   = poll(&pfd, 1, left > 1000000 ? 1000000 : (int) left);
		if (n > 0) {
			return (0); // left readable: later waits return at once too
		}
		if (n < 0 && errno != EINTR) {
			return (OSCAR_ESYSTEM);
		}
	}
}

void oscar_node_stop(oscar_node_t **nodep)
{
	if (nodep == NULL || *nodep == NULL) {
		return;
	}
	oscar_node_t *node = *nodep;
	oscar_log(OSCAR_LOG_INFO, "node", "stopping");
	osc_hooks_close(&node->hooks);
	osc_node_stop_services(node);
	osc_node_free(node);
	*nodep = NULL;
}

int osc_node_stop_fd(const oscar_node_t *node)
{
	return (node->stop_fd);
}

oscar_pool_t *oscar_node_pool(oscar_node_t *node)
{
	return (node->pool);
}

oscar_role_t oscar_node_role(const oscar_node_t *node)
{
	return (node->role);
}

const char *oscar_node_address(const oscar_node_t *node)
{
	return (node->address);
}

const char *oscar_node_supervisor(const oscar_node_t *node)
{
	return (node->supervisor);
}

const oscar_settings_t *oscar_node_settings(const oscar_node_t *node)
{
	return (node->settings);
}

bool oscar_node_runs(const oscar_node_t *node, const char *name)
{
	for (size_t i = 0; node != NULL && name != NULL && i < node->n_running; i++) {
		if (strcmp(node->running[i].svc->name, name) == 0) {
			return (true);
		}
	}
	return (false);
}

oscar_node_t *oscar_node_of_actor(oscar_actor_t *self)
{
	return (self != NULL ? oscar_pool_context(oscar_actor_pool(self), &osc_node_tag) : NULL);
}

// ---------------------------------------------------------------------------
// Sessions

int oscar_node_session_create(oscar_node_t *node, const char *session_id, oscar_error_t *err)
{
	if (node == NULL || session_id == NULL || session_id[0] == '\0' ||
	    strlen(session_id) >= OSCAR_UID_MAX) {
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "a session id is 1 to %d bytes", OSCAR_UID_MAX - 1));
	}
	for (size_t i = 0; i < node->n_running; i++) {
		const osc_running_t *r = &node->running[i];
		if (r->svc->session_create == NULL) {
			continue;
		}
		oscar_error_t why;
		memset(&why, 0, sizeof(why));
		int rv = r->svc->session_create(node, r->state, session_id, &why);
		if (rv == 0) {
			continue;
		}
		oscar_error_set(err, rv, "service %s cannot create session %s: %s", r->svc->name,
		    session_id, why.message[0] != '\0' ? why.message : oscar_strerror(rv));
		// Undo what the services before it did, in reverse.
		while (i-- > 0) {
			const osc_running_t *u = &node->running[i];
			if (u->svc->session_destroy != NULL) {
				u->svc->session_destroy(node, u->state, session_id);
			}
		}
		return (rv);
	}
	return (0);
}

oscar_registry_t *osc_node_registry(oscar_node_t *node)
{
	return (node->registry);
}

void oscar_node_session_destroy(oscar_node_t *node, const char *session_id)
{
	if (node == NULL || session_id == NULL) {
		return;
	}
	for (size_t i = node->n_running; i-- > 0;) {
		const osc_running_t *r = &node->running[i];
		if (r->svc->session_destroy != NULL) {
			r->svc->session_destroy(node, r->state, session_id);
		}
	}
}

osc_hooks_t *osc_node_hooks(oscar_node_t *node)
{
	return (node->hooks);
}

int osc_node_info_fields(oscar_node_t *node, oscar_value_t *map)
{
	int rv = 0;
	pthread_mutex_lock(&node->info_mu);
	for (size_t i = 0; rv == 0 && i < node->n_info; i++) {
		const osc_running_t *r = &node->running[i];
		if (r->svc->info != NULL) {
			rv = r->svc->info(node, r->state, map);
		}
	}
	pthread_mutex_unlock(&node->info_mu);
	return (rv);
}

const osc_node_facts_t *osc_node_facts(const oscar_node_t *node)
{
	return (&node->facts);
}
