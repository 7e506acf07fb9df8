#!/usr/bin/env bash
# B2: danmaku fan-out. Roomcast against (a) a Node.js `ws` broadcast server and (b) a
# minimal actix-ws broadcast server without merging, all driven by bench's own ws-load.
# Servers are pinned to CPU 1 (one worker), the load client to CPU 0.
# Usage: bench/b2.sh [--smoke]   (called by bench/run)
set -euo pipefail
cd "$(dirname "$0")/.."
# Every load client connects from 127.0.0.1: lift the per-address socket cap and the
# per-user room rate that protect a public server.
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

conns=10000; secs=8; settle=3; rounds=3
if [[ "${1:-}" == "--smoke" ]]; then conns=1000; secs=2; settle=1; rounds=1; fi
source bench/lib.sh
build "${1:-}"
work=$(mktemp -d)
results="$work/results.jsonl"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

if [[ ! -d bench/node-ws/node_modules/ws ]]; then
  npm ci --prefix bench/node-ws --no-audit --no-fund --silent
fi

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
post() { curl -sf -X POST "http://127.0.0.1:$1$2" -H 'content-type: application/json' ${4:+-H "authorization: Bearer $4"} -d "$3"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# run NAME SCENARIO SERVER_PID ws-load-args...: one measurement, labelled, into $results.
run() {
  local server=$1 scenario=$2 pid=$3; shift 3
  local out
  out=$(taskset -c 0 "$bin/ws-load" --pid "$pid" "$@" 2>/dev/null)
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); d.update(server=sys.argv[2], scenario=sys.argv[3]); print(json.dumps(d))" \
    "$out" "$server" "$scenario" >> "$results"
  echo "  $server $scenario: $(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(f\"{d['messages_per_s']:.0f} msg/s, {d['frames_per_s']:.0f} frames/s, p99 {d['p99_ms']:.0f} ms, cpu {d['server_cpu_secs']:.2f} s, {d['kb_per_conn']:.1f} KB/conn\")" "$out")"
}

echo "== B2: danmaku fan-out ($conns viewers, $secs s per scenario)"

# --- Roomcast ---------------------------------------------------------------------------
rdir="$work/roomcast"; mkdir -p "$rdir"
(cd "$rdir" && ROOMCAST__HTTP__ADDR=127.0.0.1:18097 ROOMCAST__HTTP__WORKERS=1 \
   ROOMCAST__DANMAKU__RATE=1000000/1s ROOMCAST__DANMAKU__WINDOW_MS=100 RUST_LOG=warn \
   exec taskset -c 1 "$OLDPWD/$bin/roomcast" serve) & pids+=($!)
rpid=${pids[-1]}
wait_port 18097
post 18097 /api/users '{"username":"bench","password":"benchbench"}' >/dev/null
token=$(post 18097 /api/sessions '{"username":"bench","password":"benchbench"}' | field token)
room() { post 18097 /api/rooms "{\"title\":\"bench $1\"}" "$token" | field id; }
main_room=$(room main)
url="ws://127.0.0.1:18097/ws/rooms/$main_room"
rooms10=""
for i in $(seq 1 10); do rooms10+="${rooms10:+,}ws://127.0.0.1:18097/ws/rooms/$(room "r$i")"; done

# --- the references, started beside Roomcast on the same core (idle until driven) --------
taskset -c 1 "$bin/actix-broadcast" 127.0.0.1:18095 & pids+=($!)
bpid=${pids[-1]}
taskset -c 1 node bench/node-ws/server.js 18096 >/dev/null & pids+=($!)
npid=${pids[-1]}
wait_port 18095
wait_port 18096
burl=ws://127.0.0.1:18095/
nurl=ws://127.0.0.1:18096/

run roomcast idle "$rpid" --url "$url" --conns "$conns" --secs "$settle" --idle
run actix-ws idle "$bpid" --url "$burl" --conns "$conns" --secs "$settle" --idle
run node-ws idle "$npid" --url "$nurl" --conns "$conns" --secs "$settle" --idle

# The scenarios with a reference ratio: interleaved rounds, the median reported.
for _ in $(seq 1 "$rounds"); do
  run roomcast S1 "$rpid" --url "$url" --conns "$conns" --senders 10 --rate 1000 --secs "$secs" --token "$token"
  run node-ws S1 "$npid" --url "$nurl" --conns "$conns" --senders 10 --rate 1000 --secs "$secs"
  run actix-ws S1 "$bpid" --url "$burl" --conns "$conns" --senders 10 --rate 1000 --secs "$secs"
  run roomcast S3 "$rpid" --url "$url" --conns "$conns" --senders 1 --rate 5 --secs "$secs" --token "$token"
  run actix-ws S3 "$bpid" --url "$burl" --conns "$conns" --senders 1 --rate 5 --secs "$secs"
  run node-ws S3 "$npid" --url "$nurl" --conns "$conns" --senders 1 --rate 5 --secs "$secs"
done
run roomcast S2 "$rpid" --url "$rooms10" --conns "$conns" --senders 10 --rate 1000 --secs "$secs" --token "$token"
run roomcast S4 "$rpid" --url "$url" --conns "$conns" --senders 10 --rate 1000 --secs "$secs" --token "$token" --slow-pct 1
run roomcast S5 "$rpid" --url "$url" --conns "$conns" --senders 10 --rate 1000 --secs "$secs" --token "$token" --churn 500

python3 bench/b2_report.py "$results"
