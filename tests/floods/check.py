#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check.py: run bindwatch on one flood capture, measure its peak RSS (wait4),
and check the bound, the normal events of the truth file and the limit
counters. Usage: check.py KIND BINDWATCH PCAP MAX_MB OVERHEAD_MB [extra args].
Prints one line 'KIND: ok ...' or 'KIND: FAIL ...'; exit 1 on failure."""
import json
import os
import subprocess
import sys
import time


def run(cmd, out_path):
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
    return os.waitstatus_to_exitcode(status), ru.ru_maxrss * 1024, time.monotonic() - t0, err


def main():
    kind, bw, pcap, max_mb, over_mb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    extra = sys.argv[6:]
    base = pcap[:-5] if pcap.endswith(".pcap") else pcap
    out = base + ".events.json"
    cmd = [bw, "-r", pcap, "--max-memory", str(max_mb), "-q", "-o", "jsonl:-"] + extra
    rc, rss, wall, err = run(cmd, out)
    fails = []
    if rc != 0:
        fails.append("exit %d: %s" % (rc, err.strip()[-300:]))
    bound = (max_mb + over_mb) << 20
    if rss > bound:
        fails.append("peak RSS %.1f MiB > %d + %d MiB" % (rss / 1048576, max_mb, over_mb))
    dns, tls, stats, alerts, summaries = set(), set(), None, 0, []
    with open(out) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                fails.append("bad JSON line")
                break
            ds = e.get("event", {}).get("dataset")
            if ds == "bindwatch.dns":
                for a in e.get("dns", {}).get("answers", []):
                    dns.add((a.get("name"), a.get("type"), a.get("data")))
            elif ds == "bindwatch.tls":
                srv = e.get("tls", {}).get("server", {}).get("hash", {}).get("sha256")
                tls.add((e["destination"]["ip"], str(e["destination"]["port"]),
                         e.get("tls", {}).get("client", {}).get("server_name"), srv))
            elif ds == "bindwatch.stats":
                stats = e["bindwatch"]["stats"]
            elif ds == "bindwatch.alert":
                alerts += 1
                if e["event"].get("action") == "rate-limit-summary":
                    summaries.append(e["bindwatch"]["alert"]["held_back"])
    missing = 0
    with open(base + ".truth.tsv") as f:
        for line in f:
            r = line.rstrip("\n").split("\t")
            if r[0] == "dns" and (r[1], r[2], r[3]) not in dns:
                missing += 1
            if r[0] == "tls" and (r[1], r[2], r[3], r[4]) not in tls:
                missing += 1
    if missing:
        fails.append("%d normal events missing" % missing)
    if stats is None:
        fails.append("no stats event")
        stats = {}
    b = stats.get("bindings", {})
    ev = sum(t.get("evictions", 0) for t in b.values())
    tcp, frag, tl, al = stats.get("tcp", {}), stats.get("ip_fragments", {}), stats.get("tls", {}), stats.get("alerts", {})
    mal = stats.get("malformed", {})
    pkts = stats.get("input", {}).get("packets", 0)
    # The counters that must show what each flood did, and a plausibility range.
    if kind == "dns":
        if not (ev > 0.5 * pkts):
            fails.append("binding evictions %d for %d packets" % (ev, pkts))
        rc_t = b.get("name_rcode", {})
        if rc_t.get("bytes", 0) > rc_t.get("max_bytes", 0) + (rc_t.get("capacity", 0) * 40) + (1 << 20):
            fails.append("name_rcode over its byte cap")
        detail = "binding evictions %d" % ev
    elif kind == "tcp":
        flows = tcp.get("flows_created", 0)
        hits = tcp.get("flow_cap_hits", 0)
        if not (hits > 0.5 * flows and tcp.get("flows_active_max", 0) <= (max_mb << 20) * 20 // 100 // (12 << 10) + 1):
            fails.append("tcp flow cap hits %d of %d flows, active max %d" % (hits, flows, tcp.get("flows_active_max", 0)))
        detail = "tcp flows %d, flow cap hits %d, active max %d" % (flows, hits, tcp.get("flows_active_max", 0))
    elif kind == "frag":
        evd = frag.get("evicted", 0)
        if not (evd > 0.5 * frag.get("fragments", 1) and frag.get("reassembled", 0) == 0):
            fails.append("fragments %d evicted %d" % (frag.get("fragments", 0), evd))
        detail = "fragments %d, evicted %d (%s)" % (frag.get("fragments", 0), evd,
                                                  ", ".join("%s=%d" % (k, v) for k, v in mal.items() if k.startswith("frag")))
    elif kind == "certs":
        cev = tl.get("certificate_cache_evictions", 0)
        if not (cev > 0.5 * (tl.get("x509_events", 0) - 100) and tl.get("x509_events", 0) > 0):
            fails.append("certificate cache evictions %d, x509 events %d" % (cev, tl.get("x509_events", 0)))
        detail = "x509 events %d, cache evictions %d, handshakes %d" % (tl.get("x509_events", 0), cev, tl.get("handshakes", 0))
    elif kind == "alerts":
        rl = al.get("rate_limited", 0)
        held = sum(s["count"] for s in summaries)
        if not (rl > 0.5 * pkts and held == rl and summaries and al.get("written", 0) < 0.1 * pkts + 2000):
            fails.append("rate limited %d, held back in summaries %d (%d summaries), written %d" %
                         (rl, held, len(summaries), al.get("written", 0)))
        detail = "alerts written %d, rate-limited %d, in %d summaries" % (al.get("written", 0), rl, len(summaries))
    else:
        detail = ""
    pps = pkts / wall if wall > 0 else 0
    line = "%s: peak RSS %.1f MiB (bound %d+%d), %d packets in %.2f s (%.0f pkt/s), %s" % (
        kind, rss / 1048576, max_mb, over_mb, pkts, wall, pps, detail)
    if fails:
        print(line + "\n%s: FAIL: %s" % (kind, "; ".join(fails)))
        return 1
    print(line + " ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
