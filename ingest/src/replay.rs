//! The replayer: writes spooled batches back to InfluxDB, oldest first, `replay_concurrency` at a time, and
//! removes each from the spool once InfluxDB accepted it (or its refused lines are dead-lettered).
//!
//! With a concurrency of 1 batches are written strictly in order; with more, adjacent batches overlap,
//! which only matters for two different values of the same series and timestamp. While InfluxDB is down
//! every replay task backs off on its own (honouring `Retry-After`), so the database is probed at most
//! `replay_concurrency` times per back-off period.

use std::collections::HashSet;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::spool::Spool;
use crate::writer::Writer;

/// Replays until `stop`; in-flight writes are abandoned then (their batches stay spooled).
pub(crate) async fn run(spool: Spool, writer: Writer, concurrency: usize, stop: CancellationToken) {
    let mut inflight: HashSet<u64> = HashSet::new();
    let mut tasks: JoinSet<u64> = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut read_failures: u32 = 0;
    let (points, bytes, batches) = spool.depth();
    if batches > 0 {
        info!(points, bytes, batches, "Spool holds data from before; replaying.");
    }
    loop {
        if tasks.len() < concurrency {
            match spool.oldest(&inflight, concurrency - tasks.len()).await {
                Ok(batch) => {
                    read_failures = 0;
                    for (key, body, lines) in batch {
                        inflight.insert(key);
                        let (spool, writer, stop) = (spool.clone(), writer.clone(), stop.clone());
                        tasks.spawn(async move {
                            if writer.write_retrying(body, lines, &stop).await {
                                writer_replayed(&writer, lines);
                                if let Err(e) = spool.remove(key).await {
                                    error!(error = %e, key, "Cannot remove a replayed batch; it will be written again.");
                                }
                            }
                            key
                        });
                    }
                }
                Err(e) => {
                    error!(error = %e, "Cannot read the spool; retrying.");
                    read_failures = read_failures.saturating_add(1);
                    let delay = Duration::from_millis(100).saturating_mul(1 << read_failures.min(8));
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(delay) => continue,
                    }
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(key) = done {
                    inflight.remove(&key);
                }
                // A panicked task leaves its key in `inflight`; the batch is replayed after a restart.
            }
            () = spool.added(), if tasks.len() < concurrency => {}
            _ = tick.tick() => spool.publish_depth(),
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

fn writer_replayed(writer: &Writer, lines: usize) {
    writer.metrics().replayed.inc_by(lines as u64);
}
