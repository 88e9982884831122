#!/usr/bin/env bash
# tests/cli/run.sh BINDWATCH: the command line and bad input, end to end.
# Each check prints "ok"/"FAIL"; the last line is "cli: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BW=$(realpath "${1:-build/bindwatch}")
EXT=${BW_EXTERNAL:-../shared/pcaps/external}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
check() { # check NAME CONDITION...
	local name=$1
	shift
	if "$@"; then
		echo "ok   $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		fail=$((fail + 1))
	fi
}
valid_jsonl() { python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], "rb"):
    json.loads(line.decode("utf-8"))
    n += 1
sys.exit(0 if n >= int(sys.argv[2]) else 1)' "$1" "${2:-1}"; }
count_dns() { python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["event"]["dataset"] == "bindwatch.dns"))' "$1"; }

GOOD=$EXT/dnscap-dns.pcap

# --help, --version, usage errors
"$BW" --help >"$T/help" 2>&1
check "--help exits 0 and documents exit codes" grep -q "exit status" "$T/help"
check "--version prints the version" bash -c "'$BW' --version | grep -q '^bindwatch [0-9]'"
"$BW" >/dev/null 2>"$T/err"; rc=$?
check "no input is a usage error (exit 2)" test "$rc" -eq 2
"$BW" --bogus >/dev/null 2>&1; rc=$?
check "unknown option exits 2" test "$rc" -eq 2
"$BW" -r "$GOOD" --dns-port 0 >/dev/null 2>&1; rc=$?
check "bad --dns-port value exits 2" test "$rc" -eq 2
"$BW" -r "$GOOD" -o bogus:x >/dev/null 2>&1; rc=$?
check "unknown output kind exits 2" test "$rc" -eq 2
"$BW" -r "$GOOD" -o "jsonl:$T/no/such/dir/x.json" >/dev/null 2>&1; rc=$?
check "unwritable output exits 3" test "$rc" -eq 3

# a good run to stdout and to a file
"$BW" -r "$GOOD" -o jsonl:- -q >"$T/stdout.json" 2>"$T/stderr"; rc=$?
check "good capture exits 0" test "$rc" -eq 0
check "stdout events are valid JSON lines" valid_jsonl "$T/stdout.json" 10
"$BW" -r "$GOOD" -o "jsonl:$T/file.json" -q; rc=$?
# (the stats event at the end differs: it holds timings)
check "jsonl file sink gets the same events as stdout" cmp -s <(head -n -1 "$T/stdout.json") <(head -n -1 "$T/file.json")
check "the last event is bindwatch.stats" bash -c "tail -1 '$T/file.json' | grep -q '\"dataset\":\"bindwatch.stats\"'"
check "-q prints no summary" test ! -s "$T/stderr"
"$BW" -r "$GOOD" -o jsonl:/dev/null 2>"$T/summary"
check "summary on stderr names packets and dns messages" grep -q "dns .* messages" "$T/summary"
check "no progress line when stderr is not a terminal" bash -c "! grep -q \$'\\r' '$T/summary'"

# the same capture twice gives identical events (no hidden state)
"$BW" -r "$GOOD" -r "$GOOD" -q -o "jsonl:$T/twice.json"
n1=$(count_dns "$T/stdout.json")
n2=$(count_dns "$T/twice.json")
check "two -r of one file give twice the events ($n1 -> $n2)" test "$n2" -eq $((2 * n1))

# directories are read in name order
mkdir -p "$T/dir"
cp "$EXT/dnscap-edns.pcap" "$T/dir/b.pcap"
cp "$GOOD" "$T/dir/a.pcap"
echo "not a capture" >"$T/dir/notes.txt"
"$BW" -r "$T/dir" -q -o "jsonl:$T/dir.json"; rc=$?
check "directory run exits 0 (non-capture files skipped)" test "$rc" -eq 0
order=$(python3 -c '
import json, sys
files = []
for l in open(sys.argv[1]):
    f = json.loads(l).get("bindwatch", {}).get("pcap", {}).get("file")
    if f and (not files or files[-1] != f):
        files.append(f)
print(",".join(files))' "$T/dir.json")
check "directory files in name order ($order)" test "$order" = "a.pcap,b.pcap"

# bad input: missing, garbage, empty, truncated; the run goes on with the next file
"$BW" -r "$T/missing.pcap" -r "$GOOD" -o "jsonl:$T/m.json" 2>"$T/m.err"; rc=$?
check "missing file: exit 1" test "$rc" -eq 1
check "missing file: message names the file" grep -q "missing.pcap" "$T/m.err"
check "missing file: the next file is still read" test "$(count_dns "$T/m.json")" -eq "$n1"
head -c 3000 /dev/urandom >"$T/garbage.pcap"
"$BW" -r "$T/garbage.pcap" -q -o "jsonl:$T/g.json" 2>"$T/g.err"; rc=$?
check "garbage file: exit 1 with a message naming it" bash -c "test $rc -eq 1 && grep -q garbage.pcap '$T/g.err'"
: >"$T/empty.pcap"
"$BW" -r "$T/empty.pcap" -q -o jsonl:/dev/null 2>"$T/e.err"; rc=$?
check "empty file: exit 1 with a message" bash -c "test $rc -eq 1 && grep -q empty.pcap '$T/e.err'"
size=$(stat -c %s "$GOOD")
head -c $((size * 2 / 3)) "$GOOD" >"$T/cut.pcap"
"$BW" -r "$T/cut.pcap" -r "$GOOD" -q -o "jsonl:$T/cut.json" 2>"$T/cut.err"; rc=$?
ncut=$(python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("bindwatch", {}).get("pcap", {}).get("file") == "cut.pcap"))' "$T/cut.json")
check "truncated file: exit 1" test "$rc" -eq 1
check "truncated file: message names file and offset or packet" grep -qE "cut.pcap.*(byte|offset|packet|frame)" "$T/cut.err"
check "truncated file: events before the cut are kept ($ncut)" test "$ncut" -gt 0 -a "$ncut" -lt "$n1"
check "truncated file: the next file is read in full" test "$(count_dns "$T/cut.json")" -eq $((ncut + n1))

# every external capture, corrupt ones included: never a crash, always valid JSON
crashes=0
for f in "$EXT"/*.pcap "$EXT"/*.pcapng; do
	"$BW" -r "$f" -q -o "jsonl:$T/x.json" 2>/dev/null
	rc=$?
	if [ "$rc" -gt 1 ] || ! valid_jsonl "$T/x.json" 1; then
		echo "  $f: exit $rc or invalid JSON"
		crashes=$((crashes + 1))
	fi
done
check "all external captures: no crash, valid JSON" test "$crashes" -eq 0

# a policy that owns none of the external captures' names: not one alert
"$BW" -q -c examples/policy.yaml -r "$EXT" -o "jsonl:$T/pol.json" 2>/dev/null
nal=$(grep -c '"dataset":"bindwatch.alert"' "$T/pol.json")
check "external captures with a policy owning none of their names: no alerts ($nal)" test "$nal" -eq 0
# outputs named in the policy are used when -o is not given
cat >"$T/outpol.yaml" <<YAML
owned:
  domains: [example.com]
outputs: ["jsonl:$T/from-policy.json"]
YAML
"$BW" -q -c "$T/outpol.yaml" -r "$GOOD" >/dev/null 2>&1
check "outputs from the policy file are opened" test "$(count_dns "$T/from-policy.json" 2>/dev/null || echo 0)" -eq "$n1"
# check-config: a good policy passes, a broken one names file, line and column
"$BW" check-config -c examples/policy.yaml >"$T/cc.out" 2>&1; rc=$?
check "check-config on the example policy exits 0" bash -c "test $rc -eq 0 && grep -q 'policy ok' '$T/cc.out'"
printf 'owned:\n  domians: [example.com]\n' >"$T/bad.yaml"
"$BW" check-config -c "$T/bad.yaml" >"$T/cc2.out" 2>&1; rc=$?
check "check-config on a broken policy exits 2 naming file:line:col" bash -c "test $rc -eq 2 && grep -q 'bad.yaml:2:3' '$T/cc2.out'"

# a malformed reference-data file named by the policy: exit 2, FILE:LINE in the message
printf 'service\tprovider_group\trecord_type\tpattern\tmatch\tstatus\tstatus_source\tunclaimed_evidence\tpassive_visibility\thttp_fingerprint\thttp_status\treference\tsources\tnotes\nBroken\t\tCNAME\tbroken.example\tsuffix\tNo such status\n' >"$T/tko-bad.tsv"
printf 'owned:\n  domains: [example.com]\ndata:\n  takeover_services: tko-bad.tsv\n' >"$T/tkopol.yaml"
"$BW" -q -c "$T/tkopol.yaml" -r "$GOOD" -o "jsonl:$T/tko.json" >"$T/tko.out" 2>&1; rc=$?
check "malformed data.takeover_services: exit 2 naming FILE:LINE ($(head -c 160 "$T/tko.out"))" bash -c "test $rc -eq 2 && grep -q 'tko-bad.tsv:2' '$T/tko.out'"
printf 'owned:\n  domains: [example.com]\ndata:\n  cloud_ranges: cloud-bad.tsv\n' >"$T/cloudpol.yaml"
printf 'prefix\tprovider\tservice\tregion\textra\tsource_file\tsource_date\n10.0.0.0/33\tX\t\t\t\t\t\n' >"$T/cloud-bad.tsv"
"$BW" -q -c "$T/cloudpol.yaml" -r "$GOOD" -o "jsonl:$T/cl.json" >"$T/cl.out" 2>&1; rc=$?
check "malformed data.cloud_ranges: exit 2 naming FILE:LINE ($(head -c 160 "$T/cl.out"))" bash -c "test $rc -eq 2 && grep -q 'cloud-bad.tsv:2' '$T/cl.out'"
# a zone file (policy owned.zones) that ldns cannot parse: exit 2, FILE:LINE in the message
printf '$ORIGIN example.com.\n@ 3600 IN SOA ns1 host 1 2 3 4 5\nwww IN A 192.0.2.300\n' >"$T/bad.zone"
printf 'owned:\n  domains: [example.com]\n  zones: [bad.zone]\n' >"$T/zpol.yaml"
"$BW" -q -c "$T/zpol.yaml" -r "$GOOD" -o "jsonl:$T/z.json" >"$T/z.out" 2>&1; rc=$?
check "malformed zone file: exit 2 naming FILE:LINE ($(head -c 160 "$T/z.out"))" bash -c "test $rc -eq 2 && grep -q 'bad.zone:3' '$T/z.out'"

# the offline bypass (finished TCP flows skip the duplicate filter and the TCP table):
# the same events, all types, timestamps included, sorted, as with --no-bypass; with
# two workers an x509 event's evidence is whichever sighting came first, so only its
# certificate is compared there
events_sorted() { python3 -c '
import json, sys
out = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"]["dataset"] == "bindwatch.stats":
        continue
    if sys.argv[2] == "loose" and e["event"]["dataset"] == "bindwatch.x509":
        e = {"x509": e["bindwatch"]["x509"]["sha256"]}
    out.append(json.dumps(e, sort_keys=True))
out.sort()
print("\n".join(out))' "$1" "${2:-exact}"; }
bypassed() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"]["dataset"] == "bindwatch.stats":
        print(e["bindwatch"]["stats"]["protocols"]["bypassed"])' "$1"; }
BENCHGEN=$(dirname "$BW")/tools/pcapgen-bench
bypass_inputs="pcaps $EXT"
if [ -x "$BENCHGEN" ] && "$BENCHGEN" -o "$T/bench.pcap" -s 16 --seed 3 >/dev/null 2>&1; then
	bypass_inputs="$bypass_inputs $T/bench.pcap"
else
	echo "  (no $BENCHGEN: the bench capture is left out of the bypass comparison)"
fi
# port reuse and copies: tls-basic without its FINs (so its finished flows stay open),
# then again 1 s later with new ISNs, every packet twice: the second connections' SYNs
# must take their tuples out of the bypass set, and the copies must be dropped as before
python3 -c '
import struct, sys
src = open(sys.argv[1], "rb").read()
out = [src[:24]]
recs, off = [], 24
while off + 16 <= len(src):
    sec, usec, incl, orig = struct.unpack("<IIII", src[off:off + 16])
    recs.append((sec, usec, bytearray(src[off + 16:off + 16 + incl]), orig))
    off += 16 + incl
def put(sec, usec, b, orig):
    out.append(struct.pack("<IIII", sec, usec, len(b), orig) + bytes(b))
for rnd in (0, 1):
    for sec, usec, b, orig in recs:
        if b[12:14] == b"\x08\x00" and b[23] == 6:
            t = 14 + (b[14] & 15) * 4
        elif b[12:14] == b"\x86\xdd" and b[20] == 6:
            t = 54
        else:
            continue
        if b[t + 13] & 0x05:
            continue  # FIN or RST
        if rnd:
            for o in (t + 4, t + 8):
                v = (struct.unpack(">I", b[o:o + 4])[0] + 1000000) & 0xffffffff
                b[o:o + 4] = struct.pack(">I", v)
            put(sec + 1, usec, b, orig)
        put(sec + rnd, usec + rnd, b, orig)
open(sys.argv[2], "wb").write(b"".join(out))' pcaps/tls-basic.pcap "$T/reuse.pcap"
count_tls() { grep -c '"dataset":"bindwatch.tls"' "$1"; }
rm -f "$T/r1.json" "$T/r0.json"
"$BW" -q --no-seccomp -r pcaps/tls-basic.pcap -o "jsonl:$T/r1.json" 2>/dev/null
"$BW" -q --no-seccomp -r "$T/reuse.pcap" -o "jsonl:$T/r0.json" 2>/dev/null
ntls1=$(count_tls "$T/r1.json")
ntls2=$(count_tls "$T/r0.json")
check "bypass: reused tuples give new handshakes ($ntls1 then $ntls2 TLS events, $(bypassed "$T/r0.json") bypassed)" \
	test "$ntls1" -gt 0 -a "$ntls2" -eq $((2 * ntls1))
bypass_inputs="$bypass_inputs $T/reuse.pcap"
for inp in $bypass_inputs; do
	for wk in 1 2; do
		mode=exact
		[ "$wk" -gt 1 ] && mode=loose
		rm -f "$T/bp.json" "$T/nobp.json" # the jsonl sink appends
		"$BW" -q --no-seccomp --workers "$wk" -c examples/policy.yaml -r "$inp" -o "jsonl:$T/bp.json" 2>/dev/null
		"$BW" -q --no-seccomp --workers "$wk" --no-bypass -c examples/policy.yaml -r "$inp" -o "jsonl:$T/nobp.json" 2>/dev/null
		nb=$(bypassed "$T/bp.json")
		nnb=$(bypassed "$T/nobp.json")
		events_sorted "$T/bp.json" "$mode" >"$T/bp.sorted"
		events_sorted "$T/nobp.json" "$mode" >"$T/nobp.sorted"
		nev=$(wc -l <"$T/bp.sorted")
		check "bypass: $(basename "$inp"), $wk worker(s): $nev events as with --no-bypass ($nb segments bypassed, $nnb without)" \
			bash -c "test '$nb' -gt 0 -a '$nnb' -eq 0 -a '$nev' -gt 0 && cmp -s '$T/bp.sorted' '$T/nobp.sorted'"
	done
done

# several workers walk each file themselves and hold DNS observations back from the
# detectors until their turn (sensor/pipeline.c): every event, alerts included, is the
# one-worker run's, and observations were held back (else this checks nothing new)
rm -f "$T/w1.json"
BINDWATCH_DETECT_TRACE="$T/tr1.txt" "$BW" -q --no-seccomp --workers 1 -c examples/demo-policy.yaml --data-dir data -r pcaps -o "jsonl:$T/w1.json" 2>/dev/null
events_sorted "$T/w1.json" loose >"$T/w1.sorted"
nal=$(grep -c '"kind":"alert"' "$T/w1.json")
for wk in 2 3 4; do
	rm -f "$T/wn.json"
	"$BW" -q --no-seccomp --workers "$wk" -c examples/demo-policy.yaml --data-dir data -r pcaps -o "jsonl:$T/wn.json" 2>/dev/null
	events_sorted "$T/wn.json" loose >"$T/wn.sorted"
	held=$(grep -o '"detect_deferred":[0-9]*' "$T/wn.json" | cut -d: -f2 | awk '{s += $1} END {print s + 0}')
	check "workers $wk over pcaps/ with the demo policy: the one-worker events ($(wc -l <"$T/w1.sorted"), $nal alerts), ${held:-0} observations held back (DNS and TLS)" \
		bash -c "test '$nal' -gt 0 -a '${held:-0}' -gt 0 && cmp -s '$T/w1.sorted' '$T/wn.sorted'"
done
# the stats event says how the frames were shared: per worker, adding up to the run's frames
python3 - "$T/wn.json" >"$T/pl.out" 2>&1 <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"]["dataset"] != "bindwatch.stats":
        continue
    st = e["bindwatch"]["stats"]
    pl = st["pipeline"]
    assert pl["workers"] == 4 and len(pl["frames"]) == 4, pl
    assert sum(pl["frames"]) == st["input"]["packets"] and min(pl["frames"]) > 0, (pl, st["input"])
    print("frames %s of %d" % (pl["frames"], st["input"]["packets"]))
PY
plrc=$?
check "stats event with 4 workers: bindwatch.stats.pipeline frames per worker add up ($(tail -1 "$T/pl.out"))" test "$plrc" -eq 0

# and the detectors are called in the one-worker order, call for call (the trace of
# tests only: FILE PACKET dns|tls per call); the end-of-input flushes go worker by
# worker, so those are compared as sets. Not the external captures: there many QUIC
# sessions time out at one frame, one worker closes them oldest first and several
# close theirs worker by worker; and a reader thread's workers see only their own
# frames' time (bench/NOTES.md, "Fifth round").
trace_inputs=pcaps
[ -f "$T/bench.pcap" ] && trace_inputs="$trace_inputs $T/bench.pcap"
for inp in $trace_inputs; do
	BINDWATCH_DETECT_TRACE="$T/tr1.txt" "$BW" -q --no-seccomp --workers 1 -c examples/demo-policy.yaml --data-dir data -r "$inp" -o jsonl:/dev/null 2>/dev/null
	grep -v '^end ' "$T/tr1.txt" >"$T/tr1.frames"
	grep '^end ' "$T/tr1.txt" | sort >"$T/tr1.end"
	for wk in 2 3 4; do
		# the workers walking the file themselves, and a reader thread dispatching to them
		for walk in always never; do
			BINDWATCH_WALK=$walk BINDWATCH_DETECT_TRACE="$T/trn.txt" "$BW" -q --no-seccomp --workers "$wk" -c examples/demo-policy.yaml --data-dir data -r "$inp" -o jsonl:/dev/null 2>/dev/null
			grep -v '^end ' "$T/trn.txt" >"$T/trn.frames"
			grep '^end ' "$T/trn.txt" | sort >"$T/trn.end"
			check "workers $wk (walk $walk), $(basename "$inp"): detector calls in the one-worker order ($(wc -l <"$T/tr1.frames") in frames, $(wc -l <"$T/tr1.end") at the end)" \
				bash -c "test -s '$T/tr1.frames' && cmp -s '$T/tr1.frames' '$T/trn.frames' && cmp -s '$T/tr1.end' '$T/trn.end'"
		done
	done
done

# Time passes with every frame, whichever worker has it: a QUIC session left open in
# one capture times out at the first frame of a later one (two years on), so it is
# judged before that capture's DNS answers, by one worker and by walking workers alike
# (each moves its flow clocks over the others' frames: bw_worker_clock). Before, the
# session waited for the next QUIC packet of its own worker, here the end of the run.
mkdir -p "$T/clock"
ln -sf "$(realpath "$EXT/arkime-quic-ooo.pcap")" "$T/clock/01-quic.pcap"
ln -sf "$(realpath "$EXT/zeek-dns-naptr.pcap")" "$T/clock/02-dns.pcap"
BINDWATCH_DETECT_TRACE="$T/clock1.txt" "$BW" -q --no-seccomp --workers 1 -r "$T/clock" -o jsonl:/dev/null 2>/dev/null
check "a QUIC session idle for two years times out at the next capture's first frame, before its DNS answers ($(tr '\n' ' ' <"$T/clock1.txt"))" \
	bash -c "head -1 '$T/clock1.txt' | grep -qx '01-quic.pcap 1 tls' && test \$(grep -c ' dns\$' '$T/clock1.txt') -eq 2"
for wk in 2 3 4; do
	BINDWATCH_WALK=always BINDWATCH_DETECT_TRACE="$T/clockn.txt" "$BW" -q --no-seccomp --workers "$wk" -r "$T/clock" -o jsonl:/dev/null 2>/dev/null
	check "workers $wk (walking): the timeout at another worker's frame comes in the one-worker order" cmp -s "$T/clock1.txt" "$T/clockn.txt"
done

# SIGHUP during an offline run: outputs reopened (logrotate), a broken new policy refused
python3 tests/cli/sighup.py "$BW" "$GOOD" >"$T/sighup.out" 2>&1
rc=$?
sed 's/^/  /' "$T/sighup.out" | grep -v '^  ok' || true
check "SIGHUP offline: outputs reopened, no event lost, broken policy refused ($(tail -1 "$T/sighup.out"))" test "$rc" -eq 0

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
