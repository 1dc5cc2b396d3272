//! The peak so far at start: per watched site, the mean power of its meters per quarter hour of the
//! current billing year from the time-series store (one bounded read per site through [`zw_influx::read`],
//! on InfluxDB or VictoriaMetrics), summed over the meters making up the site's total where every one has
//! readings in that quarter hour.
//! The highest becomes the peak so far ([`PeakWatch::warm`]). The mean of the samples stands for the
//! quarter hour's average power (exact for evenly spaced samples, as meters polled on a fixed grid give).
//! A failing query leaves that site without a peak so far until a quarter hour sets one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use zw_influx::read::{Agg, Request};
use zw_influx::{Client, QueryError};
use zw_model::{Id, Quantity, storage};

use super::{PeakWatch, QUARTER_MS, quarter_start};

/// Reads the quarter hours of the billing year up to `now`'s quarter hour into `watch`; returns the
/// number of quarter hours learned.
pub async fn warm(watch: &mut PeakWatch, influx: &Client, now: DateTime<Utc>) -> Result<u64, QueryError> {
    let end = quarter_start(now.timestamp_millis());
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let mut learned = 0;
    for (site, start, contributors) in watch.warm_plan(now.timestamp_millis()) {
        // The billing year's first quarter hour on the grid (a zone's midnight may be off the grid).
        let start = quarter_start(start + QUARTER_MS - 1);
        let request = Request::raw(storage::MEASUREMENT, &[Quantity::ActivePower.name()])
            .tag(storage::TAG_SITE, site.as_str())
            .range(at(start), at(end))
            .by(storage::TAG_DEVICE)
            .windows(Agg::Mean, (QUARTER_MS / 1000) as u64);
        let groups = influx.read(&request).await?;
        let mut quarters: BTreeMap<i64, (usize, f64)> = BTreeMap::new();
        for g in &groups {
            let Some(device) = &g.tag else {
                continue;
            };
            if !contributors.iter().any(|c| c.as_str() == device.as_str()) {
                continue;
            }
            for row in &g.rows {
                let Some(w) = row.values.first().copied().flatten() else {
                    continue;
                };
                let e = quarters.entry(row.ms).or_default();
                *e = (e.0 + 1, e.1 + w);
            }
        }
        learned += learn(watch, &site, contributors.len(), &quarters);
    }
    Ok(learned)
}

/// Hands every quarter hour all `meters` measured to `watch`.
fn learn(watch: &mut PeakWatch, site: &Id, meters: usize, quarters: &BTreeMap<i64, (usize, f64)>) -> u64 {
    let mut n = 0;
    for (&q, &(count, w)) in quarters {
        if count == meters && meters > 0 && watch.warm(site, q, w) {
            n += 1;
        }
    }
    n
}
