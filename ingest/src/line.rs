//! The per-reading CPU path: decode and validate a bus message, append its line-protocol point.
//!
//! [`to_line`] writes the point without the general [`zw_influx::Line`] builder's allocations. It still
//! cannot emit a malformed line: site and device are [`zw_model::Id`]s (only `a-z0-9-_`, nothing to
//! escape), field names are the static snake_case [`zw_model::Quantity`] names, every value is checked to
//! be finite, and an empty reading is refused. A property test checks it against the general builder.

use chrono::{DateTime, Utc};
use zw_influx::LineError;
use zw_model::{Reading, reading::TimeWindow, storage, topic};

/// Why a reading was not turned into a point: a stable reason label and a human message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Metrics label and dead-letter reason.
    pub reason: &'static str,
    /// What exactly was wrong.
    pub message: String,
}

/// Appends the line-protocol point of `r` (millisecond timestamp) to `out`; on error `out` is unchanged.
pub fn to_line(r: &Reading, out: &mut String) -> Result<(), LineError> {
    if r.values.is_empty() {
        return Err(LineError::NoFields);
    }
    if let Some((q, _)) = r.values.iter().find(|(_, v)| !v.is_finite()) {
        return Err(LineError::NotFinite(q.name().to_string()));
    }
    // Tags in key order (device < site), as InfluxDB stores them.
    out.push_str(storage::MEASUREMENT);
    out.push(',');
    out.push_str(storage::TAG_DEVICE);
    out.push('=');
    out.push_str(r.device.as_str());
    out.push(',');
    out.push_str(storage::TAG_SITE);
    out.push('=');
    out.push_str(r.site.as_str());
    for (i, (q, v)) in r.values.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(q.name());
        out.push('=');
        push_float(out, *v);
    }
    out.push(' ');
    out.push_str(itoa::Buffer::new().format(r.ts.timestamp_millis()));
    out.push('\n');
    Ok(())
}

/// Appends a finite `v` as a line-protocol float: the shortest form that reads back as the same `f64`,
/// always with a `.` or an exponent (`3.0`, `1207.5`, `1e-7`), never with the integer suffix `i`.
pub(crate) fn push_float(out: &mut String, v: f64) {
    let mut buf = zmij::Buffer::new();
    let s = buf.format_finite(v);
    out.push_str(s);
    if !s.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        out.push_str(".0");
    }
}

/// Parses and validates a message from `topic`: schema, values, time window, and ids matching the topic.
pub fn decode(
    topic: &str,
    payload: &[u8],
    now: DateTime<Utc>,
    window: TimeWindow,
) -> Result<Reading, Rejection> {
    let r = Reading::from_json(payload, now, window).map_err(|e| Rejection {
        reason: e.reason(),
        message: e.to_string(),
    })?;
    match topic::parse_readings(topic) {
        Some((site, device)) if site == r.site && device == r.device => Ok(r),
        _ => Err(Rejection {
            reason: "topic_mismatch",
            message: format!("reading for {}/{} on topic {topic}", r.site, r.device),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use proptest::prelude::*;
    use zw_influx::{FieldValue, Line};
    use zw_model::{Id, Quantity};

    use super::*;

    fn reading(values: BTreeMap<Quantity, f64>) -> Reading {
        let ts = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("valid");
        Reading::new(
            Id::new("rathaus").expect("id"),
            Id::new("main").expect("id"),
            ts,
            values,
        )
    }

    /// The general builder's output, as the reference.
    fn reference(r: &Reading) -> Result<String, LineError> {
        let mut line = Line::new(storage::MEASUREMENT)
            .tag(storage::TAG_SITE, r.site.as_str())
            .tag(storage::TAG_DEVICE, r.device.as_str())
            .timestamp(r.ts.timestamp_millis());
        for (q, v) in &r.values {
            line = line.field(q.name(), FieldValue::Float(*v));
        }
        let mut out = String::new();
        line.write_to(&mut out).map(|()| out)
    }

    #[test]
    fn a_reading_is_one_point() {
        let r = reading(BTreeMap::from([
            (Quantity::EnergyImport, 12_345_678.0),
            (Quantity::ActivePower, -5.5),
        ]));
        let mut out = String::new();
        to_line(&r, &mut out).expect("valid");
        assert_eq!(
            out,
            "readings,device=main,site=rathaus active_power=-5.5,energy_import=12345678.0 1795255200000\n"
        );
    }

    #[test]
    fn refuses_what_the_builder_refuses() {
        let mut out = String::new();
        assert_eq!(
            to_line(&reading(BTreeMap::new()), &mut out),
            Err(LineError::NoFields)
        );
        let nan = reading(BTreeMap::from([(Quantity::VoltageL1, f64::NAN)]));
        assert!(matches!(to_line(&nan, &mut out), Err(LineError::NotFinite(_))));
        assert!(out.is_empty());
    }

    #[test]
    fn decode_checks_the_topic() {
        let r = reading(BTreeMap::from([(Quantity::ActivePower, 1.0)]));
        let json = r.to_json();
        let (now, w) = (r.ts, TimeWindow::default());
        assert_eq!(decode("zw/v1/readings/rathaus/main", &json, now, w), Ok(r));
        let wrong = decode("zw/v1/readings/rathaus/other", &json, now, w).expect_err("mismatch");
        assert_eq!(wrong.reason, "topic_mismatch");
        assert_eq!(decode("t", b"{", now, w).expect_err("json").reason, "malformed");
    }

    /// A line as comparable data: series key, fields with their float bits, timestamp. Formatting may
    /// differ (`1e15` against `1000000000000000.0`); the stored point must not.
    pub(crate) fn parsed(line: &str) -> (String, Vec<(String, u64)>, Option<i64>) {
        let p = influxdb_line_protocol::parse_lines(line)
            .next()
            .expect("one line")
            .expect("valid line protocol");
        let fields = p
            .field_set
            .iter()
            .map(|(k, v)| match v {
                influxdb_line_protocol::FieldValue::F64(f) => (k.to_string(), f.to_bits()),
                other => panic!("field {k} is not a float: {other:?}"),
            })
            .collect();
        (p.series.to_string(), fields, p.timestamp)
    }

    #[test]
    fn floats_always_read_back_as_floats() {
        for v in [
            0.0,
            -0.0,
            3.0,
            1207.5,
            1e15,
            1e16,
            1e21,
            1e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            -5e-324,
        ] {
            let mut s = String::new();
            push_float(&mut s, v);
            assert!(s.contains(['.', 'e', 'E']), "{s}");
            assert_eq!(
                parsed(&format!("m f={s} 1")).1,
                vec![("f".to_owned(), v.to_bits())],
                "{s}"
            );
        }
    }

    proptest! {
        #[test]
        fn fast_path_equals_the_general_builder(
            values in proptest::collection::btree_map(0..Quantity::ALL.len(), proptest::num::f64::ANY, 0..6),
        ) {
            let r = reading(values.into_iter().map(|(i, v)| (Quantity::ALL[i], v)).collect());
            let mut fast = String::new();
            let fast = to_line(&r, &mut fast).map(|()| fast);
            match (fast, reference(&r)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(parsed(&a), parsed(&b)),
                (a, b) => prop_assert_eq!(a, b),
            }
        }
    }
}
