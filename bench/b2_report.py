"""Formats bench/b2.sh results (one JSON object per line) as the markdown table of
docs/benchmarks.md, with the ratios the targets ask for."""
import json
import sys

runs = [json.loads(line) for line in open(sys.argv[1])]

# Scenarios measured in several interleaved rounds are reported by their median round
# (by messages per CPU-second), with the number of rounds.
groups = {}
failed = []
for r in runs:
    if r["scenario"] != "idle" and r["messages"] == 0:
        # The server answered nothing (it crashed or refused the load): not a round.
        failed.append(f"{r['server']} {r['scenario']}")
        continue
    groups.setdefault((r["server"], r["scenario"]), []).append(r)
rows = []
for key, group in groups.items():
    group.sort(key=lambda r: r["messages_per_cpu_s"])
    median = dict(group[len(group) // 2])
    median["rounds"] = len(group)
    rows.append(median)
order = {"idle": 0, "S1": 1, "S2": 2, "S3": 3, "S4": 4, "S5": 5}
servers = {"roomcast": 0, "actix-ws": 1, "node-ws": 2}
rows.sort(key=lambda r: (servers.get(r["server"], 9), order.get(r["scenario"], 9)))
by = {(r["server"], r["scenario"]): r for r in rows}

print("| server | scenario | rounds | viewers | messages/s delivered | frames/s | server CPU s | messages per CPU-s | frames per CPU-s | p99 latency ms | KB per connection |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if r["scenario"] == "idle":
        print(f"| {r['server']} | idle | {r['rounds']} | {r['conns']} | | | | | | | {r['kb_per_conn']:.1f} |")
        continue
    print(
        f"| {r['server']} | {r['scenario']} | {r['rounds']} | {r['conns']} | {r['messages_per_s']:,.0f} | {r['frames_per_s']:,.0f} "
        f"| {r['server_cpu_secs']:.2f} | {r['messages_per_cpu_s']:,.0f} | {r['frames_per_cpu_s']:,.0f} "
        f"| {r['p99_ms']:.0f} | |"
    )


def ratio(a, b, key):
    x, y = by.get(a), by.get(b)
    if not x or not y or not y[key]:
        return "n/a"
    return f"{x[key] / y[key]:.2f}x"


print()
if failed:
    print(f"- rounds in which the server delivered nothing (left out): {', '.join(failed)}")
print(f"- S1 messages per CPU-second vs Node ws (target >= 20x): **{ratio(('roomcast', 'S1'), ('node-ws', 'S1'), 'messages_per_cpu_s')}**")
print(f"- S3 frames per CPU-second vs minimal actix-ws (target >= 0.9x): **{ratio(('roomcast', 'S3'), ('actix-ws', 'S3'), 'frames_per_cpu_s')}**")
s1 = by.get(("roomcast", "S1"))
if s1:
    print(f"- S1 frames written per server CPU-second (target >= 100k): **{s1['frames_per_cpu_s']:,.0f}**")
    print(f"- S1 messages delivered per second (target >= 5M): **{s1['messages_per_s']:,.0f}**")
