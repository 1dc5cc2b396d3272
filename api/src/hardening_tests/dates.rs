//! Extreme dates, windows and counts; per-role ranges; generic 503 texts; the query and request timeouts.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};

use super::{enc, get, metric, state, state_with};
use crate::Config;

const HISTORY: &str = "/api/v1/devices/hh-1-plug/history?quantity=active_power";

/// Issue 17: `to=-262143-01-01T00:00:00Z` panicked the history handler.
#[tokio::test]
async fn extreme_history_input_is_a_400_problem_naming_the_limits() {
    let s = state();
    // (query, words the detail contains)
    let cases = [
        ("&to=-262143-01-01T00:00:00Z", "1677-09-22 to 2262-04-10"),
        ("&from=+262142-12-31T23:59:59Z", "1677-09-22 to 2262-04-10"),
        ("&to=1677-09-21T00:00:00Z", "1677-09-22 to 2262-04-10"),
        ("&to=1677-09-22T00:00:00Z", "24 h before `to`"),
        (
            "&from=2262-04-12T00:00:00Z&to=2262-04-13T00:00:00Z",
            "1677-09-22 to 2262-04-10",
        ),
        (
            "&from=-262143-01-01T00:00:00Z&to=+262142-12-31T23:59:59Z",
            "1677-09-22 to 2262-04-10",
        ),
        ("&window=999999999999d", "from 1s to 366d"),
        ("&window=18446744073709551615h", "from 1s to 366d"),
        ("&window=367d", "from 1s to 366d"),
        (
            "&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
            "a resident may read at most 31 days of history",
        ),
    ];
    for (query, words) in cases {
        let query = query.replace('+', "%2B");
        let a = get(&s, &format!("{HISTORY}{query}"), "anna").await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {}", a.body);
        assert_eq!(a.content_type(), "application/problem+json", "{query}");
        assert!(a.detail().contains(words), "{query}: {}", a.body);
    }
}

#[tokio::test]
async fn each_role_reads_its_own_history_range() {
    let s = state();
    let now = Utc::now();
    let range = |days: i64| {
        let from = (now - TimeDelta::days(days)).to_rfc3339();
        format!("&window=1h&from={}&to={}", enc(&from), enc(&now.to_rfc3339()))
    };
    // (caller, device, days, status): 503 means the range passed and the (absent) database was asked.
    let cases = [
        ("anna", "hh-1-plug", 31, StatusCode::SERVICE_UNAVAILABLE),
        ("anna", "hh-1-plug", 32, StatusCode::BAD_REQUEST),
        ("fm", "rathaus-main", 366, StatusCode::SERVICE_UNAVAILABLE),
        ("fm", "rathaus-main", 367, StatusCode::BAD_REQUEST),
        ("root", "hh-1-plug", 366, StatusCode::SERVICE_UNAVAILABLE),
        ("root", "hh-1-plug", 367, StatusCode::BAD_REQUEST),
        ("anna", "hh-2-plug", 32, StatusCode::NOT_FOUND),
    ];
    for (who, dev, days, want) in cases {
        let path = format!(
            "/api/v1/devices/{dev}/history?quantity=active_power{}",
            range(days)
        );
        let a = get(&s, &path, who).await;
        assert_eq!(a.status, want, "{who} {dev} {days} days: {}", a.body);
    }
}

/// Issue 17: `until=` far in the past or future panicked the energy handlers.
#[tokio::test]
async fn extreme_energy_input_is_a_400_and_role_ranges_hold() {
    let s = state();
    let (bad, unavailable) = (StatusCode::BAD_REQUEST, StatusCode::SERVICE_UNAVAILABLE);
    // (caller, path, query, status)
    let cases = [
        ("anna", "devices/hh-1-plug", "until=-262143-01-01", bad),
        ("anna", "devices/hh-1-plug", "until=%2B262142-12-31", bad),
        ("anna", "devices/hh-1-plug", "until=1677-09-21", bad),
        ("anna", "devices/hh-1-plug", "until=2262-04-11", bad),
        ("anna", "devices/hh-1-plug", "until=1677-09-22", bad),
        (
            "root",
            "devices/hh-1-plug",
            "period=day&count=1&until=1677-09-23",
            unavailable,
        ),
        (
            "root",
            "devices/hh-1-plug",
            "period=day&count=1&until=2262-04-09",
            unavailable,
        ),
        ("anna", "devices/hh-1-plug", "count=0", bad),
        ("anna", "devices/hh-1-plug", "count=367", bad),
        ("anna", "devices/hh-1-plug", "count=4294967296", bad),
        ("anna", "devices/hh-1-plug", "count=-1", bad),
        ("anna", "devices/hh-1-plug", "period=day&count=366", unavailable),
        ("anna", "devices/hh-1-plug", "period=month&count=12", unavailable),
        ("anna", "devices/hh-1-plug", "period=month&count=13", bad),
        ("anna", "sites/hh-1", "period=week&count=366", bad),
        ("fm", "sites/rathaus", "period=month&count=60", unavailable),
        ("fm", "sites/rathaus", "period=month&count=366", bad),
        (
            "root",
            "sites/hh-2",
            "period=month&count=366&until=2262-04-10",
            bad,
        ),
    ];
    for (who, subject, query, want) in cases {
        for report in ["energy", "top"] {
            if report == "top" && !subject.starts_with("sites") {
                continue;
            }
            let path = format!("/api/v1/{subject}/{report}?{query}");
            let a = get(&s, &path, who).await;
            assert_eq!(a.status, want, "{who} {path}: {}", a.body);
            assert_eq!(a.content_type(), "application/problem+json", "{path}");
        }
    }
    let a = get(
        &s,
        "/api/v1/devices/hh-1-plug/energy?period=month&count=13",
        "anna",
    )
    .await;
    assert!(
        a.detail()
            .starts_with("a resident may read at most 732 days of energy"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn a_503_names_what_is_unavailable_and_nothing_internal() {
    let s = state();
    let cases = [
        (HISTORY.to_string(), "history is temporarily unavailable"),
        (
            "/api/v1/devices/hh-1-plug/energy".to_string(),
            "energy is temporarily unavailable",
        ),
    ];
    for (path, detail) in cases {
        let a = get(&s, &path, "anna").await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(a.detail(), detail, "{path}");
        let text = a.body.to_string();
        for internal in ["127.0.0.1", "http", "InfluxDB", "connection"] {
            assert!(!text.contains(internal), "{path}: {text}");
        }
    }
}

/// A listener that accepts connections and never answers, held open for the test.
async fn silent_influx() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_silent_database_answers_503_after_the_query_timeout() {
    let (url, task) = silent_influx().await;
    let mut s = state_with(url);
    s.configure(Config {
        query_timeout: Duration::from_millis(200),
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let a = get(&s, HISTORY, "anna").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    assert_eq!(a.detail(), "history is temporarily unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(metric(&s, "zw_api_query_timeouts_total", None), Some(1.0));
    task.abort();
}

#[tokio::test]
async fn a_slow_request_answers_503_after_the_request_timeout() {
    let (url, task) = silent_influx().await;
    let mut s = state_with(url);
    // Not a valid configuration (the query timeout must be shorter), so the request timeout fires first.
    s.configure(Config {
        query_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_millis(300),
        ..Config::default()
    });
    let a = get(&s, HISTORY, "anna").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    assert_eq!(a.content_type(), "application/problem+json");
    assert!(
        a.detail().starts_with("the request took longer than 1 s"),
        "{}",
        a.body
    );
    task.abort();
}
