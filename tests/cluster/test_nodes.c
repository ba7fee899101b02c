// Nodes as real processes: oscar-supervisor and oscar-worker started by
// the test, looked at through the cluster API and the `oscar` command,
// stopped by signals and by the cluster, and refused for bad flags, files
// and modules.
//
// Every test has its own temporary directory and processes (support_procs.h
// reaps them whatever happens); nodes listen at tcp://127.0.0.1:0 (or at
// an ipc:// address in that directory), so tests may run side by side.
// Nothing sleeps for a guessed time: waits are for a condition (an
// address file, a log line, a registry change, an exit) up to DEADLINE_MS.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sys/stat.h>

#include "tests/cluster/support_procs.h"

TestSuite(nodes, .init = procs_setup, .fini = procs_teardown, .timeout = 240);

// Heartbeats fast enough that tests wait little, and a dead timeout long
// enough that a loaded machine never makes a live worker look dead.
#define STEADY_BEAT "--heartbeat-interval=200ms", "--dead-timeout=30s"
// The heartbeat-loss test's settings.
#define FAST_BEAT "--heartbeat-interval", "100ms", "--dead-timeout", "600ms"

typedef proc_node_t node_t;

// start_supervisor and start_worker start a node (procs_start_node), with
// the NULL-terminated flags given as their last arguments, and wait until
// it is up.
static node_t start_supervisor(const char *name, ...)
{
	va_list ap;
	va_start(ap, name);
	node_t n = procs_start_nodev(name, NULL, ap);
	va_end(ap);
	return (n);
}

static node_t start_worker(const char *name, const char *sup, ...)
{
	va_list ap;
	va_start(ap, sup);
	node_t n = procs_start_nodev(name, sup, ap);
	va_end(ap);
	return (n);
}

// stop_node sends sig to n and asserts that it exits with status 0 and
// removes its address file.
static void stop_node(node_t *n, int sig)
{
	proc_signal(n->proc, sig);
	int code = proc_wait_exit(n->proc);
	cr_assert_eq(code, 0, "%s exited with %d after signal %d; its standard error:\n%s",
	    n->proc->name, code, sig, proc_tail(n->proc));
	cr_assert_not(file_exists(n->addr_file), "%s left its address file behind", n->proc->name);
}

// wait_joined waits until the n workers w are ready in the registry and
// each has the supervisor's answer to its registration. The second half
// matters to tests that stop nodes next: the registry lists a worker as
// soon as the supervisor has taken its registration, while the answer may
// still be on its way, and a worker stopped then does not know it has
// anything to deregister from, nor can the supervisor tell it anything.
static void wait_joined(oscar_cluster_t *cl, node_t *w, size_t n)
{
	oscar_error_t err;
	int           rv = oscar_cluster_wait_workers(cl, n, DEADLINE_MS, &err);
	cr_assert_eq(rv, 0, "waiting for %zu workers: %s", n, err.message);
	for (size_t i = 0; i < n; i++) {
		proc_wait_output(w[i].proc, true, "registered with supervisor");
	}
}

static const oscar_node_info_t *find_node(
    const oscar_node_info_t *nodes, size_t n, const char *address)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(nodes[i].address, address) == 0) {
			return (&nodes[i]);
		}
	}
	return (NULL);
}

// A condition on the registry, for watch_until.
typedef bool (*nodes_pred_t)(const oscar_node_info_t *nodes, size_t n, const void *arg);

// registry_version gives the registry's version now: a watch from it
// answers with the next change.
static uint64_t registry_version(oscar_cluster_t *cl)
{
	uint64_t           version = 0;
	oscar_node_info_t *nodes;
	size_t             n;
	oscar_error_t      err;
	int                rv = oscar_cluster_watch(cl, &version, &nodes, &n, DEADLINE_MS, &err);
	cr_assert_eq(rv, 0, "reading the registry's version: %s", err.message);
	oscar_node_info_free(nodes, n);
	return (version);
}

// watch_until watches the registry from version (0: the first watch
// answers at once; else it waits for a change after that version) until
// pred holds, and returns the nodes then (free them with
// oscar_node_info_free).
static oscar_node_info_t *watch_until(oscar_cluster_t *cl, uint64_t version, nodes_pred_t pred,
    const void *arg, const char *what, size_t *n_out)
{
	int64_t end = procs_now_ms() + DEADLINE_MS;
	for (;;) {
		oscar_node_info_t *nodes;
		size_t             n;
		oscar_error_t      err;
		int64_t            left = end - procs_now_ms();
		cr_assert_gt(left, 0, "the registry never got to: %s", what);
		int rv = oscar_cluster_watch(cl, &version, &nodes, &n, left, &err);
		cr_assert_eq(rv, 0, "watching until %s: %s", what, err.message);
		if (pred(nodes, n, arg)) {
			*n_out = n;
			return (nodes);
		}
		oscar_node_info_free(nodes, n);
	}
}

static bool has_status(const oscar_node_info_t *nodes, size_t n, const void *arg)
{
	const char *const       *want = arg; // address, status name
	const oscar_node_info_t *node = find_node(nodes, n, want[0]);
	return (node != NULL && strcmp(oscar_node_status_name(node->status), want[1]) == 0);
}

static bool is_gone(const oscar_node_info_t *nodes, size_t n, const void *arg)
{
	return (find_node(nodes, n, arg) == NULL);
}

static bool workers_have_slots(const oscar_node_info_t *nodes, size_t n, const void *arg)
{
	size_t with = 0;
	for (size_t i = 0; i < n; i++) {
		with += nodes[i].role == OSCAR_ROLE_WORKER && nodes[i].slots == 1;
	}
	return (with == *(const size_t *) arg);
}

// sub_pools_of lists the sub pools of node n (its child processes).
static size_t sub_pools_of(const node_t *n, pid_t *pids, size_t max)
{
	return (proc_children(n->proc->pid, pids, max));
}

// ---------------------------------------------------------------------------
// Start, registration, status

Test(nodes, supervisor_writes_its_address)
{
	node_t sup = start_supervisor("sup", NULL);
	cr_assert(strncmp(sup.addr, "tcp://127.0.0.1:", 16) == 0 && atoi(sup.addr + 16) > 0,
	    "the address file holds '%s', not a tcp address with the port picked", sup.addr);
	char line[OSCAR_ADDR_MAX + 32];
	snprintf(line, sizeof(line), "listening at %s\n", sup.addr);
	proc_wait_output(sup.proc, false, "\n");
	char *out = proc_output(sup.proc, false);
	cr_assert_str_eq(out, line, "its standard output does not match the address file");
	free(out);
	stop_node(&sup, SIGTERM);
}

Test(nodes, workers_register_with_their_facts)
{
	node_t           sup = start_supervisor("sup", STEADY_BEAT, NULL);
	oscar_cluster_t *cl  = procs_client(sup.addr);
	// One after the other, so that their order in the registry is known.
	node_t w[2];
	for (size_t i = 0; i < 2; i++) {
		w[i] = start_worker(i == 0 ? "w1" : "w2", sup.addr, "--cores", "3", "--memory",
		    "1G", "--labels", "a,b", "--sub-pools", "1", STEADY_BEAT, NULL);
		wait_joined(cl, w, i + 1);
	}
	// The slots follow the sub pools, which report a moment later.
	size_t             two = 2, n;
	oscar_node_info_t *nodes =
	    watch_until(cl, 0, workers_have_slots, &two, "both workers have their sub pool up", &n);
	oscar_node_info_free(nodes, n);

	oscar_error_t err;
	cr_assert_eq(oscar_cluster_nodes(cl, OSCAR_ROLES_ALL, 0, &nodes, &n, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert_eq(n, 3, "supervisor and 2 workers expected, got %zu nodes", n);
	cr_assert_str_eq(nodes[0].address, sup.addr, "the supervisor comes first");
	cr_assert_eq(nodes[0].role, OSCAR_ROLE_SUPERVISOR);
	cr_assert_eq(nodes[0].status, OSCAR_NODE_READY);
	cr_assert_eq(nodes[0].pid, (int64_t) sup.proc->pid);
	for (size_t i = 0; i < 2; i++) {
		const oscar_node_info_t *nd = &nodes[1 + i];
		cr_assert_str_eq(nd->address, w[i].addr, "workers come in registration order");
		cr_assert_eq(nd->role, OSCAR_ROLE_WORKER);
		cr_assert_eq(nd->status, OSCAR_NODE_READY, "%s is %s", nd->address,
		    oscar_node_status_name(nd->status));
		cr_assert_eq(nd->pid, (int64_t) w[i].proc->pid);
		cr_assert_eq(nd->cores, 3);
		cr_assert_eq(nd->memory, (uint64_t) 1 << 30);
		cr_assert_eq(nd->sub_pools, 1);
		cr_assert_eq(nd->slots, 1);
		cr_assert_eq(nd->n_labels, 2);
		cr_assert_str_eq(nd->labels[0], "a");
		cr_assert_str_eq(nd->labels[1], "b");
		cr_assert_gt(nd->registered_ms, 0);
		cr_assert_gt(nd->heartbeat_ms, 0);
	}
	oscar_node_info_free(nodes, n);

	// Counts by role and status.
	size_t count;
	cr_assert_eq(oscar_cluster_count(cl, OSCAR_ROLE_WORKER, 0, &count, DEADLINE_MS, &err), 0,
	    "%s", err.message);
	cr_assert_eq(count, 2);
	cr_assert_eq(
	    oscar_cluster_count(cl, OSCAR_ROLES_ALL, OSCAR_NODE_READY, &count, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(count, 3);
	cr_assert_eq(
	    oscar_cluster_count(cl, OSCAR_ROLE_WORKER, OSCAR_NODE_DEAD, &count, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(count, 0);

	// Chosen fields of chosen nodes, as values.
	const char *const addrs[]  = { w[1].addr, NULL };
	const char *const fields[] = { "address", "cores", "labels", NULL };
	oscar_value_t    *info;
	cr_assert_eq(
	    oscar_cluster_nodes_info(cl, OSCAR_ROLES_ALL, addrs, fields, DEADLINE_MS, &info, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_len(info), 1, "one node asked for");
	const oscar_value_t *m = oscar_value_at(info, 0);
	cr_assert_eq(m->type, OSCAR_MAP);
	cr_assert_eq(
	    oscar_value_len(m), 3, "only the 3 fields asked for, got %zu", oscar_value_len(m));
	const char *s;
	uint64_t    cores;
	cr_assert_eq(oscar_value_get_str(oscar_value_map_get(m, "address"), &s, NULL), 0);
	cr_assert_str_eq(s, w[1].addr);
	cr_assert_eq(oscar_value_get_uint(oscar_value_map_get(m, "cores"), &cores), 0);
	cr_assert_eq(cores, 3);
	cr_assert_eq(oscar_value_len(oscar_value_map_get(m, "labels")), 2);
	oscar_value_free(info);

	// An address nobody registered.
	const char *const unknown[] = { "tcp://127.0.0.1:1", NULL };
	info                        = NULL;
	cr_assert_eq(
	    oscar_cluster_nodes_info(cl, OSCAR_ROLES_ALL, unknown, NULL, DEADLINE_MS, &info, &err),
	    OSCAR_ENOENT);
	cr_assert(strstr(err.message, "tcp://127.0.0.1:1") != NULL,
	    "the error names the address: %s", err.message);
	cr_assert_null(info);
}

// json_node copies into obj the object of the `oscar status --json`
// document whose "address" is address. Node objects hold no nested
// object, so one is a '{' whose next brace is a '}'.
static bool json_node(const char *doc, const char *address, char *obj, size_t size)
{
	char want[OSCAR_ADDR_MAX + 4];
	snprintf(want, sizeof(want), "\"%s\"", address);
	for (const char *p = strchr(doc, '{'); p != NULL; p = strchr(p + 1, '{')) {
		size_t len = strcspn(p + 1, "{}");
		if (p[1 + len] != '}') {
			continue;
		}
		snprintf(obj, size, "%.*s", (int) len, p + 1);
		const char *key = strstr(obj, "\"address\"");
		const char *val = key != NULL ? key + strlen("\"address\"") : NULL;
		while (val != NULL && (*val == ' ' || *val == ':')) {
			val++;
		}
		if (val != NULL && strncmp(val, want, strlen(want)) == 0) {
			return (true);
		}
	}
	return (false);
}

// json_value gives the text of key's value in obj (a string without its
// quotes, or a number), up to size bytes, or "" when it is missing.
static const char *json_value(const char *obj, const char *key, char *buf, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "\"%s\"", key);
	const char *p = strstr(obj, name);
	buf[0]        = '\0';
	if (p == NULL) {
		return (buf);
	}
	p += strlen(name);
	p += strspn(p, " \t\n:");
	if (*p == '"') {
		p++;
		snprintf(buf, size, "%.*s", (int) strcspn(p, "\""), p);
	} else {
		snprintf(buf, size, "%.*s", (int) strcspn(p, ",}] \n"), p);
	}
	return (buf);
}

Test(nodes, status_command_shows_the_nodes)
{
	node_t sup = start_supervisor("sup", STEADY_BEAT, NULL);
	node_t w   = start_worker("w1", sup.addr, "--labels", "gpu", "--cores", "2", NULL);
	wait_joined(procs_client(sup.addr), &w, 1);

	proc_t *help = proc_run("help", OSCAR_TEST_CLI, "status", "--help", NULL);
	cr_assert_eq(help->code, 0, "oscar status --help: %s", proc_tail(help));
	cr_assert(proc_output_has(help, false, "--json"), "oscar status --help mentions --json");

	proc_t *st = proc_run("status-json", OSCAR_TEST_CLI, "status", sup.addr, "--json", NULL);
	cr_assert_eq(st->code, 0, "oscar status --json: %s", proc_tail(st));
	char *doc = proc_output(st, false);
	char  obj[2048], v[256];
	cr_assert(json_node(doc, sup.addr, obj, sizeof(obj)), "no supervisor in:\n%s", doc);
	cr_assert_str_eq(json_value(obj, "role", v, sizeof(v)), "supervisor", "%s", obj);
	cr_assert_str_eq(json_value(obj, "status", v, sizeof(v)), "ready", "%s", obj);
	cr_assert(json_node(doc, w.addr, obj, sizeof(obj)), "no worker %s in:\n%s", w.addr, doc);
	cr_assert_str_eq(json_value(obj, "role", v, sizeof(v)), "worker", "%s", obj);
	cr_assert_str_eq(json_value(obj, "status", v, sizeof(v)), "ready", "%s", obj);
	cr_assert_str_eq(json_value(obj, "cores", v, sizeof(v)), "2", "%s", obj);
	cr_assert_eq(
	    atoll(json_value(obj, "pid", v, sizeof(v))), (long long) w.proc->pid, "%s", obj);
	cr_assert_eq(
	    json_value(obj, "labels", v, sizeof(v))[0], '[', "labels is an array: %s", obj);
	cr_assert(strstr(obj, "\"gpu\"") != NULL, "the labels are listed: %s", obj);
	free(doc);

	// The table says the same, for people.
	proc_t *table = proc_run("status", OSCAR_TEST_CLI, "status", sup.addr, NULL);
	cr_assert_eq(table->code, 0, "oscar status: %s", proc_tail(table));
	cr_assert(proc_output_has(table, false, w.addr), "the table lists the worker");
	cr_assert(proc_output_has(table, false, "ready"), "the table gives the statuses");

	// Nobody at that address: status 1 and a message, in bounded time.
	char nobody[PATH_MAX + 8], path[PATH_MAX];
	procs_path(path, sizeof(path), "nobody.sock");
	snprintf(nobody, sizeof(nobody), "ipc://%s", path);
	proc_t *none =
	    proc_run("status-none", OSCAR_TEST_CLI, "status", nobody, "--timeout", "1s", NULL);
	cr_assert_eq(none->code, 1, "oscar status of nobody exits with 1, not %d", none->code);
	cr_assert(proc_output_has(none, true, nobody), "the message names the address: %s",
	    proc_tail(none));
}

static bool a_worker_has_two_slots(const oscar_node_info_t *nodes, size_t n, const void *arg)
{
	(void) arg;
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].role == OSCAR_ROLE_WORKER && nodes[i].slots == 2) {
			return (true);
		}
	}
	return (false);
}

// Without --sub-pools, a worker has one sub pool, a task slot, per core
// it offers; the supervisor has none.
Test(nodes, a_worker_without_sub_pools_given_has_one_per_core)
{
	node_t           sup = start_supervisor("sup", STEADY_BEAT, NULL);
	oscar_cluster_t *cl  = procs_client(sup.addr);
	node_t           w   = start_worker("w1", sup.addr, "--cores", "2", STEADY_BEAT, NULL);
	wait_joined(cl, &w, 1);
	size_t             n;
	oscar_node_info_t *nodes =
	    watch_until(cl, 0, a_worker_has_two_slots, NULL, "the worker has two slots", &n);
	const oscar_node_info_t *nd = find_node(nodes, n, w.addr);
	cr_assert_not_null(nd);
	cr_assert_eq(nd->sub_pools, 2);
	cr_assert_eq(nd->slots, 2);
	nd = find_node(nodes, n, sup.addr);
	cr_assert_not_null(nd);
	cr_assert_eq(nd->sub_pools, 0);
	oscar_node_info_free(nodes, n);
	pid_t subs[4];
	cr_assert_eq(sub_pools_of(&w, subs, 4), 2, "the worker has two sub pools");
	cr_assert_eq(sub_pools_of(&sup, subs, 4), 0, "the supervisor has no sub pool");
	stop_node(&w, SIGTERM);
	stop_node(&sup, SIGTERM);
}

// ---------------------------------------------------------------------------
// Losing and stopping nodes

Test(nodes, killed_worker_is_marked_dead)
{
	node_t           sup = start_supervisor("sup", FAST_BEAT, NULL);
	oscar_cluster_t *cl  = procs_client(sup.addr);
	node_t           w   = start_worker("w1", sup.addr, "--sub-pools", "1", FAST_BEAT, NULL);
	wait_joined(cl, &w, 1);
	pid_t sub;
	cr_assert_eq(sub_pools_of(&w, &sub, 1), 1, "the worker has one sub pool");

	// A watch from before the kill is told of the worker's death.
	uint64_t version = registry_version(cl);
	proc_sigkill(w.proc);
	const char *const  dead[] = { w.addr, "dead" };
	size_t             n;
	oscar_node_info_t *nodes =
	    watch_until(cl, version, has_status, dead, "the worker is dead", &n);
	const oscar_node_info_t *nd = find_node(nodes, n, w.addr);
	cr_assert_gt(nd->heartbeat_age_ms, 600, "marked dead after %lld ms without heartbeats",
	    (long long) nd->heartbeat_age_ms);
	oscar_node_info_free(nodes, n);

	oscar_error_t err;
	size_t        count;
	cr_assert_eq(
	    oscar_cluster_count(cl, OSCAR_ROLE_WORKER, OSCAR_NODE_DEAD, &count, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(count, 1);
	cr_assert(proc_output_has(sup.proc, true, "marked dead"), "the supervisor logs it");
	// Its sub pool dies with it (its death signal), not at once.
	int64_t end = procs_now_ms() + DEADLINE_MS;
	while (pid_alive(sub) && procs_now_ms() < end) {
		usleep(5000);
	}
	cr_assert_not(pid_alive(sub), "the sub pool %d outlived its killed worker", (int) sub);
	stop_node(&sup, SIGTERM);
}

Test(nodes, sigterm_deregisters_a_worker_and_stops_its_sub_pools)
{
	node_t           sup = start_supervisor("sup", STEADY_BEAT, NULL);
	oscar_cluster_t *cl  = procs_client(sup.addr);
	node_t           w[2];
	w[0] = start_worker("w1", sup.addr, "--sub-pools", "2", NULL);
	w[1] = start_worker("w2", sup.addr, NULL);
	wait_joined(cl, w, 2);
	pid_t subs[4];
	cr_assert_eq(sub_pools_of(&w[0], subs, 4), 2, "the worker has two sub pools");

	uint64_t version = registry_version(cl);
	stop_node(&w[0], SIGTERM);
	cr_assert(proc_output_has(w[0].proc, true, "SIGTERM"), "its log says why it stopped");
	for (size_t i = 0; i < 2; i++) {
		cr_assert_not(pid_alive(subs[i]), "sub pool %d outlived its worker", (int) subs[i]);
	}
	procs_assert_no_orphans();

	size_t             n;
	oscar_node_info_t *nodes =
	    watch_until(cl, version, is_gone, w[0].addr, "the worker has left", &n);
	cr_assert_eq(n, 2, "the supervisor and the other worker remain");
	const oscar_node_info_t *other = find_node(nodes, n, w[1].addr);
	cr_assert_not_null(other);
	cr_assert_eq(other->status, OSCAR_NODE_READY);
	oscar_node_info_free(nodes, n);
	cr_assert(proc_output_has(sup.proc, true, "left"), "the supervisor logs the leave");
}

Test(nodes, sigint_stops_the_supervisor_and_tells_the_workers)
{
	node_t sup = start_supervisor("sup", STEADY_BEAT, NULL);
	node_t w[2];
	w[0] = start_worker("w1", sup.addr, NULL);
	w[1] = start_worker("w2", sup.addr, NULL);
	wait_joined(procs_client(sup.addr), w, 2);

	stop_node(&sup, SIGINT);
	for (size_t i = 0; i < 2; i++) {
		proc_wait_output(w[i].proc, true, "going away");
		// Told, the workers wait for a supervisor to come back: still up,
		// still serving.
		cr_assert(proc_running(w[i].proc), "%s stopped with its supervisor", w[i].addr);
		oscar_ref_t ref;
		bool        exists = false;
		cr_assert_eq(oscar_ref_make(&ref, w[i].addr, OSCAR_CLUSTER_UID), 0);
		cr_assert_eq(oscar_has(procs_client_pool(), &ref, &exists, DEADLINE_MS), 0);
		cr_assert(exists, "%s still runs its cluster service", w[i].addr);
	}
	for (size_t i = 0; i < 2; i++) {
		stop_node(&w[i], SIGTERM);
	}
}

Test(nodes, cluster_stop_stops_every_node)
{
	node_t           sup = start_supervisor("sup", STEADY_BEAT, NULL);
	oscar_cluster_t *cl  = procs_client(sup.addr);
	node_t           w[2];
	w[0] = start_worker("w1", sup.addr, "--sub-pools", "1", NULL);
	w[1] = start_worker("w2", sup.addr, NULL);
	wait_joined(cl, w, 2);

	oscar_error_t err;
	cr_assert_eq(oscar_cluster_stop(cl, DEADLINE_MS, &err), 0, "%s", err.message);
	node_t *all[] = { &w[0], &w[1], &sup };
	for (size_t i = 0; i < 3; i++) {
		int code = proc_wait_exit(all[i]->proc);
		cr_assert_eq(code, 0, "%s exited with %d; its standard error:\n%s",
		    all[i]->proc->name, code, proc_tail(all[i]->proc));
		cr_assert_not(
		    file_exists(all[i]->addr_file), "%s left its address file", all[i]->proc->name);
	}
	cr_assert(proc_output_has(w[0].proc, true, "stops the cluster"), "the worker says why");
	procs_assert_no_orphans();
}

Test(nodes, stop_command_stops_every_node)
{
	node_t sup = start_supervisor("sup", STEADY_BEAT, NULL);
	node_t w   = start_worker("w1", sup.addr, NULL);
	wait_joined(procs_client(sup.addr), &w, 1);

	proc_t *stop = proc_run("stop", OSCAR_TEST_CLI, "stop", sup.addr, NULL);
	cr_assert_eq(stop->code, 0, "oscar stop: %s", proc_tail(stop));
	cr_assert_eq(proc_wait_exit(w.proc), 0, "%s", proc_tail(w.proc));
	cr_assert_eq(proc_wait_exit(sup.proc), 0, "%s", proc_tail(sup.proc));
}

// A worker may start before its supervisor: it keeps trying, and joins
// once the supervisor is up. The supervisor's address is known before it
// starts because it is an ipc:// path in the test's directory (a tcp port
// chosen in advance might be taken).
Test(nodes, worker_started_first_registers_later)
{
	char path[PATH_MAX], sock[PATH_MAX + 8];
	procs_path(path, sizeof(path), "sup.sock");
	snprintf(sock, sizeof(sock), "ipc://%s", path);
	node_t w = start_worker("w1", sock, "--heartbeat-interval", "100ms", NULL);
	proc_wait_output(w.proc, true, "not reachable yet");

	node_t sup = start_supervisor("sup", "--listen", sock, NULL);
	cr_assert_str_eq(sup.addr, sock);
	wait_joined(procs_client(sup.addr), &w, 1);
	stop_node(&w, SIGTERM);
	stop_node(&sup, SIGTERM);
}

// ---------------------------------------------------------------------------
// Refusals: flags, files, modules, services

// run_refused runs argv and asserts that it exits with status code and
// that its standard error holds each of says (up to n_says of them, or the
// first NULL), having started no node.
static void run_refused(
    const char *name, const char *const *argv, int code, const char *const *says, size_t n_says)
{
	proc_t *p = proc_startv(name, argv);
	int     c = proc_wait_exit(p);
	cr_assert_eq(c, code, "%s: exit status %d, %d expected; its standard error:\n%s", name, c,
	    code, proc_tail(p));
	for (size_t i = 0; i < n_says && says[i] != NULL; i++) {
		cr_assert(proc_output_has(p, true, says[i]),
		    "%s: its standard error does not say '%s':\n%s", name, says[i], proc_tail(p));
	}
	char *out = proc_output(p, false);
	cr_assert_eq(strstr(out, "listening at"), NULL, "%s started a node", name);
	free(out);
}

#define SUP    OSCAR_TEST_SUPERVISOR
#define WORKER OSCAR_TEST_WORKER

// A program, up to 4 flags, and what its standard error must say.
typedef struct refusal {
	const char *prog;
	const char *args[4];
	const char *says[2];
} refusal_t;

Test(nodes, bad_flags_exit_with_status_2)
{
	static const refusal_t cases[] = {
		{ SUP, { "--bogus" }, { "unknown flag '--bogus'" } },
		{ SUP, { "--listen" }, { "--listen", "needs a value" } },
		{ SUP, { "--sub-pools", "x" }, { "sub_pools", "'x'" } },
		{ SUP, { "--memory", "12Q" }, { "memory", "12Q" } },
		{ SUP, { "--log-level", "loud" }, { "log_level", "loud" } },
		{ SUP, { "--set", "foo" }, { "--set 'foo'", "SECTION.KEY=VALUE" } },
		{ SUP, { "--set", "node.cores" }, { "--set 'node.cores'", "SECTION.KEY=VALUE" } },
		{ SUP, { "--supervisor", "tcp://127.0.0.1:1" }, { "unknown flag '--supervisor'" } },
		{ SUP, { "stray" }, { "unexpected argument 'stray'" } },
		{ WORKER, { "--cores", "2" }, { "supervisor" } },
		{ WORKER, { "--supervisor", "tcp://127.0.0.1:1", "--cores", "0" }, { "cores" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = { cases[i].prog };
		for (size_t j = 0; j < 4 && cases[i].args[j] != NULL; j++) {
			argv[1 + j] = cases[i].args[j];
		}
		char name[32];
		snprintf(name, sizeof(name), "case%zu", i);
		run_refused(name, argv, 2, cases[i].says, 2);
	}
}

Test(nodes, help_and_version)
{
	static const char *const common[] = { "--listen", "--sub-pools", "--cores", "--memory",
		"--labels", "--config", "--load-modules", "--services", "--address-file",
		"--heartbeat-interval", "--dead-timeout", "--tls-cert", "--tls-key", "--tls-ca",
		"--log-level", "--log-format", "--set", "--help", "--version", NULL };

	const char *const progs[] = { SUP, WORKER };
	for (size_t i = 0; i < 2; i++) {
		proc_t *p = proc_run(i == 0 ? "sup-help" : "worker-help", progs[i], "--help", NULL);
		cr_assert_eq(p->code, 0, "--help exits with 0: %s", proc_tail(p));
		char *out = proc_output(p, false);
		for (size_t j = 0; common[j] != NULL; j++) {
			cr_assert(strstr(out, common[j]) != NULL, "%s --help does not mention %s",
			    progs[i], common[j]);
		}
		bool sup_flag = strstr(out, "--supervisor") != NULL;
		cr_assert(i == 0 ? !sup_flag : sup_flag,
		    "--supervisor is a worker's flag only (%s --help)", progs[i]);
		free(out);
	}
	proc_t *h = proc_run("sup-h", SUP, "-h", NULL);
	cr_assert_eq(h->code, 0);
	cr_assert(proc_output_has(h, false, "--listen"), "-h is --help");

	proc_t *v = proc_run("sup-version", SUP, "--version", NULL);
	cr_assert_eq(v->code, 0);
	char *out = proc_output(v, false);
	cr_assert_str_eq(out, "oscar-supervisor " OSCAR_VERSION "\n");
	free(out);
	v = proc_run("worker-version", WORKER, "--version", NULL);
	cr_assert_eq(v->code, 0);
	out = proc_output(v, false);
	cr_assert_str_eq(out, "oscar-worker " OSCAR_VERSION "\n");
	free(out);
}

// refuse_config writes text to the file name (unless text is NULL), runs a
// supervisor with --config that file and asserts it exits with status 2,
// naming the file and saying what follows.
static void refuse_config(const char *name, const char *text, const char *say1, const char *say2)
{
	char path[PATH_MAX];
	procs_path(path, sizeof(path), name);
	if (text != NULL) {
		file_write(path, text);
	}
	const char *argv[] = { SUP, "--config", path, NULL };
	const char *says[] = { path, say1, say2 };
	char        run[64];
	snprintf(run, sizeof(run), "run-%s", name);
	run_refused(run, argv, 2, says, 3);
}

Test(nodes, bad_configuration_files_exit_with_status_2)
{
	refuse_config("missing.ini", NULL, "cannot read", NULL);
	refuse_config(
	    "syntax.ini", "[node]\nlisten = tcp://127.0.0.1:0\n[broken\n", "line 3", NULL);
	// These name the setting instead of the file.
	char path[PATH_MAX];
	procs_path(path, sizeof(path), "unknown.ini");
	file_write(path, "[node]\nlisten = tcp://127.0.0.1:0\nbogus = 1\n");
	const char *argv[]  = { SUP, "--config", path, NULL };
	const char *bogus[] = { "node.bogus" };
	run_refused("run-unknown", argv, 2, bogus, 1);
	procs_path(path, sizeof(path), "timeouts.ini");
	file_write(path, "[cluster]\nheartbeat_interval = 1s\ndead_timeout = 1s\n");
	const char *timeouts[] = { "dead_timeout", "heartbeat_interval" };
	run_refused("run-timeouts", argv, 2, timeouts, 2);
}

Test(nodes, modules_that_fail_to_load_stop_the_node)
{
	char missing[PATH_MAX];
	procs_path(missing, sizeof(missing), "missing.so");
	const char *const paths[] = { missing, OSCAR_TEST_MODULE_NOINIT,
		OSCAR_TEST_MODULE_FAILINIT };
	const char *const why[]   = { "cannot load module", "has no oscar_module_init",
		  "this test module always refuses" };
	for (size_t i = 0; i < 3; i++) {
		char file[PATH_MAX], name[32];
		snprintf(name, sizeof(name), "module%zu", i);
		procs_path(file, sizeof(file), name);
		const char *argv[] = { SUP, "--load-modules", paths[i], "--address-file", file,
			NULL };
		const char *says[] = { paths[i], why[i] };
		run_refused(name, argv, 1, says, 2);
		cr_assert_not(file_exists(file), "an address file was written");
	}
}

Test(nodes, service_that_fails_to_start_stops_the_node)
{
#ifndef OSCAR_TEST_GREETER
	cr_skip_test("the examples (the greeter module) are not built");
#else
	char file[PATH_MAX], nobody[PATH_MAX + 8], path[PATH_MAX];
	procs_path(file, sizeof(file), "node.addr");
	procs_path(path, sizeof(path), "nobody.sock");
	snprintf(nobody, sizeof(nobody), "ipc://%s", path);
	const char *says[] = { "service greeter failed to start", "greeter.fail_start" };
	// Both roles: the supervisor, and a worker whose supervisor is not
	// there (its cluster service, started first, is still trying to
	// register when the greeter fails).
	const char *sup[] = { SUP, "--load-modules", OSCAR_TEST_GREETER, "--set",
		"greeter.fail_start=true", "--sub-pools", "1", "--address-file", file, NULL };
	run_refused("sup", sup, 1, says, 2);
	procs_assert_no_orphans();
	const char *worker[] = { WORKER, "--supervisor", nobody, "--load-modules",
		OSCAR_TEST_GREETER, "--set", "greeter.fail_start=true", "--sub-pools", "1",
		"--address-file", file, NULL };
	run_refused("worker", worker, 1, says, 2);
	procs_assert_no_orphans();
	cr_assert_not(file_exists(file), "an address file was written");
#endif
}

// ---------------------------------------------------------------------------
// A custom service, and configuration files

Test(nodes, greeter_service_end_to_end)
{
#ifndef OSCAR_TEST_GREETER
	cr_skip_test("the examples (the greeter module) are not built");
#else
	node_t sup = start_supervisor("sup", "--load-modules", OSCAR_TEST_GREETER, NULL);
	node_t w   = start_worker("w1", sup.addr, "--load-modules", OSCAR_TEST_GREETER, "--set",
	      "greeter.greeting=Hi", "--sub-pools", "1", NULL);
	wait_joined(procs_client(sup.addr), &w, 1);

	proc_t *client = proc_run("client", OSCAR_TEST_GREETER_CLIENT, sup.addr, "tests", NULL);
	cr_assert_eq(client->code, 0, "oscar-greeter-client: %s", proc_tail(client));
	char line[OSCAR_ADDR_MAX + 64];
	snprintf(line, sizeof(line), "Hello, tests, from %s\n", sup.addr);
	cr_assert(proc_output_has(client, false, line), "the supervisor greets: %s", line);
	snprintf(line, sizeof(line), "Hi, tests, from %s\n", w.addr);
	cr_assert(proc_output_has(client, false, line), "the worker greets its way: %s", line);
	cr_assert(proc_output_has(client, false, "new greeter Bonjour, tests, from "),
	    "a greeter created by class name greets");

	// The same service called directly, by its actor's uid.
	oscar_ref_t    ref;
	oscar_value_t *reply;
	oscar_error_t  err;
	const char    *s;
	uint64_t       count;
	cr_assert_eq(oscar_ref_make(&ref, w.addr, "greeter"), 0);
	cr_assert_eq(oscar_call(procs_client_pool(), &ref, "greet", oscar_value_new_str("direct"),
	                 DEADLINE_MS, &reply, &err),
	    0, "%s", err.message);
	cr_assert_eq(oscar_value_get_str(reply, &s, NULL), 0);
	snprintf(line, sizeof(line), "Hi, direct, from %s", w.addr);
	cr_assert_str_eq(s, line);
	oscar_value_free(reply);
	cr_assert_eq(
	    oscar_call(procs_client_pool(), &ref, "count", NULL, DEADLINE_MS, &reply, &err), 0,
	    "%s", err.message);
	cr_assert_eq(oscar_value_get_uint(reply, &count), 0);
	cr_assert_eq(count, 2, "the client's greeting and ours");
	oscar_value_free(reply);
	stop_node(&w, SIGTERM);
	stop_node(&sup, SIGTERM);
	procs_assert_no_orphans();
#endif
}

Test(nodes, configuration_file_with_a_flag_over_it)
{
	node_t           sup = start_supervisor("sup", STEADY_BEAT, NULL);
	oscar_cluster_t *cl  = procs_client(sup.addr);
	char             ini[PATH_MAX], addr_file[PATH_MAX], text[2 * PATH_MAX];
	procs_path(ini, sizeof(ini), "worker.ini");
	procs_path(addr_file, sizeof(addr_file), "w1.addr");
	snprintf(text, sizeof(text),
	    "# a worker configured by its file\n"
	    "[node]\n"
	    "supervisor = %s\n"
	    "address_file = %s\n"
	    "labels = from-file,other\n"
	    "cores = 5\n"
	    "memory = 2G\n"
	    "\n"
	    "[cluster]\n"
	    "heartbeat_interval = 200ms\n"
	    "dead_timeout = 30s\n",
	    sup.addr, addr_file);
	file_write(ini, text);
	// The flag wins over the file.
	node_t w = { .proc =
		         proc_start("w1", WORKER, "--config", ini, "--labels", "from-flag", NULL) };
	snprintf(w.addr_file, sizeof(w.addr_file), "%s", addr_file);
	proc_wait_address(w.proc, w.addr_file, w.addr, sizeof(w.addr));
	wait_joined(cl, &w, 1);

	oscar_node_info_t *nodes;
	size_t             n;
	oscar_error_t      err;
	cr_assert_eq(oscar_cluster_nodes(cl, OSCAR_ROLE_WORKER, 0, &nodes, &n, DEADLINE_MS, &err),
	    0, "%s", err.message);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(nodes[0].address, w.addr);
	cr_assert_eq(nodes[0].cores, 5, "cores from the file");
	cr_assert_eq(nodes[0].memory, (uint64_t) 2 << 30, "memory from the file");
	cr_assert_eq(nodes[0].n_labels, 1, "the flag's labels replace the file's");
	cr_assert_str_eq(nodes[0].labels[0], "from-flag");
	oscar_node_info_free(nodes, n);
	stop_node(&w, SIGTERM);
}

// ---------------------------------------------------------------------------
// The cluster secret

// secret_file writes a secret of its own into the test's directory as
// name, readable by its owner only, and gives its path in path.
static void secret_file(char *path, size_t size, const char *name, const char *text)
{
	procs_path(path, size, name);
	file_write(path, text);
	cr_assert_eq(chmod(path, 0600), 0, "chmod %s", path);
}

Test(nodes, a_cluster_secret_keeps_out_whoever_does_not_know_it)
{
	char good[PATH_MAX], other[PATH_MAX], shorty[PATH_MAX];
	secret_file(
	    good, sizeof(good), "good.secret", "a cluster secret of forty-one bytes long.\n");
	secret_file(other, sizeof(other), "other.secret", "another secret, also long enough.\n");
	secret_file(shorty, sizeof(shorty), "short.secret", "short\n");

	// A secret that cannot be used stops the node before it starts,
	// naming the file: exit 2 as for any bad value.
	proc_t *bad = proc_run("bad-secret", OSCAR_TEST_SUPERVISOR, "--secret-file", shorty, NULL);
	cr_assert_eq(bad->code, 2, "a short secret exits 2, not %d: %s", bad->code, proc_tail(bad));
	cr_assert(
	    proc_output_has(bad, true, "short.secret"), "the file is named: %s", proc_tail(bad));
	char missing[PATH_MAX];
	procs_path(missing, sizeof(missing), "missing.secret");
	proc_t *none = proc_run("no-secret", OSCAR_TEST_WORKER, "--supervisor", "tcp://127.0.0.1:1",
	    "--secret-file", missing, NULL);
	cr_assert_eq(none->code, 2, "a missing secret exits 2, not %d", none->code);
	cr_assert(proc_output_has(none, true, "missing.secret"), "%s", proc_tail(none));

	// A supervisor and a worker that share the secret make a cluster,
	// and `oscar status` that knows it sees both.
	node_t sup = start_supervisor("sup", STEADY_BEAT, "--secret-file", good, NULL);
	node_t w   = start_worker("w1", sup.addr, STEADY_BEAT, "--secret-file", good, NULL);
	proc_wait_output(w.proc, true, "registered with supervisor");
	proc_t *st = proc_run(
	    "status-secret", OSCAR_TEST_CLI, "status", sup.addr, "--secret-file", good, NULL);
	cr_assert_eq(st->code, 0, "oscar status with the secret: %s", proc_tail(st));
	cr_assert(proc_output_has(st, false, w.addr), "the worker is listed");

	// Without the secret, or with another one, nothing is answered: the
	// supervisor drops the frames, and the command gives up in its time.
	proc_t *blind =
	    proc_run("status-blind", OSCAR_TEST_CLI, "status", sup.addr, "--timeout", "1s", NULL);
	cr_assert_eq(
	    blind->code, 1, "oscar status without the secret exits 1, not %d", blind->code);
	proc_t *wrong = proc_run("status-wrong", OSCAR_TEST_CLI, "status", sup.addr, "--timeout",
	    "1s", "--secret-file", other, NULL);
	cr_assert_eq(
	    wrong->code, 1, "oscar status with another secret exits 1, not %d", wrong->code);
	// A stop without the secret stops nothing.
	proc_t *stop_blind =
	    proc_run("stop-blind", OSCAR_TEST_CLI, "stop", sup.addr, "--timeout", "1s", NULL);
	cr_assert_eq(stop_blind->code, 1, "oscar stop without the secret exits 1");
	cr_assert(proc_running(sup.proc) && proc_running(w.proc), "nothing was stopped");

	// A worker with another secret never joins: after a worker with the
	// right one registers, the registry still holds one worker.
	node_t intruder =
	    start_worker("w-other", sup.addr, STEADY_BEAT, "--secret-file", other, NULL);
	node_t w2 = start_worker("w2", sup.addr, STEADY_BEAT, "--secret-file", good, NULL);
	proc_wait_output(w2.proc, true, "registered with supervisor");
	proc_t *st2 = proc_run("status-after", OSCAR_TEST_CLI, "status", sup.addr, "--json",
	    "--secret-file", good, NULL);
	cr_assert_eq(st2->code, 0, "%s", proc_tail(st2));
	cr_assert(proc_output_has(st2, false, w2.addr), "the second worker joined");
	cr_assert_not(proc_output_has(st2, false, intruder.addr), "the intruder is not listed");
	cr_assert_not(proc_output_has(intruder.proc, true, "registered with supervisor"),
	    "the intruder never registered");

	// The stop that knows the secret stops the cluster.
	proc_t *stop =
	    proc_run("stop", OSCAR_TEST_CLI, "stop", sup.addr, "--secret-file", good, NULL);
	cr_assert_eq(stop->code, 0, "oscar stop with the secret: %s", proc_tail(stop));
	cr_assert_eq(proc_wait_exit(sup.proc), 0);
	cr_assert_eq(proc_wait_exit(w.proc), 0);
	cr_assert_eq(proc_wait_exit(w2.proc), 0);
	stop_node(&intruder, SIGTERM);
}
