/* SPDX-License-Identifier: MIT */
/*
 * util: allocation that never returns NULL, and small string helpers.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sysexits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static void
oom(size_t n)
{
	log_fatalx(EX_OSERR, "out of memory (%zu bytes)", n);
}

void *
xmalloc(size_t n)
{
	void	*p;

	p = malloc(n == 0 ? 1 : n);
	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p;

	if (size != 0 && n > SIZE_MAX / size)
		oom(SIZE_MAX);
	p = realloc(old, n * size == 0 ? 1 : n * size);
	if (p == NULL)
		oom(n * size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;
	size_t	 len;

	len = strnlen(s, n);
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void
x_free(void *p)
{
	free(p);
}

static inline char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool
util_strcaseeq(const char *a, const char *b)
{
	while (*a != '\0' && lower(*a) == lower(*b)) {
		a++;
		b++;
	}
	return lower(*a) == lower(*b);
}

void
util_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = lower(*s);
}

int
util_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t	len;

	len = strlen(src);
	if (cap == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (len >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int
util_write_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static pid_t	util_pid;

static void
util_pid_forget(void)
{
	util_pid = 0;
}

pid_t
util_getpid(void)
{
	static bool	registered;

	if (!registered) {
		(void)pthread_atfork(NULL, NULL, util_pid_forget);
		registered = true;
	}
	if (util_pid == 0)
		util_pid = getpid();
	return util_pid;
}

int
util_close_failing(int fd)
{
	int	saved = errno;

	(void)close(fd);
	errno = saved;
	return -1;
}
