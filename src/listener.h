/* SPDX-License-Identifier: MIT */
/*
 * listener: bind and listen on TCP (IPv4, IPv6) and Unix-domain sockets.
 * Returns file descriptors only; accepting is the worker's.  A stale Unix
 * socket (nobody answers on it) is replaced; a path that is not a socket
 * is never removed.
 */
#ifndef LMTPD_LISTENER_H
#define LMTPD_LISTENER_H

#include <stddef.h>

#include "conf.h"

struct listener {
	int			fd;	/* non-blocking, close-on-exec */
	enum conf_listen_kind	kind;
	char			name[128];	/* for logs: "inet:127.0.0.1:24" */
	char			path[108];	/* unix: the socket path */
};

/*
 * Opens one listener from its config entry; unix sockets get the mode,
 * owner and group from conf.  Returns 0, or -1 with a message in err
 * (cap bytes) naming the listener and the reason.
 */
int	listener_open(const struct conf_listen *, const struct conf *,
	    struct listener *out, char *err, size_t cap);

/*
 * Opens every listener of conf into ls (n_listen entries, caller's
 * array).  On failure closes what it opened and returns -1 with err.
 */
int	listener_open_all(const struct conf *, struct listener *ls,
	    char *err, size_t cap);

/*
 * Stops listening (in every process holding a copy), closes the
 * descriptor and, for a unix socket, removes the path.
 */
void	listener_close(struct listener *);

#endif
