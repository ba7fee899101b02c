// Oscar-C: a distributed actor runtime in C. Include this one header.
#ifndef OSCAR_OSCAR_H
#define OSCAR_OSCAR_H

#include "oscar/error.h"
#include "oscar/value.h"
#include "oscar/actor.h"
#include "oscar/node.h"
#include "oscar/service.h"
#include "oscar/cluster.h"
#include "oscar/local.h"
#include "oscar/task.h"
#include "oscar/graph.h"
#include "oscar/sessions.h"
#include "oscar/meta.h"
#include "oscar/lifecycle.h"
#include "oscar/storage.h"
#include "oscar/session.h"

#define OSCAR_VERSION_MAJOR 0
#define OSCAR_VERSION_MINOR 1
#define OSCAR_VERSION_PATCH 0
#define OSCAR_VERSION       "0.1.0"

#endif // OSCAR_OSCAR_H
