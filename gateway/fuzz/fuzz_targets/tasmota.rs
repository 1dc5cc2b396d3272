//! Tasmota SENSOR and STATUS8/10 (energy and SML), STATE and LWT decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_gateway::adapters::tasmota::{Decoder, Part};
use zw_model::inventory::SmlField;

fuzz_target!(|data: &[u8]| {
    let sml = Decoder::sml("SML", &[SmlField { key: "Total_in".into(), obis: "1.8.0".into(), unit: None }]);
    for d in [Some(Decoder::energy()), sml.ok()].into_iter().flatten() {
        for part in [Part::Sensor, Part::Status, Part::State, Part::Lwt] {
            let _ = d.decode(part, data);
        }
    }
});
