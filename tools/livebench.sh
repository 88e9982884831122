#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# livebench.sh: live-capture throughput, per backend, beside tcpdump (part of `make bench`).
#
# Makes two network namespaces joined by a veth pair, replays a generated realistic capture
# (tools/pcapgen-bench: 97 % encrypted bulk, DNS, TLS handshakes) with `tcpreplay --topspeed`
# into one end for a fixed number of packets, and captures on the other end with each
# contender in turn: `tcpdump -w /dev/null` and bindwatch with every backend. For each it
# reports packets per second delivered to user space, kernel drops, what the eBPF filter or
# bypass dropped in the kernel on purpose, and the CPU time the capturing process used.
# Runs are interleaved round by round and the medians of LIVEBENCH_RUNS are reported, because
# the machine is shared. Needs root (namespaces, AF_PACKET, BPF); without it, says so and exits 0.
#
#   tools/livebench.sh [BUILD_DIR]   env: LIVEBENCH_PACKETS (default 300000), LIVEBENCH_RUNS (3),
#                                    LIVEBENCH_OUT (default bench/results-live.md)
set -u
cd "$(dirname "$0")/.."
B=${1:-${B:-build}}
BW=$B/bindwatch
GEN=$B/tools/pcapgen-bench
PKTS=${LIVEBENCH_PACKETS:-300000}
RUNS=${LIVEBENCH_RUNS:-3}
OUT=${LIVEBENCH_OUT:-bench/results-live.md}

if [ "$(id -u)" -ne 0 ]; then
	echo "livebench: skipped: needs root (network namespaces, AF_PACKET, BPF)"
	exit 0
fi
for t in ip tcpreplay tcpdump ethtool python3; do
	command -v "$t" >/dev/null || { echo "livebench: skipped: $t not installed"; exit 0; }
done
[ -x "$BW" ] && [ -x "$GEN" ] || { echo "livebench: $BW or $GEN not built" >&2; exit 1; }

T=$(mktemp -d /tmp/bwlivebench.XXXXXX)
SRC=bwbs$$ CAP=bwbc$$ VA=bwb$$a VB=bwb$$b
CAPPID=
cleanup() {
	[ -n "$CAPPID" ] && kill -9 "$CAPPID" 2>/dev/null
	ip netns del "$SRC" 2>/dev/null
	ip netns del "$CAP" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$SRC" && ip netns add "$CAP" || { echo "livebench: skipped: no network namespaces"; exit 0; }
ip link add "$VA" type veth peer name "$VB" || { echo "livebench: skipped: no veth"; exit 0; }
ip link set "$VA" netns "$SRC" && ip link set "$VB" netns "$CAP"
for ns in "$SRC" "$CAP"; do ip -n "$ns" link set lo up; done
ip netns exec "$SRC" sysctl -qw "net.ipv6.conf.$VA.disable_ipv6=1"
ip netns exec "$CAP" sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1"
# frames as replayed: no segmentation or merging offloads (see the notes' veth pitfall)
ip netns exec "$SRC" ethtool -K "$VA" tso off gso off gro off tx off >/dev/null 2>&1
ip netns exec "$CAP" ethtool -K "$VB" tso off gso off gro off tx off >/dev/null 2>&1
ip -n "$SRC" link set "$VA" mtu 9000 up
ip -n "$CAP" link set "$VB" mtu 9000 up

echo "livebench: generating the replay capture (pcapgen-bench, 96 MiB, seed 1)"
"$GEN" -o "$T/replay.pcap" --size-mb 96 --seed 1 >/dev/null || { echo "livebench: pcapgen-bench failed" >&2; exit 1; }
FRAMES=$(python3 -c 'import os,struct,sys
f=open(sys.argv[1],"rb"); f.read(24); n=0
while True:
    h=f.read(16)
    if len(h)<16: break
    f.seek(struct.unpack("<IIII",h)[2],1); n+=1
print(n)' "$T/replay.pcap")

# /proc/PID/stat utime+stime in seconds
cpu_of() { python3 -c 'import os,sys
f=open("/proc/%s/stat"%sys.argv[1]).read().rsplit(")",1)[1].split()
print((int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK"))' "$1" 2>/dev/null || echo 0; }

# wait until the capturing process PID (its stderr in FILE says PATTERN) is ready
wait_ready() {
	local pid=$1 file=$2 pat=$3
	for _ in $(seq 200); do
		grep -q "$pat" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

replay() {
	ip netns exec "$SRC" tcpreplay --topspeed --loop=0 -L "$PKTS" -i "$VA" "$T/replay.pcap" >"$T/replay.out" 2>&1
}

# one_run NAME: capture while replaying; appends "name sent secs delivered kdrops filtered cpu" to results
one_run() {
	local name=$1 args=() sent secs delivered kdrop filtered cpu
	case $name in
	tcpdump) ;;
	afpacket-1w) args=(--capture afpacket --workers 1) ;;
	afpacket-2w) args=(--capture afpacket --workers 2) ;;
	afpacket-nobpf-1w) args=(--capture afpacket --no-bpf --workers 1) ;;
	xdp-native-1w) args=(--capture xdp --xdp-mode native --workers 1) ;;
	xdp-generic-1w) args=(--capture xdp --xdp-mode generic --workers 1) ;;
	pcap-1w) args=(--capture pcap --workers 1) ;;
	esac
	rm -f "$T/cap.err" "$T/cap.json"
	if [ "$name" = tcpdump ]; then
		ip netns exec "$CAP" tcpdump -i "$VB" -n -s 0 -B 32768 -w /dev/null 2>"$T/cap.err" &
		CAPPID=$!
		wait_ready "$CAPPID" "$T/cap.err" "listening on" || { echo "livebench: tcpdump did not start" >&2; return 1; }
	else
		# bindwatch is exec'd by ip netns exec, so $! is bindwatch itself
		ip netns exec "$CAP" "$BW" -i "$VB" -q "${args[@]}" -o "jsonl:$T/cap.json" 2>"$T/cap.err" &
		CAPPID=$!
		if ! wait_ready "$CAPPID" "$T/cap.err" "live capture on"; then
			echo "livebench: $name did not start: $(head -2 "$T/cap.err")" >&2
			CAPPID=
			echo "$name - - - - - -" >>"$T/results"
			return 0
		fi
	fi
	sleep 0.3
	replay
	sleep 0.5 # let the consumer drain what is queued
	cpu=$(cpu_of "$CAPPID")
	kill -INT "$CAPPID" 2>/dev/null
	wait "$CAPPID" 2>/dev/null
	CAPPID=
	sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.* in \([0-9.]*\) seconds.*/\1/p' "$T/replay.out" | head -1)
	secs=$(sed -n 's/.*Actual: \([0-9]*\) packets.* in \([0-9.]*\) seconds.*/\2/p' "$T/replay.out" | head -1)
	if [ "$name" = tcpdump ]; then
		delivered=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$T/cap.err")
		kdrop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$T/cap.err")
		filtered=0
	else
		read -r delivered kdrop filtered < <(python3 -c 'import json,sys
last=None
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event",{}).get("dataset")=="bindwatch.stats": last=e
lv=last["bindwatch"]["stats"]["live"]
f=lv.get("filter") or {}
print(lv["capture_frames"], lv["kernel_drops"]+lv.get("xsk_rx_dropped",0), f.get("dropped_packets",0)+f.get("bypassed_packets",0))' "$T/cap.json" 2>/dev/null || echo "- - -")
	fi
	echo "$name ${sent:--} ${secs:--} ${delivered:--} ${kdrop:--} ${filtered:--} $cpu" >>"$T/results"
}

CONTENDERS="tcpdump afpacket-1w afpacket-2w afpacket-nobpf-1w xdp-native-1w xdp-generic-1w pcap-1w"
: >"$T/results"
for r in $(seq "$RUNS"); do
	for c in $CONTENDERS; do
		echo "livebench: round $r/$RUNS: $c"
		one_run "$c"
	done
done

python3 - "$T/results" "$OUT" "$PKTS" "$FRAMES" "$RUNS" <<'EOF'
import statistics, sys, os, platform, subprocess, datetime
res, out, pkts, frames, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = {}
order = []
for line in open(res):
    f = line.split()
    if f[0] not in rows:
        rows[f[0]] = []
        order.append(f[0])
    if f[1] == '-':
        continue
    rows[f[0]].append(dict(sent=int(f[1]), secs=float(f[2]), delivered=int(f[3]) if f[3] != '-' else 0,
                           kdrop=int(f[4]) if f[4] != '-' else 0, filtered=int(f[5]) if f[5] != '-' else 0,
                           cpu=float(f[6])))
desc = {
    'tcpdump': 'tcpdump -w /dev/null (libpcap, TPACKET_V3, 32 MiB buffer)',
    'afpacket-1w': 'bindwatch --capture afpacket (eBPF filter + bypass), 1 worker',
    'afpacket-2w': 'bindwatch --capture afpacket (eBPF filter + bypass), 2 workers (fanout)',
    'afpacket-nobpf-1w': 'bindwatch --capture afpacket --no-bpf (every frame to user space), 1 worker',
    'xdp-native-1w': 'bindwatch --capture xdp --xdp-mode native (veth), 1 worker',
    'xdp-generic-1w': 'bindwatch --capture xdp --xdp-mode generic, 1 worker',
    'pcap-1w': 'bindwatch --capture pcap (libpcap backend), 1 worker',
}
def med(xs): return statistics.median(xs) if xs else 0
lines = []
lines.append('| contender | replay pps (sent) | delivered to user space | delivered pps | kernel drops | dropped/bypassed in kernel by the filter | CPU s | CPU per M sent |')
lines.append('|---|---:|---:|---:|---:|---:|---:|---:|')
for n in order:
    rs = rows[n]
    if not rs:
        lines.append('| %s | did not start here | | | | | | |' % desc.get(n, n))
        continue
    sent = med([r['sent'] for r in rs]); secs = med([r['secs'] for r in rs])
    dl = med([r['delivered'] for r in rs]); dpps = med([r['delivered'] / r['secs'] for r in rs if r['secs']])
    kd = med([r['kdrop'] for r in rs]); fl = med([r['filtered'] for r in rs]); cpu = med([r['cpu'] for r in rs])
    lines.append('| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |' % (
        desc.get(n, n), sent / secs if secs else 0, dl, dpps, kd, fl, cpu, cpu / (sent / 1e6) if sent else 0))
cpu_model = ''
try:
    for l in open('/proc/cpuinfo'):
        if l.startswith('model name'):
            cpu_model = l.split(':', 1)[1].strip(); break
except OSError:
    pass
head = ['# Live capture benchmark (`make bench`, tools/livebench.sh)', '',
        'Generated %s on %s (%d CPUs, %s, kernel %s). A veth pair between two network namespaces;' % (
            datetime.date.today().isoformat(), cpu_model, os.cpu_count(), platform.machine(), platform.release()),
        '`tcpreplay --topspeed` sends %d packets (a %d-frame pcapgen-bench capture, looped) into one end; each' % (pkts, frames),
        'contender captures on the other. Medians of %d interleaved runs. "Delivered" is what reached the' % runs,
        'capturing process; bindwatch\'s eBPF filter keeps DNS and TLS handshakes and drops (or, after a',
        'handshake, bypasses) bulk TLS in the kernel, so it delivers far fewer frames than tcpdump by design:',
        'the figure to compare is kernel drops (frames lost for want of a consumer) and CPU. The replay',
        'itself competes for the same 2 cores, so these are lower bounds of what a real span port gives.', '']
text = '\n'.join(head + lines) + '\n'
print(text)
open(out, 'w').write(text)
EOF
