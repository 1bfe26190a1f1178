/* SPDX-License-Identifier: MIT */
/*
 * perms: refuse a world-writable configuration or mail root.  Anyone who
 * can write there can redirect or read other people's mail.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "perms.h"
#include "util.h"

int
perms_mail_root(const char *tmpl, char *out, size_t cap)
{
	struct stat	 st;
	const char	*pct;
	char		*slash;
	size_t		 len;

	pct = strchr(tmpl, '%');
	len = pct == NULL ? strlen(tmpl) : (size_t)(pct - tmpl);
	if (len >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, tmpl, len);
	out[len] = '\0';
	/* "/var/mail/%d/..." -> "/var/mail", then up to what exists. */
	for (;;) {
		slash = strrchr(out, '/');
		if (slash == NULL) {
			errno = EINVAL;		/* not an absolute template */
			return -1;
		}
		if (slash == out) {
			out[1] = '\0';
			return 0;
		}
		*slash = '\0';
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
}

static int
perms_writable_by_others(const char *path, const char *what, char *err,
    size_t cap)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, cap, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IWOTH) == 0)
		return 0;
	snprintf(err, cap, "%s %s is writable by every user (mode %04o): "
	    "anyone could redirect or read mail; chmod o-w it, or set "
	    "strict_permissions = false", what, path,
	    (unsigned)(st.st_mode & 07777));
	return -1;
}

int
perms_check(const struct conf *conf, char *err, size_t cap)
{
	char	root[PATH_MAX];

	if (!conf->strict_permissions)
		return 0;
	if (conf->file[0] != '\0' && perms_writable_by_others(conf->file,
	    "configuration file", err, cap) == -1)
		return -1;
	if (perms_mail_root(conf->maildir, root, sizeof(root)) == -1) {
		snprintf(err, cap, "maildir %s: no mail root: %s",
		    conf->maildir, strerror(errno));
		return -1;
	}
	return perms_writable_by_others(root, "mail root", err, cap);
}
