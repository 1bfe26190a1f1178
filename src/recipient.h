/* SPDX-License-Identifier: MIT */
/*
 * recipient: decides whether an envelope recipient is ours, whose it is
 * and where its copy goes: the lookup sources of the configuration in
 * order (users_file, passwd, the maildir template), +detail split off by
 * recipient_delimiter.  Reads users_file and NSS; writes nothing.  A local
 * part must pass addr_local_check before it is ever put into a path.
 */
#ifndef LMTPD_RECIPIENT_H
#define LMTPD_RECIPIENT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"
#include "quota.h"

struct recipient {
	/* "user+detail@domain" as delivered (Delivered-To), folded */
	char			address[ADDR_PATH_MAX + 1];
	char			user[ADDR_PATH_MAX + 1];	/* looked up */
	char			detail[ADDR_LOCAL_MAX + 1];	/* "" none */
	char			maildir[PATH_MAX];	/* the user's, no folder */
	enum conf_lookup	source;
	int			line;		/* of users_file, else 0 */
	bool			has_owner;	/* deliver as uid:gid */
	uid_t			uid;
	gid_t			gid;
	struct quota_limit	quota;
};

enum recipient_status {
	RECIPIENT_OK,
	RECIPIENT_BAD_DOMAIN,	/* 550 5.1.2: not a local domain */
	RECIPIENT_NO_USER,	/* 550 5.1.1: not in users_file */
	RECIPIENT_BAD_LOCAL,	/* 550 5.1.3: unsafe local part */
	RECIPIENT_PATH_TOO_LONG,/* 550 5.1.3: expansion over PATH_MAX */
	RECIPIENT_NO_POSTMASTER,/* 550 5.1.1: <Postmaster> and none is set */
	RECIPIENT_LOW_UID,	/* 550 5.1.1: owner below min_uid */
	RECIPIENT_TEMPFAIL,	/* 451 4.4.3: users_file or NSS unavailable */
};

/*
 * Resolves a RCPT address.  <Postmaster> (empty domain) resolves to
 * conf->postmaster.  The domain is folded to lower case, the local part
 * too unless preserve_case.  On RECIPIENT_OK fills *out; on any status
 * puts a line for the log in why (cap bytes; "" when nothing to add).
 * May block on users_file and NSS.
 */
enum recipient_status recipient_resolve(const struct conf *,
		    const struct addr *, struct recipient *out, char *why,
		    size_t cap);

/* The name of a lookup source, as in the configuration: "file" ... */
const char	*recipient_source_name(enum conf_lookup);

/* The RCPT reply for a status. */
void	recipient_reply(enum recipient_status, struct lmtp_reply *);

#endif
