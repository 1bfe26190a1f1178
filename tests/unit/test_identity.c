/* SPDX-License-Identifier: MIT */
/*
 * identity: the switching mode keeps exactly CAP_SETUID and CAP_SETGID
 * after the ids are dropped, files made inside identity_fs_enter belong
 * to that owner, and without privilege the switch is refused.  The root
 * cases run in a forked child, so the test process keeps its ids.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "identity.h"
#include "suites.h"
#include "testutil.h"

/* CapEff from /proc/self/status, or -1. */
static long long
cap_eff(void)
{
	char		 line[256];
	long long	 v = -1;
	FILE		*fp;

	fp = fopen("/proc/self/status", "r");
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "CapEff:", 7) == 0)
			v = strtoll(line + 7, NULL, 16);
	fclose(fp);
	return v;
}

START_TEST(test_own_ids_need_nothing)
{
	ck_assert_int_eq(identity_fs_enter(geteuid(), getegid()), 0);
	identity_fs_leave();
}
END_TEST

START_TEST(test_refused_without_privilege)
{
	if (geteuid() == 0)
		return;		/* covered by the child below */
	errno = 0;
	ck_assert_int_eq(identity_fs_enter(geteuid() + 1, getegid()), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

/* Exit codes of the child: 0 all good, else the failed step's number. */
static int
switching_child(const char *dir)
{
	char		path[PATH_MAX], err[256];
	struct stat	st;
	int		fd;

	if (identity_drop("nobody", "nogroup", true, err, sizeof(err)) == -1)
		return 1;
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0)
		return 2;
	if (cap_eff() != (1LL << 6 | 1LL << 7))
		return 3;
	if (identity_fs_enter(4321, 4322) == -1)
		return 4;
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	identity_fs_leave();
	if (fd == -1 || close(fd) == -1)
		return 5;
	if (stat(path, &st) == -1 || st.st_uid != 4321 || st.st_gid != 4322)
		return 6;
	/* Back as nobody: the file made as 4321 is not ours to open. */
	if (open(path, O_RDONLY | O_CLOEXEC) != -1 || errno != EACCES)
		return 7;
	return 0;
}

START_TEST(test_switching_mode)
{
	char	dir[TEST_DIR_MAX];
	pid_t	pid;
	int	status;

	if (geteuid() != 0)
		return;		/* needs root to start from */
	/* Under /tmp, not $TMPDIR: nobody must reach it. */
	test_mkdtemp_in(dir, sizeof(dir), "/tmp", "identity");
	ck_assert_int_eq(chmod(dir, 0777), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(switching_child(dir));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	(void)test_rmtree(dir);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d",
	    WEXITSTATUS(status));
}
END_TEST

/* Without keep_switch no capability is left and root cannot come back. */
START_TEST(test_plain_drop_keeps_nothing)
{
	char	err[256];
	pid_t	pid;
	int	status;

	if (geteuid() != 0)
		return;
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (identity_drop("nobody", "nogroup", false, err,
		    sizeof(err)) == -1)
			_exit(1);
		if (cap_eff() != 0)
			_exit(2);
		_exit(identity_fs_enter(4321, 4322) == -1 && errno == EPERM ?
		    0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d",
	    WEXITSTATUS(status));
}
END_TEST

Suite *
identity_suite(void)
{
	Suite	*s = suite_create("identity");
	TCase	*tc;

	tc = tcase_create("identity");
	tcase_add_test(tc, test_own_ids_need_nothing);
	tcase_add_test(tc, test_refused_without_privilege);
	tcase_add_test(tc, test_switching_mode);
	tcase_add_test(tc, test_plain_drop_keeps_nothing);
	suite_add_tcase(s, tc);
	return s;
}
