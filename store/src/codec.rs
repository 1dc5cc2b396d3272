//! How values are written into portable columns and read back: instants as fixed-width RFC 3339 text,
//! JSON as text, enums by their serde names, and the time-ordered ids of rows without a natural key.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Error;

/// `2026-03-01T12:00:00.000Z`: UTC, milliseconds, fixed width, so text order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`ts`] of an optional instant.
pub(crate) fn ts_opt(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts)
}

/// A new row id: the stamp's milliseconds, a per-process sequence and 32 random bits, as 27 hex digits.
/// Ids of one process sort in creation order; ids of several processes sort by time to the millisecond.
pub(crate) fn new_id(at: DateTime<Utc>) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    format!("{ms:013x}{seq:06x}{:08x}", rand::random::<u32>())
}

/// A JSON text of `v` (the store's own types always serialise).
pub(crate) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"unserialisable\":{:?}}}", e.to_string()))
}

/// The serde name of a unit enum variant (`SiteKind::Household` → `household`).
pub(crate) fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// Reads one row's columns, turning every failure into [`Error::Corrupt`] naming table and key.
pub(crate) struct Cols<'r> {
    pub(crate) row: &'r AnyRow,
    pub(crate) table: &'static str,
    pub(crate) key: String,
}

impl<'r> Cols<'r> {
    /// The row `row` of `table`, whose key is in column `key_col`.
    pub(crate) fn new(row: &'r AnyRow, table: &'static str, key_col: &str) -> Self {
        let key = row.try_get::<String, _>(key_col).unwrap_or_default();
        Self { row, table, key }
    }

    fn corrupt(&self, col: &str, reason: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            table: self.table,
            key: self.key.clone(),
            reason: format!("{col}: {reason}"),
        }
    }

    pub(crate) fn text(&self, col: &str) -> Result<String, Error> {
        self.row.try_get(col).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn text_opt(&self, col: &str) -> Result<Option<String>, Error> {
        self.row.try_get(col).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn int(&self, col: &str) -> Result<i64, Error> {
        self.row.try_get(col).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn float(&self, col: &str) -> Result<f64, Error> {
        self.row.try_get(col).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn float_opt(&self, col: &str) -> Result<Option<f64>, Error> {
        self.row.try_get(col).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn time(&self, col: &str) -> Result<DateTime<Utc>, Error> {
        let s = self.text(col)?;
        parse_ts(&s).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn time_opt(&self, col: &str) -> Result<Option<DateTime<Utc>>, Error> {
        self.text_opt(col)?
            .map(|s| parse_ts(&s).map_err(|e| self.corrupt(col, e)))
            .transpose()
    }

    /// A JSON column (or a text column read as a JSON string, for enums: `quoted`).
    pub(crate) fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T, Error> {
        let s = self.text(col)?;
        serde_json::from_str(&s).map_err(|e| self.corrupt(col, e))
    }

    pub(crate) fn json_opt<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>, Error> {
        self.text_opt(col)?
            .map(|s| serde_json::from_str(&s).map_err(|e| self.corrupt(col, e)))
            .transpose()
    }

    /// A unit enum stored by its serde name.
    pub(crate) fn name<T: DeserializeOwned>(&self, col: &str) -> Result<T, Error> {
        let s = self.text(col)?;
        serde_json::from_value(serde_json::Value::String(s)).map_err(|e| self.corrupt(col, e))
    }

    /// An [`zw_model::Id`] column.
    pub(crate) fn id(&self, col: &str) -> Result<zw_model::Id, Error> {
        let s = self.text(col)?;
        zw_model::Id::new(s).map_err(|e| self.corrupt(col, e))
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_fixed_width_and_ids_sort_in_creation_order() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        assert_eq!(ts(t), "2026-03-01T12:00:00.000Z");
        assert_eq!(parse_ts(&ts(t)), Ok(t));
        let ids: Vec<String> = (0..100).map(|_| new_id(t)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|i| i.len() == 27));
    }
}
