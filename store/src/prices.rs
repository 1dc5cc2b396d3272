//! Dynamic prices received on the bus, kept across API restarts (`price_intervals`).
//!
//! One row per series and interval start: its length and the net price in milli-cent per kWh. Saving
//! upserts (a newer price for an interval replaces the older), so several API instances saving the same
//! message agree. Machine data from the bus, not an inventory change: not audited.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row as _;

use crate::codec::ts;
use crate::{Error, Store};

/// One series as stored: interval length and (start, milli-cent per kWh) in order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPrices {
    /// The series' name.
    pub series: String,
    /// Interval length (of the newest rows, should older ones differ).
    pub step: TimeDelta,
    /// Interval starts with their prices, in order.
    pub rows: Vec<(DateTime<Utc>, i64)>,
}

impl Store {
    /// Saves `rows` of `series` (intervals `step` long) received at `at`, replacing older prices of the same
    /// intervals.
    pub async fn save_prices(
        &self,
        series: &str,
        step: TimeDelta,
        rows: &[(DateTime<Utc>, i64)],
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        // Many rows per statement (a year of hours is 8,784): one statement per row kept SQLite's write lock
        // for seconds, and other writers (the admin API) met "database is locked". 150 rows × 5 parameters
        // stay under SQLite's oldest limit of 999 parameters.
        const ROWS: usize = 150;
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 5 * i;
                    format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
                })
                .collect();
            let sql = format!(
                "INSERT INTO price_intervals (series, start_at, step_minutes, price_mct, received_at) VALUES {} \
                 ON CONFLICT (series, start_at) DO UPDATE SET step_minutes = excluded.step_minutes, \
                 price_mct = excluded.price_mct, received_at = excluded.received_at",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for &(start, mct) in chunk {
                q = q
                    .bind(series)
                    .bind(ts(start))
                    .bind(step.num_minutes())
                    .bind(mct)
                    .bind(ts(at));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every stored series with its prices, by series name.
    pub async fn load_prices(&self) -> Result<Vec<StoredPrices>, Error> {
        let rows = sqlx::query(
            "SELECT series, start_at, step_minutes, price_mct FROM price_intervals ORDER BY series, start_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<StoredPrices> = Vec::new();
        for row in rows {
            let series: String = row.try_get("series")?;
            let start: String = row.try_get("start_at")?;
            let corrupt = |reason: String| Error::Corrupt {
                table: "price_intervals",
                key: format!("{series} {start}"),
                reason,
            };
            let t = DateTime::parse_from_rfc3339(&start)
                .map_err(|e| corrupt(format!("start_at: {e}")))?
                .to_utc();
            let step = TimeDelta::minutes(row.try_get::<i64, _>("step_minutes")?);
            let mct: i64 = row.try_get("price_mct")?;
            match out.last_mut() {
                Some(s) if s.series == series => {
                    s.step = step;
                    s.rows.push((t, mct));
                }
                _ => out.push(StoredPrices {
                    series,
                    step,
                    rows: vec![(t, mct)],
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[tokio::test]
    async fn prices_round_trip_and_a_newer_price_replaces_the_older() {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 23, 0, 0).single().expect("t");
        let hour = TimeDelta::hours(1);
        store
            .save_prices("epex-de-lu", hour, &[(t0, 12_345), (t0 + hour, -500)], t0)
            .await
            .expect("save");
        store
            .save_prices("epex-de-lu", hour, &[(t0, 20_000)], t0 + hour)
            .await
            .expect("save again");
        store
            .save_prices("other", TimeDelta::minutes(15), &[(t0, 1)], t0)
            .await
            .expect("save other");
        let loaded = store.load_prices().await.expect("load");
        assert_eq!(
            loaded,
            vec![
                StoredPrices {
                    series: "epex-de-lu".into(),
                    step: hour,
                    rows: vec![(t0, 20_000), (t0 + hour, -500)],
                },
                StoredPrices {
                    series: "other".into(),
                    step: TimeDelta::minutes(15),
                    rows: vec![(t0, 1)],
                },
            ]
        );
        // More rows than one statement takes (150): every one saved, in order.
        let year: Vec<_> = (0..400).map(|h| (t0 + hour * h, i64::from(h))).collect();
        store
            .save_prices("year", hour, &year, t0)
            .await
            .expect("save a year");
        let loaded = store.load_prices().await.expect("load");
        let y = loaded.iter().find(|s| s.series == "year").expect("year");
        assert_eq!(y.rows, year);
    }
}
