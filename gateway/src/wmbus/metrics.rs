//! Metrics of the wireless M-Bus path. The unknown meters are listed with their address as labels: the list
//! is bounded (`gateway.wmbus.max_unknown`) and a meter's series go when it leaves the list.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::unknown::HeardMeter;

/// Counters and the list of unknown meters heard.
#[derive(Clone)]
pub struct WmbusMetrics {
    /// Receiver messages by outcome: reading, no_values, duplicate, unknown_meter, wrong_key, missing_key,
    /// not_encrypted, bad_payload, undecodable.
    pub telegrams: IntCounterVec,
    /// Meters in the list of unknown meters heard.
    pub unknown_meters: IntGauge,
    /// Telegrams heard per unknown meter (labels manufacturer, id, device_type, medium).
    pub unknown_meter_telegrams: IntGaugeVec,
    /// Unix time an unknown meter was last heard (same labels).
    pub unknown_meter_last_seen: IntGaugeVec,
}

const LABELS: [&str; 4] = ["manufacturer", "id", "device_type", "medium"];

fn labels(m: &HeardMeter) -> [&str; 4] {
    [&m.manufacturer, &m.id, &m.device_type, m.medium]
}

impl WmbusMetrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            telegrams: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_wmbus_telegrams_total",
                    "Wireless M-Bus receiver messages by outcome.",
                ),
                &["outcome"],
            )?,
            unknown_meters: IntGauge::new(
                "zw_gateway_wmbus_unknown_meters",
                "Wireless M-Bus meters heard that are not in the inventory (bounded list).",
            )?,
            unknown_meter_telegrams: IntGaugeVec::new(
                Opts::new(
                    "zw_gateway_wmbus_unknown_meter_telegrams",
                    "Telegrams heard from a wireless M-Bus meter not in the inventory.",
                ),
                &LABELS,
            )?,
            unknown_meter_last_seen: IntGaugeVec::new(
                Opts::new(
                    "zw_gateway_wmbus_unknown_meter_last_seen_seconds",
                    "Unix time a wireless M-Bus meter not in the inventory was last heard.",
                ),
                &LABELS,
            )?,
        };
        r.register(Box::new(m.telegrams.clone()))?;
        r.register(Box::new(m.unknown_meters.clone()))?;
        r.register(Box::new(m.unknown_meter_telegrams.clone()))?;
        r.register(Box::new(m.unknown_meter_last_seen.clone()))?;
        Ok(m)
    }

    /// Shows an unknown meter as now listed; removes the series of one that left the list.
    pub fn heard(&self, meter: &HeardMeter, evicted: Option<&HeardMeter>, listed: usize) {
        if let Some(e) = evicted {
            let _ = self.unknown_meter_telegrams.remove_label_values(&labels(e));
            let _ = self.unknown_meter_last_seen.remove_label_values(&labels(e));
        }
        let count = i64::try_from(meter.count).unwrap_or(i64::MAX);
        self.unknown_meter_telegrams
            .with_label_values(&labels(meter))
            .set(count);
        self.unknown_meter_last_seen
            .with_label_values(&labels(meter))
            .set(meter.last_seen.timestamp());
        self.unknown_meters.set(i64::try_from(listed).unwrap_or(i64::MAX));
    }
}
