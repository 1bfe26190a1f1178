/* SPDX-License-Identifier: MIT */
/*
 * status: the process that answers `lmtpd -s` on the status socket and,
 * when metrics_listen is set, Prometheus scrapes over HTTP.  It only reads
 * the shared counters (stats.h), one client at a time with short
 * timeouts, so a slow client delays other readers, never mail.
 */
#ifndef LMTPD_STATUS_H
#define LMTPD_STATUS_H

#include <stddef.h>

/*
 * Serves until SIGTERM, or until master_fd (the write end of the
 * master's status pipe) reports that its reader, the master, is gone;
 * never returns.  status_fd and metrics_fd are listening sockets
 * (non-blocking), either may be -1.
 */
void	status_main(int status_fd, int metrics_fd, int master_fd)
	    __attribute__((noreturn));

/*
 * Answers one HTTP request (the bytes read so far, len of them) into out
 * (cap bytes): 200 with the metrics for GET /metrics (and GET /), 404 for
 * other paths, 405 for other methods, 400 for garbage.  Returns the
 * response length.  Exposed for the unit tests.
 */
size_t	status_http_response(const char *req, size_t len, char *out,
	    size_t cap);

/*
 * Connects to the status socket at path and copies what it says to
 * stdout.  Returns 0, or -1 with a message in err (cap bytes).
 */
int	status_query(const char *path, char *err, size_t cap);

#endif
