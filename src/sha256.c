/* SPDX-License-Identifier: MIT */
/*
 * sha256: SHA-256 from FIPS 180-4 (section numbers below are its own).
 * Whole blocks are compressed straight from the caller's buffer; only a
 * partial block is copied into the context.  Big-endian throughout, by
 * explicit shifts, so the host's byte order never matters.  On x86-64
 * CPUs with the SHA extensions the blocks go through them (several times
 * faster: every message is hashed for the duplicate journal); the
 * portable code is the fallback and the tests' reference.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_NI	1
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "sha256.h"

/* §4.2.2: the first 32 bits of the fractional cube roots of 64 primes. */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* §5.3.3: the first 32 bits of the fractional square roots of 8 primes. */
static const uint32_t sha256_h0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static inline uint32_t	rotr(uint32_t, unsigned);
static inline uint32_t	load_be32(const unsigned char *);
static inline void	store_be32(unsigned char *, uint32_t);
static void		compress(uint32_t[8], const unsigned char *);
static void		compress_blocks(uint32_t[8], const unsigned char *,
			    size_t);

static inline uint32_t
rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t
load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void
store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* §6.2.2: one 64-byte block into the hash value h. */
static void
compress(uint32_t h[8], const unsigned char *p)
{
	uint32_t	w[64], a, b, c, d, e, f, g, hh, s0, s1, t1, t2;
	int		i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(p + 4 * i);
	for (; i < 64; i++) {
		s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^
		    (w[i - 15] >> 3);
		s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^
		    (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}

	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	hh = h[7];
	for (i = 0; i < 64; i++) {
		s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
		t1 = hh + s1 + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
		t2 = s0 + ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

#ifdef SHA256_NI
/*
 * The SHA extensions (Intel SHA-NI): sha256rnds2 does two rounds on the
 * state held as ABEF and CDGH, sha256msg1 and sha256msg2 the message
 * schedule; W[j] is the 4-word group of rounds 4j to 4j+3, kept in
 * m[j % 4].
 */
__attribute__((target("sha,sse4.1")))
static void
compress_ni(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
	const __m128i	mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
			    0x0405060700010203ULL);
	__m128i		st0, st1, tmp, msg, abef, cdgh, m[4];
	int		j;

	tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
	st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xb1);		/* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1b);		/* EFGH */
	st0 = _mm_alignr_epi8(tmp, st1, 8);		/* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xf0);		/* CDGH */

	for (; nblocks > 0; nblocks--, p += SHA256_BLOCK_LEN) {
		abef = st0;
		cdgh = st1;
		for (j = 0; j < 16; j++) {
			if (j < 4)
				m[j] = _mm_shuffle_epi8(_mm_loadu_si128(
				    (const __m128i *)(const void *)(p +
				    16 * j)), mask);
			msg = _mm_add_epi32(m[j & 3], _mm_loadu_si128(
			    (const __m128i *)(const void *)&sha256_k[4 * j]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			if (j >= 3 && j <= 14) {
				/* W[j+1] = msg2(msg1(W[j-3], W[j-2]) + ...) */
				tmp = _mm_alignr_epi8(m[j & 3],
				    m[(j - 1) & 3], 4);
				m[(j + 1) & 3] = _mm_add_epi32(
				    m[(j + 1) & 3], tmp);
				m[(j + 1) & 3] = _mm_sha256msg2_epu32(
				    m[(j + 1) & 3], m[j & 3]);
			}
			msg = _mm_shuffle_epi32(msg, 0x0e);
			st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
			if (j >= 1 && j <= 12)
				m[(j - 1) & 3] = _mm_sha256msg1_epu32(
				    m[(j - 1) & 3], m[j & 3]);
		}
		st0 = _mm_add_epi32(st0, abef);
		st1 = _mm_add_epi32(st1, cdgh);
	}

	tmp = _mm_shuffle_epi32(st0, 0x1b);		/* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xb1);		/* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xf0);		/* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);		/* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&h[0], st0);
	_mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

/* CPUID: SHA (leaf 7, EBX bit 29), SSSE3 and SSE4.1 (leaf 1, ECX). */
static bool
have_ni(void)
{
	static int	known = -1;
	unsigned	a, b, c, d;

	if (known != -1)
		return known == 1;
	known = 0;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1U << 9)) != 0 &&
	    (c & (1U << 19)) != 0 && __get_cpuid_count(7, 0, &a, &b, &c,
	    &d) && (b & (1U << 29)) != 0)
		known = 1;
	return known == 1;
}
#endif

/*
 * Test seam, deliberately not in sha256.h: the unit tests turn the CPU's
 * SHA extensions off to check the portable code on the same machine.
 */
extern bool	sha256_no_ni;
bool		sha256_no_ni;

static void
compress_blocks(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
#ifdef SHA256_NI
	if (!sha256_no_ni && have_ni()) {
		compress_ni(h, p, nblocks);
		return;
	}
#endif
	for (; nblocks > 0; nblocks--, p += SHA256_BLOCK_LEN)
		compress(h, p);
}

void
sha256_init(struct sha256 *ctx)
{
	memcpy(ctx->h, sha256_h0, sizeof(ctx->h));
	ctx->len = 0;
	ctx->fill = 0;
}

void
sha256_update(struct sha256 *ctx, const void *p, size_t n)
{
	const unsigned char	*s = p;
	size_t			 take;

	if (n == 0)
		return;
	ctx->len += n;
	if (ctx->fill > 0) {
		take = SHA256_BLOCK_LEN - ctx->fill;
		if (take > n)
			take = n;
		memcpy(ctx->block + ctx->fill, s, take);
		ctx->fill += take;
		s += take;
		n -= take;
		if (ctx->fill < SHA256_BLOCK_LEN)
			return;
		compress_blocks(ctx->h, ctx->block, 1);
		ctx->fill = 0;
	}
	/* The bulk of a message never goes through ctx->block. */
	if (n >= SHA256_BLOCK_LEN) {
		compress_blocks(ctx->h, s, n / SHA256_BLOCK_LEN);
		s += n - n % SHA256_BLOCK_LEN;
		n %= SHA256_BLOCK_LEN;
	}
	if (n > 0) {
		memcpy(ctx->block, s, n);
		ctx->fill = n;
	}
}

void
sha256_final(struct sha256 *ctx, unsigned char out[SHA256_DIGEST_LEN])
{
	uint64_t	bits = ctx->len * 8;
	int		i;

	/* §5.1.1: a 1 bit, zeros to 448 mod 512, the length in 64 bits. */
	ctx->block[ctx->fill++] = 0x80;
	if (ctx->fill > SHA256_BLOCK_LEN - 8) {
		memset(ctx->block + ctx->fill, 0,
		    SHA256_BLOCK_LEN - ctx->fill);
		compress(ctx->h, ctx->block);
		ctx->fill = 0;
	}
	memset(ctx->block + ctx->fill, 0, SHA256_BLOCK_LEN - 8 - ctx->fill);
	store_be32(ctx->block + SHA256_BLOCK_LEN - 8, (uint32_t)(bits >> 32));
	store_be32(ctx->block + SHA256_BLOCK_LEN - 4, (uint32_t)bits);
	compress(ctx->h, ctx->block);
	ctx->fill = 0;

	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->h[i]);
}

void
sha256_hex(const unsigned char d[SHA256_DIGEST_LEN],
    char out[2 * SHA256_DIGEST_LEN + 1])
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < SHA256_DIGEST_LEN; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 0x0f];
	}
	out[2 * SHA256_DIGEST_LEN] = '\0';
}
