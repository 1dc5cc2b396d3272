//! The Things Stack v3 MQTT uplink message (`v3/{app}@{tenant}/devices/{device}/up`) for a simulated soil
//! sensor: a Dragino LSE01 (moisture) or a Decentlab DL-TRS21 (water potential, [`super::trs21`]).
//!
//! Shaped like TTS's protobuf JSON: fields in TTS's order, zero values omitted (`f_cnt` 0, `channel_index`
//! 0), `frequency` as a string, `frm_payload` base64, timestamps RFC 3339 UTC, `consumed_airtime` a duration
//! string from the LoRa time-on-air formula (see [`super::radio`]). Ids, EUIs, the session key id and the
//! radio metadata are derived from the seed, so the same seed gives the same messages.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use super::lse01::{F_PORT, SoilModel, decoded_payload};
use super::radio::{EU868, MAC_OVERHEAD, airtime, proto_duration, proto_time, ulid};
use super::trs21::{self, TensionModel};
use crate::config::SoilConfig;
use crate::curves::{mix, secs, smooth, unit};

/// Data rate of the simulated sensor: EU868 DR5 = SF7/125 kHz.
const DATA_RATE_INDEX: u8 = 5;
const SPREADING_FACTOR: u32 = 7;
const BANDWIDTH_HZ: u32 = 125_000;
const GATEWAY_ID: &str = "zw-sim-gw-1";

#[derive(Debug, Clone, Serialize)]
struct EndDeviceIds {
    device_id: String,
    application_ids: ApplicationIds,
    dev_eui: String,
    join_eui: String,
    dev_addr: String,
}

#[derive(Debug, Clone, Serialize)]
struct ApplicationIds {
    application_id: String,
}

#[derive(Serialize)]
struct Uplink<'a> {
    end_device_ids: &'a EndDeviceIds,
    correlation_ids: Vec<String>,
    received_at: String,
    uplink_message: UplinkMessage,
}

#[derive(Serialize)]
struct UplinkMessage {
    session_key_id: String,
    f_port: u8,
    #[serde(skip_serializing_if = "is_zero")]
    f_cnt: u32,
    frm_payload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoded_payload: Option<Value>,
    rx_metadata: Vec<RxMetadata>,
    settings: Settings,
    received_at: String,
    consumed_airtime: String,
}

#[derive(Serialize)]
struct RxMetadata {
    gateway_ids: GatewayIds,
    time: String,
    timestamp: u32,
    rssi: i32,
    channel_rssi: i32,
    /// A JSON number; whole values print without `.0` like protobuf JSON does.
    snr: Value,
    uplink_token: String,
    #[serde(skip_serializing_if = "is_zero")]
    channel_index: u32,
}

#[derive(Serialize)]
struct GatewayIds {
    gateway_id: &'static str,
    eui: String,
}

#[derive(Serialize)]
struct Settings {
    data_rate: DataRate,
    data_rate_index: u8,
    coding_rate: &'static str,
    /// uint64 in protobuf JSON: a string.
    frequency: String,
}

#[derive(Serialize)]
struct DataRate {
    lora: Lora,
}

#[derive(Serialize)]
struct Lora {
    bandwidth: u32,
    spreading_factor: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The sensor behind a simulated end device.
#[derive(Debug, Clone)]
enum Sensor {
    Lse01(SoilModel),
    Trs21(TensionModel),
}

/// One simulated LoRaWAN soil sensor (LSE01 by default, or DL-TRS21) as The Things Stack reports it.
#[derive(Debug, Clone)]
pub struct Lse01Device {
    seed: u64,
    topic: String,
    ids: EndDeviceIds,
    session_key_id: String,
    model: Sensor,
    f_cnt: u32,
}

impl Lse01Device {
    /// A device that joined at `now` (frame counter 0).
    pub fn new(cfg: &SoilConfig, seed: u64, now: DateTime<Utc>) -> Self {
        let ids = EndDeviceIds {
            device_id: cfg.device_id.clone(),
            application_ids: ApplicationIds {
                application_id: cfg.application.clone(),
            },
            // A8:40:41 is Dragino's OUI.
            dev_eui: format!("A84041{:010X}", mix(seed, 1) & 0xFF_FFFF_FFFF),
            join_eui: "A840410000000101".into(),
            // 0x260B… lies in TTN's DevAddr block (NetID 0x000013).
            dev_addr: format!("260B{:04X}", mix(seed, 2) & 0xFFFF),
        };
        let key_id = [mix(seed, 3).to_be_bytes(), mix(seed, 4).to_be_bytes()].concat();
        Self {
            seed,
            topic: format!(
                "v3/{}@{}/devices/{}/up",
                cfg.application, cfg.tenant, cfg.device_id
            ),
            ids,
            session_key_id: BASE64.encode(key_id),
            model: Sensor::Lse01(SoilModel::new(seed, now)),
            f_cnt: 0,
        }
    }

    /// A Decentlab DL-TRS21 tension sensor instead of an LSE01 (the tree was watered at `now`).
    pub fn trs21(cfg: &SoilConfig, seed: u64, now: DateTime<Utc>) -> Self {
        let mut d = Self::new(cfg, seed, now);
        // 70:B3:D5:7B:A0 is Decentlab's EUI block.
        d.ids.dev_eui = format!("70B3D57BA{:07X}", mix(seed, 1) & 0xFFF_FFFF);
        d.model = Sensor::Trs21(TensionModel::new(seed, now));
        d
    }

    /// The MQTT topic the uplinks are published on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The uplink the application server hands out at `now` (its `received_at`); advances the frame counter.
    pub fn uplink(&mut self, now: DateTime<Utc>) -> Result<Vec<u8>, serde_json::Error> {
        let (payload, f_port, decoded) = match &self.model {
            Sensor::Lse01(m) => {
                let p = m.frame(now).encode();
                (p, F_PORT, decoded_payload(&p))
            }
            Sensor::Trs21(m) => {
                let f = m.frame(now);
                (f.encode(), trs21::F_PORT, Some(trs21::decoded_payload(&f)))
            }
        };
        let f_cnt = self.f_cnt;
        self.f_cnt = self.f_cnt.wrapping_add(1);
        let (seed, k) = (self.seed, u64::from(f_cnt));
        // The gateway saw the frame a little earlier than the network and application servers.
        let gw_time = now - TimeDelta::milliseconds(60 + (unit(mix(seed, 5), k) * 80.0) as i64);
        let channel = (mix(mix(seed, 6), k) % EU868.len() as u64) as u32;
        let rssi = (-85.0 + 20.0 * smooth(mix(seed, 7), secs(now), 3600.0)).round() as i32;
        // SX130x concentrators report SNR in 0.25 dB steps.
        let snr = ((7.0 + 3.0 * smooth(mix(seed, 8), secs(now), 3600.0)) * 4.0).round() / 4.0;
        let snr = if snr.fract() == 0.0 {
            Value::from(snr as i64)
        } else {
            Value::from(snr)
        };
        // Concentrator timestamp: a free-running µs counter that wraps at 2^32.
        let timestamp = ((secs(gw_time) * 1e6) as u64).wrapping_add(mix(seed, 9)) as u32;
        // Opaque to clients; real tokens are protobuf bytes starting with the gateway id, so mimic that.
        let token = [
            &[0x0A, GATEWAY_ID.len() as u8],
            GATEWAY_ID.as_bytes(),
            &timestamp.to_be_bytes(),
        ]
        .concat();
        let correlation = [
            "as:up",
            "gs:uplink",
            "ns:uplink",
            "rpc:/ttn.lorawan.v3.NsAs/HandleUplink",
        ];
        let uplink = Uplink {
            end_device_ids: &self.ids,
            correlation_ids: (correlation.iter().zip(11u64..))
                .map(|(prefix, key)| format!("{prefix}:{}", ulid(gw_time, mix(mix(seed, key), k))))
                .collect(),
            received_at: proto_time(now),
            uplink_message: UplinkMessage {
                session_key_id: self.session_key_id.clone(),
                f_port,
                f_cnt,
                frm_payload: BASE64.encode(payload),
                decoded_payload: decoded,
                rx_metadata: vec![RxMetadata {
                    gateway_ids: GatewayIds {
                        gateway_id: GATEWAY_ID,
                        eui: format!("B827EBFFFE{:06X}", mix(seed, 10) & 0xFF_FFFF),
                    },
                    time: proto_time(gw_time),
                    timestamp,
                    rssi,
                    channel_rssi: rssi,
                    snr,
                    uplink_token: BASE64.encode(token),
                    channel_index: channel,
                }],
                settings: Settings {
                    data_rate: DataRate {
                        lora: Lora {
                            bandwidth: BANDWIDTH_HZ,
                            spreading_factor: SPREADING_FACTOR,
                        },
                    },
                    data_rate_index: DATA_RATE_INDEX,
                    coding_rate: "4/5",
                    frequency: EU868[channel as usize].to_string(),
                },
                received_at: proto_time(now - TimeDelta::milliseconds(15)),
                consumed_airtime: proto_duration(airtime(
                    payload.len() + MAC_OVERHEAD,
                    SPREADING_FACTOR,
                    BANDWIDTH_HZ,
                )),
            },
        };
        serde_json::to_vec(&uplink)
    }
}

#[cfg(test)]
mod tests;
