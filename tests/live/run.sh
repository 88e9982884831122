#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/live/run.sh BINDWATCH: live-capture tests. Needs root: makes two network namespaces
# joined by a veth pair, captures on one end (tests/live/livecap, built next to BINDWATCH as
# tests/livecap) and replays synthetic captures (tests/live/livepcap.py) into the other with
# tcpreplay. Every backend: afpacket + eBPF filter, xdp (generic and native on veth), pcap.
# Tests are skipped (and counted) only when not root or when the kernel refuses (no netns,
# no veth). Everything started is stopped and the namespaces removed on exit.
# The last line is "live: N passed, N failed, N skipped".
set -u

BW=${1:-build/bindwatch}
LIVECAP=${LIVECAP:-$(dirname "$BW")/tests/livecap}
HERE=$(cd "$(dirname "$0")" && pwd)
PY="python3 $HERE/livepcap.py"
PPS=${LIVE_PPS:-2000}
LOOPS=40
# what livepcap.py make writes: mix.pcap has 23 frames, 16 kept by the filter, 8 of them DNS
MIX_FRAMES=23 MIX_PASS=16 MIX_DNS=8

PASSED=0 FAILED=0 SKIPPED=0
ok() { PASSED=$((PASSED + 1)); echo "ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL  $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip  $*"; }
finish() {
	echo "live: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
	exit $?
}
SRCDIR=$(cd "$HERE/../.." && pwd)
# the tests below, by name, so a skip-everything run counts them all
ALL_TESTS="bad-iface afpacket-mix afpacket-bulk afpacket-fanout xdp-generic-mix xdp-generic-bulk
xdp-native-mix xdp-native-bulk xdp-idle-worker pcap-mix pcap-bulk pcap-filter pcap-fanout fallback-auto
fallback-xdp break rawip-load link-flap-afpacket link-flap-xdp
bw-afpacket bw-xdp bw-pcap bw-fanout bw-fanout-symmetry bw-resyn bw-privdrop bw-sigterm bw-sighup bw-sigusr1"
skip_all() {
	echo "live: skipping: $1"
	for t in $ALL_TESTS; do skip "$t ($1)"; done
	finish
}

[ "$(id -u)" -eq 0 ] || skip_all "not root (the live tests need CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF)"
for tool in ip tcpreplay ethtool python3 timeout; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
if [ ! -x "$LIVECAP" ]; then
	bad "test driver $LIVECAP not built (make $LIVECAP)"
	finish
fi

T=$(mktemp -d /tmp/bwlive.XXXXXX)
SRC=bwls$$ CAP=bwlc$$ VA=bwl$$a VB=bwl$$b
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$SRC" 2>/dev/null
	ip netns del "$CAP" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- topology (see ../shared/notes/live-capture-and-syslog.md, section 4)
ip netns add "$SRC" 2>"$T/netns.err" || skip_all "the kernel refuses network namespaces: $(cat "$T/netns.err")"
ip netns add "$CAP" || skip_all "the kernel refuses network namespaces"
ip link add "$VA" type veth peer name "$VB" 2>"$T/veth.err" || skip_all "no veth: $(cat "$T/veth.err")"
ip link set "$VA" netns "$SRC" && ip link set "$VB" netns "$CAP" || skip_all "cannot move veth into netns"
for ns in "$SRC" "$CAP"; do
	ip -n "$ns" link set lo up
done
ip netns exec "$SRC" sysctl -qw "net.ipv6.conf.$VA.disable_ipv6=1"
ip netns exec "$CAP" sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1"
# no offloads: no GRO merging of the bulk segments, no GSO frames, checksums as sent (pitfall 14)
ip netns exec "$SRC" ethtool -K "$VA" tso off gso off gro off tx off >/dev/null 2>&1
ip netns exec "$CAP" ethtool -K "$VB" tso off gso off gro off tx off >/dev/null 2>&1
ip -n "$SRC" link set "$VA" up && ip -n "$CAP" link set "$VB" up || skip_all "cannot bring the veth up"
# the capture end has no address: it plays a span port, its stack answers nothing

$PY make "$T" >"$T/make.out" || { bad "livepcap.py make"; finish; }

CPID=
# capture NAME ARGS...: start livecap in the capture namespace, wait for "ready"
capture() {
	local name=$1
	shift
	ip netns exec "$CAP" timeout -k 2 40 "$LIVECAP" -i "$VB" -t 30 -I 1500 -o "$T/$name" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	CPID=$!
	PIDS+=("$CPID")
	for _ in $(seq 100); do
		grep -q '^ready' "$T/$name.out" 2>/dev/null && return 0
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$CPID" 2>/dev/null
	echo "  capture $name did not start: $(cat "$T/$name.err")"
	return 1
}
# wait for the capture to stop by itself (1.5 s without frames) and return its status
capture_wait() {
	wait "$CPID"
}
replay() {
	ip netns exec "$SRC" timeout -k 2 60 tcpreplay -q -i "$VA" --pps="$PPS" "$@" >"$T/replay.out" 2>&1
}
val() { sed -n "s/^$2=//p" "$T/$1.out" | head -1; }
count() { $PY count "$T/$1.pcap" | sed -n "s/.*\b$2=\([0-9]*\).*/\1/p"; }
# check NAME DESCRIPTION CONDITION...: one line, pass or fail with the capture's output
check() {
	local name=$1 what=$2
	shift 2
	if "$@"; then ok "$name: $what"; else
		bad "$name: $what"
		sed 's/^/    /' "$T/$name.out" | head -40
		sed 's/^/    err: /' "$T/$name.err" | head -10
	fi
}
eq() { [ "${1:-x}" = "${2:-y}" ]; }
ge() { [ "${1:-0}" -ge "$2" ] 2>/dev/null; }
lt() { [ "${1:-999999999}" -lt "$2" ] 2>/dev/null; }

# mix NAME WITH_BPF ARGS...: the mixed capture replayed LOOPS times
mix_test() {
	local name=$1 bpf=$2
	shift 2
	if ! capture "$name" "$@"; then
		if grep -qiE 'not supported|refus|Operation not supported' "$T/$name.err"; then
			skip "$name (the kernel refuses: $(head -1 "$T/$name.err"))"
		else
			bad "$name: capture did not start"
		fi
		return 1
	fi
	replay --loop="$LOOPS" "$T/mix.pcap" || bad "$name: tcpreplay failed: $(tail -2 "$T/replay.out")"
	capture_wait
	local rc=$? dns frames want_frames
	dns=$(count "$name" dns)
	frames=$(count "$name" frames)
	local e=()
	[ "$rc" -eq 0 ] || e+=("livecap exit $rc")
	[ "$dns" = $((LOOPS * MIX_DNS)) ] || e+=("DNS frames $dns, want $((LOOPS * MIX_DNS))")
	[ "$(val "$name" kernel_drops)" = 0 ] || e+=("kernel drops $(val "$name" kernel_drops)")
	[ "$(val "$name" ring_errors)" = 0 ] || e+=("ring errors $(val "$name" ring_errors)")
	$PY subset "$T/$name.pcap" "$T/mix.pcap" >"$T/$name.subset" || e+=("frames not as replayed: $(head -2 "$T/$name.subset" | tr '\n' ' ')")
	if [ "$bpf" = 1 ]; then
		local ex
		ex=$($PY expect "$T/$name.pcap" "$T/mix.tsv")
		[ "$ex" = "missing=- unexpected=-" ] || e+=("filter: $ex")
		want_frames=$((LOOPS * MIX_PASS))
		[ "$(val "$name" bpf_passed)" = "$want_frames" ] || e+=("bpf_passed $(val "$name" bpf_passed), want $want_frames")
		[ "$(val "$name" bpf_dropped)" = $((LOOPS * (MIX_FRAMES - MIX_PASS))) ] ||
			e+=("bpf_dropped $(val "$name" bpf_dropped), want $((LOOPS * (MIX_FRAMES - MIX_PASS))))")
	else
		want_frames=$((LOOPS * MIX_FRAMES))
	fi
	[ "$frames" = "$want_frames" ] || e+=("frames $frames, want $want_frames")
	if [ ${#e[@]} -eq 0 ]; then
		ok "$name: $frames frames, all $dns DNS, 0 drops, frames byte-identical to the replay$([ "$bpf" = 1 ] && echo ", filter verdicts exact")"
	else
		bad "$name: $(IFS=';'; echo "${e[*]}")"
		sed 's/^/    /' "$T/$name.out" | head -40
		sed 's/^/    err: /' "$T/$name.err" | head -5
	fi
}

# bulk NAME WITH_BPF ARGS...: handshake + 2000 bulk segments, bypass after the handshake
bulk_test() {
	local name=$1 bpf=$2
	shift 2
	capture "$name" --bypass-appdata "$@" || { bad "$name: capture did not start"; return 1; }
	replay "$T/bulk.pcap" || bad "$name: tcpreplay failed: $(tail -2 "$T/replay.out")"
	capture_wait
	local rc=$? e=() tls dns
	tls=$(count "$name" tcp443)
	dns=$(count "$name" dns)
	[ "$rc" -eq 0 ] || e+=("livecap exit $rc")
	[ "$dns" = 5 ] || e+=("DNS after the bulk: $dns of 5")
	[ "$(val "$name" kernel_drops)" = 0 ] || e+=("kernel drops $(val "$name" kernel_drops)")
	if [ "$bpf" = 1 ]; then
		# two flows: IPv4 (2200 packets after the handshake) and IPv6 in VLAN 300 (330)
		[ "$(val "$name" bypass_ok)" = 2 ] || e+=("bypass calls ok: $(val "$name" bypass_ok), want 2")
		ge "$(val "$name" bpf_bypassed)" 2300 || e+=("bpf_bypassed $(val "$name" bpf_bypassed), want >= 2300 of 2530")
		lt "$tls" 300 || e+=("TLS frames reaching user space: $tls, want < 300 of 2548")
		ge "$(val "$name" bpf_bypassed_bytes)" 3000000 || e+=("bpf_bypassed_bytes $(val "$name" bpf_bypassed_bytes)")
		ge "$tls" 18 || e+=("TLS frames $tls: the handshakes and FINs must pass")
		ge "$(val "$name" bypass_entries)" 2 || e+=("bypass map entries $(val "$name" bypass_entries), want 2")
	else
		[ "$tls" = 2548 ] || e+=("TLS frames $tls, want all 2548 (no bypass on this backend)")
	fi
	if [ ${#e[@]} -eq 0 ]; then
		if [ "$bpf" = 1 ]; then
			ok "$name: bypass after the handshake: $(val "$name" bpf_bypassed) packets / $(val "$name" bpf_bypassed_bytes) bytes dropped in the kernel, $tls TLS frames to user space, DNS after it kept"
		else
			ok "$name: no bypass on this backend: all $tls TLS frames delivered, 0 drops"
		fi
	else
		bad "$name: $(IFS=';'; echo "${e[*]}")"
		sed 's/^/    /' "$T/$name.out" | head -40
		sed 's/^/    err: /' "$T/$name.err" | head -5
	fi
}

# ---- 1. a clear error for a missing interface (no namespace needed)
out=$("$LIVECAP" -i bwnosuch0 -t 1 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && echo "$out" | grep -q 'bwnosuch0: no such interface'; then
	ok "bad-iface: clear error ($(echo "$out" | head -1))"
else
	bad "bad-iface: exit $rc, output: $out"
fi

# ---- 2. afpacket + eBPF
mix_test afpacket-mix 1 -b afpacket
bulk_test afpacket-bulk 1 -b afpacket

# fanout NAME ARGS...: 2 workers; both directions of every flow on one worker, both busy, no DNS lost
fanout_test() {
	local name=$1
	shift
	capture "$name" -w 2 "$@" || { bad "$name: capture did not start"; return 1; }
	replay --loop="$LOOPS" "$T/mix.pcap"
	capture_wait
	local fl w0 w1 dns
	fl=$($PY flows "$T/$name.0.pcap" "$T/$name.1.pcap")
	w0=$(val "$name" worker0_frames) w1=$(val "$name" worker1_frames)
	dns=$(($(count "$name.0" dns) + $(count "$name.1" dns)))
	if echo "$fl" | grep -q 'split=0' && ge "$w0" 1 && ge "$w1" 1 && [ "$dns" = $((LOOPS * MIX_DNS)) ] &&
		grep -q 'fanout group' "$T/$name.out" && [ "$(val "$name" kernel_drops)" = 0 ]; then
		ok "$name: 2 workers in one fanout group ($w0 + $w1 frames, all $dns DNS), $fl: no flow on two workers"
	else
		bad "$name: $fl, worker frames $w0 / $w1, DNS $dns of $((LOOPS * MIX_DNS))"
		sed 's/^/    /' "$T/$name.out" | head -20
	fi
}
fanout_test afpacket-fanout -b afpacket

# ---- 3. XDP + AF_XDP, generic and native mode on veth
mix_test xdp-generic-mix 1 -b xdp -m generic
bulk_test xdp-generic-bulk 1 -b xdp -m generic
mix_test xdp-native-mix 1 -b xdp -m native
bulk_test xdp-native-bulk 1 -b xdp -m native

# veth has one rx queue: a second XDP worker has none and idles, saying so
if capture xdp-idle-worker -b xdp -m generic -w 2; then
	kill -INT "$CPID"
	capture_wait
	if grep -q '^worker1: xdp .*idle' "$T/xdp-idle-worker.out" && grep -q '^worker0: xdp .*queue 0' "$T/xdp-idle-worker.out"; then
		ok "xdp-idle-worker: queue 0 to worker 1, worker 2 idle: $(sed -n 's/^worker1: //p' "$T/xdp-idle-worker.out" | cut -c1-90)"
	else
		bad "xdp-idle-worker"
		sed 's/^/    /' "$T/xdp-idle-worker.out" | head -10
	fi
else
	bad "xdp-idle-worker: capture did not start"
fi

# ---- 4. libpcap
mix_test pcap-mix 0 -b pcap
bulk_test pcap-bulk 0 -b pcap
if capture pcap-filter -b pcap -f "udp port 53"; then
	replay --loop="$LOOPS" "$T/mix.pcap"
	capture_wait
	n=$(count pcap-filter frames) d=$(count pcap-filter dns)
	# the plain-IPv4/IPv6 UDP DNS frames: not the VLAN ones (a tcpdump filter needs "vlan"), not TCP
	if [ "$n" = "$d" ] && [ "$n" = $((LOOPS * 4)) ]; then
		ok "pcap-filter: tcpdump filter \"udp port 53\" applied ($n frames, all DNS)"
	else
		bad "pcap-filter: $n frames, $d DNS, want $((LOOPS * 4)) DNS only"
	fi
else
	bad "pcap-filter: capture did not start"
fi

fanout_test pcap-fanout -b pcap

# ---- 5. fallbacks when BPF is refused (capabilities dropped from the bounding set)
if command -v capsh >/dev/null 2>&1; then
	LIVECAP_REAL=$LIVECAP
	LIVECAP=$T/livecap-nobpf
	cat >"$LIVECAP" <<EOF
#!/bin/sh
exec capsh --drop=cap_bpf,cap_sys_admin,cap_perfmon -- -c 'exec "\$0" "\$@"' "$LIVECAP_REAL" "\$@"
EOF
	chmod +x "$LIVECAP"
	if capture fallback-auto -b auto; then
		replay --loop="$LOOPS" "$T/mix.pcap"
		capture_wait
		n=$(count fallback-auto frames)
		if grep -q '^warning: eBPF filter not loaded' "$T/fallback-auto.out" &&
			grep -q 'no filter (every frame)' "$T/fallback-auto.out" && [ "$n" = $((LOOPS * MIX_FRAMES)) ]; then
			ok "fallback-auto: without CAP_BPF: $(sed -n 's/^warning: //p' "$T/fallback-auto.out" | cut -c1-110)...; all $n frames"
		else
			bad "fallback-auto: frames $n"
			sed 's/^/    /' "$T/fallback-auto.out" | head -10
		fi
	else
		bad "fallback-auto: capture did not start: $(head -2 "$T/fallback-auto.err")"
	fi
	if capture fallback-xdp -b xdp; then
		kill -INT "$CPID"
		capture_wait
		if grep -q '^warning: xdp not usable' "$T/fallback-xdp.out" && grep -q '^worker0: afpacket' "$T/fallback-xdp.out"; then
			ok "fallback-xdp: without CAP_BPF: xdp falls back to afpacket with a warning"
		else
			bad "fallback-xdp: no fallback warning"
			sed 's/^/    /' "$T/fallback-xdp.out" | head -10
		fi
	else
		bad "fallback-xdp: capture did not start: $(head -2 "$T/fallback-xdp.err")"
	fi
	LIVECAP=$LIVECAP_REAL
else
	skip "fallback-auto (capsh not installed)"
	skip "fallback-xdp (capsh not installed)"
fi

# ---- 6. a blocked read wakes up for shutdown: SIGINT ends an idle capture at once
if capture break -b afpacket; then
	start=$(date +%s%N)
	kill -INT "$CPID"
	capture_wait
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ "$rc" -eq 0 ] && [ "$ms" -lt 1000 ]; then ok "break: idle capture stopped in $ms ms"; else bad "break: exit $rc after $ms ms"; fi
else
	bad "break: capture did not start"
fi

# ---- 7. the span port goes down and up again: the capture goes on (ENETDOWN is not the end)
flap_test() {
	local name=$1
	shift
	capture "$name" -I 3000 "$@" || { bad "$name: capture did not start"; return 1; }
	replay --loop=10 "$T/mix.pcap"
	sleep 0.3
	ip -n "$CAP" link set "$VB" down
	sleep 0.5
	ip -n "$CAP" link set "$VB" up
	sleep 1
	replay --loop=10 "$T/mix.pcap"
	capture_wait
	local rc=$? dns
	dns=$(count "$name" dns)
	if [ "$rc" -eq 0 ] && [ "$dns" = $((2 * 10 * MIX_DNS)) ]; then
		ok "$name: link down and up mid-capture: all $dns DNS frames of both replays"
	else
		bad "$name: exit $rc, DNS $dns of $((2 * 10 * MIX_DNS))"
		sed 's/^/    /' "$T/$name.out" | head -8
		sed 's/^/    err: /' "$T/$name.err" | head -5
	fi
}
flap_test link-flap-afpacket -b afpacket
flap_test link-flap-xdp -b xdp -m generic

# ---- 8. a raw-IP interface (tun, ARPHRD_NONE): the filter is loaded for frames that start at IP
if ip -n "$CAP" tuntap add dev bwltun0 mode tun 2>/dev/null && ip -n "$CAP" link set bwltun0 up; then
	out=$(ip netns exec "$CAP" timeout -k 2 10 "$LIVECAP" -i bwltun0 -b afpacket -t 0.3 2>&1)
	if echo "$out" | grep -q 'raw-ip link, eBPF filter on' && ! echo "$out" | grep -q '^warning'; then
		ok "rawip-load: eBPF filter loaded for a raw-IP link"
	else
		bad "rawip-load: $out"
	fi
else
	skip "rawip-load (no tun device)"
fi

# ---- 9. the sensor itself: bindwatch -i on the capture end
# The same captures, retimed to "now" (what bindwatch judges by packet time then agrees), are
# replayed live and read offline; the events must be the same.
EVC="python3 $HERE/evcompare.py"
BWPID=
# bw_start NAME ARGS...: bindwatch -i in the capture namespace, events to $T/NAME.json; waits for
# its startup line
bw_start() {
	local name=$1
	shift
	ip netns exec "$CAP" timeout -k 2 60 "$BW" -i "$VB" -o "jsonl:$T/$name.json" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	BWPID=$!
	PIDS+=("$BWPID")
	for _ in $(seq 100); do
		grep -q 'live capture on' "$T/$name.err" 2>/dev/null && break
		kill -0 "$BWPID" 2>/dev/null || break
		sleep 0.05
	done
	# timeout runs bindwatch as its child: signals go to bindwatch itself
	local child
	for _ in $(seq 40); do
		child=$(pgrep -P "$BWPID" -x bindwatch 2>/dev/null | head -1)
		[ -n "$child" ] && break
		sleep 0.05
	done
	BWCHILD=$child
	grep -q 'live capture on' "$T/$name.err" 2>/dev/null && [ -n "$BWCHILD" ] && return 0
	wait "$BWPID" 2>/dev/null
	echo "  bindwatch $name did not start: $(head -3 "$T/$name.err")"
	return 1
}
# bw_stop: SIGTERM, wait, return bindwatch's status
bw_stop() {
	kill -TERM "$BWCHILD" 2>/dev/null
	wait "$BWPID"
}
# the final stats event's value at a dotted path
stat() { python3 -c '
import json, sys
last = None
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event", {}).get("dataset") == "bindwatch.stats":
        last = e
v = last
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if isinstance(v, dict) else None
print(v)' "$T/$1.json" "$2" 2>/dev/null; }
nevents() { grep -c "\"dataset\":\"bindwatch.$2\"" "$T/$1.json" 2>/dev/null; }
bw_fail() {
	local name=$1
	shift
	bad "$name: $*"
	sed 's/^/    err: /' "$T/$name.err" | head -12
}

LIVE_CAPS="$SRCDIR/pcaps/alerts-demo.pcap $SRCDIR/pcaps/dns-basic.pcap $SRCDIR/pcaps/tls-basic.pcap $SRCDIR/pcaps/dns-tcp.pcap $SRCDIR/pcaps/tls-segmented.pcap $SRCDIR/pcaps/dns-vlan-mpls.pcap"
POLICY=$T/policy.yaml
sed 's/^  suppress_seconds: 3600$/  suppress_seconds: 0/' "$SRCDIR/examples/policy.yaml" >"$POLICY"
if [ ! -x "$BW" ]; then
	for t in bw-afpacket bw-xdp bw-pcap bw-fanout bw-fanout-symmetry bw-resyn bw-privdrop bw-sigterm bw-sighup bw-sigusr1; do bad "$t: $BW not built"; done
	finish
fi
$EVC retime "$T/live.pcap" $LIVE_CAPS || bad "evcompare retime"
"$BW" -q -c "$POLICY" -r "$T/live.pcap" -o "jsonl:$T/offline.json" || bad "offline run of live.pcap failed"
"$BW" -q -c "$POLICY" -r "$SRCDIR/pcaps/dns-basic.pcap" -o "jsonl:$T/dnsonly.json"
BW_PPS=${LIVE_BW_PPS:-400}
# breplay PPS FILE...: replay at PPS packets per second
breplay() {
	local pps=$1
	shift
	ip netns exec "$SRC" timeout -k 2 60 tcpreplay -q -i "$VA" --pps="$pps" "$@" >"$T/replay.out" 2>&1
}

# live_equal NAME COMPARE_OPTS BINDWATCH_ARGS...: replay live.pcap, stop, compare with the offline run
live_equal() {
	local name=$1 copts=$2
	shift 2
	if ! bw_start "$name" -c "$POLICY" "$@"; then
		if grep -qiE 'not supported|Operation not supported' "$T/$name.err"; then
			skip "$name (the kernel refuses: $(head -1 "$T/$name.err"))"
		else
			bw_fail "$name" "bindwatch did not start"
		fi
		return 1
	fi
	breplay "$BW_PPS" "$T/live.pcap" || bad "$name: tcpreplay failed: $(tail -2 "$T/replay.out")"
	sleep 0.5
	bw_stop
	local rc=$? e=() cmp
	cmp=$($EVC "$T/$name.json" "$T/offline.json" $copts)
	[ "$rc" -eq 0 ] || e+=("exit $rc")
	echo "$cmp" | grep -q '^same' || e+=("events: $(echo "$cmp" | head -4 | tr '\n' ' ')")
	[ "$(stat "$name" bindwatch.stats.live.kernel_drops)" = 0 ] || e+=("kernel drops $(stat "$name" bindwatch.stats.live.kernel_drops)")
	[ "$(stat "$name" bindwatch.stats.live.final)" = True ] || e+=("no final stats event")
	if [ ${#e[@]} -eq 0 ]; then
		ok "$name: live events = offline events ($cmp), 0 kernel drops, $(stat "$name" bindwatch.stats.live.bypass_calls) flows bypassed; $(head -1 "$T/$name.err" | sed 's/^bindwatch: //' | cut -c1-80)"
		return 0
	fi
	bw_fail "$name" "$(IFS=';'; echo "${e[*]}")"
	return 1
}
live_equal bw-afpacket "" --capture afpacket --workers 1
live_equal bw-xdp "" --capture xdp --xdp-mode generic --workers 1
live_equal bw-pcap "" --capture pcap --workers 1

# fanout: with 2 workers both directions of each flow reach one worker, so every TLS handshake
# is complete (both hellos) and the events are those of the offline run; both workers busy
if live_equal bw-fanout "--multi-worker" --capture afpacket --workers 2; then
	w0=$(stat bw-fanout bindwatch.stats.live.per_worker.0.packets)
	w1=$(stat bw-fanout bindwatch.stats.live.per_worker.1.packets)
	half=$(python3 -c 'import json,sys
n=bad=0
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e["event"]["dataset"]=="bindwatch.tls":
        n+=1; t=e["bindwatch"]["tls"]; bad+=not (t.get("client") and t.get("server"))
print(bad)' "$T/bw-fanout.json")
	if ge "$w0" 1 && ge "$w1" 1 && [ "$half" = 0 ]; then
		ok "bw-fanout-symmetry: 2 workers ($w0 + $w1 packets), every TLS event has both hellos"
	else
		bad "bw-fanout-symmetry: worker packets $w0 / $w1, TLS events missing a side: $half"
	fi
else
	bad "bw-fanout-symmetry: not checked (bw-fanout did not run through)"
fi

# a SYN on a bypassed flow: the kernel filter forgets the flow (it cannot tell a new connection
# from a retransmitted or duplicated SYN); when the SYN left the flow as it was, bindwatch must
# bypass it again. bulk.pcap replayed twice: its two flows' second copies must be bypassed too.
if bw_start bw-resyn --capture afpacket --workers 1; then
	breplay "$PPS" --loop=2 "$T/bulk.pcap" || bad "bw-resyn: tcpreplay failed: $(tail -2 "$T/replay.out")"
	sleep 0.5
	bw_stop
	calls=$(stat bw-resyn bindwatch.stats.live.bypass_calls)
	byp=$(stat bw-resyn bindwatch.stats.live.filter.bypassed_packets)
	if ge "$calls" 4 && ge "$byp" 4600; then
		ok "bw-resyn: replayed twice, $calls bypass calls for 2 flows, $byp packets bypassed in the kernel"
	else
		bad "bw-resyn: bypass calls $calls (want >= 4), bypassed packets $byp (want >= 4600 of 2 x 2530)"
	fi
else
	bad "bw-resyn: bindwatch did not start"
fi

# privilege drop: --user nobody; ids and capabilities checked while it runs, events still flow
if id nobody >/dev/null 2>&1; then
	if bw_start bw-privdrop --capture afpacket --workers 2 --user nobody; then
		for _ in $(seq 40); do grep -q 'running as user' "$T/bw-privdrop.err" && break; sleep 0.05; done
		st=/proc/$BWCHILD/status
		uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$st") gid=$(awk '/^Gid:/ {print $2 $3 $4 $5}' "$st")
		nu=$(id -u nobody) ng=$(id -g nobody)
		capeff=$(awk '/^CapEff:/ {print $2}' "$st") capprm=$(awk '/^CapPrm:/ {print $2}' "$st")
		nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$st")
		tasks_caps=$(cat /proc/"$BWCHILD"/task/*/status 2>/dev/null | awk '/^CapEff:/ {print $2}' | sort -u | tr '\n' ' ')
		breplay 1000 "$SRCDIR/pcaps/dns-basic.pcap"
		sleep 0.5
		bw_stop
		rc=$?
		dns=$(nevents bw-privdrop dns)
		if [ "$uid" = "$nu$nu$nu$nu" ] && [ "$gid" = "$ng$ng$ng$ng" ] && [ "$capeff" = 0000000000000000 ] &&
			[ "$capprm" = 0000000000000000 ] && [ "$tasks_caps" = "0000000000000000 " ] && [ "$nnp" = 1 ] &&
			[ "$rc" -eq 0 ] && [ "$dns" = 50 ]; then
			ok "bw-privdrop: running as nobody (Uid $nu, Gid $ng, CapEff/CapPrm 0 in every thread, NoNewPrivs), all 50 DNS events after the drop"
		else
			bw_fail bw-privdrop "Uid '$uid' Gid '$gid' (want $nu/$ng), CapEff $capeff CapPrm $capprm threads '$tasks_caps' NoNewPrivs $nnp, exit $rc, DNS $dns of 50"
		fi
	else
		bw_fail bw-privdrop "bindwatch did not start"
	fi
else
	skip "bw-privdrop (no user nobody)"
fi

# SIGTERM in the middle of a replay: every DNS message parsed has its event (an all-DNS capture:
# one message per frame delivered), and the run ends with status 0 and a final stats event
# (--dedup-window 0: the loops repeat each frame within 50 ms, which the duplicate filter would drop)
if bw_start bw-sigterm --capture afpacket --workers 2 --dedup-window 0; then
	ip netns exec "$SRC" timeout -k 2 20 tcpreplay -q -i "$VA" --pps=1500 --loop=60 "$SRCDIR/pcaps/dns-basic.pcap" >/dev/null 2>&1 &
	RP=$!
	PIDS+=("$RP")
	sleep 1
	bw_stop
	rc=$?
	kill "$RP" 2>/dev/null
	wait "$RP" 2>/dev/null
	dns=$(nevents bw-sigterm dns) frames=$(stat bw-sigterm bindwatch.stats.input.packets)
	msgs=$(stat bw-sigterm bindwatch.stats.dns.messages)
	if [ "$rc" -eq 0 ] && ge "$dns" 1 && lt "$dns" 3000 && [ "$dns" = "$frames" ] && [ "$dns" = "$msgs" ]; then
		ok "bw-sigterm: stopped mid-replay: $dns DNS events for $frames DNS frames delivered, exit 0"
	else
		bw_fail bw-sigterm "exit $rc, DNS events $dns, frames delivered $frames, DNS messages $msgs (of 3000 replayed)"
	fi
else
	bw_fail bw-sigterm "bindwatch did not start"
fi

# SIGHUP: a broken policy is refused and the old one stays (the events of the replay after it
# are those of an offline run with the good policy: owned-domain alerts included); the output
# file is reopened (logrotate moved the old one away); then a good policy is taken
$EVC retime "$T/ad.pcap" "$SRCDIR/pcaps/alerts-demo.pcap"
"$BW" -q -c "$POLICY" -r "$T/ad.pcap" -o "jsonl:$T/ad-offline.json"
if bw_start bw-sighup --capture afpacket --workers 1 -c "$POLICY"; then
	cp "$POLICY" "$T/policy.good"
	printf 'owned:\n  domains: [\n' >"$POLICY"
	mv "$T/bw-sighup.json" "$T/bw-sighup.old.json"
	kill -HUP "$BWCHILD"
	for _ in $(seq 40); do grep -q 'reload' "$T/bw-sighup.err" && break; sleep 0.05; done
	breplay 1000 "$T/ad.pcap"
	sleep 0.5
	cp "$T/policy.good" "$POLICY"
	kill -HUP "$BWCHILD"
	for _ in $(seq 40); do grep -q 'policy reloaded' "$T/bw-sighup.err" && break; sleep 0.05; done
	bw_stop
	rc=$?
	cmp=$($EVC "$T/bw-sighup.json" "$T/ad-offline.json")
	if [ "$rc" -eq 0 ] && echo "$cmp" | grep -q '^same' && grep -q 'reload refused, the old policy stays' "$T/bw-sighup.err" &&
		grep -q 'policy reloaded' "$T/bw-sighup.err" && [ -f "$T/bw-sighup.old.json" ]; then
		ok "bw-sighup: broken policy refused, the old one stays (events after it: $cmp, in the reopened file), good policy reloaded"
	else
		bw_fail bw-sighup "exit $rc, events after the refused reload (new file): $cmp"
	fi
else
	bw_fail bw-sighup "bindwatch did not start"
fi

# SIGUSR1: a stats event now; --stats-interval: periodic ones
if bw_start bw-sigusr1 --capture afpacket --workers 2 --stats-interval 1; then
	breplay 1000 "$SRCDIR/pcaps/dns-basic.pcap"
	kill -USR1 "$BWCHILD"
	n=0
	for _ in $(seq 40); do
		n=$(grep -c '"final":false' "$T/bw-sigusr1.json" 2>/dev/null)
		ge "$n" 1 && break
		sleep 0.05
	done
	sleep 2.2
	bw_stop
	rc=$?
	n=$(grep -c '"final":false' "$T/bw-sigusr1.json")
	first=$(grep '"final":false' "$T/bw-sigusr1.json" | tail -1 | python3 -c 'import json,sys
s=json.loads(sys.stdin.read())["bindwatch"]["stats"]
print(s["input"]["packets"], s["live"]["kernel_drops"], len(s["live"]["per_worker"]))' 2>/dev/null)
	if [ "$rc" -eq 0 ] && ge "$n" 3 && [ "$first" = "50 0 2" ]; then
		ok "bw-sigusr1: SIGUSR1 and --stats-interval 1 gave $n stats events (packets, kernel drops, workers: $first)"
	else
		bw_fail bw-sigusr1 "exit $rc, $n non-final stats events, first: '$first' (want '50 0 2')"
	fi
else
	bw_fail bw-sigusr1 "bindwatch did not start"
fi

finish
