#!/usr/bin/env bash
# tests/malformed/run.sh BUILD_DIR: the hostile captures of this folder (and
# the truncated-at-every-boundary family, made at test time) through
# BUILD_DIR/san/bindwatch (ASan + UBSan, leaks checked), both readers; then
# tools/malformed-gen.py --check (the committed files are what the tool
# makes). See README.md here. Last line: "malformed: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
BW=$B/san/bindwatch
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
skip=0

if [ ! -x "$BW" ]; then
	echo "FAIL $BW is not built (make all builds it)"
	echo "malformed: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
BW=$(realpath "$BW")

if python3 tools/malformed-gen.py --check >"$T/gen.log" 2>&1; then
	echo "ok   malformed-gen.py --check: the committed files are the tool's output"
	pass=$((pass + 1))
else
	echo "FAIL malformed-gen.py --check:"
	sed 's/^/     /' "$T/gen.log"
	fail=$((fail + 1))
fi

if ! python3 tools/malformed-gen.py --truncations "$T/trunc" >/dev/null; then
	echo "FAIL malformed-gen.py --truncations"
	echo "malformed: $pass passed, $((fail + 1)) failed, $skip skipped"
	exit 1
fi

python3 tests/malformed/check.py "$BW" tests/malformed "$T/trunc" >"$T/check.log" 2>&1
grep -v '^PASS ' "$T/check.log"
p=$(sed -n 's/^PASS \([0-9]*\) FAIL \([0-9]*\)$/\1/p' "$T/check.log")
f=$(sed -n 's/^PASS \([0-9]*\) FAIL \([0-9]*\)$/\2/p' "$T/check.log")
if [ -z "$p" ]; then
	echo "FAIL check.py did not finish"
	p=0
	f=1
fi
pass=$((pass + p))
fail=$((fail + f))
echo "malformed: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
