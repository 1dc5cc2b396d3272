//! Backfill parsing for `zaehlwerk import`: CSV rows and line-protocol lines become validated readings, which
//! then take the same path as live ones ([`crate::to_line`], [`crate::Writer`], the dead-letter store).
//!
//! CSV: a header row naming the columns `ts,site,device,quantity,value` in any order (other columns are
//! ignored), then one value per row, e.g. `2024-05-01T10:00:00Z,rathaus,rathaus-main,energy_import,8251223.6`.
//! `ts` is RFC 3339 (any offset) or Unix epoch milliseconds; `quantity` is a canonical quantity name and
//! `value` a finite number in its canonical unit. Rows of one device and timestamp become one point (InfluxDB
//! merges fields of the same series and time). Fields may be wrapped in double quotes.
//!
//! Line protocol: measurement `readings`, tags `site` and `device` (valid ids, nothing else), numeric fields
//! named after canonical quantities, and a timestamp in the given [`Precision`] (required: the server's
//! clock would be wrong for historic data).
//!
//! Time window: nothing later than 5 minutes ahead of now; no lower bound (the database's retention policy
//! may still refuse old points, which then land in the dead-letter store).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use influxdb_line_protocol::FieldValue;
use zw_model::{Id, Quantity, Reading, reading::TimeWindow, storage};

use crate::Rejection;

/// The columns a CSV file must have.
pub const CSV_COLUMNS: [&str; 5] = ["ts", "site", "device", "quantity", "value"];

/// The accepted time window for backfill.
pub fn window() -> TimeWindow {
    TimeWindow {
        max_age: TimeDelta::days(365 * 200),
        max_future: TimeDelta::minutes(5),
    }
}

/// Timestamp unit of a line-protocol file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Nanoseconds (line protocol's default).
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

impl Precision {
    /// Parses `ns`, `us`, `ms` or `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ns" | "n" => Self::Ns,
            "us" | "u" => Self::Us,
            "ms" => Self::Ms,
            "s" => Self::S,
            _ => return None,
        })
    }

    fn to_ms(self, t: i64) -> Option<i64> {
        match self {
            Self::Ns => Some(t.div_euclid(1_000_000)),
            Self::Us => Some(t.div_euclid(1_000)),
            Self::Ms => Some(t),
            Self::S => t.checked_mul(1000),
        }
    }
}

/// Column positions of a CSV file, from its header row.
#[derive(Debug, Clone)]
pub struct CsvHeader {
    idx: [usize; 5],
}

impl CsvHeader {
    /// Reads the header row; names every missing column.
    pub fn parse(header: &str) -> Result<Self, String> {
        let names: Vec<String> = split_csv(header).map(|c| c.trim().to_ascii_lowercase()).collect();
        let mut idx = [0; 5];
        let mut missing = Vec::new();
        for (i, col) in CSV_COLUMNS.iter().enumerate() {
            match names.iter().position(|n| n == col) {
                Some(p) => idx[i] = p,
                None => missing.push(*col),
            }
        }
        if missing.is_empty() {
            Ok(Self { idx })
        } else {
            Err(format!(
                "CSV header {header:?} lacks column(s) {} (expected {})",
                missing.join(", "),
                CSV_COLUMNS.join(",")
            ))
        }
    }

    /// Parses and validates one data row.
    pub fn row(&self, row: &str, now: DateTime<Utc>) -> Result<Reading, Rejection> {
        let cells: Vec<&str> = split_csv(row).map(str::trim).collect();
        let cell = |i: usize| cells.get(self.idx[i]).copied().unwrap_or("");
        let ts = parse_ts(cell(0))?;
        let site = id(cell(1), "site")?;
        let device = id(cell(2), "device")?;
        let q = Quantity::from_name(cell(3))
            .ok_or_else(|| reject("quantity", format!("unknown quantity {:?}", cell(3))))?;
        let value: f64 = cell(4)
            .parse()
            .map_err(|_| reject("value", format!("{:?} is not a number", cell(4))))?;
        validated(Reading::new(site, device, ts, BTreeMap::from([(q, value)])), now)
    }
}

/// Parses and validates one line of line protocol; `Ok(None)` for blank lines and comments.
pub fn lp_line(line: &str, precision: Precision, now: DateTime<Utc>) -> Result<Option<Reading>, Rejection> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let parsed = match influxdb_line_protocol::parse_lines(trimmed).next() {
        Some(Ok(p)) => p,
        Some(Err(e)) => return Err(reject("syntax", e.to_string())),
        None => return Ok(None),
    };
    if parsed.series.measurement != storage::MEASUREMENT {
        return Err(reject(
            "measurement",
            format!(
                "measurement {:?} is not {:?}",
                parsed.series.measurement.as_str(),
                storage::MEASUREMENT
            ),
        ));
    }
    let (mut site, mut device) = (None, None);
    for (k, v) in parsed.series.tag_set.iter().flatten() {
        match k.as_str() {
            storage::TAG_SITE => site = Some(id(v, "site")?),
            storage::TAG_DEVICE => device = Some(id(v, "device")?),
            other => {
                return Err(reject(
                    "tags",
                    format!("unexpected tag {other:?} (only site and device)"),
                ));
            }
        }
    }
    let (Some(site), Some(device)) = (site, device) else {
        return Err(reject("tags", "tags site and device are required".into()));
    };
    let mut values = BTreeMap::new();
    for (k, v) in &parsed.field_set {
        let q = Quantity::from_name(k)
            .ok_or_else(|| reject("quantity", format!("unknown quantity {:?}", k.as_str())))?;
        let x = match v {
            FieldValue::F64(x) => *x,
            FieldValue::I64(x) => *x as f64,
            FieldValue::U64(x) => *x as f64,
            other => {
                return Err(reject(
                    "value",
                    format!("field {:?} is not numeric: {other}", k.as_str()),
                ));
            }
        };
        values.insert(q, x);
    }
    let ms = parsed
        .timestamp
        .ok_or_else(|| reject("timestamp", "a timestamp is required for backfill".into()))
        .and_then(|t| {
            precision
                .to_ms(t)
                .ok_or_else(|| reject("timestamp", format!("{t} is out of range")))
        })?;
    let ts = Utc
        .timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| reject("timestamp", format!("{ms} ms is out of range")))?;
    validated(Reading::new(site, device, ts, values), now).map(Some)
}

fn validated(r: Reading, now: DateTime<Utc>) -> Result<Reading, Rejection> {
    r.validate(now, window())
        .map_err(|e| reject(e.reason(), e.to_string()))?;
    Ok(r)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, Rejection> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        let ms: i64 = s
            .parse()
            .map_err(|_| reject("timestamp", format!("{s:?} is not a timestamp")))?;
        return Utc
            .timestamp_millis_opt(ms)
            .single()
            .ok_or_else(|| reject("timestamp", format!("{ms} ms is out of range")));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| reject("timestamp", format!("{s:?}: {e}")))
}

fn id(s: &str, what: &str) -> Result<Id, Rejection> {
    Id::new(s).map_err(|e| reject(if what == "site" { "site" } else { "device" }, e.to_string()))
}

fn reject(reason: &'static str, message: String) -> Rejection {
    Rejection { reason, message }
}

/// Splits a CSV row at commas, removing one pair of surrounding double quotes per cell (values in this
/// format never contain commas: ids, quantity names, numbers and timestamps).
fn split_csv(row: &str) -> impl Iterator<Item = &str> {
    row.split(',').map(|c| {
        let c = c.trim();
        c.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap_or(c)
    })
}

#[cfg(test)]
mod tests;
