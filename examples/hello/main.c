// oscar-hello: shows the actor system at work.
//
// First two pools in this process, each with its own thread. In each: a
// "bank account" actor, calls that change and read its state, an actor
// calling another actor (a teller that holds itself busy while it waits
// for the account), a batch, a one-way tell, and errors coming back with
// where they happened. Then a main pool with two sub pools, each a process
// of its own running this same program: accounts created there by class
// name, calls across processes, and a sub pool killed and recovered.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oscar/oscar.h"

// ---------------------------------------------------------------------------
// account: a balance that cannot go below zero.

typedef struct account {
	int64_t balance;
} account_t;

static int account_create(oscar_actor_t *self, const oscar_value_t *args)
{
	account_t *acc = oscar_actor_state(self);
	if (args != NULL && oscar_value_get_int(args, &acc->balance) != 0) {
		return (OSCAR_EBADARGS);
	}
	printf("  [%s] opened with balance %" PRId64 "\n", oscar_actor_uid(self), acc->balance);
	return (0);
}

static void account_destroy(oscar_actor_t *self)
{
	account_t *acc = oscar_actor_state(self);
	printf("  [%s] closed with balance %" PRId64 "\n", oscar_actor_uid(self), acc->balance);
}

static int account_deposit(oscar_actor_t *self, oscar_req_t *req)
{
	account_t *acc = oscar_actor_state(self);
	int64_t    n;
	if (oscar_value_get_int(oscar_req_args(req), &n) != 0 || n <= 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "deposit takes a positive int"));
	}
	acc->balance += n;
	return (oscar_req_reply(req, oscar_value_new_int(acc->balance)));
}

static int account_withdraw(oscar_actor_t *self, oscar_req_t *req)
{
	account_t *acc = oscar_actor_state(self);
	int64_t    n;
	if (oscar_value_get_int(oscar_req_args(req), &n) != 0 || n <= 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "withdraw takes a positive int"));
	}
	if (n > acc->balance) {
		return (oscar_req_fail(req, OSCAR_EUSER + 1,
		    "insufficient funds: balance %" PRId64 ", asked %" PRId64, acc->balance, n));
	}
	acc->balance -= n;
	return (oscar_req_reply(req, oscar_value_new_int(acc->balance)));
}

static int account_balance(oscar_actor_t *self, oscar_req_t *req)
{
	account_t *acc = oscar_actor_state(self);
	return (oscar_req_reply(req, oscar_value_new_int(acc->balance)));
}

static const oscar_method_t account_methods[] = {
	{ "deposit", account_deposit, NULL },
	{ "withdraw", account_withdraw, NULL },
	{ "balance", account_balance, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t account_class = {
	.name       = "account",
	.state_size = sizeof(account_t),
	.create     = account_create,
	.destroy    = account_destroy,
	.methods    = account_methods,
};

// ---------------------------------------------------------------------------
// teller: asks the account for its balance on behalf of a client, holding
// itself busy while it waits (Oscar's default), then answers a report.

static void teller_got_balance(oscar_actor_t *self, oscar_result_t *res, void *arg)
{
	oscar_req_t *req = arg;
	int64_t      balance;
	char         line[96];
	if (res->code != 0) {
		oscar_req_fail_result(req, res);
		return;
	}
	oscar_value_get_int(res->value, &balance);
	snprintf(line, sizeof(line), "account holds %" PRId64, balance);
	oscar_req_reply(req, oscar_value_new_str(line));
}

static int teller_report(oscar_actor_t *self, oscar_req_t *req)
{
	const char *uid;
	oscar_ref_t acc;
	int         rv;
	if (oscar_value_get_str(oscar_req_args(req), &uid, NULL) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "report takes an account uid"));
	}
	if ((rv = oscar_ref_make(&acc, oscar_actor_ref(self)->addr, uid)) != 0) {
		return (rv);
	}
	if ((rv = oscar_req_call(req, &acc, "balance", NULL, 0, teller_got_balance, req, NULL)) !=
	    0) {
		return (rv);
	}
	return (oscar_req_defer(req, OSCAR_DEFER_HOLD));
}

static const oscar_method_t teller_methods[] = {
	{ "report", teller_report, NULL },
	{ NULL, NULL, NULL },
};

static const oscar_actor_class_t teller_class = {
	.name    = "teller",
	.methods = teller_methods,
};

// ---------------------------------------------------------------------------

static int show(const char *what, int rv, oscar_value_t *reply, const oscar_error_t *err)
{
	char buf[512];
	if (rv == 0 && reply == NULL) {
		printf("  %-34s -> ok\n", what);
	} else if (rv == 0) {
		oscar_value_format(reply, buf, sizeof(buf));
		printf("  %-34s -> %s\n", what, buf);
	} else {
		oscar_error_format(err, buf, sizeof(buf));
		printf("  %-34s -> error %s\n", what, buf);
	}
	oscar_value_free(reply);
	return (rv);
}

static int run_pool(const char *name)
{
	oscar_pool_config_t cfg;
	oscar_pool_t       *pool;
	oscar_ref_t         acc, teller, ghost;
	oscar_value_t      *reply;
	oscar_error_t       err;
	int                 rv;

	oscar_pool_config_init(&cfg);
	cfg.address = name;
	if ((rv = oscar_pool_open(&pool, &cfg, &err)) != 0) {
		fprintf(stderr, "oscar-hello: cannot open pool: %s\n", err.message);
		return (1);
	}
	printf("pool %s\n", oscar_pool_address(pool));
	if ((rv = oscar_create(
	         pool, &account_class, "alice", oscar_value_new_int(100), 0, &acc, &err)) != 0 ||
	    (rv = oscar_create(pool, &teller_class, NULL, NULL, 0, &teller, &err)) != 0) {
		show("create", rv, NULL, &err);
		oscar_pool_free(&pool);
		return (1);
	}
	printf("  created %s and %s\n", acc.uid, teller.uid);

	rv = oscar_call(pool, &acc, "deposit", oscar_value_new_int(50), 0, &reply, &err);
	show("call alice.deposit(50)", rv, reply, &err);
	rv = oscar_call(pool, &acc, "withdraw", oscar_value_new_int(500), 0, &reply, &err);
	show("call alice.withdraw(500)", rv, reply, &err);
	rv = oscar_call(pool, &acc, "deposit", oscar_value_new_str("lots"), 0, &reply, &err);
	show("call alice.deposit(\"lots\")", rv, reply, &err);
	rv = oscar_call(pool, &acc, "transfer", NULL, 0, &reply, &err);
	show("call alice.transfer()", rv, reply, &err);
	oscar_ref_make(&ghost, NULL, "bob");
	rv = oscar_call(pool, &ghost, "balance", NULL, 0, &reply, &err);
	show("call bob.balance()", rv, reply, &err);

	rv = oscar_tell(pool, &acc, "deposit", oscar_value_new_int(25), 0, &err);
	show("tell alice.deposit(25)", rv, NULL, &err);

	oscar_value_t *batch = oscar_value_new_array(3);
	for (int i = 1; i <= 3; i++) {
		oscar_value_array_push(batch, oscar_value_new_int(i * 10));
	}
	rv = oscar_batch(pool, &acc, "withdraw", batch, 0, &reply, &err);
	show("batch alice.withdraw(10, 20, 30)", rv, reply, &err);

	rv = oscar_call(pool, &teller, "report", oscar_value_new_str("alice"), 0, &reply, &err);
	show("call teller.report(\"alice\")", rv, reply, &err);
	rv = oscar_call(pool, &teller, "report", oscar_value_new_str("bob"), 0, &reply, &err);
	show("call teller.report(\"bob\")", rv, reply, &err);

	oscar_pool_stats_t st;
	if (oscar_pool_stats(pool, &st, 0) == 0) {
		printf("  stats: %" PRIu64 " actors, %" PRIu64 " messages, %" PRIu64
		       " calls, %" PRIu64 " errors\n",
		    st.actors, st.messages, st.calls, st.errors);
	}
	oscar_pool_free(&pool);
	printf("pool %s closed\n\n", name);
	return (0);
}

static const oscar_actor_class_t *const classes[] = { &account_class, &teller_class, NULL };

static int run_sub_pools(void)
{
	static const char *const labels[] = { "east", "west" };
	oscar_pool_config_t      cfg;
	oscar_pool_t            *pool;
	oscar_sub_pool_info_t    info[2];
	oscar_ref_t              acc[2];
	oscar_value_t           *reply;
	oscar_error_t            err;
	char                     addr[96];
	size_t                   n;
	int                      rv;

	snprintf(addr, sizeof(addr), "ipc:///tmp/oscar-hello-%d.sock", (int) getpid());
	oscar_pool_config_init(&cfg);
	cfg.address         = addr;
	cfg.sub_pools       = 2;
	cfg.sub_pool_labels = labels;
	cfg.recover         = OSCAR_RECOVER_ACTOR;
	cfg.classes         = classes;
	if ((rv = oscar_pool_open(&pool, &cfg, &err)) != 0) {
		fprintf(stderr, "oscar-hello: cannot open a main pool: %s\n", err.message);
		return (1);
	}
	oscar_pool_sub_pools(pool, info, 2, &n, 0);
	printf("main pool %s (pid %d)\n", oscar_pool_address(pool), (int) getpid());
	for (size_t i = 0; i < n; i++) {
		printf("  sub pool %zu: %s, label %s, pid %lld\n", i, info[i].address,
		    info[i].label, (long long) info[i].pid);
	}
	for (unsigned i = 0; i < 2; i++) {
		oscar_placement_t where = { .how = OSCAR_PLACE_LABEL, .label = labels[i] };
		char              uid[16];
		snprintf(uid, sizeof(uid), "acct-%s", labels[i]);
		rv = oscar_create_by_name(pool, "account", uid, oscar_value_new_int(100 * (i + 1)),
		    &where, 0, &acc[i], &err);
		if (rv != 0) {
			show("create account", rv, NULL, &err);
			oscar_pool_free(&pool);
			return (1);
		}
		printf("  created %s in %s\n", acc[i].uid, acc[i].addr);
	}
	rv = oscar_call(pool, &acc[0], "deposit", oscar_value_new_int(5), 0, &reply, &err);
	show("call acct-east.deposit(5)", rv, reply, &err);
	rv = oscar_call(pool, &acc[1], "withdraw", oscar_value_new_int(999), 0, &reply, &err);
	show("call acct-west.withdraw(999)", rv, reply, &err);

	printf("  killing sub pool 1 (pid %lld) with SIGKILL\n", (long long) info[1].pid);
	oscar_pool_kill_sub_pool(pool, 1, 0);
	rv = oscar_call(pool, &acc[1], "balance", NULL, 0, &reply, &err);
	show("call acct-west.balance()", rv, reply, &err);
	rv = oscar_pool_wait_recovered(pool, 1, 0);
	oscar_pool_sub_pools(pool, info, 2, &n, 0);
	printf("  sub pool 1 recovered: %s, pid %lld, actors created again\n",
	    rv == 0 ? "yes" : oscar_strerror(rv), (long long) info[1].pid);
	bool exists = false;
	for (int i = 0; i < 1000 && !exists; i++) {
		oscar_has(pool, &acc[1], &exists, 0);
	}
	rv = oscar_call(pool, &acc[1], "balance", NULL, 0, &reply, &err);
	show("call acct-west.balance()", rv, reply, &err);
	oscar_pool_free(&pool);
	printf("main pool closed; its sub pools were stopped and reaped\n\n");
	return (0);
}

int main(void)
{
	// A sub pool started by the main pool below runs here, and stops here.
	int rv = oscar_subpool_main(classes);
	if (rv >= 0) {
		return (rv);
	}
	printf("Oscar-C %s: the actor system\n\n", OSCAR_VERSION);
	if (run_pool("inproc://bank-1") != 0 || run_pool("inproc://bank-2") != 0 ||
	    run_sub_pools() != 0) {
		return (1);
	}
	printf("done\n");
	return (0);
}
