//! Issue 5 regression: a consumer slower than the broker must not cost the bus connection its keep-alive.
//!
//! Before the fix the driver stopped polling rumqttc's event loop while the consumer's queue was full, so
//! PINGRESPs sat unread behind the backlog and the connection died with "Last pingreq isn't acked" every
//! two keep-alive intervals, each reconnect re-delivering the whole in-flight window. Here a manually
//! acknowledging consumer with a tiny inbound queue takes one message every few milliseconds for several
//! keep-alive intervals while thousands wait in flight: the connection must stay up (one connect, no
//! errors) and every message must arrive exactly once, in order.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio_util::sync::CancellationToken;
use zw_bus::{Bus, ConnectOptions, FullPolicy};
use zw_tests::Stack;

const N: u16 = 2000;
const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// Consumer pace: N messages take 8 s, eight keep-alive intervals.
const PER_MESSAGE: Duration = Duration::from_millis(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_does_not_break_the_keep_alive() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().start().await?;
    let bus = Bus {
        config: zw_bus::Config {
            port: stack.mqtt_port(),
            // Topics outside the internal bus: the test-only superuser.
            username: Some(stack.mqtt_credentials(zw_tests::Role::Harness).username),
            password: Some(stack.mqtt_credentials(zw_tests::Role::Harness).password.into()),
            keep_alive: KEEP_ALIVE,
            inbound_capacity: 16,
            ..zw_bus::Config::default()
        },
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let opts = ConnectOptions {
        client: "slow".into(),
        instance: "t".into(),
        clean_session: false,
        subscriptions: vec![("slow/+".into(), QoS::AtLeastOnce)],
        manual_acks: true,
        full_policy: FullPolicy::Block,
        last_will: None,
    };
    let stop = CancellationToken::new();
    let (client, mut inbound, driver) = bus.connect(opts, stop.clone());
    client.wait_connected().await;

    // Probe until the subscription is in place, then publish everything at once.
    let (publisher, mut events) = AsyncClient::new(
        zw_tests::mqtt::options("slow-pub", stack.mqtt_host(), stack.mqtt_port()),
        4096,
    );
    let pump = tokio::spawn(async move {
        let mut acked = 0u32;
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::PubAck(_)) = ev {
                acked += 1;
            }
        }
        acked
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "subscription never became active"
        );
        publisher
            .publish("slow/probe", QoS::AtLeastOnce, false, vec![0])
            .await?;
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(200), inbound.recv_delivery()).await {
            client.ack_all(vec![d.ack_token()])?;
            break;
        }
    }
    while let Ok(d) = inbound.try_recv_delivery() {
        client.ack_all(vec![d.ack_token()])?;
    }
    for i in 0..N {
        publisher
            .publish("slow/data", QoS::AtLeastOnce, false, i.to_be_bytes().to_vec())
            .await?;
    }

    let mut got = Vec::with_capacity(usize::from(N));
    let mut acks = Vec::new();
    while got.len() < usize::from(N) {
        let d = tokio::time::timeout(Duration::from_secs(20), inbound.recv_delivery())
            .await?
            .ok_or_else(|| anyhow::anyhow!("bus driver stopped"))?;
        if d.publish.topic == "slow/data" {
            got.push(u16::from_be_bytes([d.publish.payload[0], d.publish.payload[1]]));
        }
        acks.push(d.ack_token());
        if acks.len() == 100 {
            client.ack_all(std::mem::take(&mut acks))?;
        }
        tokio::time::sleep(PER_MESSAGE).await;
    }
    client.ack_all(acks)?;

    let label = ["slow"];
    let connects = bus.metrics.connects.with_label_values(&label).get();
    let errors = bus.metrics.connection_errors.with_label_values(&label).get();
    assert_eq!(
        (connects, errors),
        (1, 0),
        "the connection must survive a slow consumer"
    );
    let expected: Vec<u16> = (0..N).collect();
    assert!(got == expected, "every message exactly once and in order");
    assert_eq!(bus.metrics.inbound_stalls.with_label_values(&label).get(), 0);

    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    stop.cancel();
    publisher.disconnect().await?;
    let _ = pump.await;
    Ok(())
}
