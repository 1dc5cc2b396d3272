//! The API on a running system: history from InfluxDB, a site's live values and the live stream, each
//! checked for scope (the dashboard in a browser: `dashboard.rs`).

use anyhow::Context as _;
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
