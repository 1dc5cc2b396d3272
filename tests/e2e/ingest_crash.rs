//! Issue 5: ingest killed with SIGKILL mid-stream, while InfluxDB is down and the spool holds acknowledged
//! batches, then restarted: every reading arrives (spooled batches survive in redb; unacknowledged messages
//! come back from the broker's persistent session).

use std::time::Duration;

use zw_tests::Stack;

use crate::ingest_support::{Ingest, Publisher, WAIT, await_count, await_subscribed, count};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_every_reading_arrives() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    // gzip here, so the compressed write path is covered against the real server too.
    let mut ingest = Ingest::start(&stack, "ingest1", |c| c.influx.gzip = true)?;
    let publisher = Publisher::new(&stack, "pub-crash");
    await_subscribed(&publisher, || async {
        count(&stack, "probe").await.unwrap_or(0) > 0
    })
    .await?;

    const N: u64 = 3000;
    let streaming = tokio::spawn(async move {
        publisher
            .stream("crash", N, 100, |_| async {
                // Pacing, not a readiness wait.
                tokio::time::sleep(Duration::from_millis(80)).await;
                Ok(())
            })
            .await
    });
    eventually(WAIT, "first points written", || async {
        (count(&stack, "crash").await.ok()? >= 300).then_some(())
    })
    .await?;
    stack.stop_influxd().await;
    eventually(WAIT, "batches spooled", || async {
        (ingest.metric("zw_ingest_spool_points").await > 0.0).then_some(())
    })
    .await
    .map_err(|e| e.context(ingest.log_tail()))?;
    ingest.kill9_and_restart().await?;
    stack.start_influxd().await?;
    streaming.await??;

    await_count(&stack, "crash", N, &ingest.log_tail()).await?;
    assert!(
        ingest.metric("zw_ingest_spool_points_replayed_total").await > 0.0,
        "the restarted process replayed the spool it found:\n{}",
        ingest.log_tail()
    );
    Ok(())
}

/// The scale-out setup (two instances on static partitions): each is killed with SIGKILL twice mid-stream
/// and restarted; every reading arrives, each partition from its own instance's persistent session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partitioned_instances_killed_twice_each_lose_nothing() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let mut a = Ingest::start(&stack, "crash-a", |c| {
        c.ingest.partitions = 2;
        c.ingest.partition = 0;
    })?;
    let mut b = Ingest::start(&stack, "crash-b", |c| {
        c.ingest.partitions = 2;
        c.ingest.partition = 1;
    })?;
    let publisher = Publisher::new(&stack, "pub-crash2");
    let messages = "zw_ingest_messages_received_total";
    await_subscribed(&publisher, || async {
        a.metric(messages).await > 0.0 && b.metric(messages).await > 0.0
    })
    .await?;

    const N: u64 = 4000;
    let streaming = tokio::spawn(async move {
        publisher
            .stream("crash2", N, 100, |_| async {
                // Pacing, not a readiness wait.
                tokio::time::sleep(Duration::from_millis(60)).await;
                Ok(())
            })
            .await
    });
    for (k, at) in [400u64, 1200, 2000, 2800].into_iter().enumerate() {
        eventually(WAIT, &format!("{at} points written"), || async {
            (count(&stack, "crash2").await.ok()? >= at).then_some(())
        })
        .await?;
        if k % 2 == 0 {
            a.kill9_and_restart().await?;
        } else {
            b.kill9_and_restart().await?;
        }
    }
    streaming.await??;
    let logs = format!("{}\n{}", a.log_tail(), b.log_tail());
    await_count(&stack, "crash2", N, &logs).await?;
    Ok(())
}
