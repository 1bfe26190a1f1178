/* SPDX-License-Identifier: MIT */
/*
 * template: checks and expands path templates.  Expansion never splits a
 * value: either the whole path fits or the result is an error, so a
 * truncated path can never name somebody else's Maildir.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "template.h"

static bool	put(char *, size_t, size_t *, const char *);

int
template_check(const char *t, const char *allowed, char *bad_out,
    bool *per_user_out)
{
	bool	per_user = false;

	for (; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t == '%')
			continue;
		if (*t == '\0' || strchr(allowed, *t) == NULL) {
			if (bad_out != NULL)
				*bad_out = *t;
			errno = EINVAL;
			return -1;
		}
		if (*t == 'n' || *t == 'u' || *t == 'h')
			per_user = true;
	}
	if (per_user_out != NULL)
		*per_user_out = per_user;
	return 0;
}

/* Appends s at *len_io, keeping room for the NUL. */
static bool
put(char *out, size_t cap, size_t *len_io, const char *s)
{
	size_t	n = strlen(s);

	if (n >= cap - *len_io)
		return false;
	memcpy(out + *len_io, s, n);
	*len_io += n;
	return true;
}

int
template_expand(const char *t, const struct template_vars *v, char *out,
    size_t cap)
{
	char	one[2] = { 0, 0 };
	size_t	len = 0;
	bool	ok = true;

	if (cap > 0)
		out[0] = '\0';
	if (template_check(t, v->home != NULL ? "dnuh" : "dnu", NULL,
	    NULL) == -1)
		return -1;
	if (cap == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (; *t != '\0' && ok; t++) {
		if (*t != '%') {
			one[0] = *t;
			ok = put(out, cap, &len, one);
			continue;
		}
		switch (*++t) {
		case 'd':
			ok = put(out, cap, &len, v->domain);
			break;
		case 'n':
			ok = put(out, cap, &len, v->local);
			break;
		case 'u':
			ok = put(out, cap, &len, v->local) &&
			    put(out, cap, &len, "@") &&
			    put(out, cap, &len, v->domain);
			break;
		case 'h':
			ok = put(out, cap, &len, v->home);
			break;
		default:
			ok = put(out, cap, &len, "%");
			break;
		}
	}
	if (!ok) {
		out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	out[len] = '\0';
	return 0;
}
