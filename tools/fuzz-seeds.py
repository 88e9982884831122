#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fuzz-seeds.py: cut per-target fuzz seeds out of the bundled captures.

Reads every capture of pcaps/ and ../shared/pcaps/external/ (or the folders
given), decodes frames just far enough to find UDP and TCP payloads, and
writes seeds in the input format of each target in tests/fuzz/ into
tests/fuzz/corpus/NAME/seed-*: DNS messages (dns, dns_ldns, dns_struct),
TLS conversations as direction-tagged chunks (tls, tls_struct, starttls),
QUIC and DTLS datagrams (quic, dtls), certificates from TLS <= 1.2
Certificate messages (x509), frame sequences (decode), IP fragment scripts
(ipfrag), TCP segment scripts (tcp_stream) and whole small captures
(capture_file, pipeline).

Only files named seed-* are written or removed, so regression inputs kept
beside them stay. The output is deterministic: captures are read in sorted
order, seeds are taken round-robin over the captures (so no one capture
fills a folder), deduplicated by content, capped in count and size.

Usage: tools/fuzz-seeds.py [--out tests/fuzz/corpus] [--max N] [DIR...]
Standard library only.
"""
import argparse
import hashlib
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract_frames  # noqa: E402  (frames(), SELECTOR: the fuzz_decode seed format)

MAX_SEED = 64 * 1024      # bytes per seed
MAX_DIR = 900 * 1024      # bytes of seeds per target folder
DNS_PORTS = {53, 5353, 5355}
STARTTLS_PORTS = {21, 25, 110, 143, 389, 587, 5222, 5269}


# ---- frame decoding: link layer -> IP -> UDP/TCP ---------------------------

def strip_link(lt, f):
    """The IP packet inside a frame, or None."""
    eth = None
    if lt == 1:
        eth = f[12:14], 14
    elif lt == 113 and len(f) >= 16:
        eth = f[14:16], 16
    elif lt == 276 and len(f) >= 20:
        eth = f[0:2], 20
    elif lt in (0, 108) and len(f) >= 4:
        return f[4:]
    elif lt in (101, 12, 228, 229, 14):
        return f
    else:
        return None
    et, off = eth
    et = struct.unpack(">H", et)[0] if len(et) == 2 else 0
    while et in (0x8100, 0x88A8) and len(f) >= off + 4:
        et = struct.unpack(">H", f[off + 2:off + 4])[0]
        off += 4
    return f[off:] if et in (0x0800, 0x86DD) else None


def parse_ip(p):
    """(version, src, dst, proto, payload, frag) where frag is None or
    (id, offset, more, first_proto) for a fragment."""
    if len(p) < 20:
        return None
    v = p[0] >> 4
    if v == 4:
        ihl = (p[0] & 15) * 4
        tot = struct.unpack(">H", p[2:4])[0]
        if ihl < 20 or len(p) < ihl:
            return None
        body = p[ihl:max(ihl, min(tot, len(p)))]
        ident, fo = struct.unpack(">HH", p[4:8])
        frag = None
        if fo & 0x3FFF:
            frag = (ident, (fo & 0x1FFF) * 8, bool(fo & 0x2000), p[9])
        return 4, p[12:16], p[16:20], p[9], body, frag
    if v == 6 and len(p) >= 40:
        nh, off, frag = p[6], 40, None
        for _ in range(8):
            if nh in (0, 43, 60) and len(p) >= off + 8:
                nh, off = p[off], off + (p[off + 1] + 1) * 8
            elif nh == 44 and len(p) >= off + 8:
                fo, ident = struct.unpack(">HI", p[off + 2:off + 8])
                frag = (ident, fo & 0xFFF8, bool(fo & 1), p[off])
                nh, off = p[off], off + 8
                break
            else:
                break
        return 6, p[8:24], p[24:40], nh, p[off:], frag
    return None


def packets(path):
    """(frame index, linktype, frame, ip tuple or None) of a capture."""
    try:
        fr = extract_frames.frames(path)
    except (ValueError, struct.error, IndexError):
        return []
    out = []
    for i, (lt, f) in enumerate(fr):
        p = strip_link(lt, f)
        out.append((i, lt, f, parse_ip(p) if p else None))
    return out


def transport(ip):
    """('udp'|'tcp', sport, dport, payload, seq, flags) of an unfragmented packet."""
    if not ip or ip[5]:
        return None
    _, _, _, proto, b, _ = ip
    if proto == 17 and len(b) >= 8:
        sp, dp = struct.unpack(">HH", b[:4])
        return "udp", sp, dp, b[8:], 0, 0
    if proto == 6 and len(b) >= 20:
        sp, dp, seq = struct.unpack(">HHI", b[:8])
        doff = (b[12] >> 4) * 4
        if doff < 20 or len(b) < doff:
            return None
        return "tcp", sp, dp, b[doff:], seq, b[13]
    return None


# ---- per-capture seed makers -------------------------------------------------

def tcp_flows(pk):
    """Per TCP flow (keyed on the unordered endpoint pair): the client side
    (first SYN sender, else first sender) and the segments in capture order
    as (from_client, seq, flags, payload, frame index)."""
    flows, order = {}, []
    for i, _, _, ip in pk:
        t = transport(ip)
        if not t or t[0] != "tcp":
            continue
        a, b = (ip[1], t[1]), (ip[2], t[2])
        key = (min(a, b), max(a, b))
        if key not in flows:
            flows[key] = {"client": a, "segs": []}
            order.append(key)
        fl = flows[key]
        if t[5] & 0x12 == 0x02 and not fl["segs"]:
            fl["client"] = a
        fl["segs"].append((a == fl["client"], t[4], t[5], t[3], i))
    return [flows[k] for k in order], order


def stream(segs, from_client):
    """The bytes of one direction, in sequence order, each byte once."""
    parts = sorted({(s[1], s[3]) for s in segs if s[0] == from_client and s[3]})
    if not parts:
        return b""
    base, out, end = parts[0][0], bytearray(), parts[0][0]
    for seq, data in parts:
        rel = (seq - base) & 0xFFFFFFFF
        if rel > 1 << 20:
            break
        if seq + len(data) <= end:
            continue
        skip = max(0, end - seq)
        out += data[skip:]
        end = seq + len(data)
    return bytes(out)


def chunks(flags, pieces):
    """The chunk format of fuzz_tls / fuzz_starttls: flags byte, then per
    piece a header (bit 7 from the client; length-1, or 0x7f and 16 bits)."""
    out = bytearray([flags])
    for fc, data in pieces:
        while data:
            n, data = data[:65536], data[65536:]
            if len(n) <= 127:
                out.append((0x80 if fc else 0) | (len(n) - 1))
            else:
                out.append((0x80 if fc else 0) | 0x7F)
                out += struct.pack(">H", len(n) - 1)
            out += n
    return bytes(out)


def tls_records(data):
    pos = 0
    while pos + 5 <= len(data):
        ct, ln = data[pos], struct.unpack(">H", data[pos + 3:pos + 5])[0]
        if ct not in (20, 21, 22, 23) or data[pos + 1] != 3:
            return
        yield ct, data[pos + 5:pos + 5 + ln]
        pos += 5 + ln


def certificates(server_bytes):
    hs = b"".join(body for ct, body in tls_records(server_bytes) if ct == 22)
    pos = 0
    while pos + 4 <= len(hs):
        ht, ln = hs[pos], int.from_bytes(hs[pos + 1:pos + 4], "big")
        body = hs[pos + 4:pos + 4 + ln]
        pos += 4 + ln
        if ht != 11 or len(body) < 3:
            continue
        p = 3
        while p + 3 <= len(body):
            cl = int.from_bytes(body[p:p + 3], "big")
            if cl and p + 3 + cl <= len(body) and body[p + 3] == 0x30:
                yield body[p + 3:p + 3 + cl]
            p += 3 + cl


def seeds_of(path, pk):
    """{target: [seed bytes]} for one capture."""
    s = {k: [] for k in ("dns", "tls", "starttls", "quic", "dtls", "x509", "decode", "ipfrag", "tcp_stream")}
    # DNS over UDP, QUIC and DTLS datagrams
    quic_flows, dtls_flows = {}, {}
    for _, _, _, ip in pk:
        t = transport(ip)
        if not t:
            continue
        kind, sp, dp, pl = t[:4]
        if kind == "udp" and (sp in DNS_PORTS or dp in DNS_PORTS) and len(pl) >= 12:
            s["dns"].append(pl)
        if kind != "udp" or not pl:
            continue
        key = (min((ip[1], sp), (ip[2], dp)), max((ip[1], sp), (ip[2], dp)))
        if (pl[0] & 0xC0) == 0xC0 and len(pl) >= 7 and pl[1:5] != b"\0\0\0\0" and 443 in (sp, dp):
            quic_flows.setdefault(key, [(ip[1], sp), []])[1].append(((ip[1], sp), pl))
        elif pl[0] == 22 and len(pl) >= 13 and pl[1] == 0xFE:
            dtls_flows.setdefault(key, [(ip[1], sp), []])[1].append(((ip[1], sp), pl))
    for client, dgs in quic_flows.values():
        rec = bytearray()
        for src, pl in dgs[:6]:
            pl = pl[:0x1FFF]
            rec += struct.pack(">H", (0 if src == client else 0x8000) | len(pl)) + pl
        s["quic"].append(bytes(rec))
    for client, dgs in dtls_flows.values():
        rec = bytearray([0])
        for src, pl in dgs[:12]:
            pl = pl[:0x7FFF]
            rec += struct.pack(">H", (0x8000 if src == client else 0) | len(pl)) + pl
        s["dtls"].append(bytes(rec))
    # TCP: TLS conversations, STARTTLS, DNS over TCP, segment scripts
    flows, keys = tcp_flows(pk)
    for fl, key in zip(flows, keys):
        ports = {key[0][1], key[1][1]}
        cli, srv = stream(fl["segs"], True), stream(fl["segs"], False)
        pieces = [(fc, pl) for fc, _, _, pl, _ in fl["segs"] if pl]
        if cli[:1] == b"\x16" or srv[:1] == b"\x16":
            s["tls"].append(chunks(0, pieces))
            s["x509"].extend(certificates(srv))
        elif ports & STARTTLS_PORTS and pieces:
            s["starttls"].append(chunks(0, pieces))
        if ports & DNS_PORTS:
            for data in (cli, srv):
                p = 0
                while p + 2 <= len(data):
                    n = struct.unpack(">H", data[p:p + 2])[0]
                    if n >= 12 and p + 2 + n <= len(data):
                        s["dns"].append(data[p + 2:p + 2 + n])
                    p += 2 + n
            s["tcp_stream"].append(tcp_script(fl))
    # frames for the decoder, in runs of up to 16
    run = bytearray()
    for i, lt, f, _ in pk:
        if lt not in extract_frames.SELECTOR:
            continue
        f = f[:0xFFFF]
        run += bytes([0x10 | extract_frames.SELECTOR[lt]]) + struct.pack(">H", len(f)) + f
        if (i + 1) % 16 == 0 or len(run) > 16384:
            s["decode"].append(bytes(run))
            run = bytearray()
    if run:
        s["decode"].append(bytes(run))
    # answers before questions, big before small: they reach the rdata code
    s["dns"].sort(key=lambda m: (not (m[2] & 0x80), -len(m), m))
    # IP fragments as fuzz_ipfrag scripts
    script = bytearray([0x3F])  # 128 KiB of pages, 8 datagrams, 30 s
    ids = {}
    for _, _, _, ip in pk:
        if not ip or not ip[5]:
            continue
        ident, off, more, _ = ip[5]
        idx = ids.setdefault((ip[1], ip[2], ident), len(ids) % 4)
        data = ip[4][:0x3FFF]
        fl = (1 if ip[0] == 6 else 0) | idx << 1 | (0x08 if more else 0) | 0x10
        script += bytes([fl, 1]) + struct.pack(">HH", (off // 8) & 0x1FFF, len(data)) + data
        if len(script) > 16384:
            s["ipfrag"].append(bytes(script))
            script = bytearray([0x3F])
    if len(script) > 1:
        s["ipfrag"].append(bytes(script))
    return s


def tcp_script(fl):
    """A fuzz_tcp_stream script of a real flow (literal payloads)."""
    segs = fl["segs"][:64]
    isn = [None, None]
    for fc, seq, flags, pl, _ in segs:
        d = 0 if fc else 1
        if isn[d] is None:
            isn[d] = seq if flags & 0x02 else (seq - 1) & 0xFFFFFFFF
    isn = [x if x is not None else 0 for x in isn]
    out = bytearray([0x07 | 0x38, 0]) + struct.pack(">II", isn[0], isn[1])
    for fc, seq, flags, pl, _ in segs:
        d = 0 if fc else 1
        rel = (seq - isn[d]) & 0xFFFFFFFF
        if rel >= 1 << 15:
            continue
        pl = pl[:0x7FF]
        out += bytes([(flags & 0x1F) | 0x20 | (0 if fc else 0x80), 1])
        out += struct.pack(">IH", rel, len(pl)) + pl
    return bytes(out)


# ---- writing -----------------------------------------------------------------

# which seed kinds feed which targets
TARGETS = {
    "dns": ["dns"], "dns_ldns": ["dns"], "dns_struct": ["dns"],
    "tls": ["tls"], "tls_struct": ["tls"], "starttls": ["starttls", "tls"],
    "quic": ["quic"], "dtls": ["dtls"], "x509": ["x509"], "decode": ["decode"],
    "ipfrag": ["ipfrag"], "tcp_stream": ["tcp_stream"],
    "capture_file": ["file"], "pipeline": ["file"],
}


def pick(per_capture, kinds, max_n):
    """Round-robin over captures, dedup, caps."""
    lists = [[x for k in kinds for x in caps.get(k, [])] for _, caps in per_capture]
    chosen, seen, total, i = [], set(), 0, 0
    while len(chosen) < max_n and any(i < len(lst) for lst in lists):
        for lst in lists:
            if i >= len(lst) or len(chosen) >= max_n:
                continue
            x = lst[i][:MAX_SEED] if kinds != ["file"] else lst[i]
            h = hashlib.sha1(x).hexdigest()
            if h in seen or total + len(x) > MAX_DIR:
                continue
            seen.add(h)
            chosen.append(x)
            total += len(x)
        i += 1
    return chosen


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "tests", "fuzz", "corpus"))
    ap.add_argument("--max", type=int, default=40, help="seeds per target (default 40)")
    ap.add_argument("--only", default="", help="comma-separated targets (default: all)")
    ap.add_argument("dirs", nargs="*", default=[os.path.join(here, "pcaps"),
                                               os.path.join(here, "..", "shared", "pcaps", "external")])
    a = ap.parse_args()
    paths = sorted(os.path.join(d, f) for d in a.dirs if os.path.isdir(d) for f in os.listdir(d)
                   if f.endswith((".pcap", ".pcapng", ".cap")))
    per_capture = []
    for p in sorted(paths, key=os.path.basename):
        pk = packets(p)
        caps = seeds_of(p, pk) if pk else {}
        size = os.path.getsize(p)
        if size <= 24 * 1024:
            with open(p, "rb") as f:
                caps["file"] = [f.read()]
        per_capture.append((p, caps))
    only = set(a.only.split(",")) if a.only else set(TARGETS)
    for target in sorted(only & set(TARGETS)):
        d = os.path.join(a.out, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))
        chosen = pick(per_capture, TARGETS[target], a.max)
        for x in chosen:
            with open(os.path.join(d, "seed-" + hashlib.sha1(x).hexdigest()[:16]), "wb") as f:
                f.write(x)
        print("%-13s %3d seeds, %6d bytes" % (target, len(chosen), sum(len(x) for x in chosen)))


if __name__ == "__main__":
    main()
