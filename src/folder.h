/* SPDX-License-Identifier: MIT */
/*
 * folder: which Maildir++ folder a +detail copy goes to, and making that
 * folder the way Dovecot and Courier expect it (".name" in IMAP modified
 * UTF-7, cur/ new/ tmp/, maildirfolder, a line in "subscriptions").  A
 * detail that cannot be a folder is never an error: the copy goes to the
 * INBOX.  No delivery here: maildir.c writes the message.
 */
#ifndef LMTPD_FOLDER_H
#define LMTPD_FOLDER_H

#include <stddef.h>

#define FOLDER_NAME_MAX	255	/* octets of ".name": the usual NAME_MAX */

enum folder_policy {
	FOLDER_EXISTING,	/* a folder that exists, else the INBOX */
	FOLDER_CREATE,		/* as EXISTING, else create it (rules) */
	FOLDER_INBOX,		/* details are ignored */
};

struct folder_rules {
	enum folder_policy	 policy;
	/* fnmatch(3) glob the detail must match for CREATE; "" or NULL = any */
	const char		*pattern;
	/* CREATE only while the Maildir has fewer folders; 0 = no cap */
	unsigned		 max_folders;
};

enum folder_result {
	FOLDER_USED_INBOX,
	FOLDER_USED_EXISTING,
	FOLDER_USED_CREATED,
};

/*
 * Writes ".<detail in IMAP modified UTF-7>" (RFC 3501 §5.1.3) into out
 * (cap bytes, NUL-terminated), case unchanged: "lists.debian" gives
 * ".lists.debian", a Maildir++ subfolder.  Returns 0, or -1 with errno
 * EINVAL when the detail cannot be a folder: empty, not UTF-8, a control
 * character (C0, DEL, C1), '/', '\\', '*' or '%' (IMAP LIST wildcards,
 * RFC 3501 §6.3.8), a leading '~' (Dovecot refuses it), a leading or
 * trailing '.', "..", or a first component that is INBOX in any case
 * (Dovecot hides ".inbox" and folds ".Inbox.x" into INBOX.x, Courier
 * names every folder INBOX.x).  ENAMETOOLONG when the name is over
 * FOLDER_NAME_MAX octets or does not fit in cap.
 */
int	folder_name(const char *detail, char *out, size_t cap);

/*
 * Chooses the directory a copy for detail goes to under rules (NULL is
 * policy INBOX), writes it into dir_out (cap bytes) and says how in
 * *result_out: maildir itself (FOLDER_USED_INBOX) when detail is NULL or
 * empty, the policy is INBOX, folder_name refuses the detail or the
 * folder path does not fit in cap; maildir/.name when that is a directory
 * (lstat: a symlink is not followed), after creating its missing cur/
 * new/ tmp/ (FOLDER_USED_EXISTING); else, for CREATE, when the detail
 * matches rules->pattern and the Maildir has fewer than max_folders
 * folders (".x" entries that are directories), a new folder with cur/
 * new/ tmp/, an empty maildirfolder file and a line in subscriptions as
 * Dovecot 2.3 writes it (FOLDER_USED_CREATED), the Maildir created first
 * if it is missing; else the INBOX.  Creating takes flock(LOCK_EX) on the
 * subscriptions file, so concurrent creators of one folder all succeed
 * and the cap holds among lmtpd processes (XXX: not against Dovecot,
 * which takes a dotlock; see folder.c).  Returns 0, or -1 with
 * errno on an I/O failure (EACCES, ENOSPC, ENOTDIR...), dir_out then
 * undefined; ENAMETOOLONG when even maildir does not fit in cap.  Blocks
 * on disk I/O and on the lock.
 */
int	folder_choose(const char *maildir, const char *detail,
	    const struct folder_rules *rules, char *dir_out, size_t cap,
	    enum folder_result *result_out);

#endif
