/* SPDX-License-Identifier: MIT */
/*
 * conf: the configuration file (libconfuse), validated into an immutable
 * struct conf.  Built-in defaults cover every option.  Nothing here binds,
 * forks or changes identity: loading only reads the file (and users_file).
 */
#ifndef LMTPD_CONF_H
#define LMTPD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "access.h"
#include "quota.h"

enum conf_listen_kind {
	CONF_LISTEN_INET,
	CONF_LISTEN_UNIX,
};

/* STARTTLS on TCP listeners (RFC 3207); never on Unix sockets. */
enum conf_tls {
	CONF_TLS_OFF,
	CONF_TLS_OPTIONAL,	/* offered */
	CONF_TLS_REQUIRED,	/* offered, and 530 before it (§4) */
};

struct tls_ctx;
struct userdb;

/* Recipient lookup sources, tried in the order configured. */
enum conf_lookup {
	CONF_LOOKUP_FILE,	/* users_file */
	CONF_LOOKUP_PASSWD,	/* getpwnam(3), delivered as that user */
	CONF_LOOKUP_TEMPLATE,	/* every local part of a local domain */
};
#define CONF_LOOKUP_MAX	3

/* Where user+detail@domain goes when the folder .detail is missing. */
enum conf_folders {
	CONF_FOLDERS_EXISTING,	/* INBOX */
	CONF_FOLDERS_CREATE,	/* create it, within pattern and cap */
	CONF_FOLDERS_INBOX,	/* always INBOX, even when it exists */
};

struct conf_listen {
	enum conf_listen_kind	 kind;
	char			*spec;	/* as written: "inet:127.0.0.1:24" */
	char			*host;	/* inet: "127.0.0.1", "::1", "*" */
	char			*port;	/* inet: "24" */
	char			*path;	/* unix: absolute path */
};

struct conf {
	char			*file;		/* path read, or "" for defaults */

	struct conf_listen	*listen;
	size_t			 n_listen;
	mode_t			 socket_mode;	/* unix listeners */
	char			*socket_owner;	/* "" = leave as created */
	char			*socket_group;	/* "" = leave as created */
	struct access_net	*allow;		/* TCP clients let in */
	size_t			 n_allow;
	bool			 strict_permissions;	/* refuse o+w */

	char			*user;		/* identity after binding */
	char			*group;
	char			*hostname;	/* "" in the file = gethostname() */

	char			**domains;	/* lower case, sorted */
	size_t			 n_domains;
	char			*maildir;	/* template: %d %n %u %% */
	char			*mail_root;	/* its fixed prefix */
	char			*users_file;	/* "" = none */
	/*
	 * users_file's table, NULL when none.  The one mutable part of a
	 * conf: userdb_refresh swaps in a new table when the file changes.
	 */
	struct userdb		*userdb;
	enum conf_lookup	 lookup[CONF_LOOKUP_MAX];
	size_t			 n_lookup;
	char			*passwd_maildir;	/* %h %d %n %u %% */
	unsigned		 min_uid;	/* passwd and users_file owners */
	bool			 preserve_case;	/* of local parts */
	char			*recipient_delimiter;	/* "" = none */
	enum conf_folders	 detail_folders;
	char			*detail_folder_pattern;	/* fnmatch(3) */
	unsigned		 max_detail_folders;	/* 0 = no cap */
	struct quota_limit	 quota;		/* default; 0 = none */
	bool			 quota_bounce;	/* 552 5.2.2, not 452 4.2.2 */
	uint64_t		 min_free_space;	/* bytes; 0 = no check */
	unsigned		 dedup_window;	/* seconds; 0 = off */
	bool			 delivered_to;	/* per-copy; false = none */
	unsigned		 tmp_cleanup_interval;	/* seconds; 0 = off */
	char			*postmaster;	/* where <Postmaster> goes */
	char			*spool_dir;	/* message spool while receiving */

	uint64_t		 max_message_size;	/* 0 = unlimited */
	unsigned		 max_recipients;
	unsigned		 max_bad_commands;	/* 0 = unlimited */
	unsigned		 command_timeout;	/* seconds */
	unsigned		 data_timeout;		/* seconds */
	unsigned		 shutdown_timeout;	/* seconds */

	unsigned		 min_spare;
	unsigned		 max_spare;
	unsigned		 max_children;
	unsigned		 max_requests;		/* 0 = unlimited */

	char			*log_target;	/* "syslog" or "stderr" */
	char			*log_facility;	/* "mail", "local0" ... */
	bool			 log_json;	/* log_format = json */
	char			*pid_file;
	char			*status_socket;	/* for lmtpd -s; "" = none */
	struct conf_listen	 metrics;	/* .spec NULL = no metrics */

	char			*tls_cert;	/* "" = none */
	char			*tls_key;	/* "" = none */
	enum conf_tls		 tls;
	/*
	 * Built from tls_cert and tls_key at load (so -t and SIGHUP check
	 * them), NULL when tls is off; the children inherit it.
	 */
	struct tls_ctx		*tls_ctx;
};

/*
 * Reads and validates path; path NULL means built-in defaults only.
 * Returns a new conf, or NULL with a message "file:line: option: why" in
 * err (cap bytes).  Never exits.
 */
struct conf	*conf_load(const char *path, char *err, size_t cap);
void		 conf_free(struct conf *);

/* True when domain (any case) is one of the local domains. */
bool		 conf_domain_is_local(const struct conf *, const char *domain);
/*
 * True when address ("local@domain", any case) is listed in users_file, or
 * its domain has a catch-all there; always true when no users_file is set.
 */
bool		 conf_user_exists(const struct conf *, const char *address);

/*
 * True when some recipients are delivered as their own uid and gid (a
 * passwd lookup, or users_file owners): the daemon then keeps what
 * switching needs (identity.h).
 */
bool		 conf_needs_switch(const struct conf *);

#endif
