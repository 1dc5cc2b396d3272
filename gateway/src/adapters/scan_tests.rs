use proptest::prelude::*;
use serde::de::IgnoredAny;

use super::*;

/// serde_json's syntax check, plus UTF-8 (which it checks only in strings it reads; outside strings a
/// non-ASCII byte is a syntax error anyway).
fn serde_accepts(b: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(b).is_ok() && std::str::from_utf8(b).is_ok()
}

#[test]
fn grammar_edges_agree_with_serde_json() {
    let cases: &[&[u8]] = &[
        b"{}",
        b"[]",
        b" {\"a\" : [1, -0, 0.5e-3, 1E+2, true, false, null, \"x\\u00e9\\n\"]}\n",
        b"01",
        b"1.",
        b"-",
        b"1e",
        b".5",
        b"+1",
        b"[1,]",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"{a:1}",
        b"\"\\x\"",
        b"\"\\u12g4\"",
        b"\"tab\there\"",
        b"\"\xff\"",
        b"nul",
        b"truex",
        b"[1 2]",
        b"{} {}",
        b"1e400",
        b"",
        b"   ",
        b"\"abcdefghijklmnopqrstuvwxyz\\\"0123456789\"",
    ];
    for c in cases {
        assert_eq!(
            validate(c).is_ok(),
            serde_accepts(c),
            "{}",
            String::from_utf8_lossy(c)
        );
    }
}

#[test]
fn nesting_limit() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    for n in [127, 128] {
        let d = deep(n);
        assert!(
            validate(d.as_bytes()).is_ok() && serde_accepts(d.as_bytes()),
            "{n}"
        );
    }
    // Deliberately stricter than serde_json's skipping (which has no limit): no device nests that deep, and
    // the scanner's recursion stays bounded.
    for n in [129, 50_000] {
        assert_eq!(
            validate(deep(n).as_bytes()).map_err(|e| e.reason()),
            Err("malformed_json")
        );
    }
}

#[test]
fn reads_keys_numbers_and_strings() {
    let mut s = Scanner::new(br#"{"a\u0062":[1.5,"x"],"c":"d\"e","n":1e400}"#);
    let mut seen = Vec::new();
    let r = s.object(|s, k| {
        match k {
            b"ab" => s.array(|s| match s.kind()? {
                Kind::Number => s.number("ab").map(|x| seen.push(x.to_string())),
                _ => s.string("ab").map(|x| seen.push(x.into_owned())),
            })?,
            b"c" => seen.push(s.string("c")?.into_owned()),
            _ => {
                s.number("n")?;
            }
        }
        Ok(())
    });
    assert_eq!(seen, ["1.5", "x", "d\"e"]);
    assert_eq!(r.map_err(|e| e.reason()), Err("malformed_json"));
}

/// Arbitrary JSON documents, serialised by serde_json (so escapes and numbers are realistic).
pub(crate) fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|x| serde_json::json!(x)),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| serde_json::json!(x)),
        ".{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_judged_like_serde_json(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(validate(&bytes).is_ok(), serde_accepts(&bytes));
    }

    #[test]
    fn mutated_json_is_judged_like_serde_json(
        v in json_value(),
        cut in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        mode in 0u8..3,
    ) {
        let mut doc = serde_json::to_vec(&v).unwrap_or_default();
        prop_assert!(validate(&doc).is_ok());
        let at = cut.index(doc.len().max(1));
        match mode {
            0 => doc.truncate(at),
            1 => doc.insert(at.min(doc.len()), byte),
            _ => if let Some(b) = doc.get_mut(at) { *b = byte },
        }
        prop_assert_eq!(validate(&doc).is_ok(), serde_accepts(&doc), "{}", String::from_utf8_lossy(&doc));
    }
}
