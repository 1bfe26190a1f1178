/* SPDX-License-Identifier: MIT */
/*
 * addr: RFC 5321 §4.1.2 paths, table-driven.  Every valid path is also
 * parsed from an exact-size heap copy (no NUL, so ASan sees any over-read)
 * and cut short at every length, which must never parse.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "suites.h"

#define NUL	ADDR_ALLOW_NULL
#define PM	ADDR_ALLOW_POSTMASTER
#define U8	ADDR_ALLOW_UTF8
#define ALL	(NUL | PM | U8)

struct valid_case {
	const char	*in;
	int		 flags;
	const char	*text;
	const char	*local;
	const char	*domain;
	size_t		 end;		/* 0: the whole input */
	bool		 is_null;
	bool		 is_literal;
	bool		 has_utf8;
};

static const struct valid_case valid[] = {
	{ "<user@example.org>", 0, "user@example.org", "user", "example.org",
	    0, false, false, false },
	{ "<User.Name+tag@Example.ORG>", 0, "User.Name+tag@Example.ORG",
	    "User.Name+tag", "Example.ORG", 0, false, false, false },
	{ "<a@b>", 0, "a@b", "a", "b", 0, false, false, false },
	{ "<a-b@x-1.example>", 0, "a-b@x-1.example", "a-b", "x-1.example",
	    0, false, false, false },
	{ "<!#$%&'*+-/=?^_`{|}~@example.org>", 0,
	    "!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~",
	    "example.org", 0, false, false, false },
	/* Quoted-string: a space, and quoted-pairs for '"' and '\'. */
	{ "<\"a b\"@example.org>", 0, "\"a b\"@example.org", "a b",
	    "example.org", 0, false, false, false },
	{ "<\"a\\\"b\\\\c\\d\"@example.org>", 0,
	    "\"a\\\"b\\\\c\\d\"@example.org", "a\"b\\cd", "example.org",
	    0, false, false, false },
	{ "<\"\"@example.org>", 0, "\"\"@example.org", "", "example.org",
	    0, false, false, false },
	{ "<\"../x\"@example.org>", 0, "\"../x\"@example.org", "../x",
	    "example.org", 0, false, false, false },
	{ "<\"a/b\"@example.org>", 0, "\"a/b\"@example.org", "a/b",
	    "example.org", 0, false, false, false },
	{ "<a/b@example.org>", 0, "a/b@example.org", "a/b", "example.org",
	    0, false, false, false },
	/* A source route is checked and dropped (RFC 5321 §4.1.1.3). */
	{ "<@relay.example:user@example.org>", 0, "user@example.org", "user",
	    "example.org", 0, false, false, false },
	{ "<@r1.example,@r2.example:user@example.org>", 0, "user@example.org",
	    "user", "example.org", 0, false, false, false },
	/* Address literals keep their brackets. */
	{ "<user@[192.0.2.1]>", 0, "user@[192.0.2.1]", "user", "[192.0.2.1]",
	    0, false, true, false },
	{ "<user@[IPv6:2001:db8::1]>", 0, "user@[IPv6:2001:db8::1]", "user",
	    "[IPv6:2001:db8::1]", 0, false, true, false },
	{ "<user@[ipv6:::ffff:192.0.2.1]>", 0, "user@[ipv6:::ffff:192.0.2.1]",
	    "user", "[ipv6:::ffff:192.0.2.1]", 0, false, true, false },
	{ "<user@[x-tag:some-content]>", 0, "user@[x-tag:some-content]",
	    "user", "[x-tag:some-content]", 0, false, true, false },
	/* RFC 5321 §4.5.1 <Postmaster>, kept as written. */
	{ "<Postmaster>", PM, "Postmaster", "Postmaster", "", 0,
	    false, false, false },
	{ "<postMASTER>", PM, "postMASTER", "postMASTER", "", 0,
	    false, false, false },
	{ "<@relay.example:postmaster>", PM, "postmaster", "postmaster", "",
	    0, false, false, false },
	{ "<Postmaster@example.org>", 0, "Postmaster@example.org",
	    "Postmaster", "example.org", 0, false, false, false },
	/* The null path (RFC 5321 §4.1.1.2). */
	{ "<>", NUL, "", "", "", 0, true, false, false },
	{ "<> BODY=8BITMIME", NUL, "", "", "", 2, true, false, false },
	/* Parameters after '>' are the caller's. */
	{ "<user@example.org> SIZE=100", 0, "user@example.org", "user",
	    "example.org", 18, false, false, false },
	{ "<user@example.org>>", 0, "user@example.org", "user", "example.org",
	    18, false, false, false },
	/* RFC 6531 §3.3 */
	{ "<jos\xc3\xa9@exampl\xc3\xa9.org>", U8,
	    "jos\xc3\xa9@exampl\xc3\xa9.org", "jos\xc3\xa9",
	    "exampl\xc3\xa9.org", 0, false, false, true },
	{ "<\"caf\xc3\xa9 \xe2\x82\xac\"@example.org>", U8,
	    "\"caf\xc3\xa9 \xe2\x82\xac\"@example.org",
	    "caf\xc3\xa9 \xe2\x82\xac",
	    "example.org", 0, false, false, true },
	{ "<\xf0\x9f\x98\x80@example.org>", U8, "\xf0\x9f\x98\x80@example.org",
	    "\xf0\x9f\x98\x80", "example.org", 0, false, false, true },
	{ "<user@example.org>", ALL, "user@example.org", "user",
	    "example.org", 0, false, false, false },
	/* 8-bit bytes only in the dropped route do not count. */
	{ "<@r\xc3\xa9lay:user@example.org>", U8, "user@example.org", "user",
	    "example.org", 0, false, false, false },
};

START_TEST(test_valid)
{
	const struct valid_case	*c = &valid[_i];
	struct addr		 a;
	size_t			 end = 12345, want;

	want = c->end != 0 ? c->end : strlen(c->in);
	ck_assert_msg(addr_parse_path(c->in, strlen(c->in), c->flags, &a,
	    &end) == ADDR_OK, "%s", c->in);
	ck_assert_uint_eq(end, want);
	ck_assert_str_eq(a.text, c->text);
	ck_assert_str_eq(a.local, c->local);
	ck_assert_str_eq(a.domain, c->domain);
	ck_assert(a.is_null == c->is_null);
	ck_assert(a.is_literal == c->is_literal);
	ck_assert(a.has_utf8 == c->has_utf8);
}
END_TEST

/*
 * The same paths from a heap copy of exactly the path's bytes: no NUL
 * after it, so reading past len is an ASan error.  Every shorter prefix
 * must fail, and must not report ADDR_TOO_LONG (it is short, not long).
 */
START_TEST(test_valid_exact_and_prefixes)
{
	const struct valid_case	*c = &valid[_i];
	struct addr		 a;
	size_t			 end, want, n;
	enum addr_status	 st;
	char			*copy;

	want = c->end != 0 ? c->end : strlen(c->in);
	copy = malloc(want);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, c->in, want);
	ck_assert_int_eq(addr_parse_path(copy, want, c->flags, &a, &end),
	    ADDR_OK);
	ck_assert_uint_eq(end, want);
	ck_assert_str_eq(a.text, c->text);
	for (n = 0; n < want; n++) {
		st = addr_parse_path(copy, n, c->flags, &a, &end);
		ck_assert_msg(st != ADDR_OK && st != ADDR_TOO_LONG,
		    "%s cut at %zu gave %d", c->in, n, (int)st);
	}
	free(copy);
}
END_TEST

struct bad_case {
	const char		*in;
	int			 flags;
	enum addr_status	 st;
};

static const struct bad_case bad[] = {
	/* Not a path at all, or not at the start. */
	{ "", ALL, ADDR_SYNTAX },
	{ " <user@example.org>", ALL, ADDR_SYNTAX },
	{ "user@example.org", ALL, ADDR_SYNTAX },
	{ "<user@example.org", ALL, ADDR_SYNTAX },
	{ "<", ALL, ADDR_SYNTAX },
	{ "< user@example.org>", ALL, ADDR_SYNTAX },
	{ "<user@example.org >", ALL, ADDR_SYNTAX },
	{ "<user @example.org>", ALL, ADDR_SYNTAX },
	{ "<a b@example.org>", ALL, ADDR_SYNTAX },
	{ "<a(b)@example.org>", ALL, ADDR_SYNTAX },
	{ "<a,b@example.org>", ALL, ADDR_SYNTAX },
	{ "<a@b@example.org>", ALL, ADDR_SYNTAX },
	/* Dot-string: no leading, trailing or doubled dot unquoted. */
	{ "<.hidden@example.org>", ALL, ADDR_SYNTAX },
	{ "<a..b@example.org>", ALL, ADDR_SYNTAX },
	{ "<a.@example.org>", ALL, ADDR_SYNTAX },
	{ "<../x@example.org>", ALL, ADDR_SYNTAX },
	{ "<@example.org>", ALL, ADDR_SYNTAX },
	/* Domain */
	{ "<user@>", ALL, ADDR_SYNTAX },
	{ "<user@-example.org>", ALL, ADDR_SYNTAX },
	{ "<user@example-.org>", ALL, ADDR_SYNTAX },
	{ "<user@example..org>", ALL, ADDR_SYNTAX },
	{ "<user@example.org.>", ALL, ADDR_SYNTAX },
	{ "<user@.example.org>", ALL, ADDR_SYNTAX },
	{ "<user@exa_mple.org>", ALL, ADDR_SYNTAX },
	/* Address literals */
	{ "<user@[]>", ALL, ADDR_SYNTAX },
	{ "<user@[192.0.2.1>", ALL, ADDR_SYNTAX },
	{ "<user@[300.0.2.1]>", ALL, ADDR_SYNTAX },
	{ "<user@[192.0.2]>", ALL, ADDR_SYNTAX },
	{ "<user@[192.0.2.1.5]>", ALL, ADDR_SYNTAX },
	{ "<user@[192..2.1]>", ALL, ADDR_SYNTAX },
	{ "<user@[1922.0.2.1]>", ALL, ADDR_SYNTAX },
	{ "<user@[IPv6:]>", ALL, ADDR_SYNTAX },
	{ "<user@[IPv6:zz::1]>", ALL, ADDR_SYNTAX },
	{ "<user@[a b]>", ALL, ADDR_SYNTAX },
	{ "<user@[a[b]>", ALL, ADDR_SYNTAX },
	{ "<user@[a\\b]>", ALL, ADDR_SYNTAX },
	{ "<user@[192.0.2.1]x>", ALL, ADDR_SYNTAX },
	/* Source routes */
	{ "<@relay.example>", ALL, ADDR_SYNTAX },
	{ "<@relay.example:>", ALL, ADDR_SYNTAX },
	{ "<@relay.example user@example.org>", ALL, ADDR_SYNTAX },
	{ "<@relay.example,user@example.org>", ALL, ADDR_SYNTAX },
	{ "<@:user@example.org>", ALL, ADDR_SYNTAX },
	{ "<@relay.example,:user@example.org>", ALL, ADDR_SYNTAX },
	/* Quoted strings: only %d32-126 after '\', no bare control. */
	{ "<\"abc@example.org>", ALL, ADDR_SYNTAX },
	{ "<\"a\x01\"@example.org>", ALL, ADDR_SYNTAX },
	{ "<\"a\\\x01\"@example.org>", ALL, ADDR_SYNTAX },
	{ "<\"a\\\x7f\"@example.org>", ALL, ADDR_SYNTAX },
	{ "<\"a\x7f\"@example.org>", ALL, ADDR_SYNTAX },
	{ "<\"a\"b@example.org>", ALL, ADDR_SYNTAX },
	{ "<a\"b\"@example.org>", ALL, ADDR_SYNTAX },
	{ "<a\tb@example.org>", ALL, ADDR_SYNTAX },
	/* The null path */
	{ "<>", 0, ADDR_NULL_NOT_ALLOWED },
	{ "<>", PM | U8, ADDR_NULL_NOT_ALLOWED },
	/* Only <Postmaster> may lack a domain, and only when allowed. */
	{ "<Postmaster>", 0, ADDR_NO_DOMAIN },
	{ "<Postmaster>", NUL | U8, ADDR_NO_DOMAIN },
	{ "<user>", ALL, ADDR_NO_DOMAIN },
	{ "<postmasters>", ALL, ADDR_NO_DOMAIN },
	{ "<\"Postmaster\">", ALL, ADDR_NO_DOMAIN },
	{ "<@relay.example:user>", ALL, ADDR_NO_DOMAIN },
	/* 8-bit bytes without SMTPUTF8 (RFC 6531 §3.2) */
	{ "<jos\xc3\xa9@example.org>", NUL | PM, ADDR_BAD_UTF8 },
	{ "<user@exampl\xc3\xa9.org>", NUL | PM, ADDR_BAD_UTF8 },
	{ "<\"jos\xc3\xa9\"@example.org>", NUL | PM, ADDR_BAD_UTF8 },
	{ "<@r\xc3\xa9lay:user@example.org>", NUL | PM, ADDR_BAD_UTF8 },
	{ "<user@[\xc3\xa9]>", NUL | PM, ADDR_BAD_UTF8 },
	{ "<\xff@example.org>", NUL | PM, ADDR_BAD_UTF8 },
	/* ... and ill-formed UTF-8 with it */
	{ "<a\xc0\x80@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xc1\xbf@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xe0\x80\xaf@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xed\xa0\x80@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xf4\x90\x80\x80@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\x80@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xc3@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xe2\x82@example.org>", ALL, ADDR_BAD_UTF8 },
	{ "<a\xc3", ALL, ADDR_BAD_UTF8 },
	{ "<user@ex\xed\xbf\xbf.org>", ALL, ADDR_BAD_UTF8 },
	{ "<\"a\xc0\xaf\"@example.org>", ALL, ADDR_BAD_UTF8 },
	/* Not a place for UTF-8 even with SMTPUTF8 */
	{ "<user@[\xc3\xa9]>", ALL, ADDR_SYNTAX },
	{ "<\"a\\\xc3\xa9\"@example.org>", ALL, ADDR_SYNTAX },
};

START_TEST(test_invalid)
{
	const struct bad_case	*c = &bad[_i];
	struct addr		 a;
	size_t			 end = 12345;
	enum addr_status	 st;

	st = addr_parse_path(c->in, strlen(c->in), c->flags, &a, &end);
	ck_assert_msg(st == c->st, "%s: got %d, want %d", c->in, (int)st,
	    (int)c->st);
	ck_assert_uint_eq(end, 12345);
}
END_TEST

/* Fills buf with "<" + n_local 'a' + "@" + domain + ">" + tail. */
static size_t
make_path(char *buf, size_t n_local, const char *domain, const char *tail)
{
	size_t	n = 0;

	buf[n++] = '<';
	memset(buf + n, 'a', n_local);
	n += n_local;
	buf[n++] = '@';
	memcpy(buf + n, domain, strlen(domain));
	n += strlen(domain);
	buf[n++] = '>';
	memcpy(buf + n, tail, strlen(tail));
	n += strlen(tail);
	buf[n] = '\0';
	return n;
}

/* RFC 5321 §4.5.3.1.3: 256 octets with the brackets is the most. */
START_TEST(test_path_length)
{
	char		buf[1024];
	struct addr	a;
	size_t		n, end;

	/* "<" + 250 + "@b.c>" = 256 */
	n = make_path(buf, 250, "b.c", "");
	ck_assert_uint_eq(n, ADDR_PATH_MAX);
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_OK);
	ck_assert_uint_eq(end, ADDR_PATH_MAX);
	ck_assert_uint_eq(strlen(a.local), 250);

	/* The same with parameters after it: still fine. */
	n = make_path(buf, 250, "b.c", " SIZE=1");
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_OK);
	ck_assert_uint_eq(end, ADDR_PATH_MAX);

	/* 257 */
	n = make_path(buf, 251, "b.c", "");
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_TOO_LONG);
	n = make_path(buf, 600, "b.c", " SIZE=1");
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_TOO_LONG);

	/* A long domain, quoted local part and an unterminated run */
	n = make_path(buf, 1, "", "");
	memset(buf + 3, 'd', 400);
	buf[403] = '>';
	ck_assert_int_eq(addr_parse_path(buf, 404, 0, &a, &end),
	    ADDR_TOO_LONG);
	buf[0] = '<';
	buf[1] = '"';
	memset(buf + 2, ' ', 400);
	ck_assert_int_eq(addr_parse_path(buf, 402, 0, &a, &end),
	    ADDR_TOO_LONG);

	/* Short input that is simply cut off is a syntax error. */
	n = make_path(buf, 250, "b.c", "");
	ck_assert_int_eq(addr_parse_path(buf, n - 1, 0, &a, &end),
	    ADDR_SYNTAX);
	/* A syntax error before the limit stays one. */
	n = make_path(buf, 600, "b.c", "");
	buf[10] = ' ';
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_SYNTAX);
}
END_TEST

/* Local parts over 64 octets parse; addr_local_check refuses them later. */
START_TEST(test_long_local_parses)
{
	char		buf[512];
	struct addr	a;
	size_t		n, end;

	n = make_path(buf, 64, "example.org", "");
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_OK);
	ck_assert_int_eq(addr_local_check(a.local), ADDR_LOCAL_SAFE);
	n = make_path(buf, 65, "example.org", "");
	ck_assert_int_eq(addr_parse_path(buf, n, 0, &a, &end), ADDR_OK);
	ck_assert_uint_eq(strlen(a.local), 65);
	ck_assert_int_eq(addr_local_check(a.local), ADDR_LOCAL_LONG);
}
END_TEST

struct local_case {
	const char		*local;
	enum addr_local_status	 st;
};

#define A16	"aaaaaaaaaaaaaaaa"
#define A64	A16 A16 A16 A16

static const struct local_case locals[] = {
	{ "user", ADDR_LOCAL_SAFE },
	{ "a b", ADDR_LOCAL_SAFE },
	{ "a.b", ADDR_LOCAL_SAFE },
	{ "a.", ADDR_LOCAL_SAFE },
	{ "jos\xc3\xa9", ADDR_LOCAL_SAFE },
	{ A64, ADDR_LOCAL_SAFE },
	{ "", ADDR_LOCAL_EMPTY },
	{ A64 "a", ADDR_LOCAL_LONG },
	{ "a/b", ADDR_LOCAL_SLASH },
	{ "/", ADDR_LOCAL_SLASH },
	{ "../x", ADDR_LOCAL_SLASH },	/* slash is checked before dot */
	{ ".hidden", ADDR_LOCAL_DOT },
	{ ".", ADDR_LOCAL_DOT },
	{ "..", ADDR_LOCAL_DOT },
	{ "a..b", ADDR_LOCAL_DOT },
	{ "a\x01" "b", ADDR_LOCAL_CONTROL },
	{ "a\nb", ADDR_LOCAL_CONTROL },
	{ "a\x7f", ADDR_LOCAL_CONTROL },
	{ "\x1f/..", ADDR_LOCAL_CONTROL },	/* control comes first */
	/* C1 controls (U+0080-U+009F) and ill-formed UTF-8 */
	{ "a\xc2\x80", ADDR_LOCAL_CONTROL },
	{ "\xc2\x85x", ADDR_LOCAL_CONTROL },	/* NEL */
	{ "a\xc2\x9f", ADDR_LOCAL_CONTROL },
	{ "a\xc2\xa0", ADDR_LOCAL_SAFE },	/* NBSP: not a control */
	{ "\xe7\x94\xa8\xe6\x88\xb7", ADDR_LOCAL_SAFE },
	{ "\xf0\x9f\x98\x80", ADDR_LOCAL_SAFE },
	{ "a\xff", ADDR_LOCAL_BAD_UTF8 },
	{ "a\x80", ADDR_LOCAL_BAD_UTF8 },
	{ "a\xc0\xaf", ADDR_LOCAL_BAD_UTF8 },	/* overlong '/' */
	{ "\xc0\xae\xc0\xae", ADDR_LOCAL_BAD_UTF8 },	/* overlong ".." */
	{ "a\xed\xa0\x80", ADDR_LOCAL_BAD_UTF8 },	/* surrogate */
	{ "a\xc3", ADDR_LOCAL_BAD_UTF8 },	/* truncated */
	{ "\xc3\x28", ADDR_LOCAL_BAD_UTF8 },
	{ "\xff/", ADDR_LOCAL_BAD_UTF8 },	/* before slash */
	{ "\xc2\x85\xff", ADDR_LOCAL_CONTROL },	/* the first problem */
	{ "\xff\x01", ADDR_LOCAL_BAD_UTF8 },
	{ A64 "/", ADDR_LOCAL_SLASH },		/* before long */
	{ A64 "..", ADDR_LOCAL_DOT },
};

START_TEST(test_local_check)
{
	const struct local_case	*c = &locals[_i];

	ck_assert_msg(addr_local_check(c->local) == c->st, "\"%s\"",
	    c->local);
}
END_TEST

struct utf8_case {
	const char	*s;
	size_t		 len;		/* 0: strlen */
	bool		 valid;
};

static const struct utf8_case utf8s[] = {
	{ "", 0, true },
	{ "plain ascii", 0, true },
	{ "\xc2\x80", 0, true },
	{ "caf\xc3\xa9", 0, true },
	{ "\xe2\x82\xac", 0, true },
	{ "\xed\x9f\xbf", 0, true },		/* U+D7FF */
	{ "\xee\x80\x80", 0, true },		/* U+E000 */
	{ "\xf0\x9f\x98\x80", 0, true },
	{ "\xf4\x8f\xbf\xbf", 0, true },	/* U+10FFFF */
	{ "\xc0\x80", 0, false },		/* overlong NUL */
	{ "\xc1\xbf", 0, false },
	{ "\xe0\x80\x80", 0, false },
	{ "\xe0\x9f\xbf", 0, false },
	{ "\xf0\x80\x80\x80", 0, false },
	{ "\xf0\x8f\xbf\xbf", 0, false },
	{ "\xed\xa0\x80", 0, false },		/* U+D800 */
	{ "\xed\xbf\xbf", 0, false },		/* U+DFFF */
	{ "\xf4\x90\x80\x80", 0, false },	/* U+110000 */
	{ "\xf5\x80\x80\x80", 0, false },
	{ "\xff", 0, false },
	{ "\x80", 0, false },
	{ "a\xbf", 0, false },
	{ "\xc3", 0, false },			/* truncated */
	{ "\xe2\x82", 0, false },
	{ "\xf0\x9f\x98", 0, false },
	{ "\xc3\x28", 0, false },
	{ "\xc3\xa9", 1, false },		/* cut by len */
	{ "\xc3\xa9xyz", 2, true },
};

START_TEST(test_utf8_valid)
{
	const struct utf8_case	*c = &utf8s[_i];
	size_t			 len;

	len = c->len != 0 ? c->len : strlen(c->s);
	ck_assert_msg(addr_utf8_valid(c->s, len) == c->valid, "case %d", _i);
}
END_TEST

#define N(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* A mailbox without brackets, as configuration and command lines write it. */
START_TEST(test_parse_mailbox)
{
	char		long_local[ADDR_PATH_MAX];
	struct addr	a;

	ck_assert_int_eq(addr_parse_mailbox("Alice@Example.org", 0, &a),
	    ADDR_OK);
	ck_assert_str_eq(a.text, "Alice@Example.org");
	ck_assert_str_eq(a.local, "Alice");
	ck_assert_str_eq(a.domain, "Example.org");
	ck_assert_int_eq(addr_parse_mailbox("a@b> SIZE=1", 0, &a),
	    ADDR_SYNTAX);
	ck_assert_int_eq(addr_parse_mailbox("no domain", 0, &a), ADDR_SYNTAX);
	ck_assert_int_eq(addr_parse_mailbox("jos\xc3\xa9@example.org", 0,
	    &a), ADDR_BAD_UTF8);
	ck_assert_int_eq(addr_parse_mailbox("jos\xc3\xa9@example.org",
	    ADDR_ALLOW_UTF8, &a), ADDR_OK);
	memset(long_local, 'a', sizeof(long_local) - 1);
	long_local[sizeof(long_local) - 1] = '\0';
	ck_assert_int_eq(addr_parse_mailbox(long_local, 0, &a), ADDR_TOO_LONG);
}
END_TEST

Suite *
addr_suite(void)
{
	Suite	*s = suite_create("addr");
	TCase	*tc;

	tc = tcase_create("mailbox");
	tcase_add_test(tc, test_parse_mailbox);
	suite_add_tcase(s, tc);

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, N(valid));
	tcase_add_loop_test(tc, test_valid_exact_and_prefixes, 0, N(valid));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_invalid, 0, N(bad));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_path_length);
	tcase_add_test(tc, test_long_local_parses);
	suite_add_tcase(s, tc);

	tc = tcase_create("local");
	tcase_add_loop_test(tc, test_local_check, 0, N(locals));
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_add_loop_test(tc, test_utf8_valid, 0, N(utf8s));
	suite_add_tcase(s, tc);
	return s;
}
