//! The detectors with calendars and weather: households judged against their own use (a fridge is never
//! "left on"), public and school holidays as Sundays, and a cold morning recognised as the weather.

use chrono::{DateTime, Utc};
use zw_model::inventory::{Device, DeviceSource, Site};
use zw_model::report::BuildingCategory;

use super::*;
use crate::calendar::LocalClock;
use crate::config::{DateRange, units::Date};

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

/// A site of `kind` (and `category`) with devices `(id, class)`.
fn site(sid: &str, kind: SiteKind, category: Option<BuildingCategory>, devices: &[(&str, &str)]) -> Site {
    Site {
        id: id(sid),
        name: String::new(),
        kind,
        category,
        floor_area_m2: None,
        devices: devices
            .iter()
            .map(|(d, class)| Device {
                id: id(d),
                name: String::new(),
                class: (*class).into(),
                source: DeviceSource::Tasmota {
                    topic: (*d).into(),
                    sml_section: None,
                    sml: Vec::new(),
                },
            })
            .collect(),
    }
}

/// UTC ms of an RFC 3339 time.
fn at(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s)
        .expect("valid")
        .with_timezone(&Utc)
        .timestamp_millis()
}

struct Rig {
    e: Energy,
    clock: LocalClock,
    out: Vec<Signal>,
}

impl Rig {
    fn new(cfg: &Config, sites: Vec<Site>) -> Self {
        let inv = Inventory {
            sites,
            ..Default::default()
        };
        Self {
            e: Energy::new(cfg, &inv),
            clock: LocalClock::new(chrono_tz::Europe::Berlin),
            out: Vec::new(),
        }
    }

    /// One reading a minute of every `(site, device)` from `from` for `minutes`; power `f(device, ts)`,
    /// and the outdoor temperature `temp(ts)` from device `temp` if given.
    fn run(
        &mut self,
        devices: &[(&str, &str)],
        from: i64,
        minutes: i64,
        f: impl Fn(&str, i64) -> f64,
        temp: Option<(&str, &dyn Fn(i64) -> f64)>,
    ) {
        for m in 0..minutes {
            let ts = from + m * MIN;
            let l = self.clock.local(ts);
            if let Some((d, t)) = temp {
                self.e.temperature(&id(d), ts, t(ts));
            }
            for (s, d) in devices {
                self.e.power(&id(s), &id(d), ts, l, f(d, ts), &mut self.out);
            }
            if m % 10 == 0 {
                self.e.tick(ts, &mut self.out);
            }
        }
    }

    /// Alerts raised: (kind, device).
    fn raised(&mut self) -> Vec<(AlertKind, String)> {
        self.out
            .drain(..)
            .filter(|s| matches!(s.change, Change::Raise { .. }))
            .map(|s| {
                (
                    s.kind,
                    s.subject.device.map(|d| d.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// A fridge: the compressor runs 20 minutes of every hour at 80 W, 2 W otherwise.
fn fridge(ts: i64) -> f64 {
    if ts.rem_euclid(60 * MIN) < 20 * MIN {
        80.0
    } else {
        2.0
    }
}

#[test]
fn a_household_fridge_is_never_left_on_but_an_iron_on_at_night_is() {
    // (site kind, left-on alerts expected for the fridge in four weeks)
    for (kind, fridge_alerts) in [(SiteKind::Household, false), (SiteKind::Building, true)] {
        let cfg = Config::default();
        let sites = vec![site("hh", kind, None, &[("fridge", "plug"), ("iron", "plug")])];
        let mut rig = Rig::new(&cfg, sites);
        // Monday 2026-01-05 00:00 Berlin; the iron is used on weekday evenings, 19:00–20:00.
        let t0 = at("2026-01-04T23:00:00Z");
        let iron = |ts: i64| {
            let m = (ts - t0).rem_euclid(DAY) / MIN;
            let weekday = (ts - t0).div_euclid(DAY) % 7 < 5;
            if weekday && (19 * 60..20 * 60).contains(&m) {
                1200.0
            } else {
                1.0
            }
        };
        let devices = [("hh", "fridge"), ("hh", "iron")];
        let f = |d: &str, ts: i64| if d == "fridge" { fridge(ts) } else { iron(ts) };
        rig.run(&devices, t0, 3 * 7 * 24 * 60, f, None);
        let learning = rig.raised();
        // Week four: the iron left on from Tuesday 02:00 to 03:00.
        let w4 = t0 + 21 * DAY;
        let (from, to) = (w4 + DAY + 2 * 60 * MIN, w4 + DAY + 3 * 60 * MIN);
        let f = |d: &str, ts: i64| match d {
            "fridge" => fridge(ts),
            _ if (from..to).contains(&ts) => 1200.0,
            _ => iron(ts),
        };
        rig.run(&devices, w4, 7 * 24 * 60, f, None);
        let week4 = rig.raised();
        let left =
            |v: &[(AlertKind, String)], d: &str| v.iter().any(|(k, x)| *k == AlertKind::LeftOn && x == d);
        assert_eq!(
            left(&learning, "fridge") || left(&week4, "fridge"),
            fridge_alerts,
            "{kind:?}: {learning:?} {week4:?}"
        );
        assert!(
            left(&week4, "iron"),
            "{kind:?}: the iron at 02:00 is left on: {week4:?}"
        );
    }
}

#[test]
fn public_and_school_holidays_have_no_usage_hours() {
    // A plug drawing 800 W from 10:00 to 10:40 on a given day, at a school and at the town hall.
    // (what, state, school holidays NW, day, left-on at the school, at the town hall)
    let summer = vec![DateRange {
        from: Date(chrono::NaiveDate::from_ymd_opt(2026, 7, 20).expect("date")),
        to: Date(chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("date")),
    }];
    let cases = [
        ("Whit Monday in NW", Some("NW"), false, "2026-05-25", true, true),
        ("the Tuesday after", Some("NW"), false, "2026-05-26", false, false),
        (
            "Whit Monday, no state configured",
            None,
            false,
            "2026-05-25",
            false,
            false,
        ),
        (
            "Corpus Christi is no holiday in Berlin",
            Some("BE"),
            false,
            "2026-06-04",
            false,
            false,
        ),
        (
            "Corpus Christi in NW",
            Some("NW"),
            false,
            "2026-06-04",
            true,
            true,
        ),
        (
            "summer school holidays: the school only",
            Some("NW"),
            true,
            "2026-07-21",
            true,
            false,
        ),
        ("after them", Some("NW"), true, "2026-09-02", false, false),
    ];
    for (what, state, holidays, day, school, hall) in cases {
        let mut cfg = Config::default();
        cfg.calendar.state = state.map(String::from);
        if holidays {
            cfg.calendar.school_holidays.insert("NW".into(), summer.clone());
        }
        let sites = vec![
            site(
                "schule",
                SiteKind::Building,
                Some(BuildingCategory::Schule),
                &[("p1", "plug")],
            ),
            site(
                "rathaus",
                SiteKind::Building,
                Some(BuildingCategory::Verwaltung),
                &[("p2", "plug")],
            ),
        ];
        let mut rig = Rig::new(&cfg, sites);
        // From 09:00 local (07:00 UTC in summer) for two hours.
        let start = at(&format!("{day}T07:00:00Z"));
        let on = (start + 60 * MIN, start + 100 * MIN);
        let f = |_: &str, ts: i64| if (on.0..on.1).contains(&ts) { 800.0 } else { 1.0 };
        rig.run(&[("schule", "p1"), ("rathaus", "p2")], start, 120, f, None);
        let got = rig.raised();
        let left = |d: &str| got.iter().any(|(k, x)| *k == AlertKind::LeftOn && x == d);
        assert_eq!((left("p1"), left("p2")), (school, hall), "{what}: {got:?}");
    }
}

#[test]
fn usage_hours_per_site_and_class() {
    // The pool's plugs are used 06:00–22:00 every day; its heater class keeps the default.
    let mut cfg = Config::default();
    cfg.left_on.classes = vec!["plug".into(), "heater".into()];
    let pool = crate::config::UsageHours {
        days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .map(|d| toml::Value::String(d.into()).try_into().expect("day"))
            .to_vec(),
        from: crate::config::ClockTime::hm(6, 0),
        to: crate::config::ClockTime::hm(22, 0),
    };
    cfg.calendar.sites.insert(
        "pool".into(),
        crate::config::SiteCalendar {
            classes: [("plug".to_string(), pool)].into(),
            ..Default::default()
        },
    );
    let sites = vec![site(
        "pool",
        SiteKind::Building,
        None,
        &[("p", "plug"), ("h", "heater")],
    )];
    let mut rig = Rig::new(&cfg, sites);
    // Saturday 2026-01-10, 10:00–10:40 local.
    let start = at("2026-01-10T08:30:00Z");
    let on = (start + 30 * MIN, start + 70 * MIN);
    let f = |_: &str, ts: i64| if (on.0..on.1).contains(&ts) { 800.0 } else { 1.0 };
    rig.run(&[("pool", "p"), ("pool", "h")], start, 120, f, None);
    let got = rig.raised();
    let left = |d: &str| got.iter().any(|(k, x)| *k == AlertKind::LeftOn && x == d);
    assert_eq!((left("p"), left("h")), (false, true), "{got:?}");
}

#[test]
fn a_cold_morning_raising_the_heating_is_the_weather() {
    // One building (too few for the rule of many sites): a heater at 500 W learned over three weeks, then
    // 2 kW from Tuesday 06:00 to 09:00. (outdoor temperature sensor and its reading, alert expected)
    let cases: [(&str, Option<f64>, bool); 3] = [
        ("cold morning measured", Some(-5.0), false),
        ("mild morning measured", Some(12.0), true),
        ("no outdoor sensor", None, true),
    ];
    for (what, temp, alert) in cases {
        let cfg = Config::default();
        let devices: &[(&str, &str)] = if temp.is_some() {
            &[("h", "heater"), ("t", "outdoor_temperature")]
        } else {
            &[("h", "heater")]
        };
        let mut rig = Rig::new(&cfg, vec![site("rathaus", SiteKind::Building, None, devices)]);
        let t0 = at("2026-01-04T23:00:00Z");
        let mild = |_: i64| 8.0;
        let sensor = temp.map(|_| ("t", &mild as &dyn Fn(i64) -> f64));
        rig.run(&[("rathaus", "h")], t0, 3 * 7 * 24 * 60, |_, _| 500.0, sensor);
        assert!(rig.raised().is_empty(), "{what}: alert while learning");
        let tue = t0 + 22 * DAY;
        let (from, to) = (tue + 6 * 60 * MIN, tue + 9 * 60 * MIN);
        let morning = move |ts: i64| {
            if (from..to).contains(&ts) {
                temp.unwrap_or(8.0)
            } else {
                8.0
            }
        };
        let sensor = temp.map(|_| ("t", &morning as &dyn Fn(i64) -> f64));
        let f = |_: &str, ts: i64| if (from..to).contains(&ts) { 2000.0 } else { 500.0 };
        rig.run(&[("rathaus", "h")], tue, 12 * 60, f, sensor);
        let got = rig.raised();
        let high = got.iter().any(|(k, _)| *k == AlertKind::HighConsumption);
        assert_eq!(high, alert, "{what}: {got:?}");
        let notices = rig.e.take_notices();
        let weather = notices
            .iter()
            .any(|n| n.started && n.text.contains("while it is cold outside (-"));
        assert_eq!(weather, !alert, "{what}: {notices:?}");
        if weather {
            let end = notices.iter().find(|n| !n.started).map(|n| n.text.as_str());
            assert!(
                end.is_some_and(|t| t.contains("no longer cold outside")),
                "{what}: {notices:?}"
            );
        }
    }
}

/// A washing machine: 2-hour cycles (2 kW for the first half hour, then 400 W) three times a week, on days
/// and at daytime hours that change from week to week; 1 W standby.
fn washer(t0: i64, ts: i64) -> f64 {
    let day = (ts - t0).div_euclid(DAY);
    let (week, weekday) = (day / 7, day % 7);
    let days = [(week * 2) % 7, (week * 2 + 2) % 7, (week * 2 + 5) % 7];
    let Some(i) = days.iter().position(|d| *d == weekday) else {
        return 1.0;
    };
    let start = [9, 11, 14, 16][((week + i as i64) % 4) as usize] * 60;
    let m = (ts - t0).rem_euclid(DAY) / MIN - start;
    match m {
        0..30 => 2000.0,
        30..120 => 400.0,
        _ => 1.0,
    }
}

/// The household's other load: 300 W, 1 kW in the evening (18:00–21:00).
fn household(t0: i64, ts: i64) -> f64 {
    let m = (ts - t0).rem_euclid(DAY) / MIN;
    if (18 * 60..21 * 60).contains(&m) {
        1000.0
    } else {
        300.0
    }
}

#[test]
fn a_washing_machine_at_irregular_daytime_hours_is_neither_left_on_nor_high_consumption() {
    let cfg = Config::default();
    let sites = vec![site(
        "hh",
        SiteKind::Household,
        None,
        &[("main", "main_meter"), ("washer", "plug")],
    )];
    let mut rig = Rig::new(&cfg, sites);
    let t0 = at("2026-01-04T23:00:00Z");
    let devices = [("hh", "main"), ("hh", "washer")];
    let normal = |d: &str, ts: i64| match d {
        "washer" => washer(t0, ts),
        _ => household(t0, ts) + washer(t0, ts),
    };
    // Three weeks to learn, then three weeks of washes on other days and at other hours of the week.
    rig.run(&devices, t0, 3 * 7 * 24 * 60, normal, None);
    rig.raised();
    rig.run(&devices, t0 + 21 * DAY, 3 * 7 * 24 * 60, normal, None);
    let washes = rig.raised();
    assert!(washes.is_empty(), "usual washes raised {washes:?}");
    // Week seven: the plug's device left on from Monday 10:00 for 7 hours (a fan heater, 2 kW), and on
    // Wednesday at 02:00 for an hour, a time of day nothing ran before: both are left on, once each.
    let w7 = t0 + 42 * DAY;
    let long = (w7 + 10 * 60 * MIN, w7 + 17 * 60 * MIN);
    let night = (w7 + 2 * DAY + 2 * 60 * MIN, w7 + 2 * DAY + 3 * 60 * MIN);
    let on = |ts: i64| (long.0..long.1).contains(&ts) || (night.0..night.1).contains(&ts);
    let f = |d: &str, ts: i64| {
        let w = if on(ts) { 2000.0 } else { 1.0 };
        if d == "washer" { w } else { household(t0, ts) + w }
    };
    rig.run(&devices, w7, 7 * 24 * 60, f, None);
    let left: Vec<i64> = rig
        .out
        .iter()
        .filter(|s| s.kind == AlertKind::LeftOn && matches!(s.change, Change::Raise { .. }))
        .map(|s| s.at.timestamp_millis())
        .collect();
    let within = |(a, b): (i64, i64)| left.iter().any(|t| (a..b).contains(t));
    assert!(within(long) && within(night), "left on at {left:?}");
    // The 7-hour run is left on only once it is longer than 1.5 times the 2-hour cycles.
    assert!(
        left.iter().all(|t| !(long.0..long.0 + 3 * 60 * MIN).contains(t)),
        "{left:?}"
    );
    let week7 = rig.raised();
    assert!(
        week7.iter().all(|(_, d)| d == "washer"),
        "the meter is checked beyond its plug's alert: {week7:?}"
    );
}
