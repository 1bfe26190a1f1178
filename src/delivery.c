/* SPDX-License-Identifier: MIT */
/*
 * delivery: the transaction behind the LMTP engine's hooks.  Checks that
 * can fail early do (space at MAIL, quota and space at RCPT), so that a
 * refusal costs the client no data.  Each copy is written under its
 * owner's file system identity when it has one.  The journal and the
 * quota file are bookkeeping: their failures are logged, never turned
 * into a refusal of a copy that is already on disk.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "delivery.h"
#include "folder.h"
#include "headers.h"
#include "identity.h"
#include "janitor.h"
#include "journal.h"
#include "log.h"
#include "maildir.h"
#include "quota.h"
#include "sha256.h"
#include "space.h"
#include "stats.h"
#include "trace.h"
#include "util.h"

#define DELIVERY_HEADER_MAX	(4 * 1024)
#define DELIVERY_DETAIL_MAX	(2 * PATH_MAX)	/* a log line's "(...)" */
#define DELIVERY_RECEIVED_MAX	100	/* RFC 5321 §6.3 */

/* A file written in this transaction, which later copies may link to. */
struct copy {
	bool	has_owner;
	uid_t	uid;
	gid_t	gid;
	char	path[PATH_MAX];
};

struct pending;

struct delivery {
	const struct conf	*conf;
	char			 queue_id[40];
	char			 sender[ADDR_PATH_MAX + 1];
	bool			 utf8;
	uint64_t		 size;		/* SIZE=, 0 unknown */
	struct recipient	*rcpts;
	size_t			 n_rcpts;
	size_t			 cap_rcpts;
	struct copy		*copies;	/* cap_rcpts of them */
	size_t			 n_copies;
	/*
	 * The body: in the spool, or (first_open) in the first recipient's
	 * own copy in tmp/, after its header block of body_off octets.
	 */
	int			 spool_fd;
	off_t			 spool_len;	/* body octets */
	off_t			 body_off;
	bool			 first_open;
	struct maildir_tmp	 first;
	int			 first_err;	/* its write failed: why */
	struct pending		*batch;		/* DELIVERY_BATCH of them */
	size_t			 batch_start;	/* recipient of batch[0] */
	size_t			 batch_len;	/* 0: none made yet */
	struct sha256		 sha;
	unsigned char		 digest[SHA256_DIGEST_LEN];
	struct headers		 headers;
};

static void	set_reply(struct lmtp_reply *, unsigned, const char *,
		    const char *);

static void
set_reply(struct lmtp_reply *r, unsigned code, const char *esc,
    const char *text)
{
	r->code = code;
	(void)util_strlcpy(r->esc, esc, sizeof(r->esc));
	(void)util_strlcpy(r->text, text, sizeof(r->text));
}

static bool
join(char *out, size_t cap, const char *a, const char *b)
{
	int	n;

	n = snprintf(out, cap, "%s/%s", a, b);
	return n >= 0 && (size_t)n < cap;
}

/* A queue id unique across children: time, pid and a counter, in hex. */
static void
make_queue_id(char *out, size_t cap)
{
	static unsigned	counter;
	struct timespec	now;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(out, cap, "%08lX%05lX%lX%X", (unsigned long)now.tv_sec,
	    (unsigned long)(now.tv_nsec / 1000), (unsigned long)util_getpid(),
	    counter++ & 0xfff);
}

struct delivery *
delivery_new(const struct conf *conf)
{
	struct delivery	*d;

	d = xcalloc(1, sizeof(*d));
	d->conf = conf;
	d->spool_fd = -1;
	return d;
}

void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	delivery_reset(d);
	x_free(d->rcpts);
	x_free(d->copies);
	x_free(d->batch);
	x_free(d);
}

/* The first recipient's copy, unless delivered, is taken back. */
static void
drop_first(struct delivery *d)
{
	const struct recipient	*rc;
	bool			 as_owner;

	if (!d->first_open)
		return;
	rc = &d->rcpts[0];
	as_owner = rc->has_owner && d->first.in_tmp &&
	    identity_fs_enter(rc->uid, rc->gid) == 0;
	maildir_tmp_discard(&d->first);
	if (as_owner)
		identity_fs_leave();
	d->first_open = false;
	d->spool_fd = -1;
}

void
delivery_reset(struct delivery *d)
{
	drop_first(d);
	if (d->spool_fd != -1)
		(void)close(d->spool_fd);
	d->spool_fd = -1;
	d->spool_len = 0;
	d->body_off = 0;
	d->first_err = 0;
	d->batch_len = 0;
	d->n_rcpts = 0;
	d->n_copies = 0;
	d->queue_id[0] = '\0';
	d->sender[0] = '\0';
	d->utf8 = false;
	d->size = 0;
}

/*
 * statvfs of path, remembered for a second: MAIL and every RCPT ask.
 * Only far from the reserve is the memo good enough (space_short): near
 * it, every question is asked afresh.
 */
#define SPACE_MEMO_SLOTS	16	/* a transaction's Maildirs, say */
#define SPACE_MEMO_PATH		256	/* longer paths are not remembered */

static struct {
	char		path[SPACE_MEMO_PATH];
	time_t		at;
	uint64_t	avail;
} space_memo[SPACE_MEMO_SLOTS];
static unsigned	space_memo_next;

static int
space_recent(const char *path, bool fresh, uint64_t *avail_out)
{
	time_t		now = time(NULL);
	unsigned	i;

	for (i = 0; i < SPACE_MEMO_SLOTS && !fresh; i++) {
		if (space_memo[i].at != now ||
		    strcmp(space_memo[i].path, path) != 0)
			continue;
		*avail_out = space_memo[i].avail;
		return 0;
	}
	if (space_available(path, avail_out) == -1)
		return -1;
	i = space_memo_next++ % SPACE_MEMO_SLOTS;
	if (util_strlcpy(space_memo[i].path, path,
	    sizeof(space_memo[i].path)) == -1)
		return 0;
	space_memo[i].at = now;
	space_memo[i].avail = *avail_out;
	return 0;
}

/*
 * min_free_space at path for need more octets.  A statvfs that fails
 * says nothing about the space: the delivery will tell.
 */
static bool
space_short(const struct conf *conf, const char *path, uint64_t need,
    char *why, size_t cap)
{
	uint64_t	avail, margin;

	if (conf->min_free_space == 0)
		return false;
	margin = conf->min_free_space > UINT64_MAX / 2 ? UINT64_MAX :
	    2 * conf->min_free_space;
	if (space_recent(path, false, &avail) == -1)
		return false;
	if (!space_enough(avail, margin, need) &&
	    space_recent(path, true, &avail) == -1)
		return false;
	if (space_enough(avail, conf->min_free_space, need))
		return false;
	snprintf(why, cap, "%s: %llu octets free, %llu more needed, "
	    "min_free_space %llu", path, (unsigned long long)avail,
	    (unsigned long long)need,
	    (unsigned long long)conf->min_free_space);
	return true;
}

void
delivery_mail(struct delivery *d, const char *sender, bool utf8,
    uint64_t size, struct lmtp_reply *r, char *why, size_t cap)
{
	delivery_reset(d);
	why[0] = '\0';
	make_queue_id(d->queue_id, sizeof(d->queue_id));
	(void)util_strlcpy(d->sender, sender, sizeof(d->sender));
	d->utf8 = utf8;
	d->size = size;
	/* RFC 3463 X.3.1: mail system full; RFC 5321 §4.2.2 452. */
	if (space_short(d->conf, d->conf->mail_root, size, why, cap))
		set_reply(r, 452, "4.3.1", "insufficient system storage");
}

/* The reply for a recipient over quota: the quota_full policy. */
static void
over_quota(const struct delivery *d, const struct recipient *rc,
    const struct quota_usage *u, struct lmtp_reply *r, char *why,
    size_t cap)
{
	maildir_reply_for(EDQUOT, d->conf->quota_bounce, r);
	snprintf(why, cap, "%s: quota %llu octets, %llu messages; used "
	    "%lld octets, %lld messages", rc->maildir,
	    (unsigned long long)rc->quota.bytes,
	    (unsigned long long)rc->quota.messages, (long long)u->bytes,
	    (long long)u->messages);
}

/* Quota and space for one more message of add octets.  0 when it fits. */
static int
check_room(const struct delivery *d, const struct recipient *rc,
    uint64_t add, struct lmtp_reply *r, char *why, size_t cap)
{
	struct quota_usage	u;

	if (space_short(d->conf, rc->maildir, add, why, cap)) {
		set_reply(r, 452, "4.3.1", "insufficient system storage");
		return -1;
	}
	if (!quota_is_set(&rc->quota))
		return 0;
	if (quota_get(rc->maildir, &rc->quota, time(NULL), &u) == -1) {
		snprintf(why, cap, "%s/maildirsize: %s", rc->maildir,
		    strerror(errno));
		maildir_reply_for(errno, d->conf->quota_bounce, r);
		return -1;
	}
	if (quota_exceeded(&rc->quota, &u, add, 1)) {
		over_quota(d, rc, &u, r, why, cap);
		return -1;
	}
	return 0;
}

/* Takes the recipient's identity for what follows; 0 or -1 (replied). */
static int
become(const struct recipient *rc, struct lmtp_reply *r, char *why,
    size_t cap)
{
	if (!rc->has_owner || identity_fs_enter(rc->uid, rc->gid) == 0)
		return 0;
	snprintf(why, cap, "cannot act as %lu:%lu for %s: %s "
	    "(lmtpd must start as root to deliver as other users)",
	    (unsigned long)rc->uid, (unsigned long)rc->gid, rc->maildir,
	    strerror(errno));
	set_reply(r, 451, "4.3.0", "temporary local problem");
	return -1;
}

static void
unbecome(const struct recipient *rc)
{
	if (rc->has_owner)
		identity_fs_leave();
}

void
delivery_rcpt(struct delivery *d, const struct addr *to,
    struct lmtp_reply *r, char *why, size_t cap)
{
	struct recipient	rc;
	enum recipient_status	st;
	int			rc_room;

	st = recipient_resolve(d->conf, to, &rc, why, cap);
	recipient_reply(st, r);
	if (st != RECIPIENT_OK)
		return;
	if (become(&rc, r, why, cap) == -1)
		return;
	/* Without SIZE= only a mailbox already full is refused now. */
	rc_room = check_room(d, &rc, d->size > 0 ? d->size : 1, r, why, cap);
	unbecome(&rc);
	if (rc_room == -1)
		return;
	if (d->n_rcpts == d->cap_rcpts) {
		d->cap_rcpts = d->cap_rcpts == 0 ? 8 : d->cap_rcpts * 2;
		d->rcpts = xreallocarray(d->rcpts, d->cap_rcpts,
		    sizeof(*d->rcpts));
		d->copies = xreallocarray(d->copies, d->cap_rcpts,
		    sizeof(*d->copies));
	}
	d->rcpts[d->n_rcpts++] = rc;
}

size_t
delivery_n_rcpts(const struct delivery *d)
{
	return d->n_rcpts;
}

const struct recipient *
delivery_recipient(const struct delivery *d, size_t i)
{
	return i < d->n_rcpts ? &d->rcpts[i] : NULL;
}

const char *
delivery_queue_id(const struct delivery *d)
{
	return d->queue_id;
}

const char *
delivery_sender(const struct delivery *d)
{
	return d->sender;
}

off_t
delivery_spool_len(const struct delivery *d)
{
	return d->spool_len;
}

/* The trace block of rc's copy, written now; its length or -1. */
static long
trace_block(const struct delivery *d, const struct recipient *rc,
    const struct delivery_origin *o, time_t now, char *hdr, size_t cap)
{
	struct trace	tr;

	tr = (struct trace){ .sender = d->sender, .recipient =
	    d->conf->delivered_to ? rc->address : NULL, .helo = o->helo,
	    .peer = o->peer, .hostname = d->conf->hostname, .queue_id =
	    d->queue_id, .when = now, .utf8 = d->utf8, .tls = o->tls };
	return trace_format(&tr, hdr, cap);
}

/*
 * The message goes straight into the first recipient's copy in tmp/ when
 * it goes to the INBOX: the other copies are made from that file, and the
 * spool, a second pass through the page cache, is not needed.  A file
 * that cannot be made or written is that copy's failure (first_err), as
 * it would be at its delivery; the spool then does the work.
 */
static void
open_first(struct delivery *d, const struct delivery_origin *o)
{
	const struct recipient	*rc;
	char			 hdr[DELIVERY_HEADER_MAX];
	long			 hdr_len;
	int			 rc_open;

	if (d->n_rcpts == 0 || d->rcpts[0].detail[0] != '\0')
		return;
	rc = &d->rcpts[0];
	/* These fail again at the delivery, which tells why. */
	hdr_len = trace_block(d, rc, o, time(NULL), hdr, sizeof(hdr));
	if (hdr_len == -1)
		return;
	if (rc->has_owner && identity_fs_enter(rc->uid, rc->gid) == -1)
		return;
	rc_open = maildir_tmp_open(&d->first, rc->maildir, d->conf->hostname);
	if (rc_open == 0 && maildir_tmp_write(&d->first, hdr, (size_t)hdr_len) ==
	    -1) {
		maildir_tmp_discard(&d->first);
		rc_open = -1;
	}
	if (rc_open == -1)
		d->first_err = errno;
	if (rc->has_owner)
		identity_fs_leave();
	if (rc_open == -1)
		return;
	d->first_open = true;
	d->spool_fd = d->first.fd;
	d->body_off = (off_t)hdr_len;
}

/*
 * The first copy could not take the body (its owner's quota, say): that
 * is its failure alone.  What it holds moves to a spool for the others.
 */
static int
first_to_spool(struct delivery *d, int err)
{
	off_t	off = d->body_off;
	int	fd;

	fd = compat_tmpfile(d->conf->spool_dir);
	if (fd == -1)
		return -1;
	if (compat_copy_range(d->first.fd, &off, fd, d->spool_len) == -1) {
		util_close_failing(fd);
		return -1;
	}
	drop_first(d);
	d->spool_fd = fd;
	d->body_off = 0;
	d->first_err = err;
	return 0;
}

/*
 * The digest that recognises a retried transaction: the sender and every
 * octet of the message.  A second, distinct submission differs at least
 * in the trace fields the client's MTA added.
 */
int
delivery_data_begin(struct delivery *d, const struct delivery_origin *o)
{
	drop_first(d);
	if (d->spool_fd != -1)
		(void)close(d->spool_fd);
	d->spool_fd = -1;
	d->spool_len = 0;
	d->body_off = 0;
	d->first_err = 0;
	open_first(d, o);
	if (!d->first_open)
		d->spool_fd = compat_tmpfile(d->conf->spool_dir);
	if (d->spool_fd == -1)
		return -1;
	sha256_init(&d->sha);
	sha256_update(&d->sha, d->sender, strlen(d->sender) + 1);
	headers_init(&d->headers);
	return 0;
}

int
delivery_data_body(struct delivery *d, const char *p, size_t n)
{
	/* The digest is for the journal only. */
	if (d->conf->dedup_window > 0)
		sha256_update(&d->sha, p, n);
	headers_feed(&d->headers, p, n);
	if (d->first_open) {
		if (maildir_tmp_write(&d->first, p, n) == -1 &&
		    (first_to_spool(d, errno) == -1 ||
		    util_write_all(d->spool_fd, p, n) == -1))
			return -1;
	} else if (util_write_all(d->spool_fd, p, n) == -1)
		return -1;
	d->spool_len += (off_t)n;
	return 0;
}

void
delivery_data_end(struct delivery *d, struct lmtp_reply *r, char *why,
    size_t cap)
{
	why[0] = '\0';
	sha256_final(&d->sha, d->digest);
	/* RFC 5321 §6.3; RFC 3463 X.4.6: routing loop detected. */
	if (headers_received(&d->headers) > DELIVERY_RECEIVED_MAX) {
		snprintf(why, cap, "%u Received: fields, more than %d",
		    headers_received(&d->headers), DELIVERY_RECEIVED_MAX);
		set_reply(r, 554, "5.4.6", "too many hops: mail loop");
	}
}

/* The journal key of one copy: the message digest and the recipient. */
static void
copy_key(const struct delivery *d, const struct recipient *rc,
    unsigned char key[SHA256_DIGEST_LEN])
{
	struct sha256	s;

	sha256_init(&s);
	sha256_update(&s, d->digest, sizeof(d->digest));
	sha256_update(&s, rc->address, strlen(rc->address));
	sha256_final(&s, key);
}

static void
report_stale(void *ctx, const char *name, time_t age)
{
	const char	*dir = ctx;

	log_info("janitor: removed %s/tmp/%s, untouched for %lld hours", dir,
	    name, (long long)(age / 3600));
}

static bool
same_owner(const struct recipient *a, const struct recipient *b)
{
	return a->has_owner == b->has_owner && (!a->has_owner ||
	    (a->uid == b->uid && a->gid == b->gid));
}

/* An earlier copy of this transaction with the same owner, or NULL. */
static const struct copy *
find_copy(const struct delivery *d, const struct recipient *rc)
{
	size_t	i;

	for (i = 0; i < d->n_copies; i++) {
		if (d->copies[i].has_owner != rc->has_owner)
			continue;
		if (rc->has_owner && (d->copies[i].uid != rc->uid ||
		    d->copies[i].gid != rc->gid))
			continue;
		return &d->copies[i];
	}
	return NULL;
}

static void
remember_copy(struct delivery *d, const struct recipient *rc,
    const char *dir, const char *name)
{
	struct copy	*c;
	int		 n;

	if (d->n_copies >= d->cap_rcpts || find_copy(d, rc) != NULL)
		return;
	c = &d->copies[d->n_copies];
	n = snprintf(c->path, sizeof(c->path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(c->path))
		return;
	c->has_owner = rc->has_owner;
	c->uid = rc->uid;
	c->gid = rc->gid;
	d->n_copies++;
}

/*
 * Counts a stored copy in maildirsize.  A Maildir made by this delivery
 * has none yet: the recalculation writes it, this copy included.
 */
static int
quota_count(const struct recipient *rc, time_t now, off_t size)
{
	struct quota_usage	u;
	struct stat		st;
	char			path[PATH_MAX];

	if (!join(path, sizeof(path), rc->maildir, "maildirsize"))
		return -1;
	if (lstat(path, &st) == -1)
		return errno == ENOENT ? quota_get(rc->maildir, &rc->quota,
		    now, &u) : -1;
	return quota_add(rc->maildir, &rc->quota, (int64_t)size, 1);
}

/*
 * The copies of a transaction are made in batches of up to
 * DELIVERY_BATCH, each in stages that group the durable work: every
 * copy written, then every file fsynced, linked or renamed into new/,
 * then each new/ fsynced once.  One journal commit then carries several
 * copies' metadata (ext4's ordered mode), where a copy at a time would
 * wait for two commits of its own.
 */
#define DELIVERY_BATCH	8

/* One copy of the batch, from its checks to its reply. */
struct pending {
	struct lmtp_reply	 r;		/* code 0: still going */
	char			 detail[DELIVERY_DETAIL_MAX];
	long long		 size;
	char			 dir[PATH_MAX];	/* the INBOX or a folder */
	char			 name[MAILDIR_NAME_MAX + 8];	/* "new/..." */
	unsigned char		 key[SHA256_DIGEST_LEN];
	struct maildir_tmp	*file;		/* &own or &d->first, or NULL */
	struct maildir_tmp	 own;
	size_t			 link_src;	/* batch entry, or SIZE_MAX */
	const char		*link_from;	/* a delivered copy, or NULL */
	bool			 stored;	/* in new/ */
	bool			 linked;
	int			 sync_err;	/* of new/, once stored */
};

/* A failed step of p: its reply and why. */
static void
pending_fail(const struct delivery *d, struct pending *p, int err,
    const char *what)
{
	snprintf(p->detail, sizeof(p->detail), "%s %s: %s", what, p->dir,
	    strerror(err));
	maildir_reply_for(err, d->conf->quota_bounce, &p->r);
}

/* The checks of one copy and, unless it is to be a link, its file. */
static void
prepare_as(struct delivery *d, size_t idx, struct pending *p,
    const struct delivery_origin *o, time_t now)
{
	const struct conf	*conf = d->conf;
	const struct recipient	*rc = &d->rcpts[idx];
	struct folder_rules	 rules;
	enum folder_result	 fres;
	struct quota_usage	 u;
	const struct copy	*prev;
	char			 rel[PATH_MAX + MAILDIR_NAME_MAX];
	char			 hdr[DELIVERY_HEADER_MAX];
	long			 hdr_len;
	off_t			 off;
	size_t			 j;
	bool			 found = false;

	copy_key(d, rc, p->key);
	if (journal_find(rc->maildir, p->key, now, conf->dedup_window, rel,
	    sizeof(rel), &found) == -1)
		log_warn("%s: journal in %s", d->queue_id, rc->maildir);
	if (found) {
		set_reply(&p->r, 250, "2.0.0", "");
		snprintf(p->r.text, sizeof(p->r.text), "<%.140s> already "
		    "delivered, id %.32s", rc->address, d->queue_id);
		snprintf(p->detail, sizeof(p->detail), "duplicate of %s, not "
		    "stored again", rel);
		return;
	}

	rules.policy = conf->detail_folders == CONF_FOLDERS_CREATE ?
	    FOLDER_CREATE : conf->detail_folders == CONF_FOLDERS_INBOX ?
	    FOLDER_INBOX : FOLDER_EXISTING;
	rules.pattern = conf->detail_folder_pattern;
	rules.max_folders = conf->max_detail_folders;
	if (folder_choose(rc->maildir, rc->detail, &rules, p->dir,
	    sizeof(p->dir), &fres) == -1) {
		snprintf(p->detail, sizeof(p->detail), "folder for +%s in %s: "
		    "%s", rc->detail, rc->maildir, strerror(errno));
		maildir_reply_for(errno, conf->quota_bounce, &p->r);
		return;
	}
	if (fres == FOLDER_USED_CREATED)
		log_info("%s: created folder %s", d->queue_id, p->dir);

	/* The first copy has its block already, in its file. */
	hdr_len = idx == 0 && d->first_open ? (long)d->body_off :
	    trace_block(d, rc, o, now, hdr, sizeof(hdr));
	if (hdr_len == -1) {
		set_reply(&p->r, 451, "4.3.0", "temporary local problem");
		snprintf(p->detail, sizeof(p->detail), "trace header too long");
		return;
	}
	p->size = (long long)hdr_len + (long long)d->spool_len;

	if (quota_is_set(&rc->quota)) {
		if (quota_get(rc->maildir, &rc->quota, now, &u) == -1) {
			snprintf(p->detail, sizeof(p->detail), "%s/maildirsize: "
			    "%s", rc->maildir, strerror(errno));
			maildir_reply_for(errno, conf->quota_bounce, &p->r);
			return;
		}
		if (quota_exceeded(&rc->quota, &u, (uint64_t)p->size, 1)) {
			over_quota(d, rc, &u, &p->r, p->detail,
			    sizeof(p->detail));
			return;
		}
	}

	if (idx == 0 && d->first_open) {
		p->file = &d->first;
		return;
	}
	if (idx == 0 && d->first_err != 0) {
		pending_fail(d, p, d->first_err, "maildir");
		return;
	}
	/* One file for every recipient with this owner (delivered_to none). */
	if (!conf->delivered_to) {
		for (j = 0; p != &d->batch[j]; j++)
			if (d->batch[j].file != NULL &&
			    same_owner(rc, &d->rcpts[d->batch_start + j])) {
				p->link_src = j;
				return;
			}
		prev = find_copy(d, rc);
		if (prev != NULL) {
			p->link_from = prev->path;
			return;
		}
	}
	if (maildir_tmp_open(&p->own, p->dir, conf->hostname) == -1) {
		pending_fail(d, p, errno, "maildir");
		return;
	}
	off = d->body_off;
	if (maildir_tmp_write(&p->own, hdr, (size_t)hdr_len) == -1 ||
	    compat_copy_range(d->spool_fd, &off, p->own.fd, d->spool_len) ==
	    -1) {
		pending_fail(d, p, errno, "maildir");
		maildir_tmp_discard(&p->own);
		return;
	}
	p->file = &p->own;
}

/* The checks, as the recipient; a loop is refused before anything. */
static void
prepare(struct delivery *d, size_t idx, struct pending *p,
    const struct delivery_origin *o, time_t now)
{
	const struct recipient	*rc = &d->rcpts[idx];

	memset(&p->r, 0, sizeof(p->r));
	p->detail[0] = '\0';
	p->size = (long long)d->spool_len;
	p->dir[0] = '\0';
	p->file = NULL;
	p->link_src = SIZE_MAX;
	p->link_from = NULL;
	p->stored = p->linked = false;
	p->sync_err = -1;
	/* RFC 5321 §6.3, RFC 3463 X.4.6: this copy would go round again. */
	if (headers_delivered_to(&d->headers, rc->address)) {
		set_reply(&p->r, 554, "5.4.6", "mail loop: already delivered "
		    "to this recipient");
		snprintf(p->detail, sizeof(p->detail), "message has "
		    "Delivered-To: <%s>", rc->address);
		return;
	}
	if (become(rc, &p->r, p->detail, sizeof(p->detail)) == -1)
		return;
	prepare_as(d, idx, p, o, now);
	unbecome(rc);
}

/* p's file is complete: fsynced, or taken back. */
static void
sync_file(struct delivery *d, struct pending *p)
{
	if (maildir_tmp_sync(p->file) == 0)
		return;
	pending_fail(d, p, errno, "maildir");
	/* The first copy's file still serves the later copies. */
	if (p->file == &d->first)
		maildir_tmp_unlink(p->file);
	else
		maildir_tmp_discard(p->file);
	p->file = NULL;
}

/*
 * A link to a synced file: one in this batch (still in tmp/) or a copy
 * delivered earlier.  Without one (or on another file system) the copy
 * is written as a file of its own, durable at once.
 */
static void
link_copy(struct delivery *d, const struct delivery_origin *o,
    struct pending *p, const struct recipient *rc, time_t now)
{
	const struct conf	*conf = d->conf;
	const char		*src = p->link_from;
	char			 hdr[DELIVERY_HEADER_MAX];
	long			 hdr_len;

	if (p->link_src != SIZE_MAX)
		src = d->batch[p->link_src].file != NULL ?
		    d->batch[p->link_src].file->tmp_path : NULL;
	if (src != NULL && maildir_link(src, p->dir, conf->hostname,
	    (off_t)p->size, p->name, sizeof(p->name)) == 0) {
		p->stored = p->linked = true;
		return;
	}
	hdr_len = trace_block(d, rc, o, now, hdr, sizeof(hdr));
	if (hdr_len == -1 || maildir_deliver(p->dir, conf->hostname, hdr,
	    (size_t)hdr_len, d->spool_fd, d->body_off, d->spool_len, p->name,
	    sizeof(p->name)) == -1) {
		pending_fail(d, p, hdr_len == -1 ? ENAMETOOLONG : errno,
		    "maildir");
		return;
	}
	p->stored = true;
}

/* Into new/: the first copy's file stays open for the later copies. */
static void
rename_copy(struct delivery *d, struct pending *p)
{
	if (maildir_tmp_rename(p->file, (off_t)p->size, p->file == &d->first,
	    p->name, sizeof(p->name)) == -1) {
		pending_fail(d, p, errno, "maildir");
		return;
	}
	p->stored = true;
}

/* new/ fsynced once for all the batch's copies in it, or they go back. */
static void
settle_copy(struct delivery *d, struct pending *p)
{
	size_t	j;

	for (j = 0; p != &d->batch[j]; j++)
		if (d->batch[j].sync_err != -1 &&
		    strcmp(d->batch[j].dir, p->dir) == 0)
			break;
	if (p != &d->batch[j])
		p->sync_err = d->batch[j].sync_err;
	else
		p->sync_err = maildir_sync_new(p->dir) == 0 ? 0 : errno;
	if (p->sync_err == 0)
		return;
	maildir_take_back(p->dir, p->name);
	p->stored = false;
	pending_fail(d, p, p->sync_err, "maildir");
}

/* The bookkeeping of a delivered copy, and its 250. */
static void
finish_copy(struct delivery *d, struct pending *p, const struct recipient *rc,
    time_t now)
{
	const struct conf	*conf = d->conf;
	char			 rel[PATH_MAX + MAILDIR_NAME_MAX];
	const char		*folder;

	if (!p->linked && !conf->delivered_to)
		remember_copy(d, rc, p->dir, p->name);
	/* The name relative to the Maildir: ".folder/new/..." or "new/...". */
	folder = strcmp(p->dir, rc->maildir) == 0 ? NULL :
	    p->dir + strlen(rc->maildir) + 1;
	snprintf(rel, sizeof(rel), "%s%s%s", folder != NULL ? folder : "",
	    folder != NULL ? "/" : "", p->name);
	if (journal_add(rc->maildir, p->key, now, conf->dedup_window, rel) ==
	    -1)
		log_warn("%s: journal in %s", d->queue_id, rc->maildir);
	if (quota_is_set(&rc->quota) && quota_count(rc, now, (off_t)p->size) ==
	    -1)
		log_warn("%s: %s/maildirsize", d->queue_id, rc->maildir);
	if (conf->tmp_cleanup_interval > 0 && janitor_due(p->dir, now,
	    conf->tmp_cleanup_interval) && janitor_sweep(p->dir, now,
	    JANITOR_MAX_AGE, report_stale, p->dir) == -1)
		log_warn("janitor: %s/tmp", p->dir);

	set_reply(&p->r, 250, "2.0.0", "");
	snprintf(p->r.text, sizeof(p->r.text), "<%.140s> delivered, id %.32s",
	    rc->address, d->queue_id);
	snprintf(p->detail, sizeof(p->detail), "%s%s", rel,
	    p->linked ? ", linked" : "");
}

enum stage { STAGE_SYNC, STAGE_LINK, STAGE_RENAME, STAGE_SETTLE,
	STAGE_FINISH };

/* One stage for each copy still going, as its recipient. */
static void
run_stage(struct delivery *d, enum stage st, const struct delivery_origin *o,
    time_t now)
{
	const struct recipient	*rc;
	struct pending		*p;
	size_t			 i;

	for (i = 0; i < d->batch_len; i++) {
		p = &d->batch[i];
		rc = &d->rcpts[d->batch_start + i];
		if (p->r.code != 0 || (st == STAGE_SYNC && p->file == NULL) ||
		    (st == STAGE_LINK && p->link_src == SIZE_MAX &&
		    p->link_from == NULL) ||
		    (st == STAGE_RENAME && p->file == NULL) ||
		    (st >= STAGE_SETTLE && !p->stored))
			continue;
		if (become(rc, &p->r, p->detail, sizeof(p->detail)) == -1)
			continue;
		switch (st) {
		case STAGE_SYNC:
			sync_file(d, p);
			break;
		case STAGE_LINK:
			link_copy(d, o, p, rc, now);
			break;
		case STAGE_RENAME:
			rename_copy(d, p);
			break;
		case STAGE_SETTLE:
			settle_copy(d, p);
			break;
		case STAGE_FINISH:
			finish_copy(d, p, rc, now);
			break;
		}
		unbecome(rc);
	}
}

/* The copies of recipients start.. (up to DELIVERY_BATCH of them). */
static void
run_batch(struct delivery *d, size_t start, const struct delivery_origin *o)
{
	time_t	now = time(NULL);
	size_t	i, n = d->n_rcpts - start;

	if (n > DELIVERY_BATCH)
		n = DELIVERY_BATCH;
	if (d->batch == NULL)
		/* Not zeroed: a child touches only what it uses. */
		d->batch = xreallocarray(NULL, DELIVERY_BATCH,
		    sizeof(*d->batch));
	d->batch_start = start;
	d->batch_len = n;
	for (i = 0; i < n; i++)
		prepare(d, start + i, &d->batch[i], o, now);
	run_stage(d, STAGE_SYNC, o, now);
	/* Links first: their sources are still in tmp/. */
	run_stage(d, STAGE_LINK, o, now);
	run_stage(d, STAGE_RENAME, o, now);
	run_stage(d, STAGE_SETTLE, o, now);
	run_stage(d, STAGE_FINISH, o, now);
	/* A copy whose identity could not be taken again is left open. */
	for (i = 0; i < n; i++)
		if (d->batch[i].file == &d->batch[i].own &&
		    !d->batch[i].stored)
			maildir_tmp_discard(&d->batch[i].own);
}

bool
delivery_tried(const struct delivery *d, size_t idx)
{
	return d->batch_len > 0 && idx >= d->batch_start &&
	    idx < d->batch_start + d->batch_len;
}

void
delivery_deliver(struct delivery *d, size_t idx,
    const struct delivery_origin *o, struct lmtp_reply *r, char *detail,
    size_t cap, long long *size_out)
{
	const struct pending	*p;

	if (idx >= d->n_rcpts)
		log_panic("deliver: recipient %zu of %zu", idx, d->n_rcpts);
	if (!delivery_tried(d, idx))
		run_batch(d, idx, o);
	p = &d->batch[idx - d->batch_start];
	*r = p->r;
	(void)util_strlcpy(detail, p->detail, cap);
	*size_out = p->size;
}

void
delivery_log(const struct delivery *d, const struct recipient *rc,
    const char *orig_to, double delay, long long size,
    const struct lmtp_reply *r, const char *detail)
{
	struct log_field	 f[8];
	size_t			 n = 0;

	f[n++] = (struct log_field){ .key = "to", .kind = LOG_ADDR,
	    .s = rc->address };
	if (strcmp(rc->address, orig_to) != 0)
		f[n++] = (struct log_field){ .key = "orig_to",
		    .kind = LOG_ADDR, .s = orig_to };
	f[n++] = (struct log_field){ .key = "relay", .kind = LOG_STR,
	    .s = "local" };
	f[n++] = (struct log_field){ .key = "delay", .kind = LOG_SECONDS,
	    .d = delay };
	f[n++] = (struct log_field){ .key = "size", .kind = LOG_INT,
	    .i = size };
	f[n++] = (struct log_field){ .key = "dsn", .kind = LOG_STR,
	    .s = r->esc };
	f[n++] = (struct log_field){ .key = "status", .kind = LOG_STR,
	    .s = r->code < 300 ? "sent" : r->code < 500 ? "deferred" :
	    "bounced" };
	log_event(d->queue_id, NULL, f, n, detail);
	stats_add(r->code < 300 ? STATS_SENT : r->code < 500 ?
	    STATS_DEFERRED : STATS_BOUNCED, 1);
	if (r->code < 300)
		stats_add(STATS_BYTES, (uint64_t)size);
}

/* Where a copy for rc would go, without creating anything. */
static void
explain_folder(const struct conf *conf, const struct recipient *rc,
    char *dir, size_t cap, FILE *out)
{
	struct stat	st;
	char		name[PATH_MAX];

	(void)util_strlcpy(dir, rc->maildir, cap);
	if (rc->detail[0] == '\0') {
		fprintf(out, "folder:   INBOX\n");
		return;
	}
	if (conf->detail_folders == CONF_FOLDERS_INBOX) {
		fprintf(out, "folder:   INBOX (detail_folders = inbox)\n");
		return;
	}
	if (folder_name(rc->detail, name, sizeof(name)) == -1) {
		fprintf(out, "folder:   INBOX (+%s cannot be a folder name)\n",
		    rc->detail);
		return;
	}
	if (join(dir, cap, rc->maildir, name) && lstat(rc->maildir, &st) ==
	    0 && S_ISDIR(st.st_mode)) {
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
			fprintf(out, "folder:   %s (exists)\n", name);
			return;
		}
	}
	if (conf->detail_folders == CONF_FOLDERS_CREATE &&
	    (conf->detail_folder_pattern[0] == '\0' ||
	    fnmatch(conf->detail_folder_pattern, rc->detail, 0) == 0) &&
	    join(dir, cap, rc->maildir, name)) {
		fprintf(out, "folder:   %s (created at the first delivery, "
		    "unless max_detail_folders is reached)\n", name);
		return;
	}
	(void)util_strlcpy(dir, rc->maildir, cap);
	fprintf(out, "folder:   INBOX (%s does not exist)\n", name);
}

static void
explain_quota(const struct recipient *rc, FILE *out)
{
	struct quota_usage	u;
	char			q[QUOTA_FORMAT_MAX];

	if (!quota_is_set(&rc->quota)) {
		fprintf(out, "quota:    none\n");
		return;
	}
	(void)quota_format(&rc->quota, q, sizeof(q));
	if (rc->has_owner && identity_fs_enter(rc->uid, rc->gid) == -1) {
		fprintf(out, "quota:    %s (usage unknown: %s)\n", q,
		    strerror(errno));
		return;
	}
	if (quota_get(rc->maildir, &rc->quota, time(NULL), &u) == -1)
		fprintf(out, "quota:    %s (usage unknown: %s)\n", q,
		    strerror(errno));
	else
		fprintf(out, "quota:    %s; used %lld octets, %lld messages\n",
		    q, (long long)u.bytes, (long long)u.messages);
	if (rc->has_owner)
		identity_fs_leave();
}

static void
explain_reply(FILE *out, const char *stage, const struct lmtp_reply *r,
    const char *why)
{
	fprintf(out, "%-9s %u %s %s", stage, r->code, r->esc, r->text);
	if (why[0] != '\0')
		fprintf(out, " (%s)", why);
	fputc('\n', out);
}

unsigned
delivery_explain(const struct conf *conf, const char *address,
    uint64_t size, FILE *out)
{
	struct delivery		*d;
	struct recipient	 rc;
	struct lmtp_reply	 r;
	struct addr		 a;
	enum recipient_status	 st;
	char			 why[PATH_MAX + 256], dir[PATH_MAX];
	unsigned		 code;

	if (addr_parse_mailbox(address, ADDR_ALLOW_UTF8, &a) != ADDR_OK) {
		fprintf(out, "%s: not an address\n", address);
		return 0;
	}
	fprintf(out, "address:  %s\n", a.text);
	d = delivery_new(conf);
	set_reply(&r, 250, "2.1.0", "sender ok");
	delivery_mail(d, "", false, size, &r, why, sizeof(why));
	explain_reply(out, "MAIL:", &r, why);

	st = recipient_resolve(conf, &a, &rc, why, sizeof(why));
	if (st == RECIPIENT_OK) {
		fprintf(out, "lookup:   %s", recipient_source_name(rc.source));
		if (rc.line > 0)
			fprintf(out, " (%s line %d)", conf->users_file,
			    rc.line);
		fprintf(out, "\nuser:     %s\n", rc.user);
		if (rc.detail[0] != '\0')
			fprintf(out, "detail:   %s\n", rc.detail);
		fprintf(out, "maildir:  %s\n", rc.maildir);
		explain_folder(conf, &rc, dir, sizeof(dir), out);
		if (rc.has_owner)
			fprintf(out, "owner:    %lu:%lu\n",
			    (unsigned long)rc.uid, (unsigned long)rc.gid);
		else
			fprintf(out, "owner:    lmtpd's own (%s:%s)\n",
			    conf->user, conf->group);
		explain_quota(&rc, out);
	}
	set_reply(&r, 250, "2.1.5", "recipient ok");
	delivery_rcpt(d, &a, &r, why, sizeof(why));
	explain_reply(out, "RCPT:", &r, why);
	code = r.code;
	if (code < 300 && st == RECIPIENT_OK)
		fprintf(out, "delivery: 250 2.0.0 to %s/new/ (then the "
		    "Delivered-To and Received: checks on the message)\n",
		    dir);
	delivery_free(d);
	return code;
}
