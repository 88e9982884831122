#!/bin/sh
# Install the Debian packages bindwatch needs to build, test and run.
# Called by the Makefile when a dependency is missing, and by .ci/run.
# Usage: tools/install-deps.sh [--check]   (--check: exit 1 if anything is missing, install nothing)
set -eu

PKGS="make gcc clang llvm libclang-rt-14-dev pkg-config python3 ca-certificates openssl
libpcap-dev libbpf-dev bpftool libxdp-dev libssl-dev libjemalloc-dev liburcu-dev libyaml-dev
libldns-dev ldnsutils libcmocka-dev libseccomp-dev valgrind
tshark tcpdump tcpreplay rsyslog rsyslog-gnutls iproute2 ethtool"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	echo "missing packages:$missing" >&2
	exit 1
fi

echo "bindwatch: installing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "bindwatch: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends $missing
fi
