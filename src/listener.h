/* SPDX-License-Identifier: MIT */
/*
 * listener: bind and listen on TCP (IPv4, IPv6) and Unix-domain sockets,
 * or adopt the listening sockets a service manager passed (socket
 * activation, sd_listen_fds(3)) instead.  Returns file descriptors only;
 * accepting is the worker's.  A stale Unix socket (nobody answers on it)
 * is replaced; a path that is not a socket is never removed, nor is the
 * path of a socket lmtpd did not bind.
 */
#ifndef LMTPD_LISTENER_H
#define LMTPD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/*
 * name is for logs: "inet:127.0.0.1:24", or for an inherited socket
 * "systemd:inet:127.0.0.1:24", "systemd:unix:/run/lmtpd/lmtp.sock".
 * An inherited socket was passed by the service manager, which owns it.
 */
struct listener {
	int			fd;	/* non-blocking, close-on-exec, or -1 */
	enum conf_listen_kind	kind;
	char			name[128];
	char			path[108];	/* unix: the socket path */
	bool			inherited;
};

/*
 * Opens one listener from its config entry; unix sockets get the mode,
 * owner and group from conf.  Returns 0, or -1 with a message in err
 * (cap bytes) naming the listener and the reason.
 */
int	listener_open(const struct conf_listen *, const struct conf *,
	    struct listener *out, char *err, size_t cap);

/*
 * Opens the listeners.  When the service manager passed sockets to this
 * process (LISTEN_PID, LISTEN_FDS), adopts those and binds none: conf's
 * listen entries are not used.  Each passed socket must be a listening
 * stream socket, TCP or Unix; it is made non-blocking and close-on-exec.
 * Otherwise binds every entry of conf's listen.  Removes LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES from the environment either way.
 * Returns a new array of *n_out listeners, which the caller frees with
 * x_free() after listener_close() on each; or NULL with a message in err
 * (cap bytes) and errno, having closed what it opened.
 */
struct listener	*listener_open_set(const struct conf *, size_t *n_out,
		    char *err, size_t cap);

/*
 * Closes the descriptor.  A socket lmtpd bound also stops listening (in
 * every process holding a copy) and, for a unix socket, loses its path.
 * An inherited one is left to the service manager: still listening, so
 * connections wait for the next start, and its path stays.
 */
void	listener_close(struct listener *);

#endif
