/* SPDX-License-Identifier: MIT */
/*
 * perms: the mail root of a template, and refusing world-writable
 * configuration files and mail roots, in a mkdtemp() tree.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "perms.h"
#include "suites.h"
#include "testutil.h"

static char	top[TEST_DIR_MAX];

static void
setup(void)
{
	char	path[PATH_MAX];

	test_mkdtemp(top, sizeof(top), "perms");
	ck_assert_int_eq(chmod(top, 0755), 0);
	test_pathf(path, "%s/mail", top);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void
teardown(void)
{
	(void)test_rmtree(top);
}

START_TEST(test_mail_root)
{
	char	tmpl[PATH_MAX], root[PATH_MAX], want[PATH_MAX];

	snprintf(want, sizeof(want), "%s/mail", top);
	snprintf(tmpl, sizeof(tmpl), "%s/mail/%%d/%%n/Maildir", top);
	ck_assert_int_eq(perms_mail_root(tmpl, root, sizeof(root)), 0);
	ck_assert_str_eq(root, want);
	/* Missing levels: the nearest directory that exists. */
	snprintf(tmpl, sizeof(tmpl), "%s/mail/vmail/spool/%%u", top);
	ck_assert_int_eq(perms_mail_root(tmpl, root, sizeof(root)), 0);
	ck_assert_str_eq(root, want);
	/* A prefix that is part of a name stops at its directory. */
	snprintf(tmpl, sizeof(tmpl), "%s/mail/box-%%n", top);
	ck_assert_int_eq(perms_mail_root(tmpl, root, sizeof(root)), 0);
	ck_assert_str_eq(root, want);
	ck_assert_int_eq(perms_mail_root("/%d/%n", root, sizeof(root)), 0);
	ck_assert_str_eq(root, "/");
	ck_assert_int_eq(perms_mail_root("relative/%n", root, sizeof(root)),
	    -1);
	ck_assert_int_eq(perms_mail_root(tmpl, root, 8), -1);
}
END_TEST

static struct conf *
conf_here(bool strict)
{
	char		 path[PATH_MAX], err[512];
	struct conf	*c;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/lmtpd.conf", top);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "maildir = \"%s/mail/%%d/%%n/Maildir\"\n"
	    "strict_permissions = %s\n", top, strict ? "true" : "false");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

START_TEST(test_safe_tree_passes)
{
	struct conf	*c = conf_here(true);
	char		 err[512] = "";

	ck_assert_msg(perms_check(c, err, sizeof(err)) == 0, "%s", err);
	conf_free(c);
}
END_TEST

START_TEST(test_world_writable_config)
{
	struct conf	*c = conf_here(true);
	char		 err[512] = "";

	ck_assert_int_eq(chmod(c->file, 0666), 0);
	ck_assert_int_eq(perms_check(c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "configuration file") != NULL &&
	    strstr(err, c->file) != NULL && strstr(err, "0666") != NULL,
	    "%s", err);
	conf_free(c);
}
END_TEST

START_TEST(test_world_writable_mail_root)
{
	struct conf	*c = conf_here(true);
	char		 err[512] = "", root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/mail", top);
	ck_assert_int_eq(chmod(root, 01777), 0);
	ck_assert_int_eq(perms_check(c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "mail root") != NULL &&
	    strstr(err, root) != NULL, "%s", err);
	conf_free(c);
}
END_TEST

START_TEST(test_not_strict_allows)
{
	struct conf	*c = conf_here(false);
	char		 err[512] = "", root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/mail", top);
	ck_assert_int_eq(chmod(root, 0777), 0);
	ck_assert_int_eq(chmod(c->file, 0666), 0);
	ck_assert_int_eq(perms_check(c, err, sizeof(err)), 0);
	conf_free(c);
}
END_TEST

Suite *
perms_suite(void)
{
	Suite	*s = suite_create("perms");
	TCase	*tc = tcase_create("perms");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mail_root);
	tcase_add_test(tc, test_safe_tree_passes);
	tcase_add_test(tc, test_world_writable_config);
	tcase_add_test(tc, test_world_writable_mail_root);
	tcase_add_test(tc, test_not_strict_allows);
	suite_add_tcase(s, tc);
	return s;
}
