/* SPDX-License-Identifier: MIT */
/*
 * userdb: parses users_file into a table sorted for bsearch, and swaps in
 * a fresh table when the file changes.  A file that cannot be read or
 * parsed makes every lookup a temporary failure: answering 550 from a
 * half-written file would bounce mail for users who exist.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "quota.h"
#include "template.h"
#include "userdb.h"
#include "util.h"

struct userdb {
	char			 *path;
	bool			  preserve_case;
	struct userdb_entry	 *v;		/* file order */
	size_t			  n;
	struct userdb_entry	**sorted;	/* by key, for bsearch */
	bool			  broken;	/* the last reload failed */
	dev_t			  dev;
	ino_t			  ino;
	off_t			  size;
	struct timespec		  mtime;
	time_t			  checked;
};

static void	entries_free(struct userdb_entry *, size_t);
static int	parse_line(char *, int, bool, struct userdb_entry *, char *,
		    size_t);
static int	parse_file(struct userdb *, int, char *, size_t);
static int	cmp_entry(const void *, const void *);
static int	cmp_key(const void *, const void *);
static int	load_into(struct userdb *, char *, size_t);

static void
entries_free(struct userdb_entry *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		x_free(v[i].key);
		x_free(v[i].maildir);
	}
	x_free(v);
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static char *
next_token(char **s)
{
	char	*p = *s, *start;

	while (is_ws(*p))
		p++;
	if (*p == '\0') {
		*s = p;
		return NULL;
	}
	start = p;
	while (*p != '\0' && !is_ws(*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*s = p;
	return start;
}

/* "1001:1001": two decimal ids, nothing else. */
static bool
parse_owner(const char *s, uid_t *uid, gid_t *gid)
{
	unsigned long	 u, g;
	char		*end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	u = strtoul(s, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9' ||
	    u >= (uid_t)-1)
		return false;
	g = strtoul(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || g >= (gid_t)-1)
		return false;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return true;
}

/*
 * Fields go in the documented order, each optional, told apart by shape:
 * a path starts with '/', an owner is digits:digits, the rest is a quota.
 */
static int
parse_line(char *s, int lineno, bool preserve_case, struct userdb_entry *e,
    char *why, size_t cap)
{
	char	*addr, *tok, *at, bad;
	int	 field = 0;	/* 1 path, 2 owner, 3 quota: the last seen */

	memset(e, 0, sizeof(*e));
	e->line = lineno;
	addr = next_token(&s);
	at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0') {
		snprintf(why, cap, "'%s': expected local@domain or @domain",
		    addr);
		return -1;
	}
	util_lower(at);
	if (!preserve_case)
		util_lower(addr);
	if (at != addr) {
		*at = '\0';
		if (addr_local_check(addr) != ADDR_LOCAL_SAFE) {
			*at = '@';
			snprintf(why, cap, "'%s': local part unsafe as a file "
			    "name", addr);
			return -1;
		}
		*at = '@';
	}
	while ((tok = next_token(&s)) != NULL) {
		if (tok[0] == '#')
			break;
		if (tok[0] == '/' && field < 1) {
			if (template_check(tok, "dnu", &bad, NULL) == -1) {
				snprintf(why, cap, "'%s': unknown sequence "
				    "'%%%c' (use %%d %%n %%u %%%%)", tok, bad);
				return -1;
			}
			e->maildir = xstrdup(tok);
			field = 1;
		} else if (field < 2 && parse_owner(tok, &e->uid, &e->gid)) {
			e->has_owner = true;
			field = 2;
		} else if (field < 3 && quota_parse(tok, &e->quota) == 0) {
			e->has_quota = true;
			field = 3;
		} else {
			snprintf(why, cap, "'%s': expected [/maildir] "
			    "[uid:gid] [quota], in that order", tok);
			x_free(e->maildir);
			e->maildir = NULL;
			return -1;
		}
	}
	e->key = xstrdup(addr);
	return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct userdb_entry *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static int
cmp_key(const void *key, const void *elem)
{
	const struct userdb_entry *const *e = elem;

	return strcmp(key, (*e)->key);
}

static int
parse_file(struct userdb *db, int fd, char *err, size_t cap)
{
	FILE			*fp;
	char			 buf[USERDB_LINE_MAX + 2], why[USERDB_LINE_MAX];
	char			*s;
	struct userdb_entry	*v = NULL, **sorted;
	size_t			 n = 0, vcap = 0, len, i;
	int			 lineno = 0, saved;

	fp = fdopen(fd, "r");
	if (fp == NULL) {
		saved = errno;
		close(fd);
		snprintf(err, cap, "%s: %s", db->path, strerror(saved));
		errno = saved;
		return -1;
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		lineno++;
		len = strlen(buf);
		if (len > 0 && buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		else if (!feof(fp)) {
			snprintf(why, sizeof(why), "line longer than %d bytes",
			    USERDB_LINE_MAX);
			goto bad;
		}
		s = buf;
		while (is_ws(*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		if (n == vcap) {
			vcap = vcap == 0 ? 64 : vcap * 2;
			v = xreallocarray(v, vcap, sizeof(*v));
		}
		if (parse_line(s, lineno, db->preserve_case, &v[n], why,
		    sizeof(why)) == -1)
			goto bad;
		n++;
	}
	if (ferror(fp)) {
		saved = errno;
		fclose(fp);
		entries_free(v, n);
		snprintf(err, cap, "%s: %s", db->path, strerror(saved));
		errno = saved;
		return -1;
	}
	fclose(fp);
	sorted = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = &v[i];
	qsort(sorted, n, sizeof(*sorted), cmp_entry);
	for (i = 1; i < n; i++) {
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) != 0)
			continue;
		snprintf(err, cap, "%s:%d: '%s' is listed twice (line %d)",
		    db->path, sorted[i]->line > sorted[i - 1]->line ?
		    sorted[i]->line : sorted[i - 1]->line, sorted[i]->key,
		    sorted[i]->line > sorted[i - 1]->line ?
		    sorted[i - 1]->line : sorted[i]->line);
		x_free(sorted);
		entries_free(v, n);
		errno = EINVAL;
		return -1;
	}
	entries_free(db->v, db->n);
	x_free(db->sorted);
	db->v = v;
	db->n = n;
	db->sorted = sorted;
	return 0;

bad:
	fclose(fp);
	entries_free(v, n);
	snprintf(err, cap, "%s:%d: %s", db->path, lineno, why);
	errno = EINVAL;
	return -1;
}

/* Opens, checks and parses the file; db keeps its old table on failure. */
static int
load_into(struct userdb *db, char *err, size_t cap)
{
	struct stat	st;
	int		fd, saved;

	fd = open(db->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		saved = errno;
		snprintf(err, cap, "%s: %s", db->path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, cap, "%s: not a regular file", db->path);
		errno = EINVAL;
		return -1;
	}
	if (parse_file(db, fd, err, cap) == -1)
		return -1;
	db->dev = st.st_dev;
	db->ino = st.st_ino;
	db->size = st.st_size;
	db->mtime = st.st_mtim;
	return 0;
}

struct userdb *
userdb_load(const char *path, bool preserve_case, char *err, size_t cap)
{
	struct userdb	*db;
	int		 saved;

	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	db->preserve_case = preserve_case;
	if (load_into(db, err, cap) == -1) {
		saved = errno;
		userdb_free(db);
		errno = saved;
		return NULL;
	}
	return db;
}

void
userdb_free(struct userdb *db)
{
	if (db == NULL)
		return;
	entries_free(db->v, db->n);
	x_free(db->sorted);
	x_free(db->path);
	x_free(db);
}

size_t
userdb_count(const struct userdb *db)
{
	return db->n;
}

const struct userdb_entry *
userdb_entry(const struct userdb *db, size_t i)
{
	return i < db->n ? &db->v[i] : NULL;
}

const struct userdb_entry *
userdb_find(const struct userdb *db, const char *address)
{
	struct userdb_entry	**e;
	const char		 *at;

	if (db->n == 0)
		return NULL;
	e = bsearch(address, db->sorted, db->n, sizeof(*db->sorted),
	    cmp_key);
	at = strrchr(address, '@');
	if (e == NULL && at != NULL)
		e = bsearch(at, db->sorted, db->n, sizeof(*db->sorted),
		    cmp_key);
	return e != NULL ? *e : NULL;
}

int
userdb_refresh(struct userdb *db, time_t now, char *err, size_t cap)
{
	struct stat	st;
	int		saved;

	if (now == db->checked && !db->broken)
		return 0;
	db->checked = now;
	if (stat(db->path, &st) == -1) {
		saved = errno;
		snprintf(err, cap, "%s: %s", db->path, strerror(saved));
		db->broken = true;
		errno = saved;
		return -1;
	}
	if (!db->broken && st.st_dev == db->dev && st.st_ino == db->ino &&
	    st.st_size == db->size &&
	    st.st_mtim.tv_sec == db->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == db->mtime.tv_nsec)
		return 0;
	if (load_into(db, err, cap) == -1) {
		db->broken = true;
		return -1;
	}
	db->broken = false;
	return 0;
}
