//! The API on a running system: history from InfluxDB, a site's live values, the live stream, and the
//! dashboard in a real headless browser, each checked for scope.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use zw_tests::Stack;

use crate::fixture::{System, WAIT};
use crate::support::{eventually, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_site_live_and_stream_respect_scope() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    let api = &sys.api;

    // History: 1-second windows of the meter's power, from InfluxDB; windows without data are absent.
    let from = (chrono::Utc::now() - chrono::TimeDelta::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
    let url = format!(
        "{api}/api/v1/devices/rathaus-main/history?quantity=active_power&window=1s&agg=max&from={from}"
    );
    let history = eventually(WAIT, "two windows of meter history", || async {
        let (s, body) = get(&url, Some("tok-fm")).await.ok()?;
        (s == 200 && body["points"].as_array().is_some_and(|p| p.len() >= 2)).then_some(body)
    })
    .await
    .with_context(|| sys.all.log_tail())?;
    assert_eq!(history["unit"], "W");
    assert_eq!(history["window_seconds"], 1);
    let points = history["points"].as_array().context("points")?;
    assert!(
        points
            .iter()
            .all(|p| p["value"].is_number() && p["ts"].is_string()),
        "{history}"
    );
    assert_eq!(
        get(&url.replace("rathaus-main", "hh-1-plug"), Some("tok-fm"))
            .await?
            .0,
        404
    );
    assert_eq!(get(&url, Some("tok-res1")).await?.0, 404);

    // A site's live values in one call.
    let (status, site) = get(&format!("{api}/api/v1/sites/hh-1/live"), Some("tok-res1")).await?;
    assert_eq!(status, 200);
    assert_eq!(site["devices"][0]["device"], "hh-1-plug");
    assert_eq!(
        get(&format!("{api}/api/v1/sites/hh-1/live"), Some("tok-res2"))
            .await?
            .0,
        404
    );

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
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .context("stream too slow")??;
        text.push_str(&String::from_utf8_lossy(&chunk.context("stream ended")?));
    }
    let devices: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| d.trim().split("\"device\":\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        !devices.is_empty() && devices.iter().all(|d| *d == "hh-1-plug"),
        "{text}"
    );
    drop(resp);
    sys.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_live_values_and_only_the_callers_household() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    // Wait until the plug has a live value, so the page has something to show on first load.
    eventually(WAIT, "plug live value", || async {
        let (_, live) = get(
            &format!("{}/api/v1/devices/hh-1-plug/live", sys.api),
            Some("tok-res1"),
        )
        .await
        .ok()?;
        live["values"]["active_power"].is_object().then_some(())
    })
    .await?;
    // And until its power is in InfluxDB, so the household's 24-hour chart has a window to draw.
    eventually(WAIT, "plug power history", || async {
        let (_, h) = get(
            &format!(
                "{}/api/v1/devices/hh-1-plug/history?quantity=active_power&window=15m",
                sys.api
            ),
            Some("tok-res1"),
        )
        .await
        .ok()?;
        h["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
            .then_some(())
    })
    .await?;
    // Two alerts as analytics publishes them (retained): the resident's own plug left on, and another
    // household's. The dashboard shows the own one in German from its fields, and nothing of the other.
    let opts = MqttOptions::new("e2e-dashboard", sys.stack.mqtt_host(), sys.stack.mqtt_port());
    let (mqtt, mut events) = AsyncClient::new(opts, 10);
    let poller = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    for (site, device) in [("hh-1", "hh-1-plug"), ("hh-2", "hh-2-plug")] {
        let id = format!("left_on.{site}.{device}");
        let alert = serde_json::json!({
            "v": 1, "id": id, "kind": "left_on", "category": "energy", "site": site,
            "subject": { "device": device }, "state": "open", "severity": "warning",
            "opened_at": "2026-11-21T02:10:00Z", "updated_at": "2026-11-21T02:40:00Z",
            "explanation": { "observed": 1460.0, "expected": 5.0, "threshold": 30.0, "unit": "W",
                "baseline": "usage hours", "since": "2026-11-21T02:00:00Z",
                "text": "1.46 kW outside usage hours for 40 min" }
        });
        mqtt.publish(
            format!("zw/v1/alerts/{id}"),
            QoS::AtLeastOnce,
            true,
            alert.to_string(),
        )
        .await?;
    }
    for token in ["tok-res1", "tok-res2"] {
        eventually(WAIT, "each household's alert in the API", || async {
            let (_, a) = get(&format!("{}/api/v1/alerts", sys.api), Some(token))
                .await
                .ok()?;
            (a.as_array()?.len() == 1).then_some(())
        })
        .await?;
    }
    poller.abort();
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
    assert!(
        dom.contains("data-site=\"hh-1\""),
        "household missing:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("data-device=\"hh-1-plug\""), "{dom}");
    assert!(
        dom.contains("data-quantity=\"active_power\""),
        "no live value shown:\n{dom}"
    );
    // Health badges: the plug reports fresh readings, so it and its household are online.
    assert!(dom.contains("data-health=\"online\""), "no health shown:\n{dom}");
    assert!(dom.contains("data-chart=\"hh-1\""), "no power chart:\n{dom}");
    assert!(
        dom.contains("Läuft außerhalb der Nutzungszeit: hh-1-plug · hh-1")
            && dom.contains("1,5 kW (Schwelle 30 W)"),
        "the resident's alert is not shown in German:\n{dom}"
    );
    // Everything rendered carries its id in a data attribute: only the resident's own site and device appear.
    for attr in [
        "data-site=\"",
        "data-device=\"",
        "data-chart=\"",
        "data-alert=\"left_on.",
    ] {
        let ids: Vec<&str> = dom
            .split(attr)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(
            ids.iter().all(|id| id.starts_with("hh-1")),
            "a resident's dashboard shows {ids:?}:\n{dom}"
        );
    }
    for foreign in ["hh-2", "rathaus-main", "soil-1"] {
        assert!(
            !dom.contains(foreign),
            "a resident's dashboard mentions {foreign}:\n{dom}"
        );
    }
    sys.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn energy_per_local_day_survives_a_counter_reset() -> anyhow::Result<()> {
    use chrono::{Days, TimeZone, Utc};
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    let tz = chrono_tz::Europe::Berlin;
    let day1 = Utc::now().with_timezone(&tz).date_naive() - Days::new(10);
    let midnight = tz
        .from_local_datetime(&day1.and_hms_opt(0, 0, 0).context("time")?)
        .earliest()
        .context("tz")?;
    // Two local days of a meter counting 100 Wh per 15 minutes; on day 2 at noon it reboots and restarts at 0.
    let mut lines = String::new();
    let mut counter = 50_000.0;
    for k in 0..=(2 * 96) {
        let ts = midnight.with_timezone(&Utc) + chrono::TimeDelta::minutes(15 * k);
        if k == 96 + 48 {
            counter = 0.0;
        } else if k > 0 {
            counter += 100.0;
        }
        lines.push_str(&format!(
            "readings,device=hh-1-plug,site=hh-1 energy_import={counter:.1} {}\n",
            ts.timestamp_millis()
        ));
    }
    zw_tests::influx_write(&sys.stack.influx_url(), sys.stack.influx_db(), "ms", &lines).await?;
    let url = format!(
        "{}/api/v1/devices/hh-1-plug/energy?period=day&count=2&until={}",
        sys.api,
        day1 + Days::new(1)
    );
    let (status, report) = get(&url, Some("tok-res1")).await?;
    assert_eq!(status, 200, "{report}");
    let days = report["periods"].as_array().context("periods")?;
    assert_eq!(days.len(), 2, "{report}");
    assert_eq!(days[0]["start"], day1.to_string());
    assert_eq!(days[0]["wh"].as_f64(), Some(9600.0), "{report}");
    assert_eq!(days[0]["complete"], true);
    assert!(
        (days[0]["cost"].as_f64().context("cost")? - 9.6 * 0.35).abs() < 1e-9,
        "{report}"
    );
    // The reboot costs at most the one interval it happened in: never negative, never phantom.
    let d2 = days[1]["wh"].as_f64().context("day 2")?;
    assert!((9500.0..=9600.0).contains(&d2), "{report}");
    // The days before have no data: unknown, not zero.
    assert!(
        report["previous"]
            .as_array()
            .context("previous")?
            .iter()
            .all(|p| p["wh"].is_null()),
        "{report}"
    );
    assert!(report["change_ratio"].is_null());
    // Another household's resident cannot ask.
    assert_eq!(get(&url, Some("tok-res2")).await?.0, 404);
    sys.stop().await
}
