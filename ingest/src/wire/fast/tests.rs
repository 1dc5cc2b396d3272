//! The fused path must write exactly the bytes the general scanner + `validate` + `write` write, and give
//! the same verdicts; copied digits must be exactly what `push_float` writes for the parsed value.

use proptest::prelude::*;

use super::*;
use crate::wire::test_support::{any_reading, bounds};
use crate::wire::{Wire, parse_canonical_ts, scan, validate, write};

/// `number` on `text` (followed by a delimiter, as in a payload): the written text, or `None`.
fn number_text(text: &str) -> Option<String> {
    let s = format!("{text},");
    let (mut i, mut out) = (0, String::new());
    number(&s, &mut i, &mut out)?;
    assert_eq!(i, text.len(), "{text}: the number ends where the text does");
    Some(out)
}

/// What the path before the fused one wrote for `text`: `push_float` of the parsed value.
fn reference(text: &str) -> Option<String> {
    let v = text.parse::<f64>().ok().filter(|v| v.is_finite())?;
    let mut out = String::new();
    push_float(&mut out, v);
    Some(out)
}

/// Whether `text` takes the copying path.
fn copied(text: &str) -> bool {
    let p = text.as_bytes();
    let int_start = usize::from(p[0] == b'-');
    let int_end = int_start + p[int_start..].iter().take_while(|c| c.is_ascii_digit()).count();
    let frac_end = text
        .get(int_end + 1..)
        .and_then(|f| f.rfind(|c: char| c != '0').map(|k| int_end + 2 + k))
        .unwrap_or(int_end);
    !text.contains(['e', 'E']) && plain(p, int_start, int_end, frac_end)
}

#[test]
fn numbers_are_written_as_push_float_writes_them() {
    for (text, is_copied) in [
        ("0", true),
        ("-0", true),
        ("0.0", true),
        ("-0.000", true),
        ("5", true),
        ("5.000", true),
        ("230.10", true),
        ("1207.5", true),
        ("-5.5", true),
        ("12345678.0", true),
        ("0.00001", true),
        ("0.000012345", true),
        ("0.000001", false),
        ("0.1234567890123456", false),
        ("123456789012345", true),
        ("123456789012345.0", true),
        ("1234567890123456", false),
        ("100000000000000.5", false),
        ("0.30000000000000004", false),
        ("1e15", false),
        ("2.5E+2", false),
        ("1e-7", false),
        ("-1.7976931348623157e308", false),
    ] {
        assert_eq!(number_text(text), reference(text), "{text}");
        assert_eq!(copied(text), is_copied, "{text}");
    }
    for text in [
        "1e400", "-", "01", "1.", ".5", "+1", "1e", "1e+", "-01.5", "NaN", "",
    ] {
        assert_eq!(number_text(text), None, "{text}");
    }
}

proptest! {
    #[test]
    fn any_decimal_is_written_as_push_float_writes_it(
        neg in any::<bool>(),
        int in "0|[1-9][0-9]{0,17}",
        frac in proptest::option::of("[0-9]{1,20}"),
        exp in proptest::option::of(-30i32..30),
    ) {
        let mut text = format!("{}{int}", if neg { "-" } else { "" });
        if let Some(f) = frac {
            text = format!("{text}.{f}");
        }
        if let Some(e) = exp {
            text = format!("{text}e{e}");
        }
        prop_assert_eq!(number_text(&text), reference(&text), "{}", text);
    }

    #[test]
    fn published_floats_are_written_as_push_float_writes_them(v in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
        let text = serde_json::to_string(&v).expect("finite");
        prop_assert_eq!(number_text(&text), reference(&text), "{}", text);
    }

    #[test]
    fn meter_values_are_copied(int in 0u64..1_000_000_000_000, frac in "[0-9]{0,3}", neg in any::<bool>()) {
        // What meters publish: up to 15 digits, the published text being the value's shortest form.
        let decimal = format!("{}{int}.{frac}0", if neg { "-" } else { "" });
        let v: f64 = decimal.parse().expect("a number");
        let text = serde_json::to_string(&v).expect("finite");
        prop_assert!(copied(&text), "{}", text);
        prop_assert_eq!(number_text(&text), reference(&text), "{}", text);
    }

    #[test]
    fn timestamps_parse_as_the_general_fast_parser(
        texts in proptest::collection::vec(
            "(20[0-9]{2}|0000|9999)-(0[0-9]|1[0-3])-([0-3][0-9])[T ]([0-2][0-9]):([0-6][0-9]):([0-6][0-9])(\\.[0-9]{0,10})?Z?",
            1..6,
        ),
    ) {
        // One cache across the inputs, as across a batch's readings.
        let mut dates = Dates::default();
        for t in &texts {
            let expected = parse_canonical_ts(t.as_bytes()).map(key);
            prop_assert_eq!(canonical_ts(t.as_bytes(), &mut dates), expected, "{}", t);
        }
    }

    #[test]
    fn fused_lines_are_the_general_lines(r in any_reading()) {
        let payload = String::from_utf8(r.to_json()).expect("utf8");
        let taken = !r.values.is_empty() && r.values.iter().all(|(_, v)| v.is_finite());
        let fused = fused(&payload);
        prop_assert_eq!(fused.is_some(), taken, "{}", payload);
        prop_assert_eq!(fused, general(&payload));
    }
}

/// The fused path on `payload`: the line or rejection reason, and the end index.
fn fused(payload: &str) -> Option<(Result<String, &'static str>, usize)> {
    let mut out = String::from("keep\n");
    let f = element(payload, 0, &bounds(), &mut Dates::default(), &mut out)?;
    if f.verdict.is_err() {
        assert_eq!(out, "keep\n", "a rejection leaves the buffer unchanged");
    }
    Some((
        f.verdict
            .map(|()| out["keep\n".len()..].to_owned())
            .map_err(|r| r.reason),
        f.end,
    ))
}

/// The general scanner, `validate` and `write` on `payload`.
fn general(payload: &str) -> Option<(Result<String, &'static str>, usize)> {
    let (c, end) = scan::scan_at(payload, 0)?;
    let w = Wire::from(c);
    let mut out = String::new();
    let verdict = validate(&w, bounds())
        .map(|ts| write(&w, ts, &mut out))
        .map(|()| out)
        .map_err(|r| r.reason);
    Some((verdict, end))
}

#[test]
fn takes_only_what_it_can_finish() {
    let p = |ts: &str, values: &str| {
        format!(r#"{{"v":1,"site":"rathaus","device":"main","ts":"{ts}","values":{values}}}"#)
    };
    let ts = "2026-11-21T09:59:59.123Z";
    let line = "readings,device=main,site=rathaus active_power=-5.5,energy_import=12345678.0 1795255199123\n";
    let ok = p(ts, r#"{"active_power":-5.5,"energy_import":12345678.0}"#);
    assert_eq!(fused(&ok), Some((Ok(line.to_owned()), ok.len())));
    assert_eq!(fused(&ok), general(&ok));
    // Other forms of the same number: the same line.
    let other = p(ts, r#"{"active_power":-5.50,"energy_import":1.2345678e7}"#);
    assert_eq!(fused(&other), Some((Ok(line.to_owned()), other.len())));
    // Rejections that need the whole element first.
    let offset = p("2026-11-21T10:00:00+01:00", r#"{"active_power":1}"#);
    assert!(matches!(fused(&offset), Some((Ok(_), _))));
    assert_eq!(fused(&offset), general(&offset));
    for ts in ["2026-11-21T10:05:01Z", "2020-11-21T09:00:00Z"] {
        let old = p(ts, r#"{"active_power":1}"#);
        assert_eq!(fused(&old), Some((Err("timestamp"), old.len())), "{ts}");
        assert_eq!(fused(&old), general(&old), "{ts}");
    }
    for ts in ["2026-02-30T09:00:00Z", "2026-11-21T24:00:00Z", "yesterday"] {
        let bad = p(ts, r#"{"active_power":1}"#);
        assert_eq!(fused(&bad), Some((Err("malformed"), bad.len())), "{ts}");
        assert_eq!(fused(&bad), general(&bad), "{ts}");
    }
    // Left to the general scanner (which sorts, keeps the last of a repeated key) or to serde.
    for values in [
        r#"{"energy_import":1,"active_power":2}"#,
        r#"{"active_power":1,"active_power":2}"#,
        r#"{}"#,
        r#"{"active_power":1e400}"#,
        r#"{"watts":1}"#,
        r#"{"active_power":1,}"#,
    ] {
        assert_eq!(fused(&p(ts, values)), None, "{values}");
    }
    for payload in [
        ok.replace("main", "Main"),
        ok.replace("main", "-main"),
        ok.replace("\"main\"", "\"\""),
        ok.replace("main", &"m".repeat(65)),
        ok.replace("\"v\":1", "\"v\":2"),
        ok.replace(":1,", ": 1,"),
        ok[..ok.len() - 1].to_owned(),
    ] {
        assert_eq!(fused(&payload), None, "{payload}");
    }
    // A message cut anywhere (its last number included) is not this path's.
    for end in 0..ok.len() {
        assert_eq!(fused(&ok[..end]), None, "{}", &ok[..end]);
    }
    let zero = p(ts, r#"{"active_power":0}"#);
    for end in 0..zero.len() {
        assert_eq!(fused(&zero[..end]), None, "{}", &zero[..end]);
    }
    let long = ok.replace("main", &"m".repeat(64));
    assert!(matches!(fused(&long), Some((Ok(_), _))));
}
