#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Golden test: bindwatch on each bundled capture, compared field by field
with the truth the generator recorded (tests/golden/NAME.tsv).

The truth is the text each record was built from in tools/pcapgen (never
bindwatch's output). Columns: file, packet, qname, qtype, rcode, section,
owner, type, ttl, data. section is answer/authority/additional for a
record, "none" for a response without records (only its rcode is checked),
"noanswer" for a frame that must not give a response event with records (a
malformed message, or a mirror copy the duplicate filter must drop).

Checks, each counted once: every truth row is found in a response event of
the same file and frame (question name, question type and rcode equal; the
record with that owner and type has that TTL and data). Data are compared
after canonicalisation (whitespace, base64/hex split by dig, hex case; see
pcapgen.scenario.canon_data). Then every record bindwatch reported at
those frames that no truth row claimed, and every response event with
records at a frame the truth does not mention, is a failure too.

Prints the mismatches and "golden: N passed, N failed"; exits 1 on failure.
"""

import argparse
import collections
import concurrent.futures
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests" / "conformance"))
import run as conf  # noqa: E402  (Event, run_bindwatch: the event-format knowledge)
from pcapgen.scenario import TRUTH_COLUMNS, canon_data  # noqa: E402

RECORD_SECTIONS = ("answer", "authority", "additional")


def load_truth(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != TRUTH_COLUMNS:
            raise SystemExit("%s: unexpected header %r" % (path, header))
        for n, line in enumerate(f, 2):
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) != len(TRUTH_COLUMNS):
                raise SystemExit("%s:%d: %d columns" % (path, n, len(cols)))
            r = dict(zip(TRUTH_COLUMNS, cols))
            r["packet"] = int(r["packet"])
            r["where"] = "%s:%d" % (path.name, n)
            rows.append(r)
    return rows


def same_data(rtype, a, b):
    return canon_data(rtype, a) == canon_data(rtype, b)


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self):
        self.passed += 1

    def fail(self, msg):
        self.failed += 1
        print("FAIL " + msg)


def check_file(ck, fname, rows, run):
    resp = collections.defaultdict(list)           # packet -> [Event]
    for ev in run.events:
        if ev.is_response:
            resp[ev.packet].append(ev)
    used = set()                                   # (id(event), index) of records claimed
    truth_packets = {r["packet"] for r in rows}

    for r in rows:
        pk, where = r["packet"], "%s #%d" % (fname, r["packet"])
        evs = resp.get(pk, [])
        if r["section"] == "noanswer":
            bad = [e for e in evs if e.records()]
            if bad:
                ck.fail("%s: expected no answer (%s) but got %d record(s), e.g. %r"
                        % (where, r["data"], len(bad[0].records()), bad[0].records()[0]))
                for e in bad:
                    for i, _ in enumerate(e.records()):
                        used.add((id(e), i))
            else:
                ck.ok()
            continue
        want_q = None if r["qname"] == "-" else r["qname"]
        cands = [e for e in evs if e.qname == want_q and (want_q is None or e.qtype == r["qtype"])]
        if not cands:
            got = ", ".join("%s/%s" % (e.qname, e.qtype) for e in evs) or "no response event"
            ck.fail("%s: no response for %s/%s (%s) [%s]" % (where, r["qname"], r["qtype"], got, r["where"]))
            continue
        rc_ok = [e for e in cands if (e.rcode or "") == r["rcode"]]
        if not rc_ok:
            ck.fail("%s %s: rcode want %s got %s [%s]" % (where, r["qname"], r["rcode"], cands[0].rcode, r["where"]))
            continue
        if r["section"] == "none":
            withrec = [e for e in rc_ok if e.records()]
            if len(withrec) == len(rc_ok):
                ck.fail("%s %s: expected no records, got %r" % (where, r["qname"], withrec[0].records()[:3]))
            else:
                ck.ok()
            continue
        best, found = None, False
        for e in rc_ok:
            for i, rec in enumerate(e.records()):
                if (id(e), i) in used or rec.section != r["section"] or rec.name != r["owner"] \
                        or rec.type != r["type"]:
                    continue
                ttl_ok = str(rec.ttl) == r["ttl"]
                data_ok = same_data(r["type"], rec.data, r["data"])
                if ttl_ok and data_ok:
                    used.add((id(e), i))
                    found = True
                    break
                if best is None:
                    best = (rec, ttl_ok, data_ok, (id(e), i))
            if found:
                break
        if found:
            ck.ok()
            continue
        if best is None:
            owners = sorted({"%s %s %s" % (x.section, x.name, x.type) for e in rc_ok for x in e.records()})
            ck.fail("%s: no %s record %s %s (have: %s) [%s]" % (where, r["section"], r["owner"], r["type"],
                                                                "; ".join(owners[:6]) or "none", r["where"]))
            continue
        rec, ttl_ok, data_ok, ref = best
        used.add(ref)                  # reported here, not again as unexpected
        diffs = []
        if not ttl_ok:
            diffs.append("ttl want %s got %s" % (r["ttl"], rec.ttl))
        if not data_ok:
            diffs.append("data want %r got %r" % (r["data"], rec.data))
        ck.fail("%s %s %s %s: %s [%s]" % (where, r["section"], r["owner"], r["type"], "; ".join(diffs), r["where"]))

    for pk in sorted(p for p in resp if p is not None):
        for e in resp[pk]:
            recs = e.records()
            if pk not in truth_packets:
                if recs:
                    ck.fail("%s #%d: unexpected response event %s/%s with %d record(s)"
                            % (fname, pk, e.qname, e.qtype, len(recs)))
                continue
            for i, rec in enumerate(recs):
                if (id(e), i) not in used:
                    ck.fail("%s #%d: unexpected record %r" % (fname, pk, rec))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compare bindwatch's DNS events on the bundled captures "
                                 "with the generator's truth.")
    ap.add_argument("--pcaps", default=str(REPO / "pcaps"), help="capture directory (default <repo>/pcaps)")
    ap.add_argument("--golden", default=str(HERE), help="truth directory (default tests/golden)")
    ap.add_argument("--bindwatch", default=os.environ.get("BINDWATCH", str(REPO / "build" / "bindwatch")))
    ap.add_argument("--arg", action="append", default=[], help="extra argument for bindwatch")
    ap.add_argument("--events-dir", help="read DIR/<file>.jsonl instead of running bindwatch")
    ap.add_argument("--only", action="append", default=[], help="only files whose name contains this")
    ap.add_argument("--timeout", type=int, default=60)
    a = ap.parse_args(argv)

    truth = collections.defaultdict(list)
    for p in sorted(Path(a.golden).glob("*.tsv")):
        for r in load_truth(p):
            truth[r["file"]].append(r)
    files = sorted(f for f in truth if not a.only or any(o in f for o in a.only))
    ck = Checker()
    if not files:
        ck.fail("no truth files in %s" % a.golden)
    if not a.events_dir and not os.access(a.bindwatch, os.X_OK):
        print("golden: bindwatch not found at %s" % a.bindwatch)
        print("golden: 0 passed, %d failed" % sum(len(truth[f]) for f in files))
        return 1

    def one(f):
        path = Path(a.pcaps) / f
        if a.events_dir:
            return conf.load_events_file(Path(a.events_dir) / (f + ".jsonl"), f)
        if not path.exists():
            r = conf.Run(f)
            r.error = "missing capture %s" % path
            return r
        return conf.run_bindwatch(a.bindwatch, path, list(a.arg), a.timeout)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = dict(zip(files, pool.map(one, files)))
    for f in files:
        run = runs[f]
        if run.crashed:
            ck.fail("%s: %s" % (f, run.error or "bindwatch killed by signal %d" % -run.rc))
            continue
        if run.rc:
            ck.fail("%s: bindwatch exited %d: %s" % (f, run.rc, run.stderr.strip()[-200:]))
        before = (ck.passed, ck.failed)
        check_file(ck, f, truth[f], run)
        print("%-34s %4d passed, %d failed" % (f, ck.passed - before[0], ck.failed - before[1]))
    print("golden: %d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
