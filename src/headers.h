/* SPDX-License-Identifier: MIT */
/*
 * headers: a streaming scan of a message's header section for loop
 * protection (RFC 5321 §6.3): it counts Received: fields and remembers
 * Delivered-To: values.  Input may be split at any byte; memory is the
 * struct and nothing else, however long the header or a line is.  No
 * I/O, no allocation, no other fields: this is not a header parser.
 */
#ifndef LMTPD_HEADERS_H
#define LMTPD_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEADERS_DELIVERED_TO_MAX 32	/* values remembered */
#define HEADERS_VALUE_MAX	320	/* octets of one value kept */
#define HEADERS_NAME_KEEP	12	/* strlen("delivered-to") */
#define HEADERS_SLOT	(HEADERS_VALUE_MAX + 2)	/* and the angle brackets */

/* The scanner's own: where in a line it is, and what the field is. */
enum headers_state {
	HEADERS_LINE_START,	/* at the first byte of a line */
	HEADERS_NAME,		/* in a field name */
	HEADERS_NAME_WSP,	/* WSP after the name, before the colon */
	HEADERS_VALUE,		/* after the colon */
	HEADERS_SKIP,		/* a line that is not a field, to its LF */
	HEADERS_DONE,		/* the empty line was seen */
};

enum headers_field {
	HEADERS_FIELD_NONE,	/* no field open: continuations ignored */
	HEADERS_FIELD_OTHER,
	HEADERS_FIELD_RECEIVED,
	HEADERS_FIELD_DELIVERED_TO,
};

/*
 * Embeddable and of fixed size; the members are the scanner's own, read
 * them only through the functions below.
 */
struct headers {
	unsigned		 received;	/* saturating */
	unsigned		 n_dt;		/* values kept in dt[] */
	bool			 dt_dropped;	/* values past the last slot */
	enum headers_state	 state;
	enum headers_field	 field;		/* the field being read */
	bool			 cr;		/* a CR waits for its LF */
	size_t			 name_len;	/* octets of the name so far */
	char			 name[HEADERS_NAME_KEEP];
	/* The value being read goes into dt[n_dt] while there is room. */
	size_t			 cur_len;
	bool			 cur_long;	/* too long: never matches */
	char			 dt[HEADERS_DELIVERED_TO_MAX][HEADERS_SLOT];
	uint16_t		 dt_len[HEADERS_DELIVERED_TO_MAX];
};

/* Makes h an empty scanner, ready for the first byte of a message. */
void	headers_init(struct headers *h);

/*
 * Scans the next n bytes of the message (LF line ends, a CR before the LF
 * tolerated).  Once the empty line ending the header has been seen the
 * rest is ignored.  A line that is not a header field (an mbox "From "
 * line, say) is skipped, along with its continuation lines.  Never fails,
 * never blocks.
 */
void	headers_feed(struct headers *h, const char *p, size_t n);

/*
 * Received: fields seen so far (names match in any case, with obsolete
 * WSP before the colon, RFC 5322 §4.5.7), saturating at UINT_MAX.
 */
unsigned headers_received(const struct headers *h);

/*
 * True when a Delivered-To: value seen so far is address (ASCII
 * case-insensitive), once the value is unfolded and stripped of
 * surrounding WSP and one pair of angle brackets.  A field still open
 * when the input stops counts as complete.  A value over
 * HEADERS_VALUE_MAX octets never matches.
 * XXX: only the first HEADERS_DELIVERED_TO_MAX values are kept; for an
 * address among the dropped ones (see headers_dt_dropped) this returns
 * false.  It errs towards delivering: the Received: count still stops a
 * loop.
 */
bool	headers_delivered_to(const struct headers *h, const char *address);

/* True when values were dropped for want of a slot (log it). */
bool	headers_dt_dropped(const struct headers *h);

/* True once the empty line ending the header section has been seen. */
bool	headers_done(const struct headers *h);

#endif
