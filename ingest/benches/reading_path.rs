//! The per-reading CPU path of ingest: decode + validate a canonical reading from its MQTT payload and
//! append its line-protocol point (what `zaehlwerk ingest` does for every message before batching).
//!
//! `ingest/encode` is the live path (`zaehlwerk ingest`: borrowed decode straight into the batch buffer);
//! `ingest/decode_validate_line` is the general path through a `Reading` (import), kept for comparison.
//! `ingest_batch100/encode_batch` is one batch message of 100 readings (`ingest-bench --batch 100`).
//!
//! Run: `cargo bench -p zw-ingest --bench reading_path`. Target: ≤ 1 µs per reading.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a machine
//! shared with builds, waiting for a core is not the code's cost. (Cache and core sharing still are.) The
//! measurement is `bench/cpu_time.rs`, shared with the gateway's adapter bench.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../../bench/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpu;
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

fn reading_path(c: &mut Criterion<ThreadCpu>) {
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
    batch_path(c);
}

/// A batch message of 100 readings in the canonical layout, as `ingest-bench --batch 100` publishes them:
/// 3 values each, 100 meters of one site, timestamps 1 ms apart.
fn batch_sample() -> Vec<u8> {
    let base = Utc::now() - TimeDelta::seconds(10);
    let mut b = zw_model::reading::batch::Builder::default();
    for i in 0..100u32 {
        let values = BTreeMap::from([
            (Quantity::ActivePower, f64::from(i % 5000) + 0.5),
            (Quantity::EnergyImport, 1_000_000.0 + f64::from(i)),
            (Quantity::VoltageL1, 230.0 + f64::from(i % 10) / 10.0),
        ]);
        b.push(&Reading::new(
            Id::new("bench").expect("id"),
            Id::new(format!("meter-{i}")).expect("id"),
            base + TimeDelta::milliseconds(i.into()),
            values,
        ));
    }
    b.finish()
}

/// The batch path (`zw/v1/batches/{producer}`): one message of 100 readings; throughput per reading.
fn batch_path(c: &mut Criterion<ThreadCpu>) {
    let payload = batch_sample();
    let bounds = zw_ingest::Bounds::new(Utc::now(), TimeWindow::default());
    let mut g = c.benchmark_group("ingest_batch100");
    g.throughput(Throughput::Elements(100));
    let mut out = String::with_capacity(1 << 20);
    g.bench_function("encode_batch", |b| {
        b.iter(|| {
            out.clear();
            let n = zw_ingest::encode_batch(black_box(&payload), bounds, &mut out, |r, _| {
                panic!("rejected: {r:?}")
            })
            .expect("valid");
            assert_eq!(n, 100);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = reading_path
}
criterion_main!(benches);
