#!/usr/bin/env bash
# B2: danmaku fan-out. Roomcast against (a) a Node.js `ws` broadcast server and (b) a
# minimal actix-ws broadcast server without merging, all driven by bench's own ws-load.
# Servers are pinned to CPU 1 (one worker), the load client to CPU 0. Messages carry
# realistic mixed Chinese and English text. Roomcast's scenarios run with plain viewers and
# with compressed ones (`z`: `?compress=deflate`); S1 also with 1,000 words in the room's
# filter list (`S1z+filters`, a room of its own).
# Usage: bench/b2.sh [--smoke] [filters]   (called by bench/run)
# `filters`: only S1z against S1z+filters, interleaved.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every load client connects from 127.0.0.1: lift the per-address socket cap and the
# per-user room rate that protect a public server.
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

conns=10000; secs=8; settle=3; rounds=3; only=""; pause=3
for arg in "$@"; do
  case "$arg" in
    --smoke) conns=1000; secs=2; settle=1; rounds=1; pause=0 ;;
    filters) only=filters ;;
  esac
done
source bench/lib.sh
build "$([[ $conns == 1000 ]] && echo --smoke)"
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
  # A saturated run leaves queues to drain and sockets to close: let the server finish them
  # (a smoke run saturates nothing).
  sleep "$pause"
  out=$(taskset -c 0 "$bin/ws-load" --pid "$pid" "$@" 2>/dev/null)
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); d.update(server=sys.argv[2], scenario=sys.argv[3]); print(json.dumps(d))" \
    "$out" "$server" "$scenario" >> "$results"
  echo "  $server $scenario: $(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(f\"{d['messages_per_s']:.0f} msg/s, {d['frames_per_s']:.0f} frames/s, p99 {d['p99_ms']:.0f} ms, cpu {d['server_cpu_secs']:.2f} s (client {d['client_cpu_secs']:.2f} s), {d['bytes_per_message']:.1f} B/msg, {d['kb_per_conn']:.1f} KB/conn\")" "$out")"
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
# A room whose filter list holds 1,000 words (four-character Chinese words and Latin ones)
# that bench messages do not contain.
filtered_room=$(room filtered)
words=$(python3 -c '
import json, random
random.seed(17)
cjk = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没"
words = ["".join(random.choice(cjk) for _ in range(4)) for _ in range(800)]
words += ["xq%dzz" % i for i in range(200)]
print(json.dumps({"words": words}))')
curl -sf -X PUT "http://127.0.0.1:18097/api/rooms/$filtered_room/filters" -H 'content-type: application/json' \
  -H "authorization: Bearer $token" -d "$words" | python3 -c 'import json,sys; n=len(json.load(sys.stdin)["words"]); assert n == 1000, n'
furl="ws://127.0.0.1:18097/ws/rooms/$filtered_room"
rooms10=""
for i in $(seq 1 10); do rooms10+="${rooms10:+,}ws://127.0.0.1:18097/ws/rooms/$(room "r$i")"; done

# --- the references, started beside Roomcast on the same core (idle until driven) --------
taskset -c 1 "$bin/actix-broadcast" 127.0.0.1:18095 & pids+=($!)
bpid=${pids[-1]}
# The Node server keeps buffering (and burning CPU 1) for clients of a finished run long
# after it, so each of its runs gets a fresh one, stopped afterwards.
npid=""
node_fresh() {
  if [[ -n "$npid" ]]; then kill "$npid" 2>/dev/null || true; wait "$npid" 2>/dev/null || true; fi
  taskset -c 1 node bench/node-ws/server.js 18096 >/dev/null & pids+=($!)
  npid=${pids[-1]}
  wait_port 18096
}
node_done() { kill "$npid" 2>/dev/null || true; wait "$npid" 2>/dev/null || true; npid=""; }
node_run() { node_fresh; run node-ws "$1" "$npid" "${@:2}"; node_done; }
wait_port 18095
burl=ws://127.0.0.1:18095/
nurl=ws://127.0.0.1:18096/

if [[ "$only" == "filters" ]]; then
  for _ in $(seq 1 "$rounds"); do
    for which in S1z S1z+filters; do
      target=$url; [[ "$which" == S1z+filters ]] && target=$furl
      run roomcast "$which" "$rpid" --url "$target" --conns "$conns" --senders 10 --rate 1000 \
        --secs "$secs" --realistic --token "$token" --compress
    done
  done
  python3 bench/b2_report.py "$results"
  exit 0
fi

run roomcast idle "$rpid" --url "$url" --conns "$conns" --secs "$settle" --idle
run actix-ws idle "$bpid" --url "$burl" --conns "$conns" --secs "$settle" --idle
node_run idle --url "$nurl" --conns "$conns" --secs "$settle" --idle

# The scenarios with a reference ratio: interleaved rounds, the median reported.
s1=(--conns "$conns" --senders 10 --rate 1000 --secs "$secs" --realistic)
s3=(--conns "$conns" --senders 1 --rate 5 --secs "$secs" --realistic)
for _ in $(seq 1 "$rounds"); do
  run roomcast S1z "$rpid" --url "$url" "${s1[@]}" --token "$token" --compress
  run roomcast S1z+filters "$rpid" --url "$furl" "${s1[@]}" --token "$token" --compress
  node_run S1 --url "$nurl" "${s1[@]}"
  run roomcast S1 "$rpid" --url "$url" "${s1[@]}" --token "$token"
  run actix-ws S1 "$bpid" --url "$burl" "${s1[@]}"
  run roomcast S3 "$rpid" --url "$url" "${s3[@]}" --token "$token"
  run roomcast S3z "$rpid" --url "$url" "${s3[@]}" --token "$token" --compress
  run actix-ws S3 "$bpid" --url "$burl" "${s3[@]}"
  node_run S3 --url "$nurl" "${s3[@]}"
done
for z in "" z; do
  flag=(); [[ -n "$z" ]] && flag=(--compress)
  run roomcast "S2$z" "$rpid" --url "$rooms10" "${s1[@]}" --token "$token" "${flag[@]}"
  run roomcast "S4$z" "$rpid" --url "$url" "${s1[@]}" --token "$token" --slow-pct 1 "${flag[@]}"
  run roomcast "S5$z" "$rpid" --url "$url" "${s1[@]}" --token "$token" --churn 500 "${flag[@]}"
done

python3 bench/b2_report.py "$results"
