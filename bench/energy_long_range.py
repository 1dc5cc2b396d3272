#!/usr/bin/env python3
"""Long-range energy benchmark (issue 19), run by bench/energy_long_range.sh.

Against a running influxd and `zaehlwerk api` (ports and token from the environment, see the script):
  load     one year of 2-second energy_import readings for building b00 (b00-main), and one month of 15-minute
           readings for buildings b01..b60, as line protocol in 50,000-line batches from 2 writers;
  measure  alternated rounds, each `N` sequential requests of the 12-month report and of the town ranking,
           with the rollups (watermark present) and without (watermark removed: the raw-reading path);
           prints p50/p99 per phase and whether every answer was exact and complete.
"""

import http.client
import json
import math
import os
import sys
import threading
import time
import urllib.parse

INFLUX_PORT = int(os.environ["INFLUX_PORT"])
API_PORT = int(os.environ.get("API_PORT", "0"))
DB = "zaehlwerk"
YEAR_START = 1764460800  # 2025-11-30T00:00:00Z
YEAR_SECONDS = 367 * 86400  # to 2026-12-02: every edge of Dec 2025 .. Nov 2026 with margin
MONTH_START = 1793404800  # 2026-10-31T00:00:00Z: November 2026 in Berlin with margin
MONTH_SECONDS = 32 * 86400
BATCH = 50_000


def influx(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", INFLUX_PORT, timeout=600)
    c.request(method, path, body=body, headers={"Content-Type": "text/plain"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"influx {path}: {r.status} {data[:300]!r}")
    return data


def year_lines(start, end):
    """2-second readings of b00-main: a load between 10 and 30 kW (daily and weekly shape), Wh to 3 decimals."""
    out = []
    # Closed form of the counter: integral of the load, so any chunk starts at the right value.
    for t in range(start, end, 2):
        s = t - YEAR_START
        wh = 20_000 * s / 3600 + 10_000 * 86400 / (2 * math.pi) * (1 - math.cos(2 * math.pi * s / 86400)) / 3600
        out.append(f"readings,site=b00,device=b00-main energy_import={wh:.3f} {t}\n")
    return out


def month_lines(b):
    out = []
    for k in range(MONTH_SECONDS // 900):
        t = MONTH_START + 900 * k
        # Building b: (1 + b/10) kW steady, so the ranking has a known order.
        wh = (1000 + 100 * b) * k / 4
        out.append(f"readings,site=b{b:02d},device=b{b:02d}-main energy_import={wh:.1f} {t}\n")
    return out


def load():
    t0 = time.time()
    influx("POST", "/query?" + urllib.parse.urlencode({"q": f"CREATE DATABASE {DB}"}))
    chunks = []
    step = BATCH * 2
    for a in range(YEAR_START, YEAR_START + YEAR_SECONDS, step):
        chunks.append((a, min(a + step, YEAR_START + YEAR_SECONDS)))
    points = [0]
    lock = threading.Lock()

    def writer(mine):
        for a, b in mine:
            lines = year_lines(a, b)
            influx("POST", f"/write?db={DB}&precision=s", "".join(lines).encode())
            with lock:
                points[0] += len(lines)

    threads = [threading.Thread(target=writer, args=(chunks[i::2],)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    year_points = points[0]
    lines = []
    for b in range(1, 61):
        lines.extend(month_lines(b))
    for i in range(0, len(lines), BATCH):
        influx("POST", f"/write?db={DB}&precision=s", "".join(lines[i : i + BATCH]).encode())
    print(
        f"loaded: {year_points:,} 2-second readings (b00, 367 days) and {len(lines):,} 15-minute readings"
        f" (60 buildings, 32 days) in {time.time() - t0:.0f} s"
    )


def api_get(conn, path):
    conn.request("GET", path, headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"api {path}: {r.status} {body[:300]!r}")
    return json.loads(body)


REPORT = "/api/v1/devices/b00-main/energy?period=month&count=12&until=2026-11-15"
RANKING = "/api/v1/ranking?period=month&until=2026-11-15"


def check(name, body):
    """Every figure exact to the generated data and complete."""
    if name == "report":
        months = body["periods"]
        assert len(months) == 12 and all(m["complete"] for m in months), months
        return body["total"]["wh"]
    sites = body["sites"]
    assert len(sites) == 61 and all(s["complete"] for s in sites), sites
    # b60 first (7 kW), b00 (20 kW) above all of them.
    assert sites[0]["site"] == "b00" and sites[1]["site"] == "b60", [s["site"] for s in sites[:3]]
    return sites[1]["wh"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)]


STATE_SAVE = []


def rollups(on):
    if on:
        influx("POST", f"/write?db={DB}&rp=rollups&precision=ms", "".join(STATE_SAVE).encode())
    else:
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


def measure(rounds, n, raw_n):
    conn = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=600)
    lat = {}
    figures = {}
    for r in range(rounds):
        for mode in (["rollups", "raw"] if r % 2 == 0 else ["raw", "rollups"]):
            rollups(mode == "rollups")
            for name, path in (("report", REPORT), ("ranking", RANKING)):
                k = n if mode == "rollups" else raw_n
                for _ in range(k):
                    t = time.perf_counter()
                    body = api_get(conn, path)
                    lat.setdefault((name, mode), []).append(1000 * (time.perf_counter() - t))
                    figures.setdefault((name, mode), set()).add(round(check(name, body), 3))
        rollups(True)
    for name in ("report", "ranking"):
        for mode in ("rollups", "raw"):
            xs = lat[(name, mode)]
            print(
                f"{name:8s} {mode:8s} n={len(xs):4d}  p50 {pct(xs, 50):8.1f} ms  p99 {pct(xs, 99):8.1f} ms"
                f"  max {max(xs):8.1f} ms  figures {sorted(figures[(name, mode)])}"
            )
        same = figures[(name, "rollups")] == figures[(name, "raw")]
        print(f"{name:8s} rollup and raw figures equal: {same}")


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load()
    else:
        measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
