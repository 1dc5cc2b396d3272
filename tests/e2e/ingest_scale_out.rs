//! Issue 5: two ingest instances on one shared subscription split the stream: the union in InfluxDB is
//! complete, both did part of the work, and no reading was handled twice.

use zw_tests::Stack;

use crate::ingest_support::{Ingest, Publisher, await_count, await_subscribed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_shared_subscription_store_the_complete_union() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let a = Ingest::start(&stack, "ingest-a", "", "")?;
    let b = Ingest::start(&stack, "ingest-b", "", "")?;
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
