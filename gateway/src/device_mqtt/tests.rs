//! Per adapter: arbitrary bytes and arbitrary JSON never panic the decode step, and every rejection is
//! counted under its adapter and one of the documented reasons.

use proptest::prelude::*;

use super::*;

const REASONS: [&str; 8] = [
    "malformed_json",
    "bad_field",
    "not_finite",
    "no_values",
    "too_large",
    "bad_frame",
    "timestamp",
    "unknown_topic",
];

fn router() -> Router {
    let inv: Inventory = toml::from_str(
        r#"
[[sites]]
id = "s"
kind = "building"
devices = [
  { id = "plug", source = { type = "tasmota", topic = "plug1" } },
  { id = "meter", source = { type = "tasmota", topic = "sml1", sml_section = "SML", sml = [{ key = "Total_in", obis = "1.8.0" }] } },
  { id = "em", source = { type = "shelly", prefix = "shellypro3em-1" } },
  { id = "lse", source = { type = "ttn", topic = "v3/app@ttn/devices/lse/up", model = "lse01" } },
  { id = "trs", source = { type = "ttn", topic = "v3/app@ttn/devices/trs/up", model = "dl-trs21" } },
  { id = "gen", source = { type = "json", topic = "x/y", fields = [{ pointer = "/w", quantity = "active_power", numeric_strings = true }], timestamp = "/ts" } },
]
"#,
    )
    .expect("inventory");
    Router::new(&Config::default(), &inv, Utc::now())
}

/// Every topic the devices above are read on.
const TOPICS: [&str; 17] = [
    "tele/plug1/SENSOR",
    "tele/plug1/STATE",
    "tele/plug1/LWT",
    "stat/plug1/STATUS10",
    "tele/sml1/SENSOR",
    "stat/sml1/STATUS8",
    "shellypro3em-1/online",
    "shellypro3em-1/events/rpc",
    "shellypro3em-1/status/switch:0",
    "shellypro3em-1/status/em:0",
    "shellypro3em-1/status/emdata:0",
    "shellypro3em-1/status/em1:0",
    "shellypro3em-1/status/em1data:0",
    "shellypro3em-1/status/sys",
    "v3/app@ttn/devices/lse/up",
    "v3/app@ttn/devices/trs/up",
    "x/y",
];

fn json_doc() -> impl Strategy<Value = Vec<u8>> {
    crate::adapters::arbitrary_json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default())
}

/// Feeds `payload` to every topic; checks each rejection is counted once, under a documented reason.
fn check(payload: &[u8]) -> Result<(), TestCaseError> {
    let mut r = router();
    let metrics =
        Metrics::register(&prometheus::Registry::new()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let now = Utc::now();
    let mut rejected = std::collections::BTreeMap::<&str, u64>::new();
    for topic in TOPICS {
        let Route::Device(i, part) = r.route(topic) else {
            return Err(TestCaseError::fail(format!("{topic} is not routed")));
        };
        let adapter = r.devices[i].adapter;
        if let Err(e) = decide(&mut r.devices[i], part, payload, 200, now) {
            prop_assert!(REASONS.contains(&e.reason()), "{e}");
            count_rejection(&metrics, adapter, &e);
            *rejected.entry(adapter).or_default() += 1;
        }
    }
    for adapter in ["tasmota", "shelly", "ttn", "json"] {
        let counted: u64 = REASONS
            .iter()
            .map(|reason| {
                metrics
                    .messages_rejected
                    .with_label_values(&[adapter, reason])
                    .get()
            })
            .sum();
        prop_assert_eq!(
            counted,
            rejected.get(adapter).copied().unwrap_or(0),
            "{}",
            adapter
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_rejections_are_counted(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&b)?;
    }

    #[test]
    fn arbitrary_json_never_panics_and_rejections_are_counted(b in json_doc()) {
        check(&b)?;
    }
}

#[test]
fn oversize_payloads_are_rejected_before_decoding() {
    let mut r = router();
    let Route::Device(i, part) = r.route("x/y") else {
        panic!("routed")
    };
    let big = format!(r#"{{"w":1,"pad":"{}"}}"#, "x".repeat(300));
    let e = decide(&mut r.devices[i], part, big.as_bytes(), 200, Utc::now()).expect_err("too large");
    assert_eq!(e.reason(), "too_large");
}

/// Issue 16: a payload over `bus.max_message_bytes` on a device topic is rejected before its adapter sees
/// it (a valid reading padded to 300 KiB would decode), counted as `oversized`, its device's health notes
/// it, and its dead letter carries a 1 KiB preview and the real size. The bus has no broker: publishes
/// only queue, so nothing here waits on a network.
#[tokio::test]
async fn payloads_over_the_bus_limit_are_rejected_unparsed_and_dead_lettered() {
    let crate::test_support::Brokerless {
        metrics,
        bus_cfg,
        bus,
        stop,
        driver,
    } = crate::test_support::brokerless_bus();
    let producer = zw_model::Id::new("gw1".to_owned()).expect("id");
    let limit = bus_cfg.max_message_bytes;
    let (outbox, _task) = crate::buffer::start(
        crate::buffer::Store::memory(1 << 20),
        bus.clone(),
        metrics.clone(),
    );
    let (publisher, _flusher) = crate::publish::Publisher::start(
        &crate::publish::PublishConfig::default(),
        &producer,
        outbox,
        limit,
        metrics.clone(),
    );
    let mut w = Worker::new(
        router(),
        Config::default(),
        (bus, limit),
        publisher,
        metrics.clone(),
    );
    let mut big = br#"{"ENERGY":{"Total":1.5,"Power":10},"pad":""#.to_vec();
    big.resize(300 * 1024, b'x');
    big.extend_from_slice(br#""}"#);
    let now = Utc::now();
    w.handle("tele/plug1/SENSOR", &big, now).await;
    let count = |adapter: &str, reason: &str| {
        metrics
            .messages_rejected
            .with_label_values(&[adapter, reason])
            .get()
    };
    assert_eq!(count("tasmota", "oversized"), 1);
    assert_eq!(count("tasmota", "too_large"), 0, "the adapter never saw it");
    assert_eq!(metrics.deadletters.get(), 1);
    assert_eq!(
        metrics.readings_published.with_label_values(&["tasmota"]).get(),
        0
    );
    let Route::Device(i, _) = w.router.route("tele/plug1/SENSOR") else {
        panic!("routed")
    };
    assert_eq!(w.router.devices[i].liveness.last_seen(), Some(now));
    // On a topic of no device it is counted under the wildcard's family, or `other`.
    w.handle("tele/nobody/SENSOR", &big, now).await;
    w.handle("tele/plug1/INFO1", &big, now).await;
    assert_eq!(count("tasmota", "oversized"), 2);
    assert_eq!(count("other", "oversized"), 1);
    // The letter's preview is 1 KiB, and its size the real one.
    let letter = DeadLetter {
        v: 1,
        gateway: "gw1",
        adapter: "tasmota",
        device: Some("plug"),
        topic: "tele/plug1/SENSOR",
        reason: "oversized",
        error: AdapterError::Oversized {
            size: big.len(),
            limit,
        }
        .to_string(),
        received: now,
        payload_bytes: big.len(),
        payload: deadletter::excerpt(&big, OVERSIZED_PREVIEW),
        suppressed: 0,
    };
    assert_eq!(letter.payload.len(), 1024);
    assert!(letter.error.contains(&big.len().to_string()), "{}", letter.error);
    stop.cancel();
    let _ = driver.await;
}
