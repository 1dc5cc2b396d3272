//! Shared fixtures of the router tests: a small inventory with one user per role (the token is the user's
//! name), a state whose InfluxDB is unreachable, and request helpers.
#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zw_api::{AppState, app};
use zw_model::Inventory;
use zw_model::inventory::token_hash;

pub const INVENTORY: &str = r#"
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

pub fn state() -> AppState {
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

pub async fn get(
    state: &AppState,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, serde_json::Value) {
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

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
