//! JSON on the hot paths (live values, history), rendered cheaply.
//!
//! * [`FastJson`] serialises into one pre-sized buffer instead of growing a `BytesMut` piece by piece.
//! * [`ts`] / [`ts_opt`] write a timestamp exactly as chrono's serde does (`2026-11-21T08:31:08.660Z`, no
//!   fraction when it is zero) without going through `fmt` one character at a time; a live answer carries
//!   one timestamp per quantity.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// A JSON response body rendered into a buffer of `capacity` bytes up front.
pub struct FastJson<T>(pub T, pub usize);

impl<T: Serialize> IntoResponse for FastJson<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(self.1);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => {
                let mut resp = buf.into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                resp
            }
            Err(e) => crate::error::problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot render the answer: {e}"),
                false,
            ),
        }
    }
}

/// Serialises like chrono's `Serialize for DateTime<Utc>`, faster for whole milliseconds in years 0–9999.
pub fn ts<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let nanos = t.nanosecond();
    let year = t.year();
    // Leap seconds (nanos ≥ 1e9) and sub-millisecond precision: chrono knows best.
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 || !nanos.is_multiple_of(1_000_000) {
        return t.serialize(s);
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let put = |b: &mut [u8; 24], at: usize, v: u32, digits: usize| {
        let mut v = v;
        for i in (0..digits).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, year.unsigned_abs(), 4);
    put(&mut b, 5, t.month(), 2);
    put(&mut b, 8, t.day(), 2);
    put(&mut b, 11, t.hour(), 2);
    put(&mut b, 14, t.minute(), 2);
    put(&mut b, 17, t.second(), 2);
    let text: &[u8] = if nanos == 0 {
        b[19] = b'Z';
        &b[..20]
    } else {
        put(&mut b, 20, nanos / 1_000_000, 3);
        &b
    };
    // Only ASCII digits and separators were written.
    s.serialize_str(std::str::from_utf8(text).unwrap_or_default())
}

/// [`ts`] for an optional timestamp (`null` when absent).
pub fn ts_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ts(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Fast(#[serde(serialize_with = "ts")] DateTime<Utc>);

    #[test]
    fn timestamps_match_chronos_serde() {
        for ms in [
            0_i64,
            1_763_713_868_660,
            1_763_713_868_000,
            1_763_713_868_001,
            1_763_713_868_999,
            951_782_400_000, // 2000-02-29
            -1_000,
            253_402_300_799_999, // 9999-12-31T23:59:59.999
        ] {
            let t = DateTime::from_timestamp_millis(ms).expect("in range");
            let want = serde_json::to_string(&t).expect("chrono");
            assert_eq!(serde_json::to_string(&Fast(t)).expect("fast"), want, "{ms}");
        }
        let micro = DateTime::from_timestamp_micros(1_763_713_868_660_123).expect("in range");
        assert_eq!(
            serde_json::to_string(&Fast(micro)).expect("fast"),
            serde_json::to_string(&micro).expect("chrono")
        );
    }
}
