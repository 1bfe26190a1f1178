/* SPDX-License-Identifier: MIT */
/*
 * buf: the cap holds, the NUL stays, consume shifts.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "suites.h"

START_TEST(test_append_within_cap)
{
	struct buf	b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "abcd", 4), 0);
	ck_assert_int_eq(buf_append(&b, "efgh", 4), 0);
	ck_assert_str_eq(b.data, "abcdefgh");
	ck_assert_uint_eq(b.len, 8);
	buf_release(&b);
}
END_TEST

START_TEST(test_append_past_cap_fails_unchanged)
{
	struct buf	b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "abcdef", 6), 0);
	errno = 0;
	ck_assert_int_eq(buf_append(&b, "xyz", 3), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_str_eq(b.data, "abcdef");
	ck_assert_int_eq(buf_printf(&b, "%s", "toolong"), -1);
	ck_assert_uint_eq(b.len, 6);
	buf_release(&b);
}
END_TEST

START_TEST(test_huge_length_does_not_wrap)
{
	struct buf	b;

	buf_init(&b, 16);
	ck_assert_int_eq(buf_append(&b, "a", 1), 0);
	ck_assert_int_eq(buf_append(&b, "b", (size_t)-1), -1);
	ck_assert_uint_eq(b.len, 1);
	buf_release(&b);
}
END_TEST

START_TEST(test_consume_and_printf)
{
	struct buf	b;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_printf(&b, "%d %s", 250, "ok"), 0);
	buf_consume(&b, 4);
	ck_assert_str_eq(b.data, "ok");
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_release(&b);
}
END_TEST

Suite *
buf_suite(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc = tcase_create("bounds");

	tcase_add_test(tc, test_append_within_cap);
	tcase_add_test(tc, test_append_past_cap_fails_unchanged);
	tcase_add_test(tc, test_huge_length_does_not_wrap);
	tcase_add_test(tc, test_consume_and_printf);
	suite_add_tcase(s, tc);
	return s;
}
