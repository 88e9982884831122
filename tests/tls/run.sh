#!/usr/bin/env bash
# tests/tls/run.sh [BINDWATCH]: TLS checks on real bytes.
#
# 1. Certificate validation outcomes: tools/pcapgen.py --tls-validation-suite
#    runs tools/certgen.sh now (fixed dates, fresh keys) and wraps each
#    certificate set into one TLS 1.2 handshake (valid chain via the private
#    CA, expired, not yet valid, self-signed, wrong name, wildcard match and
#    too deep, IP SANs, unknown issuer, untrusted root in the chain, bad
#    signature, wrong chain order, long chain, pre-1970, RSA, empty and
#    non-DER certificates). bindwatch reads it with --ca-file for the private
#    CA and each bindwatch.tls.validation.status is compared with the truth:
#    "tls-validation: N passed, N failed".
# 2. No hidden state: two separate bindwatch runs over the same capture give
#    identical events apart from the stats event, for every capture in pcaps/
#    and every external capture with TLS or QUIC in it:
#    "tls-determinism: N passed, N failed".
# Exits 1 if anything failed, 2 on a usage or setup error.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bw=${1:-${BINDWATCH:-$repo/build/bindwatch}}
ext=${EXTERNAL:-$repo/../shared/pcaps/external}
[ -x "$bw" ] || { echo "tls: bindwatch not found at $bw" >&2; echo "tls-validation: 0 passed, 1 failed"; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bw-tls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rc=0

if python3 "$repo/tools/pcapgen.py" --tls-validation-suite "$tmp/v" >/dev/null; then
	"$bw" -q -r "$tmp/v/validation.pcap" --ca-file "$tmp/v/ca.pem" -o "jsonl:$tmp/v/events.jsonl" 2>"$tmp/v/stderr"
	st=$?
	if [ "$st" -ne 0 ]; then
		echo "tls: bindwatch --ca-file exited $st: $(tail -c 300 "$tmp/v/stderr")"
		rc=1
	fi
	python3 "$here/check.py" validation --truth "$tmp/v/validation.truth.tsv" --events "$tmp/v/events.jsonl" || rc=1
else
	echo "tls: could not build the validation capture (is openssl installed?)"
	echo "tls-validation: 0 passed, 1 failed"
	rc=1
fi

# Captures for the determinism check: all of pcaps/, and the external ones
# that the peers saw TLS, DTLS or QUIC in (EXPECTED.tsv rows of those kinds)
# or whose name says so.
list=$tmp/captures
find "$repo/pcaps" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort >"$list"
if [ -d "$ext" ]; then
	{
		[ -f "$ext/EXPECTED.tsv" ] && awk -F'\t' 'NR > 1 && $2 ~ /^(tls_|x509_|quic_)/ { print $1 }' "$ext/EXPECTED.tsv"
		for f in "$ext"/*; do
			case ${f##*/} in
			*.pcap | *.pcapng | *.cap) ;;
			*) continue ;;
			esac
			echo "${f##*/}" | grep -Ei '(tls|ssl|dtls|quic|https|starttls)'
		done
	} | sort -u | while read -r f; do [ -f "$ext/$f" ] && echo "$ext/$f"; done >>"$list"
fi
# shellcheck disable=SC2046 # one argument per line of the list, no spaces in these names
python3 "$here/check.py" determinism --bindwatch "$bw" $(cat "$list") || rc=1
exit $rc
