#!/usr/bin/env bash
# B9: login under attack. One Roomcast (release, pinned to CPU 1, SQLite, behind a "proxy":
# 127.0.0.1 is trusted, so X-Forwarded-For names the client) while wrk on CPU 0 keeps 100
# connections posting wrong passwords, in two rounds: all from one address (the throttle
# answers 429 before any hash) and each from another address (only the hashing cap holds).
# Meanwhile a legitimate user from their own address logs in one request at a time.
# Reported: the legitimate logins' status counts, p50 and p99, and the server's resident
# memory idle and at its peak. Targets: p99 <= 1 s, peak within 200 MB of idle.
# Usage: bench/b9.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."

secs=15; logins=40
[[ "${1:-}" == "--smoke" ]] && { secs=3; logins=5; }
source bench/lib.sh
build "${1:-}"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
mib() { awk -v f="$2:" '$1==f {printf "%d", $2/1024}' "/proc/$1/status"; }

export ROOMCAST__DATABASE__URL="sqlite://$work/roomcast.db" ROOMCAST__STORAGE__DIR="$work/data" RUST_LOG=warn
ROOMCAST_PASSWORD="legit-password" "$bin/roomcast" user add legit </dev/null >/dev/null
(cd "$work" && ROOMCAST__HTTP__ADDR=127.0.0.1:18901 ROOMCAST__HTTP__TRUSTED_PROXIES=127.0.0.1 \
   exec taskset -c 1 "$OLDPWD/$bin/roomcast" serve) & pids+=($!)
server=${pids[-1]}
wait_port 18901
idle=$(mib "$server" VmRSS)

echo "== B9: login under attack ($secs s per round, 100 attacking connections)"
echo "date: $(date -u +%Y-%m-%d), commit: $(git describe --always --dirty 2>/dev/null || echo unknown), cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "| attackers | attack req/s | legit logins (status: count) | legit p50 | legit p99 | target |"
echo "|---|---|---|---|---|---|"
for spread in 0 1; do
  B9_SPREAD=$spread taskset -c 0 wrk -t1 -c100 -d"${secs}s" -s bench/b9-attack.lua \
    http://127.0.0.1:18901/ >"$work/wrk.out" & attack=$!
  sleep 1
  : >"$work/legit"
  for _ in $(seq 1 "$logins"); do
    taskset -c 0 curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
      -H 'Content-Type: application/json' -H 'X-Forwarded-For: 198.51.100.7' \
      -d '{"username":"legit","password":"legit-password"}' \
      http://127.0.0.1:18901/api/sessions >>"$work/legit"
    sleep 0.1
  done
  wait "$attack"
  statuses=$(awk '{c[$1]++} END {for (s in c) printf "%s: %d ", s, c[s]}' "$work/legit")
  read -r p50 p99 < <(awk '{print $2*1000}' "$work/legit" | sort -n |
    awk '{a[NR]=$1} END {i=int(NR*0.99+0.999); if (i>NR) i=NR; printf "%.0f %.0f\n", a[int((NR+1)/2)], a[i]}')
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  who=$([[ $spread == 1 ]] && echo "100 connections, a new address per request" || echo "100 connections, one address")
  echo "| $who | $rps | $statuses| ${p50} ms | **${p99} ms** | p99 <= 1000 ms |"
done
peak=$(mib "$server" VmHWM)
echo
echo "server memory: idle ${idle} MiB, peak **${peak} MiB** (+$((peak - idle)) MiB; target: within 200 MB of idle)"
