//! TTS uplink decoding (LSE01, DL-TRS21, and their raw frames) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_gateway::adapters::ttn::{Model, lse01_frame, trs21_frame};

fuzz_target!(|data: &[u8]| {
    let _ = Model::Lse01.decode(data);
    let _ = Model::DlTrs21.decode(data);
    let _ = lse01_frame(data);
    let _ = trs21_frame(data);
});
