//! The health of a polled Modbus device: a pure state machine per device that turns what each poll delivered
//! ([`Delivery`]) into a [`DeviceStatus`] and decides when it must be (re)published. Time is injected. (The
//! device-MQTT counterpart, driven by messages and silence, is [`crate::device_mqtt::Liveness`].)
//!
//! * A poll that delivered every planned value → `online`.
//! * Values delivered but some missing (exception, undecodable value) → `degraded`.
//! * Nothing delivered → `degraded`, and `offline` once `offline_after` such polls happened in a row.
//!
//! `last_seen` is the last poll the device answered at all (values, or an exception / undecodable answer).
//!
//! A status is published when the state or the kind of the last error changes, and otherwise every
//! `refresh` so consumers can tell a live "online" from a gateway that went away.

use std::time::Duration;

use chrono::{DateTime, Utc};
use zw_model::Id;
use zw_model::status::{DeviceStatus, ErrorKind, HealthState, LastError, STATUS_VERSION};

/// What one poll achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Every planned value arrived.
    Complete,
    /// Some values arrived; the error says why others did not.
    Partial(ErrorKind, String),
    /// Nothing arrived.
    Failed(ErrorKind, String),
}

/// The health of one polled Modbus device.
#[derive(Debug, Clone)]
pub struct PollHealth {
    site: Id,
    device: Id,
    gateway: String,
    source: &'static str,
    state: Option<HealthState>,
    since: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    last_error: Option<LastError>,
    failures: u32,
    polls_ok: u64,
    polls_failed: u64,
    published: Option<(HealthState, Option<ErrorKind>, DateTime<Utc>)>,
}

impl PollHealth {
    /// A device not polled yet (nothing to publish).
    pub fn new(site: Id, device: Id, gateway: String, now: DateTime<Utc>) -> Self {
        Self {
            site,
            device,
            gateway,
            source: "modbus",
            state: None,
            since: now,
            last_success: None,
            last_seen: None,
            last_error: None,
            failures: 0,
            polls_ok: 0,
            polls_failed: 0,
            published: None,
        }
    }

    /// The same for a device read over another source (`mbus`, `sml`): its status names that source.
    pub fn with_source(mut self, source: &'static str) -> Self {
        self.source = source;
        self
    }

    /// The current state, `None` before the first poll.
    pub fn state(&self) -> Option<HealthState> {
        self.state
    }

    /// Records a poll; returns the previous and the new state.
    pub fn observe(
        &mut self,
        outcome: Delivery,
        now: DateTime<Utc>,
        offline_after: u32,
    ) -> (Option<HealthState>, HealthState) {
        let before = self.state;
        let state = match outcome {
            Delivery::Complete => {
                self.success(now);
                HealthState::Online
            }
            Delivery::Partial(kind, message) => {
                self.success(now);
                self.last_error = Some(LastError {
                    at: now,
                    kind,
                    message,
                });
                HealthState::Degraded
            }
            Delivery::Failed(kind, message) => {
                // An exception or an undecodable answer is still an answer: the device is there.
                if matches!(kind, ErrorKind::Exception | ErrorKind::Decode) {
                    self.last_seen = Some(now);
                }
                self.failures = self.failures.saturating_add(1);
                self.polls_failed += 1;
                self.last_error = Some(LastError {
                    at: now,
                    kind,
                    message,
                });
                if self.failures >= offline_after {
                    HealthState::Offline
                } else {
                    HealthState::Degraded
                }
            }
        };
        if before != Some(state) {
            self.since = now;
        }
        self.state = Some(state);
        (before, state)
    }

    fn success(&mut self, now: DateTime<Utc>) {
        self.failures = 0;
        self.polls_ok += 1;
        self.last_success = Some(now);
        self.last_seen = Some(now);
    }

    /// The status to publish at `now`, if the state or error kind changed or `refresh` has passed.
    pub fn publish_due(&mut self, now: DateTime<Utc>, refresh: Duration) -> Option<DeviceStatus> {
        let state = self.state?;
        let kind = self.last_error.as_ref().map(|e| e.kind);
        let due = match self.published {
            None => true,
            Some((s, k, at)) => {
                s != state || k != kind || (now - at).to_std().is_ok_and(|age| age >= refresh)
            }
        };
        if !due {
            return None;
        }
        self.published = Some((state, kind, now));
        Some(DeviceStatus {
            v: STATUS_VERSION,
            site: self.site.clone(),
            device: self.device.clone(),
            gateway: self.gateway.clone(),
            source: self.source.into(),
            state,
            since: self.since,
            updated: now,
            refresh_seconds: refresh.as_secs(),
            last_success: self.last_success,
            last_error: self.last_error.clone(),
            consecutive_failures: self.failures,
            polls_ok: self.polls_ok,
            polls_failed: self.polls_failed,
            last_seen: self.last_seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn id(s: &str) -> Id {
        Id::new(s).expect("id")
    }

    #[test]
    fn states_follow_outcomes_and_publishing_is_on_change_or_refresh() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .expect("ts")
            .with_timezone(&Utc);
        let mut h = PollHealth::new(id("s"), id("d"), "gw1".into(), t0);
        let refresh = Duration::from_secs(60);
        assert_eq!(h.publish_due(t0, refresh), None, "nothing before the first poll");
        let timeout = || Delivery::Failed(ErrorKind::Timeout, "no answer within 1s".into());
        // Table: (outcome, expected state, expected to publish).
        let steps = [
            (Delivery::Complete, HealthState::Online, true),
            (Delivery::Complete, HealthState::Online, false),
            (timeout(), HealthState::Degraded, true),
            (timeout(), HealthState::Degraded, false),
            (timeout(), HealthState::Offline, true),
            (
                Delivery::Partial(ErrorKind::Exception, "illegal data address".into()),
                HealthState::Degraded,
                true,
            ),
            (
                Delivery::Partial(ErrorKind::Decode, "NaN".into()),
                HealthState::Degraded,
                true,
            ),
            (Delivery::Complete, HealthState::Online, true),
        ];
        for (i, (outcome, state, publish)) in steps.into_iter().enumerate() {
            let now = t0 + TimeDelta::seconds(i as i64);
            assert_eq!(h.observe(outcome, now, 3).1, state, "step {i}");
            let status = h.publish_due(now, refresh);
            assert_eq!(status.is_some(), publish, "step {i}");
            if let Some(s) = status {
                assert_eq!((s.state, s.since <= now, s.updated), (state, true, now));
            }
        }
        let last = t0 + TimeDelta::seconds(7);
        assert_eq!(h.publish_due(last + TimeDelta::seconds(59), refresh), None);
        let s = h
            .publish_due(last + TimeDelta::seconds(60), refresh)
            .expect("refresh");
        assert_eq!((s.polls_ok, s.polls_failed, s.consecutive_failures), (5, 3, 0));
        assert_eq!((s.last_success, s.last_seen), (Some(last), Some(last)));
        assert_eq!(s.last_error.map(|e| e.kind), Some(ErrorKind::Decode));
        assert_eq!(s.since, last);
    }
}
