use chrono::TimeZone;

use super::*;

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn sample() -> Alert {
    let t = Utc
        .with_ymd_and_hms(2026, 5, 12, 0, 45, 0)
        .single()
        .expect("valid time");
    let subject = Subject {
        device: Some(id("rathaus-main")),
        tree: None,
    };
    Alert {
        v: ALERT_SCHEMA_VERSION,
        id: AlertId::of(AlertKind::HighConsumption, &id("rathaus"), &subject),
        kind: AlertKind::HighConsumption,
        category: AlertKind::HighConsumption.category(),
        site: id("rathaus"),
        subject,
        state: AlertState::Open,
        severity: Severity::Warning,
        opened_at: t,
        updated_at: t,
        resolved_at: None,
        acknowledged_by: None,
        acknowledged_at: None,
        explanation: Explanation {
            observed: 4300.0,
            expected: 1100.0,
            threshold: 1900.0,
            unit: "W".into(),
            baseline: "learned normal for Tuesday 02:00".into(),
            since: t,
            text: "4.3 kW, 3.2 kW above the usual 1.1 kW for Tuesday 02:00, for 45 min".into(),
        },
    }
}

#[test]
fn alert_round_trips_and_omits_what_did_not_happen() {
    let a = sample();
    let json = String::from_utf8(a.to_json()).expect("utf8");
    assert!(
        json.contains(r#""id":"high_consumption.rathaus.rathaus-main""#),
        "{json}"
    );
    assert!(json.contains(r#""category":"energy""#), "{json}");
    assert!(
        !json.contains("resolved_at") && !json.contains("acknowledged_by"),
        "{json}"
    );
    assert_eq!(Alert::from_json(json.as_bytes()).expect("parses"), Some(a));
    assert_eq!(Alert::from_json(b"").expect("empty clears"), None);
}

#[test]
fn ids_are_stable_per_kind_site_and_subject() {
    let site = id("park");
    let tree = Subject {
        device: None,
        tree: Some(id("t-1")),
    };
    let sensor = Subject {
        device: Some(id("soil-1")),
        tree: Some(id("t-1")),
    };
    let cases = [
        (AlertKind::TreeWater, &tree, "tree_water.park.t-1"),
        (AlertKind::SensorFault, &sensor, "sensor_fault.park.soil-1"),
        (AlertKind::Baseload, &Subject::default(), "baseload.park"),
    ];
    for (kind, subject, want) in cases {
        let a = AlertId::of(kind, &site, subject);
        assert_eq!(a.as_str(), want);
        assert_eq!(AlertId::parse(want), Some(a));
    }
}

#[test]
fn foreign_ids_are_rejected() {
    let long = "a".repeat(MAX_ALERT_ID_LEN + 1);
    for bad in ["", "a/b", "a+b", "a#", "A.b", "a b", long.as_str()] {
        assert_eq!(AlertId::parse(bad), None, "{bad}");
    }
    let cmd: Result<AckCommand, _> =
        serde_json::from_str(r#"{"alert":"x/y","by":"fm","ts":"2026-05-12T07:58:00Z"}"#);
    assert!(cmd.is_err());
}

#[test]
fn ack_command_parses() {
    let cmd: AckCommand =
        serde_json::from_str(r#"{"alert":"left_on.hh-12.hh-12-plug","by":"fm","ts":"2026-05-12T07:58:00Z"}"#)
            .expect("parses");
    assert_eq!(cmd.alert.as_str(), "left_on.hh-12.hh-12-plug");
    assert_eq!(cmd.by.as_str(), "fm");
}

#[test]
fn every_kind_has_a_category_and_its_serialised_name() {
    for &k in AlertKind::ALL {
        let json = serde_json::to_string(&k).expect("serialises");
        assert_eq!(json, format!("\"{}\"", k.name()));
    }
    for s in [AlertState::Open, AlertState::Acknowledged, AlertState::Resolved] {
        assert_eq!(
            serde_json::to_string(&s).expect("serialises"),
            format!("\"{}\"", s.name())
        );
    }
    for s in [Severity::Info, Severity::Warning, Severity::Critical] {
        assert_eq!(
            serde_json::to_string(&s).expect("serialises"),
            format!("\"{}\"", s.name())
        );
    }
    for c in [Category::Energy, Category::Watering, Category::Maintenance] {
        assert_eq!(
            serde_json::to_string(&c).expect("serialises"),
            format!("\"{}\"", c.name())
        );
    }
    assert_eq!(AlertKind::SensorFault.category(), Category::Maintenance);
    assert_eq!(AlertKind::TreeWater.category(), Category::Watering);
}
