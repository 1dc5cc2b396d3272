//! Pure, seeded load curves: every value is a function of `(seed, time)` only.
//!
//! Randomness comes from hashing (SplitMix64) instead of a stateful generator, so a value at time `t` does not
//! depend on how often or in which order earlier values were asked for: thousands of devices can be sampled at
//! any rate and still give the same readings for the same seed. Smooth variation is value noise (seeded
//! lattice points every `period`, cosine-interpolated). Nothing here does I/O or reads the clock.

use std::f64::consts::{PI, TAU};

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::time::berlin;

/// Mixes two 64-bit values into one well-distributed value (SplitMix64 finaliser).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = (a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a string (FNV-1a), for deriving per-device seeds from names.
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A uniform sample in `[0, 1)` for `(seed, key)`.
pub fn unit(seed: u64, key: u64) -> f64 {
    (mix(seed, key) >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform sample in `[lo, hi)` for `(seed, key)`.
pub fn uniform(seed: u64, key: u64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(seed, key)
}

/// Smooth noise in `[-1, 1]` that changes over roughly `period_s` seconds.
pub fn smooth(seed: u64, t_s: f64, period_s: f64) -> f64 {
    let x = t_s / period_s;
    let i = x.floor();
    let w = (1.0 - (PI * (x - i)).cos()) / 2.0;
    let at = |k: f64| 2.0 * unit(seed, k as i64 as u64) - 1.0;
    at(i) + (at(i + 1.0) - at(i)) * w
}

/// Seconds since the Unix epoch, with sub-second precision.
pub fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

/// `0` before `a`, `1` after `b`, a smooth ramp between.
fn ramp(x: f64, a: f64, b: f64) -> f64 {
    let s = ((x - a) / (b - a)).clamp(0.0, 1.0);
    s * s * (3.0 - 2.0 * s)
}

/// Seeded shape of a municipal building's load: baseload, office hours, a PV system.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingProfile {
    seed: u64,
    base_w: f64,
    office_w: f64,
    pv_peak_w: f64,
    /// Electric heating (heat pump) at full demand, 0 for buildings heated otherwise.
    heat_pump_w: f64,
    /// Share of the consumption on L1, L2, L3 (sums to 1).
    split: [f64; 3],
}

impl BuildingProfile {
    /// Draws a profile: 1–2 kW baseload, 3–9 kW extra in office hours, 2–8 kWp PV, for half of the buildings
    /// a 0.5–1.5 kW heat pump following the heating demand, uneven phases.
    pub fn new(seed: u64) -> Self {
        let raw = [
            uniform(seed, 4, 0.8, 1.2),
            uniform(seed, 5, 0.8, 1.2),
            uniform(seed, 6, 0.8, 1.2),
        ];
        let sum: f64 = raw.iter().sum();
        Self {
            seed,
            base_w: uniform(seed, 1, 1000.0, 2000.0),
            office_w: uniform(seed, 2, 3000.0, 9000.0),
            pv_peak_w: uniform(seed, 3, 2000.0, 8000.0),
            // Half of the buildings heat electrically, with a 0.5–1.5 kW heat pump.
            heat_pump_w: if unit(seed, 7) < 0.5 {
                uniform(seed, 8, 500.0, 1500.0)
            } else {
                0.0
            },
            split: raw.map(|r| r / sum),
        }
    }

    /// The same loads without PV: a sub-meter behind a main meter measures consumers only.
    pub fn without_pv(mut self) -> Self {
        self.pv_peak_w = 0.0;
        self
    }

    /// Active power per phase in W at `t`; negative while the PV feeds in more than the building uses.
    pub fn phase_power_w(&self, t: DateTime<Utc>) -> [f64; 3] {
        let (s, local) = (secs(t), berlin(t));
        let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0;
        let weekday = local.weekday().num_days_from_monday() < 5;
        // Office hours: ramp up 7–9 h, a lunch dip, ramp down 17–19 h; weekends stay at baseload.
        let occupancy = if weekday {
            let lunch = ramp(hour, 12.0, 12.5) * (1.0 - ramp(hour, 13.0, 13.5));
            ramp(hour, 7.0, 9.0) * (1.0 - ramp(hour, 17.0, 19.0)) * (1.0 - 0.2 * lunch)
        } else {
            0.0
        };
        let consumption = self.base_w * (1.0 + 0.1 * smooth(mix(self.seed, 10), s, 900.0))
            + self.office_w * occupancy * (0.85 + 0.15 * smooth(mix(self.seed, 11), s, 300.0))
            + self.heat_pump_w * heating_demand(local.ordinal(), hour) * duty(self.seed, s)
            + 150.0 * smooth(mix(self.seed, 12), s, 15.0);
        let pv = self.pv_peak_w * solar(local.ordinal(), hour) * cloud(self.seed, s);
        // A three-phase inverter feeds in symmetrically; the loads do not.
        self.split.map(|share| consumption.max(0.0) * share - pv / 3.0)
    }

    /// Phase-to-neutral voltage in V: 230 V ± a few volts of grid drift, minus a small drop under load.
    pub fn voltage_v(&self, t: DateTime<Utc>, phase: usize, power_w: f64) -> f64 {
        let (s, k) = (secs(t), 20 + phase as u64);
        230.0 + 2.5 * smooth(mix(self.seed, k), s, 600.0) + 0.4 * smooth(mix(self.seed, k + 10), s, 7.0)
            - 0.3 * power_w / 1000.0
    }

    /// Power factor magnitude of the building's loads, 0.90–0.99.
    pub fn power_factor(&self, t: DateTime<Utc>, phase: usize) -> f64 {
        0.945 + 0.045 * smooth(mix(self.seed, 40 + phase as u64), secs(t), 1200.0)
    }
}

/// Grid frequency in Hz: 50 Hz ± a few tens of mHz (shared by all meters of one seed).
pub fn frequency_hz(seed: u64, t: DateTime<Utc>) -> f64 {
    let s = secs(t);
    50.0 + 0.03 * smooth(mix(seed, 50), s, 60.0) + 0.01 * smooth(mix(seed, 51), s, 5.0)
}

/// Relative PV output (0–1) from a crude sun model: day length by season, solar noon 12:30 local winter time.
fn solar(day_of_year: u32, local_hour: f64) -> f64 {
    let season = (TAU * (f64::from(day_of_year) - 172.0) / 365.0).cos();
    let day_len = 12.0 + 4.0 * season;
    let noon = 12.5
        + if (88..300).contains(&day_of_year) {
            1.0
        } else {
            0.0
        };
    let x = (local_hour - (noon - day_len / 2.0)) / day_len;
    if (0.0..=1.0).contains(&x) {
        (PI * x).sin() * (0.6 + 0.4 * season)
    } else {
        0.0
    }
}

/// Heating demand 0–1: outdoor temperature from a seasonal (−2 °C in January, 20 °C in July) and a daily
/// swing (coldest at 5 h), against a 15 °C heating limit.
fn heating_demand(day_of_year: u32, local_hour: f64) -> f64 {
    let season = (TAU * (f64::from(day_of_year) - 15.0) / 365.0).cos();
    let outdoor = 9.0 - 11.0 * season - 4.0 * (TAU * (local_hour - 5.0) / 24.0).cos();
    ((15.0 - outdoor) / 20.0).clamp(0.0, 1.0)
}

/// Compressor duty cycle 0.6–1, cycling over about 20 minutes.
fn duty(seed: u64, s: f64) -> f64 {
    0.8 + 0.2 * smooth(mix(seed, 70), s, 1200.0)
}

/// Cloud cover factor 0.25–1, drifting over half an hour.
fn cloud(seed: u64, s: f64) -> f64 {
    0.625 + 0.375 * smooth(mix(seed, 60), s, 1800.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::at;

    #[test]
    fn same_seed_same_values_different_seed_different_values() {
        let t = at("2026-05-06T10:15:00Z");
        let (a, b, c) = (
            BuildingProfile::new(1),
            BuildingProfile::new(1),
            BuildingProfile::new(2),
        );
        assert_eq!(a, b);
        assert_eq!(a.phase_power_w(t), b.phase_power_w(t));
        assert_ne!(a.phase_power_w(t), c.phase_power_w(t));
        assert_eq!(frequency_hz(1, t), frequency_hz(1, t));
        assert_ne!(frequency_hz(1, t), frequency_hz(2, t));
    }

    #[test]
    fn smooth_noise_is_bounded_and_continuous() {
        for i in 0..10_000 {
            let t = f64::from(i) * 0.7;
            let (v, next) = (smooth(9, t, 60.0), smooth(9, t + 0.01, 60.0));
            assert!((-1.0..=1.0).contains(&v), "{v}");
            assert!((v - next).abs() < 0.01, "jump at {t}");
        }
    }

    #[test]
    fn office_hours_draw_more_than_nights_and_weekends() {
        // Table: (time, lower bound W, upper bound W) for the total of a few seeds' buildings.
        let cases = [
            ("2026-01-14T02:00:00Z", 500.0, 3800.0), // Wednesday night: baseload and heating
            ("2026-01-14T09:30:00Z", 3500.0, 12500.0), // Wednesday morning, winter: office load
            ("2026-01-17T02:00:00Z", 500.0, 3800.0), // Saturday night
        ];
        for seed in 0..20 {
            let p = BuildingProfile::new(seed);
            for (ts, lo, hi) in cases {
                let total: f64 = p.phase_power_w(at(ts)).iter().sum();
                assert!((lo..hi).contains(&total), "seed {seed} at {ts}: {total} W");
            }
        }
    }

    #[test]
    fn heat_pumps_run_on_winter_nights_not_on_summer_nights() {
        let (winter, summer) = (at("2026-01-14T02:00:00Z"), at("2026-07-15T02:00:00Z"));
        let total = |p: &BuildingProfile, t| p.phase_power_w(t).iter().sum::<f64>();
        let heated: Vec<BuildingProfile> = (0..40)
            .map(BuildingProfile::new)
            .filter(|p| p.heat_pump_w > 0.0)
            .collect();
        assert!((10..30).contains(&heated.len()), "{}", heated.len());
        for p in &heated {
            let base = BuildingProfile {
                heat_pump_w: 0.0,
                ..p.clone()
            };
            assert!(total(p, winter) - total(&base, winter) > 200.0);
            assert!((total(p, summer) - total(&base, summer)).abs() < 1e-9);
        }
    }

    #[test]
    fn summer_weekend_noon_can_export() {
        let t = at("2026-06-20T11:30:00Z");
        let exporting =
            (0..50).filter(|&s| BuildingProfile::new(s).phase_power_w(t).iter().sum::<f64>() < 0.0);
        assert!(exporting.count() > 5);
    }

    #[test]
    fn electrical_values_stay_in_realistic_ranges() {
        let p = BuildingProfile::new(3);
        for i in 0..2000 {
            let t = at("2026-03-01T00:00:00Z") + chrono::TimeDelta::seconds(i * 613);
            for phase in 0..3 {
                let (v, pf) = (p.voltage_v(t, phase, 3000.0), p.power_factor(t, phase));
                assert!(
                    (220.0..240.0).contains(&v) && (0.9..=0.99).contains(&pf),
                    "{v} V, PF {pf}"
                );
            }
            assert!((49.95..50.05).contains(&frequency_hz(3, t)));
        }
    }
}
