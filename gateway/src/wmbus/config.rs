//! `[gateway.wmbus]`: where wireless M-Bus receivers publish raw telegrams, and how the gateway treats
//! repeats, meters it does not know and meters that fall silent.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Wireless M-Bus receiver settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WmbusConfig {
    /// MQTT topic filters receivers publish telegrams on (hex text, or JSON `{"telegram": "<hex>"}`).
    /// Default `wmbus/+/telegram`: one level per receiver.
    pub topics: Vec<String>,
    /// Subscribe even when the inventory has no `wmbus` meter, to list the meters heard (for adoption).
    pub listen: bool,
    /// A telegram heard again within this window (a second receiver, a repeater) is dropped and counted.
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// Distinct telegrams remembered for duplicate suppression; the oldest are forgotten first.
    pub duplicate_capacity: usize,
    /// Meters not in the inventory kept in the list of unknown meters heard; the longest-silent one leaves
    /// first.
    pub max_unknown: usize,
    /// A meter of the inventory without a reading for this long inside its send hours (`send_hours` of its
    /// source; default always) is reported `offline` as stale ([`super::freshness`]). Default 1 h (OMS meters
    /// send every few minutes; set it above the slowest meter's interval).
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// How often an unchanged meter status is republished. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub status_refresh: Duration,
    /// The IANA time zone of the meters' `send_hours`. Default `Europe/Berlin`.
    pub timezone: String,
}

impl Default for WmbusConfig {
    fn default() -> Self {
        Self {
            topics: vec!["wmbus/+/telegram".into()],
            listen: false,
            duplicate_window: Duration::from_secs(30),
            duplicate_capacity: 1024,
            max_unknown: 100,
            stale_after: Duration::from_secs(3600),
            status_refresh: Duration::from_secs(60),
            timezone: "Europe/Berlin".into(),
        }
    }
}

impl WmbusConfig {
    /// Reports every invalid setting, prefixed with `gateway.wmbus.`:
    /// a topic that is empty, has a misplaced wildcard or lies under the internal bus `zw/v1/`;
    /// a `duplicate_window` over 1 h; a `duplicate_capacity` of 0 or over 1 000 000; a `max_unknown` of 0 or
    /// over 10 000; a `stale_after` under 1 s or over 31 days; a `status_refresh` under 1 s or over 1 h; a
    /// `timezone` that is no IANA time zone.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (i, t) in self.topics.iter().enumerate() {
            let levels: Vec<&str> = t.split('/').collect();
            let bad_wildcard = levels.iter().enumerate().any(|(k, l)| {
                (l.contains('+') && *l != "+") || (l.contains('#') && (*l != "#" || k + 1 != levels.len()))
            });
            if t.is_empty() || bad_wildcard {
                errors.push(format!(
                    "gateway.wmbus.topics[{i}]: {t:?} is not an MQTT topic filter"
                ));
            } else if t.starts_with("zw/") || t.starts_with('$') {
                errors.push(format!(
                    "gateway.wmbus.topics[{i}]: {t:?} lies under the internal bus or the broker's topics"
                ));
            }
        }
        if self.duplicate_window > Duration::from_secs(3600) {
            errors.push("gateway.wmbus.duplicate_window: must be at most 1h".into());
        }
        if !(1..=1_000_000).contains(&self.duplicate_capacity) {
            errors.push("gateway.wmbus.duplicate_capacity: must be 1..=1000000".into());
        }
        if !(1..=10_000).contains(&self.max_unknown) {
            errors.push("gateway.wmbus.max_unknown: must be 1..=10000".into());
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(31 * 86_400)).contains(&self.stale_after) {
            errors.push("gateway.wmbus.stale_after: must be 1s..=31d".into());
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&self.status_refresh) {
            errors.push("gateway.wmbus.status_refresh: must be 1s..=1h".into());
        }
        if self.tz().is_none() {
            errors.push(format!(
                "gateway.wmbus.timezone: {:?} is not an IANA time zone (e.g. Europe/Berlin)",
                self.timezone
            ));
        }
        errors
    }

    /// The parsed `timezone` (`None` if invalid: validation reports it).
    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        self.timezone.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_every_bad_setting_is_reported() {
        assert!(WmbusConfig::default().validate().is_empty());
        let bad = WmbusConfig {
            topics: vec![
                "".into(),
                "a/b+/c".into(),
                "a/#/c".into(),
                "zw/v1/x".into(),
                "ok/+/t".into(),
            ],
            listen: true,
            duplicate_window: Duration::from_secs(7200),
            duplicate_capacity: 0,
            max_unknown: 0,
            stale_after: Duration::ZERO,
            status_refresh: Duration::from_secs(7200),
            timezone: "Mars/Olympus".into(),
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 10, "{errors:#?}");
        assert!(errors[9].contains("Mars/Olympus"), "{errors:#?}");
        assert!(errors[3].contains("internal bus"), "{errors:#?}");
    }
}
