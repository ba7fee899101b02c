// Error names and messages, generated from OSCAR_ERROR_MAP in
// include/oscar/error.h so that codes, names and messages cannot drift apart.
#include <stdio.h>
#include <string.h>

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
