//! `/api/v1/sites/{id}/forecast/accuracy` and `/api/v1/normal` at the router: the forecast's scope (404
//! outside it, like an unknown site), a database that does not answer is a 503 and never a cached or empty
//! answer, a caller who sees no building gets an empty list of normals without a read, and the OpenAPI
//! document describes both answers. The backtest itself is tested on hourly series in
//! `src/routes/accuracy.rs` and against a real InfluxDB in the e2e suite (`tests/e2e/dashboard.rs`).

use axum::http::StatusCode;

use crate::common::{get, state};

#[tokio::test]
async fn accuracy_has_the_forecasts_scope_and_a_silent_database_is_a_503_each_time() {
    let s = state();
    for (caller, path, want) in [
        (
            "fm",
            "/api/v1/sites/rathaus/forecast/accuracy",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "anna",
            "/api/v1/sites/rathaus/forecast/accuracy",
            StatusCode::NOT_FOUND,
        ),
        (
            "parks",
            "/api/v1/sites/rathaus/forecast/accuracy",
            StatusCode::NOT_FOUND,
        ),
        (
            "fm",
            "/api/v1/sites/no-such-site/forecast/accuracy",
            StatusCode::NOT_FOUND,
        ),
        (
            "fm",
            "/api/v1/sites/Bad%20Id/forecast/accuracy",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        // Twice: a failed read is not kept as the day's answer.
        for _ in 0..2 {
            let (status, ctype, body) = get(&s, path, Some(caller)).await;
            assert_eq!(status, want, "{caller} {path}: {body}");
            assert_eq!(ctype, "application/problem+json", "{caller} {path}");
        }
    }
    let (status, _, _) = get(&s, "/api/v1/sites/rathaus/forecast/accuracy", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn normals_of_all_buildings_need_the_database_and_a_resident_gets_none() {
    let s = state();
    let (status, _, body) = get(&s, "/api/v1/normal", Some("fm")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, _, body) = get(&s, "/api/v1/normal", Some("anna")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sites"], serde_json::json!([]), "{body}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_accuracy_and_the_normals() {
    let s = state();
    let (_, _, doc) = get(&s, "/api/v1/openapi.json", None).await;
    for (path, codes) in [
        (
            "/api/v1/sites/{id}/forecast/accuracy",
            &["200", "400", "401", "404", "503"][..],
        ),
        ("/api/v1/normal", &["200", "401", "503"][..]),
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "{path} is not documented");
        for code in codes {
            assert!(op["responses"][code].is_object(), "{path} {code}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    for field in ["months", "enough", "reason", "days", "cases", "from", "until"] {
        assert!(
            schemas["Accuracy"]["properties"][field].is_object(),
            "Accuracy.{field}"
        );
    }
    for field in ["day", "months", "mape_pct", "naive_mape_pct", "inside"] {
        assert!(
            schemas["DayError"]["properties"][field].is_object(),
            "DayError.{field}"
        );
    }
    for field in ["low_wh", "high_wh", "outside", "ratio"] {
        assert!(schemas["Today"]["properties"][field].is_object(), "Today.{field}");
    }
    assert!(schemas["SiteNormal"]["properties"]["reason"].is_object());
}
