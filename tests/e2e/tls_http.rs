//! TLS on the HTTP links, with a throwaway CA made at test time (`zw_tests::tls`): an https-only influxd
//! reached by the InfluxDB client (ingest's and the API's), the API serving https natively (with HSTS) on top
//! of it, and an `https://` webhook that the config check accepts. Each handshake succeeds with the test CA
//! and fails with another CA, and with the system's roots.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zw_analytics::Metrics;
use zw_analytics::sink::Sinks;
use zw_model::alert::Alert;
use zw_tests::HttpsInfluxd;
use zw_tests::tls::{TestCa, throwaway_pki};

/// An InfluxDB client of `url` that trusts only `ca` (`None`: the system's roots).
fn influx(url: &str, ca: Option<&Path>) -> anyhow::Result<zw_influx::Client> {
    let cfg = zw_influx::Config {
        url: url.into(),
        ca_file: ca.map(Path::to_path_buf),
        ..Default::default()
    };
    anyhow::ensure!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    Ok(zw_influx::Client::new(cfg)?)
}

/// A reqwest client that trusts only `ca`.
fn https_client(ca: &Path) -> anyhow::Result<reqwest::Client> {
    let pem = std::fs::read(ca)?;
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem)?)
        .timeout(Duration::from_secs(10))
        .build()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_and_the_api_over_https_trust_the_test_ca_and_refuse_another() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = throwaway_pki(dir.path())?;
    let other = TestCa::new(dir.path(), "other")?;
    let influxd = HttpsInfluxd::start(&pki.server, pki.ca.cert()).await?;

    // The client trusting the test CA writes and reads back.
    let ts = chrono::Utc::now().timestamp_millis() - 60_000;
    let trusted = influx(influxd.url(), Some(pki.ca.cert()))?;
    trusted
        .write(format!(
            "readings,device=rathaus-main,site=rathaus active_power=1234.5 {ts}"
        ))
        .await
        .with_context(|| influxd.log_tail())?;
    let series = trusted
        .query(
            "SELECT active_power FROM readings WHERE device = $d",
            &[("d", "rathaus-main")],
        )
        .await?;
    assert_eq!(series.first().map(|s| s.values.len()), Some(1), "{series:?}");

    // Another CA, and the system's roots, do not vouch for the server: the handshake fails and says so.
    for (who, client) in [
        ("another CA", influx(influxd.url(), Some(other.cert()))?),
        ("system roots", influx(influxd.url(), None)?),
    ] {
        let err = client
            .query("SHOW DATABASES", &[])
            .await
            .err()
            .with_context(|| format!("{who}: the query succeeded"))?;
        assert!(
            matches!(&err, zw_influx::QueryError::Unavailable(m) if m.starts_with("TLS handshake failed")),
            "{who}: {err}"
        );
        assert!(client.write("m v=1").await.is_err(), "{who}: the write succeeded");
    }

    // The API over https, reading its history from the https influxd.
    let mut cfg = zw_api::Config {
        tls: Some(zw_api::tls::TlsConfig {
            cert_file: pki.server.cert.clone(),
            key_file: pki.server.key.clone(),
            hsts_max_age: Duration::from_secs(86_400 * 365),
        }),
        rate_limit_per_second: 0.0,
        ..Default::default()
    };
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let mut state = zw_api::AppState::new(
        Arc::new(zw_model::inventory::fixtures::town()),
        trusted,
        None,
        prometheus::Registry::new(),
    )?;
    state.configure(cfg.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let (stop, cfg) = (stop.clone(), cfg.clone());
        async move { zw_api::serve(listener, state, &cfg, stop).await }
    });
    let from = chrono::DateTime::from_timestamp_millis(ts - 60_000)
        .context("from")?
        .format("%Y-%m-%dT%H:%M:%SZ");
    let url = format!(
        "https://127.0.0.1:{}/api/v1/devices/rathaus-main/history?quantity=active_power&window=1m&agg=max&from={from}",
        addr.port()
    );
    let resp = https_client(pki.ca.cert())?
        .get(&url)
        .bearer_auth("fm")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("max-age=31536000")
    );
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["points"][0]["value"], 1234.5, "{body}");
    // A client trusting another CA does not get through the handshake; plain http gets no answer either.
    let refused = https_client(other.cert())?.get(&url).send().await;
    assert!(refused.is_err(), "{refused:?}");
    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?
        .get(url.replacen("https://", "http://", 1))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // A certificate whose key does not match is refused by the config check, naming the setting.
    cfg.tls = Some(zw_api::tls::TlsConfig {
        cert_file: pki.server.cert.clone(),
        key_file: other.client_cert("someone")?.key,
        hsts_max_age: Duration::from_secs(86_400),
    });
    let errors = cfg.validate();
    assert!(
        errors.len() == 1 && errors[0].starts_with("api.tls: certificate and key refused"),
        "{errors:?}"
    );

    stop.cancel();
    server.await??;
    influxd.stop().await;
    Ok(())
}

/// `axum::serve` over TLS: each accepted connection is handed on after its handshake; failed handshakes are
/// skipped (and counted in `failed`).
struct TlsListener {
    tcp: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    failed: Arc<std::sync::atomic::AtomicUsize>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, peer)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(stream).await {
                Ok(tls) => return (tls, peer),
                Err(_) => {
                    self.failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn alert() -> anyhow::Result<Alert> {
    Ok(serde_json::from_str(
        r#"{"v":1,"id":"left_on.hh-1.plug-1","kind":"left_on","category":"energy","site":"hh-1",
            "subject":{"device":"plug-1"},"state":"open","severity":"warning",
            "opened_at":"2026-05-12T19:10:00Z","updated_at":"2026-05-12T19:15:00Z",
            "explanation":{"observed":812.5,"expected":0.0,"threshold":15.0,"unit":"W",
            "baseline":"off outside usage hours","since":"2026-05-12T19:00:00Z",
            "text":"812 W drawn outside usage hours for 15 min"}}"#,
    )?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_webhook_the_config_check_accepts_gets_the_alert_and_another_ca_gets_nothing()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = throwaway_pki(dir.path())?;
    let other = TestCa::new(dir.path(), "other")?;

    // The webhook: axum over rustls with the test CA's server certificate.
    let tls = zw_api::tls::TlsConfig {
        cert_file: pki.server.cert.clone(),
        key_file: pki.server.key.clone(),
        hsts_max_age: Duration::from_secs(86_400),
    }
    .load()?;
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = TlsListener {
        tcp: TcpListener::bind("127.0.0.1:0").await?,
        acceptor: tls.acceptor,
        failed: failed.clone(),
    };
    let url = format!("https://{}/hook", axum::serve::Listener::local_addr(&listener)?);
    let (tx, mut accepted) = tokio::sync::mpsc::unbounded_channel::<Alert>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(a): axum::Json<Alert>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(a);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    for (ca, delivered) in [(pki.ca.cert(), true), (other.cert(), false)] {
        // What `zaehlwerk check-config` checks: the whole config, with the webhook and its CA.
        let mut cfg = zw_config::Config::default();
        cfg.analytics.alerts.store_influx = false;
        cfg.analytics.alerts.webhook_url = Some(url.clone());
        cfg.analytics.alerts.webhook_ca_file = Some(ca.to_path_buf());
        cfg.analytics.alerts.webhook_attempts = 2;
        assert_eq!(cfg.validate().to_vec(), Vec::<String>::new());

        let metrics = Metrics::unregistered()?;
        let stop = CancellationToken::new();
        let (sinks, tasks) = Sinks::start(&cfg.analytics.alerts, None, &metrics, &stop);
        let sent = alert()?;
        sinks.send(&sent);
        if delivered {
            let got = tokio::time::timeout(Duration::from_secs(20), accepted.recv())
                .await?
                .context("endpoint stopped")?;
            assert_eq!(got, sent);
            assert_eq!(failed.load(std::sync::atomic::Ordering::SeqCst), 0);
        } else {
            tokio::time::timeout(Duration::from_secs(20), async {
                while metrics
                    .sink_dropped
                    .with_label_values(&["webhook", "retries_exhausted"])
                    .get()
                    == 0
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .context("the change was never given up")?;
            assert!(accepted.try_recv().is_err(), "an alert got through");
            // The server notices the second refused handshake a moment after the client gave up.
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while failed.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            assert_eq!(
                failed.load(std::sync::atomic::Ordering::SeqCst),
                2,
                "one handshake per attempt"
            );
            assert_eq!(metrics.sink_delivered.with_label_values(&["webhook"]).get(), 0);
        }
        stop.cancel();
        drop(sinks);
        for t in tasks {
            t.await?;
        }
    }
    Ok(())
}
