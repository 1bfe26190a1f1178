/* SPDX-License-Identifier: MIT */
/*
 * recipient: domain and user lookups, <Postmaster> routing, +detail, the
 * lookup order, passwd answers (played through a seam), and that a
 * hostile local part never yields a path.  The struct conf is built by
 * hand with only the fields recipient.c reads, in conf_load's shape
 * (lower case, sorted with strcmp); users_file is a real file.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"
#include "recipient.h"
#include "suites.h"
#include "template.h"
#include "userdb.h"

extern struct passwd	*(*recipient_getpwnam)(const char *);

#define A16	"aaaaaaaaaaaaaaaa"
#define A64	A16 A16 A16 A16
#define UML	"b\xc3\xbc" "cher.example"	/* "bücher.example" */

static char *domains[] = {
	UML,
	"example.net",
	"example.org",
};

static const char users_text[] =
	"# users_file as conf_load reads it\n"
	"alice@example.org\n"
	"bob@example.net\n"
	"  jos\xc3\xa9@" UML "   # trailing comment\n"
	"o'hara@example.org\n";

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

static char	users_path[64];

/* A users_file with text; the caller frees conf.userdb. */
static struct userdb *
make_users(const char *text, bool preserve_case)
{
	struct userdb	*db;
	char		 err[256];
	FILE		*fp;
	int		 fd;

	strcpy(users_path, "/tmp/lmtpd-users.XXXXXX");
	fd = mkstemp(users_path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_ge(fputs(text, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	db = userdb_load(users_path, preserve_case, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	return db;
}

static struct conf
make_conf(bool with_users, int pm)
{
	struct conf	c;
	size_t		i;

	for (i = 1; i < sizeof(domains) / sizeof(domains[0]); i++)
		ck_assert_int_lt(strcmp(domains[i - 1], domains[i]), 0);
	memset(&c, 0, sizeof(c));
	c.domains = domains;
	c.n_domains = sizeof(domains) / sizeof(domains[0]);
	c.maildir = "/var/mail/%d/%n/Maildir";
	c.passwd_maildir = "%h/Maildir";
	c.recipient_delimiter = "";
	c.min_uid = 1000;
	c.users_file = with_users ? "/etc/lmtpd/users" : "";
	c.n_lookup = 1;
	c.lookup[0] = CONF_LOOKUP_TEMPLATE;
	if (with_users) {
		c.userdb = make_users(users_text, false);
		c.lookup[0] = CONF_LOOKUP_FILE;
	}
	c.postmaster = (char *)postmasters[pm];
	return c;
}

static void
free_conf(struct conf *c)
{
	if (c->userdb != NULL) {
		userdb_free(c->userdb);
		(void)unlink(users_path);
	}
	c->userdb = NULL;
}

static enum recipient_status
resolve(const struct conf *conf, const char *path, struct recipient *out)
{
	struct addr	a;
	size_t		end;
	char		why[512];

	ck_assert_int_eq(addr_parse_path(path, strlen(path),
	    ADDR_ALLOW_POSTMASTER | ADDR_ALLOW_UTF8, &a, &end), ADDR_OK);
	return recipient_resolve(conf, &a, out, why, sizeof(why));
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
	{ "<O'Hara@example.org>", true, 0, RECIPIENT_OK,
	    "o'hara@example.org", "/var/mail/example.org/o'hara/Maildir" },
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
	char			 why[512];

	ck_assert_int_eq(addr_parse_path(c->path, strlen(c->path),
	    ADDR_ALLOW_POSTMASTER | ADDR_ALLOW_UTF8, &a, &end), ADDR_OK);
	memset(&out, 'Z', sizeof(out));
	memcpy(&untouched, &out, sizeof(out));
	st = recipient_resolve(&conf, &a, &out, why, sizeof(why));
	free_conf(&conf);
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
	char			why[512];

	conf.maildir = "/m/%n";
	for (i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		memset(&a, 0, sizeof(a));
		strcpy(a.local, locals[i]);
		strcpy(a.domain, "example.org");
		memset(&out, 0, sizeof(out));
		ck_assert_int_eq(recipient_resolve(&conf, &a, &out, why,
		    sizeof(why)), RECIPIENT_BAD_LOCAL);
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
	char			why[512];

	ck_assert_int_eq(addr_parse_path("<alice@example.org>", 19, 0, &a,
	    &end), ADDR_OK);
	/* "alice" fills the last bytes exactly: PATH_MAX - 1 and a NUL. */
	n = PATH_MAX - 1 - strlen("alice");
	memset(tmpl, 'x', n);
	strcpy(tmpl + n, "%n");
	conf.maildir = tmpl;
	ck_assert_int_eq(recipient_resolve(&conf, &a, &out, why, sizeof(why)),
	    RECIPIENT_OK);
	ck_assert_uint_eq(strlen(out.maildir), PATH_MAX - 1);

	strcpy(tmpl + n, "x%n");
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(recipient_resolve(&conf, &a, &out, why, sizeof(why)),
	    RECIPIENT_PATH_TOO_LONG);
	ck_assert_str_eq(out.maildir, "");
}
END_TEST

/* A template conf_load should have refused is our problem: 4xx, not 5xx. */
START_TEST(test_resolve_bad_template_tempfails)
{
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;

	conf.maildir = "/var/mail/%x";
	ck_assert_int_eq(resolve(&conf, "<alice@example.org>", &out),
	    RECIPIENT_TEMPFAIL);
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
	char			 why[512];

	conf.domains = lit;
	conf.n_domains = 1;
	ck_assert_int_eq(addr_parse_path("<alice@[192.0.2.1]>", 19, 0, &a,
	    &end), ADDR_OK);
	ck_assert_int_eq(recipient_resolve(&conf, &a, &out, why, sizeof(why)),
	    RECIPIENT_BAD_DOMAIN);
}
END_TEST


/* recipient_delimiter: any of its characters; the first one not at 0. */
START_TEST(test_detail_split)
{
	static const struct {
		const char	*path, *user, *detail, *address, *local;
	} c[] = {
		{ "<alice+lists@example.org>", "alice@example.org", "lists",
		    "alice+lists@example.org", "alice" },
		{ "<Alice+Lists@example.org>", "alice@example.org", "lists",
		    "alice+lists@example.org", "alice" },
		{ "<alice-a+b@example.org>", "alice@example.org", "a+b",
		    "alice-a+b@example.org", "alice" },
		{ "<alice+@example.org>", "alice@example.org", "",
		    "alice+@example.org", "alice" },
		{ "<+x@example.org>", "+x@example.org", "", "+x@example.org",
		    "+x" },
		{ "<alice@example.org>", "alice@example.org", "",
		    "alice@example.org", "alice" },
	};
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;
	char			want[128];
	size_t			i;

	conf.recipient_delimiter = "+-";
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		ck_assert_int_eq(resolve(&conf, c[i].path, &out),
		    RECIPIENT_OK);
		ck_assert_str_eq(out.user, c[i].user);
		ck_assert_str_eq(out.detail, c[i].detail);
		ck_assert_str_eq(out.address, c[i].address);
		snprintf(want, sizeof(want), "/var/mail/example.org/%s/Maildir",
		    c[i].local);
		ck_assert_str_eq(out.maildir, want);
	}
	/* Without a delimiter the detail is part of the user. */
	conf.recipient_delimiter = "";
	ck_assert_int_eq(resolve(&conf, "<alice+lists@example.org>", &out),
	    RECIPIENT_OK);
	ck_assert_str_eq(out.user, "alice+lists@example.org");
	ck_assert_str_eq(out.detail, "");
}
END_TEST

/* users_file: "user+detail" listed on its own is that user, not a folder. */
START_TEST(test_detail_listed_whole)
{
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;

	conf.userdb = make_users("alice@example.org\n"
	    "alice+vip@example.org /srv/vip/%n\n", false);
	conf.lookup[0] = CONF_LOOKUP_FILE;
	conf.recipient_delimiter = "+";
	ck_assert_int_eq(resolve(&conf, "<alice+vip@example.org>", &out),
	    RECIPIENT_OK);
	ck_assert_str_eq(out.detail, "");
	ck_assert_str_eq(out.maildir, "/srv/vip/alice+vip");
	ck_assert_int_eq(out.line, 2);
	ck_assert_int_eq(resolve(&conf, "<alice+misc@example.org>", &out),
	    RECIPIENT_OK);
	ck_assert_str_eq(out.detail, "misc");
	ck_assert_str_eq(out.maildir, "/var/mail/example.org/alice/Maildir");
	ck_assert_int_eq(resolve(&conf, "<bob+misc@example.org>", &out),
	    RECIPIENT_NO_USER);
	free_conf(&conf);
}
END_TEST

/* "@domain" catch-all, with a path template, an owner and a quota. */
START_TEST(test_catch_all_fields)
{
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;

	conf.userdb = make_users("alice@example.org\n"
	    "@example.net /srv/%d/%n 2000:2001 10m\n"
	    "low@example.org 999:999\n", false);
	conf.lookup[0] = CONF_LOOKUP_FILE;
	conf.quota.bytes = 5;
	ck_assert_int_eq(resolve(&conf, "<anyone@example.net>", &out),
	    RECIPIENT_OK);
	ck_assert_str_eq(out.maildir, "/srv/example.net/anyone");
	ck_assert(out.has_owner);
	ck_assert_uint_eq(out.uid, 2000);
	ck_assert_uint_eq(out.gid, 2001);
	ck_assert_uint_eq(out.quota.bytes, 10 * 1024 * 1024);
	ck_assert_int_eq(out.source, CONF_LOOKUP_FILE);
	ck_assert_int_eq(resolve(&conf, "<alice@example.org>", &out),
	    RECIPIENT_OK);
	ck_assert(!out.has_owner);
	ck_assert_uint_eq(out.quota.bytes, 5);	/* the default */
	ck_assert_int_eq(resolve(&conf, "<low@example.org>", &out),
	    RECIPIENT_LOW_UID);
	ck_assert_int_eq(resolve(&conf, "<nobody@example.org>", &out),
	    RECIPIENT_NO_USER);
	free_conf(&conf);
}
END_TEST

START_TEST(test_preserve_case)
{
	struct conf		conf = make_conf(false, 0);
	struct recipient	out;

	conf.preserve_case = true;
	ck_assert_int_eq(resolve(&conf, "<Alice@EXAMPLE.org>", &out),
	    RECIPIENT_OK);
	ck_assert_str_eq(out.address, "Alice@example.org");
	ck_assert_str_eq(out.maildir, "/var/mail/example.org/Alice/Maildir");
	conf.userdb = make_users("alice@example.org\n", true);
	conf.lookup[0] = CONF_LOOKUP_FILE;
	ck_assert_int_eq(resolve(&conf, "<Alice@example.org>", &out),
	    RECIPIENT_NO_USER);
	ck_assert_int_eq(resolve(&conf, "<alice@Example.ORG>", &out),
	    RECIPIENT_OK);
	free_conf(&conf);
}
END_TEST

/* Played NSS answers. */
static struct passwd	fake_pw;

static struct passwd *
fake_getpwnam(const char *name)
{
	memset(&fake_pw, 0, sizeof(fake_pw));
	fake_pw.pw_name = (char *)name;
	fake_pw.pw_gid = 1500;
	fake_pw.pw_dir = "/home/carol";
	if (strcmp(name, "carol") == 0) {
		fake_pw.pw_uid = 1500;
		return &fake_pw;
	}
	if (strcmp(name, "daemon") == 0) {
		fake_pw.pw_uid = 1;
		return &fake_pw;
	}
	if (strcmp(name, "homeless") == 0) {
		fake_pw.pw_uid = 1600;
		fake_pw.pw_dir = "";
		return &fake_pw;
	}
	errno = strcmp(name, "nss-down") == 0 ? EIO :
	    strcmp(name, "gone") == 0 ? ENOENT : 0;
	return NULL;
}

struct pw_case {
	const char		*path;
	enum conf_lookup	 order[2];
	enum recipient_status	 st;
	const char		*maildir;
};

static const struct pw_case pw_cases[] = {
	{ "<carol@example.org>", { CONF_LOOKUP_PASSWD, CONF_LOOKUP_PASSWD },
	    RECIPIENT_OK, "/home/carol/Maildir" },
	{ "<Carol+x@example.net>", { CONF_LOOKUP_PASSWD, CONF_LOOKUP_PASSWD },
	    RECIPIENT_OK, "/home/carol/Maildir" },
	{ "<daemon@example.org>", { CONF_LOOKUP_PASSWD, CONF_LOOKUP_TEMPLATE },
	    RECIPIENT_LOW_UID, NULL },
	{ "<nss-down@example.org>", { CONF_LOOKUP_PASSWD,
	    CONF_LOOKUP_TEMPLATE }, RECIPIENT_TEMPFAIL, NULL },
	{ "<homeless@example.org>", { CONF_LOOKUP_PASSWD,
	    CONF_LOOKUP_TEMPLATE }, RECIPIENT_TEMPFAIL, NULL },
	{ "<gone@example.org>", { CONF_LOOKUP_PASSWD, CONF_LOOKUP_PASSWD },
	    RECIPIENT_NO_USER, NULL },
	{ "<stranger@example.org>", { CONF_LOOKUP_PASSWD, CONF_LOOKUP_PASSWD },
	    RECIPIENT_NO_USER, NULL },
	/* Not found in passwd: the next source answers. */
	{ "<stranger@example.org>", { CONF_LOOKUP_PASSWD,
	    CONF_LOOKUP_TEMPLATE }, RECIPIENT_OK,
	    "/var/mail/example.org/stranger/Maildir" },
	/* The template first: passwd is never asked. */
	{ "<carol@example.org>", { CONF_LOOKUP_TEMPLATE, CONF_LOOKUP_PASSWD },
	    RECIPIENT_OK, "/var/mail/example.org/carol/Maildir" },
};

START_TEST(test_passwd)
{
	const struct pw_case	*c = &pw_cases[_i];
	struct conf		 conf = make_conf(false, 0);
	struct recipient	 out;
	enum recipient_status	 st;

	conf.recipient_delimiter = "+";
	conf.lookup[0] = c->order[0];
	conf.lookup[1] = c->order[1];
	conf.n_lookup = c->order[0] == c->order[1] ? 1 : 2;
	recipient_getpwnam = fake_getpwnam;
	st = resolve(&conf, c->path, &out);
	recipient_getpwnam = getpwnam;
	ck_assert_msg(st == c->st, "%s: got %d want %d", c->path, (int)st,
	    (int)c->st);
	if (st != RECIPIENT_OK)
		return;
	ck_assert_str_eq(out.maildir, c->maildir);
	if (conf.lookup[0] == CONF_LOOKUP_PASSWD && strstr(c->maildir,
	    "/home/") != NULL) {
		ck_assert(out.has_owner);
		ck_assert_uint_eq(out.uid, 1500);
		ck_assert_uint_eq(out.gid, 1500);
		ck_assert_int_eq(out.source, CONF_LOOKUP_PASSWD);
	} else
		ck_assert(!out.has_owner);
}
END_TEST

/* An unreadable users_file is 451 4.4.3, never "no such user". */
START_TEST(test_users_file_vanished_tempfails)
{
	struct conf		conf = make_conf(true, 0);
	struct recipient	out;

	ck_assert_int_eq(resolve(&conf, "<alice@example.org>", &out),
	    RECIPIENT_OK);
	ck_assert_int_eq(rename(users_path, "/tmp/lmtpd-users-away"), 0);
	/* The next second's refresh sees it gone. */
	sleep(1);
	ck_assert_int_eq(resolve(&conf, "<alice@example.org>", &out),
	    RECIPIENT_TEMPFAIL);
	ck_assert_int_eq(resolve(&conf, "<carol@example.org>", &out),
	    RECIPIENT_TEMPFAIL);
	ck_assert_int_eq(rename("/tmp/lmtpd-users-away", users_path), 0);
	ck_assert_int_eq(resolve(&conf, "<alice@example.org>", &out),
	    RECIPIENT_OK);
	free_conf(&conf);
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

/* The maildir template as recipient.c expands it for alice@example.org. */
static int
expand(const char *tmpl, const char *local, const char *domain, char *out,
    size_t cap)
{
	struct template_vars	v = { .local = local, .domain = domain };

	return template_expand(tmpl, &v, out, cap);
}

START_TEST(test_expand)
{
	const struct expand_case	*c = &expands[_i];
	char				 out[64];
	size_t				 cap;
	int				 rc;

	cap = c->cap != 0 ? c->cap : sizeof(out);
	memset(out, 'Z', sizeof(out));
	errno = 0;
	rc = expand(c->tmpl, "alice", "example.org", out, cap);
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
	ck_assert_int_eq(expand("/m", "a", "b", out, 0), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(out[0], 'Z');
	errno = 0;
	ck_assert_int_eq(expand("/m%q", "a", "b", out, 0), -1);
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
	{ RECIPIENT_LOW_UID, 550, "5.1.1", "no such user" },
	{ RECIPIENT_TEMPFAIL, 451, "4.4.3",
	    "user lookup failed, try again later" },
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

	tc = tcase_create("resolve");
	tcase_add_loop_test(tc, test_resolve, 0, N(rcpts));
	tcase_add_test(tc, test_hostile_never_reaches_template);
	tcase_add_test(tc, test_resolve_path_too_long);
	tcase_add_test(tc, test_literal_never_local);
	tcase_add_test(tc, test_resolve_bad_template_tempfails);
	suite_add_tcase(s, tc);

	tc = tcase_create("sources");
	tcase_add_test(tc, test_detail_split);
	tcase_add_test(tc, test_detail_listed_whole);
	tcase_add_test(tc, test_catch_all_fields);
	tcase_add_test(tc, test_preserve_case);
	tcase_add_loop_test(tc, test_passwd, 0, N(pw_cases));
	tcase_add_test(tc, test_users_file_vanished_tempfails);
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
