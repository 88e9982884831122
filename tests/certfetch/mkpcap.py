#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkpcap.py OUT.pcap SPEC...: the captures of tests/certfetch/run.sh, made
with tools/pcapgen's TLS builders and stamped with the current time (the
fetched certificates are judged at the session's capture time, so the
capture must be of today).

SPEC is one connection:
  tls13:CLIENT:SERVER:PORT:SNI              TLS 1.3 (certificate encrypted)
  tls12:CLIENT:SERVER:PORT:SNI:A.der,B.der  TLS 1.2 with that chain visible
  quic:CLIENT:SERVER:PORT:SNI               QUIC v1 over UDP: the client's
                                            Initial (ClientHello, ALPN h3)
                                            and the server's (ServerHello)
  dtls13:CLIENT:SERVER:PORT:SNI             DTLS 1.3 over UDP (certificate
                                            encrypted)

quic needs --seal TOOL first (build/tests/tool_quicseal: the RFC 9001
packet protection, which Python's standard library cannot do).
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

from pcapgen import tls as T  # noqa: E402
from pcapgen import scenarios_tls as S  # noqa: E402
from pcapgen.scenario import Capture  # noqa: E402


def varint(n):
    """A QUIC variable-length integer (RFC 9000 16), 1 or 2 bytes here."""
    return bytes([n]) if n < 64 else bytes([0x40 | n >> 8, n & 0xFF])


def crypto_frame(data):
    return b"\x06" + varint(0) + varint(len(data)) + data


def seal(tool, side, key_dcid, dcid, scid, pn, payload):
    h = lambda b: b.hex() if b else "-"  # noqa: E731
    r = subprocess.run([tool, side, h(key_dcid), h(dcid), h(scid), str(pn)], input=payload.hex().encode(),
                       stdout=subprocess.PIPE, check=True)
    return bytes.fromhex(r.stdout.decode().strip())


def quic_conn(cap, tool, client, server, port, sni):
    """A QUIC v1 handshake's two Initials, as a sensor sees them: the client's
    (padded to 1200 bytes) and the server's answer (ACK + ServerHello)."""
    rng = cap.rng
    odcid = bytes(rng.getrandbits(8) for _ in range(8))
    cscid = bytes(rng.getrandbits(8) for _ in range(8))
    sscid = bytes(rng.getrandbits(8) for _ in range(8))
    ch = T.chrome_like(rng, sni, alpn=("h3",), pad_to=0)
    # quic_transport_parameters (RFC 9000 18): initial_source_connection_id
    ch.extensions.append((57, b"\x0f" + varint(len(cscid)) + cscid))
    sh = S.server_hello_13(cap)
    cport = rng.randint(40000, 60000)
    cap.udp(client, server, cport, port, seal(tool, "client", odcid, odcid, cscid, 0, crypto_frame(ch.message())))
    cap.tick(3000)
    ack = b"\x02\x00\x00\x00\x00"  # ACK of packet 0, no delay, no more ranges
    cap.udp(server, client, port, cport, seal(tool, "server", odcid, cscid, sscid, 0, ack + crypto_frame(sh.message())))


def dtls13_conn(cap, client, server, port, sni):
    """A DTLS 1.3 handshake as a sensor sees it: ClientHello and ServerHello in
    the clear, the rest (the certificate with it) encrypted."""
    rng = cap.rng
    exts = [T.ext_sni(sni), T.ext_groups([T.GROUP_X25519]), T.ext_sigalgs([0x0403, 0x0804]),
            T.ext_key_share(rng, [T.GROUP_X25519]), T.ext_supported_versions([0xFEFC, T.DTLS12])]
    ch = T.ClientHello(rng, T.DTLS12, [0x1301, 0xC02B], exts, dtls_cookie=b"")
    sh = T.ServerHello(rng, T.DTLS12, 0x1301, [T.ext_key_share_server(rng, T.GROUP_X25519),
                                               T.ext_selected_version(0xFEFC)])
    cport = rng.randint(40000, 60000)
    hs = T.CT_HANDSHAKE
    cap.udp(client, server, cport, port, T.dtls_record(hs, T.DTLS12, 0, 0, T.dtls_fragments(ch.message(), 0)[0]))
    cap.tick(3000)
    cap.udp(server, client, port, cport, T.dtls_record(hs, T.DTLS12, 0, 0, T.dtls_fragments(sh.message(), 0)[0]) +
            T.dtls_record(T.CT_APPDATA, T.DTLS12, 2, 0, bytes(rng.getrandbits(8) for _ in range(900))))


def main(argv):
    tool = None
    if len(argv) > 2 and argv[1] == "--seal":
        tool = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    cap = Capture("certfetch", seed=7)
    S.tls_cap(cap)
    cap.now_ns = time.time_ns() - 5 * 1000000000  # a few seconds ago
    for spec in argv[2:]:
        f = spec.split(":")
        kind, client, server, port, sni = f[0], f[1], f[2], int(f[3]), f[4]
        ch = T.chrome_like(cap.rng, sni) if kind != "quic" else None
        if kind == "tls13":
            S.tls13_conn(cap, client, server, port, ch, S.server_hello_13(cap))
        elif kind == "tls12":
            chain = []
            for p in f[5].split(","):
                with open(p, "rb") as fh:
                    chain.append(fh.read())
            sh = S.server_hello_12(cap, 0xC02F, alpn="h2")
            S.tls12_conn(cap, client, server, port, ch, sh, chain)
        elif kind == "dtls13":
            dtls13_conn(cap, client, server, port, sni)
        elif kind == "quic":
            if not tool:
                sys.stderr.write("mkpcap.py: quic needs --seal TOOL\n")
                return 2
            quic_conn(cap, tool, client, server, port, sni)
        else:
            sys.stderr.write("mkpcap.py: unknown kind %r\n" % kind)
            return 2
        cap.tick(20000)
    with open(out, "wb") as fh:
        fh.write(cap.render(os.path.basename(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
