/* SPDX-License-Identifier: MIT */
/*
 * folder: +detail to Maildir++ folder.  Names are checked and encoded in
 * IMAP modified UTF-7 here, in one place; creation happens under the
 * subscriptions file's flock, so the folder cap and the no-duplicate rule
 * hold among lmtpd processes.  Existing folders are used as they are,
 * their subscriptions left alone (the user may have unsubscribed).
 */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "folder.h"
#include "maildir.h"
#include "util.h"

#define FOLDER_DIR_MODE		0700
#define FOLDER_FILE_MODE	0600
#define FOLDER_SUBS_FILE	"subscriptions"
#define FOLDER_MARKER_FILE	"maildirfolder"
#define FOLDER_LOCK_TRIES	4	/* the file replaced while we waited */

/*
 * Dovecot 2.3's subscriptions file (lib-storage/list/subscription-file.c,
 * and what doveadm 2.3.19 writes): a file it creates starts with this
 * header, then one mailbox per line, its storage name in modified UTF-7
 * without the leading dot and with TAB for the hierarchy separator:
 * "lists\tdebian".  A file without the header (older Dovecot, or one it
 * found empty) has "lists.debian" lines, and Dovecot keeps that form; so
 * do we, except that an empty file is taken for a new one (subs_add).
 */
static const char	subs_v2_header[] = "V\t2\n\n";

/* RFC 3501 §5.1.3: base64 with ',' for '/'. */
static const char	mutf7_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

struct out {
	char	*p;
	size_t	 len;
	size_t	 cap;		/* bytes of p, the NUL included */
};

struct line_match {
	const char	*want;
	size_t		 len;
	size_t		 pos;		/* octets of this line matched */
	bool		 differs;	/* this line is not want */
	bool		 found;
};

static int	utf8_next(const unsigned char **, uint32_t *);
static int	name_check(const char *);
static int	put(struct out *, char);
static int	put_base64(struct out *, const uint16_t *, size_t);
static int	use_inbox(const char *, char *, size_t, enum folder_result *);
static int	count_folders(int, unsigned, unsigned *);
static int	count_folders_at(const char *, unsigned, unsigned *);
static int	subs_lock(const char *);
static bool	match_whole(const struct line_match *);
static void	match_byte(struct line_match *, char);
static int	subs_add(int, const char *);
static int	create(const char *, const char *, const struct folder_rules *,
		    const char *, enum folder_result *);

/*
 * Decodes one UTF-8 character at *p and moves *p past it.  Refuses
 * overlong forms, surrogates and anything above U+10FFFF.
 */
static int
utf8_next(const unsigned char **p, uint32_t *cp_out)
{
	const unsigned char	*s = *p;
	uint32_t		 cp, min;
	size_t			 n, i;

	if (s[0] < 0x80) {
		*cp_out = s[0];
		*p = s + 1;
		return 0;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return -1;
	for (i = 1; i < n; i++) {
		/* The NUL at the end is not a continuation byte either. */
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_out = cp;
	*p = s + n;
	return 0;
}

/* The rules of folder_name, before any encoding; EINVAL. */
static int
name_check(const char *detail)
{
	const unsigned char	*p;
	const char		*dot;
	uint32_t		 cp;
	size_t			 len, first;

	len = strlen(detail);
	if (len == 0 || detail[0] == '.' || detail[len - 1] == '.' ||
	    strstr(detail, "..") != NULL || detail[0] == '~')
		goto invalid;
	dot = strchr(detail, '.');
	first = dot == NULL ? len : (size_t)(dot - detail);
	if (first == strlen("INBOX") && strncasecmp(detail, "INBOX",
	    first) == 0)
		goto invalid;
	for (p = (const unsigned char *)detail; *p != '\0';) {
		if (utf8_next(&p, &cp) == -1)
			goto invalid;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == '/' ||
		    cp == '\\' || cp == '*' || cp == '%')
			goto invalid;
	}
	return 0;

invalid:
	errno = EINVAL;
	return -1;
}

static int
put(struct out *o, char c)
{
	if (o->len + 1 >= o->cap || o->len >= FOLDER_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	o->p[o->len++] = c;
	o->p[o->len] = '\0';
	return 0;
}

/* "&" base64(UTF-16BE) "-", RFC 3501 §5.1.3. */
static int
put_base64(struct out *o, const uint16_t *u, size_t n)
{
	uint32_t	bits = 0;
	unsigned	nbits = 0;
	size_t		i;

	if (put(o, '&') == -1)
		return -1;
	for (i = 0; i < n; i++) {
		bits = (bits << 16) | u[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			if (put(o, mutf7_alphabet[(bits >> nbits) & 0x3f]) ==
			    -1)
				return -1;
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits > 0 && put(o, mutf7_alphabet[(bits << (6 - nbits)) &
	    0x3f]) == -1)
		return -1;
	return put(o, '-');
}

int
folder_name(const char *detail, char *out, size_t cap)
{
	struct out		 o = { out, 0, cap };
	const unsigned char	*p;
	uint16_t		 u[FOLDER_NAME_MAX];
	uint32_t		 cp;
	size_t			 nu;

	if (cap > 0)
		out[0] = '\0';
	if (detail == NULL || name_check(detail) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (put(&o, '.') == -1)
		return -1;
	for (p = (const unsigned char *)detail; *p != '\0';) {
		if (*p >= 0x20 && *p <= 0x7e) {
			if (put(&o, (char)*p) == -1)
				return -1;
			if (*p == '&' && put(&o, '-') == -1)
				return -1;
			p++;
			continue;
		}
		/*
		 * A run of other characters, as UTF-16.  Each unit costs more
		 * than one octet of output, so a run too long for u[] is too
		 * long for a name anyway.
		 */
		for (nu = 0; *p >= 0x80;) {
			if (nu + 2 > FOLDER_NAME_MAX) {
				errno = ENAMETOOLONG;
				return -1;
			}
			(void)utf8_next(&p, &cp);	/* checked above */
			if (cp >= 0x10000) {
				cp -= 0x10000;
				u[nu++] = (uint16_t)(0xd800 | (cp >> 10));
				u[nu++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			} else
				u[nu++] = (uint16_t)cp;
		}
		if (put_base64(&o, u, nu) == -1)
			return -1;
	}
	return 0;
}

static int
use_inbox(const char *maildir, char *dir_out, size_t cap,
    enum folder_result *result_out)
{
	if (util_strlcpy(dir_out, maildir, cap) == -1)
		return -1;
	*result_out = FOLDER_USED_INBOX;
	return 0;
}

/*
 * Folders in the Maildir open at fd (which this closes): entries ".x"
 * that are directories, symlinks not followed.  Counting stops at limit.
 */
static int
count_folders(int fd, unsigned limit, unsigned *n_out)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	unsigned	 n = 0;
	int		 err = 0;

	d = fdopendir(fd);
	if (d == NULL) {
		err = errno;
		(void)close(fd);
		errno = err;
		return -1;
	}
	while (n < limit) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			err = errno;
			break;
		}
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1) {
				if (errno == ENOENT)
					continue;	/* gone meanwhile */
				err = errno;
				break;
			}
			if (S_ISDIR(st.st_mode))
				n++;
		} else if (de->d_type == DT_DIR)
			n++;
	}
	(void)closedir(d);
	if (err != 0) {
		errno = err;
		return -1;
	}
	*n_out = n;
	return 0;
}

/* count_folders on a path; a Maildir that does not exist has none. */
static int
count_folders_at(const char *maildir, unsigned limit, unsigned *n_out)
{
	int	fd;

	fd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		*n_out = 0;
		return 0;
	}
	if (fd == -1)
		return -1;
	return count_folders(fd, limit, n_out);
}

/*
 * Opens maildir/subscriptions, created (0600) if missing, and takes
 * flock(LOCK_EX) on it.  Returns the descriptor, or -1 with errno.
 * Dovecot rewrites the file and renames the new one into place, so a lock
 * won on a file no longer there is retried.
 * XXX: Dovecot locks with a dotlock (subscriptions.lock), not flock: a
 * line we append while it rewrites the file can be lost.  The folder and
 * its mail stay; only the subscription is gone.
 */
static int
subs_lock(const char *maildir)
{
	char		path[PATH_MAX];
	struct stat	fst, pst;
	int		fd, n, tries;

	n = snprintf(path, sizeof(path), "%s/%s", maildir, FOLDER_SUBS_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < FOLDER_LOCK_TRIES; tries++) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, FOLDER_FILE_MODE);
		if (fd == -1)
			return -1;
		while (flock(fd, LOCK_EX) == -1)
			if (errno != EINTR)
				goto fail;
		if (fstat(fd, &fst) == -1)
			goto fail;
		if (stat(path, &pst) == -1) {
			if (errno != ENOENT)
				goto fail;
		} else if (fst.st_dev == pst.st_dev &&
		    fst.st_ino == pst.st_ino)
			return fd;
		(void)close(fd);
	}
	errno = EAGAIN;
	return -1;

fail:
	return util_close_failing(fd);
}

/* The line so far is m->want. */
static bool
match_whole(const struct line_match *m)
{
	return !m->differs && m->pos == m->len;
}

/* Follows one octet of a file against the line m->want. */
static void
match_byte(struct line_match *m, char c)
{
	if (c == '\n') {
		if (match_whole(m))
			m->found = true;
		m->pos = 0;
		m->differs = false;
	} else if (m->differs)
		return;
	else if (m->pos < m->len && m->want[m->pos] == c)
		m->pos++;
	else
		m->differs = true;
}

/*
 * Appends name (a folder name without its dot) to the locked
 * subscriptions file fd, unless it is there already, in the file's own
 * form (see subs_v2_header).  A file Dovecot left without a final LF
 * gets one first, so its last line stays a line.
 */
static int
subs_add(int fd, const char *name)
{
	struct line_match	 m_v1, m_v2;
	char			 v2[FOLDER_NAME_MAX + 1], buf[4096];
	char			 line[sizeof(subs_v2_header) +
				     FOLDER_NAME_MAX + 2];
	size_t			 i;
	off_t			 off;
	ssize_t			 r;
	char			 last = '\n';
	bool			 is_v2;
	int			 n;

	if (util_strlcpy(v2, name, sizeof(v2)) == -1)
		return -1;
	for (i = 0; v2[i] != '\0'; i++)
		if (v2[i] == '.')
			v2[i] = '\t';

	do
		r = pread(fd, buf, strlen(subs_v2_header), 0);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	/*
	 * Empty is new: Dovecot 2.3 writes the header into a file it
	 * creates, and so do we.  (It keeps a file it finds empty
	 * headerless, but here an empty file may well be one another lmtpd
	 * has just created and not yet written to.)
	 */
	is_v2 = r == 0 || ((size_t)r == strlen(subs_v2_header) &&
	    memcmp(buf, subs_v2_header, (size_t)r) == 0);

	/* Dovecot reads a v2 line without TAB as the same mailbox. */
	memset(&m_v1, 0, sizeof(m_v1));
	m_v1.want = name;
	m_v1.len = strlen(name);
	memset(&m_v2, 0, sizeof(m_v2));
	m_v2.want = v2;
	m_v2.len = strlen(v2);
	for (off = is_v2 ? (off_t)r : 0;; off += r) {
		do
			r = pread(fd, buf, sizeof(buf), off);
		while (r == -1 && errno == EINTR);
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		for (i = 0; i < (size_t)r; i++) {
			match_byte(&m_v1, buf[i]);
			if (is_v2)
				match_byte(&m_v2, buf[i]);
		}
		last = buf[r - 1];
	}
	if (m_v1.found || m_v2.found)
		return 0;
	/*
	 * Dovecot drops a last line without its LF.  Ours completes it: with
	 * just the LF when it is the name, else before the name.
	 */
	if (last != '\n' && (match_whole(&m_v1) || (is_v2 &&
	    match_whole(&m_v2))))
		n = snprintf(line, sizeof(line), "\n");
	else
		n = snprintf(line, sizeof(line), "%s%s%s\n",
		    off == 0 ? subs_v2_header : "",
		    last != '\n' ? "\n" : "", is_v2 ? v2 : name);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* One write: O_APPEND puts it whole at the end. */
	if (util_write_all(fd, line, (size_t)n) == -1)
		return -1;
	return fsync(fd);
}

/*
 * Makes maildir/name (dir, already formatted) a Maildir++ folder, under
 * the subscriptions lock.  The subscription comes first: should a later
 * step fail, the retry finds the folder and uses it, and a folder without
 * a subscription would hold mail that IMAP clients do not show.  Sets
 * *result_out to what the copy should use.
 */
static int
create(const char *maildir, const char *name, const struct folder_rules *r,
    const char *dir, enum folder_result *result_out)
{
	char		marker[PATH_MAX];
	struct stat	st;
	unsigned	n_folders;
	int		fd, mfd, n;

	if (maildir_create(maildir) == -1)
		return -1;
	fd = subs_lock(maildir);
	if (fd == -1)
		return -1;
	*result_out = FOLDER_USED_INBOX;
	/* Again under the lock, so that the cap holds among creators. */
	if (r->max_folders > 0) {
		if (count_folders_at(maildir, r->max_folders, &n_folders) ==
		    -1)
			goto fail;
		if (n_folders >= r->max_folders)
			goto done;
	}
	/* A concurrent creator holds the lock until its folder is whole. */
	if (lstat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			*result_out = FOLDER_USED_EXISTING;
		goto done;
	}
	if (errno != ENOENT)
		goto fail;
	if (subs_add(fd, name + 1) == -1)
		goto fail;
	*result_out = FOLDER_USED_CREATED;
	if (mkdir(dir, FOLDER_DIR_MODE) == -1) {
		if (errno != EEXIST)
			goto fail;
		/* Made meanwhile by something that does not lock (Dovecot). */
		if (lstat(dir, &st) == -1)
			goto fail;
		*result_out = S_ISDIR(st.st_mode) ? FOLDER_USED_EXISTING :
		    FOLDER_USED_INBOX;
		goto done;
	}
	if (maildir_create(dir) == -1)
		goto fail;
	/* Courier's mark of a folder (maildrop's quota looks for it). */
	n = snprintf(marker, sizeof(marker), "%s/%s", dir, FOLDER_MARKER_FILE);
	if (n < 0 || (size_t)n >= sizeof(marker)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	mfd = open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    FOLDER_FILE_MODE);
	if (mfd == -1 || close(mfd) == -1)
		goto fail;
	/* maildir_deliver syncs new/ only: make the folder durable too. */
	if (maildir_sync_dir(dir) == -1 || maildir_sync_dir(maildir) == -1)
		goto fail;

done:
	if (close(fd) == -1)
		return -1;
	if (*result_out == FOLDER_USED_EXISTING)
		return maildir_create(dir);
	return 0;

fail:
	return util_close_failing(fd);
}

int
folder_choose(const char *maildir, const char *detail,
    const struct folder_rules *rules, char *dir_out, size_t cap,
    enum folder_result *result_out)
{
	char		name[FOLDER_NAME_MAX + 1];
	struct stat	st;
	unsigned	n_folders;
	int		n;

	assert(maildir != NULL && dir_out != NULL && result_out != NULL);
	if (rules == NULL || rules->policy == FOLDER_INBOX || detail == NULL ||
	    folder_name(detail, name, sizeof(name)) == -1)
		return use_inbox(maildir, dir_out, cap, result_out);
	n = snprintf(dir_out, cap, "%s/%s", maildir, name);
	if (n < 0 || (size_t)n >= cap)
		return use_inbox(maildir, dir_out, cap, result_out);

	if (lstat(dir_out, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return use_inbox(maildir, dir_out, cap, result_out);
		/* IMAP servers may leave out cur/ new/ tmp/ until used. */
		if (maildir_create(dir_out) == -1)
			return -1;
		*result_out = FOLDER_USED_EXISTING;
		return 0;
	}
	if (errno != ENOENT)
		return -1;

	if (rules->policy != FOLDER_CREATE)
		return use_inbox(maildir, dir_out, cap, result_out);
	if (rules->pattern != NULL && rules->pattern[0] != '\0' &&
	    fnmatch(rules->pattern, detail, 0) != 0)
		return use_inbox(maildir, dir_out, cap, result_out);
	/* A first look without the lock keeps a full Maildir cheap. */
	if (rules->max_folders > 0) {
		if (count_folders_at(maildir, rules->max_folders,
		    &n_folders) == -1)
			return -1;
		if (n_folders >= rules->max_folders)
			return use_inbox(maildir, dir_out, cap, result_out);
	}
	if (create(maildir, name, rules, dir_out, result_out) == -1)
		return -1;
	if (*result_out == FOLDER_USED_INBOX)
		return use_inbox(maildir, dir_out, cap, result_out);
	return 0;
}
