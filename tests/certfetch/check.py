#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check.py EVENTS.jsonl EXPR...: hold one bindwatch run's events to
expectations; prints each failed one and exits 1 if any failed.

EXPR is WHAT OP N with OP one of = >= <=, WHAT one of:
  x509:SOURCE        x509 events whose bindwatch.x509.source is SOURCE
  alert:TYPE         alerts of that type (rule.name); alert:* all alerts
  certfetch:STATUS   bindwatch.certfetch events with that status; certfetch:* all
  over:TRANSPORT     bindwatch.certfetch events for a session observed over
                     TRANSPORT (tcp, quic, dtls)
  tls:PROTOCOL       bindwatch.tls events of that protocol (tls, dtls, quic);
                     tls:quic also needs transport udp and a QUIC version
  stat:A.B.C         a number in the stats event under bindwatch.stats
"""
import json
import re
import sys


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def main(argv):
    evs = []
    with open(argv[1]) as f:
        for line in f:
            line = line.strip()
            if line:
                evs.append(json.loads(line))
    stats = [e for e in evs if get(e, "event.dataset") == "bindwatch.stats"]
    bad = 0
    for expr in argv[2:]:
        m = re.fullmatch(r"([a-z0-9]+):([A-Za-z0-9_.*]+)(=|>=|<=)(\d+)", expr)
        if not m:
            print("check.py: bad expression %r" % expr)
            return 2
        what, arg, op, n = m.group(1), m.group(2), m.group(3), int(m.group(4))
        if what == "x509":
            v = sum(1 for e in evs if get(e, "event.dataset") == "bindwatch.x509" and
                    get(e, "bindwatch.x509.source") == arg)
        elif what == "alert":
            v = sum(1 for e in evs if get(e, "event.kind") == "alert" and (arg == "*" or get(e, "rule.name") == arg))
        elif what == "certfetch":
            v = sum(1 for e in evs if get(e, "event.dataset") == "bindwatch.certfetch" and
                    (arg == "*" or get(e, "bindwatch.certfetch.status") == arg))
        elif what == "over":
            v = sum(1 for e in evs if get(e, "event.dataset") == "bindwatch.certfetch" and
                    get(e, "bindwatch.certfetch.observed_over") == arg)
        elif what == "tls":
            v = sum(1 for e in evs if get(e, "event.dataset") == "bindwatch.tls" and
                    get(e, "bindwatch.tls.protocol") == arg and
                    (arg != "quic" or (get(e, "network.transport") == "udp" and
                                       get(e, "bindwatch.tls.quic.version") is not None)))
        elif what == "stat":
            v = get(stats[-1], "bindwatch.stats." + arg) if stats else None
        else:
            print("check.py: unknown %r" % what)
            return 2
        ok = v is not None and ((op == "=" and v == n) or (op == ">=" and v >= n) or (op == "<=" and v <= n))
        if not ok:
            print("  expected %s, got %s" % (expr, v))
            bad += 1
    if bad:
        alerts = [get(e, "rule.name") for e in evs if get(e, "event.kind") == "alert"]
        cf = [get(e, "bindwatch.certfetch") for e in evs if get(e, "event.dataset") == "bindwatch.certfetch"]
        print("  alerts: %s" % alerts)
        print("  certfetch events: %s" % cf)
        if stats:
            print("  stats.certfetch: %s" % get(stats[-1], "bindwatch.stats.certfetch"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
