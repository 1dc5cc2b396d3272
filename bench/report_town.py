#!/usr/bin/env python3
"""Town energy report benchmark (issue 19), run by bench/report_town.sh.

Against a running influxd and `zaehlwerk api` (ports and token from the environment, see the script):
  load     15-minute energy_import readings of 60 buildings b01..b60 from 2023-12-31 to 2026-12-02 (a steady
           load plus a daily swing, so the energy outside the usage hours is not a plain share), in
           50,000-line batches;
  measure  alternated rounds of `N` sequential `GET /api/v1/report?year=Y` over the whole town, with the
           rollups (watermark present) and without (watermark removed: the readings path), and of the
           ceiling: one InfluxDB query that only counts the same raw readings (the least any reader of the raw
           data pays); prints p50/p99 per phase and whether both paths give the same figures, all complete;
           then, unless WINDOWS=0, the same requests with the rollups' edge rows moved aside (`rollup_edge`:
           the report reads the windows over the quarter rows instead, the path before edge rows), and puts
           them back.
"""

import http.client
import json
import math
import os
import sys
import time
import urllib.parse

INFLUX_PORT = int(os.environ["INFLUX_PORT"])
API_PORT = int(os.environ.get("API_PORT", "0"))
DB = "zaehlwerk"
START = 1703980800  # 2023-12-31T00:00:00Z
END = 1796169600  # 2026-12-02T00:00:00Z
STEP = 900
BATCH = 50_000
BUILDINGS = range(1, 61)


def influx(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", INFLUX_PORT, timeout=600)
    c.request(method, path, body=body, headers={"Content-Type": "text/plain"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"influx {path}: {r.status} {data[:300]!r}")
    return data


def wh(b, t):
    """Counter of building b at t: (1 + b/10) kW steady plus a daily swing of ±(b/20) kW (closed form)."""
    s = t - START
    steady = (1000 + 100 * b) * s / 3600
    swing = 50 * b * 86400 / (2 * math.pi) * (1 - math.cos(2 * math.pi * s / 86400)) / 3600
    return steady + swing


def load():
    t0 = time.time()
    influx("POST", "/query?" + urllib.parse.urlencode({"q": f"CREATE DATABASE {DB}"}))
    n = 0
    lines = []
    for b in BUILDINGS:
        for t in range(START, END, STEP):
            lines.append(f"readings,site=b{b:02d},device=b{b:02d}-main energy_import={wh(b, t):.3f} {t}\n")
            if len(lines) == BATCH:
                influx("POST", f"/write?db={DB}&precision=s", "".join(lines).encode())
                n += len(lines)
                lines = []
    influx("POST", f"/write?db={DB}&precision=s", "".join(lines).encode())
    n += len(lines)
    print(f"loaded: {n:,} 15-minute readings (60 buildings, {(END - START) // 86400} days) in {time.time() - t0:.0f} s")


def api_get(conn, path):
    conn.request("GET", path, headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"api {path}: {r.status} {body[:300]!r}")
    return json.loads(body)


def figures(body, year):
    """(site, kWh, outside kWh, previous kWh) per building; checks what must hold."""
    out = []
    for b in body["buildings"]:
        (m,) = [m for m in b["media"] if m["medium"] == "electricity"]
        if year == 2025:
            assert m["complete"] and m["previous_complete"], m
        out.append(
            (
                b["id"],
                round(m["value"] or 0.0, 6),
                round((m["outside_usage_share"] or 0.0) * (m["value"] or 0.0), 6),
                round(m["previous_value"] or 0.0, 6),
            )
        )
    assert len(out) == 60, len(out)
    return tuple(out)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)]


STATE_SAVE = []


def rollups(on):
    if on:
        if STATE_SAVE:
            influx("POST", f"/write?db={DB}&rp=rollups&precision=ms", "".join(STATE_SAVE).encode())
        return
    q = "SELECT * FROM rollups.rollup_state"  # the rollups' retention policy
    data = json.loads(influx("GET", "/query?" + urllib.parse.urlencode({"db": DB, "q": q, "epoch": "ms"})))
    STATE_SAVE.clear()
    for s in data["results"][0].get("series", []):
        cols = s["columns"]
        for row in s["values"]:
            r = dict(zip(cols, row))
            STATE_SAVE.append(
                f"rollup_state,device={r['device']},quantity={r['quantity']},site={r['site']}"
                f" from_ms={r['from_ms']}i,through_ms={r['through_ms']}i 0\n"
            )
    influx("POST", "/query?" + urllib.parse.urlencode({"db": DB, "q": "DROP MEASUREMENT rollup_state"}))


def q(stmt):
    return influx("POST", "/query?" + urllib.parse.urlencode({"db": DB, "q": stmt}))


def edge_rows(on):
    """Moves the edge rows aside (off) or back (on)."""
    if on:
        q('SELECT * INTO rollups.rollup_edge FROM rollups.rollup_edge_aside GROUP BY *')
        q("DROP MEASUREMENT rollup_edge_aside")
    else:
        q('SELECT * INTO rollups.rollup_edge_aside FROM rollups.rollup_edge GROUP BY *')
        q("DROP MEASUREMENT rollup_edge")


def ceiling():
    """One InfluxDB query counting the raw readings of the report's span (2024 and 2025) per device."""
    q = (
        "SELECT count(energy_import) FROM readings WHERE time >= '2023-12-31T23:00:00Z' "
        "AND time < '2025-12-31T23:00:00Z' GROUP BY device"
    )
    data = json.loads(influx("GET", "/query?" + urllib.parse.urlencode({"db": DB, "q": q})))
    series = data["results"][0]["series"]
    assert len(series) == 60, len(series)
    return sum(s["values"][0][1] for s in series)


def measure(rounds, n, raw_n, years):
    conn = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=600)
    lat = {}
    figs = {}
    counted = set()
    for r in range(rounds):
        for mode in ["rollups", "raw"] if r % 2 == 0 else ["raw", "rollups"]:
            rollups(mode == "rollups")
            for year in years:
                for _ in range(n if mode == "rollups" else raw_n):
                    t = time.perf_counter()
                    body = api_get(conn, f"/api/v1/report?year={year}")
                    lat.setdefault((year, mode), []).append(1000 * (time.perf_counter() - t))
                    figs.setdefault((year, mode), set()).add(figures(body, year))
            rollups(True)
        for _ in range(n):
            t = time.perf_counter()
            counted.add(ceiling())
            lat.setdefault(("ceiling", "influx"), []).append(1000 * (time.perf_counter() - t))
    if os.environ.get("WINDOWS", "1") != "0":
        edge_rows(False)
        try:
            for year in years:
                for _ in range(n):
                    t = time.perf_counter()
                    body = api_get(conn, f"/api/v1/report?year={year}")
                    lat.setdefault((year, "windows"), []).append(1000 * (time.perf_counter() - t))
                    figs.setdefault((year, "windows"), set()).add(figures(body, year))
        finally:
            edge_rows(True)
    for (what, mode), xs in sorted(lat.items(), key=lambda kv: str(kv[0])):
        print(
            f"{what!s:8s} {mode:8s} n={len(xs):4d}  p50 {pct(xs, 50):8.1f} ms  p99 {pct(xs, 99):8.1f} ms"
            f"  max {max(xs):8.1f} ms"
        )
    print(f"ceiling: count of the raw readings of 2024-2025 = {sorted(counted)}")
    for year in years:
        f = figs[(year, "rollups")]
        # RAW_REQUESTS_PER_PHASE 0: the readings path (minutes for the town) not compared.
        same = f == figs[(year, "raw")] if (year, "raw") in figs else "not compared"
        if (year, "windows") in figs:
            same = f"{same}; equal to the windows path: {f == figs[(year, 'windows')]}"
        one = next(iter(f))
        total = sum(x[1] for x in one)
        print(
            f"year {year}: {len(f)} distinct answer(s) with rollups; equal to the readings path: {same};"
            f" town {total:,.3f} kWh; b01 {one[0]}"
        )


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load()
    else:
        measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), [int(y) for y in sys.argv[5].split(",")])
