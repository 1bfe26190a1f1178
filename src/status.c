/* SPDX-License-Identifier: MIT */
/*
 * status: a small server over the shared counters.  The status socket
 * gets the text view and is closed; an HTTP client gets one response
 * (HTTP/1.0 semantics: no keep-alive) once its request head has arrived.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "stats.h"
#include "status.h"
#include "util.h"

#define STATUS_BODY_MAX		(16 * 1024)
#define STATUS_REQUEST_MAX	(8 * 1024)
#define STATUS_CLIENT_SECONDS	2

static volatile sig_atomic_t	status_stopping;

static void
status_signal(int sig)
{
	int	saved = errno;

	(void)sig;
	status_stopping = 1;
	errno = saved;
}

size_t
status_http_response(const char *req, size_t len, char *out, size_t cap)
{
	static const char	*get = "GET ";
	char			 body[STATUS_BODY_MAX];
	const char		*status = "200 OK", *path, *sp;
	size_t			 blen, plen;
	int			 n;

	body[0] = '\0';
	if (len < 4 || memcmp(req, get, 4) != 0) {
		sp = memchr(req, ' ', len);
		status = sp != NULL && sp != req ? "405 Method Not Allowed" :
		    "400 Bad Request";
		blen = 0;
	} else {
		path = req + 4;
		sp = memchr(path, ' ', len - 4);
		plen = sp == NULL ? len - 4 : (size_t)(sp - path);
		if ((plen == 8 && memcmp(path, "/metrics", 8) == 0) ||
		    (plen == 1 && path[0] == '/'))
			blen = stats_format_prometheus(body, sizeof(body),
			    time(NULL));
		else {
			status = "404 Not Found";
			blen = 0;
		}
	}
	n = snprintf(out, cap, "HTTP/1.0 %s\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", status, blen, body);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Writes all of p, or gives up at the socket's send timeout. */
static void
status_send(int fd, const char *p, size_t len)
{
	ssize_t	w;

	while (len > 0) {
		w = send(fd, p, len, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

static int
status_accept(int lfd)
{
	struct timeval	tv = { .tv_sec = STATUS_CLIENT_SECONDS };
	int		fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
status_serve_text(int lfd)
{
	char	text[STATUS_BODY_MAX];
	size_t	len;
	int	fd;

	fd = status_accept(lfd);
	if (fd == -1)
		return;
	len = stats_format_status(text, sizeof(text), time(NULL));
	status_send(fd, text, len);
	close(fd);
}

static void
status_serve_http(int lfd)
{
	char	req[STATUS_REQUEST_MAX], *resp;
	size_t	len = 0, n;
	ssize_t	r;
	int	fd;

	fd = status_accept(lfd);
	if (fd == -1)
		return;
	/* Read the request head, so closing cannot reset our answer. */
	while (len < sizeof(req) - 1) {
		r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL ||
		    strstr(req, "\n\n") != NULL)
			break;
	}
	resp = xmalloc(STATUS_BODY_MAX + 512);
	n = status_http_response(req, len, resp, STATUS_BODY_MAX + 512);
	status_send(fd, resp, n);
	x_free(resp);
	(void)shutdown(fd, SHUT_WR);
	close(fd);
}

void
status_main(int status_fd, int metrics_fd, int master_fd)
{
	struct sigaction	sa;
	struct pollfd		pfd[3];
	sigset_t		block, waitmask;

	/* What ps(1) and top(1) show, to tell it from the workers. */
	compat_set_process_name("lmtpd-status");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = status_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	pfd[0].fd = status_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = metrics_fd;
	pfd[1].events = POLLIN;
	pfd[2].fd = master_fd;		/* POLLERR once the master is gone */
	pfd[2].events = 0;
	while (!status_stopping) {
		if (ppoll(pfd, 3, NULL, &waitmask) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("status: ppoll");
			_exit(1);
		}
		if (pfd[0].revents & POLLIN)
			status_serve_text(status_fd);
		if (pfd[1].revents & POLLIN)
			status_serve_http(metrics_fd);
		if ((pfd[0].revents | pfd[1].revents) & (POLLERR | POLLNVAL))
			_exit(0);	/* the listener was shut down: stopping */
		if (pfd[2].revents & (POLLERR | POLLHUP | POLLNVAL))
			_exit(0);	/* the master is gone */
	}
	_exit(0);
}

int
status_query(const char *path, char *err, size_t cap)
{
	struct sockaddr_un	sun;
	char			buf[4096];
	ssize_t			n;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) == -1) {
		snprintf(err, cap, "status socket %s: path too long", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		snprintf(err, cap, "status socket %s: %s (is lmtpd running?)",
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	}
	if (n == -1)
		snprintf(err, cap, "status socket %s: %s", path,
		    strerror(errno));
	close(fd);
	return n == -1 ? -1 : 0;
}
