/* SPDX-License-Identifier: MIT */
/*
 * listener: bind and listen on TCP (IPv4, IPv6) and Unix-domain sockets,
 * or adopt those a service manager passed.  Only fds come out of here;
 * nothing accepts, nothing logs.  A Unix path is removed only when it is a
 * socket nobody answers on (stale) or one we bound ourselves; any other
 * file at that path, and any inherited socket, is left alone.  Unix
 * sockets are bound under umask 0177, so they are never briefly
 * world-accessible.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "listener.h"
#include "util.h"

/* nginx's default; the kernel caps it at net.core.somaxconn. */
#define LISTENER_BACKLOG	511

static void	listener_label(const struct conf_listen *, char *, size_t);
static int	inet_bind(const char *, const char *, int, bool, int *,
		    char *, size_t);
static int	inet_open(const struct conf_listen *, struct listener *,
		    char *, size_t);
static int	unix_prepare(const char *, const char *, char *, size_t);
static int	parse_id(const char *, unsigned long *);
static int	unix_set_owner(const char *, const struct conf *,
		    const char *, char *, size_t);
static int	unix_open(const struct conf_listen *, const struct conf *,
		    struct listener *, char *, size_t);
static void	adopt_name(const struct sockaddr_storage *, socklen_t,
		    struct listener *);
static int	adopt_one(int, struct listener *, char *, size_t);
static int	adopt_all(int, struct listener *, char *, size_t);
static int	bind_all(const struct conf *, struct listener *, char *,
		    size_t);
static int	passed_count(char *, size_t);

/* The name an error message starts with: the spec as written. */
static void
listener_label(const struct conf_listen *cl, char *out, size_t cap)
{
	if (cl->spec != NULL && cl->spec[0] != '\0')
		snprintf(out, cap, "%s", cl->spec);
	else if (cl->kind == CONF_LISTEN_UNIX)
		snprintf(out, cap, "unix:%s", cl->path ? cl->path : "");
	else
		snprintf(out, cap, "inet:%s:%s", cl->host ? cl->host : "",
		    cl->port ? cl->port : "");
}

/*
 * Binds the first address host:port resolves to.  v6only is the
 * IPV6_V6ONLY value for an IPv6 socket.  Returns 0 with the fd in *fd_out,
 * or -1 with err and errno from the last attempt.
 */
static int
inet_bind(const char *host, const char *port, int family, bool v6only,
    int *fd_out, char *err, size_t cap)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd, on = 1, v6 = v6only ? 1 : 0, rc, saved;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, cap, "%s", gai_strerror(rc));
		errno = rc == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
		return -1;
	}
	saved = EADDRNOTAVAIL;
	snprintf(err, cap, "no usable address");
	/* XXX: a name with several addresses gets only the first that binds. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			snprintf(err, cap, "socket: %s", strerror(errno));
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1) {
			saved = errno;
			snprintf(err, cap, "SO_REUSEADDR: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &v6, sizeof(v6)) == -1) {
			saved = errno;
			snprintf(err, cap, "IPV6_V6ONLY: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			saved = errno;
			snprintf(err, cap, "bind: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (listen(fd, LISTENER_BACKLOG) == -1) {
			saved = errno;
			snprintf(err, cap, "listen: %s", strerror(errno));
			close(fd);
			continue;
		}
		freeaddrinfo(res);
		*fd_out = fd;
		return 0;
	}
	freeaddrinfo(res);
	errno = saved;
	return -1;
}

static int
inet_open(const struct conf_listen *cl, struct listener *out, char *err,
    size_t cap)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 label[128], why[128], tmp[NI_MAXHOST];
	char			 host[INET6_ADDRSTRLEN], serv[16];
	const char		*h, *port;
	size_t			 len;
	bool			 wildcard;
	int			 fd, rc;

	listener_label(cl, label, sizeof(label));
	h = cl->host != NULL ? cl->host : "*";
	port = cl->port != NULL ? cl->port : "";
	/* Accept "[::1]" as well as "::1". */
	len = strlen(h);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		if (len - 2 >= sizeof(tmp)) {
			snprintf(err, cap, "%s: address too long", label);
			return -1;
		}
		memcpy(tmp, h + 1, len - 2);
		tmp[len - 2] = '\0';
		h = tmp;
	}
	wildcard = strcmp(h, "*") == 0 || h[0] == '\0';
	if (wildcard) {
		/*
		 * One dual-stack socket.  Only when the host has no IPv6 at
		 * all fall back to IPv4; a busy port is an error either way.
		 */
		rc = inet_bind("::", port, AF_INET6, false, &fd, why,
		    sizeof(why));
		if (rc == -1 && (errno == EAFNOSUPPORT ||
		    errno == EADDRNOTAVAIL || errno == EPROTONOSUPPORT))
			rc = inet_bind("0.0.0.0", port, AF_INET, false, &fd,
			    why, sizeof(why));
		if (rc == -1) {
			snprintf(err, cap, "%s: %s", label, why);
			return -1;
		}
	} else if (inet_bind(h, port, AF_UNSPEC, true, &fd, why,
	    sizeof(why)) == -1) {
		snprintf(err, cap, "%s: %s", label, why);
		return -1;
	}

	out->fd = fd;
	out->kind = CONF_LISTEN_INET;
	out->path[0] = '\0';
	/* Name what was bound, so port 0 shows the port the kernel chose. */
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out->name, sizeof(out->name), "%s", label);
	else if (wildcard)
		snprintf(out->name, sizeof(out->name), "inet:*:%s", serv);
	else if (ss.ss_family == AF_INET6)
		snprintf(out->name, sizeof(out->name), "inet:[%s]:%s", host,
		    serv);
	else
		snprintf(out->name, sizeof(out->name), "inet:%s:%s", host,
		    serv);
	return 0;
}

/*
 * Makes path free for bind: absent, or a stale socket (removed).  Refuses
 * a path that is not a socket, and a socket a running server answers on.
 */
static int
unix_prepare(const char *path, const char *label, char *err, size_t cap)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, rc, saved;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, cap, "%s: %s", label, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, cap, "%s: exists and is not a socket", label);
		errno = EEXIST;
		return -1;
	}

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, cap, "%s: socket: %s", label, strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	/* EAGAIN: the backlog is full, so someone is listening. */
	if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS) {
		snprintf(err, cap, "%s: in use by a running server", label);
		errno = EADDRINUSE;
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, cap, "%s: probing the existing socket: %s", label,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, cap, "%s: removing the stale socket: %s", label,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A numeric uid or gid, for owners with no passwd or group entry. */
static int
parse_id(const char *s, unsigned long *out)
{
	char	*end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out >= (unsigned long)(uid_t)-1)
		return -1;
	return 0;
}

static int
unix_set_owner(const char *path, const struct conf *conf, const char *label,
    char *err, size_t cap)
{
	const char	*owner = conf->socket_owner;
	const char	*group = conf->socket_group;
	struct passwd	*pw;
	struct group	*gr;
	uid_t		 uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1;
	unsigned long	 id;

	if (owner != NULL && owner[0] != '\0') {
		pw = getpwnam(owner);
		if (pw != NULL)
			uid = pw->pw_uid;
		else if (parse_id(owner, &id) == 0)
			uid = (uid_t)id;
		else {
			snprintf(err, cap, "%s: unknown socket_owner \"%s\"",
			    label, owner);
			errno = EINVAL;
			return -1;
		}
	}
	if (group != NULL && group[0] != '\0') {
		gr = getgrnam(group);
		if (gr != NULL)
			gid = gr->gr_gid;
		else if (parse_id(group, &id) == 0)
			gid = (gid_t)id;
		else {
			snprintf(err, cap, "%s: unknown socket_group \"%s\"",
			    label, group);
			errno = EINVAL;
			return -1;
		}
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    lchown(path, uid, gid) == -1) {
		snprintf(err, cap, "%s: chown: %s", label, strerror(errno));
		return -1;
	}
	return 0;
}

static int
unix_open(const struct conf_listen *cl, const struct conf *conf,
    struct listener *out, char *err, size_t cap)
{
	struct sockaddr_un	 sun;
	char			 label[128];
	const char		*path = cl->path != NULL ? cl->path : "";
	size_t			 len;
	mode_t			 old;
	int			 fd, rc, saved;

	listener_label(cl, label, sizeof(label));
	len = strlen(path);
	if (len == 0) {
		snprintf(err, cap, "%s: empty socket path", label);
		errno = EINVAL;
		return -1;
	}
	if (len >= sizeof(sun.sun_path) || len >= sizeof(out->path)) {
		snprintf(err, cap, "%s: path longer than %zu bytes", label,
		    sizeof(sun.sun_path) - 1);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unix_prepare(path, label, err, cap) == -1)
		return -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, cap, "%s: socket: %s", label, strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	umask(old);
	if (rc == -1) {
		snprintf(err, cap, "%s: bind: %s", label, strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	/* The owner first, while the mode still shuts everyone else out. */
	if (unix_set_owner(path, conf, label, err, cap) == -1)
		goto fail;
	if (chmod(path, conf->socket_mode & 0777) == -1) {
		snprintf(err, cap, "%s: chmod: %s", label, strerror(errno));
		goto fail;
	}
	if (listen(fd, LISTENER_BACKLOG) == -1) {
		snprintf(err, cap, "%s: listen: %s", label, strerror(errno));
		goto fail;
	}

	out->fd = fd;
	out->kind = CONF_LISTEN_UNIX;
	memcpy(out->path, path, len + 1);
	snprintf(out->name, sizeof(out->name), "unix:%s", path);
	return 0;

fail:
	saved = errno;
	close(fd);
	unlink(path);
	errno = saved;
	return -1;
}

int
listener_open(const struct conf_listen *cl, const struct conf *conf,
    struct listener *out, char *err, size_t cap)
{
	out->fd = -1;
	out->kind = cl->kind;
	out->name[0] = '\0';
	out->path[0] = '\0';
	out->inherited = false;
	if (cl->kind == CONF_LISTEN_UNIX)
		return unix_open(cl, conf, out, err, cap);
	return inet_open(cl, out, err, cap);
}

/* Names an adopted socket after its address: "systemd:inet:[::1]:24". */
static void
adopt_name(const struct sockaddr_storage *ss, socklen_t sslen,
    struct listener *out)
{
	const struct sockaddr_un	*sun = (const struct sockaddr_un *)ss;
	char				 host[INET6_ADDRSTRLEN], serv[16];
	size_t				 plen;

	if (ss->ss_family != AF_UNIX) {
		out->kind = CONF_LISTEN_INET;
		if (getnameinfo((const struct sockaddr *)ss, sslen, host,
		    sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			snprintf(out->name, sizeof(out->name),
			    "systemd:inet:fd%d", out->fd);
		else if (ss->ss_family == AF_INET6)
			snprintf(out->name, sizeof(out->name),
			    "systemd:inet:[%s]:%s", host, serv);
		else
			snprintf(out->name, sizeof(out->name),
			    "systemd:inet:%s:%s", host, serv);
		return;
	}
	out->kind = CONF_LISTEN_UNIX;
	plen = sslen > offsetof(struct sockaddr_un, sun_path) ?
	    sslen - offsetof(struct sockaddr_un, sun_path) : 0;
	if (plen == 0)
		snprintf(out->name, sizeof(out->name), "systemd:unix:fd%d",
		    out->fd);
	else if (sun->sun_path[0] == '\0')	/* Linux abstract namespace */
		snprintf(out->name, sizeof(out->name), "systemd:unix:@%.*s",
		    (int)(plen - 1), sun->sun_path + 1);
	else {
		/* Kept for the logs only: listener_close() leaves it be. */
		snprintf(out->path, sizeof(out->path), "%.*s", (int)plen,
		    sun->sun_path);
		snprintf(out->name, sizeof(out->name), "systemd:unix:%s",
		    out->path);
	}
}

/*
 * Adopts fd, passed by the service manager, into out: it must be what
 * sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) accepts, and TCP or Unix.
 */
static int
adopt_one(int fd, struct listener *out, char *err, size_t cap)
{
	struct sockaddr_storage	ss;
	struct stat		st;
	socklen_t		len, sslen = sizeof(ss);
	int			type = 0, listening = 0, flags;

	out->fd = -1;
	out->kind = CONF_LISTEN_INET;
	out->name[0] = '\0';
	out->path[0] = '\0';
	out->inherited = true;
	if (fstat(fd, &st) == -1) {
		snprintf(err, cap, "socket activation: fd %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, cap, "socket activation: fd %d is not a socket",
		    fd);
		errno = ENOTSOCK;
		return -1;
	}
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM) {
		snprintf(err, cap, "socket activation: fd %d is not a stream "
		    "socket", fd);
		errno = EPROTOTYPE;
		return -1;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &len) == -1 || !listening) {
		snprintf(err, cap, "socket activation: fd %d is not "
		    "listening", fd);
		errno = EINVAL;
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(err, cap, "socket activation: fd %d: getsockname: "
		    "%s", fd, strerror(errno));
		return -1;
	}
	if (ss.ss_family != AF_UNIX && ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6) {
		snprintf(err, cap, "socket activation: fd %d is neither TCP "
		    "nor a Unix socket (address family %d)", fd,
		    (int)ss.ss_family);
		errno = EAFNOSUPPORT;
		return -1;
	}
	/*
	 * O_NONBLOCK is on the open file, which the manager shares: it
	 * polls before it accepts, so that does not disturb it.
	 */
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, cap, "socket activation: fd %d: fcntl: %s", fd,
		    strerror(errno));
		return -1;
	}
	out->fd = fd;
	adopt_name(&ss, sslen, out);
	return 0;
}

static int
adopt_all(int n, struct listener *ls, char *err, size_t cap)
{
	int	i, saved;

	for (i = 0; i < n; i++) {
		if (adopt_one(COMPAT_LISTEN_FDS_START + i, &ls[i], err,
		    cap) == -1) {
			saved = errno;
			while (i > 0)
				listener_close(&ls[--i]);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

static int
bind_all(const struct conf *conf, struct listener *ls, char *err,
    size_t cap)
{
	size_t	i;
	int	saved;

	for (i = 0; i < conf->n_listen; i++) {
		if (listener_open(&conf->listen[i], conf, &ls[i], err,
		    cap) == -1) {
			saved = errno;
			while (i > 0)
				listener_close(&ls[--i]);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

/* The number of sockets passed (0: none), or -1 with err. */
static int
passed_count(char *err, size_t cap)
{
	int	n;

	n = compat_sd_listen_fds(true);
	if (n == -1)
		snprintf(err, cap, "socket activation: LISTEN_PID or "
		    "LISTEN_FDS: %s", strerror(errno));
	return n;
}

struct listener *
listener_open_set(const struct conf *conf, size_t *n_out, char *err,
    size_t cap)
{
	struct listener	*ls;
	size_t		 n;
	int		 passed, rc, saved;

	passed = passed_count(err, cap);
	if (passed == -1)
		return NULL;
	n = passed > 0 ? (size_t)passed : conf->n_listen;
	ls = xcalloc(n, sizeof(*ls));
	if (passed > 0)
		rc = adopt_all(passed, ls, err, cap);
	else
		rc = bind_all(conf, ls, err, cap);
	if (rc == -1) {
		saved = errno;
		x_free(ls);
		errno = saved;
		return NULL;
	}
	*n_out = n;
	return ls;
}

void
listener_close(struct listener *l)
{
	if (l->fd != -1) {
		/*
		 * Children hold copies of this socket; on Linux shutdown()
		 * makes it stop listening in all of them, so a stop refuses
		 * new connections at once instead of a busy child's copy
		 * queueing them until it exits.  Not an inherited one: the
		 * manager listens on with it, and the next start serves
		 * what queued meanwhile.
		 */
		if (!l->inherited)
			(void)shutdown(l->fd, SHUT_RDWR);
		close(l->fd);
		l->fd = -1;
	}
	if (!l->inherited && l->kind == CONF_LISTEN_UNIX &&
	    l->path[0] != '\0')
		(void)unlink(l->path);
	l->path[0] = '\0';
}
