#!/usr/bin/env bash
# B1: video Range streaming, Roomcast against nginx (Debian nginx-light, one process,
# sendfile on) on the same files, per ../shared TARGETS. Both servers pinned to CPU 1, wrk
# to CPU 0; runs interleaved nginx, Roomcast, nginx, Roomcast; each pair gives a ratio and
# the median ratio is reported. Server CPU comes from /proc/PID/stat before and after a run.
# Usage: bench/b1.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3; duration=6s
[[ "${1:-}" == "--smoke" ]] && { rounds=1; duration=2s; }
big_mib=100
source bench/lib.sh
build "${1:-}"
command -v nginx >/dev/null || { echo "b1: nginx is missing (apt-get install nginx-light)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# The same bytes for both servers: a 100 MiB file and a 1 KiB file.
mkdir -p "$work/data/videos" "$work/nginx"
head -c $((big_mib << 20)) /dev/urandom >"$work/data/videos/big.mp4"
head -c 1024 /dev/urandom >"$work/data/videos/small.mp4"
ln "$work/data/videos/big.mp4" "$work/nginx/big.mp4"
ln "$work/data/videos/small.mp4" "$work/nginx/small.mp4"
db="sqlite://$work/data/roomcast.db"
declare -A ids
while read -r name id; do ids[$name]=$id; done < <("$bin/seed-videos" "$db" big.mp4 small.mp4)

cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { video/mp4 mp4; }
  server {
    listen 127.0.0.1:18100;
    root $work/nginx;
  }
}
CONF
taskset -c 1 nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" & pids+=($!); nginx_pid=$!
(cd "$work" && ROOMCAST__HTTP__ADDR=127.0.0.1:18101 ROOMCAST__HTTP__WORKERS=1 \
   ROOMCAST__DATABASE__URL="$db" ROOMCAST__STORAGE__DIR="$work/data" RUST_LOG=warn \
   exec taskset -c 1 "$OLDPWD/$bin/roomcast" serve) & pids+=($!); roomcast_pid=$!
wait_port 18100; wait_port 18101

nginx_big=http://127.0.0.1:18100/big.mp4
nginx_small=http://127.0.0.1:18100/small.mp4
rc_big=http://127.0.0.1:18101/videos/${ids[big.mp4]}/stream
rc_small=http://127.0.0.1:18101/videos/${ids[small.mp4]}/stream

# --- correctness, checked in the same run ---------------------------------------------
fail() { echo "b1: correctness: $*" >&2; exit 1; }
size=$((big_mib << 20))
h=$(curl -s -D - -o /dev/null -H 'Range: bytes=0-99' "$rc_big")
grep -q '^HTTP/1.1 206' <<<"$h" || fail "Range: no 206"
grep -qi "^content-range: bytes 0-99/$size" <<<"$h" || fail "Range: wrong Content-Range"
grep -qi '^accept-ranges: bytes' <<<"$h" || fail "no Accept-Ranges"
etag=$(awk -F': ' 'tolower($1)=="etag" {print $2}' <<<"$h" | tr -d '\r')
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Range: bytes=$size-" "$rc_big") == 416 ]] || fail "no 416"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$rc_big") == 304 ]] || fail "no 304"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-9' -H "If-Range: $etag" "$rc_big") == 206 ]] || fail "If-Range same version"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-9' -H 'If-Range: "old"' -r 0-0 --max-filesize 1 "$rc_small") == 200 ]] || fail "If-Range other version"
cmp <(curl -s -H 'Range: bytes=1000-2047' "$rc_big") <(curl -s -H 'Range: bytes=1000-2047' "$nginx_big") || fail "bytes differ from nginx"
echo "b1: correctness checks passed (206, Content-Range, Accept-Ranges, 416, 304, If-Range, same bytes as nginx)"

# --- load ----------------------------------------------------------------------------
cat >"$work/random.lua" <<LUA
local size, chunk = $size, 1048576
request = function()
  local first = math.random(0, size - chunk)
  return wrk.format("GET", nil, { Range = "bytes=" .. first .. "-" .. (first + chunk - 1) })
end
LUA
cat >"$work/first64k.lua" <<'LUA'
wrk.headers["Range"] = "bytes=0-65535"
LUA
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT %.1f %.1f %d %d\n", summary.requests / secs, summary.bytes / secs,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout, summary.bytes))
end
LUA
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Prints "req/s bytes/s cpu_seconds_per_GB" for one run.
run() { # pid url connections script
  local before after out
  before=$(cpu_ticks "$1")
  # wrk loads the script once per thread and once more for the summary: a real file, not a pipe.
  cat "$work/$4" "$work/report.lua" >"$work/run.lua"
  out=$(taskset -c 0 wrk -t1 -c"$3" -d"$duration" --timeout 10s -s "$work/run.lua" "$2")
  after=$(cpu_ticks "$1")
  read -r _ rps bps errors bytes < <(grep '^RESULT' <<<"$out")
  [[ "$errors" == 0 ]] || { echo "b1: $2 had $errors errors" >&2; exit 1; }
  awk -v r="$rps" -v b="$bps" -v t=$((after - before)) -v hz="$hz" -v n="$bytes" \
    'BEGIN {printf "%.0f %.0f %.3f\n", r, b, (t / hz) / (n / 1e9)}'
}
: >"$work/empty.lua"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b / a}'; }

declare -a r_ratio c_ratio k_ratio s_ratio n_bps r_bps n_cpu r_cpu n_k r_k n_s r_s
for _ in $(seq 1 "$rounds"); do
  read -r _ a ac < <(run "$nginx_pid" "$nginx_big" 16 random.lua)
  read -r _ b bc < <(run "$roomcast_pid" "$rc_big" 16 random.lua)
  n_bps+=("$a"); r_bps+=("$b"); n_cpu+=("$ac"); r_cpu+=("$bc")
  r_ratio+=("$(ratio "$a" "$b")"); c_ratio+=("$(ratio "$ac" "$bc")")
  read -r a _ < <(run "$nginx_pid" "$nginx_big" 64 first64k.lua)
  read -r b _ < <(run "$roomcast_pid" "$rc_big" 64 first64k.lua)
  n_k+=("$a"); r_k+=("$b"); k_ratio+=("$(ratio "$a" "$b")")
  read -r a _ < <(run "$nginx_pid" "$nginx_small" 64 empty.lua)
  read -r b _ < <(run "$roomcast_pid" "$rc_small" 64 empty.lua)
  n_s+=("$a"); r_s+=("$b"); s_ratio+=("$(ratio "$a" "$b")")
done
m() { printf '%s\n' "$@" | median; }
mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }

echo
echo "date: $(date -u +%Y-%m-%d), commit: $(git describe --always --dirty 2>/dev/null || echo unknown), cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"
echo "| B1 measurement ($rounds interleaved rounds of $duration) | nginx (median) | Roomcast (median) | ratio, median of pairs | target |"
echo "|---|---|---|---|---|"
echo "| random 1 MiB ranges, 16 connections: MiB/s | $(mib "$(m "${n_bps[@]}")") | $(mib "$(m "${r_bps[@]}")") | **$(m "${r_ratio[@]}")x** (${r_ratio[*]}) | >= 0.8x |"
echo "| same run: server CPU seconds per GB | $(m "${n_cpu[@]}") | $(m "${r_cpu[@]}") | **$(m "${c_ratio[@]}")x** (${c_ratio[*]}) | <= 1.5x |"
echo "| Range: bytes=0-65535, 64 connections: req/s | $(m "${n_k[@]}") | $(m "${r_k[@]}") | **$(m "${k_ratio[@]}")x** (${k_ratio[*]}) | >= 0.8x |"
echo "| a 1 KiB file, 64 connections: req/s | $(m "${n_s[@]}") | $(m "${r_s[@]}") | **$(m "${s_ratio[@]}")x** (${s_ratio[*]}) | >= 1.0x |"
