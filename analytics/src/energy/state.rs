//! Per-device and per-site state of the energy detectors, and the settings they share in milliseconds.

use zw_model::Id;

use std::sync::Arc;

use crate::calendar::{DaysOff, Local};
use crate::condition::Condition;
use crate::config::{Config, UsageHours};
use crate::energy::baseload::Baseload;
use crate::normal::Normal;

/// Settings in the units the hot path uses (milliseconds, watts).
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub tau_ms: f64,
    pub win_ms: i64,
    pub hold: i64,
    pub clear_hold: i64,
    pub hysteresis: f64,
    pub stale: i64,
    pub refresh: i64,
    pub cap: usize,
    pub min_samples: usize,
    pub adopt_after: i64,
    pub left_hold: i64,
    pub left_min: f64,
}

impl Params {
    pub fn new(cfg: &Config) -> Self {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let per_hour = (3_600_000 / ms(cfg.power.window).max(1)).max(1) as usize;
        Self {
            tau_ms: ms(cfg.power.smoothing).max(1) as f64,
            win_ms: ms(cfg.power.window).max(60_000),
            hold: ms(cfg.power.hold),
            clear_hold: ms(cfg.power.clear_hold),
            hysteresis: cfg.power.hysteresis,
            stale: ms(cfg.power.stale_after),
            refresh: ms(cfg.power.refresh),
            cap: per_hour * cfg.normal.history_weeks as usize,
            min_samples: per_hour * cfg.normal.min_weeks as usize,
            adopt_after: ms(cfg.normal.adopt_after),
            left_hold: ms(cfg.left_on.hold),
            left_min: cfg.left_on.min_power.0,
        }
    }
}

/// Exponential smoothing with the time constant `tau_ms`, reset after gaps longer than `stale`.
pub(crate) fn smooth(prev: Option<f64>, dt: i64, p: f64, prm: &Params) -> f64 {
    match prev {
        Some(e) => smooth_with(e, dt, p, prm.tau_ms, prm.stale),
        None => p,
    }
}

/// Exponential smoothing of `prev` (NaN: none yet) towards `p` with time constant `tau_ms`, reset after
/// gaps longer than `stale`.
pub(crate) fn smooth_with(prev: f64, dt: i64, p: f64, tau_ms: f64, stale: i64) -> f64 {
    if prev.is_nan() || dt > stale {
        return p;
    }
    prev + (1.0 - (-(dt as f64) / tau_ms.max(1.0)).exp()) * (p - prev)
}

/// Mean of the values in one fixed window, remembering the local time it opened.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    pub idx: i64,
    pub opened: Option<Local>,
    pub sum: f64,
    pub n: u32,
}

/// A closed window: its start (UTC ms), the local time of its first value, and its mean.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed {
    pub start: i64,
    pub local: Local,
    pub mean: f64,
}

impl Window {
    /// Adds `v` at `ts`; returns the closed window when `ts` starts a new one.
    pub fn add(&mut self, ts: i64, local: Local, v: f64, win_ms: i64) -> Option<Closed> {
        let idx = ts.div_euclid(win_ms);
        let mut closed = None;
        if idx != self.idx {
            if let (Some(l), true) = (self.opened, self.n > 0) {
                closed = Some(Closed {
                    start: self.idx * win_ms,
                    local: l,
                    mean: self.sum / f64::from(self.n),
                });
            }
            *self = Window {
                idx,
                opened: Some(local),
                sum: 0.0,
                n: 0,
            };
        }
        self.sum += v;
        self.n += 1;
        closed
    }
}

/// What a high-consumption alert saw when it opened; kept while it is open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Opened {
    /// Smoothed power (NaN: no alert opened yet).
    pub ema: f64,
    /// Its excess over the hour's median (NaN: no alert opened yet).
    pub excess: f64,
    /// The baseload excess subtracted: frozen while the alert is open, so a baseload alert opening later
    /// (often for the same cause) does not end it and let it open again.
    pub adj: f64,
}

impl Default for Opened {
    fn default() -> Self {
        Self {
            ema: f64::NAN,
            excess: f64::NAN,
            adj: 0.0,
        }
    }
}

/// One power device.
#[derive(Debug, Clone)]
pub(crate) struct Dev {
    pub id: Id,
    pub site: usize,
    pub class: String,
    pub limit: Option<f64>,
    pub left_on: bool,
    /// Its usage hours (left-on outside them).
    pub usage: UsageHours,
    /// Judged against its own learned use instead of usage hours (`left_on.learned_use_kinds`).
    pub learned_use: bool,
    pub contributes: bool,
    /// Newest reading time (older readings are ignored).
    pub last_ts: i64,
    /// When the device last showed life (a reading, or a restored alert), for staleness.
    pub last_seen: i64,
    pub ema: Option<f64>,
    /// Power averaged over three times `power.hold` (NaN: unknown), for the common-cause check.
    pub slow: f64,
    /// The excess its open alert explains at its site (0 without one), counted in [`SiteSt::explained`].
    pub explains: f64,
    /// How many times its usual the device draws while elevated (0: not elevated).
    pub ratio: f64,
    pub window: Window,
    pub normal: Normal,
    pub high: Condition,
    pub high_refresh: i64,
    /// What the high alert saw when it opened.
    pub high_open: Opened,
    pub left: Condition,
    pub left_refresh: i64,
    /// Its runs, for a device judged against its learned use.
    pub runs: crate::energy::learned::Runs,
    /// Index of the class in the common-cause counts, and whether the device is elevated now.
    pub fleet: (usize, bool),
    /// The device's slot in its class's common-cause counts.
    pub fleet_slot: usize,
}

/// One site: its total (sum of contributing devices' smoothed power), normal and baseload.
#[derive(Debug, Clone)]
pub(crate) struct SiteSt {
    pub id: Id,
    /// Its kind, once the inventory named it.
    pub kind: Option<zw_model::SiteKind>,
    /// Its days off (public holidays, configured days off, school holidays of a school).
    pub off: Arc<DaysOff>,
    pub baseload_on: bool,
    pub has_class_devices: bool,
    pub contributors: u32,
    pub present: u32,
    pub total: f64,
    pub last_ts: i64,
    pub window: Window,
    pub normal: Normal,
    pub high: Condition,
    pub high_refresh: i64,
    /// What the high alert saw when it opened.
    pub high_open: Opened,
    /// Excess explained by open alerts on the site's devices that are not summed into its total.
    pub explained: f64,
    /// How many devices add to `explained`; at 0 the sum is exactly 0 (no float residue).
    pub explaining: u32,
    pub base: Baseload,
}

impl SiteSt {
    /// Whether the total is known (every contributor reported recently).
    pub fn total_known(&self) -> bool {
        self.contributors > 0 && self.present == self.contributors
    }

    /// Sets the excess device `d` explains (0: none).
    pub fn explain(&mut self, d: &mut Dev, explains: f64) {
        if explains == d.explains {
            return;
        }
        self.explaining = self.explaining + u32::from(explains != 0.0) - u32::from(d.explains != 0.0);
        self.explained = if self.explaining == 0 {
            0.0
        } else {
            self.explained + explains - d.explains
        };
        d.explains = explains;
    }
}
