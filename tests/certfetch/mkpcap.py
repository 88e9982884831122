#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkpcap.py OUT.pcap SPEC...: the captures of tests/certfetch/run.sh, made
with tools/pcapgen's TLS builders and stamped with the current time (the
fetched certificates are judged at the session's capture time, so the
capture must be of today).

SPEC is one TCP connection:
  tls13:CLIENT:SERVER:PORT:SNI              TLS 1.3 (certificate encrypted)
  tls12:CLIENT:SERVER:PORT:SNI:A.der,B.der  TLS 1.2 with that chain visible
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

from pcapgen import tls as T  # noqa: E402
from pcapgen import scenarios_tls as S  # noqa: E402
from pcapgen.scenario import Capture  # noqa: E402


def main(argv):
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
        ch = T.chrome_like(cap.rng, sni)
        if kind == "tls13":
            S.tls13_conn(cap, client, server, port, ch, S.server_hello_13(cap))
        elif kind == "tls12":
            chain = []
            for p in f[5].split(","):
                with open(p, "rb") as fh:
                    chain.append(fh.read())
            sh = S.server_hello_12(cap, 0xC02F, alpn="h2")
            S.tls12_conn(cap, client, server, port, ch, sh, chain)
        else:
            sys.stderr.write("mkpcap.py: unknown kind %r\n" % kind)
            return 2
        cap.tick(20000)
    with open(out, "wb") as fh:
        fh.write(cap.render(os.path.basename(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
