//! Local civil time in Europe/Berlin, without a time-zone database.
//!
//! The simulated devices sit in Germany: office hours and the Tasmota `Time` fields are local. Germany follows
//! the EU rule (CET, UTC+1; CEST, UTC+2 from the last Sunday of March to the last Sunday of October, switching
//! at 01:00 UTC), which has been fixed since 1996, so computing it beats pulling in `chrono-tz`.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// The Europe/Berlin UTC offset at `utc`, in seconds (3600 or 7200).
pub fn berlin_offset_secs(utc: DateTime<Utc>) -> i64 {
    let year = utc.year();
    match (eu_switch(year, 3), eu_switch(year, 10)) {
        (Some(start), Some(end)) if utc >= start && utc < end => 7200,
        _ => 3600,
    }
}

/// Europe/Berlin wall-clock time at `utc`.
pub fn berlin(utc: DateTime<Utc>) -> NaiveDateTime {
    let naive = utc.naive_utc();
    naive
        .checked_add_signed(TimeDelta::seconds(berlin_offset_secs(utc)))
        .unwrap_or(naive)
}

/// The EU switch instant of `month` (March or October): the last Sunday, 01:00 UTC.
fn eu_switch(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let sunday = last.checked_sub_days(Days::new(u64::from(last.weekday().num_days_from_sunday())))?;
    Some(sunday.and_hms_opt(1, 0, 0)?.and_utc())
}

/// Formats like Tasmota's timestamps: local time, no offset, whole seconds (`2026-11-21T11:20:54`).
pub fn tasmota_time(utc: DateTime<Utc>) -> String {
    berlin(utc).format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::at;

    #[test]
    fn offsets_follow_the_eu_rule() {
        let cases = [
            ("2026-01-15T12:00:00Z", 3600),
            ("2026-03-29T00:59:59Z", 3600),
            ("2026-03-29T01:00:00Z", 7200),
            ("2026-07-01T12:00:00Z", 7200),
            ("2026-10-25T00:59:59Z", 7200),
            ("2026-10-25T01:00:00Z", 3600),
            ("2024-03-31T01:00:00Z", 7200),
        ];
        for (ts, offset) in cases {
            assert_eq!(berlin_offset_secs(at(ts)), offset, "{ts}");
        }
    }

    #[test]
    fn tasmota_time_is_local_without_offset() {
        assert_eq!(tasmota_time(at("2026-11-21T10:20:54.9Z")), "2026-11-21T11:20:54");
        assert_eq!(tasmota_time(at("2026-06-21T10:20:54Z")), "2026-06-21T12:20:54");
    }
}
