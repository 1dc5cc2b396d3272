//! Simulated Shelly Gen2/Gen3 devices: a Plus/Gen3 plug (`switch:0`) and a Pro 3EM (`em:0`, `emdata:0`).
//!
//! Topics under `<prefix>`: `online` (`true`/`false`, retained, also the last will), `status/<component>`
//! (the entire status, as with `status_ntf`) and `events/rpc` (`NotifyStatus` deltas, as with `rpc_ntf`):
//! the plug alternates a full `status/switch:0` and a delta with only `apower` and `aenergy`, so consumers
//! must merge. Units as on the device: power W, `aenergy.total` Wh (3 decimals), `by_minute` mWh per
//! completed minute (index 0 most recent), Pro 3EM energies Wh. The plug's load is the Tasmota plug's
//! curve; the Pro 3EM is a building with PV (negative phase power = export). A [`ShellyDevice::reboot`]
//! restarts the counters at 0, like a device losing its RAM totals.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::curves::{BuildingProfile, mix, secs, smooth};
use crate::tasmota::plug_load;

/// Which Shelly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShellyModel {
    /// A Gen3 plug (`switch:0` with `aenergy`).
    Plug,
    /// A Pro 3EM in the triphase profile.
    Pro3em,
}

/// One simulated Shelly.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShellyConfig {
    /// The MQTT `topic_prefix`, e.g. `shellypro3em-aabbccddeeff`.
    pub prefix: String,
    /// The model.
    pub model: ShellyModel,
    /// Reporting period, default 2s.
    #[serde(with = "humantime_serde", default = "default_interval")]
    pub interval: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(2)
}

/// Reports every problem of the `sim.shellies` list.
pub fn validate(shellies: &[ShellyConfig], errors: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for (i, s) in shellies.iter().enumerate() {
        let p = &s.prefix;
        if p.is_empty() || p.len() > 300 || p.starts_with('$') || p.contains(['#', '+', '%', '?']) {
            errors.push(format!(
                "sim.shellies[{i}].prefix: {p:?} is not a Shelly topic_prefix"
            ));
        } else if !seen.insert(p.as_str()) {
            errors.push(format!("sim.shellies[{i}].prefix: duplicate prefix {p:?}"));
        }
        if s.interval < Duration::from_millis(10) {
            errors.push(format!("sim.shellies[{i}].interval: must be at least 10ms"));
        }
    }
}

/// A simulated Shelly's counters.
#[derive(Debug, Clone)]
pub struct ShellyDevice {
    seed: u64,
    model: ShellyModel,
    building: BuildingProfile,
    /// Imported / exported Wh per phase (the plug uses phase 0).
    import_wh: [f64; 3],
    export_wh: [f64; 3],
    last: DateTime<Utc>,
    sent: u64,
}

impl ShellyDevice {
    /// A device with seeded counters at `now`.
    pub fn new(model: ShellyModel, seed: u64, now: DateTime<Utc>) -> Self {
        let base = 1000.0 + (mix(seed, 1) % 5_000_000) as f64;
        Self {
            seed,
            model,
            building: BuildingProfile::new(seed),
            import_wh: [base, base * 0.9, base * 1.1],
            export_wh: [base * 0.1, 0.0, base * 0.05],
            last: now,
            sent: 0,
        }
    }

    /// Counters restart at 0 (a reboot that loses the totals).
    pub fn reboot(&mut self) {
        self.import_wh = [0.0; 3];
        self.export_wh = [0.0; 3];
    }

    fn power(&self, t: DateTime<Utc>) -> [f64; 3] {
        match self.model {
            ShellyModel::Plug => [plug_load(self.seed, t).0, 0.0, 0.0],
            ShellyModel::Pro3em => self.building.phase_power_w(t),
        }
    }

    /// Integrates power up to `now` in slices of at most 10 s.
    fn step(&mut self, now: DateTime<Utc>) {
        let span = now - self.last.max(now - TimeDelta::days(7));
        if span <= TimeDelta::zero() {
            return;
        }
        let n = (span.num_milliseconds() / 10_000 + 1) as i32;
        let dt = span / n;
        let hours = dt.num_milliseconds() as f64 / 3.6e6;
        for i in 0..n {
            let p = self.power(self.last + dt * i + dt / 2);
            for (ph, w) in p.iter().enumerate() {
                if *w >= 0.0 {
                    self.import_wh[ph] += w * hours;
                } else {
                    self.export_wh[ph] -= w * hours;
                }
            }
        }
        self.last = now;
    }

    /// The messages (topic suffix, JSON) the device publishes at `now`.
    pub fn messages(&mut self, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        self.step(now);
        self.sent += 1;
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let p = self.power(now);
        let volts = |ph: u64| r3(230.0 + 2.0 * smooth(mix(self.seed, 20 + ph), secs(now), 600.0));
        match self.model {
            ShellyModel::Plug => {
                let minute_ts = now.timestamp() / 60 * 60;
                let by_minute = [r3(p[0] * 1000.0 / 60.0), r3(p[0] * 1000.0 / 60.0), 0.0];
                let aenergy =
                    json!({"by_minute": by_minute, "minute_ts": minute_ts, "total": r3(self.import_wh[0])});
                if self.sent % 2 == 1 {
                    let status = json!({"id": 0, "source": "init", "output": true, "apower": r3(p[0]), "voltage": volts(0),
                        "freq": 50.0, "current": r3(p[0] / volts(0)), "aenergy": aenergy,
                        "temperature": {"tC": 41.6, "tF": 106.9}});
                    vec![("status/switch:0", status.to_string())]
                } else {
                    let ts = (now.timestamp_millis() as f64 / 10.0).round() / 100.0;
                    let delta = json!({"src": "shellyplugsg3-sim", "dst": "zaehlwerk", "method": "NotifyStatus",
                        "params": {"ts": ts, "switch:0": {"id": 0, "apower": r3(p[0]), "aenergy": aenergy}}});
                    vec![("events/rpc", delta.to_string())]
                }
            }
            ShellyModel::Pro3em => {
                let mut em = serde_json::Map::new();
                em.insert("id".into(), json!(0));
                for (ph, name) in ["a", "b", "c"].iter().enumerate() {
                    let v = volts(ph as u64);
                    em.insert(format!("{name}_current"), json!(r3(p[ph].abs() / v)));
                    em.insert(format!("{name}_voltage"), json!(v));
                    em.insert(format!("{name}_act_power"), json!(r3(p[ph])));
                    em.insert(format!("{name}_aprt_power"), json!(r3(p[ph].abs() * 1.02)));
                    em.insert(format!("{name}_pf"), json!(0.98));
                    em.insert(format!("{name}_freq"), json!(50.0));
                }
                em.insert("n_current".into(), Value::Null);
                em.insert("total_act_power".into(), json!(r3(p.iter().sum())));
                em.insert(
                    "total_aprt_power".into(),
                    json!(r3(p.iter().map(|x| x.abs() * 1.02).sum())),
                );
                em.insert("user_calibrated_phase".into(), json!([]));
                let mut data = serde_json::Map::new();
                data.insert("id".into(), json!(0));
                for (ph, name) in ["a", "b", "c"].iter().enumerate() {
                    data.insert(format!("{name}_total_act_energy"), json!(r3(self.import_wh[ph])));
                    data.insert(
                        format!("{name}_total_act_ret_energy"),
                        json!(r3(self.export_wh[ph])),
                    );
                }
                data.insert("total_act".into(), json!(r3(self.import_wh.iter().sum())));
                data.insert("total_act_ret".into(), json!(r3(self.export_wh.iter().sum())));
                vec![
                    ("status/em:0", Value::Object(em).to_string()),
                    ("status/emdata:0", Value::Object(data).to_string()),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::at;

    #[test]
    fn plug_alternates_full_status_and_delta_with_growing_counter() {
        let t0 = at("2026-05-06T10:00:00Z");
        let mut d = ShellyDevice::new(ShellyModel::Plug, 3, t0);
        let total = |m: &str| {
            let v: Value = serde_json::from_str(m).expect("json");
            v.pointer("/aenergy/total")
                .or(v.pointer("/params/switch:0/aenergy/total"))
                .and_then(Value::as_f64)
                .expect("total")
        };
        let a = d.messages(t0 + TimeDelta::minutes(10));
        let b = d.messages(t0 + TimeDelta::minutes(20));
        assert_eq!((a[0].0, b[0].0), ("status/switch:0", "events/rpc"));
        assert!(total(&b[0].1) > total(&a[0].1));
        d.reboot();
        let c = d.messages(t0 + TimeDelta::minutes(21));
        assert!(total(&c[0].1) < 100.0, "counter restarted");
    }

    #[test]
    fn pro3em_reports_power_and_energy_in_wh() {
        let t0 = at("2026-06-20T11:30:00Z");
        let mut d = ShellyDevice::new(ShellyModel::Pro3em, 4, t0);
        let m = d.messages(t0 + TimeDelta::hours(1));
        assert_eq!(
            m.iter().map(|x| x.0).collect::<Vec<_>>(),
            ["status/em:0", "status/emdata:0"]
        );
        let data: Value = serde_json::from_str(&m[1].1).expect("json");
        let sum: f64 = ["a", "b", "c"]
            .iter()
            .map(|p| data[format!("{p}_total_act_energy")].as_f64().unwrap_or(0.0))
            .sum();
        assert!((sum - data["total_act"].as_f64().unwrap_or(0.0)).abs() < 0.01);
    }

    #[test]
    fn config_validation() {
        let c = |prefix: &str| ShellyConfig {
            prefix: prefix.into(),
            model: ShellyModel::Plug,
            interval: Duration::ZERO,
        };
        let mut errors = Vec::new();
        validate(&[c("a"), c("a"), c("$x")], &mut errors);
        assert_eq!(errors.len(), 5, "{errors:#?}");
    }
}
