//! Analytics: watches the reading stream to flag energy wasters and thirsty trees.
//!
//! This is the walking-skeleton stage: the service connects, subscribes to every reading, validates and
//! counts them, and reports its own health (readings seen, rejected, last reading) on a fixed interval. The
//! detectors are added behind [`Analytics::observe`], which is pure and takes the time as an argument.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::info;
use zw_bus::{ConnectOptions, FullPolicy, QoS};
use zw_model::{Reading, reading::TimeWindow, topic};

/// Analytics settings (`[analytics]` in the config file).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Instance name; part of the MQTT client id.
    pub instance: String,
    /// How often the service logs its health.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            instance: "analytics1".into(),
            health_interval: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `analytics.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if zw_model::Id::new(self.instance.clone()).is_err() {
            errors.push(format!(
                "analytics.instance: {:?} must be a valid id",
                self.instance
            ));
        }
        if self.health_interval < Duration::from_secs(1) {
            errors.push("analytics.health_interval: must be at least 1s".into());
        }
        errors
    }
}

/// Analytics metrics.
#[derive(Clone)]
pub struct Metrics {
    /// Readings observed.
    pub observed: IntCounter,
    /// Messages not observed, by reason.
    pub rejected: IntCounterVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            observed: IntCounter::new(
                "zw_analytics_readings_observed_total",
                "Readings observed by analytics.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "zw_analytics_readings_rejected_total",
                    "Messages analytics could not use.",
                ),
                &["reason"],
            )?,
        };
        r.register(Box::new(m.observed.clone()))?;
        r.register(Box::new(m.rejected.clone()))?;
        Ok(m)
    }
}

/// Detector state. Pure: no I/O, time injected.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Analytics {
    /// Readings observed since start.
    pub observed: u64,
    /// Time of the newest reading observed.
    pub last_reading: Option<DateTime<Utc>>,
}

/// Something analytics concluded. None yet in the skeleton.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {}

impl Analytics {
    /// Feeds one reading observed at `now`.
    pub fn observe(&mut self, r: &Reading, _now: DateTime<Utc>) -> Vec<Event> {
        self.observed += 1;
        self.last_reading = Some(self.last_reading.map_or(r.ts, |t| t.max(r.ts)));
        Vec::new()
    }
}

/// Runs analytics until `shutdown`.
pub async fn run(cfg: Config, bus: &zw_bus::Bus, metrics: Metrics, shutdown: CancellationToken) {
    let opts = ConnectOptions {
        client: "analytics".into(),
        instance: cfg.instance.clone(),
        clean_session: true,
        subscriptions: vec![(topic::READINGS_FILTER.to_string(), QoS::AtMostOnce)],
        manual_acks: false,
        full_policy: FullPolicy::DropNewest,
        last_will: None,
    };
    let bus_stop = CancellationToken::new();
    let (bus, mut inbound, driver) = bus.connect(opts, bus_stop.clone());
    let mut state = Analytics::default();
    let mut tick = tokio::time::interval(cfg.health_interval);
    info!("Analytics started.");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {
                info!(connected = bus.is_connected(), observed = state.observed, last_reading = ?state.last_reading, "Analytics health.");
            }
            msg = inbound.recv() => {
                let Some(msg) = msg else { break };
                match Reading::from_json(&msg.payload, Utc::now(), TimeWindow::default()) {
                    Ok(r) => {
                        metrics.observed.inc();
                        state.observe(&r, Utc::now());
                    }
                    Err(e) => metrics.rejected.with_label_values(&[e.reason()]).inc(),
                }
            }
        }
    }
    bus.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    bus_stop.cancel();
    info!("Analytics stopped.");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeDelta;
    use zw_model::{Id, Quantity};

    use super::*;

    #[test]
    fn observe_tracks_count_and_newest_time() {
        let now = Utc::now();
        let r = |ts| {
            Reading::new(
                Id::new("s").expect("id"),
                Id::new("d").expect("id"),
                ts,
                BTreeMap::from([(Quantity::ActivePower, 1.0)]),
            )
        };
        let mut a = Analytics::default();
        assert!(a.observe(&r(now), now).is_empty());
        a.observe(&r(now - TimeDelta::seconds(10)), now);
        assert_eq!(a.observed, 2);
        assert_eq!(
            a.last_reading,
            Some(
                Reading::new(
                    Id::new("s").expect("id"),
                    Id::new("d").expect("id"),
                    now,
                    BTreeMap::new()
                )
                .ts
            )
        );
    }
}
