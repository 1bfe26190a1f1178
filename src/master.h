/* SPDX-License-Identifier: MIT */
/*
 * master: the prefork pool.  Keeps between min_spare and max_spare idle
 * children (never more than max_children), replaces those that exit, with
 * a back-off when they die young, and handles the signals: SIGHUP reloads
 * the config (a bad one is logged and the old kept), SIGTERM/SIGINT stop
 * accepting and wait (bounded by shutdown_timeout) for children to finish.
 * Waits in ppoll() with signals blocked otherwise.
 */
#ifndef LMTPD_MASTER_H
#define LMTPD_MASTER_H

#include <stddef.h>

#include "conf.h"
#include "listener.h"

/*
 * Runs the pool until stopped.  conf is owned by the master from here on
 * (replaced on reload); conf_path is the file to re-read on SIGHUP (NULL:
 * defaults).  stat_fd and metrics_fd are listening sockets for the status
 * process (status.h), or -1; the caller closes them afterwards.  Returns
 * the process exit status (0 on a clean stop).
 */
int	master_run(struct conf *conf, const char *conf_path,
	    struct listener *ls, size_t n, int stat_fd, int metrics_fd);

#endif
