/* SPDX-License-Identifier: MIT */
/*
 * template: which sequences each template allows (%h only with a home),
 * whether it is per user, and that expansion is all or nothing.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "suites.h"
#include "template.h"

static const struct {
	const char	*t;
	const char	*allowed;
	int		 rc;
	char		 bad;
	bool		 per_user;
} checks[] = {
	{ "/var/mail/%d/%n", "dnu", 0, 0, true },
	{ "/var/mail/%u", "dnu", 0, 0, true },
	{ "/var/mail/%d", "dnu", 0, 0, false },
	{ "/var/mail/100%%", "dnu", 0, 0, false },
	{ "%h/Maildir", "hdnu", 0, 0, true },
	{ "%h/Maildir", "dnu", -1, 'h', false },
	{ "/m/%x", "dnu", -1, 'x', false },
	{ "/m/%", "dnu", -1, '\0', false },
};

START_TEST(test_check)
{
	char	bad = 'Z';
	bool	per_user = !checks[_i].per_user;
	int	rc;

	errno = 0;
	rc = template_check(checks[_i].t, checks[_i].allowed, &bad,
	    &per_user);
	ck_assert_int_eq(rc, checks[_i].rc);
	if (rc == -1) {
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_int_eq(bad, checks[_i].bad);
	} else
		ck_assert(per_user == checks[_i].per_user);
}
END_TEST

START_TEST(test_expand_home)
{
	struct template_vars	v = { .local = "carol", .domain = "example.org",
				    .home = "/home/carol" };
	char			out[64];

	ck_assert_int_eq(template_expand("%h/Maildir/%d-%n", &v, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "/home/carol/Maildir/example.org-carol");
	/* Without a home, %h is an unknown sequence. */
	v.home = NULL;
	errno = 0;
	ck_assert_int_eq(template_expand("%h/Maildir", &v, out, sizeof(out)),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A home that does not fit leaves nothing behind. */
	v.home = "/home/a-very-long-home-directory-name-that-goes-on";
	memset(out, 'Z', sizeof(out));
	errno = 0;
	ck_assert_int_eq(template_expand("%h/Maildir/%u", &v, out, 40), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(out[40], 'Z');
}
END_TEST

#define N(a)	((int)(sizeof(a) / sizeof((a)[0])))

Suite *
template_suite(void)
{
	Suite	*s = suite_create("template");
	TCase	*tc;

	tc = tcase_create("template");
	tcase_add_loop_test(tc, test_check, 0, N(checks));
	tcase_add_test(tc, test_expand_home);
	suite_add_tcase(s, tc);
	return s;
}
