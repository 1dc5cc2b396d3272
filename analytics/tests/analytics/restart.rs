//! A restart neither repeats nor loses alerts: the retained alerts are given back to fresh detectors, an
//! ongoing condition keeps its alert (same id, same opening time, no second "open"), and an alert whose
//! condition ended while analytics was down resolves through the normal clear path.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use zw_analytics::{Analytics, Config, Event};
use zw_model::alert::{Alert, AlertKind, AlertState, Subject};
use zw_model::{Device, Id, Inventory, Quantity, Reading};

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

/// Household `hh-1` with the plug `plug-1`.
fn inventory() -> Inventory {
    Inventory::builder()
        .household("hh-1", [Device::tasmota("plug-1", "plug-1").class("plug")])
        .build()
}

fn reading(t: DateTime<Utc>, w: f64) -> Reading {
    Reading::new(
        id("hh-1"),
        id("plug-1"),
        t,
        BTreeMap::from([(Quantity::ActivePower, w)]),
    )
}

/// Feeds one reading per minute; returns the alerts published.
fn run(a: &mut Analytics, from: DateTime<Utc>, minutes: i64, w: f64) -> Vec<Alert> {
    let mut out = Vec::new();
    for m in 0..minutes {
        let t = from + TimeDelta::minutes(m);
        let mut events = a.observe(&reading(t, w), t);
        events.extend(a.tick(t));
        out.extend(events.into_iter().filter_map(|e| match e {
            Event::Alert(x) => Some(x),
            _ => None,
        }));
    }
    out
}

/// Tuesday 10:00 in Berlin: usage hours, so only the plug limit (3 kW) applies.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-12T08:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn restart_keeps_an_ongoing_alert_without_reopening_it() {
    let (cfg, inv) = (Config::default(), inventory());
    let mut before = Analytics::new(&cfg, &inv);
    let retained = run(&mut before, t0(), 30, 4000.0)
        .pop()
        .expect("an alert was published");
    assert_eq!(retained.state, AlertState::Open);

    // Restart: fresh detectors get the retained alert back before any reading.
    let mut after = Analytics::new(&cfg, &inv);
    assert!(
        after
            .restore(vec![retained.clone()], t0() + TimeDelta::minutes(31))
            .is_empty()
    );
    let again = run(&mut after, t0() + TimeDelta::minutes(31), 30, 4000.0);
    assert!(!again.is_empty(), "the alert is refreshed");
    for a in &again {
        assert_eq!(
            (&a.id, a.opened_at, a.state),
            (&retained.id, retained.opened_at, AlertState::Open)
        );
    }
    assert_eq!(after.alerts().active().count(), 1);
}

#[test]
fn restart_resolves_an_alert_whose_condition_ended_meanwhile() {
    let (cfg, inv) = (Config::default(), inventory());
    let mut before = Analytics::new(&cfg, &inv);
    let retained = run(&mut before, t0(), 30, 4000.0).pop().expect("alert");
    let mut after = Analytics::new(&cfg, &inv);
    after.restore(vec![retained.clone()], t0() + TimeDelta::hours(2));
    let later = run(&mut after, t0() + TimeDelta::hours(2), 30, 50.0);
    let last = later.last().expect("resolution published");
    assert_eq!((&last.id, last.state), (&retained.id, AlertState::Resolved));
    assert!(
        later.iter().all(|a| a.opened_at == retained.opened_at),
        "never reopened"
    );
}

#[test]
fn restored_alert_of_an_unknown_subject_is_resolved() {
    let (cfg, inv) = (Config::default(), inventory());
    let mut alert = run(&mut Analytics::new(&cfg, &inv), t0(), 30, 4000.0)
        .pop()
        .expect("alert");
    alert.kind = AlertKind::TreeWater;
    alert.subject = Subject {
        device: None,
        tree: Some(id("gone")),
    };
    let events = Analytics::new(&cfg, &inv).restore(vec![alert], t0());
    assert!(matches!(&events[..], [Event::Alert(a)] if a.state == AlertState::Resolved));
}
