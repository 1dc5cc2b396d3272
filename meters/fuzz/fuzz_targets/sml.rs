//! SML: transport, message parsing, OBIS mapping and the DZG correction never panic, whole or byte by byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_meters::sml;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = sml::decode_file(data) {
        let _ = (r.values(), r.meter_id(), r.energy_resolution_wh());
    }
    let mut stream = sml::SmlStream::new();
    for &b in data {
        let _ = stream.push(b);
    }
});
