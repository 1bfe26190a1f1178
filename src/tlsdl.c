/* SPDX-License-Identifier: MIT */
/*
 * tlsdl: OpenSSL's functions looked up at run time (see tlsdl.h).  Only
 * ELF sonames are known; a library that opens but lacks a function is an
 * error, not a reason to try the next name.  Nothing is ever dlclose()d
 * once loaded: contexts and connections point into it.
 */
#include "config.h"

#ifdef HAVE_OPENSSL

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tlsdl.h"

#define TLSDL_STR(x)	#x
#define TLSDL_XSTR(x)	TLSDL_STR(x)

/* The ABI of the headers: OpenSSL 3 says 3, 1.1.1 says "1.1". */
#if defined(OPENSSL_SHLIB_VERSION)
#define TLSDL_SONAME	"libssl.so." TLSDL_XSTR(OPENSSL_SHLIB_VERSION)
#elif defined(SHLIB_VERSION_NUMBER)
#define TLSDL_SONAME	"libssl.so." SHLIB_VERSION_NUMBER
#endif

static const char *const tlsdl_names[] = {
#ifdef TLSDL_SONAME
	TLSDL_SONAME,
#endif
	"libssl.so",		/* the development link, same headers */
};
#define N_TLSDL_NAMES	(sizeof(tlsdl_names) / sizeof(tlsdl_names[0]))

/* Each function's name and place in the table, from the one list. */
static const struct {
	const char	*name;
	size_t		 off;
} tlsdl_syms[] = {
#define TLSDL_SYM(f)	{ #f, offsetof(struct tlsdl, f) },
	TLSDL_FUNCS(TLSDL_SYM)
#undef TLSDL_SYM
};
#define N_TLSDL_SYMS	(sizeof(tlsdl_syms) / sizeof(tlsdl_syms[0]))

static struct tlsdl	tlsdl_fns;
static bool		tlsdl_done;

const struct tlsdl *
tlsdl_load(char *err, size_t cap)
{
	struct tlsdl	 t;
	void		*h = NULL, *p;
	const char	*name = NULL, *why;
	char		 first[512] = "";
	size_t		 i;

	if (tlsdl_done)
		return &tlsdl_fns;
	for (i = 0; i < N_TLSDL_NAMES; i++) {
		name = tlsdl_names[i];
		/* RTLD_NOW: bound here, in the master, not in each child. */
		h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		if (h != NULL)
			break;
		/* The first name is the one expected; report its reason. */
		why = dlerror();
		if (i == 0)
			(void)snprintf(first, sizeof(first), "%s",
			    why != NULL ? why : name);
	}
	if (h == NULL) {
		if (err != NULL && cap > 0)
			(void)snprintf(err, cap, "cannot load OpenSSL: %s",
			    first);
		errno = ENOENT;
		return NULL;
	}
	for (i = 0; i < N_TLSDL_SYMS; i++) {
		p = dlsym(h, tlsdl_syms[i].name);
		if (p == NULL) {
			if (err != NULL && cap > 0)
				(void)snprintf(err, cap, "cannot load OpenSSL: "
				    "%s has no %s", name, tlsdl_syms[i].name);
			(void)dlclose(h);
			errno = ENOENT;
			return NULL;
		}
		/* POSIX: a function's address fits a void * and back. */
		memcpy((char *)&t + tlsdl_syms[i].off, &p, sizeof(p));
	}
	tlsdl_fns = t;
	tlsdl_done = true;
	return &tlsdl_fns;
}

#endif	/* HAVE_OPENSSL */
