//! A wired M-Bus segment behind a simulated M-Bus/Ethernet gateway (transparent TCP): meters with primary
//! and secondary addresses answering SND_NKE and a matching select with `E5` and REQ_UD2 with an RSP_UD (CI
//! `72`, long header) built from their simulated state: heat energy, volume, flow, power, flow and return
//! temperature (heat); volume and flow (water); volume (gas). A meter with `split = true` answers in two
//! telegrams (the first ends with DIF `1F`), and repeats its last telegram when the FCB was not toggled, as
//! EN 13757-2 asks. An address nobody has stays silent, like a dead meter on a real bus.
//!
//! The meters' states live in [`MbusBus`], shared with the updater ([`run`]) or set directly by tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};
use zw_meters::mbus::frame::{self, Frame};

use crate::wmbus::{Medium, MeterState};

/// `[[sim.mbus_buses]]`: one simulated M-Bus/Ethernet gateway and the meters on its bus.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MbusBusConfig {
    /// Where the gateway listens, e.g. `127.0.0.1:5021` (port 0: any free port).
    pub listen: std::net::SocketAddr,
    /// The meters on the bus.
    pub meters: Vec<MbusMeterConfig>,
    /// How often the meters' values advance. Default 1 s.
    #[serde(with = "humantime_serde", default = "default_update")]
    pub update_interval: Duration,
}

fn default_update() -> Duration {
    Duration::from_secs(1)
}

/// One simulated wired M-Bus meter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MbusMeterConfig {
    /// Primary address 1–250.
    pub address: u8,
    /// Three-letter manufacturer code (upper case).
    pub manufacturer: String,
    /// 8-digit meter id (the secondary address).
    pub id: String,
    /// Heat, water or gas.
    pub medium: Medium,
    /// Answer in two telegrams (multi-telegram, DIF `1F`).
    #[serde(default)]
    pub split: bool,
}

impl MbusBusConfig {
    /// Reports every problem, prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.meters.iter().enumerate() {
            let p = format!("{path}.meters[{i}]");
            if !(1..=250).contains(&m.address) {
                errors.push(format!("{p}.address: must be 1..=250"));
            } else if !seen.insert(m.address) {
                errors.push(format!("{p}.address: {} is taken", m.address));
            }
            if m.manufacturer.len() != 3 || !m.manufacturer.bytes().all(|b| b.is_ascii_uppercase()) {
                errors.push(format!(
                    "{p}.manufacturer: {:?} is not a three-letter code",
                    m.manufacturer
                ));
            }
            if m.id.len() != 8 || !m.id.bytes().all(|b| b.is_ascii_digit()) {
                errors.push(format!("{p}.id: {:?} is not an 8-digit meter id", m.id));
            }
        }
        if self.update_interval < Duration::from_millis(10) {
            errors.push(format!("{path}.update_interval: must be at least 10ms"));
        }
        errors
    }
}

/// A meter's state and its link-layer memory.
#[derive(Debug, Clone)]
pub struct SimMeter {
    /// Its settings.
    pub cfg: MbusMeterConfig,
    /// Its current values.
    pub state: MeterState,
    /// The FCB of the last REQ_UD2 and the telegram sent for it (`None` after SND_NKE).
    last: Option<(bool, usize)>,
    selected: bool,
}

/// The meters of one bus, shared between the server and whoever advances them.
pub type MbusBus = Arc<Mutex<Vec<SimMeter>>>;

/// The meters of `cfg` in their start state.
pub fn bus(cfg: &MbusBusConfig) -> MbusBus {
    Arc::new(Mutex::new(
        cfg.meters
            .iter()
            .map(|m| SimMeter {
                state: MeterState::new(m.medium),
                cfg: m.clone(),
                last: None,
                selected: false,
            })
            .collect(),
    ))
}

fn bcd(mut value: u64, n: usize, out: &mut Vec<u8>) {
    for _ in 0..n {
        out.push((((value / 10) % 10) as u8) << 4 | (value % 10) as u8);
        value /= 100;
    }
}

fn id_bytes(id: &str) -> [u8; 4] {
    let mut b = Vec::with_capacity(4);
    bcd(id.parse().unwrap_or(0), 4, &mut b);
    [b[0], b[1], b[2], b[3]]
}

/// The RSP_UD telegram `part` (0 or 1) of `m`; `more` marks a first part that has a second.
pub fn rsp_ud(m: &SimMeter, part: usize, access: u8) -> Vec<u8> {
    let c = &m.cfg;
    let s = &m.state;
    let man = c
        .manufacturer
        .bytes()
        .fold(0u16, |a, ch| (a << 5) | u16::from(ch.saturating_sub(64) & 31));
    let medium = match c.medium {
        Medium::Heat => 0x04,
        Medium::Water => 0x07,
        Medium::Gas => 0x03,
    };
    let mut d = Vec::with_capacity(64);
    d.extend(id_bytes(&c.id));
    d.extend([
        man as u8,
        (man >> 8) as u8,
        0x01,
        medium,
        access,
        0x00,
        0x00,
        0x00,
    ]);
    let mut counters = Vec::new();
    // Energy Wh (VIF 03) and volume l (VIF 13), BCD 8; flow l/h (3B), power W (2B) BCD 6; temperatures 0.1 °C.
    if c.medium == Medium::Heat {
        counters.extend([0x0C, 0x03]);
        bcd(s.energy_wh.round().max(0.0) as u64, 4, &mut counters);
    }
    counters.extend([0x0C, 0x13]);
    bcd((s.volume_m3 * 1000.0).round().max(0.0) as u64, 4, &mut counters);
    let mut gauges = Vec::new();
    if c.medium != Medium::Gas {
        gauges.extend([0x0B, 0x3B]);
        bcd((s.flow_m3h * 1000.0).round().max(0.0) as u64, 3, &mut gauges);
    }
    if c.medium == Medium::Heat {
        gauges.extend([0x0B, 0x2B]);
        bcd(s.power_w.round().max(0.0) as u64, 3, &mut gauges);
        gauges.extend([0x0A, 0x5A]);
        bcd((s.flow_c * 10.0).round().max(0.0) as u64, 2, &mut gauges);
        gauges.extend([0x0A, 0x5E]);
        bcd((s.return_c * 10.0).round().max(0.0) as u64, 2, &mut gauges);
    }
    match (c.split, part) {
        (false, _) => {
            d.extend(counters);
            d.extend(gauges);
        }
        (true, 0) => {
            d.extend(counters);
            d.push(0x1F);
        }
        (true, _) => d.extend(gauges),
    }
    long_frame(frame::C_RSP_UD, c.address, 0x72, &d)
}

fn long_frame(c: u8, a: u8, ci: u8, data: &[u8]) -> Vec<u8> {
    let l = (data.len() + 3) as u8;
    let mut f = vec![0x68, l, l, 0x68, c, a, ci];
    f.extend_from_slice(data);
    let cs = f[4..].iter().fold(0u8, |s, b| s.wrapping_add(*b));
    f.extend([cs, 0x16]);
    f
}

/// The bus's answer to one request frame, if any meter answers.
pub fn answer(meters: &mut [SimMeter], request: &[u8], access: u8) -> Option<Vec<u8>> {
    match frame::parse_frame(request).ok()? {
        Frame::Short { c, a } if c == frame::C_SND_NKE => {
            let mut hit = false;
            for m in meters.iter_mut() {
                if a == 0xFD {
                    m.selected = false;
                }
                if m.cfg.address == a || (a == 0xFD && m.selected) {
                    m.last = None;
                    hit = true;
                }
            }
            hit.then(|| vec![0xE5])
        }
        Frame::Short { c, a } if c & !frame::FCB == frame::C_REQ_UD2 => {
            let fcb = c & frame::FCB != 0;
            let m = meters
                .iter_mut()
                .find(|m| m.cfg.address == a || (a == 0xFD && m.selected))?;
            let part = match m.last {
                // The same FCB again: the master did not get our answer; repeat it.
                Some((last_fcb, part)) if last_fcb == fcb => part,
                Some((_, part)) if m.cfg.split && part == 0 => 1,
                _ => 0,
            };
            m.last = Some((fcb, part));
            Some(rsp_ud(m, part, access))
        }
        Frame::Long { c, a: 0xFD, ci, data }
            if c & !frame::FCB == frame::C_SND_UD && ci == frame::CI_SELECT =>
        {
            let want = data.get(..4)?;
            let mut hit = false;
            for m in meters.iter_mut() {
                m.selected = want == id_bytes(&m.cfg.id);
                m.last = None;
                hit |= m.selected;
            }
            hit.then(|| vec![0xE5])
        }
        _ => None,
    }
}

async fn session(mut stream: TcpStream, meters: MbusBus, stop: CancellationToken) {
    let mut buf = Vec::with_capacity(256);
    let mut access: u8 = 0;
    loop {
        let mut chunk = [0u8; 256];
        let n = tokio::select! {
            () = stop.cancelled() => return,
            r = stream.read(&mut chunk) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let len = match frame::frame_length(&buf) {
                Ok(Some(len)) if buf.len() >= len => len,
                Ok(_) => break,
                Err(_) => {
                    // Not a frame start: drop a byte, as a meter's UART would.
                    buf.remove(0);
                    continue;
                }
            };
            let request: Vec<u8> = buf.drain(..len).collect();
            access = access.wrapping_add(1);
            let reply = {
                let mut m = meters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                answer(&mut m, &request, access)
            };
            if let Some(reply) = reply
                && stream.write_all(&reply).await.is_err()
            {
                return;
            }
        }
    }
}

/// Serves the bus on `listener` until `stop` (one client at a time is what gateways allow; more are served
/// too, sharing the meters).
pub async fn serve(listener: TcpListener, meters: MbusBus, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((s, peer)) => {
                debug!(%peer, "M-Bus client connected.");
                let _ = s.set_nodelay(true);
                tokio::spawn(session(s, meters.clone(), stop.clone()));
            }
            Err(e) => debug!(error = %e, "M-Bus accept failed."),
        }
    }
}

/// Advances the meters every `every` until `stop`.
pub async fn update(meters: MbusBus, every: Duration, stop: CancellationToken) {
    let mut last = std::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = std::time::Instant::now();
        let local = chrono::Local::now();
        let hour =
            f64::from(chrono::Timelike::hour(&local)) + f64::from(chrono::Timelike::minute(&local)) / 60.0;
        let mut m = meters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for meter in m.iter_mut() {
            meter.state.step(meter.cfg.medium, hour, now - last);
        }
        last = now;
    }
}

/// Binds `cfg.listen`; the listener and the meters, for [`serve`] and [`update`].
pub async fn bind(cfg: &MbusBusConfig) -> std::io::Result<(TcpListener, MbusBus)> {
    let listener = TcpListener::bind(cfg.listen).await?;
    info!(listen = %listener.local_addr()?, meters = cfg.meters.len(), "Simulated M-Bus gateway listening.");
    Ok((listener, bus(cfg)))
}

#[cfg(test)]
mod tests {
    use zw_meters::mbus::frame::{SecondaryAddress, req_ud2, select_secondary, snd_nke};
    use zw_model::Quantity;

    use super::*;

    fn heat(split: bool) -> MbusBusConfig {
        MbusBusConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            meters: vec![MbusMeterConfig {
                address: 5,
                manufacturer: "ZWS".into(),
                id: "20260005".into(),
                medium: Medium::Heat,
                split,
            }],
            update_interval: default_update(),
        }
    }

    #[test]
    fn answers_decode_to_the_state_and_multi_telegram_follows_the_fcb() {
        let b = bus(&heat(true));
        let mut m = b.lock().expect("lock");
        m[0].state.step(Medium::Heat, 13.0, Duration::from_secs(3600));
        let s = m[0].state.clone();
        assert_eq!(answer(&mut m, &snd_nke(5), 1), Some(vec![0xE5]));
        assert_eq!(answer(&mut m, &snd_nke(6), 1), None, "nobody at 6");
        let first = answer(&mut m, &req_ud2(5, true), 1).expect("answer");
        let t = zw_meters::mbus::decode(&first).expect("decodes");
        assert!(t.records.more_follow);
        assert_eq!(t.values().get(&Quantity::HeatEnergy), Some(&s.energy_wh.round()));
        assert_eq!(t.values().get(&Quantity::HeatPower), None);
        assert_eq!(
            answer(&mut m, &req_ud2(5, true), 1),
            Some(first),
            "same FCB: repeated"
        );
        let second = answer(&mut m, &req_ud2(5, false), 1).expect("answer");
        let t = zw_meters::mbus::decode(&second).expect("decodes");
        assert!(!t.records.more_follow);
        assert_eq!(t.values().get(&Quantity::FlowTemperature), Some(&70.0));
        assert_eq!(t.values().get(&Quantity::HeatPower), Some(&18_000.0));
        let sel = select_secondary(&SecondaryAddress::from_id("20260005").expect("id"));
        assert_eq!(answer(&mut m, &sel, 1), Some(vec![0xE5]));
        assert!(answer(&mut m, &req_ud2(0xFD, true), 1).is_some());
        let other = select_secondary(&SecondaryAddress::from_id("20269999").expect("id"));
        assert_eq!(answer(&mut m, &other, 1), None);
        assert_eq!(answer(&mut m, &req_ud2(0xFD, true), 1), None, "nobody selected");
    }

    #[test]
    fn bad_bus_settings_are_all_reported() {
        let mut cfg = heat(false);
        cfg.meters.push(MbusMeterConfig {
            address: 5,
            manufacturer: "zz".into(),
            id: "1".into(),
            medium: Medium::Gas,
            split: false,
        });
        assert_eq!(cfg.validate("sim.mbus_buses[0]").len(), 3);
        assert!(heat(true).validate("x").is_empty());
    }
}
