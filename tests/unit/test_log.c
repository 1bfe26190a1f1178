/* SPDX-License-Identifier: MIT */
/*
 * log: structured events as Postfix-style text and as JSON, and JSON
 * escaping; stderr is sent to a temporary file and read back.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "suites.h"

static char	captured[8192];

/* Runs log calls with stderr in a file; leaves what they wrote. */
static FILE	*capture_file;
static int	 saved_stderr;

static void
capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	ck_assert_ptr_nonnull(capture_file);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(saved_stderr, -1);
	ck_assert_int_ne(dup2(fileno(capture_file), STDERR_FILENO), -1);
}

static const char *
capture_end(void)
{
	size_t	n;

	fflush(stderr);
	ck_assert_int_ne(dup2(saved_stderr, STDERR_FILENO), -1);
	close(saved_stderr);
	rewind(capture_file);
	n = fread(captured, 1, sizeof(captured) - 1, capture_file);
	captured[n] = '\0';
	fclose(capture_file);
	return captured;
}

static const struct log_field delivery[] = {
	{ .key = "to", .kind = LOG_ADDR, .s = "alice@example.org" },
	{ .key = "relay", .kind = LOG_STR, .s = "local" },
	{ .key = "delay", .kind = LOG_SECONDS, .d = 0.25 },
	{ .key = "size", .kind = LOG_INT, .i = 1234 },
	{ .key = "dsn", .kind = LOG_STR, .s = "2.0.0" },
	{ .key = "status", .kind = LOG_STR, .s = "sent" },
};

START_TEST(test_text_event)
{
	char	want[512];

	log_init("lmtpd", true, NULL);
	log_set_format(LOG_FORMAT_TEXT);
	capture_begin();
	log_event("4AB", NULL, delivery, 6, "new/1.M2P3Q4.host,S=1234");
	log_event(NULL, "reject: RCPT from [127.0.0.1]: 550 5.1.1 no such "
	    "user", delivery, 1, NULL);
	capture_end();
	snprintf(want, sizeof(want), "lmtpd[%ld]: 4AB: to=<alice@example.org>"
	    ", relay=local, delay=0.25, size=1234, dsn=2.0.0, status=sent "
	    "(new/1.M2P3Q4.host,S=1234)\nlmtpd[%ld]: reject: RCPT from "
	    "[127.0.0.1]: 550 5.1.1 no such user; to=<alice@example.org>\n",
	    (long)getpid(), (long)getpid());
	ck_assert_str_eq(captured, want);
}
END_TEST

START_TEST(test_json_event)
{
	const char	*out;

	log_init("lmtpd", true, NULL);
	log_set_format(LOG_FORMAT_JSON);
	capture_begin();
	log_event("4AB", NULL, delivery, 6, "new/x");
	out = capture_end();
	ck_assert_msg(strncmp(out, "{\"time\":\"", 9) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\"ident\":\"lmtpd\",\"pid\":") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, "\"level\":\"info\",\"queue_id\":\"4AB\","
	    "\"to\":\"alice@example.org\",\"relay\":\"local\","
	    "\"delay\":0.250,\"size\":1234,\"dsn\":\"2.0.0\","
	    "\"status\":\"sent\",\"detail\":\"new/x\"}\n") != NULL, "%s", out);
	/* One object, one line. */
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
}
END_TEST

START_TEST(test_json_escapes_everything)
{
	const char	*out;

	log_init("lmtpd", true, NULL);
	log_set_format(LOG_FORMAT_JSON);
	capture_begin();
	log_info("a\"b\\c\nd\te\x01" "f\xe9" "g");
	out = capture_end();
	ck_assert_msg(strstr(out, "\"msg\":\"a\\\"b\\\\c\\u000ad\\u0009e"
	    "\\u0001f\\u00e9g\"}\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"level\":\"info\"") != NULL, "%s", out);
}
END_TEST

START_TEST(test_json_warn_has_errno_text)
{
	const char	*out;

	log_init("lmtpd", true, NULL);
	log_set_format(LOG_FORMAT_JSON);
	capture_begin();
	errno = ENOENT;
	log_warn("open %s", "/x");
	out = capture_end();
	ck_assert_msg(strstr(out, "\"level\":\"warning\",\"msg\":\"open /x: "
	    "No such file or directory\"}") != NULL, "%s", out);
}
END_TEST

Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("formats");

	tcase_add_test(tc, test_text_event);
	tcase_add_test(tc, test_json_event);
	tcase_add_test(tc, test_json_escapes_everything);
	tcase_add_test(tc, test_json_warn_has_errno_text);
	suite_add_tcase(s, tc);
	return s;
}
