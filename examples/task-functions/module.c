// The example task functions as a module: `--load-modules
// liboscar-taskfns.so` makes a worker offer them.
#include "oscar/service.h"
#include "taskfns.h"

// oscar_module_init adds the example functions to the registry's
// function table.
int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err);

int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err)
{
	return (oscar_example_taskfns_add(oscar_registry_taskfns(reg), err));
}
