//! SML meters read from their optical port's push stream: a reading head on a local serial port or behind
//! ser2net (TCP). One task per meter: it frames the byte stream, decodes with `zw_meters::sml` (sml-rs),
//! and publishes the canonical values (1.8.0 import, its tariff registers 1.8.1/1.8.2 as `energy_import_t1`/
//! `_t2`, 2.8.0 export, 16.7.0 power and the per-phase powers, voltages and currents the meter sends).
//!
//! ```text
//!  ser2net / serial ─► bytes ─► SmlStream (escape framing, CRC, resync) ─┬─► Reading ─► crate::publish
//!                                                                        ├─► CRC / transport errors (counted)
//!                                                                        └─► status ─► zw/v1/status/device/{device}
//! ```
//!
//! * Garbage and damaged files are skipped: the stream resynchronises on the next start escape; discarded
//!   bytes and every error are counted (`zw_gateway_sml_files_total`, `zw_gateway_sml_discarded_bytes_total`).
//! * A stream that delivers no valid file for `silence_timeout` is reconnected; connects back off
//!   exponentially with jitter up to `reconnect_max`. Health (online / degraded / offline) follows
//!   [`PollHealth`](crate::modbus::PollHealth): a valid file is a success, a silence or failed connect a
//!   failure.
//! * Meters push every 1–4 s: at most one reading per `publish_interval` is published.
//!
//! Settings are [`crate::config::SmlConfig`] (`[gateway.sml]`).

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::io::AsyncReadExt as _;
use tokio::time::{Instant, sleep, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zw_bus::BusClient;
use zw_meters::sml::{Error as SmlError, SmlStream};
use zw_model::inventory::StreamEndpoint;
use zw_model::status::ErrorKind;
use zw_model::{DeviceSource, Id, Inventory, Reading};

use crate::mbus::{link, publish_status};
use crate::modbus::schedule::backoff;
use crate::modbus::{Delivery, PollHealth};
use crate::publish::Publisher;
use crate::{Config, Metrics};

/// The source label of SML readings and statuses.
pub const SOURCE: &str = "sml";

/// An SML meter as its task reads it.
#[derive(Debug, Clone)]
pub struct SmlDevice {
    /// Site id.
    pub site: Id,
    /// Device id.
    pub device: Id,
    /// Where its stream comes from.
    pub endpoint: StreamEndpoint,
}

/// The inventory's SML meters (sources that do not parse are left out: validation reports them).
pub fn plan(inventory: &Inventory) -> Vec<SmlDevice> {
    inventory
        .devices()
        .filter_map(|(site, dev)| match &dev.source {
            DeviceSource::Sml { endpoint } => Some(SmlDevice {
                site: site.id.clone(),
                device: dev.id.clone(),
                endpoint: StreamEndpoint::parse(endpoint, 9600, "N").ok()?,
            }),
            _ => None,
        })
        .collect()
}

/// The outcome label of a stream error.
fn label(e: &SmlError) -> &'static str {
    match e {
        SmlError::Crc { .. } => "crc",
        SmlError::Parse(_) => "parse",
        SmlError::TooLong => "too_long",
        _ => "transport",
    }
}

/// Reads one meter's stream until `shutdown`.
pub async fn read_meter(
    meter: SmlDevice,
    cfg: Config,
    bus: BusClient,
    publisher: Publisher,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let s = &cfg.sml;
    let dev = meter.device.as_str();
    let mut health = PollHealth::new(
        meter.site.clone(),
        meter.device.clone(),
        cfg.instance.clone(),
        Utc::now(),
    )
    .with_source(SOURCE);
    let mut failures: u32 = 0;
    let mut next_publish = Instant::now();
    let observe = |h: &mut PollHealth, d: Delivery| {
        h.observe(d, Utc::now(), s.offline_after);
        publish_status(&bus, h, s.status_refresh, &metrics);
    };
    let reading = async {
        loop {
            let stream = match link::open(&meter.endpoint, cfg.connect_timeout).await {
                Ok(stream) => {
                    metrics.sml.connects.with_label_values(&[dev, "ok"]).inc();
                    if failures > 0 {
                        info!(device = dev, endpoint = %meter.endpoint, "SML stream connected again.");
                    }
                    stream
                }
                Err(e) => {
                    metrics.sml.connects.with_label_values(&[dev, "error"]).inc();
                    if failures == 0 {
                        warn!(device = dev, endpoint = %meter.endpoint, error = %e, "Cannot open SML stream; backing off.");
                    }
                    failures = failures.saturating_add(1);
                    observe(&mut health, Delivery::Failed(ErrorKind::Transport, e));
                    let b = backoff(
                        Duration::from_millis(500),
                        failures,
                        s.reconnect_max,
                        rand::rng().random(),
                    );
                    sleep(b).await;
                    continue;
                }
            };
            let mut stream = stream;
            let mut decoder = SmlStream::new();
            let mut deadline = Instant::now() + s.silence_timeout;
            let mut buf = [0u8; 512];
            let why = loop {
                let n = match timeout_at(deadline, stream.read(&mut buf)).await {
                    Err(_) => {
                        metrics.sml.connects.with_label_values(&[dev, "silent"]).inc();
                        break (
                            ErrorKind::Timeout,
                            format!("no valid SML file for {:?}", s.silence_timeout),
                        );
                    }
                    Ok(Ok(0)) => break (ErrorKind::Transport, "stream closed".to_owned()),
                    Ok(Err(e)) => break (ErrorKind::Transport, e.to_string()),
                    Ok(Ok(n)) => n,
                };
                for &b in &buf[..n] {
                    match decoder.push(b) {
                        None => {}
                        Some(Ok(r)) => {
                            metrics.sml.files.with_label_values(&[dev, "reading"]).inc();
                            deadline = Instant::now() + s.silence_timeout;
                            failures = 0;
                            let values = r.values();
                            if values.is_empty() {
                                observe(
                                    &mut health,
                                    Delivery::Failed(
                                        ErrorKind::Decode,
                                        "SML file without known registers".into(),
                                    ),
                                );
                                continue;
                            }
                            observe(&mut health, Delivery::Complete);
                            if Instant::now() >= next_publish {
                                next_publish = Instant::now() + s.publish_interval;
                                let reading = Reading::new(
                                    meter.site.clone(),
                                    meter.device.clone(),
                                    Utc::now(),
                                    values,
                                );
                                publisher.publish(reading, SOURCE).await;
                            }
                        }
                        Some(Err(SmlError::Discarded(k))) => {
                            metrics
                                .sml
                                .discarded_bytes
                                .with_label_values(&[dev])
                                .inc_by(k as u64);
                        }
                        Some(Err(e)) => {
                            metrics.sml.files.with_label_values(&[dev, label(&e)]).inc();
                            debug!(device = dev, error = %e, "SML file rejected; resynchronising.");
                        }
                    }
                }
            };
            failures = failures.saturating_add(1);
            observe(&mut health, Delivery::Failed(why.0, why.1));
            let b = backoff(
                Duration::from_millis(200),
                failures,
                s.reconnect_max,
                rand::rng().random(),
            );
            sleep(b).await;
        }
    };
    let _ = shutdown.run_until_cancelled(reading).await;
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;
    use tokio::net::TcpListener;
    use zw_sim::sml_tcp::{self, SmlMeterConfig, SmlState};

    use super::*;

    /// Garbage, a file with a broken CRC and a good file on one stream: one reading, the bad file and the
    /// garbage counted; a closed stream is reconnected.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_and_crc_errors_are_counted_and_the_stream_resynchronises() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sim = SmlMeterConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            manufacturer: "EMH".into(),
            serial: 1,
            interval: Duration::from_secs(1),
        };
        let good = sml_tcp::file(&sim, &SmlState::default(), 1);
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 1] ^= 0xFF;
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut bytes = vec![0x42, 0x1B, 0x00, 0x01];
                bytes.extend(&bad);
                bytes.extend(&good);
                s.write_all(&bytes).await.expect("write");
                // Closing the stream makes the reader reconnect.
            }
        });
        let crate::test_support::Brokerless {
            metrics,
            bus_cfg,
            bus,
            stop,
            driver,
        } = crate::test_support::brokerless_bus();
        let (outbox, _task) = crate::buffer::start(
            crate::buffer::Store::memory(1 << 20),
            bus.clone(),
            metrics.clone(),
        );
        let (publisher, _flusher) = crate::publish::Publisher::start(
            &crate::publish::PublishConfig::default(),
            &Id::new("gw1").expect("id"),
            outbox,
            bus_cfg.max_message_bytes,
            metrics.clone(),
        );
        let meter = SmlDevice {
            site: Id::new("hh").expect("id"),
            device: Id::new("m").expect("id"),
            endpoint: StreamEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
        };
        let run = CancellationToken::new();
        let task = tokio::spawn(read_meter(
            meter,
            Config::default(),
            bus,
            publisher,
            metrics.clone(),
            run.clone(),
        ));
        let files = |o: &str| metrics.sml.files.with_label_values(&["m", o]).get();
        let deadline = Instant::now() + Duration::from_secs(10);
        while files("reading") < 2 && Instant::now() < deadline {
            sleep(Duration::from_millis(50)).await;
        }
        run.cancel();
        task.await.expect("reader");
        server.await.expect("server");
        assert_eq!((files("reading"), files("crc")), (2, 2));
        assert!(metrics.sml.discarded_bytes.with_label_values(&["m"]).get() >= 2);
        assert_eq!(metrics.sml.connects.with_label_values(&["m", "ok"]).get(), 2);
        stop.cancel();
        let _ = driver.await;
    }
}
