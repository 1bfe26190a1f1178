/* SPDX-License-Identifier: MIT */
/*
 * janitor: sweeps tmp/ of a Maildir of files nobody touched for 36 hours
 * (QMD "HOW A MESSAGE IS READ"), through a directory fd with *at() calls
 * that never follow a symlink nor descend.  The rate limit is a fixed
 * table: its memory is bounded by construction, whatever the recipients.
 */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "janitor.h"
#include "util.h"

struct janitor_slot {
	char	*maildir;	/* NULL: free */
	time_t	 swept;
};

static struct janitor_slot	janitor_slots[JANITOR_DUE_SLOTS];

static bool	is_stale(const struct stat *, time_t, time_t, time_t *);

bool
janitor_due(const char *maildir, time_t now, unsigned interval)
{
	struct janitor_slot	*slot = NULL, *s;
	size_t			 i;

	for (i = 0; i < JANITOR_DUE_SLOTS; i++) {
		s = &janitor_slots[i];
		if (s->maildir != NULL && strcmp(s->maildir, maildir) == 0) {
			if (now >= s->swept &&
			    (uintmax_t)(now - s->swept) < interval)
				return false;
			s->swept = now;
			return true;
		}
		/* A free slot, else the one swept longest ago. */
		if (slot == NULL || (slot->maildir != NULL &&
		    (s->maildir == NULL || s->swept < slot->swept)))
			slot = s;
	}
	assert(slot != NULL);
	x_free(slot->maildir);
	slot->maildir = xstrdup(maildir);
	slot->swept = now;
	return true;
}

/* QMD "not accessed": neither read (atime) nor written (mtime) lately. */
static bool
is_stale(const struct stat *st, time_t now, time_t max_age, time_t *age_out)
{
	time_t	last;

	last = st->st_atime > st->st_mtime ? st->st_atime : st->st_mtime;
	if (last > now || now - last < max_age)
		return false;
	*age_out = now - last;
	return true;
}

int
janitor_sweep(const char *maildir, time_t now, time_t max_age,
    void (*report)(void *ctx, const char *name, time_t age), void *ctx)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	time_t		 age;
	unsigned	 seen = 0;
	int		 fd, n, removed = 0, saved;

	n = snprintf(path, sizeof(path), "%s/tmp", maildir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	d = fdopendir(fd);
	if (d == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	/*
	 * XXX: bounded work per call; a tmp/ holding more than
	 * JANITOR_SWEEP_MAX fresh files keeps the ones beyond out of reach
	 * until some go, which only a broken writer would cause.
	 */
	while (seen < JANITOR_SWEEP_MAX) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		seen++;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			/* Renamed into new/ or removed meanwhile. */
			if (errno == ENOENT)
				continue;
			goto fail;
		}
		if (!S_ISREG(st.st_mode) || !is_stale(&st, now, max_age, &age))
			continue;
		/*
		 * unlinkat removes the name, whatever it has become since
		 * the fstatat: never a symlink's target, never a directory.
		 */
		if (unlinkat(dirfd(d), de->d_name, 0) == -1) {
			if (errno == ENOENT)
				continue;
			goto fail;
		}
		removed++;
		if (report != NULL)
			report(ctx, de->d_name, age);
	}
	if (closedir(d) == -1)
		return -1;
	return removed;

fail:
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return -1;
}
