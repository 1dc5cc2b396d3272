//! The outbox without a broker: sending never waits on the bus, everything goes to the store, a full store
//! drops the oldest with the alarm raised, and the task stops once every handle is gone.

use std::time::Duration;

use super::*;
use crate::buffer::SourceCounts;

fn message(i: u32) -> Message {
    // Letters that do not repeat (xorshift), so the chunks do not deflate to nothing.
    let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let noise: String = (0..40)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    Message {
        topic: format!("zw/v1/readings/site/dev-{}", i % 50),
        payload: format!(r#"{{"v":1,"n":{i},"x":"{noise}"}}"#).into_bytes(),
        readings: 1,
        sources: SourceCounts::one("modbus"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_sending_never_waits_and_a_full_buffer_drops_the_oldest() {
    let registry = prometheus::Registry::new();
    let metrics = Metrics::register(&registry).expect("metrics");
    let bus_cfg = zw_bus::Config {
        port: zw_tests::free_port(),
        ..zw_bus::Config::default()
    };
    let bus_metrics = zw_bus::Metrics::register(&registry).expect("bus metrics");
    let stop = tokio_util::sync::CancellationToken::new();
    let (bus, _inbound, driver) = zw_bus::connect(
        &bus_cfg,
        zw_bus::ConnectOptions::publisher("gateway-test", "t"),
        &bus_metrics,
        stop.clone(),
    );
    let (outbox, task) = crate::buffer::start(Store::memory(256 * 1024), bus, metrics.clone());
    let task = tokio::spawn(task.run(Duration::from_millis(10)));

    // 20,000 readings with the broker away: far more than the bus client's queue (1,024) and the outbox's
    // (4,096) hold, and more than the store (256 KiB) does.
    let sending = tokio::time::timeout(Duration::from_secs(20), async {
        for i in 0..20_000 {
            outbox.send(message(i)).await;
        }
    });
    sending.await.expect("sending never waits on the broker");
    drop(outbox);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the task stops once every handle is gone")
        .expect("no panic");

    let b = &metrics.buffer;
    let (buffered, dropped, waiting) = (b.buffered.get(), b.dropped.get(), b.readings.get());
    assert_eq!(buffered, 20_000, "every reading went to the buffer");
    assert!(dropped > 0, "the store is smaller than 20,000 readings");
    assert_eq!(dropped + u64::try_from(waiting).expect("positive"), 20_000);
    assert!(b.bytes.get() <= 256 * 1024, "{}", b.bytes.get());
    assert_eq!(b.full.get(), 1, "the alarm stays up until the buffer has drained");
    assert_eq!(metrics.readings_published.with_label_values(&["modbus"]).get(), 0);
    stop.cancel();
    let _ = driver.await;
}
