// The lifecycle service: its table and session hooks (service.c), the
// per-session actor (supervisor.c) and the typed API over it (api.c).
#ifndef OSC_LIFECYCLE_INT_H
#define OSC_LIFECYCLE_INT_H

#include "oscar/lifecycle.h"
#include "services/services_int.h"

// The methods of "oscar.lifecycle:<session>" in the supervisor's main
// pool. Another service's actor calls them with oscar_req_call.
//
//   incref  [[key, n]...] -> nil
//   decref  [[key, n]...] -> [key...] (freed: meta and storage told)
//   counts  [key...] -> [uint...]
#define OSC_LIFECYCLE_METHODS(X)                                             \
	X(INCREF, "incref", osc_lm_incref, OSC_SHAPE_ARRAY, OSC_SHAPE_NIL)   \
	X(DECREF, "decref", osc_lm_decref, OSC_SHAPE_ARRAY, OSC_SHAPE_ARRAY) \
	X(COUNTS, "counts", osc_lm_counts, OSC_SHAPE_ARRAY, OSC_SHAPE_ARRAY)

#define OSC_LM_ID_(id, name, fn, args, reply) OSC_LM_##id,
enum { OSC_LIFECYCLE_METHODS(OSC_LM_ID_) OSC_LM_N };
#undef OSC_LM_ID_

extern const osc_method_spec_t osc_lifecycle_methods[OSC_LM_N];

extern const oscar_service_t     osc_lifecycle_service;
extern const oscar_actor_class_t osc_lifecycle_class;
#define OSC_LIFECYCLE_SECTION "lifecycle"

// The storage actor in every worker's main pool, and the method a freed
// key's workers are called with: delete {session, keys} -> uint.
#define OSC_STORAGE_UID    "oscar.storage"
#define OSC_STORAGE_DELETE "delete"

#endif // OSC_LIFECYCLE_INT_H
