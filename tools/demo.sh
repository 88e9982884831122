#!/usr/bin/env bash
# demo.sh BINDWATCH: run the sensor over the bundled captures and show what it saw.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/bindwatch}
out=build/demo-events.json
rm -f "$out"
echo "bindwatch: reading pcaps/ (bundled test captures) -> $out"
rc=0
"$bin" -r pcaps/ -o "jsonl:$out" --no-progress || rc=$?
echo
echo "A few DNS answers (name -> data), from $out:"
python3 - "$out" <<'PY'
import json, sys
seen = 0
for line in open(sys.argv[1]):
    ev = json.loads(line)
    ds = ev.get("event", {}).get("dataset")
    if ds == "bindwatch.dns" and ev["dns"].get("type") == "answer":
        q = ev["dns"].get("question", {})
        ans = ev["dns"].get("answers", [])
        pc = ev.get("bindwatch", {}).get("pcap", {})
        data = ", ".join(f'{a["type"]} {a["data"]}' for a in ans[:3]) or ev["dns"].get("response_code", "")
        print(f'  {pc.get("file","?")}#{pc.get("packet","?")}  {q.get("name","?")} {q.get("type","")}: {data[:100]}')
        seen += 1
        if seen >= 15:
            break
    elif ds == "bindwatch.stats":
        s = ev["bindwatch"]["stats"]
        print(f'\nstats: {s["input"]["packets"]} packets, {s["dns"]["messages"]} DNS messages, '
              f'malformed by reason: {s.get("malformed") or "none"}')
PY
echo
echo "every event: $out (one JSON object per line); try: jq -c 'select(.dns.response_code==\"NXDOMAIN\")' $out"
exit $rc
