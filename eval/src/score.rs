//! Scoring an evaluation run against the scenario's labels, and the Markdown report.

use std::collections::{BTreeMap, HashMap};

use std::io::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::Id;
use zw_model::alert::AlertKind;
use zw_model::tree::{FaultKind, TreeStatus};
use zw_sim::scenario::{IncidentKind, Scenario};

use crate::is_energy;

mod markdown;
mod trees;

/// One alert occurrence (from opening to resolution).
#[derive(Debug, Clone)]
pub struct Occurrence {
    pub kind: AlertKind,
    pub site: Id,
    pub device: Option<Id>,
    pub tree: Option<Id>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub text: String,
}

/// The headline figures of one seed.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The scenario seed.
    pub seed: u64,
    /// Energy alert precision.
    pub precision: f64,
    /// Energy incident recall.
    pub recall: f64,
    /// Median time to detect, minutes (baseload creep apart).
    pub ttd_min: f64,
    /// Most openings of one alert during one incident.
    pub max_opens: usize,
    /// Matching energy alerts, energy alerts.
    pub energy: (usize, usize),
    /// Detected incidents, incidents.
    pub incidents: (usize, usize),
    /// Every time to detect, minutes.
    pub ttds: Vec<f64>,
    /// Days-until-critical MAE at 3 ± 0.5 days.
    pub mae: f64,
    /// Every scored forecast error, days.
    pub forecast_errors: Vec<f64>,
    /// Scored moments without a forecast.
    pub forecast_missing: usize,
    /// The same forecast scoring for the detectors without the weather feed (trend only).
    pub mae_trend: f64,
    /// Their forecast errors, days.
    pub forecast_errors_trend: Vec<f64>,
    /// Watering alerts caused by sensor faults.
    pub water_fault_fp: usize,
    /// Watering alerts with true need, all watering alerts.
    pub water: (usize, usize),
    /// Quiet building-days (the negatives of a scenario) with an energy alert, quiet building-days.
    pub quiet: (usize, usize),
    /// Whether every target is met.
    pub targets_met: bool,
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Report {
    pub(crate) alerts: Vec<Occurrence>,
    pub(crate) readings: u64,
    pub(crate) seconds: f64,
    within: f64,
    title: String,
    forecast_errors: Vec<f64>,
    forecast_errors_rain: Vec<f64>,
    forecast_errors_fault: Vec<f64>,
    forecast_missing: usize,
    /// Forecast errors of the same detectors without the weather feed (the trend forecast).
    forecast_errors_trend: Vec<f64>,
    forecast_missing_trend: usize,
    /// Share of the scored forecasts that rested on the ET0 forecast (all sensors of the tree).
    forecast_et0: (usize, usize),
    energy_alerts: usize,
    energy_matched: usize,
    /// Quiet building-days with an energy alert, quiet building-days: the scenario's negatives.
    quiet: (usize, usize),
    learning_alerts: usize,
    incidents: BTreeMap<String, (usize, usize)>,
    ttd_min: Vec<f64>,
    creep_ttd_days: Vec<f64>,
    opens: Vec<usize>,
    water_alerts: usize,
    water_fp: usize,
    water_fault_fp: usize,
    episodes: (usize, usize),
    faults: BTreeMap<String, (usize, usize)>,
    maint: (usize, usize),
    unmatched: Vec<usize>,
    fault_notes: Vec<String>,
    missed: Vec<String>,
    flaps: Vec<String>,
    learning: Vec<usize>,
    water_fp_rain: usize,
    water_fp_near_fault: usize,
    trend_window: TimeDelta,
    /// Watering alerts (tree, opened, resolved) on the same park with every sensor working.
    pub(crate) counterfactual_water: Vec<(Id, DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// Watering alerts without need near a sensor fault that the working sensors raised too.
    water_fault_near_not_caused: usize,
    /// Common-cause notices that started: when, and what they said.
    pub(crate) notices: Vec<(DateTime<Utc>, String)>,
    /// `ZW_EVAL_FORECAST=<file>`: every scored forecast as CSV (seed, tree, time, truth, forecast, hours
    /// since the last wetting, sensors), for studying the error.
    forecast_dump: Option<std::io::BufWriter<std::fs::File>>,
}

pub(crate) fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

pub(crate) fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Report {
    /// An empty report for `scenario` scored with `cfg`.
    pub fn new(s: &Scenario, cfg: &zw_analytics::Config) -> Self {
        let c = &s.config;
        Self {
            within: cfg.trees.alert_within_days,
            trend_window: TimeDelta::from_std(cfg.trees.trend_window).unwrap_or(TimeDelta::days(4)),
            title: format!(
                "seed {}, {} buildings, {} trees, {} + {} weeks from {}",
                c.seed,
                c.buildings,
                c.trees,
                c.learn_weeks,
                c.eval_weeks,
                c.start.format("%Y-%m-%d")
            ),
            forecast_dump: std::env::var("ZW_EVAL_FORECAST")
                .ok()
                .and_then(|p| std::fs::File::create(format!("{p}.{}", c.seed)).ok())
                .map(std::io::BufWriter::new),
            ..Self::default()
        }
    }

    /// Scores one tree status of the detectors without the weather feed, like [`Report::tree_status`]
    /// (dry spells with trusted sensors only), so both forecasts are judged on the same moments.
    pub fn trend_status(&mut self, s: &Scenario, st: &TreeStatus, now: DateTime<Utc>) {
        if let Some(Moment::Scored(truth)) = moment(s, st, now) {
            match st.days_until_critical {
                Some(f) => self.forecast_errors_trend.push((f - truth).abs()),
                None => self.forecast_missing_trend += 1,
            }
        }
    }

    /// Scores one tree status: the forecast of trees truly 3 ± 0.5 days from critical.
    pub fn tree_status(&mut self, s: &Scenario, st: &TreeStatus, now: DateTime<Utc>) {
        let truth = match moment(s, st, now) {
            None => return,
            Some(Moment::Rain(truth)) => {
                if let Some(f) = st.days_until_critical {
                    self.forecast_errors_rain.push((f - truth).abs());
                }
                return;
            }
            Some(Moment::Fault(truth)) => {
                if let Some(f) = st.days_until_critical {
                    self.forecast_errors_fault.push((f - truth).abs());
                }
                return;
            }
            Some(Moment::Scored(truth)) => truth,
        };
        match st.days_until_critical {
            Some(f) => self.forecast_errors.push((f - truth).abs()),
            None => self.forecast_missing += 1,
        }
        let et0 = st
            .forecast
            .as_ref()
            .is_some_and(|f| f.method == zw_model::tree::ForecastMethod::Et0);
        self.forecast_et0.0 += usize::from(et0);
        self.forecast_et0.1 += 1;
        if let Some(w) = self.forecast_dump.as_mut() {
            // Hours since the tree last got wetter (any depth), up to the trend window.
            let dry_h = (1..=240)
                .take_while(|h| s.dries_throughout(&st.tree, now - TimeDelta::hours(*h), now))
                .last()
                .unwrap_or(0);
            let sensors: Vec<String> = st
                .sensors
                .iter()
                .map(|x| {
                    format!(
                        "{}:{}:{:?}:{:?}",
                        x.device,
                        if x.tension_kpa.is_some() { "kpa" } else { "vwc" },
                        x.dryness,
                        x.days_until_critical
                    )
                })
                .collect();
            let _ = writeln!(
                w,
                "{},{},{},{:.3},{},{dry_h},{}",
                s.config.seed,
                st.tree,
                now.format("%Y-%m-%dT%H:%M"),
                truth,
                st.days_until_critical.map_or("".into(), |f| format!("{f:.3}")),
                sensors.join(" ")
            );
        }
    }

    /// Records a fleet-wide notice (not an alert: not scored, listed for honesty).
    pub fn notice(&mut self, n: &zw_analytics::energy::Notice, now: DateTime<Utc>) {
        if n.started {
            self.notices.push((now, n.text.clone()));
        }
    }

    /// Matches alerts to labels once the replay is done.
    pub fn finish(&mut self, s: &Scenario) {
        self.score_energy(s);
        self.score_trees(s);
    }

    fn score_energy(&mut self, s: &Scenario) {
        let mut first: HashMap<usize, DateTime<Utc>> = HashMap::new();
        let mut opens: HashMap<(usize, String), usize> = HashMap::new();
        for (k, o) in self.alerts.iter().enumerate().filter(|(_, o)| is_energy(o.kind)) {
            if o.opened_at < s.learn_until {
                self.learning_alerts += 1;
                self.learning.push(k);
                continue;
            }
            self.energy_alerts += 1;
            let tol = if o.kind == AlertKind::Baseload {
                TimeDelta::hours(12)
            } else {
                TimeDelta::hours(2)
            };
            let hits: Vec<usize> = (0..s.incidents.len())
                .filter(|&i| {
                    let inc = &s.incidents[i];
                    let who = o
                        .device
                        .as_ref()
                        .map_or(o.site == inc.site, |d| inc.devices.contains(d));
                    who && o.opened_at >= inc.start - TimeDelta::minutes(30) && o.opened_at <= inc.end + tol
                })
                .collect();
            if hits.is_empty() {
                self.unmatched.push(k);
                continue;
            }
            self.energy_matched += 1;
            for &i in &hits {
                let f = first.entry(i).or_insert(o.opened_at);
                *f = (*f).min(o.opened_at);
            }
            // For flaps, an opening belongs to one incident: the one that started last before it (a
            // three-week creep must not claim the alerts of a heater that got stuck meanwhile).
            if let Some(&i) = hits.iter().max_by_key(|&&i| s.incidents[i].start) {
                let alert = format!("{:?}/{}/{:?}", o.kind, o.site, o.device);
                *opens.entry((i, alert)).or_default() += 1;
            }
        }
        for (i, inc) in s.incidents.iter().enumerate() {
            let e = self.incidents.entry(format!("{:?}", inc.kind)).or_default();
            e.0 += 1;
            if !first.contains_key(&i) {
                self.missed.push(format!(
                    "{:?} {} {:?} {} to {}",
                    inc.kind, inc.site, inc.devices, inc.start, inc.end
                ));
            }
            if let Some(t) = first.get(&i) {
                e.1 += 1;
                let ttd = (*t - inc.start).num_seconds().max(0) as f64;
                if inc.kind == IncidentKind::BaseloadCreep {
                    self.creep_ttd_days.push(ttd / 86_400.0);
                } else {
                    self.ttd_min.push(ttd / 60.0);
                }
            }
        }
        for ((i, alert), n) in &opens {
            if *n > 1 {
                let inc = &s.incidents[*i];
                self.flaps.push(format!(
                    "{alert} opened {n} times during {:?} {} to {}",
                    inc.kind, inc.start, inc.end
                ));
            }
        }
        self.opens = opens.into_values().collect();
        self.score_quiet_days(s);
    }

    /// The scenario's negatives: every day of the evaluation weeks (24 h from the end of learning) at a
    /// building or household that no incident touches (from 30 min before its start to 12 h after its end:
    /// the matching tolerance). Holidays, weekends, cold mornings and routines fall on such days; any energy
    /// alert opened on one is a false alarm on a negative.
    fn score_quiet_days(&mut self, s: &Scenario) {
        let sites = s
            .inventory
            .sites
            .iter()
            .filter(|x| x.kind != zw_model::inventory::SiteKind::Park);
        for site in sites {
            let mut day = s.learn_until;
            while day < s.end {
                let next = day + TimeDelta::days(1);
                let touched = s.incidents.iter().any(|i| {
                    i.site == site.id
                        && i.start - TimeDelta::minutes(30) < next
                        && i.end + TimeDelta::hours(12) > day
                });
                if !touched {
                    self.quiet.1 += 1;
                    let alarmed = self.alerts.iter().any(|o| {
                        is_energy(o.kind) && o.site == site.id && o.opened_at >= day && o.opened_at < next
                    });
                    self.quiet.0 += usize::from(alarmed);
                }
                day = next;
            }
        }
    }

    /// The headline figures of this run, for the multi-seed table.
    pub fn summary(&self, seed: u64) -> Summary {
        let (precision, recall, ttd_min, max_opens) = self.energy();
        let (incidents, detected) = self
            .incidents
            .values()
            .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        Summary {
            seed,
            precision,
            recall,
            ttd_min,
            max_opens,
            energy: (self.energy_matched, self.energy_alerts),
            incidents: (detected, incidents),
            ttds: self.ttd_min.clone(),
            mae: self.mae(),
            forecast_errors: self.forecast_errors.clone(),
            forecast_missing: self.forecast_missing,
            mae_trend: mean(&self.forecast_errors_trend),
            forecast_errors_trend: self.forecast_errors_trend.clone(),
            water_fault_fp: self.water_fault_fp,
            water: (self.water_alerts - self.water_fp, self.water_alerts),
            quiet: self.quiet,
            targets_met: self.targets_met(),
        }
    }

    fn energy(&self) -> (f64, f64, f64, usize) {
        let (n, d) = self
            .incidents
            .values()
            .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        let mut ttd = self.ttd_min.clone();
        (
            ratio(self.energy_matched, self.energy_alerts),
            ratio(d, n),
            median(&mut ttd),
            self.opens.iter().copied().max().unwrap_or(0),
        )
    }

    fn mae(&self) -> f64 {
        self.forecast_errors.iter().sum::<f64>() / self.forecast_errors.len().max(1) as f64
    }

    /// Whether every target of issue 6 is met.
    pub fn targets_met(&self) -> bool {
        let (p, r, ttd, opens) = self.energy();
        p >= 0.95 && r >= 0.95 && ttd <= 15.0 && opens <= 1 && self.mae() <= 0.5 && self.water_fault_fp == 0
    }
}

/// What a forecast moment of a tree counts as, with the true days until critical: trees truly 3 ± 0.5
/// days from critical only; those where rain or watering comes first, or with a faulty sensor (its depth
/// hidden from the detector while the truth counts it), are kept apart from the scored ones.
enum Moment {
    Scored(f64),
    Rain(f64),
    Fault(f64),
}

fn moment(s: &Scenario, st: &TreeStatus, now: DateTime<Utc>) -> Option<Moment> {
    let truth = s
        .true_days_until_critical(&st.tree, now, 3.5)
        .filter(|d| *d >= 2.5)?;
    if !s.dries_throughout(&st.tree, now, now + TimeDelta::minutes((truth * 1440.0) as i64)) {
        return Some(Moment::Rain(truth));
    }
    let untrusted = st
        .sensors
        .iter()
        .any(|x| x.fault.is_some_and(|f| f != FaultKind::LowBattery));
    Some(if untrusted {
        Moment::Fault(truth)
    } else {
        Moment::Scored(truth)
    })
}
