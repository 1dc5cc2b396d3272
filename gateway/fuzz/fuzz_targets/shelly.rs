//! Shelly status (switch:N, em:0, emdata:0, em1:N, em1data:N) and NotifyStatus decoding never panics, also
//! with state carried between messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_gateway::adapters::shelly::{Component, Part, State};

fuzz_target!(|data: &[u8]| {
    let parts = [
        Part::Online,
        Part::Rpc,
        Part::Status(Component::Switch(0)),
        Part::Status(Component::Switch(1)),
        Part::Status(Component::Em),
        Part::Status(Component::EmData),
        Part::Status(Component::Em1(1)),
        Part::Status(Component::Em1Data(1)),
        Part::Status(Component::Other),
    ];
    // Channel 0 and channel 1 devices; the input split into messages so deltas land on state built by
    // earlier ones.
    for mut s in [State::new(0), State::new(1)] {
        for (i, chunk) in data.split(|b| *b == 0).enumerate() {
            let _ = s.decode(parts[i % parts.len()], chunk);
        }
    }
});
