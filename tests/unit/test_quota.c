/* SPDX-License-Identifier: MIT */
/*
 * quota: the parse and format tables, recalculation over a mkdtemp()
 * Maildir++ tree, each of the spec's reasons to distrust maildirsize (and
 * a wrong but trusted file otherwise), appends, and the limit arithmetic
 * at its boundaries.  Time is a fixed T0, never the real clock.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quota.h"
#include "suites.h"
#include "testutil.h"

#define T0		((time_t)1796106000)
#define LIM_DEF		"1000S,10C"
#define BIG_DEF		"1000000S,1000C"
#define TRUE_FILE	LIM_DEF "\n42 1\n"	/* the rebuild of TRUE_MSG */
#define TRUE_MSG	"new/1796106000.M1P1Q1.h,S=42"

static const struct quota_limit	lim = { 1000, 10 };
static const struct quota_limit	big = { 1000000, 1000 };
static const struct quota_limit	none = { 0, 0 };

static char	root[PATH_MAX];
static char	md[PATH_MAX];		/* root/Maildir, made by make_md() */

static void
setup(void)
{
	umask(022);
	test_mkdtemp(root, sizeof(root), "quota");
	test_pathf(md, "%s/Maildir", root);
}

static void
teardown(void)
{
	(void)test_rmtree(root);
}

/* mkdir -p of md/rel's parent directories. */
static void
make_parents(const char *rel)
{
	char	path[PATH_MAX], *p;

	test_pathf(path, "%s/%s", md, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) == -1)
			ck_assert_int_eq(errno, EEXIST);
		*p = '/';
	}
}

static void
make_md(void)
{
	make_parents("tmp/x");
	make_parents("new/x");
	make_parents("cur/x");
}

/* md/rel holding len bytes of text, or all of text when len is -1. */
static void
put(const char *rel, const char *text, ssize_t len)
{
	char	path[PATH_MAX];

	make_parents(rel);
	test_pathf(path, "%s/%s", md, rel);
	if (len == -1)
		len = (ssize_t)strlen(text);
	test_write_bytes(path, text, (size_t)len);
}

/* A file of size bytes. */
static void
put_size(const char *rel, size_t size)
{
	char	buf[256];

	ck_assert_uint_le(size, sizeof(buf));
	memset(buf, 'x', size);
	put(rel, buf, (ssize_t)size);
}

static void
set_mtime(const char *rel, time_t t)
{
	char		path[PATH_MAX];
	struct timespec	ts[2];

	test_pathf(path, "%s/%s", md, rel);
	ts[0].tv_sec = t;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

/* maildirsize's text into buf; false when it does not exist. */
static int
slurp(char *buf, size_t cap)
{
	char	path[PATH_MAX];
	ssize_t	n;
	int	fd;

	test_pathf(path, "%s/maildirsize", md);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd == -1) {
		ck_assert_int_eq(errno, ENOENT);
		return 0;
	}
	n = read(fd, buf, cap - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return 1;
}

static void
assert_file(const char *want)
{
	char	buf[8192];

	ck_assert_msg(slurp(buf, sizeof(buf)), "no maildirsize");
	ck_assert_str_eq(buf, want);
}

static void
assert_no_file(void)
{
	char	buf[64];

	ck_assert_msg(!slurp(buf, sizeof(buf)), "maildirsize exists");
}

/* md/target, a regular file, holds want. */
static void
assert_target(const char *want)
{
	char	path[PATH_MAX], buf[256];
	ssize_t	n;
	int	fd;

	test_pathf(path, "%s/target", md);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	ck_assert_str_eq(buf, want);
}

/* Entries in md/tmp: a rebuild leaves none behind. */
static int
tmp_count(void)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	test_pathf(path, "%s/tmp", md);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
get(const struct quota_limit *l, time_t now, int64_t bytes, int64_t msgs)
{
	struct quota_usage	u = { -7, -7 };

	ck_assert_int_eq(quota_get(md, l, now, &u), 0);
	ck_assert_int_eq(u.bytes, bytes);
	ck_assert_int_eq(u.messages, msgs);
}

/* parse */

static const struct {
	const char	*text;
	int		 ok;
	uint64_t	 bytes;
	uint64_t	 messages;
} parses[] = {
	{ "", 1, 0, 0 },
	{ "0", 1, 0, 0 },
	{ "1024", 1, 1024, 0 },
	{ "10k", 1, 10240, 0 },
	{ "10K", 1, 10240, 0 },
	{ "5m", 1, 5 * 1048576ULL, 0 },
	{ "5M", 1, 5 * 1048576ULL, 0 },
	{ "2g", 1, 2 * 1073741824ULL, 0 },
	{ "2G", 1, 2 * 1073741824ULL, 0 },
	{ "0k", 1, 0, 0 },
	{ "007", 1, 7, 0 },
	{ "10000000S", 1, 10000000, 0 },
	{ "1000C", 1, 0, 1000 },
	{ "10000000S,1000C", 1, 10000000, 1000 },
	{ "1000C,10000000S", 1, 10000000, 1000 },
	{ "0S", 1, 0, 0 },
	{ "0S,0C", 1, 0, 0 },
	{ "9223372036854775807", 1, INT64_MAX, 0 },
	{ "9223372036854775807S,9223372036854775807C", 1, INT64_MAX,
	    INT64_MAX },
	{ "8589934591g", 1, 8589934591ULL << 30, 0 },
	{ "9223372036854775808", 0, 0, 0 },
	{ "18446744073709551616", 0, 0, 0 },
	{ "8589934592g", 0, 0, 0 },
	{ "9007199254740992k", 0, 0, 0 },
	{ "9223372036854775808S", 0, 0, 0 },
	{ "9223372036854775808C", 0, 0, 0 },
	{ " 10", 0, 0, 0 },
	{ "10 ", 0, 0, 0 },
	{ "-1", 0, 0, 0 },
	{ "+1", 0, 0, 0 },
	{ "0x10", 0, 0, 0 },
	{ "1.5m", 0, 0, 0 },
	{ "10kb", 0, 0, 0 },
	{ "10kk", 0, 0, 0 },
	{ "10x", 0, 0, 0 },
	{ "10T", 0, 0, 0 },
	{ "k", 0, 0, 0 },
	{ "S", 0, 0, 0 },
	{ "10s", 0, 0, 0 },
	{ "10c", 0, 0, 0 },
	{ "10S,", 0, 0, 0 },
	{ ",10S", 0, 0, 0 },
	{ "10S,,5C", 0, 0, 0 },
	{ "10S,20S", 0, 0, 0 },
	{ "10C,20C", 0, 0, 0 },
	{ "10S,20C,30S", 0, 0, 0 },
	{ "10S 20C", 0, 0, 0 },
	{ "10S;20C", 0, 0, 0 },
	{ "10k,5C", 0, 0, 0 },
	{ "10S,5", 0, 0, 0 },
	{ "10SC", 0, 0, 0 },
};

START_TEST(test_parse)
{
	struct quota_limit	l = { 77, 77 };
	int			rc;

	errno = 0;
	rc = quota_parse(parses[_i].text, &l);
	if (parses[_i].ok) {
		ck_assert_msg(rc == 0, "\"%s\" refused", parses[_i].text);
		ck_assert_uint_eq(l.bytes, parses[_i].bytes);
		ck_assert_uint_eq(l.messages, parses[_i].messages);
	} else {
		ck_assert_msg(rc == -1, "\"%s\" taken", parses[_i].text);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(l.bytes, 77);
		ck_assert_uint_eq(l.messages, 77);
	}
}
END_TEST

static const struct {
	uint64_t	 bytes;
	uint64_t	 messages;
	const char	*text;
} formats[] = {
	{ 0, 0, "0S" },
	{ 5, 0, "5S" },
	{ 0, 7, "7C" },
	{ 10485760, 1000, "10485760S,1000C" },
	{ INT64_MAX, INT64_MAX, "9223372036854775807S,9223372036854775807C" },
};

START_TEST(test_format_round_trip)
{
	struct quota_limit	l, back = { 77, 77 };
	char			buf[QUOTA_FORMAT_MAX];

	l.bytes = formats[_i].bytes;
	l.messages = formats[_i].messages;
	ck_assert_int_eq(quota_format(&l, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, formats[_i].text);
	ck_assert_int_eq(quota_parse(buf, &back), 0);
	ck_assert_uint_eq(back.bytes, l.bytes);
	ck_assert_uint_eq(back.messages, l.messages);
}
END_TEST

START_TEST(test_format_too_small)
{
	struct quota_limit	l = { UINT64_MAX, UINT64_MAX };
	char			buf[QUOTA_FORMAT_MAX];
	size_t			len;

	/* QUOTA_FORMAT_MAX holds the longest. */
	ck_assert_int_eq(quota_format(&l, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(strlen(buf), QUOTA_FORMAT_MAX - 1);

	l.bytes = 10485760;
	l.messages = 1000;
	len = strlen("10485760S,1000C");
	ck_assert_int_eq(quota_format(&l, buf, len + 1), 0);
	errno = 0;
	ck_assert_int_eq(quota_format(&l, buf, len), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(buf, "");
	errno = 0;
	ck_assert_int_eq(quota_format(&l, buf, 0), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(test_is_set)
{
	struct quota_limit	l = { 0, 0 };

	ck_assert(!quota_is_set(&l));
	l.bytes = 1;
	ck_assert(quota_is_set(&l));
	l.bytes = 0;
	l.messages = 1;
	ck_assert(quota_is_set(&l));
}
END_TEST

/* recalc: one file next to a 5-byte message in an otherwise empty tree. */

static const struct {
	const char	*rel;
	size_t		 len;		/* bytes in the file */
	int64_t		 bytes;		/* what it counts */
	int64_t		 messages;
} files[] = {
	/* ,S= wins over the real size. */
	{ "new/1796106000.M1P1Q1.h,S=100", 3, 100, 1 },
	{ "cur/1796106000.M1P1Q1.h,S=100:2,S", 3, 100, 1 },
	{ "cur/1796106000.M1P1Q1.h,S=12,W=14:2,", 3, 12, 1 },
	/* No usable ,S=: stat. */
	{ "new/1796106000.M1P1Q1.h", 50, 50, 1 },
	{ "cur/1796106000.M1P1Q1.h:2,S", 50, 50, 1 },
	{ "new/1796106000.M1P1Q1.h,S=", 9, 9, 1 },
	{ "new/1796106000.M1P1Q1.h,S=1x", 9, 9, 1 },
	{ "cur/1796106000.M1P1Q1.h:2,S=7", 9, 9, 1 },
	/* Dot names are not messages. */
	{ "new/.1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	{ "cur/.hidden", 50, 0, 0 },
	/* tmp/ is not mail yet; a directory in new/ is no message. */
	{ "tmp/1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	{ "new/junk/1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	/* Maildir++ folders count, and their tmp/ does not. */
	{ ".Work/cur/1796106000.M1P1Q1.h,S=400:2,S", 3, 400, 1 },
	{ ".Work/new/1796106000.M1P1Q1.h", 7, 7, 1 },
	{ ".Work.Sub/new/1796106000.M1P1Q1.h,S=8", 3, 8, 1 },
	{ ".Work/tmp/1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	{ ".Work/.Sub/new/1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	{ ".Work/new/.1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	/* Courier does not count Trash. */
	{ ".Trash/cur/1796106000.M1P1Q1.h,S=5000:2,S", 3, 0, 0 },
	{ ".Trash/new/1796106000.M1P1Q1.h", 50, 0, 0 },
	/* No dot, no folder; a dot file in the root is no folder. */
	{ "Work/new/1796106000.M1P1Q1.h,S=100", 3, 0, 0 },
	{ ".qmail", 50, 0, 0 },
};

START_TEST(test_recalc_file)
{
	char	want[128];
	int	n_tmp;

	make_md();
	put_size("new/1796106000.M0P0Q0.h,S=5", 1);
	put_size(files[_i].rel, files[_i].len);
	n_tmp = tmp_count();
	get(&big, T0, 5 + files[_i].bytes, 1 + files[_i].messages);
	ck_assert_int_eq(tmp_count(), n_tmp);
	snprintf(want, sizeof(want), BIG_DEF "\n%lld %lld\n",
	    (long long)(5 + files[_i].bytes),
	    (long long)(1 + files[_i].messages));
	assert_file(want);
}
END_TEST

START_TEST(test_recalc_tree)
{
	size_t	i;

	make_md();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put_size(files[i].rel, files[i].len);
	/* 100+100+12+50+50+9+9+9 in the Maildir, 400+7+8 in folders. */
	get(&big, T0, 754, 11);
	assert_file(BIG_DEF "\n754 11\n");
	ck_assert_int_eq(tmp_count(), 1);	/* the one put there */
}
END_TEST

START_TEST(test_add_summed)
{
	make_md();
	put_size("new/1796106000.M0P0Q0.h,S=100", 1);
	get(&big, T0, 100, 1);
	ck_assert_int_eq(quota_add(md, &big, 250, 1), 0);
	ck_assert_int_eq(quota_add(md, &big, -100, -1), 0);
	ck_assert_int_eq(quota_add(md, &big, 0, 0), 0);
	assert_file(BIG_DEF "\n100 1\n250 1\n-100 -1\n");
	/* The sum of the lines, not a scan: the tree still holds 100 1. */
	get(&big, T0, 250, 1);
	assert_file(BIG_DEF "\n100 1\n250 1\n-100 -1\n");
}
END_TEST

START_TEST(test_add_needs_file_and_limit)
{
	char	path[PATH_MAX];

	/* No Maildir: nothing made. */
	ck_assert_int_eq(quota_add(md, &lim, 10, 1), 0);
	ck_assert_int_eq(access(md, F_OK), -1);
	/* No maildirsize: the next quota_get() counts. */
	make_md();
	ck_assert_int_eq(quota_add(md, &lim, 10, 1), 0);
	assert_no_file();
	/* No limit: the file is not ours to keep. */
	put("maildirsize", LIM_DEF "\n1 1\n", -1);
	ck_assert_int_eq(quota_add(md, &none, 10, 1), 0);
	assert_file(LIM_DEF "\n1 1\n");
	/* A symlink is not written through. */
	test_pathf(path, "%s/maildirsize", md);
	ck_assert_int_eq(unlink(path), 0);
	put("target", LIM_DEF "\n1 1\n", -1);
	ck_assert_int_eq(symlink("target", path), 0);
	ck_assert_int_eq(quota_add(md, &lim, 10, 1), 0);
	assert_target(LIM_DEF "\n1 1\n");
}
END_TEST

START_TEST(test_no_limit_no_disk)
{
	make_md();
	put_size(TRUE_MSG, 1);
	get(&none, T0, 0, 0);
	assert_no_file();
	/* Not even a read: an unreadable path is no error without limit. */
	chmod(md, 0);
	get(&none, T0, 0, 0);
	chmod(md, 0700);
}
END_TEST

START_TEST(test_missing_maildir)
{
	get(&lim, T0, 0, 0);
	ck_assert_int_eq(access(md, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_half_made_maildir)
{
	char	path[PATH_MAX];

	/* No tmp/ for the rebuild: the count stands, nothing is written. */
	put_size(TRUE_MSG, 1);
	get(&lim, T0, 42, 1);
	assert_no_file();
	test_pathf(path, "%s/tmp", md);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_not_a_directory)
{
	struct quota_usage	u;
	int			fd;

	fd = open(md, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	errno = 0;
	ck_assert_int_eq(quota_get(md, &lim, T0, &u), -1);
	ck_assert_int_eq(errno, ENOTDIR);
}
END_TEST

START_TEST(test_unreadable)
{
	struct quota_usage	u;
	char			path[PATH_MAX];

	if (geteuid() == 0)
		return;		/* root reads anything */
	make_md();
	put_size(TRUE_MSG, 1);
	test_pathf(path, "%s/cur", md);
	ck_assert_int_eq(chmod(path, 0), 0);
	errno = 0;
	ck_assert_int_eq(quota_get(md, &lim, T0, &u), -1);
	ck_assert_int_eq(errno, EACCES);
	assert_no_file();
	ck_assert_int_eq(chmod(path, 0700), 0);

	put("maildirsize", TRUE_FILE, -1);
	test_pathf(path, "%s/maildirsize", md);
	ck_assert_int_eq(chmod(path, 0), 0);
	errno = 0;
	ck_assert_int_eq(quota_get(md, &lim, T0, &u), -1);
	ck_assert_int_eq(errno, EACCES);
}
END_TEST

START_TEST(test_rebuild_error)
{
	struct quota_usage	u;

	/* A directory in its place: the rename's error is returned. */
	make_md();
	put_size(TRUE_MSG, 1);
	make_parents("maildirsize/x");
	errno = 0;
	ck_assert_int_eq(quota_get(md, &lim, T0, &u), -1);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(tmp_count(), 0);
}
END_TEST

/*
 * trust: a maildirsize (modified at T0) over a tree that really holds
 * 42 bytes in 1 message, read at T0 with the limit 1000S,10C.
 */

static const struct {
	const char	*text;
	int		 trusted;
	int64_t		 bytes;
	int64_t		 messages;
} files_read[] = {
	/* Deliberately wrong, fresh and small: trusted. */
	{ LIM_DEF "\n5 1\n", 1, 5, 1 },
	{ "10C,1000S\n5 1\n", 1, 5, 1 },
	{ LIM_DEF "\n  5   1        \n", 1, 5, 1 },
	{ LIM_DEF "   \n5 1\n", 1, 5, 1 },
	{ LIM_DEF "\n5 1\n-2 0\n7 2\n", 1, 10, 3 },
	{ LIM_DEF "\n5 1\n3 1", 1, 5, 1 },
	{ LIM_DEF "\n999 9\n", 1, 999, 9 },
	{ LIM_DEF "\n500 5\n499 4\n", 1, 999, 9 },
	/* Over quota, one line, fresh: trusted. */
	{ LIM_DEF "\n5000 1\n", 1, 5000, 1 },
	{ LIM_DEF "\n5 11\n", 1, 5, 11 },
	/* Full with more than one line: rebuilt. */
	{ LIM_DEF "\n500 5\n500 1\n", 0, 0, 0 },
	{ LIM_DEF "\n5 5\n0 5\n", 0, 0, 0 },
	{ LIM_DEF "\n4000 1\n1000 1\n", 0, 0, 0 },
	/* The definition changed, or is not Maildir++: rebuilt. */
	{ "2000S,10C\n5 1\n", 0, 0, 0 },
	{ "1000S\n5 1\n", 0, 0, 0 },
	{ "1000S,10C,5S\n5 1\n", 0, 0, 0 },
	{ "1000s,10c\n5 1\n", 0, 0, 0 },
	{ "1k,10C\n5 1\n", 0, 0, 0 },
	{ "garbage\n5 1\n", 0, 0, 0 },
	/* Broken or incomplete: rebuilt. */
	{ "", 0, 0, 0 },
	{ LIM_DEF, 0, 0, 0 },
	{ LIM_DEF "\n", 0, 0, 0 },
	{ LIM_DEF "\n5 x\n", 0, 0, 0 },
	{ LIM_DEF "\n5\n", 0, 0, 0 },
	{ LIM_DEF "\n5 1 2\n", 0, 0, 0 },
	{ LIM_DEF "\n5,1\n", 0, 0, 0 },
	{ LIM_DEF "\n\n5 1\n", 0, 0, 0 },
	{ LIM_DEF "\n-5 -1\n", 0, 0, 0 },
	{ LIM_DEF "\n9223372036854775807 1\n1 0\n", 0, 0, 0 },
};

START_TEST(test_trust)
{
	make_md();
	put_size(TRUE_MSG, 1);
	put("maildirsize", files_read[_i].text, -1);
	set_mtime("maildirsize", T0);
	if (files_read[_i].trusted) {
		get(&lim, T0, files_read[_i].bytes, files_read[_i].messages);
		assert_file(files_read[_i].text);
	} else {
		get(&lim, T0, 42, 1);
		assert_file(TRUE_FILE);
	}
	ck_assert_int_eq(tmp_count(), 0);
}
END_TEST

START_TEST(test_nul_byte_rebuilt)
{
	make_md();
	put_size(TRUE_MSG, 1);
	put("maildirsize", LIM_DEF "\n5 1\n\0\n", (ssize_t)sizeof(LIM_DEF) + 6);
	set_mtime("maildirsize", T0);
	get(&lim, T0, 42, 1);
	assert_file(TRUE_FILE);
}
END_TEST

/*
 * _i 0: 5119 bytes, trusted; _i 1: 5120, rebuilt.  Courier-padded
 * "1 0" lines, each 14 bytes, so the file sums to one byte per line.
 */
START_TEST(test_trigger_size)
{
	static char	buf[6000];
	size_t		len = _i == 0 ? 5119 : 5120, off, rest, lines = 0;

	make_md();
	put_size(TRUE_MSG, 1);
	off = strlen(LIM_DEF "\n");
	memcpy(buf, LIM_DEF "\n", off);
	while (off < len) {
		rest = len - off;
		if (rest >= 14 + 4 || rest == 14)
			rest = 14;
		memset(buf + off, ' ', rest);
		memcpy(buf + off, "1 0", 3);
		buf[off + rest - 1] = '\n';
		off += rest;
		lines++;
	}
	ck_assert_uint_eq(off, len);
	buf[off] = '\0';
	put("maildirsize", buf, (ssize_t)len);
	set_mtime("maildirsize", T0);
	if (_i == 0) {
		get(&lim, T0, (int64_t)lines, 0);
		assert_file(buf);
	} else {
		get(&lim, T0, 42, 1);
		assert_file(TRUE_FILE);
	}
}
END_TEST

START_TEST(test_trigger_old_when_over)
{
	make_md();
	put_size(TRUE_MSG, 1);
	/* Not full: age does not matter. */
	put("maildirsize", LIM_DEF "\n5 1\n", -1);
	set_mtime("maildirsize", T0);
	get(&lim, T0 + 30 * 86400, 5, 1);
	/* Full: trusted for 15 minutes, then rebuilt. */
	put("maildirsize", LIM_DEF "\n5000 1\n", -1);
	set_mtime("maildirsize", T0);
	get(&lim, T0 + 15 * 60 - 1, 5000, 1);
	assert_file(LIM_DEF "\n5000 1\n");
	get(&lim, T0 + 15 * 60, 42, 1);
	assert_file(TRUE_FILE);
}
END_TEST

START_TEST(test_trigger_missing)
{
	char	path[PATH_MAX];

	make_md();
	put_size(TRUE_MSG, 1);
	get(&lim, T0, 42, 1);
	assert_file(TRUE_FILE);

	/* A symlink in its place is replaced, its target left alone. */
	test_pathf(path, "%s/maildirsize", md);
	ck_assert_int_eq(unlink(path), 0);
	put("target", LIM_DEF "\n5 1\n", -1);
	ck_assert_int_eq(symlink("target", path), 0);
	get(&lim, T0, 42, 1);
	assert_file(TRUE_FILE);
	assert_target(LIM_DEF "\n5 1\n");
}
END_TEST

/* exceeded */

static const struct {
	uint64_t	lim_bytes, lim_messages;
	int64_t		used_bytes, used_messages;
	uint64_t	add_bytes, add_messages;
	int		want;
} exceeds[] = {
	{ 1000, 0, 900, 0, 100, 1, 0 },
	{ 1000, 0, 900, 0, 101, 1, 1 },
	{ 1000, 0, 1000, 0, 0, 0, 0 },
	{ 1000, 0, 1000, 0, 1, 0, 1 },
	{ 1000, 0, 1001, 0, 0, 0, 1 },
	{ 0, 10, 0, 9, 0, 1, 0 },
	{ 0, 10, 0, 9, 0, 2, 1 },
	{ 0, 10, 0, 10, 0, 1, 1 },
	{ 1000, 10, 999, 9, 1, 1, 0 },
	{ 1000, 10, 999, 9, 1, 2, 1 },
	{ 1000, 10, 999, 9, 2, 1, 1 },
	/* An axis without a limit never counts. */
	{ 0, 10, INT64_MAX, 9, UINT64_MAX, 1, 0 },
	{ 1000, 0, 0, INT64_MAX, 0, UINT64_MAX, 0 },
	{ 0, 0, INT64_MAX, INT64_MAX, UINT64_MAX, UINT64_MAX, 0 },
	/* No wraparound. */
	{ 1000, 0, 500, 0, UINT64_MAX, 0, 1 },
	{ UINT64_MAX, 0, INT64_MAX, 0, UINT64_MAX, 0, 1 },
	{ UINT64_MAX, 0, INT64_MAX, 0, UINT64_MAX - INT64_MAX, 0, 0 },
	/* Negative usage counts as 0. */
	{ 1000, 0, -500, 0, 1000, 0, 0 },
	{ 1000, 0, -500, 0, 1001, 0, 1 },
	{ 1000, 0, INT64_MIN, 0, 1001, 0, 1 },
};

START_TEST(test_exceeded)
{
	struct quota_limit	l;
	struct quota_usage	u;

	l.bytes = exceeds[_i].lim_bytes;
	l.messages = exceeds[_i].lim_messages;
	u.bytes = exceeds[_i].used_bytes;
	u.messages = exceeds[_i].used_messages;
	ck_assert_int_eq(quota_exceeded(&l, &u, exceeds[_i].add_bytes,
	    exceeds[_i].add_messages), exceeds[_i].want);
}
END_TEST

#define N(a)	((int)(sizeof(a) / sizeof((a)[0])))

Suite *
quota_suite(void)
{
	Suite	*s = suite_create("quota");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse, 0, N(parses));
	tcase_add_loop_test(tc, test_format_round_trip, 0, N(formats));
	tcase_add_test(tc, test_format_too_small);
	tcase_add_test(tc, test_is_set);
	suite_add_tcase(s, tc);

	tc = tcase_create("recalc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_recalc_file, 0, N(files));
	tcase_add_test(tc, test_recalc_tree);
	tcase_add_test(tc, test_add_summed);
	tcase_add_test(tc, test_add_needs_file_and_limit);
	tcase_add_test(tc, test_no_limit_no_disk);
	tcase_add_test(tc, test_missing_maildir);
	tcase_add_test(tc, test_half_made_maildir);
	tcase_add_test(tc, test_not_a_directory);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_rebuild_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("trust");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_trust, 0, N(files_read));
	tcase_add_test(tc, test_nul_byte_rebuilt);
	tcase_add_loop_test(tc, test_trigger_size, 0, 2);
	tcase_add_test(tc, test_trigger_old_when_over);
	tcase_add_test(tc, test_trigger_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("exceeded");
	tcase_add_loop_test(tc, test_exceeded, 0, N(exceeds));
	suite_add_tcase(s, tc);
	return s;
}
