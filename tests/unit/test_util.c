/* SPDX-License-Identifier: MIT */
/*
 * util: the cached pid is the caller's own, also in a child forked after
 * the parent asked (a Maildir name with the parent's pid could collide).
 */
#include "config.h"

#include <sys/wait.h>
#include <unistd.h>

#include "suites.h"
#include "util.h"

START_TEST(test_getpid_after_fork)
{
	pid_t	parent, pid;
	int	status;

	parent = util_getpid();
	ck_assert_int_eq(parent, getpid());
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(util_getpid() == getpid() && util_getpid() != parent ?
		    0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(util_getpid(), parent);
}
END_TEST

Suite *
util_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tcase_create("pid");

	tcase_add_test(tc, test_getpid_after_fork);
	suite_add_tcase(s, tc);
	return s;
}
