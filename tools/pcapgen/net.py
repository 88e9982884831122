# SPDX-License-Identifier: MIT
"""Frames built byte by byte: link layers (Ethernet, 802.1Q/QinQ, MPLS, Linux
SLL and SLL2, raw IP, BSD NULL and LOOP), IPv4 (options, fragmentation at a
given MTU, correct checksums), IPv6 (extension header chains, fragment
header), UDP and TCP headers with correct checksums, and the tunnels a
sensor meets on mirrored traffic (GRE with key/sequence, ERSPAN I/II/III,
VXLAN, GENEVE, IP-in-IP).

Every function takes and returns bytes, so layers compose by nesting calls:
ether(..., ipv4(..., udp(...))). Addresses are given as text and parsed
with the ipaddress module; the IP version follows from the address.
"""

import ipaddress
import struct

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8
ETH_IPV6 = 0x86DD
ETH_MPLS = 0x8847
ETH_TEB = 0x6558      # transparent Ethernet bridging (GRE, GENEVE)
ETH_ERSPAN12 = 0x88BE  # ERSPAN type I and II over GRE
ETH_ERSPAN3 = 0x22EB

IPPROTO_HOPOPTS = 0
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_GRE = 47
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60

TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK, TH_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def ip(addr):
    return ipaddress.ip_address(addr)


def ipver(addr):
    return ip(addr).version


def mac(text):
    b = bytes(int(x, 16) for x in text.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC " + text)
    return b


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _pseudo(src, dst, proto, length):
    s, d = ip(src), ip(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


# ---------------------------------------------------------------- link layers

def ether(payload, ethertype, src="02:00:00:00:00:01", dst="02:00:00:00:00:02", vlans=(), mpls=()):
    """Ethernet II. vlans: outermost first, each a VLAN id or (tpid, vid[, pcp]);
    a plain id uses 0x88A8 for the outer tag of a QinQ stack and 0x8100
    otherwise. mpls: label stack outermost first, each a label or
    (label, tc, ttl); bottom-of-stack is set on the last; the payload is then
    carried straight after the stack (IPv4/IPv6 recognised by its version)."""
    hdr = mac(dst) + mac(src)
    tags = []
    for i, v in enumerate(vlans):
        if isinstance(v, int):
            tpid = ETH_QINQ if (len(vlans) > 1 and i == 0) else ETH_VLAN
            vid, pcp = v, 0
        else:
            tpid, vid = v[0], v[1]
            pcp = v[2] if len(v) > 2 else 0
        tags.append((tpid, (pcp << 13) | (vid & 0xFFF)))
    inner_type = ethertype
    if mpls:
        inner_type = ETH_MPLS
        stack = b""
        for i, m in enumerate(mpls):
            label, tc, ttl = (m, 0, 64) if isinstance(m, int) else m
            bos = 1 if i == len(mpls) - 1 else 0
            stack += struct.pack("!I", (label << 12) | (tc << 9) | (bos << 8) | ttl)
        payload = stack + payload
    if tags:
        hdr += struct.pack("!H", tags[0][0])
        for i, (tpid, tci) in enumerate(tags):
            nxt = tags[i + 1][0] if i + 1 < len(tags) else inner_type
            hdr += struct.pack("!HH", tci, nxt)
    else:
        hdr += struct.pack("!H", inner_type)
    return hdr + payload


def ethertype_of(ip_packet):
    return ETH_IPV6 if ip_packet[0] >> 4 == 6 else ETH_IPV4


def eth_ip(ip_packet, **kw):
    return ether(ip_packet, ethertype_of(ip_packet), **kw)


def sll(ip_packet, pkttype=0, hatype=1, addr="02:00:00:00:00:01"):
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16 bytes."""
    a = mac(addr)
    return struct.pack("!HHH", pkttype, hatype, len(a)) + a + b"\0\0" + \
        struct.pack("!H", ethertype_of(ip_packet)) + ip_packet


def sll2(ip_packet, ifindex=2, pkttype=0, hatype=1, addr="02:00:00:00:00:01"):
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20 bytes."""
    a = mac(addr)
    return struct.pack("!HHIHBB", ethertype_of(ip_packet), 0, ifindex, hatype, pkttype, len(a)) + \
        a + b"\0\0" + ip_packet


AF_INET = 2
AF_INET6_BSD = 24      # NetBSD/OpenBSD; FreeBSD uses 28, macOS 30


def null(ip_packet, big_endian=False, af6=AF_INET6_BSD):
    """BSD loopback (LINKTYPE_NULL): 4-byte AF in the capturing host's order."""
    af = af6 if ip_packet[0] >> 4 == 6 else AF_INET
    return struct.pack(">I" if big_endian else "<I", af) + ip_packet


def loop(ip_packet, af6=AF_INET6_BSD):
    """OpenBSD loopback (LINKTYPE_LOOP): 4-byte AF in network order."""
    af = af6 if ip_packet[0] >> 4 == 6 else AF_INET
    return struct.pack(">I", af) + ip_packet


# ---------------------------------------------------------------- IPv4

def ipv4(src, dst, proto, payload, ttl=64, ident=0, tos=0, df=False, mf=False, frag_off=0,
         options=b"", bad_checksum=False):
    """An IPv4 header + payload with a correct header checksum. frag_off is in
    bytes (must be a multiple of 8). options are padded to 4 bytes with EOL."""
    options = options + b"\0" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, flags, ttl,
                      proto, 0, ip(src).packed, ip(dst).packed) + options
    c = checksum(hdr)
    if bad_checksum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv4_opt_rr(slots=3):
    """Record Route option with room for `slots` addresses (copied by routers)."""
    return bytes([7, 3 + 4 * slots, 4]) + b"\0" * (4 * slots)


def ipv4_opt_ra():
    """Router Alert option (RFC 2113)."""
    return bytes([148, 4, 0, 0])


def ipv4_opt_nop():
    return b"\x01"


def ipv4_fragments(src, dst, proto, payload, mtu, ident, options=b"", copy_options=False, **kw):
    """Split a datagram into fragments whose IP packets are at most mtu bytes.
    Options go in the first fragment; later ones carry them only when
    copy_options (real stacks copy only options with the copied bit set)."""
    opt_len = len(options) + (-len(options) % 4)
    first = True
    out = []
    off = 0
    while True:
        hl = 20 + (opt_len if (first or copy_options) else 0)
        room = (mtu - hl) // 8 * 8
        if room <= 0:
            raise ValueError("MTU too small")
        chunk = payload[off:off + room]
        last = off + len(chunk) >= len(payload)
        out.append(ipv4(src, dst, proto, chunk, ident=ident, mf=not last, frag_off=off,
                        options=options if (first or copy_options) else b"", **kw))
        off += len(chunk)
        first = False
        if last:
            return out


# ---------------------------------------------------------------- IPv6

def ip6_opts_pad(body_len=6):
    """A PadN option filling body_len bytes (hop-by-hop / destination options)."""
    if body_len == 0:
        return b""
    if body_len == 1:
        return b"\0"
    return bytes([1, body_len - 2]) + b"\0" * (body_len - 2)


class Ext6:
    """One IPv6 extension header: kind is IPPROTO_HOPOPTS, IPPROTO_DSTOPTS,
    IPPROTO_ROUTING or IPPROTO_FRAGMENT; body is everything after the
    next-header byte (the length byte is computed for options/routing)."""

    def __init__(self, kind, body=b""):
        self.kind = kind
        self.body = body

    def encode(self, nxt):
        if self.kind == IPPROTO_FRAGMENT:
            return bytes([nxt]) + self.body       # body: reserved + offset/M + ident (7 bytes)
        data = self.body
        total = 2 + len(data)
        pad = -total % 8
        if self.kind in (IPPROTO_HOPOPTS, IPPROTO_DSTOPTS):
            data += ip6_opts_pad(pad)
        else:
            data += b"\0" * pad
        total += pad
        return bytes([nxt, total // 8 - 1]) + data


def hopopts(body=b"\x05\x02\x00\x00"):   # default: Router Alert (MLD) option
    return Ext6(IPPROTO_HOPOPTS, body)


def dstopts(pad=6):
    return Ext6(IPPROTO_DSTOPTS, ip6_opts_pad(pad))


def routing(segments=(), rtype=0, left=0):
    body = bytes([rtype, left]) + b"\0" * 4 + b"".join(ip(s).packed for s in segments)
    return Ext6(IPPROTO_ROUTING, body)


def frag6(offset, more, ident):
    return Ext6(IPPROTO_FRAGMENT, b"\0" + struct.pack("!HI", (offset // 8) << 3 | (1 if more else 0), ident))


def ipv6(src, dst, nh, payload, hlim=64, ext=(), flow=0, tclass=0):
    """An IPv6 header, the extension chain ext (in order) and the payload; nh is
    the upper-layer protocol after the chain."""
    chain = b""
    kinds = [e.kind for e in ext] + [nh]
    for i, e in enumerate(ext):
        chain += e.encode(kinds[i + 1])
    first = kinds[0]
    body = chain + payload
    return struct.pack("!IHBB", (6 << 28) | (tclass << 20) | flow, len(body), first, hlim) + \
        ip(src).packed + ip(dst).packed + body


def ipv6_fragments(src, dst, nh, payload, mtu, ident, unfrag=(), frag_ext=(), **kw):
    """Fragment an IPv6 datagram (RFC 8200 s4.5). unfrag: extension headers
    repeated in every fragment (before the fragment header); frag_ext: headers
    in the fragmentable part (only in the first fragment's data). payload is
    the upper-layer packet (e.g. a UDP datagram with its checksum computed
    over the whole)."""
    kinds = [e.kind for e in frag_ext] + [nh]
    fragmentable = b""
    for i, e in enumerate(frag_ext):
        fragmentable += e.encode(kinds[i + 1])
    fragmentable += payload
    first_nh = kinds[0]
    unfrag_len = sum(len(e.encode(0)) for e in unfrag)
    room = (mtu - 40 - unfrag_len - 8) // 8 * 8
    if room <= 0:
        raise ValueError("MTU too small")
    out = []
    off = 0
    while off < len(fragmentable):
        chunk = fragmentable[off:off + room]
        more = off + len(chunk) < len(fragmentable)
        out.append(ipv6(src, dst, first_nh, chunk, ext=list(unfrag) + [frag6(off, more, ident)], **kw))
        off += len(chunk)
    return out


def ip_packet(src, dst, proto, payload, **kw):
    """IPv4 or IPv6 by the source address; kw goes to ipv4()/ipv6()."""
    if ipver(src) == 4:
        return ipv4(src, dst, proto, payload, **kw)
    return ipv6(src, dst, proto, payload, **kw)


# ---------------------------------------------------------------- transport

def udp(src, dst, sport, dport, payload, bad_checksum=False, zero_checksum=False):
    """A UDP header + payload with the checksum over the pseudo header of the
    IP version of src/dst."""
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    if zero_checksum and ipver(src) == 4:
        return hdr + payload
    c = checksum(_pseudo(src, dst, IPPROTO_UDP, length) + hdr + payload) or 0xFFFF
    if bad_checksum:
        c ^= 0x1111
    return hdr[:6] + struct.pack("!H", c) + payload


def tcp_opt_mss(mss):
    return struct.pack("!BBH", 2, 4, mss)


def tcp_opt_wscale(shift):
    return struct.pack("!BBB", 3, 3, shift)


def tcp_opt_sack_perm():
    return b"\x04\x02"


def tcp_opt_ts(val, ecr):
    return struct.pack("!BBII", 8, 10, val, ecr)


def tcp_opt_nop():
    return b"\x01"


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b"", urg=0):
    options = options + b"\0" * (-len(options) % 4)
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, flags,
                      window, 0, urg) + options
    c = checksum(_pseudo(src, dst, IPPROTO_TCP, len(hdr) + len(payload)) + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def udp_ip(src, dst, sport, dport, payload, **kw):
    """A whole IP packet carrying a UDP datagram."""
    return ip_packet(src, dst, IPPROTO_UDP, udp(src, dst, sport, dport, payload), **kw)


# ---------------------------------------------------------------- tunnels

def gre(inner, proto, key=None, seq=None, csum=False):
    """GRE (RFC 2784/2890) header + inner. proto: the inner EtherType."""
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    hdr = struct.pack("!HH", flags, proto)
    if csum:
        hdr += b"\0\0\0\0"
    if key is not None:
        hdr += struct.pack("!I", key)
    if seq is not None:
        hdr += struct.pack("!I", seq)
    if csum:
        c = checksum(hdr + inner)
        hdr = hdr[:4] + struct.pack("!H", c) + hdr[6:]
    return hdr + inner


def gre_ip(outer_src, outer_dst, inner_ip, key=None, seq=None, **kw):
    """An outer IP packet carrying GRE carrying an IP packet."""
    return ip_packet(outer_src, outer_dst, IPPROTO_GRE,
                     gre(inner_ip, ethertype_of(inner_ip), key=key, seq=seq), **kw)


def erspan1(outer_src, outer_dst, inner_frame, **kw):
    """ERSPAN type I: GRE proto 0x88BE without sequence number, no ERSPAN
    header, the mirrored Ethernet frame straight after GRE."""
    return ip_packet(outer_src, outer_dst, IPPROTO_GRE, gre(inner_frame, ETH_ERSPAN12), **kw)


def erspan2(outer_src, outer_dst, inner_frame, session, seq, vlan=0, cos=0, index=0, **kw):
    """ERSPAN type II: GRE with sequence number, proto 0x88BE, 8-byte header."""
    w1 = (1 << 28) | ((vlan & 0xFFF) << 16) | (cos << 13) | (0 << 11) | (0 << 10) | (session & 0x3FF)
    w2 = index & 0xFFFFF
    hdr = struct.pack("!II", w1, w2)
    return ip_packet(outer_src, outer_dst, IPPROTO_GRE, gre(hdr + inner_frame, ETH_ERSPAN12, seq=seq), **kw)


def erspan3(outer_src, outer_dst, inner_frame, session, seq, timestamp=0, vlan=0, cos=0, sgt=0,
            platform=None, **kw):
    """ERSPAN type III: GRE with sequence number, proto 0x22EB, 12-byte header
    and, when platform is given (8 bytes), the optional platform subheader."""
    w1 = (2 << 28) | ((vlan & 0xFFF) << 16) | (cos << 13) | (session & 0x3FF)
    o = 1 if platform is not None else 0
    w3 = (sgt << 16) | o            # P=0, FT=0 (Ethernet), HW=0, D=0, Gra=0
    hdr = struct.pack("!III", w1, timestamp & 0xFFFFFFFF, w3)
    if platform is not None:
        hdr += platform
    return ip_packet(outer_src, outer_dst, IPPROTO_GRE, gre(hdr + inner_frame, ETH_ERSPAN3, seq=seq), **kw)


def vxlan(outer_src, outer_dst, inner_frame, vni, sport=49152, dport=4789, **kw):
    hdr = struct.pack("!II", 0x08000000, vni << 8)
    return udp_ip(outer_src, outer_dst, sport, dport, hdr + inner_frame, **kw)


def geneve(outer_src, outer_dst, inner, vni, proto=ETH_TEB, options=b"", sport=49153, dport=6081, **kw):
    """GENEVE (RFC 8926); inner is an Ethernet frame (proto 0x6558) or an IP
    packet (proto 0x0800/0x86DD). options must be a multiple of 4 bytes."""
    hdr = struct.pack("!BBHI", len(options) // 4, 0, proto, vni << 8) + options
    return udp_ip(outer_src, outer_dst, sport, dport, hdr + inner, **kw)


def geneve_option(cls, otype, data):
    data = data + b"\0" * (-len(data) % 4)
    return struct.pack("!HBB", cls, otype, len(data) // 4) + data


def ipip(outer_src, outer_dst, inner_ip, **kw):
    proto = IPPROTO_IPV6 if inner_ip[0] >> 4 == 6 else IPPROTO_IPIP
    return ip_packet(outer_src, outer_dst, proto, inner_ip, **kw)
