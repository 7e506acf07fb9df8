#!/usr/bin/env bash
# B7: going live from an encoder. One publisher pushes 720p30 H.264 (2.5 Mbit/s, 1 s GOP,
# no B-frames) + AAC over RTMP exactly as OBS does (`-f flv rtmp://HOST:PORT/live/KEY`).
#
# 1. CPU per pushed stream against nginx with the RTMP module (Debian libnginx-mod-rtmp)
#    taking the same push and writing HLS. Roomcast (one worker, its ffmpeg child copying
#    into fMP4 fragments and HLS) has 10 video-socket viewers; nginx has 10 RTMP players
#    (ffmpeg -c copy -f null). Both servers pinned to CPU 1; the publisher (the same
#    pre-encoded file, looped with -c copy so the encoder costs nothing) and the viewers on
#    CPU 0. Rounds interleave nginx, Roomcast, nginx, Roomcast; the ratio is taken per pair
#    and the median reported. CPU is read from /proc (server + children) over each round.
# 2. Publish to first fragment: a viewer waits on the room's video socket, then the
#    publisher starts; the time from launching the publisher to the first fragment reaching
#    the viewer (an upper bound: it includes ffmpeg's own start and the RTMP handshake).
# 3. Push to glass: the publisher burns the wall clock into its picture (as in B3) and
#    encodes live; Chromium plays the room page over the video socket and reads the clock
#    back on every frame (bench/e2e-latency.mjs).
# Usage: bench/b7.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

rounds=3; secs=30; viewers=10; starts=7; e2e_secs=15; e2e_joins=5; clip_secs=30
[[ "${1:-}" == "--smoke" ]] && { rounds=1; secs=3; viewers=2; starts=1; e2e_secs=3; e2e_joins=1; clip_secs=4; }
[[ -d tests/browser/node_modules/playwright-core ]] ||
  { echo "b7: the browser packages are missing: npm ci --prefix tests/browser" >&2; exit 1; }
[[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]] ||
  { echo "b7: nginx's RTMP module is missing: apt-get install nginx-light libnginx-mod-rtmp" >&2; exit 1; }
source bench/lib.sh
build "${1:-}"

work=$(mktemp -d)
groups=()
cleanup() { for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
# CPU time (ns, from every thread's schedstat: finer than clock ticks, which at 100 Hz
# would round a 1 % load to a few ticks) of a process and all its descendants.
tree_ns() {
  local total=0 p
  for p in $1 $(descendants "$1"); do total=$((total + $(own_ns "$p"))); done
  echo "$total"
}
own_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'; }
descendants() { local c; for c in $(children "$1"); do echo "$c"; descendants "$c"; done; }
children() { local p; for p in /proc/[0-9]*; do awk -v want="$1" '$4 == want {print $1}' "$p/stat" 2>/dev/null || true; done; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_ms() { date +%s%3N; }

# The pushed stream, encoded once: 720p30, 2.5 Mbit/s, a keyframe every second, no B-frames.
clip="$work/push.flv"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=sample_rate=48000 \
  -t "$clip_secs" -c:v libx264 -preset veryfast -tune zerolatency -bf 0 -g 30 -b:v 2500k -maxrate 2500k \
  -bufsize 2500k -pix_fmt yuv420p -c:a aac -b:a 128k -f flv "$clip"
# Pushes the clip to URL in a loop until killed; sets `pub` to its process group.
push() { # url
  setsid taskset -c 0 ffmpeg -nostdin -v quiet -re -stream_loop -1 -i "$clip" -c copy -f flv "$1" \
    >/dev/null 2>&1 </dev/null &
  pub=$!; groups+=($pub)
}
# The CPU (cores) between two readings of `tree_ns` or `own_ns` taken `secs` apart.
cores() { awk -v t=$(($2 - $1)) -v s="$secs" 'BEGIN {printf "%.4f", t / 1e9 / s}'; }

# --- nginx with the RTMP module -------------------------------------------------------
mkdir -p "$work/nginx/hls"
cat >"$work/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
rtmp {
  server {
    listen 127.0.0.1:18701;
    application live { live on; hls on; hls_path $work/nginx/hls; hls_fragment 1s; hls_playlist_length 6s; }
  }
}
EOF
setsid taskset -c 1 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" >/dev/null 2>&1 &
nginx=$!; groups+=($nginx)
wait_port 18701

# --- Roomcast ---------------------------------------------------------------------------
db="sqlite://$work/roomcast.db"
export ROOMCAST__DATABASE__URL="$db" ROOMCAST__STORAGE__DIR="$work/data" RUST_LOG=warn
ROOMCAST_PASSWORD="bench-password" "$bin/roomcast" user add bench </dev/null >/dev/null
(cd "$work" && ROOMCAST__HTTP__ADDR=127.0.0.1:18703 ROOMCAST__HTTP__WORKERS=1 \
   ROOMCAST__INGEST__RTMP_ADDR=127.0.0.1:18702 exec setsid taskset -c 1 "$OLDPWD/$bin/roomcast" serve) &
server=$!; groups+=($server)
wait_port 18703; wait_port 18702
api=http://127.0.0.1:18703
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf -X POST "$api/api/sessions" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' | json "['token']")
room() {
  curl -sf -X POST "$api/api/rooms" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"title":"B7"}' | json "['id']"
}
key_url() { curl -sf "$api/api/rooms/$1/stream-key" -H "authorization: Bearer $token" | json "['url']"; }
state() { curl -sf "$api/api/rooms/$1" | json "['live']['state']"; }
until_state() { # room state
  for _ in $(seq 1 150); do [[ "$(state "$1")" == "$2" ]] && return 0; sleep 0.2; done
  echo "b7: room $1 never became $2" >&2; return 1
}
r1=$(room); url1=$(key_url "$r1")
# What the server costs with nothing to do (timers, the job queue's polls): part of every
# figure below, none of nginx's.
a=$(own_ns "$server"); sleep "$secs"; b=$(own_ns "$server"); idle=$(cores "$a" "$b")

# --- 1. CPU per pushed stream, interleaved ------------------------------------------------
# One round against nginx: push, RTMP players, warm up, measure, stop; sets `cpu`.
nginx_round() {
  local players=() a b p
  push rtmp://127.0.0.1:18701/live/b7
  sleep 2
  for _ in $(seq 1 "$viewers"); do
    setsid taskset -c 0 ffmpeg -nostdin -v quiet -i rtmp://127.0.0.1:18701/live/b7 -c copy -f null - \
      >/dev/null 2>&1 </dev/null &
    players+=($!); groups+=($!)
  done
  sleep 3
  a=$(tree_ns "$nginx"); sleep "$secs"; b=$(tree_ns "$nginx")
  for p in "${players[@]}" "$pub"; do kill -- "-$p" 2>/dev/null || true; done
  cpu=$(cores "$a" "$b")
}
# One round against Roomcast: push, socket viewers, warm up, measure, stop; sets `cpu`.
roomcast_round() {
  local hold a b
  push "$url1"
  until_state "$r1" running
  taskset -c 0 "$bin/video-load" hold "ws://127.0.0.1:18703/ws/rooms/$r1/video" "$viewers" $((secs + 5)) \
    >"$work/hold.json" &
  hold=$!
  sleep 3
  a=$(tree_ns "$server"); own_a=$(own_ns "$server"); sleep "$secs"
  b=$(tree_ns "$server"); own_b=$(own_ns "$server")
  wait "$hold"
  kill -- "-$pub" 2>/dev/null || true
  until_state "$r1" waiting
  cpu=$(cores "$a" "$b")
  own=$(cores "$own_a" "$own_b")
}
ref=(); ours=(); ratios=(); server_only=()
for _ in $(seq 1 "$rounds"); do
  nginx_round; a=$cpu; ref+=("$a")
  roomcast_round; b=$cpu; ours+=("$b"); server_only+=("$own")
  ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')")
done
received=$(cat "$work/hold.json")

# --- 2. publish to first fragment for a waiting viewer ------------------------------------
firsts=()
for _ in $(seq 1 "$starts"); do
  taskset -c 0 "$bin/video-load" first "ws://127.0.0.1:18703/ws/rooms/$r1/video" >"$work/first.txt" &
  viewer=$!
  for _ in $(seq 1 100); do grep -q connected "$work/first.txt" && break; sleep 0.05; done
  t0=$(now_ms)
  push "$url1"
  wait "$viewer"
  t1=$(sed -n 2p "$work/first.txt")
  firsts+=($((t1 - t0)))
  kill -- "-$pub" 2>/dev/null || true
  until_state "$r1" waiting
done

# --- 3. push to glass ---------------------------------------------------------------------
# The clock bar of B3, pushed live: the wall time in milliseconds as 32 blocks along the top.
r2=$(room); url2=$(key_url "$r2")
bit="mod(floor(floor(T*1000)/pow(2,floor(X/40))),2)"
setsid taskset -c 0 ffmpeg -nostdin -v quiet -re \
  -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=sample_rate=48000 \
  -filter_complex "color=c=black:s=1280x48:r=30,format=yuv420p,settb=1/1000000,setpts=RTCTIME,\
geq=lum='if($bit,235,16)':cb=128:cr=128,setpts=N/(30*TB)[bar];[0:v][bar]overlay=0:0:shortest=1[v]" \
  -map '[v]' -map 1:a -c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -g 30 -b:v 2500k \
  -pix_fmt yuv420p -c:a aac -f flv "$url2" >/dev/null 2>&1 </dev/null &
groups+=($!)
until_state "$r2" running
e2e=$({ taskset -c 0 node bench/e2e-latency.mjs "$api/live/$r2" "$e2e_secs" "$e2e_joins" ||
  taskset -c 0 node bench/e2e-latency.mjs "$api/live/$r2" "$e2e_secs" "$e2e_joins"; } |
  sed 's/.*"frames":\([0-9]*\),"unreadable":\([0-9]*\),"median_ms":\([0-9]*\),"p95_ms":\([0-9]*\),"max_ms":\([0-9]*\),"joins":\[\(.*\)\].*/**\3** \/ \4 \/ \5 (\1 frames, \2 unreadable; median per join \6)/')

ratio=$(printf '%s\n' "${ratios[@]}" | median)
first_m=$(printf '%s\n' "${firsts[@]}" | median)
echo
echo "date: $(date -u +%Y-%m-%d), commit: $(git describe --always --dirty 2>/dev/null || echo unknown), cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "| B7 measurement (720p30 H.264 2.5 Mbit/s + AAC pushed over RTMP; $rounds rounds of $secs s) | figure | target |"
echo "|---|---|---|"
echo "| nginx + RTMP module, HLS on, $viewers RTMP players: CPU (cores) per round | ${ref[*]} | |"
echo "| Roomcast + its ffmpeg (copy), $viewers video-socket viewers: CPU (cores) per round | ${ours[*]} | |"
echo "| of which the Roomcast process itself (RTMP, fan-out; the rest is its ffmpeg) | ${server_only[*]} | |"
echo "| the Roomcast process idle, before the rounds (no room live) | $idle | |"
echo "| Roomcast / nginx, median of the interleaved pairs | **${ratio}x** (${ratios[*]}) | <= 1.1x |"
echo "| what Roomcast's $viewers viewers received in the last round | $received | |"
echo "| publisher launched to first fragment at a waiting viewer, median of $starts (ms) | **$first_m** (${firsts[*]}) | <= 1000 ms |"
echo "| push to glass: clock in the published picture to the frame shown by Chromium over the video socket, $e2e_joins joins: median / p95 / max (ms) | $e2e | median <= 500 ms |"
