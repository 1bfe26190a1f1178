/* SPDX-License-Identifier: MIT */
/*
 * access: which TCP clients may talk to us: a list of networks in CIDR
 * notation, IPv4 and IPv6.  Parsing and matching only; no I/O.  An
 * IPv4-mapped IPv6 peer (::ffff:a.b.c.d, from a dual-stack listener) is
 * matched as the IPv4 address it is.
 */
#ifndef LMTPD_ACCESS_H
#define LMTPD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct access_net {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];	/* network, host bits zero */
	unsigned	prefix;		/* 0..32 or 0..128 */
};

enum access_status {
	ACCESS_OK,
	ACCESS_BAD_ADDRESS,	/* not an IPv4 or IPv6 address */
	ACCESS_BAD_PREFIX,	/* "/n" missing digits or out of range */
	ACCESS_HOST_BITS,	/* bits set below the prefix: 127.0.0.1/8 */
};

/*
 * Parses "a.b.c.d[/n]" or "x:y::z[/n]" (a missing prefix means one host)
 * into *out.
 */
enum access_status access_parse(const char *spec, struct access_net *out);

/* True when the address of sa falls in one of the n networks. */
bool	access_allowed(const struct access_net *nets, size_t n,
	    const struct sockaddr *sa);

#endif
