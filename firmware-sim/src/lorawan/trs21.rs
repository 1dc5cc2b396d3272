//! The Decentlab DL-TRS21 soil water potential sensor: its protocol-v2 frame, the official decoder's output
//! and a seeded drying model.
//!
//! Frame (fPort 1): version `02`, device id u16, sensor flags u16 (`0x0003`: potential + temperature, and
//! battery), then big-endian u16 words: potential as −kPa × 10, soil temperature as °C × 10 + 32768, battery
//! in mV. [`decoded_payload`] mirrors TTN's `decentlab/dl-trs21.js`: nested `{displayName, unit, value}`
//! objects, the water potential **negative** in kPa.

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};

use crate::curves::{mix, secs, smooth, uniform};
use crate::time::berlin;

/// The DL-TRS21's application port.
pub const F_PORT: u8 = 1;

/// One DL-TRS21 measurement in wire units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trs21Frame {
    /// The sensor's device id.
    pub device_id: u16,
    /// Water potential magnitude in 0.1 kPa (the decoder negates it).
    pub potential_deci_kpa: u16,
    /// Soil temperature in 0.1 °C, offset by 32768.
    pub temp_raw: u16,
    /// Battery in mV.
    pub battery_mv: u16,
}

impl Trs21Frame {
    /// The 11 payload bytes with both sensor groups flagged.
    pub fn encode(&self) -> [u8; 11] {
        let mut b = [0u8; 11];
        b[0] = 2;
        b[1..3].copy_from_slice(&self.device_id.to_be_bytes());
        b[3..5].copy_from_slice(&3u16.to_be_bytes());
        b[5..7].copy_from_slice(&self.potential_deci_kpa.to_be_bytes());
        b[7..9].copy_from_slice(&self.temp_raw.to_be_bytes());
        b[9..11].copy_from_slice(&self.battery_mv.to_be_bytes());
        b
    }
}

/// What `dl-trs21.js` returns as `data` for an 11-byte frame with flags `0x0003`.
pub fn decoded_payload(f: &Trs21Frame) -> Value {
    let v = |name: &str, unit: &str, value: f64| json!({"displayName": name, "unit": unit, "value": value});
    json!({
        "battery_voltage": v("Battery voltage", "V", f64::from(f.battery_mv) / 1000.0),
        "device_id": f.device_id,
        "protocol_version": 2,
        "soil_temperature": v("Soil temperature", "°C", (f64::from(f.temp_raw) - 32768.0) / 10.0),
        "water_potential": v("Water potential", "kPa", -(f64::from(f.potential_deci_kpa) / 10.0)),
    })
}

/// Seeded soil drying after a watering at `start`: tension rises from 5–15 kPa by 8–20 % a day up to 240 kPa.
#[derive(Debug, Clone, PartialEq)]
pub struct TensionModel {
    seed: u64,
    start: DateTime<Utc>,
    device_id: u16,
    initial_kpa: f64,
    growth_per_day: f64,
}

impl TensionModel {
    /// A sensor whose tree was watered at `start`.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self {
            seed,
            start,
            device_id: (mix(seed, 1) % 4000) as u16 + 100,
            initial_kpa: uniform(seed, 2, 5.0, 15.0),
            growth_per_day: uniform(seed, 3, 0.08, 0.2),
        }
    }

    /// The frame the sensor sends at `t`.
    pub fn frame(&self, t: DateTime<Utc>) -> Trs21Frame {
        let (s, local) = (secs(t), berlin(t));
        let days = (t - self.start).num_seconds().max(0) as f64 / 86_400.0;
        let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0;
        // Midday transpiration pulls a little harder on the soil water.
        let daily = 1.0 + 0.05 * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin();
        let kpa = (self.initial_kpa * (self.growth_per_day * days).exp() * daily
            + 0.3 * smooth(mix(self.seed, 4), s, 1800.0))
        .clamp(0.0, 240.0);
        let temp = 14.0 + 3.0 * (std::f64::consts::TAU * (hour - 11.0) / 24.0).sin();
        Trs21Frame {
            device_id: self.device_id,
            potential_deci_kpa: (kpa * 10.0).round() as u16,
            temp_raw: (temp * 10.0 + 32768.0).round() as u16,
            battery_mv: (3100.0 - 0.2 * days).round().max(2500.0) as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn official_example_encodes() {
        let f = Trs21Frame {
            device_id: 402,
            potential_deci_kpa: 117,
            temp_raw: 0x80a1,
            battery_mv: 3109,
        };
        assert_eq!(
            f.encode(),
            [0x02, 0x01, 0x92, 0x00, 0x03, 0x00, 0x75, 0x80, 0xa1, 0x0c, 0x25]
        );
        let d = decoded_payload(&f);
        assert_eq!(d["water_potential"]["value"], json!(-11.7));
        assert_eq!(d["soil_temperature"]["value"], json!(16.1));
        assert_eq!(d["battery_voltage"]["value"], json!(3.109));
    }

    #[test]
    fn soil_dries_within_the_sensor_range() {
        let t0 = DateTime::parse_from_rfc3339("2026-06-01T06:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let m = TensionModel::new(7, t0);
        let (first, later) = (m.frame(t0), m.frame(t0 + TimeDelta::days(10)));
        assert!(
            later.potential_deci_kpa > first.potential_deci_kpa + 50,
            "{first:?} → {later:?}"
        );
        for d in 0..60 {
            assert!(m.frame(t0 + TimeDelta::days(d)).potential_deci_kpa <= 2400);
        }
    }
}
