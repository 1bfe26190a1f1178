/* SPDX-License-Identifier: MIT */
/*
 * status: the HTTP answers of the metrics endpoint.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "status.h"
#include "suites.h"

static const struct {
	const char	*request;
	const char	*status_line;
	bool		 has_metrics;
} http_cases[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 200 OK\r\n",
	    true },
	{ "GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\n", true },
	{ "GET /other HTTP/1.1\r\n\r\n", "HTTP/1.0 404 Not Found\r\n", false },
	{ "GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.0 404 Not Found\r\n",
	    false },
	{ "POST /metrics HTTP/1.1\r\n\r\n",
	    "HTTP/1.0 405 Method Not Allowed\r\n", false },
	{ "", "HTTP/1.0 400 Bad Request\r\n", false },
	{ "\x01\x02garbage", "HTTP/1.0 400 Bad Request\r\n", false },
};

START_TEST(test_http_answers)
{
	char		 out[32 * 1024];
	const char	*body;
	size_t		 n;

	stats_add(STATS_SENT, 3);
	n = status_http_response(http_cases[_i].request,
	    strlen(http_cases[_i].request), out, sizeof(out));
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_msg(strncmp(out, http_cases[_i].status_line,
	    strlen(http_cases[_i].status_line)) == 0, "%s", out);
	body = strstr(out, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_msg(strstr(out, "Connection: close\r\n") != NULL, "%s", out);
	if (http_cases[_i].has_metrics) {
		ck_assert_msg(strstr(body,
		    "lmtpd_recipients_total{status=\"sent\"} 3\n") != NULL,
		    "%s", out);
		ck_assert_msg(strstr(out, "Content-Type: text/plain; "
		    "version=0.0.4") != NULL, "%s", out);
	} else
		ck_assert_str_eq(body, "");
}
END_TEST

START_TEST(test_content_length_matches)
{
	char		 out[32 * 1024];
	const char	*cl, *body;
	size_t		 want;

	status_http_response("GET /metrics HTTP/1.1\r\n\r\n", 26, out,
	    sizeof(out));
	cl = strstr(out, "Content-Length: ");
	ck_assert_ptr_nonnull(cl);
	want = strtoul(cl + 16, NULL, 10);
	body = strstr(out, "\r\n\r\n") + 4;
	ck_assert_uint_eq(strlen(body), want);
}
END_TEST

static void
fresh_counters(void)
{
	ck_assert_int_eq(stats_init(), 0);
	stats_reset();
}

Suite *
status_suite(void)
{
	Suite	*s = suite_create("status");
	TCase	*tc = tcase_create("http");

	tcase_add_checked_fixture(tc, fresh_counters, NULL);

	tcase_add_loop_test(tc, test_http_answers, 0,
	    sizeof(http_cases) / sizeof(http_cases[0]));
	tcase_add_test(tc, test_content_length_matches);
	suite_add_tcase(s, tc);
	return s;
}
