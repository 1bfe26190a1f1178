/* SPDX-License-Identifier: MIT */
/*
 * maildir: write one spooled message into one Maildir, durably, in the
 * order that makes a 250 true: create tmp/<unique> (O_EXCL, 0600), write
 * the header block and the body, fsync, close, rename into new/, fsync
 * new/.  Every early return removes what it created.  One function maps
 * errno values to replies.
 */
#ifndef LMTPD_MAILDIR_H
#define LMTPD_MAILDIR_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "lmtp.h"

#define MAILDIR_NAME_MAX	256

/*
 * Creates dir and its missing parents (mode 0700), and tmp/, new/, cur/
 * inside it.  Returns 0, or -1 with errno set.
 */
int	maildir_create(const char *dir);

/*
 * fsyncs the directory path, so that entries just made in it are
 * durable.  Returns 0, or -1 with errno.  Blocks on disk I/O.
 */
int	maildir_sync_dir(const char *path);

/*
 * Fills out (cap bytes) with a unique name of the Maildir spec's modern
 * form, "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>", '/' and ':' in host
 * escaped as \057 and \072; no ",S=" when size is negative.  n is a
 * per-process counter.  Returns 0, or -1 with errno ENAMETOOLONG.
 */
int	maildir_unique_name(char *out, size_t cap, long sec, long usec,
	    const char *host, off_t size);

/*
 * A copy being written in tmp/: maildir_tmp_open makes the file, the
 * caller writes it through fd, and maildir_tmp_commit delivers it (or
 * maildir_tmp_discard takes it back).  The tmp/ name has no ",S=": the
 * size is known only at the commit, which adds it to the name in new/.
 */
struct maildir_tmp {
	int	fd;			/* -1 once closed */
	bool	in_tmp;			/* tmp/<base> is ours to remove */
	char	dir[PATH_MAX];
	char	base[MAILDIR_NAME_MAX];	/* the unique name, no ",S=" */
	char	tmp_path[PATH_MAX];
};

/*
 * Creates tmp/<unique> in the Maildir dir (O_EXCL, 0600, open for reading
 * and writing), creating the Maildir if needed.  host names the file.
 * Returns 0, or -1 with errno and nothing created.
 */
int	maildir_tmp_open(struct maildir_tmp *, const char *dir,
	    const char *host);

/* Appends n octets at p to the file.  0, or -1 with errno. */
int	maildir_tmp_write(struct maildir_tmp *, const void *p, size_t n);

/*
 * Delivers the file of size octets: maildir_tmp_sync, maildir_tmp_rename,
 * maildir_sync_new.  Returns 0 with "new/<name>" in name_out (cap bytes,
 * or NULL), or -1 with errno and nothing left in tmp/ or new/; the
 * descriptor is then closed too, unless keep_open.
 */
int	maildir_tmp_commit(struct maildir_tmp *, off_t size, bool keep_open,
	    char *name_out, size_t cap);

/*
 * The steps of a commit, for a caller that makes several copies and
 * syncs each new/ once for all of them.  sync: fsync the file; 0 or -1.
 * rename: close it (unless keep_open), rename it into new/ as
 * "<base>,S=<size>" and put "new/<name>" in name_out (cap bytes); on
 * failure nothing is left in tmp/, and the descriptor is closed unless
 * keep_open.  The copy is durable only after maildir_sync_new.
 */
int	maildir_tmp_sync(struct maildir_tmp *);
int	maildir_tmp_rename(struct maildir_tmp *, off_t size, bool keep_open,
	    char *name_out, size_t cap);

/* Removes the file from tmp/ if it is there; the descriptor stays. */
void	maildir_tmp_unlink(struct maildir_tmp *);

/* Closes the file if open, and removes it from tmp/ if it is there. */
void	maildir_tmp_discard(struct maildir_tmp *);

/* fsyncs dir/new: the copies renamed or linked there are delivered. */
int	maildir_sync_new(const char *dir);

/* Removes dir/rel ("new/<name>"), keeping errno: a copy taken back. */
void	maildir_take_back(const char *dir, const char *rel);

/*
 * Delivers hdr (hdr_len bytes) followed by body_len bytes of body_fd (read
 * from offset body_off with pread or copy_file_range; its file offset is
 * not used) into the Maildir dir, creating the Maildir if needed.  host names
 * the file.  On success returns 0 and copies "new/<name>" into name_out
 * (cap bytes).  On failure returns -1 with errno set and nothing left in
 * tmp/ or new/.  Blocks on disk I/O.
 */
int	maildir_deliver(const char *dir, const char *host, const char *hdr,
	    size_t hdr_len, int body_fd, off_t body_off, off_t body_len,
	    char *name_out, size_t cap);

/*
 * Delivers the complete, synced file src into the Maildir dir once more,
 * as a hard link under a fresh unique name in new/ (creating the Maildir
 * if needed).  One write serves several recipients with the same owner.
 * The caller syncs new/ (maildir_sync_new) and takes the link back
 * (maildir_take_back) if that fails.  Returns 0 with "new/<name>" in
 * name_out (cap bytes: a name that does not fit is refused first), or -1
 * with errno (EXDEV: another file system; the caller writes a copy
 * instead).
 */
int	maildir_link(const char *src, const char *dir, const char *host,
	    off_t size, char *name_out, size_t cap);

/*
 * The per-recipient reply for a delivery that failed with err: ENOSPC
 * 452 4.3.1, EDQUOT 452 4.2.2 (552 5.2.2 with quota_bounce), anything
 * else 451 4.3.0.  Only the quota policy gives a 5xx: the rest may pass
 * later.
 */
void	maildir_reply_for(int err, bool quota_bounce, struct lmtp_reply *);

#endif
