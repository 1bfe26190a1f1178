/* SPDX-License-Identifier: MIT */
/*
 * identity: leave root for the configured user and group once the
 * listeners are bound, and prove there is no way back; or, when some
 * recipients are delivered as their own users, keep exactly the two
 * capabilities that switching the file system identity needs.
 */
#ifndef LMTPD_IDENTITY_H
#define LMTPD_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * When running as root: clears the supplementary groups and switches
 * real, effective and saved ids to group and user.  Without keep_switch it
 * then checks that root cannot be regained; with it, CAP_SETUID and
 * CAP_SETGID stay (and nothing else), for identity_fs_enter.  When not
 * root: does nothing and returns 0.  Returns 0, or -1 with a message in
 * err (cap bytes).
 */
int	identity_drop(const char *user, const char *group, bool keep_switch,
	    char *err, size_t cap);

/*
 * Makes files this process creates from now on belong to uid:gid, and
 * permission checks on paths use them (setfsuid/setfsgid: the process's
 * other ids do not change, so signals and the spool are unaffected).
 * Our own ids need no privilege.  Returns 0, or -1 with errno EPERM when
 * the switch is not allowed (not root and no capabilities kept).
 */
int	identity_fs_enter(uid_t uid, gid_t gid);
/* Back to the process's own effective ids. */
void	identity_fs_leave(void);

#endif
