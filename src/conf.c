/* SPDX-License-Identifier: MIT */
/*
 * conf: the libconfuse schema, and the checks that turn a parsed file (or
 * the built-in defaults alone) into an immutable struct conf.  Both go
 * through the same checks, after parsing, with the line each value came
 * from.  Reads the file and users_file; never binds, logs, prints or exits.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <confuse.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "quota.h"
#include "template.h"
#include "tls.h"
#include "userdb.h"
#include "util.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/var/run"
#endif

#define CONF_FILE_MAX		(1024 * 1024)	/* a config file, not a spool */
#define CONF_USERS_LINE_MAX	1024
#define CONF_SPEC_MAX		127	/* struct listener's name[128] */
#define CONF_DOMAIN_MAX		255	/* RFC 5321 §4.5.3.1.2 */
#define CONF_LABEL_MAX		63	/* RFC 1035 §2.3.4 */
#define CONF_LOCAL_MAX		64	/* RFC 5321 §4.5.3.1.1 */
#define CONF_POOL_MAX		10000
#define CONF_SUN_PATH		sizeof(((struct sockaddr_un *)NULL)->sun_path)

/* The line a value came from: one entry per value libconfuse parsed. */
struct conf_seen {
	const char	*name;		/* libconfuse's copy; lives with cfg */
	unsigned	 idx;		/* index in a list, 0 for a scalar */
	int		 line;		/* 0: a built-in default */
};

struct conf_ctx {
	const char		*file;	/* NULL: built-in defaults only */
	char			*err;
	size_t			 cap;
	bool			 failed;	/* err holds the first error */
	cfg_t			*cfg;
	struct conf_seen	*seen;
	size_t			 n_seen;
	size_t			 cap_seen;
};

/*
 * libconfuse calls back without a user pointer, so the load in progress
 * is found here.  Its lexer is global state too, so conf_load was never
 * reentrant anyway.
 */
static struct conf_ctx	*conf_cur;

static void	conf_errx(struct conf_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	conf_fail(struct conf_ctx *, const char *, unsigned,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	conf_cfg_error(cfg_t *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static int	conf_cb_str(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_cb_int(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_cb_size(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_set_template(struct conf_ctx *, const char *,
		    const char *, char **);
static int	conf_range(struct conf_ctx *, const char *, long, long,
		    unsigned *);
static void	conf_set_mail_root(struct conf *);

static inline bool
conf_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

static inline bool
conf_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static inline bool
conf_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Keeps the first error only: later ones are usually its consequences. */
static void
conf_errx(struct conf_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;

	if (ctx->failed)
		return;
	ctx->failed = true;
	if (ctx->err == NULL || ctx->cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->err, ctx->cap, fmt, ap);
	va_end(ap);
}

static int
conf_line(const struct conf_ctx *ctx, const char *name, unsigned idx)
{
	size_t	i;

	for (i = ctx->n_seen; i > 0; i--)
		if (ctx->seen[i - 1].idx == idx &&
		    strcmp(ctx->seen[i - 1].name, name) == 0)
			return ctx->seen[i - 1].line;
	return 0;
}

/* The one of a and b that was set later in the file takes the blame. */
static const char *
conf_blame(const struct conf_ctx *ctx, const char *a, const char *b)
{
	return conf_line(ctx, b, 0) > conf_line(ctx, a, 0) ? b : a;
}

/* "FILE:LINE: option 'NAME': why", without the parts that do not apply. */
static int
conf_fail(struct conf_ctx *ctx, const char *name, unsigned idx,
    const char *fmt, ...)
{
	char	why[512];
	va_list	ap;
	int	line;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	line = conf_line(ctx, name, idx);
	if (ctx->file == NULL)
		conf_errx(ctx, "option '%s': %s", name, why);
	else if (line > 0)
		conf_errx(ctx, "%s:%d: option '%s': %s", ctx->file, line, name,
		    why);
	else
		conf_errx(ctx, "%s: option '%s': %s", ctx->file, name, why);
	return -1;
}

/* libconfuse's messages carry no position; cfg knows it. */
static void
conf_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg->filename != NULL && cfg->line > 0)
		conf_errx(conf_cur, "%s:%d: %s", cfg->filename, cfg->line, msg);
	else if (cfg->filename != NULL)
		conf_errx(conf_cur, "%s: %s", cfg->filename, msg);
	else
		conf_errx(conf_cur, "%s", msg);
}

/*
 * Every option has a parse callback, called once per value with cfg->line
 * on that value (including the list defaults, at line 0): the only way
 * libconfuse 3.3 tells which line an option came from.
 */
static void
conf_record(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_ctx		*ctx = conf_cur;
	struct conf_seen	*s;

	if (ctx->n_seen == ctx->cap_seen) {
		ctx->cap_seen = ctx->cap_seen == 0 ? 32 : ctx->cap_seen * 2;
		ctx->seen = xreallocarray(ctx->seen, ctx->cap_seen,
		    sizeof(*ctx->seen));
	}
	s = &ctx->seen[ctx->n_seen++];
	s->name = opt->name;
	s->idx = opt->nvalues > 0 ? opt->nvalues - 1 : 0;
	s->line = cfg->line;
}

static int
conf_cb_str(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	conf_record(cfg, opt);
	*(const char **)result = value;
	return 0;
}

/*
 * Decimal only: libconfuse's own strtol(..., 0) would read "010" as 8.
 * With suffixes, k, m and g multiply by 1024, 1024^2 and 1024^3.
 */
static int
conf_parse_number(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    bool suffixes, long *out)
{
	char	*end;
	long	 v, mult = 1;

	if (!conf_is_digit(value[0]) && value[0] != '-')
		goto bad;
	errno = 0;
	v = strtol(value, &end, 10);
	if (end == value || (value[0] == '-' && end == value + 1))
		goto bad;
	if (errno == ERANGE)
		goto range;
	if (suffixes && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k':
		case 'K':
			mult = 1024L;
			break;
		case 'm':
		case 'M':
			mult = 1024L * 1024;
			break;
		case 'g':
		case 'G':
			mult = 1024L * 1024 * 1024;
			break;
		default:
			goto bad;
		}
		end++;
	}
	if (*end != '\0')
		goto bad;
	if (v > LONG_MAX / mult || v < LONG_MIN / mult)
		goto range;
	*out = v * mult;
	return 0;
bad:
	cfg_error(cfg, "option '%s': '%s' is not %s", opt->name, value,
	    suffixes ? "a size (N, Nk, Nm or Ng)" : "a decimal number");
	return -1;
range:
	cfg_error(cfg, "option '%s': '%s' is out of range", opt->name, value);
	return -1;
}

static int
conf_cb_int(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	conf_record(cfg, opt);
	return conf_parse_number(cfg, opt, value, false, result);
}

static int
conf_cb_size(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	conf_record(cfg, opt);
	return conf_parse_number(cfg, opt, value, true, result);
}

/*
 * Reads the whole file: it is parsed from memory after conf_strip_comments
 * has run over it.
 */
static int
conf_read_file(struct conf_ctx *ctx, const char *path, char **out,
    size_t *len_out)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang the open; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		conf_errx(ctx, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		conf_errx(ctx, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_errx(ctx, "%s: not a regular file", path);
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= CONF_FILE_MAX) {
				conf_errx(ctx, "%s: 1 MiB or larger", path);
				goto fail;
			}
			cap = cap == 0 ? 4096 : cap * 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			conf_errx(ctx, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		conf_errx(ctx, "%s: contains a NUL byte", path);
		x_free(buf);
		return -1;
	}
	*out = buf;
	*len_out = len;
	return 0;
fail:
	close(fd);
	x_free(buf);
	return -1;
}

/*
 * XXX: libconfuse 3.3 counts each comment line twice (so every error
 * after a comment names the wrong line), and rejects a comment inside a
 * list (libconfuse issue #150).  Its lexer never sees ours: comments are
 * blanked out here, newlines kept, with its quoting rules.
 */
static int
conf_strip_comments(struct conf_ctx *ctx, char *p, size_t len)
{
	enum { CODE, DQUOTE, SQUOTE, LINE, BLOCK } st = CODE;
	size_t	i;
	int	line = 1, start = 0;

	for (i = 0; i < len; i++) {
		switch (st) {
		case CODE:
			if (p[i] == '"' || p[i] == '\'') {
				st = p[i] == '"' ? DQUOTE : SQUOTE;
				start = line;
			} else if (p[i] == '#' ||
			    (p[i] == '/' && i + 1 < len && p[i + 1] == '/')) {
				st = LINE;
				p[i] = ' ';
			} else if (p[i] == '/' && i + 1 < len &&
			    p[i + 1] == '*') {
				st = BLOCK;
				start = line;
				p[i] = p[i + 1] = ' ';
				i++;
			}
			break;
		case DQUOTE:
			if (p[i] == '\\' && i + 1 < len)
				i++;
			else if (p[i] == '"')
				st = CODE;
			break;
		case SQUOTE:
			if (p[i] == '\\' && i + 1 < len &&
			    (p[i + 1] == '\\' || p[i + 1] == '\''))
				i++;
			else if (p[i] == '\'')
				st = CODE;
			break;
		case LINE:
			if (p[i] == '\n')
				st = CODE;
			else
				p[i] = ' ';
			break;
		case BLOCK:
			if (p[i] == '*' && i + 1 < len && p[i + 1] == '/') {
				p[i] = p[i + 1] = ' ';
				i++;
				st = CODE;
			} else if (p[i] != '\n')
				p[i] = ' ';
			break;
		}
		if (i < len && p[i] == '\n')
			line++;
	}
	/* libconfuse would only say "premature end of file", at the end. */
	if (st == BLOCK || st == DQUOTE || st == SQUOTE) {
		conf_errx(ctx, "%s:%d: unterminated %s", ctx->file, start,
		    st == BLOCK ? "/* comment" : "string");
		return -1;
	}
	return 0;
}

static int
conf_parse_text(struct conf_ctx *ctx, cfg_t *cfg, char *text, size_t len)
{
	FILE	*fp;
	int	 rc;

	if (conf_strip_comments(ctx, text, len) == -1)
		return -1;
	/* cfg_free() frees it; util's allocations are plain malloc. */
	cfg->filename = xstrdup(ctx->file);
	/* Older glibc fmemopen() refuses an empty buffer. */
	if (len == 0)
		return 0;
	fp = fmemopen(text, len, "r");
	if (fp == NULL) {
		conf_errx(ctx, "%s: %s", ctx->file, strerror(errno));
		return -1;
	}
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	if (rc != CFG_SUCCESS) {
		conf_errx(ctx, "%s: parse error", ctx->file);
		return -1;
	}
	return 0;
}

static int
conf_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* bsearch with key folded to lower case; the array is lower case. */
static int
conf_foldcmp(const void *key, const void *elem)
{
	const unsigned char	*k = key;
	const unsigned char	*e = *(const unsigned char *const *)elem;
	unsigned char		 c;

	for (;; k++, e++) {
		c = (*k >= 'A' && *k <= 'Z') ? (unsigned char)(*k - 'A' + 'a')
		    : *k;
		if (c != *e)
			return c < *e ? -1 : 1;
		if (c == '\0')
			return 0;
	}
}

static void
conf_sort_unique(char **v, size_t *n)
{
	size_t	i, j;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), conf_strcmp);
	for (i = 1, j = 1; i < *n; i++) {
		if (strcmp(v[i], v[j - 1]) == 0)
			x_free(v[i]);
		else
			v[j++] = v[i];
	}
	*n = j;
}

static bool
conf_abs_path(const char *s)
{
	return s[0] == '/' && strlen(s) < PATH_MAX;
}

/* NULL when d is a plausible domain, else why not. */
static const char *
conf_domain_problem(const char *d)
{
	size_t	label = 0;

	if (*d == '\0')
		return "empty domain";
	if (strlen(d) > CONF_DOMAIN_MAX)
		return "longer than 255 octets";
	if (*d == '.')
		return "starts with '.'";
	for (; *d != '\0'; d++) {
		if (*d == '.') {
			if (label == 0)
				return "empty label";
			label = 0;
			continue;
		}
		if (*d == '/')
			return "contains '/'";
		/* Bytes over 0x7f: UTF-8 labels (RFC 6531). */
		if (!conf_is_alnum(*d) && *d != '-' && *d != '_' &&
		    (unsigned char)*d < 0x80)
			return "invalid character";
		if (++label > CONF_LABEL_MAX)
			return "label longer than 63 octets";
	}
	if (label == 0)
		return "empty label";
	return NULL;
}

/* A host name or IPv4 address as the inet: form takes it. */
static const char *
conf_host_problem(const char *h)
{
	struct in_addr	a;
	const char	*p;
	bool		 numeric = true;

	if (strcmp(h, "*") == 0)
		return NULL;
	for (p = h; *p != '\0'; p++) {
		if (!conf_is_alnum(*p) && *p != '-' && *p != '.' && *p != '_')
			return "invalid character in host";
		if (!conf_is_digit(*p) && *p != '.')
			numeric = false;
	}
	if (h[0] == '.' || h[0] == '-')
		return "invalid host";
	if (numeric && inet_pton(AF_INET, h, &a) != 1)
		return "not an IPv4 address";
	return NULL;
}

static int
conf_parse_inet(struct conf_ctx *ctx, const char *opt, unsigned i,
    const char *spec, struct conf_listen *l)
{
	struct in6_addr	 a6;
	const char	*rest = spec + 5, *sep, *why, *port;
	char		*host;
	unsigned long	 n;
	size_t		 k;

	if (rest[0] == '[') {
		sep = strchr(rest, ']');
		if (sep == NULL)
			return conf_fail(ctx, opt, i,
			    "'%s': missing ']'", spec);
		host = xstrndup(rest + 1, (size_t)(sep - rest - 1));
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			x_free(host);
			return conf_fail(ctx, opt, i,
			    "'%s': not an IPv6 address", spec);
		}
		sep++;
		if (*sep != ':') {
			x_free(host);
			return conf_fail(ctx, opt, i,
			    "'%s': expected ':PORT' after ']'", spec);
		}
	} else {
		sep = strrchr(rest, ':');
		if (sep == NULL)
			return conf_fail(ctx, opt, i,
			    "'%s': expected inet:HOST:PORT", spec);
		host = xstrndup(rest, (size_t)(sep - rest));
		why = NULL;
		if (host[0] == '\0')
			why = "missing host";
		else if (strchr(host, ':') != NULL)
			why = "an IPv6 address goes in brackets, [::1]";
		else
			why = conf_host_problem(host);
		if (why != NULL) {
			x_free(host);
			return conf_fail(ctx, opt, i, "'%s': %s", spec,
			    why);
		}
	}
	port = sep + 1;
	n = 0;
	for (k = 0; port[k] != '\0'; k++) {
		if (!conf_is_digit(port[k]) || k >= 5)
			break;
		n = n * 10 + (unsigned long)(port[k] - '0');
	}
	if (k == 0 || port[k] != '\0' || n < 1 || n > 65535) {
		x_free(host);
		return conf_fail(ctx, opt, i,
		    "'%s': port must be a number from 1 to 65535", spec);
	}
	l->kind = CONF_LISTEN_INET;
	l->host = host;
	l->port = xasprintf("%lu", n);
	return 0;
}

static int
conf_parse_listen(struct conf_ctx *ctx, const char *opt, unsigned i,
    const char *spec, struct conf_listen *l)
{
	if (strlen(spec) > CONF_SPEC_MAX)
		return conf_fail(ctx, opt, i,
		    "'%.20s...': longer than %d bytes", spec, CONF_SPEC_MAX);
	if (strncmp(spec, "inet:", 5) == 0) {
		if (conf_parse_inet(ctx, opt, i, spec, l) == -1)
			return -1;
	} else if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] != '/')
			return conf_fail(ctx, opt, i,
			    "'%s': the socket path must be absolute", spec);
		if (strlen(spec + 5) >= CONF_SUN_PATH)
			return conf_fail(ctx, opt, i,
			    "'%s': socket path longer than %zu bytes", spec,
			    CONF_SUN_PATH - 1);
		l->kind = CONF_LISTEN_UNIX;
		l->path = xstrdup(spec + 5);
	} else
		return conf_fail(ctx, opt, i,
		    "'%s': expected inet:HOST:PORT or unix:/PATH", spec);
	l->spec = xstrdup(spec);
	return 0;
}

static int
conf_set_listen(struct conf_ctx *ctx, struct conf *conf)
{
	unsigned	 i, j, n;
	const char	*spec;

	n = cfg_size(ctx->cfg, "listen");
	if (n == 0)
		return conf_fail(ctx, "listen", 0,
		    "at least one listener is required");
	conf->listen = xcalloc(n, sizeof(*conf->listen));
	for (i = 0; i < n; i++) {
		spec = cfg_getnstr(ctx->cfg, "listen", i);
		for (j = 0; j < i; j++)
			if (strcmp(conf->listen[j].spec, spec) == 0)
				return conf_fail(ctx, "listen", i,
				    "'%s' is listed twice", spec);
		if (conf_parse_listen(ctx, "listen", i, spec,
		    &conf->listen[i]) == -1)
			return -1;
		conf->n_listen++;
	}
	return 0;
}

static int
conf_set_sockets(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*m;
	size_t		 k;
	long		 v;

	m = cfg_getstr(ctx->cfg, "socket_mode");
	for (k = 0; m[k] != '\0'; k++)
		if (m[k] < '0' || m[k] > '7')
			break;
	v = k > 0 && k <= 4 && m[k] == '\0' ? strtol(m, NULL, 8) : -1;
	if (v < 0 || v > 0777)
		return conf_fail(ctx, "socket_mode", 0,
		    "'%s' is not an octal mode from 0 to 0777", m);
	conf->socket_mode = (mode_t)v;
	conf->socket_owner = xstrdup(cfg_getstr(ctx->cfg, "socket_owner"));
	conf->socket_group = xstrdup(cfg_getstr(ctx->cfg, "socket_group"));
	return 0;
}

static int
conf_set_name(struct conf_ctx *ctx, const char *name, char **out)
{
	const char	*s, *p;

	s = cfg_getstr(ctx->cfg, name);
	if (*s == '\0')
		return conf_fail(ctx, name, 0, "must not be empty");
	for (p = s; *p != '\0'; p++)
		if (conf_is_space(*p) || (unsigned char)*p < 0x20)
			return conf_fail(ctx, name, 0,
			    "'%s' contains white space", s);
	*out = xstrdup(s);
	return 0;
}

static int
conf_set_identity(struct conf_ctx *ctx, struct conf *conf)
{
	char		 host[256];
	const char	*h, *p;

	if (conf_set_name(ctx, "user", &conf->user) == -1 ||
	    conf_set_name(ctx, "group", &conf->group) == -1)
		return -1;
	h = cfg_getstr(ctx->cfg, "hostname");
	if (*h == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			return conf_fail(ctx, "hostname", 0, "gethostname: %s",
			    strerror(errno));
		host[sizeof(host) - 1] = '\0';
		if (host[0] == '\0')
			return conf_fail(ctx, "hostname", 0,
			    "gethostname gave an empty name; set hostname");
		h = host;
	}
	/* It goes into replies and Maildir file names. */
	if (strlen(h) > CONF_DOMAIN_MAX)
		return conf_fail(ctx, "hostname", 0, "longer than 255 octets");
	for (p = h; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return conf_fail(ctx, "hostname", 0,
			    "'%s' is not printable ASCII without spaces", h);
	conf->hostname = xstrdup(h);
	return 0;
}

/* RFC 2033 §5 leaves access to the site: loopback only by default. */
static int
conf_set_allow(struct conf_ctx *ctx, struct conf *conf)
{
	static const char	*why[] = {
		[ACCESS_BAD_ADDRESS] = "not an IPv4 or IPv6 address",
		[ACCESS_BAD_PREFIX] = "bad prefix length",
		[ACCESS_HOST_BITS] = "host bits set below the prefix",
	};
	enum access_status	 st;
	const char		*spec;
	unsigned		 i, n;

	n = cfg_size(ctx->cfg, "allow");
	conf->allow = xcalloc(n, sizeof(*conf->allow));
	for (i = 0; i < n; i++) {
		spec = cfg_getnstr(ctx->cfg, "allow", i);
		st = access_parse(spec, &conf->allow[i]);
		if (st != ACCESS_OK)
			return conf_fail(ctx, "allow", i, "'%s': %s", spec,
			    why[st]);
	}
	conf->n_allow = n;
	conf->strict_permissions = cfg_getbool(ctx->cfg,
	    "strict_permissions");
	return 0;
}

static int
conf_set_domains(struct conf_ctx *ctx, struct conf *conf)
{
	unsigned	 i, n;
	const char	*why;
	char		*d;

	n = cfg_size(ctx->cfg, "domains");
	if (n == 0)
		return conf_fail(ctx, "domains", 0,
		    "at least one domain is required");
	conf->domains = xcalloc(n, sizeof(*conf->domains));
	for (i = 0; i < n; i++) {
		d = xstrdup(cfg_getnstr(ctx->cfg, "domains", i));
		why = conf_domain_problem(d);
		if (why != NULL) {
			conf_fail(ctx, "domains", i, "'%s': %s", d, why);
			x_free(d);
			return -1;
		}
		util_lower(d);
		conf->domains[conf->n_domains++] = d;
	}
	conf_sort_unique(conf->domains, &conf->n_domains);
	return 0;
}

/* RFC 5321 §4.5.3.1.1 bounds, then the domain must be local. */
static const char *
conf_address_problem(const struct conf *conf, const char *a)
{
	const char	*at, *p;
	char		 local[CONF_LOCAL_MAX + 1];

	for (p = a; *p != '\0'; p++)
		if (conf_is_space(*p) || (unsigned char)*p < 0x20)
			return "white space or control character";
	at = strrchr(a, '@');
	if (at == NULL)
		return "no '@'";
	if (at == a)
		return "empty local part";
	if (at - a > CONF_LOCAL_MAX)
		return "local part longer than 64 octets";
	memcpy(local, a, (size_t)(at - a));
	local[at - a] = '\0';
	/* The same rule as for RCPT: it must be safe as a file name. */
	if (addr_local_check(local) != ADDR_LOCAL_SAFE)
		return "local part unsafe as a file name ('/', a leading "
		    "'.', '..', a control character or bad UTF-8)";
	if (!conf_domain_is_local(conf, at + 1))
		return "domain is not one of domains";
	return NULL;
}

static int
conf_set_maildir(struct conf_ctx *ctx, struct conf *conf)
{
	if (conf_set_template(ctx, "maildir", "dnu", &conf->maildir) == -1)
		return -1;
	conf_set_mail_root(conf);
	return 0;
}

/* Each users_file line must name a local domain (or be "@domain"). */
static int
conf_check_users(struct conf_ctx *ctx, struct conf *conf)
{
	const struct userdb_entry	*e;
	const char			*why, *at;
	size_t				 i;

	for (i = 0; i < userdb_count(conf->userdb); i++) {
		e = userdb_entry(conf->userdb, i);
		at = strrchr(e->key, '@');
		if (at == e->key)
			why = conf_domain_is_local(conf, at + 1) ? NULL :
			    "domain is not one of domains";
		else
			why = conf_address_problem(conf, e->key);
		if (why != NULL) {
			conf_errx(ctx, "%s:%d: '%s': %s", conf->users_file,
			    e->line, e->key, why);
			return -1;
		}
	}
	return 0;
}

static int
conf_set_users(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*u;
	char		 why[USERDB_LINE_MAX + 256];

	u = cfg_getstr(ctx->cfg, "users_file");
	if (*u != '\0' && !conf_abs_path(u))
		return conf_fail(ctx, "users_file", 0,
		    "'%s' is not an absolute path", u);
	conf->users_file = xstrdup(u);
	if (*u == '\0')
		return 0;
	conf->userdb = userdb_load(u, conf->preserve_case, why, sizeof(why));
	if (conf->userdb == NULL) {
		if (errno == EINVAL && strncmp(why, u, strlen(u)) == 0 &&
		    why[strlen(u)] == ':' && why[strlen(u) + 1] != ' ') {
			conf_errx(ctx, "%s", why);
			return -1;
		}
		return conf_fail(ctx, "users_file", 0, "%s", why);
	}
	return conf_check_users(ctx, conf);
}

/*
 * Where recipients are looked up, in order.  Without the option: the
 * users_file when one is set (only its addresses exist), else the maildir
 * template for every local part.
 */
static int
conf_set_lookup(struct conf_ctx *ctx, struct conf *conf)
{
	static const struct {
		const char		*name;
		enum conf_lookup	 kind;
	} kinds[] = {
		{ "file", CONF_LOOKUP_FILE },
		{ "passwd", CONF_LOOKUP_PASSWD },
		{ "template", CONF_LOOKUP_TEMPLATE },
	};
	const char	*v;
	unsigned	 i, j, k, n;

	n = cfg_size(ctx->cfg, "lookup");
	if (n == 0) {
		conf->lookup[conf->n_lookup++] = conf->userdb != NULL ?
		    CONF_LOOKUP_FILE : CONF_LOOKUP_TEMPLATE;
		return 0;
	}
	if (n > CONF_LOOKUP_MAX)
		return conf_fail(ctx, "lookup", CONF_LOOKUP_MAX,
		    "at most %d sources", CONF_LOOKUP_MAX);
	for (i = 0; i < n; i++) {
		v = cfg_getnstr(ctx->cfg, "lookup", i);
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (strcmp(v, kinds[k].name) == 0)
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0]))
			return conf_fail(ctx, "lookup", i, "'%s' is not one of "
			    "file, passwd, template", v);
		for (j = 0; j < conf->n_lookup; j++)
			if (conf->lookup[j] == kinds[k].kind)
				return conf_fail(ctx, "lookup", i,
				    "'%s' is listed twice", v);
		if (kinds[k].kind == CONF_LOOKUP_FILE && conf->userdb == NULL)
			return conf_fail(ctx, "lookup", i,
			    "'file' needs users_file");
		conf->lookup[conf->n_lookup++] = kinds[k].kind;
	}
	return 0;
}

/* Template checks shared by maildir and passwd_maildir. */
static int
conf_set_template(struct conf_ctx *ctx, const char *name,
    const char *allowed, char **out)
{
	const char	*t;
	char		 bad;
	bool		 per_user;

	t = cfg_getstr(ctx->cfg, name);
	if (!conf_abs_path(t) && !(t[0] == '%' && t[1] == 'h'))
		return conf_fail(ctx, name, 0,
		    "'%s' is not an absolute path", t);
	if (template_check(t, allowed, &bad, &per_user) == -1) {
		if (bad == '\0')
			return conf_fail(ctx, name, 0,
			    "'%s' ends in a lone '%%'", t);
		return conf_fail(ctx, name, 0, "'%s': unknown sequence "
		    "'%%%c' (use %s)", t, bad, strchr(allowed, 'h') != NULL ?
		    "%h %d %n %u %%" : "%d %n %u %%");
	}
	if (!per_user)
		return conf_fail(ctx, name, 0,
		    "'%s' has neither %%n nor %%u: every user would share "
		    "one Maildir", t);
	*out = xstrdup(t);
	return 0;
}

/*
 * The mail root: the maildir template up to its first per-user part, for
 * the free-space check at MAIL.  "/var/mail/%d/%n" gives "/var/mail".
 */
static void
conf_set_mail_root(struct conf *conf)
{
	const char	*pct;
	size_t		 len;

	pct = strchr(conf->maildir, '%');
	len = pct != NULL ? (size_t)(pct - conf->maildir) :
	    strlen(conf->maildir);
	while (len > 1 && conf->maildir[len - 1] != '/')
		len--;
	if (len > 1)
		len--;
	conf->mail_root = xstrndup(conf->maildir, len);
}

static int
conf_set_delivery(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*v;
	long		 size;
	int		 i;

	if (conf_set_template(ctx, "passwd_maildir", "hdnu",
	    &conf->passwd_maildir) == -1 ||
	    conf_range(ctx, "min_uid", 0, INT_MAX, &conf->min_uid) == -1)
		return -1;
	v = cfg_getstr(ctx->cfg, "recipient_delimiter");
	for (i = 0; v[i] != '\0'; i++)
		if (v[i] == '@' || v[i] == '/' || v[i] == '.' ||
		    (unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
			return conf_fail(ctx, "recipient_delimiter", 0,
			    "'%c' cannot be a delimiter", v[i]);
	conf->recipient_delimiter = xstrdup(v);
	v = cfg_getstr(ctx->cfg, "detail_folders");
	if (strcmp(v, "existing") == 0)
		conf->detail_folders = CONF_FOLDERS_EXISTING;
	else if (strcmp(v, "create") == 0)
		conf->detail_folders = CONF_FOLDERS_CREATE;
	else if (strcmp(v, "inbox") == 0)
		conf->detail_folders = CONF_FOLDERS_INBOX;
	else
		return conf_fail(ctx, "detail_folders", 0,
		    "'%s' is not one of existing, create, inbox", v);
	conf->detail_folder_pattern = xstrdup(cfg_getstr(ctx->cfg,
	    "detail_folder_pattern"));
	if (conf_range(ctx, "max_detail_folders", 0, 100000,
	    &conf->max_detail_folders) == -1)
		return -1;
	v = cfg_getstr(ctx->cfg, "quota");
	if (quota_parse(v, &conf->quota) == -1)
		return conf_fail(ctx, "quota", 0, "'%s' is not a quota (N, Nk, "
		    "Nm, Ng, or Maildir++ NS,MC)", v);
	v = cfg_getstr(ctx->cfg, "quota_full");
	if (strcmp(v, "tempfail") != 0 && strcmp(v, "bounce") != 0)
		return conf_fail(ctx, "quota_full", 0,
		    "'%s' is neither tempfail nor bounce", v);
	conf->quota_bounce = strcmp(v, "bounce") == 0;
	size = cfg_getint(ctx->cfg, "min_free_space");
	if (size < 0)
		return conf_fail(ctx, "min_free_space", 0,
		    "%ld is negative (0 turns the check off)", size);
	conf->min_free_space = (uint64_t)size;
	if (conf_range(ctx, "dedup_window", 0, 7 * 86400,
	    &conf->dedup_window) == -1 ||
	    conf_range(ctx, "tmp_cleanup_interval", 0, 7 * 86400,
	    &conf->tmp_cleanup_interval) == -1)
		return -1;
	v = cfg_getstr(ctx->cfg, "delivered_to");
	if (strcmp(v, "per-copy") != 0 && strcmp(v, "none") != 0)
		return conf_fail(ctx, "delivered_to", 0,
		    "'%s' is neither per-copy nor none", v);
	conf->delivered_to = strcmp(v, "per-copy") == 0;
	return 0;
}

static int
conf_set_postmaster(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*why;
	char		*pm;

	pm = xstrdup(cfg_getstr(ctx->cfg, "postmaster"));
	if (*pm == '\0') {
		/* The first domain as written, not as sorted. */
		x_free(pm);
		pm = xasprintf("postmaster@%s",
		    cfg_getnstr(ctx->cfg, "domains", 0));
		util_lower(pm);
	} else {
		util_lower(pm);
		why = conf_address_problem(conf, pm);
		if (why != NULL) {
			conf_fail(ctx, "postmaster", 0, "'%s': %s", pm, why);
			x_free(pm);
			return -1;
		}
	}
	conf->postmaster = pm;
	/* RFC 5321 §4.5.1: <Postmaster> must reach someone. */
	if (conf->n_lookup == 1 && conf->lookup[0] == CONF_LOOKUP_FILE &&
	    !conf_user_exists(conf, pm))
		return conf_fail(ctx, conf_blame(ctx, "users_file",
		    "postmaster"), 0, "'%s' is not listed in %s, so "
		    "<Postmaster> would be refused", pm, conf->users_file);
	return 0;
}

static int
conf_set_path(struct conf_ctx *ctx, const char *name, char **out)
{
	const char	*s;

	s = cfg_getstr(ctx->cfg, name);
	if (!conf_abs_path(s))
		return conf_fail(ctx, name, 0, "'%s' is not an absolute path",
		    s);
	*out = xstrdup(s);
	return 0;
}

static int
conf_range(struct conf_ctx *ctx, const char *name, long min, long max,
    unsigned *out)
{
	long	v;

	v = cfg_getint(ctx->cfg, name);
	if (v < min || v > max)
		return conf_fail(ctx, name, 0, "%ld is not from %ld to %ld", v,
		    min, max);
	*out = (unsigned)v;
	return 0;
}

static int
conf_set_limits(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*who;
	long		 size;

	size = cfg_getint(ctx->cfg, "max_message_size");
	if (size < 0)
		return conf_fail(ctx, "max_message_size", 0,
		    "%ld is negative (0 means unlimited)", size);
	conf->max_message_size = (uint64_t)size;
	/* RFC 5321 §4.5.3.1.8 asks for 100; lower is a local policy. */
	if (conf_range(ctx, "max_recipients", 1, 100000,
	    &conf->max_recipients) == -1 ||
	    conf_range(ctx, "max_bad_commands", 0, 100000,
	    &conf->max_bad_commands) == -1 ||
	    conf_range(ctx, "command_timeout", 1, 86400,
	    &conf->command_timeout) == -1 ||
	    conf_range(ctx, "data_timeout", 1, 86400,
	    &conf->data_timeout) == -1 ||
	    conf_range(ctx, "shutdown_timeout", 1, 3600,
	    &conf->shutdown_timeout) == -1)
		return -1;
	/* Only children accept, so the pool needs one idle child at least. */
	if (conf_range(ctx, "min_spare", 1, CONF_POOL_MAX,
	    &conf->min_spare) == -1 ||
	    conf_range(ctx, "max_spare", 1, CONF_POOL_MAX,
	    &conf->max_spare) == -1 ||
	    conf_range(ctx, "max_children", 1, CONF_POOL_MAX,
	    &conf->max_children) == -1 ||
	    conf_range(ctx, "max_requests", 0, INT_MAX,
	    &conf->max_requests) == -1)
		return -1;
	if (conf->min_spare > conf->max_spare) {
		who = conf_blame(ctx, "min_spare", "max_spare");
		return conf_fail(ctx, who, 0,
		    "min_spare (%u) is greater than max_spare (%u)",
		    conf->min_spare, conf->max_spare);
	}
	if (conf->max_spare > conf->max_children) {
		who = conf_blame(ctx, "max_spare", "max_children");
		return conf_fail(ctx, who, 0,
		    "max_spare (%u) is greater than max_children (%u)",
		    conf->max_spare, conf->max_children);
	}
	return 0;
}

static int
conf_set_log(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*t, *f;

	t = cfg_getstr(ctx->cfg, "log_target");
	if (strcmp(t, "syslog") != 0 && strcmp(t, "stderr") != 0)
		return conf_fail(ctx, "log_target", 0,
		    "'%s' is neither syslog nor stderr", t);
	f = cfg_getstr(ctx->cfg, "log_facility");
	if (log_facility_from_name(f) == -1)
		return conf_fail(ctx, "log_facility", 0,
		    "'%s' is not one of mail, daemon, user, local0 to local7",
		    f);
	conf->log_target = xstrdup(t);
	conf->log_facility = xstrdup(f);
	t = cfg_getstr(ctx->cfg, "log_format");
	if (strcmp(t, "text") != 0 && strcmp(t, "json") != 0)
		return conf_fail(ctx, "log_format", 0,
		    "'%s' is neither text nor json", t);
	conf->log_json = strcmp(t, "json") == 0;
	return conf_set_path(ctx, "pid_file", &conf->pid_file);
}

/* The status process: `lmtpd -s` and Prometheus (status.h). */
static int
conf_set_status(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*path, *spec;
	size_t		 i;

	path = cfg_getstr(ctx->cfg, "status_socket");
	if (path[0] != '\0' && path[0] != '/')
		return conf_fail(ctx, "status_socket", 0,
		    "'%s' is not an absolute path", path);
	if (strlen(path) >= CONF_SUN_PATH)
		return conf_fail(ctx, "status_socket", 0,
		    "'%s' is longer than %zu bytes", path, CONF_SUN_PATH - 1);
	conf->status_socket = xstrdup(path);
	spec = cfg_getstr(ctx->cfg, "metrics_listen");
	if (spec[0] == '\0')
		return 0;
	if (strncmp(spec, "inet:", 5) != 0)
		return conf_fail(ctx, "metrics_listen", 0,
		    "'%s': expected inet:HOST:PORT", spec);
	if (conf_parse_listen(ctx, "metrics_listen", 0, spec,
	    &conf->metrics) == -1)
		return -1;
	for (i = 0; i < conf->n_listen; i++)
		if (strcmp(conf->listen[i].spec, spec) == 0)
			return conf_fail(ctx, "metrics_listen", 0,
			    "'%s' is also a listen address", spec);
	return 0;
}

/*
 * STARTTLS (RFC 3207).  The certificate and key are loaded here, so that a
 * bad pair fails -t and a SIGHUP reload (which then keeps the old
 * configuration) instead of every handshake.
 */
static int
conf_set_tls(struct conf_ctx *ctx, struct conf *conf)
{
	const char	*cert, *key, *mode, *who;
	char		 why[512];

	cert = cfg_getstr(ctx->cfg, "tls_cert");
	key = cfg_getstr(ctx->cfg, "tls_key");
	mode = cfg_getstr(ctx->cfg, "tls");
	if (cert[0] != '\0' && !conf_abs_path(cert))
		return conf_fail(ctx, "tls_cert", 0,
		    "'%s' is not an absolute path", cert);
	if (key[0] != '\0' && !conf_abs_path(key))
		return conf_fail(ctx, "tls_key", 0,
		    "'%s' is not an absolute path", key);
	if ((cert[0] == '\0') != (key[0] == '\0')) {
		who = cert[0] == '\0' ? "tls_key" : "tls_cert";
		return conf_fail(ctx, who, 0,
		    "tls_cert and tls_key go together");
	}
	if (mode[0] == '\0')
		conf->tls = cert[0] == '\0' ? CONF_TLS_OFF : CONF_TLS_OPTIONAL;
	else if (strcmp(mode, "off") == 0)
		conf->tls = CONF_TLS_OFF;
	else if (strcmp(mode, "optional") == 0)
		conf->tls = CONF_TLS_OPTIONAL;
	else if (strcmp(mode, "required") == 0)
		conf->tls = CONF_TLS_REQUIRED;
	else
		return conf_fail(ctx, "tls", 0,
		    "'%s' is not one of optional, required, off", mode);
	if (!tls_available() && (cert[0] != '\0' ||
	    conf->tls != CONF_TLS_OFF))
		return conf_fail(ctx, cert[0] != '\0' ? "tls_cert" : "tls", 0,
		    "lmtpd was built without TLS");
	if (conf->tls != CONF_TLS_OFF && cert[0] == '\0')
		return conf_fail(ctx, "tls", 0, "%s needs tls_cert and tls_key",
		    mode);
	conf->tls_cert = xstrdup(cert);
	conf->tls_key = xstrdup(key);
	if (conf->tls == CONF_TLS_OFF)
		return 0;
	conf->tls_ctx = tls_ctx_new(cert, key, why, sizeof(why));
	if (conf->tls_ctx == NULL)
		return conf_fail(ctx, strncmp(why, "key ", 4) == 0 ?
		    "tls_key" : "tls_cert", 0, "%s", why);
	return 0;
}

/* In schema order, so the first bad option is the one reported. */
static struct conf *
conf_build(struct conf_ctx *ctx)
{
	struct conf	*conf;

	conf = xcalloc(1, sizeof(*conf));
	conf->file = xstrdup(ctx->file != NULL ? ctx->file : "");
	conf->preserve_case = cfg_getbool(ctx->cfg, "preserve_case");
	if (conf_set_listen(ctx, conf) == -1 ||
	    conf_set_sockets(ctx, conf) == -1 ||
	    conf_set_allow(ctx, conf) == -1 ||
	    conf_set_identity(ctx, conf) == -1 ||
	    conf_set_domains(ctx, conf) == -1 ||
	    conf_set_maildir(ctx, conf) == -1 ||
	    conf_set_users(ctx, conf) == -1 ||
	    conf_set_lookup(ctx, conf) == -1 ||
	    conf_set_postmaster(ctx, conf) == -1 ||
	    conf_set_path(ctx, "spool_dir", &conf->spool_dir) == -1 ||
	    conf_set_limits(ctx, conf) == -1 ||
	    conf_set_delivery(ctx, conf) == -1 ||
	    conf_set_log(ctx, conf) == -1 ||
	    conf_set_status(ctx, conf) == -1 ||
	    conf_set_tls(ctx, conf) == -1) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

struct conf *
conf_load(const char *path, char *err, size_t cap)
{
	cfg_opt_t	 opts[] = {
		CFG_STR_LIST_CB("listen",
		    "{\"inet:127.0.0.1:24\", \"inet:[::1]:24\"}", CFGF_NONE,
		    conf_cb_str),
		CFG_STR_CB("socket_mode", "0660", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("socket_owner", "", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("socket_group", "", CFGF_NONE, conf_cb_str),
		CFG_STR_LIST_CB("allow", "{\"127.0.0.0/8\", \"::1\"}",
		    CFGF_NONE, conf_cb_str),
		CFG_BOOL("strict_permissions", cfg_true, CFGF_NONE),
		CFG_STR_CB("user", "mail", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("group", "mail", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("hostname", "", CFGF_NONE, conf_cb_str),
		CFG_STR_LIST_CB("domains", "{\"localhost\"}", CFGF_NONE,
		    conf_cb_str),
		CFG_STR_CB("maildir", "/var/mail/%d/%n/Maildir", CFGF_NONE,
		    conf_cb_str),
		CFG_STR_CB("users_file", "", CFGF_NONE, conf_cb_str),
		CFG_STR_LIST_CB("lookup", NULL, CFGF_NONE, conf_cb_str),
		CFG_STR_CB("passwd_maildir", "%h/Maildir", CFGF_NONE,
		    conf_cb_str),
		CFG_INT_CB("min_uid", 1000, CFGF_NONE, conf_cb_int),
		CFG_BOOL("preserve_case", cfg_false, CFGF_NONE),
		CFG_STR_CB("recipient_delimiter", "", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("detail_folders", "existing", CFGF_NONE,
		    conf_cb_str),
		CFG_STR_CB("detail_folder_pattern", "*", CFGF_NONE,
		    conf_cb_str),
		CFG_INT_CB("max_detail_folders", 100, CFGF_NONE, conf_cb_int),
		CFG_STR_CB("quota", "0", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("quota_full", "tempfail", CFGF_NONE, conf_cb_str),
		CFG_INT_CB("min_free_space", 33554432, CFGF_NONE,
		    conf_cb_size),
		CFG_INT_CB("dedup_window", 3600, CFGF_NONE, conf_cb_int),
		CFG_STR_CB("delivered_to", "per-copy", CFGF_NONE, conf_cb_str),
		CFG_INT_CB("tmp_cleanup_interval", 3600, CFGF_NONE,
		    conf_cb_int),
		CFG_STR_CB("postmaster", "", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("spool_dir", "/var/tmp", CFGF_NONE, conf_cb_str),
		CFG_INT_CB("max_message_size", 52428800, CFGF_NONE,
		    conf_cb_size),
		CFG_INT_CB("max_recipients", 1000, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max_bad_commands", 20, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("command_timeout", 300, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("data_timeout", 600, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("shutdown_timeout", 30, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("min_spare", 2, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max_spare", 8, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max_children", 32, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max_requests", 1000, CFGF_NONE, conf_cb_int),
		CFG_STR_CB("log_target", "syslog", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("log_facility", "mail", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("log_format", "text", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("status_socket", RUNSTATEDIR "/lmtpd.status",
		    CFGF_NONE, conf_cb_str),
		CFG_STR_CB("metrics_listen", "", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("pid_file", RUNSTATEDIR "/lmtpd.pid", CFGF_NONE,
		    conf_cb_str),
		CFG_STR_CB("tls_cert", "", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("tls_key", "", CFGF_NONE, conf_cb_str),
		CFG_STR_CB("tls", "", CFGF_NONE, conf_cb_str),
		CFG_END()
	};
	struct conf_ctx	 ctx;
	struct conf	*conf = NULL;
	char		*text = NULL;
	size_t		 len = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.file = path;
	ctx.err = err;
	ctx.cap = cap;
	if (err != NULL && cap > 0)
		err[0] = '\0';
	conf_cur = &ctx;
	if (path != NULL && conf_read_file(&ctx, path, &text, &len) == -1)
		goto out;
	ctx.cfg = cfg_init(opts, CFGF_NONE);
	if (ctx.cfg == NULL) {
		conf_errx(&ctx, "%s: %s", path != NULL ? path : "defaults",
		    strerror(errno));
		goto out;
	}
	cfg_set_error_function(ctx.cfg, conf_cfg_error);
	if (path == NULL || conf_parse_text(&ctx, ctx.cfg, text, len) == 0)
		conf = conf_build(&ctx);
	cfg_free(ctx.cfg);
out:
	x_free(text);
	x_free(ctx.seen);
	conf_cur = NULL;
	return conf;
}

static void
conf_free_list(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		x_free(v[i]);
	x_free(v);
}

void
conf_free(struct conf *conf)
{
	size_t	i;

	if (conf == NULL)
		return;
	x_free(conf->file);
	for (i = 0; i < conf->n_listen; i++) {
		x_free(conf->listen[i].spec);
		x_free(conf->listen[i].host);
		x_free(conf->listen[i].port);
		x_free(conf->listen[i].path);
	}
	x_free(conf->listen);
	x_free(conf->socket_owner);
	x_free(conf->socket_group);
	x_free(conf->allow);
	x_free(conf->user);
	x_free(conf->group);
	x_free(conf->hostname);
	conf_free_list(conf->domains, conf->n_domains);
	x_free(conf->maildir);
	x_free(conf->users_file);
	userdb_free(conf->userdb);
	x_free(conf->passwd_maildir);
	x_free(conf->recipient_delimiter);
	x_free(conf->detail_folder_pattern);
	x_free(conf->mail_root);
	x_free(conf->postmaster);
	x_free(conf->spool_dir);
	x_free(conf->log_target);
	x_free(conf->log_facility);
	x_free(conf->pid_file);
	x_free(conf->status_socket);
	x_free(conf->metrics.spec);
	x_free(conf->metrics.host);
	x_free(conf->metrics.port);
	x_free(conf->metrics.path);
	x_free(conf->tls_cert);
	x_free(conf->tls_key);
	tls_ctx_free(conf->tls_ctx);
	x_free(conf);
}

bool
conf_domain_is_local(const struct conf *conf, const char *domain)
{
	if (conf->n_domains == 0)
		return false;
	return bsearch(domain, conf->domains, conf->n_domains,
	    sizeof(*conf->domains), conf_foldcmp) != NULL;
}

bool
conf_user_exists(const struct conf *conf, const char *address)
{
	char	*a;
	bool	 found;

	if (conf->userdb == NULL)
		return true;
	a = xstrdup(address);
	if (!conf->preserve_case)
		util_lower(a);
	else
		util_lower(strrchr(a, '@') != NULL ? strrchr(a, '@') : a);
	found = userdb_find(conf->userdb, a) != NULL;
	x_free(a);
	return found;
}

bool
conf_needs_switch(const struct conf *conf)
{
	size_t	i;

	for (i = 0; i < conf->n_lookup; i++)
		if (conf->lookup[i] == CONF_LOOKUP_PASSWD)
			return true;
	if (conf->userdb == NULL)
		return false;
	for (i = 0; i < userdb_count(conf->userdb); i++)
		if (userdb_entry(conf->userdb, i)->has_owner)
			return true;
	return false;
}
