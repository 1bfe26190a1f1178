/* SPDX-License-Identifier: MIT */
/*
 * shim: an LD_PRELOAD library for the fault suite.  It fails every Nth
 * write, fsync, copy_file_range, rename, link or open that touches a file
 * under the mail root, and it can freeze CLOCK_REALTIME or make it jump
 * back.  Settings come from the environment, read once at load; the
 * wrappers allocate nothing, take no locks and call only async-signal-safe
 * functions.  Anything outside the mail root (sockets, pipes, the spool,
 * the log) passes through untouched.
 *
 * Build: cc -std=c11 -Wall -Wextra -O2 -shared -fPIC \
 *            -o tests/faults/libfaultshim.so tests/faults/shim.c -ldl
 *
 * LMTPD_SHIM_ROOT=/abs/dir
 *	Only calls on regular files or directories under this directory are
 *	counted and failed.  Without it, no call is ever failed.
 * LMTPD_SHIM_FAIL="op:N[:ERR],..."
 *	Every Nth call of op under the root fails with ERR (EIO when not
 *	given; ENOSPC, EDQUOT, or a number) without doing anything.  Ops:
 *	  write            write(2) on a regular file
 *	  fsync            fsync(2) and fdatasync(2) on a regular file
 *	  dirfsync         fsync(2) and fdatasync(2) on a directory
 *	  copy_file_range  copy_file_range(2), by its output descriptor
 *	  rename           rename(2), renameat(2), by either path
 *	  link             link(2), linkat(2), by the new path
 *	  open             open(2), openat(2) that may create or write
 * LMTPD_SHIM_MATCH=text
 *	Only paths that contain text are counted and failed (the journal,
 *	"lmtpd-dedup", say).
 * LMTPD_SHIM_SHARED=1
 *	The counters live in a shared mapping made at load, so every process
 *	forked from the loaded one counts together ("every Nth in the whole
 *	daemon").  By default each process counts its own calls: the counters
 *	are process memory, so a forked child starts from the count its
 *	parent had at fork(2) and the two go on separately.
 * LMTPD_SHIM_CLOCK="freeze:<epoch>" or "jump:<seconds>[:<period>]"
 *	freeze: CLOCK_REALTIME (and _COARSE), time(2) and gettimeofday(2)
 *	always say <epoch> seconds and 0 ns.  jump: real time, except that
 *	every other run of <period> calls (3 when not given) is <seconds>
 *	behind, so time steps back, then forward, then back.  The call count
 *	for the jumps is per process, like the fault counters.
 * LMTPD_SHIM_LOG=1
 *	One line on stderr for every failure injected, starting with
 *	"lmtpd-shim: " (the test counts them).
 *
 * XXX: calls made before the constructor ran (other libraries' own
 * constructors) go straight to the kernel, unfaulted and with the real
 * clock.
 */
#define _GNU_SOURCE
/* A fortified <fcntl.h> defines open() inline, and this file defines it. */
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SHIM_PREFIX	"lmtpd-shim: "
#define SHIM_PERIOD	3	/* calls between two clock jumps */

enum shim_op {
	OP_WRITE,
	OP_FSYNC,
	OP_DIRFSYNC,
	OP_COPY,
	OP_RENAME,
	OP_LINK,
	OP_OPEN,
	OP_N
};

static const char *const shim_op_names[OP_N] = {
	"write", "fsync", "dirfsync", "copy_file_range", "rename", "link",
	"open"
};

enum shim_clock {
	CLOCK_MODE_REAL,
	CLOCK_MODE_FREEZE,
	CLOCK_MODE_JUMP
};

struct shim_counters {
	atomic_ulong	calls[OP_N];
	atomic_ulong	clock_calls;
};

/* Written only by the constructor, before any other thread can exist. */
static unsigned long	 shim_every[OP_N];	/* 0: never fail */
static int		 shim_errno[OP_N];
static bool		 shim_any;		/* some shim_every set */
static bool		 shim_log;
static char		 shim_match[PATH_MAX];
static char		 shim_root[PATH_MAX];
static size_t		 shim_root_len;
static char		 shim_real_root[PATH_MAX];	/* realpath of it */
static size_t		 shim_real_root_len;
static enum shim_clock	 shim_clock_mode;
static long long	 shim_clock_sec;	/* freeze: epoch; jump: step */
static unsigned long	 shim_clock_period = SHIM_PERIOD;
static struct shim_counters	 shim_own;
static struct shim_counters	*shim_cnt = &shim_own;

static ssize_t	(*real_write)(int, const void *, size_t);
static int	(*real_fsync)(int);
static int	(*real_fdatasync)(int);
static ssize_t	(*real_copy_file_range)(int, off64_t *, int, off64_t *,
		    size_t, unsigned int);
static int	(*real_rename)(const char *, const char *);
static int	(*real_renameat)(int, const char *, int, const char *);
static int	(*real_link)(const char *, const char *);
static int	(*real_linkat)(int, const char *, int, const char *, int);
static int	(*real_open)(const char *, int, ...);
static int	(*real_open64)(const char *, int, ...);
static int	(*real_openat)(int, const char *, int, ...);
static int	(*real_openat64)(int, const char *, int, ...);
static int	(*real_clock_gettime)(clockid_t, struct timespec *);
static time_t	(*real_time)(time_t *);
static int	(*real_gettimeofday)(struct timeval *, void *);

static void	shim_init(void) __attribute__((constructor(101)));
static int	parse_errno(const char *, size_t);
static void	parse_fail(const char *);
static void	parse_clock(const char *);
static size_t	fmt_ulong(char *, unsigned long);
static bool	prefix_dir(const char *, const char *, size_t);
static bool	path_under_root(const char *);
static bool	resolve(int, const char *, char *, size_t);
static bool	fd_path(int, char *, size_t);
static int	fd_kind(int);
static bool	fire(enum shim_op, const char *);
static void	put(char *, size_t *, size_t, const char *);
static void	log_fire(enum shim_op, unsigned long, const char *, int);
static bool	fd_fires(enum shim_op, int);
static bool	at_fires(enum shim_op, int, const char *);
static void	shim_now(struct timespec *);
static bool	is_realtime(clockid_t);
static int	sync_common(int, int (*)(int), long);
static bool	open_fires(int, const char *, int);
static mode_t	open_mode(int, va_list);
static int	open_common(int (*)(int, const char *, int, ...), int,
		    const char *, int, mode_t);
static int	open_path(int (*)(const char *, int, ...), const char *, int,
		    mode_t);

/* ------------------------------------------------------------ settings */

static int
parse_errno(const char *s, size_t n)
{
	char	num[16];
	char	*end;
	long	v;

	if (n == 3 && strncmp(s, "EIO", n) == 0)
		return EIO;
	if (n == 6 && strncmp(s, "ENOSPC", n) == 0)
		return ENOSPC;
	if (n == 6 && strncmp(s, "EDQUOT", n) == 0)
		return EDQUOT;
	if (n == 0 || n >= sizeof(num))
		return 0;
	memcpy(num, s, n);
	num[n] = '\0';
	v = strtol(num, &end, 10);
	if (*end != '\0' || v <= 0 || v > 4095)
		return 0;
	return (int)v;
}

/* "op:N[:ERR],..."; an entry that does not parse is ignored. */
static void
parse_fail(const char *spec)
{
	const char	*p = spec, *end, *c1, *c2;
	char		*nend;
	unsigned long	 n;
	size_t		 len;
	int		 i, err, dflt = EIO;
	const char	*e;

	e = getenv("LMTPD_SHIM_ERRNO");
	if (e != NULL && parse_errno(e, strlen(e)) != 0)
		dflt = parse_errno(e, strlen(e));
	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		c1 = memchr(p, ':', (size_t)(end - p));
		if (c1 == NULL)
			goto next;
		len = (size_t)(c1 - p);
		n = strtoul(c1 + 1, &nend, 10);
		if (nend == c1 + 1 || n == 0)
			goto next;
		c2 = nend;
		err = dflt;
		if (c2 < end && *c2 == ':') {
			err = parse_errno(c2 + 1, (size_t)(end - c2 - 1));
			if (err == 0)
				goto next;
		} else if (c2 != end)
			goto next;
		for (i = 0; i < OP_N; i++) {
			if (strlen(shim_op_names[i]) == len &&
			    strncmp(shim_op_names[i], p, len) == 0) {
				shim_every[i] = n;
				shim_errno[i] = err;
				shim_any = true;
			}
		}
next:
		p = *end == ',' ? end + 1 : end;
	}
}

static void
parse_clock(const char *spec)
{
	char		*end;
	long long	 v;
	unsigned long	 per;

	if (strncmp(spec, "freeze:", 7) == 0) {
		v = strtoll(spec + 7, &end, 10);
		if (end != spec + 7 && *end == '\0' && v >= 0) {
			shim_clock_sec = v;
			shim_clock_mode = CLOCK_MODE_FREEZE;
		}
	} else if (strncmp(spec, "jump:", 5) == 0) {
		v = strtoll(spec + 5, &end, 10);
		if (end == spec + 5 || v <= 0)
			return;
		if (*end == ':') {
			per = strtoul(end + 1, &end, 10);
			if (per == 0)
				return;
			shim_clock_period = per;
		}
		if (*end != '\0')
			return;
		shim_clock_sec = v;
		shim_clock_mode = CLOCK_MODE_JUMP;
	}
}

/*
 * The next definition of a symbol after this library (libc's, or ASan's);
 * a macro for __typeof__, which no function can take.
 */
#define NEXT(var, name)	((var) = (__typeof__(var))dlsym(RTLD_NEXT, (name)))

static void
shim_init(void)
{
	struct shim_counters	*shared;
	const char		*e;

	NEXT(real_write, "write");
	NEXT(real_fsync, "fsync");
	NEXT(real_fdatasync, "fdatasync");
	NEXT(real_copy_file_range, "copy_file_range");
	NEXT(real_rename, "rename");
	NEXT(real_renameat, "renameat");
	NEXT(real_link, "link");
	NEXT(real_linkat, "linkat");
	NEXT(real_open, "open");
	NEXT(real_open64, "open64");
	NEXT(real_openat, "openat");
	NEXT(real_openat64, "openat64");
	NEXT(real_clock_gettime, "clock_gettime");
	NEXT(real_time, "time");
	NEXT(real_gettimeofday, "gettimeofday");

	e = getenv("LMTPD_SHIM_LOG");
	shim_log = e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
	e = getenv("LMTPD_SHIM_ROOT");
	if (e != NULL && e[0] == '/' && strlen(e) < sizeof(shim_root)) {
		strcpy(shim_root, e);
		shim_root_len = strlen(shim_root);
		while (shim_root_len > 1 && shim_root[shim_root_len - 1] ==
		    '/')
			shim_root[--shim_root_len] = '\0';
		if (realpath(shim_root, shim_real_root) != NULL)
			shim_real_root_len = strlen(shim_real_root);
		e = getenv("LMTPD_SHIM_FAIL");
		if (e != NULL)
			parse_fail(e);
	}
	e = getenv("LMTPD_SHIM_MATCH");
	if (e != NULL && strlen(e) < sizeof(shim_match))
		strcpy(shim_match, e);
	e = getenv("LMTPD_SHIM_SHARED");
	if (shim_any && e != NULL && strcmp(e, "1") == 0) {
		shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (shared != MAP_FAILED)
			shim_cnt = shared;	/* zero-filled */
	}
	e = getenv("LMTPD_SHIM_CLOCK");
	if (e != NULL)
		parse_clock(e);
}

/* ---------------------------------------------- matching, async-safe */

/* Decimal digits of v into out (room for 21); returns their count. */
static size_t
fmt_ulong(char *out, unsigned long v)
{
	char	tmp[24];
	size_t	n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static bool
prefix_dir(const char *path, const char *dir, size_t len)
{
	return len > 0 && strncmp(path, dir, len) == 0 &&
	    (path[len] == '/' || path[len] == '\0' || len == 1);
}

static bool
path_under_root(const char *path)
{
	return prefix_dir(path, shim_root, shim_root_len) ||
	    prefix_dir(path, shim_real_root, shim_real_root_len);
}

/* The target of /proc/self/fd/<fd> (or /proc/self/cwd for AT_FDCWD). */
static bool
fd_path(int fd, char *out, size_t cap)
{
	char	link[40] = "/proc/self/fd/";
	size_t	n = strlen(link);
	ssize_t	r;

	if (fd == AT_FDCWD)
		strcpy(link, "/proc/self/cwd");
	else if (fd < 0)
		return false;
	else
		link[n + fmt_ulong(link + n, (unsigned long)fd)] = '\0';
	r = readlink(link, out, cap - 1);
	if (r <= 0)
		return false;
	out[r] = '\0';
	return true;
}

/* path made absolute against dirfd; not normalised. */
static bool
resolve(int dirfd, const char *path, char *out, size_t cap)
{
	size_t	n, plen;

	if (path == NULL)
		return false;
	plen = strlen(path);
	if (path[0] == '/') {
		if (plen >= cap)
			return false;
		memcpy(out, path, plen + 1);
		return true;
	}
	if (!fd_path(dirfd, out, cap))
		return false;
	n = strlen(out);
	if (n + 1 + plen >= cap)
		return false;
	out[n] = '/';
	memcpy(out + n + 1, path, plen + 1);
	return true;
}

/* S_IFREG, S_IFDIR, or 0 for anything else (a socket, a pipe, an error). */
static int
fd_kind(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1)
		return 0;
	if (S_ISREG(st.st_mode))
		return S_IFREG;
	if (S_ISDIR(st.st_mode))
		return S_IFDIR;
	return 0;
}

/* Appends s to line (cap bytes), as much as fits. */
static void
put(char *line, size_t *len, size_t cap, const char *s)
{
	size_t	k = strlen(s);

	if (k > cap - *len)
		k = cap - *len;
	memcpy(line + *len, s, k);
	*len += k;
}

static void
log_fire(enum shim_op op, unsigned long n, const char *path, int err)
{
	char	line[PATH_MAX + 128], num[24];
	size_t	len = 0, cap = sizeof(line) - 1;

	put(line, &len, cap, SHIM_PREFIX "pid ");
	num[fmt_ulong(num, (unsigned long)getpid())] = '\0';
	put(line, &len, cap, num);
	put(line, &len, cap, err == EIO ? ": EIO on " : err == ENOSPC ?
	    ": ENOSPC on " : err == EDQUOT ? ": EDQUOT on " : ": errno on ");
	put(line, &len, cap, shim_op_names[op]);
	put(line, &len, cap, " #");
	num[fmt_ulong(num, n)] = '\0';
	put(line, &len, cap, num);
	put(line, &len, cap, " ");
	put(line, &len, cap, path);
	line[len++] = '\n';
	(void)syscall(SYS_write, 2, line, len);
}

/* Counts one call of op on path (under the root); true: fail it. */
static bool
fire(enum shim_op op, const char *path)
{
	unsigned long	n;

	if (shim_match[0] != '\0' && strstr(path, shim_match) == NULL)
		return false;
	n = atomic_fetch_add_explicit(&shim_cnt->calls[op], 1,
	    memory_order_relaxed) + 1;
	if (n % shim_every[op] != 0)
		return false;
	if (shim_log)
		log_fire(op, n, path, shim_errno[op]);
	return true;
}

/*
 * op on descriptor fd: counted when fd is a regular file under the root
 * (a directory for OP_DIRFSYNC).  Keeps errno.
 */
static bool
fd_fires(enum shim_op op, int fd)
{
	char	path[PATH_MAX];
	int	saved = errno, kind;
	bool	hit = false;

	if (shim_every[op] == 0)
		return false;
	kind = fd_kind(fd);
	if (kind == (op == OP_DIRFSYNC ? S_IFDIR : S_IFREG) &&
	    fd_path(fd, path, sizeof(path)) && path_under_root(path))
		hit = fire(op, path);
	errno = saved;
	return hit;
}

/* op on dirfd/path: counted when the path is under the root. */
static bool
at_fires(enum shim_op op, int dirfd, const char *p)
{
	char	path[PATH_MAX];
	int	saved = errno;
	bool	hit = false;

	if (shim_every[op] == 0)
		return false;
	if (resolve(dirfd, p, path, sizeof(path)) && path_under_root(path))
		hit = fire(op, path);
	errno = saved;
	return hit;
}

/* ------------------------------------------------------------ file I/O */

ssize_t
write(int fd, const void *buf, size_t n)
{
	if (real_write == NULL)
		return syscall(SYS_write, fd, buf, n);
	if (fd_fires(OP_WRITE, fd)) {
		errno = shim_errno[OP_WRITE];
		return -1;
	}
	return real_write(fd, buf, n);
}

static int
sync_common(int fd, int (*real)(int), long sysno)
{
	if (real == NULL)
		return (int)syscall(sysno, fd);
	if (fd_fires(OP_FSYNC, fd)) {
		errno = shim_errno[OP_FSYNC];
		return -1;
	}
	if (fd_fires(OP_DIRFSYNC, fd)) {
		errno = shim_errno[OP_DIRFSYNC];
		return -1;
	}
	return real(fd);
}

int
fsync(int fd)
{
	return sync_common(fd, real_fsync, SYS_fsync);
}

int
fdatasync(int fd)
{
	return sync_common(fd, real_fdatasync, SYS_fdatasync);
}

ssize_t
copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off,
    size_t n, unsigned int flags)
{
	if (real_copy_file_range == NULL)
		return syscall(SYS_copy_file_range, in, in_off, out, out_off,
		    n, flags);
	if (fd_fires(OP_COPY, out)) {
		errno = shim_errno[OP_COPY];
		return -1;
	}
	return real_copy_file_range(in, in_off, out, out_off, n, flags);
}

int
renameat(int ofd, const char *old, int nfd, const char *new)
{
	if (real_renameat == NULL)
		return (int)syscall(SYS_renameat, ofd, old, nfd, new);
	if (shim_every[OP_RENAME] != 0) {
		char	a[PATH_MAX], b[PATH_MAX];
		int	saved = errno;
		bool	in_a, in_b = false;

		in_a = resolve(ofd, old, a, sizeof(a)) && path_under_root(a);
		if (!in_a)
			in_b = resolve(nfd, new, b, sizeof(b)) &&
			    path_under_root(b);
		errno = saved;
		if ((in_a || in_b) && fire(OP_RENAME, in_a ? a : b)) {
			errno = shim_errno[OP_RENAME];
			return -1;
		}
	}
	return real_renameat(ofd, old, nfd, new);
}

int
rename(const char *old, const char *new)
{
	if (real_rename == NULL)
		return (int)syscall(SYS_rename, old, new);
	if (shim_every[OP_RENAME] != 0) {
		char	a[PATH_MAX], b[PATH_MAX];
		int	saved = errno;
		bool	in_a, in_b = false;

		in_a = resolve(AT_FDCWD, old, a, sizeof(a)) &&
		    path_under_root(a);
		if (!in_a)
			in_b = resolve(AT_FDCWD, new, b, sizeof(b)) &&
			    path_under_root(b);
		errno = saved;
		if ((in_a || in_b) && fire(OP_RENAME, in_a ? a : b)) {
			errno = shim_errno[OP_RENAME];
			return -1;
		}
	}
	return real_rename(old, new);
}

int
linkat(int ofd, const char *old, int nfd, const char *new, int flags)
{
	if (real_linkat == NULL)
		return (int)syscall(SYS_linkat, ofd, old, nfd, new, flags);
	if (at_fires(OP_LINK, nfd, new)) {
		errno = shim_errno[OP_LINK];
		return -1;
	}
	return real_linkat(ofd, old, nfd, new, flags);
}

int
link(const char *old, const char *new)
{
	if (real_link == NULL)
		return (int)syscall(SYS_link, old, new);
	if (at_fires(OP_LINK, AT_FDCWD, new)) {
		errno = shim_errno[OP_LINK];
		return -1;
	}
	return real_link(old, new);
}

/* Opens that may create or change a file; O_PATH and read-only pass. */
static bool
open_fires(int dirfd, const char *path, int flags)
{
	if ((flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) == 0 ||
	    (flags & O_PATH) != 0)
		return false;
	return at_fires(OP_OPEN, dirfd, path);
}

static mode_t
open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

static int
open_common(int (*real)(int, const char *, int, ...), int dirfd,
    const char *path, int flags, mode_t mode)
{
	if (real == NULL)
		return (int)syscall(SYS_openat, dirfd, path, flags, mode);
	if (open_fires(dirfd, path, flags)) {
		errno = shim_errno[OP_OPEN];
		return -1;
	}
	return real(dirfd, path, flags, mode);
}

static int
open_path(int (*real)(const char *, int, ...), const char *path, int flags,
    mode_t mode)
{
	if (real == NULL)
		return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
	if (open_fires(AT_FDCWD, path, flags)) {
		errno = shim_errno[OP_OPEN];
		return -1;
	}
	return real(path, flags, mode);
}

int
open(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_path(real_open, path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_path(real_open64, path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_common(real_openat, dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_common(real_openat64, dirfd, path, flags, mode);
}

/* --------------------------------------------------------------- clock */

static bool
is_realtime(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE;
}

/* The shimmed CLOCK_REALTIME; the mode is not CLOCK_MODE_REAL. */
static void
shim_now(struct timespec *ts)
{
	unsigned long	n;

	if (shim_clock_mode == CLOCK_MODE_FREEZE) {
		ts->tv_sec = (time_t)shim_clock_sec;
		ts->tv_nsec = 0;
		return;
	}
	if (real_clock_gettime == NULL ||
	    real_clock_gettime(CLOCK_REALTIME, ts) == -1)
		(void)syscall(SYS_clock_gettime, CLOCK_REALTIME, ts);
	n = atomic_fetch_add_explicit(&shim_cnt->clock_calls, 1,
	    memory_order_relaxed);
	if ((n / shim_clock_period) % 2 == 1)
		ts->tv_sec -= (time_t)shim_clock_sec;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (shim_clock_mode != CLOCK_MODE_REAL && is_realtime(clk)) {
		shim_now(ts);
		return 0;
	}
	if (real_clock_gettime == NULL)
		return (int)syscall(SYS_clock_gettime, clk, ts);
	return real_clock_gettime(clk, ts);
}

time_t
time(time_t *out)
{
	struct timespec	ts;

	if (shim_clock_mode == CLOCK_MODE_REAL) {
		if (real_time != NULL)
			return real_time(out);
		(void)syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	} else
		shim_now(&ts);
	if (out != NULL)
		*out = ts.tv_sec;
	return ts.tv_sec;
}

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec	ts;

	if (shim_clock_mode == CLOCK_MODE_REAL) {
		if (real_gettimeofday != NULL)
			return real_gettimeofday(tv, tz);
		return (int)syscall(SYS_gettimeofday, tv, tz);
	}
	shim_now(&ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
	if (tz != NULL)
		memset(tz, 0, sizeof(struct timezone));
	return 0;
}
