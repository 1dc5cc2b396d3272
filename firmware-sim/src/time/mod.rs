//! Simulated time: Europe/Berlin civil time ([`berlin`], what office hours and Tasmota's `Time` fields
//! follow) and the span of simulated past the devices are stepped through (`History`).

mod history;
mod localtime;

pub(crate) use history::History;
pub use localtime::{berlin, berlin_offset_secs, tasmota_time};

/// Test helper: an RFC 3339 timestamp as UTC.
#[cfg(test)]
pub(crate) fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("valid timestamp")
        .with_timezone(&chrono::Utc)
}
