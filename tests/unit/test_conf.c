/* SPDX-License-Identifier: MIT */
/*
 * conf: the built-in defaults, a file that sets every option, one bad file
 * per check (each error must name the file, the line and the option),
 * users_file loading, the lookups, and the shipped sample configurations.
 * Files are written into a mkdtemp() directory; tests run from the top.
 */
#include "config.h"

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "suites.h"
#include "testutil.h"
#include "userdb.h"
#include "quota.h"
#include "tls.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/var/run"
#endif

static char	tmpdir[TEST_DIR_MAX];

static void
setup(void)
{
	test_mkdtemp(tmpdir, sizeof(tmpdir), "conf");
}

static void
teardown(void)
{
	(void)test_rmtree(tmpdir);
}

/* Writes text to tmpdir/name and puts that path in path (PATH_MAX). */
static void
write_file(const char *name, const char *text, char *path)
{
	test_pathf(path, "%s/%s", tmpdir, name);
	test_write_file(path, text);
}

static struct conf *
load_text(const char *text, char *err, size_t cap)
{
	char	path[PATH_MAX];

	write_file("lmtpd.conf", text, path);
	return conf_load(path, err, cap);
}

static struct conf *
load_ok(const char *text)
{
	struct conf	*c;
	char		 err[512];

	c = load_text(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "conf_load failed: %s", err);
	return c;
}

/* ---- defaults ---------------------------------------------------------- */

static void
check_defaults(const struct conf *c, bool with_pid_file)
{
	char	host[256];

	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_int_eq(c->listen[0].kind, CONF_LISTEN_INET);
	ck_assert_str_eq(c->listen[0].spec, "inet:127.0.0.1:24");
	ck_assert_str_eq(c->listen[0].host, "127.0.0.1");
	ck_assert_str_eq(c->listen[0].port, "24");
	ck_assert_ptr_null(c->listen[0].path);
	ck_assert_int_eq(c->listen[1].kind, CONF_LISTEN_INET);
	ck_assert_str_eq(c->listen[1].host, "::1");
	ck_assert_str_eq(c->listen[1].port, "24");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_str_eq(c->socket_owner, "");
	ck_assert_str_eq(c->socket_group, "");
	ck_assert_uint_eq(c->n_allow, 2);
	ck_assert_int_eq(c->allow[0].family, AF_INET);
	ck_assert_uint_eq(c->allow[0].prefix, 8);
	ck_assert_int_eq(c->allow[1].family, AF_INET6);
	ck_assert_uint_eq(c->allow[1].prefix, 128);
	ck_assert(c->strict_permissions);
	ck_assert(!c->log_json);
	ck_assert_str_eq(c->user, "mail");
	ck_assert_str_eq(c->group, "mail");
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	ck_assert_str_eq(c->hostname, host);
	ck_assert_uint_eq(c->n_domains, 1);
	ck_assert_str_eq(c->domains[0], "localhost");
	ck_assert_str_eq(c->maildir, "/var/mail/%d/%n/Maildir");
	ck_assert_str_eq(c->users_file, "");
	ck_assert_ptr_null(c->userdb);
	ck_assert_uint_eq(c->n_lookup, 1);
	ck_assert_int_eq(c->lookup[0], CONF_LOOKUP_TEMPLATE);
	ck_assert_str_eq(c->mail_root, "/var/mail");
	ck_assert_str_eq(c->passwd_maildir, "%h/Maildir");
	ck_assert_uint_eq(c->min_uid, 1000);
	ck_assert(!c->preserve_case);
	ck_assert_str_eq(c->recipient_delimiter, "");
	ck_assert_int_eq(c->detail_folders, CONF_FOLDERS_EXISTING);
	ck_assert_str_eq(c->detail_folder_pattern, "*");
	ck_assert_uint_eq(c->max_detail_folders, 100);
	ck_assert(!quota_is_set(&c->quota));
	ck_assert(!c->quota_bounce);
	ck_assert_uint_eq(c->min_free_space, 32 * 1024 * 1024);
	ck_assert_uint_eq(c->dedup_window, 3600);
	ck_assert(c->delivered_to);
	ck_assert_uint_eq(c->tmp_cleanup_interval, 3600);
	ck_assert_str_eq(c->postmaster, "postmaster@localhost");
	ck_assert_str_eq(c->spool_dir, "/var/tmp");
	ck_assert_uint_eq(c->max_message_size, 52428800);
	ck_assert_uint_eq(c->max_recipients, 1000);
	ck_assert_uint_eq(c->max_bad_commands, 20);
	ck_assert_uint_eq(c->command_timeout, 300);
	ck_assert_uint_eq(c->data_timeout, 600);
	ck_assert_uint_eq(c->shutdown_timeout, 30);
	ck_assert_uint_eq(c->min_spare, 2);
	ck_assert_uint_eq(c->max_spare, 8);
	ck_assert_uint_eq(c->max_children, 32);
	ck_assert_uint_eq(c->max_requests, 1000);
	ck_assert_str_eq(c->log_target, "syslog");
	ck_assert_str_eq(c->log_facility, "mail");
	if (with_pid_file) {
		ck_assert_str_eq(c->pid_file, RUNSTATEDIR "/lmtpd.pid");
		ck_assert_str_eq(c->status_socket,
		    RUNSTATEDIR "/lmtpd.status");
	}
	ck_assert_ptr_null(c->metrics.spec);
	ck_assert_str_eq(c->tls_cert, "");
	ck_assert_str_eq(c->tls_key, "");
	ck_assert_int_eq(c->tls, CONF_TLS_OFF);
	ck_assert_ptr_null(c->tls_ctx);
}

START_TEST(test_defaults)
{
	struct conf	*c;
	char		 err[256] = "untouched";

	c = conf_load(NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(c->file, "");
	check_defaults(c, true);
	ck_assert(conf_user_exists(c, "anyone@localhost"));
	conf_free(c);
}
END_TEST

START_TEST(test_empty_file_is_defaults)
{
	struct conf	*c;

	c = load_ok("");
	check_defaults(c, true);
	ck_assert_str_ne(c->file, "");
	conf_free(c);
	c = load_ok("# only a comment\n\n/* and another */\n");
	check_defaults(c, true);
	conf_free(c);
}
END_TEST

/* ---- a file with every option ------------------------------------------ */

START_TEST(test_every_option)
{
	char		 users[PATH_MAX], text[PATH_MAX + 1024];
	struct conf	*c;

	write_file("users", "bob@example.org\n", users);
	snprintf(text, sizeof(text),
	    "listen = {\"inet:*:2424\", \"inet:[2001:db8::1]:0024\",\n"
	    "    \"inet:mail.example.org:24\", \"unix:/run/lmtpd/lmtp.sock\"}\n"
	    "socket_mode = \"0600\"\n"
	    "socket_owner = \"postfix\"\n"
	    "socket_group = postfix\n"
	    "allow = {\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.1\"}\n"
	    "strict_permissions = false\n"
	    "user = \"vmail\"\n"
	    "group = \"vmail\"\n"
	    "hostname = \"mx.example.org\"\n"
	    "domains = {\"example.org\", \"Example.NET\"}\n"
	    "maildir = \"/srv/mail/%%d/%%u/Maildir\"\n"
	    "users_file = \"%s\"\n"
	    "postmaster = \"Bob@Example.org\"\n"
	    "spool_dir = \"/var/spool/lmtpd\"\n"
	    "max_message_size = 10m\n"
	    "max_recipients = 50\n"
	    "max_bad_commands = 0\n"
	    "command_timeout = 120\n"
	    "data_timeout = 900\n"
	    "shutdown_timeout = 5\n"
	    "min_spare = 3\n"
	    "max_spare = 6\n"
	    "max_children = 12\n"
	    "max_requests = 0\n"
	    "log_target = \"stderr\"\n"
	    "log_facility = \"local3\"\n"
	    "log_format = \"json\"\n"
	    "pid_file = \"/run/lmtpd/lmtpd.pid\"\n"
	    "status_socket = \"/run/lmtpd/status.sock\"\n"
	    "metrics_listen = \"inet:127.0.0.1:9124\"\n", users);
	c = load_ok(text);
	ck_assert_uint_eq(c->n_allow, 3);
	ck_assert_uint_eq(c->allow[0].prefix, 8);
	ck_assert_uint_eq(c->allow[1].prefix, 32);
	ck_assert_uint_eq(c->allow[2].prefix, 32);
	ck_assert(!c->strict_permissions);
	ck_assert(c->log_json);
	ck_assert_uint_eq(c->n_listen, 4);
	ck_assert_int_eq(c->listen[0].kind, CONF_LISTEN_INET);
	ck_assert_str_eq(c->listen[0].host, "*");
	ck_assert_str_eq(c->listen[0].port, "2424");
	ck_assert_str_eq(c->listen[1].spec, "inet:[2001:db8::1]:0024");
	ck_assert_str_eq(c->listen[1].host, "2001:db8::1");
	ck_assert_str_eq(c->listen[1].port, "24");
	ck_assert_str_eq(c->listen[2].host, "mail.example.org");
	ck_assert_int_eq(c->listen[3].kind, CONF_LISTEN_UNIX);
	ck_assert_str_eq(c->listen[3].path, "/run/lmtpd/lmtp.sock");
	ck_assert_ptr_null(c->listen[3].host);
	ck_assert_uint_eq(c->socket_mode, 0600);
	ck_assert_str_eq(c->socket_owner, "postfix");
	ck_assert_str_eq(c->socket_group, "postfix");
	ck_assert_str_eq(c->user, "vmail");
	ck_assert_str_eq(c->group, "vmail");
	ck_assert_str_eq(c->hostname, "mx.example.org");
	ck_assert_uint_eq(c->n_domains, 2);
	ck_assert_str_eq(c->domains[0], "example.net");
	ck_assert_str_eq(c->domains[1], "example.org");
	ck_assert_str_eq(c->maildir, "/srv/mail/%d/%u/Maildir");
	ck_assert_str_eq(c->users_file, users);
	ck_assert_uint_eq(userdb_count(c->userdb), 1);
	ck_assert_int_eq(c->lookup[0], CONF_LOOKUP_FILE);
	ck_assert_str_eq(c->postmaster, "bob@example.org");
	ck_assert_str_eq(c->spool_dir, "/var/spool/lmtpd");
	ck_assert_uint_eq(c->max_message_size, 10 * 1024 * 1024);
	ck_assert_uint_eq(c->max_recipients, 50);
	ck_assert_uint_eq(c->max_bad_commands, 0);
	ck_assert_uint_eq(c->command_timeout, 120);
	ck_assert_uint_eq(c->data_timeout, 900);
	ck_assert_uint_eq(c->shutdown_timeout, 5);
	ck_assert_uint_eq(c->min_spare, 3);
	ck_assert_uint_eq(c->max_spare, 6);
	ck_assert_uint_eq(c->max_children, 12);
	ck_assert_uint_eq(c->max_requests, 0);
	ck_assert_str_eq(c->log_target, "stderr");
	ck_assert_str_eq(c->log_facility, "local3");
	ck_assert_str_eq(c->pid_file, "/run/lmtpd/lmtpd.pid");
	ck_assert_str_eq(c->status_socket, "/run/lmtpd/status.sock");
	ck_assert_str_eq(c->metrics.spec, "inet:127.0.0.1:9124");
	ck_assert_str_eq(c->metrics.host, "127.0.0.1");
	ck_assert_str_eq(c->metrics.port, "9124");
	conf_free(c);
}
END_TEST

static const struct {
	const char	*text;
	uint64_t	 size;
} sizes[] = {
	{ "max_message_size = 0\n", 0 },
	{ "max_message_size = 1000\n", 1000 },
	{ "max_message_size = 010\n", 10 },	/* decimal, not octal */
	{ "max_message_size = 512k\n", 512 * 1024 },
	{ "max_message_size = \"50M\"\n", 50 * 1024 * 1024 },
	{ "max_message_size = 2g\n", 2ULL * 1024 * 1024 * 1024 },
};

START_TEST(test_sizes)
{
	struct conf	*c;

	c = load_ok(sizes[_i].text);
	ck_assert_uint_eq(c->max_message_size, sizes[_i].size);
	conf_free(c);
}
END_TEST

/* The last assignment wins; += appends to the default or earlier value. */
START_TEST(test_reassign_and_append)
{
	struct conf	*c;

	c = load_ok("domains = {\"a.example\"}\n"
	    "domains += {\"c.example\"}\n"
	    "domains += \"b.example\"\n"
	    "user = \"first\"\n"
	    "user = \"second\"\n"
	    "listen += \"unix:/run/x.sock\"\n");
	ck_assert_uint_eq(c->n_domains, 3);
	ck_assert_str_eq(c->domains[0], "a.example");
	ck_assert_str_eq(c->domains[1], "b.example");
	ck_assert_str_eq(c->domains[2], "c.example");
	ck_assert_str_eq(c->user, "second");
	ck_assert_uint_eq(c->n_listen, 3);
	ck_assert_str_eq(c->listen[2].path, "/run/x.sock");
	/* The first domain as written, not as sorted. */
	ck_assert_str_eq(c->postmaster, "postmaster@a.example");
	conf_free(c);
}
END_TEST

/* libconfuse 3.3 alone rejects the comments inside the list. */
START_TEST(test_comments_anywhere)
{
	struct conf	*c;

	c = load_ok("domains = {\n"
	    "    \"b.example\",\t# the main one\n"
	    "    // \"x.example\",\n"
	    "    /* \"y.example\", */ \"a.example\"\n"
	    "}\n"
	    "maildir = \"/var/mail/#%n\" # a hash in quotes is not a comment\n"
	    "hostname = 'mx//1' // nor two slashes\n");
	ck_assert_uint_eq(c->n_domains, 2);
	ck_assert_str_eq(c->domains[0], "a.example");
	ck_assert_str_eq(c->domains[1], "b.example");
	ck_assert_str_eq(c->maildir, "/var/mail/#%n");
	ck_assert_str_eq(c->hostname, "mx//1");
	conf_free(c);
}
END_TEST

/* ---- bad files: file, line and option in every message ----------------- */

static const struct {
	const char	*text;
	int		 line;		/* 0: the message has no line */
	const char	*option;	/* NULL: not a per-option error */
} bad[] = {
	/* 0: unknown option, after comments that libconfuse miscounts */
	{ "# one\n// two\n/* three\n four */\nuser = \"x\"\nbogus = 1\n", 6,
	    "bogus" },
	/* listen */
	{ "listen = {\"inet:127.0.0.1:24\",\n  \"tcp:127.0.0.1:24\"}\n", 2,
	    "listen" },
	{ "listen = \"inet:127.0.0.1\"\n", 1, "listen" },
	{ "listen = \"inet:127.0.0.1:0\"\n", 1, "listen" },
	{ "listen = \"inet:127.0.0.1:65536\"\n", 1, "listen" },
	{ "listen = \"inet:127.0.0.1:2x\"\n", 1, "listen" },
	{ "listen = \"inet:::1:24\"\n", 1, "listen" },
	{ "listen = \"inet:[::1:24\"\n", 1, "listen" },
	{ "listen = \"inet:[nothex]:24\"\n", 1, "listen" },
	{ "listen = \"inet::24\"\n", 1, "listen" },
	{ "listen = \"inet:300.1.1.1:24\"\n", 1, "listen" },
	{ "listen = \"unix:lmtp.sock\"\n", 1, "listen" },
	{ "listen = \"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\"\n", 1, "listen" },
	{ "listen = {\"unix:/a\", \"unix:/a\"}\n", 1, "listen" },
	{ "\nlisten = {}\n", 0, "listen" },
	/* socket_mode */
	{ "\nsocket_mode = \"0999\"\n", 2, "socket_mode" },
	{ "socket_mode = \"rw-rw----\"\n", 1, "socket_mode" },
	{ "socket_mode = \"01777\"\n", 1, "socket_mode" },
	/* identity */
	{ "user = \"\"\n", 1, "user" },
	{ "group = \"mail group\"\n", 1, "group" },
	{ "hostname = \"mx example\"\n", 1, "hostname" },
	/* domains */
	{ "domains = {\"example.org\",\n\"a/b.example\"}\n", 2, "domains" },
	{ "domains = {\".example.org\"}\n", 1, "domains" },
	{ "domains = {\"example..org\"}\n", 1, "domains" },
	{ "domains = {\"example.org.\"}\n", 1, "domains" },
	{ "domains = {\"\"}\n", 1, "domains" },
	{ "domains = {\"a b.example\"}\n", 1, "domains" },
	/* maildir */
	{ "maildir = \"mail/%d/%n\"\n", 1, "maildir" },
	{ "maildir = \"/var/mail/%x/%n\"\n", 1, "maildir" },
	{ "maildir = \"/var/mail/%n/%\"\n", 1, "maildir" },
	{ "maildir = \"/var/mail/%d\"\n", 1, "maildir" },
	/* postmaster, paths */
	{ "postmaster = \"root@elsewhere.example\"\n", 1, "postmaster" },
	{ "postmaster = \"root\"\n", 1, "postmaster" },
	{ "allow = {\"127.0.0.1/8\"}\n", 1, "allow" },
	{ "log_format = \"xml\"\n", 1, "log_format" },
	{ "allow = {\"::1\", \"localhost\"}\n", 1, "allow" },
	{ "allow = {\"10.0.0.0/33\"}\n", 1, "allow" },
	{ "postmaster = \"../root@localhost\"\n", 1, "postmaster" },
	{ "postmaster = \"a/b@localhost\"\n", 1, "postmaster" },
	{ "postmaster = \".root@localhost\"\n", 1, "postmaster" },
	{ "spool_dir = \"tmp\"\n", 1, "spool_dir" },
	{ "pid_file = \"lmtpd.pid\"\n", 1, "pid_file" },
	{ "status_socket = \"status.sock\"\n", 1, "status_socket" },
	{ "metrics_listen = \"unix:/run/m.sock\"\n", 1, "metrics_listen" },
	{ "metrics_listen = \"inet:127.0.0.1:99999\"\n", 1,
	    "metrics_listen" },
	{ "listen = {\"inet:127.0.0.1:24\"}\n"
	    "metrics_listen = \"inet:127.0.0.1:24\"\n", 2, "metrics_listen" },
	{ "users_file = \"users\"\n", 1, "users_file" },
	/* STARTTLS */
	{ "tls_cert = \"cert.pem\"\ntls_key = \"/k.pem\"\n", 1, "tls_cert" },
	{ "tls_cert = \"/c.pem\"\ntls_key = \"key.pem\"\n", 2, "tls_key" },
	{ "tls_cert = \"/c.pem\"\n", 1, "tls_cert" },
	{ "\ntls_key = \"/k.pem\"\n", 2, "tls_key" },
	{ "tls = \"maybe\"\n", 1, "tls" },
	{ "tls = \"required\"\n", 1, "tls" },
	{ "tls = \"optional\"\n", 1, "tls" },
	{ "tls_cert = \"/nonexistent/c.pem\"\n"
	    "tls_key = \"/nonexistent/k.pem\"\n", 1, "tls_cert" },
	/* numbers */
	{ "max_message_size = -1\n", 1, "max_message_size" },
	{ "max_message_size = 5x\n", 1, "max_message_size" },
	{ "max_message_size = 99999999999999999999\n", 1,
	    "max_message_size" },
	{ "max_message_size = 9999999999999g\n", 1, "max_message_size" },
	{ "max_recipients = 0\n", 1, "max_recipients" },
	{ "max_recipients = 100001\n", 1, "max_recipients" },
	{ "max_recipients = 10k\n", 1, "max_recipients" },
	{ "max_bad_commands = -1\n", 1, "max_bad_commands" },
	{ "max_bad_commands = 100001\n", 1, "max_bad_commands" },
	{ "command_timeout = 0\n", 1, "command_timeout" },
	{ "data_timeout = 86401\n", 1, "data_timeout" },
	{ "shutdown_timeout = 3601\n", 1, "shutdown_timeout" },
	{ "max_children = \"many\"\n", 1, "max_children" },
	{ "max_requests = -1\n", 1, "max_requests" },
	/* the pool: the later of the two settings takes the blame */
	{ "min_spare = 5\nmax_spare = 3\n", 2, "max_spare" },
	{ "max_spare = 3\nmin_spare = 5\n", 2, "min_spare" },
	{ "max_spare = 1\n", 1, "max_spare" },
	{ "max_spare = 40\n", 1, "max_spare" },
	{ "max_children = 4\n", 1, "max_children" },
	{ "min_spare = 0\n", 1, "min_spare" },
	/* logging */
	{ "log_target = \"file\"\n", 1, "log_target" },
	{ "log_facility = \"kern\"\n", 1, "log_facility" },
	/* syntax, reported by libconfuse */
	{ "user = \"x\"\n\nmax_children 4\n", 3, "max_children" },
	{ "user = {\"a\", \"b\"}\n", 1, NULL },
	{ "user = \"mail\n", 1, NULL },
	{ "user = \"x\"\n/* never closed\n", 2, NULL },
	{ "}\n", 1, NULL },
};

START_TEST(test_bad_file)
{
	struct conf	*c;
	char		 path[PATH_MAX], err[512], want[PATH_MAX + 32];

	write_file("bad.conf", bad[_i].text, path);
	err[0] = '\0';
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c == NULL, "case %d loaded", _i);
	if (bad[_i].line > 0)
		snprintf(want, sizeof(want), "%s:%d: ", path, bad[_i].line);
	else
		snprintf(want, sizeof(want), "%s: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "case %d: '%s' does not start with '%s'", _i, err, want);
	if (bad[_i].option != NULL) {
		snprintf(want, sizeof(want), "'%s'", bad[_i].option);
		ck_assert_msg(strstr(err, want) != NULL,
		    "case %d: '%s' does not name %s", _i, err, want);
	}
}
END_TEST

START_TEST(test_missing_file)
{
	char	 path[PATH_MAX], err[512], want[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
	ck_assert_ptr_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	/* Neither a directory nor a FIFO (whose open must not block). */
	ck_assert_ptr_null(conf_load(tmpdir, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_ptr_null(conf_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(test_small_err_buffer)
{
	char	err[8];

	ck_assert_ptr_null(load_text("bogus = 1\n", err, sizeof(err)));
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	ck_assert_ptr_null(load_text("bogus = 1\n", NULL, 0));
}
END_TEST

/* ---- users_file --------------------------------------------------------- */

static struct conf *
load_with_users(const char *users_text, char *users, char *err, size_t cap)
{
	char	text[PATH_MAX + 128];

	write_file("users", users_text, users);
	snprintf(text, sizeof(text),
	    "domains = {\"example.org\", \"example.net\"}\n"
	    "users_file = \"%s\"\n"
	    "postmaster = \"alice@example.org\"\n", users);
	return load_text(text, err, cap);
}

START_TEST(test_users_file)
{
	struct conf	*c;
	char		 users[PATH_MAX], err[512];

	c = load_with_users("# the users\n"
	    "\n"
	    "  Carol@Example.ORG  \n"
	    "alice@example.org\n"
	    "\t# indented comment\n"
	    "bob@example.net\r\n"
	    "@example.net /srv/%d/%n 5000:5000 1g\n"
	    "zed@example.org", users, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(userdb_count(c->userdb), 5);
	ck_assert_str_eq(userdb_entry(c->userdb, 0)->key, "carol@example.org");
	ck_assert_str_eq(userdb_entry(c->userdb, 3)->key, "@example.net");
	ck_assert(conf_needs_switch(c));
	ck_assert(conf_user_exists(c, "alice@example.org"));
	ck_assert(conf_user_exists(c, "Alice@EXAMPLE.org"));
	ck_assert(conf_user_exists(c, "CAROL@example.org"));
	ck_assert(conf_user_exists(c, "zed@example.org"));
	ck_assert(conf_user_exists(c, "anyone@example.net"));
	ck_assert(!conf_user_exists(c, "alic@example.org"));
	ck_assert(!conf_user_exists(c, "alice@example.orgx"));
	ck_assert(!conf_user_exists(c, ""));
	conf_free(c);
}
END_TEST

/*
 * RFC 5321 §4.5.1: <Postmaster> must be deliverable, so with a users_file
 * the postmaster must be listed; the later of the two settings is blamed.
 */
START_TEST(test_users_file_needs_postmaster)
{
	struct conf	*c;
	char		 users[PATH_MAX], text[PATH_MAX + 128], err[512];
	char		 want[PATH_MAX + 64];

	ck_assert_ptr_null(load_with_users("# nobody yet\n", users, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), "%s/lmtpd.conf:3: option 'postmaster'",
	    tmpdir);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	/* The default postmaster, postmaster@ the first domain. */
	write_file("users", "alice@example.org\n", users);
	snprintf(text, sizeof(text),
	    "domains = {\"example.org\"}\nusers_file = \"%s\"\n", users);
	ck_assert_ptr_null(load_text(text, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s/lmtpd.conf:2: option 'users_file'",
	    tmpdir);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_msg(strstr(err, "postmaster@example.org") != NULL, "%s",
	    err);

	write_file("users", "PostMaster@example.org\n", users);
	c = load_text(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(userdb_count(c->userdb), 1);
	ck_assert(conf_user_exists(c, "postmaster@EXAMPLE.org"));
	ck_assert(!conf_user_exists(c, "alice@example.org"));
	conf_free(c);
}
END_TEST

START_TEST(test_users_file_missing)
{
	char	text[PATH_MAX + 64], users[PATH_MAX], err[512];
	char	want[PATH_MAX + 32];

	snprintf(users, sizeof(users), "%s/no-such-users", tmpdir);
	snprintf(text, sizeof(text), "\nusers_file = \"%s\"\n", users);
	ck_assert_ptr_null(load_text(text, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s/lmtpd.conf:2: option 'users_file'",
	    tmpdir);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_msg(strstr(err, users) != NULL, "%s", err);
}
END_TEST

static const struct {
	const char	*text;
	int		 line;
} bad_users[] = {
	{ "alice@example.org\n# x\nbob\n", 3 },
	{ "alice@elsewhere.example\n", 1 },
	{ "\n@elsewhere.example\n", 2 },
	{ "a b@example.org\n", 1 },
	{ "alice@example.org\nbob@example.org\nALICE@example.org\n", 3 },
	{ "alice@example.org 10m /srv/%n\n", 1 },
	{ "alice@example.org /srv/%x\n", 1 },
	{ "alice@example.org lots\n", 1 },
	{ "alice@example.org 1000:\n", 1 },
	{ "alice@example.org /srv/%n 1000:1000 1m extra\n", 1 },
	{ "alice@\n", 1 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@example.org\n", 1 },
	/* the RCPT rule: C1 controls and ill-formed UTF-8 are unsafe */
	{ "alice@example.org\na\xc2\x85@example.org\n", 2 },
	{ "a\xc0\xaf@example.org\n", 1 },
};

START_TEST(test_users_file_bad_line)
{
	char	users[PATH_MAX], err[512], want[PATH_MAX + 32];

	ck_assert_ptr_null(load_with_users(bad_users[_i].text, users, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), "%s:%d: ", users, bad_users[_i].line);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "case %d: '%s' does not start with '%s'", _i, err, want);
}
END_TEST

START_TEST(test_users_file_long_line)
{
	char	line[1100], users[PATH_MAX], err[512], want[PATH_MAX + 32];

	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	ck_assert_ptr_null(load_with_users(line, users, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:1: ", users);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

/* ---- lookups ------------------------------------------------------------ */

START_TEST(test_domains_sorted_unique)
{
	struct conf	*c;

	c = load_ok("domains = {\"B.example\", \"a.example\", \"b.EXAMPLE\",\n"
	    "    \"c.example\", \"a.example\"}\n");
	ck_assert_uint_eq(c->n_domains, 3);
	ck_assert_str_eq(c->domains[0], "a.example");
	ck_assert_str_eq(c->domains[1], "b.example");
	ck_assert_str_eq(c->domains[2], "c.example");
	ck_assert_str_eq(c->postmaster, "postmaster@b.example");
	ck_assert(conf_domain_is_local(c, "a.example"));
	ck_assert(conf_domain_is_local(c, "A.EXAMPLE"));
	ck_assert(conf_domain_is_local(c, "C.Example"));
	ck_assert(!conf_domain_is_local(c, "d.example"));
	ck_assert(!conf_domain_is_local(c, "example"));
	ck_assert(!conf_domain_is_local(c, "a.example.evil"));
	ck_assert(!conf_domain_is_local(c, ""));
	/* No users_file: every address exists. */
	ck_assert(conf_user_exists(c, "anybody@a.example"));
	conf_free(c);
}
END_TEST

/* ---- the shipped samples ------------------------------------------------ */

START_TEST(test_sample_loads)
{
	struct conf	*c;
	char		 err[512];

	c = conf_load("etc/lmtpd.conf", err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	check_defaults(c, true);
	conf_free(c);
}
END_TEST

/*
 * The sample's "#option = value" lines claim to be the defaults: with
 * every one of them switched on, the result must still be the defaults
 * (pid_file aside, which the build chooses).
 */
START_TEST(test_sample_shows_defaults)
{
	char		 line[1024], path[PATH_MAX], err[512];
	struct conf	*c;
	FILE		*in, *out;
	int		 n = 0;

	in = fopen("etc/lmtpd.conf", "r");
	ck_assert_ptr_nonnull(in);
	snprintf(path, sizeof(path), "%s/uncommented.conf", tmpdir);
	out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	while (fgets(line, sizeof(line), in) != NULL) {
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z') {
			fputs(line + 1, out);
			n++;
		} else
			fputs(line, out);
	}
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_int_ge(n, 20);
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	check_defaults(c, false);
	conf_free(c);
}
END_TEST

START_TEST(test_dev_sample_loads)
{
	char		 line[1024], path[PATH_MAX], err[512], want[PATH_MAX];
	char		*at;
	struct conf	*c;
	FILE		*in, *out;
	size_t		 n = strlen(tmpdir);

	in = fopen("etc/lmtpd-dev.conf.in", "r");
	ck_assert_ptr_nonnull(in);
	snprintf(path, sizeof(path), "%s/dev.conf", tmpdir);
	out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	/* What the Makefile's sed does. */
	while (fgets(line, sizeof(line), in) != NULL) {
		for (at = strstr(line, "@RUN_DIR@"); at != NULL;
		    at = strstr(at + n, "@RUN_DIR@")) {
			ck_assert_uint_lt(strlen(line) + n, sizeof(line));
			memmove(at + n, at + 9, strlen(at + 9) + 1);
			memcpy(at, tmpdir, n);
		}
		fputs(line, out);
	}
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(c->listen[0].host, "127.0.0.1");
	ck_assert_str_eq(c->listen[0].port, "2424");
	snprintf(want, sizeof(want), "%s/lmtp.sock", tmpdir);
	ck_assert_str_eq(c->listen[1].path, want);
	ck_assert(conf_domain_is_local(c, "example.org"));
	ck_assert(conf_domain_is_local(c, "localhost"));
	snprintf(want, sizeof(want), "%s/mail/%%d/%%n/Maildir", tmpdir);
	ck_assert_str_eq(c->maildir, want);
	snprintf(want, sizeof(want), "%s/spool", tmpdir);
	ck_assert_str_eq(c->spool_dir, want);
	snprintf(want, sizeof(want), "%s/lmtpd.pid", tmpdir);
	ck_assert_str_eq(c->pid_file, want);
	ck_assert_str_eq(c->log_target, "stderr");
	ck_assert_uint_eq(c->min_spare, 1);
	ck_assert_uint_eq(c->max_spare, 2);
	ck_assert_uint_eq(c->max_children, 4);
	conf_free(c);
}
END_TEST
/* A self-signed P-256 certificate (CN=localhost, 100 years) and its key. */
static const char test_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfzCCASWgAwIBAgIUFZppJzkGOxfhwAjUdTAvbtHJO68wCgYIKoZIzj0EAwIw\n"
	"FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMTA3NTUxNVoYDzIxMjYxMTA3\n"
	"MDc1NTE1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAARIBPONVslVu+mRL2uhib6J7WdTV28cf7oncTuIUiWfziQ4eZrpQRTI\n"
	"mlsvgZlX0rXkjuxyQb5G5JlhQWOoirn/o1MwUTAdBgNVHQ4EFgQUUfjEiP1wqQt3\n"
	"3VETW4ChSScp43swHwYDVR0jBBgwFoAUUfjEiP1wqQt33VETW4ChSScp43swDwYD\n"
	"VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBSakHDQLYm3bSAh8qKPwXZ\n"
	"D2D5OOyEgwSBdQn/vlPV2wIhAOLWGcq3gNCoBCmxitq0yA2PqBVGakNpY2eZ6hBy\n"
	"iEH6\n"
	"-----END CERTIFICATE-----\n";
static const char test_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2V15SYvehLz4dWzv\n"
	"43+Cyv9MarfCflxBy1YQXufNzEShRANCAARIBPONVslVu+mRL2uhib6J7WdTV28c\n"
	"f7oncTuIUiWfziQ4eZrpQRTImlsvgZlX0rXkjuxyQb5G5JlhQWOoirn/\n"
	"-----END PRIVATE KEY-----\n";
/* Another key: it does not match the certificate. */
static const char other_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg17MxDZjJgUuzYGE0\n"
	"ED7U/IwubScklgwb50yceLsRKXyhRANCAAQMlc/5ny9hCwUZ9qAGbXazsLWGSN06\n"
	"OH4Ggi+JVDnUibEtCE5qYVyba8MC3qbyCtYQFQRw+kdoN0GHxn85bMxw\n"
	"-----END PRIVATE KEY-----\n";

/* Writes the PEM files and a configuration naming them, with extra. */
static struct conf *
load_tls(const char *key_pem, const char *extra, char *err, size_t cap)
{
	char	cert[PATH_MAX], key[PATH_MAX], text[3 * PATH_MAX];

	write_file("cert.pem", test_cert_pem, cert);
	write_file("key.pem", key_pem, key);
	snprintf(text, sizeof(text), "tls_cert = \"%s\"\ntls_key = \"%s\"\n%s",
	    cert, key, extra);
	return load_text(text, err, cap);
}

/* A certificate makes STARTTLS optional; its context is built at load. */
START_TEST(test_tls_modes)
{
	static const struct {
		const char	*extra;
		enum conf_tls	 tls;
	} t[] = {
		{ "", CONF_TLS_OPTIONAL },
		{ "tls = \"optional\"\n", CONF_TLS_OPTIONAL },
		{ "tls = \"required\"\n", CONF_TLS_REQUIRED },
		{ "tls = \"off\"\n", CONF_TLS_OFF },
	};
	struct conf	*c;
	char		 err[512];

	c = load_tls(test_key_pem, t[_i].extra, err, sizeof(err));
	if (!tls_available()) {
		ck_assert_ptr_null(c);
		ck_assert_ptr_nonnull(strstr(err,
		    "option 'tls_cert': lmtpd was built without TLS"));
		return;
	}
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->tls, t[_i].tls);
	if (t[_i].tls == CONF_TLS_OFF)
		ck_assert_ptr_null(c->tls_ctx);
	else
		ck_assert_ptr_nonnull(c->tls_ctx);
	ck_assert_ptr_nonnull(strstr(c->tls_cert, "/cert.pem"));
	ck_assert_ptr_nonnull(strstr(c->tls_key, "/key.pem"));
	conf_free(c);
}
END_TEST

/* A key that is not the certificate's, or not a key, fails the load. */
START_TEST(test_tls_bad_pair)
{
	const char	*keys[] = { other_key_pem, "not a key\n",
			    test_cert_pem };
	struct conf	*c;
	char		 err[512];

	c = load_tls(keys[_i], "", err, sizeof(err));
	ck_assert_ptr_null(c);
	if (tls_available())
		ck_assert_msg(strstr(err, ":2: option 'tls_key': key ") !=
		    NULL, "%s", err);
}
END_TEST

Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc;

	tc = tcase_create("defaults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_empty_file_is_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_option);
	tcase_add_loop_test(tc, test_sizes, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_test(tc, test_reassign_and_append);
	tcase_add_test(tc, test_comments_anywhere);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad_file, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("users");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_users_file);
	tcase_add_test(tc, test_users_file_needs_postmaster);
	tcase_add_test(tc, test_users_file_missing);
	tcase_add_loop_test(tc, test_users_file_bad_line, 0,
	    sizeof(bad_users) / sizeof(bad_users[0]));
	tcase_add_test(tc, test_users_file_long_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("lookup");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_domains_sorted_unique);
	suite_add_tcase(s, tc);

	tc = tcase_create("samples");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sample_loads);
	tcase_add_test(tc, test_sample_shows_defaults);
	tcase_add_test(tc, test_dev_sample_loads);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_tls_modes, 0, 4);
	tcase_add_loop_test(tc, test_tls_bad_pair, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}
