//! The straightforward serde_json decoders: typed borrowed structs (and `serde_json::Value` for the
//! configurable SML and generic JSON mappings). They were the production path before the scanner
//! ([`super::scan`]) and stay as the reference: property tests check that both paths give the same values
//! and reject the same inputs, and the benchmark reports both. They cover what both paths read; the
//! capabilities added since (Shelly `em1:N`, channels other than 0, Tasmota `STATUS8`/`STATUS10`) exist on
//! the scanner path only.

pub mod json;
pub mod shelly;
pub mod tasmota;
pub mod ttn;
