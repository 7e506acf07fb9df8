#!/usr/bin/env bash
# B5: jobs do not hurt traffic. One Roomcast (one worker, pinned to CPU 1, SQLite) serves
# B1's kind of traffic (wrk: GET of a 1 KiB video through /videos/{id}/stream) and B2's
# (ws-load: viewers in a room, 10 senders) at the same time, from CPU 0. Each round measures
# both loads once with the queue idle and once while the cleanup job works through a fresh
# backlog of deleted videos (100k rows, 10k of them with a file and a poster frame), started
# through the admin API as the loads start. Reported: the change in wrk's requests per second
# and the danmaku p99 latency, and how much of the window the job covered.
# Usage: bench/b5.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
# Every load client connects from 127.0.0.1: lift the per-address socket cap and the
# per-user room rate that protect a public server.
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

rows=100000; files=10000; secs=10; viewers=1000; rounds=${B5_ROUNDS:-2}
[[ "${1:-}" == "--smoke" ]] && { rows=2000; files=200; secs=2; viewers=100; rounds=1; }
source bench/lib.sh
build "${1:-}"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

mkdir -p "$work/data/videos"
head -c 1024 /dev/urandom >"$work/data/videos/small.mp4"
db="sqlite://$work/data/roomcast.db"
# A command substitution waits for seed-videos to exit (and so to close the database).
small_id=$("$bin/seed-videos" "$db" small.mp4 | awk '{print $2}')
export ROOMCAST__DATABASE__URL="$db" ROOMCAST__STORAGE__DIR="$work/data" RUST_LOG=warn
ROOMCAST_PASSWORD="bench-password" "$bin/roomcast" user add bench --admin </dev/null >/dev/null
(cd "$work" && ROOMCAST__HTTP__ADDR=127.0.0.1:18501 ROOMCAST__HTTP__WORKERS=1 \
   ROOMCAST__DANMAKU__RATE=1000000/1s ROOMCAST__DANMAKU__WINDOW_MS=100 \
   ROOMCAST__JOBS__CLEANUP_DELETED_VIDEOS_SECS=86400 \
   exec taskset -c 1 "$OLDPWD/$bin/roomcast" serve) & pids+=($!)
server=${pids[-1]}
wait_port 18501
api=http://127.0.0.1:18501
token=$(curl -sf -X POST "$api/api/sessions" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' | json "d['token']")
room=$(curl -sf -X POST "$api/api/rooms" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"title":"B5"}' | json "d['id']")
stream="$api/videos/$small_id/stream"
curl -sf -o /dev/null "$stream"

# Both loads for $secs seconds; prints "requests_per_s http_p99_ms danmaku_per_s danmaku_p99_ms".
load() {
  taskset -c 0 wrk -t1 -c16 -d"${secs}s" --latency "$stream" >"$work/wrk.out" &
  local wrk=$!
  local ws
  ws=$(taskset -c 0 "$bin/ws-load" --pid "$server" --url "ws://127.0.0.1:18501/ws/rooms/$room" \
    --conns "$viewers" --senders 10 --rate 200 --secs "$secs" --token "$token" 2>/dev/null)
  wait "$wrk"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.out")
  echo "$rps $p99 $(json "f\"{d['messages_per_s']:.0f} {d['p99_ms']:.1f}\"" <<<"$ws")"
}

echo "== B5: the cleanup job during traffic ($rows deleted videos, $files with files; $viewers viewers; $secs s)"
base=(); busy=(); covered=()
for r in $(seq 1 "$rounds"); do
  "$bin/seed-deleted" "$db" "$work/data" "$rows" "$files" >/dev/null
  sleep 1
  base+=("$(load)")
  job=$(curl -sf -X POST "$api/api/admin/jobs/cleanup_deleted_videos/run" \
    -H "authorization: Bearer $token" | json "d['job_id']")
  busy+=("$(load)")
  for _ in $(seq 1 600); do
    state=$(curl -sf "$api/api/admin/jobs/runs/$job" -H "authorization: Bearer $token" | json "d['state']")
    [[ "$state" == done || "$state" == dead ]] && break
    sleep 0.5
  done
  [[ "$state" == done ]] || { echo "b5: the cleanup job ended $state" >&2; exit 1; }
  run=$(curl -sf "$api/api/admin/jobs/runs/$job" -H "authorization: Bearer $token")
  took=$(json "(__import__('datetime').datetime.fromisoformat(d['finished_at'].replace('Z','+00:00')) - __import__('datetime').datetime.fromisoformat(d['started_at'].replace('Z','+00:00'))).total_seconds()" <<<"$run")
  covered+=("$took")
  echo "  round $r: idle ${base[-1]} | cleanup ${busy[-1]} | job took ${took} s: $(json "d['result']" <<<"$run")"
done
left=$(find "$work/data/videos" "$work/data/thumbs" -type f | wc -l)
[[ "$left" == 1 ]] || { echo "b5: $left files left after the cleanup (want only the served one)" >&2; exit 1; }

python3 - "$secs" "${base[@]}" -- "${busy[@]}" -- "${covered[@]}" <<'PY'
import statistics, sys
args = sys.argv[2:]
cut = args.index("--")
base = [list(map(float, x.split())) for x in args[:cut]]
rest = args[cut + 1:]
cut2 = rest.index("--")
busy = [list(map(float, x.split())) for x in rest[:cut2]]
took = list(map(float, rest[cut2 + 1:]))
secs = float(sys.argv[1])
def med(rows, i): return statistics.median(r[i] for r in rows)
def change(i): return 100.0 * (med(busy, i) - med(base, i)) / med(base, i)
print()
print("| B5 measurement (medians of rounds) | queue idle | cleanup running | change | target |")
print("|---|---|---|---|---|")
print(f"| B1 load: 1 KiB video, requests/s | {med(base,0):.0f} | {med(busy,0):.0f} | **{change(0):+.1f} %** | within 10 % |")
print(f"| B1 load: p99 (ms) | {med(base,1):.2f} | {med(busy,1):.2f} | {change(1):+.1f} % | |")
print(f"| B2 load: danmaku delivered/s | {med(base,2):.0f} | {med(busy,2):.0f} | {change(2):+.1f} % | |")
print(f"| B2 load: delivery p99 (ms) | {med(base,3):.1f} | {med(busy,3):.1f} | **{change(3):+.1f} %** | within 10 % |")
print(f"| cleanup job: seconds per run (window {secs:.0f} s) | | {statistics.median(took):.1f} | | |")
PY
