// Tests of the error table: names and messages come from OSCAR_ERROR_MAP,
// application and unknown codes get their fixed answers.
#include <limits.h>
#include <string.h>

#include <criterion/criterion.h>

#include "oscar/error.h"

typedef struct err_row {
	int         code;
	const char *name;
	const char *msg;
} err_row_t;

static const err_row_t rows[] = {
#define ROW_(name, code, msg) { OSCAR_##name, #name, msg },
	OSCAR_ERROR_MAP(ROW_)
#undef ROW_
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

Test(errors, table_names_and_messages)
{
	for (size_t i = 0; i < NROWS; i++) {
		cr_assert_str_eq(oscar_errname(rows[i].code), rows[i].name);
		cr_assert_str_eq(oscar_strerror(rows[i].code), rows[i].msg);
	}
}

Test(errors, codes_are_distinct_and_below_euser)
{
	for (size_t i = 0; i < NROWS; i++) {
		cr_assert_gt(rows[i].code, 0);
		cr_assert_lt(rows[i].code, OSCAR_EUSER);
		for (size_t j = i + 1; j < NROWS; j++) {
			cr_assert_neq(rows[i].code, rows[j].code);
		}
	}
}

Test(errors, success)
{
	cr_assert_str_eq(oscar_errname(0), "OK");
	cr_assert_str_eq(oscar_strerror(0), "success");
	cr_assert_str_eq(oscar_errname(OSCAR_OK), "OK");
}

Test(errors, some_codes_by_name)
{
	cr_assert_str_eq(oscar_errname(OSCAR_ENOACTOR), "ENOACTOR");
	cr_assert_str_eq(oscar_strerror(OSCAR_ENOACTOR), "no such actor");
	cr_assert_str_eq(oscar_errname(OSCAR_EPROTO), "EPROTO");
	cr_assert_str_eq(oscar_strerror(OSCAR_EPROTO), "malformed message");
	cr_assert_str_eq(oscar_errname(OSCAR_EDEADLOCK), "EDEADLOCK");
	cr_assert_str_eq(oscar_strerror(OSCAR_ETIMEDOUT), "timed out");
}

Test(errors, application_codes)
{
	const int codes[] = { OSCAR_EUSER, OSCAR_EUSER + 1, 4242, INT_MAX };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_str_eq(oscar_errname(codes[i]), "EUSER");
		cr_assert_str_eq(oscar_strerror(codes[i]), "application error");
	}
}

Test(errors, unknown_codes)
{
	int codes[] = { -1, -OSCAR_ENOMEM, INT_MIN, OSCAR_EUSER - 1, 0 };
	int max     = 0;

	for (size_t i = 0; i < NROWS; i++) {
		max = rows[i].code > max ? rows[i].code : max;
	}
	codes[4] = max + 1;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_str_eq(oscar_errname(codes[i]), "EUNKNOWN");
		cr_assert_str_eq(oscar_strerror(codes[i]), "unknown error");
	}
}

Test(errors, never_null)
{
	for (int code = -2000; code <= 2000; code++) {
		cr_assert_not_null(oscar_errname(code));
		cr_assert_not_null(oscar_strerror(code));
		cr_assert_gt(strlen(oscar_strerror(code)), 0);
	}
}
