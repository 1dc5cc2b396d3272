//! A simulated Eastron SDM630 three-phase meter: measurements, energy counters and its FC04 register map.
//!
//! [`Sdm630::step`] is pure model code: given the seed, the simulated time and the previous state it
//! computes the instantaneous values and integrates the energy counters; [`Sdm630::write_image`] puts them at
//! the real PDU addresses as float32 "ABCD". Guarantees: energy counters never decrease (time going backwards
//! integrates nothing), register 0x0156 is import + export, and the same seed and times give the same image.
//!
//! Totals are metered "saldierend" like German meters: total import/export follow the sign of the total
//! system power, the per-phase counters the sign of each phase, so the phase counters need not add up.

use chrono::{DateTime, TimeDelta, Utc};

use super::image::{ReadLimits, RegisterImage};
use crate::curves::{BuildingProfile, frequency_hz, uniform};

/// The SDM630's read limits: at most 80 registers (40 floats), even counts only.
pub const LIMITS: ReadLimits = ReadLimits {
    max_registers: 80,
    even_only: true,
};

/// Size of the simulated input-register space (covers the per-phase energy block up to 0x0165).
pub const IMAGE_LEN: u16 = 0x0180;

/// PDU addresses (register number − 30001) of the simulated quantities.
pub mod addr {
    /// Phase-to-neutral voltage L1, L2, L3 (V).
    pub const VOLTAGE: [u16; 3] = [0x0000, 0x0002, 0x0004];
    /// Current L1, L2, L3 (A).
    pub const CURRENT: [u16; 3] = [0x0006, 0x0008, 0x000A];
    /// Active power L1, L2, L3 (W).
    pub const POWER: [u16; 3] = [0x000C, 0x000E, 0x0010];
    /// Apparent power L1, L2, L3 (VA).
    pub const APPARENT: [u16; 3] = [0x0012, 0x0014, 0x0016];
    /// Reactive power L1, L2, L3 (VAr).
    pub const REACTIVE: [u16; 3] = [0x0018, 0x001A, 0x001C];
    /// Power factor L1, L2, L3 (negative while the phase exports).
    pub const POWER_FACTOR: [u16; 3] = [0x001E, 0x0020, 0x0022];
    /// Total system power (W).
    pub const TOTAL_POWER: u16 = 0x0034;
    /// Total system apparent power (VA).
    pub const TOTAL_APPARENT: u16 = 0x0038;
    /// Total system reactive power (VAr).
    pub const TOTAL_REACTIVE: u16 = 0x003C;
    /// Total system power factor.
    pub const TOTAL_POWER_FACTOR: u16 = 0x003E;
    /// Frequency (Hz).
    pub const FREQUENCY: u16 = 0x0046;
    /// Total import active energy (kWh).
    pub const IMPORT_KWH: u16 = 0x0048;
    /// Total export active energy (kWh).
    pub const EXPORT_KWH: u16 = 0x004A;
    /// Total active energy = import + export (kWh), not net.
    pub const TOTAL_KWH: u16 = 0x0156;
    /// Import active energy L1, L2, L3 (kWh).
    pub const PHASE_IMPORT_KWH: [u16; 3] = [0x015A, 0x015C, 0x015E];
    /// Export active energy L1, L2, L3 (kWh).
    pub const PHASE_EXPORT_KWH: [u16; 3] = [0x0160, 0x0162, 0x0164];
}

/// Instantaneous values of all three phases.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Voltage to neutral (V).
    pub voltage: f64,
    /// Current (A).
    pub current: f64,
    /// Active power (W), negative while exporting.
    pub power: f64,
    /// Apparent power (VA).
    pub apparent: f64,
    /// Reactive power (VAr, inductive).
    pub reactive: f64,
    /// Power factor, signed like the active power.
    pub power_factor: f64,
}

/// The longest slice of time integrated with one power sample; longer gaps are split.
const MAX_SUBSTEP: TimeDelta = TimeDelta::seconds(10);
/// Gaps longer than this (a suspended host) integrate only this much, so one step stays cheap.
const MAX_CATCH_UP: TimeDelta = TimeDelta::days(7);

/// One simulated meter.
#[derive(Debug, Clone, PartialEq)]
pub struct Sdm630 {
    seed: u64,
    profile: BuildingProfile,
    phases: [Phases; 3],
    frequency: f64,
    import_kwh: f64,
    export_kwh: f64,
    phase_import_kwh: [f64; 3],
    phase_export_kwh: [f64; 3],
    last: Option<DateTime<Utc>>,
    /// Loads of the sub-meters wired behind this meter, added to its own.
    included: Vec<BuildingProfile>,
    /// Loads switching on together ([`crate::surge`]), its own and its sub-meters'.
    surges: Vec<crate::surge::Surge>,
}

impl Sdm630 {
    /// A meter with seeded building profile and counters (10,000–50,000 kWh imported so far).
    pub fn new(seed: u64) -> Self {
        let import = uniform(seed, 100, 10_000.0, 50_000.0);
        let export = import * uniform(seed, 101, 0.02, 0.08);
        Self {
            seed,
            profile: BuildingProfile::new(seed),
            phases: [Phases::default(); 3],
            frequency: 50.0,
            import_kwh: import,
            export_kwh: export,
            phase_import_kwh: [0.34, 0.33, 0.33].map(|s| import * s),
            phase_export_kwh: [export / 3.0; 3],
            last: None,
            included: Vec::new(),
            surges: Vec::new(),
        }
    }

    /// The same meter with these surges on top of its load.
    pub fn with_surges(mut self, surges: Vec<crate::surge::Surge>) -> Self {
        self.surges = surges;
        self
    }

    /// The same meter with the sub-meters of these seeds behind it: it measures their load on top of its own
    /// (the sub-meters' curves are pure functions of seed and time, so no state is shared).
    pub fn including(mut self, seeds: &[u64]) -> Self {
        self.included = seeds
            .iter()
            .map(|&s| BuildingProfile::new(s).without_pv())
            .collect();
        self
    }

    /// The same meter as a sub-meter: it measures consumers only, so no PV and an export counter at 0
    /// (a heat pump's or a kitchen's meter never feeds in).
    pub fn sub_meter(mut self) -> Self {
        self.profile = self.profile.without_pv();
        self.export_kwh = 0.0;
        self.phase_export_kwh = [0.0; 3];
        self
    }

    /// Active power per phase at `t`: the meter's own load plus every included sub-meter's.
    fn load(&self, t: DateTime<Utc>) -> [f64; 3] {
        let mut p = self.profile.phase_power_w(t);
        for sub in &self.included {
            let q = sub.phase_power_w(t);
            p.iter_mut().zip(q).for_each(|(a, b)| *a += b);
        }
        let surge: f64 = self.surges.iter().map(|s| s.power_w(t)).sum();
        p.iter_mut().for_each(|a| *a += surge / 3.0);
        p
    }

    /// Advances the meter to `now`: integrates energy since the previous step, then samples the present values.
    pub fn step(&mut self, now: DateTime<Utc>) {
        if let Some(last) = self.last {
            let from = last.max(now - MAX_CATCH_UP);
            let span = now - from;
            if span > TimeDelta::zero() {
                let n = (span.num_milliseconds() / MAX_SUBSTEP.num_milliseconds() + 1).max(1);
                let dt = span / n as i32;
                let hours = dt.num_microseconds().unwrap_or(0) as f64 / 3.6e9;
                for i in 0..n {
                    // Midpoint rule: sample each slice in its middle.
                    let p = self.load(from + dt * i as i32 + dt / 2);
                    self.integrate(p, hours);
                }
            }
        }
        if self.last.is_none_or(|l| now > l) {
            self.last = Some(now);
        }
        self.sample(now);
    }

    fn integrate(&mut self, p: [f64; 3], hours: f64) {
        let kwh = |w: f64| w * hours / 1000.0;
        let total: f64 = p.iter().sum();
        self.import_kwh += kwh(total.max(0.0));
        self.export_kwh += kwh((-total).max(0.0));
        for (i, w) in p.into_iter().enumerate() {
            self.phase_import_kwh[i] += kwh(w.max(0.0));
            self.phase_export_kwh[i] += kwh((-w).max(0.0));
        }
    }

    fn sample(&mut self, now: DateTime<Utc>) {
        let power = self.load(now);
        for (i, ph) in self.phases.iter_mut().enumerate() {
            let p = power[i];
            let pf = self.profile.power_factor(now, i);
            let voltage = self.profile.voltage_v(now, i, p);
            let apparent = p.abs() / pf;
            let reactive = (apparent * apparent - p * p).max(0.0).sqrt();
            let power_factor = if p < 0.0 { -pf } else { pf };
            *ph = Phases {
                voltage,
                current: apparent / voltage,
                power: p,
                apparent,
                reactive,
                power_factor,
            };
        }
        self.frequency = frequency_hz(self.seed, now);
    }

    /// The present per-phase values.
    pub fn phases(&self) -> &[Phases; 3] {
        &self.phases
    }

    /// Grid frequency in Hz.
    pub fn frequency(&self) -> f64 {
        self.frequency
    }

    /// Per-phase import and export active energy in kWh.
    pub fn phase_energy_kwh(&self) -> ([f64; 3], [f64; 3]) {
        (self.phase_import_kwh, self.phase_export_kwh)
    }

    /// Total import and export active energy in kWh.
    pub fn energy_kwh(&self) -> (f64, f64) {
        (self.import_kwh, self.export_kwh)
    }

    /// An empty image with the SDM630's size and limits.
    pub fn new_image() -> RegisterImage {
        RegisterImage::new(IMAGE_LEN, LIMITS)
    }

    /// Writes every simulated quantity at its SDM630 address.
    pub fn write_image(&self, img: &mut RegisterImage) {
        let mut put = |a: u16, v: f64| img.set_f32(a, v as f32);
        for (i, ph) in self.phases.iter().enumerate() {
            put(addr::VOLTAGE[i], ph.voltage);
            put(addr::CURRENT[i], ph.current);
            put(addr::POWER[i], ph.power);
            put(addr::APPARENT[i], ph.apparent);
            put(addr::REACTIVE[i], ph.reactive);
            put(addr::POWER_FACTOR[i], ph.power_factor);
            put(addr::PHASE_IMPORT_KWH[i], self.phase_import_kwh[i]);
            put(addr::PHASE_EXPORT_KWH[i], self.phase_export_kwh[i]);
        }
        let sum = |f: fn(&Phases) -> f64| self.phases.iter().map(f).sum::<f64>();
        let (p, s, q) = (sum(|x| x.power), sum(|x| x.apparent), sum(|x| x.reactive));
        put(addr::TOTAL_POWER, p);
        put(addr::TOTAL_APPARENT, s);
        put(addr::TOTAL_REACTIVE, q);
        put(addr::TOTAL_POWER_FACTOR, if s > 0.0 { p / s } else { 1.0 });
        put(addr::FREQUENCY, self.frequency);
        put(addr::IMPORT_KWH, self.import_kwh);
        put(addr::EXPORT_KWH, self.export_kwh);
        put(addr::TOTAL_KWH, self.import_kwh + self.export_kwh);
    }
}

#[cfg(test)]
mod tests;
