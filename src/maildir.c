/* SPDX-License-Identifier: MIT */
/*
 * maildir: one durable delivery into one Maildir, in qmail's order: create
 * tmp/<unique> (O_EXCL, 0600), write, fsync, close, rename into new/, fsync
 * new/.  Only then is the copy delivered.  Every failure removes what this
 * delivery created and keeps the errno of the step that failed.  No quota,
 * no Maildir++ folders: the caller picks the directory.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "maildir.h"
#include "util.h"

#define MAILDIR_DIR_MODE	0700
#define MAILDIR_FILE_MODE	0600
#define MAILDIR_OPEN_TRIES	4	/* EEXIST on a fresh unique name */
/* off_t is signed and has no standard maximum. */
#define MAILDIR_OFF_MAX		\
	((off_t)(((uintmax_t)1 << (sizeof(off_t) * CHAR_BIT - 1)) - 1))

/*
 * Test seam for fault injection, deliberately not in maildir.h: only the
 * unit tests declare it.  When set, it is called at each step of a
 * delivery with the step's name ("open", "write", "fsync", "close",
 * "rename", "dirsync", and "append" for maildir_tmp_write); a non-zero
 * return is an errno value, and the step then fails with it.  "write" fires once the header is in tmp/ (a partial
 * file), "close" after the real close.  In the daemon it stays NULL.
 */
extern int	(*maildir_fault_hook)(const char *step);
int		(*maildir_fault_hook)(const char *step);

/*
 * tmp/ last: a concurrent delivery that can open a file in tmp/ must find
 * new/ there for its rename.
 */
static const char *const maildir_subdirs[] = { "cur", "new", "tmp" };

static int	fault(const char *);
static int	path_join(char *, size_t, const char *, const char *,
		    const char *);
static int	check_dir(const char *);
static int	mkdir_one(const char *);
static int	mkdir_parents(char *);
static int	fresh_name(const char *, const char *, off_t, size_t,
		    char[MAILDIR_NAME_MAX], char[PATH_MAX]);
static int	settle(const char *, const char *, char *, size_t);

static int
fault(const char *step)
{
	int	err;

	if (maildir_fault_hook == NULL)
		return 0;
	err = maildir_fault_hook(step);
	if (err == 0)
		return 0;
	errno = err;
	return -1;
}

/* dir "/" sub, and "/" name when name is not NULL; ENAMETOOLONG. */
static int
path_join(char *out, size_t cap, const char *dir, const char *sub,
    const char *name)
{
	int	n;

	if (name == NULL)
		n = snprintf(out, cap, "%s/%s", dir, sub);
	else
		n = snprintf(out, cap, "%s/%s/%s", dir, sub, name);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* 0 when path is a directory (symlinks followed), else -1. */
static int
check_dir(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * mkdir that takes an existing directory as success.  A directory made
 * here is synced into its parent: a copy in new/ is only as durable as
 * the entries that lead to it.
 */
static int
mkdir_one(const char *path)
{
	char	parent[PATH_MAX];
	char	*slash;
	int	 saved;

	if (mkdir(path, MAILDIR_DIR_MODE) == -1) {
		if (errno != EEXIST)
			return -1;
		return check_dir(path);
	}
	if (util_strlcpy(parent, path, sizeof(parent)) == -1)
		return -1;
	slash = strrchr(parent, '/');
	if (slash == NULL)
		return 0;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (maildir_sync_dir(parent) == -1) {
		/*
		 * Take it back, or the next delivery finds it (EEXIST) and
		 * never syncs its entry.  Not empty: another delivery is
		 * using it, and its sync of this one's child is all we get.
		 */
		saved = errno;
		(void)rmdir(path);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * mkdir -p, from the leaf upwards: an existing tree costs one mkdir, and
 * parents we could not create (or read) are never touched.  path is
 * modified while we work and restored before returning.
 */
static int
mkdir_parents(char *path)
{
	char	*slash;
	int	 rc;

	if (mkdir_one(path) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		return -1;	/* ENOENT with no parent to make */
	*slash = '\0';
	rc = mkdir_parents(path);
	*slash = '/';
	if (rc == -1)
		return -1;
	return mkdir_one(path);
}

int
maildir_create(const char *dir)
{
	char	path[PATH_MAX];
	size_t	i, len;
	bool	complete = true;

	/* The common case: it is all there already, three stats. */
	for (i = 0; i < sizeof(maildir_subdirs) / sizeof(maildir_subdirs[0]);
	    i++) {
		if (path_join(path, sizeof(path), dir, maildir_subdirs[i],
		    NULL) == -1)
			return -1;
		if (check_dir(path) == 0)
			continue;
		if (errno != ENOENT)
			return -1;
		complete = false;
		break;
	}
	if (complete)
		return 0;

	if (util_strlcpy(path, dir, sizeof(path)) == -1)
		return -1;
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (mkdir_parents(path) == -1)
		return -1;
	for (i = 0; i < sizeof(maildir_subdirs) / sizeof(maildir_subdirs[0]);
	    i++) {
		if (path_join(path, sizeof(path), dir, maildir_subdirs[i],
		    NULL) == -1)
			return -1;
		if (mkdir_one(path) == -1)
			return -1;
	}
	return 0;
}

int
maildir_unique_name(char *out, size_t cap, long sec, long usec,
    const char *host, off_t size)
{
	static unsigned long	 counter;
	const char		*h;
	size_t			 len;
	int			 n;

	assert(host != NULL);
	counter++;
	n = snprintf(out, cap, "%ld.M%ldP%ldQ%lu.", sec, usec,
	    (long)util_getpid(), counter);
	if (n < 0 || (size_t)n >= cap)
		goto toolong;
	len = (size_t)n;
	/* DJB: "replace / with \057 and : with \072". */
	for (h = host; *h != '\0'; h++) {
		if (*h == '/' || *h == ':') {
			if (cap - len <= 4)
				goto toolong;
			memcpy(out + len, *h == '/' ? "\\057" : "\\072", 4);
			len += 4;
		} else {
			if (cap - len <= 1)
				goto toolong;
			out[len++] = *h;
		}
	}
	/* Maildir++: ",S=<size>" is the size of the file. */
	if (size < 0) {
		out[len] = '\0';
		return 0;
	}
	n = snprintf(out + len, cap - len, ",S=%lld", (long long)size);
	if (n < 0 || (size_t)n >= cap - len)
		goto toolong;
	return 0;

toolong:
	if (cap > 0)
		out[0] = '\0';
	errno = ENAMETOOLONG;
	return -1;
}

/* The "dirsync" step of the fault hook, for every caller. */
int
maildir_sync_dir(const char *path)
{
	int	fd, saved;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fault("dirsync") == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/*
 * A fresh unique name for a file of size octets, and its path in new/.
 * out_cap, when not 0, is the caller's room for "new/<name>": refused
 * before anything is written, since a 250 must name the file.
 */
static int
fresh_name(const char *dir, const char *host, off_t size, size_t out_cap,
    char name[MAILDIR_NAME_MAX], char new_path[PATH_MAX])
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	if (maildir_unique_name(name, MAILDIR_NAME_MAX, (long)ts.tv_sec,
	    ts.tv_nsec / 1000, host, size) == -1)
		return -1;
	if (out_cap != 0 && strlen("new/") + strlen(name) >= out_cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return path_join(new_path, PATH_MAX, dir, "new", name);
}

/*
 * The copy dir/rel ("new/<name>") is visible but not durable until new/
 * is synced.  If that fails take it back, so that the client's retry is
 * the only copy.  XXX: if the unlink fails too, the retry makes a
 * duplicate, which beats a loss.
 */
static int
settle(const char *dir, const char *rel, char *name_out, size_t cap)
{
	if (maildir_sync_new(dir) == -1) {
		maildir_take_back(dir, rel);
		return -1;
	}
	if (name_out != NULL)
		(void)snprintf(name_out, cap, "%s", rel);
	return 0;
}

int
maildir_tmp_open(struct maildir_tmp *t, const char *dir, const char *host)
{
	struct timespec	ts;
	int		tries = 0;
	bool		created = false;

	t->fd = -1;
	t->in_tmp = false;
	if (util_strlcpy(t->dir, dir, sizeof(t->dir)) == -1)
		return -1;
	for (;;) {
		if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
		    maildir_unique_name(t->base, sizeof(t->base),
		    (long)ts.tv_sec, ts.tv_nsec / 1000, host, -1) == -1 ||
		    path_join(t->tmp_path, sizeof(t->tmp_path), dir, "tmp",
		    t->base) == -1)
			return -1;
		if (fault("open") == 0)
			t->fd = open(t->tmp_path, O_RDWR | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, MAILDIR_FILE_MODE);
		if (t->fd != -1) {
			t->in_tmp = true;
			return 0;
		}
		/* Creating the Maildir only here keeps deliveries cheap. */
		if (errno == ENOENT && !created) {
			if (maildir_create(dir) == -1)
				return -1;
			created = true;
			continue;
		}
		/* The name was taken after all: take a fresh one. */
		if (errno == EEXIST && ++tries < MAILDIR_OPEN_TRIES)
			continue;
		return -1;
	}
}

int
maildir_tmp_write(struct maildir_tmp *t, const void *p, size_t n)
{
	if (fault("append") == -1)
		return -1;
	return util_write_all(t->fd, p, n);
}

void
maildir_tmp_unlink(struct maildir_tmp *t)
{
	int	saved = errno;

	if (t->in_tmp)
		(void)unlink(t->tmp_path);
	t->in_tmp = false;
	errno = saved;
}

void
maildir_tmp_discard(struct maildir_tmp *t)
{
	int	saved = errno;

	if (t->fd != -1)
		(void)close(t->fd);
	t->fd = -1;
	errno = saved;
	maildir_tmp_unlink(t);
}

int
maildir_tmp_sync(struct maildir_tmp *t)
{
	/* QMD: check every write, the fsync and the close. */
	if (fault("fsync") == -1 || fsync(t->fd) == -1)
		return -1;
	return 0;
}

int
maildir_tmp_rename(struct maildir_tmp *t, off_t size, bool keep_open,
    char *name_out, size_t cap)
{
	char	name[MAILDIR_NAME_MAX + 32];
	char	new_path[PATH_MAX];
	int	n;

	n = snprintf(name, sizeof(name), "%s,S=%lld", t->base,
	    (long long)size);
	if (n < 0 || (size_t)n >= MAILDIR_NAME_MAX ||
	    strlen("new/") + (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (path_join(new_path, sizeof(new_path), t->dir, "new", name) == -1)
		goto fail;
	if (!keep_open) {
		/* The descriptor is gone even when close fails: no retry. */
		n = close(t->fd);
		t->fd = -1;
		if (n == -1 || fault("close") == -1)
			goto fail;
	}
	if (fault("rename") == -1)
		goto fail;
	/*
	 * ENOENT: new/ is missing from a half-made Maildir (or another
	 * delivery is making it right now): complete it and try once more.
	 */
	if (rename(t->tmp_path, new_path) == -1 && (errno != ENOENT ||
	    maildir_create(t->dir) == -1 ||
	    rename(t->tmp_path, new_path) == -1))
		goto fail;
	t->in_tmp = false;
	(void)snprintf(name_out, cap, "new/%s", name);
	return 0;

fail:
	if (keep_open)
		maildir_tmp_unlink(t);
	else
		maildir_tmp_discard(t);
	return -1;
}

int
maildir_sync_new(const char *dir)
{
	char	new_dir[PATH_MAX];

	if (path_join(new_dir, sizeof(new_dir), dir, "new", NULL) == -1)
		return -1;
	return maildir_sync_dir(new_dir);
}

void
maildir_take_back(const char *dir, const char *name)
{
	char	path[PATH_MAX];
	int	saved = errno;

	if (path_join(path, sizeof(path), dir, name, NULL) == 0)
		(void)unlink(path);
	errno = saved;
}

int
maildir_tmp_commit(struct maildir_tmp *t, off_t size, bool keep_open,
    char *name_out, size_t cap)
{
	char	name[MAILDIR_NAME_MAX + 8];
	int	n;

	/* A 250 must name the file: a name that does not fit stops here. */
	n = snprintf(NULL, 0, "new/%s,S=%lld", t->base, (long long)size);
	if (name_out != NULL && (n < 0 || (size_t)n >= cap))
		errno = ENAMETOOLONG;
	else if (maildir_tmp_sync(t) == 0) {
		if (maildir_tmp_rename(t, size, keep_open, name,
		    sizeof(name)) == -1)
			return -1;
		return settle(t->dir, name, name_out, cap);
	}
	if (keep_open)
		maildir_tmp_unlink(t);
	else
		maildir_tmp_discard(t);
	return -1;
}

int
maildir_deliver(const char *dir, const char *host, const char *hdr,
    size_t hdr_len, int body_fd, off_t body_off, off_t body_len,
    char *name_out, size_t cap)
{
	struct maildir_tmp	t;
	off_t			off = body_off;

	if (body_len < 0 || body_off < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((uintmax_t)hdr_len > (uintmax_t)(MAILDIR_OFF_MAX - body_len)) {
		errno = EFBIG;
		return -1;
	}
	if (maildir_tmp_open(&t, dir, host) == -1)
		return -1;
	if (util_write_all(t.fd, hdr, hdr_len) == -1 || fault("write") == -1 ||
	    compat_copy_range(body_fd, &off, t.fd, body_len) == -1) {
		maildir_tmp_discard(&t);
		return -1;
	}
	return maildir_tmp_commit(&t, (off_t)hdr_len + body_len, false,
	    name_out, cap);
}

int
maildir_link(const char *src, const char *dir, const char *host, off_t size,
    char *name_out, size_t cap)
{
	char		 name[MAILDIR_NAME_MAX];
	char		 new_path[PATH_MAX];
	int		 tries = 0;
	bool		 created = false;

	for (;;) {
		if (fresh_name(dir, host, size, cap, name, new_path) == -1)
			return -1;
		/* The source is complete and synced: the link delivers it. */
		if (fault("link") == 0 && link(src, new_path) == 0)
			break;
		if (errno == ENOENT && !created) {
			if (maildir_create(dir) == -1)
				return -1;
			created = true;
			continue;
		}
		if (errno == EEXIST && ++tries < MAILDIR_OPEN_TRIES)
			continue;
		return -1;
	}
	(void)snprintf(name_out, cap, "new/%s", name);
	return 0;
}

/* STYLE §4: the one place delivery errors become replies. */
static const struct {
	int		 err;		/* 0 ends the table: the default */
	unsigned	 code;
	const char	*esc;
	const char	*text;
} maildir_replies[] = {
	{ ENOSPC, 452, "4.3.1", "mail system full" },	/* RFC 3463 X.3.1 */
	{ EDQUOT, 452, "4.2.2", "mailbox full" },	/* RFC 3463 X.2.2 */
	{ 0,      451, "4.3.0", "temporary local problem" },
};

void
maildir_reply_for(int err, bool quota_bounce, struct lmtp_reply *reply)
{
	size_t	i;

	/* RFC 3463 X.2.2 is the user's to fix: a bounce only by policy. */
	if (err == EDQUOT && quota_bounce) {
		reply->code = 552;
		(void)util_strlcpy(reply->esc, "5.2.2", sizeof(reply->esc));
		(void)util_strlcpy(reply->text, "mailbox full",
		    sizeof(reply->text));
		return;
	}
	for (i = 0; maildir_replies[i].err != 0; i++)
		if (maildir_replies[i].err == err)
			break;
	reply->code = maildir_replies[i].code;
	(void)util_strlcpy(reply->esc, maildir_replies[i].esc,
	    sizeof(reply->esc));
	(void)util_strlcpy(reply->text, maildir_replies[i].text,
	    sizeof(reply->text));
}
