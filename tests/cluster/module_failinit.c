// A module whose entry point fails: a node told to load it must refuse to
// start and pass on the module's own message.
#include <stdio.h>

#include "oscar/service.h"

int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err);

int oscar_module_init(oscar_registry_t *reg, oscar_error_t *err)
{
	(void) reg;
	snprintf(err->message, sizeof(err->message), "this test module always refuses");
	return (OSCAR_EUSER);
}
