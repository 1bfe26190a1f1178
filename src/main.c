/* SPDX-License-Identifier: MIT */
/*
 * main: options, config test (-t), listeners, identity, then the master.
 * Everything that can fail at start-up fails here, before any child is
 * forked, with a sysexits(3) status.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "delivery.h"
#include "identity.h"
#include "lda.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "perms.h"
#include "status.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif
#define DEFAULT_CONF	SYSCONFDIR "/lmtpd/lmtpd.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: lmtpd [-fsvV] [-c file]\n"
	    "       lmtpd -t [-c file] [address ...]\n"
	    "       lmtpd deliver [-c file] [-f sender] recipient ... "
	    "< message\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -s       print the running daemon's status and exit\n"
	    "  -t       check the configuration and exit; with addresses,\n"
	    "           show how each would be delivered (writes no mail)\n"
	    "  -v       verbose logging\n"
	    "  -V       print the version and exit\n", DEFAULT_CONF);
}

/* Detaches from the terminal: the parent exits once the child runs. */
static void
daemonize(void)
{
	pid_t	pid;
	int	fd;

	pid = fork();
	if (pid == -1)
		log_fatal(EX_OSERR, "fork");
	if (pid != 0)
		_exit(0);
	if (setsid() == -1)
		log_fatal(EX_OSERR, "setsid");
	if (chdir("/") == -1)
		log_fatal(EX_OSERR, "chdir /");
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		log_fatal(EX_OSERR, "/dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * A detached daemon must leave its pid; in the foreground (under systemd,
 * say) the supervisor knows it, so a pid file that cannot be written is
 * only a warning.
 */
static void
write_pid_file(const char *path, bool required)
{
	FILE	*f;

	if (path[0] == '\0')
		return;
	f = fopen(path, "we");
	if (f != NULL) {
		fprintf(f, "%ld\n", (long)getpid());
		if (fclose(f) != EOF)
			return;
	}
	if (required)
		log_fatal(EX_CANTCREAT, "pid file %s", path);
	log_warn("pid file %s", path);
}

/* The spool must exist before the first DATA; make it if it does not. */
static void
prepare_spool(const struct conf *conf)
{
	struct stat	 st;
	struct passwd	*pw;

	if (stat(conf->spool_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			log_fatalx(EX_CONFIG, "spool_dir %s is not a directory",
			    conf->spool_dir);
		return;
	}
	if (mkdir(conf->spool_dir, 0700) == -1)
		log_fatal(EX_CANTCREAT, "spool_dir %s", conf->spool_dir);
	/* Created by root: hand it to the user who will write in it. */
	if (geteuid() == 0) {
		pw = getpwnam(conf->user);
		if (pw == NULL || chown(conf->spool_dir, pw->pw_uid,
		    pw->pw_gid) == -1)
			log_fatal(EX_CANTCREAT, "spool_dir %s: cannot give it "
			    "to %s", conf->spool_dir, conf->user);
	}
}

/*
 * The status socket is a convenience: one that cannot be opened costs a
 * warning.  metrics_listen was asked for explicitly: failing it is fatal.
 */
static void
open_status_listeners(const struct conf *conf, struct listener *stat_out,
    struct listener *metrics_out)
{
	struct conf_listen	cl;
	char			err[1024], spec[128];

	memset(stat_out, 0, sizeof(*stat_out));
	memset(metrics_out, 0, sizeof(*metrics_out));
	stat_out->fd = metrics_out->fd = -1;
	if (conf->status_socket[0] != '\0') {
		memset(&cl, 0, sizeof(cl));
		cl.kind = CONF_LISTEN_UNIX;
		snprintf(spec, sizeof(spec), "unix:%s", conf->status_socket);
		cl.spec = spec;
		cl.path = conf->status_socket;
		if (listener_open(&cl, conf, stat_out, err, sizeof(err)) ==
		    -1) {
			log_warnx("%s; lmtpd -s will not answer", err);
			stat_out->fd = -1;
		}
	}
	if (conf->metrics.spec != NULL && listener_open(&conf->metrics, conf,
	    metrics_out, err, sizeof(err)) == -1)
		log_fatalx(EX_UNAVAILABLE, "metrics_listen: %s", err);
}

/*
 * -t with addresses: a dry run for each, as the daemon would run it (so
 * with its identity), writing no mail.  0 when every RCPT would pass.
 */
static int
explain(const struct conf *conf, int n, char *addrs[])
{
	char		err[1024];
	int		i, status = 0;
	unsigned	code;

	if (n == 0)
		return 0;
	if (identity_drop(conf->user, conf->group, conf_needs_switch(conf),
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "lmtpd: %s\n", err);
		return 1;
	}
	log_init("lmtpd", true, conf->log_facility);
	for (i = 0; i < n; i++) {
		printf("\n");
		code = delivery_explain(conf, addrs[i], 0, stdout);
		if (code < 200 || code >= 300)
			status = 1;
	}
	return status;
}

int
main(int argc, char *argv[])
{
	const char	*conf_path = NULL;
	bool		 foreground = false, test_only = false;
	bool		 status_only = false;
	bool		 verbose = false;
	struct conf	*conf;
	struct listener	*ls;
	char		 err[1024];
	char		*pid_file;
	struct listener	 stat_l, metrics_l;
	size_t		 n_ls;
	int		 ch, status;

	if (argc > 1 && strcmp(argv[1], "deliver") == 0)
		return lda_main(argc - 1, argv + 1, DEFAULT_CONF);
	while ((ch = getopt(argc, argv, "c:fhstvV")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 's':
			status_only = true;
			break;
		case 't':
			test_only = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("lmtpd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc && !test_only) {
		usage(stderr);
		return EX_USAGE;
	}
	/* Without -c, a missing default file means the built-in defaults. */
	if (conf_path == NULL && access(DEFAULT_CONF, F_OK) == 0)
		conf_path = DEFAULT_CONF;

	conf = conf_load(conf_path, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "lmtpd: %s\n", err);
		return test_only ? 1 : EX_CONFIG;
	}
	if (status_only) {
		if (conf->status_socket[0] == '\0') {
			fprintf(stderr, "lmtpd: no status_socket is "
			    "configured\n");
			return 1;
		}
		if (status_query(conf->status_socket, err, sizeof(err)) ==
		    -1) {
			fprintf(stderr, "lmtpd: %s\n", err);
			return 1;
		}
		conf_free(conf);
		return 0;
	}
	if (perms_check(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "lmtpd: %s\n", err);
		conf_free(conf);
		return test_only ? 1 : EX_CONFIG;
	}
	if (test_only) {
		printf("lmtpd: %s: configuration OK\n",
		    conf_path != NULL ? conf_path : "(built-in defaults)");
		status = explain(conf, argc - optind, argv + optind);
		conf_free(conf);
		return status;
	}

	log_init("lmtpd", foreground || strcmp(conf->log_target, "stderr") == 0,
	    conf->log_facility);
	log_set_verbose(verbose);
	log_set_format(conf->log_json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
	signal(SIGPIPE, SIG_IGN);

	ls = listener_open_set(conf, &n_ls, err, sizeof(err));
	if (ls == NULL)
		log_fatalx(EX_UNAVAILABLE, "%s", err);
	open_status_listeners(conf, &stat_l, &metrics_l);
	prepare_spool(conf);
	if (!foreground)
		daemonize();
	write_pid_file(conf->pid_file, !foreground);
	if (identity_drop(conf->user, conf->group, conf_needs_switch(conf),
	    err, sizeof(err)) == -1)
		log_fatalx(EX_NOPERM, "%s", err);
	if (geteuid() != 0)
		log_debug("running as uid %ld", (long)geteuid());

	pid_file = xstrdup(conf->pid_file);
	status = master_run(conf, conf_path, ls, n_ls, stat_l.fd,
	    metrics_l.fd);
	listener_close(&stat_l);
	listener_close(&metrics_l);
	/* Best effort: after dropping root the directory may not let us. */
	if (pid_file[0] != '\0')
		unlink(pid_file);
	x_free(pid_file);
	x_free(ls);
	return status;
}
