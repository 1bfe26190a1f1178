/* SPDX-License-Identifier: MIT */
/*
 * buf: a byte buffer with a hard cap.  It stays NUL-terminated (data[len]
 * is '\0'), checks every growth for overflow and never grows past max.
 * A pointer into data is invalidated by any append.
 */
#ifndef LMTPD_BUF_H
#define LMTPD_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;		/* bytes in use */
	size_t	 cap;		/* bytes allocated, excluding the NUL */
	size_t	 max;		/* hard cap on len */
};

/* Embeds an empty buffer that may hold up to max bytes. */
void	buf_init(struct buf *, size_t max);
void	buf_release(struct buf *);
/* Empties the buffer, keeping its memory. */
void	buf_reset(struct buf *);
/* Appends n bytes; returns 0, or -1 with errno ENOBUFS past max. */
int	buf_append(struct buf *, const void *, size_t n);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void	buf_consume(struct buf *, size_t n);

#endif
