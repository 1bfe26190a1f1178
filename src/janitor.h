/* SPDX-License-Identifier: MIT */
/*
 * janitor: the reader's duty of the Maildir spec, done for readers that
 * forget it: "A file in tmp may be safely removed if it has not been
 * accessed in 36 hours."  Only tmp/ of one Maildir, only regular files,
 * never through a symlink, never below tmp/.  A small per-process table
 * rate-limits the sweeps.
 */
#ifndef LMTPD_JANITOR_H
#define LMTPD_JANITOR_H

#include <stdbool.h>
#include <time.h>

#define JANITOR_MAX_AGE		(36 * 3600)	/* QMD */
#define JANITOR_DUE_SLOTS	64	/* Maildirs janitor_due() remembers */
#define JANITOR_SWEEP_MAX	10000	/* entries one sweep looks at */

/*
 * True when this process has not swept maildir in the last interval
 * seconds, as far as it remembers; it is then remembered as swept at
 * now, so call it right before janitor_sweep().  The table holds
 * JANITOR_DUE_SLOTS Maildirs and forgets the least recently swept one
 * first, so a forgotten Maildir is simply due again.  A now earlier than
 * the remembered time (the clock stepped back) is due.  maildir is
 * copied.  Not thread-safe; never blocks.
 */
bool	janitor_due(const char *maildir, time_t now, unsigned interval);

/*
 * Removes the regular files in maildir/tmp/ whose atime and mtime are
 * both at least max_age seconds before now, and calls report (unless it
 * is NULL) with ctx, the name and its age (from the later of the two
 * times) right after each removal; the name is valid during the call
 * only.  Symlinks, directories and other file types stay, and nothing
 * below tmp/ is looked at.  Looks at no more than JANITOR_SWEEP_MAX
 * entries per call.  Returns the number of files removed (0 when tmp/ or
 * the Maildir does not exist), or -1 with errno set (ENOTDIR, or ELOOP
 * on some systems, when tmp/ is a symlink); files already removed were
 * reported.  Blocks on disk I/O.
 */
int	janitor_sweep(const char *maildir, time_t now, time_t max_age,
	    void (*report)(void *ctx, const char *name, time_t age),
	    void *ctx);

#endif
