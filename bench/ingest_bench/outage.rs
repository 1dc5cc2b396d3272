//! The outage phase of the ingest benchmark (`bench/ingest.sh --outage SECONDS`): InfluxDB is stopped,
//! readings are published at full rate (or `--outage-rate` readings/s) for SECONDS (generated on the fly, so the publisher's memory stays
//! flat), ingest spools them to disk; its RSS is sampled every 2 s. Then influxd is restarted and the drain
//! of the spool is timed, from the restart and from the first replayed batch, and compared with the ceiling
//! measured before the outage and again right after the drain (the machine's state moves in 20 minutes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::{PUBLISHERS, await_metric, ceiling, metric, reading, rss_kib, settle, stored};

/// Runs the outage phase against a running `ingest` (metrics on `metrics_port`); `raw_rate` is the ceiling
/// measured before it, and a ceiling of `raw_points` points is measured again after the drain.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    stack: &mut zw_tests::Stack,
    influx: &zw_influx::Client,
    raw_points: usize,
    ingest: &std::process::Child,
    metrics_port: u16,
    secs: u64,
    raw_rate: f64,
    rate: Option<f64>,
    batch: u64,
) -> anyhow::Result<()> {
    let pid = ingest.id();
    let spooled0 = metric(metrics_port, "zw_ingest_spool_points_spooled_total").await;
    stack.stop_influxd().await;
    match rate {
        Some(r) => println!("outage    influxd stopped; publishing {r:.0} readings/s for {secs} s"),
        None => println!("outage    influxd stopped; publishing at full rate for {secs} s"),
    }

    // RSS sampler, for the whole outage and drain.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let (peak, stop) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            let mut last_print = 0;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let rss = rss_kib(pid).unwrap_or(0);
                peak.fetch_max(rss, Ordering::Relaxed);
                let t = started.elapsed().as_secs();
                if t >= last_print + 30 {
                    last_print = t;
                    let spool = metric(metrics_port, "zw_ingest_spool_bytes").await;
                    println!(
                        "          t={t:>4} s  ingest RSS {:>4} MiB  spool {:>6.0} MiB",
                        rss / 1024,
                        spool / 1048576.0
                    );
                }
            }
        })
    };

    let published = publish_for(stack, Duration::from_secs(secs), rate, batch).await?;
    let rate = published as f64 / secs as f64;
    println!(
        "outage    published {published} readings in {secs} s ({rate:.0}/s), all QoS 1 acknowledged by the broker"
    );
    let want = spooled0 + published as f64;
    await_metric(
        || metric(metrics_port, "zw_ingest_spool_points_spooled_total"),
        want,
    )
    .await?;
    let bytes = metric(metrics_port, "zw_ingest_spool_bytes").await;
    println!(
        "outage    all spooled: {:.0} MiB on disk; peak RSS during the outage {} MiB",
        bytes / 1048576.0,
        peak.load(Ordering::Relaxed) / 1024
    );

    let replayed0 = metric(metrics_port, "zw_ingest_spool_points_replayed_total").await;
    stack.start_influxd().await?;
    let restarted = Instant::now();
    let mut first: Option<Instant> = None;
    let deadline = restarted + Duration::from_secs(3600);
    loop {
        anyhow::ensure!(Instant::now() < deadline, "spool not drained within an hour");
        let replayed = metric(metrics_port, "zw_ingest_spool_points_replayed_total").await;
        if first.is_none() && replayed > replayed0 {
            first = Some(Instant::now());
        }
        if metric(metrics_port, "zw_ingest_spool_points").await == 0.0
            && replayed >= replayed0 + published as f64
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = restarted.elapsed();
    sampling.cancel();
    let _ = sampler.await;
    let from_first = first.map_or(drained, |f| f.elapsed().max(Duration::from_millis(1)));
    let r_all = published as f64 / drained.as_secs_f64();
    let r_first = published as f64 / from_first.as_secs_f64();
    println!(
        "drain     {published} spooled points after restart: {:.1} s = {r_all:.0} points/s = {:.1} % of ceiling",
        drained.as_secs_f64(),
        100.0 * r_all / raw_rate
    );
    println!(
        "          from the first replayed batch (after the replayer's back-off): {:.1} s = {r_first:.0} points/s = {:.1} % of ceiling",
        from_first.as_secs_f64(),
        100.0 * r_first / raw_rate
    );
    println!(
        "          ingest peak RSS over outage + drain (sampled every 2 s): {} MiB",
        peak.load(Ordering::Relaxed) / 1024
    );
    // The points may take a moment to become visible to queries after the last write was acknowledged.
    await_metric(|| stored(stack, "outage"), published as f64).await?;
    println!("check     points stored for outage: {published} (expected {published})");
    settle(stack).await;
    let after = ceiling(stack, influx, "raw-after-drain", raw_points).await?.rate;
    println!(
        "drain     {:.1} % of the ceiling measured right after it ({after:.0} points/s); {:.1} % of the mean of the ceilings before and after ({:.0})",
        100.0 * r_all / after,
        200.0 * r_all / (raw_rate + after),
        (raw_rate + after) / 2.0
    );
    Ok(())
}

/// Publishes readings of site `outage` with QoS 1 over PUBLISHERS connections for `span`, `batch` per
/// message (more than 1: batch messages); returns how many readings the broker acknowledged (all sent).
async fn publish_for(
    stack: &zw_tests::Stack,
    span: Duration,
    rate: Option<f64>,
    batch: u64,
) -> anyhow::Result<u64> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + span;
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..PUBLISHERS {
        let next = next.clone();
        let mut opts =
            zw_tests::mqtt::options(&format!("bench-outage-{k}"), stack.mqtt_host(), stack.mqtt_port());
        opts.set_inflight(1000).set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
        tasks.spawn(async move {
            let sent = Arc::new(AtomicU64::new(0));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sender = {
                let (sent, done) = (sent.clone(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < end {
                        if let Some(r) = rate {
                            // Readings due by now at the capped rate (shared by all publishers).
                            let due = (start.elapsed().as_secs_f64() * r) as u64;
                            if next.load(Ordering::Relaxed) >= due {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                                continue;
                            }
                        }
                        let i = next.fetch_add(batch, Ordering::Relaxed);
                        let (topic, payload) = if batch == 1 {
                            let r = reading("outage", i);
                            (format!("zw/v1/readings/outage/{}", r.device), r.to_json())
                        } else {
                            let mut b = zw_model::reading::batch::Builder::default();
                            (i..i + batch).for_each(|j| b.push(&reading("outage", j)));
                            (format!("zw/v1/batches/bench-outage-{k}"), b.finish())
                        };
                        client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    done.store(true, Ordering::SeqCst);
                    anyhow::Ok(client)
                })
            };
            let mut acks = 0u64;
            while !(done.load(Ordering::SeqCst) && acks >= sent.load(Ordering::SeqCst)) {
                match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                    Ok(ev) => {
                        if let Event::Incoming(Packet::PubAck(_)) = ev? {
                            acks += 1;
                        }
                    }
                    Err(_) => continue,
                }
            }
            let client = sender.await??;
            client.disconnect().await?;
            let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
            anyhow::Ok(acks * batch)
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    Ok(total)
}
