//! The API on a running system: history from InfluxDB, a site's live values, the live stream, and the
//! dashboard in a real headless browser, each checked for scope.

use std::time::Duration;

use anyhow::Context as _;
use zw_tests::Stack;

use crate::fixture::{System, WAIT};
use crate::support::{eventually, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_site_live_and_stream_respect_scope() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    let api = &sys.api;

    // History: 1-second windows of the meter's power, from InfluxDB; windows without data are absent.
    let url = format!("{api}/api/v1/devices/rathaus-main/history?quantity=active_power&window=1s&agg=max");
    let history = eventually(WAIT, "two windows of meter history", || async {
        let (s, body) = get(&url, Some("tok-fm")).await.ok()?;
        (s == 200 && body["points"].as_array().is_some_and(|p| p.len() >= 2)).then_some(body)
    })
    .await
    .with_context(|| sys.all.log_tail())?;
    assert_eq!(history["unit"], "W");
    assert_eq!(history["window_seconds"], 1);
    let points = history["points"].as_array().context("points")?;
    assert!(points.iter().all(|p| p["value"].is_number() && p["ts"].is_string()), "{history}");
    assert_eq!(get(&url.replace("rathaus-main", "hh-1-plug"), Some("tok-fm")).await?.0, 404);
    assert_eq!(get(&url, Some("tok-res1")).await?.0, 404);

    // A site's live values in one call.
    let (status, site) = get(&format!("{api}/api/v1/sites/hh-1/live"), Some("tok-res1")).await?;
    assert_eq!(status, 200);
    assert_eq!(site["devices"][0]["device"], "hh-1-plug");
    assert_eq!(get(&format!("{api}/api/v1/sites/hh-1/live"), Some("tok-res2")).await?.0, 404);

    // The stream: a resident sees readings of their own household and nothing else, although the meter and
    // the soil sensor publish more often than the plug.
    let mut resp = reqwest::Client::new()
        .get(format!("{api}/api/v1/stream"))
        .bearer_auth("tok-res1")
        .send()
        .await?;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while text.matches("event: reading").count() < 3 {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.context("stream too slow")??;
        text.push_str(&String::from_utf8_lossy(&chunk.context("stream ended")?));
    }
    let devices: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| d.trim().split("\"device\":\"").nth(1)?.split('"').next())
        .collect();
    assert!(!devices.is_empty() && devices.iter().all(|d| *d == "hh-1-plug"), "{text}");
    drop(resp);
    sys.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_live_values_and_only_the_callers_household() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    // Wait until the plug has a live value, so the page has something to show on first load.
    eventually(WAIT, "plug live value", || async {
        let (_, live) = get(&format!("{}/api/v1/devices/hh-1-plug/live", sys.api), Some("tok-res1")).await.ok()?;
        live["values"]["active_power"].is_object().then_some(())
    })
    .await?;
    let profile = tempfile::tempdir()?;
    let url = format!("{}/#token=tok-res1", sys.api);
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .output(),
    )
    .await
    .context("chromium did not finish")?
    .context("chromium not found: run deploy/setup.sh --with-test-tools (Debian package chromium)")?;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-site=\"hh-1\""), "household missing:\n{dom}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(dom.contains("data-device=\"hh-1-plug\""), "{dom}");
    assert!(dom.contains("data-quantity=\"active_power\""), "no live value shown:\n{dom}");
    for foreign in ["hh-2", "rathaus", "park", "soil-1"] {
        assert!(!dom.contains(foreign), "a resident's dashboard shows {foreign}:\n{dom}");
    }
    sys.stop().await
}
