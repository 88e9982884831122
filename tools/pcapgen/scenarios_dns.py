# SPDX-License-Identifier: MIT
"""The bundled DNS captures (pcaps/dns-*.pcap*). One function per capture.

Every record is written in the text dig prints, which is both what goes on
the wire (dns.encode_rdata parses it) and what the sensor must report (the
truth TSV). Addresses are from the documentation ranges (RFC 5737, 3849)
and names under example.* (RFC 2606), except where a test needs something
else (mDNS multicast groups).
"""

import base64
import struct

from . import net
from .dns import Message, tcp_frame
from .pcapfile import (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP,
                       LINKTYPE_NULL, LINKTYPE_RAW)
from .scenario import TcpSession, scenario

C4, R4 = "192.0.2.10", "198.51.100.53"             # client, resolver (IPv4)
C6, R6 = "2001:db8:1::10", "2001:db8:53::53"       # client, resolver (IPv6)


def b64(cap, n):
    return base64.b64encode(bytes(cap.rng.getrandbits(8) for _ in range(n))).decode()


def hexs(cap, n):
    return bytes(cap.rng.getrandbits(8) for _ in range(n)).hex().upper()


def query(cap, name, qtype, edns=True, **kw):
    q = Message(id=cap.rng.randint(1, 65535), **kw).question(name, qtype)
    if edns:
        q.edns(1232)
    return q


def resp(q, edns=True, do=False, **kw):
    r = q.response(**kw)
    if edns:
        r.edns(1232, do=do)
    return r


def rrsig(cap, covered, signer, labels, ttl, tag=23456):
    return "%s 13 %d %d 20240201000000 20240101000000 %d %s %s" % (covered, labels, ttl, tag, signer,
                                                                    b64(cap, 64))


# ---------------------------------------------------------------- dns-basic

@scenario("dns-basic", "UDP DNS over IPv4 and IPv6 with many record types, EDNS, odd names")
def dns_basic(cap):
    ex = []

    q = query(cap, "www.example.com", "A")
    r = resp(q, do=True)
    r.answer("www.example.com", 300, "CNAME", "web.example.net")
    r.answer("web.example.net", 60, "A", "192.0.2.80")
    r.answer("web.example.net", 60, "A", "192.0.2.81")
    r.authority("example.net", 86400, "NS", "ns1.example.net")
    r.additional("ns1.example.net", 86400, "A", "198.51.100.1")
    r.additional("ns1.example.net", 86400, "AAAA", "2001:db8:53::1")
    ex.append((4, q, r))

    q = query(cap, "example.com", "AAAA")
    r = resp(q)
    r.answer("example.com", 3600, "AAAA", "2001:db8::1")
    r.answer("example.com", 3600, "AAAA", "2001:db8:0:1::abcd")
    ex.append((6, q, r))

    q = query(cap, "example.com", "MX")
    r = resp(q)
    r.answer("example.com", 3600, "MX", "10 mx1.example.com")
    r.answer("example.com", 3600, "MX", "20 mx2.example.com")
    r.additional("mx1.example.com", 3600, "A", "192.0.2.25")
    r.additional("mx2.example.com", 3600, "AAAA", "2001:db8::25")
    ex.append((4, q, r))

    q = query(cap, "example.com", "TXT")
    r = resp(q)
    r.answer("example.com", 300, "TXT", '"v=spf1 -all"')
    r.answer("example.com", 300, "TXT", '"part one" "part two"')
    r.answer("example.com", 300, "TXT", '"say \\"hi\\" \\\\ back\\009tab\\255"')
    r.answer("example.com", 300, "TXT", '""')
    r.answer("example.com", 300, "TXT", '"%s" "%s"' % ("a" * 255, "b" * 100))
    ex.append((6, q, r))

    q = query(cap, "example.com", "SOA")
    r = resp(q, aa=True)
    r.answer("example.com", 3600, "SOA", "ns1.example.com hostmaster.example.com 2024010201 7200 3600 1209600 300")
    ex.append((4, q, r))

    q = query(cap, "example.com", "NS")
    r = resp(q)
    r.answer("example.com", 172800, "NS", "ns1.example.com")
    r.answer("example.com", 172800, "NS", "ns2.example.org")
    r.additional("ns1.example.com", 172800, "A", "192.0.2.53")
    ex.append((6, q, r))

    q = query(cap, "_sip._udp.example.com", "SRV")
    r = resp(q)
    r.answer("_sip._udp.example.com", 600, "SRV", "10 60 5060 sip1.example.com")
    r.answer("_sip._udp.example.com", 600, "SRV", "20 40 5060 sip2.example.com")
    r.answer("_sip._udp.example.com", 600, "SRV", "0 0 0 .")
    ex.append((4, q, r))

    q = query(cap, "example.com", "CAA")
    r = resp(q)
    r.answer("example.com", 3600, "CAA", '0 issue "letsencrypt.org"')
    r.answer("example.com", 3600, "CAA", '0 issuewild ";"')
    r.answer("example.com", 3600, "CAA", '128 iodef "mailto:security@example.com"')
    ex.append((4, q, r))

    q = query(cap, "example.com", "DS")
    r = resp(q, do=True, ad=True)
    r.answer("example.com", 86400, "DS", "12345 13 2 " + hexs(cap, 32))
    r.answer("example.com", 86400, "RRSIG", rrsig(cap, "DS", "com", 2, 86400, tag=19718))
    ex.append((4, q, r))

    q = query(cap, "example.com", "DNSKEY")
    r = resp(q, do=True, ad=True)
    r.answer("example.com", 3600, "DNSKEY", "257 3 13 " + b64(cap, 64))
    r.answer("example.com", 3600, "DNSKEY", "256 3 13 " + b64(cap, 64))
    r.answer("example.com", 3600, "RRSIG", rrsig(cap, "DNSKEY", "example.com", 2, 3600, tag=12345))
    ex.append((6, q, r))

    q = query(cap, "signed.example.com", "A")
    r = resp(q, do=True, ad=True)
    r.answer("signed.example.com", 300, "A", "192.0.2.99")
    r.answer("signed.example.com", 300, "RRSIG", rrsig(cap, "A", "example.com", 3, 300))
    ex.append((4, q, r))

    q = query(cap, "alpha.example.com", "NSEC")
    r = resp(q, do=True)
    r.answer("alpha.example.com", 300, "NSEC", "beta.example.com A MX RRSIG NSEC TYPE1234")
    ex.append((4, q, r))

    q = query(cap, "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.com", "NSEC3")
    r = resp(q, do=True)
    r.answer("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.com", 300, "NSEC3",
             "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A RRSIG")
    r.answer("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.com", 300, "NSEC3",
             "1 1 10 AABBCCDD 3MSKMRRB7EFO3M3DIHPGSE0IA8I0FC6N NS SOA RRSIG DNSKEY NSEC3PARAM")
    ex.append((6, q, r))

    q = query(cap, "cdn.example.com", "HTTPS")
    r = resp(q)
    r.answer("cdn.example.com", 300, "HTTPS",
             '1 . alpn="h3,h2" ipv4hint=192.0.2.80,192.0.2.81 ipv6hint=2001:db8::80,2001:db8::81')
    r.answer("cdn.example.com", 300, "HTTPS", "2 edge.example.net port=8443 ech=" + b64(cap, 24))
    ex.append((4, q, r))

    q = query(cap, "_dns.resolver.arpa", "SVCB")
    r = resp(q)
    r.answer("_dns.resolver.arpa", 300, "SVCB", '1 dns.example.net alpn="dot" port=853')
    r.answer("_dns.resolver.arpa", 300, "SVCB", "0 svc.example.net")
    ex.append((6, q, r))

    q = query(cap, "private.example.com", "TYPE65280")
    r = resp(q)
    r.answer("private.example.com", 60, "TYPE65280", "\\# 4 DEADBEEF")
    r.answer("private.example.com", 60, "TYPE65280", "\\# 0")
    ex.append((4, q, r))

    q = query(cap, "10.2.0.192.in-addr.arpa", "PTR")
    r = resp(q)
    r.answer("10.2.0.192.in-addr.arpa", 86400, "PTR", "host10.example.com")
    ex.append((4, q, r))

    q = query(cap, "example.com", "NAPTR")
    r = resp(q)
    r.answer("example.com", 3600, "NAPTR", '100 10 "S" "SIP+D2U" "" _sip._udp.example.com')
    r.answer("example.com", 3600, "NAPTR", '100 20 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .')
    ex.append((4, q, r))

    q = query(cap, "host.example.com", "SSHFP")
    r = resp(q)
    r.answer("host.example.com", 3600, "SSHFP", "1 1 " + hexs(cap, 20))
    r.answer("host.example.com", 3600, "SSHFP", "4 2 " + hexs(cap, 32))
    ex.append((6, q, r))

    q = query(cap, "_443._tcp.www.example.com", "TLSA")
    r = resp(q)
    r.answer("_443._tcp.www.example.com", 3600, "TLSA", "3 1 1 " + hexs(cap, 32))
    ex.append((4, q, r))

    q = query(cap, "example.com", "ANY")
    r = resp(q)
    r.answer("example.com", 3789, "HINFO", '"RFC8482" ""')
    ex.append((4, q, r))

    q = query(cap, "www.example.org", "A")
    r = resp(q)
    r.answer("example.org", 3600, "DNAME", "example.net")
    r.answer("www.example.org", 3600, "CNAME", "www.example.net")
    r.answer("www.example.net", 300, "A", "192.0.2.82")
    ex.append((4, q, r))

    # 0x20 mixed case: answers point back at the question, keeping its case
    q = query(cap, "WwW.ExAmPlE.CoM", "A", edns=False)
    r = resp(q, edns=False)
    r.answer("WwW.ExAmPlE.CoM", 300, "A", "192.0.2.80")
    ex.append((4, q, r))

    # odd bytes in labels: a space, a dot inside a label, a high byte
    q = query(cap, "we\\032ird\\.label\\200.example.com", "A")
    r = resp(q)
    r.answer("we\\032ird\\.label\\200.example.com", 30, "A", "192.0.2.200")
    ex.append((6, q, r))

    # the root's NS set: "." as owner
    q = query(cap, ".", "NS")
    r = resp(q)
    r.answer(".", 518400, "NS", "a.root-servers.net")
    r.answer(".", 518400, "NS", "b.root-servers.net")
    ex.append((4, q, r))

    for v, q, r in ex:
        if v == 4:
            cap.exchange(C4, R4, q, r)
        else:
            cap.exchange(C6, R6, q, r)
    cap.notes.append("%d UDP exchanges (v4 and v6), every answer with EDNS except the 0x20 one" % len(ex))


# ---------------------------------------------------------------- dns-tcp

def _pair(cap, name, qtype, answers, authority=()):
    q = query(cap, name, qtype)
    r = resp(q)
    for a in answers:
        r.answer(*a)
    for a in authority:
        r.authority(*a)
    return q, r


@scenario("dns-tcp", "DNS over TCP: pipelined messages, messages split across segments, out of order, "
          "duplicated and retransmitted segments (one with different bytes), no SYN, an AXFR stream")
def dns_tcp(cap):
    # 1: full handshake, two pipelined queries in one segment, two answers in
    #    one byte run cut at MSS 32 so the length prefix and messages straddle
    #    segments; segments 1 and 2 swapped, segment 3 duplicated, segment 4
    #    dropped (retransmitted later), segment 5 retransmitted with other bytes.
    s = TcpSession(cap, C4, R4, 40001, mss=1460)
    s.handshake()
    q1, r1 = _pair(cap, "tcp1.example.com", "A", [("tcp1.example.com", 300, "A", "192.0.2.1"),
                                                  ("tcp1.example.com", 300, "A", "192.0.2.2")])
    q2, r2 = _pair(cap, "tcp2.example.com", "TXT", [("tcp2.example.com", 300, "TXT",
                                                     '"a fairly long text record to span segments"')])
    s.send_dns(0, [q1, q2])
    s.ack(1)
    segs = s.segments(1, tcp_frame(r1.encode()) + tcp_frame(r2.encode()), mss=32)
    nseg = len(segs)
    assert nseg >= 6, nseg
    order = [1, 0] + list(range(2, nseg))
    alt = bytearray(segs[5][1])
    alt[0] ^= 0xFF
    s.send_segments(1, segs, order=order, dup={3}, drop={4}, altered={5: bytes(alt)})
    _record_tcp(cap, s, 1, [r1, r2])
    s.ack(0)
    s.close()

    # 2: no SYN captured (the capture started mid-connection); the first
    #    captured segment is the client's query, the response follows.
    s = TcpSession(cap, C6, R6, 40002)
    s.handshake(capture_syn=False, capture_synack=False)
    q, r = _pair(cap, "nosyn.example.com", "AAAA", [("nosyn.example.com", 120, "AAAA", "2001:db8::53")])
    s.send_dns(0, [q])
    s.send_dns(1, [r], mss=30)
    s.close(rst=True, from_dir=0)

    # 3: the length prefix alone in a segment, then the message in two more.
    s = TcpSession(cap, C4, R4, 40003)
    s.handshake()
    q, r = _pair(cap, "prefix.example.com", "MX", [("prefix.example.com", 300, "MX", "10 mx.example.com")])
    s.send_dns(0, [q])
    w = tcp_frame(r.encode())
    segs = s.segments(1, w, mss=len(w))
    segs = [(segs[0][0], w[:1]), (segs[0][0] + 1, w[1:20]), (segs[0][0] + 20, w[20:])]
    s.send_segments(1, segs)
    cap.truth_response(s.completion_frame(1, segs[-1][0] + len(segs[-1][1])), r)
    s.close(from_dir=1)

    # 4: AXFR of example.org in three messages (only the first repeats the
    #    question, as BIND does), cut at MSS 536.
    s = TcpSession(cap, C4, "198.51.100.1", 40004, mss=536)
    s.handshake()
    q = Message(id=cap.rng.randint(1, 65535), rd=False).question("example.org", "AXFR")
    s.send_dns(0, [q])
    soa = "ns1.example.org hostmaster.example.org 2024010201 7200 3600 1209600 300"
    m1 = Message(id=q.id, qr=True, aa=True, rd=False).question("example.org", "AXFR")
    m1.answer("example.org", 3600, "SOA", soa)
    m1.answer("example.org", 3600, "NS", "ns1.example.org")
    m1.answer("example.org", 3600, "NS", "ns2.example.org")
    m1.answer("example.org", 3600, "MX", "10 mail.example.org")
    for i in range(1, 21):
        m1.answer("host%02d.example.org" % i, 3600, "A", "203.0.113.%d" % i)
    m2 = Message(id=q.id, qr=True, aa=True, rd=False)
    for i in range(1, 21):
        m2.answer("host%02d.example.org" % i, 3600, "AAAA", "2001:db8:113::%x" % i)
    m2.answer("example.org", 3600, "TXT", '"zone transfer test"')
    m3 = Message(id=q.id, qr=True, aa=True, rd=False)
    m3.answer("www.example.org", 3600, "CNAME", "host01.example.org")
    m3.answer("example.org", 3600, "SOA", soa)
    s.send_dns(1, [m1, m2, m3])
    s.close()


def _record_tcp(cap, s, d, msgs):
    """Truth for messages sent with send_segments (send_dns does this itself)."""
    off = 0
    for m in msgs:
        off += len(tcp_frame(m.encode()))
        cap.truth_response(s.completion_frame(d, off), m)


# ---------------------------------------------------------------- dns-nxdomain

@scenario("dns-nxdomain", "NXDOMAIN and NODATA responses with the SOA in the authority section")
def dns_nxdomain(cap):
    soa = "ns1.example.com hostmaster.example.com 2024010201 7200 3600 1209600 300"
    q = query(cap, "nope.example.com", "A")
    r = resp(q, rcode="NXDOMAIN", aa=True)
    r.authority("example.com", 300, "SOA", soa)
    cap.exchange(C4, R4, q, r)

    q = query(cap, "www.example.com", "MX")          # NODATA: NOERROR, no answer, SOA
    r = resp(q, aa=True)
    r.authority("example.com", 300, "SOA", soa)
    cap.exchange(C6, R6, q, r)

    q = query(cap, "alias.example.com", "A")           # CNAME to a name that does not exist
    r = resp(q, rcode="NXDOMAIN")
    r.answer("alias.example.com", 300, "CNAME", "gone.example.net")
    r.authority("example.net", 900, "SOA", "ns.example.net admin.example.net 7 3600 600 86400 900")
    cap.exchange(C4, R4, q, r)

    q = query(cap, "missing.example.com", "AAAA")      # DNSSEC NXDOMAIN with NSEC3 proofs
    r = resp(q, rcode="NXDOMAIN", do=True, ad=True)
    r.authority("example.com", 300, "SOA", soa)
    r.authority("example.com", 300, "RRSIG", rrsig(cap, "SOA", "example.com", 2, 300))
    r.authority("ck0pojmg874ljref7efn8430qvit8bsm.example.com", 300, "NSEC3",
                "1 0 0 - CK0POJMG874LJREF7EFN8430QVIT8BSN NS SOA RRSIG DNSKEY NSEC3PARAM")
    r.authority("ck0pojmg874ljref7efn8430qvit8bsm.example.com", 300, "RRSIG",
                rrsig(cap, "NSEC3", "example.com", 3, 300))
    cap.exchange(C4, R4, q, r)

    q = query(cap, "broken.example.com", "A")          # SERVFAIL: no records at all
    r = resp(q, rcode="SERVFAIL")
    cap.exchange(C6, R6, q, r)

    q = query(cap, "secret.example.com", "TXT", edns=False)
    r = resp(q, rcode="REFUSED", edns=False)
    r.ra = False
    cap.exchange(C4, R4, q, r)

    q = query(cap, "nothing.example.com", "A", edns=False)   # NODATA without EDNS
    r = resp(q, edns=False, aa=True)
    r.authority("example.com", 300, "SOA", soa)
    cap.exchange(C4, R4, q, r)


# ---------------------------------------------------------------- dns-fragmented

def _big_dnssec(cap, name, nkeys):
    q = query(cap, name, "DNSKEY")
    r = resp(q, do=True, ad=True)
    for i in range(nkeys):
        r.answer(name, 3600, "DNSKEY", "%d 3 8 %s" % (257 if i == 0 else 256, b64(cap, 260)))
    r.answer(name, 3600, "RRSIG", "DNSKEY 8 2 3600 20240201000000 20240101000000 %d %s %s" %
             (20000 + nkeys, name, b64(cap, 256)))
    r.answer(name, 3600, "RRSIG", "DNSKEY 8 2 3600 20240201000000 20240101000000 %d %s %s" %
             (30000 + nkeys, name, b64(cap, 256)))
    q.edns(4096, do=True)
    r.edns(4096, do=True)
    return q, r


@scenario("dns-fragmented", "a large DNSSEC answer fragmented over IPv4 (with IP options) and over "
          "IPv6 (with extension headers), fragments out of order")
def dns_fragmented(cap):
    # IPv4, MTU 1500, three fragments sent last, first, middle
    q, r = _big_dnssec(cap, "example.com", 12)
    cport = 41000
    cap.dns_udp(C4, R4, cport, 53, q)
    dgram = net.udp(R4, C4, 53, cport, r.encode())
    frags = net.ipv4_fragments(R4, C4, net.IPPROTO_UDP, dgram, 1500, ident=0x1234,
                               options=net.ipv4_opt_rr(2))
    assert len(frags) >= 3
    order = [len(frags) - 1, 0] + list(range(1, len(frags) - 1))
    n = None
    for i in order:
        n = cap.add_ip(frags[i], dt_us=50)
    cap.truth_response(n, r)

    # IPv4 again, MTU 576, in reverse order, DF clear, a different ident
    q, r = _big_dnssec(cap, "example.net", 4)
    cport = 41001
    cap.dns_udp(C4, R4, cport, 53, q)
    dgram = net.udp(R4, C4, 53, cport, r.encode())
    frags = net.ipv4_fragments(R4, C4, net.IPPROTO_UDP, dgram, 576, ident=0x4321)
    for f in reversed(frags):
        n = cap.add_ip(f, dt_us=40)
    cap.truth_response(n, r)

    # IPv6, MTU 1280, hop-by-hop options before the fragment header and
    # destination options inside the fragmentable part; order 2, 0, 1
    q, r = _big_dnssec(cap, "example.org", 8)
    cport = 41002
    cap.dns_udp(C6, R6, cport, 53, q)
    dgram = net.udp(R6, C6, 53, cport, r.encode())
    frags = net.ipv6_fragments(R6, C6, net.IPPROTO_UDP, dgram, 1280, ident=0xCAFE0001,
                               unfrag=[net.hopopts()], frag_ext=[net.dstopts()])
    assert len(frags) >= 3
    order = [2, 0] + [i for i in range(len(frags)) if i not in (0, 2)]
    for i in order:
        n = cap.add_ip(frags[i], dt_us=60)
    cap.truth_response(n, r)

    # IPv6, a datagram split in two with the last fragment first
    q, r = _big_dnssec(cap, "example.info", 3)
    cport = 41003
    cap.dns_udp(C6, R6, cport, 53, q)
    dgram = net.udp(R6, C6, 53, cport, r.encode())
    frags = net.ipv6_fragments(R6, C6, net.IPPROTO_UDP, dgram, 1280, ident=0xCAFE0002)
    for f in reversed(frags):
        n = cap.add_ip(f, dt_us=60)
    cap.truth_response(n, r)


# ---------------------------------------------------------------- dns-vlan-mpls

@scenario("dns-vlan-mpls", "DNS behind 802.1Q, QinQ (0x88A8 and 0x8100 outer), MPLS single and "
          "stacked labels, VLAN + MPLS")
def dns_vlan_mpls(cap):
    cases = [
        ("vlan10", dict(vlans=[10])),
        ("qinq", dict(vlans=[100, 200])),
        ("qinq8100", dict(vlans=[(0x8100, 300), (0x8100, 301)])),
        ("triple", dict(vlans=[(0x88A8, 400), (0x8100, 401), (0x8100, 402)])),
        ("mpls1", dict(mpls=[16001])),
        ("mpls2", dict(mpls=[16002, (299792, 5, 63)])),
        ("vlanmpls", dict(vlans=[20], mpls=[16003])),
    ]
    for i, (label, kw) in enumerate(cases):
        name = "%s.example.com" % label
        v6 = i % 3 == 2
        q = query(cap, name, "AAAA" if v6 else "A")
        r = resp(q)
        r.answer(name, 300, "AAAA" if v6 else "A", "2001:db8::%x" % (i + 1) if v6 else "192.0.2.%d" % (i + 1))
        link = (lambda kw: (lambda p: net.eth_ip(p, **kw)))(kw)
        if v6:
            cap.exchange(C6, R6, q, r, link=link)
        else:
            cap.exchange(C4, R4, q, r, link=link)


# ---------------------------------------------------------------- dns-tunnels

O1, O2 = "203.0.113.1", "203.0.113.2"     # tunnel endpoints


@scenario("dns-tunnels", "DNS inside GRE (plain, key+seq), ERSPAN I/II/III, VXLAN, GENEVE, IP-in-IP; "
          "a native response and its ERSPAN mirror copy 2 ms apart (duplicate suppression)")
def dns_tunnels(cap):
    def inner_eth(p):
        return net.eth_ip(p, src="02:00:00:00:01:01", dst="02:00:00:00:01:02")

    def outer(p):
        return net.eth_ip(p, src="02:00:00:00:0f:01", dst="02:00:00:00:0f:02")

    seq = [0]

    def nseq():
        seq[0] += 1
        return seq[0]

    tunnels = [
        ("gre", lambda p: outer(net.gre_ip(O1, O2, p))),
        ("grekey", lambda p: outer(net.gre_ip(O1, O2, p, key=0x1000, seq=nseq()))),
        ("erspan1", lambda p: outer(net.erspan1(O1, O2, inner_eth(p)))),
        ("erspan2", lambda p: outer(net.erspan2(O1, O2, inner_eth(p), session=100, seq=nseq(), vlan=0))),
        ("erspan3", lambda p: outer(net.erspan3(O1, O2, inner_eth(p), session=200, seq=nseq(),
                                                timestamp=0x10203040, platform=b"\x00" * 8))),
        ("vxlan", lambda p: outer(net.vxlan(O1, O2, inner_eth(p), vni=42))),
        ("geneve", lambda p: outer(net.geneve(O1, O2, inner_eth(p), vni=4242,
                                              options=net.geneve_option(0x0102, 0x80, b"\x01\x02\x03\x04")))),
        ("geneveip", lambda p: outer(net.geneve(O1, O2, p, vni=77, proto=net.ethertype_of(p)))),
        ("ipip", lambda p: outer(net.ipip(O1, O2, p))),
        ("ip6in4", lambda p: outer(net.ipip(O1, O2, p))),
        ("gre6", lambda p: outer(net.gre_ip("2001:db8:ffff::1", "2001:db8:ffff::2", p, key=7))),
    ]
    for i, (label, link) in enumerate(tunnels):
        name = "%s.example.com" % label
        v6 = label in ("ip6in4", "gre6") or i % 4 == 3
        q = query(cap, name, "AAAA" if v6 else "A")
        r = resp(q)
        r.answer(name, 60, "AAAA" if v6 else "A", "2001:db8::%x" % (i + 10) if v6 else "192.0.2.%d" % (i + 10))
        if v6:
            cap.exchange(C6, R6, q, r, link=link)
        else:
            cap.exchange(C4, R4, q, r, link=link)

    # The same response seen natively and, 2 ms later, as the ERSPAN II copy
    # a mirror port sends: one event expected, for the native frame.
    q = query(cap, "mirror.example.com", "A")
    r = resp(q)
    r.answer("mirror.example.com", 60, "A", "192.0.2.77")
    cport = 45000
    cap.dns_udp(C4, R4, cport, 53, q)
    ip = net.udp_ip(R4, C4, 53, cport, r.encode())
    native = net.eth_ip(ip, src="02:00:00:00:01:02", dst="02:00:00:00:01:01")
    n = cap.add_frame(native, dt_us=5000)
    cap.truth_response(n, r)
    m = cap.add_frame(net.eth_ip(net.erspan2(O1, O2, native, session=100, seq=nseq()),
                                 src="02:00:00:00:0f:01", dst="02:00:00:00:0f:02"), dt_us=2000)
    cap.truth_noanswer(m, "duplicate of frame %d (ERSPAN mirror copy)" % n, qname="mirror.example.com")


# ---------------------------------------------------------------- dns-linktypes

@scenario("dns-linktypes", "pcapng with interfaces of link types Ethernet, Linux SLL, SLL2, RAW, "
          "NULL, LOOP (one nanosecond-resolution), a DNS exchange on each")
def dns_linktypes(cap):
    cap.outputs = ["dns-linktypes.pcapng"]
    cap.interfaces = [
        {"linktype": LINKTYPE_ETHERNET, "name": "eth0"},
        {"linktype": LINKTYPE_LINUX_SLL, "name": "any"},
        {"linktype": LINKTYPE_LINUX_SLL2, "name": "any2", "tsresol": 9},
        {"linktype": LINKTYPE_RAW, "name": "tun0"},
        {"linktype": LINKTYPE_NULL, "name": "lo0"},
        {"linktype": LINKTYPE_LOOP, "name": "lo1"},
    ]
    links = [net.eth_ip, net.sll, net.sll2, lambda p: p, net.null, net.loop]
    for idx, link in enumerate(links):
        for v6 in (False, True):
            lt = cap.interfaces[idx]["name"]
            name = "%s-v%d.example.com" % (lt, 6 if v6 else 4)
            q = query(cap, name, "AAAA" if v6 else "A")
            r = resp(q)
            r.answer(name, 30, "AAAA" if v6 else "A", "2001:db8::%x" % (idx + 1) if v6 else "192.0.2.%d" % (idx + 1))
            cap.ifindex = idx
            if v6:
                cap.exchange(C6, R6, q, r, link=link)
            else:
                cap.exchange(C4, R4, q, r, link=link)
    cap.ifindex = 0


# ---------------------------------------------------------------- dns-pcap-variants

@scenario("dns-pcap-variants", "the same DNS exchanges written as classic pcap micro LE, micro BE, "
          "nano LE, nano BE (timestamps have a sub-microsecond part)")
def dns_pcap_variants(cap):
    cap.outputs = ["dns-pcap-variants-usec-le.pcap", "dns-pcap-variants-usec-be.pcap",
                   "dns-pcap-variants-nsec-le.pcap", "dns-pcap-variants-nsec-be.pcap"]
    cap.output_opts = {
        "dns-pcap-variants-usec-be.pcap": {"big_endian": True},
        "dns-pcap-variants-nsec-le.pcap": {"nano": True},
        "dns-pcap-variants-nsec-be.pcap": {"nano": True, "big_endian": True},
    }
    cap.now_ns += 123       # sub-microsecond part kept only by the nano files
    q = query(cap, "variant.example.com", "A")
    r = resp(q)
    r.answer("variant.example.com", 300, "A", "192.0.2.7")
    cap.exchange(C4, R4, q, r)
    q = query(cap, "variant.example.com", "AAAA")
    r = resp(q)
    r.answer("variant.example.com", 300, "AAAA", "2001:db8::7")
    cap.exchange(C6, R6, q, r)
    q = query(cap, "variant.example.com", "MX")
    r = resp(q)
    r.answer("variant.example.com", 300, "MX", "5 mail.variant.example.com")
    cap.exchange(C4, R4, q, r)


# ---------------------------------------------------------------- dns-malformed

def _hdr(mid, flags, qd, an, ns=0, ar=0):
    return struct.pack("!HHHHHH", mid, flags, qd, an, ns, ar)


@scenario("dns-malformed", "malformed responses (compression loop, forward pointer, truncated message, "
          "bad label type, over-long label) between good messages")
def dns_malformed(cap):
    def good(label):
        name = "%s.example.com" % label
        q = query(cap, name, "A")
        r = resp(q)
        r.answer(name, 300, "A", "192.0.2.%d" % (len(label) + 1))
        cap.exchange(C4, R4, q, r)

    def bad(label, wire, why):
        name = "%s.example.com" % label
        q = query(cap, name, "A", edns=False)
        cport = cap.rng.randint(20000, 60000)
        cap.dns_udp(C4, R4, cport, 53, q)
        n = cap.udp(R4, C4, 53, cport, wire(q))
        cap.truth_noanswer(n, why, qname=name)

    qname_wire = lambda q: b"".join(bytes([len(l)]) + l.encode() for l in q.qname.split(".")) + b"\0"

    good("before")

    # answer owner is a pointer to itself
    def loop(q):
        w = _hdr(q.id, 0x8180, 1, 1) + qname_wire(q) + b"\x00\x01\x00\x01"
        off = len(w)
        return w + struct.pack("!H", 0xC000 | off) + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 66])
    bad("loop", loop, "compression loop (pointer to itself)")

    # two pointers pointing at each other
    def loop2(q):
        w = _hdr(q.id, 0x8180, 1, 1) + qname_wire(q) + b"\x00\x01\x00\x01"
        off = len(w)
        return (w + struct.pack("!H", 0xC000 | (off + 2)) + struct.pack("!H", 0xC000 | off) +
                struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 67]))
    bad("loop2", loop2, "compression loop (two pointers)")

    # answer owner points forward into the CNAME rdata after it
    def forward(q):
        w = _hdr(q.id, 0x8180, 1, 1) + qname_wire(q) + b"\x00\x05\x00\x01"
        off = len(w)
        target = off + 2 + 10
        rdata = b"\x03www\x07example\x03com\x00"
        return w + struct.pack("!H", 0xC000 | target) + struct.pack("!HHIH", 5, 1, 300, len(rdata)) + rdata
    bad("forward", forward, "forward compression pointer")

    good("middle")

    # a good response cut short inside the first answer's rdata
    def trunc(q):
        r = resp(q, edns=False)
        r.answer(q.qname, 300, "A", "192.0.2.68")
        r.answer(q.qname, 300, "A", "192.0.2.69")
        w = r.encode()
        return w[:len(w) - 4 - 16 - 2]
    bad("truncated", trunc, "message truncated in the first answer")

    # a label with the reserved 0b01 type (extended label, RFC 6891 s5)
    def badlabel(q):
        w = _hdr(q.id, 0x8180, 1, 1) + qname_wire(q) + b"\x00\x01\x00\x01"
        return w + b"\x41\x03bad\x00" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 70])
    bad("badlabel", badlabel, "reserved label type 0x40")

    # a 64-octet label can only be written with the reserved 0b01 bits either;
    # a name over 255 octets (five 63-octet labels) instead
    def longname(q):
        w = _hdr(q.id, 0x8180, 1, 1) + qname_wire(q) + b"\x00\x01\x00\x01"
        owner = (b"\x3f" + b"x" * 63) * 5 + b"\0"
        return w + owner + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 71])
    bad("longname", longname, "owner name longer than 255 octets")

    # header counts more answers than the message holds
    def counts(q):
        r = resp(q, edns=False)
        r.answer(q.qname, 300, "A", "192.0.2.72")
        w = bytearray(r.encode())
        w[7] = 3
        return bytes(w)
    bad("counts", counts, "ANCOUNT larger than the records present")

    good("after")


# ---------------------------------------------------------------- dns-mdns

@scenario("dns-mdns", "multicast DNS on port 5353 (IPv4 224.0.0.251 and IPv6 ff02::fb): a QU query, "
          "answers with the cache-flush bit, an unsolicited announcement without questions")
def dns_mdns(cap):
    h4, g4 = "192.0.2.33", "224.0.0.251"
    h6, g6 = "fe80::200:5eff:fe00:5301", "ff02::fb"
    mc4 = lambda p: net.eth_ip(p, src="02:00:00:00:53:01", dst="01:00:5e:00:00:fb")
    mc6 = lambda p: net.eth_ip(p, src="02:00:00:00:53:01", dst="33:33:00:00:00:fb")

    q = Message(id=0, rd=False).question("_http._tcp.local", "PTR", qclass=0x8001)   # QU bit
    cap.dns_udp(h4, g4, 5353, 5353, q, link=mc4, ip_kw={"ttl": 255})
    r = Message(id=0, qr=True, aa=True, rd=False)
    r.answer("_http._tcp.local", 4500, "PTR", "printer._http._tcp.local")
    r.additional("printer._http._tcp.local", 120, "SRV", "0 0 631 printer.local", cls=0x8001)
    r.additional("printer._http._tcp.local", 4500, "TXT", '"txtvers=1" "path=/"', cls=0x8001)
    r.additional("printer.local", 120, "A", "192.0.2.34", cls=0x8001)
    r.additional("printer.local", 120, "AAAA", "fe80::200:5eff:fe00:5302", cls=0x8001)
    cap.dns_udp("192.0.2.34", g4, 5353, 5353, r, link=mc4, ip_kw={"ttl": 255}, dt_us=1500)

    # unsolicited announcement over IPv6, no question
    r = Message(id=0, qr=True, aa=True, rd=False)
    r.answer("laptop.local", 120, "AAAA", "fe80::200:5eff:fe00:5301", cls=0x8001)
    r.answer("1.0.3.5.0.0.e.f.f.f.e.5.0.0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa", 120, "PTR",
             "laptop.local", cls=0x8001)
    cap.dns_udp(h6, g6, 5353, 5353, r, link=mc6, ip_kw={"hlim": 255}, dt_us=800000)

    # a unicast reply to the legacy (non-5353) port of a one-shot query
    q = Message(id=0x1234, rd=False).question("printer.local", "A")
    cap.dns_udp(h4, g4, 50000, 5353, q, link=mc4)
    r = Message(id=0x1234, qr=True, aa=True, rd=False).question("printer.local", "A")
    r.answer("printer.local", 10, "A", "192.0.2.34")
    cap.dns_udp("192.0.2.34", h4, 5353, 50000, r, dt_us=900)
