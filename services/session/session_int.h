// The session service: its table (service.c), its actor (supervisor.c,
// OSCAR_SESSIONS_UID in the supervisor's main pool) and the typed API over
// it (api.c).
#ifndef OSC_SESSION_INT_H
#define OSC_SESSION_INT_H

#include "oscar/sessions.h"
#include "services/services_int.h"

// The methods of the session actor: id, name, handler, arguments, reply.
// Another service's actor calls them with oscar_req_call on
// (supervisor address, OSCAR_SESSIONS_UID).
//
//   create  {id: str|nil, if_not_exists: bool} -> {id, created_ms, nodes}
//   has     id -> bool
//   delete  {id, if_exists: bool} -> nil
//   list    nil -> [{id, created_ms, nodes, objects}]
#define OSC_SESSION_METHODS(X)                                                              \
	X(CREATE, "create", osc_sm_create, OSC_SHAPE_MAP | OSC_SHAPE_OR_NIL, OSC_SHAPE_MAP) \
	X(HAS, "has", osc_sm_has, OSC_SHAPE_STR, OSC_SHAPE_ANY)                             \
	X(DELETE, "delete", osc_sm_delete, OSC_SHAPE_MAP, OSC_SHAPE_NIL)                    \
	X(LIST, "list", osc_sm_list, OSC_SHAPE_ANY, OSC_SHAPE_ARRAY)

#define OSC_SM_ID_(id, name, fn, args, reply) OSC_SM_##id,
enum { OSC_SESSION_METHODS(OSC_SM_ID_) OSC_SM_N };
#undef OSC_SM_ID_

extern const osc_method_spec_t osc_session_methods[OSC_SM_N];

extern const oscar_service_t     osc_session_service;
extern const oscar_actor_class_t osc_sessions_class;
#define OSC_SESSION_SECTION "session"

#endif // OSC_SESSION_INT_H
