//! A validating, allocation-free JSON scanner for the gateway's device adapters (their hot path).
//!
//! Deserialising with serde_json spends most of its time on what an adapter throws away (a TTS uplink is
//! about 1 KiB of metadata around five values). The scanner walks the payload once and hands the caller each
//! object key; the caller reads the value (number, string, nested object or array) or skips it. Everything
//! the adapter walks through or reads is checked the way serde_json checks it (same escapes, control
//! characters, number grammar, trailing commas and characters; read strings must be UTF-8); read numbers are
//! parsed exactly (a number beyond `f64` is a JSON error, as in serde_json). Nesting deeper than 128 is
//! rejected, which bounds the recursion. Nothing is allocated unless a key or read string holds escapes.
//!
//! # Unread values
//!
//! A value the caller does not read ([`Scanner::skip`]) is only skipped, not validated, as simdjson's
//! On-Demand API does (Keiser and Lemire, "On-Demand JSON: A Better Way to Parse Documents?", 2024;
//! simdjson's `doc/ondemand.md`: values that are skipped are not fully validated). Precisely:
//! * a skipped **string** ends at the first `"` not taken by a backslash; a backslash takes the byte after
//!   it whatever it is. Escapes, control characters and UTF-8 inside are not checked;
//! * a skipped **object** ends at the `}` that balances its `{`, counting only `{` and `}` outside strings;
//!   a skipped **array** likewise with `[` and `]`. Inside, nothing else is checked: not the other bracket
//!   kind (`{"a":[}` is skipped as one object), commas, colons, keys, literals, numbers, depth;
//! * a skipped **number** or **literal** (`null`, `true`, `false`) is checked as before (it is as cheap).
//!
//! What stays a rejection (`malformed_json`): a skipped value cut off by the end of the payload (truncated
//! input: an unterminated string, or brackets of the value's own kind that do not balance), a byte that
//! starts no value, and every syntax error outside skipped values, i.e. in the document's structure around
//! them, in every key of the objects the adapter walks, and in every value it reads. So a payload with
//! garbage inside, say, `rx_metadata` is decoded, while one whose read values or structure are broken is
//! rejected as before. [`validate`] (Tasmota `STATE`, Shelly components the gateway does not read: the
//! whole payload is the unread value) still checks everything. Tests: `tests.rs` (what is and is not
//! checked, truncation at every byte, a property test that the verdict equals serde_json's on the document
//! with the unchecked values replaced by `null`), the gateway's `adapters/differential_tests.rs` (the same
//! per adapter, with `test_support`).
//!
//! Skipping and string scanning run sixteen bytes at a time (SSE2 masks on x86_64, `simd.rs`, the
//! workspace's only `unsafe`; two SWAR words elsewhere), eight at a time (SWAR) near the end of the input. A
//! container is crossed without a branch per string: exact byte masks of quotes and brackets, and the
//! quotes' running parity for which bytes lie inside strings (simdjson's idea). Measured against the
//! alternatives in BENCHMARKS.md.
//!
//! Errors are [`ScanError`]s converted into the caller's own type (see [`Scanner`]). Where it sits: device
//! MQTT payload → gateway adapter (`gateway/src/adapters/`) → this scanner → canonical values.

mod keys;
mod scanner;
mod simd;
mod skip;
mod swar;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use keys::{KeyIndex, Seen, is};
pub use scanner::{Kind, Scanner, wrong_type};

/// Why a document, or a value in it, was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanError {
    /// Not valid JSON: what is wrong, at which byte.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A value the caller reads has the wrong type or does not parse as asked, or a field appears twice.
    #[error("field {field}: {problem}")]
    Field {
        /// The field's name, as the caller gave it.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

impl ScanError {
    /// A short, stable label: `malformed_json` or `bad_field` (the gateway's rejection reasons).
    pub fn reason(&self) -> &'static str {
        match self {
            ScanError::Json(_) => "malformed_json",
            ScanError::Field { .. } => "bad_field",
        }
    }
}

/// Checks a whole document's syntax.
pub fn validate(payload: &[u8]) -> Result<(), ScanError> {
    let mut s = Scanner::<ScanError>::new(payload);
    s.skip_checked()?;
    s.end()
}

#[cfg(test)]
mod tests;
