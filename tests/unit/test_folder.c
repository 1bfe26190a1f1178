/* SPDX-License-Identifier: MIT */
/*
 * folder: modified UTF-7 vectors (RFC 3501 §5.1.3, checked against what
 * Dovecot 2.3 names its directories), refused details, and folder_choose
 * in a mkdtemp() Maildir: existing folders, symlinks, CREATE's pattern
 * and cap, the folder's layout, the subscriptions file and races.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folder.h"
#include "suites.h"
#include "testutil.h"

#define V2	"V\t2\n\n"	/* Dovecot 2.3's subscriptions header */

static char	root[PATH_MAX];
static char	md[PATH_MAX];		/* root/home/Maildir, not yet made */

static const struct folder_rules	create_any = { FOLDER_CREATE, NULL, 0 };
static const struct folder_rules	existing = { FOLDER_EXISTING, NULL, 0 };
static const struct folder_rules	inbox_only = { FOLDER_INBOX, NULL, 0 };
static const struct folder_rules	cap2 = { FOLDER_CREATE, NULL, 2 };
static const struct folder_rules	cap3 = { FOLDER_CREATE, NULL, 3 };

static void
setup(void)
{
	umask(022);
	test_mkdtemp(root, sizeof(root), "folder");
	test_pathf(md, "%s/home/Maildir", root);
}

static void
teardown(void)
{
	(void)test_rmtree(root);
}

/* What lstat says md/rel is: 'd', 'f', 'l', or 0 when missing. */
static char
kind(const char *rel)
{
	char		path[PATH_MAX];
	struct stat	st;

	test_pathf(path, "%s/%s", md, rel);
	if (lstat(path, &st) == -1) {
		ck_assert_int_eq(errno, ENOENT);
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return 'd';
	if (S_ISLNK(st.st_mode))
		return 'l';
	return S_ISREG(st.st_mode) ? 'f' : '?';
}

static void
assert_mode(const char *rel, mode_t want)
{
	char		path[PATH_MAX];
	struct stat	st;

	test_pathf(path, "%s/%s", md, rel);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == want, "%s: mode %o, want %o",
	    rel, (unsigned)(st.st_mode & 07777), (unsigned)want);
}

/* A Maildir++ folder: cur/ new/ tmp/ and an empty maildirfolder. */
static void
assert_folder(const char *name)
{
	char	rel[PATH_MAX];

	ck_assert_int_eq(kind(name), 'd');
	assert_mode(name, 0700);
	test_pathf(rel, "%s/cur", name);
	ck_assert_int_eq(kind(rel), 'd');
	test_pathf(rel, "%s/new", name);
	ck_assert_int_eq(kind(rel), 'd');
	test_pathf(rel, "%s/tmp", name);
	ck_assert_int_eq(kind(rel), 'd');
	test_pathf(rel, "%s/maildirfolder", name);
	ck_assert_int_eq(kind(rel), 'f');
	assert_mode(rel, 0600);
}

/* md/rel's contents into out (NUL-terminated); "" when missing. */
static void
slurp(const char *rel, char *out, size_t cap)
{
	char	path[PATH_MAX];
	ssize_t	n;
	int	fd;

	test_pathf(path, "%s/%s", md, rel);
	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		ck_assert_int_eq(errno, ENOENT);
		return;
	}
	n = read(fd, out, cap - 1);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_lt((size_t)n, cap - 1);
	out[n] = '\0';
	close(fd);
}

static void
spit(const char *rel, const char *s)
{
	char	path[PATH_MAX];

	test_pathf(path, "%s/%s", md, rel);
	test_write_file(path, s);
}

static void
make_md(void)
{
	char	path[PATH_MAX];

	test_pathf(path, "%s/home", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(mkdir(md, 0700), 0);
}

static void
make_dir(const char *rel)
{
	char	path[PATH_MAX];

	test_pathf(path, "%s/%s", md, rel);
	ck_assert_int_eq(mkdir(path, 0700), 0);
}

/* folder_choose that must succeed; returns the result, checks dir. */
static enum folder_result
choose(const char *detail, const struct folder_rules *r,
    const char *want_rel)
{
	char			dir[PATH_MAX], want[PATH_MAX];
	enum folder_result	res;

	memset(dir, 'x', sizeof(dir));
	ck_assert_msg(folder_choose(md, detail, r, dir, sizeof(dir), &res) ==
	    0, "folder_choose(%s): %s", detail == NULL ? "NULL" : detail,
	    strerror(errno));
	if (want_rel == NULL)
		test_pathf(want, "%s", md);
	else
		test_pathf(want, "%s/%s", md, want_rel);
	ck_assert_str_eq(dir, want);
	return res;
}

/* RFC 3501 §5.1.3; each output is what doveadm 2.3 made on disk. */
static const struct {
	const char	*detail;
	const char	*name;
} vectors[] = {
	{ "lists", ".lists" },
	{ "Lists", ".Lists" },
	{ "lists.debian", ".lists.debian" },
	{ "Entw\xc3\xbcrfe", ".Entw&APw-rfe" },
	{ "&", ".&-" },
	{ "a&b&", ".a&-b&-" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", ".&ZeVnLIqe-" },
	/* RFC 3501's "~peter/mail/台北/日本語", one component of it. */
	{ "\xe5\x8f\xb0\xe5\x8c\x97", ".&U,BTFw-" },
	{ "a\xc3\xbc\xe6\x97\xa5" "b", ".a&APxl5Q-b" },
	{ "\xc3\xbc\xc3\xbc\xc3\xbc", ".&APwA,AD8-" },
	{ "\xf0\x9f\x98\x80", ".&2D3eAA-" },	/* a surrogate pair */
	{ "\xce\xa9mega~x,y", ".&A6k-mega~x,y" },
	{ "a b \"c\" :d", ".a b \"c\" :d" },
	{ "inboxes", ".inboxes" },
	{ "x.INBOX", ".x.INBOX" },
};

START_TEST(test_name_vector)
{
	char	out[FOLDER_NAME_MAX + 1];

	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(folder_name(vectors[_i].detail, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, vectors[_i].name);
}
END_TEST

static const char *const refused[] = {
	"", ".", "..", ".lists", "lists.", "lists..debian", "a/b", "/",
	"a\\b", "a\tb", "a\nb", "\x01", "a\x1f", "a\x7f", "a\xc2\x80",
	"a\xc2\x9f", "\xc3", "a\xc3(", "\xc0\xaf", "\xc1\x81",
	"\xe0\x81\x81", "\xf0\x81\x81\x81",
	"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xff",
	"\x80", "INBOX", "inbox", "Inbox", "INBOX.lists", "inbox.x.y", "~x",
	"~", "a*", "%", "a%b",
};

START_TEST(test_name_refused)
{
	char	out[FOLDER_NAME_MAX + 1];

	errno = 0;
	ck_assert_msg(folder_name(refused[_i], out, sizeof(out)) == -1,
	    "refused[%d] accepted as %s", _i, out);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_name_null_and_long)
{
	char	out[FOLDER_NAME_MAX + 8], detail[FOLDER_NAME_MAX + 8];
	size_t	i;

	errno = 0;
	ck_assert_int_eq(folder_name(NULL, out, sizeof(out)), -1);
	ck_assert_int_eq(errno, EINVAL);

	/* The dot and 254 octets make FOLDER_NAME_MAX: one more is too many. */
	memset(detail, 'a', FOLDER_NAME_MAX - 1);
	detail[FOLDER_NAME_MAX - 1] = '\0';
	ck_assert_int_eq(folder_name(detail, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), FOLDER_NAME_MAX);
	detail[FOLDER_NAME_MAX - 1] = 'a';
	detail[FOLDER_NAME_MAX] = '\0';
	errno = 0;
	ck_assert_int_eq(folder_name(detail, out, sizeof(out)), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);

	/* cap counts the NUL. */
	ck_assert_int_eq(folder_name("abc", out, 5), 0);
	ck_assert_str_eq(out, ".abc");
	errno = 0;
	ck_assert_int_eq(folder_name("abc", out, 4), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(folder_name("\xc3\xbc", out, 6), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(folder_name("\xc3\xbc", out, 7), 0);

	/* A long run of non-ASCII grows 8/3 per character. */
	for (i = 0; i + 2 <= 2 * 96; i += 2)
		memcpy(detail + i, "\xc3\xbc", 2);
	detail[i] = '\0';
	errno = 0;
	ck_assert_int_eq(folder_name(detail, out, sizeof(out)), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	detail[2 * 94] = '\0';
	ck_assert_int_eq(folder_name(detail, out, sizeof(out)), 0);
	ck_assert_uint_le(strlen(out), FOLDER_NAME_MAX);
}
END_TEST

/* No detail, policy INBOX, no rules, a refused detail: the Maildir. */
START_TEST(test_inbox_cases)
{
	make_md();
	make_dir(".lists");
	ck_assert_int_eq(choose(NULL, &create_any, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("", &create_any, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("lists", &inbox_only, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("lists", NULL, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("a/b", &create_any, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("INBOX", &create_any, NULL),
	    FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("..", &create_any, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(kind("subscriptions"), 0);
	ck_assert_int_eq(kind(".INBOX"), 0);
	ck_assert_int_eq(kind("a"), 0);
}
END_TEST

/* An existing folder is used, completed, and not subscribed again. */
START_TEST(test_existing_used)
{
	make_md();
	make_dir(".lists");
	make_dir(".lists/cur");
	ck_assert_int_eq(choose("lists", &existing, ".lists"),
	    FOLDER_USED_EXISTING);
	ck_assert_int_eq(kind(".lists/new"), 'd');
	ck_assert_int_eq(kind(".lists/tmp"), 'd');
	ck_assert_int_eq(choose("lists", &create_any, ".lists"),
	    FOLDER_USED_EXISTING);
	ck_assert_int_eq(kind("subscriptions"), 0);
	ck_assert_int_eq(kind(".lists/maildirfolder"), 0);

	/* EXISTING makes nothing. */
	ck_assert_int_eq(choose("other", &existing, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(kind(".other"), 0);
	ck_assert_int_eq(kind("subscriptions"), 0);
}
END_TEST

/* A symlink (or file) named like the folder is not followed. */
START_TEST(test_symlink_not_used)
{
	char	target[PATH_MAX], lnk[PATH_MAX];

	make_md();
	test_pathf(target, "%s/elsewhere", root);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	test_pathf(lnk, "%s/.lists", md);
	ck_assert_int_eq(symlink(target, lnk), 0);
	ck_assert_int_eq(choose("lists", &existing, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("lists", &create_any, NULL),
	    FOLDER_USED_INBOX);
	ck_assert_int_eq(kind(".lists"), 'l');
	test_pathf(lnk, "%s/elsewhere/new", root);
	ck_assert_int_eq(access(lnk, F_OK), -1);
	ck_assert_int_eq(kind("subscriptions"), 0);

	spit(".file", "");
	ck_assert_int_eq(choose("file", &create_any, NULL),
	    FOLDER_USED_INBOX);
	ck_assert_int_eq(kind(".file"), 'f');
}
END_TEST

/* CREATE: the folder's layout and the subscription Dovecot 2.3 writes. */
START_TEST(test_create_layout)
{
	char	subs[512];

	make_md();
	ck_assert_int_eq(choose("lists", &create_any, ".lists"),
	    FOLDER_USED_CREATED);
	assert_folder(".lists");
	assert_mode("subscriptions", 0600);
	slurp("subscriptions", subs, sizeof(subs));
	ck_assert_str_eq(subs, V2 "lists\n");

	ck_assert_int_eq(choose("lists.debian", &create_any, ".lists.debian"),
	    FOLDER_USED_CREATED);
	ck_assert_int_eq(choose("Entw\xc3\xbcrfe", &create_any,
	    ".Entw&APw-rfe"), FOLDER_USED_CREATED);
	assert_folder(".lists.debian");
	slurp("subscriptions", subs, sizeof(subs));
	ck_assert_str_eq(subs, V2 "lists\nlists\tdebian\nEntw&APw-rfe\n");
}
END_TEST

/* No Maildir yet: it is made first, then the folder. */
START_TEST(test_create_missing_maildir)
{
	ck_assert_int_eq(choose("lists", &create_any, ".lists"),
	    FOLDER_USED_CREATED);
	ck_assert_int_eq(kind("cur"), 'd');
	ck_assert_int_eq(kind("new"), 'd');
	ck_assert_int_eq(kind("tmp"), 'd');
	assert_folder(".lists");
}
END_TEST

START_TEST(test_create_pattern)
{
	static const struct folder_rules lists = { FOLDER_CREATE, "list*", 0 };
	static const struct folder_rules empty = { FOLDER_CREATE, "", 0 };
	char	subs[512];

	ck_assert_int_eq(choose("other", &lists, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(kind(".other"), 0);
	ck_assert_int_eq(choose("lists.debian", &lists, ".lists.debian"),
	    FOLDER_USED_CREATED);
	ck_assert_int_eq(choose("xlists", &lists, NULL), FOLDER_USED_INBOX);
	/* The pattern is matched as given: no case folding. */
	ck_assert_int_eq(choose("Lists", &lists, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(choose("other", &empty, ".other"),
	    FOLDER_USED_CREATED);
	slurp("subscriptions", subs, sizeof(subs));
	ck_assert_str_eq(subs, V2 "lists\tdebian\nother\n");
}
END_TEST

/* max_folders counts dot-directories only, symlinks and files aside. */
START_TEST(test_create_cap)
{
	char	target[PATH_MAX], lnk[PATH_MAX], subs[512];

	make_md();
	make_dir("cur");
	make_dir("plain");
	spit(".file", "");
	test_pathf(target, "%s/home", root);
	test_pathf(lnk, "%s/.link", md);
	ck_assert_int_eq(symlink(target, lnk), 0);
	ck_assert_int_eq(choose("a", &cap2, ".a"), FOLDER_USED_CREATED);
	ck_assert_int_eq(choose("b", &cap2, ".b"), FOLDER_USED_CREATED);
	ck_assert_int_eq(choose("c", &cap2, NULL), FOLDER_USED_INBOX);
	ck_assert_int_eq(kind(".c"), 0);
	/* Existing folders are still used at the cap. */
	ck_assert_int_eq(choose("a", &cap2, ".a"), FOLDER_USED_EXISTING);
	ck_assert_int_eq(choose("c", &cap3, ".c"), FOLDER_USED_CREATED);
	ck_assert_int_eq(choose("d", &cap3, NULL), FOLDER_USED_INBOX);
	slurp("subscriptions", subs, sizeof(subs));
	ck_assert_str_eq(subs, V2 "a\nb\nc\n");
}
END_TEST

/* Made twice (the folder removed between): one subscription line. */
START_TEST(test_subscribed_once)
{
	char	path[PATH_MAX], subs[512];

	ck_assert_int_eq(choose("lists.debian", &create_any, ".lists.debian"),
	    FOLDER_USED_CREATED);
	test_pathf(path, "%s/.lists.debian", md);
	ck_assert_int_eq(test_rmtree(path), 0);
	ck_assert_int_eq(choose("lists.debian", &create_any, ".lists.debian"),
	    FOLDER_USED_CREATED);
	assert_folder(".lists.debian");
	slurp("subscriptions", subs, sizeof(subs));
	ck_assert_str_eq(subs, V2 "lists\tdebian\n");
}
END_TEST

/* Appending to files Dovecot wrote keeps each one valid, in its form. */
static const struct {
	const char	*before;
	const char	*detail;
	const char	*after;
} subs_files[] = {
	/* v2, as doveadm 2.3 writes it. */
	{ V2 "Trash\n", "lists.debian", V2 "Trash\nlists\tdebian\n" },
	{ V2 "lists\tdebian\n", "lists.debian", V2 "lists\tdebian\n" },
	/* Dovecot reads a TAB-less v2 line as the same mailbox. */
	{ V2 "lists.debian\n", "lists.debian", V2 "lists.debian\n" },
	/* The header's "V\t2" line is not the folder "V.2". */
	{ V2 "Trash\n", "V.2", V2 "Trash\nV\t2\n" },
	/* No header (older Dovecot, Courier-style): dots, as Dovecot does. */
	{ "Trash\n", "lists.debian", "Trash\nlists.debian\n" },
	{ "Trash\nlists.debian\n", "lists.debian", "Trash\nlists.debian\n" },
	{ "lists\tdebian\n", "lists.debian", "lists\tdebian\nlists.debian\n" },
	/*
	 * Empty is new (doveadm would keep it headerless; both read the
	 * same): an lmtpd may have just created it.
	 */
	{ "", "lists.debian", V2 "lists\tdebian\n" },
	/* A last line without its LF is completed, never duplicated. */
	{ "Trash", "lists", "Trash\nlists\n" },
	{ "Trash\nlists", "lists", "Trash\nlists\n" },
	{ V2 "lists", "lists", V2 "lists\n" },
	{ V2 "lists\tdeb", "lists.debian", V2 "lists\tdeb\nlists\tdebian\n" },
	/* Prefixes and longer lines are other mailboxes. */
	{ V2 "list\nlists2\n", "lists", V2 "list\nlists2\nlists\n" },
};

START_TEST(test_subscriptions_file)
{
	char	subs[512], rel[PATH_MAX];

	make_md();
	spit("subscriptions", subs_files[_i].before);
	ck_assert_int_eq(folder_name(subs_files[_i].detail, subs,
	    sizeof(subs)), 0);
	test_pathf(rel, "%s", subs);
	ck_assert_int_eq(choose(subs_files[_i].detail, &create_any, rel),
	    FOLDER_USED_CREATED);
	slurp("subscriptions", subs, sizeof(subs));
	ck_assert_str_eq(subs, subs_files[_i].after);
}
END_TEST

/*
 * Processes creating one folder at once all succeed with it, and it is
 * subscribed once; creating different folders at once respects the cap.
 */
START_TEST(test_concurrent_create)
{
	enum { ROUNDS = 10, PROCS = 6 };
	char	base[PATH_MAX], subs[512], want[64];
	pid_t	pids[PROCS];
	int	go[2], round, i, status, failed = 0, n;
	char	c;

	ck_assert_int_ge(snprintf(base, sizeof(base), "%s", md), 0);
	for (round = 0; round < ROUNDS; round++) {
		test_pathf(md, "%s/r%d", base, round);
		ck_assert_int_eq(pipe(go), 0);
		for (i = 0; i < PROCS; i++) {
			pids[i] = fork();
			ck_assert_int_ne(pids[i], -1);
			if (pids[i] == 0) {
				char			 d[PATH_MAX];
				char			 detail[16];
				enum folder_result	 res;
				bool			 same = round % 2 == 0;

				close(go[1]);
				(void)read(go[0], &c, 1);
				snprintf(detail, sizeof(detail), "f%d",
				    same ? 0 : i);
				if (folder_choose(md, detail, same ?
				    &create_any : &cap3, d, sizeof(d),
				    &res) == -1)
					_exit(1);
				_exit(res == FOLDER_USED_INBOX ? 2 : 0);
			}
		}
		close(go[0]);
		close(go[1]);
		n = 0;
		for (i = 0; i < PROCS; i++) {
			ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
			if (!WIFEXITED(status) || WEXITSTATUS(status) == 1)
				failed++;
			else if (WEXITSTATUS(status) == 0)
				n++;
		}
		slurp("subscriptions", subs, sizeof(subs));
		if (round % 2 == 0) {
			ck_assert_int_eq(n, PROCS);
			assert_folder(".f0");
			ck_assert_str_eq(subs, V2 "f0\n");
		} else {
			/* The cap: three folders, three lines, whatever won. */
			ck_assert_int_eq(n, 3);
			for (n = 0, i = 0; i < PROCS; i++) {
				snprintf(want, sizeof(want), ".f%d", i);
				if (kind(want) == 'd')
					n++;
			}
			ck_assert_int_eq(n, 3);
			ck_assert_uint_eq(strlen(subs), strlen(V2) + 3 * 3);
		}
	}
	ck_assert_int_eq(failed, 0);
}
END_TEST

/* Real failures are -1 with errno, never a quiet INBOX. */
START_TEST(test_io_failures)
{
	char			dir[PATH_MAX], path[PATH_MAX];
	enum folder_result	res;
	int			fd;

	/* The Maildir is a file. */
	test_pathf(path, "%s/home", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	fd = open(md, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	errno = 0;
	ck_assert_int_eq(folder_choose(md, "lists", &create_any, dir,
	    sizeof(dir), &res), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	errno = 0;
	ck_assert_int_eq(folder_choose(md, "lists", &existing, dir,
	    sizeof(dir), &res), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_eq(unlink(md), 0);

	/* subscriptions is a directory: nothing is made. */
	ck_assert_int_eq(mkdir(md, 0700), 0);
	make_dir("subscriptions");
	errno = 0;
	ck_assert_int_eq(folder_choose(md, "lists", &create_any, dir,
	    sizeof(dir), &res), -1);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(kind(".lists"), 0);

	/* Permissions bind only when we are not root. */
	if (geteuid() != 0) {
		test_pathf(path, "%s/subscriptions", md);
		ck_assert_int_eq(rmdir(path), 0);
		ck_assert_int_eq(chmod(md, 0500), 0);
		errno = 0;
		ck_assert_int_eq(folder_choose(md, "lists", &create_any, dir,
		    sizeof(dir), &res), -1);
		ck_assert_int_eq(errno, EACCES);
		ck_assert_int_eq(chmod(md, 0700), 0);
	}
}
END_TEST

/* dir_out too small: for the folder, the INBOX; for the Maildir, -1. */
START_TEST(test_cap_of_dir_out)
{
	char			dir[PATH_MAX];
	enum folder_result	res;
	size_t			len = strlen(md);

	make_md();
	make_dir(".lists");
	ck_assert_int_eq(folder_choose(md, "lists", &create_any, dir,
	    len + strlen("/.lists") + 1, &res), 0);
	ck_assert_int_eq(res, FOLDER_USED_EXISTING);
	ck_assert_int_eq(folder_choose(md, "lists", &create_any, dir,
	    len + strlen("/.lists"), &res), 0);
	ck_assert_int_eq(res, FOLDER_USED_INBOX);
	ck_assert_str_eq(dir, md);
	errno = 0;
	ck_assert_int_eq(folder_choose(md, "lists", &create_any, dir, len,
	    &res), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

Suite *
folder_suite(void)
{
	Suite	*s = suite_create("folder");
	TCase	*tc;

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_name_vector, 0,
	    (int)(sizeof(vectors) / sizeof(vectors[0])));
	tcase_add_loop_test(tc, test_name_refused, 0,
	    (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, test_name_null_and_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("choose");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_inbox_cases);
	tcase_add_test(tc, test_existing_used);
	tcase_add_test(tc, test_symlink_not_used);
	tcase_add_test(tc, test_cap_of_dir_out);
	tcase_add_test(tc, test_io_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("create");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_layout);
	tcase_add_test(tc, test_create_missing_maildir);
	tcase_add_test(tc, test_create_pattern);
	tcase_add_test(tc, test_create_cap);
	tcase_add_test(tc, test_subscribed_once);
	tcase_add_loop_test(tc, test_subscriptions_file, 0,
	    (int)(sizeof(subs_files) / sizeof(subs_files[0])));
	tcase_add_test(tc, test_concurrent_create);
	suite_add_tcase(s, tc);
	return s;
}
