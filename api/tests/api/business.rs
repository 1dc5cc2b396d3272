//! Local businesses (issue 24): a business user sees its own business sites (several) and nothing else, in
//! the lists as in every site route (the role × route matrix covers each route, [`crate::matrix`]); its
//! accountant's export answers 400 with a clear problem on every bad parameter before anything is read,
//! and is documented in the OpenAPI document.

use axum::http::StatusCode;
use zw_api::{AppState, app};
use zw_model::{Device, Inventory, Role, Site, SiteKind, User};

use crate::common::{block_on, get, state};

/// The town with the bakery (`biz-1`, `biz-2`, token `bakery`) and the butcher (`biz-3`, token `butcher`).
fn with_businesses() -> AppState {
    let base = state();
    let mut inv: Inventory = (*base.inventory).clone();
    for (user, sites) in [("bakery", &["biz-1", "biz-2"][..]), ("butcher", &["biz-3"][..])] {
        for site in sites {
            let plug = Device::tasmota(&format!("{site}-plug"), &site.replace('-', ""));
            inv.sites.push(Site::new(site, SiteKind::Business, [plug]));
        }
        inv.users
            .push(User::with_token(user, Role::Business, sites, user));
    }
    assert_eq!(inv.validate(), Vec::<String>::new());
    // A business user whose scope names a household is refused by the inventory's check.
    let mut sly = inv.clone();
    sly.users
        .push(User::with_token("sly", Role::Business, &["hh-1"], "sly"));
    assert_eq!(
        sly.validate(),
        ["users[6].scope[0]: role Business may not see Household site \"hh-1\""]
    );
    base.with_inventory(std::sync::Arc::new(inv))
}

fn ids(v: &serde_json::Value, key: &str) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x[key].as_str().expect("an id").to_string())
        .collect()
}

#[test]
fn a_business_lists_its_own_sites_and_devices_and_nothing_else() {
    block_on(async {
        let s = with_businesses();
        let (st, _, sites) = get(&s, "/api/v1/sites", Some("bakery")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(ids(&sites, "id"), ["biz-1", "biz-2"]);
        assert!(
            sites
                .as_array()
                .expect("list")
                .iter()
                .all(|x| x["kind"] == "business")
        );
        let (_, _, devices) = get(&s, "/api/v1/devices", Some("bakery")).await;
        assert_eq!(ids(&devices, "id"), ["biz-1-plug", "biz-2-plug"]);
        let (_, _, sites) = get(&s, "/api/v1/sites", Some("butcher")).await;
        assert_eq!(ids(&sites, "id"), ["biz-3"]);
        // No other role sees a business site; the admin sees all three.
        for token in ["anna", "fm", "parks"] {
            let (_, _, sites) = get(&s, "/api/v1/sites", Some(token)).await;
            assert!(
                ids(&sites, "id").iter().all(|id| !id.starts_with("biz-")),
                "{token}: {sites}"
            );
        }
        let (_, _, sites) = get(&s, "/api/v1/sites", Some("root")).await;
        let all = ids(&sites, "id");
        assert!(
            ["biz-1", "biz-2", "biz-3"]
                .iter()
                .all(|b| all.iter().any(|x| x == b)),
            "{all:?}"
        );
        // Its live values; the other business's are 404 like an unknown site.
        let (st, _, live) = get(&s, "/api/v1/sites/biz-2/live", Some("bakery")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(live["site"], "biz-2");
        for path in [
            "/api/v1/sites/biz-3/live",
            "/api/v1/sites/nowhere/live",
            "/api/v1/devices/biz-3-plug/live",
        ] {
            let (st, ctype, body) = get(&s, path, Some("bakery")).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
            assert!(ctype.starts_with("application/problem+json"), "{path}: {ctype}");
            assert_eq!(body["status"], 404);
        }
    });
}

#[test]
fn bad_export_parameters_are_clear_400s_before_anything_is_read() {
    block_on(async {
        let s = with_businesses();
        let cases = [
            ("from=2026-13", "`from` must be a month written YYYY-MM"),
            ("to=26-01", "`to` must be a month written YYYY-MM"),
            ("from=2026-01-01", "YYYY-MM"),
            ("from=2025-05&to=2025-04", "`from` must not be after `to`"),
            ("from=2022-01&to=2024-12", "at most 24 months"),
            ("to=2199-01", "must not be after the current month"),
            ("to=2999-01", "time range the database can store"),
            ("decimal=comma", "needs `sep=semicolon`"),
            ("sep=tab", "sep"),
            ("decimal=dot", "decimal"),
        ];
        for (query, says) in cases {
            let path = format!("/api/v1/sites/biz-1/export.csv?{query}");
            let (st, ctype, body) = get(&s, &path, Some("bakery")).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert!(ctype.starts_with("application/problem+json"), "{query}: {ctype}");
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(says), "{query}: {detail:?} should say {says:?}");
        }
        // Scope first: another business's site is 404 whatever the parameters.
        let (st, _, _) = get(&s, "/api/v1/sites/biz-3/export.csv?from=2026-13", Some("bakery")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // Good parameters get past the checks to the database, closed here (503, not a 4xx).
        let (st, _, _) = get(
            &s,
            "/api/v1/sites/biz-1/export.csv?from=2026-01&to=2026-02&sep=semicolon&decimal=comma",
            Some("bakery"),
        )
        .await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    });
}

#[test]
fn the_export_is_in_the_openapi_document_with_its_months_and_csv() {
    block_on(async {
        let s = with_businesses();
        let resp = tower::ServiceExt::oneshot(
            app(s),
            axum::http::Request::get("/api/v1/openapi.json")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("body")
            .to_bytes();
        let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let op = &doc["paths"]["/api/v1/sites/{id}/export.csv"]["get"];
        assert!(op["responses"]["200"]["content"]["text/csv"].is_object(), "{op}");
        let params = op["parameters"].as_array().expect("parameters");
        for name in ["from", "to", "sep", "decimal"] {
            let p = params
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{name} in {op}"));
            if matches!(name, "from" | "to") {
                assert_eq!(p["schema"]["pattern"], "^[0-9]{4}-(0[1-9]|1[0-2])$", "{p}");
            }
        }
        for code in ["400", "404"] {
            assert!(op["responses"][code].is_object(), "{code}");
        }
    });
}
