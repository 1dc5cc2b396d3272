//! Retention per data class ([`zw_config::RetentionConfig`]): deletes what InfluxDB holds beyond each class's
//! time, once at start and then every day, next to ingest. A class kept for ever is left alone; a failed
//! delete is logged and tried again the next day.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_config::RetentionConfig;

/// How often the deletes run.
const EVERY: Duration = Duration::from_secs(86_400);

/// Deletes old data per class until `stop`.
pub async fn run(cfg: RetentionConfig, influx: zw_influx::Client, stop: CancellationToken) {
    loop {
        once(&cfg, &influx).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// One round: `DELETE FROM <measurement> WHERE time < <now − keep>` for every class with a limit.
pub async fn once(cfg: &RetentionConfig, influx: &zw_influx::Client) {
    for (class, measurements, keep) in cfg.classes() {
        let Some(keep) = keep.and_then(|k| chrono::TimeDelta::from_std(k).ok()) else {
            continue;
        };
        let Some(cutoff) = Utc::now().checked_sub_signed(keep) else {
            continue;
        };
        let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
        for m in measurements {
            // Measurement names are constants; the cutoff is a formatted instant.
            match influx
                .execute(&format!("DELETE FROM \"{m}\" WHERE time < '{cutoff}'"))
                .await
            {
                Ok(()) => info!(class, measurement = m, before = %cutoff, "Retention: deleted older data."),
                Err(e) => {
                    warn!(class, measurement = m, error = %e, "Retention: delete failed; retried tomorrow.")
                }
            }
        }
    }
}
