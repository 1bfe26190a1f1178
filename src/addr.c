/* SPDX-License-Identifier: MIT */
/*
 * addr: a recursive-descent parser for RFC 5321 §4.1.2 paths, with the
 * RFC 6531 §3.3 UTF-8 extensions behind ADDR_ALLOW_UTF8.  It reads at most
 * ADDR_PATH_MAX bytes of its input and never past len; it does no I/O and
 * keeps no state.  Whether a local part may become a file name is decided
 * here too (addr_local_check), so that rule has a single home.
 */
#include "config.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "util.h"

/*
 * The parser's cursor.  lim is min(len, ADDR_PATH_MAX): a path that runs
 * into lim while the input goes on is too long, not malformed, so peek()
 * records that it was asked for a byte at lim (hit_end).
 */
struct parser {
	const unsigned char	*s;
	size_t			 pos;
	size_t			 lim;
	int			 flags;
	bool			 hit_end;
	bool			 utf8;		/* 8-bit bytes in the mailbox */
	enum addr_status	 err;
};

static int	peek(struct parser *);
static bool	fail(struct parser *, enum addr_status);
static bool	take_utf8(struct parser *);
static bool	is_atext(int);
static bool	is_letdig(int);
static bool	is_dcontent(int);
static size_t	utf8_seq(const unsigned char *, size_t, bool *);
static bool	parse_subdomain(struct parser *);
static bool	parse_domain(struct parser *);
static bool	parse_literal(struct parser *);
static bool	literal_ipv4(const unsigned char *, size_t);
static bool	literal_ipv6(const unsigned char *, size_t);
static bool	parse_route(struct parser *);
static bool	parse_quoted(struct parser *, char *, size_t *);
static bool	parse_dotstring(struct parser *, char *, size_t *);
static bool	parse_mailbox(struct parser *, struct addr *);

/* Returns the byte at the cursor, or -1 at the end of what may be read. */
static int
peek(struct parser *p)
{
	if (p->pos >= p->lim) {
		p->hit_end = true;
		return -1;
	}
	return p->s[p->pos];
}

/* Records the first failure only; always returns false. */
static bool
fail(struct parser *p, enum addr_status st)
{
	if (p->err == ADDR_OK)
		p->err = st;
	return false;
}

/*
 * Consumes one UTF-8 character whose lead byte (>= 0x80) is at the cursor.
 * RFC 6531 §3.3: UTF8-non-ascii is allowed only with SMTPUTF8.
 */
static bool
take_utf8(struct parser *p)
{
	size_t	n;
	bool	truncated;

	if ((p->flags & ADDR_ALLOW_UTF8) == 0)
		return fail(p, ADDR_BAD_UTF8);
	n = utf8_seq(p->s + p->pos, p->lim - p->pos, &truncated);
	if (n == 0) {
		if (truncated)
			p->hit_end = true;
		return fail(p, ADDR_BAD_UTF8);
	}
	p->pos += n;
	p->utf8 = true;
	return true;
}

/* RFC 5322 §3.2.3 atext, ASCII part. */
static bool
is_atext(int c)
{
	if (c < 0 || c >= 0x80)
		return false;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5321 §4.1.2 Let-dig = ALPHA / DIGIT */
static bool
is_letdig(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5321 §4.1.3 dcontent = %d33-90 / %d94-126 */
static bool
is_dcontent(int c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/*
 * Returns the length (1-4) of the well-formed UTF-8 sequence at s (n bytes
 * available), or 0 when it is ill-formed; *truncated_out then tells whether
 * it was only cut short by n.  The ranges are those of Unicode Table 3-7
 * (RFC 3629 §4): no overlongs, no surrogates, nothing above U+10FFFF.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n, bool *truncated_out)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		need, i;

	*truncated_out = false;
	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;	/* a continuation byte, or overlong C0/C1 */
	if (s[0] < 0xe0)
		need = 2;
	else if (s[0] < 0xf0) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* U+D800..U+DFFF */
	} else if (s[0] < 0xf5) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	for (i = 1; i < need; i++) {
		if (i >= n) {
			*truncated_out = true;
			return 0;
		}
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

/*
 * RFC 5321 §4.1.2 sub-domain = Let-dig [Ldh-str]: no leading or trailing
 * hyphen.  RFC 6531 §3.3 adds U-label, so with SMTPUTF8 an 8-bit character
 * counts as a Let-dig.
 */
static bool
parse_subdomain(struct parser *p)
{
	size_t	start = p->pos;
	bool	hyphen = false;
	int	c;

	for (;;) {
		c = peek(p);
		if (c >= 0x80) {
			if (!take_utf8(p))
				return false;
			hyphen = false;
		} else if (is_letdig(c)) {
			p->pos++;
			hyphen = false;
		} else if (c == '-' && p->pos > start) {
			p->pos++;
			hyphen = true;
		} else
			break;
	}
	if (p->pos == start || hyphen)
		return fail(p, ADDR_SYNTAX);
	return true;
}

/* RFC 5321 §4.1.2 Domain = sub-domain *("." sub-domain) */
static bool
parse_domain(struct parser *p)
{
	if (!parse_subdomain(p))
		return false;
	while (peek(p) == '.') {
		p->pos++;
		if (!parse_subdomain(p))
			return false;
	}
	return true;
}

/* RFC 5321 §4.1.3 IPv4-address-literal = Snum 3("." Snum), Snum <= 255 */
static bool
literal_ipv4(const unsigned char *s, size_t n)
{
	size_t		i, digits = 0, dots = 0;
	unsigned	v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0)
				return false;
			dots++;
			digits = 0;
			v = 0;
		} else {
			if (++digits > 3)
				return false;
			v = v * 10 + (unsigned)(s[i] - '0');
			if (v > 255)
				return false;
		}
	}
	return dots == 3 && digits > 0;
}

/*
 * RFC 5321 §4.1.3 IPv6-address-literal = "IPv6:" IPv6-addr.  Checked
 * loosely (hex digits, ':' and '.'): the literal is never routed on, only
 * refused later as not a local domain.
 */
static bool
literal_ipv6(const unsigned char *s, size_t n)
{
	size_t	i;
	int	c;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	return true;
}

/*
 * RFC 5321 §4.1.3 address-literal = "[" ( IPv4-address-literal /
 * IPv6-address-literal / General-address-literal ) "]".  All-digit-and-dot
 * content must be a dotted quad; "IPv6:" content must look like one; any
 * other run of dcontent is taken as a General-address-literal.
 */
static bool
parse_literal(struct parser *p)
{
	const unsigned char	*body;
	size_t			 start, n, i;
	bool			 ipv4 = true;
	int			 c;

	assert(peek(p) == '[');
	p->pos++;
	start = p->pos;
	for (;;) {
		c = peek(p);
		if (c == ']')
			break;
		if (c >= 0x80)
			return fail(p, (p->flags & ADDR_ALLOW_UTF8) != 0 ?
			    ADDR_SYNTAX : ADDR_BAD_UTF8);
		if (!is_dcontent(c))
			return fail(p, ADDR_SYNTAX);
		if (c != '.' && (c < '0' || c > '9'))
			ipv4 = false;
		p->pos++;
	}
	body = p->s + start;
	n = p->pos - start;
	p->pos++;			/* ']' */
	if (n == 0)
		return fail(p, ADDR_SYNTAX);
	if (ipv4)
		return literal_ipv4(body, n) ? true : fail(p, ADDR_SYNTAX);
	if (n >= 5) {
		static const char	tag[] = "ipv6:";

		for (i = 0; i < 5; i++)
			if ((body[i] | 0x20) != tag[i])
				break;
		if (i == 5)
			return literal_ipv6(body + 5, n - 5) ? true :
			    fail(p, ADDR_SYNTAX);
	}
	return true;
}

/*
 * RFC 5321 §4.1.2 A-d-l = At-domain *( "," At-domain ) followed by ":".
 * The route is checked and dropped: §4.1.1.3 and Appendix C say servers
 * SHOULD ignore it.
 */
static bool
parse_route(struct parser *p)
{
	int	c;

	for (;;) {
		if (peek(p) != '@')
			return fail(p, ADDR_SYNTAX);
		p->pos++;
		if (!parse_domain(p))
			return false;
		c = peek(p);
		if (c != ':' && c != ',')
			return fail(p, ADDR_SYNTAX);
		p->pos++;
		if (c == ':')
			return true;
	}
}

/*
 * RFC 5321 §4.1.2 Quoted-string = DQUOTE *QcontentSMTP DQUOTE, with
 * qtextSMTP = %d32-33 / %d35-91 / %d93-126 and quoted-pairSMTP = "\"
 * %d32-126; RFC 6531 §3.3 adds UTF8-non-ascii to qtextSMTP.  The dequoted
 * text goes to local (*n_out bytes); it is never longer than the input.
 */
static bool
parse_quoted(struct parser *p, char *local, size_t *n_out)
{
	size_t	n = 0, start;
	int	c;

	assert(peek(p) == '"');
	p->pos++;
	for (;;) {
		c = peek(p);
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c == '\\') {
			p->pos++;
			c = peek(p);
			if (c < 32 || c > 126)
				return fail(p, ADDR_SYNTAX);
			local[n++] = (char)c;
			p->pos++;
		} else if (c >= 0x80) {
			start = p->pos;
			if (!take_utf8(p))
				return false;
			memcpy(local + n, p->s + start, p->pos - start);
			n += p->pos - start;
		} else if (c == 32 || c == 33 || (c >= 35 && c <= 91) ||
		    (c >= 93 && c <= 126)) {
			local[n++] = (char)c;
			p->pos++;
		} else
			return fail(p, ADDR_SYNTAX);
	}
	*n_out = n;
	return true;
}

/*
 * RFC 5321 §4.1.2 Dot-string = Atom *("." Atom), Atom = 1*atext; RFC 6531
 * §3.3 adds UTF8-non-ascii to atext.  So no leading, trailing or doubled
 * dot without quotes.
 */
static bool
parse_dotstring(struct parser *p, char *local, size_t *n_out)
{
	size_t	start = p->pos, atom;
	int	c;

	for (;;) {
		atom = p->pos;
		for (;;) {
			c = peek(p);
			if (c >= 0x80) {
				if (!take_utf8(p))
					return false;
			} else if (is_atext(c))
				p->pos++;
			else
				break;
		}
		if (p->pos == atom)
			return fail(p, ADDR_SYNTAX);
		if (c != '.')
			break;
		p->pos++;
	}
	*n_out = p->pos - start;
	memcpy(local, p->s + start, *n_out);
	return true;
}

/*
 * RFC 5321 §4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ),
 * and the closing ">".  §4.5.1: "<Postmaster>" (any case, unquoted) may
 * come without a domain, and only it.
 */
static bool
parse_mailbox(struct parser *p, struct addr *a)
{
	size_t	mstart = p->pos, dstart, n;
	bool	quoted;
	int	c;

	p->utf8 = false;	/* a source route's bytes do not count */
	quoted = peek(p) == '"';
	if (quoted ? !parse_quoted(p, a->local, &n) :
	    !parse_dotstring(p, a->local, &n))
		return false;
	assert(n < sizeof(a->local));
	a->local[n] = '\0';
	c = peek(p);
	if (c == '>') {
		if ((p->flags & ADDR_ALLOW_POSTMASTER) == 0 || quoted ||
		    !util_strcaseeq(a->local, "postmaster"))
			return fail(p, ADDR_NO_DOMAIN);
		dstart = p->pos;
	} else {
		if (c != '@')
			return fail(p, ADDR_SYNTAX);
		p->pos++;
		dstart = p->pos;
		if (peek(p) == '[') {
			if (!parse_literal(p))
				return false;
			a->is_literal = true;
		} else if (!parse_domain(p))
			return false;
		if (peek(p) != '>')
			return fail(p, ADDR_SYNTAX);
	}
	/* A guard: within ADDR_PATH_MAX a domain has at most 252 octets. */
	if (p->pos - dstart > ADDR_DOMAIN_MAX)
		return fail(p, ADDR_TOO_LONG);
	memcpy(a->domain, p->s + dstart, p->pos - dstart);
	a->domain[p->pos - dstart] = '\0';
	n = p->pos - mstart;
	memcpy(a->text, p->s + mstart, n);
	a->text[n] = '\0';
	a->has_utf8 = p->utf8;
	p->pos++;			/* '>' */
	return true;
}

enum addr_status
addr_parse_path(const char *s, size_t len, int flags, struct addr *out,
    size_t *end_out)
{
	struct parser	p = { 0 };
	struct addr	a = { 0 };
	bool		ok;

	p.s = (const unsigned char *)s;
	p.lim = len < ADDR_PATH_MAX ? len : ADDR_PATH_MAX;
	p.flags = flags;
	p.err = ADDR_OK;

	/* RFC 5321 §4.1.2 Path = "<" [ A-d-l ":" ] Mailbox ">" */
	if (peek(&p) != '<')
		ok = fail(&p, ADDR_SYNTAX);
	else {
		p.pos++;
		switch (peek(&p)) {
		case '>':
			/* RFC 5321 §4.1.1.2: the null reverse-path */
			if ((flags & ADDR_ALLOW_NULL) == 0)
				ok = fail(&p, ADDR_NULL_NOT_ALLOWED);
			else {
				a.is_null = true;
				p.pos++;
				ok = true;
			}
			break;
		case '@':
			ok = parse_route(&p) && parse_mailbox(&p, &a);
			break;
		default:
			ok = parse_mailbox(&p, &a);
			break;
		}
	}
	if (!ok) {
		/* RFC 5321 §4.5.3.1.3: ran into the limit with more to come */
		if (p.hit_end && len > p.lim)
			return ADDR_TOO_LONG;
		return p.err;
	}
	*out = a;
	*end_out = p.pos;
	return ADDR_OK;
}

/*
 * The checks run in this order, so one local part always gets the same
 * answer: empty, control or ill-formed UTF-8 (whichever comes first),
 * slash, dot, long.  The unsafe shapes come before the length so that a
 * long hostile name is reported as what it is.  C1 controls (U+0080 to
 * U+009F, as C2 80 to C2 9F) are controls too: terminals obey some of
 * them, and a file name is shown on terminals.
 */
enum addr_local_status
addr_local_check(const char *local)
{
	const unsigned char	*u;
	size_t			 len, i, n;
	bool			 truncated;

	if (local[0] == '\0')
		return ADDR_LOCAL_EMPTY;
	len = strlen(local);
	u = (const unsigned char *)local;
	for (i = 0; i < len; i += n) {
		n = 1;
		if (u[i] < 0x20 || u[i] == 0x7f)
			return ADDR_LOCAL_CONTROL;
		if (u[i] < 0x80)
			continue;
		n = utf8_seq(u + i, len - i, &truncated);
		if (n == 0)
			return ADDR_LOCAL_BAD_UTF8;
		if (n == 2 && u[i] == 0xc2 && u[i + 1] <= 0x9f)
			return ADDR_LOCAL_CONTROL;
	}
	if (strchr(local, '/') != NULL)
		return ADDR_LOCAL_SLASH;
	if (local[0] == '.' || strstr(local, "..") != NULL)
		return ADDR_LOCAL_DOT;
	if (len > ADDR_LOCAL_MAX)
		return ADDR_LOCAL_LONG;
	return ADDR_LOCAL_SAFE;
}

bool
addr_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n;
	bool			 truncated;

	for (i = 0; i < len; i += n) {
		n = utf8_seq(u + i, len - i, &truncated);
		if (n == 0)
			return false;
	}
	return true;
}

enum addr_status
addr_parse_mailbox(const char *text, int flags, struct addr *out)
{
	char			path[ADDR_PATH_MAX + 1];
	size_t			len = strlen(text), end;
	enum addr_status	st;

	if (len + 2 > ADDR_PATH_MAX)
		return ADDR_TOO_LONG;
	path[0] = '<';
	memcpy(path + 1, text, len);
	path[len + 1] = '>';
	st = addr_parse_path(path, len + 2, flags, out, &end);
	if (st == ADDR_OK && end != len + 2)
		return ADDR_SYNTAX;
	return st;
}
