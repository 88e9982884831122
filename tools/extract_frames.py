#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""extract_frames.py: cut frames out of a pcap/pcapng file into a fuzz_decode seed.

The seed format is what tests/fuzz/fuzz_decode.c reads: repeated
[selector][length, 2 bytes big endian][frame], where the low 4 bits of the
selector pick the link type (see the table in fuzz_decode.c) and the high 4
bits advance packet time in 10 ms steps. Frames written to one file reach one
decoder in order, so fragments of one datagram belong in the same seed.

Usage:
  tools/extract_frames.py CAPTURE OUT [--frames 1,2,5-7] [--step N]
Frame numbers start at 1 (as in Wireshark); the default is every frame.
Standard library only.
"""
import argparse
import struct
import sys

# pcap LINKTYPE -> selector (index into linktypes[] in fuzz_decode.c)
SELECTOR = {1: 0, 101: 4, 12: 4, 0: 6, 108: 7, 113: 8, 276: 9, 228: 10, 229: 11,
            9: 12, 50: 13, 104: 14, 14: 15}


def read_pcap(buf):
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a pcap file")
    linktype = struct.unpack(e + "I", buf[20:24])[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(buf):
        _, _, incl, _ = struct.unpack(e + "IIII", buf[pos:pos + 16])
        pos += 16
        yield linktype, buf[pos:pos + incl]
        pos += incl


def read_pcapng(buf):
    e = "<"
    linktypes = []
    pos = 0
    while pos + 12 <= len(buf):
        btype, blen = struct.unpack(e + "II", buf[pos:pos + 8])
        if btype == 0x0A0D0D0A:  # section header: byte order from its magic
            e = "<" if buf[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            btype, blen = struct.unpack(e + "II", buf[pos:pos + 8])
            linktypes = []
        if blen < 12 or pos + blen > len(buf):
            break
        body = buf[pos + 8:pos + blen - 4]
        if btype == 1:  # interface description
            linktypes.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            ifid, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
            if ifid < len(linktypes):
                yield linktypes[ifid], body[20:20 + cap]
        elif btype == 3 and linktypes and len(body) >= 4:  # simple packet
            yield linktypes[0], body[4:]
        pos += blen


def frames(path):
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] == b"\x0a\x0d\x0d\x0a":
        return list(read_pcapng(buf))
    return list(read_pcap(buf))


def parse_ranges(spec, n):
    if not spec:
        return list(range(1, n + 1))
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture")
    ap.add_argument("out")
    ap.add_argument("--frames", default="", help="frame numbers, e.g. 1,3,5-7")
    ap.add_argument("--step", type=int, default=0, help="time step per frame, 0..15 (x 10 ms)")
    args = ap.parse_args()
    allf = frames(args.capture)
    seed = bytearray()
    for num in parse_ranges(args.frames, len(allf)):
        if not 1 <= num <= len(allf):
            sys.exit(f"{args.capture}: no frame {num} (it has {len(allf)})")
        lt, data = allf[num - 1]
        if lt not in SELECTOR:
            sys.exit(f"{args.capture}: link type {lt} has no selector")
        data = data[:0xFFFF]
        seed += bytes([(args.step & 15) << 4 | SELECTOR[lt]]) + struct.pack(">H", len(data)) + data
    with open(args.out, "wb") as f:
        f.write(seed)


if __name__ == "__main__":
    main()
