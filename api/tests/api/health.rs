//! Device and site health in the API views: reported states, `stale` when the report or the last reading is
//! too old, `unknown` before anything arrived; and the states in the OpenAPI document.

use std::collections::BTreeMap;

use crate::common::{get, state};
use chrono::{DateTime, TimeDelta, Utc};
use zw_model::status::{DeviceStatus, ErrorKind, HealthState, LastError, STATUS_VERSION};
use zw_model::{Id, Quantity, Reading};

fn status(state: HealthState, updated: DateTime<Utc>) -> DeviceStatus {
    DeviceStatus {
        v: STATUS_VERSION,
        site: Id::new("rathaus").expect("id"),
        device: Id::new("rathaus-main").expect("id"),
        gateway: "gw1".into(),
        source: "modbus".into(),
        state,
        since: updated - TimeDelta::minutes(5),
        updated,
        refresh_seconds: 60,
        last_success: Some(updated - TimeDelta::seconds(2)),
        last_error: Some(LastError {
            at: updated - TimeDelta::seconds(1),
            kind: ErrorKind::Exception,
            message: "illegal data address".into(),
        }),
        consecutive_failures: 1,
        polls_ok: 10,
        polls_failed: 1,
        last_seen: Some(updated - TimeDelta::seconds(1)),
    }
}

fn put_status(s: &zw_api::AppState, st: DeviceStatus) {
    s.views
        .status
        .write()
        .expect("lock")
        .insert(st.device.to_string(), st);
}

async fn device_health(s: &zw_api::AppState, who: &str, id: &str) -> serde_json::Value {
    let (_, _, list) = get(s, "/api/v1/devices", Some(who)).await;
    list.as_array()
        .and_then(|l| l.iter().find(|d| d["id"] == id))
        .map(|d| d["health"].clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn polled_device_shows_the_reported_state_until_the_report_is_stale() {
    let s = state();
    let h = device_health(&s, "fm", "rathaus-main").await;
    assert_eq!(h["state"], "unknown", "{h}");
    assert_eq!(h["last_seen"], serde_json::Value::Null);

    put_status(
        &s,
        status(HealthState::Degraded, Utc::now() - TimeDelta::seconds(30)),
    );
    let h = device_health(&s, "fm", "rathaus-main").await;
    assert_eq!(h["state"], "degraded", "{h}");
    assert_eq!(h["reported_state"], "degraded");
    assert_eq!(h["last_error"]["kind"], "exception");
    assert_eq!(h["last_error"]["message"], "illegal data address");
    assert_eq!(h["consecutive_failures"], 1);
    assert!(
        h["last_seen_age_seconds"].as_f64().is_some_and(|a| a >= 30.0),
        "{h}"
    );

    // Older than two refresh periods: the gateway is gone, whatever it said last.
    put_status(
        &s,
        status(HealthState::Online, Utc::now() - TimeDelta::minutes(3)),
    );
    let h = device_health(&s, "fm", "rathaus-main").await;
    assert_eq!(h["state"], "stale", "{h}");
    assert_eq!(h["reported_state"], "online");
    let (_, _, live) = get(&s, "/api/v1/devices/rathaus-main/live", Some("fm")).await;
    assert_eq!(live["health"], "stale", "{live}");
    let (_, _, sites) = get(&s, "/api/v1/sites", Some("fm")).await;
    assert_eq!(sites[0]["health"]["state"], "stale", "{sites}");
    assert_eq!(sites[0]["health"]["stale"], 1);
}

#[tokio::test]
async fn unpolled_device_health_follows_the_age_of_its_last_reading() {
    let s = state();
    let reading = |age: TimeDelta| {
        Reading::new(
            Id::new("hh-1").expect("id"),
            Id::new("hh-1-plug").expect("id"),
            Utc::now() - age,
            BTreeMap::from([(Quantity::ActivePower, 10.0)]),
        )
    };
    assert!(s.live.update(reading(TimeDelta::hours(2))));
    let h = device_health(&s, "anna", "hh-1-plug").await;
    assert_eq!(h["state"], "stale", "{h}");
    assert_eq!(h["reported_state"], serde_json::Value::Null);
    let (_, _, live) = get(&s, "/api/v1/devices/hh-1-plug/live", Some("anna")).await;
    assert_eq!(live["health"], "stale", "{live}");

    assert!(s.live.update(reading(TimeDelta::seconds(5))));
    let h = device_health(&s, "anna", "hh-1-plug").await;
    assert_eq!(h["state"], "online", "{h}");
    let (_, _, sites) = get(&s, "/api/v1/sites", Some("anna")).await;
    assert_eq!(sites[0]["health"]["state"], "online", "{sites}");
    assert_eq!(sites[0]["health"]["online"], 1);
}

#[tokio::test]
async fn openapi_documents_the_health_states() {
    let s = state();
    let (_, _, doc) = get(&s, "/api/v1/openapi.json", None).await;
    let states = &doc["components"]["schemas"]["HealthView"]["enum"];
    for st in ["online", "degraded", "offline", "stale", "unknown"] {
        assert!(
            states.as_array().is_some_and(|a| a.iter().any(|v| v == st)),
            "{st} missing: {states}"
        );
    }
    assert!(doc["components"]["schemas"]["DeviceHealth"].is_object());
    assert!(doc["components"]["schemas"]["SiteHealth"].is_object());
}
