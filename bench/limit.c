/* SPDX-License-Identifier: MIT */
/*
 * limit: the disk work a durable Maildir delivery cannot avoid, and
 * nothing else: create tmp/<unique> (O_CREAT|O_EXCL), write, fsync,
 * close, rename into new/, fsync new/, in N processes at once.  No
 * network, no parsing, no spool: its rate is the ceiling a delivery agent
 * is measured against.  Directory descriptors stay open for the whole run,
 * which is the cheapest way to sync new/.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_MAX_COPIES	64
#define LIMIT_MAX_PROCS		1024
#define LIMIT_LINE		78	/* payload octets a line, then LF */
/*
 * Octets a write(2), as a server streaming a message writes them.  One
 * write of a whole 1 MiB message now and then took five times as long in
 * write(2) itself, not in fsync (Linux 6.18, ext4), which would lower the
 * ceiling; 64 KiB writes never did.
 */
#define LIMIT_CHUNK		(64 * 1024)
#define NAME_LEN		128

struct box {
	int	tmp_fd;
	int	new_fd;
};

struct job {
	const char	*dir;
	long		 n_msgs;	/* for this process */
	size_t		 size;		/* octets a copy */
	int		 n_copies;
	bool		 link;		/* write once, hard-link the rest */
};

static void	usage(void) __attribute__((noreturn));
static void	die(const char *) __attribute__((noreturn));
static long	parse_num(const char *, long, long);
static void	make_dirs(const char *, int);
static int	open_box(const char *, int, struct box *);
static int	write_all(int, const char *, size_t);
static int	write_copy(const struct box *, const char *, const char *,
		    size_t);
static int	fresh_name(char *, size_t, unsigned long *);
static int	run_job(const struct job *);
static double	now_sec(void);

static void
usage(void)
{
	fprintf(stderr, "usage: limit -d dir -p procs -m messages -s size "
	    "[-c copies] [-k]\n");
	exit(2);
}

static void
die(const char *what)
{
	fprintf(stderr, "limit: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long
parse_num(const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "limit: bad number '%s'\n", s);
		usage();
	}
	return v;
}

/* dir/1 .. dir/n_copies, each with tmp, new and cur, like a recipient's. */
static void
make_dirs(const char *dir, int n_copies)
{
	static const char	*const sub[] = { "", "/tmp", "/new", "/cur" };
	char			 path[PATH_MAX];
	size_t			 i;
	int			 c, n;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		die(dir);
	for (c = 1; c <= n_copies; c++) {
		for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
			n = snprintf(path, sizeof(path), "%s/%d%s", dir, c,
			    sub[i]);
			if (n < 0 || (size_t)n >= sizeof(path)) {
				errno = ENAMETOOLONG;
				die(dir);
			}
			if (mkdir(path, 0700) == -1 && errno != EEXIST)
				die(path);
		}
	}
}

static int
open_box(const char *dir, int copy, struct box *b)
{
	char	path[PATH_MAX];
	int	n;

	n = snprintf(path, sizeof(path), "%s/%d/tmp", dir, copy);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	b->tmp_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->tmp_fd == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/%d/new", dir, copy);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	b->new_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return b->new_fd == -1 ? -1 : 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n > LIMIT_CHUNK ? LIMIT_CHUNK : n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One durable copy, in qmail's order. */
static int
write_copy(const struct box *b, const char *name, const char *data,
    size_t size)
{
	int	fd;

	fd = openat(b->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (write_all(fd, data, size) == -1 || fsync(fd) == -1) {
		(void)close(fd);
		return -1;
	}
	if (close(fd) == -1)
		return -1;
	if (renameat(b->tmp_fd, name, b->new_fd, name) == -1)
		return -1;
	return fsync(b->new_fd);
}

/* A unique name in the Maildir manner: seconds, microseconds, pid, count. */
static int
fresh_name(char *name, size_t cap, unsigned long *seq)
{
	struct timespec	ts;
	int		n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	n = snprintf(name, cap, "%lld.M%ldP%ldQ%lu.limit", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)getpid(), ++*seq);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
run_job(const struct job *j)
{
	struct box	 boxes[LIMIT_MAX_COPIES];
	char		 first[NAME_LEN], name[NAME_LEN];
	char		*data;
	size_t		 i;
	long		 m;
	int		 c;
	unsigned long	 seq = 0;

	data = malloc(j->size > 0 ? j->size : 1);
	if (data == NULL)
		return -1;
	for (i = 0; i < j->size; i++)
		data[i] = (i % (LIMIT_LINE + 1) == LIMIT_LINE) ? '\n' : 'X';
	for (c = 0; c < j->n_copies; c++)
		if (open_box(j->dir, c + 1, &boxes[c]) == -1)
			return -1;

	for (m = 0; m < j->n_msgs; m++) {
		if (fresh_name(first, sizeof(first), &seq) == -1 ||
		    write_copy(&boxes[0], first, data, j->size) == -1)
			return -1;
		for (c = 1; c < j->n_copies; c++) {
			if (fresh_name(name, sizeof(name), &seq) == -1)
				return -1;
			if (!j->link) {
				if (write_copy(&boxes[c], name, data,
				    j->size) == -1)
					return -1;
				continue;
			}
			/* The first copy is complete and synced: link it. */
			if (linkat(boxes[0].new_fd, first, boxes[c].new_fd,
			    name, 0) == -1 || fsync(boxes[c].new_fd) == -1)
				return -1;
		}
	}
	free(data);
	return 0;
}

static double
now_sec(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	struct job	 j = { .n_copies = 1 };
	pid_t		 pids[LIMIT_MAX_PROCS];
	double		 t0, t1;
	long		 n_msgs = -1, k;
	int		 ch, n_procs = -1, status, failed = 0;

	while ((ch = getopt(argc, argv, "c:d:km:p:s:")) != -1) {
		switch (ch) {
		case 'c':
			j.n_copies = (int)parse_num(optarg, 1,
			    LIMIT_MAX_COPIES);
			break;
		case 'd':
			j.dir = optarg;
			break;
		case 'k':
			j.link = true;
			break;
		case 'm':
			n_msgs = parse_num(optarg, 1, LONG_MAX);
			break;
		case 'p':
			n_procs = (int)parse_num(optarg, 1, LIMIT_MAX_PROCS);
			break;
		case 's':
			j.size = (size_t)parse_num(optarg, 0, LONG_MAX);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || j.dir == NULL || n_msgs == -1 || n_procs == -1)
		usage();
	make_dirs(j.dir, j.n_copies);

	/* Split the messages as smtp-source splits them over its sessions. */
	t0 = now_sec();
	for (k = 0; k < n_procs; k++) {
		j.n_msgs = n_msgs / n_procs + (k < n_msgs % n_procs ? 1 : 0);
		pids[k] = fork();
		if (pids[k] == -1)
			die("fork");
		if (pids[k] == 0) {
			if (run_job(&j) == -1) {
				fprintf(stderr, "limit: %s: %s\n", j.dir,
				    strerror(errno));
				_exit(1);
			}
			_exit(0);
		}
	}
	for (k = 0; k < n_procs; k++) {
		while (waitpid(pids[k], &status, 0) == -1)
			if (errno != EINTR)
				die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	t1 = now_sec();
	if (failed) {
		fprintf(stderr, "limit: a process failed\n");
		return 1;
	}
	printf("messages=%ld copies=%d procs=%d link=%d elapsed=%.6f "
	    "rate=%.2f\n", n_msgs, j.n_copies, n_procs, j.link ? 1 : 0,
	    t1 - t0, (double)n_msgs / (t1 - t0));
	return 0;
}
