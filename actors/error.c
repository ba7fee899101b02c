// Error names and messages, generated from OSCAR_ERROR_MAP in
// include/oscar/error.h so that codes, names and messages cannot drift apart.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/pool_int.h"
#include "oscar/error.h"

// oscar_strerror returns the static message for code. Codes from OSCAR_EUSER
// upwards belong to applications; anything else outside the table is
// unknown.
const char *oscar_strerror(int code)
{
	switch (code) {
	case OSCAR_OK:
		return ("success");
#define OSCAR_ERR_MSG_(name, num, msg) \
	case OSCAR_##name:             \
		return (msg);
		OSCAR_ERROR_MAP(OSCAR_ERR_MSG_)
#undef OSCAR_ERR_MSG_
	default:
		break;
	}
	if (code >= OSCAR_EUSER) {
		return ("application error");
	}
	return ("unknown error");
}

// oscar_errname returns the symbolic name of code without the OSCAR_
// prefix: "OK", "ENOACTOR", ..., "EUSER" for application codes and
// "EUNKNOWN" for anything else.
const char *oscar_errname(int code)
{
	switch (code) {
	case OSCAR_OK:
		return ("OK");
#define OSCAR_ERR_NAME_(name, num, msg) \
	case OSCAR_##name:              \
		return (#name);
		OSCAR_ERROR_MAP(OSCAR_ERR_NAME_)
#undef OSCAR_ERR_NAME_
	default:
		break;
	}
	if (code >= OSCAR_EUSER) {
		return ("EUSER");
	}
	return ("EUNKNOWN");
}

// oscar_error_setv clears err, then sets its code and message.
int oscar_error_setv(oscar_error_t *err, int code, const char *fmt, va_list ap)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = code;
		if (fmt != NULL) {
			vsnprintf(err->message, sizeof(err->message), fmt, ap);
		}
	}
	return (code);
}

int oscar_error_set(oscar_error_t *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	oscar_error_setv(err, code, fmt, ap);
	va_end(ap);
	return (code);
}

// osc_error_set fills err with code, a formatted message and where.
void osc_error_set(oscar_error_t *err, const oscar_pool_t *pool, int code, const char *actor,
    const char *method, const char *fmt, ...)
{
	va_list ap;
	memset(err, 0, sizeof(*err));
	err->code = code;
	err->pid  = pool->pid;
	snprintf(err->address, sizeof(err->address), "%s", pool->address);
	snprintf(err->actor, sizeof(err->actor), "%s", actor ? actor : "");
	snprintf(err->method, sizeof(err->method), "%s", method ? method : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

// osc_error_dup copies err to the heap (NULL when out of memory).
oscar_error_t *osc_error_dup(const oscar_error_t *err)
{
	oscar_error_t *e = malloc(sizeof(*e));
	if (e != NULL) {
		*e = *err;
	}
	return (e);
}

// oscar_error_format renders err on one line.
int oscar_error_format(const oscar_error_t *err, char *buf, size_t size)
{
	if (err == NULL) {
		return (snprintf(buf, size, "no error"));
	}
	return (snprintf(buf, size, "%s: %s (actor %s, method %s, at %s pid %" PRId64 ")",
	    oscar_errname(err->code), err->message, err->actor[0] ? err->actor : "-",
	    err->method[0] ? err->method : "-", err->address[0] ? err->address : "-", err->pid));
}
