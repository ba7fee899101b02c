// oscar-embed: a host program that embeds an Oscar-C pool.
//
// It defines a class "greeter" with one method, "greet", opens a pool,
// creates a greeter, calls it from the main thread, shows an error coming
// back as a value, then frees everything. It uses only <oscar/oscar.h>.
// It exits 0 when every step gave the expected result, 1 otherwise.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oscar/oscar.h>

// WAIT_MS is the deadline of every call below; 0 would mean the pool's
// default. There is no way to wait forever.
#define WAIT_MS 5000

#define GREETING "hello, "

// greeter_greet replies "hello, <name>" to a call whose argument is a str.
// It runs on the pool's thread.
static int greeter_greet(oscar_actor_t *self, oscar_req_t *req)
{
	const oscar_value_t *args = oscar_req_args(req);
	const char          *name;
	size_t               len;
	size_t               glen = strlen(GREETING);
	char                *text;
	oscar_value_t       *reply;

	(void) self;
	if (oscar_value_get_str(args, &name, &len) != 0) {
		return (oscar_req_fail(req, OSCAR_EBADARGS, "greet takes a str, not %s",
		    args != NULL ? oscar_type_name(args->type) : "nothing"));
	}
	if ((text = malloc(glen + len)) == NULL) {
		return (OSCAR_ENOMEM);
	}
	memcpy(text, GREETING, glen);
	memcpy(text + glen, name, len);
	reply = oscar_value_new_strn(text, glen + len);
	free(text);
	if (reply == NULL) {
		return (OSCAR_ENOMEM);
	}
	// The reply is consumed, as arguments are.
	return (oscar_req_reply(req, reply));
}

static const oscar_method_t greeter_methods[] = {
	{ .name = "greet", .fn = greeter_greet },
	{ .name = NULL },
};

static const oscar_actor_class_t greeter_class = {
	.name    = "greeter",
	.methods = greeter_methods,
};

// report prints what went wrong with step, with the details of err.
static void report(const char *step, int rv, const oscar_error_t *err)
{
	char line[512];

	if (err != NULL && err->code == rv) {
		oscar_error_format(err, line, sizeof(line));
	} else {
		snprintf(line, sizeof(line), "%s", oscar_strerror(rv));
	}
	fprintf(stderr, "oscar-embed: %s: %s\n", step, line);
}

int main(void)
{
	oscar_pool_t  *pool  = NULL;
	oscar_value_t *reply = NULL;
	oscar_ref_t    ref;
	oscar_error_t  err;
	const char    *text;
	size_t         len;
	char           line[512];
	int            rv;
	int            status = EXIT_FAILURE;

	memset(&err, 0, sizeof(err));
	if ((rv = oscar_pool_open(&pool, NULL, &err)) != 0) {
		report("oscar_pool_open", rv, &err);
		return (EXIT_FAILURE);
	}
	printf("pool %s\n", oscar_pool_address(pool));

	rv = oscar_create(pool, &greeter_class, "greeter-1", NULL, WAIT_MS, &ref, &err);
	if (rv != 0) {
		report("oscar_create", rv, &err);
		goto out;
	}

	// A call. Its argument is consumed even when the call fails, so it
	// can be built inline without leaking.
	rv = oscar_call(pool, &ref, "greet", oscar_value_new_str("world"), WAIT_MS, &reply, &err);
	if (rv != 0) {
		report("oscar_call greet", rv, &err);
		goto out;
	}
	if (oscar_value_get_str(reply, &text, &len) != 0 || strcmp(text, "hello, world") != 0) {
		if (reply != NULL) {
			oscar_value_format(reply, line, sizeof(line));
		} else {
			snprintf(line, sizeof(line), "(none)");
		}
		fprintf(stderr, "oscar-embed: unexpected reply %s\n", line);
		goto out;
	}
	printf("%s\n", text);

	// A failure is a value too: its code, its message, and where it
	// happened.
	rv = oscar_call(pool, &ref, "fly", NULL, WAIT_MS, NULL, &err);
	if (rv != OSCAR_ENOMETHOD) {
		fprintf(stderr, "oscar-embed: fly gave %s, not ENOMETHOD\n", oscar_errname(rv));
		goto out;
	}
	oscar_error_format(&err, line, sizeof(line));
	printf("error: %s\n", line);

	if ((rv = oscar_destroy(pool, &ref, WAIT_MS, &err)) != 0) {
		report("oscar_destroy", rv, &err);
		goto out;
	}
	status = EXIT_SUCCESS;

out:
	oscar_value_free(reply);
	oscar_pool_free(&pool);
	return (status);
}
