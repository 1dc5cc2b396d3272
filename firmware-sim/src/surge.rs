//! Surges: loads that switch on together, the cold Monday morning at 07:00 when a school's heating,
//! ventilation, kitchen and classrooms all start at once and one quarter hour sets the year's demand peak.
//!
//! A [`SurgeConfig`] on a Modbus meter (`[[sim.meters]] surges = [...]`) adds `watts` to the meter's load
//! (spread evenly over the phases, ramped up over `ramp`) from its start for `duration`; a main meter
//! measures the surges of the sub-meters it `includes`. The start is a fixed time (`at`, e.g. the next
//! Monday 07:00 local as UTC) or a delay after the simulator starts (`after`), so the demo and the tests
//! trigger it now instead of waiting for Monday. The energy counters integrate it like any load.
//!
//! ```toml
//! [[sim.meters]]
//! unit_id = 2
//! surges = [{ after = "3m", watts = 40000, duration = "20m" }]
//! ```

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// One surge as configured.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SurgeConfig {
    /// Start time (UTC); exactly one of `at` and `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Start as a delay after the simulator starts; exactly one of `at` and `after`.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub after: Option<Duration>,
    /// Extra load at full strength, W; above 0, at most 10 MW.
    pub watts: f64,
    /// How long it lasts, ramp included; default 1 h, at most 31 days.
    #[serde(default = "default_duration", with = "humantime_serde")]
    pub duration: Duration,
    /// Time from switching on to full strength (loads starting one after another); default 30 s, at most
    /// `duration`.
    #[serde(default = "default_ramp", with = "humantime_serde")]
    pub ramp: Duration,
}

fn default_duration() -> Duration {
    Duration::from_secs(3600)
}

fn default_ramp() -> Duration {
    Duration::from_secs(30)
}

impl SurgeConfig {
    /// A surge of `watts` starting `after` the simulator's start, lasting `duration`.
    pub fn after(after: Duration, watts: f64, duration: Duration) -> Self {
        Self {
            at: None,
            after: Some(after),
            watts,
            duration,
            ramp: default_ramp(),
        }
    }

    /// Every invalid setting, prefixed with `path`: `at` and `after` both or neither given, `watts` not in
    /// (0, 10 MW], `duration` zero or above 31 days, `ramp` longer than `duration`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.at.is_some() == self.after.is_some() {
            errors.push(format!("{path}: give exactly one of at and after"));
        }
        if !(self.watts.is_finite() && self.watts > 0.0 && self.watts <= 1e7) {
            errors.push(format!("{path}.watts: must be above 0 and at most 10 MW"));
        }
        if self.duration.is_zero() || self.duration > Duration::from_secs(31 * 86_400) {
            errors.push(format!("{path}.duration: must be above 0 and at most 31 days"));
        }
        if self.ramp > self.duration {
            errors.push(format!("{path}.ramp: must be at most the duration"));
        }
        errors
    }

    /// The surge with its start resolved against the simulator's `start`.
    pub fn resolve(&self, start: DateTime<Utc>) -> Surge {
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::zero());
        let from = self.at.unwrap_or(start + delta(self.after.unwrap_or_default()));
        Surge {
            from,
            to: from + delta(self.duration),
            ramp: delta(self.ramp),
            watts: self.watts,
        }
    }
}

/// A surge at fixed times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surge {
    /// Switched on.
    pub from: DateTime<Utc>,
    /// Switched off.
    pub to: DateTime<Utc>,
    /// Time to full strength.
    pub ramp: TimeDelta,
    /// Full strength, W.
    pub watts: f64,
}

impl Surge {
    /// Its power at `t`, W: 0 outside `[from, to)`, rising linearly over the ramp.
    pub fn power_w(&self, t: DateTime<Utc>) -> f64 {
        if t < self.from || t >= self.to {
            return 0.0;
        }
        let ramp = self.ramp.num_milliseconds();
        let on = (t - self.from).num_milliseconds();
        if ramp <= 0 || on >= ramp {
            self.watts
        } else {
            self.watts * on as f64 / ramp as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_surge_ramps_up_holds_and_ends_and_bad_ones_are_named() {
        let start = DateTime::from_timestamp(1_768_197_600, 0).expect("time");
        let s =
            SurgeConfig::after(Duration::from_secs(60), 40_000.0, Duration::from_secs(600)).resolve(start);
        let at = |secs: i64| s.power_w(start + TimeDelta::seconds(secs));
        assert_eq!(at(59), 0.0);
        assert_eq!(at(60), 0.0);
        assert_eq!(at(75), 20_000.0);
        assert_eq!(at(90), 40_000.0);
        assert_eq!(at(659), 40_000.0);
        assert_eq!(at(660), 0.0);
        assert_eq!(
            SurgeConfig::after(Duration::ZERO, 1.0, Duration::from_secs(1)).validate("s"),
            vec!["s.ramp: must be at most the duration"]
        );
        let bad = SurgeConfig {
            at: Some(start),
            after: Some(Duration::ZERO),
            watts: -1.0,
            duration: Duration::ZERO,
            ramp: Duration::ZERO,
        };
        let errors = bad.validate("sim.meters[0].surges[0]");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("exactly one of at and after"));
    }
}
