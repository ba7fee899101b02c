// The example task functions (examples/task-functions): the ones the
// tests and `make run` submit. docs/services/task.md lists them.
#ifndef OSCAR_EXAMPLE_TASKFNS_H
#define OSCAR_EXAMPLE_TASKFNS_H

#include "oscar/task.h"

// oscar_example_taskfns_add registers every example function in fns:
// inc, add, sum, sum_all, triage, fail, crash, sleep and spin. Errors are
// those of oscar_taskfns_add (OSCAR_EEXIST when one is there already).
int oscar_example_taskfns_add(oscar_taskfns_t *fns, oscar_error_t *err);

#endif // OSCAR_EXAMPLE_TASKFNS_H
