/* SPDX-License-Identifier: MIT */
/*
 * quota: Maildir++ quota after Courier's README.maildirquota.  maildirsize
 * caches the Maildir's size: the definition, then "<bytes> <count>" lines
 * to be summed.  It is trusted unless the spec's rules say otherwise; then
 * it is rebuilt from the ",S=" names and replaced with a rename.  No locks
 * anywhere, by design of the spec (see quota_add()).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "quota.h"
#include "util.h"

#define QUOTA_FILE		"maildirsize"
#define QUOTA_FILE_MAX		5120		/* MDPP: rebuild at this size */
#define QUOTA_STALE_SECS	(15 * 60)	/* MDPP: when full, distrust */
#define QUOTA_TRASH		".Trash"	/* Courier does not count it */
#define QUOTA_FILE_MODE		0600
#define QUOTA_OPEN_TRIES	4		/* EEXIST on fresh tmp/ names */

enum quota_state {
	QUOTA_TRUSTED,		/* the sum of the file is the usage */
	QUOTA_RECALC,		/* rebuild the file from the directories */
	QUOTA_NO_MAILDIR	/* usage 0, and nothing to write */
};

static int	path_join(char *, size_t, const char *, const char *);
static int	parse_uint(const char **, uint64_t *);
static int	parse_int(const char **, int64_t *);
static int	size_shift(char);
static int	parse_definition(const char *, struct quota_limit *);
static bool	add_checked(int64_t *, int64_t);
static void	add_saturated(int64_t *, int64_t);
static bool	axis_over(uint64_t, int64_t, uint64_t);
static bool	quota_full(const struct quota_limit *,
		    const struct quota_usage *);
static bool	sum_lines(char *, char *, struct quota_usage *, size_t *);
static int	read_file(const char *, const struct quota_limit *, time_t,
		    struct quota_usage *, enum quota_state *);
static bool	name_size(const char *, int64_t *);
static int	scan_dir(int, const char *, struct quota_usage *);
static int	scan_maildir(const char *, struct quota_usage *);
static int	write_file(const char *, const struct quota_limit *, time_t,
		    const struct quota_usage *);

/* dir "/" name; ENAMETOOLONG. */
static int
path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int	n;

	n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Decimal digits at *p, at least one, up to QUOTA_VALUE_MAX; advances *p
 * past them.  No sign, no blanks: strtoull would take both.  EINVAL.
 */
static int
parse_uint(const char **p, uint64_t *out)
{
	const char	*s = *p;
	uint64_t	 v = 0;
	unsigned	 d;

	if (*s < '0' || *s > '9') {
		errno = EINVAL;
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (unsigned)(*s - '0');
		if (v > (QUOTA_VALUE_MAX - d) / 10) {
			errno = EINVAL;
			return -1;
		}
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

/* An optional '-' and parse_uint(): -INT64_MAX to INT64_MAX.  EINVAL. */
static int
parse_int(const char **p, int64_t *out)
{
	const char	*s = *p;
	uint64_t	 v;
	bool		 neg = false;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (parse_uint(&s, &v) == -1)
		return -1;
	*p = s;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* The power of two of a size suffix, 0 for none; -1 when c is none. */
static int
size_shift(char c)
{
	switch (c) {
	case '\0':
		return 0;
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	default:
		return -1;
	}
}

/* MDPP: "NS", "NC", "NS,MC" or "MC,NS", nothing more.  EINVAL. */
static int
parse_definition(const char *s, struct quota_limit *out)
{
	struct quota_limit	 l = { 0, 0 };
	const char		*p = s;
	uint64_t		 v;
	bool			 have_s = false, have_c = false;

	for (;;) {
		if (parse_uint(&p, &v) == -1)
			return -1;
		if (*p == 'S' && !have_s) {
			l.bytes = v;
			have_s = true;
		} else if (*p == 'C' && !have_c) {
			l.messages = v;
			have_c = true;
		} else {
			errno = EINVAL;
			return -1;
		}
		p++;
		if (*p == '\0')
			break;
		if (*p != ',') {
			errno = EINVAL;
			return -1;
		}
		p++;
	}
	*out = l;
	return 0;
}

int
quota_parse(const char *text, struct quota_limit *out)
{
	const char	*p = text;
	uint64_t	 v;
	int		 shift;

	if (*text == '\0') {
		out->bytes = 0;
		out->messages = 0;
		return 0;
	}
	/* A plain size: digits and at most one suffix letter. */
	if (parse_uint(&p, &v) == 0 && (*p == '\0' || p[1] == '\0')) {
		shift = size_shift(*p);
		if (shift != -1) {
			if (v > (QUOTA_VALUE_MAX >> shift)) {
				errno = EINVAL;
				return -1;
			}
			out->bytes = v << shift;
			out->messages = 0;
			return 0;
		}
	}
	return parse_definition(text, out);
}

int
quota_format(const struct quota_limit *limit, char *out, size_t cap)
{
	int	n;

	if (limit->bytes != 0 && limit->messages != 0)
		n = snprintf(out, cap, "%" PRIu64 "S,%" PRIu64 "C",
		    limit->bytes, limit->messages);
	else if (limit->messages != 0)
		n = snprintf(out, cap, "%" PRIu64 "C", limit->messages);
	else
		n = snprintf(out, cap, "%" PRIu64 "S", limit->bytes);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

bool
quota_is_set(const struct quota_limit *limit)
{
	return limit->bytes != 0 || limit->messages != 0;
}

/* *sum += v; false (and *sum unchanged) when that would overflow. */
static bool
add_checked(int64_t *sum, int64_t v)
{
	if ((v > 0 && *sum > INT64_MAX - v) ||
	    (v < 0 && *sum < INT64_MIN - v))
		return false;
	*sum += v;
	return true;
}

/* For sizes and counts from the directories, never negative. */
static void
add_saturated(int64_t *sum, int64_t v)
{
	if (!add_checked(sum, v))
		*sum = INT64_MAX;
}

/* used + add > limit, computed without overflow; limit 0 is no limit. */
static bool
axis_over(uint64_t limit, int64_t used, uint64_t add)
{
	uint64_t	u;

	if (limit == 0)
		return false;
	u = used < 0 ? 0 : (uint64_t)used;
	if (u > limit)
		return true;
	return add > limit - u;
}

bool
quota_exceeded(const struct quota_limit *limit,
    const struct quota_usage *usage, uint64_t add_bytes,
    uint64_t add_messages)
{
	return axis_over(limit->bytes, usage->bytes, add_bytes) ||
	    axis_over(limit->messages, usage->messages, add_messages);
}

/*
 * At or above a limit: no further message fits.  The spec's "over quota"
 * test is made per delivery; this is its answer for any size.
 */
static bool
quota_full(const struct quota_limit *limit, const struct quota_usage *usage)
{
	return axis_over(limit->bytes, usage->bytes, 1) ||
	    axis_over(limit->messages, usage->messages, 1);
}

/*
 * Sums the "<bytes> <count>" lines in p..end into *u and counts them in
 * *n_lines.  Blanks around the numbers are allowed (Courier pads lines to
 * 14 bytes).  A last line without its newline is an append still in
 * flight, and is left out.  False when a line is malformed or a sum
 * overflows: the file is then rebuilt.  Modifies the buffer.
 */
static bool
sum_lines(char *p, char *end, struct quota_usage *u, size_t *n_lines)
{
	const char	*s;
	char		*nl;
	int64_t		 bytes, count;

	*n_lines = 0;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		*nl = '\0';
		s = p + strspn(p, " \t");
		if (parse_int(&s, &bytes) == -1)
			return false;
		if (*s != ' ' && *s != '\t')
			return false;
		s += strspn(s, " \t");
		if (parse_int(&s, &count) == -1)
			return false;
		s += strspn(s, " \t\r");
		if (*s != '\0')
			return false;
		if (!add_checked(&u->bytes, bytes) ||
		    !add_checked(&u->messages, count))
			return false;
		(*n_lines)++;
	}
	return true;
}

/*
 * Reads maildirsize and decides, by the spec's rules, whether its sum is
 * the usage (into *u) or it must be rebuilt.  -1 only for real errors.
 */
static int
read_file(const char *maildir, const struct quota_limit *limit, time_t now,
    struct quota_usage *u, enum quota_state *state)
{
	char			 path[PATH_MAX], buf[QUOTA_FILE_MAX + 1];
	char			*nl, *e;
	struct quota_limit	 def;
	struct stat		 st;
	size_t			 len = 0, n_lines;
	ssize_t			 n;
	int			 fd;

	*state = QUOTA_RECALC;
	if (path_join(path, sizeof(path), maildir, QUOTA_FILE) == -1)
		return -1;
	/* O_NONBLOCK: a FIFO in its place must not hang the delivery. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		/* A symlink: the rebuild renames a file over it. */
		if (errno == ELOOP)
			return 0;
		if (errno != ENOENT)
			return -1;
		if (stat(maildir, &st) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		*state = QUOTA_NO_MAILDIR;
		return 0;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size >= QUOTA_FILE_MAX) {
		(void)close(fd);
		return 0;
	}
	while (len < QUOTA_FILE_MAX) {
		n = read(fd, buf + len, QUOTA_FILE_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	/* It grew past the limit while we read: appends went on. */
	if (len >= QUOTA_FILE_MAX)
		return 0;
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL)
		return 0;

	nl = memchr(buf, '\n', len);
	if (nl == NULL)
		return 0;
	*nl = '\0';
	for (e = nl; e > buf && (e[-1] == ' ' || e[-1] == '\t' ||
	    e[-1] == '\r'); e--)
		e[-1] = '\0';
	/* The admin changed the quota: the definition must follow. */
	if (parse_definition(buf, &def) == -1 || def.bytes != limit->bytes ||
	    def.messages != limit->messages)
		return 0;
	/* A definition alone (maildirmake -q) asks for a first count. */
	if (!sum_lines(nl + 1, buf + len, u, &n_lines) || n_lines == 0)
		return 0;
	if (u->bytes < 0 || u->messages < 0)
		return 0;
	/*
	 * MDPP: when full, distrust a file with more than the one line of a
	 * recalculation, or one 15 minutes old: mail may have gone without
	 * the deleting client writing its negative line.
	 */
	if (quota_full(limit, u) && (n_lines > 1 ||
	    now - st.st_mtime >= QUOTA_STALE_SECS))
		return 0;
	*state = QUOTA_TRUSTED;
	return 0;

fail:
	return util_close_failing(fd);
}

/*
 * MDPP: the size from ",S=<n>" in the base name (before ":2,"), taken
 * only when n is well formed and ends at ',' ':' or the end.
 */
static bool
name_size(const char *name, int64_t *out)
{
	const char	*p, *q, *end;
	uint64_t	 v;

	end = strchr(name, ':');
	if (end == NULL)
		end = name + strlen(name);
	for (p = strstr(name, ",S="); p != NULL && p < end;
	    p = strstr(p + 1, ",S=")) {
		q = p + 3;
		if (parse_uint(&q, &v) == 0 && (*q == ',' || *q == ':' ||
		    *q == '\0')) {
			*out = (int64_t)v;
			return true;
		}
	}
	return false;
}

/*
 * Adds the messages in sub (new/ or cur/) of the directory parent to *u.
 * A missing sub, or one that is not a directory, counts nothing: folders
 * come and go while IMAP clients work.  Symlinks are not followed.
 */
static int
scan_dir(int parent, const char *sub, struct quota_usage *u)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	int64_t		 size;
	int		 fd, saved;

	fd = openat(parent, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 0;
		return -1;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		/* QMD: readers skip names starting with a dot. */
		if (de->d_name[0] == '.')
			continue;
		if (!name_size(de->d_name, &size)) {
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1) {
				/* Expunged while we looked: not there. */
				if (errno == ENOENT)
					continue;
				goto fail;
			}
			if (!S_ISREG(st.st_mode))
				continue;
			size = (int64_t)st.st_size;
		}
		add_saturated(&u->bytes, size);
		add_saturated(&u->messages, 1);
	}
	return closedir(d);

fail:
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return -1;
}

/*
 * Counts new/ and cur/ of the Maildir and of each Maildir++ folder (a
 * subdirectory named ".<name>"), but not of ".Trash".  A Maildir that
 * vanished counts 0.
 */
static int
scan_maildir(const char *maildir, struct quota_usage *u)
{
	static const char *const	 subs[] = { "new", "cur" };
	DIR				*d;
	struct dirent			*de;
	size_t				 i;
	int				 fd, sub, saved;

	fd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	d = fdopendir(fd);
	if (d == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (scan_dir(dirfd(d), subs[i], u) == -1)
			goto fail;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, QUOTA_TRASH) == 0)
			continue;
		/* Dot files (not folders) fail here and are skipped. */
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1) {
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				continue;
			goto fail;
		}
		for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			if (scan_dir(sub, subs[i], u) == -1) {
				saved = errno;
				(void)close(sub);
				errno = saved;
				goto fail;
			}
		}
		(void)close(sub);
	}
	return closedir(d);

fail:
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return -1;
}

/*
 * Replaces maildirsize with the definition and one line of usage: written
 * in tmp/, then renamed, so that readers see the old file or the new one.
 * No fsync: a file lost or emptied by a crash is only rebuilt again.
 * XXX: a delivery landing during the scan may be counted twice or not at
 * all until the next rebuild; the spec accepts this drift.
 */
static int
write_file(const char *maildir, const struct quota_limit *limit, time_t now,
    const struct quota_usage *u)
{
	static unsigned long	counter;
	char			def[QUOTA_FORMAT_MAX];
	char			text[QUOTA_FORMAT_MAX + 48];
	char			tmp[PATH_MAX], path[PATH_MAX];
	int			fd, n, tries, saved;

	if (quota_format(limit, def, sizeof(def)) == -1)
		return -1;
	n = snprintf(text, sizeof(text), "%s\n%" PRId64 " %" PRId64 "\n", def,
	    u->bytes, u->messages);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (path_join(path, sizeof(path), maildir, QUOTA_FILE) == -1)
		return -1;
	for (tries = 0;;) {
		counter++;
		n = snprintf(tmp, sizeof(tmp), "%s/tmp/%lld.P%ldQ%lu.%s",
		    maildir, (long long)now, (long)getpid(), counter,
		    QUOTA_FILE);
		if (n < 0 || (size_t)n >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, QUOTA_FILE_MODE);
		if (fd != -1)
			break;
		if (errno == EEXIST && ++tries < QUOTA_OPEN_TRIES)
			continue;
		return -1;
	}
	if (util_write_all(fd, text, strlen(text)) == -1) {
		saved = errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	return 0;

fail:
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

int
quota_get(const char *maildir, const struct quota_limit *limit, time_t now,
    struct quota_usage *out)
{
	struct quota_usage	u = { 0, 0 };
	enum quota_state	state;

	out->bytes = 0;
	out->messages = 0;
	if (!quota_is_set(limit))
		return 0;
	if (read_file(maildir, limit, now, &u, &state) == -1)
		return -1;
	if (state == QUOTA_NO_MAILDIR)
		return 0;
	if (state == QUOTA_RECALC) {
		u.bytes = 0;
		u.messages = 0;
		if (scan_maildir(maildir, &u) == -1)
			return -1;
		/*
		 * ENOENT: no tmp/ in a half-made Maildir (or none left).  The
		 * delivery completes it, and the next call writes the file.
		 */
		if (write_file(maildir, limit, now, &u) == -1 &&
		    errno != ENOENT)
			return -1;
	}
	*out = u;
	return 0;
}

int
quota_add(const char *maildir, const struct quota_limit *limit,
    int64_t bytes, int64_t messages)
{
	char		path[PATH_MAX], line[48];
	struct stat	st;
	ssize_t		w;
	int		fd, n;

	if (!quota_is_set(limit) || (bytes == 0 && messages == 0))
		return 0;
	if (path_join(path, sizeof(path), maildir, QUOTA_FILE) == -1)
		return -1;
	n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", bytes,
	    messages);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * MDPP: no lock, on purpose.  One O_APPEND write keeps each line
	 * whole among concurrent deliveries; a delta lost to a concurrent
	 * rebuild, or deliveries racing past the limit together, are the
	 * small overshoot the spec accepts, and the next rebuild repairs it.
	 */
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		/* Missing, or a symlink: the next quota_get() rebuilds it. */
		if (errno == ENOENT || errno == ELOOP)
			return 0;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		return 0;
	}
	do
		w = write(fd, line, (size_t)n);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		goto fail;
	if (w != n) {
		/* The partial line reads as malformed: a rebuild follows. */
		errno = EIO;
		goto fail;
	}
	return close(fd);

fail:
	return util_close_failing(fd);
}
