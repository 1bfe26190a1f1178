/* SPDX-License-Identifier: MIT */
/*
 * janitor: sweeps of a mkdtemp() Maildir whose tmp/ entries get their
 * times from utimensat() around a fixed T0: what goes (stale regular
 * files, reported), what stays (recent atime or mtime, symlinks and their
 * targets, directories and their contents, FIFOs), the bound per call;
 * and the janitor_due() rate limit with its bounded table.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "janitor.h"
#include "suites.h"
#include "testutil.h"

#define T0	((time_t)1796106000)
#define HOUR	((time_t)3600)
#define N_SEEN	16

struct seen {
	size_t	n;
	char	name[N_SEEN][64];
	time_t	age[N_SEEN];
};

static char	root[PATH_MAX];
static char	md[PATH_MAX];		/* root/Maildir with tmp/ */

static void
setup(void)
{
	char	path[PATH_MAX];

	umask(022);
	test_mkdtemp(root, sizeof(root), "janitor");
	test_pathf(md, "%s/Maildir", root);
	ck_assert_int_eq(mkdir(md, 0700), 0);
	test_pathf(path, "%s/tmp", md);
	ck_assert_int_eq(mkdir(path, 0700), 0);
}

static void
teardown(void)
{
	(void)test_rmtree(root);
}

/* Sets path's times (the link itself for a symlink) to T0 - ago. */
static void
age(const char *path, time_t atime_ago, time_t mtime_ago)
{
	struct timespec	ts[2];

	ts[0].tv_sec = T0 - atime_ago;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = T0 - mtime_ago;
	ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

/* A file md/tmp/name with the given ages. */
static void
put(const char *name, time_t atime_ago, time_t mtime_ago)
{
	char	path[PATH_MAX];
	int	fd;

	test_pathf(path, "%s/tmp/%s", md, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "x\n", 2), 2);
	ck_assert_int_eq(close(fd), 0);
	age(path, atime_ago, mtime_ago);
}

static int
exists(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0;
}

/* md/tmp/name exists (itself, for a symlink). */
static int
in_tmp(const char *name)
{
	char	path[PATH_MAX];

	test_pathf(path, "%s/tmp/%s", md, name);
	return exists(path);
}

static void
record(void *ctx, const char *name, time_t a)
{
	struct seen	*s = ctx;

	ck_assert_uint_lt(s->n, N_SEEN);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	s->age[s->n] = a;
	s->n++;
}

/* The age reported for name; -1 when it was not reported. */
static time_t
reported(const struct seen *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return s->age[i];
	return -1;
}

START_TEST(test_sweep_ages)
{
	static const char *const	kept[] = { "young", "edge1", "read",
					    "written", "future" };
	struct seen			s = { 0 };
	size_t				i;

	put("old", 37 * HOUR, 37 * HOUR);
	put("old2", 40 * HOUR, 37 * HOUR);
	put("edge", JANITOR_MAX_AGE, JANITOR_MAX_AGE);
	put("young", 35 * HOUR, 35 * HOUR);
	put("edge1", JANITOR_MAX_AGE - 1, JANITOR_MAX_AGE - 1);
	put("read", 1 * HOUR, 37 * HOUR);		/* QMD: accessed */
	put("written", 37 * HOUR, 1 * HOUR);
	put("future", 37 * HOUR, -1 * HOUR);

	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, record, &s),
	    3);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(reported(&s, "old"), 37 * HOUR);
	ck_assert_int_eq(reported(&s, "old2"), 37 * HOUR);
	ck_assert_int_eq(reported(&s, "edge"), JANITOR_MAX_AGE);
	ck_assert(!in_tmp("old"));
	ck_assert(!in_tmp("old2"));
	ck_assert(!in_tmp("edge"));
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		ck_assert_msg(in_tmp(kept[i]), "%s removed", kept[i]);
		ck_assert_int_eq(reported(&s, kept[i]), -1);
	}

	/* Nothing left to do; a shorter max_age takes the younger. */
	s.n = 0;
	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, record, &s),
	    0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(janitor_sweep(md, T0, 34 * HOUR, record, &s), 2);
	ck_assert_int_eq(reported(&s, "young"), 35 * HOUR);
	ck_assert_int_eq(reported(&s, "edge1"), JANITOR_MAX_AGE - 1);
}
END_TEST

START_TEST(test_sweep_symlinks)
{
	char		path[PATH_MAX], target[PATH_MAX];
	struct seen	s = { 0 };
	int		fd;

	test_pathf(target, "%s/outside", root);
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	age(target, 37 * HOUR, 37 * HOUR);
	test_pathf(path, "%s/tmp/link", md);
	ck_assert_int_eq(symlink(target, path), 0);
	age(path, 37 * HOUR, 37 * HOUR);
	test_pathf(path, "%s/tmp/dangling", md);
	ck_assert_int_eq(symlink("no-such-file", path), 0);
	age(path, 37 * HOUR, 37 * HOUR);

	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, record, &s),
	    0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(exists(target));
	ck_assert(in_tmp("link"));
	ck_assert(in_tmp("dangling"));
}
END_TEST

START_TEST(test_sweep_other_types)
{
	char		path[PATH_MAX];
	struct seen	s = { 0 };

	test_pathf(path, "%s/tmp/sub", md);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	put("sub/deep", 37 * HOUR, 37 * HOUR);
	age(path, 37 * HOUR, 37 * HOUR);
	test_pathf(path, "%s/tmp/fifo", md);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	age(path, 37 * HOUR, 37 * HOUR);
	put("old", 37 * HOUR, 37 * HOUR);

	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, record, &s),
	    1);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.name[0], "old");
	ck_assert(in_tmp("sub"));
	ck_assert(in_tmp("sub/deep"));
	ck_assert(in_tmp("fifo"));
}
END_TEST

START_TEST(test_sweep_missing)
{
	char		path[PATH_MAX];
	struct seen	s = { 0 };

	test_pathf(path, "%s/tmp", md);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, record, &s),
	    0);
	test_pathf(path, "%s/none", root);
	ck_assert_int_eq(janitor_sweep(path, T0, JANITOR_MAX_AGE, record,
	    &s), 0);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(test_sweep_tmp_is_symlink)
{
	char		path[PATH_MAX], dir[PATH_MAX];
	struct seen	s = { 0 };

	test_pathf(dir, "%s/elsewhere", root);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	test_pathf(path, "%s/tmp", md);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(symlink(dir, path), 0);
	put("old", 37 * HOUR, 37 * HOUR);	/* lands in elsewhere/ */

	errno = 0;
	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, record, &s),
	    -1);
	/* Linux checks O_DIRECTORY before O_NOFOLLOW. */
	ck_assert_msg(errno == ENOTDIR || errno == ELOOP, "errno %d", errno);
	ck_assert_uint_eq(s.n, 0);
	test_pathf(path, "%s/old", dir);
	ck_assert(exists(path));
}
END_TEST

START_TEST(test_sweep_bounded)
{
	char		path[PATH_MAX];
	struct timespec	ts[2];
	int		fd, i;

	ts[0].tv_sec = T0 - 37 * HOUR;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	for (i = 0; i < JANITOR_SWEEP_MAX + 50; i++) {
		test_pathf(path, "%s/tmp/%d", md, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(futimens(fd, ts), 0);
		close(fd);
	}
	/* No report callback is fine too. */
	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, NULL, NULL),
	    JANITOR_SWEEP_MAX);
	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, NULL, NULL),
	    50);
	ck_assert_int_eq(janitor_sweep(md, T0, JANITOR_MAX_AGE, NULL, NULL),
	    0);
}
END_TEST

/*
 * janitor_due keeps one table per process: each test uses names of its
 * own, so that the order of tests (CK_FORK=no) does not matter.
 */

START_TEST(test_due_interval)
{
	ck_assert(janitor_due("/m/due-a", T0, 60));
	ck_assert(!janitor_due("/m/due-a", T0, 60));
	ck_assert(!janitor_due("/m/due-a", T0 + 59, 60));
	ck_assert(janitor_due("/m/due-b", T0 + 1, 60));
	ck_assert(janitor_due("/m/due-a", T0 + 60, 60));
	ck_assert(!janitor_due("/m/due-a", T0 + 61, 60));
	ck_assert(!janitor_due("/m/due-b", T0 + 60, 60));
	/* The clock stepped back: due, and remembered from then. */
	ck_assert(janitor_due("/m/due-a", T0 + 30, 60));
	ck_assert(!janitor_due("/m/due-a", T0 + 89, 60));
	/* Interval 0: always. */
	ck_assert(janitor_due("/m/due-c", T0, 0));
	ck_assert(janitor_due("/m/due-c", T0, 0));
}
END_TEST

START_TEST(test_due_bounded)
{
	/*
	 * Later than any entry other tests (or suites, under CK_FORK=no)
	 * left in the per-process table, so that those are evicted first.
	 */
	const time_t	t0 = (time_t)4000000000LL;
	char		name[64];
	int		i;

	ck_assert(janitor_due("/m/bound-first", t0, 1000000));
	ck_assert(!janitor_due("/m/bound-first", t0, 1000000));
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "/m/bound-%d", i);
		ck_assert(janitor_due(name, t0 + 1 + i, 1000000));
	}
	/* The JANITOR_DUE_SLOTS most recent are remembered ... */
	snprintf(name, sizeof(name), "/m/bound-%d", 999);
	ck_assert(!janitor_due(name, t0 + 2000, 1000000));
	snprintf(name, sizeof(name), "/m/bound-%d", 1000 - JANITOR_DUE_SLOTS);
	ck_assert(!janitor_due(name, t0 + 2000, 1000000));
	/* ... and the older ones, the first among them, are due again. */
	ck_assert(janitor_due("/m/bound-first", t0 + 2000, 1000000));
	snprintf(name, sizeof(name), "/m/bound-%d",
	    1000 - JANITOR_DUE_SLOTS - 1);
	ck_assert(janitor_due(name, t0 + 2000, 1000000));
}
END_TEST

Suite *
janitor_suite(void)
{
	Suite	*s = suite_create("janitor");
	TCase	*tc;

	tc = tcase_create("sweep");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sweep_ages);
	tcase_add_test(tc, test_sweep_symlinks);
	tcase_add_test(tc, test_sweep_other_types);
	tcase_add_test(tc, test_sweep_missing);
	tcase_add_test(tc, test_sweep_tmp_is_symlink);
	tcase_add_test(tc, test_sweep_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("due");
	tcase_add_test(tc, test_due_interval);
	tcase_add_test(tc, test_due_bounded);
	suite_add_tcase(s, tc);
	return s;
}
