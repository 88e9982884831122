#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Conformance harness: bindwatch against other analysers' expectations.

Runs bindwatch once per capture in shared/pcaps/external/ (one process per
capture, so a crash is pinned on one file), collects its JSON-lines DNS,
TLS and X.509 events, and checks every `dns_answer` and `dns_rcode` row and
every tls_*, x509_* and quic_version row of EXPECTED.tsv:

  dns_answer  key = the question name, value = the peer's rendering of one
              record's data. Found when some response to that question has a
              record that, rendered in that peer's style (see PEERS), equals
              the value (case-insensitive, trailing dots stripped).
  dns_rcode   found when some response to that question has that rcode.

  tls_*, quic_version   key = the server endpoint ("ip:port", "[ip6]:port")
              or "*"; an nDPI "flow=..." detail narrows it to that
              connection. Found when one of those bindwatch.tls events has
              the value, after per-peer normalisation: version spellings
              (TLSv1.2 / TLS 1.2 / TLSv12 / TLSv13-draft23 / unknown-N),
              fingerprint case, Zeek's OpenSSL validation strings and alert
              names mapped to bindwatch's names, Suricata extension names
              to numbers.
  x509_*      key = "sha1:HEX" / "sha256:HEX" (one certificate), a server
              endpoint (that handshake's chain; chain_pos=N or "leaf
              certificate" in the detail pins the position) or "*". Values
              normalised per peer: Zeek's RFC 2253 names (its log doubles
              the backslash) vs the Suricata/nDPI forward form, serials
              compared as numbers (Zeek magnitude, Suricata colon octets,
              Arkime sign octet), ISO times, SANs case-folded and IPs
              canonical, Arkime's lower-cased CNs. x509_tag (Arkime
              cert:self-signed / cert:certificate-authority) is the
              bindwatch.x509 self_signed / is_ca of a chain certificate;
              x509_notice (Zeek Certificate_Expired / Expires_Soon) is the
              leaf's not_after against the capture time (30 days, Zeek's
              default).

A row neither found nor listed in KNOWN_DIFFS.md (with a reason: the peer is
provably wrong, or the row is out of scope) is a failure. Prints one score
line per kind, the misses with what bindwatch had for that question, and
"conformance: N passed, N failed"; exits 1 when anything failed.

--ldns-diff PROG also runs bindwatch with --dns-raw and pipes every DNS
message as "label<TAB>hex" lines into PROG (a differential checker against
ldns); its exit status counts as one more check.

Everything that knows the shape of bindwatch's events is in the Event,
TlsEvent and X509Event classes below; adapt there if the format changes.
"""

import argparse
import concurrent.futures
import csv
import datetime
import ipaddress
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

DNS_KINDS = ("dns_answer", "dns_rcode")
TLS_KINDS = ("tls_sni", "tls_version", "tls_cipher", "tls_ja3", "tls_ja3s", "tls_ja4", "tls_alpn_offered",
             "tls_alpn", "tls_extension", "tls_resumed", "tls_last_alert", "tls_validation_status", "quic_version")
X509_KINDS = ("x509_sha256", "x509_sha1", "x509_san", "x509_serial", "x509_subject", "x509_issuer",
              "x509_not_before", "x509_not_after", "x509_subject_cn", "x509_subject_o", "x509_issuer_cn",
              "x509_issuer_o", "x509_tag", "x509_notice", "x509_client_sha256", "x509_client_serial",
              "x509_client_not_before", "x509_client_not_after")
KINDS = DNS_KINDS + TLS_KINDS + X509_KINDS
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


def endpoint(ip, port):
    """'192.0.2.1:443' / '[2001:db8::1]:443' with the address in canonical form."""
    if ip is None:
        return None
    try:
        a = ipaddress.ip_address(str(ip).strip("[]"))
    except ValueError:
        return "%s:%s" % (ip, port)
    return ("[%s]:%s" if a.version == 6 else "%s:%s") % (a.compressed, port)


def norm_endpoint(text):
    """A peer's 'ip:port' / '[ip6]:port' key in canonical form, or None."""
    t = text.strip()
    if t.startswith("["):
        ip, _, port = t[1:].partition("]:")
    else:
        ip, _, port = t.rpartition(":")
    if not ip or not port.isdigit():
        return None
    return endpoint(ip, port)


class Cert:
    """One certificate as bindwatch described it: from a bindwatch.x509
    event (every field) or from a chain entry of a bindwatch.tls event
    (fingerprints, names, serial, dates)."""
    __slots__ = ("sha256", "sha1", "subject", "subject_rfc2253", "issuer", "issuer_rfc2253", "serial",
                 "serial_colon", "not_before", "not_after", "sans", "subject_cn", "subject_o", "issuer_cn",
                 "issuer_o", "is_ca", "self_signed", "origin")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def __repr__(self):
        return "cert %s %s" % ((self.sha256 or "?")[:12], self.subject)


def _lower(v):
    return v.lower() if isinstance(v, str) else v


def _list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _cert_from_x509(x, bwx):
    """x: an ECS x509 object; bwx: bindwatch.x509 (or {})."""
    g = Event._get
    return Cert(sha256=_lower(bwx.get("sha256")), sha1=_lower(bwx.get("sha1")),
                subject=g(x, "subject", "distinguished_name"), subject_rfc2253=bwx.get("subject_rfc2253"),
                issuer=g(x, "issuer", "distinguished_name"), issuer_rfc2253=bwx.get("issuer_rfc2253"),
                serial=x.get("serial_number"), serial_colon=bwx.get("serial_colon"),
                not_before=x.get("not_before"), not_after=x.get("not_after"),
                sans=_list(x.get("alternative_names")),
                subject_cn=_list(g(x, "subject", "common_name")), subject_o=_list(g(x, "subject", "organization")),
                issuer_cn=_list(g(x, "issuer", "common_name")), issuer_o=_list(g(x, "issuer", "organization")),
                is_ca=bwx.get("is_ca"), self_signed=bwx.get("self_signed"), origin="x509")


class TlsEvent:
    """A bindwatch.tls event: one handshake."""

    def __init__(self, obj):
        g = Event._get
        self.obj = obj
        t = obj.get("tls") or {}
        b = g(obj, "bindwatch", "tls", default={}) or {}
        self.file = g(obj, "bindwatch", "pcap", "file")
        p = g(obj, "bindwatch", "pcap", "packet")
        self.packet = int(p) if isinstance(p, int) or (isinstance(p, str) and p.isdigit()) else None
        self.timestamp = obj.get("@timestamp")
        self.client = endpoint(g(obj, "source", "ip"), g(obj, "source", "port"))
        self.server = endpoint(g(obj, "destination", "ip"), g(obj, "destination", "port"))
        self.transport = g(obj, "network", "transport")
        self.protocol = b.get("protocol")
        self.version = t.get("version")
        self.version_protocol = t.get("version_protocol")
        self.version_name = b.get("version_name")
        self.cipher = t.get("cipher")
        self.established = t.get("established")
        self.resumed = t.get("resumed")
        self.alpn = t.get("next_protocol")
        self.sni = g(t, "client", "server_name")
        self.ja3 = _lower(g(t, "client", "ja3"))
        self.ja4 = _lower(g(t, "client", "ja4"))
        self.ja3s = _lower(g(t, "server", "ja3s"))
        self.ja3_string = g(b, "client", "ja3_string")
        self.ja3s_string = g(b, "server", "ja3s_string")
        self.alpn_offered = _list(g(b, "client", "alpn"))
        self.client_versions = _list(g(b, "client", "versions"))
        self.client_extensions = _list(g(b, "client", "extensions"))
        self.server_extensions = _list(g(b, "server", "extensions"))
        self.cert_visible = b.get("cert_visible")
        self.hrr = b.get("hello_retry_request")
        self.starttls = b.get("starttls")
        self.validation = b.get("validation") or {}
        self.alert = b.get("alert") or {}
        self.quic = b.get("quic") or {}
        self.chain_truncated = b.get("chain_truncated")
        self.chain = []
        for c in _list(b.get("chain")):
            if isinstance(c, dict):
                self.chain.append(Cert(sha256=_lower(c.get("sha256")), sha1=_lower(c.get("sha1")),
                                       subject=c.get("subject"), subject_rfc2253=c.get("subject_rfc2253"),
                                       issuer=c.get("issuer"), issuer_rfc2253=c.get("issuer_rfc2253"),
                                       serial=c.get("serial"), not_before=c.get("not_before"),
                                       not_after=c.get("not_after"), origin="chain"))
        # client certificates, if bindwatch ever reports them (not in the event format yet)
        self.client_chain = [Cert(sha256=_lower(c.get("sha256")), sha1=_lower(c.get("sha1")),
                                  serial=c.get("serial"), not_before=c.get("not_before"),
                                  not_after=c.get("not_after"), origin="client")
                             for c in _list(g(b, "client", "chain")) if isinstance(c, dict)]
        self.leaf_x509 = g(t, "server", "x509") or {}
        self.server_hash = g(t, "server", "hash") or {}

    @property
    def status(self):
        return self.validation.get("status")

    @property
    def chain_sha256(self):
        return [c.sha256 for c in self.chain]

    def __repr__(self):
        return "tls %s->%s sni=%s %s %s" % (self.client, self.server, self.sni, self.version_name, self.cipher)


class X509Event:
    """A bindwatch.x509 event: one distinct certificate, the first time seen."""

    def __init__(self, obj):
        g = Event._get
        self.obj = obj
        self.file = g(obj, "bindwatch", "pcap", "file")
        self.client = endpoint(g(obj, "source", "ip"), g(obj, "source", "port"))
        self.server = endpoint(g(obj, "destination", "ip"), g(obj, "destination", "port"))
        bwx = g(obj, "bindwatch", "x509", default={}) or {}
        self.cert = _cert_from_x509(obj.get("x509") or {}, bwx)
        self.chain_position = bwx.get("chain_position")
        self.server_name = bwx.get("server_name")


def parse_events(text, run=None):
    """JSON lines -> (list of DNS Events, count of unparsable lines). With
    run, also fills run.tls (TlsEvent), run.x509 (X509Event) and run.lines
    (every JSON line except the stats event, in order)."""
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
            ds = Event._get(obj, "event", "dataset", default="")
            if run is not None and ds != "bindwatch.stats":
                run.lines.append(line)
            if ds == "bindwatch.tls":
                if run is not None:
                    run.tls.append(TlsEvent(obj))
                continue
            if ds == "bindwatch.x509":
                if run is not None:
                    run.x509.append(X509Event(obj))
                continue
            ev = Event(obj)
            if ev.is_dns:
                evs.append(ev)
    return evs, bad


class Run:
    """One bindwatch process over one capture."""

    def __init__(self, capture):
        self.capture = capture
        self.events = []
        self.tls = []
        self.x509 = []
        self.lines = []
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
    r.events, r.bad_lines = parse_events(p.stdout.decode("utf-8", "replace"), r)
    return r


def load_events_file(path, capture_name):
    r = Run(capture_name)
    try:
        r.events, r.bad_lines = parse_events(Path(path).read_text(encoding="utf-8", errors="replace"), r)
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


# ---------------------------------------------------------------- TLS and X.509

_FLOW = re.compile(r"flow=(?:TCP|UDP) (\S+) <-> (\S+)")


def row_flow(row):
    """nDPI rows name the flow ('flow=TCP a:p <-> b:q'): the two endpoints, or None."""
    m = _FLOW.search(row.detail or "")
    if not m:
        return None
    a, b = norm_endpoint(m.group(1)), norm_endpoint(m.group(2))
    return {a, b} if a and b else None


def sessions_for(run, row):
    """Handshakes a row is about: key '*' is any, else the server endpoint;
    a flow named in the detail narrows it to that connection."""
    key = row.key.strip()
    flow = row_flow(row)
    out = []
    want = None if key in WILDCARD_KEYS or key.startswith(("sha1:", "sha256:")) else norm_endpoint(key)
    for s in run.tls:
        if want is not None and s.server != want:
            continue
        if flow is not None and {s.client, s.server} != flow:
            continue
        out.append(s)
    return out


def certs_all(run):
    """Every certificate bindwatch described: x509 events first (they carry
    every field), then chain entries of TLS events."""
    out = [x.cert for x in run.x509]
    for s in run.tls:
        out.extend(s.chain)
    return out


def certs_by_hash(run, algo, h):
    h = h.lower()
    return [c for c in certs_all(run) if getattr(c, algo) == h]


def certs_for(run, row, leaf_only=False):
    """Certificates a row is about. Key sha1:/sha256: is one certificate;
    '*' or a server endpoint: the certificates of those handshakes (the
    leaf only if leaf_only), completed by the x509 events with their hashes."""
    key = row.key.strip()
    if key.startswith("sha1:"):
        return certs_by_hash(run, "sha1", key[5:])
    if key.startswith("sha256:"):
        return certs_by_hash(run, "sha256", key[7:])
    out = []
    for s in sessions_for(run, row):
        chain = s.chain[:1] if leaf_only else s.chain
        for c in chain:
            out.append(c)
            out.extend(certs_by_hash(run, "sha256", c.sha256 or "-"))
    if not out and key in WILDCARD_KEYS:
        out = [x.cert for x in run.x509 if not leaf_only or x.chain_position in (0, None)]
    return out


def norm_version(v):
    """TLSv1.2 / TLS 1.2 / TLSv12 / tls1.2 / TLSv1.3-draft-18 / TLSv13-draft23 /
    unknown-32257 -> one spelling."""
    if v is None:
        return None
    t = str(v).strip().lower().replace(" ", "")
    m = re.match(r"^unknown-(\d+)$", t)
    if m:
        return "0x%04x" % int(m.group(1))
    m = re.match(r"^0x([0-9a-f]+)$", t)
    if m:
        return "0x%04x" % int(m.group(1), 16)
    m = re.match(r"^(d?tls|ssl)v?(\d)\.?(\d)?(.*)$", t)
    if m:
        proto, major, minor, rest = m.groups()
        if proto != "ssl" and minor is None:
            minor = "0"
        rest = rest.replace("-", "")
        return "%sv%s%s%s" % (proto, major, "." + minor if minor is not None else "", rest)
    return t


def norm_iso(t):
    if not t:
        return None
    t = str(t).strip().replace(" ", "T")
    if t.endswith("Z"):
        t = t[:-1]
    t = re.sub(r"\.0+$", "", t)
    return t


def parse_iso(t):
    try:
        return datetime.datetime.strptime(norm_iso(t)[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def serial_int(v):
    if v is None:
        return None
    t = str(v).strip().replace(":", "").replace(" ", "")
    neg = t.startswith("-")
    try:
        n = int(t.lstrip("-") or "0", 16)
    except ValueError:
        return None
    return -n if neg else n


def dn_forms(v, peer):
    """The forms a peer's distinguished name may take: as given, and for
    Zeek with its log escaping of the backslash undone."""
    out = {v}
    if peer == "zeek":
        out.add(v.replace("\\\\", "\\"))
    return {" ".join(x.split()).casefold() for x in out}


def san_norm(v):
    t = str(v).strip()
    for pfx in ("DNS:", "IP:", "IP Address:", "email:", "URI:"):
        if t.startswith(pfx):
            t = t[len(pfx):]
    try:
        return ipaddress.ip_address(t).compressed
    except ValueError:
        return t.rstrip(".").casefold()


EXT_NAMES = {"server_name": 0, "max_fragment_length": 1, "status_request": 5, "supported_groups": 10,
             "elliptic_curves": 10, "ec_point_formats": 11, "signature_algorithms": 13, "use_srtp": 14,
             "heartbeat": 15, "alpn": 16, "application_layer_protocol_negotiation": 16,
             "signed_certificate_timestamp": 18, "padding": 21, "encrypt_then_mac": 22,
             "extended_master_secret": 23, "compress_certificate": 27, "record_size_limit": 28,
             "session_ticket": 35, "pre_shared_key": 41, "early_data": 42, "supported_versions": 43,
             "cookie": 44, "psk_key_exchange_modes": 45, "certificate_authorities": 47,
             "post_handshake_auth": 49, "signature_algorithms_cert": 50, "key_share": 51,
             "quic_transport_parameters": 57, "encrypted_client_hello": 0xFE0D, "renegotiation_info": 0xFF01}

ALERT_NAMES = {"close_notify": 0, "unexpected_message": 10, "bad_record_mac": 20, "record_overflow": 22,
               "decompression_failure": 30, "handshake_failure": 40, "no_certificate": 41, "bad_certificate": 42,
               "unsupported_certificate": 43, "certificate_revoked": 44, "certificate_expired": 45,
               "certificate_unknown": 46, "illegal_parameter": 47, "unknown_ca": 48, "access_denied": 49,
               "decode_error": 50, "decrypt_error": 51, "protocol_version": 70, "insufficient_security": 71,
               "internal_error": 80, "inappropriate_fallback": 86, "user_canceled": 90,
               "no_renegotiation": 100, "missing_extension": 109, "unsupported_extension": 110,
               "unrecognized_name": 112, "bad_certificate_status_response": 113, "unknown_psk_identity": 115,
               "certificate_required": 116, "no_application_protocol": 120}

# Zeek's validation_status is OpenSSL's X509_verify_cert_error_string(); ours is x509.h's reason name.
ZEEK_VALIDATION = {"ok": "ok", "certificate has expired": "expired", "certificate is not yet valid": "not_yet_valid",
                   "self signed certificate": "self_signed", "self-signed certificate": "self_signed",
                   "self signed certificate in certificate chain": "self_signed_in_chain",
                   "self-signed certificate in certificate chain": "self_signed_in_chain",
                   "unable to get local issuer certificate": "unknown_issuer",
                   "unable to get issuer certificate": "unknown_issuer",
                   "unable to verify the first certificate": "unknown_issuer",
                   "certificate signature failure": "bad_signature",
                   "unable to decode issuer public key": "other",
                   "hostname mismatch": "name_mismatch"}


def _chain_pos(row):
    m = re.search(r"chain_pos=(\d+)", row.detail or "")
    return int(m.group(1)) if m else None


def _sess_any(row, run, pred):
    return any(pred(s) for s in sessions_for(run, row))


def match_tls(row, run):
    k, v, peer = row.kind, row.value.strip(), row.peer.lower()
    if k == "tls_sni":
        return _sess_any(row, run, lambda s: (s.sni or "").rstrip(".").casefold() == v.rstrip(".").casefold())
    if k == "tls_version":
        want = norm_version(v)
        return _sess_any(row, run, lambda s: norm_version(s.version_name) == want)
    if k == "tls_cipher":
        return _sess_any(row, run, lambda s: (s.cipher or "").upper() == v.upper())
    if k in ("tls_ja3", "tls_ja3s", "tls_ja4"):
        attr = k[4:]
        # nDPI appends its verdict on a known fingerprint: "6b96... (INSECURE)", "(WEAK)"
        fp = v.split()[0].lower() if v else v
        return _sess_any(row, run, lambda s: getattr(s, attr) == fp)
    if k == "tls_alpn_offered":
        return _sess_any(row, run, lambda s: v in s.alpn_offered)
    if k == "tls_alpn":
        return _sess_any(row, run, lambda s: s.alpn == v)
    if k == "tls_extension":
        n = EXT_NAMES.get(v.lower(), int(v) if v.isdigit() else None)
        return n is not None and _sess_any(row, run, lambda s: n in s.client_extensions)
    if k == "tls_resumed":
        want = v.upper() in ("T", "TRUE", "1", "YES")
        return _sess_any(row, run, lambda s: bool(s.resumed) == want)
    if k == "tls_last_alert":
        n = ALERT_NAMES.get(v.lower(), int(v) if v.isdigit() else None)
        return n is not None and _sess_any(row, run, lambda s: s.alert.get("description") == n)
    if k == "tls_validation_status":
        want = ZEEK_VALIDATION.get(v.lower(), v.lower()) if peer == "zeek" else v.lower()
        return _sess_any(row, run, lambda s: s.status == want)
    if k == "quic_version":
        want = v.lower()
        return _sess_any(row, run, lambda s: str(s.quic.get("version", "")).lower() in
                         (want, "v" + want, "0x%08x" % int(want) if want.isdigit() else want))
    return False


def _leaf_not_after(run, s):
    for c in s.chain[:1]:
        for x in [c] + certs_by_hash(run, "sha256", c.sha256 or "-"):
            if x.not_after:
                return parse_iso(x.not_after)
    na = s.leaf_x509.get("not_after")
    return parse_iso(na) if na else None


def match_x509(row, run):
    k, v, peer = row.kind, row.value.strip(), row.peer.lower()
    if k == "x509_sha256" or (k == "x509_sha1" and not row.key.startswith(("sha1:", "sha256:"))):
        algo = k[5:]
        pos = _chain_pos(row)
        leaf = pos == 0 or "leaf certificate" in (row.detail or "")
        for s in sessions_for(run, row):
            hs = [getattr(c, algo) for c in s.chain]
            if not hs and algo in s.server_hash:
                hs = [_lower(s.server_hash.get(algo))]
            if pos is not None and pos < len(hs) and hs[pos] == v.lower():
                return True
            if pos is None and (hs[:1] if leaf else hs).count(v.lower()):
                return True
        if row.key.strip() in WILDCARD_KEYS and not leaf:
            return bool(certs_by_hash(run, algo, v))
        if row.key.strip() in WILDCARD_KEYS and leaf:
            return any(x.cert.sha1 == v.lower() and x.chain_position in (0, None) for x in run.x509) or \
                any(s.chain[:1] and getattr(s.chain[0], algo) == v.lower() for s in run.tls)
        return False
    if k.startswith("x509_client_"):
        field = k[len("x509_client_"):]
        pos = _chain_pos(row)
        for s in sessions_for(run, row):
            cc = s.client_chain
            for i, c in enumerate(cc):
                if pos is not None and i != pos:
                    continue
                if field == "sha256" and c.sha256 == v.lower():
                    return True
                if field == "serial" and serial_int(c.serial) == serial_int(v):
                    return True
                if field in ("not_before", "not_after") and norm_iso(getattr(c, field)) == norm_iso(v):
                    return True
        return False
    if k == "x509_tag":
        for s in sessions_for(run, row):
            certs = []
            for c in s.chain:
                certs.extend(certs_by_hash(run, "sha256", c.sha256 or "-") or [c])
            if v == "cert:self-signed" and any(c.self_signed or (c.subject and c.subject == c.issuer)
                                               for c in certs):
                return True
            if v == "cert:certificate-authority" and any(c.is_ca for c in certs):
                return True
        return False
    if k == "x509_notice":
        name, _, text = v.partition(" | ")
        for s in sessions_for(run, row):
            na, ts = _leaf_not_after(run, s), parse_iso(s.timestamp)
            if na is None or ts is None:
                continue
            if name == "SSL::Certificate_Expired" and (na < ts or s.status == "expired"):
                return True
            # Zeek's default SSL::notify_when_cert_expiring_in is 30 days
            if name == "SSL::Certificate_Expires_Soon" and ts <= na < ts + datetime.timedelta(days=30):
                return True
        return False
    certs = certs_for(run, row, leaf_only=row.key.strip() not in WILDCARD_KEYS and
                      not row.key.startswith(("sha1:", "sha256:")))
    if k == "x509_sha1":
        return any(c.sha1 == v.lower() for c in certs)
    if k == "x509_san":
        want = san_norm(v)
        return any(want in {san_norm(x) for x in (c.sans or [])} for c in certs)
    if k == "x509_serial":
        want = serial_int(v)
        return want is not None and any(serial_int(c.serial) == want or serial_int(c.serial_colon) == want
                                        for c in certs)
    if k in ("x509_subject", "x509_issuer"):
        side = k[5:]
        want = dn_forms(v, peer)
        return any(" ".join(str(x).split()).casefold() in want
                   for c in certs for x in (getattr(c, side), getattr(c, side + "_rfc2253")) if x)
    if k in ("x509_not_before", "x509_not_after"):
        want = norm_iso(v)
        return any(norm_iso(getattr(c, k[5:])) == want for c in certs)
    if k in ("x509_subject_cn", "x509_subject_o", "x509_issuer_cn", "x509_issuer_o"):
        attr = k[5:]
        return any(v.casefold() in {str(x).casefold() for x in (getattr(c, attr) or [])} for c in certs)
    return False


def tls_what_we_had(row, run, limit=4):
    ss = sessions_for(run, row)
    if row.kind.startswith("x509_") and row.key.startswith(("sha1:", "sha256:")):
        cs = certs_for(run, row)
        if not cs:
            return "no certificate with that %s; %d x509 events, %d handshakes" % (
                row.key.split(":")[0], len(run.x509), len(run.tls))
        c = cs[0]
        return "subject=%r issuer=%r serial=%s nb=%s na=%s sans=%s" % (
            c.subject, c.issuer, c.serial, c.not_before, c.not_after, (c.sans or [])[:4])
    if not ss:
        servers = sorted({s.server for s in run.tls if s.server})
        return "no handshake with that server%s; handshakes with: %s" % (
            " and flow" if row_flow(row) else "", ", ".join(servers[:6]) or "none")
    out = []
    for s in ss[:limit]:
        out.append("%s sni=%s ver=%s cipher=%s ja3=%s ja4=%s ja3s=%s alpn=%s/%s status=%s chain=%s" % (
            s.client, s.sni, s.version_name, s.cipher, s.ja3, s.ja4, s.ja3s, s.alpn_offered, s.alpn, s.status,
            [(c.sha256 or "")[:12] for c in s.chain]))
    return "; ".join(out) + ("" if len(ss) <= limit else " (+%d more)" % (len(ss) - limit))


for _k in TLS_KINDS:
    MATCHERS[_k] = match_tls
for _k in X509_KINDS:
    MATCHERS[_k] = match_x509


def what_we_had(row, run, limit=6):
    if row.kind not in DNS_KINDS:
        return tls_what_we_had(row, run)
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


def _tls_ev(server="192.0.2.1", sport=443, client="198.51.100.7", cport=50000, **kw):
    """A bindwatch.tls event in the lead's format, with two chain entries,
    and the x509 events of both certificates."""
    leaf = {"sha256": "AA" * 32, "sha1": "ab" * 20, "subject": "C=US, O=Example\\, Inc., CN=www.example.com",
            "subject_rfc2253": "CN=www.example.com,O=Example\\, Inc.,C=US", "issuer": "C=US, O=Test CA, CN=Test Int",
            "issuer_rfc2253": "CN=Test Int,O=Test CA,C=US", "serial": "8A07E08D4AB50A7B",
            "not_before": "2015-01-31T02:18:29Z", "not_after": "2025-01-28T02:18:29Z"}
    inter = {"sha256": "cc" * 32, "sha1": "cd" * 20, "subject": "C=US, O=Test CA, CN=Test Int",
             "subject_rfc2253": "CN=Test Int,O=Test CA,C=US", "issuer": "C=US, O=Test CA, CN=Test Int",
             "issuer_rfc2253": "CN=Test Int,O=Test CA,C=US", "serial": "02", "not_before": "2010-01-01T00:00:00Z",
             "not_after": "2030-01-01T00:00:00Z"}
    base = {"event": {"kind": "event", "dataset": "bindwatch.tls"}, "@timestamp": "2025-01-10T00:00:00.000000Z",
            "source": {"ip": client, "port": cport}, "destination": {"ip": server, "port": sport},
            "network": {"transport": "tcp", "type": "ipv6" if ":" in server else "ipv4"},
            "tls": {"version": "1.2", "version_protocol": "tls", "cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                    "established": True, "resumed": kw.get("resumed", False), "next_protocol": "h2",
                    "client": {"server_name": "www.example.com", "ja3": "0123456789ABCDEF0123456789abcdef",
                               "ja4": "t13d1516h2_8daaf6152771_02713d6af862"},
                    "server": {"ja3s": "fedcba9876543210fedcba9876543210",
                               "hash": {"sha256": "aa" * 32, "sha1": "ab" * 20}}},
            "bindwatch": {"pcap": {"file": "t.pcap", "packet": 7},
                          "tls": {"protocol": "tls", "version_name": kw.get("version_name", "TLSv1.2"),
                                  "cert_visible": True, "hello_retry_request": False,
                                  "client": {"alpn": ["h2", "http/1.1"], "extensions": [0, 10, 16, 43],
                                             "versions": ["TLSv1.3", "TLSv1.2"]},
                                  "chain": [leaf, inter],
                                  "validation": {"status": kw.get("status", "ok")},
                                  "alert": {"level": 2, "description": 40},
                                  "quic": {"version": "1"}}}}
    x = []
    for i, (c, cn, o, sans, ca) in enumerate(((leaf, "www.example.com", "Example, Inc.",
                                                ["www.example.com", "2001:db8::1"], False),
                                               (inter, "Test Int", "Test CA", [], True))):
        x.append({"event": {"kind": "event", "dataset": "bindwatch.x509"},
                  "source": base["source"], "destination": base["destination"],
                  "x509": {"subject": {"common_name": [cn], "organization": [o], "distinguished_name": c["subject"]},
                           "issuer": {"common_name": ["Test Int"], "organization": ["Test CA"],
                                      "distinguished_name": c["issuer"]},
                           "alternative_names": sans, "serial_number": c["serial"], "not_before": c["not_before"],
                           "not_after": c["not_after"]},
                  "bindwatch": {"pcap": {"file": "t.pcap", "packet": 7},
                                "x509": {"sha256": c["sha256"].lower(), "sha1": c["sha1"],
                                         "subject_rfc2253": c["subject_rfc2253"], "issuer_rfc2253": c["issuer_rfc2253"],
                                         "serial_colon": "00:" + ":".join(c["serial"][j:j + 2] for j in
                                                                          range(0, len(c["serial"]), 2)),
                                         "is_ca": ca, "self_signed": ca, "chain_position": i}}})
    return "\n".join(json.dumps(o) for o in [base] + x)


SH = "sha256:" + "aa" * 32
TLS_SELFTEST = [
    # (expect found?, kind, key, value, peer, detail)
    (True, "tls_sni", "192.0.2.1:443", "WWW.example.com", "ndpi", ""),
    (False, "tls_sni", "192.0.2.2:443", "www.example.com", "ndpi", ""),
    (True, "tls_sni", "*", "www.example.com", "suricata", ""),
    (True, "tls_sni", "192.0.2.1:443", "www.example.com", "ndpi", "flow=TCP 198.51.100.7:50000 <-> 192.0.2.1:443"),
    (True, "tls_sni", "192.0.2.1:443", "www.example.com", "ndpi", "flow=TCP 192.0.2.1:443 <-> 198.51.100.7:50000"),
    (False, "tls_sni", "192.0.2.1:443", "www.example.com", "ndpi", "flow=TCP 198.51.100.7:50001 <-> 192.0.2.1:443"),
    (True, "tls_version", "192.0.2.1:443", "TLSv1.2", "zeek", ""),
    (False, "tls_version", "192.0.2.1:443", "TLSv1.3", "zeek", ""),
    (True, "tls_cipher", "192.0.2.1:443", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "zeek", ""),
    (True, "tls_ja3", "*", "0123456789abcdef0123456789ABCDEF", "ndpi", ""),
    (True, "tls_ja3s", "*", "fedcba9876543210fedcba9876543210", "arkime", ""),
    (True, "tls_ja3s", "*", "fedcba9876543210fedcba9876543210 (WEAK)", "ndpi", ""),
    (True, "tls_ja4", "*", "t13d1516h2_8daaf6152771_02713d6af862", "arkime", ""),
    (False, "tls_ja4", "*", "t13d1516h2_8daaf6152771_02713d6af863", "arkime", ""),
    (True, "tls_alpn_offered", "*", "http/1.1", "ndpi", ""),
    (False, "tls_alpn_offered", "*", "h3", "ndpi", ""),
    (True, "tls_alpn", "*", "h2", "ndpi", ""),
    (True, "tls_extension", "*", "supported_groups", "suricata", "index=1"),
    (False, "tls_extension", "*", "key_share", "suricata", ""),
    (False, "tls_resumed", "*", "T", "zeek", ""),
    (True, "tls_last_alert", "*", "handshake_failure", "zeek", ""),
    (True, "tls_validation_status", "*", "ok", "zeek", ""),
    (False, "tls_validation_status", "*", "certificate signature failure", "zeek", ""),
    (True, "quic_version", "*", "1", "zeek", ""),
    (True, "x509_sha256", "192.0.2.1:443", "aa" * 32, "zeek", "chain_pos=0"),
    (False, "x509_sha256", "192.0.2.1:443", "aa" * 32, "zeek", "chain_pos=1"),
    (True, "x509_sha256", "192.0.2.1:443", "cc" * 32, "zeek", "chain_pos=1"),
    (True, "x509_sha1", "192.0.2.1:443", "cd" * 20, "arkime", "arkime lists certs unordered"),
    (False, "x509_sha1", "192.0.2.1:443", "cd" * 20, "ndpi", "leaf certificate"),
    (True, "x509_sha1", "*", "ab" * 20, "suricata", "leaf certificate"),
    (True, "x509_san", SH, "www.example.com", "zeek", "type=dns"),
    (True, "x509_san", SH, "2001:DB8:0::1", "zeek", "type=ip"),
    (False, "x509_san", SH, "other.example.com", "zeek", "type=dns"),
    (True, "x509_san", "sha1:" + "ab" * 20, "www.example.com", "ndpi", ""),
    (True, "x509_serial", SH, "8A07E08D4AB50A7B", "zeek", ""),
    (True, "x509_serial", "*", "00:8A:07:E0:8D:4A:B5:0A:7B", "suricata", ""),
    (True, "x509_serial", "sha1:" + "ab" * 20, "008a07e08d4ab50a7b", "arkime", ""),
    (False, "x509_serial", SH, "8A07E08D4AB50A7C", "zeek", ""),
    (True, "x509_subject", SH, "CN=www.example.com,O=Example\\\\, Inc.,C=US", "zeek", ""),
    (True, "x509_subject", "sha1:" + "ab" * 20, "C=US, O=Example\\, Inc., CN=www.example.com", "ndpi", ""),
    (True, "x509_issuer", SH, "CN=Test Int,O=Test CA,C=US", "zeek", ""),
    (False, "x509_issuer", SH, "CN=Other,O=Test CA,C=US", "zeek", ""),
    (True, "x509_not_before", SH, "2015-01-31T02:18:29Z", "zeek", ""),
    (True, "x509_not_after", "*", "2025-01-28T02:18:29Z", "suricata", ""),
    (False, "x509_not_after", SH, "2025-01-28T02:18:30Z", "zeek", ""),
    (True, "x509_subject_cn", "sha1:" + "ab" * 20, "www.EXAMPLE.com", "arkime", ""),
    (True, "x509_issuer_o", "sha1:" + "ab" * 20, "Test CA", "arkime", ""),
    (True, "x509_tag", "192.0.2.1:443", "cert:certificate-authority", "arkime", ""),
    (True, "x509_tag", "192.0.2.1:443", "cert:self-signed", "arkime", ""),
    (True, "x509_notice", "192.0.2.1:443", "SSL::Certificate_Expires_Soon | Certificate CN=www.example.com,... is "
     "going to expire at 2025-01-28-02:18:29.000000000", "zeek", ""),
    (False, "x509_notice", "192.0.2.1:443", "SSL::Certificate_Expired | Certificate x expired at", "zeek", ""),
    (False, "x509_client_sha256", "192.0.2.1:443", "aa" * 32, "zeek", "chain_pos=0"),
]
TLS_SELFTEST_V6 = [
    (True, "tls_sni", "[2001:db8:0::1]:443", "www.example.com", "arkime", ""),
    (True, "tls_version", "[2001:db8::1]:443", "TLSv1.3-draft-18", "arkime", ""),
    (True, "tls_version", "*", "TLSv1.3-draft18", "zeek", ""),
    (True, "tls_resumed", "*", "T", "zeek", ""),
    (True, "x509_notice", "[2001:db8::1]:443", "SSL::Certificate_Expired | Certificate x expired at", "zeek", ""),
    (True, "tls_validation_status", "*", "certificate has expired", "zeek", ""),
]


def tls_selftest():
    ok = bad = 0
    for evs, cases in ((_tls_ev(), TLS_SELFTEST),
                       (_tls_ev(server="2001:db8::1", version_name="TLSv1.3-draft-18", resumed=True,
                                status="expired").replace("2025-01-10T00:00:00", "2025-03-01T00:00:00"),
                        TLS_SELFTEST_V6)):
        run = Run("t.pcap")
        run.events, _ = parse_events(evs, run)
        for want, kind, key, value, peer, detail in cases:
            row = Row(["t.pcap", kind, key, value, peer, "", detail], 0)
            got = MATCHERS[kind](row, run)
            if got == want:
                ok += 1
            else:
                bad += 1
                print("selftest FAIL: %s expected %s; we had: %s" % (row.short(), want, what_we_had(row, run)))
    return ok, bad


def selftest():
    ok = bad = 0
    ok, bad = tls_selftest()
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
    if any(k not in DNS_KINDS for k in kinds) and not any(r.tls or r.x509 for r in runs.values()):
        print("note  bindwatch wrote no bindwatch.tls / bindwatch.x509 event for any capture")
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
        if total == 0 and k not in DNS_KINDS:
            continue
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
