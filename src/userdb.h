/* SPDX-License-Identifier: MIT */
/*
 * userdb: the users_file table, one line per address:
 *	address [maildir-template] [uid:gid] [quota]
 * with "@domain" lines as catch-alls.  Parsing checks syntax and local
 * part safety only; which domains are local is conf's to check.  The table
 * reloads itself when the file changes (userdb_refresh), so a child picks
 * up an edit without a SIGHUP.
 */
#ifndef LMTPD_USERDB_H
#define LMTPD_USERDB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "quota.h"

#define USERDB_LINE_MAX	1024

struct userdb_entry {
	char			*key;		/* "local@domain" or "@domain" */
	char			*maildir;	/* a template, NULL: the default */
	bool			 has_owner;
	uid_t			 uid;
	gid_t			 gid;
	bool			 has_quota;
	struct quota_limit	 quota;
	int			 line;
};

struct userdb;

/*
 * Reads path.  Domains are folded to lower case, and local parts too
 * unless preserve_case.  Returns a new table, or NULL with "path:line:
 * why" in err (cap bytes) and errno set (EINVAL for a bad line).
 */
struct userdb	*userdb_load(const char *path, bool preserve_case, char *err,
		    size_t cap);
void		 userdb_free(struct userdb *);

/* The entries in file order, for conf's checks; valid until a refresh. */
size_t		 userdb_count(const struct userdb *);
const struct userdb_entry *userdb_entry(const struct userdb *, size_t i);

/*
 * The entry for address ("local@domain", folded as at load), else the
 * "@domain" catch-all, else NULL.  Valid until the next refresh.
 */
const struct userdb_entry *userdb_find(const struct userdb *,
		    const char *address);

/*
 * Reloads the table when the file's inode, size or mtime changed; looks at
 * most once per second of now.  Returns 0 when the table is current, or -1
 * with errno and a message in err when the file cannot be read or parsed:
 * the table is then unusable (lookups are a temporary failure) until a
 * later refresh succeeds.  Blocks on file I/O.
 */
int		 userdb_refresh(struct userdb *, time_t now, char *err,
		    size_t cap);

#endif
