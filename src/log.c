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
#include <unistd.h>

#include "log.h"

static const char	*log_ident = "lmtpd";
static bool		 log_to_stderr = true;
static bool		 log_is_verbose;

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
log_set_verbose(bool v)
{
	log_is_verbose = v;
}

bool
log_verbose(void)
{
	return log_is_verbose;
}

static void	log_emit(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
log_emit(int prio, const char *suffix, const char *fmt, va_list ap)
{
	char	line[2048];
	int	saved = errno;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_to_stderr) {
		if (suffix != NULL)
			fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident,
			    (long)getpid(), line, suffix);
		else
			fprintf(stderr, "%s[%ld]: %s\n", log_ident,
			    (long)getpid(), line);
		fflush(stderr);
	} else if (suffix != NULL)
		syslog(prio, "%s: %s", line, suffix);
	else
		syslog(prio, "%s", line);
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
