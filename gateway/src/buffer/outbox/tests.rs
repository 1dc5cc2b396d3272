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
    let crate::test_support::Brokerless {
        metrics,
        bus_cfg: _,
        bus,
        stop,
        driver,
    } = crate::test_support::brokerless_bus();
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

/// A TCP proxy in front of the broker that the test can cut: every connection through it is closed at once.
struct Proxy {
    port: u16,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(broker: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (cut, rx) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut rx = rx.clone();
                rx.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut broker) = tokio::net::TcpStream::connect(("127.0.0.1", broker)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut broker) => {}
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

/// Issue 16: connections cut while thousands of publishes are in flight or queued lose none of them. The bus
/// client hands back what the broker had not acknowledged (rumqttc alone would clear it at the next
/// clean-session connect), the outbox buffers it again, and a subscriber on the broker itself, whose own
/// connection is never cut, receives every one of 20,000 readings (duplicates allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_stream_lose_no_reading() -> anyhow::Result<()> {
    let stack = zw_tests::Stack::builder().mosquitto().start().await?;
    let proxy = Proxy::start(stack.mqtt_port()).await;
    let mut sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "check",
        &["zw/v1/readings/#"],
        rumqttc::QoS::AtLeastOnce,
    )
    .await?;
    let registry = prometheus::Registry::new();
    let metrics = Metrics::register(&registry)?;
    let bus_metrics = zw_bus::Metrics::register(&registry)?;
    let login = stack.mqtt_credentials(zw_tests::Role::Gateway);
    let bus_cfg = zw_bus::Config {
        port: proxy.port,
        username: Some(login.username),
        password: Some(login.password.into()),
        reconnect_max: Duration::from_millis(200),
        ..zw_bus::Config::default()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let (bus, _inbound, driver) = zw_bus::connect(
        &bus_cfg,
        zw_bus::ConnectOptions::publisher("gateway-test", "cut"),
        &bus_metrics,
        stop.clone(),
    );
    bus.wait_connected().await;
    let (outbox, task) = crate::buffer::start(Store::memory(64 << 20), bus, metrics.clone());
    let task = tokio::spawn(task.run(Duration::from_secs(1)));

    const N: u32 = 20_000;
    let connects = bus_metrics.connects.with_label_values(&["gateway-test"]);
    let mut cuts = 0;
    for i in 0..N {
        outbox.send(message(i)).await;
        if i % 4000 == 2000 {
            // Each cut hits a live connection: the client has reconnected after the previous one (on a
            // loaded machine a cut could otherwise land while it is still away, and cut nothing).
            tokio::time::timeout(Duration::from_secs(30), async {
                while connects.get() <= cuts {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await?;
            proxy.cut();
            cuts += 1;
        }
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let mut seen = std::collections::HashSet::new();
    let received = tokio::time::timeout(Duration::from_secs(60), async {
        while seen.len() < N as usize {
            let Some((_, payload)) = sub.messages.recv().await else {
                break;
            };
            let v: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
            if let Some(n) = v["n"].as_u64() {
                seen.insert(n);
            }
        }
    })
    .await;
    let returned = metrics.buffer.returned.get();
    let connects = connects.get();
    assert!(
        received.is_ok(),
        "{} of {N} readings received; {returned} handed back, {connects} connects",
        seen.len()
    );
    println!(
        "{N} readings through 5 cut connections: {returned} handed back and buffered again, all received"
    );
    assert!(connects >= 5, "the proxy cut the connection: {connects} connects");
    drop(outbox);
    let _ = task.await;
    stop.cancel();
    let _ = driver.await;
    Ok(())
}
