/* SPDX-License-Identifier: MIT */
/*
 * compat: in-kernel copies and unnamed temporary files, with portable
 * fallbacks; the service manager's protocols (sd_listen_fds, sd_notify)
 * by hand.  Not through libsystemd: it would map six more libraries into
 * every child, about 120 kB of each one's RSS, for two small protocols.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

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
	/* Not even its frame when the kernel copied it all: 64 kB of stack. */
	if (len == 0)
		return 0;
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

/* A decimal number from 0 to max, the whole string. */
static int
env_number(const char *s, long max, long *out)
{
	char	*end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		return -1;
	return 0;
}

/* The rules of sd_listen_fds(3), as libsystemd 252 applies them. */
int
compat_sd_listen_fds(bool unset_env)
{
	const char	*e;
	long		 pid, n;
	int		 fd, flags, rc = 0, saved;

	e = getenv("LISTEN_PID");
	if (e == NULL)
		goto out;
	if (env_number(e, LONG_MAX, &pid) == -1 || pid == 0) {
		errno = EINVAL;
		rc = -1;
		goto out;
	}
	if ((pid_t)pid != getpid())
		goto out;		/* meant for another process */
	e = getenv("LISTEN_FDS");
	if (e == NULL)
		goto out;
	if (env_number(e, INT_MAX - COMPAT_LISTEN_FDS_START, &n) == -1 ||
	    n == 0) {
		errno = EINVAL;
		rc = -1;
		goto out;
	}
	for (fd = COMPAT_LISTEN_FDS_START; fd < COMPAT_LISTEN_FDS_START + n;
	    fd++) {
		flags = fcntl(fd, F_GETFD);
		if (flags == -1 ||
		    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
			rc = -1;
			goto out;
		}
	}
	rc = (int)n;
out:
	if (unset_env) {
		saved = errno;
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		errno = saved;
	}
	return rc;
}

/*
 * sd_notify(3): one datagram to $NOTIFY_SOCKET, a path or, after '@', an
 * abstract name.  XXX: not its "vsock:" addresses (VMs), nor credentials
 * or descriptors: the master sends for itself and passes no fds.
 */
int
compat_sd_notify(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*e;
	size_t			 len;
	ssize_t			 n;
	int			 fd, saved;

	e = getenv("NOTIFY_SOCKET");
	if (e == NULL || e[0] == '\0')
		return 0;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len < 2 ||
	    len >= sizeof(sun.sun_path)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, e, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* An abstract name is exactly len bytes; a path may end in its NUL. */
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	saved = errno;
	close(fd);
	errno = saved;
	if (n == -1)
		return -1;
	return 0;
}

bool
compat_sd_notify_enabled(void)
{
	const char	*e = getenv("NOTIFY_SOCKET");

	return e != NULL && e[0] != '\0';
}

void
compat_set_process_name(const char *name)
{
#ifdef HAVE_SYS_PRCTL_H
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
#else
	(void)name;
#endif
}
