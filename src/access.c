/* SPDX-License-Identifier: MIT */
/*
 * access: CIDR networks and the test of a peer address against them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "access.h"
#include "util.h"

enum access_status
access_parse(const char *spec, struct access_net *out)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*slash;
	size_t		 len, i, bits;
	unsigned	 prefix, max;
	struct access_net net;

	memset(&net, 0, sizeof(net));
	slash = strchr(spec, '/');
	len = slash == NULL ? strlen(spec) : (size_t)(slash - spec);
	if (len == 0 || len >= sizeof(host))
		return ACCESS_BAD_ADDRESS;
	memcpy(host, spec, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, net.addr) == 1) {
		net.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, net.addr) == 1) {
		net.family = AF_INET6;
		max = 128;
	} else
		return ACCESS_BAD_ADDRESS;
	prefix = max;
	if (slash != NULL) {
		if (slash[1] == '\0' || strlen(slash + 1) > 3)
			return ACCESS_BAD_PREFIX;
		prefix = 0;
		for (i = 1; slash[i] != '\0'; i++) {
			if (slash[i] < '0' || slash[i] > '9')
				return ACCESS_BAD_PREFIX;
			prefix = prefix * 10 + (unsigned)(slash[i] - '0');
		}
		if (prefix > max)
			return ACCESS_BAD_PREFIX;
	}
	/* A network with host bits set is a typo worth reporting. */
	for (bits = 0; bits < max; bits++)
		if (bits >= prefix &&
		    (net.addr[bits / 8] & (0x80 >> (bits % 8))) != 0)
			return ACCESS_HOST_BITS;
	net.prefix = prefix;
	*out = net;
	return ACCESS_OK;
}

static bool
access_match(const struct access_net *net, const unsigned char *a)
{
	unsigned	full = net->prefix / 8, rest = net->prefix % 8;

	if (memcmp(net->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net->addr[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

bool
access_allowed(const struct access_net *nets, size_t n,
    const struct sockaddr *sa)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0xff, 0xff };
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const unsigned char		*a;
	int				 family;
	size_t				 i;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		a = (const unsigned char *)&sin->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		a = sin6->sin6_addr.s6_addr;
		family = AF_INET6;
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			a += sizeof(v4mapped);
			family = AF_INET;
		}
	} else
		return false;
	for (i = 0; i < n; i++)
		if (nets[i].family == family && access_match(&nets[i], a))
			return true;
	return false;
}
