/* SPDX-License-Identifier: MIT */
/*
 * identity: leave root for the configured user and group once the
 * listeners are bound, and prove there is no way back.
 */
#ifndef LMTPD_IDENTITY_H
#define LMTPD_IDENTITY_H

#include <stddef.h>

/*
 * When running as root: clears the supplementary groups, switches real,
 * effective and saved ids to group and user, and checks that root cannot
 * be regained.  When not root: does nothing and returns 0.  Returns 0, or
 * -1 with a message in err (cap bytes).
 */
int	identity_drop(const char *user, const char *group, char *err,
	    size_t cap);

#endif
