//! Helpers: run the binary as a child process, wait for conditions, talk to the API.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

pub mod browser;
pub mod config;
pub mod history;

/// A running `zaehlwerk` subcommand; killed on drop, stopped gracefully by [`Zaehlwerk::stop`].
pub struct Zaehlwerk {
    child: Child,
    pub log: std::path::PathBuf,
}

impl Zaehlwerk {
    /// Starts `zaehlwerk <sub> --config <config>` with its output in `<dir>/<sub>.log`.
    pub fn start(sub: &str, config: &Path, dir: &Path) -> anyhow::Result<Self> {
        let log = dir.join(format!("{sub}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
            .args([sub, "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .context("spawning zaehlwerk")?;
        Ok(Self { child, log })
    }

    /// Sends SIGTERM and waits for a clean exit; fails if it does not exit 0 within `limit`.
    pub async fn stop(mut self, limit: Duration) -> anyhow::Result<()> {
        let pid = self.child.id().context("already exited")?;
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .context("no exit after SIGTERM")??;
        if !status.success() {
            bail!("exited with {status}; log:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// The last lines of the process log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or fails after `limit` with `what` in the message.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET `url` with an optional bearer token; returns status and JSON body (Null if not JSON).
pub async fn get(url: &str, token: Option<&str>) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut req = reqwest::Client::new().get(url).timeout(Duration::from_secs(5));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    ))
}

/// The Prometheus text at `{api}/metrics`, or `None` while it cannot be read (for [`eventually`]).
pub async fn metrics(api: &str) -> Option<String> {
    reqwest::get(format!("{api}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

/// SHA-256 hex of a token, as the config stores it.
pub fn hash(token: &str) -> String {
    zw_model_hash(token)
}

fn zw_model_hash(token: &str) -> String {
    use std::io::Write as _;
    // Hash with the binary itself, so the test also covers `zaehlwerk hash-token`.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn hash-token");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{token}\n").as_bytes())
        .expect("write token");
    let out = child.wait_with_output().expect("hash-token output");
    String::from_utf8(out.stdout).expect("utf8").trim().to_string()
}

/// An InfluxDB client for `stack`'s database.
pub fn influx(stack: &zw_tests::Stack) -> anyhow::Result<zw_influx::Client> {
    Ok(zw_influx::Client::new(zw_influx::Config {
        url: stack.influx_url(),
        database: stack.influx_db().into(),
        ..Default::default()
    })?)
}
