// The service registry: the built-in services (osc_builtin_services), those
// a program adds, and those shared objects add when loaded
// (--load-modules). It knows services only through their tables.
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "services/services_int.h"
#include "services/task/task_int.h"

// A module loaded: its dlopen handle, closed when the registry is freed,
// and the path it was loaded from.
typedef struct osc_module {
	void *handle;
	char *path;
} osc_module_t;

struct oscar_registry {
	const oscar_service_t **services;
	size_t                  n;
	size_t                  cap;
	osc_module_t           *modules;
	size_t                  n_modules;
	size_t                  cap_modules;
	// taskfns are the task functions the program and its modules
	// registered (include/oscar/task.h).
	oscar_taskfns_t *taskfns;
};

int oscar_registry_new(oscar_registry_t **regp)
{
	if (regp == NULL) {
		return (OSCAR_EINVAL);
	}
	oscar_registry_t *reg = calloc(1, sizeof(*reg));
	if (reg == NULL) {
		return (OSCAR_ENOMEM);
	}
	int rv0 = oscar_taskfns_new(&reg->taskfns);
	if (rv0 != 0) {
		free(reg);
		return (rv0);
	}
	for (size_t i = 0; osc_builtin_services[i] != NULL; i++) {
		int rv = oscar_registry_add(reg, osc_builtin_services[i], NULL);
		if (rv != 0) {
			oscar_registry_free(&reg);
			return (rv);
		}
	}
	*regp = reg;
	return (0);
}

void oscar_registry_free(oscar_registry_t **regp)
{
	if (regp == NULL || *regp == NULL) {
		return;
	}
	oscar_registry_t *reg = *regp;
	// Service tables may live in the modules: forget them first.
	free(reg->services);
	// Task functions may live in the modules too.
	oscar_taskfns_free(&reg->taskfns);
	for (size_t i = 0; i < reg->n_modules; i++) {
		dlclose(reg->modules[i].handle);
		free(reg->modules[i].path);
	}
	free(reg->modules);
	free(reg);
	*regp = NULL;
}

int oscar_registry_add(oscar_registry_t *reg, const oscar_service_t *svc, oscar_error_t *err)
{
	if (reg == NULL || svc == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no registry or no service"));
	}
	if (svc->abi != OSCAR_SERVICE_ABI) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "service table of ABI %u, this node speaks ABI %u (rebuild the module)",
		    svc->abi, OSCAR_SERVICE_ABI));
	}
	if (svc->name == NULL || svc->name[0] == '\0' || strlen(svc->name) >= OSCAR_NAME_MAX ||
	    strchr(svc->name, ',') != NULL) {
		return (
		    oscar_error_set(err, OSCAR_EINVAL, "a service needs a name without commas"));
	}
	if ((svc->roles & OSCAR_ROLES_ALL) == 0 || (svc->roles & ~OSCAR_ROLES_ALL) != 0) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "service %s: roles must be supervisor, worker or both", svc->name));
	}
	if (svc->start == NULL) {
		return (
		    oscar_error_set(err, OSCAR_EINVAL, "service %s has no start hook", svc->name));
	}
	for (size_t i = 0; svc->settings != NULL && svc->settings[i].key != NULL; i++) {
		if (svc->settings[i].type > OSCAR_SETTING_BOOL) {
			return (oscar_error_set(err, OSCAR_EINVAL,
			    "service %s: setting %s has an unknown type", svc->name,
			    svc->settings[i].key));
		}
	}
	for (size_t i = 0; svc->needs != NULL && svc->needs[i] != NULL; i++) {
		if (strcmp(svc->needs[i], svc->name) == 0) {
			return (oscar_error_set(
			    err, OSCAR_EINVAL, "service %s needs itself", svc->name));
		}
	}
	if (oscar_registry_find(reg, svc->name) != NULL) {
		return (oscar_error_set(
		    err, OSCAR_EEXIST, "a service called %s is registered already", svc->name));
	}
	if (osc_reserve(&reg->services, &reg->cap, reg->n, sizeof(*reg->services), 8) != 0) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	reg->services[reg->n++] = svc;
	return (0);
}

const oscar_service_t *oscar_registry_find(const oscar_registry_t *reg, const char *name)
{
	for (size_t i = 0; reg != NULL && name != NULL && i < reg->n; i++) {
		if (strcmp(reg->services[i]->name, name) == 0) {
			return (reg->services[i]);
		}
	}
	return (NULL);
}

int oscar_registry_load(oscar_registry_t *reg, const char *path, oscar_error_t *err)
{
	if (reg == NULL || path == NULL || path[0] == '\0') {
		return (oscar_error_set(err, OSCAR_EINVAL, "no registry or no module path"));
	}
	// Loaded already (several nodes may share a registry): nothing to do.
	for (size_t i = 0; i < reg->n_modules; i++) {
		if (strcmp(reg->modules[i].path, path) == 0) {
			return (0);
		}
	}
	char *copy = NULL;
	if (osc_reserve(
	        &reg->modules, &reg->cap_modules, reg->n_modules, sizeof(*reg->modules), 4) != 0 ||
	    (copy = strdup(path)) == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	// RTLD_NOW: a missing symbol is an error here, not a crash later.
	void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		free(copy);
		const char *why = dlerror();
		return (oscar_error_set(err, OSCAR_ENOENT, "cannot load module %s: %s", path,
		    why != NULL ? why : "unknown reason"));
	}
	oscar_module_init_fn init;
	// POSIX's way to turn a data pointer into a function pointer.
	*(void **) (&init) = dlsym(handle, OSCAR_MODULE_INIT_SYMBOL);
	if (init == NULL) {
		free(copy);
		dlclose(handle);
		return (oscar_error_set(err, OSCAR_ENOENT, "module %s has no %s function", path,
		    OSCAR_MODULE_INIT_SYMBOL));
	}
	reg->modules[reg->n_modules++] = (osc_module_t) { handle, copy };
	size_t        before           = reg->n;
	size_t        fns_before       = oscar_taskfns_count(reg->taskfns);
	oscar_error_t why;
	memset(&why, 0, sizeof(why));
	int rv = init(reg, &why);
	if (rv != 0) {
		// Drop what it added (those tables live in the module), and the
		// module, so that a later load tries again.
		reg->n = before;
		osc_taskfns_truncate(reg->taskfns, fns_before);
		reg->n_modules--;
		free(copy);
		dlclose(handle);
		return (oscar_error_set(err, rv, "module %s failed to initialise: %s", path,
		    why.message[0] != '\0' ? why.message : oscar_strerror(rv)));
	}
	return (0);
}

size_t osc_registry_count(const oscar_registry_t *reg)
{
	return (reg->n);
}

const oscar_service_t *osc_registry_at(const oscar_registry_t *reg, size_t i)
{
	return (i < reg->n ? reg->services[i] : NULL);
}

const oscar_actor_class_t **osc_registry_classes(const oscar_registry_t *reg)
{
	size_t n = 0;
	for (size_t i = 0; i < reg->n; i++) {
		for (size_t j = 0;
		     reg->services[i]->classes != NULL && reg->services[i]->classes[j] != NULL;
		     j++) {
			n++;
		}
	}
	const oscar_actor_class_t **v = calloc(n + 1, sizeof(*v));
	if (v == NULL) {
		return (NULL);
	}
	n = 0;
	for (size_t i = 0; i < reg->n; i++) {
		for (size_t j = 0;
		     reg->services[i]->classes != NULL && reg->services[i]->classes[j] != NULL;
		     j++) {
			v[n++] = reg->services[i]->classes[j];
		}
	}
	return (v);
}

oscar_taskfns_t *oscar_registry_taskfns(oscar_registry_t *reg)
{
	return (reg != NULL ? reg->taskfns : NULL);
}
