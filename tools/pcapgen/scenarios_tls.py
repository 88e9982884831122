# SPDX-License-Identifier: MIT
"""The bundled TLS captures (pcaps/tls-*.pcap) and the certificate
validation suite (--tls-validation-suite).

Each handshake records one truth row (TLS_TRUTH_COLUMNS) with what a sensor
must report for it, taken from the objects the bytes were built from (the
ClientHello/ServerHello objects of tls.py and the DER blobs), never from
parsing the capture back. A value "*" means "not checked" (a field of a
deliberately malformed handshake whose reading is the sensor's business),
"-" means "must be absent or empty".

Certificates of the bundled captures are fixed DER files in certs/ (see
certs/README.md), so these captures regenerate byte-identically without
openssl. The validation suite instead runs tools/certgen.sh at test time and
wraps what it makes.
"""

import os
import shutil
import subprocess
import tempfile

from . import net
from . import tls as T
from .pcapfile import pcap_bytes, LINKTYPE_ETHERNET
from .scenario import BASE_TIME_NS, Capture, TcpSession, scenario

TLS_TRUTH_COLUMNS = ["file", "packet", "frames", "client", "server", "protocol", "event", "sni", "version",
                     "cipher", "alpn_offered", "alpn", "ja3", "ja3_string", "ja3s", "ja4", "cert_visible",
                     "chain", "validation", "hrr", "starttls", "note"]

HERE = os.path.dirname(os.path.abspath(__file__))
CERT_DIR = os.path.join(HERE, "certs")
REPO = os.path.dirname(os.path.dirname(HERE))

C4, C6 = "192.0.2.10", "2001:db8:1::10"


def cert(name):
    with open(os.path.join(CERT_DIR, name + ".der"), "rb") as f:
        return f.read()


def ep(ip, port):
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def rand(cap, n):
    return bytes(cap.rng.getrandbits(8) for _ in range(n))


# ---------------------------------------------------------------- one TCP connection

class TlsConn:
    """A TCP connection carrying TLS: a TcpSession, the frame range it
    occupies, and the frame that completes what the sensor needs."""

    def __init__(self, cap, client, server, sport, cport=None, mss=1460, syn=True):
        self.cap = cap
        self.client, self.server, self.sport = client, server, sport
        self.cport = cport or cap.rng.randint(32768, 60999)
        self.first = len(cap.frames) + 1
        self.s = TcpSession(cap, client, server, self.cport, sport, mss=mss)
        if syn:
            self.s.handshake()
        self.packet = None

    def send(self, d, data, **kw):
        """Send data in direction d (0 = client to server); returns the frame
        at which these bytes are complete."""
        start = self.s.next[d]
        self.s.send(d, data, **kw)
        return self.s.completion_frame(d, start + len(data), start=start)

    def close(self):
        self.s.close()
        self.last = len(self.cap.frames)

    @property
    def frames(self):
        return "%d-%d" % (self.first, self.last)


def truth(cap, conn, ch=None, sh=None, chain=None, protocol="tls", event="yes", validation=None, hrr=False,
          starttls="-", note="-", overrides=None, frames=None, packet=None, client=None, server=None):
    """Record the truth row of one handshake. ch/sh: the ClientHello /
    ServerHello objects sent; chain: the DER blobs of the Certificate message
    (None: no Certificate visible)."""
    r = {"file": None, "packet": packet if packet is not None else conn.packet,
         "frames": frames or conn.frames,
         "client": client or ep(conn.client, conn.cport), "server": server or ep(conn.server, conn.sport),
         "protocol": protocol, "event": event, "hrr": "true" if hrr else "false", "starttls": starttls,
         "note": note}
    if ch is not None:
        r["sni"] = ch.sni if ch.sni is not None else "-"
        r["alpn_offered"] = ",".join(ch.alpn) or "-"
        r["ja3_string"] = ch.ja3_string()
        r["ja3"] = ch.ja3()
        r["ja4"] = ch.ja4("d" if protocol == "dtls" else "t")
    else:
        r.update(sni="*", alpn_offered="*", ja3_string="*", ja3="*", ja4="*")
    if sh is not None:
        r["version"] = T.version_name(sh.selected_version)
        r["cipher"] = T.cipher_name(sh.cipher)
        r["alpn"] = sh.alpn or "-"
        r["ja3s"] = sh.ja3s()
        if sh.selected_version == T.TLS13:
            r["alpn"] = "-"   # TLS 1.3 sends ALPN in the encrypted EncryptedExtensions
    else:
        r.update(version="*", cipher="*", alpn="*", ja3s="*")
    if chain is not None:
        r["cert_visible"] = "true"
        r["chain"] = ",".join(T.sha256_hex(d) for d in chain) or "-"
        r["validation"] = validation or "*"
    elif sh is not None:
        r["cert_visible"] = "false"
        r["chain"] = "-"
        r["validation"] = "-"
    else:
        r.update(cert_visible="*", chain="*", validation="*")
    r.update(overrides or {})
    cap.truth.append(r)
    return r


def tls_cap(cap):
    cap.truth_columns = TLS_TRUTH_COLUMNS


# ---------------------------------------------------------------- handshake shapes

def server_hello_12(cap, cipher, alpn=None, version=T.TLS12, ems=True, points=True, session_id=None):
    exts = [T.ext_reneg_info()]
    if ems:
        exts.append(T.ext_empty(T.EXT_EXTENDED_MASTER_SECRET))
    if points:
        exts.append(T.ext_point_formats((0,)))
    if alpn:
        exts.append(T.ext_alpn_selected(alpn))
    return T.ServerHello(cap.rng, version, cipher, exts, session_id=session_id)


def server_hello_13(cap, cipher=0x1301, group=T.GROUP_X25519, session_id=b""):
    return T.ServerHello(cap.rng, T.TLS12, cipher,
                         [T.ext_key_share_server(cap.rng, group), T.ext_selected_version(T.TLS13)],
                         session_id=session_id)


def flight_12(cap, sh, chain, rec_version, max_frag=16384, ske=True, cert_msg=None):
    """Server's first flight for TLS <= 1.2: ServerHello, Certificate,
    [ServerKeyExchange], ServerHelloDone, as records of rec_version."""
    msgs = sh.message() + (cert_msg if cert_msg is not None else T.certificate(chain))
    if ske:
        msgs += T.server_key_exchange(cap.rng)
    msgs += T.server_hello_done()
    return T.records(T.CT_HANDSHAKE, rec_version, msgs, max_frag)


def finish_12(cap, conn, rec_version):
    """Client key exchange, CCS and encrypted Finished both ways, then a
    little application data: bytes a sensor must not parse as handshakes
    (the encrypted Finished has content type handshake)."""
    cke = T.handshake(16, T.vec8(b"\x04" + rand(cap, 64)))
    conn.send(0, T.record(T.CT_HANDSHAKE, rec_version, cke) + T.change_cipher_spec(rec_version) +
              T.record(T.CT_HANDSHAKE, rec_version, rand(cap, 40)))
    conn.send(1, T.change_cipher_spec(rec_version) + T.record(T.CT_HANDSHAKE, rec_version, rand(cap, 40)))
    conn.send(0, T.record(T.CT_APPDATA, rec_version, rand(cap, 180)))
    conn.send(1, T.record(T.CT_APPDATA, rec_version, rand(cap, 700)))


def finish_13(cap, conn):
    """After a TLS 1.3 ServerHello: CCS (middlebox compatibility) and
    encrypted records (EncryptedExtensions, Certificate, CertificateVerify,
    Finished), the client's CCS and Finished, application data."""
    conn.send(1, T.change_cipher_spec(T.TLS12) + T.fake_encrypted(cap.rng, 1800) + T.fake_encrypted(cap.rng, 286) +
              T.fake_encrypted(cap.rng, 74))
    conn.send(0, T.change_cipher_spec(T.TLS12) + T.fake_encrypted(cap.rng, 74))
    conn.send(0, T.fake_encrypted(cap.rng, 250))
    conn.send(1, T.fake_encrypted(cap.rng, 900))


def tls12_conn(cap, client, server, sport, ch, sh, chain, ch_rec=T.TLS10, rec=T.TLS12, validation="unknown_issuer",
               note="-", mss=1460, starttls=None, **kw):
    conn = TlsConn(cap, client, server, sport, mss=mss)
    if starttls:
        starttls(conn)
    conn.send(0, T.record(T.CT_HANDSHAKE, ch_rec, ch.message()))
    conn.packet = conn.send(1, flight_12(cap, sh, chain, rec))
    finish_12(cap, conn, rec)
    conn.close()
    return truth(cap, conn, ch, sh, chain, validation=validation, note=note, **kw)


def tls13_conn(cap, client, server, sport, ch, sh, note="-", **kw):
    conn = TlsConn(cap, client, server, sport)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    conn.packet = conn.send(1, T.record(T.CT_HANDSHAKE, T.TLS12, sh.message()))
    finish_13(cap, conn)
    conn.close()
    return truth(cap, conn, ch, sh, None, note=note, **kw)


# ---------------------------------------------------------------- tls-basic

@scenario("tls-basic", "TLS 1.2 (2-cert chain), TLS 1.3, SSLv3, TLS 1.0, SSLv2-compatible hello, IPv6; SNI/ALPN")
def tls_basic(cap):
    tls_cap(cap)
    www, legacy, inter = cert("www"), cert("legacy"), cert("int")

    ch = T.chrome_like(cap.rng, "www.example.com")
    sh = server_hello_12(cap, 0xC02F, alpn="h2")
    tls12_conn(cap, C4, "203.0.113.10", 443, ch, sh, [www, inter],
               note="TLS 1.2 full handshake, browser-like hello with GREASE and padding")

    ch = T.chrome_like(cap.rng, "tls13.example.com")
    sh = server_hello_13(cap, 0x1301, session_id=ch.session_id)
    tls13_conn(cap, C4, "203.0.113.13", 443, ch, sh, note="TLS 1.3: certificate encrypted, ALPN not visible")

    ch = T.ClientHello(cap.rng, T.SSL3, [0x0035, 0x002F, 0x000A, 0x0005, 0x0004],
                       [T.ext_sni("legacy.example.net"), T.ext_alpn(["http/1.1"])])
    sh = server_hello_12(cap, 0x0035, alpn="http/1.1", version=T.SSL3, ems=False, points=False)
    tls12_conn(cap, C4, "203.0.113.30", 443, ch, sh, [legacy, inter], ch_rec=T.SSL3, rec=T.SSL3,
               note="SSLv3 with SNI and ALPN extensions")

    ch = T.legacy_client(cap.rng, T.TLS10, "old.example.net", alpn=("http/1.1", "spdy/3"))
    sh = server_hello_12(cap, 0xC014, alpn="http/1.1", version=T.TLS10)
    tls12_conn(cap, C4, "203.0.113.31", 443, ch, sh, [legacy, inter], ch_rec=T.TLS10, rec=T.TLS10,
               note="TLS 1.0, certificate for legacy.example.net")

    # SSLv2-compatible CLIENT-HELLO asking for TLS 1.0; the server answers in TLS 1.0.
    conn = TlsConn(cap, C4, "203.0.113.32", 443)
    conn.send(0, T.sslv2_client_hello(cap.rng, T.TLS10))
    sh = server_hello_12(cap, 0x0035, version=T.TLS10, ems=False, points=False)
    conn.packet = conn.send(1, flight_12(cap, sh, [legacy, inter], T.TLS10, ske=False))
    finish_12(cap, conn, T.TLS10)
    conn.close()
    truth(cap, conn, None, sh, [legacy, inter], validation="unknown_issuer",
          overrides={"sni": "-", "alpn_offered": "-"},
          note="SSLv2-compatible ClientHello (no extensions, so no SNI); JA3/JA4 of an SSLv2 hello not checked")

    ch = T.legacy_client(cap.rng, T.TLS12, "www.example.com", alpn=("http/1.1",),
                         ciphers=(0x009C, 0x009D, 0x002F, 0x0035, 0x00FF))
    sh = server_hello_12(cap, 0x009C, version=T.TLS12, ems=False)
    tls12_conn(cap, C6, "2001:db8:443::1", 443, ch, sh, [www, inter],
               note="IPv6, RSA key exchange, no GREASE, server selects no ALPN", mss=1220)


# ---------------------------------------------------------------- tls-segmented

@scenario("tls-segmented", "3-cert chain in many small segments and records, out of order, retransmissions")
def tls_segmented(cap):
    tls_cap(cap)
    big, inter, root = cert("big"), cert("int"), cert("root")
    chain = [big, inter, root]

    # (1) ClientHello in 3 segments delivered 2, 0, 1; the server flight cut
    # at 1000-byte records and 256-byte segments, delivered out of order,
    # one segment duplicated, one lost and retransmitted at the end, one
    # retransmitted later with different bytes (the first copy wins).
    ch = T.chrome_like(cap.rng, "big.example.com")
    sh = server_hello_12(cap, 0xC030, alpn="http/1.1")
    conn = TlsConn(cap, C4, "203.0.113.50", 443, mss=256)
    d = conn.s
    start = d.next[0]
    data = T.record(T.CT_HANDSHAKE, T.TLS10, ch.message())
    segs = d.segments(0, data, mss=200)
    d.send_segments(0, segs, order=[2, 0, 1] + list(range(3, len(segs))))
    d.completion_frame(0, start + len(data), start=start)
    start = d.next[1]
    data = flight_12(cap, sh, chain, T.TLS12, max_frag=1000)
    segs = d.segments(1, data)
    n = len(segs)
    order = [0, 2, 1, 4, 3] + list(range(5, n))
    order[7], order[8] = order[8], order[7]
    alt_idx = 6                      # inside the leaf certificate
    orig = segs[alt_idx][1]
    altered = bytes(b ^ 0x5A for b in orig)
    d.send_segments(1, segs, order=order, dup=(9,), drop=(11,), altered={alt_idx: altered})
    conn.packet = d.completion_frame(1, start + len(data), start=start)
    finish_12(cap, conn, T.TLS12)
    conn.close()
    truth(cap, conn, ch, sh, chain, validation="self_signed_in_chain",
          note="%d server segments: out of order, #9 duplicated, #11 lost and retransmitted last, "
               "#6 retransmitted with different bytes (ignored)" % n)

    # (2) every handshake message cut into 64-byte records (a record header
    # straddles segments), in order, 100-byte segments.
    ch = T.legacy_client(cap.rng, T.TLS12, "host07.big.example.com", alpn=("h2",))
    sh = server_hello_12(cap, 0xC02F, alpn="h2")
    conn = TlsConn(cap, C4, "203.0.113.51", 443, mss=100)
    conn.send(0, T.records(T.CT_HANDSHAKE, T.TLS10, ch.message(), 64))
    conn.packet = conn.send(1, flight_12(cap, sh, chain, T.TLS12, max_frag=64))
    finish_12(cap, conn, T.TLS12)
    conn.close()
    truth(cap, conn, ch, sh, chain, validation="self_signed_in_chain",
          note="64-byte records, 100-byte segments: every message spans many records")


# ---------------------------------------------------------------- tls-starttls

def smtp_starttls(host):
    def run(conn):
        conn.send(1, ("220 %s ESMTP ready\r\n" % host).encode())
        conn.send(0, b"EHLO client.example.com\r\n")
        conn.send(1, ("250-%s Hello client.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                      "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n" % host).encode())
        conn.send(0, b"STARTTLS\r\n")
        conn.send(1, b"220 2.0.0 Ready to start TLS\r\n")
    return run


@scenario("tls-starttls", "SMTP STARTTLS on ports 25 and 587 (EHLO, 250, STARTTLS, 220, then TLS 1.2)")
def tls_starttls(cap):
    tls_cap(cap)
    mail, inter = cert("mail"), cert("int")
    ch = T.legacy_client(cap.rng, T.TLS12, "mail.example.com", alpn=None)
    sh = server_hello_12(cap, 0xC02F)
    tls12_conn(cap, C4, "198.51.100.25", 25, ch, sh, [mail, inter], starttls=smtp_starttls("mail.example.com"),
               overrides={"starttls": "smtp"}, note="SMTP on 25: banner, EHLO, 250 with STARTTLS, 220, TLS")
    ch = T.chrome_like(cap.rng, "smtp.example.com", alpn=None, grease=False, pad_to=0)
    sh = server_hello_12(cap, 0xC030)
    tls12_conn(cap, C6, "2001:db8:25::1", 587, ch, sh, [mail, inter], starttls=smtp_starttls("smtp.example.com"),
               overrides={"starttls": "smtp"}, note="submission on 587 over IPv6, TLS 1.3-capable client")


# ---------------------------------------------------------------- tls-dtls

@scenario("tls-dtls", "DTLS 1.2 over UDP: HelloVerifyRequest, fragmented Certificate, out-of-order fragments")
def tls_dtls(cap):
    tls_cap(cap)
    dtls, inter = cert("dtls"), cert("int")
    client, server, cport, sport = C4, "203.0.113.44", 50444, 4433
    first = len(cap.frames) + 1
    seq = {}                      # (direction, epoch) -> next record sequence number

    def dg(d, recs, version=T.DTLS12):
        """One datagram of records [(content type, epoch, payload)]."""
        out = b""
        for ct, epoch, payload in recs:
            key = (d, epoch)
            s = seq.get(key, 0)
            seq[key] = s + 1
            out += T.dtls_record(ct, version, epoch, s, payload)
        a, b, pa, pb = (client, server, cport, sport) if d == 0 else (server, client, sport, cport)
        return cap.udp(a, b, pa, pb, out)

    exts = [T.ext_sni("dtls.example.com"), T.ext_groups([T.GROUP_X25519, T.GROUP_SECP256R1]),
            T.ext_point_formats((0,)), T.ext_sigalgs([0x0403, 0x0804, 0x0401]), T.ext_empty(23),
            T.ext_reneg_info(), T.ext_alpn(["webrtc", "c-webrtc"]), (14, b"\x00\x04\x00\x01\x00\x02\x00")]
    rnd = rand(cap, 32)
    ch1 = T.ClientHello(cap.rng, T.DTLS12, [0xC02B, 0xC02F, 0xC009, 0xC013], exts,
                        dtls_cookie=b"", random=rnd)
    dg(0, [(T.CT_HANDSHAKE, 0, T.dtls_fragments(ch1.message(), 0)[0])])
    cookie = rand(cap, 20)
    # RFC 6347 4.2.1: HelloVerifyRequest in a DTLS 1.0 record, whatever the version negotiated
    dg(1, [(T.CT_HANDSHAKE, 0, T.dtls_fragments(T.hello_verify_request(cookie), 0)[0])], version=T.DTLS10)
    ch2 = T.ClientHello(cap.rng, T.DTLS12, ch1.ciphers, exts, dtls_cookie=cookie, random=rnd)
    dg(0, [(T.CT_HANDSHAKE, 0, T.dtls_fragments(ch2.message(), 1)[0])])

    sh = server_hello_12(cap, 0xC02F, alpn="webrtc", version=T.DTLS12)
    shf = T.dtls_fragments(sh.message(), 1)[0]
    certf = T.dtls_fragments(T.certificate([dtls, inter]), 2, max_frag=480)
    skef = T.dtls_fragments(T.server_key_exchange(cap.rng), 3)[0]
    shdf = T.dtls_fragments(T.server_hello_done(), 4)[0]
    hs = T.CT_HANDSHAKE
    # datagrams: [SH, cert#0], [cert#1], [cert#2], [cert#3, SKE, SHD]; sent 1, 3, 2, 3 again, 4
    d1 = [(hs, 0, shf), (hs, 0, certf[0])]
    d2 = [(hs, 0, certf[1])]
    d3 = [(hs, 0, certf[2])]
    d4 = [(hs, 0, f) for f in certf[3:]] + [(hs, 0, skef), (hs, 0, shdf)]
    dg(1, d1)
    dg(1, d3)
    dg(1, d2)
    dg(1, d3)          # retransmitted fragment (a new record sequence number, same bytes)
    packet = dg(1, d4)
    cke = T.dtls_fragments(T.handshake(16, T.vec8(b"\x04" + rand(cap, 64))), 2)[0]
    dg(0, [(hs, 0, cke), (T.CT_CCS, 0, b"\x01"), (hs, 1, rand(cap, 48))])
    dg(1, [(T.CT_CCS, 0, b"\x01"), (hs, 1, rand(cap, 48))])
    dg(0, [(T.CT_APPDATA, 1, rand(cap, 120))])
    dg(1, [(T.CT_APPDATA, 1, rand(cap, 400))])
    last = len(cap.frames)
    truth(cap, None, ch2, sh, [dtls, inter], protocol="dtls", validation="unknown_issuer",
          packet=packet, frames="%d-%d" % (first, last), client=ep(client, cport), server=ep(server, sport),
          note="Certificate in %d fragments of 480 bytes over 3 datagrams, out of order, one retransmitted; "
               "the two ClientHellos differ only in the cookie" % len(certf))


# ---------------------------------------------------------------- tls-hrr

@scenario("tls-hrr", "TLS 1.3 HelloRetryRequest: x25519 share refused, second ClientHello with secp256r1")
def tls_hrr(cap):
    tls_cap(cap)
    conn = TlsConn(cap, C4, "203.0.113.60", 443)
    ch1 = T.chrome_like(cap.rng, "hrr.example.com", grease=False)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch1.message()))
    hrr = T.ServerHello(cap.rng, T.TLS12, 0x1302,
                        [T.ext_key_share_hrr(T.GROUP_SECP256R1), T.ext_selected_version(T.TLS13)],
                        session_id=ch1.session_id, hrr=True)
    conn.send(1, T.record(T.CT_HANDSHAKE, T.TLS12, hrr.message()) + T.change_cipher_spec(T.TLS12))
    # The second hello is the first with the key share replaced (RFC 8446 4.1.2), padding re-fitted.
    exts = []
    for t, data in ch1.extensions:
        if t == T.EXT_KEY_SHARE:
            exts.append(T.ext_key_share(cap.rng, [T.GROUP_SECP256R1]))
        elif t == T.EXT_PADDING:
            exts.append((t, b""))
        else:
            exts.append((t, data))
    ch2 = T.ClientHello(cap.rng, ch1.version, ch1.ciphers, exts, session_id=ch1.session_id, random=ch1.random)
    pad = max(0, 512 - len(ch2.message()))
    ch2.extensions = [(t, b"\0" * pad) if t == T.EXT_PADDING else (t, d) for t, d in exts]
    conn.send(0, T.change_cipher_spec(T.TLS12) + T.record(T.CT_HANDSHAKE, T.TLS12, ch2.message()))
    sh = server_hello_13(cap, 0x1302, group=T.GROUP_SECP256R1, session_id=ch1.session_id)
    conn.packet = conn.send(1, T.record(T.CT_HANDSHAKE, T.TLS12, sh.message()))
    conn.send(1, T.fake_encrypted(cap.rng, 2100) + T.fake_encrypted(cap.rng, 80))
    conn.send(0, T.fake_encrypted(cap.rng, 74))
    conn.close()
    if ch1.ja3_string() != ch2.ja3_string() or hrr.ja3s_string() != sh.ja3s_string():
        raise ValueError("tls-hrr: the two hellos must fingerprint alike")
    truth(cap, conn, ch2, sh, None, hrr=True,
          note="HRR (cipher TLS_AES_256_GCM_SHA384, group secp256r1), second ClientHello, ServerHello; "
               "both hellos and both server hellos give the same JA3/JA3S")


# ---------------------------------------------------------------- tls-noport

@scenario("tls-noport", "TLS on 8443, on 25 without STARTTLS and on 31337: found by its bytes, not its port")
def tls_noport(cap):
    tls_cap(cap)
    alt, www, inter = cert("alt"), cert("www"), cert("int")
    ch = T.legacy_client(cap.rng, T.TLS12, "alt.example.org", alpn=("h2", "http/1.1"))
    sh = server_hello_12(cap, 0xC02F, alpn="h2")
    tls12_conn(cap, C4, "203.0.113.70", 8443, ch, sh, [alt, inter], note="TLS 1.2 on 8443")
    ch = T.chrome_like(cap.rng, "mx.example.org", alpn=None)
    sh = server_hello_13(cap, 0x1303, session_id=ch.session_id)
    tls13_conn(cap, C4, "203.0.113.71", 25, ch, sh, note="TLS 1.3 straight away on port 25 (no SMTP dialogue)")
    ch = T.legacy_client(cap.rng, T.TLS11, "www.example.com", alpn=None)
    sh = server_hello_12(cap, 0xC013, version=T.TLS11)
    tls12_conn(cap, C6, "2001:db8:7::1", 31337, ch, sh, [www, inter], ch_rec=T.TLS10, rec=T.TLS11,
               note="TLS 1.1 on 31337 over IPv6")


# ---------------------------------------------------------------- tls-malformed

def raw_conn(cap, server, sport, client_bytes, server_bytes=None, mss=1460):
    conn = TlsConn(cap, C4, server, sport, mss=mss)
    p = conn.send(0, client_bytes)
    if server_bytes is not None:
        p = conn.send(1, server_bytes)
    conn.packet = p
    conn.close()
    return conn


@scenario("tls-malformed", "lengths that lie at each layer (IP, TCP, record, handshake, hello, extension, "
          "certificate) between good handshakes")
def tls_malformed(cap):
    tls_cap(cap)
    www, inter = cert("www"), cert("int")

    def good(server, sni, note):
        ch = T.legacy_client(cap.rng, T.TLS12, sni, alpn=("h2",))
        sh = server_hello_12(cap, 0xC02F, alpn="h2")
        tls12_conn(cap, C4, server, 443, ch, sh, [www, inter], note=note)

    def any_row(conn, note, **kw):
        truth(cap, conn, None, None, None, event="any", note=note, **kw)

    good("203.0.113.80", "before.example.com", "good handshake before the malformed ones")

    # IP layer: total length claims 200 bytes more than the frame has.
    ch = T.legacy_client(cap.rng, T.TLS12, "iplie.example.com")
    conn = TlsConn(cap, C4, "203.0.113.81", 443)
    payload = T.record(T.CT_HANDSHAKE, T.TLS10, ch.message())
    s = conn.s
    pkt = net.ip_packet(C4, "203.0.113.81", net.IPPROTO_TCP,
                        net.tcp(C4, "203.0.113.81", conn.cport, 443, s._seq(0, 0), s._seq(1, 0),
                                net.TH_ACK | net.TH_PSH, payload))
    bad = pkt[:2] + (len(pkt) + 200).to_bytes(2, "big") + pkt[4:]
    bad = bad[:10] + b"\0\0" + bad[12:]
    bad = bad[:10] + net.checksum(bad[:20]).to_bytes(2, "big") + bad[20:]
    conn.packet = cap.add_ip(bad)
    conn.close()
    truth(cap, conn, None, None, None, event="no",
          note="IPv4 total length 200 bytes past the frame: the packet is malformed, its ClientHello unseen")

    # TCP layer: data offset 15 words, longer than the segment's header.
    ch = T.legacy_client(cap.rng, T.TLS12, "tcplie.example.com")
    conn = TlsConn(cap, C4, "203.0.113.82", 443)
    s = conn.s
    seg = net.tcp(C4, "203.0.113.82", conn.cport, 443, s._seq(0, 0), s._seq(1, 0), net.TH_ACK | net.TH_PSH,
                  b"\x16\x03\x01")
    seg = seg[:12] + bytes([0xF0]) + seg[13:]
    conn.packet = cap.add_ip(net.ip_packet(C4, "203.0.113.82", net.IPPROTO_TCP, seg))
    conn.close()
    truth(cap, conn, None, None, None, event="no",
          note="TCP data offset 60 bytes in a 23-byte segment: malformed, nothing to parse")

    # Record layer: the ClientHello record claims 65535 bytes; the connection ends.
    ch = T.legacy_client(cap.rng, T.TLS12, "reclie.example.com")
    conn = raw_conn(cap, "203.0.113.83", 443, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message(), length=0xFFFF))
    any_row(conn, "record length 65535 (over 2^14+2048) with %d bytes present" % len(ch.message()))

    # Handshake layer: the ClientHello message claims 0x00ffff bytes inside a complete record.
    ch = T.legacy_client(cap.rng, T.TLS12, "hslie.example.com")
    body = ch.body()
    conn = raw_conn(cap, "203.0.113.84", 443,
                    T.record(T.CT_HANDSHAKE, T.TLS10, T.handshake(T.HS_CLIENT_HELLO, body, length=0xFFFF)))
    any_row(conn, "handshake length 65535 in a %d-byte record, nothing follows" % (len(body) + 4))

    # Hello layer: cipher_suites length odd and past the end of the message.
    ch = T.legacy_client(cap.rng, T.TLS12, "cslie.example.com")
    body = bytearray(ch.body())
    off = 2 + 32 + 1
    body[off:off + 2] = (len(body)).to_bytes(2, "big")
    conn = raw_conn(cap, "203.0.113.85", 443, T.record(T.CT_HANDSHAKE, T.TLS10,
                                                       T.handshake(T.HS_CLIENT_HELLO, bytes(body))))
    any_row(conn, "cipher_suites length longer than the ClientHello")

    # Extensions block length claims 40 bytes more than present.
    ch = T.legacy_client(cap.rng, T.TLS12, "extlie.example.com")
    body = bytearray(ch.body())
    ext_len_off = 2 + 32 + 1 + 2 + 2 * len(ch.ciphers) + 1 + len(ch.compression)
    real = int.from_bytes(body[ext_len_off:ext_len_off + 2], "big")
    body[ext_len_off:ext_len_off + 2] = (real + 40).to_bytes(2, "big")
    conn = raw_conn(cap, "203.0.113.86", 443, T.record(T.CT_HANDSHAKE, T.TLS10,
                                                       T.handshake(T.HS_CLIENT_HELLO, bytes(body))))
    any_row(conn, "extensions length 40 bytes past the end")

    # Extension layer: server_name list length larger than its extension.
    exts = [(T.EXT_SERVER_NAME, T.u16(200) + T.u8(0) + T.vec16(b"snilie.example.com")),
            T.ext_groups([T.GROUP_SECP256R1]), T.ext_point_formats((0,))]
    ch = T.ClientHello(cap.rng, T.TLS12, [0xC02F, 0x002F], exts)
    conn = raw_conn(cap, "203.0.113.87", 443, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    any_row(conn, "server_name list length 200 inside a 23-byte extension")

    # Certificate layer: good hellos, the leaf's 24-bit length claims 4000 bytes.
    ch = T.legacy_client(cap.rng, T.TLS12, "certlie.example.com", alpn=("h2",))
    sh = server_hello_12(cap, 0xC02F, alpn="h2")
    conn = TlsConn(cap, C4, "203.0.113.88", 443)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    conn.packet = conn.send(1, flight_12(cap, sh, None, T.TLS12,
                                         cert_msg=T.certificate([www, inter], lie={0: 4000})))
    finish_12(cap, conn, T.TLS12)
    conn.close()
    truth(cap, conn, ch, sh, None, overrides={"cert_visible": "*", "chain": "*", "validation": "*"},
          note="leaf certificate length 4000 in a ~1.8 KB certificate_list: hellos are good, chain unusable")

    # Certificate list length shorter than its entries.
    ch = T.legacy_client(cap.rng, T.TLS12, "listlie.example.com", alpn=("h2",))
    sh = server_hello_12(cap, 0xC02F, alpn="h2")
    cm = bytearray(T.certificate([www, inter]))
    cm[4:7] = (len(www) + 3).to_bytes(3, "big")
    conn = TlsConn(cap, C4, "203.0.113.89", 443)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    conn.packet = conn.send(1, flight_12(cap, sh, None, T.TLS12, cert_msg=bytes(cm)))
    finish_12(cap, conn, T.TLS12)
    conn.close()
    truth(cap, conn, ch, sh, None, overrides={"cert_visible": "*", "chain": "*", "validation": "*"},
          note="certificate_list length covers only the leaf; the handshake message length covers both")

    good("203.0.113.90", "middle.example.com", "good handshake between the malformed ones")

    # ServerHello with a 200-byte session_id (max 32): the client side is good.
    ch = T.legacy_client(cap.rng, T.TLS12, "shlie.example.com", alpn=("h2",))
    sh = server_hello_12(cap, 0xC02F, alpn="h2", session_id=rand(cap, 200))
    conn = TlsConn(cap, C4, "203.0.113.91", 443)
    conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
    conn.packet = conn.send(1, flight_12(cap, sh, [www, inter], T.TLS12))
    conn.close()
    truth(cap, conn, ch, None, None, event="any",
          note="ServerHello session_id length 200: the server side is unusable, the ClientHello is good")

    # A zero-length handshake record, then an alert record of 1 byte, then the flow ends.
    conn = raw_conn(cap, "203.0.113.92", 443, T.record(T.CT_HANDSHAKE, T.TLS12, b"") +
                    T.record(T.CT_ALERT, T.TLS12, b"\x02"))
    any_row(conn, "empty handshake record and a 1-byte alert")

    good("203.0.113.99", "after.example.com", "good handshake after the malformed ones")


# ---------------------------------------------------------------- validation suite

VALIDATION_COLUMNS = ["server", "sni", "status", "misordered", "chain", "note"]


def _read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


def _pem_certs(path):
    import base64
    out, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line == "-----BEGIN CERTIFICATE-----":
                cur = []
            elif line == "-----END CERTIFICATE-----":
                out.append(base64.b64decode("".join(cur)))
                cur = None
            elif cur is not None:
                cur.append(line)
    return out


def validation_cases(d):
    """(sni, chain DERs, expected bindwatch.tls.validation.status, misordered, note)
    from a certgen.sh output directory d, judged at 2024-01-02 with d/root.pem trusted.
    Each case has one problem only (so the SNI is the leaf's name unless the
    name is the problem); several SNIs repeat, so the truth is keyed by the
    server address, one per case."""
    c = lambda n: _read(d, n + ".der")  # noqa: E731
    leaf = c("leaf-valid")
    inter = c("int")
    deep = [c("deep-leaf"), c("deep-int3"), c("deep-int2"), c("deep-int1"), inter]
    return [
        ("www.example.com", [leaf, inter], "ok", False, "valid chain to the private CA (--ca-file)"),
        ("example.com", [leaf, inter], "ok", False, "second DNS SAN"),
        ("www.example.com", [c("leaf-expired"), inter], "expired", False, "leaf 2016-01-01..2017-01-01"),
        ("www.example.com", [c("leaf-future"), inter], "not_yet_valid", False, "leaf from 2099 (GeneralizedTime)"),
        ("www.example.com", [c("selfsigned")], "self_signed", False, "self-signed leaf, not trusted"),
        ("other.example.com", [c("leaf-wrongname"), inter], "name_mismatch", False,
         "good chain, leaf is for other.example.net"),
        ("a.example.com", [c("leaf-wildcard"), inter], "ok", False, "*.example.com covers one label"),
        ("a.b.example.com", [c("leaf-wildcard"), inter], "name_mismatch", False,
         "*.example.com does not cover two labels"),
        ("192.0.2.10", [c("leaf-ip"), inter], "ok", False, "IPv4 literal SNI against an IP SAN"),
        ("2001:db8::10", [c("leaf-ip"), inter], "ok", False, "IPv6 literal SNI against an IP SAN"),
        ("192.0.2.99", [c("leaf-ip"), inter], "name_mismatch", False, "IPv4 literal not in the IP SANs"),
        ("priv.example.com", [c("leaf-priv")], "unknown_issuer", False, "issuer (Private Corp CA) not trusted"),
        ("priv.example.com", [c("leaf-priv"), _pem_certs(os.path.join(d, "privca.pem"))[0]],
         "self_signed_in_chain", False, "untrusted root presented in the chain"),
        ("www.example.com", [c("leaf-badsig"), inter], "bad_signature", False, "last signature byte flipped"),
        ("deep.example.com", [deep[0], deep[3], deep[1], deep[2], inter], "bad_chain_order", True,
         "leaf, int1, int3, int2, int: every certificate present, out of order"),
        ("deep.example.com", deep, "ok", False, "5-certificate chain in order, 6 with the root"),
        ("old.example.com", [c("leaf-old"), inter], "ok", False, "notBefore 1965 (before 1970)"),
        ("rsa.example.com", [c("leaf-rsa"), inter], "ok", False, "RSA 2048 leaf"),
        ("www.example.com", [], "no_certificate", False, "Certificate message with an empty list"),
        ("www.example.com", [b"\x30\x82\x01\x00" + b"\xAB" * 64, inter], "bad_der", False,
         "leaf is not DER"),
    ]


def validation_suite(outdir, certgen=None, keep_certs=False):
    """Run certgen.sh into a temporary directory, then write
    outdir/validation.pcap (one TLS 1.2 handshake per case, server
    198.51.100.<100+i>:443), outdir/validation.truth.tsv and outdir/ca.pem
    (the private root to pass as --ca-file). Returns the paths written."""
    certgen = certgen or os.path.join(REPO, "tools", "certgen.sh")
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bw-certgen-")
    try:
        p = subprocess.run(["bash", certgen, tmp], capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("certgen.sh failed (%d): %s" % (p.returncode, p.stderr.strip()))
        cases = validation_cases(tmp)
        shutil.copyfile(os.path.join(tmp, "root.pem"), os.path.join(outdir, "ca.pem"))
        if keep_certs:
            shutil.copytree(tmp, os.path.join(outdir, "certs"), dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cap = Capture("validation", 1)
    cap.now_ns = BASE_TIME_NS
    rows = []
    for i, (sni, chain, status, misordered, note) in enumerate(cases):
        server = "198.51.100.%d" % (100 + i)
        ch = T.legacy_client(cap.rng, T.TLS12, sni, alpn=("http/1.1",))
        sh = server_hello_12(cap, 0xC02F)
        conn = TlsConn(cap, C4, server, 443)
        conn.send(0, T.record(T.CT_HANDSHAKE, T.TLS10, ch.message()))
        conn.send(1, flight_12(cap, sh, chain, T.TLS12))
        finish_12(cap, conn, T.TLS12)
        conn.close()
        rows.append([server, sni, status, "true" if misordered else "false",
                     ",".join(T.sha256_hex(x) for x in chain) or "-", note])
    pcap = os.path.join(outdir, "validation.pcap")
    with open(pcap, "wb") as f:
        f.write(pcap_bytes(cap.frames, LINKTYPE_ETHERNET))
    tsv = os.path.join(outdir, "validation.truth.tsv")
    with open(tsv, "w") as f:
        f.write("\t".join(VALIDATION_COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    return [pcap, tsv, os.path.join(outdir, "ca.pem")]
