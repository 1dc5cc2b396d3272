//! Trustworthy consumption from cumulative energy counters (Wh): the one component analytics and the API use.
//!
//! Meters report energy as an ever-growing counter (`energy_import`, `energy_export`). Turning that into "how
//! much was used between A and B" is where other tools produce phantom kWh (domain complaint 4): a reboot that
//! resets the counter, a swapped meter, a register that rolls over, a value recorded as 0 while the device was
//! unavailable, DST days of 23 or 25 hours. This module does it once, purely and synchronously:
//!
//! * [`CounterTracker`] consumes readings in time order and emits [`Interval`]s: "between `from` and `to`,
//!   `wh` were consumed", or "… consumption is unknown" (`wh: None`) with the [`IntervalKind`] saying why.
//! * [`consumption`] runs a tracker over stored points (any order, duplicates allowed) and spreads the
//!   intervals over buckets (hours, local days, …) → [`Bucket`] with `wh` and a `complete` flag.
//! * [`local_day_edges`] / [`daily`] give bucket edges at local midnight (Europe/Berlin by default), so a
//!   DST day has 23 or 25 hours.
//! * [`quarter_hours`]: 15-minute average power on the quarter-hour grid (the demand charge's peak).
//! * [`gas`]: gas volume per period to kWh with the site's calorific value and Z factor (DVGW G 685).
//! * [`exact_energy`] gives a bucket's energy from the readings [`Around`] its edges and a summary of the
//!   [`Steps`] in between, when those show nothing the tracker would treat specially: what a store can
//!   answer over years of readings without sending each one (the API's energy reports).
//!
//! # Guarantees
//! * **Never negative, never phantom.** A counter that goes down (reset, swap, glitch to 0) never yields
//!   negative consumption, and an unexplained jump up never yields more than the [`CounterConfig::max_power_w`]
//!   bound allows. Whatever cannot be explained is *unknown*; an injected reset never adds consumption.
//! * **Gaps are unknown, never 0.** Between readings further apart than [`CounterConfig::max_gap`] the energy
//!   is known only as a total for the whole gap: it counts in a bucket that contains the whole gap, and every
//!   bucket the gap touches is incomplete (a bucket is complete only when no gap longer than `max_gap` lies
//!   in it). A bucket without any data has `wh: None`.
//! * **Duplicates and out-of-order readings.** The batch API sorts; of several readings with the same
//!   timestamp the first one wins. The streaming tracker ignores readings older than its last one (and says
//!   so); re-run [`consumption`] over the stored points to include late arrivals.
//! * **Additivity.** Within covered time, consumption is spread linearly between readings, so for complete
//!   buckets `consumption(a..c) == consumption(a..b) + consumption(b..c)` (up to float rounding).
//!
//! # How to use it (API, analytics)
//! ```
//! use chrono::NaiveDate;
//! use zw_model::counter::{CounterConfig, daily};
//! # let points: Vec<(chrono::DateTime<chrono::Utc>, f64)> = Vec::new();
//! let days = daily(&points, chrono_tz::Europe::Berlin,
//!     NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
//!     &CounterConfig::default());
//! for d in &days {
//!     // d.bucket.wh: None = unknown; Some(x) with complete = false = at least x (partly covered).
//!     let _ = (d.date, d.bucket.wh, d.bucket.complete);
//! }
//! ```

mod buckets;
mod exact;
pub mod gas;
pub mod quarter_hours;
pub mod rollup;
mod tracker;

pub use buckets::{Bucket, DayTotal, consumption, daily, local_day_edges, uniform_edges};
pub use exact::{Around, Point, Steps, exact_energy};
pub use tracker::{CounterTracker, Interval, IntervalKind, Note};

use chrono::TimeDelta;

/// How a counter is interpreted. The defaults suit meters and plugs reporting every few seconds to minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterConfig {
    /// Longest spacing of two readings over which consumption is spread linearly. Longer spacings are gaps:
    /// their energy is known only as a total. Default 15 min.
    pub max_gap: TimeDelta,
    /// Highest plausible average power of the device, W. A counter growing faster is treated as a meter swap
    /// or a bad value (unknown), never as consumption. Set it per device class; default 500 kW.
    pub max_power_w: f64,
    /// Decreases up to this many Wh (or one millionth of the counter, if larger) are float or rounding jitter:
    /// counted as 0 while the higher value is kept as the baseline. Default 1 Wh.
    pub jitter_wh: f64,
    /// The counter's modulus if it rolls over (e.g. a 6-digit kWh register: `Some(1e9)` Wh). `None`: decreases
    /// are resets, never rollovers.
    pub rollover_wh: Option<f64>,
}

impl Default for CounterConfig {
    fn default() -> Self {
        Self {
            max_gap: TimeDelta::minutes(15),
            max_power_w: 500_000.0,
            jitter_wh: 1.0,
            rollover_wh: None,
        }
    }
}

impl CounterConfig {
    /// Reports every invalid setting.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_gap <= TimeDelta::zero() {
            errors.push("counter.max_gap: must be positive".into());
        }
        if !(self.max_power_w.is_finite() && self.max_power_w > 0.0) {
            errors.push("counter.max_power_w: must be a positive number".into());
        }
        if !(self.jitter_wh.is_finite() && self.jitter_wh >= 0.0) {
            errors.push("counter.jitter_wh: must be a non-negative number".into());
        }
        if let Some(m) = self.rollover_wh
            && !(m.is_finite() && m > 0.0)
        {
            errors.push("counter.rollover_wh: must be a positive number".into());
        }
        errors
    }
}

#[cfg(test)]
mod tests;
