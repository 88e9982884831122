#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/malformed-gen.py: the hostile captures of tests/malformed/ and what
bindwatch must do with each (EXPECTED.tsv), built with the pcapgen packet
builders (imported, not copied) so every byte is reproducible.

Two kinds of case. File-level damage (bad magic, lying record lengths,
missing interface blocks, unsupported link types, truncation) is judged by
the exit status and the one stderr message per file the README documents,
for both readers. Packet-level damage (200 VLAN tags, endless IPv6
extension chains, overlapping fragment floods, wrapping TCP sequence
numbers, DNS compression loops, TLS lengths that lie, certificates that are
not DER) must be counted in the stats event and must not cost the good DNS
answers and TLS handshakes placed before and after it, so each such capture
carries them and EXPECTED.tsv lists them.

  tools/malformed-gen.py --out tests/malformed            write the committed suite
  tools/malformed-gen.py --out tests/malformed --check    exit 1 if a file would change
  tools/malformed-gen.py --truncations DIR                the truncated-at-every-boundary
                                                          family (generated at test time)

EXPECTED.tsv columns (one row per file and reader):
  file     capture file name
  reader   auto | mmap | libpcap (the --reader given)
  exit     expected exit status when the file is read alone
  message  substring of the one stderr line naming the file; "-": no line
  dns      the question names of every DNS answer event, in order
           (comma-separated, exact); "-": none
  tls      SNIs that must each appear in a bindwatch.tls event; "-": none
  stats    checks on the final stats event, comma-separated: PATH>N, PATH=N
           (PATH under bindwatch.stats; malformed.REASON is one key)
  note     what the case is
The truncation family has the same columns and one more, events: the frame
numbers whose events must appear (each frame of its base file gives one).
"""

import argparse
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pcapgen import net  # noqa: E402
from pcapgen import tls as T  # noqa: E402
from pcapgen.dns import Message, tcp_frame  # noqa: E402
from pcapgen.pcapfile import LINKTYPE_ETHERNET, pcap_bytes, pcapng_bytes  # noqa: E402
from pcapgen.scenario import Capture, TcpSession  # noqa: E402
from pcapgen.scenarios_tls import (TlsConn, cert, finish_12, flight_12, server_hello_12)  # noqa: E402

COLUMNS = ["file", "reader", "exit", "message", "dns", "tls", "stats", "note"]
TRUNC_COLUMNS = COLUMNS[:-1] + ["events", "note"]

C4, R4 = "192.0.2.10", "198.51.100.53"
C6, R6 = "2001:db8:1::10", "2001:db8:53::53"
ZONE = "mal.example"


# ---------------------------------------------------------------- building blocks

class Suite:
    """The cases: file name -> bytes, and the EXPECTED.tsv rows."""

    def __init__(self):
        self.files = {}
        self.rows = []

    def add(self, name, data, readers=("auto",), exit=0, message="-", dns=(), tls=(), stats=(), note="-",
            per_reader=None):
        if name in self.files:
            raise ValueError("case %s twice" % name)
        self.files[name] = bytes(data)
        for rd in readers:
            row = dict(file=name, reader=rd, exit=exit, message=message, dns=list(dns), tls=list(tls),
                       stats=list(stats), note=note)
            row.update((per_reader or {}).get(rd, {}))
            self.rows.append(row)

    def tsv(self, columns=COLUMNS):
        out = ["\t".join(columns)]
        for r in self.rows:
            vals = []
            for c in columns:
                v = r[c]
                if isinstance(v, (list, tuple)):
                    v = ",".join(str(x) for x in v) or "-"
                v = str(v)
                if "\t" in v or "\n" in v:
                    raise ValueError("tab or newline in %s of %s" % (c, r["file"]))
                vals.append(v)
            out.append("\t".join(vals))
        return "\n".join(out) + "\n"


def cap_for(name):
    """A Capture whose random stream depends only on the case name."""
    return Capture("malformed-" + name, 1)


def good_dns(cap, label, v6=False):
    """A query and its answer for LABEL.mal.example; returns the name."""
    name = "%s.%s" % (label, ZONE)
    q = Message(id=cap.rng.randint(1, 65535)).question(name, "A")
    r = q.response()
    r.answer(name, 300, "A", "192.0.2.%d" % (1 + len(label) % 250))
    if v6:
        cap.exchange(C6, R6, q, r)
    else:
        cap.exchange(C4, R4, q, r)
    return name


def dns_answer_wire(cap, name, addr="192.0.2.99"):
    q = Message(id=cap.rng.randint(1, 65535)).question(name, "A")
    r = q.response()
    r.answer(name, 300, "A", addr)
    return r.encode()


def pcap_of(cap, **kw):
    return pcap_bytes(cap.frames, cap.linktype, **kw)


def rec_header(sec, usec, incl, orig):
    return struct.pack("<IIII", sec, usec, incl, orig)


def ng_block(btype, body):
    body = body + b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def ng_shb():
    return ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def ng_idb(linktype, snaplen=262144):
    return ng_block(1, struct.pack("<HHI", linktype, 0, snaplen))


def ng_epb(fr, ifid=None, caplen=None):
    ts = fr.ts_ns // 1000
    body = struct.pack("<IIIII", fr.ifindex if ifid is None else ifid, ts >> 32, ts & 0xFFFFFFFF,
                       len(fr.data) if caplen is None else caplen, fr.orig_len)
    return ng_block(6, body + fr.data)


def junk_frame(cap, n=80):
    return bytes(cap.rng.getrandbits(8) for _ in range(n))


# ---------------------------------------------------------------- file-level cases

BOTH = ("mmap", "libpcap")


def file_cases(s):
    # the plain good capture every file-level case starts from
    cap = cap_for("good")
    a = good_dns(cap, "good-one")
    b = good_dns(cap, "good-two")
    good = pcap_of(cap)
    s.add("good.pcap", good, readers=BOTH, dns=[a, b], stats=["input.packets=4"],
          note="control: the undamaged capture the file-level cases start from")

    # bad magic: ours refuses; AUTO hands an unknown magic to libpcap, which refuses it too
    s.add("magic-bad.pcap", b"\xde\xad\xbe\xef" + good[4:], readers=("auto", "mmap", "libpcap"), exit=1,
          message="not a pcap or pcapng file (magic 0xdeadbeef)",
          per_reader={"libpcap": dict(message="unknown file format"),
                      "auto": dict(message="not a pcap or pcapng file (magic 0xdeadbeef); libpcap:")},
          note="first four bytes are no capture magic")
    s.add("magic-text.pcap", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", readers=("auto", "libpcap"),
          exit=1, message="not a pcap or pcapng file (magic 0x47455420)",
          per_reader={"libpcap": dict(message="unknown file format")},
          note="an HTTP request saved as .pcap")
    s.add("empty.pcap", b"", readers=BOTH, exit=1, message="empty file",
          per_reader={"libpcap": dict(message="truncated")}, note="zero bytes")
    s.add("short.pcap", good[:3], readers=BOTH, exit=1, message="too short to be a capture file (3 bytes)",
          per_reader={"libpcap": dict(message="truncated")}, note="three bytes of a pcap magic")
    ng = bytearray(pcapng_bytes(cap.frames, [{"linktype": LINKTYPE_ETHERNET}]))
    ng[8:12] = b"\x11\x22\x33\x44"
    s.add("ng-bad-bom.pcapng", bytes(ng), readers=BOTH, exit=1, message="bad byte-order magic 0x11223344",
          per_reader={"libpcap": dict(message="")},
          note="section header with a byte-order magic that is neither order")

    v = bytearray(good)
    v[4:6] = struct.pack("<H", 3)
    s.add("pcap-version-3.pcap", bytes(v), readers=BOTH, exit=1, message="unsupported pcap version 3.4",
          per_reader={"libpcap": dict(message="")}, note="major version 3")
    ngv = bytearray(pcapng_bytes(cap.frames, [{"linktype": LINKTYPE_ETHERNET}]))
    ngv[12:14] = struct.pack("<H", 2)
    s.add("ng-version-2.pcapng", bytes(ngv), readers=("mmap",), exit=1,
          message="unsupported pcapng version 2.0", note="pcapng major version 2")

    # record lengths: huge caplen loses the framing (stop), zero caplen does not (count, go on)
    cap = cap_for("caplen")
    a = good_dns(cap, "before-huge")
    b = good_dns(cap, "after-huge")
    off = 24 + sum(16 + len(f.data) for f in cap.frames[:2])
    body = pcap_of(cap)
    huge = body[:off] + rec_header(1704164650, 0, 0xFFFFFF00, 0xFFFFFF00) + b"\0" * 64 + body[off:]
    s.add("caplen-huge.pcap", huge, readers=BOTH, exit=1,
          message="corrupt frame record at byte %d (frame 3): captured length 4294967040 is over the" % off,
          dns=[a], stats=["input.packets=2", "malformed.capture.impossible_length=1"],
          per_reader={"libpcap": dict(message="error reading frame 3", stats=["input.packets=2"])},
          note="third record claims 4 GiB: the framing is lost, the file stops, frames 1-2 are kept")
    zero = body[:off] + rec_header(1704164650, 0, 0, 60) + body[off:]
    s.add("caplen-zero.pcap", zero, readers=BOTH, dns=[a, b],
          stats=["input.packets=4", "malformed.capture.zero_length=1"],
          note="a record with captured length 0 between good frames: counted, skipped")

    # caplen over the header's snaplen: cut to the snaplen (libpcap: the same), framing kept
    cap = cap_for("snaplen")
    a = good_dns(cap, "snap-a")
    cap.add_frame(net.eth_ip(net.udp_ip(C4, R4, 40000, 9, junk_frame(cap, 300))))
    b = good_dns(cap, "snap-b")
    data = bytearray(pcap_of(cap))
    data[16:20] = struct.pack("<I", 200)    # records keep their lengths; only the header's snaplen says 200
    s.add("caplen-over-snaplen.pcap", bytes(data), readers=BOTH, dns=[a, b],
          stats=["input.packets=5", "malformed.capture.impossible_length=1"],
          per_reader={"libpcap": dict(stats=["input.packets=5", "malformed.capture.snaplen_cut=1"])},
          note="a 342-byte record in a file whose snaplen is 200: cut to 200 and counted; "
               "libpcap cuts it itself, so it reads as a snaplen cut")
    # orig_len under caplen on one frame (impossible), and a snaplen of 0 in the header (no limit)
    cap = cap_for("origlen")
    a = good_dns(cap, "orig-a")
    n = good_dns(cap, "orig-bad")
    b = good_dns(cap, "orig-b")
    cap.frames[3].orig_len = 20
    data = bytearray(pcap_of(cap))
    data[16:20] = b"\0\0\0\0"      # snaplen 0 in the header: no limit (libpcap's reading)
    s.add("origlen-under-caplen.pcap", bytes(data), readers=BOTH, dns=[a, b],
          stats=["input.packets=6", "malformed.capture.impossible_length=1", "malformed.ipv4.truncated=1"],
          note="wire length 20 under the captured length of the answer for %s: cut to 20, the answer lost; "
               "snaplen 0 in the header" % n)

    # timestamps going backwards: counted, never fatal, nothing lost
    cap = cap_for("backwards")
    names = [good_dns(cap, "tb-1")]
    cap.now_ns -= 3600 * 10**9
    names.append(good_dns(cap, "tb-2"))
    cap.now_ns -= 86400 * 10**9
    names.append(good_dns(cap, "tb-3"))
    s.add("time-backwards.pcap", pcap_of(cap), readers=BOTH, dns=names,
          stats=["input.packets=6", "malformed.capture.time_backwards=2"],
          note="capture time goes back an hour, then a day")

    # pcapng: an interface block missing (frame on an interface never described;
    # a second section without any IDB), and link types we do not support
    cap = cap_for("noidb")
    a = good_dns(cap, "idb-a")
    nb = len(cap.frames)
    lost = good_dns(cap, "idb-lost")
    b = good_dns(cap, "idb-b")
    lost2 = good_dns(cap, "idb-section2")
    c = good_dns(cap, "idb-c")
    fr = cap.frames
    blob = ng_shb() + ng_idb(LINKTYPE_ETHERNET)
    blob += b"".join(ng_epb(f) for f in fr[:nb])
    blob += b"".join(ng_epb(f, ifid=1) for f in fr[nb:nb + 2])
    blob += b"".join(ng_epb(f) for f in fr[nb + 2:nb + 4])
    blob += ng_shb() + b"".join(ng_epb(f) for f in fr[nb + 4:nb + 6])
    blob += ng_shb() + ng_idb(LINKTYPE_ETHERNET) + b"".join(ng_epb(f) for f in fr[nb + 6:])
    s.add("ng-missing-idb.pcapng", blob, readers=("mmap",), dns=[a, b, c],
          stats=["input.packets=6", "malformed.capture.unsupported_linktype=4"],
          note="frames on interface 1 of a section with one interface (%s), then a section with no "
               "interface at all (%s): skipped and counted; the other frames are read" % (lost, lost2))
    s.add("ng-missing-idb-libpcap.pcapng", ng_shb() + ng_idb(LINKTYPE_ETHERNET) +
          b"".join(ng_epb(f) for f in fr[:nb]) + ng_epb(fr[nb], ifid=1) +
          b"".join(ng_epb(f) for f in fr[nb + 2:nb + 4]),
          readers=BOTH, dns=[a, b], stats=["malformed.capture.unsupported_linktype=1"],
          per_reader={"libpcap": dict(exit=1, message="error reading frame 3", dns=[a], stats=[])},
          note="one frame on an undescribed interface: ours skips it; libpcap stops the file there")

    cap = cap_for("linktype")
    a = good_dns(cap, "lt-a")
    b = good_dns(cap, "lt-b")
    s.add("linktype-unsupported.pcap", pcap_of(cap)[:20] + struct.pack("<I", 147) + pcap_of(cap)[24:],
          readers=BOTH, stats=["input.packets=4", "malformed.capture.unsupported_linktype=4"],
          note="classic pcap of link type 147 (USER0): every frame counted, none decoded")
    cap = cap_for("linkmix")
    a = good_dns(cap, "mix-a")
    k = len(cap.frames)
    cap.add_frame(junk_frame(cap, 90), ifindex=1)
    cap.add_frame(junk_frame(cap, 90), ifindex=2)
    b = good_dns(cap, "mix-b")
    ifs = [{"linktype": LINKTYPE_ETHERNET}, {"linktype": 9999}, {"linktype": 147}]
    assert k == 2
    s.add("linktype-mixed.pcapng", pcapng_bytes(cap.frames, ifs), readers=BOTH, dns=[a, b],
          stats=["input.packets=6", "malformed.capture.unsupported_linktype=2"],
          per_reader={"libpcap": dict(exit=1, message="different from the type of the first interface",
                                      dns=[], stats=[])},
          note="pcapng with Ethernet, 9999 and 147 interfaces: the Ethernet frames are read; "
               "libpcap refuses a file whose interfaces differ in link type")

    # pcapng block framing damage: stops the file at the block, earlier frames kept
    cap = cap_for("ngframing")
    a = good_dns(cap, "ng-a")
    b = good_dns(cap, "ng-b")
    head = ng_shb() + ng_idb(LINKTYPE_ETHERNET)
    first = b"".join(ng_epb(f) for f in cap.frames[:2])
    third = bytearray(ng_epb(cap.frames[2]))
    rest = b"".join(ng_epb(f) for f in cap.frames[3:])
    at = len(head) + len(first)
    for tag, mut, msg in (
            ("odd", lambda x: struct.pack_into("<I", x, 4, len(x) - 2),
             "block length %d is not a multiple of 4" % (len(third) - 2)),
            ("small", lambda x: struct.pack_into("<I", x, 4, 8), "block length 8 is under the 12-byte minimum"),
            ("trailer", lambda x: struct.pack_into("<I", x, len(x) - 4, len(x) + 4),
             "trailing block length %d does not match the leading %d" % (len(third) + 4, len(third)))):
        t = bytearray(third)
        mut(t)
        s.add("ng-block-%s.pcapng" % tag, head + first + bytes(t) + rest, readers=BOTH, exit=1,
              message="corrupt block at byte %d (frame 3): %s" % (at, msg), dns=[a],
              stats=["input.packets=2"],
              per_reader={"libpcap": dict(message="error reading frame 3")},
              note="third packet block's length fields broken (%s): the file stops there" % tag)
    # an enhanced packet block whose captured length is past its own end: that frame only
    t = bytearray(third)
    struct.pack_into("<I", t, 20, 0xFFFFFFF0)
    s.add("ng-epb-caplen-huge.pcapng", head + first + bytes(t) + rest, readers=BOTH, dns=[a, b],
          stats=["input.packets=3", "malformed.capture.impossible_length=1"],
          per_reader={"libpcap": dict(exit=1, message="error reading frame 3", dns=[a],
                                      stats=["input.packets=2"])},
          note="captured length 0xfffffff0 inside a sound block: ours skips the frame (the query of %s, "
               "so its answer still comes); libpcap stops" % b)


# ---------------------------------------------------------------- packet-level cases

def around(cap, label, bad, v6=False):
    """Good answers before and after whatever bad() adds; returns the names."""
    a = good_dns(cap, label + "-before", v6)
    bad()
    b = good_dns(cap, label + "-after", v6)
    return [a, b]


def vlan_cases(s):
    cap = cap_for("vlan")
    deep = dns_answer_wire(cap, "vlan200." + ZONE)
    names = around(cap, "vlan", lambda: cap.add_frame(net.ether(udp_ip_raw(R4, C4, deep), net.ETH_IPV4,
                                                                vlans=[(net.ETH_VLAN, 1 + i % 4000)
                                                                       for i in range(200)])))
    # 200 QinQ tags that run off the end of the frame
    tags = net.ether(b"", net.ETH_IPV4, vlans=[(net.ETH_QINQ, 7)] * 200)[:-2]
    names += around(cap, "qinq", lambda: cap.add_frame(tags[:700]))
    # 200 MPLS labels, bottom of stack on the last, and a stack that never ends
    mp = net.ether(udp_ip_raw(R4, C4, deep), net.ETH_IPV4, mpls=list(range(16, 216)))
    names += around(cap, "mpls", lambda: cap.add_frame(mp))
    endless = net.ether(b"", net.ETH_MPLS) + struct.pack("!I", (99 << 12) | 64) * 150
    names += around(cap, "mpls-nobos", lambda: cap.add_frame(endless))
    s.add("vlan-200.pcap", pcap_of(cap), dns=names,
          stats=["malformed.vlan.too_deep>0", "malformed.mpls.too_deep>0", "protocols.vlan>0"],
          note="200 nested 802.1Q tags around a DNS answer (too deep: dropped), 200 QinQ tags running off "
               "the frame, 200 MPLS labels, an MPLS stack without bottom-of-stack")


def udp_ip_raw(src, dst, wire, sport=53, dport=40000):
    return net.udp_ip(src, dst, sport, dport, wire)


def ip6_cases(s):
    cap = cap_for("ip6ext")
    wire = dns_answer_wire(cap, "ext6." + ZONE)
    u = net.udp(R6, C6, 53, 40000, wire)
    # 100 destination-options headers before the UDP header
    many = net.ipv6(R6, C6, net.IPPROTO_UDP, u, ext=[net.dstopts(6) for _ in range(100)])
    names = around(cap, "ext100", lambda: cap.add_ip(many), v6=True)
    # a chain that never ends: every header says another follows, to the end of the frame
    never = net.ipv6(R6, C6, net.IPPROTO_DSTOPTS, b"", ext=[net.dstopts(6) for _ in range(12)])
    never = never[:4] + struct.pack("!H", 12 * 8 + 400) + never[6:] + \
        bytes([net.IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0]) * 50
    names += around(cap, "endless", lambda: cap.add_ip(never), v6=True)
    # a hop-by-hop header whose length runs 2 KiB past the packet
    past = net.ipv6(R6, C6, net.IPPROTO_HOPOPTS, bytes([net.IPPROTO_UDP, 255]) + b"\x01\x04\0\0\0\0" + u[:20])
    names += around(cap, "past-end", lambda: cap.add_ip(past), v6=True)
    # fragment header after fragment header (a nested fragment), then routing with 255 length
    nested = net.ipv6(R6, C6, net.IPPROTO_UDP, u, ext=[net.frag6(0, False, 77), net.frag6(0, False, 78),
                                                       net.routing([R6, C6])])
    names += around(cap, "frag-in-frag", lambda: cap.add_ip(nested), v6=True)
    # two atomic fragment headers (offset 0, M=0): RFC 6946 says process as unfragmented
    names.insert(-1, "ext6." + ZONE)
    s.add("ip6-ext-endless.pcap", pcap_of(cap), dns=names,
          stats=["malformed.ipv6.too_many_extension_headers>0", "malformed.ipv6.extension_header_truncated>0"],
          note="IPv6 extension chains: 100 headers, a chain that never ends, a header 2 KiB past the packet, "
               "two atomic fragment headers in a row (read, RFC 6946)")


def frag_cases(s):
    cap = cap_for("frag")
    big = "frag-big." + ZONE
    q = Message(id=4242).question(big, "TXT")
    r = q.response()
    for i in range(12):
        r.answer(big, 60, "TXT", '"%s"' % ("chunk%02d-" % i + "x" * 90))
    wire = r.encode()
    udpd = net.udp(R4, C4, 53, 40001, wire)
    good_frags = net.ipv4_fragments(R4, C4, net.IPPROTO_UDP, udpd, 576, ident=0x1111)
    names = [good_dns(cap, "frag-before")]
    cap.add_ip(net.udp_ip(C4, R4, 40001, 53, q.encode()))
    # the good datagram's first half, then the flood, then its second half
    half = len(good_frags) // 2
    for p in good_frags[:half]:
        cap.add_ip(p)
    # overlap flood: 300 fragments of one datagram, every one overlapping the last with other bytes
    for i in range(300):
        data = bytes([i & 0xFF]) * 64
        cap.add_ip(net.ipv4(C4, R4, net.IPPROTO_UDP, data, ident=0x2222, mf=True, frag_off=(i % 16) * 8),
                   dt_us=10)
    # IPv6: overlapping fragments (RFC 5722: the datagram is dropped)
    for i in range(40):
        cap.add_ip(net.ipv6(C6, R6, net.IPPROTO_UDP, bytes([i]) * 48,
                            ext=[net.frag6((i % 5) * 8, True, 0x3333)]), dt_us=10)
    # fragments past 65535 bytes, and a 'not last' fragment whose length is not a multiple of 8
    cap.add_ip(net.ipv4(C4, R4, net.IPPROTO_UDP, b"z" * 200, ident=0x4444, mf=False, frag_off=65528))
    cap.add_ip(net.ipv4(C4, R4, net.IPPROTO_UDP, b"z" * 13, ident=0x4445, mf=True, frag_off=8))
    # 3000 first fragments of datagrams that never complete
    for i in range(3000):
        cap.add_ip(net.ipv4("192.0.2.%d" % (20 + i % 200), R4, net.IPPROTO_UDP, b"f" * 16, ident=i, mf=True),
                   dt_us=5)
    for p in good_frags[half:]:
        cap.add_ip(p)
    names.append(big)
    names.append(good_dns(cap, "frag-after"))
    s.add("frag-flood.pcap", pcap_of(cap), dns=names,
          stats=["malformed.frag.overlap_conflicting_bytes>0", "malformed.frag.overlap>0",
                 "malformed.frag.datagram_too_big>0", "malformed.frag.bad_fragment>0",
                 "ip_fragments.reassembled=1"],
          note="a fragmented %d-byte DNS answer whose halves straddle 300 overlapping IPv4 fragments, 40 "
               "overlapping IPv6 fragments, a fragment past 64 KiB, a short middle fragment and 3000 "
               "datagrams that never complete" % len(wire))


def tcp_cases(s):
    cap = cap_for("tcpwrap")
    names = [good_dns(cap, "wrap-before")]
    sess = TcpSession(cap, C4, R4, 41000, 53, isn_c=0xFFFFFF00, isn_s=0xFFFFFFD0, mss=40)
    sess.handshake()
    qs, rs = [], []
    for i in range(4):
        n = "wrap-%d.%s" % (i, ZONE)
        q = Message(id=100 + i).question(n, "A")
        r = q.response()
        r.answer(n, 300, "A", "192.0.2.%d" % (40 + i))
        qs.append(q)
        rs.append(r)
        names.append(n)
    sess.send_dns(0, qs)
    # server bytes cross 2^32 inside the first response; sent out of order with a duplicate
    blob = b"".join(tcp_frame(r.encode()) for r in rs)
    segs = sess.segments(1, blob, mss=30)
    order = list(range(len(segs)))
    order[1], order[2] = order[2], order[1]
    sess.send_segments(1, segs, order=order, dup=(3,))
    sess.close()
    # a flow picked up without its SYN, with sequence numbers right at the wrap
    sess2 = TcpSession(cap, C4, R4, 41001, 53, isn_c=0xFFFFFFF0, isn_s=0xFFFFFFFA, mss=25)
    n = "wrap-nosyn." + ZONE
    q = Message(id=200).question(n, "A")
    r = q.response()
    r.answer(n, 300, "A", "192.0.2.50")
    sess2.send_dns(0, [q])
    sess2.send_dns(1, [r])
    names.append(n)
    # a segment 2^31 away from the stream, then the rest of a good exchange in the same flow
    sess3 = TcpSession(cap, C4, R4, 41002, 53, isn_c=0x7FFFFFF0, isn_s=0xFFFFFFFF, mss=1000)
    sess3.handshake()
    n3 = "wrap-far." + ZONE
    q3 = Message(id=300).question(n3, "A")
    r3 = q3.response()
    r3.answer(n3, 300, "A", "192.0.2.51")
    sess3.send_dns(0, [q3])
    far = net.ip_packet(R4, C4, net.IPPROTO_TCP,
                        net.tcp(R4, C4, 53, 41002, (sess3._seq(1, 0) + 0x80000000) & 0xFFFFFFFF, 0,
                                net.TH_ACK | net.TH_PSH, b"\x00\x20" + b"J" * 32))
    cap.add_ip(far)
    sess3.send_dns(1, [r3])
    sess3.close()
    names.append(n3)
    names.append(good_dns(cap, "wrap-after"))
    s.add("tcp-seq-wrap.pcap", pcap_of(cap), dns=names, stats=["tcp.flows_created>0"],
          note="DNS over TCP: both directions' sequence numbers wrap past 2^32 mid-message, in 30-byte "
               "segments out of order with a duplicate; a flow without SYN at the wrap; a segment 2^31 "
               "away from its stream")


def dns_cases(s):
    cap = cap_for("dnsptr")

    def hdr(mid, qd, an):
        return struct.pack("!HHHHHH", mid, 0x8180, qd, an, 0, 0)

    def qwire(name):
        return b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"

    def send(wire):
        cap.udp(R4, C4, 53, 40002, wire)

    names = [good_dns(cap, "ptr-before")]
    q = qwire("ptr." + ZONE)
    a_rr = struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 66])
    # owner is a pointer to itself
    send(hdr(1, 1, 1) + q + b"\0\1\0\1" + struct.pack("!H", 0xC000 | (12 + len(q) + 4)) + a_rr)
    # two pointers pointing at each other (the first is forward: counted as dns.forward_pointer)
    o = 12 + len(q) + 4
    send(hdr(2, 1, 1) + q + b"\0\1\0\1" + struct.pack("!HH", 0xC000 | (o + 2), 0xC000 | o) + a_rr)
    # pointers into the header: offsets 0, 4 and 11
    for t in (0, 4, 11):
        send(hdr(3 + t, 1, 1) + q + b"\0\1\0\1" + struct.pack("!H", 0xC000 | t) + a_rr)
    # the question name itself is a pointer into the header
    send(hdr(20, 1, 0) + struct.pack("!H", 0xC002) + b"\0\1\0\1")
    # a chain of 200 backward pointers, each to the one before (a hop bomb, no loop), held as
    # the opaque rdata of a first record; the second record's owner points at its end
    chain = hdr(21, 1, 2) + q + b"\0\1\0\1" + b"\xC0\x0C" + struct.pack("!HHIH", 65280, 1, 300, 400)
    base = len(chain)
    ptrs = b"".join(struct.pack("!H", 0xC000 | (12 if i == 0 else base + 2 * (i - 1))) for i in range(200))
    send(chain + ptrs + struct.pack("!H", 0xC000 | (base + 2 * 199)) + a_rr)
    # pointer past the end of the message
    send(hdr(23, 1, 1) + q + b"\0\1\0\1" + struct.pack("!H", 0xC000 | 0x3FFF) + a_rr)
    # CNAME rdata pointing into itself (a loop in the rdata name)
    cn = hdr(24, 1, 1) + q + b"\0\5\0\1" + struct.pack("!H", 0xC00C) + struct.pack("!HHIH", 5, 1, 300, 4)
    send(cn + b"\x01a" + struct.pack("!H", 0xC000 | (len(cn))))
    names.append("ptr." + ZONE)   # a bad rdata marks its record (dns.bad_rdata, "\\# 4 ..."): dns.h
    names.append(good_dns(cap, "ptr-middle"))
    # DNS over TCP: a length prefix that lies (65535), then a good exchange on another flow
    sess = TcpSession(cap, C4, R4, 41100, 53)
    sess.handshake()
    qq = Message(id=77).question("tcplie." + ZONE, "A")
    sess.send(0, struct.pack("!H", len(qq.encode())) + qq.encode())
    sess.send(1, struct.pack("!H", 0xFFFF) + dns_answer_wire(cap, "tcplie." + ZONE))
    sess.close()
    sess = TcpSession(cap, C4, R4, 41101, 53)
    sess.handshake()
    sess.send(1, struct.pack("!H", 0) + struct.pack("!H", 3) + b"abc")
    sess.close()
    names.append(good_dns(cap, "ptr-after"))
    s.add("dns-pointers.pcap", pcap_of(cap), dns=names,
          stats=["malformed.dns.compression_loop=2", "malformed.dns.forward_pointer=1",
                 "malformed.dns.bad_name=5", "malformed.dns.bad_rdata=1", "malformed.dns.tcp_bad_length=1"],
          note="compression loops (self, two pointers, 200-hop chain), pointers into the header (also as "
               "the question name), past the end, a CNAME rdata pointing into itself; DNS over TCP with "
               "lying length prefixes")


def tls_cases(s):
    cap = cap_for("tls")
    www, inter = cert("www"), cert("int")
    servers = iter("203.0.113.%d" % i for i in range(10, 250))
    snis = []

    def good(sni):
        ch = T.legacy_client(cap.rng, T.TLS12, sni, alpn=("h2",))
        sh = server_hello_12(cap, 0xC02F, alpn="h2")
        conn = TlsConn(cap, C4, next(servers), 443)
        conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
        conn.send(1, flight_12(cap, sh, [www, inter], T.TLS12))
        finish_12(cap, conn, T.TLS12)
        conn.close()
        snis.append(sni)

    def raw(client, server=None):
        conn = TlsConn(cap, C4, next(servers), 443)
        conn.send(0, client)
        if server is not None:
            conn.send(1, server)
        conn.close()

    def hello(sni, mut=None):
        body = bytearray(T.legacy_client(cap.rng, T.TLS12, sni).body())
        if mut:
            mut(body)
        return bytes(body)

    def rec(payload, length=None, ct=T.CT_HANDSHAKE):
        return T.record(ct, T.TLS10, payload, length=length)

    good("tls-before." + ZONE)
    b = hello("reclen0.x")
    raw(rec(b"", 0) + rec(T.handshake(1, b)))                            # empty record first
    raw(rec(T.handshake(1, b), length=0xFFFF))                           # record 64 KiB, flow ends
    raw(rec(T.handshake(1, b), length=16384 + 2048 + 1))                 # one over the RFC maximum
    raw(rec(T.handshake(1, b), length=3) + b"\x16\x03\x01")              # record shorter than its header says
    raw(rec(T.handshake(1, b, length=0xFFFFFF)))                         # handshake 16 MiB
    raw(rec(T.handshake(1, b, length=0)) + rec(T.handshake(1, b)))       # handshake 0 bytes
    hs = T.handshake(1, b, length=40000)
    hs += b"\0" * (40004 - len(hs))
    raw(b"".join(rec(hs[i:i + 100]) for i in range(0, len(hs), 100)))  # 40000 bytes over 400 records
    sid = 2 + 32
    raw(rec(T.handshake(1, hello("sid.x", lambda x: x.__setitem__(sid, 255)))))          # session_id 255
    raw(rec(T.handshake(1, hello("cs.x", lambda x: x.__setitem__(slice(sid + 1, sid + 3), b"\xff\xff")))))
    raw(rec(T.handshake(1, hello("cs-odd.x", lambda x: x.__setitem__(slice(sid + 1, sid + 3), b"\x00\x03")))))

    def ext_hello(exts):
        return rec(T.ClientHello(cap.rng, T.TLS12, [0xC02F], exts).message())
    raw(ext_hello([(T.EXT_SERVER_NAME, T.u16(500) + T.u8(0) + T.vec16(b"snilist.x"))]))  # list too long
    raw(ext_hello([(T.EXT_SERVER_NAME, T.u16(12) + T.u8(0) + T.u16(900) + b"sniname.x")]))  # name too long
    raw(ext_hello([(T.EXT_SERVER_NAME, T.u16(3) + T.u8(0) + T.u16(0))]))               # empty name
    raw(ext_hello([(T.EXT_ALPN, T.u16(40) + b"\x02h2")]))                              # ALPN list lies
    raw(ext_hello([(T.EXT_ALPN, T.u16(3) + b"\x00\x02h")]))                            # ALPN 0-length proto
    raw(ext_hello([(T.EXT_SUPPORTED_VERSIONS, b"\x03\x03\x04\x03")]))                 # odd versions length
    raw(ext_hello([(T.EXT_KEY_SHARE, T.u16(70) + T.u16(29) + T.u16(60) + b"k" * 10)]))  # key_share lies
    raw(ext_hello([(T.EXT_SUPPORTED_GROUPS, T.u16(0xFFFF))]))                          # groups lie
    raw(ext_hello([(T.EXT_EC_POINT_FORMATS, b"\xff")]))                               # point formats lie
    raw(ext_hello([(T.EXT_SIGNATURE_ALGORITHMS, T.u16(7) + b"\x04\x03")]))             # sigalgs lie

    body = bytearray(T.ClientHello(cap.rng, T.TLS12, [0xC02F], [T.ext_sni("extcut.x"), T.ext_groups([29])]).body())
    ext_off = 2 + 32 + 1 + 2 + 2 + 1 + 1
    body[ext_off:ext_off + 2] = struct.pack("!H", 6)                   # cuts the second extension header
    raw(rec(T.handshake(1, bytes(body))))
    body = bytearray(T.ClientHello(cap.rng, T.TLS12, [0xC02F], [T.ext_sni("extbig.x")]).body())
    body[ext_off + 2 + 2:ext_off + 2 + 4] = b"\xff\xff"                 # one extension claims 64 KiB
    raw(rec(T.handshake(1, bytes(body))))
    raw(rec(b"\x01\x00\x00\x02\x03"))                                   # hello of 2 bytes
    raw(rec(b"\x63\x00\x00\x04abcd"))                                   # unknown handshake type 0x63
    raw(rec(T.handshake(1, b), ct=0xFF))                                # content type 255
    raw(b"\x80\xff\x01\x03\x01\x00\x09\x00\x00\x00\x10" + b"\x00" * 9)   # SSLv2 header past the data
    middle = "tls-middle." + ZONE
    good(middle)

    # server side: ServerHello extensions and the Certificate message lie
    def server(sni, flight):
        ch = T.legacy_client(cap.rng, T.TLS12, sni, alpn=("h2",))
        raw(rec(ch.message()), flight)
        snis.append(sni)
    sh = server_hello_12(cap, 0xC02F, alpn="h2")
    shb = bytearray(sh.message())
    shb[-2:] = b"\xff\xff"
    server("shext." + ZONE, T.record(T.CT_HANDSHAKE, T.TLS12, bytes(shb)))
    cm = T.certificate([www, inter])
    for i, lie in enumerate((lambda m: m[:4] + T.u24(0xFFFFFF) + m[7:],           # list 16 MiB
                             lambda m: m[:4] + T.u24(1) + m[7:],                  # list 1 byte
                             lambda m: m[:7] + T.u24(0) + m[10:],                 # first entry 0 bytes
                             lambda m: m[:7] + T.u24(len(m)) + m[10:],            # entry past the message
                             lambda m: m[:1] + T.u24(len(m)) + m[4:])):           # message longer than flight
        server("certlie%d.%s" % (i, ZONE),
               flight_12(cap, server_hello_12(cap, 0xC02F, alpn="h2"), None, T.TLS12, cert_msg=lie(cm)))
    # DTLS: record length past the datagram; a fragment past its message's length
    dch = T.ClientHello(cap.rng, T.DTLS12, [0xC02F], [T.ext_sni("dtls-lie.x")], dtls_cookie=b"")
    fr = T.dtls_fragments(dch.message(), 0)[0]
    cap.udp(C4, "203.0.113.251", 40444, 4433, T.dtls_record(T.CT_HANDSHAKE, T.DTLS10, 0, 0, fr)[:-20])
    fr2 = bytearray(fr)
    fr2[6:9] = T.u24(0xFFFF00)
    cap.udp(C4, "203.0.113.251", 40444, 4433, T.dtls_record(T.CT_HANDSHAKE, T.DTLS10, 0, 1, bytes(fr2)))
    good("tls-after." + ZONE)
    s.add("tls-lies.pcap", pcap_of(cap), tls=snis,
          stats=["malformed.tls.bad_record>0", "malformed.tls.bad_handshake>0", "tls.handshakes>3"],
          note="TLS lengths that lie at every layer: record (0, 64 KiB, over 2^14+2048), handshake (0, "
               "16 MiB, 40000 over 400 records), hello fields, every common extension, the ServerHello "
               "extensions, the certificate list and entries, SSLv2 and DTLS headers; good handshakes "
               "before, between and after")


def x509_cases(s):
    cap = cap_for("x509")
    www, inter = cert("www"), cert("int")
    servers = iter("198.51.100.%d" % i for i in range(10, 250))
    snis = []

    def handshake(sni, chain):
        ch = T.legacy_client(cap.rng, T.TLS12, sni, alpn=("h2",))
        sh = server_hello_12(cap, 0xC02F, alpn="h2")
        conn = TlsConn(cap, C4, next(servers), 443)
        conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
        conn.send(1, flight_12(cap, sh, chain, T.TLS12))
        finish_12(cap, conn, T.TLS12)
        conn.close()
        snis.append(sni)

    def seq(n, inner):
        return b"\x30" + bytes([n]) + inner if n < 128 else b"\x30\x82" + struct.pack("!H", n) + inner

    nested = b""
    for _ in range(1000):
        nested = b"\x30\x80" + nested + b"\x00\x00"
    not_der = [
        ("random", bytes(cap.rng.getrandbits(8) for _ in range(300))),
        ("seq-past-end", b"\x30\x82\x40\x00" + www[4:200]),
        ("ber-indefinite", b"\x30\x80" + www[4:] + b"\x00\x00"),
        ("nested-1000", nested),
        ("pem-text", b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"),
        ("empty", b""),
        ("trailing-garbage", www + b"\x00garbage"),
        ("cut-one-byte", www[:-1]),
        ("len-4-bytes", b"\x30\x84\xff\xff\xff\xff" + www[4:60]),
        ("non-minimal-len", b"\x30\x82\x00\x05" + b"\x02\x01\x01\x05\x00"),
        ("tag-only", b"\x30"),
        ("int-as-cert", seq(3, b"\x02\x01\x05")),
    ]
    handshake("x509-before." + ZONE, [www, inter])
    for tag, der in not_der:
        handshake("x509-%s.%s" % (tag, ZONE), [der, inter])
    handshake("x509-after." + ZONE, [www, inter])
    s.add("x509-not-der.pcap", pcap_of(cap), tls=snis,
          stats=["malformed.x509.bad_der=11", "tls.x509_events=3"],
          note="leaf certificates that are not DER: random bytes, a SEQUENCE past its end, BER "
               "indefinite length, 1000 nested SEQUENCEs, PEM text, empty, trailing bytes, one byte "
               "short, a 4-byte length, a non-minimal length, a lone tag, an INTEGER; a good chain "
               "before and after (its two certificates and the one with trailing bytes, decoded and counted "
               "as x509.h says, are the only x509 events)")


def build():
    s = Suite()
    file_cases(s)
    vlan_cases(s)
    ip6_cases(s)
    frag_cases(s)
    tcp_cases(s)
    dns_cases(s)
    tls_cases(s)
    x509_cases(s)
    return s


# ---------------------------------------------------------------- truncation family

def truncations():
    """Cut a 4-frame pcap and pcapng (each frame gives one DNS event) at every
    boundary of the file structure and in the middle of each frame. The
    expected outcome follows from where the cut falls: at a record boundary
    the file is whole (exit 0), anywhere else the reader says which record
    was cut and keeps the frames before it."""
    s = Suite()
    cap = cap_for("trunc")
    names = [good_dns(cap, "trunc-1"), good_dns(cap, "trunc-2")]
    frames = cap.frames
    ng = pcapng_bytes(frames, [{"linktype": LINKTYPE_ETHERNET, "name": "eth0"}], shb_comment="cut")

    def add(kind, data, cut, frames_ok, rec_start, msg, libmsg):
        whole = msg is None
        name = "trunc-%s-%04d.%s" % (kind, cut, "pcapng" if kind == "ng" else "pcap")
        # answers are frames 2 and 4
        dns = [n for i, n in enumerate(names) if 2 * (i + 1) <= frames_ok]
        rows = {"mmap": dict(message=msg or "-"), "libpcap": dict(message=libmsg or "-")}
        s.add(name, data[:cut], readers=BOTH, exit=0 if whole else 1, dns=dns,
              per_reader=rows, note="cut at byte %d (record at %d)" % (cut, rec_start))
        for r in s.rows[-2:]:
            r["events"] = list(range(1, frames_ok + 1))

    # classic pcap (little-endian micro and big-endian nano): header fields,
    # then each record's header fields and data
    for kind, pc in (("pcap", pcap_of(cap)), ("pcapbe", pcap_of(cap, nano=True, big_endian=True))):
        for cut in (0, 2, 4, 6, 8, 12, 16, 20):
            m = "empty file" if cut == 0 else ("too short to be a capture file" if cut < 4 else
                                               "truncated pcap file header")
            add(kind, pc, cut, 0, 0, m, "truncated")
        off = 24
        add(kind, pc, off, 0, off, None, None)
        for k, fr in enumerate(frames):
            for d in (4, 8, 12):
                add(kind, pc, off + d, k, off, "truncated frame record at byte %d (frame %d): file ends inside "
                    "the record header" % (off, k + 1), "truncated")
            for d in (16, 16 + 14, 16 + 34, 16 + len(fr.data) - 1):
                add(kind, pc, off + d, k, off, "truncated frame record at byte %d (frame %d): file ends inside "
                    "the record" % (off, k + 1), "truncated")
            off += 16 + len(fr.data)
            add(kind, pc, off, k + 1, off, None, None)

    # pcapng: walk the blocks; inside each, every field boundary
    shb_len = struct.unpack_from("<I", ng, 4)[0]
    pos, k = 0, 0
    while pos < len(ng):
        btype, blen = struct.unpack_from("<II", ng, pos)
        if btype == 0x0A0D0D0A:
            cuts = [4, 8, 12, 14, 16, 24, blen - 4]
        elif btype == 1:
            cuts = [4, 8, 10, 12, 16, blen - 4]
        else:
            cuts = [4, 8, 12, 16, 20, 24, 28, 28 + 14, blen - 8, blen - 4]
        for d in cuts:
            cut = pos + d
            is_pkt = btype == 6
            where = "frame %d" % (k + 1) if is_pkt else "after frame %d" % k
            if cut < 4:
                m = "too short to be a capture file"
            elif d < 8:
                m = "truncated block at byte %d (%s): file ends inside the block header" % (pos, where)
                if btype == 0x0A0D0D0A:
                    m = "truncated block at byte %d (after frame %d)" % (pos, k)
            elif btype == 0x0A0D0D0A and d < 12:
                m = "truncated section header block at byte %d" % pos
            else:
                m = "truncated block at byte %d (%s): file ends inside the block" % (pos, where)
            add("ng", ng, cut, k, pos, m, "-")
        pos += blen
        if btype == 6:
            k += 1
        add("ng", ng, pos, k, pos, None, None)
    # libpcap's pcapng messages are its own: check only that one line names the file;
    # a section header and nothing else is a whole file to us, not to libpcap
    for r in s.rows:
        if r["reader"] == "libpcap" and r["file"] == "trunc-ng-%04d.pcapng" % shb_len:
            r["message"] = "no Interface Description Blocks"
    for r in s.rows:
        if r["reader"] == "libpcap" and r["message"] == "-" and r["exit"] == 1:
            r["message"] = ""
    return s


# ---------------------------------------------------------------- command line

def write_suite(s, outdir, tsv_name, columns):
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(s.files.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    with open(os.path.join(outdir, tsv_name), "w") as f:
        f.write(s.tsv(columns))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="malformed-gen.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="write the committed cases and EXPECTED.tsv here")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary directory and compare byte for byte with --out "
                         "(default tests/malformed); exit 1 on any difference")
    ap.add_argument("--truncations", metavar="DIR", help="write the truncation family and TRUNCATIONS.tsv")
    a = ap.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if a.truncations:
        s = truncations()
        write_suite(s, a.truncations, "TRUNCATIONS.tsv", TRUNC_COLUMNS)
        print("%d truncated files in %s" % (len(s.files), a.truncations))
        return 0
    out = a.out or os.path.join(here, "tests", "malformed")
    s = build()
    if not a.check:
        write_suite(s, out, "EXPECTED.tsv", COLUMNS)
        total = sum(len(d) for d in s.files.values())
        print("%d cases (%d bytes) and EXPECTED.tsv in %s" % (len(s.files), total, out))
        return 0
    with tempfile.TemporaryDirectory(prefix="bw-malformed-") as tmp:
        write_suite(s, tmp, "EXPECTED.tsv", COLUMNS)
        mine = set(os.listdir(tmp))
        theirs = {f for f in os.listdir(out) if f.endswith((".pcap", ".pcapng", ".tsv"))} if os.path.isdir(out) \
            else set()
        bad = 0
        for f in sorted(mine | theirs):
            p, q = os.path.join(tmp, f), os.path.join(out, f)
            try:
                with open(p, "rb") as x, open(q, "rb") as y:
                    same = x.read() == y.read()
            except OSError:
                same = False
            if not same:
                print("differs: %s" % q)
                bad += 1
        print("malformed-gen check: %d file(s) differ" % bad)
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
