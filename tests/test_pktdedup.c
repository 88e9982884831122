/* SPDX-License-Identifier: MIT */
/* test_pktdedup.c: the keyed hash and the duplicate filter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../parsers/pktdedup.h"

static const uint64_t K0 = 0x0706050403020100ULL, K1 = 0x0f0e0d0c0b0a0908ULL;

/* SipHash-1-3 of bytes 00 01 02 ... with key 00..0f (from a reference
 * implementation checked against the published SipHash-2-4 vector). */
static void test_hash_vectors(void **state)
{
	(void)state;
	uint8_t m[64];
	for (unsigned i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)i;
	assert_int_equal(bw_hash(K0, K1, m, 0), 0xabac0158050fc4dcULL);
	assert_int_equal(bw_hash(K0, K1, m, 1), 0xc9f49bf37d57ca93ULL);
	assert_int_equal(bw_hash(K0, K1, m, 7), 0xd3927d989bb11140ULL);
	assert_int_equal(bw_hash(K0, K1, m, 8), 0x369095118d299a8eULL);
	assert_int_equal(bw_hash(K0, K1, m, 15), 0xd320d86d2a519956ULL);
	assert_int_equal(bw_hash(K0, K1, m, 63), 0x9d199062b7bbb3a8ULL);
	/* a different key gives a different hash */
	assert_true(bw_hash(K0 + 1, K1, m, 15) != bw_hash(K0, K1, m, 15));
}

static void test_hash_streaming(void **state)
{
	(void)state;
	uint8_t m[63];
	for (unsigned i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(i * 7 + 3);
	uint64_t want = bw_hash(K0, K1, m, sizeof(m));
	for (size_t a = 0; a <= sizeof(m); a++) {
		for (size_t b = a; b <= sizeof(m); b += 5) {
			struct bw_hash h;
			bw_hash_init(&h, K0, K1);
			bw_hash_add(&h, m, a);
			bw_hash_add(&h, m + a, b - a);
			bw_hash_add(&h, m + b, sizeof(m) - b);
			assert_int_equal(bw_hash_end(&h), want);
		}
	}
	/* byte at a time */
	struct bw_hash h;
	bw_hash_init(&h, K0, K1);
	for (size_t i = 0; i < sizeof(m); i++)
		bw_hash_add(&h, m + i, 1);
	assert_int_equal(bw_hash_end(&h), want);
}

/* The one-shot bw_hash has its own code: it must give what the streaming form gives at
 * every length, alignment and key. */
static void test_hash_oneshot_same(void **state)
{
	(void)state;
	uint8_t m[300];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (unsigned i = 0; i < sizeof(m); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		m[i] = (uint8_t)x;
	}
	for (size_t off = 0; off < 8; off++) {
		for (size_t n = 0; n + off <= sizeof(m); n++) {
			uint64_t k0 = K0 ^ (n * 0x100000001b3ULL), k1 = K1 + off;
			struct bw_hash h;
			bw_hash_init(&h, k0, k1);
			bw_hash_add(&h, m + off, n);
			assert_int_equal(bw_hash(k0, k1, m + off, n), bw_hash_end(&h));
		}
	}
}

static void test_random_key(void **state)
{
	(void)state;
	uint64_t a[2], b[2];
	bw_hash_random_key(a);
	bw_hash_random_key(b);
	assert_true(a[0] != b[0] || a[1] != b[1]);
}

static uint64_t hash_ip(const struct bw_pktdedup *d, const uint8_t *p, size_t n)
{
	struct bw_hash h;
	bw_pktdedup_hash_begin(d, &h);
	bw_pktdedup_hash_ip(&h, p, n);
	return bw_hash_end(&h);
}

static void test_hash_ip_masks(void **state)
{
	(void)state;
	struct bw_pktdedup *d = bw_pktdedup_new(64, BW_NSEC_PER_MSEC);
	assert_non_null(d);
	uint8_t v4[28] = {0x45, 0, 0, 28, 0x12, 0x34, 0, 0, 64, 17, 0xab, 0xcd, 10, 0, 0, 1, 10, 0, 0, 2,
			  0x30, 0x39, 0, 53, 0, 8, 0, 0};
	uint8_t c4[28];
	memcpy(c4, v4, sizeof(v4));
	uint64_t h = hash_ip(d, v4, sizeof(v4));
	c4[8] = 61;                  /* TTL: ignored */
	c4[10] = 0x11, c4[11] = 0x22; /* checksum: ignored */
	assert_int_equal(hash_ip(d, c4, sizeof(c4)), h);
	c4[4] = 0x99; /* IP id: part of the packet */
	assert_true(hash_ip(d, c4, sizeof(c4)) != h);
	memcpy(c4, v4, sizeof(v4));
	c4[27] ^= 1; /* payload */
	assert_true(hash_ip(d, c4, sizeof(c4)) != h);

	uint8_t v6[48] = {0x60, 0, 0, 0, 0, 8, 17, 64};
	v6[8 + 15] = 1;
	v6[24 + 15] = 2;
	uint8_t c6[48];
	memcpy(c6, v6, sizeof(v6));
	uint64_t h6 = hash_ip(d, v6, sizeof(v6));
	c6[7] = 1; /* hop limit: ignored */
	assert_int_equal(hash_ip(d, c6, sizeof(c6)), h6);
	c6[1] = 0x10; /* traffic class: kept */
	assert_true(hash_ip(d, c6, sizeof(c6)) != h6);
	/* short or non-IP input is hashed as it is, without reading past it */
	uint8_t junk[3] = {0x45, 1, 2};
	(void)hash_ip(d, junk, sizeof(junk));
	(void)hash_ip(d, junk, 0);
	bw_pktdedup_free(d);
}

static void test_seen_window(void **state)
{
	(void)state;
	bw_time_t w = 50 * BW_NSEC_PER_MSEC;
	struct bw_pktdedup *d = bw_pktdedup_new(1024, w);
	assert_non_null(d);
	bw_time_t t0 = 1000 * BW_NSEC_PER_SEC;
	assert_false(bw_pktdedup_seen(d, 42, t0));
	assert_true(bw_pktdedup_seen(d, 42, t0 + 10 * BW_NSEC_PER_MSEC));
	assert_true(bw_pktdedup_seen(d, 42, t0 + w));          /* edge of the window */
	assert_true(bw_pktdedup_seen(d, 42, t0 - 5 * BW_NSEC_PER_MSEC)); /* copy from a clock behind */
	/* the window is measured from the first sighting: not stretched */
	assert_false(bw_pktdedup_seen(d, 42, t0 + w + 1));
	/* now the entry is the new sighting */
	assert_true(bw_pktdedup_seen(d, 42, t0 + w + 2));
	/* a retransmission a second later is not a duplicate */
	assert_false(bw_pktdedup_seen(d, 42, t0 + 2 * BW_NSEC_PER_SEC));
	/* hash 0 works (0 marks empty slots internally) */
	assert_false(bw_pktdedup_seen(d, 0, t0));
	assert_true(bw_pktdedup_seen(d, 0, t0 + 1));
	assert_false(bw_pktdedup_seen(d, 43, t0));
	bw_pktdedup_free(d);
}

static void test_buckets_full(void **state)
{
	(void)state;
	/* 2 slots = 1 bucket: a third hash evicts the older of two */
	struct bw_pktdedup *d = bw_pktdedup_new(2, BW_NSEC_PER_SEC);
	assert_non_null(d);
	assert_false(bw_pktdedup_seen(d, 1, 10));
	assert_false(bw_pktdedup_seen(d, 2, 20));
	assert_false(bw_pktdedup_seen(d, 3, 30)); /* evicts 1 */
	assert_true(bw_pktdedup_seen(d, 2, 40));
	assert_true(bw_pktdedup_seen(d, 3, 40));
	assert_false(bw_pktdedup_seen(d, 1, 40)); /* forgotten: let through, never wrongly dropped */
	bw_pktdedup_free(d);

	/* many distinct hashes in a small table: never a false duplicate */
	d = bw_pktdedup_new(16, BW_NSEC_PER_SEC);
	for (uint64_t i = 1; i < 5000; i++)
		assert_false(bw_pktdedup_seen(d, i * 0x9e3779b97f4a7c15ULL, i));
	bw_pktdedup_free(d);
}

static void test_off(void **state)
{
	(void)state;
	assert_null(bw_pktdedup_new(0, BW_NSEC_PER_SEC));
	assert_null(bw_pktdedup_new(16, 0));
	assert_false(bw_pktdedup_seen(NULL, 1, 1));
	bw_pktdedup_free(NULL);
	/* slots are rounded up and capped */
	struct bw_pktdedup *d = bw_pktdedup_new(3, 1);
	assert_non_null(d);
	bw_pktdedup_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),   cmocka_unit_test(test_hash_streaming),
		cmocka_unit_test(test_hash_oneshot_same),
		cmocka_unit_test(test_random_key),     cmocka_unit_test(test_hash_ip_masks),
		cmocka_unit_test(test_seen_window),    cmocka_unit_test(test_buckets_full),
		cmocka_unit_test(test_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
