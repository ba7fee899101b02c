// The meta service: its table and session hooks (service.c), the
// per-session actor (supervisor.c) and the typed API over it (api.c).
#ifndef OSC_META_INT_H
#define OSC_META_INT_H

#include "oscar/meta.h"
#include "services/services_int.h"

// The methods of "oscar.meta:<session>" in the supervisor's main pool.
// Another service's actor calls them with oscar_req_call.
//
//   set           [entry map...] -> nil
//   add_location  [[key, address, size]...] -> nil
//   get           {keys: [key...], fields: [name...]|nil} -> [map|nil]
//   delete        [key...] -> [{key, workers}] (the entries that existed)
//   on_worker     address -> [key...]
//   count         nil -> uint (entries)
#define OSC_META_METHODS(X)                                                                  \
	X(SET, "set", osc_mm_set, OSC_SHAPE_ARRAY, OSC_SHAPE_NIL)                            \
	X(ADD_LOCATION, "add_location", osc_mm_add_location, OSC_SHAPE_ARRAY, OSC_SHAPE_NIL) \
	X(GET, "get", osc_mm_get, OSC_SHAPE_MAP, OSC_SHAPE_ARRAY)                            \
	X(DELETE, "delete", osc_mm_delete, OSC_SHAPE_ARRAY, OSC_SHAPE_ARRAY)                 \
	X(ON_WORKER, "on_worker", osc_mm_on_worker, OSC_SHAPE_STR, OSC_SHAPE_ARRAY)          \
	X(COUNT, "count", osc_mm_count, OSC_SHAPE_ANY, OSC_SHAPE_UINT)

#define OSC_MM_ID_(id, name, fn, args, reply) OSC_MM_##id,
enum { OSC_META_METHODS(OSC_MM_ID_) OSC_MM_N };
#undef OSC_MM_ID_

extern const osc_method_spec_t osc_meta_methods[OSC_MM_N];

extern const oscar_service_t     osc_meta_service;
extern const oscar_actor_class_t osc_meta_class;
#define OSC_META_SECTION "meta"

#endif // OSC_META_INT_H
