//! Onboarding a household while everything runs, on SQLite and on a real PostgreSQL: the system (`zaehlwerk
//! all`: gateway, ingest, analytics and API, with `[store] url`) runs against a real mosquitto and influxd;
//! an admin creates a household with a Tasmota plug through `POST /api/v1/admin/households`, the resident
//! redeems the activation code (`POST /api/v1/activate`), and then
//! - a reading of the new device published a moment after it was created is stored, not dead-lettered
//!   (ingest's known pairs follow the live inventory),
//! - the plug's own MQTT message reaches the resident's live view and history (the gateway routes it),
//! - the change is audited, and revoking the resident's tokens makes the token 401 at the next request;
//!
//! with no file edited and no process restarted. Once more with gateway, ingest, analytics and API as four
//! processes, which learn of the change only from the notice on the bus and reload from the store.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use chrono::Utc;
use rumqttc::QoS;
use serde_json::{Value, json};
use zw_model::{Device, Id, Inventory, Quantity, Reading};
use zw_tests::{Stack, StoreBackend, free_port};

use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_onboarded_through_the_admin_api_sees_its_values_on_sqlite() -> anyhow::Result<()> {
    onboard(StoreBackend::Sqlite, &["all"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_onboarded_through_the_admin_api_sees_its_values_on_postgres() -> anyhow::Result<()> {
    onboard(StoreBackend::Postgres, &["all"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_onboarded_while_four_processes_run_sees_its_values() -> anyhow::Result<()> {
    onboard(StoreBackend::Sqlite, &["gateway", "ingest", "analytics", "api"]).await
}

/// The last lines of every process's log.
fn tails(procs: &[Zaehlwerk]) -> String {
    procs
        .iter()
        .map(|p| format!("{}:\n{}", p.log.display(), p.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A request with a JSON body (and an optional bearer token); status and JSON answer (Null if none).
async fn send(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The value of `q` of the site's first device in a `/sites/{id}/live` answer.
fn live_value(live: &Value, q: &str) -> Option<f64> {
    live["devices"][0]["values"][q]["value"].as_f64()
}

/// The counter `name{reason="…"}` in a Prometheus text, 0 when absent.
fn counter(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn onboard(backend: StoreBackend, processes: &[&str]) -> anyhow::Result<()> {
    let mut builder = Stack::builder().mosquitto().influxd();
    if backend == StoreBackend::Postgres {
        builder = builder.postgres();
    }
    let stack = builder.start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    cfg.store.url = Some(stack.store_url(backend, "onboarding").await?);
    cfg.inventory = Inventory::builder()
        .household("hh-1", [Device::tasmota("hh-1-plug", "plug_1")])
        .build();
    cfg.inventory.users.push(admin());
    let cfg_path = write(&stack, &cfg)?;
    let harness = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-onboarding",
        &["zw/v1/inventory/changed"],
        QoS::AtLeastOnce,
    )
    .await?;
    let (mqtt, mut notices) = (harness.client, harness.messages);
    let procs = processes
        .iter()
        .map(|sub| Zaehlwerk::start(sub, &cfg_path, stack.state_dir()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| tails(&procs))?;

    // Every process follows the notices (its feed is connected) before the change is made.
    for (sub, proc) in processes.iter().zip(&procs) {
        // `all` logs in with its first service's account (the gateway's).
        let line = format!("client={}-inventory", if *sub == "all" { "gateway" } else { sub });
        eventually(WAIT, &format!("{sub}'s inventory feed"), || async {
            std::fs::read_to_string(&proc.log)
                .ok()?
                .contains(&line)
                .then_some(())
        })
        .await
        .with_context(|| tails(&procs))?;
    }

    // The admin creates the household with its plug; the answer carries the activation code.
    let (status, created) = send(
        reqwest::Method::POST,
        &format!("{api}/api/v1/admin/households"),
        Some("tok-admin"),
        Some(json!({
            "id": "hh-42",
            "name": "Familie Beispiel",
            "since": "2026-01-01",
            "devices": [{"id": "hh-42-plug", "source": {"type": "tasmota", "topic": "plug_42"}}],
        })),
    )
    .await?;
    ensure!(
        status == 201,
        "create household: {status} {created}\n{}",
        tails(&procs)
    );
    assert_eq!(created["site"], "hh-42");
    let code = created["activation_code"]
        .as_str()
        .context("activation code")?
        .to_owned();

    // Four processes: ingest has the device once it applied the notice (one process: at once, the API
    // replaced the inventory it shares with ingest before answering).
    if let Some(ingest) = procs.iter().find(|p| p.log.ends_with("ingest.log")) {
        eventually(WAIT, "ingest reloading the inventory", || async {
            std::fs::read_to_string(&ingest.log)
                .ok()?
                .contains("Inventory reloaded from the store.")
                .then_some(())
        })
        .await
        .with_context(|| tails(&procs))?;
    }
    // A reading of the new device right away: stored, not dead-lettered as an unknown pair.
    let site = Id::new("hh-42")?;
    let device = Id::new("hh-42-plug")?;
    let earlier = Utc::now() - chrono::Duration::seconds(60);
    let reading = Reading::new(
        site.clone(),
        device.clone(),
        earlier,
        BTreeMap::from([(Quantity::ActivePower, 111.0)]),
    );
    mqtt.publish(
        zw_model::topic::readings(&site, &device),
        QoS::AtLeastOnce,
        false,
        reading.to_json(),
    )
    .await?;
    let (influx_url, db) = (stack.influx_url(), stack.influx_db().to_owned());
    eventually(WAIT, "the new device's first reading in InfluxDB", || {
        let (influx_url, db) = (influx_url.clone(), db.clone());
        async move {
            let q = "SELECT active_power FROM readings WHERE device = 'hh-42-plug'";
            let answer = zw_tests::influx_query(&influx_url, &db, q).await.ok()?;
            (!zw_tests::series_values(&answer).is_empty()).then_some(())
        }
    })
    .await
    .with_context(|| tails(&procs))?;
    let text = metrics(&api).await.context("metrics")?;
    assert_eq!(
        counter(
            &text,
            "zw_ingest_readings_rejected_total{reason=\"unknown_device\"}"
        ),
        0.0,
        "the new device's reading was dead-lettered"
    );

    // The change notice is on the bus, retained, with the store's version.
    let (topic, payload) = tokio::time::timeout(WAIT, notices.recv())
        .await?
        .context("no change notice")?;
    assert_eq!(topic, zw_bus::ChangeNotice::TOPIC);
    let notice = zw_bus::ChangeNotice::parse(&payload).context("notice")?;
    assert_eq!(notice.by, "admin");
    assert!(notice.version > 0, "{notice:?}");

    // The resident activates the code and gets a token.
    let (status, activated) = send(
        reqwest::Method::POST,
        &format!("{api}/api/v1/activate"),
        None,
        Some(json!({ "code": code })),
    )
    .await?;
    ensure!(status == 201, "activate: {status} {activated}");
    assert_eq!(activated["site"], "hh-42");
    let token = activated["token"].as_str().context("token")?.to_owned();

    // The plug publishes (until the gateway, following the inventory, routes its topic): the resident
    // sees the value live.
    let live_url = format!("{api}/api/v1/sites/hh-42/live");
    let live = eventually(WAIT, "the plug's power in the resident's live view", || {
        let (mqtt, live_url, token) = (mqtt.clone(), live_url.clone(), token.clone());
        async move {
            let payload = r#"{"ENERGY":{"Total":1.25,"Power":42.5}}"#;
            mqtt.publish("tele/plug_42/SENSOR", QoS::AtLeastOnce, false, payload)
                .await
                .ok()?;
            let (status, body) = get(&live_url, Some(&token)).await.ok()?;
            (status == 200 && live_value(&body, "active_power") == Some(42.5)).then_some(body)
        }
    })
    .await
    .with_context(|| tails(&procs))?;
    assert_eq!(live["site"], "hh-42");
    let (status, history) = get(
        &format!("{api}/api/v1/devices/hh-42-plug/history?quantity=active_power&window=1m"),
        Some(&token),
    )
    .await?;
    assert_eq!(status, 200, "{history}");
    let points = history["points"].as_array().context("points")?;
    assert!(!points.is_empty(), "no history: {history}");
    // The resident sees only their household.
    let (status, _) = get(&format!("{api}/api/v1/sites/hh-1/live"), Some(&token)).await?;
    assert_eq!(status, 404, "another household is hidden");

    // The admin change is audited.
    let (status, audit) = send(
        reqwest::Method::GET,
        &format!("{api}/api/v1/admin/audit?entity=site&limit=50"),
        Some("tok-admin"),
        None,
    )
    .await?;
    assert_eq!(status, 200, "{audit}");
    let text = audit.to_string();
    assert!(
        text.contains("\"hh-42\"") && text.contains("\"admin\""),
        "no audit entry of the admin creating hh-42: {audit}"
    );

    // Revoking is one call; the token is refused at the next request.
    let (status, body) = send(
        reqwest::Method::DELETE,
        &format!("{api}/api/v1/admin/users/hh-42/tokens"),
        Some("tok-admin"),
        None,
    )
    .await?;
    ensure!((200..300).contains(&status), "revoke: {status} {body}");
    let (status, _) = get(&live_url, Some(&token)).await?;
    assert_eq!(status, 401, "a revoked token still works");

    for p in procs {
        p.stop(Duration::from_secs(15)).await?;
    }
    Ok(())
}
