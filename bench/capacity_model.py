#!/usr/bin/env python3
"""The capacity model from bench/capacity.sh's RUN lines.

Per source (modbus, mqtt) and service: the median cores and MiB of RSS at each load level over the rounds,
cores and MiB per 1,000 readings/s at each level, and the least-squares line cores = a + b × (readings/s ÷
1000) through the medians (a: the service's fixed cost, b: its cost per 1,000 readings/s; the same for MiB).
Then the machines for 10,000, 100,000 and 1,000,000 meters at 15-minute and 2-second intervals, one reading
(one message with all of a meter's quantities, as the demo's meters send) per meter per interval, on the
worse of the two sources per service, with storage on VictoriaMetrics, each machine MACHINE_CORES cores and
MACHINE_GIB GiB used to UTILISATION (env; 8, 32, 0.6).

Usage: capacity_model.py RUNS_FILE
"""
import math
import os
import statistics as st
import sys
from collections import defaultdict

SERVICES = ["gateway", "ingest_vm", "ingest_influx", "analytics", "api", "mosquitto", "victoria_metrics",
            "influxd", "sim"]
# What a deployment on VictoriaMetrics runs (the simulator is the load, ingest_influx the other engine).
DEPLOYED = ["gateway", "ingest_vm", "analytics", "api", "mosquitto", "victoria_metrics"]
CORES = float(os.environ.get("MACHINE_CORES", 8))
GIB = float(os.environ.get("MACHINE_GIB", 32))
UTIL = float(os.environ.get("UTILISATION", 0.6))
# One mosquitto's measured forwarding limit to ingest (BENCHMARKS.md, "Known limit").
BROKER_LIMIT = 25_373

runs = []
for line in open(sys.argv[1]):
    if not line.startswith("RUN "):
        continue
    kv = dict(f.split("=", 1) for f in line.split("#")[0].split()[1:])
    runs.append(kv)
if not runs:
    sys.exit("no RUN lines")

by = defaultdict(list)
for r in runs:
    by[(r["source"], int(r["nominal"]))].append(r)

fits = {}
per_k = defaultdict(dict)  # (service) -> source -> [cores per 1k/s at each level]
print("\n## Per service: median over rounds (cores = CPU seconds per second; MiB = median RSS)")
for source in sorted({s for s, _ in by}):
    levels = sorted(n for s, n in by if s == source)
    med = {n: {k: st.median(float(r[k]) for r in by[(source, n)]) for k in by[(source, n)][0]
               if k not in ("source", "nominal", "round")} for n in levels}
    print(f"\nsource {source}: " + ", ".join(
        f"nominal {n}/s → ingest received {med[n]['rate']:.0f}/s (rounds: "
        + " ".join(f"{float(r['rate']):.0f}" for r in by[(source, n)])
        + f"; load average {min(float(r['load']) for r in by[(source, n)]):.1f}–"
        + f"{max(float(r['load']) for r in by[(source, n)]):.1f})" for n in levels))
    print("| service | " + " | ".join(f"{med[n]['rate']:.0f}/s: cores, MiB" for n in levels)
          + " | cores = a + b·k | MiB = a + b·k |")
    print("|---|" + "---|" * len(levels) + "---|---|")
    for svc in SERVICES:
        xs = [med[n]["rate"] / 1000 for n in levels]
        fit = {}
        for kind in ("cpu", "mib"):
            ys = [med[n][f"{kind}.{svc}"] for n in levels]
            if len(xs) > 1:
                mx, my = st.mean(xs), st.mean(ys)
                b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
                a = my - b * mx
            else:
                a, b = 0.0, ys[0] / xs[0]
            fit[kind] = (a, b)
        fits[(source, svc)] = fit
        cells = [f"{med[n][f'cpu.{svc}']:.3f}, {med[n][f'mib.{svc}']:.0f}" for n in levels]
        (ca, cb), (ma, mb) = fit["cpu"], fit["mib"]
        print(f"| {svc} | " + " | ".join(cells) + f" | {ca:.3f} + {cb:.4f}·k | {ma:.0f} + {mb:.2f}·k |")
    print("(k = readings/s ÷ 1000; cores per 1,000 readings/s at each level = cores ÷ k)")
    print("| service | " + " | ".join(f"cores per 1k/s at {med[n]['rate']:.0f}/s" for n in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for svc in SERVICES:
        per_k[svc][source] = [med[n][f"cpu.{svc}"] / (med[n]["rate"] / 1000) for n in levels]
        print(f"| {svc} | " + " | ".join(f"{v:.4f}" for v in per_k[svc][source]) + " |")

print("\n## Summary: cores per 1,000 readings/s (range over the levels) and MiB per 1,000 meters (modbus slope)")
print("| process | " + " | ".join(sorted({s for s, _ in by})) + " | MiB per 1,000 meters |")
print("|---|" + "---|" * len({s for s, _ in by}) + "---|")
for svc in SERVICES:
    cells = [f"{min(per_k[svc][s]):.3f}–{max(per_k[svc][s]):.3f}" for s in sorted(per_k[svc])]
    mib = fits.get(("modbus", svc), {}).get("mib", (0, float("nan")))[1]
    print(f"| {svc} | " + " | ".join(cells) + f" | {mib:.1f} |")


def need(svc, k, kind, sources=None):
    """The worse source's line at k, never below zero."""
    return max(max(0.0, fits[(s, svc)][kind][0] + fits[(s, svc)][kind][1] * k)
               for s in sources or {s for s, v in fits if v == svc})


# CPU follows the reading rate; memory follows the devices (each service's per-device state: the gateway's
# poll plan, analytics' learned normals, the API's live values, the engine's series), so memory comes from the
# modbus runs, where devices = readings/s (one poll a second), taken at k = meters ÷ 1000.
MEM_SOURCES = ["modbus"] if ("modbus", "gateway") in fits else None


print(f"\n## Machines ({CORES:.0f} cores, {GIB:.0f} GiB, used to {UTIL:.0%}; storage on VictoriaMetrics;"
      " cores from the readings/s, GiB from the meters; no retention or query load in the engine's share)")
print("| meters | interval | readings/s | cores | GiB | machines | broker |")
print("|---|---|---|---|---|---|---|")
for meters in (10_000, 100_000, 1_000_000):
    for label, secs in (("15 min", 900), ("2 s", 2)):
        rate = meters / secs
        k = rate / 1000
        cores = sum(need(s, k, "cpu") for s in DEPLOYED)
        gib = sum(need(s, meters / 1000, "mib", MEM_SOURCES) for s in DEPLOYED) / 1024
        machines = max(1, math.ceil(max(cores / (CORES * UTIL), gib / (GIB * UTIL))))
        broker = "one mosquitto" if rate < BROKER_LIMIT * 0.5 else (
            f"a cluster (untested) of ≥ {math.ceil(rate / (BROKER_LIMIT * 0.5))} nodes of one mosquitto's rate")
        print(f"| {meters:,} | {label} | {rate:,.0f} | {cores:.1f} | {gib:.1f} | {machines} | {broker} |")
