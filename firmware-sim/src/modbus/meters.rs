//! The meter models the simulator serves, each writing one simulated building ([`Sdm630`]'s electrical
//! state: phases, frequency, energy counters) into its own register map, from the vendors' tables
//! (written independently of the gateway's profile files, so the end-to-end tests compare two sources):
//!
//! | model | space | map |
//! |---|---|---|
//! | `sdm630` | input (FC 04) | [`super::sdm630::addr`] |
//! | `sdm120` | input (FC 04) | single-phase: V 0x00, I 0x06, P 0x0C, VA 0x12, VAr 0x18, PF 0x1E, angle 0x24, Hz 0x46, kWh 0x48/0x4A, kVArh 0x4C/0x4E, total 0x156/0x158 |
//! | `sdm72dm-v2` | input (FC 04) | SDM630-style: per-phase V/I/P/VA/VAr/PF, total P 0x34, Hz 0x46, kWh 0x48/0x4A, total 0x156 |
//! | `janitza-b23` | holding (FC 03) | V 0x4A38.., I 0x4A44.., P 0x4A4C.., cosφ 0x4A64.., import 0x4A76.. total 0x4A7C, export 0x4A7E.. total 0x4A84 |
//!
//! A single-phase SDM120 sees the building's total load on L1. All values are float32 "ABCD".

use serde::{Deserialize, Serialize};

use super::image::{ReadLimits, RegisterImage};
use super::sdm630::{self, Sdm630, addr};

/// A simulated meter model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum MeterModel {
    /// Eastron SDM630 v2.
    #[default]
    #[serde(rename = "sdm630")]
    Sdm630,
    /// Eastron SDM120.
    #[serde(rename = "sdm120")]
    Sdm120,
    /// Eastron SDM72D-M v2.
    #[serde(rename = "sdm72dm-v2")]
    Sdm72dmV2,
    /// Janitza B23.
    #[serde(rename = "janitza-b23")]
    JanitzaB23,
}

/// Eastron limits: 40 floats per request, even counts and addresses.
const EASTRON: ReadLimits = ReadLimits {
    max_registers: 80,
    even_only: true,
};

impl MeterModel {
    /// Every model.
    pub const ALL: [MeterModel; 4] = [Self::Sdm630, Self::Sdm120, Self::Sdm72dmV2, Self::JanitzaB23];

    /// The profile name the gateway knows the model by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sdm630 => "sdm630",
            Self::Sdm120 => "sdm120",
            Self::Sdm72dmV2 => "sdm72dm-v2",
            Self::JanitzaB23 => "janitza-b23",
        }
    }

    /// An empty image with the model's register space and limits.
    pub fn new_image(self) -> RegisterImage {
        match self {
            Self::Sdm630 => Sdm630::new_image(),
            Self::Sdm120 | Self::Sdm72dmV2 => RegisterImage::new(sdm630::IMAGE_LEN, EASTRON),
            Self::JanitzaB23 => RegisterImage::holding(
                0x4A00,
                0x0100,
                ReadLimits {
                    max_registers: 64,
                    even_only: false,
                },
            ),
        }
    }

    /// Writes `m`'s present values into `img` at the model's addresses.
    pub fn write_image(self, m: &Sdm630, img: &mut RegisterImage) {
        match self {
            Self::Sdm630 => m.write_image(img),
            Self::Sdm72dmV2 => write_sdm72(m, img),
            Self::Sdm120 => write_sdm120(m, img),
            Self::JanitzaB23 => write_b23(m, img),
        }
    }
}

fn write_sdm72(m: &Sdm630, img: &mut RegisterImage) {
    let mut put = |a: u16, v: f64| img.set_f32(a, v as f32);
    for (i, ph) in m.phases().iter().enumerate() {
        put(addr::VOLTAGE[i], ph.voltage);
        put(addr::CURRENT[i], ph.current);
        put(addr::POWER[i], ph.power);
        put(addr::APPARENT[i], ph.apparent);
        put(addr::REACTIVE[i], ph.reactive);
        put(addr::POWER_FACTOR[i], ph.power_factor);
    }
    let (import, export) = m.energy_kwh();
    put(addr::TOTAL_POWER, m.phases().iter().map(|p| p.power).sum());
    put(addr::FREQUENCY, m.frequency());
    put(addr::IMPORT_KWH, import);
    put(addr::EXPORT_KWH, export);
    put(addr::TOTAL_KWH, import + export);
}

fn write_sdm120(m: &Sdm630, img: &mut RegisterImage) {
    let mut put = |a: u16, v: f64| img.set_f32(a, v as f32);
    let ph = m.phases();
    let sum = |f: fn(&sdm630::Phases) -> f64| ph.iter().map(f).sum::<f64>();
    let (p, s, q) = (sum(|x| x.power), sum(|x| x.apparent), sum(|x| x.reactive));
    let v = ph[0].voltage;
    let pf = if s > 0.0 { p / s } else { 1.0 };
    let (import, export) = m.energy_kwh();
    put(0x0000, v);
    put(0x0006, s / v);
    put(0x000C, p);
    put(0x0012, s);
    put(0x0018, q);
    put(0x001E, pf);
    put(0x0024, pf.clamp(-1.0, 1.0).acos().to_degrees());
    put(0x0046, m.frequency());
    put(0x0048, import);
    put(0x004A, export);
    put(0x0156, import + export);
}

fn write_b23(m: &Sdm630, img: &mut RegisterImage) {
    let mut put = |a: u16, v: f64| img.set_f32(a, v as f32);
    let (import, export) = m.energy_kwh();
    let (pi, pe) = m.phase_energy_kwh();
    for (i, ph) in m.phases().iter().enumerate() {
        let k = i as u16 * 2;
        put(0x4A38 + k, ph.voltage);
        put(0x4A44 + k, ph.current);
        put(0x4A4C + k, ph.power);
        put(0x4A64 + k, ph.power_factor);
        put(0x4A76 + k, pi[i]);
        put(0x4A7E + k, pe[i]);
    }
    put(0x4A7C, import);
    put(0x4A84, export);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn each_model_puts_the_same_building_at_its_own_addresses() {
        let t = DateTime::parse_from_rfc3339("2026-01-14T09:00:00Z")
            .expect("ts")
            .with_timezone(&Utc);
        let mut m = Sdm630::new(5);
        m.step(t);
        let (import, _) = m.energy_kwh();
        let total_p: f64 = m.phases().iter().map(|p| p.power).sum();
        // Table: (model, function code space, import address, total/phase-1 power address, expected power).
        let cases = [
            (MeterModel::Sdm630, false, 0x0048, 0x0034, total_p),
            (MeterModel::Sdm72dmV2, false, 0x0048, 0x0034, total_p),
            (MeterModel::Sdm120, false, 0x0048, 0x000C, total_p),
            (MeterModel::JanitzaB23, true, 0x4A7C, 0x4A4C, m.phases()[0].power),
        ];
        for (model, holding, import_at, power_at, power) in cases {
            let mut img = model.new_image();
            model.write_image(&m, &mut img);
            assert_eq!(img.is_holding(), holding, "{model:?}");
            assert_eq!(img.get_f32(import_at), Some(import as f32), "{model:?}");
            assert_eq!(img.get_f32(power_at), Some(power as f32), "{model:?}");
        }
        let img = {
            let mut i = MeterModel::Sdm120.new_image();
            MeterModel::Sdm120.write_image(&m, &mut i);
            i
        };
        let (p, v, i) = (img.get_f32(0x0C), img.get_f32(0x00), img.get_f32(0x06));
        let pf = img.get_f32(0x1E).unwrap_or(0.0);
        let (p, v, i) = (p.unwrap_or(0.0), v.unwrap_or(0.0), i.unwrap_or(0.0));
        assert!(
            (p - v * i * pf).abs() / p.abs() < 1e-3,
            "P = V·I·PF: {p} vs {v}·{i}·{pf}"
        );
    }
}
