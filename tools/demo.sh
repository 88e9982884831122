#!/usr/bin/env bash
# demo.sh BINDWATCH: run the sensor over the bundled captures with the bundled
# example policy and show what it saw: a few observations, then the alerts.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/bindwatch}
out=build/demo-events.json
policy=examples/demo-policy.yaml
[ -f "$policy" ] || policy=examples/policy.yaml
rm -f "$out"
echo "bindwatch: reading pcaps/ (bundled test captures) with policy $policy -> $out"
rc=0
"$bin" -r pcaps/ -c "$policy" -o "jsonl:$out" --no-progress || rc=$?
python3 - "$out" <<'PY'
import json, sys
dns = tls = 0
alerts = []
stats = None
for line in open(sys.argv[1]):
    ev = json.loads(line)
    ds = ev.get("event", {}).get("dataset")
    if ds == "bindwatch.dns" and ev["dns"].get("type") == "answer" and dns < 8:
        q = ev["dns"].get("question", {})
        ans = ev["dns"].get("answers", [])
        data = ", ".join(f'{a["type"]} {a["data"]}' for a in ans[:2]) or ev["dns"].get("response_code", "")
        print(f'  dns  {q.get("name","?")} {q.get("type","")}: {data[:90]}')
        dns += 1
    elif ds == "bindwatch.tls" and tls < 6:
        t = ev.get("tls", {})
        v = ev["bindwatch"]["tls"].get("validation", {})
        sub = t.get("server", {}).get("x509", {}).get("subject", {}).get("distinguished_name", "")
        print(f'  tls  {t.get("client", {}).get("server_name", "-")} {ev["bindwatch"]["tls"].get("version_name", "")} '
              f'{t.get("cipher", "")} cert: {sub[:50] or "(not visible)"} {v.get("status", "")}')
        tls += 1
    elif ds == "bindwatch.alert":
        alerts.append(ev)
    elif ds == "bindwatch.stats":
        stats = ev["bindwatch"]["stats"]
print()
print(f"alerts ({len(alerts)}):")
for a in alerts:
    pc = a.get("bindwatch", {}).get("pcap", {})
    where = f'{pc.get("file", "")}#{pc.get("packet", "")}' if pc else "end of run"
    print(f'  [{a["event"]["severity"]}] {a["rule"]["name"]}: {a["event"]["reason"]}  ({where})')
if stats:
    print(f'\nstats: {stats["input"]["packets"]} packets, {stats["dns"]["messages"]} DNS messages, '
          f'{stats["tls"]["handshakes"]} TLS handshakes, malformed by reason: {stats.get("malformed") or "none"}')
PY
echo
echo "every event: $out (one JSON object per line); e.g. jq -c 'select(.event.kind==\"alert\")' $out"
exit $rc
