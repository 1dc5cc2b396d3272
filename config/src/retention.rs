//! How long each class of data is kept in InfluxDB (`[retention]`): raw readings, the energy rollups and the
//! alert history. The binary deletes what is older once at start and then daily (`zaehlwerk` runs it with
//! ingest); a class set to `0s` is kept for ever.

use std::time::Duration;

use serde::{Deserialize, Serialize};

const DAY: u64 = 86_400;

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Raw readings (measurement `readings`, 1–2 s resolution for plugs). Default 730d (two years: a year
    /// compared with the year before); at least 1d, or 0s to keep them for ever.
    #[serde(with = "humantime_serde")]
    pub raw: Duration,
    /// Energy rollups (quarter hours and local days, `rollup_15m`, `rollup_day`), which long reports read.
    /// Default 3650d; at least as long as `raw` (0s: for ever).
    #[serde(with = "humantime_serde")]
    pub rollups: Duration,
    /// Alert history (measurement `alerts`). Default 730d; at least 1d, or 0s for ever.
    #[serde(with = "humantime_serde")]
    pub alerts: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            raw: Duration::from_secs(730 * DAY),
            rollups: Duration::from_secs(3650 * DAY),
            alerts: Duration::from_secs(730 * DAY),
        }
    }
}

impl RetentionConfig {
    /// Each class with its measurements and how long it is kept (`None`: for ever).
    pub fn classes(&self) -> [(&'static str, &'static [&'static str], Option<Duration>); 3] {
        let keep = |d: Duration| (!d.is_zero()).then_some(d);
        [
            ("raw", &["readings"], keep(self.raw)),
            ("rollups", &["rollup_15m", "rollup_day"], keep(self.rollups)),
            ("alerts", &["alerts"], keep(self.alerts)),
        ]
    }

    /// Every invalid setting, prefixed with `retention.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (name, d) in [
            ("raw", self.raw),
            ("rollups", self.rollups),
            ("alerts", self.alerts),
        ] {
            if !d.is_zero() && d < Duration::from_secs(DAY) {
                errors.push(format!(
                    "retention.{name}: must be at least 1d (or 0s to keep for ever)"
                ));
            }
        }
        let raw_forever = self.raw.is_zero();
        if (raw_forever && !self.rollups.is_zero()) || (!self.rollups.is_zero() && self.rollups < self.raw) {
            errors.push("retention.rollups: must be at least as long as retention.raw".into());
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_rollups_longer_and_bad_values_are_each_reported() {
        assert_eq!(RetentionConfig::default().validate(), Vec::<String>::new());
        let bad = RetentionConfig {
            raw: Duration::from_secs(10 * DAY),
            rollups: Duration::from_secs(5 * DAY),
            alerts: Duration::from_secs(60),
        };
        assert_eq!(
            bad.validate(),
            [
                "retention.alerts: must be at least 1d (or 0s to keep for ever)",
                "retention.rollups: must be at least as long as retention.raw",
            ]
        );
        let forever = RetentionConfig {
            raw: Duration::ZERO,
            rollups: Duration::ZERO,
            alerts: Duration::ZERO,
        };
        assert_eq!(forever.validate(), Vec::<String>::new());
        assert!(forever.classes().iter().all(|(_, _, keep)| keep.is_none()));
    }
}
