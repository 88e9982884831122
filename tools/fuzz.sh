#!/usr/bin/env bash
# fuzz.sh SECONDS FUZZER...: run each libFuzzer target for SECONDS on its seed
# corpus (tests/fuzz/corpus/NAME), then replay the seeds (and any kept crash
# inputs) through the sanitizer-built replay driver. Targets run side by side,
# one per CPU (FUZZ_JOBS to change), so each still gets its full time. New
# inputs go to a scratch corpus under build/, never into the repository.
set -u
cd "$(dirname "$0")/.."
secs=$1
shift
B=${B:-build}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
mkdir -p "$B/fuzz-work"

fuzz_one() {
	local f=$1 name short seeds work art log rc execs cov replay out
	name=$(basename "$f")
	short=${name#fuzz_}
	seeds=tests/fuzz/corpus/$short
	work=$B/fuzz-work/$short
	art=$B/fuzz-artifacts/$short/
	log=$B/fuzz-work/$short.log
	mkdir -p "$work" "$art" "$seeds"
	rc=0
	"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art" "$work" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	if [ "$rc" -ne 0 ]; then
		echo "FAIL $name: exit $rc after ${execs:-?} runs; artifacts in $art; log $log"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
	else
		echo "ok   $name: ${execs:-?} runs in ${secs}s, ${cov:-cov: ?}"
	fi
	replay=$B/fuzz-replay/$name
	if [ -x "$replay" ]; then
		if out=$("$replay" "$seeds" 2>&1); then
			echo "ok   $name corpus replay (gcc, ASan+UBSan): $(echo "$out" | tail -1)"
		else
			echo "FAIL $name corpus replay:"
			echo "$out" | tail -20
		fi
	fi
}

results=$B/fuzz-work/results.txt
: >"$results"
running=0
for f in "$@"; do
	fuzz_one "$f" >"$B/fuzz-work/$(basename "$f").out" 2>&1 &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for f in "$@"; do
	cat "$B/fuzz-work/$(basename "$f").out" >>"$results"
done
cat "$results"
pass=$(grep -c '^ok ' "$results")
fail=$(grep -c '^FAIL ' "$results")
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
