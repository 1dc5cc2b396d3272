//! Shelly status and NotifyStatus decoding never panics, also with state carried between messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_gateway::adapters::shelly::{Component, Part, State};

fuzz_target!(|data: &[u8]| {
    let mut s = State::default();
    let parts = [
        Part::Online,
        Part::Rpc,
        Part::Status(Component::Switch),
        Part::Status(Component::Em),
        Part::Status(Component::EmData),
        Part::Status(Component::Other),
    ];
    // Split the input into messages so deltas land on state built by earlier ones.
    for (i, chunk) in data.split(|b| *b == 0).enumerate() {
        let _ = s.decode(parts[i % parts.len()], chunk);
    }
});
