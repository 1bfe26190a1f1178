/* SPDX-License-Identifier: MIT */
/*
 * util: the allocation family, a few string helpers, and a whole write.
 * Allocation failures log and exit: the client sees a lost connection and
 * retries, so no caller tests for NULL.  Only util.c calls malloc.
 */
#ifndef LMTPD_UTIL_H
#define LMTPD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Returns a heap string; exits on overflow or memory exhaustion. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 x_free(void *);

/* ASCII case-insensitive comparison of two NUL-terminated strings. */
bool	 util_strcaseeq(const char *, const char *);
/* ASCII lower-casing in place. */
void	 util_lower(char *);
/*
 * Copies src into dst of size cap; returns 0, or -1 with errno ENAMETOOLONG
 * when it does not fit (dst then holds a truncated, terminated string).
 */
int	 util_strlcpy(char *dst, const char *src, size_t cap);
/*
 * write(2)s all n bytes of p to fd, again after short writes and EINTR
 * (QMD: every write is checked).  Returns 0, or -1 with errno.  Blocks.
 */
int	 util_write_all(int fd, const void *p, size_t n);
/* For error paths: closes fd, keeping errno as it was; returns -1. */
int	 util_close_failing(int fd);
/*
 * getpid(2), asked once per process: forgotten in every child fork(3)
 * makes (pthread_atfork), so a child never sees its parent's.  Log lines
 * and Maildir names ask for it several times per message.
 */
pid_t	 util_getpid(void);

#endif
