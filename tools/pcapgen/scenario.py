# SPDX-License-Identifier: MIT
"""Scenario registry, the Capture a scenario fills, the truth it records, and
a TCP session helper.

A scenario is a function registered with @scenario(name, help). It gets a
Capture (with a random.Random seeded from the global seed and the scenario
name, so scenarios do not disturb each other) and adds frames to it; each
time it puts a DNS response on the wire it records the facts a sensor must
report (Capture.truth_response), taken from the text the records were built
from. Later issues add TLS scenarios the same way: one module of scenarios,
imported by pcapgen/__init__.py, each registering itself.

Files: a Capture writes one or more outputs (Capture.outputs), each a pcap
(micro/nano, either byte order) or pcapng file of the same frames. The truth
rows name the output file, so one TSV can cover several files.
"""

import os
import random
import zlib

from . import dns as dnsmod
from . import net
from .pcapfile import LINKTYPE_ETHERNET, Frame, pcap_bytes, pcapng_bytes

REGISTRY = {}

TRUTH_COLUMNS = ["file", "packet", "qname", "qtype", "rcode", "section", "owner", "type", "ttl", "data"]

# 2024-01-02T03:04:05Z: fixed so regenerated files are byte-identical
BASE_TIME_NS = 1704164645 * 1000000000


def scenario(name, help):
    def reg(fn):
        if name in REGISTRY:
            raise ValueError("scenario %s registered twice" % name)
        REGISTRY[name] = (fn, help)
        return fn
    return reg


def _tsv_field(s):
    # Presentation text never holds a tab or newline (they print as \009,
    # \010), so the TSV needs no escaping at all.
    s = str(s)
    if "\t" in s or "\n" in s:
        raise ValueError("tab or newline in a truth field: %r" % s)
    return s


class Capture:
    def __init__(self, name, seed=1):
        self.name = name
        self.rng = random.Random((seed << 32) ^ zlib.crc32(name.encode()))
        self.frames = []
        self.now_ns = BASE_TIME_NS
        self.link = lambda p: net.eth_ip(p)   # IP packet -> frame, for the default interface
        self.linktype = LINKTYPE_ETHERNET
        self.interfaces = None                # pcapng: list of dicts (see pcapfile.pcapng_bytes)
        self.outputs = [name + ".pcap"]       # file names; extension .pcapng selects pcapng
        self.output_opts = {}                 # file name -> dict(nano=, big_endian=)
        self.truth = []                       # rows (dicts) without the file column
        self.truth_columns = TRUTH_COLUMNS    # TLS scenarios use scenarios_tls.TLS_TRUTH_COLUMNS
        self.notes = []                       # free text for pcaps/README.md
        self.ifindex = 0

    # ------------------------------------------------------------ frames
    def tick(self, us=None):
        if us is None:
            us = self.rng.randint(80, 400)
        self.now_ns += int(us * 1000)

    def add_frame(self, data, ifindex=None, dt_us=None, ts_ns=None, orig_len=None):
        """Append a frame; returns its 1-based frame number."""
        if ts_ns is None:
            self.tick(dt_us)
            ts_ns = self.now_ns
        self.frames.append(Frame(ts_ns, data, self.ifindex if ifindex is None else ifindex, orig_len))
        return len(self.frames)

    def add_ip(self, ip_packet, link=None, **kw):
        return self.add_frame((link or self.link)(ip_packet), **kw)

    def udp(self, src, dst, sport, dport, payload, link=None, ip_kw=None, **kw):
        return self.add_ip(net.udp_ip(src, dst, sport, dport, payload, **(ip_kw or {})), link=link, **kw)

    def dns_udp(self, src, dst, sport, dport, msg, link=None, **kw):
        """Send a DNS message over UDP; a response's facts go into the truth."""
        n = self.udp(src, dst, sport, dport, msg.encode(), link=link, **kw)
        if msg.qr:
            self.truth_response(n, msg)
        return n

    def exchange(self, client, server, query, response, cport=None, sport=53, link=None, rtt_us=None):
        """A UDP query and its response; returns the response frame number."""
        cport = cport or self.rng.randint(20000, 60000)
        self.dns_udp(client, server, cport, sport, query, link=link)
        return self.dns_udp(server, client, sport, cport, response, link=link,
                            dt_us=rtt_us or self.rng.randint(2000, 30000))

    # ------------------------------------------------------------ truth
    def truth_response(self, packet, msg, file=None):
        """Record the facts of response msg, completed by frame `packet`."""
        check_roundtrip(msg)
        base = {"file": file, "packet": packet, "qname": msg.qname if msg.questions else "-",
                "qtype": msg.qtype if msg.questions else "-", "rcode": msg.rcode}
        recs = [r for r in msg.records]
        if not recs:
            self.truth.append(dict(base, section="none", owner="-", type="-", ttl="-", data="-"))
        for r in recs:
            self.truth.append(dict(base, section=r.section, owner=r.name, type=r.type_text, ttl=r.ttl,
                                   data=r.data))

    def truth_noanswer(self, packet, reason, qname="-", file=None):
        """Frame `packet` must not produce a DNS response event with records
        (malformed message, or a duplicate the sensor must suppress)."""
        self.truth.append({"file": file, "packet": packet, "qname": qname, "qtype": "-", "rcode": "-",
                           "section": "noanswer", "owner": "-", "type": "-", "ttl": "-",
                           "data": reason})

    # ------------------------------------------------------------ output
    def render(self, fname):
        opts = self.output_opts.get(fname, {})
        if fname.endswith(".pcapng"):
            return pcapng_bytes(self.frames, self.interfaces or [{"linktype": self.linktype}])
        return pcap_bytes(self.frames, self.linktype, nano=opts.get("nano", False),
                          big_endian=opts.get("big_endian", False))

    def truth_rows(self):
        rows = []
        for fname in self.outputs:
            for r in self.truth:
                if r["file"] in (None, fname):
                    rows.append(dict(r, file=fname))
        return rows

    def truth_tsv(self):
        cols = self.truth_columns
        lines = ["\t".join(cols)]
        for r in self.truth_rows():
            lines.append("\t".join(_tsv_field(r[c]) for c in cols))
        return "\n".join(lines) + "\n"

    def write(self, outdir, golden_dir=None):
        written = []
        for fname in self.outputs:
            path = os.path.join(outdir, fname)
            with open(path, "wb") as f:
                f.write(self.render(fname))
            written.append(path)
        tsv = self.truth_tsv()
        for d in [outdir] + ([golden_dir] if golden_dir else []):
            p = os.path.join(d, self.name + (".truth.tsv" if d == outdir else ".tsv"))
            with open(p, "w") as f:
                f.write(tsv)
            written.append(p)
        return written


def check_roundtrip(msg):
    """Decode what we encode and compare with the text we were given: a typo
    in a scenario (or an encoder bug) fails generation instead of producing
    a capture whose truth is wrong."""
    got = dnsmod.decode(msg.encode())
    order = {"answer": 0, "authority": 1, "additional": 2}
    recs = sorted(msg.records, key=lambda r: order[r.section])
    if len(recs) != len(got["records"]):
        raise ValueError("record count does not round-trip")
    for r, h in zip(recs, got["records"]):
        if r.raw_rdata is not None:
            continue
        w = (r.section, r.name, r.type_text, r.ttl, r.data)
        h = (h["section"], h["name"], h["type"], h["ttl"], h["data"])
        if _canon(w) != _canon(h):
            raise ValueError("record does not round-trip:\n  wrote %r\n  reads %r" % (w, h))


def _canon(rec):
    sec, name, t, ttl, data = rec
    return (sec, name, t, ttl, canon_data(t, data))


BLOB_FIELDS = {"DNSKEY": 3, "CDNSKEY": 3, "RRSIG": 8, "DS": 3, "CDS": 3, "SSHFP": 2, "TLSA": 3}
CASELESS_TYPES = {"DS", "CDS", "SSHFP", "TLSA", "NSEC3", "NSEC3PARAM"}


def canon_data(rtype, data):
    """Canonical form of presentation rdata for comparison: whitespace
    collapsed, base64/hex blobs joined (dig splits them), hex-only types
    upper-cased, \\# generic data upper-cased, SVCB/HTTPS quotes dropped."""
    s = " ".join(data.split()) if '"' not in data or rtype in ("HTTPS", "SVCB") else data.strip()
    toks = s.split(" ") if '"' not in s else None
    if s.startswith("\\#"):
        parts = s.split()
        return " ".join(parts[:2] + ["".join(parts[2:]).upper()])
    if toks is not None and rtype in BLOB_FIELDS:
        k = BLOB_FIELDS[rtype]
        s = " ".join(toks[:k] + ["".join(toks[k:])])
    if rtype in CASELESS_TYPES:
        s = s.upper()
    if rtype in ("HTTPS", "SVCB"):
        s = s.replace('"', "")
    return s


class TcpSession:
    """One TCP connection between client and server, emitting frames into a
    Capture and remembering, per direction, which frame carried which bytes
    so the frame that completes a message can be computed (first copy of a
    byte wins, as in the sensor's reassembler)."""

    def __init__(self, cap, client, server, cport, sport=53, isn_c=None, isn_s=None, link=None, mss=1460):
        self.cap = cap
        self.ep = [(client, cport), (server, sport)]   # dir 0 = client->server
        r = cap.rng
        self.isn = [isn_c if isn_c is not None else r.randint(1, 2**32 - 1),
                    isn_s if isn_s is not None else r.randint(1, 2**32 - 1)]
        self.next = [0, 0]       # next stream offset to send per direction
        self.link = link
        self.mss = mss
        self.log = [[], []]      # per dir: (frame_no or None if not captured, start, end)
        self.syn_seen = False

    def _seq(self, d, off):
        return (self.isn[d] + 1 + off) & 0xFFFFFFFF

    def _emit(self, d, flags, payload=b"", seq=None, captured=True, dt_us=None, options=b""):
        (s, sp), (t, tp) = self.ep[d], self.ep[1 - d]
        if seq is None:
            seq = self._seq(d, self.next[d])
        ack = self._seq(1 - d, self.next[1 - d])
        pkt = net.ip_packet(s, t, net.IPPROTO_TCP,
                            net.tcp(s, t, sp, tp, seq, ack if flags & net.TH_ACK else 0, flags, payload,
                                    options=options))
        if not captured:
            self.cap.tick(dt_us)
            return None
        return self.cap.add_ip(pkt, link=self.link, dt_us=dt_us)

    def handshake(self, capture_syn=True, capture_synack=True):
        o = net.tcp_opt_mss(self.mss) + net.tcp_opt_sack_perm() + net.tcp_opt_wscale(7)
        (c, cp), (s, sp) = self.ep
        for d, flags, cap_it in ((0, net.TH_SYN, capture_syn), (1, net.TH_SYN | net.TH_ACK, capture_synack)):
            (a, ap), (b, bp) = self.ep[d], self.ep[1 - d]
            ack = (self.isn[0] + 1) if d == 1 else 0
            pkt = net.ip_packet(a, b, net.IPPROTO_TCP,
                                net.tcp(a, b, ap, bp, self.isn[d], ack, flags, options=o))
            if cap_it:
                self.cap.add_ip(pkt, link=self.link)
                self.syn_seen = True
            else:
                self.cap.tick()
        self.ack(0)

    def ack(self, d, dt_us=None):
        return self._emit(d, net.TH_ACK, dt_us=dt_us)

    def segments(self, d, data, mss=None):
        """Cut data (next bytes of direction d) into (offset, bytes) at mss."""
        mss = mss or self.mss
        base = self.next[d]
        self.next[d] += len(data)
        return [(base + i, data[i:i + mss]) for i in range(0, len(data), mss)]

    def send_segments(self, d, segs, order=None, dup=(), drop=(), altered=None, dt_us=None):
        """Emit segments of direction d. order: permutation of indices (default
        in order); dup: indices emitted twice in a row (an exact copy); drop:
        indices not captured at first and retransmitted (captured) at the end;
        altered: {index: bytes} retransmissions of those segments with
        different bytes of the same length, emitted after all the others
        (the first copy wins, so the truth keeps the original bytes).
        Returns the list of frame numbers emitted."""
        order = list(range(len(segs))) if order is None else list(order)
        frames = []
        for i in order:
            off, data = segs[i]
            cap_it = i not in drop
            n = self._emit(d, net.TH_ACK | net.TH_PSH, data, seq=self._seq(d, off), captured=cap_it,
                           dt_us=dt_us)
            self.log[d].append((n, off, off + len(data)))
            if n:
                frames.append(n)
            if i in dup and n:
                frames.append(self.cap.add_frame(self.cap.frames[n - 1].data, dt_us=30))
        for i in drop:
            off, data = segs[i]
            n = self._emit(d, net.TH_ACK | net.TH_PSH, data, seq=self._seq(d, off), dt_us=200000)
            self.log[d].append((n, off, off + len(data)))
            frames.append(n)
        for i, data in sorted((altered or {}).items()):
            off, orig = segs[i]
            if len(data) != len(orig) or data == orig:
                raise ValueError("an altered retransmission must differ and keep the length")
            n = self._emit(d, net.TH_ACK | net.TH_PSH, data, seq=self._seq(d, off), dt_us=150000)
            frames.append(n)          # not logged: its bytes never win
        return frames

    def send(self, d, data, mss=None, **kw):
        return self.send_segments(d, self.segments(d, data, mss), **kw)

    def completion_frame(self, d, end, start=0):
        """Frame number at which bytes [start, end) of direction d are all
        captured (counting only frames captured; a byte's first capture)."""
        have = []
        for n, a, b in sorted((x for x in self.log[d] if x[0]), key=lambda x: x[0]):
            have.append((a, b))
            cov = start
            for a2, b2 in sorted(have):
                if a2 <= cov < b2:
                    cov = b2
                elif a2 > cov:
                    break
            if cov >= end:
                return n
        raise ValueError("bytes %d..%d of dir %d never complete" % (start, end, d))

    def send_dns(self, d, msgs, mss=None, **kw):
        """Send DNS messages (each with its length prefix) as one byte run cut
        at mss; responses' facts go into the truth with the frame that
        completes each. Returns the frame numbers emitted."""
        starts = []
        blob = b""
        base = self.next[d]
        for m in msgs:
            w = dnsmod.tcp_frame(m.encode())
            starts.append((base + len(blob), base + len(blob) + len(w)))
            blob += w
        frames = self.send(d, blob, mss=mss, **kw)
        for m, (a, b) in zip(msgs, starts):
            if m.qr:
                self.cap.truth_response(self.completion_frame(d, b, start=self._stream_start(d)), m)
        return frames

    def _stream_start(self, d):
        # Without a captured SYN the stream starts at the first captured byte.
        if self.syn_seen:
            return 0
        caps = [a for n, a, b in self.log[d] if n]
        return min(caps) if caps else 0

    def close(self, rst=False, from_dir=0):
        if rst:
            self._emit(from_dir, net.TH_RST | net.TH_ACK)
            return
        self._emit(from_dir, net.TH_FIN | net.TH_ACK)
        self.next[from_dir] += 1
        self._emit(1 - from_dir, net.TH_FIN | net.TH_ACK)
        self.next[1 - from_dir] += 1
        self._emit(from_dir, net.TH_ACK)
