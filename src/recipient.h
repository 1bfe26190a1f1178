/* SPDX-License-Identifier: MIT */
/*
 * recipient: decides whether an envelope recipient is ours and where its
 * copy goes.  Policy only: no file is touched, so the whole decision is
 * testable.  The local part must pass addr_local_check before it is ever
 * put into a path.
 */
#ifndef LMTPD_RECIPIENT_H
#define LMTPD_RECIPIENT_H

#include <limits.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"

struct recipient {
	char	address[ADDR_PATH_MAX + 1];	/* "local@domain", folded */
	char	maildir[PATH_MAX];		/* expanded template */
};

enum recipient_status {
	RECIPIENT_OK,
	RECIPIENT_BAD_DOMAIN,	/* 550 5.1.2: not a local domain */
	RECIPIENT_NO_USER,	/* 550 5.1.1: not in users_file */
	RECIPIENT_BAD_LOCAL,	/* 550 5.1.3: unsafe local part */
	RECIPIENT_PATH_TOO_LONG,/* 550 5.1.3: expansion over PATH_MAX */
	RECIPIENT_NO_POSTMASTER,/* 550 5.1.1: <Postmaster> and none is set */
};

/*
 * Resolves a RCPT address.  <Postmaster> (empty domain) resolves to
 * conf->postmaster.  Domain and local part are folded to lower case for
 * the lookup and the path.  On RECIPIENT_OK fills *out.
 */
enum recipient_status recipient_resolve(const struct conf *,
		    const struct addr *, struct recipient *out);

/* The RCPT reply for a status. */
void	recipient_reply(enum recipient_status, struct lmtp_reply *);

/*
 * Expands a maildir template: %d domain, %n local part, %u local@domain,
 * %% a percent sign.  Returns 0, or -1 with errno ENAMETOOLONG (too long)
 * or EINVAL (an unknown % sequence).
 */
int	recipient_expand(const char *tmpl, const char *local,
	    const char *domain, char *out, size_t cap);

#endif
