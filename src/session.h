/* SPDX-License-Identifier: MIT */
/*
 * session: one LMTP connection.  Owns the socket I/O (non-blocking, with
 * command and data timeouts), the spool file, and the engine's hooks,
 * which resolve recipients and write each copy into its Maildir.  Logs one
 * line per recipient result, Postfix-style.
 */
#ifndef LMTPD_SESSION_H
#define LMTPD_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "conf.h"

/*
 * Serves the connection on fd (already accepted, non-blocking) to its
 * end and closes it.  peer describes the client (NULL or an AF_UNIX
 * address for local).
 * The caller keeps SIGTERM (and any signal that should interrupt a wait)
 * blocked; waitmask is the mask to wait under, so those signals are only
 * taken while the session waits for the client.  When *stopping becomes
 * non-zero the session lets an open transaction finish (its replies are
 * sent), then answers 421 4.3.2 and closes.
 */
void	session_run(int fd, const struct sockaddr *peer, socklen_t peer_len,
	    const struct conf *, const sigset_t *waitmask,
	    const volatile sig_atomic_t *stopping);

#endif
