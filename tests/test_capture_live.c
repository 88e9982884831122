/* SPDX-License-Identifier: MIT */
/*
 * test_capture_live.c: what live capture does without touching the kernel:
 * the TPACKET_V3 block walk (synthetic blocks, VLAN re-insertion, every
 * offset the kernel writes checked), the bypass map key (user space and the
 * BPF program must build the same key from either direction of a flow), the
 * backend fallback plan, and the argument checks of bw_live_open. The
 * kernel side is tested as root by tests/live/run.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>

#define BW_LIVE_INTERNAL
#include "parsers/decode.h"
#include "sensor/capture_live.h"

#define BLOCK 4096
#define HDR_MAC 80 /* where the frame starts inside its tpacket3_hdr slot, as TPACKET_ALIGN'd headers do */

struct blk {
	_Alignas(16) uint8_t b[BLOCK];
	uint32_t off, n, last;
};

static void blk_init(struct blk *k)
{
	memset(k, 0, sizeof(*k));
	k->off = 48; /* offset_to_first_pkt: after the block descriptor */
}

/* Append one frame; returns its header offset. */
static uint32_t blk_add(struct blk *k, const uint8_t *frame, uint32_t len, uint32_t status, uint16_t tci, uint16_t tpid)
{
	struct tpacket3_hdr h;
	memset(&h, 0, sizeof(h));
	uint32_t at = k->off;
	h.tp_sec = 1700000000 + k->n;
	h.tp_nsec = 123456789;
	h.tp_snaplen = len;
	h.tp_len = len;
	h.tp_status = status;
	h.tp_mac = HDR_MAC;
	h.hv1.tp_vlan_tci = tci;
	h.hv1.tp_vlan_tpid = tpid;
	uint32_t slot = (HDR_MAC + len + 15) & ~15u;
	h.tp_next_offset = slot;
	assert_true(at + slot <= BLOCK);
	memcpy(k->b + at, &h, sizeof(h));
	memcpy(k->b + at + HDR_MAC, frame, len);
	k->last = at;
	k->off += slot;
	k->n++;
	struct tpacket_block_desc bd;
	memset(&bd, 0, sizeof(bd));
	bd.version = TPACKET_V3;
	bd.hdr.bh1.block_status = TP_STATUS_USER;
	bd.hdr.bh1.num_pkts = k->n;
	bd.hdr.bh1.offset_to_first_pkt = 48;
	bd.hdr.bh1.blk_len = k->off;
	memcpy(k->b, &bd, sizeof(bd));
	return at;
}

static void frame_make(uint8_t *f, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		f[i] = (uint8_t)(seed + i);
	f[12] = 0x08; /* IPv4 ethertype, where a tag would go before */
	f[13] = 0x00;
}

static void test_tpv3_frames_and_vlan(void **state)
{
	(void)state;
	static struct blk k;
	uint8_t f1[60], f2[90], f3[64], copy[256];
	struct bw_live_tpv3 it = {.linktype = 1, .copy = copy, .copy_cap = sizeof(copy)};
	struct bw_frame fr;

	blk_init(&k);
	frame_make(f1, sizeof(f1), 1);
	frame_make(f2, sizeof(f2), 2);
	frame_make(f3, sizeof(f3), 3);
	blk_add(&k, f1, sizeof(f1), TP_STATUS_USER, 0, 0);
	blk_add(&k, f2, sizeof(f2), TP_STATUS_USER | TP_STATUS_VLAN_VALID, 0x2064, 0);        /* prio 1, VLAN 100 */
	blk_add(&k, f3, sizeof(f3), TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID, 200, 0x88a8); /* 802.1ad */

	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_OK);
	assert_int_equal(fr.cap_len, sizeof(f1));
	assert_int_equal(fr.wire_len, sizeof(f1));
	assert_memory_equal(fr.data, f1, sizeof(f1));
	assert_true(fr.ts == 1700000000ULL * BW_NSEC_PER_SEC + 123456789);
	assert_int_equal(fr.linktype, 1);

	/* tag put back after the MAC addresses, TPID 0x8100 when the kernel gave none */
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_OK);
	assert_int_equal(fr.cap_len, sizeof(f2) + 4);
	assert_int_equal(fr.wire_len, sizeof(f2) + 4);
	assert_ptr_equal(fr.data, copy);
	assert_memory_equal(fr.data, f2, 12);
	const uint8_t tag[4] = {0x81, 0x00, 0x20, 0x64};
	assert_memory_equal(fr.data + 12, tag, 4);
	assert_memory_equal(fr.data + 16, f2 + 12, sizeof(f2) - 12);
	assert_true(fr.ts == 1700000001ULL * BW_NSEC_PER_SEC + 123456789);

	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_OK);
	const uint8_t tag2[4] = {0x88, 0xa8, 0x00, 0xc8};
	assert_memory_equal(fr.data + 12, tag2, 4);
	assert_memory_equal(fr.data + 16, f3 + 12, sizeof(f3) - 12);

	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	assert_int_equal(it.vlan_restored, 2);
	assert_int_equal(it.ring_errors, 0);
}

static void test_tpv3_vlan_not_restored(void **state)
{
	(void)state;
	static struct blk k;
	uint8_t f[100], small[64];
	struct bw_frame fr;

	/* raw-IP link: there is no Ethernet header to put a tag into */
	struct bw_live_tpv3 it = {.linktype = 101, .copy = small, .copy_cap = sizeof(small)};
	blk_init(&k);
	frame_make(f, sizeof(f), 9);
	blk_add(&k, f, sizeof(f), TP_STATUS_VLAN_VALID, 5, 0);
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_OK);
	assert_int_equal(fr.cap_len, sizeof(f));
	assert_memory_equal(fr.data, f, sizeof(f));
	assert_int_equal(it.ring_errors, 0);

	/* Ethernet, but the copy buffer is too small: the frame comes untagged and it is counted */
	struct bw_live_tpv3 it2 = {.linktype = 1, .copy = small, .copy_cap = sizeof(small)};
	assert_int_equal(bw_live_tpv3_begin(&it2, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it2, &fr), BW_OK);
	assert_int_equal(fr.cap_len, sizeof(f));
	assert_int_equal(it2.ring_errors, 1);
	assert_int_equal(it2.vlan_restored, 0);

	/* no copy buffer at all */
	struct bw_live_tpv3 it3 = {.linktype = 1};
	assert_int_equal(bw_live_tpv3_begin(&it3, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it3, &fr), BW_OK);
	assert_int_equal(it3.ring_errors, 1);
}

static void test_tpv3_empty_and_bad_blocks(void **state)
{
	(void)state;
	static struct blk k;
	uint8_t f[60];
	struct bw_live_tpv3 it = {.linktype = 1};
	struct bw_frame fr;
	struct tpacket_block_desc bd;

	/* an empty block */
	blk_init(&k);
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);

	/* too small for a block header; NULL */
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, 10), BW_EMALF);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	assert_int_equal(bw_live_tpv3_begin(&it, NULL, BLOCK), BW_EMALF);

	/* first packet offset outside the block, or inside the block header */
	frame_make(f, sizeof(f), 0);
	blk_add(&k, f, sizeof(f), 0, 0, 0);
	memcpy(&bd, k.b, sizeof(bd));
	bd.hdr.bh1.offset_to_first_pkt = BLOCK;
	memcpy(k.b, &bd, sizeof(bd));
	it.ring_errors = 0;
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_EMALF);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	bd.hdr.bh1.offset_to_first_pkt = 8;
	memcpy(k.b, &bd, sizeof(bd));
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_EMALF);
	assert_int_equal(it.ring_errors, 2);

	/* a header near the end of the block: not read past it */
	blk_init(&k);
	blk_add(&k, f, sizeof(f), 0, 0, 0);
	memcpy(&bd, k.b, sizeof(bd));
	bd.hdr.bh1.offset_to_first_pkt = BLOCK - 8;
	memcpy(k.b, &bd, sizeof(bd));
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
}

static void test_tpv3_bad_frame_offsets(void **state)
{
	(void)state;
	static struct blk k;
	uint8_t f[60];
	struct bw_live_tpv3 it = {.linktype = 1};
	struct bw_frame fr;
	struct tpacket3_hdr h;

	frame_make(f, sizeof(f), 7);
	/* snaplen running past the block: the frame is refused, the block ends */
	blk_init(&k);
	uint32_t at = blk_add(&k, f, sizeof(f), 0, 0, 0);
	blk_add(&k, f, sizeof(f), 0, 0, 0);
	memcpy(&h, k.b + at, sizeof(h));
	h.tp_snaplen = BLOCK;
	memcpy(k.b + at, &h, sizeof(h));
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	assert_int_equal(it.ring_errors, 1);

	/* tp_mac pointing into the header itself */
	blk_init(&k);
	at = blk_add(&k, f, sizeof(f), 0, 0, 0);
	memcpy(&h, k.b + at, sizeof(h));
	h.tp_mac = 4;
	memcpy(k.b + at, &h, sizeof(h));
	it.ring_errors = 0;
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	assert_int_equal(it.ring_errors, 1);

	/* a zero next offset with more packets announced: this frame, then the block ends */
	blk_init(&k);
	at = blk_add(&k, f, sizeof(f), 0, 0, 0);
	blk_add(&k, f, sizeof(f), 0, 0, 0);
	blk_add(&k, f, sizeof(f), 0, 0, 0);
	memcpy(&h, k.b + at, sizeof(h));
	h.tp_next_offset = 0;
	memcpy(k.b + at, &h, sizeof(h));
	it.ring_errors = 0;
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_OK);
	assert_memory_equal(fr.data, f, sizeof(f));
	assert_int_equal(bw_live_tpv3_next(&it, &fr), BW_EEOF);
	assert_int_equal(it.ring_errors, 1);

	/* more packets announced than there is room for: stops at the block end, never past it */
	blk_init(&k);
	blk_add(&k, f, sizeof(f), 0, 0, 0);
	struct tpacket_block_desc bd;
	memcpy(&bd, k.b, sizeof(bd));
	bd.hdr.bh1.num_pkts = 1000000;
	memcpy(k.b, &bd, sizeof(bd));
	it.ring_errors = 0;
	assert_int_equal(bw_live_tpv3_begin(&it, k.b, BLOCK), BW_OK);
	int n = 0;
	while (bw_live_tpv3_next(&it, &fr) == BW_OK && n < 100000)
		n++;
	assert_true(n >= 1 && n < 100);
	assert_true(it.ring_errors >= 1);
}

/* ---- bypass key --------------------------------------------------------- */

static size_t build_udp4(uint8_t *f, const char *src, const char *dst, uint16_t sport, uint16_t dport, int vlan)
{
	size_t o = 0;
	memset(f, 0, 128);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	o = 12;
	if (vlan >= 0) {
		f[o++] = 0x81;
		f[o++] = 0x00;
		f[o++] = (uint8_t)(vlan >> 8);
		f[o++] = (uint8_t)vlan;
	}
	f[o++] = 0x08;
	f[o++] = 0x00;
	uint8_t *ip = f + o;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	uint8_t *u = ip + 20;
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[5] = 12;
	memcpy(u + 8, "abcd", 4);
	return o + 32 < 60 ? 60 : o + 32;
}

static size_t build_tcp6(uint8_t *f, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	memset(f, 0, 128);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd", 14);
	uint8_t *ip = f + 14;
	ip[0] = 0x60;
	ip[5] = 20;
	ip[6] = 6;
	ip[7] = 64;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	uint8_t *t = ip + 40;
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	t[12] = 5 << 4;
	t[13] = 0x10;
	t[14] = 0xff;
	return 14 + 40 + 20;
}

/* The key the BPF program builds from a packet's wire fields (same function it runs). */
static void kernel_key(struct bw_bpf_flow_key *k, int family, const char *src, const char *dst, uint16_t sport,
		       uint16_t dport, uint8_t proto, uint16_t vlan)
{
	__be32 a[4] = {0}, b[4] = {0};
	memset(k, 0, sizeof(*k));
	inet_pton(family == 4 ? AF_INET : AF_INET6, src, a);
	inet_pton(family == 4 ? AF_INET : AF_INET6, dst, b);
	bw_bpf_key_order(k, a, htons(sport), b, htons(dport), (__u8)family);
	k->vlan = vlan;
	k->proto = proto;
}

static void decoded_key(const uint8_t *f, size_t n, struct bw_flow_key *key)
{
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	struct bw_decode_config dc;
	bw_decode_config_default(&dc);
	dc.dedup_window = 0;
	struct bw_decoder *d = bw_decoder_new(&dc, &an);
	struct bw_packet p;
	assert_non_null(d);
	assert_int_equal(bw_decode_frame(d, 1, f, (uint32_t)n, (uint32_t)n, 1, &p), BW_OK);
	bw_flow_key_make(&p, key, NULL);
	bw_decoder_free(d);
}

static void test_bypass_key_matches_kernel(void **state)
{
	(void)state;
	uint8_t f[128];
	struct bw_flow_key k1, k2;
	struct bw_bpf_flow_key b1, b2, kk;

	assert_int_equal(sizeof(struct bw_bpf_flow_key), 40);

	/* IPv4 UDP in VLAN 100, both directions */
	size_t n = build_udp4(f, "10.0.0.9", "10.0.0.1", 40000, 443, 100);
	decoded_key(f, n, &k1);
	n = build_udp4(f, "10.0.0.1", "10.0.0.9", 443, 40000, 100);
	decoded_key(f, n, &k2);
	assert_int_equal(bw_live_bypass_key(&k1, &b1), BW_OK);
	assert_int_equal(bw_live_bypass_key(&k2, &b2), BW_OK);
	assert_memory_equal(&b1, &b2, sizeof(b1));
	kernel_key(&kk, 4, "10.0.0.9", "10.0.0.1", 40000, 443, 17, 100);
	assert_memory_equal(&b1, &kk, sizeof(kk));
	kernel_key(&kk, 4, "10.0.0.1", "10.0.0.9", 443, 40000, 17, 100);
	assert_memory_equal(&b1, &kk, sizeof(kk));
	/* the layout the map sees: lo is 10.0.0.1:443, network byte order */
	const uint8_t lo[4] = {10, 0, 0, 1};
	assert_memory_equal(b1.lo_addr, lo, 4);
	assert_int_equal(b1.lo_addr[1] | b1.lo_addr[2] | b1.lo_addr[3] | b1.hi_addr[1], 0);
	assert_int_equal(ntohs(b1.lo_port), 443);
	assert_int_equal(ntohs(b1.hi_port), 40000);
	assert_int_equal(b1.vlan, 100);
	assert_int_equal(b1.proto, 17);
	assert_int_equal(b1.family, 4);

	/* another VLAN is another flow */
	n = build_udp4(f, "10.0.0.9", "10.0.0.1", 40000, 443, 101);
	decoded_key(f, n, &k2);
	assert_int_equal(bw_live_bypass_key(&k2, &b2), BW_OK);
	assert_memory_not_equal(&b1, &b2, sizeof(b1));
	n = build_udp4(f, "10.0.0.9", "10.0.0.1", 40000, 443, -1);
	decoded_key(f, n, &k2);
	assert_int_equal(bw_live_bypass_key(&k2, &b2), BW_OK);
	assert_int_equal(b2.vlan, 0);

	/* IPv6 TCP, addresses differing only in the last byte */
	n = build_tcp6(f, "2001:db8::20", "2001:db8::10", 443, 51000);
	decoded_key(f, n, &k1);
	n = build_tcp6(f, "2001:db8::10", "2001:db8::20", 51000, 443);
	decoded_key(f, n, &k2);
	assert_int_equal(bw_live_bypass_key(&k1, &b1), BW_OK);
	assert_int_equal(bw_live_bypass_key(&k2, &b2), BW_OK);
	assert_memory_equal(&b1, &b2, sizeof(b1));
	kernel_key(&kk, 6, "2001:db8::20", "2001:db8::10", 443, 51000, 6, 0);
	assert_memory_equal(&b1, &kk, sizeof(kk));
	assert_int_equal(b1.family, 6);
	assert_int_equal(ntohs(b1.lo_port), 51000);
}

static void test_bypass_key_order_edges(void **state)
{
	(void)state;
	struct bw_bpf_flow_key a, b;

	/* same address both ways: the smaller port is lo */
	kernel_key(&a, 4, "192.0.2.1", "192.0.2.1", 9000, 53, 17, 0);
	kernel_key(&b, 4, "192.0.2.1", "192.0.2.1", 53, 9000, 17, 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(ntohs(a.lo_port), 53);
	/* byte order: 10.0.0.255 < 10.0.1.0 though the little-endian words say otherwise */
	kernel_key(&a, 4, "10.0.1.0", "10.0.0.255", 1, 2, 6, 0);
	const uint8_t lo[4] = {10, 0, 0, 255};
	assert_memory_equal(a.lo_addr, lo, 4);
	/* the first differing word decides, later ones do not */
	kernel_key(&a, 6, "2001:db8::1:0", "2001:db9::", 1, 2, 6, 0);
	uint8_t want[16];
	inet_pton(AF_INET6, "2001:db8::1:0", want);
	assert_memory_equal(a.lo_addr, want, 16);
}

static void test_bypass_key_invalid(void **state)
{
	(void)state;
	struct bw_flow_key k;
	struct bw_bpf_flow_key b;

	memset(&k, 0, sizeof(k));
	k.lo.family = k.hi.family = 4;
	k.proto = 1; /* ICMP */
	assert_int_equal(bw_live_bypass_key(&k, &b), BW_EINVAL);
	k.proto = 6;
	assert_int_equal(bw_live_bypass_key(&k, &b), BW_OK);
	k.hi.family = 6;
	assert_int_equal(bw_live_bypass_key(&k, &b), BW_EINVAL);
	k.lo.family = k.hi.family = 0;
	assert_int_equal(bw_live_bypass_key(&k, &b), BW_EINVAL);
	assert_int_equal(bw_live_bypass_key(NULL, &b), BW_EINVAL);
	/* vlan keeps 12 bits, as the decoder and the kernel do */
	k.lo.family = k.hi.family = 4;
	k.vlan = 0x1064;
	assert_int_equal(bw_live_bypass_key(&k, &b), BW_OK);
	assert_int_equal(b.vlan, 0x064);
}

/* ---- backend choice ------------------------------------------------------- */

static void test_plan(void **state)
{
	(void)state;
	struct bw_live_config c;
	bw_live_config_default(&c);

	assert_int_equal(c.backend, BW_LIVE_AUTO);
	assert_true(c.bpf_filter && c.promisc && c.pass_tunnels);
	assert_int_equal(c.n_workers, 1);
	assert_int_equal(c.ring_mb, 32);
	assert_int_equal(c.block_kb, 1024);

	/* AUTO: afpacket+eBPF, then without filter, then pcap */
	assert_int_equal(bw_live_first_step(&c), BW_LIVE_STEP_AFPACKET_BPF);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET_BPF, BW_LIVE_STAGE_BPF), BW_LIVE_STEP_AFPACKET);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET_BPF, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_PCAP);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_PCAP);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_PCAP, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_NONE);
	/* bad config, missing interface, no memory: nothing else would do better */
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET_BPF, BW_LIVE_STAGE_CONFIG), BW_LIVE_STEP_NONE);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_XDP, BW_LIVE_STAGE_CONFIG), BW_LIVE_STEP_NONE);

	c.bpf_filter = false;
	assert_int_equal(bw_live_first_step(&c), BW_LIVE_STEP_AFPACKET);

	/* explicit afpacket: filter fallback yes, libpcap no */
	bw_live_config_default(&c);
	c.backend = BW_LIVE_AFPACKET;
	assert_int_equal(bw_live_first_step(&c), BW_LIVE_STEP_AFPACKET_BPF);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET_BPF, BW_LIVE_STAGE_BPF), BW_LIVE_STEP_AFPACKET);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET_BPF, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_NONE);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_NONE);

	/* explicit xdp: falls back to afpacket (with or without the filter), then as AUTO */
	c.backend = BW_LIVE_XDP;
	assert_int_equal(bw_live_first_step(&c), BW_LIVE_STEP_XDP);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_XDP, BW_LIVE_STAGE_BPF), BW_LIVE_STEP_AFPACKET_BPF);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_XDP, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_AFPACKET_BPF);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_AFPACKET, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_PCAP);
	c.bpf_filter = false;
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_XDP, BW_LIVE_STAGE_BPF), BW_LIVE_STEP_AFPACKET);

	/* explicit pcap: nothing else */
	c.backend = BW_LIVE_PCAP;
	assert_int_equal(bw_live_first_step(&c), BW_LIVE_STEP_PCAP);
	assert_int_equal(bw_live_next_step(&c, BW_LIVE_STEP_PCAP, BW_LIVE_STAGE_SOCKET), BW_LIVE_STEP_NONE);

	assert_string_equal(bw_live_backend_name(BW_LIVE_XDP), "xdp");
	assert_string_equal(bw_live_backend_name(BW_LIVE_AFPACKET), "afpacket");
	assert_string_equal(bw_live_backend_name(BW_LIVE_PCAP), "pcap");
	assert_string_equal(bw_live_step_name(BW_LIVE_STEP_AFPACKET), "afpacket without filter");
}

/* ---- open: argument checks that need no privilege ---------------------------- */

static void test_open_errors(void **state)
{
	(void)state;
	struct bw_live_config c;
	struct bw_live *h = (struct bw_live *)(uintptr_t)1;
	char err[512];

	bw_live_config_default(&c);
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_EINVAL);
	assert_null(h);
	assert_non_null(strstr(err, "interface name"));

	c.iface = "an-interface-name-too-long";
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_EINVAL);

	c.iface = "lo";
	c.n_workers = 2;
	c.worker_index = 2;
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_EINVAL);
	assert_non_null(strstr(err, "worker 2 of 2"));

	c.n_workers = 1;
	c.worker_index = 0;
	c.fanout_group_id = 70000;
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_EINVAL);

	bw_live_config_default(&c);
	c.iface = "bwnosuch9";
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_ENOENT);
	assert_null(h);
	assert_string_equal(err, "bwnosuch9: no such interface");
	c.backend = BW_LIVE_XDP;
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_ENOENT);
	c.backend = BW_LIVE_PCAP;
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_ENOENT);
	assert_non_null(strstr(err, "bwnosuch9"));

	/* block size not a power of two: refused before any socket is made */
	bw_live_config_default(&c);
	c.iface = "lo";
	c.backend = BW_LIVE_AFPACKET;
	c.block_kb = 100;
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_EINVAL);
	assert_non_null(strstr(err, "power of two"));
	c.block_kb = 1024;
	c.ring_mb = 1;
	assert_int_equal(bw_live_open(&c, &h, err, sizeof(err)), BW_EINVAL);

	/* NULL-safe helpers */
	bw_live_close(NULL);
	bw_live_break(NULL);
	assert_non_null(bw_live_describe(NULL));
	assert_null(bw_live_warning(NULL));
	struct bw_live_stats st;
	bw_live_stats(NULL, &st);
	assert_int_equal(st.frames, 0);
	assert_int_equal(bw_live_next(NULL, NULL, 0), BW_EINVAL);
	assert_int_equal(bw_live_bypass(NULL, NULL), BW_EINVAL);
}

static void test_queue_count(void **state)
{
	(void)state;
	assert_true(bw_live_queue_count("lo") >= 1);
	assert_int_equal(bw_live_queue_count(""), BW_EINVAL);
	assert_int_equal(bw_live_queue_count(NULL), BW_EINVAL);
	assert_int_equal(bw_live_queue_count("bwnosuch9"), BW_ENOENT);
	int arphrd;
	assert_int_equal(bw_live_iface_linktype("lo", &arphrd), 1);
	assert_int_equal(arphrd, 772); /* ARPHRD_LOOPBACK: Ethernet framing */
	assert_int_equal(bw_live_iface_linktype("bwnosuch9", &arphrd), BW_ENOENT);
}

static void test_appendf_bounded(void **state)
{
	(void)state;
	char b[8] = "";
	bw_live_appendf(b, sizeof(b), "%s", "abc");
	bw_live_appendf(b, sizeof(b), "%s", "defghij");
	assert_string_equal(b, "abcdefg");
	bw_live_appendf(b, sizeof(b), "%s", "x");
	assert_string_equal(b, "abcdefg");
	bw_live_appendf(NULL, 0, "%s", "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpv3_frames_and_vlan),
		cmocka_unit_test(test_tpv3_vlan_not_restored),
		cmocka_unit_test(test_tpv3_empty_and_bad_blocks),
		cmocka_unit_test(test_tpv3_bad_frame_offsets),
		cmocka_unit_test(test_bypass_key_matches_kernel),
		cmocka_unit_test(test_bypass_key_order_edges),
		cmocka_unit_test(test_bypass_key_invalid),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_queue_count),
		cmocka_unit_test(test_appendf_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
