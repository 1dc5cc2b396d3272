//! Live streams per user, failed authentications per address, and what the OpenAPI document declares.

use axum::http::{StatusCode, header};

use super::{answer, get, metric, request, send, state};
use crate::Config;

#[tokio::test]
async fn live_streams_per_user_are_limited_and_a_closed_one_frees_its_slot() {
    let mut s = state();
    s.configure(Config {
        max_streams_per_user: 2,
        rate_limit_per_second: 0.0,
        ..Config::default()
    });
    let cfg = s.config.clone();
    let open = |who: &'static str| send(&s, &cfg, request("/api/v1/stream", who, None));
    let first = open("anna").await;
    let second = open("anna").await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(metric(&s, "zw_api_streams_open", None), Some(2.0));
    let third = answer(open("anna").await).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{}", third.body);
    assert_eq!(third.content_type(), "application/problem+json");
    assert_eq!(third.headers[header::RETRY_AFTER], "10");
    assert!(
        third.detail().contains("2 live streams are open"),
        "{}",
        third.body
    );
    assert_eq!(
        open("fm").await.status(),
        StatusCode::OK,
        "other users are unaffected"
    );
    drop(first);
    assert_eq!(
        open("anna").await.status(),
        StatusCode::OK,
        "a closed stream frees its slot"
    );
    assert_eq!(metric(&s, "zw_api_streams_rejected_total", None), Some(1.0));
    drop(second);
    assert_eq!(metric(&s, "zw_api_streams_open", None), Some(0.0));
}

#[tokio::test]
async fn failed_authentications_are_limited_per_address_and_counted() {
    let mut s = state();
    s.configure(Config {
        auth_failure_burst: 3,
        auth_failures_per_minute: 6.0,
        ..Config::default()
    });
    let cfg = s.config.clone();
    let call = |token: &'static str, peer: Option<&'static str>| {
        send(&s, &cfg, request("/api/v1/devices", token, peer))
    };
    for _ in 0..3 {
        assert_eq!(
            call("guess", Some("192.0.2.1")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The address is out of attempts: refused before its token is even looked at, a right one included.
    for token in ["guess", "anna"] {
        let a = answer(call(token, Some("192.0.2.1")).await).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{token}: {}", a.body);
        assert_eq!(
            a.headers[header::RETRY_AFTER],
            "10",
            "6 per minute: one every 10 s"
        );
        assert!(
            a.detail().starts_with("too many failed authentications"),
            "{}",
            a.body
        );
    }
    assert_eq!(
        call("anna", Some("192.0.2.2")).await.status(),
        StatusCode::OK,
        "other addresses"
    );
    assert_eq!(
        call("anna", None).await.status(),
        StatusCode::OK,
        "no address: not limited"
    );
    // IPv6 per /64: another host of the same network is the same guesser.
    for _ in 0..3 {
        call("guess", Some("[2001:db8::1]")).await;
    }
    let a = call("anna", Some("[2001:db8::2]")).await;
    assert_eq!(a.status(), StatusCode::TOO_MANY_REQUESTS);
    let count = |reason| metric(&s, "zw_api_auth_failures_total", Some(reason));
    assert_eq!(count("unknown_token"), Some(6.0));
    assert_eq!(count("limited"), Some(3.0));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited() {
    let mut s = state();
    s.configure(Config {
        auth_failure_burst: 1,
        trusted_proxies: vec!["192.0.2.100".parse().expect("ip")],
        ..Config::default()
    });
    let cfg = s.config.clone();
    let call = |token: &'static str, peer: &'static str, forwarded: Option<&'static str>| {
        let mut req = request("/api/v1/devices", token, Some(peer));
        if let Some(f) = forwarded {
            req.headers_mut()
                .insert("x-forwarded-for", f.parse().expect("header"));
        }
        send(&s, &cfg, req)
    };
    let status = |r: axum::response::Response| r.status();
    let proxy = "192.0.2.100";
    // The client's own X-Forwarded-For entries come first; the proxy appends the real one last.
    assert_eq!(
        status(call("guess", proxy, Some("10.0.0.1, 198.51.100.7")).await),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(call("anna", proxy, Some("198.51.100.7")).await),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status(call("anna", proxy, Some("198.51.100.8")).await),
        StatusCode::OK,
        "another client"
    );
    // An untrusted peer cannot pick its address with the header.
    assert_eq!(
        status(call("guess", "192.0.2.5", Some("198.51.100.9")).await),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(call("anna", "192.0.2.5", Some("198.51.100.10")).await),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status(call("anna", proxy, Some("198.51.100.9")).await),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_request_without_a_token_is_counted_but_not_limited() {
    let mut s = state();
    s.configure(Config {
        auth_failure_burst: 1,
        ..Config::default()
    });
    let cfg = s.config.clone();
    for _ in 0..3 {
        let mut req = request("/api/v1/devices", "x", Some("192.0.2.9"));
        req.headers_mut().remove(header::AUTHORIZATION);
        assert_eq!(send(&s, &cfg, req).await.status(), StatusCode::UNAUTHORIZED);
    }
    let ok = send(&s, &cfg, request("/api/v1/devices", "anna", Some("192.0.2.9"))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        metric(&s, "zw_api_auth_failures_total", Some("missing")),
        Some(3.0)
    );
}

#[tokio::test]
async fn openapi_declares_problem_json_429_503_and_parameter_bounds() {
    let s = state();
    let doc = get(&s, "/api/v1/openapi.json", "none").await.body;
    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    let history = responses("/api/v1/devices/{id}/history", "get");
    for code in ["400", "401", "404", "429", "503"] {
        let content = &history[code]["content"];
        assert!(
            content["application/problem+json"].is_object(),
            "{code}: {history}"
        );
        assert!(content["application/json"].is_null(), "{code}: {history}");
    }
    assert!(history["429"]["headers"]["Retry-After"].is_object(), "{history}");
    let stream = responses("/api/v1/stream", "get");
    assert!(stream["429"]["headers"]["Retry-After"].is_object(), "{stream}");
    assert!(
        stream["503"].is_null(),
        "the stream has no request timeout: {stream}"
    );
    let ready = responses("/readyz", "get");
    assert!(ready["503"]["content"]["application/json"].is_object(), "{ready}");
    assert!(ready["429"].is_null(), "no token, no rate limit: {ready}");
    assert!(responses("/api/v1/alerts/{id}/ack", "post")["429"].is_object());
    let param = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_default()
    };
    let count = param("/api/v1/sites/{id}/energy", "count");
    assert_eq!(count["schema"]["minimum"], 1, "{count}");
    assert_eq!(count["schema"]["maximum"], 366, "{count}");
    let window = param("/api/v1/devices/{id}/history", "window");
    assert!(window["schema"]["pattern"].is_string(), "{window}");
    let quantity = param("/api/v1/devices/{id}/history", "quantity");
    let names = quantity["schema"]["enum"].as_array().cloned().unwrap_or_default();
    assert!(names.contains(&"active_power".into()), "{quantity}");
    assert_eq!(names.len(), zw_model::Quantity::ALL.len(), "{quantity}");
    let state = param("/api/v1/alerts", "state");
    assert!(state["schema"]["pattern"].is_string(), "{state}");
    let from = param("/api/v1/devices/{id}/history", "from");
    assert!(
        from["description"]
            .as_str()
            .is_some_and(|d| d.contains("1677-09-22")),
        "{from}"
    );
}
