/* SPDX-License-Identifier: MIT */
/*
 * test_pipeline.c: the offline multi-worker pipeline (sensor/pipeline.h).
 * The dispatch hash is symmetric and ignores what must not split a flow
 * (ports, fragments, VLAN tags, a tunnel around a mirrored copy), survives
 * hostile frames of every link type, and the stats merge adds up. The end
 * to end tests run the bundled captures (pcaps/) and the external set
 * (../shared/pcaps/external) through one worker in the calling thread and
 * through the pipeline with 2, 3 and 4 workers, both with lent (mmap) and
 * copied (libpcap) frames, and compare the events as sorted sets. An x509
 * event is compared by its certificate (its fingerprint and the ECS x509
 * object): which sighting it names depends on which worker got there first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/pipeline.h"

/* ---- frames ---- */

static size_t eth(uint8_t *p, uint16_t type)
{
	memset(p, 0, 12);
	p[0] = 0x02;
	p[6] = 0x04;
	p[12] = (uint8_t)(type >> 8);
	p[13] = (uint8_t)type;
	return 14;
}

static size_t vlan(uint8_t *p, uint16_t id, uint16_t type)
{
	p[0] = (uint8_t)(id >> 8);
	p[1] = (uint8_t)id;
	p[2] = (uint8_t)(type >> 8);
	p[3] = (uint8_t)type;
	return 4;
}

static size_t ip4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint16_t payload,
		  uint16_t frag)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	uint16_t tot = (uint16_t)(20 + payload);
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	return 20;
}

static size_t ip6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t nh, uint16_t payload)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(payload >> 8);
	p[5] = (uint8_t)payload;
	p[6] = nh;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40;
}

static size_t udp(uint8_t *p, uint16_t sport, uint16_t dport, uint16_t payload)
{
	uint16_t l = (uint16_t)(8 + payload);
	p[0] = (uint8_t)(sport >> 8);
	p[1] = (uint8_t)sport;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	p[4] = (uint8_t)(l >> 8);
	p[5] = (uint8_t)l;
	p[6] = p[7] = 0;
	memset(p + 8, 0xab, payload);
	return 8 + payload;
}

static const uint8_t A4[4] = { 192, 0, 2, 1 }, B4[4] = { 198, 51, 100, 7 }, C4[4] = { 203, 0, 113, 9 };
static const uint8_t T1[4] = { 10, 0, 0, 1 }, T2[4] = { 10, 0, 0, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* Ethernet / [VLAN] / IPv4 / UDP src->dst. */
static size_t udp4_frame(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint16_t sport, uint16_t dport, int vid)
{
	size_t n = eth(f, vid >= 0 ? 0x8100 : 0x0800);
	if (vid >= 0)
		n += vlan(f + n, (uint16_t)vid, 0x0800);
	n += ip4(f + n, src, dst, 17, 8 + 20, 0);
	n += udp(f + n, sport, dport, 20);
	return n;
}

static void test_hash_symmetric(void **state)
{
	(void)state;
	uint8_t f[256], g[256];
	size_t n = udp4_frame(f, A4, B4, 40000, 53, -1);
	size_t m = udp4_frame(g, B4, A4, 53, 40000, -1);
	uint64_t h = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n);
	assert_int_not_equal(h, 0);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	/* ports do not matter, the pair does */
	m = udp4_frame(g, A4, B4, 1234, 443, -1);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	m = udp4_frame(g, A4, C4, 40000, 53, -1);
	assert_int_not_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	/* VLAN tags (a second mirror session) do not either */
	m = udp4_frame(g, B4, A4, 53, 40000, 42);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	/* the same packet as raw IP */
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_RAW, f + 14, (uint32_t)n - 14));
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_IPV4, f + 14, (uint32_t)n - 14));

	/* IPv6 both ways */
	n = eth(f, 0x86DD);
	n += ip6(f + n, A6, B6, 17, 28);
	n += udp(f + n, 5000, 53, 20);
	m = eth(g, 0x86DD);
	m += ip6(g + m, B6, A6, 17, 28);
	m += udp(g + m, 53, 5000, 20);
	uint64_t h6 = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n);
	assert_int_not_equal(h6, 0);
	assert_int_equal(h6, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	assert_int_not_equal(h6, h);
}

/*
 * The Ethernet + TCP fast path gives what the walk gives: the same IP packet
 * as raw IP always takes the walk. Random addresses, both families, with and
 * without a VLAN tag, fragments, short IHLs and cut frames; and frames the
 * fast path must leave alone (QinQ, UDP) still agree with the walk.
 */
static void test_hash_fast_path(void **state)
{
	(void)state;
	uint64_t x = 0x2545F4914F6CDD1DULL;
	for (int i = 0; i < 20000; i++) {
		uint8_t f[256], a[16], b[16];
		for (int k = 0; k < 16; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			a[k] = (uint8_t)x;
			b[k] = (uint8_t)(x >> 8);
		}
		if (i % 7 == 0)
			memcpy(b, a, 16); /* equal addresses */
		bool v6 = i & 1, vlan = i & 2, qinq = (i & 12) == 12, udp_l4 = (i % 11) == 0;
		size_t n = 0;
		if (qinq) {
			n = eth(f, 0x88A8);
			f[n++] = 0, f[n++] = 1, f[n++] = 0x81, f[n++] = 0x00;
			f[n++] = 0, f[n++] = 2, f[n++] = v6 ? 0x86 : 0x08, f[n++] = v6 ? 0xDD : 0x00;
		} else if (vlan) {
			n = eth(f, 0x8100);
			f[n++] = 0, f[n++] = 42, f[n++] = v6 ? 0x86 : 0x08, f[n++] = v6 ? 0xDD : 0x00;
		} else {
			n = eth(f, v6 ? 0x86DD : 0x0800);
		}
		size_t ipoff = n;
		uint8_t proto = udp_l4 ? 17 : 6;
		if (v6)
			n += ip6(f + n, a, b, proto, 28);
		else
			n += ip4(f + n, a, b, proto, 28, (i % 5) == 0 ? 0x2001 : 0);
		if (!v6 && (i % 13) == 0)
			f[ipoff] = 0x43; /* an IHL under 5: malformed, still hashed by its addresses */
		n += udp(f + n, (uint16_t)(1000 + i), 443, 20);
		uint32_t cap = (i % 17) == 0 ? (uint32_t)(ipoff + (v6 ? 30 : 15)) : (uint32_t)n; /* cut in the IP header */
		uint64_t fast = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, cap);
		uint64_t walk = bw_pipeline_dispatch_hash(BW_LINK_RAW, f + ipoff, cap - (uint32_t)ipoff);
		assert_int_equal(fast, walk);
	}
}

static void test_hash_fragments(void **state)
{
	(void)state;
	uint8_t f[256], g[256];
	size_t n = udp4_frame(f, A4, B4, 40000, 53, -1);
	uint64_t h = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n);
	/* a later fragment: no UDP header, same pair */
	size_t m = eth(g, 0x0800);
	m += ip4(g + m, A4, B4, 17, 16, 185); /* offset 185*8 */
	memset(g + m, 0x11, 16);
	m += 16;
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	/* a first fragment (MF) too */
	m = eth(g, 0x0800);
	m += ip4(g + m, B4, A4, 17, 16, 0x2000);
	m += udp(g + m, 53, 40000, 8);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
	/* an IPv6 fragment header */
	uint8_t p6[256], q6[256];
	size_t a = eth(p6, 0x86DD);
	a += ip6(p6 + a, A6, B6, 17, 28);
	a += udp(p6 + a, 5000, 53, 20);
	size_t b = eth(q6, 0x86DD);
	b += ip6(q6 + b, B6, A6, 44, 24);
	uint8_t fh[8] = { 17, 0, 0x05, 0x00, 0, 0, 0, 1 }; /* offset 160, last */
	memcpy(q6 + b, fh, 8);
	b += 8;
	memset(q6 + b, 0x22, 16);
	b += 16;
	assert_int_equal(bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, p6, (uint32_t)a),
			 bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, q6, (uint32_t)b));
}

/* A mirrored copy inside GRE, VXLAN or IP-in-IP hashes like the plain packet. */
static void test_hash_tunnels(void **state)
{
	(void)state;
	uint8_t plain[256], f[512];
	size_t pn = udp4_frame(plain, A4, B4, 40000, 53, -1);
	uint64_t h = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, plain, (uint32_t)pn);

	/* GRE carrying IPv4 */
	size_t n = eth(f, 0x0800);
	n += ip4(f + n, T1, T2, 47, (uint16_t)(4 + pn - 14), 0);
	f[n++] = 0;
	f[n++] = 0;
	f[n++] = 0x08;
	f[n++] = 0x00;
	memcpy(f + n, plain + 14, pn - 14);
	n += pn - 14;
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n));

	/* ERSPAN II (GRE with sequence number, 0x88BE) carrying the Ethernet frame */
	n = eth(f, 0x0800);
	n += ip4(f + n, T1, T2, 47, (uint16_t)(8 + 8 + pn), 0);
	uint8_t gre[8] = { 0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1 };
	memcpy(f + n, gre, 8);
	n += 8;
	uint8_t ers[8] = { 0x10, 0x00, 0x00, 0x64, 0, 0, 0, 0 }; /* version 1 (type II), session 100 */
	memcpy(f + n, ers, 8);
	n += 8;
	memcpy(f + n, plain, pn);
	n += pn;
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n));

	/* VXLAN */
	n = eth(f, 0x0800);
	n += ip4(f + n, T2, T1, 17, (uint16_t)(8 + 8 + pn), 0);
	size_t u = n;
	n += udp(f + n, 33333, 4789, 0);
	f[u + 4] = (uint8_t)((8 + 8 + pn) >> 8);
	f[u + 5] = (uint8_t)(8 + 8 + pn);
	uint8_t vx[8] = { 0x08, 0, 0, 0, 0, 0, 7, 0 };
	memcpy(f + n, vx, 8);
	n += 8;
	memcpy(f + n, plain, pn);
	n += pn;
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n));
	/* from a service port it is plain UDP (decode.c does not unwrap it either) */
	f[u] = 0;
	f[u + 1] = 53;
	assert_int_not_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n));

	/* IP-in-IP; a fragmented outer packet is hashed by the outer pair */
	n = eth(f, 0x0800);
	size_t o = n;
	n += ip4(f + n, T1, T2, 4, (uint16_t)(pn - 14), 0);
	memcpy(f + n, plain + 14, pn - 14);
	n += pn - 14;
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n));
	f[o + 6] = 0x20; /* MF */
	uint64_t outer = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n);
	assert_int_not_equal(h, outer);
	uint8_t g[64];
	size_t m = eth(g, 0x0800);
	m += ip4(g + m, T2, T1, 4, 8, 0x0003);
	memset(g + m, 0, 8);
	m += 8;
	assert_int_equal(outer, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, g, (uint32_t)m));
}

static void test_hash_other_links(void **state)
{
	(void)state;
	uint8_t plain[256], f[256];
	size_t pn = udp4_frame(plain, A4, B4, 40000, 53, -1);
	uint64_t h = bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, plain, (uint32_t)pn);
	/* Linux cooked v1: 14 bytes then the protocol */
	memset(f, 0, 16);
	f[14] = 0x08;
	memcpy(f + 16, plain + 14, pn - 14);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_LINUX_SLL, f, (uint32_t)(pn + 2)));
	/* SLL2: protocol first, 20 bytes in all */
	memset(f, 0, 20);
	f[0] = 0x08;
	memcpy(f + 20, plain + 14, pn - 14);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_LINUX_SLL2, f, (uint32_t)(pn + 6)));
	/* BSD loopback, host order AF_INET */
	uint32_t af = 2;
	memcpy(f, &af, 4);
	memcpy(f + 4, plain + 14, pn - 14);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_NULL, f, (uint32_t)(pn - 10)));
	/* PPP */
	f[0] = 0xFF;
	f[1] = 0x03;
	f[2] = 0x00;
	f[3] = 0x21;
	memcpy(f + 4, plain + 14, pn - 14);
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_PPP, f, (uint32_t)(pn - 10)));
	/* MPLS, one label, bottom of stack */
	size_t n = eth(f, 0x8847);
	f[n++] = 0x00;
	f[n++] = 0x01;
	f[n++] = 0x01;
	f[n++] = 0x40;
	memcpy(f + n, plain + 14, pn - 14);
	n += pn - 14;
	assert_int_equal(h, bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n));
	/* not IP, unknown link types, empty frames: 0 (worker 0) */
	n = eth(f, 0x0806);
	assert_int_equal(bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, f, (uint32_t)n + 28), 0);
	assert_int_equal(bw_pipeline_dispatch_hash(147, plain, (uint32_t)pn), 0);
	assert_int_equal(bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, plain, 0), 0);
	assert_int_equal(bw_pipeline_dispatch_hash(BW_LINK_ETHERNET, NULL, 0), 0);
}

/* Every prefix and random garbage, for every link type: no read out of bounds (ASan). */
static void test_hash_hostile(void **state)
{
	(void)state;
	static const int links[] = { 0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 276 };
	uint8_t plain[256];
	size_t pn = udp4_frame(plain, A4, B4, 40000, 4789, 5);
	for (size_t l = 0; l < sizeof(links) / sizeof(links[0]); l++)
		for (size_t cut = 0; cut <= pn; cut++) {
			uint8_t *copy = malloc(cut ? cut : 1);
			memcpy(copy, plain, cut);
			(void)bw_pipeline_dispatch_hash(links[l], copy, (uint32_t)cut);
			free(copy);
		}
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(i % 200);
		uint8_t *buf = malloc(len ? len : 1);
		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[k] = (uint8_t)x;
		}
		/* steer some of them into the tunnel paths */
		if (len > 40 && (i & 1)) {
			buf[12] = 0x08;
			buf[13] = 0x00;
			buf[14] = 0x45;
			buf[23] = (uint8_t)((i & 2) ? 47 : 17);
			buf[20] = buf[21] = 0;
		}
		(void)bw_pipeline_dispatch_hash(links[(size_t)i % (sizeof(links) / sizeof(links[0]))], buf, (uint32_t)len);
		free(buf);
	}
}

static void test_stats_merge(void **state)
{
	(void)state;
	struct bw_worker_stats a = { 0 }, b = { 0 };
	a.frames = 3;
	a.bytes = 100;
	a.first_ts = 50;
	a.last_ts = 70;
	a.decode.ipv4 = 2;
	a.tcp.flows_created = 1;
	a.dns.messages = 4;
	a.tls.handshakes = 5;
	a.tls.udp_sessions_evicted = 1;
	a.events_dropped = 1;
	b.frames = 4;
	b.bytes = 1;
	b.first_ts = 40;
	b.last_ts = 60;
	b.decode.ipv4 = 1;
	b.decode.duplicates = 9;
	b.tcp.flows_created = 2;
	b.tcp.flow_cap_hits = 3;
	b.dns.malformed = 2;
	b.tls.handshakes = 1;
	b.tls.udp_sessions_evicted = 2;
	bw_worker_stats_merge(&a, &b);
	assert_int_equal(a.frames, 7);
	assert_int_equal(a.bytes, 101);
	assert_int_equal(a.first_ts, 40);
	assert_int_equal(a.last_ts, 70);
	assert_int_equal(a.decode.ipv4, 3);
	assert_int_equal(a.decode.duplicates, 9);
	assert_int_equal(a.tcp.flows_created, 3);
	assert_int_equal(a.tcp.flow_cap_hits, 3);
	assert_int_equal(a.dns.messages, 4);
	assert_int_equal(a.dns.malformed, 2);
	assert_int_equal(a.tls.handshakes, 6);
	assert_int_equal(a.tls.udp_sessions_evicted, 3);
	assert_int_equal(a.events_dropped, 1);
	/* a worker that saw nothing does not move first_ts to 0 */
	struct bw_worker_stats z = { 0 };
	bw_worker_stats_merge(&a, &z);
	assert_int_equal(a.first_ts, 40);
	struct bw_worker_stats e = { 0 };
	bw_worker_stats_merge(&e, &b);
	assert_int_equal(e.first_ts, 40);

	struct bw_anomalies x = { 0 }, y = { 0 };
	x.n[BW_AN_TCP_GAP] = 2;
	y.n[BW_AN_TCP_GAP] = 3;
	y.n[BW_AN_DNS_TRUNC] = 1;
	bw_anomalies_merge(&x, &y);
	assert_int_equal(x.n[BW_AN_TCP_GAP], 5);
	assert_int_equal(x.n[BW_AN_DNS_TRUNC], 1);
}

static void test_config(void **state)
{
	(void)state;
	struct bw_pipeline_config pc;
	bw_pipeline_config_default(&pc);
	assert_true(pc.workers >= 1 && pc.workers <= BW_PIPELINE_MAX_WORKERS);
	assert_int_equal(pc.workers, bw_pipeline_default_workers());
	struct bw_worker_config wc;
	bw_worker_config_default(&wc);
	struct bw_output out = { 0 };
	char err[128];
	pc.workers = 0;
	assert_null(bw_pipeline_new(&pc, &wc, &out, err, sizeof(err)));
	assert_non_null(strstr(err, "workers"));
	pc.workers = BW_PIPELINE_MAX_WORKERS + 1;
	assert_null(bw_pipeline_new(&pc, &wc, &out, err, sizeof(err)));
	bw_pipeline_free(NULL);
}

/* ---- end to end ---- */

struct files {
	char **p;
	size_t n;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool capture_name(const char *n)
{
	size_t l = strlen(n);
	return n[0] != '.' && ((l > 5 && strcmp(n + l - 5, ".pcap") == 0) || (l > 7 && strcmp(n + l - 7, ".pcapng") == 0) ||
			       (l > 4 && strcmp(n + l - 4, ".cap") == 0));
}

static void files_add_dir(struct files *f, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	size_t start = f->n;
	while ((e = readdir(d)) != NULL) {
		if (!capture_name(e->d_name))
			continue;
		f->p = realloc(f->p, (f->n + 1) * sizeof(char *));
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		f->p[f->n] = malloc(len);
		snprintf(f->p[f->n], len, "%s/%s", dir, e->d_name);
		f->n++;
	}
	closedir(d);
	qsort(f->p + start, f->n - start, sizeof(char *), cmp_str);
}

static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->p[i]);
	free(f->p);
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void open_out(struct bw_output *out, const char *path)
{
	memset(out, 0, sizeof(*out));
	unlink(path); /* jsonl sinks append */
	char spec[512], err[256];
	snprintf(spec, sizeof(spec), "jsonl:%s", path);
	struct bw_sink *s;
	assert_int_equal(bw_sink_open(spec, &s, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_output_add(out, s), BW_OK);
}

/* How to read: kind for every file, or our reader and libpcap in turn (MIXED). */
#define MIXED ((enum bw_reader_kind)-1)

static enum bw_reader_kind kind_of(enum bw_reader_kind kind, size_t i)
{
	return kind != MIXED ? kind : i % 2 ? BW_READER_LIBPCAP : BW_READER_AUTO;
}

/* What main does with --workers 1. */
static void run_single(const struct files *f, enum bw_reader_kind kind, const char *outpath)
{
	struct bw_output out;
	open_out(&out, outpath);
	struct bw_worker_config wc;
	bw_worker_config_default(&wc);
	struct bw_worker *w = bw_worker_new(&wc, &out);
	assert_non_null(w);
	for (size_t i = 0; i < f->n; i++) {
		struct bw_capture_file *cf;
		char err[4096];
		if (bw_capture_file_open(f->p[i], kind_of(kind, i), bw_worker_anomalies(w), &cf, err, sizeof(err)) != BW_OK)
			continue;
		bw_worker_input_start(w);
		struct bw_frame fr;
		while (bw_capture_file_next(cf, &fr) == BW_OK)
			bw_worker_frame(w, &fr, base(f->p[i]));
		bw_capture_file_close(cf);
	}
	bw_worker_finish(w);
	bw_worker_free(w);
	char err[256];
	assert_int_equal(bw_output_close(&out, err, sizeof(err)), BW_OK);
}

static void run_pipeline(const struct files *f, unsigned workers, enum bw_reader_kind kind, bool copy,
			 bool no_walk, const char *outpath, struct bw_worker_stats *st, struct bw_pipeline_stats *ps)
{
	struct bw_output out;
	open_out(&out, outpath);
	struct bw_worker_config wc;
	bw_worker_config_default(&wc);
	struct bw_pipeline_config pc;
	bw_pipeline_config_default(&pc);
	pc.workers = workers;
	pc.copy_frames = copy;
	pc.walk = no_walk ? BW_WALK_NEVER : BW_WALK_ALWAYS; /* every worker count walks, whatever the CPUs */
	/* small rings: the reader and workers wait on full rings often */
	pc.frame_ring_bytes = 16384;
	pc.event_ring_bytes = 65536;
	char err[4096];
	struct bw_pipeline *p = bw_pipeline_new(&pc, &wc, &out, err, sizeof(err));
	assert_non_null(p);
	for (size_t i = 0; i < f->n; i++) {
		bool opened;
		uint64_t pos, size;
		/* MIXED: walked and dispatched files in turn, so each follows the other */
		(void)bw_pipeline_read_file(p, f->p[i], base(f->p[i]), kind_of(kind, i), &opened, &pos, &size, err,
					    sizeof(err));
	}
	bw_pipeline_finish(p);
	bw_pipeline_stats(p, st, NULL);
	bw_pipeline_own_stats(p, ps);
	bw_pipeline_free(p);
	assert_int_equal(bw_output_close(&out, err, sizeof(err)), BW_OK);
}

struct lines {
	char **l;
	size_t n;
};

/* An x509 event reduced to its certificate: fingerprint and the ECS x509 object. */
static char *normalise(char *line)
{
	if (!strstr(line, "\"dataset\":\"bindwatch.x509\""))
		return strdup(line);
	const char *fp = strstr(line, "\"sha256\":\"");
	const char *obj = NULL;
	for (const char *p = line; (p = strstr(p, "},\"x509\":{")) != NULL; p++)
		obj = p;
	assert_non_null(fp);
	assert_non_null(obj);
	size_t len = 100 + strlen(obj);
	char *r = malloc(len);
	snprintf(r, len, "x509 %.74s %s", fp, obj);
	return r;
}

static struct lines read_sorted(const char *path)
{
	struct lines L = { 0 };
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&buf, &cap, fp)) > 0) {
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		L.l = realloc(L.l, (L.n + 1) * sizeof(char *));
		L.l[L.n++] = normalise(buf);
	}
	free(buf);
	fclose(fp);
	qsort(L.l, L.n, sizeof(char *), cmp_str);
	return L;
}

static void lines_free(struct lines *L)
{
	for (size_t i = 0; i < L->n; i++)
		free(L->l[i]);
	free(L->l);
}

static void assert_same_events(const char *a, const char *b)
{
	struct lines x = read_sorted(a), y = read_sorted(b);
	size_t first_diff = SIZE_MAX;
	for (size_t i = 0; i < x.n && i < y.n && first_diff == SIZE_MAX; i++)
		if (strcmp(x.l[i], y.l[i]) != 0)
			first_diff = i;
	if (first_diff != SIZE_MAX)
		print_message("first difference:\n  %.300s\n  %.300s\n", x.l[first_diff], y.l[first_diff]);
	if (x.n != y.n)
		print_message("%zu events vs %zu\n", x.n, y.n);
	assert_int_equal(x.n, y.n);
	assert_true(first_diff == SIZE_MAX);
	assert_true(x.n > 0);
	lines_free(&x);
	lines_free(&y);
}

static const char *tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

static void compare_one(const struct files *f, const char *single, const char *multi, unsigned workers,
			enum bw_reader_kind kind, bool copy, bool no_walk)
{
	struct bw_worker_stats st;
	struct bw_pipeline_stats ps;
	run_pipeline(f, workers, kind, copy, no_walk, multi, &st, &ps);
	print_message("workers %u, %s%s: %llu frames, %llu files walked, dispatched", workers,
		      kind == MIXED ? "mixed readers, " : "", copy ? "copied" : no_walk ? "lent" : "walked",
		      (unsigned long long)st.frames, (unsigned long long)ps.files_walked);
	uint64_t sum = 0;
	for (unsigned i = 0; i < workers; i++) {
		print_message(" %llu", (unsigned long long)ps.frames_dispatched[i]);
		sum += ps.frames_dispatched[i];
	}
	print_message("; ring waits %llu/%llu\n", (unsigned long long)ps.frame_ring_full_waits,
		      (unsigned long long)ps.event_ring_full_waits);
	assert_int_equal(sum, st.frames);
	if (kind == BW_READER_LIBPCAP || copy || no_walk)
		assert_int_equal(ps.files_walked, 0);
	else
		assert_true(ps.files_walked > 0);
	if (copy || kind == BW_READER_LIBPCAP)
		assert_int_equal(ps.frames_copied + ps.frames_heap, st.frames);
	else if (kind != MIXED)
		assert_int_equal(ps.frames_copied, 0);
	assert_same_events(single, multi);
}

static void compare_runs(const struct files *f, enum bw_reader_kind kind)
{
	char single[512], multi[512];
	snprintf(single, sizeof(single), "%s/bw-test-pipeline-%d-1.jsonl", tmpdir(), (int)getpid());
	snprintf(multi, sizeof(multi), "%s/bw-test-pipeline-%d-n.jsonl", tmpdir(), (int)getpid());
	run_single(f, kind, single);
	for (unsigned workers = 2; workers <= 4; workers++) {
		if (kind == BW_READER_LIBPCAP) { /* libpcap frames are always copied */
			compare_one(f, single, multi, workers, kind, true, false);
			continue;
		}
		compare_one(f, single, multi, workers, kind, false, false);
		compare_one(f, single, multi, workers, kind, false, true);
		compare_one(f, single, multi, workers, kind, true, false);
	}
	unlink(single);
	if (kind == BW_READER_AUTO && f->n > 1) {
		run_single(f, MIXED, single);
		for (unsigned workers = 2; workers <= 3; workers++)
			compare_one(f, single, multi, workers, MIXED, false, false);
		unlink(single);
	}
	unlink(multi);
}

static void test_bundled_captures(void **state)
{
	(void)state;
	struct files f = { 0 };
	files_add_dir(&f, "pcaps");
	if (f.n == 0) {
		print_message("pcaps/ not found (run from the repository root): skipped\n");
		skip();
	}
	compare_runs(&f, BW_READER_AUTO);
	compare_runs(&f, BW_READER_LIBPCAP);
	files_free(&f);
}

static void test_external_captures(void **state)
{
	(void)state;
	static const char *const dirs[] = { "../shared/pcaps/external", "/work/shared/pcaps/external" };
	struct files f = { 0 };
	const char *env = getenv("BW_EXTERNAL_PCAPS");
	if (env)
		files_add_dir(&f, env);
	for (size_t i = 0; i < 2 && f.n == 0; i++)
		files_add_dir(&f, dirs[i]);
	if (f.n == 0) {
		print_message("shared/pcaps/external not found: skipped\n");
		skip();
	}
	compare_runs(&f, BW_READER_AUTO);
	files_free(&f);
}

/* A file that cannot be opened and a corrupt one: errors reported, the run goes on. */
static void test_bad_files(void **state)
{
	(void)state;
	char bad[512], outp[512];
	snprintf(bad, sizeof(bad), "%s/bw-test-pipeline-%d-bad.pcap", tmpdir(), (int)getpid());
	snprintf(outp, sizeof(outp), "%s/bw-test-pipeline-%d-bad.jsonl", tmpdir(), (int)getpid());
	/* a pcap header and half a record header */
	static const uint8_t hdr[] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				       0xff, 0xff, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6 };
	FILE *fp = fopen(bad, "wb");
	assert_non_null(fp);
	fwrite(hdr, 1, sizeof(hdr), fp);
	fclose(fp);
	struct bw_output out;
	open_out(&out, outp);
	struct bw_worker_config wc;
	bw_worker_config_default(&wc);
	struct bw_pipeline_config pc;
	bw_pipeline_config_default(&pc);
	pc.workers = 2;
	char err[4096];
	struct bw_pipeline *p = bw_pipeline_new(&pc, &wc, &out, err, sizeof(err));
	assert_non_null(p);
	bool opened = true;
	uint64_t pos, size;
	assert_int_not_equal(bw_pipeline_read_file(p, "/nonexistent/x.pcap", "x.pcap", BW_READER_AUTO, &opened, &pos,
						   &size, err, sizeof(err)),
			     BW_OK);
	assert_false(opened);
	assert_non_null(strstr(err, "/nonexistent/x.pcap"));
	int rc = bw_pipeline_read_file(p, bad, "bad.pcap", BW_READER_AUTO, &opened, &pos, &size, err, sizeof(err));
	assert_int_not_equal(rc, BW_OK);
	assert_true(opened);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(bw_pipeline_read_file(p, "pcaps/dns-basic.pcap", "dns-basic.pcap", BW_READER_AUTO, &opened,
					       &pos, &size, err, sizeof(err)),
			 access("pcaps/dns-basic.pcap", R_OK) == 0 ? BW_OK : BW_ENOENT);
	bw_pipeline_finish(p);
	bw_pipeline_finish(p); /* idempotent */
	assert_int_equal(bw_pipeline_read_file(p, bad, "bad.pcap", BW_READER_AUTO, &opened, &pos, &size, err,
					       sizeof(err)),
			 BW_EINVAL);
	struct bw_worker_stats st;
	struct bw_anomalies an;
	bw_pipeline_stats(p, &st, &an);
	bw_pipeline_free(p);
	assert_int_equal(bw_output_close(&out, err, sizeof(err)), BW_OK);
	unlink(bad);
	unlink(outp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_symmetric),
		cmocka_unit_test(test_hash_fast_path),
		cmocka_unit_test(test_hash_fragments),
		cmocka_unit_test(test_hash_tunnels),
		cmocka_unit_test(test_hash_other_links),
		cmocka_unit_test(test_hash_hostile),
		cmocka_unit_test(test_stats_merge),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_bundled_captures),
		cmocka_unit_test(test_external_captures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
