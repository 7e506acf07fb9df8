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
order = {"idle": 0, "S1": 1, "S1z": 2, "S1z+filters": 3, "S2": 4, "S2z": 5, "S3": 6, "S3z": 7,
         "S4": 8, "S4z": 9, "S5": 10, "S5z": 11}
servers = {"roomcast": 0, "actix-ws": 1, "node-ws": 2}
rows.sort(key=lambda r: (servers.get(r["server"], 9), order.get(r["scenario"], 9)))
by = {(r["server"], r["scenario"]): r for r in rows}

print("| server | scenario | rounds | viewers | messages/s delivered | frames/s | server CPU s | messages per CPU-s | frames per CPU-s | p99 latency ms | bytes per message | KB per connection |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if r["scenario"] == "idle":
        print(f"| {r['server']} | idle | {r['rounds']} | {r['conns']} | | | | | | | | {r['kb_per_conn']:.1f} |")
        continue
    print(
        f"| {r['server']} | {r['scenario']} | {r['rounds']} | {r['conns']} | {r['messages_per_s']:,.0f} | {r['frames_per_s']:,.0f} "
        f"| {r['server_cpu_secs']:.2f} | {r['messages_per_cpu_s']:,.0f} | {r['frames_per_cpu_s']:,.0f} "
        f"| {r['p99_ms']:.0f} | {r.get('bytes_per_message', 0):.1f} | |"
    )


def ratio(a, b, key):
    x, y = by.get(a), by.get(b)
    if not x or not y or not y[key]:
        return "n/a"
    return f"{x[key] / y[key]:.2f}x"


print()
if failed:
    print(f"- rounds in which the server delivered nothing (left out): {', '.join(failed)}")
print(f"- S1 messages per CPU-second vs Node ws, plain viewers (earlier target >= 20x): **{ratio(('roomcast', 'S1'), ('node-ws', 'S1'), 'messages_per_cpu_s')}**")
print(f"- S1 messages per CPU-second vs Node ws, compressed viewers (target >= 50x): **{ratio(('roomcast', 'S1z'), ('node-ws', 'S1'), 'messages_per_cpu_s')}**")
print(f"- S3 frames per CPU-second vs minimal actix-ws (target >= 0.9x): **{ratio(('roomcast', 'S3'), ('actix-ws', 'S3'), 'frames_per_cpu_s')}**")
for name in ["S1", "S1z"]:
    r = by.get(("roomcast", name))
    if r:
        offered = 1000 * r["conns"]
        print(f"- {name} messages delivered per second: **{r['messages_per_s']:,.0f}** ({100 * r['messages_per_s'] / offered:.0f} % of {offered:,} offered; target for S1z >= 9M, 90 %), p99 **{r['p99_ms']:.0f} ms** (target <= 150 ms)")
plain, packed = by.get(("roomcast", "S1")), by.get(("roomcast", "S1z"))
if plain and packed and plain.get("bytes_per_message"):
    print(f"- bytes per delivered message: plain {plain['bytes_per_message']:.1f}, compressed {packed['bytes_per_message']:.1f} ({100 * packed['bytes_per_message'] / plain['bytes_per_message']:.0f} %)")
print(f"- S1z with 1,000 filter words vs without, messages per second (target >= 0.95x): **{ratio(('roomcast', 'S1z+filters'), ('roomcast', 'S1z'), 'messages_per_s')}**; per CPU-second: {ratio(('roomcast', 'S1z+filters'), ('roomcast', 'S1z'), 'messages_per_cpu_s')}")
s4, s1z = by.get(("roomcast", "S4z")), by.get(("roomcast", "S1z"))
if s4 and s1z and s1z["p99_ms"]:
    print(f"- S4z fast viewers' p99 vs S1z's (target within 20 %): {s4['p99_ms']:.0f} ms vs {s1z['p99_ms']:.0f} ms (**{s4['p99_ms'] / s1z['p99_ms']:.2f}x**)")
