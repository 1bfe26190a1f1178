/* SPDX-License-Identifier: MIT */
/*
 * journal: "<t> <hex key> <name>\n" lines in <maildir>/lmtpd-dedup, each
 * appended with one write(2) under flock(LOCK_EX), read under LOCK_SH
 * through a fixed buffer.  Compaction renames a rewritten file over the
 * old one, so whoever takes the lock first checks that the path still
 * names the inode it locked.  No fsync anywhere: a lost entry costs at
 * most a duplicate delivery, never a lost message.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "sha256.h"
#include "util.h"

#define JOURNAL_MODE		0600
#define JOURNAL_HEX_LEN		(2 * JOURNAL_KEY_LEN)
#define JOURNAL_BUF		8192
#define JOURNAL_OPEN_TRIES	8	/* compactions racing our open */
#define JOURNAL_MEMO_SLOTS	4	/* Maildirs a child remembers */
#define JOURNAL_MEMO_BITS	(64 * 1024)	/* a filter of 8 KiB each */
#define JOURNAL_HEAD		64	/* octets that tell a file from another */
/* A leading "\n" (see journal_add), "-<19 digits> ", key, " ", name, "\n". */
#define JOURNAL_LINE_MAX	\
	(1 + 21 + JOURNAL_HEX_LEN + 1 + JOURNAL_NAME_MAX + 1)

_Static_assert(JOURNAL_KEY_LEN == SHA256_DIGEST_LEN,
    "the key is a SHA-256 digest");
_Static_assert(JOURNAL_LINE_MAX < JOURNAL_BUF,
    "every line journal_add writes fits the read buffer");

/* Reads a journal line by line, by pread(2) from offset 0. */
struct scan {
	int	fd;
	off_t	off;			/* of the next pread */
	size_t	len;			/* bytes in buf */
	size_t	pos;			/* where the next line starts */
	size_t	n_skipped;		/* over-long lines and a torn tail */
	bool	skipping;		/* inside an over-long line */
	bool	eof;
	char	buf[JOURNAL_BUF];
};

struct entry {
	long long	 t;
	const char	*hex;		/* JOURNAL_HEX_LEN bytes */
	const char	*name;		/* NUL-terminated, no spaces */
};

/*
 * What a child has read of a journal, so that a lookup reads only the
 * lines added since: a Bloom filter of every key seen (three bits each,
 * from the key's first 12 hex digits), up to off, the end of the last
 * whole line read.  It answers "not there" only: a key it may hold is
 * looked up in the file, so it can cost a read, never a wrong answer.
 * The Maildir's path (a hash of it), dev, ino and the file's first
 * octets tell the same file from a new one (a compaction renames a new
 * file over it, and a freed inode number comes back).
 */
struct memo {
	bool		 valid;
	uint64_t	 where;		/* FNV-1a of the Maildir's path */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 off;
	unsigned long	 used;		/* for eviction, the oldest first */
	size_t		 head_len;
	char		 head[JOURNAL_HEAD];
	unsigned char	 bits[JOURNAL_MEMO_BITS / 8];
};

static struct memo	journal_memo[JOURNAL_MEMO_SLOTS];
static unsigned long	journal_memo_clock;

/*
 * Test seam, deliberately not in journal.h: the octets the lookups and
 * compactions have read from journals.
 */
extern unsigned long long	journal_bytes_read;
unsigned long long		journal_bytes_read;

static int	journal_path(char *, size_t, const char *, const char *);
static int	open_locked(const char *, int, int, struct stat *);
static void	scan_init(struct scan *, int);
static int	scan_line(struct scan *, char **, size_t *);
static bool	entry_parse(char *, size_t, struct entry *);
static bool	in_window(long long, time_t, unsigned);
static bool	entry_live(char *, size_t, time_t, unsigned);
static int	compact(const char *, const char *, int, time_t, unsigned)
		    __attribute__((noinline));

/* maildir "/" JOURNAL_FILE suffix; ENAMETOOLONG. */
static int
journal_path(char *out, size_t cap, const char *maildir, const char *suffix)
{
	int	n;

	n = snprintf(out, cap, "%s/%s%s", maildir, JOURNAL_FILE, suffix);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Opens path with flags and takes flock(op) on it, making sure the file
 * locked is the one the path names.  A compaction renames its new file
 * over the path while others wait for the lock on the old one, which is
 * then an orphan: entries appended to it are lost, and it has none of
 * the new ones.  Only a holder of the lock renames, so once the path
 * matches it stays ours until we close.  Fills *st_out; returns the fd,
 * or -1 with errno.
 */
static int
open_locked(const char *path, int flags, int op, struct stat *st_out)
{
	struct stat	pst;
	int		fd, tries;

	for (tries = 0; tries < JOURNAL_OPEN_TRIES; tries++) {
		/*
		 * O_NONBLOCK so that a FIFO planted at the path cannot hang a
		 * worker; it means nothing for the regular file we insist on.
		 */
		fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		    JOURNAL_MODE);
		if (fd == -1)
			return -1;
		if (fstat(fd, st_out) == -1)
			goto fail;
		if (!S_ISREG(st_out->st_mode)) {
			errno = S_ISDIR(st_out->st_mode) ? EISDIR : EINVAL;
			goto fail;
		}
		while (flock(fd, op) == -1)
			if (errno != EINTR)
				goto fail;
		if (lstat(path, &pst) == 0) {
			if (pst.st_dev == st_out->st_dev &&
			    pst.st_ino == st_out->st_ino) {
				/* An append since our fstat moved the size. */
				if (fstat(fd, st_out) == -1)
					goto fail;
				return fd;
			}
		} else if (errno != ENOENT)
			goto fail;
		(void)close(fd);
	}
	/* Someone compacts faster than we can open: let the caller retry. */
	errno = EAGAIN;
	return -1;

fail:
	return util_close_failing(fd);
}

static void
scan_init(struct scan *sc, int fd)
{
	sc->fd = fd;
	sc->off = 0;
	sc->len = 0;
	sc->pos = 0;
	sc->n_skipped = 0;
	sc->skipping = false;
	sc->eof = false;
}

/*
 * The next complete line, NUL in place of its newline, in *line_out
 * (valid until the next call) and its length in *len_out; NULL at the
 * end.  Lines longer than the buffer and an unterminated tail (a crash
 * or a full disk tore it) are skipped: memory stays bounded and a damaged
 * journal stays usable.  Returns 0, or -1 with errno on a read error.
 */
static int
scan_line(struct scan *sc, char **line_out, size_t *len_out)
{
	char	*nl, *line;
	ssize_t	 n;

	for (;;) {
		nl = memchr(sc->buf + sc->pos, '\n', sc->len - sc->pos);
		if (nl != NULL) {
			*nl = '\0';
			line = sc->buf + sc->pos;
			sc->pos = (size_t)(nl - sc->buf) + 1;
			if (sc->skipping) {
				sc->skipping = false;
				continue;
			}
			*line_out = line;
			*len_out = (size_t)(nl - line);
			return 0;
		}
		if (sc->eof) {
			if (sc->len > sc->pos && !sc->skipping)
				sc->n_skipped++;
			sc->len = sc->pos = 0;
			sc->skipping = false;
			*line_out = NULL;
			*len_out = 0;
			return 0;
		}
		memmove(sc->buf, sc->buf + sc->pos, sc->len - sc->pos);
		sc->len -= sc->pos;
		sc->pos = 0;
		if (sc->len == sizeof(sc->buf)) {
			/* No newline in a whole buffer: not one of ours. */
			if (!sc->skipping)
				sc->n_skipped++;
			sc->skipping = true;
			sc->len = 0;
		}
		n = pread(sc->fd, sc->buf + sc->len, sizeof(sc->buf) - sc->len,
		    sc->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		journal_bytes_read += (unsigned long long)n;
		if (n == 0)
			sc->eof = true;
		sc->off += n;
		sc->len += (size_t)n;
	}
}

/* A line of ours: "<t> <64 lowercase hex> <name>", single spaces. */
static bool
entry_parse(char *line, size_t len, struct entry *e)
{
	const char	*p = line;
	long long	 t = 0;
	bool		 neg = false;
	int		 d, i;

	if (strlen(line) != len)
		return false;		/* a NUL byte: damage */
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		d = *p - '0';
		if (t > (LLONG_MAX - d) / 10)
			return false;
		t = t * 10 + d;
	}
	if (*p++ != ' ')
		return false;
	e->hex = p;
	for (i = 0; i < JOURNAL_HEX_LEN; i++, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	if (*p++ != ' ')
		return false;
	if (*p == '\0' || strchr(p, ' ') != NULL)
		return false;
	e->name = p;
	e->t = neg ? -t : t;
	return true;
}

/*
 * now - window < t <= now + window, without overflow: the distance is
 * taken in unsigned arithmetic, where it always fits.
 */
static bool
in_window(long long t, time_t now, unsigned window)
{
	long long		n = (long long)now;
	unsigned long long	ut = (unsigned long long)t;
	unsigned long long	un = (unsigned long long)n;

	if (t > n)
		return ut - un <= window;
	return un - ut < window;
}

static bool
entry_live(char *line, size_t len, time_t now, unsigned window)
{
	struct entry	e;

	return entry_parse(line, len, &e) && in_window(e.t, now, window);
}

/*
 * Rewrites the journal at path (fd, locked LOCK_EX by the caller) with
 * only its live lines, through maildir/lmtpd-dedup.tmp<pid> and a rename.
 * It runs when the first line is to drop (or damage comes before it):
 * entries are appended in time order, so while the oldest is live the
 * file is left alone, read no further.  XXX: other lines to drop (damage
 * further on, a clock set back) wait until the first line expires.
 * Never
 * inlined: its 20 kB of buffers would deepen every add's stack frame, and
 * every page of stack a child touches stays in its RSS.
 */
static int
compact(const char *maildir, const char *path, int fd, time_t now,
    unsigned window)
{
	char		 tmp[PATH_MAX], suffix[32], out[JOURNAL_BUF];
	struct scan	 sc;
	char		*line;
	size_t		 len, olen = 0;
	int		 tfd = -1, rc, saved;

	/* The oldest line first: while it is live, so are the others. */
	scan_init(&sc, fd);
	if (scan_line(&sc, &line, &len) == -1)
		return -1;
	if (sc.n_skipped == 0 && (line == NULL ||
	    entry_live(line, len, now, window)))
		return 0;

	(void)snprintf(suffix, sizeof(suffix), ".tmp%ld", (long)getpid());
	if (journal_path(tmp, sizeof(tmp), maildir, suffix) == -1)
		return -1;
	/*
	 * A leftover of a crashed process that had our pid.  XXX: those of
	 * other pids stay; they are small, and no Maildir reader looks at
	 * files in the root.
	 */
	if (unlink(tmp) == -1 && errno != ENOENT)
		return -1;
	tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    JOURNAL_MODE);
	if (tfd == -1)
		return -1;

	scan_init(&sc, fd);
	for (;;) {
		if (scan_line(&sc, &line, &len) == -1)
			goto fail;
		if (line == NULL)
			break;
		if (!entry_live(line, len, now, window))
			continue;
		if (olen + len + 1 > sizeof(out)) {
			if (util_write_all(tfd, out, olen) == -1)
				goto fail;
			olen = 0;
		}
		memcpy(out + olen, line, len);
		out[olen + len] = '\n';
		olen += len + 1;
	}
	if (olen > 0 && util_write_all(tfd, out, olen) == -1)
		goto fail;
	/*
	 * No fsync, of the file or the directory: after a crash the journal
	 * may come back short or empty, and that costs at most a duplicate.
	 */
	rc = close(tfd);
	tfd = -1;
	if (rc == -1)
		goto fail;
	if (rename(tmp, path) == -1)
		goto fail;
	return 0;

fail:
	saved = errno;
	if (tfd != -1)
		(void)close(tfd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

/* The filter's three bits for a key, from its first 12 hex digits. */
static void
memo_bits(const char *hex, unsigned idx[3])
{
	unsigned	v;
	int		i, j, d;

	for (i = 0; i < 3; i++) {
		v = 0;
		for (j = 0; j < 4; j++) {
			d = hex[i * 4 + j];
			v = v << 4 | (unsigned)(d <= '9' ? d - '0' : d - 'a' + 10);
		}
		idx[i] = v % JOURNAL_MEMO_BITS;
	}
}

static void
memo_add(struct memo *m, const char *hex)
{
	unsigned	idx[3];
	int		i;

	memo_bits(hex, idx);
	for (i = 0; i < 3; i++)
		m->bits[idx[i] / 8] |= (unsigned char)(1u << (idx[i] % 8));
}

static bool
memo_may_hold(const struct memo *m, const char *hex)
{
	unsigned	idx[3];
	int		i;

	memo_bits(hex, idx);
	for (i = 0; i < 3; i++)
		if ((m->bits[idx[i] / 8] & (1u << (idx[i] % 8))) == 0)
			return false;
	return true;
}

static uint64_t
path_hash(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * The memo of maildir's journal, open at fd (st its fstat), brought up
 * to its end: a new one when this file is not the one remembered.  NULL
 * when the file cannot be read; the caller then reads it all.
 */
static struct memo *
memo_for(const char *maildir, int fd, const struct stat *st)
{
	uint64_t	 where = path_hash(maildir);
	struct memo	*m = NULL;
	struct scan	 sc;
	struct entry	 e;
	char		 head[JOURNAL_HEAD], *line;
	size_t		 i, len;
	ssize_t		 n;

	n = pread(fd, head, sizeof(head), 0);
	if (n == -1)
		return NULL;
	journal_bytes_read += (unsigned long long)n;
	for (i = 0; i < JOURNAL_MEMO_SLOTS; i++) {
		if (!journal_memo[i].valid || journal_memo[i].where != where ||
		    journal_memo[i].dev != st->st_dev ||
		    journal_memo[i].ino != st->st_ino)
			continue;
		m = &journal_memo[i];
		/* Shrunk, or another file on the same inode: start again. */
		if (st->st_size < m->off || (size_t)n < m->head_len ||
		    memcmp(head, m->head, m->head_len) != 0)
			m->valid = false;
		break;
	}
	if (m == NULL) {
		/* A free slot, or the one used longest ago. */
		for (i = 0; i < JOURNAL_MEMO_SLOTS; i++)
			if (m == NULL || !journal_memo[i].valid ||
			    (m->valid && journal_memo[i].used < m->used))
				m = &journal_memo[i];
		m->valid = false;
	}
	if (!m->valid) {
		memset(m->bits, 0, sizeof(m->bits));
		m->where = where;
		m->dev = st->st_dev;
		m->ino = st->st_ino;
		m->off = 0;
		m->head_len = (size_t)n;
		memcpy(m->head, head, (size_t)n);
		m->valid = true;
	}
	m->used = ++journal_memo_clock;

	scan_init(&sc, fd);
	sc.off = m->off;
	for (;;) {
		if (scan_line(&sc, &line, &len) == -1) {
			m->valid = false;
			return NULL;
		}
		if (line == NULL)
			break;
		/* Every key seen, live or not: a superset is safe. */
		if (entry_parse(line, len, &e))
			memo_add(m, e.hex);
		m->off = sc.off - (off_t)(sc.len - sc.pos);
	}
	return m;
}

int
journal_find(const char *maildir, const unsigned char key[JOURNAL_KEY_LEN],
    time_t now, unsigned window, char *name_out, size_t cap,
    bool *found_out)
{
	struct memo	*m;
	char		 path[PATH_MAX], hex[JOURNAL_HEX_LEN + 1];
	struct stat	 st;
	struct scan	 sc;
	struct entry	 e;
	char		*line;
	size_t		 len;
	int		 fd, rc = 0, saved;

	*found_out = false;
	if (window == 0)
		return 0;
	if (journal_path(path, sizeof(path), maildir, "") == -1)
		return -1;
	fd = open_locked(path, O_RDONLY, LOCK_SH, &st);
	if (fd == -1) {
		/* Nothing delivered here yet, or no Maildir at all. */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return -1;
	}
	sha256_hex(key, hex);
	/* Not in the memo: not in the file, without reading it again. */
	m = memo_for(maildir, fd, &st);
	if (m != NULL && !memo_may_hold(m, hex)) {
		(void)close(fd);
		return 0;
	}
	scan_init(&sc, fd);
	for (;;) {
		if (scan_line(&sc, &line, &len) == -1) {
			rc = -1;
			break;
		}
		if (line == NULL)
			break;
		if (!entry_parse(line, len, &e) ||
		    memcmp(e.hex, hex, JOURNAL_HEX_LEN) != 0 ||
		    !in_window(e.t, now, window))
			continue;
		if (util_strlcpy(name_out, e.name, cap) == -1) {
			rc = -1;
			break;
		}
		*found_out = true;
		break;
	}
	saved = errno;
	(void)close(fd);
	errno = saved;
	return rc;
}

int
journal_add(const char *maildir, const unsigned char key[JOURNAL_KEY_LEN],
    time_t now, unsigned window, const char *name)
{
	char		path[PATH_MAX], hex[JOURNAL_HEX_LEN + 1];
	char		line[JOURNAL_LINE_MAX + 1], last;
	struct stat	st;
	size_t		nlen, len = 0;
	ssize_t		w;
	int		fd, n;

	assert(name != NULL);
	if (window == 0)
		return 0;
	nlen = strlen(name);
	/* The line format has no quoting. */
	if (nlen == 0 || strpbrk(name, " \n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (nlen >= JOURNAL_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (journal_path(path, sizeof(path), maildir, "") == -1)
		return -1;
	fd = open_locked(path, O_RDWR | O_APPEND | O_CREAT, LOCK_EX, &st);
	if (fd == -1)
		return -1;

	/*
	 * A torn last line (a crash or a full disk in the middle of some
	 * write) would swallow the start of ours: begin on a line of our own.
	 */
	if (st.st_size > 0) {
		w = pread(fd, &last, 1, st.st_size - 1);
		if (w == -1)
			goto fail;
		if (w == 1 && last != '\n')
			line[len++] = '\n';
	}
	sha256_hex(key, hex);
	n = snprintf(line + len, sizeof(line) - len, "%lld %s %s\n",
	    (long long)now, hex, name);
	assert(n > 0 && (size_t)n < sizeof(line) - len);
	len += (size_t)n;

	/* One write on O_APPEND: the line lands whole, after all others. */
	do
		w = write(fd, line, len);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		goto fail;
	if ((size_t)w != len) {
		/*
		 * Short: the disk is full or a limit was hit.  Take the
		 * fragment back (we still hold the lock), so no reader sees
		 * it; should that fail, the next add starts a new line.
		 */
		if (ftruncate(fd, st.st_size) == 0)
			errno = EIO;
		goto fail;
	}
	/* Best effort: a failure leaves the file whole and big. */
	if ((uintmax_t)st.st_size + len > JOURNAL_COMPACT_SIZE)
		(void)compact(maildir, path, fd, now, window);
	/* close(2) drops the lock only after the rename is done. */
	return close(fd);

fail:
	return util_close_failing(fd);
}
