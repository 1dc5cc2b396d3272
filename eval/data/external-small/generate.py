#!/usr/bin/env python3
"""Writes the external-small evaluation dataset: readings, weather, weather forecasts and labels.

Written independently of firmware-sim (nothing is imported or copied from it) and from other physics:

* Buildings: a base load, an occupancy trapezoid on working days (ramps 06-08 and 16-18 local), a
  lunch bump, a cooling load above 20 degrees C outdoor temperature, and AR(1) noise; public holidays run at
  the weekend level. Main meters report mean active power every 15 minutes (as a smart meter's load
  profile does), plugs every 15 minutes too.
* Households: a morning and an evening peak from a sum of Gaussians, a fridge plug cycling (compressor on
  35 % of the time in 40-minute cycles), a washing machine on random days.
* Trees: a single-bucket soil model per tree in volumetric water content (VWC, %): drying proportional to
  the plant-available water times ET0 (not a stress-factor step), rain infiltration up to field capacity,
  drainage above it with a 12-hour time constant; the parks department waters 100 L two days after a tree
  turns critical. Sensors report every 30 minutes with 0.15 % noise, quantised to 0.1 %.

Labels come from the generator's own truth: incidents it inserts (energy), the hours a tree's true VWC is
at or below the critical level (start: first critical moment, end: when water lifted it again), the sensor
faults it inserts, and negatives (public holidays, the fridge, heavy rain on a sensor).

Run from anywhere: `python3 eval/data/external-small/generate.py`; it rewrites the files next to it.
Deterministic (fixed seed).
"""

import csv
import gzip
import math
import os
import random
from datetime import date, datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = random.Random(2204)
UTC = timezone.utc
START = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 2026-04-01 00:00 CEST
DAYS = 61  # to 2026-06-01 00:00 CEST
STEP = timedelta(minutes=15)
HOLIDAYS = {date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 14), date(2026, 5, 25)}


def local(t):
    """Central European Summer Time throughout the dataset (April and May)."""
    return t + timedelta(hours=2)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day, hh, mm=0):
    """UTC instant of local `day` `hh:mm`."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=2)


# --- Weather: daily ET0 (mm) and rain (mm), temperature (degrees C) -----------------------------------------
RAIN = {  # local day -> mm
    date(2026, 4, 1): 6, date(2026, 4, 2): 9, date(2026, 4, 3): 4, date(2026, 4, 9): 7, date(2026, 4, 10): 12,
    date(2026, 4, 17): 5, date(2026, 4, 18): 22, date(2026, 4, 19): 8, date(2026, 4, 26): 10, date(2026, 4, 27): 6,
    date(2026, 5, 7): 14, date(2026, 5, 8): 9, date(2026, 5, 21): 3, date(2026, 5, 30): 18,
}
DAYS_LIST = [date(2026, 4, 1) + timedelta(days=i) for i in range(DAYS)]
TEMP, ET0 = {}, {}
for i, d in enumerate(DAYS_LIST):
    seasonal = 9.0 + 0.17 * i  # spring warming
    TEMP[d] = seasonal + RNG.gauss(0, 2.0) - (3.0 if d in RAIN else 0.0) + (6.0 if date(2026, 5, 27) <= d <= date(2026, 5, 29) else 0.0)
    sun = 0.45 if d in RAIN else 1.0
    ET0[d] = round(max(0.4, (0.9 + 0.16 * TEMP[d]) * sun * (1 + RNG.gauss(0, 0.08))), 2)


def et0_hourly(t):
    """ET0 (mm) of the hour starting at `t`: the day's ET0 over a half-sine 06-20 local."""
    lt = local(t)
    h = lt.hour + lt.minute / 60
    if not 6 <= h < 20:
        return 0.0
    return ET0[lt.date()] * math.sin(math.pi * (h - 6) / 14) * math.pi / 28


def rain_hourly(t):
    """Rain (mm) of the hour starting at `t`: the day's rain over 14-20 local."""
    lt = local(t)
    mm = RAIN.get(lt.date(), 0)
    return mm / 6 if 14 <= lt.hour < 20 else 0.0


# --- Energy ----------------------------------------------------------------------------------------------
def smooth_step(x, a, b):
    return 0.0 if x <= a else 1.0 if x >= b else (x - a) / (b - a)


def occupancy(t):
    lt = local(t)
    d = lt.date()
    if lt.weekday() >= 5 or d in HOLIDAYS:
        return 0.0
    h = lt.hour + lt.minute / 60
    return smooth_step(h, 6, 8) * (1 - smooth_step(h, 16, 18)) + 0.15 * math.exp(-((h - 12.3) ** 2) / 0.5)


class Ar1:
    def __init__(self, sd, phi=0.9):
        self.x, self.sd, self.phi = 0.0, sd, phi

    def __call__(self):
        self.x = self.phi * self.x + RNG.gauss(0, self.sd * math.sqrt(1 - self.phi ** 2))
        return self.x


BUILDINGS = {  # site -> (base W, occupancy W, cooling W per degree above 20)
    "schule-nord": (3500, 14000, 300),
    "rathaus-ost": (3000, 9000, 450),
    "hallenbad": (21000, 6000, 100),
}
INCIDENTS = [  # (kind, site, device the meter sees it on, start, end, extra W, note)
    ("high_consumption", "hallenbad", "hallenbad-main", at(date(2026, 5, 20), 2), at(date(2026, 5, 20), 11), 14000,
     "circulation pump running at full speed after a controller fault"),
    ("high_consumption", "schule-nord", "schule-nord-main", at(date(2026, 5, 26), 20), at(date(2026, 5, 27), 7), 7000,
     "kiln in the art room left heating overnight"),
    ("high_consumption", "hh-b", "hh-b-main", at(date(2026, 5, 18), 22), at(date(2026, 5, 19), 6, 30), 2000,
     "fan heater forgotten in the basement"),
    ("baseload", "rathaus-ost", "rathaus-ost-main", at(date(2026, 5, 15), 0), at(date(2026, 6, 1), 0), 1600,
     "new server rack running around the clock"),
]
# Left on after the morning's lessons (13:00) until the caretaker's round the next morning.
LEFT_ON = ("schule-nord-beamer", at(date(2026, 5, 6), 13), at(date(2026, 5, 7), 7))


def incident_w(site, t):
    return sum(w for _, s, _, a, b, w, _ in INCIDENTS if s == site and a <= t < b)


def household_w(t, evening):
    lt = local(t)
    h = lt.hour + lt.minute / 60
    weekend = lt.weekday() >= 5 or lt.date() in HOLIDAYS
    morning = 700 * math.exp(-((h - (8.5 if weekend else 7.0)) ** 2) / 0.6)
    eve = evening * math.exp(-((h - 19.0) ** 2) / 2.5)
    midday = (500 if weekend else 120) * math.exp(-((h - 12.5) ** 2) / 1.2)
    return 180 + morning + eve + midday


def main():
    rows = []
    noise = {s: Ar1(0.04 * b) for s, (b, _, _) in BUILDINGS.items()}
    hh_noise = {"hh-a": Ar1(40), "hh-b": Ar1(40)}
    washer_days = {d for d in DAYS_LIST if RNG.random() < 0.4}
    washer_hour = {d: RNG.choice([9, 11, 15, 18]) for d in washer_days}
    fridge_phase = RNG.random() * 40
    t = START
    end = START + timedelta(days=DAYS)
    while t < end:
        lt = local(t)
        cool = max(0.0, TEMP[lt.date()] - 20) * smooth_step(lt.hour, 9, 12) * (1 - smooth_step(lt.hour, 18, 21))
        for site, (base, occ, per_deg) in BUILDINGS.items():
            w = base * (1 + noise[site]() / base) + occ * occupancy(t) + per_deg * cool + incident_w(site, t)
            rows.append((t, site, f"{site}-main", "active_power", round(max(w, 0), 1)))
        # The school's projector: on in lessons (08-13 on working days), 3 W standby otherwise.
        on = occupancy(t) > 0.5 and 8 <= lt.hour < 13
        on |= LEFT_ON[1] <= t < LEFT_ON[2]
        rows.append((t, "schule-nord", "schule-nord-beamer", "active_power", round(260 + RNG.gauss(0, 4), 1) if on else 3.0))
        # Households: hh-a with a fridge plug, hh-b with a washing machine.
        minute = (t - START).total_seconds() / 60 + fridge_phase
        fridge = 85 + RNG.gauss(0, 2) if (minute % 40) < 14 else 1.2
        rows.append((t, "hh-a", "hh-a-fridge", "active_power", round(fridge, 1)))
        washing = lt.date() in washer_days and washer_hour[lt.date()] <= lt.hour < washer_hour[lt.date()] + 2
        washer = (1900 if lt.minute < 30 and lt.hour == washer_hour.get(lt.date()) else 350) if washing else 0.8
        rows.append((t, "hh-b", "hh-b-washer", "active_power", round(washer, 1)))
        for hh, evening, extra in (("hh-a", 900, fridge), ("hh-b", 1300, washer)):
            w = household_w(t, evening) + hh_noise[hh]() + extra + incident_w(hh, t)
            rows.append((t, hh, f"{hh}-main", "active_power", round(max(w, 50), 1)))
        t += STEP
    labels = [(k, s, iso(a), iso(b), note) for k, s, _, a, b, _, note in INCIDENTS]
    labels.append(("left_on", LEFT_ON[0], iso(LEFT_ON[1]), iso(LEFT_ON[2]), "projector not switched off after the lessons"))
    for d in sorted(HOLIDAYS):
        for site in BUILDINGS:
            labels.append(("negative", site, iso(at(d, 0)), iso(at(d + timedelta(days=1), 0)), "public holiday: weekend-like use"))
    labels.append(("negative", "hh-a-fridge", iso(START + timedelta(days=21)), iso(end), "a fridge runs around the clock"))
    labels.append(("negative", "schule-nord", iso(at(date(2026, 5, 27), 12)), iso(at(date(2026, 5, 30), 0)), "hot days: cooling (weather, not a fault)"))
    trees(rows, labels, end)
    write(rows, labels)


# --- Trees -----------------------------------------------------------------------------------------------
TREES = [  # id, sensor, planted, root-zone depth mm, drying rate, start VWC
    ("baum-101", "lse-101", 2022, 320, 1.00, 27.0),
    ("baum-102", "lse-102", 2019, 420, 0.85, 26.0),
    ("baum-103", "lse-103", 1975, 600, 0.80, 27.5),
    ("baum-104", "lse-104", 2023, 280, 1.05, 25.0),
    ("baum-105", "lse-105", 2010, 500, 0.90, 26.5),
]
FC, WP = 28.0, 14.0  # the built-in `loam` profile
CRITICAL = WP + 0.5 * (FC - WP)
STUCK = ("lse-102", at(date(2026, 5, 3), 10), at(date(2026, 5, 4), 16))
GAP = ("lse-105", at(date(2026, 4, 22), 9), at(date(2026, 4, 22), 19))


def trees(rows, labels, end):
    for tree, sensor, _, depth, rate, theta in TREES:
        t, critical_since, water_at, stuck_value = START, None, None, None
        truth = []
        while t < end:
            et = et0_hourly(t) * rate * (theta - WP) / (FC - WP) * 1.6
            add = rain_hourly(t)
            if water_at is not None and t >= water_at:
                add += 100.0 / 3.0  # 100 L over the ~3 m^2 tree pit, mm
                water_at = None
            theta += 100 * (add * 0.8 - et) / depth
            if theta > FC:
                theta -= (theta - FC) * (1 - math.exp(-1 / 12))
            truth.append((t, theta))
            if theta <= CRITICAL and critical_since is None:
                critical_since = t
                water_at = at(local(t).date() + timedelta(days=2), 9)
            if theta > CRITICAL and critical_since is not None:
                labels.append(("watering_need", tree, iso(critical_since), iso(t), "true VWC at or below the critical level"))
                critical_since = None
            t += timedelta(hours=1)
        if critical_since is not None:
            labels.append(("watering_need", tree, iso(critical_since), iso(end), "true VWC at or below the critical level"))
        for i, (h, th) in enumerate(truth):
            for half in (0, 30):
                ts = h + timedelta(minutes=half)
                if sensor == GAP[0] and GAP[1] <= ts < GAP[2]:
                    continue
                v = round(th + RNG.gauss(0, 0.15), 1)
                if sensor == STUCK[0] and STUCK[1] <= ts < STUCK[2]:
                    stuck_value = stuck_value if stuck_value is not None else v
                    v = stuck_value
                rows.append((ts, "stadtgarten", sensor, "soil_moisture", v))
            if i % 6 == 0:
                rows.append((h, "stadtgarten", sensor, "battery_voltage", round(3.62 - 0.0004 * i / 24, 3)))
    labels.append(("sensor_fault", STUCK[0], iso(STUCK[1]), iso(STUCK[2]), "probe reading frozen (firmware hang)"))
    labels.append(("sensor_fault", GAP[0], iso(GAP[1]), iso(GAP[2]), "gateway outage: no uplinks"))
    labels.append(("negative", "lse-103", iso(at(date(2026, 4, 18), 12)), iso(at(date(2026, 4, 19), 12)), "heavy rain: a fast wetting is no fault"))


def write(rows, labels):
    rows.sort(key=lambda r: (r[0], r[2], r[3]))
    with gzip.GzipFile(os.path.join(HERE, "readings.csv.gz"), "wb", mtime=0) as gz:
        text = ["ts,site,device,quantity,value\n"]
        text += [f"{iso(t)},{s},{d},{q},{v}\n" for t, s, d, q, v in rows]
        gz.write("".join(text).encode())
    with open(os.path.join(HERE, "weather.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["date", "area", "et0_mm", "rain_mm", "temp_c"])
        for d in DAYS_LIST:
            w.writerow([d.isoformat(), "stadt", ET0[d], RAIN.get(d, 0), round(TEMP[d], 1)])
    with open(os.path.join(HERE, "weather_forecast.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["issued", "area", "date", "et0_mm", "rain_mm"])
        for d in DAYS_LIST:
            issued = at(d, 6)
            for lead in range(1, 6):
                day = d + timedelta(days=lead)
                if day not in ET0:
                    break
                et = max(0.2, ET0[day] * (1 + RNG.gauss(0, 0.06 * lead)))
                rain = max(0.0, RAIN.get(day, 0) * (1 + RNG.gauss(0, 0.3)) + RNG.gauss(0, 0.5 * lead) - 0.5)
                w.writerow([iso(issued), "stadt", day.isoformat(), round(et, 2), round(rain, 1)])
    with open(os.path.join(HERE, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["kind", "subject", "start", "end", "note"])
        w.writerows(sorted(labels, key=lambda l: (l[2], l[0], l[1])))


if __name__ == "__main__":
    main()
