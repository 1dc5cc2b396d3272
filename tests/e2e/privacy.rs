//! Household privacy on a running system (issue 17), against real mosquitto and influxd: readings only for
//! inventory site/device pairs (a forged one is rejected, counted, dead-lettered and never in history), a
//! resident with a move-in date sees nothing before it while the administrator sees the earlier reading, the
//! resident's request is one access-log line, and `zaehlwerk erase` leaves nothing of the household in
//! InfluxDB or the dead letters while the other household stays.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use chrono::{SecondsFormat, TimeDelta, Utc};
use rumqttc::{AsyncClient, QoS};
use zw_model::inventory::fixtures;
use zw_model::{Id, Inventory, Quantity, Reading, Role};
use zw_tests::{Role as BusRole, Stack, free_port, influx_query, series_values};

use crate::fixture::WAIT;
use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

fn reading(site: &str, device: &str, ago: TimeDelta, watts: f64) -> (String, Vec<u8>) {
    let r = Reading::new(
        Id::new(site).expect("id"),
        Id::new(device).expect("id"),
        Utc::now() - ago,
        BTreeMap::from([(Quantity::ActivePower, watts)]),
    );
    (format!("zw/v1/readings/{site}/{device}"), r.to_json())
}

/// Series keys of `site` in the test database.
async fn series_of(stack: &Stack, site: &str) -> anyhow::Result<Vec<String>> {
    let answer = influx_query(
        &stack.influx_url(),
        stack.influx_db(),
        &format!("SHOW SERIES WHERE \"site\" = '{site}'"),
    )
    .await?;
    Ok(series_values(&answer)
        .into_iter()
        .filter_map(|row| row.first()?.as_str().map(str::to_owned))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_in_inventory_pairs_access_log_and_erase() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let move_in = Utc::now() - TimeDelta::minutes(5);
    let mut cfg = serving(&stack, api_port);
    let access_log = stack.state_dir().join("access.jsonl");
    let dead_letters = stack.state_dir().join("dead-letter.jsonl");
    cfg.api.access_log = Some(access_log.clone());
    cfg.ingest.dead_letter.path = Some(dead_letters.clone());
    cfg.inventory = Inventory::builder()
        .site(fixtures::household_with_plug("hh-12", "plug12"))
        .site(fixtures::household_with_plug("hh-13", "plug13"))
        .build();
    let mut resident = user("res12", Role::Resident, &["hh-12"], "tok-res12");
    resident.since = Some(move_in);
    cfg.inventory.users = vec![resident, user("root", Role::Admin, &["*"], "tok-root")];
    let cfg_path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // A gateway publishes the plug before and after the move-in, a forged reading of hh-13's plug under
    // hh-12, one of a device in no inventory, and hh-13's own plug.
    let login = stack.mqtt_credentials(BusRole::Gateway);
    let opts = zw_tests::mqtt::options_as("privacy-gw", stack.mqtt_host(), stack.mqtt_port(), &login);
    let (client, mut events) = AsyncClient::new(opts, 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    for (topic, payload) in [
        reading("hh-12", "hh-12-plug", TimeDelta::minutes(10), 100.0),
        reading("hh-12", "hh-12-plug", TimeDelta::minutes(1), 200.0),
        reading("hh-12", "hh-13-plug", TimeDelta::minutes(1), 999.0),
        reading("hh-12", "ghost", TimeDelta::minutes(1), 999.0),
        reading("hh-13", "hh-13-plug", TimeDelta::minutes(1), 50.0),
    ] {
        client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
    }

    let from = (Utc::now() - TimeDelta::minutes(20)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let history = |dev: &str| {
        format!("{api}/api/v1/devices/{dev}/history?quantity=active_power&window=1m&agg=max&from={from}")
    };
    // The administrator sees both readings of the plug (and nothing forged: 999 is never a value).
    let admin = eventually(WAIT, "both readings of hh-12's plug", || async {
        let (s, body) = get(&history("hh-12-plug"), Some("tok-root")).await.ok()?;
        (s == 200 && body["points"].as_array()?.len() == 2).then_some(body)
    })
    .await
    .with_context(|| all.log_tail())?;
    let values: Vec<f64> = admin["points"]
        .as_array()
        .context("points")?
        .iter()
        .filter_map(|p| p["value"].as_f64())
        .collect();
    assert_eq!(values, [100.0, 200.0], "{admin}");

    // The resident sees only what came after the move-in, from the move-in on.
    let (status, body) = get(&history("hh-12-plug"), Some("tok-res12")).await?;
    assert_eq!(status, 200, "{body}");
    let points = body["points"].as_array().context("points")?;
    assert_eq!(points.len(), 1, "{body}");
    assert_eq!(points[0]["value"], 200.0);
    let shown_from = chrono::DateTime::parse_from_rfc3339(body["from"].as_str().context("from")?)?;
    assert!(shown_from >= move_in - TimeDelta::seconds(1), "{body}");

    // Forged and unknown pairs: counted, dead-lettered, never stored.
    eventually(WAIT, "two unknown_device rejections", || async {
        let t = metrics(&api).await?;
        t.contains("zw_ingest_readings_rejected_total{reason=\"unknown_device\"} 2")
            .then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;
    let stored = series_of(&stack, "hh-12").await?;
    let readings: Vec<&String> = stored.iter().filter(|k| k.starts_with("readings,")).collect();
    assert_eq!(readings, ["readings,device=hh-12-plug,site=hh-12"], "{stored:?}");
    let dead = std::fs::read_to_string(&dead_letters)?;
    assert_eq!(
        dead.lines().filter(|l| l.contains("unknown_device")).count(),
        2,
        "{dead}"
    );

    // The resident's history request is one access-log line: who, role, subject, range, status.
    let log = std::fs::read_to_string(&access_log)?;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["user"] == "res12")
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let l = &lines[0];
    assert_eq!(l["role"], "resident");
    assert_eq!(l["subject"]["kind"], "device");
    assert_eq!(l["subject"]["id"], "hh-12-plug");
    assert_eq!(l["query"]["from"], from);
    assert_eq!(l["status"], 200);
    assert!(!log.contains("tok-res12"), "tokens never reach the access log");

    // Erase hh-12 with the services stopped: nothing of it is left, hh-13 stays.
    all.stop(Duration::from_secs(20)).await?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["erase", "--site", "hh-12", "--config"])
        .arg(&cfg_path)
        .output()
        .await?;
    let printed = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "erase failed: {printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("influxdb: dropped readings device=hh-12-plug"),
        "{printed}"
    );
    assert!(
        printed.contains("dead letters: 2 line(s) of site hh-12 removed"),
        "{printed}"
    );
    assert_eq!(series_of(&stack, "hh-12").await?, Vec::<String>::new());
    let kept = series_of(&stack, "hh-13").await?;
    assert!(
        kept.iter().any(|k| k == "readings,device=hh-13-plug,site=hh-13"),
        "{kept:?}"
    );
    let dead = std::fs::read_to_string(&dead_letters)?;
    assert!(!dead.contains("hh-12"), "{dead}");
    Ok(())
}

/// Analytics takes readings only for inventory site/device pairs: a plug of another household published
/// under `hh-12` and a device in no inventory, both far above the plug limit, are ignored and counted
/// (`zw_analytics_readings_rejected_total{reason="unknown_device"}`) and raise no alert, while the same
/// readings of `hh-13`'s plug under its own site raise one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_ignores_and_counts_readings_of_unknown_pairs() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let metrics_port = free_port();
    let mut cfg = crate::support::config::connected(&stack);
    cfg.telemetry.metrics_listen = Some(([127, 0, 0, 1], metrics_port).into());
    let a = &mut cfg.analytics;
    a.tick_interval = Duration::from_millis(200);
    a.power.smoothing = Duration::from_secs(1);
    a.power.hold = Duration::from_secs(2);
    a.power.refresh = Duration::from_secs(1);
    a.limits = BTreeMap::from([("plug".to_owned(), zw_analytics::config::Watts(100.0))]);
    a.left_on.classes = Vec::new();
    a.alerts.restore_wait = Duration::from_secs(1);
    a.alerts.restore_quiet = Duration::from_millis(300);
    let plug = |id: &str| zw_model::Device::tasmota(id, id).class("plug");
    cfg.inventory = Inventory::builder()
        .household("hh-12", [plug("hh-12-plug")])
        .household("hh-13", [plug("hh-13-plug")])
        .build();
    let cfg_path = write(&stack, &cfg)?;
    let alerts = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "privacy-alerts",
        &["zw/v1/alerts/+"],
        QoS::AtLeastOnce,
    )
    .await?
    .into_json_log();
    let analytics = Zaehlwerk::start("analytics", &cfg_path, stack.state_dir())?;

    // Every 200 ms, 500 W from hh-13's plug under hh-12, from a device in no inventory, and from hh-13's
    // plug under its own site.
    let opts = zw_tests::mqtt::options("privacy-readings", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut events) = AsyncClient::new(opts, 64);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let publishing = tokio::spawn(async move {
        loop {
            for (site, device) in [
                ("hh-12", "hh-13-plug"),
                ("hh-12", "ghost"),
                ("hh-13", "hh-13-plug"),
            ] {
                let (topic, payload) = reading(site, device, TimeDelta::zero(), 500.0);
                if client
                    .publish(topic, QoS::AtMostOnce, false, payload)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    let metrics_url = format!("http://127.0.0.1:{metrics_port}");
    let rejected = |text: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix("zw_analytics_readings_rejected_total{reason=\"unknown_device\"} "))?
            .trim()
            .parse()
            .ok()
    };
    let open = "zw/v1/alerts/high_consumption.hh-13.hh-13-plug";
    eventually(WAIT, "hh-13's alert and rejected readings", || async {
        let opened = alerts
            .lock()
            .ok()?
            .iter()
            .any(|(t, a)| t == open && a["state"] == "open");
        let n = rejected(&metrics(&metrics_url).await?)?;
        (opened && n >= 10).then_some(())
    })
    .await
    .with_context(|| analytics.log_tail())?;
    publishing.abort();
    let seen: Vec<(String, serde_json::Value)> = alerts.lock().map(|l| l.clone()).unwrap_or_default();
    let others: Vec<&(String, serde_json::Value)> = seen.iter().filter(|(t, _)| t != open).collect();
    assert!(others.is_empty(), "alerts from unknown pairs: {others:?}");
    analytics.stop(Duration::from_secs(15)).await?;
    Ok(())
}
