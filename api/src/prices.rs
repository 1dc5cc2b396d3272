//! Dynamic prices received on the bus (`zw/v1/prices/+`, [`zw_model::tariff::message`]), merged into the
//! tariffs' price series so `/cost`, `/energy`, `/forecast` and the report price with them from the next
//! request on.
//!
//! The book holds one shared [`LivePrices`] per series a tariff names (`[[tariffs]] dynamic.series`; a
//! series with a CSV starts from it). [`PriceBook::attach`] gives every inventory snapshot's tariffs the
//! book's handle, so a store-fed inventory (whose tariffs come without prices) prices with them too.
//!
//! A message is merged when it parses ([`PriceMessage::from_message`]: version, size, unit, net, grid) and
//! names a series a tariff names; a newer price for an interval replaces the older. Every refusal is
//! counted in `zw_api_prices_rejected_total{reason}` (the message's own reasons, plus `unknown_series` and
//! `step_mismatch`: 15-minute prices for an hourly series or the reverse) and logged once per reason;
//! merged messages in `zw_api_prices_merged_total`. An empty (retained-clearing) payload changes nothing.
//!
//! Kept across restarts ([`PriceBook::persist`]): in the relational store's `price_intervals` when
//! `[store]` is configured (so every API instance finds them), else in the JSON file `api.prices_file`;
//! with neither, only in memory (the broker's retained message brings back the latest one).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{info, warn};
use zw_model::tariff::{LivePrices, PriceMessage, PriceSeries};
use zw_model::{Id, Inventory};

/// Messages waiting to be persisted; beyond this one is dropped with a warning (the broker's retained
/// message and the next message bring it back).
const PERSIST_QUEUE: usize = 256;

/// One series' prices as persisted: interval length and (start, milli-cent per kWh).
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// The series.
    pub series: String,
    /// Interval length.
    pub step: TimeDelta,
    /// Interval starts with their prices.
    pub rows: Vec<(DateTime<Utc>, i64)>,
}

/// Where the prices are kept across restarts.
#[derive(Debug, Clone)]
pub enum Persist {
    /// The relational store (`price_intervals`).
    Store(zw_store::Store),
    /// A JSON file, rewritten (atomically) after each merged message.
    File(PathBuf),
}

/// The metrics of the price feed.
#[derive(Debug, Clone)]
struct Metrics {
    merged: IntCounter,
    rejected: IntCounterVec,
}

/// The price series of the tariffs, fed by the bus.
#[derive(Debug, Default)]
pub struct PriceBook {
    series: RwLock<BTreeMap<Id, LivePrices>>,
    metrics: OnceLock<Metrics>,
    logged: Mutex<HashSet<&'static str>>,
    sink: OnceLock<mpsc::Sender<Saved>>,
}

impl PriceBook {
    /// Registers the feed's counters in `registry` (once).
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        let m = Metrics {
            merged: IntCounter::new(
                "zw_api_prices_merged_total",
                "Price messages from the bus merged into a tariff's price series.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "zw_api_prices_rejected_total",
                    "Price messages from the bus refused, by reason.",
                ),
                &["reason"],
            )?,
        };
        registry.register(Box::new(m.merged.clone()))?;
        registry.register(Box::new(m.rejected.clone()))?;
        let _ = self.metrics.set(m);
        Ok(())
    }

    /// `inventory` with every tariff naming a series holding the book's handle of it (the book learns the
    /// series, seeded by the tariff's CSV prices, on first sight); the same `Arc` when nothing changes.
    pub fn attach(&self, inventory: Arc<Inventory>) -> Arc<Inventory> {
        let mut book = self
            .series
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stale = false;
        for t in &inventory.tariffs {
            let Some(d) = &t.dynamic else { continue };
            let Some(series) = &d.series else { continue };
            let live = book.entry(series.clone()).or_insert_with(|| {
                d.prices
                    .clone()
                    .unwrap_or_else(|| LivePrices::new(PriceSeries::default()))
            });
            stale |= !d.prices.as_ref().is_some_and(|p| p.same(live));
        }
        if !stale {
            return inventory;
        }
        let mut inv = (*inventory).clone();
        for t in &mut inv.tariffs {
            if let Some(d) = t.dynamic.as_mut()
                && let Some(live) = d.series.as_ref().and_then(|s| book.get(s))
            {
                d.prices = Some(live.clone());
            }
        }
        Arc::new(inv)
    }

    /// The series' prices as they are now, if a tariff names it.
    pub fn get(&self, series: &str) -> Option<PriceSeries> {
        let book = self.series.read().ok()?;
        book.iter()
            .find(|(id, _)| id.as_str() == series)
            .map(|(_, p)| p.snapshot())
    }

    /// Merges prices kept from before a restart into the series tariffs name (others are skipped).
    pub fn restore(&self, saved: &[Saved]) {
        let book = self
            .series
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in saved {
            match book.iter().find(|(id, _)| id.as_str() == s.series) {
                Some((_, live)) => match live.merge(&s.rows, s.step) {
                    Ok(_) => info!(series = %s.series, prices = s.rows.len(), "Restored dynamic prices."),
                    Err(step) => warn!(
                        series = %s.series,
                        "Kept {}-minute prices do not fit the series' {} minutes; not restored.",
                        s.step.num_minutes(),
                        step.num_minutes()
                    ),
                },
                None => info!(series = %s.series, "Kept prices of a series no tariff names; not restored."),
            }
        }
    }

    /// Applies one message received on a price topic; `Err` with the reason when refused (counted and
    /// logged once per reason).
    pub fn apply(&self, topic: &str, payload: &[u8]) -> Result<usize, &'static str> {
        if payload.is_empty() {
            return Ok(0);
        }
        let result = self.merge(topic, payload);
        match &result {
            Ok(_) => {
                if let Some(m) = self.metrics.get() {
                    m.merged.inc();
                }
            }
            Err((reason, why)) => {
                if let Some(m) = self.metrics.get() {
                    m.rejected.with_label_values(&[reason]).inc();
                }
                let first = self.logged.lock().map(|mut l| l.insert(reason)).unwrap_or(false);
                if first {
                    warn!(topic, reason, error = %why, "Refused a price message (further ones of this reason only counted).");
                }
            }
        }
        result.map_err(|(reason, _)| reason)
    }

    fn merge(&self, topic: &str, payload: &[u8]) -> Result<usize, (&'static str, String)> {
        let m = PriceMessage::from_message(topic, payload).map_err(|e| (e.reason(), e.to_string()))?;
        let live = {
            let book = self.series.read().map_err(|_| ("internal", "lock".to_owned()))?;
            book.get(&m.series).cloned().ok_or_else(|| {
                (
                    "unknown_series",
                    format!("no tariff names the series {:?}", m.series.as_str()),
                )
            })?
        };
        let changed = live.merge(&m.rows, m.step).map_err(|step| {
            (
                "step_mismatch",
                format!(
                    "{}-minute prices for a series of {}-minute prices",
                    m.step.num_minutes(),
                    step.num_minutes()
                ),
            )
        })?;
        if let Some(sink) = self.sink.get()
            && sink
                .try_send(Saved {
                    series: m.series.to_string(),
                    step: m.step,
                    rows: m.rows,
                })
                .is_err()
        {
            warn!(series = %m.series, "The price persistence queue is full; this message is not kept.");
        }
        Ok(changed)
    }

    /// Keeps every message merged from now on in `to` (`file`: its content as restored, rewritten whole).
    /// A no-op when already persisting.
    pub fn persist(&self, to: Persist, file: Vec<Saved>) {
        let (tx, mut rx) = mpsc::channel::<Saved>(PERSIST_QUEUE);
        if self.sink.set(tx).is_err() {
            return;
        }
        tokio::spawn(async move {
            let mut kept: BTreeMap<String, PriceSeries> = BTreeMap::new();
            for s in file {
                let _ = kept
                    .entry(s.series)
                    .or_insert_with(|| PriceSeries::empty(s.step))
                    .merge(&s.rows, s.step);
            }
            while let Some(s) = rx.recv().await {
                let done = match &to {
                    Persist::Store(store) => store
                        .save_prices(&s.series, s.step, &s.rows, Utc::now())
                        .await
                        .map_err(|e| e.to_string()),
                    Persist::File(path) => {
                        let series = kept
                            .entry(s.series.clone())
                            .or_insert_with(|| PriceSeries::empty(s.step));
                        if series.merge(&s.rows, s.step).is_err() {
                            *series = PriceSeries::empty(s.step);
                            let _ = series.merge(&s.rows, s.step);
                        }
                        write_file(path.clone(), &kept).await
                    }
                };
                if let Err(e) = done {
                    warn!(series = %s.series, error = %e, "Dynamic prices not kept for a restart.");
                }
            }
        });
    }
}

/// Restores the prices kept before a restart into `state`'s book and keeps every message from now on:
/// in the store with `[store]`, else in `api.prices_file`, else nowhere (logged). A store or file that
/// cannot be read is logged and the book starts from the tariffs' CSVs (the broker's retained messages
/// bring the latest back).
pub async fn start(state: &crate::AppState, cfg: &crate::Config) {
    let book = &state.views.prices;
    if let Some(store) = &state.store {
        match store.load_prices().await {
            Ok(kept) => book.restore(
                &kept
                    .into_iter()
                    .map(|s| Saved {
                        series: s.series,
                        step: s.step,
                        rows: s.rows,
                    })
                    .collect::<Vec<_>>(),
            ),
            Err(e) => warn!(error = %e, "Kept dynamic prices cannot be read from the store."),
        }
        book.persist(Persist::Store(store.clone()), Vec::new());
    } else if let Some(path) = &cfg.prices_file {
        let kept = read_file(path).unwrap_or_else(|e| {
            warn!(error = %e, "Kept dynamic prices cannot be read; starting without them.");
            Vec::new()
        });
        book.restore(&kept);
        book.persist(Persist::File(path.clone()), kept);
    } else if state
        .inventory
        .tariffs
        .iter()
        .any(|t| t.dynamic.as_ref().is_some_and(|d| d.series.is_some()))
    {
        info!("Neither [store] nor api.prices_file: dynamic prices from the bus are kept in memory only.");
    }
}

/// The file's format: `{"v":1,"series":[{"series":…,"step_minutes":60,"prices":[["…Z",12345],…]}]}`,
/// prices in milli-cent per kWh.
#[derive(Serialize, Deserialize)]
struct FileFormat {
    v: u32,
    series: Vec<FileSeries>,
}

#[derive(Serialize, Deserialize)]
struct FileSeries {
    series: String,
    step_minutes: i64,
    prices: Vec<(DateTime<Utc>, i64)>,
}

/// Reads the prices kept in `path`; a missing file is none kept yet.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Saved>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let f: FileFormat = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(f.series
        .into_iter()
        .map(|s| Saved {
            series: s.series,
            step: TimeDelta::minutes(s.step_minutes),
            rows: s.prices,
        })
        .collect())
}

async fn write_file(path: PathBuf, kept: &BTreeMap<String, PriceSeries>) -> Result<(), String> {
    let f = FileFormat {
        v: 1,
        series: kept
            .iter()
            .map(|(name, s)| FileSeries {
                series: name.clone(),
                step_minutes: s.step().num_minutes(),
                prices: s.rows().collect(),
            })
            .collect(),
    };
    let json = serde_json::to_vec(&f).map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use zw_model::inventory::fixtures::town;
    use zw_model::tariff::{Dynamic, Tariff};

    use super::*;

    fn dynamic_town() -> Arc<Inventory> {
        let mut inv = town();
        let t: Tariff = toml::from_str(
            "id = \"spot\"\nvalid_from = \"2026-01-01\"\nsites = []\n[dynamic]\nseries = \"epex-de-lu\"\nmarkup_ct_per_kwh = 10.0\n",
        )
        .expect("tariff");
        assert!(matches!(t.dynamic, Some(Dynamic { prices: None, .. })));
        inv.tariffs = vec![
            t.clone(),
            Tariff {
                id: Id::new("spot2").expect("id"),
                ..t
            },
        ];
        Arc::new(inv)
    }

    fn msg(series: &str, start: &str, price: f64) -> Vec<u8> {
        format!(
            r#"{{"v":1,"series":"{series}","unit":"ct/kWh","net":true,"step_minutes":60,"intervals":[{{"start":"{start}","price":{price}}}]}}"#
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn merges_known_series_refuses_the_rest_and_keeps_them_in_a_file() {
        let registry = Registry::new();
        let book = PriceBook::default();
        book.register(&registry).expect("metrics");
        let inv = book.attach(dynamic_town());
        assert!(Arc::ptr_eq(&inv, &book.attach(inv.clone())), "attached once");
        let dir = std::env::temp_dir().join(format!("zw-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("prices.json");
        book.persist(Persist::File(file.clone()), Vec::new());
        let t = "zw/v1/prices/epex-de-lu";
        assert_eq!(
            book.apply(t, &msg("epex-de-lu", "2026-12-08T00:00:00+01:00", 12.345)),
            Ok(1)
        );
        let at: DateTime<Utc> = "2026-12-07T23:30:00Z".parse().expect("t");
        for tariff in &inv.tariffs {
            let p = tariff
                .dynamic
                .as_ref()
                .and_then(|d| d.prices.as_ref())
                .expect("attached");
            assert_eq!(p.at(at), Some(12_345), "{}", tariff.id);
        }
        assert_eq!(
            book.apply(t, &msg("epex-de-lu", "2026-12-08T00:00:00+01:00", 13.0)),
            Ok(1)
        );
        assert_eq!(
            book.apply(
                "zw/v1/prices/other",
                &msg("other", "2026-12-08T00:00:00+01:00", 1.0)
            ),
            Err("unknown_series")
        );
        assert_eq!(book.apply(t, b"{nonsense"), Err("malformed"));
        let quarter = String::from_utf8(msg("epex-de-lu", "2026-12-08T00:15:00+01:00", 1.0))
            .expect("utf8")
            .replace("60", "15");
        assert_eq!(book.apply(t, quarter.as_bytes()), Err("step_mismatch"));
        assert_eq!(
            book.apply(t, b""),
            Ok(0),
            "clearing the retained message changes nothing"
        );
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("text");
        for line in [
            "zw_api_prices_merged_total 2",
            "zw_api_prices_rejected_total{reason=\"unknown_series\"} 1",
            "zw_api_prices_rejected_total{reason=\"malformed\"} 1",
            "zw_api_prices_rejected_total{reason=\"step_mismatch\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // The file holds the newer price; a new book restores it.
        let mut kept = Vec::new();
        for _ in 0..200 {
            kept = read_file(&file).expect("file");
            if kept
                .first()
                .is_some_and(|s| s.rows.first().map(|r| r.1) == Some(13_000))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let again = PriceBook::default();
        let inv2 = again.attach(dynamic_town());
        again.restore(&kept);
        let p = inv2.tariffs[0]
            .dynamic
            .as_ref()
            .and_then(|d| d.prices.as_ref())
            .expect("attached");
        assert_eq!(p.at(at), Some(13_000));
        let _ = std::fs::remove_dir_all(dir);
    }
}
