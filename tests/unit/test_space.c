/* SPDX-License-Identifier: MIT */
/*
 * space: space_available() against statvfs(3) called here directly, for
 * an existing directory and for one several missing levels below it; the
 * errors; and the space_enough() boundaries, wraparound included.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "space.h"
#include "suites.h"
#include "testutil.h"

/* Other writers on the file system may move the figure between calls. */
#define SLACK	((uint64_t)64 * 1024 * 1024)

static char	root[PATH_MAX];

static void
setup(void)
{
	test_mkdtemp(root, sizeof(root), "space");
}

static void
teardown(void)
{
	(void)test_rmtree(root);
}

/* What os.statvfs(path) gives: f_bavail * f_frsize. */
static uint64_t
direct(const char *path)
{
	struct statvfs	sv;

	ck_assert_int_eq(statvfs(path, &sv), 0);
	return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

/* space_available(path) within the figures direct(dir) gave around it. */
static void
assert_matches(const char *path, const char *dir)
{
	uint64_t	before, got = 0, after, lo, hi;

	before = direct(dir);
	ck_assert_int_eq(space_available(path, &got), 0);
	after = direct(dir);
	lo = before < after ? before : after;
	hi = before < after ? after : before;
	lo = lo > SLACK ? lo - SLACK : 0;
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_ge(got, lo);
	ck_assert_uint_le(got, hi + SLACK);
}

START_TEST(test_existing_dir)
{
	assert_matches(root, root);
}
END_TEST

START_TEST(test_missing_levels)
{
	char	path[PATH_MAX];

	test_pathf(path, "%s/a/b/c/Maildir/", root);
	assert_matches(path, root);
	test_pathf(path, "%s//a//b", root);
	assert_matches(path, root);
	/* Nothing was made on the way. */
	test_pathf(path, "%s/a", root);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_errors)
{
	static char	big[PATH_MAX + 2];
	char		path[PATH_MAX];
	uint64_t	got = 7;
	int		fd;

	/* A file on the way is the caller's problem, not a parent's. */
	test_pathf(path, "%s/file", root);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	test_pathf(path, "%s/file/a/b", root);
	errno = 0;
	ck_assert_int_eq(space_available(path, &got), -1);
	ck_assert_int_eq(errno, ENOTDIR);

	errno = 0;
	ck_assert_int_eq(space_available("", &got), -1);
	ck_assert_int_eq(errno, ENOENT);

	memset(big, 'a', PATH_MAX + 1);
	big[PATH_MAX + 1] = '\0';
	errno = 0;
	ck_assert_int_eq(space_available(big, &got), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_uint_eq(got, 7);
}
END_TEST

static const struct {
	uint64_t	available, reserve, need;
	int		want;
} enoughs[] = {
	{ 100, 0, 100, 1 },
	{ 100, 0, 101, 0 },
	{ 100, 0, 0, 1 },
	{ 100, 10, 90, 1 },
	{ 100, 10, 91, 0 },
	{ 100, 100, 0, 1 },
	{ 100, 101, 0, 0 },
	{ 0, 0, 0, 1 },
	{ 0, 0, 1, 0 },
	{ 0, 1, 0, 0 },
	{ 10, 20, 0, 0 },
	/* need > available must not wrap into a huge remainder. */
	{ 5, 0, UINT64_MAX, 0 },
	{ 5, 1, 6, 0 },
	{ UINT64_MAX, UINT64_MAX, 0, 1 },
	{ UINT64_MAX, UINT64_MAX, 1, 0 },
	{ UINT64_MAX, 0, UINT64_MAX, 1 },
	{ UINT64_MAX, 1, UINT64_MAX, 0 },
};

START_TEST(test_enough)
{
	ck_assert_int_eq(space_enough(enoughs[_i].available,
	    enoughs[_i].reserve, enoughs[_i].need), enoughs[_i].want);
}
END_TEST

Suite *
space_suite(void)
{
	Suite	*s = suite_create("space");
	TCase	*tc;

	tc = tcase_create("available");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_existing_dir);
	tcase_add_test(tc, test_missing_levels);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("enough");
	tcase_add_loop_test(tc, test_enough, 0,
	    (int)(sizeof(enoughs) / sizeof(enoughs[0])));
	suite_add_tcase(s, tc);
	return s;
}
