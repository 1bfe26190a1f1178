/* SPDX-License-Identifier: MIT */
/*
 * The unit test runner: every module's suite, in fork mode so a crash
 * fails one test.  CK_RUN_SUITE=lmtp runs one suite; CK_FORK=no for gdb
 * and valgrind.
 */
#include "config.h"

#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(access_suite());
	srunner_add_suite(sr, addr_suite());
	srunner_add_suite(sr, buf_suite());
	srunner_add_suite(sr, conf_suite());
	srunner_add_suite(sr, delivery_suite());
	srunner_add_suite(sr, folder_suite());
	srunner_add_suite(sr, headers_suite());
	srunner_add_suite(sr, identity_suite());
	srunner_add_suite(sr, janitor_suite());
	srunner_add_suite(sr, journal_suite());
	srunner_add_suite(sr, lmtp_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, maildir_suite());
	srunner_add_suite(sr, perms_suite());
	srunner_add_suite(sr, quota_suite());
	srunner_add_suite(sr, recipient_suite());
	srunner_add_suite(sr, sha256_suite());
	srunner_add_suite(sr, space_suite());
	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, status_suite());
	srunner_add_suite(sr, template_suite());
	srunner_add_suite(sr, trace_suite());
	srunner_add_suite(sr, userdb_suite());
	srunner_add_suite(sr, util_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
