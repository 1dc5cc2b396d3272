//! Generic JSON mapping never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_gateway::adapters::json::Mapping;
use zw_model::Quantity;
use zw_model::inventory::JsonField;

fuzz_target!(|data: &[u8]| {
    let f = |pointer: &str, quantity| JsonField { pointer: pointer.into(), quantity, scale: 1000.0, offset: 0.0, numeric_strings: true };
    let m = Mapping::new(&[f("/a", Quantity::EnergyImport), f("/b/0", Quantity::ActivePower)], Some("/ts"));
    let _ = m.decode(data);
});
