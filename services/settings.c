// Settings: strings in named sections, loaded from INI files and flags,
// read back through typed getters that name the setting in their errors.
//
// A node holds a few dozen settings at most, read at start, so a plain
// array searched from the start is the simplest thing that works; the
// order of first setting is kept, which is what `oscar_settings_each`
// shows and what a dump of the effective configuration should look like.
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "actors/map.h"
#include "oscar/node.h"
#include "services/services_int.h"

#define OSC_SETTING_NAME_MAX 64

typedef struct osc_setting {
	char  section[OSC_SETTING_NAME_MAX];
	char  key[OSC_SETTING_NAME_MAX];
	char *value;
} osc_setting_t;

struct oscar_settings {
	osc_setting_t *v;
	size_t         n;
	size_t         cap;
};

int oscar_settings_new(oscar_settings_t **sp)
{
	if (sp == NULL) {
		return (OSCAR_EINVAL);
	}
	*sp = calloc(1, sizeof(**sp));
	return (*sp == NULL ? OSCAR_ENOMEM : 0);
}

void oscar_settings_free(oscar_settings_t **sp)
{
	if (sp == NULL || *sp == NULL) {
		return;
	}
	oscar_settings_t *s = *sp;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].value);
	}
	free(s->v);
	free(s);
	*sp = NULL;
}

// osc_setting_name_ok: 1 to 63 bytes of letters, digits, '_', '.', '-'.
static bool osc_setting_name_ok(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;
	if (n == 0 || n >= OSC_SETTING_NAME_MAX) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) name[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-') {
			return (false);
		}
	}
	return (true);
}

static osc_setting_t *osc_settings_find(
    const oscar_settings_t *s, const char *section, const char *key)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].section, section) == 0 && strcmp(s->v[i].key, key) == 0) {
			return (&s->v[i]);
		}
	}
	return (NULL);
}

int oscar_settings_set(oscar_settings_t *s, const char *section, const char *key, const char *value)
{
	if (s == NULL || value == NULL || !osc_setting_name_ok(section) ||
	    !osc_setting_name_ok(key)) {
		return (OSCAR_EINVAL);
	}
	char *copy = strdup(value);
	if (copy == NULL) {
		return (OSCAR_ENOMEM);
	}
	osc_setting_t *e = osc_settings_find(s, section, key);
	if (e != NULL) {
		free(e->value);
		e->value = copy;
		return (0);
	}
	if (osc_reserve(&s->v, &s->cap, s->n, sizeof(*s->v), 16) != 0) {
		free(copy);
		return (OSCAR_ENOMEM);
	}
	e = &s->v[s->n++];
	snprintf(e->section, sizeof(e->section), "%s", section);
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->value = copy;
	return (0);
}

const char *oscar_settings_get(const oscar_settings_t *s, const char *section, const char *key)
{
	if (s == NULL || section == NULL || key == NULL) {
		return (NULL);
	}
	const osc_setting_t *e = osc_settings_find(s, section, key);
	return (e != NULL ? e->value : NULL);
}

int oscar_settings_each(const oscar_settings_t *s,
    int (*fn)(void *arg, const char *section, const char *key, const char *value), void *arg)
{
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		int rv = fn(arg, s->v[i].section, s->v[i].key, s->v[i].value);
		if (rv != 0) {
			return (rv);
		}
	}
	return (0);
}

int osc_settings_copy(oscar_settings_t *dst, const oscar_settings_t *src)
{
	for (size_t i = 0; src != NULL && i < src->n; i++) {
		int rv = oscar_settings_set(dst, src->v[i].section, src->v[i].key, src->v[i].value);
		if (rv != 0) {
			return (rv);
		}
	}
	return (0);
}

// ---------------------------------------------------------------------------
// INI files

typedef struct osc_ini_load {
	oscar_settings_t *s;
	int               rv;
	char              why[160];
} osc_ini_load_t;

static int osc_ini_entry(void *user, const char *section, const char *key, const char *value)
{
	osc_ini_load_t *load = user;
	if (load->rv != 0) {
		return (0); // the reader goes on after an error: keep the first
	}
	if (section[0] == '\0') {
		snprintf(load->why, sizeof(load->why),
		    "'%s' is outside any section (start the file with [node])", key);
		load->rv = OSCAR_EINVAL;
		return (0);
	}
	int rv = oscar_settings_set(load->s, section, key, value);
	if (rv != 0) {
		snprintf(load->why, sizeof(load->why),
		    rv == OSCAR_EINVAL ? "bad section or key name [%s] %s" : "cannot store [%s] %s",
		    section, key);
		load->rv = rv;
		return (0);
	}
	return (1);
}

// The INI reader (libinih as Debian builds it) reads lines into a buffer
// of 200 bytes and splits a longer line silently; so longer lines are
// refused here, with their number, before it parses the text.
#define OSC_INI_LINE_MAX 198
// A configuration file is read whole; this is far more than one needs.
#define OSC_INI_FILE_MAX (1 << 20)

// osc_long_line gives the number of the first line of text longer than
// OSC_INI_LINE_MAX characters, or 0.
static int osc_long_line(const char *text)
{
	int line = 1;
	for (const char *p = text; *p != '\0'; line++) {
		size_t len = strcspn(p, "\n");
		if (len > OSC_INI_LINE_MAX &&
		    !(len == OSC_INI_LINE_MAX + 1 && p[len - 1] == '\r')) {
			return (line);
		}
		p += len + (p[len] == '\n');
	}
	return (0);
}

// osc_read_text reads the file at path, of at most OSC_INI_FILE_MAX
// bytes, into a malloc'd string.
static int osc_read_text(const char *path, char **textp, oscar_error_t *err)
{
	FILE       *f = fopen(path, "r");
	struct stat st;
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		int e = errno;
		if (f != NULL) {
			fclose(f);
		}
		return (oscar_error_set(
		    err, OSCAR_ENOENT, "cannot read configuration file %s: %s", path, strerror(e)));
	}
	if (st.st_size > OSC_INI_FILE_MAX) {
		fclose(f);
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "configuration file %s is larger than 1 MiB", path));
	}
	char  *text = malloc((size_t) st.st_size + 1);
	size_t n    = text != NULL ? fread(text, 1, (size_t) st.st_size, f) : 0;
	int    bad  = ferror(f) ? errno : 0;
	fclose(f);
	if (text == NULL) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory reading %s", path));
	}
	if (bad) {
		free(text);
		return (oscar_error_set(err, OSCAR_ENOENT, "cannot read configuration file %s: %s",
		    path, strerror(bad)));
	}
	text[n]         = '\0';
	const char *nul = memchr(text, '\0', n);
	if (nul != NULL) {
		// The INI reader would stop at it and lose the rest silently.
		int line = 1;
		for (const char *p = text; p < nul; p++) {
			line += *p == '\n';
		}
		free(text);
		return (oscar_error_set(
		    err, OSCAR_EINVAL, "%s, line %d: a NUL byte (not a text file?)", path, line));
	}
	*textp = text;
	return (0);
}

int oscar_settings_load_file(oscar_settings_t *s, const char *path, oscar_error_t *err)
{
	if (s == NULL || path == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no settings or no file name"));
	}
	char *text = NULL;
	int   rv   = osc_read_text(path, &text, err);
	if (rv != 0) {
		return (rv);
	}
	int long_line = osc_long_line(text);
	if (long_line != 0) {
		free(text);
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "%s, line %d: longer than %d characters, the most a line may hold", path,
		    long_line, OSC_INI_LINE_MAX));
	}
	osc_ini_load_t load = { .s = s };
	int            line = ini_parse_string(text, osc_ini_entry, &load);
	free(text);
	if (line == -2) {
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory reading %s", path));
	}
	if (line != 0) {
		if (load.why[0] == '\0') {
			snprintf(load.why, sizeof(load.why),
			    "syntax error (expected [section], key = value, or a comment)");
		}
		return (oscar_error_set(err, load.rv != 0 ? load.rv : OSCAR_EINVAL,
		    "%s, line %d: %s", path, line, load.why));
	}
	return (0);
}

// ---------------------------------------------------------------------------
// Typed getters

static int osc_bad_value(oscar_error_t *err, const char *section, const char *key,
    const char *value, const char *expected)
{
	return (oscar_error_set(err, OSCAR_EINVAL, "bad value '%s' for %s.%s: expected %s", value,
	    section, key, expected));
}

// osc_parse_scaled parses a decimal number followed by an optional unit
// from units (name, factor pairs; "" is the plain number's unit).
typedef struct osc_unit {
	const char *name;
	int64_t     factor;
} osc_unit_t;

static bool osc_parse_scaled(const char *text, const osc_unit_t *units, int64_t *out)
{
	errno         = 0;
	char   *end   = NULL;
	int64_t value = strtoll(text, &end, 10);
	if (end == text || errno != 0 || value < 0) {
		return (false);
	}
	while (*end == ' ') {
		end++;
	}
	for (const osc_unit_t *u = units; u->name != NULL; u++) {
		if (strcasecmp(end, u->name) == 0) {
			if (value > INT64_MAX / u->factor) {
				return (false);
			}
			*out = value * u->factor;
			return (true);
		}
	}
	return (false);
}

static int osc_get_scaled(const oscar_settings_t *s, const char *section, const char *key,
    int64_t def, int64_t min, int64_t max, const osc_unit_t *units, const char *expected,
    int64_t *out, oscar_error_t *err)
{
	const char *text = oscar_settings_get(s, section, key);
	if (text == NULL) {
		*out = def;
		return (0);
	}
	int64_t value;
	if (!osc_parse_scaled(text, units, &value)) {
		return (osc_bad_value(err, section, key, text, expected));
	}
	if (value < min || value > max) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "bad value '%s' for %s.%s: must be between %" PRId64 " and %" PRId64, text,
		    section, key, min, max));
	}
	*out = value;
	return (0);
}

int oscar_settings_get_int(const oscar_settings_t *s, const char *section, const char *key,
    int64_t def, int64_t min, int64_t max, int64_t *out, oscar_error_t *err)
{
	static const osc_unit_t plain[] = { { "", 1 }, { NULL, 0 } };
	return (osc_get_scaled(s, section, key, def, min, max, plain, "a whole number", out, err));
}

int oscar_settings_get_ms(const oscar_settings_t *s, const char *section, const char *key,
    int64_t def, int64_t min, int64_t max, int64_t *out, oscar_error_t *err)
{
	static const osc_unit_t durations[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 },
		{ "m", 60000 }, { "h", 3600000 }, { NULL, 0 } };
	return (osc_get_scaled(s, section, key, def, min, max, durations,
	    "a duration such as 250ms, 5s or 2m", out, err));
}

int oscar_settings_get_bytes(const oscar_settings_t *s, const char *section, const char *key,
    uint64_t def, uint64_t *out, oscar_error_t *err)
{
	static const osc_unit_t sizes[] = { { "", 1 }, { "b", 1 }, { "k", 1LL << 10 },
		{ "kb", 1LL << 10 }, { "kib", 1LL << 10 }, { "m", 1LL << 20 }, { "mb", 1LL << 20 },
		{ "mib", 1LL << 20 }, { "g", 1LL << 30 }, { "gb", 1LL << 30 }, { "gib", 1LL << 30 },
		{ "t", 1LL << 40 }, { "tb", 1LL << 40 }, { "tib", 1LL << 40 }, { NULL, 0 } };
	int64_t                 value   = 0;
	int rv = osc_get_scaled(s, section, key, (int64_t) def, 0, INT64_MAX, sizes,
	    "a size such as 512M or 16G", &value, err);
	if (rv == 0) {
		*out = (uint64_t) value;
	}
	return (rv);
}

int oscar_settings_get_bool(const oscar_settings_t *s, const char *section, const char *key,
    bool def, bool *out, oscar_error_t *err)
{
	static const char *yes[] = { "true", "yes", "on", "1", NULL };
	static const char *no[]  = { "false", "no", "off", "0", NULL };
	const char        *text  = oscar_settings_get(s, section, key);
	if (text == NULL) {
		*out = def;
		return (0);
	}
	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return (0);
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return (0);
		}
	}
	return (osc_bad_value(err, section, key, text, "true or false"));
}

// ---------------------------------------------------------------------------
// Lists

int osc_split_list(const char *text, char ***itemsp, size_t *np)
{
	*itemsp = NULL;
	*np     = 0;
	if (text == NULL) {
		return (0);
	}
	size_t cap = 1;
	for (const char *p = text; *p != '\0'; p++) {
		cap += *p == ',';
	}
	char **items = calloc(cap + 1, sizeof(*items));
	if (items == NULL) {
		return (OSCAR_ENOMEM);
	}
	size_t      n = 0;
	const char *p = text;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t      len = end != NULL ? (size_t) (end - p) : strlen(p);
		while (len > 0 && isspace((unsigned char) *p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char) p[len - 1])) {
			len--;
		}
		if (len > 0) {
			items[n] = strndup(p, len);
			if (items[n] == NULL) {
				osc_free_list(items, n);
				return (OSCAR_ENOMEM);
			}
			n++;
		}
		if (end == NULL) {
			break;
		}
		p = end + 1;
	}
	*itemsp = items;
	*np     = n;
	return (0);
}

void osc_free_list(char **items, size_t n)
{
	for (size_t i = 0; items != NULL && i < n; i++) {
		free(items[i]);
	}
	free(items);
}
