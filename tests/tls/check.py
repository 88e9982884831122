#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""TLS checks that need a real bindwatch run (tests/tls/run.sh drives them).

  check.py validation --truth DIR/validation.truth.tsv --events EVENTS.jsonl
      Each row of the validation truth (tools/pcapgen.py --tls-validation-suite:
      one TLS 1.2 handshake per server address) against the bindwatch.tls
      event of that server: bindwatch.tls.validation.status equal, the
      misordered flag set where the truth says so, and the capture-time clock
      (validation.clock "capture") behind every verdict. Prints each miss and
      "tls-validation: N passed, N failed".

  check.py determinism --bindwatch BW CAPTURE...
      Runs bindwatch twice on each capture (two processes) and compares the
      events apart from the bindwatch.stats event: a difference means state
      that survives between inputs or depends on something other than the
      packets (time of day, addresses, hash seeds). Prints each difference and
      "tls-determinism: N passed, N failed".

Event parsing is tests/conformance/run.py's (TlsEvent), the one place that
knows the event format.
"""

import argparse
import concurrent.futures
import csv
import difflib
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests" / "conformance"))
import run as conf  # noqa: E402


def validation(a):
    with open(a.truth, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    run = conf.load_events_file(a.events, "validation.pcap")
    passed = failed = 0

    def ok():
        nonlocal passed
        passed += 1

    def fail(msg):
        nonlocal failed
        failed += 1
        print("FAIL " + msg)

    if run.error:
        print("tls-validation: cannot read events: %s" % run.error)
        print("tls-validation: 0 passed, %d failed" % len(rows))
        return 1
    by_server = {}
    for e in run.tls:
        by_server.setdefault(e.server.rsplit(":", 1)[0], []).append(e)
    clocks = set()
    for r in rows:
        evs = by_server.get(r["server"], [])
        what = "%s sni=%s (%s)" % (r["server"], r["sni"], r["note"])
        if len(evs) != 1:
            fail("%s: %d bindwatch.tls events, want 1" % (what, len(evs)))
            continue
        e = evs[0]
        got = e.status
        if got == r["status"]:
            ok()
        else:
            v = e.validation
            fail("%s: status want %s got %s (chain %s, name %s, detail %r)"
                 % (what, r["status"], got, v.get("chain"), v.get("name"), v.get("detail")))
        if r["misordered"] == "true":
            if e.validation.get("misordered") is True:
                ok()
            else:
                fail("%s: validation.misordered want true got %r" % (what, e.validation.get("misordered")))
        if r["status"] != "no_certificate" and e.validation:
            clocks.add(e.validation.get("clock"))
    if clocks == {"capture"}:
        ok()
    else:
        fail("validation.clock want only 'capture' (the packets are stamped 2024-01-02), got %s"
             % sorted(str(c) for c in clocks))
    extra = set(by_server) - {r["server"] for r in rows}
    for s in sorted(extra):
        fail("unexpected bindwatch.tls event for %s" % s)
    print("tls-validation: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def events_of(bw, capture, extra, timeout):
    cmd = [bw, "-q", "-r", str(capture), "-o", "jsonl:-"] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode < 0:
        return None, "killed by signal %d" % -p.returncode
    r = conf.Run(capture.name)
    conf.parse_events(p.stdout.decode("utf-8", "replace"), r)
    return r.lines, None


def determinism(a):
    caps = [Path(c) for c in a.captures]
    passed = failed = 0

    def both(c):
        return c, events_of(a.bindwatch, c, a.arg, a.timeout), events_of(a.bindwatch, c, a.arg, a.timeout)

    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        results = list(pool.map(both, caps))
    for c, (l1, e1), (l2, e2) in results:
        if e1 or e2:
            failed += 1
            print("FAIL %s: %s" % (c.name, e1 or e2))
            continue
        if l1 == l2:
            passed += 1
            continue
        failed += 1
        if sorted(l1) == sorted(l2):
            print("FAIL %s: same %d events in a different order" % (c.name, len(l1)))
            continue
        print("FAIL %s: runs differ (%d vs %d events):" % (c.name, len(l1), len(l2)))
        for line in list(difflib.unified_diff(l1, l2, "run1", "run2", lineterm="", n=0))[2:8]:
            print("     " + line[:220])
    tls = "" if not a.verbose else " (%d captures)" % len(caps)
    print("tls-determinism: %d passed, %d failed%s" % (passed, failed, tls))
    return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validation", help="check validation statuses")
    v.add_argument("--truth", required=True)
    v.add_argument("--events", required=True)
    d = sub.add_parser("determinism", help="two runs per capture give the same events")
    d.add_argument("--bindwatch", default=os.environ.get("BINDWATCH", str(REPO / "build" / "bindwatch")))
    d.add_argument("--arg", action="append", default=[], help="extra argument for bindwatch")
    d.add_argument("--jobs", type=int, default=2)
    d.add_argument("--timeout", type=int, default=120)
    d.add_argument("-v", "--verbose", action="store_true")
    d.add_argument("captures", nargs="+")
    a = ap.parse_args(argv)
    return validation(a) if a.cmd == "validation" else determinism(a)


if __name__ == "__main__":
    sys.exit(main())
