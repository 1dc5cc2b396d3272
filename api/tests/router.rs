//! Router tests without sockets: authentication, scope (role × endpoint × in/out of scope), problem+json,
//! live values from the cache, metrics format.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use tower::ServiceExt;
use zw_api::{AppState, app};
use zw_model::inventory::token_hash;
use zw_model::{Id, Inventory, Quantity, Reading};

const INVENTORY: &str = r#"
[[sites]]
id = "rathaus"
kind = "building"
[[sites.devices]]
id = "rathaus-main"
source = { type = "modbus", endpoint = "127.0.0.1:5020", profile = "sdm630" }

[[sites]]
id = "hh-1"
kind = "household"
[[sites.devices]]
id = "hh-1-plug"
source = { type = "tasmota", topic = "plug1" }

[[sites]]
id = "hh-2"
kind = "household"
[[sites.devices]]
id = "hh-2-plug"
source = { type = "tasmota", topic = "plug2" }

[[sites]]
id = "park"
kind = "park"
[[sites.devices]]
id = "soil-1"
source = { type = "ttn", topic = "v3/soil@ttn/devices/soil-1/up", model = "lse01" }
"#;

fn state() -> AppState {
    let mut inv: Inventory = toml::from_str(INVENTORY).expect("inventory parses");
    for (name, role, scope) in [
        ("fm", "facility_manager", "*"),
        ("anna", "resident", "hh-1"),
        ("parks", "parks", "*"),
        ("root", "admin", "*"),
    ] {
        let user = format!(
            "name = \"{name}\"\nrole = \"{role}\"\nscope = [\"{scope}\"]\ntoken_sha256 = \"{}\"\n",
            token_hash(name)
        );
        inv.users.push(toml::from_str(&user).expect("user parses"));
    }
    assert_eq!(inv.validate(), Vec::<String>::new());
    // A port nobody listens on: history requests must fail as 503, never hang or panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let url = format!("http://{closed}");
    let influx = zw_influx::Client::new(zw_influx::Config {
        url,
        ..Default::default()
    })
    .expect("client");
    AppState::new(Arc::new(inv), influx, None, prometheus::Registry::new()).expect("state")
}

async fn get(state: &AppState, path: &str, token: Option<&str>) -> (StatusCode, String, serde_json::Value) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app(state.clone())
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        ctype,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn scope_table_for_live_values() {
    let s = state();
    let ok = StatusCode::OK;
    let nf = StatusCode::NOT_FOUND;
    // (caller, device, expected status)
    let table = [
        ("fm", "rathaus-main", ok),
        ("fm", "hh-1-plug", nf),
        ("fm", "soil-1", nf),
        ("anna", "hh-1-plug", ok),
        ("anna", "hh-2-plug", nf),
        ("anna", "rathaus-main", nf),
        ("parks", "soil-1", ok),
        ("parks", "hh-1-plug", nf),
        ("root", "hh-2-plug", ok),
        ("anna", "no-such-device", nf),
    ];
    for (caller, device, want) in table {
        let (status, ctype, body) = get(&s, &format!("/api/v1/devices/{device}/live"), Some(caller)).await;
        assert_eq!(status, want, "{caller} → {device}: {body}");
        if want == nf {
            // Out of scope and unknown look the same.
            assert_eq!(ctype, "application/problem+json");
            assert_eq!(body["detail"], format!("device {device} not found"));
        }
    }
}

#[tokio::test]
async fn device_list_is_scoped() {
    let s = state();
    let ids = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|d| d["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(
        ids(get(&s, "/api/v1/devices", Some("anna")).await.2),
        ["hh-1-plug"]
    );
    assert_eq!(
        ids(get(&s, "/api/v1/devices", Some("fm")).await.2),
        ["rathaus-main"]
    );
    assert_eq!(ids(get(&s, "/api/v1/devices", Some("parks")).await.2), ["soil-1"]);
    assert_eq!(ids(get(&s, "/api/v1/devices", Some("root")).await.2).len(), 4);
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_401_problems() {
    let s = state();
    for token in [None, Some("wrong"), Some("")] {
        for path in ["/api/v1/devices", "/api/v1/devices/hh-1-plug/live"] {
            let (status, ctype, body) = get(&s, path, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}");
            assert_eq!(ctype, "application/problem+json");
            assert_eq!(body["status"], 401);
        }
    }
}

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
async fn scope_table_for_every_endpoint_and_role() {
    let s = state();
    let own: [(&str, &str, &str); 4] = [
        ("fm", "rathaus", "rathaus-main"),
        ("anna", "hh-1", "hh-1-plug"),
        ("parks", "park", "soil-1"),
        ("root", "hh-2", "hh-2-plug"),
    ];
    let foreign: [(&str, &str, &str); 3] = [
        ("fm", "hh-1", "hh-1-plug"),
        ("anna", "hh-2", "hh-2-plug"),
        ("parks", "rathaus", "rathaus-main"),
    ];
    let endpoints = |site: &str, dev: &str| {
        [
            format!("/api/v1/devices/{dev}/live"),
            format!("/api/v1/devices/{dev}/history?quantity=active_power"),
            format!("/api/v1/sites/{site}/live"),
        ]
    };
    for (who, site, dev) in own {
        let want = [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK];
        for (path, want) in endpoints(site, dev).iter().zip(want) {
            assert_eq!(get(&s, path, Some(who)).await.0, want, "{who} {path}");
        }
    }
    for (who, site, dev) in foreign {
        for path in endpoints(site, dev) {
            let (status, _, body) = get(&s, &path, Some(who)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} {path}");
            assert!(
                body["detail"].as_str().is_some_and(|d| d.ends_with("not found")),
                "{body}"
            );
        }
    }
    for path in endpoints("hh-1", "hh-1-plug")
        .iter()
        .chain(&["/api/v1/devices".into(), "/api/v1/sites".into()])
    {
        assert_eq!(get(&s, path, None).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Malformed ids, query strings and tokens get 4xx problems, never a 5xx.
    #[test]
    fn malformed_input_is_never_a_server_error(
        id in "[^/?#]{0,80}",
        query in "[ -~]{0,120}",
        token in "[ -~]{0,80}",
    ) {
        let s = state();
        let enc = |x: &str| x.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        // A quantity that exists would make the request valid and reach the (absent) database.
        let query = query.replace("quantity", "q");
        let paths = [
            format!("/api/v1/devices/{}/live", enc(&id)),
            format!("/api/v1/devices/rathaus-main/history?{query}"),
            format!("/api/v1/devices/{}/history?quantity=active_power&window=0s", enc(&id)),
            format!("/api/v1/sites/{}/live", enc(&id)),
        ];
        for path in paths {
            for tok in [Some("root"), Some(token.as_str())] {
                let Ok(req) = Request::get(&path).header(header::AUTHORIZATION, format!("Bearer {}", tok.unwrap_or(""))).body(Body::empty()) else { continue };
                let status = block_on(app(s.clone()).oneshot(req)).expect("response").status();
                proptest::prop_assert!(status.is_client_error(), "{path} with {tok:?} → {status}");
            }
        }
    }
}

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
    inv.trees.push(toml::from_str("id = \"t1\"\nsite = \"park\"\nspecies = \"Tilia cordata\"\nplanted = 2021\nlat = 51.9\nlon = 8.37\nsensors = [\"soil-1\"]\n").expect("tree"));
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
