/* SPDX-License-Identifier: MIT */
/*
 * compat: portability shims; the only place for #ifdef HAVE_*.
 */
#ifndef LMTPD_COMPAT_H
#define LMTPD_COMPAT_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Copies len bytes from in_fd at offset *in_off to the current offset of
 * out_fd, in the kernel where it can (copy_file_range), else through a
 * buffer.  Advances *in_off.  Returns 0, or -1 with errno set.
 */
int	compat_copy_range(int in_fd, off_t *in_off, int out_fd, off_t len);

/*
 * Opens an unnamed temporary file in dir (O_TMPFILE where the file system
 * has it, else mkstemp and unlink).  Returns the fd (O_RDWR, close-on-exec)
 * or -1 with errno set.
 */
int	compat_tmpfile(const char *dir);

#endif
