//! Router tests without sockets: problem+json, live values from the cache, history validation, metrics
//! format, rate limits, alerts and trees.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::{get, state};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use tower::ServiceExt;
use zw_api::app;
use zw_model::{Id, Quantity, Reading, Tree};

#[tokio::test]
async fn malformed_ids_and_unknown_routes_are_4xx() {
    let s = state();
    assert_eq!(
        get(&s, "/api/v1/devices/BAD%20ID/live", Some("root")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&s, "/api/v1/nothing", Some("root")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn live_values_come_from_the_cache_with_units_and_age() {
    let s = state();
    let (_, _, empty) = get(&s, "/api/v1/devices/hh-1-plug/live", Some("anna")).await;
    assert_eq!(empty["ts"], serde_json::Value::Null);
    assert_eq!(empty["values"], serde_json::json!({}));
    let ts = Utc::now() - chrono::TimeDelta::seconds(3);
    let values = BTreeMap::from([(Quantity::ActivePower, 87.0), (Quantity::EnergyImport, 91_117.0)]);
    s.live.update(Reading::new(
        Id::new("hh-1").expect("id"),
        Id::new("hh-1-plug").expect("id"),
        ts,
        values,
    ));
    let (status, _, body) = get(&s, "/api/v1/devices/hh-1-plug/live", Some("anna")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["values"]["energy_import"]["value"], 91117.0);
    assert_eq!(body["values"]["energy_import"]["unit"], "Wh");
    assert!(body["values"]["energy_import"]["ts"].is_string());
    assert_eq!(body["values"]["active_power"]["unit"], "W");
    let age = body["age_seconds"].as_f64().expect("age");
    assert!((3.0..10.0).contains(&age), "{age}");
    // An older reading never replaces a newer one.
    let older = Reading::new(
        Id::new("hh-1").expect("id"),
        Id::new("hh-1-plug").expect("id"),
        ts - chrono::TimeDelta::seconds(60),
        BTreeMap::from([(Quantity::ActivePower, 1.0)]),
    );
    assert!(!s.live.update(older));
}

#[tokio::test]
async fn health_metrics_and_openapi_need_no_token() {
    let s = state();
    assert_eq!(get(&s, "/healthz", None).await.0, StatusCode::OK);
    let (status, _, doc) = get(&s, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["paths"]["/api/v1/devices/{id}/live"]["get"].is_object(),
        "{doc}"
    );
    let resp = app(s.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).expect("req"))
        .await
        .expect("resp");
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
    .expect("utf8");
    assert!(
        text.contains("zw_api_requests_total{code=\"200\",route=\"/healthz\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn history_validates_input_before_querying() {
    let s = state();
    let base = "/api/v1/devices/rathaus-main/history";
    let cases = [
        ("?quantity=watts", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
        ("?quantity=active_power&agg=median", StatusCode::BAD_REQUEST),
        ("?quantity=active_power&window=500ms", StatusCode::BAD_REQUEST),
        (
            "?quantity=active_power&window=1s&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
        ),
        (
            "?quantity=active_power&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
        ),
        ("?quantity=active_power&from=yesterday", StatusCode::BAD_REQUEST),
        // Valid, but InfluxDB is unreachable in this test.
        (
            "?quantity=active_power&window=1m",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (query, want) in cases {
        let (status, ctype, body) = get(&s, &format!("{base}{query}"), Some("fm")).await;
        assert_eq!(status, want, "{query}: {body}");
        assert_eq!(ctype, "application/problem+json", "{query}");
    }
    // Scope is checked before anything else.
    assert_eq!(
        get(
            &s,
            "/api/v1/devices/hh-1-plug/history?quantity=active_power",
            Some("fm")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sites_are_scoped_and_site_live_lists_each_device() {
    let s = state();
    let (_, _, sites) = get(&s, "/api/v1/sites", Some("anna")).await;
    assert_eq!(sites.as_array().map(Vec::len), Some(1), "{sites}");
    assert_eq!(sites[0]["id"], "hh-1");
    assert_eq!(
        get(&s, "/api/v1/sites/hh-2/live", Some("anna")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&s, "/api/v1/sites/nowhere/live", Some("anna")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, live) = get(&s, "/api/v1/sites/hh-1/live", Some("anna")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(live["devices"][0]["device"], "hh-1-plug");
}

#[tokio::test]
async fn stream_requires_a_token_and_dashboard_is_public_html() {
    let s = state();
    assert_eq!(get(&s, "/api/v1/stream", None).await.0, StatusCode::UNAUTHORIZED);
    let resp = app(s.clone())
        .oneshot(Request::get("/").body(Body::empty()).expect("req"))
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
}

/// Role × endpoint × in/out of scope → status. In-scope history answers 503 here (no InfluxDB), which
/// still proves the scope check passed.
#[tokio::test]
async fn a_user_over_the_rate_limit_gets_429_with_retry_after() {
    let mut s = state();
    s.limiter = Arc::new(zw_api::ratelimit::RateLimiter::new(1.0, 2));
    for _ in 0..2 {
        assert_eq!(get(&s, "/api/v1/devices", Some("anna")).await.0, StatusCode::OK);
    }
    let resp = app(s.clone())
        .oneshot(
            Request::get("/api/v1/devices")
                .header(header::AUTHORIZATION, "Bearer anna")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    // Another user is not affected.
    assert_eq!(get(&s, "/api/v1/devices", Some("fm")).await.0, StatusCode::OK);
}

fn alert(site: &str, device: &str) -> zw_model::alert::Alert {
    let json = serde_json::json!({
        "v": 1, "id": format!("high_consumption.{site}.{device}"), "kind": "high_consumption", "category": "energy",
        "site": site, "subject": { "device": device }, "state": "open", "severity": "warning",
        "opened_at": "2026-11-21T09:00:00Z", "updated_at": "2026-11-21T09:45:00Z",
        "explanation": { "observed": 3200.0, "expected": 1100.0, "threshold": 2000.0, "unit": "W",
            "baseline": "Tuesday 02:00", "since": "2026-11-21T09:00:00Z",
            "text": "3.2 kW above the usual 1.1 kW for Tuesday 02:00, for 45 min" }
    });
    serde_json::from_value(json).expect("alert parses")
}

#[tokio::test]
async fn alerts_are_scoped_and_acknowledging_needs_scope_and_a_broker() {
    let s = state();
    {
        let mut alerts = s.views.alerts.write().expect("lock");
        for (site, dev) in [("rathaus", "rathaus-main"), ("hh-2", "hh-2-plug")] {
            let a = alert(site, dev);
            alerts.insert(a.id.to_string(), a);
        }
    }
    let ids = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|a| a["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(
        ids(get(&s, "/api/v1/alerts", Some("fm")).await.2),
        ["high_consumption.rathaus.rathaus-main"]
    );
    assert_eq!(
        ids(get(&s, "/api/v1/alerts", Some("anna")).await.2),
        Vec::<String>::new()
    );
    assert_eq!(
        get(&s, "/api/v1/alerts?state=resolved", Some("fm")).await.2,
        serde_json::json!([])
    );
    assert_eq!(
        get(&s, "/api/v1/alerts?state=maybe", Some("fm")).await.0,
        StatusCode::BAD_REQUEST
    );
    let post = |path: &str, who: &str| {
        Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {who}"))
            .body(Body::empty())
            .expect("req")
    };
    let foreign = app(s.clone())
        .oneshot(post("/api/v1/alerts/high_consumption.hh-2.hh-2-plug/ack", "fm"))
        .await
        .expect("resp");
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    // In scope, but this router has no broker to send the command to.
    let own = app(s.clone())
        .oneshot(post(
            "/api/v1/alerts/high_consumption.rathaus.rathaus-main/ack",
            "fm",
        ))
        .await
        .expect("resp");
    assert_eq!(own.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn trees_are_geojson_in_scope_with_unknown_state_before_analytics_reports() {
    let mut s = state();
    let mut inv = (*s.inventory).clone();
    inv.trees.push(Tree {
        planted: 2021,
        lat: 51.9,
        lon: 8.37,
        ..Tree::new("t1", "park", &["soil-1"])
    });
    s.inventory = Arc::new(inv);
    let (status, _, geo) = get(&s, "/api/v1/trees", Some("parks")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(geo["type"], "FeatureCollection");
    assert_eq!(
        geo["features"][0]["geometry"]["coordinates"],
        serde_json::json!([8.37, 51.9])
    );
    assert_eq!(geo["features"][0]["properties"]["state"], "unknown");
    assert_eq!(
        get(&s, "/api/v1/trees", Some("anna")).await.2["features"],
        serde_json::json!([])
    );
    let (_, _, list) = get(&s, "/api/v1/trees/watering", Some("parks")).await;
    assert_eq!(list[0]["tree"], "t1");
}

#[tokio::test]
async fn live_values_merge_per_quantity_with_their_own_time() {
    let s = state();
    let (site, dev) = (Id::new("hh-1").expect("id"), Id::new("hh-1-plug").expect("id"));
    let t0 = Utc::now() - chrono::TimeDelta::seconds(10);
    // Power and energy in separate messages, as a Shelly Pro 3EM sends them.
    s.live.update(Reading::new(
        site.clone(),
        dev.clone(),
        t0,
        BTreeMap::from([(Quantity::ActivePower, 500.0)]),
    ));
    let t1 = t0 + chrono::TimeDelta::seconds(5);
    s.live.update(Reading::new(
        site,
        dev,
        t1,
        BTreeMap::from([(Quantity::EnergyImport, 1000.0)]),
    ));
    let (_, _, body) = get(&s, "/api/v1/devices/hh-1-plug/live", Some("anna")).await;
    assert_eq!(body["values"]["active_power"]["value"], 500.0, "{body}");
    assert_eq!(body["values"]["energy_import"]["value"], 1000.0, "{body}");
    let (a, e) = (
        body["values"]["active_power"]["age_seconds"].as_f64(),
        body["values"]["energy_import"]["age_seconds"].as_f64(),
    );
    assert!(
        a.zip(e).is_some_and(|(a, e)| a > e + 4.0),
        "each value keeps its own age: {body}"
    );
}

#[tokio::test]
async fn wrong_methods_and_oversized_bodies_are_problems_too() {
    let s = state();
    let resp = app(s.clone())
        .oneshot(
            Request::post("/api/v1/devices")
                .header(header::AUTHORIZATION, "Bearer root")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert!(resp.headers().contains_key(header::ALLOW));
    let big = vec![b'x'; 1 << 20];
    let resp = app(s.clone())
        .oneshot(
            Request::post("/api/v1/alerts/high_consumption.rathaus.rathaus-main/ack")
                .header(header::AUTHORIZATION, "Bearer root")
                .header(header::CONTENT_LENGTH, big.len())
                .body(Body::from(big))
                .expect("req"),
        )
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(problem["status"], 413);
}

/// Every route of the router is in the OpenAPI document (the dashboard's page, files and settings and Swagger UI
/// aside).
#[tokio::test]
async fn openapi_lists_every_route() {
    let s = state();
    let (_, _, doc) = get(&s, "/api/v1/openapi.json", None).await;
    let src = include_str!("../../src/lib.rs");
    let routes: Vec<&str> = src
        .split(".route(")
        .skip(1)
        .filter_map(|r| r.trim_start().strip_prefix('"')?.split('"').next())
        .filter(|p| *p != "/" && !p.starts_with("/static/") && !p.starts_with("/dashboard/"))
        .collect();
    assert!(routes.len() >= 16, "{routes:?}");
    for r in routes {
        assert!(doc["paths"][r].is_object(), "{r} is not in the OpenAPI document");
    }
    let live = &doc["components"]["schemas"]["Live"]["properties"];
    assert!(live["values"]["additionalProperties"].is_object(), "{live}");
    assert!(live["health"].is_object(), "{live}");
    // Site and device ids declare their shape (anything else is a 400), found by schemathesis.
    for path in [
        "/api/v1/sites/{id}/live",
        "/api/v1/devices/{id}/history",
        "/api/v1/sites/{id}/cost",
    ] {
        let params = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let id = params
            .iter()
            .find(|p| p["name"] == "id")
            .expect("an id parameter");
        assert_eq!(id["schema"]["pattern"], "^[a-z0-9][a-z0-9_-]*$", "{path}: {id}");
    }
}

#[tokio::test]
async fn top_consumers_refuse_what_they_do_not_rank_instead_of_ignoring_it() {
    let s = state();
    let base = "/api/v1/sites/rathaus/top";
    for query in [
        "?direction=",
        "?direction=export",
        "?direction=sideways",
        "?medium=heat",
        "?medium=gas",
    ] {
        let (status, ctype, body) = get(&s, &format!("{base}{query}"), Some("fm")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(ctype, "application/problem+json", "{query}");
    }
    // Valid, but InfluxDB is unreachable in this test.
    for query in ["", "?direction=import", "?medium=electricity&direction=import"] {
        let (status, _, body) = get(&s, &format!("{base}{query}"), Some("fm")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{query}: {body}");
    }
}
