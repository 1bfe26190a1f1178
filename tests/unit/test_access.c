/* SPDX-License-Identifier: MIT */
/*
 * access: CIDR parsing and matching, IPv4, IPv6 and IPv4-mapped peers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "access.h"
#include "suites.h"

static const struct {
	const char		*spec;
	enum access_status	 want;
	unsigned		 prefix;
} parse_cases[] = {
	{ "127.0.0.0/8", ACCESS_OK, 8 },
	{ "127.0.0.1", ACCESS_OK, 32 },
	{ "0.0.0.0/0", ACCESS_OK, 0 },
	{ "192.168.1.128/25", ACCESS_OK, 25 },
	{ "::1", ACCESS_OK, 128 },
	{ "::1/128", ACCESS_OK, 128 },
	{ "2001:db8::/32", ACCESS_OK, 32 },
	{ "::/0", ACCESS_OK, 0 },
	{ "127.0.0.1/8", ACCESS_HOST_BITS, 0 },
	{ "2001:db8::1/64", ACCESS_HOST_BITS, 0 },
	{ "192.168.1.129/25", ACCESS_HOST_BITS, 0 },
	{ "127.0.0.0/33", ACCESS_BAD_PREFIX, 0 },
	{ "::/129", ACCESS_BAD_PREFIX, 0 },
	{ "127.0.0.0/", ACCESS_BAD_PREFIX, 0 },
	{ "127.0.0.0/8x", ACCESS_BAD_PREFIX, 0 },
	{ "127.0.0.0/-1", ACCESS_BAD_PREFIX, 0 },
	{ "127.0.0.0/0008", ACCESS_BAD_PREFIX, 0 },
	{ "localhost", ACCESS_BAD_ADDRESS, 0 },
	{ "", ACCESS_BAD_ADDRESS, 0 },
	{ "/8", ACCESS_BAD_ADDRESS, 0 },
	{ "256.0.0.0/8", ACCESS_BAD_ADDRESS, 0 },
	{ "[::1]", ACCESS_BAD_ADDRESS, 0 },
};

START_TEST(test_parse)
{
	struct access_net	net;
	enum access_status	st;

	memset(&net, 0, sizeof(net));
	st = access_parse(parse_cases[_i].spec, &net);
	ck_assert_msg(st == parse_cases[_i].want, "%s: got %d want %d",
	    parse_cases[_i].spec, st, parse_cases[_i].want);
	if (st == ACCESS_OK)
		ck_assert_uint_eq(net.prefix, parse_cases[_i].prefix);
}
END_TEST

static struct sockaddr_storage
peer(const char *text)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

static const struct {
	const char	*peer;
	bool		 allowed;
} match_cases[] = {
	{ "127.0.0.1", true },
	{ "127.255.255.254", true },
	{ "128.0.0.1", false },
	{ "10.1.2.3", true },
	{ "10.1.3.3", false },
	{ "192.0.2.200", true },
	{ "192.0.2.127", false },
	{ "::1", true },
	{ "::2", false },
	{ "2001:db8:1::5", true },
	{ "2001:db9::5", false },
	{ "::ffff:127.0.0.1", true },	/* mapped: matched as IPv4 */
	{ "::ffff:128.0.0.1", false },
	{ "0.0.0.0", false },
};

START_TEST(test_match)
{
	static const char	*nets[] = { "127.0.0.0/8", "10.1.2.0/24",
	    "192.0.2.128/25", "::1", "2001:db8:1::/48" };
	struct access_net	 list[5];
	struct sockaddr_storage	 ss;
	size_t			 i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(access_parse(nets[i], &list[i]), ACCESS_OK);
	ss = peer(match_cases[_i].peer);
	ck_assert_msg(access_allowed(list, 5, (struct sockaddr *)&ss) ==
	    match_cases[_i].allowed, "%s", match_cases[_i].peer);
}
END_TEST

START_TEST(test_empty_list_and_other_families)
{
	struct access_net	any;
	struct sockaddr_storage	ss = peer("127.0.0.1");
	struct sockaddr		un = { .sa_family = AF_UNIX };

	ck_assert(!access_allowed(NULL, 0, (struct sockaddr *)&ss));
	ck_assert_int_eq(access_parse("0.0.0.0/0", &any), ACCESS_OK);
	ck_assert(access_allowed(&any, 1, (struct sockaddr *)&ss));
	ck_assert(!access_allowed(&any, 1, &un));
	ss = peer("::1");
	ck_assert(!access_allowed(&any, 1, (struct sockaddr *)&ss));
}
END_TEST

Suite *
access_suite(void)
{
	Suite	*s = suite_create("access");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse, 0,
	    sizeof(parse_cases) / sizeof(parse_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match, 0,
	    sizeof(match_cases) / sizeof(match_cases[0]));
	tcase_add_test(tc, test_empty_list_and_other_families);
	suite_add_tcase(s, tc);
	return s;
}
