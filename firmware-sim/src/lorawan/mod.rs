//! Simulated LoRaWAN soil sensors behind The Things Stack v3: the Dragino LSE01 ([`lse01`]) and the
//! Decentlab DL-TRS21 ([`trs21`]) with their frames and official decoders' output, the TTS uplink message
//! that carries them ([`tts`]), the radio facts every uplink needs ([`radio`]), and the task that publishes
//! the uplinks on `v3/{app}@{tenant}/devices/{device}/up`.

pub mod lse01;
mod publish;
pub mod radio;
pub mod trs21;
pub mod tts;

pub(crate) use publish::run_tts;
