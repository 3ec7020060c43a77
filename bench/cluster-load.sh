#!/usr/bin/env bash
# bench/cluster-load.sh — load run through a cluster: N nodes behind
# Kamailio on one PostgreSQL (deploy/cluster.sh), CALLS concurrent calls from
# SIPp through Kamailio, G.711 both ways.
#
#   bench/cluster-load.sh [NODES] [CALLS] [SECONDS]     (default 3 150 30)
#
# Starts a fresh cluster in a temporary folder (production build, the key
# menu without speech, a menu timeout longer than the calls), places CALLS
# calls at up to 50 new calls a second with test/sipp/uac_cluster.xml, each
# streaming μ-law for SECONDS before its BYE, and reports:
#   - the calls SIPp completed and failed,
#   - the calls each node took (its records in PostgreSQL),
#   - each node's CPU seconds per call-minute, peak RSS, RTP packets per
#     call each way and the share of frames its clock sent late,
#   - Kamailio's and PostgreSQL's CPU seconds over the run,
#   - PostgreSQL transactions committed per call.
# Then it stops the cluster. Ports: Kamailio SIP_PORT (45060), nodes
# NODE_PORT+K (45070+K), APIs API_PORT+K (48080+K), PostgreSQL PG_PORT
# (55498); KEEP=1 keeps the folder.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=${1:-3}
calls=${2:-150}
secs=${3:-30}
export CLUSTER_DIR=${CLUSTER_DIR:-$(mktemp -d /tmp/hotline-cluster-load.XXXXXX)}
export SIP_PORT=${SIP_PORT:-45060} NODE_PORT=${NODE_PORT:-45070} API_PORT=${API_PORT:-48080} PG_PORT=${PG_PORT:-55498}
# SIPp is one source placing many calls, like a carrier: trusted by pike.
export TRUSTED_NETS=127.0.0.1/32 RECORD_CALLS=false NODE_YAML="dialog: {brain: menu}
ivr: {menu_timeout: $((secs * 2 + 60))s, menu_repeats: 1, speech: false}"

for prog in sipp kamailio awk; do
	command -v "$prog" >/dev/null || { echo "cluster-load: $prog not found: run scripts/setup.sh" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

go build -o bin/hotline ./cmd/hotline
cleanup() {
	deploy/cluster.sh down >/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$CLUSTER_DIR"
}
trap cleanup EXIT
deploy/cluster.sh up "$nodes" >/dev/null

pgdir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
psql() { runuser -u postgres -- "$pgdir/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atq "$@" hotline 2>/dev/null ||
	"$pgdir/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atq "$@" hotline; }
clk=$(getconf CLK_TCK)
cpu_of() { awk -v c="$clk" '{ print ($14 + $15) / c }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The postmaster and its backends (the nodes' pooled connections).
pg_pids() { local m; m=$(head -1 "$CLUSTER_DIR/pg/postmaster.pid"); echo "$m $(pgrep -d' ' -P "$m" || true)"; }
sum_cpu() { local t=0 p; for p in "$@"; do t=$(awk -v a="$t" -v b="$(cpu_of "$p")" 'BEGIN { print a + b }'); done; echo "$t"; }

declare -A cpu0
for ((k = 1; k <= nodes; k++)); do cpu0[$k]=$(cpu_of "$(cat "$CLUSTER_DIR/node$k/pid")"); done
kam_pids=$(pgrep -d' ' -f "kamailio.*$CLUSTER_DIR" || true)
kam0=$(sum_cpu $kam_pids)
pg0=$(sum_cpu $(pg_pids))
commits0=$(psql -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'hotline'")

echo "cluster-load: $calls calls of ${secs}s through Kamailio to $nodes nodes on $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
rate=$((calls < 50 ? calls : 50))
sipp -sf test/sipp/uac_cluster.xml -s hotline -i 127.0.0.1 -mi 127.0.0.1 -p $((SIP_PORT + 30)) -mp 50000 \
	-m "$calls" -l "$calls" -r "$rate" -d $((secs * 1000)) -timeout $((secs + 120))s -nostdin \
	-trace_stat -stf "$CLUSTER_DIR/sipp-stats.csv" -trace_err -error_file "$CLUSTER_DIR/sipp-errors.log" \
	"127.0.0.1:$SIP_PORT" >"$CLUSTER_DIR/sipp.out" 2>&1 || true
stat() { awk -F';' -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) col = i } END { print (col ? $col : "?") }' "$CLUSTER_DIR/sipp-stats.csv"; }
# The nodes close their records as the BYEs come: give the last ones a moment.
sleep 2
echo "cluster-load: SIPp: $(stat 'SuccessfulCall(C)') calls completed, $(stat 'FailedCall(C)') failed"
commits1=$(psql -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'hotline'")
echo "cluster-load: PostgreSQL: $(awk -v a="$commits0" -v b="$commits1" -v n="$calls" 'BEGIN { printf "%.1f", (b - a) / n }') transactions per call (heartbeats included), CPU $(awk -v a="$pg0" -v b="$(sum_cpu $(pg_pids))" 'BEGIN { printf "%.1f", b - a }') s"
echo "cluster-load: Kamailio: CPU $(awk -v a="$kam0" -v b="$(sum_cpu $kam_pids)" 'BEGIN { printf "%.2f", b - a }') s"
for ((k = 1; k <= nodes; k++)); do
	pid=$(cat "$CLUSTER_DIR/node$k/pid")
	n=$(psql -c "SELECT count(*) FROM calls WHERE node = 'node$k'")
	cpu=$(awk -v a="${cpu0[$k]}" -v b="$(cpu_of "$pid")" 'BEGIN { print b - a }')
	rss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$pid/status")
	# Media, from the node's "call ended" lines: RTP packets each way per
	# call and the frames its clock sent more than 5 ms late.
	media=$(awk '
function num(key,   m) {
	if (match($0, "\"" key "\":[0-9.e+-]+")) { m = substr($0, RSTART, RLENGTH); sub(/^"[^"]*":/, "", m); return m + 0 }
	return 0
}
/"msg":"call ended"/ { n++; sent += num("sent"); recv += num("received"); frames += num("frames"); late += num("late_frames") }
END { if (n) printf "RTP %.0f sent and %.0f received per call, %.3f %% frames late", sent / n, recv / n, frames ? 100 * late / frames : 0 }
' "$CLUSTER_DIR/node$k/hotline.log")
	echo "cluster-load: node$k: $n calls, CPU $cpu s = $(awk -v c="$cpu" -v n="$n" -v s="$secs" 'BEGIN { printf "%.2f", n ? c / (n * s / 60) : 0 }') s per call-minute, peak RSS ${rss} MB; $media"
done
