/* SPDX-License-Identifier: MIT */
/*
 * test_cidrset.c: prefix parsing (forms, lengths, host bits), and sets of
 * IPv4 and IPv6 prefixes: range edges, /0, /32, /128, overlapping and
 * adjacent prefixes, lookups before and after sealing against a brute-force
 * answer, IPv4-mapped IPv6 addresses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/cidrset.h"

static struct bw_ip ip(const char *s)
{
	struct bw_ip a;
	memset(&a, 0, sizeof(a));
	if (strchr(s, ':')) {
		a.family = 6;
		assert_int_equal(inet_pton(AF_INET6, s, a.a), 1);
	} else {
		a.family = 4;
		assert_int_equal(inet_pton(AF_INET, s, a.a), 1);
	}
	return a;
}

static bool in(const struct bw_cidrset *s, const char *addr)
{
	struct bw_ip a = ip(addr);
	return bw_cidrset_contains(s, &a);
}

static int add(struct bw_cidrset *s, const char *text) { return bw_cidrset_add_text(s, text, strlen(text)); }

static int parse(const char *text, struct bw_prefix *p) { return bw_prefix_parse(text, strlen(text), p); }

static void test_parse(void **state)
{
	(void)state;
	struct bw_prefix p;
	char buf[BW_PREFIX_STRLEN];
	assert_int_equal(parse("192.0.2.0/24", &p), BW_OK);
	assert_int_equal(p.addr.family, 4);
	assert_int_equal(p.len, 24);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "192.0.2.0/24");
	assert_int_equal(parse("2001:db8::/32", &p), BW_OK);
	assert_int_equal(p.addr.family, 6);
	assert_int_equal(p.len, 32);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "2001:db8::/32");
	assert_int_equal(parse("198.51.100.7", &p), BW_OK);
	assert_int_equal(p.len, 32);
	assert_int_equal(parse("2001:db8::1", &p), BW_OK);
	assert_int_equal(p.len, 128);
	assert_int_equal(parse("0.0.0.0/0", &p), BW_OK);
	assert_int_equal(p.len, 0);
	assert_int_equal(parse("::/0", &p), BW_OK);
	assert_int_equal(parse("::ffff:192.0.2.1", &p), BW_OK);
	assert_int_equal(p.addr.family, 6);
	assert_int_equal(parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", &p), BW_OK);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	/* The rest of the buffer past n is not read. */
	assert_int_equal(bw_prefix_parse("192.0.2.0/24junk", 12, &p), BW_OK);
	assert_int_equal(p.len, 24);

	static const char *const bad[] = {
		"",
		"/24",
		"192.0.2.0/",
		"192.0.2.0/33",
		"192.0.2.0/024",
		"192.0.2.0/-1",
		"192.0.2.0/+8",
		"192.0.2.0/2a",
		"2001:db8::/129",
		"192.0.2",
		"192.0.2.256",
		"192.0.2.0/24/",
		"1.2.3.4.5",
		" 192.0.2.1",
		"192.0.2.1 ",
		"fe80::1%eth0",
		"example.com",
		"2001:db8:::1",
		"192.0.2.0/1000",
		"0x1.2.3.4",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &p) != BW_EINVAL)
			fail_msg("'%s' parsed", bad[i]);
	}
	assert_int_equal(bw_prefix_parse("192.0.2.0\0/24", 13, &p), BW_EINVAL);
	char longer[100];
	memset(longer, '1', sizeof(longer));
	assert_int_equal(bw_prefix_parse(longer, sizeof(longer), &p), BW_EINVAL);
	assert_int_equal(bw_prefix_parse(NULL, 0, &p), BW_EINVAL);
}

static void test_host_bits(void **state)
{
	(void)state;
	struct bw_prefix p;
	char buf[BW_PREFIX_STRLEN];
	assert_int_equal(parse("192.0.2.1/24", &p), BW_OK);
	assert_true(bw_prefix_host_bits(&p));
	bw_prefix_mask(&p);
	assert_false(bw_prefix_host_bits(&p));
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "192.0.2.0/24");
	assert_int_equal(parse("192.0.2.0/23", &p), BW_OK);
	assert_false(bw_prefix_host_bits(&p)); /* 192.0.2.0-192.0.3.255 */
	assert_int_equal(parse("192.0.3.0/23", &p), BW_OK);
	assert_true(bw_prefix_host_bits(&p)); /* the 23rd bit of 3 is its last: a host bit */
	bw_prefix_mask(&p);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "192.0.2.0/23");
	assert_int_equal(parse("2001:db8::1/64", &p), BW_OK);
	assert_true(bw_prefix_host_bits(&p));
	bw_prefix_mask(&p);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "2001:db8::/64");
	assert_int_equal(parse("2001:db8:1234:5678::/61", &p), BW_OK);
	bw_prefix_mask(&p);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "2001:db8:1234:5678::/61");
	assert_int_equal(parse("2001:db8:1234:567f::/61", &p), BW_OK);
	bw_prefix_mask(&p);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "2001:db8:1234:5678::/61");
	assert_int_equal(parse("255.255.255.255/0", &p), BW_OK);
	bw_prefix_mask(&p);
	assert_string_equal(bw_prefix_str(&p, buf, sizeof(buf)), "0.0.0.0/0");
	assert_int_equal(parse("192.0.2.255/32", &p), BW_OK);
	assert_false(bw_prefix_host_bits(&p));

	struct bw_cidrset *s = bw_cidrset_new();
	assert_int_equal(add(s, "192.0.2.1/24"), BW_EINVAL);
	assert_int_equal(add(s, "2001:db8::1/32"), BW_EINVAL);
	assert_int_equal(bw_cidrset_count(s), 0);
	/* The struct form masks instead. */
	assert_int_equal(parse("192.0.2.1/24", &p), BW_OK);
	assert_int_equal(bw_cidrset_add(s, &p), BW_OK);
	assert_string_equal(bw_prefix_str(bw_cidrset_get(s, 0), buf, sizeof(buf)), "192.0.2.0/24");
	assert_true(in(s, "192.0.2.200"));
	assert_null(bw_cidrset_get(s, 1));
	p.len = 33;
	assert_int_equal(bw_cidrset_add(s, &p), BW_EINVAL);
	p.addr.family = 5;
	p.len = 8;
	assert_int_equal(bw_cidrset_add(s, &p), BW_EINVAL);
	bw_cidrset_free(s);
}

static void test_v4_edges(void **state)
{
	(void)state;
	struct bw_cidrset *s = bw_cidrset_new();
	assert_false(in(s, "192.0.2.1"));
	assert_int_equal(add(s, "192.0.2.0/24"), BW_OK);
	assert_int_equal(add(s, "198.51.100.7"), BW_OK);
	for (int sealed = 0; sealed < 2; sealed++) {
		assert_true(in(s, "192.0.2.0"));
		assert_true(in(s, "192.0.2.255"));
		assert_false(in(s, "192.0.1.255"));
		assert_false(in(s, "192.0.3.0"));
		assert_true(in(s, "198.51.100.7"));
		assert_false(in(s, "198.51.100.6"));
		assert_false(in(s, "198.51.100.8"));
		assert_false(in(s, "0.0.0.0"));
		assert_false(in(s, "255.255.255.255"));
		assert_false(in(s, "::ffff:198.51.100.8"));
		assert_true(in(s, "::ffff:198.51.100.7")); /* IPv4-mapped */
		assert_false(in(s, "::198.51.100.7"));	   /* IPv4-compatible is not mapped */
		assert_false(in(s, "2001:db8::"));
		bw_cidrset_seal(s);
	}
	assert_int_equal(add(s, "255.255.255.255/32"), BW_OK);
	assert_true(in(s, "255.255.255.255"));
	assert_false(in(s, "255.255.255.254"));
	assert_int_equal(add(s, "0.0.0.0/32"), BW_OK);
	assert_true(in(s, "0.0.0.0"));
	assert_false(in(s, "0.0.0.1"));
	bw_cidrset_seal(s);
	assert_true(in(s, "255.255.255.255"));
	assert_true(in(s, "0.0.0.0"));
	struct bw_ip none;
	memset(&none, 0, sizeof(none));
	assert_false(bw_cidrset_contains(s, &none));
	assert_false(bw_cidrset_contains(s, NULL));
	assert_false(bw_cidrset_contains(NULL, &none));
	bw_cidrset_free(s);

	s = bw_cidrset_new();
	assert_int_equal(add(s, "0.0.0.0/0"), BW_OK);
	assert_true(in(s, "0.0.0.0"));
	assert_true(in(s, "255.255.255.255"));
	assert_true(in(s, "::ffff:1.2.3.4"));
	assert_false(in(s, "2001:db8::1"));
	bw_cidrset_free(s);
	bw_cidrset_free(NULL);
}

static void test_v6_edges(void **state)
{
	(void)state;
	struct bw_cidrset *s = bw_cidrset_new();
	assert_int_equal(add(s, "2001:db8::/32"), BW_OK);
	assert_int_equal(add(s, "2001:db8:ffff:ffff::1"), BW_OK); /* inside */
	assert_int_equal(add(s, "fe80::/10"), BW_OK);
	assert_int_equal(add(s, "::1"), BW_OK);
	for (int sealed = 0; sealed < 2; sealed++) {
		assert_true(in(s, "2001:db8::"));
		assert_true(in(s, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
		assert_false(in(s, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
		assert_false(in(s, "2001:db9::"));
		assert_true(in(s, "fe80::"));
		assert_true(in(s, "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
		assert_false(in(s, "fec0::"));
		assert_true(in(s, "::1"));
		assert_false(in(s, "::"));
		assert_false(in(s, "::2"));
		assert_false(in(s, "32.1.13.184")); /* 2001:db8 as IPv4 bytes */
		bw_cidrset_seal(s);
	}
	assert_int_equal(add(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), BW_OK);
	assert_int_equal(add(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128"), BW_OK);
	bw_cidrset_seal(s);
	assert_true(in(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(in(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
	assert_false(in(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd"));
	/* A prefix boundary in the middle of the low 64 bits. */
	assert_int_equal(add(s, "2001:db9:0:0:8000::/65"), BW_OK);
	assert_true(in(s, "2001:db9::8000:0:0:0"));
	assert_true(in(s, "2001:db9::ffff:ffff:ffff:ffff"));
	assert_false(in(s, "2001:db9::7fff:ffff:ffff:ffff"));
	bw_cidrset_free(s);

	s = bw_cidrset_new();
	assert_int_equal(add(s, "::/0"), BW_OK);
	assert_true(in(s, "::"));
	assert_true(in(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(in(s, "192.0.2.1"));
	bw_cidrset_free(s);
}

static void test_overlap_and_adjacent(void **state)
{
	(void)state;
	struct bw_cidrset *s = bw_cidrset_new();
	assert_int_equal(add(s, "10.0.0.0/8"), BW_OK);
	assert_int_equal(add(s, "10.1.0.0/16"), BW_OK); /* inside */
	assert_int_equal(add(s, "10.0.0.0/8"), BW_OK);	/* duplicate */
	assert_int_equal(add(s, "11.0.0.0/8"), BW_OK);	/* adjacent */
	assert_int_equal(add(s, "9.255.255.255"), BW_OK);
	assert_int_equal(add(s, "12.0.0.1"), BW_OK); /* a gap at 12.0.0.0 */
	bw_cidrset_seal(s);
	assert_int_equal(bw_cidrset_count(s), 6); /* listed as added */
	assert_true(in(s, "9.255.255.255"));
	assert_true(in(s, "10.0.0.0"));
	assert_true(in(s, "11.255.255.255"));
	assert_false(in(s, "12.0.0.0"));
	assert_true(in(s, "12.0.0.1"));
	assert_false(in(s, "12.0.0.2"));
	assert_false(in(s, "9.255.255.254"));
	/* Added after sealing: the tail is scanned until the next seal. */
	assert_int_equal(add(s, "12.0.0.0"), BW_OK);
	assert_true(in(s, "12.0.0.0"));
	bw_cidrset_seal(s);
	assert_true(in(s, "12.0.0.0"));
	assert_false(in(s, "12.0.0.2"));
	bw_cidrset_free(s);
}

/* Random prefixes checked against a linear scan, through several automatic re-sorts. */
static void test_random_vs_linear(void **state)
{
	(void)state;
	srand(12345);
	struct bw_cidrset *s = bw_cidrset_new();
	enum { N = 3000 };
	static struct bw_prefix ps[N];
	for (int i = 0; i < N; i++) {
		struct bw_prefix p;
		memset(&p, 0, sizeof(p));
		p.addr.family = (i % 3) ? 4 : 6;
		for (int j = 0; j < (p.addr.family == 4 ? 4 : 16); j++)
			p.addr.a[j] = (uint8_t)rand();
		if (p.addr.family == 6)
			p.addr.a[0] = 0x20; /* keep the v6 ones near each other */
		else
			p.addr.a[0] = (uint8_t)(rand() % 4);
		p.len = (uint8_t)(p.addr.family == 4 ? 8 + rand() % 25 : 8 + rand() % 121);
		bw_prefix_mask(&p);
		ps[i] = p;
		assert_int_equal(bw_cidrset_add(s, &p), BW_OK);
		if (i % 500 == 499 || i < 40) {
			/* Probe addresses near prefix edges. */
			for (int k = 0; k < 200; k++) {
				struct bw_ip a = ps[rand() % (i + 1)].addr;
				int b = (a.family == 4 ? 4 : 16) - 1 - rand() % 3;
				a.a[b] = (uint8_t)(a.a[b] + (rand() % 3) - 1);
				if (rand() % 2)
					a.a[b] ^= 0xff;
				bool want = false;
				for (int j = 0; j <= i && !want; j++)
					want = bw_prefix_contains(&ps[j], &a);
				assert_int_equal(bw_cidrset_contains(s, &a), want);
			}
		}
	}
	bw_cidrset_seal(s);
	for (int k = 0; k < 2000; k++) {
		struct bw_ip a = ps[rand() % N].addr;
		a.a[rand() % 4] ^= (uint8_t)(1u << (rand() % 8));
		bool want = false;
		for (int j = 0; j < N && !want; j++)
			want = bw_prefix_contains(&ps[j], &a);
		assert_int_equal(bw_cidrset_contains(s, &a), want);
	}
	bw_cidrset_free(s);
}

static void test_add_ip(void **state)
{
	(void)state;
	struct bw_cidrset *s = bw_cidrset_new();
	struct bw_ip a = ip("192.0.2.9"), b = ip("2001:db8::9"), none;
	memset(&none, 0, sizeof(none));
	assert_int_equal(bw_cidrset_add_ip(s, &a), BW_OK);
	assert_int_equal(bw_cidrset_add_ip(s, &b), BW_OK);
	assert_int_equal(bw_cidrset_add_ip(s, &none), BW_EINVAL);
	assert_int_equal(bw_cidrset_add_ip(s, NULL), BW_EINVAL);
	assert_true(in(s, "192.0.2.9"));
	assert_false(in(s, "192.0.2.8"));
	assert_true(in(s, "2001:db8::9"));
	assert_int_equal(bw_cidrset_get(s, 1)->len, 128);
	assert_int_equal(bw_cidrset_seal(NULL), BW_EINVAL);
	assert_int_equal(bw_cidrset_count(NULL), 0);
	bw_cidrset_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_v4_edges),
		cmocka_unit_test(test_v6_edges),
		cmocka_unit_test(test_overlap_and_adjacent),
		cmocka_unit_test(test_random_vs_linear),
		cmocka_unit_test(test_add_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
