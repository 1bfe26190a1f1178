/* SPDX-License-Identifier: MIT */
/*
 * lmtp: the engine driven by scripts through fake hooks that record their
 * calls and answer from fixed rules.  Every script runs in three feed modes
 * (whole, one byte at a time, pseudo-random chunks from a fixed seed) and
 * the whole reply transcript is compared.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lmtp.h"
#include "suites.h"
#include "util.h"

enum feed_mode {
	FEED_WHOLE,
	FEED_BYTEWISE,
	FEED_CHUNKS,
	FEED_MODES
};

#define BIG	(64 * 1024 * 1024)

#define GREETING	"220 mx.test LMTP lmtpd ready\r\n"
#define LHLO_REPLY							\
	"250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"	\
	"250-8BITMIME\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n"		\
	"250 SIZE 10000\r\n"
#define OK		"250 2.0.0 ok\r\n"
#define SENDER_OK	"250 2.1.0 sender ok\r\n"
#define RCPT_OK		"250 2.1.5 recipient ok\r\n"
#define GO_AHEAD	"354 end data with <CR><LF>.<CR><LF>\r\n"
#define BYE		"221 2.0.0 bye\r\n"
#define NO_USER		"550 5.1.1 no such user\r\n"
#define DELIVERED(a)	"250 2.0.0 <" a "> delivered\r\n"
#define LOCAL_ERR	"451 4.3.0 local error in processing\r\n"
#define TOO_BIG		"552 5.3.4 message size exceeds fixed maximum " \
			"message size\r\n"
#define DATA_LINE	"554 5.5.2 line too long\r\n"
#define LINE_LONG	"500 5.5.2 line too long\r\n"
#define UNKNOWN		"500 5.5.1 command unrecognized\r\n"

/* LHLO, MAIL and the replies to them. */
#define OPEN		"LHLO client.test\r\nMAIL FROM:<s@example.org>\r\n"
#define OPEN_REPLY	GREETING LHLO_REPLY SENDER_OK

static const struct lmtp_limits test_limits = {
	.hostname = "mx.test",
	.max_message_size = 10000,
	.max_recipients = 3,
};

static const struct lmtp_limits nolimit_limits = {
	.hostname = "mx.test",
	.max_message_size = 0,
	.max_recipients = 3,
};

struct fake {
	struct lmtp	*l;
	struct buf	 out;		/* every reply, in order */
	struct buf	 calls;		/* hook calls, one word each */
	struct buf	 body;		/* every data_body byte */
	struct buf	 flushed;	/* taken by flush, "|" after */
	int		 n_mail, n_rcpt, n_begin, n_body, n_end;
	int		 n_deliver, n_reset, n_flush;
	unsigned	 entry[8];	/* deliver: reply->code on entry */
	struct lmtp_mail mail;		/* the last MAIL, from not kept */
	char		 from[ADDR_PATH_MAX + 1];
	/* answers */
	int		 refuse_begin;	/* refuse this many DATA */
	bool		 body_fail;
	unsigned	 body_fail_code;	/* the hook's own reply, or 0 */
	unsigned	 end_code;
	bool		 drain_on_flush;
};

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
set_reply(struct lmtp_reply *r, unsigned code, const char *esc,
    const char *text)
{
	r->code = code;
	util_strlcpy(r->esc, esc, sizeof(r->esc));
	util_strlcpy(r->text, text, sizeof(r->text));
}

static void
drain(struct fake *f, struct buf *also)
{
	const char	*p;
	size_t		 len;

	p = lmtp_output(f->l, &len);
	ck_assert_int_eq(buf_append(&f->out, p, len), 0);
	if (also != NULL)
		ck_assert_int_eq(buf_append(also, p, len), 0);
	lmtp_output_done(f->l, len);
}

static void
fake_mail(void *ctx, const struct lmtp_mail *m, struct lmtp_reply *r)
{
	struct fake	*f = ctx;

	f->n_mail++;
	f->mail = *m;
	util_strlcpy(f->from, m->from->text, sizeof(f->from));
	buf_printf(&f->calls, "mail<%s> ", m->from->text);
	if (starts(m->from->local, "bad"))
		set_reply(r, 550, "5.7.1", "sender refused");
}

static void
fake_rcpt(void *ctx, const struct addr *a, struct lmtp_reply *r)
{
	struct fake	*f = ctx;

	f->n_rcpt++;
	buf_printf(&f->calls, "rcpt<%s> ", a->text);
	if (starts(a->local, "bad"))
		set_reply(r, 550, "5.1.1", "no such user");
	else if (starts(a->local, "full"))
		set_reply(r, 452, "4.2.2", "mailbox full");
	else if (starts(a->local, "wrongclass"))
		r->code = 450;	/* esc left at the default 2.1.5 */
	else if (starts(a->local, "inject"))
		set_reply(r, 550, "5.1.1", "no\r\n250 2.0.0 ok");
}

static void
fake_data_begin(void *ctx, struct lmtp_reply *r)
{
	struct fake	*f = ctx;

	f->n_begin++;
	buf_printf(&f->calls, "begin ");
	if (f->refuse_begin > 0) {
		f->refuse_begin--;
		set_reply(r, 451, "4.3.0", "spool unavailable");
	}
}

static int
fake_data_body(void *ctx, const char *p, size_t n, struct lmtp_reply *fail)
{
	struct fake	*f = ctx;

	f->n_body++;
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(buf_append(&f->body, p, n), 0);
	/* The default the engine offers, unless the test has its own. */
	ck_assert_uint_eq(fail->code, 451);
	ck_assert_str_eq(fail->esc, "4.3.0");
	if (f->body_fail_code != 0) {
		fail->code = f->body_fail_code;
		snprintf(fail->esc, sizeof(fail->esc), "%s",
		    f->body_fail_code == 452 ? "4.3.1" : "2.0.0");
		snprintf(fail->text, sizeof(fail->text), "spool full");
	}
	return f->body_fail ? -1 : 0;
}

static void
fake_data_end(void *ctx, struct lmtp_reply *r)
{
	struct fake	*f = ctx;

	f->n_end++;
	buf_printf(&f->calls, "end ");
	ck_assert_uint_eq(r->code, 0);
	if (f->end_code != 0)
		set_reply(r, f->end_code, "4.3.0", "commit failed");
}

static void
fake_deliver(void *ctx, size_t idx, const struct addr *a,
    struct lmtp_reply *r)
{
	struct fake	*f = ctx;

	buf_printf(&f->calls, "deliver%zu<%s>:%u ", idx, a->text, r->code);
	if (f->n_deliver < 8)
		f->entry[f->n_deliver] = r->code;
	f->n_deliver++;
	if (r->code != 0) {
		/* Must be ignored: the engine's refusal stands. */
		set_reply(r, 250, "2.0.0", "written anyway");
		return;
	}
	if (starts(a->local, "fail"))
		set_reply(r, 452, "4.2.2", "mailbox full");
	else if (!starts(a->local, "none")) {
		r->code = 250;
		util_strlcpy(r->esc, "2.0.0", sizeof(r->esc));
		snprintf(r->text, sizeof(r->text), "<%.180s> delivered",
		    a->text);
	}
}

static void
fake_flush(void *ctx)
{
	struct fake	*f = ctx;

	f->n_flush++;
	if (f->drain_on_flush) {
		drain(f, &f->flushed);
		buf_append(&f->flushed, "|", 1);
	}
}

static void
fake_reset(void *ctx)
{
	struct fake	*f = ctx;

	f->n_reset++;
	buf_printf(&f->calls, "reset ");
}

static const struct lmtp_hooks fake_hooks = {
	.mail = fake_mail,
	.rcpt = fake_rcpt,
	.data_begin = fake_data_begin,
	.data_body = fake_data_body,
	.data_end = fake_data_end,
	.deliver = fake_deliver,
	.flush = fake_flush,
	.reset = fake_reset,
};

static void
fake_init(struct fake *f, const struct lmtp_limits *lim,
    const struct lmtp_hooks *hooks)
{
	memset(f, 0, sizeof(*f));
	buf_init(&f->out, BIG);
	buf_init(&f->calls, BIG);
	buf_init(&f->body, BIG);
	buf_init(&f->flushed, BIG);
	f->l = lmtp_new(lim, hooks, f);
	ck_assert_ptr_nonnull(f->l);
	drain(f, NULL);
}

static void
fake_done(struct fake *f)
{
	lmtp_free(f->l);
	buf_release(&f->out);
	buf_release(&f->calls);
	buf_release(&f->body);
	buf_release(&f->flushed);
}

static const char *
str(const struct buf *b)
{
	return b->data == NULL ? "" : b->data;
}

/* Feeds n bytes in the given mode, taking the output after every feed. */
static void
feed_n(struct fake *f, const char *s, size_t n, int mode)
{
	unsigned	seed = 2033;
	size_t		k;

	while (n > 0) {
		switch (mode) {
		case FEED_WHOLE:
			k = n;
			break;
		case FEED_BYTEWISE:
			k = 1;
			break;
		default:
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 61;
			break;
		}
		if (k > n)
			k = n;
		lmtp_feed(f->l, s, k);
		drain(f, NULL);
		s += k;
		n -= k;
	}
}

static void
feed(struct fake *f, const char *s, int mode)
{
	feed_n(f, s, strlen(s), mode);
}

/* Session basics. */

START_TEST(test_greeting_lhlo)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	ck_assert_str_eq(str(&f.out), GREETING);
	ck_assert_str_eq(lmtp_client_name(f.l), "");
	feed(&f, "lhlo client.test\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_REPLY);
	ck_assert_str_eq(lmtp_client_name(f.l), "client.test");
	ck_assert(lmtp_idle(f.l));
	ck_assert(!lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

START_TEST(test_lhlo_size_zero)
{
	struct fake	f;

	fake_init(&f, &nolimit_limits, &fake_hooks);
	feed(&f, "LHLO c\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING "250-mx.test\r\n"
	    "250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	    "250-CHUNKING\r\n250-SMTPUTF8\r\n250 SIZE 0\r\n");
	fake_done(&f);
}
END_TEST

START_TEST(test_happy_path)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN
	    "RCPT TO:<a@example.org>\r\n"
	    "RCPT TO:<bad@example.org>\r\n"
	    "RCPT TO:<c@example.org>\r\n"
	    "DATA\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "body\r\n"
	    ".\r\n"
	    "QUIT\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY
	    RCPT_OK NO_USER RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") DELIVERED("c@example.org") BYE);
	ck_assert_str_eq(str(&f.calls), "reset mail<s@example.org> "
	    "rcpt<a@example.org> rcpt<bad@example.org> rcpt<c@example.org> "
	    "begin end deliver0<a@example.org>:0 deliver1<c@example.org>:0 "
	    "reset ");
	ck_assert_str_eq(str(&f.body), "Subject: hi\n\nbody\n");
	ck_assert_int_eq(f.n_flush, 1);
	ck_assert(lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

START_TEST(test_mail_params_reach_hook)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, "LHLO c\r\nMAIL FROM:<A@Example.ORG> size=123 Body=8bitmime"
	    "\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_REPLY SENDER_OK);
	ck_assert_str_eq(f.from, "A@Example.ORG");
	ck_assert(f.mail.has_size);
	ck_assert_uint_eq(f.mail.size, 123);
	ck_assert_int_eq(f.mail.body, LMTP_BODY_8BITMIME);
	feed(&f, "RSET\r\nMAIL FROM:<>\r\n", _i);
	ck_assert(!f.mail.has_size);
	ck_assert_int_eq(f.mail.body, LMTP_BODY_UNSPEC);
	ck_assert_str_eq(f.from, "");
	fake_done(&f);
}
END_TEST

/* One command, after a prefix that sets the state, and its reply. */
enum pre {
	PRE_NONE,	/* greeting only */
	PRE_LHLO,
	PRE_MAIL,
	PRE_RCPT,
};

#define PRE_LHLO_S	"LHLO client.test\r\n"
#define PRE_MAIL_S	PRE_LHLO_S "MAIL FROM:<s@example.org>\r\n"
#define PRE_RCPT_S	PRE_MAIL_S "RCPT TO:<r@example.org>\r\n"

static const char *pre_script[] = {
	"",
	PRE_LHLO_S,
	(PRE_MAIL_S),
	(PRE_RCPT_S),
};

static const char *pre_reply[] = {
	GREETING,
	(GREETING LHLO_REPLY),
	(GREETING LHLO_REPLY SENDER_OK),
	(GREETING LHLO_REPLY SENDER_OK RCPT_OK),
};

static const struct {
	enum pre	 pre;
	const char	*cmd;
	const char	*reply;
} reply_table[] = {
	{ PRE_NONE, "MAIL FROM:<a@example.org>", "503 5.5.1 need LHLO first" },
	{ PRE_NONE, "RCPT TO:<a@example.org>", "503 5.5.1 need LHLO first" },
	{ PRE_NONE, "DATA", "503 5.5.1 need LHLO first" },
	{ PRE_NONE, "NOOP", "250 2.0.0 ok" },
	{ PRE_NONE, "noop anything at all", "250 2.0.0 ok" },
	{ PRE_NONE, "RSET", "250 2.0.0 ok" },
	{ PRE_NONE, "VRFY someone", "252 2.5.0 cannot verify, send some mail" },
	{ PRE_NONE, "VRFY", "501 5.5.4 VRFY needs an address" },
	{ PRE_NONE, "HELP", "214 2.0.0 commands: LHLO MAIL RCPT DATA BDAT "
	    "RSET NOOP VRFY HELP QUIT" },
	{ PRE_NONE, "QUIT", "221 2.0.0 bye" },
	{ PRE_NONE, "HELO client.test", "500 5.5.1 this is LMTP, use LHLO" },
	{ PRE_NONE, "EHLO client.test", "500 5.5.1 this is LMTP, use LHLO" },
	{ PRE_NONE, "ehlo client.test", "500 5.5.1 this is LMTP, use LHLO" },
	{ PRE_NONE, "LHLO", "501 5.5.4 LHLO needs a domain" },
	{ PRE_NONE, "LHLO ", "501 5.5.4 LHLO needs a domain" },
	{ PRE_NONE, "EXPN staff", "502 5.5.1 command not implemented" },
	{ PRE_NONE, "", "500 5.5.1 command unrecognized" },
	{ PRE_NONE, "FOO", "500 5.5.1 command unrecognized" },
	{ PRE_NONE, "NOOPX", "500 5.5.1 command unrecognized" },
	{ PRE_NONE, "NOOP\tx", "500 5.5.1 command unrecognized" },
	{ PRE_NONE, " NOOP", "500 5.5.1 command unrecognized" },
	{ PRE_LHLO, "MAIL FROM: <a@example.org>",
	    "501 5.5.2 syntax: MAIL FROM:<address>" },
	{ PRE_LHLO, "MAIL FROM :<a@example.org>",
	    "501 5.5.2 syntax: MAIL FROM:<address>" },
	{ PRE_LHLO, "MAIL  FROM:<a@example.org>",
	    "501 5.5.2 syntax: MAIL FROM:<address>" },
	{ PRE_LHLO, "MAIL TO:<a@example.org>",
	    "501 5.5.2 syntax: MAIL FROM:<address>" },
	{ PRE_LHLO, "MAIL", "501 5.5.2 syntax: MAIL FROM:<address>" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org>x",
	    "501 5.5.2 syntax: MAIL FROM:<address>" },
	{ PRE_LHLO, "mail from:<a@example.org>", "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<>", "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> ", "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@>", "501 5.1.7 bad sender address syntax" },
	{ PRE_LHLO, "MAIL FROM:a@example.org",
	    "501 5.1.7 bad sender address syntax" },
	{ PRE_LHLO, "MAIL FROM:", "501 5.1.7 bad sender address syntax" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=abc",
	    "501 5.5.4 bad SIZE value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=",
	    "501 5.5.4 bad SIZE value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE",
	    "501 5.5.4 bad SIZE value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=-1",
	    "501 5.5.4 bad SIZE value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=18446744073709551616",
	    "501 5.5.4 bad SIZE value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=18446744073709551615",
	    "552 5.3.4 message size exceeds fixed maximum message size" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=10001",
	    "552 5.3.4 message size exceeds fixed maximum message size" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=10000",
	    "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> size=0", "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> BODY=8BITMIME",
	    "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> body=7bit",
	    "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> BODY=BINARYMIME",
	    "501 5.5.4 bad BODY value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> BODY",
	    "501 5.5.4 bad BODY value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SIZE=1 size=2",
	    "501 5.5.4 duplicate parameter" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> BODY=7BIT BODY=7BIT",
	    "501 5.5.4 duplicate parameter" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> AUTH=<>",
	    "555 5.5.4 unsupported parameter" },
	/* RFC 6531 §3.4: SMTPUTF8 takes no value */
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SMTPUTF8",
	    "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> smtputf8 BODY=8BITMIME",
	    "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SMTPUTF8=yes",
	    "501 5.5.4 SMTPUTF8 takes no value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SMTPUTF8=",
	    "501 5.5.4 SMTPUTF8 takes no value" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SMTPUTF8 SMTPUTF8",
	    "501 5.5.4 duplicate parameter" },
	{ PRE_LHLO, "MAIL FROM:<a@example.org> SMTPUTF8X",
	    "555 5.5.4 unsupported parameter" },
	/* RFC 6531 §3.5: UTF-8 without SMTPUTF8 is 550 at MAIL, 553 at RCPT */
	{ PRE_LHLO, "MAIL FROM:<j\xc3\xb6rg@example.org>",
	    "550 5.6.7 non-ASCII address requires SMTPUTF8" },
	{ PRE_LHLO, "MAIL FROM:<jorg@b\xc3\xbc" "cher.example> SIZE=10",
	    "550 5.6.7 non-ASCII address requires SMTPUTF8" },
	{ PRE_LHLO, "MAIL FROM:<@r\xc3\xa9lay:jorg@example.org>",
	    "550 5.6.7 non-ASCII address requires SMTPUTF8" },
	{ PRE_LHLO, "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8",
	    "250 2.1.0 sender ok" },
	{ PRE_LHLO, "MAIL FROM:<\"j\xc3\xb6 rg\"@example.org> SMTPUTF8",
	    "250 2.1.0 sender ok" },
	/* ill-formed UTF-8 is a syntax error, with SMTPUTF8 or without */
	{ PRE_LHLO, "MAIL FROM:<a\xc0\xaf@example.org> SMTPUTF8",
	    "501 5.1.7 bad sender address syntax" },
	{ PRE_LHLO, "MAIL FROM:<a\xff@example.org>",
	    "501 5.1.7 bad sender address syntax" },
	{ PRE_LHLO, "MAIL FROM:<a@[\xc3\xa9]> SMTPUTF8",
	    "501 5.1.7 bad sender address syntax" },
	{ PRE_MAIL, "RCPT TO:<j\xc3\xb6rg@example.org>",
	    "553 5.6.7 non-ASCII address requires SMTPUTF8" },
	{ PRE_MAIL, "RCPT TO:<\xe7\x94\xa8@example.org>",
	    "553 5.6.7 non-ASCII address requires SMTPUTF8" },
	{ PRE_MAIL, "RCPT TO:<a\xed\xa0\x80@example.org>",
	    "501 5.1.3 bad recipient address syntax" },
	/* RFC 3030 §2: BDAT; the size decides what is consumed */
	{ PRE_NONE, "BDAT 0", "503 5.5.1 need LHLO first" },
	{ PRE_LHLO, "BDAT 0", "503 5.5.1 need MAIL before BDAT" },
	{ PRE_LHLO, "BDAT 0 LAST", "503 5.5.1 need MAIL before BDAT" },
	{ PRE_LHLO, "BDAT", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT x", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT LAST", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT -1", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT +1", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 1x", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 0x10", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT  0", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 18446744073709551616",
	    "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 000000000000000000000",
	    "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 0 FIRST", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 0 LASTX", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "BDAT 0 LAST x", "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_MAIL, "BDAT 0", "503 5.5.1 no valid recipients" },
	/* RFC 2033 §4.3: no successful RCPT, no reply to BDAT LAST */
	{ PRE_MAIL, "BDAT 0 LAST", "" },
	{ PRE_RCPT, "BDAT 0", "250 2.0.0 0 octets received" },
	{ PRE_RCPT, "bdat 00000000000000000000",
	    "250 2.0.0 0 octets received" },
	{ PRE_RCPT, "BDAT 0 LAST", "250 2.0.0 <r@example.org> delivered" },
	{ PRE_RCPT, "BDAT 0 last ", "250 2.0.0 <r@example.org> delivered" },
	{ PRE_RCPT, "BDAT 0  LAST", "250 2.0.0 <r@example.org> delivered" },
	{ PRE_RCPT, "BDAT 0 LAST LAST",
	    "501 5.5.4 syntax: BDAT <size> [LAST]" },
	{ PRE_LHLO, "MAIL FROM:<bad@example.org>", "550 5.7.1 sender refused" },
	{ PRE_LHLO, "RCPT TO:<a@example.org>",
	    "503 5.5.1 need MAIL before RCPT" },
	{ PRE_LHLO, "DATA", "503 5.5.1 need MAIL before DATA" },
	{ PRE_LHLO, "DATA x", "501 5.5.4 no parameters allowed" },
	{ PRE_LHLO, "RSET x", "501 5.5.4 no parameters allowed" },
	{ PRE_LHLO, "LHLO again.test", LHLO_REPLY },
	{ PRE_MAIL, "MAIL FROM:<b@example.org>",
	    "503 5.5.1 nested MAIL command" },
	{ PRE_MAIL, "RCPT TO: <a@example.org>",
	    "501 5.5.2 syntax: RCPT TO:<address>" },
	{ PRE_MAIL, "RCPT TO:<a@example.org>x",
	    "501 5.5.2 syntax: RCPT TO:<address>" },
	{ PRE_MAIL, "RCPT FROM:<a@example.org>",
	    "501 5.5.2 syntax: RCPT TO:<address>" },
	{ PRE_MAIL, "RCPT", "501 5.5.2 syntax: RCPT TO:<address>" },
	{ PRE_MAIL, "RCPT TO:<a>", "501 5.1.3 bad recipient address syntax" },
	{ PRE_MAIL, "RCPT TO:<>", "501 5.1.3 bad recipient address syntax" },
	{ PRE_MAIL, "RCPT TO:a@example.org",
	    "501 5.1.3 bad recipient address syntax" },
	{ PRE_MAIL, "RCPT TO:<Postmaster>", "250 2.1.5 recipient ok" },
	{ PRE_MAIL, "rcpt to:<a@example.org>", "250 2.1.5 recipient ok" },
	{ PRE_MAIL, "RCPT TO:<a@example.org> NOTIFY=NEVER",
	    "555 5.5.4 unsupported parameter" },
	{ PRE_MAIL, "RCPT TO:<bad@example.org>", "550 5.1.1 no such user" },
	{ PRE_MAIL, "RCPT TO:<full@example.org>", "452 4.2.2 mailbox full" },
	{ PRE_MAIL, "RCPT TO:<wrongclass@example.org>",
	    "450 4.1.5 recipient ok" },
	{ PRE_MAIL, "RCPT TO:<inject@example.org>", "550 5.1.1 no" },
	{ PRE_MAIL, "DATA", "503 5.5.1 no valid recipients" },
	{ PRE_RCPT, "DATA", "354 end data with <CR><LF>.<CR><LF>" },
	{ PRE_RCPT, "DATA extra", "501 5.5.4 no parameters allowed" },
	{ PRE_RCPT, "MAIL FROM:<b@example.org>",
	    "503 5.5.1 nested MAIL command" },
};

#define N_REPLY_TABLE	(sizeof(reply_table) / sizeof(reply_table[0]))

START_TEST(test_reply_table)
{
	struct fake	 f;
	size_t		 t = (size_t)_i / FEED_MODES;
	char		*script, *want;
	const char	*reply = reply_table[t].reply;
	size_t		 rlen = strlen(reply);

	script = xasprintf("%s%s\r\n", pre_script[reply_table[t].pre],
	    reply_table[t].cmd);
	/* LHLO_REPLY already ends in CRLF; the others get one; "": none. */
	want = xasprintf("%s%s%s", pre_reply[reply_table[t].pre], reply,
	    rlen == 0 || reply[rlen - 1] == '\n' ? "" : "\r\n");
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, script, _i % FEED_MODES);
	ck_assert_str_eq(str(&f.out), want);
	fake_done(&f);
	x_free(script);
	x_free(want);
}
END_TEST

/* RFC 5321 §4.1.4: a 503 leaves the state as it was. */
START_TEST(test_out_of_sequence_keeps_state)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, "MAIL FROM:<x@example.org>\r\n"
	    "LHLO c\r\n"
	    "RCPT TO:<a@example.org>\r\n"
	    "MAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\n"
	    "MAIL FROM:<t@example.org>\r\n"
	    "RCPT TO:<b@example.org>\r\n"
	    "DATA\r\n"
	    "x\r\n"
	    ".\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING
	    "503 5.5.1 need LHLO first\r\n" LHLO_REPLY
	    "503 5.5.1 need MAIL before RCPT\r\n" SENDER_OK RCPT_OK
	    "503 5.5.1 nested MAIL command\r\n" RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") DELIVERED("b@example.org"));
	ck_assert_int_eq(f.n_mail, 1);
	ck_assert_str_eq(f.from, "s@example.org");
	fake_done(&f);
}
END_TEST

/* RFC 2033 §4.2: DATA after only failed RCPTs is 503; the rest goes on. */
START_TEST(test_data_without_valid_rcpt)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN
	    "RCPT TO:<bad@example.org>\r\n"
	    "DATA\r\n"
	    "RCPT TO:<a@example.org>\r\n"
	    "DATA\r\n"
	    "x\r\n"
	    ".\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY NO_USER
	    "503 5.5.1 no valid recipients\r\n" RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org"));
	ck_assert_int_eq(f.n_begin, 1);
	fake_done(&f);
}
END_TEST

START_TEST(test_rset_and_lhlo_reset)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRSET\r\n"
	    "RCPT TO:<a@example.org>\r\n"
	    "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.org>\r\n"
	    "LHLO other.test\r\nDATA\r\nRCPT TO:<a@example.org>\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK OK
	    "503 5.5.1 need MAIL before RCPT\r\n" SENDER_OK RCPT_OK
	    LHLO_REPLY "503 5.5.1 need MAIL before DATA\r\n"
	    "503 5.5.1 need MAIL before RCPT\r\n");
	ck_assert_str_eq(str(&f.calls), "reset mail<s@example.org> "
	    "rcpt<a@example.org> reset mail<s@example.org> "
	    "rcpt<a@example.org> reset ");
	ck_assert_str_eq(lmtp_client_name(f.l), "other.test");
	ck_assert_int_eq(f.n_deliver, 0);
	fake_done(&f);
}
END_TEST

START_TEST(test_state_queries)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, "LHLO c\r\n", _i);
	ck_assert(lmtp_idle(f.l));
	feed(&f, "MAIL FROM:<s@example.org>\r\n", _i);
	ck_assert(!lmtp_idle(f.l));
	ck_assert_uint_eq(lmtp_n_accepted(f.l), 0);
	feed(&f, "RCPT TO:<a@example.org>\r\nRCPT TO:<bad@example.org>\r\n"
	    "RCPT TO:<b@example.org>\r\n", _i);
	ck_assert_uint_eq(lmtp_n_accepted(f.l), 2);
	ck_assert(!lmtp_in_data(f.l));
	feed(&f, "DATA\r\n", _i);
	ck_assert(lmtp_in_data(f.l));
	ck_assert(!lmtp_idle(f.l));
	feed(&f, "x\r\n.\r", _i);
	ck_assert(lmtp_in_data(f.l));
	/* What a feed completes reaches data_body before the feed returns. */
	ck_assert_str_eq(str(&f.body), "x\n");
	feed(&f, "\n", _i);
	ck_assert(!lmtp_in_data(f.l));
	ck_assert(lmtp_idle(f.l));
	ck_assert_uint_eq(lmtp_n_accepted(f.l), 0);
	fake_done(&f);
}
END_TEST

START_TEST(test_output_partial_take)
{
	struct fake	 f;
	const char	*p;
	size_t		 len;

	fake_init(&f, &test_limits, &fake_hooks);
	lmtp_feed(f.l, "NOOP\r\nNOOP\r\n", 12);
	p = lmtp_output(f.l, &len);
	ck_assert_uint_eq(len, 2 * strlen(OK));
	ck_assert(memcmp(p, OK OK, len) == 0);
	lmtp_output_done(f.l, 5);
	p = lmtp_output(f.l, &len);
	ck_assert_uint_eq(len, 2 * strlen(OK) - 5);
	ck_assert(memcmp(p, (OK OK) + 5, len) == 0);
	lmtp_output_done(f.l, len);
	lmtp_output(f.l, &len);
	ck_assert_uint_eq(len, 0);
	fake_done(&f);
}
END_TEST

/* Message data. */

/* The script between DATA and the final dot, and what data_body gets. */
static const struct {
	const char	*data;
	const char	*body;
} data_table[] = {
	/* RFC 5321 §4.5.2: dot-unstuffing */
	{ "..one\r\n...two\r\n.x\r\nmid. dot\r\n. \r\n.\r\n",
	    ".one\n..two\nx\nmid. dot\n \n" },
	/* RFC 5321 §4.1.1.4: <LF>.<LF> and <LF>.<CRLF> end nothing */
	{ "hello\n.\nQUIT\r\nmore\n.\r\n.\r\n",
	    "hello\n.\nQUIT\nmore\n.\n" },
	/* bare CR stored as is; bare LF as LF; "." CR x unstuffs */
	{ "a\rb\r\nc\nd\r\nx\r\r\n\r.\r\n.\rz\r\n.\r\n",
	    "a\rb\nc\nd\nx\r\n\r.\n\rz\n" },
	/* ".\n" at a line start: the dot is stuffing, the LF is bare */
	{ "a\r\n.\nb\r\n.\r\n", "a\n\nb\n" },
	/* empty message: the DATA line's CRLF starts line one */
	{ ".\r\n", "" },
	{ "\r\n.\r\n", "\n" },
	/* a CR before the final CRLF is data */
	{ "a\r\r\n.\r\n", "a\r\n" },
	/* ". CR CR LF" is not the end: stuffing dot, bare CR, CRLF */
	{ "a\r\n.\r\r\n.\r\n", "a\n\r\n" },
};

#define N_DATA_TABLE	(sizeof(data_table) / sizeof(data_table[0]))

START_TEST(test_data_table)
{
	struct fake	 f;
	size_t		 t = (size_t)_i / FEED_MODES;
	char		*script;

	script = xasprintf(OPEN "RCPT TO:<a@example.org>\r\nDATA\r\n%s"
	    "NOOP\r\n", data_table[t].data);
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, script, _i % FEED_MODES);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") OK);
	ck_assert_str_eq(str(&f.body), data_table[t].body);
	if (data_table[t].body[0] == '\0')
		ck_assert_int_eq(f.n_body, 0);
	ck_assert(!lmtp_finished(f.l));
	fake_done(&f);
	x_free(script);
}
END_TEST

/* Bytes after the final dot are commands; bytes before it never are. */
START_TEST(test_after_dot_is_command)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nDATA\r\n"
	    "RSET\r\nQUIT\r\n.\r\nQUIT\r\nNOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") BYE);
	ck_assert_str_eq(str(&f.body), "RSET\nQUIT\n");
	ck_assert(lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

/* Builds n lines of len-2 'x' and CRLF; a line may be given a prefix. */
static char *
make_lines(size_t n, size_t len, const char *prefix)
{
	char	*s, *p;
	size_t	 i, plen = strlen(prefix);

	s = xmalloc(n * (len + plen) + 1);
	p = s;
	for (i = 0; i < n; i++) {
		memcpy(p, prefix, plen);
		p += plen;
		memset(p, 'x', len - 2);
		p += len - 2;
		memcpy(p, "\r\n", 2);
		p += 2;
	}
	*p = '\0';
	return s;
}

/* RFC 1870 §6.3: exactly max octets is fine; one more is 552 per rcpt. */
START_TEST(test_body_over_size)
{
	struct fake	 f;
	char		*plain, *stuffed, *body, *script;

	/*
	 * 100 lines of 100 octets with CRLF; the last line is dot-stuffed,
	 * so 10001 octets are sent and 10000 count.
	 */
	plain = make_lines(99, 100, "");
	stuffed = make_lines(1, 100, ".");
	body = xasprintf("%s%s", plain, stuffed);
	script = xasprintf(OPEN "RCPT TO:<a@example.org>\r\n"
	    "RCPT TO:<b@example.org>\r\nDATA\r\n%s.\r\n", body);
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, script, _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") DELIVERED("b@example.org"));
	ck_assert_uint_eq(f.body.len, 9900);
	fake_done(&f);
	x_free(script);

	/* One octet more. */
	script = xasprintf(OPEN "RCPT TO:<a@example.org>\r\n"
	    "RCPT TO:<b@example.org>\r\nDATA\r\ny%s.\r\n"
	    "MAIL FROM:<s@example.org>\r\nRCPT TO:<c@example.org>\r\n"
	    "DATA\r\nsmall\r\n.\r\n", body);
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, script, _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK GO_AHEAD
	    TOO_BIG TOO_BIG SENDER_OK RCPT_OK GO_AHEAD
	    DELIVERED("c@example.org"));
	ck_assert_int_eq(f.n_deliver, 3);
	ck_assert_uint_eq(f.entry[0], 552);
	ck_assert_uint_eq(f.entry[1], 552);
	ck_assert_uint_eq(f.entry[2], 0);
	/* data_body saw at most the octets under the limit, then "small". */
	ck_assert_uint_le(f.body.len, 10000 + 6);
	ck_assert(f.body.len >= 6 &&
	    memcmp(f.body.data + f.body.len - 6, "small\n", 6) == 0);
	fake_done(&f);
	x_free(script);
	x_free(body);
	x_free(plain);
	x_free(stuffed);
}
END_TEST

/* RFC 5321 §4.5.3.1.6: 1000 octets with CRLF, the stuffed dot not counted. */
START_TEST(test_data_line_length)
{
	struct fake	 f;
	char		*ok, *stuffed, *lf, *longer, *script;

	ok = make_lines(1, 1000, "");
	stuffed = make_lines(1, 1000, ".");
	lf = make_lines(1, 1001, "");
	lf[999] = '\n';	/* 999 octets and a bare LF */
	lf[1000] = '\0';
	longer = make_lines(1, 1001, "");
	script = xasprintf(OPEN "RCPT TO:<a@example.org>\r\nDATA\r\n"
	    "%s%s%s.\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\nshort\r\n%sshort\r\n.\r\n", lf, ok, stuffed, longer);
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, script, _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") SENDER_OK RCPT_OK RCPT_OK GO_AHEAD
	    DATA_LINE DATA_LINE);
	ck_assert_uint_eq(f.entry[0], 0);
	ck_assert_uint_eq(f.entry[1], 554);
	ck_assert_uint_eq(f.entry[2], 554);
	fake_done(&f);
	x_free(ok);
	x_free(stuffed);
	x_free(lf);
	x_free(longer);
	x_free(script);
}
END_TEST

START_TEST(test_body_hook_failure)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.body_fail = true;
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\none\r\ntwo\r\nthree\r\n.\r\nNOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK GO_AHEAD
	    LOCAL_ERR LOCAL_ERR OK);
	ck_assert_int_eq(f.n_body, 1);
	ck_assert_uint_eq(f.entry[0], 451);
	ck_assert_uint_eq(f.entry[1], 451);
	ck_assert(lmtp_idle(f.l));
	fake_done(&f);

	/* The hook's own refusal (a full spool) is every recipient's. */
	fake_init(&f, &test_limits, &fake_hooks);
	f.body_fail = true;
	f.body_fail_code = 452;
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\none\r\n.\r\nNOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK GO_AHEAD
	    "452 4.3.1 spool full\r\n452 4.3.1 spool full\r\n" OK);
	ck_assert_uint_eq(f.entry[0], 452);
	fake_done(&f);

	/* A "refusal" that is not one is not taken: 451 4.3.0 stands. */
	fake_init(&f, &test_limits, &fake_hooks);
	f.body_fail = true;
	f.body_fail_code = 250;
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\n"
	    "DATA\r\none\r\n.\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK GO_AHEAD LOCAL_ERR);
	fake_done(&f);
}
END_TEST

START_TEST(test_data_begin_refused)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.refuse_begin = 1;
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nDATA\r\n"
	    "RCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK
	    "451 4.3.0 spool unavailable\r\n" RCPT_OK GO_AHEAD
	    DELIVERED("a@example.org") DELIVERED("b@example.org"));
	ck_assert_int_eq(f.n_begin, 2);
	ck_assert_str_eq(str(&f.body), "x\n");
	fake_done(&f);
}
END_TEST

START_TEST(test_data_end_refused)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.end_code = 451;
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\nx\r\n.\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK GO_AHEAD
	    "451 4.3.0 commit failed\r\n451 4.3.0 commit failed\r\n");
	ck_assert_uint_eq(f.entry[0], 451);
	ck_assert_uint_eq(f.entry[1], 451);
	fake_done(&f);
}
END_TEST

/* deliver leaving code 0, or no deliver hook at all: 451 each. */
START_TEST(test_deliver_silent)
{
	struct fake		f;
	struct lmtp_hooks	none;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<none@example.org>\r\n"
	    "RCPT TO:<fail@example.org>\r\nRCPT TO:<a@example.org>\r\n"
	    "DATA\r\nx\r\n.\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK RCPT_OK
	    GO_AHEAD LOCAL_ERR "452 4.2.2 mailbox full\r\n"
	    DELIVERED("a@example.org"));
	fake_done(&f);

	memset(&none, 0, sizeof(none));
	fake_init(&f, &test_limits, &none);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\nx\r\n.\r\nQUIT\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK GO_AHEAD
	    LOCAL_ERR LOCAL_ERR BYE);
	fake_done(&f);
}
END_TEST

/* Body bytes reach data_body in few calls, not one per line. */
START_TEST(test_body_large_chunks)
{
	struct fake	 f;
	char		*body, *want;
	size_t		 n_lines = 1024 * 1024 / 80, len, off, k, i;
	size_t		 feeds = 0;

	body = make_lines(n_lines, 80, "");
	len = strlen(body);
	want = xmalloc(n_lines * 79 + 1);
	for (i = 0; i < n_lines; i++) {
		memset(want + i * 79, 'x', 78);
		want[i * 79 + 78] = '\n';
	}
	want[n_lines * 79] = '\0';
	fake_init(&f, &nolimit_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nDATA\r\n", FEED_WHOLE);
	for (off = 0; off < len; off += k) {
		k = len - off < 65536 ? len - off : 65536;
		lmtp_feed(f.l, body + off, k);
		feeds++;
	}
	feed(&f, ".\r\n", FEED_WHOLE);
	ck_assert_uint_eq(f.body.len, n_lines * 79);
	ck_assert(memcmp(f.body.data, want, n_lines * 79) == 0);
	ck_assert_int_ge(f.n_body, 1);
	ck_assert_uint_le((size_t)f.n_body, 2 * feeds);
	ck_assert(strstr(str(&f.out), DELIVERED("a@example.org")) != NULL);
	fake_done(&f);
	x_free(body);
	x_free(want);
}
END_TEST

/* Limits on commands and recipients. */

/* RFC 5321 §4.5.3.1.4: 512 octets with CRLF is the most. */
START_TEST(test_command_too_long)
{
	struct fake	 f;
	char		 fits[513], over[514], huge[5001];
	char		*script;

	memset(fits, 'x', sizeof(fits));
	memcpy(fits, "NOOP ", 5);
	fits[510] = '\0';
	memset(over, 'x', sizeof(over));
	memcpy(over, "QUIT ", 5);
	over[511] = '\0';
	memset(huge, 'y', sizeof(huge));
	memcpy(huge, "QUIT ", 5);
	huge[1000] = '\n';	/* a bare LF does not end the discarding */
	huge[2000] = '\r';
	huge[5000] = '\0';
	script = xasprintf("%s\r\n%s\r\nNOOP\r\n%s\r\nNOOP\r\n", fits, over,
	    huge);
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, script, _i);
	ck_assert_str_eq(str(&f.out), GREETING OK LINE_LONG OK LINE_LONG OK);
	ck_assert(!lmtp_finished(f.l));
	fake_done(&f);
	x_free(script);
}
END_TEST

START_TEST(test_command_bad_bytes)
{
	struct fake	f;
	const char	s[] = "QUIT\0\r\nQUIT\r\r\nQUIT\rx\r\nQUIT\nNOOP\r\n"
	    "\n\r\nNOOP\r\n";

	fake_init(&f, &test_limits, &fake_hooks);
	feed_n(&f, s, sizeof(s) - 1, _i);
	ck_assert_str_eq(str(&f.out), GREETING
	    "500 5.5.2 NUL or bare CR in command\r\n"
	    "500 5.5.2 NUL or bare CR in command\r\n"
	    "500 5.5.2 NUL or bare CR in command\r\n"
	    "500 5.5.2 line must end with CRLF\r\n" OK
	    "500 5.5.2 line must end with CRLF\r\n"
	    "500 5.5.1 command unrecognized\r\n" OK);
	ck_assert(!lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

/* RFC 5321 §4.5.3.1.10: 452 past the limit, and the hook is not asked. */
START_TEST(test_max_recipients)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRCPT TO:<bad@example.org>\r\n"
	    "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n"
	    "RCPT TO:<d@example.org>\r\nDATA\r\nx\r\n.\r\n"
	    "MAIL FROM:<s@example.org>\r\nRCPT TO:<e@example.org>\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK NO_USER RCPT_OK
	    RCPT_OK "452 4.5.3 too many recipients\r\n" GO_AHEAD
	    DELIVERED("a@example.org") DELIVERED("b@example.org")
	    DELIVERED("c@example.org") SENDER_OK RCPT_OK);
	ck_assert_int_eq(f.n_rcpt, 5);
	ck_assert(strstr(str(&f.calls), "rcpt<d@example.org>") == NULL);
	fake_done(&f);
}
END_TEST

/* Pipelining and the end of a session. */

/* RFC 2920: a whole session in one write. */
START_TEST(test_pipelined_session)
{
	struct fake		 f;
	static const char	 s[] =
	    "LHLO c\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\none\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<c@example.org>\r\n"
	    "DATA\r\ntwo\r\n.\r\nQUIT\r\nNOOP\r\n";

	fake_init(&f, &test_limits, &fake_hooks);
	lmtp_feed(f.l, s, sizeof(s) - 1);
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_REPLY SENDER_OK RCPT_OK
	    RCPT_OK GO_AHEAD DELIVERED("a@example.org")
	    DELIVERED("b@example.org") SENDER_OK RCPT_OK GO_AHEAD
	    DELIVERED("c@example.org") BYE);
	ck_assert_str_eq(str(&f.body), "one\ntwo\n");
	ck_assert(lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

START_TEST(test_quit_stops_input)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "QUIT\r\nNOOP\r\nRSET\r\n", _i);
	feed(&f, "NOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY BYE);
	ck_assert(lmtp_finished(f.l));
	ck_assert(lmtp_idle(f.l));
	ck_assert_str_eq(str(&f.calls), "reset mail<s@example.org> reset ");
	fake_done(&f);
}
END_TEST

/* RFC 2033 §5: each recipient's reply may leave before the next. */
START_TEST(test_flush_between_replies)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.drain_on_flush = true;
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "RCPT TO:<c@example.org>\r\nDATA\r\nx\r\n", _i);
	ck_assert_int_eq(f.n_flush, 0);
	lmtp_feed(f.l, ".\r\n", 3);
	ck_assert_int_eq(f.n_flush, 2);
	ck_assert_str_eq(str(&f.flushed), DELIVERED("a@example.org") "|"
	    DELIVERED("b@example.org") "|");
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK RCPT_OK RCPT_OK
	    GO_AHEAD DELIVERED("a@example.org") DELIVERED("b@example.org")
	    DELIVERED("c@example.org"));
	fake_done(&f);
}
END_TEST

START_TEST(test_close)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nDATA\r\npartial\r\n", _i);
	ck_assert(lmtp_in_data(f.l));
	lmtp_close(f.l, "4.4.2", "timeout, closing");
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK GO_AHEAD
	    "421 4.4.2 mx.test timeout, closing\r\n");
	ck_assert(lmtp_finished(f.l));
	ck_assert(lmtp_idle(f.l));
	ck_assert(!lmtp_in_data(f.l));
	ck_assert_int_eq(f.n_deliver, 0);
	ck_assert_str_eq(str(&f.calls), "reset mail<s@example.org> "
	    "rcpt<a@example.org> begin reset ");
	feed(&f, ".\r\nNOOP\r\n", _i);
	lmtp_close(f.l, "4.3.2", "shutting down");
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK GO_AHEAD
	    "421 4.4.2 mx.test timeout, closing\r\n");
	ck_assert_int_eq(f.n_reset, 2);
	fake_done(&f);

	fake_init(&f, &test_limits, &fake_hooks);
	lmtp_close(f.l, "4.3.2", "shutting down");
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), GREETING
	    "421 4.3.2 mx.test shutting down\r\n");
	ck_assert_int_eq(f.n_reset, 0);
	fake_done(&f);
}
END_TEST

START_TEST(test_free_resets_open_txn)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN, _i);
	ck_assert_int_eq(f.n_reset, 1);
	lmtp_free(f.l);
	ck_assert_int_eq(f.n_reset, 2);
	f.l = lmtp_new(&test_limits, &fake_hooks, &f);
	lmtp_free(f.l);
	ck_assert_int_eq(f.n_reset, 2);
	f.l = NULL;
	fake_done(&f);
}
END_TEST

/* The command hook sees each well-formed line before it runs, not data. */
static struct buf	traced;

static void
trace_command(void *ctx, const char *line)
{
	(void)ctx;
	buf_printf(&traced, "[%s]", line);
}

START_TEST(test_command_hook_traces_lines)
{
	static const char	script[] = "LHLO t\r\nMAIL FROM:<a@b.example>\r\n"
	    "RCPT TO:<c@d.example>\r\nDATA\r\nNOOP in data\r\n.\r\n"
	    "bad\0line\r\nQUIT\r\n";
	struct lmtp_hooks	hooks = fake_hooks;
	struct fake		f;

	hooks.command = trace_command;
	buf_init(&traced, BIG);
	fake_init(&f, &test_limits, &hooks);
	feed_n(&f, script, sizeof(script) - 1, _i);
	ck_assert_str_eq(str(&traced), "[LHLO t][MAIL FROM:<a@b.example>]"
	    "[RCPT TO:<c@d.example>][DATA][QUIT]");
	fake_done(&f);
	buf_release(&traced);
}
END_TEST

/* CHUNKING (RFC 3030). */

#define RCPT2		"RCPT TO:<a@example.org>\r\n"		\
			"RCPT TO:<bad@example.org>\r\n"		\
			"RCPT TO:<c@example.org>\r\n"
#define RCPT2_REPLY	RCPT_OK NO_USER RCPT_OK
#define CHUNK_OK(n)	"250 2.0.0 " #n " octets received\r\n"
#define BDAT_SYNTAX	"501 5.5.4 syntax: BDAT <size> [LAST]\r\n"

/*
 * After OPEN and RCPT2 (two accepted recipients): BDAT commands and
 * chunks, the replies after RCPT2_REPLY, and what data_body got.  Each
 * script ends with NOOP, so any octet left unread would show.
 */
static const struct {
	const char	*script;
	const char	*replies;
	const char	*body;
} bdat_table[] = {
	/* one chunk, binary-transparent: no unstuffing, no end of data */
	{ "BDAT 20 LAST\r\n..a\r\n.\r\nQUIT\r\n\r\n.\r\nx",
	    DELIVERED("a@example.org") DELIVERED("c@example.org"),
	    "..a\n.\nQUIT\n\n.\nx" },
	/* CRLF split across chunks, and across BDAT commands */
	{ "BDAT 3\r\nab\rBDAT 2\r\n\ncBDAT 0 LAST\r\n",
	    CHUNK_OK(3) CHUNK_OK(2) DELIVERED("a@example.org")
	    DELIVERED("c@example.org"), "ab\nc" },
	/* a CR that ends a chunk and is followed by something else */
	{ "BDAT 2\r\na\rBDAT 1 LAST\r\nb",
	    CHUNK_OK(2) DELIVERED("a@example.org")
	    DELIVERED("c@example.org"), "a\rb" },
	/* a CR that ends the message */
	{ "BDAT 2 LAST\r\na\r", DELIVERED("a@example.org")
	    DELIVERED("c@example.org"), "a\r" },
	/* bare LF as LF, CR CR LF as CR LF: as DATA stores them */
	{ "BDAT 9 LAST\r\na\nb\r\r\nc\r\n",
	    DELIVERED("a@example.org") DELIVERED("c@example.org"),
	    "a\nb\r\nc\n" },
	/* NUL and 8-bit octets pass */
	{ "BDAT 4 LAST\r\n\x01\xff\xc3\xa9",
	    DELIVERED("a@example.org") DELIVERED("c@example.org"),
	    "\x01\xff\xc3\xa9" },
	/* the empty message */
	{ "BDAT 0 LAST\r\n", DELIVERED("a@example.org")
	    DELIVERED("c@example.org"), "" },
	{ "BDAT 0\r\nBDAT 0\r\nBDAT 0 LAST\r\n", CHUNK_OK(0) CHUNK_OK(0)
	    DELIVERED("a@example.org") DELIVERED("c@example.org"), "" },
	/* commands between chunks; RCPT and DATA are out of sequence */
	{ "BDAT 1\r\naNOOP\r\nRCPT TO:<d@example.org>\r\nDATA\r\n"
	    "MAIL FROM:<x@example.org>\r\nBDAT 1 LAST\r\nb",
	    CHUNK_OK(1) OK "503 5.5.1 RCPT after BDAT\r\n"
	    "503 5.5.1 DATA after BDAT, send RSET\r\n"
	    "503 5.5.1 nested MAIL command\r\n"
	    DELIVERED("a@example.org") DELIVERED("c@example.org"), "ab" },
	/* after BDAT LAST the transaction is over (RFC 3030 §2: 503) */
	{ "BDAT 1 LAST\r\naBDAT 4\r\nNOOPBDAT 2 LAST\r\nxy",
	    DELIVERED("a@example.org") DELIVERED("c@example.org")
	    "503 5.5.1 need MAIL before BDAT\r\n"
	    "503 5.5.1 need MAIL before BDAT\r\n", "a" },
	/* a malformed BDAT whose size was read: its octets are consumed,
	 * and the transaction can no longer deliver a whole message */
	{ "BDAT 6 FIRST\r\nNOOP\r\nBDAT 2 LAST\r\nxy", BDAT_SYNTAX
	    BDAT_SYNTAX BDAT_SYNTAX, "" },
	{ "BDAT 1\r\naBDAT 6 NOW\r\nNOOP\r\nBDAT 1\r\nbBDAT 1 LAST\r\nc",
	    CHUNK_OK(1) BDAT_SYNTAX BDAT_SYNTAX BDAT_SYNTAX BDAT_SYNTAX,
	    "a" },
	/* no size: what follows is commands; later chunks are refused */
	{ "BDAT x\r\nNOOP\r\nBDAT 2 LAST\r\nxy", BDAT_SYNTAX OK
	    BDAT_SYNTAX BDAT_SYNTAX, "" },
	/* a BDAT line refused before it runs fails the transaction too:
	 * its chunk was read as commands, so what follows is not whole */
	{ "BDAT 4^@\r\nNOOP\r\nBDAT 1 LAST\r\nx",
	    "500 5.5.2 NUL or bare CR in command\r\n" OK
	    "500 5.5.2 NUL or bare CR in command\r\n"
	    "500 5.5.2 NUL or bare CR in command\r\n", "" },
	{ "bdat 2\nxy\r\nBDAT 1 LAST\r\nz",
	    "500 5.5.2 line must end with CRLF\r\n" UNKNOWN
	    "500 5.5.2 line must end with CRLF\r\n"
	    "500 5.5.2 line must end with CRLF\r\n", "" },
	{ "BDAT 1 %600\r\nx\r\nBDAT 1 LAST\r\nz", LINE_LONG UNKNOWN LINE_LONG
	    LINE_LONG, "" },
	/* ... but not another bad line, in a transaction or not */
	{ "BDATX^@\r\nBDAT 1 LAST\r\nz",
	    "500 5.5.2 NUL or bare CR in command\r\n"
	    DELIVERED("a@example.org") DELIVERED("c@example.org"), "z" },
	/* RSET between chunks ends it all */
	{ "BDAT 2\r\nabRSET\r\nBDAT 2 LAST\r\nxy", CHUNK_OK(2) OK
	    "503 5.5.1 need MAIL before BDAT\r\n", "ab" },
	/* the size limit (10000) over all chunks: exactly it is fine */
	{ "BDAT 9900\r\n#9900BDAT 100 LAST\r\n#100", CHUNK_OK(9900)
	    DELIVERED("a@example.org") DELIVERED("c@example.org"), NULL },
	/* ... one more is 552 at once, then for each recipient */
	{ "BDAT 9900\r\n#9900BDAT 101\r\n#100yBDAT 1 LAST\r\nz",
	    CHUNK_OK(9900) TOO_BIG TOO_BIG TOO_BIG, NULL },
	{ "BDAT 10001 LAST\r\n#10000y", TOO_BIG TOO_BIG, "" },
	/* RFC 5321 §4.5.3.1.6 as for DATA: 1000 octets with CRLF */
	{ "BDAT 500\r\n%500BDAT 500\r\n%498\r\nBDAT 0 LAST\r\n",
	    CHUNK_OK(500) CHUNK_OK(500) DELIVERED("a@example.org")
	    DELIVERED("c@example.org"), NULL },
	{ "BDAT 500\r\n%500BDAT 501\r\n%499\r\nBDAT 1 LAST\r\nx",
	    CHUNK_OK(500) DATA_LINE DATA_LINE DATA_LINE, NULL },
	/* a bare CR is text: it counts */
	{ "BDAT 1002 LAST\r\n%999\r\r\n", DATA_LINE DATA_LINE, NULL },
};

#define N_BDAT_TABLE	(sizeof(bdat_table) / sizeof(bdat_table[0]))

/*
 * Appends a script to b, with "%N" expanded to N 'x' octets, "#N" to N
 * octets of 100-octet lines (98 'x' and CRLF) and "^@" to a NUL.
 */
static void
expand_x(struct buf *b, const char *s)
{
	char		*end, c;
	unsigned long	 n, i;

	while (*s != '\0') {
		if (s[0] == '^' && s[1] == '@') {
			ck_assert_int_eq(buf_append(b, "", 1), 0);
			s += 2;
			continue;
		}
		if (*s != '%' && *s != '#') {
			ck_assert_int_eq(buf_append(b, s++, 1), 0);
			continue;
		}
		c = *s;
		n = strtoul(s + 1, &end, 10);
		s = end;
		for (i = 0; i < n; i++)
			ck_assert_int_eq(buf_append(b, c == '#' &&
			    i % 100 == 98 ? "\r" : c == '#' && i % 100 == 99 ?
			    "\n" : "x", 1), 0);
	}
}

START_TEST(test_bdat_table)
{
	struct fake	 f;
	struct buf	 script;
	size_t		 t = (size_t)_i / FEED_MODES;
	char		*body;

	buf_init(&script, BIG);
	expand_x(&script, OPEN RCPT2);
	expand_x(&script, bdat_table[t].script);
	expand_x(&script, "NOOP\r\n");
	fake_init(&f, &test_limits, &fake_hooks);
	feed_n(&f, script.data, script.len, _i % FEED_MODES);
	buf_release(&script);
	body = xasprintf(OPEN_REPLY RCPT2_REPLY "%s" OK,
	    bdat_table[t].replies);
	ck_assert_str_eq(str(&f.out), body);
	if (bdat_table[t].body != NULL)
		ck_assert_str_eq(str(&f.body), bdat_table[t].body);
	ck_assert_int_le(f.n_begin, 1);
	ck_assert(!lmtp_finished(f.l));
	ck_assert(!lmtp_in_data(f.l));
	fake_done(&f);
	x_free(body);
}
END_TEST

/* The hooks in order; data_begin once, at the first BDAT. */
START_TEST(test_bdat_hooks)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN RCPT2 "BDAT 3\r\none" "BDAT 4 LAST\r\n two"
	    "MAIL FROM:<t@example.org>\r\nRCPT TO:<d@example.org>\r\n"
	    "BDAT 5 LAST\r\nthree" "QUIT\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT2_REPLY CHUNK_OK(3)
	    DELIVERED("a@example.org") DELIVERED("c@example.org")
	    SENDER_OK RCPT_OK DELIVERED("d@example.org") BYE);
	ck_assert_str_eq(str(&f.calls), "reset mail<s@example.org> "
	    "rcpt<a@example.org> rcpt<bad@example.org> rcpt<c@example.org> "
	    "begin end deliver0<a@example.org>:0 deliver1<c@example.org>:0 "
	    "reset mail<t@example.org> rcpt<d@example.org> begin end "
	    "deliver0<d@example.org>:0 reset ");
	ck_assert_str_eq(str(&f.body), "one twothree");
	ck_assert_int_eq(f.n_flush, 1);
	fake_done(&f);
}
END_TEST

/*
 * A refused chunk is read whole, so octets that look like commands are
 * never run (go-smtp #309); what follows it is a command again.
 */
START_TEST(test_bdat_refused_consumed)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, "BDAT 6\r\nQUIT\r\nNOOP\r\n"
	    "LHLO c\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"
	    "MAIL FROM:<s@example.org>\r\nRCPT TO:<bad@example.org>\r\n"
	    "BDAT 6\r\nQUIT\r\n" "BDAT 6 LAST\r\nQUIT\r\n"
	    "RCPT TO:<a@example.org>\r\nMAIL FROM:<s@example.org>\r\n"
	    "BDAT 6\r\nQUIT\r\nRSET\r\nNOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING
	    "503 5.5.1 need LHLO first\r\n" OK LHLO_REPLY
	    "503 5.5.1 need MAIL before BDAT\r\n" OK SENDER_OK NO_USER
	    "503 5.5.1 no valid recipients\r\n"
	    /* BDAT LAST: zero replies (RFC 2033 §4.3), and it is over */
	    "503 5.5.1 need MAIL before RCPT\r\n" SENDER_OK
	    "503 5.5.1 no valid recipients\r\n" OK OK);
	ck_assert_int_eq(f.n_begin, 0);
	ck_assert_int_eq(f.n_deliver, 0);
	ck_assert_uint_eq(f.body.len, 0);
	ck_assert(!lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

/*
 * data_begin refuses: the chunk is read and answered with the refusal;
 * later chunks of the transaction are dropped with it too (not taken as
 * the start of a message); BDAT LAST answers it per recipient and ends the
 * transaction.
 */
START_TEST(test_bdat_begin_refused)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.refuse_begin = 2;
	feed(&f, OPEN RCPT2 "BDAT 4\r\nRSETBDAT 4\r\nNOOPDATA\r\n"
	    "BDAT 4 LAST\r\nQUIT"
	    "MAIL FROM:<s@example.org>\r\nRCPT TO:<d@example.org>\r\n"
	    "RCPT TO:<e@example.org>\r\nBDAT 2 LAST\r\nhi"
	    "MAIL FROM:<s@example.org>\r\nRCPT TO:<f@example.org>\r\n"
	    "BDAT 2 LAST\r\nok", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT2_REPLY
	    "451 4.3.0 spool unavailable\r\n"
	    "451 4.3.0 spool unavailable\r\n"
	    "503 5.5.1 DATA after BDAT, send RSET\r\n"
	    "451 4.3.0 spool unavailable\r\n"
	    "451 4.3.0 spool unavailable\r\n"
	    SENDER_OK RCPT_OK RCPT_OK
	    "451 4.3.0 spool unavailable\r\n"
	    "451 4.3.0 spool unavailable\r\n"
	    SENDER_OK RCPT_OK DELIVERED("f@example.org"));
	ck_assert_int_eq(f.n_begin, 3);
	ck_assert_int_eq(f.n_end, 1);
	ck_assert_int_eq(f.n_deliver, 5);
	ck_assert_uint_eq(f.entry[0], 451);
	ck_assert_uint_eq(f.entry[3], 451);
	ck_assert_uint_eq(f.entry[4], 0);
	ck_assert_str_eq(str(&f.body), "ok");
	fake_done(&f);
}
END_TEST

/* data_body fails: sticky, answered at that chunk and every later one. */
START_TEST(test_bdat_body_failure)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.body_fail = true;
	feed(&f, OPEN RCPT2 "BDAT 3\r\noneBDAT 3\r\ntwoBDAT 0 LAST\r\n"
	    "NOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT2_REPLY LOCAL_ERR
	    LOCAL_ERR LOCAL_ERR LOCAL_ERR OK);
	ck_assert_int_eq(f.n_body, 1);
	ck_assert_uint_eq(f.entry[0], 451);
	ck_assert_uint_eq(f.entry[1], 451);
	ck_assert(lmtp_idle(f.l));
	fake_done(&f);

	/* data_end refuses at BDAT LAST */
	fake_init(&f, &test_limits, &fake_hooks);
	f.end_code = 451;
	feed(&f, OPEN RCPT2 "BDAT 1 LAST\r\nx", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT2_REPLY
	    "451 4.3.0 commit failed\r\n451 4.3.0 commit failed\r\n");
	fake_done(&f);
}
END_TEST

/* What reaches data_body is in the spool before the feed returns. */
START_TEST(test_bdat_state)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\n", _i);
	ck_assert(!lmtp_in_data(f.l));
	feed(&f, "BDAT 10\r\nabc", _i);
	ck_assert(lmtp_in_data(f.l));
	ck_assert(!lmtp_idle(f.l));
	ck_assert_str_eq(str(&f.body), "abc");
	feed(&f, "defghij", _i);
	ck_assert(!lmtp_in_data(f.l));
	ck_assert(!lmtp_idle(f.l));
	feed(&f, "BDAT 3 LAST\r\nxy", _i);
	ck_assert(lmtp_in_data(f.l));
	feed(&f, "z", _i);
	ck_assert(!lmtp_in_data(f.l));
	ck_assert(lmtp_idle(f.l));
	ck_assert_str_eq(str(&f.body), "abcdefghijxyz");
	/* a chunk dropped outside a transaction is data too (timeouts) */
	feed(&f, "BDAT 2\r\nx", _i);
	ck_assert(lmtp_in_data(f.l));
	ck_assert(!lmtp_idle(f.l));
	feed(&f, "y", _i);
	ck_assert(lmtp_idle(f.l));
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK CHUNK_OK(10)
	    DELIVERED("a@example.org") "503 5.5.1 need MAIL before BDAT\r\n");
	fake_done(&f);
}
END_TEST

/* A size near 2^64: consumed until the session ends, without overflow. */
START_TEST(test_bdat_huge)
{
	struct fake	 f;
	char		*junk;
	int		 i;

	junk = xmalloc(65536);
	memset(junk, 'Q', 65536);
	for (i = 0; i < 65536; i += 64)
		memcpy(junk + i, "QUIT\r\n", 6);
	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\n"
	    "BDAT 18446744073709551615 LAST\r\n", _i);
	for (i = 0; i < 16; i++)
		feed_n(&f, junk, 65536, FEED_WHOLE);
	ck_assert(lmtp_in_data(f.l));
	ck_assert_uint_eq(f.body.len, 0);	/* over SIZE: nothing kept */
	lmtp_close(f.l, "4.4.2", "timeout, closing");
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK
	    "421 4.4.2 mx.test timeout, closing\r\n");
	ck_assert(!lmtp_in_data(f.l));
	ck_assert_int_eq(f.n_deliver, 0);
	fake_done(&f);

	/* no size limit: the octets are stored, the count saturates */
	fake_init(&f, &nolimit_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\n"
	    "BDAT 18446744073709551615\r\n", _i);
	feed_n(&f, junk, 65536, FEED_WHOLE);
	ck_assert_uint_eq(f.body.len, 65536 - 1024);	/* CRLF as LF */
	ck_assert(lmtp_in_data(f.l));
	fake_done(&f);
	x_free(junk);
}
END_TEST

/* RFC 2033 §5 for BDAT LAST too: flush between per-recipient replies. */
START_TEST(test_bdat_flush)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	f.drain_on_flush = true;
	feed(&f, OPEN RCPT2 "RCPT TO:<d@example.org>\r\nBDAT 2 LAST\r\nx", _i);
	ck_assert_int_eq(f.n_flush, 0);
	lmtp_feed(f.l, "y", 1);
	ck_assert_int_eq(f.n_flush, 2);
	ck_assert_str_eq(str(&f.flushed), DELIVERED("a@example.org") "|"
	    DELIVERED("c@example.org") "|");
	fake_done(&f);
}
END_TEST

/* RFC 2920 / 3030: BDAT is no synchronisation point. */
START_TEST(test_bdat_pipelined)
{
	struct fake		 f;
	static const char	 s[] =
	    "LHLO c\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "BDAT 4\r\none\nBDAT 0 LAST\r\nMAIL FROM:<>\r\n"
	    "RCPT TO:<c@example.org>\r\nBDAT 4 LAST\r\ntwo\nQUIT\r\nNOOP\r\n";

	fake_init(&f, &test_limits, &fake_hooks);
	lmtp_feed(f.l, s, sizeof(s) - 1);
	drain(&f, NULL);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_REPLY SENDER_OK RCPT_OK
	    RCPT_OK CHUNK_OK(4) DELIVERED("a@example.org")
	    DELIVERED("b@example.org") SENDER_OK RCPT_OK
	    DELIVERED("c@example.org") BYE);
	ck_assert_str_eq(str(&f.body), "one\ntwo\n");
	ck_assert(lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

/* SMTPUTF8 (RFC 6531). */

START_TEST(test_smtputf8)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, "LHLO c\r\nMAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> "
	    "SMTPUTF8\r\n", _i);
	ck_assert(f.mail.utf8);
	ck_assert_str_eq(f.from, "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
	feed(&f, "RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>\r\n"
	    "RCPT TO:<\"jos\xc3\xa9 x\"@example.org>\r\n"
	    "DATA\r\n\xe2\x98\x83\r\n.\r\n", _i);
	ck_assert_str_eq(str(&f.calls), "reset "
	    "mail<j\xc3\xb6rg@b\xc3\xbc" "cher.example> "
	    "rcpt<\xe7\x94\xa8\xe6\x88\xb7@example.org> "
	    "rcpt<\"jos\xc3\xa9 x\"@example.org> begin end "
	    "deliver0<\xe7\x94\xa8\xe6\x88\xb7@example.org>:0 "
	    "deliver1<\"jos\xc3\xa9 x\"@example.org>:0 reset ");
	ck_assert_str_eq(str(&f.body), "\xe2\x98\x83\n");
	/* Replies stay ASCII (RFC 6531 §3.7.4.2): the hook quoted UTF-8. */
	ck_assert_str_eq(str(&f.out), GREETING LHLO_REPLY SENDER_OK RCPT_OK
	    RCPT_OK GO_AHEAD DELIVERED("??????@example.org")
	    DELIVERED("\"jos?? x\"@example.org"));
	/* The next transaction is ASCII again unless it says SMTPUTF8. */
	feed(&f, "MAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<\xe7\x94\xa8@example.org>\r\nRSET\r\n"
	    "MAIL FROM:<s@example.org> SMTPUTF8\r\n"
	    "RCPT TO:<\xe7\x94\xa8@example.org>\r\n", _i);
	ck_assert(f.mail.utf8);
	ck_assert(strstr(str(&f.out), SENDER_OK
	    "553 5.6.7 non-ASCII address requires SMTPUTF8\r\n" OK SENDER_OK
	    RCPT_OK) != NULL);
	fake_done(&f);
}
END_TEST

/* A hook's reply text reaches the wire as one printable ASCII line. */
static void
odd_rcpt(void *ctx, const struct addr *a, struct lmtp_reply *r)
{
	(void)ctx;
	(void)a;
	set_reply(r, 550, "5.1.1", "tab\there \x01\x7f\x80\xc3\xa9 end");
}

START_TEST(test_reply_text_sanitised)
{
	struct lmtp_hooks	hooks = fake_hooks;
	struct fake		f;

	hooks.rcpt = odd_rcpt;
	fake_init(&f, &test_limits, &hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY
	    "550 5.1.1 tab\there ????? end\r\n");
	fake_done(&f);
}
END_TEST

/* The bad command limit. */

static const struct lmtp_limits strict_limits = {
	.hostname = "mx.test",
	.max_message_size = 10000,
	.max_recipients = 3,
	.max_bad_commands = 3,
};

#define TOO_MANY_ERRORS	"421 4.7.0 mx.test too many errors\r\n"

START_TEST(test_bad_commands_limit)
{
	struct fake	f;

	fake_init(&f, &strict_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\n"
	    "X1\r\nX2\r\nX3\r\nX4\r\nNOOP\r\nQUIT\r\n", _i);
	ck_assert_str_eq(str(&f.out), OPEN_REPLY RCPT_OK UNKNOWN UNKNOWN
	    UNKNOWN UNKNOWN TOO_MANY_ERRORS);
	ck_assert(lmtp_finished(f.l));
	ck_assert(lmtp_closed_for_errors(f.l));
	ck_assert(lmtp_idle(f.l));
	/* the open transaction was dropped, nothing delivered */
	ck_assert_int_eq(f.n_reset, 2);
	ck_assert_int_eq(f.n_deliver, 0);
	fake_done(&f);
}
END_TEST

/* Which replies count: each of these is one. */
START_TEST(test_bad_commands_kinds)
{
#define S(s)	{ s, sizeof(s) - 1 }
	static const struct {
		const char	*s;
		size_t		 n;
	} bad[] = {
		S("FOO\r\n"),				/* 500 */
		S("HELO x\r\n"),			/* 500 */
		S("QUIT\0\r\n"),			/* 500 NUL */
		S("NOOP\n"),				/* 500 bare LF */
		S("MAIL FROM:<a@>\r\n"),		/* 501 */
		S("RCPT TO:<>\r\n"),			/* 503, no MAIL */
		S("EXPN x\r\n"),			/* 502 */
		S("DATA\r\n"),				/* 503 */
		S("BDAT x\r\n"),			/* 501 */
		S("BDAT 2\r\nxy"),			/* 503 */
		S("VRFY\r\n"),				/* 501 */
		S("LHLO\r\n"),				/* 501 */
	};
#undef S
	struct fake	f;
	size_t		i, n = sizeof(bad) / sizeof(bad[0]);

	fake_init(&f, &strict_limits, &fake_hooks);
	feed(&f, "LHLO c\r\n", _i);
	for (i = 0; i < n; i++) {
		/* three in a row are allowed; a good command ends the run */
		feed_n(&f, bad[i].s, bad[i].n, _i);
		if (i % 3 == 2)
			feed(&f, "NOOP\r\n", _i);
	}
	ck_assert(!lmtp_finished(f.l));
	/* MAIL with a bad parameter (555), a too-long line (500) */
	feed(&f, "MAIL FROM:<a@example.org> X=1\r\n", _i);
	feed(&f, "MAIL FROM:<a@example.org> BODY=9BIT\r\n", _i);
	ck_assert(!lmtp_finished(f.l));
	{
		char	 longer[600];

		memset(longer, 'x', sizeof(longer));
		memcpy(longer + sizeof(longer) - 2, "\r\n", 2);
		feed_n(&f, longer, sizeof(longer), _i);
	}
	ck_assert(!lmtp_finished(f.l));
	feed(&f, "RSET x\r\n", _i);
	ck_assert(lmtp_finished(f.l));
	ck_assert(lmtp_closed_for_errors(f.l));
	fake_done(&f);
}
END_TEST

/*
 * A hook's refusal (550 no such user, Postfix sends many recipients)
 * neither counts nor ends the run; neither do 452, 552 or 554.
 */
START_TEST(test_bad_commands_neutral)
{
	struct fake	f;

	fake_init(&f, &strict_limits, &fake_hooks);
	feed(&f, OPEN "X1\r\nX2\r\nRCPT TO:<bad1@example.org>\r\n"
	    "RCPT TO:<bad2@example.org>\r\nRCPT TO:<bad3@example.org>\r\n"
	    "RCPT TO:<bad4@example.org>\r\nRCPT TO:<full@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\nX3\r\n", _i);
	ck_assert(!lmtp_finished(f.l));
	/* the 250 for a@ ended the run: three more are allowed */
	feed(&f, "X4\r\nX5\r\nRCPT TO:<bad5@example.org>\r\n", _i);
	ck_assert(!lmtp_finished(f.l));
	feed(&f, "X6\r\n", _i);
	ck_assert(lmtp_finished(f.l));
	ck_assert(strstr(str(&f.out), NO_USER UNKNOWN TOO_MANY_ERRORS) !=
	    NULL);
	fake_done(&f);

	/* Data lines are not commands; a message's 552 does not count. */
	fake_init(&f, &strict_limits, &fake_hooks);
	feed(&f, OPEN "RCPT TO:<a@example.org>\r\nX1\r\nX2\r\nDATA\r\n"
	    "X3\r\nX4\r\nX5\r\n.\r\nX6\r\nX7\r\n"
	    "MAIL FROM:<s@example.org> SIZE=10001\r\nX8\r\n", _i);
	ck_assert(!lmtp_finished(f.l));
	feed(&f, "X9\r\n", _i);
	ck_assert(lmtp_finished(f.l));
	fake_done(&f);
}
END_TEST

/* 0 means no limit. */
START_TEST(test_bad_commands_unlimited)
{
	struct fake	 f;
	struct buf	 b;
	int		 i;

	buf_init(&b, BIG);
	for (i = 0; i < 2000; i++)
		ck_assert_int_eq(buf_append(&b, "XYZZY\r\n", 7), 0);
	fake_init(&f, &test_limits, &fake_hooks);
	feed_n(&f, b.data, b.len, FEED_WHOLE);
	ck_assert(!lmtp_finished(f.l));
	ck_assert(!lmtp_closed_for_errors(f.l));
	fake_done(&f);
	buf_release(&b);
}
END_TEST

/* STARTTLS (RFC 3207). */

static const struct lmtp_limits tls_limits = {
	.hostname = "mx.test",
	.max_message_size = 10000,
	.max_recipients = 3,
	.tls = LMTP_TLS_OPTIONAL,
};

static const struct lmtp_limits tls_required_limits = {
	.hostname = "mx.test",
	.max_message_size = 10000,
	.max_recipients = 3,
	.tls = LMTP_TLS_REQUIRED,
};

#define LHLO_TLS_REPLY							\
	"250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"	\
	"250-8BITMIME\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n"		\
	"250-STARTTLS\r\n250 SIZE 10000\r\n"
#define TLS_GO		"220 2.0.0 ready to start TLS\r\n"
#define NEED_TLS	"530 5.7.0 must issue a STARTTLS command first\r\n"

/* Advertised only when the session offers it, and not once active. */
START_TEST(test_starttls_advertised)
{
	struct fake	f;

	fake_init(&f, &test_limits, &fake_hooks);
	feed(&f, "LHLO c\r\nSTARTTLS\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_REPLY
	    "502 5.5.1 STARTTLS not available\r\n");
	ck_assert(!lmtp_starttls_pending(f.l));
	fake_done(&f);

	fake_init(&f, &tls_limits, &fake_hooks);
	feed(&f, "LHLO c\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_TLS_REPLY);
	fake_done(&f);
}
END_TEST

/* §4: "501 Syntax error (no parameters allowed)"; sequence errors. */
START_TEST(test_starttls_refusals)
{
	struct fake	f;

	fake_init(&f, &tls_limits, &fake_hooks);
	feed(&f, "STARTTLS\r\nLHLO c\r\nSTARTTLS now\r\n"
	    "MAIL FROM:<s@example.org>\r\nSTARTTLS\r\nRSET\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING
	    "503 5.5.1 need LHLO first\r\n" LHLO_TLS_REPLY
	    "501 5.5.4 no parameters allowed\r\n" SENDER_OK
	    "503 5.5.1 STARTTLS inside a transaction\r\n" OK);
	ck_assert(!lmtp_starttls_pending(f.l));
	ck_assert(!lmtp_tls_active(f.l));
	fake_done(&f);
}
END_TEST

/*
 * CVE-2011-0411: what follows STARTTLS in the same feed (or any later
 * one, before the handshake) never runs.
 */
START_TEST(test_starttls_drops_pipelined)
{
	struct fake	f;

	fake_init(&f, &tls_limits, &fake_hooks);
	feed(&f, "LHLO c\r\nSTARTTLS\r\nMAIL FROM:<a@b.example>\r\n"
	    "RCPT TO:<a@example.org>\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_TLS_REPLY TLS_GO);
	ck_assert(lmtp_starttls_pending(f.l));
	feed(&f, "NOOP\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_TLS_REPLY TLS_GO);
	ck_assert_int_eq(f.n_mail, 0);
	ck_assert_int_eq(f.n_rcpt, 0);
	fake_done(&f);
}
END_TEST

/*
 * §4.2: after the handshake the engine is as after the greeting (no new
 * greeting); STARTTLS is neither advertised nor accepted again.
 */
START_TEST(test_starttls_resets)
{
	struct fake	f;

	fake_init(&f, &tls_limits, &fake_hooks);
	feed(&f, "LHLO before.test\r\nSTARTTLS\r\n", _i);
	ck_assert(lmtp_starttls_pending(f.l));
	lmtp_tls_started(f.l);
	ck_assert(!lmtp_starttls_pending(f.l));
	ck_assert(lmtp_tls_active(f.l));
	ck_assert_str_eq(lmtp_client_name(f.l), "");
	buf_reset(&f.out);
	feed(&f, "MAIL FROM:<s@example.org>\r\nLHLO after.test\r\n"
	    "STARTTLS\r\nMAIL FROM:<s@example.org>\r\n", _i);
	ck_assert_str_eq(str(&f.out), "503 5.5.1 need LHLO first\r\n"
	    LHLO_REPLY "503 5.5.1 TLS already active\r\n" SENDER_OK);
	ck_assert_str_eq(lmtp_client_name(f.l), "after.test");
	ck_assert_int_eq(f.n_mail, 1);
	fake_done(&f);
}
END_TEST

/* §4: with TLS required, 530 for MAIL, RCPT, DATA and BDAT before it. */
START_TEST(test_starttls_required)
{
	struct fake	f;

	fake_init(&f, &tls_required_limits, &fake_hooks);
	feed(&f, "LHLO c\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\nDATA\r\nBDAT 4 LAST\r\nRSET"
	    "NOOP\r\nSTARTTLS\r\n", _i);
	ck_assert_str_eq(str(&f.out), GREETING LHLO_TLS_REPLY NEED_TLS
	    NEED_TLS NEED_TLS NEED_TLS OK TLS_GO);
	ck_assert_int_eq(f.n_mail, 0);
	lmtp_tls_started(f.l);
	buf_reset(&f.out);
	feed(&f, "LHLO c\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<a@example.org>\r\n", _i);
	ck_assert_str_eq(str(&f.out), LHLO_REPLY SENDER_OK RCPT_OK);
	fake_done(&f);
}
END_TEST

Suite *
lmtp_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("lmtp");

	tc = tcase_create("session");
	tcase_add_loop_test(tc, test_greeting_lhlo, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_lhlo_size_zero, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_happy_path, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_mail_params_reach_hook, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_out_of_sequence_keeps_state, 0,
	    FEED_MODES);
	tcase_add_loop_test(tc, test_data_without_valid_rcpt, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_rset_and_lhlo_reset, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_state_queries, 0, FEED_MODES);
	tcase_add_test(tc, test_output_partial_take);
	tcase_add_loop_test(tc, test_command_hook_traces_lines, 0,
	    FEED_MODES);
	suite_add_tcase(s, tc);

	tc = tcase_create("syntax");
	tcase_add_loop_test(tc, test_reply_table, 0,
	    (int)(N_REPLY_TABLE * FEED_MODES));
	tcase_add_loop_test(tc, test_command_bad_bytes, 0, FEED_MODES);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_loop_test(tc, test_data_table, 0,
	    (int)(N_DATA_TABLE * FEED_MODES));
	tcase_add_loop_test(tc, test_after_dot_is_command, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_body_hook_failure, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_data_begin_refused, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_data_end_refused, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_deliver_silent, 0, FEED_MODES);
	tcase_add_test(tc, test_body_large_chunks);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_loop_test(tc, test_body_over_size, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_data_line_length, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_command_too_long, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_max_recipients, 0, FEED_MODES);
	suite_add_tcase(s, tc);

	tc = tcase_create("chunking");
	tcase_add_loop_test(tc, test_bdat_table, 0,
	    (int)(N_BDAT_TABLE * FEED_MODES));
	tcase_add_loop_test(tc, test_bdat_hooks, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bdat_refused_consumed, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bdat_begin_refused, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bdat_body_failure, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bdat_state, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bdat_huge, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bdat_flush, 0, FEED_MODES);
	tcase_add_test(tc, test_bdat_pipelined);
	suite_add_tcase(s, tc);

	tc = tcase_create("smtputf8");
	tcase_add_loop_test(tc, test_smtputf8, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_reply_text_sanitised, 0, FEED_MODES);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad commands");
	tcase_add_loop_test(tc, test_bad_commands_limit, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bad_commands_kinds, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_bad_commands_neutral, 0, FEED_MODES);
	tcase_add_test(tc, test_bad_commands_unlimited);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipelining");
	tcase_add_test(tc, test_pipelined_session);
	tcase_add_loop_test(tc, test_quit_stops_input, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_flush_between_replies, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_close, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_free_resets_open_txn, 0, FEED_MODES);
	suite_add_tcase(s, tc);

	tc = tcase_create("starttls");
	tcase_add_loop_test(tc, test_starttls_advertised, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_starttls_refusals, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_starttls_drops_pipelined, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_starttls_resets, 0, FEED_MODES);
	tcase_add_loop_test(tc, test_starttls_required, 0, FEED_MODES);
	suite_add_tcase(s, tc);

	return s;
}
