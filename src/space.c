/* SPDX-License-Identifier: MIT */
/*
 * space: statvfs of the mail root, walking up to the nearest existing
 * ancestor so that a Maildir not created yet is measured where it will
 * land.  Only ENOENT walks up; every other failure is the caller's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/statvfs.h>

#include "space.h"
#include "util.h"

static void	parent_of(char *);

/*
 * Cuts path to its parent in place: "a/b/c" to "a/b", "/a" to "/", and
 * "a" to ".".  Trailing slashes go first.  Leaves "/" and "." alone.
 */
static void
parent_of(char *path)
{
	char	*slash;
	size_t	 len;

	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	slash = strrchr(path, '/');
	if (slash == NULL) {
		path[0] = '.';
		path[1] = '\0';
		return;
	}
	while (slash > path && slash[-1] == '/')
		slash--;
	if (slash == path)
		slash[1] = '\0';
	else
		slash[0] = '\0';
}

int
space_available(const char *path, uint64_t *bytes_out)
{
	char		buf[PATH_MAX];
	struct statvfs	sv;
	uint64_t	frsize, avail;

	if (*path == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (util_strlcpy(buf, path, sizeof(buf)) == -1)
		return -1;
	while (statvfs(buf, &sv) == -1) {
		/* "/" and "." exist unless something is badly wrong. */
		if (errno != ENOENT || strcmp(buf, "/") == 0 ||
		    strcmp(buf, ".") == 0)
			return -1;
		parent_of(buf);
	}
	/* f_frsize is the unit of f_bavail; some systems leave it 0. */
	frsize = sv.f_frsize != 0 ? (uint64_t)sv.f_frsize :
	    (uint64_t)sv.f_bsize;
	avail = (uint64_t)sv.f_bavail;
	if (frsize != 0 && avail > UINT64_MAX / frsize)
		*bytes_out = UINT64_MAX;
	else
		*bytes_out = avail * frsize;
	return 0;
}

bool
space_enough(uint64_t available, uint64_t reserve, uint64_t need)
{
	if (need > available)
		return false;
	return available - need >= reserve;
}
