//! The simulated weather itself: how strongly it makes water evaporate, relative to an average day, hour
//! by hour. The scenario's trees dry by it ([`crate::scenario`]) and the ET0 feed reports it
//! ([`super::feed`]); a pure function of the town's seed and the time.

use chrono::{DateTime, Utc};

use crate::curves::{mix, secs, smooth};

/// Reference ET0 of an average day of the simulated weather, mm.
pub const REFERENCE_MM_PER_DAY: f64 = 3.0;

/// The weather's evaporative demand at `t` relative to an average day (before season and hour of day).
pub(crate) fn evaporative_demand(town: u64, t: DateTime<Utc>) -> f64 {
    1.0 + 0.3 * smooth(mix(town, 2), secs(t), 2.5 * 86_400.0)
}

/// Share of a day's evaporation in local hour `h`: mostly between 06 and 20 h.
pub(crate) fn diurnal(h: u32) -> f64 {
    let x = (f64::from(h) + 0.5 - 6.0) / 14.0;
    let day = if (0.0..=1.0).contains(&x) {
        (std::f64::consts::PI * x).sin()
    } else {
        0.0
    };
    (0.02 + day) / (24.0 * 0.02 + 14.0 * 2.0 / std::f64::consts::PI)
}
