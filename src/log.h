/* SPDX-License-Identifier: MIT */
/*
 * log: one line per event, to syslog (facility mail by default) or to
 * stderr in the foreground.  Lines carry no trailing newline in the format.
 * log_fatal* exit; log_panic aborts for a core file.
 */
#ifndef LMTPD_LOG_H
#define LMTPD_LOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Starts logging as ident.  to_stderr chooses stderr over syslog; facility
 * is a syslog facility name ("mail", "local0" ... ); returns 0, or -1 when
 * the name is unknown (logging then goes to facility mail).
 */
int	log_init(const char *ident, bool to_stderr, const char *facility);
enum log_format {
	LOG_FORMAT_TEXT,	/* "ident[pid]: text", Postfix style */
	LOG_FORMAT_JSON,	/* one JSON object a line */
};

/* Chooses the line format; text until called. */
void	log_set_format(enum log_format);

/* One field of a structured event (log_event). */
enum log_kind {
	LOG_STR,		/* text: key=value */
	LOG_ADDR,		/* text: key=<value> */
	LOG_INT,		/* key=123 */
	LOG_SECONDS,		/* key=0.02, two decimals */
};

struct log_field {
	const char	*key;
	enum log_kind	 kind;
	const char	*s;		/* LOG_STR, LOG_ADDR */
	long long	 i;		/* LOG_INT */
	double		 d;		/* LOG_SECONDS */
};

/*
 * Logs one event at level info.  As text: "QID: lead; k=v, k=<v>, ...
 * (detail)", each part only when present; as JSON: an object with
 * queue_id, msg (the lead), the fields under their keys and detail.
 * qid, lead and detail may be NULL.
 */
void	log_event(const char *qid, const char *lead, const struct log_field *,
	    size_t n, const char *detail);

/* Parses a facility name; returns the LOG_* value or -1. */
int	log_facility_from_name(const char *);
void	log_set_verbose(bool);
bool	log_verbose(void);

void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Only printed with -v. */
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(status); log_fatal appends strerror(errno). */
void	log_fatal(int status, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	log_fatalx(int status, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	log_panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
