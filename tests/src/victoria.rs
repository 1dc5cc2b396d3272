//! VictoriaMetrics (single-node) for a test stack: the v2 write path (`/api/v2/write`) and scale-out
//! experiments. It answers 204 even to malformed lines and drops points older than its retention, so tests
//! use it for the write path, not as a correctness oracle (InfluxDB 1.x is that).
//!
//! Ready means `GET /health` answered 200. Data stays under the stack's `victoria/` directory.

use std::path::Path;
use std::time::Duration;

use crate::influxd::{client, form_encode};
use crate::process::{ChildProcess, StartError};

/// Default location of the server (Debian package `victoria-metrics`).
pub(crate) const DEFAULT_BIN: &str = "/usr/bin/victoria-metrics";
/// Environment variable that overrides [`DEFAULT_BIN`].
pub(crate) const BIN_ENV: &str = "ZW_VICTORIA_BIN";
/// Upper bound for the server to answer `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts VictoriaMetrics on `port` with its data in `dir`, returning once `/health` answers.
pub(crate) async fn start(bin: &Path, dir: &Path, port: u16) -> Result<ChildProcess, StartError> {
    let data = dir.join("data");
    let args = [
        format!("-storageDataPath={}", data.display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        // Points are searchable right after the write (the default waits up to a second).
        "-search.latencyOffset=0s".to_owned(),
        "-retentionPeriod=100y".to_owned(),
        // A reading delivered twice (ingest's at-least-once after a crash) is one sample, as on InfluxDB
        // (same series and time: one point). Without it VictoriaMetrics keeps both. Deployments set it too.
        "-dedup.minScrapeInterval=1ms".to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = ChildProcess::spawn("victoria-metrics", bin, &args, &dir.join("victoria-metrics.log"))?;
    let client = client()?;
    let health = format!("http://127.0.0.1:{port}/health");
    child
        .await_ready(READY_TIMEOUT, || {
            let req = client.get(&health).timeout(Duration::from_secs(2)).send();
            async move { req.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await?;
    Ok(child)
}

/// Number of samples of `metric` (Prometheus naming: `{measurement}_{field}`) VictoriaMetrics holds,
/// through its export API, after forcing a flush of recent data.
pub async fn victoria_count(url: &str, metric: &str) -> anyhow::Result<usize> {
    let c = client()?;
    // Makes just-written samples visible to the export API.
    c.get(format!("{url}/internal/force_flush")).send().await?;
    let resp = c
        .post(format!("{url}/api/v1/export"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_encode(&[("match[]", metric)]))
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    anyhow::ensure!(status.is_success(), "export {metric}: HTTP {status}: {text}");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        n += v["timestamps"].as_array().map_or(0, Vec::len);
    }
    Ok(n)
}
