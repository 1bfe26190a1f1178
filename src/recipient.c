/* SPDX-License-Identifier: MIT */
/*
 * recipient: RCPT policy.  Checks run in a fixed order (domain, local-part
 * safety, then the lookup sources), and a local part reaches a path only
 * after addr_local_check says it is safe.  A source that cannot answer
 * (users_file unreadable, NSS failing) makes the recipient a temporary
 * failure, never "no such user".  *out is written only on RECIPIENT_OK.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"
#include "log.h"
#include "recipient.h"
#include "template.h"
#include "userdb.h"
#include "util.h"

/*
 * Test seam, deliberately not in recipient.h: the unit tests replace the
 * passwd lookup to play NSS answers (found, absent, failing).
 */
extern struct passwd	*(*recipient_getpwnam)(const char *);
struct passwd		*(*recipient_getpwnam)(const char *) = getpwnam;

/* What one lookup source says about a local part. */
enum found {
	FOUND,
	NOT_FOUND,
	FOUND_LOW_UID,
	FOUND_TOO_LONG,		/* the path would be over PATH_MAX */
	LOOKUP_FAILED,
};

struct lookup {
	const struct conf	*conf;
	const char		*local;		/* folded, +detail removed */
	const char		*full;		/* folded, with +detail */
	const char		*domain;
	struct recipient	*r;		/* being filled */
	char			*why;
	size_t			 cap;
};

static enum found	lookup_file(struct lookup *);
static enum found	lookup_passwd(struct lookup *);
static enum found	lookup_template(struct lookup *);
static enum recipient_status resolve_mailbox(const struct conf *,
			    const struct addr *, struct recipient *, char *,
			    size_t);
static enum recipient_status resolve_postmaster(const struct conf *,
			    struct recipient *, char *, size_t);

/*
 * Expands a template into r->maildir.  A template that does not expand
 * was conf_load's (or userdb's) to refuse; ENAMETOOLONG is the address's
 * fault.
 */
static enum found
expand(struct lookup *l, const char *tmpl, const char *home)
{
	struct template_vars	v = { .local = l->local, .domain = l->domain,
				    .home = home };

	if (template_expand(tmpl, &v, l->r->maildir,
	    sizeof(l->r->maildir)) == 0)
		return FOUND;
	snprintf(l->why, l->cap, "maildir template \"%s\": %s", tmpl,
	    strerror(errno));
	return errno == ENAMETOOLONG ? FOUND_TOO_LONG : LOOKUP_FAILED;
}

/*
 * users_file: the full address first ("user+detail@d" may be listed on
 * its own), then the user, then the domain's catch-all.
 */
static enum found
lookup_file(struct lookup *l)
{
	const struct userdb_entry	*e;
	char				 key[ADDR_PATH_MAX + 1];
	struct userdb			*db = l->conf->userdb;
	int				 n;

	if (userdb_refresh(db, time(NULL), l->why, l->cap) == -1)
		return LOOKUP_FAILED;
	n = snprintf(key, sizeof(key), "%s@%s", l->full, l->domain);
	if (n < 0 || (size_t)n >= sizeof(key))
		return FOUND_TOO_LONG;
	e = userdb_find(db, key);
	if (e != NULL && strchr(e->key, '@') != e->key) {
		/* Listed with its detail: that is the user. */
		l->local = l->full;
		l->r->detail[0] = '\0';
	} else {
		snprintf(key, sizeof(key), "%s@%s", l->local, l->domain);
		e = userdb_find(db, key);
	}
	if (e == NULL)
		return NOT_FOUND;
	l->r->line = e->line;
	if (e->has_owner) {
		if (e->uid < l->conf->min_uid) {
			snprintf(l->why, l->cap, "users_file line %d: uid %lu "
			    "is below min_uid %u", e->line,
			    (unsigned long)e->uid, l->conf->min_uid);
			return FOUND_LOW_UID;
		}
		l->r->has_owner = true;
		l->r->uid = e->uid;
		l->r->gid = e->gid;
	}
	if (e->has_quota)
		l->r->quota = e->quota;
	return expand(l, e->maildir != NULL ? e->maildir : l->conf->maildir,
	    NULL);
}

/*
 * getpwnam(3) says "not found" with errno 0, ENOENT, ESRCH, EBADF or
 * EPERM; anything else means NSS could not answer.
 */
static enum found
lookup_passwd(struct lookup *l)
{
	struct passwd	*pw;

	errno = 0;
	pw = recipient_getpwnam(l->local);
	if (pw == NULL) {
		if (errno == 0 || errno == ENOENT || errno == ESRCH ||
		    errno == EBADF || errno == EPERM)
			return NOT_FOUND;
		snprintf(l->why, l->cap, "getpwnam(%s): %s", l->local,
		    strerror(errno));
		return LOOKUP_FAILED;
	}
	if (pw->pw_uid < l->conf->min_uid) {
		snprintf(l->why, l->cap, "passwd: uid %lu of %s is below "
		    "min_uid %u", (unsigned long)pw->pw_uid, l->local,
		    l->conf->min_uid);
		return FOUND_LOW_UID;
	}
	if (pw->pw_dir == NULL || pw->pw_dir[0] != '/') {
		snprintf(l->why, l->cap, "passwd: %s has no absolute home",
		    l->local);
		return LOOKUP_FAILED;
	}
	l->r->has_owner = true;
	l->r->uid = pw->pw_uid;
	l->r->gid = pw->pw_gid;
	return expand(l, l->conf->passwd_maildir, pw->pw_dir);
}

static enum found
lookup_template(struct lookup *l)
{
	return expand(l, l->conf->maildir, NULL);
}

/* Splits "user+detail" at the first delimiter that is not the first octet. */
static void
split_detail(const char *delims, char *local, char *detail, size_t cap)
{
	size_t	i;

	detail[0] = '\0';
	if (delims[0] == '\0')
		return;
	for (i = 1; local[i] != '\0'; i++) {
		if (strchr(delims, local[i]) == NULL)
			continue;
		(void)util_strlcpy(detail, local + i + 1, cap);
		local[i] = '\0';
		return;
	}
}

/*
 * The checks for a mailbox with a domain.  Local parts are folded unless
 * preserve_case: RFC 5321 §2.4 lets the receiving host decide, and one
 * mailbox per spelling is what users expect.  Only ASCII is folded.
 */
static enum recipient_status
resolve_mailbox(const struct conf *conf, const struct addr *a,
    struct recipient *out, char *why, size_t cap)
{
	char			local[sizeof(a->local)];
	char			full[sizeof(a->local)];
	char			domain[sizeof(a->domain)];
	struct recipient	r;
	struct lookup		l;
	enum found		f = NOT_FOUND;
	size_t			i;
	int			n;

	if (a->is_literal || util_strlcpy(domain, a->domain,
	    sizeof(domain)) == -1)
		return RECIPIENT_BAD_DOMAIN;
	util_lower(domain);
	if (!conf_domain_is_local(conf, domain))
		return RECIPIENT_BAD_DOMAIN;

	if (util_strlcpy(full, a->local, sizeof(full)) == -1)
		return RECIPIENT_BAD_LOCAL;
	if (!conf->preserve_case)
		util_lower(full);
	if (addr_local_check(full) != ADDR_LOCAL_SAFE)
		return RECIPIENT_BAD_LOCAL;
	memset(&r, 0, sizeof(r));
	memcpy(local, full, sizeof(local));
	split_detail(conf->recipient_delimiter, local, r.detail,
	    sizeof(r.detail));

	/* Fits for any parsed path; a hand-made struct addr might not. */
	n = snprintf(r.address, sizeof(r.address), "%s@%s", full, domain);
	if (n < 0 || (size_t)n >= sizeof(r.address))
		return RECIPIENT_PATH_TOO_LONG;
	r.quota = conf->quota;

	l = (struct lookup){ .conf = conf, .local = local, .full = full,
	    .domain = domain, .r = &r, .why = why, .cap = cap };
	for (i = 0; i < conf->n_lookup && f == NOT_FOUND; i++) {
		r.source = conf->lookup[i];
		switch (conf->lookup[i]) {
		case CONF_LOOKUP_FILE:
			f = lookup_file(&l);
			break;
		case CONF_LOOKUP_PASSWD:
			f = lookup_passwd(&l);
			break;
		case CONF_LOOKUP_TEMPLATE:
			f = lookup_template(&l);
			break;
		}
	}
	switch (f) {
	case FOUND:
		break;
	case NOT_FOUND:
		return RECIPIENT_NO_USER;
	case FOUND_TOO_LONG:
		return RECIPIENT_PATH_TOO_LONG;
	case FOUND_LOW_UID:
		return RECIPIENT_LOW_UID;
	case LOOKUP_FAILED:
		return RECIPIENT_TEMPFAIL;
	}
	n = snprintf(r.user, sizeof(r.user), "%s@%s", l.local, domain);
	if (n < 0 || (size_t)n >= sizeof(r.user))
		return RECIPIENT_PATH_TOO_LONG;
	*out = r;
	return RECIPIENT_OK;
}

const char *
recipient_source_name(enum conf_lookup k)
{
	switch (k) {
	case CONF_LOOKUP_FILE:
		return "file";
	case CONF_LOOKUP_PASSWD:
		return "passwd";
	case CONF_LOOKUP_TEMPLATE:
		break;
	}
	return "template";
}

/*
 * RFC 5321 §4.5.1: <Postmaster> must be accepted.  It goes to
 * conf->postmaster ("local@domain"), which gets the same checks as any
 * recipient; if it is unset or fails them there is no postmaster here.
 */
static enum recipient_status
resolve_postmaster(const struct conf *conf, struct recipient *out,
    char *why, size_t cap)
{
	struct addr	pm;

	if (conf->postmaster == NULL || conf->postmaster[0] == '\0')
		return RECIPIENT_NO_POSTMASTER;
	if (addr_parse_mailbox(conf->postmaster, ADDR_ALLOW_UTF8, &pm) !=
	    ADDR_OK)
		return RECIPIENT_NO_POSTMASTER;
	switch (resolve_mailbox(conf, &pm, out, why, cap)) {
	case RECIPIENT_OK:
		return RECIPIENT_OK;
	case RECIPIENT_TEMPFAIL:
		return RECIPIENT_TEMPFAIL;
	default:
		return RECIPIENT_NO_POSTMASTER;
	}
}

enum recipient_status
recipient_resolve(const struct conf *conf, const struct addr *a,
    struct recipient *out, char *why, size_t cap)
{
	assert(!a->is_null);
	assert(cap > 0);
	why[0] = '\0';
	if (a->domain[0] == '\0')
		return resolve_postmaster(conf, out, why, cap);
	return resolve_mailbox(conf, a, out, why, cap);
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
	[RECIPIENT_LOW_UID] = { 550, "5.1.1", "no such user" },
	/* RFC 3463 X.4.3: directory server failure */
	[RECIPIENT_TEMPFAIL] = { 451, "4.4.3", "user lookup failed, try "
	    "again later" },
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
