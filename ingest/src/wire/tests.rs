//! The fast path must accept and reject exactly what the `Reading` path does, and write the published
//! values exactly.

use proptest::prelude::*;

use super::*;
use crate::line::tests::parsed;
use crate::wire::test_support::{any_reading, now};

/// Both paths on one message: `Ok(line)` or `Err(reason)`.
fn both(topic: &str, payload: &[u8]) -> (Result<String, &'static str>, Result<String, &'static str>) {
    let window = TimeWindow::default();
    let mut fast = String::from("keep\n");
    let f = encode(topic, payload, Bounds::new(now(), window), &mut fast).map_err(|e| e.reason);
    if f.is_err() {
        assert_eq!(fast, "keep\n", "a rejection must leave the buffer unchanged");
    }
    let fast = f.map(|()| fast["keep\n".len()..].to_owned());
    let slow = crate::decode(topic, payload, now(), window)
        .map_err(|e| e.reason)
        .and_then(|r| {
            let mut s = String::new();
            crate::to_line(&r, &mut s).map(|()| s).map_err(|_| "line")
        });
    (fast, slow)
}

fn assert_same(topic: &str, payload: &str) {
    match both(topic, payload.as_bytes()) {
        (Ok(a), Ok(b)) => assert_eq!(parsed(&a), parsed(&b), "{payload}"),
        (a, b) => assert_eq!(a, b, "{payload}"),
    }
}

const T: &str = "zw/v1/readings/rathaus/main";

#[test]
fn writes_the_same_point() {
    let p = r#"{"v":1,"site":"rathaus","device":"main","ts":"2026-11-21T09:59:59.123Z","values":{"energy_import":12345678.0,"active_power":-5.5}}"#;
    let (fast, _) = both(T, p.as_bytes());
    assert_eq!(
        fast,
        Ok(
            "readings,device=main,site=rathaus active_power=-5.5,energy_import=12345678.0 1795255199123\n"
                .into()
        )
    );
    assert_same(T, p);
    assert!(
        scan::scan(p.as_bytes()).is_some(),
        "the publishers' layout takes the scanner"
    );
    assert!(scan::scan(p.replace(":1,", ": 1,").as_bytes()).is_none());
}

#[test]
fn accepts_and_rejects_like_the_reading_path() {
    let ok = |ts: &str, values: &str| {
        format!(r#"{{"v":1,"site":"rathaus","device":"main","ts":"{ts}","values":{values}}}"#)
    };
    let v = r#"{"active_power":1}"#;
    let cases = [
        ok("2026-11-21T09:00:00Z", v),
        ok("2026-11-21T09:00:00.5Z", v),
        ok("2026-11-21T09:00:00.123456789Z", v),
        ok("2026-11-21T09:00:00.1234567891Z", v),
        ok("2026-11-21T10:00:00+01:00", v),
        ok("2026-11-21t09:00:00z", v),
        ok("2026-11-21 09:00:00Z", v),
        ok("2026-11-20T23:59:60Z", v),
        ok("2026-02-30T09:00:00Z", v),
        ok("2026-11-21T24:00:00Z", v),
        ok("2026-11-21T09:00:00", v),
        ok("2026-11-21T09:00:00.Z", v),
        ok("+2026-11-21T09:00:00Z", v),
        ok("2020-11-21T09:00:00Z", v),
        ok("2026-11-21T10:04:59Z", v),
        ok("2026-11-21T10:05:01Z", v),
        ok("2026-11-21T09:00:00Z", r#"{}"#),
        ok("2026-11-21T09:00:00Z", r#"{"watts":1}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":"1"}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":null}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":1e400}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":1,"active_power":2}"#),
        ok("2026-11-21T09:00:00Z", r#"{"voltage_l3":230,"active_power":1e300,"frequency":-0.0}"#),
        ok("2026-11-21T09:00:00Z", r#"{"act\u0069ve_power":7}"#),
        // Number forms the scanner must refuse exactly as JSON does (then serde names the error).
        ok("2026-11-21T09:00:00Z", r#"{"active_power":01}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":1.}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":.5}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":+1}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":-}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":1e}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":NaN}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":Infinity}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":-0,"frequency":0,"voltage_l1":2.5E+2,"current_l1":1e-3}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":1,}"#),
        ok("2026-11-21T09:00:00Z", r#"{"active_power":1 }"#),
        ok("2026-11-21T09:00:00Z", r#"{ "active_power":1}"#),
        ok(r"2026-11-21T09:00:00\u005a", v),
        r#"{"v":2,"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"v":1,"site":"Rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"v":1,"site":"rathaus","device":"-main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"v":1,"site":"rath\u0061us","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"v":1,"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1},"x":1}"#.into(),
        r#"{"v":1,"site":"rathaus","site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"[1,"rathaus","main","2026-11-21T09:00:00Z",{"active_power":1}]"#.into(),
        r#"{"v":1,"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}} "#.into(),
        r#"{"v":1,"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}}"#.into(),
        r#"{"v":1,"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}"#.into(),
        r#"{"v":1, "site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"site":"rathaus","v":1,"device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1}}"#.into(),
        r#"{"v":1,"site":"rathaus","device":"main","ts":"2026-11-21T09:00:00Z","values":{"active_power":1},"values":{"frequency":50}}"#.into(),
        "not json".into(),
        String::new(),
    ];
    for p in &cases {
        assert_same(T, p);
    }
    let good = ok("2026-11-21T09:00:00Z", v);
    for topic in [
        "zw/v1/readings/rathaus/other",
        "zw/v1/readings/rathaus",
        "x/readings/rathaus/main",
        "zw/v1/readings/rathaus/main/x",
    ] {
        assert_same(topic, &good);
        assert_eq!(both(topic, good.as_bytes()).0, Err("topic_mismatch"));
    }
    let long = "a".repeat(65);
    let p = good.replace("\"main\"", &format!("\"{long}\""));
    assert_same(&format!("zw/v1/readings/rathaus/{long}"), &p);
}

proptest! {
    #[test]
    fn any_reading_gives_the_same_point(r in any_reading()) {
        let topic = format!("zw/v1/readings/{}/{}", r.site, r.device);
        let payload = r.to_json();
        match both(&topic, &payload) {
            // The point must carry exactly the published values. (The serde path may be one unit in the
            // last place off for long mantissas: serde_json's default float parser is not correctly
            // rounded; the scanner uses Rust's, which is.)
            (Ok(a), Ok(_)) => {
                let mut exact = String::new();
                crate::to_line(&r, &mut exact).expect("valid reading");
                prop_assert_eq!(parsed(&a), parsed(&exact));
            }
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn arbitrary_bytes_are_rejected_alike(payload in proptest::collection::vec(any::<u8>(), 0..80)) {
        let (a, b) = both(T, &payload);
        prop_assert_eq!(a.map(|s| parsed(&s)), b.map(|s| parsed(&s)));
    }
}
