//! Simulated Tasmota smart plugs: the plug's load, counters and MQTT payloads ([`TasmotaPlug`]), and the
//! task that publishes them on `tele/<topic>/LWT|STATE|SENSOR` like the real firmware.

mod plug;
mod publish;

pub use plug::{TasmotaPlug, plug_load};
pub(crate) use publish::run_plug;
