/* SPDX-License-Identifier: MIT */
/*
 * journal: per-Maildir record of recent deliveries, so that a transaction
 * the client retries (it lost our 250) is answered 250 again instead of
 * being written twice.  One text file, JOURNAL_FILE in the Maildir's root,
 * one "<unix-seconds> <64 hex key> <name>\n" line per delivered copy.
 * Best effort by design: a lost entry costs a duplicate, never a message.
 */
#ifndef LMTPD_JOURNAL_H
#define LMTPD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define JOURNAL_FILE		"lmtpd-dedup"
#define JOURNAL_KEY_LEN		32		/* a SHA-256 digest */
/* A buffer of this many bytes holds any name the journal accepts. */
#define JOURNAL_NAME_MAX	1024
/* Past this size, an add rewrites the file without the expired lines. */
#define JOURNAL_COMPACT_SIZE	(64 * 1024)

/*
 * Looks up key (the caller's SHA-256 of message digest and recipient) in
 * the journal of maildir.  An entry counts when its time t satisfies
 * now - window < t <= now + window: a clock stepped back does not keep
 * entries forever, and one stepped forward expires them.  Malformed lines
 * are skipped.  Returns 0 and sets *found_out; when found, the delivered
 * file's name (relative to maildir) is copied into name_out (cap bytes).
 * A missing journal or Maildir is "not found"; window 0 (the journal is
 * off) is "not found" without touching the disk.  Returns -1 with errno
 * on I/O errors (EACCES, EIO, ...), and ENAMETOOLONG when the name does
 * not fit in cap.  Takes a shared flock(2) while reading, so it may block
 * behind a journal_add(); memory use does not depend on the file's size.
 * The process remembers what it read of its last 4 journals (a filter of
 * the keys seen, 8 KiB each), so a lookup reads the lines added since
 * and the file's first octets; only a key the filter may hold is looked
 * for in the whole file.
 */
int	journal_find(const char *maildir,
	    const unsigned char key[JOURNAL_KEY_LEN], time_t now,
	    unsigned window, char *name_out, size_t cap, bool *found_out);

/*
 * Appends "<now> <hex key> <name>" to the journal of maildir, creating it
 * (mode 0600) if needed, with one write(2) under an exclusive flock(2).
 * name is the delivered file relative to maildir ("new/...",
 * ".folder/new/..."): empty or with a space or newline it is EINVAL, of
 * JOURNAL_NAME_MAX bytes or more ENAMETOOLONG.  When the file has grown
 * past JOURNAL_COMPACT_SIZE the same call rewrites it without the lines
 * outside the window; that step is best effort (a failure leaves the
 * file as it was and the next add tries again) and never makes the call
 * fail.  window 0 does nothing.  Returns 0, or -1 with errno (ENOENT when
 * maildir does not exist).  Blocks on the lock and on disk I/O; no fsync.
 */
int	journal_add(const char *maildir,
	    const unsigned char key[JOURNAL_KEY_LEN], time_t now,
	    unsigned window, const char *name);

#endif
