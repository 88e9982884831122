# SPDX-License-Identifier: MIT
"""Command line of tools/pcapgen.py."""

import argparse
import hashlib
import os
import sys

from . import REGISTRY, build

EPILOG = """examples:
  tools/pcapgen.py --list
  tools/pcapgen.py --out pcaps --golden tests/golden --all     regenerate every bundled capture
  tools/pcapgen.py --out /tmp/x dns-tcp dns-mdns               just these
  tools/pcapgen.py --out pcaps --golden tests/golden --all --check   fail if a file would change
  tools/pcapgen.py --selftest                                  library self-checks
  tools/pcapgen.py --tls-validation-suite /tmp/v               run tools/certgen.sh, write
      /tmp/v/validation.pcap, validation.truth.tsv (server, SNI -> expected
      bindwatch.tls.validation.status) and ca.pem (give it to --ca-file)
  tools/pcapgen.py --alert-suite /tmp/a                        make certificates with openssl, write
      /tmp/a/<case>.pcap, <case>.yaml (policy), zones/, ca/, cases.tsv and
      expected.tsv (the alerts each case must and must not raise; tests/alerts/)

Each scenario writes its capture file(s) and NAME.truth.tsv (the facts a
sensor must report: file, packet, qname, qtype, rcode, section, owner, type,
ttl, data) into --out, and NAME.tsv into --golden when given. The same
--seed always gives byte-identical files."""


def main(argv=None):
    ap = argparse.ArgumentParser(prog="pcapgen.py", description="Write deterministic test captures "
                                 "(pcap/pcapng) and the truth about what they contain.",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", help="scenario names (see --list)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--all", action="store_true", help="run every scenario")
    ap.add_argument("--out", default=".", help="output directory (default: .)")
    ap.add_argument("--golden", default=None, help="also write NAME.tsv (the truth) into this directory")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1, the bundled captures)")
    ap.add_argument("--selftest", action="store_true", help="check the library's byte-level invariants and exit")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if any output differs from the file on disk")
    ap.add_argument("--tls-validation-suite", metavar="DIR",
                    help="make the certificate validation capture from tools/certgen.sh output into DIR and exit")
    ap.add_argument("--alert-suite", metavar="DIR",
                    help="make the alert test cases (captures, policies, expected alerts) into DIR and exit")
    ap.add_argument("--certgen", metavar="PATH", help="certgen.sh to use (default: tools/certgen.sh)")
    a = ap.parse_args(argv)

    if a.tls_validation_suite:
        from .scenarios_tls import validation_suite
        try:
            paths = validation_suite(a.tls_validation_suite, certgen=a.certgen)
        except (OSError, RuntimeError) as e:
            print("pcapgen: %s" % e, file=sys.stderr)
            return 1
        for p in paths:
            print(p)
        return 0

    if a.alert_suite:
        from .scenarios_alerts import alert_suite
        try:
            paths = alert_suite(a.alert_suite)
        except (OSError, RuntimeError) as e:
            print("pcapgen: %s" % e, file=sys.stderr)
            return 1
        for p in paths:
            print(p)
        return 0

    if a.selftest:
        from .selftest import run
        return run()
    if a.list:
        w = max(len(n) for n in REGISTRY)
        for n in sorted(REGISTRY):
            print("%-*s  %s" % (w, n, REGISTRY[n][1]))
        return 0
    names = sorted(REGISTRY) if a.all else a.scenarios
    if not names:
        ap.error("name scenarios or give --all (see --list)")
    for n in names:
        if n not in REGISTRY:
            ap.error("unknown scenario %s (see --list)" % n)
    if not a.check:
        os.makedirs(a.out, exist_ok=True)
        if a.golden:
            os.makedirs(a.golden, exist_ok=True)
    changed = 0
    for n in names:
        cap = build(n, a.seed)
        if a.check:
            outs = [(os.path.join(a.out, f), cap.render(f)) for f in cap.outputs]
            outs.append((os.path.join(a.out, n + ".truth.tsv"), cap.truth_tsv().encode()))
            if a.golden:
                outs.append((os.path.join(a.golden, n + ".tsv"), cap.truth_tsv().encode()))
            for path, data in outs:
                try:
                    with open(path, "rb") as f:
                        same = f.read() == data
                except OSError:
                    same = False
                if not same:
                    print("differs: %s" % path)
                    changed += 1
            continue
        for path in cap.write(a.out, a.golden):
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()[:16]
            print("%s  %7d  %s" % (digest, os.path.getsize(path), path))
    if a.check:
        print("pcapgen check: %d file(s) differ" % changed)
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
