//! Analytics following the inventory while running ([`Analytics::apply`], as the service calls it on every
//! change of its `LiveInventory`): a household added at run time gets its detectors (the plug's static
//! limit), a retired one's open alert resolves as `retired`, and an unchanged site keeps its open alert.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use zw_analytics::{Analytics, Config, Event};
use zw_model::alert::{AlertKind, AlertState};
use zw_model::inventory::Device;
use zw_model::{Id, Inventory, Quantity, Reading};

fn id(s: &str) -> Id {
    Id::new(s).expect("test id")
}

fn town(with_household: bool) -> Inventory {
    let mut b = Inventory::builder().building("hall", [Device::tasmota("p0", "p0").class("plug")]);
    if with_household {
        b = b.household("hh-1", [Device::tasmota("p1", "p1").class("plug")]);
    }
    b.build()
}

/// One reading per minute of each (site, device) at `watts` for `minutes` from `from`, ticking as the
/// service does; every event returned.
fn feed(
    a: &mut Analytics,
    devices: &[(&str, &str)],
    from: DateTime<Utc>,
    minutes: i64,
    watts: f64,
) -> Vec<Event> {
    let mut events = Vec::new();
    for m in 0..minutes {
        let ts = from + TimeDelta::minutes(m);
        for (site, device) in devices {
            let values = BTreeMap::from([(Quantity::ActivePower, watts)]);
            events.extend(a.observe(&Reading::new(id(site), id(device), ts, values), ts));
        }
        events.extend(a.tick(ts));
    }
    events
}

/// The alerts among `events` as (kind, device, state, text).
fn alerts(events: &[Event]) -> Vec<(AlertKind, String, AlertState, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Alert(a) => Some((
                a.kind,
                a.subject
                    .device
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                a.state,
                a.explanation.text.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_household_added_at_run_time_gets_its_detectors_and_its_alerts_retire_with_it() {
    let cfg = Config::default();
    let limit = cfg.limits["plug"].0;
    let over = limit + 500.0;
    let t0: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().expect("time");
    let mut a = Analytics::new(&cfg, &town(false));

    // The hall's plug over its class limit: an alert opens. The household's plug is not in the inventory:
    // whatever it draws, nothing is said about it (the service does not even hand its readings in; here
    // they are, and without its class there is no limit to check).
    let before = feed(&mut a, &[("hall", "p0"), ("hh-1", "p1")], t0, 40, over);
    let opened = alerts(&before);
    assert!(
        opened
            .iter()
            .any(|(k, d, s, _)| *k == AlertKind::HighConsumption && d == "p0" && *s == AlertState::Open),
        "{opened:?}"
    );
    assert!(opened.iter().all(|(_, d, _, _)| d == "p0"), "{opened:?}");

    // The household is onboarded: its plug is a plug now, with the plug's limit.
    let t1 = t0 + TimeDelta::minutes(40);
    let applied = a.apply(&town(true), t1);
    assert!(
        alerts(&applied).is_empty(),
        "nothing resolves on an addition: {applied:?}"
    );
    let after = feed(&mut a, &[("hall", "p0"), ("hh-1", "p1")], t1, 40, over);
    let raised = alerts(&after);
    assert!(
        raised
            .iter()
            .any(|(k, d, s, _)| *k == AlertKind::HighConsumption && d == "p1" && *s == AlertState::Open),
        "the added household's plug is checked against its class limit: {raised:?}"
    );
    // The hall's alert stayed open throughout (updates at most, never resolved and re-opened).
    assert!(
        raised
            .iter()
            .all(|(_, d, s, _)| d != "p0" || *s != AlertState::Resolved),
        "{raised:?}"
    );

    // The household is retired: its open alert resolves as retired; the hall's stays open.
    let t2 = t1 + TimeDelta::minutes(40);
    let retired = alerts(&a.apply(&town(false), t2));
    assert_eq!(retired.len(), 1, "{retired:?}");
    let (kind, device, state, text) = &retired[0];
    assert_eq!(
        (*kind, device.as_str(), *state),
        (AlertKind::HighConsumption, "p1", AlertState::Resolved)
    );
    assert!(text.starts_with("resolved: retired"), "{text}");
    let open: Vec<_> = a
        .alerts()
        .active()
        .map(|x| {
            x.subject
                .device
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(open, ["p0"]);

    // The hall goes on as before: its alert is neither resolved nor opened again.
    let later = alerts(&feed(&mut a, &[("hall", "p0")], t2, 5, over));
    assert!(
        later
            .iter()
            .all(|(_, d, s, _)| d == "p0" && *s != AlertState::Resolved),
        "{later:?}"
    );
}
