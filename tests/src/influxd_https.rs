//! An influxd that serves its HTTP API over https only, for the TLS tests of the InfluxDB client.
//!
//! The shipped `deploy/conf/influxdb.conf.in` on free loopback ports, with `[http] https-enabled` and the
//! certificate and key given (from [`crate::tls`]). Ready means `GET /ping` over https answered 204 to a
//! client that trusts only `ca` (the test's CA); the database `zaehlwerk` is created the same way. Stopped
//! (and its directory removed) when dropped.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::influxd::{self, Ports};
use crate::process::{ChildProcess, GRACE, find_binary};
use crate::tls::CertFiles;

/// A running https-only influxd.
#[derive(Debug)]
pub struct HttpsInfluxd {
    child: Option<ChildProcess>,
    url: String,
    _dir: tempfile::TempDir,
}

impl HttpsInfluxd {
    /// Starts influxd with `server`'s certificate and key, waits until `/ping` answers over https to a client
    /// trusting `ca`, and creates the database `zaehlwerk`.
    pub async fn start(server: &CertFiles, ca: &Path) -> anyhow::Result<Self> {
        let bin = find_binary(None, influxd::BIN_ENV, influxd::DEFAULT_BIN, "influxdb")?;
        let dir = tempfile::Builder::new().prefix("zw-influxd-https-").tempdir()?;
        let ports = Ports {
            http: crate::free_port(),
            rpc: crate::free_port(),
        };
        let https = format!(
            "[http]\n  https-enabled = true\n  https-certificate = \"{}\"\n  https-private-key = \"{}\"\n",
            server.cert.display(),
            server.key.display()
        );
        let text = influxd::config_text(ports, dir.path()).replacen("[http]\n", &https, 1);
        anyhow::ensure!(
            text.contains("https-enabled"),
            "the influxd template has no [http] section"
        );
        let conf = dir.path().join("influxdb.conf");
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
        let conf_arg = conf.to_string_lossy().into_owned();
        let mut child = ChildProcess::spawn(
            "influxd",
            &bin,
            &["-config", &conf_arg],
            &dir.path().join("influxd.log"),
        )?;
        let url = format!("https://127.0.0.1:{}", ports.http);
        let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem)?)
            .timeout(Duration::from_secs(30))
            .build()?;
        let ping = format!("{url}/ping");
        child
            .await_ready(Duration::from_secs(30), || {
                let req = client.get(&ping).timeout(Duration::from_secs(2)).send();
                async move {
                    req.await
                        .is_ok_and(|r| r.status() == reqwest::StatusCode::NO_CONTENT)
                }
            })
            .await
            .map_err(crate::process::StartError::into_anyhow)?;
        let resp = client
            .post(format!("{url}/query"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(influxd::form_encode(&[("q", "CREATE DATABASE \"zaehlwerk\"")]))
            .send()
            .await?;
        anyhow::ensure!(resp.status().is_success(), "CREATE DATABASE: {}", resp.status());
        Ok(Self {
            child: Some(child),
            url,
            _dir: dir,
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last lines of influxd's log.
    pub fn log_tail(&self) -> String {
        self.child
            .as_ref()
            .map(ChildProcess::log_tail)
            .unwrap_or_default()
    }

    /// Stops influxd (SIGTERM, SIGKILL after the grace period).
    pub async fn stop(mut self) {
        if let Some(child) = self.child.take() {
            child.terminate(GRACE).await;
        }
    }
}
