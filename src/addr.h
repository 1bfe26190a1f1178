/* SPDX-License-Identifier: MIT */
/*
 * addr: RFC 5321 §4.1.2 paths ("<" [A-d-l ":"] Mailbox ">"), parsed without
 * I/O.  Source routes are accepted and dropped (§4.1.1.3 / §C).  Deciding
 * whether a parsed local part is safe to use in a file name is here too,
 * so that rule lives in one place.
 */
#ifndef LMTPD_ADDR_H
#define LMTPD_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_PATH_MAX	256	/* RFC 5321 §4.5.3.1.3, with the brackets */
#define ADDR_LOCAL_MAX	64	/* RFC 5321 §4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 §4.5.3.1.2 */

struct addr {
	/*
	 * The mailbox as the client wrote it, without brackets and source
	 * route: `"a b"@example.org`, `user@Example.ORG`, or "" for <>.
	 */
	char	text[ADDR_PATH_MAX + 1];
	/* The local part with quoting removed (quoted-pairs resolved). */
	char	local[ADDR_PATH_MAX + 1];
	/* The domain as written ("" when absent); a literal keeps its []. */
	char	domain[ADDR_DOMAIN_MAX + 1];
	bool	is_null;	/* <> */
	bool	is_literal;	/* domain is an address literal */
	bool	has_utf8;	/* bytes >= 0x80 in local part or domain */
};

enum addr_status {
	ADDR_OK,
	ADDR_SYNTAX,		/* not a path */
	ADDR_TOO_LONG,		/* path over ADDR_PATH_MAX */
	ADDR_NULL_NOT_ALLOWED,	/* <> where a mailbox is required */
	ADDR_NO_DOMAIN,		/* <user> where only <Postmaster> may lack one */
	ADDR_BAD_UTF8,		/* 8-bit bytes without SMTPUTF8, or invalid UTF-8 */
};

enum {
	ADDR_ALLOW_NULL = 1 << 0,	/* MAIL FROM:<> */
	ADDR_ALLOW_POSTMASTER = 1 << 1,	/* RCPT TO:<Postmaster> (§4.5.1) */
	ADDR_ALLOW_UTF8 = 1 << 2,	/* RFC 6531 SMTPUTF8 */
};

/*
 * Parses a path at the start of s (len bytes, need not be NUL-terminated).
 * On ADDR_OK fills *out and sets *end_out to the number of bytes consumed
 * (the closing '>' included); what follows is the caller's (parameters).
 * flags is a mask of ADDR_ALLOW_*.  <Postmaster> (any case, no domain) is
 * returned with an empty domain.
 */
enum addr_status addr_parse_path(const char *s, size_t len, int flags,
		    struct addr *out, size_t *end_out);

/*
 * Parses a mailbox written without brackets ("user@example.org", as in a
 * configuration file or on a command line) as the whole path <text>.
 * ADDR_TOO_LONG when it cannot be one; ADDR_SYNTAX when anything follows.
 */
enum addr_status addr_parse_mailbox(const char *text, int flags,
		    struct addr *out);

enum addr_local_status {
	ADDR_LOCAL_SAFE,
	ADDR_LOCAL_EMPTY,
	ADDR_LOCAL_LONG,	/* over ADDR_LOCAL_MAX octets */
	ADDR_LOCAL_SLASH,	/* '/' anywhere */
	ADDR_LOCAL_DOT,		/* leading '.', or ".." anywhere */
	ADDR_LOCAL_CONTROL,	/* C0 control, DEL, or C1 (U+0080-U+009F) */
	ADDR_LOCAL_BAD_UTF8,	/* bytes >= 0x80 that are not UTF-8 */
};

/*
 * Says whether a local part (as in struct addr .local) may be used as one
 * component of a file path: never '/', never a leading dot or "..", no
 * control characters (C0, DEL, C1), only well-formed UTF-8, at most
 * ADDR_LOCAL_MAX octets.  UTF-8 is kept as bytes: no normalisation.
 */
enum addr_local_status addr_local_check(const char *local);

/*
 * True when the len bytes at s are valid UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
bool	addr_utf8_valid(const char *s, size_t len);

#endif
