/* SPDX-License-Identifier: MIT */
/*
 * lmtp: the LMTP engine, a state machine over bytes (RFC 2033 on RFC 5321,
 * with 2920 pipelining, 1870 SIZE, 6152 8BITMIME, 3030 CHUNKING, 6531
 * SMTPUTF8, 2034 enhanced codes).  No I/O, clock or logging: bytes come in
 * through lmtp_feed, replies go out through one output buffer, delivery
 * goes through the hooks.  Memory does not grow with the message or the
 * session: one command line, one body chunk, at most max_recipients
 * recipients and the output not yet taken.  A BDAT chunk whose size was
 * read is always consumed whole, accepted or not, so the command stream
 * never loses its place (go-smtp #309).
 */
#include "config.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "lmtp.h"
#include "util.h"

/*
 * Body bytes are handed to data_body in chunks of up to this size, and at
 * the end of every feed: session.c reads as much at a time, so a feed is
 * one chunk.  Big messages touch both in full, and they count in a busy
 * child's RSS (bench/: under 2 MiB), hence 32 KiB, not 64: as fast.
 */
#define LMTP_BODY_CHUNK		(32 * 1024)

/*
 * The output cap.  The worst case is about 45 reply bytes per input byte
 * ("LHLO x" with a long hostname), so a session that takes the output after
 * every feed of 64 KiB never reaches it; if it does, that is a bug and the
 * engine finishes with what fits.
 */
#define LMTP_OUTPUT_MAX		(4 * 1024 * 1024)

/* The canned replies, in one list (STYLE.md §4). */
#define LMTP_REPLIES(X) \
	X(R_OK, 250, "2.0.0", "ok") \
	X(R_SENDER_OK, 250, "2.1.0", "sender ok") \
	X(R_RCPT_OK, 250, "2.1.5", "recipient ok") \
	X(R_BYE, 221, "2.0.0", "bye") \
	X(R_HELP, 214, "2.0.0", \
	    "commands: LHLO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT") \
	X(R_VRFY, 252, "2.5.0", "cannot verify, send some mail") \
	X(R_GO_AHEAD, 354, "", "end data with <CR><LF>.<CR><LF>") \
	X(R_LOCAL_ERR, 451, "4.3.0", "local error in processing") \
	X(R_TOO_MANY, 452, "4.5.3", "too many recipients") \
	X(R_UNKNOWN, 500, "5.5.1", "command unrecognized") \
	X(R_USE_LHLO, 500, "5.5.1", "this is LMTP, use LHLO") \
	X(R_LINE_LONG, 500, "5.5.2", "line too long") \
	X(R_BAD_CHAR, 500, "5.5.2", "NUL or bare CR in command") \
	X(R_NEED_CRLF, 500, "5.5.2", "line must end with CRLF") \
	X(R_MAIL_SYNTAX, 501, "5.5.2", "syntax: MAIL FROM:<address>") \
	X(R_RCPT_SYNTAX, 501, "5.5.2", "syntax: RCPT TO:<address>") \
	X(R_BAD_SENDER, 501, "5.1.7", "bad sender address syntax") \
	X(R_BAD_RCPT, 501, "5.1.3", "bad recipient address syntax") \
	X(R_LHLO_ARG, 501, "5.5.4", "LHLO needs a domain") \
	X(R_VRFY_ARG, 501, "5.5.4", "VRFY needs an address") \
	X(R_NO_ARGS, 501, "5.5.4", "no parameters allowed") \
	X(R_BAD_SIZE, 501, "5.5.4", "bad SIZE value") \
	X(R_BAD_BODY, 501, "5.5.4", "bad BODY value") \
	X(R_DUP_PARAM, 501, "5.5.4", "duplicate parameter") \
	X(R_UTF8_VALUE, 501, "5.5.4", "SMTPUTF8 takes no value") \
	X(R_BDAT_SYNTAX, 501, "5.5.4", "syntax: BDAT <size> [LAST]") \
	X(R_EXPN, 502, "5.5.1", "command not implemented") \
	X(R_NO_TLS, 502, "5.5.1", "STARTTLS not available") \
	X(R_TLS_GO, 220, "2.0.0", "ready to start TLS") \
	X(R_TLS_ACTIVE, 503, "5.5.1", "TLS already active") \
	X(R_TLS_IN_TXN, 503, "5.5.1", "STARTTLS inside a transaction") \
	X(R_NEED_TLS, 530, "5.7.0", "must issue a STARTTLS command first") \
	X(R_NEED_LHLO, 503, "5.5.1", "need LHLO first") \
	X(R_NESTED, 503, "5.5.1", "nested MAIL command") \
	X(R_NEED_MAIL, 503, "5.5.1", "need MAIL before RCPT") \
	X(R_NEED_MAIL_DATA, 503, "5.5.1", "need MAIL before DATA") \
	X(R_NEED_MAIL_BDAT, 503, "5.5.1", "need MAIL before BDAT") \
	X(R_DATA_AFTER_BDAT, 503, "5.5.1", "DATA after BDAT, send RSET") \
	X(R_RCPT_AFTER_BDAT, 503, "5.5.1", "RCPT after BDAT") \
	X(R_NO_RCPTS, 503, "5.5.1", "no valid recipients") \
	X(R_MAIL_UTF8, 550, "5.6.7", "non-ASCII address requires SMTPUTF8") \
	X(R_RCPT_UTF8, 553, "5.6.7", "non-ASCII address requires SMTPUTF8") \
	X(R_TOO_BIG, 552, "5.3.4", \
	    "message size exceeds fixed maximum message size") \
	X(R_DATA_LINE, 554, "5.5.2", "line too long") \
	X(R_BAD_PARAM, 555, "5.5.4", "unsupported parameter")

enum lmtp_reply_id {
#define X(id, code, esc, text)	id,
	LMTP_REPLIES(X)
#undef X
};

struct lmtp_canned {
	unsigned	 code;
	const char	*esc;
	const char	*text;
};

static const struct lmtp_canned lmtp_canned[] = {
#define X(id, code, esc, text)	[id] = { code, esc, text },
	LMTP_REPLIES(X)
#undef X
};

/* Where the data scanner is, with respect to RFC 5321 §4.1.1.4. */
enum lmtp_dstate {
	LMTP_D_TEXT,		/* inside a line */
	LMTP_D_CR,		/* inside a line, a CR held back */
	LMTP_D_BOL,		/* just after CRLF: a line starts */
	LMTP_D_DOT,		/* CRLF "." */
	LMTP_D_DOTCR,		/* CRLF "." CR */
};

/* What the transaction has seen of BDAT (RFC 3030 §2). */
enum lmtp_bdat {
	LMTP_BDAT_NONE,		/* no BDAT yet: RCPT and DATA may come */
	LMTP_BDAT_OPEN,		/* data_begin accepted: chunks are the body */
	LMTP_BDAT_FAILED,	/* a BDAT was refused: later ones get fail */
};

/* What happens to the octets of the BDAT chunk being read. */
enum lmtp_chunk {
	LMTP_CHUNK_NONE,	/* no chunk: input is commands (or DATA) */
	LMTP_CHUNK_STORE,	/* message data; 250 or fail, or LAST replies */
	LMTP_CHUNK_REFUSE,	/* dropped, then chunk_reply once */
	LMTP_CHUNK_SILENT,	/* dropped, no reply; the transaction ends */
	LMTP_CHUNK_FAIL_ALL,	/* dropped, fail per recipient; it ends */
};

struct lmtp {
	struct lmtp_hooks	 hooks;
	void			*ctx;
	char			*hostname;
	uint64_t		 max_size;
	size_t			 max_rcpts;
	unsigned		 max_bad;
	unsigned		 n_bad;		/* consecutive bad commands */
	bool			 closed_for_errors;
	struct buf		 out;
	bool			 finished;
	bool			 greeted;	/* LHLO accepted */
	enum lmtp_tls		 tls;
	bool			 tls_pending;	/* 220 to STARTTLS queued */
	bool			 tls_active;
	char			 client[LMTP_COMMAND_MAX];

	/* The command line being received, CR kept, LF not. */
	char			 line[LMTP_COMMAND_MAX];
	size_t			 line_len;
	bool			 discard;	/* in an over-long line */
	bool			 discard_cr;	/* it ended in CR */

	/* The transaction. */
	bool			 txn;
	struct addr		 from;
	struct lmtp_mail	 mail;
	struct addr		*rcpts;
	size_t			 n_rcpts;
	size_t			 cap_rcpts;

	/* Message data, after 354 or in BDAT chunks. */
	bool			 in_data;	/* after 354 */
	enum lmtp_dstate	 dstate;
	size_t			 text_len;	/* this line so far */
	uint64_t		 msg_size;
	struct lmtp_reply	 fail;		/* sticky, or code 0 */
	size_t			 body_len;

	/* BDAT: the transaction's state and the chunk being read. */
	enum lmtp_bdat		 bdat;
	enum lmtp_chunk		 chunk;
	uint64_t		 chunk_left;	/* octets still to read */
	uint64_t		 chunk_size;
	bool			 chunk_last;
	struct lmtp_reply	 chunk_reply;	/* for LMTP_CHUNK_REFUSE */
	bool			 chunk_canned;	/* it is the engine's own */

	/* LMTP_BODY_CHUNK bytes, apart: calloc would touch them all. */
	char			*body;
};

struct lmtp_verb {
	const char	*name;
	void		(*run)(struct lmtp *, char *);
};

static void	lmtp_reply_set(struct lmtp_reply *, enum lmtp_reply_id);
static void	lmtp_emit(struct lmtp *, const struct lmtp_reply *, bool);
static void	lmtp_tally(struct lmtp *, unsigned, bool);
static void	lmtp_put(struct lmtp *, const struct lmtp_reply *);
static void	lmtp_put_canned(struct lmtp *, enum lmtp_reply_id);
static void	lmtp_esc_fix(unsigned, const char *, char *, size_t);
static bool	lmtp_prefix(const char *, const char *);
static bool	lmtp_class(unsigned, unsigned);
static void	lmtp_txn_end(struct lmtp *, bool);
static size_t	lmtp_line_scan(struct lmtp *, const char *, size_t);
static size_t	lmtp_discard_scan(struct lmtp *, const char *, size_t);
static void	lmtp_line_done(struct lmtp *);
static void	lmtp_execute(struct lmtp *, char *);
static const char *lmtp_path_arg(const char *, const char *);
static bool	lmtp_has_8bit(const char *, size_t);
static enum lmtp_reply_id lmtp_mail_params(const char *, struct lmtp_mail *);
static void	lmtp_cmd_lhlo(struct lmtp *, char *);
static bool	lmtp_may_transact(struct lmtp *);
static void	lmtp_cmd_mail(struct lmtp *, char *);
static void	lmtp_cmd_rcpt(struct lmtp *, char *);
static void	lmtp_cmd_data(struct lmtp *, char *);
static void	lmtp_cmd_bdat(struct lmtp *, char *);
static bool	lmtp_bdat_args(const char *, uint64_t *, bool *, bool *);
static void	lmtp_bdat_refuse(struct lmtp *, const struct lmtp_reply *,
		    bool);
static void	lmtp_bdat_poison(struct lmtp *, const struct lmtp_reply *);
static void	lmtp_bad_line(struct lmtp *, const char *, size_t,
		    const char *, size_t, enum lmtp_reply_id);
static void	lmtp_cmd_rset(struct lmtp *, char *);
static void	lmtp_cmd_noop(struct lmtp *, char *);
static void	lmtp_cmd_quit(struct lmtp *, char *);
static void	lmtp_cmd_vrfy(struct lmtp *, char *);
static void	lmtp_cmd_expn(struct lmtp *, char *);
static void	lmtp_cmd_help(struct lmtp *, char *);
static void	lmtp_cmd_helo(struct lmtp *, char *);
static void	lmtp_cmd_starttls(struct lmtp *, char *);
static bool	lmtp_need_tls(const struct lmtp *);
static size_t	lmtp_data_lines(struct lmtp *, const char *, size_t);
static size_t	lmtp_data_scan(struct lmtp *, const char *, size_t);
static size_t	lmtp_chunk_scan(struct lmtp *, const char *, size_t);
static void	lmtp_chunk_text(struct lmtp *, const char *, size_t);
static void	lmtp_chunk_end(struct lmtp *);
static void	lmtp_line_count(struct lmtp *, size_t, bool);
static void	lmtp_data_count(struct lmtp *, size_t, bool);
static size_t	lmtp_text_run(const char *, size_t);
static size_t	lmtp_text_step(struct lmtp *, const char *, size_t,
		    void (*)(struct lmtp *, size_t, bool));
static void	lmtp_data_fail(struct lmtp *, enum lmtp_reply_id);
static void	lmtp_body_put(struct lmtp *, const char *, size_t);
static void	lmtp_body_flush(struct lmtp *);
static void	lmtp_data_finish(struct lmtp *);
static void	lmtp_reply_each(struct lmtp *);

static const struct lmtp_verb lmtp_verbs[] = {
	{ "LHLO", lmtp_cmd_lhlo },
	{ "MAIL", lmtp_cmd_mail },
	{ "RCPT", lmtp_cmd_rcpt },
	{ "DATA", lmtp_cmd_data },
	{ "BDAT", lmtp_cmd_bdat },
	{ "RSET", lmtp_cmd_rset },
	{ "NOOP", lmtp_cmd_noop },
	{ "QUIT", lmtp_cmd_quit },
	{ "VRFY", lmtp_cmd_vrfy },
	{ "EXPN", lmtp_cmd_expn },
	{ "HELP", lmtp_cmd_help },
	{ "HELO", lmtp_cmd_helo },
	{ "EHLO", lmtp_cmd_helo },
	{ "STARTTLS", lmtp_cmd_starttls },
};

struct lmtp *
lmtp_new(const struct lmtp_limits *lim, const struct lmtp_hooks *hooks,
    void *ctx)
{
	struct lmtp	*l;

	assert(lim != NULL && lim->hostname != NULL);
	l = xcalloc(1, sizeof(*l));
	if (hooks != NULL)
		l->hooks = *hooks;
	l->ctx = ctx;
	l->hostname = xstrdup(lim->hostname);
	l->max_size = lim->max_message_size;
	/* The header asks for >= 1; 0 would refuse every recipient. */
	l->max_rcpts = lim->max_recipients == 0 ? 1 : lim->max_recipients;
	l->max_bad = lim->max_bad_commands;
	l->tls = lim->tls;
	l->body = xmalloc(LMTP_BODY_CHUNK);
	buf_init(&l->out, LMTP_OUTPUT_MAX);
	if (buf_printf(&l->out, "220 %s LMTP lmtpd ready\r\n",
	    l->hostname) == -1)
		l->finished = true;
	return l;
}

void
lmtp_free(struct lmtp *l)
{
	if (l == NULL)
		return;
	lmtp_txn_end(l, false);
	buf_release(&l->out);
	x_free(l->rcpts);
	x_free(l->hostname);
	x_free(l->body);
	x_free(l);
}

void
lmtp_feed(struct lmtp *l, const char *p, size_t n)
{
	size_t	used;

	/* CVE-2011-0411: nothing after STARTTLS runs, now or later. */
	while (n > 0 && !l->finished && !l->tls_pending) {
		if (l->chunk != LMTP_CHUNK_NONE)
			used = lmtp_chunk_scan(l, p, n);
		else if (l->in_data)
			used = lmtp_data_scan(l, p, n);
		else if (l->discard)
			used = lmtp_discard_scan(l, p, n);
		else
			used = lmtp_line_scan(l, p, n);
		p += used;
		n -= used;
	}
	if (l->in_data || l->chunk == LMTP_CHUNK_STORE)
		lmtp_body_flush(l);
}

const char *
lmtp_output(const struct lmtp *l, size_t *len_out)
{
	*len_out = l->out.len;
	return l->out.data == NULL ? "" : l->out.data;
}

void
lmtp_output_done(struct lmtp *l, size_t n)
{
	assert(n <= l->out.len);
	buf_consume(&l->out, n > l->out.len ? l->out.len : n);
}

bool
lmtp_finished(const struct lmtp *l)
{
	return l->finished;
}

bool
lmtp_in_data(const struct lmtp *l)
{
	return l->in_data || l->chunk != LMTP_CHUNK_NONE;
}

bool
lmtp_idle(const struct lmtp *l)
{
	return !l->txn && !l->in_data && l->chunk == LMTP_CHUNK_NONE;
}

bool
lmtp_closed_for_errors(const struct lmtp *l)
{
	return l->closed_for_errors;
}

void
lmtp_close(struct lmtp *l, const char *esc, const char *text)
{
	if (l->finished)
		return;
	lmtp_txn_end(l, false);
	(void)buf_printf(&l->out, "421 %s %s %s\r\n", esc, l->hostname, text);
	l->finished = true;
}

bool
lmtp_starttls_pending(const struct lmtp *l)
{
	return l->tls_pending;
}

/*
 * RFC 3207 §4.2: "the SMTP protocol is reset to the initial state (the
 * state in SMTP after a server issues a 220 service ready greeting)"; the
 * client must send LHLO again.
 */
void
lmtp_tls_started(struct lmtp *l)
{
	assert(l->tls_pending);
	lmtp_txn_end(l, true);
	l->tls_pending = false;
	l->tls_active = true;
	l->greeted = false;
	l->client[0] = '\0';
	l->line_len = 0;
	l->discard = false;
	l->discard_cr = false;
	l->n_bad = 0;
}

bool
lmtp_tls_active(const struct lmtp *l)
{
	return l->tls_active;
}

const char *
lmtp_client_name(const struct lmtp *l)
{
	return l->client;
}

size_t
lmtp_n_accepted(const struct lmtp *l)
{
	return l->n_rcpts;
}

/* Replies. */

static void
lmtp_reply_set(struct lmtp_reply *r, enum lmtp_reply_id id)
{
	const struct lmtp_canned	*c = &lmtp_canned[id];

	r->code = c->code;
	(void)util_strlcpy(r->esc, c->esc, sizeof(r->esc));
	(void)util_strlcpy(r->text, c->text, sizeof(r->text));
}

static bool
lmtp_class(unsigned code, unsigned cls)
{
	return code / 100 == cls;
}

/*
 * RFC 2034 §4: a 2xx, 4xx or 5xx reply carries an enhanced code of the
 * same class.  A hook that changed the code but not the esc gets the class
 * digit patched; one that left no valid esc gets "c.0.0".
 */
static void
lmtp_esc_fix(unsigned code, const char *esc, char *out, size_t cap)
{
	unsigned	 cls = code / 100;
	size_t		 len, i, dots = 0, digits = 0;
	bool		 ok = true;

	len = strnlen(esc, cap - 1);
	memcpy(out, esc, len);
	out[len] = '\0';
	if (cls != 2 && cls != 4 && cls != 5)
		return;
	for (i = 0; i < len && ok; i++) {
		if (esc[i] == '.') {
			ok = digits > 0 && digits <= 3 && dots < 2;
			dots++;
			digits = 0;
		} else if (esc[i] >= '0' && esc[i] <= '9')
			digits++;
		else
			ok = false;
	}
	ok = ok && dots == 2 && digits > 0 && digits <= 3 && esc[1] == '.';
	if (!ok)
		(void)snprintf(out, cap, "%u.0.0", cls);
	else
		out[0] = (char)('0' + cls);
}

/*
 * Formats one reply line; only the LHLO reply has several (below).  canned
 * says the engine itself chose the reply, for the bad command count.
 */
static void
lmtp_emit(struct lmtp *l, const struct lmtp_reply *r, bool canned)
{
	char		 esc[sizeof(r->esc)];
	char		 text[sizeof(r->text)];
	const char	*eol;
	size_t		 tlen, i;
	unsigned char	 c;
	int		 rc;

	if (l->finished)
		return;
	lmtp_esc_fix(r->code, r->esc, esc, sizeof(esc));
	/* A hook's text is one line: stop at CR, LF or the array's end. */
	tlen = strnlen(r->text, sizeof(r->text) - 1);
	eol = memchr(r->text, '\r', tlen);
	if (eol != NULL)
		tlen = (size_t)(eol - r->text);
	eol = memchr(r->text, '\n', tlen);
	if (eol != NULL)
		tlen = (size_t)(eol - r->text);
	/*
	 * RFC 5321 §4.2 textstring = 1*(%d09 / %d32-126), and RFC 6531
	 * §3.7.4.2: no non-ASCII in replies (a hook may quote a UTF-8
	 * address, or cut one in the middle).
	 */
	for (i = 0; i < tlen; i++) {
		c = (unsigned char)r->text[i];
		text[i] = c == '\t' || (c >= 32 && c <= 126) ? (char)c : '?';
	}
	if (esc[0] == '\0')
		rc = buf_printf(&l->out, "%03u%s%.*s\r\n", r->code,
		    tlen > 0 ? " " : "", (int)tlen, text);
	else
		rc = buf_printf(&l->out, "%03u %s%s%.*s\r\n", r->code, esc,
		    tlen > 0 ? " " : "", (int)tlen, text);
	if (rc == -1) {
		l->finished = true;
		return;
	}
	lmtp_tally(l, r->code, canned);
}

/*
 * The bad command count (lmtp.h, max_bad_commands).  Only the engine's
 * own syntax, unknown-command and sequence replies count: a client that
 * sends many recipients, some unknown, is not misbehaving.  The limit
 * answers RFC 5321 §3.8's exception for a client that keeps erring; it
 * ends the session with 421 like Dovecot's (REFERENCE.md §1e).
 */
static void
lmtp_tally(struct lmtp *l, unsigned code, bool canned)
{
	if (code >= 200 && code < 400) {
		l->n_bad = 0;
		return;
	}
	if (!canned || !((code >= 500 && code <= 504) || code == 555))
		return;
	if (l->n_bad < UINT_MAX)
		l->n_bad++;
	if (l->max_bad != 0 && l->n_bad > l->max_bad && !l->finished) {
		l->closed_for_errors = true;
		lmtp_close(l, "4.7.0", "too many errors");
	}
}

static void
lmtp_put(struct lmtp *l, const struct lmtp_reply *r)
{
	lmtp_emit(l, r, false);
}

static void
lmtp_put_canned(struct lmtp *l, enum lmtp_reply_id id)
{
	struct lmtp_reply	r;

	lmtp_reply_set(&r, id);
	lmtp_emit(l, &r, true);
}

/*
 * Ends the transaction.  force calls the reset hook even when none was
 * open (RSET, LHLO: the client asked for a clean state).
 */
static void
lmtp_txn_end(struct lmtp *l, bool force)
{
	bool	was_open = l->txn || l->in_data;

	l->txn = false;
	l->in_data = false;
	l->n_rcpts = 0;
	l->body_len = 0;
	l->bdat = LMTP_BDAT_NONE;
	l->chunk = LMTP_CHUNK_NONE;
	l->chunk_left = 0;
	memset(&l->fail, 0, sizeof(l->fail));
	if ((was_open || force) && l->hooks.reset != NULL)
		l->hooks.reset(l->ctx);
}

/* Command lines. */

/*
 * Buffers input up to and including the next LF.  Returns the bytes used;
 * 0 only when the line became too long (the discard scanner takes over).
 */
static size_t
lmtp_line_scan(struct lmtp *l, const char *p, size_t n)
{
	const char	*lf;
	size_t		 seg;

	lf = memchr(p, '\n', n);
	seg = lf == NULL ? n : (size_t)(lf - p);
	/* RFC 5321 §4.5.3.1.4: 512 octets, CRLF included. */
	if (l->line_len + seg > LMTP_COMMAND_MAX - 1) {
		l->discard = true;
		l->discard_cr = l->line_len > 0 &&
		    l->line[l->line_len - 1] == '\r';
		lmtp_bad_line(l, l->line, l->line_len, p, seg, R_LINE_LONG);
		l->line_len = 0;
		return 0;
	}
	memcpy(l->line + l->line_len, p, seg);
	l->line_len += seg;
	if (lf == NULL)
		return n;
	lmtp_line_done(l);
	return seg + 1;
}

/*
 * Skips the rest of an over-long line, through the next CRLF (§4.5.3.1.4
 * allows no reply per fragment: the client gets one 500).
 */
static size_t
lmtp_discard_scan(struct lmtp *l, const char *p, size_t n)
{
	const char	*lf;
	size_t		 i = 0, pos;
	bool		 cr;

	for (;;) {
		lf = memchr(p + i, '\n', n - i);
		if (lf == NULL) {
			if (n > i)
				l->discard_cr = p[n - 1] == '\r';
			return n;
		}
		pos = (size_t)(lf - p);
		cr = pos > 0 ? p[pos - 1] == '\r' : l->discard_cr;
		if (cr) {
			l->discard = false;
			return pos + 1;
		}
		i = pos + 1;
		l->discard_cr = false;
	}
}

static void
lmtp_line_done(struct lmtp *l)
{
	size_t	len = l->line_len;

	l->line_len = 0;
	/* RFC 5321 §2.3.8: lines end with CRLF; answer LF-only clients. */
	if (len == 0 || l->line[len - 1] != '\r') {
		lmtp_bad_line(l, l->line, len, "", 0, R_NEED_CRLF);
		return;
	}
	len--;
	if (memchr(l->line, '\0', len) != NULL ||
	    memchr(l->line, '\r', len) != NULL) {
		lmtp_bad_line(l, l->line, len, "", 0, R_BAD_CHAR);
		return;
	}
	l->line[len] = '\0';
	if (l->hooks.command != NULL)
		l->hooks.command(l->ctx, l->line);
	lmtp_execute(l, l->line);
}

/*
 * A line refused before it could run (id): the an bytes at a, then the bn
 * at b, are its start.  When it looks like a BDAT inside a transaction,
 * its chunk may be read as commands, so the transaction can no longer
 * carry a whole message: it is failed as for any refused BDAT.
 */
static void
lmtp_bad_line(struct lmtp *l, const char *a, size_t an, const char *b,
    size_t bn, enum lmtp_reply_id id)
{
	struct lmtp_reply	r;
	char			head[6];
	size_t			k;

	k = an < sizeof(head) - 1 ? an : sizeof(head) - 1;
	memcpy(head, a, k);
	bn = bn < sizeof(head) - 1 - k ? bn : sizeof(head) - 1 - k;
	memcpy(head + k, b, bn);
	k += bn;
	head[k] = '\0';
	lmtp_reply_set(&r, id);
	if (l->txn && lmtp_prefix(head, "BDAT") && (head[4] == '\0' ||
	    head[4] == ' ' || head[4] == '\r' || head[4] == '\n'))
		lmtp_bdat_poison(l, &r);
	lmtp_emit(l, &r, true);
}

static void
lmtp_execute(struct lmtp *l, char *line)
{
	char	*sp, *arg = NULL;
	size_t	 i;

	sp = strchr(line, ' ');
	if (sp != NULL) {
		*sp = '\0';
		if (sp[1] != '\0')
			arg = sp + 1;
	}
	for (i = 0; i < sizeof(lmtp_verbs) / sizeof(lmtp_verbs[0]); i++) {
		if (util_strcaseeq(line, lmtp_verbs[i].name)) {
			lmtp_verbs[i].run(l, arg);
			return;
		}
	}
	lmtp_put_canned(l, R_UNKNOWN);
}

/* ASCII case-insensitive: does s start with prefix? */
static bool
lmtp_prefix(const char *s, const char *prefix)
{
	char	a, b;

	for (; *prefix != '\0'; s++, prefix++) {
		a = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
		b = *prefix >= 'a' && *prefix <= 'z' ?
		    (char)(*prefix - 'a' + 'A') : *prefix;
		if (a != b)
			return false;
	}
	return true;
}

/*
 * "FROM:" or "TO:" then the path; RFC 5321 §3.3 allows no space on either
 * side of the colon.  Returns the path's start, or NULL.
 */
static const char *
lmtp_path_arg(const char *arg, const char *keyword)
{
	if (arg == NULL || !lmtp_prefix(arg, keyword))
		return NULL;
	arg += strlen(keyword);
	if (*arg == ' ')
		return NULL;
	return arg;
}

/* True when any of the n bytes at s is not ASCII. */
static bool
lmtp_has_8bit(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/*
 * The MAIL parameters after the path (RFC 5321 §4.1.2 Mail-parameters):
 * SIZE (RFC 1870), BODY (RFC 6152) and SMTPUTF8 (RFC 6531 §3.4, no
 * value).  BODY=BINARYMIME is refused: it is not advertised (RFC 3030 §3).
 * Returns R_SENDER_OK or the reply for the first problem.
 */
static enum lmtp_reply_id
lmtp_mail_params(const char *s, struct lmtp_mail *m)
{
	const char	*kw, *val, *end;
	size_t		 kwlen, vlen, i;
	bool		 seen_body = false;
	uint64_t	 v;

	if (*s != '\0' && *s != ' ')
		return R_MAIL_SYNTAX;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return R_SENDER_OK;
		kw = s;
		end = strchr(s, ' ');
		if (end == NULL)
			end = s + strlen(s);
		s = end;
		val = memchr(kw, '=', (size_t)(end - kw));
		kwlen = (size_t)((val == NULL ? end : val) - kw);
		if (val != NULL)
			val++;
		vlen = val == NULL ? 0 : (size_t)(end - val);
		if (kwlen == 4 && lmtp_prefix(kw, "SIZE")) {
			if (m->has_size)
				return R_DUP_PARAM;
			if (vlen == 0 || vlen > 20)
				return R_BAD_SIZE;
			v = 0;
			for (i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9')
					return R_BAD_SIZE;
				if (v > (UINT64_MAX - (uint64_t)(val[i] - '0'))
				    / 10)
					return R_BAD_SIZE;
				v = v * 10 + (uint64_t)(val[i] - '0');
			}
			m->size = v;
			m->has_size = true;
		} else if (kwlen == 4 && lmtp_prefix(kw, "BODY")) {
			if (seen_body)
				return R_DUP_PARAM;
			seen_body = true;
			if (vlen == 4 && lmtp_prefix(val, "7BIT"))
				m->body = LMTP_BODY_7BIT;
			else if (vlen == 8 && lmtp_prefix(val, "8BITMIME"))
				m->body = LMTP_BODY_8BITMIME;
			else
				return R_BAD_BODY;
		} else if (kwlen == 8 && lmtp_prefix(kw, "SMTPUTF8")) {
			if (m->utf8)
				return R_DUP_PARAM;
			if (val != NULL)
				return R_UTF8_VALUE;
			m->utf8 = true;
		} else
			return R_BAD_PARAM;
	}
}

/* Commands. */

/* RFC 2033 §4.1: LHLO, with EHLO's semantics (RFC 5321 §4.1.1.1). */
static void
lmtp_cmd_lhlo(struct lmtp *l, char *arg)
{
	if (arg == NULL) {
		lmtp_put_canned(l, R_LHLO_ARG);
		return;
	}
	lmtp_txn_end(l, true);
	(void)util_strlcpy(l->client, arg, sizeof(l->client));
	l->greeted = true;
	if (l->finished)
		return;
	/* RFC 6531 §3.1 (8): SMTPUTF8 needs 8BITMIME announced too. */
	/* RFC 3207 §4.2: not advertised once TLS is active. */
	if (buf_printf(&l->out, "250-%s\r\n250-PIPELINING\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-CHUNKING\r\n"
	    "250-SMTPUTF8\r\n%s250 SIZE %" PRIu64 "\r\n", l->hostname,
	    l->tls != LMTP_TLS_OFF && !l->tls_active ? "250-STARTTLS\r\n" :
	    "", l->max_size) == -1) {
		l->finished = true;
		return;
	}
	lmtp_tally(l, 250, true);
}

/*
 * What MAIL, RCPT and DATA need first: LHLO (RFC 5321 §4.1.4), and TLS
 * when it is required (RFC 3207 §4).  Answers and returns false if not.
 */
static bool
lmtp_may_transact(struct lmtp *l)
{
	if (!l->greeted) {
		lmtp_put_canned(l, R_NEED_LHLO);
		return false;
	}
	if (lmtp_need_tls(l)) {
		lmtp_put_canned(l, R_NEED_TLS);
		return false;
	}
	return true;
}

static void
lmtp_cmd_mail(struct lmtp *l, char *arg)
{
	struct lmtp_reply	 r;
	enum lmtp_reply_id	 id;
	const char		*p;
	size_t			 end;

	if (!lmtp_may_transact(l))
		return;
	/* RFC 5321 §4.1.4: out of sequence is 503, state unchanged. */
	if (l->txn) {
		lmtp_put_canned(l, R_NESTED);
		return;
	}
	p = lmtp_path_arg(arg, "FROM:");
	if (p == NULL) {
		lmtp_put_canned(l, R_MAIL_SYNTAX);
		return;
	}
	/*
	 * UTF-8 is parsed (and validated) whether or not SMTPUTF8 follows:
	 * the parameters come after the path.  Ill-formed UTF-8 is a syntax
	 * error either way (RFC 6531 §3.5 "other reasons").
	 */
	if (addr_parse_path(p, strlen(p), ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8,
	    &l->from, &end) != ADDR_OK) {
		lmtp_put_canned(l, R_BAD_SENDER);
		return;
	}
	memset(&l->mail, 0, sizeof(l->mail));
	l->mail.from = &l->from;
	l->mail.body = LMTP_BODY_UNSPEC;
	id = lmtp_mail_params(p + end, &l->mail);
	/* RFC 6531 §3.5: a MAIL that needs SMTPUTF8 and lacks it is 550. */
	if (id == R_SENDER_OK && !l->mail.utf8 && lmtp_has_8bit(p, end))
		id = R_MAIL_UTF8;
	/* RFC 1870 §6.1: a declared size over the limit is 552 here. */
	if (id == R_SENDER_OK && l->mail.has_size && l->max_size != 0 &&
	    l->mail.size > l->max_size)
		id = R_TOO_BIG;
	if (id != R_SENDER_OK) {
		lmtp_put_canned(l, id);
		return;
	}
	lmtp_reply_set(&r, R_SENDER_OK);
	if (l->hooks.mail != NULL)
		l->hooks.mail(l->ctx, &l->mail, &r);
	if (lmtp_class(r.code, 2)) {
		l->txn = true;
		l->n_rcpts = 0;
	}
	lmtp_put(l, &r);
}

static void
lmtp_cmd_rcpt(struct lmtp *l, char *arg)
{
	struct lmtp_reply	 r;
	struct addr		 to;
	const char		*p, *rest;
	size_t			 end;

	if (!lmtp_may_transact(l))
		return;
	if (!l->txn) {
		lmtp_put_canned(l, R_NEED_MAIL);
		return;
	}
	/* The recipients of a BDAT transaction are fixed by its first BDAT. */
	if (l->bdat != LMTP_BDAT_NONE) {
		lmtp_put_canned(l, R_RCPT_AFTER_BDAT);
		return;
	}
	p = lmtp_path_arg(arg, "TO:");
	if (p == NULL) {
		lmtp_put_canned(l, R_RCPT_SYNTAX);
		return;
	}
	if (addr_parse_path(p, strlen(p), ADDR_ALLOW_POSTMASTER |
	    ADDR_ALLOW_UTF8, &to, &end) != ADDR_OK) {
		lmtp_put_canned(l, R_BAD_RCPT);
		return;
	}
	rest = p + end;
	if (*rest != '\0' && *rest != ' ') {
		lmtp_put_canned(l, R_RCPT_SYNTAX);
		return;
	}
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		lmtp_put_canned(l, R_BAD_PARAM);
		return;
	}
	/* RFC 6531 §3.5: a RCPT that needs SMTPUTF8 and lacks it is 553. */
	if (!l->mail.utf8 && lmtp_has_8bit(p, end)) {
		lmtp_put_canned(l, R_RCPT_UTF8);
		return;
	}
	/* RFC 5321 §4.5.3.1.10: too many recipients is 452. */
	if (l->n_rcpts >= l->max_rcpts) {
		lmtp_put_canned(l, R_TOO_MANY);
		return;
	}
	lmtp_reply_set(&r, R_RCPT_OK);
	if (l->hooks.rcpt != NULL)
		l->hooks.rcpt(l->ctx, &to, &r);
	if (lmtp_class(r.code, 2)) {
		if (l->n_rcpts == l->cap_rcpts) {
			l->cap_rcpts = l->cap_rcpts == 0 ? 4 :
			    l->cap_rcpts * 2;
			if (l->cap_rcpts > l->max_rcpts)
				l->cap_rcpts = l->max_rcpts;
			l->rcpts = xreallocarray(l->rcpts, l->cap_rcpts,
			    sizeof(*l->rcpts));
		}
		l->rcpts[l->n_rcpts++] = to;
	}
	lmtp_put(l, &r);
}

static void
lmtp_cmd_data(struct lmtp *l, char *arg)
{
	struct lmtp_reply	r;

	if (!lmtp_may_transact(l))
		return;
	if (arg != NULL) {
		lmtp_put_canned(l, R_NO_ARGS);
		return;
	}
	if (!l->txn) {
		lmtp_put_canned(l, R_NEED_MAIL_DATA);
		return;
	}
	/* RFC 3030 §2: DATA and BDAT do not mix in one transaction. */
	if (l->bdat != LMTP_BDAT_NONE) {
		lmtp_put_canned(l, R_DATA_AFTER_BDAT);
		return;
	}
	/* RFC 2033 §4.2: DATA with no successful RCPT MUST fail with 503. */
	if (l->n_rcpts == 0) {
		lmtp_put_canned(l, R_NO_RCPTS);
		return;
	}
	lmtp_reply_set(&r, R_GO_AHEAD);
	if (l->hooks.data_begin != NULL)
		l->hooks.data_begin(l->ctx, &r);
	if (!lmtp_class(r.code, 4) && !lmtp_class(r.code, 5)) {
		/* RFC 5321 §4.1.1.4: the DATA line's CRLF starts line one. */
		l->in_data = true;
		l->dstate = LMTP_D_BOL;
		l->text_len = 0;
		l->msg_size = 0;
		l->body_len = 0;
		memset(&l->fail, 0, sizeof(l->fail));
	}
	lmtp_put(l, &r);
}

/*
 * RFC 3030 §2 bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF,
 * chunk-size = 1*DIGIT, end-marker = "LAST" (any case; extra spaces and
 * trailing spaces are tolerated).  Returns false when no size can be read:
 * then nothing says how many octets follow, and they are read as commands.
 * Otherwise *ok_out tells whether the rest of the line was well-formed.
 * At most 20 digits (2^64 - 1 has 20); no overflow.
 */
static bool
lmtp_bdat_args(const char *arg, uint64_t *n_out, bool *last_out,
    bool *ok_out)
{
	uint64_t	 v = 0, d;
	size_t		 i;
	const char	*rest;

	if (arg == NULL)
		return false;
	for (i = 0; arg[i] >= '0' && arg[i] <= '9'; i++) {
		d = (uint64_t)(arg[i] - '0');
		if (i == 20 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == 0 || (arg[i] != '\0' && arg[i] != ' '))
		return false;
	*n_out = v;
	*last_out = false;
	rest = arg + i;
	while (*rest == ' ')
		rest++;
	if (lmtp_prefix(rest, "LAST") && (rest[4] == '\0' || rest[4] == ' ')) {
		*last_out = true;
		rest += 4;
		while (*rest == ' ')
			rest++;
	}
	*ok_out = *rest == '\0';
	return true;
}

/*
 * A BDAT in an open transaction was refused: the message can no longer be
 * whole, so every later BDAT of the transaction gets the first refusal
 * (RFC 3030 §2: "accept and discard additional BDAT chunks already in the
 * pipeline after the failed BDAT"), and DATA and RCPT get 503 until RSET.
 */
static void
lmtp_bdat_refuse(struct lmtp *l, const struct lmtp_reply *r, bool canned)
{
	l->chunk = LMTP_CHUNK_REFUSE;
	l->chunk_reply = *r;
	l->chunk_canned = canned;
	lmtp_bdat_poison(l, r);
}

static void
lmtp_bdat_poison(struct lmtp *l, const struct lmtp_reply *r)
{
	if (!l->txn)
		return;
	if (l->fail.code == 0)
		l->fail = *r;
	if (l->bdat == LMTP_BDAT_NONE)
		l->bdat = LMTP_BDAT_FAILED;
}

/*
 * RFC 3030 §2, RFC 2033 §4.3.  Whenever the size could be read, exactly
 * that many octets are consumed, whatever the reply; the reply comes after
 * them ("MUST accept and discard the associated message data before
 * sending the appropriate 5XX or 4XX code").  A chunk gets one reply;
 * BDAT LAST gets one per accepted recipient, or none when there is none.
 * BDAT is not a synchronisation point: nothing here waits or flushes.
 */
static void
lmtp_cmd_bdat(struct lmtp *l, char *arg)
{
	struct lmtp_reply	r;
	uint64_t		n;
	bool			last, ok;

	if (!lmtp_bdat_args(arg, &n, &last, &ok)) {
		lmtp_reply_set(&r, R_BDAT_SYNTAX);
		lmtp_bdat_refuse(l, &r, true);
		l->chunk = LMTP_CHUNK_NONE;
		lmtp_emit(l, &r, true);
		return;
	}
	l->chunk_size = n;
	l->chunk_last = last;
	lmtp_reply_set(&r, R_OK);
	if (!ok) {
		lmtp_reply_set(&r, R_BDAT_SYNTAX);
		lmtp_bdat_refuse(l, &r, true);
	} else if (!l->greeted) {
		lmtp_reply_set(&r, R_NEED_LHLO);
		lmtp_bdat_refuse(l, &r, true);
	} else if (lmtp_need_tls(l)) {
		lmtp_reply_set(&r, R_NEED_TLS);
		lmtp_bdat_refuse(l, &r, true);
	} else if (!l->txn) {
		lmtp_reply_set(&r, R_NEED_MAIL_BDAT);
		lmtp_bdat_refuse(l, &r, true);
	} else if (l->n_rcpts == 0) {
		/* RFC 2033 §4.3: "BDAT LAST command returns zero replies" */
		if (last)
			l->chunk = LMTP_CHUNK_SILENT;
		else {
			lmtp_reply_set(&r, R_NO_RCPTS);
			lmtp_bdat_refuse(l, &r, true);
		}
	} else if (l->bdat == LMTP_BDAT_FAILED) {
		if (last)
			l->chunk = LMTP_CHUNK_FAIL_ALL;
		else
			lmtp_bdat_refuse(l, &l->fail, false);
	} else {
		if (l->bdat == LMTP_BDAT_NONE) {
			(void)snprintf(r.text, sizeof(r.text),
			    "%" PRIu64 " octets received", n);
			if (l->hooks.data_begin != NULL)
				l->hooks.data_begin(l->ctx, &r);
			if (lmtp_class(r.code, 4) || lmtp_class(r.code, 5)) {
				lmtp_bdat_refuse(l, &r, false);
				if (last)
					l->chunk = LMTP_CHUNK_FAIL_ALL;
			} else {
				l->bdat = LMTP_BDAT_OPEN;
				l->dstate = LMTP_D_TEXT;
				l->text_len = 0;
				l->msg_size = 0;
				l->body_len = 0;
				memset(&l->fail, 0, sizeof(l->fail));
			}
		}
		if (l->bdat == LMTP_BDAT_OPEN) {
			l->chunk = LMTP_CHUNK_STORE;
			/* RFC 1870 §6.3, counted over all the chunks. */
			if (l->max_size != 0 && (l->msg_size > l->max_size ||
			    n > l->max_size - l->msg_size))
				lmtp_data_fail(l, R_TOO_BIG);
			l->msg_size = n > UINT64_MAX - l->msg_size ?
			    UINT64_MAX : l->msg_size + n;
		}
	}
	l->chunk_left = n;
	if (n == 0)
		lmtp_chunk_end(l);
}

static void
lmtp_cmd_rset(struct lmtp *l, char *arg)
{
	if (arg != NULL) {
		lmtp_put_canned(l, R_NO_ARGS);
		return;
	}
	lmtp_txn_end(l, true);
	lmtp_put_canned(l, R_OK);
}

static void
lmtp_cmd_noop(struct lmtp *l, char *arg)
{
	(void)arg;
	lmtp_put_canned(l, R_OK);
}

static void
lmtp_cmd_quit(struct lmtp *l, char *arg)
{
	(void)arg;
	lmtp_txn_end(l, false);
	lmtp_put_canned(l, R_BYE);
	l->finished = true;
}

/* RFC 5321 §3.5.3: no 250 unless the address was really verified. */
static void
lmtp_cmd_vrfy(struct lmtp *l, char *arg)
{
	lmtp_put_canned(l, arg == NULL ? R_VRFY_ARG : R_VRFY);
}

/* RFC 5321 §4.2.4: recognised, not implemented. */
static void
lmtp_cmd_expn(struct lmtp *l, char *arg)
{
	(void)arg;
	lmtp_put_canned(l, R_EXPN);
}

static void
lmtp_cmd_help(struct lmtp *l, char *arg)
{
	(void)arg;
	lmtp_put_canned(l, R_HELP);
}

/* RFC 2033 §4.1: HELO and EHLO MUST NOT get a positive reply. */
static void
lmtp_cmd_helo(struct lmtp *l, char *arg)
{
	(void)arg;
	lmtp_put_canned(l, R_USE_LHLO);
}

/* RFC 3207 §4: with TLS required, 530 until it is active. */
static bool
lmtp_need_tls(const struct lmtp *l)
{
	return l->tls == LMTP_TLS_REQUIRED && !l->tls_active;
}

/*
 * RFC 3207 §4.  Not offered (a Unix socket, or no certificate) is 502:
 * recognised, not implemented here.  A second STARTTLS is 503 (§4.2 says
 * it is not advertised again).  After the 220 the engine stops reading
 * (lmtp_starttls_pending).
 */
static void
lmtp_cmd_starttls(struct lmtp *l, char *arg)
{
	if (l->tls_active) {
		lmtp_put_canned(l, R_TLS_ACTIVE);
		return;
	}
	if (l->tls == LMTP_TLS_OFF) {
		lmtp_put_canned(l, R_NO_TLS);
		return;
	}
	/* "501 Syntax error (no parameters allowed)" */
	if (arg != NULL) {
		lmtp_put_canned(l, R_NO_ARGS);
		return;
	}
	if (!l->greeted) {
		lmtp_put_canned(l, R_NEED_LHLO);
		return;
	}
	if (l->txn) {
		lmtp_put_canned(l, R_TLS_IN_TXN);
		return;
	}
	lmtp_put_canned(l, R_TLS_GO);
	if (!l->finished)
		l->tls_pending = true;
}

/* Message data. */

static void
lmtp_data_fail(struct lmtp *l, enum lmtp_reply_id id)
{
	if (l->fail.code != 0)
		return;
	lmtp_reply_set(&l->fail, id);
	l->body_len = 0;
}

/*
 * Counts n octets of the current text line; eol ends the line.  RFC 5321
 * §4.5.3.1.6 limits a text line to 1000 octets with its CRLF.  BDAT chunks
 * are held to it too: without BINARYMIME (not offered) a message is still
 * text (RFC 3030 §3, RFC 5322 §2.1.1), and DATA and BDAT store the same.
 */
static void
lmtp_line_count(struct lmtp *l, size_t n, bool eol)
{
	l->text_len = l->text_len > LMTP_TEXT_LINE_MAX ?
	    LMTP_TEXT_LINE_MAX + 1 : l->text_len + n;
	if (l->text_len > LMTP_TEXT_LINE_MAX)
		lmtp_data_fail(l, R_DATA_LINE);
	if (eol)
		l->text_len = 0;
}

/*
 * DATA: the line count, and RFC 1870 §6.3, which lets us refuse a message
 * over the size we announced (BDAT counts whole chunks instead).
 */
static void
lmtp_data_count(struct lmtp *l, size_t n, bool eol)
{
	lmtp_line_count(l, n, eol);
	l->msg_size += n;
	if (l->max_size != 0 && l->msg_size > l->max_size)
		lmtp_data_fail(l, R_TOO_BIG);
}

static void
lmtp_body_put(struct lmtp *l, const char *p, size_t n)
{
	size_t	room, k;

	while (n > 0 && l->fail.code == 0) {
		room = LMTP_BODY_CHUNK - l->body_len;
		if (room == 0) {
			lmtp_body_flush(l);
			continue;
		}
		k = n < room ? n : room;
		memcpy(l->body + l->body_len, p, k);
		l->body_len += k;
		p += k;
		n -= k;
	}
}

static void
lmtp_body_flush(struct lmtp *l)
{
	struct lmtp_reply	fail;
	size_t			n = l->body_len;

	l->body_len = 0;
	if (n == 0 || l->fail.code != 0 || l->hooks.data_body == NULL)
		return;
	lmtp_reply_set(&fail, R_LOCAL_ERR);
	if (l->hooks.data_body(l->ctx, l->body, n, &fail) == -1) {
		/* The hook's reply, if it is a refusal; else ours. */
		if (fail.code < 400 || fail.code > 599)
			lmtp_reply_set(&fail, R_LOCAL_ERR);
		l->fail = fail;
		l->body_len = 0;
	}
}

/*
 * The octets before the first CR or LF of the n at p (n when there is
 * none).  memchr scans a word or a vector at a time; a loop over octets
 * was most of the CPU of a large message.
 */
static size_t
lmtp_text_run(const char *p, size_t n)
{
	const char	*lf, *cr;
	size_t		 lim;

	lf = memchr(p, '\n', n);
	lim = lf != NULL ? (size_t)(lf - p) : n;
	cr = memchr(p, '\r', lim);
	return cr != NULL ? (size_t)(cr - p) : lim;
}

/*
 * Inside a line, for DATA and chunks alike: a run of text as is, a CR
 * held back (LMTP_D_CR decides), or a bare LF stored as LF.  count takes
 * each octet for the line limit (and, for DATA, the size).  Returns the
 * octets used, at least one (n > 0).
 */
static size_t
lmtp_text_step(struct lmtp *l, const char *p, size_t n,
    void (*count)(struct lmtp *, size_t, bool))
{
	size_t	run;

	run = lmtp_text_run(p, n);
	/*
	 * The common line, "text CRLF", in one step: one count, one LF.
	 * BDAT reads LMTP_D_BOL as LMTP_D_TEXT: it has no dot-stuffing.
	 */
	if (run + 1 < n && p[run] == '\r' && p[run + 1] == '\n') {
		count(l, run + 2, true);
		lmtp_body_put(l, p, run);
		lmtp_body_put(l, "\n", 1);
		l->dstate = LMTP_D_BOL;
		return run + 2;
	}
	if (run > 0) {
		count(l, run, false);
		lmtp_body_put(l, p, run);
		return run;
	}
	if (p[0] == '\r') {
		count(l, 1, false);
		l->dstate = LMTP_D_CR;
		return 1;
	}
	count(l, 1, true);
	lmtp_body_put(l, "\n", 1);
	return 1;
}

/*
 * The fast path of lmtp_data_scan, for whole lines: from a line start
 * (LMTP_D_BOL) or inside a line (LMTP_D_TEXT), each line up to its LF is
 * stored as it is, its CRLF or bare LF as one LF, a bare CR inside it as
 * is.  Stops at a line that starts with "." (stuffing, or the end) and
 * at a line with no LF yet, for the octet-wise path.  Returns the octets
 * used.
 */
static size_t
lmtp_data_lines(struct lmtp *l, const char *p, size_t n)
{
	const char	*lf;
	size_t		 i = 0, len;
	bool		 crlf;

	while (i < n) {
		if (l->dstate == LMTP_D_BOL && p[i] == '.')
			break;
		lf = memchr(p + i, '\n', n - i);
		if (lf == NULL)
			break;
		len = (size_t)(lf - (p + i)) + 1;
		/* Only a CR that came with the LF is a line end. */
		crlf = len >= 2 && lf[-1] == '\r';
		lmtp_data_count(l, len, true);
		lmtp_body_put(l, p + i, len - (crlf ? 2 : 1));
		lmtp_body_put(l, "\n", 1);
		l->dstate = crlf ? LMTP_D_BOL : LMTP_D_TEXT;
		i += len;
	}
	return i;
}

/*
 * Scans message data (RFC 5321 §4.1.1.4, §4.5.2): only CRLF "." CRLF ends
 * it; a line starting with "." loses that dot when more follows; CRLF is
 * stored as LF, a bare LF as LF (ending the line for the length count but
 * starting no line), a bare CR as is.  Returns the bytes used; after the
 * final dot it stops, so what follows is read as commands.
 */
static size_t
lmtp_data_scan(struct lmtp *l, const char *p, size_t n)
{
	size_t	i = 0, k;

	while (i < n) {
		if (l->dstate == LMTP_D_TEXT || l->dstate == LMTP_D_BOL) {
			k = lmtp_data_lines(l, p + i, n - i);
			i += k;
			if (k > 0 || i == n)
				continue;
		}
		switch (l->dstate) {
		case LMTP_D_TEXT:
			i += lmtp_text_step(l, p + i, n - i, lmtp_data_count);
			break;
		case LMTP_D_CR:
			if (p[i] == '\n') {
				lmtp_data_count(l, 1, true);
				lmtp_body_put(l, "\n", 1);
				l->dstate = LMTP_D_BOL;
				i++;
			} else {
				lmtp_body_put(l, "\r", 1);
				l->dstate = LMTP_D_TEXT;
			}
			break;
		case LMTP_D_BOL:
			if (p[i] == '.') {
				l->dstate = LMTP_D_DOT;
				i++;
			} else
				l->dstate = LMTP_D_TEXT;
			break;
		case LMTP_D_DOT:
			if (p[i] == '\r') {
				l->dstate = LMTP_D_DOTCR;
				i++;
			} else
				l->dstate = LMTP_D_TEXT;	/* unstuffed */
			break;
		case LMTP_D_DOTCR:
			if (p[i] == '\n') {
				lmtp_data_finish(l);
				return i + 1;
			}
			/* "." CR x: the dot is stuffing, the CR is bare. */
			lmtp_data_count(l, 1, false);
			lmtp_body_put(l, "\r", 1);
			l->dstate = LMTP_D_TEXT;
			break;
		}
	}
	return n;
}

/*
 * Reads BDAT chunk octets: up to chunk_left of the n at p.  Returns the
 * bytes used; the chunk's reply follows its last octet.
 */
static size_t
lmtp_chunk_scan(struct lmtp *l, const char *p, size_t n)
{
	size_t	k;

	k = (uint64_t)n < l->chunk_left ? n : (size_t)l->chunk_left;
	if (l->chunk == LMTP_CHUNK_STORE)
		lmtp_chunk_text(l, p, k);
	l->chunk_left -= k;
	if (l->chunk_left == 0)
		lmtp_chunk_end(l);
	return k;
}

/*
 * Chunk octets are the message as sent (RFC 3030 §2: no dot-stuffing, no
 * end-of-data sequence); only line ends are stored as DATA stores them:
 * CRLF as LF, a bare LF as LF, a bare CR as is.  A CR that ends a chunk
 * waits for the next chunk's first octet (LMTP_D_CR).
 */
static void
lmtp_chunk_text(struct lmtp *l, const char *p, size_t n)
{
	size_t	i = 0;

	while (i < n) {
		if (l->dstate == LMTP_D_CR) {
			l->dstate = LMTP_D_TEXT;
			if (p[i] == '\n') {
				lmtp_line_count(l, 1, true);
				lmtp_body_put(l, "\n", 1);
				i++;
				continue;
			}
			lmtp_body_put(l, "\r", 1);
		}
		i += lmtp_text_step(l, p + i, n - i, lmtp_line_count);
	}
}

/* The last octet of a chunk was read (or it had none): its reply. */
static void
lmtp_chunk_end(struct lmtp *l)
{
	struct lmtp_reply	r;
	enum lmtp_chunk		mode = l->chunk;

	l->chunk = LMTP_CHUNK_NONE;
	switch (mode) {
	case LMTP_CHUNK_STORE:
		if (l->chunk_last) {
			if (l->dstate == LMTP_D_CR)
				lmtp_body_put(l, "\r", 1);
			l->dstate = LMTP_D_TEXT;
			lmtp_data_finish(l);
			break;
		}
		/* RFC 3030 §2: "A 250 response MUST be sent to each
		 * successful BDAT data block"; a failure is known now. */
		lmtp_body_flush(l);
		if (l->fail.code != 0)
			lmtp_put(l, &l->fail);
		else {
			lmtp_reply_set(&r, R_OK);
			(void)snprintf(r.text, sizeof(r.text),
			    "%" PRIu64 " octets received", l->chunk_size);
			lmtp_put(l, &r);
		}
		break;
	case LMTP_CHUNK_REFUSE:
		r = l->chunk_reply;
		lmtp_emit(l, &r, l->chunk_canned);
		break;
	case LMTP_CHUNK_SILENT:
		lmtp_txn_end(l, false);
		break;
	case LMTP_CHUNK_FAIL_ALL:
		lmtp_reply_each(l);
		lmtp_txn_end(l, false);
		break;
	case LMTP_CHUNK_NONE:
		assert(!"chunk end without a chunk");
		break;
	}
}

/*
 * The final dot, or the end of BDAT LAST: one reply per accepted
 * recipient, in RCPT order (RFC 2033 §4.2, §4.3).
 */
static void
lmtp_data_finish(struct lmtp *l)
{
	struct lmtp_reply	r;

	lmtp_body_flush(l);
	l->in_data = false;
	memset(&r, 0, sizeof(r));
	if (l->hooks.data_end != NULL)
		l->hooks.data_end(l->ctx, &r);
	if (l->fail.code == 0 && (lmtp_class(r.code, 4) ||
	    lmtp_class(r.code, 5)))
		l->fail = r;
	lmtp_reply_each(l);
	lmtp_txn_end(l, false);
}

/*
 * One reply per accepted recipient through deliver, l->fail when set;
 * each flushed early when more follow (RFC 2033 §5).
 */
static void
lmtp_reply_each(struct lmtp *l)
{
	struct lmtp_reply	r;
	size_t			i;

	/* A hook may end the session (lmtp_close) from inside the loop. */
	for (i = 0; i < l->n_rcpts && !l->finished; i++) {
		r = l->fail;
		if (l->hooks.deliver != NULL)
			l->hooks.deliver(l->ctx, i, &l->rcpts[i], &r);
		if (l->fail.code != 0)
			r = l->fail;
		else if (r.code == 0)
			lmtp_reply_set(&r, R_LOCAL_ERR);
		lmtp_put(l, &r);
		if (i + 1 < l->n_rcpts && l->hooks.flush != NULL)
			l->hooks.flush(l->ctx);
	}
}
