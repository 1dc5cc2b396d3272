//! Modbus-specific gateway metrics. Labels are bounded sets (result, exception code, state, class); per-device
//! detail goes on the device status topic, never into labels.

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Counters and gauges of the Modbus poller.
#[derive(Clone)]
pub struct ModbusMetrics {
    /// Exception responses by exception code name (`illegal_data_address`, `server_device_busy`, …).
    pub exceptions: IntCounterVec,
    /// Connection attempts by result (`ok`, `error`).
    pub connects: IntCounterVec,
    /// Grid polls that started later than a tenth of their interval.
    pub polls_late: IntCounter,
    /// Probes of failing devices by result (`answered`, `failed`).
    pub probes: IntCounterVec,
    /// Devices per health state (`online`, `degraded`, `offline`).
    pub devices: IntGaugeVec,
    /// Connection time spent on requests, in seconds, by class (`grid` polls, `probe`s of failing devices).
    pub busy_seconds: prometheus::CounterVec,
    /// Device status messages published.
    pub status_published: IntCounter,
    /// Lateness of grid polls in seconds, split by what the endpoint task was doing meanwhile (see
    /// `modbus/trace.rs`).
    pub lateness_cause: prometheus::CounterVec,
    /// Grid polls later than 10 ms, by the cause with the largest share of their lateness.
    pub late_polls: IntCounterVec,
    /// Times an endpoint task went to sleep until its next poll or probe.
    pub wakeups: IntCounter,
    /// Connections closed by the poller, by reason (`timeout`, `transport`, `protocol`, `silent_connection`).
    pub disconnects: IntCounterVec,
    /// Grid poll lateness split by whether any other device on the same connection was failing at the time
    /// (`neighbours` = `failing` or `healthy`): the direct test that a dead device does not delay the others.
    pub lateness_by_neighbours: HistogramVec,
    /// Duration of single requests that got an answer (data or exception), in seconds.
    pub request_seconds: prometheus::Histogram,
}

impl ModbusMetrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            exceptions: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_exceptions_total",
                    "Modbus exception responses by exception code.",
                ),
                &["code"],
            )?,
            connects: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_connects_total",
                    "Modbus connection attempts by result.",
                ),
                &["result"],
            )?,
            polls_late: IntCounter::new(
                "zw_gateway_polls_late_total",
                "Grid polls that started later than a tenth of their interval.",
            )?,
            probes: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_probes_total",
                    "Probes of failing devices by result.",
                ),
                &["result"],
            )?,
            devices: IntGaugeVec::new(
                Opts::new("zw_gateway_modbus_devices", "Polled devices by health state."),
                &["state"],
            )?,
            busy_seconds: prometheus::CounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_busy_seconds_total",
                    "Connection time spent on requests, by class (grid poll or probe).",
                ),
                &["class"],
            )?,
            status_published: IntCounter::new(
                "zw_gateway_device_status_published_total",
                "Device status messages published.",
            )?,
            lateness_cause: prometheus::CounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_lateness_cause_seconds_total",
                    "Grid poll lateness in seconds, by what the endpoint task was doing meanwhile.",
                ),
                &["cause"],
            )?,
            late_polls: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_late_polls_total",
                    "Grid polls later than 10 ms, by main cause.",
                ),
                &["cause"],
            )?,
            wakeups: IntCounter::new(
                "zw_gateway_modbus_wakeups_total",
                "Times an endpoint task slept until its next poll or probe.",
            )?,
            disconnects: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_modbus_disconnects_total",
                    "Modbus connections closed by the poller, by reason.",
                ),
                &["reason"],
            )?,
            lateness_by_neighbours: HistogramVec::new(
                HistogramOpts::new(
                    "zw_gateway_modbus_poll_lateness_seconds",
                    "Grid poll lateness by whether other devices on the connection were failing.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0,
                ]),
                &["neighbours"],
            )?,
            request_seconds: prometheus::Histogram::with_opts(
                HistogramOpts::new(
                    "zw_gateway_modbus_request_seconds",
                    "Duration of answered Modbus requests.",
                )
                .buckets(vec![
                    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                ]),
            )?,
        };
        r.register(Box::new(m.request_seconds.clone()))?;
        r.register(Box::new(m.lateness_by_neighbours.clone()))?;
        r.register(Box::new(m.lateness_cause.clone()))?;
        r.register(Box::new(m.late_polls.clone()))?;
        r.register(Box::new(m.wakeups.clone()))?;
        r.register(Box::new(m.disconnects.clone()))?;
        r.register(Box::new(m.exceptions.clone()))?;
        r.register(Box::new(m.connects.clone()))?;
        r.register(Box::new(m.polls_late.clone()))?;
        r.register(Box::new(m.probes.clone()))?;
        r.register(Box::new(m.devices.clone()))?;
        r.register(Box::new(m.busy_seconds.clone()))?;
        r.register(Box::new(m.status_published.clone()))?;
        for s in ["online", "degraded", "offline"] {
            m.devices.with_label_values(&[s]).set(0);
        }
        Ok(m)
    }
}

/// A stable metrics label for an exception code.
pub fn exception_label(code: tokio_modbus::ExceptionCode) -> &'static str {
    use tokio_modbus::ExceptionCode as E;
    match code {
        E::IllegalFunction => "illegal_function",
        E::IllegalDataAddress => "illegal_data_address",
        E::IllegalDataValue => "illegal_data_value",
        E::ServerDeviceFailure => "server_device_failure",
        E::Acknowledge => "acknowledge",
        E::ServerDeviceBusy => "server_device_busy",
        E::MemoryParityError => "memory_parity_error",
        E::GatewayPathUnavailable => "gateway_path_unavailable",
        E::GatewayTargetDevice => "gateway_target_device",
        _ => "other",
    }
}
