//! Issue 16, the ack race: an acknowledgement of a message received on an earlier connection is never
//! written on a later one (where the broker may have given its packet id to a newer message). It is dropped
//! and counted; the broker re-delivers the message on the new connection, and acknowledging that copy ends
//! the re-deliveries. And `wait_subscribed`: once it returns on a new session, the next message is delivered.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio_util::sync::CancellationToken;
use zw_bus::{Bus, ConnectOptions, Delivery, FullPolicy, Inbound};
use zw_tests::Stack;

const WAIT: Duration = Duration::from_secs(30);

/// Publishes one QoS 1 message from a fresh client and waits for the broker's PUBACK.
async fn publish(stack: &Stack, topic: &str, payload: &[u8]) -> anyhow::Result<()> {
    let (client, mut events) = AsyncClient::new(
        zw_tests::mqtt::options("acks-pub", stack.mqtt_host(), stack.mqtt_port()),
        10,
    );
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        .await?;
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = events.poll().await? {
                return anyhow::Ok(());
            }
        }
    })
    .await??;
    client.disconnect().await?;
    Ok(())
}

/// The manually acknowledging consumer on a persistent session, the same client id every time.
fn consumer() -> ConnectOptions {
    ConnectOptions {
        client: "acks".into(),
        instance: "t".into(),
        clean_session: false,
        subscriptions: vec![("acks/+".into(), QoS::AtLeastOnce)],
        manual_acks: true,
        full_policy: FullPolicy::Block,
        last_will: None,
    }
}

async fn next(inbound: &mut Inbound) -> anyhow::Result<Delivery> {
    tokio::time::timeout(WAIT, inbound.recv_delivery())
        .await?
        .ok_or_else(|| anyhow::anyhow!("bus driver stopped"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_from_an_earlier_connection_is_dropped_and_the_message_redelivered() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().start().await?;
    let metrics = zw_bus::Metrics::register(&prometheus::Registry::new())?;
    let bus = Bus {
        config: zw_bus::Config {
            port: stack.mqtt_port(),
            // Topics outside the internal bus: the test-only superuser.
            username: Some(stack.mqtt_credentials(zw_tests::Role::Harness).username),
            password: Some(stack.mqtt_credentials(zw_tests::Role::Harness).password.into()),
            reconnect_max: Duration::from_millis(300),
            ..zw_bus::Config::default()
        },
        metrics: metrics.clone(),
    };
    let stop = CancellationToken::new();
    let (client, mut inbound, driver) = bus.connect(consumer(), stop.clone());
    client.wait_connected().await;
    // Probe until the subscription is in place.
    let first = loop {
        publish(&stack, "acks/x", b"x").await?;
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), inbound.recv_delivery()).await {
            break d;
        }
    };
    while let Ok(d) = inbound.try_recv_delivery() {
        client.ack_all(vec![d.ack_token()])?;
    }

    // The broker restarts with `first` in flight; it is re-delivered on the next connection.
    stack.stop_mosquitto().await;
    stack.start_mosquitto().await?;
    let again = next(&mut inbound).await?;
    assert_eq!(again.publish.payload, first.publish.payload);
    assert!(again.publish.dup, "a re-delivery");
    assert!(again.connection > first.connection);

    // The old copy's ack is stale: dropped and counted, so the message stays in flight at the broker.
    client.ack_all(vec![first.ack_token()])?;
    let stale = metrics.acks_stale.with_label_values(&["acks"]);
    crate::support::eventually(WAIT, "the stale ack counted", || async {
        (stale.get() == 1).then_some(())
    })
    .await?;
    stack.stop_mosquitto().await;
    stack.start_mosquitto().await?;
    let third = next(&mut inbound).await?;
    assert_eq!(third.publish.payload, first.publish.payload, "still in flight");

    // Acknowledged on its own connection, it is gone. The driver writes queued acks before a DISCONNECT,
    // so after a clean disconnect the resumed session has nothing in flight: the next message is new.
    client.ack_all(vec![third.ack_token()])?;
    client.disconnect().await;
    let _ = driver.await;
    let (client, mut inbound, driver) = bus.connect(consumer(), stop.clone());
    client.wait_connected().await;
    publish(&stack, "acks/after", b"after").await?;
    let after = next(&mut inbound).await?;
    assert_eq!(
        after.publish.payload.as_ref(),
        b"after",
        "nothing acknowledged was re-delivered"
    );
    assert_eq!(stale.get(), 1);

    stop.cancel();
    let _ = driver.await;
    Ok(())
}

/// `wait_subscribed` on a broker that has never seen the client: once it returns, a message another client
/// publishes at once is delivered (`all` starts the gateway only then, so a first installation loses none
/// of its first readings). Twenty fresh sessions, each with a publisher connected and waiting beforehand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_subscribed_a_new_session_gets_what_is_published_next() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().start().await?;
    let bus = Bus {
        config: zw_bus::Config {
            port: stack.mqtt_port(),
            username: Some(stack.mqtt_credentials(zw_tests::Role::Harness).username),
            password: Some(stack.mqtt_credentials(zw_tests::Role::Harness).password.into()),
            ..zw_bus::Config::default()
        },
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let (publisher, mut events) = AsyncClient::new(
        zw_tests::mqtt::options("first-pub", stack.mqtt_host(), stack.mqtt_port()),
        10,
    );
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    for round in 0..20 {
        let opts = ConnectOptions {
            instance: format!("new-{round}"),
            subscriptions: vec![(format!("first/{round}"), QoS::AtLeastOnce)],
            ..consumer()
        };
        let stop = CancellationToken::new();
        let (client, mut inbound, driver) = bus.connect(opts, stop.clone());
        tokio::time::timeout(WAIT, client.wait_subscribed()).await?;
        publisher
            .publish(
                format!("first/{round}"),
                QoS::AtLeastOnce,
                false,
                b"first".to_vec(),
            )
            .await?;
        let got = next(&mut inbound).await?;
        assert_eq!(got.publish.payload.as_ref(), b"first", "round {round}");
        client.ack_all(vec![got.ack_token()])?;
        stop.cancel();
        let _ = driver.await;
    }
    Ok(())
}
