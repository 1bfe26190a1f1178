/* SPDX-License-Identifier: MIT */
/*
 * compat: in-kernel copies and unnamed temporary files, with portable
 * fallbacks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "compat.h"

#define COPY_BUF_SIZE	(64 * 1024)

static int
copy_through_buffer(int in_fd, off_t *in_off, int out_fd, off_t len)
{
	char	buf[COPY_BUF_SIZE];
	ssize_t	n, w, done;

	while (len > 0) {
		n = pread(in_fd, buf, len < (off_t)sizeof(buf) ?
		    (size_t)len : sizeof(buf), *in_off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;	/* the spool is shorter than it said */
			return -1;
		}
		for (done = 0; done < n; done += w) {
			w = write(out_fd, buf + done, (size_t)(n - done));
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w == -1)
				return -1;
		}
		*in_off += n;
		len -= n;
	}
	return 0;
}

int
compat_copy_range(int in_fd, off_t *in_off, int out_fd, off_t len)
{
#ifdef HAVE_COPY_FILE_RANGE
	ssize_t	n;

	while (len > 0) {
		n = copy_file_range(in_fd, in_off, out_fd, NULL,
		    len > SSIZE_MAX ? SSIZE_MAX : (size_t)len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EXDEV || errno == EINVAL ||
		    errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF))
			break;	/* not here: copy through user space */
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		len -= n;
	}
#endif
	return copy_through_buffer(in_fd, in_off, out_fd, len);
}

int
compat_tmpfile(const char *dir)
{
	char	path[PATH_MAX];
	int	fd;

#if HAVE_DECL_O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -1;
#endif
	if (snprintf(path, sizeof(path), "%s/lmtpd.XXXXXX", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (unlink(path) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
