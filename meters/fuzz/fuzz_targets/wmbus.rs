//! Wireless M-Bus: link layer, CRCs, AFL/ELL, decryption with a key and records never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_meters::wmbus::{self, Key};

fuzz_target!(|data: &[u8]| {
    for r in [wmbus::decode(data, &()), wmbus::decode(data, &Key([0x42; 16])), wmbus::decode_predecrypted(data)] {
        if let Ok(t) = r {
            let _ = t.values();
        }
    }
});
