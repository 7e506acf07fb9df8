#!/usr/bin/env bash
# B3: the live pipeline. A 720p30 H.264/AAC source with a 1 s GOP (ffmpeg testsrc2, served
# over RTMP by ffmpeg's listener), pulled by Roomcast pinned to CPU 1 (one worker; its ffmpeg
# child inherits the pinning). Measured: the CPU of Roomcast + its ffmpeg per media second
# against the very same ffmpeg command run by hand (bench ingest-args prints it), with video
# viewers connected; the time from connect to the first fragment for viewers joining a
# running room; the time to the first fragment when a viewer wakes an on-demand source; and
# the server-added latency from Roomcast's delivery histogram; and the end-to-end latency in
# a real Chromium playing the room page over the video socket and over HLS, read from a wall
# clock the source burns into its picture (bench/e2e-latency.mjs).
# The source and the clients run on CPU 0.
# Usage: bench/b3.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
# Every load client connects from 127.0.0.1: lift the per-address socket cap and the
# per-user room rate that protect a public server.
export ROOMCAST__LIMITS__WS_PER_IP=1000000 ROOMCAST__LIMITS__ROOMS_PER_HOUR=100000

secs=20; viewers=10; joins=10; capacity=2000; e2e_secs=18; e2e_joins=6
[[ "${1:-}" == "--smoke" ]] && { secs=4; viewers=2; joins=3; capacity=50; e2e_secs=3; e2e_joins=1; }
[[ -d tests/browser/node_modules/playwright-core ]] ||
  { echo "b3: the browser packages are missing: npm ci --prefix tests/browser" >&2; exit 1; }
source bench/lib.sh
build "${1:-}"

work=$(mktemp -d)
groups=()
cleanup() { for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
# CPU ticks of a process; 0 once it is gone (a source that dropped makes ffmpeg restart, and
# the figure of that round is then low: the run says so).
ticks() {
  if [[ -r "/proc/$1/stat" ]]; then awk '{print $14 + $15}' "/proc/$1/stat"; else
    echo "b3: process $1 ended during a measurement (the source dropped); this figure is low" >&2; echo 0; fi
}
hz=$(getconf CLK_TCK)
# Waits until a source listens on a port, read from /proc/net/tcp: a test connection would
# use up the listener's one client. The encoders share CPU 0, so a listener can take seconds.
wait_listen() { # port
  local hex; hex=$(printf ':%04X' "$1")
  for _ in $(seq 1 150); do
    awk -v p="$hex" '$2 ~ p"$" && $4 == "0A" {found = 1} END {exit !found}' /proc/net/tcp && return 0
    sleep 0.1
  done
  echo "b3: no source listens on port $1" >&2; return 1
}
# Processes come and go while this reads /proc: a vanished one is skipped, not an error
# (under pipefail its awk's status would end the run).
children() { local p; for p in /proc/[0-9]*; do awk -v want="$1" '$4 == want {print $1}' "$p/stat" 2>/dev/null || true; done; }

# A source that serves each client that connects (the listener takes one at a time).
# With a filter graph, the picture is what the graph makes of input 0 (labelled [v]).
source_loop() { # url [filter_complex]
  local picture=""
  [[ -n "${2:-}" ]] && picture="-filter_complex \"$2\" -map '[v]' -map 1:a"
  setsid bash -c "while :; do taskset -c 0 ffmpeg -nostdin -v quiet -re \
    -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=sample_rate=48000 $picture \
    -c:v libx264 -preset ultrafast -tune zerolatency -g 30 -b:v 2500k -pix_fmt yuv420p \
    -c:a aac -f flv -listen 1 '$1'; done" >/dev/null 2>&1 &
  groups+=($!)
}

src1=rtmp://127.0.0.1:18201/live/b3
src2=rtmp://127.0.0.1:18202/live/b3-on-demand
src3=rtmp://127.0.0.1:18204/live/b3-clock
source_loop "$src1"; source_loop "$src2"
# The clock: the wall time in milliseconds (modulo 2^32) as 32 blocks of 40x48 pixels along
# the top, black for 0 and white for 1, lowest bit first. The bar's frames are stamped with
# the real time as they are made (RTCTIME), then given the picture's timestamps to overlay it.
bit="mod(floor(floor(T*1000)/pow(2,floor(X/40))),2)"
source_loop "$src3" "color=c=black:s=1280x48:r=30,format=yuv420p,settb=1/1000000,setpts=RTCTIME,\
geq=lum='if($bit,235,16)':cb=128:cr=128,setpts=N/(30*TB)[bar];[0:v][bar]overlay=0:0:shortest=1[v]"
wait_listen 18201

# --- reference: the same ffmpeg command, by hand ---------------------------------------
mkdir -p "$work/ref"
mapfile -t args < <("$bin/ingest-args" "$src1")
(cd "$work/ref" && exec setsid taskset -c 1 ffmpeg "${args[@]}" >/dev/null 2>&1 </dev/null) &
ref_pid=$!; groups+=($ref_pid)
sleep 3
a=$(ticks "$ref_pid"); sleep "$secs"; b=$(ticks "$ref_pid")
ref_cpu=$(awk -v t=$((b - a)) -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.4f", t / hz / s}')
kill -- "-$ref_pid"; sleep 1; wait_listen 18201

# --- Roomcast ------------------------------------------------------------------------
db="sqlite://$work/roomcast.db"
export ROOMCAST__DATABASE__URL="$db" ROOMCAST__STORAGE__DIR="$work/data" RUST_LOG=warn
ROOMCAST_PASSWORD="bench-password" "$bin/roomcast" user add bench --admin </dev/null >/dev/null
(cd "$work" && ROOMCAST__HTTP__ADDR=127.0.0.1:18203 ROOMCAST__HTTP__WORKERS=1 \
   exec setsid taskset -c 1 "$OLDPWD/$bin/roomcast" serve) &
server=$!; groups+=($server)
wait_port 18203
api=http://127.0.0.1:18203
token=$(curl -sf -X POST "$api/api/sessions" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/')
room() { # url on_demand
  curl -sf -X POST "$api/api/rooms" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"title\":\"B3\",\"source_url\":\"$1\",\"on_demand\":$2}" | sed 's/.*"id":"\([0-9a-f-]*\)".*/\1/'
}
r1=$(room "$src1" false)
running() { # room
  for _ in $(seq 1 100); do curl -sf "$api/api/rooms/$1" | grep -q '"state":"running"' && return 0; sleep 0.2; done
  echo "b3: the room never ran" >&2; return 1
}
running "$r1"
ws1="ws://127.0.0.1:18203/ws/rooms/$r1/video"

taskset -c 0 "$bin/video-load" hold "$ws1" "$viewers" $((secs + 4)) >"$work/hold.json" &
hold=$!
sleep 3
# The server's ffmpeg (waiting out a restart if the source dropped meanwhile).
child=""
for _ in $(seq 1 50); do child=$(children "$server" | sed -n 1p); [[ -n "$child" ]] && break; sleep 0.2; done
[[ -n "$child" ]] || { echo "b3: no ffmpeg runs under the server" >&2; exit 1; }
a=$(( $(ticks "$server") + $(ticks "$child") )); sleep "$secs"; b=$(( $(ticks "$server") + $(ticks "$child") ))
ours=$(awk -v t=$((b - a)) -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.4f", t / hz / s}')
wait "$hold"
received=$(cat "$work/hold.json")
# Server-added latency: the delivery histogram (stdout read to socket write), its p99 as the
# upper bound of the bucket that holds it.
delivery=$(curl -sf "$api/metrics" | awk '
  /^roomcast_video_delivery_seconds_bucket/ { match($0, /le="[^"]+"/); k++; le[k] = substr($0, RSTART + 4, RLENGTH - 5); n[k] = $2 }
  /^roomcast_video_delivery_seconds_count/ { c = $2 }
  END { for (i = 1; i <= k; i++) if (n[i] >= 0.99 * c) { if (le[i] == "+Inf") print "> 1000 ms of " c; else printf "<= %g ms of %d\n", le[i] * 1000, c; exit } }')

joined=$(taskset -c 0 "$bin/video-load" join "$ws1" "$joins")

# Capacity: many viewers on the one server core. Each should get the whole stream; a viewer
# that falls behind skips to the next keyframe, so fragments received / fragments sent
# shows how much of the stream got through.
hold_secs=10
taskset -c 0 "$bin/video-load" hold "$ws1" "$capacity" $((hold_secs + 6)) >"$work/capacity.json" &
hold=$!
sleep 6
a=$(( $(ticks "$server") + $(ticks "$child") )); sleep "$hold_secs"; b=$(( $(ticks "$server") + $(ticks "$child") ))
capacity_cpu=$(awk -v t=$((b - a)) -v hz="$hz" -v s="$hold_secs" 'BEGIN {printf "%.2f", t / hz / s}')
wait "$hold"
capacity_got=$(cat "$work/capacity.json")
# Fragments one viewer would get over the whole hold: the 10 viewers' figure scaled in time.
per_viewer=$(awk -v f="$(sed 's/.*"fragments": \([0-9]*\).*/\1/' "$work/hold.json")" -v v="$viewers" -v s=$((secs + 4)) -v h=$((hold_secs + 6)) 'BEGIN {printf "%.0f", f / v / s * h}')
capacity_share=$(awk -v f="$(sed 's/.*"fragments": \([0-9]*\).*/\1/' <<<"$capacity_got")" -v n="$capacity" -v p="$per_viewer" 'BEGIN {printf "%.1f", 100 * f / (n * p)}')
wait_listen 18202
r2=$(room "$src2" true)
first=$(taskset -c 0 "$bin/video-load" join "ws://127.0.0.1:18203/ws/rooms/$r2/video" 1)

# End-to-end: the first room's pull stops, leaving CPU 0 to the clock's encoder and the browser.
curl -sf -X POST "$api/api/admin/rooms/$r1/ingest/stop" -H "authorization: Bearer $token" >/dev/null
wait_listen 18204
r3=$(room "$src3" false)
running "$r3"
# A run that read no frame at all prints what it saw and is tried once more.
e2e() { # query joins
  { taskset -c 0 node bench/e2e-latency.mjs "$api/live/$r3$1" "$e2e_secs" "$2" ||
    taskset -c 0 node bench/e2e-latency.mjs "$api/live/$r3$1" "$e2e_secs" "$2"; } |
    sed 's/.*"frames":\([0-9]*\),"unreadable":\([0-9]*\),"median_ms":\([0-9]*\),"p95_ms":\([0-9]*\),"max_ms":\([0-9]*\),"joins":\[\(.*\)\].*/**\3** \/ \4 \/ \5 (\1 frames, \2 unreadable; median per join \6)/'
}
e2e_ws=$(e2e "" "$e2e_joins")
e2e_hls=$(e2e "?player=hls" $(( (e2e_joins + 1) / 2 )))

median() { tr ',' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
join_ms=$(sed 's/.*\[\(.*\)\].*/\1/' <<<"$joined")
echo
echo "date: $(date -u +%Y-%m-%d), commit: $(git describe --always --dirty 2>/dev/null || echo unknown), cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "| B3 measurement ($secs s, 720p30 H.264 2.5 Mbit/s + AAC over RTMP) | figure | target |"
echo "|---|---|---|"
echo "| plain ffmpeg, same command by hand: CPU per media second | $ref_cpu | |"
allowed=$(awk -v a="$ref_cpu" -v v="$viewers" 'BEGIN {printf "%.4f", 1.2 * a + 0.005 * v / 10}')
echo "| Roomcast + its ffmpeg, $viewers video viewers: CPU per media second | $ours (**$(awk -v a="$ref_cpu" -v b="$ours" 'BEGIN {printf "%.2f", b / a}')x**; allowed $allowed) | <= 1.2x plain ffmpeg + 0.5% of a core per 10 viewers |"
echo "| what the $viewers viewers received | $received | |"
echo "| server-added latency, fragment read from ffmpeg to written to a socket: p99 | **$delivery** fragments | <= 50 ms |"
echo "| viewer joining a running room: connect to first fragment, median of $joins (ms) | **$(median <<<"$join_ms")** ($join_ms) | <= 200 ms |"
echo "| $capacity video viewers on one server core: server CPU (cores) | $capacity_cpu | |"
echo "| the same: share of the stream that reached them (fragments received / expected) | **$capacity_share %** ($capacity_got) | >= 2,000 viewers per core at 2.5 Mbit/s |"
echo "| end to end, clock in the source's picture to the frame shown by Chromium, WebSocket fMP4 (MSE), $e2e_joins joins: median / p95 / max (ms) | $e2e_ws | < 1000 ms |"
echo "| the same over HLS (hls.js, 1 s segments), $(( (e2e_joins + 1) / 2 )) joins: median / p95 / max (ms) | $e2e_hls | <= 4000 ms |"
echo "| on-demand source woken by a viewer: connect to first fragment (ms) | **$(sed 's/.*\[\(.*\)\].*/\1/' <<<"$first")** | <= 1300 ms |"
