//! The peak so far at start: per watched site, the mean power of its meters per quarter hour of the
//! current billing year from InfluxDB (one bounded query per site, values only through bind parameters),
//! summed over the meters making up the site's total where every one has readings in that quarter hour.
//! The highest becomes the peak so far ([`PeakWatch::warm`]). The mean of the samples stands for the
//! quarter hour's average power (exact for evenly spaced samples, as meters polled on a fixed grid give).
//! A failing query leaves that site without a peak so far until a quarter hour sets one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use zw_influx::{Client, QueryError};
use zw_model::{Id, storage};

use super::{PeakWatch, QUARTER_MS, quarter_start};

/// Reads the quarter hours of the billing year up to `now`'s quarter hour into `watch`; returns the
/// number of quarter hours learned.
pub async fn warm(watch: &mut PeakWatch, influx: &Client, now: DateTime<Utc>) -> Result<u64, QueryError> {
    let end = quarter_start(now.timestamp_millis());
    let q = format!(
        "SELECT mean(active_power) FROM \"{m}\" WHERE \"{s}\" = $site AND time >= $start AND time < $end \
         GROUP BY time(15m), \"{d}\" fill(none)",
        m = storage::MEASUREMENT,
        s = storage::TAG_SITE,
        d = storage::TAG_DEVICE
    );
    let rfc = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339()
    };
    let mut learned = 0;
    for (site, start, contributors) in watch.warm_plan(now.timestamp_millis()) {
        // The billing year's first quarter hour on the grid (a zone's midnight may be off the grid).
        let start = quarter_start(start + QUARTER_MS - 1);
        let series = influx
            .query(
                &q,
                &[
                    ("site", site.as_str()),
                    ("start", &rfc(start)),
                    ("end", &rfc(end)),
                ],
            )
            .await?;
        let mut quarters: BTreeMap<i64, (usize, f64)> = BTreeMap::new();
        for s in &series {
            let Some(device) = s.tags.get(storage::TAG_DEVICE) else {
                continue;
            };
            if !contributors.iter().any(|c| c.as_str() == device.as_str()) {
                continue;
            }
            for row in &s.values {
                let (Some(ms), Some(w)) = (
                    row.first().and_then(|v| v.as_i64()),
                    row.get(1).and_then(|v| v.as_f64()),
                ) else {
                    continue;
                };
                let e = quarters.entry(ms).or_default();
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
