# SPDX-License-Identifier: MIT
"""A small DNS message builder (and reader) for making test captures.

Records are written the way dig prints them (presentation format, no
trailing dots, "." for the root) and encoded from that text to wire form,
so the text a scenario writes is at the same time the input of the wire
encoder and the expected output of the sensor: the truth is written by hand,
never derived from the sensor. Names are compressed as RFC 1035 allows
(owner names, and the rdata names of the RFC 1035 types); the rdata names of
later types (SRV, NAPTR, RRSIG, NSEC, SVCB...) are not, as RFC 3597 s4 says.

decode() turns a message back into the same text form; the generator uses
it to check every message it writes round-trips to the text it was given.
"""

import base64
import calendar
import ipaddress
import struct
import time

CLASSES = {"IN": 1, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
CLASS_NAMES = {v: k for k, v in CLASSES.items()}

TYPES = {
    "A": 1, "NS": 2, "MD": 3, "MF": 4, "CNAME": 5, "SOA": 6, "MB": 7, "MG": 8, "MR": 9, "NULL": 10,
    "WKS": 11, "PTR": 12, "HINFO": 13, "MINFO": 14, "MX": 15, "TXT": 16, "RP": 17, "AFSDB": 18,
    "SIG": 24, "KEY": 25, "AAAA": 28, "LOC": 29, "SRV": 33, "NAPTR": 35, "KX": 36, "CERT": 37,
    "DNAME": 39, "OPT": 41, "APL": 42, "DS": 43, "SSHFP": 44, "IPSECKEY": 45, "RRSIG": 46,
    "NSEC": 47, "DNSKEY": 48, "DHCID": 49, "NSEC3": 50, "NSEC3PARAM": 51, "TLSA": 52,
    "SMIMEA": 53, "HIP": 55, "CDS": 59, "CDNSKEY": 60, "OPENPGPKEY": 61, "CSYNC": 62,
    "ZONEMD": 63, "SVCB": 64, "HTTPS": 65, "SPF": 99, "EUI48": 108, "EUI64": 109, "TKEY": 249,
    "TSIG": 250, "IXFR": 251, "AXFR": 252, "ANY": 255, "URI": 256, "CAA": 257,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}

RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5,
          "YXDOMAIN": 6, "YXRRSET": 7, "NXRRSET": 8, "NOTAUTH": 9, "NOTZONE": 10}
RCODE_NAMES = {v: k for k, v in RCODES.items()}
OPCODES = {"QUERY": 0, "IQUERY": 1, "STATUS": 2, "NOTIFY": 4, "UPDATE": 5, "DSO": 6}

SVC_KEYS = {"mandatory": 0, "alpn": 1, "no-default-alpn": 2, "port": 3, "ipv4hint": 4, "ech": 5,
            "ipv6hint": 6}
SVC_KEY_NAMES = {v: k for k, v in SVC_KEYS.items()}

# types whose rdata names may be compressed (RFC 3597 s4: the RFC 1035 ones)
_COMPRESS_RDATA = {"NS", "CNAME", "PTR", "MX", "SOA", "MB", "MG", "MR", "MINFO", "MD", "MF"}


def type_code(t):
    if isinstance(t, int):
        return t
    t = t.upper()
    if t in TYPES:
        return TYPES[t]
    if t.startswith("TYPE"):
        return int(t[4:])
    raise ValueError("unknown type " + t)


def type_name(code):
    return TYPE_NAMES.get(code, "TYPE%d" % code)


def class_code(c):
    if isinstance(c, int):
        return c
    if c.upper().startswith("CLASS"):
        return int(c[5:])
    return CLASSES[c.upper()]


# ---------------------------------------------------------------- names

def name_labels(text):
    """Presentation name -> list of label bytes (\\DDD and \\X escapes)."""
    if text in (".", ""):
        return []
    if text.endswith(".") and not text.endswith("\\."):
        text = text[:-1]
    labels, cur, i = [], bytearray(), 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                cur.append(int(text[i + 1:i + 4]))
                i += 4
                continue
            cur.append(ord(text[i + 1]))
            i += 2
            continue
        if c == ".":
            labels.append(bytes(cur))
            cur = bytearray()
        else:
            cur.append(ord(c))
        i += 1
    labels.append(bytes(cur))
    return labels


_NAME_SAFE = set(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_*-")


def labels_text(labels):
    """Label bytes -> presentation text as bindwatch and dig print it: bytes
    outside [0-9A-Za-z_*-] as \\DDD, '.' and '\\' as \\. and \\\\."""
    if not labels:
        return "."
    out = []
    for lab in labels:
        s = ""
        for b in lab:
            if b in _NAME_SAFE:
                s += chr(b)
            elif b in (0x2E, 0x5C):
                s += "\\" + chr(b)
            else:
                s += "\\%03d" % b
        out.append(s)
    return ".".join(out)


def name_wire(text):
    out = b""
    for lab in name_labels(text):
        if len(lab) > 63:
            raise ValueError("label too long in " + text)
        out += bytes([len(lab)]) + lab
    return out + b"\0"


# ---------------------------------------------------------------- tokens

def tokenize(text):
    """Split rdata text into tokens: (value, quoted). Quoted tokens are bytes
    with escapes resolved; unquoted ones are str kept verbatim."""
    toks, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == '"':
            i += 1
            buf = bytearray()
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                        buf.append(int(text[i + 1:i + 4]))
                        i += 4
                        continue
                    buf += text[i + 1].encode("latin-1")
                    i += 2
                    continue
                buf += text[i].encode("latin-1")
                i += 1
            i += 1
            toks.append((bytes(buf), True))
        else:
            j = i
            while j < n and not text[j].isspace():
                if text[j] == "\\":
                    j += 1
                j += 1
            toks.append((text[i:j], False))
            i = j
    return toks


def _charstring(tok):
    v, quoted = tok
    if quoted:
        return v
    return b"".join(name_labels(v.replace(".", "\\.")))  # resolve escapes only


def charstring_text(b):
    """A character-string as dig prints it: quoted, \\" and \\\\ escaped, bytes
    outside printable ASCII as \\DDD."""
    s = ""
    for c in b:
        if c in (0x22, 0x5C):
            s += "\\" + chr(c)
        elif 0x20 <= c < 0x7F:
            s += chr(c)
        else:
            s += "\\%03d" % c
    return '"' + s + '"'


# ---------------------------------------------------------------- encoder

class _Enc:
    def __init__(self, compress=True):
        self.buf = bytearray()
        self.table = {}
        self.compress = compress

    def name(self, text, compress=True):
        labels = name_labels(text)
        for i in range(len(labels)):
            key = tuple(l.lower() for l in labels[i:])
            if compress and self.compress and key in self.table:
                self.buf += struct.pack("!H", 0xC000 | self.table[key])
                return
            if len(self.buf) < 0x3FFF:
                self.table.setdefault(key, len(self.buf))
            self.buf += bytes([len(labels[i])]) + labels[i]
        self.buf.append(0)

    def u8(self, v):
        self.buf += struct.pack("!B", int(v))

    def u16(self, v):
        self.buf += struct.pack("!H", int(v))

    def u32(self, v):
        self.buf += struct.pack("!I", int(v))

    def raw(self, b):
        self.buf += b


def _hex(s):
    return bytes.fromhex(s)


def _b64(s):
    return base64.b64decode(s)


def _dnstime(s):
    if len(s) == 14 and s.isdigit():
        return calendar.timegm(time.strptime(s, "%Y%m%d%H%M%S"))
    return int(s)


def dnstime_text(v):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(v))


def type_bitmap(names):
    codes = sorted(type_code(t) for t in names)
    windows = {}
    for c in codes:
        windows.setdefault(c >> 8, set()).add(c & 0xFF)
    out = b""
    for w in sorted(windows):
        bits = windows[w]
        length = max(bits) // 8 + 1
        bm = bytearray(length)
        for b in bits:
            bm[b // 8] |= 0x80 >> (b % 8)
        out += bytes([w, length]) + bytes(bm)
    return out


def _svc_params(e, toks):
    params = []
    for v, _q in toks:
        if "=" in v:
            k, val = v.split("=", 1)
        else:
            k, val = v, ""
        val = val.strip('"')
        code = SVC_KEYS[k] if k in SVC_KEYS else int(k[3:])
        if code == 0:
            data = b"".join(struct.pack("!H", SVC_KEYS.get(x) if x in SVC_KEYS else int(x[3:]))
                            for x in val.split(","))
        elif code == 1:
            data = b"".join(bytes([len(x)]) + x.encode() for x in val.split(","))
        elif code == 2:
            data = b""
        elif code == 3:
            data = struct.pack("!H", int(val))
        elif code == 4:
            data = b"".join(ipaddress.IPv4Address(x).packed for x in val.split(","))
        elif code == 5:
            data = _b64(val)
        elif code == 6:
            data = b"".join(ipaddress.IPv6Address(x).packed for x in val.split(","))
        else:
            data = _charstring((val, False))
        params.append((code, data))
    for code, data in sorted(params):
        e.u16(code)
        e.u16(len(data))
        e.raw(data)


def encode_rdata(e, rtype, text):
    """Append the wire rdata of `text` (presentation form) for type rtype."""
    t = type_name(type_code(rtype))
    toks = tokenize(text)
    vals = [v if not q else v for v, q in toks]
    if vals and vals[0] == "\\#":
        e.raw(_hex("".join(vals[2:])))
        if int(vals[1]) != len(_hex("".join(vals[2:]))):
            raise ValueError("\\# length mismatch in " + text)
        return
    comp = t in _COMPRESS_RDATA
    if t == "A":
        e.raw(ipaddress.IPv4Address(vals[0]).packed)
    elif t == "AAAA":
        e.raw(ipaddress.IPv6Address(vals[0]).packed)
    elif t in ("NS", "CNAME", "PTR", "DNAME", "MB", "MG", "MR", "MD", "MF"):
        e.name(vals[0], comp)
    elif t == "MX":
        e.u16(vals[0])
        e.name(vals[1], comp)
    elif t == "SOA":
        e.name(vals[0], comp)
        e.name(vals[1], comp)
        for v in vals[2:7]:
            e.u32(v)
    elif t in ("TXT", "SPF"):
        for tok in toks:
            s = _charstring(tok)
            e.u8(len(s))
            e.raw(s)
    elif t == "HINFO":
        for tok in toks[:2]:
            s = _charstring(tok)
            e.u8(len(s))
            e.raw(s)
    elif t == "SRV":
        e.u16(vals[0])
        e.u16(vals[1])
        e.u16(vals[2])
        e.name(vals[3], False)
    elif t == "NAPTR":
        e.u16(vals[0])
        e.u16(vals[1])
        for tok in toks[2:5]:
            s = _charstring(tok)
            e.u8(len(s))
            e.raw(s)
        e.name(vals[5], False)
    elif t == "CAA":
        e.u8(vals[0])
        tag = vals[1].encode()
        e.u8(len(tag))
        e.raw(tag)
        e.raw(_charstring(toks[2]))
    elif t in ("DS", "CDS"):
        e.u16(vals[0])
        e.u8(vals[1])
        e.u8(vals[2])
        e.raw(_hex("".join(vals[3:])))
    elif t == "SSHFP":
        e.u8(vals[0])
        e.u8(vals[1])
        e.raw(_hex("".join(vals[2:])))
    elif t in ("TLSA", "SMIMEA"):
        e.u8(vals[0])
        e.u8(vals[1])
        e.u8(vals[2])
        e.raw(_hex("".join(vals[3:])))
    elif t in ("DNSKEY", "CDNSKEY"):
        e.u16(vals[0])
        e.u8(vals[1])
        e.u8(vals[2])
        e.raw(_b64("".join(vals[3:])))
    elif t == "RRSIG":
        e.u16(type_code(vals[0]))
        e.u8(vals[1])
        e.u8(vals[2])
        e.u32(vals[3])
        e.u32(_dnstime(vals[4]))
        e.u32(_dnstime(vals[5]))
        e.u16(vals[6])
        e.name(vals[7], False)
        e.raw(_b64("".join(vals[8:])))
    elif t == "NSEC":
        e.name(vals[0], False)
        e.raw(type_bitmap(vals[1:]))
    elif t == "NSEC3":
        e.u8(vals[0])
        e.u8(vals[1])
        e.u16(vals[2])
        salt = b"" if vals[3] == "-" else _hex(vals[3])
        e.u8(len(salt))
        e.raw(salt)
        h = base64.b32hexdecode(vals[4].upper() + "=" * (-len(vals[4]) % 8))
        e.u8(len(h))
        e.raw(h)
        e.raw(type_bitmap(vals[5:]))
    elif t == "NSEC3PARAM":
        e.u8(vals[0])
        e.u8(vals[1])
        e.u16(vals[2])
        salt = b"" if vals[3] == "-" else _hex(vals[3])
        e.u8(len(salt))
        e.raw(salt)
    elif t in ("SVCB", "HTTPS"):
        e.u16(vals[0])
        e.name(vals[1], False)
        _svc_params(e, [(v, q) for v, q in toks[2:]])
    else:
        raise ValueError("no presentation encoder for %s; write it as \\# LEN HEX" % t)


class RR:
    __slots__ = ("name", "ttl", "cls", "type", "data", "section", "raw_rdata")

    def __init__(self, name, ttl, rtype, data, cls="IN", section="answer", raw_rdata=None):
        self.name, self.ttl, self.type, self.data = name, int(ttl), rtype, data
        self.cls, self.section, self.raw_rdata = cls, section, raw_rdata

    @property
    def type_text(self):
        return type_name(type_code(self.type))


class Message:
    """A DNS message. Flags are keyword arguments; add questions and records,
    then encode(). The records keep the text they were given: it is the
    truth the capture's TSV reports."""

    def __init__(self, id=0, qr=False, opcode="QUERY", aa=False, tc=False, rd=True, ra=False, z=False,
                 ad=False, cd=False, rcode="NOERROR"):
        self.id = id
        self.qr, self.opcode, self.aa, self.tc, self.rd, self.ra = qr, opcode, aa, tc, rd, ra
        self.z, self.ad, self.cd, self.rcode = z, ad, cd, rcode
        self.questions = []
        self.records = []
        self.opt = None

    def question(self, name, qtype="A", qclass="IN"):
        self.questions.append((name, qtype, qclass))
        return self

    def _rr(self, section, name, ttl, rtype, data, cls="IN"):
        self.records.append(RR(name, ttl, rtype, data, cls, section))
        return self

    def answer(self, name, ttl, rtype, data, cls="IN"):
        return self._rr("answer", name, ttl, rtype, data, cls)

    def authority(self, name, ttl, rtype, data, cls="IN"):
        return self._rr("authority", name, ttl, rtype, data, cls)

    def additional(self, name, ttl, rtype, data, cls="IN"):
        return self._rr("additional", name, ttl, rtype, data, cls)

    def edns(self, udp_size=1232, do=False, version=0, ext_rcode=0, options=b""):
        self.opt = (udp_size, do, version, ext_rcode, options)
        return self

    def response(self, **kw):
        """A response to this query: same id, RD and question; kw sets flags."""
        r = Message(id=self.id, qr=True, opcode=self.opcode, rd=self.rd, ra=True, **kw)
        r.questions = list(self.questions)
        return r

    @property
    def qname(self):
        return self.questions[0][0] if self.questions else None

    @property
    def qtype(self):
        return type_name(type_code(self.questions[0][1])) if self.questions else None

    def flags(self):
        return ((0x8000 if self.qr else 0) | (OPCODES[self.opcode] << 11) | (0x400 if self.aa else 0) |
                (0x200 if self.tc else 0) | (0x100 if self.rd else 0) | (0x80 if self.ra else 0) |
                (0x40 if self.z else 0) | (0x20 if self.ad else 0) | (0x10 if self.cd else 0) |
                (RCODES[self.rcode] & 0xF))

    def encode(self, compress=True):
        e = _Enc(compress)
        secs = [[r for r in self.records if r.section == s] for s in ("answer", "authority", "additional")]
        ar = len(secs[2]) + (1 if self.opt else 0)
        e.raw(struct.pack("!HHHHHH", self.id, self.flags(), len(self.questions), len(secs[0]),
                          len(secs[1]), ar))
        for name, qt, qc in self.questions:
            e.name(name)
            e.u16(type_code(qt))
            e.u16(class_code(qc))
        for sec in secs:
            for r in sec:
                e.name(r.name)
                e.u16(type_code(r.type))
                e.u16(class_code(r.cls))
                e.u32(r.ttl)
                at = len(e.buf)
                e.u16(0)
                if r.raw_rdata is not None:
                    e.raw(r.raw_rdata)
                else:
                    encode_rdata(e, r.type, r.data)
                e.buf[at:at + 2] = struct.pack("!H", len(e.buf) - at - 2)
        if self.opt:
            size, do, ver, ext, opts = self.opt
            e.u8(0)
            e.u16(41)
            e.u16(size)
            e.u32((ext << 24) | (ver << 16) | (0x8000 if do else 0))
            e.u16(len(opts))
            e.raw(opts)
        return bytes(e.buf)


def tcp_frame(wire):
    """DNS over TCP: the 2-byte length prefix (RFC 1035 s4.2.2)."""
    return struct.pack("!H", len(wire)) + wire


# ---------------------------------------------------------------- decoder

class DecodeError(Exception):
    pass


class _Dec:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def need(self, n):
        if self.pos + n > len(self.b):
            raise DecodeError("truncated")

    def u8(self):
        self.need(1)
        self.pos += 1
        return self.b[self.pos - 1]

    def u16(self):
        self.need(2)
        self.pos += 2
        return struct.unpack("!H", self.b[self.pos - 2:self.pos])[0]

    def u32(self):
        self.need(4)
        self.pos += 4
        return struct.unpack("!I", self.b[self.pos - 4:self.pos])[0]

    def take(self, n):
        self.need(n)
        self.pos += n
        return self.b[self.pos - n:self.pos]

    def name(self):
        labels, pos, jumped, end, total = [], self.pos, False, None, 0
        for _ in range(256):
            if pos >= len(self.b):
                raise DecodeError("truncated name")
            ln = self.b[pos]
            if ln >= 0xC0:
                if pos + 1 >= len(self.b):
                    raise DecodeError("truncated pointer")
                ptr = ((ln & 0x3F) << 8) | self.b[pos + 1]
                if ptr >= pos:
                    raise DecodeError("forward pointer")
                if end is None:
                    end = pos + 2
                pos = ptr
                jumped = True
                continue
            if ln & 0xC0:
                raise DecodeError("bad label type")
            if ln == 0:
                if end is None:
                    end = pos + 1
                self.pos = end
                return labels_text(labels)
            labels.append(self.b[pos + 1:pos + 1 + ln])
            if pos + 1 + ln > len(self.b):
                raise DecodeError("truncated label")
            total += ln + 1
            if total > 254:
                raise DecodeError("name too long")
            pos += 1 + ln
        raise DecodeError("compression loop")


def _bitmap_text(b):
    out, i = [], 0
    while i < len(b):
        w, ln = b[i], b[i + 1]
        for j, byte in enumerate(b[i + 2:i + 2 + ln]):
            for k in range(8):
                if byte & (0x80 >> k):
                    out.append(type_name(w * 256 + j * 8 + k))
        i += 2 + ln
    return out


def _cstrings(d, end):
    out = []
    while d.pos < end:
        out.append(charstring_text(d.take(d.u8())))
    return out


def rdata_text(msg, off, rtype, rdlen):
    """Presentation text of the rdata at msg[off:off+rdlen] (dig style, one
    line, no base64/hex splitting)."""
    d = _Dec(msg)
    d.pos = off
    end = off + rdlen
    t = type_name(rtype)
    rd = msg[off:end]
    try:
        if t == "A" and rdlen == 4:
            return str(ipaddress.IPv4Address(rd))
        if t == "AAAA" and rdlen == 16:
            return str(ipaddress.IPv6Address(rd))
        if t in ("NS", "CNAME", "PTR", "DNAME"):
            return d.name()
        if t == "MX":
            return "%d %s" % (d.u16(), d.name())
        if t == "SOA":
            return "%s %s %d %d %d %d %d" % (d.name(), d.name(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32())
        if t in ("TXT", "SPF", "HINFO"):
            return " ".join(_cstrings(d, end))
        if t == "SRV":
            return "%d %d %d %s" % (d.u16(), d.u16(), d.u16(), d.name())
        if t == "NAPTR":
            o, p = d.u16(), d.u16()
            cs = [charstring_text(d.take(d.u8())) for _ in range(3)]
            return "%d %d %s %s" % (o, p, " ".join(cs), d.name())
        if t == "CAA":
            fl = d.u8()
            tag = d.take(d.u8()).decode("latin-1")
            return "%d %s %s" % (fl, tag, charstring_text(d.take(end - d.pos)))
        if t in ("DS", "CDS"):
            return "%d %d %d %s" % (d.u16(), d.u8(), d.u8(), d.take(end - d.pos).hex().upper())
        if t == "SSHFP":
            return "%d %d %s" % (d.u8(), d.u8(), d.take(end - d.pos).hex().upper())
        if t == "TLSA":
            return "%d %d %d %s" % (d.u8(), d.u8(), d.u8(), d.take(end - d.pos).hex().upper())
        if t in ("DNSKEY", "CDNSKEY"):
            return "%d %d %d %s" % (d.u16(), d.u8(), d.u8(), base64.b64encode(d.take(end - d.pos)).decode())
        if t == "RRSIG":
            tc, alg, lab, ottl = d.u16(), d.u8(), d.u8(), d.u32()
            exp, inc, tag = d.u32(), d.u32(), d.u16()
            signer = d.name()
            return "%s %d %d %d %s %s %d %s %s" % (type_name(tc), alg, lab, ottl, dnstime_text(exp),
                                                   dnstime_text(inc), tag, signer,
                                                   base64.b64encode(d.take(end - d.pos)).decode())
        if t == "NSEC":
            nxt = d.name()
            return " ".join([nxt] + _bitmap_text(d.take(end - d.pos)))
        if t == "NSEC3":
            alg, fl, it = d.u8(), d.u8(), d.u16()
            salt = d.take(d.u8())
            h = d.take(d.u8())
            bm = _bitmap_text(d.take(end - d.pos))
            return " ".join(["%d %d %d %s %s" % (alg, fl, it, salt.hex().upper() or "-",
                                                 base64.b32hexencode(h).decode().rstrip("="))] + bm)
        if t == "NSEC3PARAM":
            alg, fl, it = d.u8(), d.u8(), d.u16()
            salt = d.take(d.u8())
            return "%d %d %d %s" % (alg, fl, it, salt.hex().upper() or "-")
        if t in ("SVCB", "HTTPS"):
            pri = d.u16()
            target = d.name()
            parts = ["%d %s" % (pri, target)]
            while d.pos < end:
                k, ln = d.u16(), d.u16()
                v = d.take(ln)
                kn = SVC_KEY_NAMES.get(k, "key%d" % k)
                if k == 0:
                    parts.append("mandatory=" + ",".join(SVC_KEY_NAMES.get(x, "key%d" % x) for x in
                                                         struct.unpack("!%dH" % (ln // 2), v)))
                elif k == 1:
                    al, i = [], 0
                    while i < len(v):
                        al.append(v[i + 1:i + 1 + v[i]].decode("latin-1"))
                        i += 1 + v[i]
                    parts.append('alpn="%s"' % ",".join(al))
                elif k == 2:
                    parts.append("no-default-alpn")
                elif k == 3:
                    parts.append("port=%d" % struct.unpack("!H", v)[0])
                elif k == 4:
                    parts.append("ipv4hint=" + ",".join(str(ipaddress.IPv4Address(v[i:i + 4]))
                                                        for i in range(0, ln, 4)))
                elif k == 5:
                    parts.append("ech=" + base64.b64encode(v).decode())
                elif k == 6:
                    parts.append("ipv6hint=" + ",".join(str(ipaddress.IPv6Address(v[i:i + 16]))
                                                        for i in range(0, ln, 16)))
                else:
                    parts.append("%s=%s" % (kn, charstring_text(v)))
            return " ".join(parts)
    except (DecodeError, struct.error, IndexError):
        pass
    return "\\# %d %s" % (rdlen, rd.hex().upper()) if rdlen else "\\# 0"


def decode(wire):
    """Parse a message into a dict (id, flags, rcode, questions, records with
    presentation rdata). Raises DecodeError on malformed input."""
    d = _Dec(wire)
    mid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", d.take(12))
    out = {"id": mid, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 0xF, "rcode": flags & 0xF,
           "questions": [], "records": [], "opt": None}
    for _ in range(qd):
        n = d.name()
        out["questions"].append((n, type_name(d.u16()), d.u16()))
    for sec, cnt in (("answer", an), ("authority", ns), ("additional", ar)):
        for _ in range(cnt):
            n = d.name()
            t, c, ttl, ln = d.u16(), d.u16(), d.u32(), d.u16()
            d.need(ln)
            if t == 41:
                out["opt"] = {"udp_size": c, "ext_rcode": ttl >> 24, "version": (ttl >> 16) & 0xFF,
                              "do": bool(ttl & 0x8000)}
                out["rcode"] |= (ttl >> 24) << 4
                d.pos += ln
                continue
            out["records"].append({"section": sec, "name": n, "type": type_name(t), "class": c,
                                   "ttl": ttl, "data": rdata_text(wire, d.pos, t, ln)})
            d.pos += ln
    return out


def rcode_name(code):
    return RCODE_NAMES.get(code, "RCODE%d" % code)
