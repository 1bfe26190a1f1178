/* SPDX-License-Identifier: MIT */
/*
 * trace: the exact block for fixed inputs in fixed zones, the null
 * sender, control characters replaced, and ENOBUFS at every short cap.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"
#include "trace.h"
#include "util.h"

#define WHEN	((time_t)1796106000)	/* Tue, 01 Dec 2026 06:20:00 UTC */

static const struct trace	base = {
	.sender = "alice@example.org",
	.recipient = "bob@example.net",
	.helo = "client.example.org",
	.peer = "[192.0.2.1]",
	.hostname = "mx.example.net",
	.queue_id = "3fa2c1",
	.when = WHEN,
};

static const char	base_block[] =
	"Return-Path: <alice@example.org>\n"
	"Delivered-To: <bob@example.net>\n"
	"Received: from client.example.org ([192.0.2.1])\n"
	"\tby mx.example.net (lmtpd) with LMTP id 3fa2c1\n"
	"\tfor <bob@example.net>; Tue, 01 Dec 2026 06:20:00 +0000\n";

static void
set_tz(const char *tz)
{
	ck_assert_int_eq(setenv("TZ", tz, 1), 0);
	tzset();
}

static void
setup(void)
{
	set_tz("UTC");
}

START_TEST(test_block_exact)
{
	char	out[1024];
	long	n;

	n = trace_format(&base, out, sizeof(out));
	ck_assert_int_eq(n, (long)strlen(base_block));
	ck_assert_str_eq(out, base_block);
}
END_TEST

/* Local time with a numeric zone, either sign, half hours. */
static const struct {
	const char	*tz;
	const char	*date;
} zones[] = {
	{ "UTC",      "Tue, 01 Dec 2026 06:20:00 +0000" },
	{ "XST+3:30", "Tue, 01 Dec 2026 02:50:00 -0330" },
	{ "IST-5:30", "Tue, 01 Dec 2026 11:50:00 +0530" },
	{ "XST+8",    "Mon, 30 Nov 2026 22:20:00 -0800" },
	{ "XST-14",   "Tue, 01 Dec 2026 20:20:00 +1400" },
};

START_TEST(test_date_zone)
{
	char		 out[1024], want[64];
	const char	*semi;

	set_tz(zones[_i].tz);
	ck_assert_int_gt(trace_format(&base, out, sizeof(out)), 0);
	semi = strrchr(out, ';');
	ck_assert_ptr_nonnull(semi);
	snprintf(want, sizeof(want), "; %s\n", zones[_i].date);
	ck_assert_str_eq(semi, want);
}
END_TEST

START_TEST(test_null_sender)
{
	struct trace	t = base;
	char		out[1024];

	t.sender = "";
	ck_assert_int_gt(trace_format(&t, out, sizeof(out)), 0);
	ck_assert_int_eq(strncmp(out, "Return-Path: <>\n", 16), 0);
	ck_assert_str_eq(out + 16, base_block + strlen(
	    "Return-Path: <alice@example.org>\n"));
}
END_TEST

/* RFC 6531 §3.7.3: a transaction with SMTPUTF8 says so in Received. */
START_TEST(test_utf8_with_clause)
{
	struct trace	t = base;
	char		out[1024];

	ck_assert_int_gt(trace_format(&t, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, " with LMTP id "));
	t.utf8 = true;
	t.recipient = "j\xc3\xb6rg@example.net";
	ck_assert_int_gt(trace_format(&t, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, " (lmtpd) with UTF8LMTP id "));
	ck_assert_ptr_nonnull(strstr(out,
	    "Delivered-To: <j\xc3\xb6rg@example.net>\n"));
}
END_TEST

/* RFC 3848 §1 and RFC 6531 §4.3: the WITH type for each combination. */
static const struct {
	bool		 utf8;
	bool		 tls;
	const char	*with;
} with_types[] = {
	{ false, false, " (lmtpd) with LMTP id " },
	{ false, true, " (lmtpd) with LMTPS id " },
	{ true, false, " (lmtpd) with UTF8LMTP id " },
	{ true, true, " (lmtpd) with UTF8LMTPS id " },
};

START_TEST(test_with_types)
{
	struct trace	t = base;
	char		out[1024];

	t.utf8 = with_types[_i].utf8;
	t.tls = with_types[_i].tls;
	ck_assert_int_gt(trace_format(&t, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, with_types[_i].with));
}
END_TEST

START_TEST(test_controls_replaced)
{
	struct trace	t = base;
	char		out[1024];

	t.helo = "evil\r\nX-Injected: yes\x01\x7f\xc3\xa9";
	t.peer = "[\t1]";
	t.recipient = "b\nb@example.net";
	ck_assert_int_gt(trace_format(&t, out, sizeof(out)), 0);
	ck_assert_str_eq(out,
	    "Return-Path: <alice@example.org>\n"
	    "Delivered-To: <b?b@example.net>\n"
	    "Received: from evil??X-Injected: yes??\xc3\xa9 ([?1])\n"
	    "\tby mx.example.net (lmtpd) with LMTP id 3fa2c1\n"
	    "\tfor <b?b@example.net>; Tue, 01 Dec 2026 06:20:00 +0000\n");
}
END_TEST

/* Every cap short of length + 1 fails; exact-size heap buffers for ASan. */
START_TEST(test_enobufs_every_cap)
{
	size_t	 len = strlen(base_block), cap;
	char	*out;

	for (cap = 0; cap <= len; cap++) {
		out = xmalloc(cap);
		errno = 0;
		ck_assert_int_eq(trace_format(&base, out, cap), -1);
		ck_assert_int_eq(errno, ENOBUFS);
		if (cap > 0)
			ck_assert_int_eq(out[0], '\0');
		x_free(out);
	}
	out = xmalloc(len + 1);
	ck_assert_int_eq(trace_format(&base, out, len + 1), (long)len);
	ck_assert_str_eq(out, base_block);
	x_free(out);
}
END_TEST
/* No recipient: one block for every copy (delivered_to = none). */
START_TEST(test_no_recipient)
{
	struct trace	t = base;
	char		out[1024];

	t.recipient = NULL;
	ck_assert_int_gt(trace_format(&t, out, sizeof(out)), 0);
	ck_assert_str_eq(out,
	    "Return-Path: <alice@example.org>\n"
	    "Received: from client.example.org ([192.0.2.1])\n"
	    "\tby mx.example.net (lmtpd) with LMTP id 3fa2c1; "
	    "Tue, 01 Dec 2026 06:20:00 +0000\n");
}
END_TEST

Suite *
trace_suite(void)
{
	Suite	*s = suite_create("trace");
	TCase	*tc = tcase_create("format");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_block_exact);
	tcase_add_loop_test(tc, test_date_zone, 0,
	    (int)(sizeof(zones) / sizeof(zones[0])));
	tcase_add_test(tc, test_null_sender);
	tcase_add_test(tc, test_controls_replaced);
	tcase_add_test(tc, test_utf8_with_clause);
	tcase_add_loop_test(tc, test_with_types, 0,
	    (int)(sizeof(with_types) / sizeof(with_types[0])));
	tcase_add_test(tc, test_enobufs_every_cap);
	tcase_add_test(tc, test_no_recipient);
	suite_add_tcase(s, tc);
	return s;
}
