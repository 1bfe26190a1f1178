/* SPDX-License-Identifier: MIT */
/*
 * worker: one prefork child.  Sleeps in epoll_pwait() on every listener
 * (EPOLLEXCLUSIVE: a new connection wakes one idle child, not all of
 * them) and on the status pipe, whose EPOLLERR says the master is gone;
 * accepts one connection at a time and hands it to session_run().
 * SIGTERM, SIGINT and SIGUSR1 stay blocked except inside the wait, so a
 * flag is only ever set while waiting, never mid-delivery.  Leaves by
 * _exit(): the master's atexit handlers (pid file, ...) are not the
 * child's to run.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* How long to pause after an accept failure that is not a lost race. */
#define WORKER_ACCEPT_PAUSE	1	/* seconds */
/*
 * Free memory glibc keeps at the top of the heap, and the size below
 * which it does not mmap: a session's buffers serve the next one instead
 * of going back to the kernel (brk, munmap) and being faulted in afresh
 * on every connection.  A child's RSS is what its busiest session
 * touched, either way.
 */
#define WORKER_TRIM_THRESHOLD	(1024 * 1024)

static volatile sig_atomic_t	worker_stopping;	/* SIGTERM SIGINT */
static volatile sig_atomic_t	worker_retire;		/* SIGUSR1 */

static void	worker_signal(int);
static void	worker_signals(sigset_t *);
static bool	worker_report(int, int);
static void	worker_exit(const char *) __attribute__((noreturn));
static int	worker_epoll(const struct listener *, size_t, int);

static void
worker_signal(int sig)
{
	int	saved = errno;

	if (sig == SIGUSR1)
		worker_retire = 1;
	else
		worker_stopping = 1;
	errno = saved;
}

/*
 * Replaces the master's dispositions, which fork() left in place (they
 * were blocked until now), and fills waitmask with the mask to wait under.
 */
static void
worker_signals(sigset_t *waitmask)
{
	struct sigaction	sa;
	sigset_t		block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = worker_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* Reloading is the master's job; a pending SIGHUP is discarded. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(waitmask);
}

/*
 * Tells the master our state.  Returns false when the master is gone.  A
 * full pipe (EAGAIN) drops the record: the master only loses accuracy.
 */
static bool
worker_report(int status_fd, int state)
{
	struct worker_status	st;
	ssize_t			w;

	memset(&st, 0, sizeof(st));
	st.pid = util_getpid();
	st.state = state;
	do
		w = write(status_fd, &st, sizeof(st));
	while (w == -1 && errno == EINTR);
	if (w == -1 && errno == EPIPE)
		return false;
	if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
		log_warn("status pipe");
	return true;
}

static void
worker_exit(const char *why)
{
	log_debug("child %ld exiting: %s", (long)getpid(), why);
	_exit(0);
}

/*
 * An epoll set of the listeners (data: their index) and the status pipe
 * (data: n; no events asked, EPOLLERR and EPOLLHUP come anyway).  Exits
 * on failure: a child that cannot wait cannot serve.
 */
static int
worker_epoll(const struct listener *ls, size_t n, int status_fd)
{
	struct epoll_event	ev;
	size_t			i;
	int			epfd;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd == -1) {
		log_warn("epoll_create1");
		_exit(EX_OSERR);
	}
	for (i = 0; i <= n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.data.u64 = i;
		ev.events = i < n ? EPOLLIN | EPOLLEXCLUSIVE : 0;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, i < n ? ls[i].fd : status_fd,
		    &ev) == 0)
			continue;
		/* Kernels before 4.5 know no EPOLLEXCLUSIVE: all wake. */
		ev.events &= ~(uint32_t)EPOLLEXCLUSIVE;
		if (i < n && errno == EINVAL && epoll_ctl(epfd, EPOLL_CTL_ADD,
		    ls[i].fd, &ev) == 0)
			continue;
		log_warn("epoll_ctl");
		_exit(EX_OSERR);
	}
	return epfd;
}

void
worker_main(const struct conf *conf, const struct listener *ls, size_t n,
    int status_fd)
{
	struct sockaddr_storage	 ss;
	struct epoll_event	*evs;
	struct timespec		 pause = { WORKER_ACCEPT_PAUSE, 0 };
	sigset_t		 waitmask;
	socklen_t		 sslen;
	pid_t			 master;
	size_t			 i, k, next = 0;
	unsigned long		 served = 0;
	bool			 orphan, *ready;
	int			 fd, on = 1, state = 0, r, epfd;

	worker_signals(&waitmask);
	master = getppid();
#ifdef M_TRIM_THRESHOLD
	(void)mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD);
	(void)mallopt(M_MMAP_THRESHOLD, WORKER_TRIM_THRESHOLD);
#endif

	epfd = worker_epoll(ls, n, status_fd);
	evs = xcalloc(n + 1, sizeof(*evs));
	ready = xcalloc(n, sizeof(*ready));

	for (;;) {
		if (worker_stopping)
			worker_exit("stopping");
		if (worker_retire)
			worker_exit("retiring");
		if (getppid() != master)
			worker_exit("master gone");
		if (state != WORKER_IDLE) {
			if (!worker_report(status_fd, WORKER_IDLE))
				worker_exit("master gone");
			state = WORKER_IDLE;
		}

		r = epoll_pwait(epfd, evs, (int)n + 1, -1, &waitmask);
		if (r == -1) {
			if (errno != EINTR) {
				log_warn("epoll_pwait");
				_exit(EX_OSERR);
			}
			continue;
		}
		memset(ready, 0, n * sizeof(*ready));
		for (k = 0; k < (size_t)r; k++) {
			if (evs[k].data.u64 == n)
				worker_exit("master gone");
			ready[evs[k].data.u64] = true;
		}

		/* Take turns, so one busy listener cannot starve another. */
		for (k = 0; k < n; k++) {
			i = (next + k) % n;
			if (ready[i])
				break;
		}
		if (k == n)
			continue;
		next = (i + 1) % n;

		sslen = sizeof(ss);
		/* The session's I/O is non-blocking with its own timeouts. */
		fd = accept4(ls[i].fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			/* Another child won the race, or the client left. */
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ECONNABORTED || errno == EINTR ||
			    errno == EPROTO)
				continue;
			/* The master shut the listener down: we are stopping. */
			if (errno == EINVAL)
				worker_exit("listener shut down");
			/* EMFILE, ENOBUFS ...: pause rather than spin. */
			log_warn("%s: accept", ls[i].name);
			ppoll(NULL, 0, &pause, &waitmask);
			continue;
		}
		if (ls[i].kind == CONF_LISTEN_INET &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == -1)
			log_debug("%s: TCP_NODELAY: %s", ls[i].name,
			    strerror(errno));

		/* Without a master, serve this client, then leave. */
		orphan = !worker_report(status_fd, WORKER_BUSY);
		state = WORKER_BUSY;
		session_run(fd, (struct sockaddr *)&ss, sslen, conf, &waitmask,
		    &worker_stopping);
		served++;
		if (orphan)
			worker_exit("master gone");
		if (conf->max_requests != 0 && served >= conf->max_requests)
			worker_exit("max_requests reached");
	}
}
