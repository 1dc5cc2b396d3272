//! The Dragino LSE01 soil sensor: its 11-byte uplink frame, the official decoder's output, and a seeded model.
//!
//! [`Lse01Frame::encode`] produces the bytes the sensor sends on fPort 2; [`decoded_payload`] reproduces what
//! the official TTN device-repository decoder (`vendor/dragino/lse01.js`) returns for them, including its
//! quirks: `Bat` is a number, `TempC_DS18B20`, `water_SOIL` and `temp_SOIL` are `toFixed` strings,
//! `conduct_SOIL` is an integer, and a negative `temp_SOIL` is computed as `(raw - 0xFFFF) / 100` (off by one).
//! [`SoilModel`] gives seeded, slowly drying soil with daily temperature cycles.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{Map, Value, json};

use crate::curves::{mix, secs, smooth, uniform};
use crate::time::berlin;

/// The LSE01's application port.
pub const F_PORT: u8 = 2;

/// The fields of one LSE01 uplink, in wire units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lse01Frame {
    /// Battery voltage in mV (14 bits).
    pub battery_mv: u16,
    /// The two top bits of the battery word; undocumented, masked off by the decoder, kept for round trips.
    pub battery_flags: u8,
    /// DS18B20 probe temperature in 0.1 °C.
    pub temp_ds18b20_deci: i16,
    /// Soil moisture in 0.01 %.
    pub water_soil_centi: u16,
    /// Soil temperature in 0.01 °C.
    pub temp_soil_centi: i16,
    /// Soil conductivity in µS/cm.
    pub conduct_soil: u16,
    /// Byte 10: bit 7 mode (0 = calibrated values), bit 4 sensor detected, bits 0–3 interrupt flag.
    pub flags: u8,
}

impl Lse01Frame {
    /// The 11 payload bytes, big-endian fields.
    pub fn encode(&self) -> [u8; 11] {
        let bat = (u16::from(self.battery_flags & 0x03) << 14) | (self.battery_mv & 0x3FFF);
        let mut b = [0u8; 11];
        b[0..2].copy_from_slice(&bat.to_be_bytes());
        b[2..4].copy_from_slice(&self.temp_ds18b20_deci.to_be_bytes());
        b[4..6].copy_from_slice(&self.water_soil_centi.to_be_bytes());
        b[6..8].copy_from_slice(&self.temp_soil_centi.to_be_bytes());
        b[8..10].copy_from_slice(&self.conduct_soil.to_be_bytes());
        b[10] = self.flags;
        b
    }
}

/// What `lse01.js` returns as `data` for fPort 2 and these bytes, or `None` if there are fewer than 11.
pub fn decoded_payload(bytes: &[u8]) -> Option<Value> {
    let b: &[u8; 11] = bytes.get(..11)?.try_into().ok()?;
    let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let bat_mv = word(0) & 0x3FFF;
    // JS numbers print whole values without a fraction ("3", not "3.0"); TTS keeps them as such.
    let bat = if bat_mv % 1000 == 0 {
        json!(bat_mv / 1000)
    } else {
        json!(f64::from(bat_mv) / 1000.0)
    };
    let raw_soil_temp = word(6);
    let soil_temp = if raw_soil_temp & 0x8000 == 0 {
        f64::from(raw_soil_temp) / 100.0
    } else {
        (f64::from(raw_soil_temp) - 65535.0) / 100.0
    };
    // Inserted in TTS's (sorted) key order, so the output is the same with or without serde_json's
    // `preserve_order` feature.
    let mut data = Map::new();
    data.insert("Bat".into(), bat);
    data.insert(
        "TempC_DS18B20".into(),
        json!(to_fixed(f64::from(word(2) as i16) / 10.0, 1)),
    );
    data.insert("conduct_SOIL".into(), json!(word(8)));
    data.insert("temp_SOIL".into(), json!(to_fixed(soil_temp, 2)));
    data.insert(
        "water_SOIL".into(),
        json!(to_fixed(f64::from(word(4)) / 100.0, 2)),
    );
    Some(Value::Object(data))
}

/// JavaScript's `Number.prototype.toFixed` for the values the decoder produces: integers divided by 10 or 100
/// never sit on a rounding tie, so only negative zero differs (JS prints `(-0).toFixed(2)` as `"0.00"`).
fn to_fixed(v: f64, digits: usize) -> String {
    let v = if v == 0.0 { 0.0 } else { v };
    format!("{v:.digits$}")
}

/// Seeded soil: moisture drying by 0.5–2 %/day from 25–35 %, daily temperature cycles, battery near 3.6 V.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilModel {
    seed: u64,
    start: DateTime<Utc>,
    moisture_start: f64,
    drying_per_day: f64,
    battery_start_mv: f64,
}

impl SoilModel {
    /// A sensor installed (freshly watered) at `start`.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self {
            seed,
            start,
            moisture_start: uniform(seed, 1, 25.0, 35.0),
            drying_per_day: uniform(seed, 2, 0.5, 2.0),
            battery_start_mv: uniform(seed, 3, 3580.0, 3660.0),
        }
    }

    /// The frame the sensor would send at `t`.
    pub fn frame(&self, t: DateTime<Utc>) -> Lse01Frame {
        let (s, local) = (secs(t), berlin(t));
        let days = (t - self.start).num_seconds().max(0) as f64 / 86_400.0;
        let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0;
        let season =
            10.0 + 8.0 * (std::f64::consts::TAU * (f64::from(local.ordinal()) - 200.0) / 365.0).cos();
        let daily = |peak_hour: f64| (std::f64::consts::TAU * (hour - peak_hour + 6.0) / 24.0).sin();
        let moisture = (self.moisture_start - self.drying_per_day * days
            + 0.05 * smooth(mix(self.seed, 10), s, 3600.0))
        .max(5.0);
        // The probe near the surface swings more and peaks earlier than the soil at depth.
        let probe = season + 6.0 * daily(15.0) + 0.3 * smooth(mix(self.seed, 11), s, 600.0);
        let soil = season + 2.5 * daily(17.0) + 0.1 * smooth(mix(self.seed, 12), s, 900.0);
        let conduct =
            moisture * uniform(self.seed, 4, 35.0, 55.0) + 20.0 * smooth(mix(self.seed, 13), s, 1800.0);
        let battery = self.battery_start_mv - 0.5 * days + 3.0 * smooth(mix(self.seed, 14), s, 300.0);
        Lse01Frame {
            battery_mv: battery.clamp(2500.0, 3700.0).round() as u16,
            battery_flags: 0,
            temp_ds18b20_deci: (probe * 10.0).round() as i16,
            water_soil_centi: (moisture * 100.0).round().clamp(0.0, 10_000.0) as u16,
            temp_soil_centi: (soil * 100.0).round() as i16,
            conduct_soil: conduct.round().clamp(0.0, 20_000.0) as u16,
            flags: 0x10,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use chrono::TimeDelta;

    use super::*;

    const FIXTURE: [u8; 11] = [0xCE, 0x29, 0x00, 0xF1, 0x07, 0xA5, 0x09, 0x9B, 0x6E, 0x28, 0x90];

    #[test]
    fn official_fixture_round_trips() {
        let frame = Lse01Frame {
            battery_mv: 3625,
            battery_flags: 0b11,
            temp_ds18b20_deci: 241,
            water_soil_centi: 1957,
            temp_soil_centi: 2459,
            conduct_soil: 28200,
            flags: 0x90,
        };
        assert_eq!(frame.encode(), FIXTURE);
        assert_eq!(BASE64.encode(FIXTURE), "zikA8QelCZtuKJA=");
        let expected = r#"{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"}"#;
        let decoded = decoded_payload(&FIXTURE).expect("11 bytes");
        assert_eq!(serde_json::to_string(&decoded).ok().as_deref(), Some(expected));
    }

    #[test]
    fn decoder_quirks_match_lse01_js() {
        // Table: (bytes 0-1, 2-3, 6-7) → (Bat, TempC_DS18B20, temp_SOIL) as lse01.js returns them.
        let cases = [
            (
                [0x0E, 0x10],
                [0xFF, 0x9C],
                [0xFF, 0x9C],
                json!(3.6),
                "-10.0",
                "-0.99",
            ),
            ([0x0B, 0xB8], [0x00, 0x00], [0xFF, 0xFF], json!(3), "0.0", "0.00"),
            (
                [0x4E, 0x10],
                [0x80, 0x00],
                [0x80, 0x00],
                json!(3.6),
                "-3276.8",
                "-327.67",
            ),
            (
                [0x0E, 0x29],
                [0x00, 0x05],
                [0x00, 0x01],
                json!(3.625),
                "0.5",
                "0.01",
            ),
        ];
        for (bat, ds, soil, want_bat, want_ds, want_soil) in cases {
            let bytes = [bat[0], bat[1], ds[0], ds[1], 0, 0, soil[0], soil[1], 0, 0, 0];
            let d = decoded_payload(&bytes).expect("11 bytes");
            assert_eq!(
                (&d["Bat"], &d["TempC_DS18B20"], &d["temp_SOIL"]),
                (&want_bat, &json!(want_ds), &json!(want_soil))
            );
        }
        assert_eq!(decoded_payload(&FIXTURE[..10]), None);
    }

    #[test]
    fn model_is_seeded_dries_out_and_stays_plausible() {
        let t0 = DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let (a, b) = (SoilModel::new(1, t0), SoilModel::new(2, t0));
        assert_eq!(
            a.frame(t0 + TimeDelta::hours(5)),
            SoilModel::new(1, t0).frame(t0 + TimeDelta::hours(5))
        );
        assert_ne!(a.frame(t0), b.frame(t0));
        let week = a.frame(t0 + TimeDelta::days(7));
        assert!(
            week.water_soil_centi + 300 < a.frame(t0).water_soil_centi,
            "dries by ≥ 3.5 % per week"
        );
        for h in 0..24 * 30 {
            let f = a.frame(t0 + TimeDelta::hours(h));
            assert!((3500..3700).contains(&f.battery_mv), "{f:?}");
            assert!((-100..400).contains(&f.temp_ds18b20_deci) && (-500..4000).contains(&f.temp_soil_centi));
            assert!((500..3600).contains(&f.water_soil_centi), "{f:?}");
        }
    }
}
