//! The demo's price feed: day-ahead spot prices of one series, published retained on
//! `zw/v1/prices/{series}` every `interval` (the message schema of [`zw_model::tariff::message`]), as a
//! job fetching the EPEX day-ahead auction would. Each message carries the hours from `past_days` ago to the
//! end of tomorrow, so a dynamic tariff prices the demo's past as well as today.
//!
//! The prices are made up but shaped like German day-ahead prices: a night trough, a morning and a
//! stronger evening peak, a dip at noon (more in summer: solar), lower at weekends, and a per-hour
//! variation from the seed. They are net ct/kWh with three decimals; the tariff adds its markup and VAT.

use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use serde::{Deserialize, Serialize};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{Bus, ConnectOptions, QoS};
use zw_model::{Id, topic};

/// `[sim.prices]`: publish a simulated day-ahead price series.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFeedConfig {
    /// The series (`zw/v1/prices/{series}`), as a tariff's `dynamic.series` names it.
    pub series: String,
    /// How often the message (the past days to the end of tomorrow) is published again.
    #[serde(with = "humantime_serde", default = "default_interval")]
    pub interval: Duration,
    /// Days of past prices in each message (default 62: this month and last; at most 363, so a message
    /// stays within the schema's 8,784 hours whatever daylight-saving changes it spans).
    #[serde(default = "default_past_days")]
    pub past_days: u32,
}

fn default_interval() -> Duration {
    Duration::from_secs(3600)
}

fn default_past_days() -> u32 {
    62
}

impl PriceFeedConfig {
    /// Every problem, prefixed with its path.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if Id::new(self.series.clone()).is_err() {
            errors.push(format!(
                "sim.prices.series: {:?} must be a valid id (a-z 0-9 - _, 1-64)",
                self.series
            ));
        }
        if self.interval < Duration::from_secs(1) {
            errors.push("sim.prices.interval: must be at least 1s".into());
        }
        if self.past_days > 363 {
            errors.push("sim.prices.past_days: at most 363 (one message holds a year of hours)".into());
        }
    }
}

/// The net spot price of the hour starting at `t`, ct/kWh with three decimals.
pub fn price_ct(seed: u64, t: DateTime<Utc>) -> f64 {
    let local = t.with_timezone(&Berlin);
    let h = f64::from(local.hour());
    let bump = |centre: f64, width: f64| (-((h - centre) / width).powi(2)).exp();
    // Summer (day 172) has the deeper solar dip at noon.
    let season = (2.0 * std::f64::consts::PI * (f64::from(local.ordinal()) - 172.0) / 365.0).cos();
    let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
    let mut p = 9.0 + 5.0 * bump(8.0, 1.5) + 9.0 * bump(19.0, 2.0)
        - 4.0 * bump(3.0, 2.5)
        - (3.0 + 6.0 * season.max(0.0)) * bump(13.0, 2.0);
    if weekend {
        p -= 2.5;
    }
    // Per-hour variation from the seed (SplitMix64 of the hour), ±2 ct.
    let mut z = seed ^ (t.timestamp() as u64 / 3600).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    p += (z as f64 / u64::MAX as f64 - 0.5) * 4.0;
    (p * 1000.0).round() / 1000.0
}

/// The message for `series` at `now`: every hour from local midnight `past_days` ago to the end of tomorrow.
pub fn message(seed: u64, series: &Id, now: DateTime<Utc>, past_days: u32) -> Vec<u8> {
    let today = now.with_timezone(&Berlin).date_naive();
    let midnight = |d: chrono::NaiveDate| {
        Berlin
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let from = midnight(today - TimeDelta::days(i64::from(past_days)));
    let to = midnight(today + TimeDelta::days(2));
    let mut intervals = Vec::new();
    let mut t = from;
    while t < to {
        intervals.push(serde_json::json!({ "start": t.to_rfc3339(), "price": price_ct(seed, t) }));
        t += TimeDelta::hours(1);
    }
    serde_json::json!({
        "v": zw_model::tariff::message::VERSION, "series": series.as_str(), "unit": "ct/kWh", "net": true,
        "step_minutes": 60, "intervals": intervals,
    })
    .to_string()
    .into_bytes()
}

/// Publishes the feed until `shutdown`.
pub(crate) async fn run(cfg: PriceFeedConfig, seed: u64, bus: Bus, shutdown: CancellationToken) {
    let Ok(series) = Id::new(cfg.series.clone()) else {
        return;
    };
    let stop = shutdown.child_token();
    let (client, _inbound, driver) = bus.connect(ConnectOptions::publisher("sim", "prices"), stop.clone());
    let mut ticker = interval(cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    info!(series = %series, "Price feed started.");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        client.wait_connected().await;
        let msg = message(seed, &series, Utc::now(), cfg.past_days);
        if let Err(e) = client
            .publish(topic::prices(&series), QoS::AtLeastOnce, true, msg)
            .await
        {
            warn!(error = %e, "Bus client stopped; the price feed stops.");
            break;
        }
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    stop.cancel();
}

#[cfg(test)]
mod tests {
    use zw_model::tariff::message::PriceMessage;

    use super::*;

    #[test]
    fn the_message_is_one_the_api_accepts_with_every_hour_to_the_end_of_tomorrow() {
        let series = Id::new("epex-demo").expect("id");
        let now = Utc
            .with_ymd_and_hms(2026, 3, 28, 10, 30, 0)
            .single()
            .expect("time");
        let bytes = message(7, &series, now, 363);
        let topic = topic::prices(&series);
        let m = PriceMessage::from_message(&topic, &bytes).expect("valid");
        assert_eq!(m.step, TimeDelta::hours(1));
        // 363 past days, today and tomorrow; the spring changes of both years and last autumn's are inside.
        assert_eq!(m.rows.len(), 365 * 24 - 1);
        let last = m.rows.last().expect("rows").0;
        assert_eq!(
            last,
            Utc.with_ymd_and_hms(2026, 3, 29, 21, 0, 0)
                .single()
                .expect("time")
        );
        assert_eq!(message(7, &series, now, 363), bytes, "deterministic");
    }

    #[test]
    fn prices_have_an_evening_peak_a_noon_dip_and_stay_plausible() {
        let at = |h: u32| {
            Berlin
                .with_ymd_and_hms(2026, 6, 17, h, 0, 0)
                .single()
                .expect("time")
                .with_timezone(&Utc)
        };
        let mean = |h: u32| (0..50u64).map(|s| price_ct(s, at(h))).sum::<f64>() / 50.0;
        assert!(
            mean(19) > mean(13) + 8.0,
            "evening {} against noon {}",
            mean(19),
            mean(13)
        );
        assert!(mean(8) > mean(3));
        for h in 0..24 {
            let p = price_ct(1, at(h));
            assert!((-10.0..40.0).contains(&p), "{h}: {p}");
            assert_eq!((p * 1000.0).round() / 1000.0, p);
        }
    }
}
