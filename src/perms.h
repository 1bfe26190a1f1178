/* SPDX-License-Identifier: MIT */
/*
 * perms: the start-up check that nobody but us and root can change what
 * we read or write: the configuration file and the mail root must not be
 * writable by every user (strict_permissions).
 */
#ifndef LMTPD_PERMS_H
#define LMTPD_PERMS_H

#include <stddef.h>

#include "conf.h"

/*
 * The directory all Maildirs live under: the maildir template up to the
 * last '/' before its first '%', or the nearest existing directory above
 * that.  Fills out (cap bytes); returns 0, or -1 with errno.
 */
int	perms_mail_root(const char *tmpl, char *out, size_t cap);

/*
 * Returns 0 when conf->file (if any) and the mail root are not writable
 * by others, or strict_permissions is off; else -1 with the reason in err.
 */
int	perms_check(const struct conf *, char *err, size_t cap);

#endif
