#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/syslog/run.sh BINDWATCH: syslog sinks against a real rsyslog.
#
# Starts its own rsyslogd (own config, own random free ports on 127.0.0.1, own
# work directory and pid file in a temp dir; no imuxsock, so /dev/log and the
# system's rsyslog are never touched) with UDP, TCP and TLS (gtls driver)
# inputs storing %rawmsg%, runs bindwatch over captures with a known set of
# events, and checks with check.py that every event arrived once, intact and
# parseable (CEF and LEEF parsed back field by field). Then: the collector
# stopped mid-run and started again (everything arrives, in order, duplicates
# only from the resend window), bindwatch restarted while its spool holds
# events, TLS refusing a wrong CA and a wrong name, a unix socket sink
# (python receiver on our own socket path) and names holding | = \ ] " NUL,
# newlines and invalid UTF-8 in every format.
#
# Events: alerts from the bundled example policy when bindwatch has policies
# (`--help` lists -c/--policy), else DNS and TLS events of public captures.
# Last line: "syslog: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
BW=${1:-build/bindwatch}
case $BW in /*) ;; *) BW=$PWD/$BW ;; esac
CHECK="python3 $PWD/tests/syslog/check.py"
EXT=../shared/pcaps/external
PASS=0 FAIL=0 SKIP=0
ok() { PASS=$((PASS + 1)); echo "ok      $1"; }
bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL    $1"
	if [ -n "${2:-}" ]; then sed 's/^/        /' "$2" 2>/dev/null | tail -20; fi
}
skip() { SKIP=$((SKIP + 1)); echo "skip    $1: $2"; }
NTESTS=12
finish() { echo "syslog: $PASS passed, $FAIL failed, $SKIP skipped"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ ! -x "$BW" ]; then
	echo "bindwatch binary $BW not found"
	FAIL=1
	finish
fi
RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null || true)
if [ -z "$RSYSLOGD" ]; then
	echo "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls): skipping the syslog integration tests"
	SKIP=$NTESTS
	finish
fi
GTLS=$(ls /usr/lib/*/rsyslog/lmnsd_gtls.so /usr/lib/rsyslog/lmnsd_gtls.so 2>/dev/null | head -1)

D=$(mktemp -d /tmp/bw-syslog-XXXXXX)
RSPID=""
URXPID=""
stop_rsyslog() {
	if [ -n "$RSPID" ] && kill -0 "$RSPID" 2>/dev/null; then
		kill "$RSPID"
		for _ in $(seq 100); do kill -0 "$RSPID" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$RSPID" 2>/dev/null || true
	fi
	RSPID=""
}
cleanup() {
	stop_rsyslog
	[ -n "$URXPID" ] && kill "$URXPID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- ports: a random high base with base..base+3 free (tcp and udp) ----
port_free() {
	python3 - "$1" <<'EOF'
import socket, sys
p = int(sys.argv[1])
for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, t)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
}
P=""
for _ in $(seq 50); do
	b=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
	if port_free $b && port_free $((b + 1)) && port_free $((b + 2)) && port_free $((b + 3)); then P=$b; break; fi
done
if [ -z "$P" ]; then
	echo "no free port range found"
	FAIL=1
	finish
fi
PU=$P PT=$((P + 1)) PS=$((P + 2)) PX=$((P + 3))

# ---- PKI (openssl 3) ----
K=$D/pki
mkdir -p "$K"
(
	cd "$K" || exit 1
	for ca in ca wrongca; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bindwatch test $ca" -keyout $ca.key -out $ca.crt \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
	done
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt
	openssl req -newkey rsa:2048 -nodes -subj "/CN=bindwatch client" -keyout client.key -out client.csr
	printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
	openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.crt
) >"$D/pki.log" 2>&1 || { bad "test PKI" "$D/pki.log"; finish; }

# ---- rsyslog ----
RCVBUF=""
[ "$(id -u)" -eq 0 ] && RCVBUF=' rcvbufSize="16m"' # pitfall 17: loopback UDP bursts need a big buffer
mkdir -p "$D/work"
{
	cat <<EOF
global(workDirectory="$D/work" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="udp") { action(type="omfile" file="$D/udp.log" template="raw") }
ruleset(name="tcp") { action(type="omfile" file="$D/tcp.log" template="raw") }
ruleset(name="tls") { action(type="omfile" file="$D/tls.log" template="raw") }
input(type="imudp" address="127.0.0.1" port="$PU" ruleset="udp"$RCVBUF)
input(type="imtcp" address="127.0.0.1" port="$PT" ruleset="tcp")
EOF
	# pitfall 16: the ossl driver loses bursts; gtls does not
	[ -n "$GTLS" ] && cat <<EOF
input(type="imtcp" address="127.0.0.1" port="$PS" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="$K/ca.crt" streamDriver.CertFile="$K/server.crt" streamDriver.KeyFile="$K/server.key")
EOF
} >"$D/rsyslog.conf"
start_rsyslog() {
	"$RSYSLOGD" -n -f "$D/rsyslog.conf" -i "$D/rsyslogd.pid" >>"$D/rsyslogd.out" 2>&1 &
	RSPID=$!
	for _ in $(seq 100); do
		if ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PT " && { [ -z "$GTLS" ] || ss -ltn | grep -q "127.0.0.1:$PS "; }; then
			return 0
		fi
		kill -0 "$RSPID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
if ! "$RSYSLOGD" -N1 -f "$D/rsyslog.conf" >"$D/rsyslog-check.out" 2>&1; then
	bad "rsyslog config" "$D/rsyslog-check.out"
	SKIP=$((NTESTS - 1))
	finish
fi
if ! start_rsyslog; then
	bad "rsyslog start" "$D/rsyslogd.out"
	SKIP=$((NTESTS - 1))
	finish
fi

# rsyslog keeps its files open, so they only grow: a test marks where a log
# ends, then takes what came after the mark once it has the expected count.
mark() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
wait_new() { # log mark count seconds out
	local i
	for i in $(seq $(($4 * 10))); do
		if [ $(($(mark "$1") - $2)) -ge "$3" ]; then
			sleep 0.3 # and nothing more (a duplicate would show)
			tail -n +$(($2 + 1)) "$1" >"$5"
			return 0
		fi
		sleep 0.1
	done
	tail -n +$(($2 + 1)) "$1" >"$5" 2>/dev/null
	return 1
}

# ---- what to send ----
HOST=bw-test.example
if "$BW" --help 2>&1 | grep -qE -- '(^| )(-c|--policy)[ ,=]' && [ -f examples/policy.yaml ]; then
	MODE=alerts
	EVENTS=alerts
	POLICY=(-c examples/policy.yaml)
	CAPS=()
	for f in pcaps/*.pcap "$EXT"/*.pcap; do
		n=$("$BW" -q "${POLICY[@]}" -r "$f" -o jsonl:- 2>/dev/null | grep -c '"bindwatch.alert"')
		[ "${n:-0}" -gt 0 ] && CAPS+=(-r "$f")
		[ ${#CAPS[@]} -ge 8 ] && break
	done
	if [ ${#CAPS[@]} -eq 0 ]; then
		echo "note: policies exist but no capture gave an alert with examples/policy.yaml: using DNS and TLS events"
		MODE=events
	fi
fi
if [ "${MODE:-events}" = events ]; then
	MODE=events
	EVENTS=dns,tls
	POLICY=()
	CAPS=(-r "$EXT/dnscap-dns.pcap" -r "$EXT/arkime-tls12.pcap" -r "$EXT/arkime-dns-v6.pcap")
fi
echo "# rsyslog $("$RSYSLOGD" -v | head -1 | awk '{print $2}') on 127.0.0.1 ports $PU-$PX; events: $EVENTS"
BWRUN=("$BW" -q "${POLICY[@]}" --no-progress)

# one bindwatch run: a JSON-lines reference plus one syslog sink
run_bw() { # name spec [captures...]
	local name=$1 spec=$2
	shift 2
	timeout -k 5 120 "${BWRUN[@]}" "$@" -o "jsonl:$D/$name.ref" -o "$spec" >"$D/$name.out" 2>&1
}
expect_n() { $CHECK count --ref "$D/$1.ref" --events "$EVENTS" 2>/dev/null || echo 999999; }

# ---- 1. UDP, JSON payload ----
m=$(mark "$D/udp.log")
if run_bw udp "syslog+udp://127.0.0.1:$PU?format=json&max_size=16K&events=$EVENTS&hostname=$HOST&spool=$D/sp-udp" "${CAPS[@]}" &&
	wait_new "$D/udp.log" "$m" "$(expect_n udp)" 10 "$D/udp.got" &&
	$CHECK verify --ref "$D/udp.ref" --log "$D/udp.got" --format json --events "$EVENTS" --hostname $HOST >"$D/udp.chk" 2>&1; then
	ok "udp json: $(tail -1 "$D/udp.chk")"
else
	cat "$D/udp.out" >>"$D/udp.chk" 2>/dev/null
	bad "udp json" "$D/udp.chk"
fi

# ---- 2. UDP, RFC 3164 + CEF ----
m=$(mark "$D/udp.log")
if run_bw udp3164 "syslog+udp://127.0.0.1:$PU?format=cef&max_size=16K&syslog=3164&facility=local4&events=$EVENTS&hostname=$HOST&spool=$D/sp-udp" "${CAPS[@]}" &&
	wait_new "$D/udp.log" "$m" "$(expect_n udp3164)" 10 "$D/udp3164.got" &&
	$CHECK verify --ref "$D/udp3164.ref" --log "$D/udp3164.got" --format cef --layout 3164 --facility 20 --events "$EVENTS" --hostname $HOST >"$D/udp3164.chk" 2>&1; then
	ok "udp rfc3164 cef: $(tail -1 "$D/udp3164.chk")"
else
	cat "$D/udp3164.out" >>"$D/udp3164.chk" 2>/dev/null
	bad "udp rfc3164 cef" "$D/udp3164.chk"
fi

# ---- 3. TCP, octet counting, CEF ----
m=$(mark "$D/tcp.log")
if run_bw tcpcef "syslog+tcp://127.0.0.1:$PT?format=cef&framing=octet-counting&events=$EVENTS&hostname=$HOST&spool=$D/sp-tcp" "${CAPS[@]}" &&
	wait_new "$D/tcp.log" "$m" "$(expect_n tcpcef)" 10 "$D/tcpcef.got" &&
	$CHECK verify --ref "$D/tcpcef.ref" --log "$D/tcpcef.got" --format cef --events "$EVENTS" --hostname $HOST >"$D/tcpcef.chk" 2>&1; then
	ok "tcp octet-counting cef: $(tail -1 "$D/tcpcef.chk")"
else
	cat "$D/tcpcef.out" >>"$D/tcpcef.chk" 2>/dev/null
	bad "tcp octet-counting cef" "$D/tcpcef.chk"
fi

# ---- 4. TCP, newline framing, LEEF ----
m=$(mark "$D/tcp.log")
if run_bw tcpleef "syslog+tcp://127.0.0.1:$PT?format=leef&framing=newline&events=$EVENTS&hostname=$HOST&spool=$D/sp-tcp" "${CAPS[@]}" &&
	wait_new "$D/tcp.log" "$m" "$(expect_n tcpleef)" 10 "$D/tcpleef.got" &&
	$CHECK verify --ref "$D/tcpleef.ref" --log "$D/tcpleef.got" --format leef --events "$EVENTS" --hostname $HOST >"$D/tcpleef.chk" 2>&1; then
	ok "tcp newline leef: $(tail -1 "$D/tcpleef.chk")"
else
	cat "$D/tcpleef.out" >>"$D/tcpleef.chk" 2>/dev/null
	bad "tcp newline leef" "$D/tcpleef.chk"
fi

# ---- 5..7. TLS ----
TLSQ="format=json&events=$EVENTS&hostname=$HOST&ca=$K/ca.crt&cert=$K/client.crt&key=$K/client.key"
if [ -z "$GTLS" ]; then
	skip "tls json" "rsyslog-gnutls (lmnsd_gtls.so) is not installed"
	skip "tls wrong ca / wrong name" "rsyslog-gnutls is not installed"
	skip "tls spool replay" "rsyslog-gnutls is not installed"
else
	m=$(mark "$D/tls.log")
	if run_bw tls "syslog+tls://localhost:$PS?$TLSQ&spool=$D/sp-tls" "${CAPS[@]}" &&
		wait_new "$D/tls.log" "$m" "$(expect_n tls)" 10 "$D/tls.got" &&
		$CHECK verify --ref "$D/tls.ref" --log "$D/tls.got" --format json --events "$EVENTS" --hostname $HOST >"$D/tls.chk" 2>&1; then
		ok "tls json (verified server, client certificate): $(tail -1 "$D/tls.chk")"
	else
		cat "$D/tls.out" >>"$D/tls.chk" 2>/dev/null
		bad "tls json" "$D/tls.chk"
	fi
	# a server the CA did not sign, and a name the certificate does not carry: nothing is sent
	m=$(mark "$D/tls.log")
	run_bw tlsbadca "syslog+tls://localhost:$PS?format=json&events=$EVENTS&ca=$K/wrongca.crt&spool=$D/sp-tls2&drain=1" "${CAPS[@]}"
	run_bw tlsbadname "syslog+tls://127.0.0.1:$PS?format=json&events=$EVENTS&ca=$K/ca.crt&servername=evil.example&spool=$D/sp-tls3&drain=1" "${CAPS[@]}"
	sleep 0.5
	if [ "$(mark "$D/tls.log")" -eq "$m" ] && grep -q "certificate verify failed" "$D/tlsbadca.out" &&
		grep -q "certificate verify failed" "$D/tlsbadname.out"; then
		ok "tls refuses a wrong CA and a wrong name"
	else
		cat "$D/tlsbadca.out" "$D/tlsbadname.out" >"$D/tlsbad.chk"
		bad "tls refuses a wrong CA and a wrong name" "$D/tlsbad.chk"
	fi
	# the refused run's spool is replayed by the next run once the CA is right, before its own events
	m=$(mark "$D/tls.log")
	if run_bw tlsreplay "syslog+tls://localhost:$PS?$TLSQ&spool=$D/sp-tls2" -r "$EXT/dnscap-dns.pcap" &&
		cat "$D/tlsbadca.ref" "$D/tlsreplay.ref" >"$D/tlsreplay.both" &&
		wait_new "$D/tls.log" "$m" "$($CHECK count --ref "$D/tlsreplay.both" --events "$EVENTS")" 10 "$D/tlsreplay.got" &&
		$CHECK verify --ref "$D/tlsreplay.both" --log "$D/tlsreplay.got" --format json --events "$EVENTS" >"$D/tlsreplay.chk" 2>&1; then
		ok "tls spool from a refused run replayed first: $(tail -1 "$D/tlsreplay.chk")"
	else
		cat "$D/tlsreplay.out" >>"$D/tlsreplay.chk" 2>/dev/null
		bad "tls spool replay" "$D/tlsreplay.chk"
	fi
fi

# ---- 8. collector stopped mid-run, started again ----
m=$(mark "$D/tcp.log")
rm -f "$D/go1" "$D/go2" "$D/fifo"
mkfifo "$D/fifo"
# the capture with the most packets, so the outage falls between events; with
# alerts, TLS and DNS events too, so events flow while the alerts are spread out
MIDCAP=${CAPS[1]} best=0
for ((i = 1; i < ${#CAPS[@]}; i += 2)); do
	n=$(tcpdump -r "${CAPS[$i]}" 2>/dev/null | wc -l)
	[ "$n" -gt "$best" ] && MIDCAP=${CAPS[$i]} && best=$n
done
MIDEV=$EVENTS
[ "$MODE" = alerts ] && MIDEV=alerts,tls,dns
timeout -k 5 60 $CHECK feed "$MIDCAP" "$D/fifo" "$D/go1" "$D/go2" &
FEEDPID=$!
ONE=()
"$BW" --help | grep -q -- --workers && ONE=(--workers 1) # events as packets arrive, not per batch
timeout -k 5 120 "${BWRUN[@]}" "${ONE[@]}" --reader libpcap -r "$D/fifo" -o "jsonl:$D/mid.ref" \
	-o "syslog+tcp://127.0.0.1:$PT?format=cef&events=$MIDEV&spool=$D/sp-mid&backoff_max=0.5&drain=15" >"$D/mid.out" 2>&1 &
BWPID=$!
n1=0
for _ in $(seq 100); do # the first third delivered
	n1=$(($(mark "$D/tcp.log") - m))
	[ "$n1" -ge 1 ] && break
	sleep 0.1
done
sleep 0.3
n1=$(($(mark "$D/tcp.log") - m))
stop_rsyslog
touch "$D/go1" # the second third is read while the collector is down
sleep 1.5
start_rsyslog || true
touch "$D/go2"
wait "$FEEDPID"
wait "$BWPID"
BWRC=$?
if [ "$BWRC" -eq 0 ] && wait_new "$D/tcp.log" "$m" "$($CHECK count --ref "$D/mid.ref" --events "$MIDEV")" 15 "$D/mid.got" &&
	$CHECK verify --ref "$D/mid.ref" --log "$D/mid.got" --format cef --events "$MIDEV" --dups "$n1" >"$D/mid.chk" 2>&1 &&
	[ "$n1" -gt 0 ] && grep -q "connection lost\|unreachable" "$D/mid.out"; then
	ok "collector stopped mid-run (after $n1 messages of $(basename "$MIDCAP"), events $MIDEV) and restarted: $(tail -1 "$D/mid.chk")"
else
	{ echo "bindwatch exit $BWRC, $n1 messages before the stop"; cat "$D/mid.out"; } >>"$D/mid.chk"
	bad "collector stopped mid-run" "$D/mid.chk"
fi

# ---- 9. bindwatch restarted while its spool holds events ----
stop_rsyslog
m=$(mark "$D/tcp.log")
run_bw rs1 "syslog+tcp://127.0.0.1:$PT?format=json&events=$EVENTS&spool=$D/sp-restart&drain=1" "${CAPS[@]:0:2}"
left=$(cat "$D"/sp-restart/*.seg 2>/dev/null | wc -c) # bytes the first run left in its spool
start_rsyslog || true
run_bw rs2 "syslog+tcp://127.0.0.1:$PT?format=json&events=$EVENTS&spool=$D/sp-restart" "${CAPS[@]}"
cat "$D/rs1.ref" "$D/rs2.ref" >"$D/rs.both"
if [ "${left:-0}" -gt 100 ] && wait_new "$D/tcp.log" "$m" "$($CHECK count --ref "$D/rs.both" --events "$EVENTS")" 15 "$D/rs.got" &&
	$CHECK verify --ref "$D/rs.both" --log "$D/rs.got" --format json --events "$EVENTS" >"$D/rs.chk" 2>&1; then
	ok "restart with $left bytes in the spool: delivered first by the next run, in order: $(tail -1 "$D/rs.chk")"
else
	cat "$D/rs1.out" "$D/rs2.out" >>"$D/rs.chk"
	bad "restart with a full spool" "$D/rs.chk"
fi

# ---- 10. unix datagram socket (our own receiver, never /dev/log) ----
rm -f "$D/unix.log"
$CHECK unix-rx "$D/log.sock" "$D/unix.log" &
URXPID=$!
for _ in $(seq 50); do [ -S "$D/log.sock" ] && break; sleep 0.1; done
if run_bw unix "syslog+unix://$D/log.sock?format=leef&events=$EVENTS&hostname=$HOST&spool=$D/sp-unix" "${CAPS[@]}" &&
	wait_new "$D/unix.log" 0 "$(expect_n unix)" 10 "$D/unix.got" &&
	$CHECK verify --ref "$D/unix.ref" --log "$D/unix.got" --format leef --events "$EVENTS" --hostname $HOST >"$D/unix.chk" 2>&1; then
	ok "unix datagram leef: $(tail -1 "$D/unix.chk")"
else
	cat "$D/unix.out" >>"$D/unix.chk" 2>/dev/null
	bad "unix datagram leef" "$D/unix.chk"
fi
touch "$D/unix.log.stop"
wait "$URXPID" 2>/dev/null
URXPID=""

# ---- 11..12. hostile names in every format ----
$CHECK hostile-pcap "$D/hostile.pcap"
hostile_ok=1
: >"$D/hostile.chk"
for fmt in json cef leef; do
	m=$(mark "$D/tcp.log")
	BWRUN_SAVE=("${BWRUN[@]}")
	BWRUN=("$BW" -q --no-progress) # DNS events: no policy needed
	run_bw "h$fmt" "syslog+tcp://127.0.0.1:$PT?format=$fmt&events=dns&spool=$D/sp-h$fmt" -r "$D/hostile.pcap"
	BWRUN=("${BWRUN_SAVE[@]}")
	n=$($CHECK count --ref "$D/h$fmt.ref" --events dns 2>/dev/null || echo 0)
	if [ "$n" -lt 20 ] || ! wait_new "$D/tcp.log" "$m" "$n" 10 "$D/h$fmt.got" ||
		! $CHECK verify --ref "$D/h$fmt.ref" --log "$D/h$fmt.got" --format $fmt --events dns >>"$D/hostile.chk" 2>&1; then
		echo "format $fmt: $n events" >>"$D/hostile.chk"
		hostile_ok=0
	fi
done
if [ $hostile_ok -eq 1 ]; then
	ok "hostile DNS names (| = \\ ] \" NUL LF CR TAB, bad UTF-8) in json, cef, leef: each message parses back to its event"
else
	bad "hostile DNS names" "$D/hostile.chk"
fi
# over UDP too, where messages are also cut to the datagram limit
m=$(mark "$D/udp.log")
BWRUN_SAVE=("${BWRUN[@]}")
BWRUN=("$BW" -q --no-progress)
run_bw hudp "syslog+udp://127.0.0.1:$PU?format=cef&events=dns&spool=$D/sp-hudp" -r "$D/hostile.pcap"
BWRUN=("${BWRUN_SAVE[@]}")
if wait_new "$D/udp.log" "$m" "$($CHECK count --ref "$D/hudp.ref" --events dns)" 10 "$D/hudp.got" &&
	$CHECK verify --ref "$D/hudp.ref" --log "$D/hudp.got" --format cef --events dns >"$D/hudp.chk" 2>&1; then
	ok "hostile DNS names over udp cef: $(tail -1 "$D/hudp.chk")"
else
	cat "$D/hudp.out" >>"$D/hudp.chk" 2>/dev/null
	bad "hostile DNS names over udp" "$D/hudp.chk"
fi

stop_rsyslog
finish
