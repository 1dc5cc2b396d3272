//! Words for numbers: how alerts phrase powers, durations and their reasons.

use chrono::{DateTime, Utc};
use zw_model::Id;
use zw_model::alert::{AlertKind, Explanation, Severity, Subject};

/// What a detector concluded about one alert's condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Kind of problem.
    pub kind: AlertKind,
    /// Site it belongs to.
    pub site: Id,
    /// Device/tree concerned.
    pub subject: Subject,
    /// When (event time of the observation that decided it).
    pub at: DateTime<Utc>,
    /// Raise (open or refresh) or clear.
    pub change: Change,
}

/// The two things a detector can say about a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The condition holds: open the alert, or refresh its explanation.
    Raise {
        /// How bad.
        severity: Severity,
        /// Why.
        explanation: Explanation,
    },
    /// The condition ended, and why (e.g. "back below 1.4 kW", "no data for 15 min").
    Clear {
        /// Why it ended.
        reason: String,
    },
}

/// "950 W", "1.1 kW", "2.35 MW".
pub fn power(w: f64) -> String {
    let a = w.abs();
    if a >= 1e6 {
        format!("{:.2} MW", w / 1e6)
    } else if a >= 1e3 {
        format!("{:.1} kW", w / 1e3)
    } else {
        format!("{w:.0} W")
    }
}

/// "40 s", "45 min", "2 h 10 min", "3 days 4 h".
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".into(),
        (d, 0, _) => format!("{d} days"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// UTC time of epoch milliseconds (the epoch for impossible values).
pub fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Severity of a power excess: critical when the observation is at least twice the threshold.
pub fn power_severity(observed: f64, threshold: f64) -> Severity {
    if threshold > 0.0 && observed >= 2.0 * threshold {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// An explanation in watts.
pub fn watts(
    observed: f64,
    expected: f64,
    threshold: f64,
    baseline: String,
    since: i64,
    text: String,
) -> Explanation {
    Explanation {
        observed: round(observed),
        expected: round(expected),
        threshold: round(threshold),
        unit: "W".into(),
        baseline,
        since: utc(since),
        text,
    }
}

/// Rounds to 2 decimals, so explanations do not change with float noise.
pub fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_and_durations_read_well() {
        let p = [
            (950.0, "950 W"),
            (1100.0, "1.1 kW"),
            (3249.0, "3.2 kW"),
            (2.35e6, "2.35 MW"),
            (-500.0, "-500 W"),
        ];
        for (w, s) in p {
            assert_eq!(power(w), s);
        }
        let d = [
            (40_000, "40 s"),
            (2_700_000, "45 min"),
            (7_800_000, "2 h 10 min"),
            (7_200_000, "2 h"),
            (86_400_000, "1 day"),
            (3 * 86_400_000 + 4 * 3_600_000, "3 days 4 h"),
        ];
        for (ms, s) in d {
            assert_eq!(duration(ms), s);
        }
    }
}
