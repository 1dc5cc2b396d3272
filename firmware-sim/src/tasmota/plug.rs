//! A simulated Tasmota smart plug (single phase, energy monitoring): its counters and its MQTT payloads.
//!
//! The load is a fridge cycling its compressor plus a kettle now and then, seeded per plug. Payloads match
//! Tasmota byte for byte in shape: `tele/<topic>/SENSOR` carries the ENERGY object with Tasmota's key order
//! and number formats (kWh with 3 decimals, `Period` in Wh, `Factor` 2 decimals, `Current` 3 decimals, power
//! and voltage whole numbers), `Time` fields are Europe/Berlin local time without an offset. Guarantees:
//! `Total` never decreases, `Today` restarts at local midnight (moving to `Yesterday`), and the `Period`
//! values add up to the growth of `Total`.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use serde::Serialize;

use crate::curves::{mix, secs, smooth, uniform, unit};
use crate::time::{berlin, tasmota_time};

/// Active and reactive power of the plug's load at `t`, in W and VAr.
pub fn plug_load(seed: u64, t: DateTime<Utc>) -> (f64, f64) {
    let s = secs(t);
    // Fridge: the compressor runs for a seeded share of a 40–60 min cycle at ~90 W, PF ~0.58.
    let cycle = uniform(seed, 1, 2400.0, 3600.0);
    let phase = ((s + uniform(seed, 2, 0.0, cycle)) / cycle).fract();
    let (mut p, q) = if phase < uniform(seed, 3, 0.3, 0.45) {
        let p = 88.0 + 4.0 * smooth(mix(seed, 4), s, 30.0);
        (p, p * 1.4)
    } else {
        (1.2, 2.5)
    };
    // Kettle: in a seeded ~10 % of 20-minute slots between 6 and 22 h local, a 2.5–4 min boil at ~2 kW.
    let slot = (s / 1200.0).floor();
    let hour = berlin(t).hour();
    let k = slot as i64 as u64;
    if (6..22).contains(&hour) && unit(mix(seed, 5), k) < 0.1 {
        let start = slot * 1200.0 + uniform(mix(seed, 6), k, 0.0, 900.0);
        if (start..start + uniform(mix(seed, 7), k, 150.0, 240.0)).contains(&s) {
            p += uniform(mix(seed, 8), k, 1850.0, 2150.0); // Resistive: no reactive power.
        }
    }
    (p, q)
}

/// One simulated plug.
#[derive(Debug, Clone, PartialEq)]
pub struct TasmotaPlug {
    seed: u64,
    booted: DateTime<Utc>,
    total_start_time: String,
    total_kwh: f64,
    yesterday_kwh: f64,
    today_kwh: f64,
    /// Wh already reported in `Period` values, so the next `Period` carries the remainder.
    reported_wh: f64,
    day: NaiveDate,
    last: DateTime<Utc>,
}

/// `tele/<topic>/STATE`, in Tasmota's key order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct State<'a> {
    time: String,
    uptime: String,
    uptime_sec: i64,
    heap: u32,
    sleep_mode: &'a str,
    sleep: u32,
    load_avg: u32,
    mqtt_count: u32,
    #[serde(rename = "POWER")]
    power: &'a str,
    wifi: Wifi,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Wifi {
    #[serde(rename = "AP")]
    ap: u32,
    #[serde(rename = "SSId")]
    ssid: &'static str,
    #[serde(rename = "BSSId")]
    bssid: String,
    channel: u64,
    mode: &'static str,
    #[serde(rename = "RSSI")]
    rssi: i64,
    signal: i64,
    link_count: u32,
    downtime: &'static str,
}

impl TasmotaPlug {
    /// A plug that booted at `now`, with seeded counters (5–200 kWh since a seeded `TotalStartTime`).
    pub fn new(seed: u64, now: DateTime<Utc>) -> Self {
        let started = now - TimeDelta::days(uniform(seed, 20, 100.0, 1500.0) as i64);
        let hours_today = f64::from(berlin(now).num_seconds_from_midnight()) / 3600.0;
        let total_kwh = uniform(seed, 21, 5.0, 200.0);
        Self {
            seed,
            booted: now,
            total_start_time: tasmota_time(started),
            total_kwh,
            yesterday_kwh: uniform(seed, 22, 0.6, 1.6),
            // Roughly what the fridge used since midnight, so Today does not start at 0 mid-day.
            today_kwh: hours_today * 0.045,
            reported_wh: total_kwh * 1000.0,
            day: berlin(now).date(),
            last: now,
        }
    }

    /// Integrates the load up to `now` in slices of at most 10 s; rolls `Today` over at local midnight.
    pub fn step(&mut self, now: DateTime<Utc>) {
        let from = self.last.max(now - TimeDelta::days(7));
        let span = now - from;
        if span <= TimeDelta::zero() {
            return;
        }
        let n = (span.num_milliseconds() / 10_000 + 1) as i32;
        let dt = span / n;
        let hours = dt.num_microseconds().unwrap_or(0) as f64 / 3.6e9;
        for i in 0..n {
            let t = from + dt * i + dt / 2;
            let day = berlin(t).date();
            if day != self.day {
                self.yesterday_kwh = if self.day.succ_opt() == Some(day) {
                    self.today_kwh
                } else {
                    0.0
                };
                self.today_kwh = 0.0;
                self.day = day;
            }
            let kwh = plug_load(self.seed, t).0 * hours / 1000.0;
            self.total_kwh += kwh;
            self.today_kwh += kwh;
        }
        self.last = now;
    }

    /// A reboot that loses the counters (as a plug with an erased flash would): `Total`, `Today` and the
    /// uptime restart at 0.
    pub fn reboot(&mut self, now: DateTime<Utc>) {
        self.step(now);
        self.booted = now;
        self.total_kwh = 0.0;
        self.today_kwh = 0.0;
        self.reported_wh = 0.0;
    }

    /// Total energy in kWh.
    pub fn total_kwh(&self) -> f64 {
        self.total_kwh
    }

    /// Steps to `now` and builds the `tele/<topic>/SENSOR` payload; `Period` covers the time since the last one.
    pub fn sensor_payload(&mut self, now: DateTime<Utc>) -> String {
        self.step(now);
        let period = (self.total_kwh * 1000.0 - self.reported_wh).floor().max(0.0);
        self.reported_wh += period;
        let (p, q) = plug_load(self.seed, now);
        let voltage = (230.0 + 1.5 * smooth(mix(self.seed, 30), secs(now), 600.0)).round();
        let apparent = p.hypot(q);
        let factor = if apparent > 0.0 { p / apparent } else { 0.0 };
        let mut out = String::with_capacity(256);
        // write! into a String cannot fail; the Result is only part of the fmt::Write signature.
        let _ = write!(
            out,
            "{{\"Time\":\"{}\",\"ENERGY\":{{\"TotalStartTime\":\"{}\",\"Total\":{:.3},\"Yesterday\":{:.3},\
             \"Today\":{:.3},\"Period\":{period:.0},\"Power\":{:.0},\"ApparentPower\":{:.0},\
             \"ReactivePower\":{:.0},\"Factor\":{factor:.2},\"Voltage\":{voltage:.0},\"Current\":{:.3}}}}}",
            tasmota_time(now),
            self.total_start_time,
            self.total_kwh,
            self.yesterday_kwh,
            self.today_kwh,
            p,
            apparent,
            q,
            apparent / voltage,
        );
        out
    }

    /// Builds the `tele/<topic>/STATE` payload (uptime since boot, Wi-Fi quality in % and dBm).
    pub fn state_payload(&self, now: DateTime<Utc>) -> Result<String, serde_json::Error> {
        let up = (now - self.booted).num_seconds().max(0);
        let signal = (-68.0 + 8.0 * smooth(mix(self.seed, 31), secs(now), 120.0)).round() as i64;
        let b = mix(self.seed, 32).to_be_bytes();
        let state = State {
            time: tasmota_time(now),
            uptime: format!(
                "{}T{:02}:{:02}:{:02}",
                up / 86_400,
                up / 3600 % 24,
                up / 60 % 60,
                up % 60
            ),
            uptime_sec: up,
            heap: 25,
            sleep_mode: "Dynamic",
            sleep: 50,
            load_avg: 19,
            mqtt_count: 1,
            power: "ON",
            wifi: Wifi {
                ap: 1,
                ssid: "zaehlwerk-iot",
                bssid: format!(
                    "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
                    b[0], b[1], b[2], b[3], b[4], b[5]
                ),
                channel: 1 + mix(self.seed, 33) % 11,
                mode: "11n",
                rssi: rssi_quality(signal),
                signal,
                link_count: 1,
                downtime: "0T00:00:03",
            },
        };
        serde_json::to_string(&state)
    }
}

/// Tasmota's `WifiGetRssiAsQuality`: −100 dBm or less → 0 %, −50 dBm or more → 100 %, linear between.
fn rssi_quality(dbm: i64) -> i64 {
    (2 * (dbm + 100)).clamp(0, 100)
}

#[cfg(test)]
mod tests;
