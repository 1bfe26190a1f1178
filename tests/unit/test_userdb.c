/* SPDX-License-Identifier: MIT */
/*
 * userdb: the users_file line format (fields told apart by form, in
 * order), catch-alls, case folding, duplicates, and the reload when the
 * file changes or becomes unreadable.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"
#include "userdb.h"

static char	dir[TEST_DIR_MAX];
static char	path[PATH_MAX];

static void
setup(void)
{
	test_mkdtemp(dir, sizeof(dir), "userdb");
	test_pathf(path, "%s/users", dir);
}

static void
teardown(void)
{
	(void)test_rmtree(dir);
}

static void
write_users(const char *text)
{
	char	tmp[PATH_MAX];

	test_pathf(tmp, "%s/users.new", dir);
	test_write_file(tmp, text);
	/* A new inode: the reload must notice even within one mtime tick. */
	ck_assert_int_eq(rename(tmp, path), 0);
}

static struct userdb *
load(const char *text, bool preserve_case)
{
	struct userdb	*db;
	char		 err[512];

	write_users(text);
	db = userdb_load(path, preserve_case, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	return db;
}

START_TEST(test_fields)
{
	struct userdb			*db;
	const struct userdb_entry	*e;

	db = load("# comment\n"
	    "\n"
	    "alice@example.org\n"
	    "  Bob@Example.ORG\t/srv/%d/%n  1001:1002  10m   # trailing\n"
	    "carol@example.org 2000:2000\n"
	    "dave@example.org 100S,5C\n"
	    "@Example.NET /srv/catch/%n\n", false);
	ck_assert_uint_eq(userdb_count(db), 5);

	e = userdb_find(db, "alice@example.org");
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_null(e->maildir);
	ck_assert(!e->has_owner);
	ck_assert(!e->has_quota);
	ck_assert_int_eq(e->line, 3);

	e = userdb_find(db, "bob@example.org");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->maildir, "/srv/%d/%n");
	ck_assert(e->has_owner);
	ck_assert_uint_eq(e->uid, 1001);
	ck_assert_uint_eq(e->gid, 1002);
	ck_assert(e->has_quota);
	ck_assert_uint_eq(e->quota.bytes, 10 * 1024 * 1024);

	e = userdb_find(db, "carol@example.org");
	ck_assert(e->has_owner && !e->has_quota && e->maildir == NULL);
	e = userdb_find(db, "dave@example.org");
	ck_assert(e->has_quota);
	ck_assert_uint_eq(e->quota.bytes, 100);
	ck_assert_uint_eq(e->quota.messages, 5);

	/* The catch-all answers for any other local part of its domain. */
	e = userdb_find(db, "zed@example.net");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->key, "@example.net");
	ck_assert_str_eq(e->maildir, "/srv/catch/%n");
	ck_assert_ptr_null(userdb_find(db, "zed@example.org"));
	ck_assert_ptr_null(userdb_find(db, "alice@example.net.evil"));
	userdb_free(db);
}
END_TEST

START_TEST(test_case)
{
	struct userdb	*db;

	db = load("Alice@Example.ORG\n", false);
	ck_assert_ptr_nonnull(userdb_find(db, "alice@example.org"));
	userdb_free(db);
	db = load("Alice@Example.ORG\n", true);
	ck_assert_ptr_null(userdb_find(db, "alice@example.org"));
	ck_assert_ptr_nonnull(userdb_find(db, "Alice@example.org"));
	userdb_free(db);
}
END_TEST

static const struct {
	const char	*text;
	int		 line;
	const char	*why;
} bad[] = {
	{ "alice\n", 1, "expected local@domain" },
	{ "alice@\n", 1, "expected local@domain" },
	{ "ok@example.org\n../x@example.org\n", 2, "unsafe" },
	{ "a\x01@example.org\n", 1, "unsafe" },
	{ "alice@example.org 5m /srv/%n\n", 1, "in that order" },
	{ "alice@example.org 1:2 /srv/%n\n", 1, "in that order" },
	{ "alice@example.org /a /b\n", 1, "in that order" },
	{ "alice@example.org /srv/%q\n", 1, "unknown sequence '%q'" },
	{ "alice@example.org /srv/%h\n", 1, "unknown sequence '%h'" },
	{ "alice@example.org relative/path\n", 1, "in that order" },
	{ "alice@example.org 1:\n", 1, "in that order" },
	{ "alice@example.org 4294967295:1\n", 1, "in that order" },
	{ "alice@example.org 10x\n", 1, "in that order" },
	{ "a@example.org\nb@example.org\nA@example.org\n", 3,
	    "listed twice (line 1)" },
	{ "@example.org\n@EXAMPLE.org /x/%n\n", 2, "listed twice" },
};

START_TEST(test_bad_lines)
{
	struct userdb	*db;
	char		 err[512], want[PATH_MAX + 16];

	write_users(bad[_i].text);
	errno = 0;
	db = userdb_load(path, false, err, sizeof(err));
	ck_assert_ptr_null(db);
	ck_assert_int_eq(errno, EINVAL);
	snprintf(want, sizeof(want), "%s:%d: ", path, bad[_i].line);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%d: %s", _i,
	    err);
	ck_assert_msg(strstr(err, bad[_i].why) != NULL, "%d: %s", _i, err);
}
END_TEST

START_TEST(test_long_line)
{
	char		 line[USERDB_LINE_MAX + 64], err[512];

	memset(line, 'a', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	write_users(line);
	ck_assert_ptr_null(userdb_load(path, false, err, sizeof(err)));
	ck_assert_msg(strstr(err, "longer than") != NULL, "%s", err);
}
END_TEST

START_TEST(test_missing_file)
{
	char	err[512];

	errno = 0;
	ck_assert_ptr_null(userdb_load(path, false, err, sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

/* Changes are picked up; the stat is made once per second of now. */
START_TEST(test_refresh)
{
	struct userdb	*db;
	char		 err[512];

	db = load("alice@example.org\n", false);
	ck_assert_int_eq(userdb_refresh(db, 100, err, sizeof(err)), 0);
	write_users("alice@example.org\nbob@example.org\n");
	/* Same second: not looked at yet. */
	ck_assert_int_eq(userdb_refresh(db, 100, err, sizeof(err)), 0);
	ck_assert_ptr_null(userdb_find(db, "bob@example.org"));
	ck_assert_int_eq(userdb_refresh(db, 101, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(userdb_find(db, "bob@example.org"));
	ck_assert_ptr_nonnull(userdb_find(db, "alice@example.org"));
	userdb_free(db);
}
END_TEST

/* A broken edit makes lookups fail until it is fixed: never stale 550s. */
START_TEST(test_refresh_failure_is_sticky_until_fixed)
{
	struct userdb	*db;
	char		 err[512];

	db = load("alice@example.org\n", false);
	write_users("alice@example.org\nbroken line\n");
	errno = 0;
	ck_assert_int_eq(userdb_refresh(db, 200, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, ":2: ") != NULL, "%s", err);
	/* Still broken in the same second: no cached "current". */
	ck_assert_int_eq(userdb_refresh(db, 200, err, sizeof(err)), -1);
	ck_assert_int_eq(unlink(path), 0);
	errno = 0;
	ck_assert_int_eq(userdb_refresh(db, 201, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	write_users("carol@example.org\n");
	ck_assert_int_eq(userdb_refresh(db, 201, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(userdb_find(db, "carol@example.org"));
	ck_assert_ptr_null(userdb_find(db, "alice@example.org"));
	userdb_free(db);
}
END_TEST

START_TEST(test_empty_file)
{
	struct userdb	*db;

	db = load("# nobody\n", false);
	ck_assert_uint_eq(userdb_count(db), 0);
	ck_assert_ptr_null(userdb_find(db, "alice@example.org"));
	ck_assert_ptr_null(userdb_entry(db, 0));
	userdb_free(db);
}
END_TEST

#define N(a)	((int)(sizeof(a) / sizeof((a)[0])))

Suite *
userdb_suite(void)
{
	Suite	*s = suite_create("userdb");
	TCase	*tc;

	tc = tcase_create("userdb");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_case);
	tcase_add_loop_test(tc, test_bad_lines, 0, N(bad));
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_refresh_failure_is_sticky_until_fixed);
	tcase_add_test(tc, test_empty_file);
	suite_add_tcase(s, tc);
	return s;
}
