#!/usr/bin/env bash
# B6: danmaku across nodes. S1 of B2 (one room, 10 senders, 1,000 messages/s, 100 ms
# window) on one node and on three nodes sharing PostgreSQL and a NATS server, interleaved
# in one run. All servers (and NATS) are pinned to CPU 1, the load client to CPU 0, so both
# setups have the same one core. Viewers and senders are spread evenly over the nodes; the
# client sorts each sampled message's latency by whether it came through the viewer's own
# node or another: their p99 difference is the latency the bus adds.
# Needs PostgreSQL at $B6_DATABASE_URL (default: the local server) and nats-server.
# Usage: bench/b6.sh [--smoke]   (called by bench/run)
set -euo pipefail
cd "$(dirname "$0")/.."
# Every load client connects from 127.0.0.1: lift the per-address socket cap and the
# per-user room rate that protect a public server.
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

# S1's 10,000 viewers saturate one core (latency is then queueing); 2,000 stay below it, so
# latency there shows what crossing nodes adds.
sizes=(10000 2000); secs=8; rounds=3
if [[ "${1:-}" == "--smoke" ]]; then sizes=(900); secs=2; rounds=1; fi
source bench/lib.sh
build "${1:-}"
server_url=${B6_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
db="roomcast_bench_$$"
db_url="${server_url%/*}/$db"
work=$(mktemp -d)
results="$work/results.jsonl"
pids=()
cleanup() {
  # Nodes first (and waited for), NATS last, so nobody logs a lost connection.
  for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null || true; done
  kill "${pids[0]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$server_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
post() { curl -sf -X POST "http://127.0.0.1:$1$2" -H 'content-type: application/json' ${4:+-H "authorization: Bearer $4"} -d "$3"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

psql -q "$server_url" -c "CREATE DATABASE $db" >/dev/null
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
taskset -c 1 "$nats_bin" -a 127.0.0.1 -p 18420 >/dev/null 2>&1 & pids+=($!)
nats_pid=${pids[-1]}
wait_port 18420

# node NAME PORT BUS: a Roomcast node on CPU 1 with one worker.
node() {
  local dir="$work/$1"; mkdir -p "$dir"
  (cd "$dir" && ROOMCAST__HTTP__ADDR="127.0.0.1:$2" ROOMCAST__HTTP__WORKERS=1 \
     ROOMCAST__DATABASE__URL="$db_url" ROOMCAST__STORAGE__DIR="$work/data" \
     ROOMCAST__BUS__KIND="$3" ROOMCAST__BUS__NATS_URL=nats://127.0.0.1:18420 \
     ROOMCAST__DANMAKU__RATE=1000000/1s ROOMCAST__DANMAKU__WINDOW_MS=100 RUST_LOG=warn \
     exec taskset -c 1 "$OLDPWD/$bin/roomcast" serve) & pids+=($!)
  wait_port "$2"
}

node single 18430 local; single_pid=${pids[-1]}
node a 18431 nats; a_pid=${pids[-1]}
node b 18432 nats; b_pid=${pids[-1]}
node c 18433 nats; c_pid=${pids[-1]}
post 18430 /api/users '{"username":"bench","password":"benchbench"}' >/dev/null
token=$(post 18430 /api/sessions '{"username":"bench","password":"benchbench"}' | field token)
room=$(post 18430 /api/rooms '{"title":"bench across"}' "$token" | field id)
single="ws://127.0.0.1:18430/ws/rooms/$room"
three="ws://127.0.0.1:18431/ws/rooms/$room,ws://127.0.0.1:18432/ws/rooms/$room,ws://127.0.0.1:18433/ws/rooms/$room"

run() { # label pids urls conns
  local out
  out=$(taskset -c 0 "$bin/ws-load" --pid "$2" --url "$3" --conns "$4" --senders 10 \
        --rate 1000 --secs "$secs" --token "$token" 2>/dev/null)
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); d.update(setup=sys.argv[2]); print(json.dumps(d))" \
    "$out" "$1" >> "$results"
  python3 -c "
import json, sys
d = json.loads(sys.argv[1])
extra = f\", same node p99 {d['same_node_p99_ms']:.0f} ms, other node p99 {d['cross_node_p99_ms']:.0f} ms\" if d['cross_node_samples'] else ''
print(f\"  {sys.argv[2]}: {d['messages_per_s']:.0f} msg/s delivered, p99 {d['p99_ms']:.0f} ms, cpu {d['server_cpu_secs']:.2f} s, closed {d['closed']}{extra}\")
" "$out" "$1"
}

for conns in "${sizes[@]}"; do
: > "$results"
echo "== B6: S1 across nodes ($conns viewers, $secs s per run, $rounds rounds)"
for _ in $(seq 1 "$rounds"); do
  run one-node "$single_pid" "$single" "$conns"
  run three-nodes "$a_pid,$b_pid,$c_pid,$nats_pid" "$three" "$conns"
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(setup, key):
    return statistics.median(r[key] for r in rows if r["setup"] == setup)
one, three = "one-node", "three-nodes"
print(f"  median delivered msg/s: one node {med(one, 'messages_per_s'):.0f}, three nodes {med(three, 'messages_per_s'):.0f} "
      f"({med(three, 'messages_per_s') / max(med(one, 'messages_per_s'), 1):.2f}x)")
print(f"  median p99: one node {med(one, 'p99_ms'):.0f} ms, three nodes {med(three, 'p99_ms'):.0f} ms")
added = med(three, 'cross_node_p99_ms') - med(three, 'same_node_p99_ms')
print(f"  three nodes, p99 by sender: same node {med(three, 'same_node_p99_ms'):.1f} ms, other node "
      f"{med(three, 'cross_node_p99_ms'):.1f} ms: added by the bus {added:+.1f} ms (target <= 20 ms)")
print(f"  server CPU per delivered message: one node {1e6 * med(one, 'server_cpu_secs') / max(med(one, 'messages_per_s') * med(one, 'secs'), 1):.2f} us, "
      f"three nodes + NATS {1e6 * med(three, 'server_cpu_secs') / max(med(three, 'messages_per_s') * med(three, 'secs'), 1):.2f} us")
PY
done
