#!/usr/bin/env bash
# bench/load.sh — load run: N concurrent calls from SIPp, G.711 RTP both ways.
#
#   bench/load.sh [CALLS] [SECONDS]        (make load CALLS=200)
#
# Starts bin/hotline on 127.0.0.1 (calls not recorded; the menu waits for a
# key longer than the call lasts, so no call ends early), places CALLS calls
# (default 50) at up to 100 new calls a second with test/sipp/uac_load.xml,
# each streaming μ-law to Hotline for SECONDS (default 60) before its BYE,
# while Hotline sends its greeting, menu and then silence, 50 packets a
# second. Then it reports, for Hotline alone:
#   - CPU seconds per call-minute (utime+stime from /proc/<pid>/stat over the
#     run, divided by the call-minutes Hotline logged),
#   - peak RSS (VmHWM from /proc/<pid>/status),
#   - the share of outgoing RTP frames sent more than 5 ms after their slot,
#     and of slots skipped after a stall, from Hotline's own clock counters
#     (frames, late_frames and skipped_frames in each "call ended" log line).
# SIPp runs on the same machine and its CPU is shown too: on a small machine
# the two compete for the cores.
#
# Environment: SIP_PORT (default 35060), SIPP_PORT (35070), SIPP_MEDIA_PORT
# (50000), RTP_PORT_MIN/RTP_PORT_MAX for Hotline (40000/49998), HOTLINE_BIN
# to load another build (default bin/hotline, built if missing), KEEP=1 to
# keep the work folder (logs, config) when the run succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."

calls=${1:-50}
secs=${2:-60}
sip_port=${SIP_PORT:-35060}
sipp_port=${SIPP_PORT:-35070}
sipp_media=${SIPP_MEDIA_PORT:-50000}
rtp_min=${RTP_PORT_MIN:-40000}
rtp_max=${RTP_PORT_MAX:-49998}

for prog in sipp awk; do
	command -v "$prog" >/dev/null || { echo "load: $prog not found: run scripts/setup.sh" >&2; exit 1; }
done
if [ $(((rtp_max - rtp_min) / 2)) -lt "$calls" ]; then
	echo "load: RTP port range $rtp_min-$rtp_max is too small for $calls calls" >&2
	exit 1
fi

# Two UDP sockets a call in Hotline, and SIPp's own: well past the usual
# 1024 descriptors at a few hundred calls.
want_fds=$((calls * 4 + 1024))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
	echo "load: open-file limit $(ulimit -n) is below the $want_fds this run needs (raise the hard limit)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/hotline-load.XXXXXX)
hl_pid=
sipp_pid=
cleanup() {
	[ -n "$sipp_pid" ] && kill "$sipp_pid" 2>/dev/null || true
	[ -n "$hl_pid" ] && kill "$hl_pid" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT

hotline=${HOTLINE_BIN:-bin/hotline}
[ -n "${HOTLINE_BIN:-}" ] || [ -x bin/hotline ] || go build -o bin/hotline ./cmd/hotline

cat >"$work/hotline.yaml" <<YAML
log: {level: info, format: json}
sip:
  listen: ["udp:127.0.0.1:$sip_port"]
  rtp_bind_addr: 127.0.0.1
  rtp_port_min: $rtp_min
  rtp_port_max: $rtp_max
  drain_time: 5s
recording: {dir: $work/rec, calls: false}
ivr:
  menu_timeout: $((secs * 2 + 60))s
  menu_repeats: 1
YAML

echo "load: $calls calls of ${secs}s on $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$hotline" serve -config "$work/hotline.yaml" 2>"$work/hotline.log" &
hl_pid=$!
for _ in $(seq 100); do
	grep -q '"hotline ready"' "$work/hotline.log" && break
	kill -0 "$hl_pid" 2>/dev/null || { cat "$work/hotline.log" >&2; exit 1; }
	sleep 0.1
done

clk=$(getconf CLK_TCK)
cpu_of() { awk -v c="$clk" '{ print ($14 + $15) / c }' "/proc/$1/stat" 2>/dev/null; }
hl_cpu0=$(cpu_of "$hl_pid")
t0=$(date +%s.%N)

rate=$((calls < 100 ? calls : 100))
sipp -sf test/sipp/uac_load.xml -s hotline -i 127.0.0.1 -mi 127.0.0.1 \
	-p "$sipp_port" -mp "$sipp_media" \
	-m "$calls" -l "$calls" -r "$rate" -d $((secs * 1000)) \
	-timeout $((secs + 120))s -nostdin -trace_stat -stf "$work/sipp-stats.csv" \
	-trace_err -error_file "$work/sipp-errors.log" \
	"127.0.0.1:$sip_port" >"$work/sipp.out" 2>&1 &
sipp_pid=$!
# SIPp's CPU, sampled until it exits (its /proc entry goes with it).
sipp_cpu=0
while kill -0 "$sipp_pid" 2>/dev/null; do
	c=$(cpu_of "$sipp_pid") && [ -n "$c" ] && sipp_cpu=$c
	sleep 1
done
sipp_rc=0
wait "$sipp_pid" || sipp_rc=$?
sipp_pid=
t1=$(date +%s.%N)

# The last calls' "call ended" lines follow the last BYE within moments.
for _ in $(seq 50); do
	[ "$(grep -c '"msg":"call ended"' "$work/hotline.log")" -ge "$calls" ] && break
	sleep 0.1
done
hl_cpu1=$(cpu_of "$hl_pid")
rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$hl_pid/status")
kill -TERM "$hl_pid"
wait "$hl_pid" || true
hl_pid=

ok_calls=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") col = i } END { print (col ? $col : "?") }' "$work/sipp-stats.csv" 2>/dev/null || echo "?")
failed_calls=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") col = i } END { print (col ? $col : "?") }' "$work/sipp-stats.csv" 2>/dev/null || echo "?")

# Sum Hotline's per-call counters from its JSON log.
awk -v calls="$calls" -v secs="$secs" -v cpu0="$hl_cpu0" -v cpu1="$hl_cpu1" -v rss="$rss_kb" \
	-v sippcpu="$sipp_cpu" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
	-v ok="$ok_calls" -v failed="$failed_calls" -v rc="$sipp_rc" '
function num(key,   m) {
	# the first "key":<number> in the line
	if (match($0, "\"" key "\":[0-9.e+-]+")) { m = substr($0, RSTART, RLENGTH); sub(/^"[^"]*":/, "", m); return m + 0 }
	return -1
}
/"msg":"call ended"/ {
	ended++
	if ($0 ~ /"cause":"sip: far end hung up"/) byCaller++
	d = num("duration"); if (d > 0) dur += d / 1e9
	f = num("frames"); l = num("late_frames"); s = num("skipped_frames")
	if (f >= 0) { frames += f; haveClock++ }
	if (l >= 0) late += l
	if (s >= 0) skipped += s
	r = num("received"); if (r >= 0) { recv += r; if (r == 0) deaf++ }
	x = num("sent"); if (x >= 0) sent += x
}
END {
	printf "calls: %d ended in Hotline (%d by the caller'"'"'s BYE, as planned); SIPp: %s successful, %s failed (exit %d)\n", ended, byCaller, ok, failed, rc
	cpu = cpu1 - cpu0
	cm = dur / 60
	if (cm > 0)
		printf "cpu: %.1f s over %.0f call-minutes = %.3f CPU-seconds per call-minute (SIPp: %.1f s; wall %.0f s)\n", cpu, cm, cpu / cm, sippcpu, wall
	printf "peak RSS: %.1f MiB\n", rss / 1024
	if (ended > 0)
		printf "rtp: %.0f packets sent and %.0f received per call on average; %d calls received none\n", sent / ended, recv / ended, deaf
	if (haveClock == 0) {
		print "late frames: not in the log (\"call ended\" lacks frames/late_frames/skipped_frames)"
	} else if (frames > 0) {
		printf "late frames (> 5 ms after their slot): %d of %d = %.3f %%\n", late, frames, 100 * late / frames
		printf "skipped slots (clock > 60 ms behind): %d = %.3f %% of slots\n", skipped, 100 * skipped / (frames + skipped)
	}
}' "$work/hotline.log" | tee "$work/report.txt"

if [ "$sipp_rc" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
	echo "load: logs and config in $work"
else
	rm -rf "$work"
fi
