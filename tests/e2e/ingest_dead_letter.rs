//! Issue 5: a batch with some bad lines. Good readings are stored; readings InfluxDB refuses (a field type
//! conflict) and messages that fail validation are in the dead-letter file, each with its reason.

use chrono::{TimeDelta, Utc};
use rumqttc::QoS;
use zw_tests::{Stack, influx_write};

use crate::ingest_support::{Ingest, Publisher, WAIT, await_count, await_subscribed, count, reading};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_go_to_the_dead_letter_file_with_reasons() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    // `voltage_l1` becomes a string field in this shard, so float values for it are refused (HTTP 400,
    // partial write). The test readings are all one day back, in the same shard.
    let (_, sample) = reading("dl", 0);
    let ts: serde_json::Value = serde_json::from_slice(&sample)?;
    let ts_ms =
        chrono::DateTime::parse_from_rfc3339(ts["ts"].as_str().unwrap_or_default())?.timestamp_millis();
    influx_write(
        &stack.influx_url(),
        stack.influx_db(),
        "ms",
        &format!("readings,device=other,site=other voltage_l1=\"text\" {ts_ms}\n"),
    )
    .await?;

    let ingest = Ingest::start(&stack, "ingest1", |_| {})?;
    let publisher = Publisher::new(&stack, "pub-dl");
    await_subscribed(&publisher, || async {
        count(&stack, "probe").await.unwrap_or(0) > 0
    })
    .await?;

    // The records also go to the dead-letter topic (set for every test instance in `Ingest::start`).
    let on_topic = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "dl-watch",
        &["zw/v1/deadletter/ingest/ingest1"],
        QoS::AtLeastOnce,
    )
    .await?
    .into_json_log();

    const GOOD: u64 = 60;
    let mut msgs: Vec<(String, Vec<u8>)> = (0..GOOD).map(|i| reading("dl", i)).collect();
    // Three readings InfluxDB refuses, in the middle of the good ones.
    for (k, i) in [(10usize, 1000u64), (30, 1001), (50, 1002)] {
        let (topic, json) = reading("dl", i);
        let text = String::from_utf8(json)?.replace("\"values\":{", "\"values\":{\"voltage_l1\":230.5,");
        msgs.insert(k, (topic, text.into_bytes()));
    }
    // Four messages that fail validation.
    let old = (Utc::now() - TimeDelta::days(30)).to_rfc3339();
    msgs.extend([
        ("zw/v1/readings/dl/dev-1".to_owned(), b"not json".to_vec()),
        ("zw/v1/readings/dl/dev-2".to_owned(), reading("dl", 3).1),
        (
            "zw/v1/readings/dl/dev-1".to_owned(),
            format!(r#"{{"v":1,"site":"dl","device":"dev-1","ts":"{old}","values":{{"active_power":1}}}}"#)
                .into_bytes(),
        ),
        (
            "zw/v1/readings/dl/dev-1".to_owned(),
            br#"{"v":1,"site":"dl","device":"dev-1","ts":"2026-01-01T00:00:00Z","values":{"watts":1}}"#
                .to_vec(),
        ),
    ]);
    publisher.publish_chunk(&msgs).await?;

    await_count(&stack, "dl", GOOD, &ingest.log_tail()).await?;
    let records = eventually(WAIT, "7 dead letters", || async {
        let r = ingest.dead_letters();
        (r.len() >= 7).then_some(r)
    })
    .await
    .map_err(|e| e.context(format!("{:?}\n{}", ingest.dead_letters(), ingest.log_tail())))?;
    assert_eq!(records.len(), 7, "{records:#?}");

    let refused: Vec<_> = records.iter().filter(|r| r["source"] == "influx").collect();
    assert_eq!(refused.len(), 3, "{records:#?}");
    for r in &refused {
        assert_eq!(r["reason"], "rejected", "{r}");
        assert_eq!(r["status"], 400, "{r}");
        assert!(
            r["message"].as_str().unwrap_or_default().contains("conflict"),
            "{r}"
        );
        assert!(
            r["line"]
                .as_str()
                .unwrap_or_default()
                .contains("voltage_l1=230.5"),
            "{r}"
        );
    }
    let mut reasons: Vec<&str> = records
        .iter()
        .filter(|r| r["source"] == "bus")
        .map(|r| r["reason"].as_str().unwrap_or_default())
        .collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        ["malformed", "malformed", "timestamp", "topic_mismatch"],
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["source"] == "bus")
            .all(|r| r["payload"].is_string() && r["topic"].is_string())
    );
    assert_eq!(ingest.metric("zw_ingest_dead_letter_records_total").await, 7.0);

    let published = eventually(WAIT, "7 dead letters on the topic", || async {
        let r: Vec<serde_json::Value> = on_topic
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(_, v)| v.clone())
            .collect();
        (r.len() >= 7).then_some(r)
    })
    .await?;
    let mut topic_reasons: Vec<String> = published
        .iter()
        .map(|r| format!("{}/{}", r["source"], r["reason"]))
        .collect();
    let mut file_reasons: Vec<String> = records
        .iter()
        .map(|r| format!("{}/{}", r["source"], r["reason"]))
        .collect();
    topic_reasons.sort_unstable();
    file_reasons.sort_unstable();
    assert_eq!(topic_reasons, file_reasons);
    Ok(())
}
