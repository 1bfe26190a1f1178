/* SPDX-License-Identifier: MIT */
/*
 * delivery: one transaction through the pipeline a session drives, on a
 * configuration loaded from a file in a mkdtemp() tree: space at MAIL,
 * quota at RCPT and after the data, the loop checks, the duplicate
 * journal, hard links, +detail folders, and that bookkeeping failures
 * never refuse a stored copy.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "delivery.h"
#include "lmtp.h"
#include "suites.h"
#include "testutil.h"

/* maildir.c's fault seam (not in maildir.h: only tests use it). */
extern int	(*maildir_fault_hook)(const char *step);

static char		 root[TEST_DIR_MAX];
static struct conf	*conf;
static const struct delivery_origin origin = { .helo = "client.test",
			    .peer = "[127.0.0.1]" };

static void
setup(void)
{
	char	path[PATH_MAX], err[512], text[2048];

	test_mkdtemp(root, sizeof(root), "delivery");
	test_pathf(path, "%s/spool", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	test_pathf(path, "%s/users", root);
	test_write_file(path, "admin@example.org\nalice@example.org\n"
	    "bob@example.org\nsmall@example.org 1k\nfew@example.org 1C\n"
	    "u0@example.org\nu1@example.org\nu2@example.org\n"
	    "u3@example.org\nu4@example.org\nu5@example.org\n"
	    "u6@example.org\nu7@example.org\nu8@example.org\n"
	    "u9@example.org\n");
	snprintf(text, sizeof(text),
	    "domains = {\"example.org\"}\n"
	    "maildir = \"%s/mail/%%n\"\n"
	    "users_file = \"%s/users\"\n"
	    "postmaster = \"admin@example.org\"\n"
	    "spool_dir = \"%s/spool\"\n"
	    "recipient_delimiter = \"+\"\n"
	    "hostname = \"mx.example.org\"\n"
	    "min_free_space = 0\n", root, root, root);
	test_pathf(path, "%s/lmtpd.conf", root);
	test_write_file(path, text);
	conf = conf_load(path, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
}

static void
teardown(void)
{
	maildir_fault_hook = NULL;
	conf_free(conf);
	conf = NULL;
	(void)test_rmtree(root);
}

static struct addr
parse(const char *text)
{
	struct addr	a;
	char		path[ADDR_PATH_MAX + 3];
	size_t		end;
	int		n;

	n = snprintf(path, sizeof(path), "<%s>", text);
	ck_assert_int_eq(addr_parse_path(path, (size_t)n, ADDR_ALLOW_UTF8,
	    &a, &end), ADDR_OK);
	return a;
}

static void
reply_init(struct lmtp_reply *r, unsigned code)
{
	memset(r, 0, sizeof(*r));
	r->code = code;
}

/* Files in root/mail/<who>/<sub>. */
static int
count(const char *who, const char *sub)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/mail/%s/%s", root, who, sub);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * MAIL, the RCPTs (which must all pass), the message, and one delivery
 * per recipient; the final replies go to out.
 */
static void
transact(struct delivery *d, const char *sender, const char *const *rcpts,
    size_t n, const char *msg, struct lmtp_reply *out)
{
	struct lmtp_reply	r;
	struct addr		a;
	char			why[1024], detail[1024];
	long long		size;
	size_t			i;

	reply_init(&r, 250);
	delivery_mail(d, sender, false, 0, &r, why, sizeof(why));
	ck_assert_uint_eq(r.code, 250);
	for (i = 0; i < n; i++) {
		a = parse(rcpts[i]);
		reply_init(&r, 250);
		delivery_rcpt(d, &a, &r, why, sizeof(why));
		ck_assert_msg(r.code == 250, "%s: %u %s (%s)", rcpts[i],
		    r.code, r.text, why);
	}
	ck_assert_int_eq(delivery_data_begin(d, &origin), 0);
	ck_assert_int_eq(delivery_data_body(d, msg, strlen(msg)), 0);
	reply_init(&r, 0);
	delivery_data_end(d, &r, why, sizeof(why));
	for (i = 0; i < n; i++) {
		out[i] = r;
		if (r.code == 0)
			delivery_deliver(d, i, &origin, &out[i], detail,
			    sizeof(detail), &size);
	}
	delivery_reset(d);
}

static const char	msg1[] = "Subject: one\n\nbody\n";

START_TEST(test_delivers_and_remembers)
{
	static const char *const to[] = { "alice@example.org",
					  "bob@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[2];

	transact(d, "s@remote.test", to, 2, msg1, r);
	ck_assert_uint_eq(r[0].code, 250);
	ck_assert_uint_eq(r[1].code, 250);
	ck_assert_ptr_nonnull(strstr(r[0].text, "delivered"));
	ck_assert_int_eq(count("alice", "new"), 1);
	/* The same transaction again: 250, no second copy. */
	transact(d, "s@remote.test", to, 2, msg1, r);
	ck_assert_uint_eq(r[0].code, 250);
	ck_assert_ptr_nonnull(strstr(r[0].text, "already delivered"));
	ck_assert_int_eq(count("alice", "new"), 1);
	ck_assert_int_eq(count("bob", "new"), 1);
	/* Another sender, or another message, is another copy. */
	transact(d, "t@remote.test", to, 1, msg1, r);
	ck_assert_ptr_null(strstr(r[0].text, "already"));
	transact(d, "s@remote.test", to, 1, "Subject: two\n\nbody\n", r);
	ck_assert_int_eq(count("alice", "new"), 3);
	/* With the window at 0 nothing is remembered. */
	conf->dedup_window = 0;
	transact(d, "s@remote.test", to + 1, 1, msg1, r);
	ck_assert_int_eq(count("bob", "new"), 2);
	delivery_free(d);
}
END_TEST

START_TEST(test_loops)
{
	static const char *const to[] = { "alice@example.org",
					  "bob@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[2];
	char			*hops;
	size_t			 i, len;
	const char		 hop[] = "Received: from a by b; x\n";

	transact(d, "", to, 2, "Delivered-To: <ALICE@example.org>\n"
	    "Subject: loop\n\nbody\n", r);
	ck_assert_uint_eq(r[0].code, 554);
	ck_assert_str_eq(r[0].esc, "5.4.6");
	ck_assert_uint_eq(r[1].code, 250);
	ck_assert_int_eq(count("alice", "new"), 0);
	/* The message was written into alice's tmp/: taken back. */
	ck_assert_int_eq(count("alice", "tmp"), 0);

	len = strlen(hop);
	hops = calloc(102, len + 1);
	ck_assert_ptr_nonnull(hops);
	for (i = 0; i < 101; i++)
		memcpy(hops + i * len, hop, len);
	strcpy(hops + 101 * len, "\nbody\n");
	transact(d, "", to, 2, hops, r);
	ck_assert_uint_eq(r[0].code, 554);
	ck_assert_uint_eq(r[1].code, 554);
	ck_assert_str_eq(r[1].esc, "5.4.6");
	/* 100 hops are still fine. */
	strcpy(hops + 100 * len, "\nbody\n");
	transact(d, "", to, 1, hops, r);
	ck_assert_uint_eq(r[0].code, 250);
	free(hops);
	delivery_free(d);
}
END_TEST

START_TEST(test_quota)
{
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r;
	struct addr		 a = parse("small@example.org");
	char			 why[1024], big[2048];
	static const char *const few[] = { "few@example.org" };
	struct lmtp_reply	 out[1];

	/* SIZE= over the quota: refused at RCPT, by policy. */
	reply_init(&r, 250);
	delivery_mail(d, "", false, 5000, &r, why, sizeof(why));
	reply_init(&r, 250);
	delivery_rcpt(d, &a, &r, why, sizeof(why));
	ck_assert_uint_eq(r.code, 452);
	ck_assert_str_eq(r.esc, "4.2.2");
	ck_assert_uint_eq(delivery_n_rcpts(d), 0);
	conf->quota_bounce = true;
	reply_init(&r, 250);
	delivery_rcpt(d, &a, &r, why, sizeof(why));
	ck_assert_uint_eq(r.code, 552);
	ck_assert_str_eq(r.esc, "5.2.2");
	conf->quota_bounce = false;

	/* Without SIZE=, the size is known only after the data. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '\n';
	transact(d, "", (const char *const[]){ "small@example.org" }, 1, big,
	    out);
	ck_assert_uint_eq(out[0].code, 452);
	ck_assert_int_eq(count("small", "new"), 0);
	ck_assert_int_eq(count("small", "tmp"), 0);

	/* One message allowed: the second is refused at RCPT. */
	transact(d, "", few, 1, msg1, out);
	ck_assert_uint_eq(out[0].code, 250);
	a = parse("few@example.org");
	reply_init(&r, 250);
	delivery_mail(d, "", false, 0, &r, why, sizeof(why));
	reply_init(&r, 250);
	delivery_rcpt(d, &a, &r, why, sizeof(why));
	ck_assert_uint_eq(r.code, 452);
	ck_assert_ptr_nonnull(strstr(why, "quota"));
	delivery_free(d);
}
END_TEST

START_TEST(test_free_space)
{
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r;
	char			 why[1024];

	conf->min_free_space = UINT64_MAX / 2;
	reply_init(&r, 250);
	delivery_mail(d, "", false, 0, &r, why, sizeof(why));
	ck_assert_uint_eq(r.code, 452);
	ck_assert_str_eq(r.esc, "4.3.1");
	ck_assert_ptr_nonnull(strstr(why, "min_free_space"));
	conf->min_free_space = 0;
	reply_init(&r, 250);
	delivery_mail(d, "", false, 0, &r, why, sizeof(why));
	ck_assert_uint_eq(r.code, 250);
	delivery_free(d);
}
END_TEST

START_TEST(test_links)
{
	static const char *const to[] = { "alice@example.org",
					  "bob@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[2];
	char			 path[PATH_MAX];
	DIR			*dir;
	struct dirent		*e;
	struct stat		 st;

	conf->delivered_to = false;
	transact(d, "", to, 2, msg1, r);
	ck_assert_uint_eq(r[1].code, 250);
	snprintf(path, sizeof(path), "%s/mail/bob/new", root);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/mail/bob/new/%s", root,
		    e->d_name);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_eq(st.st_nlink, 2);
	}
	closedir(dir);
	delivery_free(d);
}
END_TEST

START_TEST(test_detail_folder)
{
	static const char *const to[] = { "alice+lists@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[1];
	char			 path[PATH_MAX];

	transact(d, "", to, 1, msg1, r);
	ck_assert_int_eq(count("alice", "new"), 1);
	snprintf(path, sizeof(path), "%s/mail/alice/.lists", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	transact(d, "", to, 1, "Subject: 2\n\nbody\n", r);
	ck_assert_uint_eq(r[0].code, 250);
	ck_assert_int_eq(count("alice/.lists", "new"), 1);
	ck_assert_int_eq(count("alice", "new"), 1);
	delivery_free(d);
}
END_TEST

/* The one file in root/mail/<who>/new, read into buf (cap bytes). */
static size_t
read_copy(const char *who, char *buf, size_t cap)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*e;
	FILE		*f;
	size_t		 n = 0;

	snprintf(path, sizeof(path), "%s/mail/%s/new", root, who);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
		;
	ck_assert_ptr_nonnull(e);
	snprintf(path, sizeof(path), "%s/mail/%s/new/%s", root, who,
	    e->d_name);
	closedir(d);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static int	appends, fail_append_at;

static int
append_fails(const char *step)
{
	if (strcmp(step, "append") == 0 && ++appends == fail_append_at)
		return EDQUOT;
	return 0;
}

static int
open_fails(const char *step)
{
	return strcmp(step, "open") == 0 && appends++ == 0 ? EACCES : 0;
}

/*
 * The first recipient's copy takes the message as it comes; when a write
 * to it fails (its owner's quota), that copy fails alone and the others
 * get every octet from the spool it hands over to.
 */
START_TEST(test_first_copy_fails_alone)
{
	static const char *const to[] = { "alice@example.org",
					  "bob@example.org" };
	static const char	 part1[] = "Subject: halves\n\nfirst half\n",
				 part2[] = "second half\n";
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[2];
	struct addr		 a;
	char			 why[1024], detail[1024], buf[4096];
	long long		 size;
	size_t			 i, n;

	appends = 0;
	fail_append_at = 3;	/* the header block, part1, part2 */
	maildir_fault_hook = append_fails;
	reply_init(&r[0], 250);
	delivery_mail(d, "s@remote.test", false, 0, &r[0], why, sizeof(why));
	for (i = 0; i < 2; i++) {
		a = parse(to[i]);
		delivery_rcpt(d, &a, &r[0], why, sizeof(why));
	}
	ck_assert_int_eq(delivery_data_begin(d, &origin), 0);
	ck_assert_int_eq(delivery_data_body(d, part1, strlen(part1)), 0);
	ck_assert_int_eq(delivery_data_body(d, part2, strlen(part2)), 0);
	ck_assert_int_eq(appends, 3);
	ck_assert_int_eq(count("alice", "tmp"), 0);
	reply_init(&r[0], 0);
	delivery_data_end(d, &r[0], why, sizeof(why));
	for (i = 0; i < 2; i++) {
		reply_init(&r[i], 0);
		delivery_deliver(d, i, &origin, &r[i], detail, sizeof(detail),
		    &size);
	}
	delivery_reset(d);
	ck_assert_uint_eq(r[0].code, 452);
	ck_assert_str_eq(r[0].esc, "4.2.2");
	ck_assert_uint_eq(r[1].code, 250);
	ck_assert_int_eq(count("alice", "new"), 0);
	n = read_copy("bob", buf, sizeof(buf));
	ck_assert_uint_gt(n, strlen(part1) + strlen(part2));
	ck_assert_str_eq(buf + n - strlen(part1) - strlen(part2),
	    "Subject: halves\n\nfirst half\nsecond half\n");
	ck_assert_ptr_nonnull(strstr(buf, "Delivered-To: <bob@example.org>"));
	ck_assert_ptr_null(strstr(buf, "alice"));

	/* A first copy that cannot be made fails; the spool serves bob. */
	appends = 0;
	maildir_fault_hook = open_fails;
	transact(d, "t@remote.test", to, 2, msg1, r);
	ck_assert_uint_eq(r[0].code, 451);
	ck_assert_uint_eq(r[1].code, 250);
	ck_assert_int_eq(count("alice", "new"), 0);
	ck_assert_int_eq(count("bob", "new"), 2);
	delivery_free(d);
}
END_TEST

/*
 * A message for one recipient's INBOX needs no spool; one for a +detail
 * folder does (the folder is chosen at delivery).  The other copies are
 * made from the first: each gets its own trace block and the body once.
 */
START_TEST(test_first_copy_is_the_spool)
{
	static const char *const one[] = { "alice@example.org" };
	static const char *const two[] = { "alice@example.org",
					   "bob@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[2];
	struct addr		 a;
	char			 path[PATH_MAX], why[1024], buf[4096];
	size_t			 n;

	test_pathf(path, "%s/spool", root);
	ck_assert_int_eq(rmdir(path), 0);
	transact(d, "", one, 1, msg1, r);
	ck_assert_uint_eq(r[0].code, 250);
	transact(d, "other@remote.test", two, 2, msg1, r);
	ck_assert_uint_eq(r[1].code, 250);
	n = read_copy("bob", buf, sizeof(buf));
	ck_assert_str_eq(buf + n - strlen(msg1), msg1);
	ck_assert_ptr_null(strstr(buf, "alice"));
	ck_assert_int_eq(strstr(buf, "\nSubject:") - buf + 1,
	    (long)(n - strlen(msg1)));
	ck_assert_ptr_null(strstr(strstr(buf, "Subject:") + 1, "Subject:"));
	ck_assert_int_eq(count("alice", "new"), 2);

	reply_init(&r[0], 250);
	delivery_mail(d, "", false, 0, &r[0], why, sizeof(why));
	a = parse("alice+lists@example.org");
	delivery_rcpt(d, &a, &r[0], why, sizeof(why));
	ck_assert_uint_eq(r[0].code, 250);
	ck_assert_int_eq(delivery_data_begin(d, &origin), -1);
	delivery_free(d);
}
END_TEST

static char	trail[128];
static int	dirsyncs, fail_dirsync_at;

/*
 * Records the steps of the copies in trail, a letter each: o open,
 * f fsync, r rename, d dirsync, l link.  Writes are left out.
 */
static int
record_steps(const char *step)
{
	static const char *const names[] = { "open", "fsync", "rename",
	    "dirsync", "link" };
	size_t	i, len = strlen(trail);

	for (i = 0; i < 5; i++)
		if (strcmp(step, names[i]) == 0 && len + 1 < sizeof(trail)) {
			trail[len] = "ofrdl"[i];
			trail[len + 1] = '\0';
		}
	if (strcmp(step, "dirsync") == 0 && ++dirsyncs == fail_dirsync_at)
		return EIO;
	return 0;
}

static void
record(void)
{
	trail[0] = '\0';
	dirsyncs = 0;
	maildir_fault_hook = record_steps;
}

/*
 * The durable work of a transaction's copies is grouped: every file
 * fsynced, then every rename, then each new/ fsynced once; eight copies
 * at a time.
 */
START_TEST(test_copies_synced_together)
{
	static const char *const to[] = { "u0@example.org",
	    "u1@example.org", "u2@example.org", "u3@example.org",
	    "u4@example.org", "u5@example.org", "u6@example.org",
	    "u7@example.org", "u8@example.org", "u9@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[10];
	char			 who[8];
	size_t			 i;

	/* The Maildirs exist (making them syncs their parents). */
	fail_dirsync_at = 0;
	transact(d, "", to, 10, "Subject: first\n\nbody\n", r);
	ck_assert_uint_eq(r[9].code, 250);

	/* The copies made (u0's as the data came) ... */
	record();
	transact(d, "", to, 3, msg1, r);
	ck_assert_str_eq(trail, "ooo" "fff" "rrr" "ddd");
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(r[i].code, 250);

	/* ... ten of them: two batches. */
	record();
	transact(d, "", to, 10, "Subject: ten\n\nbody\n", r);
	ck_assert_str_eq(trail, "oooooooo" "ffffffff" "rrrrrrrr" "dddddddd"
	    "oo" "ff" "rr" "dd");
	for (i = 0; i < 10; i++) {
		ck_assert_uint_eq(r[i].code, 250);
		snprintf(who, sizeof(who), "u%zu", i);
		ck_assert_int_eq(count(who, "new"), i < 3 ? 3 : 2);
	}

	/* A new/ that cannot be synced takes back its own copy only. */
	fail_dirsync_at = 2;
	record();
	transact(d, "", to, 3, "Subject: three\n\nbody\n", r);
	ck_assert_uint_eq(r[0].code, 250);
	ck_assert_uint_eq(r[1].code, 451);
	ck_assert_uint_eq(r[2].code, 250);
	ck_assert_int_eq(count("u1", "new"), 3);
	ck_assert_int_eq(count("u1", "tmp"), 0);
	ck_assert_int_eq(count("u2", "new"), 4);

	/* delivered_to none: one file, linked into the others from tmp/. */
	conf->delivered_to = false;
	fail_dirsync_at = 0;
	record();
	transact(d, "", to, 10, "Subject: linked\n\nbody\n", r);
	ck_assert_str_eq(trail, "o" "f" "lllllll" "r" "dddddddd" "ll" "dd");
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(r[i].code, 250);
	maildir_fault_hook = NULL;
	delivery_free(d);
}
END_TEST

/* A journal that cannot be read or written costs dedup, never the copy. */
START_TEST(test_bookkeeping_failure_does_not_refuse)
{
	static const char *const to[] = { "alice@example.org" };
	struct delivery		*d = delivery_new(conf);
	struct lmtp_reply	 r[1];
	char			 path[PATH_MAX];

	transact(d, "", to, 1, msg1, r);
	snprintf(path, sizeof(path), "%s/mail/alice/lmtpd-dedup", root);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	transact(d, "", to, 1, "Subject: 2\n\nbody\n", r);
	ck_assert_uint_eq(r[0].code, 250);
	ck_assert_int_eq(count("alice", "new"), 2);
	delivery_free(d);
}
END_TEST

START_TEST(test_explain)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*out;

	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(delivery_explain(conf, "Small+x@example.org", 0,
	    out), 250);
	ck_assert_uint_eq(delivery_explain(conf, "nobody@example.org", 0,
	    out), 550);
	ck_assert_uint_eq(delivery_explain(conf, "not an address", 0, out),
	    0);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(buf, "user:     small@example.org"));
	ck_assert_ptr_nonnull(strstr(buf, "detail:   x"));
	ck_assert_ptr_nonnull(strstr(buf, "quota:    1024S; used 0"));
	ck_assert_ptr_nonnull(strstr(buf, "folder:   INBOX (.x does not"));
	ck_assert_ptr_nonnull(strstr(buf, "RCPT:     550 5.1.1"));
	ck_assert_ptr_nonnull(strstr(buf, "not an address"));
	free(buf);
	ck_assert_int_eq(count("small", "new"), 0);
}
END_TEST

Suite *
delivery_suite(void)
{
	Suite	*s = suite_create("delivery");
	TCase	*tc;

	tc = tcase_create("delivery");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_delivers_and_remembers);
	tcase_add_test(tc, test_loops);
	tcase_add_test(tc, test_quota);
	tcase_add_test(tc, test_free_space);
	tcase_add_test(tc, test_links);
	tcase_add_test(tc, test_detail_folder);
	tcase_add_test(tc, test_bookkeeping_failure_does_not_refuse);
	tcase_add_test(tc, test_explain);
	tcase_add_test(tc, test_first_copy_fails_alone);
	tcase_add_test(tc, test_first_copy_is_the_spool);
	tcase_add_test(tc, test_copies_synced_together);
	suite_add_tcase(s, tc);
	return s;
}
