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

TLS captures (tests/golden/tls-*.tsv, columns pcapgen.scenarios_tls.
TLS_TRUTH_COLUMNS) have one row per handshake, found by its client and
server endpoints: the connection must give exactly one bindwatch.tls event
(none when event is "no"; none or one when "any", a malformed handshake),
at a packet inside the connection's frames, and each column that is not "*"
must equal what the event says ("-" = absent): protocol, SNI, version name
(and the ECS tls.version / version_protocol that go with it), cipher, ALPN
offered and selected, JA3 and its string, JA3S, JA4, cert_visible, the
SHA-256 of each chain element in order, validation status (bindwatch runs
without --ca-file), HelloRetryRequest, STARTTLS. Any other TLS event is a
failure, and so is a chain certificate without its bindwatch.x509 event
or with more than one.

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
from pcapgen.scenarios_tls import TLS_TRUTH_COLUMNS  # noqa: E402

RECORD_SECTIONS = ("answer", "authority", "additional")


def load_truth(path):
    """Rows of one truth file and its kind: "dns" (TRUTH_COLUMNS) or "tls"
    (TLS_TRUTH_COLUMNS, one row per handshake)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header == TRUTH_COLUMNS:
            kind = "dns"
        elif header == TLS_TRUTH_COLUMNS:
            kind = "tls"
        else:
            raise SystemExit("%s: unexpected header %r" % (path, header))
        for n, line in enumerate(f, 2):
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) != len(header):
                raise SystemExit("%s:%d: %d columns" % (path, n, len(cols)))
            r = dict(zip(header, cols))
            r["packet"] = int(r["packet"])
            r["where"] = "%s:%d" % (path.name, n)
            r["kind"] = kind
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


# ---------------------------------------------------------------- TLS

def _flag(v):
    return "true" if v is True else "false" if v in (False, None) else str(v).lower()


def _text(v):
    """An event value as the truth writes it: None/""/[] -> "-", lists joined by ","."""
    if v is None or v == "" or v == []:
        return "-"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    if isinstance(v, bool):
        return _flag(v)
    return str(v)


# truth column -> (what bindwatch printed, how the truth spells it)
TLS_FIELDS = (
    ("protocol", lambda e: _text(e.protocol)),
    ("sni", lambda e: _text(e.sni)),
    ("version", lambda e: _text(e.version_name)),
    ("cipher", lambda e: _text(e.cipher)),
    ("alpn_offered", lambda e: _text(e.alpn_offered)),
    ("alpn", lambda e: _text(e.alpn)),
    ("ja3", lambda e: _text(e.ja3)),
    ("ja3_string", lambda e: _text(e.ja3_string)),
    ("ja3s", lambda e: _text(e.ja3s)),
    ("ja4", lambda e: _text(e.ja4)),
    ("cert_visible", lambda e: _flag(e.cert_visible)),
    ("chain", lambda e: _text(e.chain_sha256)),
    ("validation", lambda e: _text(e.status)),
    ("hrr", lambda e: _flag(e.hrr)),
    ("starttls", lambda e: _text(e.starttls)),
)

# ECS tls.version / tls.version_protocol that go with each version name
ECS_VERSION = {"SSLv3": ("3.0", "ssl"), "TLSv1.0": ("1.0", "tls"), "TLSv1.1": ("1.1", "tls"),
               "TLSv1.2": ("1.2", "tls"), "TLSv1.3": ("1.3", "tls"), "DTLSv1.0": ("1.0", "dtls"),
               "DTLSv1.2": ("1.2", "dtls")}


def check_tls_file(ck, fname, rows, run):
    """Every truth row (one handshake) against the bindwatch.tls event(s) of
    its connection, field by field; then every event the truth does not
    know, and an x509 event for every certificate of a checked chain."""
    by_flow = collections.defaultdict(list)
    for e in run.tls:
        by_flow[(e.client, e.server)].append(e)
    known = set()
    want_certs = set()
    for r in rows:
        flow = (conf.norm_endpoint(r["client"]), conf.norm_endpoint(r["server"]))
        known.add(flow)
        evs = by_flow.get(flow, [])
        where = "%s %s->%s [%s]" % (fname, r["client"], r["server"], r["where"])
        if r["event"] == "no":
            if evs:
                ck.fail("%s: expected no TLS event (%s), got %r" % (where, r["note"], evs[0]))
            else:
                ck.ok()
            continue
        if not evs:
            if r["event"] == "yes":
                ck.fail("%s: no bindwatch.tls event (sni %s)" % (where, r["sni"]))
            else:
                ck.ok()        # malformed: no event is a fine reading
            continue
        if len(evs) > 1:
            ck.fail("%s: %d TLS events for one handshake, e.g. %r / %r" % (where, len(evs), evs[0], evs[1]))
        else:
            ck.ok()
        e = evs[0]
        lo, _, hi = r["frames"].partition("-")
        if e.packet is None or not int(lo) <= e.packet <= int(hi):
            ck.fail("%s: event packet %s outside the connection's frames %s (complete at %d)"
                    % (where, e.packet, r["frames"], r["packet"]))
        else:
            ck.ok()
        for col, get in TLS_FIELDS:
            want = r[col]
            if want == "*":
                continue
            got = get(e)
            if got == want:
                ck.ok()
            else:
                ck.fail("%s: %s want %r got %r" % (where, col, want, got))
        if r["version"] in ECS_VERSION:
            want = ECS_VERSION[r["version"]]
            got = (e.version, e.version_protocol)
            if got == want:
                ck.ok()
            else:
                ck.fail("%s: tls.version/version_protocol want %s/%s got %s/%s" % ((where,) + want + got))
        if r["chain"] not in ("*", "-"):
            want_certs.update(r["chain"].split(","))
    for flow, evs in sorted(by_flow.items(), key=lambda kv: str(kv[0])):
        if flow not in known:
            for e in evs:
                ck.fail("%s: unexpected TLS event %r (packet %s)" % (fname, e, e.packet))
    seen = {x.cert.sha256 for x in run.x509}
    for h in sorted(want_certs):
        if h in seen:
            ck.ok()
        else:
            ck.fail("%s: no bindwatch.x509 event for certificate %s" % (fname, h[:16]))
    dups = collections.Counter(x.cert.sha256 for x in run.x509)
    for h, n in sorted(dups.items()):
        if n > 1:
            ck.fail("%s: %d bindwatch.x509 events for certificate %s (one per distinct certificate)"
                    % (fname, n, (h or "?")[:16]))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compare bindwatch's DNS and TLS events on the bundled captures "
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
        dns_rows = [r for r in truth[f] if r["kind"] == "dns"]
        tls_rows = [r for r in truth[f] if r["kind"] == "tls"]
        if dns_rows or not tls_rows:
            check_file(ck, f, dns_rows, run)
        if tls_rows:
            check_tls_file(ck, f, tls_rows, run)
        print("%-34s %4d passed, %d failed" % (f, ck.passed - before[0], ck.failed - before[1]))
    print("golden: %d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
