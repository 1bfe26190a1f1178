/* SPDX-License-Identifier: MIT */
/*
 * lmtp: the LMTP engine (RFC 2033 over RFC 5321, with RFC 2920 pipelining,
 * 1870 SIZE, 6152 8BITMIME, 3030 CHUNKING, 6531 SMTPUTF8 and 2034 enhanced
 * status codes; not BINARYMIME).  It is fed bytes and produces reply
 * bytes; it knows no sockets, files, clock or settings beyond struct
 * lmtp_limits.  Delivery is reached through hooks.  Input may be split at
 * any byte; every complete command is answered, in order, before
 * lmtp_feed returns.  Replies are always ASCII (RFC 6531 §3.7.4.2).
 */
#ifndef LMTPD_LMTP_H
#define LMTPD_LMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define LMTP_COMMAND_MAX	512	/* RFC 5321 §4.5.3.1.4, CRLF included */
#define LMTP_TEXT_LINE_MAX	1000	/* RFC 5321 §4.5.3.1.6, CRLF included */

struct lmtp;

/* A reply: "code SP esc SP text CRLF" once formatted. */
struct lmtp_reply {
	unsigned	code;		/* 250, 452, 550 ... */
	char		esc[12];	/* "2.1.5"; "" for none */
	char		text[200];	/* one line, no CRLF */
};

/* STARTTLS (RFC 3207): the session says whether it can start TLS. */
enum lmtp_tls {
	LMTP_TLS_OFF,		/* not offered: STARTTLS gets 502 */
	LMTP_TLS_OPTIONAL,	/* advertised until TLS is active */
	LMTP_TLS_REQUIRED,	/* also: 530 for MAIL ... before it (§4) */
};

struct lmtp_limits {
	const char	*hostname;	/* in the greeting and LHLO; copied */
	uint64_t	 max_message_size;	/* octets; 0 = no limit */
	size_t		 max_recipients;	/* per transaction; >= 1 */
	/*
	 * 421 4.7.0 after more than this many consecutive commands the
	 * engine itself answered 500, 501, 502, 503, 504 or 555; 0 = no
	 * limit.  A 2xx or 3xx reply ends the run; other replies (a hook's
	 * 550 at RCPT, 452, 552, 554) neither count nor end it.
	 */
	unsigned	 max_bad_commands;
	enum lmtp_tls	 tls;
};

enum lmtp_body_type {
	LMTP_BODY_UNSPEC,
	LMTP_BODY_7BIT,
	LMTP_BODY_8BITMIME,
};

/* The MAIL command's parameters (RFC 1870, 6152, 6531). */
struct lmtp_mail {
	const struct addr	*from;
	uint64_t		 size;		/* SIZE=, 0 when not given */
	bool			 has_size;
	enum lmtp_body_type	 body;
	/*
	 * SMTPUTF8 was given (RFC 6531 §3.4): UTF-8 addresses are allowed in
	 * this transaction, and the Received line says "with UTF8LMTP"
	 * (§3.7.3, §4.3).
	 */
	bool			 utf8;
};

/*
 * The hooks.  ctx is the caller's.  Every hook that takes a reply gets one
 * already filled with the engine's default answer and may overwrite it;
 * a reply of class 4 or 5 refuses.  Any hook may be NULL (the default
 * answer stands; deliver == NULL answers every recipient 451).
 *
 * mail	      MAIL FROM passed syntax checks.
 * rcpt	      RCPT TO passed syntax and limit checks.  When the reply left
 *	      is 2xx the recipient becomes accepted recipient number
 *	      lmtp_n_accepted() - 1 (0-based, in RCPT order).
 * data_begin DATA accepted (before 354), or the first BDAT of a
 *	      transaction; open the spool.  A refusal is the reply to DATA,
 *	      and the transaction stays as it was.  For BDAT the chunk is
 *	      read and dropped; a refusal is the reply to that BDAT (to BDAT
 *	      LAST: one per accepted recipient, and the transaction ends), and
 *	      every later BDAT of the transaction gets it too (RFC 3030 §2).
 * data_body  message bytes, LF line ends, in order: unstuffed after DATA,
 *	      as sent (no unstuffing, CRLF as LF) in BDAT chunks; returns 0,
 *	      or -1 to fail the message (sticky: read on to the end, then
 *	      the reply in fail, filled with 451 4.3.0 on entry and the
 *	      hook's to change to another 4xx/5xx, for every recipient).
 * data_end   the final dot, or the end of the BDAT LAST chunk, was seen; a
 *	      refusal (4xx/5xx) answers every recipient with it.
 * deliver    once per accepted recipient, in RCPT order.  On entry
 *	      reply->code is 0 when the copy should be written now; the hook
 *	      fills the reply.  A non-zero code on entry means the engine has
 *	      already refused the message for that recipient (size, line
 *	      length, a body or data_end failure); the hook must not write,
 *	      and may only observe (log) it.
 * flush      the engine has replies that should reach the client now
 *	      (called between per-recipient replies: RFC 2033 §5 SHOULD).
 * reset      the transaction ended (RSET, LHLO, end of data, QUIT, free):
 *	      drop sender, recipients and spool.
 * command    a well-formed command line (no CRLF) is about to run; for
 *	      protocol traces.
 */
struct lmtp_hooks {
	void	(*mail)(void *ctx, const struct lmtp_mail *, struct lmtp_reply *);
	void	(*rcpt)(void *ctx, const struct addr *, struct lmtp_reply *);
	void	(*data_begin)(void *ctx, struct lmtp_reply *);
	int	(*data_body)(void *ctx, const char *p, size_t n,
		    struct lmtp_reply *fail);
	void	(*data_end)(void *ctx, struct lmtp_reply *);
	void	(*deliver)(void *ctx, size_t idx, const struct addr *,
		    struct lmtp_reply *);
	void	(*flush)(void *ctx);
	void	(*reset)(void *ctx);
	void	(*command)(void *ctx, const char *line);
};

/*
 * Creates an engine and queues the 220 greeting.  limits and hooks are
 * copied (hostname too); ctx is borrowed for the engine's life.
 */
struct lmtp	*lmtp_new(const struct lmtp_limits *, const struct lmtp_hooks *,
		    void *ctx);
void		 lmtp_free(struct lmtp *);

/*
 * Takes n input bytes; processes every complete command (and data) they
 * finish, calling hooks and queueing replies.  Bytes after QUIT, or after
 * the engine has finished, are ignored.
 */
void		 lmtp_feed(struct lmtp *, const char *p, size_t n);

/*
 * The replies queued and not yet taken: *len_out bytes at the returned
 * pointer, valid until the next call on the engine.
 */
const char	*lmtp_output(const struct lmtp *, size_t *len_out);
/* The caller has sent the first n bytes of the output. */
void		 lmtp_output_done(struct lmtp *, size_t n);

/* True after QUIT or a 421: send the output, then close. */
bool		 lmtp_finished(const struct lmtp *);
/*
 * True while message data is being received: after 354, or while the
 * octets of a BDAT chunk are outstanding.
 */
bool		 lmtp_in_data(const struct lmtp *);
/* True when no transaction is open (no MAIL given, or it ended). */
bool		 lmtp_idle(const struct lmtp *);
/*
 * True when the engine finished because of max_bad_commands (421 4.7.0),
 * so that the caller can log why.
 */
bool		 lmtp_closed_for_errors(const struct lmtp *);

/*
 * Ends the session with 421: text names why, e.g. "4.4.2" "timeout" or
 * "4.3.2" "shutting down".  A transaction in progress is reset without
 * delivering.  The engine is then finished.
 */
void		 lmtp_close(struct lmtp *, const char *esc, const char *text);

/*
 * True after the 220 reply to STARTTLS was queued: the engine takes no
 * more input (the rest of that feed and any later one is dropped, so that
 * nothing sent in clear text runs after the handshake: CVE-2011-0411).
 * The caller sends the output, does the handshake, then calls
 * lmtp_tls_started, or closes the connection.
 */
bool		 lmtp_starttls_pending(const struct lmtp *);
/*
 * The TLS handshake succeeded: the engine returns to its initial state
 * (RFC 3207 §4.2: no LHLO name, no transaction, nothing buffered; no new
 * greeting), and STARTTLS is no longer advertised or accepted.
 */
void		 lmtp_tls_started(struct lmtp *);
/* True once lmtp_tls_started was called. */
bool		 lmtp_tls_active(const struct lmtp *);

/* The LHLO argument, "" before LHLO; valid until the next feed. */
const char	*lmtp_client_name(const struct lmtp *);
/* Accepted recipients in the open transaction. */
size_t		 lmtp_n_accepted(const struct lmtp *);

#endif
