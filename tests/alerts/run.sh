#!/usr/bin/env bash
# tests/alerts/run.sh [BINDWATCH]: every alert type on generated captures.
#
# tools/pcapgen.py --alert-suite makes certificates with openssl now (fixed
# dates, fresh EC keys: a Let's Encrypt-named test CA the policies trust, a
# DigiCert-named one, one in no CAA table row, a private CA given in
# certificates.extra_ca_files, an unknown one, self-signed leaves) and writes
# one capture + policy per case, with the alerts each must raise and the
# near misses that must stay silent (expected.tsv). tests/alerts/check.py
# runs bindwatch on each case (one worker, then several: the alerts must not
# depend on the thread count), checks every field of every alert, the
# dedup/suppression counts and repeat-summary updates, alerts.ignore, no
# policy and a policy owning none of the names; then `make demo`'s alerts
# (pcaps/ with examples/demo-policy.yaml). Last line:
# "alerts: N passed, N failed". Exits 1 if anything failed, 2 on a setup error.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bw=${1:-${BINDWATCH:-$repo/build/bindwatch}}
[ -x "$bw" ] || { echo "alerts: bindwatch not found at $bw" >&2; echo "alerts: 0 passed, 1 failed"; exit 2; }
bw=$(cd "$(dirname "$bw")" && pwd)/$(basename "$bw")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bw-alerts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if ! python3 "$repo/tools/pcapgen.py" --alert-suite "$tmp/suite" >"$tmp/gen.log" 2>&1; then
	echo "alerts: could not build the alert cases (is openssl installed?): $(tail -c 400 "$tmp/gen.log")"
	echo "alerts: 0 passed, 1 failed"
	exit 2
fi
python3 "$here/check.py" --bindwatch "$bw" --dir "$tmp/suite" --demo
