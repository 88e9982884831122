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

pcap() { # NAME [--seal TOOL] SPEC...
	local n=$1 sealopt=()
	shift
	if [ "${1:-}" = --seal ]; then
		sealopt=(--seal "$2")
		shift 2
	fi
	python3 "$here/mkpcap.py" "${sealopt[@]}" "$tmp/$n.pcap" "$@"
}
# The QUIC captures need the sensor's own Initial sealing (tool_quicseal, built
# beside the binary: BUILD/tests/ for BUILD/bindwatch and BUILD/san/bindwatch).
seal=
for t in "$(dirname "$bw")/tests/tool_quicseal" "$(dirname "$bw")/../tests/tool_quicseal"; do
	if [ -x "$t" ]; then
		seal=$t
		break
	fi
done
C=10.77.0.1 S=10.77.0.2
# The binary of this pass and its case-name prefix: the given binary first, then
# the ASan+UBSan one (BUILD/san/bindwatch) when it is there.
bwbin=$bw pfx=
san_re='ERROR: (Leak|Address)Sanitizer|LeakSanitizer has encountered|runtime error:'
# bindwatch in netns C reading a capture: NAME POLICY PCAP [bindwatch options].
# A sanitizer report fails the run (st 86) even with exit status 0: the
# fetcher process ends with _exit() after its own leak check, so its report on
# the shared stderr is the only sign of it.
runbw() {
	local name=$1 pol=$2 cap=$3
	shift 3
	local t0 t1
	t0=$(date +%s%N)
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ip netns exec "$nsc" timeout -k 2 40 "$bwbin" -q -c "$tmp/$pol.yaml" -r "$tmp/$cap.pcap" \
		-o "jsonl:$tmp/$name.jsonl" "$@" 2>"$tmp/$name.err"
	st=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	if [ "$st" -eq 0 ] && grep -Eq "$san_re" "$tmp/$name.err"; then
		st=86
	fi
}
errtail() { # a run's sanitizer report (its first lines), else the end of its stderr
	if grep -Eq "$san_re" "$1"; then
		grep -E -m1 -A8 "$san_re" "$1" | tr '\n' ' ' | cut -c1-600
	else
		tail -c 300 "$1"
	fi
}
# CASE POLICY PCAP CHECKS... : one line
case_run() {
	local name=$pfx$1 pol=$2 cap=$3
	shift 3
	runbw "$name" "$pol" "$cap"
	if [ "$st" -ne 0 ]; then
		bad "$name" "exit status $st: $(errtail "$tmp/$name.err")"
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
pcap dtls13 dtls13:$C:$S:4431:www.example.com
if [ -n "$seal" ]; then
	pcap quicgood --seal "$seal" quic:$C:$S:4431:www.example.com
	pcap quicmismatch --seal "$seal" quic:$C:$S:4432:www.example.com
	pcap quicnotcp --seal "$seal" quic:$C:$S:4438:www.example.com quic:$C:10.77.0.99:443:www.example.com
fi

sed 's/enabled: true/enabled: false/' "$tmp/good.yaml" >"$tmp/off.yaml"

# Every capture case, against $bwbin, names prefixed with $pfx.
cases() {
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
			ok ${pfx}timeout_bound "run ${ms} ms with timeout_seconds 2"
		else
			bad ${pfx}timeout_bound "run took ${ms} ms (timeout 2 s)"
		fi
	fi
	# QUIC: the certificate is fetched over TLS on TCP at the same port when that answers
	# (4431, 4432), else reported as quic_no_tcp (4438: refused; 10.77.0.99: no answer
	# within the timeout); the QUIC session itself is reported as before either way
	if [ -n "$seal" ]; then
		case_run quic_fetch good quicgood tls:quic=1 x509:fetched=2 'alert:*=0' certfetch:fetched=1 over:quic=1 \
			stat:certfetch.requested=1 stat:certfetch.fetched=1 stat:certfetch.quic_no_tcp=0 stat:tls.quic=1 \
			stat:tls.chains_validated=1 stat:tls.chains_failed=0
		case_run quic_mismatch good quicmismatch tls:quic=1 alert:cert_name_mismatch=1 'alert:*=1' certfetch:fetched=1 \
			over:quic=1 x509:fetched=2
		case_run quic_no_tcp good quicnotcp tls:quic=2 'certfetch:quic_no_tcp=2' 'certfetch:*=2' over:quic=2 'alert:*=0' \
			x509:fetched=0 stat:certfetch.requested=2 stat:certfetch.quic_no_tcp=2 stat:certfetch.failed=0 \
			stat:certfetch.timeouts=0 stat:certfetch.lost=0
		if [ "$st" -eq 0 ]; then
			if [ "$ms" -le 6000 ]; then
				ok ${pfx}quic_no_tcp_bound "run ${ms} ms with timeout_seconds 2"
			else
				bad ${pfx}quic_no_tcp_bound "run took ${ms} ms (timeout 2 s)"
			fi
		fi
	else
		echo "certfetch: SKIP ${pfx}quic (no tool_quicseal beside $bw: make $(dirname "$bw")/tests/tool_quicseal)"
		skip=$((skip + 1))
	fi
	# DTLS 1.3 hides the certificate too: fetched the same way, over TLS on TCP at that port
	case_run dtls13 good dtls13 tls:dtls=1 x509:fetched=2 'alert:*=0' certfetch:fetched=1 over:dtls=1 \
		stat:certfetch.fetched=1
	# two workers: each has its own channel to the fetcher
	runbw ${pfx}workers2 good good --workers 2
	if [ "$st" -eq 0 ] && out=$(python3 "$here/check.py" "$tmp/${pfx}workers2.jsonl" x509:fetched=2 'alert:*=0' certfetch:fetched=1 \
		stat:certfetch.fetched=1); then
		ok ${pfx}workers2
	else
		bad ${pfx}workers2 "status $st ${out:-}"
	fi
	# disabled: the same capture, no fetch, no certfetch counters
	runbw ${pfx}disabled off good
	if [ "$st" -eq 0 ] && out=$(python3 "$here/check.py" "$tmp/${pfx}disabled.jsonl" 'certfetch:*=0' x509:fetched=0) &&
		! grep -q '"certfetch"' "$tmp/${pfx}disabled.jsonl"; then
		ok ${pfx}disabled
	else
		bad ${pfx}disabled "status $st ${out:-}"
	fi
}
cases
san=$(dirname "$bw")/san/bindwatch
if [ -x "$san" ] && [ "$san" != "$bw" ]; then
	# The same cases under ASan+UBSan with leak checks, in the sensor and in the fetcher.
	bwbin=$san pfx=san_
	cases
	bwbin=$bw pfx=
else
	echo "certfetch: SKIP sanitizer pass (no $san)"
	skip=$((skip + 1))
fi

# ---- live (-i): the capture replayed into C's interface as from a span port ----
live() { # NAME BINARY: a live run until SIGINT, then the same checks and a clean exit
	local name=$1
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ip netns exec "$nsc" timeout -k 2 -s INT 12 "$2" -q -c "$tmp/good.yaml" -i "$ifc" --capture afpacket \
		--workers 1 -o "jsonl:$tmp/$name.jsonl" 2>"$tmp/$name.err" &
	lpid=$!
	pids+=($lpid)
	sleep 2 # capture up (the sanitizer build starts in well under that too)
	if [ "$name" = live ]; then
		# root without --user: the fetcher keeps uid 0 but no capability
		local fp caps=
		for fp in $(ip netns pids "$nsc" 2>/dev/null); do
			[ "$(cat "/proc/$fp/comm" 2>/dev/null)" = bw-certfetch ] &&
				caps=$(awk '/^Cap(Inh|Prm|Eff|Amb):/ { printf "%s=%s ", $1, $2 }' "/proc/$fp/status")
		done
		if [ -z "$caps" ]; then
			bad fetcher_caps "no bw-certfetch process in the namespace"
		elif echo "$caps" | grep -Eq '=0*[1-9a-f]'; then
			bad fetcher_caps "$caps"
		else
			ok fetcher_caps "$caps"
		fi
	fi
	ip netns exec "$nss" timeout -k 2 10 tcpreplay -q -i "$ifs" "$tmp/good.pcap" >/dev/null 2>&1
	for i in $(seq 1 60); do
		grep -q '"bindwatch.certfetch"' "$tmp/$name.jsonl" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.3
	kill -INT "$lpid" 2>/dev/null
	wait "$lpid"
	lst=$?
	if [ "$lst" -eq 0 ] && grep -Eq "$san_re" "$tmp/$name.err"; then
		lst=86
	fi
	if [ "$lst" -ne 0 ]; then
		bad "$name" "exit status $lst: $(errtail "$tmp/$name.err")"
	elif out=$(python3 "$here/check.py" "$tmp/$name.jsonl" x509:fetched=2 certfetch:fetched=1 'alert:*=0' \
		stat:certfetch.fetched=1); then
		ok "$name" "$(lat "$tmp/$name.jsonl")"
	else
		bad "$name" "$out $(tail -c 300 "$tmp/$name.err")"
	fi
}
if command -v tcpreplay >/dev/null 2>&1; then
	live live "$bw"
	if [ -x "$san" ] && [ "$san" != "$bw" ]; then
		live san_live "$san"
	fi
else
	echo "certfetch: SKIP live (no tcpreplay)"
	skip=$((skip + 1))
fi

finish
