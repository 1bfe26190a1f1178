/* SPDX-License-Identifier: MIT */
/*
 * trace: formats Return-Path, Delivered-To and Received for one copy.
 * Every field is copied with control characters replaced by '?', so no
 * client-supplied text can end a header line early.  The date is English
 * and numeric-zoned whatever the locale (RFC 5322 §3.3).  No folding: the
 * fields are bounded by the command line length (RFC 5321 §4.5.3.1.4).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trace.h"

struct out {
	char	*p;
	size_t	 cap;
	size_t	 len;
	bool	 full;
};

static void	put(struct out *, const char *, bool);
static int	format_date(time_t, char *, size_t);

static const char *const trace_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const trace_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Appends s, keeping room for the NUL; sanitise replaces CTLs by '?'. */
static void
put(struct out *o, const char *s, bool sanitise)
{
	unsigned char	c;

	for (; *s != '\0'; s++) {
		if (o->len + 1 >= o->cap) {
			o->full = true;
			return;
		}
		c = (unsigned char)*s;
		o->p[o->len++] = sanitise && (c < 0x20 || c == 0x7f) ?
		    '?' : (char)c;
	}
}

/* RFC 5322 §3.3 date-time in local time: "Tue, 01 Dec 2026 06:20:00 +0000" */
static int
format_date(time_t when, char *buf, size_t cap)
{
	struct tm	tm;
	long		off;
	int		n;
	char		sign;

	if (localtime_r(&when, &tm) == NULL)
		return -1;
	if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11) {
		errno = EOVERFLOW;
		return -1;
	}
	off = tm.tm_gmtoff / 60;
	sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	n = snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    trace_days[tm.tm_wday], tm.tm_mday, trace_months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	    off / 60, off % 60);
	if (n < 0 || (size_t)n >= cap) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

long
trace_format(const struct trace *t, char *out, size_t cap)
{
	struct out	o = { out, cap, 0, false };
	char		date[64];

	assert(t->sender != NULL && t->helo != NULL && t->peer != NULL &&
	    t->hostname != NULL && t->queue_id != NULL);
	if (format_date(t->when, date, sizeof(date)) == -1)
		return -1;

	/* RFC 5321 §4.4: the null reverse-path is "<>". */
	put(&o, "Return-Path: <", false);
	put(&o, t->sender, true);
	if (t->recipient != NULL) {
		put(&o, ">\nDelivered-To: <", false);
		put(&o, t->recipient, true);
	}
	/* RFC 5321 §4.4 Received, with one "for" per copy. */
	put(&o, ">\nReceived: from ", false);
	put(&o, t->helo, true);
	put(&o, " (", false);
	put(&o, t->peer, true);
	put(&o, ")\n\tby ", false);
	put(&o, t->hostname, true);
	/*
	 * The WITH type: RFC 3848 §1 (LMTPS under TLS), RFC 6531 §3.7.3 and
	 * §4.3 (UTF8LMTP with SMTPUTF8, UTF8LMTPS with both).
	 */
	put(&o, " (lmtpd) with ", false);
	put(&o, t->utf8 ? "UTF8LMTP" : "LMTP", false);
	put(&o, t->tls ? "S id " : " id ", false);
	put(&o, t->queue_id, true);
	if (t->recipient != NULL) {
		put(&o, "\n\tfor <", false);
		put(&o, t->recipient, true);
		put(&o, ">", false);
	}
	put(&o, "; ", false);
	put(&o, date, false);
	put(&o, "\n", false);

	if (o.full) {
		if (cap > 0)
			out[0] = '\0';
		errno = ENOBUFS;
		return -1;
	}
	out[o.len] = '\0';
	return (long)o.len;
}
