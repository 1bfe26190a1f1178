/* SPDX-License-Identifier: MIT */
/*
 * log: syslog or stderr.  On stderr each line is "ident[pid]: text", the
 * shape syslog gives, so the same grep works on both.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char	*log_ident = "lmtpd";
static bool		 log_to_stderr = true;
static bool		 log_is_verbose;
static enum log_format	 log_line_format = LOG_FORMAT_TEXT;

static const struct {
	const char	*name;
	int		 value;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
log_facility_from_name(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].value;
	return -1;
}

int
log_init(const char *ident, bool to_stderr, const char *facility)
{
	int	fac;

	log_ident = ident;
	log_to_stderr = to_stderr;
	fac = facility == NULL ? LOG_MAIL : log_facility_from_name(facility);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, fac == -1 ? LOG_MAIL : fac);
	return fac == -1 ? -1 : 0;
}

void
log_set_format(enum log_format f)
{
	log_line_format = f;
}

void
log_set_verbose(bool v)
{
	log_is_verbose = v;
}

bool
log_verbose(void)
{
	return log_is_verbose;
}

#define LOG_LINE_MAX	4096

/* A line under construction; truncated (never overrun) when too long. */
struct log_line {
	char	text[LOG_LINE_MAX];
	size_t	len;
};

static void	log_put(struct log_line *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
log_put(struct log_line *l, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (l->len >= sizeof(l->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	l->len += (size_t)n;
	if (l->len > sizeof(l->text) - 1)
		l->len = sizeof(l->text) - 1;
}

/*
 * A JSON string.  Bytes of 0x80 and up are written as \u00XX: the output
 * is then valid UTF-8 whatever a client sent (a lossless Latin-1 view).
 */
static void
log_json_string(struct log_line *l, const char *s)
{
	const unsigned char	*p;

	log_put(l, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			log_put(l, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			log_put(l, "\\u%04x", *p);
		else
			log_put(l, "%c", *p);
	}
	log_put(l, "\"");
}

static const char *
log_level_name(int prio)
{
	switch (prio) {
	case LOG_DEBUG:
		return "debug";
	case LOG_INFO:
		return "info";
	case LOG_WARNING:
		return "warning";
	default:
		return "crit";
	}
}

/* Opens a JSON object with the fields every line has. */
static void
log_json_begin(struct log_line *l, int prio)
{
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	log_put(l, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
	    "\"ident\":", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	log_json_string(l, log_ident);
	log_put(l, ",\"pid\":%ld,\"level\":\"%s\"", (long)util_getpid(),
	    log_level_name(prio));
}

static void
log_json_key(struct log_line *l, const char *key)
{
	log_put(l, ",");
	log_json_string(l, key);
	log_put(l, ":");
}

static void
log_write(int prio, const struct log_line *l)
{
	if (log_to_stderr) {
		if (log_line_format == LOG_FORMAT_JSON)
			fprintf(stderr, "%s\n", l->text);
		else
			fprintf(stderr, "%s[%ld]: %s\n", log_ident,
			    (long)util_getpid(), l->text);
		fflush(stderr);
	} else
		syslog(prio, "%s", l->text);
}

static void	log_emit(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
log_emit(int prio, const char *suffix, const char *fmt, va_list ap)
{
	struct log_line	 msg = { .len = 0 }, out = { .len = 0 };
	int		 saved = errno, n;

	n = vsnprintf(msg.text, sizeof(msg.text), fmt, ap);
	msg.len = n < 0 ? 0 : (size_t)n >= sizeof(msg.text) ?
	    sizeof(msg.text) - 1 : (size_t)n;
	msg.text[msg.len] = '\0';
	if (suffix != NULL)
		log_put(&msg, ": %s", suffix);
	if (log_line_format == LOG_FORMAT_JSON) {
		log_json_begin(&out, prio);
		log_json_key(&out, "msg");
		log_json_string(&out, msg.text);
		log_put(&out, "}");
		log_write(prio, &out);
	} else
		log_write(prio, &msg);
	errno = saved;
}

void
log_event(const char *qid, const char *lead, const struct log_field *f,
    size_t n, const char *detail)
{
	struct log_line	l = { .len = 0 };
	size_t		i;
	int		saved = errno;

	if (log_line_format == LOG_FORMAT_JSON) {
		log_json_begin(&l, LOG_INFO);
		if (qid != NULL) {
			log_json_key(&l, "queue_id");
			log_json_string(&l, qid);
		}
		if (lead != NULL) {
			log_json_key(&l, "msg");
			log_json_string(&l, lead);
		}
		for (i = 0; i < n; i++) {
			log_json_key(&l, f[i].key);
			if (f[i].kind == LOG_INT)
				log_put(&l, "%lld", f[i].i);
			else if (f[i].kind == LOG_SECONDS)
				log_put(&l, "%.3f", f[i].d);
			else
				log_json_string(&l, f[i].s);
		}
		if (detail != NULL) {
			log_json_key(&l, "detail");
			log_json_string(&l, detail);
		}
		log_put(&l, "}");
	} else {
		if (qid != NULL)
			log_put(&l, "%s: ", qid);
		if (lead != NULL)
			log_put(&l, "%s%s", lead, n > 0 ? "; " : "");
		for (i = 0; i < n; i++) {
			log_put(&l, "%s%s=", i > 0 ? ", " : "", f[i].key);
			if (f[i].kind == LOG_INT)
				log_put(&l, "%lld", f[i].i);
			else if (f[i].kind == LOG_SECONDS)
				log_put(&l, "%.2f", f[i].d);
			else if (f[i].kind == LOG_ADDR)
				log_put(&l, "<%s>", f[i].s);
			else
				log_put(&l, "%s", f[i].s);
		}
		if (detail != NULL)
			log_put(&l, " (%s)", detail);
	}
	log_write(LOG_INFO, &l);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	char	err[128];

	snprintf(err, sizeof(err), "%s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_is_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
log_fatal(int status, const char *fmt, ...)
{
	va_list	ap;
	char	err[128];

	snprintf(err, sizeof(err), "%s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_CRIT, err, fmt, ap);
	va_end(ap);
	exit(status);
}

void
log_fatalx(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}

void
log_panic(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	abort();
}
