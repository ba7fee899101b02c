// Oscar-C error codes.
//
// Every function of the library that can fail returns an int: 0 on success,
// or one of the codes below. The codes, their names and their messages come
// from one table, OSCAR_ERROR_MAP, so they can never drift apart. Codes from
// OSCAR_EUSER upwards are free for applications (task functions, custom
// services); they travel across pools unchanged.
#ifndef OSCAR_ERROR_H
#define OSCAR_ERROR_H

#include <stdarg.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OSCAR_UID_MAX    64  // bytes, including the terminator
#define OSCAR_ADDR_MAX   128 // bytes, including the terminator
#define OSCAR_NAME_MAX   64  // class and method names, with terminator
#define OSCAR_ERRMSG_MAX 256 // error messages, with terminator

// OSCAR_ERROR_MAP(X) expands X(NAME, code, "message") once per error.
#define OSCAR_ERROR_MAP(X)                                 \
	X(ENOMEM, 1, "out of memory")                      \
	X(EINVAL, 2, "invalid argument")                   \
	X(ENOACTOR, 3, "no such actor")                    \
	X(EEXIST, 4, "actor already exists")               \
	X(ENOMETHOD, 5, "no such method")                  \
	X(EBADARGS, 6, "bad arguments")                    \
	X(ETIMEDOUT, 7, "timed out")                       \
	X(ECANCELED, 8, "cancelled")                       \
	X(ECLOSED, 9, "closed")                            \
	X(EPEERGONE, 10, "peer gone")                      \
	X(EMBOXFULL, 11, "mailbox full")                   \
	X(EDEADLOCK, 12, "deadlock detected")              \
	X(EPROTO, 13, "malformed message")                 \
	X(ETOOLARGE, 14, "message too large")              \
	X(EUNEXPECTED, 15, "unexpected message")           \
	X(ESTATE, 16, "operation not valid in this state") \
	X(ENOTSUP, 17, "not supported")                    \
	X(ENOENT, 18, "not found")                         \
	X(ESYSTEM, 19, "system error")                     \
	X(ECONNREFUSED, 20, "connection refused")          \
	X(EADDRINUSE, 21, "address in use")                \
	X(EADDRINVAL, 22, "invalid address")               \
	X(EHOOK, 23, "create hook failed")                 \
	X(EAPP, 24, "application error")                   \
	X(ENOSPACE, 25, "no space left")                   \
	X(EPROTECTED, 26, "actor is protected")

// oscar_err_t lists the codes as OSCAR_ENOMEM, OSCAR_ENOACTOR, ...
typedef enum oscar_err {
	OSCAR_OK = 0,
#define OSCAR_ERR_ENUM_(name, code, msg) OSCAR_##name = code,
	OSCAR_ERROR_MAP(OSCAR_ERR_ENUM_)
#undef OSCAR_ERR_ENUM_
	// OSCAR_EUSER is the first code left to applications.
	OSCAR_EUSER = 1000
} oscar_err_t;

// oscar_strerror returns a static, human-readable message for code. Unknown
// codes, including application codes, give "unknown error" or
// "application error" (for codes >= OSCAR_EUSER). Never returns NULL.
const char *oscar_strerror(int code);

// oscar_errname returns the symbolic name of code, such as "ENOACTOR", or
// "EUSER" for application codes and "EUNKNOWN" for anything else.
const char *oscar_errname(int code);

// oscar_error_t describes a failure: the code, a message, and where it
// happened (pool address, process id, actor uid, method).
typedef struct oscar_error {
	int     code;
	int64_t pid;
	char    message[OSCAR_ERRMSG_MAX];
	char    address[OSCAR_ADDR_MAX];
	char    actor[OSCAR_UID_MAX];
	char    method[OSCAR_NAME_MAX];
} oscar_error_t;

// oscar_error_set fills err (when not NULL) with code and a printf-style
// message, and no origin (address, pid, actor and method are left empty:
// the failure was found here, not in a pool), and returns code. It is the
// one way for services, modules and programs to report a failure through
// an oscar_error_t:
//
//     return (oscar_error_set(err, OSCAR_EINVAL, "bad value '%s' for %s", v, k));
int oscar_error_set(oscar_error_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
// oscar_error_setv is oscar_error_set with a va_list.
int oscar_error_setv(oscar_error_t *err, int code, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif

#endif // OSCAR_ERROR_H
