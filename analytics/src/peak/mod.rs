//! Peak watch: an early warning while a quarter hour is still running that its average power is heading
//! for a new peak of the billing year, which the demand charge (Leistungspreis, [`price`]) bills for the
//! whole year.
//!
//! For every site whose tariff has a demand charge, [`PeakWatch`] keeps, from the live power samples of the
//! meters that make up the site's total (its `main_meter`s, else every device: as the energy detectors):
//!
//! * the running quarter hour on the meter operator's grid (:00, :15, :30, :45 UTC, the local grid in
//!   every zone with a whole-quarter offset, DST days included): per meter the energy so far, each sample
//!   held until the next (samples further apart than `max_gap` count nothing: that stretch is missing);
//! * the billing year's peak so far (restored at start from InfluxDB history: [`history`]), updated when a
//!   complete quarter hour ends above it; a quarter hour with a meter's readings missing sets no peak;
//! * the forecast of the quarter hour's final average: per meter, (energy so far + present power × time
//!   left) / (time measured + time left), summed, where the present power is the meter's time-weighted
//!   mean over the last `smoothing` (each sample standing for the time since the one before; kept in a ring
//!   of at most [`RING`] samples), so that load noise in the latest sample does not carry the forecast over
//!   the margin; its uncertainty is the range it would end in if the load stayed anywhere between the
//!   lowest and highest site total sampled in this quarter hour.
//!
//! Once `min_elapsed` of the quarter hour is measured and the forecast exceeds the peak so far by
//! `margin_percent`, it raises a `peak` alert on the site while the quarter hour runs: forecast and peak in
//! kW, the extra demand charge it would cost (Δ kW × price per kW and year), the minutes left, and the
//! devices drawing most right now (sub-meters when the site has them). The figures are refreshed at most
//! every `refresh`; the alert closes when the quarter hour ends (at the first reading after its end, or
//! `settle` after it), saying how it ended. Without a peak so far (a new billing year, no history) there
//! is nothing to exceed: the first complete quarter hour sets it.
//!
//! Pure and synchronous: the time is that of the readings ([`PeakWatch::power`]) and of the caller's clock
//! ([`PeakWatch::tick`]), so replays behave like live data.

pub mod config;
pub mod history;
pub mod price;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use zw_model::alert::{AlertKind, Explanation, Severity, Subject};
use zw_model::{Id, Inventory};

pub use config::PeakConfig;
pub use price::Rate;

use crate::explain::{Change, Signal, duration, round, utc};

/// A quarter hour, ms.
pub const QUARTER_MS: i64 = 900_000;

/// The most samples per meter kept for the present power's mean (`smoothing`).
pub const RING: usize = 64;

/// Start of the quarter hour holding `ms` (epoch ms).
pub fn quarter_start(ms: i64) -> i64 {
    ms - ms.rem_euclid(QUARTER_MS)
}

/// A site to watch: id, demand-charge rates, the meters making up its total, its other devices.
pub type SiteSpec = (Id, Vec<Rate>, Vec<Id>, Vec<Id>);

/// The billing year's highest quarter hour so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakSoFar {
    /// Start of that quarter hour, epoch ms.
    pub quarter: i64,
    /// Its average power, W.
    pub w: f64,
    /// First local day of its billing year.
    pub year_start: NaiveDate,
}

/// How a quarter hour ended ([`PeakWatch::take_closed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closed {
    /// The site.
    pub site_index: usize,
    /// Start of the quarter hour, epoch ms.
    pub quarter: i64,
    /// Its average, W; `None` when a meter's readings are missing.
    pub avg_w: Option<f64>,
    /// It set a new peak.
    pub new_peak: bool,
    /// A warning was open during it, raised at this time (epoch ms).
    pub warned_at: Option<i64>,
}

impl Closed {
    /// The metric label: `new_peak`, `below` or `incomplete`.
    pub fn result(&self) -> &'static str {
        match (self.avg_w, self.new_peak) {
            (None, _) => "incomplete",
            (Some(_), true) => "new_peak",
            (Some(_), false) => "below",
        }
    }
}

/// One meter's part of the running quarter hour: energy (W·ms) and time measured.
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    wms: f64,
    covered: i64,
}

/// The warning open in a quarter hour.
#[derive(Debug, Clone, Copy)]
struct Warned {
    quarter: i64,
    since: i64,
    refreshed: i64,
}

/// A watched site.
#[derive(Debug, Clone)]
struct Watched {
    id: Id,
    rates: Vec<Rate>,
    contributors: Vec<Id>,
    /// Devices named as drawing most (sub-meters; the contributors when there are none).
    drawers: Vec<Id>,
    last: HashMap<Id, (i64, f64)>,
    /// Per contributor, its recent samples (time, W), oldest first, for the present power's mean.
    recent: HashMap<Id, VecDeque<(i64, f64)>>,
    peak: Option<PeakSoFar>,
    quarter: Option<i64>,
    parts: HashMap<Id, Part>,
    range: Option<(f64, f64)>,
    warned: Option<Warned>,
}

/// The peak watch of every site with a demand charge.
#[derive(Debug, Clone)]
pub struct PeakWatch {
    cfg: PeakConfig,
    tz: Tz,
    sites: Vec<Watched>,
    closed: Vec<Closed>,
    /// Samples older than the running quarter hour (arrived after it closed), ignored.
    pub late: u64,
}

impl PeakWatch {
    /// Watches the sites of `inv` with a demand charge; `contributors` names the devices making up a
    /// site's total.
    pub fn new(cfg: &PeakConfig, tz: Tz, inv: &Inventory, contributors: &dyn Fn(&Id) -> Vec<Id>) -> Self {
        let mut w = Self {
            cfg: cfg.clone(),
            tz,
            sites: Vec::new(),
            closed: Vec::new(),
            late: 0,
        };
        w.apply(inv, contributors);
        w
    }

    /// Follows a changed inventory: sites that gained a demand charge are watched, those that lost it (or
    /// left) are not; the others keep their peak and running quarter hour.
    pub fn apply(&mut self, inv: &Inventory, contributors: &dyn Fn(&Id) -> Vec<Id>) {
        let mut old: HashMap<Id, Watched> = self.sites.drain(..).map(|s| (s.id.clone(), s)).collect();
        for site in &inv.sites {
            let rates = price::rates(inv, &site.id);
            if rates.is_empty() || !self.cfg.enabled {
                continue;
            }
            let contributors = contributors(&site.id);
            let mut drawers: Vec<Id> = site
                .devices
                .iter()
                .map(|d| d.id.clone())
                .filter(|d| !contributors.contains(d))
                .collect();
            if drawers.is_empty() {
                drawers.clone_from(&contributors);
            }
            let w = match old.remove(&site.id) {
                Some(w) => Watched {
                    rates,
                    contributors,
                    drawers,
                    ..w
                },
                None => Watched {
                    id: site.id.clone(),
                    rates,
                    contributors,
                    drawers,
                    last: HashMap::new(),
                    recent: HashMap::new(),
                    peak: None,
                    quarter: None,
                    parts: HashMap::new(),
                    range: None,
                    warned: None,
                },
            };
            self.sites.push(w);
        }
    }

    /// A watch of explicit sites: `(site, rates, contributors, other devices)` (eval, tests).
    pub fn of_sites(cfg: &PeakConfig, tz: Tz, sites: Vec<SiteSpec>) -> Self {
        let sites = sites
            .into_iter()
            .map(|(id, rates, contributors, drawers)| Watched {
                id,
                rates,
                drawers: if drawers.is_empty() {
                    contributors.clone()
                } else {
                    drawers
                },
                contributors,
                last: HashMap::new(),
                recent: HashMap::new(),
                peak: None,
                quarter: None,
                parts: HashMap::new(),
                range: None,
                warned: None,
            })
            .collect();
        Self {
            cfg: cfg.clone(),
            tz,
            sites,
            closed: Vec::new(),
            late: 0,
        }
    }

    /// The watched sites' ids.
    pub fn sites(&self) -> impl Iterator<Item = &Id> {
        self.sites.iter().map(|s| &s.id)
    }

    /// The peak so far of `site`.
    pub fn peak(&self, site: &Id) -> Option<PeakSoFar> {
        self.sites.iter().find(|s| &s.id == site)?.peak
    }

    /// What the warm-up reads per watched site at `now` (epoch ms): the start of its current billing year
    /// (epoch ms) and the devices making up its total.
    pub fn warm_plan(&self, now: i64) -> Vec<(Id, i64, Vec<Id>)> {
        let date = local_date(self.tz, now);
        self.sites
            .iter()
            .filter_map(|s| {
                let first = price::at(&s.rates, date)?.year_start(date);
                let start = self
                    .tz
                    .from_local_datetime(&first.and_hms_opt(0, 0, 0)?)
                    .earliest()?
                    .timestamp_millis();
                Some((s.id.clone(), start, s.contributors.clone()))
            })
            .collect()
    }

    /// How the quarter hours closed since the last call.
    pub fn take_closed(&mut self) -> Vec<Closed> {
        std::mem::take(&mut self.closed)
    }

    /// Learns a past quarter hour's average of `site` (warm-up): the highest of the newest billing year
    /// becomes the peak so far. `false` when the site is not watched or has no rate on that day.
    pub fn warm(&mut self, site: &Id, quarter: i64, avg_w: f64) -> bool {
        let tz = self.tz;
        let Some(s) = self.sites.iter_mut().find(|s| &s.id == site) else {
            return false;
        };
        let date = local_date(tz, quarter);
        let Some(year_start) = price::at(&s.rates, date).map(|r| r.year_start(date)) else {
            return false;
        };
        let better = s
            .peak
            .is_none_or(|p| year_start > p.year_start || (year_start == p.year_start && avg_w > p.w));
        if better && avg_w.is_finite() {
            s.peak = Some(PeakSoFar {
                quarter,
                w: avg_w,
                year_start,
            });
        }
        true
    }

    /// Re-arms a peak alert open before a restart (raised at `since`); it closes with its quarter hour.
    /// `false` when the site is not watched.
    pub fn restore(&mut self, site: &Id, since: i64) -> bool {
        let Some(s) = self.sites.iter_mut().find(|s| &s.id == site) else {
            return false;
        };
        s.warned = Some(Warned {
            quarter: quarter_start(since),
            since,
            refreshed: since,
        });
        true
    }

    /// One power sample `w` (W) of `device` at `site`, time `ts` (epoch ms).
    pub fn power(&mut self, site: &Id, device: &Id, ts: i64, w: f64, out: &mut Vec<Signal>) {
        let Some(i) = self.sites.iter().position(|s| &s.id == site) else {
            return;
        };
        if !w.is_finite() {
            return;
        }
        if let Some(q) = self.sites[i].quarter
            && ts >= q + QUARTER_MS
        {
            self.close(i, out);
        }
        let max_gap = self.max_gap();
        let smoothing = self.cfg.smoothing.as_millis() as i64;
        let s = &mut self.sites[i];
        if s.quarter.is_some_and(|q| ts < q) {
            self.late += 1;
            return;
        }
        let q = *s.quarter.get_or_insert(quarter_start(ts));
        let contributor = s.contributors.contains(device);
        match s.last.get(device) {
            Some(&(t0, _)) if ts <= t0 => return,
            Some(&(t0, w0)) if contributor && ts - t0 <= max_gap => {
                let a = t0.max(q);
                let p = s.parts.entry(device.clone()).or_default();
                p.wms += w0 * (ts - a) as f64;
                p.covered += ts - a;
            }
            _ => {}
        }
        if contributor {
            let ring = s.recent.entry(device.clone()).or_default();
            if ring.back().is_some_and(|&(t0, _)| ts - t0 > max_gap) {
                ring.clear();
            }
            ring.push_back((ts, w));
            // Keep the newest sample before the window: it bounds the oldest one's stretch.
            while ring.len() > RING || ring.get(1).is_some_and(|&(t1, _)| t1 <= ts - smoothing) {
                ring.pop_front();
            }
        }
        s.last.insert(device.clone(), (ts, w));
        if contributor {
            if let Some(total) = total_now(s, ts, max_gap) {
                let r = s.range.get_or_insert((total, total));
                *r = (r.0.min(total), r.1.max(total));
            }
            self.evaluate(i, ts, out);
        }
    }

    /// Time passes: quarter hours `settle` past their end close; a restored warning whose quarter hour
    /// is over clears.
    pub fn tick(&mut self, now: i64, out: &mut Vec<Signal>) {
        let settle = self.cfg.settle.as_millis() as i64;
        for i in 0..self.sites.len() {
            if let Some(q) = self.sites[i].quarter
                && now >= q + QUARTER_MS + settle
            {
                self.close(i, out);
            }
            let s = &mut self.sites[i];
            if let Some(w) = s.warned
                && s.quarter.is_none()
                && now >= w.quarter + QUARTER_MS + settle
            {
                s.warned = None;
                out.push(Signal {
                    kind: AlertKind::Peak,
                    site: s.id.clone(),
                    subject: Subject::default(),
                    at: utc(w.quarter + QUARTER_MS),
                    change: Change::Clear {
                        reason: format!("the quarter hour {} ended", span(self.tz, w.quarter)),
                    },
                });
            }
        }
    }

    fn max_gap(&self) -> i64 {
        self.cfg.max_gap.as_millis() as i64
    }

    /// Closes the running quarter hour of site `i` at its end.
    fn close(&mut self, i: usize, out: &mut Vec<Signal>) {
        let max_gap = self.max_gap();
        let tz = self.tz;
        let span = self.sites[i].quarter.map(|q| span(tz, q)).unwrap_or_default();
        let s = &mut self.sites[i];
        let Some(q) = s.quarter.take() else { return };
        let end = q + QUARTER_MS;
        let mut complete = true;
        let mut wms = 0.0;
        for c in &s.contributors {
            let mut p = s.parts.get(c).copied().unwrap_or_default();
            if let Some(&(t0, w0)) = s.last.get(c)
                && t0 < end
                && end - t0 <= max_gap
            {
                let a = t0.max(q);
                p.wms += w0 * (end - a) as f64;
                p.covered += end - a;
            }
            complete &= p.covered >= QUARTER_MS - max_gap;
            wms += p.wms;
        }
        s.parts.clear();
        s.range = None;
        let avg = (complete && !s.contributors.is_empty()).then(|| wms / QUARTER_MS as f64);
        let date = local_date(tz, q);
        let year_start = price::at(&s.rates, date).map(|r| r.year_start(date));
        let before = s.peak.filter(|p| Some(p.year_start) == year_start);
        let new_peak = match (avg, year_start) {
            (Some(a), Some(y)) if before.is_none_or(|p| a > p.w) => {
                s.peak = Some(PeakSoFar {
                    quarter: q,
                    w: a,
                    year_start: y,
                });
                true
            }
            _ => false,
        };
        let warned = s.warned.filter(|w| w.quarter == q);
        self.closed.push(Closed {
            site_index: i,
            quarter: q,
            avg_w: avg,
            new_peak,
            warned_at: warned.map(|w| w.since),
        });
        if s.warned.take().is_none() {
            return;
        }
        let reason = match (avg, before) {
            (None, _) => format!(
                "the quarter hour {span} ended; a meter's readings are missing, so its average is unknown"
            ),
            (Some(a), Some(p)) if new_peak => format!(
                "the quarter hour {span} ended at {}, a new peak (was {})",
                kw(a),
                kw(p.w)
            ),
            (Some(a), _) if new_peak => format!("the quarter hour {span} ended at {}, a new peak", kw(a)),
            (Some(a), p) => format!(
                "the quarter hour {span} ended at {}, below the peak of {}",
                kw(a),
                kw(p.map_or(0.0, |p| p.w))
            ),
        };
        out.push(Signal {
            kind: AlertKind::Peak,
            site: s.id.clone(),
            subject: Subject::default(),
            at: utc(end),
            change: Change::Clear { reason },
        });
    }

    /// Forecasts the running quarter hour of site `i` at `now` and raises or refreshes the warning.
    fn evaluate(&mut self, i: usize, now: i64, out: &mut Vec<Signal>) {
        let (max_gap, tz) = (self.max_gap(), self.tz);
        let min_elapsed = self.cfg.min_elapsed.as_millis() as i64;
        let smoothing = self.cfg.smoothing.as_millis() as i64;
        let refresh = self.cfg.refresh.as_millis() as i64;
        let margin = self.cfg.margin_percent / 100.0;
        let top = self.cfg.top_devices;
        let s = &self.sites[i];
        let Some(q) = s.quarter else { return };
        let end = q + QUARTER_MS;
        let left = (end - now).max(0);
        let date = local_date(tz, q);
        let Some(rate) = price::at(&s.rates, date) else {
            return;
        };
        let Some(peak) = s.peak.filter(|p| p.year_start == rate.year_start(date)) else {
            return;
        };
        // Per meter: measured energy, held to now, extrapolated with its present (smoothed) power.
        let (mut forecast, mut power_now) = (0.0, 0.0);
        for c in &s.contributors {
            let Some(&(t0, w0)) = s.last.get(c).filter(|(t0, _)| now - t0 <= max_gap) else {
                return;
            };
            let p = s.parts.get(c).copied().unwrap_or_default();
            let held = (now - t0.max(q)).max(0);
            let (wms, covered) = (p.wms + w0 * held as f64, p.covered + held);
            if covered < min_elapsed || covered + left == 0 {
                return;
            }
            let present = s
                .recent
                .get(c)
                .and_then(|r| smoothed(r, now, smoothing))
                .unwrap_or(w0);
            forecast += (wms + present * left as f64) / (covered + left) as f64;
            power_now += present;
        }
        let threshold = peak.w * (1.0 + margin);
        let warned = s.warned.filter(|w| w.quarter == q);
        let due = match warned {
            None => forecast > threshold,
            Some(w) => now - w.refreshed >= refresh,
        };
        if !due {
            return;
        }
        let (lo, hi) = s.range.unwrap_or((power_now, power_now));
        let share = left as f64 / QUARTER_MS as f64;
        let band = (
            forecast + (lo - power_now) * share,
            forecast + (hi - power_now) * share,
        );
        let mut drawing: Vec<(f64, &Id)> = s
            .drawers
            .iter()
            .filter_map(|d| {
                let &(t0, w) = s.last.get(d)?;
                (now - t0 <= max_gap && w > 0.0).then_some((w, d))
            })
            .collect();
        drawing.sort_by(|a, b| b.0.total_cmp(&a.0));
        let drawing: Vec<String> = drawing
            .iter()
            .take(top)
            .map(|(w, d)| format!("{d} {}", kw(*w)))
            .collect();
        let local = |ms: i64| tz.from_utc_datetime(&utc(ms).naive_utc());
        let extra_kw = (forecast - peak.w) / 1000.0;
        let cost = extra_kw * rate.per_kw_year;
        let lead = if forecast > threshold {
            format!(
                "forecast to average {} ({}–{} if the load stays within this quarter hour's range), above the \
                 {} peak so far of {} ({}): +{:.1} kW would add {} net demand charge ({:.2} {}/kW a year)",
                kw(forecast),
                kw(band.0),
                kw(band.1),
                rate.year_start(date).format("%Y"),
                kw(peak.w),
                local(peak.quarter).format("%Y-%m-%d %H:%M"),
                extra_kw,
                money(cost, &rate.currency),
                rate.per_kw_year,
                rate.currency
            )
        } else {
            format!(
                "forecast now to average {}, below the peak so far of {}",
                kw(forecast),
                kw(peak.w)
            )
        };
        let text = format!(
            "quarter hour {} {lead}; {} left; drawing most now: {}",
            span(tz, q),
            duration(left),
            if drawing.is_empty() {
                "no device reports".to_string()
            } else {
                drawing.join(", ")
            }
        );
        let since = warned.map_or(now, |w| w.since);
        let severity = if band.0 > threshold {
            Severity::Critical
        } else {
            Severity::Warning
        };
        out.push(Signal {
            kind: AlertKind::Peak,
            site: s.id.clone(),
            subject: Subject::default(),
            at: utc(now),
            change: Change::Raise {
                severity,
                explanation: Explanation {
                    observed: round(forecast / 1000.0),
                    expected: round(peak.w / 1000.0),
                    threshold: round(threshold / 1000.0),
                    unit: "kW".into(),
                    baseline: format!(
                        "{} peak so far (15-minute average of {})",
                        rate.year_start(date).format("%Y"),
                        local(peak.quarter).format("%Y-%m-%d %H:%M")
                    ),
                    since: utc(since),
                    text,
                },
            },
        });
        self.sites[i].warned = Some(Warned {
            quarter: q,
            since,
            refreshed: now,
        });
    }
}

/// A meter's time-weighted mean power over `[now - window, now]` from its recent samples, each standing for
/// the stretch since the one before; the latest sample when the window holds no stretch (`window` 0, a
/// single sample); `None` without samples.
fn smoothed(ring: &VecDeque<(i64, f64)>, now: i64, window: i64) -> Option<f64> {
    let from = now - window;
    let (mut wms, mut ms) = (0.0, 0i64);
    for (&(t0, _), &(t1, w1)) in ring.iter().zip(ring.iter().skip(1)) {
        let stretch = (t1.min(now) - t0.max(from)).max(0);
        wms += w1 * stretch as f64;
        ms += stretch;
    }
    let &(_, latest) = ring.back()?;
    Some(if ms == 0 { latest } else { wms / ms as f64 })
}

/// The site total now: the sum of its meters' latest samples, if every one is recent.
fn total_now(s: &Watched, now: i64, max_gap: i64) -> Option<f64> {
    s.contributors
        .iter()
        .map(|c| s.last.get(c).filter(|(t0, _)| now - t0 <= max_gap).map(|x| x.1))
        .sum()
}

/// "07:00–07:15" in local time.
fn span(tz: Tz, q: i64) -> String {
    let t = |ms: i64| tz.from_utc_datetime(&utc(ms).naive_utc()).format("%H:%M");
    format!("{}–{}", t(q), t(q + QUARTER_MS))
}

fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    tz.from_utc_datetime(&utc(ms).naive_utc()).date_naive()
}

/// "182.4 kW".
fn kw(w: f64) -> String {
    format!("{:.1} kW", w / 1000.0)
}

/// "3,564.00 EUR".
fn money(x: f64, currency: &str) -> String {
    let s = format!("{:.2}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{grouped}.{frac} {currency}")
}
