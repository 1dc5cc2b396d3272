//! Scope: role × endpoint × in/out of scope → status, tokens, and malformed input never answering 5xx.

use crate::common::{block_on, get, state};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use zw_api::app;

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
