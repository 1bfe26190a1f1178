/* SPDX-License-Identifier: MIT */
/*
 * journal: entries found inside the window and only there, damage that is
 * skipped, compaction that drops only what expired, errors that surface,
 * and concurrent writers that lose nothing, also across a rename racing
 * the lock.  Each test works in its own mkdtemp() tree; time is a fixed
 * value, never the clock.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "sha256.h"
#include "suites.h"
#include "testutil.h"

#define BASE		((time_t)1800000000)
#define WIN		3600u
#define NAME		"new/1733.M1P2Q3.host,S=12"
#define N_PER_CHILD	200
#define NOBODY		65534
#define LOCK_WAIT_MS	20000	/* valgrind is slow */

/* journal.c's count of octets read (a test seam, not in journal.h). */
extern unsigned long long	journal_bytes_read;

static char	root[PATH_MAX];
static char	md[PATH_MAX];		/* root/Maildir */
static char	jpath[PATH_MAX];	/* md/lmtpd-dedup */

static void	setup(void);
static void	teardown(void);
static void	key_of(unsigned, unsigned char[JOURNAL_KEY_LEN]);
static size_t	line_of(char *, size_t, long long, unsigned, const char *);
static off_t	file_size(const char *);
static ino_t	file_ino(const char *);
static bool	find(unsigned, time_t, unsigned, char *, size_t);
static void	add(unsigned, time_t, const char *);
static void	wait_blocked(pid_t);
static int	child_status(pid_t);
static size_t	expand(char *, size_t, const char *, unsigned);
static void	assert_only_journal(void);
static int	unreadable_checks(void);
static int	concurrent_child(int, int);
static void	replace_locked_journal(pid_t, int, const char *, size_t);

/* Under /tmp, not $TMPDIR: a test reads the tree as nobody. */
static void
setup(void)
{
	umask(022);
	test_mkdtemp_in(root, sizeof(root), "/tmp", "journal");
	test_pathf(md, "%s/Maildir", root);
	ck_assert_int_eq(mkdir(md, 0700), 0);
	test_pathf(jpath, "%s/%s", md, JOURNAL_FILE);
}

static void
teardown(void)
{
	(void)test_rmtree(root);
}

/* The key of message i: any 32 bytes do, a digest is what lmtpd uses. */
static void
key_of(unsigned i, unsigned char key[JOURNAL_KEY_LEN])
{
	struct sha256	ctx;
	char		buf[32];
	int		n;

	n = snprintf(buf, sizeof(buf), "message %u", i);
	sha256_init(&ctx);
	sha256_update(&ctx, buf, (size_t)n);
	sha256_final(&ctx, key);
}

/* "<t> <hex key_of(i)> <name>\n" into out; returns its length. */
static size_t
line_of(char *out, size_t cap, long long t, unsigned i, const char *name)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		hex[2 * JOURNAL_KEY_LEN + 1];
	int		n;

	key_of(i, key);
	sha256_hex(key, hex);
	n = snprintf(out, cap, "%lld %s %s\n", t, hex, name);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt((size_t)n, cap);
	return (size_t)n;
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static ino_t
file_ino(const char *path)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

/* journal_find for message i, which must not fail. */
static bool
find(unsigned i, time_t now, unsigned window, char *name, size_t cap)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		buf[JOURNAL_NAME_MAX];
	bool		found = true;

	if (name == NULL) {
		name = buf;
		cap = sizeof(buf);
	}
	key_of(i, key);
	ck_assert_int_eq(journal_find(md, key, now, window, name, cap,
	    &found), 0);
	return found;
}

static void
add(unsigned i, time_t now, const char *name)
{
	unsigned char	key[JOURNAL_KEY_LEN];

	key_of(i, key);
	ck_assert_int_eq(journal_add(md, key, now, WIN, name), 0);
}

/*
 * Waits until pid is blocked in flock(2), as /proc/locks shows it ("->"
 * lines are waiters).  Where there is no /proc/locks, a pause has to do:
 * the race tests may then pass without having raced, never fail.
 */
static void
wait_blocked(pid_t pid)
{
	struct timespec	 pause = { 0, 10 * 1000 * 1000 };
	char		 line[256];
	FILE		*f;
	long		 p;
	int		 ms;

	for (ms = 0; ms < LOCK_WAIT_MS; ms += 10) {
		f = fopen("/proc/locks", "re");
		if (f == NULL) {
			pause.tv_nsec = 300 * 1000 * 1000;
			nanosleep(&pause, NULL);
			return;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "%*d: -> %*s %*s %*s %ld", &p) == 1 &&
			    p == (long)pid) {
				fclose(f);
				return;
			}
		}
		fclose(f);
		nanosleep(&pause, NULL);
	}
	ck_abort_msg("child %ld never blocked on the journal lock",
	    (long)pid);
}

/* The exit status of child pid; -1 when it did not exit normally. */
static int
child_status(pid_t pid)
{
	int	st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_add_then_find)
{
	char		name[JOURNAL_NAME_MAX], want[256], got[256];
	struct stat	st;
	size_t		n;
	int		fd;

	add(1, BASE, NAME);
	ck_assert(find(1, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, NAME);
	ck_assert(find(1, BASE + 10, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, NAME);

	/* The documented format, nothing else, mode 0600. */
	n = line_of(want, sizeof(want), (long long)BASE, 1, NAME);
	fd = open(jpath, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(read(fd, got, sizeof(got)), (ssize_t)n);
	close(fd);
	ck_assert_int_eq(memcmp(got, want, n), 0);
	ck_assert_int_eq(stat(jpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	add(2, BASE, ".folder/new/1734.M5P6Q7.host,S=99");
	ck_assert(find(2, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, ".folder/new/1734.M5P6Q7.host,S=99");
	ck_assert(find(1, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, NAME);
}
END_TEST

START_TEST(test_other_key_not_found)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[64];
	bool		found = true;

	add(1, BASE, NAME);
	ck_assert(!find(2, BASE, WIN, NULL, 0));
	/* One bit away is another key. */
	key_of(1, key);
	key[JOURNAL_KEY_LEN - 1] ^= 1;
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name, sizeof(name),
	    &found), 0);
	ck_assert(!found);
}
END_TEST

/* An entry at now + off is found when now - WIN < now + off <= now + WIN. */
static const struct {
	long long	off;
	bool		found;
} window_edges[] = {
	{ -10 * (long long)WIN,	false },	/* long expired */
	{ -(long long)WIN,	false },
	{ -(long long)WIN + 1,	true },
	{ 0,			true },
	{ WIN,			true },		/* clock stepped back */
	{ WIN + 1,		false },
	{ 10 * (long long)WIN,	false },	/* from the "future" */
};

START_TEST(test_window_edges)
{
	add(1, BASE + (time_t)window_edges[_i].off, NAME);
	ck_assert_int_eq(find(1, BASE, WIN, NULL, 0), window_edges[_i].found);
}
END_TEST

START_TEST(test_missing_is_not_found)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[64], other[PATH_MAX];
	bool		found = true;

	key_of(1, key);
	/* A Maildir without a journal. */
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name, sizeof(name),
	    &found), 0);
	ck_assert(!found);
	/* No Maildir at all, and a file where the Maildir should be. */
	test_pathf(other, "%s/nope/Maildir", root);
	found = true;
	ck_assert_int_eq(journal_find(other, key, BASE, WIN, name,
	    sizeof(name), &found), 0);
	ck_assert(!found);
	test_pathf(other, "%s/plain", root);
	test_write_bytes(other, "x", 1);
	found = true;
	ck_assert_int_eq(journal_find(other, key, BASE, WIN, name,
	    sizeof(name), &found), 0);
	ck_assert(!found);
	ck_assert_int_eq(access(jpath, F_OK), -1);

	/* Adding is the caller's mistake there: the Maildir comes first. */
	test_pathf(other, "%s/nope/Maildir", root);
	errno = 0;
	ck_assert_int_eq(journal_add(other, key, BASE, WIN, NAME), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_name_too_long_for_cap)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[64];
	bool		found = true;

	add(1, BASE, NAME);
	key_of(1, key);
	errno = 0;
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name, strlen(NAME),
	    &found), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert(!found);
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name,
	    strlen(NAME) + 1, &found), 0);
	ck_assert(found);
	ck_assert_str_eq(name, NAME);
}
END_TEST

static const char *const bad_names[] = { "", "new/a b", "new/a\nb",
    " new/x", "new/x\n" };

START_TEST(test_bad_name_rejected)
{
	unsigned char	key[JOURNAL_KEY_LEN];

	key_of(1, key);
	errno = 0;
	ck_assert_int_eq(journal_add(md, key, BASE, WIN, bad_names[_i]), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(access(jpath, F_OK), -1);
}
END_TEST

START_TEST(test_long_name_rejected)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[JOURNAL_NAME_MAX + 1], out[JOURNAL_NAME_MAX];

	key_of(1, key);
	memset(name, 'n', sizeof(name) - 1);
	name[JOURNAL_NAME_MAX] = '\0';
	errno = 0;
	ck_assert_int_eq(journal_add(md, key, BASE, WIN, name), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(access(jpath, F_OK), -1);
	/* The longest accepted name comes back whole. */
	name[JOURNAL_NAME_MAX - 1] = '\0';
	ck_assert_int_eq(journal_add(md, key, BASE, WIN, name), 0);
	ck_assert(find(1, BASE, WIN, out, sizeof(out)));
	ck_assert_str_eq(out, name);
}
END_TEST

START_TEST(test_window_zero_is_off)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		line[256], name[64], other[PATH_MAX];
	bool		found = true;
	size_t		n;

	key_of(1, key);
	ck_assert_int_eq(journal_add(md, key, BASE, 0, NAME), 0);
	ck_assert_int_eq(access(jpath, F_OK), -1);
	/* Not even the missing Maildir is noticed: no disk access at all. */
	test_pathf(other, "%s/nope", root);
	ck_assert_int_eq(journal_add(other, key, BASE, 0, NAME), 0);

	n = line_of(line, sizeof(line), (long long)BASE, 1, NAME);
	test_write_bytes(jpath, line, n);
	ck_assert(find(1, BASE, WIN, NULL, 0));
	ck_assert_int_eq(journal_find(md, key, BASE, 0, name, sizeof(name),
	    &found), 0);
	ck_assert(!found);

	/* A directory in the journal's place is an error, if looked at. */
	ck_assert_int_eq(unlink(jpath), 0);
	ck_assert_int_eq(mkdir(jpath, 0700), 0);
	errno = 0;
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name, sizeof(name),
	    &found), -1);
	ck_assert_int_eq(errno, EISDIR);
	errno = 0;
	ck_assert_int_eq(journal_add(md, key, BASE, WIN, NAME), -1);
	ck_assert_int_eq(errno, EISDIR);
	found = true;
	ck_assert_int_eq(journal_find(md, key, BASE, 0, name, sizeof(name),
	    &found), 0);
	ck_assert(!found);
	ck_assert_int_eq(journal_add(md, key, BASE, 0, NAME), 0);
}
END_TEST

/*
 * Lines that are not ours, each followed by a good entry for message 1:
 * "@" stands for its key in hex, "^" for the same in upper case, "~" for
 * the key one digit short.  None may be taken for the entry.
 */
static const char *const malformed[] = {
	"",
	"garbage",
	"1800000000",
	"1800000000 @",
	"1800000000 @ ",
	"x1800000000 @ new/w",
	"1800000000x @ new/w",
	"1800000000  @ new/w",
	"1800000000 @  new/w",
	"1800000000 @ new/w extra",
	"1800000000 ^ new/w",
	"1800000000 ~ new/w",
	"1800000000 @a new/w",
	"1800000000\t@ new/w",
	" 1800000000 @ new/w",
	"99999999999999999999999 @ new/w",
	"-",
	"- @ new/w",
};

/* tmpl with the markers of malformed[] replaced; returns the length. */
static size_t
expand(char *out, size_t cap, const char *tmpl, unsigned i)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		hex[2 * JOURNAL_KEY_LEN + 1];
	size_t		n = 0, k;

	key_of(i, key);
	sha256_hex(key, hex);
	for (; *tmpl != '\0'; tmpl++) {
		ck_assert_uint_lt(n + sizeof(hex), cap);
		if (*tmpl == '@' || *tmpl == '^' || *tmpl == '~') {
			k = *tmpl == '~' ? sizeof(hex) - 2 : sizeof(hex) - 1;
			memcpy(out + n, hex, k);
			if (*tmpl == '^')
				for (; k > 0; k--, n++)
					out[n] = (char)(out[n] >= 'a' ?
					    out[n] - 'a' + 'A' : out[n]);
			n += k;
		} else
			out[n++] = *tmpl;
	}
	out[n++] = '\n';
	return n;
}

START_TEST(test_malformed_line_skipped)
{
	char	buf[512], name[64];
	size_t	n;

	n = expand(buf, sizeof(buf), malformed[_i], 1);
	n += line_of(buf + n, sizeof(buf) - n, (long long)BASE, 1,
	    "new/right");
	test_write_bytes(jpath, buf, n);
	ck_assert(find(1, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/right");
}
END_TEST

/*
 * A line longer than the reader's buffer (private to journal.c, hence
 * several sizes) is one bad line: what lies past a buffer's length must
 * not pass for a line of its own.
 */
static const size_t	overlong_at[] = { 1024, 2048, 4096, 8192, 16384,
			    32768 };

START_TEST(test_overlong_line_skipped)
{
	static char	buf[40000];
	char		name[64];
	size_t		n;

	n = expand(buf, sizeof(buf), "1800000000 @ new/", 1) - 1;
	memset(buf + n, 'x', overlong_at[_i] - n);
	n = overlong_at[_i];
	n += expand(buf + n, sizeof(buf) - n, "1800000000 @ new/w", 1);
	n += line_of(buf + n, sizeof(buf) - n, (long long)BASE, 1,
	    "new/right");
	test_write_bytes(jpath, buf, n);
	ck_assert(find(1, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/right");
}
END_TEST

/* All of them, a line longer than any buffer and a NUL byte, at once. */
START_TEST(test_damaged_journal_usable)
{
	char	buf[16384], name[64];
	size_t	i, n = 0;

	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		n += expand(buf + n, sizeof(buf) - n, malformed[i], 1);
	/* Its tail, past any buffer, must not pass for a line of its own. */
	n += expand(buf + n, sizeof(buf) - n, "1800000000 @ new/", 1);
	n--;
	memset(buf + n, 'x', 9000);
	n += 9000;
	n += expand(buf + n, sizeof(buf) - n, " 1800000000 @ new/w", 1);
	/* A NUL byte must not cut a line into a valid-looking one. */
	n += expand(buf + n, sizeof(buf) - n, "1800000000 @ new/w", 1);
	buf[n - 3] = '\0';
	n += line_of(buf + n, sizeof(buf) - n, (long long)BASE, 1,
	    "new/right");
	test_write_bytes(jpath, buf, n);

	ck_assert(find(1, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/right");
	/* Adding to it works too. */
	add(2, BASE, "new/second");
	ck_assert(find(2, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/second");
}
END_TEST

/* A torn last line must not swallow the next entry. */
START_TEST(test_torn_tail)
{
	char	line[256], name[64];
	size_t	n;

	n = line_of(line, sizeof(line), (long long)BASE, 1, "new/torn");
	test_write_bytes(jpath, line, n - 1);
	ck_assert(!find(1, BASE, WIN, NULL, 0));
	add(2, BASE, "new/after");
	ck_assert(find(2, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/after");
}
END_TEST

/* Any name in md other than the journal: a leftover temporary file. */
static void
assert_only_journal(void)
{
	DIR		*d;
	struct dirent	*de;

	d = opendir(md);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		ck_assert_str_eq(de->d_name, JOURNAL_FILE);
	}
	closedir(d);
}

START_TEST(test_compaction)
{
	const time_t	old = BASE - 10 * (time_t)WIN;
	char		name[64];
	struct stat	st;
	unsigned	i, n_old;
	ino_t		ino;

	/* Past the threshold with entries live at their time: kept. */
	add(0, old, "new/old0");
	ino = file_ino(jpath);
	for (i = 1; file_size(jpath) <= JOURNAL_COMPACT_SIZE + 1024; i++) {
		test_pathf(name, "new/old%u", i);
		add(i, old, name);
	}
	n_old = i;
	ck_assert_uint_eq(file_ino(jpath), ino);
	for (i = 0; i < n_old; i++)
		ck_assert(find(i, old, WIN, NULL, 0));

	/* Then time moves on: the first add drops them all. */
	for (i = 0; i < 5; i++) {
		test_pathf(name, "new/recent%u", i);
		add(10000 + i, BASE - 5 + (time_t)i, name);
	}
	ck_assert_int_lt(file_size(jpath), 1024);
	ck_assert_uint_ne(file_ino(jpath), ino);
	for (i = 0; i < 5; i++) {
		ck_assert(find(10000 + i, BASE, WIN, name, sizeof(name)));
		ck_assert_int_eq(strncmp(name, "new/recent", 10), 0);
	}
	/* Gone from the file, not only out of the window. */
	for (i = 0; i < n_old; i++)
		ck_assert(!find(i, old, WIN, NULL, 0));
	ck_assert_int_eq(stat(jpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	assert_only_journal();
}
END_TEST

/* Damage alone (no line to expire) is reason enough to rewrite. */
START_TEST(test_compaction_drops_garbage)
{
	static char	junk[JOURNAL_COMPACT_SIZE + 10];
	char		line[256];
	size_t		n;

	memset(junk, 'j', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\n';
	test_write_bytes(jpath, junk, sizeof(junk));
	add(1, BASE, NAME);
	n = line_of(line, sizeof(line), (long long)BASE, 1, NAME);
	ck_assert_int_eq(file_size(jpath), (off_t)n);
	ck_assert(find(1, BASE, WIN, NULL, 0));
	assert_only_journal();
}
END_TEST

/*
 * A lookup reads only the lines added since the last one (and the head
 * of the file, to know it): what this process or another appends, and a
 * file replaced or rewritten, are all seen.
 */
START_TEST(test_lookups_read_what_is_new)
{
	char		line[256], tmp[PATH_MAX];
	unsigned long long before;
	unsigned	i;
	size_t		n;
	int		fd;

	for (i = 0; i < 300; i++)
		add(i, BASE, NAME);
	ck_assert(!find(1000, BASE, WIN, NULL, 0));
	before = journal_bytes_read;
	for (i = 1001; i < 1101; i++)
		ck_assert(!find(i, BASE, WIN, NULL, 0));
	/* 100 lookups read less than the file once. */
	ck_assert_uint_lt(journal_bytes_read - before,
	    (unsigned long long)file_size(jpath));
	ck_assert(find(5, BASE, WIN, NULL, 0));
	ck_assert(find(299, BASE, WIN, NULL, 0));

	/* Another process appends. */
	n = line_of(line, sizeof(line), (long long)BASE, 2000, NAME);
	fd = open(jpath, O_WRONLY | O_APPEND);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, line, n), (ssize_t)n);
	close(fd);
	ck_assert(find(2000, BASE, WIN, NULL, 0));

	/* A new file renamed over it (a compaction elsewhere). */
	test_pathf(tmp, "%s.new", jpath);
	n = line_of(line, sizeof(line), (long long)BASE, 3000, NAME);
	test_write_bytes(tmp, line, n);
	ck_assert_int_eq(rename(tmp, jpath), 0);
	ck_assert(find(3000, BASE, WIN, NULL, 0));
	ck_assert(!find(5, BASE, WIN, NULL, 0));

	/* The same file cut short and written again. */
	ck_assert_int_eq(truncate(jpath, 0), 0);
	n = line_of(line, sizeof(line), (long long)BASE, 4000, NAME);
	test_write_bytes(jpath, line, n);
	ck_assert(find(4000, BASE, WIN, NULL, 0));
	ck_assert(!find(3000, BASE, WIN, NULL, 0));
}
END_TEST

/*
 * More journals than the process remembers: each one's lookups stay
 * right as the memos are taken over by others.
 */
START_TEST(test_more_journals_than_memos)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		dirs[6][PATH_MAX], name[64];
	unsigned	j, r, k;
	bool		found;

	for (j = 0; j < 6; j++) {
		test_pathf(dirs[j], "%s/m%u", root, j);
		ck_assert_int_eq(mkdir(dirs[j], 0700), 0);
	}
	for (r = 0; r < 4; r++)
		for (j = 0; j < 6; j++) {
			key_of(100 * r + j, key);
			ck_assert_int_eq(journal_add(dirs[j], key, BASE, WIN,
			    NAME), 0);
			for (k = 0; k <= r; k++) {
				key_of(100 * k + j, key);
				found = false;
				ck_assert_int_eq(journal_find(dirs[j], key, BASE,
				    WIN, name, sizeof(name), &found), 0);
				ck_assert_msg(found, "key %u in m%u", 100 * k + j,
				    j);
				key_of(100 * k + (j + 1) % 6, key);
				ck_assert_int_eq(journal_find(dirs[j], key, BASE,
				    WIN, name, sizeof(name), &found), 0);
				ck_assert(!found);
			}
		}
}
END_TEST

/* Symlinks are not followed, FIFOs and the like not used. */
START_TEST(test_not_a_regular_file)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[64], target[PATH_MAX];
	bool		found = true;

	key_of(1, key);
	test_pathf(target, "%s/elsewhere", root);
	ck_assert_int_eq(symlink(target, jpath), 0);
	errno = 0;
	ck_assert_int_eq(journal_add(md, key, BASE, WIN, NAME), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(access(target, F_OK), -1);
	errno = 0;
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name, sizeof(name),
	    &found), -1);
	ck_assert_int_eq(errno, ELOOP);

	ck_assert_int_eq(unlink(jpath), 0);
	ck_assert_int_eq(mkfifo(jpath, 0600), 0);
	errno = 0;
	ck_assert_int_eq(journal_find(md, key, BASE, WIN, name, sizeof(name),
	    &found), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(!found);
	errno = 0;
	ck_assert_int_eq(journal_add(md, key, BASE, WIN, NAME), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Without privileges: root reads a mode 000 file regardless. */
static int
unreadable_checks(void)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[64];
	bool		found = true;

	key_of(1, key);
	errno = 0;
	if (journal_find(md, key, BASE, WIN, name, sizeof(name), &found) !=
	    -1 || errno != EACCES || found)
		return 1;
	errno = 0;
	if (journal_add(md, key, BASE, WIN, NAME) != -1 || errno != EACCES)
		return 2;
	return 0;
}

START_TEST(test_unreadable_is_error)
{
	pid_t	pid;
	int	rc;

	add(1, BASE, NAME);
	ck_assert_int_eq(chmod(jpath, 0), 0);
	if (geteuid() != 0) {
		ck_assert_int_eq(unreadable_checks(), 0);
		return;
	}
	/* As root, check it as nobody (the tree must be searchable). */
	ck_assert_int_eq(chmod(root, 0711), 0);
	ck_assert_int_eq(chmod(md, 0711), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (setgid(NOBODY) == -1 || setuid(NOBODY) == -1)
			_exit(77);
		_exit(unreadable_checks());
	}
	rc = child_status(pid);
	if (rc == 77) {
		fprintf(stderr, "journal: cannot drop root, EACCES check "
		    "skipped\n");
		return;
	}
	ck_assert_int_eq(rc, 0);
}
END_TEST

/* Each child adds N_PER_CHILD entries once the parent closes go[1]. */
static int
concurrent_child(int c, int go)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		name[64], b;
	int		i;

	if (read(go, &b, 1) != 0)
		return 1;
	for (i = 0; i < N_PER_CHILD; i++) {
		key_of((unsigned)(c * 1000 + i), key);
		(void)snprintf(name, sizeof(name), "new/%d.M%dP%dQ1.host,S=%d",
		    1733 + i, i, c, i);
		if (journal_add(md, key, BASE, WIN, name) == -1)
			return 2;
	}
	return 0;
}

START_TEST(test_concurrent_appends)
{
	char		 line[512], name[64], want[64];
	regex_t		 re;
	FILE		*f;
	pid_t		 pid[2];
	int		 go[2], c, i, n_lines = 0;

	ck_assert_int_eq(pipe(go), 0);
	for (c = 0; c < 2; c++) {
		pid[c] = fork();
		ck_assert_int_ne(pid[c], -1);
		if (pid[c] == 0) {
			close(go[1]);
			_exit(concurrent_child(c, go[0]));
		}
	}
	close(go[0]);
	close(go[1]);
	for (c = 0; c < 2; c++)
		ck_assert_int_eq(child_status(pid[c]), 0);

	/* Every line whole: nothing torn, nothing interleaved. */
	ck_assert_int_eq(regcomp(&re, "^1800000000 [0-9a-f]{64} "
	    "new/[0-9]+\\.M[0-9]+P[01]Q1\\.host,S=[0-9]+\n$",
	    REG_EXTENDED | REG_NOSUB), 0);
	f = fopen(jpath, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0,
		    "torn line: %s", line);
		n_lines++;
	}
	fclose(f);
	regfree(&re);
	ck_assert_int_eq(n_lines, 2 * N_PER_CHILD);

	for (c = 0; c < 2; c++)
		for (i = 0; i < N_PER_CHILD; i++) {
			ck_assert(find((unsigned)(c * 1000 + i), BASE, WIN,
			    name, sizeof(name)));
			test_pathf(want, "new/%d.M%dP%dQ1.host,S=%d",
			    1733 + i, i, c, i);
			ck_assert_str_eq(name, want);
		}
}
END_TEST

/*
 * A compaction renames a new journal over the path while a child waits
 * for the lock on the old one.  Once it has the lock, the child must see
 * that the path moved on and work on the new file.
 */
static void
replace_locked_journal(pid_t pid, int held_fd, const char *content,
    size_t n)
{
	char	tmp[PATH_MAX];

	wait_blocked(pid);
	test_pathf(tmp, "%s/%s.new", md, JOURNAL_FILE);
	test_write_bytes(tmp, content, n);
	ck_assert_int_eq(rename(tmp, jpath), 0);
	ck_assert_int_eq(close(held_fd), 0);
}

START_TEST(test_add_follows_rename)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		line[256], name[64];
	size_t		n;
	pid_t		pid;
	int		fd;

	add(1, BASE, "new/one");
	fd = open(jpath, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(fd);
		key_of(2, key);
		_exit(journal_add(md, key, BASE, WIN, "new/two") == 0 ? 0 : 1);
	}
	n = line_of(line, sizeof(line), (long long)BASE, 1, "new/one");
	replace_locked_journal(pid, fd, line, n);
	ck_assert_int_eq(child_status(pid), 0);

	ck_assert(find(2, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/two");
	ck_assert(find(1, BASE, WIN, name, sizeof(name)));
	ck_assert_str_eq(name, "new/one");
}
END_TEST

START_TEST(test_find_follows_rename)
{
	unsigned char	key[JOURNAL_KEY_LEN];
	char		line[256], name[64];
	size_t		n;
	pid_t		pid;
	bool		found;
	int		fd;

	add(1, BASE, "new/one");
	fd = open(jpath, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(fd);
		key_of(2, key);
		found = false;
		if (journal_find(md, key, BASE, WIN, name, sizeof(name),
		    &found) == -1)
			_exit(2);
		_exit(found && strcmp(name, "new/two") == 0 ? 0 : 1);
	}
	/* Only the new file has message 2. */
	n = line_of(line, sizeof(line), (long long)BASE, 2, "new/two");
	replace_locked_journal(pid, fd, line, n);
	ck_assert_int_eq(child_status(pid), 0);
}
END_TEST

Suite *
journal_suite(void)
{
	Suite	*s = suite_create("journal");
	TCase	*tc;

	tc = tcase_create("lookup");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_add_then_find);
	tcase_add_test(tc, test_other_key_not_found);
	tcase_add_loop_test(tc, test_window_edges, 0,
	    (int)(sizeof(window_edges) / sizeof(window_edges[0])));
	tcase_add_test(tc, test_missing_is_not_found);
	tcase_add_test(tc, test_name_too_long_for_cap);
	tcase_add_loop_test(tc, test_bad_name_rejected, 0,
	    (int)(sizeof(bad_names) / sizeof(bad_names[0])));
	tcase_add_test(tc, test_long_name_rejected);
	tcase_add_test(tc, test_window_zero_is_off);
	tcase_add_test(tc, test_lookups_read_what_is_new);
	tcase_add_test(tc, test_more_journals_than_memos);
	suite_add_tcase(s, tc);

	tc = tcase_create("damage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_malformed_line_skipped, 0,
	    (int)(sizeof(malformed) / sizeof(malformed[0])));
	tcase_add_loop_test(tc, test_overlong_line_skipped, 0,
	    (int)(sizeof(overlong_at) / sizeof(overlong_at[0])));
	tcase_add_test(tc, test_damaged_journal_usable);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_not_a_regular_file);
	tcase_add_test(tc, test_unreadable_is_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("compaction");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_compaction_drops_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_concurrent_appends);
	tcase_add_test(tc, test_add_follows_rename);
	tcase_add_test(tc, test_find_follows_rename);
	suite_add_tcase(s, tc);
	return s;
}
