#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check what a syslog collector stored against what bindwatch emitted.

  check.py verify --ref REF.jsonl --log STORED --format json|cef|leef
                  [--layout 5424|3164] [--events dns,tls,...] [--dups N]
      REF.jsonl: the same run's JSON-lines sink (every event, in emit order);
      STORED: one raw message per line (rsyslog's %rawmsg%, or our unix receiver).
      Every selected event must arrive, intact, the first copies in order;
      at most N duplicates (at-least-once after an outage), no other message.
      CEF and LEEF are parsed back field by field (from their specs) and each
      field compared with the event it came from; RFC 5424 headers and
      structured data are parsed and checked too.
  check.py count --ref REF.jsonl --events LIST    number of selected events
  check.py hostile-pcap OUT.pcap                  DNS answers with hostile names
  check.py feed PCAP FIFO STEP1 STEP2             write PCAP into FIFO in three parts,
                                                  waiting for files STEP1 then STEP2 between them
  check.py unix-rx SOCKET OUT                     receive datagrams on SOCKET, one per line in OUT
"""
import datetime
import json
import os
import re
import socket
import struct
import sys
import time

BOM = b"\xef\xbb\xbf"
DATASETS = {"dns": "bindwatch.dns", "tls": "bindwatch.tls", "x509": "bindwatch.x509",
            "alerts": "bindwatch.alert", "stats": "bindwatch.stats"}


class Mismatch(Exception):
    pass


def fail(msg):
    raise Mismatch(msg)


def load_ref(path, events):
    want = {DATASETS[e] for e in events.split(",")}
    out = []
    with open(path, "rb") as fp:
        for line in fp:
            ev = json.loads(line)
            if ev.get("event", {}).get("dataset") in want:
                out.append(ev)
    return out


def get(ev, path):
    cur = ev
    for p in path.split("."):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            return None
    return cur


def text(v):
    """A field as the formatters see it; empty counts as absent (they skip empty values)."""
    if v is None or v == "" or v == []:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(text(x) for x in v if not isinstance(x, (dict, list)))
    return str(v)


def clean(s, keep_crlf=False):
    """What the formatters make of a hostile string: control characters become U+FFFD."""
    out = []
    for ch in s:
        o = ord(ch)
        if keep_crlf and ch in "\r\n":
            out.append(ch)
        elif o < 0x20 or o == 0x7f or 0x80 <= o <= 0x9f or o in (0x2028, 0x2029):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def epoch_ms(ts):
    d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1000 + d.microsecond // 1000


# ---- RFC 5424 / 3164 headers ----

SD_NAME = r'[^= \]"]{1,32}'
RE_5424 = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
RE_3164 = re.compile(rb"^<(\d{1,3})>([A-Z][a-z]{2}) ([ 1-3]\d) (\d\d:\d\d:\d\d) (\S+) ([A-Za-z0-9_.-]{1,32})(\[\d+\])?: ")


def parse_sd(b):
    """Parse STRUCTURED-DATA at the start of b (RFC 5424 6.3). Returns (elements, rest)."""
    if b.startswith(b"- "):
        return [], b[2:]
    els = []
    i = 0
    while i < len(b) and b[i:i + 1] == b"[":
        m = re.match(rb"\[(" + SD_NAME.encode() + rb")", b[i:])
        if not m:
            fail("bad SD-ID at %r" % b[i:i + 40])
        sid = m.group(1).decode()
        i += m.end()
        params = []
        while b[i:i + 1] == b" ":
            m = re.match(rb" (" + SD_NAME.encode() + rb')="', b[i:])
            if not m:
                fail("bad SD-PARAM at %r" % b[i:i + 40])
            name = m.group(1).decode()
            i += m.end()
            val = bytearray()
            while True:
                if i >= len(b):
                    fail("unterminated PARAM-VALUE")
                c = b[i:i + 1]
                if c == b"\\" and b[i + 1:i + 2] in (b'"', b"\\", b"]"):
                    val += b[i + 1:i + 2]
                    i += 2
                    continue
                if c in (b'"',):
                    i += 1
                    break
                if c == b"]":
                    fail("unescaped ] inside PARAM-VALUE")
                val += c
                i += 1
            params.append((name, val.decode("utf-8")))
        if b[i:i + 1] != b"]":
            fail("SD-ELEMENT not closed at %r" % b[i:i + 40])
        i += 1
        els.append((sid, params))
    if b[i:i + 1] != b" ":
        fail("no SP after STRUCTURED-DATA: %r" % b[i:i + 40])
    return els, b[i + 1:]


def split_message(raw, layout, hostname):
    """Check the syslog header; return (msgid, sd-params dict, MSG bytes)."""
    if layout == "3164":
        m = RE_3164.match(raw)
        if not m:
            fail("not an RFC 3164 message: %r" % raw[:120])
        pri = int(m.group(1))
        if hostname and m.group(5).decode() != hostname:
            fail("hostname %r" % m.group(5))
        if m.group(6) != b"bindwatch":
            fail("tag %r" % m.group(6))
        return None, {}, pri, raw[m.end():]
    m = RE_5424.match(raw)
    if not m:
        fail("not an RFC 5424 message: %r" % raw[:120])
    pri = int(m.group(1))
    if pri > 191:
        fail("PRI %d" % pri)
    ts = m.group(2).decode()
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", ts):
        fail("TIMESTAMP %r" % ts)
    if hostname and m.group(3).decode() != hostname:
        fail("HOSTNAME %r" % m.group(3))
    if m.group(4) != b"bindwatch":
        fail("APP-NAME %r" % m.group(4))
    if not m.group(5).isdigit():
        fail("PROCID %r" % m.group(5))
    msgid = m.group(6).decode()
    els, rest = parse_sd(raw[m.end():])
    sd = {}
    for sid, params in els:
        if sid != "bindwatch@32473":
            fail("SD-ID %r" % sid)
        for k, v in params:
            sd[k] = v
    if not rest.startswith(BOM):
        fail("MSG without BOM")
    return msgid, sd, pri, rest[3:]


# ---- CEF / LEEF parsers, from the specs ----

def parse_cef(msg):
    s = msg.decode("utf-8")
    hdr = []
    i = 0
    cur = []
    while len(hdr) < 7:
        if i >= len(s):
            fail("CEF header ends early: %r" % s[:200])
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "|\\":
            cur.append(s[i + 1])
            i += 2
            continue
        if c == "|":
            hdr.append("".join(cur))
            cur = []
            i += 1
            continue
        if c in "\r\n":
            fail("line break in CEF header")
        cur.append(c)
        i += 1
    ext = s[i:]
    # keys start after a space (or at 0) and end at an unescaped '='
    eqs = []
    j = 0
    while j < len(ext):
        if ext[j] == "\\":
            j += 2
            continue
        if ext[j] == "=":
            k = j
            while k > 0 and (ext[k - 1].isalnum() or ext[k - 1] == "_"):
                k -= 1
            if k == j or (k > 0 and ext[k - 1] != " "):
                fail("'=' without a key in CEF extension at %r" % ext[max(0, j - 20):j + 20])
            eqs.append((k, j))
        j += 1
    fields = {}
    for n, (k, e) in enumerate(eqs):
        end = eqs[n + 1][0] - 1 if n + 1 < len(eqs) else len(ext)
        raw = ext[e + 1:end]
        val = []
        t = 0
        while t < len(raw):
            if raw[t] == "\\" and t + 1 < len(raw):
                c = raw[t + 1]
                val.append({"n": "\n", "r": "\r"}.get(c, c))
                t += 2
            else:
                val.append(raw[t])
                t += 1
        key = ext[k:e]
        if key in fields:
            fail("CEF key %s twice" % key)
        fields[key] = "".join(val)
    return hdr, fields


def parse_leef(msg):
    s = msg.decode("utf-8")
    parts = s.split("|", 6)
    if len(parts) != 7 or parts[0] != "LEEF:2.0" or parts[5] != "x09":
        fail("LEEF header %r" % s[:200])
    fields = {}
    for attr in parts[6].split("\t"):
        if "=" not in attr:
            fail("LEEF attribute without '=': %r" % attr)
        k, v = attr.split("=", 1)
        if k in fields:
            fail("LEEF key %s twice" % k)
        fields[k] = v
    return parts[:6], fields


def alert_sev(ev):
    if get(ev, "event.kind") != "alert":
        return 0
    s = get(ev, "event.severity")
    return s if isinstance(s, int) and 1 <= s <= 4 else 0


def check_cef(ev, msg):
    hdr, f = parse_cef(msg)
    alert = get(ev, "event.kind") == "alert"
    if hdr[0] != "CEF:0" or hdr[1] != "Bindwatch" or hdr[2] != "bindwatch":
        fail("CEF header %r" % hdr)
    cls = get(ev, "rule.name") if alert else get(ev, "event.dataset")
    if hdr[4] != clean(text(cls)):
        fail("CEF class %r != %r" % (hdr[4], cls))
    want_sev = [5, 3, 5, 8, 10][alert_sev(ev)] if alert else (0 if get(ev, "event.dataset") == "bindwatch.stats" else 1)
    if hdr[6] != str(want_sev):
        fail("CEF severity %r != %d" % (hdr[6], want_sev))
    want = {"rt": str(epoch_ms(ev["@timestamp"])), "cat": text(get(ev, "event.dataset"))}
    for ip, port, k4, k6, kp in (("source.ip", "source.port", "src", "c6a2", "spt"),
                                 ("destination.ip", "destination.port", "dst", "c6a3", "dpt")):
        a = get(ev, ip)
        if a is not None:
            want[k6 if ":" in a else k4] = a
        if get(ev, port) is not None:
            want[kp] = str(get(ev, port))
    sni = text(get(ev, "tls.client.server_name"))
    q = text(get(ev, "dns.question.name"))
    dhost = sni or q or text(get(ev, "bindwatch.alert.name"))
    if dhost:
        want["dhost"] = clean(dhost, keep_crlf=True)
    if text(get(ev, "event.id")) is not None:
        want["externalId"] = text(get(ev, "event.id"))
    if alert and text(get(ev, "event.reason")) is not None:
        want["msg"] = clean(text(get(ev, "event.reason")), keep_crlf=True)
    for k, v in want.items():
        if f.get(k) != v:
            fail("CEF %s=%r, event has %r" % (k, f.get(k), v))
    for k in f:
        if re.match(r"^c[sn]\d$", k) and k + "Label" not in f:
            fail("CEF %s without its label" % k)
    return len(f)


def check_leef(ev, msg):
    hdr, f = parse_leef(msg)
    alert = get(ev, "event.kind") == "alert"
    cls = get(ev, "rule.name") if alert else get(ev, "event.dataset")
    if hdr[4] != clean(text(cls)).replace("|", "_").replace("^", "_"):
        fail("LEEF EventID %r" % hdr[4])
    want = {"cat": get(ev, "event.dataset"),
            "sev": str([5, 3, 5, 8, 10][alert_sev(ev)] if alert else 1)}
    for p, k in (("source.ip", "src"), ("source.port", "srcPort"), ("destination.ip", "dst"),
                 ("destination.port", "dstPort"), ("dns.question.name", "qname"),
                 ("tls.client.server_name", "sni"), ("event.id", "alertId")):
        v = text(get(ev, p))
        if v is not None:
            want[k] = clean(v)
    for k, v in want.items():
        if f.get(k) != v:
            fail("LEEF %s=%r, event has %r" % (k, f.get(k), v))
    ms = epoch_ms(ev["@timestamp"])
    dt = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    if f.get("devTime") != dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000):
        fail("LEEF devTime %r" % f.get("devTime"))
    return len(f)


def check_sd(ev, sd, msgid):
    alert = get(ev, "event.kind") == "alert"
    typ = text(get(ev, "rule.name")) if alert else get(ev, "event.dataset").split(".", 1)[1]
    if sd.get("type") != clean(typ):
        fail("SD type %r != %r" % (sd.get("type"), typ))
    if msgid != re.sub(r"[^!-~]", "_", typ)[:32]:
        fail("MSGID %r != %r" % (msgid, typ))
    if sd.get("dataset") != get(ev, "event.dataset"):
        fail("SD dataset %r" % sd.get("dataset"))
    for k, p in (("id", "event.id"), ("src", "source.ip"), ("dst", "destination.ip"),
                 ("qname", "dns.question.name"), ("sni", "tls.client.server_name")):
        v = text(get(ev, p))
        if v is not None and sd.get(k) != clean(v)[:256] and not (len(clean(v)) > 200):
            fail("SD %s=%r, event has %r" % (k, sd.get(k), v))


def check_json(ev, body):
    try:
        doc = json.loads(body)
    except ValueError as e:
        fail("payload is not JSON (%s): %r" % (e, body[:200]))
    if doc != ev:
        fail("JSON payload differs from the event")
    return 0


def verify(a):
    ref = load_ref(a.ref, a.events)
    if not ref:
        fail("no selected events in the reference output")
    with open(a.log, "rb") as fp:
        msgs = [l.rstrip(b"\n") for l in fp if l.strip()]
    check = {"json": check_json, "cef": check_cef, "leef": check_leef}[a.format]
    nxt = 0
    dups = 0
    fields = 0
    for i, raw in enumerate(msgs):
        try:
            msgid, sd, pri, body = split_message(raw, a.layout, a.hostname)
        except Mismatch as e:
            fail("message %d: %s" % (i, e))
        # the next event in order, or (at-least-once) a copy of a recent one
        cands = ([nxt] if nxt < len(ref) else []) + list(range(nxt - 1, max(-1, nxt - 1 - max(a.dups, 0) * 2 - 1), -1))
        n = None
        first_err = None
        for cand in cands:
            try:
                fields += check(ref[cand], body)
                n = cand
                break
            except Mismatch as e:
                first_err = first_err or e
        if n is None:
            fail("message %d matches neither event #%d nor a recent one: %s\n  %r" % (i, nxt, first_err, raw[:300]))
        if n == nxt:
            nxt += 1
        else:
            dups += 1
        ev = ref[n]
        try:
            if a.layout == "5424":
                check_sd(ev, sd, msgid)
            sev = pri & 7
            want_sev = {0: 4, 1: 5, 2: 4, 3: 3, 4: 2}[alert_sev(ev)] if get(ev, "event.kind") == "alert" else 6
            if sev != want_sev:
                fail("PRI severity %d != %d" % (sev, want_sev))
            if pri >> 3 != a.facility:
                fail("PRI facility %d != %d" % (pri >> 3, a.facility))
        except Mismatch as e:
            fail("message %d: %s" % (i, e))
    if nxt != len(ref):
        fail("%d of %d events arrived (first missing: #%d %s)" % (nxt, len(ref), nxt, json.dumps(ref[nxt])[:200]))
    if dups > a.dups:
        fail("%d duplicates (at most %d allowed)" % (dups, a.dups))
    print("ok: %d events, %d messages, %d duplicates%s" % (len(ref), len(msgs), dups,
                                                          ", %d fields parsed back" % fields if fields else ""))


# ---- fixtures ----

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def dns_name(labels):
    out = b""
    for l in labels:
        out += bytes([len(l)]) + l
    return out + b"\0"


def hostile_pcap(path):
    names = [
        [b"a|b=c", b"example", b"com"],
        [b"x]\"y\\z", b"example", b"com"],
        [b"line\nfeed<13>1 - forged", b"example", b"com"],
        [b"nul\0byte", b"example", b"com"],
        [b"bad\xff\xfeutf8", b"example", b"com"],
        [b"tab\there cs1=forged", b"example", b"com"],
        [b"[bindwatch@32473 id=\"1\"]", b"example", b"com"],
        [b"caf\xc3\xa9", b"example", b"com"],
        [b"cr\rlf\r\nx", b"example", b"com"],
        [b"pct%00%0a", b"example", b"com"],
    ]
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    t = 1700000000
    for i, labels in enumerate(names):
        q = dns_name(labels)
        for resp in (False, True):
            hdr = struct.pack("!HHHHHH", 0x1000 + i, 0x8180 if resp else 0x0100, 1, 1 if resp else 0, 0, 0)
            body = hdr + q + struct.pack("!HH", 1, 1)
            if resp:
                body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, i + 1])
            src, dst, sp, dp = ((b"\xc6\x33\x64\x35", b"\xc6\x33\x64\x17", 53, 40000 + i) if resp else
                                (b"\xc6\x33\x64\x17", b"\xc6\x33\x64\x35", 40000 + i, 53))
            udp = struct.pack("!HHHH", sp, dp, 8 + len(body), 0) + body
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + udp
            out += struct.pack("<IIII", t, i * 1000 + (500 if resp else 0), len(frame), len(frame)) + frame
    with open(path, "wb") as fp:
        fp.write(out)


def feed(pcap, fifo, step1, step2):
    data = open(pcap, "rb").read()
    recs = []
    off = 24
    while off + 16 <= len(data):
        n = struct.unpack("<I", data[off + 8:off + 12])[0]
        recs.append(data[off:off + 16 + n])
        off += 16 + n
    third = len(recs) // 3
    with open(fifo, "wb") as fp:
        fp.write(data[:24])
        for part, wait in ((recs[:third], step1), (recs[third:2 * third], step2), (recs[2 * third:], None)):
            for r in part:
                fp.write(r)
            fp.flush()
            while wait and not os.path.exists(wait):
                time.sleep(0.05)


def unix_rx(path, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    s.settimeout(0.5)
    with open(out, "ab", buffering=0) as fp:
        while not os.path.exists(out + ".stop"):
            try:
                d = s.recv(70000)
            except socket.timeout:
                continue
            fp.write(d + b"\n")


def main():
    import argparse
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd")
    v = sub.add_parser("verify")
    v.add_argument("--ref", required=True)
    v.add_argument("--log", required=True)
    v.add_argument("--format", choices=["json", "cef", "leef"], required=True)
    v.add_argument("--layout", choices=["5424", "3164"], default="5424")
    v.add_argument("--events", default="alerts")
    v.add_argument("--dups", type=int, default=0)
    v.add_argument("--hostname", default=None)
    v.add_argument("--facility", type=int, default=16)
    c = sub.add_parser("count")
    c.add_argument("--ref", required=True)
    c.add_argument("--events", default="alerts")
    h = sub.add_parser("hostile-pcap")
    h.add_argument("out")
    f = sub.add_parser("feed")
    f.add_argument("pcap")
    f.add_argument("fifo")
    f.add_argument("step1")
    f.add_argument("step2")
    u = sub.add_parser("unix-rx")
    u.add_argument("socket")
    u.add_argument("out")
    a = ap.parse_args()
    if a.cmd == "verify":
        try:
            verify(a)
        except Mismatch as e:
            print("FAIL: %s" % e)
            sys.exit(1)
    elif a.cmd == "count":
        print(len(load_ref(a.ref, a.events)))
    elif a.cmd == "hostile-pcap":
        hostile_pcap(a.out)
    elif a.cmd == "feed":
        feed(a.pcap, a.fifo, a.step1, a.step2)
    elif a.cmd == "unix-rx":
        unix_rx(a.socket, a.out)
    else:
        ap.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
