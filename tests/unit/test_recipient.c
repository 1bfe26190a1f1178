/* SPDX-License-Identifier: MIT */
/*
 * recipient: domain and user lookups, <Postmaster> routing, and that a
 * hostile local part never yields a path.  The struct conf is built by
 * hand with only the fields recipient.c reads, in conf_load's shape
 * (lower case, sorted with strcmp).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"
#include "recipient.h"
#include "suites.h"

#define A16	"aaaaaaaaaaaaaaaa"
#define A64	A16 A16 A16 A16
#define UML	"b\xc3\xbc" "cher.example"	/* "bücher.example" */

static char *domains[] = {
	UML,
	"example.net",
	"example.org",
};

static char *users[] = {
	"../x@example.org",
	"a/b@example.org",
	"alice@example.org",
	"bob@example.net",
	"john doe@example.org",
	"jos\xc3\xa9@" UML,
};

static const char *const postmasters[] = {
	"alice@example.org",
	"",
	NULL,
	"Bob@Example.NET",
	"x@elsewhere.example",
	"carol@example.org",	/* not in users */
	"root",
	"\"../x\"@example.org",
};

static struct conf
make_conf(bool with_users, int pm)
{
	struct conf	c;
	size_t		i;

	for (i = 1; i < sizeof(domains) / sizeof(domains[0]); i++)
		ck_assert_int_lt(strcmp(domains[i - 1], domains[i]), 0);
	for (i = 1; i < sizeof(users) / sizeof(users[0]); i++)
		ck_assert_int_lt(strcmp(users[i - 1], users[i]), 0);
	memset(&c, 0, sizeof(c));
	c.domains = domains;
	c.n_domains = sizeof(domains) / sizeof(domains[0]);
	c.maildir = "/var/mail/%d/%n/Maildir";
	c.users_file = with_users ? "/etc/lmtpd/users" : "";
	if (with_users) {
		c.users = users;
		c.n_users = sizeof(users) / sizeof(users[0]);
	}
	c.postmaster = (char *)postmasters[pm];
	return c;
}

struct rcpt_case {
	const char		*path;
	bool			 users;
	int			 pm;		/* index into postmasters */
	enum recipient_status	 st;
	const char		*address;
	const char		*maildir;
};

static const struct rcpt_case rcpts[] = {
	/* Domains, any case */
	{ "<alice@example.org>", false, 0, RECIPIENT_OK, "alice@example.org",
	    "/var/mail/example.org/alice/Maildir" },
	{ "<Alice@EXAMPLE.Org>", false, 0, RECIPIENT_OK, "alice@example.org",
	    "/var/mail/example.org/alice/Maildir" },
	{ "<ALICE@example.NET>", false, 0, RECIPIENT_OK, "alice@example.net",
	    "/var/mail/example.net/alice/Maildir" },
	{ "<alice@example.com>", false, 0, RECIPIENT_BAD_DOMAIN, NULL, NULL },
	{ "<alice@sub.example.org>", false, 0, RECIPIENT_BAD_DOMAIN, NULL,
	    NULL },
	{ "<alice@example.org.evil>", false, 0, RECIPIENT_BAD_DOMAIN, NULL,
	    NULL },
	{ "<alice@[192.0.2.1]>", false, 0, RECIPIENT_BAD_DOMAIN, NULL, NULL },
	{ "<alice@[example.org]>", false, 0, RECIPIENT_BAD_DOMAIN, NULL, NULL },
	/* users_file */
	{ "<carol@example.org>", false, 0, RECIPIENT_OK, "carol@example.org",
	    "/var/mail/example.org/carol/Maildir" },
	{ "<carol@example.org>", true, 0, RECIPIENT_NO_USER, NULL, NULL },
	{ "<BOB@Example.Net>", true, 0, RECIPIENT_OK, "bob@example.net",
	    "/var/mail/example.net/bob/Maildir" },
	{ "<bob@example.org>", true, 0, RECIPIENT_NO_USER, NULL, NULL },
	{ "<\"John Doe\"@example.org>", true, 0, RECIPIENT_OK,
	    "john doe@example.org", "/var/mail/example.org/john doe/Maildir" },
	{ "<postmaster@example.org>", true, 0, RECIPIENT_NO_USER, NULL, NULL },
	/* <Postmaster> (RFC 5321 §4.5.1) */
	{ "<Postmaster>", false, 0, RECIPIENT_OK, "alice@example.org",
	    "/var/mail/example.org/alice/Maildir" },
	{ "<POSTMASTER>", true, 0, RECIPIENT_OK, "alice@example.org",
	    "/var/mail/example.org/alice/Maildir" },
	{ "<postmaster>", false, 3, RECIPIENT_OK, "bob@example.net",
	    "/var/mail/example.net/bob/Maildir" },
	{ "<Postmaster>", false, 1, RECIPIENT_NO_POSTMASTER, NULL, NULL },
	{ "<Postmaster>", false, 2, RECIPIENT_NO_POSTMASTER, NULL, NULL },
	{ "<Postmaster>", false, 4, RECIPIENT_NO_POSTMASTER, NULL, NULL },
	{ "<Postmaster>", true, 5, RECIPIENT_NO_POSTMASTER, NULL, NULL },
	{ "<Postmaster>", false, 6, RECIPIENT_NO_POSTMASTER, NULL, NULL },
	{ "<Postmaster>", true, 7, RECIPIENT_NO_POSTMASTER, NULL, NULL },
	/* Hostile local parts, even when listed in users_file */
	{ "<\"../x\"@example.org>", true, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<\"../x\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<a/b@example.org>", true, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<\"a/b\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<\".hidden\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL,
	    NULL },
	{ "<\"a..b\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL,
	    NULL },
	{ "<\".\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<\"..\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<\"\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL, NULL },
	{ "<" A64 "a@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL,
	    NULL },
	{ "<" A64 "@example.org>", false, 0, RECIPIENT_OK,
	    A64 "@example.org", "/var/mail/example.org/" A64 "/Maildir" },
	/* The domain is checked first, the user last. */
	{ "<\"../x\"@example.com>", true, 0, RECIPIENT_BAD_DOMAIN, NULL, NULL },
	{ "<\"a/b\"@example.com>", true, 0, RECIPIENT_BAD_DOMAIN, NULL, NULL },
	/* RFC 6531: only ASCII is folded */
	{ "<Jos\xc3\xa9@B\xc3\xbc" "cher.EXAMPLE>", true, 0, RECIPIENT_OK,
	    "jos\xc3\xa9@" UML, "/var/mail/" UML "/jos\xc3\xa9/Maildir" },
	/* ... so U+00C9 is not U+00E9, and NFD is not NFC: no mapping */
	{ "<JOS\xc3\x89@" UML ">", true, 0, RECIPIENT_NO_USER, NULL, NULL },
	{ "<jose\xcc\x81@" UML ">", true, 0, RECIPIENT_NO_USER, NULL, NULL },
	{ "<jos\xc3\xa9@B\xc3\x9c" "cher.example>", false, 0,
	    RECIPIENT_BAD_DOMAIN, NULL, NULL },
	/* UTF-8 bytes go into the path as they are */
	{ "<\xe7\x94\xa8\xe6\x88\xb7@Example.org>", false, 0, RECIPIENT_OK,
	    "\xe7\x94\xa8\xe6\x88\xb7@example.org",
	    "/var/mail/example.org/\xe7\x94\xa8\xe6\x88\xb7/Maildir" },
	/* C1 controls are refused like C0 ones */
	{ "<a\xc2\x85@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL,
	    NULL },
	{ "<\"a\xc2\x9b\"@example.org>", false, 0, RECIPIENT_BAD_LOCAL, NULL,
	    NULL },
};

START_TEST(test_resolve)
{
	const struct rcpt_case	*c = &rcpts[_i];
	struct conf		 conf = make_conf(c->users, c->pm);
	struct recipient	 out, untouched;
	struct addr		 a;
	size_t			 end;
	enum recipient_status	 st;

	ck_assert_int_eq(addr_parse_path(c->path, strlen(c->path),
	    ADDR_ALLOW_POSTMASTER | ADDR_ALLOW_UTF8, &a, &end), ADDR_OK);
	memset(&out, 'Z', sizeof(out));
	memcpy(&untouched, &out, sizeof(out));
	st = recipient_resolve(&conf, &a, &out);
	ck_assert_msg(st == c->st, "%s: got %d, want %d", c->path, (int)st,
	    (int)c->st);
	if (c->st == RECIPIENT_OK) {
		ck_assert_str_eq(out.address, c->address);
		ck_assert_str_eq(out.maildir, c->maildir);
	} else
		ck_assert_msg(memcmp(&out, &untouched, sizeof(out)) == 0,
		    "%s: *out written on failure", c->path);
}
END_TEST

/* Every addr_local_check refusal is BAD_LOCAL, whatever the template. */
START_TEST(test_hostile_never_reaches_template)
{
	static const char *const locals[] = {
		"../x", "a/b", "/", ".hidden", "a..b", "", "a\x01",
		"a\x7f", A64 "a", "a\xc2\x85", "a\xff", "\xc0\xae\xc0\xae",
		("a\xc0\xaf" "b"),
	};
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;
	struct addr		a;
	size_t			i;

	conf.maildir = "/m/%n";
	for (i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		memset(&a, 0, sizeof(a));
		strcpy(a.local, locals[i]);
		strcpy(a.domain, "example.org");
		memset(&out, 0, sizeof(out));
		ck_assert_int_eq(recipient_resolve(&conf, &a, &out),
		    RECIPIENT_BAD_LOCAL);
		ck_assert_str_eq(out.maildir, "");
		ck_assert_str_eq(out.address, "");
	}
}
END_TEST

START_TEST(test_resolve_path_too_long)
{
	static char		tmpl[PATH_MAX + 8];
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;
	struct addr		a;
	size_t			end, n;

	ck_assert_int_eq(addr_parse_path("<alice@example.org>", 19, 0, &a,
	    &end), ADDR_OK);
	/* "alice" fills the last bytes exactly: PATH_MAX - 1 and a NUL. */
	n = PATH_MAX - 1 - strlen("alice");
	memset(tmpl, 'x', n);
	strcpy(tmpl + n, "%n");
	conf.maildir = tmpl;
	ck_assert_int_eq(recipient_resolve(&conf, &a, &out), RECIPIENT_OK);
	ck_assert_uint_eq(strlen(out.maildir), PATH_MAX - 1);

	strcpy(tmpl + n, "x%n");
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(recipient_resolve(&conf, &a, &out),
	    RECIPIENT_PATH_TOO_LONG);
	ck_assert_str_eq(out.maildir, "");
}
END_TEST

/* A template conf_load should have refused is a bug: abort, not 5xx. */
START_TEST(test_resolve_bad_template_aborts)
{
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;
	struct addr		a;
	size_t			end;

	ck_assert_int_eq(addr_parse_path("<alice@example.org>", 19, 0, &a,
	    &end), ADDR_OK);
	conf.maildir = "/var/mail/%x";
	(void)recipient_resolve(&conf, &a, &out);
}
END_TEST

/* A literal is never local, even if conf somehow listed it. */
START_TEST(test_literal_never_local)
{
	static char		*lit[] = { "[192.0.2.1]" };
	struct conf		 conf = make_conf(false, 0);
	struct recipient	 out;
	struct addr		 a;
	size_t			 end;

	conf.domains = lit;
	conf.n_domains = 1;
	ck_assert_int_eq(addr_parse_path("<alice@[192.0.2.1]>", 19, 0, &a,
	    &end), ADDR_OK);
	ck_assert_int_eq(recipient_resolve(&conf, &a, &out),
	    RECIPIENT_BAD_DOMAIN);
}
END_TEST

struct expand_case {
	const char	*tmpl;
	size_t		 cap;		/* 0: 64 */
	int		 rc;
	int		 err;
	const char	*out;
};

static const struct expand_case expands[] = {
	{ "/var/mail/%d/%n/Maildir", 0, 0, 0,
	    "/var/mail/example.org/alice/Maildir" },
	{ "/m/%u", 0, 0, 0, "/m/alice@example.org" },
	{ "/m/%n%n", 0, 0, 0, "/m/alicealice" },
	{ "/m/100%%/%n", 0, 0, 0, "/m/100%/alice" },
	{ "%%%%", 0, 0, 0, "%%" },
	{ "%%d", 0, 0, 0, "%d" },
	{ "no sequences", 0, 0, 0, "no sequences" },
	{ "", 0, 0, 0, "" },
	{ "/m/%x", 0, -1, EINVAL, "" },
	{ "/m/%D", 0, -1, EINVAL, "" },
	{ "/m/%", 0, -1, EINVAL, "" },
	{ "%", 0, -1, EINVAL, "" },
	{ "%%%", 0, -1, EINVAL, "" },
	{ "/m/% n", 0, -1, EINVAL, "" },
	/* A bad sequence is EINVAL even when the result would not fit. */
	{ "%u%u%u%x", 4, -1, EINVAL, "" },
	/* "/m/alice" is 8 bytes: it needs a cap of 9. */
	{ "/m/%n", 9, 0, 0, "/m/alice" },
	{ "/m/%n", 8, -1, ENAMETOOLONG, "" },
	{ "/m/%%", 5, 0, 0, "/m/%" },
	{ "/m/%%", 4, -1, ENAMETOOLONG, "" },
	{ "%u", 18, 0, 0, "alice@example.org" },
	{ "%u", 17, -1, ENAMETOOLONG, "" },
	{ "", 1, 0, 0, "" },
	{ "x", 1, -1, ENAMETOOLONG, "" },
};

START_TEST(test_expand)
{
	const struct expand_case	*c = &expands[_i];
	char				 out[64];
	size_t				 cap;
	int				 rc;

	cap = c->cap != 0 ? c->cap : sizeof(out);
	memset(out, 'Z', sizeof(out));
	errno = 0;
	rc = recipient_expand(c->tmpl, "alice", "example.org", out, cap);
	ck_assert_msg(rc == c->rc, "\"%s\" cap %zu: rc %d", c->tmpl, cap, rc);
	if (rc == -1)
		ck_assert_int_eq(errno, c->err);
	ck_assert_str_eq(out, c->out);
	ck_assert_msg(cap == sizeof(out) || out[cap] == 'Z',
	    "\"%s\": wrote past cap", c->tmpl);
}
END_TEST

START_TEST(test_expand_cap_zero)
{
	char	out[1] = { 'Z' };

	errno = 0;
	ck_assert_int_eq(recipient_expand("/m", "a", "b", out, 0), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(out[0], 'Z');
	errno = 0;
	ck_assert_int_eq(recipient_expand("/m%q", "a", "b", out, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

struct reply_case {
	enum recipient_status	 st;
	unsigned		 code;
	const char		*esc;
	const char		*text;
};

static const struct reply_case replies[] = {
	{ RECIPIENT_OK, 250, "2.1.5", "recipient ok" },
	{ RECIPIENT_BAD_DOMAIN, 550, "5.1.2", "not a local domain" },
	{ RECIPIENT_NO_USER, 550, "5.1.1", "no such user" },
	{ RECIPIENT_BAD_LOCAL, 550, "5.1.3", "bad recipient address" },
	{ RECIPIENT_PATH_TOO_LONG, 550, "5.1.3", "bad recipient address" },
	{ RECIPIENT_NO_POSTMASTER, 550, "5.1.1", "no postmaster here" },
};

START_TEST(test_reply)
{
	const struct reply_case	*c = &replies[_i];
	struct lmtp_reply	 r;

	memset(&r, 'Z', sizeof(r));
	recipient_reply(c->st, &r);
	ck_assert_uint_eq(r.code, c->code);
	ck_assert_str_eq(r.esc, c->esc);
	ck_assert_str_eq(r.text, c->text);
}
END_TEST

#define N(a)	((int)(sizeof(a) / sizeof((a)[0])))

Suite *
recipient_suite(void)
{
	Suite		*s = suite_create("recipient");
	TCase		*tc;
	const char	*fork_env;

	tc = tcase_create("resolve");
	tcase_add_loop_test(tc, test_resolve, 0, N(rcpts));
	tcase_add_test(tc, test_hostile_never_reaches_template);
	tcase_add_test(tc, test_resolve_path_too_long);
	tcase_add_test(tc, test_literal_never_local);
	/* An abort cannot be caught without fork (CK_FORK=no for valgrind). */
	fork_env = getenv("CK_FORK");
	if (fork_env == NULL || strcmp(fork_env, "no") != 0)
		tcase_add_test_raise_signal(tc,
		    test_resolve_bad_template_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_loop_test(tc, test_expand, 0, N(expands));
	tcase_add_test(tc, test_expand_cap_zero);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_loop_test(tc, test_reply, 0, N(replies));
	suite_add_tcase(s, tc);
	return s;
}
