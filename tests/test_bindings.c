/* SPDX-License-Identifier: MIT */
/* test_bindings.c: the binding tables: TTL at packet time, bounded sets, CNAME chains and loops, rcodes,
 * certificate history, eviction, and two writers + two readers checking what they read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../sensor/bindings.h"

#define S BW_NSEC_PER_SEC
#define N(s) (s), strlen(s)

static struct bw_ip ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct bw_ip ip;
	memset(&ip, 0, sizeof(ip));
	ip.family = 4;
	ip.a[0] = a;
	ip.a[1] = b;
	ip.a[2] = c;
	ip.a[3] = d;
	return ip;
}

static struct bw_ip ip6(uint8_t last)
{
	struct bw_ip ip;
	memset(&ip, 0, sizeof(ip));
	ip.family = 6;
	ip.a[0] = 0x20;
	ip.a[1] = 0x01;
	ip.a[15] = last;
	return ip;
}

static struct bw_bindings *mk(const struct bw_bindings_config *c)
{
	struct bw_bindings_config d;
	if (!c) {
		bw_bindings_config_default(&d);
		for (int i = 0; i < BW_BT_COUNT; i++)
			d.entries[i] = 1024;
		d.seed[0] = 42;
		d.seed[1] = 43;
		c = &d;
	}
	struct bw_bindings *b = bw_bindings_new(c);
	assert_non_null(b);
	return b;
}

static int setup(void **state)
{
	(void)state;
	bw_bindings_thread_register();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bw_bindings_thread_unregister();
	return 0;
}

static void test_config(void **state)
{
	(void)state;
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	c.addrs_per_name = BW_BINDINGS_SET_MAX + 1;
	assert_null(bw_bindings_new(&c));
	bw_bindings_config_default(&c);
	c.cert_history = BW_BINDINGS_CERT_HISTORY + 1;
	assert_null(bw_bindings_new(&c));
	bw_bindings_config_default(&c);
	c.set_bytes = BW_TABLE_VALUE_MAX;
	assert_null(bw_bindings_new(&c));
	/* NULL: all defaults. */
	struct bw_bindings *b = bw_bindings_new(NULL);
	assert_non_null(b);
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].capacity, 262144);
	assert_int_equal(st.t[BW_BT_SERVER_CERT].capacity, 65536);
	for (int i = 0; i < BW_BT_COUNT; i++)
		assert_string_equal(st.t[i].name, bw_bindings_table_name((enum bw_bindings_table)i));
	assert_string_equal(bw_bindings_table_name(BW_BT_COUNT), "?");
	bw_bindings_free(b);
	bw_bindings_free(NULL);
}

static void test_name_addr_ttl(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_ip a1 = ip4(192, 0, 2, 1), a2 = ip4(192, 0, 2, 2);
	struct bw_name_addr out[16];

	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 100 * S, out, 16), 0);
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &a1, 300, 100 * S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &a1, 300, 150 * S), BW_BIND_SAME);
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &a2, 60, 160 * S), BW_BIND_NEW_VALUE);

	/* At 200 s both are live; a2 (seen last) comes first. */
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 200 * S, out, 16), 2);
	assert_memory_equal(&out[0].addr, &a2, sizeof(a2));
	assert_memory_equal(&out[1].addr, &a1, sizeof(a1));
	assert_int_equal(out[1].first_seen, 100 * S);
	assert_int_equal(out[1].last_seen, 150 * S);
	assert_int_equal(out[1].ttl, 300);
	assert_int_equal(out[1].expires, 450 * S);
	assert_int_equal(out[0].expires, 220 * S);
	/* cap limits the copy. */
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 200 * S, out, 1), 1);
	/* At 220 s a2's TTL has run out (expires is exclusive); at 450 s a1's too. */
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 220 * S - 1, out, 16), 2);
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 220 * S, out, 16), 1);
	assert_memory_equal(&out[0].addr, &a1, sizeof(a1));
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 450 * S, out, 16), 0);
	/* ... but they were seen. */
	assert_int_equal(bw_lookup_name_addrs_all(b, N("www.example.com"), out, 16), 2);

	/* A newer answer with a shorter TTL wins; a late (older) packet changes nothing but first_seen. */
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &a1, 10, 500 * S), BW_BIND_SAME);
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &a1, 9999, 90 * S), BW_BIND_SAME);
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 505 * S, out, 16), 1);
	assert_int_equal(out[0].ttl, 10);
	assert_int_equal(out[0].first_seen, 90 * S);
	assert_int_equal(out[0].last_seen, 500 * S);
	assert_int_equal(out[0].expires, 510 * S);
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), 510 * S, out, 16), 0);

	/* TTL 0: seen, never live. */
	assert_int_equal(bw_bind_name_addr(b, N("zero.example"), &a1, 0, 10 * S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, N("zero.example"), 10 * S, out, 16), 0);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("zero.example"), out, 16), 1);
	/* Huge TTLs saturate instead of wrapping. */
	assert_int_equal(bw_bind_name_addr(b, N("max.example"), &a1, UINT32_MAX, UINT64_MAX - 5), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, N("max.example"), UINT64_MAX - 1, out, 16), 1);
	assert_int_equal(out[0].expires, UINT64_MAX);
	bw_bindings_free(b);
}

static void test_name_keys(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_ip a = ip4(10, 0, 0, 1), v6 = ip6(1);
	struct bw_name_addr out[4];
	assert_int_equal(bw_bind_name_addr(b, N("WWW.Example.COM."), &a, 60, S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, N("www.example.com"), S, out, 4), 1);
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &v6, 60, S), BW_BIND_NEW_VALUE);
	assert_int_equal(bw_lookup_name_addrs(b, N("www.EXAMPLE.com."), S, out, 4), 2);
	assert_memory_equal(&out[0].addr, &v6, sizeof(v6));
	/* An escaped trailing dot is part of the name; the root stays the root. */
	assert_int_equal(bw_bind_name_addr(b, N("a\\."), &a, 60, S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, N("a\\"), S, out, 4), 0);
	assert_int_equal(bw_lookup_name_addrs(b, N("a\\."), S, out, 4), 1);
	assert_int_equal(bw_bind_name_addr(b, N("."), &a, 60, S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, N("."), S, out, 4), 1);
	/* Names are bytes: NUL and high bytes are fine. */
	assert_int_equal(bw_bind_name_addr(b, "x\0\xff", 3, &a, 60, S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, "x\0\xff", 3, S, out, 4), 1);
	assert_int_equal(bw_lookup_name_addrs(b, "x\0\xfe", 3, S, out, 4), 0);
	/* IPv4's unused bytes do not matter. */
	struct bw_ip dirty = a;
	dirty.a[10] = 0x55;
	assert_int_equal(bw_bind_name_addr(b, N("www.example.com"), &dirty, 60, 2 * S), BW_BIND_SAME);
	/* Bad arguments. */
	struct bw_ip none = { 0 };
	char big[BW_BINDINGS_NAME_MAX + 1];
	memset(big, 'a', sizeof(big));
	assert_int_equal(bw_bind_name_addr(b, N("x"), &none, 60, S), BW_EINVAL);
	assert_int_equal(bw_bind_name_addr(b, N("x"), NULL, 60, S), BW_EINVAL);
	assert_int_equal(bw_bind_name_addr(b, "", 0, &a, 60, S), BW_EINVAL);
	assert_int_equal(bw_bind_name_addr(b, big, sizeof(big), &a, 60, S), BW_EINVAL);
	assert_int_equal(bw_bind_name_addr(b, big, sizeof(big) - 1, &a, 60, S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs(b, big, sizeof(big) - 1, S, out, 4), 1);
	assert_int_equal(bw_lookup_name_addrs(b, big, sizeof(big), S, out, 4), BW_EINVAL);
	assert_int_equal(bw_lookup_name_addrs(b, NULL, 3, S, out, 4), BW_EINVAL);
	bw_bindings_free(b);
}

static void test_sets_and_reverse(void **state)
{
	(void)state;
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 256;
	c.addrs_per_name = 4;
	c.names_per_addr = 3;
	struct bw_bindings *b = mk(&c);
	struct bw_name_addr out[16];
	for (uint8_t i = 1; i <= 6; i++) {
		struct bw_ip a = ip4(10, 0, 0, i);
		assert_true(bw_bind_name_addr(b, N("lb.example"), &a, 600, i * S) >= 0);
	}
	/* Only the 4 most recent remain: .6 .5 .4 .3; two were dropped. */
	assert_int_equal(bw_lookup_name_addrs(b, N("lb.example"), 10 * S, out, 16), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i].addr.a[3], 6 - i);
	/* Refreshing .3 makes it the newest; then .7 drops .4, the oldest. */
	struct bw_ip a3 = ip4(10, 0, 0, 3), a7 = ip4(10, 0, 0, 7);
	assert_int_equal(bw_bind_name_addr(b, N("lb.example"), &a3, 600, 20 * S), BW_BIND_SAME);
	assert_int_equal(bw_bind_name_addr(b, N("lb.example"), &a7, 600, 21 * S), BW_BIND_NEW_VALUE);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("lb.example"), out, 16), 4);
	assert_int_equal(out[0].addr.a[3], 7);
	assert_int_equal(out[1].addr.a[3], 3);
	assert_int_equal(out[2].addr.a[3], 6);
	assert_int_equal(out[3].addr.a[3], 5);

	/* Reverse: the address knows its names, capped at 3. */
	const char *names[] = { "a.example", "b.example", "c.example", "d.example" };
	struct bw_ip shared = ip6(9);
	for (int i = 0; i < 4; i++)
		assert_true(bw_bind_name_addr(b, names[i], strlen(names[i]), &shared, 30, (bw_time_t)(100 + i) * S) >= 0);
	struct bw_bound_name *bn = calloc(8, sizeof(*bn));
	assert_int_equal(bw_lookup_addr_names(b, &shared, bn, 8), 3);
	assert_string_equal(bn[0].name, "d.example");
	assert_int_equal(bn[0].len, 9);
	assert_int_equal(bn[0].ttl, 30);
	assert_int_equal(bn[0].expires, 133 * S);
	assert_string_equal(bn[2].name, "b.example");
	struct bw_ip nobody = ip4(203, 0, 113, 1);
	assert_int_equal(bw_lookup_addr_names(b, &nobody, bn, 8), 0);
	assert_int_equal(bw_lookup_addr_names(b, &a7, bn, 8), 1);
	assert_string_equal(bn[0].name, "lb.example");
	free(bn);

	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	assert_int_equal(st.set_drops[BW_BT_NAME_ADDR], 3);
	assert_int_equal(st.set_drops[BW_BT_ADDR_NAMES], 1);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].entries, 5);
	bw_bindings_free(b);
}

static void test_set_bytes(void **state)
{
	(void)state;
	/* Long hostile names: the byte budget bounds the set before the count does. */
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 64;
	c.names_per_addr = 16;
	c.set_bytes = 4096;
	struct bw_bindings *b = mk(&c);
	struct bw_ip a = ip4(10, 9, 9, 9);
	char name[BW_BINDINGS_NAME_MAX];
	for (int i = 0; i < 10; i++) {
		memset(name, 'a' + i, sizeof(name));
		assert_true(bw_bind_name_addr(b, name, sizeof(name), &a, 60, (bw_time_t)i * S) >= 0);
	}
	struct bw_bound_name *bn = calloc(16, sizeof(*bn));
	int n = bw_lookup_addr_names(b, &a, bn, 16);
	assert_int_equal(n, 3); /* 3 x (24 + 1024) fit in 4096, 4 do not */
	assert_int_equal(bn[0].name[0], 'a' + 9);
	assert_int_equal(bn[0].len, BW_BINDINGS_NAME_MAX);
	free(bn);
	bw_bindings_free(b);
}

static void test_cname(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_name_cname c;
	struct bw_cname_chain *ch = calloc(1, sizeof(*ch));
	assert_int_equal(bw_lookup_name_cname(b, N("www.example.com"), &c), BW_ENOENT);
	assert_int_equal(bw_bind_name_cname(b, N("www.example.com"), N("Edge.CDN.example."), 300, 10 * S),
			 BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_cname(b, N("www.example.com"), N("edge.cdn.example"), 300, 20 * S),
			 BW_BIND_SAME);
	assert_int_equal(bw_lookup_name_cname(b, N("WWW.example.com"), &c), BW_OK);
	assert_string_equal(c.target, "edge.cdn.example");
	assert_int_equal(c.target_len, 16);
	assert_int_equal(c.first_seen, 10 * S);
	assert_int_equal(c.last_seen, 20 * S);
	assert_int_equal(c.expires, 320 * S);
	/* Chain of three hops. */
	assert_true(bw_bind_name_cname(b, N("edge.cdn.example"), N("pop1.cdn.example"), 60, 20 * S) >= 0);
	assert_true(bw_bind_name_cname(b, N("pop1.cdn.example"), N("host.cloud.example"), 5, 20 * S) >= 0);
	assert_int_equal(bw_follow_cname_chain(b, N("www.example.com"), 21 * S, false, ch), 3);
	assert_false(ch->loop);
	assert_false(ch->truncated);
	assert_string_equal(ch->hop[0].target, "edge.cdn.example");
	assert_string_equal(ch->hop[2].target, "host.cloud.example");
	/* live_only stops at the hop whose TTL ran out (the third: 5 s). */
	assert_int_equal(bw_follow_cname_chain(b, N("www.example.com"), 30 * S, true, ch), 2);
	assert_int_equal(bw_follow_cname_chain(b, N("host.cloud.example"), 30 * S, false, ch), 0);
	/* The target changes: NEW_VALUE, the old target is gone, counted. */
	assert_int_equal(bw_bind_name_cname(b, N("pop1.cdn.example"), N("other.cloud.example"), 5, 40 * S),
			 BW_BIND_NEW_VALUE);
	assert_int_equal(bw_lookup_name_cname(b, N("pop1.cdn.example"), &c), BW_OK);
	assert_string_equal(c.target, "other.cloud.example");
	assert_int_equal(c.first_seen, 40 * S);
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	assert_int_equal(st.set_drops[BW_BT_NAME_CNAME], 1);

	/* a -> b -> a: two hops, loop flagged, bounded. */
	assert_true(bw_bind_name_cname(b, N("a.loop"), N("b.loop"), 60, S) >= 0);
	assert_true(bw_bind_name_cname(b, N("b.loop"), N("a.loop"), 60, S) >= 0);
	assert_int_equal(bw_follow_cname_chain(b, N("a.loop"), S, false, ch), 2);
	assert_true(ch->loop);
	assert_string_equal(ch->hop[1].target, "a.loop");
	/* A loop not through the start: x -> a -> b -> a. */
	assert_true(bw_bind_name_cname(b, N("x.loop"), N("a.loop"), 60, S) >= 0);
	assert_int_equal(bw_follow_cname_chain(b, N("x.loop"), S, false, ch), 3);
	assert_true(ch->loop);
	/* Self loop. */
	assert_true(bw_bind_name_cname(b, N("self.loop"), N("SELF.loop."), 60, S) >= 0);
	assert_int_equal(bw_follow_cname_chain(b, N("self.loop"), S, false, ch), 1);
	assert_true(ch->loop);
	/* A chain longer than the hop limit is cut and says so. */
	char n1[32], n2[32];
	for (int i = 0; i < 30; i++) {
		snprintf(n1, sizeof(n1), "c%d.long", i);
		snprintf(n2, sizeof(n2), "c%d.long", i + 1);
		assert_true(bw_bind_name_cname(b, N(n1), N(n2), 60, S) >= 0);
	}
	assert_int_equal(bw_follow_cname_chain(b, N("c0.long"), S, false, ch), BW_BINDINGS_CNAME_HOPS);
	assert_true(ch->truncated);
	assert_false(ch->loop);
	snprintf(n1, sizeof(n1), "c%d.long", 30 - BW_BINDINGS_CNAME_HOPS);
	assert_int_equal(bw_follow_cname_chain(b, N(n1), S, false, ch), BW_BINDINGS_CNAME_HOPS);
	assert_false(ch->truncated); /* exactly 16 hops, the end has no CNAME */
	assert_int_equal(bw_bind_name_cname(b, N("x"), "", 0, 60, S), BW_EINVAL);
	free(ch);
	bw_bindings_free(b);
}

static void test_rcode(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_name_rcode r;
	assert_int_equal(bw_lookup_name_rcode(b, N("gone.example"), &r), BW_ENOENT);
	assert_int_equal(bw_bind_name_rcode(b, N("gone.example"), 0, 10 * S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_rcode(b, N("gone.example"), &r), BW_OK);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.nxdomain_last, 0);
	assert_int_equal(r.nxdomain_count, 0);
	assert_int_equal(bw_bind_name_rcode(b, N("gone.example"), BW_RCODE_NXDOMAIN, 20 * S), BW_BIND_NEW_VALUE);
	assert_int_equal(bw_bind_name_rcode(b, N("gone.example"), BW_RCODE_NXDOMAIN, 30 * S), BW_BIND_SAME);
	assert_int_equal(bw_lookup_name_rcode(b, N("Gone.Example."), &r), BW_OK);
	assert_int_equal(r.rcode, BW_RCODE_NXDOMAIN);
	assert_int_equal(r.nxdomain_first, 20 * S);
	assert_int_equal(r.nxdomain_last, 30 * S);
	assert_int_equal(r.nxdomain_count, 2);
	assert_int_equal(r.first_seen, 10 * S);
	assert_int_equal(r.last_seen, 30 * S);
	/* It comes back: last rcode NOERROR, the NXDOMAIN time is kept. */
	assert_int_equal(bw_bind_name_rcode(b, N("gone.example"), 0, 40 * S), BW_BIND_NEW_VALUE);
	/* A late SERVFAIL from before does not become the latest. */
	assert_int_equal(bw_bind_name_rcode(b, N("gone.example"), 2, 35 * S), BW_BIND_SAME);
	assert_int_equal(bw_lookup_name_rcode(b, N("gone.example"), &r), BW_OK);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.last_seen, 40 * S);
	assert_int_equal(r.nxdomain_last, 30 * S);
	/* Extended rcodes (EDNS) fit. */
	assert_int_equal(bw_bind_name_rcode(b, N("badvers.example"), 16, S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_rcode(b, N("badvers.example"), &r), BW_OK);
	assert_int_equal(r.rcode, 16);
	bw_bindings_free(b);
}

static void sha(uint8_t out[32], uint8_t tag)
{
	memset(out, tag, 32);
	out[31] = (uint8_t)~tag;
}

static void test_certs(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_ip srv = ip4(198, 51, 100, 7), srv2 = ip6(7);
	uint8_t A[32], B[32], C[32], D[32], E[32];
	sha(A, 0xa);
	sha(B, 0xb);
	sha(C, 0xc);
	sha(D, 0xd);
	sha(E, 0xe);
	struct bw_cert_seen prev;
	struct bw_server_cert sc;

	assert_int_equal(bw_lookup_server_cert(b, &srv, 443, N("api.example"), &sc), BW_ENOENT);
	assert_int_equal(bw_bind_server_cert(b, &srv, 443, N("api.example"), A, 10 * S, &prev), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_server_cert(b, &srv, 443, N("API.example"), A, 11 * S, &prev), BW_BIND_SAME);
	memset(&prev, 0, sizeof(prev));
	assert_int_equal(bw_bind_server_cert(b, &srv, 443, N("api.example"), B, 20 * S, &prev), BW_BIND_NEW_VALUE);
	assert_memory_equal(prev.sha256, A, 32);
	assert_int_equal(prev.count, 2);
	assert_int_equal(prev.first_seen, 10 * S);
	assert_int_equal(prev.last_seen, 11 * S);
	assert_int_equal(bw_lookup_server_cert(b, &srv, 443, N("api.example"), &sc), BW_OK);
	assert_int_equal(sc.n, 2);
	assert_memory_equal(sc.h[0].sha256, B, 32);
	assert_memory_equal(sc.h[1].sha256, A, 32);
	/* A comes back (a load balancer with two certificates): changed, and it is in the history. */
	assert_int_equal(bw_bind_server_cert(b, &srv, 443, N("api.example"), A, 30 * S, &prev), BW_BIND_NEW_VALUE);
	assert_memory_equal(prev.sha256, B, 32);
	assert_int_equal(bw_lookup_server_cert(b, &srv, 443, N("api.example"), &sc), BW_OK);
	assert_int_equal(sc.n, 2);
	assert_memory_equal(sc.h[0].sha256, A, 32);
	assert_int_equal(sc.h[0].count, 3);
	assert_int_equal(sc.h[0].first_seen, 10 * S);
	/* History is bounded at 4 distinct certificates. */
	assert_true(bw_bind_server_cert(b, &srv, 443, N("api.example"), C, 40 * S, NULL) == BW_BIND_NEW_VALUE);
	assert_true(bw_bind_server_cert(b, &srv, 443, N("api.example"), D, 50 * S, NULL) == BW_BIND_NEW_VALUE);
	assert_true(bw_bind_server_cert(b, &srv, 443, N("api.example"), E, 60 * S, NULL) == BW_BIND_NEW_VALUE);
	assert_int_equal(bw_lookup_server_cert(b, &srv, 443, N("api.example"), &sc), BW_OK);
	assert_int_equal(sc.n, 4);
	assert_memory_equal(sc.h[0].sha256, E, 32);
	assert_memory_equal(sc.h[3].sha256, A, 32); /* B was the oldest */
	/* Port, address and SNI are all part of the key; no SNI is its own key. */
	assert_int_equal(bw_lookup_server_cert(b, &srv, 8443, N("api.example"), &sc), BW_ENOENT);
	assert_int_equal(bw_lookup_server_cert(b, &srv2, 443, N("api.example"), &sc), BW_ENOENT);
	assert_int_equal(bw_lookup_server_cert(b, &srv, 443, NULL, 0, &sc), BW_ENOENT);
	assert_int_equal(bw_bind_server_cert(b, &srv, 443, NULL, 0, A, 70 * S, NULL), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_server_cert(b, &srv2, 443, N("www.example"), A, 80 * S, NULL), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_server_cert(b, &srv, 443, NULL, 0, &sc), BW_OK);
	assert_int_equal(sc.n, 1);

	/* Certificate -> names (SNIs only) and servers. */
	struct bw_bound_name *bn = calloc(8, sizeof(*bn));
	assert_int_equal(bw_lookup_cert_names(b, A, bn, 8), 2);
	assert_string_equal(bn[0].name, "www.example");
	assert_string_equal(bn[1].name, "api.example");
	assert_int_equal(bn[1].count, 3);
	assert_int_equal(bn[1].first_seen, 10 * S);
	assert_int_equal(bn[1].last_seen, 30 * S);
	struct bw_cert_server cs[8];
	assert_int_equal(bw_lookup_cert_servers(b, A, cs, 8), 2);
	assert_memory_equal(&cs[0].addr, &srv2, sizeof(srv2));
	assert_int_equal(cs[0].port, 443);
	assert_memory_equal(&cs[1].addr, &srv, sizeof(srv));
	assert_int_equal(cs[1].count, 4);
	assert_int_equal(bw_lookup_cert_servers(b, B, cs, 8), 1);
	uint8_t Z[32];
	sha(Z, 0x77);
	assert_int_equal(bw_lookup_cert_names(b, Z, bn, 8), 0);
	assert_int_equal(bw_lookup_cert_servers(b, Z, cs, 8), 0);
	free(bn);
	struct bw_ip bad = { .family = 5 };
	assert_int_equal(bw_bind_server_cert(b, &bad, 443, NULL, 0, A, S, NULL), BW_EINVAL);
	assert_int_equal(bw_bind_server_cert(b, &srv, 443, NULL, 0, NULL, S, NULL), BW_EINVAL);
	bw_bindings_free(b);
}

static void test_budget(void **state)
{
	(void)state;
	/* 4 MiB over the seven tables: a flood of long unique names stays inside it. */
	struct bw_bindings_config c;
	bw_bindings_config_budget(&c, 4u << 20);
	assert_int_equal(c.entries[BW_BT_NAME_ADDR], (4u << 20) / 15 * 4 / BW_BINDINGS_BUDGET_PER_ENTRY);
	assert_int_equal(c.entries[BW_BT_CERT_NAMES], (4u << 20) / 15 / BW_BINDINGS_BUDGET_PER_ENTRY);
	assert_true(c.max_bytes[BW_BT_NAME_RCODE] > 0 && c.max_bytes[BW_BT_NAME_RCODE] < (4u << 20) / 15 * 2);
	c.seed[0] = 7;
	c.seed[1] = 8;
	struct bw_bindings *b = mk(&c);
	struct bw_ip a = ip4(192, 0, 2, 1);
	char name[300];
	memset(name, 'x', sizeof(name));
	for (int i = 0; i < 60000; i++) {
		int n = snprintf(name, sizeof(name), "%d.", i);
		name[n] = 'x';
		assert_true(bw_bind_name_rcode(b, name, 250, BW_RCODE_NXDOMAIN, (bw_time_t)(i + 1) * S) >= 0);
		assert_true(bw_bind_name_addr(b, name, 250, &a, 60, (bw_time_t)(i + 1) * S) >= 0);
	}
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	uint64_t total = 0;
	for (int i = 0; i < BW_BT_COUNT; i++)
		total += st.t[i].bytes;
	assert_true(total <= (4u << 20) + (64u << 10));
	assert_true(st.t[BW_BT_NAME_RCODE].evictions > 50000);
	assert_true(st.t[BW_BT_NAME_ADDR].evictions > 50000);
	/* Byte-bound: fewer entries than the capacity are held. */
	assert_true(st.t[BW_BT_NAME_RCODE].entries < c.entries[BW_BT_NAME_RCODE]);
	/* The latest name is there. */
	struct bw_name_rcode rc;
	assert_int_equal(bw_lookup_name_rcode(b, name, 250, &rc), BW_OK);
	assert_int_equal(rc.rcode, BW_RCODE_NXDOMAIN);
	bw_bindings_free(b);
}

static void test_eviction(void **state)
{
	(void)state;
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 8;
	struct bw_bindings *b = mk(&c);
	struct bw_ip a = ip4(10, 1, 1, 1);
	struct bw_name_addr out[4];
	char name[32];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		assert_int_equal(bw_bind_name_addr(b, N(name), &a, 60, (bw_time_t)(i + 1) * S), BW_BIND_NEW_KEY);
	}
	/* n0 is seen again: n1 and n2 are now the stalest and go first. */
	assert_int_equal(bw_bind_name_addr(b, N("n0.example"), &a, 60, 20 * S), BW_BIND_SAME);
	assert_int_equal(bw_bind_name_addr(b, N("new1.example"), &a, 60, 21 * S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_addr(b, N("new2.example"), &a, 60, 22 * S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("n1.example"), out, 4), 0);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("n2.example"), out, 4), 0);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("n0.example"), out, 4), 1);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("n3.example"), out, 4), 1);
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].entries, 8);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].evictions, 2);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].inserts, 10);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].updates, 1);
	assert_true(st.t[BW_BT_NAME_ADDR].bytes > 0);
	/* The reverse table holds one address: one entry, 8 names of which the set keeps 8. */
	assert_int_equal(st.t[BW_BT_ADDR_NAMES].entries, 1);
	bw_bindings_free(b);
}

/*
 * Two writers, two readers, ~1 s, tables small enough to evict all the time.
 * Writers bind name i to addresses 10.<i>.<ver hi>.<ver lo> with TTL = ver,
 * and rcode = i % 6; readers check every address they get belongs to the
 * name, carries its own version as TTL (a torn read would mix them), that
 * expires = last_seen + ttl, first <= last, and sets stay within bounds.
 */
#define HK 4000

struct hammer {
	struct bw_bindings *b;
	int id;
	int *stop;
	uint64_t ops, hits, bad;
	uint64_t progress; /* ops, published for the main thread */
};

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *writer(void *arg)
{
	struct hammer *h = arg;
	bw_bindings_thread_register();
	uint64_t x = 77 + (uint64_t)h->id;
	char name[32];
	while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED)) {
		uint64_t r = xs(&x);
		uint32_t i = (uint32_t)(r % HK), ver = (uint32_t)((r >> 20) % 60000) + 1;
		int n = snprintf(name, sizeof(name), "h%u.example", i);
		struct bw_ip a = ip4(10, (uint8_t)(i % 251), (uint8_t)(ver >> 8), (uint8_t)ver);
		a.a[1] = (uint8_t)(i & 0xff);
		a.a[0] = (uint8_t)(10 + (i >> 8));
		bw_time_t now = (bw_time_t)(h->ops + 1) * BW_NSEC_PER_MSEC;
		if (bw_bind_name_addr(h->b, name, (size_t)n, &a, ver, now) < 0)
			h->bad++;
		if (bw_bind_name_rcode(h->b, name, (size_t)n, (uint16_t)(i % 6), now) < 0)
			h->bad++;
		uint8_t s[32];
		memset(s, (int)(i & 0xff), 32);
		s[0] = (uint8_t)(i >> 8);
		if (bw_bind_server_cert(h->b, &a, 443, name, (size_t)n, s, now, NULL) < 0)
			h->bad++;
		h->ops++;
		if ((h->ops & 31) == 0) {
			__atomic_store_n(&h->progress, h->ops, __ATOMIC_RELAXED);
			bw_bindings_quiescent();
		}
	}
	bw_bindings_thread_unregister();
	return NULL;
}

static void *reader(void *arg)
{
	struct hammer *h = arg;
	bw_bindings_thread_register();
	uint64_t x = 991 + (uint64_t)h->id;
	char name[32];
	struct bw_name_addr out[BW_BINDINGS_SET_MAX];
	while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED)) {
		uint32_t i = (uint32_t)(xs(&x) % HK);
		int n = snprintf(name, sizeof(name), "h%u.example", i);
		int k = bw_lookup_name_addrs_all(h->b, name, (size_t)n, out, BW_BINDINGS_SET_MAX);
		if (k < 0 || k > 4)
			h->bad++;
		for (int j = 0; j < k; j++) {
			const struct bw_name_addr *a = &out[j];
			uint32_t ver = ((uint32_t)a->addr.a[2] << 8) | a->addr.a[3];
			if (a->addr.family != 4 || a->addr.a[0] != (uint8_t)(10 + (i >> 8)) ||
			    a->addr.a[1] != (uint8_t)(i & 0xff) || a->ttl != ver || a->first_seen > a->last_seen ||
			    a->expires != a->last_seen + (bw_time_t)ver * BW_NSEC_PER_SEC)
				h->bad++;
		}
		h->hits += k > 0;
		struct bw_name_rcode rc;
		int r = bw_lookup_name_rcode(h->b, name, (size_t)n, &rc);
		if (r == BW_OK && (rc.rcode != i % 6 || rc.first_seen > rc.last_seen))
			h->bad++;
		else if (r != BW_OK && r != BW_ENOENT)
			h->bad++;
		h->ops++;
		if ((h->ops & 31) == 0) {
			__atomic_store_n(&h->progress, h->ops, __ATOMIC_RELAXED);
			bw_bindings_quiescent();
		}
	}
	bw_bindings_thread_unregister();
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every byte value, in the 8-byte steps and in the overlapping tail: only A-Z fold. */
static void test_name_fold_bytes(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_name_addr out[4];
	for (int c = 1; c < 256; c++) {
		char name[16] = "ab?defghijklm?";
		name[2] = name[13] = (char)c;
		bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		char ref[16];
		for (int i = 0; i < 14; i++) {
			unsigned char ch = (unsigned char)name[i];
			ref[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
		}
		struct bw_ip a = ip4(10, 0, 0, (uint8_t)c);
		assert_true(bw_bind_name_addr(b, ref, 14, &a, 60, 1) >= 0);
		/* "A" and "a" share a key: the set has c's address among at most two. */
		int n = bw_lookup_name_addrs_all(b, name, 14, out, 4);
		bool has = false;
		for (int i = 0; i < n; i++)
			has |= out[i].addr.a[3] == c;
		assert_true(n >= 1 && n <= 2 && has);
		/* The other case of the byte: the same key for letters only. */
		char flip[16];
		memcpy(flip, name, 14);
		flip[2] = flip[13] = (char)(c ^ 0x20);
		n = bw_lookup_name_addrs_all(b, flip, 14, out, 4);
		has = false;
		for (int i = 0; i < n; i++)
			has |= out[i].addr.a[3] == c;
		assert_true(has == letter);
	}
	/* Short names (under 8 bytes) fold byte by byte. */
	struct bw_ip a = ip4(10, 1, 1, 1);
	assert_true(bw_bind_name_addr(b, N("aZ@[`{"), &a, 60, 1) >= 0);
	struct bw_name_addr o[2];
	assert_int_equal(bw_lookup_name_addrs_all(b, N("Az@[`{"), o, 2), 1);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("az`{@["), o, 2), 0);
	bw_bindings_free(b);
}

static void test_expiry(void **state)
{
	(void)state;
	struct bw_bindings *b = mk(NULL);
	struct bw_bindings_stats st;
	struct bw_name_addr out[4];
	struct bw_bound_name bn[4];
	struct bw_cname_chain ch;
	struct bw_name_rcode rc;
	const bw_time_t t0 = 1000 * S, grace = (bw_time_t)BW_BINDINGS_GRACE * S;
	struct bw_ip a1 = ip4(192, 0, 2, 1), a2 = ip4(192, 0, 2, 2);

	assert_int_equal(bw_bind_name_addr(b, N("a.example"), &a1, 60, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_cname(b, N("x.example"), N("a.example"), 60, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_rcode(b, N("a.example"), 0, t0), BW_BIND_NEW_KEY);
	/* Past the TTL, within the grace: still there for the "seen at all" questions. */
	bw_time_t late = t0 + 60 * S + grace - S;
	assert_int_equal(bw_lookup_name_addrs(b, N("a.example"), late, out, 4), 0);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("a.example"), out, 4), 1);
	assert_int_equal(bw_follow_cname_chain(b, N("x.example"), late, false, &ch), 1);
	/* name_rcode has no TTL: it dies the grace after its answer, before the others. */
	assert_int_equal(bw_bindings_sweep(b, late, 1u << 20), 1);
	assert_int_equal(bw_lookup_name_rcode(b, N("a.example"), &rc), BW_ENOENT);
	/* Past TTL + grace: the chain stops at once; a sweep removes the rest. */
	bw_time_t dead = t0 + 60 * S + grace + 2 * S;
	assert_int_equal(bw_follow_cname_chain(b, N("x.example"), dead, false, &ch), 0);
	assert_int_equal(bw_lookup_name_cname(b, N("x.example"), &ch.hop[0]), BW_OK); /* not swept yet */
	assert_int_equal(bw_bindings_sweep(b, dead, 1u << 20), 3);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("a.example"), out, 4), 0);
	assert_int_equal(bw_lookup_addr_names(b, &a1, bn, 4), 0);
	assert_int_equal(bw_lookup_name_cname(b, N("x.example"), &ch.hop[0]), BW_ENOENT);
	assert_int_equal(bw_lookup_name_rcode(b, N("a.example"), &rc), BW_ENOENT);
	bw_bindings_stats(b, &st);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].expired, 1);
	assert_int_equal(st.t[BW_BT_ADDR_NAMES].expired, 1);
	assert_int_equal(st.t[BW_BT_NAME_CNAME].expired, 1);
	assert_int_equal(st.t[BW_BT_NAME_RCODE].expired, 1);

	/* A dead member goes when its set is rewritten; the entry lives as long as its last member. */
	struct bw_ip a3 = ip4(192, 0, 2, 3);
	assert_int_equal(bw_bind_name_addr(b, N("m.example"), &a1, 10, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_addr(b, N("m.example"), &a3, 100000, t0), BW_BIND_NEW_VALUE);
	assert_int_equal(bw_bind_name_addr(b, N("m.example"), &a2, 100000, t0 + 10 * S + grace + S), BW_BIND_NEW_VALUE);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("m.example"), out, 4), 2);
	assert_int_equal(out[0].addr.a[3], 2);
	assert_int_equal(out[1].addr.a[3], 3);
	bw_bindings_stats(b, &st);
	assert_int_equal(st.member_expired[BW_BT_NAME_ADDR], 1);
	assert_int_equal(bw_bindings_sweep(b, t0 + 50000 * S, 1u << 20), 1); /* a1's addr_names entry only */
	assert_int_equal(bw_lookup_name_addrs_all(b, N("m.example"), out, 4), 2);
	/* Alone, a set whose only member died is a new key. */
	assert_int_equal(bw_bind_name_addr(b, N("s.example"), &a1, 10, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_addr(b, N("s.example"), &a2, 10, t0 + 10 * S + grace + S), BW_BIND_NEW_KEY);

	/* A dead entry is new to its next bind: first_seen starts again. */
	assert_int_equal(bw_bind_name_addr(b, N("r.example"), &a1, 60, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_addr(b, N("r.example"), &a1, 60, t0 + 30 * S), BW_BIND_SAME);
	assert_int_equal(bw_bind_name_addr(b, N("r.example"), &a1, 60, dead + 100 * S), BW_BIND_NEW_KEY);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("r.example"), out, 4), 1);
	assert_true(out[0].first_seen == dead + 100 * S);

	/* Certificates keep their history whatever the time. */
	uint8_t c1[32] = { 1 };
	assert_int_equal(bw_bind_server_cert(b, &a1, 443, N("a.example"), c1, t0, NULL), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bindings_sweep(b, UINT64_MAX / 2, 1u << 20) > 0, true);
	struct bw_server_cert sc;
	assert_int_equal(bw_lookup_server_cert(b, &a1, 443, N("a.example"), &sc), BW_OK);
	bw_bindings_free(b);

	/* no_expiry: DNS bindings stay until evicted. */
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 1024;
	c.no_expiry = true;
	b = mk(&c);
	assert_int_equal(bw_bind_name_addr(b, N("a.example"), &a1, 60, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bind_name_rcode(b, N("a.example"), 0, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bindings_sweep(b, UINT64_MAX / 2, 1u << 20), 0);
	assert_int_equal(bw_lookup_name_addrs_all(b, N("a.example"), out, 4), 1);
	assert_int_equal(bw_lookup_name_rcode(b, N("a.example"), &rc), BW_OK);
	bw_bindings_free(b);

	/* A shorter grace. */
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 1024;
	c.expiry_grace = 5;
	b = mk(&c);
	assert_int_equal(bw_bind_name_addr(b, N("a.example"), &a1, 60, t0), BW_BIND_NEW_KEY);
	assert_int_equal(bw_bindings_sweep(b, t0 + 64 * S, 1u << 20), 0);
	assert_int_equal(bw_bindings_sweep(b, t0 + 67 * S, 1u << 20), 2);
	bw_bindings_free(b);
}

/* Binds alone keep a table at about rate x (TTL + grace) entries: no sweep calls here. */
static void test_expiry_steady(void **state)
{
	(void)state;
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 65536;
	c.expiry_grace = 60;
	c.seed[0] = 7;
	struct bw_bindings *b = mk(&c);
	char name[64];
	/* 100 new names a second, TTL 60 s, for 2 hours of packet time: 720 000 binds. */
	size_t peak_late = 0;
	for (uint32_t i = 0; i < 720000; i++) {
		bw_time_t now = (bw_time_t)i * (S / 100) + S;
		int n = snprintf(name, sizeof(name), "h%u.example", i);
		struct bw_ip a = ip4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		assert_true(bw_bind_name_addr(b, name, (size_t)n, &a, 60, now) >= 0);
		if (i > 360000 && (i & 1023) == 0) {
			struct bw_bindings_stats st;
			bw_bindings_stats(b, &st);
			peak_late = BW_MAX(peak_late, (size_t)st.t[BW_BT_NAME_ADDR].entries);
		}
		if ((i & 255) == 0)
			bw_bindings_quiescent();
	}
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	/* Alive at any time: 100/s x 121 s = 12 100; the sweep lags by a bounded share. */
	assert_true(peak_late >= 12000);
	assert_true(peak_late < 24200);
	assert_int_equal(st.t[BW_BT_NAME_ADDR].evictions, 0);
	assert_true(st.t[BW_BT_NAME_ADDR].expired > 690000);
	bw_bindings_free(b);
}

static void test_concurrent(void **state)
{
	(void)state;
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 1500;
	c.addrs_per_name = 4;
	struct bw_bindings *b = mk(&c);
	int stop = 0;
	struct hammer h[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .b = b, .id = i, .stop = &stop };
		assert_int_equal(pthread_create(&th[i], NULL, i < 2 ? writer : reader, &h[i]), 0);
	}
	bw_bindings_thread_offline();
	/* At least 1 s, and until every thread has done some work (a loaded machine may starve one). */
	double t0 = now_s();
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		bool all = true;
		for (int i = 0; i < 4; i++)
			all = all && __atomic_load_n(&h[i].progress, __ATOMIC_RELAXED) >= 500;
		if ((all && now_s() - t0 >= 1.0) || now_s() - t0 >= 30.0)
			break;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	bw_bindings_thread_online();
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	printf("# writers %llu %llu ops, readers %llu %llu ops (%llu hits); name_addr evictions %llu drops %llu\n",
	       (unsigned long long)h[0].ops, (unsigned long long)h[1].ops, (unsigned long long)h[2].ops,
	       (unsigned long long)h[3].ops, (unsigned long long)(h[2].hits + h[3].hits),
	       (unsigned long long)st.t[BW_BT_NAME_ADDR].evictions, (unsigned long long)st.set_drops[BW_BT_NAME_ADDR]);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(h[i].bad, 0);
		assert_true(h[i].ops > 500);
	}
	assert_true(h[2].hits + h[3].hits > 50);
	for (int i = 0; i < BW_BT_COUNT; i++)
		assert_true(st.t[i].entries <= 1500);
	assert_true(st.t[BW_BT_NAME_ADDR].evictions > 0);
	assert_true(st.set_drops[BW_BT_NAME_ADDR] > 0);
	bw_bindings_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),	      cmocka_unit_test(test_name_addr_ttl),
		cmocka_unit_test(test_name_keys),     cmocka_unit_test(test_sets_and_reverse),
		cmocka_unit_test(test_set_bytes),     cmocka_unit_test(test_cname),
		cmocka_unit_test(test_rcode),	      cmocka_unit_test(test_certs),
		cmocka_unit_test(test_eviction),      cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_budget),	      cmocka_unit_test(test_name_fold_bytes),
		cmocka_unit_test(test_expiry),	      cmocka_unit_test(test_expiry_steady),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
