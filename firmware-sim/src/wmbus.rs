//! A wireless M-Bus receiver with simulated OMS meters (heat, water, gas): each meter's telegram (link layer
//! without block CRCs, CI `7A` short header, unencrypted, DIF/VIF records in BCD) is published as hex on
//! `wmbus/{receiver}/telegram`, as ESP32 radio bridges do; water meters' telegrams go as JSON
//! `{"telegram": "<hex>", "rssi": …}`, the other shape receivers use. Counters grow with a daily curve.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{Bus, ConnectOptions, QoS};

/// What a simulated meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    /// Heat meter: energy, volume, flow, power, flow and return temperature.
    Heat,
    /// Water meter: volume and flow.
    Water,
    /// Gas meter: volume.
    Gas,
}

/// `[[sim.wmbus_meters]]`: one simulated wireless M-Bus meter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WmbusMeterConfig {
    /// The receiver that hears it: the topic is `wmbus/{receiver}/telegram`.
    pub receiver: String,
    /// Heat, water or gas.
    pub medium: Medium,
    /// Three-letter manufacturer code (upper case).
    pub manufacturer: String,
    /// 8-digit meter id.
    pub id: String,
    /// Time between telegrams.
    #[serde(with = "humantime_serde", default = "default_interval")]
    pub interval: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(10)
}

impl WmbusMeterConfig {
    /// Reports every problem, prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.receiver.is_empty() || self.receiver.contains(['/', '+', '#']) {
            errors.push(format!(
                "{path}.receiver: {:?} is not one topic level",
                self.receiver
            ));
        }
        if self.manufacturer.len() != 3 || !self.manufacturer.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(format!(
                "{path}.manufacturer: {:?} is not a three-letter code",
                self.manufacturer
            ));
        }
        if self.id.len() != 8 || !self.id.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(format!("{path}.id: {:?} is not an 8-digit meter id", self.id));
        }
        if self.interval < Duration::from_secs(1) {
            errors.push(format!("{path}.interval: must be at least 1s"));
        }
        errors
    }
}

/// `value` as `n` little-endian BCD bytes (digits beyond the width are dropped).
fn bcd(mut value: u64, n: usize, out: &mut Vec<u8>) {
    for _ in 0..n {
        let lo = (value % 10) as u8;
        let hi = ((value / 10) % 10) as u8;
        out.push(hi << 4 | lo);
        value /= 100;
    }
}

/// A simulated meter's counters and its current instantaneous values.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterState {
    /// Heat energy, Wh.
    pub energy_wh: f64,
    /// Volume, m³.
    pub volume_m3: f64,
    /// Flow now, m³/h.
    pub flow_m3h: f64,
    /// Heat power now, W.
    pub power_w: f64,
    /// Flow temperature, °C.
    pub flow_c: f64,
    /// Return temperature, °C.
    pub return_c: f64,
}

impl MeterState {
    /// Start values of a medium (a meter some years in service).
    pub fn new(medium: Medium) -> Self {
        match medium {
            Medium::Heat => Self {
                energy_wh: 18_312_000.0,
                volume_m3: 4229.774,
                flow_m3h: 0.0,
                power_w: 0.0,
                flow_c: 62.0,
                return_c: 45.0,
            },
            Medium::Water => Self {
                volume_m3: 123.529,
                ..Self::zero()
            },
            Medium::Gas => Self {
                volume_m3: 28_504.27,
                ..Self::zero()
            },
        }
    }

    fn zero() -> Self {
        Self {
            energy_wh: 0.0,
            volume_m3: 0.0,
            flow_m3h: 0.0,
            power_w: 0.0,
            flow_c: 0.0,
            return_c: 0.0,
        }
    }

    /// Advances by `dt` at local hour `hour` (0–24, fractional): heating and gas follow a day curve with a
    /// night setback, water a use curve in the day.
    pub fn step(&mut self, medium: Medium, hour: f64, dt: Duration) {
        let h = dt.as_secs_f64() / 3600.0;
        let day = (-((hour - 13.0) / 5.0).powi(2)).exp();
        match medium {
            Medium::Heat => {
                self.power_w = 4000.0 + 14_000.0 * day;
                self.flow_c = 55.0 + 15.0 * day;
                self.return_c = self.flow_c - 12.0 - 6.0 * day;
                // Q = ρ·c·V̇·ΔT: 1.163 kWh per m³ and K.
                self.flow_m3h = self.power_w / 1000.0 / (1.163 * (self.flow_c - self.return_c));
                self.energy_wh += self.power_w * h;
                self.volume_m3 += self.flow_m3h * h;
            }
            Medium::Water => {
                self.flow_m3h = 0.02 + 0.4 * day;
                self.volume_m3 += self.flow_m3h * h;
            }
            Medium::Gas => {
                self.flow_m3h = 0.5 + 2.5 * day;
                self.volume_m3 += self.flow_m3h * h;
            }
        }
    }
}

/// The meter's telegram (no block CRCs, L counting the bytes after it), access number `acc`.
pub fn telegram(cfg: &WmbusMeterConfig, state: &MeterState, acc: u8) -> Vec<u8> {
    let m = cfg
        .manufacturer
        .bytes()
        .fold(0u16, |a, c| (a << 5) | u16::from(c.saturating_sub(64) & 31));
    let id: u64 = cfg.id.parse().unwrap_or(0);
    let device_type = match cfg.medium {
        Medium::Heat => 0x04,
        Medium::Water => 0x07,
        Medium::Gas => 0x03,
    };
    let mut t = vec![0, 0x44, m as u8, (m >> 8) as u8];
    bcd(id, 4, &mut t);
    t.extend([0x01, device_type, 0x7A, acc, 0x00, 0x00, 0x00, 0x2F, 0x2F]);
    let litres = (state.volume_m3 * 1000.0).round().max(0.0) as u64;
    let flow = (state.flow_m3h * 1000.0).round().max(0.0) as u64;
    if cfg.medium == Medium::Heat {
        // Energy in Wh (VIF 03), BCD 8.
        t.extend([0x0C, 0x03]);
        bcd(state.energy_wh.round().max(0.0) as u64, 4, &mut t);
    }
    // Volume in l (VIF 13), BCD 8; flow in l/h (VIF 3B), BCD 6.
    t.extend([0x0C, 0x13]);
    bcd(litres, 4, &mut t);
    if cfg.medium != Medium::Gas {
        t.extend([0x0B, 0x3B]);
        bcd(flow, 3, &mut t);
    }
    if cfg.medium == Medium::Heat {
        // Power in W (VIF 2B), BCD 6; flow and return temperature in 0.1 °C (VIF 5A, 5E), BCD 4.
        t.extend([0x0B, 0x2B]);
        bcd(state.power_w.round().max(0.0) as u64, 3, &mut t);
        t.extend([0x0A, 0x5A]);
        bcd((state.flow_c * 10.0).round().max(0.0) as u64, 2, &mut t);
        t.extend([0x0A, 0x5E]);
        bcd((state.return_c * 10.0).round().max(0.0) as u64, 2, &mut t);
    }
    t[0] = (t.len() - 1) as u8;
    t
}

/// Publishes the meters' telegrams until `shutdown`, one task for all.
pub(crate) async fn run(meters: Vec<WmbusMeterConfig>, bus: Bus, shutdown: CancellationToken) {
    let stop = shutdown.child_token();
    let (client, _inbound, driver) = bus.connect(ConnectOptions::publisher("sim", "wmbus"), stop.clone());
    let mut states: Vec<MeterState> = meters.iter().map(|m| MeterState::new(m.medium)).collect();
    let mut last = vec![std::time::Instant::now(); meters.len()];
    let mut due = last.clone();
    let mut acc: u8 = 0;
    let mut ticker = interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    info!(meters = meters.len(), "Wireless M-Bus receiver started.");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let now = std::time::Instant::now();
        let local = chrono::Local::now();
        let hour =
            f64::from(chrono::Timelike::hour(&local)) + f64::from(chrono::Timelike::minute(&local)) / 60.0;
        for (i, m) in meters.iter().enumerate() {
            if now < due[i] {
                continue;
            }
            states[i].step(m.medium, hour, now - last[i]);
            last[i] = now;
            due[i] = now + m.interval;
            acc = acc.wrapping_add(1);
            if !client.is_connected() {
                continue;
            }
            let hex = hex::encode_upper(telegram(m, &states[i], acc));
            let payload = match m.medium {
                Medium::Water => format!(r#"{{"telegram":"{hex}","rssi":-74}}"#),
                _ => hex,
            };
            let topic = format!("wmbus/{}/telegram", m.receiver);
            if let Err(e) = client
                .publish(topic, QoS::AtLeastOnce, false, payload.into_bytes())
                .await
            {
                warn!(error = %e, "Bus client stopped; the wireless M-Bus receiver stops.");
                return;
            }
        }
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    stop.cancel();
}

#[cfg(test)]
mod tests {
    use zw_model::Quantity;

    use super::*;

    fn meter(medium: Medium) -> WmbusMeterConfig {
        WmbusMeterConfig {
            receiver: "rx1".into(),
            medium,
            manufacturer: "ZWS".into(),
            id: "20260001".into(),
            interval: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_telegrams_decode_to_the_simulated_values() {
        let mut s = MeterState::new(Medium::Heat);
        s.step(Medium::Heat, 13.0, Duration::from_secs(3600));
        let t = zw_meters::wmbus::decode(&telegram(&meter(Medium::Heat), &s, 7), &()).expect("decodes");
        let id = t.meter.expect("identity");
        assert_eq!(
            (id.manufacturer.to_string(), id.id.to_string()),
            ("ZWS".into(), "20260001".into())
        );
        let v = t.values();
        assert_eq!(v.get(&Quantity::HeatEnergy), Some(&s.energy_wh.round()));
        assert_eq!(v.get(&Quantity::HeatPower), Some(&18_000.0));
        assert_eq!(v.get(&Quantity::FlowTemperature), Some(&70.0));
        assert_eq!(v.get(&Quantity::ReturnTemperature), Some(&52.0));
        assert!(
            v.get(&Quantity::Volume).is_some() && v.get(&Quantity::VolumeFlow).is_some(),
            "{v:?}"
        );

        let g = MeterState::new(Medium::Gas);
        let t = zw_meters::wmbus::decode(&telegram(&meter(Medium::Gas), &g, 1), &()).expect("decodes");
        assert_eq!(t.values().get(&Quantity::GasVolume), Some(&28_504.27));
        let w = MeterState::new(Medium::Water);
        let t = zw_meters::wmbus::decode(&telegram(&meter(Medium::Water), &w, 1), &()).expect("decodes");
        assert_eq!(t.values().get(&Quantity::Volume), Some(&123.529));
    }

    #[test]
    fn bad_meter_settings_are_all_reported() {
        let bad = WmbusMeterConfig {
            receiver: "a/b".into(),
            medium: Medium::Gas,
            manufacturer: "zz".into(),
            id: "12".into(),
            interval: Duration::ZERO,
        };
        assert_eq!(bad.validate("sim.wmbus_meters[0]").len(), 4);
        assert!(meter(Medium::Heat).validate("x").is_empty());
    }
}
