//! The split and the handover: the pure [`Partition`] with injected time, and two [`Analytics`] handing a
//! site with an open alert from one to the other through the followed alert book.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use zw_model::alert::{AlertKind, AlertState};
use zw_model::{Device, Inventory, Quantity, Reading};

use super::*;
use crate::config::Watts;
use crate::{Analytics, Config, Event};

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

fn at(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 12, 10, 0, 0)
        .single()
        .expect("time")
        + TimeDelta::seconds(s)
}

fn sites(names: &[&str]) -> Vec<Id> {
    names.iter().map(|s| id(s)).collect()
}

#[test]
fn the_first_split_is_taken_at_once_and_a_gained_site_waits_for_the_settle() {
    let all = sites(&["a", "b", "c"]);
    let mut p = Partition::new(Duration::from_secs(2));
    p.start(&all, |s| s.as_str() != "c");
    assert_eq!(p.owned(), &BTreeSet::from([id("a"), id("b")]));
    assert!(p.owns("a") && !p.owns("c"));
    assert_eq!(p.next_ready(), None);

    // The owner of c is gone: c is ours after the settle, not before.
    let lost = p.update(&all, |_| true, at(0));
    assert!(lost.is_empty());
    assert!(!p.owns("c"));
    assert_eq!(p.next_ready(), Some(at(2)));
    assert!(p.take_ready(at(1)).is_empty());
    // A second change before the settle does not push the deadline out.
    assert!(p.update(&all, |_| true, at(1)).is_empty());
    assert_eq!(p.take_ready(at(2)), vec![id("c")]);
    assert!(p.owns("c"));
    assert_eq!(p.next_ready(), None);
}

#[test]
fn a_lost_site_is_released_at_once_and_one_moving_away_while_pending_is_not_taken() {
    let all = sites(&["a", "b", "c"]);
    let mut p = Partition::new(Duration::from_secs(2));
    p.start(&all, |s| s.as_str() == "a");
    // A newcomer takes a; b becomes ours.
    let lost = p.update(&all, |s| s.as_str() == "b", at(0));
    assert_eq!(lost, vec![id("a")]);
    assert!(!p.owns("a"));
    // …and b moves on before the settle is over: never taken.
    assert!(p.update(&all, |_| false, at(1)).is_empty());
    assert!(p.take_ready(at(10)).is_empty());
    assert!(p.owned().is_empty());
}

#[test]
fn a_site_gone_from_the_inventory_is_no_longer_owned() {
    let mut p = Partition::new(Duration::from_secs(2));
    p.start(&sites(&["a", "b"]), |_| true);
    let lost = p.update(&sites(&["a"]), |_| true, at(0));
    assert_eq!(lost, vec![id("b")]);
    assert_eq!(p.owned(), &BTreeSet::from([id("a")]));
}

/// Quick power detectors: a plug over 100 W for 2 s raises a high-consumption alert.
fn config() -> Config {
    let mut cfg = Config::default();
    cfg.power.smoothing = Duration::from_secs(1);
    cfg.power.hold = Duration::from_secs(2);
    cfg.power.clear_hold = Duration::from_secs(2);
    cfg.power.refresh = Duration::from_secs(1);
    cfg.limits = BTreeMap::from([("plug".to_owned(), Watts(100.0))]);
    cfg.left_on.classes = Vec::new();
    cfg.partitions.enabled = true;
    cfg
}

fn inventory() -> Inventory {
    Inventory::builder()
        .household("hh-1", [Device::tasmota("plug-1", "plug-1").class("plug")])
        .household("hh-2", [Device::tasmota("plug-2", "plug-2").class("plug")])
        .build()
}

fn power(site: &str, device: &str, t: DateTime<Utc>, w: f64) -> Reading {
    Reading::new(
        id(site),
        id(device),
        t,
        BTreeMap::from([(Quantity::ActivePower, w)]),
    )
}

/// Feeds `a` one reading a second from `from` to `to` seconds; returns the alerts published.
fn feed(
    a: &mut Analytics,
    site: &str,
    device: &str,
    w: f64,
    from: i64,
    to: i64,
) -> Vec<zw_model::alert::Alert> {
    let mut out = Vec::new();
    for s in from..to {
        let mut events = a.observe(&power(site, device, at(s), w), at(s));
        events.extend(a.tick(at(s)));
        out.extend(events.into_iter().filter_map(|e| match e {
            Event::Alert(a) => Some(a),
            _ => None,
        }));
    }
    out
}

fn scope(names: &[&str]) -> Option<BTreeSet<Id>> {
    Some(names.iter().map(|s| id(s)).collect())
}

/// Instance one raises hh-1's alert (its plug draws 500 W), instance two follows it; then one is gone and
/// two takes hh-1 over at 12 s. Returns two and the alert.
fn handed_over() -> (Analytics, zw_model::alert::Alert) {
    let (cfg, inv) = (config(), inventory());
    let mut one = Analytics::scoped(&cfg, &inv, scope(&["hh-1"]));
    let mut two = Analytics::scoped(&cfg, &inv, scope(&["hh-2"]));
    let raised = feed(&mut one, "hh-1", "plug-1", 500.0, 0, 10);
    assert!(
        feed(&mut two, "hh-1", "plug-1", 500.0, 0, 10).is_empty(),
        "two ignores hh-1's readings"
    );
    let open = raised.last().cloned().expect("an alert");
    assert_eq!(
        (open.kind, open.state),
        (AlertKind::HighConsumption, AlertState::Open)
    );
    assert!(
        raised.iter().all(|a| a.opened_at == open.opened_at),
        "opened once: {raised:#?}"
    );
    for a in &raised {
        assert!(two.follow(a.clone()), "two follows hh-1's alerts");
    }
    // An echo of its own alert changes nothing in one's book.
    assert!(!one.follow(open.clone()));
    // two cannot acknowledge hh-1's alert: its owner does.
    let ack = zw_model::alert::AckCommand {
        alert: open.id.clone(),
        by: "fm".parse().expect("name"),
        ts: at(10),
    };
    assert_eq!(
        two.acknowledge(&ack, at(10)),
        crate::alerts::AckOutcome::Ignored("not_owned")
    );
    let resolved = two.rescope(BTreeSet::from([id("hh-1"), id("hh-2")]), at(12));
    assert!(
        resolved.is_empty(),
        "nothing resolved at the handover: {resolved:#?}"
    );
    (two, open)
}

#[test]
fn a_site_taken_over_while_its_condition_holds_refreshes_the_open_alert_never_opens_it_again() {
    let (mut two, open) = handed_over();
    let after = feed(&mut two, "hh-1", "plug-1", 500.0, 12, 30);
    assert!(!after.is_empty(), "the new owner carries the alert on");
    for a in &after {
        assert_eq!(a.id, open.id);
        assert_eq!(a.opened_at, open.opened_at, "refreshed, not opened again: {a:#?}");
        assert!(a.is_active());
    }
}

#[test]
fn a_site_taken_over_resolves_the_open_alert_it_was_re_armed_with() {
    let (mut two, open) = handed_over();
    // The plug calms down at once: only a detector re-armed from the followed alert can clear it.
    let calm = feed(&mut two, "hh-1", "plug-1", 10.0, 12, 40);
    let resolved: Vec<_> = calm.iter().filter(|a| a.state == AlertState::Resolved).collect();
    assert_eq!(resolved.len(), 1, "{calm:#?}");
    assert_eq!(
        (&resolved[0].id, resolved[0].opened_at),
        (&open.id, open.opened_at)
    );
    assert!(
        calm.iter()
            .all(|a| a.id == open.id && a.opened_at == open.opened_at),
        "{calm:#?}"
    );
}

#[test]
fn a_lost_site_is_dropped_without_resolving_or_raising_anything() {
    let (cfg, inv) = (config(), inventory());
    let mut one = Analytics::scoped(&cfg, &inv, scope(&["hh-1", "hh-2"]));
    let raised = feed(&mut one, "hh-1", "plug-1", 500.0, 0, 10);
    assert!(raised.iter().any(|a| a.state == AlertState::Open));
    // A newcomer takes hh-1: one drops it at once. Nothing is resolved, and readings of hh-1 (the plug
    // calming down, or still high) no longer change anything here, nor does time passing.
    assert!(one.rescope(BTreeSet::from([id("hh-2")]), at(10)).is_empty());
    assert!(!one.owns("hh-1") && one.owns("hh-2"));
    assert!(feed(&mut one, "hh-1", "plug-1", 10.0, 10, 40).is_empty());
    assert_eq!(one.alerts().active().count(), 1, "kept as the other's alert");
    // An inventory change does not resolve the other instance's alerts either.
    assert!(one.apply(&inv, at(40)).is_empty());
    // hh-2 still runs here.
    let other = feed(&mut one, "hh-2", "plug-2", 500.0, 40, 50);
    assert!(
        other
            .iter()
            .any(|a| a.site == id("hh-2") && a.state == AlertState::Open)
    );
}

#[test]
fn alerts_of_other_sites_restored_at_start_are_kept_not_resolved() {
    let (cfg, inv) = (config(), inventory());
    let mut one = Analytics::scoped(&cfg, &inv, scope(&["hh-1", "hh-2"]));
    let open = feed(&mut one, "hh-1", "plug-1", 500.0, 0, 10)
        .pop()
        .expect("an alert");
    // An instance starting with hh-2 only reads hh-1's retained alert back: it is kept, not resolved as
    // "no longer watched", and a cleared topic forgets it.
    let mut two = Analytics::scoped(&cfg, &inv, scope(&["hh-2"]));
    assert!(two.restore(vec![open.clone()], at(11)).is_empty());
    assert!(two.alerts().get(&open.id).is_some_and(|a| a.is_active()));
    assert!(two.forget(&open.id));
    assert!(two.alerts().get(&open.id).is_none());
}
