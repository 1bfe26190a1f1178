/* SPDX-License-Identifier: MIT */
/*
 * testutil: the mkdtemp() trees, paths and files of the unit tests'
 * fixtures, in one place.  Failures end the running test through Check;
 * only test_rmtree() reports instead, since teardowns ignore it.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static int	open_up(const char *, const struct stat *, int, struct FTW *);
static int	rm_entry(const char *, const struct stat *, int, struct FTW *);

void
test_mkdtemp(char *out, size_t cap, const char *tag)
{
	const char	*t = getenv("TMPDIR");

	test_mkdtemp_in(out, cap, t != NULL && *t != '\0' ? t : "/tmp", tag);
}

void
test_mkdtemp_in(char *out, size_t cap, const char *base, const char *tag)
{
	int	n;

	n = snprintf(out, cap, "%s/lmtpd-%s.XXXXXX", base, tag);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_lt((size_t)n, cap);
	ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out,
	    strerror(errno));
}

/*
 * Pre-order, so a directory is writable before its entries go; one that
 * could not be read is, from now on, and the removal pass descends.
 */
static int
open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		(void)chmod(path, 0700);
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
test_rmtree(const char *path)
{
	(void)nftw(path, open_up, 16, FTW_PHYS);
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
test_pathf(char *out, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	ck_assert_int_lt(n, PATH_MAX);
}

void
test_write_bytes(const char *path, const void *p, size_t n)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

void
test_write_file(const char *path, const char *text)
{
	test_write_bytes(path, text, strlen(text));
}
