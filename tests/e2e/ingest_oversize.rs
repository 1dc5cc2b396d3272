//! Issue 16: no message can stop the town's data. A 10 MB message is refused by the broker at the door (its
//! shipped `max_packet_size`); a retained 512 KiB message, which the broker passes but which is over
//! `bus.max_message_bytes`, is counted, dead-lettered (truncated, with the reason) and acknowledged by ingest,
//! and a restart afterwards connects once. After each, a normal reading is stored within 5 s.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::time::Instant;
use zw_tests::Stack;

use crate::ingest_support::{Ingest, Publisher, WAIT, await_subscribed, count, reading};
use crate::support::eventually;

/// How soon a normal reading must be stored after an oversized message.
const FIVE_SECONDS: Duration = Duration::from_secs(5);

/// Publishes one QoS 1 message from a fresh client whose own framing allows 16 MiB, and says whether the
/// broker acknowledged it (`false`: it closed the connection instead).
pub(crate) async fn publish_raw(
    stack: &Stack,
    id: &str,
    topic: &str,
    payload: Vec<u8>,
    retain: bool,
) -> bool {
    let mut opts = zw_tests::mqtt::options(id, stack.mqtt_host(), stack.mqtt_port());
    opts.set_max_packet_size(16 << 20, 16 << 20);
    let (client, mut events) = AsyncClient::new(opts, 10);
    if client
        .publish(topic, QoS::AtLeastOnce, retain, payload)
        .await
        .is_err()
    {
        return false;
    }
    let acked = tokio::time::timeout(WAIT, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    let _ = client.disconnect().await;
    acked
}

/// Publishes reading `i` of site `ovs` and waits until InfluxDB holds `n` points of the site, at most 5 s.
async fn stored_within_5s(stack: &Stack, publisher: &Publisher, i: u64, n: u64) -> anyhow::Result<Duration> {
    let start = Instant::now();
    publisher.publish_chunk(&[reading("ovs", i)]).await?;
    eventually(FIVE_SECONDS, "the normal reading stored", || async {
        (count(stack, "ovs").await.unwrap_or(0) == n).then_some(())
    })
    .await?;
    Ok(start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused_counted_and_never_stop_ingest() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let mut ingest = Ingest::start(&stack, "ovs", |_| {})?;
    let publisher = Publisher::new(&stack, "pub-ovs");
    await_subscribed(&publisher, || async {
        count(&stack, "probe").await.unwrap_or(0) > 0
    })
    .await?;

    // 10 MB: over the broker's max_packet_size (1 MiB). The broker disconnects the sender; nothing is
    // delivered, so ingest never sees it.
    let topic = "zw/v1/readings/ovs/dev-1";
    let big = vec![b'x'; 10_000_000];
    assert!(
        !publish_raw(&stack, "big-10mb", topic, big, false).await,
        "the broker took a 10 MB message"
    );
    stored_within_5s(&stack, &publisher, 1, 1).await?;

    // 512 KiB, retained: under the broker's limit, over ingest's bus.max_message_bytes (256 KiB).
    let mut payload = br#"{"v":1,"pad":""#.to_vec();
    payload.resize(512 * 1024, b'x');
    payload.extend_from_slice(br#""}"#);
    assert!(
        publish_raw(&stack, "big-512k", topic, payload.clone(), true).await,
        "the broker refused a 512 KiB message"
    );
    stored_within_5s(&stack, &publisher, 2, 2).await?;
    let dead = eventually(WAIT, "the oversized dead letter", || async {
        let d: Vec<_> = ingest
            .dead_letters()
            .into_iter()
            .filter(|r| r["reason"] == "oversized")
            .collect();
        (!d.is_empty()).then_some(d)
    })
    .await?;
    let r = &dead[0];
    assert_eq!(r["topic"], topic, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&payload.len().to_string()),
        "{r}"
    );
    assert_eq!(r["payload"].as_str().unwrap_or_default().len(), 1024, "{r}");
    assert!(ingest.metric("zw_ingest_readings_rejected_total").await >= 1.0);
    assert!(ingest.metric("zw_bus_messages_oversized_total").await >= 1.0);

    // A restart re-subscribes (a plain subscription would get the retained message again and reject it
    // again): never a reconnect loop.
    ingest.kill9_and_restart().await?;
    let probes = count(&stack, "probe").await?;
    await_subscribed(&publisher, || async {
        count(&stack, "probe").await.unwrap_or(0) > probes
    })
    .await?;
    stored_within_5s(&stack, &publisher, 3, 3).await?;
    let text = ingest.metrics_text().await;
    assert!(
        text.lines()
            .any(|l| l == r#"zw_bus_connects_total{client="ingest"} 1"#),
        "ingest reconnected after the restart:\n{text}\n{}",
        ingest.log_tail()
    );
    Ok(())
}
