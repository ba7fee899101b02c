// Settings: the INI reader, the typed getters and their errors, the
// service registry's checks.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oscar/oscar.h"
#include "services/services_int.h"

static oscar_settings_t *s;

static void setup(void)
{
	cr_assert_eq(oscar_settings_new(&s), 0);
}

static void teardown(void)
{
	oscar_settings_free(&s);
	cr_assert_null(s);
}

TestSuite(settings, .init = setup, .fini = teardown);

// write_file puts text in a new temporary file and gives its path.
static char *write_file(const char *text)
{
	char *path = strdup("/tmp/oscar-settings-XXXXXX");
	int   fd   = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
	close(fd);
	return (path);
}

Test(settings, set_get_replace_and_order)
{
	cr_assert_eq(oscar_settings_set(s, "node", "listen", "tcp://a:1"), 0);
	cr_assert_eq(oscar_settings_set(s, "cluster", "dead_timeout", "5s"), 0);
	cr_assert_eq(oscar_settings_set(s, "node", "listen", "tcp://b:2"), 0);
	cr_assert_str_eq(oscar_settings_get(s, "node", "listen"), "tcp://b:2");
	cr_assert_null(oscar_settings_get(s, "node", "nothing"));
	cr_assert_null(oscar_settings_get(s, "nothing", "listen"));
	cr_assert_eq(oscar_settings_set(s, "bad section", "k", "v"), OSCAR_EINVAL);
	cr_assert_eq(oscar_settings_set(s, "node", "", "v"), OSCAR_EINVAL);
	cr_assert_eq(oscar_settings_set(s, "node", "k", NULL), OSCAR_EINVAL);
}

Test(settings, ini_file_with_sections_and_comments)
{
	char *path =
	    write_file("# a comment\n[node]\nlisten = tcp://0.0.0.0:0\n"
	               "labels = gpu, fast\n; another\n\n[greeter]\ngreeting = Hi there\n");
	oscar_error_t err;
	cr_assert_eq(oscar_settings_load_file(s, path, &err), 0, "%s", err.message);
	cr_assert_str_eq(oscar_settings_get(s, "node", "listen"), "tcp://0.0.0.0:0");
	cr_assert_str_eq(oscar_settings_get(s, "node", "labels"), "gpu, fast");
	cr_assert_str_eq(oscar_settings_get(s, "greeter", "greeting"), "Hi there");
	unlink(path);
	free(path);
}

Test(settings, ini_errors_name_file_and_line)
{
	oscar_error_t err;
	char         *path = write_file("[node]\nlisten = x\nthis line is wrong\n");
	cr_assert_eq(oscar_settings_load_file(s, path, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, path) != NULL, "%s", err.message);
	cr_assert(strstr(err.message, "line 3") != NULL, "%s", err.message);
	unlink(path);
	free(path);

	path = write_file("listen = x\n");
	cr_assert_eq(oscar_settings_load_file(s, path, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "outside any section") != NULL, "%s", err.message);
	unlink(path);
	free(path);

	cr_assert_eq(oscar_settings_load_file(s, "/nonexistent/oscar.ini", &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "/nonexistent/oscar.ini") != NULL, "%s", err.message);
}

Test(settings, durations)
{
	static const struct {
		const char *text;
		int64_t     ms;
	} ok[] = { { "250", 250 }, { "250ms", 250 }, { "5s", 5000 }, { "2m", 120000 },
		{ "1h", 3600000 }, { "3 s", 3000 } };
	oscar_error_t err;
	int64_t       v;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		oscar_settings_set(s, "cluster", "t", ok[i].text);
		cr_assert_eq(oscar_settings_get_ms(s, "cluster", "t", 1, 0, INT64_MAX, &v, &err), 0,
		    "%s: %s", ok[i].text, err.message);
		cr_assert_eq(v, ok[i].ms, "%s", ok[i].text);
	}
	const char *bad[] = { "", "s", "5x", "-1s", "1.5s", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		oscar_settings_set(s, "cluster", "t", bad[i]);
		cr_assert_eq(oscar_settings_get_ms(s, "cluster", "t", 1, 0, INT64_MAX, &v, &err),
		    OSCAR_EINVAL, "'%s' was taken", bad[i]);
		cr_assert(strstr(err.message, "cluster.t") != NULL, "%s", err.message);
	}
	oscar_settings_set(s, "cluster", "t", "10s");
	cr_assert_eq(oscar_settings_get_ms(s, "cluster", "t", 1, 0, 5000, &v, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "between 0 and 5000") != NULL, "%s", err.message);
	cr_assert_eq(oscar_settings_get_ms(s, "cluster", "unset", 77, 0, 5000, &v, &err), 0);
	cr_assert_eq(v, 77);
}

Test(settings, sizes_ints_and_bools)
{
	oscar_error_t err;
	uint64_t      bytes;
	oscar_settings_set(s, "node", "memory", "16G");
	cr_assert_eq(oscar_settings_get_bytes(s, "node", "memory", 0, &bytes, &err), 0);
	cr_assert_eq(bytes, 16ull << 30);
	oscar_settings_set(s, "node", "memory", "512MiB");
	cr_assert_eq(oscar_settings_get_bytes(s, "node", "memory", 0, &bytes, &err), 0);
	cr_assert_eq(bytes, 512ull << 20);
	oscar_settings_set(s, "node", "memory", "12Q");
	cr_assert_eq(oscar_settings_get_bytes(s, "node", "memory", 0, &bytes, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "'12Q'") != NULL, "%s", err.message);

	int64_t n;
	oscar_settings_set(s, "node", "sub_pools", "4");
	cr_assert_eq(oscar_settings_get_int(s, "node", "sub_pools", 0, 0, 8, &n, &err), 0);
	cr_assert_eq(n, 4);
	oscar_settings_set(s, "node", "sub_pools", "4k");
	cr_assert_eq(
	    oscar_settings_get_int(s, "node", "sub_pools", 0, 0, 8, &n, &err), OSCAR_EINVAL);

	bool        b;
	const char *yes[] = { "true", "YES", "on", "1" };
	const char *no[]  = { "false", "No", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		oscar_settings_set(s, "x", "b", yes[i]);
		cr_assert_eq(oscar_settings_get_bool(s, "x", "b", false, &b, &err), 0);
		cr_assert(b, "%s", yes[i]);
		oscar_settings_set(s, "x", "b", no[i]);
		cr_assert_eq(oscar_settings_get_bool(s, "x", "b", true, &b, &err), 0);
		cr_assert_not(b, "%s", no[i]);
	}
	oscar_settings_set(s, "x", "b", "maybe");
	cr_assert_eq(oscar_settings_get_bool(s, "x", "b", true, &b, &err), OSCAR_EINVAL);
}

Test(settings, lists)
{
	char **items;
	size_t n;
	cr_assert_eq(osc_split_list(" a, b ,,c ", &items, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(items[0], "a");
	cr_assert_str_eq(items[1], "b");
	cr_assert_str_eq(items[2], "c");
	osc_free_list(items, n);
	cr_assert_eq(osc_split_list(NULL, &items, &n), 0);
	cr_assert_eq(n, 0);
}

// ---------------------------------------------------------------------------
// The registry

static int start_nothing(oscar_node_t *node, void **state, oscar_error_t *err)
{
	return (0);
}

Test(registry, checks_tables)
{
	oscar_registry_t *reg;
	oscar_error_t     err;
	cr_assert_eq(oscar_registry_new(&reg), 0);
	cr_assert_not_null(oscar_registry_find(reg, "cluster"), "the built-in service is there");

	oscar_service_t svc = { .abi = OSCAR_SERVICE_ABI,
		.name                = "mine",
		.roles               = OSCAR_ROLE_WORKER,
		.start               = start_nothing };
	cr_assert_eq(oscar_registry_add(reg, &svc, &err), 0);
	cr_assert_eq(oscar_registry_find(reg, "mine"), &svc);
	cr_assert_eq(oscar_registry_add(reg, &svc, &err), OSCAR_EEXIST);

	oscar_service_t old = svc;
	old.name            = "old";
	old.abi             = OSCAR_SERVICE_ABI + 1;
	cr_assert_eq(oscar_registry_add(reg, &old, &err), OSCAR_EINVAL);
	cr_assert(strstr(err.message, "ABI") != NULL, "%s", err.message);

	oscar_service_t no_roles = svc;
	no_roles.name            = "none";
	no_roles.roles           = 0;
	cr_assert_eq(oscar_registry_add(reg, &no_roles, &err), OSCAR_EINVAL);

	oscar_service_t no_start = svc;
	no_start.name            = "lazy";
	no_start.start           = NULL;
	cr_assert_eq(oscar_registry_add(reg, &no_start, &err), OSCAR_EINVAL);

	cr_assert_eq(oscar_registry_load(reg, "/nonexistent/mod.so", &err), OSCAR_ENOENT);
	cr_assert(strstr(err.message, "/nonexistent/mod.so") != NULL, "%s", err.message);
	oscar_registry_free(&reg);
	cr_assert_null(reg);
}

Test(log, setup_checks_names)
{
	cr_assert_eq(oscar_log_setup("loud", NULL), OSCAR_EINVAL);
	cr_assert_eq(oscar_log_setup(NULL, "xml"), OSCAR_EINVAL);
	cr_assert_eq(oscar_log_setup("warn", "json"), 0);
	cr_assert_eq(oscar_log_setup("info", "text"), 0);
}
