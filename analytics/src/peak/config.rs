//! `[analytics.peak]`: when the peak watch warns that a running quarter hour is heading for a new peak.
//!
//! ```toml
//! [analytics.peak]
//! enabled = true
//! margin_percent = 2.0      # the forecast must exceed the peak so far by this much
//! min_elapsed = "3m"        # measured minutes of the quarter hour before a forecast counts
//! max_gap = "5m"            # a meter silent longer stops counting (its quarter hour is incomplete)
//! settle = "15s"            # a quarter hour closes this long after its end without newer readings
//! refresh = "30s"           # an open warning's figures are refreshed at most this often
//! smoothing = "2m"          # the present power extrapolated is each meter's mean over this window
//! top_devices = 3           # devices named as drawing most right now
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{check, within};

/// Peak watch settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeakConfig {
    /// Watch the sites whose tariff has a demand charge.
    pub enabled: bool,
    /// How far (percent of the peak so far) the forecast must exceed the peak so far; 0–100, default 2.
    pub margin_percent: f64,
    /// Measured time of the quarter hour before its forecast counts (less is noise); at most 14 min,
    /// default 3 min.
    #[serde(with = "humantime_serde")]
    pub min_elapsed: Duration,
    /// A meter whose readings are further apart than this stops counting until it reports again; its
    /// quarter hour is then incomplete and sets no peak. 10 s–15 min, default 5 min.
    #[serde(with = "humantime_serde")]
    pub max_gap: Duration,
    /// A quarter hour without newer readings closes this long after its end (late readings still count
    /// until then); at most 5 min, default 15 s.
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
    /// An open warning's figures are refreshed at most this often; 1 s–5 min, default 30 s.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// Devices named as drawing most right now; 1–10, default 3.
    pub top_devices: usize,
    /// The present power the forecast holds for the rest of the quarter hour is each meter's time-weighted
    /// mean over this window (its last [`super::RING`] samples at most), not its latest sample, so load
    /// noise does not carry the forecast over the margin (a longer window: fewer false warnings, a later
    /// warning of a surge); 0 takes the latest sample. At most 5 min, default 2 min (under `min_elapsed`, so
    /// a spike in the first minute is out of the window when the watch may first speak).
    #[serde(with = "humantime_serde")]
    pub smoothing: Duration,
}

impl Default for PeakConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            margin_percent: 2.0,
            min_elapsed: Duration::from_secs(180),
            max_gap: Duration::from_secs(300),
            settle: Duration::from_secs(15),
            refresh: Duration::from_secs(30),
            top_devices: 3,
            smoothing: Duration::from_secs(120),
        }
    }
}

impl PeakConfig {
    /// Pushes every invalid setting, prefixed with `analytics.peak.`:
    /// `margin_percent` outside 0–100, `min_elapsed` above 14 min, `max_gap` outside 10 s–15 min,
    /// `settle` above 5 min, `refresh` outside 1 s–5 min, `top_devices` outside 1–10, `smoothing` above 5 min.
    pub fn validate(&self, errors: &mut Vec<String>) {
        let secs = |d: Duration| d.as_secs_f64();
        check(
            errors,
            within(self.margin_percent, 0.0, 100.0),
            "peak.margin_percent",
            "between 0 and 100",
        );
        check(
            errors,
            secs(self.min_elapsed) <= 14.0 * 60.0,
            "peak.min_elapsed",
            "at most 14m",
        );
        check(
            errors,
            (10.0..=900.0).contains(&secs(self.max_gap)),
            "peak.max_gap",
            "between 10s and 15m",
        );
        check(errors, secs(self.settle) <= 300.0, "peak.settle", "at most 5m");
        check(
            errors,
            (1.0..=300.0).contains(&secs(self.refresh)),
            "peak.refresh",
            "between 1s and 5m",
        );
        check(
            errors,
            (1..=10).contains(&self.top_devices),
            "peak.top_devices",
            "between 1 and 10",
        );
        check(
            errors,
            secs(self.smoothing) <= 300.0,
            "peak.smoothing",
            "at most 5m",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_every_error_is_listed() {
        let mut errors = Vec::new();
        PeakConfig::default().validate(&mut errors);
        assert_eq!(errors, Vec::<String>::new());
        let bad = PeakConfig {
            enabled: true,
            margin_percent: -1.0,
            min_elapsed: Duration::from_secs(15 * 60),
            max_gap: Duration::from_secs(1),
            settle: Duration::from_secs(600),
            refresh: Duration::ZERO,
            top_devices: 0,
            smoothing: Duration::from_secs(301),
        };
        bad.validate(&mut errors);
        for path in [
            "margin_percent",
            "min_elapsed",
            "max_gap",
            "settle",
            "refresh",
            "top_devices",
            "smoothing",
        ] {
            let p = format!("analytics.peak.{path}");
            assert!(errors.iter().any(|e| e.starts_with(&p)), "{p} in {errors:#?}");
        }
        assert_eq!(errors.len(), 7);
    }
}
