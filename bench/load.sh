#!/usr/bin/env bash
# Load run: N concurrent 60 s calls from SIPp with G.711 RTP both ways.
#
#   bench/load.sh 50|200|500 [seconds]
#
# Starts bin/hotline on 127.0.0.1 (calls not recorded, menu waits as long as
# the call lasts), places N calls at once with test/sipp/uac_load.xml, and
# reports CPU seconds per call-minute, peak RSS, and the share of Hotline's
# outgoing RTP frames sent more than 5 ms after their slot (Hotline's own
# per-call clock statistics, logged when each call ends).
set -euo pipefail
cd "$(dirname "$0")/.."

calls=${1:-50}
secs=${2:-60}
sip_port=${SIP_PORT:-35060}
work=$(mktemp -d /tmp/hotline-load.XXXXXX)
trap 'kill $hl_pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT

[ -x bin/hotline ] || go build -o bin/hotline ./cmd/hotline

cat >"$work/hotline.yaml" <<YAML
log: {level: info, format: json}
sip:
  listen: ["udp:127.0.0.1:$sip_port"]
  rtp_port_min: 40000
  rtp_port_max: 49998
recording: {dir: $work/rec, calls: false}
ivr:
  menu_timeout: $((secs * 2))s
  menu_repeats: 1
YAML

ulimit -n 65536 || true
bin/hotline serve -config "$work/hotline.yaml" 2>"$work/hotline.log" &
hl_pid=$!
for _ in $(seq 50); do grep -q 'hotline ready' "$work/hotline.log" && break; sleep 0.1; done

clk=$(getconf CLK_TCK)
cpu() { awk -v c="$clk" '{print ($14+$15)/c}' "/proc/$hl_pid/stat"; }
cpu0=$(cpu)

rate=$(( calls < 100 ? calls : 100 ))
sipp -sf test/sipp/uac_load.xml -i 127.0.0.1 -p 35070 -mp 50000 \
	-m "$calls" -l "$calls" -r "$rate" -d $((secs * 1000)) \
	-timeout $((secs + 120))s -nostdin -trace_stat -stf "$work/sipp.csv" \
	-key audio "$PWD/test/audio/caller-ulaw.wav" \
	"127.0.0.1:$sip_port" >"$work/sipp.out" 2>&1 || echo "sipp exited $? (see $work/sipp.out)"

cpu1=$(cpu)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$hl_pid/status")
sleep 2
kill -TERM $hl_pid; wait $hl_pid || true

python3 - "$work/hotline.log" "$calls" "$secs" "$cpu0" "$cpu1" "$rss_kb" <<'PY'
import json, sys
log, calls, secs, cpu0, cpu1, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
ticks = late = ended = 0
for line in open(log):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("msg") == "call ended":
        ended += 1
        ticks += r.get("frames", 0)
        late += r.get("late_frames", 0)
cpu = cpu1 - cpu0
print(f"calls ended: {ended}/{calls}")
print(f"cpu: {cpu:.1f} s for {calls*secs/60:.0f} call-minutes = {cpu/(calls*secs/60):.3f} cpu-s per call-minute")
print(f"peak RSS: {rss/1024:.0f} MiB")
if ticks:
    print(f"late frames (> 5 ms after slot): {late}/{ticks} = {100*late/ticks:.3f} %")
PY
echo "logs: $work"
