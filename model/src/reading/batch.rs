//! Batches of canonical readings: many readings in one bus message, for producers whose rate makes one
//! MQTT message per reading the bottleneck (the broker spends ≈ 10 µs of CPU per QoS 1 message in and out).
//!
//! Wire form, published on `zw/v1/batches/{producer}` (QoS 1, not retained):
//!
//! ```json
//! {"v":1,"readings":[{"v":1,"site":"rathaus","device":"rathaus-main","ts":"…","values":{…}}, …]}
//! ```
//!
//! * `v` is the envelope's schema version, `1`.
//! * `readings` holds 1 to [`MAX_READINGS`] elements, each exactly a single-reading object of any site and
//!   device. The producer id in the topic names who sent the batch, not what it is about.
//!
//! Each element is validated on its own with [`Reading::from_json`]: a bad one is rejected with its reason
//! and the others are kept. An envelope that does not parse, has another version, is empty or too long is
//! one rejection for the whole message.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Reading, ReadingError, SCHEMA_VERSION, TimeWindow};
use crate::topic;

/// Most readings one batch message may carry (≈ 200 bytes each, so ≈ 200 kB per message at most).
pub const MAX_READINGS: usize = 1000;

/// The bytes every batch in the canonical layout starts with.
pub const PREFIX: &[u8] = br#"{"v":1,"readings":["#;

/// The bytes every batch in the canonical layout ends with.
pub const SUFFIX: &[u8] = b"]}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    v: u32,
    #[serde(borrow)]
    readings: Vec<&'a RawValue>,
}

/// The elements of a batch payload as borrowed raw JSON, each still to be validated as a reading; an
/// envelope that is malformed, of another version, empty or longer than [`MAX_READINGS`] is an error.
pub fn elements(payload: &[u8]) -> Result<Vec<&[u8]>, ReadingError> {
    let env: Envelope<'_> =
        serde_json::from_slice(payload).map_err(|e| ReadingError::Malformed(format!("batch: {e}")))?;
    if env.v != SCHEMA_VERSION {
        return Err(ReadingError::Version(env.v));
    }
    if env.readings.is_empty() {
        return Err(ReadingError::Empty);
    }
    if env.readings.len() > MAX_READINGS {
        return Err(ReadingError::Malformed(format!(
            "batch: {} readings, at most {MAX_READINGS}",
            env.readings.len()
        )));
    }
    Ok(env.readings.iter().map(|r| r.get().as_bytes()).collect())
}

/// Calls `f` with every reading that the message on `topic` carries, or with the reason it was rejected:
/// once for a per-device topic (whose ids the reading must match), once per element for a batch, once for
/// a batch envelope that is invalid. Returns `false`, without calling `f`, if `topic` is neither form.
pub fn for_each_in_message(
    topic: &str,
    payload: &[u8],
    now: DateTime<Utc>,
    window: TimeWindow,
    mut f: impl FnMut(Result<Reading, ReadingError>),
) -> bool {
    if let Some((site, device)) = topic::parse_readings(topic) {
        f(Reading::from_json(payload, now, window).and_then(|r| {
            if r.site == site && r.device == device {
                Ok(r)
            } else {
                Err(ReadingError::TopicMismatch {
                    site: r.site,
                    device: r.device,
                    topic: topic.to_owned(),
                })
            }
        }));
        return true;
    }
    if topic::parse_batches(topic).is_none() {
        return false;
    }
    match elements(payload) {
        Ok(els) => els
            .into_iter()
            .for_each(|e| f(Reading::from_json(e, now, window))),
        Err(e) => f(Err(e)),
    }
    true
}

/// Builds batch payloads in the canonical layout, reusing its buffer.
#[derive(Debug, Default)]
pub struct Builder {
    buf: Vec<u8>,
    len: usize,
}

impl Builder {
    /// Appends `r`. The caller flushes with [`Builder::finish`] at [`MAX_READINGS`] at the latest.
    pub fn push(&mut self, r: &Reading) {
        self.buf
            .extend_from_slice(if self.len == 0 { PREFIX } else { b"," });
        // Serialising plain structs, maps of enums and f64 into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, r);
        self.len += 1;
    }

    /// Readings pushed since the last [`Builder::finish`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was pushed since the last [`Builder::finish`].
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The payload of the readings pushed so far; the builder starts over.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.len == 0 {
            self.buf.extend_from_slice(PREFIX);
        }
        self.buf.extend_from_slice(SUFFIX);
        self.len = 0;
        let cap = self.buf.capacity();
        std::mem::replace(&mut self.buf, Vec::with_capacity(cap))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::{Id, Quantity};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("valid date")
    }

    fn reading(device: &str, p: f64) -> Reading {
        let values = BTreeMap::from([(Quantity::ActivePower, p)]);
        Reading::new(
            Id::new("rathaus").expect("id"),
            Id::new(device).expect("id"),
            now(),
            values,
        )
    }

    fn collect(topic: &str, payload: &[u8]) -> Vec<Result<Reading, &'static str>> {
        let mut out = Vec::new();
        let known = for_each_in_message(topic, payload, now(), TimeWindow::default(), |r| {
            out.push(r.map_err(|e| e.reason()));
        });
        assert!(known, "{topic}");
        out
    }

    #[test]
    fn builder_output_reads_back_element_by_element() {
        let mut b = Builder::default();
        let rs = [reading("a", 1.5), reading("b", -2.0)];
        rs.iter().for_each(|r| b.push(r));
        assert_eq!(b.len(), 2);
        let payload = b.finish();
        assert!(payload.starts_with(PREFIX) && payload.ends_with(SUFFIX));
        assert!(b.is_empty());
        let got = collect("zw/v1/batches/gw1", &payload);
        assert_eq!(got, rs.iter().cloned().map(Ok).collect::<Vec<_>>());
        // Every element is exactly the single-reading form.
        let els = elements(&payload).expect("valid");
        assert_eq!(els, rs.iter().map(Reading::to_json).collect::<Vec<_>>());
    }

    #[test]
    fn bad_elements_are_rejected_alone() {
        let good = String::from_utf8(reading("a", 1.0).to_json()).expect("utf8");
        let payload = format!(
            r#"{{ "readings": [{good}, {{"v":1}}, {}, {good}], "v": 1 }}"#,
            good.replace("2026-11-21T10:00:00Z", "1999-01-01T00:00:00Z")
        );
        let got = collect("zw/v1/batches/gw1", payload.as_bytes());
        assert_eq!(
            got,
            vec![
                Ok(reading("a", 1.0)),
                Err("malformed"),
                Err("timestamp"),
                Ok(reading("a", 1.0))
            ]
        );
    }

    #[test]
    fn a_bad_envelope_is_one_rejection() {
        let one = String::from_utf8(reading("a", 1.0).to_json()).expect("utf8");
        let many = vec![one.as_str(); MAX_READINGS + 1].join(",");
        let cases = [
            ("not json".to_owned(), "malformed"),
            (format!(r#"{{"v":1,"readings":[{one}]"#), "malformed"),
            (format!(r#"{{"v":2,"readings":[{one}]}}"#), "version"),
            (format!(r#"{{"v":1,"readings":[{one}],"x":1}}"#), "malformed"),
            (r#"{"v":1,"readings":[]}"#.to_owned(), "empty"),
            (format!(r#"{{"v":1,"readings":[{many}]}}"#), "malformed"),
            (format!("[{one}]"), "malformed"),
        ];
        for (payload, reason) in cases {
            assert_eq!(
                collect("zw/v1/batches/p", payload.as_bytes()),
                vec![Err(reason)],
                "{payload}"
            );
        }
    }

    #[test]
    fn single_readings_must_match_their_topic() {
        let r = reading("a", 1.0);
        assert_eq!(
            collect("zw/v1/readings/rathaus/a", &r.to_json()),
            vec![Ok(r.clone())]
        );
        assert_eq!(
            collect("zw/v1/readings/rathaus/b", &r.to_json()),
            vec![Err("topic_mismatch")]
        );
        let none = for_each_in_message("zw/v1/alerts/x", b"{}", now(), TimeWindow::default(), |_| {
            panic!("not a readings topic")
        });
        assert!(!none);
    }
}
