# SPDX-License-Identifier: MIT
"""pcapgen --selftest: the byte-level invariants the captures rely on,
checked by reading back what the library writes (independently of tshark)."""

import struct

from . import REGISTRY, build, net
from . import dns as D
from .pcapfile import Frame, pcap_bytes, pcapng_bytes


def _sum16(b):
    return net.checksum(b) == 0


def run():
    checks = []

    def check(name, cond):
        checks.append((name, bool(cond)))

    ip4 = net.ipv4("192.0.2.1", "192.0.2.2", 17, b"x" * 11, options=net.ipv4_opt_rr(2))
    check("ipv4 header checksum verifies", _sum16(ip4[:(ip4[0] & 15) * 4]))
    check("ipv4 options padded, IHL 8", ip4[0] & 15 == 8)
    u = net.udp("192.0.2.1", "192.0.2.2", 53, 1000, b"hello")
    ph = net._pseudo("192.0.2.1", "192.0.2.2", 17, len(u))
    check("udp/ipv4 checksum verifies", _sum16(ph + u))
    u6 = net.udp("2001:db8::1", "2001:db8::2", 53, 1000, b"hello!")
    check("udp/ipv6 checksum verifies", _sum16(net._pseudo("2001:db8::1", "2001:db8::2", 17, len(u6)) + u6))
    t = net.tcp("2001:db8::1", "2001:db8::2", 1, 2, 100, 200, net.TH_ACK, b"abc", options=net.tcp_opt_mss(1400))
    check("tcp/ipv6 checksum verifies", _sum16(net._pseudo("2001:db8::1", "2001:db8::2", 6, len(t)) + t))

    payload = bytes(range(256)) * 12
    frags = net.ipv4_fragments("192.0.2.1", "192.0.2.2", 17, payload, 576, ident=7)
    data = b""
    ok = True
    for f in frags:
        hl = (f[0] & 15) * 4
        off = (struct.unpack("!H", f[6:8])[0] & 0x1FFF) * 8
        ok &= len(f) <= 576 and off == len(data) and _sum16(f[:hl])
        data += f[hl:]
    check("ipv4 fragments reassemble, <= MTU, offsets contiguous", ok and data == payload)
    check("ipv4 last fragment has MF clear", not (struct.unpack("!H", frags[-1][6:8])[0] & 0x2000))
    f6 = net.ipv6_fragments("2001:db8::1", "2001:db8::2", 17, payload, 1280, ident=9,
                            unfrag=[net.hopopts()], frag_ext=[net.dstopts()])
    ok = all(len(f) <= 1280 for f in f6) and len(f6) == 3 and f6[0][6] == net.IPPROTO_HOPOPTS
    check("ipv6 fragments <= MTU, chain starts with hop-by-hop", ok)

    e = net.ether(b"\x45", net.ETH_IPV4, vlans=[100, 200])
    check("QinQ: 0x88a8 then 0x8100 then 0x0800",
          e[12:14] == b"\x88\xa8" and e[16:18] == b"\x81\x00" and e[20:22] == b"\x08\x00")
    e = net.ether(b"\x45", net.ETH_IPV4, mpls=[16, 17])
    check("MPLS: bottom of stack only on the last label", not (e[16] & 1) and (e[20] & 1))

    fr = [Frame(1704164645123456789, b"abc")]
    for nano, be in ((False, False), (False, True), (True, False), (True, True)):
        b = pcap_bytes(fr, nano=nano, big_endian=be)
        end = ">" if be else "<"
        magic, = struct.unpack(end + "I", b[:4])
        sec, frac = struct.unpack(end + "II", b[24:32])
        check("pcap %s %s header and timestamp" % ("nano" if nano else "micro", "BE" if be else "LE"),
              magic == (0xA1B23C4D if nano else 0xA1B2C3D4) and sec == 1704164645 and
              frac == (123456789 if nano else 123456))
    ng = pcapng_bytes(fr, [{"linktype": 1, "tsresol": 9}])
    check("pcapng blocks are 4-aligned and lengths match", _blocks_ok(ng))

    m = D.Message(id=1, qr=True).question("www.example.com", "A")
    m.answer("www.example.com", 60, "CNAME", "web.example.com")
    w = m.encode()
    check("name compression: answer owner is a pointer to the question", w[33:35] == b"\xc0\x0c")
    check("dns round trip", D.decode(w)["records"][0]["data"] == "web.example.com")
    try:
        D.decode(w[:-3])
        check("truncated message rejected", False)
    except D.DecodeError:
        check("truncated message rejected", True)

    from . import tls
    tls.selfcheck(check)

    a = build("dns-basic").render("dns-basic.pcap")
    b = build("dns-basic").render("dns-basic.pcap")
    check("deterministic: two builds are byte-identical", a == b)
    check("deterministic: another seed differs", build("dns-basic", seed=2).render("dns-basic.pcap") != a)
    for name in sorted(REGISTRY):
        cap = build(name)
        size = max(len(cap.render(f)) for f in cap.outputs)
        check("%s builds, %d frames, %d truth rows, < 50 KiB" % (name, len(cap.frames), len(cap.truth)),
              size < 50 * 1024 and cap.truth)

    failed = [n for n, ok in checks if not ok]
    for n, ok in checks:
        print("%s  %s" % ("ok  " if ok else "FAIL", n))
    print("pcapgen selftest: %d passed, %d failed" % (len(checks) - len(failed), len(failed)))
    return 1 if failed else 0


def _blocks_ok(b):
    pos = 0
    while pos < len(b):
        if pos + 12 > len(b):
            return False
        _t, ln = struct.unpack("<II", b[pos:pos + 8])
        if ln % 4 or ln < 12 or struct.unpack("<I", b[pos + ln - 4:pos + ln])[0] != ln:
            return False
        pos += ln
    return pos == len(b)
