/* SPDX-License-Identifier: MIT */
/*
 * decode.c: one captured frame in, one UDP or TCP packet out.
 *
 * The decoder walks the frame outside in: link layer, VLAN and MPLS stacks,
 * IP with its options or extension headers, fragments (handed to ipfrag),
 * tunnels (GRE and its PPP/ERSPAN payloads, VXLAN, GENEVE, IP-in-IP, Teredo,
 * GTP-U),
 * and starts again inside each tunnel until it reaches UDP or TCP. It is a
 * set of small functions calling each other rather than a table of layers
 * because each layer knows what may follow it; the recursion is bounded by
 * the layer caps (BW_MAX_TUNNEL, BW_MAX_MPLS, BW_MAX_VLAN_DECODE) and a
 * guard on link headers, never by the input. Every byte is read through the
 * bw_wire cursor; each layer trims its cursor to what its header declares,
 * so trailing padding never reaches the next one, and knows whether the
 * capture (snaplen, or an ERSPAN session truncating mirrored frames) may
 * have cut it short, which is the one case where a length larger than the
 * bytes at hand is not malformed. Checksums are not verified: offloading
 * makes them wrong in most captures of the sensor's own host, and a mirror
 * has no say over them anyway. The decoder owns two reassembly buffers so
 * that a datagram rebuilt inside a tunnel whose outer packet was itself
 * rebuilt does not overwrite the bytes it is being rebuilt from.
 *
 * The finished-flow set (offline bypass, decode.h) sits between the header
 * decode and the duplicate filter because the filter's hash and its cache
 * miss were most of what a bulk segment cost: a segment of a flow the worker
 * is done with now costs the decode and one lookup in a small table of
 * cache-line slots that stays in L2.
 */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "ipfrag.h"
#include "pktdedup.h"
#include "wire.h"

#define ET_IP4 0x0800
#define ET_IP6 0x86DD
#define ET_VLAN 0x8100
#define ET_QINQ 0x88A8
#define ET_QINQ_OLD 0x9100
#define ET_QINQ_OLD2 0x9200
#define ET_MPLS 0x8847
#define ET_MPLS_MC 0x8848
#define ET_PPPOE 0x8864
#define ET_TEB 0x6558   /* transparent Ethernet bridging */
#define ET_PPP 0x880B
#define ET_ERSPAN2 0x88BE
#define ET_ERSPAN3 0x22EB

#define PPP_IP4 0x0021
#define PPP_IP6 0x0057
#define PPP_MPLS 0x0281
#define PPP_MPLS_MC 0x0283

#define IPP_IPIP 4
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_IPV6 41
#define IPP_GRE 47

#define PORT_VXLAN 4789
#define PORT_VXLAN_LINUX 8472
#define PORT_GENEVE 6081
#define PORT_GRE_UDP 4754
#define PORT_TEREDO 3544
#define PORT_GTPU 2152

#define GTPU_G_PDU 255 /* message type of a G-PDU: a user packet follows */
#define GTPU_MAX_EXT 16 /* GTP-U extension headers followed */

#define MAX_LINK_LAYERS 24 /* Ethernet headers in one frame; the caps above bound it already */
#define NOT_TUNNEL 1       /* a UDP tunnel probe declined: deliver the datagram as UDP */

struct bw_decoder {
	struct bw_decode_config cfg;
	struct bw_anomalies *an;
	struct bw_decode_stats st;
	struct bw_ipfrag *frag;
	struct bw_pktdedup *dedup;
	uint8_t *rbuf[2];
	struct bypass_slot *bypass; /* bypass_sets * BYPASS_WAYS slots; NULL: off */
	uint32_t bypass_mask;       /* sets - 1 */
	uint32_t bypass_used;       /* slots holding a flow: 0 skips the lookup */
	bw_time_t now;              /* latest frame time, for bypass_idle */
};

/*
 * One finished flow of the offline bypass: the whole flow key (so a match is
 * exact) and the time of its latest segment, in one cache line. An empty
 * slot has key.proto 0.
 */
#define BYPASS_WAYS 2
struct bypass_slot {
	struct bw_flow_key key;
	bw_time_t last;
	uint8_t pad[64 - sizeof(struct bw_flow_key) - sizeof(bw_time_t)];
};
_Static_assert(sizeof(struct bypass_slot) == 64, "a bypass slot is one cache line");

/* Per-frame state. */
struct dctx {
	struct bw_decoder *d;
	struct bw_packet *p;
	bool cut;          /* this layer's bytes may end before its headers say */
	unsigned layers;   /* link headers entered */
	unsigned nbuf;     /* reassemblies done this frame */
	bool mpls;
	/* the innermost IP packet, for the duplicate filter */
	const uint8_t *ip;
	size_t ip_len;
	bool ip_reasm;
	uint32_t frag_id;
	const uint8_t *reasm;
	size_t reasm_len;
};

static int dec_ether(struct dctx *c, struct bw_wire *w);
static int dec_ethertype(struct dctx *c, uint16_t type, struct bw_wire *w, bool len_ok);
static int dec_ip(struct dctx *c, struct bw_wire *w, unsigned version);

static int bad(struct dctx *c, enum bw_anomaly why, int err)
{
	bw_anomaly(c->d->an, why);
	return err;
}

static int not_ip(struct dctx *c)
{
	c->d->st.non_ip++;
	return BW_ENOTSUP;
}

static int other_l4(struct dctx *c, uint8_t proto)
{
	c->p->proto = proto;
	c->d->st.other_l4++;
	return BW_ENOTSUP;
}

/* ---- link layer ---------------------------------------------------- */

static void vlan_add(struct bw_packet *p, uint16_t tci)
{
	uint16_t vid = tci & 0x0fff;
	if (p->n_vlan < BW_MAX_VLAN)
		p->vlan[p->n_vlan] = vid;
	p->n_vlan++;
	p->vlan_inner = vid;
}

/* 802.2 LLC, with SNAP carrying an ethertype (RFC 1042). */
static int dec_llc(struct dctx *c, struct bw_wire *w)
{
	uint8_t dsap = bw_wire_u8(w);
	uint8_t ssap = bw_wire_u8(w);
	uint8_t ctrl = bw_wire_u8(w);
	if ((ctrl & 3) != 3)
		bw_wire_skip(w, 1); /* I and S frames have a 2-byte control field */
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	if (dsap != 0xAA || (ssap & 0xFE) != 0xAA)
		return not_ip(c);
	uint32_t oui = bw_wire_u24(w);
	uint16_t type = bw_wire_u16(w);
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	if (oui != 0 && oui != 0x0000F8)
		return not_ip(c);
	return dec_ethertype(c, type, w, false);
}

static int dec_mpls(struct dctx *c, struct bw_wire *w)
{
	struct bw_packet *p = c->p;
	uint32_t label;
	c->mpls = true;
	for (;;) {
		if (p->n_mpls >= BW_MAX_MPLS)
			return bad(c, BW_AN_MPLS_TOO_DEEP, BW_EMALF);
		uint32_t e = bw_wire_u32(w);
		if (!bw_wire_ok(w))
			return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
		p->n_mpls++;
		if (e & 0x100) { /* bottom of stack */
			label = e >> 12;
			break;
		}
	}
	if (label == 0)
		return dec_ip(c, w, 4); /* IPv4 explicit null */
	if (label == 2)
		return dec_ip(c, w, 6); /* IPv6 explicit null */
	/* MPLS does not say what it carries: guess by the first nibble, as
	 * every analyser does. 0 is the pseudowire control word (RFC 4385). */
	struct bw_wire peek = *w;
	uint8_t first = bw_wire_u8(&peek);
	if (!bw_wire_ok(&peek))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	switch (first >> 4) {
	case 4: return dec_ip(c, w, 4);
	case 6: return dec_ip(c, w, 6);
	case 0:
		bw_wire_skip(w, 4);
		if (!bw_wire_ok(w))
			return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
		return dec_ether(c, w);
	default: return not_ip(c);
	}
}

/* A PPP frame: optional HDLC address/control (FF 03), then the protocol,
 * one byte when compressed (RFC 1661 section 6.5: odd first byte). */
static int dec_ppp(struct dctx *c, struct bw_wire *w)
{
	struct bw_wire peek = *w;
	if (bw_wire_u8(&peek) == 0xFF && bw_wire_u8(&peek) == 0x03 && bw_wire_ok(&peek))
		bw_wire_skip(w, 2);
	uint16_t proto = bw_wire_u8(w);
	if (!(proto & 1))
		proto = (uint16_t)(proto << 8 | bw_wire_u8(w));
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	switch (proto) {
	case PPP_IP4: return dec_ip(c, w, 4);
	case PPP_IP6: return dec_ip(c, w, 6);
	case PPP_MPLS:
	case PPP_MPLS_MC: return dec_mpls(c, w);
	default: return not_ip(c);
	}
}

/* PPPoE session stage (RFC 2516): 6-byte header, then PPP without FF 03. */
static int dec_pppoe(struct dctx *c, struct bw_wire *w)
{
	uint8_t vt = bw_wire_u8(w);
	uint8_t code = bw_wire_u8(w);
	bw_wire_skip(w, 2); /* session id */
	uint16_t len = bw_wire_u16(w);
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	if (vt != 0x11 || code != 0)
		return not_ip(c);
	struct bw_wire sub;
	bw_wire_sub(w, BW_MIN((size_t)len, bw_wire_left(w)), &sub);
	return dec_ppp(c, &sub);
}

static int dec_chdlc(struct dctx *c, struct bw_wire *w)
{
	bw_wire_skip(w, 2); /* address (0x0F unicast, 0x8F broadcast), control */
	uint16_t type = bw_wire_u16(w);
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	return dec_ethertype(c, type, w, false);
}

/*
 * Dispatch on an ethertype, peeling VLAN tags on the way. len_ok: the value
 * may be an 802.3 length (a real Ethernet header, not SNAP or SLL).
 */
static int dec_ethertype(struct dctx *c, uint16_t type, struct bw_wire *w, bool len_ok)
{
	struct bw_packet *p = c->p;
	for (;;) {
		switch (type) {
		case ET_VLAN:
		case ET_QINQ:
		case ET_QINQ_OLD:
		case ET_QINQ_OLD2: {
			if (p->n_vlan >= BW_MAX_VLAN_DECODE)
				return bad(c, BW_AN_VLAN_TOO_DEEP, BW_EMALF);
			uint16_t tci = bw_wire_u16(w);
			type = bw_wire_u16(w);
			if (!bw_wire_ok(w))
				return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
			vlan_add(p, tci);
			continue; /* bounded: n_vlan grows each time */
		}
		case ET_IP4: return dec_ip(c, w, 4);
		case ET_IP6: return dec_ip(c, w, 6);
		case ET_MPLS:
		case ET_MPLS_MC: return dec_mpls(c, w);
		case ET_PPPOE: return dec_pppoe(c, w);
		default:
			if (len_ok && type <= 1500) {
				/* 802.3: the field is the length; the rest is padding. */
				struct bw_wire sub;
				bw_wire_sub(w, BW_MIN((size_t)type, bw_wire_left(w)), &sub);
				return dec_llc(c, &sub);
			}
			return not_ip(c);
		}
	}
}

static int dec_ether(struct dctx *c, struct bw_wire *w)
{
	if (++c->layers > MAX_LINK_LAYERS)
		return bad(c, BW_AN_TUNNEL_TOO_DEEP, BW_EMALF);
	bw_wire_skip(w, 12); /* destination, source */
	uint16_t type = bw_wire_u16(w);
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	return dec_ethertype(c, type, w, true);
}

static int af_version(uint32_t af)
{
	switch (af) {
	case 2: return 4;  /* AF_INET everywhere */
	case 24:           /* AF_INET6: NetBSD, OpenBSD, BSD/OS */
	case 28:           /* FreeBSD, DragonFly */
	case 30: return 6; /* Darwin */
	default: return 0;
	}
}

static int dec_sll_proto(struct dctx *c, uint16_t proto, struct bw_wire *w)
{
	if (proto == 0x0004) /* raw 802.2 frame */
		return dec_llc(c, w);
	return dec_ethertype(c, proto, w, false);
}

static int dec_link(struct dctx *c, int linktype, struct bw_wire *w)
{
	switch (linktype) {
	case BW_LINK_ETHERNET: return dec_ether(c, w);
	case BW_LINK_RAW:
	case BW_LINK_DLT_RAW12:
	case BW_LINK_DLT_RAW14: return dec_ip(c, w, 0);
	case BW_LINK_IPV4: return dec_ip(c, w, 4);
	case BW_LINK_IPV6: return dec_ip(c, w, 6);
	case BW_LINK_NULL:
	case BW_LINK_LOOP: {
		struct bw_wire be = *w;
		uint32_t af_le = bw_wire_u32_le(w);
		uint32_t af_be = bw_wire_u32(&be);
		if (!bw_wire_ok(w))
			return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
		/* NULL is in the writer's byte order, which the file does not
		 * record reliably: accept either. LOOP is network order. */
		int v = af_version(af_be);
		if (!v && linktype == BW_LINK_NULL)
			v = af_version(af_le);
		if (!v)
			return not_ip(c);
		return dec_ip(c, w, (unsigned)v);
	}
	case BW_LINK_LINUX_SLL: {
		bw_wire_skip(w, 14); /* packet type, ARPHRD, address length, address */
		uint16_t proto = bw_wire_u16(w);
		if (!bw_wire_ok(w))
			return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
		return dec_sll_proto(c, proto, w);
	}
	case BW_LINK_LINUX_SLL2: {
		uint16_t proto = bw_wire_u16(w);
		bw_wire_skip(w, 18); /* reserved, ifindex, ARPHRD, type, address length, address */
		if (!bw_wire_ok(w))
			return bad(c, BW_AN_LINK_TRUNC, BW_ETRUNC);
		return dec_sll_proto(c, proto, w);
	}
	case BW_LINK_PPP: return dec_ppp(c, w);
	case BW_LINK_PPP_HDLC: {
		struct bw_wire peek = *w;
		uint8_t a = bw_wire_u8(&peek);
		if (a == 0x0F || a == 0x8F)
			return dec_chdlc(c, w);
		return dec_ppp(c, w);
	}
	case BW_LINK_C_HDLC: return dec_chdlc(c, w);
	default:
		bw_anomaly(c->d->an, BW_AN_CAP_UNKNOWN_LINKTYPE);
		return not_ip(c);
	}
}

bool bw_decode_linktype_ok(int linktype)
{
	switch (linktype) {
	case BW_LINK_NULL:
	case BW_LINK_ETHERNET:
	case BW_LINK_PPP:
	case BW_LINK_DLT_RAW12:
	case BW_LINK_DLT_RAW14:
	case BW_LINK_PPP_HDLC:
	case BW_LINK_RAW:
	case BW_LINK_C_HDLC:
	case BW_LINK_LOOP:
	case BW_LINK_LINUX_SLL:
	case BW_LINK_IPV4:
	case BW_LINK_IPV6:
	case BW_LINK_LINUX_SLL2: return true;
	default: return false;
	}
}

/* ---- tunnels ------------------------------------------------------- */

/* Record the IP header just decoded as the outer side of a tunnel. */
static int tunnel_push(struct dctx *c, enum bw_tunnel_type type, uint16_t sport, uint16_t dport, uint32_t id)
{
	struct bw_packet *p = c->p;
	if (p->n_tunnel >= BW_MAX_TUNNEL)
		return bad(c, BW_AN_TUNNEL_TOO_DEEP, BW_EMALF);
	struct bw_tunnel *t = &p->tunnel[p->n_tunnel++];
	t->type = (uint8_t)type;
	t->src = p->src;
	t->dst = p->dst;
	t->sport = sport;
	t->dport = dport;
	t->id = id;
	p->sport = p->dport = 0;
	return BW_OK;
}

static int dec_ipip(struct dctx *c, struct bw_wire *w, unsigned version)
{
	int r = tunnel_push(c, BW_TUN_IPIP, 0, 0, 0);
	if (r != BW_OK)
		return r;
	return dec_ip(c, w, version);
}

/* ERSPAN type II (8 bytes) and III (12, +8 with the platform subheader). */
static int dec_erspan(struct dctx *c, struct bw_wire *w, unsigned type, uint16_t sport, uint16_t dport)
{
	uint16_t w0 = bw_wire_u16(w);
	uint16_t w1 = bw_wire_u16(w);
	unsigned ft = 0;
	bw_wire_skip(w, 4); /* II: reserved + index; III: timestamp */
	if (type == 3) {
		bw_wire_skip(w, 2); /* security group tag */
		uint16_t w5 = bw_wire_u16(w);
		ft = (w5 >> 10) & 0x1f;
		if (w5 & 1)
			bw_wire_skip(w, 8); /* platform-specific subheader */
	}
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);
	unsigned ver = w0 >> 12;
	if (ver != type - 1 || (ft != 0 && ft != 2))
		return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_GRE));
	int r = tunnel_push(c, type == 2 ? BW_TUN_ERSPAN2 : BW_TUN_ERSPAN3, sport, dport, w1 & 0x3ff);
	if (r != BW_OK)
		return r;
	if (w1 & 0x0400)
		c->cut = true; /* T: the session truncated the mirrored frame */
	return ft == 2 ? dec_ip(c, w, 0) : dec_ether(c, w);
}

/* GRE (RFC 2784, 2890) and PPTP's enhanced GRE (RFC 2637). */
static int dec_gre(struct dctx *c, struct bw_wire *w, uint16_t sport, uint16_t dport)
{
	uint16_t fl = bw_wire_u16(w);
	uint16_t proto = bw_wire_u16(w);
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);
	bool seq = fl & 0x1000;
	uint32_t key = 0;
	struct bw_wire sub;
	struct bw_wire *pl = w;
	switch (fl & 7) {
	case 0:
		if (fl & 0x4000) /* RFC 1701 source routing: obsolete */
			return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_GRE));
		if (fl & 0x8000)
			bw_wire_skip(w, 4); /* checksum, reserved1 */
		if (fl & 0x2000)
			key = bw_wire_u32(w);
		if (seq)
			bw_wire_skip(w, 4);
		break;
	case 1: {
		if (proto != ET_PPP || !(fl & 0x2000) || (fl & 0xC000))
			return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_GRE));
		uint16_t plen = bw_wire_u16(w);
		key = bw_wire_u16(w); /* call id */
		if (seq)
			bw_wire_skip(w, 4);
		if (fl & 0x0080)
			bw_wire_skip(w, 4); /* acknowledgment */
		if (!bw_wire_ok(w))
			return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);
		if (plen == 0)
			return other_l4(c, IPP_GRE); /* acknowledgment only */
		if (plen < bw_wire_left(w)) {
			bw_wire_sub(w, plen, &sub);
			pl = &sub;
		}
		break;
	}
	default: return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_GRE));
	}
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);

	enum bw_tunnel_type tt = BW_TUN_GRE;
	switch (proto) {
	case ET_IP4:
	case ET_IP6:
	case ET_TEB:
	case ET_PPP:
	case ET_MPLS:
	case ET_MPLS_MC: break;
	case ET_ERSPAN2:
		if (seq)
			return dec_erspan(c, pl, 2, sport, dport);
		tt = BW_TUN_ERSPAN1; /* type I: no header, no sequence number */
		break;
	case ET_ERSPAN3: return dec_erspan(c, pl, 3, sport, dport);
	default: return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_GRE));
	}
	int r = tunnel_push(c, tt, sport, dport, key);
	if (r != BW_OK)
		return r;
	switch (proto) {
	case ET_IP4: return dec_ip(c, pl, 4);
	case ET_IP6: return dec_ip(c, pl, 6);
	case ET_PPP: return dec_ppp(c, pl);
	case ET_MPLS:
	case ET_MPLS_MC: return dec_mpls(c, pl);
	default: return dec_ether(c, pl);
	}
}

static bool gre_udp_plausible(const struct bw_wire *w)
{
	struct bw_wire t = *w;
	uint16_t fl = bw_wire_u16(&t);
	uint16_t proto = bw_wire_u16(&t);
	if (!bw_wire_ok(&t) || (fl & 0x4FFF) != 0)
		return false; /* version 0, no routing, reserved bits clear */
	switch (proto) {
	case ET_IP4:
	case ET_IP6:
	case ET_TEB:
	case ET_MPLS:
	case ET_MPLS_MC:
	case ET_ERSPAN2:
	case ET_ERSPAN3: return true;
	default: return false;
	}
}

static int dec_vxlan(struct dctx *c, struct bw_wire *w, uint16_t sport, uint16_t dport)
{
	struct bw_wire t = *w;
	uint8_t flags = bw_wire_u8(&t);
	bw_wire_skip(&t, 3);
	uint32_t vni = bw_wire_u24(&t);
	uint8_t rsvd = bw_wire_u8(&t);
	/* I must be set; G (group policy) is the only other flag in use. */
	if (!bw_wire_ok(&t) || !(flags & 0x08) || (flags & ~0x88) || rsvd != 0)
		return NOT_TUNNEL;
	int r = tunnel_push(c, BW_TUN_VXLAN, sport, dport, vni);
	if (r != BW_OK)
		return r;
	*w = t;
	return dec_ether(c, w);
}

static int dec_geneve(struct dctx *c, struct bw_wire *w, uint16_t sport, uint16_t dport)
{
	struct bw_wire t = *w;
	uint8_t b0 = bw_wire_u8(&t);
	uint8_t b1 = bw_wire_u8(&t);
	uint16_t proto = bw_wire_u16(&t);
	uint32_t vni = bw_wire_u24(&t);
	uint8_t rsvd = bw_wire_u8(&t);
	if (!bw_wire_ok(&t) || (b0 >> 6) != 0 || (b1 & 0x3f) != 0 || rsvd != 0)
		return NOT_TUNNEL;
	if (proto != ET_TEB && proto != ET_IP4 && proto != ET_IP6)
		return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_UDP));
	bw_wire_skip(&t, (size_t)(b0 & 0x3f) * 4); /* options */
	if (!bw_wire_ok(&t))
		return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);
	int r = tunnel_push(c, BW_TUN_GENEVE, sport, dport, vni);
	if (r != BW_OK)
		return r;
	*w = t;
	if (proto == ET_TEB)
		return dec_ether(c, w);
	return dec_ip(c, w, proto == ET_IP4 ? 4 : 6);
}

/* Teredo (RFC 4380): IPv6 in UDP, after optional authentication and origin
 * indication headers. Taken only if the IPv6 header fits the datagram. */
static int dec_teredo(struct dctx *c, struct bw_wire *w, uint16_t sport, uint16_t dport)
{
	struct bw_wire t = *w;
	for (int i = 0; i < 2; i++) {
		struct bw_wire q = t;
		uint8_t a = bw_wire_u8(&q);
		uint8_t b = bw_wire_u8(&q);
		if (!bw_wire_ok(&q) || a != 0)
			break;
		if (b == 1) {
			uint8_t id_len = bw_wire_u8(&q);
			uint8_t au_len = bw_wire_u8(&q);
			bw_wire_skip(&q, (size_t)id_len + au_len + 9); /* nonce, confirmation */
		} else if (b == 0) {
			bw_wire_skip(&q, 6); /* origin port and address */
		} else {
			break;
		}
		if (!bw_wire_ok(&q))
			return NOT_TUNNEL;
		t = q;
	}
	struct bw_wire q = t;
	uint8_t vb = bw_wire_u8(&q);
	bw_wire_skip(&q, 3);
	uint16_t plen = bw_wire_u16(&q);
	if (!bw_wire_ok(&q) || (vb >> 4) != 6 || bw_wire_left(&t) < 40)
		return NOT_TUNNEL;
	size_t want = (size_t)plen + 40, have = bw_wire_left(&t);
	if (want != have && !(c->cut && want > have))
		return NOT_TUNNEL;
	int r = tunnel_push(c, BW_TUN_TEREDO, sport, dport, 0);
	if (r != BW_OK)
		return r;
	*w = t;
	return dec_ip(c, w, 6);
}

/*
 * GTP-U (3GPP TS 29.281): a G-PDU carries one IPv4 or IPv6 user packet
 * after an 8-byte header (version 1, PT 1, E/S/PN flags, type, length of
 * what follows the 8 bytes, TEID); if any of E, S, PN is set, a sequence
 * number, an N-PDU number and a next-extension-header type follow, and with
 * E a chain of extension headers, each a length in 4-byte units (its own
 * length and next-type bytes included), contents and the next type. Taken
 * only if the length matches the datagram (longer only when the capture cut
 * it), as GTP-U has no magic number to tell it from chance.
 */
static int dec_gtpu(struct dctx *c, struct bw_wire *w, uint16_t sport, uint16_t dport)
{
	struct bw_wire t = *w;
	uint8_t fl = bw_wire_u8(&t);
	uint8_t type = bw_wire_u8(&t);
	size_t len = bw_wire_u16(&t);
	uint32_t teid = bw_wire_u32(&t);
	size_t have = bw_wire_left(&t);
	if (!bw_wire_ok(&t) || (fl >> 5) != 1 || !(fl & 0x10) || (fl & 0x08) || type != GTPU_G_PDU)
		return NOT_TUNNEL; /* also echo, error indication, end marker: plain UDP */
	if (len != have && !(c->cut && len > have))
		return NOT_TUNNEL;
	if (fl & 0x07) {
		bw_wire_skip(&t, 3); /* sequence number, N-PDU number */
		uint8_t next = bw_wire_u8(&t);
		if (!(fl & 0x04))
			next = 0; /* the next-type field counts only with E */
		for (unsigned i = 0; next != 0 && bw_wire_ok(&t); i++) {
			if (i == GTPU_MAX_EXT)
				return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_UDP));
			uint8_t units = bw_wire_u8(&t);
			if (bw_wire_ok(&t) && units == 0)
				return bad(c, BW_AN_TUNNEL_UNSUPPORTED, BW_EMALF); /* a chain that cannot be walked */
			bw_wire_skip(&t, (size_t)units * 4 - 2);
			next = bw_wire_u8(&t);
		}
		if (!bw_wire_ok(&t))
			return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);
	}
	struct bw_wire q = t;
	uint8_t v = bw_wire_u8(&q) >> 4;
	if (!bw_wire_ok(&q))
		return bad(c, BW_AN_TUNNEL_TRUNC, BW_ETRUNC);
	if (v != 4 && v != 6)
		return bad(c, BW_AN_TUNNEL_UNSUPPORTED, other_l4(c, IPP_UDP)); /* Ethernet or unstructured PDU */
	int r = tunnel_push(c, BW_TUN_GTPU, sport, dport, teid);
	if (r != BW_OK)
		return r;
	*w = t;
	return dec_ip(c, w, v);
}

/* ---- transport ----------------------------------------------------- */

static bool service_port(uint16_t port)
{
	return port == 53 || port == 443 || port == 853 || port == 5353 || port == 5355;
}

static int dec_udp(struct dctx *c, struct bw_wire *w, uint32_t decl)
{
	struct bw_packet *p = c->p;
	uint16_t sport = bw_wire_u16(w);
	uint16_t dport = bw_wire_u16(w);
	uint16_t ulen = bw_wire_u16(w);
	bw_wire_skip(w, 2); /* checksum */
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_UDP_TRUNC, BW_ETRUNC);
	if (ulen < 8)
		return bad(c, BW_AN_UDP_BAD_LENGTH, BW_EMALF);
	if (ulen > decl) {
		/* Counted, then the IP length is believed (as Zeek does). */
		bw_anomaly(c->d->an, BW_AN_UDP_BAD_LENGTH);
		ulen = (uint16_t)decl;
	}
	uint32_t pdecl = ulen - 8u;
	size_t cap = BW_MIN((size_t)pdecl, bw_wire_left(w));
	c->cut = cap < pdecl;
	p->sport = sport;
	p->dport = dport;
	struct bw_wire pw;
	bw_wire_sub(w, cap, &pw);

	if (!service_port(sport)) {
		int r = NOT_TUNNEL;
		if (dport == PORT_VXLAN || dport == PORT_VXLAN_LINUX)
			r = dec_vxlan(c, &pw, sport, dport);
		else if (dport == PORT_GENEVE)
			r = dec_geneve(c, &pw, sport, dport);
		else if (dport == PORT_GRE_UDP && gre_udp_plausible(&pw))
			r = dec_gre(c, &pw, sport, dport);
		else if (dport == PORT_TEREDO || sport == PORT_TEREDO)
			r = dec_teredo(c, &pw, sport, dport);
		else if (dport == PORT_GTPU || (sport == PORT_GTPU && !service_port(dport)))
			r = dec_gtpu(c, &pw, sport, dport);
		if (r != NOT_TUNNEL)
			return r;
	}
	p->payload = bw_wire_ptr(&pw, cap);
	p->payload_len = (uint32_t)cap;
	p->payload_cut = c->cut;
	return BW_OK;
}

static int dec_tcp(struct dctx *c, struct bw_wire *w, uint32_t decl)
{
	struct bw_packet *p = c->p;
	size_t avail = bw_wire_left(w);
	uint16_t sport = bw_wire_u16(w);
	uint16_t dport = bw_wire_u16(w);
	uint32_t seq = bw_wire_u32(w);
	uint32_t ack = bw_wire_u32(w);
	uint16_t offfl = bw_wire_u16(w);
	uint16_t win = bw_wire_u16(w);
	bw_wire_skip(w, 4); /* checksum, urgent pointer */
	if (!bw_wire_ok(w))
		return bad(c, BW_AN_TCP_TRUNC, BW_ETRUNC);
	size_t hlen = (size_t)(offfl >> 12) * 4;
	if (hlen < 20 || hlen > decl)
		return bad(c, BW_AN_TCP_BAD_HLEN, BW_EMALF);
	if (hlen > avail)
		return bad(c, BW_AN_TCP_TRUNC, BW_ETRUNC);
	bw_wire_skip(w, hlen - 20); /* options */
	p->sport = sport;
	p->dport = dport;
	p->seq = seq;
	p->ack = ack;
	p->window = win;
	p->tcp_flags = (uint8_t)offfl;
	size_t cap = bw_wire_left(w);
	p->payload = bw_wire_ptr(w, cap);
	p->payload_len = (uint32_t)cap;
	p->payload_cut = cap < decl - hlen;
	return BW_OK;
}

static int dec_l4(struct dctx *c, uint8_t proto, struct bw_wire *w, uint32_t decl)
{
	c->p->proto = proto;
	switch (proto) {
	case IPP_UDP: return dec_udp(c, w, decl);
	case IPP_TCP: return dec_tcp(c, w, decl);
	case IPP_IPIP: return dec_ipip(c, w, 4);
	case IPP_IPV6: return dec_ipip(c, w, 6);
	case IPP_GRE: return dec_gre(c, w, 0, 0);
	default: return other_l4(c, proto);
	}
}

/* ---- IP ------------------------------------------------------------ */

/*
 * Hand a fragment to ipfrag. BW_OK: *pw now covers the whole datagram
 * payload (in a decoder buffer) and *proto is its protocol.
 */
static int reassemble(struct dctx *c, const struct bw_ipfrag_key *k, const struct bw_ipfrag_frag *fr,
		      struct bw_wire *pw, uint8_t *proto)
{
	struct bw_decoder *d = c->d;
	d->st.frag_fragments++;
	uint8_t *buf = d->rbuf[c->nbuf++ & 1];
	size_t len = 0;
	uint8_t pr = 0;
	int r = bw_ipfrag_add(d->frag, k, fr, c->p->ts, buf, BW_IPFRAG_MAX_PAYLOAD, &len, &pr);
	if (r == BW_ELIMIT)
		return BW_EMALF; /* ELIMIT means "duplicate" to our callers */
	if (r != BW_OK)
		return r;
	d->st.frag_reassembled++;
	bw_wire_init(pw, buf, len);
	*proto = pr;
	c->cut = false;
	c->p->reassembled = true;
	c->ip_reasm = true;
	c->frag_id = k->id;
	c->reasm = buf;
	c->reasm_len = len;
	return BW_OK;
}

static void frag_key(const struct dctx *c, struct bw_ipfrag_key *k, unsigned version, uint32_t id, uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	k->src = c->p->src;
	k->dst = c->p->dst;
	k->id = id;
	k->version = (uint8_t)version;
	k->proto = proto;
	k->vlan = c->p->vlan_inner;
	k->depth = c->p->n_tunnel;
}

/* Options are TLVs after EOL/NOP (RFC 791); a bad layout is counted only:
 * hosts skip options they do not understand, and so do we. */
static bool ip4_options_ok(struct bw_wire *o)
{
	while (bw_wire_left(o)) {
		uint8_t t = bw_wire_u8(o);
		if (t == 0)
			return true; /* end of list: the rest is padding */
		if (t == 1)
			continue;
		uint8_t l = bw_wire_u8(o);
		if (!bw_wire_ok(o) || l < 2 || l - 2u > bw_wire_left(o))
			return false;
		bw_wire_skip(o, l - 2u);
	}
	return true;
}

static int dec_ip4(struct dctx *c, struct bw_wire *w)
{
	struct bw_packet *p = c->p;
	size_t avail = bw_wire_left(w);
	const uint8_t *hdr = bw_wire_peek(w, 20);
	if (!hdr)
		return bad(c, BW_AN_IP4_TRUNC, BW_ETRUNC);
	uint8_t vihl = bw_wire_u8(w);
	bw_wire_skip(w, 1); /* DSCP, ECN */
	uint16_t tot = bw_wire_u16(w);
	uint16_t id = bw_wire_u16(w);
	uint16_t frag = bw_wire_u16(w);
	uint8_t ttl = bw_wire_u8(w);
	uint8_t proto = bw_wire_u8(w);
	bw_wire_skip(w, 2); /* checksum */
	struct bw_ip src = {.family = 4}, dst = {.family = 4};
	bw_wire_copy(w, src.a, 4);
	bw_wire_copy(w, dst.a, 4);
	size_t hlen = (size_t)(vihl & 0x0f) * 4;
	if ((vihl >> 4) != 4)
		return bad(c, BW_AN_IP4_BAD_VERSION, BW_EMALF);
	if (hlen < 20)
		return bad(c, BW_AN_IP4_BAD_HLEN, BW_EMALF);
	if (tot < hlen)
		return bad(c, BW_AN_IP4_BAD_TOTLEN, BW_EMALF);
	if (hlen > avail)
		return bad(c, BW_AN_IP4_TRUNC, BW_ETRUNC);
	struct bw_wire opt;
	bw_wire_sub(w, hlen - 20, &opt);
	if (!ip4_options_ok(&opt))
		bw_anomaly(c->d->an, BW_AN_IP4_BAD_OPTIONS);

	uint32_t decl = tot - (uint32_t)hlen;
	size_t cap = bw_wire_left(w);
	if (tot > avail) {
		if (!c->cut)
			return bad(c, BW_AN_IP4_TRUNC, BW_ETRUNC);
	} else {
		cap = decl; /* drop link-layer padding */
	}
	c->cut = cap < decl;
	p->ip_version = 4;
	p->ttl = ttl;
	p->src = src;
	p->dst = dst;
	p->proto = proto;
	c->ip = hdr;
	c->ip_len = hlen + cap;
	c->ip_reasm = false;

	struct bw_wire pw;
	bw_wire_sub(w, cap, &pw);
	uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
	bool more = frag & 0x2000;
	if (more || off) {
		if (c->cut)
			return bad(c, BW_AN_IP4_TRUNC, BW_ETRUNC); /* cannot rebuild from a cut fragment */
		struct bw_ipfrag_key k;
		frag_key(c, &k, 4, id, proto);
		struct bw_ipfrag_frag fr = {
			.offset = off, .more = more, .next_proto = proto, .len = (uint32_t)cap,
		};
		fr.data = bw_wire_ptr(&pw, cap);
		int r = reassemble(c, &k, &fr, &pw, &proto);
		if (r != BW_OK)
			return r;
		decl = (uint32_t)bw_wire_left(&pw);
	}
	return dec_l4(c, proto, &pw, decl);
}

static bool ip6_ext(uint8_t nh)
{
	switch (nh) {
	case 0:   /* hop-by-hop options */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 59:  /* no next header */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return true;
	default: return false;
	}
}

static int dec_ip6(struct dctx *c, struct bw_wire *w)
{
	struct bw_packet *p = c->p;
	const uint8_t *hdr = bw_wire_peek(w, 40);
	if (!hdr)
		return bad(c, BW_AN_IP6_TRUNC, BW_ETRUNC);
	uint32_t vtf = bw_wire_u32(w);
	uint16_t plen = bw_wire_u16(w);
	uint8_t nh = bw_wire_u8(w);
	uint8_t hlim = bw_wire_u8(w);
	struct bw_ip src = {.family = 6}, dst = {.family = 6};
	bw_wire_copy(w, src.a, 16);
	bw_wire_copy(w, dst.a, 16);
	if ((vtf >> 28) != 6)
		return bad(c, BW_AN_IP6_BAD_VERSION, BW_EMALF);
	if (plen == 0 && nh == 0)
		return bad(c, BW_AN_IP6_BAD_PLEN, BW_EMALF); /* jumbogram: not on any link we read */
	size_t cap = bw_wire_left(w);
	if (plen > cap) {
		if (!c->cut)
			return bad(c, BW_AN_IP6_TRUNC, BW_ETRUNC);
	} else {
		cap = plen;
	}
	uint32_t decl = plen;
	c->cut = cap < decl;
	p->ip_version = 6;
	p->ttl = hlim;
	p->src = src;
	p->dst = dst;
	c->ip = hdr;
	c->ip_len = 40 + cap;
	c->ip_reasm = false;

	struct bw_wire pw;
	bw_wire_sub(w, cap, &pw);
	bool rebuilt = false;
	for (unsigned n = 0; ip6_ext(nh); n++) {
		if (nh == 50 || nh == 59)
			return other_l4(c, nh);
		if (n >= BW_MAX_IP6_EXT)
			return bad(c, BW_AN_IP6_EXTHDR_TOO_MANY, BW_EMALF);
		uint8_t next = bw_wire_u8(&pw);
		uint8_t l = bw_wire_u8(&pw);
		if (nh == 44) {
			uint16_t om = bw_wire_u16(&pw);
			uint32_t id = bw_wire_u32(&pw);
			if (!bw_wire_ok(&pw) || decl < 8)
				return bad(c, BW_AN_IP6_EXTHDR_TRUNC, BW_ETRUNC);
			decl -= 8;
			uint32_t off = om & 0xfff8;
			bool more = om & 1;
			if (off == 0 && !more) {
				nh = next; /* atomic fragment (RFC 6946): not fragmented */
				continue;
			}
			if (rebuilt)
				return bad(c, BW_AN_FRAG_BAD, BW_EMALF); /* a fragment inside a fragment */
			if (c->cut)
				return bad(c, BW_AN_IP6_TRUNC, BW_ETRUNC);
			struct bw_ipfrag_key k;
			frag_key(c, &k, 6, id, 0);
			struct bw_ipfrag_frag fr = {.offset = off, .more = more, .next_proto = next};
			fr.len = (uint32_t)bw_wire_left(&pw);
			fr.data = bw_wire_ptr(&pw, fr.len);
			int r = reassemble(c, &k, &fr, &pw, &nh);
			if (r != BW_OK)
				return r;
			decl = (uint32_t)bw_wire_left(&pw);
			rebuilt = true;
			continue;
		}
		size_t len = nh == 51 ? ((size_t)l + 2) * 4 : ((size_t)l + 1) * 8;
		bw_wire_skip(&pw, len - 2);
		if (!bw_wire_ok(&pw) || len > decl)
			return bad(c, BW_AN_IP6_EXTHDR_TRUNC, BW_ETRUNC);
		decl -= (uint32_t)len;
		nh = next;
	}
	return dec_l4(c, nh, &pw, decl);
}

static int dec_ip(struct dctx *c, struct bw_wire *w, unsigned version)
{
	struct bw_wire peek = *w;
	uint8_t b = bw_wire_u8(&peek);
	if (!bw_wire_ok(&peek))
		return bad(c, version == 6 ? BW_AN_IP6_TRUNC : BW_AN_IP4_TRUNC, BW_ETRUNC);
	unsigned v = b >> 4;
	if (version && v != version)
		return bad(c, version == 6 ? BW_AN_IP6_BAD_VERSION : BW_AN_IP4_BAD_VERSION, BW_EMALF);
	if (version == 0)
		version = v == 6 ? 6 : 4; /* anything else fails as bad IPv4 */
	return version == 4 ? dec_ip4(c, w) : dec_ip6(c, w);
}

/*
 * The shape nine frames in ten have on a span port: Ethernet, at most one
 * 802.1Q tag, IPv4 without options or fragmentation (or IPv6 with TCP as
 * the next header), TCP, every length consistent and within the capture.
 * Such a frame is decoded here in one pass, into exactly what the general
 * path (dec_ether and on) leaves in *c and *c->p for it; anything else
 * returns false with nothing written and takes the general path, which
 * also counts the anomalies. The general path was about 450 instructions
 * a frame on the bench capture; tests/test_decode.c (test_fast_path_same)
 * and fuzz_decode compare the two on every frame they see.
 */
static bool dec_ether_tcp_fast(struct dctx *c, const uint8_t *f, size_t n)
{
	struct bw_packet *p = c->p;
	if (n < 14)
		return false;
	size_t off = 14;
	unsigned type = (unsigned)f[12] << 8 | f[13];
	bool tagged = type == ET_VLAN;
	uint16_t tci = 0;
	if (tagged) {
		if (n < 18)
			return false;
		tci = (uint16_t)(f[14] << 8 | f[15]);
		type = (unsigned)f[16] << 8 | f[17];
		off = 18;
	}
	const uint8_t *h = f + off;
	size_t avail = n - off, iphl, cap;
	if (type == ET_IP4) {
		/* dec_ip4: version 4, no options, no fragment, whole, TCP */
		if (avail < 20 || h[0] != 0x45 || h[9] != IPP_TCP || (h[6] & 0x3f) || h[7])
			return false;
		size_t tot = (size_t)h[2] << 8 | h[3];
		if (tot < 20 || tot > avail)
			return false;
		iphl = 20;
		cap = tot - 20;
	} else if (type == ET_IP6) {
		/* dec_ip6: version 6, TCP next (no extension header), whole */
		if (avail < 40 || (h[0] >> 4) != 6 || h[6] != IPP_TCP)
			return false;
		size_t plen = (size_t)h[4] << 8 | h[5];
		if (plen > avail - 40)
			return false;
		iphl = 40;
		cap = plen;
	} else {
		return false;
	}
	/* dec_tcp: decl == cap here, so the header fits both */
	const uint8_t *t = h + iphl;
	if (cap < 20)
		return false;
	size_t thl = (size_t)(t[12] >> 4) * 4;
	if (thl < 20 || thl > cap)
		return false;

	c->layers = 1;
	c->cut = false;
	if (tagged) {
		uint16_t vid = tci & 0x0fff;
		p->vlan[0] = vid;
		p->n_vlan = 1;
		p->vlan_inner = vid;
	}
	/* IPv4: TTL at 8, addresses at 12 and 16; IPv6: hop limit at 7, addresses at 8 and 24.
	 * Fixed-size copies: a variable one was a memcpy call per frame. */
	bool v4 = iphl == 20;
	p->ip_version = v4 ? 4 : 6;
	p->ttl = h[v4 ? 8 : 7];
	p->src.family = p->dst.family = p->ip_version;
	if (v4) {
		memcpy(p->src.a, h + 12, 4);
		memcpy(p->dst.a, h + 16, 4);
	} else {
		memcpy(p->src.a, h + 8, 16);
		memcpy(p->dst.a, h + 24, 16);
	}
	c->ip = h;
	c->ip_len = iphl + cap;
	c->ip_reasm = false;
	p->proto = IPP_TCP;
	p->sport = (uint16_t)(t[0] << 8 | t[1]);
	p->dport = (uint16_t)(t[2] << 8 | t[3]);
	p->seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
	p->ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
	p->tcp_flags = t[13];
	p->window = (uint16_t)(t[14] << 8 | t[15]);
	p->payload = t + thl;
	p->payload_len = (uint32_t)(cap - thl);
	p->payload_cut = false;
	return true;
}

/* ---- public -------------------------------------------------------- */

void bw_decode_config_default(struct bw_decode_config *c)
{
	c->frag_mem_cap = 16u << 20;
	c->frag_max_datagrams = 4096;
	c->frag_timeout = 30 * BW_NSEC_PER_SEC;
	c->dedup_window = 50 * BW_NSEC_PER_MSEC;
	c->dedup_slots = 65536;
	c->bypass_slots = 2048;
	c->bypass_idle = 120 * BW_NSEC_PER_SEC;
	c->no_fast_path = false;
}

struct bw_decoder *bw_decoder_new(const struct bw_decode_config *c, struct bw_anomalies *anomalies)
{
	struct bw_decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (c)
		d->cfg = *c;
	else
		bw_decode_config_default(&d->cfg);
	d->an = anomalies;
	struct bw_ipfrag_config fc = {
		.mem_cap = d->cfg.frag_mem_cap,
		.max_datagrams = d->cfg.frag_max_datagrams,
		.timeout = d->cfg.frag_timeout,
	};
	d->frag = bw_ipfrag_new(&fc, anomalies);
	if (!d->frag)
		goto fail;
	if (d->cfg.dedup_window && d->cfg.dedup_slots) {
		d->dedup = bw_pktdedup_new(d->cfg.dedup_slots, d->cfg.dedup_window);
		if (!d->dedup)
			goto fail;
	}
	for (int i = 0; i < 2; i++) {
		d->rbuf[i] = malloc(BW_IPFRAG_MAX_PAYLOAD);
		if (!d->rbuf[i])
			goto fail;
	}
	if (d->cfg.bypass_slots) {
		uint32_t sets = 1;
		while (sets * BYPASS_WAYS < d->cfg.bypass_slots && sets < (1u << 20))
			sets <<= 1;
		size_t n = (size_t)sets * BYPASS_WAYS * sizeof(struct bypass_slot);
		d->bypass = aligned_alloc(64, n);
		if (!d->bypass)
			goto fail;
		memset(d->bypass, 0, n);
		d->bypass_mask = sets - 1;
	}
	return d;
fail:
	bw_decoder_free(d);
	return NULL;
}

void bw_decoder_free(struct bw_decoder *d)
{
	if (!d)
		return;
	bw_ipfrag_free(d->frag);
	bw_pktdedup_free(d->dedup);
	free(d->rbuf[0]);
	free(d->rbuf[1]);
	free(d->bypass);
	free(d);
}

void bw_decoder_input_start(struct bw_decoder *d)
{
	if (d)
		bw_pktdedup_clear(d->dedup);
}

const struct bw_decode_stats *bw_decoder_stats(const struct bw_decoder *d) { return &d->st; }

/* ---- offline bypass ------------------------------------------------- */

/*
 * Set index of a flow key. Not SipHash: this runs for every TCP segment and
 * must cost less than the filter it saves. A crafted collision can only push
 * a flow out of the set (the normal path again), never match a wrong one.
 */
/*
 * The key as six words read field by field. bw_flow_key_make has just
 * written the probe key with narrow stores (17-byte addresses, 2-byte
 * ports); reading it back as six aligned 8-byte words straddled those
 * stores and stalled on each (no store-to-load forwarding): a tenth of
 * bw_decode_frame. Loads inside the stores forward. Padding is left out.
 */
static inline void bypass_words(const struct bw_flow_key *k, uint64_t w[6])
{
	memcpy(&w[0], k->lo.a, 8);
	memcpy(&w[1], k->lo.a + 8, 8);
	memcpy(&w[2], k->hi.a, 8);
	memcpy(&w[3], k->hi.a + 8, 8);
	w[4] = (uint64_t)k->lo_port | (uint64_t)k->hi_port << 16 | (uint64_t)k->proto << 32 |
	       (uint64_t)k->lo.family << 40 | (uint64_t)k->hi.family << 48;
	w[5] = k->vlan;
}

/* Two independent multiply chains, not one of six. */
static inline uint32_t bypass_set(const struct bw_decoder *d, const struct bw_flow_key *k)
{
	uint64_t w[6];
	bypass_words(k, w);
	uint64_t a = (w[0] ^ 0x9e3779b97f4a7c15ULL) * 0xff51afd7ed558ccdULL;
	uint64_t b = (w[1] ^ 0xc2b2ae3d27d4eb4fULL) * 0xc4ceb9fe1a85ec53ULL;
	a = (a ^ w[2]) * 0xff51afd7ed558ccdULL;
	b = (b ^ w[3]) * 0xc4ceb9fe1a85ec53ULL;
	a = (a ^ w[4]) * 0xff51afd7ed558ccdULL;
	b = (b ^ w[5]) * 0xc4ceb9fe1a85ec53ULL;
	uint64_t h = a ^ (b >> 32 | b << 32);
	h ^= h >> 29;
	return (uint32_t)h & d->bypass_mask;
}

/* Field by field, for the same reason (arrays compared as vectors went through the stack). */
static inline bool bypass_key_eq(const struct bw_flow_key *a, const struct bw_flow_key *b)
{
	uint64_t a0, a1, a2, a3, b0, b1, b2, b3;
	memcpy(&a0, a->lo.a, 8);
	memcpy(&a1, a->lo.a + 8, 8);
	memcpy(&a2, a->hi.a, 8);
	memcpy(&a3, a->hi.a + 8, 8);
	memcpy(&b0, b->lo.a, 8);
	memcpy(&b1, b->lo.a + 8, 8);
	memcpy(&b2, b->hi.a, 8);
	memcpy(&b3, b->hi.a + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2) | (a3 ^ b3)) == 0 && a->lo_port == b->lo_port &&
	       a->hi_port == b->hi_port && a->proto == b->proto && a->lo.family == b->lo.family &&
	       a->hi.family == b->hi.family && a->vlan == b->vlan;
}
_Static_assert(sizeof(struct bw_flow_key) % 8 == 0, "the flow key is compared as 64-bit words");

/* Field by field into a zeroed key: slots are compared as bytes, and the
 * caller's padding need not be zero. */
static void bypass_key_norm(const struct bw_flow_key *key, struct bw_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->lo = key->lo;
	k->hi = key->hi;
	k->lo_port = key->lo_port;
	k->hi_port = key->hi_port;
	k->proto = key->proto;
	k->vlan = key->vlan;
}

static void bypass_clear(struct bw_decoder *d, struct bypass_slot *s)
{
	memset(s, 0, sizeof(*s));
	d->bypass_used--;
}

void bw_decoder_bypass_add(struct bw_decoder *d, const struct bw_flow_key *key, bw_time_t ts)
{
	if (!d || !d->bypass || !key || key->proto != IPP_TCP)
		return;
	/* Times are on the decoder's clock (the latest frame time), as the
	 * TCP table's are on its own: a file older than the one before it
	 * must not make entries look stale, or fresh. */
	if (ts > d->now)
		d->now = ts;
	ts = d->now;
	struct bw_flow_key k;
	bypass_key_norm(key, &k);
	struct bypass_slot *set = d->bypass + (size_t)bypass_set(d, &k) * BYPASS_WAYS;
	for (int i = 0; i < BYPASS_WAYS; i++) {
		if (set[i].key.proto && bypass_key_eq(&set[i].key, &k)) {
			if (ts > set[i].last)
				set[i].last = ts;
			return;
		}
	}
	/* An empty slot, else the one whose flow was heard from longest ago. */
	struct bypass_slot *victim = &set[0];
	for (int i = 0; i < BYPASS_WAYS; i++) {
		if (!set[i].key.proto) {
			victim = &set[i];
			break;
		}
		if (set[i].last < victim->last)
			victim = &set[i];
	}
	if (!victim->key.proto)
		d->bypass_used++;
	else
		d->st.bypass_evicted++;
	memcpy(&victim->key, &k, sizeof(k));
	victim->last = ts;
}

void bw_decoder_bypass_del(struct bw_decoder *d, const struct bw_flow_key *key)
{
	if (!d || !d->bypass_used || !key || key->proto != IPP_TCP)
		return;
	struct bw_flow_key k;
	bypass_key_norm(key, &k);
	struct bypass_slot *set = d->bypass + (size_t)bypass_set(d, &k) * BYPASS_WAYS;
	for (int i = 0; i < BYPASS_WAYS; i++)
		if (set[i].key.proto && bypass_key_eq(&set[i].key, &k))
			bypass_clear(d, &set[i]);
}

/* True if p (a decoded TCP segment) belongs to a finished flow and carries no SYN, FIN or RST. */
static bool bypass_hit(struct bw_decoder *d, const struct bw_packet *p)
{
	struct bw_flow_key key;
	bw_flow_key_make(p, &key, NULL);
	struct bypass_slot *set = d->bypass + (size_t)bypass_set(d, &key) * BYPASS_WAYS;
	struct bypass_slot *s = NULL;
	for (int i = 0; i < BYPASS_WAYS && !s; i++)
		if (set[i].key.proto && bypass_key_eq(&set[i].key, &key))
			s = &set[i];
	if (!s)
		return false;
	/* Silent this long: the TCP table has let the flow go too, and what
	 * comes now must meet it as a new flow. */
	if (d->now - s->last > d->cfg.bypass_idle) {
		bypass_clear(d, s);
		return false;
	}
	s->last = d->now;
	return !(p->tcp_flags & (BW_TCP_SYN | BW_TCP_FIN | BW_TCP_RST));
}

#define DEDUP_TCP_PREFIX 64 /* TCP payload bytes the duplicate filter hashes */

/* Hash of the innermost IP packet, as the duplicate filter sees it. */
static uint64_t dedup_hash(const struct dctx *c)
{
	struct bw_hash h;
	bw_pktdedup_hash_begin(c->d->dedup, &h);
	if (c->ip_reasm) {
		/* A rebuilt datagram has no single header: hash what every copy
		 * of it shares. 0xFF cannot start a real IP header. */
		const struct bw_packet *p = c->p;
		uint8_t ph[40];
		ph[0] = 0xFF;
		ph[1] = p->ip_version;
		ph[2] = p->proto;
		ph[3] = 0;
		memcpy(ph + 4, &c->frag_id, 4);
		memcpy(ph + 8, p->src.a, 16);
		memcpy(ph + 24, p->dst.a, 16);
		bw_hash_add(&h, ph, sizeof(ph));
		bw_hash_add(&h, c->reasm, c->reasm_len);
	} else {
		/* TCP: the headers (sequence numbers, lengths) and the first
		 * DEDUP_TCP_PREFIX payload bytes identify a copy. Hashing all of
		 * a full segment's ciphertext was half of a worker's time
		 * (bench/NOTES.md), and two different segments with the same
		 * sequence number could not both be delivered anyway (the first
		 * copy of a byte wins). UDP datagrams are hashed whole. */
		size_t n = c->ip_len;
		const struct bw_packet *p = c->p;
		if (p->proto == IPP_TCP && p->payload && p->payload >= c->ip &&
		    (size_t)(p->payload - c->ip) + DEDUP_TCP_PREFIX < n)
			n = (size_t)(p->payload - c->ip) + DEDUP_TCP_PREFIX;
		bw_pktdedup_hash_ip(&h, c->ip, n);
	}
	return bw_hash_end(&h);
}

int bw_decode_frame(struct bw_decoder *d, int linktype, const uint8_t *frame, uint32_t cap_len,
		    uint32_t wire_len, bw_time_t ts, struct bw_packet *out)
{
	/*
	 * Everything but the tunnel array, which is most of the struct: an
	 * entry is written whole when a tunnel is pushed and nothing reads
	 * past n_tunnel. The whole-struct memset (a rep stos of 288 bytes)
	 * was a fifth of this function on the bench.
	 */
	memset(out, 0, offsetof(struct bw_packet, tunnel));
	memset((char *)out + offsetof(struct bw_packet, ip_version), 0,
	       sizeof(*out) - offsetof(struct bw_packet, ip_version));
	out->ts = ts;
	out->wire_len = wire_len;
	out->cap_len = cap_len;
	d->st.frames++;
	if (ts > d->now)
		d->now = ts;
	bw_ipfrag_expire(d->frag, ts);

	struct dctx c = {.d = d, .p = out, .cut = wire_len > cap_len};
	struct bw_wire w;
	bw_wire_init(&w, frame, cap_len);
	int r;
	if (!frame || cap_len == 0)
		r = bad(&c, BW_AN_LINK_TRUNC, BW_ETRUNC);
	else if (linktype == BW_LINK_ETHERNET && !d->cfg.no_fast_path && dec_ether_tcp_fast(&c, frame, cap_len))
		r = BW_OK;
	else
		r = dec_link(&c, linktype, &w);

	if (out->ip_version == 4)
		d->st.ipv4++;
	else if (out->ip_version == 6)
		d->st.ipv6++;
	if (out->n_vlan)
		d->st.vlan++;
	if (c.mpls)
		d->st.mpls++;
	if (out->n_tunnel)
		d->st.tunneled++;
	d->st.frag_evicted = bw_ipfrag_stats(d->frag)->evicted;
	if (r != BW_OK)
		return r;
	/* Before the duplicate filter: its hash and its cache miss are most of
	 * what a bulk segment costs, and a copy of a bypassed segment is
	 * bypassed too, so the filter need not remember it. */
	if (d->bypass_used && out->proto == IPP_TCP && bypass_hit(d, out)) {
		d->st.bypassed++;
		return BW_DECODE_BYPASSED;
	}
	if (d->dedup && bw_pktdedup_seen(d->dedup, dedup_hash(&c), ts)) {
		d->st.duplicates++;
		return BW_ELIMIT;
	}
	if (out->proto == IPP_UDP)
		d->st.udp++;
	else
		d->st.tcp++;
	return BW_OK;
}

/* ---- flows --------------------------------------------------------- */

/* memcmp's order on struct bw_ip (family, then the address bytes), without the call: once per segment. */
static inline int ip_order(const struct bw_ip *a, const struct bw_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	for (size_t i = 0; i < 16; i += 8) {
		uint64_t x, y;
		memcpy(&x, a->a + i, 8);
		memcpy(&y, b->a + i, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		x = __builtin_bswap64(x);
		y = __builtin_bswap64(y);
#endif
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

void bw_flow_key_make(const struct bw_packet *p, struct bw_flow_key *key, int *dir)
{
	memset(key, 0, sizeof(*key));
	int cmp = ip_order(&p->src, &p->dst);
	if (cmp == 0)
		cmp = (int)p->sport - (int)p->dport;
	if (cmp <= 0) {
		key->lo = p->src;
		key->hi = p->dst;
		key->lo_port = p->sport;
		key->hi_port = p->dport;
	} else {
		key->lo = p->dst;
		key->hi = p->src;
		key->lo_port = p->dport;
		key->hi_port = p->sport;
	}
	key->proto = p->proto;
	key->vlan = p->vlan_inner;
	if (dir)
		*dir = cmp <= 0 ? 0 : 1;
}

/* Fixed key: "bindwatch-flows!" (the seeded form mixes the seed in). */
#define FLOW_K0 0x7461776468646e69ULL
#define FLOW_K1 0x21736f6c662d6863ULL

uint64_t bw_flow_key_hash(const struct bw_flow_key *key) { return bw_hash(FLOW_K0, FLOW_K1, key, sizeof(*key)); }

uint64_t bw_flow_key_hash_seeded(const struct bw_flow_key *key, uint64_t seed)
{
	return bw_hash(FLOW_K0 ^ seed, FLOW_K1 + seed * 0x9e3779b97f4a7c15ULL, key, sizeof(*key));
}

const char *bw_tunnel_name(enum bw_tunnel_type t)
{
	switch (t) {
	case BW_TUN_NONE: return "none";
	case BW_TUN_GRE: return "gre";
	case BW_TUN_ERSPAN1: return "erspan1";
	case BW_TUN_ERSPAN2: return "erspan2";
	case BW_TUN_ERSPAN3: return "erspan3";
	case BW_TUN_VXLAN: return "vxlan";
	case BW_TUN_GENEVE: return "geneve";
	case BW_TUN_IPIP: return "ipip";
	case BW_TUN_TEREDO: return "teredo";
	case BW_TUN_GTPU: return "gtpu";
	}
	return "unknown";
}
