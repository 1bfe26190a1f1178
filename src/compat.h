/* SPDX-License-Identifier: MIT */
/*
 * compat: portability shims; the only place for #ifdef HAVE_*.
 */
#ifndef LMTPD_COMPAT_H
#define LMTPD_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The first descriptor a service manager passes (sd_listen_fds(3)). */
#define COMPAT_LISTEN_FDS_START	3

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

/*
 * sd_listen_fds(3): how many sockets the service manager passed to this
 * process, from COMPAT_LISTEN_FDS_START on (LISTEN_PID must be our pid);
 * 0 when none.  Sets close-on-exec on them.  With unset_env, removes
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES whatever the result, to the
 * rules libsystemd 252 applies.
 * Returns the count, or -1 with errno (EINVAL: a malformed variable).
 */
int	compat_sd_listen_fds(bool unset_env);

/*
 * sd_notify(3): sends state, newline-separated "NAME=value" assignments,
 * to the service manager named by $NOTIFY_SOCKET.  Returns 0 (also when
 * there is no manager: then it does nothing), or -1 with errno
 * (EAFNOSUPPORT: an address it cannot send to).  Never blocks: one
 * datagram, MSG_DONTWAIT.
 */
int	compat_sd_notify(const char *state);

/* True when compat_sd_notify() would send anything at all. */
bool	compat_sd_notify_enabled(void);

/* Names the calling process for ps(1) where the system can (Linux). */
void	compat_set_process_name(const char *);

#endif
