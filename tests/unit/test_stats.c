/* SPDX-License-Identifier: MIT */
/*
 * stats: counters shared across fork(), the status view and the
 * Prometheus exposition, and output cut at a line end when short.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats.h"
#include "suites.h"

START_TEST(test_children_add_master_reads)
{
	pid_t	pid;
	int	status, i;

	stats_add(STATS_SENT, 1);
	for (i = 0; i < 3; i++) {
		pid = fork();
		ck_assert_int_ne(pid, -1);
		if (pid == 0) {
			stats_add(STATS_SENT, 2);
			stats_add(STATS_BYTES, 1000);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_uint_eq(stats_get(STATS_SENT), 7);
	ck_assert_uint_eq(stats_get(STATS_BYTES), 3000);
	ck_assert_uint_eq(stats_get(STATS_DEFERRED), 0);
}
END_TEST

START_TEST(test_status_view)
{
	char	out[2048];
	size_t	n;

	stats_add(STATS_CONNECTIONS, 12);
	stats_add(STATS_REFUSED, 1);
	stats_add(STATS_MESSAGES, 10);
	stats_add(STATS_SENT, 15);
	stats_add(STATS_DEFERRED, 2);
	stats_add(STATS_REJECTED, 3);
	stats_add(STATS_BYTES, 123456);
	stats_set(STATS_POOL_BUSY, 1);
	stats_set(STATS_POOL_IDLE, 3);
	stats_set(STATS_POOL_MAX, 32);
	n = stats_format_status(out, sizeof(out), time(NULL) + 3661);
	ck_assert_uint_eq(n, strlen(out));
	/* A second may pass since the start (valgrind is slow). */
	ck_assert_msg(strstr(out, "up 0d 01:01:01\n") != NULL ||
	    strstr(out, "up 0d 01:01:02\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "children: 1 busy, 3 idle, 0 starting "
	    "(max 32)") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "connections: 12 served, 1 refused\n") !=
	    NULL, "%s", out);
	ck_assert_msg(strstr(out, "recipients: 15 sent, 2 deferred, 0 "
	    "bounced, 3 rejected at RCPT\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "bytes written: 123456\n") != NULL, "%s",
	    out);
}
END_TEST

START_TEST(test_prometheus)
{
	char		 out[8192];
	const char	*line;

	stats_add(STATS_SENT, 5);
	stats_add(STATS_BOUNCED, 1);
	stats_set(STATS_POOL_IDLE, 2);
	stats_format_prometheus(out, sizeof(out), time(NULL));
	ck_assert_msg(strstr(out, "# TYPE lmtpd_recipients_total counter\n"
	    "lmtpd_recipients_total{status=\"sent\"} 5\n"
	    "lmtpd_recipients_total{status=\"deferred\"} 0\n"
	    "lmtpd_recipients_total{status=\"bounced\"} 1\n") != NULL, "%s",
	    out);
	ck_assert_msg(strstr(out, "lmtpd_children{state=\"idle\"} 2\n") !=
	    NULL, "%s", out);
	/* Every line is a comment or "name[{labels}] value". */
	for (line = out; *line != '\0'; line = strchr(line, '\n') + 1) {
		ck_assert_ptr_nonnull(strchr(line, '\n'));
		if (line[0] == '#')
			continue;
		ck_assert_msg(strncmp(line, "lmtpd_", 6) == 0, "%s", line);
		ck_assert_msg(strchr(line, ' ') < strchr(line, '\n'), "%s",
		    line);
	}
}
END_TEST

START_TEST(test_short_buffer_cut_at_line_end)
{
	char	out[200];
	size_t	n;

	n = stats_format_prometheus(out, sizeof(out), time(NULL));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_int_eq(out[n - 1], '\n');
	n = stats_format_status(out, 1, time(NULL));
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* With CK_FORK=no the suites share one process, and so the counters. */
static void
fresh_counters(void)
{
	ck_assert_int_eq(stats_init(), 0);
	stats_reset();
}

Suite *
stats_suite(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("counters");

	tcase_add_checked_fixture(tc, fresh_counters, NULL);

	tcase_add_test(tc, test_children_add_master_reads);
	tcase_add_test(tc, test_status_view);
	tcase_add_test(tc, test_prometheus);
	tcase_add_test(tc, test_short_buffer_cut_at_line_end);
	suite_add_tcase(s, tc);
	return s;
}
