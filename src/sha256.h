/* SPDX-License-Identifier: MIT */
/*
 * sha256: SHA-256 (FIPS 180-4), written from the standard so that lmtpd
 * needs no crypto library.  Streaming: input may be split at any byte.
 * Not for secrets: nothing is wiped and nothing is constant-time.
 */
#ifndef LMTPD_SHA256_H
#define LMTPD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN	32
#define SHA256_BLOCK_LEN	64

/* Embeddable; the fields are private to sha256.c. */
struct sha256 {
	uint32_t	h[8];		/* the intermediate hash value */
	uint64_t	len;		/* message bytes so far */
	unsigned char	block[SHA256_BLOCK_LEN]; /* a partial block */
	size_t		fill;		/* bytes used in block, < 64 */
};

/* Starts a new digest in ctx.  Never fails. */
void	sha256_init(struct sha256 *ctx);

/*
 * Hashes n bytes at p (p may be NULL when n is 0).  Any split of the
 * input gives the same digest.  Never fails, never allocates.
 */
void	sha256_update(struct sha256 *ctx, const void *p, size_t n);

/*
 * Pads, and writes the 32-byte digest to out.  ctx is spent: call
 * sha256_init() before using it again.
 */
void	sha256_final(struct sha256 *ctx, unsigned char out[SHA256_DIGEST_LEN]);

/* Writes d as 64 lowercase hex digits and a NUL to out. */
void	sha256_hex(const unsigned char d[SHA256_DIGEST_LEN],
	    char out[2 * SHA256_DIGEST_LEN + 1]);

#endif
