//! The Things Stack v3 MQTT uplink message (`v3/{app}@{tenant}/devices/{device}/up`) for a simulated LSE01.
//!
//! Shaped like TTS's protobuf JSON: fields in TTS's order, zero values omitted (`f_cnt` 0, `channel_index`
//! 0), `frequency` as a string, `frm_payload` base64, timestamps RFC 3339 UTC with 0/3/6/9 fraction digits,
//! `consumed_airtime` a duration string computed with the LoRa time-on-air formula. Ids, EUIs, the session
//! key id and radio metadata are derived from the seed, so the same seed gives the same messages.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::SoilConfig;
use crate::curves::{mix, secs, smooth, unit};
use crate::lse01::{F_PORT, SoilModel, decoded_payload};

/// EU868 uplink channels of a standard 8-channel gateway, in Hz.
const EU868: [u64; 8] = [868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000];
/// LoRaWAN overhead around FRMPayload without FOpts: MHDR 1, DevAddr 4, FCtrl 1, FCnt 2, FPort 1, MIC 4.
const LORAWAN_OVERHEAD: usize = 13;
/// Data rate used by the simulated sensor: EU868 DR5 = SF7/125 kHz.
const SPREADING_FACTOR: u32 = 7;
const BANDWIDTH_HZ: u32 = 125_000;

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
    rx_metadata: Vec<Value>,
    settings: Value,
    received_at: String,
    consumed_airtime: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One simulated LSE01 as The Things Stack reports it.
#[derive(Debug, Clone)]
pub struct Lse01Device {
    seed: u64,
    topic: String,
    ids: EndDeviceIds,
    session_key_id: String,
    model: SoilModel,
    f_cnt: u32,
}

impl Lse01Device {
    /// A device that joined at `now` (frame counter 0).
    pub fn new(cfg: &SoilConfig, seed: u64, now: DateTime<Utc>) -> Self {
        let ids = EndDeviceIds {
            device_id: cfg.device_id.clone(),
            application_ids: ApplicationIds { application_id: cfg.application.clone() },
            // A8:40:41 is Dragino's OUI.
            dev_eui: format!("A84041{:010X}", mix(seed, 1) & 0xFF_FFFF_FFFF),
            join_eui: "A840410000000101".into(),
            // 0x260B… is inside TTN's NetID 0x000013 DevAddr block.
            dev_addr: format!("260B{:04X}", mix(seed, 2) & 0xFFFF),
        };
        Self {
            seed,
            topic: format!("v3/{}@{}/devices/{}/up", cfg.application, cfg.tenant, cfg.device_id),
            ids,
            session_key_id: BASE64.encode([mix(seed, 3).to_be_bytes(), mix(seed, 4).to_be_bytes()].concat()),
            model: SoilModel::new(seed, now),
            f_cnt: 0,
        }
    }

    /// The MQTT topic the uplinks are published on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The uplink the application server hands out at `now` (its `received_at`); advances the frame counter.
    pub fn uplink(&mut self, now: DateTime<Utc>) -> Result<Vec<u8>, serde_json::Error> {
        let payload = self.model.frame(now).encode();
        let f_cnt = self.f_cnt;
        self.f_cnt = self.f_cnt.wrapping_add(1);
        let (seed, k) = (self.seed, u64::from(f_cnt));
        // The gateway saw the frame a little earlier than the network and application servers.
        let gw_time = now - TimeDelta::milliseconds(60 + (unit(mix(seed, 5), k) * 80.0) as i64);
        let ns_time = now - TimeDelta::milliseconds(15);
        let channel = (mix(mix(seed, 6), k) % EU868.len() as u64) as usize;
        let rssi = (-85.0 + 20.0 * smooth(mix(seed, 7), secs(now), 3600.0)).round() as i64;
        // SX130x concentrators report SNR in 0.25 dB steps; protobuf JSON prints whole floats without ".0".
        let snr = ((7.0 + 3.0 * smooth(mix(seed, 8), secs(now), 3600.0)) * 4.0).round() / 4.0;
        let snr = if snr.fract() == 0.0 { Value::from(snr as i64) } else { Value::from(snr) };
        // Concentrator timestamp: a free-running µs counter that wraps at 2^32.
        let timestamp = ((secs(gw_time) * 1e6) as u64).wrapping_add(mix(seed, 9)) as u32;
        let gateway_eui = format!("B827EBFFFE{:06X}", mix(seed, 10) & 0xFF_FFFF);
        let token = [b"\n\x0czw-sim-gw-1".as_slice(), &timestamp.to_be_bytes()].concat();
        let mut rx = serde_json::json!({
            "gateway_ids": {"gateway_id": "zw-sim-gw-1", "eui": gateway_eui},
            "time": rfc3339(gw_time), "timestamp": timestamp, "rssi": rssi, "channel_rssi": rssi, "snr": snr,
            "uplink_token": BASE64.encode(token),
        });
        if channel != 0 {
            rx["channel_index"] = channel.into(); // TTS omits zero values.
        }
        let airtime = lora_airtime(payload.len() + LORAWAN_OVERHEAD, SPREADING_FACTOR, BANDWIDTH_HZ);
        let uplink = Uplink {
            end_device_ids: &self.ids,
            correlation_ids: ["as:up", "gs:uplink", "ns:uplink", "rpc:/ttn.lorawan.v3.NsAs/HandleUplink"]
                .iter()
                .enumerate()
                .map(|(i, prefix)| format!("{prefix}:{}", ulid(gw_time, mix(mix(seed, 11 + i as u64), k))))
                .collect(),
            received_at: rfc3339(now),
            uplink_message: UplinkMessage {
                session_key_id: self.session_key_id.clone(),
                f_port: F_PORT,
                f_cnt,
                frm_payload: BASE64.encode(payload),
                decoded_payload: decoded_payload(&payload),
                rx_metadata: vec![rx],
                settings: serde_json::json!({
                    "data_rate": {"lora": {"bandwidth": BANDWIDTH_HZ, "spreading_factor": SPREADING_FACTOR}},
                    "data_rate_index": 5, "coding_rate": "4/5", "frequency": EU868[channel].to_string(),
                }),
                received_at: rfc3339(ns_time),
                consumed_airtime: proto_duration(airtime),
            },
        };
        serde_json::to_vec(&uplink)
    }
}

/// RFC 3339 in UTC with `Z` and 0, 3, 6 or 9 fraction digits, as protobuf's JSON encoding writes timestamps.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A protobuf JSON duration: seconds with 0, 3, 6 or 9 fraction digits and an `s` suffix.
pub fn proto_duration(d: Duration) -> String {
    let (s, n) = (d.as_secs(), d.subsec_nanos());
    match n {
        0 => format!("{s}s"),
        n if n % 1_000_000 == 0 => format!("{s}.{:03}s", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{s}.{:06}s", n / 1_000),
        n => format!("{s}.{n:09}s"),
    }
}

/// LoRa time on air (Semtech AN1200.13): explicit header, CRC on, coding rate 4/5, 8 preamble symbols,
/// low-data-rate optimisation from SF11 at 125 kHz.
pub fn lora_airtime(phy_payload_len: usize, sf: u32, bandwidth_hz: u32) -> Duration {
    let t_sym_ns = (1u64 << sf) * 1_000_000_000 / u64::from(bandwidth_hz);
    let de = i64::from(sf >= 11 && bandwidth_hz == 125_000);
    let num = 8 * phy_payload_len as i64 - 4 * i64::from(sf) + 28 + 16;
    let den = 4 * (i64::from(sf) - 2 * de);
    let payload_symbols = 8 + ((num + den - 1).div_euclid(den)).max(0) * 5;
    // 8 programmed preamble symbols + 4.25 sync symbols = 12.25 = 49/4.
    Duration::from_nanos(t_sym_ns * 49 / 4 + t_sym_ns * payload_symbols as u64)
}

/// A ULID (Crockford base32 of 48-bit milliseconds and 80 bits of entropy), as in TTS correlation ids.
fn ulid(t: DateTime<Utc>, entropy: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = u128::from(t.timestamp_millis().max(0) as u64) & ((1 << 48) - 1);
    let v = (ms << 80) | u128::from(entropy) << 16 | u128::from(mix(entropy, 1) as u16);
    (0..26).map(|i| char::from(ALPHABET[((v >> (125 - 5 * i)) & 31) as usize])).collect()
}

#[cfg(test)]
#[path = "tts_tests.rs"]
mod tests;
