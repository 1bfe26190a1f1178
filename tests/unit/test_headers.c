/* SPDX-License-Identifier: MIT */
/*
 * headers: every message is fed whole, one byte at a time and in seeded
 * random chunks, and each way must give the same Received: count, the
 * same end-of-header verdict and the same Delivered-To: matches.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "suites.h"

enum feed_mode { FEED_WHOLE, FEED_BYTEWISE, FEED_RANDOM, FEED_MODES };

#define RANDOM_SEEDS	8	/* random splits tried per message */
#define MAX_ADDRS	6

struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void	text_add(struct text *, const char *, size_t);
static void	text_str(struct text *, const char *);
static void	text_fill(struct text *, char, size_t);
static void	text_printf(struct text *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
text_add(struct text *t, const char *p, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	memcpy(t->p + t->len, p, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

static void
text_fill(struct text *t, char c, size_t n)
{
	while (n-- > 0)
		text_add(t, &c, 1);
}

static void
text_printf(struct text *t, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	ck_assert_int_lt(n, (int)sizeof(buf));
	text_add(t, buf, (size_t)n);
}

/* xorshift32: the same splits on every run and every libc. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
feed(struct headers *h, const char *p, size_t len, enum feed_mode mode,
    uint32_t seed)
{
	size_t		off, n;
	uint32_t	s = seed * 2654435761u + 1;

	headers_init(h);
	switch (mode) {
	case FEED_WHOLE:
		headers_feed(h, p, len);
		break;
	case FEED_BYTEWISE:
		for (off = 0; off < len; off++)
			headers_feed(h, p + off, 1);
		break;
	case FEED_RANDOM:
		for (off = 0; off < len; off += n) {
			/* Mostly short chunks, sometimes empty or long ones. */
			n = next_rand(&s) % 8 == 0 ? next_rand(&s) % 3000 :
			    next_rand(&s) % 17;
			if (n > len - off)
				n = len - off;
			headers_feed(h, p + off, n);
		}
		break;
	case FEED_MODES:
		ck_abort();
	}
}

struct want {
	unsigned	 received;
	bool		 done;
	bool		 dropped;
	const char	*match[MAX_ADDRS];	/* NULL ends */
	const char	*nomatch[MAX_ADDRS];
};

/* Feeds msg every way and checks each result against w. */
static void
check_all_ways(const char *name, const char *msg, size_t len,
    const struct want *w)
{
	struct headers	*h;
	enum feed_mode	 mode;
	uint32_t	 seed;
	size_t		 i;

	/* Heap, not stack: the struct is some 10 KB. */
	h = malloc(sizeof(*h));
	ck_assert_ptr_nonnull(h);
	for (mode = FEED_WHOLE; mode < FEED_MODES; mode++) {
		for (seed = 0; seed < (mode == FEED_RANDOM ? RANDOM_SEEDS :
		    1u); seed++) {
			feed(h, msg, len, mode, seed);
			ck_assert_msg(headers_received(h) == w->received,
			    "%s mode %d seed %u: %u Received, want %u", name,
			    (int)mode, seed, headers_received(h),
			    w->received);
			ck_assert_msg(headers_done(h) == w->done,
			    "%s mode %d seed %u: done %d", name, (int)mode,
			    seed, (int)headers_done(h));
			ck_assert_msg(headers_dt_dropped(h) == w->dropped,
			    "%s mode %d seed %u: dropped %d", name,
			    (int)mode, seed, (int)headers_dt_dropped(h));
			for (i = 0; i < MAX_ADDRS && w->match[i] != NULL; i++)
				ck_assert_msg(headers_delivered_to(h,
				    w->match[i]), "%s mode %d seed %u: no "
				    "match for %.40s", name, (int)mode, seed,
				    w->match[i]);
			for (i = 0; i < MAX_ADDRS && w->nomatch[i] != NULL;
			    i++)
				ck_assert_msg(!headers_delivered_to(h,
				    w->nomatch[i]), "%s mode %d seed %u: "
				    "match for %.40s", name, (int)mode, seed,
				    w->nomatch[i]);
		}
	}
	free(h);
}

#define A	"user+detail@example.org"

static const struct {
	const char	*name;
	const char	*msg;
	struct want	 want;
} cases[] = {
	{ "body not scanned",
	    "Received: a\nReceived: b\nSubject: s\n\n"
	    "Received: body\nDelivered-To: " A "\n",
	    { 2, true, false, { NULL }, { A, NULL } } },
	{ "names in any case, obsolete WSP",
	    "received: a\nRECEIVED : b\nReceived\t:c\nReCeIvEd:\n\n",
	    { 4, true, false, { NULL }, { NULL } } },
	{ "other names",
	    "Received-SPF: pass\nX-Received: x\nReceivedx: y\n"
	    "Receive: z\nX-Delivered-To: " A "\nDelivered-To-X: " A "\n"
	    "Received x: y\n\n",
	    { 0, true, false, { NULL }, { A, NULL } } },
	{ "continuation lines are not fields",
	    "Subject: a\n Received: b\n\tReceived: c\n\n",
	    { 0, true, false, { NULL }, { NULL } } },
	{ "mbox From line first",
	    "From sender@example.org Mon Jan  1 00:00:00 2029\n"
	    "Received: a\n\n",
	    { 1, true, false, { NULL }, { NULL } } },
	{ "junk line and its continuation skipped",
	    "Received: a\nnot a field\n Received: b\n: no name\n"
	    "Received: c\n\n",
	    { 2, true, false, { NULL }, { NULL } } },
	{ "Delivered-To with brackets, any case",
	    "Delivered-To: <User+Detail@Example.ORG>\n\n",
	    { 0, true, false, { A, "USER+DETAIL@EXAMPLE.ORG", NULL },
	    { "user+detail@example.or", "user+detail@example.org.evil",
	    "user@example.org", "<" A ">", "ser+detail@example.org",
	    NULL } } },
	{ "Delivered-To bare, WSP around",
	    "DELIVERED-TO:   User+Detail@EXAMPLE.org \t \n\n",
	    { 0, true, false, { A, NULL },
	    { "user+detai", "user+detail@example.org ", "", NULL } } },
	{ "Delivered-To WSP inside brackets",
	    "Delivered-To: < " A "\t>\n\n",
	    { 0, true, false, { A, NULL }, { NULL } } },
	{ "Delivered-To folded",
	    "Delivered-To:\n <" A ">\nReceived: a\n\n",
	    { 1, true, false, { A, NULL }, { NULL } } },
	{ "Delivered-To folded, CRLF, blank continuation",
	    "Delivered-To: \r\n\t" A "\r\n \r\n\r\n",
	    { 0, true, false, { A, NULL }, { NULL } } },
	{ "Delivered-To folded mid-value is not the address",
	    "Delivered-To: user+detail@\n example.org\n\n",
	    { 0, true, false, { NULL }, { A, NULL } } },
	{ "Delivered-To obsolete WSP",
	    "Delivered-To :<" A ">\n\n",
	    { 0, true, false, { A, NULL }, { NULL } } },
	{ "a continuation belongs to its own field",
	    "Delivered-To: " A "\nSubject: x\n y\n\n",
	    { 0, true, false, { A, NULL }, { NULL } } },
	{ "a Received continuing a Delivered-To",
	    "Delivered-To: " A "\n Received: x\n\n",
	    { 0, true, false, { NULL }, { A, NULL } } },
	{ "several values",
	    "Delivered-To: a@example.org\nDelivered-To: <b@example.org>\n"
	    "Delivered-To:\nDelivered-To: <>\n\n",
	    { 0, true, false, { "a@example.org", "b@example.org", NULL },
	    { "", "<>", "c@example.org", NULL } } },
	{ "CRLF",
	    "Received: a\r\nDelivered-To: <" A ">\r\nReceived: b\r\n\r\n"
	    "Received: c\r\nDelivered-To: body@example.org\r\n",
	    { 2, true, false, { A, NULL }, { "body@example.org", NULL } } },
	{ "lone CR is an octet of the value",
	    "Delivered-To: " A "\rx\n\n",
	    { 0, true, false, { NULL }, { A, NULL } } },
	{ "header only, no empty line",
	    "Received: a\nDelivered-To: " A "\n",
	    { 1, false, false, { A, NULL }, { NULL } } },
	{ "header only, no final LF",
	    "Received: a\nDelivered-To: " A,
	    { 1, false, false, { A, NULL }, { NULL } } },
	{ "header only, a CR last",
	    "Received: a\r\nDelivered-To: " A "\r",
	    { 1, false, false, { A, NULL }, { NULL } } },
	{ "header only, empty line, no body",
	    "Received: a\nDelivered-To: " A "\n\n",
	    { 1, true, false, { A, NULL }, { NULL } } },
	{ "empty line first",
	    "\nReceived: a\nDelivered-To: " A "\n",
	    { 0, true, false, { NULL }, { A, NULL } } },
	{ "CRLF empty line first",
	    "\r\nReceived: a\r\n",
	    { 0, true, false, { NULL }, { NULL } } },
	{ "empty input",
	    "",
	    { 0, false, false, { NULL }, { A, NULL } } },
};

START_TEST(test_case)
{
	check_all_ways(cases[_i].name, cases[_i].msg, strlen(cases[_i].msg),
	    &cases[_i].want);
}
END_TEST

static void
received_lines(struct text *t, unsigned n)
{
	unsigned	i;

	for (i = 0; i < n; i++)
		text_printf(t, "Received: from hop%u.example.net by "
		    "mx.example.org with LMTP;\n\tMon, 1 Jan 2029 00:00:%02u "
		    "+0000\n", i, i % 60);
}

/* RFC 5321 §6.3: more than 100 Received: is a loop; 100 is not yet. */
START_TEST(test_received_100_101)
{
	struct text	t = { 0 };
	struct want	w = { 0 };
	unsigned	n = _i == 0 ? 100 : 101;

	received_lines(&t, n);
	text_str(&t, "Subject: loop\n\n");
	received_lines(&t, 5);
	w.received = n;
	w.done = true;
	check_all_ways(n == 100 ? "100" : "101", t.p, t.len, &w);
	free(t.p);
}
END_TEST

/* 10 KB lines of every kind: values, a name, a fold, the body. */
START_TEST(test_long_lines)
{
	struct text	t = { 0 };
	struct want	w = { 0 };
	int		i;

	text_str(&t, "Received: ");
	text_fill(&t, 'x', 10240);
	text_str(&t, "\nX-");
	text_fill(&t, 'n', 10240);
	text_str(&t, ": v\nDelivered-To: " A);
	text_fill(&t, 'x', 10240);
	text_str(&t, "\nSubject: s");
	for (i = 0; i < 10; i++) {
		text_str(&t, "\n ");
		text_fill(&t, 's', 1024);
	}
	text_str(&t, "\nDelivered-To: <" A ">\nReceived: y\n\n");
	text_fill(&t, 'b', 10240);
	text_str(&t, "\nReceived: body\n");
	w.received = 2;
	w.done = true;
	w.match[0] = A;
	check_all_ways("long lines", t.p, t.len, &w);
	free(t.p);
}
END_TEST

/*
 * The value limit: HEADERS_VALUE_MAX octets match, with brackets and
 * trailing WSP too; one more never does.
 */
START_TEST(test_value_limit)
{
	struct text	t = { 0 }, fit = { 0 }, over = { 0 };
	struct want	w = { 0 };

	/* 64 + 1 + 255: RFC 5321 §4.5.3.1's longest mailbox. */
	text_fill(&fit, 'l', 64);
	text_str(&fit, "@");
	text_fill(&fit, 'd', HEADERS_VALUE_MAX - 65);
	ck_assert_uint_eq(fit.len, HEADERS_VALUE_MAX);
	text_str(&over, "m");
	text_str(&over, fit.p);

	text_printf(&t, "Delivered-To: %s\n", over.p);
	text_printf(&t, "Delivered-To: %s\n", fit.p);
	w.done = false;
	w.match[0] = fit.p;
	w.nomatch[0] = over.p;
	check_all_ways("exact fit", t.p, t.len, &w);

	t.len = 0;
	text_printf(&t, "Delivered-To:  <%s>", fit.p);
	text_fill(&t, ' ', 2000);
	text_str(&t, "\n\n");
	w.done = true;
	check_all_ways("brackets and trailing WSP", t.p, t.len, &w);

	t.len = 0;
	text_printf(&t, "Delivered-To: <%s>", over.p);
	text_fill(&t, ' ', 2000);
	text_str(&t, "\n\n");
	w.match[0] = NULL;
	w.nomatch[1] = fit.p;
	check_all_ways("one over", t.p, t.len, &w);

	t.len = 0;
	text_printf(&t, "Delivered-To: <%s>   x\n\n", fit.p);
	check_all_ways("WSP past the slot, then more", t.p, t.len, &w);

	/* Its first HEADERS_SLOT octets would match: still open at the end. */
	t.len = 0;
	text_printf(&t, "Delivered-To: <%s>x", fit.p);
	w.done = false;
	check_all_ways("open and too long", t.p, t.len, &w);
	free(t.p);
	free(fit.p);
	free(over.p);
}
END_TEST

/*
 * Past HEADERS_DELIVERED_TO_MAX values: the first ones are kept, the
 * rest dropped (and said to be), Received: still counted.
 */
START_TEST(test_too_many_values)
{
	struct text	t = { 0 };
	struct want	w = { 0 };
	unsigned	i;

	for (i = 0; i < HEADERS_DELIVERED_TO_MAX + 8; i++)
		text_printf(&t, "Delivered-To: <d%02u@example.org>\n", i);
	received_lines(&t, 3);
	text_str(&t, "\n");
	w.received = 3;
	w.done = true;
	w.dropped = true;
	w.match[0] = "d00@example.org";
	w.match[1] = "d31@example.org";
	w.nomatch[0] = "d32@example.org";
	w.nomatch[1] = "d39@example.org";
	check_all_ways("too many", t.p, t.len, &w);

	/* Exactly as many as fit: nothing dropped. */
	t.len = 0;
	for (i = 0; i < HEADERS_DELIVERED_TO_MAX; i++)
		text_printf(&t, "Delivered-To: <d%02u@example.org>\n", i);
	text_str(&t, "Delivered-To:\n\n");
	w.received = 0;
	w.dropped = false;
	w.nomatch[0] = "d32@example.org";
	check_all_ways("as many as fit", t.p, t.len, &w);

	/* The one past the slots still open when the input stops. */
	t.len = 0;
	for (i = 0; i < HEADERS_DELIVERED_TO_MAX + 1; i++)
		text_printf(&t, "Delivered-To: <d%02u@example.org>\n", i);
	w.done = false;
	w.dropped = true;
	check_all_ways("one past, open", t.p, t.len, &w);
	free(t.p);
}
END_TEST

/* headers_init makes a used scanner new again. */
START_TEST(test_init_resets)
{
	static const char	msg[] = "Received: a\nDelivered-To: " A "\n\n";
	struct headers		*h;

	h = malloc(sizeof(*h));
	ck_assert_ptr_nonnull(h);
	headers_init(h);
	headers_feed(h, msg, strlen(msg));
	ck_assert(headers_done(h));
	ck_assert(headers_delivered_to(h, A));
	headers_init(h);
	ck_assert(!headers_done(h));
	ck_assert_uint_eq(headers_received(h), 0);
	ck_assert(!headers_delivered_to(h, A));
	headers_feed(h, "Received: b\n", strlen("Received: b\n"));
	ck_assert_uint_eq(headers_received(h), 1);
	free(h);
}
END_TEST

Suite *
headers_suite(void)
{
	Suite	*s = suite_create("headers");
	TCase	*tc;

	tc = tcase_create("scan");
	tcase_add_loop_test(tc, test_case, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_init_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_loop_test(tc, test_received_100_101, 0, 2);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_value_limit);
	tcase_add_test(tc, test_too_many_values);
	suite_add_tcase(s, tc);
	return s;
}
