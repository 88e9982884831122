#!/usr/bin/env bash
# tests/certfetch/run.sh [BINDWATCH]: certificate fetch (policy
# certificates.fetch) against real TLS 1.3 servers in network namespaces made
# here, so every packet stays inside them.
#
#   netns C (10.77.0.1, veth cfcN): bindwatch, which reads the captures and
#                                   fetches from there (and captures live)
#   netns S (10.77.0.2, veth cfsN): openssl s_server -tls1_3 on 4431 (right
#                                   certificate), 4432 (wrong name), 4433
#                                   (expires in 5 days); a python3 socket on
#                                   4439 that accepts and never answers
#   10.77.0.99: nobody (unreachable: ARP goes unanswered)
#
# Certificates come from tools/certgen.sh (its private root and
# intermediate) plus one made here that expires in 5 days. The captures are
# made by mkpcap.py (tools/pcapgen's TLS builders, stamped now). One line
# per case; the last line is "certfetch: N passed, N failed, N skipped".
# Needs root, ip, openssl, python3 (else everything is skipped); the live
# case also needs tcpreplay. Cleans up namespaces and processes on any exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bw=${1:-${BINDWATCH:-$repo/build/bindwatch}}
pass=0 fail=0 skip=0

finish() {
	echo "certfetch: $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit $?
}
if [ ! -x "$bw" ]; then
	echo "certfetch: bindwatch not found at $bw"
	fail=1
	finish
fi
for t in ip openssl python3 timeout; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "certfetch: SKIP (no $t)"
		skip=1
		finish
	fi
done
if [ "$(id -u)" -ne 0 ] || ! ip netns add "bwcfprobe$$" 2>/dev/null; then
	echo "certfetch: SKIP (needs root and network namespaces)"
	skip=1
	finish
fi
ip netns del "bwcfprobe$$"

tag=$$
nsc=bwcfc$tag nss=bwcfs$tag
ifc=cfc$((tag % 100000)) ifs=cfs$((tag % 100000))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bw-certfetch.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$nsc" 2>/dev/null
	ip netns del "$nss" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	echo "certfetch: ok   $1${2:+ ($2)}"
	pass=$((pass + 1))
}
bad() {
	echo "certfetch: FAIL $1${2:+: $2}"
	fail=$((fail + 1))
}

# ---- topology ----
setup() {
	ip netns add "$nsc" && ip netns add "$nss" &&
		ip link add "$ifc" type veth peer name "$ifs" &&
		ip link set "$ifc" netns "$nsc" && ip link set "$ifs" netns "$nss" &&
		ip netns exec "$nsc" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
		ip netns exec "$nss" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
		ip -n "$nsc" addr add 10.77.0.1/24 dev "$ifc" && ip -n "$nss" addr add 10.77.0.2/24 dev "$ifs" &&
		ip -n "$nsc" link set lo up && ip -n "$nss" link set lo up &&
		ip -n "$nsc" link set "$ifc" up && ip -n "$nss" link set "$ifs" up
}
if ! setup; then
	bad setup "could not make the namespaces"
	finish
fi

# ---- certificates ----
c=$tmp/certs
if ! bash "$repo/tools/certgen.sh" "$c" >/dev/null 2>&1; then
	bad setup "tools/certgen.sh failed"
	finish
fi
(
	cd "$c" &&
		openssl req -new -key leaf.key -subj /CN=www.example.com -addext subjectAltName=DNS:www.example.com \
			-out exp.csr 2>/dev/null &&
		openssl x509 -req -in exp.csr -CA int.pem -CAkey int.key -set_serial 0x3001 -days 5 \
			-copy_extensions copy -out exp.pem 2>/dev/null &&
		openssl x509 -in int.der -inform DER -out int-chain.pem
) || {
	bad setup "could not make the expiring certificate"
	finish
}

# ---- servers ----
server() { # PORT CERT
	ip netns exec "$nss" timeout -k 2 150 openssl s_server -tls1_3 -www -accept "10.77.0.2:$1" \
		-cert "$c/$2" -key "$c/leaf.key" -cert_chain "$c/int-chain.pem" </dev/null >"$tmp/srv-$1.log" 2>&1 &
	pids+=($!)
}
server 4431 leaf-valid.pem
server 4432 leaf-wrongname.pem
server 4433 exp.pem
ip netns exec "$nss" timeout -k 2 150 python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.2", 4439)); s.listen(16)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # accept, read nothing, answer nothing
' >/dev/null 2>&1 &
pids+=($!)
for i in $(seq 1 50); do
	n=$(ip netns exec "$nss" ss -Hltn 2>/dev/null | grep -c '10.77.0.2:44[0-9][0-9]')
	[ "$n" -ge 4 ] && break
	sleep 0.1
done
if [ "${n:-0}" -lt 4 ]; then
	bad setup "servers did not start ($(cat "$tmp"/srv-*.log 2>/dev/null | head -3))"
	finish
fi

# ---- policies ----
policy() { # NAME EXTRA_CERT_LINES FETCH_EXTRA
	cat >"$tmp/$1.yaml" <<EOF
owned:
  domains: [example.com]
certificates:
  expiry_warning_days: 21
  extra_ca_files: ["$c/root.pem"]
$2
  fetch:
    enabled: true
    refresh_seconds: 3600
    max_per_minute: 60
    timeout_seconds: 2
$3
EOF
}
policy good "" ""
policy issuer "  allowed_issuers: [letsencrypt.org]" ""
policy rate "" "    max_per_minute: 2"
sed -i '/max_per_minute: 60/d' "$tmp/rate.yaml"

pcap() { # NAME SPEC...
	local n=$1
	shift
	python3 "$here/mkpcap.py" "$tmp/$n.pcap" "$@"
}
C=10.77.0.1 S=10.77.0.2
# bindwatch in netns C reading a capture: NAME POLICY PCAP [bindwatch options]
runbw() {
	local name=$1 pol=$2 cap=$3
	shift 3
	local t0 t1
	t0=$(date +%s%N)
	ip netns exec "$nsc" timeout -k 2 40 "$bw" -q -c "$tmp/$pol.yaml" -r "$tmp/$cap.pcap" \
		-o "jsonl:$tmp/$name.jsonl" "$@" 2>"$tmp/$name.err"
	st=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
}
# CASE POLICY PCAP CHECKS... : one line
case_run() {
	local name=$1 pol=$2 cap=$3
	shift 3
	runbw "$name" "$pol" "$cap"
	if [ "$st" -ne 0 ]; then
		bad "$name" "exit status $st: $(tail -c 300 "$tmp/$name.err")"
	elif out=$(python3 "$here/check.py" "$tmp/$name.jsonl" "$@"); then
		ok "$name" "$(lat "$tmp/$name.jsonl"), run ${ms} ms"
	else
		bad "$name" "$out"
	fi
}
lat() { # the fetch latencies in a run's certfetch events
	python3 -c '
import json, sys
l = [json.loads(x)["bindwatch"]["certfetch"] for x in open(sys.argv[1]) if "bindwatch.certfetch" in x]
print("fetch latency ms: " + (",".join(str(c["latency_ms"]) for c in l) or "-"))' "$1"
}

pcap good tls13:$C:$S:4431:www.example.com
pcap mismatch tls13:$C:$S:4432:www.example.com
pcap expiring tls13:$C:$S:4433:www.example.com
pcap notowned tls13:$C:$S:4431:www.other.test
pcap visible tls12:$C:$S:4431:www.example.com:$c/leaf-valid.der,$c/int.der
pcap repeat tls13:$C:$S:4431:www.example.com tls13:$C:$S:4431:www.example.com tls13:$C:$S:4431:www.example.com \
	tls13:$C:$S:4431:a.example.com tls13:$C:$S:4431:b.example.com tls13:$C:$S:4431:c.example.com
pcap slow tls13:$C:$S:4439:www.example.com tls13:$C:10.77.0.99:443:www.example.com

# right certificate: fetched, judged, no alert
case_run good good good x509:fetched=2 'alert:*=0' certfetch:fetched=1 stat:certfetch.requested=1 \
	stat:certfetch.fetched=1 stat:tls.chains_validated=1 stat:tls.chains_failed=0
case_run name_mismatch good mismatch alert:cert_name_mismatch=1 certfetch:fetched=1 x509:fetched=2
case_run expiring good expiring alert:cert_expiring=1 alert:cert_name_mismatch=0 certfetch:fetched=1
case_run issuer_unexpected issuer good alert:cert_issuer_unexpected=1 certfetch:fetched=1
case_run not_owned good notowned 'certfetch:*=0' x509:fetched=0 stat:certfetch.requested=0 \
	stat:certfetch.skipped_not_owned=1
case_run tls12_seen good visible 'certfetch:*=0' x509:fetched=0 x509:passive=2 stat:certfetch.requested=0 \
	stat:certfetch.skipped_cert_seen=1
# 6 sessions, 4 distinct (address, port, SNI): www once (twice more from the cache), then a and b fill
# max_per_minute 2 ... www, a fetched; b, c rate-limited
case_run cache_and_rate rate repeat stat:certfetch.requested=4 stat:certfetch.cache_hits=2 \
	stat:certfetch.fetched=2 stat:certfetch.rate_limited=2 certfetch:fetched=2 certfetch:rate_limited=2
# a server that never answers and an address nobody has: reported, and the run ends within the timeout
case_run timeouts good slow 'certfetch:timeout>=1' 'certfetch:*=2' stat:certfetch.lost=0 stat:certfetch.fetched=0
if [ "$st" -eq 0 ]; then
	if [ "$ms" -le 6000 ]; then
		ok timeout_bound "run ${ms} ms with timeout_seconds 2"
	else
		bad timeout_bound "run took ${ms} ms (timeout 2 s)"
	fi
fi
# two workers: each has its own channel to the fetcher
runbw workers2 good good --workers 2
if [ "$st" -eq 0 ] && out=$(python3 "$here/check.py" "$tmp/workers2.jsonl" x509:fetched=2 'alert:*=0' certfetch:fetched=1 \
	stat:certfetch.fetched=1); then
	ok workers2
else
	bad workers2 "status $st ${out:-}"
fi
# disabled: the same capture, no fetch, no certfetch counters
sed 's/enabled: true/enabled: false/' "$tmp/good.yaml" >"$tmp/off.yaml"
runbw disabled off good
if [ "$st" -eq 0 ] && out=$(python3 "$here/check.py" "$tmp/disabled.jsonl" 'certfetch:*=0' x509:fetched=0) &&
	! grep -q '"certfetch"' "$tmp/disabled.jsonl"; then
	ok disabled
else
	bad disabled "status $st ${out:-}"
fi

# ---- live (-i): the capture replayed into C's interface as from a span port ----
if command -v tcpreplay >/dev/null 2>&1; then
	ip netns exec "$nsc" timeout -k 2 -s INT 12 "$bw" -q -c "$tmp/good.yaml" -i "$ifc" --capture afpacket \
		--workers 1 -o "jsonl:$tmp/live.jsonl" 2>"$tmp/live.err" &
	lpid=$!
	pids+=($lpid)
	sleep 2
	ip netns exec "$nss" timeout -k 2 10 tcpreplay -q -i "$ifs" "$tmp/good.pcap" >/dev/null 2>&1
	for i in $(seq 1 60); do
		grep -q '"bindwatch.certfetch"' "$tmp/live.jsonl" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.3
	kill -INT "$lpid" 2>/dev/null
	wait "$lpid"
	lst=$?
	if out=$(python3 "$here/check.py" "$tmp/live.jsonl" x509:fetched=2 certfetch:fetched=1 'alert:*=0' \
		stat:certfetch.fetched=1); then
		ok live "$(lat "$tmp/live.jsonl")"
	else
		bad live "status $lst: $out $(tail -c 300 "$tmp/live.err")"
	fi
else
	echo "certfetch: SKIP live (no tcpreplay)"
	skip=$((skip + 1))
fi

finish
