#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/malformed/check.py BINDWATCH CASEDIR TRUNCDIR: run every case of
EXPECTED.tsv (one run per file and reader) and the truncation family of
TRUNCATIONS.tsv (one run per reader with every file, which also shows that
a damaged file does not stop the next) through BINDWATCH, and check the
exit status, the stderr message, the sanitizers' silence, the surviving
events and the stats counters. Prints one "ok"/"FAIL" line per check and
"PASS N FAIL N" last (run.sh turns that into the suite's summary line).
Stdlib only; runs two cases at a time (the machine has two cores)."""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

TIMEOUT = 60       # seconds per run: more is a hang
SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
               "UndefinedBehaviorSanitizer", "SUMMARY: ")
ENV = dict(os.environ,
           ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def read_tsv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    cols = lines[0].split("\t")
    return [dict(zip(cols, ln.split("\t"))) for ln in lines[1:] if ln]


def lst(v):
    return [] if v in ("-", "") else v.split(",")


def run(bw, files, reader, out, extra=(), env=None):
    cmd = [bw, "-q", "--no-progress", "--dedup-window", "0"] + list(extra)
    if reader != "auto":
        cmd += ["--reader", reader]
    for f in files:
        cmd += ["-r", f]
    cmd += ["-o", "jsonl:" + out]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, env=dict(ENV, **(env or {})))
    except subprocess.TimeoutExpired:
        return None, "", []
    events = []
    bad_json = 0
    try:
        with open(out, "rb") as f:
            for line in f:
                try:
                    events.append(json.loads(line.decode("utf-8")))
                except ValueError:
                    bad_json += 1
    except OSError:
        pass
    if bad_json:
        events.append({"__bad_json__": bad_json})
    return p.returncode, p.stderr.decode("utf-8", "replace"), events


def stat_value(stats, path):
    cur = stats
    if path.startswith("malformed."):
        return stats.get("malformed", {}).get(path[len("malformed."):], 0)
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def check_stats(stats, specs):
    bad = []
    for spec in specs:
        m = re.match(r"^([A-Za-z0-9_.]+)([=>])(\d+)$", spec)
        if not m:
            bad.append("bad spec %s" % spec)
            continue
        path, op, n = m.group(1), m.group(2), int(m.group(3))
        v = stat_value(stats, path)
        ok = isinstance(v, (int, float)) and (v == n if op == "=" else v > n)
        if not ok:
            bad.append("%s is %s, want %s%d" % (path, v, op, n))
    return bad


def dataset(e):
    return e.get("event", {}).get("dataset")


def answers(events, fname=None):
    out = []
    for e in events:
        if dataset(e) != "bindwatch.dns" or e.get("dns", {}).get("type") != "answer":
            continue
        if fname and e["bindwatch"]["pcap"]["file"] != fname:
            continue
        out.append(e["dns"].get("question", {}).get("name", "?"))
    return out


def sanitizer_lines(err):
    return [ln for ln in err.splitlines() if any(m in ln for m in SAN_MARKERS)]


def case(bw, d, row, tmp):
    """Returns (label, [problems])."""
    path = os.path.join(d, row["file"])
    label = "%s [%s]" % (row["file"], row["reader"])
    out = os.path.join(tmp, "%s.%s.json" % (row["file"], row["reader"]))
    rc, err, events = run(bw, [path], row["reader"], out)
    if rc is None:
        return label, ["hang: no exit within %d s" % TIMEOUT]
    probs = []
    san = sanitizer_lines(err)
    if san:
        probs.append("sanitizer: " + san[0])
    if rc < 0:
        probs.append("killed by signal %d" % -rc)
    if str(rc) != row["exit"]:
        probs.append("exit %d, want %s" % (rc, row["exit"]))
    named = [ln for ln in err.splitlines() if (path + ":") in ln]
    if row["message"] == "-":
        if err.strip() and not san:
            probs.append("unexpected stderr: %s" % err.strip().splitlines()[0])
    else:
        if len(named) != 1:
            probs.append("%d stderr lines name the file, want 1 (%r)" % (len(named), err.strip()[:200]))
        elif row["message"] not in named[0]:
            probs.append("message %r lacks %r" % (named[0], row["message"]))
    if any("__bad_json__" in e for e in events):
        probs.append("output is not JSON lines")
    got = answers(events)
    want = lst(row["dns"])
    if got != want:
        probs.append("dns answers %s, want %s" % (got, want))
    snis = {e.get("tls", {}).get("client", {}).get("server_name") for e in events
            if dataset(e) == "bindwatch.tls"}
    missing = [s for s in lst(row["tls"]) if s not in snis]
    if missing:
        probs.append("no tls event for %s" % ",".join(missing))
    st = [e for e in events if dataset(e) == "bindwatch.stats"]
    if not st:
        probs.append("no stats event")
    else:
        probs += check_stats(st[-1]["bindwatch"]["stats"], lst(row["stats"]))
    return label, probs


def trunc_batch(bw, d, rows, reader, tmp, workers=1):
    """All truncated files in one run: one message per damaged file, the
    frames before the damage delivered, the files after it read. With two
    workers (our reader: each worker walks every file, stopping at the same
    damage) the same, answers compared as sets of a file's order."""
    rows = [r for r in rows if r["reader"] == reader]
    paths = [os.path.join(d, r["file"]) for r in rows]
    out = os.path.join(tmp, "trunc.%s.%d.json" % (reader, workers))
    extra = ("--workers", str(workers)) if workers > 1 else ()
    # walking whatever the CPUs of the machine
    rc, err, events = run(bw, paths, reader, out, extra, {"BINDWATCH_WALK": "always"} if workers > 1 else None)
    if workers > 1:
        reader = "%s, %d workers" % (reader, workers)
    results = []
    if rc is None:
        return [("truncations [%s]" % reader, ["hang: no exit within %d s" % TIMEOUT])]
    san = sanitizer_lines(err)
    head = []
    if san:
        head.append("sanitizer: " + san[0])
    if rc != 1:
        head.append("exit %d, want 1 (some files are damaged)" % rc)
    results.append(("truncations [%s]: %d files in one run" % (reader, len(rows)), head))
    lines = err.splitlines()
    for r, path in zip(rows, paths):
        probs = []
        named = [ln for ln in lines if ln.startswith("bindwatch: " + path + ":")]
        if r["message"] == "-":
            if named:
                probs.append("message for a whole file: %s" % named[0])
        elif len(named) != 1:
            probs.append("%d messages, want 1" % len(named))
        elif r["message"] not in named[0]:
            probs.append("message %r lacks %r" % (named[0], r["message"]))
        frames = sorted({e["bindwatch"]["pcap"]["packet"] for e in events
                         if dataset(e) == "bindwatch.dns" and e["bindwatch"]["pcap"]["file"] == r["file"]})
        want = [int(x) for x in lst(r["events"])]
        if frames != want:
            probs.append("events from frames %s, want %s" % (frames, want))
        got = answers(events, r["file"])
        if workers > 1:
            got = sorted(got)
        if got != (sorted(lst(r["dns"])) if workers > 1 else lst(r["dns"])):
            probs.append("dns answers %s, want %s" % (got, lst(r["dns"])))
        results.append(("%s [%s]" % (r["file"], reader), probs))
    return results


def main():
    bw, d, td = sys.argv[1:4]
    rows = read_tsv(os.path.join(d, "EXPECTED.tsv"))
    trows = read_tsv(os.path.join(td, "TRUNCATIONS.tsv"))
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="bw-malformed-run-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            futs = [ex.submit(case, bw, d, r, tmp) for r in rows]
            tf = [ex.submit(trunc_batch, bw, td, trows, rd, tmp) for rd in ("mmap", "libpcap")]
            tf.append(ex.submit(trunc_batch, bw, td, trows, "mmap", tmp, 2))
            results = [f.result() for f in futs]
            for f in tf:
                results += f.result()
    for label, probs in results:
        if probs:
            failed += 1
            print("FAIL %s: %s" % (label, "; ".join(probs)))
        else:
            passed += 1
            print("ok   %s" % label)
    print("PASS %d FAIL %d" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
