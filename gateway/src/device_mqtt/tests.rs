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
