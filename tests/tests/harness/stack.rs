//! Tests of the harness's stack itself, against the real mosquitto and influxd binaries.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use zw_tests::{Stack, influx_query, influx_write, series_values};

/// Upper bound for any single step that waits on a service.
const STEP: Duration = Duration::from_secs(20);

#[tokio::test]
async fn stack_starts_both_services_and_creates_the_database() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    assert_eq!(stack.mqtt_host(), "127.0.0.1");
    assert_ne!(stack.mqtt_port(), 0);
    assert!(stack.influx_url().starts_with("http://127.0.0.1:"));
    assert_eq!(stack.influx_db(), "zaehlwerk");
    assert!(stack.state_dir().join("mosquitto/mosquitto.conf").is_file());
    assert!(stack.state_dir().join("influxd/influxdb.conf").is_file());

    let answer = influx_query(&stack.influx_url(), stack.influx_db(), "SHOW DATABASES").await?;
    let names: Vec<_> = series_values(&answer)
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    assert!(names.contains(&"zaehlwerk".into()), "databases: {names:?}");
    Ok(())
}

#[tokio::test]
async fn influx_write_then_query_returns_the_point() -> anyhow::Result<()> {
    let stack = Stack::builder()
        .influxd()
        .influx_database("harness_rw")
        .start()
        .await?;
    let (url, db) = (stack.influx_url(), stack.influx_db());
    influx_write(
        &url,
        db,
        "ms",
        "energy,device=m-1 import_wh=1234.5 1700000000123\n",
    )
    .await?;

    let answer = influx_query(&url, db, "SELECT import_wh, device FROM energy").await?;
    let rows = series_values(&answer);
    assert_eq!(rows.len(), 1, "{answer}");
    assert_eq!(rows[0][0], "2023-11-14T22:13:20.123Z");
    assert_eq!(rows[0][1], 1234.5);
    assert_eq!(rows[0][2], "m-1");
    Ok(())
}

#[tokio::test]
async fn influx_query_reports_statement_errors() -> anyhow::Result<()> {
    let stack = Stack::builder().influxd().start().await?;
    let err = influx_query(&stack.influx_url(), stack.influx_db(), "SELECT FROM nowhere")
        .await
        .expect_err("bad query");
    assert!(err.to_string().contains("SELECT FROM nowhere"), "{err:#}");
    Ok(())
}

#[tokio::test]
async fn mosquitto_accepts_a_client_and_routes_qos1() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().start().await?;
    let (sub, mut sub_loop) = client(&stack, "harness-sub", true);
    sub.subscribe("zw/harness/#", QoS::AtLeastOnce).await?;
    wait_for(&mut sub_loop, |e| matches!(e, Event::Incoming(Packet::SubAck(_)))).await?;

    let (publisher, mut pub_loop) = client(&stack, "harness-pub", true);
    publisher
        .publish("zw/harness/a", QoS::AtLeastOnce, false, b"hello".to_vec())
        .await?;
    wait_for(&mut pub_loop, |e| matches!(e, Event::Incoming(Packet::PubAck(_)))).await?;

    let got = next_publish(&mut sub_loop).await?;
    assert_eq!(got.topic, "zw/harness/a");
    assert_eq!(&got.payload[..], b"hello");
    Ok(())
}

#[tokio::test]
async fn mosquitto_restart_keeps_messages_queued_for_a_persistent_session() -> anyhow::Result<()> {
    const N: usize = 50;
    let stack = Stack::builder().mosquitto().start().await?;

    // A persistent subscriber registers its subscription and goes away cleanly.
    let (sub, mut sub_loop) = client(&stack, "harness-persistent", false);
    sub.subscribe("zw/queued", QoS::AtLeastOnce).await?;
    wait_for(&mut sub_loop, |e| matches!(e, Event::Incoming(Packet::SubAck(_)))).await?;
    sub.disconnect().await?;
    wait_for(&mut sub_loop, |e| {
        matches!(e, Event::Outgoing(Outgoing::Disconnect))
    })
    .await?;
    drop((sub, sub_loop));

    let (publisher, mut pub_loop) = client(&stack, "harness-pub", true);
    for i in 0..N {
        publisher
            .publish("zw/queued", QoS::AtLeastOnce, false, i.to_string())
            .await?;
    }
    for _ in 0..N {
        wait_for(&mut pub_loop, |e| matches!(e, Event::Incoming(Packet::PubAck(_)))).await?;
    }
    drop((publisher, pub_loop));

    let port = stack.mqtt_port();
    stack.stop_mosquitto().await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "broker still listening"
    );
    stack.start_mosquitto().await?;
    assert_eq!(stack.mqtt_port(), port);

    let (_sub, mut sub_loop) = client(&stack, "harness-persistent", false);
    let mut payloads = Vec::new();
    while payloads.len() < N {
        let p = next_publish(&mut sub_loop)
            .await
            .with_context(|| stack.log_tails())?;
        payloads.push(String::from_utf8_lossy(&p.payload).into_owned());
    }
    let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    Ok(())
}

#[tokio::test]
async fn influxd_restart_keeps_port_and_data() -> anyhow::Result<()> {
    let stack = Stack::builder().influxd().start().await?;
    let (url, db) = (stack.influx_url(), stack.influx_db().to_owned());
    influx_write(&url, &db, "ms", "p v=1 1700000000000\np v=2 1700000001000\n").await?;

    stack.stop_influxd().await;
    assert!(
        influx_query(&url, &db, "SELECT v FROM p").await.is_err(),
        "influxd still answers"
    );
    stack.start_influxd().await?;
    assert_eq!(stack.influx_url(), url);

    let answer = influx_query(&url, &db, "SELECT v FROM p").await?;
    let values: Vec<_> = series_values(&answer)
        .into_iter()
        .map(|row| row[1].clone())
        .collect();
    assert_eq!(values, vec![serde_json::json!(1), serde_json::json!(2)]);
    // Starting a running service is a no-op.
    stack.start_influxd().await?;
    Ok(())
}

#[tokio::test]
async fn parallel_stacks_get_different_ports_and_dirs() -> anyhow::Result<()> {
    let (a, b) = tokio::try_join!(
        Stack::builder().mosquitto().influxd().start(),
        Stack::builder().mosquitto().influxd().start()
    )?;
    assert_ne!(a.mqtt_port(), b.mqtt_port());
    assert_ne!(a.influx_url(), b.influx_url());
    assert_ne!(a.state_dir(), b.state_dir());
    influx_write(&a.influx_url(), a.influx_db(), "s", "only_in_a v=1 1700000000\n").await?;
    let in_b = influx_query(&b.influx_url(), b.influx_db(), "SELECT v FROM only_in_a").await?;
    assert!(series_values(&in_b).is_empty());
    Ok(())
}

#[tokio::test]
async fn dropping_the_stack_stops_services_and_removes_state() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (dir, port, url) = (
        stack.state_dir().to_path_buf(),
        stack.mqtt_port(),
        stack.influx_url(),
    );
    drop(stack);
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
    assert!(influx_query(&url, "zaehlwerk", "SHOW DATABASES").await.is_err());
    if std::env::var_os("ZW_KEEP_TEST_STATE").is_none() {
        assert!(!dir.exists(), "{} still exists", dir.display());
    }
    Ok(())
}

#[tokio::test]
async fn missing_binary_points_to_the_setup_script() {
    let err = Stack::builder()
        .influxd()
        .influxd_bin("/nonexistent/influxd")
        .start()
        .await
        .expect_err("no binary");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/influxd") && msg.contains("deploy/setup.sh"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_service_that_dies_at_start_reports_its_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = dir.path().join("fake-mosquitto");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'config rejected: unknown option' >&2\nexit 3\n",
    )?;
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;

    let err = Stack::builder()
        .mosquitto()
        .mosquitto_bin(&fake)
        .start()
        .await
        .expect_err("fake dies");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("exited while starting") && msg.contains("config rejected"),
        "{msg}"
    );
    Ok(())
}

fn client(stack: &Stack, id: &str, clean_session: bool) -> (AsyncClient, EventLoop) {
    let mut opts = zw_tests::mqtt::options(id, stack.mqtt_host(), stack.mqtt_port());
    opts.set_clean_session(clean_session)
        .set_keep_alive(Duration::from_secs(10));
    AsyncClient::new(opts, 100)
}

/// Polls the event loop until `pred` matches; any connection error fails the test.
async fn wait_for(eventloop: &mut EventLoop, pred: impl Fn(&Event) -> bool) -> anyhow::Result<Event> {
    tokio::time::timeout(STEP, async {
        loop {
            let event = eventloop.poll().await?;
            if pred(&event) {
                return anyhow::Ok(event);
            }
        }
    })
    .await
    .context("timed out waiting for an MQTT event")?
}

async fn next_publish(eventloop: &mut EventLoop) -> anyhow::Result<rumqttc::Publish> {
    match wait_for(eventloop, |e| matches!(e, Event::Incoming(Packet::Publish(_)))).await? {
        Event::Incoming(Packet::Publish(p)) => Ok(p),
        other => anyhow::bail!("unexpected event {other:?}"),
    }
}
