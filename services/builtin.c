// The built-in services: one array, in the order they register. A node
// knows them only through this list and their tables; adding a service to
// the tree adds one line here (CONTRIBUTING.md, "Adding a service").
#include "services/cluster/cluster_int.h"
#include "services/session/session_int.h"
#include "services/storage/storage_int.h"
#include "services/meta/meta_int.h"
#include "services/lifecycle/lifecycle_int.h"
#include "services/task/task_int.h"

const oscar_service_t *const osc_builtin_services[] = {
	&osc_cluster_service,
	&osc_session_service,
	&osc_storage_service,
	&osc_meta_service,
	&osc_lifecycle_service,
	&osc_task_service,
	NULL,
};
