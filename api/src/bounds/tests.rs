use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339")
}

#[test]
fn influx_limits_are_the_nanosecond_range() {
    assert_eq!(influx_min().to_rfc3339(), "1677-09-21T00:12:43.145224192+00:00");
    assert_eq!(influx_max().to_rfc3339(), "2262-04-11T23:47:16.854775807+00:00");
    assert!(storable("t", influx_min()).is_ok() && storable("t", influx_max()).is_ok());
    let before = influx_min() - TimeDelta::nanoseconds(1);
    assert!(storable("t", before).is_err());
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
    assert!(storable_date("until", d(1677, 9, 22)).is_ok());
    assert!(storable_date("until", d(1677, 9, 21)).is_err());
    assert!(storable_date("until", d(2262, 4, 10)).is_ok());
    assert!(storable_date("until", d(2262, 4, 11)).is_err());
    assert!(storable_date("until", NaiveDate::MIN).is_err());
}

#[test]
fn history_ranges_are_checked_without_overflow() {
    let now = t("2026-11-21T12:00:00Z");
    let month = TimeDelta::days(31);
    let r = Role::Resident;
    let ok = history_range(None, None, now, r, month).expect("default");
    assert_eq!(ok, (t("2026-11-20T12:00:00Z"), now));
    // (case, from, to, accepted)
    let cases = [
        ("chrono's minimum", None, Some(DateTime::<Utc>::MIN_UTC), false),
        ("chrono's maximum", Some(DateTime::<Utc>::MAX_UTC), None, false),
        (
            "default from before 1677",
            None,
            Some(influx_min() + TimeDelta::hours(1)),
            false,
        ),
        (
            "both at the edge",
            Some(influx_min()),
            Some(influx_min() + TimeDelta::hours(1)),
            true,
        ),
        ("reversed", Some(now), Some(now - TimeDelta::hours(1)), false),
        ("empty", Some(now), Some(now), false),
        ("31 days", Some(now - month), Some(now), true),
        ("32 days", Some(now - TimeDelta::days(32)), Some(now), false),
        (
            "whole chrono range",
            Some(DateTime::<Utc>::MIN_UTC),
            Some(DateTime::<Utc>::MAX_UTC),
            false,
        ),
    ];
    for (case, from, to, accepted) in cases {
        let got = history_range(from, to, now, r, month);
        assert_eq!(got.is_ok(), accepted, "{case}: {got:?}");
    }
    let err = history_range(Some(now - TimeDelta::days(40)), Some(now), now, r, month).expect_err("too long");
    assert_eq!(
        err.to_string(),
        "a resident may read at most 31 days of history per request; ask for a shorter range"
    );
    let err = history_range(None, Some(DateTime::<Utc>::MIN_UTC), now, r, month).expect_err("too early");
    assert!(err.to_string().contains("1677-09-22 to 2262-04-10"), "{err}");
}

#[test]
fn windows_are_whole_seconds_within_limits() {
    // (input, accepted seconds)
    let cases = [
        ("1s", Some(1)),
        ("1000ms", Some(1)),
        ("15m", Some(900)),
        ("15min", Some(900)),
        ("1h", Some(3600)),
        ("1d", Some(86_400)),
        ("366d", Some(366 * 86_400)),
        ("367d", None),
        ("500ms", None),
        ("1500ms", None),
        ("0s", None),
        ("999999999999d", None),
        ("18446744073709551615h", None),
        ("18446744073709551616s", None),
        ("1w", None),
        ("", None),
        ("-1s", None),
    ];
    for (input, want) in cases {
        let got = parse_window(input).ok().map(|d| d.as_secs());
        assert_eq!(got, want, "{input:?}");
    }
}
