#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""livepcap.py: captures and checks for the live-capture tests (stdlib only).

  livepcap.py make DIR        write DIR/mix.pcap (+ mix.tsv: what the filter must do with each
                              frame) and DIR/bulk.pcap (a TLS handshake, then 2000 bulk segments)
  livepcap.py count FILE      print "frames=N dns=N tcp443=N" (DNS: UDP/TCP port 53 or 5353,
                              outer headers, through VLAN tags)
  livepcap.py subset CAP REF  every frame of CAP is byte-identical to a frame of REF; prints
                              "extra=N" (frames of CAP not in REF) and "kinds=..." seen
  livepcap.py expect CAP TSV  compare CAP with the frames mix.tsv says must pass; prints
                              "missing=K1,K2 unexpected=K3" by kind
  livepcap.py flows FILE...   no flow (5-tuple, both directions) is in two files; prints
                              "flows=N split=N"
"""
import struct
import sys

# ---------------------------------------------------------------- building frames


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    # enough for the literal forms used here ("2001:db8::1")
    head, _, tail = a.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    words = h + [0] * (8 - len(h) - len(t)) + t
    return struct.pack("!8H", *words)


MAC_DST = bytes.fromhex("020000000002")
MAC_SRC = bytes.fromhex("020000000001")


def eth(payload, ethertype, vlans=()):
    hdr = MAC_DST + MAC_SRC
    for tpid, vid in vlans:
        hdr += struct.pack("!HH", tpid, vid)
    hdr += struct.pack("!H", ethertype)
    frame = hdr + payload
    if len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def ipv4(src, dst, proto, l4, ident=1, frag=0, ttl=64):
    tot = 20 + len(l4)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident, frag, ttl, proto, 0, ip4(src), ip4(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def pseudo4(src, dst, proto, n):
    return ip4(src) + ip4(dst) + struct.pack("!BBH", 0, proto, n)


def pseudo6(src, dst, proto, n):
    return ip6(src) + ip6(dst) + struct.pack("!IxxxB", n, proto)


def udp(src, dst, sport, dport, payload, v6=False):
    n = 8 + len(payload)
    h = struct.pack("!HHHH", sport, dport, n, 0)
    ps = pseudo6(src, dst, 17, n) if v6 else pseudo4(src, dst, 17, n)
    c = csum(ps + h + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, n, c) + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", v6=False):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    n = len(h) + len(payload)
    ps = pseudo6(src, dst, 6, n) if v6 else pseudo4(src, dst, 6, n)
    c = csum(ps + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def ipv6(src, dst, nh, l4, ext=b""):
    return struct.pack("!IHBB", 6 << 28, len(ext) + len(l4), nh, 64) + ip6(src) + ip6(dst) + ext + l4


def dns_query(qid, name="api.example.com", answer=False):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    if not answer:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    a = struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + ip4("192.0.2.10")
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + a


def client_hello():
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00"
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def quic_initial(version=1, first=0xC3):
    hdr = bytes([first]) + struct.pack("!I", version) + b"\x08" + b"\x22" * 8 + b"\x00" + b"\x00"
    return (hdr + b"\x44\xc0" + b"\x00" * 4 + b"\x5a" * 1200)[:1200]


def dtls_hello():
    return b"\x16\xfe\xfd" + b"\x00\x00" + b"\x00" * 6 + struct.pack("!H", 20) + b"\x01" + b"\x00" * 19


C4, S4 = "10.99.0.10", "10.99.0.20"
C6, S6 = "2001:db8::10", "2001:db8::20"


def mix_frames():
    """(kind, expect, frame): expect is pass or drop for the eBPF filter."""
    f = []
    E4, E6 = 0x0800, 0x86DD
    f.append(("dns-udp4-query", "pass", eth(ipv4(C4, S4, 17, udp(C4, S4, 40001, 53, dns_query(1))), E4)))
    f.append(("dns-udp4-answer", "pass",
              eth(ipv4(S4, C4, 17, udp(S4, C4, 53, 40001, dns_query(1, answer=True))), E4)))
    f.append(("dns-vlan100", "pass",
              eth(ipv4(C4, S4, 17, udp(C4, S4, 40002, 53, dns_query(2))), E4, vlans=[(0x8100, 100)])))
    f.append(("dns-qinq", "pass",
              eth(ipv4(C4, S4, 17, udp(C4, S4, 40003, 53, dns_query(3))), E4,
                  vlans=[(0x88A8, 200), (0x8100, 101)])))
    f.append(("dns-udp6", "pass", eth(ipv6(C6, S6, 17, udp(C6, S6, 40004, 53, dns_query(4), v6=True)), E6)))
    hbh = bytes([17, 0]) + b"\x01\x04\x00\x00\x00\x00"  # hop-by-hop: next UDP, PadN
    f.append(("dns-udp6-hbh", "pass",
              eth(ipv6(C6, S6, 0, udp(C6, S6, 40005, 53, dns_query(5), v6=True), ext=hbh), E6)))
    msg = dns_query(6)
    f.append(("dns-tcp", "pass",
              eth(ipv4(C4, S4, 6, tcp(C4, S4, 40006, 53, 1000, 1, 0x18, struct.pack("!H", len(msg)) + msg)), E4)))
    f.append(("dns-mdns", "pass",
              eth(ipv4("10.99.0.11", "224.0.0.251", 17, udp("10.99.0.11", "224.0.0.251", 5353, 5353,
                                                            dns_query(0, "printer.local"))), E4)))
    f.append(("tls-client-hello", "pass",
              eth(ipv4(C4, S4, 6, tcp(C4, S4, 40010, 443, 5000, 1, 0x18, client_hello())), E4)))
    f.append(("tls-client-hello6", "pass",
              eth(ipv6(C6, S6, 6, tcp(C6, S6, 40011, 443, 5000, 1, 0x18, client_hello(), v6=True)), E6)))
    f.append(("tcp-syn", "pass", eth(ipv4(C4, S4, 6, tcp(C4, S4, 40012, 443, 7000, 0, 0x02)), E4)))
    f.append(("quic-initial", "pass", eth(ipv4(C4, S4, 17, udp(C4, S4, 40013, 443, quic_initial())), E4)))
    f.append(("quic-v2-initial", "pass",
              eth(ipv4(C4, S4, 17, udp(C4, S4, 40014, 443, quic_initial(0x6B3343CF, 0xD3))), E4)))
    f.append(("dtls-hello", "pass", eth(ipv4(C4, S4, 17, udp(C4, S4, 40015, 4433, dtls_hello())), E4)))
    inner = eth(ipv4(C4, S4, 17, udp(C4, S4, 40016, 53, dns_query(16))), E4)
    vx = b"\x08\x00\x00\x00" + struct.pack("!I", 42 << 8) + inner
    f.append(("vxlan-dns", "pass", eth(ipv4("10.99.1.1", "10.99.1.2", 17,
                                            udp("10.99.1.1", "10.99.1.2", 50000, 4789, vx)), E4)))
    f.append(("ipv4-later-fragment", "pass",
              eth(ipv4(C4, S4, 17, b"\x99" * 64, ident=77, frag=(64 // 8)), E4)))
    # must be dropped
    f.append(("ntp", "drop", eth(ipv4(C4, S4, 17, udp(C4, S4, 123, 123, b"\x23" + b"\0" * 47)), E4)))
    f.append(("icmp-echo", "drop", eth(ipv4(C4, S4, 1, b"\x08\x00\xf7\xff\x00\x00\x00\x00"), E4)))
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC_SRC + ip4(C4) + b"\0" * 6 + ip4(S4)
    f.append(("arp", "drop", eth(arp, 0x0806)))
    f.append(("quic-short-header", "drop",
              eth(ipv4(C4, S4, 17, udp(C4, S4, 40017, 443, b"\x43" + b"\x01" * 40)), E4)))
    pad = eth(ipv4(C4, S4, 17, udp(C4, S4, 40018, 443, b"")), E4)
    pad = pad[:42] + b"\xc0\x00\x00\x00\x01" + pad[47:]  # Ethernet padding that looks like QUIC
    f.append(("udp-empty-padded", "drop", pad))
    f.append(("udp6-other", "drop", eth(ipv6(C6, S6, 17, udp(C6, S6, 40019, 9999, b"hello", v6=True)), E6)))
    f.append(("lldp", "drop", eth(b"\x02\x07\x04" + b"\0" * 40, 0x88CC)))
    return f


def tls_record(ctype, n):
    return bytes([ctype, 3, 3]) + struct.pack("!H", n) + b"\xab" * n


def tls_flow(n_bulk, v6=False, vlans=(), cp=41000, sp=443):
    """(kind, frame) of one TLS flow: handshake, first application data, n_bulk server segments
    (a client ACK every 10), FIN both ways."""
    f = []
    seq = {"c": 100000, "s": 900000}
    cip, sip = (C6, S6) if v6 else (C4, S4)
    et = 0x86DD if v6 else 0x0800

    def seg(frm, flags, payload=b""):
        a, b, pa, pb = (cip, sip, cp, sp) if frm == "c" else (sip, cip, sp, cp)
        t = tcp(a, b, pa, pb, seq[frm], seq["s" if frm == "c" else "c"], flags, payload, v6=v6)
        seq[frm] += len(payload) + (1 if flags & 0x03 else 0)
        return eth(ipv6(a, b, 6, t) if v6 else ipv4(a, b, 6, t), et, vlans=vlans)

    f.append(("hs", seg("c", 0x02)))
    f.append(("hs", seg("s", 0x12)))
    f.append(("hs", seg("c", 0x10)))
    f.append(("hs", seg("c", 0x18, client_hello())))
    f.append(("hs", seg("s", 0x18, tls_record(22, 90) + tls_record(20, 1) + tls_record(22, 60))))
    f.append(("hs", seg("c", 0x18, tls_record(20, 1) + tls_record(22, 40))))
    f.append(("appdata", seg("c", 0x18, tls_record(23, 100))))  # the handshake is over: bypass here
    mss = 1380 if v6 else 1400
    for i in range(n_bulk):
        data = tls_record(23, mss - 5) if i % 12 == 0 else bytes([(i * 7 + j) & 0xFF for j in range(mss)])
        f.append(("bulk", seg("s", 0x10, data[:mss])))
        if i % 10 == 9:
            f.append(("bulk", seg("c", 0x10)))
    f.append(("fin", seg("s", 0x11)))
    f.append(("fin", seg("c", 0x11)))
    return f


def bulk_frames():
    """Two TLS flows with bulk transfers: IPv4 untagged (2000 segments), then IPv6 in VLAN 300
    (300 segments; the kernel and the decoder must agree on the VLAN in the key); then DNS."""
    f = tls_flow(2000) + tls_flow(300, v6=True, vlans=[(0x8100, 300)], cp=41001)
    for i in range(5):
        f.append(("dns", eth(ipv4(C4, S4, 17, udp(C4, S4, 42000 + i, 53, dns_query(100 + i))), 0x0800)))
    return f


def write_pcap(path, frames, t0=1700000000):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            out.write(struct.pack("<IIII", t0 + i // 1000, (i % 1000) * 1000, len(fr), len(fr)))
            out.write(fr)


# ---------------------------------------------------------------- reading and checking


def read_pcap(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise SystemExit("%s: not a classic pcap" % path)
    out, off = [], 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        out.append(data[off:off + caplen])
        off += caplen
    return out


def l4_info(fr):
    """(proto, src, sport, dst, dport) of the outer headers, or None."""
    if len(fr) < 14:
        return None
    et, off = struct.unpack("!H", fr[12:14])[0], 14
    for _ in range(4):
        if et in (0x8100, 0x88A8, 0x9100) and len(fr) >= off + 4:
            et, off = struct.unpack("!H", fr[off + 2:off + 4])[0], off + 4
    if et == 0x0800 and len(fr) >= off + 20:
        ihl = (fr[off] & 15) * 4
        if struct.unpack("!H", fr[off + 6:off + 8])[0] & 0x1FFF:
            return None
        proto, src, dst, off = fr[off + 9], fr[off + 12:off + 16], fr[off + 16:off + 20], off + ihl
    elif et == 0x86DD and len(fr) >= off + 40:
        proto, src, dst, off = fr[off + 6], fr[off + 8:off + 24], fr[off + 24:off + 40], off + 40
        for _ in range(6):
            if proto in (0, 43, 60) and len(fr) >= off + 2:
                proto, off = fr[off], off + (fr[off + 1] + 1) * 8
    else:
        return None
    if proto not in (6, 17) or len(fr) < off + 4:
        return None
    sport, dport = struct.unpack("!HH", fr[off:off + 4])
    return proto, src, sport, dst, dport


def is_dns(fr):
    i = l4_info(fr)
    return bool(i) and (i[2] in (53, 5353) or i[4] in (53, 5353))


def cmd_make(d):
    import os
    os.makedirs(d, exist_ok=True)
    mix = mix_frames()
    write_pcap(d + "/mix.pcap", [fr for _, _, fr in mix])
    with open(d + "/mix.tsv", "w") as fh:
        for i, (kind, expect, fr) in enumerate(mix):
            fh.write("%d\t%s\t%s\t%d\n" % (i, kind, expect, 1 if is_dns(fr) else 0))
    bulk = bulk_frames()
    write_pcap(d + "/bulk.pcap", [fr for _, fr in bulk])
    kinds = {}
    for k, _ in bulk:
        kinds[k] = kinds.get(k, 0) + 1
    print("mix=%d pass=%d bulk=%d %s" % (len(mix), sum(1 for m in mix if m[1] == "pass"), len(bulk),
                                          " ".join("%s=%d" % kv for kv in sorted(kinds.items()))))


def cmd_count(path):
    frames = read_pcap(path)
    t443 = sum(1 for fr in frames if (lambda i: i and i[0] == 6 and 443 in (i[2], i[4]))(l4_info(fr)))
    print("frames=%d dns=%d tcp443=%d" % (len(frames), sum(1 for fr in frames if is_dns(fr)), t443))


def cmd_subset(cap, ref):
    refset = set(read_pcap(ref))
    extra = [fr for fr in read_pcap(cap) if fr not in refset]
    print("extra=%d" % len(extra))
    for fr in extra[:3]:
        print("  extra frame: %s" % fr[:48].hex())
    return 0 if not extra else 1


def cmd_expect(cap, tsv):
    frames = read_pcap(tsv.replace(".tsv", ".pcap"))
    want = {}
    for line in open(tsv):
        i, kind, expect, _ = line.rstrip("\n").split("\t")
        want[frames[int(i)]] = (kind, expect)
    seen = {}
    unexpected = set()
    for fr in read_pcap(cap):
        k = want.get(fr)
        if not k:
            unexpected.add("?unknown")
            continue
        seen[k[0]] = seen.get(k[0], 0) + 1
        if k[1] != "pass":
            unexpected.add(k[0])
    missing = sorted(k for k, e in want.values() if e == "pass" and k not in seen)
    print("missing=%s unexpected=%s" % (",".join(missing) or "-", ",".join(sorted(unexpected)) or "-"))
    return 0


def cmd_flows(paths):
    owner, split = {}, set()
    for n, p in enumerate(paths):
        for fr in read_pcap(p):
            i = l4_info(fr)
            if not i:
                continue
            a, b = (i[1], i[2]), (i[3], i[4])
            key = (i[0],) + (a + b if a <= b else b + a)
            if owner.setdefault(key, n) != n:
                split.add(key)
    print("flows=%d split=%d" % (len(owner), len(split)))
    return 0 if not split else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "make":
        return cmd_make(argv[2])
    if len(argv) == 3 and argv[1] == "count":
        return cmd_count(argv[2])
    if len(argv) == 4 and argv[1] == "subset":
        return cmd_subset(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "expect":
        return cmd_expect(argv[2], argv[3])
    if len(argv) >= 3 and argv[1] == "flows":
        return cmd_flows(argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
