//! Issue 5: the InfluxDB v2 write API (`/api/v2/write` with org, bucket and token, gzip-compressed),
//! against VictoriaMetrics, which serves that endpoint.

use zw_tests::{Stack, victoria_count};

use crate::ingest_support::{Ingest, Publisher, WAIT, await_subscribed};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_write_api_with_gzip_reaches_victoria_metrics() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().victoria_metrics().start().await?;
    let url = stack.victoria_url();
    let ingest = Ingest::start(&stack, "ingest1", |c| {
        c.influx.url = url.clone();
        c.influx.database = "zaehlwerk".into();
        c.influx.api = zw_influx::Api::V2;
        c.influx.org = "stadtwerke".into();
        c.influx.bucket = "zaehlwerk".into();
        c.influx.token = Some("t0ken".into());
        c.influx.gzip = true;
    })?;
    let publisher = Publisher::new(&stack, "pub-v2");
    await_subscribed(&publisher, || async {
        victoria_count(&url, "readings_active_power").await.unwrap_or(0) > 0
    })
    .await?;
    let before = victoria_count(&url, "readings_active_power").await?;

    const N: u64 = 500;
    publisher.stream("vm", N, 100, |_| async { Ok(()) }).await?;
    eventually(WAIT, "points in VictoriaMetrics", || async {
        (victoria_count(&url, "readings_active_power").await.ok()? >= before + N as usize).then_some(())
    })
    .await
    .map_err(|e| e.context(ingest.log_tail()))?;
    assert_eq!(
        ingest.metric("zw_ingest_write_errors_total").await,
        0.0,
        "{}",
        ingest.log_tail()
    );
    Ok(())
}
