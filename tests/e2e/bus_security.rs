//! Black-box checks of the shipped broker configuration (`deploy/conf/mosquitto.conf.in` and
//! `deploy/conf/mosquitto.acl`, run by the harness as shipped): who may connect, read and write what, and TLS.
//!
//! "Nothing arrives" is never waited for by time: every check ends with a sentinel message the account under
//! test (or the privileged observer) may receive, published after the forbidden ones were acknowledged by
//! the broker; the broker routes a publish to its subscribers before it acknowledges it, so whatever was
//! going to arrive has arrived before the sentinel.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS, TlsConfiguration,
    Transport,
};
use zw_tests::mqtt::{self, Subscription};
use zw_tests::{MqttCredentials, Role, Stack};

/// Upper bound for one broker round trip.
const WAIT: Duration = Duration::from_secs(10);
/// The one device account of these stacks: a Tasmota plug whose Topic is `plug-1`.
const DEVICE: &str = "plug-1";

/// Topics only services may write, one per kind the issue names (readings, batches, statuses, commands,
/// alerts, trees, weather).
const INTERNAL: [&str; 7] = [
    "zw/v1/readings/hh-1/plug-1",
    "zw/v1/batches/plug-1",
    "zw/v1/status/device/plug-1",
    "zw/v1/commands/alerts/ack",
    "zw/v1/alerts/left_on.hh-1.plug-1",
    "zw/v1/trees/t-1",
    "zw/v1/weather/town",
];

async fn stack() -> anyhow::Result<Stack> {
    Stack::builder()
        .mosquitto()
        .mqtt_device_account(DEVICE)
        .start()
        .await
}

/// How the connection attempt of `opts` ended: `Ok` on an accepting CONNACK.
async fn connect(opts: MqttOptions) -> Result<(), ConnectionError> {
    let (_client, mut events) = AsyncClient::new(opts, 10);
    let outcome = tokio::time::timeout(WAIT, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    outcome.unwrap_or(Err(ConnectionError::NetworkTimeout))
}

/// A connected client of `login` whose QoS 1 publishes return once the broker acknowledged them.
struct Publisher {
    client: AsyncClient,
    acks: tokio::sync::mpsc::UnboundedReceiver<()>,
}

impl Publisher {
    fn new(stack: &Stack, id: &str, login: &MqttCredentials) -> Self {
        let opts = mqtt::options_as(id, stack.mqtt_host(), stack.mqtt_port(), login);
        let (client, mut events) = AsyncClient::new(opts, 100);
        let (tx, acks) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(ev) = events.poll().await {
                if matches!(ev, Event::Incoming(Packet::PubAck(_))) && tx.send(()).is_err() {
                    return;
                }
            }
        });
        Self { client, acks }
    }

    async fn publish(&mut self, topic: &str, retain: bool) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, b"{}".to_vec())
            .await?;
        tokio::time::timeout(WAIT, self.acks.recv())
            .await
            .with_context(|| format!("no PUBACK for {topic}"))?
            .context("connection ended")
    }
}

/// Every topic `sub` receives up to and including `sentinel`.
async fn received_until(sub: &mut Subscription, sentinel: &str) -> anyhow::Result<Vec<String>> {
    let mut topics = Vec::new();
    loop {
        let (topic, _) = tokio::time::timeout(WAIT, sub.messages.recv())
            .await
            .with_context(|| format!("no sentinel {sentinel} (so far: {topics:?})"))?
            .context("subscription ended")?;
        if topic == sentinel {
            return Ok(topics);
        }
        topics.push(topic);
    }
}

/// Which of `topics` `login` can get to a privileged observer (subscribed to everything) when it
/// publishes them.
async fn delivered(
    stack: &Stack,
    who: &str,
    login: &MqttCredentials,
    topics: &[&str],
) -> anyhow::Result<Vec<String>> {
    let mut observer = mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        &format!("observer-{who}"),
        &["#"],
        QoS::AtLeastOnce,
    )
    .await?;
    let mut publisher = Publisher::new(stack, &format!("pub-{who}"), login);
    for t in topics {
        publisher.publish(t, false).await?;
    }
    let sentinel = format!("zw-test/sentinel/{who}");
    let mut harness = Publisher::new(
        stack,
        &format!("sentinel-{who}"),
        &stack.mqtt_credentials(Role::Harness),
    );
    harness.publish(&sentinel, false).await?;
    received_until(&mut observer, &sentinel).await
}

/// What `login`, subscribed to `#` and `zw/v1/#`, receives of retained and live messages on `topics`
/// (published by the harness), up to `sentinel`, a topic `login` may read.
async fn readable(
    stack: &Stack,
    who: &str,
    login: &MqttCredentials,
    topics: &[&str],
    sentinel: &str,
) -> anyhow::Result<Vec<String>> {
    let mut harness = Publisher::new(stack, &format!("h-{who}"), &stack.mqtt_credentials(Role::Harness));
    for t in topics {
        harness.publish(t, true).await?;
    }
    let opts = mqtt::options_as(
        &format!("reader-{who}"),
        stack.mqtt_host(),
        stack.mqtt_port(),
        login,
    );
    let mut sub = mqtt::subscribe_with(opts, &["#", "zw/v1/#"], QoS::AtLeastOnce).await?;
    for t in topics {
        harness.publish(t, false).await?;
    }
    harness.publish(sentinel, false).await?;
    let mut got = received_until(&mut sub, sentinel).await?;
    got.sort();
    got.dedup();
    // Clear the retained messages for the next check on the same stack.
    for t in topics {
        harness
            .client
            .publish(*t, QoS::AtLeastOnce, true, Vec::new())
            .await?;
        tokio::time::timeout(WAIT, harness.acks.recv()).await?;
    }
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_and_wrong_passwords_are_refused() -> anyhow::Result<()> {
    let stack = stack().await?;
    let anonymous = MqttOptions::new("anon", stack.mqtt_host(), stack.mqtt_port());
    let refused = |r: &Result<(), ConnectionError>| {
        matches!(
            r,
            Err(ConnectionError::ConnectionRefused(
                ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword
            ))
        )
    };
    let r = connect(anonymous).await;
    assert!(refused(&r), "anonymous: {r:?}");
    let mut wrong = stack.mqtt_credentials(Role::Ingest);
    wrong.password.push('x');
    let r = connect(mqtt::options_as(
        "wrong",
        stack.mqtt_host(),
        stack.mqtt_port(),
        &wrong,
    ))
    .await;
    assert!(refused(&r), "wrong password: {r:?}");
    let right = stack.mqtt_credentials(Role::Ingest);
    connect(mqtt::options_as(
        "right",
        stack.mqtt_host(),
        stack.mqtt_port(),
        &right,
    ))
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_account_reads_nothing_of_the_bus_and_writes_only_its_own_topics() -> anyhow::Result<()> {
    let stack = stack().await?;
    let device = stack.mqtt_device_credentials(DEVICE);

    let mut writes: Vec<&str> = INTERNAL.to_vec();
    writes.extend([
        "tele/plug-2/SENSOR",
        "shellies/other/relay/0",
        "cmnd/plug-1/POWER",
    ]);
    writes.extend([
        "tele/plug-1/SENSOR",
        "stat/plug-1/RESULT",
        "plug-1/status/switch:0",
    ]);
    let got = delivered(&stack, "device", &device, &writes).await?;
    assert_eq!(
        got,
        [
            "tele/plug-1/SENSOR",
            "stat/plug-1/RESULT",
            "plug-1/status/switch:0"
        ],
        "a device wrote outside its own topics"
    );

    let mut reads: Vec<&str> = INTERNAL.to_vec();
    reads.push("tele/plug-2/SENSOR");
    let got = readable(&stack, "device", &device, &reads, "cmnd/plug-1/POWER").await?;
    assert_eq!(
        got,
        Vec::<String>::new(),
        "a device read the bus or another device"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_account_writes_its_part_of_the_bus_and_nothing_else() -> anyhow::Result<()> {
    let stack = stack().await?;
    let cases: [(Role, &[&str]); 5] = [
        (
            Role::Gateway,
            &[
                "zw/v1/readings/hh-1/plug-1",
                "zw/v1/batches/plug-1",
                "zw/v1/status/device/plug-1",
                "zw/v1/deadletter/gateway/gw1/plug-1",
            ],
        ),
        (Role::Ingest, &["zw/v1/deadletter/ingest/ingest1"]),
        (
            Role::Analytics,
            &["zw/v1/alerts/left_on.hh-1.plug-1", "zw/v1/trees/t-1"],
        ),
        (Role::Api, &["zw/v1/commands/alerts/ack"]),
        (Role::Weather, &["zw/v1/weather/town"]),
    ];
    for (role, allowed) in cases {
        let mut topics: Vec<&str> = INTERNAL.to_vec();
        topics.extend([
            "zw/v1/deadletter/gateway/gw1/plug-1",
            "zw/v1/deadletter/ingest/ingest1",
        ]);
        topics.extend(["tele/plug-1/SENSOR", "cmnd/plug-1/POWER"]);
        let who = role.username();
        let got = delivered(&stack, who, &stack.mqtt_credentials(role), &topics).await?;
        let mut want: Vec<String> = allowed.iter().map(|t| (*t).to_owned()).collect();
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        got_sorted.dedup();
        assert_eq!(got_sorted, want, "{who} wrote {got:?}");
    }
    Ok(())
}

/// The inventory change notice makes every service reload the inventory from the store: only the API (the
/// admin routes) may publish it; a device account and the gateway cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_api_publishes_the_inventory_change_notice() -> anyhow::Result<()> {
    let stack = stack().await?;
    let notice = [zw_bus::ChangeNotice::TOPIC];
    let device = stack.mqtt_device_credentials(DEVICE);
    let got = delivered(&stack, "device", &device, &notice).await?;
    assert_eq!(got, Vec::<String>::new(), "a device published a change notice");
    let gateway = stack.mqtt_credentials(Role::Gateway);
    let got = delivered(&stack, "zw-gateway", &gateway, &notice).await?;
    assert_eq!(got, Vec::<String>::new(), "the gateway published a change notice");
    let api = stack.mqtt_credentials(Role::Api);
    let got = delivered(&stack, "zw-api", &api, &notice).await?;
    assert_eq!(got, [zw_bus::ChangeNotice::TOPIC], "the API could not publish it");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_account_reads_only_what_it_uses() -> anyhow::Result<()> {
    let stack = stack().await?;
    let topics: Vec<&str> = INTERNAL
        .iter()
        .copied()
        .chain(["tele/plug-1/SENSOR", "zw/v1/deadletter/gateway/gw1/plug-1"])
        .collect();
    let cases: [(Role, &str, &[&str]); 4] = [
        (
            Role::Ingest,
            "zw/v1/readings/s/sentinel",
            &["zw/v1/batches/plug-1", "zw/v1/readings/hh-1/plug-1"],
        ),
        (
            Role::Analytics,
            "zw/v1/readings/s/sentinel",
            &[
                "zw/v1/alerts/left_on.hh-1.plug-1",
                "zw/v1/batches/plug-1",
                "zw/v1/commands/alerts/ack",
                "zw/v1/readings/hh-1/plug-1",
                "zw/v1/weather/town",
            ],
        ),
        (
            Role::Api,
            "zw/v1/readings/s/sentinel",
            &[
                "zw/v1/alerts/left_on.hh-1.plug-1",
                "zw/v1/batches/plug-1",
                "zw/v1/readings/hh-1/plug-1",
                "zw/v1/status/device/plug-1",
                "zw/v1/trees/t-1",
                "zw/v1/weather/town",
            ],
        ),
        // The gateway reads device topics (any, JSON devices' are configurable), never alerts or commands.
        (
            Role::Gateway,
            "tele/sentinel/SENSOR",
            &[
                "tele/plug-1/SENSOR",
                "zw/v1/batches/plug-1",
                "zw/v1/deadletter/gateway/gw1/plug-1",
                "zw/v1/readings/hh-1/plug-1",
                "zw/v1/status/device/plug-1",
            ],
        ),
    ];
    for (role, sentinel, want) in cases {
        let who = role.username();
        let got = readable(&stack, who, &stack.mqtt_credentials(role), &topics, sentinel).await?;
        assert_eq!(got, want, "{who} read {got:?}");
    }
    Ok(())
}

/// A client of the broker's TLS listener (the api's login) with `tls` as a service would configure it.
fn tls_options(stack: &Stack, id: &str, tls: &zw_bus::TlsConfig) -> anyhow::Result<MqttOptions> {
    tls_options_on(stack, stack.mqtt_tls().port, id, tls)
}

fn tls_options_on(
    stack: &Stack,
    port: u16,
    id: &str,
    tls: &zw_bus::TlsConfig,
) -> anyhow::Result<MqttOptions> {
    let mut opts = mqtt::options_as(id, stack.mqtt_host(), port, &stack.mqtt_credentials(Role::Api));
    let config = zw_bus::tls_client_config(tls)?;
    opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(config))));
    Ok(opts)
}

fn trusting(ca: &std::path::Path) -> zw_bus::TlsConfig {
    zw_bus::TlsConfig {
        ca_file: ca.to_owned(),
        client_cert_file: None,
        client_key_file: None,
        server_name: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_succeed_with_the_test_ca_and_fail_with_another() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().mosquitto_tls(false).start().await?;
    let tls = stack.mqtt_tls();
    connect(tls_options(&stack, "tls-ok", &trusting(tls.pki.ca.cert()))?).await?;

    let other = zw_tests::tls::TestCa::new(&stack.state_dir().join("other-ca"), "other")?;
    match connect(tls_options(&stack, "tls-other-ca", &trusting(other.cert()))?).await {
        Err(ConnectionError::Tls(e)) => assert!(e.to_string().contains("UnknownIssuer"), "{e}"),
        r => bail!("a broker certificate from another CA was accepted: {r:?}"),
    }
    let wrong_name = zw_bus::TlsConfig {
        server_name: Some("broker.example".into()),
        ..trusting(tls.pki.ca.cert())
    };
    match connect(tls_options(&stack, "tls-wrong-name", &wrong_name)?).await {
        Err(ConnectionError::Tls(e)) => assert!(e.to_string().contains("not valid for name"), "{e}"),
        r => bail!("a broker certificate for another name was accepted: {r:?}"),
    }
    let right_name = zw_bus::TlsConfig {
        server_name: Some("localhost".into()),
        ..trusting(tls.pki.ca.cert())
    };
    connect(tls_options(&stack, "tls-name", &right_name)?).await?;

    // The plain listener stays plain: a TLS client gets no handshake there.
    let plain = tls_options_on(
        &stack,
        stack.mqtt_port(),
        "tls-on-plain",
        &trusting(tls.pki.ca.cert()),
    )?;
    assert!(
        connect(plain).await.is_err(),
        "TLS handshake on the plain listener"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_connects_over_mutual_tls_and_a_client_without_a_certificate_is_refused()
-> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().mosquitto_tls(true).start().await?;
    let tls = stack.mqtt_tls();
    let client = tls.pki.ca.client_cert("zw-api")?;
    let with_cert = zw_bus::TlsConfig {
        client_cert_file: Some(client.cert.clone()),
        client_key_file: Some(client.key.clone()),
        ..trusting(tls.pki.ca.cert())
    };
    let without = connect(tls_options(&stack, "mtls-none", &trusting(tls.pki.ca.cert()))?).await;
    assert!(without.is_err(), "a client without a certificate was accepted");

    // The service's own connection driver, configured as a deployment would be.
    let login = stack.mqtt_credentials(Role::Api);
    let mut cfg = zw_bus::Config {
        port: tls.port,
        tls: Some(with_cert),
        ..zw_bus::Config::default()
    };
    cfg.accounts.insert(
        "api".into(),
        zw_bus::Account {
            username: login.username,
            password: None,
            password_file: Some(login.password_file),
        },
    );
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let bus = zw_bus::Bus {
        config: cfg,
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let (client, _inbound, driver) =
        bus.connect(zw_bus::ConnectOptions::publisher("api", "mtls"), stop.clone());
    tokio::time::timeout(WAIT, client.wait_connected())
        .await
        .context("the api's bus connection did not come up over mutual TLS")?;
    stop.cancel();
    driver.await?;
    Ok(())
}
