# SPDX-License-Identifier: MIT
"""Capture file writers: classic pcap (micro or nano, either byte order) and
pcapng (one section, several interfaces, each with its own link type).

A capture is kept as a list of Frame records in memory and written in one go,
so a scenario can build frames in any order and the writer stays trivial.
Nothing depending on the wall clock or the host goes into the file: the same
frames always give the same bytes.
"""

import struct

# LINKTYPE_* numbers (tcpdump.org link-layer header types)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGIC_MICRO = 0xA1B2C3D4
PCAP_MAGIC_NANO = 0xA1B23C4D


class Frame:
    """One captured frame. ts_ns is the capture time in nanoseconds since the
    epoch; ifindex selects the pcapng interface (ignored by classic pcap);
    orig_len defaults to len(data) (set it larger to model a snaplen cut)."""

    __slots__ = ("ts_ns", "data", "ifindex", "orig_len", "comment")

    def __init__(self, ts_ns, data, ifindex=0, orig_len=None, comment=None):
        self.ts_ns = int(ts_ns)
        self.data = bytes(data)
        self.ifindex = ifindex
        self.orig_len = len(self.data) if orig_len is None else orig_len
        self.comment = comment


def write_pcap(path, frames, linktype=LINKTYPE_ETHERNET, nano=False, big_endian=False,
               snaplen=262144):
    """Write a classic pcap file. Returns the bytes written."""
    data = pcap_bytes(frames, linktype, nano, big_endian, snaplen)
    with open(path, "wb") as f:
        f.write(data)
    return data


def pcap_bytes(frames, linktype=LINKTYPE_ETHERNET, nano=False, big_endian=False,
               snaplen=262144):
    e = ">" if big_endian else "<"
    magic = PCAP_MAGIC_NANO if nano else PCAP_MAGIC_MICRO
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for fr in frames:
        sec, frac = divmod(fr.ts_ns, 1000000000)
        if not nano:
            frac //= 1000
        data = fr.data[:snaplen]
        out.append(struct.pack(e + "IIII", sec, frac, len(data), fr.orig_len))
        out.append(data)
    return b"".join(out)


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def _option(code, value):
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _block(btype, body):
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def pcapng_bytes(frames, interfaces, shb_comment=None):
    """interfaces: list of dicts {linktype, name?, snaplen?, tsresol?}; tsresol is
    the power of ten of the timestamp unit (6 = microseconds, the pcapng
    default, 9 = nanoseconds). Frames refer to interfaces by index. Written
    little-endian (readers must handle both; classic pcap covers the byte
    order variants)."""
    opts = b""
    if shb_comment:
        opts += _option(1, shb_comment.encode())
    if opts:
        opts += _option(0, b"")
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opts)]
    resol = []
    for itf in interfaces:
        o = b""
        if itf.get("name"):
            o += _option(2, itf["name"].encode())
        r = itf.get("tsresol", 6)
        if r != 6:
            o += _option(9, bytes([r]))
        if o:
            o += _option(0, b"")
        resol.append(r)
        out.append(_block(1, struct.pack("<HHI", itf["linktype"], 0, itf.get("snaplen", 262144)) + o))
    for fr in frames:
        if not 0 <= fr.ifindex < len(interfaces):
            raise ValueError("frame refers to interface %d of %d" % (fr.ifindex, len(interfaces)))
        r = resol[fr.ifindex]
        ts = fr.ts_ns // (10 ** (9 - r)) if r <= 9 else fr.ts_ns * 10 ** (r - 9)
        o = b""
        if fr.comment:
            o = _option(1, fr.comment.encode()) + _option(0, b"")
        body = struct.pack("<IIIII", fr.ifindex, ts >> 32, ts & 0xFFFFFFFF, len(fr.data), fr.orig_len)
        out.append(_block(6, body + _pad4(fr.data) + o))
    return b"".join(out)


def write_pcapng(path, frames, interfaces, shb_comment=None):
    data = pcapng_bytes(frames, interfaces, shb_comment)
    with open(path, "wb") as f:
        f.write(data)
    return data
