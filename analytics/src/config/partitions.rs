//! Running several analytics instances, each for its share of the sites (`[analytics.partitions]`).
//!
//! ```toml
//! [analytics.partitions]
//! enabled = true       # default false: one instance runs every site's detectors
//! heartbeat = "2s"     # how often this instance says it is alive; also the settle before taking a site
//! timeout = "10s"      # an instance silent this long is gone and its sites move to the others
//! ```
//!
//! The instance id is `analytics.instance` (also part of the MQTT client ids): every instance of a
//! deployment needs its own. How sites are split and handed over: [`crate::partition`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[analytics.partitions]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartitionsConfig {
    /// Split the sites over the live analytics instances (rendezvous hashing of the site id over the
    /// instance ids); `false`: this instance runs every site, as a single instance does.
    pub enabled: bool,
    /// How often this instance publishes its heartbeat on `zw/v1/members/analytics/{instance}`; a site
    /// this instance gains is taken over one heartbeat after the change was seen (the settle).
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// An instance whose newest heartbeat is older than this is gone: its sites move to the others.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for PartitionsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            heartbeat: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl PartitionsConfig {
    /// The bus membership's settings ([`zw_bus::membership`]).
    pub fn membership(&self) -> zw_bus::MembershipConfig {
        zw_bus::MembershipConfig {
            heartbeat: self.heartbeat,
            timeout: self.timeout,
        }
    }

    /// Errors (those of [`zw_bus::MembershipConfig::validate`]): `partitions.heartbeat` outside
    /// 100ms..=1min; `partitions.timeout` under three heartbeats.
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        e.extend(self.membership().validate("analytics.partitions"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_shorter_than_three_heartbeats_and_a_zero_heartbeat_are_refused() {
        assert!(PartitionsConfig::default().validate_all().is_empty());
        let cfg = PartitionsConfig {
            enabled: true,
            heartbeat: Duration::ZERO,
            timeout: Duration::from_secs(1),
        };
        let errors = cfg.validate_all();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("analytics.partitions.heartbeat")),
            "{errors:?}"
        );
        let cfg = PartitionsConfig {
            timeout: Duration::from_secs(5),
            ..PartitionsConfig::default()
        };
        let errors = cfg.validate_all();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("analytics.partitions.timeout")),
            "{errors:?}"
        );
    }

    impl PartitionsConfig {
        fn validate_all(&self) -> Vec<String> {
            let mut e = Vec::new();
            self.validate(&mut e);
            e
        }
    }
}
