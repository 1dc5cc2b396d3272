//! Warm-up: teach the learned normal and the baseload reference from InfluxDB history before going live,
//! and give every tree sensor its recent series back, so a restart does not cost days of trend.
//!
//! One bounded query per site (`analytics.warmup.history` back, `power.window` means per device), values
//! only through bind parameters. Each device's window means feed its hour-of-week normal; windows where
//! every device of a site's total has a mean feed the site's normal and baseload. Tree sensors: one query
//! each for the last value per 15 minutes over twice the trend window (at most the warm-up history),
//! replayed in time order through the same per-reading path as live data. A failing or slow database only
//! means starting with less history: the service goes live either way.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use zw_influx::{Client, QueryError};
use zw_model::{Id, Inventory, Quantity, Reading};

use crate::{Analytics, Config};

/// Learns from history up to `now`; returns the number of power windows learned and of soil readings
/// replayed.
pub async fn warm(
    a: &mut Analytics,
    influx: &Client,
    inv: &Inventory,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<(u64, u64), QueryError> {
    let start = now - chrono::TimeDelta::from_std(cfg.warmup.history).unwrap_or(chrono::TimeDelta::days(28));
    // The window length is config, never data; the values go in as bind parameters.
    let q = format!(
        "SELECT mean(active_power) FROM readings WHERE site = $site AND time >= $start AND time < $end \
         GROUP BY time({}s), device fill(none)",
        cfg.power.window.as_secs()
    );
    let (start_s, end_s) = (start.to_rfc3339(), now.to_rfc3339());
    let mut learned = 0;
    for site in &inv.sites {
        let series = influx
            .query(
                &q,
                &[("site", site.id.as_str()), ("start", &start_s), ("end", &end_s)],
            )
            .await?;
        let mut per_device: HashMap<Id, Vec<(i64, f64)>> = HashMap::new();
        for s in series {
            let Some(device) = s.tags.get("device").and_then(|d| Id::new(d.as_str()).ok()) else {
                continue;
            };
            let rows = s
                .values
                .iter()
                .filter_map(|row| Some((row.first()?.as_i64()?, row.get(1)?.as_f64()?)));
            per_device.entry(device).or_default().extend(rows);
        }
        for (device, rows) in &mut per_device {
            rows.sort_by_key(|r| r.0);
            for &(ms, mean) in rows.iter() {
                let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
                let how = a.hour_of_week(t);
                a.warm_device(&site.id, device, how, mean);
                learned += 1;
            }
        }
        let contributors = a.site_contributors(&site.id);
        let mut totals: BTreeMap<i64, (usize, f64)> = BTreeMap::new();
        for d in &contributors {
            for &(ms, mean) in per_device.get(d).map(Vec::as_slice).unwrap_or_default() {
                let e = totals.entry(ms).or_default();
                *e = (e.0 + 1, e.1 + mean);
            }
        }
        for (ms, (n, total)) in totals {
            if n == contributors.len() && n > 0 {
                a.warm_site(
                    &site.id,
                    DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                    total,
                );
            }
        }
    }
    let soil = warm_trees(a, influx, inv, start.max(now - trend_span(cfg)), now).await?;
    Ok((learned, soil))
}

/// Twice the trend window: the trend's points plus the history the usual drying rate comes from.
fn trend_span(cfg: &Config) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(cfg.trees.trend_window * 2).unwrap_or(chrono::TimeDelta::days(8))
}

/// Replays each tree sensor's soil readings since `start` (last value per 15 minutes); returns the count.
async fn warm_trees(
    a: &mut Analytics,
    influx: &Client,
    inv: &Inventory,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, QueryError> {
    const Q: &str = "SELECT last(soil_moisture), last(soil_water_tension), last(battery_voltage) FROM readings \
         WHERE device = $device AND time >= $start AND time < $end GROUP BY time(15m) fill(none)";
    let fields = [
        Quantity::SoilMoisture,
        Quantity::SoilWaterTension,
        Quantity::BatteryVoltage,
    ];
    let (start_s, end_s) = (start.to_rfc3339(), now.to_rfc3339());
    let mut learned = 0;
    for device in a.tree_sensors() {
        let Some(site) = inv
            .sites
            .iter()
            .find(|s| s.devices.iter().any(|d| d.id == device))
        else {
            continue;
        };
        let series = influx
            .query(
                Q,
                &[("device", device.as_str()), ("start", &start_s), ("end", &end_s)],
            )
            .await?;
        for row in series.iter().flat_map(|s| s.values.iter()) {
            let Some(ts) = row
                .first()
                .and_then(|t| t.as_i64())
                .and_then(DateTime::from_timestamp_millis)
            else {
                continue;
            };
            let values: BTreeMap<Quantity, f64> = fields
                .iter()
                .zip(row.iter().skip(1))
                .filter_map(|(q, v)| Some((*q, v.as_f64()?)))
                .collect();
            if !values.is_empty() {
                a.warm_soil(&Reading::new(site.id.clone(), device.clone(), ts, values));
                learned += 1;
            }
        }
    }
    Ok(learned)
}
