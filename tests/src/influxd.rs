//! The InfluxDB 1.x server of a test stack: configuration, start, readiness and database creation.
//!
//! Both of influxd's listeners are moved off their defaults: HTTP (8086) to the stack's port and the RPC
//! listener used for backups (8088) to a second free port, so stacks run side by side. Everything that
//! only costs start-up time or disk (the `_internal` monitor database, usage reporting, the HTTP access
//! and query logs) is switched off. Ready means `GET /ping` answered 204.

use std::path::Path;
use std::time::Duration;

use crate::process::{ChildProcess, StartError};
use crate::template;

/// Default location of the server (Debian package `influxdb`).
pub(crate) const DEFAULT_BIN: &str = "/usr/bin/influxd";
/// Environment variable that overrides [`DEFAULT_BIN`].
pub(crate) const BIN_ENV: &str = "ZW_INFLUXD_BIN";
/// Upper bound for the server to answer `/ping`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The two ports one influxd needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    /// HTTP API (`/write`, `/query`, `/ping`).
    pub(crate) http: u16,
    /// RPC listener for `influxd backup`; unused by the tests but always bound.
    pub(crate) rpc: u16,
}

/// The influxd configuration for `ports`, keeping all data under `dir`: the shipped
/// `deploy/conf/influxdb.conf.in` on loopback.
pub(crate) fn config_text(ports: Ports, dir: &Path) -> String {
    template::render(
        template::INFLUXDB,
        &[
            ("HOST", "127.0.0.1"),
            ("HTTP_PORT", &ports.http.to_string()),
            ("RPC_PORT", &ports.rpc.to_string()),
            ("DATA_DIR", &dir.display().to_string()),
        ],
    )
}

/// Writes the configuration into `dir` and starts influxd, returning once `/ping` answers.
pub(crate) async fn start(bin: &Path, dir: &Path, ports: Ports) -> Result<ChildProcess, StartError> {
    let conf = dir.join("influxdb.conf");
    std::fs::write(&conf, config_text(ports, dir))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", conf.display()))?;
    let conf_arg = conf.to_string_lossy().into_owned();
    let mut child = ChildProcess::spawn("influxd", bin, &["-config", &conf_arg], &dir.join("influxd.log"))?;
    let client = client()?;
    let ping = format!("http://127.0.0.1:{}/ping", ports.http);
    child
        .await_ready(READY_TIMEOUT, || {
            let req = client.get(&ping).timeout(Duration::from_secs(2)).send();
            async move {
                req.await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::NO_CONTENT)
            }
        })
        .await?;
    Ok(child)
}

/// Creates `db` (a no-op if it exists).
pub(crate) async fn create_database(url: &str, db: &str) -> anyhow::Result<()> {
    let resp = client()?
        .post(format!("{url}/query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_encode(&[(
            "q",
            &format!("CREATE DATABASE \"{}\"", db.replace('"', "\\\"")),
        )]))
        .send()
        .await?;
    let status = resp.status();
    let body = resp.text().await?;
    anyhow::ensure!(
        status.is_success() && !body.contains("\"error\""),
        "CREATE DATABASE {db}: {status} {body}"
    );
    Ok(())
}

/// An HTTP client that ignores proxy variables (loopback only) and never waits forever.
pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// `application/x-www-form-urlencoded` body from pairs.
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("static URL parses");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_moves_both_listeners_and_keeps_data_in_dir() {
        let text = config_text(
            Ports {
                http: 18_086,
                rpc: 18_088,
            },
            Path::new("/s"),
        );
        assert!(text.contains("bind-address = \"127.0.0.1:18088\""));
        assert!(text.contains("bind-address = \"127.0.0.1:18086\""));
        assert!(text.contains("wal-dir = \"/s/wal\""));
        assert!(text.contains("store-enabled = false"));
    }

    #[test]
    fn form_encoding_escapes_query_text() {
        assert_eq!(
            form_encode(&[("q", "SELECT * FROM \"m\"; x&y")]),
            "q=SELECT+*+FROM+%22m%22%3B+x%26y"
        );
    }
}
