// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * filter.bpf.c: the kernel half of live capture. One classifier, two
 * programs: a socket filter for the AF_PACKET rings (bw_sock_filter) and an
 * XDP program that redirects what it keeps into AF_XDP sockets (bw_xdp).
 * The classifier keeps what bindwatch can use -- DNS on the configured ports
 * (UDP and TCP), TCP of every flow user space has not bypassed, QUIC long
 * headers (Initial, Retry, version negotiation), DTLS handshake records, and
 * the tunnels and fragments the user-space decoder unwraps -- and drops the
 * rest. User space writes a flow into bw_bypass when its handshake is done
 * or it is not TLS at all; from then on the flow's packets stop in the
 * kernel. TCP SYN/FIN/RST still pass so user space sees flows open and close
 * (and a pure SYN on a bypassed 5-tuple is a new connection: it removes the
 * entry). Both programs read the packet through the load-bytes helpers rather
 * than direct access: the socket filter has no direct access, and on XDP the
 * helper also copes with multi-buffer frames, so one parser serves both. The
 * wire formats are parsed from plain byte arrays, not vmlinux.h structs:
 * their layout is fixed by the RFCs, so CO-RE relocations would buy nothing.
 * Every loop has a constant bound. Settings are const volatile (.rodata),
 * filled in by the loader before load.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "filter_bpf.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ_OLD 0x9100
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_P_PPP_SES 0x8864

#define PROTO_IPIP 4
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_IPV6 41
#define PROTO_GRE 47

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define MAX_VLAN 4
#define MAX_IP6_EXT 6

/* Bit (port & 7) of byte (port >> 3) is set for a DNS port. */
const volatile __u8 bw_cfg_dns_ports[8192] = {};
const volatile __u8 bw_cfg_link = BW_BPF_LINK_ETHERNET;
const volatile __u8 bw_cfg_pass_tunnels = 1;
const volatile __u8 bw_cfg_pass_all = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* set by the loader */
	__type(key, struct bw_bpf_flow_key);
	__type(value, struct bw_bpf_bypass_val);
} bw_bypass SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bw_bpf_counters);
} bw_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64); /* set by the loader: the interface's rx queues */
	__type(key, __u32);
	__type(value, __u32);
} bw_xsks SEC(".maps");

enum reason {
	R_DROP = 0,
	R_BYPASS,
	R_DNS,
	R_TCP,
	R_QUIC,
	R_DTLS,
	R_TUNNEL,
	R_FRAG,
	R_ALL,
};

static __always_inline int load(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	if (xdp)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline __u16 be16_at(const __u8 *p) { return (__u16)((p[0] << 8) | p[1]); }

static __always_inline bool dns_port(__u16 port)
{
	return (bw_cfg_dns_ports[(port >> 3) & 0x1fff] >> (port & 7)) & 1;
}

static __always_inline bool tunnel_udp(__u16 sport, __u16 dport)
{
	/* VXLAN (and the old Linux port), GENEVE, GRE-in-UDP; Teredo either way */
	return dport == 4789 || dport == 8472 || dport == 6081 || dport == 4754 || sport == 3544 || dport == 3544;
}

/* QUIC long header worth a look: what parsers/quic.c decodes, plus version negotiation. */
static __always_inline bool quic_long(const __u8 *q)
{
	__u32 version = ((__u32)q[1] << 24) | ((__u32)q[2] << 16) | ((__u32)q[3] << 8) | q[4];
	__u8 type = (q[0] >> 4) & 3;

	if (!(q[0] & 0x80))
		return false;
	if (version == 0)
		return true;
	if (!(q[0] & 0x40))
		return false;
	if (version == 1 || (version >= 0xff00001d && version <= 0xff000020))
		return type == 0 || type == 3; /* Initial, Retry */
	if (version == 0x6b3343cf)
		return type == 1 || type == 0; /* v2 renumbers: Initial 01, Retry 00 */
	return false;
}

static __always_inline int bypassed(struct bw_bpf_flow_key *k, __u32 len)
{
	struct bw_bpf_bypass_val *v = bpf_map_lookup_elem(&bw_bypass, k);
	if (!v)
		return 0;
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, len);
	return 1;
}

static __always_inline int classify(void *ctx, bool xdp, __u16 meta_vlan, __u32 len, bool *reset)
{
	struct bw_bpf_flow_key k = {};
	__be32 src[4] = {}, dst[4] = {};
	__u32 off = 0;
	__u16 proto, vlan = meta_vlan;
	__u8 l4, family;
	int i;

	if (bw_cfg_pass_all)
		return R_ALL;

	if (bw_cfg_link == BW_BPF_LINK_RAW_IP) {
		__u8 v;
		if (load(ctx, xdp, 0, &v, 1))
			return R_DROP;
		proto = (v >> 4) == 4 ? ETH_P_IP : (v >> 4) == 6 ? ETH_P_IPV6 : 0;
	} else {
		__u8 eth[14];
		if (load(ctx, xdp, 0, eth, sizeof(eth)))
			return R_DROP;
		proto = be16_at(eth + 12);
		off = sizeof(eth);
		/* In-band tags: all of them on XDP, the inner ones of QinQ on a
		 * socket (the kernel strips the outer tag into skb metadata). */
		BW_BPF_UNROLL
		for (i = 0; i < MAX_VLAN; i++) {
			__u8 tag[4];
			if (proto != ETH_P_8021Q && proto != ETH_P_8021AD && proto != ETH_P_QINQ_OLD)
				break;
			if (load(ctx, xdp, off, tag, sizeof(tag)))
				return R_DROP;
			vlan = be16_at(tag) & 0x0fff;
			proto = be16_at(tag + 2);
			off += sizeof(tag);
		}
	}

	if (proto == ETH_P_MPLS_UC || proto == ETH_P_MPLS_MC || proto == ETH_P_PPP_SES)
		return bw_cfg_pass_tunnels ? R_TUNNEL : R_DROP;

	if (proto == ETH_P_IP) {
		__u8 ip[20];
		if (load(ctx, xdp, off, ip, sizeof(ip)))
			return R_DROP;
		if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5)
			return R_DROP;
		/* A later fragment has no ports: too rare to judge, user space reassembles. */
		if (be16_at(ip + 6) & 0x1fff)
			return R_FRAG;
		l4 = ip[9];
		__builtin_memcpy(&src[0], ip + 12, 4);
		__builtin_memcpy(&dst[0], ip + 16, 4);
		family = 4;
		off += (ip[0] & 0x0f) * 4;
	} else if (proto == ETH_P_IPV6) {
		__u8 ip6[40];
		if (load(ctx, xdp, off, ip6, sizeof(ip6)))
			return R_DROP;
		if ((ip6[0] >> 4) != 6)
			return R_DROP;
		l4 = ip6[6];
		__builtin_memcpy(src, ip6 + 8, 16);
		__builtin_memcpy(dst, ip6 + 24, 16);
		family = 6;
		off += sizeof(ip6);
		BW_BPF_UNROLL
		for (i = 0; i < MAX_IP6_EXT; i++) {
			__u8 h[4];
			if (l4 != 0 && l4 != 43 && l4 != 60 && l4 != 44 && l4 != 51)
				break;
			if (load(ctx, xdp, off, h, sizeof(h)))
				return R_DROP;
			if (l4 == 44) {
				if (be16_at(h + 2) & 0xfff8)
					return R_FRAG;
				off += 8;
			} else if (l4 == 51) {
				off += ((__u32)h[1] + 2) * 4;
			} else {
				off += ((__u32)h[1] + 1) * 8;
			}
			l4 = h[0];
		}
	} else {
		return R_DROP;
	}

	if (l4 == PROTO_GRE || l4 == PROTO_IPIP || l4 == PROTO_IPV6)
		return bw_cfg_pass_tunnels ? R_TUNNEL : R_DROP;

	if (l4 == PROTO_TCP) {
		__u8 th[14];
		if (load(ctx, xdp, off, th, sizeof(th)))
			return R_DROP;
		__u16 sport = be16_at(th), dport = be16_at(th + 2);
		__u8 flags = th[13];
		if (dns_port(sport) || dns_port(dport))
			return R_DNS;
		bw_bpf_key_order(&k, src, bpf_htons(sport), dst, bpf_htons(dport), family);
		k.vlan = vlan;
		k.proto = PROTO_TCP;
		if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
			if (bpf_map_delete_elem(&bw_bypass, &k) == 0)
				*reset = true;
			return R_TCP;
		}
		if (flags & (TCP_FIN | TCP_RST))
			return R_TCP;
		if (bypassed(&k, len))
			return R_BYPASS;
		return R_TCP;
	}

	if (l4 == PROTO_UDP) {
		__u8 uh[8];
		if (load(ctx, xdp, off, uh, sizeof(uh)))
			return R_DROP;
		__u16 sport = be16_at(uh), dport = be16_at(uh + 2), ulen = be16_at(uh + 4);
		if (dns_port(sport) || dns_port(dport))
			return R_DNS;
		if (tunnel_udp(sport, dport))
			return bw_cfg_pass_tunnels ? R_TUNNEL : R_DROP;
		bw_bpf_key_order(&k, src, bpf_htons(sport), dst, bpf_htons(dport), family);
		k.vlan = vlan;
		k.proto = PROTO_UDP;
		if (bypassed(&k, len))
			return R_BYPASS;
		/* The UDP length, not the frame, says whether there is payload:
		 * Ethernet padding after a short datagram is not payload. */
		if (ulen >= 8 + 5) {
			__u8 q[5];
			if (load(ctx, xdp, off + 8, q, sizeof(q)))
				return R_DROP;
			if (quic_long(q))
				return R_QUIC;
			if (q[0] == 22 && q[1] == 0xfe)
				return R_DTLS;
		}
		return R_DROP;
	}
	return R_DROP;
}

/* Count the verdict; true if the packet is kept for user space. */
static __always_inline bool account(int r, __u32 len, bool reset)
{
	__u32 zero = 0;
	struct bw_bpf_counters *c = bpf_map_lookup_elem(&bw_counters, &zero);

	if (!c)
		return r != R_DROP && r != R_BYPASS;
	if (reset)
		c->bypass_reset++;
	switch (r) {
	case R_DROP:
		c->dropped_packets++;
		c->dropped_bytes += len;
		return false;
	case R_BYPASS:
		c->bypassed_packets++;
		c->bypassed_bytes += len;
		return false;
	case R_DNS: c->pass_dns++; break;
	case R_TCP: c->pass_tcp++; break;
	case R_QUIC: c->pass_quic++; break;
	case R_DTLS: c->pass_dtls++; break;
	case R_TUNNEL: c->pass_tunnel++; break;
	case R_FRAG: c->pass_fragment++; break;
	default: c->pass_all++; break;
	}
	c->passed_packets++;
	c->passed_bytes += len;
	return true;
}

SEC("socket")
int bw_sock_filter(struct __sk_buff *skb)
{
	bool reset = false;
	__u16 vlan = skb->vlan_present ? (skb->vlan_tci & 0x0fff) : 0;
	int r = classify(skb, false, vlan, skb->len, &reset);
	return account(r, skb->len, reset) ? skb->len : 0;
}

SEC("xdp")
int bw_xdp(struct xdp_md *ctx)
{
	bool reset = false;
	__u32 len = bpf_xdp_get_buff_len(ctx);
	int r = classify(ctx, true, 0, len, &reset);

	if (!account(r, len, reset))
		return XDP_PASS; /* not ours: the host's stack gets it untouched */
	long act = bpf_redirect_map(&bw_xsks, ctx->rx_queue_index, XDP_PASS);
	if (act != XDP_REDIRECT) {
		__u32 zero = 0;
		struct bw_bpf_counters *c = bpf_map_lookup_elem(&bw_counters, &zero);
		if (c)
			c->xsk_missed++;
	}
	return (int)act;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
