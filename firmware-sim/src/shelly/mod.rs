//! Simulated Shelly Gen2/Gen3 devices (a plug and a Pro 3EM): their counters and status payloads
//! ([`ShellyDevice`]), their config ([`ShellyConfig`]), and the task that publishes them under `<prefix>/…`.

mod device;
mod publish;

pub use device::{ShellyConfig, ShellyDevice, ShellyModel, validate};
pub(crate) use publish::run_shelly;
