use chrono::{TimeDelta, TimeZone, Utc};
use zw_model::Id;
use zw_model::alert::{AlertKind, Explanation, Severity, Subject};

use super::*;

fn at(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 12, 0, 0, 0).single().expect("time") + TimeDelta::minutes(min)
}

fn signal(min: i64, raise: bool) -> Signal {
    let change = if raise {
        Change::Raise {
            severity: Severity::Warning,
            explanation: Explanation {
                observed: 4300.0,
                expected: 1100.0,
                threshold: 1900.0,
                unit: "W".into(),
                baseline: "learned normal".into(),
                since: at(0),
                text: format!("for {min} min"),
            },
        }
    } else {
        Change::Clear {
            reason: "back to normal".into(),
        }
    };
    Signal {
        kind: AlertKind::HighConsumption,
        site: Id::new("s").expect("id"),
        subject: Subject {
            device: Some(Id::new("d").expect("id")),
            tree: None,
        },
        at: at(min),
        change,
    }
}

#[test]
fn lifecycle_table() {
    // (signal at minute, raise?, expected state after, published?)
    let cases = [
        (10, true, Some(AlertState::Open), true),
        (15, true, Some(AlertState::Open), true),
        (20, false, Some(AlertState::Resolved), true),
        (25, false, None, false),
        (30, true, Some(AlertState::Open), true),
    ];
    let mut book = AlertBook::new(std::time::Duration::from_secs(3600));
    for (min, raise, state, published) in cases {
        let out = book.apply(signal(min, raise));
        assert_eq!(out.is_some(), published, "minute {min}");
        if let Some(a) = out {
            assert_eq!(Some(a.state), state, "minute {min}");
            assert_eq!(a.id.as_str(), "high_consumption.s.d");
        }
    }
    let a = book.active().next().expect("reopened");
    assert_eq!(
        (a.opened_at, book.len()),
        (at(30), 1),
        "one alert per kind and subject"
    );
}

#[test]
fn acknowledgement_and_expiry() {
    let mut book = AlertBook::new(std::time::Duration::from_secs(3600));
    let id = book.apply(signal(0, true)).expect("opened").id;
    let ack = |by: &str| AckCommand {
        alert: id.clone(),
        by: Id::new(by).expect("id"),
        ts: at(5),
    };
    assert!(
        matches!(book.acknowledge(&ack("fm"), at(5)), AckOutcome::Acknowledged(a) if a.acknowledged_by.as_deref() == Some("fm"))
    );
    assert_eq!(
        book.acknowledge(&ack("other"), at(6)),
        AckOutcome::Ignored("already_acknowledged")
    );
    let refreshed = book.apply(signal(7, true)).expect("refresh");
    assert_eq!(
        refreshed.state,
        AlertState::Acknowledged,
        "a refresh keeps the acknowledgement"
    );
    book.apply(signal(8, false)).expect("resolved");
    assert_eq!(
        book.acknowledge(&ack("fm"), at(9)),
        AckOutcome::Ignored("resolved")
    );
    assert!(book.expire(at(60)).is_empty());
    let expired: Vec<AlertId> = book.expire(at(70)).into_iter().map(|a| a.id).collect();
    assert_eq!(expired, vec![id]);
    assert!(book.is_empty());
}
