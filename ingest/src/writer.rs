//! Writes a batch to InfluxDB, deciding per outcome: done, retry with back-off, split, or give up loudly.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{error, warn};
use zw_influx::WriteError;

use crate::{Config, Metrics};

/// Batch writer with the retry policy.
pub(crate) struct Writer {
    influx: zw_influx::Client,
    retry_min: Duration,
    retry_max: Duration,
    metrics: Metrics,
}

impl Writer {
    pub(crate) fn new(influx: zw_influx::Client, cfg: &Config, metrics: Metrics) -> Self {
        Self {
            influx,
            retry_min: cfg.retry_min,
            retry_max: cfg.retry_max,
            metrics,
        }
    }

    /// Writes `body` (`lines` points). Returns `true` when every message of the batch may be acknowledged:
    /// written, or refused for a reason no retry can fix. Returns `false` if `stop` ended the retries.
    pub(crate) async fn write(&self, body: &str, lines: usize, stop: &CancellationToken) -> bool {
        // 413 splits the batch; the halves are written in order.
        let mut parts: Vec<(&str, usize)> = vec![(body, lines)];
        while let Some((part, n)) = parts.pop() {
            let mut failures: u32 = 0;
            loop {
                let started = tokio::time::Instant::now();
                let result = self.influx.write(part.to_owned()).await;
                let delay = match result {
                    Ok(()) => {
                        self.metrics
                            .write_seconds
                            .observe(started.elapsed().as_secs_f64());
                        self.metrics.written.inc_by(n as u64);
                        break;
                    }
                    Err(e) => {
                        self.metrics.write_errors.with_label_values(&[e.reason()]).inc();
                        match e {
                            WriteError::Rejected { status, message } => {
                                // Good lines of a partial write are stored; the rest cannot succeed later.
                                error!(status, points = n, error = %message, "InfluxDB rejected lines of a batch.");
                                self.metrics.rejected.with_label_values(&["influx"]).inc();
                                break;
                            }
                            WriteError::TooLarge if n > 1 => {
                                let (a, b) = split(part, n);
                                warn!(points = n, "Batch too large for InfluxDB; splitting.");
                                parts.push(b);
                                parts.push(a);
                                break;
                            }
                            WriteError::Auth { status } => {
                                error!(
                                    status,
                                    "InfluxDB refused our credentials; holding data and retrying."
                                );
                                None
                            }
                            WriteError::Unavailable {
                                retry_after,
                                ref message,
                            } => {
                                if failures == 0 {
                                    warn!(error = %message, "InfluxDB unavailable; retrying with back-off.");
                                }
                                retry_after
                            }
                            other => {
                                error!(error = %other, "InfluxDB write failed; retrying with back-off.");
                                None
                            }
                        }
                    }
                };
                let backoff = self
                    .retry_min
                    .saturating_mul(1u32 << failures.min(16))
                    .min(self.retry_max);
                failures = failures.saturating_add(1);
                tokio::select! {
                    () = stop.cancelled() => return false,
                    () = tokio::time::sleep(delay.unwrap_or(backoff).max(backoff)) => {}
                }
            }
        }
        true
    }
}

/// Splits a body of `n` lines into two halves at a line boundary.
fn split(body: &str, n: usize) -> ((&str, usize), (&str, usize)) {
    let half = n / 2;
    let cut = body
        .match_indices('\n')
        .nth(half - 1)
        .map(|(i, _)| i + 1)
        .unwrap_or(body.len());
    ((&body[..cut], half), (&body[cut..], n - half))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_keeps_every_line_once() {
        let body = "a 1\nb 2\nc 3\n";
        let ((a, na), (b, nb)) = split(body, 3);
        assert_eq!((a, na, b, nb), ("a 1\n", 1, "b 2\nc 3\n", 2));
    }
}
