#!/usr/bin/env bash
# run-tests.sh: runs bindwatch's test suites and prints one summary.
#   tools/run-tests.sh unit BIN...        cmocka binaries
#   tools/run-tests.sh sanitizer BIN...   the same built with ASan + UBSan
#   tools/run-tests.sh all                every suite (what `make test` runs)
# Every suite adds to the totals; the last line is "tests: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."

B=${B:-build}
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
LOGDIR=$B/test-logs
mkdir -p "$LOGDIR"

note_fail() { FAILED=$((FAILED + $1)); FAILURES+=("$2"); }

# Run one cmocka binary; count its cases from cmocka's own summary lines.
run_cmocka() {
	local bin=$1 label=$2 log
	log=$LOGDIR/$(echo "$label-$(basename "$bin")" | tr '/' '_').log
	local rc=0
	if [ -n "${SAN:-}" ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			timeout 600 "$bin" >"$log" 2>&1 || rc=$?
	else
		timeout 600 "$bin" >"$log" 2>&1 || rc=$?
	fi
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or sanitizer report before cmocka's summary
	fi
	PASSED=$((PASSED + p))
	if [ "$f" -gt 0 ]; then
		note_fail "$f" "$label $(basename "$bin") (log: $log)"
		tail -40 "$log"
	fi
	# cmocka's own closing lines, so each module's count is visible.
	printf '%-10s %-28s ' "$label" "$(basename "$bin")"
	grep -E '^\[  (PASSED|FAILED)  \]' "$log" | tr '\n' ' '
	[ "$rc" -ne 0 ] && [ "$f" -gt 0 ] && ! grep -q '^\[  FAILED  \]' "$log" && printf '(exit %s)' "$rc"
	echo
}

# The test executables in a build folder (not their .o and .d files).
binaries() { find "$1" -maxdepth 1 -type f -name 'test_*' -perm -u+x 2>/dev/null | sort; }

suite_unit() {
	echo "== unit tests (cmocka)"
	for b in "$@"; do run_cmocka "$b" unit; done
}

suite_san() {
	echo "== unit tests under ASan + UBSan"
	for b in "$@"; do SAN=1 run_cmocka "$b" sanitizer; done
}

# A script that ends with "NAME: N passed, N failed" adds its counts.
run_counted() {
	local label=$1
	shift
	local log=$LOGDIR/$label.log rc=0
	"$@" >"$log" 2>&1 || rc=$?
	local line p f
	line=$(grep -E '^[a-z0-9_ -]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	p=${p:-0}
	f=${f:-0}
	s=${s:-0}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	PASSED=$((PASSED + p))
	SKIPPED=$((SKIPPED + s))
	grep -vE '^[a-z0-9_ -]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -${TAIL:-15}
	echo "$line"
	[ "$f" -gt 0 ] && note_fail "$f" "$label (log: $log)"
}

suite_golden() {
	echo "== golden tests on pcaps/"
	TAIL=25 run_counted golden python3 tests/golden/check.py --bindwatch "$B/bindwatch"
}

suite_tls() {
	echo "== TLS: certificate validation outcomes on generated captures, and determinism"
	TAIL=25 run_counted tls bash tests/tls/run.sh "$B/bindwatch"
}

suite_alerts() {
	echo "== alerts: each alert type and its near miss on generated captures, dedup, ignore rules"
	TAIL=30 run_counted alerts bash tests/alerts/run.sh "$B/bindwatch"
}

suite_syslog() {
	echo "== syslog sinks against a real rsyslog (UDP, TCP, TLS, unix; CEF, LEEF, JSON; outages)"
	TAIL=20 run_counted syslog bash tests/syslog/run.sh "$B/bindwatch"
}

suite_live() {
	echo "== live capture in network namespaces (AF_PACKET + eBPF, AF_XDP, libpcap; bypass, fanout)"
	TAIL=25 run_counted live bash tests/live/run.sh "$B/bindwatch"
}

suite_conformance() {
	echo "== conformance against Zeek/Suricata/Arkime/nDPI/dnscap answers"
	TAIL=25 run_counted conformance python3 tests/conformance/run.py --bindwatch "$B/bindwatch" \
		--ldns-diff "$B/tests/dns_ldns_diff"
}

suite_cli() {
	echo "== command-line and bad-input tests"
	TAIL=25 run_counted cli bash tests/cli/run.sh "$B/bindwatch"
}

suite_tools() {
	echo "== test tools: pcap generator and conformance matcher self-tests, bundled captures up to date"
	run_counted pcapgen-selftest python3 tools/pcapgen.py --selftest
	run_counted pcapgen-check python3 tools/pcapgen.py --out pcaps --golden tests/golden --all --check
	run_counted conformance-selftest python3 tests/conformance/run.py --selftest
}

suite_fuzz() {
	echo "== fuzz smoke (${FUZZ_SMOKE_SECONDS:-30} s per target) and corpus replay"
	TAIL=40 run_counted fuzz tools/fuzz.sh "${FUZZ_SMOKE_SECONDS:-30}" $(find "$B"/fuzz -maxdepth 1 -type f -name "fuzz_*" -perm -u+x 2>/dev/null | sort)
}

case "${1:-all}" in
unit) shift; suite_unit "$@" ;;
sanitizer) shift; suite_san "$@" ;;
all)
	suite_unit $(binaries "$B"/tests)
	suite_san $(binaries "$B"/san/tests)
	suite_tools
	[ -f tests/cli/run.sh ] && suite_cli
	[ -f tests/golden/check.py ] && suite_golden
	[ -f tests/tls/run.sh ] && suite_tls
	[ -f tests/alerts/run.sh ] && suite_alerts
	[ -f tests/syslog/run.sh ] && suite_syslog
	[ -f tests/live/run.sh ] && suite_live
	[ -f tests/conformance/run.py ] && suite_conformance
	suite_fuzz
	;;
*) echo "usage: $0 unit|sanitizer|all [BIN...]" >&2; exit 2 ;;
esac

echo
if [ "${#FAILURES[@]}" -gt 0 ]; then
	echo "failures:"
	for f in "${FAILURES[@]}"; do echo "  $f"; done
fi
echo "tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
