//! Modbus-specific gateway metrics. Labels are bounded sets (result, exception code, state, class); per-device
//! detail goes on the device status topic, never into labels.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

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
        };
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
