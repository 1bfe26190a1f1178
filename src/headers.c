/* SPDX-License-Identifier: MIT */
/*
 * headers: a byte-at-a-time state machine over the header section, so a
 * chunk may end anywhere.  Only Received: (counted) and Delivered-To:
 * (kept, unfolded, trimmed) matter; every other field is skipped as it
 * streams by.  Nothing past the empty line is looked at.
 */
#include "config.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "headers.h"

static inline bool	is_wsp(char);
static inline char	lower(char);
static bool		caseeq_n(const char *, size_t, const char *);
static size_t		trim(const char *, size_t, size_t *);
static void		value_byte(struct headers *, char);
static void		field_open(struct headers *);
static void		field_close(struct headers *);
static void		step(struct headers *, char);

static inline bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static inline char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The n bytes at a equal the string b, ASCII case-insensitively. */
static bool
caseeq_n(const char *a, size_t n, const char *b)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (b[i] == '\0' || lower(a[i]) != lower(b[i]))
			return false;
	return b[n] == '\0';
}

/*
 * The address in a value of len bytes: without surrounding WSP and one
 * pair of angle brackets (WSP just inside them goes too).  Returns its
 * length and its offset in *off_out.
 */
static size_t
trim(const char *v, size_t len, size_t *off_out)
{
	size_t	off = 0;
	int	pass;

	for (pass = 0; pass < 2; pass++) {
		while (len > 0 && is_wsp(v[off])) {
			off++;
			len--;
		}
		while (len > 0 && is_wsp(v[off + len - 1]))
			len--;
		if (pass > 0 || len < 2 || v[off] != '<' ||
		    v[off + len - 1] != '>')
			break;
		off++;
		len -= 2;
	}
	*off_out = off;
	return len;
}

/*
 * One octet of an unfolded Delivered-To: value.  Leading WSP is not kept.
 * Once the slot is full, WSP may yet turn out to be trailing WSP (and is
 * dropped); anything else makes the value too long.
 */
static void
value_byte(struct headers *h, char c)
{
	if (h->cur_long || (h->cur_len == 0 && is_wsp(c)))
		return;
	if (h->cur_len < HEADERS_SLOT) {
		if (h->n_dt < HEADERS_DELIVERED_TO_MAX)
			h->dt[h->n_dt][h->cur_len] = c;
		h->cur_len++;
	} else if (!is_wsp(c))
		h->cur_long = true;
}

/* At the colon: what the name was decides what the value is. */
static void
field_open(struct headers *h)
{
	h->field = HEADERS_FIELD_OTHER;
	if (h->name_len == strlen("received") &&
	    memcmp(h->name, "received", h->name_len) == 0) {
		h->field = HEADERS_FIELD_RECEIVED;
		if (h->received < UINT_MAX)
			h->received++;
	} else if (h->name_len == strlen("delivered-to") &&
	    memcmp(h->name, "delivered-to", h->name_len) == 0) {
		h->field = HEADERS_FIELD_DELIVERED_TO;
		h->cur_len = 0;
		h->cur_long = false;
	}
}

/* At the first line that does not continue the field, or the end. */
static void
field_close(struct headers *h)
{
	enum headers_field	 was = h->field;
	size_t			 off, len;
	char			*v;

	h->field = HEADERS_FIELD_NONE;
	/* A value too long is no address of ours: it needs no slot. */
	if (was != HEADERS_FIELD_DELIVERED_TO || h->cur_long)
		return;
	if (h->n_dt == HEADERS_DELIVERED_TO_MAX) {
		if (h->cur_len > 0)
			h->dt_dropped = true;
		return;
	}
	v = h->dt[h->n_dt];
	len = trim(v, h->cur_len, &off);
	if (len == 0 || len > HEADERS_VALUE_MAX)
		return;
	memmove(v, v + off, len);
	h->dt_len[h->n_dt] = (uint16_t)len;
	h->n_dt++;
}

/* One octet, a CR before an LF already taken out. */
static void
step(struct headers *h, char c)
{
	switch (h->state) {
	case HEADERS_LINE_START:
		if (c == '\n') {
			field_close(h);
			h->state = HEADERS_DONE;
			return;
		}
		if (is_wsp(c)) {
			/* RFC 5322 §2.2.3: unfolding drops just the CRLF. */
			if (h->field == HEADERS_FIELD_NONE)
				h->state = HEADERS_SKIP;
			else {
				h->state = HEADERS_VALUE;
				if (h->field == HEADERS_FIELD_DELIVERED_TO)
					value_byte(h, c);
			}
			return;
		}
		field_close(h);
		h->name_len = 0;
		h->state = HEADERS_NAME;
		/* FALLTHROUGH */
	case HEADERS_NAME:
		if (c == ':' && h->name_len > 0) {
			field_open(h);
			h->state = HEADERS_VALUE;
		} else if (is_wsp(c))
			h->state = HEADERS_NAME_WSP;
		else if (c == '\n')
			h->state = HEADERS_LINE_START;
		else if (c > ' ' && c < 0x7f && c != ':') {
			/* RFC 5322 §3.6.8 ftext; only short names matter. */
			if (h->name_len < sizeof(h->name))
				h->name[h->name_len] = lower(c);
			if (h->name_len <= sizeof(h->name))
				h->name_len++;
		} else
			h->state = HEADERS_SKIP;
		return;
	case HEADERS_NAME_WSP:
		/* RFC 5322 §4.5.7 obs-received: WSP before the colon. */
		if (c == ':') {
			field_open(h);
			h->state = HEADERS_VALUE;
		} else if (c == '\n')
			h->state = HEADERS_LINE_START;
		else if (!is_wsp(c))
			h->state = HEADERS_SKIP;
		return;
	case HEADERS_VALUE:
		if (c == '\n')
			h->state = HEADERS_LINE_START;
		else if (h->field == HEADERS_FIELD_DELIVERED_TO)
			value_byte(h, c);
		return;
	case HEADERS_SKIP:
		if (c == '\n')
			h->state = HEADERS_LINE_START;
		return;
	case HEADERS_DONE:
		return;
	}
}

void
headers_init(struct headers *h)
{
	memset(h, 0, sizeof(*h));
	h->state = HEADERS_LINE_START;
	h->field = HEADERS_FIELD_NONE;
}

void
headers_feed(struct headers *h, const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n && h->state != HEADERS_DONE; i++) {
		if (h->cr) {
			h->cr = false;
			/* A CR not before an LF is an ordinary octet. */
			if (p[i] != '\n')
				step(h, '\r');
		}
		if (p[i] == '\r')
			h->cr = true;
		else
			step(h, p[i]);
	}
}

unsigned
headers_received(const struct headers *h)
{
	return h->received;
}

bool
headers_delivered_to(const struct headers *h, const char *address)
{
	size_t	i, off, len;

	assert(address != NULL);
	for (i = 0; i < h->n_dt; i++)
		if (caseeq_n(h->dt[i], h->dt_len[i], address))
			return true;
	/* The value still open when the input stopped. */
	if (h->field == HEADERS_FIELD_DELIVERED_TO && !h->cur_long &&
	    h->n_dt < HEADERS_DELIVERED_TO_MAX) {
		len = trim(h->dt[h->n_dt], h->cur_len, &off);
		if (len > 0 && len <= HEADERS_VALUE_MAX &&
		    caseeq_n(h->dt[h->n_dt] + off, len, address))
			return true;
	}
	return false;
}

bool
headers_dt_dropped(const struct headers *h)
{
	if (h->dt_dropped)
		return true;
	/* As in headers_delivered_to: an open field counts as complete. */
	return h->field == HEADERS_FIELD_DELIVERED_TO &&
	    h->n_dt == HEADERS_DELIVERED_TO_MAX && h->cur_len > 0 &&
	    !h->cur_long;
}

bool
headers_done(const struct headers *h)
{
	return h->state == HEADERS_DONE;
}
