//! Issue 18: the alert book survives the loss of the broker's retained state. An alert is published
//! retained, as analytics publishes it; the API (with `[store]`) records it in the alert book, an admin
//! acknowledges it with a comment; the broker is stopped, its persistence file deleted and it is started
//! empty, and the API restarted (its mirror empty too): the alert is still listed, acknowledged by the
//! admin, with the comment, from the store.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use zw_model::alert::AlertId;
use zw_model::{Inventory, topic};
use zw_tests::{Stack, free_port};

use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get};

const WAIT: Duration = Duration::from_secs(30);
const ALERT: &str = "high_consumption.rathaus.rathaus-main";
const COMMENT: &str = "Lüftung läuft nachts, Hausmeister informiert";

/// The listed alert with id [`ALERT`] in `GET /api/v1/alerts?state=all`, if any.
async fn listed(api: &str) -> Option<serde_json::Value> {
    let (code, body) = get(&format!("{api}/api/v1/alerts?state=all"), Some("tok-admin"))
        .await
        .ok()?;
    (code == 200).then_some(())?;
    body.as_array()?.iter().find(|a| a["id"] == ALERT).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_and_comment_survive_losing_the_brokers_state() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let mut cfg = serving(&stack, port);
    cfg.store.url = Some(format!(
        "sqlite://{}",
        stack.state_dir().join("store.db").display()
    ));
    cfg.inventory = Inventory::builder()
        .building(
            "rathaus",
            [zw_model::Device::modbus(
                "rathaus-main",
                "127.0.0.1:1",
                1,
                "sdm630",
            )],
        )
        .build();
    cfg.inventory.users.push(admin());
    let path = write(&stack, &cfg)?;
    let publisher = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-alert-book-publisher",
        &[topic::ALERT_ACK],
        QoS::AtLeastOnce,
    )
    .await?;
    let alert = serde_json::json!({
        "v": 1, "id": ALERT, "kind": "high_consumption", "category": "energy",
        "site": "rathaus", "subject": { "device": "rathaus-main" }, "state": "open", "severity": "warning",
        "opened_at": "2026-11-21T09:00:00Z", "updated_at": "2026-11-21T09:45:00Z",
        "explanation": { "observed": 3200.0, "expected": 1100.0, "threshold": 2000.0, "unit": "W",
            "baseline": "Tuesday 02:00", "since": "2026-11-21T09:00:00Z", "text": "3.2 kW above the usual 1.1 kW" }
    });
    publisher
        .client
        .publish(
            topic::alert(&AlertId::parse(ALERT).context("id")?),
            QoS::AtLeastOnce,
            true,
            serde_json::to_vec(&alert)?,
        )
        .await?;
    let server = Zaehlwerk::start("api", &path, stack.state_dir())?;
    // Recorded in the book: the listed alert names its episode.
    eventually(WAIT, "the alert recorded in the alert book", || async {
        listed(&api).await.filter(|a| a["episode"].is_string())
    })
    .await
    .with_context(|| server.log_tail())?;

    let resp = reqwest::Client::new()
        .post(format!("{api}/api/v1/alerts/{ALERT}/ack"))
        .bearer_auth("tok-admin")
        .json(&serde_json::json!({ "comment": COMMENT }))
        .timeout(Duration::from_secs(15))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 202, "{}", server.log_tail());
    let acked: serde_json::Value = resp.json().await?;
    assert_eq!(acked["acknowledged_by"], "admin", "{acked}");
    assert_eq!(acked["comments"][0]["body"], COMMENT, "{acked}");
    // A comment that is not text is refused with a reason, not stored.
    let bad = reqwest::Client::new()
        .post(format!("{api}/api/v1/alerts/{ALERT}/ack"))
        .bearer_auth("tok-admin")
        .json(&serde_json::json!({ "comment": 42 }))
        .send()
        .await?;
    assert_eq!(bad.status().as_u16(), 400);

    // The broker loses everything it held: stopped, its persistence file deleted, started empty.
    stack.stop_mosquitto().await;
    let db = stack.state_dir().join("mosquitto").join("mosquitto.db");
    if db.exists() {
        std::fs::remove_file(&db).with_context(|| format!("deleting {}", db.display()))?;
    }
    stack.start_mosquitto().await?;
    // And the API starts again, its mirror empty: only the store knows the alert now.
    server.stop(Duration::from_secs(15)).await?;
    let server = Zaehlwerk::start("api", &path, stack.state_dir())?;
    let a = eventually(WAIT, "the alert listed after the broker lost it", || async {
        listed(&api).await
    })
    .await
    .with_context(|| server.log_tail())?;
    assert_eq!(a["state"], "acknowledged", "{a}");
    assert_eq!(a["acknowledged_by"], "admin", "{a}");
    assert_eq!(a["comments"][0]["author"], "admin", "{a}");
    assert_eq!(a["comments"][0]["body"], COMMENT, "{a}");
    assert_eq!(a["explanation"]["text"], "3.2 kW above the usual 1.1 kW", "{a}");
    let (code, one) = get(&format!("{api}/api/v1/alerts/{ALERT}"), Some("tok-admin")).await?;
    assert_eq!(code, 200, "{one}");
    assert_eq!(one["comments"][0]["body"], COMMENT, "{one}");
    server.stop(Duration::from_secs(15)).await?;
    Ok(())
}
