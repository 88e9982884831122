/* SPDX-License-Identifier: MIT */
/*
 * filter_bpf.h: what the kernel side (bpf/filter.bpf.c) and user space
 * (sensor/capture_afpacket.c, capture_xdp.c) share: the bypass map's key and
 * value, the per-CPU counters, and the one function that puts a flow's two
 * endpoints in canonical order. Plain fixed-width types only, so the same
 * bytes mean the same thing on both sides; it is included after vmlinux.h on
 * the BPF side and after <linux/types.h> in user space.
 *
 * The key is direction-free: the endpoint with the smaller address (bytes in
 * network order, compared like memcmp), or with the smaller port when the
 * addresses are equal, is "lo" -- the same rule as bw_flow_key_make(), so one
 * map entry covers both directions of a flow.
 */
#ifndef BW_FILTER_BPF_H
#define BW_FILTER_BPF_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifdef __clang__
#define BW_BPF_UNROLL _Pragma("unroll")
#else
#define BW_BPF_UNROLL
#endif

/* One flow of the bypass map (LRU hash). 40 bytes, no implicit padding. */
struct bw_bpf_flow_key {
	__be32 lo_addr[4];  /* IPv4: lo_addr[0], the rest zero */
	__be32 hi_addr[4];
	__be16 lo_port;
	__be16 hi_port;
	__u16 vlan;         /* innermost 802.1Q VLAN id (12 bits), 0 if untagged */
	__u8 proto;         /* 6 TCP, 17 UDP */
	__u8 family;        /* 4 or 6 */
};

/* Value of a bypass entry: when user space wrote it and what it dropped since. */
struct bw_bpf_bypass_val {
	__u64 created_ns;   /* CLOCK_MONOTONIC when written (user space) */
	__u64 packets;      /* packets dropped in the kernel for this flow */
	__u64 bytes;
};

/*
 * Per-CPU counters (one array slot). "passed" packets go to user space (the
 * AF_PACKET ring or an AF_XDP socket); "dropped" ones did not match the
 * filter; "bypassed" ones belonged to a flow in the bypass map. On XDP a
 * dropped or bypassed packet is XDP_PASSed to the host stack, never
 * XDP_DROPped: only the capture loses it. The pass_* fields break "passed"
 * down by the rule that kept the packet.
 */
struct bw_bpf_counters {
	__u64 passed_packets, passed_bytes;
	__u64 dropped_packets, dropped_bytes;
	__u64 bypassed_packets, bypassed_bytes;
	__u64 pass_dns;       /* UDP or TCP to/from a DNS port */
	__u64 pass_tcp;       /* TCP of a flow not bypassed (incl. SYN/FIN/RST) */
	__u64 pass_quic;      /* QUIC long header: Initial, Retry, version negotiation */
	__u64 pass_dtls;      /* DTLS handshake record */
	__u64 pass_tunnel;    /* GRE, IP-in-IP, MPLS, PPPoE, VXLAN/GENEVE/Teredo: decoded in user space */
	__u64 pass_fragment;  /* IPv4/IPv6 non-first fragment (no ports to judge) */
	__u64 pass_all;       /* filter switched off (bw_cfg_pass_all) */
	__u64 bypass_reset;   /* a pure SYN removed a stale bypass entry (port reuse) */
	__u64 xsk_missed;     /* XDP: kept, but no AF_XDP socket on that rx queue (XDP_PASSed) */
};

enum {
	BW_BPF_LINK_ETHERNET = 0, /* bw_cfg_link: frames start with an Ethernet header */
	BW_BPF_LINK_RAW_IP = 1,   /* frames start with the IP header (tun, ARPHRD_NONE) */
};

/*
 * Order two endpoints canonically into *k (addresses and ports as they are
 * on the wire; n_words 1 for IPv4, 4 for IPv6). Shared verbatim by the BPF
 * program and user space, so the two can never disagree on a key.
 */
static __always_inline __u32 bw_bpf_be32_host(__be32 v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32((__u32)v);
#else
	return (__u32)v;
#endif
}

static __always_inline __u16 bw_bpf_be16_host(__be16 v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16((__u16)v);
#else
	return (__u16)v;
#endif
}

static __always_inline void bw_bpf_key_order(struct bw_bpf_flow_key *k, const __be32 *a, __be16 a_port,
					      const __be32 *b, __be16 b_port, __u8 family)
{
	int cmp = 0;
	int i;

BW_BPF_UNROLL
	for (i = 0; i < 4; i++) {
		__u32 x = bw_bpf_be32_host(a[i]), y = bw_bpf_be32_host(b[i]);
		if (cmp == 0 && x != y)
			cmp = x < y ? -1 : 1;
	}
	if (cmp == 0 && a_port != b_port)
		cmp = bw_bpf_be16_host(a_port) < bw_bpf_be16_host(b_port) ? -1 : 1;
BW_BPF_UNROLL
	for (i = 0; i < 4; i++) {
		k->lo_addr[i] = cmp <= 0 ? a[i] : b[i];
		k->hi_addr[i] = cmp <= 0 ? b[i] : a[i];
	}
	k->lo_port = cmp <= 0 ? a_port : b_port;
	k->hi_port = cmp <= 0 ? b_port : a_port;
	k->family = family;
}

#endif /* BW_FILTER_BPF_H */
