# SPDX-License-Identifier: MIT
"""TLS, SSL and DTLS handshakes built byte by byte, with the fingerprints a
sensor must compute from them.

Layers, composed by nesting calls as in net.py:
  extensions   ext_sni(), ext_alpn(), ext_supported_versions(), ext_groups(),
               ext_point_formats(), ext_sigalgs(), ext_key_share(), ext_padding(),
               ext_grease(), ... each returns (type, data)
  messages     ClientHello / ServerHello objects (.message() is the handshake
               message: 4-byte header + body), certificate(ders),
               server_hello_done(), server_key_exchange(), hello_verify_request(),
               sslv2_client_hello()
  records      record(), records() (a payload cut into records at a maximum
               fragment size), alert(), change_cipher_spec(), fake_encrypted()
  DTLS         dtls_fragments() (a handshake message cut into DTLS handshake
               fragments at fragment_offset/fragment_length), dtls_record()

Every length field is computed unless the caller passes a lie on purpose
(record(length=...), handshake(length=...), the raw bytes of an extension),
which is how tls-malformed builds lengths that lie at each layer.

Fingerprints come from the objects, not from parsing bytes back:
ClientHello.ja3_string() / ja3() (Salesforce JA3: SSLVersion,Ciphers,
Extensions,EllipticCurves,EllipticCurvePointFormats, decimal, '-' joined,
GREASE removed), ClientHello.ja4() (FoxIO JA4), ServerHello.ja3s_string() /
ja3s(). All randomness comes from the caller's random.Random, so a capture
is byte-identical for a given seed.
"""

import hashlib
import struct

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23

HS_CLIENT_HELLO = 1
HS_SERVER_HELLO = 2
HS_HELLO_VERIFY_REQUEST = 3
HS_CERTIFICATE = 11
HS_SERVER_KEY_EXCHANGE = 12
HS_SERVER_HELLO_DONE = 14

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
DTLS10, DTLS12 = 0xFEFF, 0xFEFD

VERSION_NAMES = {0x0002: "SSLv2", SSL3: "SSLv3", TLS10: "TLSv1.0", TLS11: "TLSv1.1", TLS12: "TLSv1.2",
                 TLS13: "TLSv1.3", DTLS10: "DTLSv1.0", DTLS12: "DTLSv1.2"}

# ECS tls.version / tls.version_protocol for each version.
VERSION_ECS = {SSL3: ("3.0", "ssl"), TLS10: ("1.0", "tls"), TLS11: ("1.1", "tls"), TLS12: ("1.2", "tls"),
               TLS13: ("1.3", "tls"), DTLS10: ("1.0", "dtls"), DTLS12: ("1.2", "dtls")}

# IANA names of the cipher suites the scenarios use.
CIPHERS = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
}

EXT_SERVER_NAME = 0
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SCT = 18
EXT_PADDING = 21
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01

GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1, GROUP_SECP521R1 = 29, 23, 24, 25
KEY_LEN = {GROUP_X25519: 32, GROUP_SECP256R1: 65, GROUP_SECP384R1: 97, GROUP_SECP521R1: 133}

GREASE = [0x0A0A + 0x1010 * i for i in range(16)]   # RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa

# SHA-256("HelloRetryRequest"): the ServerHello random that marks an HRR (RFC 8446 4.1.3)
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

ALERT_HANDSHAKE_FAILURE = 40


def is_grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def u8(v):
    return struct.pack("!B", v)


def u16(v):
    return struct.pack("!H", v)


def u24(v):
    return struct.pack("!I", v)[1:]


def vec8(b):
    return u8(len(b)) + b


def vec16(b):
    return u16(len(b)) + b


def vec24(b):
    return u24(len(b)) + b


def cipher_name(c):
    return CIPHERS.get(c, "0x%04X" % c)


def version_name(v):
    return VERSION_NAMES.get(v, "0x%04x" % v)


# ---------------------------------------------------------------- extensions
# Each returns (type, data); data is the extension_data (without type/length).

def ext_sni(name):
    host = name.encode() if isinstance(name, str) else name
    return (EXT_SERVER_NAME, vec16(u8(0) + vec16(host)))


def ext_alpn(protos):
    body = b"".join(vec8(p.encode() if isinstance(p, str) else p) for p in protos)
    return (EXT_ALPN, vec16(body))


def ext_alpn_selected(proto):
    return ext_alpn([proto])


def ext_supported_versions(versions):
    """Client form: a list of versions (GREASE allowed)."""
    return (EXT_SUPPORTED_VERSIONS, vec8(b"".join(u16(v) for v in versions)))


def ext_selected_version(v):
    """ServerHello / HRR form: one version."""
    return (EXT_SUPPORTED_VERSIONS, u16(v))


def ext_groups(groups):
    return (EXT_SUPPORTED_GROUPS, vec16(b"".join(u16(g) for g in groups)))


def ext_point_formats(fmts=(0,)):
    return (EXT_EC_POINT_FORMATS, vec8(bytes(fmts)))


def ext_sigalgs(algs):
    return (EXT_SIGNATURE_ALGORITHMS, vec16(b"".join(u16(a) for a in algs)))


def ext_key_share(rng, groups):
    """Client key_share: one KeyShareEntry per group with random key bytes
    of the group's length (a GREASE group gets one byte, as Chrome sends)."""
    body = b""
    for g in groups:
        n = 1 if is_grease(g) else KEY_LEN.get(g, 32)
        body += u16(g) + vec16(bytes(rng.getrandbits(8) for _ in range(n)))
    return (EXT_KEY_SHARE, vec16(body))


def ext_key_share_server(rng, group):
    n = KEY_LEN.get(group, 32)
    return (EXT_KEY_SHARE, u16(group) + vec16(bytes(rng.getrandbits(8) for _ in range(n))))


def ext_key_share_hrr(group):
    return (EXT_KEY_SHARE, u16(group))


def ext_padding(n):
    return (EXT_PADDING, b"\0" * n)


def ext_grease(v, data=b""):
    return (v, data)


def ext_empty(t):
    return (t, b"")


def ext_reneg_info():
    return (EXT_RENEGOTIATION_INFO, b"\0")


def ext_status_request():
    return (EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00")


def ext_psk_modes():
    return (EXT_PSK_KEY_EXCHANGE_MODES, b"\x01\x01")


def encode_extensions(exts):
    return b"".join(u16(t) + vec16(d) for t, d in exts)


# ---------------------------------------------------------------- handshake messages

def handshake(msg_type, body, length=None):
    """A handshake message: type, 24-bit length (body's, or the lie given), body."""
    return u8(msg_type) + u24(len(body) if length is None else length) + body


class ClientHello:
    def __init__(self, rng, version=TLS12, ciphers=(0xC02F,), extensions=(), session_id=None,
                 compression=(0,), dtls_cookie=None, random=None):
        self.version = version
        self.random = random if random is not None else bytes(rng.getrandbits(8) for _ in range(32))
        self.session_id = session_id if session_id is not None else b""
        self.ciphers = list(ciphers)
        self.compression = list(compression)
        self.extensions = list(extensions)
        self.dtls_cookie = dtls_cookie     # bytes for DTLS (b"" for the first hello), None for TLS

    def body(self):
        b = u16(self.version) + self.random + vec8(self.session_id)
        if self.dtls_cookie is not None:
            b += vec8(self.dtls_cookie)
        b += vec16(b"".join(u16(c) for c in self.ciphers)) + vec8(bytes(self.compression))
        if self.extensions:
            b += vec16(encode_extensions(self.extensions))
        return b

    def message(self):
        return handshake(HS_CLIENT_HELLO, self.body())

    # -- facts
    def _ext(self, t):
        for et, d in self.extensions:
            if et == t:
                return d
        return None

    @property
    def sni(self):
        d = self._ext(EXT_SERVER_NAME)
        if d is None:
            return None
        n = struct.unpack("!H", d[3:5])[0]
        return d[5:5 + n].decode("latin-1")

    @property
    def alpn(self):
        d = self._ext(EXT_ALPN)
        out, i = [], 2
        while d is not None and i < len(d):
            n = d[i]
            out.append(d[i + 1:i + 1 + n].decode("latin-1"))
            i += 1 + n
        return out

    @property
    def versions(self):
        d = self._ext(EXT_SUPPORTED_VERSIONS)
        if d is None:
            return []
        return [struct.unpack("!H", d[i:i + 2])[0] for i in range(1, 1 + d[0], 2)]

    @property
    def max_version(self):
        vs = [v for v in self.versions if not is_grease(v)]
        return max(vs) if vs else self.version

    def _u16_list(self, t, skip):
        d = self._ext(t)
        if d is None:
            return []
        return [struct.unpack("!H", d[i:i + 2])[0] for i in range(skip, len(d) - 1, 2)]

    @property
    def groups(self):
        return self._u16_list(EXT_SUPPORTED_GROUPS, 2)

    @property
    def sigalgs(self):
        return self._u16_list(EXT_SIGNATURE_ALGORITHMS, 2)

    @property
    def point_formats(self):
        d = self._ext(EXT_EC_POINT_FORMATS)
        return list(d[1:1 + d[0]]) if d else []

    def ja3_string(self):
        def j(xs):
            return "-".join(str(x) for x in xs if not is_grease(x))
        return "%d,%s,%s,%s,%s" % (self.version, j(self.ciphers), j(t for t, _ in self.extensions),
                                   j(self.groups), j(self.point_formats))

    def ja3(self):
        return hashlib.md5(self.ja3_string().encode()).hexdigest()

    def ja4(self, proto="t"):
        """FoxIO JA4 (proto t = TCP, q = QUIC, d = DTLS)."""
        v = self.max_version
        ver = {TLS13: "13", TLS12: "12", TLS11: "11", TLS10: "10", SSL3: "s3", 0x0002: "s2",
               DTLS10: "d1", DTLS12: "d2", 0xFEFC: "d3"}.get(v, "00")
        ciphers = [c for c in self.ciphers if not is_grease(c)]
        exts = [t for t, _ in self.extensions if not is_grease(t)]
        alpn = self.alpn
        if alpn and alpn[0]:
            a = alpn[0]
            if a[0].isascii() and a[0].isalnum() and a[-1].isascii() and a[-1].isalnum():
                al = a[0] + a[-1]
            else:
                al = a[0].encode("latin-1").hex()[0] + a[-1].encode("latin-1").hex()[-1]
        else:
            al = "00"
        a_part = "%s%s%s%02d%02d%s" % (proto, ver, "d" if self.sni is not None else "i", min(len(ciphers), 99),
                                        min(len(exts), 99), al)

        def h(s):
            return hashlib.sha256(s.encode()).hexdigest()[:12]
        b_part = h(",".join("%04x" % c for c in sorted(ciphers))) if ciphers else "000000000000"
        # SNI and ALPN are counted in the a part but left out of the c hash
        hashed = [t for t in sorted(exts) if t not in (EXT_SERVER_NAME, EXT_ALPN)]
        ext_s = ",".join("%04x" % t for t in hashed)
        sig = [s for s in self.sigalgs if not is_grease(s)]
        if sig:
            ext_s += "_" + ",".join("%04x" % s for s in sig)
        c_part = h(ext_s) if hashed else "000000000000"
        return "%s_%s_%s" % (a_part, b_part, c_part)


class ServerHello:
    def __init__(self, rng, version=TLS12, cipher=0xC02F, extensions=(), session_id=None, compression=0,
                 random=None, hrr=False):
        self.version = version
        if hrr:
            random = HRR_RANDOM
        self.random = random if random is not None else bytes(rng.getrandbits(8) for _ in range(32))
        self.session_id = session_id if session_id is not None else bytes(rng.getrandbits(8) for _ in range(32))
        self.cipher = cipher
        self.compression = compression
        self.extensions = list(extensions)

    def body(self):
        b = u16(self.version) + self.random + vec8(self.session_id) + u16(self.cipher) + u8(self.compression)
        if self.extensions:
            b += vec16(encode_extensions(self.extensions))
        return b

    def message(self):
        return handshake(HS_SERVER_HELLO, self.body())

    @property
    def selected_version(self):
        for t, d in self.extensions:
            if t == EXT_SUPPORTED_VERSIONS and len(d) == 2:
                return struct.unpack("!H", d)[0]
        return self.version

    @property
    def alpn(self):
        for t, d in self.extensions:
            if t == EXT_ALPN and len(d) > 3:
                return d[3:3 + d[2]].decode("latin-1")
        return None

    def ja3s_string(self):
        return "%d,%d,%s" % (self.version, self.cipher,
                             "-".join(str(t) for t, _ in self.extensions if not is_grease(t)))

    def ja3s(self):
        return hashlib.md5(self.ja3s_string().encode()).hexdigest()


def certificate(ders, lie=None):
    """Certificate message (TLS <= 1.2 / DTLS): certificate_list of 24-bit
    length-prefixed DER blobs. lie: {index: claimed length} for a
    certificate whose length prefix lies."""
    lie = lie or {}
    entries = b"".join(u24(lie.get(i, len(d))) + d for i, d in enumerate(ders))
    return handshake(HS_CERTIFICATE, vec24(entries))


def server_key_exchange(rng, group=GROUP_SECP256R1, sig_len=256):
    """A ServerKeyExchange for ECDHE: named curve, random point, a
    signature algorithm (rsa_pss_rsae_sha256) and random signature bytes;
    the sensor only skips it, so the content only needs a valid shape."""
    point = bytes([4]) + bytes(rng.getrandbits(8) for _ in range(KEY_LEN.get(group, 65) - 1))
    body = u8(3) + u16(group) + vec8(point) + u16(0x0804) + vec16(bytes(rng.getrandbits(8)
                                                                          for _ in range(sig_len)))
    return handshake(HS_SERVER_KEY_EXCHANGE, body)


def server_hello_done():
    return handshake(HS_SERVER_HELLO_DONE, b"")


def hello_verify_request(cookie, version=DTLS10):
    return handshake(HS_HELLO_VERIFY_REQUEST, u16(version) + vec8(cookie))


def sslv2_client_hello(rng, version=TLS10, cipher_specs=(0x000035, 0x00002F, 0x00000A, 0x010080),
                       challenge_len=16):
    """An SSLv2-compatible CLIENT-HELLO (RFC 5246 E.2) as the whole record:
    2-byte header with the high bit set, msg_type 1, version, spec/
    session-id/challenge lengths, 3-byte cipher specs, challenge."""
    specs = b"".join(struct.pack("!I", s)[1:] for s in cipher_specs)
    challenge = bytes(rng.getrandbits(8) for _ in range(challenge_len))
    body = u8(1) + u16(version) + u16(len(specs)) + u16(0) + u16(len(challenge)) + specs + challenge
    return u16(0x8000 | len(body)) + body


# ---------------------------------------------------------------- records

def record(ct, version, payload, length=None):
    return u8(ct) + u16(version) + u16(len(payload) if length is None else length) + payload


def records(ct, version, payload, max_frag=16384):
    """payload cut into records of at most max_frag bytes each."""
    if not payload:
        return record(ct, version, b"")
    return b"".join(record(ct, version, payload[i:i + max_frag]) for i in range(0, len(payload), max_frag))


def alert(version, level=2, desc=ALERT_HANDSHAKE_FAILURE):
    return record(CT_ALERT, version, bytes([level, desc]))


def change_cipher_spec(version):
    return record(CT_CCS, version, b"\x01")


def fake_encrypted(rng, n, version=TLS12):
    """A TLS 1.3 encrypted record (outer type application_data): random
    bytes standing for ciphertext + tag."""
    return record(CT_APPDATA, version, bytes(rng.getrandbits(8) for _ in range(n)))


# ---------------------------------------------------------------- DTLS

def dtls_fragments(message, message_seq, max_frag=None):
    """A TLS-form handshake message (4-byte header + body) turned into DTLS
    handshake fragments (12-byte header: type, length, message_seq,
    fragment_offset, fragment_length) of at most max_frag body bytes."""
    mtype, body = message[0], message[4:]
    max_frag = max_frag or max(1, len(body))
    out = []
    for off in range(0, max(1, len(body)), max_frag):
        chunk = body[off:off + max_frag]
        out.append(u8(mtype) + u24(len(body)) + u16(message_seq) + u24(off) + u24(len(chunk)) + chunk)
    return out


def dtls_record(ct, version, epoch, seq, payload):
    return u8(ct) + u16(version) + u16(epoch) + struct.pack("!Q", seq)[2:] + vec16(payload)


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- client profiles

def chrome_like(rng, sni, alpn=("h2", "http/1.1"), grease=True, pad_to=512):
    """A TLS 1.3-capable ClientHello shaped like a browser's: GREASE cipher,
    extension, group, version and key share; SNI, ALPN, supported_versions,
    groups, point formats, signature algorithms, key_share, padding to
    pad_to bytes of handshake message (the F5 padding rule)."""
    g = [rng.choice(GREASE) for _ in range(4)] if grease else []
    ciphers = ([g[0]] if grease else []) + [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9,
                                             0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
    exts = []
    if grease:
        exts.append(ext_grease(g[1]))
    exts += [ext_sni(sni), ext_empty(EXT_EXTENDED_MASTER_SECRET), ext_reneg_info(),
             ext_groups(([g[2]] if grease else []) + [GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1]),
             ext_point_formats((0,)), ext_empty(EXT_SESSION_TICKET)]
    if alpn:
        exts.append(ext_alpn(alpn))
    exts += [ext_status_request(),
             ext_sigalgs([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]),
             ext_empty(EXT_SCT),
             ext_key_share(rng, ([g[2]] if grease else []) + [GROUP_X25519]),
             ext_psk_modes(),
             ext_supported_versions(([g[3]] if grease else []) + [TLS13, TLS12])]
    if grease:
        exts.append(ext_grease(rng.choice([x for x in GREASE if x != g[1]]), b"\0"))
    ch = ClientHello(rng, TLS12, ciphers, exts, session_id=bytes(rng.getrandbits(8) for _ in range(32)))
    if pad_to:
        n = len(ch.message())
        if n < pad_to:
            # the padding extension adds 4 bytes of header plus its data
            ch.extensions.append(ext_padding(max(0, pad_to - n - 4)))
    return ch


def legacy_client(rng, version, sni, alpn=("http/1.1",), ciphers=(0xC014, 0xC013, 0x0035, 0x002F, 0x000A,
                                                                    0x00FF)):
    """A TLS <= 1.2 ClientHello without TLS 1.3 extensions."""
    exts = [ext_sni(sni), ext_groups([GROUP_SECP256R1, GROUP_SECP384R1]), ext_point_formats((0, 1, 2))]
    if version >= TLS12:
        exts.append(ext_sigalgs([0x0401, 0x0501, 0x0201, 0x0403]))
    if alpn:
        exts.append(ext_alpn(alpn))
    return ClientHello(rng, version, ciphers, exts)


def selfcheck(check):
    """Byte-level invariants of this module, for pcapgen --selftest."""
    import random
    r = random.Random(7)
    # JA4 c-part vector from the FoxIO JA4 specification (Chrome hello)
    s = ("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
         "0403,0804,0401,0503,0805,0501,0806,0601")
    check("tls: JA4 extension hash of the spec's example is e5627efa2ab1",
          hashlib.sha256(s.encode()).hexdigest()[:12] == "e5627efa2ab1")
    ch = chrome_like(r, "www.example.com")
    check("tls: browser-like hello padded to 512 bytes", len(ch.message()) == 512)
    check("tls: JA3 drops GREASE (ciphers, extensions, groups)",
          not any(str(g) in ch.ja3_string().replace(",", "-").split("-") for g in GREASE))
    check("tls: JA4 b part of the Chrome cipher set is 8daaf6152771", ch.ja4().split("_")[1] == "8daaf6152771")
    m = ch.message()
    check("tls: handshake header length = body length", int.from_bytes(m[1:4], "big") == len(m) - 4)
    recs = records(CT_HANDSHAKE, TLS12, m, 100)
    back, i = b"", 0
    while i < len(recs):
        n = int.from_bytes(recs[i + 3:i + 5], "big")
        back += recs[i + 5:i + 5 + n]
        i += 5 + n
    check("tls: records() splits and the fragments rejoin", back == m and i == len(recs))
    c = certificate([b"\x30\x03abc", b"\x30\x01z"])
    check("tls: certificate_list and entries prefixed with 24-bit lengths",
          c[4:7] == u24(6 + 5 + 3) and c[7:10] == u24(5))
    frags = dtls_fragments(handshake(HS_CERTIFICATE, bytes(range(250)) * 4), 2, max_frag=300)
    body = b"".join(f[12:] for f in frags)
    check("tls: DTLS fragments carry offsets/lengths that rebuild the message",
          body == bytes(range(250)) * 4 and [int.from_bytes(f[6:9], "big") for f in frags] == [0, 300, 600, 900])
    hrr = ServerHello(r, TLS12, 0x1301, [ext_selected_version(TLS13)], hrr=True)
    check("tls: HelloRetryRequest random is SHA-256(\"HelloRetryRequest\")",
          hrr.random == hashlib.sha256(b"HelloRetryRequest").digest())
    v2 = sslv2_client_hello(r)
    check("tls: SSLv2 hello length header has the high bit and counts the rest",
          v2[0] & 0x80 and ((v2[0] & 0x7F) << 8 | v2[1]) == len(v2) - 2)
