//! A batch must give every element the verdict and the line it gets as a single-reading message.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use proptest::prelude::*;
use zw_model::reading::{TimeWindow, for_each_in_message};
use zw_model::{Id, Quantity, Reading};

use super::*;
use crate::wire::encode;
use crate::wire::test_support::{bounds, now};

/// Per element, `Ok(line)` or `Err(reason)`, as the batch path gives them, or the envelope's rejection.
fn batch_verdicts(payload: &[u8]) -> Result<Vec<Result<String, &'static str>>, &'static str> {
    let mut out = String::from("keep\n");
    let mut rejected = Vec::new();
    let r = encode_batch(payload, bounds(), &mut out, |rej, el| {
        rejected.push((rej.reason, el.to_vec()))
    });
    let n = r.map_err(|e| {
        assert_eq!(out, "keep\n", "an envelope rejection leaves the buffer unchanged");
        assert!(rejected.is_empty(), "and reports no element");
        e.reason
    })?;
    let lines: Vec<String> = out.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert_eq!(lines.len(), n);
    // Reassemble in element order: the elements' own verdicts say which were accepted.
    let (mut lines, mut rejected) = (lines.into_iter(), rejected.into_iter());
    let verdicts = batch::elements(payload)
        .expect("a batch the path accepted has a valid envelope")
        .into_iter()
        .map(|el| match single(el) {
            Ok(_) => Ok(lines.next().expect("a line per accepted element")),
            Err(_) => {
                let (reason, bytes) = rejected.next().expect("a rejection per refused element");
                assert_eq!(bytes, el, "the rejection carries its element");
                Err(reason)
            }
        })
        .collect();
    Ok(verdicts)
}

/// The single-message path for one element, on its own topic when it names valid ids.
fn single(el: &[u8]) -> Result<String, &'static str> {
    let mut out = String::new();
    let topic = serde_json::from_slice::<serde_json::Value>(el)
        .ok()
        .and_then(|v| {
            Some(format!(
                "zw/v1/readings/{}/{}",
                v.get("site")?.as_str()?,
                v.get("device")?.as_str()?
            ))
        });
    match topic {
        Some(t) => encode(&t, el, bounds(), &mut out),
        None => encode_element(el, bounds(), &mut out),
    }
    .map(|()| out)
    .map_err(|e| e.reason)
}

/// The `Reading` path's verdicts (the model's helper used by the API and analytics).
fn reading_path(payload: &[u8]) -> Vec<Result<(), &'static str>> {
    let mut v = Vec::new();
    for_each_in_message("zw/v1/batches/p", payload, now(), TimeWindow::default(), |r| {
        v.push(r.map(|_| ()).map_err(|e| e.reason()));
    });
    v
}

fn check(payload: &str) {
    let p = payload.as_bytes();
    match batch_verdicts(p) {
        Ok(verdicts) => {
            let els = batch::elements(p).expect("valid envelope");
            let singles: Vec<_> = els.iter().map(|e| single(e)).collect();
            assert_eq!(verdicts, singles, "{payload}");
            let kinds: Vec<_> = verdicts
                .iter()
                .map(|v| v.as_ref().map(|_| ()).map_err(|e| *e))
                .collect();
            assert_eq!(kinds, reading_path(p), "{payload}");
        }
        Err(reason) => assert_eq!(vec![Err(reason)], reading_path(p), "{payload}"),
    }
}

fn reading(device: &str, age_ms: i64, values: BTreeMap<Quantity, f64>) -> String {
    let r = Reading::new(
        Id::new("rathaus").expect("id"),
        Id::new(device).expect("id"),
        now() - TimeDelta::milliseconds(age_ms),
        values,
    );
    String::from_utf8(r.to_json()).expect("utf8")
}

#[test]
fn mixed_batches_match_the_single_path() {
    let good = reading("a", 0, BTreeMap::from([(Quantity::ActivePower, 1.5)]));
    let old = reading(
        "b",
        9 * 86_400_000,
        BTreeMap::from([(Quantity::ActivePower, 1.0)]),
    );
    let spaced = good.replace(":", ": ");
    let env = |els: &[&str]| format!(r#"{{"v":1,"readings":[{}]}}"#, els.join(","));
    for p in [
        env(&[&good]),
        env(&[&good, &old, &good]),
        // The scanner's layout first, then an element it does not take: the general path starts over.
        env(&[&good, &good, &spaced]),
        env(&[&good, r#"{"v":1}"#, "1", "null", r#""x""#]),
        env(&[&good.replace("\"a\"", "\"A\"")]),
        format!(r#"{{ "readings" : [ {good} , {old} ], "v" : 1 }}"#),
        // Envelope errors: one rejection each.
        env(&[]),
        format!(r#"{{"v":2,"readings":[{good}]}}"#),
        format!(r#"{{"v":1,"readings":[{good}]"#),
        format!(r#"{{"v":1,"readings":[{good}]}} "#),
        format!(r#"{{"v":1,"readings":[{good},]}}"#),
        format!(r#"{{"v":1,"readings":[{good}]}}}}"#),
        format!(r#"{{"v":1,"readings":[{good}],"x":0}}"#),
        env(&vec![good.as_str(); MAX_READINGS + 1]),
        "[]".into(),
        String::new(),
    ] {
        check(&p);
    }
    let ok = env(&vec![good.as_str(); MAX_READINGS]);
    assert_eq!(batch_verdicts(ok.as_bytes()).map(|v| v.len()), Ok(MAX_READINGS));
    assert_eq!(batch_verdicts(env(&[]).as_bytes()), Err("empty"));
}

#[test]
fn lines_equal_the_single_message_lines() {
    let good = reading(
        "a",
        0,
        BTreeMap::from([(Quantity::ActivePower, 1.5), (Quantity::Frequency, 50.0)]),
    );
    let p = format!(r#"{{"v":1,"readings":[{good},{good}]}}"#);
    let mut out = String::new();
    let n = encode_batch(p.as_bytes(), bounds(), &mut out, |_, _| panic!("valid")).expect("valid");
    let mut one = String::new();
    encode("zw/v1/readings/rathaus/a", good.as_bytes(), bounds(), &mut one).expect("valid");
    assert_eq!((n, out), (2, one.repeat(2)));
    let mut held = Vec::new();
    let mut again = String::new();
    assert_eq!(
        one_pass(p.as_bytes(), bounds(), &mut again, &mut held),
        Some(2),
        "the publishers' layout takes the one-pass scan"
    );
}

/// One element: a reading (valid or not) in the publishers' layout, the same with spaces, or junk.
fn element() -> impl Strategy<Value = String> {
    let values = proptest::collection::btree_map(0..Quantity::ALL.len(), proptest::num::f64::ANY, 0..5);
    (
        values,
        -400_000i64..8 * 86_400_000,
        "[a-z0-9][a-z0-9_-]{0,6}",
        0..6u8,
    )
        .prop_map(|(values, age, device, form)| {
            let values = values.into_iter().map(|(i, v)| (Quantity::ALL[i], v)).collect();
            let r = reading(&device, age, values);
            match form {
                0 => r.replacen(',', " ,", 1),
                1 => r.replace("\"v\":1", "\"v\":3"),
                2 => r#"{"v":1,"site":"a"}"#.into(),
                _ => r,
            }
        })
}

proptest! {
    #[test]
    fn any_batch_matches_the_single_path(
        els in proptest::collection::vec(element(), 0..12),
        spaced in any::<bool>(),
    ) {
        let sep = if spaced { ", " } else { "," };
        let p = format!(r#"{{"v":1,"readings":[{}]}}"#, els.join(sep));
        check(&p);
    }
}
