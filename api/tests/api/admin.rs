//! The admin API against a real SQLite store in a temporary folder, holding the model's small town: create,
//! change and retire each entity; validation lists every error; only admins; the audit trail; a household
//! onboarded through its activation code; revocation; the CSV import's report.
//!
//! Each request is served by a router built from the live inventory's current snapshot, as the running API
//! does after every change (`swap.rs`), so a change shows from the next request.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zw_api::{AppState, app};
use zw_bus::LiveInventory;
use zw_model::inventory::fixtures::town;

use crate::common::state;

/// The state with a store (the town imported) and a live inventory; the folder lives as long as the state.
async fn admin_state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/s.db", dir.path().display());
    let store = zw_store::Store::connect(&url).await.expect("store");
    store
        .import_inventory(zw_store::Stamp::new("import", chrono::Utc::now()), &town())
        .await
        .expect("import");
    let mut s = state();
    s.live_inventory = Some(LiveInventory::new(
        store.export_inventory().await.expect("export"),
    ));
    s.store = Some(store);
    (s, dir)
}

/// One request, from `peer` if given, served from the live inventory's snapshot.
async fn call_from(
    s: &AppState,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
    peer: Option<SocketAddr>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some((ctype, text)) => {
            req = req.header(header::CONTENT_TYPE, ctype);
            Body::from(text)
        }
        None => Body::empty(),
    };
    let mut req = req.body(body).expect("request");
    if let Some(peer) = peer {
        req.extensions_mut().insert(ConnectInfo(peer));
    }
    let snapshot = match &s.live_inventory {
        Some(live) => s.with_inventory(live.current()),
        None => s.clone(),
    };
    let resp = app(snapshot).oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn call(
    s: &AppState,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| ("application/json", b.to_string()));
    call_from(s, method, path, token, body, None).await
}

const ADMIN: Option<&str> = Some("root");

#[tokio::test]
async fn an_admin_creates_changes_and_retires_sites_devices_trees_and_users() {
    let (s, _dir) = admin_state().await;
    let site = json!({"id": "schule", "kind": "building", "name": "Grundschule", "address": "Schulweg 1",
        "floor_area_m2": 2400.0});
    let (st, body) = call(&s, Method::POST, "/api/v1/admin/sites", ADMIN, Some(site.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["address"], "Schulweg 1");
    let (st, _) = call(&s, Method::POST, "/api/v1/admin/sites", ADMIN, Some(site)).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let change = json!({"kind": "building", "name": "Grundschule am Park"});
    let (st, body) = call(&s, Method::PUT, "/api/v1/admin/sites/schule", ADMIN, Some(change)).await;
    assert_eq!(
        (st, body["name"].as_str()),
        (StatusCode::OK, Some("Grundschule am Park"))
    );
    let (st, _) = call(
        &s,
        Method::PUT,
        "/api/v1/admin/sites/nowhere",
        ADMIN,
        Some(json!({"kind": "park"})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let device = json!({"site": "schule", "id": "schule-main", "class": "main_meter",
        "source": {"type": "mbus", "endpoint": "192.0.2.10:10001", "address": 5}});
    let (st, body) = call(&s, Method::POST, "/api/v1/admin/devices", ADMIN, Some(device)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = call(&s, Method::GET, "/api/v1/devices", Some("fm"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.to_string().contains("schule-main"),
        "the facility manager sees it at once: {body}"
    );
    let moved = json!({"site": "schule", "class": "heat_meter",
        "source": {"type": "mbus", "endpoint": "192.0.2.10:10001", "address": 6}});
    let (st, body) = call(
        &s,
        Method::PUT,
        "/api/v1/admin/devices/schule-main",
        ADMIN,
        Some(moved),
    )
    .await;
    assert_eq!(
        (st, body["class"].as_str()),
        (StatusCode::OK, Some("heat_meter")),
        "{body}"
    );

    let tree = json!({"id": "linde-7", "site": "park", "species": "Tilia cordata", "planted": 2019,
        "lat": 50.1, "lon": 8.6, "sensors": ["soil-1"]});
    let (st, body) = call(&s, Method::POST, "/api/v1/admin/trees", ADMIN, Some(tree)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = call(&s, Method::DELETE, "/api/v1/admin/trees/linde-7", ADMIN, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body["retired_at"].is_string(), "{body}");

    let (st, body) = call(
        &s,
        Method::DELETE,
        "/api/v1/admin/devices/schule-main",
        ADMIN,
        None,
    )
    .await;
    assert_eq!(
        (st, body["retired_at"].is_string()),
        (StatusCode::OK, true),
        "{body}"
    );
    let (st, _) = call(&s, Method::DELETE, "/api/v1/admin/sites/schule", ADMIN, None).await;
    assert_eq!(st, StatusCode::OK);
    let (_, body) = call(&s, Method::GET, "/api/v1/admin/sites", ADMIN, None).await;
    assert!(
        !body.to_string().contains("schule"),
        "retired sites are not listed: {body}"
    );
    let (_, body) = call(&s, Method::GET, "/api/v1/admin/sites?retired=true", ADMIN, None).await;
    assert!(body.to_string().contains("schule"), "unless asked: {body}");

    let user = json!({"name": "hausmeister", "role": "facility_manager", "scope": ["rathaus"]});
    let (st, body) = call(&s, Method::POST, "/api/v1/admin/users", ADMIN, Some(user)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    assert!(token.len() >= 32, "at least 128 bits: {token}");
    let (st, sites) = call(&s, Method::GET, "/api/v1/sites", Some(&token), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(sites.as_array().map(Vec::len), Some(1), "{sites}");
    let (st, _) = call(&s, Method::DELETE, "/api/v1/admin/users/hausmeister", ADMIN, None).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = call(&s, Method::GET, "/api/v1/sites", Some(&token), None).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "a retired user's token is refused at the next request"
    );
}

#[tokio::test]
async fn validation_answers_422_listing_every_problem_and_writes_nothing() {
    let (s, _dir) = admin_state().await;
    let user = json!({"name": "eve", "role": "resident", "scope": ["hh-9", "rathaus"]});
    let (st, body) = call(&s, Method::POST, "/api/v1/admin/users", ADMIN, Some(user)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().expect("errors");
    assert!(
        errors.len() >= 3,
        "unknown site, a building, not one household: {body}"
    );
    let household = json!({"id": "hh-7", "since": "last spring", "devices": [
        {"id": "hh-7-meter", "source": {"type": "shelly"}},
        {"id": "Bad Id", "source": {"type": "tasmota", "topic": "plug7"}}]});
    let (st, body) = call(
        &s,
        Method::POST,
        "/api/v1/admin/households",
        ADMIN,
        Some(household),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body["errors"].to_string();
    for part in ["household.since", "devices[0]", "devices[1]"] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
    let (st, _) = call(&s, Method::GET, "/api/v1/admin/sites/hh-7", ADMIN, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "nothing half-created");
    let (st, body) = call(&s, Method::DELETE, "/api/v1/admin/sites/hh-1", ADMIN, None).await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "anna's scope names it: {body}"
    );
}

#[tokio::test]
async fn only_admins_may_and_without_a_store_the_admin_api_says_so() {
    let (s, _dir) = admin_state().await;
    for token in ["anna", "fm", "parks"] {
        let (st, body) = call(&s, Method::GET, "/api/v1/admin/sites", Some(token), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{token}: {body}");
        let (st, _) = call(
            &s,
            Method::POST,
            "/api/v1/admin/households",
            Some(token),
            Some(json!({})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{token}");
    }
    let (st, _) = call(&s, Method::GET, "/api/v1/admin/audit", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, body) = call(&state(), Method::GET, "/api/v1/admin/sites", ADMIN, None).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no store configured")),
        "{body}"
    );
}

#[tokio::test]
async fn a_household_is_activated_by_its_resident_sees_only_itself_and_revocation_locks_it_out() {
    let (s, _dir) = admin_state().await;
    let household = json!({"id": "hh-42", "name": "Familie Berger", "since": "2026-12-01", "devices": [
        {"id": "hh-42-meter", "class": "main_meter", "source": {"type": "shelly", "prefix": "shellypro3em-42"}}]});
    let (st, created) = call(
        &s,
        Method::POST,
        "/api/v1/admin/households",
        ADMIN,
        Some(household),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["site"].as_str(), created["user"].as_str()),
        (Some("hh-42"), Some("hh-42"))
    );
    let code = created["activation_code"].as_str().expect("code").to_owned();

    let (st, body) = call(
        &s,
        Method::POST,
        "/api/v1/activate",
        None,
        Some(json!({"code": code.to_lowercase()})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64, "256 random bits as hex");
    let (st, sites) = call(&s, Method::GET, "/api/v1/sites", Some(&token), None).await;
    assert_eq!(st, StatusCode::OK, "{sites}");
    let ids: Vec<&str> = sites
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["hh-42"]);
    let live = s.live_inventory.as_ref().expect("live").current();
    let resident = live
        .users
        .iter()
        .find(|u| u.name.as_str() == "hh-42")
        .expect("resident");
    assert_eq!(
        resident.since.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-12-01T00:00:00+00:00")
    );
    let (st, _) = call(
        &s,
        Method::POST,
        "/api/v1/activate",
        None,
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "a code is used once");

    let (st, body) = call(
        &s,
        Method::DELETE,
        "/api/v1/admin/users/hh-42/tokens",
        ADMIN,
        None,
    )
    .await;
    assert_eq!(
        (st, body["revoked"].as_u64()),
        (StatusCode::OK, Some(2)),
        "the sealed and the activated: {body}"
    );
    let (st, _) = call(&s, Method::GET, "/api/v1/sites", Some(&token), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    let (_, audit) = call(
        &s,
        Method::GET,
        "/api/v1/admin/audit?entity=user&id=hh-42",
        ADMIN,
        None,
    )
    .await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["create", "activate", "add_token"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let (_, audit) = call(
        &s,
        Method::GET,
        "/api/v1/admin/audit?entity=site&limit=1",
        ADMIN,
        None,
    )
    .await;
    assert_eq!(audit[0]["actor"], "root", "{audit}");
    assert_eq!(audit[0]["entity_id"], "hh-42", "newest first: {audit}");
}

#[tokio::test]
async fn failed_activations_count_as_failed_authentications_per_address() {
    let (mut s, _dir) = admin_state().await;
    s.auth_failures = Arc::new(zw_api::ratelimit::RateLimiter::new(1.0 / 60.0, 2));
    let (_, created) = call(
        &s,
        Method::POST,
        "/api/v1/admin/households",
        ADMIN,
        Some(json!({"id": "hh-43", "since": "2026-12-01"})),
    )
    .await;
    let code = created["activation_code"].as_str().expect("code").to_owned();
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("addr");
    let activate = |code: String| {
        let s = s.clone();
        async move {
            let body = Some(("application/json", json!({"code": code}).to_string()));
            call_from(&s, Method::POST, "/api/v1/activate", None, body, Some(peer))
                .await
                .0
        }
    };
    assert_eq!(
        activate("AAAA-BBBB-CCCC-DDDD".into()).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        activate("AAAA-BBBB-CCCC-EEEE".into()).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        activate(code).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address guessed: refused first"
    );
    let metrics = s.registry.gather();
    let count = |name: &str, label: &str| -> f64 {
        metrics
            .iter()
            .filter(|m| m.name() == name)
            .flat_map(|m| m.get_metric())
            .filter(|m| m.get_label().iter().any(|l| l.value() == label))
            .map(|m| m.get_counter().get_value())
            .sum()
    };
    assert_eq!(count("zw_api_activations_total", "failed"), 2.0);
    assert_eq!(count("zw_api_activations_total", "limited"), 1.0);
    assert_eq!(count("zw_api_auth_failures_total", "activation"), 2.0);
}

#[tokio::test]
async fn a_meter_list_imports_row_by_row_with_a_report() {
    let (s, _dir) = admin_state().await;
    let csv = "site,site_name,device,class,source,endpoint,address,secondary,manufacturer,meter_id\n\
               whg-1,Wohnung 1,whg-1-heat,heat_meter,mbus,192.0.2.20:10001,,12345678,,\n\
               whg-2,Wohnung 2,whg-2-water,water_meter,wmbus,,,,KAM,87654321\n\
               whg-3,Wohnung 3,whg-3-gas,gas_meter,carrier-pigeon,,,,,\n\
               hh-1,,hh-1-plug,plug,tasmota,,,,,\n";
    let body = Some(("text/csv", csv.to_owned()));
    let (st, report) = call_from(
        &s,
        Method::POST,
        "/api/v1/admin/devices/import",
        ADMIN,
        body,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(
        report["rejected"], 2,
        "an unknown source; a tasmota without topic: {report}"
    );
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows[2]["result"], "rejected");
    assert_eq!(rows[2]["line"], 4);
    assert!(
        rows[2]["errors"].to_string().contains("carrier-pigeon"),
        "{report}"
    );
    let (st, _) = call(&s, Method::GET, "/api/v1/admin/sites/whg-3", ADMIN, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "a rejected row creates nothing");
    let (_, dev) = call(&s, Method::GET, "/api/v1/admin/devices/whg-1-heat", ADMIN, None).await;
    assert_eq!(dev["source"]["secondary"], "12345678", "{dev}");
    let (_, audit) = call(
        &s,
        Method::GET,
        "/api/v1/admin/audit?entity=device&id=whg-2-water",
        ADMIN,
        None,
    )
    .await;
    assert_eq!(audit[0]["actor"], "root", "{audit}");

    let again = "site,device,source,endpoint,address\nwhg-1,whg-1-heat,mbus,192.0.2.20:10001,7\n";
    let body = Some(("text/csv", again.to_owned()));
    let (_, report) = call_from(
        &s,
        Method::POST,
        "/api/v1/admin/devices/import",
        ADMIN,
        body,
        None,
    )
    .await;
    assert_eq!(report["updated"], 1, "{report}");
    let bad = "site,device,colour\nx,y,red\n";
    let (st, body) = call_from(
        &s,
        Method::POST,
        "/api/v1/admin/devices/import",
        ADMIN,
        Some(("text/csv", bad.to_owned())),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"].as_array().map(Vec::len),
        Some(2),
        "no source column, unknown colour: {body}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_admin_route_with_problem_json_errors() {
    let s = state();
    let (_, doc) = call(&s, Method::GET, "/api/v1/openapi.json", None, None).await;
    let src = include_str!("../../src/routes/admin/mod.rs");
    let mut checked = 0;
    for part in src.split(".route(").skip(1) {
        let path = part.split('"').nth(1).expect("path");
        let method = ["get", "post", "put", "delete"]
            .into_iter()
            .find(|m| part.contains(&format!("{m}(")))
            .expect("method");
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        if path.starts_with("/api/v1/admin") {
            assert!(
                op["responses"]["403"]["content"]["application/problem+json"].is_object(),
                "{method} {path}"
            );
            assert!(op["responses"]["429"].is_object(), "{method} {path}");
        }
        if let Some(r) = op["responses"].get("422") {
            assert!(
                r["content"]["application/problem+json"].is_object(),
                "{method} {path}: {r}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 25, "{checked}");
}
