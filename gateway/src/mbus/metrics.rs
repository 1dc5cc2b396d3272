//! Metrics of the wired M-Bus poller (`zw_gateway_mbus_…`) and the SML stream reader (`zw_gateway_sml_…`).
//! Labelled by device: the inventory bounds them.

use prometheus::{IntCounterVec, Opts, Registry};

/// Counters of the wired M-Bus poller.
#[derive(Clone)]
pub struct MbusMetrics {
    /// Requests by device and result: ok, timeout, checksum (a garbled or checksum-failing answer),
    /// transport.
    pub requests: IntCounterVec,
    /// Reads by device and outcome: complete, partial, failed, probe_ok, probe_failed, skipped.
    pub reads: IntCounterVec,
    /// Telegrams decoded by device (several per read with multi-telegram answers).
    pub telegrams: IntCounterVec,
    /// Bytes that arrived outside an answer (late answers after a timeout, line noise), by bus, discarded.
    pub stray_bytes: IntCounterVec,
    /// Connects by bus and result (ok, error).
    pub connects: IntCounterVec,
}

/// Counters of the SML stream reader.
#[derive(Clone)]
pub struct SmlMetrics {
    /// Files by device and outcome: reading, crc, transport, parse, too_long.
    pub files: IntCounterVec,
    /// Bytes discarded while resynchronising on the next start escape, by device.
    pub discarded_bytes: IntCounterVec,
    /// Connects by device and result (ok, error, silent: no valid file within `silence_timeout`).
    pub connects: IntCounterVec,
}

fn vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    let v = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(v.clone()))?;
    Ok(v)
}

impl MbusMetrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            requests: vec(
                r,
                "zw_gateway_mbus_requests_total",
                "Wired M-Bus requests by device and result (ok, timeout, checksum, transport).",
                &["device", "result"],
            )?,
            reads: vec(
                r,
                "zw_gateway_mbus_reads_total",
                "Wired M-Bus meter reads by device and outcome.",
                &["device", "outcome"],
            )?,
            telegrams: vec(
                r,
                "zw_gateway_mbus_telegrams_total",
                "Wired M-Bus RSP_UD telegrams decoded, by device.",
                &["device"],
            )?,
            stray_bytes: vec(
                r,
                "zw_gateway_mbus_stray_bytes_total",
                "Bytes received outside an answer (late answers, noise) and discarded, by bus.",
                &["bus"],
            )?,
            connects: vec(
                r,
                "zw_gateway_mbus_connects_total",
                "Connects to wired M-Bus endpoints by bus and result.",
                &["bus", "result"],
            )?,
        })
    }
}

impl SmlMetrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            files: vec(
                r,
                "zw_gateway_sml_files_total",
                "SML files by device and outcome (reading, crc, transport, parse, too_long).",
                &["device", "outcome"],
            )?,
            discarded_bytes: vec(
                r,
                "zw_gateway_sml_discarded_bytes_total",
                "Bytes of an SML stream discarded while resynchronising, by device.",
                &["device"],
            )?,
            connects: vec(
                r,
                "zw_gateway_sml_connects_total",
                "Connects to SML streams by device and result (ok, error, silent).",
                &["device", "result"],
            )?,
        })
    }
}
