#!/usr/bin/env bash
# scripts/baresip-call.sh — one headless baresip call, recorded.
#
#   scripts/baresip-call.sh URI [SECONDS] [OUTDIR]
#   scripts/baresip-call.sh sip:hotline@127.0.0.1:5060 15 /tmp/hotline-call
#
# Calls URI with baresip (no sound card: audio comes from a WAV file, and
# what is heard is recorded rather than played), stays on the line SECONDS (default 15) after
# the call is answered, hangs up, and leaves in OUTDIR (default
# /tmp/hotline-call):
#   heard.wav    what the far end sent, decoded (8 kHz mono)
#   sent.wav     what baresip sent
#   events.log   baresip's call events (ctrl_tcp netstring JSON)
#   baresip.log  baresip's own output
# Exits 0 when the call was answered and heard.wav was written.
#
# baresip is driven through its ctrl_tcp module: dial, hangup and quit go
# over a TCP socket as netstring JSON, and the call events come back the
# same way. Configuration is made from test/baresip/config and accounts.
#
# Environment:
#   BARESIP_SOURCE     WAV file to send (default test/audio/caller-pcm.wav),
#                      padded with silence to outlast the call: baresip hangs
#                      up when its source file ends
#   BARESIP_BASE_PORT  first of ten local ports to use (SIP, its TLS twin,
#                      ctrl_tcp, RTP); default: a free block found with ss
set -euo pipefail
export LC_ALL=C # ${#msg} must count bytes for the netstrings

repo=$(cd "$(dirname "$0")/.." && pwd)
uri=${1:?usage: $0 URI [SECONDS] [OUTDIR]}
secs=${2:-15}
out=${3:-/tmp/hotline-call}
source_wav=${BARESIP_SOURCE:-$repo/test/audio/caller-pcm.wav}

for prog in baresip sox; do
	command -v "$prog" >/dev/null || { echo "baresip-call: $prog not found: run scripts/setup.sh" >&2; exit 1; }
done

work=$(mktemp -d /tmp/baresip-call.XXXXXX)
bs_pid=
cleanup() {
	{ exec 3>&-; } 2>/dev/null || true
	if [ -n "$bs_pid" ] && kill -0 "$bs_pid" 2>/dev/null; then kill "$bs_pid" 2>/dev/null || true; fi
	[ -n "${cat_pid:-}" ] && kill "$cat_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A block of ten local ports nobody listens on: SIP, SIP over TLS (baresip
# takes the next port up), ctrl_tcp, and RTP/RTCP pairs.
port_in_use() {
	command -v ss >/dev/null || return 1
	[ -n "$(ss -Hantu "( sport = :$1 )" 2>/dev/null)" ]
}
base=${BARESIP_BASE_PORT:-}
if [ -z "$base" ]; then
	for _ in $(seq 50); do
		base=$((41000 + RANDOM % 800 * 10))
		busy=0
		for p in $(seq "$base" $((base + 9))); do
			if port_in_use "$p"; then busy=1; break; fi
		done
		[ $busy -eq 0 ] && break
	done
fi
sip_port=$base
ctrl_port=$((base + 2))
rtp_ports="$((base + 4))-$((base + 9))"

# Stay on loopback when calling a local address; otherwise let baresip use
# the interface that routes to the far end.
host=$(sed -E 's#^sips?:([^@]*@)?\[?([^]:;>]*).*#\2#' <<<"$uri")
case "$host" in
127.* | localhost | ::1)
	sip_listen="127.0.0.1:$sip_port"
	net_if="net_interface		127.0.0.1"
	;;
*)
	sip_listen="0.0.0.0:$sip_port"
	net_if="# net_interface: the default route's interface"
	;;
esac

# The source, padded to outlast the call.
sox "$source_wav" -r 8000 -c 1 -b 16 -e signed-integer "$work/source.wav" pad 0 $((secs + 30))

mkdir -p "$work/rec" "$out"
rm -f "$out/heard.wav" "$out/sent.wav" "$out/events.log" "$out/baresip.log"
sed -e "s#@SIP_LISTEN@#$sip_listen#" \
	-e "s#@NET_INTERFACE@#$net_if#" \
	-e "s#@SOURCE@#$work/source.wav#" \
	-e "s#@RTP_PORTS@#$rtp_ports#" \
	-e "s#@CTRL_LISTEN@#127.0.0.1:$ctrl_port#" \
	-e "s#@REC_DIR@#$work/rec#" \
	"$repo/test/baresip/config" >"$work/config"
cp "$repo/test/baresip/accounts" "$work/accounts"

baresip -f "$work" >"$out/baresip.log" 2>&1 </dev/null &
bs_pid=$!

# Connect to ctrl_tcp once baresip listens.
connected=0
for _ in $(seq 100); do
	if { exec 3<>"/dev/tcp/127.0.0.1/$ctrl_port"; } 2>/dev/null; then connected=1; break; fi
	kill -0 "$bs_pid" 2>/dev/null || break
	sleep 0.1
done
if [ $connected -eq 0 ]; then
	echo "baresip-call: baresip did not start (see $out/baresip.log)" >&2
	exit 1
fi
: >"$out/events.log"
cat <&3 >>"$out/events.log" &
cat_pid=$!

send() { # send COMMAND [PARAMS]: one netstring JSON command
	local msg="{\"command\":\"$1\",\"params\":\"${2:-}\",\"token\":\"$1\"}"
	printf '%d:%s,' "${#msg}" "$msg" >&3
}
event() { grep -qE "\"type\":\"($1)\"" "$out/events.log"; } # event TYPE[|TYPE...]
# wait_event TYPE[|TYPE...] SECONDS: 0 once the event was seen, 1 on timeout.
wait_event() {
	local deadline=$((${EPOCHREALTIME/./} + $2 * 1000000))
	while ((${EPOCHREALTIME/./} < deadline)); do
		event "$1" && return 0
		sleep 0.1
	done
	return 1
}

echo "baresip-call: calling $uri"
send dial "$uri"
if ! wait_event 'CALL_ESTABLISHED|CALL_CLOSED' 15 || ! event CALL_ESTABLISHED; then
	echo "baresip-call: call not answered (see $out/events.log and $out/baresip.log)" >&2
	send quit || true
	exit 1
fi
echo "baresip-call: answered, staying on the line ${secs}s"
if wait_event CALL_CLOSED "$secs"; then
	echo "baresip-call: the far end hung up"
else
	send hangup
	wait_event CALL_CLOSED 5 || echo "baresip-call: no CALL_CLOSED after hangup" >&2
	echo "baresip-call: hung up"
fi
send quit || true
for _ in $(seq 50); do
	kill -0 "$bs_pid" 2>/dev/null || break
	sleep 0.1
done
wait "$bs_pid" 2>/dev/null || true
bs_pid=

dec=$(ls "$work"/rec/dump-*-dec.wav 2>/dev/null | head -1 || true)
enc=$(ls "$work"/rec/dump-*-enc.wav 2>/dev/null | head -1 || true)
if [ -z "$dec" ]; then
	echo "baresip-call: baresip recorded nothing (see $out/baresip.log)" >&2
	exit 1
fi
mv "$dec" "$out/heard.wav"
[ -n "$enc" ] && mv "$enc" "$out/sent.wav"
echo "baresip-call: what the far end sent is in $out/heard.wav"
