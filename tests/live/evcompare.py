#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""evcompare.py: compare the events of a live run with those of an offline run of the same captures.

  evcompare.py LIVE.json OFFLINE.json [--dedup-x509]
  evcompare.py retime OUT.pcap IN.pcap...   the frames of the classic pcaps IN, in order, in one
                                            pcap whose timestamps start now, 1 ms apart

Events are reduced to what the packets decide: DNS messages (addresses, ports, the whole dns
object), TLS handshakes (addresses, ports, bindwatch.tls), certificates (bindwatch.x509.sha256)
and alerts (bindwatch.alert without counters and evidence). Timestamps, pcap file/packet
fields and stats events are left out. The two multisets must be equal; x509 events are compared
as a set with --dedup-x509 (kept for older runs: the live output now drops a certificate a second worker announces again).
Prints "same dns=N tls=N x509=N alert=N" and exits 0, or the differences and exits 1.

retime: a live run sees its packets at the time of the replay, and what bindwatch judges by
packet time (certificate validity, suppression windows, TTLs) follows; the offline run is
given the same frames at the same times as the replay gives them, so only what the packets
carry can differ.
"""
import collections
import json
import struct
import sys
import time


def ends(e):
    s, d = e.get("source", {}), e.get("destination", {})
    return (s.get("ip"), s.get("port"), d.get("ip"), d.get("port"))


# Alerts that join observations of different flows (a DNS answer and a TLS
# handshake, a CAA lookup and a certificate, a CNAME and a later NXDOMAIN...).
# In a live capture with several workers those flows are handled by different
# threads in an order that depends on timing (offline runs order the detectors
# in capture order, sensor/pipeline.c; a live run cannot wait for a frame that
# has not arrived, and a tcpreplay at hundreds of packets per second puts a DNS
# answer and its TLS handshake microseconds apart, which a real client does not),
# so --multi-worker leaves them out of the comparison.
CROSS_FLOW = {"tls_server_not_in_dns", "caa_violation", "caa_missing", "dangling_cname", "dangling_cloud_address",
              "mx_dangling", "dnssec_rollover_risk", "dns_record_drift", "email_auth_weak", "cert_changed",
              "ns_lame_delegation"}
MULTI_WORKER = False


def key(e):
    ds = e.get("event", {}).get("dataset", "")
    if MULTI_WORKER and ds == "bindwatch.alert" and e.get("rule", {}).get("name") in CROSS_FLOW:
        return None, None
    bw = e.get("bindwatch", {})
    if ds == "bindwatch.dns":
        return "dns", json.dumps([ends(e), e.get("dns")], sort_keys=True)
    if ds == "bindwatch.tls":
        t = dict(bw.get("tls", {}))
        v = dict(t.get("validation") or {})
        v.pop("time", None)  # the judging clock's reading, not the packets'
        v.pop("clock", None)
        t["validation"] = v
        return "tls", json.dumps([ends(e), t], sort_keys=True)
    if ds == "bindwatch.x509":
        return "x509", bw.get("x509", {}).get("sha256")
    if ds == "bindwatch.alert":
        a = dict(bw.get("alert", {}))
        for k in ("repeats", "evidence", "first_seen", "last_seen", "previous_alert"):
            a.pop(k, None)
        return "alert", json.dumps(a, sort_keys=True)
    return None, None


def load(path, dedup):
    c = collections.Counter()
    x509 = set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            kind, k = key(json.loads(line))
            if kind == "x509" and dedup:
                if k in x509:
                    continue
                x509.add(k)
            if kind:
                c[(kind, k)] += 1
    return c


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        en = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        en = ">"
    else:
        raise SystemExit("%s: not a classic pcap" % path)
    link = struct.unpack(en + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(en + "IIII", data[off:off + 16])
        yield link, data[off + 16:off + 16 + incl], orig
        off += 16 + incl


def retime(out, paths):
    t = int(time.time() * 1e6)
    link0 = None
    with open(out, "wb") as f:
        for p in paths:
            for link, fr, orig in frames(p):
                if link0 is None:
                    link0 = link
                    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link))
                if link != link0:
                    raise SystemExit("%s: link type %d, not %d" % (p, link, link0))
                f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), orig) + fr)
                t += 1000
    return 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "retime":
        return retime(sys.argv[2], sys.argv[3:])
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dedup = "--dedup-x509" in sys.argv
    global MULTI_WORKER
    MULTI_WORKER = "--multi-worker" in sys.argv
    live, off = load(args[0], dedup), load(args[1], dedup)
    if live == off:
        n = collections.Counter(k for (k, _), v in off.items() for _ in range(v))
        print("same " + " ".join("%s=%d" % (k, n.get(k, 0)) for k in ("dns", "tls", "x509", "alert")))
        return 0
    missing, extra = off - live, live - off
    n_m = collections.Counter(k for (k, _), v in missing.items() for _ in range(v))
    n_e = collections.Counter(k for (k, _), v in extra.items() for _ in range(v))
    print("differ: missing %s; extra %s" % (dict(n_m), dict(n_e)))
    for (k, v), cnt in list(missing.items())[:3]:
        print("  missing %s x%d: %s" % (k, cnt, v[:300]))
    for (k, v), cnt in list(extra.items())[:3]:
        print("  extra   %s x%d: %s" % (k, cnt, v[:300]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
