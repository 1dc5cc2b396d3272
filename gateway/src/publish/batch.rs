//! Batches bounded by count and by bytes: the batch layout of [`zw_model::reading::batch`] (`PREFIX`,
//! readings joined by `,`, `SUFFIX`; what its `Builder` writes), measured as it grows so that no batch is
//! ever over `bus.max_message_bytes`, which every consumer rejects (issue 16: the gateway could otherwise
//! wedge itself with its own batches).
//!
//! Each reading is encoded once, into a scratch buffer, and copied into the open batch if it fits; if not,
//! the open batch is closed first and the reading starts the next one. Pure: no I/O, no clock.

use zw_model::Reading;
use zw_model::reading::batch::{PREFIX, SUFFIX};

use crate::buffer::{Message, SourceCounts};

/// The open batch and its limits.
#[derive(Debug)]
pub struct Batches {
    topic: String,
    max_readings: usize,
    max_bytes: usize,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    readings: usize,
    sources: SourceCounts,
}

impl Batches {
    /// Batches on `topic` of at most `max_readings` readings and `max_bytes` bytes.
    pub fn new(topic: String, max_readings: usize, max_bytes: usize) -> Self {
        Self {
            topic,
            max_readings,
            max_bytes,
            buf: Vec::new(),
            scratch: Vec::new(),
            readings: 0,
            sources: SourceCounts::default(),
        }
    }

    /// Adds `r`. Returns the open batch if it had to be closed to keep within `max_bytes` (`r` then starts
    /// the next), or `Err(size)` if `r` alone makes a batch over `max_bytes` (it is not added).
    pub fn push(&mut self, r: &Reading, source: &str) -> Result<Option<Message>, usize> {
        self.scratch.clear();
        // Serialising plain structs, maps of enums and f64 into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.scratch, r);
        let alone = PREFIX.len() + self.scratch.len() + SUFFIX.len();
        if alone > self.max_bytes {
            return Err(alone);
        }
        let closed =
            if self.readings > 0 && self.buf.len() + 1 + self.scratch.len() + SUFFIX.len() > self.max_bytes {
                self.take()
            } else {
                None
            };
        self.buf
            .extend_from_slice(if self.readings == 0 { PREFIX } else { b"," });
        self.buf.extend_from_slice(&self.scratch);
        self.readings += 1;
        self.sources.add(source);
        Ok(closed)
    }

    /// Whether the open batch holds `max_readings`.
    pub fn is_full(&self) -> bool {
        self.readings >= self.max_readings
    }

    /// Whether no reading is open.
    pub fn is_empty(&self) -> bool {
        self.readings == 0
    }

    /// Closes the open batch (`None` if it is empty).
    pub fn take(&mut self) -> Option<Message> {
        if self.readings == 0 {
            return None;
        }
        self.buf.extend_from_slice(SUFFIX);
        let cap = self.buf.capacity();
        let m = Message {
            topic: self.topic.clone(),
            payload: std::mem::replace(&mut self.buf, Vec::with_capacity(cap)),
            readings: u32::try_from(self.readings).unwrap_or(u32::MAX),
            sources: std::mem::take(&mut self.sources),
        };
        self.readings = 0;
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta};
    use zw_model::reading::batch::Builder;
    use zw_model::{Id, Quantity};

    use super::*;

    fn reading(i: i64, values: usize) -> Reading {
        let ts = DateTime::from_timestamp(1_800_000_000, 0).expect("ts") + TimeDelta::seconds(i);
        let map: std::collections::BTreeMap<Quantity, f64> = Quantity::ALL
            .iter()
            .take(values)
            .enumerate()
            .map(|(k, q)| (*q, 1000.5 + k as f64))
            .collect();
        Reading::new(
            Id::new("site".to_owned()).expect("id"),
            Id::new(format!("dev-{}", i % 10)).expect("id"),
            ts,
            map,
        )
    }

    #[test]
    fn batches_are_the_models_layout_and_close_by_count() {
        let mut b = Batches::new("zw/v1/batches/gw1".into(), 3, usize::MAX);
        let mut model = Builder::default();
        for i in 0..3 {
            assert!(
                b.push(&reading(i, 5), if i == 0 { "modbus" } else { "ttn" })
                    .expect("fits")
                    .is_none()
            );
            model.push(&reading(i, 5));
        }
        assert!(b.is_full());
        let m = b.take().expect("a batch");
        assert_eq!(m.payload, model.finish());
        assert_eq!(m.readings, 3);
        assert_eq!(m.sources.iter().collect::<Vec<_>>(), [("modbus", 1), ("ttn", 2)]);
        assert!(b.is_empty() && b.take().is_none());
    }

    /// Issue 16: a batch never exceeds the byte limit, however many readings `batch_max` allows; every
    /// reading lands in exactly one batch, in order.
    #[test]
    fn batches_close_before_their_json_would_exceed_the_limit() {
        let limit = 4096;
        let mut b = Batches::new("t".into(), 1000, limit);
        let mut sent = Vec::new();
        for i in 0..500 {
            if let Some(m) = b
                .push(&reading(i, 1 + (i as usize % 20)), "modbus")
                .expect("fits")
            {
                sent.push(m);
            }
        }
        sent.extend(b.take());
        assert!(sent.len() > 10, "{} batches", sent.len());
        let mut ts = Vec::new();
        for m in &sent {
            assert!(m.payload.len() <= limit, "{} bytes", m.payload.len());
            let readings = zw_model::reading::batch::elements(&m.payload).expect("a batch");
            assert_eq!(readings.len() as u32, m.readings);
            for r in readings {
                let r: Reading = serde_json::from_slice(r).expect("a reading");
                ts.push(r.ts.timestamp());
            }
        }
        let want: Vec<i64> = (0..500).map(|i| 1_800_000_000 + i).collect();
        assert_eq!(ts, want);
        // Each closed batch was full: the next reading would not have fitted.
        for w in sent.windows(2) {
            let next = zw_model::reading::batch::elements(&w[1].payload).expect("batch")[0].len();
            assert!(w[0].payload.len() + 1 + next > limit);
        }
    }

    /// A reading that alone is over the limit is refused, never sent, and leaves the open batch alone. With
    /// validated readings and a limit `check-config` accepts this cannot happen (see
    /// `largest_valid_reading_fits_the_shipped_limit`); here the limit is set below one reading on purpose.
    #[test]
    fn a_reading_over_the_limit_alone_is_refused() {
        let small = reading(0, 1);
        let mut b = Batches::new("t".into(), 10, 400);
        assert!(b.push(&small, "json").expect("fits").is_none());
        let size = b.push(&reading(1, 30), "json").expect_err("too large");
        assert!(size > 400);
        let m = b.take().expect("the small one");
        assert_eq!(m.readings, 1);
        assert!(m.payload.len() <= 400);
    }

    #[test]
    fn largest_valid_reading_fits_the_shipped_limit() {
        let largest = super::super::largest_reading_bytes();
        assert!(largest > 1000, "{largest}");
        assert!(
            largest < zw_bus::Config::default().max_message_bytes / 16,
            "{largest}"
        );
    }
}
