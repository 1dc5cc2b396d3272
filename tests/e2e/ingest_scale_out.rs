//! Two ingest instances split the stream. On one shared subscription (issue 5): the union in InfluxDB is
//! complete, both did part of the work, and no reading was handled twice. On static partitions over plain
//! subscriptions (issue 16): the same, and nothing is lost through a broker restart mid-stream, which a
//! shared subscription does not survive on mosquitto 2.0.11.

use zw_config::Config;
use zw_tests::Stack;

use crate::ingest_support::{Ingest, Publisher, WAIT, await_count, await_subscribed, count, reading};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_shared_subscription_store_the_complete_union() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let a = Ingest::start(&stack, "ingest-a", |c| c.ingest.shared = true)?;
    let b = Ingest::start(&stack, "ingest-b", |c| c.ingest.shared = true)?;
    let publisher = Publisher::new(&stack, "pub-scale");
    // Both are subscribed once each has received a probe (the broker deals the group round-robin).
    let received = "zw_ingest_readings_received_total";
    await_subscribed(&publisher, || async {
        a.metric(received).await > 0.0 && b.metric(received).await > 0.0
    })
    .await?;
    let (a0, b0) = (a.metric(received).await, b.metric(received).await);

    const N: u64 = 2000;
    publisher.stream("scale", N, 200, |_| async { Ok(()) }).await?;
    let logs = format!("{}\n{}", a.log_tail(), b.log_tail());
    await_count(&stack, "scale", N, &logs).await?;

    let (da, db) = (a.metric(received).await - a0, b.metric(received).await - b0);
    assert!(da > 0.0 && db > 0.0, "both instances work: {da} + {db}");
    assert_eq!(
        da + db,
        N as f64,
        "each reading went to exactly one instance: {da} + {db}"
    );
    Ok(())
}

/// Two instances split the stream; the broker restarts while both are down, and readings are published
/// before they return. A plain subscription is restored from the broker's persistence file and queues them;
/// a shared one is not (mosquitto 2.0.11): run with `shared = true` for both this returns 1000 of 2000.
async fn broker_restart_with_instances_away(scheme: [fn(&mut Config); 2]) -> anyhow::Result<u64> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let mut a = Ingest::start(&stack, "part-a", scheme[0])?;
    let mut b = Ingest::start(&stack, "part-b", scheme[1])?;
    let publisher = Publisher::new(&stack, "pub-part");
    let messages = "zw_ingest_messages_received_total";
    await_subscribed(&publisher, || async {
        a.metric(messages).await > 0.0 && b.metric(messages).await > 0.0
    })
    .await?;

    // Ten devices (reading() cycles dev-0..dev-9), so both partitions get readings. The first half is
    // stored while everything runs.
    const N: u64 = 2000;
    publisher.stream("part", N / 2, 100, |_| async { Ok(()) }).await?;
    await_count(&stack, "part", N / 2, &a.log_tail()).await?;
    a.kill9().await?;
    b.kill9().await?;
    stack.stop_mosquitto().await;
    stack.start_mosquitto().await?;
    // Every message of the second half is acknowledged by the broker while no instance is connected.
    for start in (N / 2..N).step_by(100) {
        let chunk: Vec<_> = (start..start + 100).map(|i| reading("part", i)).collect();
        publisher.publish_chunk(&chunk).await?;
    }
    a.restart()?;
    b.restart()?;
    let stored = eventually(WAIT, "the second half stored", || async {
        let n = count(&stack, "part").await.ok()?;
        (n == N).then_some(n)
    })
    .await;
    let n = match stored {
        Ok(n) => n,
        Err(_) => count(&stack, "part").await?,
    };
    if n == N {
        let received = "zw_ingest_readings_received_total";
        let (ra, rb) = (a.metric(received).await, b.metric(received).await);
        assert!(
            ra > 0.0 && rb > 0.0,
            "both partitions work after the restart: {ra} + {rb}"
        );
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partitioned_instances_lose_nothing_through_a_broker_restart() -> anyhow::Result<()> {
    let n = broker_restart_with_instances_away([
        |c| {
            c.ingest.partitions = 2;
            c.ingest.partition = 0;
        },
        |c| {
            c.ingest.partitions = 2;
            c.ingest.partition = 1;
        },
    ])
    .await?;
    assert_eq!(n, 2000, "readings lost through the broker restart");
    Ok(())
}
