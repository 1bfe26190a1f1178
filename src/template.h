/* SPDX-License-Identifier: MIT */
/*
 * template: the path templates of maildir, passwd_maildir and users_file
 * lines.  %d domain, %n local part (without +detail), %u local@domain,
 * %h home directory (passwd lookups only), %% a percent sign.
 */
#ifndef LMTPD_TEMPLATE_H
#define LMTPD_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

struct template_vars {
	const char	*local;
	const char	*domain;
	const char	*home;		/* NULL: %h is not allowed */
};

/*
 * Checks that every % sequence in t is one of the letters in allowed (and
 * %%).  Returns 0, or -1 with errno EINVAL and the offending letter in
 * *bad_out ('\0' for a lone % at the end).  *per_user_out (may be NULL)
 * says whether %n, %u or %h appears.
 */
int	template_check(const char *t, const char *allowed, char *bad_out,
	    bool *per_user_out);

/*
 * Expands t into out (cap bytes).  Returns 0, or -1 with errno
 * ENAMETOOLONG (too long) or EINVAL (an unknown sequence, or %h without a
 * home); out is then "" (when cap > 0).  The whole template is checked
 * before expanding.
 */
int	template_expand(const char *t, const struct template_vars *,
	    char *out, size_t cap);

#endif
