//! Warm-up: teach the learned normal and the baseload reference from stored history (InfluxDB or
//! VictoriaMetrics, [`zw_influx::read`]) before going live,
//! and give every tree sensor its recent series back, so a restart does not cost days of trend.
//!
//! One bounded query per site (`analytics.warmup.history` back, `power.window` means per device), values
//! only bound. Each device's window means feed its hour-of-week normal; windows where
//! every device of a site's total has a mean feed the site's normal and baseload. Tree sensors: one query
//! each for the last value per 15 minutes over twice the trend window (at most the warm-up history),
//! replayed in time order through the same per-reading path as live data. A failing or slow database only
//! means starting with less history: the service goes live either way.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use zw_influx::read::{Agg, Request, Shape};
use zw_influx::{Client, QueryError};
use zw_model::{Id, Inventory, Quantity, Reading, storage};

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
    // The window length is config, never data; the values are bound (or escaped label values).
    let mut learned = 0;
    for site in &inv.sites {
        let request = Request::raw(storage::MEASUREMENT, &[Quantity::ActivePower.name()])
            .tag(storage::TAG_SITE, site.id.as_str())
            .range(start, now)
            .shape(Shape::Windows {
                agg: Agg::Mean,
                window_s: cfg.power.window.as_secs(),
                by: Some(storage::TAG_DEVICE.into()),
            });
        let groups = influx.read(&request).await?;
        let mut per_device: HashMap<Id, Vec<(i64, f64)>> = HashMap::new();
        for g in groups {
            let Some(device) = g.tag.as_deref().and_then(|d| Id::new(d).ok()) else {
                continue;
            };
            let rows = g
                .rows
                .iter()
                .filter_map(|row| Some((row.ms, (*row.values.first()?)?)));
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
    let fields = [
        Quantity::SoilMoisture,
        Quantity::SoilWaterTension,
        Quantity::BatteryVoltage,
    ];
    let names = fields.map(Quantity::name);
    let mut learned = 0;
    for device in a.tree_sensors() {
        let Some(site) = inv
            .sites
            .iter()
            .find(|s| s.devices.iter().any(|d| d.id == device))
        else {
            continue;
        };
        let request = Request::raw(storage::MEASUREMENT, &names)
            .tag(storage::TAG_DEVICE, device.as_str())
            .range(start, now)
            .windows(Agg::Last, 900);
        for row in influx.read(&request).await?.iter().flat_map(|g| g.rows.iter()) {
            let Some(ts) = row.time() else {
                continue;
            };
            let values: BTreeMap<Quantity, f64> = fields
                .iter()
                .zip(&row.values)
                .filter_map(|(q, v)| Some((*q, (*v)?)))
                .collect();
            if !values.is_empty() {
                a.warm_soil(&Reading::new(site.id.clone(), device.clone(), ts, values));
                learned += 1;
            }
        }
    }
    Ok(learned)
}
