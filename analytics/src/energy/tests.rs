use chrono::{DateTime, Utc};
use proptest::prelude::*;
use zw_model::inventory::{Device, DeviceSource, Site};

use super::*;
use crate::calendar::LocalClock;

const MIN: i64 = 60_000;
const WEEK: i64 = 7 * 24 * 60 * MIN;

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

fn inventory(devices: &[(&str, &str)]) -> Inventory {
    let devices = devices
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
        .collect();
    Inventory {
        sites: vec![Site {
            id: id("s"),
            name: String::new(),
            kind: SiteKind::Building,
            category: None,
            floor_area_m2: None,
            devices,
        }],
        ..Default::default()
    }
}

/// Monday 2026-01-05 00:00 Berlin.
fn t0() -> i64 {
    DateTime::parse_from_rfc3339("2026-01-04T23:00:00Z")
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
    fn new(devices: &[(&str, &str)]) -> Self {
        let cfg = Config::default();
        Self {
            e: Energy::new(&cfg, &inventory(devices)),
            clock: LocalClock::new(chrono_tz::Europe::Berlin),
            out: Vec::new(),
        }
    }

    /// One reading per minute per device from `from` for `minutes`, power from `f(device, t)`.
    fn run(&mut self, devices: &[&str], from: i64, minutes: i64, f: impl Fn(&str, i64) -> f64) {
        for m in 0..minutes {
            let ts = from + m * MIN;
            let l = self.clock.local(ts);
            for d in devices {
                self.e.power(&id("s"), &id(d), ts, l, f(d, ts), &mut self.out);
            }
            if m % 10 == 0 {
                self.e.tick(ts, &mut self.out);
            }
        }
    }

    fn take(&mut self) -> Vec<(AlertKind, Option<String>, bool, String)> {
        self.out
            .drain(..)
            .map(|s| {
                let (raise, text) = match s.change {
                    Change::Raise { explanation, .. } => (true, explanation.text),
                    Change::Clear { reason } => (false, reason),
                };
                (s.kind, s.subject.device.map(|d| d.to_string()), raise, text)
            })
            .collect()
    }
}

#[test]
fn table_of_single_device_histories() {
    // (name, class, learn weeks at 1 kW, anomaly: (offset from the start of the next week, minutes, W),
    //  expected first signal: (kind, raise, text fragment) or None)
    type Case = (
        &'static str,
        &'static str,
        i64,
        (i64, i64, f64),
        Option<(AlertKind, &'static str)>,
    );
    let cases: [Case; 5] = [
        (
            "spike shorter than hold",
            "meter",
            3,
            (26 * 60 * MIN, 5, 5000.0),
            None,
        ),
        (
            "sustained excess over the normal",
            "meter",
            3,
            (26 * 60 * MIN, 40, 2500.0),
            Some((
                AlertKind::HighConsumption,
                "above the usual 1.0 kW for Tuesday 02:00",
            )),
        ),
        (
            "small excess within the margin",
            "meter",
            3,
            (26 * 60 * MIN, 60, 1400.0),
            None,
        ),
        (
            "above the class limit without history",
            "plug",
            0,
            (34 * 60 * MIN, 40, 3500.0),
            Some((
                AlertKind::HighConsumption,
                "above the 3.0 kW limit for class plug",
            )),
        ),
        (
            "plug on at night",
            "plug",
            0,
            (22 * 60 * MIN, 40, 800.0),
            Some((AlertKind::LeftOn, "drawn outside usage hours")),
        ),
    ];
    for (name, class, weeks, (offset, minutes, w), want) in cases {
        let mut rig = Rig::new(&[("d", class)]);
        let base = if class == "plug" { 2.0 } else { 1000.0 };
        rig.run(&["d"], t0(), weeks * WEEK / MIN, |_, _| base);
        assert!(rig.take().is_empty(), "{name}: alert while learning");
        let start = t0() + weeks * WEEK + offset;
        rig.run(
            &["d"],
            t0() + weeks * WEEK,
            offset / MIN + minutes + 60,
            |_, ts| {
                if (start..start + minutes * MIN).contains(&ts) {
                    w
                } else {
                    base
                }
            },
        );
        let got = rig.take();
        match want {
            None => assert!(got.is_empty(), "{name}: {got:?}"),
            Some((kind, text)) => {
                assert!(got.len() >= 2, "{name}: expected open and close, got {got:?}");
                assert_eq!((got[0].0, got[0].2), (kind, true), "{name}: {got:?}");
                assert!(got[0].3.contains(text), "{name}: {:?}", got[0].3);
                let last = got.last().expect("signals");
                assert_eq!((last.0, last.2), (kind, false), "{name}: not cleared: {got:?}");
                assert!(
                    got.iter().filter(|g| g.2 && g.0 != kind).count() == 0,
                    "{name}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn silent_device_resolves_with_no_data() {
    let mut rig = Rig::new(&[("d", "plug")]);
    rig.run(&["d"], t0() + 12 * 60 * MIN, 30, |_, _| 4000.0);
    let got = rig.take();
    assert!(
        !got.is_empty() && got.iter().all(|g| g.2),
        "opened and refreshed: {got:?}"
    );
    rig.run(&[], t0() + 13 * 60 * MIN, 40, |_, _| 0.0);
    let got = rig.take();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(!got[0].2 && got[0].3.starts_with("no data"), "{got:?}");
}

#[test]
fn site_total_of_two_main_meters_alerts_at_site_level() {
    let mut rig = Rig::new(&[("m1", "main_meter"), ("m2", "main_meter")]);
    rig.run(&["m1", "m2"], t0(), 3 * WEEK / MIN, |_, _| 1000.0);
    assert!(rig.take().is_empty());
    let start = t0() + 3 * WEEK + 10 * 60 * MIN;
    rig.run(
        &["m1", "m2"],
        start,
        30,
        |d, _| if d == "m1" { 2500.0 } else { 1000.0 },
    );
    let got = rig.take();
    assert!(
        got.iter().any(|g| g.1.is_none() && g.3.starts_with("site total")),
        "{got:?}"
    );
    assert!(got.iter().any(|g| g.1.as_deref() == Some("m1")), "{got:?}");
    assert!(!got.iter().any(|g| g.1.as_deref() == Some("m2")), "{got:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Noise within ±20 % around a learned normal never raises an alert, and whatever the input, every
    /// device's signals alternate between open and close (no repeated opens).
    #[test]
    fn noise_is_quiet_and_signals_alternate(seed in any::<u64>(), spikes in proptest::collection::vec((0i64..10_000, 1i64..90, 0.0f64..6000.0), 0..6)) {
        let noise = |ts: i64| {
            let x = (ts / MIN).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(seed as i64);
            1000.0 * (1.0 + 0.2 * (((x >> 33) & 0xFFFF) as f64 / 65_535.0 * 2.0 - 1.0))
        };
        let mut rig = Rig::new(&[("d", "meter")]);
        rig.run(&["d"], t0(), 2 * WEEK / MIN + 60 * 24, |_, ts| noise(ts));
        prop_assert!(rig.take().is_empty());
        let start = t0() + 2 * WEEK + 60 * 24 * MIN;
        rig.run(&["d"], start, 10_100, |_, ts| {
            let m = (ts - start) / MIN;
            spikes.iter().find(|(at, len, _)| (*at..at + len).contains(&m)).map_or(noise(ts), |s| s.2)
        });
        let mut open = false;
        for (_, _, raise, _) in rig.take() {
            if raise { open = true } else { prop_assert!(open); open = false; }
        }
    }
}

/// Six buildings with a fan heater plug each, never on while learning; then on a Monday some switch on at
/// 08:00 and stop at 09:30, some run until 12:00. Returns the devices alerted (opened, sorted) and the
/// notices (started or ended).
fn fleet_morning(on: &[usize], until_noon: &[usize], enabled: bool) -> (Vec<String>, Vec<bool>) {
    let mut cfg = Config::default();
    cfg.common_cause.enabled = enabled;
    let sites = (0..6)
        .map(|i| Site {
            id: id(&format!("b{i}")),
            name: String::new(),
            kind: SiteKind::Building,
            category: None,
            floor_area_m2: None,
            devices: vec![Device {
                id: id(&format!("b{i}-fan")),
                name: String::new(),
                class: "plug".into(),
                source: DeviceSource::Tasmota {
                    topic: format!("b{i}-fan"),
                    sml_section: None,
                    sml: Vec::new(),
                },
            }],
        })
        .collect();
    let inv = Inventory {
        sites,
        ..Default::default()
    };
    let mut e = Energy::new(&cfg, &inv);
    let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
    let mut out = Vec::new();
    let monday = t0() + 3 * WEEK;
    let minutes = (monday - t0()) / MIN + 14 * 60;
    for m in 0..minutes {
        let ts = t0() + m * MIN;
        let (l, h) = (clock.local(ts), (ts - monday) as f64 / 3.6e6);
        for i in 0..6 {
            let running = ts >= monday
                && ((on.contains(&i) && (8.0..9.5).contains(&h))
                    || (until_noon.contains(&i) && (8.0..12.0).contains(&h)));
            let p = if running { 1500.0 } else { 0.5 };
            e.power(
                &id(&format!("b{i}")),
                &id(&format!("b{i}-fan")),
                ts,
                l,
                p,
                &mut out,
            );
        }
        if m % 10 == 0 {
            e.tick(ts, &mut out);
        }
    }
    let mut opened: Vec<String> = out
        .iter()
        .filter(|s| matches!(s.change, Change::Raise { .. }))
        .filter_map(|s| s.subject.device.as_ref().map(|d| d.to_string()))
        .collect();
    opened.sort();
    opened.dedup();
    let notices = e.take_notices().iter().map(|n| n.started).collect();
    (opened, notices)
}

#[test]
fn common_cause_table() {
    let fan = |i: usize| format!("b{i}-fan");
    type Case<'a> = (&'a str, Vec<usize>, Vec<usize>, bool, Vec<String>, Vec<bool>);
    let cases: Vec<Case> = vec![
        (
            "one fan heater: its alert",
            vec![2],
            vec![],
            true,
            vec![fan(2)],
            vec![],
        ),
        (
            "two at once are still two device problems",
            vec![1, 4],
            vec![],
            true,
            vec![fan(1), fan(4)],
            vec![],
        ),
        (
            "every building on a cold morning: one notice, no alert",
            (0..6).collect(),
            vec![],
            true,
            vec![],
            vec![true, false],
        ),
        (
            "the one left on after the others stopped is alerted",
            vec![0, 1, 2, 4, 5],
            vec![3],
            true,
            vec![fan(3)],
            vec![true, false],
        ),
        (
            "check off: an alert per device",
            (0..6).collect(),
            vec![],
            false,
            (0..6).map(fan).collect(),
            vec![],
        ),
    ];
    for (name, on, noon, enabled, alerts, notices) in cases {
        assert_eq!(fleet_morning(&on, &noon, enabled), (alerts, notices), "{name}");
    }
}
