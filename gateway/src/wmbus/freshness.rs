//! The per-meter freshness alarm of wireless M-Bus meters, as a pure state machine with injected time: a
//! meter of the inventory whose last reading is older than `gateway.wmbus.stale_after` is `offline` with a
//! `timeout` error saying it is stale, but only while it is inside the hours it is expected to send
//! (`send_hours` in its inventory source, local time in `gateway.wmbus.timezone`; default: always). Silence
//! outside them is expected, and so the quiet time counts from the later of its last reading and the start
//! of the current send window: a meter that sends 6–22 is stale at 07:00 only if it sent nothing since 06:00
//! (with `stale_after` = 1 h), not because of the night.
//!
//! Only readings with values refresh a meter (a telegram with a wrong key is heard, but its values are not).
//! A reading makes the meter `online` again. Statuses ([`DeviceStatus`], source `wmbus`) are published on a
//! change and every `status_refresh` otherwise, retained on the device status topic like every other
//! source's.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use zw_model::inventory::SendHours;
use zw_model::status::{DeviceStatus, ErrorKind, HealthState, LastError, STATUS_VERSION};
use zw_model::{DeviceSource, Id, Inventory};

/// One meter's freshness.
#[derive(Debug, Clone, PartialEq)]
struct Watch {
    site: Id,
    hours: Option<SendHours>,
    state: Option<HealthState>,
    since: DateTime<Utc>,
    last_seen: Option<DateTime<Utc>>,
    last_error: Option<LastError>,
    readings: u64,
    changed: bool,
    published: Option<DateTime<Utc>>,
}

/// The freshness of every wireless M-Bus meter of the inventory.
#[derive(Debug, Clone)]
pub struct Freshness {
    meters: HashMap<Id, Watch>,
    stale_after: TimeDelta,
    refresh: TimeDelta,
    tz: Tz,
    gateway: String,
}

/// The `wmbus` meters of an inventory: device, site, send hours.
fn meters_of(inventory: &Inventory) -> Vec<(Id, Id, Option<SendHours>)> {
    inventory
        .devices()
        .filter_map(|(site, d)| match &d.source {
            DeviceSource::Wmbus { send_hours, .. } => Some((d.id.clone(), site.id.clone(), *send_hours)),
            _ => None,
        })
        .collect()
}

impl Freshness {
    /// Watches the inventory's `wmbus` meters from `now` (a meter never heard of counts as quiet since then).
    /// `stale_after` and `refresh` are `gateway.wmbus.stale_after` and `status_refresh`, `tz` its
    /// `timezone`, `gateway` the instance name.
    pub fn new(
        inventory: &Inventory,
        (stale_after, refresh): (std::time::Duration, std::time::Duration),
        tz: Tz,
        gateway: &str,
        now: DateTime<Utc>,
    ) -> Self {
        let delta = |d: std::time::Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        let mut f = Self {
            meters: HashMap::new(),
            stale_after: delta(stale_after),
            refresh: delta(refresh),
            tz,
            gateway: gateway.into(),
        };
        f.update(inventory, now);
        f
    }

    /// Follows a changed inventory: new meters are watched from `now`, meters that left are forgotten, the
    /// others keep their state (with their new site and send hours).
    pub fn update(&mut self, inventory: &Inventory, now: DateTime<Utc>) {
        let list = meters_of(inventory);
        let mut meters = HashMap::with_capacity(list.len());
        for (device, site, hours) in list {
            let w = match self.meters.remove(&device) {
                Some(w) => Watch { site, hours, ..w },
                None => Watch {
                    site,
                    hours,
                    state: None,
                    since: now,
                    last_seen: None,
                    last_error: None,
                    readings: 0,
                    changed: false,
                    published: None,
                },
            };
            meters.insert(device, w);
        }
        self.meters = meters;
    }

    /// A reading of `device` was published at `now`: it is fresh (`online`).
    pub fn heard(&mut self, device: &Id, now: DateTime<Utc>) {
        if let Some(w) = self.meters.get_mut(device) {
            w.last_seen = Some(now);
            w.readings += 1;
            if w.state != Some(HealthState::Online) {
                w.state = Some(HealthState::Online);
                w.since = now;
                w.changed = true;
            }
        }
    }

    /// The start of the send window `now` lies in, or `None` outside the meter's send hours.
    fn window_start(&self, hours: Option<SendHours>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Some(hours) = hours else {
            return Some(DateTime::<Utc>::MIN_UTC);
        };
        let start = hours.window_start(now.with_timezone(&self.tz).naive_local())?;
        // A start in a DST gap or fold: the earliest instant it names, else the gap's end (at most `now`).
        let utc = self
            .tz
            .from_local_datetime(&start)
            .earliest()
            .map(|t| t.with_timezone(&Utc));
        Some(utc.unwrap_or(now).min(now))
    }

    /// Raises the alarm for every meter quiet for longer than `stale_after` inside its send hours, and
    /// returns the statuses to publish now (changed ones, and the others every refresh period).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<DeviceStatus> {
        let (stale_after, tz) = (self.stale_after, self.tz);
        let starts: Vec<(Id, Option<DateTime<Utc>>)> = self
            .meters
            .iter()
            .map(|(d, w)| (d.clone(), self.window_start(w.hours, now)))
            .collect();
        let mut out = Vec::new();
        for (device, window) in starts {
            let Some(w) = self.meters.get_mut(&device) else {
                continue;
            };
            if let Some(window) = window {
                let quiet_since = w.last_seen.unwrap_or(w.since).max(window);
                if w.state != Some(HealthState::Offline) && now - quiet_since > stale_after {
                    let last = match w.last_seen {
                        Some(t) => format!("last reading at {}", t.to_rfc3339()),
                        None => "no reading since the gateway started".into(),
                    };
                    let hours = match w.hours {
                        Some(h) => format!("inside its send hours {} ({tz})", String::from(h)),
                        None => "(it sends at all hours)".into(),
                    };
                    w.last_error = Some(LastError {
                        at: now,
                        kind: ErrorKind::Timeout,
                        message: format!(
                            "stale: {last}, none for more than {}s {hours}",
                            stale_after.num_seconds()
                        ),
                    });
                    w.state = Some(HealthState::Offline);
                    w.since = now;
                    w.changed = true;
                }
            }
            let due = w.changed || w.published.is_none_or(|p| now - p >= self.refresh);
            let Some(state) = w.state.filter(|_| due) else {
                continue;
            };
            w.changed = false;
            w.published = Some(now);
            out.push(DeviceStatus {
                v: STATUS_VERSION,
                site: w.site.clone(),
                device: device.clone(),
                gateway: self.gateway.clone(),
                source: super::SOURCE.into(),
                state,
                since: w.since,
                updated: now,
                refresh_seconds: u64::try_from(self.refresh.num_seconds()).unwrap_or(0),
                last_success: w.last_seen,
                last_error: w.last_error.clone(),
                consecutive_failures: 0,
                polls_ok: w.readings,
                polls_failed: 0,
                last_seen: w.last_seen,
            });
        }
        out.sort_by(|a, b| a.device.cmp(&b.device));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zw_model::Device;

    const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

    /// Winter in Berlin: local = UTC + 1 h.
    fn at(local: &str) -> DateTime<Utc> {
        let t = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").expect("time");
        chrono_tz::Europe::Berlin
            .from_local_datetime(&t)
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }

    fn inventory() -> Inventory {
        Inventory::builder()
            .building(
                "schule",
                [
                    Device::wmbus("water-day", "ZWS", "20260003", None).send_hours("6-22"),
                    Device::wmbus("heat-always", "ZWS", "20260001", None),
                ],
            )
            .build()
    }

    fn state(list: &[DeviceStatus], device: &str) -> Option<HealthState> {
        list.iter().find(|s| s.device.as_str() == device).map(|s| s.state)
    }

    #[test]
    fn silence_alarms_only_inside_the_send_hours() {
        let mut f = Freshness::new(
            &inventory(),
            (HOUR, HOUR),
            chrono_tz::Europe::Berlin,
            "gw1",
            at("2026-12-07 20:00"),
        );
        let (day, always) = (
            Id::new("water-day").expect("id"),
            Id::new("heat-always").expect("id"),
        );
        f.heard(&day, at("2026-12-07 21:30"));
        f.heard(&always, at("2026-12-07 21:30"));
        let s = f.tick(at("2026-12-07 21:30"));
        assert_eq!(
            (state(&s, "water-day"), state(&s, "heat-always")),
            (Some(HealthState::Online), Some(HealthState::Online))
        );
        // 23:00: both quiet for 90 min; the day meter is outside its hours, the other is stale.
        let s = f.tick(at("2026-12-07 23:00"));
        assert_eq!(
            state(&s, "water-day"),
            Some(HealthState::Online),
            "refreshed, not alarmed: {s:#?}"
        );
        let stale = s.iter().find(|s| s.device == always).expect("published at once");
        assert_eq!(stale.state, HealthState::Offline);
        let e = stale.last_error.as_ref().expect("reason");
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(e.message.starts_with("stale: last reading at"), "{}", e.message);
        // The night passes; at 06:59 the window is 59 min old: no alarm; refreshed, still online.
        let s = f.tick(at("2026-12-08 06:59"));
        assert_eq!(state(&s, "water-day"), Some(HealthState::Online));
        assert!(
            s.iter().all(|s| s.device != day || s.last_error.is_none()),
            "{s:#?}"
        );
        // 07:01: an hour inside the window without a reading: stale, the reason names the hours.
        let s = f.tick(at("2026-12-08 07:01"));
        let st = s.iter().find(|s| s.device == day).expect("published at once");
        assert_eq!(st.state, HealthState::Offline);
        let msg = &st.last_error.as_ref().expect("reason").message;
        assert!(
            msg.contains("inside its send hours 6-22 (Europe/Berlin)"),
            "{msg}"
        );
        assert_eq!(st.since, at("2026-12-08 07:01"));
        // A reading: online again at once.
        f.heard(&day, at("2026-12-08 07:05"));
        let s = f.tick(at("2026-12-08 07:05"));
        assert_eq!(state(&s, "water-day"), Some(HealthState::Online));
    }

    #[test]
    fn a_meter_never_heard_is_stale_from_the_start_and_the_inventory_is_followed() {
        let mut f = Freshness::new(
            &inventory(),
            (HOUR, HOUR),
            chrono_tz::Europe::Berlin,
            "gw1",
            at("2026-12-07 12:00"),
        );
        assert!(
            f.tick(at("2026-12-07 12:59")).is_empty(),
            "nothing known, nothing published"
        );
        let s = f.tick(at("2026-12-07 13:01"));
        assert_eq!(s.len(), 2, "{s:#?}");
        assert!(s.iter().all(|s| {
            s.last_error
                .as_ref()
                .is_some_and(|e| e.message.contains("no reading since"))
        }));
        // Statuses are refreshed every refresh period, not on every tick.
        assert!(f.tick(at("2026-12-07 13:30")).is_empty());
        assert_eq!(f.tick(at("2026-12-07 14:01")).len(), 2);
        // A meter leaves the inventory: no more statuses for it; a new one is watched from now.
        let inv = Inventory::builder()
            .building("schule", [Device::wmbus("gas-new", "ZWS", "20260002", None)])
            .build();
        f.update(&inv, at("2026-12-07 14:30"));
        assert!(f.tick(at("2026-12-07 15:29")).is_empty());
        let s = f.tick(at("2026-12-07 15:31"));
        assert_eq!(
            s.iter().map(|s| s.device.as_str()).collect::<Vec<_>>(),
            ["gas-new"]
        );
        assert_eq!(s[0].source, "wmbus");
        assert_eq!(s[0].refresh_seconds, 3600);
    }
}
