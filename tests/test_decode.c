/* SPDX-License-Identifier: MIT */
/*
 * test_decode.c: the frame decoder, with frames built byte by byte from the
 * inside out (payload first, then each header pushed in front of it), and a
 * few real frames (GTP-U from an nDPI test capture).
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

#include "../parsers/decode.h"
#include "../sensor/capture.h"

#define MS BW_NSEC_PER_MSEC
#define SEC BW_NSEC_PER_SEC
#define T0 (1700000000ULL * SEC)

/* ---- frame builder --------------------------------------------------- */

struct pk {
	uint8_t mem[80000];
	size_t off, len;
};

static void pk_init(struct pk *p)
{
	p->off = 40000;
	p->len = 0;
}

static uint8_t *pk_data(struct pk *p) { return p->mem + p->off; }

static uint8_t *pk_push(struct pk *p, size_t n)
{
	assert_true(p->off >= n);
	p->off -= n;
	p->len += n;
	return p->mem + p->off;
}

static void pk_payload(struct pk *p, size_t n, uint8_t seed)
{
	assert_true(p->off + p->len + n <= sizeof(p->mem));
	for (size_t i = 0; i < n; i++)
		p->mem[p->off + p->len + i] = (uint8_t)(seed + i * 13);
	p->len += n;
}

static void pk_append(struct pk *p, const uint8_t *d, size_t n)
{
	memcpy(p->mem + p->off + p->len, d, n);
	p->len += n;
}

static void w16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void w32(uint8_t *b, uint32_t v)
{
	w16(b, (uint16_t)(v >> 16));
	w16(b + 2, (uint16_t)v);
}

#define A4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static void push_udp(struct pk *p, uint16_t sport, uint16_t dport)
{
	size_t l = p->len + 8;
	uint8_t *b = pk_push(p, 8);
	w16(b, sport);
	w16(b + 2, dport);
	w16(b + 4, (uint16_t)l);
	w16(b + 6, 0);
}

static void push_tcp(struct pk *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     size_t optlen)
{
	uint8_t *b = pk_push(p, 20 + optlen);
	w16(b, sport);
	w16(b + 2, dport);
	w32(b + 4, seq);
	w32(b + 8, ack);
	b[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	b[13] = flags;
	w16(b + 14, 29200);
	w32(b + 16, 0);
	for (size_t i = 0; i < optlen; i++)
		b[20 + i] = 1; /* NOP */
}

static void push_ip4x(struct pk *p, uint8_t proto, uint32_t src, uint32_t dst, uint8_t ttl, uint16_t id,
		      uint16_t frag, const uint8_t *opt, size_t optlen)
{
	size_t hlen = 20 + optlen;
	size_t tot = p->len + hlen;
	uint8_t *b = pk_push(p, hlen);
	b[0] = (uint8_t)(0x40 | (hlen / 4));
	b[1] = 0;
	w16(b + 2, (uint16_t)tot);
	w16(b + 4, id);
	w16(b + 6, frag);
	b[8] = ttl;
	b[9] = proto;
	w16(b + 10, (uint16_t)(0xbeef + ttl)); /* a checksum that changes with the TTL */
	w32(b + 12, src);
	w32(b + 16, dst);
	if (optlen)
		memcpy(b + 20, opt, optlen);
}

static void push_ip4(struct pk *p, uint8_t proto, uint32_t src, uint32_t dst)
{
	push_ip4x(p, proto, src, dst, 64, 0x1234, 0, NULL, 0);
}

static void ip6addr(uint8_t *b, uint8_t last)
{
	memset(b, 0, 16);
	b[0] = 0x20;
	b[1] = 0x01;
	b[2] = 0x0d;
	b[3] = 0xb8;
	b[15] = last;
}

static void push_ip6x(struct pk *p, uint8_t nh, uint8_t src, uint8_t dst, uint8_t hlim)
{
	size_t plen = p->len;
	uint8_t *b = pk_push(p, 40);
	w32(b, 0x60000000);
	w16(b + 4, (uint16_t)plen);
	b[6] = nh;
	b[7] = hlim;
	ip6addr(b + 8, src);
	ip6addr(b + 24, dst);
}

static void push_ip6(struct pk *p, uint8_t nh, uint8_t src, uint8_t dst) { push_ip6x(p, nh, src, dst, 64); }

/* Generic extension header of len bytes (HBH, routing, dest options: a multiple of 8; AH: of 4). */
static void push_ext6(struct pk *p, uint8_t type, uint8_t nh, size_t len)
{
	uint8_t *b = pk_push(p, len);
	memset(b, 0, len);
	b[0] = nh;
	b[1] = type == 51 ? (uint8_t)(len / 4 - 2) : (uint8_t)(len / 8 - 1);
	if (type != 51 && type != 43 && len > 2) {
		b[2] = 1; /* PadN */
		b[3] = (uint8_t)(len - 4);
	}
}

static void push_frag6(struct pk *p, uint8_t nh, uint32_t off, bool more, uint32_t id)
{
	uint8_t *b = pk_push(p, 8);
	b[0] = nh;
	b[1] = 0;
	w16(b + 2, (uint16_t)(off | (more ? 1 : 0)));
	w32(b + 4, id);
}

static void push_eth(struct pk *p, uint16_t type)
{
	uint8_t *b = pk_push(p, 14);
	for (int i = 0; i < 12; i++)
		b[i] = (uint8_t)(0x10 + i);
	w16(b + 12, type);
}

static void push_vlan(struct pk *p, uint16_t vid, uint16_t type)
{
	uint8_t *b = pk_push(p, 4);
	w16(b, (uint16_t)(0xA000 | vid)); /* PCP 5: must not leak into the id */
	w16(b + 2, type);
}

static void push_mpls(struct pk *p, uint32_t label, bool bottom)
{
	uint8_t *b = pk_push(p, 4);
	w32(b, (label << 12) | (bottom ? 0x100 : 0) | 64);
}

static void push_gre(struct pk *p, uint16_t flags, uint16_t proto, uint32_t key, uint32_t seq)
{
	size_t n = 4 + (flags & 0x8000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0) + (flags & 0x1000 ? 4 : 0);
	uint8_t *b = pk_push(p, n);
	w16(b, flags);
	w16(b + 2, proto);
	size_t o = 4;
	if (flags & 0x8000) {
		w32(b + o, 0xabcd0000);
		o += 4;
	}
	if (flags & 0x2000) {
		w32(b + o, key);
		o += 4;
	}
	if (flags & 0x1000)
		w32(b + o, seq);
}

static void push_vxlan(struct pk *p, uint32_t vni)
{
	uint8_t *b = pk_push(p, 8);
	memset(b, 0, 8);
	b[0] = 0x08;
	b[4] = (uint8_t)(vni >> 16);
	b[5] = (uint8_t)(vni >> 8);
	b[6] = (uint8_t)vni;
}

static void push_geneve(struct pk *p, uint16_t proto, size_t optwords, uint32_t vni)
{
	uint8_t *b = pk_push(p, 8 + optwords * 4);
	memset(b, 0, 8 + optwords * 4);
	b[0] = (uint8_t)optwords;
	w16(b + 2, proto);
	b[4] = (uint8_t)(vni >> 16);
	b[5] = (uint8_t)(vni >> 8);
	b[6] = (uint8_t)vni;
	if (optwords) { /* one option: class, type, length */
		w16(b + 8, 0x0102);
		b[10] = 0x80;
		b[11] = (uint8_t)(optwords - 1);
	}
}

static void push_erspan2(struct pk *p, uint16_t session, bool trunc)
{
	uint8_t *b = pk_push(p, 8);
	w16(b, 0x1000 | 123);                                      /* ver 1, vlan 123 */
	w16(b + 2, (uint16_t)((trunc ? 0x0400 : 0) | session));   /* cos 0, en 0, T, session */
	w32(b + 4, 7);                                             /* index */
}

static void push_erspan3(struct pk *p, uint16_t session, bool o_bit)
{
	uint8_t *b = pk_push(p, o_bit ? 20 : 12);
	memset(b, 0, o_bit ? 20 : 12);
	w16(b, 0x2000 | 55);
	w16(b + 2, session);
	w32(b + 4, 0x11223344);            /* timestamp */
	w16(b + 10, (uint16_t)(o_bit ? 1 : 0)); /* P 0, FT 0 (Ethernet), hw id 0, O */
}

/* payload + UDP + IPv4 */
static void build_udp4(struct pk *p, uint16_t sport, uint16_t dport, size_t n)
{
	pk_init(p);
	pk_payload(p, n, 7);
	push_udp(p, sport, dport);
	push_ip4(p, 17, A4(192, 0, 2, 1), A4(198, 51, 100, 2));
}

/* ---- decoder fixture ------------------------------------------------- */

struct fx {
	struct bw_anomalies an;
	struct bw_decoder *d;
	struct bw_packet p;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	x->d = bw_decoder_new(NULL, &x->an);
	if (!x->d)
		return -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	bw_decoder_free(x->d);
	free(x);
	return 0;
}

/* Decode from an exact-size heap copy, so ASan sees any read past the end. */
static int dec_at(struct fx *x, int lt, const uint8_t *f, size_t n, size_t wire, bw_time_t ts)
{
	uint8_t *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, f, n);
	int r = bw_decode_frame(x->d, lt, copy, (uint32_t)n, (uint32_t)wire, ts, &x->p);
	/* The payload must lie inside the frame or be decoder memory. */
	if (r == BW_OK && x->p.payload_len && !x->p.reassembled) {
		assert_true(x->p.payload >= copy);
		assert_true(x->p.payload + x->p.payload_len <= copy + n);
	}
	if (r == BW_OK && x->p.payload_len) {
		/* copy the payload out before freeing the frame */
		static uint8_t saved[65536];
		memcpy(saved, x->p.payload, x->p.payload_len);
		x->p.payload = saved;
	}
	free(copy);
	return r;
}

static bw_time_t next_ts = T0;

static int dec(struct fx *x, int lt, struct pk *p)
{
	next_ts += SEC; /* a second apart: the duplicate filter stays out of the way */
	return dec_at(x, lt, pk_data(p), p->len, p->len, next_ts);
}

static uint64_t an(struct fx *x, enum bw_anomaly a) { return x->an.n[a]; }

static uint64_t an_total(struct fx *x)
{
	uint64_t s = 0;
	for (int i = 0; i < BW_AN__COUNT; i++)
		s += x->an.n[i];
	return s;
}

static void check_udp4(struct fx *x, uint16_t sport, uint16_t dport, size_t n)
{
	assert_int_equal(x->p.ip_version, 4);
	assert_int_equal(x->p.proto, 17);
	assert_int_equal(x->p.sport, sport);
	assert_int_equal(x->p.dport, dport);
	assert_int_equal(x->p.payload_len, n);
	assert_false(x->p.payload_cut);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(x->p.payload[i], (uint8_t)(7 + i * 13));
	assert_int_equal(x->p.src.family, 4);
	assert_int_equal(x->p.src.a[0], 192);
	assert_int_equal(x->p.dst.a[0], 198);
	assert_int_equal(x->p.src.a[4], 0); /* the rest of a[] is zero */
}

/* ---- link types ------------------------------------------------------ */

static void test_ethernet(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 1111, 53, 30);
	push_eth(&p, 0x0800);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1111, 53, 30);
	assert_int_equal(x->p.n_vlan, 0);
	assert_int_equal(x->p.ttl, 64);
	assert_int_equal(x->p.wire_len, p.len);
	assert_int_equal(an_total(x), 0);
	/* Ethernet padding after the IP packet is not payload */
	build_udp4(&p, 1111, 53, 2);
	push_eth(&p, 0x0800);
	uint8_t pad[20] = {0};
	pk_append(&p, pad, sizeof(pad));
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1111, 53, 2);
	/* TCP has no length of its own: the IP total length must cut the padding */
	pk_init(&p);
	pk_payload(&p, 1, 7);
	push_tcp(&p, 1, 2, 3, 4, BW_TCP_ACK, 0);
	push_ip4(&p, 6, 1, 2);
	push_eth(&p, 0x0800);
	pk_append(&p, pad, 5);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	assert_int_equal(x->p.payload_len, 1);
	assert_false(x->p.payload_cut);
	/* ARP */
	pk_init(&p);
	pk_payload(&p, 28, 0);
	push_eth(&p, 0x0806);
	uint64_t non_ip = bw_decoder_stats(x->d)->non_ip;
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_ENOTSUP);
	assert_int_equal(bw_decoder_stats(x->d)->non_ip, non_ip + 1);
	assert_int_equal(an_total(x), 0);
}

static void test_8023_llc_snap(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 1, 2, 10);
	uint8_t *s = pk_push(&p, 8);
	s[0] = 0xAA, s[1] = 0xAA, s[2] = 0x03, s[3] = 0, s[4] = 0, s[5] = 0;
	w16(s + 6, 0x0800);
	size_t l = p.len;
	push_eth(&p, (uint16_t)l);
	uint8_t pad[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	pk_append(&p, pad, sizeof(pad));
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	assert_int_equal(x->p.payload_len, 10);
	/* plain LLC (STP) is not IP */
	pk_init(&p);
	pk_payload(&p, 35, 0);
	uint8_t *q = pk_push(&p, 3);
	q[0] = 0x42, q[1] = 0x42, q[2] = 0x03;
	push_eth(&p, (uint16_t)p.len);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_ENOTSUP);
	/* truncated SNAP */
	pk_init(&p);
	uint8_t *t = pk_push(&p, 5);
	t[0] = 0xAA, t[1] = 0xAA, t[2] = 0x03, t[3] = 0, t[4] = 0;
	push_eth(&p, 40);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_LINK_TRUNC), 1);
}

static void test_sll(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 5, 6, 12);
	uint8_t *h = pk_push(&p, 16);
	memset(h, 0, 16);
	w16(h, 4);      /* outgoing */
	w16(h + 2, 1);  /* ARPHRD_ETHER */
	w16(h + 4, 6);
	w16(h + 14, 0x0800);
	assert_int_equal(dec(x, BW_LINK_LINUX_SLL, &p), BW_OK);
	assert_int_equal(x->p.payload_len, 12);
	assert_int_equal(x->p.sport, 5);
	/* SLL with a VLAN tag left in */
	build_udp4(&p, 5, 6, 12);
	push_vlan(&p, 42, 0x0800);
	h = pk_push(&p, 16);
	memset(h, 0, 16);
	w16(h + 14, 0x8100);
	assert_int_equal(dec(x, BW_LINK_LINUX_SLL, &p), BW_OK);
	assert_int_equal(x->p.vlan_inner, 42);
	/* SLL2 */
	pk_init(&p);
	pk_payload(&p, 9, 7);
	push_udp(&p, 7, 8);
	push_ip6(&p, 17, 1, 2);
	h = pk_push(&p, 20);
	memset(h, 0, 20);
	w16(h, 0x86DD);
	w32(h + 4, 3); /* ifindex */
	w16(h + 8, 1);
	assert_int_equal(dec(x, BW_LINK_LINUX_SLL2, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	assert_int_equal(x->p.payload_len, 9);
	/* short headers */
	pk_init(&p);
	pk_payload(&p, 15, 0);
	assert_int_equal(dec(x, BW_LINK_LINUX_SLL, &p), BW_ETRUNC);
	pk_init(&p);
	pk_payload(&p, 19, 0);
	assert_int_equal(dec(x, BW_LINK_LINUX_SLL2, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_LINK_TRUNC), 2);
}

static void test_raw(void **state)
{
	struct fx *x = *state;
	struct pk p;
	const int raw[] = {BW_LINK_RAW, BW_LINK_DLT_RAW12, BW_LINK_DLT_RAW14};
	for (unsigned i = 0; i < BW_ARRAY_SIZE(raw); i++) {
		build_udp4(&p, 9, 53, 3);
		assert_int_equal(dec(x, raw[i], &p), BW_OK);
		check_udp4(x, 9, 53, 3);
		pk_init(&p);
		pk_payload(&p, 4, 7);
		push_udp(&p, 9, 53);
		push_ip6(&p, 17, 1, 2);
		assert_int_equal(dec(x, raw[i], &p), BW_OK);
		assert_int_equal(x->p.ip_version, 6);
	}
	/* IPV4 / IPV6 link types insist on their version */
	build_udp4(&p, 9, 53, 3);
	assert_int_equal(dec(x, BW_LINK_IPV4, &p), BW_OK);
	assert_int_equal(dec(x, BW_LINK_IPV6, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP6_BAD_VERSION), 1);
	pk_init(&p);
	push_udp(&p, 9, 53);
	push_ip6(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_IPV6, &p), BW_OK);
	assert_int_equal(dec(x, BW_LINK_IPV4, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP4_BAD_VERSION), 1);
	/* raw with a version that is neither */
	uint8_t junk[24] = {0x55};
	assert_int_equal(dec_at(x, BW_LINK_RAW, junk, sizeof(junk), sizeof(junk), T0), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP4_BAD_VERSION), 2);
}

static void test_null_loop(void **state)
{
	struct fx *x = *state;
	struct pk p;
	const uint32_t afs[] = {2, 24, 28, 30};
	for (unsigned i = 0; i < BW_ARRAY_SIZE(afs); i++) {
		for (int order = 0; order < 2; order++) {
			pk_init(&p);
			pk_payload(&p, 5, 7);
			push_udp(&p, 1000, 53);
			if (afs[i] == 2)
				push_ip4(&p, 17, A4(127, 0, 0, 1), A4(127, 0, 0, 1));
			else
				push_ip6(&p, 17, 1, 1);
			uint8_t *h = pk_push(&p, 4);
			if (order == 0) { /* little endian writer */
				h[0] = (uint8_t)afs[i], h[1] = h[2] = h[3] = 0;
			} else {
				h[0] = h[1] = h[2] = 0, h[3] = (uint8_t)afs[i];
			}
			assert_int_equal(dec(x, BW_LINK_NULL, &p), BW_OK);
			assert_int_equal(x->p.ip_version, afs[i] == 2 ? 4 : 6);
			assert_int_equal(x->p.payload_len, 5);
			/* LOOP is always network order */
			assert_int_equal(dec(x, BW_LINK_LOOP, &p), order == 1 ? BW_OK : BW_ENOTSUP);
		}
	}
	uint8_t unknown[30] = {0x07, 0, 0, 0, 0x45};
	assert_int_equal(dec_at(x, BW_LINK_NULL, unknown, sizeof(unknown), sizeof(unknown), T0), BW_ENOTSUP);
	assert_int_equal(dec_at(x, BW_LINK_NULL, unknown, 3, 3, T0), BW_ETRUNC);
}

static void test_ppp_hdlc(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* PPP with address/control */
	build_udp4(&p, 1, 53, 4);
	uint8_t *h = pk_push(&p, 4);
	h[0] = 0xFF, h[1] = 0x03, h[2] = 0x00, h[3] = 0x21;
	assert_int_equal(dec(x, BW_LINK_PPP, &p), BW_OK);
	assert_int_equal(dec(x, BW_LINK_PPP_HDLC, &p), BW_OK);
	/* PPP without, protocol compressed to one byte */
	build_udp4(&p, 1, 53, 4);
	h = pk_push(&p, 1);
	h[0] = 0x21;
	assert_int_equal(dec(x, BW_LINK_PPP, &p), BW_OK);
	/* IPv6 over PPP */
	pk_init(&p);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	h = pk_push(&p, 2);
	h[0] = 0x00, h[1] = 0x57;
	assert_int_equal(dec(x, BW_LINK_PPP, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	/* LCP is not IP */
	uint8_t lcp[8] = {0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4};
	assert_int_equal(dec_at(x, BW_LINK_PPP, lcp, sizeof(lcp), sizeof(lcp), T0), BW_ENOTSUP);
	/* Cisco HDLC, and inside the PPP_HDLC link type */
	build_udp4(&p, 1, 53, 4);
	h = pk_push(&p, 4);
	h[0] = 0x0F, h[1] = 0;
	w16(h + 2, 0x0800);
	assert_int_equal(dec(x, BW_LINK_C_HDLC, &p), BW_OK);
	assert_int_equal(dec(x, BW_LINK_PPP_HDLC, &p), BW_OK);
	/* PPPoE session */
	build_udp4(&p, 1, 53, 4);
	h = pk_push(&p, 2);
	w16(h, 0x0021);
	size_t l = p.len;
	h = pk_push(&p, 6);
	h[0] = 0x11, h[1] = 0;
	w16(h + 2, 0x1234);
	w16(h + 4, (uint16_t)l);
	push_eth(&p, 0x8864);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	assert_int_equal(x->p.payload_len, 4);
}

static void test_unknown_linktype(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 1, 2, 3);
	assert_int_equal(dec(x, 147, &p), BW_ENOTSUP);
	assert_int_equal(an(x, BW_AN_CAP_UNKNOWN_LINKTYPE), 1);
	assert_false(bw_decode_linktype_ok(147));
	assert_true(bw_decode_linktype_ok(BW_LINK_LINUX_SLL2));
	assert_true(bw_decode_linktype_ok(BW_LINK_NULL));
	/* empty frame */
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&p), 0, 0, T0), BW_ETRUNC);
	assert_int_equal(bw_decode_frame(x->d, BW_LINK_ETHERNET, NULL, 0, 0, T0, &x->p), BW_ETRUNC);
}

/* ---- VLAN and MPLS --------------------------------------------------- */

static void test_vlan_depths(void **state)
{
	struct fx *x = *state;
	const unsigned depths[] = {0, 1, 2, 8, 9, 16, 17};
	for (unsigned i = 0; i < BW_ARRAY_SIZE(depths); i++) {
		unsigned n = depths[i];
		struct pk p;
		build_udp4(&p, 1, 53, 8);
		uint16_t type = 0x0800;
		for (unsigned j = n; j > 0; j--) {
			push_vlan(&p, (uint16_t)(100 + j), type);
			type = j == 1 ? 0x88A8 : (j % 2 ? 0x9100 : 0x8100);
		}
		push_eth(&p, type);
		uint64_t deep = an(x, BW_AN_VLAN_TOO_DEEP);
		int r = dec(x, BW_LINK_ETHERNET, &p);
		if (n > BW_MAX_VLAN_DECODE) {
			assert_int_equal(r, BW_EMALF);
			assert_int_equal(an(x, BW_AN_VLAN_TOO_DEEP), deep + 1);
			continue;
		}
		assert_int_equal(r, BW_OK);
		check_udp4(x, 1, 53, 8);
		assert_int_equal(x->p.n_vlan, n);
		for (unsigned j = 0; j < n && j < BW_MAX_VLAN; j++)
			assert_int_equal(x->p.vlan[j], 101 + j);
		assert_int_equal(x->p.vlan_inner, n ? 100 + n : 0);
	}
	/* a tag cut short */
	struct pk p;
	pk_init(&p);
	uint8_t *b = pk_push(&p, 2);
	w16(b, 5);
	push_eth(&p, 0x8100);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_ETRUNC);
}

static void test_mpls(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* one label, IPv4 guessed by its nibble */
	build_udp4(&p, 1, 53, 8);
	push_mpls(&p, 1000, true);
	push_eth(&p, 0x8847);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	assert_int_equal(x->p.n_mpls, 1);
	check_udp4(x, 1, 53, 8);
	/* three labels, IPv6, behind a VLAN, multicast ethertype */
	pk_init(&p);
	pk_payload(&p, 8, 7);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	push_mpls(&p, 3000, true);
	push_mpls(&p, 2000, false);
	push_mpls(&p, 1000, false);
	push_vlan(&p, 7, 0x8848);
	push_eth(&p, 0x8100);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	assert_int_equal(x->p.n_mpls, 3);
	assert_int_equal(x->p.ip_version, 6);
	/* explicit null label: IPv4 whatever the nibble says */
	build_udp4(&p, 1, 53, 8);
	push_mpls(&p, 0, true);
	push_eth(&p, 0x8847);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	/* Ethernet pseudowire with control word */
	build_udp4(&p, 1, 53, 8);
	push_eth(&p, 0x0800);
	uint8_t *cw = pk_push(&p, 4);
	w32(cw, 0);
	push_mpls(&p, 77, true);
	push_eth(&p, 0x8847);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	/* the full stack is allowed, one more is not */
	for (int n = BW_MAX_MPLS; n <= BW_MAX_MPLS + 1; n++) {
		build_udp4(&p, 1, 53, 8);
		for (int i = 0; i < n; i++)
			push_mpls(&p, (uint32_t)(100 + i), i == 0);
		push_eth(&p, 0x8847);
		int r = dec(x, BW_LINK_ETHERNET, &p);
		assert_int_equal(r, n <= BW_MAX_MPLS ? BW_OK : BW_EMALF);
	}
	assert_int_equal(an(x, BW_AN_MPLS_TOO_DEEP), 1);
	assert_true(bw_decoder_stats(x->d)->mpls >= 5);
	/* neither IP nor a control word */
	pk_init(&p);
	pk_payload(&p, 20, 0x90);
	push_mpls(&p, 5, true);
	push_eth(&p, 0x8847);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_ENOTSUP);
}

/* ---- IPv4 ------------------------------------------------------------ */

static void test_ip4_options(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* record route (7), 11 bytes, then NOP and EOL: 12 bytes of options */
	const uint8_t rr[12] = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	pk_init(&p);
	pk_payload(&p, 6, 7);
	push_udp(&p, 1, 53);
	push_ip4x(&p, 17, A4(192, 0, 2, 1), A4(198, 51, 100, 2), 64, 1, 0, rr, sizeof(rr));
	push_eth(&p, 0x0800);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1, 53, 6);
	assert_int_equal(an_total(x), 0);
	/* an option running past the header: counted, packet still decoded */
	const uint8_t badopt[8] = {1, 1, 0x44, 12, 0, 0, 0, 0};
	pk_init(&p);
	pk_payload(&p, 6, 7);
	push_udp(&p, 1, 53);
	push_ip4x(&p, 17, A4(192, 0, 2, 1), A4(198, 51, 100, 2), 64, 1, 0, badopt, sizeof(badopt));
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(an(x, BW_AN_IP4_BAD_OPTIONS), 1);
	const uint8_t zerolen[4] = {0x44, 0, 0, 0};
	pk_init(&p);
	push_udp(&p, 1, 53);
	push_ip4x(&p, 17, 1, 2, 64, 1, 0, zerolen, sizeof(zerolen));
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(an(x, BW_AN_IP4_BAD_OPTIONS), 2);
	/* max IHL (60 bytes) */
	uint8_t nops[40];
	memset(nops, 1, sizeof(nops));
	build_udp4(&p, 1, 53, 0);
	pk_init(&p);
	push_udp(&p, 1, 53);
	push_ip4x(&p, 17, 1, 2, 64, 1, 0, nops, sizeof(nops));
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
}

static void test_ip4_bad_lengths(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* IHL below 5 */
	build_udp4(&p, 1, 53, 8);
	pk_data(&p)[0] = 0x44;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP4_BAD_HLEN), 1);
	/* IHL beyond the captured bytes */
	uint8_t shorthdr[24] = {0x4F, 0, 0, 24};
	assert_int_equal(dec_at(x, BW_LINK_RAW, shorthdr, sizeof(shorthdr), sizeof(shorthdr), T0), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP4_BAD_TOTLEN), 1); /* total 24 < header 60 */
	shorthdr[2] = 1; /* total 280 */
	assert_int_equal(dec_at(x, BW_LINK_RAW, shorthdr, sizeof(shorthdr), sizeof(shorthdr), T0), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP4_TRUNC), 1);
	/* total length below the header length */
	build_udp4(&p, 1, 53, 8);
	w16(pk_data(&p) + 2, 19);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP4_BAD_TOTLEN), 2);
	/* total length beyond the frame, no snaplen: truncated */
	build_udp4(&p, 1, 53, 8);
	w16(pk_data(&p) + 2, 100);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP4_TRUNC), 2);
	/* the same cut by the snaplen: delivered, marked cut */
	build_udp4(&p, 1, 53, 100);
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&p), p.len - 40, p.len, T0), BW_OK);
	assert_true(x->p.payload_cut);
	assert_int_equal(x->p.payload_len, 60);
	/* other protocols */
	build_udp4(&p, 1, 53, 8);
	pk_data(&p)[9] = 1; /* ICMP */
	uint64_t other = bw_decoder_stats(x->d)->other_l4;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	assert_int_equal(x->p.proto, 1);
	assert_int_equal(bw_decoder_stats(x->d)->other_l4, other + 1);
}

/* ---- IPv6 ------------------------------------------------------------ */

static void build_tcp6_ext(struct pk *p, const uint8_t *types, const size_t *lens, unsigned n, size_t paylen)
{
	pk_init(p);
	pk_payload(p, paylen, 7);
	push_tcp(p, 40000, 443, 1000, 2000, BW_TCP_ACK | BW_TCP_PSH, 12);
	uint8_t nh = 6;
	for (unsigned i = n; i > 0; i--) {
		push_ext6(p, types[i - 1], nh, lens[i - 1]);
		nh = types[i - 1];
	}
	push_ip6(p, nh, 1, 2);
}

static void test_ip6_ext_each(void **state)
{
	struct fx *x = *state;
	struct pk p;
	const uint8_t types[] = {0, 43, 60, 51, 135};
	const size_t lens[] = {8, 24, 16, 24, 8};
	for (unsigned i = 0; i < BW_ARRAY_SIZE(types); i++) {
		build_tcp6_ext(&p, &types[i], &lens[i], 1, 10);
		push_eth(&p, 0x86DD);
		assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
		assert_int_equal(x->p.proto, 6);
		assert_int_equal(x->p.sport, 40000);
		assert_int_equal(x->p.dport, 443);
		assert_int_equal(x->p.seq, 1000);
		assert_int_equal(x->p.ack, 2000);
		assert_int_equal(x->p.tcp_flags, BW_TCP_ACK | BW_TCP_PSH);
		assert_int_equal(x->p.window, 29200);
		assert_int_equal(x->p.payload_len, 10);
		assert_int_equal(x->p.payload[0], 7);
	}
	/* all of them in one chain */
	build_tcp6_ext(&p, types, lens, BW_ARRAY_SIZE(types), 10);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.payload_len, 10);
	assert_int_equal(an_total(x), 0);
	/* atomic fragment: a fragment header on an unfragmented packet */
	pk_init(&p);
	pk_payload(&p, 5, 7);
	push_udp(&p, 1, 53);
	push_frag6(&p, 17, 0, false, 99);
	push_ip6(&p, 44, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_false(x->p.reassembled);
	assert_int_equal(x->p.payload_len, 5);
	/* ESP and no-next-header stop */
	pk_init(&p);
	pk_payload(&p, 32, 0);
	push_ip6(&p, 50, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	assert_int_equal(x->p.proto, 50);
	pk_init(&p);
	push_ext6(&p, 60, 59, 8);
	push_ip6(&p, 60, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	assert_int_equal(x->p.proto, 59);
}

static void test_ip6_ext_bounds(void **state)
{
	struct fx *x = *state;
	struct pk p;
	uint8_t types[BW_MAX_IP6_EXT + 1];
	size_t lens[BW_MAX_IP6_EXT + 1];
	for (unsigned i = 0; i <= BW_MAX_IP6_EXT; i++) {
		types[i] = 60;
		lens[i] = 8;
	}
	build_tcp6_ext(&p, types, lens, BW_MAX_IP6_EXT, 4);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	build_tcp6_ext(&p, types, lens, BW_MAX_IP6_EXT + 1, 4);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP6_EXTHDR_TOO_MANY), 1);
	/* an extension header longer than the packet */
	pk_init(&p);
	uint8_t *e = pk_push(&p, 8);
	memset(e, 0, 8);
	e[0] = 6;
	e[1] = 3; /* claims 32 bytes */
	push_ip6(&p, 0, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP6_EXTHDR_TRUNC), 1);
	/* payload length ends inside an extension header, bytes beyond */
	build_tcp6_ext(&p, types, lens, 2, 0);
	w16(pk_data(&p) + 4, 12);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP6_EXTHDR_TRUNC), 2);
	/* a fragment header cut short */
	pk_init(&p);
	uint8_t *f = pk_push(&p, 4);
	memset(f, 0, 4);
	push_ip6(&p, 44, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP6_EXTHDR_TRUNC), 3);
	/* bad version, jumbogram, payload length beyond the frame */
	build_tcp6_ext(&p, types, lens, 0, 4);
	pk_data(&p)[0] = 0x70;
	assert_int_equal(dec(x, BW_LINK_IPV6, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP6_BAD_VERSION), 1);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF); /* raw: neither 4 nor 6 */
	assert_int_equal(an(x, BW_AN_IP4_BAD_VERSION), 1);
	build_tcp6_ext(&p, types, lens, 0, 4);
	pk_data(&p)[6] = 0;
	w16(pk_data(&p) + 4, 0);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_IP6_BAD_PLEN), 1);
	build_tcp6_ext(&p, types, lens, 0, 4);
	w16(pk_data(&p) + 4, 500);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP6_TRUNC), 1);
}

/* ---- UDP and TCP ------------------------------------------------------ */

static void test_udp_tcp_lengths(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* UDP length below 8 */
	build_udp4(&p, 1, 53, 8);
	w16(pk_data(&p) + 24, 7);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_UDP_BAD_LENGTH), 1);
	/* UDP length beyond the IP payload: counted, IP length used */
	build_udp4(&p, 1, 53, 8);
	w16(pk_data(&p) + 24, 200);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(an(x, BW_AN_UDP_BAD_LENGTH), 2);
	assert_int_equal(x->p.payload_len, 8);
	/* UDP length shorter than the IP payload: the UDP length wins */
	build_udp4(&p, 1, 53, 8);
	w16(pk_data(&p) + 24, 12);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.payload_len, 4);
	/* UDP header cut */
	build_udp4(&p, 1, 53, 0);
	w16(pk_data(&p) + 2, 24);
	p.len = 24;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_UDP_TRUNC), 1);
	/* TCP data offset below 5, beyond the segment */
	pk_init(&p);
	push_tcp(&p, 1, 2, 3, 4, BW_TCP_SYN, 0);
	push_ip4(&p, 6, 1, 2);
	pk_data(&p)[32] = 0x40;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	pk_data(&p)[32] = 0x60;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_TCP_BAD_HLEN), 2);
	/* TCP options and payload */
	pk_init(&p);
	pk_payload(&p, 3, 7);
	push_tcp(&p, 1, 2, 0xfffffff0, 4, BW_TCP_SYN | BW_TCP_ACK, 20);
	push_ip4(&p, 6, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.seq, 0xfffffff0);
	assert_int_equal(x->p.tcp_flags, BW_TCP_SYN | BW_TCP_ACK);
	assert_int_equal(x->p.payload_len, 3);
	/* TCP options cut by the snaplen */
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&p), 20 + 30, p.len, T0), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_TCP_TRUNC), 1);
	/* TCP payload cut by the snaplen */
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&p), p.len - 1, p.len, T0 + 5 * SEC), BW_OK);
	assert_true(x->p.payload_cut);
	assert_int_equal(x->p.payload_len, 2);
}

/* ---- fragments -------------------------------------------------------- */

static uint8_t l4buf[4000];

/* UDP datagram (header + n payload bytes) into l4buf. */
static size_t make_l4_udp(size_t n)
{
	struct pk p;
	pk_init(&p);
	pk_payload(&p, n, 7);
	push_udp(&p, 5353, 53);
	memcpy(l4buf, pk_data(&p), p.len);
	return p.len;
}

static void frag4(struct pk *p, const uint8_t *l4, uint32_t off, uint32_t len, bool more, uint16_t id)
{
	pk_init(p);
	pk_append(p, l4 + off, len);
	push_ip4x(p, 17, A4(192, 0, 2, 1), A4(198, 51, 100, 2), 64, id,
		  (uint16_t)((more ? 0x2000 : 0) | (off / 8)), NULL, 0);
	push_eth(p, 0x0800);
}

static void frag6(struct pk *p, const uint8_t *l4, uint32_t off, uint32_t len, bool more, uint32_t id)
{
	pk_init(p);
	pk_append(p, l4 + off, len);
	push_frag6(p, 17, off, more, id);
	push_ext6(p, 0, 44, 8); /* hop-by-hop before it: unfragmentable part */
	push_ip6(p, 0, 1, 2);
	push_eth(p, 0x86DD);
}

static void check_reassembled(struct fx *x, size_t n)
{
	assert_true(x->p.reassembled);
	assert_int_equal(x->p.proto, 17);
	assert_int_equal(x->p.sport, 5353);
	assert_int_equal(x->p.dport, 53);
	assert_int_equal(x->p.payload_len, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(x->p.payload[i], (uint8_t)(7 + i * 13));
}

static void test_frag_orders(void **state)
{
	struct fx *x = *state;
	static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	size_t n = make_l4_udp(3000);
	const uint32_t off[3] = {0, 1232, 2464};
	const uint32_t len[3] = {1232, 1232, (uint32_t)n - 2464};
	for (int v = 0; v < 2; v++) {
		for (int pi = 0; pi < 6; pi++) {
			for (int i = 0; i < 3; i++) {
				int j = perms[pi][i];
				struct pk p;
				if (v == 0)
					frag4(&p, l4buf, off[j], len[j], j != 2, (uint16_t)(500 + pi));
				else
					frag6(&p, l4buf, off[j], len[j], j != 2, (uint32_t)(0x10000 + pi));
				int r = dec(x, BW_LINK_ETHERNET, &p);
				assert_int_equal(r, i == 2 ? BW_OK : BW_EAGAIN);
			}
			check_reassembled(x, 3000);
			assert_int_equal(x->p.ip_version, v == 0 ? 4 : 6);
		}
	}
	const struct bw_decode_stats *st = bw_decoder_stats(x->d);
	assert_int_equal(st->frag_fragments, 36);
	assert_int_equal(st->frag_reassembled, 12);
	assert_int_equal(an_total(x), 0);
}

static void test_frag_duplicates_overlaps(void **state)
{
	struct fx *x = *state;
	size_t n = make_l4_udp(2000);
	struct pk p;
	/* duplicated first fragment: ignored, datagram completes once */
	frag4(&p, l4buf, 0, 1000, true, 1);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	frag4(&p, l4buf, 1000, (uint32_t)n - 1000, false, 1);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_reassembled(x, 2000);
	assert_int_equal(an(x, BW_AN_FRAG_OVERLAP) + an(x, BW_AN_FRAG_OVERLAP_CONFLICT), 0);
	/* IPv4 overlap, identical bytes: counted, delivered */
	frag4(&p, l4buf, 0, 1000, true, 2);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	frag4(&p, l4buf, 800, (uint32_t)n - 800, false, 2);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_reassembled(x, 2000);
	assert_int_equal(an(x, BW_AN_FRAG_OVERLAP), 1);
	/* IPv4 overlap, different bytes: first wins, counted */
	static uint8_t evil[4000];
	memcpy(evil, l4buf, n);
	memset(evil + 800, 0xEE, 200);
	frag4(&p, l4buf, 0, 1000, true, 3);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	frag4(&p, evil, 800, (uint32_t)n - 800, false, 3);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_reassembled(x, 2000);
	assert_int_equal(an(x, BW_AN_FRAG_OVERLAP_CONFLICT), 1);
	/* IPv6 overlap: the datagram is dropped */
	frag6(&p, l4buf, 0, 1000, true, 4);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	frag6(&p, l4buf, 800, (uint32_t)n - 800, false, 4);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_FRAG_OVERLAP), 2);
	/* IPv6 duplicate fragment: fine */
	frag6(&p, l4buf, 0, 1000, true, 5);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EAGAIN);
	frag6(&p, l4buf, 1000, (uint32_t)n - 1000, false, 5);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_reassembled(x, 2000);
	/* a middle fragment that is not a multiple of 8 */
	frag4(&p, l4buf, 0, 1001, true, 6);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_FRAG_BAD), 1);
	/* a fragment cut by the snaplen cannot be used */
	frag4(&p, l4buf, 0, 1000, true, 7);
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&p), p.len - 10, p.len, T0), BW_ETRUNC);
	/* a fragment reaching past 65535 */
	frag4(&p, l4buf, 0, 1000, false, 8);
	w16(pk_data(&p) + 14 + 6, 0x1fff);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_FRAG_TOO_BIG), 1);
}

static void test_frag_timeout_caps(void **state)
{
	(void)state;
	struct bw_anomalies a;
	memset(&a, 0, sizeof(a));
	struct bw_decode_config c;
	bw_decode_config_default(&c);
	c.frag_max_datagrams = 2;
	c.frag_timeout = 5 * SEC;
	c.frag_mem_cap = 3 * 1040; /* three pages */
	struct bw_decoder *d = bw_decoder_new(&c, &a);
	assert_non_null(d);
	struct bw_packet pkt;
	size_t n = make_l4_udp(2000);
	struct pk p;
	/* timeout */
	frag4(&p, l4buf, 0, 1000, true, 1);
	assert_int_equal(bw_decode_frame(d, 1, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0, &pkt), BW_EAGAIN);
	frag4(&p, l4buf, 1000, (uint32_t)n - 1000, false, 1);
	assert_int_equal(bw_decode_frame(d, 1, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0 + 6 * SEC, &pkt),
			 BW_EAGAIN);
	assert_int_equal(a.n[BW_AN_FRAG_TIMEOUT], 1);
	assert_int_equal(bw_decoder_stats(d)->frag_evicted, 1);
	/* any frame moves time on: the half datagram above times out too */
	build_udp4(&p, 1, 2, 3);
	assert_int_equal(bw_decode_frame(d, BW_LINK_RAW, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len,
					 T0 + 20 * SEC, &pkt), BW_OK);
	assert_int_equal(a.n[BW_AN_FRAG_TIMEOUT], 2);
	/* too many datagrams */
	for (uint16_t id = 10; id < 13; id++) {
		frag4(&p, l4buf, 0, 8, true, id);
		assert_int_equal(bw_decode_frame(d, 1, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0 + 21 * SEC,
						 &pkt), BW_EAGAIN);
	}
	assert_int_equal(a.n[BW_AN_FRAG_TOO_MANY], 1);
	/* memory cap: 2000 bytes need two pages, a third datagram evicts */
	frag4(&p, l4buf, 0, 1992, true, 20);
	assert_int_equal(bw_decode_frame(d, 1, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0 + 22 * SEC, &pkt),
			 BW_EAGAIN);
	frag4(&p, l4buf, 0, 1992, true, 21);
	assert_int_equal(bw_decode_frame(d, 1, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0 + 22 * SEC, &pkt),
			 BW_EAGAIN);
	assert_true(a.n[BW_AN_FRAG_MEMCAP] >= 1);
	/* bigger than the whole pool: dropped and reported as malformed, not as a duplicate */
	static uint8_t big[4000];
	frag4(&p, big, 0, 3992, true, 22);
	assert_int_equal(bw_decode_frame(d, 1, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0 + 22 * SEC, &pkt),
			 BW_EMALF);
	bw_decoder_free(d);
}

/* ---- tunnels ---------------------------------------------------------- */

static void check_tunnel(struct fx *x, unsigned i, enum bw_tunnel_type t, uint32_t id)
{
	assert_true(x->p.n_tunnel > i);
	assert_int_equal(x->p.tunnel[i].type, t);
	assert_int_equal(x->p.tunnel[i].id, id);
}

/* inner UDP/IPv4, then GRE with the given flags, then outer IPv4 + Ethernet */
static void build_gre(struct pk *p, uint16_t flags, uint32_t key)
{
	build_udp4(p, 1, 53, 8);
	push_gre(p, flags, 0x0800, key, 77);
	push_ip4(p, 47, A4(10, 0, 0, 1), A4(10, 0, 0, 2));
	push_eth(p, 0x0800);
}

static void test_gre(void **state)
{
	struct fx *x = *state;
	struct pk p;
	const uint16_t flags[] = {0, 0x2000, 0x1000, 0x8000, 0xB000};
	for (unsigned i = 0; i < BW_ARRAY_SIZE(flags); i++) {
		build_gre(&p, flags[i], 0xfeed);
		assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
		check_udp4(x, 1, 53, 8);
		check_tunnel(x, 0, BW_TUN_GRE, flags[i] & 0x2000 ? 0xfeed : 0);
		assert_int_equal(x->p.tunnel[0].src.a[0], 10);
		assert_int_equal(x->p.tunnel[0].dst.a[3], 2);
		assert_int_equal(x->p.n_tunnel, 1);
	}
	/* IPv6 inside */
	pk_init(&p);
	pk_payload(&p, 8, 7);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	push_gre(&p, 0, 0x86DD, 0, 0);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	/* transparent Ethernet bridging */
	build_udp4(&p, 1, 53, 8);
	push_eth(&p, 0x0800);
	push_gre(&p, 0x2000, 0x6558, 5, 0);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_tunnel(x, 0, BW_TUN_GRE, 5);
	/* unknown protocol, routing bit, bad version, truncated header */
	build_udp4(&p, 1, 53, 8);
	push_gre(&p, 0, 0x1234, 0, 0);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	build_udp4(&p, 1, 53, 8);
	push_gre(&p, 0x4000, 0x0800, 0, 0);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	build_udp4(&p, 1, 53, 8);
	push_gre(&p, 0x0002, 0x0800, 0, 0);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	assert_int_equal(an(x, BW_AN_TUNNEL_UNSUPPORTED), 3);
	pk_init(&p);
	uint8_t *g = pk_push(&p, 6);
	memset(g, 0, 6);
	w16(g, 0x2000);
	w16(g + 2, 0x0800);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_TUNNEL_TRUNC), 1);
}

static void test_gre_pptp(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 1, 53, 8);
	uint8_t *h = pk_push(&p, 4);
	h[0] = 0xFF, h[1] = 0x03;
	w16(h + 2, 0x0021);
	size_t plen = p.len;
	h = pk_push(&p, 16);
	w16(h, 0x3081); /* K, S, A, version 1 */
	w16(h + 2, 0x880B);
	w16(h + 4, (uint16_t)plen);
	w16(h + 6, 6016); /* call id */
	w32(h + 8, 1);
	w32(h + 12, 2);
	push_ip4(&p, 47, 1, 2);
	push_eth(&p, 0x0800);
	uint8_t pad[6] = {0};
	pk_append(&p, pad, sizeof(pad));
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	check_tunnel(x, 0, BW_TUN_GRE, 6016);
	/* acknowledgment only */
	pk_init(&p);
	h = pk_push(&p, 12);
	w16(h, 0x2081);
	w16(h + 2, 0x880B);
	w16(h + 4, 0);
	w16(h + 6, 1);
	w32(h + 8, 5);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
}

static void test_erspan(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* type I: no header, no sequence bit */
	build_udp4(&p, 1, 53, 8);
	push_eth(&p, 0x0800);
	push_gre(&p, 0, 0x88BE, 0, 0);
	push_ip4(&p, 47, A4(10, 9, 9, 1), A4(10, 9, 9, 2));
	push_eth(&p, 0x0800);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	check_tunnel(x, 0, BW_TUN_ERSPAN1, 0);
	/* type II */
	build_udp4(&p, 1, 53, 8);
	push_vlan(&p, 300, 0x0800);
	push_eth(&p, 0x8100);
	push_erspan2(&p, 0x155, false);
	push_gre(&p, 0x1000, 0x88BE, 0, 9);
	push_ip4(&p, 47, A4(10, 9, 9, 1), A4(10, 9, 9, 2));
	push_eth(&p, 0x0800);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	check_tunnel(x, 0, BW_TUN_ERSPAN2, 0x155);
	assert_int_equal(x->p.vlan_inner, 300);
	/* type II, truncated by the session: a short inner frame is not malformed */
	build_udp4(&p, 1, 53, 100);
	push_eth(&p, 0x0800);
	push_erspan2(&p, 3, true);
	push_gre(&p, 0x1000, 0x88BE, 0, 9);
	push_ip4(&p, 47, A4(10, 9, 9, 1), A4(10, 9, 9, 2));
	w16(pk_data(&p) + 2, (uint16_t)(p.len - 50));
	p.len -= 50;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_true(x->p.payload_cut);
	assert_int_equal(x->p.payload_len, 50);
	/* type III, with and without the platform subheader */
	for (int o = 0; o < 2; o++) {
		build_udp4(&p, 1, 53, 8);
		push_eth(&p, 0x0800);
		push_erspan3(&p, 0x3ff, o);
		push_gre(&p, 0x1000, 0x22EB, 0, 9);
		push_ip4(&p, 47, A4(10, 9, 9, 1), A4(10, 9, 9, 2));
		assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
		check_udp4(x, 1, 53, 8);
		check_tunnel(x, 0, BW_TUN_ERSPAN3, 0x3ff);
	}
	/* a wrong version number */
	build_udp4(&p, 1, 53, 8);
	push_eth(&p, 0x0800);
	push_erspan3(&p, 1, false);
	pk_data(&p)[0] = 0x30;
	push_gre(&p, 0x1000, 0x22EB, 0, 9);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	/* header cut */
	pk_init(&p);
	pk_push(&p, 6);
	memset(pk_data(&p), 0, 6);
	push_gre(&p, 0x1000, 0x88BE, 0, 9);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
}

static void test_vxlan_geneve(void **state)
{
	struct fx *x = *state;
	struct pk p;
	const uint16_t ports[] = {4789, 8472};
	for (unsigned i = 0; i < 2; i++) {
		build_udp4(&p, 1, 53, 8);
		push_eth(&p, 0x0800);
		push_vxlan(&p, 0x123456);
		push_udp(&p, 50000, ports[i]);
		push_ip4(&p, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
		push_eth(&p, 0x0800);
		assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
		check_udp4(x, 1, 53, 8);
		check_tunnel(x, 0, BW_TUN_VXLAN, 0x123456);
		assert_int_equal(x->p.tunnel[0].sport, 50000);
		assert_int_equal(x->p.tunnel[0].dport, ports[i]);
	}
	/* not VXLAN after all (I flag clear): plain UDP */
	build_udp4(&p, 1, 53, 8);
	push_eth(&p, 0x0800);
	push_vxlan(&p, 1);
	pk_data(&p)[0] = 0;
	push_udp(&p, 50000, 4789);
	push_ip4(&p, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.n_tunnel, 0);
	assert_int_equal(x->p.dport, 4789);
	/* a DNS response to a client that happened to pick port 4789 */
	build_udp4(&p, 53, 4789, 30);
	uint8_t *dns = pk_data(&p) + 28;
	dns[0] = 0x08, dns[1] = 0, dns[2] = 0, dns[3] = 0, dns[7] = 0;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.n_tunnel, 0);
	/* GENEVE, Ethernet and IP payloads, with options */
	for (int opt = 0; opt < 3; opt++) {
		build_udp4(&p, 1, 53, 8);
		uint16_t proto = 0x0800;
		if (opt != 1) {
			push_eth(&p, 0x0800);
			proto = 0x6558;
		}
		push_geneve(&p, proto, (size_t)opt * 2, 0xabcdef);
		push_udp(&p, 50000, 6081);
		push_ip4(&p, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
		assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
		check_udp4(x, 1, 53, 8);
		check_tunnel(x, 0, BW_TUN_GENEVE, 0xabcdef);
	}
	/* GENEVE options longer than the packet */
	pk_init(&p);
	push_geneve(&p, 0x6558, 0, 1);
	pk_data(&p)[0] = 10;
	push_udp(&p, 50000, 6081);
	push_ip4(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_TUNNEL_TRUNC), 1);
	/* GENEVE carrying something else */
	pk_init(&p);
	pk_payload(&p, 20, 0);
	push_geneve(&p, 0x894F, 0, 1);
	push_udp(&p, 50000, 6081);
	push_ip4(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	/* GRE over UDP */
	build_udp4(&p, 1, 53, 8);
	push_gre(&p, 0, 0x0800, 0, 0);
	push_udp(&p, 50343, 4754);
	push_ip4(&p, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	check_tunnel(x, 0, BW_TUN_GRE, 0);
	assert_int_equal(x->p.tunnel[0].dport, 4754);
}

static void test_ipip_teredo(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* IPv4 in IPv4 */
	build_udp4(&p, 1, 53, 8);
	push_ip4(&p, 4, A4(10, 0, 0, 1), A4(10, 0, 0, 2));
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	check_tunnel(x, 0, BW_TUN_IPIP, 0);
	/* IPv6 in IPv4 (6in4) */
	pk_init(&p);
	pk_payload(&p, 8, 7);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	push_ip4(&p, 41, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	check_tunnel(x, 0, BW_TUN_IPIP, 0);
	assert_int_equal(x->p.tunnel[0].src.family, 4);
	/* IPv4 in IPv6 */
	build_udp4(&p, 1, 53, 8);
	push_ip6(&p, 4, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	assert_int_equal(x->p.tunnel[0].src.family, 6);
	/* protocol 4 with an IPv6 packet inside */
	pk_init(&p);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	push_ip4(&p, 4, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	/* Teredo, with an origin indication */
	pk_init(&p);
	pk_payload(&p, 8, 7);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	uint8_t *o = pk_push(&p, 8);
	memset(o, 0, 8);
	push_udp(&p, 3544, 40000);
	push_ip4(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	assert_int_equal(x->p.sport, 1);
	check_tunnel(x, 0, BW_TUN_TEREDO, 0);
	/* too deep: BW_MAX_TUNNEL + 1 layers of IP-in-IP */
	for (int n = BW_MAX_TUNNEL; n <= BW_MAX_TUNNEL + 1; n++) {
		build_udp4(&p, 1, 53, 8);
		for (int i = 0; i < n; i++)
			push_ip4(&p, 4, A4(10, 0, 0, i), A4(10, 0, 1, i));
		assert_int_equal(dec(x, BW_LINK_RAW, &p), n <= BW_MAX_TUNNEL ? BW_OK : BW_EMALF);
		if (n == BW_MAX_TUNNEL) {
			assert_int_equal(x->p.n_tunnel, BW_MAX_TUNNEL);
			assert_int_equal(x->p.tunnel[0].src.a[3], n - 1); /* outermost first */
		}
	}
	assert_int_equal(an(x, BW_AN_TUNNEL_TOO_DEEP), 1);
	assert_string_equal(bw_tunnel_name(BW_TUN_VXLAN), "vxlan");
	assert_string_equal(bw_tunnel_name(BW_TUN_ERSPAN3), "erspan3");
	assert_string_equal(bw_tunnel_name(BW_TUN_NONE), "none");
	assert_string_equal(bw_tunnel_name((enum bw_tunnel_type)99), "unknown");
}

static void test_fragmented_tunnel(void **state)
{
	struct fx *x = *state;
	/* VXLAN whose outer UDP datagram is fragmented, whose inner IP is fragmented too */
	size_t n = make_l4_udp(1500);
	struct pk inner[2];
	/* inner fragments as Ethernet frames */
	frag4(&inner[0], l4buf, 0, 800, true, 77);
	frag4(&inner[1], l4buf, 800, (uint32_t)n - 800, false, 77);
	for (int k = 0; k < 2; k++) {
		struct pk outer;
		pk_init(&outer);
		pk_append(&outer, pk_data(&inner[k]), inner[k].len);
		push_vxlan(&outer, 42);
		push_udp(&outer, 50000, 4789);
		uint8_t dgram[2000];
		size_t dl = outer.len;
		memcpy(dgram, pk_data(&outer), dl);
		/* split the outer UDP datagram in two */
		struct pk f;
		pk_init(&f);
		pk_append(&f, dgram, 400);
		push_ip4x(&f, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2), 64, (uint16_t)(900 + k), 0x2000, NULL, 0);
		push_eth(&f, 0x0800);
		assert_int_equal(dec(x, BW_LINK_ETHERNET, &f), BW_EAGAIN);
		pk_init(&f);
		pk_append(&f, dgram + 400, dl - 400);
		push_ip4x(&f, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2), 64, (uint16_t)(900 + k), 400 / 8, NULL, 0);
		push_eth(&f, 0x0800);
		int r = dec(x, BW_LINK_ETHERNET, &f);
		assert_int_equal(r, k == 0 ? BW_EAGAIN : BW_OK);
	}
	check_reassembled(x, 1500);
	check_tunnel(x, 0, BW_TUN_VXLAN, 42);
	assert_int_equal(an_total(x), 0);
}

/* ---- duplicates ------------------------------------------------------- */

static void test_dedup(void **state)
{
	struct fx *x = *state;
	struct pk native, copy;
	build_udp4(&native, 1234, 53, 40);
	push_eth(&native, 0x0800);
	/* the mirrored copy: one hop later (TTL and checksum differ), inside ERSPAN */
	pk_init(&copy);
	pk_payload(&copy, 40, 7);
	push_udp(&copy, 1234, 53);
	push_ip4x(&copy, 17, A4(192, 0, 2, 1), A4(198, 51, 100, 2), 63, 0x1234, 0, NULL, 0);
	push_vlan(&copy, 10, 0x0800);
	push_eth(&copy, 0x8100);
	push_erspan2(&copy, 1, false);
	push_gre(&copy, 0x1000, 0x88BE, 0, 1);
	push_ip4(&copy, 47, A4(10, 1, 1, 1), A4(10, 1, 1, 2));
	push_eth(&copy, 0x0800);

	bw_time_t t = T0 + 1000 * SEC;
	uint64_t dups = bw_decoder_stats(x->d)->duplicates;
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&native), native.len, native.len, t), BW_OK);
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&copy), copy.len, copy.len, t + 3 * MS), BW_ELIMIT);
	assert_int_equal(x->p.n_tunnel, 1); /* the duplicate is still fully decoded */
	assert_int_equal(bw_decoder_stats(x->d)->duplicates, dups + 1);
	/* the same bytes a second later: a retransmission, not a duplicate */
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&native), native.len, native.len, t + SEC), BW_OK);
	/* a different IP id is a different packet */
	pk_data(&native)[14 + 5] ^= 1;
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&native), native.len, native.len, t + SEC + MS), BW_OK);
	/* reassembled datagrams are compared too, whatever the fragment order */
	size_t n = make_l4_udp(2000);
	struct pk f;
	frag4(&f, l4buf, 0, 1000, true, 55);
	assert_int_equal(dec_at(x, 1, pk_data(&f), f.len, f.len, t + 2 * SEC), BW_EAGAIN);
	frag4(&f, l4buf, 1000, (uint32_t)n - 1000, false, 55);
	assert_int_equal(dec_at(x, 1, pk_data(&f), f.len, f.len, t + 2 * SEC), BW_OK);
	frag4(&f, l4buf, 1000, (uint32_t)n - 1000, false, 55);
	assert_int_equal(dec_at(x, 1, pk_data(&f), f.len, f.len, t + 2 * SEC + MS), BW_EAGAIN);
	frag4(&f, l4buf, 0, 1000, true, 55);
	assert_int_equal(dec_at(x, 1, pk_data(&f), f.len, f.len, t + 2 * SEC + MS), BW_ELIMIT);
	assert_true(x->p.reassembled);
	/* IPv6: hop limit ignored */
	struct pk a6, b6;
	pk_init(&a6);
	pk_payload(&a6, 10, 1);
	push_udp(&a6, 9, 53);
	push_ip6x(&a6, 17, 1, 2, 64);
	pk_init(&b6);
	pk_payload(&b6, 10, 1);
	push_udp(&b6, 9, 53);
	push_ip6x(&b6, 17, 1, 2, 60);
	push_ip4(&b6, 41, 1, 2);
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&a6), a6.len, a6.len, t + 3 * SEC), BW_OK);
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&b6), b6.len, b6.len, t + 3 * SEC + 49 * MS), BW_ELIMIT);
}

static void test_dedup_off(void **state)
{
	(void)state;
	struct bw_decode_config c;
	bw_decode_config_default(&c);
	assert_int_equal(c.dedup_window, 50 * MS);
	assert_int_equal(c.dedup_slots, 65536);
	assert_int_equal(c.frag_mem_cap, 16u << 20);
	assert_int_equal(c.frag_max_datagrams, 4096);
	assert_int_equal(c.frag_timeout, 30 * SEC);
	c.dedup_window = 0;
	struct bw_decoder *d = bw_decoder_new(&c, NULL); /* no anomaly counters: fine */
	assert_non_null(d);
	struct pk p;
	struct bw_packet pkt;
	build_udp4(&p, 1, 2, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bw_decode_frame(d, BW_LINK_RAW, pk_data(&p), (uint32_t)p.len, (uint32_t)p.len, T0, &pkt),
				 BW_OK);
	assert_int_equal(bw_decode_frame(d, BW_LINK_RAW, pk_data(&p), 5, 5, T0, &pkt), BW_ETRUNC);
	const struct bw_decode_stats *st = bw_decoder_stats(d);
	assert_int_equal(st->frames, 4);
	assert_int_equal(st->udp, 3);
	assert_int_equal(st->ipv4, 3);
	assert_int_equal(st->duplicates, 0);
	bw_decoder_free(d);
	bw_decoder_free(NULL);
}

/* ---- offline bypass (finished-flow set) ------------------------------ */

/* A TCP segment A:sport -> B:dport in VLAN vid (0: untagged), Ethernet. */
static void build_tcp4(struct pk *p, uint32_t a, uint32_t b, uint16_t sport, uint16_t dport, uint32_t seq,
		       uint8_t flags, size_t n, uint16_t vid)
{
	pk_init(p);
	pk_payload(p, n, (uint8_t)seq);
	push_tcp(p, sport, dport, seq, 1, flags, 0);
	push_ip4x(p, 6, a, b, 64, (uint16_t)seq, 0, NULL, 0);
	if (vid) {
		push_vlan(p, vid, 0x0800);
		push_eth(p, 0x8100);
	} else {
		push_eth(p, 0x0800);
	}
}

#define BA A4(10, 0, 0, 1)
#define BB A4(10, 0, 0, 2)

static int seg(struct fx *x, uint32_t a, uint32_t b, uint16_t sp, uint16_t dp, uint32_t seq, uint8_t fl, uint16_t vid,
	       bw_time_t t)
{
	struct pk p;
	build_tcp4(&p, a, b, sp, dp, seq, fl, 100, vid);
	return dec_at(x, BW_LINK_ETHERNET, pk_data(&p), p.len, p.len, t);
}

/* Add the flow of the packet just decoded. */
static void add_last(struct fx *x, bw_time_t t)
{
	struct bw_flow_key k;
	bw_flow_key_make(&x->p, &k, NULL);
	bw_decoder_bypass_add(x->d, &k, t);
}

static void test_bypass(void **state)
{
	struct fx *x = *state;
	const uint8_t ACK = BW_TCP_ACK, PSH = BW_TCP_PSH | BW_TCP_ACK;
	bw_time_t t = T0 + 5000 * SEC;
	const struct bw_decode_stats *st = bw_decoder_stats(x->d);

	/* nothing in the set: the normal path */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 1000, PSH, 10, t), BW_OK);
	add_last(x, t);
	uint64_t tcp0 = st->tcp, dup0 = st->duplicates;
	/* both directions, headers still decoded */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 2000, PSH, 10, t + MS), BW_DECODE_BYPASSED);
	assert_int_equal(x->p.sport, 40000);
	assert_int_equal(x->p.seq, 2000);
	assert_int_equal(x->p.vlan_inner, 10);
	assert_int_equal(seg(x, BB, BA, 443, 40000, 7, ACK, 10, t + 2 * MS), BW_DECODE_BYPASSED);
	assert_int_equal(st->bypassed, 2);
	assert_int_equal(st->tcp, tcp0); /* not delivered */
	/* a copy of a bypassed segment is bypassed too, not counted as a duplicate */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 2000, PSH, 10, t + 3 * MS), BW_DECODE_BYPASSED);
	assert_int_equal(st->duplicates, dup0);
	/* the whole key must match: another VLAN, port, or address is another flow */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 3000, PSH, 0, t + 4 * MS), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 3001, PSH, 11, t + 4 * MS), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40001, 443, 3002, PSH, 10, t + 4 * MS), BW_OK);
	assert_int_equal(seg(x, BA, A4(10, 0, 0, 3), 40000, 443, 3003, PSH, 10, t + 4 * MS), BW_OK);
	/* UDP on the same ports is not the TCP flow */
	struct pk u;
	pk_init(&u);
	pk_payload(&u, 30, 1);
	push_udp(&u, 40000, 443);
	push_ip4(&u, 17, BA, BB);
	push_vlan(&u, 10, 0x0800);
	push_eth(&u, 0x8100);
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&u), u.len, u.len, t + 5 * MS), BW_OK);
	/* FIN, RST and SYN-ACK go the normal path and keep the entry */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 4000, BW_TCP_FIN | BW_TCP_ACK, 10, t + 6 * MS), BW_OK);
	assert_int_equal(seg(x, BB, BA, 443, 40000, 8, BW_TCP_RST, 10, t + 7 * MS), BW_OK);
	assert_int_equal(seg(x, BB, BA, 443, 40000, 9, BW_TCP_SYN | BW_TCP_ACK, 10, t + 8 * MS), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 5000, PSH, 10, t + 9 * MS), BW_DECODE_BYPASSED);
	/* a pure SYN is delivered and keeps the entry (the caller removes it if a new connection began) */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9000, BW_TCP_SYN, 10, t + 10 * MS), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9001, PSH, 10, t + 11 * MS), BW_DECODE_BYPASSED);
	struct bw_flow_key key;
	bw_flow_key_make(&x->p, &key, NULL);
	bw_decoder_bypass_del(x->d, &key);
	bw_decoder_bypass_del(x->d, &key); /* not there: nothing */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9002, PSH, 10, t + 12 * MS), BW_OK);
	assert_int_equal(st->bypassed, 5);

	/* idle: every segment refreshes the entry; bypass_idle (120 s) of silence ends it */
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9100, PSH, 10, t + 13 * MS), BW_OK);
	add_last(x, t);
	bw_time_t u0 = t + 100 * SEC;
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9200, PSH, 10, u0), BW_DECODE_BYPASSED);
	assert_int_equal(seg(x, BB, BA, 443, 40000, 10, BW_TCP_FIN | BW_TCP_ACK, 10, u0 + 110 * SEC), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9300, PSH, 10, u0 + 230 * SEC), BW_DECODE_BYPASSED);
	/* other traffic moves the clock: 120 s and 1 ns later the entry is gone */
	assert_int_equal(seg(x, BA, A4(10, 0, 0, 9), 1, 2, 1, ACK, 0, u0 + 350 * SEC + 1), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9400, PSH, 10, u0 + 350 * SEC + 1), BW_OK);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9500, PSH, 10, u0 + 350 * SEC + 2), BW_OK);
	/* exactly bypass_idle is still inside */
	add_last(x, u0 + 400 * SEC);
	assert_int_equal(seg(x, BA, BB, 40000, 443, 9600, PSH, 10, u0 + 520 * SEC), BW_DECODE_BYPASSED);

	/* a fragmented segment of a finished flow: reassembled, then bypassed */
	bw_time_t v = u0 + 600 * SEC;
	static uint8_t l4[1220];
	struct pk whole;
	pk_init(&whole);
	pk_payload(&whole, 1200, 3);
	push_tcp(&whole, 40000, 443, 77777, 1, PSH, 0);
	memcpy(l4, pk_data(&whole), whole.len);
	for (int k = 0; k < 2; k++) {
		struct pk f;
		pk_init(&f);
		uint32_t off = k ? 600 : 0, len = k ? (uint32_t)whole.len - 600 : 600;
		pk_append(&f, l4 + off, len);
		push_ip4x(&f, 6, BA, BB, 64, 4321, (uint16_t)((k ? 0 : 0x2000) | (off / 8)), NULL, 0);
		push_vlan(&f, 10, 0x0800);
		push_eth(&f, 0x8100);
		assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&f), f.len, f.len, v),
				 k ? BW_DECODE_BYPASSED : BW_EAGAIN);
	}
	assert_true(x->p.reassembled);
	assert_int_equal(x->p.payload_len, 1200);

	/* a tunnelled copy of the flow: the key is the inner one (as the TCP table's) */
	struct pk vx;
	build_tcp4(&vx, BA, BB, 40000, 443, 88888, PSH, 100, 10);
	push_vxlan(&vx, 5);
	push_udp(&vx, 50000, 4789);
	push_ip4(&vx, 17, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
	push_eth(&vx, 0x0800);
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&vx), vx.len, vx.len, v + MS), BW_DECODE_BYPASSED);
	assert_int_equal(x->p.n_tunnel, 1);

	/* IPv6 */
	struct pk s6;
	pk_init(&s6);
	pk_payload(&s6, 50, 1);
	push_tcp(&s6, 443, 50000, 1, 1, PSH, 0);
	push_ip6(&s6, 6, 1, 2);
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&s6), s6.len, s6.len, v + 2 * MS), BW_OK);
	add_last(x, v + 2 * MS);
	pk_data(&s6)[40 + 4] = 9; /* another sequence number */
	assert_int_equal(dec_at(x, BW_LINK_RAW, pk_data(&s6), s6.len, s6.len, v + 3 * MS), BW_DECODE_BYPASSED);
	assert_int_equal(x->p.ip_version, 6);

	/* a flow not in the set still meets the duplicate filter */
	assert_int_equal(seg(x, BA, BB, 41000, 443, 1, PSH, 0, v + 4 * MS), BW_OK);
	assert_int_equal(seg(x, BA, BB, 41000, 443, 1, PSH, 0, v + 5 * MS), BW_ELIMIT);
	/* a capture older than the one before it: entries live on the decoder's clock, not the packets' */
	assert_int_equal(seg(x, BA, BB, 42000, 443, 1, PSH, 0, T0), BW_OK);
	add_last(x, T0);
	assert_int_equal(seg(x, BA, BB, 42000, 443, 2, PSH, 0, T0 + MS), BW_DECODE_BYPASSED);
	/* UDP keys and a NULL decoder are ignored */
	struct bw_flow_key uk = { .proto = 17 };
	bw_decoder_bypass_add(x->d, &uk, v);
	bw_decoder_bypass_add(NULL, &uk, v);
	bw_decoder_bypass_add(x->d, NULL, v);
}

/* Two slots (one set): the flow heard from longest ago goes; never a false match. */
static void test_bypass_small_set(void **state)
{
	(void)state;
	struct bw_decode_config c;
	bw_decode_config_default(&c);
	assert_int_equal(c.bypass_slots, 2048);
	assert_int_equal(c.bypass_idle, 120 * SEC);
	c.bypass_slots = 2;
	c.dedup_window = 0;
	struct fx fx = { 0 };
	struct fx *x = &fx;
	x->d = bw_decoder_new(&c, &x->an);
	assert_non_null(x->d);
	bw_time_t t = T0;
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(seg(x, BA, BB, (uint16_t)(1000 + i), 443, 1, BW_TCP_ACK, 0, t + i * SEC), BW_OK);
		add_last(x, t + i * SEC);
	}
	/* adding again refreshes, no second slot */
	assert_int_equal(seg(x, BA, BB, 1002, 443, 1, BW_TCP_ACK, 0, t + 3 * SEC), BW_DECODE_BYPASSED);
	assert_int_equal(seg(x, BA, BB, 1000, 443, 2, BW_TCP_ACK, 0, t + 3 * SEC), BW_OK); /* pushed out */
	assert_int_equal(seg(x, BA, BB, 1001, 443, 2, BW_TCP_ACK, 0, t + 3 * SEC), BW_DECODE_BYPASSED);
	/* many flows through the one set: a key never decoded as bypassed before it
	 * is added, the newest two added stay, the third newest is gone */
	for (uint32_t i = 0; i < 3000; i++) {
		uint32_t a = A4(10, 1, (i >> 8) & 255, i & 255);
		uint16_t sp = (uint16_t)(2000 + i % 7), vid = (uint16_t)(i % 3);
		bw_time_t ti = t + (10 + i) * SEC;
		assert_int_equal(seg(x, a, BB, sp, 443, 1, BW_TCP_ACK, vid, ti), BW_OK);
		add_last(x, ti);
		assert_int_equal(seg(x, a, BB, sp, 443, 2, BW_TCP_ACK, vid, ti), BW_DECODE_BYPASSED);
		if (i >= 2) {
			uint32_t o = i - 2;
			assert_int_equal(seg(x, A4(10, 1, (o >> 8) & 255, o & 255), BB, (uint16_t)(2000 + o % 7), 443, 3,
					     BW_TCP_ACK, (uint16_t)(o % 3), ti),
					 BW_OK);
		}
	}
	assert_int_equal(bw_decoder_stats(x->d)->bypassed, 2 + 3000);
	assert_int_equal(bw_decoder_stats(x->d)->bypass_evicted, 1 + 3000); /* flow 1002 pushed 1000 out, then each of the 3000 one more */
	bw_decoder_free(x->d);

	/* off: nothing is added, nothing bypassed */
	c.bypass_slots = 0;
	x->d = bw_decoder_new(&c, &x->an);
	assert_non_null(x->d);
	assert_int_equal(seg(x, BA, BB, 1, 443, 1, BW_TCP_ACK, 0, t), BW_OK);
	add_last(x, t);
	assert_int_equal(seg(x, BA, BB, 1, 443, 2, BW_TCP_ACK, 0, t), BW_OK);
	assert_int_equal(bw_decoder_stats(x->d)->bypassed, 0);
	bw_decoder_free(x->d);
}

/* ---- truncation at every byte ------------------------------------------ */

static void truncate_all(struct fx *x, struct pk *p, int lt)
{
	bw_time_t t = T0 + 5000 * SEC;
	for (size_t n = 0; n < p->len; n++) {
		t += SEC;
		/* the frame really is this short */
		int r = dec_at(x, lt, pk_data(p), n, n, t);
		assert_true(r == BW_ETRUNC || r == BW_EMALF);
		/* the snaplen cut it: errors, or a packet marked cut */
		t += SEC;
		r = dec_at(x, lt, pk_data(p), n, p->len, t);
		if (r == BW_OK)
			assert_true(x->p.payload_cut);
		else
			assert_true(r == BW_ETRUNC || r == BW_EMALF);
	}
	assert_int_equal(dec_at(x, lt, pk_data(p), p->len, p->len, t + SEC), BW_OK);
	assert_false(x->p.payload_cut);
}

static void test_truncation(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 1, 53, 20);
	push_vlan(&p, 5, 0x0800);
	push_eth(&p, 0x8100);
	truncate_all(x, &p, BW_LINK_ETHERNET);

	const uint8_t types[] = {0, 60};
	const size_t lens[] = {8, 16};
	build_tcp6_ext(&p, types, lens, 2, 10);
	push_eth(&p, 0x86DD);
	truncate_all(x, &p, BW_LINK_ETHERNET);

	/* and through a tunnel */
	build_udp4(&p, 1, 53, 8);
	push_eth(&p, 0x0800);
	push_vxlan(&p, 9);
	push_udp(&p, 50000, 4789);
	push_ip6(&p, 17, 1, 2);
	truncate_all(x, &p, BW_LINK_RAW);
}

/* GTP-U in front of what is there: flags (E 4, S 2, PN 1 in the low bits),
 * message type, TEID, and n extension headers of units[i] 4-byte units. */
static void push_gtpu(struct pk *p, uint8_t flags, uint8_t type, uint32_t teid, const uint8_t *units, unsigned n)
{
	uint8_t next = 0;
	for (unsigned i = n; i-- > 0;) {
		size_t l = (size_t)units[i] * 4;
		uint8_t *b = pk_push(p, l);
		memset(b, 0x11, l);
		b[0] = units[i];
		b[l - 1] = next;
		next = 0x85; /* PDU session container */
	}
	if (flags & 7) {
		uint8_t *b = pk_push(p, 4);
		w16(b, 0x1234);
		b[2] = 0;
		b[3] = next;
	}
	size_t len = p->len;
	uint8_t *b = pk_push(p, 8);
	b[0] = (uint8_t)(0x30 | flags);
	b[1] = type;
	w16(b + 2, (uint16_t)len);
	w32(b + 4, teid);
}

/* inner UDP/IPv4 (1 -> 53, 8 bytes), GTP-U, outer UDP/IPv4 */
static void build_gtpu(struct pk *p, uint8_t flags, uint8_t type, const uint8_t *units, unsigned n, uint16_t sport,
		       uint16_t dport)
{
	build_udp4(p, 1, 53, 8);
	push_gtpu(p, flags, type, 0x07ece496, units, n);
	push_udp(p, sport, dport);
	push_ip4(p, 17, A4(10, 238, 36, 64), A4(10, 238, 244, 49));
}

/* ndpi-tls-invalid-reads.pcapng frame 10 (ntop/nDPI tests): two VLAN tags,
 * GTP-U G-PDU (no options) carrying a TCP SYN to 54.221.224.45:443 */
static const uint8_t gtpu_frame[118] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x60, 0x08, 0x10, 0x1a, 0x1c, 0x7f, 0x81, 0x00, 0x6c, 0x9f,
	0x81, 0x00, 0x60, 0x02, 0x08, 0x00, 0x45, 0x68, 0x00, 0x60, 0xd5, 0x7a, 0x00, 0x00, 0xff, 0x11,
	0xb7, 0x5c, 0x0a, 0xee, 0x24, 0x40, 0x0a, 0xee, 0xf4, 0x31, 0x08, 0x68, 0x08, 0x68, 0x00, 0x4c,
	0x00, 0x00, 0x30, 0xff, 0x00, 0x3c, 0x07, 0xec, 0xe4, 0x96, 0x45, 0x00, 0x00, 0x3c, 0xb1, 0xdd,
	0x40, 0x00, 0x40, 0x06, 0xdc, 0x03, 0x0a, 0xbf, 0x8b, 0x11, 0x36, 0xdd, 0xe0, 0x2d, 0xe4, 0xb8,
	0x01, 0xbb, 0xf9, 0x15, 0x7c, 0x9e, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xff, 0xff, 0x71, 0xa6,
	0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x14, 0xcd, 0x43, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x03, 0x03, 0x06,
};

static void test_gtpu(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* the real capture */
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, gtpu_frame, sizeof(gtpu_frame), sizeof(gtpu_frame), T0), BW_OK);
	assert_int_equal(x->p.proto, 6);
	assert_int_equal(x->p.sport, 58552);
	assert_int_equal(x->p.dport, 443);
	assert_int_equal(x->p.tcp_flags, BW_TCP_SYN);
	assert_int_equal(x->p.n_vlan, 2);
	assert_int_equal(x->p.n_tunnel, 1);
	check_tunnel(x, 0, BW_TUN_GTPU, 0x07ece496);
	assert_int_equal(x->p.tunnel[0].sport, 2152);
	assert_int_equal(x->p.tunnel[0].dport, 2152);
	assert_int_equal(x->p.tunnel[0].src.a[0], 10);
	assert_int_equal(x->p.tunnel[0].src.a[1], 238);
	assert_int_equal(x->p.src.a[1], 191); /* 10.191.139.17 inside */
	assert_int_equal(x->p.dst.a[0], 54);

	/* without options; with S or PN (optional fields, no chain); with E and
	 * one, two or 16 extension headers; from 2152 only, to 2152 only */
	const uint8_t units[16] = {1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
	const struct {
		uint8_t flags;
		unsigned n;
		uint16_t sport, dport;
	} ok[] = {
		{0, 0, 2152, 2152}, {2, 0, 2152, 2152}, {1, 0, 40000, 2152}, {4, 1, 2152, 2152},
		{6, 2, 2152, 40000}, {7, 16, 2152, 2152},
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(ok); i++) {
		build_gtpu(&p, ok[i].flags, 255, units, ok[i].n, ok[i].sport, ok[i].dport);
		assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
		check_udp4(x, 1, 53, 8);
		assert_int_equal(x->p.n_tunnel, 1);
		check_tunnel(x, 0, BW_TUN_GTPU, 0x07ece496);
		assert_int_equal(x->p.tunnel[0].sport, ok[i].sport);
		assert_int_equal(x->p.tunnel[0].dport, ok[i].dport);
	}
	/* the next-type byte is only read with E: with S alone it is ignored */
	build_gtpu(&p, 2, 255, NULL, 0, 2152, 2152);
	pk_data(&p)[28 + 11] = 0x85;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	/* IPv6 inside */
	pk_init(&p);
	pk_payload(&p, 8, 7);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	push_gtpu(&p, 4, 255, 9, units, 2);
	push_udp(&p, 2152, 2152);
	push_ip6(&p, 17, 3, 4);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	assert_int_equal(x->p.sport, 1);
	check_tunnel(x, 0, BW_TUN_GTPU, 9);
	assert_int_equal(x->p.tunnel[0].src.family, 6);
	uint64_t anomalies = an_total(x);
	assert_int_equal(anomalies, 0);

	/* other message types are plain UDP: echo request/response, error
	 * indication, supported extension headers notification, end marker */
	const uint8_t types[] = {1, 2, 26, 31, 254};
	for (size_t i = 0; i < BW_ARRAY_SIZE(types); i++) {
		build_gtpu(&p, 2, types[i], NULL, 0, 2152, 2152);
		assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
		assert_int_equal(x->p.n_tunnel, 0);
		assert_int_equal(x->p.sport, 2152);
		assert_int_equal(x->p.dport, 2152);
		assert_int_equal(x->p.payload_len, 12 + 20 + 8 + 8);
	}
	/* not GTP-U after all: version 2, GTP' (PT 0), the spare bit, a length
	 * that does not match the datagram (longer, shorter): plain UDP */
	const struct {
		size_t at;
		uint8_t v;
	} notgtp[] = {{0, 0x50}, {0, 0x20}, {0, 0x38}, {3, 0x30}, {3, 0x10}};
	for (size_t i = 0; i < BW_ARRAY_SIZE(notgtp); i++) {
		build_gtpu(&p, 0, 255, NULL, 0, 2152, 2152);
		pk_data(&p)[28 + notgtp[i].at] = notgtp[i].v;
		assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
		assert_int_equal(x->p.n_tunnel, 0);
		assert_int_equal(x->p.dport, 2152);
	}
	/* a service port on either side: a DNS query from port 2152, a response to it */
	const uint16_t sp[][2] = {{2152, 53}, {53, 2152}, {443, 2152}};
	for (size_t i = 0; i < BW_ARRAY_SIZE(sp); i++) {
		build_gtpu(&p, 0, 255, NULL, 0, sp[i][0], sp[i][1]);
		assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
		assert_int_equal(x->p.n_tunnel, 0);
		assert_int_equal(x->p.sport, sp[i][0]);
	}
	assert_int_equal(an_total(x), anomalies);

	/* malformed: an extension header running past the end; one of length
	 * zero; more than 16; an empty G-PDU; a G-PDU that is not IP */
	build_gtpu(&p, 4, 255, units, 1, 2152, 2152);
	pk_data(&p)[28 + 12] = 20;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_TUNNEL_TRUNC), 1);
	pk_data(&p)[28 + 12] = 0;
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_EMALF);
	assert_int_equal(an(x, BW_AN_TUNNEL_UNSUPPORTED), 1);
	uint8_t many[16 + 1];
	memset(many, 1, sizeof(many));
	build_gtpu(&p, 4, 255, many, sizeof(many), 2152, 2152);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	assert_int_equal(an(x, BW_AN_TUNNEL_UNSUPPORTED), 2);
	pk_init(&p);
	push_gtpu(&p, 0, 255, 1, NULL, 0);
	push_udp(&p, 2152, 2152);
	push_ip4(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_TUNNEL_TRUNC), 2);
	pk_init(&p);
	pk_payload(&p, 30, 0x20); /* an Ethernet PDU session */
	push_gtpu(&p, 0, 255, 1, NULL, 0);
	push_udp(&p, 2152, 2152);
	push_ip4(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_ENOTSUP);
	assert_int_equal(an(x, BW_AN_TUNNEL_UNSUPPORTED), 3);
	/* cut by the capture anywhere, with the options and a chain */
	build_gtpu(&p, 7, 255, units, 2, 2152, 2152);
	truncate_all(x, &p, BW_LINK_RAW);
	assert_int_equal(x->p.n_tunnel, 1);
	assert_string_equal(bw_tunnel_name(BW_TUN_GTPU), "gtpu");
}

/* ---- flow keys ---------------------------------------------------------- */

static void test_flow_key(void **state)
{
	struct fx *x = *state;
	struct pk p;
	build_udp4(&p, 40000, 53, 4);
	push_vlan(&p, 33, 0x0800);
	push_eth(&p, 0x8100);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	struct bw_packet a = x->p;
	struct bw_packet b = a;
	b.src = a.dst;
	b.dst = a.src;
	b.sport = a.dport;
	b.dport = a.sport;
	struct bw_flow_key ka, kb;
	memset(&ka, 0xAA, sizeof(ka));
	memset(&kb, 0x55, sizeof(kb)); /* garbage in the padding must be cleared */
	int da = -1, db = -1;
	bw_flow_key_make(&a, &ka, &da);
	bw_flow_key_make(&b, &kb, &db);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_int_equal(bw_flow_key_hash(&ka), bw_flow_key_hash(&kb));
	assert_int_equal(bw_flow_key_hash_seeded(&ka, 7), bw_flow_key_hash_seeded(&kb, 7));
	assert_true(bw_flow_key_hash_seeded(&ka, 7) != bw_flow_key_hash_seeded(&ka, 8));
	assert_true(da != db);
	assert_int_equal(da, 0); /* 192.0.2.1 < 198.51.100.2 */
	assert_int_equal(ka.vlan, 33);
	assert_int_equal(ka.proto, 17);
	assert_int_equal(ka.lo_port, 40000);
	for (unsigned i = 0; i < sizeof(ka.pad); i++)
		assert_int_equal(ka.pad[i], 0);
	/* same addresses: ports decide, still symmetric */
	b = a;
	b.dst = a.src;
	b.sport = 9;
	b.dport = 8;
	struct bw_packet c = b;
	c.sport = 8;
	c.dport = 9;
	bw_flow_key_make(&b, &ka, &da);
	bw_flow_key_make(&c, &kb, &db);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_int_equal(da, 1);
	assert_int_equal(db, 0);
	bw_flow_key_make(&c, &kb, NULL);
	/* another VLAN, another flow */
	b = a;
	b.vlan_inner = 34;
	bw_flow_key_make(&a, &ka, &da);
	bw_flow_key_make(&b, &kb, &db);
	assert_memory_not_equal(&ka, &kb, sizeof(ka));
	assert_true(bw_flow_key_hash(&ka) != bw_flow_key_hash(&kb));
}

static void test_more_paths(void **state)
{
	struct fx *x = *state;
	struct pk p;
	/* an IPv6 fragment cut by the snaplen cannot be used */
	size_t n = make_l4_udp(2000);
	frag6(&p, l4buf, 0, 1000, true, 9);
	assert_int_equal(dec_at(x, BW_LINK_ETHERNET, pk_data(&p), p.len - 10, p.len, T0), BW_ETRUNC);
	assert_int_equal(an(x, BW_AN_IP6_TRUNC), 1);
	/* a reassembled payload that starts with another fragment header */
	uint8_t nested[16] = {17, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
	for (int k = 0; k < 2; k++) {
		pk_init(&p);
		pk_append(&p, nested + k * 8, 8);
		uint8_t *fh = pk_push(&p, 8);
		fh[0] = 44, fh[1] = 0;
		w16(fh + 2, (uint16_t)(k ? 8 : 1));
		w32(fh + 4, 0xabc);
		push_ip6(&p, 44, 1, 2);
		assert_int_equal(dec(x, BW_LINK_RAW, &p), k ? BW_EMALF : BW_EAGAIN);
	}
	assert_int_equal(an(x, BW_AN_FRAG_BAD), 1);
	(void)n;
	/* enhanced GRE whose payload length is shorter than what follows */
	build_udp4(&p, 1, 53, 8);
	uint8_t *h = pk_push(&p, 2);
	w16(h, 0x0021);
	size_t plen = p.len;
	h = pk_push(&p, 8);
	w16(h, 0x2001);
	w16(h + 2, 0x880B);
	w16(h + 4, (uint16_t)plen);
	w16(h + 6, 1);
	uint8_t tail[9] = {0};
	pk_append(&p, tail, sizeof(tail));
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	/* MPLS over PPP, then GRE carrying MPLS */
	build_udp4(&p, 1, 53, 8);
	push_mpls(&p, 16, true);
	h = pk_push(&p, 2);
	w16(h, 0x0281);
	assert_int_equal(dec(x, BW_LINK_PPP, &p), BW_OK);
	assert_int_equal(x->p.n_mpls, 1);
	build_udp4(&p, 1, 53, 8);
	push_mpls(&p, 16, true);
	push_gre(&p, 0, 0x8847, 0, 0);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.n_mpls, 1);
	check_tunnel(x, 0, BW_TUN_GRE, 0);
	/* IPv6 explicit null */
	pk_init(&p);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	push_mpls(&p, 2, true);
	push_eth(&p, 0x8847);
	assert_int_equal(dec(x, BW_LINK_ETHERNET, &p), BW_OK);
	assert_int_equal(x->p.ip_version, 6);
	/* Teredo with an authentication header and an origin indication */
	pk_init(&p);
	pk_payload(&p, 4, 7);
	push_udp(&p, 1, 53);
	push_ip6(&p, 17, 1, 2);
	uint8_t *o = pk_push(&p, 8);
	memset(o, 0, 8);
	uint8_t *au = pk_push(&p, 4 + 2 + 3 + 9);
	memset(au, 0, 18);
	au[1] = 1, au[2] = 2, au[3] = 3;
	push_udp(&p, 40000, 3544);
	push_ip4(&p, 17, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_tunnel(x, 0, BW_TUN_TEREDO, 0);
	assert_int_equal(x->p.payload_len, 4);
	/* UDP on the Teredo port that is not Teredo */
	build_udp4(&p, 40000, 3544, 50);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.n_tunnel, 0);
	assert_int_equal(x->p.payload_len, 50);
	/* ERSPAN III carrying an IP packet (frame type 2) */
	build_udp4(&p, 1, 53, 8);
	push_erspan3(&p, 4, false);
	w16(pk_data(&p) + 10, 2 << 10);
	push_gre(&p, 0x1000, 0x22EB, 0, 9);
	push_ip4(&p, 47, 1, 2);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	check_udp4(x, 1, 53, 8);
	check_tunnel(x, 0, BW_TUN_ERSPAN3, 4);
	/* a GRE-in-UDP look-alike is plain UDP */
	build_udp4(&p, 40000, 4754, 20);
	assert_int_equal(dec(x, BW_LINK_RAW, &p), BW_OK);
	assert_int_equal(x->p.n_tunnel, 0);
	/* the stats saw all of that */
	const struct bw_decode_stats *st = bw_decoder_stats(x->d);
	assert_int_equal(st->tunneled, 4);
	assert_true(st->mpls >= 3);
	assert_true(st->ipv6 >= 2);
	assert_int_equal(st->frames, st->udp + st->tcp + st->duplicates + 3);
}

/* The flow key puts the addresses in memcmp's order (family, then bytes), ports breaking ties. */
static void test_flow_key_order(void **state)
{
	(void)state;
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 100000; i++) {
		struct bw_packet p;
		memset(&p, 0, sizeof(p));
		uint8_t r[34];
		for (size_t k = 0; k < sizeof(r); k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			r[k] = (uint8_t)x;
		}
		p.src.family = (i & 3) == 3 ? 4 : 6;
		p.dst.family = (i & 7) == 7 ? 4 : p.src.family;
		memcpy(p.src.a, r, 16);
		memcpy(p.dst.a, (i % 5) == 0 ? r : r + 16, 16); /* equal addresses: the ports decide */
		if ((i % 9) == 0)
			memcpy(p.dst.a, r, 8 + (size_t)(i % 8)); /* a long common prefix */
		p.sport = (uint16_t)(r[32] | r[33] << 8);
		p.dport = (uint16_t)(r[33] | r[32] << 8);
		p.proto = 6;
		struct bw_flow_key k;
		int dir;
		bw_flow_key_make(&p, &k, &dir);
		int cmp = memcmp(&p.src, &p.dst, sizeof(p.src));
		if (cmp == 0)
			cmp = (int)p.sport - (int)p.dport;
		const struct bw_ip *lo = cmp <= 0 ? &p.src : &p.dst;
		assert_memory_equal(&k.lo, lo, sizeof(*lo));
		assert_int_equal(dir, cmp <= 0 ? 0 : 1);
		assert_int_equal(k.lo_port, cmp <= 0 ? p.sport : p.dport);
	}
}

/*
 * The fast path for plain Ethernet/IP/TCP frames (decode.c,
 * dec_ether_tcp_fast) against the general one: two decoders, one with
 * no_fast_path, fed the same frames: every bundled capture's, then each
 * Ethernet frame again with one header byte changed or its capture cut
 * short, with copies for the duplicate filter and finished flows in both
 * bypass sets. Each frame must give the
 * same return, the same packet (the payload compared by its bytes, since
 * reassembled ones sit in each decoder's own buffer), the same counters
 * and the same anomalies.
 */

struct fp_pair {
	struct bw_decoder *d[2];
	struct bw_anomalies an[2];
	uint64_t frames, plain, bypassed, duplicates;
	uint64_t rng;
};

static void fp_one(struct fp_pair *x, int linktype, const uint8_t *f, uint32_t n, uint32_t wire, bw_time_t ts)
{
	static uint8_t held[2][65536];
	struct bw_packet p[2];
	int r[2];
	bool in_buf[2];
	for (int i = 0; i < 2; i++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees a read past the frame */
		assert_non_null(copy);
		memcpy(copy, f, n);
		memset(&p[i], 0, sizeof(p[i]));
		r[i] = bw_decode_frame(x->d[i], linktype, copy, n, wire, ts, &p[i]);
		/* The payload as an offset into the frame; a reassembled one (in the
		 * decoder's own buffer) by its bytes. */
		in_buf[i] = p[i].payload && !(p[i].payload >= copy && p[i].payload <= copy + n);
		if (in_buf[i]) {
			assert_true(p[i].payload_len <= sizeof(held[i]));
			memcpy(held[i], p[i].payload, p[i].payload_len);
			p[i].payload = NULL;
		} else if (p[i].payload) {
			p[i].payload = (const uint8_t *)(uintptr_t)(p[i].payload - copy + 1);
		}
		free(copy);
	}
	assert_int_equal(r[0], r[1]);
	assert_int_equal(in_buf[0], in_buf[1]);
	if (in_buf[0])
		assert_memory_equal(held[0], held[1], p[0].payload_len);
	assert_memory_equal(&p[0], &p[1], sizeof(p[0]));
	assert_memory_equal(bw_decoder_stats(x->d[0]), bw_decoder_stats(x->d[1]), sizeof(struct bw_decode_stats));
	assert_memory_equal(&x->an[0], &x->an[1], sizeof(x->an[0]));
	x->frames++;
	if (r[0] == BW_DECODE_BYPASSED)
		x->bypassed++;
	if (r[0] == BW_ELIMIT)
		x->duplicates++;
	if (linktype == BW_LINK_ETHERNET && (r[0] == BW_OK || r[0] == BW_DECODE_BYPASSED) && p[0].proto == 6 &&
	    p[0].n_vlan <= 1 && !p[0].n_tunnel && !p[0].n_mpls && !p[0].reassembled)
		x->plain++;
	/* finish about one TCP flow in three, in both sets alike */
	x->rng = x->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	if (r[0] == BW_OK && p[0].proto == 6 && (x->rng >> 60) < 5) {
		struct bw_flow_key k;
		bw_flow_key_make(&p[0], &k, NULL);
		bw_decoder_bypass_add(x->d[0], &k, ts);
		bw_decoder_bypass_add(x->d[1], &k, ts);
	}
}

static void test_fast_path_same(void **state)
{
	(void)state;
	struct fp_pair x;
	memset(&x, 0, sizeof(x));
	x.rng = 1;
	for (int i = 0; i < 2; i++) {
		struct bw_decode_config c;
		bw_decode_config_default(&c);
		c.no_fast_path = i == 1;
		c.bypass_slots = 64; /* small: entries are pushed out too */
		x.d[i] = bw_decoder_new(&c, &x.an[i]);
		assert_non_null(x.d[i]);
	}
	DIR *dir = opendir("pcaps");
	if (!dir) {
		print_message("pcaps/ not found (run from the repository root): skipped\n");
		skip();
	}
	struct dirent *de;
	bw_time_t ts = T0;
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || (strcmp(de->d_name + l - 5, ".pcap") && (l < 7 || strcmp(de->d_name + l - 7, ".pcapng"))))
			continue;
		char path[512], err[256];
		snprintf(path, sizeof(path), "pcaps/%s", de->d_name);
		struct bw_capture_file *cf = NULL;
		if (bw_capture_file_open(path, BW_READER_AUTO, NULL, &cf, err, sizeof(err)) != BW_OK)
			continue;
		struct bw_frame fr;
		while (bw_capture_file_next(cf, &fr) == BW_OK) {
			ts += BW_NSEC_PER_MSEC; /* one clock for all files, so both sets age alike */
			fp_one(&x, fr.linktype, fr.data, fr.cap_len, fr.wire_len, ts);
			if ((fr.number & 3) == 0) /* a copy: the duplicate filter hashes what each path found */
				fp_one(&x, fr.linktype, fr.data, fr.cap_len, fr.wire_len, ts + 1000);
			if (fr.linktype != BW_LINK_ETHERNET || fr.cap_len < 15 || fr.cap_len > 2048)
				continue;
			uint8_t m[2048];
			for (int k = 0; k < 6; k++) {
				memcpy(m, fr.data, fr.cap_len);
				x.rng = x.rng * 6364136223846793005ULL + 1442695040888963407ULL;
				uint32_t at = (uint32_t)((x.rng >> 33) % BW_MIN(fr.cap_len, 80u));
				uint32_t n = fr.cap_len;
				if (k == 5)
					n = at + 1; /* cut short inside the headers */
				else
					m[at] ^= (uint8_t)(1u << ((x.rng >> 20) & 7));
				fp_one(&x, BW_LINK_ETHERNET, m, n, k == 5 ? fr.wire_len : n, ts);
			}
		}
		bw_capture_file_close(cf);
	}
	closedir(dir);
	print_message("fast path: %llu frames compared, %llu plain Ethernet/IP/TCP, %llu bypassed, %llu duplicates\n",
		      (unsigned long long)x.frames, (unsigned long long)x.plain, (unsigned long long)x.bypassed,
		      (unsigned long long)x.duplicates);
	assert_true(x.plain > 1000);
	assert_true(x.bypassed > 100);
	assert_true(x.duplicates > 100);
	for (int i = 0; i < 2; i++)
		bw_decoder_free(x.d[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_key_order),
		cmocka_unit_test_setup_teardown(test_ethernet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_8023_llc_snap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ppp_hdlc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_linktype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlan_depths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mpls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip4_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip4_bad_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_ext_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_ext_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_tcp_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_orders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frag_duplicates_overlaps, setup, teardown),
		cmocka_unit_test(test_frag_timeout_caps),
		cmocka_unit_test_setup_teardown(test_gre, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gre_pptp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erspan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vxlan_geneve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipip_teredo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragmented_tunnel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test(test_dedup_off),
		cmocka_unit_test_setup_teardown(test_bypass, setup, teardown),
		cmocka_unit_test(test_bypass_small_set),
		cmocka_unit_test(test_fast_path_same),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gtpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_paths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
