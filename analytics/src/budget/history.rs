//! The year-end forecasts the budget alerts are evaluated on, read from InfluxDB or VictoriaMetrics: per site with a budget,
//! its meters' `energy_import` counter (the `main_meter` devices, or all devices without one, as the API's
//! site reports) as the last value per hour since the start of the local year (and at least the last
//! [`HISTORY_DAYS`] days), one query per site. An hour's energy is the rise of the counter from the last
//! value of the hour before: the learned history takes the hours every meter measured cleanly (no gap,
//! no reset), the year so far every rise. The forecast itself is [`zw_model::forecast::year_end`], the
//! same as `GET /api/v1/sites/{id}/forecast` (which reads the exact per-interval energy instead of hourly
//! counter values, so the two can differ by a reading's worth at the edges).
//!
//! [`watch`] repeats this every [`EVERY`] and hands the forecasts to the service loop, which evaluates
//! them ([`crate::Analytics::budgets`]). A failing query skips that site until the next round.
//!
//! A site whose meters all heat (class `heater` or `heat_pump`) follows the weather as the API's
//! forecast does ([`zw_model::forecast::year_end_with`]): the daily temperatures of the weather feed
//! analytics receives ([`Temps`], the area named like the site or the feed's only area), observed, then
//! forecast, then normal.
//!
//! A heat, gas or water budget is forecast from the site's meters of that medium (`heat_energy` of the
//! heat meters, `gas_volume` of the gas meters, `volume` of the water meters) as the API's
//! `/forecast?medium=` does ([`zw_model::forecast::media::outlook_medium`]): gas in m³ and, through the
//! site's `[[gas_conversions]]`, in kWh; heat and gas following the weather; each priced with the site's
//! tariffs of the medium.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use zw_bus::LiveInventory;
use zw_influx::read::{Agg, Request, Row, Shape};
use zw_influx::{Client, QueryError};
use zw_model::counter::Bucket;
use zw_model::forecast::heating::{DayTemps, KnownTemps};
use zw_model::forecast::media::outlook_medium;
use zw_model::forecast::{Hour, Slp, learn, year_end_with, year_of};
use zw_model::report::Medium;
use zw_model::tariff::{Budget, Interval, Schedule};
use zw_model::weather::Weather;
use zw_model::{Id, Inventory, Site, SiteKind, storage};

use super::YearEnd;

/// Days of observed daily temperatures kept per area.
pub const KEEP_DAYS: i64 = 45;
/// Most weather areas kept.
pub const MAX_AREAS: usize = 256;

/// The daily temperatures per weather area, shared between the bus loop (which takes in the validated
/// weather messages) and the budget watch.
/// A site's area is chosen by [`zw_model::weather::area_for`] with the configured `site_area` and
/// `default_area` (`[analytics.trees.weather]`).
#[derive(Debug, Clone, Default)]
pub struct Temps {
    areas: Arc<RwLock<BTreeMap<String, KnownTemps>>>,
    site_area: Arc<BTreeMap<String, String>>,
    default_area: Option<String>,
}

impl Temps {
    /// No temperatures yet; sites take their areas as `site_area` and `default_area` say.
    pub fn new(site_area: BTreeMap<String, String>, default_area: Option<String>) -> Self {
        Self {
            areas: Arc::default(),
            site_area: Arc::new(site_area),
            default_area,
        }
    }

    /// Takes in the daily temperatures of a validated message (areas beyond [`MAX_AREAS`] are not kept).
    pub fn apply(&self, w: &Weather) {
        let (Some(t), Ok(mut areas)) = (&w.temperature, self.areas.write()) else {
            return;
        };
        let key = w.area.to_string();
        if areas.contains_key(&key) || areas.len() < MAX_AREAS {
            areas.entry(key).or_default().update(t, w.issued, KEEP_DAYS);
        }
    }

    /// The temperatures of `site`'s area ([`zw_model::weather::area_for`]), or none.
    pub fn for_site(&self, site: &str) -> KnownTemps {
        let Ok(areas) = self.areas.read() else {
            return KnownTemps::default();
        };
        zw_model::weather::area_for(&areas, site, &self.site_area, self.default_area.as_deref())
            .cloned()
            .unwrap_or_default()
    }
}

/// Device classes whose electricity heats.
pub const HEATING_CLASSES: &[&str] = &["heater", "heat_pump"];

/// How often the budgets are evaluated.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Days of hourly history the forecast learns from (as the API's).
pub const HISTORY_DAYS: i64 = 28;

/// The site's hourly energy from the per-device last counter values per hour (`(hour start, value)`,
/// oldest first) for the hours `[first, end)`: `(history, measured)`, where a history hour is known when
/// every device rose cleanly into it from the hour before, and a measured hour counts every rise (also
/// one across a gap, put in the hour it ends in).
pub fn site_hours(
    devices: &[Vec<(DateTime<Utc>, f64)>],
    first: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Vec<Hour>, Vec<Interval>) {
    // Per hour: (sum of every rise, sum of clean rises, devices rising cleanly).
    let mut at: BTreeMap<DateTime<Utc>, (f64, f64, usize)> = BTreeMap::new();
    for rows in devices {
        for w in rows.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            let rise = v1 - v0;
            if rise < 0.0 || t1 < first || t1 >= end {
                continue;
            }
            let e = at.entry(t1).or_default();
            e.0 += rise;
            if t1 - t0 == TimeDelta::hours(1) {
                e.1 += rise;
                e.2 += 1;
            }
        }
    }
    let (mut history, mut measured) = (Vec::new(), Vec::new());
    let mut t = first;
    while t < end {
        let e = at.get(&t);
        history.push(Hour {
            start: t,
            wh: e.filter(|e| e.2 == devices.len()).map(|e| e.1),
        });
        measured.push(Interval {
            start: t,
            import_wh: e.map(|e| e.0),
            export_wh: None,
        });
        t += TimeDelta::hours(1);
    }
    (history, measured)
}

/// The year-end forecast of `site` at `now` from its hourly history (`history` from `now − HISTORY_DAYS`
/// and `measured` from the year's start, both up to the hour `from`), priced with the site's tariffs.
pub fn forecast(
    inv: &Inventory,
    site: &Site,
    tz: chrono_tz::Tz,
    (history, measured): (&[Hour], &[Interval]),
    from: DateTime<Utc>,
    temps: Option<&KnownTemps>,
) -> Option<YearEnd> {
    let schedule = Schedule::for_site(&inv.tariffs, &site.id, tz);
    let slp = if site.kind == SiteKind::Household {
        Slp::H25
    } else {
        Slp::G25
    };
    let temps = temps.map(|t| t as &dyn DayTemps);
    let (year, o, _) = year_end_with(tz, (history, slp), &schedule, measured, from, temps)?;
    let currency = schedule
        .at(from.with_timezone(&tz).date_naive())
        .map(|t| t.currency.clone());
    let gross = (o.priced && !schedule.is_empty())
        .then(|| (o.gross_cents as f64 / 100.0, o.low_gross_cents as f64 / 100.0));
    Some(YearEnd {
        year,
        medium: Medium::Electricity,
        kwh: Some((o.wh / 1000.0, o.low_wh / 1000.0)),
        m3: None,
        gross,
        currency: currency.unwrap_or_default(),
        meter: None,
    })
}

/// [`forecast`] of a heat, gas or water budget: `history` and `measured` in the medium's counter unit (Wh
/// of heat, m³ of gas and water), the kWh of gas through the site's conversions, the cost under its
/// tariffs of the medium; `meter` is what the alert names.
pub fn forecast_medium(
    inv: &Inventory,
    (site, medium, meter): (&Site, Medium, Option<Id>),
    tz: chrono_tz::Tz,
    (history, measured): (&[Hour], &[Interval]),
    from: DateTime<Utc>,
    temps: Option<&KnownTemps>,
) -> Option<YearEnd> {
    let (year, start, until) = year_of(&tz, from)?;
    let model = learn(tz, history, Slp::G25)?;
    let schedule = Schedule::for_medium(&inv.tariffs, &site.id, medium, tz);
    let buckets: Vec<Bucket> = measured
        .iter()
        .map(|i| Bucket {
            start: i.start,
            end: i.start + TimeDelta::hours(1),
            wh: i.import_wh,
            complete: true,
            coverage: 1.0,
        })
        .collect();
    let weather = temps.map(|t| (history, t as &dyn DayTemps));
    let conversions = (site.id.as_str(), inv.gas_conversions.as_slice());
    let range = (start, from, until);
    let (o, _) = outlook_medium(medium, &model, &schedule, conversions, &buckets, range, weather);
    let currency = schedule
        .at(from.with_timezone(&tz).date_naive())
        .map(|t| t.currency.clone());
    let pair = |p: zw_model::forecast::Projection, per: f64| (p.wh / per, p.low_wh / per);
    Some(YearEnd {
        year,
        medium,
        kwh: o.wh.map(|p| pair(p, 1000.0)),
        m3: o.m3.map(|p| pair(p, 1.0)),
        gross: o
            .cost
            .filter(|c| c.priced)
            .map(|c| (c.gross_cents as f64 / 100.0, c.low_gross_cents as f64 / 100.0)),
        currency: currency.unwrap_or_default(),
        meter,
    })
}

/// Reads the site's hourly counter values of `medium` and forecasts its year end at `now`; `Ok(None)`
/// when it has nothing to forecast from.
pub async fn read(
    influx: &Client,
    inv: &Inventory,
    (site, medium): (&Site, Medium),
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    temps: &Temps,
) -> Result<Option<YearEnd>, QueryError> {
    let from = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let Some((_, year_start, _)) = year_of(&tz, from) else {
        return Ok(None);
    };
    let learn_from = from - TimeDelta::days(HISTORY_DAYS);
    let first = year_start.min(learn_from);
    let request = Request::raw(storage::MEASUREMENT, &[medium.quantity().name()])
        .tag(storage::TAG_SITE, site.id.as_str())
        .range(first - TimeDelta::hours(1), from)
        .shape(Shape::Windows {
            agg: Agg::Last,
            window_s: 3600,
            by: Some(storage::TAG_DEVICE.into()),
        });
    let groups = influx.read(&request).await?;
    let main: Vec<&Id> = site
        .devices
        .iter()
        .filter(|d| d.class == "main_meter")
        .map(|d| &d.id)
        .collect();
    let meters: Vec<&Id> = match medium.meter_class() {
        Some(class) => site
            .devices
            .iter()
            .filter(|d| d.class == class)
            .map(|d| &d.id)
            .collect(),
        None if main.is_empty() => site.devices.iter().map(|d| &d.id).collect(),
        None => main,
    };
    let mut devices: Vec<Vec<(DateTime<Utc>, f64)>> = Vec::new();
    for g in &groups {
        let Some(device) = &g.tag else {
            continue;
        };
        if !meters.iter().any(|m| m.as_str() == device.as_str()) {
            continue;
        }
        let mut rows: Vec<(DateTime<Utc>, f64)> = g.rows.iter().filter_map(Row::point).collect();
        rows.sort_by_key(|r| r.0);
        devices.push(rows);
    }
    if devices.is_empty() {
        return Ok(None);
    }
    let (history, measured) = site_hours(&devices, first, from);
    let skip = |t: DateTime<Utc>| history.partition_point(|h| h.start < t);
    let heating = site
        .devices
        .iter()
        .filter(|d| meters.contains(&&d.id))
        .all(|d| HEATING_CLASSES.contains(&d.class.as_str()));
    let heating = if medium == Medium::Electricity {
        heating
    } else {
        medium.weather_dependent()
    };
    let known = heating.then(|| temps.for_site(site.id.as_str()));
    if medium != Medium::Electricity {
        let meter = meters.iter().min().map(|m| (*m).clone());
        return Ok(forecast_medium(
            inv,
            (site, medium, meter),
            tz,
            (&history[skip(learn_from)..], &measured[skip(year_start)..]),
            from,
            known.as_ref(),
        ));
    }
    Ok(forecast(
        inv,
        site,
        tz,
        (&history[skip(learn_from)..], &measured[skip(year_start)..]),
        from,
        known.as_ref(),
    ))
}

/// Every `every` (the first round at once), the year-end forecast of each site with a budget of this
/// year, paired with its budgets (a past year's budget too, so its alert clears), sent on `tx`.
pub async fn watch(
    influx: Client,
    live: LiveInventory,
    tz: chrono_tz::Tz,
    every: Duration,
    tx: mpsc::Sender<Vec<(Budget, YearEnd)>>,
    shutdown: CancellationToken,
    temps: Temps,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let inv = live.current();
        let now = Utc::now();
        let mut out = Vec::new();
        for site in &inv.sites {
            for medium in Medium::ALL {
                let budgets: Vec<&Budget> = inv
                    .budgets
                    .iter()
                    .filter(|b| b.site == site.id && b.medium == medium)
                    .collect();
                if budgets.is_empty() {
                    continue;
                }
                match read(&influx, &inv, (site, medium), tz, now, &temps).await {
                    Ok(Some(f)) => out.extend(budgets.into_iter().map(|b| (b.clone(), f.clone()))),
                    Ok(None) => {}
                    Err(e) => warn!(
                        site = %site.id, medium = medium.name(), error = %e,
                        "Budget forecast: reading the site's meters failed."
                    ),
                }
            }
        }
        if tx.send(out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use zw_model::Quantity;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).expect("time") + TimeDelta::hours(h)
    }

    #[test]
    fn hours_are_the_counter_rises_clean_ones_learned_every_one_measured() {
        // Device a: hourly values, a gap over hour 3; device b: every hour, a reset at hour 4.
        let a = vec![
            (t(0), 0.0),
            (t(1), 10.0),
            (t(2), 20.0),
            (t(4), 50.0),
            (t(5), 60.0),
        ];
        let b = vec![
            (t(0), 0.0),
            (t(1), 1.0),
            (t(2), 2.0),
            (t(3), 3.0),
            (t(4), 0.0),
            (t(5), 1.0),
        ];
        let (history, measured) = site_hours(&[a, b], t(1), t(6));
        let h: Vec<Option<f64>> = history.iter().map(|h| h.wh).collect();
        assert_eq!(h, [Some(11.0), Some(11.0), None, None, Some(11.0)]);
        let m: Vec<Option<f64>> = measured.iter().map(|i| i.import_wh).collect();
        // Hour 3: only b rose; hour 4: a's rise across the gap (30), b's reset dropped.
        assert_eq!(m, [Some(11.0), Some(11.0), Some(1.0), Some(30.0), Some(11.0)]);
        assert_eq!(measured.iter().filter_map(|i| i.import_wh).sum::<f64>(), 64.0);
    }

    #[test]
    fn a_heaters_year_end_follows_the_weathers_temperatures() {
        use chrono::TimeZone as _;
        use zw_model::inventory::JsonField;
        use zw_model::weather::{DayTemp, Temperatures};
        use zw_model::{Device, Inventory};

        let tz = chrono_tz::Europe::Berlin;
        let heater = Device::json("h", "h", [JsonField::new("/e", Quantity::EnergyImport)]).class("heater");
        let inv = Inventory::builder().building("werk", [heater]).build();
        let site = &inv.sites[0];
        let from = tz
            .with_ymd_and_hms(2026, 12, 7, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let start = from - TimeDelta::days(28);
        let temp = |k: i64| 4.0 + 2.0 * (k % 5) as f64;
        let history: Vec<Hour> = (0..28 * 24)
            .map(|i| Hour {
                start: start + TimeDelta::hours(i),
                wh: Some(1000.0 + 500.0 * (20.0 - temp(i / 24)) / 24.0),
            })
            .collect();
        let day0 = start.with_timezone(&tz).date_naive();
        let weather = |c: f64| Weather {
            v: 1,
            area: Id::new("town").expect("id"),
            issued: from,
            source: None,
            observed: Vec::new(),
            forecast: Vec::new(),
            rain_forecast: Vec::new(),
            rain_observed: Vec::new(),
            temperature: Some(Temperatures {
                observed: (0..28)
                    .map(|k| DayTemp {
                        day: day0 + TimeDelta::days(k),
                        c: temp(k),
                    })
                    .collect(),
                forecast: (0..7)
                    .map(|k| DayTemp {
                        day: from.date_naive() + TimeDelta::days(k),
                        c,
                    })
                    .collect(),
            }),
        };
        let year_end = |c: f64| {
            let temps = Temps::default();
            temps.apply(&weather(c));
            let known = temps.for_site("werk");
            forecast(&inv, site, tz, (&history, &[]), from, Some(&known)).expect("a forecast")
        };
        let (cold, mild) = (year_end(-5.0), year_end(10.0));
        // 7 days 15 K·d colder at about 500 Wh per K·d: about 52 kWh more.
        let diff = cold.kwh.expect("kWh").0 - mild.kwh.expect("kWh").0;
        assert!((diff - 52.5).abs() < 17.5, "{diff}: {cold:?} {mild:?}");
        // Without temperatures the plain profile.
        let plain = forecast(&inv, site, tz, (&history, &[]), from, None).expect("a forecast");
        let none = forecast(
            &inv,
            site,
            tz,
            (&history, &[]),
            from,
            Some(&KnownTemps::default()),
        );
        assert_eq!(none, Some(plain));
    }
}
