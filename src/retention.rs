//! Retention per data class ([`zw_config::RetentionConfig`]): deletes what InfluxDB holds beyond each class's
//! time, once at start and then every day, next to ingest. A class kept for ever is left alone; a failed
//! delete is logged and tried again the next day.
//!
//! VictoriaMetrics (`influx.read_backend = "victoria_metrics"`) cannot do this: it deletes only whole
//! series (`delete_series`), never the samples before a time, and keeps everything for one global
//! `-retentionPeriod` (a flag of victoria-metrics, or of every vmstorage). There retention deletes nothing
//! and says so at start, per class with a limit ([`victoria_warnings`], also printed by `check-config`):
//! set `-retentionPeriod` to the longest class; `zaehlwerk erase` still removes a household's series.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use zw_config::RetentionConfig;
use zw_influx::ReadBackend;

/// How often the deletes run.
const EVERY: Duration = Duration::from_secs(86_400);

/// Deletes old data per class until `stop`; on VictoriaMetrics only says what it does not do.
pub async fn run(cfg: RetentionConfig, influx: zw_influx::Client, stop: CancellationToken) {
    if influx.read_backend() == ReadBackend::VictoriaMetrics {
        for w in victoria_warnings(&cfg) {
            error!("Retention: {w}");
        }
        return;
    }
    loop {
        once(&cfg, &influx).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// What `[retention]` cannot do on VictoriaMetrics: one line per class with a limit.
pub fn victoria_warnings(cfg: &RetentionConfig) -> Vec<String> {
    cfg.classes()
        .into_iter()
        .filter_map(|(class, measurements, keep)| {
            let keep = keep?;
            Some(format!(
                "retention.{class} = {}d is not applied on VictoriaMetrics ({} kept until its global \
                 -retentionPeriod; it deletes only whole series): set -retentionPeriod on victoria-metrics \
                 (or every vmstorage) to the longest class",
                keep.as_secs() / 86_400,
                measurements.join(", ")
            ))
        })
        .collect()
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
