#!/usr/bin/env bash
# B10: memory after connection churn. One Roomcast (release, pinned to CPU 1, SQLite, one
# worker) takes 2,000 danmaku viewers, then 30,000 joins and leaves while 2,000 stay
# connected (ws-load --churn, from CPU 0), twice; after each phase every client leaves and
# the server's resident memory is read once it has settled. Run for each allocator setting
# named below, in the same run, so the figures compare on the same machine state:
#   default  - Roomcast as shipped;
#   arenas-8 - MALLOC_ARENA_MAX=8 (glibc's own cap is 8 per core);
#   no-trim  - ROOMCAST_MALLOC_TRIM=0 (the idle trim switched off).
# Target: idle memory after churn within 20 MB of idle memory before it.
# Usage: bench/b10.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

viewers=2000; churn=3000; secs=10; settle=7; settings="default arenas-8 no-trim"
[[ "${1:-}" == "--smoke" ]] && { viewers=200; churn=300; secs=2; settle=1; settings=default; }
source bench/lib.sh
build "${1:-}"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
post() { curl -sf -X POST "http://127.0.0.1:$1$2" -H 'content-type: application/json' ${4:+-H "authorization: Bearer $4"} -d "$3"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
mib() { awk '$1=="VmRSS:" {printf "%d", $2/1024}' "/proc/$1/status"; }
# The resident memory once the server has been idle for a while (sockets closed, actors
# stopped, the allocator's periodic trim done).
settled() {
  sleep "$settle"
  mib "$1"
}

echo "== B10: memory after connection churn ($viewers viewers, $((churn * secs)) joins and leaves per round)"
echo "date: $(date -u +%Y-%m-%d), commit: $(git describe --always --dirty 2>/dev/null || echo unknown), cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "| setting | idle at start | $viewers connected | idle after | after churn 1 | after churn 2 | churn 2 - start |"
echo "|---|---|---|---|---|---|---|"
port=18910
for setting in $settings; do
  env=()
  case "$setting" in
    arenas-8) env=(MALLOC_ARENA_MAX=8) ;;
    no-trim) env=(ROOMCAST_MALLOC_TRIM=0) ;;
  esac
  dir="$work/$setting"; mkdir -p "$dir"
  (cd "$dir" && exec env "${env[@]}" ROOMCAST__HTTP__ADDR=127.0.0.1:$port \
     ROOMCAST__HTTP__WORKERS=1 RUST_LOG=warn taskset -c 1 "$OLDPWD/$bin/roomcast" serve) & pids+=($!)
  server=${pids[-1]}
  wait_port "$port"
  post "$port" /api/users '{"username":"bench","password":"benchbench"}' >/dev/null
  token=$(post "$port" /api/sessions '{"username":"bench","password":"benchbench"}' | field token)
  room=$(post "$port" /api/rooms '{"title":"churn"}' "$token" | field id)
  url="ws://127.0.0.1:$port/ws/rooms/$room"
  start=$(settled "$server")
  connected=$(taskset -c 0 "$bin/ws-load" --url "$url" --conns "$viewers" --secs 2 --idle --pid "$server" 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['rss_after_kb'] // 1024)")
  after=$(settled "$server")
  rounds=()
  for _ in 1 2; do
    taskset -c 0 "$bin/ws-load" --url "$url" --conns "$viewers" --secs "$secs" --rate 1 \
      --churn "$churn" --token "$token" >/dev/null 2>&1
    rounds+=("$(settled "$server")")
  done
  echo "| $setting | $start MB | $connected MB | $after MB | ${rounds[0]} MB | ${rounds[1]} MB | $((rounds[1] - start)) MB |"
  kill "$server"; wait "$server" 2>/dev/null || true
  port=$((port + 1))
done
