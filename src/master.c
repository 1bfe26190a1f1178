/* SPDX-License-Identifier: MIT */
/*
 * master: the prefork pool.  Signals stay blocked except inside ppoll() on
 * the status pipe, so handlers only set flags and the loop acts on them.
 * It never accepts or reads mail itself, and never waits anywhere but in
 * ppoll() (with a timeout only for a back-off, a cull or the shutdown).
 * A child is "idle" from fork until it reports busy; one told to retire
 * (SIGUSR1) counts against max_children but no longer as a spare.
 * The master alone talks to the service manager (notify.h): READY=1 once
 * the first children are forked, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1, and the pool in STATUS= at most once a second.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "stats.h"
#include "status.h"
#include "notify.h"
#include "util.h"
#include "worker.h"

/* A child dying abnormally younger than MASTER_YOUNG_MS backs spawning off. */
#define MASTER_YOUNG_MS		10000
#define MASTER_BACKOFF_MAX	60	/* seconds */
#define MASTER_CULL_MS		1000	/* how long a surplus lasts */
#define MASTER_FORK_RETRY_MS	1000
#define MASTER_KILL_GRACE_MS	5000	/* SIGKILL to giving up */
#define MASTER_STATUS_RESPAWN_MS 1000	/* a dead status process */
#define MASTER_STATUS_MS	1000	/* between STATUS= updates */

enum child_state {
	CHILD_STARTING,		/* forked, not heard from yet */
	CHILD_IDLE,
	CHILD_BUSY,
};

struct child {
	pid_t			pid;
	enum child_state	state;
	bool			retiring;	/* sent SIGUSR1 */
	bool			served;		/* reported BUSY once */
	int64_t			start_ms;
};

struct master {
	struct conf		*conf;
	const char		*conf_path;
	struct listener		*ls;
	size_t			 n_ls;
	int			 status_rd;
	int			 status_wr;
	struct child		*children;
	size_t			 n_children;
	size_t			 cap_children;
	unsigned char		 carry[sizeof(struct worker_status)];
	size_t			 carry_len;
	unsigned		 backoff;	/* seconds; 0: none */
	int64_t			 spawn_after_ms;
	int64_t			 surplus_ms;	/* -1: none */
	bool			 full_logged;
	bool			 inherited;	/* socket activation */
	char			 status[128];	/* last STATUS= sent */
	int64_t			 status_ms;
	sigset_t		 waitmask;
	int			 stat_fd;	/* status socket, or -1 */
	int			 metrics_fd;	/* metrics_listen, or -1 */
	pid_t			 status_pid;	/* the status process, or 0 */
	int64_t			 status_after_ms;	/* respawn it then */
};

static volatile sig_atomic_t	got_chld, got_hup, got_term, got_usr1;

static void	master_signal(int);
static int	master_signals(sigset_t *, sigset_t *, struct sigaction *);
static void	master_signals_restore(const sigset_t *,
		    const struct sigaction *);
static int64_t	now_ms(void);
static int	master_wait(struct master *, int64_t);
static void	master_read_status(struct master *);
static struct child *child_find(struct master *, pid_t);
static int	master_spawn(struct master *, int64_t);
static void	master_reap(struct master *);
static void	master_maintain(struct master *, int64_t, int64_t *);
static void	master_signal_all(struct master *, int);
static bool	str_same(const char *, const char *);
static bool	listen_same(const struct conf *, const struct conf *);
static void	master_reload(struct master *);
static void	master_count(const struct master *, size_t *, size_t *,
		    size_t *);
static void	master_pool_info(struct master *);
static void	master_status(struct master *, int64_t, int64_t *);
static void	master_listeners_info(const struct master *);
static void	master_shutdown(struct master *);

static const int master_sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT,
    SIGUSR1, SIGPIPE };
#define N_MASTER_SIGS	(sizeof(master_sigs) / sizeof(master_sigs[0]))

static void
master_signal(int sig)
{
	int	saved = errno;

	switch (sig) {
	case SIGCHLD:
		got_chld = 1;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	default:
		got_term = 1;
		break;
	}
	errno = saved;
}

/*
 * Installs the handlers with their signals blocked; saves what was there
 * in oldmask and old[] and fills waitmask.  Returns 0, or -1 with errno.
 */
static int
master_signals(sigset_t *oldmask, sigset_t *waitmask, struct sigaction *old)
{
	struct sigaction	sa;
	sigset_t		block;
	size_t			i;

	/* SIGPIPE is ignored, not blocked: a blocked one would stay pending. */
	sigemptyset(&block);
	for (i = 0; i < N_MASTER_SIGS; i++)
		if (master_sigs[i] != SIGPIPE)
			sigaddset(&block, master_sigs[i]);
	if (sigprocmask(SIG_BLOCK, &block, oldmask) == -1)
		return -1;
	*waitmask = *oldmask;
	for (i = 0; i < N_MASTER_SIGS; i++)
		sigdelset(waitmask, master_sigs[i]);

	for (i = 0; i < N_MASTER_SIGS; i++) {
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		if (master_sigs[i] == SIGPIPE)
			sa.sa_handler = SIG_IGN;
		else
			sa.sa_handler = master_signal;
		if (master_sigs[i] == SIGCHLD)
			sa.sa_flags = SA_NOCLDSTOP;
		if (sigaction(master_sigs[i], &sa, &old[i]) == -1)
			return -1;
	}
	return 0;
}

static void
master_signals_restore(const sigset_t *oldmask, const struct sigaction *old)
{
	size_t	i;

	for (i = 0; i < N_MASTER_SIGS; i++)
		sigaction(master_sigs[i], &old[i], NULL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Sleeps until a status record, a signal or wake_ms (-1: no timeout).
 * Returns 0, or -1 with errno on a failure other than EINTR.
 */
static int
master_wait(struct master *m, int64_t wake_ms)
{
	struct pollfd	 pfd = { .fd = m->status_rd, .events = POLLIN };
	struct timespec	 ts, *tsp = NULL;
	int64_t		 left;

	if (wake_ms != -1) {
		left = wake_ms - now_ms();
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		tsp = &ts;
	}
	if (ppoll(&pfd, 1, tsp, &m->waitmask) == -1 && errno != EINTR)
		return -1;
	return 0;
}

static struct child *
child_find(struct master *m, pid_t pid)
{
	size_t	i;

	for (i = 0; i < m->n_children; i++)
		if (m->children[i].pid == pid)
			return &m->children[i];
	return NULL;
}

/* Drains the status pipe; records from children already reaped are moot. */
static void
master_read_status(struct master *m)
{
	unsigned char		 buf[64 * sizeof(struct worker_status)];
	struct worker_status	 st;
	struct child		*c;
	size_t			 len, off;
	ssize_t			 r;

	for (;;) {
		memcpy(buf, m->carry, m->carry_len);
		r = read(m->status_rd, buf + m->carry_len,
		    sizeof(buf) - m->carry_len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("status pipe");
			return;
		}
		len = m->carry_len + (size_t)r;
		for (off = 0; len - off >= sizeof(st); off += sizeof(st)) {
			memcpy(&st, buf + off, sizeof(st));
			c = child_find(m, st.pid);
			if (c == NULL)
				continue;
			if (st.state == WORKER_IDLE)
				c->state = CHILD_IDLE;
			else if (st.state == WORKER_BUSY) {
				c->state = CHILD_BUSY;
				c->served = true;
			}
		}
		m->carry_len = len - off;
		memcpy(m->carry, buf + off, m->carry_len);
	}
}

static void
master_close_status_fds(struct master *m)
{
	if (m->stat_fd != -1)
		close(m->stat_fd);
	if (m->metrics_fd != -1)
		close(m->metrics_fd);
}

/*
 * Keeps the status process (status socket, metrics) running when there
 * is anything for it to serve; lowers *wake_ms to a pending respawn.
 */
static void
master_status_process(struct master *m, int64_t now, int64_t *wake_ms)
{
	size_t	i;
	pid_t	pid;

	if ((m->stat_fd == -1 && m->metrics_fd == -1) || m->status_pid != 0)
		return;
	if (now < m->status_after_ms) {
		if (*wake_ms == -1 || *wake_ms > m->status_after_ms)
			*wake_ms = m->status_after_ms;
		return;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork (status process)");
		m->status_after_ms = now + MASTER_STATUS_RESPAWN_MS;
		return;
	}
	if (pid == 0) {
		/* Keeps status_wr: its POLLERR says the master is gone. */
		close(m->status_rd);
		for (i = 0; i < m->n_ls; i++)
			if (m->ls[i].fd != -1)
				close(m->ls[i].fd);
		status_main(m->stat_fd, m->metrics_fd, m->status_wr);
	}
	m->status_pid = pid;
}

/* The pool gauges the status view and the metrics show. */
static void
master_gauges(const struct master *m)
{
	size_t	i, starting = 0, idle = 0, busy = 0;

	for (i = 0; i < m->n_children; i++) {
		if (m->children[i].state == CHILD_STARTING)
			starting++;
		else if (m->children[i].state == CHILD_BUSY)
			busy++;
		else
			idle++;
	}
	stats_set(STATS_POOL_STARTING, starting);
	stats_set(STATS_POOL_IDLE, idle);
	stats_set(STATS_POOL_BUSY, busy);
	stats_set(STATS_POOL_MAX, m->conf->max_children);
}

/* Forks one child.  Returns 0, or -1 when fork fails (logged). */
static int
master_spawn(struct master *m, int64_t now)
{
	struct child	*c;
	pid_t		 pid;

	if (m->n_children == m->cap_children) {
		m->cap_children = m->cap_children == 0 ? 8 :
		    m->cap_children * 2;
		m->children = xreallocarray(m->children, m->cap_children,
		    sizeof(*m->children));
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		/* Only the master reads status; EOF must mean it is gone. */
		close(m->status_rd);
		master_close_status_fds(m);
		worker_main(m->conf, m->ls, m->n_ls, m->status_wr);
	}
	stats_add(STATS_CHILDREN_STARTED, 1);
	c = &m->children[m->n_children++];
	c->pid = pid;
	c->state = CHILD_STARTING;
	c->retiring = false;
	c->served = false;
	c->start_ms = now;
	log_debug("spawned child %ld", (long)pid);
	return 0;
}

static void
master_reap(struct master *m)
{
	struct child	*c;
	int64_t		 now, lived;
	pid_t		 pid;
	bool		 abnormal;
	int		 status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == m->status_pid) {
			/* Not a worker: bring it back, without hurry. */
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_debug("status process %ld exited",
				    (long)pid);
			else
				log_warnx("status process %ld died (wait "
				    "status %d)", (long)pid, status);
			m->status_pid = 0;
			m->status_after_ms = now_ms() + MASTER_STATUS_RESPAWN_MS;
			continue;
		}
		c = child_find(m, pid);
		if (c == NULL)
			continue;	/* not a worker of ours */
		now = now_ms();
		lived = now - c->start_ms;
		abnormal = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		if (abnormal)
			stats_add(STATS_CHILDREN_FAILED, 1);
		if (WIFSIGNALED(status))
			log_warnx("child %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
		else if (abnormal)
			log_warnx("child %ld exited with status %d", (long)pid,
			    WEXITSTATUS(status));
		else
			log_debug("child %ld exited", (long)pid);

		/*
		 * Only a child that died before serving anybody is a crash
		 * loop to slow down.  One that a client's session killed
		 * (out of memory on a huge transaction, say) is replaced at
		 * once: else a client could empty the pool for a minute.
		 */
		if (abnormal && lived < MASTER_YOUNG_MS && !c->served) {
			/*
			 * Double once per batch: children spawned together
			 * and dying together are one failure, not several.
			 */
			if (now >= m->spawn_after_ms) {
				m->backoff = m->backoff == 0 ? 1 :
				    m->backoff * 2;
				if (m->backoff > MASTER_BACKOFF_MAX)
					m->backoff = MASTER_BACKOFF_MAX;
				m->spawn_after_ms = now +
				    (int64_t)m->backoff * 1000;
				log_warnx("child %ld died after %lld ms, "
				    "delaying new children for %u s",
				    (long)pid, (long long)lived, m->backoff);
			}
		} else
			m->backoff = 0;

		*c = m->children[--m->n_children];
	}
}

/*
 * Spawns or culls towards min_spare..max_spare idle children within
 * max_children; lowers *wake_ms to when it wants to look again.
 */
static void
master_maintain(struct master *m, int64_t now, int64_t *wake_ms)
{
	const struct conf	*conf = m->conf;
	struct child		*c, *oldest;
	unsigned		 min_spare, max_spare, max_children;
	size_t			 i, idle = 0, total = m->n_children;

	/* A pool with no spare would leave the listen queues unattended. */
	min_spare = conf->min_spare > 0 ? conf->min_spare : 1;
	max_spare = conf->max_spare > min_spare ? conf->max_spare : min_spare;
	max_children = conf->max_children > 0 ? conf->max_children : 1;

	for (i = 0; i < m->n_children; i++)
		if (!m->children[i].retiring &&
		    m->children[i].state != CHILD_BUSY)
			idle++;

	/*
	 * Retire one surplus spare per MASTER_CULL_MS, and only once the
	 * surplus has lasted that long: a child that just finished a session
	 * is not worth killing only to fork another on the next connection.
	 */
	if (idle <= max_spare)
		m->surplus_ms = -1;
	else if (m->surplus_ms == -1)
		m->surplus_ms = now;
	if (idle > max_spare && now - m->surplus_ms >= MASTER_CULL_MS) {
		oldest = NULL;
		for (i = 0; i < m->n_children; i++) {
			c = &m->children[i];
			if (c->retiring || c->state != CHILD_IDLE)
				continue;
			if (oldest == NULL || c->start_ms < oldest->start_ms)
				oldest = c;
		}
		if (oldest != NULL) {
			log_debug("retiring spare child %ld",
			    (long)oldest->pid);
			kill(oldest->pid, SIGUSR1);
			oldest->retiring = true;
			idle--;
		}
		m->surplus_ms = idle > max_spare ? now : -1;
	}
	if (m->surplus_ms != -1 && (*wake_ms == -1 ||
	    *wake_ms > m->surplus_ms + MASTER_CULL_MS))
		*wake_ms = m->surplus_ms + MASTER_CULL_MS;

	while (idle < min_spare && total < max_children) {
		if (now < m->spawn_after_ms) {
			if (*wake_ms == -1 || *wake_ms > m->spawn_after_ms)
				*wake_ms = m->spawn_after_ms;
			break;
		}
		if (master_spawn(m, now) == -1) {
			m->spawn_after_ms = now + MASTER_FORK_RETRY_MS;
			if (*wake_ms == -1 || *wake_ms > m->spawn_after_ms)
				*wake_ms = m->spawn_after_ms;
			break;
		}
		idle++;
		total++;
	}

	if (idle == 0 && total >= max_children) {
		if (!m->full_logged)
			log_warnx("all %u children busy (max_children), "
			    "new connections wait", max_children);
		m->full_logged = true;
	} else if (idle > 0)
		m->full_logged = false;
}

static void
master_signal_all(struct master *m, int sig)
{
	size_t	i;

	for (i = 0; i < m->n_children; i++) {
		kill(m->children[i].pid, sig);
		if (sig == SIGUSR1)
			m->children[i].retiring = true;
	}
}

static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* True when a and b would open the same listeners. */
static bool
listen_same(const struct conf *a, const struct conf *b)
{
	size_t	i;

	if (a->n_listen != b->n_listen || a->socket_mode != b->socket_mode ||
	    !str_same(a->socket_owner, b->socket_owner) ||
	    !str_same(a->socket_group, b->socket_group))
		return false;
	for (i = 0; i < a->n_listen; i++)
		if (a->listen[i].kind != b->listen[i].kind ||
		    !str_same(a->listen[i].host, b->listen[i].host) ||
		    !str_same(a->listen[i].port, b->listen[i].port) ||
		    !str_same(a->listen[i].path, b->listen[i].path))
			return false;
	return true;
}

static void
master_reload(struct master *m)
{
	struct conf	*nc, *old;
	char		 err[512];
	bool		 same;

	nc = conf_load(m->conf_path, err, sizeof(err));
	if (nc == NULL) {
		log_warnx("reload failed, keeping the old configuration: %s",
		    err);
		return;
	}
	same = listen_same(m->conf, nc);
	if (!same && m->inherited)
		log_info("listen changed, and is still not used: the "
		    "listeners come from the service manager");
	else if (!same)
		log_warnx("listener settings changed: restart to change "
		    "listeners");
	/* Children already forked keep their own copy of the old one. */
	old = m->conf;
	m->conf = nc;
	conf_free(old);
	log_info("configuration reloaded");
	master_signal_all(m, SIGUSR1);
	/* The new configuration deserves a prompt first try. */
	m->backoff = 0;
	m->spawn_after_ms = 0;
}

static void
master_count(const struct master *m, size_t *idle, size_t *busy,
    size_t *retiring)
{
	size_t	i;

	*idle = *busy = *retiring = 0;
	for (i = 0; i < m->n_children; i++) {
		if (m->children[i].retiring)
			(*retiring)++;
		else if (m->children[i].state == CHILD_BUSY)
			(*busy)++;
		else
			(*idle)++;
	}
}

static void
master_pool_info(struct master *m)
{
	size_t	idle, busy, retiring;

	master_count(m, &idle, &busy, &retiring);
	log_info("pool: %zu children, %zu idle, %zu busy, %zu retiring",
	    m->n_children, idle, busy, retiring);
}

/*
 * Sends the pool's state as STATUS= when it changed, but not sooner than
 * MASTER_STATUS_MS after the last one (a busy pool changes with every
 * connection); lowers *wake_ms to send a pending change in time.
 */
static void
master_status(struct master *m, int64_t now, int64_t *wake_ms)
{
	char	status[sizeof(m->status)];
	size_t	idle, busy, retiring;
	int64_t	next;

	if (!notify_enabled())
		return;
	master_count(m, &idle, &busy, &retiring);
	snprintf(status, sizeof(status), "%zu children, %zu idle, %zu busy, "
	    "%zu retiring", m->n_children, idle, busy, retiring);
	if (strcmp(status, m->status) == 0)
		return;
	next = m->status_ms + MASTER_STATUS_MS;
	if (m->status[0] != '\0' && now < next) {
		if (*wake_ms == -1 || *wake_ms > next)
			*wake_ms = next;
		return;
	}
	notify_status("%s", status);
	memcpy(m->status, status, sizeof(status));
	m->status_ms = now;
}

static void
master_listeners_info(const struct master *m)
{
	size_t	i, n = 0;

	for (i = 0; i < m->n_ls; i++)
		if (m->ls[i].fd != -1)
			n++;
	log_info("started, %zu listeners, pool min_spare=%u max_spare=%u "
	    "max_children=%u", n, m->conf->min_spare, m->conf->max_spare,
	    m->conf->max_children);
	if (m->inherited)
		log_info("socket activation: %zu listeners from the service "
		    "manager, listen in the configuration not used", n);
	for (i = 0; i < m->n_ls; i++) {
		if (m->ls[i].fd == -1)
			continue;
		if (m->ls[i].inherited)
			log_info("inherited %s", m->ls[i].name);
		else
			log_debug("listening on %s", m->ls[i].name);
	}
}

/*
 * Stops accepting, asks every child to finish (SIGTERM) and waits for
 * them up to shutdown_timeout, then kills the rest.
 */
static void
master_shutdown(struct master *m)
{
	int64_t	deadline;
	size_t	i;
	bool	killed = false;

	for (i = 0; i < m->n_ls; i++)
		listener_close(&m->ls[i]);
	master_signal_all(m, SIGTERM);
	if (m->status_pid != 0)
		(void)kill(m->status_pid, SIGTERM);
	deadline = now_ms() + (int64_t)m->conf->shutdown_timeout * 1000;

	for (;;) {
		got_chld = 0;
		master_reap(m);
		if (m->n_children == 0)
			break;
		if (now_ms() >= deadline) {
			if (killed) {
				log_warnx("%zu children did not die, giving "
				    "up on them", m->n_children);
				break;
			}
			log_warnx("%zu children still running after %u s, "
			    "killing them", m->n_children,
			    m->conf->shutdown_timeout);
			for (i = 0; i < m->n_children; i++)
				log_warnx("killing child %ld",
				    (long)m->children[i].pid);
			master_signal_all(m, SIGKILL);
			killed = true;
			deadline = now_ms() + MASTER_KILL_GRACE_MS;
		}
		if (master_wait(m, deadline) == -1) {
			log_warn("ppoll");
			break;
		}
		/* Keep the pipe empty, or ppoll() would not sleep. */
		master_read_status(m);
	}
	/* It holds no mail: it need not outlast the workers. */
	if (m->status_pid != 0) {
		(void)kill(m->status_pid, SIGKILL);
		(void)waitpid(m->status_pid, NULL, 0);
		m->status_pid = 0;
	}
}

int
master_run(struct conf *conf, const char *conf_path, struct listener *ls,
    size_t n, int stat_fd, int metrics_fd)
{
	struct master		m;
	struct sigaction	old[N_MASTER_SIGS];
	sigset_t		oldmask;
	int64_t			wake;
	size_t			i;
	int			fds[2], rc = 0;

	memset(&m, 0, sizeof(m));
	memset(old, 0, sizeof(old));
	sigprocmask(SIG_BLOCK, NULL, &oldmask);
	m.conf = conf;
	m.conf_path = conf_path;
	m.ls = ls;
	m.n_ls = n;
	m.status_rd = m.status_wr = -1;
	m.surplus_ms = -1;
	m.stat_fd = stat_fd;
	m.metrics_fd = metrics_fd;
	for (i = 0; i < n; i++)
		if (ls[i].inherited)
			m.inherited = true;

	/*
	 * Both ends close-on-exec: fork() keeps the write end in children,
	 * and nothing here execs.  Both non-blocking: the master drains
	 * until EAGAIN, and a child never stalls on a full pipe.
	 */
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("status pipe");
		for (i = 0; i < n; i++)
			listener_close(&ls[i]);
		conf_free(conf);
		return EX_OSERR;
	}
	m.status_rd = fds[0];
	m.status_wr = fds[1];
	got_chld = got_hup = got_term = got_usr1 = 0;
	if (master_signals(&oldmask, &m.waitmask, old) == -1) {
		log_warn("signals");
		master_signals_restore(&oldmask, old);
		rc = EX_OSERR;
		goto out;
	}

	master_listeners_info(&m);

	/* The listeners queue connections already; now someone accepts. */
	wake = -1;
	if (stats_init() == -1)
		log_warn("shared counters: lmtpd -s and metrics show nothing");
	master_maintain(&m, now_ms(), &wake);
	master_status_process(&m, now_ms(), &wake);
	master_gauges(&m);
	notify_ready();

	for (;;) {
		if (got_term)
			break;
		if (got_chld) {
			got_chld = 0;
			master_read_status(&m);
			master_reap(&m);
		}
		if (got_hup) {
			got_hup = 0;
			notify_reloading();
			master_reload(&m);
			/* Done either way: one that fails leaves the old. */
			notify_ready();
		}
		if (got_usr1) {
			got_usr1 = 0;
			master_pool_info(&m);
		}
		master_read_status(&m);
		wake = -1;
		master_maintain(&m, now_ms(), &wake);
		master_status_process(&m, now_ms(), &wake);
		master_gauges(&m);
		master_status(&m, now_ms(), &wake);
		if (master_wait(&m, wake) == -1) {
			log_warn("ppoll");
			rc = EX_OSERR;
			break;
		}
	}

	notify_stopping();
	notify_status("stopping, %zu children to finish", m.n_children);
	log_info("stopping");
	master_shutdown(&m);
	master_signals_restore(&oldmask, old);
out:
	for (i = 0; i < n; i++)
		listener_close(&ls[i]);
	close(m.status_rd);
	close(m.status_wr);
	x_free(m.children);
	conf_free(m.conf);
	return rc;
}
