/* SPDX-License-Identifier: MIT */
/*
 * anomaly.h: the reasons a packet, stream or message was malformed or hit a
 * bound. Malformed traffic is counted, never logged (a log line per bad
 * packet is a denial of service on ourselves). Each parser bumps one counter
 * in a caller-owned struct bw_anomalies; the stats module prints the names.
 *
 * To add a reason, add one X() line in the right group. The string is the
 * stable name used in stats events ("malformed" object keys).
 */
#ifndef BW_ANOMALY_H
#define BW_ANOMALY_H

#include "../sensor/bw.h"

#define BW_ANOMALY_LIST(X)                                                   \
	/* capture / link layer */                                           \
	X(CAP_SNAPLEN_CUT, "capture.snaplen_cut")                            \
	X(CAP_ZERO_LENGTH, "capture.zero_length")                            \
	X(CAP_BAD_LENGTH, "capture.impossible_length")                       \
	X(CAP_TIME_BACKWARDS, "capture.time_backwards")                      \
	X(CAP_UNKNOWN_LINKTYPE, "capture.unsupported_linktype")              \
	X(LINK_TRUNC, "link.truncated")                                      \
	X(VLAN_TOO_DEEP, "vlan.too_deep")                                    \
	X(MPLS_TOO_DEEP, "mpls.too_deep")                                    \
	/* IP */                                                             \
	X(IP4_TRUNC, "ipv4.truncated")                                       \
	X(IP4_BAD_VERSION, "ipv4.bad_version")                               \
	X(IP4_BAD_HLEN, "ipv4.bad_header_length")                            \
	X(IP4_BAD_TOTLEN, "ipv4.bad_total_length")                           \
	X(IP4_BAD_OPTIONS, "ipv4.bad_options")                               \
	X(IP6_TRUNC, "ipv6.truncated")                                       \
	X(IP6_BAD_VERSION, "ipv6.bad_version")                               \
	X(IP6_BAD_PLEN, "ipv6.bad_payload_length")                           \
	X(IP6_EXTHDR_TOO_MANY, "ipv6.too_many_extension_headers")            \
	X(IP6_EXTHDR_TRUNC, "ipv6.extension_header_truncated")               \
	/* fragments */                                                      \
	X(FRAG_OVERLAP, "frag.overlap")                                      \
	X(FRAG_OVERLAP_CONFLICT, "frag.overlap_conflicting_bytes")           \
	X(FRAG_TOO_BIG, "frag.datagram_too_big")                             \
	X(FRAG_MEMCAP, "frag.memcap_hit")                                    \
	X(FRAG_TOO_MANY, "frag.too_many_datagrams")                          \
	X(FRAG_TIMEOUT, "frag.timeout")                                      \
	X(FRAG_BAD, "frag.bad_fragment")                                     \
	/* tunnels */                                                        \
	X(TUNNEL_TRUNC, "tunnel.truncated")                                  \
	X(TUNNEL_TOO_DEEP, "tunnel.too_deep")                                \
	X(TUNNEL_UNSUPPORTED, "tunnel.unsupported")                          \
	/* L4 */                                                             \
	X(UDP_TRUNC, "udp.truncated")                                        \
	X(UDP_BAD_LENGTH, "udp.bad_length")                                  \
	X(TCP_TRUNC, "tcp.truncated")                                        \
	X(TCP_BAD_HLEN, "tcp.bad_header_length")                             \
	/* TCP reassembly */                                                 \
	X(TCP_OVERLAP, "tcp.overlap")                                        \
	X(TCP_OVERLAP_CONFLICT, "tcp.overlap_conflicting_bytes")             \
	X(TCP_GAP, "tcp.gap")                                                \
	X(TCP_STREAM_CAP, "tcp.stream_cap_hit")                              \
	X(TCP_MEMCAP, "tcp.memcap_hit")                                      \
	X(TCP_FLOW_CAP, "tcp.flow_cap_hit")                                  \
	X(TCP_OOO_CAP, "tcp.out_of_order_cap_hit")                           \
	/* DNS */                                                            \
	X(DNS_TRUNC, "dns.truncated")                                        \
	X(DNS_BAD_NAME, "dns.bad_name")                                      \
	X(DNS_NAME_LOOP, "dns.compression_loop")                             \
	X(DNS_FORWARD_PTR, "dns.forward_pointer")                            \
	X(DNS_NAME_TOO_LONG, "dns.name_too_long")                            \
	X(DNS_BAD_RDATA, "dns.bad_rdata")                                    \
	X(DNS_TRAILING, "dns.trailing_bytes")                                \
	X(DNS_TCP_BAD_LENGTH, "dns.tcp_bad_length")                          \
	X(DNS_NOT_DNS, "dns.not_dns")                                        \
	/* TLS and certificates (TLS issue) */                               \
	X(TLS_BAD_RECORD, "tls.bad_record")                                  \
	X(TLS_BAD_HANDSHAKE, "tls.bad_handshake")                            \
	X(TLS_HANDSHAKE_CAP, "tls.handshake_cap_hit")                        \
	X(X509_BAD_DER, "x509.bad_der")                                      \
	X(QUIC_BAD, "quic.bad_initial")

enum bw_anomaly {
#define BW_AN_ENUM(id, name) BW_AN_##id,
	BW_ANOMALY_LIST(BW_AN_ENUM)
#undef BW_AN_ENUM
	BW_AN__COUNT
};

/* Per-worker counters, one per reason. Plain (not atomic): one writer. */
struct bw_anomalies {
	uint64_t n[BW_AN__COUNT];
};

static inline void bw_anomaly(struct bw_anomalies *a, enum bw_anomaly why)
{
	if (a)
		a->n[why]++;
}

/* Stable name of a reason ("dns.compression_loop"). */
const char *bw_anomaly_name(enum bw_anomaly why);

#endif /* BW_ANOMALY_H */
