/* SPDX-License-Identifier: MIT */
/*
 * lda: local delivery from standard input.  The message is read in
 * blocks, CRLF turned into LF, and spooled by delivery.c exactly as the
 * LMTP data is.  What a local MTA put above the message for this hop is
 * dropped: an mbox "From " line, and the Return-Path: and Delivered-To:
 * fields among the leading ones that such an agent writes (Postfix's
 * local(8) adds them, with X-Original-To:; we write our own, and its
 * Delivered-To would look like a mail loop).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "delivery.h"
#include "identity.h"
#include "lda.h"
#include "log.h"
#include "util.h"

#define LDA_READ_SIZE	(64 * 1024)
#define LDA_LINE_MAX	1000	/* of the leading lines that may be dropped */

/* The filter between stdin and the spool. */
struct lda_input {
	struct delivery	*d;
	bool		 cr;		/* a CR is held back */
	bool		 leading;	/* still at the caller's own lines */
	bool		 first;		/* no line seen yet */
	bool		 dropping;	/* continuation lines of a dropped field */
	char		 line[LDA_LINE_MAX];
	size_t		 len;
	uint64_t	 total;
};

static int	lda_put(struct lda_input *, const char *, size_t);

static bool
has_prefix(const char *s, size_t len, const char *p)
{
	size_t	n = strlen(p);
	size_t	i;

	if (len < n)
		return false;
	for (i = 0; i < n; i++)
		if ((s[i] | 0x20) != (p[i] | 0x20) && s[i] != p[i])
			return false;
	return true;
}

/*
 * One complete leading line (with its LF): keep it or drop it.  The
 * caller's lines are, in Postfix local(8)'s order, "From ", Return-Path:,
 * X-Original-To: (kept: it says what was asked for) and Delivered-To:.
 */
static int
lda_leading_line(struct lda_input *in, const char *p, size_t n)
{
	bool	first = in->first;

	in->first = false;
	if (first && n >= 5 && memcmp(p, "From ", 5) == 0)
		return 0;
	if (!first && (p[0] == ' ' || p[0] == '\t'))
		return in->dropping ? 0 : delivery_data_body(in->d, p, n);
	in->dropping = has_prefix(p, n, "return-path:") ||
	    has_prefix(p, n, "delivered-to:");
	if (in->dropping)
		return 0;
	if (!has_prefix(p, n, "x-original-to:"))
		in->leading = false;
	return delivery_data_body(in->d, p, n);
}

/* LF-ended bytes: through the leading-line filter, then straight on. */
static int
lda_put(struct lda_input *in, const char *p, size_t n)
{
	const char	*lf;
	size_t		 k;

	in->total += n;
	while (n > 0 && in->leading) {
		lf = memchr(p, '\n', n);
		k = lf != NULL ? (size_t)(lf - p) + 1 : n;
		if (in->len + k > sizeof(in->line)) {
			/* Too long to be one of ours: stop looking. */
			in->leading = false;
			if (delivery_data_body(in->d, in->line, in->len) == -1)
				return -1;
			in->len = 0;
			break;
		}
		memcpy(in->line + in->len, p, k);
		in->len += k;
		p += k;
		n -= k;
		if (lf == NULL)
			return 0;
		k = in->len;
		in->len = 0;
		if (lda_leading_line(in, in->line, k) == -1)
			return -1;
	}
	return n > 0 ? delivery_data_body(in->d, p, n) : 0;
}

/* CRLF to LF across block boundaries. */
static int
lda_feed(struct lda_input *in, const char *p, size_t n)
{
	const char	*start = p, *end = p + n;

	if (in->cr && n > 0 && *p != '\n' && lda_put(in, "\r", 1) == -1)
		return -1;
	in->cr = false;
	for (; p < end; p++) {
		if (*p != '\r')
			continue;
		if (p + 1 == end) {
			if (lda_put(in, start, (size_t)(p - start)) == -1)
				return -1;
			in->cr = true;
			return 0;
		}
		if (p[1] == '\n') {
			if (lda_put(in, start, (size_t)(p - start)) == -1)
				return -1;
			start = p + 1;
		}
	}
	return lda_put(in, start, (size_t)(end - start));
}

static int
lda_finish(struct lda_input *in)
{
	if (in->cr && lda_put(in, "\r", 1) == -1)
		return -1;
	if (in->len > 0 && delivery_data_body(in->d, in->line, in->len) == -1)
		return -1;
	in->len = 0;
	return 0;
}

static void
lda_usage(void)
{
	fprintf(stderr, "usage: lmtpd deliver [-c file] [-f sender] "
	    "recipient...\n");
}

/* The exit code for the worst outcome so far (sysexits(3)). */
static int
lda_worse(int ex, const struct lmtp_reply *r)
{
	if (r->code < 400)
		return ex;
	if (r->code < 500)
		return EX_TEMPFAIL;
	if (ex == EX_TEMPFAIL)
		return ex;
	if (strncmp(r->esc, "5.1.", 4) == 0 && ex != EX_UNAVAILABLE)
		return EX_NOUSER;
	return EX_UNAVAILABLE;
}

static void
lda_say(const char *who, const struct lmtp_reply *r, const char *why)
{
	if (r->code < 400)
		return;
	fprintf(stderr, "lmtpd: %s: %u %s %s%s%s%s\n", who, r->code, r->esc,
	    r->text, why[0] != '\0' ? " (" : "", why,
	    why[0] != '\0' ? ")" : "");
}

int
lda_main(int argc, char *argv[], const char *conf_default)
{
	const char		*conf_path = conf_default, *sender = "";
	struct conf		*conf;
	struct delivery		*d;
	struct delivery_origin	 o = { .helo = "localhost", .peer = "local" };
	struct lmtp_reply	 r, data_r;
	struct lda_input	 in;
	struct addr		 from, *to;
	char			 err[1024], why[PATH_MAX + 256];
	char			*buf;
	const char		*what;
	const struct recipient	*rc;
	ssize_t			 n;
	long long		 size;
	size_t			 i, n_to, accepted;
	int			 ch, ex = 0;
	bool			*ok;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:f:")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			sender = optarg;
			break;
		default:
			lda_usage();
			return EX_USAGE;
		}
	}
	if (optind == argc) {
		lda_usage();
		return EX_USAGE;
	}
	if (sender[0] != '\0' && addr_parse_mailbox(sender, ADDR_ALLOW_UTF8,
	    &from) != ADDR_OK) {
		fprintf(stderr, "lmtpd: '%s' is not a sender address\n",
		    sender);
		return EX_USAGE;
	}
	conf = conf_load(conf_path != NULL && access(conf_path, F_OK) == 0 ?
	    conf_path : NULL, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "lmtpd: %s\n", err);
		return EX_TEMPFAIL;
	}
	log_init("lmtpd", strcmp(conf->log_target, "stderr") == 0,
	    conf->log_facility);
	log_set_format(conf->log_json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
	/* As root (fetchmail, procmail): the daemon's identity rules. */
	if (identity_drop(conf->user, conf->group, conf_needs_switch(conf),
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "lmtpd: %s\n", err);
		conf_free(conf);
		return EX_TEMPFAIL;
	}

	n_to = (size_t)(argc - optind);
	to = xreallocarray(NULL, n_to, sizeof(*to));
	ok = xcalloc(n_to, sizeof(*ok));
	d = delivery_new(conf);
	memset(&r, 0, sizeof(r));
	r.code = 250;
	delivery_mail(d, sender, false, 0, &r, why, sizeof(why));
	if (r.code >= 400) {
		lda_say("MAIL", &r, why);
		ex = lda_worse(ex, &r);
		goto out;
	}
	for (i = 0, accepted = 0; i < n_to; i++) {
		if (addr_parse_mailbox(argv[optind + i], ADDR_ALLOW_UTF8,
		    &to[i]) != ADDR_OK) {
			fprintf(stderr, "lmtpd: '%s' is not an address\n",
			    argv[optind + i]);
			ex = ex == 0 ? EX_USAGE : ex;
			continue;
		}
		memset(&r, 0, sizeof(r));
		delivery_rcpt(d, &to[i], &r, why, sizeof(why));
		lda_say(argv[optind + i], &r, why);
		ex = lda_worse(ex, &r);
		ok[i] = r.code < 300;
		accepted += ok[i];
	}
	if (accepted == 0)
		goto out;

	if (delivery_data_begin(d, &o) == -1) {
		fprintf(stderr, "lmtpd: spool in %s: %s\n", conf->spool_dir,
		    strerror(errno));
		ex = EX_TEMPFAIL;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.d = d;
	in.leading = in.first = true;
	buf = xmalloc(LDA_READ_SIZE);
	what = NULL;
	for (;;) {
		n = read(STDIN_FILENO, buf, LDA_READ_SIZE);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			what = "reading the message";
		if (n <= 0)
			break;
		if (lda_feed(&in, buf, (size_t)n) == -1) {
			what = "writing the spool";
			break;
		}
		if (conf->max_message_size > 0 && in.total >
		    conf->max_message_size)
			break;
	}
	x_free(buf);
	if (what == NULL && n == 0 && lda_finish(&in) == -1)
		what = "writing the spool";
	if (what != NULL) {
		fprintf(stderr, "lmtpd: %s: %s\n", what, strerror(errno));
		ex = EX_TEMPFAIL;
		goto out;
	}
	if (n > 0) {
		/* RFC 3463 X.3.4: message too big for system. */
		fprintf(stderr, "lmtpd: message over max_message_size (%llu "
		    "octets)\n", (unsigned long long)conf->max_message_size);
		ex = EX_UNAVAILABLE;
		goto out;
	}
	memset(&data_r, 0, sizeof(data_r));
	delivery_data_end(d, &data_r, why, sizeof(why));
	for (i = 0, accepted = 0; i < n_to; i++) {
		if (!ok[i])
			continue;
		rc = delivery_recipient(d, accepted);
		r = data_r;
		size = (long long)delivery_spool_len(d);
		if (r.code == 0)
			delivery_deliver(d, accepted, &o, &r, why, sizeof(why),
			    &size);
		else
			(void)util_strlcpy(why, r.text, sizeof(why));
		delivery_log(d, rc, to[i].text, 0.0, size, &r, why);
		lda_say(argv[optind + i], &r, r.code >= 400 ? why : "");
		ex = lda_worse(ex, &r);
		accepted++;
	}
out:
	delivery_free(d);
	x_free(ok);
	x_free(to);
	conf_free(conf);
	return ex;
}
