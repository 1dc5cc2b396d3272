//! The straightforward serde_json decoders: typed borrowed structs (and `serde_json::Value` for the
//! configurable SML mapping). They were the production path before the scanner ([`zw_jsonscan`]) and stay as
//! the reference, test-only (compiled for `cfg(test)` and with the `serde-reference` feature, which the
//! crate's dev-dependency on itself turns on for tests and benches): property tests check that both paths give
//! the same values and reject the same inputs, and the benchmark reports both. The generic JSON reference is
//! production code: [`super::json::ValueMapping`]. They cover what both paths read; the
//! capabilities added since (Shelly `em1:N`, channels other than 0, Tasmota `STATUS8`/`STATUS10`) exist on
//! the scanner path only.

mod num;
pub mod shelly;
pub mod tasmota;
pub mod ttn;
