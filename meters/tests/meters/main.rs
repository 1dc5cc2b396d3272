//! The meter decoders' integration tests, one binary: golden values of every fixture in `tests/fixtures/`
//! (copied from the project's shared fixtures), the `m-bus-parser` and `sml-rs` crates as oracles, and
//! robustness (arbitrary bytes, truncations and bit flips never panic; wrong keys are wrong keys).

mod golden;
mod oracle;
mod robustness;
mod sml_oracle;

use serde_json::Value as Json;

/// A fixture file of `tests/fixtures/` as JSON.
fn fixtures(name: &str) -> Json {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture file")).expect("fixture JSON")
}
