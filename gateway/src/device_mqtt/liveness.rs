//! The liveness of a device heard over MQTT (its health: online, degraded, offline), as a pure state machine
//! with injected time. (The Modbus counterpart, driven by polls, is [`crate::modbus::PollHealth`].)
//!
//! Inputs are what the device sends (values, signs of life, last-will availability, rejected messages) and
//! the passing of time. Output is a [`DeviceStatus`] (shared with the Modbus poller) whenever the state or
//! the error changes, and every refresh period otherwise. Rules:
//! * values → `online`; a rejected message → `degraded` until the next good one;
//! * LWT `Offline` / Shelly `online=false` → `offline` at once; `Online` / `true` or a sign of life → `online`;
//! * every message, accepted or rejected, LWT and `online` included, sets `last_seen` (published in the
//!   status);
//! * no message at all for `stale_after` (per device, see [`crate::config::Staleness`]) → `offline` (timeout, the
//!   message names the last-seen time), also for a device never heard of since start.

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::Id;
use zw_model::status::{DeviceStatus, ErrorKind, HealthState, LastError, STATUS_VERSION};

/// What the gateway knows about one MQTT device's health.
#[derive(Debug, Clone, PartialEq)]
pub struct Liveness {
    state: Option<HealthState>,
    since: DateTime<Utc>,
    last_seen: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    last_error: Option<LastError>,
    consecutive_failures: u32,
    ok: u64,
    failed: u64,
    changed: bool,
    published: Option<DateTime<Utc>>,
}

impl Liveness {
    /// A device not heard from yet; `started` is when the gateway started listening.
    pub fn new(started: DateTime<Utc>) -> Self {
        Self {
            state: None,
            since: started,
            last_seen: None,
            last_success: None,
            last_error: None,
            consecutive_failures: 0,
            ok: 0,
            failed: 0,
            changed: false,
            published: None,
        }
    }

    /// The current state; `None` until the device was heard from or timed out.
    pub fn state(&self) -> Option<HealthState> {
        self.state
    }

    /// When the device last sent anything.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_seen
    }

    fn set(&mut self, state: HealthState, now: DateTime<Utc>) {
        if self.state != Some(state) {
            self.state = Some(state);
            self.since = now;
            self.changed = true;
        }
    }

    fn error(&mut self, kind: ErrorKind, message: String, now: DateTime<Utc>) {
        self.last_error = Some(LastError {
            at: now,
            kind,
            message,
        });
        self.changed = true;
    }

    /// A message with values was decoded and published.
    pub fn on_values(&mut self, now: DateTime<Utc>) {
        self.last_seen = Some(now);
        self.last_success = Some(now);
        self.consecutive_failures = 0;
        self.ok += 1;
        self.set(HealthState::Online, now);
    }

    /// A sign of life without values (Tasmota STATE, a Shelly event).
    pub fn on_alive(&mut self, now: DateTime<Utc>) {
        self.last_seen = Some(now);
        if matches!(self.state, None | Some(HealthState::Offline)) {
            self.set(HealthState::Online, now);
        }
    }

    /// The device or its last will said whether it is connected. Either way the device was heard of
    /// (`last_seen`): a last will is the broker's word that the connection just ended.
    pub fn on_availability(&mut self, online: bool, now: DateTime<Utc>) {
        if online {
            self.on_alive(now);
        } else {
            self.last_seen = Some(now);
            self.error(
                ErrorKind::Transport,
                "device reported offline (last will)".into(),
                now,
            );
            self.set(HealthState::Offline, now);
        }
    }

    /// A message from the device was rejected.
    pub fn on_rejected(&mut self, reason: &str, message: &str, now: DateTime<Utc>) {
        self.last_seen = Some(now);
        self.failed += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.error(ErrorKind::Decode, format!("{reason}: {message}"), now);
        self.set(HealthState::Degraded, now);
    }

    /// Marks the device offline if nothing arrived for `stale_after`.
    pub fn tick(&mut self, now: DateTime<Utc>, stale_after: TimeDelta) {
        let quiet_since = self.last_seen.unwrap_or(self.since);
        if self.state != Some(HealthState::Offline) && now - quiet_since > stale_after {
            let what = match self.last_seen {
                Some(t) => format!("stale: last message at {}", t.to_rfc3339()),
                None => "never heard from".into(),
            };
            self.error(
                ErrorKind::Timeout,
                format!("{what}, none for more than {}s", stale_after.num_seconds()),
                now,
            );
            self.set(HealthState::Offline, now);
        }
    }

    /// Whether a status should be published now: on a change, or when the last one is `refresh` old.
    pub fn due(&self, now: DateTime<Utc>, refresh: TimeDelta) -> bool {
        self.state.is_some() && (self.changed || self.published.is_none_or(|p| now - p >= refresh))
    }

    /// The status to publish; marks it published.
    pub fn publish(
        &mut self,
        ids: (&Id, &Id),
        gateway: &str,
        source: &str,
        now: DateTime<Utc>,
        refresh: TimeDelta,
    ) -> Option<DeviceStatus> {
        let state = self.state?;
        self.changed = false;
        self.published = Some(now);
        Some(DeviceStatus {
            v: STATUS_VERSION,
            site: ids.0.clone(),
            device: ids.1.clone(),
            gateway: gateway.to_owned(),
            source: source.to_owned(),
            state,
            since: self.since,
            updated: now,
            refresh_seconds: u64::try_from(refresh.num_seconds()).unwrap_or(60),
            last_success: self.last_success,
            last_error: self.last_error.clone(),
            consecutive_failures: self.consecutive_failures,
            polls_ok: self.ok,
            polls_failed: self.failed,
            last_seen: self.last_seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).expect("valid")
    }

    #[test]
    fn life_cycle() {
        let stale = TimeDelta::minutes(5);
        let mut h = Liveness::new(at(0));
        h.tick(at(60), stale);
        assert_eq!(h.state(), None, "not yet stale, nothing to say");
        h.on_values(at(61));
        assert_eq!(h.state(), Some(HealthState::Online));
        assert!(h.due(at(61), TimeDelta::minutes(1)));
        let ids = (&Id::new("s").expect("id"), &Id::new("d").expect("id"));
        let s = h
            .publish(ids, "gw1", "shelly", at(61), TimeDelta::minutes(1))
            .expect("status");
        assert_eq!(
            (s.state, s.last_success, s.polls_ok),
            (HealthState::Online, Some(at(61)), 1)
        );
        assert!(!h.due(at(90), TimeDelta::minutes(1)));
        assert!(h.due(at(121), TimeDelta::minutes(1)), "refresh");
        h.on_rejected("malformed_json", "eof", at(130));
        assert_eq!(h.state(), Some(HealthState::Degraded));
        h.on_availability(false, at(140));
        assert_eq!(h.state(), Some(HealthState::Offline));
        assert_eq!(h.last_seen(), Some(at(140)), "the last will counts as heard of");
        h.on_availability(true, at(150));
        assert_eq!(h.state(), Some(HealthState::Online));
        h.tick(at(150 + 301), stale);
        assert_eq!(h.state(), Some(HealthState::Offline));
        let s = h
            .publish(ids, "gw1", "shelly", at(452), TimeDelta::minutes(1))
            .expect("status");
        assert_eq!(s.last_error.map(|e| e.kind), Some(ErrorKind::Timeout));
        assert_eq!(s.last_seen, Some(at(150)), "published: the `online` message");
        assert_eq!((s.polls_failed, s.since), (1, at(451)));
    }

    #[test]
    fn a_device_never_heard_from_goes_offline() {
        let mut h = Liveness::new(at(0));
        h.tick(at(301), TimeDelta::minutes(5));
        assert_eq!(h.state(), Some(HealthState::Offline));
        assert_eq!(h.last_seen(), None);
    }
}
