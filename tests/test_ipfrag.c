/* SPDX-License-Identifier: MIT */
/* test_ipfrag.c: fragment reassembly through its API: orders, duplicates,
 * overlaps under both policies, bad fragments, timeouts and every cap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../parsers/ipfrag.h"

#define SEC BW_NSEC_PER_SEC

struct fx {
	struct bw_anomalies an;
	struct bw_ipfrag *f;
	uint8_t out[BW_IPFRAG_MAX_PAYLOAD];
	uint8_t data[BW_IPFRAG_MAX_PAYLOAD];
	size_t out_len;
	uint8_t out_proto;
};

static struct fx *fx_new(size_t mem, uint32_t maxd, bw_time_t timeout)
{
	struct fx *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	struct bw_ipfrag_config c = {.mem_cap = mem, .max_datagrams = maxd, .timeout = timeout};
	x->f = bw_ipfrag_new(&c, &x->an);
	assert_non_null(x->f);
	for (size_t i = 0; i < sizeof(x->data); i++)
		x->data[i] = (uint8_t)(i * 31 + (i >> 8));
	return x;
}

static void fx_free(struct fx *x)
{
	bw_ipfrag_free(x->f);
	free(x);
}

static struct bw_ipfrag_key key(unsigned version, uint32_t id)
{
	struct bw_ipfrag_key k;
	memset(&k, 0, sizeof(k));
	k.version = (uint8_t)version;
	k.src.family = k.dst.family = (uint8_t)version;
	k.src.a[0] = 10;
	k.dst.a[0] = 11;
	k.id = id;
	k.proto = version == 4 ? 17 : 0;
	return k;
}

/* Add data[off, off+len) as one fragment. */
static int add(struct fx *x, const struct bw_ipfrag_key *k, uint32_t off, uint32_t len, bool more, bw_time_t ts)
{
	struct bw_ipfrag_frag fr = {.offset = off, .more = more, .next_proto = 17, .data = x->data + off, .len = len};
	x->out_len = 0;
	return bw_ipfrag_add(x->f, k, &fr, ts, x->out, sizeof(x->out), &x->out_len, &x->out_proto);
}

static void check_out(struct fx *x, uint32_t len)
{
	assert_int_equal(x->out_len, len);
	assert_memory_equal(x->out, x->data, len);
}

static void test_orders(void **state)
{
	(void)state;
	static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	const uint32_t off[3] = {0, 1480, 2960}, len[3] = {1480, 1480, 333};
	for (unsigned v = 4; v <= 6; v += 2) {
		struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
		for (int p = 0; p < 6; p++) {
			struct bw_ipfrag_key k = key(v, 100 + (uint32_t)p);
			for (int i = 0; i < 3; i++) {
				int j = perms[p][i];
				int r = add(x, &k, off[j], len[j], j != 2, SEC);
				assert_int_equal(r, i == 2 ? BW_OK : BW_EAGAIN);
			}
			check_out(x, 2960 + 333);
			assert_int_equal(x->out_proto, 17);
		}
		const struct bw_ipfrag_stats *st = bw_ipfrag_stats(x->f);
		assert_int_equal(st->reassembled, 6);
		assert_int_equal(st->held, 0);
		assert_int_equal(st->mem_used, 0);
		for (int i = 0; i < BW_AN__COUNT; i++)
			assert_int_equal(x->an.n[i], 0);
		fx_free(x);
	}
}

static void test_proto_from_first(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(6, 1);
	struct bw_ipfrag_frag fr = {.offset = 8, .more = false, .next_proto = 99, .data = x->data + 8, .len = 8};
	assert_int_equal(bw_ipfrag_add(x->f, &k, &fr, 1, x->out, sizeof(x->out), &x->out_len, &x->out_proto),
			 BW_EAGAIN);
	fr = (struct bw_ipfrag_frag){.offset = 0, .more = true, .next_proto = 6, .data = x->data, .len = 8};
	assert_int_equal(bw_ipfrag_add(x->f, &k, &fr, 1, x->out, sizeof(x->out), &x->out_len, &x->out_proto),
			 BW_OK);
	assert_int_equal(x->out_proto, 6); /* IPv6: the first fragment's next header */
	check_out(x, 16);
	fx_free(x);
}

static void test_duplicates(void **state)
{
	(void)state;
	for (unsigned v = 4; v <= 6; v += 2) {
		struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
		struct bw_ipfrag_key k = key(v, 7);
		assert_int_equal(add(x, &k, 0, 800, true, 1), BW_EAGAIN);
		assert_int_equal(add(x, &k, 0, 800, true, 2), BW_EAGAIN); /* exact copy */
		assert_int_equal(add(x, &k, 800, 800, true, 3), BW_EAGAIN);
		assert_int_equal(add(x, &k, 0, 1600, true, 3), BW_EAGAIN); /* covers both, same bytes */
		assert_int_equal(add(x, &k, 1600, 100, false, 4), BW_OK);
		check_out(x, 1700);
		/* a late copy of the last fragment starts a new datagram */
		assert_int_equal(add(x, &k, 1600, 100, false, 5), BW_EAGAIN);
		assert_int_equal(bw_ipfrag_stats(x->f)->duplicates, 2);
		assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP], 0);
		assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP_CONFLICT], 0);
		fx_free(x);
	}
}

static void test_overlap_v4_identical(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(4, 9);
	assert_int_equal(add(x, &k, 0, 1000, true, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k, 504, 1000, false, 1), BW_OK); /* overlaps 496 bytes, same content */
	check_out(x, 1504);
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP], 1);
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP_CONFLICT], 0);
	fx_free(x);
}

static void test_overlap_v4_conflict_first_wins(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(4, 10);
	assert_int_equal(add(x, &k, 0, 16, true, 1), BW_EAGAIN);
	uint8_t evil[24];
	memset(evil, 0xEE, sizeof(evil));
	struct bw_ipfrag_frag fr = {.offset = 8, .more = false, .next_proto = 17, .data = evil, .len = 24};
	assert_int_equal(bw_ipfrag_add(x->f, &k, &fr, 1, x->out, sizeof(x->out), &x->out_len, &x->out_proto),
			 BW_OK);
	assert_int_equal(x->out_len, 32);
	assert_memory_equal(x->out, x->data, 16); /* the first copy of 8..16 won */
	for (int i = 16; i < 32; i++)
		assert_int_equal(x->out[i], 0xEE); /* new bytes used where nothing was held */
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP_CONFLICT], 1);
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP], 0);
	/* a conflicting copy of a whole held fragment is not a duplicate either */
	k.id = 11;
	assert_int_equal(add(x, &k, 0, 16, true, 1), BW_EAGAIN);
	fr = (struct bw_ipfrag_frag){.offset = 0, .more = true, .next_proto = 17, .data = evil, .len = 16};
	assert_int_equal(bw_ipfrag_add(x->f, &k, &fr, 1, x->out, sizeof(x->out), &x->out_len, &x->out_proto),
			 BW_EAGAIN);
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP_CONFLICT], 2);
	assert_int_equal(add(x, &k, 16, 1, false, 1), BW_OK);
	check_out(x, 17);
	fx_free(x);
}

static void test_overlap_v6_drops(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(6, 12);
	/* identical bytes, still an overlap: RFC 5722 drops the datagram */
	assert_int_equal(add(x, &k, 0, 1000, true, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k, 504, 1000, false, 1), BW_EMALF);
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP], 1);
	assert_int_equal(bw_ipfrag_stats(x->f)->held, 0);
	/* the rest of it cannot complete the dropped datagram... */
	assert_int_equal(add(x, &k, 1000, 504, false, 1), BW_EAGAIN);
	/* ...conflicting bytes too */
	k.id = 13;
	assert_int_equal(add(x, &k, 0, 16, true, 1), BW_EAGAIN);
	uint8_t evil[16];
	memset(evil, 0xEE, sizeof(evil));
	struct bw_ipfrag_frag fr = {.offset = 0, .more = true, .data = evil, .len = 16};
	assert_int_equal(bw_ipfrag_add(x->f, &k, &fr, 1, x->out, sizeof(x->out), &x->out_len, &x->out_proto),
			 BW_EMALF);
	assert_int_equal(x->an.n[BW_AN_FRAG_OVERLAP], 2);
	fx_free(x);
}

static void test_bad_fragments(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(4, 20);
	assert_int_equal(add(x, &k, 0, 12, true, 1), BW_EMALF); /* not a multiple of 8 */
	assert_int_equal(add(x, &k, 0, 0, true, 1), BW_EMALF);  /* empty middle fragment */
	assert_int_equal(x->an.n[BW_AN_FRAG_BAD], 2);
	assert_int_equal(add(x, &k, 65528, 16, false, 1), BW_EMALF); /* beyond 65535 */
	assert_int_equal(x->an.n[BW_AN_FRAG_TOO_BIG], 1);
	/* the largest datagram is fine */
	assert_int_equal(add(x, &k, 0, 65528, true, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k, 65528, 7, false, 1), BW_OK);
	check_out(x, 65535);

	/* ends that disagree */
	k.id = 21;
	assert_int_equal(add(x, &k, 16, 16, false, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k, 32, 8, true, 1), BW_EMALF);   /* past the end */
	assert_int_equal(add(x, &k, 8, 16, false, 1), BW_EMALF);  /* a second, different end */
	assert_int_equal(x->an.n[BW_AN_FRAG_BAD], 4);
	assert_int_equal(add(x, &k, 0, 16, true, 1), BW_OK); /* IPv4 keeps the datagram */
	check_out(x, 32);
	k.id = 22;
	assert_int_equal(add(x, &k, 32, 16, true, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k, 0, 16, false, 1), BW_EMALF); /* data already beyond this end */

	/* IPv6 drops the datagram on inconsistent ends */
	struct bw_ipfrag_key k6 = key(6, 23);
	assert_int_equal(add(x, &k6, 16, 16, false, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k6, 8, 16, false, 1), BW_EMALF);
	assert_int_equal(add(x, &k6, 0, 16, true, 1), BW_EAGAIN); /* starts afresh */
	fx_free(x);
}

static void test_timeout(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(4, 30);
	assert_int_equal(add(x, &k, 0, 800, true, 100 * SEC), BW_EAGAIN);
	/* within the timeout: completes */
	assert_int_equal(add(x, &k, 800, 8, false, 129 * SEC), BW_OK);
	/* past it: the first half is gone, the second starts a new datagram */
	assert_int_equal(add(x, &k, 0, 800, true, 200 * SEC), BW_EAGAIN);
	assert_int_equal(add(x, &k, 800, 8, false, 231 * SEC), BW_EAGAIN);
	assert_int_equal(x->an.n[BW_AN_FRAG_TIMEOUT], 1);
	/* expire() alone drops it too */
	bw_ipfrag_expire(x->f, 300 * SEC);
	assert_int_equal(x->an.n[BW_AN_FRAG_TIMEOUT], 2);
	const struct bw_ipfrag_stats *st = bw_ipfrag_stats(x->f);
	assert_int_equal(st->held, 0);
	assert_int_equal(st->timeouts, 2);
	assert_int_equal(st->evicted, 2);
	assert_int_equal(st->mem_used, 0);

	/* time going backwards does not expire anything early */
	assert_int_equal(add(x, &k, 0, 800, true, 400 * SEC), BW_EAGAIN);
	bw_ipfrag_expire(x->f, 10 * SEC);
	assert_int_equal(add(x, &k, 800, 8, false, 5 * SEC), BW_OK);
	fx_free(x);
}

static void test_too_many(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 4, 30 * SEC);
	for (uint32_t id = 0; id < 10; id++) {
		struct bw_ipfrag_key k = key(4, id);
		assert_int_equal(add(x, &k, 0, 8, true, 1 + id), BW_EAGAIN);
	}
	assert_int_equal(bw_ipfrag_stats(x->f)->held, 4);
	assert_int_equal(x->an.n[BW_AN_FRAG_TOO_MANY], 6);
	/* the oldest went first: the newest four can complete */
	for (uint32_t id = 6; id < 10; id++) {
		struct bw_ipfrag_key k = key(4, id);
		assert_int_equal(add(x, &k, 8, 8, false, 20), BW_OK);
	}
	struct bw_ipfrag_key k0 = key(4, 0);
	assert_int_equal(add(x, &k0, 8, 8, false, 20), BW_EAGAIN);
	fx_free(x);

	/* no room at all */
	x = fx_new(1 << 20, 0, 30 * SEC);
	struct bw_ipfrag_key k = key(4, 1);
	assert_int_equal(add(x, &k, 0, 8, true, 1), BW_ELIMIT);
	assert_int_equal(x->an.n[BW_AN_FRAG_TOO_MANY], 1);
	fx_free(x);
	x = fx_new(0, 16, 30 * SEC);
	assert_int_equal(add(x, &k, 0, 8, true, 1), BW_ELIMIT);
	assert_int_equal(x->an.n[BW_AN_FRAG_MEMCAP], 1);
	fx_free(x);
}

static void test_memcap(void **state)
{
	(void)state;
	/* room for 8 pages of 1 KiB */
	size_t cap = 8 * (1024 + 16);
	struct fx *x = fx_new(cap, 1024, 30 * SEC);
	struct bw_ipfrag_key a = key(4, 1), b = key(4, 2);
	assert_int_equal(add(x, &a, 0, 4096, true, 1), BW_EAGAIN); /* 4 pages */
	assert_int_equal(add(x, &b, 0, 4096, true, 2), BW_EAGAIN); /* 4 more: full */
	assert_true(bw_ipfrag_stats(x->f)->mem_used <= cap);
	struct bw_ipfrag_key c = key(4, 3);
	assert_int_equal(add(x, &c, 0, 1024, true, 3), BW_EAGAIN); /* evicts a, the oldest */
	assert_int_equal(x->an.n[BW_AN_FRAG_MEMCAP], 1);
	assert_int_equal(add(x, &b, 4096, 8, false, 4), BW_OK); /* b survived */
	assert_int_equal(add(x, &a, 4096, 8, false, 4), BW_EAGAIN); /* a did not */
	/* a datagram bigger than the whole pool */
	struct bw_ipfrag_key d = key(4, 4);
	assert_int_equal(add(x, &d, 0, 16384, true, 5), BW_ELIMIT);
	assert_true(bw_ipfrag_stats(x->f)->mem_used <= cap);
	fx_free(x);
}

static void test_flood_bounded(void **state)
{
	(void)state;
	size_t cap = 64 * 1024;
	struct fx *x = fx_new(cap, 32, 30 * SEC);
	uint32_t seed = 1;
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		struct bw_ipfrag_key k = key((seed >> 7) & 1 ? 4 : 6, (seed >> 9) % 300);
		uint32_t off = ((seed >> 3) % 8000) * 8;
		uint32_t len = ((seed >> 13) % 200 + 1) * 8;
		if (off + len > 65535)
			len = 8;
		int r = add(x, &k, off, len, (seed >> 21) & 7, (bw_time_t)i * 1000);
		assert_true(r == BW_OK || r == BW_EAGAIN || r == BW_EMALF || r == BW_ELIMIT);
		const struct bw_ipfrag_stats *st = bw_ipfrag_stats(x->f);
		assert_true(st->mem_used <= cap);
		assert_true(st->held <= 32);
	}
	fx_free(x);
}

static void test_keys_separate(void **state)
{
	(void)state;
	struct fx *x = fx_new(1 << 20, 16, 30 * SEC);
	struct bw_ipfrag_key k = key(4, 5), kv = key(4, 5), kp = key(4, 5), kd = key(4, 5);
	kv.vlan = 10;
	kp.proto = 6;
	kd.depth = 1;
	assert_int_equal(add(x, &k, 0, 8, true, 1), BW_EAGAIN);
	assert_int_equal(add(x, &kv, 8, 8, false, 1), BW_EAGAIN);
	assert_int_equal(add(x, &kp, 8, 8, false, 1), BW_EAGAIN);
	assert_int_equal(add(x, &kd, 8, 8, false, 1), BW_EAGAIN);
	assert_int_equal(add(x, &k, 8, 8, false, 1), BW_OK);
	assert_int_equal(bw_ipfrag_stats(x->f)->held, 3);
	fx_free(x);
	bw_ipfrag_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_proto_from_first),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_overlap_v4_identical),
		cmocka_unit_test(test_overlap_v4_conflict_first_wins),
		cmocka_unit_test(test_overlap_v6_drops),
		cmocka_unit_test(test_bad_fragments),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_memcap),
		cmocka_unit_test(test_flood_bounded),
		cmocka_unit_test(test_keys_separate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
