/* SPDX-License-Identifier: MIT */
/* test_iplpm.c: longest-prefix match, checked against a brute-force scan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/iplpm.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static struct bw_ip ip_of(const char *s)
{
	struct bw_ip ip = { 0 };
	ip.family = strchr(s, ':') ? 6 : 4;
	assert_int_equal(inet_pton(ip.family == 4 ? AF_INET : AF_INET6, s, ip.a), 1);
	return ip;
}

static void add(struct bw_lpm_builder *b, const char *pfx, unsigned plen, uint32_t v)
{
	struct bw_ip ip = ip_of(pfx);
	assert_int_equal(bw_lpm_add(b, ip.family, ip.a, plen, v), BW_OK);
}

static uint32_t look(const struct bw_lpm *t, const char *a, unsigned *plen)
{
	struct bw_ip ip = ip_of(a);
	return bw_lpm_lookup(t, &ip, plen);
}

static void test_empty(void **state)
{
	(void)state;
	struct bw_lpm_builder *b;
	struct bw_lpm *t;
	assert_int_equal(bw_lpm_builder_new(&b, 0), BW_OK);
	assert_int_equal(bw_lpm_build(b, &t, NULL), BW_OK);
	assert_int_equal(look(t, "0.0.0.0", NULL), BW_LPM_NONE);
	assert_int_equal(look(t, "255.255.255.255", NULL), BW_LPM_NONE);
	assert_int_equal(look(t, "::", NULL), BW_LPM_NONE);
	assert_int_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL), BW_LPM_NONE);
	struct bw_ip none = { 0 };
	assert_int_equal(bw_lpm_lookup(t, &none, NULL), BW_LPM_NONE);
	assert_int_equal(bw_lpm_prefixes(t, 0), 0);
	bw_lpm_free(t);
	bw_lpm_builder_free(b);
	bw_lpm_free(NULL);
	bw_lpm_builder_free(NULL);
}

static void test_nested_v4(void **state)
{
	(void)state;
	struct bw_lpm_builder *b;
	struct bw_lpm *t;
	unsigned pl;
	assert_int_equal(bw_lpm_builder_new(&b, 0), BW_OK);
	add(b, "10.1.2.0", 24, 3);
	add(b, "10.0.0.0", 8, 1);
	add(b, "0.0.0.0", 0, 9);
	add(b, "10.1.0.0", 16, 2);
	add(b, "255.255.255.255", 32, 5);
	add(b, "10.1.2.128", 25, 4);
	assert_int_equal(bw_lpm_build(b, &t, NULL), BW_OK);
	assert_int_equal(look(t, "9.255.255.255", &pl), 9);
	assert_int_equal(pl, 0);
	assert_int_equal(look(t, "10.0.0.0", &pl), 1);
	assert_int_equal(pl, 8);
	assert_int_equal(look(t, "10.1.0.0", NULL), 2);
	assert_int_equal(look(t, "10.1.1.255", NULL), 2);
	assert_int_equal(look(t, "10.1.2.0", NULL), 3);
	assert_int_equal(look(t, "10.1.2.127", NULL), 3);
	assert_int_equal(look(t, "10.1.2.128", &pl), 4);
	assert_int_equal(pl, 25);
	assert_int_equal(look(t, "10.1.2.255", NULL), 4);
	assert_int_equal(look(t, "10.1.3.0", NULL), 2);
	assert_int_equal(look(t, "10.2.0.0", NULL), 1);
	assert_int_equal(look(t, "10.255.255.255", NULL), 1);
	assert_int_equal(look(t, "11.0.0.0", NULL), 9);
	assert_int_equal(look(t, "255.255.255.254", NULL), 9);
	assert_int_equal(look(t, "255.255.255.255", NULL), 5);
	assert_int_equal(bw_lpm_lookup4(t, 0x0a010281), 4);
	/* no IPv6 prefix: v4 ones do not leak into v6 */
	assert_int_equal(look(t, "::a01:281", NULL), BW_LPM_NONE);

	struct bw_ip ip = ip_of("10.1.2.200");
	uint32_t v[8];
	assert_int_equal(bw_lpm_lookup_all(t, &ip, v, 8), 5);
	assert_int_equal(v[0], 4);
	assert_int_equal(v[1], 3);
	assert_int_equal(v[2], 2);
	assert_int_equal(v[3], 1);
	assert_int_equal(v[4], 9);
	assert_int_equal(bw_lpm_lookup_all(t, &ip, v, 2), 2);
	assert_int_equal(bw_lpm_prefixes(t, 4), 6);
	assert_int_equal(bw_lpm_prefixes(t, 6), 0);
	assert_true(bw_lpm_memory(t) > 0);
	bw_lpm_free(t);
	bw_lpm_builder_free(b);
}

static void test_nested_v6(void **state)
{
	(void)state;
	struct bw_lpm_builder *b;
	struct bw_lpm *t;
	assert_int_equal(bw_lpm_builder_new(&b, 0), BW_OK);
	add(b, "::", 0, 100);
	add(b, "2600::", 12, 1);
	add(b, "2600:1f68:e000::", 40, 2);
	add(b, "2600:1f68:e000::1", 128, 3);
	add(b, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 4);
	add(b, "8000::", 1, 5);
	add(b, "10.0.0.0", 8, 6);
	assert_int_equal(bw_lpm_build(b, &t, NULL), BW_OK);
	assert_int_equal(look(t, "::1", NULL), 100);
	assert_int_equal(look(t, "2600::", NULL), 1);
	assert_int_equal(look(t, "260f:ffff::", NULL), 1);
	assert_int_equal(look(t, "2610::", NULL), 100);
	assert_int_equal(look(t, "2600:1f68:e000::", NULL), 2);
	assert_int_equal(look(t, "2600:1f68:e000::1", NULL), 3);
	assert_int_equal(look(t, "2600:1f68:e000::2", NULL), 2);
	assert_int_equal(look(t, "2600:1f68:e0ff:ffff:ffff:ffff:ffff:ffff", NULL), 2);
	assert_int_equal(look(t, "2600:1f68:e100::", NULL), 1);
	assert_int_equal(look(t, "8000::", NULL), 5);
	assert_int_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", NULL), 5);
	assert_int_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL), 4);
	assert_int_equal(look(t, "10.9.9.9", NULL), 6);
	assert_int_equal(look(t, "11.9.9.9", NULL), BW_LPM_NONE);
	bw_lpm_free(t);
	bw_lpm_builder_free(b);
}

static void test_errors(void **state)
{
	(void)state;
	struct bw_lpm_builder *b;
	struct bw_lpm *t;
	uint8_t a[16] = { 10, 0, 0, 1 };
	size_t dup = 99;
	assert_int_equal(bw_lpm_builder_new(&b, 3), BW_OK);
	assert_int_equal(bw_lpm_add(b, 4, a, 24, 1), BW_EINVAL); /* host bits */
	assert_int_equal(bw_lpm_add(b, 4, a, 33, 1), BW_EINVAL);
	assert_int_equal(bw_lpm_add(b, 5, a, 8, 1), BW_EINVAL);
	assert_int_equal(bw_lpm_add(b, 4, a, 32, BW_LPM_NONE), BW_EINVAL);
	assert_int_equal(bw_lpm_add(b, 6, a, 129, 1), BW_EINVAL);
	assert_int_equal(bw_lpm_add(b, 4, a, 32, 7), BW_OK);
	assert_int_equal(bw_lpm_add(b, 4, a, 32, 7), BW_OK); /* same value: merged */
	a[3] = 0;
	assert_int_equal(bw_lpm_add(b, 4, a, 24, 1), BW_OK);
	assert_int_equal(bw_lpm_add(b, 4, a, 24, 2), BW_ELIMIT); /* cap of 3 */
	assert_int_equal(bw_lpm_build(b, &t, &dup), BW_OK);
	assert_int_equal(bw_lpm_prefixes(t, 4), 2);
	assert_int_equal(bw_lpm_lookup4(t, 0x0a000001), 7);
	assert_int_equal(bw_lpm_lookup4(t, 0x0a000002), 1);
	bw_lpm_free(t);
	bw_lpm_builder_free(b);

	assert_int_equal(bw_lpm_builder_new(&b, 0), BW_OK);
	assert_int_equal(bw_lpm_add(b, 4, a, 24, 1), BW_OK);
	assert_int_equal(bw_lpm_add(b, 4, a, 16, 5), BW_OK);
	assert_int_equal(bw_lpm_add(b, 4, a, 24, 2), BW_OK);
	assert_int_equal(bw_lpm_build(b, &t, &dup), BW_EINVAL); /* one prefix, two values */
	assert_null(t);
	assert_int_equal(dup, 2);
	bw_lpm_builder_free(b);
}

/* ---- random prefixes against a brute-force reference ---- */

struct ref {
	uint8_t a[16];
	unsigned plen;
	uint32_t v;
};

static bool covers(const struct ref *r, const uint8_t *a)
{
	unsigned full = r->plen / 8, rem = r->plen % 8;
	if (memcmp(r->a, a, full))
		return false;
	return rem == 0 || ((r->a[full] ^ a[full]) & (0xff00u >> rem)) == 0;
}

static void clear_host(uint8_t *a, unsigned plen, unsigned bytes)
{
	for (unsigned bit = plen; bit < bytes * 8; bit++)
		a[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* Force the top `bits` bits of a to those of pat. */
static void force_top(uint8_t *a, const uint8_t *pat, unsigned bits)
{
	for (unsigned bit = 0; bit < bits; bit++) {
		uint8_t m = (uint8_t)(0x80u >> (bit % 8));
		a[bit / 8] = (uint8_t)((a[bit / 8] & ~m) | (pat[bit / 8] & m));
	}
}

/*
 * cluster > 0: every fresh prefix lies inside one /cluster, so the index
 * has to split that slot into nodes (as Azure's 2603:1030::/32 does).
 */
static void random_run(uint8_t family, size_t nprefix, size_t nlookup, unsigned cluster)
{
	static const uint8_t pat[16] = { 0x26, 0x03, 0x10, 0x30, 0x0a, 0x0b, 0x0c, 0x0d,
					 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc };
	unsigned bytes = family == 4 ? 4 : 16, bits = bytes * 8;
	struct ref *refs = calloc(nprefix, sizeof(*refs));
	size_t n = 0;
	struct bw_lpm_builder *b;
	struct bw_lpm *t;
	assert_non_null(refs);
	assert_int_equal(bw_lpm_builder_new(&b, 0), BW_OK);
	while (n < nprefix) {
		struct ref r = { .v = (uint32_t)n };
		if (n && rnd() % 3 == 0) {
			/* nest inside an earlier prefix */
			const struct ref *p = &refs[rnd() % n];
			memcpy(r.a, p->a, 16);
			for (unsigned k = 0; k < bytes; k++)
				r.a[k] ^= (uint8_t)rnd();
			unsigned room = bits - p->plen;
			r.plen = p->plen + (room ? 1 + (unsigned)(rnd() % room) : 0);
			/* keep p's bits */
			for (unsigned bit = 0; bit < p->plen; bit++) {
				uint8_t m = (uint8_t)(0x80u >> (bit % 8));
				r.a[bit / 8] = (uint8_t)((r.a[bit / 8] & ~m) | (p->a[bit / 8] & m));
			}
		} else {
			for (unsigned k = 0; k < bytes; k++)
				r.a[k] = (uint8_t)rnd();
			/* few short prefixes, many long ones, some /0 and full-length */
			unsigned pick = (unsigned)(rnd() % 100);
			r.plen = pick < 2 ? 0 : pick < 5 ? bits : (unsigned)(rnd() % (bits + 1));
			if (cluster) {
				force_top(r.a, pat, cluster);
				if (r.plen < cluster)
					r.plen = cluster + (unsigned)(rnd() % (bits - cluster + 1));
			}
		}
		clear_host(r.a, r.plen, bytes);
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = refs[k].plen == r.plen && !memcmp(refs[k].a, r.a, bytes);
		if (dup)
			continue;
		refs[n++] = r;
		assert_int_equal(bw_lpm_add(b, family, r.a, r.plen, r.v), BW_OK);
	}
	assert_int_equal(bw_lpm_build(b, &t, NULL), BW_OK);
	assert_int_equal(bw_lpm_prefixes(t, family), nprefix);

	for (size_t i = 0; i < nlookup; i++) {
		struct bw_ip ip = { .family = family };
		unsigned kind = (unsigned)(rnd() % 4);
		for (unsigned k = 0; k < bytes; k++)
			ip.a[k] = (uint8_t)rnd();
		if (cluster && rnd() % 2)
			force_top(ip.a, pat, cluster);
		if (kind) {
			/* near a prefix: its first or last address, or one beyond either */
			const struct ref *r = &refs[rnd() % n];
			memcpy(ip.a, r->a, bytes);
			bool last = kind >= 2;
			if (last)
				for (unsigned bit = r->plen; bit < bits; bit++)
					ip.a[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
			if (kind == 3 || (kind == 1 && rnd() % 2)) {
				/* step one address up (after last) or down (before first) */
				int k = (int)bytes - 1;
				if (last)
					while (k >= 0 && ++ip.a[k] == 0)
						k--;
				else
					while (k >= 0 && ip.a[k]-- == 0)
						k--;
			}
		}
		const struct ref *best = NULL;
		for (size_t k = 0; k < n; k++)
			if (covers(&refs[k], ip.a) && (!best || refs[k].plen > best->plen))
				best = &refs[k];
		unsigned pl = 999;
		uint32_t got = bw_lpm_lookup(t, &ip, &pl);
		if (best) {
			assert_int_equal(got, best->v);
			assert_int_equal(pl, best->plen);
		} else {
			assert_int_equal(got, BW_LPM_NONE);
		}
		if (i % 16 == 0) {
			/* every covering prefix, longest first */
			uint32_t all[130];
			size_t na = bw_lpm_lookup_all(t, &ip, all, BW_ARRAY_SIZE(all));
			size_t want = 0;
			unsigned prev = 999;
			for (size_t k = 0; k < n; k++)
				want += covers(&refs[k], ip.a);
			assert_int_equal(na, want);
			for (size_t k = 0; k < na; k++) {
				const struct ref *r = &refs[all[k]];
				assert_true(covers(r, ip.a));
				assert_true(r->plen < prev);
				prev = r->plen;
			}
		}
	}
	bw_lpm_free(t);
	bw_lpm_builder_free(b);
	free(refs);
}

static void test_random_v4(void **state)
{
	(void)state;
	for (int round = 0; round < 4; round++)
		random_run(4, 300 + (size_t)round * 400, 8000, 0);
	random_run(4, 3000, 10000, 16);
	random_run(4, 400, 10000, 24); /* a /24 holds only 511 distinct prefixes */
}

static void test_random_v6(void **state)
{
	(void)state;
	for (int round = 0; round < 4; round++)
		random_run(6, 300 + (size_t)round * 400, 8000, 0);
	random_run(6, 3000, 10000, 32);
	random_run(6, 3000, 10000, 64);
}

/* Dense nesting: every length of one address, both families in one table. */
static void test_chain(void **state)
{
	(void)state;
	struct bw_lpm_builder *b;
	struct bw_lpm *t;
	uint8_t a6[16], a4[4] = { 0xc0, 0xa8, 0x55, 0xaa };
	memset(a6, 0xa5, sizeof(a6));
	assert_int_equal(bw_lpm_builder_new(&b, 0), BW_OK);
	for (unsigned pl = 0; pl <= 128; pl++) {
		uint8_t x[16];
		memcpy(x, a6, 16);
		clear_host(x, pl, 16);
		assert_int_equal(bw_lpm_add(b, 6, x, pl, 1000 + pl), BW_OK);
	}
	for (unsigned pl = 0; pl <= 32; pl++) {
		uint8_t x[4];
		memcpy(x, a4, 4);
		clear_host(x, pl, 4);
		assert_int_equal(bw_lpm_add(b, 4, x, pl, pl), BW_OK);
	}
	assert_int_equal(bw_lpm_build(b, &t, NULL), BW_OK);
	assert_int_equal(bw_lpm_lookup6(t, a6), 1128);
	struct bw_ip ip = { .family = 6 };
	memcpy(ip.a, a6, 16);
	uint32_t all[200];
	assert_int_equal(bw_lpm_lookup_all(t, &ip, all, 200), 129);
	assert_int_equal(all[128], 1000);
	ip.a[15] ^= 1; /* differs in the last bit only */
	assert_int_equal(bw_lpm_lookup(t, &ip, NULL), 1127);
	assert_int_equal(bw_lpm_lookup4(t, 0xc0a855aa), 32);
	assert_int_equal(bw_lpm_lookup4(t, 0xc0a855ab), 31);
	assert_int_equal(bw_lpm_lookup4(t, 0x40a855aa), 0);
	bw_lpm_free(t);
	bw_lpm_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),     cmocka_unit_test(test_nested_v4), cmocka_unit_test(test_nested_v6),
		cmocka_unit_test(test_errors),    cmocka_unit_test(test_random_v4), cmocka_unit_test(test_random_v6),
		cmocka_unit_test(test_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
