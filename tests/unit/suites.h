/* SPDX-License-Identifier: MIT */
/*
 * One Suite per module; check_main.c runs them all.
 */
#ifndef LMTPD_TEST_SUITES_H
#define LMTPD_TEST_SUITES_H

#include <check.h>

Suite	*access_suite(void);
Suite	*addr_suite(void);
Suite	*buf_suite(void);
Suite	*conf_suite(void);
Suite	*delivery_suite(void);
Suite	*folder_suite(void);
Suite	*headers_suite(void);
Suite	*identity_suite(void);
Suite	*janitor_suite(void);
Suite	*journal_suite(void);
Suite	*lmtp_suite(void);
Suite	*log_suite(void);
Suite	*maildir_suite(void);
Suite	*perms_suite(void);
Suite	*quota_suite(void);
Suite	*recipient_suite(void);
Suite	*sha256_suite(void);
Suite	*space_suite(void);
Suite	*stats_suite(void);
Suite	*status_suite(void);
Suite	*template_suite(void);
Suite	*trace_suite(void);
Suite	*userdb_suite(void);
Suite	*util_suite(void);

#endif
