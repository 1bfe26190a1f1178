/* SPDX-License-Identifier: MIT */
/*
 * session: one LMTP connection.  Reads the socket in large blocks and feeds
 * the engine; sends pending replies whenever the input runs dry (RFC 2920
 * §3.2) and between per-recipient replies; hands the transaction to
 * delivery.c (lookups, spool, copies) and logs each outcome.  Waits only
 * in ppoll(), under the caller's signal mask, so a stop request is seen.
 * After STARTTLS (TCP only) every byte goes through tls.c instead.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "compat.h"
#include "delivery.h"
#include "lmtp.h"
#include "log.h"
#include "maildir.h"
#include "recipient.h"
#include "session.h"
#include "stats.h"
#include "tls.h"
#include "util.h"

/* As much as lmtp.c's body chunk: one spool write(2) per read. */
#define SESSION_READ_SIZE	(32 * 1024)
/* Send what is pending before reading more once it grows past this. */
#define SESSION_OUTPUT_HIGH	(64 * 1024)

struct session {
	int			 fd;
	const struct conf	*conf;
	const sigset_t		*waitmask;
	const volatile sig_atomic_t *stopping;
	struct lmtp		*lmtp;
	char			 peer[INET6_ADDRSTRLEN + 3];
	bool			 dead;	/* the client is gone or timed out */
	bool			 data_ended;	/* in this feed */
	bool			 command_in_feed;	/* likewise */
	int64_t			 deadline_ms;	/* for the client's next step */
	size_t			 traced;	/* output bytes logged by -v */
	struct delivery		*d;	/* the open transaction */
	struct timespec		 txn_start;	/* its MAIL */
	char			*inbuf;
	struct tls_conn		*tls;	/* after STARTTLS, else NULL */
	short			 want;	/* what the last EAGAIN waits for */
	char			 ioerr[256];	/* why the last I/O failed */
};

static int	session_flush(struct session *);

static double
elapsed(const struct timespec *since)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_reply(struct lmtp_reply *r, unsigned code, const char *esc,
    const char *text)
{
	r->code = code;
	util_strlcpy(r->esc, esc, sizeof(r->esc));
	util_strlcpy(r->text, text, sizeof(r->text));
}

/* "reject: CMD from peer: code esc text", with from= and to=. */
static void
log_reject(struct session *s, const char *cmd, const char *to,
    const struct lmtp_reply *r, const char *why)
{
	struct log_field	f[2];
	size_t			n = 0;
	char			lead[300];

	f[n++] = (struct log_field){ .key = "from", .kind = LOG_ADDR,
	    .s = delivery_sender(s->d) };
	if (to != NULL)
		f[n++] = (struct log_field){ .key = "to", .kind = LOG_ADDR,
		    .s = to };
	snprintf(lead, sizeof(lead), "reject: %s from %s: %u %s %s", cmd,
	    s->peer, r->code, r->esc, r->text);
	log_event(delivery_queue_id(s->d), lead, f, n,
	    why[0] != '\0' ? why : NULL);
	stats_add(STATS_REJECTED, 1);
}

static void
hook_mail(void *ctx, const struct lmtp_mail *m, struct lmtp_reply *r)
{
	struct session	*s = ctx;
	char		 why[PATH_MAX + 128];

	delivery_mail(s->d, m->from->text, m->utf8, m->has_size ? m->size :
	    0, r, why, sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &s->txn_start);
	if (r->code >= 400)
		log_reject(s, "MAIL", NULL, r, why);
}

static void
hook_rcpt(void *ctx, const struct addr *to, struct lmtp_reply *r)
{
	struct session	*s = ctx;
	char		 why[PATH_MAX + 256];

	delivery_rcpt(s->d, to, r, why, sizeof(why));
	if (r->code >= 400)
		log_reject(s, "RCPT", to->text, r, why);
}

/* Where the message came from, for its Received line. */
static struct delivery_origin
origin(const struct session *s)
{
	return (struct delivery_origin){ .helo = lmtp_client_name(s->lmtp),
	    .peer = s->peer, .tls = s->tls != NULL };
}

static void
hook_data_begin(void *ctx, struct lmtp_reply *r)
{
	struct session		*s = ctx;
	struct delivery_origin	 o = origin(s);

	if (delivery_data_begin(s->d, &o) == -1) {
		log_warn("%s: cannot create a spool file in %s",
		    delivery_queue_id(s->d), s->conf->spool_dir);
		set_reply(r, 451, "4.3.0", "temporary local problem");
	}
}

static int
hook_data_body(void *ctx, const char *p, size_t n, struct lmtp_reply *fail)
{
	struct session	*s = ctx;
	int		 err;

	if (delivery_data_body(s->d, p, n) == -1) {
		err = errno;
		log_warn("%s: cannot write the spool file",
		    delivery_queue_id(s->d));
		/* A full spool is a full mail system (452 4.3.1). */
		maildir_reply_for(err, false, fail);
		return -1;
	}
	return 0;
}

static void
hook_data_end(void *ctx, struct lmtp_reply *r)
{
	struct session	*s = ctx;
	char		 why[256];

	struct log_field	 f[] = {
		{ .key = "from", .kind = LOG_ADDR,
		    .s = delivery_sender(s->d) },
		{ .key = "size", .kind = LOG_INT,
		    .i = delivery_spool_len(s->d) },
		{ .key = "nrcpt", .kind = LOG_INT,
		    .i = (long long)delivery_n_rcpts(s->d) },
	};

	delivery_data_end(s->d, r, why, sizeof(why));
	log_event(delivery_queue_id(s->d), NULL, f, 3,
	    why[0] != '\0' ? why : NULL);
	stats_add(STATS_MESSAGES, 1);
	s->data_ended = true;
}

static void
log_result(struct session *s, const struct recipient *rcpt,
    const struct addr *to, long long size, const struct lmtp_reply *r,
    const char *detail)
{
	delivery_log(s->d, rcpt, to->text, elapsed(&s->txn_start), size, r,
	    detail);
}

static void
hook_deliver(void *ctx, size_t idx, const struct addr *to,
    struct lmtp_reply *r)
{
	struct session		*s = ctx;
	const struct recipient	*rcpt;
	struct delivery_origin	 o;
	char			 detail[PATH_MAX + 256];
	long long		 size;

	rcpt = delivery_recipient(s->d, idx);
	if (rcpt == NULL)
		log_panic("deliver: recipient %zu of %zu", idx,
		    delivery_n_rcpts(s->d));
	size = (long long)delivery_spool_len(s->d);
	if (r->code != 0) {
		log_result(s, rcpt, to, size, r, r->text);
		return;
	}
	if (s->dead && !delivery_tried(s->d, idx)) {
		/* Nobody will read the reply: leave it to the client's retry. */
		set_reply(r, 451, "4.4.2", "connection lost");
		log_result(s, rcpt, to, size, r,
		    "lost connection before delivery");
		return;
	}
	o = origin(s);
	delivery_deliver(s->d, idx, &o, r, detail, sizeof(detail), &size);
	log_result(s, rcpt, to, size, r, detail);
}

static void
hook_flush(void *ctx)
{
	struct session	*s = ctx;

	if (!s->dead)
		session_flush(s);
}

static void
hook_reset(void *ctx)
{
	struct session	*s = ctx;

	delivery_reset(s->d);
}

static void
hook_command(void *ctx, const char *line)
{
	struct session	*s = ctx;

	log_debug("%s < %s", s->peer, line);
	s->deadline_ms = now_ms() + (int64_t)s->conf->command_timeout * 1000;
	s->command_in_feed = true;
}

static const struct lmtp_hooks session_hooks = {
	.mail = hook_mail,
	.rcpt = hook_rcpt,
	.data_begin = hook_data_begin,
	.data_body = hook_data_body,
	.data_end = hook_data_end,
	.deliver = hook_deliver,
	.flush = hook_flush,
	.reset = hook_reset,
	.command = hook_command,
};

/*
 * Waits for events on the socket for at most timeout_ms, taking the
 * caller's signals meanwhile.  Returns 1 when ready, 0 on timeout, -1 on
 * a signal (EINTR) or error.
 */
static int
session_wait(struct session *s, short events, int64_t timeout_ms)
{
	struct pollfd	pfd = { .fd = s->fd, .events = events };
	struct timespec	ts;
	int		n;

	if (timeout_ms < 0)
		timeout_ms = 0;
	ts.tv_sec = (time_t)(timeout_ms / 1000);
	ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;

	n = ppoll(&pfd, 1, &ts, s->waitmask);
	if (n == -1)
		return -1;
	return n == 0 ? 0 : 1;
}

/* Why the last session_recv or session_send failed. */
static const char *
session_ioerr(struct session *s)
{
	return s->ioerr[0] != '\0' ? s->ioerr : strerror(errno);
}

/*
 * A TLS step's outcome as a socket call's: bytes, 0 at the end, or -1
 * with errno (EAGAIN, s->want saying for what; EPROTO, s->ioerr why).
 */
static ssize_t
session_tls_result(struct session *s, enum tls_io io, size_t n)
{
	switch (io) {
	case TLS_IO_OK:
		return (ssize_t)n;
	case TLS_IO_WANT_READ:
		s->want = POLLIN;
		errno = EAGAIN;
		return -1;
	case TLS_IO_WANT_WRITE:
		s->want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case TLS_IO_EOF:
		return 0;
	case TLS_IO_ERROR:
		break;
	}
	(void)tls_error_string(s->tls, s->ioerr, sizeof(s->ioerr));
	errno = EPROTO;
	return -1;
}

/* recv(2) on the connection, through TLS once it is active. */
static ssize_t
session_recv(struct session *s, void *buf, size_t cap)
{
	enum tls_io	io;
	size_t		n;

	s->want = POLLIN;
	s->ioerr[0] = '\0';
	if (s->tls == NULL)
		return recv(s->fd, buf, cap, 0);
	io = tls_read(s->tls, buf, cap, &n);
	return session_tls_result(s, io, n);
}

/* send(2) likewise; a TLS write may wait for input (s->want). */
static ssize_t
session_send(struct session *s, const void *buf, size_t len)
{
	enum tls_io	io;
	size_t		n;

	s->want = POLLOUT;
	s->ioerr[0] = '\0';
	if (s->tls == NULL)
		return send(s->fd, buf, len, MSG_NOSIGNAL);
	io = tls_write(s->tls, buf, len, &n);
	return session_tls_result(s, io, n);
}

/*
 * RFC 3207 after the 220: the engine has dropped whatever followed
 * STARTTLS in that read (CVE-2011-0411), and nothing more is fed to it
 * until the handshake is done, under the deadline of the STARTTLS
 * command.  A failed handshake ends the connection.
 */
static void
session_starttls(struct session *s)
{
	enum tls_io	io;
	int		ready;
	char		why[256];

	if (session_flush(s) == -1)
		return;
	s->tls = tls_conn_new(s->conf->tls_ctx, s->fd, why, sizeof(why));
	if (s->tls == NULL) {
		log_warnx("STARTTLS from %s: %s", s->peer, why);
		s->dead = true;
		return;
	}
	for (;;) {
		io = tls_accept(s->tls);
		if (io == TLS_IO_OK)
			break;
		if (io != TLS_IO_WANT_READ && io != TLS_IO_WANT_WRITE) {
			log_info("STARTTLS from %s: handshake failed: %s",
			    s->peer, tls_error_string(s->tls, why,
			    sizeof(why)));
			s->dead = true;
			return;
		}
		ready = session_wait(s, io == TLS_IO_WANT_READ ? POLLIN :
		    POLLOUT, s->deadline_ms - now_ms());
		if (ready == 0) {
			log_info("STARTTLS from %s: handshake timed out",
			    s->peer);
			s->dead = true;
			return;
		}
		if (ready == -1 && errno != EINTR) {
			log_warn("poll");
			s->dead = true;
			return;
		}
		if (*s->stopping) {
			log_info("STARTTLS from %s: shutting down", s->peer);
			s->dead = true;
			return;
		}
	}
	log_info("STARTTLS from %s: %s %s", s->peer, tls_version(s->tls),
	    tls_cipher(s->tls));
	lmtp_tls_started(s->lmtp);
	s->deadline_ms = now_ms() + (int64_t)s->conf->command_timeout * 1000;
}

/* With -v, logs the reply lines queued since the last trace. */
static void
session_trace_output(struct session *s)
{
	const char	*p, *eol;
	size_t		 len;

	p = lmtp_output(s->lmtp, &len);
	while (s->traced < len) {
		eol = memchr(p + s->traced, '\n', len - s->traced);
		if (eol == NULL)
			break;
		log_debug("%s > %.*s", s->peer,
		    (int)(eol - (p + s->traced) - 1), p + s->traced);
		s->traced = (size_t)(eol - p) + 1;
	}
}

/* Sends all pending output.  Returns 0, or -1 when the client is lost. */
static int
session_flush(struct session *s)
{
	const char	*p;
	size_t		 len;
	ssize_t		 w;
	int		 ready;

	if (log_verbose())
		session_trace_output(s);
	for (;;) {
		p = lmtp_output(s->lmtp, &len);
		if (len == 0)
			return 0;
		w = session_send(s, p, len);
		if (w > 0) {
			lmtp_output_done(s->lmtp, (size_t)w);
			s->traced = s->traced > (size_t)w ?
			    s->traced - (size_t)w : 0;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ready = session_wait(s, s->want,
			    (int64_t)s->conf->command_timeout * 1000);
			if (ready == 1 || (ready == -1 && errno == EINTR))
				continue;
			log_info("timeout sending to %s", s->peer);
		} else
			log_info("lost connection sending to %s: %s", s->peer,
			    session_ioerr(s));
		s->dead = true;
		return -1;
	}
}

static void
describe_peer(const struct sockaddr *sa, socklen_t len, char *out,
    size_t cap)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa == NULL || sa->sa_family == AF_UNIX ||
	    getnameinfo(sa, len, host, sizeof(host), NULL, 0,
	    NI_NUMERICHOST) != 0) {
		util_strlcpy(out, "local", cap);
		return;
	}
	snprintf(out, cap, "[%s]", host);
}

/*
 * The timeouts are deadlines, not idle timers, so a client trickling a
 * byte at a time cannot hold a child: a command must be complete within
 * command_timeout of the previous one (or of the end of the data), and
 * the whole message within data_timeout of the 354.
 */
static void
session_deadline_after_feed(struct session *s, bool was_in_data)
{
	bool	in_data = lmtp_in_data(s->lmtp);

	/* Data (after 354, or a BDAT chunk) only ever starts at a command. */
	if (in_data && (!was_in_data || s->data_ended || s->command_in_feed))
		s->deadline_ms = now_ms() +
		    (int64_t)s->conf->data_timeout * 1000;
	else if (!in_data && (s->data_ended ||
	    (was_in_data && !s->command_in_feed)))
		s->deadline_ms = now_ms() +
		    (int64_t)s->conf->command_timeout * 1000;
	s->data_ended = false;
	s->command_in_feed = false;
}

static void
session_timeout(struct session *s)
{
	log_info("timeout after %s from %s", lmtp_in_data(s->lmtp) ? "DATA" :
	    "command", s->peer);
	lmtp_close(s->lmtp, "4.4.2", "timeout, closing");
}

/*
 * RFC 2920 §3.2: the input ran dry, so send what is pending, then wait
 * for want until the deadline.  Returns -1 when the session cannot go on.
 */
static int
session_answer_and_wait(struct session *s, short want)
{
	int	ready;

	if (session_flush(s) == -1)
		return -1;
	ready = session_wait(s, want, s->deadline_ms - now_ms());
	if (ready == 0)
		session_timeout(s);
	else if (ready == -1 && errno != EINTR) {
		log_warn("poll");
		return -1;
	}
	return 0;
}

static void
session_loop(struct session *s)
{
	ssize_t	n;
	size_t	pending;
	bool	was_in_data;

	for (;;) {
		if (lmtp_finished(s->lmtp) || s->dead)
			break;
		if (*s->stopping && lmtp_idle(s->lmtp)) {
			lmtp_close(s->lmtp, "4.3.2", "shutting down");
			continue;
		}
		n = session_recv(s, s->inbuf, SESSION_READ_SIZE);
		if (n > 0) {
			was_in_data = lmtp_in_data(s->lmtp);
			lmtp_feed(s->lmtp, s->inbuf, (size_t)n);
			session_deadline_after_feed(s, was_in_data);
			/* The rest of this read was dropped by the engine. */
			if (lmtp_starttls_pending(s->lmtp)) {
				session_starttls(s);
				continue;
			}
			/* A client that never pauses meets its deadline too. */
			if (!lmtp_finished(s->lmtp) && now_ms() >= s->deadline_ms)
				session_timeout(s);
			lmtp_output(s->lmtp, &pending);
			if (pending > SESSION_OUTPUT_HIGH)
				session_flush(s);
			/*
			 * A short read has most likely drained the socket:
			 * answer and wait now, without the read that would
			 * only say EAGAIN.  (Not under TLS: records may wait
			 * in its buffer.)
			 */
			if (s->tls == NULL && (size_t)n < SESSION_READ_SIZE &&
			    !lmtp_finished(s->lmtp) && !s->dead &&
			    !*s->stopping &&
			    session_answer_and_wait(s, POLLIN) == -1)
				break;
			continue;
		}
		if (n == 0) {
			if (!lmtp_idle(s->lmtp))
				log_info("%s: lost connection with %s during "
				    "the transaction", delivery_queue_id(s->d),
				    s->peer);
			s->dead = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_info("lost connection with %s: %s", s->peer,
			    session_ioerr(s));
			s->dead = true;
			break;
		}
		/*
		 * RFC 2920 §3.2: the input ran dry, so answer now.  (Under TLS
		 * the read above returns buffered records first, so WANT_READ
		 * means SSL_pending is 0 too.)
		 */
		/*
		 * Under TLS the read above returns buffered records first, so
		 * WANT_READ means SSL_pending is 0 too.
		 */
		if (session_answer_and_wait(s, s->want) == -1)
			break;
	}
	if (lmtp_closed_for_errors(s->lmtp))
		log_info("too many errors from %s (max_bad_commands %u), "
		    "closing", s->peer, s->conf->max_bad_commands);
	if (!s->dead)
		session_flush(s);
}

/*
 * A TCP client outside `allow` gets one 421 and is closed before the
 * greeting; Unix-socket clients were vetted by the socket's permissions.
 */
static bool
session_refused(struct session *s, const struct sockaddr *peer)
{
	char	reply[300];
	int	n;

	if (peer == NULL || (peer->sa_family != AF_INET &&
	    peer->sa_family != AF_INET6) ||
	    access_allowed(s->conf->allow, s->conf->n_allow, peer))
		return false;
	log_info("reject: connect from %s: not in allow", s->peer);
	stats_add(STATS_REFUSED, 1);
	n = snprintf(reply, sizeof(reply), "421 4.7.0 %s access denied\r\n",
	    s->conf->hostname);
	if (n > 0 && (size_t)n < sizeof(reply))
		(void)send(s->fd, reply, (size_t)n, MSG_NOSIGNAL);
	return true;
}

void
session_run(int fd, const struct sockaddr *peer, socklen_t peer_len,
    const struct conf *conf, const sigset_t *waitmask,
    const volatile sig_atomic_t *stopping)
{
	struct session		s;
	struct lmtp_limits	limits;

	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.conf = conf;
	s.waitmask = waitmask;
	s.stopping = stopping;
	s.d = delivery_new(conf);
	s.inbuf = xmalloc(SESSION_READ_SIZE);
	describe_peer(peer, peer_len, s.peer, sizeof(s.peer));
	if (session_refused(&s, peer)) {
		delivery_free(s.d);
		x_free(s.inbuf);
		close(fd);
		return;
	}
	log_info("connect from %s", s.peer);
	stats_add(STATS_CONNECTIONS, 1);

	limits.hostname = conf->hostname;
	limits.max_message_size = conf->max_message_size;
	limits.max_recipients = conf->max_recipients;
	limits.max_bad_commands = conf->max_bad_commands;
	/* RFC 3207 on TCP only: a Unix socket is already local. */
	limits.tls = LMTP_TLS_OFF;
	if (conf->tls_ctx != NULL && peer != NULL &&
	    (peer->sa_family == AF_INET || peer->sa_family == AF_INET6))
		limits.tls = conf->tls == CONF_TLS_REQUIRED ?
		    LMTP_TLS_REQUIRED : LMTP_TLS_OPTIONAL;
	s.deadline_ms = now_ms() + (int64_t)conf->command_timeout * 1000;
	s.lmtp = lmtp_new(&limits, &session_hooks, &s);
	session_loop(&s);
	tls_conn_free(s.tls);
	lmtp_free(s.lmtp);
	delivery_free(s.d);
	x_free(s.inbuf);
	close(fd);
	log_info("disconnect from %s", s.peer);
}
