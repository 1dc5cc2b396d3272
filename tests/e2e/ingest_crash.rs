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
