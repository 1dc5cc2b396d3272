//! The per-reading CPU path of ingest: decode + validate a canonical reading from its MQTT payload and
//! append its line-protocol point (what `zaehlwerk ingest` does for every message before batching).
//!
//! `ingest/encode` is the live path (`zaehlwerk ingest`: borrowed decode straight into the batch buffer);
//! `ingest/decode_validate_line` is the general path through a `Reading` (import), kept for comparison.
//!
//! Run: `cargo bench -p zw-ingest --bench reading_path`. Target: ≤ 1 µs per reading.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zw_model::{Id, Quantity, Reading, reading::TimeWindow};

/// A typical three-phase meter reading (7 values), as the gateway publishes it.
fn sample() -> (String, Vec<u8>) {
    let values = BTreeMap::from([
        (Quantity::ActivePower, 1207.5),
        (Quantity::EnergyImport, 12_345_678.0),
        (Quantity::EnergyExport, 4_321.5),
        (Quantity::VoltageL1, 230.1),
        (Quantity::CurrentL1, 5.25),
        (Quantity::Frequency, 49.98),
        (Quantity::PowerFactor, 0.97),
    ]);
    let r = Reading::new(
        Id::new("rathaus").expect("id"),
        Id::new("rathaus-main").expect("id"),
        Utc::now() - TimeDelta::seconds(1),
        values,
    );
    ("zw/v1/readings/rathaus/rathaus-main".into(), r.to_json())
}

fn reading_path(c: &mut Criterion) {
    let (topic, payload) = sample();
    let now = Utc::now();
    let window = TimeWindow::default();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(1));
    let mut out = String::with_capacity(1 << 20);
    g.bench_function("decode_validate_line", |b| {
        b.iter(|| {
            if out.len() > (1 << 20) - 512 {
                out.clear();
            }
            let r = zw_ingest::decode(black_box(&topic), black_box(&payload), now, window).expect("valid");
            zw_ingest::to_line(&r, &mut out).expect("line");
        })
    });
    let bounds = zw_ingest::Bounds::new(now, window);
    g.bench_function("encode", |b| {
        b.iter(|| {
            if out.len() > (1 << 20) - 512 {
                out.clear();
            }
            zw_ingest::encode(black_box(&topic), black_box(&payload), bounds, &mut out).expect("valid");
        })
    });
    g.bench_function("decode_validate", |b| {
        b.iter(|| zw_ingest::decode(black_box(&topic), black_box(&payload), now, window).expect("valid"))
    });
    let r = zw_ingest::decode(&topic, &payload, now, window).expect("valid");
    g.bench_function("line_only", |b| {
        b.iter(|| {
            if out.len() > (1 << 20) - 512 {
                out.clear();
            }
            zw_ingest::to_line(black_box(&r), &mut out).expect("line");
        })
    });
    g.finish();
}

criterion_group!(benches, reading_path);
criterion_main!(benches);
