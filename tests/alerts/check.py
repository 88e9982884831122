#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Alert checks on the cases of tools/pcapgen.py --alert-suite DIR
(tests/alerts/run.sh drives this).

  check.py --bindwatch BW --dir DIR

For each case of DIR/cases.tsv, bindwatch reads DIR/<case>.pcap with the
case's policy (-c DIR/<case>.yaml, none for "-") and extra arguments, in
DIR (so relative paths in the arguments resolve there), with --workers 1;
then each row of DIR/expected.tsv (columns in
tools/pcapgen/scenarios_alerts.py) is held against the bindwatch.alert
events of that case:

  alert   exactly one event of that type, name, address, port, leaf SHA-256
          and packet, and its fields: rule.name/ruleset, event.kind/dataset/
          severity/id, a non-empty event.reason, @timestamp (the capture time
          of the observation), bindwatch.alert.type/name/address/port/
          cert_sha256/policy/dedup_key/repeats/previous_alert, destination
          ip:port and domain, tls.server.hash.sha256, bindwatch.pcap.file and
          packet, and the evidence: the kinds in order, the first one with
          the capture time, file and packet of the observation.
  update  exactly one end-of-run repeat-summary event for that type and name:
          repeats, @timestamp (the last occurrence), previous_alert and
          event.id (those of the last alert written for the key).
  none    no alert of that type ("*": any) for that name ("*": any): the
          near miss of the row's note.

An alert event no row claims is a failure. The stats event's alert counters
must agree with the events. Then every case runs again with two workers:
the alerts (type, name, address, port, certificate, packet, repeats) must
be the same, since alerts may not depend on how flows are spread over threads.

KNOWN_BUGS lists rows bindwatch is known to get wrong: they still print as
FAIL (prefixed KNOWN BUG) and count as failures, so they stay visible until
bindwatch is fixed; the list only adds the diagnosis to the message.

Prints each failure and "alerts: N passed, N failed" last; exits 1 if any failed.
"""

import argparse
import concurrent.futures
import csv
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# (case, kind, type, name) -> diagnosis: rows bindwatch is known to get
# wrong (kind "workers": the multi-worker comparison of the case). They
# still count as failures, printed "KNOWN BUG ...", until bindwatch is fixed;
# an entry whose row passes is reported so it can be removed.
KNOWN_BUGS = {}

# Multi-worker correlation is not finished (the performance issue): DNS and
# TLS of one name can reach different workers, which run unordered, and the
# record-drift bookkeeping is per worker. Until then the comparison of a
# multi-worker run with a one-worker run is reported and counted as skipped
# for these cases, never as passed.
# Multi-worker runs must give exactly the alerts of one worker: the pipeline orders the
# detector calls across workers in capture order (sensor/pipeline.c, the detection
# turnstile) and the workers share one detector state. Nothing is excused here any more.
KNOWN_LIMITS = {}
WORKER_RUNS = (2, 4, 2, 4)    # worker counts of the comparison runs (races show in some runs only)


def parse_ts(s):
    """RFC 3339 (Z, up to 9 fraction digits) -> ns since the epoch."""
    if not isinstance(s, str) or not s.endswith("Z"):
        return None
    main, _, frac = s[:-1].partition(".")
    try:
        t = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return int(t.timestamp()) * 1000000000 + int((frac + "000000000")[:9] or 0)


def get(ev, path, default=None):
    cur = ev
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


def norm_ep(s):
    """'192.0.2.1:443' / '[2001:db8::1]:443' -> (ip, port)."""
    if s.startswith("["):
        ip, _, port = s[1:].partition("]:")
    else:
        ip, _, port = s.rpartition(":")
    return ip, int(port)


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def skip(self, msg):
        self.skipped += 1
        print("SKIP " + msg)

    def ok(self):
        self.passed += 1

    def fail(self, msg):
        self.failed += 1
        print("FAIL " + msg)

    def fail_known(self, key, msg):
        if key in KNOWN_BUGS:
            self.fail("KNOWN BUG " + msg + " [" + KNOWN_BUGS[key] + "]")
        else:
            self.fail(msg)


def run_bw(bw, d, case, workers, timeout):
    cmd = [bw, "-q", "--no-progress", "--data-dir", str(REPO / "data"), "-r", case["pcap"], "-o", "jsonl:-"]
    if case["policy"] != "-":
        cmd += ["-c", case["policy"]]
    if case["args"] != "-":
        cmd += case["args"].split()
    if workers:
        cmd += ["--workers", str(workers)]
    try:
        p = subprocess.run(cmd, cwd=d, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()[-300:])
    evs = []
    for n, line in enumerate(p.stdout.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            evs.append(json.loads(line))
        except ValueError as e:
            return None, "output line %d is not JSON (%s): %r" % (n, e, line[:120])
    return evs, None


def alerts_of(evs):
    return [e for e in evs if get(e, "event.dataset") == "bindwatch.alert"]


def is_update(e):
    return get(e, "event.action") == "repeat-summary"


def describe(e):
    a = get(e, "bindwatch.alert", {})
    return "%s%s name=%s addr=%s port=%s packet=%s repeats=%s" % (
        get(e, "rule.name"), " (update)" if is_update(e) else "", a.get("name"), a.get("address"), a.get("port"),
        get(e, "bindwatch.pcap.packet"), a.get("repeats"))


def field_diffs(e, r, pcap):
    """What differs between alert event e and expected row r (a list of text)."""
    d = []
    a = get(e, "bindwatch.alert", {})

    def want(label, got, exp):
        if got != exp:
            d.append("%s want %r got %r" % (label, exp, got))

    want("event.kind", get(e, "event.kind"), "alert")
    want("rule.ruleset", get(e, "rule.ruleset"), "bindwatch")
    want("bindwatch.alert.type", a.get("type"), r["type"])
    if r["severity"] != "*":
        want("event.severity", get(e, "event.severity"), int(r["severity"]))
    reason = get(e, "event.reason")
    if not isinstance(reason, str) or not reason.strip():
        d.append("event.reason empty")
    elif r["name"] not in reason.lower():
        d.append("event.reason does not name %s: %r" % (r["name"], reason))
    eid = get(e, "event.id")
    if not (isinstance(eid, str) and len(eid) == 16 and all(c in "0123456789abcdef" for c in eid)):
        d.append("event.id %r is not 16 hex digits" % eid)
    ts = parse_ts(e.get("@timestamp"))
    if ts != parse_ts(r["timestamp"]):
        d.append("@timestamp want %s got %s" % (r["timestamp"], e.get("@timestamp")))
    if r["repeats"] != "*":
        want("bindwatch.alert.repeats", a.get("repeats"), int(r["repeats"]))
    if r["previous"] == "-":
        if "previous_alert" in a:
            d.append("previous_alert want absent got %r" % a["previous_alert"])
    elif r["previous"] != "*" and parse_ts(a.get("previous_alert")) != parse_ts(r["previous"]):
        d.append("previous_alert want %s got %r" % (r["previous"], a.get("previous_alert")))
    if is_update(e):
        return d
    if r["policy"] != "*":
        pol = a.get("policy")
        if not isinstance(pol, str) or r["policy"] not in pol:
            d.append("bindwatch.alert.policy want to contain %r got %r" % (r["policy"], pol))
    dk = a.get("dedup_key")
    if not isinstance(dk, str) or not dk.startswith(r["type"] + "|") or r["name"] not in dk:
        d.append("bindwatch.alert.dedup_key %r does not start with the type and hold the name" % dk)
    want("destination.domain", get(e, "destination.domain"), r["name"])
    if r["destination"] not in ("*", "-"):
        ip, port = norm_ep(r["destination"])
        want("destination.ip", get(e, "destination.ip"), ip)
        want("destination.port", get(e, "destination.port"), port)
    if r["cert"] != "-":
        want("tls.server.hash.sha256", get(e, "tls.server.hash.sha256"), r["cert"])
    if r["packet"] == "-":
        if get(e, "bindwatch.pcap") is not None:
            d.append("bindwatch.pcap want absent (end of run) got %r" % get(e, "bindwatch.pcap"))
    else:
        want("bindwatch.pcap.file", get(e, "bindwatch.pcap.file"), pcap)
        want("bindwatch.pcap.packet", get(e, "bindwatch.pcap.packet"), int(r["packet"]))
    ev = get(e, "bindwatch.evidence")
    if not isinstance(ev, list) or not ev:
        d.append("bindwatch.evidence missing or empty")
        return d
    kinds = [x.get("kind") for x in ev]
    if r["evidence"] != "*":
        exp = r["evidence"].split(",")
        # dns_binding: one entry per address DNS gave for the name or its chain (at least one)
        got = [k for i, k in enumerate(kinds) if not (k == "dns_binding" and i > 0 and kinds[i - 1] == k)]
        if got != exp:
            d.append("evidence kinds want %s got %s" % (r["evidence"], ",".join(str(k) for k in kinds)))
    first = ev[0]
    if parse_ts(first.get("@timestamp")) != parse_ts(r["timestamp"]):
        d.append("evidence[0].@timestamp want %s got %r" % (r["timestamp"], first.get("@timestamp")))
    if r["packet"] != "-":
        if first.get("file") != pcap or first.get("packet") != int(r["packet"]):
            d.append("evidence[0] file/packet want %s#%s got %s#%s" % (pcap, r["packet"], first.get("file"),
                                                                     first.get("packet")))
    # the first evidence is about the alert's name: that name, a name under it, or (when the observation
    # that completed the alert concerns another name, such as a zone's nameserver) a name the reason gives
    fn = str(first.get("name") or "").lower()
    if not fn or not (fn.startswith(r["name"].split(".")[0]) or fn.endswith("." + r["name"])
                      or (isinstance(reason, str) and fn in reason.lower())):
        d.append("evidence[0].name %r" % first.get("name"))
    for x in ev:
        if not x.get("summary"):
            d.append("evidence %s without a summary" % x.get("kind"))
        if x.get("kind") == "dns_binding" and (not x.get("address") or parse_ts(x.get("@timestamp")) is None
                                               or parse_ts(x["@timestamp"]) > ts):
            d.append("dns_binding evidence without an address or a capture time before the alert: %r" % x)
    return d


def key_of(e):
    a = get(e, "bindwatch.alert", {})
    return (get(e, "rule.name"), a.get("name"), a.get("address"), a.get("port"), a.get("cert_sha256"),
            get(e, "bindwatch.pcap.packet"), a.get("repeats"), is_update(e))


def check_case(res, case, rows, evs):
    name, pcap = case["case"], case["pcap"]
    alerts = alerts_of(evs)
    claimed = set()
    flagged = set()

    failed_keys = set()

    def report(r, msg):
        k = (name, r["kind"], r["type"], r["name"])
        failed_keys.add(k)
        res.fail_known(k, "%s: %s" % (name, msg))

    # alert and update rows claim their events first; none rows then look at what is left
    for r in sorted(rows, key=lambda r: r["kind"] == "none"):
        what = "%s %s %s" % (r["kind"], r["type"], r["name"])
        if r["kind"] == "none":
            hits = [i for i, e in enumerate(alerts)
                    if r["type"] in ("*", get(e, "rule.name"))
                    and r["name"] in ("*", get(e, "bindwatch.alert.name"))
                    and i not in claimed]
            if hits:
                flagged.update(hits)
                report(r, "near miss fired (%s): %s" % (r["note"], "; ".join(
                    describe(alerts[i]) + " reason: " + str(get(alerts[i], "event.reason")) for i in hits)))
            else:
                res.ok()
            continue
        upd = r["kind"] == "update"
        cands = []
        for i, e in enumerate(alerts):
            a = get(e, "bindwatch.alert", {})
            if i in claimed or is_update(e) != upd or get(e, "rule.name") != r["type"] or a.get("name") != r["name"]:
                continue
            if not upd:
                if a.get("address") != (None if r["address"] == "-" else r["address"]):
                    continue
                if a.get("port") != (None if r["port"] == "-" else int(r["port"])):
                    continue
                if a.get("cert_sha256") != (None if r["cert"] == "-" else r["cert"]):
                    continue
                if get(e, "bindwatch.pcap.packet") != (None if r["packet"] == "-" else int(r["packet"])):
                    continue
            cands.append(i)
        if not cands:
            near = [describe(e) for e in alerts if get(e, "rule.name") == r["type"]]
            report(r, "missing %s (packet %s, %s); alerts of that type: %s"
                   % (what, r["packet"], r["note"], "; ".join(near) or "none"))
            continue
        if len(cands) > 1:
            report(r, "%d events for %s, want 1: %s" % (len(cands), what, "; ".join(describe(alerts[i])
                                                                                    for i in cands)))
        i = cands[0]
        claimed.add(i)
        e = alerts[i]
        d = field_diffs(e, r, pcap)
        if upd:
            # event.id and previous_alert of the last alert written for the key
            written = [x for x in alerts if not is_update(x) and get(x, "rule.name") == r["type"]
                       and get(x, "bindwatch.alert.name") == r["name"]]
            if written:
                last = max(written, key=lambda x: parse_ts(x.get("@timestamp")) or 0)
                if get(e, "event.id") != get(last, "event.id"):
                    d.append("event.id %r is not that of the last alert for the key (%r)"
                             % (get(e, "event.id"), get(last, "event.id")))
            ev = get(e, "bindwatch.evidence") or [{}]
            if parse_ts(ev[0].get("@timestamp")) != parse_ts(r["timestamp"]):
                d.append("suppressed evidence @timestamp want %s got %r" % (r["timestamp"], ev[0].get("@timestamp")))
        if d:
            report(r, "%s (packet %s): %s" % (what, r["packet"], "; ".join(d)))
        else:
            res.ok()
    for k in KNOWN_BUGS:
        if k[0] == name and k[1] != "workers" and k not in failed_keys:
            print("NOTE KNOWN_BUGS entry %r passes now: remove it" % (k,))
    extra = [i for i in range(len(alerts)) if i not in claimed and i not in flagged]
    for i in extra:
        res.fail("%s: unexpected alert %s: %s" % (name, describe(alerts[i]), get(alerts[i], "event.reason")))
    if not extra:
        res.ok()
    stats = [e for e in evs if get(e, "event.dataset") == "bindwatch.stats"]
    st = get(stats[-1], "bindwatch.stats.alerts") if stats else None
    n_written = sum(1 for e in alerts if not is_update(e))
    if not isinstance(st, dict):
        res.fail("%s: no bindwatch.stats.alerts in the stats event" % name)
    elif st.get("written") != n_written:
        res.fail("%s: stats alerts.written %r, %d alert events" % (name, st.get("written"), n_written))
    else:
        res.ok()


def compare_workers(res, name, evs1, runs):
    """The alerts of runs with several workers (runs: [(workers, (events, error))])
    against those of one worker."""
    k1 = sorted(map(str, map(key_of, alerts_of(evs1))))
    diffs, ndiff = [], 0
    for n, (evs, err) in runs:
        if err:
            res.fail("%s: bindwatch --workers %d %s" % (name, n, err))
            return
        k2 = sorted(map(str, map(key_of, alerts_of(evs))))
        if k1 != k2:
            d = "--workers %d: only with 1: %s; only with %d: %s" % (
                n, "; ".join(k for k in k1 if k not in k2) or "-", n, "; ".join(k for k in k2 if k not in k1) or "-")
            ndiff += 1
            if d not in diffs:
                diffs.append(d)
    key = (name, "workers", "-", "-")
    if key in KNOWN_LIMITS:
        res.skip("%s: multi-worker comparison (known limitation: %s)%s" % (
            name, KNOWN_LIMITS[key], (": " + " | ".join(diffs)) if diffs else " (no difference in these runs)"))
        return
    if diffs:
        res.fail_known(key, "%s: alerts differ between one worker and several (%d of %d runs differ): %s"
                       % (name, ndiff, len(WORKER_RUNS), " | ".join(diffs)))
    else:
        if key in KNOWN_BUGS:
            print("NOTE KNOWN_BUGS entry %r did not show in %d runs (a race shows in some runs only)"
                  % (key, len(WORKER_RUNS)))
        res.ok()


def demo(res, bw, a):
    """make demo: bindwatch -r pcaps/ -c examples/demo-policy.yaml gives exactly the
    alerts pcaps/alerts-demo.pcap was built to give (scenarios_alerts.alerts_demo)."""
    sys.path.insert(0, str(REPO / "tools"))
    from pcapgen import build
    want = sorted(build("alerts-demo").demo_alerts)
    case = {"case": "demo", "pcap": str(REPO / "pcaps"), "policy": str(REPO / "examples" / "demo-policy.yaml"),
            "args": "-"}
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futs = [pool.submit(run_bw, bw, REPO, case, n, a.timeout) for n in (1,) + WORKER_RUNS]
        results = [f.result() for f in futs]
    evs, err = results[0]
    if err:
        res.fail("demo: bindwatch %s" % err)
        return
    got = sorted((get(e, "rule.name"), get(e, "bindwatch.alert.name"), get(e, "bindwatch.alert.address"),
                  get(e, "bindwatch.pcap.packet")) for e in alerts_of(evs)
                 if get(e, "bindwatch.pcap.file") == "alerts-demo.pcap")
    other = [describe(e) + " in " + str(get(e, "bindwatch.pcap.file")) for e in alerts_of(evs)
             if get(e, "bindwatch.pcap.file") != "alerts-demo.pcap"]
    if got == want:
        res.ok()
    else:
        res.fail("demo: alerts-demo.pcap alerts want %s got %s" % (want, got))
    if other:
        res.fail("demo: alerts from other bundled captures: %s" % "; ".join(other))
    else:
        res.ok()
    if not a.no_workers_check:
        compare_workers(res, "demo", evs, list(zip(WORKER_RUNS, results[1:])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bindwatch", default=os.environ.get("BINDWATCH", str(REPO / "build" / "bindwatch")))
    ap.add_argument("--dir", required=True, help="output of tools/pcapgen.py --alert-suite")
    ap.add_argument("--only", action="append", default=[], help="only cases whose name contains this")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--jobs", type=int, default=4, help="bindwatch runs at once (default 4)")
    ap.add_argument("--no-workers-check", action="store_true", help="skip the multi-worker comparison")
    ap.add_argument("--demo", action="store_true",
                    help="also check make demo's alerts (pcaps/ with examples/demo-policy.yaml)")
    a = ap.parse_args(argv)
    d = Path(a.dir)
    with open(d / "cases.tsv", newline="", encoding="utf-8") as f:
        cases = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    with open(d / "expected.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    res = Result()
    bw = os.path.abspath(a.bindwatch)
    cases = [c for c in cases if not a.only or any(o in c["case"] for o in a.only)]
    counts = (1,) + (() if a.no_workers_check else WORKER_RUNS)
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futs = {(c["case"], i): pool.submit(run_bw, bw, d, c, n, a.timeout) for c in cases
                for i, n in enumerate(counts)}
        results = {k: f.result() for k, f in futs.items()}
    for case in cases:
        crows = [r for r in rows if r["case"] == case["case"]]
        evs, err = results[(case["case"], 0)]
        if err:
            res.fail("%s: bindwatch %s" % (case["case"], err))
            continue
        res.ok()
        check_case(res, case, crows, evs)
        if not a.no_workers_check:
            compare_workers(res, case["case"], evs,
                            [(n, results[(case["case"], i + 1)]) for i, n in enumerate(WORKER_RUNS)])
    if a.demo:
        demo(res, bw, a)
    for k in KNOWN_BUGS:
        if k[0] not in {c["case"] for c in cases} | {"demo"}:
            res.fail("KNOWN_BUGS names a case that does not exist: %r" % (k,))
    print("alerts: %d passed, %d failed, %d skipped" % (res.passed, res.failed, res.skipped))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
