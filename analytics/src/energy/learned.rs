//! A household device judged against its own learned use (`left_on.learned_use_kinds`) instead of usage
//! hours: when is it "left on"?
//!
//! A washing machine runs two hours on a few random days a week at varying daytime hours, a fridge runs
//! around the clock, an iron an hour in the evening. A device counts as *outside* its use when it draws power
//! in an hour of the week it has hardly ever been on (its learned high quantile below half of
//! `left_on.min_power`) **and** either
//! - no day of the learned weeks saw it on within [`BAND_H`] hours of this time of day (an iron at 02:00), or
//! - the run has lasted longer than [`LONGER`] times its longest recent run that raised no alert (a washing
//!   machine on for five hours when its cycles take two).
//!
//! So a wash at 11:15 on a Thursday, where earlier washes were on other days at 09:00 or 11:00, is its usual
//! use. Until an hour is learned (`normal.min_weeks`) nothing is outside.

use crate::calendar::Local;
use crate::normal::Normal;

/// Hours either side of the time of day within which use on any day makes the time a known one.
pub(crate) const BAND_H: usize = 2;
/// A run longer than this many times the longest recent run is no longer the device's usual use.
pub(crate) const LONGER: f64 = 1.5;
/// Recent runs remembered.
const RUNS: usize = 8;

/// The device's runs: power at or above `left_on.min_power` until it falls below half of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    /// Start (UTC ms) of the current run.
    since: Option<i64>,
    /// Lengths (ms) of the last completed runs that raised no left-on alert (0: none).
    last: [i64; RUNS],
    next: usize,
}

impl Runs {
    /// Follows the smoothed power `ema` at `ts`; a run that ends while `alerting` (left on) is not learned.
    /// Returns the current run's length (0: off).
    pub fn update(&mut self, ts: i64, ema: f64, min: f64, alerting: bool) -> i64 {
        match self.since {
            None if ema >= min => self.since = Some(ts),
            Some(s) if ema < min / 2.0 => {
                self.since = None;
                if !alerting {
                    self.last[self.next] = ts - s;
                    self.next = (self.next + 1) % RUNS;
                }
            }
            _ => {}
        }
        self.since.map_or(0, |s| ts - s)
    }

    /// The longest recent run (ms; 0: none learned).
    pub fn longest(&self) -> i64 {
        self.last.iter().copied().max().unwrap_or(0)
    }
}

/// What the learned use says of the device's power now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Verdict {
    /// Hardly ever on in this hour of the week, at an unknown time of day or for longer than usual.
    pub outside: bool,
    /// A run no longer than its recent ones (times [`LONGER`]): the device doing what it usually does.
    pub usual: bool,
    /// The longest recent run (ms; 0: none), for the alert's text.
    pub usual_run: i64,
}

/// Judges a device of learned use at local time `local` (a day off as a Sunday), its current run `run` ms.
pub(crate) fn judge(
    normal: &Normal,
    runs: &Runs,
    local: Local,
    run: i64,
    min_samples: usize,
    min: f64,
) -> Verdict {
    let rarely = |how: usize| {
        normal
            .usual_high(how, min_samples)
            .is_some_and(|high| high < min / 2.0)
    };
    let usual_run = runs.longest();
    let too_long = run as f64 > LONGER * usual_run as f64;
    let usual = run > 0 && !too_long;
    let how = local.hour_of_week();
    if !rarely(how) {
        return Verdict {
            outside: false,
            usual,
            usual_run,
        };
    }
    let hour = how % 24;
    let known_time = (0..7).any(|day| {
        (0..=2 * BAND_H).any(|k| {
            let h = (hour + 24 + k - BAND_H) % 24;
            let how = day * 24 + h;
            normal
                .usual_high(how, min_samples)
                .is_some_and(|high| high >= min / 2.0)
        })
    });
    Verdict {
        outside: !known_time || (usual_run > 0 && too_long),
        usual: usual && known_time,
        usual_run,
    }
}
