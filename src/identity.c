/* SPDX-License-Identifier: MIT */
/*
 * identity: drop root for the delivery user once the listeners are bound.
 * Real, effective and saved ids all change and the supplementary groups
 * are cleared; afterwards we check that none of it can be undone.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "identity.h"

int
identity_drop(const char *user, const char *group, char *err, size_t cap)
{
	struct passwd	*pw;
	struct group	*gr;
	uid_t		 uid;
	gid_t		 gid;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, cap, "user '%s': %s", user,
		    errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	uid = pw->pw_uid;
	errno = 0;
	gr = getgrnam(group);
	if (gr == NULL) {
		snprintf(err, cap, "group '%s': %s", group,
		    errno != 0 ? strerror(errno) : "no such group");
		return -1;
	}
	gid = gr->gr_gid;
	if (uid == 0) {
		snprintf(err, cap, "user '%s' is root: refusing to deliver "
		    "mail as root", user);
		return -1;
	}
	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		snprintf(err, cap, "cannot become %s:%s: %s", user, group,
		    strerror(errno));
		return -1;
	}
	/* Prove it: no id is left at 0 and root cannot come back. */
	if (setuid(0) != -1 || seteuid(0) != -1 || getuid() != uid ||
	    geteuid() != uid || getgid() != gid || getegid() != gid ||
	    getgroups(0, NULL) != 0) {
		snprintf(err, cap, "privileges could be regained after "
		    "dropping to %s:%s", user, group);
		return -1;
	}
	return 0;
}
