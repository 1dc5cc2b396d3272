//! Wired M-Bus: frame parsing, records and the canonical mapping never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_meters::mbus;

fuzz_target!(|data: &[u8]| {
    let _ = mbus::frame::frame_length(data);
    if let Ok(t) = mbus::decode(data) {
        let _ = t.values();
    }
    // The records alone, so the fuzzer need not find a valid checksum first.
    let _ = mbus::record::parse_records(data);
});
