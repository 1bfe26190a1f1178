/* SPDX-License-Identifier: MIT */
/*
 * fuzz_lmtp: a libFuzzer target that feeds arbitrary bytes into the LMTP
 * engine, split at arbitrary points, with hooks that behave like a
 * session's (they accept some recipients, refuse others, fail the spool
 * now and then, take the output at odd moments, end the session).  Every
 * choice comes from a generator seeded by a hash of the input, so a case
 * replays exactly.  It aborts on anything that would be a bug: a reply
 * that is not one CRLF-terminated "ddd[ -]..." ASCII line, a partial line
 * left after a feed, deliver calls out of RCPT order or not one reply per
 * accepted recipient, body bytes over the size limit, hook calls in the
 * wrong state, memory that grows with the input.  Leaks are LSan's.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/allocator_interface.h>

#include "addr.h"
#include "lmtp.h"
#include "util.h"

#define FUZZ_MAX_RCPTS	4
#define FUZZ_LINE_MAX	512	/* RFC 5321 §4.5.3.1.5, CRLF included */
#define FUZZ_MEM_SLACK	(2 * 1024 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct model {
	struct lmtp	*l;
	uint64_t	 rng;
	uint64_t	 max_size;
	size_t		 max_rcpts;

	/* The transaction as the hooks saw it. */
	bool		 txn;
	bool		 data;		/* data_begin accepted */
	size_t		 n_rcpts;
	char		 rcpts[FUZZ_MAX_RCPTS][ADDR_PATH_MAX + 1];
	uint64_t	 body_bytes;

	/* The deliver loop in progress. */
	bool		 delivering;
	size_t		 next;
	unsigned long	 lines_at_deliver;

	bool		 closing;	/* a hook called lmtp_close */

	/* Reply lines taken so far, and the one being taken. */
	unsigned long	 lines;
	char		 line[FUZZ_LINE_MAX + 1];
	size_t		 line_len;
	bool		 multi;		/* inside a multi-line reply */
	char		 multi_code[3];
	char		 last[10];	/* start of the last line taken */
};

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_lmtp: invariant broken: %s\n", what);
	abort();
}

#define CHECK(cond)	do { if (!(cond)) fuzz_fail(#cond); } while (0)

/* xorshift64*: the choices, seeded from the input. */
static uint32_t
rnd(struct model *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return (uint32_t)((m->rng * 2685821657736338717ULL) >> 32);
}

/* True one time in n. */
static bool
one_in(struct model *m, uint32_t n)
{
	return rnd(m) % n == 0;
}

static void
set_reply(struct lmtp_reply *r, unsigned code, const char *esc,
    const char *text)
{
	r->code = code;
	(void)util_strlcpy(r->esc, esc, sizeof(r->esc));
	(void)util_strlcpy(r->text, text, sizeof(r->text));
}

/* A complete reply line, without CRLF (RFC 5321 §4.2). */
static void
check_line(struct model *m, const char *s, size_t n)
{
	size_t	i;

	CHECK(n >= 3);
	CHECK(s[0] >= '2' && s[0] <= '5');
	CHECK(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9');
	CHECK(n == 3 || s[3] == ' ' || s[3] == '-');
	for (i = 0; i < n; i++)
		CHECK(s[i] == '\t' || (s[i] >= 32 && s[i] <= 126));
	/* RFC 5321 §4.2.1: one code on every line of a multi-line reply */
	if (m->multi)
		CHECK(memcmp(m->multi_code, s, 3) == 0);
	m->multi = n > 3 && s[3] == '-';
	memcpy(m->multi_code, s, 3);
	memset(m->last, 0, sizeof(m->last));
	memcpy(m->last, s, n < sizeof(m->last) - 1 ? n : sizeof(m->last) - 1);
	if (!m->multi)
		m->lines++;
}

/* Takes k bytes of output and checks every line they complete. */
static void
take(struct model *m, size_t k)
{
	const char	*p;
	size_t		 len, i;

	p = lmtp_output(m->l, &len);
	CHECK(k <= len);
	for (i = 0; i < k; i++) {
		CHECK(m->line_len < sizeof(m->line));
		m->line[m->line_len++] = p[i];
		if (p[i] != '\n')
			continue;
		CHECK(m->line_len >= 2 && m->line[m->line_len - 2] == '\r');
		check_line(m, m->line, m->line_len - 2);
		m->line_len = 0;
	}
	lmtp_output_done(m->l, k);
}

/* Takes everything, or a random part of it. */
static void
drain(struct model *m, bool all)
{
	size_t	len;

	lmtp_output(m->l, &len);
	if (len == 0)
		return;
	take(m, all ? len : rnd(m) % (len + 1));
}

/* Complete replies so far: taken, and whole lines still queued. */
static unsigned long
replies_so_far(struct model *m)
{
	const char	*p;
	size_t		 len, i, pos = m->line_len;
	unsigned long	 n = m->lines;
	char		 sep = pos > 3 ? m->line[3] : '\0';

	p = lmtp_output(m->l, &len);
	for (i = 0; i < len; i++, pos++) {
		if (pos == 3)
			sep = p[i];
		if (p[i] != '\n')
			continue;
		if (sep != '-')
			n++;
		pos = (size_t)-1;
		sep = '\0';
	}
	return n;
}

static void
hook_mail(void *ctx, const struct lmtp_mail *mail, struct lmtp_reply *r)
{
	struct model	*m = ctx;

	CHECK(!m->txn && !m->data && m->n_rcpts == 0);
	CHECK(mail->from != NULL);
	CHECK(!mail->from->has_utf8 || mail->utf8);
	if (strncmp(mail->from->local, "bad", 3) == 0 || one_in(m, 16))
		set_reply(r, 550, "5.7.1", "sender refused");
	else
		m->txn = true;
}

static void
hook_rcpt(void *ctx, const struct addr *a, struct lmtp_reply *r)
{
	struct model	*m = ctx;

	CHECK(m->txn && !m->data);
	CHECK(lmtp_n_accepted(m->l) == m->n_rcpts);
	CHECK(m->n_rcpts < m->max_rcpts);
	CHECK(!a->is_null);
	if (strncmp(a->local, "bad", 3) == 0 || one_in(m, 8)) {
		set_reply(r, 550, "5.1.1", "no such user");
		return;
	}
	switch (rnd(m) % 16) {
	case 0:
		set_reply(r, 452, "4.2.2", "mailbox full");
		return;
	case 1:
		/* A hook's text must not reach the wire as it is. */
		set_reply(r, 550, "5.1.1", "x\r\n250 2.1.5 ok");
		return;
	case 2:
		set_reply(r, 250, "2.1.5", "<j\xc3\xb8rn\x01\x7f\x80>");
		break;
	default:
		break;
	}
	(void)util_strlcpy(m->rcpts[m->n_rcpts], a->text,
	    sizeof(m->rcpts[0]));
	m->n_rcpts++;
}

static void
hook_data_begin(void *ctx, struct lmtp_reply *r)
{
	struct model	*m = ctx;

	CHECK(m->txn && !m->data && m->n_rcpts > 0);
	CHECK(m->n_rcpts == lmtp_n_accepted(m->l));
	if (one_in(m, 8)) {
		set_reply(r, 451, "4.3.0", "spool unavailable");
		return;
	}
	m->data = true;
	m->body_bytes = 0;
}

static int
hook_data_body(void *ctx, const char *p, size_t n, struct lmtp_reply *fail)
{
	struct model	*m = ctx;

	(void)p;
	CHECK(m->data && !m->delivering);
	CHECK(n > 0 && n <= 64 * 1024);
	m->body_bytes += n;
	/* RFC 1870: nothing over the limit is ever handed on. */
	CHECK(m->max_size == 0 || m->body_bytes <= m->max_size);
	CHECK(fail->code == 451);
	if (one_in(m, 4))
		fail->code = 452;
	return one_in(m, 64) ? -1 : 0;
}

static void
hook_data_end(void *ctx, struct lmtp_reply *r)
{
	struct model	*m = ctx;

	CHECK(m->data && !m->delivering);
	CHECK(r->code == 0);
	if (one_in(m, 16))
		set_reply(r, 451, "4.3.0", "commit failed");
}

static void
hook_deliver(void *ctx, size_t idx, const struct addr *a,
    struct lmtp_reply *r)
{
	struct model	*m = ctx;
	unsigned long	 now = replies_so_far(m);

	CHECK(m->txn && !m->closing);
	if (idx == 0) {
		CHECK(!m->delivering);
		m->delivering = true;
		m->next = 0;
	} else
		/* exactly one reply for the previous recipient */
		CHECK(now == m->lines_at_deliver + 1);
	m->lines_at_deliver = now;
	CHECK(idx == m->next);
	CHECK(idx < m->n_rcpts);
	CHECK(lmtp_n_accepted(m->l) == m->n_rcpts);
	CHECK(strcmp(a->text, m->rcpts[idx]) == 0);
	m->next++;
	if (r->code != 0)
		return;
	CHECK(m->data);
	switch (rnd(m) % 32) {
	case 0:
		set_reply(r, 452, "4.2.2", "mailbox full");
		break;
	case 1:
		break;		/* code 0: the engine answers 451 */
	case 2:
		m->closing = true;
		lmtp_close(m->l, "4.3.2", "shutting down");
		break;
	default:
		set_reply(r, 250, "2.0.0", "delivered");
		break;
	}
}

static void
hook_flush(void *ctx)
{
	struct model	*m = ctx;

	CHECK(m->delivering);
	if (!one_in(m, 4))
		drain(m, !one_in(m, 2));
}

static void
hook_reset(void *ctx)
{
	struct model	*m = ctx;

	if (m->delivering && !m->closing) {
		/* one reply per accepted recipient, no more, no fewer */
		CHECK(m->next == m->n_rcpts);
		CHECK(replies_so_far(m) == m->lines_at_deliver + 1);
	}
	m->txn = false;
	m->data = false;
	m->delivering = false;
	m->n_rcpts = 0;
	m->body_bytes = 0;
}

static void
hook_command(void *ctx, const char *line)
{
	(void)ctx;
	CHECK(strlen(line) < LMTP_COMMAND_MAX - 1);
	CHECK(strchr(line, '\r') == NULL && strchr(line, '\n') == NULL);
}

static const struct lmtp_hooks fuzz_hooks = {
	.mail = hook_mail,
	.rcpt = hook_rcpt,
	.data_begin = hook_data_begin,
	.data_body = hook_data_body,
	.data_end = hook_data_end,
	.deliver = hook_deliver,
	.flush = hook_flush,
	.reset = hook_reset,
	.command = hook_command,
};

/* FNV-1a over the input: the generator's seed. */
static uint64_t
seed_of(const uint8_t *p, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;
	size_t		i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h == 0 ? 1 : h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t	sizes[] = { 0, 64, 1000, 10000 };
	struct lmtp_limits	lim;
	struct model		m;
	size_t			k, mem0;
	const char		*p = (const char *)data;

	memset(&m, 0, sizeof(m));
	m.rng = seed_of(data, size);
	m.max_size = sizes[rnd(&m) % 4];
	m.max_rcpts = 1 + rnd(&m) % FUZZ_MAX_RCPTS;
	lim.hostname = "mx.fuzz";
	lim.max_message_size = m.max_size;
	lim.max_recipients = m.max_rcpts;
	lim.max_bad_commands = rnd(&m) % 2 == 0 ? 0 : 1 + rnd(&m) % 8;
	/* STARTTLS stops the engine's input; the model does not follow it. */
	lim.tls = LMTP_TLS_OFF;
	m.l = lmtp_new(&lim, &fuzz_hooks, &m);
	drain(&m, true);
	mem0 = __sanitizer_get_current_allocated_bytes();

	while (size > 0) {
		switch (rnd(&m) % 4) {
		case 0:
			k = 1;
			break;
		case 1:
			k = 1 + rnd(&m) % 16;
			break;
		case 2:
			k = 1 + rnd(&m) % 4096;
			break;
		default:
			k = size;
			break;
		}
		if (k > size)
			k = size;
		lmtp_feed(m.l, p, k);
		p += k;
		size -= k;
		/* What a feed produces is whole lines, whenever it is taken. */
		if (one_in(&m, 3))
			drain(&m, false);
		drain(&m, true);
		CHECK(m.line_len == 0 && !m.multi);
		CHECK(!m.delivering);
		CHECK(lmtp_idle(m.l) == !m.txn || lmtp_in_data(m.l));
		CHECK(lmtp_n_accepted(m.l) == m.n_rcpts);
		CHECK(__sanitizer_get_current_allocated_bytes() <=
		    mem0 + FUZZ_MEM_SLACK);
		CHECK(strlen(lmtp_client_name(m.l)) < LMTP_COMMAND_MAX);
		if (lmtp_closed_for_errors(m.l))
			CHECK(lmtp_finished(m.l) &&
			    strcmp(m.last, "421 4.7.0") == 0);
		if (lmtp_finished(m.l)) {
			/* Nothing more is answered once finished. */
			lmtp_feed(m.l, "NOOP\r\n", 6);
			CHECK(lmtp_output(m.l, &k) != NULL && k == 0);
			break;
		}
		if (one_in(&m, 256)) {
			lmtp_close(m.l, "4.4.2", "timeout, closing");
			drain(&m, true);
			CHECK(m.line_len == 0);
			CHECK(lmtp_finished(m.l) && lmtp_idle(m.l));
			CHECK(!m.txn);
			break;
		}
	}
	lmtp_free(m.l);
	CHECK(!m.txn);
	return 0;
}
