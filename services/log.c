// Logs: one line per record on stderr, as text or as JSON, and the small
// helpers the services share (errors without an origin, clocks).
//
// A record is written with one fputs of a line built in a local buffer, so
// that records from several threads never interleave within a line.
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "services/services_int.h"

static atomic_int osc_log_level   = OSCAR_LOG_INFO;
static atomic_int osc_log_json    = 0;
static char       osc_log_who[32] = "oscar";

static const char *const osc_level_names[] = { "debug", "info", "warn", "error" };

int osc_log_level_of(const char *level)
{
	for (int i = 0; level != NULL && i < 4; i++) {
		if (strcmp(level, osc_level_names[i]) == 0) {
			return (i);
		}
	}
	return (-1);
}

bool osc_log_format_ok(const char *format)
{
	return (strcmp(format, "text") == 0 || strcmp(format, "json") == 0);
}

int oscar_log_setup(const char *level, const char *format)
{
	int new_level = osc_log_level_of(level);
	if ((level != NULL && new_level < 0) || (format != NULL && !osc_log_format_ok(format))) {
		return (OSCAR_EINVAL);
	}
	if (new_level >= 0) {
		atomic_store(&osc_log_level, new_level);
	}
	if (format != NULL) {
		atomic_store(&osc_log_json, strcmp(format, "json") == 0);
	}
	return (0);
}

void osc_log_role(const char *role)
{
	snprintf(osc_log_who, sizeof(osc_log_who), "%s", role);
}

// osc_json_escape appends s to buf as the inside of a JSON string.
static size_t osc_json_escape(char *buf, size_t at, size_t size, const char *s)
{
	for (; *s != '\0' && at + 7 < size; s++) {
		unsigned char c = (unsigned char) *s;
		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char) c;
		} else if (c < 0x20) {
			at += (size_t) snprintf(buf + at, size - at, "\\u%04x", c);
		} else {
			buf[at++] = (char) c;
		}
	}
	buf[at] = '\0';
	return (at);
}

void oscar_logv(oscar_log_level_t level, const char *scope, const char *fmt, va_list ap)
{
	if ((int) level < atomic_load(&osc_log_level) || level > OSCAR_LOG_ERROR) {
		return;
	}
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timespec ts;
	struct tm       tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	char        line[1400];
	const char *name = osc_level_names[level];
	scope            = scope != NULL ? scope : "-";
	if (atomic_load(&osc_log_json)) {
		size_t at = (size_t) snprintf(line, sizeof(line),
		    "{\"ts\":\"%s\",\"level\":\"%s\",\"role\":\"%s\",\"pid\":%d,\"scope\":\"", when,
		    name, osc_log_who, (int) getpid());
		at        = osc_json_escape(line, at, sizeof(line), scope);
		at += (size_t) snprintf(line + at, sizeof(line) - at, "\",\"msg\":\"");
		at = osc_json_escape(
		    line, at < sizeof(line) ? at : sizeof(line) - 1, sizeof(line), msg);
		snprintf(line + at, sizeof(line) - at, "\"}\n");
	} else {
		snprintf(line, sizeof(line), "%s %-5s %s[%d] %s: %s\n", when, name, osc_log_who,
		    (int) getpid(), scope, msg);
	}
	fputs(line, stderr);
}

void oscar_log(oscar_log_level_t level, const char *scope, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	oscar_logv(level, scope, fmt, ap);
	va_end(ap);
}

int64_t osc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t osc_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
