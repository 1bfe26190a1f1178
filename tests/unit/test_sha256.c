/* SPDX-License-Identifier: MIT */
/*
 * sha256: the FIPS 180-4 / NIST example vectors, the padding edges around
 * 55/56 and 64 bytes (expected values from Python's hashlib), and the
 * same digest whatever the split of the input.
 */
#include "config.h"

#include <stddef.h>
#include <stdbool.h>
#include <string.h>

#include "sha256.h"
#include "suites.h"

#define SPLIT_LEN	1000
#define MILLION		1000000

static const struct {
	const char	*in;
	const char	*hex;
} vectors[] = {
	{ "",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc",
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	"cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};

/* pattern(n) of each length; the edges of one and two padding blocks. */
static const struct {
	size_t		 len;
	const char	*hex;
} edges[] = {
	{ 55,
	"e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b" },
	{ 56,
	"4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27" },
	{ 57,
	"35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73" },
	{ 63,
	"81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055" },
	{ 64,
	"39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241" },
	{ 65,
	"aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e" },
	{ 119,
	"9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e" },
	{ 120,
	"7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5" },
	{ 127,
	"a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07" },
	{ 128,
	"d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6" },
	{ 129,
	"307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4" },
};

static const char	split_hex[] =
    "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371";

/* Chunk sizes for the split test: 0 is "all at once". */
static const size_t	chunks[] = { 0, 1, 2, 3, 7, 13, 55, 63, 64, 65, 127,
			    128, 500, 999 };

static unsigned char	big[MILLION];

static void	fill_pattern(unsigned char *, size_t);
static void	digest_chunked(const void *, size_t, size_t,
		    char[2 * SHA256_DIGEST_LEN + 1]);

static void
fill_pattern(unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 7 + 3) & 0xff);
}

/* Hex digest of p fed in pieces of chunk bytes (0: in one call). */
static void
digest_chunked(const void *p, size_t n, size_t chunk,
    char hex[2 * SHA256_DIGEST_LEN + 1])
{
	struct sha256		 ctx;
	unsigned char		 d[SHA256_DIGEST_LEN];
	const unsigned char	*s = p;
	size_t			 take;

	sha256_init(&ctx);
	if (chunk == 0)
		chunk = n;
	while (n > 0) {
		take = n < chunk ? n : chunk;
		sha256_update(&ctx, s, take);
		s += take;
		n -= take;
	}
	sha256_final(&ctx, d);
	sha256_hex(d, hex);
}

START_TEST(test_vectors)
{
	char		 hex[2 * SHA256_DIGEST_LEN + 1];
	const char	*in = vectors[_i].in;

	digest_chunked(in, strlen(in), 0, hex);
	ck_assert_str_eq(hex, vectors[_i].hex);
	digest_chunked(in, strlen(in), 1, hex);
	ck_assert_str_eq(hex, vectors[_i].hex);
}
END_TEST

START_TEST(test_million_a)
{
	static const char	want[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	char			hex[2 * SHA256_DIGEST_LEN + 1];

	memset(big, 'a', sizeof(big));
	digest_chunked(big, sizeof(big), 0, hex);
	ck_assert_str_eq(hex, want);
	digest_chunked(big, sizeof(big), 1000, hex);
	ck_assert_str_eq(hex, want);
	digest_chunked(big, sizeof(big), 61, hex);
	ck_assert_str_eq(hex, want);
}
END_TEST

START_TEST(test_padding_edges)
{
	unsigned char	buf[256];
	char		hex[2 * SHA256_DIGEST_LEN + 1];

	ck_assert_uint_le(edges[_i].len, sizeof(buf));
	fill_pattern(buf, edges[_i].len);
	digest_chunked(buf, edges[_i].len, 0, hex);
	ck_assert_str_eq(hex, edges[_i].hex);
	digest_chunked(buf, edges[_i].len, 1, hex);
	ck_assert_str_eq(hex, edges[_i].hex);
}
END_TEST

START_TEST(test_any_split)
{
	unsigned char	buf[SPLIT_LEN];
	char		hex[2 * SHA256_DIGEST_LEN + 1];

	fill_pattern(buf, sizeof(buf));
	digest_chunked(buf, sizeof(buf), chunks[_i], hex);
	ck_assert_str_eq(hex, split_hex);
}
END_TEST

/* Uneven pieces, empty updates among them: the block buffer's edges. */
START_TEST(test_uneven_split)
{
	static const size_t	 pieces[] = { 0, 5, 59, 0, 64, 1, 130, 63,
				    0, 2, 200 };
	struct sha256		 ctx;
	unsigned char		 buf[SPLIT_LEN], d[SHA256_DIGEST_LEN];
	char			 hex[2 * SHA256_DIGEST_LEN + 1];
	size_t			 i, off = 0;

	fill_pattern(buf, sizeof(buf));
	sha256_init(&ctx);
	sha256_update(&ctx, NULL, 0);
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		sha256_update(&ctx, buf + off, pieces[i]);
		off += pieces[i];
	}
	ck_assert_uint_lt(off, sizeof(buf));
	sha256_update(&ctx, buf + off, sizeof(buf) - off);
	sha256_final(&ctx, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, split_hex);
}
END_TEST

START_TEST(test_hex)
{
	unsigned char	d[SHA256_DIGEST_LEN];
	char		hex[2 * SHA256_DIGEST_LEN + 2];
	size_t		i;

	for (i = 0; i < sizeof(d); i++)
		d[i] = (unsigned char)(i * 8 + 1);
	memset(hex, 'X', sizeof(hex));
	sha256_hex(d, hex);
	ck_assert_str_eq(hex,
	    "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
	ck_assert_int_eq(hex[sizeof(hex) - 1], 'X');
}
END_TEST

/* init after final starts afresh: no state leaks between digests. */
START_TEST(test_reuse)
{
	struct sha256	ctx;
	unsigned char	d[SHA256_DIGEST_LEN];
	char		hex[2 * SHA256_DIGEST_LEN + 1];

	sha256_init(&ctx);
	sha256_update(&ctx, "some earlier message", 20);
	sha256_final(&ctx, d);
	sha256_init(&ctx);
	sha256_update(&ctx, "abc", 3);
	sha256_final(&ctx, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, vectors[1].hex);
}
END_TEST

/* The seam in sha256.c: off means the portable compression only. */
extern bool	sha256_no_ni;

static void
portable_on(void)
{
	sha256_no_ni = true;
}

static void
portable_off(void)
{
	sha256_no_ni = false;
}

/* The CPU's path (where there is one) and the portable one agree. */
START_TEST(test_paths_agree)
{
	static unsigned char	buf[9000];
	unsigned char		a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
	struct sha256		ctx;
	unsigned		seed = 12345;
	size_t			i, len;

	for (i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (unsigned char)(seed >> 16);
	}
	for (len = 0; len < sizeof(buf); len += 1 + len / 3) {
		sha256_no_ni = false;
		sha256_init(&ctx);
		sha256_update(&ctx, buf, len);
		sha256_final(&ctx, a);
		sha256_no_ni = true;
		sha256_init(&ctx);
		sha256_update(&ctx, buf, len);
		sha256_final(&ctx, b);
		ck_assert_msg(memcmp(a, b, sizeof(a)) == 0, "length %zu", len);
	}
	sha256_no_ni = false;
}
END_TEST

/* The known answers, for the SHA-NI path and the portable one alike. */
static void
add_vector_tests(TCase *tc)
{
	tcase_add_loop_test(tc, test_vectors, 0,
	    (int)(sizeof(vectors) / sizeof(vectors[0])));
	tcase_add_test(tc, test_million_a);
	tcase_add_loop_test(tc, test_padding_edges, 0,
	    (int)(sizeof(edges) / sizeof(edges[0])));
}

Suite *
sha256_suite(void)
{
	Suite	*s = suite_create("sha256");
	TCase	*tc;

	tc = tcase_create("vectors");
	add_vector_tests(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("streaming");
	tcase_add_loop_test(tc, test_any_split, 0,
	    (int)(sizeof(chunks) / sizeof(chunks[0])));
	tcase_add_test(tc, test_uneven_split);
	tcase_add_test(tc, test_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("portable");
	tcase_add_checked_fixture(tc, portable_on, portable_off);
	add_vector_tests(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("paths");
	tcase_add_test(tc, test_paths_agree);
	suite_add_tcase(s, tc);

	tc = tcase_create("hex");
	tcase_add_test(tc, test_hex);
	suite_add_tcase(s, tc);
	return s;
}
