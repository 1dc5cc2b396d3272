//! Helpers for property tests of code built on the scanner (feature `test-support`; always in this crate's
//! own tests): arbitrary JSON documents, serde_json's verdict, and the record of the values
//! [`Scanner::skip`](crate::Scanner::skip) passed over leniently, to judge a payload as the scanner must.
//!
//! The record is kept only in builds with debug assertions (`cargo test`), so that benchmarks, which build
//! with this feature too (it comes with the gateway's dev-dependencies), measure the production code.

use std::cell::RefCell;

use proptest::prelude::*;
use serde::de::IgnoredAny;

thread_local! {
    /// Byte ranges of the values `Scanner::skip` passed over leniently since the last [`take_skips`].
    static SKIPS: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

#[cfg_attr(not(any(test, debug_assertions)), allow(dead_code))]
pub(crate) fn record_skip(start: usize, end: usize) {
    SKIPS.with(|s| s.borrow_mut().push((start, end)));
}

/// The ranges skipped leniently on this thread since the last call.
///
/// # Panics
/// In a build without debug assertions (`cargo test --release`), where nothing is recorded.
pub fn take_skips() -> Vec<(usize, usize)> {
    if cfg!(not(any(test, debug_assertions))) {
        panic!("skipped values are recorded only in builds with debug assertions");
    }
    SKIPS.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// serde_json's syntax check, plus UTF-8 (which it checks only in strings it reads; outside strings a
/// non-ASCII byte is a syntax error anyway).
pub fn serde_accepts(b: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(b).is_ok() && std::str::from_utf8(b).is_ok()
}

/// `payload` with every value skipped leniently (`ranges`, from [`take_skips`]) that is not valid UTF-8 JSON
/// by itself replaced by `null`; `None` if there is none. serde_json's verdict on this document is what the
/// scanner's must be (serde_json checks UTF-8 in the keys of maps it decodes, also where it ignores values).
pub fn repaired(payload: &[u8], mut ranges: Vec<(usize, usize)>) -> Option<Vec<u8>> {
    ranges.sort_unstable();
    let bad: Vec<_> = ranges
        .into_iter()
        .filter(|&(a, b)| !serde_accepts(&payload[a..b]))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let (mut out, mut at) = (Vec::new(), 0);
    for (a, b) in bad {
        assert!(a >= at, "skipped ranges overlap");
        out.extend_from_slice(&payload[at..a]);
        out.extend_from_slice(b"null");
        at = b;
    }
    out.extend_from_slice(&payload[at..]);
    Some(out)
}

/// Arbitrary JSON documents, serialised by serde_json (so escapes and numbers are realistic).
pub fn json_value() -> impl Strategy<Value = serde_json::Value> {
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
