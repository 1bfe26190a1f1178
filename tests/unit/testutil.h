/* SPDX-License-Identifier: MIT */
/*
 * Fixture plumbing the unit tests share: a mkdtemp() tree, PATH_MAX paths,
 * whole files, and removing the tree again.  Not a suite.  Every helper
 * but test_rmtree() fails the running test (Check's ck_assert) instead of
 * returning an error, so a test never goes on with a half-made fixture.
 */
#ifndef LMTPD_TEST_TESTUTIL_H
#define LMTPD_TEST_TESTUTIL_H

#include <stddef.h>

/*
 * Room enough for a test tree's name: a path built on it in a PATH_MAX
 * buffer cannot be cut short, so such a buffer needs no truncation check.
 */
#define TEST_DIR_MAX	256

/*
 * Makes a fresh directory "<$TMPDIR, or /tmp when unset or empty>/
 * lmtpd-<tag>.XXXXXX" with mode 0700 and leaves its name in out (cap
 * bytes, PATH_MAX is plenty).  Fails the test when the name does not fit
 * or mkdtemp(3) fails.  The caller removes the tree, see test_rmtree().
 */
void	test_mkdtemp(char *out, size_t cap, const char *tag);

/*
 * test_mkdtemp() under base instead of $TMPDIR: for trees that another
 * user (nobody) must reach, whose parents must then be searchable by all,
 * as /tmp is.
 */
void	test_mkdtemp_in(char *out, size_t cap, const char *base,
	    const char *tag);

/*
 * Removes path and everything below it, without following symlinks
 * (nftw FTW_DEPTH | FTW_PHYS).  Directories get mode 0700 first, so what
 * a test made read-only or unreadable can go too.  Stops at the first
 * entry it cannot remove.  Returns 0, or -1 with errno set; teardowns
 * ignore that, a test that relies on the removal checks it.
 */
int	test_rmtree(const char *path);

/*
 * snprintf(3) into out, a PATH_MAX buffer.  Fails the test on an
 * encoding error or on truncation.
 */
void	test_pathf(char *out, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Creates or truncates path (mode 0600 for a new file, symlinks followed)
 * and writes the n bytes at p, then closes it.  Fails the test when any
 * step fails or writes short.
 */
void	test_write_bytes(const char *path, const void *p, size_t n);

/* test_write_bytes() of the NUL-terminated text, without the NUL. */
void	test_write_file(const char *path, const char *text);

#endif
