//! The demo's weather feed: publishes [`super::live_message`] retained on
//! `zw/v1/weather/{area}` every `interval`, as a cron job fetching Open-Meteo or DWD MOSMIX would.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{Bus, ConnectOptions, QoS};
use zw_model::{Id, topic};

/// `[sim.weather]`: publish a simulated ET0 feed (observed and forecast) for one weather area.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherFeedConfig {
    /// The weather area (`zw/v1/weather/{area}`); analytics maps parks to it in `[analytics.trees.weather]`.
    pub area: String,
    /// How often a new message (48 h observed, 7-day forecast issued now) is published.
    #[serde(with = "humantime_serde", default = "default_interval")]
    pub interval: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(3600)
}

impl WeatherFeedConfig {
    /// Every problem, prefixed with its path.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if Id::new(self.area.clone()).is_err() {
            errors.push(format!(
                "sim.weather.area: {:?} must be a valid id (a-z 0-9 - _, 1-64)",
                self.area
            ));
        }
        if self.interval < Duration::from_secs(1) {
            errors.push("sim.weather.interval: must be at least 1s".into());
        }
    }
}

/// Publishes the feed until `shutdown`.
pub(crate) async fn run(cfg: WeatherFeedConfig, seed: u64, bus: Bus, shutdown: CancellationToken) {
    let Ok(area) = Id::new(cfg.area.clone()) else {
        return;
    };
    let stop = shutdown.child_token();
    let (client, _inbound, driver) = bus.connect(ConnectOptions::publisher("sim", "weather"), stop.clone());
    let mut ticker = interval(cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    info!(area = %area, "Weather feed started.");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if !client.is_connected() {
            continue;
        }
        let msg = super::live_message(seed, area.clone(), chrono::Utc::now());
        if let Err(e) = client
            .publish(topic::weather(&area), QoS::AtLeastOnce, true, msg.to_json())
            .await
        {
            warn!(error = %e, "Bus client stopped; the weather feed stops.");
            break;
        }
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    stop.cancel();
}
