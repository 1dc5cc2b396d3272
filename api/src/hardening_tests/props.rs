//! Malformed and extreme dates, windows and counts on history and energy: whatever the input, the answer is
//! 200, 400, 404 or 503 (the database is absent), never a panic or another 5xx; and a date InfluxDB cannot
//! store is always a 400, never a query.

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use proptest::prelude::*;

use super::{enc, get, state};

/// An instant anywhere in chrono's range, or near InfluxDB's limits, or near now.
fn instant() -> impl Strategy<Value = String> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    let around = |t: i64| (t - 2 * 86_400)..(t + 2 * 86_400);
    prop_oneof![
        min..=max,
        around(min + 2 * 86_400),
        around(max - 2 * 86_400),
        around(-9_223_372_036),
        around(9_223_372_036),
        around(Utc::now().timestamp()),
    ]
    .prop_map(|s| {
        DateTime::from_timestamp(s, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    })
}

/// A date anywhere in chrono's range, or near InfluxDB's limits.
fn date() -> impl Strategy<Value = String> {
    let days = |d: NaiveDate| i64::from(d.num_days_from_ce());
    let (min, max) = (days(NaiveDate::MIN), days(NaiveDate::MAX));
    prop_oneof![min..=max, 612_000i64..612_100, 825_500i64..825_600,].prop_map(|n| {
        i32::try_from(n)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .map(|d| d.to_string())
            .unwrap_or_default()
    })
}

/// A value or garbage: `Some` of the strategy's value, a random printable string, or absent.
fn or_garbage(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => s.prop_map(Some),
        1 => "[ -~]{0,24}".prop_map(Some),
        1 => Just(None),
    ]
}

fn count() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|n| n.to_string()),
        (0u32..400).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_string()),
    ]
}

fn window() -> impl Strategy<Value = String> {
    (
        any::<u64>(),
        prop::sample::select(vec!["ms", "s", "m", "min", "h", "d", "w", ""]),
    )
        .prop_map(|(n, unit)| format!("{n}{unit}"))
}

/// Whether `v` is an instant (RFC 3339) or date InfluxDB cannot store, so the request must be a 400.
fn unstorable(v: Option<&String>) -> bool {
    let (min, max) = (
        DateTime::from_timestamp_nanos(i64::MIN),
        DateTime::from_timestamp_nanos(i64::MAX),
    );
    let Some(v) = v else { return false };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return !(min..=max).contains(&t.with_timezone(&Utc));
    }
    v.parse::<NaiveDate>()
        .is_ok_and(|d| d <= min.date_naive() || d >= max.date_naive())
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| Some(format!("&{k}={}", enc(v.as_ref()?))))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn dates_windows_and_counts_never_panic_or_fail_the_server(
        who in prop::sample::select(vec!["anna", "fm", "root"]),
        from in or_garbage(instant()),
        to in or_garbage(instant()),
        window in or_garbage(window()),
        until in or_garbage(date()),
        count in or_garbage(count()),
        period in prop::sample::select(vec!["day", "week", "month"]),
    ) {
        // A device and a site the caller sees, so scope never hides the answer.
        let (dev, site) = match who {
            "anna" => ("hh-1-plug", "hh-1"),
            "fm" => ("rathaus-main", "rathaus"),
            _ => ("hh-2-plug", "hh-2"),
        };
        let bad_history = unstorable(from.as_ref()) || unstorable(to.as_ref());
        let bad_report = unstorable(until.as_ref());
        let history = format!(
            "/api/v1/devices/{dev}/history?quantity=active_power{}",
            query(&[("from", from), ("to", to), ("window", window)])
        );
        let report = query(&[("until", until), ("count", count)]);
        let paths = [
            (history, bad_history),
            (format!("/api/v1/devices/{dev}/energy?period={period}{report}"), bad_report),
            (format!("/api/v1/sites/{site}/energy?period={period}{report}"), bad_report),
            (format!("/api/v1/sites/{site}/top?period={period}{report}"), bad_report),
        ];
        let s = state();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        for (path, unstorable) in paths {
            let a = runtime.block_on(get(&s, &path, who));
            let allowed = [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND, StatusCode::SERVICE_UNAVAILABLE];
            prop_assert!(allowed.contains(&a.status), "{who} {path} → {}: {}", a.status, a.body);
            prop_assert!(!unstorable || a.status == StatusCode::BAD_REQUEST, "{who} {path} → {}: {}", a.status, a.body);
            prop_assert_eq!(a.content_type(), "application/problem+json", "{} {}", who, path);
        }
    }
}
