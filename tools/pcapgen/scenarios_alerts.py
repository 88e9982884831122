# SPDX-License-Identifier: MIT
"""Alert captures: the demo capture (pcaps/alerts-demo.pcap, fixed
certificates from certs/) and the alert suite (--alert-suite DIR, fresh
certificates made with openssl at test time), for tests/alerts/.

The alert suite is a set of cases. Each case is one capture, one policy
(or none) and the alerts bindwatch must raise on it, written as rows of
DIR/expected.tsv (EXPECTED_COLUMNS):

  kind   alert   exactly one bindwatch.alert event with these fields
         update  exactly one end-of-run "repeat-summary" update event
         none    no alert of this type for this name ("*": any name): the
                 near miss the row's note describes
  type, name, address, port, severity, cert (leaf SHA-256), packet (the
  frame that completes the observation; "-" for an end-of-run alert),
  timestamp (its capture time), repeats, previous (previous_alert), policy
  (text bindwatch.alert.policy must contain), destination (ip:port of the
  event's destination, the flow's server side), evidence (the evidence kinds
  in order), note. "-" = must be absent; "*" = not checked.

Every alert event of a case must be claimed by a row: an alert the truth
does not list is a failure, so a near miss is also checked by the alerts
that do not come. DIR/cases.tsv lists each case's capture, policy and extra
bindwatch arguments. The truth is written here by hand from what each case
is built to contain, never from bindwatch's output.

Certificates of the suite are made by openssl in a temporary directory
(EC P-256 keys, fixed dates, so the verdicts depend on the captures' clock
only); the CA files the policies trust are copied into DIR/ca/.
"""

import base64
import datetime
import hashlib
import os
import shutil
import subprocess
import tempfile

from . import tls as T
from .dns import Message
from .pcapfile import LINKTYPE_ETHERNET, pcap_bytes
from .scenario import BASE_TIME_NS, Capture, TcpSession, scenario
from .scenarios_tls import TlsConn, cert as fixed_cert, finish_12, finish_13, flight_12, server_hello_12, \
    server_hello_13

SEC = 1000000000
C4, C4B, R4 = "192.0.2.10", "192.0.2.11", "198.51.100.53"   # clients, resolver

EXPECTED_COLUMNS = ["case", "kind", "type", "name", "address", "port", "severity", "cert", "packet", "timestamp",
                    "repeats", "previous", "policy", "destination", "evidence", "note"]
CASE_COLUMNS = ["case", "pcap", "policy", "args", "note"]


def iso(ns):
    """RFC 3339 UTC with microseconds, as a pcap (microsecond) timestamp prints."""
    t = datetime.datetime.fromtimestamp(ns // SEC, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (ns % SEC // 1000)


def utc_ns(text):
    """'2025-05-08T09:00:00' (UTC) -> ns since the epoch."""
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * SEC


# ---------------------------------------------------------------- wire helpers (no truth rows)

def tls12(cap, client, server, sni, chain, port=443):
    """One TLS 1.2 connection whose server flight carries chain (DERs);
    returns the frame that completes the flight (the observation's packet)."""
    ch = T.legacy_client(cap.rng, T.TLS12, sni, alpn=("http/1.1",))
    sh = server_hello_12(cap, 0xC02F)
    conn = TlsConn(cap, client, server, port)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    packet = conn.send(1, flight_12(cap, sh, chain, T.TLS12))
    finish_12(cap, conn, T.TLS12)
    conn.close()
    return packet


def tls13(cap, client, server, sni, port=443):
    """One TLS 1.3 connection (certificate encrypted); returns the ServerHello frame."""
    ch = T.chrome_like(cap.rng, sni)
    sh = server_hello_13(cap, 0x1301, session_id=ch.session_id)
    conn = TlsConn(cap, client, server, port)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    packet = conn.send(1, T.record(T.CT_HANDSHAKE, T.TLS12, sh.message()))
    finish_13(cap, conn)
    conn.close()
    return packet


def dns(cap, qname, answers, qtype="A", client=C4, cport=None):
    """A query and its response with answers [(owner, ttl, type, data)];
    returns (response frame, client port)."""
    cport = cport or cap.rng.randint(20000, 60000)
    q = Message(id=cap.rng.randint(1, 65535)).question(qname, qtype)
    r = q.response()
    for owner, ttl, rtype, data in answers:
        r.answer(owner, ttl, rtype, data)
    return cap.exchange(client, R4, q, r, cport=cport), cport


# ---------------------------------------------------------------- the demo capture

DEMO_START = "2025-05-08T09:00:00"
DEMO_DAY2 = "2025-05-20T09:00:00"


@scenario("alerts-demo", "for make demo with examples/demo-policy.yaml: an expiring certificate, a name "
          "mismatch, a DNS answer outside owned networks, a TLS server not in DNS, a certificate changed")
def alerts_demo(cap):
    """Two days of an owner's traffic for alt.example.org (the fixed
    certificates of certs/: leaves valid until 2025-06-01, chained to
    certs/root.pem, which examples/demo-policy.yaml trusts):

    2025-05-08: www.alt.example.org resolves inside 192.0.2.0/24 and serves
    alt.der (*.alt.example.org): nothing to say. shop.alt.example.org
    resolves to 203.0.113.66: dns_unexpected_address. api.alt.example.org
    resolves to 192.0.2.81 but a TLS server answers for it at 192.0.2.99:
    tls_server_not_in_dns. pay.alt.example.org at 192.0.2.82 serves alt.der,
    then (a wrong virtual host) www.der, which is for www.example.com:
    cert_changed and cert_name_mismatch on the same handshake.
    2025-05-20: www.alt.example.org serves the same alt.der again, now 12 days
    before it expires, inside the policy's 14-day lead time: cert_expiring.
    The DNS responses are the truth rows (DNS form), as in every capture."""
    alt, www, inter = fixed_cert("alt"), fixed_cert("www"), fixed_cert("int")
    cap.now_ns = utc_ns(DEMO_START)
    want = cap.demo_alerts = []     # (type, name, address, packet): what tests/alerts/check.py --demo expects

    def dnsx(qname, answers):
        q = Message(id=cap.rng.randint(1, 65535)).question(qname, "A")
        r = q.response()
        for a in answers:
            r.answer(*a)
        return cap.exchange(C4, R4, q, r)

    dnsx("www.alt.example.org", [("www.alt.example.org", 300, "A", "192.0.2.80")])
    tls12(cap, C4, "192.0.2.80", "www.alt.example.org", [alt, inter])
    p = dnsx("shop.alt.example.org", [("shop.alt.example.org", 300, "A", "203.0.113.66")])
    want.append(("dns_unexpected_address", "shop.alt.example.org", "203.0.113.66", p))
    dnsx("api.alt.example.org", [("api.alt.example.org", 300, "A", "192.0.2.81")])
    p = tls12(cap, C4, "192.0.2.99", "api.alt.example.org", [alt, inter])
    want.append(("tls_server_not_in_dns", "api.alt.example.org", "192.0.2.99", p))
    dnsx("pay.alt.example.org", [("pay.alt.example.org", 3600, "A", "192.0.2.82")])
    tls12(cap, C4, "192.0.2.82", "pay.alt.example.org", [alt, inter])
    cap.now_ns += 20 * 60 * SEC
    p = tls12(cap, C4, "192.0.2.82", "pay.alt.example.org", [www, inter])
    want.append(("cert_changed", "pay.alt.example.org", "192.0.2.82", p))
    want.append(("cert_name_mismatch", "pay.alt.example.org", "192.0.2.82", p))
    cap.now_ns = utc_ns(DEMO_DAY2)
    dnsx("www.alt.example.org", [("www.alt.example.org", 300, "A", "192.0.2.80")])
    p = tls12(cap, C4, "192.0.2.80", "www.alt.example.org", [alt, inter])
    want.append(("cert_expiring", "www.alt.example.org", "192.0.2.80", p))
    cap.notes.append("demo alerts: " + ", ".join("%s %s #%d" % (t, n, k) for t, n, _a, k in want))


# ---------------------------------------------------------------- certificates (openssl, test time)

CA_CNF = """[ca]
default_ca = bwca
[bwca]
dir = .
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = anything
unique_subject = no
preserve = yes
copy_extensions = none
[anything]
commonName = optional
countryName = optional
organizationName = optional
organizationalUnitName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
"""

CA_EXT = """[ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LEAF_EXT = """[ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = %s
"""


class Pki:
    """openssl in directory d: EC keys, self-signed CAs and leaves with
    fixed dates (openssl ca -startdate/-enddate)."""

    def __init__(self, d):
        self.d = d
        self.serial = 0x1000
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        open(os.path.join(d, "db", "index.txt"), "w").close()
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF)

    def _run(self, *args):
        p = subprocess.run(["openssl"] + list(args), cwd=self.d, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("openssl %s failed: %s" % (args[0], p.stderr.strip()[-400:]))
        return p.stdout

    def key(self, name):
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", name + ".key")
        der = subprocess.run(["openssl", "pkey", "-in", name + ".key", "-pubout", "-outform", "DER"], cwd=self.d,
                             capture_output=True)
        if der.returncode:
            raise RuntimeError("openssl pkey failed")
        return base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()   # SPKI pin

    def _sign(self, name, key, subj, ext, issuer, start, end):
        self.serial += 1
        with open(os.path.join(self.d, "db", "serial"), "w") as f:
            f.write("%X\n" % self.serial)
        with open(os.path.join(self.d, "db", name + ".ext"), "w") as f:
            f.write(ext)
        self._run("req", "-new", "-key", key + ".key", "-subj", subj, "-utf8", "-config", "ca.cnf",
                  "-out", "db/%s.csr" % name)
        who = ["-selfsign", "-keyfile", key + ".key"] if issuer is None else \
            ["-cert", issuer + ".pem", "-keyfile", issuer + ".key"]
        self._run("ca", "-batch", "-notext", "-utf8", "-preserveDN", "-config", "ca.cnf", *who,
                  "-extfile", "db/%s.ext" % name, "-extensions", "ext", "-startdate", start, "-enddate", end,
                  "-in", "db/%s.csr" % name, "-out", name + ".pem")
        self._run("x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der")
        with open(os.path.join(self.d, name + ".der"), "rb") as f:
            return f.read()

    def ca(self, name, subj, start="20150101000000Z", end="20450101000000Z"):
        self.key(name)
        return self._sign(name, name, subj, CA_EXT, None, start, end)

    def leaf(self, name, issuer, names, start="20230601000000Z", end="20250601000000Z", key="leaf", subj=None):
        """issuer: a CA made by ca(), or None for a self-signed leaf."""
        san = ", ".join("DNS:" + n for n in names)
        return self._sign(name, key, subj or "/CN=" + names[0], LEAF_EXT % san, issuer, start, end)

    def pem(self, name):
        return os.path.join(self.d, name + ".pem")


def make_certs(d):
    """Every certificate of the suite, in d. Returns (ders: name -> DER,
    pins: key name -> SPKI base64). Capture time is 2024-01-02T03:04:05Z."""
    k = Pki(d)
    pins = {"leaf": k.key("leaf"), "other": k.key("other")}
    k.ca("le", "/C=US/O=Let's Encrypt/CN=Bindwatch Test R10")        # maps to letsencrypt.org
    k.ca("otherca", "/O=Bindwatch Other CA/CN=Bindwatch Other Issuing CA")    # in no CAA table row
    k.ca("digi", "/C=US/O=DigiCert Inc/CN=Bindwatch Test DigiCert-like CA")   # digicert.com, not allowed
    k.ca("priv", "/O=Private Corp/CN=Private Corp CA")                 # trusted via extra_ca_files
    k.ca("unknown", "/O=Unknown Issuer Ltd/CN=Unknown CA")              # trusted nowhere
    L = lambda n, iss, names, **kw: (n, k.leaf(n, iss, names, **kw))  # noqa: E731
    ders = dict([
        L("www", "le", ["www.example.com", "example.com"]),
        L("www-renewed", "le", ["www.example.com", "example.com"], start="20231215000000Z",
          end="20240314000000Z"),
        L("other-net", "le", ["other.example.net"]),
        L("wild", "le", ["*.example.com"]),
        L("self", None, ["www.example.com"]),
        L("unk-api", "unknown", ["api.example.com"]),
        L("priv", "priv", ["priv.example.com"]),
        L("expired", "le", ["old.example.com"], start="20220101000000Z", end="20231201000000Z"),
        L("expired-today", "le", ["cur.example.com"], start="20230101000000Z", end="20240601000000Z"),
        # capture time + 21 days = 2024-01-23T03:04:05Z
        L("soon", "le", ["soon.example.com"], start="20231025000000Z", end="20240123020000Z"),
        L("later", "le", ["later.example.com"], start="20231025000000Z", end="20240123040000Z"),
        L("shop-other", "otherca", ["shop.example.com"]),
        L("digi", "digi", ["digi.example.com"]),
        L("www-le2", "le", ["www.example.com"], start="20231201000000Z", end="20240229000000Z"),
        L("pin-api", "le", ["api.example.com", "pinned.example.com"], key="leaf"),
        L("pin-api-other", "le", ["backup.example.com"], key="other"),
        L("multi", "le", ["www.example.com", "app.example.com", "short.example.com", "nodns.example.com",
                          "v6.example.com"]),
        L("changed-a", "le", ["www.example.com"], start="20230601000000Z", end="20240901000000Z"),
        L("changed-b", "le", ["www.example.com"], start="20231220000000Z", end="20240320000000Z"),
        L("app", "le", ["app.example.com"]),
        L("np-other", "le", ["other.example.org"]),
        L("np-self", None, ["self.example.net"]),
        L("np-expired", "le", ["old.example.net"], start="20220101000000Z", end="20231201000000Z"),
        L("ign-other", "le", ["other.example.net"]),
        L("dedup-self", None, ["loop.example.com"]),
    ])
    return k, ders, pins


# ---------------------------------------------------------------- suite cases

class Case:
    def __init__(self, name, note, policy=None, args=()):
        self.name, self.note = name, note
        self.policy, self.args = policy, list(args)
        self.cap = Capture(name, 1)
        self.cap.now_ns = BASE_TIME_NS
        self.rows = []
        self.zones = {}

    def ts(self, packet):
        return self.cap.frames[packet - 1].ts_ns

    def alert(self, type, name, packet, severity, policy, address="-", port="-", cert=None, evidence="-",
              destination="-", repeats=0, previous="-", ts=None, note="-"):
        self.rows.append({
            "kind": "alert", "type": type, "name": name, "address": address, "port": str(port),
            "severity": str(severity), "cert": T.sha256_hex(cert) if cert else "-",
            "packet": str(packet) if packet else "-",
            "timestamp": iso(ts if ts is not None else self.ts(packet)), "repeats": str(repeats),
            "previous": previous, "policy": policy, "destination": destination, "evidence": evidence,
            "note": note})

    def update(self, type, name, repeats, last_ns, previous_ns, note="-"):
        self.rows.append({"kind": "update", "type": type, "name": name, "address": "*", "port": "*",
                          "severity": "*", "cert": "*", "packet": "-", "timestamp": iso(last_ns),
                          "repeats": str(repeats), "previous": iso(previous_ns), "policy": "*",
                          "destination": "*", "evidence": "suppressed", "note": note})

    def none(self, type, name, note):
        r = {c: "*" for c in EXPECTED_COLUMNS}
        r.update(kind="none", type=type, name=name, note=note)
        self.rows.append(r)

    def tls(self, server, sni, chain, port=443, client=C4):
        return tls12(self.cap, client, server, sni, chain, port)

    def dns(self, qname, answers, qtype="A", client=C4):
        return dns(self.cap, qname, answers, qtype, client)

    def dnsr(self, qname, answers, qtype="A", rcode="NOERROR", client=C4):
        """A query and its response with rcode; answers as in dns(). Returns
        (response frame, 'client:port' of the response's destination)."""
        cport = self.cap.rng.randint(20000, 60000)
        q = Message(id=self.cap.rng.randint(1, 65535)).question(qname, qtype)
        r = q.response(rcode=rcode)
        for owner, ttl, rtype, data in answers:
            r.answer(owner, ttl, rtype, data)
        return self.cap.exchange(client, R4, q, r, cport=cport), "%s:%d" % (client, cport)


def build_policy(owned=("example.com",), networks=("192.0.2.0/24", "2001:db8::/32"), ca=("ca/le.pem",),
                 owned_extra=(), certs=(), alerts=()):
    """YAML text of a policy; *_extra are extra lines (already indented) for
    each section."""
    y = ["# made by tools/pcapgen.py --alert-suite (tools/pcapgen/scenarios_alerts.py)", "owned:",
         "  domains: [%s]" % ", ".join(owned),
         "  networks: [%s]" % ", ".join('"%s"' % n for n in networks)]
    y += list(owned_extra)
    c = list(certs)
    if ca:
        c.append("  extra_ca_files: [%s]" % ", ".join(ca))
    if c:
        y += ["certificates:"] + c
    if alerts:
        y += ["alerts:"] + list(alerts)
    return "\n".join(y) + "\n"


def pol_line(text, needle):
    """1-based line of the first line of text containing needle."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise ValueError("%r not in policy" % needle)


def suite_cases(D, pins):
    """The cases, from certificate DERs D (make_certs) and SPKI pins."""
    cases = []
    OWN = "owned.domains: example.com"

    # ---------------------------------------------------------- cert_name_mismatch
    c = Case("cert_name_mismatch", "certificate for other.example.net presented for www.example.com; "
             "*.example.com for one label (near miss) and for two labels", build_policy())
    p = c.tls("192.0.2.21", "www.example.com", [D["other-net"]])
    c.alert("cert_name_mismatch", "www.example.com", p, 3, OWN, "192.0.2.21", 443, D["other-net"], "tls",
            "192.0.2.21:443", note="SAN other.example.net only")
    c.tls("192.0.2.22", "a.example.com", [D["wild"]])
    c.none("cert_name_mismatch", "a.example.com", "near miss: *.example.com covers one label")
    p = c.tls("192.0.2.23", "a.b.example.com", [D["wild"]])
    c.alert("cert_name_mismatch", "a.b.example.com", p, 3, OWN, "192.0.2.23", 443, D["wild"], "tls",
            "192.0.2.23:443", note="*.example.com does not cover two labels")
    c.tls("192.0.2.24", "WWW.Example.COM", [D["www"]])
    c.none("cert_name_mismatch", "www.example.com", "near miss: SNI in upper case, SAN in lower case (at .24)")
    cases.append(c)

    # ---------------------------------------------------------- cert_untrusted
    c = Case("cert_untrusted", "self-signed leaf, leaf from an unknown CA; a private CA given in "
             "certificates.extra_ca_files (near miss)", build_policy(ca=("ca/le.pem", "ca/priv.pem")))
    p = c.tls("192.0.2.31", "www.example.com", [D["self"]])
    c.alert("cert_untrusted", "www.example.com", p, 3, OWN, "192.0.2.31", 443, D["self"], "tls",
            "192.0.2.31:443", note="self-signed")
    p = c.tls("192.0.2.32", "api.example.com", [D["unk-api"]])
    c.alert("cert_untrusted", "api.example.com", p, 3, OWN, "192.0.2.32", 443, D["unk-api"], "tls",
            "192.0.2.32:443", note="issuer Unknown CA in no trust store")
    c.tls("192.0.2.33", "priv.example.com", [D["priv"]])
    c.none("cert_untrusted", "priv.example.com", "near miss: Private Corp CA is in extra_ca_files")
    cases.append(c)

    # ---------------------------------------------------------- cert_expired
    c = Case("cert_expired", "leaf expired 2023-12-01 (before the capture); one valid at capture time "
             "though expired today (near miss: capture time decides)", build_policy())
    p = c.tls("192.0.2.41", "old.example.com", [D["expired"]])
    c.alert("cert_expired", "old.example.com", p, 4, OWN, "192.0.2.41", 443, D["expired"], "tls",
            "192.0.2.41:443")
    c.none("cert_untrusted", "old.example.com", "an expired chain is cert_expired, not cert_untrusted")
    c.tls("192.0.2.42", "cur.example.com", [D["expired-today"]])
    c.none("cert_expired", "cur.example.com", "near miss: valid until 2024-06-01, after the capture")
    cases.append(c)

    # ---------------------------------------------------------- cert_expiring
    c = Case("cert_expiring", "expiry_warning_days 21: notAfter 1 h inside the lead time, and 1 h "
             "outside it (near miss)", build_policy(certs=["  expiry_warning_days: 21"]))
    p = c.tls("192.0.2.51", "soon.example.com", [D["soon"]])
    c.alert("cert_expiring", "soon.example.com", p, 2, "certificates.expiry_warning_days: 21", "192.0.2.51", 443,
            D["soon"], "tls", "192.0.2.51:443", note="notAfter 2024-01-23T02:00:00Z")
    c.tls("192.0.2.52", "later.example.com", [D["later"]])
    c.none("cert_expiring", "later.example.com", "near miss: notAfter 2024-01-23T04:00:00Z, 21 days + 55 min "
           "after the capture")
    cases.append(c)

    # ---------------------------------------------------------- cert_issuer_unexpected
    c = Case("cert_issuer_unexpected", "allowed_issuers [letsencrypt.org]: a CA in no CAA table row, a "
             "DigiCert CA; Let's Encrypt and a renewal by Let's Encrypt (near misses)",
             build_policy(ca=("ca/le.pem", "ca/otherca.pem", "ca/digi.pem"),
                          certs=["  allowed_issuers: [letsencrypt.org]"]))
    p = c.tls("192.0.2.61", "shop.example.com", [D["shop-other"]])
    c.alert("cert_issuer_unexpected", "shop.example.com", p, 3, "certificates.allowed_issuers", "192.0.2.61", 443,
            D["shop-other"], "tls", "192.0.2.61:443", note="issuer O=Bindwatch Other CA")
    p = c.tls("192.0.2.62", "digi.example.com", [D["digi"]])
    c.alert("cert_issuer_unexpected", "digi.example.com", p, 3, "certificates.allowed_issuers", "192.0.2.62",
            443, D["digi"], "tls", "192.0.2.62:443", note="issuer O=DigiCert Inc -> digicert.com, not allowed")
    c.tls("192.0.2.63", "www.example.com", [D["www"]])
    p = c.tls("192.0.2.63", "www.example.com", [D["www-renewed"]])
    c.none("cert_issuer_unexpected", "www.example.com", "near miss: O=Let's Encrypt maps to letsencrypt.org, "
           "first certificate and its renewal")
    c.alert("cert_changed", "www.example.com", p, 1, OWN, "192.0.2.63", 443, D["www-renewed"], "tls",
            "192.0.2.63:443", note="the renewal is a new certificate for the name")
    cases.append(c)

    # ---------------------------------------------------------- cert_pin_mismatch
    pol = build_policy(certs=["  pins:",
                              "    - names: [pinned.example.com]",
                              '      spki_sha256: ["%s"]' % pins["leaf"],
                              "    - names: [api.example.com]",
                              '      spki_sha256: ["sha256/%s"]' % pins["other"]])
    line = pol_line(pol, "names: [api.example.com]")
    c = Case("cert_pin_mismatch", "api.example.com pinned to another key; pinned.example.com presents "
             "its pinned key (near miss)", pol)
    p = c.tls("192.0.2.71", "api.example.com", [D["pin-api"]])
    c.alert("cert_pin_mismatch", "api.example.com", p, 4, "certificates.pins (line %d)" % line, "192.0.2.71",
            443, D["pin-api"], "tls", "192.0.2.71:443")
    c.tls("192.0.2.72", "pinned.example.com", [D["pin-api"]])
    c.none("cert_pin_mismatch", "pinned.example.com", "near miss: the pinned SPKI")
    c.tls("192.0.2.73", "www.example.com", [D["www"]])
    c.none("cert_pin_mismatch", "www.example.com", "a name without a pin")
    cases.append(c)

    # ---------------------------------------------------------- cert_changed
    c = Case("cert_changed", "www.example.com at 192.0.2.81: A, A again, B (alert), A again (seen "
             "before for the name); B at 192.0.2.82 (first sighting there); app.example.com once", build_policy())
    A, B = D["changed-a"], D["changed-b"]
    c.tls("192.0.2.81", "www.example.com", [A])
    c.tls("192.0.2.81", "www.example.com", [A])
    p = c.tls("192.0.2.81", "www.example.com", [B])
    c.alert("cert_changed", "www.example.com", p, 1, OWN, "192.0.2.81", 443, B, "tls", "192.0.2.81:443")
    c.tls("192.0.2.81", "www.example.com", [A])
    c.none("cert_changed", "www.example.com", "near misses: first sighting, the same certificate again, back "
           "to a certificate seen before for the name (only B at frame %d alerts)" % p)
    c.tls("192.0.2.82", "www.example.com", [B])
    c.tls("192.0.2.83", "app.example.com", [D["app"]])
    c.none("cert_changed", "app.example.com", "near miss: first sighting")
    cases.append(c)

    # ---------------------------------------------------------- dns_unexpected_address
    pol = build_policy(owned_extra=[
        "  cloud_resources:",
        "    - assets-example.s3.amazonaws.com",
        '    - "*.example-cdn.azureedge.net"',
        "    - 198.51.100.7",
        "    - 198.51.100.128/25",
        "  zones: [zones/legacy.example.com.zone]"], ca=())
    c = Case("dns_unexpected_address", "owned names answered outside owned.networks (directly, via a "
             "CNAME, IPv6, one of two addresses); near misses inside owned.networks, cloud_resources addresses "
             "and names, the zone file, a name not owned", pol)
    c.zones["legacy.example.com.zone"] = (
        "$ORIGIN legacy.example.com.\n$TTL 300\n"
        "@ IN SOA ns1.example.com. hostmaster.example.com. 2024010201 7200 3600 1209600 300\n"
        "@ IN NS ns1.example.com.\n"
        "@ IN A 203.0.113.50\n")
    UA, UP = "dns_unexpected_address", "owned.domains: example.com; owned.networks"

    def dq(qname, answers, qtype="A"):
        p, port = c.dns(qname, answers, qtype)
        return p, "%s:%d" % (C4, port)
    p, d = dq("evil.example.com", [("evil.example.com", 300, "A", "203.0.113.66")])
    c.alert(UA, "evil.example.com", p, 3, UP, "203.0.113.66", "-", None, "dns", d)
    p, d = dq("cdn.example.com", [("cdn.example.com", 300, "CNAME", "edge.example.net"),
                                  ("edge.example.net", 60, "A", "203.0.113.77")])
    c.alert(UA, "cdn.example.com", p, 3, UP, "203.0.113.77", "-", None, "dns", d, note="via a CNAME to a name "
            "not owned")
    p, d = dq("v6.example.com", [("v6.example.com", 300, "AAAA", "3fff::66")], "AAAA")
    c.alert(UA, "v6.example.com", p, 3, UP, "3fff::66", "-", None, "dns", d)
    p, d = dq("api.example.com", [("api.example.com", 300, "A", "192.0.2.90"),
                                  ("api.example.com", 300, "A", "203.0.113.91")])
    c.alert(UA, "api.example.com", p, 3, UP, "203.0.113.91", "-", None, "dns", d, note="one of two addresses")
    dq("ok.example.com", [("ok.example.com", 300, "A", "192.0.2.80")])
    c.none(UA, "ok.example.com", "near miss: inside owned.networks")
    dq("ok6.example.com", [("ok6.example.com", 300, "AAAA", "2001:db8::80")], "AAAA")
    c.none(UA, "ok6.example.com", "near miss: inside owned.networks (IPv6)")
    dq("cloud.example.com", [("cloud.example.com", 300, "A", "198.51.100.7")])
    c.none(UA, "cloud.example.com", "near miss: a cloud_resources address")
    dq("cloud2.example.com", [("cloud2.example.com", 300, "A", "198.51.100.200")])
    c.none(UA, "cloud2.example.com", "near miss: inside a cloud_resources prefix")
    dq("legacy.example.com", [("legacy.example.com", 300, "A", "203.0.113.50")])
    c.none(UA, "legacy.example.com", "near miss: the address is in the zone file")
    dq("static.example.com", [("static.example.com", 300, "CNAME", "assets-example.s3.amazonaws.com"),
                              ("assets-example.s3.amazonaws.com", 5, "A", "52.216.0.10")])
    c.none(UA, "static.example.com", "near miss: CNAME to a cloud_resources name")
    dq("img.example.com", [("img.example.com", 300, "CNAME", "img.example-cdn.azureedge.net"),
                           ("img.example-cdn.azureedge.net", 60, "A", "13.107.246.10")])
    c.none(UA, "img.example.com", "near miss: CNAME to a name matching a cloud_resources pattern")
    dq("www.example.net", [("www.example.net", 300, "A", "203.0.113.99")])
    c.none(UA, "www.example.net", "near miss: not an owned name")
    cases.append(c)

    # ---------------------------------------------------------- dns_record_drift
    ZONE = ("$ORIGIN example.com.\n$TTL 300\n"
            "@     IN SOA  ns1 hostmaster 2024010201 7200 3600 1209600 300\n"
            "@     IN NS   ns1\n"
            "ns1   IN A    192.0.2.53\n"
            "www   IN A    192.0.2.80\n"
            "www   IN A    192.0.2.81\n"
            "www   IN AAAA 2001:db8::80\n"
            "api   IN A    192.0.2.90\n"
            "mail  IN A    192.0.2.25\n"
            "shop  IN CNAME www\n"
            "blog  IN CNAME hosting.example.net.\n")
    zpol = build_policy(owned_extra=["  zones: [zones/example.com.zone]"], ca=())
    DR, ZP = "dns_record_drift", "owned.zones:"
    c = Case("dns_record_drift", "zone file example.com: an answer not in the zone (a set the zone has, "
             "one it has not); www A 192.0.2.81 never answered while 192.0.2.80 was (end of run)", zpol)
    c.zones["example.com.zone"] = ZONE
    p, _ = c.dns("www.example.com", [("www.example.com", 300, "A", "192.0.2.80")])
    c.none(DR, "www.example.com", "no answer-time alert for www: 192.0.2.80 is in the zone")
    www_last = c.ts(p)
    p, _ = c.dns("api.example.com", [("api.example.com", 300, "A", "192.0.2.90"),
                                     ("api.example.com", 300, "A", "192.0.2.91")])
    c.alert(DR, "api.example.com", p, 2, ZP, evidence="dns,zone", destination="*",
            note="api A 192.0.2.91 is not in the zone, which has api A 192.0.2.90")
    p, _ = c.dns("new.example.com", [("new.example.com", 300, "A", "192.0.2.77")])
    c.alert(DR, "new.example.com", p, 2, ZP, evidence="dns", destination="*",
            note="the zone has no new.example.com A")
    c.alert(DR, "www.example.com", None, 2, ZP, evidence="zone", ts=www_last,
            note="end of run: www A 192.0.2.81 never answered; @timestamp is the last www A answer")
    c.none(DR, "mail.example.com", "zone records of a set never asked for are not drift")
    cases.append(c)

    c = Case("dns_record_drift_replaced", "the only record of a set answered with another value (mail A, "
             "blog CNAME): the answer-time alert, and no end-of-run alert, since no record of the set was "
             "answered", zpol)
    c.zones["example.com.zone"] = ZONE
    p, _ = c.dns("mail.example.com", [("mail.example.com", 300, "A", "192.0.2.26")])
    c.alert(DR, "mail.example.com", p, 2, ZP, evidence="dns,zone", destination="*",
            note="mail A 192.0.2.26 answered, the zone has 192.0.2.25")
    p, _ = c.dns("blog.example.com", [("blog.example.com", 300, "CNAME", "blog.example.net"),
                                      ("blog.example.net", 300, "A", "192.0.2.9")])
    c.alert(DR, "blog.example.com", p, 2, ZP, evidence="dns,zone", destination="*",
            note="blog CNAME blog.example.net answered, the zone has hosting.example.net")
    for n in ("mail.example.com", "blog.example.com"):
        c.none(DR, n, "no end-of-run alert: no record of the set was answered, so none was left out while "
               "others were (the answer-time alert already reports the replacement)")
    cases.append(c)

    c = Case("dns_record_drift_match", "near misses: every answer matches the zone (TTL lower than the "
             "zone's, the set answered across responses to different clients, a compressed CNAME, 0x20 case, "
             "AAAA)", zpol)
    c.zones["example.com.zone"] = ZONE
    c.dns("www.example.com", [("www.example.com", 120, "A", "192.0.2.80")])
    for i in range(11, 15):     # the other half of the set, to other clients (other flows)
        c.dns("www.example.com", [("www.example.com", 300, "A", "192.0.2.81")], client="192.0.2.%d" % i)
    c.dns("shop.example.com", [("shop.example.com", 300, "CNAME", "www.example.com"),
                               ("www.example.com", 300, "A", "192.0.2.80"),
                               ("www.example.com", 300, "A", "192.0.2.81")])
    c.dns("wWw.ExAmPlE.cOm", [("wWw.ExAmPlE.cOm", 60, "A", "192.0.2.80"), ("wWw.ExAmPlE.cOm", 60, "A",
                                                                             "192.0.2.81")])
    c.dns("www.example.com", [("www.example.com", 300, "AAAA", "2001:db8::80")], qtype="AAAA")
    c.dns("ns1.example.com", [("ns1.example.com", 86400, "A", "192.0.2.53")])
    c.none(DR, "*", "every answer is in the zone; every set asked for was fully answered")
    cases.append(c)

    # ---------------------------------------------------------- tls_server_not_in_dns
    NI = "tls_server_not_in_dns"
    c = Case("tls_server_not_in_dns", "DNS gave A, TLS at B (alert); TLS at A within the TTL and through a "
             "CNAME chain (near misses); after the TTL ran out (alert); a name DNS never answered (near miss)",
             build_policy())
    M = D["multi"]
    dp, _ = c.dns("www.example.com", [("www.example.com", 300, "A", "192.0.2.40")])
    p = c.tls("192.0.2.41", "www.example.com", [M])
    c.alert(NI, "www.example.com", p, 3, OWN, "192.0.2.41", 443, M, "tls,dns_binding", "192.0.2.41:443",
            note="DNS said 192.0.2.40")
    c.tls("192.0.2.40", "www.example.com", [M])
    c.none(NI, "www.example.com", "near miss: TLS at the answered address within its TTL (192.0.2.40; only "
           "192.0.2.41 alerts)")
    c.dns("app.example.com", [("app.example.com", 300, "CNAME", "app.edge.example.net"),
                              ("app.edge.example.net", 300, "A", "192.0.2.50")])
    c.tls("192.0.2.50", "app.example.com", [M])
    p = c.tls("192.0.2.51", "app.example.com", [M])
    c.alert(NI, "app.example.com", p, 3, OWN, "192.0.2.51", 443, M, "tls,dns_binding", "192.0.2.51:443",
            note="the CNAME chain leads to 192.0.2.50")
    c.none(NI, "app.example.com", "near miss: the CNAME chain leads to the server (192.0.2.50; only .51 alerts)")
    c.dns("v6.example.com", [("v6.example.com", 300, "AAAA", "2001:db8::40")], qtype="AAAA")
    p = c.tls("2001:db8::41", "v6.example.com", [M], client="2001:db8:1::10")
    c.alert(NI, "v6.example.com", p, 3, OWN, "2001:db8::41", 443, M, "tls,dns_binding", "[2001:db8::41]:443")
    c.dns("short.example.com", [("short.example.com", 30, "A", "192.0.2.60")])
    c.cap.now_ns += 60 * SEC
    p = c.tls("192.0.2.60", "short.example.com", [M])
    c.alert(NI, "short.example.com", p, 3, OWN, "192.0.2.60", 443, M, "tls,dns_binding", "192.0.2.60:443",
            note="TTL 30 s, handshake 60 s later")
    c.tls("192.0.2.70", "nodns.example.com", [M])
    c.none(NI, "nodns.example.com", "near miss: no DNS for the name in the capture")
    cases.append(c)

    dangling_cases(cases, D)
    ns_lame_cases(cases)
    ordering_cases(cases, D)

    # ---------------------------------------------------------- without a policy / owning none
    def third_party(c):
        out = []
        out.append(c.tls("203.0.113.11", "www.example.net", [D["np-other"]]))
        out.append(c.tls("203.0.113.12", "self.example.net", [D["np-self"]]))
        out.append(c.tls("203.0.113.13", "old.example.net", [D["np-expired"]]))
        c.dns("www.example.net", [("www.example.net", 300, "A", "198.51.100.99")])
        return out

    NP = "(no policy"
    c = Case("no_policy", "no -c: certificate faults for any name at severity 1 (name mismatch, "
             "untrusted, expired); DNS is not judged", None, args=["--ca-file", "ca/le.pem"])
    p1, p2, p3 = third_party(c)
    c.alert("cert_name_mismatch", "www.example.net", p1, 1, NP, "203.0.113.11", 443, D["np-other"], "tls",
            "203.0.113.11:443")
    c.alert("cert_untrusted", "self.example.net", p2, 1, NP, "203.0.113.12", 443, D["np-self"], "tls",
            "203.0.113.12:443")
    c.alert("cert_expired", "old.example.net", p3, 1, NP, "203.0.113.13", 443, D["np-expired"], "tls",
            "203.0.113.13:443")
    c.none("dns_unexpected_address", "*", "no policy: DNS answers are not judged")
    cases.append(c)

    c = Case("policy_owns_none", "the no_policy traffic with a policy that owns none of its names: no "
             "alerts", build_policy(owned=("example.com",), ca=("ca/le.pem",)))
    third_party(c)
    c.none("*", "*", "no owned name in the capture")
    cases.append(c)

    # ---------------------------------------------------------- dedup
    def repeated(c, n, period_ns, drift_ns):
        out = []
        for k in range(n):
            c.cap.now_ns = BASE_TIME_NS + k * period_ns + k * drift_ns
            p, _ = c.dns("loop.example.com", [("loop.example.com", 30, "A", "203.0.113.66")], client=C4)
            out.append(p)
        return out

    c = Case("dedup_hour", "the same unexpected address every minute for an hour, suppress_seconds 3600: "
             "one alert, one end-of-run update with the 59 repeats", build_policy(
                 ca=(), alerts=["  suppress_seconds: 3600"]))
    ps = repeated(c, 60, 60 * SEC, 0)
    if c.ts(ps[-1]) - c.ts(ps[0]) >= 3600 * SEC - SEC:
        raise ValueError("dedup_hour: occurrences must stay inside one window")
    c.alert(UA, "loop.example.com", ps[0], 3, UP, "203.0.113.66", "-", None, "dns", "*")
    c.update(UA, "loop.example.com", 59, c.ts(ps[-1]), c.ts(ps[0]))
    cases.append(c)

    c = Case("dedup_window", "the same fault every 60.1 s for 25 minutes, suppress_seconds 600: alerts at "
             "occurrences 0, 10, 20 (each after the window carrying 9 repeats), an update with the last 4",
             build_policy(ca=(), alerts=["  suppress_seconds: 600"]))
    ps = repeated(c, 25, 60 * SEC, SEC // 10)
    for a, b in ((0, 9), (10, 19), (20, 24)):
        if c.ts(ps[b]) - c.ts(ps[a]) >= 600 * SEC - SEC // 2:
            raise ValueError("dedup_window: occurrence %d must be inside the window of %d" % (b, a))
    for a, b in ((0, 10), (10, 20)):
        if c.ts(ps[b]) - c.ts(ps[a]) < 600 * SEC + SEC // 2:
            raise ValueError("dedup_window: occurrence %d must be past the window of %d" % (b, a))
    c.alert(UA, "loop.example.com", ps[0], 3, UP, "203.0.113.66", "-", None, "dns", "*")
    c.alert(UA, "loop.example.com", ps[10], 3, UP, "203.0.113.66", "-", None, "dns", "*", repeats=9,
            previous=iso(c.ts(ps[0])))
    c.alert(UA, "loop.example.com", ps[20], 3, UP, "203.0.113.66", "-", None, "dns", "*", repeats=9,
            previous=iso(c.ts(ps[10])))
    c.update(UA, "loop.example.com", 4, c.ts(ps[24]), c.ts(ps[20]))
    cases.append(c)

    c = Case("dedup_zero", "suppress_seconds 0: every occurrence is an alert (5 in 5 minutes)",
             build_policy(ca=(), alerts=["  suppress_seconds: 0"]))
    ps = repeated(c, 5, 60 * SEC, 0)
    for i, p in enumerate(ps):
        c.alert(UA, "loop.example.com", p, 3, UP, "203.0.113.66", "-", None, "dns", "*",
                previous=iso(c.ts(ps[i - 1])) if i else "-")
    cases.append(c)

    # ---------------------------------------------------------- alerts.ignore
    c = Case("alerts_ignore", "alerts.ignore: cert_name_mismatch for www.example.com and every "
             "dns_unexpected_address; the same faults elsewhere still alert",
             build_policy(alerts=["  ignore:",
                                  "    - type: cert_name_mismatch",
                                  "      names: [www.example.com, .dev.example.com]",
                                  "    - type: dns_unexpected_address"]))
    c.tls("192.0.2.91", "www.example.com", [D["ign-other"]])
    c.none("cert_name_mismatch", "www.example.com", "ignored by name")
    c.tls("192.0.2.92", "a.dev.example.com", [D["ign-other"]])
    c.none("cert_name_mismatch", "a.dev.example.com", "ignored by a .dev.example.com pattern")
    p = c.tls("192.0.2.93", "api.example.com", [D["ign-other"]])
    c.alert("cert_name_mismatch", "api.example.com", p, 3, OWN, "192.0.2.93", 443, D["ign-other"], "tls",
            "192.0.2.93:443", note="not covered by the ignore rule")
    c.dns("evil.example.com", [("evil.example.com", 300, "A", "203.0.113.66")])
    c.none("dns_unexpected_address", "*", "the type is ignored for every name")
    cases.append(c)
    return cases


def _ds_for(owner, flags, alg, key_b64):
    """(key tag, SHA-256 DS digest hex) of a DNSKEY (RFC 4034 5.1.4, appendix B)."""
    rd = bytes([flags >> 8, flags & 0xFF, 3, alg]) + base64.b64decode(key_b64)
    ac = sum(b if i & 1 else b << 8 for i, b in enumerate(rd))
    ac += (ac >> 16) & 0xFFFF
    wire = b"".join(bytes([len(lab)]) + lab.encode() for lab in owner.lower().split(".")) + b"\0"
    return ac & 0xFFFF, hashlib.sha256(wire + rd).hexdigest().upper()


def dangling_cases(cases, D):
    """Dangling records and DNS trust hygiene (sensor/detect_dangling.c)."""
    OWN = "owned.domains: example.com"
    UA, UP = "dns_unexpected_address", "owned.domains: example.com; owned.networks"

    # ---------------------------------------------------------- dangling_cname
    DC = "dangling_cname"
    c = Case(DC, "CNAME to an S3 name answering NXDOMAIN in the same response (high); a CNAME whose target "
             "answers NXDOMAIN in a later response (a stale alias, medium); near misses: a CNAME to a claimed "
             "bucket that resolves, a name not owned",
             build_policy(ca=(), owned_extra=["  cloud_resources:", "    - claimed-example.s3.amazonaws.com"]))
    p, d = c.dnsr("assets.example.com", [("assets.example.com", 300, "CNAME", "assets-old-example.s3.amazonaws.com")],
                  rcode="NXDOMAIN")
    c.alert(DC, "assets.example.com", p, 3, OWN, evidence="dns,dns,dns", destination=d,
            note="s3.amazonaws.com is a Vulnerable takeover suffix; NXDOMAIN in the same response")
    c.dnsr("old.example.com", [("old.example.com", 300, "CNAME", "gone.example.net")])
    c.cap.now_ns += 120 * SEC
    p, d = c.dnsr("gone.example.net", [], rcode="NXDOMAIN")
    c.alert(DC, "old.example.com", p, 2, OWN, evidence="dns,dns,dns", destination=d,
            note="the NXDOMAIN of the target came 2 minutes after the CNAME, in its own response")
    c.dnsr("static.example.com", [("static.example.com", 300, "CNAME", "claimed-example.s3.amazonaws.com"),
                                  ("claimed-example.s3.amazonaws.com", 5, "A", "52.216.0.10")])
    c.none(DC, "static.example.com", "near miss: the bucket is claimed (it resolves, and is in cloud_resources)")
    c.dnsr("x.example.org", [("x.example.org", 300, "CNAME", "gone-x.s3.amazonaws.com")], rcode="NXDOMAIN")
    c.none(DC, "x.example.org", "near miss: not an owned name")
    cases.append(c)

    # ---------------------------------------------------------- dangling_cloud_address
    CA = "dangling_cloud_address"
    c = Case(CA, "an owned name answered with an AWS S3 address not in cloud_resources (high), then a TLS "
             "server there presenting a certificate for another name (critical); near misses: an address in the "
             "range listed in cloud_resources, an owned network",
             build_policy(owned_extra=["  cloud_resources:", "    - 52.216.0.77"]))
    p, d = c.dnsr("app.example.com", [("app.example.com", 300, "A", "52.216.1.10")])
    c.alert(CA, "app.example.com", p, 3, "owned.cloud_resources", "52.216.1.10", evidence="dns", destination=d,
            note="52.216.0.0/15 is AWS S3 in data/cloud-ranges.tsv")
    c.alert(UA, "app.example.com", p, 3, UP, "52.216.1.10", evidence="dns", destination=d)
    p = c.tls("52.216.1.10", "app.example.com", [D["other-net"]])
    c.alert(CA, "app.example.com", p, 4, "owned.cloud_resources", "52.216.1.10", 443, D["other-net"],
            "tls,dns_binding", "52.216.1.10:443", note="the certificate there is for other.example.net")
    c.alert("cert_name_mismatch", "app.example.com", p, 3, OWN, "52.216.1.10", 443, D["other-net"], "tls",
            "52.216.1.10:443")
    c.dnsr("ours.example.com", [("ours.example.com", 300, "A", "52.216.0.77")])
    c.none(CA, "ours.example.com", "near miss: the address is listed in owned.cloud_resources")
    c.dnsr("www.example.com", [("www.example.com", 300, "A", "192.0.2.80")])
    c.none(CA, "www.example.com", "near miss: inside owned.networks")
    cases.append(c)

    # ---------------------------------------------------------- mx_dangling
    MX = "mx_dangling"
    c = Case(MX, "MX under a takeover-prone suffix (azurewebsites.net); MX whose target answers NXDOMAIN "
             "later; near miss: an MX target that resolves", build_policy(ca=()))
    p, d = c.dnsr("example.com", [("example.com", 300, "MX", "10 mx-old.azurewebsites.net")], qtype="MX")
    c.alert(MX, "example.com", p, 3, OWN, evidence="dns", destination=d)
    c.dnsr("shop.example.com", [("shop.example.com", 300, "MX", "10 mx.gone-provider.example.net")], qtype="MX")
    p, d = c.dnsr("mx.gone-provider.example.net", [], rcode="NXDOMAIN")
    c.alert(MX, "shop.example.com", p, 3, OWN, evidence="dns,dns", destination=d,
            note="the target's NXDOMAIN came in a later response")
    c.dnsr("corp.example.com", [("corp.example.com", 300, "MX", "10 mx1.example.com")], qtype="MX")
    c.dnsr("mx1.example.com", [("mx1.example.com", 300, "A", "192.0.2.25")])
    c.none(MX, "corp.example.com", "near miss: the MX target resolves")
    cases.append(c)

    # ---------------------------------------------------------- email_auth_weak
    EW = "email_auth_weak"
    c = Case(EW, "SPF ending in ?all, DMARC p=none, two SPF records, DMARC NXDOMAIN, SPF with no all; near "
             "misses: SPF -all and DMARC p=reject", build_policy(ca=()))
    p, d = c.dnsr("example.com", [("example.com", 300, "TXT", '"v=spf1 include:_spf.example.net ?all"')], "TXT")
    c.alert(EW, "example.com", p, 2, OWN, evidence="dns", destination=d, note="?all")
    p, d = c.dnsr("_dmarc.example.com", [("_dmarc.example.com", 300, "TXT", '"v=DMARC1; p=none; rua=mailto:d@example.com"')],
                  "TXT")
    c.alert(EW, "example.com", p, 2, OWN, evidence="dns", destination=d, note="p=none")
    p, d = c.dnsr("shop.example.com", [("shop.example.com", 300, "TXT", '"v=spf1 mx -all"'),
                                       ("shop.example.com", 300, "TXT", '"v=spf1 " "a -all"')], "TXT")
    c.alert(EW, "shop.example.com", p, 2, OWN, evidence="dns", destination=d, note="two SPF records")
    p, d = c.dnsr("_dmarc.shop.example.com", [], "TXT", rcode="NXDOMAIN")
    c.alert(EW, "shop.example.com", p, 2, OWN, evidence="dns", destination=d, note="no DMARC record")
    p, d = c.dnsr("mail.example.com", [("mail.example.com", 300, "TXT", '"v=spf1 mx"')], "TXT")
    c.alert(EW, "mail.example.com", p, 2, OWN, evidence="dns", destination=d, note="no all mechanism")
    c.dnsr("good.example.com", [("good.example.com", 300, "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"'),
                                ("good.example.com", 300, "TXT", '"google-site-verification=abc"')], "TXT")
    c.dnsr("_dmarc.good.example.com", [("_dmarc.good.example.com", 300, "TXT", '"v=DMARC1; p=reject; pct=100"')],
           "TXT")
    c.none(EW, "good.example.com", "near miss: SPF -all (and a non-SPF TXT), DMARC p=reject")
    cases.append(c)

    # ---------------------------------------------------------- caa_violation / caa_missing
    CV = "caa_violation"
    c = Case(CV, "CAA of example.com allows only digicert.com: a Let's Encrypt certificate for www.example.com "
             "and example.com (tree climbing from www); CAA of example.org allows letsencrypt.org (near miss); "
             "example.net has no CAA (caa_missing)", build_policy(owned=("example.com", "example.org", "example.net")))
    c.dnsr("example.com", [("example.com", 300, "CAA", '0 issue "digicert.com"'),
                           ("example.com", 300, "CAA", '0 iodef "mailto:sec@example.com"')], "CAA")
    p = c.tls("192.0.2.20", "www.example.com", [D["www"]])
    for n in ("www.example.com", "example.com"):
        c.alert(CV, n, p, 3, OWN, "192.0.2.20", 443, D["www"], "tls,dns", "192.0.2.20:443",
                note="issuer O=Let's Encrypt -> letsencrypt.org; CAA at example.com allows digicert.com")
    c.dnsr("example.org", [("example.org", 300, "CAA", '0 issue "letsencrypt.org; validationmethods=dns-01"')],
           "CAA")
    c.tls("192.0.2.21", "other.example.org", [D["np-other"]])
    c.none(CV, "other.example.org", "near miss: the CAA of example.org allows letsencrypt.org")
    p, d = c.dnsr("example.net", [], "CAA")
    c.alert("caa_missing", "example.net", p, 1, "owned.domains: example.net", evidence="dns", destination=d)
    c.none("caa_missing", "example.com", "near miss: example.com has CAA records")
    cases.append(c)

    # ---------------------------------------------------------- zone_transfer_open
    ZT = "zone_transfer_open"
    pol = build_policy(ca=()) + 'dns:\n  allowed_transfer_clients: ["192.0.2.53"]\n'
    c = Case(ZT, "an AXFR of example.com over TCP to 203.0.113.5 (3 names, 4 records exposed); the same "
             "transfer to the allowed secondary 192.0.2.53 (near miss)", pol)

    def axfr(client, cport):
        s = TcpSession(c.cap, client, R4, cport)
        s.handshake()
        q = Message(id=c.cap.rng.randint(1, 65535)).question("example.com", "AXFR")
        r = q.response(aa=True)
        soa = "ns1.example.com hostmaster.example.com 2024010201 7200 3600 1209600 300"
        for a in (("example.com", 300, "SOA", soa), ("example.com", 300, "NS", "ns1.example.com"),
                  ("www.example.com", 300, "A", "192.0.2.80"), ("mail.example.com", 300, "A", "192.0.2.25"),
                  ("example.com", 300, "SOA", soa)):
            r.answer(*a)
        s.send_dns(0, [q])
        frames = s.send_dns(1, [r])
        s.close()
        return frames[-1]
    p = axfr("203.0.113.5", 40100)
    c.alert(ZT, "example.com", p, 4, "dns.allowed_transfer_clients", "203.0.113.5", evidence="dns",
            destination="*", note="3 names (example.com, www, mail), 4 records before the closing SOA")
    axfr("192.0.2.53", 40101)
    c.none(ZT, "*", "near miss: only the transfer to 203.0.113.5 alerts; 192.0.2.53 is allowed")
    cases.append(c)

    # ---------------------------------------------------------- dnssec
    SE, RR = "dnssec_signature_expiring", "dnssec_rollover_risk"
    now_s = BASE_TIME_NS // SEC

    def sig(covered, exp_s, tag=12345, signer="example.com"):
        t = lambda v: datetime.datetime.fromtimestamp(v, datetime.timezone.utc).strftime("%Y%m%d%H%M%S")  # noqa: E731
        return "%s 13 3 300 %s %s %d %s %s" % (covered, t(exp_s), t(now_s - 7 * 86400), tag, signer,
                                               base64.b64encode(b"\x01" * 64).decode())
    KEY = base64.b64encode(bytes(range(64))).decode()
    KEY2 = base64.b64encode(bytes(range(1, 65))).decode()
    tag_org, dig_org = _ds_for("example.org", 257, 13, KEY)
    tag_com, _ = _ds_for("example.com", 257, 13, KEY2)
    c = Case(SE, "expiry_warning_days 21: an RRSIG expiring in 5 days (high), one expired a day ago "
             "(critical), one valid 30 days (near miss); a DS of example.com matching no DNSKEY seen (end of run, "
             "rollover risk) and a DS of example.org that matches (near miss)",
             build_policy(owned=("example.com", "example.org"), ca=(), certs=["  expiry_warning_days: 21"]))
    p, d = c.dnsr("www.example.com", [("www.example.com", 300, "A", "192.0.2.80"),
                                      ("www.example.com", 300, "RRSIG", sig("A", now_s + 5 * 86400))])
    c.alert(SE, "www.example.com", p, 3, "certificates.expiry_warning_days: 21", evidence="dns", destination=d)
    p, d = c.dnsr("api.example.com", [("api.example.com", 300, "A", "192.0.2.90"),
                                      ("api.example.com", 300, "RRSIG", sig("A", now_s - 86400))])
    c.alert(SE, "api.example.com", p, 4, "certificates.expiry_warning_days: 21", evidence="dns", destination=d,
            note="expired before the capture")
    c.dnsr("ok.example.com", [("ok.example.com", 300, "A", "192.0.2.91"),
                              ("ok.example.com", 300, "RRSIG", sig("A", now_s + 30 * 86400))])
    c.none(SE, "ok.example.com", "near miss: valid 30 days, past the 21-day window")
    c.dnsr("example.com", [("example.com", 3600, "DNSKEY", "257 3 13 " + KEY2),
                           ("example.com", 3600, "RRSIG", sig("DNSKEY", now_s + 60 * 86400, tag_com))], "DNSKEY")
    dsp, _ = c.dnsr("example.com", [("example.com", 3600, "DS", "%d 13 2 %s" % ((tag_com + 1) & 0xFFFF, "AB" * 32))],
                    "DS")
    c.alert(RR, "example.com", None, 3, OWN, evidence="dns,dns", ts=c.ts(dsp),
            note="end of run: the DS key tag matches no DNSKEY of the zone; @timestamp is the DS answer")
    c.dnsr("example.org", [("example.org", 3600, "DNSKEY", "257 3 13 " + KEY)], "DNSKEY")
    c.dnsr("example.org", [("example.org", 3600, "DS", "%d 13 2 %s" % (tag_org, dig_org))], "DS")
    c.none(RR, "example.org", "near miss: the DS digest matches the DNSKEY")
    cases.append(c)


def alert_suite(outdir):
    """Make the certificates, write every case's capture, policy and zone
    files, DIR/ca/*.pem, DIR/cases.tsv and DIR/expected.tsv. Returns the
    paths written."""
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bw-alertcerts-")
    try:
        pki, ders, pins = make_certs(tmp)
        os.makedirs(os.path.join(outdir, "ca"), exist_ok=True)
        for n in ("le", "otherca", "digi", "priv"):
            shutil.copyfile(pki.pem(n), os.path.join(outdir, "ca", n + ".pem"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cases = suite_cases(ders, pins)
    written = []
    rows, crow = [], []
    for c in cases:
        pcap = os.path.join(outdir, c.name + ".pcap")
        with open(pcap, "wb") as f:
            f.write(pcap_bytes(c.cap.frames, LINKTYPE_ETHERNET))
        written.append(pcap)
        pol = "-"
        if c.policy is not None:
            pol = c.name + ".yaml"
            with open(os.path.join(outdir, pol), "w") as f:
                f.write(c.policy)
            written.append(os.path.join(outdir, pol))
        for zname, text in c.zones.items():
            os.makedirs(os.path.join(outdir, "zones"), exist_ok=True)
            with open(os.path.join(outdir, "zones", zname), "w") as f:
                f.write(text)
        crow.append([c.name, c.name + ".pcap", pol, " ".join(c.args) or "-", c.note])
        for r in c.rows:
            rows.append([c.name] + [r[k] for k in EXPECTED_COLUMNS[1:]])
    for name, cols, data in (("cases.tsv", CASE_COLUMNS, crow), ("expected.tsv", EXPECTED_COLUMNS, rows)):
        path = os.path.join(outdir, name)
        with open(path, "w") as f:
            f.write("\t".join(cols) + "\n")
            for r in data:
                for v in r:
                    if "\t" in v or "\n" in v:
                        raise ValueError("tab or newline in %r" % v)
                f.write("\t".join(r) + "\n")
        written.append(path)
    return written


def ns_lame_cases(cases):
    """ns_lame_delegation (sensor/detect_dangling.c): the resolver R4 walks
    delegations of owned zones; a nameserver named by an NS answer or a
    referral answers REFUSED / SERVFAIL for the zone, NXDOMAIN for its apex,
    or its own name does not resolve. Hosted-provider nameservers
    (data/takeover-services.tsv NS rows) are high, others medium. The
    observations come in every order: the failure after the delegation,
    before it, before the nameserver's address is known."""
    NL = "ns_lame_delegation"
    OWN = "owned.domains: example.com"
    PARENT = "192.0.2.1"        # the server of example.com, which delegates the zones below
    c = Case(NL, "lame delegations of zones under example.com: REFUSED from a Route 53 nameserver (high), "
             "SERVFAIL seen before the delegation and the nameserver's address (medium), NXDOMAIN for the apex "
             "from a DigitalOcean nameserver seen before the referral (high), a nameserver name answering "
             "NXDOMAIN (medium) and one with neither A nor AAAA (Google Cloud DNS, high); near misses: NXDOMAIN "
             "for a name inside a healthy delegation, a zone not owned, a nameserver answering NOERROR, a "
             "nameserver without AAAA, REFUSED from the resolver itself", build_policy(ca=()))

    def auth(server, qname, qtype="A", rcode="NOERROR", answer=(), authority=(), additional=(), aa=False,
             client=R4):
        """One query from client to server and its response; returns (frame, 'client:port')."""
        cport = c.cap.rng.randint(20000, 60000)
        q = Message(id=c.cap.rng.randint(1, 65535), rd=False).question(qname, qtype)
        r = q.response(rcode=rcode, aa=aa)
        for a in answer:
            r.answer(*a)
        for a in authority:
            r.authority(*a)
        for a in additional:
            r.additional(*a)
        return c.cap.exchange(client, server, q, r, cport=cport), "%s:%d" % (client, cport)

    SOA = ("example.com", 300, "SOA", "ns1.example.com hostmaster.example.com 2024010201 7200 3600 1209600 300")

    # 1. referral (no glue: the nameserver is out of bailiwick), its address from an answer, then REFUSED
    R53, R53IP = "ns-1234.awsdns-12.org", "205.251.196.210"
    auth(PARENT, "www.shop.example.com", authority=[("shop.example.com", 86400, "NS", R53)])
    auth("192.0.2.250", R53, answer=[(R53, 172800, "A", R53IP)], aa=True)
    p, d = auth(R53IP, "www.shop.example.com", rcode="REFUSED")
    c.alert(NL, "shop.example.com", p, 3, OWN, R53IP, evidence="dns,dns", destination=d,
            note="Route 53 (hosted): REFUSED for a name of the zone from the referral's nameserver")

    # 2. SERVFAIL first; then the NS answer; then the nameserver's address completes the set
    LEG, LEGIP = "ns1.legacy-dns.example.net", "203.0.113.53"
    auth(LEGIP, "api.legacy.example.com", rcode="SERVFAIL")
    c.cap.now_ns += 60 * SEC
    auth(PARENT, "legacy.example.com", "NS", answer=[("legacy.example.com", 3600, "NS", LEG)], aa=True)
    p, d = auth("192.0.2.251", LEG, answer=[(LEG, 3600, "A", LEGIP)], aa=True)
    c.alert(NL, "legacy.example.com", p, 2, OWN, LEGIP, evidence="dns,dns,dns", destination=d,
            note="not a hosted provider: medium; the SERVFAIL came a minute before the delegation")

    # 3. NXDOMAIN for the apex, then the referral with glue
    DO, DOIP = "ns1.digitalocean.com", "173.245.58.51"
    auth(DOIP, "blog.example.com", "SOA", rcode="NXDOMAIN")
    c.cap.now_ns += 30 * SEC
    p, d = auth(PARENT, "blog.example.com", "SOA", authority=[("blog.example.com", 86400, "NS", DO)],
                additional=[(DO, 86400, "A", DOIP)])
    c.alert(NL, "blog.example.com", p, 3, OWN, DOIP, evidence="dns,dns", destination=d,
            note="DigitalOcean (hosted, Vulnerable): NXDOMAIN for the zone's apex, 30 s before the referral")

    # 4. the nameserver's own name answers NXDOMAIN
    GONE = "ns1.expired-dns.example.net"
    auth(PARENT, "mail.example.com", "NS", answer=[("mail.example.com", 3600, "NS", GONE)], aa=True)
    p, d = auth("192.0.2.251", GONE, rcode="NXDOMAIN",
                authority=[("example.net", 300, "SOA", "ns.example.net hostmaster.example.net 1 7200 3600 "
                            "1209600 300")], aa=True)
    c.alert(NL, "mail.example.com", p, 2, OWN, evidence="dns,dns", destination=d,
            note="the nameserver name does not exist: medium (not a hosted provider)")

    # 5. a hosted nameserver name with neither A nor AAAA (NODATA for both)
    GCP = "ns-cloud-z9.googledomains.com"
    auth(PARENT, "www.cdn.example.com", authority=[("cdn.example.com", 86400, "NS", GCP)])
    gsoa = ("googledomains.com", 300, "SOA", "ns-cloud-a1.googledomains.com dns-admin.google.com 1 21600 3600 "
            "259200 300")
    auth("216.239.32.106", GCP, authority=[gsoa], aa=True)
    p, d = auth("216.239.32.106", GCP, "AAAA", authority=[gsoa], aa=True)
    c.alert(NL, "cdn.example.com", p, 3, OWN, evidence="dns,dns,dns", destination=d,
            note="Google Cloud DNS (hosted): NOERROR without an A, then without an AAAA")

    # near misses
    NS1, NS1IP = "ns1.example.com", "192.0.2.53"
    auth(PARENT, "www.example.com", authority=[("example.com", 86400, "NS", NS1)],
         additional=[(NS1, 86400, "A", NS1IP)])
    auth(NS1IP, "www.example.com", answer=[("www.example.com", 300, "A", "192.0.2.80")], aa=True)
    auth(NS1IP, "nothere.example.com", rcode="NXDOMAIN", authority=[SOA], aa=True)
    auth(NS1IP, NS1, "AAAA", authority=[SOA], aa=True)
    c.none(NL, "example.com", "near misses: NXDOMAIN for a name inside a healthy delegation, NOERROR answers, "
           "NODATA for the nameserver's AAAA only (it has an A)")
    DO2, DO2IP = "ns2.digitalocean.com", "173.245.59.41"
    auth("192.0.2.2", "www.example.org", authority=[("example.org", 86400, "NS", DO2)],
         additional=[(DO2, 86400, "A", DO2IP)])
    auth(DO2IP, "www.example.org", rcode="REFUSED")
    c.none(NL, "example.org", "near miss: example.org is not owned")
    auth(PARENT, "www.ok.example.com", authority=[("ok.example.com", 86400, "NS", "ns1.ok-dns.example.net")],
         additional=[("ns1.ok-dns.example.net", 86400, "A", "203.0.113.54")])
    auth("203.0.113.54", "www.ok.example.com", answer=[("www.ok.example.com", 300, "A", "192.0.2.81")], aa=True)
    auth("203.0.113.54", "ok.example.com", "SOA", answer=[("ok.example.com", 300, "SOA", "ns1.ok-dns.example.net "
                                                          "h.example.com 1 7200 3600 1209600 300")], aa=True)
    c.none(NL, "ok.example.com", "near miss: the delegated nameserver answers NOERROR")
    c.dnsr("www.shop.example.com", [], rcode="SERVFAIL")
    c.none(NL, "www.shop.example.com", "near miss: SERVFAIL from the resolver to a client (R4 is no nameserver "
           "of the zone; only the Route 53 REFUSED alerts for shop.example.com)")
    cases.append(c)


def ordering_cases(cases, D):
    """Multi-worker ordering (sensor/pipeline.c, the detection turnstile). Each DNS
    answer comes after a backlog of other UDP frames on its own address pair, so
    the worker that gets it is busy; the TLS handshake that depends on it follows at
    once on another pair, which may reach an idle worker. In capture order the
    answer comes first, so every handshake at the other address alerts; a run whose
    detectors saw the handshake first would find no DNS binding and stay silent."""
    NI = "tls_server_not_in_dns"
    OWN = "owned.domains: example.com"
    c = Case("multi_worker_order", "DNS answer behind a backlog on its worker, the TLS handshake that needs "
             "it right after on another flow: alerts as in capture order, with any number of workers",
             build_policy())
    W = D["wild"]   # *.example.com: the names are covered, only the binding is at stake
    for i in range(8):
        client = "192.0.2.%d" % (100 + i)
        name = "order%d.example.com" % i
        for k in range(600):
            c.cap.udp(client, R4, 40000 + k % 50, 9999, b"backlog" * 8)
        c.dns(name, [(name, 300, "A", "192.0.2.%d" % (200 + i))], client=client)
        server = "192.0.2.%d" % (220 + i)
        p = c.tls(server, name, [W], client=client)
        c.alert(NI, name, p, 3, OWN, server, 443, W, "tls,dns_binding", server + ":443",
                note="DNS said 192.0.2.%d, just before, on a busy worker" % (200 + i))
    cases.append(c)
