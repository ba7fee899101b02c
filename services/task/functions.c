// Task functions: the context a function sees, tables of functions by
// name, and the checked call the slot runner makes (include/oscar/task.h).
//
// A table keeps its functions in an array, in the order they were added
// (the order a worker reports them in), and a hash set over that array
// for lookups by name, so that finding a function costs one hash
// whatever the table's size.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/map.h"
#include "services/services_int.h"
#include "services/task/task_int.h"

typedef struct osc_taskfn {
	char         *name;
	uint64_t      hash;
	oscar_task_fn fn;
	void         *arg;
} osc_taskfn_t;

struct oscar_taskfns {
	osc_taskfn_t **fns;
	size_t         n;
	size_t         cap;
	osc_map_t      byname; // of osc_taskfn_t *, by osc_hash_str(name)
};

// ---------------------------------------------------------------------------
// The context

void osc_task_ctx_init(oscar_task_ctx_t *ctx, const char *session, const char *key,
    unsigned n_output, osc_task_progress_cb progress_cb, void *progress_arg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->session  = session != NULL ? session : "";
	ctx->key      = key != NULL ? key : "";
	ctx->n_output = n_output;
	atomic_init(&ctx->cancelled, false);
	atomic_init(&ctx->progress, 0.0);
	ctx->progress_cb  = progress_cb;
	ctx->progress_arg = progress_arg;
}

void osc_task_ctx_cancel(oscar_task_ctx_t *ctx)
{
	// Relaxed is enough: the flag carries no data with it, and the
	// function only needs to see it eventually.
	atomic_store_explicit(&ctx->cancelled, true, memory_order_relaxed);
}

const char *oscar_task_session(const oscar_task_ctx_t *ctx)
{
	return (ctx != NULL ? ctx->session : "");
}

const char *oscar_task_key(const oscar_task_ctx_t *ctx)
{
	return (ctx != NULL ? ctx->key : "");
}

unsigned oscar_task_n_output(const oscar_task_ctx_t *ctx)
{
	return (ctx != NULL ? ctx->n_output : 0);
}

void *oscar_task_arg(const oscar_task_ctx_t *ctx)
{
	return (ctx != NULL ? ctx->arg : NULL);
}

bool oscar_task_cancelled(const oscar_task_ctx_t *ctx)
{
	// Relaxed: see osc_task_ctx_cancel.
	return (ctx != NULL && atomic_load_explicit(&ctx->cancelled, memory_order_relaxed));
}

int oscar_task_progress(oscar_task_ctx_t *ctx, double fraction)
{
	if (ctx == NULL || isnan(fraction) || fraction < 0.0 || fraction > 1.0) {
		return (OSCAR_EINVAL);
	}
	// Relaxed: progress is a lone figure read for display.
	atomic_store_explicit(&ctx->progress, fraction, memory_order_relaxed);
	if (ctx->progress_cb != NULL) {
		ctx->progress_cb(ctx->progress_arg, fraction);
	}
	return (0);
}

int oscar_task_fail(oscar_task_ctx_t *ctx, int code, const char *fmt, ...)
{
	if (code == 0) {
		code = OSCAR_EAPP;
	}
	if (ctx == NULL) {
		return (code);
	}
	ctx->err.code = code;
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ctx->err.message, sizeof(ctx->err.message), fmt, ap);
		va_end(ap);
	} else {
		ctx->err.message[0] = '\0';
	}
	return (code);
}

// ---------------------------------------------------------------------------
// Function tables

bool osc_taskfn_name_ok(const char *name)
{
	if (name == NULL || name[0] == '\0') {
		return (false);
	}
	size_t n = 0;
	for (const char *p = name; *p != '\0'; p++, n++) {
		char c  = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
		if (!ok || n + 1 >= OSCAR_NAME_MAX) {
			return (false);
		}
	}
	return (true);
}

int oscar_taskfns_new(oscar_taskfns_t **fnsp)
{
	if (fnsp == NULL) {
		return (OSCAR_EINVAL);
	}
	oscar_taskfns_t *fns = calloc(1, sizeof(*fns));
	if (fns == NULL) {
		return (OSCAR_ENOMEM);
	}
	*fnsp = fns;
	return (0);
}

void oscar_taskfns_free(oscar_taskfns_t **fnsp)
{
	if (fnsp == NULL || *fnsp == NULL) {
		return;
	}
	oscar_taskfns_t *fns = *fnsp;
	osc_taskfns_truncate(fns, 0);
	free(fns->fns);
	osc_map_fini(&fns->byname);
	free(fns);
	*fnsp = NULL;
}

static osc_taskfn_t *osc_taskfns_lookup(const oscar_taskfns_t *fns, const char *name)
{
	uint64_t      h   = osc_hash_str(name);
	size_t        pos = osc_map_first(&fns->byname, h);
	osc_taskfn_t *f;
	while ((f = osc_map_next(&fns->byname, h, &pos)) != NULL) {
		if (strcmp(f->name, name) == 0) {
			return (f);
		}
	}
	return (NULL);
}

int oscar_taskfns_add(
    oscar_taskfns_t *fns, const char *name, oscar_task_fn fn, void *arg, oscar_error_t *err)
{
	if (fns == NULL || fn == NULL) {
		return (oscar_error_set(err, OSCAR_EINVAL, "no function table or no function"));
	}
	if (!osc_taskfn_name_ok(name)) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "bad task function name '%.80s': 1 to %d bytes of [A-Za-z0-9_.:-]",
		    name != NULL ? name : "(null)", OSCAR_NAME_MAX - 1));
	}
	if (osc_taskfns_lookup(fns, name) != NULL) {
		return (oscar_error_set(
		    err, OSCAR_EEXIST, "a task function called %s is registered already", name));
	}
	if (fns->n >= OSCAR_TASKFNS_MAX) {
		return (oscar_error_set(err, OSCAR_EINVAL,
		    "cannot register task function %s: the table holds %d already", name,
		    OSCAR_TASKFNS_MAX));
	}
	osc_taskfn_t *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->name = strdup(name)) == NULL ||
	    osc_reserve(&fns->fns, &fns->cap, fns->n, sizeof(*fns->fns), 16) != 0 ||
	    osc_map_reserve(&fns->byname) != 0) {
		if (f != NULL) {
			free(f->name);
		}
		free(f);
		return (oscar_error_set(err, OSCAR_ENOMEM, "out of memory"));
	}
	f->hash = osc_hash_str(name);
	f->fn   = fn;
	f->arg  = arg;
	osc_map_insert(&fns->byname, f->hash, f);
	fns->fns[fns->n++] = f;
	return (0);
}

int oscar_taskfns_find(const oscar_taskfns_t *fns, const char *name, oscar_task_fn *fn, void **arg)
{
	osc_taskfn_t *f;
	if (fns == NULL || name == NULL || (f = osc_taskfns_lookup(fns, name)) == NULL) {
		return (OSCAR_ENOENT);
	}
	if (fn != NULL) {
		*fn = f->fn;
	}
	if (arg != NULL) {
		*arg = f->arg;
	}
	return (0);
}

size_t oscar_taskfns_count(const oscar_taskfns_t *fns)
{
	return (fns != NULL ? fns->n : 0);
}

const char *oscar_taskfns_name(const oscar_taskfns_t *fns, size_t i)
{
	return (fns != NULL && i < fns->n ? fns->fns[i]->name : NULL);
}

oscar_value_t *oscar_taskfns_names(const oscar_taskfns_t *fns)
{
	size_t         n   = oscar_taskfns_count(fns);
	oscar_value_t *arr = oscar_value_new_array(n);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		if (oscar_value_array_push(arr, oscar_value_new_str(fns->fns[i]->name)) != 0) {
			oscar_value_free(arr);
			arr = NULL;
		}
	}
	return (arr);
}

void osc_taskfns_truncate(oscar_taskfns_t *fns, size_t n)
{
	while (fns != NULL && fns->n > n) {
		osc_taskfn_t *f = fns->fns[--fns->n];
		osc_map_remove(&fns->byname, f->hash, f);
		free(f->name);
		free(f);
	}
}

// ---------------------------------------------------------------------------
// The checked call

int osc_task_run(const oscar_taskfns_t *fns, const char *name, oscar_task_ctx_t *ctx,
    const oscar_value_t *args, oscar_value_t **result, oscar_error_t *err)
{
	oscar_task_fn fn;
	void         *arg;
	*result = NULL;
	if (oscar_taskfns_find(fns, name, &fn, &arg) != 0) {
		return (
		    oscar_error_set(err, OSCAR_ENOENT, "task %s: no task function called %s here",
		        ctx->key, name != NULL ? name : "(null)"));
	}
	ctx->arg = arg;
	memset(&ctx->err, 0, sizeof(ctx->err));
	oscar_value_t *out = NULL;
	int            rv  = fn(ctx, args, &out);
	if (rv != 0) {
		oscar_value_free(out);
		const char *why = ctx->err.code == rv && ctx->err.message[0] != '\0'
		                      ? ctx->err.message
		                      : oscar_strerror(rv);
		return (oscar_error_set(err, rv, "task %s (%s): %s", ctx->key, name, why));
	}
	if (out == NULL) {
		return (oscar_error_set(err, OSCAR_EAPP,
		    "task %s (%s): returned success without a result", ctx->key, name));
	}
	if (ctx->n_output > 1 && (out->type != OSCAR_ARRAY || out->as.arr.len != ctx->n_output)) {
		size_t got = out->type == OSCAR_ARRAY ? out->as.arr.len : 1;
		oscar_value_free(out);
		return (oscar_error_set(err, OSCAR_EAPP,
		    "task %s (%s): n_output is %u but the function returned %zu value%s", ctx->key,
		    name, ctx->n_output, got, got == 1 ? "" : "s"));
	}
	*result = out;
	return (0);
}

// osc_value_fits tells whether v's encoding takes at most *left bytes (a
// bound: 9 bytes a header), taking its size from *left.
static bool osc_value_fits(const oscar_value_t *v, uint64_t *left, int depth)
{
	uint64_t n = 9;
	if (depth > OSCAR_VALUE_MAX_DEPTH) {
		return (false);
	}
	if (v->type == OSCAR_STR || v->type == OSCAR_BIN) {
		n += v->as.str.len;
	} else if (v->type == OSCAR_REF) {
		n += v->as.ref.len + 9;
	}
	if (n > *left) {
		return (false);
	}
	*left -= n;
	if (v->type == OSCAR_ARRAY) {
		for (size_t i = 0; i < v->as.arr.len; i++) {
			if (!osc_value_fits(&v->as.arr.items[i], left, depth + 1)) {
				return (false);
			}
		}
	} else if (v->type == OSCAR_MAP) {
		for (size_t i = 0; i < v->as.map.len; i++) {
			if (!osc_value_fits(&v->as.map.kv[i].key, left, depth + 1) ||
			    !osc_value_fits(&v->as.map.kv[i].val, left, depth + 1)) {
				return (false);
			}
		}
	}
	return (true);
}

bool osc_task_value_large(const oscar_value_t *v, uint64_t threshold)
{
	uint64_t left = threshold > 0 ? threshold - 1 : 0;
	return (threshold > 0 && v != NULL && !osc_value_fits(v, &left, 0));
}
