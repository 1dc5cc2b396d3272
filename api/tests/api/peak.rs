//! `/api/v1/{sites,devices}/{id}/peak` at the router: bad parameters are a 400 with a clear message before
//! any query, scope is the other site endpoints' (404 outside it), a database that does not answer is a
//! 503, and the OpenAPI document describes the report and the demand line of the cost report. What the
//! peak is, is tested against a real InfluxDB in the e2e suite (`tests/e2e/peak_cost.rs`).

use axum::http::StatusCode;

use crate::common::{get, state};

#[tokio::test]
async fn a_bad_year_is_a_400_naming_the_range_before_any_query() {
    let s = state();
    for (query, says) in [
        ("year=12345", "year must be 1970 to 2200, got 12345"),
        ("year=1969", "year must be 1970 to 2200, got 1969"),
        ("year=abc", "year"),
        ("year=2026&year=2027", "year"),
    ] {
        for subject in ["sites/rathaus", "devices/rathaus-main"] {
            let (status, ctype, body) = get(&s, &format!("/api/v1/{subject}/peak?{query}"), Some("fm")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{subject}?{query}: {body}");
            assert_eq!(ctype, "application/problem+json");
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(says), "{subject}?{query}: {detail}");
        }
    }
}

#[tokio::test]
async fn scope_is_the_sites_and_the_database_answers_or_it_is_a_503() {
    let s = state();
    // (caller, path, status): the database is a closed port, so in scope is a 503, never a 500.
    let table = [
        (
            "fm",
            "/api/v1/sites/rathaus/peak",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "fm",
            "/api/v1/sites/rathaus/peak?year=2025",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "fm",
            "/api/v1/devices/rathaus-main/peak",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        ("anna", "/api/v1/sites/rathaus/peak", StatusCode::NOT_FOUND),
        ("anna", "/api/v1/devices/rathaus-main/peak", StatusCode::NOT_FOUND),
        ("fm", "/api/v1/sites/no-such-site/peak", StatusCode::NOT_FOUND),
        ("parks", "/api/v1/sites/rathaus/peak", StatusCode::NOT_FOUND),
    ];
    for (caller, path, want) in table {
        let (status, _, body) = get(&s, path, Some(caller)).await;
        assert_eq!(status, want, "{caller} {path}: {body}");
    }
    let (status, _, _) = get(&s, "/api/v1/sites/rathaus/peak", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_openapi_document_describes_the_peak_and_the_demand_line() {
    let s = state();
    let (_, _, doc) = get(&s, "/api/v1/openapi.json", None).await;
    for path in ["/api/v1/sites/{id}/peak", "/api/v1/devices/{id}/peak"] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "{path} is not documented");
        for code in ["200", "400", "404", "503"] {
            assert!(op["responses"][code].is_object(), "{path} {code}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    for field in ["peak", "cost_so_far", "cost_year", "running", "top", "complete"] {
        assert!(
            schemas["PeakReport"]["properties"][field].is_object(),
            "PeakReport.{field}"
        );
    }
    assert!(schemas["PeriodCost"]["properties"]["demand_net_cents"].is_object());
    assert!(schemas["TariffCost"]["properties"]["demand_net_cents"].is_object());
}
