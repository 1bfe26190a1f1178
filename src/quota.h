/* SPDX-License-Identifier: MIT */
/*
 * quota: Maildir++ quota, the maildirsize file in the Maildir root as
 * Courier's spec describes it.  Reads the file, recalculates from new/ and
 * cur/ of the Maildir and its folders when the spec says the file is not
 * to be trusted, and appends the deltas of a delivery.  No locking, by
 * design of the spec: concurrent deliveries may overshoot a little.
 */
#ifndef LMTPD_QUOTA_H
#define LMTPD_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The largest value either limit takes: Maildir++ readers use int64. */
#define QUOTA_VALUE_MAX		((uint64_t)INT64_MAX)
/* quota_format() of any two uint64_t limits, and the NUL. */
#define QUOTA_FORMAT_MAX	44

struct quota_limit {
	uint64_t	bytes;		/* 0: no limit on the size */
	uint64_t	messages;	/* 0: no limit on the count */
};

struct quota_usage {
	int64_t		bytes;
	int64_t		messages;
};

/*
 * Parses a configured quota into out: "" or "0" (no quota), a size "N",
 * "Nk", "Nm" or "Ng" (suffix in either case, multiples of 1024), or a
 * Maildir++ definition "NS", "NC", "NS,MC" or "MC,NS".  Returns 0, or -1
 * with errno EINVAL for anything else, including a value above
 * QUOTA_VALUE_MAX; out is then untouched.
 */
int	quota_parse(const char *text, struct quota_limit *out);

/*
 * Writes the Maildir++ definition of limit into out (cap bytes):
 * "10485760S,1000C", "10485760S" or "1000C", and "0S" when neither is set
 * (which quota_parse() reads back as no quota).  quota_parse() reads the
 * result back as limit whenever both values are at most QUOTA_VALUE_MAX.
 * Returns 0, or -1 with errno ENAMETOOLONG when it does not fit (out is
 * then "" if cap > 0); QUOTA_FORMAT_MAX bytes always suffice.
 */
int	quota_format(const struct quota_limit *limit, char *out, size_t cap);

/* True when limit restricts the size, the count, or both. */
bool	quota_is_set(const struct quota_limit *limit);

/*
 * Fills out with the usage of the Maildir maildir.  Without a limit it
 * is 0 and the disk is not touched.  Otherwise maildirsize is summed; it
 * is recalculated from new/ and cur/ of the Maildir and of its Maildir++
 * folders (".Trash" aside, as Courier does) and replaced through tmp/
 * when it is missing, unreadable as Maildir++, at least 5120 bytes long,
 * or defines another limit, or when it shows the Maildir full (at or
 * above a limit: no message fits) and holds more than one line of counts
 * or was modified 15 minutes or more before now.  A Maildir that does
 * not exist has usage 0 and is not created.  Returns 0, or -1 with errno
 * set (EACCES, EIO, ...: the caller defers).  Blocks on disk I/O; a
 * recalculation reads every directory of the Maildir.
 */
int	quota_get(const char *maildir, const struct quota_limit *limit,
	    time_t now, struct quota_usage *out);

/*
 * True when a limit is set and usage plus add would be strictly above it,
 * on either axis.  A negative usage (stale deltas) counts as 0.  Never
 * wraps around.
 */
bool	quota_exceeded(const struct quota_limit *limit,
	    const struct quota_usage *usage, uint64_t add_bytes,
	    uint64_t add_messages);

/*
 * Appends the line "<bytes> <messages>" to maildir's maildirsize with one
 * write(), after a delivery (positive) or a removal (negative).  Does
 * nothing when no limit is set, when both deltas are 0, or when the file
 * (or the Maildir) does not exist: the next quota_get() recalculates.
 * Returns 0, or -1 with errno set.  Blocks on disk I/O.
 */
int	quota_add(const char *maildir, const struct quota_limit *limit,
	    int64_t bytes, int64_t messages);

#endif
