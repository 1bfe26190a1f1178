/* SPDX-License-Identifier: MIT */
/*
 * recipient: RCPT policy over an immutable struct conf.  Checks run in a
 * fixed order (domain, local-part safety, user), and a local part reaches
 * a path only after addr_local_check says it is safe.  No I/O; the lookups
 * read conf's sorted, lower-case arrays directly.  *out is written only on
 * RECIPIENT_OK.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"
#include "log.h"
#include "recipient.h"
#include "util.h"

static int	cmp_key(const void *, const void *);
static bool	sorted_has(char *const *, size_t, const char *);
static enum recipient_status resolve_mailbox(const struct conf *,
		    const struct addr *, struct recipient *);
static enum recipient_status resolve_postmaster(const struct conf *,
		    struct recipient *);
static bool	put(char *, size_t, size_t *, const char *, size_t);

static int
cmp_key(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* conf keeps domains and users lower case and sorted with strcmp. */
static bool
sorted_has(char *const *v, size_t n, const char *key)
{
	if (v == NULL || n == 0)
		return false;
	return bsearch(key, v, n, sizeof(*v), cmp_key) != NULL;
}

/*
 * The checks for a mailbox with a domain.  Local parts are folded too:
 * RFC 5321 §2.4 lets the receiving host decide, and one mailbox per
 * spelling is what users expect.  Only ASCII is folded.
 */
static enum recipient_status
resolve_mailbox(const struct conf *conf, const struct addr *a,
    struct recipient *out)
{
	char	local[sizeof(a->local)];
	char	domain[sizeof(a->domain)];
	char	address[sizeof(out->address)];
	char	maildir[sizeof(out->maildir)];
	int	n;

	if (a->is_literal || util_strlcpy(domain, a->domain,
	    sizeof(domain)) == -1)
		return RECIPIENT_BAD_DOMAIN;
	util_lower(domain);
	if (!sorted_has(conf->domains, conf->n_domains, domain))
		return RECIPIENT_BAD_DOMAIN;

	if (util_strlcpy(local, a->local, sizeof(local)) == -1)
		return RECIPIENT_BAD_LOCAL;
	util_lower(local);
	if (addr_local_check(local) != ADDR_LOCAL_SAFE)
		return RECIPIENT_BAD_LOCAL;

	/* Fits for any parsed path; a hand-made struct addr might not. */
	n = snprintf(address, sizeof(address), "%s@%s", local, domain);
	if (n < 0 || (size_t)n >= sizeof(address))
		return RECIPIENT_PATH_TOO_LONG;
	if (conf->users_file != NULL && conf->users_file[0] != '\0' &&
	    !sorted_has(conf->users, conf->n_users, address))
		return RECIPIENT_NO_USER;

	if (recipient_expand(conf->maildir, local, domain, maildir,
	    sizeof(maildir)) == -1) {
		if (errno == ENAMETOOLONG)
			return RECIPIENT_PATH_TOO_LONG;
		/*
		 * A bad template is conf_load's to refuse.  Getting here is a
		 * bug; aborting drops the connection, so the client retries
		 * instead of bouncing mail over a configuration mistake.
		 */
		log_panic("maildir template \"%s\" does not expand",
		    conf->maildir);
	}
	memcpy(out->address, address, strlen(address) + 1);
	memcpy(out->maildir, maildir, strlen(maildir) + 1);
	return RECIPIENT_OK;
}

/*
 * RFC 5321 §4.5.1: <Postmaster> must be accepted.  It goes to
 * conf->postmaster ("local@domain"), which gets the same checks as any
 * recipient; if it is unset or fails them there is no postmaster here.
 */
static enum recipient_status
resolve_postmaster(const struct conf *conf, struct recipient *out)
{
	char		path[ADDR_PATH_MAX + 1];
	struct addr	pm;
	size_t		end;
	int		n;

	if (conf->postmaster == NULL || conf->postmaster[0] == '\0')
		return RECIPIENT_NO_POSTMASTER;
	n = snprintf(path, sizeof(path), "<%s>", conf->postmaster);
	if (n < 0 || (size_t)n >= sizeof(path))
		return RECIPIENT_NO_POSTMASTER;
	if (addr_parse_path(path, (size_t)n, ADDR_ALLOW_UTF8, &pm, &end) !=
	    ADDR_OK || end != (size_t)n)
		return RECIPIENT_NO_POSTMASTER;
	if (resolve_mailbox(conf, &pm, out) != RECIPIENT_OK)
		return RECIPIENT_NO_POSTMASTER;
	return RECIPIENT_OK;
}

enum recipient_status
recipient_resolve(const struct conf *conf, const struct addr *a,
    struct recipient *out)
{
	assert(!a->is_null);
	if (a->domain[0] == '\0')
		return resolve_postmaster(conf, out);
	return resolve_mailbox(conf, a, out);
}

/* RFC 3463 §3.2: X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax */
static const struct {
	unsigned	 code;
	const char	*esc;
	const char	*text;
} recipient_replies[] = {
	[RECIPIENT_OK] = { 250, "2.1.5", "recipient ok" },
	[RECIPIENT_BAD_DOMAIN] = { 550, "5.1.2", "not a local domain" },
	[RECIPIENT_NO_USER] = { 550, "5.1.1", "no such user" },
	[RECIPIENT_BAD_LOCAL] = { 550, "5.1.3", "bad recipient address" },
	[RECIPIENT_PATH_TOO_LONG] = { 550, "5.1.3", "bad recipient address" },
	[RECIPIENT_NO_POSTMASTER] = { 550, "5.1.1", "no postmaster here" },
};

void
recipient_reply(enum recipient_status st, struct lmtp_reply *r)
{
	assert((size_t)st < sizeof(recipient_replies) /
	    sizeof(recipient_replies[0]));
	r->code = recipient_replies[st].code;
	(void)util_strlcpy(r->esc, recipient_replies[st].esc, sizeof(r->esc));
	(void)util_strlcpy(r->text, recipient_replies[st].text,
	    sizeof(r->text));
}

/* Appends n bytes at *len_io, keeping room for the NUL. */
static bool
put(char *out, size_t cap, size_t *len_io, const char *s, size_t n)
{
	if (n >= cap - *len_io)
		return false;
	memcpy(out + *len_io, s, n);
	*len_io += n;
	return true;
}

/*
 * The template is checked whole before anything is expanded, so a bad
 * sequence is EINVAL whatever the lengths (conf_load can rely on that).
 */
int
recipient_expand(const char *tmpl, const char *local, const char *domain,
    char *out, size_t cap)
{
	const char	*t;
	size_t		 len = 0;
	bool		 ok = true;

	if (cap > 0)
		out[0] = '\0';
	for (t = tmpl; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t != 'd' && *t != 'n' && *t != 'u' && *t != '%') {
			errno = EINVAL;
			return -1;
		}
	}
	if (cap == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (t = tmpl; *t != '\0' && ok; t++) {
		if (*t != '%') {
			ok = put(out, cap, &len, t, 1);
			continue;
		}
		switch (*++t) {
		case 'd':
			ok = put(out, cap, &len, domain, strlen(domain));
			break;
		case 'n':
			ok = put(out, cap, &len, local, strlen(local));
			break;
		case 'u':
			ok = put(out, cap, &len, local, strlen(local)) &&
			    put(out, cap, &len, "@", 1) &&
			    put(out, cap, &len, domain, strlen(domain));
			break;
		default:
			assert(*t == '%');
			ok = put(out, cap, &len, "%", 1);
			break;
		}
	}
	if (!ok) {
		out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	out[len] = '\0';
	return 0;
}
