#!/usr/bin/env bash
# deploy/cluster.sh — a Hotline cluster on one machine, for tests and demos:
# PostgreSQL, N Hotline nodes and Kamailio in front, all on 127.0.0.1 with
# distinct ports, from Debian's packages (scripts/setup.sh installs them).
#
#   deploy/cluster.sh up [N]      start PostgreSQL, N nodes (default 3), Kamailio
#   deploy/cluster.sh status      what runs, and Kamailio's view of the nodes
#   deploy/cluster.sh drain K     SIGTERM node K: Kamailio's probe sees 503 and
#                                 sends it no new call; its calls finish
#   deploy/cluster.sh start K     start node K again (after drain or a crash)
#   deploy/cluster.sh down        stop everything (nodes drain first)
#
# Callers dial Kamailio at sip:anything@127.0.0.1:$SIP_PORT. Each node K
# listens for SIP on $NODE_PORT+K, serves its API on $API_PORT+K (supervisor
# token in $CLUSTER_DIR/token) and takes RTP ports from its own range.
#
# Environment: CLUSTER_DIR (/tmp/hotline-cluster: configs, logs, data),
# SIP_PORT (5060), NODE_PORT (5070), API_PORT (8080), PG_PORT (55432),
# HOTLINE_BIN (bin/hotline, built if missing), NODE_YAML (YAML appended to
# every node's configuration, e.g. a dialog or ivr section), PING_S (the
# dispatcher's probe interval in seconds, 1), TRUSTED_NETS (subnets pike lets
# flood, e.g. 127.0.0.1/32 for a load run from SIPp), RECORD_CALLS (true: each node
# records its calls as WAV).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

dir=${CLUSTER_DIR:-/tmp/hotline-cluster}
sip_port=${SIP_PORT:-5060}
node_port=${NODE_PORT:-5070}
api_port=${API_PORT:-8080}
pg_port=${PG_PORT:-55432}
ping_s=${PING_S:-1}
hotline=${HOTLINE_BIN:-$repo/bin/hotline}

die() { echo "cluster: $*" >&2; exit 1; }

pgbin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$d" ] || die "PostgreSQL server binaries not found: run scripts/setup.sh"
	echo "$d"
}

# as_pg runs a PostgreSQL program as the postgres user when we are root:
# initdb and postgres refuse root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

dsn() { echo "postgres://hotline@127.0.0.1:$pg_port/hotline?sslmode=disable"; }

alive() { [ -f "$1" ] && kill -0 "$(head -1 "$1")" 2>/dev/null; }

# wait_for waits up to $2 seconds for command $1 to succeed.
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

pg_up() {
	local bin
	bin=$(pgbin)
	mkdir -p "$dir"
	chmod 755 "$dir"
	if [ ! -f "$dir/pg/PG_VERSION" ]; then
		mkdir -p "$dir/pg"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pg"
		as_pg "$bin/initdb" -D "$dir/pg" -U postgres -A trust >"$dir/initdb.log" 2>&1 || die "initdb failed: see $dir/initdb.log"
	fi
	if ! alive "$dir/pg/postmaster.pid"; then
		as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w \
			-o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg -c max_connections=200" start >/dev/null ||
			die "PostgreSQL did not start: see $dir/pg/server.log"
	fi
	# The hotline role and database, once.
	if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atc "SELECT 1 FROM pg_roles WHERE rolname='hotline'" postgres | grep -q 1; then
		as_pg "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE ROLE hotline LOGIN" postgres
		as_pg "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE hotline OWNER hotline" postgres
	fi
}

node_up() {
	local k=$1 nd="$dir/node$1"
	mkdir -p "$nd"
	if alive "$nd/pid"; then
		echo "cluster: node$k already runs"
		return
	fi
	local rtp_min=$((20000 + k * 2000))
	cat >"$nd/hotline.yaml" <<YAML
# node$k of the cluster in $dir (deploy/cluster.sh)
node: node$k
log: {level: info, format: json}
sip:
  listen: ["udp:127.0.0.1:$((node_port + k))"]
  rtp_bind_addr: 127.0.0.1
  rtp_port_min: $rtp_min
  rtp_port_max: $((rtp_min + 1998))
  drain_time: 30s
store: {driver: postgres, dsn_env: HOTLINE_DATABASE_URL}
recording: {dir: $nd/rec, calls: ${RECORD_CALLS:-true}}
api:
  listen: 127.0.0.1:$((api_port + k))
  tokens: [{name: ops, role: supervisor, token_env: HOTLINE_CLUSTER_TOKEN}]
webrtc: {listen: "127.0.0.1:$((api_port + 100 + k))", loopback_only: true}
${NODE_YAML:-}
YAML
	# The subshell writes its own pid and becomes the node: the pid file
	# names the node's process, not a wrapper.
	(
		cd "$nd"
		echo "$BASHPID" >"$nd/pid"
		export HOTLINE_DATABASE_URL HOTLINE_CLUSTER_TOKEN HOTLINE_NODE_SECRET
		HOTLINE_DATABASE_URL=$(dsn)
		HOTLINE_CLUSTER_TOKEN=$(cat "$dir/token")
		HOTLINE_NODE_SECRET=$(cat "$dir/node-secret")
		exec "$hotline" serve -config "$nd/hotline.yaml"
	) >>"$nd/hotline.log" 2>&1 &
	wait_for "grep -qs 'hotline ready' '$nd/hotline.log'" 30 || die "node$k did not start: see $nd/hotline.log"
	echo "cluster: node$k up: sip 127.0.0.1:$((node_port + k)), api http://127.0.0.1:$((api_port + k))"
}

kamailio_up() {
	local n=$1 k
	command -v kamailio >/dev/null || die "kamailio not found: run scripts/setup.sh"
	: >"$dir/dispatcher.list"
	for ((k = 1; k <= n; k++)); do
		echo "1 sip:127.0.0.1:$((node_port + k)) 0 0 node=node$k" >>"$dir/dispatcher.list"
	done
	alive "$dir/kamailio.pid" && return
	kamailio -DD -E -f "$repo/deploy/kamailio.cfg" -Y "$dir" \
		-A "LISTEN=udp:127.0.0.1:$sip_port" -A "DS_LIST=\"$dir/dispatcher.list\"" \
		-A "DS_PING_S=$ping_s" -A CHILDREN=1 -A "TRUSTED_NETS=\"${TRUSTED_NETS:-192.0.2.0/32}\"" -A "CTL_SOCKET=\"unix:$dir/kamailio_ctl\"" \
		>>"$dir/kamailio.log" 2>&1 &
	echo $! >"$dir/kamailio.pid"
	wait_for "[ -S '$dir/kamailio_ctl' ]" 10 || die "Kamailio did not start: see $dir/kamailio.log"
	echo "cluster: Kamailio up: sip:127.0.0.1:$sip_port, dispatching to $n nodes"
}

# stop_pid sends SIGTERM to the process in pid file $1 and waits up to $2 s.
stop_pid() {
	local f=$1 secs=$2 pid
	alive "$f" || { rm -f "$f"; return 0; }
	pid=$(cat "$f")
	kill -TERM "$pid"
	wait_for "! kill -0 $pid 2>/dev/null" "$secs" || { kill -KILL "$pid" 2>/dev/null || true; }
	rm -f "$f"
}

nodes() { ls -d "$dir"/node* 2>/dev/null | sed 's/.*node//' | sort -n; }

case ${1:-} in
up)
	n=${2:-3}
	[ -x "$hotline" ] || [ -n "${HOTLINE_BIN:-}" ] || go build -o "$repo/bin/hotline" ./cmd/hotline
	pg_up
	[ -f "$dir/token" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/token"
	# The secret the nodes sign the agent legs they ask each other for with.
	[ -f "$dir/node-secret" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/node-secret"
	for ((k = 1; k <= n; k++)); do node_up "$k"; done
	kamailio_up "$n"
	echo "cluster: supervisor token in $dir/token; stop with: $0 down"
	;;
start)
	[ -n "${2:-}" ] || die "usage: $0 start K"
	node_up "$2"
	;;
drain)
	[ -n "${2:-}" ] || die "usage: $0 drain K"
	alive "$dir/node$2/pid" || die "node$2 does not run"
	kill -TERM "$(cat "$dir/node$2/pid")"
	echo "cluster: node$2 draining (see $dir/node$2/hotline.log)"
	;;
status)
	for k in $(nodes); do
		if alive "$dir/node$k/pid"; then echo "node$k: running (pid $(cat "$dir/node$k/pid"))"; else echo "node$k: stopped"; fi
	done
	alive "$dir/pg/postmaster.pid" && echo "postgres: running on 127.0.0.1:$pg_port" || echo "postgres: stopped"
	if alive "$dir/kamailio.pid"; then
		echo "kamailio: running on 127.0.0.1:$sip_port"
		kamcmd -s "unix:$dir/kamailio_ctl" dispatcher.list | grep -E 'URI|FLAGS' || true
	else
		echo "kamailio: stopped"
	fi
	;;
down)
	stop_pid "$dir/kamailio.pid" 10
	for k in $(nodes); do stop_pid "$dir/node$k/pid" 40 & done
	wait
	if alive "$dir/pg/postmaster.pid"; then
		as_pg "$(pgbin)/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null
	fi
	echo "cluster: stopped (data and logs stay in $dir; remove it for a fresh start)"
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
	;;
esac
