/* SPDX-License-Identifier: MIT */
/*
 * maildir: deliveries in a mkdtemp() tree land whole in new/ with the
 * right name, mode and bytes; every injected failure leaves tmp/ and new/
 * empty with the step's errno; errno values map to 4xx replies only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "maildir.h"
#include "suites.h"
#include "testutil.h"

/* The test seam in maildir.c; deliberately not in maildir.h. */
extern int	(*maildir_fault_hook)(const char *step);

#define HOST		"mx.example.org"
#define BIG_BODY	(3 * 1024 * 1024)
#define CHUNK		(64 * 1024)

static char	root[PATH_MAX];
static char	md[PATH_MAX];		/* root/sub/Maildir, not yet created */

static const char	test_hdr[] = "Return-Path: <a@example.org>\n"
			    "Delivered-To: <b@example.org>\n";
static const char	test_body[] = "Subject: hi\n\nhello\n";

static void
setup(void)
{
	umask(022);
	test_mkdtemp(root, sizeof(root), "maildir");
	test_pathf(md, "%s/sub/Maildir", root);
	maildir_fault_hook = NULL;
}

static void
teardown(void)
{
	maildir_fault_hook = NULL;
	(void)test_rmtree(root);
}

/* Entries in md/sub, "." and ".." aside; the last one's name in name_out. */
static int
count_entries(const char *sub, char *name_out, size_t cap)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	test_pathf(path, "%s/%s", md, sub);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (name_out != NULL)
			snprintf(name_out, cap, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void
assert_empty(void)
{
	ck_assert_int_eq(count_entries("tmp", NULL, 0), 0);
	ck_assert_int_eq(count_entries("new", NULL, 0), 0);
}

static unsigned char
pattern(off_t i)
{
	return (unsigned char)((i * 131 + (i >> 12)) & 0xff);
}

/* An unnamed spool file of len pattern bytes, offset left at its end. */
static int
make_body(off_t len)
{
	unsigned char	buf[CHUNK];
	off_t		done;
	size_t		n, i;
	int		fd;

	fd = compat_tmpfile(root);
	ck_assert_int_ne(fd, -1);
	for (done = 0; done < len; done += (off_t)n) {
		n = len - done < CHUNK ? (size_t)(len - done) : CHUNK;
		for (i = 0; i < n; i++)
			buf[i] = pattern(done + (off_t)i);
		ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	}
	return fd;
}

static int
make_text_body(const char *s)
{
	int	fd;

	fd = compat_tmpfile(root);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	return fd;
}

static void
assert_mode(const char *path, mode_t want, int dir)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(S_ISDIR(st.st_mode) ? 1 : 0, dir);
	ck_assert_uint_eq(st.st_mode & 07777, want);
}

static void
assert_name(const char *name, off_t size)
{
	char	 re_src[256], tail[64];
	regex_t	 re;
	size_t	 nl, tl;

	snprintf(re_src, sizeof(re_src),
	    "^[0-9]+\\.M[0-9]{1,6}P%ldQ[0-9]+\\.mx\\.example\\.org,S=[0-9]+$",
	    (long)getpid());
	ck_assert_int_eq(regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, name, 0, NULL, 0) == 0, "bad name %s",
	    name);
	regfree(&re);
	snprintf(tail, sizeof(tail), ",S=%lld", (long long)size);
	nl = strlen(name);
	tl = strlen(tail);
	ck_assert_uint_gt(nl, tl);
	ck_assert_str_eq(name + nl - tl, tail);
}

START_TEST(test_deliver_layout_and_bytes)
{
	char		 path[PATH_MAX], name[MAILDIR_NAME_MAX];
	char		 out[MAILDIR_NAME_MAX + 8], buf[256];
	const char	*sub[] = { "tmp", "new", "cur" };
	size_t		 i, hl = strlen(test_hdr), bl = strlen(test_body);
	ssize_t		 n;
	int		 fd, body;

	body = make_text_body(test_body);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr, hl, body, 0,
	    (off_t)bl, out, sizeof(out)), 0);
	/* The spool's own offset is neither used nor moved. */
	ck_assert_int_eq(lseek(body, 0, SEEK_CUR), (off_t)bl);
	close(body);

	for (i = 0; i < 3; i++) {
		test_pathf(path, "%s/%s", md, sub[i]);
		assert_mode(path, 0700, 1);
	}
	ck_assert_int_eq(count_entries("tmp", NULL, 0), 0);
	ck_assert_int_eq(count_entries("cur", NULL, 0), 0);
	ck_assert_int_eq(count_entries("new", name, sizeof(name)), 1);
	ck_assert_str_eq(out + 4, name);
	ck_assert_int_eq(strncmp(out, "new/", 4), 0);
	assert_name(name, (off_t)(hl + bl));

	test_pathf(path, "%s/%s", md, out);
	assert_mode(path, 0600, 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_eq(n, (ssize_t)(hl + bl));
	ck_assert_int_eq(memcmp(buf, test_hdr, hl), 0);
	ck_assert_int_eq(memcmp(buf + hl, test_body, bl), 0);
}
END_TEST

/*
 * Several processes delivering into a Maildir that does not exist yet:
 * each creates it as needed and none may fail its rename into new/.
 */
START_TEST(test_concurrent_first_deliveries)
{
	enum { ROUNDS = 30, PROCS = 6 };
	char	dir[PATH_MAX], name[MAILDIR_NAME_MAX + 8];
	pid_t	pids[PROCS];
	int	go[2], body, round, i, status, failed = 0;
	char	c;

	body = make_text_body(test_body);
	for (round = 0; round < ROUNDS; round++) {
		test_pathf(dir, "%s/race%d/Maildir", root, round);
		ck_assert_int_eq(pipe(go), 0);
		for (i = 0; i < PROCS; i++) {
			pids[i] = fork();
			ck_assert_int_ne(pids[i], -1);
			if (pids[i] == 0) {
				close(go[1]);
				/* Start together: wait for the pipe to close. */
				(void)read(go[0], &c, 1);
				_exit(maildir_deliver(dir, HOST, test_hdr,
				    strlen(test_hdr), body, 0,
				    (off_t)strlen(test_body), name,
				    sizeof(name)) == 0 ? 0 : 1);
			}
		}
		close(go[0]);
		close(go[1]);
		for (i = 0; i < PROCS; i++) {
			ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed++;
		}
	}
	close(body);
	ck_assert_int_eq(failed, 0);
}
END_TEST

/* tmp/ there but not new/ (a half-made Maildir): completed, delivered. */
START_TEST(test_missing_new_is_made)
{
	char	path[PATH_MAX], name[MAILDIR_NAME_MAX + 8];
	int	body;

	test_pathf(path, "%s/sub", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(mkdir(md, 0700), 0);
	test_pathf(path, "%s/tmp", md);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	body = make_text_body(test_body);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr, strlen(test_hdr),
	    body, 0, (off_t)strlen(test_body), name, sizeof(name)), 0);
	close(body);
	ck_assert_int_eq(count_entries("new", NULL, 0), 1);
	ck_assert_int_eq(count_entries("tmp", NULL, 0), 0);
	ck_assert_int_eq(count_entries("cur", NULL, 0), 0);
}
END_TEST

START_TEST(test_two_deliveries_differ)
{
	char	a[MAILDIR_NAME_MAX + 8], b[MAILDIR_NAME_MAX + 8];
	int	body;

	body = make_text_body(test_body);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), a, sizeof(a)),
	    0);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), b, sizeof(b)),
	    0);
	close(body);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(count_entries("new", NULL, 0), 2);
	ck_assert_int_eq(count_entries("tmp", NULL, 0), 0);
}
END_TEST

START_TEST(test_big_body_streamed)
{
	unsigned char	buf[CHUNK];
	char		name[MAILDIR_NAME_MAX + 8], path[PATH_MAX];
	struct stat	st;
	size_t		hl = strlen(test_hdr), i;
	off_t		done;
	ssize_t		n;
	int		body, fd;

	body = make_body(BIG_BODY);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr, hl, body, 0,
	    BIG_BODY, name, sizeof(name)), 0);
	close(body);
	assert_name(name + 4, (off_t)hl + BIG_BODY);

	test_pathf(path, "%s/%s", md, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)hl + BIG_BODY);
	ck_assert_int_eq(read(fd, buf, hl), (ssize_t)hl);
	ck_assert_int_eq(memcmp(buf, test_hdr, hl), 0);
	for (done = 0; done < BIG_BODY; done += n) {
		n = read(fd, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pattern(done + (off_t)i))
				ck_abort_msg("byte %lld differs",
				    (long long)(done + (off_t)i));
	}
	ck_assert_int_eq(read(fd, buf, 1), 0);
	close(fd);
}
END_TEST

START_TEST(test_file_in_path_is_enotdir)
{
	struct lmtp_reply	r;
	char			path[PATH_MAX], out[MAILDIR_NAME_MAX + 8];
	int			fd, body;

	test_pathf(path, "%s/file", root);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);

	ck_assert_int_eq(maildir_create(path), -1);
	ck_assert_int_eq(errno, ENOTDIR);

	test_pathf(path, "%s/file/Maildir", root);
	body = make_text_body(test_body);
	errno = 0;
	ck_assert_int_eq(maildir_deliver(path, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	close(body);
	maildir_reply_for(errno, false, &r);
	ck_assert_uint_eq(r.code, 451);
	ck_assert_str_eq(r.esc, "4.3.0");
}
END_TEST

START_TEST(test_create_existing_and_partial)
{
	char	path[PATH_MAX], out[MAILDIR_NAME_MAX + 8];
	int	fd, body;

	ck_assert_int_eq(maildir_create(md), 0);
	ck_assert_int_eq(maildir_create(md), 0);

	/* A half-made Maildir (no tmp/) is completed by the delivery. */
	test_pathf(path, "%s/tmp", md);
	ck_assert_int_eq(rmdir(path), 0);
	body = make_text_body(test_body);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), 0);
	close(body);
	assert_mode(path, 0700, 1);
	ck_assert_int_eq(count_entries("new", NULL, 0), 1);

	/* A non-directory where cur/ belongs. */
	test_pathf(path, "%s/cur", md);
	ck_assert_int_eq(rmdir(path), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(maildir_create(md), -1);
	ck_assert_int_eq(errno, ENOTDIR);
}
END_TEST

START_TEST(test_name_out_too_small_writes_nothing)
{
	char	out[8];
	int	body;

	ck_assert_int_eq(maildir_create(md), 0);
	body = make_text_body(test_body);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	close(body);
	assert_empty();
}
END_TEST

/* Fault injection: the hook fails one named step. */
static const struct {
	const char	*step;
	int		 err;
} faults[] = {
	{ "open",    EACCES },
	{ "write",   EIO },
	{ "fsync",   EIO },
	{ "close",   EIO },
	{ "rename",  EIO },
	{ "dirsync", EIO },
	{ "write",   ENOSPC },
	{ "fsync",   EDQUOT },
};

static const char	*fault_step;
static int		 fault_err;
static int		 fault_hits;
static char		 fault_trail[128];

static int
fault_hook(const char *step)
{
	size_t	len = strlen(fault_trail);

	snprintf(fault_trail + len, sizeof(fault_trail) - len, "%s%s",
	    len > 0 ? "," : "", step);
	if (fault_step == NULL || strcmp(step, fault_step) != 0)
		return 0;
	fault_hits++;
	return fault_err;
}

static void
arm(const char *step, int err)
{
	fault_step = step;
	fault_err = err;
	fault_hits = 0;
	fault_trail[0] = '\0';
	maildir_fault_hook = fault_hook;
}

START_TEST(test_fault_step)
{
	char	out[MAILDIR_NAME_MAX + 8];
	int	body;

	ck_assert_int_eq(maildir_create(md), 0);
	body = make_body(100000);
	arm(faults[_i].step, faults[_i].err);
	errno = 0;
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, 100000, out, sizeof(out)), -1);
	ck_assert_msg(errno == faults[_i].err, "%s: errno %d, want %d",
	    faults[_i].step, errno, faults[_i].err);
	ck_assert_int_eq(fault_hits, 1);
	maildir_fault_hook = NULL;
	close(body);
	assert_empty();
	ck_assert_int_eq(count_entries("cur", NULL, 0), 0);
}
END_TEST

START_TEST(test_steps_in_order)
{
	char	out[MAILDIR_NAME_MAX + 8];
	int	body;

	body = make_text_body(test_body);
	arm(NULL, 0);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), 0);
	close(body);
	/*
	 * The first open fails with ENOENT and creates the Maildir: sub/
	 * (synced into root), Maildir/ (into sub/), cur/ new/ tmp/ (into
	 * Maildir/), each synced before the copy can count on it.
	 */
	ck_assert_str_eq(fault_trail, "open,dirsync,dirsync,dirsync,dirsync,"
	    "dirsync,open,write,fsync,close,rename,dirsync");
}
END_TEST

/* A directory entry that cannot be made durable fails the delivery. */
START_TEST(test_creation_sync_failure)
{
	char	out[MAILDIR_NAME_MAX + 8], path[PATH_MAX];
	int	body;

	body = make_text_body(test_body);
	arm("dirsync", EIO);
	errno = 0;
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(fault_hits, 1);
	/*
	 * The directory whose entry could not be synced is taken back, so
	 * the next delivery makes (and syncs) it again.
	 */
	test_pathf(path, "%s/sub", root);
	ck_assert_int_eq(access(path, F_OK), -1);
	arm(NULL, 0);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(fault_trail, "open,dirsync,dirsync,dirsync,dirsync,"
	    "dirsync,open,write,fsync,close,rename,dirsync");
	maildir_fault_hook = NULL;
	close(body);
}
END_TEST

START_TEST(test_eexist_takes_new_name)
{
	char	out[MAILDIR_NAME_MAX + 8];
	int	body;

	ck_assert_int_eq(maildir_create(md), 0);
	body = make_text_body(test_body);

	/* Every name collides: a few fresh names are tried, then EEXIST. */
	arm("open", EEXIST);
	errno = 0;
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_gt(fault_hits, 1);
	ck_assert_int_lt(fault_hits, 10);
	assert_empty();
	maildir_fault_hook = NULL;
	close(body);
}
END_TEST

static int
eexist_once(const char *step)
{
	static int	n;

	return strcmp(step, "open") == 0 && n++ == 0 ? EEXIST : 0;
}

START_TEST(test_eexist_once_retries)
{
	char	out[MAILDIR_NAME_MAX + 8];
	int	body;

	ck_assert_int_eq(maildir_create(md), 0);
	body = make_text_body(test_body);
	maildir_fault_hook = eexist_once;
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr,
	    strlen(test_hdr), body, 0, (off_t)strlen(test_body), out,
	    sizeof(out)), 0);
	maildir_fault_hook = NULL;
	close(body);
	ck_assert_int_eq(count_entries("new", NULL, 0), 1);
	ck_assert_int_eq(count_entries("tmp", NULL, 0), 0);
}
END_TEST

/* A second Maildir gets the same file under its own unique name. */
START_TEST(test_link_shares_the_file)
{
	char		 other[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	char		 out[MAILDIR_NAME_MAX + 8], out2[MAILDIR_NAME_MAX + 8];
	struct stat	 a, b;
	size_t		 hl = strlen(test_hdr), bl = strlen(test_body);
	int		 body;

	body = make_text_body(test_body);
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr, hl, body, 0,
	    (off_t)bl, out, sizeof(out)), 0);
	close(body);
	test_pathf(src, "%s/%s", md, out);
	test_pathf(other, "%s/other/Maildir", root);
	/* The Maildir is made on the way, as for a delivery. */
	ck_assert_int_eq(maildir_link(src, other, HOST, (off_t)(hl + bl),
	    out2, sizeof(out2)), 0);
	ck_assert_int_eq(strncmp(out2, "new/", 4), 0);
	assert_name(out2 + 4, (off_t)(hl + bl));
	test_pathf(dst, "%s/%s", other, out2);
	ck_assert_int_eq(stat(src, &a), 0);
	ck_assert_int_eq(stat(dst, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_uint_eq(b.st_nlink, 2);
	test_pathf(dst, "%s/tmp", other);
	assert_mode(dst, 0700, 1);
}
END_TEST

/* A failed link leaves nothing behind and keeps its errno. */
START_TEST(test_link_failures)
{
	char	out[MAILDIR_NAME_MAX + 8], src[PATH_MAX];

	test_pathf(src, "%s/no-such-file", root);
	errno = 0;
	ck_assert_int_eq(maildir_link(src, md, HOST, 10, out, sizeof(out)),
	    -1);
	ck_assert_int_eq(errno, ENOENT);
	assert_empty();
	errno = 0;
	ck_assert_int_eq(maildir_link(src, md, HOST, 10, out, 8), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

/* The quota policy: a bounce only when asked for, and only for EDQUOT. */
START_TEST(test_reply_for_quota_bounce)
{
	struct lmtp_reply	r;

	maildir_reply_for(EDQUOT, true, &r);
	ck_assert_uint_eq(r.code, 552);
	ck_assert_str_eq(r.esc, "5.2.2");
	ck_assert_str_eq(r.text, "mailbox full");
	maildir_reply_for(ENOSPC, true, &r);
	ck_assert_uint_eq(r.code, 452);
	ck_assert_str_eq(r.esc, "4.3.1");
	maildir_reply_for(EIO, true, &r);
	ck_assert_uint_eq(r.code, 451);
}
END_TEST

/* maildir_reply_for: the one table. */
static const struct {
	int		 err;
	unsigned	 code;
	const char	*esc;
	const char	*text;
} replies[] = {
	{ ENOSPC,       452, "4.3.1", "mail system full" },
	{ EDQUOT,       452, "4.2.2", "mailbox full" },
	{ EIO,          451, "4.3.0", "temporary local problem" },
	{ EACCES,       451, "4.3.0", "temporary local problem" },
	{ EPERM,        451, "4.3.0", "temporary local problem" },
	{ EMFILE,       451, "4.3.0", "temporary local problem" },
	{ ENFILE,       451, "4.3.0", "temporary local problem" },
	{ EROFS,        451, "4.3.0", "temporary local problem" },
	{ ENOTDIR,      451, "4.3.0", "temporary local problem" },
	{ ELOOP,        451, "4.3.0", "temporary local problem" },
	{ ENAMETOOLONG, 451, "4.3.0", "temporary local problem" },
	{ EEXIST,       451, "4.3.0", "temporary local problem" },
	{ 0,            451, "4.3.0", "temporary local problem" },
};

START_TEST(test_reply_for)
{
	struct lmtp_reply	r;

	memset(&r, 'x', sizeof(r));
	maildir_reply_for(replies[_i].err, false, &r);
	ck_assert_uint_eq(r.code, replies[_i].code);
	ck_assert_str_eq(r.esc, replies[_i].esc);
	ck_assert_str_eq(r.text, replies[_i].text);
	ck_assert_uint_eq(r.code / 100, 4);
	ck_assert_int_eq(r.esc[0], '4');
}
END_TEST

START_TEST(test_unique_name_escapes_and_counts)
{
	char		a[MAILDIR_NAME_MAX], b[MAILDIR_NAME_MAX];
	char		want[MAILDIR_NAME_MAX];
	unsigned long	qa, qb;
	const char	*q;

	ck_assert_int_eq(maildir_unique_name(a, sizeof(a), 1796106000, 42,
	    "a/b:c", 1234), 0);
	ck_assert_int_eq(maildir_unique_name(b, sizeof(b), 1796106000, 42,
	    "a/b:c", 1234), 0);
	ck_assert_str_ne(a, b);
	q = strchr(a, 'Q');
	ck_assert_ptr_nonnull(q);
	qa = strtoul(q + 1, NULL, 10);
	q = strchr(b, 'Q');
	ck_assert_ptr_nonnull(q);
	qb = strtoul(q + 1, NULL, 10);
	ck_assert_uint_eq(qb, qa + 1);
	snprintf(want, sizeof(want),
	    "1796106000.M42P%ldQ%lu.a\\057b\\072c,S=1234", (long)getpid(), qa);
	ck_assert_str_eq(a, want);
	ck_assert_ptr_null(strchr(a, '/'));
	ck_assert_ptr_null(strchr(a, ':'));
}
END_TEST

START_TEST(test_unique_name_too_long)
{
	char	buf[MAILDIR_NAME_MAX], host[61];
	size_t	cap;

	errno = 0;
	ck_assert_int_eq(maildir_unique_name(buf, 10, 1796106000, 42, HOST,
	    1), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);

	/* Escapes count: 60 bytes of host fit, 60 escaped slashes do not. */
	memset(host, 'a', 60);
	host[60] = '\0';
	ck_assert_int_eq(maildir_unique_name(buf, sizeof(buf), 1796106000,
	    42, host, 1), 0);
	memset(host, '/', 60);
	errno = 0;
	ck_assert_int_eq(maildir_unique_name(buf, sizeof(buf), 1796106000,
	    42, host, 1), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);

	/*
	 * The size suffix counts too: 5 spare bytes for S=1 leave 4 when the
	 * counter gains a digit, and S=10^12 needs 12 more.
	 */
	ck_assert_int_eq(maildir_unique_name(buf, sizeof(buf), 1796106000,
	    42, "h", 1), 0);
	cap = strlen(buf) + 1 + 5;
	ck_assert_int_eq(maildir_unique_name(buf, cap, 1796106000, 42, "h",
	    1), 0);
	errno = 0;
	ck_assert_int_eq(maildir_unique_name(buf, cap, 1796106000, 42, "h",
	    (off_t)1000000000000LL), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

/*
 * A copy written through the tmp/ API: no ",S=" in tmp/, the size in the
 * name in new/, and kept open (for the other copies) when asked.
 */
START_TEST(test_tmp_commit_keeps_it_open)
{
	struct maildir_tmp	t;
	char			name[MAILDIR_NAME_MAX], out[MAILDIR_NAME_MAX + 8];
	char			buf[64];
	size_t			len = strlen(test_hdr) + strlen(test_body);

	ck_assert_int_eq(maildir_tmp_open(&t, md, HOST), 0);
	ck_assert_int_eq(count_entries("tmp", name, sizeof(name)), 1);
	ck_assert_ptr_null(strstr(name, ",S="));
	ck_assert_int_eq(maildir_tmp_write(&t, test_hdr, strlen(test_hdr)), 0);
	ck_assert_int_eq(maildir_tmp_write(&t, test_body, strlen(test_body)),
	    0);
	ck_assert_int_eq(maildir_tmp_commit(&t, (off_t)len, true, out,
	    sizeof(out)), 0);
	ck_assert_int_eq(count_entries("tmp", NULL, 0), 0);
	ck_assert_int_eq(count_entries("new", name, sizeof(name)), 1);
	assert_name(name, (off_t)len);
	ck_assert_str_eq(out + 4, name);
	/* Still readable: the body is what follows the header. */
	ck_assert_int_eq(pread(t.fd, buf, strlen(test_body),
	    (off_t)strlen(test_hdr)), (ssize_t)strlen(test_body));
	ck_assert_int_eq(memcmp(buf, test_body, strlen(test_body)), 0);
	maildir_tmp_discard(&t);
	ck_assert_int_eq(t.fd, -1);
	ck_assert_int_eq(count_entries("new", NULL, 0), 1);
}
END_TEST

/* A failed commit leaves nothing behind, and an open file if asked. */
START_TEST(test_tmp_commit_failure)
{
	struct maildir_tmp	t;
	char			out[MAILDIR_NAME_MAX + 8], c;

	ck_assert_int_eq(maildir_tmp_open(&t, md, HOST), 0);
	ck_assert_int_eq(maildir_tmp_write(&t, test_hdr, strlen(test_hdr)), 0);
	arm("rename", EIO);
	errno = 0;
	ck_assert_int_eq(maildir_tmp_commit(&t, 1, true, out, sizeof(out)),
	    -1);
	ck_assert_int_eq(errno, EIO);
	maildir_fault_hook = NULL;
	assert_empty();
	ck_assert_int_ne(t.fd, -1);
	ck_assert_int_eq(pread(t.fd, &c, 1, 0), 1);
	maildir_tmp_discard(&t);

	ck_assert_int_eq(maildir_tmp_open(&t, md, HOST), 0);
	arm("append", ENOSPC);
	ck_assert_int_eq(maildir_tmp_write(&t, "x", 1), -1);
	ck_assert_int_eq(errno, ENOSPC);
	arm("dirsync", EIO);
	ck_assert_int_eq(maildir_tmp_commit(&t, 1, false, out, sizeof(out)),
	    -1);
	ck_assert_int_eq(t.fd, -1);
	maildir_fault_hook = NULL;
	assert_empty();
}
END_TEST

/* The body may start past a prefix of its file (the first copy's header). */
START_TEST(test_deliver_from_offset)
{
	char	out[MAILDIR_NAME_MAX + 8], name[MAILDIR_NAME_MAX];
	char	path[PATH_MAX], buf[256];
	int	body, fd;
	ssize_t	n;

	body = make_text_body("PREFIX\nSubject: hi\n\nhello\n");
	ck_assert_int_eq(maildir_deliver(md, HOST, test_hdr, strlen(test_hdr),
	    body, 7, (off_t)strlen(test_body), out, sizeof(out)), 0);
	close(body);
	ck_assert_int_eq(count_entries("new", name, sizeof(name)), 1);
	test_pathf(path, "%s/new/%s", md, name);
	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf + strlen(test_hdr), test_body);
	assert_name(name, (off_t)(strlen(test_hdr) + strlen(test_body)));
}
END_TEST

Suite *
maildir_suite(void)
{
	Suite	*s = suite_create("maildir");
	TCase	*tc;

	tc = tcase_create("deliver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_deliver_layout_and_bytes);
	tcase_add_test(tc, test_two_deliveries_differ);
	tcase_add_test(tc, test_big_body_streamed);
	tcase_add_test(tc, test_file_in_path_is_enotdir);
	tcase_add_test(tc, test_create_existing_and_partial);
	tcase_add_test(tc, test_name_out_too_small_writes_nothing);
	tcase_add_test(tc, test_link_shares_the_file);
	tcase_add_test(tc, test_link_failures);
	tcase_add_test(tc, test_tmp_commit_keeps_it_open);
	tcase_add_test(tc, test_tmp_commit_failure);
	tcase_add_test(tc, test_deliver_from_offset);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_fault_step, 0,
	    (int)(sizeof(faults) / sizeof(faults[0])));
	tcase_add_test(tc, test_steps_in_order);
	tcase_add_test(tc, test_creation_sync_failure);
	tcase_add_test(tc, test_concurrent_first_deliveries);
	tcase_add_test(tc, test_missing_new_is_made);
	tcase_add_test(tc, test_eexist_takes_new_name);
	tcase_add_test(tc, test_eexist_once_retries);
	suite_add_tcase(s, tc);

	tc = tcase_create("replies");
	tcase_add_loop_test(tc, test_reply_for, 0,
	    (int)(sizeof(replies) / sizeof(replies[0])));
	tcase_add_test(tc, test_reply_for_quota_bounce);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_unique_name_escapes_and_counts);
	tcase_add_test(tc, test_unique_name_too_long);
	suite_add_tcase(s, tc);
	return s;
}
