/* SPDX-License-Identifier: MIT */
/*
 * identity: drop root for the delivery user once the listeners are bound.
 * Real, effective and saved ids all change and the supplementary groups
 * are cleared; afterwards we check that none of it can be undone, or, in
 * switching mode, that only CAP_SETUID and CAP_SETGID are left.  Those
 * let a child take a recipient's file system identity (Linux setfsuid),
 * as Dovecot's LMTP does by running as root.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#ifdef HAVE_SYS_FSUID_H
#include <sys/fsuid.h>
#endif
#ifdef HAVE_LINUX_CAPABILITY_H
#include <linux/capability.h>
#include <sys/syscall.h>
#endif

#include "identity.h"

#if defined(HAVE_SYS_PRCTL_H) && defined(HAVE_SYS_FSUID_H) && \
    defined(HAVE_LINUX_CAPABILITY_H)
#define IDENTITY_CAN_SWITCH	1
#define IDENTITY_CAPS	((1U << CAP_SETUID) | (1U << CAP_SETGID))

/* Permitted and effective: CAP_SETUID and CAP_SETGID; inheritable none. */
static int
keep_switch_caps(void)
{
	struct __user_cap_header_struct	h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct	d[2];

	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = IDENTITY_CAPS;
	if (syscall(SYS_capset, &h, d) == -1)
		return -1;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) == -1)
		return -1;
	if (d[0].permitted != IDENTITY_CAPS || d[0].effective !=
	    IDENTITY_CAPS || d[0].inheritable != 0 || d[1].permitted != 0 ||
	    d[1].effective != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
#endif

int
identity_drop(const char *user, const char *group, bool keep_switch,
    char *err, size_t cap)
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
#ifdef IDENTITY_CAN_SWITCH
	if (keep_switch && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == -1) {
		snprintf(err, cap, "cannot keep capabilities: %s",
		    strerror(errno));
		return -1;
	}
#else
	if (keep_switch) {
		snprintf(err, cap, "delivering as other users needs Linux "
		    "setfsuid and capabilities, missing from this build");
		return -1;
	}
#endif
	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		snprintf(err, cap, "cannot become %s:%s: %s", user, group,
		    strerror(errno));
		return -1;
	}
#ifdef IDENTITY_CAN_SWITCH
	if (keep_switch) {
		(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
		if (keep_switch_caps() == -1) {
			snprintf(err, cap, "cannot keep CAP_SETUID and "
			    "CAP_SETGID alone: %s", strerror(errno));
			return -1;
		}
		/* Root could come back through CAP_SETUID: check the ids. */
		if (getuid() != uid || geteuid() != uid || getgid() != gid ||
		    getegid() != gid || getgroups(0, NULL) != 0) {
			snprintf(err, cap, "ids not dropped to %s:%s", user,
			    group);
			return -1;
		}
		return 0;
	}
#endif
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

int
identity_fs_enter(uid_t uid, gid_t gid)
{
	if (uid == geteuid() && gid == getegid())
		return 0;
#ifdef IDENTITY_CAN_SWITCH
	/* Both calls return the old id even when they fail: ask again. */
	(void)setfsgid(gid);
	if ((gid_t)setfsgid((gid_t)-1) == gid) {
		(void)setfsuid(uid);
		if ((uid_t)setfsuid((uid_t)-1) == uid)
			return 0;
	}
	identity_fs_leave();
#endif
	errno = EPERM;
	return -1;
}

void
identity_fs_leave(void)
{
#ifdef IDENTITY_CAN_SWITCH
	(void)setfsuid(geteuid());
	(void)setfsgid(getegid());
#endif
}
