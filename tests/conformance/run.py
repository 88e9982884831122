#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Conformance harness: bindwatch against other analysers' expectations.

Runs bindwatch once per capture in shared/pcaps/external/ (one process per
capture, so a crash is pinned on one file), collects its JSON-lines DNS
events, and checks every `dns_answer` and `dns_rcode` row of EXPECTED.tsv:

  dns_answer  key = the question name, value = the peer's rendering of one
              record's data. Found when some response to that question has a
              record that, rendered in that peer's style (see PEERS), equals
              the value (case-insensitive, trailing dots stripped).
  dns_rcode   found when some response to that question has that rcode.

A row neither found nor listed in KNOWN_DIFFS.md (with a reason: the peer is
provably wrong, or the row is out of scope) is a failure. Prints one score
line per kind, the misses with what bindwatch had for that question, and
"conformance: N passed, N failed"; exits 1 when anything failed.

--ldns-diff PROG also runs bindwatch with --dns-raw and pipes every DNS
message as "label<TAB>hex" lines into PROG (a differential checker against
ldns); its exit status counts as one more check.

Everything that knows the shape of bindwatch's events is in the Event class
below; adapt there if the format changes.
"""

import argparse
import concurrent.futures
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tools"))
from pcapgen.dns import TYPES, tokenize  # noqa: E402  (the presentation-format tokenizer)

KINDS = ("dns_answer", "dns_rcode")
CAPTURE_EXT = (".pcap", ".pcapng", ".cap")


# ====================================================================== events
# The one place that knows bindwatch's JSON-lines event shape.

class Rec:
    __slots__ = ("section", "name", "type", "ttl", "data")

    def __init__(self, section, name, rtype, ttl, data):
        self.section, self.name, self.type, self.ttl, self.data = section, name, rtype, ttl, data

    def __repr__(self):
        return "%s %s %s %s %s" % (self.section, self.name, self.ttl, self.type, self.data)


class Event:
    SECTIONS = (("answer", "answers"), ("authority", "authorities"), ("additional", "additionals"))

    def __init__(self, obj):
        self.obj = obj
        self.dns = obj.get("dns") or {}
        self.bw = obj.get("bindwatch") or {}

    @staticmethod
    def _get(d, *path, default=None):
        for p in path:
            if not isinstance(d, dict) or p not in d:
                return default
            d = d[p]
        return d

    @property
    def is_dns(self):
        ds = self._get(self.obj, "event", "dataset", default="")
        return ds == "bindwatch.dns" or (not ds and bool(self.dns))

    @property
    def is_response(self):
        t = self.dns.get("type")
        if t is not None:
            return t in ("answer", "response")
        return "QR" in (self.dns.get("header_flags") or [])

    @property
    def file(self):
        return self._get(self.bw, "pcap", "file")

    @property
    def packet(self):
        p = self._get(self.bw, "pcap", "packet")
        try:
            return int(p)
        except (TypeError, ValueError):
            return None

    @property
    def qname(self):
        """Question name in presentation form, or None without a question."""
        q = self.dns.get("question")
        if isinstance(q, list):
            q = q[0] if q else None
        return q.get("name") if isinstance(q, dict) else None

    @property
    def qtype(self):
        q = self.dns.get("question")
        if isinstance(q, list):
            q = q[0] if q else None
        return q.get("type") if isinstance(q, dict) else None

    @property
    def rcode(self):
        return self.dns.get("response_code")

    def records(self, sections=("answer", "authority", "additional")):
        out = []
        for sec, key in self.SECTIONS:
            if sec not in sections:
                continue
            for r in self.dns.get(key) or []:
                if isinstance(r, dict) and r.get("type") != "OPT":
                    out.append(Rec(sec, r.get("name", ""), str(r.get("type", "")), r.get("ttl"),
                                   str(r.get("data", ""))))
        return out

    @property
    def raw(self):
        return self._get(self.bw, "dns", "raw")


def parse_events(text):
    """JSON lines -> (list of DNS Events, count of unparsable lines)."""
    evs, bad = [], 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(obj, dict):
            ev = Event(obj)
            if ev.is_dns:
                evs.append(ev)
    return evs, bad


class Run:
    """One bindwatch process over one capture."""

    def __init__(self, capture):
        self.capture = capture
        self.events = []
        self.bad_lines = 0
        self.rc = None
        self.stderr = ""
        self.error = None

    @property
    def crashed(self):
        return self.error is not None or (self.rc is not None and self.rc < 0)


def run_bindwatch(bw, capture, extra, timeout):
    r = Run(capture.name)
    cmd = [bw, "-r", str(capture), "-o", "jsonl:-"] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        r.error = "timed out after %ds" % timeout
        return r
    except OSError as e:
        r.error = "cannot run %s: %s" % (bw, e)
        return r
    r.rc = p.returncode
    r.stderr = p.stderr.decode("utf-8", "replace")[-2000:]
    r.events, r.bad_lines = parse_events(p.stdout.decode("utf-8", "replace"))
    return r


def load_events_file(path, capture_name):
    r = Run(capture_name)
    try:
        r.events, r.bad_lines = parse_events(Path(path).read_text(encoding="utf-8", errors="replace"))
        r.rc = 0
    except OSError as e:
        r.error = str(e)
    return r


# ====================================================================== names

WILDCARD_KEYS = {"", "*", "-", "(query name not printed by peer)"}


def name_bytes(text):
    """Presentation name -> the label text with \\DDD / \\X escapes resolved
    (one character per octet, latin-1), no trailing dot, folded."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                out.append(chr(int(text[i + 1:i + 4])))
                i += 4
                continue
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    s = "".join(out)
    if len(s) > 1 and s.endswith("."):
        s = s[:-1]
    return s.lower()


def norm_key(key):
    k = key.strip()
    if k.lower() in ("<root>", "."):
        return "."
    if len(k) > 1 and k.endswith("."):
        k = k[:-1]
    return k.lower()


def key_matches(key, qname):
    """Does the peer's key name the question qname (our presentation form)?"""
    if key.strip() in WILDCARD_KEYS:
        return True
    if qname is None:
        return False
    k = norm_key(key)
    ours = qname.lower().rstrip(".") or "." if qname != "." else "."
    if k == ours:
        return True
    raw = name_bytes(qname) if qname != "." else "."
    if k == raw:
        return True
    # peers that print unprintable octets as '?' (nDPI): one '?' per octet
    if "?" in k and len(k) == len(raw):
        return all(a == b or a == "?" for a, b in zip(k, raw))
    # peers that print raw UTF-8
    try:
        return k == raw.encode("latin-1").decode("utf-8").lower()
    except (UnicodeDecodeError, UnicodeEncodeError):
        return False


def norm_value(v):
    toks = v.split()
    toks = [t[:-1] if len(t) > 1 and t.endswith(".") and not t.endswith("\\.") else t for t in toks]
    return " ".join(toks).casefold()


# ====================================================================== rdata

def strings_of(data):
    """The character-strings of TXT-like presentation data, as bytes."""
    return [v if q else v.encode("latin-1") for v, q in tokenize(data)]


def generic_bytes(data):
    """RFC 3597 '\\# LEN HEX' -> bytes, else None."""
    toks = data.split()
    if len(toks) >= 2 and toks[0] == "\\#":
        try:
            return bytes.fromhex("".join(toks[2:]))
        except ValueError:
            return None
    return None


def esc_x(b, keep_ctl=False):
    """Bytes -> text: printable ASCII as is, others as \\xNN (zeek, suricata)."""
    out = ""
    for c in b:
        if 0x20 <= c < 0x7F or (keep_ctl and c < 0x20):
            out += chr(c)
        else:
            out += "\\x%02x" % c
    return out


def type_number(t):
    t = t.upper()
    if t in TYPES:
        return TYPES[t]
    if t.startswith("TYPE") and t[4:].isdigit():
        return int(t[4:])
    return None


def fields(rec):
    toks = rec.data.split()
    return toks


def _svcb_plain(data):
    return data.replace('"', "")


# ---------------------------------------------------------------- per peer
# Each renderer returns the set of strings that peer would print for a record.

def render_zeek(rec):
    t, f, out = rec.type.upper(), fields(rec), set()
    try:
        if t in ("TXT", "SPF"):
            out.add(" ".join("%s %d %s" % (t, len(s), esc_x(s)) for s in strings_of(rec.data)))
        elif t == "MX":
            out.add(f[1])
        elif t == "SOA":
            out.add(f[0])
        elif t == "SRV":
            out.add(f[3])
        elif t == "CAA":
            v = strings_of(" ".join(f[2:]))
            out.add("CAA %s %s %s" % (f[0], f[1], esc_x(v[0]) if v else ""))
        elif t == "NAPTR":
            toks = tokenize(rec.data)
            flags, svc, regexp = (esc_x(v if q else v.encode()) for v, q in toks[2:5])
            repl = toks[5][0] if toks[5][0] != "." else ""
            tail = " ".join(x for x in (regexp, repl) if x)
            out.add("NAPTR %s %s %s %s %s" % (f[0], f[1], flags, svc, tail))
        elif t == "SSHFP":
            out.add("SSHFP: " + "".join(f[2:]).lower())
        elif t == "RRSIG":
            n = type_number(f[0])
            out.add("RRSIG %s %s" % (n if n is not None else f[0], "<Root>" if f[7] == "." else f[7]))
        elif t in ("DNSKEY", "CDNSKEY"):
            out.add("DNSKEY %s" % f[2])
        elif t in ("DS", "CDS"):
            out.add("DS %s %s" % (f[1], f[2]))
        elif t == "NSEC":
            out.add("NSEC %s %s" % (rec.name, f[0]))
        elif t in ("NSEC3", "NSEC3PARAM"):
            out.add(t)
        elif t == "TYPE65534":
            out.add("BIND9 signing signal")
        elif t == "WKS":
            out.add("")
        elif t == "LOC":
            pass
    except (IndexError, ValueError):
        pass
    return out


def render_suricata(rec):
    t, f, out = rec.type.upper(), fields(rec), set()
    try:
        if t in ("TXT", "SPF"):
            for s in strings_of(rec.data):
                out.add(esc_x(s, keep_ctl=True))
        elif t == "MX":
            out.add(f[1])
        elif t == "SRV":
            out.add("name=%s port=%s priority=%s weight=%s" % (f[3], f[2], f[0], f[1]))
        elif t == "SSHFP":
            fp = "".join(f[2:]).lower()
            out.add("algo=%s fingerprint=%s type=%s" % (f[0], ":".join(fp[i:i + 2] for i in range(0, len(fp), 2)),
                                                         f[1]))
        elif t == "SOA":
            out.add("expire=%s minimum=%s mname=%s refresh=%s retry=%s rname=%s serial=%s" %
                    (f[5], f[6], f[0], f[3], f[4], f[1], f[2]))
        gb = generic_bytes(rec.data)
        if gb is not None:
            out.add(esc_x(gb, keep_ctl=True))
    except (IndexError, ValueError):
        pass
    return out


def render_arkime(rec):
    t, out = rec.type.upper(), set()
    if t in ("HTTPS", "SVCB"):
        out.add(json.dumps({t.lower(): "%s %s" % (t, _svcb_plain(rec.data))}, separators=(",", ":")))
        out.add(json.dumps({t.lower(): "%s %s" % (t, _svcb_plain(rec.data))}))
    elif t in ("TXT", "SPF"):
        out.add(" ".join(esc_x(s) for s in strings_of(rec.data)))
    return out


def render_plain(rec):
    return set()


# peer -> (renderer, sections whose records the peer lists as answers)
PEERS = {
    "zeek": (render_zeek, ("answer",)),
    "suricata": (render_suricata, ("answer",)),
    "arkime": (render_arkime, ("answer", "authority", "additional")),
    "dnscap": (render_plain, ("answer",)),
    "ndpi": (render_plain, ("answer",)),
}
DEFAULT_PEER = (render_plain, ("answer", "authority", "additional"))


def renderings(peer, rec):
    """Every string `peer` may print for our record: its own style plus our
    presentation data (identical for addresses and names)."""
    fn, _secs = PEERS.get(peer, DEFAULT_PEER)
    out = {rec.data}
    out |= fn(rec)
    return {norm_value(x) for x in out}


RCODE_ALIASES = {"NOTIMPL": "NOTIMP", "NOTIMPLEMENTED": "NOTIMP", "SERVERFAILURE": "SERVFAIL",
                 "FORMATERROR": "FORMERR", "NAMEERROR": "NXDOMAIN", "NOERR": "NOERROR"}


def norm_rcode(r):
    r = (r or "").upper().replace("_", "")
    return RCODE_ALIASES.get(r, r)


# ====================================================================== expectations

class Row:
    __slots__ = ("file", "kind", "key", "value", "peer", "source", "detail", "line")

    def __init__(self, cols, line):
        cols = cols + [""] * (7 - len(cols))
        self.file, self.kind, self.key, self.value, self.peer, self.source, self.detail = cols[:7]
        self.line = line

    def short(self, width=90):
        v = self.value if len(self.value) <= width else self.value[:width] + "..."
        return "%s %s key=%s value=%r (%s)" % (self.file, self.kind, self.key, v, self.peer)


def load_expected(path):
    rows = []
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        for i, cols in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
            if i == 0 and cols and cols[0] == "file":
                continue
            if cols:
                rows.append(Row(cols, i + 1))
    return rows


class KnownDiff:
    def __init__(self, file, kind, key, prefix, reason, line):
        self.file, self.kind, self.key, self.prefix, self.reason, self.line = file, kind, key, prefix, reason, line
        self.used = 0

    def matches(self, row):
        if self.file not in ("*", row.file) or self.kind not in ("*", row.kind):
            return False
        if self.key not in ("*", row.key):
            return False
        return self.prefix in ("", "*") or row.value.startswith(self.prefix)


def _md_cells(line):
    cells, cur, i = [], "", 0
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cur += "|"
            i += 2
            continue
        if body[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += body[i]
        i += 1
    cells.append(cur.strip())
    return [c[1:-1] if len(c) >= 2 and c.startswith("`") and c.endswith("`") else c for c in cells]


def load_known(path):
    """KNOWN_DIFFS.md: every table row with 5 cells (file, kind, key,
    value-prefix, reason); a cell may be wrapped in backticks; \\| is a
    literal bar; '*' in file/kind/key/value-prefix matches anything."""
    out = []
    if not path or not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.lstrip().startswith("|"):
                continue
            c = _md_cells(line)
            if len(c) < 5 or c[0] == "file" or set(c[0]) <= set("-: "):
                continue
            if not c[4]:
                raise SystemExit("%s:%d: a known diff needs a reason" % (path, n))
            out.append(KnownDiff(c[0], c[1], c[2], c[3], c[4], n))
    return out


# ====================================================================== matching

def responses_for(run, key):
    """Responses to question `key`. A response without a question (mDNS
    announcements) is taken as answering the names it has records for, as
    Zeek logs it."""
    out = []
    for e in run.events:
        if not e.is_response:
            continue
        if e.qname is not None:
            if key_matches(key, e.qname):
                out.append(e)
        elif any(key_matches(key, r.name) for r in e.records()):
            out.append(e)
    return out


_PAIRS = re.compile(r"^[a-z_]+=\S*( [a-z_]+=\S*)*$")


def pairs(v):
    """'name=x port=5' -> {'name': 'x', 'port': '5'} or None (Suricata's
    dict-valued answers, of which a test asserts only some keys)."""
    if not _PAIRS.match(v):
        return None
    return dict(p.split("=", 1) for p in v.split(" "))


def value_in(want, rendered):
    if want in rendered:
        return True
    w = pairs(want)
    if w is None:
        return False
    for r in rendered:
        have = pairs(r)
        if have is not None and all(have.get(k) == v for k, v in w.items()):
            return True
    return False


def match_answer(row, run):
    peer = row.peer.lower()
    _fn, secs = PEERS.get(peer, DEFAULT_PEER)
    want = norm_value(row.value)
    evs = responses_for(run, row.key)
    for ev in evs:
        for rec in ev.records(secs):
            if value_in(want, renderings(peer, rec)):
                return True
    # a peer may list a record of another section as an answer: accept it,
    # but only as a fallback so the section choice above stays meaningful
    for ev in evs:
        for rec in ev.records():
            if value_in(want, renderings(peer, rec)):
                return True
    return False


def match_rcode(row, run):
    want = norm_rcode(row.value)
    return any(norm_rcode(ev.rcode) == want for ev in responses_for(run, row.key))


MATCHERS = {"dns_answer": match_answer, "dns_rcode": match_rcode}


def what_we_had(row, run, limit=6):
    evs = responses_for(run, row.key)
    if not evs:
        qs = sorted({e.qname for e in run.events if e.is_response and e.qname})
        return "no response to that question; responses seen: %s" % (", ".join(qs[:8]) or "none")
    peer = row.peer.lower()
    seen = []
    for ev in evs:
        if row.kind == "dns_rcode":
            seen.append("rcode " + str(ev.rcode))
            continue
        for rec in ev.records():
            r = sorted(renderings(peer, rec))
            seen.append("%s %s -> %s" % (rec.type, rec.data[:60], r[-1][:60] if r else ""))
    more = "" if len(seen) <= limit else " (+%d more)" % (len(seen) - limit)
    return "; ".join(seen[:limit]) + more

# ====================================================================== self test

def _ev(qname, records, rcode="NOERROR", qtype="A"):
    secs = {"answer": [], "authority": [], "additional": []}
    for sec, name, rtype, ttl, data in records:
        secs[sec].append({"name": name, "type": rtype, "class": "IN", "ttl": ttl, "data": data})
    d = {"type": "answer", "response_code": rcode, "answers": secs["answer"],
         "authorities": secs["authority"], "additionals": secs["additional"]}
    if qname is not None:
        d["question"] = {"name": qname, "type": qtype, "class": "IN"}
    return json.dumps({"event": {"kind": "event", "dataset": "bindwatch.dns"},
                       "bindwatch": {"pcap": {"file": "t.pcap", "packet": 1}, "dns": {"raw": "00"}}, "dns": d})


SELFTEST = [
    # (expect found?, kind, key, value, peer, event qname, records, rcode)
    (True, "dns_answer", "f.example", "TXT 13 k=rsa; p=MIGf TXT 4 HSrD", "zeek", "f.example",
     [("answer", "f.example", "TXT", 7200, '"k=rsa; p=MIGf" "HSrD"')], "NOERROR"),
    (True, "dns_answer", "mon.lbl.gov", "SSHFP: a6b95f9eba", "zeek", "mon.lbl.gov",
     [("answer", "mon.lbl.gov", "SSHFP", 1, "1 1 A6B95F9EBA")], "NOERROR"),
    (True, "dns_answer", "mon.lbl.gov", "RRSIG 44 lbl.gov", "zeek", "mon.lbl.gov",
     [("answer", "mon.lbl.gov", "RRSIG", 1, "SSHFP 8 3 43200 20240201000000 20240101000000 1 lbl.gov AAAA")],
     "NOERROR"),
    (True, "dns_answer", "upenn.edu", "DNSKEY 5", "zeek", "upenn.edu",
     [("answer", "upenn.edu", "DNSKEY", 5, "257 3 5 AwEAAQ==")], "NOERROR"),
    (True, "dns_answer", "(query name not printed by peer)", "CAA 0 issue symantec.com", "zeek", "x.example",
     [("answer", "x.example", "CAA", 5, '0 issue "symantec.com"')], "NOERROR"),
    (True, "dns_answer", "fp.goog", "NAPTR 100 100 s SIPS+D2T _sips._tcp.fp.goog", "zeek", "fp.goog",
     [("answer", "fp.goog", "NAPTR", 5, '100 100 "s" "SIPS+D2T" "" _sips._tcp.fp.goog')], "NOERROR"),
    (True, "dns_answer", "mail.vladg.net", "SPF 19 v=spf1 mx -all test", "zeek", "mail.vladg.net",
     [("answer", "mail.vladg.net", "SPF", 300, '"v=spf1 mx -all test"')], "NOERROR"),
    (True, "dns_answer", "m.example", "mx.example", "zeek", "m.example",
     [("answer", "m.example", "MX", 300, "10 mx.example")], "NOERROR"),
    (True, "dns_answer", "example.net", "BIND9 signing signal", "zeek", "example.net",
     [("answer", "example.net", "TYPE65534", 0, "\\# 5 0800010001")], "NOERROR"),
    (False, "dns_answer", "m.example", "192.0.2.2", "zeek", "m.example",
     [("authority", "m.example", "A", 300, "192.0.2.1")], "NOERROR"),
    (True, "dns_answer", "_sip._udp.g.com", "name=sip2.g.com port=5060 priority=20 weight=1", "suricata",
     "_sip._udp.g.com", [("answer", "_sip._udp.g.com", "SRV", 1, "20 1 5060 sip2.g.com")], "NOERROR"),
    (True, "dns_answer", "*", "algo=1 fingerprint=19:8c:34", "suricata", "anoncvs.netbsd.org",
     [("answer", "anoncvs.netbsd.org", "SSHFP", 1, "1 1 198C34")], "NOERROR"),
    (True, "dns_answer", "t.example", "second", "suricata", "t.example",
     [("answer", "t.example", "TXT", 1, '"first" "second"')], "NOERROR"),
    (True, "dns_answer", "*", "VACKD\x03\\xc5\\xe9\x01", "suricata", "n.example",
     [("answer", "n.example", "NULL", 0, "\\# 9 5641434B4403C5E901")], "NOERROR"),
    (True, "dns_answer", "cloudflare.com", '{"https":"HTTPS 1 . alpn=h3,h2 ipv4hint=192.0.2.1"}', "arkime",
     "cloudflare.com", [("answer", "cloudflare.com", "HTTPS", 1, '1 . alpn="h3,h2" ipv4hint=192.0.2.1')],
     "NOERROR"),
    (True, "dns_answer", "mx.com", "65.61.188.4", "arkime", "mx.com",
     [("additional", "dns2.stabletransit.com", "A", 1, "65.61.188.4")], "NOERROR"),
    (True, "dns_answer", "mx.com", "NS1.Example.COM.", "arkime", "MX.com.",
     [("authority", "mx.com", "NS", 1, "ns1.example.com")], "NOERROR"),
    (True, "dns_rcode", "<root>", "NOERROR", "arkime", ".", [], "NOERROR"),
    (True, "dns_rcode", "x.example", "NOTIMPL", "arkime", "x.example", [], "NOTIMP"),
    (False, "dns_rcode", "x.example", "NXDOMAIN", "arkime", "x.example", [], "NOERROR"),
    (True, "dns_answer", "ab??c.cn", "192.0.2.9", "ndpi", "ab\\200\\201c.cn",
     [("answer", "ab\\200\\201c.cn", "A", 1, "192.0.2.9")], "NOERROR"),
    (False, "dns_answer", "other.example", "192.0.2.9", "ndpi", "ab.cn",
     [("answer", "ab.cn", "A", 1, "192.0.2.9")], "NOERROR"),
    (True, "dns_answer", "printer.local", "192.0.2.34", "zeek", None,
     [("answer", "printer.local", "A", 120, "192.0.2.34")], "NOERROR"),
    (True, "dns_rcode", "printer.local", "NOERROR", "zeek", None,
     [("answer", "printer.local", "A", 120, "192.0.2.34")], "NOERROR"),
]


def selftest():
    ok = bad = 0
    for want, kind, key, value, peer, qn, recs, rc in SELFTEST:
        run = Run("t.pcap")
        run.events, _ = parse_events(_ev(qn, recs, rc))
        row = Row(["t.pcap", kind, key, value, peer, "", ""], 0)
        got = MATCHERS[kind](row, run)
        if got == want:
            ok += 1
        else:
            bad += 1
            print("selftest FAIL: %s expected %s; we had: %s" % (row.short(), want, what_we_had(row, run)))
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        kd = Path(d) / "k.md"
        kd.write_text("| file | kind | key | value-prefix | reason |\n|---|---|---|---|---|\n"
                      "| a.pcap | dns_answer | `*` | `x\\|y ` | because |\n")
        k = load_known(str(kd))
        r1 = Row(["a.pcap", "dns_answer", "q", "x|y z", "zeek"], 0)
        r2 = Row(["a.pcap", "dns_answer", "q", "x|z", "zeek"], 0)
        if len(k) == 1 and k[0].matches(r1) and not k[0].matches(r2):
            ok += 1
        else:
            bad += 1
            print("selftest FAIL: KNOWN_DIFFS parsing")
        # the whole pipeline on hand-made events
        ext = Path(d) / "ext"
        ev = Path(d) / "ev"
        ext.mkdir()
        ev.mkdir()
        (ext / "t.pcap").write_bytes(b"")
        (ext / "EXPECTED.tsv").write_text(
            "file\tkind\tkey\tvalue\tpeer\tsource\tdetail\n"
            "t.pcap\tdns_answer\tw.example\t192.0.2.1\tzeek\ts\t\n"
            "t.pcap\tdns_rcode\tw.example\tNOERROR\tzeek\ts\t\n"
            "t.pcap\tdns_answer\tw.example\t192.0.2.2\tzeek\ts\t\n"
            "t.pcap\tdns_query\tw.example\tA\tzeek\ts\t\n")
        (ev / "t.pcap.jsonl").write_text(_ev("w.example", [("answer", "w.example", "A", 1, "192.0.2.1")]) +
                                         "\nnot json\n")
        import contextlib
        import io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main(["--external", str(ext), "--events-dir", str(ev), "--known", str(Path(d) / "none.md")])
        text = out.getvalue()
        if rc == 1 and "conformance dns_answer: 1/2 found, 0 known diffs, 1 missing" in text \
                and "conformance: 3 passed, 1 failed" in text and "MISS" in text:
            ok += 1
        else:
            bad += 1
            print("selftest FAIL: pipeline\n" + text)
    print("conformance selftest: %d passed, %d failed" % (ok, bad))
    return 1 if bad else 0


# ====================================================================== main

def ldns_diff(prog, runs):
    lines, n = [], 0
    for run in runs:
        for i, ev in enumerate(run.events):
            raw = ev.raw
            if raw:
                lines.append("%s:%s:%d\t%s\n" % (run.capture, ev.packet, i, raw))
                n += 1
    if n == 0:
        return 1, "no event carried bindwatch.dns.raw (was --dns-raw passed?)", 0
    try:
        p = subprocess.run(prog, shell=True, input="".join(lines).encode(), capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 1, str(e), n
    text = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
    return p.returncode, text, n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Known differences: tests/conformance/KNOWN_DIFFS.md.")
    ap.add_argument("--external", default=str(REPO.parent / "shared" / "pcaps" / "external"),
                    help="directory of captures and EXPECTED.tsv (default: <repo>/../shared/pcaps/external)")
    ap.add_argument("--bindwatch", default=os.environ.get("BINDWATCH", str(REPO / "build" / "bindwatch")),
                    help="bindwatch binary (default: $BINDWATCH or <repo>/build/bindwatch)")
    ap.add_argument("--arg", action="append", default=[], help="extra argument for bindwatch (repeatable)")
    ap.add_argument("--events-dir", help="read DIR/<capture>.jsonl instead of running bindwatch")
    ap.add_argument("--known", default=str(HERE / "KNOWN_DIFFS.md"), help="known differences file")
    ap.add_argument("--only", action="append", default=[], help="only captures whose name contains this")
    ap.add_argument("--kinds", default=",".join(KINDS), help="kinds to check (default %(default)s)")
    ap.add_argument("--ldns-diff", metavar="PATH", help="pipe every DNS message to this checker")
    ap.add_argument("--jobs", type=int, default=2, help="bindwatch processes at once (default 2)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per capture (default 120)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list known diffs that applied")
    ap.add_argument("--selftest", action="store_true", help="check the matchers on hand-made events and exit")
    a = ap.parse_args(argv)
    if a.selftest:
        return selftest()

    ext = Path(a.external)
    expected = ext / "EXPECTED.tsv"
    if not expected.exists():
        print("conformance: %s not found" % expected)
        print("conformance: 0 passed, 1 failed")
        return 1
    kinds = [k for k in a.kinds.split(",") if k]
    rows = [r for r in load_expected(expected) if r.kind in kinds]
    known = load_known(a.known)
    captures = sorted(p for p in ext.iterdir() if p.suffix in CAPTURE_EXT)
    if a.only:
        captures = [c for c in captures if any(o in c.name for o in a.only)]
        rows = [r for r in rows if any(o in r.file for o in a.only)]
    extra = list(a.arg)
    if a.ldns_diff and "--dns-raw" not in extra:
        extra.append("--dns-raw")

    if not a.events_dir and not os.access(a.bindwatch, os.X_OK):
        print("conformance: bindwatch not found at %s (build it, or pass --bindwatch / --events-dir)" % a.bindwatch)
        print("conformance: 0 passed, %d failed" % len(rows))
        return 1

    def one(cap):
        if a.events_dir:
            return load_events_file(Path(a.events_dir) / (cap.name + ".jsonl"), cap.name)
        return run_bindwatch(a.bindwatch, cap, extra, a.timeout)

    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        runs = {r.capture: r for r in pool.map(one, captures)}

    failed = passed = 0
    crashed = [r for r in runs.values() if r.crashed]
    for r in sorted(crashed, key=lambda r: r.capture):
        print("CRASH %s: %s" % (r.capture, r.error or "killed by signal %d" % -r.rc))
        if r.stderr:
            print("      " + r.stderr.strip().splitlines()[-1][:200])
    nonzero = [r for r in runs.values() if not r.crashed and r.rc]
    for r in sorted(nonzero, key=lambda r: r.capture):
        print("note  %s: bindwatch exited %d%s" % (r.capture, r.rc, (": " + r.stderr.strip().splitlines()[-1][:160])
                                                 if r.stderr.strip() else ""))
    bad = sum(r.bad_lines for r in runs.values())
    if bad:
        print("note  %d output lines were not JSON" % bad)

    per_kind = {k: [0, 0, 0] for k in kinds}   # found, known, missing
    misses = []
    applied = []
    empty = Run("")
    for row in rows:
        run = runs.get(row.file, empty)
        if MATCHERS[row.kind](row, run):
            per_kind[row.kind][0] += 1
            continue
        kd = next((k for k in known if k.matches(row)), None)
        if kd:
            kd.used += 1
            per_kind[row.kind][1] += 1
            applied.append((row, kd))
            continue
        per_kind[row.kind][2] += 1
        misses.append((row, run))

    for row, run in misses:
        print("MISS  " + row.short())
        if row.file not in runs:
            print("      capture %s not in %s" % (row.file, ext))
        else:
            print("      we had: " + what_we_had(row, run))
    if a.verbose:
        for row, kd in applied:
            print("known %s  [%s]" % (row.short(60), kd.reason))
    for kd in known:
        if kd.kind in kinds and not kd.used and (not a.only or any(o in kd.file for o in a.only)):
            print("stale KNOWN_DIFFS.md:%d (%s %s %s) matched no missing row" % (kd.line, kd.file, kd.kind, kd.key))

    for k in kinds:
        f, kn, m = per_kind[k]
        total = f + kn + m
        print("conformance %s: %d/%d found, %d known diffs, %d missing" % (k, f, total, kn, m))
        passed += f + kn
        failed += m
    if crashed:
        print("conformance process: %d/%d captures ran without crashing" % (len(runs) - len(crashed), len(runs)))
    passed += len(runs) - len(crashed)
    failed += len(crashed)

    if a.ldns_diff:
        rc, text, n = ldns_diff(a.ldns_diff, runs.values())
        for line in text.splitlines()[-20:]:
            print("ldns-diff| " + line)
        print("conformance ldns-diff: %d messages, %s (exit %d)" % (n, "agree" if rc == 0 else "DISAGREE", rc))
        if rc == 0:
            passed += 1
        else:
            failed += 1

    print("conformance: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
