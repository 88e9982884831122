/* SPDX-License-Identifier: MIT */
/*
 * decode.h: link layer to transport layer. Turns one captured frame into a
 * decoded packet: addresses, ports, the transport payload, and the tunnel
 * layers that were peeled off on the way (kept as evidence).
 *
 * One struct bw_decoder per worker: it owns the IP fragment reassembly state
 * and the duplicate filter, and is never shared between threads. The decoded
 * packet borrows bytes either from the frame or, for a reassembled datagram,
 * from the decoder; both stay valid until the next bw_decode_frame() call on
 * the same decoder.
 *
 * Fragments are reassembled (policy and caps in ipfrag.h) and the result is
 * decoded like an unfragmented packet. A packet that reaches UDP or TCP is
 * then checked against the duplicate filter (pktdedup.h): its innermost IP
 * packet, TTL/hop limit and IPv4 header checksum left out, seen within
 * dedup_window of packet time makes it a duplicate, whatever VLANs, tunnels
 * or fragmentation the two copies came through.
 */
#ifndef BW_DECODE_H
#define BW_DECODE_H

#include "../sensor/bw.h"
#include "anomaly.h"

/* Link types, numbered as LINKTYPE_* in pcap/pcapng (tcpdump.org). */
enum bw_linktype {
	BW_LINK_NULL = 0,        /* BSD loopback, host-endian 4-byte AF */
	BW_LINK_ETHERNET = 1,
	BW_LINK_PPP = 9,         /* PPP, optionally with HDLC address/control bytes */
	BW_LINK_DLT_RAW12 = 12,  /* DLT_RAW as numbered on most BSDs: same as BW_LINK_RAW */
	BW_LINK_DLT_RAW14 = 14,  /* DLT_RAW as numbered on OpenBSD: same as BW_LINK_RAW */
	BW_LINK_PPP_HDLC = 50,   /* PPP in HDLC-like framing (or Cisco HDLC) */
	BW_LINK_RAW = 101,       /* raw IPv4 or IPv6 (DLT_RAW is 12 or 14 on some OSes: accepted too) */
	BW_LINK_C_HDLC = 104,    /* Cisco HDLC: address, control, ethertype */
	BW_LINK_LOOP = 108,      /* OpenBSD loopback, network-endian AF */
	BW_LINK_LINUX_SLL = 113,
	BW_LINK_IPV4 = 228,
	BW_LINK_IPV6 = 229,
	BW_LINK_LINUX_SLL2 = 276,
};

#define BW_MAX_VLAN 8       /* 802.1Q/QinQ tags kept; deeper stacks are still decoded up to BW_MAX_VLAN_DECODE */
#define BW_MAX_VLAN_DECODE 16
#define BW_MAX_MPLS 16
#define BW_MAX_TUNNEL 4     /* nested tunnel layers unwrapped */
#define BW_MAX_IP6_EXT 16   /* IPv6 extension headers followed */

enum bw_tunnel_type {
	BW_TUN_NONE = 0,
	BW_TUN_GRE,
	BW_TUN_ERSPAN1,
	BW_TUN_ERSPAN2,
	BW_TUN_ERSPAN3,
	BW_TUN_VXLAN,
	BW_TUN_GENEVE,
	BW_TUN_IPIP,   /* IPv4/IPv6 in IP */
	BW_TUN_TEREDO,
	BW_TUN_GTPU,   /* GTP-U G-PDU (3GPP TS 29.281) */
};

/* Static lower-case name of a tunnel type ("vxlan"). */
const char *bw_tunnel_name(enum bw_tunnel_type t);

/* One peeled tunnel layer: the outer addresses and its identifier. */
struct bw_tunnel {
	uint8_t type;          /* enum bw_tunnel_type */
	struct bw_ip src, dst; /* outer IP header */
	uint16_t sport, dport; /* outer UDP ports (VXLAN, GENEVE, GRE-in-UDP, Teredo, GTP-U), else 0 */
	uint32_t id;           /* VXLAN VNI, GENEVE VNI, ERSPAN session id, GRE key, GTP-U TEID */
};

/* The canonical, direction-free identity of a flow (both directions equal). */
struct bw_flow_key {
	struct bw_ip lo, hi;   /* lo <= hi by (addr bytes, then port) */
	uint16_t lo_port, hi_port;
	uint8_t proto;         /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t pad[3];        /* zero: the key is hashed and compared as bytes */
	uint32_t vlan;         /* innermost VLAN id, 0 if none (flows in different VLANs differ) */
};

struct bw_packet {
	bw_time_t ts;
	uint32_t wire_len;     /* original frame length */
	uint32_t cap_len;      /* captured frame length */

	uint16_t vlan[BW_MAX_VLAN];
	uint8_t n_vlan;
	uint8_t n_mpls;
	uint8_t n_tunnel;
	struct bw_tunnel tunnel[BW_MAX_TUNNEL]; /* [0] is the outermost; only [0, n_tunnel) are set */

	uint8_t ip_version;    /* 4 or 6 (innermost IP header) */
	uint8_t ttl;           /* TTL / hop limit */
	bool reassembled;      /* came from IP fragments */
	struct bw_ip src, dst;

	uint8_t proto;         /* IPPROTO_UDP, IPPROTO_TCP; other protocols give BW_ENOTSUP */
	uint16_t sport, dport;

	/* TCP only */
	uint32_t seq, ack;
	uint16_t window;
	uint8_t tcp_flags;     /* TH_FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20 */

	const uint8_t *payload; /* transport payload, borrowed */
	uint32_t payload_len;
	bool payload_cut;      /* the capture cut the payload short (snaplen) */

	uint16_t vlan_inner;   /* id of the last (innermost) VLAN tag decoded, even beyond BW_MAX_VLAN; 0 if none */
};

#define BW_TCP_FIN 0x01
#define BW_TCP_SYN 0x02
#define BW_TCP_RST 0x04
#define BW_TCP_PSH 0x08
#define BW_TCP_ACK 0x10

struct bw_decode_config {
	size_t frag_mem_cap;        /* bytes held by incomplete datagrams (default 16 MiB) */
	uint32_t frag_max_datagrams;/* incomplete datagrams at once (default 4096) */
	bw_time_t frag_timeout;     /* packet time after which an incomplete datagram is dropped (default 30 s) */
	bw_time_t dedup_window;     /* duplicates within this much packet time are dropped (default 50 ms; 0 = off) */
	uint32_t dedup_slots;       /* size of the duplicate filter (default 65536) */
	uint32_t bypass_slots;      /* finished-flow set (bw_decoder_bypass_add; default 2048; 0 = off) */
	bw_time_t bypass_idle;      /* a set entry without a packet for this long is dropped (default 120 s) */
	bool no_fast_path;          /* decode plain Ethernet/IP/TCP frames the general way too (tests, comparisons) */
};

/* True if bw_decode_frame() understands this link type. */
bool bw_decode_linktype_ok(int linktype);

/* Fills c with the defaults above. */
void bw_decode_config_default(struct bw_decode_config *c);

/* Counters the decoder keeps besides anomalies. */
struct bw_decode_stats {
	uint64_t frames, ipv4, ipv6, udp, tcp, other_l4, non_ip;
	uint64_t vlan, mpls, tunneled;
	uint64_t frag_fragments, frag_reassembled, frag_evicted;
	uint64_t duplicates;
	uint64_t bypassed;       /* TCP segments of finished flows not delivered (BW_DECODE_BYPASSED) */
	uint64_t bypass_evicted; /* finished flows pushed out of the full bypass set (their segments go through again) */
};

struct bw_decoder;

/*
 * Create a decoder. c may be NULL for defaults. anomalies is where malformed
 * reasons are counted (caller-owned, may be NULL). Returns NULL on ENOMEM.
 */
struct bw_decoder *bw_decoder_new(const struct bw_decode_config *c, struct bw_anomalies *anomalies);
void bw_decoder_free(struct bw_decoder *d); /* NULL-safe */
const struct bw_decode_stats *bw_decoder_stats(const struct bw_decoder *d);

/*
 * A new capture file (or source) begins: the duplicate filter forgets what it
 * saw, so reading the same file twice, or two files whose times overlap, does
 * not make the second look like mirror copies of the first. Fragment state
 * is kept (a datagram may straddle rotated files).
 */
void bw_decoder_input_start(struct bw_decoder *d);

/*
 * Decode one frame. Returns
 *   BW_OK       out is a UDP or TCP packet;
 *   BW_EAGAIN   an IP fragment was stored, nothing to deliver yet;
 *   BW_ENOTSUP  not IP, or IP but neither UDP nor TCP (counted in stats);
 *   BW_ELIMIT   a duplicate of a packet seen within the dedup window (counted);
 *   BW_EMALF / BW_ETRUNC  malformed (reason counted in anomalies); a fragment
 *               dropped by a reassembly cap is reported as BW_EMALF too (counted
 *               as frag.memcap_hit or frag.too_many_datagrams).
 * ts is the capture time; it also drives fragment timeouts and dedup.
 * out is filled as far as decoding got, also on errors (for a duplicate it
 * is complete). UDP to the VXLAN (4789, 8472), GENEVE (6081) or GRE-in-UDP
 * (4754) port, or from/to Teredo (3544) or GTP-U (2152; from it only if the
 * destination is not a service port either), is unwrapped only when the
 * header there checks out and the source port is not a DNS/TLS service
 * port (53, 443, 853, 5353, 5355); otherwise it is delivered as plain UDP.
 * GTP-U is unwrapped for G-PDUs (message type 255) whose length matches the
 * datagram, past the optional sequence / N-PDU / next-type fields and up to
 * 16 extension headers; its other messages (echo, error indication, end
 * marker) stay plain UDP.
 */
int bw_decode_frame(struct bw_decoder *d, int linktype, const uint8_t *frame, uint32_t cap_len,
		    uint32_t wire_len, bw_time_t ts, struct bw_packet *out);

/*
 * Returned by bw_decode_frame() (a positive value, so "rc != BW_OK" callers
 * skip the packet) for a TCP segment of a flow in the finished-flow set:
 * out holds the decoded headers, but the packet was neither checked against
 * nor entered in the duplicate filter.
 */
#define BW_DECODE_BYPASSED 2

/*
 * Offline bypass: the user-space twin of the live capture's kernel bypass.
 * The caller adds a TCP flow it needs no more bytes of (key as made by
 * bw_flow_key_make; ts its current packet time). From then on, a segment of
 * that flow (same addresses, ports and innermost VLAN) without SYN, FIN or
 * RST is returned as BW_DECODE_BYPASSED right after the header decode,
 * before the duplicate filter's hash and lookup. A segment with SYN, FIN or
 * RST is still delivered (the TCP table must see its flow close or restart):
 * when a pure SYN starts a new connection on the tuple, the caller removes
 * the entry with bw_decoder_bypass_del() before the next segment, so the new
 * connection's bytes are not hidden.
 * Every segment of the flow refreshes the entry's time; an entry without one
 * for bypass_idle is removed when next found. Entry times are the latest
 * frame time seen (ts if later), as the TCP table keeps its flows' times, so
 * a file older than the one before it does not age the entries. The set is small and fixed (2-way sets of 64-byte entries, the
 * older replaced): a flow pushed out only costs the normal path again, and
 * an entry is a full-key match, never a false positive. A no-op if
 * bypass_slots is 0 or key is not TCP.
 */
void bw_decoder_bypass_add(struct bw_decoder *d, const struct bw_flow_key *key, bw_time_t ts);
/* Remove the flow from the set (no-op if it is not there). */
void bw_decoder_bypass_del(struct bw_decoder *d, const struct bw_flow_key *key);

/* Canonical flow key of a decoded packet; *dir (if dir is not NULL) is 0 if src is lo, 1 otherwise. */
void bw_flow_key_make(const struct bw_packet *p, struct bw_flow_key *key, int *dir);

/*
 * Symmetric hash of a flow key (same for both directions by construction).
 * SipHash over the key bytes with a fixed key: stable across runs, so a table
 * facing hostile traffic should use the seeded form with a secret seed.
 */
uint64_t bw_flow_key_hash(const struct bw_flow_key *key);
uint64_t bw_flow_key_hash_seeded(const struct bw_flow_key *key, uint64_t seed);

#endif /* BW_DECODE_H */
