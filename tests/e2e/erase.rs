//! `zaehlwerk erase` leaves nothing of a household anywhere (issue 17), against real mosquitto and influxd
//! and a SQLite store: two households each get raw readings, 15-minute and day rollups and alert history in
//! InfluxDB, a retained reading, device status and alert on the bus, a batch in ingest's spool, dead letters
//! and an alert episode (with a comment) in the store. After erasing `hh-12`, nothing of it is found in any
//! of them (InfluxDB queried, `zw/v1/#` subscribed for retained messages, the spool and dead-letter files
//! read, the store queried) and `hh-13` is whole.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use rumqttc::QoS;
use tokio_util::sync::CancellationToken;
use zw_model::Inventory;
use zw_model::inventory::fixtures;
use zw_store::{NewAlert, Stamp, Store};
use zw_tests::{Stack, influx_query, influx_write, series_values};

use crate::fixture::WAIT;
use crate::support::config::{connected, write};

const SITES: [&str; 2] = ["hh-12", "hh-13"];

/// Every row InfluxDB holds for `site`, over all measurements, as text.
async fn influx_rows(stack: &Stack, site: &str) -> anyhow::Result<Vec<String>> {
    let q = format!("SELECT * FROM /.*/ WHERE \"site\" = '{site}'");
    let answer = influx_query(&stack.influx_url(), stack.influx_db(), &q).await?;
    let mut rows = Vec::new();
    for s in answer["results"][0]["series"].as_array().into_iter().flatten() {
        for v in s["values"].as_array().into_iter().flatten() {
            rows.push(format!("{} {v}", s["name"]));
        }
    }
    Ok(rows)
}

/// The retained messages on `zw/v1/#` (read as the harness's superuser): once `until` holds for them, and
/// after one more quiet second.
async fn retained(
    stack: &Stack,
    until: impl Fn(&[(String, String)]) -> bool,
) -> anyhow::Result<Vec<(String, String)>> {
    let id = format!("erase-check-{}", Utc::now().timestamp_micros());
    let mut sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        &id,
        &["zw/v1/#"],
        QoS::AtLeastOnce,
    )
    .await?;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let wait = if until(&got) {
            Duration::from_secs(1)
        } else {
            deadline - tokio::time::Instant::now()
        };
        match tokio::time::timeout(wait, sub.messages.recv()).await {
            Ok(Some((t, p))) => got.push((t, String::from_utf8_lossy(&p).into_owned())),
            _ => break,
        }
    }
    ensure!(until(&got), "retained messages never complete: {got:?}");
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_leaves_nothing_of_the_household_anywhere() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let mut cfg = connected(&stack);
    let spool_path = stack.state_dir().join("spool.redb");
    let dead_letters = stack.state_dir().join("dead-letter.jsonl");
    let store_url = format!("sqlite://{}", stack.state_dir().join("zaehlwerk.db").display());
    cfg.ingest.spool.path = Some(spool_path.clone());
    cfg.ingest.dead_letter.path = Some(dead_letters.clone());
    cfg.inventory = Inventory::builder()
        .site(fixtures::household_with_plug("hh-12", "plug12"))
        .site(fixtures::household_with_plug("hh-13", "plug13"))
        .build();
    let cfg_path = write(&stack, &cfg)?;

    // InfluxDB: raw readings, both rollups and alert history of each household.
    let t = Utc::now().timestamp() - 3600;
    let mut lines = String::new();
    for site in SITES {
        let dev = format!("{site}-plug");
        lines += &format!("readings,device={dev},site={site} active_power=100 {t}\n");
        lines += &format!("rollup_15m,device={dev},site={site} energy_wh=25 {t}\n");
        lines += &format!("rollup_day,device={dev},site={site} energy_wh=600 {t}\n");
        lines += &format!("alerts,kind=left_on,site={site} state=\"open\" {t}\n");
    }
    influx_write(&stack.influx_url(), stack.influx_db(), "s", &lines).await?;

    // The bus: a retained reading, device status and alert of each household.
    let pub_id = format!("erase-pub-{}", Utc::now().timestamp_micros());
    let publisher = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        &pub_id,
        &["zw/v1/none"],
        QoS::AtLeastOnce,
    )
    .await?;
    for site in SITES {
        let dev = format!("{site}-plug");
        let alert = format!("left_on.{site}.{dev}");
        for (topic, payload) in [
            (
                format!("zw/v1/readings/{site}/{dev}"),
                format!(r#"{{"v":1,"site":"{site}","device":"{dev}","p":1}}"#),
            ),
            (
                format!("zw/v1/status/device/{dev}"),
                format!(r#"{{"v":1,"device":"{dev}","state":"online"}}"#),
            ),
            (
                format!("zw/v1/alerts/{alert}"),
                format!(r#"{{"v":1,"id":"{alert}","site":"{site}","state":"open"}}"#),
            ),
        ] {
            publisher
                .client
                .publish(topic, QoS::AtLeastOnce, true, payload)
                .await?;
        }
    }
    let six = |m: &[(String, String)]| m.iter().filter(|(_, p)| !p.is_empty()).count() >= 6;
    retained(&stack, six)
        .await
        .context("the retained messages before erasing")?;

    // Ingest's spool holds a batch with both households' lines; the dead letters name both.
    {
        let metrics = zw_ingest::Metrics::unregistered()?;
        let spool = zw_ingest::spool::Spool::open(&spool_path, 1 << 30, 1 << 20, metrics).await?;
        let batch = "readings,device=hh-12-plug,site=hh-12 active_power=7 1\nreadings,device=hh-13-plug,site=hh-13 active_power=8 1\n";
        spool
            .push(Bytes::from(batch), 2, &CancellationToken::new())
            .await?;
    }
    let letters = [
        r#"{"time":"2026-11-21T10:00:00Z","source":"bus","reason":"unknown_device","topic":"zw/v1/readings/hh-12/ghost","payload":"{\"site\":\"hh-12\"}"}"#,
        r#"{"time":"2026-11-21T10:00:00Z","source":"influx","reason":"rejected","status":400,"message":"partial write","line":"readings,device=hh-12-plug,site=hh-12 active_power=1 1"}"#,
        r#"{"time":"2026-11-21T10:00:00Z","source":"bus","reason":"unknown_device","topic":"zw/v1/readings/hh-13/ghost","payload":"{\"site\":\"hh-13\"}"}"#,
    ];
    std::fs::write(&dead_letters, letters.join("\n") + "\n")?;

    // The store: an alert episode of each household, a comment on hh-12's.
    let store = Store::connect(&store_url).await?;
    let at = Utc::now() - TimeDelta::minutes(5);
    let mut episodes = Vec::new();
    for site in SITES {
        let alert = NewAlert {
            alert_id: format!("left_on.{site}.{site}-plug"),
            kind: "left_on".into(),
            site: Some(site.into()),
            subject: format!("{site}-plug"),
            detail: Some(serde_json::json!({ "observed": 812.5, "site": site })),
        };
        episodes.push(store.open_alert(Stamp::new("analytics", at), &alert).await?);
    }
    store
        .comment_alert(Stamp::new("fm", at), &episodes[0].id, "kettle left on")
        .await?;
    store.close().await;

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["erase", "--site", "hh-12", "--store", &store_url, "--config"])
        .arg(&cfg_path)
        .output()
        .await?;
    let printed = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "erase failed: {printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "spool: 1 line(s) of site hh-12 removed from 1 batch(es)",
        "dead letters: 2 line(s) of site hh-12 removed",
        "bus: 1 reading(s), 1 device status(es), 1 alert(s), 0 tree status(es) of site hh-12 cleared",
        "store: 1 alert episode(s), 1 comment(s), 0 watering(s), 0 activation code(s) of site hh-12 deleted",
        "erased site hh-12: influxdb ",
    ] {
        assert!(printed.contains(want), "{want:?} not in:\n{printed}");
    }

    // InfluxDB: nothing of hh-12 in any measurement; hh-13's four rows stay.
    assert_eq!(influx_rows(&stack, "hh-12").await?, Vec::<String>::new());
    assert_eq!(influx_rows(&stack, "hh-13").await?.len(), 4);
    let series = influx_query(&stack.influx_url(), stack.influx_db(), "SHOW SERIES").await?;
    let keys: Vec<String> = series_values(&series)
        .iter()
        .filter_map(|r| Some(r.first()?.as_str()?.to_owned()))
        .collect();
    assert!(keys.iter().all(|k| !k.contains("hh-12")), "{keys:?}");

    // The bus: hh-13's three retained messages, nothing naming hh-12.
    let three = |m: &[(String, String)]| m.iter().filter(|(t, _)| t.contains("hh-13")).count() >= 3;
    let left = retained(&stack, three).await?;
    let of_12: Vec<_> = left
        .iter()
        .filter(|(t, p)| t.contains("hh-12") || p.contains("hh-12"))
        .collect();
    assert!(of_12.is_empty(), "{of_12:?}");

    // The spool: hh-13's line only.
    {
        let metrics = zw_ingest::Metrics::unregistered()?;
        let spool = zw_ingest::spool::Spool::open(&spool_path, 1 << 30, 1 << 20, metrics).await?;
        let batches = spool.oldest(&HashSet::new(), 100).await?;
        let bodies: Vec<String> = batches
            .iter()
            .map(|b| String::from_utf8_lossy(&b.1).into_owned())
            .collect();
        assert_eq!(
            bodies,
            ["readings,device=hh-13-plug,site=hh-13 active_power=8 1\n"]
        );
    }

    // The dead letters: hh-13's only.
    let dead = std::fs::read_to_string(&dead_letters)?;
    assert_eq!(dead, format!("{}\n", letters[2]));

    // The store: hh-12's episode and comment gone, its audit bodies empty, the erasure audited; hh-13's stays.
    let store = Store::connect(&store_url).await?;
    let history = store
        .alert_history(None, at - TimeDelta::days(1), Utc::now() + TimeDelta::days(1))
        .await?;
    let ids: Vec<&str> = history.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [episodes[1].id.as_str()]);
    assert_eq!(history[0].alert, episodes[1].alert);
    assert_eq!(store.alert_comments(&episodes[0].id).await?, []);
    for entry in store.audit_log(None, None).await? {
        let bodies = format!("{:?} {:?}", entry.before, entry.after);
        assert!(entry.action == "erase" || !bodies.contains("hh-12"), "{entry:?}");
    }
    let erase = store.audit_log(Some("site"), Some("hh-12")).await?;
    assert_eq!(
        erase.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["erase"]
    );
    store.close().await;

    // Erasing again finds nothing.
    let again = tokio::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["erase", "--site", "hh-12", "--store", &store_url, "--config"])
        .arg(&cfg_path)
        .output()
        .await?;
    let printed = String::from_utf8_lossy(&again.stdout);
    ensure!(again.status.success(), "second erase failed: {printed}");
    assert!(
        printed.contains("erased site hh-12: influxdb 0 tag value(s), spool 0 line(s), dead letters 0 line(s), bus 0 retained message(s), store 0 alert(s)"),
        "{printed}"
    );
    Ok(())
}
