//! Issue 16: the API answers 202 to an alert acknowledgement only once the broker confirmed it holds the
//! command, and 503 while the broker is away (the client retries; acknowledging twice is harmless). The
//! alert is put on the bus retained, as analytics publishes it; an independent subscriber sees each
//! confirmed command, and the 503 is counted in `zw_api_commands_unconfirmed_total`.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use zw_model::{Inventory, topic};
use zw_tests::{Stack, free_port};

use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const WAIT: Duration = Duration::from_secs(30);
const ALERT: &str = "high_consumption.rathaus.rathaus-main";

/// POSTs an acknowledgement of [`ALERT`] as the admin; returns the status.
async fn ack(api: &str) -> anyhow::Result<u16> {
    let resp = reqwest::Client::new()
        .post(format!("{api}/api/v1/alerts/{ALERT}/ack"))
        .bearer_auth("tok-admin")
        .timeout(Duration::from_secs(15))
        .send()
        .await?;
    Ok(resp.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_is_accepted_only_once_the_broker_holds_it() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let mut cfg = serving(&stack, port);
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
    let mut observer = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-api-ack-observer",
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
    observer
        .client
        .publish(
            topic::alert(&zw_model::alert::AlertId::parse(ALERT).context("id")?),
            QoS::AtLeastOnce,
            true,
            serde_json::to_vec(&alert)?,
        )
        .await?;
    let server = Zaehlwerk::start("api", &path, stack.state_dir())?;
    eventually(WAIT, "the alert in the API", || async {
        let (code, body) = get(&format!("{api}/api/v1/alerts"), Some("tok-admin"))
            .await
            .ok()?;
        (code == 200 && body.as_array().is_some_and(|a| !a.is_empty())).then_some(())
    })
    .await
    .with_context(|| server.log_tail())?;

    assert_eq!(ack(&api).await?, 202, "{}", server.log_tail());
    let (t, payload) = tokio::time::timeout(WAIT, observer.messages.recv())
        .await
        .context("no command on the bus")?
        .context("observer gone")?;
    assert_eq!(t, topic::ALERT_ACK);
    let cmd: serde_json::Value = serde_json::from_slice(&payload)?;
    assert_eq!(cmd["alert"], ALERT, "{cmd}");
    assert_eq!(cmd["by"], "admin", "{cmd}");

    // The broker is away: the API says so instead of accepting a command that may be lost.
    stack.stop_mosquitto().await;
    eventually(WAIT, "the API to notice the broker is gone", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 503).then_some(())
    })
    .await?;
    assert_eq!(ack(&api).await?, 503, "{}", server.log_tail());
    let text = metrics(&api).await.context("/metrics")?;
    assert!(
        text.lines().any(|l| l == "zw_api_commands_unconfirmed_total 1"),
        "{text}"
    );

    // Back: accepted again, and the command arrives.
    stack.start_mosquitto().await?;
    let mut observer = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-api-ack-observer-2",
        &[topic::ALERT_ACK],
        QoS::AtLeastOnce,
    )
    .await?;
    let code = eventually(
        WAIT,
        "an acknowledgement accepted after the broker is back",
        || async {
            let code = ack(&api).await.ok()?;
            (code == 202).then_some(code)
        },
    )
    .await
    .with_context(|| server.log_tail())?;
    assert_eq!(code, 202);
    let (t, _) = tokio::time::timeout(WAIT, observer.messages.recv())
        .await
        .context("no command on the bus after the restart")?
        .context("observer gone")?;
    assert_eq!(t, topic::ALERT_ACK);
    server.stop(Duration::from_secs(15)).await?;
    Ok(())
}
