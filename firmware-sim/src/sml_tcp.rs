//! An electricity meter's optical port behind ser2net: every `interval` an SML file (OpenResponse,
//! GetListResponse, CloseResponse; message CRCs and the file's CRC-16/X-25) is pushed to every connected
//! client, with 1.8.0 (rising), 1.8.1/1.8.2 (tariffs 06–22 h / night), 2.8.0, 16.7.0 and per-phase powers
//! (36/56/76.7.0) from the meter's simulated state. The encoder is written for this simulator: the
//! gateway decodes with `zw_meters` (sml-rs), so the two are independent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crc::{CRC_16_IBM_SDLC, Crc};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

const X25: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

/// `[[sim.sml_meters]]`: one simulated SML meter behind a ser2net TCP port.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmlMeterConfig {
    /// Where its ser2net port listens, e.g. `127.0.0.1:5022` (port 0: any free port).
    pub listen: std::net::SocketAddr,
    /// Three-letter manufacturer in the server id (FLAG code, e.g. `EMH`).
    pub manufacturer: String,
    /// Serial number (up to 8 digits) in the server id.
    pub serial: u32,
    /// Time between files. Default 2 s.
    #[serde(with = "humantime_serde", default = "default_interval")]
    pub interval: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(2)
}

impl SmlMeterConfig {
    /// Reports every problem, prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.manufacturer.len() != 3 || !self.manufacturer.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(format!(
                "{path}.manufacturer: {:?} is not a three-letter code",
                self.manufacturer
            ));
        }
        if self.serial > 99_999_999 {
            errors.push(format!("{path}.serial: at most 8 digits"));
        }
        if self.interval < Duration::from_millis(100) {
            errors.push(format!("{path}.interval: must be at least 100ms"));
        }
        errors
    }
}

/// The meter's registers.
#[derive(Debug, Clone, PartialEq)]
pub struct SmlState {
    /// 1.8.1, Wh.
    pub import_t1_wh: f64,
    /// 1.8.2, Wh.
    pub import_t2_wh: f64,
    /// 2.8.0, Wh.
    pub export_wh: f64,
    /// L1, L2, L3 active power, W (16.7.0 is their sum).
    pub phases_w: [f64; 3],
}

impl Default for SmlState {
    fn default() -> Self {
        Self {
            import_t1_wh: 8_412_345.6,
            import_t2_wh: 3_204_111.0,
            export_wh: 0.0,
            phases_w: [0.0; 3],
        }
    }
}

impl SmlState {
    /// 1.8.0, Wh.
    pub fn import_wh(&self) -> f64 {
        self.import_t1_wh + self.import_t2_wh
    }

    /// Advances by `dt` at local `hour`: a household-like day curve, day tariff 06–22 h.
    pub fn step(&mut self, hour: f64, dt: Duration) {
        let day = (-((hour - 19.0) / 3.0).powi(2)).exp() + 0.5 * (-((hour - 12.0) / 2.0).powi(2)).exp();
        let total = 180.0 + 1800.0 * day;
        self.phases_w = [total * 0.5, total * 0.3, total * 0.2];
        let wh = total * dt.as_secs_f64() / 3600.0;
        if (6.0..22.0).contains(&hour) {
            self.import_t1_wh += wh;
        } else {
            self.import_t2_wh += wh;
        }
    }
}

/// The meter being served: settings and state, shared with the updater or a test.
pub type SmlMeter = Arc<Mutex<SmlState>>;

/// TL + octet string.
fn octets(out: &mut Vec<u8>, b: &[u8]) {
    out.push(0x01 + b.len() as u8);
    out.extend_from_slice(b);
}

fn obis(c: u8, d: u8, e: u8) -> [u8; 6] {
    [1, 0, c, d, e, 0xFF]
}

/// One list entry: value in 0.1 units (scaler −1), signed 64-bit.
fn entry(out: &mut Vec<u8>, code: [u8; 6], unit: u8, tenths: i64) {
    out.push(0x77);
    octets(out, &code);
    out.extend([0x01, 0x01, 0x62, unit, 0x52, 0xFF, 0x59]);
    out.extend(tenths.to_be_bytes());
    out.push(0x01);
}

fn message(out: &mut Vec<u8>, transaction: u32, body: &[u8]) {
    let start = out.len();
    out.push(0x76);
    octets(out, &transaction.to_be_bytes());
    out.extend([0x62, 0x00, 0x62, 0x00]);
    out.extend_from_slice(body);
    let crc = X25.checksum(&out[start..]);
    out.push(0x63);
    out.extend(crc.to_le_bytes());
    out.push(0x00);
}

/// The server id `0A 01 <FLAG> 00 <serial BE>` (printed `1<FLAG>00<serial>`).
pub fn server_id(cfg: &SmlMeterConfig) -> [u8; 10] {
    let mut id = [0u8; 10];
    id[0] = 0x0A;
    id[1] = 0x01;
    id[2..5].copy_from_slice(&cfg.manufacturer.as_bytes()[..3]);
    id[6..10].copy_from_slice(&cfg.serial.to_be_bytes());
    id
}

/// One SML file (transport v1 framing) with the state's registers.
pub fn file(cfg: &SmlMeterConfig, s: &SmlState, transaction: u32) -> Vec<u8> {
    let id = server_id(cfg);
    let mut msgs = Vec::with_capacity(400);
    // OpenResponse (0101): codepage, clientId, reqFileId, serverId, refTime, smlVersion.
    let mut body = vec![0x72, 0x63, 0x01, 0x01, 0x76, 0x01, 0x01];
    octets(&mut body, &transaction.to_be_bytes());
    octets(&mut body, &id);
    body.extend([0x01, 0x01]);
    message(&mut msgs, transaction, &body);
    // GetListResponse (0701): clientId, serverId, listName, actSensorTime, valList, signature, gatewayTime.
    let mut body = vec![0x72, 0x63, 0x07, 0x01, 0x77, 0x01];
    octets(&mut body, &id);
    octets(&mut body, &[1, 0, 0x62, 0x0A, 0xFF, 0xFF]);
    body.push(0x01);
    let power: f64 = s.phases_w.iter().sum();
    let tenths = |v: f64| (v * 10.0).round() as i64;
    let entries: [([u8; 6], u8, i64); 8] = [
        (obis(1, 8, 0), 30, tenths(s.import_wh())),
        (obis(1, 8, 1), 30, tenths(s.import_t1_wh)),
        (obis(1, 8, 2), 30, tenths(s.import_t2_wh)),
        (obis(2, 8, 0), 30, tenths(s.export_wh)),
        (obis(16, 7, 0), 27, tenths(power)),
        (obis(36, 7, 0), 27, tenths(s.phases_w[0])),
        (obis(56, 7, 0), 27, tenths(s.phases_w[1])),
        (obis(76, 7, 0), 27, tenths(s.phases_w[2])),
    ];
    body.push(0x70 + entries.len() as u8);
    for (code, unit, v) in entries {
        entry(&mut body, code, unit, v);
    }
    body.extend([0x01, 0x01]);
    message(&mut msgs, transaction.wrapping_add(1), &body);
    // CloseResponse (0201) without signature.
    message(
        &mut msgs,
        transaction.wrapping_add(2),
        &[0x72, 0x63, 0x02, 0x01, 0x71, 0x01],
    );
    let pad = (4 - msgs.len() % 4) % 4;
    msgs.extend(std::iter::repeat_n(0u8, pad));
    let mut f = vec![0x1B, 0x1B, 0x1B, 0x1B, 1, 1, 1, 1];
    for chunk in msgs.chunks(4) {
        f.extend_from_slice(chunk);
        if chunk == [0x1B; 4] {
            f.extend_from_slice(chunk);
        }
    }
    f.extend([0x1B, 0x1B, 0x1B, 0x1B, 0x1A, pad as u8]);
    let crc = X25.checksum(&f);
    f.extend(crc.to_le_bytes());
    f
}

/// Binds `cfg.listen`.
pub async fn bind(cfg: &SmlMeterConfig) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(cfg.listen).await?;
    info!(listen = %listener.local_addr()?, serial = cfg.serial, "Simulated SML meter listening.");
    Ok(listener)
}

/// Pushes a file every `cfg.interval` to every client connected to `listener` until `stop`; with
/// `advance`, the state steps with the local time first (tests leave it off and set the state themselves).
pub async fn serve(
    cfg: SmlMeterConfig,
    listener: TcpListener,
    meter: SmlMeter,
    advance: bool,
    stop: CancellationToken,
) {
    let (tx, _) = broadcast::channel::<Arc<Vec<u8>>>(16);
    let accept = {
        let tx = tx.clone();
        let stop = stop.clone();
        async move {
            loop {
                let Ok((mut s, peer)) = listener.accept().await else {
                    continue;
                };
                debug!(%peer, "SML client connected.");
                let mut rx = tx.subscribe();
                let stop = stop.clone();
                tokio::spawn(async move {
                    loop {
                        let file = tokio::select! {
                            () = stop.cancelled() => return,
                            f = rx.recv() => f,
                        };
                        match file {
                            Ok(f) => {
                                if s.write_all(&f).await.is_err() {
                                    return;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                    }
                });
            }
        }
    };
    let push = async {
        let mut transaction: u32 = 1;
        let mut last = std::time::Instant::now();
        loop {
            tokio::time::sleep(cfg.interval).await;
            let now = std::time::Instant::now();
            let state = {
                let mut m = meter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if advance {
                    let local = chrono::Local::now();
                    let hour = f64::from(chrono::Timelike::hour(&local))
                        + f64::from(chrono::Timelike::minute(&local)) / 60.0;
                    m.step(hour, now - last);
                }
                m.clone()
            };
            last = now;
            let _ = tx.send(Arc::new(file(&cfg, &state, transaction)));
            transaction = transaction.wrapping_add(3);
        }
    };
    tokio::select! {
        () = stop.cancelled() => {}
        () = accept => {}
        () = push => {}
    }
}

#[cfg(test)]
mod tests {
    use zw_model::Quantity;

    use super::*;

    #[test]
    fn files_decode_to_the_state() {
        let cfg = SmlMeterConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            manufacturer: "EMH".into(),
            serial: 12_345_678,
            interval: default_interval(),
        };
        let mut s = SmlState::default();
        s.step(19.0, Duration::from_secs(3600));
        let f = file(&cfg, &s, 7);
        let r = zw_meters::sml::decode_file(&f).expect("decodes");
        assert_eq!(r.meter_id().as_deref(), Some("1EMH0012345678"));
        let v = r.values();
        let close = |q: Quantity, x: f64| (v.get(&q).copied().unwrap_or(f64::NAN) - x).abs() < 0.051;
        assert!(close(Quantity::EnergyImport, s.import_wh()), "{v:?}");
        assert!(close(Quantity::ActivePower, 1980.0), "{v:?}");
        assert!(close(Quantity::ActivePowerL1, 990.0), "{v:?}");
        assert!(close(Quantity::EnergyExport, 0.0), "{v:?}");
        let t1 = r.register(zw_meters::sml::Obis::IMPORT_T1).expect("1.8.1");
        assert!((t1.value.to_f64() - s.import_t1_wh).abs() < 0.051);
        // The stream decoder takes the same bytes, split anywhere, after garbage.
        let mut stream = zw_meters::sml::SmlStream::new();
        let mut decoded = 0;
        for b in [0x00, 0x1B, 0x42].iter().chain(&f).chain(&f) {
            if let Some(Ok(_)) = stream.push(*b) {
                decoded += 1;
            }
        }
        assert_eq!(decoded, 2);
    }
}
