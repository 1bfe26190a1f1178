/* SPDX-License-Identifier: MIT */
/*
 * trace: the header block lmtpd puts at the top of each copy: Return-Path
 * (RFC 5321 §4.4, final delivery), Delivered-To, and a Received line with
 * a "for" clause naming exactly that copy's recipient.  LF line ends, as
 * the spooled body has.
 */
#ifndef LMTPD_TRACE_H
#define LMTPD_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct trace {
	const char	*sender;	/* mailbox text, "" for <> */
	/*
	 * Mailbox text; NULL leaves out Delivered-To and the "for" clause,
	 * so one block serves every copy (delivered_to = none).
	 */
	const char	*recipient;
	const char	*helo;		/* LHLO argument */
	const char	*peer;		/* "[127.0.0.1]" or "local" */
	const char	*hostname;	/* ours */
	const char	*queue_id;
	time_t		 when;
	bool		 utf8;		/* SMTPUTF8: "with UTF8LMTP" */
	bool		 tls;		/* STARTTLS: "with LMTPS" */
};

/*
 * Formats the block into out (cap bytes, NUL-terminated).  Returns its
 * length, or -1 with errno ENOBUFS when it does not fit (EOVERFLOW when
 * the time cannot be represented).
 */
long	trace_format(const struct trace *, char *out, size_t cap);

#endif
