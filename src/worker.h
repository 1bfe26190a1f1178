/* SPDX-License-Identifier: MIT */
/*
 * worker: a prefork child.  Waits on every listener, accepts one
 * connection at a time and runs a session on it; tells the master when it
 * turns busy or idle; retires after max_requests connections, on SIGUSR1
 * (once idle) or on SIGTERM.
 */
#ifndef LMTPD_WORKER_H
#define LMTPD_WORKER_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "listener.h"

/* What a child writes to the status pipe: one record per change. */
enum worker_state {
	WORKER_IDLE = 1,
	WORKER_BUSY = 2,
};

struct worker_status {
	pid_t	pid;
	int	state;		/* enum worker_state */
};

/*
 * The child's main loop; never returns.  status_fd is the write end of the
 * master's status pipe (records are smaller than PIPE_BUF, so writes from
 * many children never interleave).  Exits 0 when it retires.
 */
void	worker_main(const struct conf *, const struct listener *ls, size_t n,
	    int status_fd) __attribute__((noreturn));

#endif
