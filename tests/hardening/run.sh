#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/hardening/run.sh BUILD_DIR: the hardening checks of issue 8.
#   (a) build flags of BUILD_DIR/bindwatch: PIE, full RELRO (GNU_RELRO + BIND_NOW),
#       stack protector, FORTIFY (*_chk imports), non-executable stack; the same
#       checker must reject a deliberately weak binary
#   (b) seccomp: a running sensor (offline on a slow FIFO; live in a network
#       namespace when root) has the filter on every thread; --no-seccomp has none
#       (the refusal of a forbidden call itself: tests/test_seccomp.c)
#   (c) LeakSanitizer: BUILD_DIR/san/bindwatch over the whole external capture set,
#       alerts on (tests/hardening/policy.yaml), 1 and 2 workers
#   (d) valgrind memcheck of BUILD_DIR/bindwatch over the same set in one run
#   (e) allocation-failure torture: failmalloc.c (LD_PRELOAD) fails the n-th
#       allocation of a small run with alerts; every n up to TORTURE_FULL (300),
#       then TORTURE_SAMPLES (150) n spread evenly over the rest (TORTURE_ALL=1:
#       every n); a sample of them again under valgrind for leaks and bad reads
# Last line: "hardening: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
BIN=$B/bindwatch
SAN=$B/san/bindwatch
EXT=${BW_EXTERNAL_PCAPS:-../shared/pcaps/external}
POLICY=tests/hardening/policy.yaml
TORTURE_FULL=${TORTURE_FULL:-300}
TORTURE_SAMPLES=${TORTURE_SAMPLES:-150}
TORTURE_VALGRIND=${TORTURE_VALGRIND:-4}
JOBS=${JOBS:-2}
T=$(mktemp -d /tmp/bw-hardening.XXXXXX)
PASSED=0 FAILED=0 SKIPPED=0
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ok() { PASSED=$((PASSED + 1)); echo "ok    $1"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL  $1"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip  $1"; }
check() { if [ "$2" = 1 ]; then ok "$1"; else bad "$1"; fi; } # check NAME 0|1
now() { date +%s.%N; }
took() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

[ -x "$BIN" ] || { bad "no $BIN (build first)"; echo "hardening: $PASSED passed, $FAILED failed, $SKIPPED skipped"; exit 1; }

# ---- (a) build flags ----
# flag_problems BIN: one word per missing hardening property (empty: all there).
flag_problems() {
	local bin=$1 p=""
	readelf -hW "$bin" | grep -Eq 'Type:[[:space:]]+DYN' || p="$p not-dyn"
	readelf -dW "$bin" | grep -E 'FLAGS_1' | grep -q 'PIE' || p="$p no-pie-flag"
	readelf -lW "$bin" | grep -q 'GNU_RELRO' || p="$p no-relro"
	readelf -dW "$bin" | grep -Eq '\(BIND_NOW\)|FLAGS_1.*NOW|\(FLAGS\).*BIND_NOW' || p="$p no-bind-now"
	readelf --dyn-syms -W "$bin" | grep -q ' __stack_chk_fail' || p="$p no-stack-protector"
	[ "$(readelf --dyn-syms -W "$bin" | grep -cE ' __[a-z_]+_chk(@|$)')" -ge 3 ] || p="$p no-fortify"
	readelf -lW "$bin" | grep 'GNU_STACK' | grep -q 'RWE' && p="$p exec-stack"
	readelf -lW "$bin" | grep -q 'GNU_STACK' || p="$p exec-stack"
	echo "$p"
}
probs=$(flag_problems "$BIN")
chk=$(readelf --dyn-syms -W "$BIN" | grep -oE ' __[a-z_]+_chk' | sort -u | tr -d ' ' | head -6 | tr '\n' ' ')
[ -z "$probs" ] && ok "build flags: PIE (DYN + FLAGS_1 PIE), GNU_RELRO + BIND_NOW, __stack_chk_fail, fortified: ${chk}…, GNU_STACK RW" ||
	bad "build flags of $BIN:$probs"
# The checker must see a weak binary for what it is.
printf '#include <string.h>\n#include <stdio.h>\nint main(int c, char **v) { char b[8]; strcpy(b, c > 1 ? v[1] : "x"); puts(b); return 0; }\n' >"$T/weak.c"
if cc -O0 -no-pie -fno-stack-protector -U_FORTIFY_SOURCE -Wl,-z,norelro,-z,lazy,-z,execstack -o "$T/weak" "$T/weak.c" 2>/dev/null; then
	probs=$(flag_problems "$T/weak")
	n=$(echo "$probs" | wc -w)
	check "build-flag checker rejects a weak binary ($n problems:$probs)" "$([ "$n" -ge 6 ] && echo 1 || echo 0)"
else
	skip "build-flag checker self-test: cannot build the weak binary"
fi

# ---- (b) seccomp in a running sensor ----
# status_all PID: "Seccomp:N" of every thread, one per line.
status_all() { for t in /proc/"$1"/task/*; do awk '/^Seccomp:/{print "Seccomp:" $2}' "$t/status"; done; }
PCAP=pcaps/alerts-demo.pcap
DEMO=examples/demo-policy.yaml
"$BIN" --no-seccomp -q -r "$PCAP" -c "$DEMO" -o jsonl:"$T/ref.json" 2>/dev/null
ref_events=$(wc -l <"$T/ref.json")
fifo_run() { # fifo_run NAME EXTRA-ARGS...: a run reading a FIFO fed in two halves
	local name=$1
	shift
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	"$BIN" -q -r "$T/fifo" -c "$DEMO" -o jsonl:"$T/$name.json" -o "syslog+udp://127.0.0.1:9?spool=$T/spool-$name" "$@" \
		2>"$T/$name.err" &
	local pid=$!
	exec 7>"$T/fifo"
	head -c 24 "$PCAP" >&7 # the file header: start-up is over, the sensor waits for frames
	local st="" i
	for i in $(seq 50); do
		sleep 0.1
		st=$(status_all "$pid" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
		[ "$(ls /proc/"$pid"/task | wc -l)" -ge 2 ] && grep -q 'Seccomp:2' <<<"$st" && break
	done
	filters=$(awk '/^Seccomp_filters:/{print $2}' /proc/"$pid"/status)
	threads=$(ls /proc/"$pid"/task | wc -l)
	tail -c +25 "$PCAP" >&7
	exec 7>&-
	wait "$pid"
	rc=$?
	events=$(wc -l <"$T/$name.json")
	STATUS=$st
}
fifo_run on
if [ "$rc" = 0 ] && [ "$events" = "$ref_events" ] && [ "$STATUS" = " $threads Seccomp:2;" ] && [ "${filters:-0}" -ge 1 ]; then
	ok "seccomp on a running offline sensor: all $threads threads (the syslog sink's, started before, too) 'Seccomp: 2', Seccomp_filters $filters; exit 0, $events events as without the filter"
else
	bad "seccomp offline: rc=$rc events=$events/$ref_events threads=$threads status='$STATUS' filters=${filters:-?} ($(head -c 300 "$T/on.err"))"
fi
fifo_run off --no-seccomp
check "--no-seccomp: no filter (status '$STATUS'), exit $rc, $events events" \
	"$([ "$rc" = 0 ] && [ "$events" = "$ref_events" ] && [ "$STATUS" = " $threads Seccomp:0;" ] && echo 1 || echo 0)"

# Live: a veth pair in a namespace of its own, the sensor dropping to nobody.
if [ "$(id -u)" = 0 ] && command -v tcpreplay >/dev/null && NS=bwh$$ && ip netns add "$NS" 2>/dev/null &&
	ip -n "$NS" link add bwha type veth peer name bwhb 2>/dev/null; then
	ip -n "$NS" link set bwha up && ip -n "$NS" link set bwhb up && ip -n "$NS" link set lo up
	ip netns exec "$NS" "$BIN" -q -i bwhb --workers 2 --user nobody -c "$DEMO" -o jsonl:"$T/live.json" 2>"$T/live.err" &
	lpid=$!
	PIDS+=("$lpid")
	st=""
	# The thread count first, then the statuses: the other way round, threads
	# started between the two reads gave a count of 4 with one thread's status.
	for i in $(seq 50); do
		sleep 0.1
		grep -q 'running as user' "$T/live.err" || continue
		threads=$(ls /proc/"$lpid"/task 2>/dev/null | wc -l)
		[ "$threads" -ge 4 ] || continue
		st=$(status_all "$lpid" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
		[ "$st" = " $threads Seccomp:2;" ] && break
	done
	ip netns exec "$NS" tcpreplay -q -i bwha --pps=2000 "$PCAP" >/dev/null 2>&1
	sleep 0.5
	kill -TERM "$lpid"
	wait "$lpid"
	rc=$?
	ev=$(wc -l <"$T/live.json" 2>/dev/null)
	if [ "$rc" = 0 ] && [ "$st" = " $threads Seccomp:2;" ] && [ "${ev:-0}" -gt 10 ]; then
		ok "seccomp on a live sensor (AF_PACKET + eBPF, 2 workers, --user nobody): all $threads threads 'Seccomp: 2'; SIGTERM exit 0 with $ev events"
	else
		bad "seccomp live: rc=$rc threads=$threads status='$st' events=${ev:-0} ($(tail -c 300 "$T/live.err"))"
	fi
	ip netns del "$NS"
	NS=""
else
	skip "seccomp on a live sensor: needs root, tcpreplay and network namespaces"
fi

# ---- (c) LeakSanitizer over the external captures ----
NEXT=$(ls "$EXT"/*.pcap "$EXT"/*.pcapng 2>/dev/null | wc -l)
san_clean() { ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$1"; }
if [ ! -x "$SAN" ]; then
	bad "no $SAN"
elif [ "$NEXT" -lt 10 ]; then
	skip "LeakSanitizer: external capture set not found at $EXT"
else
	for wk in 1 2; do
		t0=$(now)
		ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			timeout 300 "$SAN" -q --workers $wk -r "$EXT" -c "$POLICY" --data-dir data -o jsonl:"$T/san.json" 2>"$T/san.err"
		rc=$?
		alerts=$(grep -c '"kind":"alert"' "$T/san.json")
		# exit 1: the set holds two deliberately corrupt captures (README of the set)
		if [ "$rc" = 1 ] && san_clean "$T/san.err" && [ "$alerts" -gt 100 ]; then
			ok "LeakSanitizer + ASan + UBSan clean: $NEXT external captures, $wk worker(s), $alerts alerts, exit 1 (2 corrupt files), $(took "$t0") s"
		else
			bad "sanitizers over the external set ($wk workers): rc=$rc alerts=$alerts: $(grep -m3 -E 'ERROR|runtime error|SUMMARY' "$T/san.err")"
		fi
	done
fi

# ---- (d) valgrind memcheck over the external captures ----
# Valgrind does not run the seccomp system call (it has no wrapper for it): --no-seccomp.
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --suppressions=tests/hardening/valgrind.supp"
if ! command -v valgrind >/dev/null; then
	skip "valgrind memcheck: valgrind not installed"
elif [ "$NEXT" -ge 10 ]; then
	t0=$(now)
	timeout 300 $VG "$BIN" --no-seccomp -q -r "$EXT" -c "$POLICY" --data-dir data -o jsonl:"$T/vg.json" 2>"$T/vg.err"
	rc=$?
	alerts=$(grep -c '"kind":"alert"' "$T/vg.json")
	if [ "$rc" = 1 ] && ! grep -q '^==[0-9]*==' "$T/vg.err" && [ "$alerts" -gt 100 ]; then
		ok "valgrind memcheck clean (no error, no definite/indirect leak): $NEXT external captures in one run, $alerts alerts, $(took "$t0") s"
	else
		bad "valgrind over the external set: rc=$rc alerts=$alerts: $(grep -m8 '^==' "$T/vg.err" | tr '\n' ' ')"
	fi
fi

# ---- (e) allocation-failure torture ----
SHIM=$T/failmalloc.so
if ! cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$SHIM" tests/hardening/failmalloc.c -ldl 2>"$T/shim.err"; then
	bad "cannot build the failmalloc shim: $(head -c 300 "$T/shim.err")"
else
	# A one-certificate trust bundle: the system one costs ~200k allocations to load (OpenSSL honours SSL_CERT_FILE).
	awk '/BEGIN CERT/{n++} n==1{print} /END CERT/ && n==1{exit}' /etc/ssl/certs/ca-certificates.crt >"$T/ca1.pem"
	export SSL_CERT_FILE=$T/ca1.pem
	TARGS=(-q -r "$PCAP" -c "$DEMO" --data-dir data -o jsonl:"$T/torture.json")
	LD_PRELOAD=$SHIM BW_FAILMALLOC_COUNT=$T/count "$BIN" "${TARGS[@]}" 2>/dev/null
	total=$(awk '{print $1}' "$T/count")
	tevents=$(grep -vc bindwatch.stats "$T/torture.json")
	# torture_one N: run with the N-th allocation failing; print "N STATUS CLASS" (CLASS ok/bad/urcu).
	cat >"$T/one.sh" <<EOF
#!/usr/bin/env bash
n=\$1
d=$T/t\$n
mkdir -p "\$d"
# only bindwatch gets the shim (timeout itself must not fail)
timeout -s KILL 20 env BW_FAILMALLOC_N=\$n BW_FAILMALLOC_COUNT=\$d/count LD_PRELOAD=$SHIM "$BIN" -q -r "$PCAP" \
	-c "$DEMO" --data-dir data -o jsonl:\$d/out.json >/dev/null 2>\$d/err
rc=\$?
cls=ok
if [ \$rc -gt 4 ]; then
	# liburcu 0.13 aborts by design when its own allocations fail (see README, Hardening)
	if [ \$rc = 134 ] && grep -Eq '(rculfhash|workqueue|urcu-call-rcu|call_rcu)[^ ]*\.[ch]' \$d/err; then cls=urcu; else cls=bad; fi
elif [ \$rc -ne 0 ] && [ ! -s \$d/err ]; then
	cls=bad # a non-zero exit must say why
elif [ \$rc = 0 ] && grep -q FAILED \$d/count && [ "\$(grep -vc bindwatch.stats \$d/out.json)" != $tevents ]; then
	cls=ok-differs # exit 0, but other events than without the failure: listed (see the report)
fi
echo "\$n \$rc \$cls \$(head -c 160 \$d/err | tr '\n' ' ')"
rm -rf "\$d"
EOF
	chmod +x "$T/one.sh"
	if [ "${TORTURE_ALL:-0}" = 1 ]; then
		seq 1 "$total" >"$T/ns"
	else
		seq 1 "$((total < TORTURE_FULL ? total : TORTURE_FULL))" >"$T/ns"
		if [ "$total" -gt "$TORTURE_FULL" ]; then
			awk -v a="$TORTURE_FULL" -v b="$total" -v k="$TORTURE_SAMPLES" \
				'BEGIN { for (i = 1; i <= k; i++) { n = a + int((b - a) * i / k); if (n > a && n != last) print n; last = n } }' >>"$T/ns"
		fi
	fi
	t0=$(now)
	xargs -P "$JOBS" -n 1 "$T/one.sh" <"$T/ns" >"$T/torture.txt" 2>"$T/xargs.err" # (the shell's "Aborted" lines)
	nrun=$(wc -l <"$T/torture.txt")
	nbad=$(awk '$3 == "bad"' "$T/torture.txt" | wc -l)
	nurcu=$(awk '$3 == "urcu"' "$T/torture.txt" | wc -l)
	nfewer=$(awk '$3 == "ok-differs"' "$T/torture.txt" | wc -l)
	codes=$(awk '{print $2}' "$T/torture.txt" | sort -n | uniq -c | awk '{printf "%s×%s ", $2, $1}')
	if [ "$nbad" = 0 ] && [ "$nrun" -gt 0 ]; then
		ok "allocation failures: $nrun runs (n = 1..$((total < TORTURE_FULL ? total : TORTURE_FULL)) then $((nrun - TORTURE_FULL > 0 ? nrun - TORTURE_FULL : 0)) sampled up to $total allocations; alerts-demo.pcap + demo policy), exit codes ${codes}— no crash, no hang, a message for every failure; $nfewer exit 0 with other events than a clean run (listed in $B/hardening-torture.txt); $nurcu liburcu aborts (known, README), $(took "$t0") s"
	else
		bad "allocation failures: $nbad of $nrun runs crashed, hung or failed silently: $(awk '$3 == "bad"' "$T/torture.txt" | head -5 | tr '\n' '|')"
	fi
	# Leaks and bad reads on the failure paths: a sample under valgrind (the shim's
	# __libc_malloc calls are the ones valgrind redirects, so both apply).
	if command -v valgrind >/dev/null && [ "$TORTURE_VALGRIND" -gt 0 ]; then
		awk '$3 == "ok" && $2 != 0 {print $1}' "$T/torture.txt" >"$T/failing"
		awk '$3 == "ok" && $2 == 0 {print $1}' "$T/torture.txt" >"$T/passing"
		k=$(wc -l <"$T/failing")
		{
			awk -v k="$k" -v m="$TORTURE_VALGRIND" 'BEGIN { if (k > 0) for (i = 0; i < m; i++) { j = int(i * k / m) + 1; if (j != last) print j; last = j } }' |
				while read -r j; do sed -n "${j}p" "$T/failing"; done
			shuf -n 2 --random-source=<(yes) "$T/passing" 2>/dev/null
		} | sort -un >"$T/vgns"
		t0=$(now)
		vbad=0
		nv=0
		while read -r n; do
			nv=$((nv + 1))
			BW_FAILMALLOC_N=$n LD_PRELOAD=$SHIM timeout 120 $VG "$BIN" --no-seccomp -q -r "$PCAP" -c "$DEMO" --data-dir data -o jsonl:/dev/null \
				>/dev/null 2>"$T/vgt.err"
			rc=$?
			if [ "$rc" -gt 4 ] || grep -q '^==[0-9]*==' "$T/vgt.err"; then
				vbad=$((vbad + 1))
				echo "  n=$n rc=$rc: $(grep -m6 '^==' "$T/vgt.err" | tr '\n' ' ')"
			fi
		done <"$T/vgns"
		check "allocation failures under valgrind: $nv runs (n chosen across the failing ones and a few that recover), no leak and no memory error on the error paths, $(took "$t0") s" \
			"$([ "$vbad" = 0 ] && [ "$nv" -gt 0 ] && echo 1 || echo 0)"
	fi
	cp "$T/torture.txt" "$B/hardening-torture.txt" 2>/dev/null
fi

echo "hardening: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
