//! Scoring the alerts and tree forecasts of an external replay against its labels.
//!
//! An alert *concerns* a label's subject when the subject is the alert's tree, device or site, a device
//! whose site-level alert it is (the building's total sees the device), or a tree whose sensor the
//! maintenance alert names. It *matches* a label when it concerns it, has a fitting kind and opened in the
//! label's window:
//!
//! | label kind | alert kinds | opened between |
//! |---|---|---|
//! | `high_consumption`, `left_on` | any energy kind | start − 30 min and end + 2 h |
//! | `baseload` | any energy kind | start − 30 min and end + 12 h |
//! | `watering_need` | tree water | start − (alert_within_days + 0.25) d − 12 h and end + 2 h |
//! | `sensor_fault` | sensor fault | start − 1 h and end + 4 h |
//!
//! as in the seeded scoring (an energy alert at a labelled energy incident is no false alarm, whichever
//! detector raised it). A watering need also counts as detected when a watering alert was open over it
//! (opened by its end, resolved no earlier than alert_within_days + 0.5 d before its start), as the seeded
//! scoring counts a critical episode covered. Energy alerts and labels before `learn_until` are not scored (the learned normal
//! needs weeks). Any alert concerning a `negative` label's subject and opened within it is a false alarm.
//! The days-until-critical forecast is scored against the labels where a tree is 3 ± 0.5 days before the
//! start of its next `watering_need` and past the end of the previous one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::alert::AlertKind;
use zw_model::{Id, Inventory};

use super::load::{Label, LabelKind};
use crate::score::{Occurrence, mean, median};

/// Per label kind: alerts, matching alerts, labels, detected labels and the times to detect (minutes).
#[derive(Debug, Default, Clone)]
pub struct KindScore {
    /// Scored alerts of the kind (for energy labels: every energy alert counts under each kind it matches
    /// and under its own kind).
    pub alerts: usize,
    /// Of them, matching a label.
    pub matched: usize,
    /// Scored labels.
    pub labels: usize,
    /// Of them, with a matching alert.
    pub detected: usize,
    /// First matching alert minus label start, minutes (negative: before the start).
    pub ttd_min: Vec<f64>,
}

/// The figures against the labels.
#[derive(Debug, Default)]
pub struct Scored {
    /// Per label kind (without `negative`).
    pub kinds: BTreeMap<LabelKind, KindScore>,
    /// Energy alerts (scored), of them matching an energy label.
    pub energy: (usize, usize),
    /// Negative labels, of them with an alert; alerts on negatives.
    pub negatives: (usize, usize, usize),
    /// Watering alerts opened while a sensor of the tree had a labelled fault and matching no need.
    pub water_fault_fp: usize,
    /// Forecast errors (days) against the labels at 3 ± 0.5 days.
    pub forecast_errors: Vec<f64>,
    /// Moments scored for the forecast that had none.
    pub forecast_missing: usize,
    /// Labels naming nothing in the inventory (line, subject).
    pub unknown: Vec<(u64, String)>,
    /// Labels within the learning period (not scored).
    pub learning_labels: usize,
    /// Alerts matching no label (index into the alerts).
    pub unmatched: Vec<usize>,
    /// Alerts on a negative label: alert index, the label's line.
    pub false_alarms: Vec<(usize, u64)>,
    /// Labels no alert matched (line).
    pub missed: Vec<u64>,
}

fn concerns(subject: &str, a: &Occurrence, inv: &Inventory) -> bool {
    let is = |x: &Option<Id>| x.as_ref().is_some_and(|x| x.as_str() == subject);
    if is(&a.tree) || is(&a.device) || a.site.as_str() == subject {
        return true;
    }
    let site_alert_at_device =
        a.device.is_none() && a.tree.is_none() && inv.device(subject).is_some_and(|(s, _)| s.id == a.site);
    let sensor_of_tree = a.device.as_ref().is_some_and(|d| {
        inv.trees
            .iter()
            .any(|t| t.id.as_str() == subject && t.sensors.contains(d))
    });
    site_alert_at_device || sensor_of_tree
}

fn is_energy(k: AlertKind) -> bool {
    crate::replay::is_energy(k)
}

/// Whether `a` matches `l` (see the module doc).
fn matches(l: &Label, a: &Occurrence, inv: &Inventory, within_days: f64) -> bool {
    let (before, after, kind_fits) = match l.kind {
        LabelKind::HighConsumption | LabelKind::LeftOn => {
            (TimeDelta::minutes(30), TimeDelta::hours(2), is_energy(a.kind))
        }
        LabelKind::Baseload => (TimeDelta::minutes(30), TimeDelta::hours(12), is_energy(a.kind)),
        LabelKind::WateringNeed => (
            TimeDelta::minutes(((within_days + 0.25) * 1440.0) as i64) + TimeDelta::hours(12),
            TimeDelta::hours(2),
            a.kind == AlertKind::TreeWater,
        ),
        LabelKind::SensorFault => (
            TimeDelta::hours(1),
            TimeDelta::hours(4),
            a.kind == AlertKind::SensorFault,
        ),
        LabelKind::Negative => return false,
    };
    kind_fits
        && a.opened_at >= l.start - before
        && a.opened_at <= l.end + after
        && concerns(&l.subject, a, inv)
}

/// Whether a watering alert was open over a labelled need (from the alert lead before it to its end), as
/// the seeded scoring counts a critical episode covered: an alert that opened too early still covers it.
fn covers(l: &Label, a: &Occurrence, inv: &Inventory, within_days: f64) -> bool {
    let lead = TimeDelta::minutes(((within_days + 0.5) * 1440.0) as i64);
    l.kind == LabelKind::WateringNeed
        && a.kind == AlertKind::TreeWater
        && a.opened_at <= l.end
        && a.resolved_at.is_none_or(|r| r >= l.start - lead)
        && concerns(&l.subject, a, inv)
}

/// The label kind an alert kind is counted under.
fn label_kind(k: AlertKind) -> Option<LabelKind> {
    Some(match k {
        AlertKind::HighConsumption => LabelKind::HighConsumption,
        AlertKind::Baseload => LabelKind::Baseload,
        AlertKind::LeftOn => LabelKind::LeftOn,
        AlertKind::TreeWater => LabelKind::WateringNeed,
        AlertKind::SensorFault => LabelKind::SensorFault,
        _ => return None,
    })
}

/// Scores `alerts` and the tree `forecasts` (time, tree, days until critical) against `labels`.
pub fn score(
    labels: &[Label],
    alerts: &[Occurrence],
    forecasts: &[(DateTime<Utc>, Id, Option<f64>)],
    inv: &Inventory,
    learn_until: DateTime<Utc>,
    within_days: f64,
) -> Scored {
    let mut s = Scored::default();
    let known = |x: &str| {
        inv.site(x).is_some() || inv.device(x).is_some() || inv.trees.iter().any(|t| t.id.as_str() == x)
    };
    let mut scored: Vec<&Label> = Vec::new();
    for l in labels {
        if !known(&l.subject) {
            s.unknown.push((l.line, l.subject.clone()));
        } else if l.kind.is_energy() && l.start < learn_until {
            s.learning_labels += 1;
        } else {
            scored.push(l);
        }
    }
    let counted = |a: &Occurrence| !(is_energy(a.kind) && a.opened_at < learn_until);
    for (i, a) in alerts.iter().enumerate().filter(|(_, a)| counted(a)) {
        let Some(kind) = label_kind(a.kind) else { continue };
        let hit = scored.iter().any(|l| matches(l, a, inv, within_days));
        let e = s.kinds.entry(kind).or_default();
        e.alerts += 1;
        e.matched += usize::from(hit);
        if is_energy(a.kind) {
            s.energy.1 += 1;
            s.energy.0 += usize::from(hit);
        }
        if !hit {
            s.unmatched.push(i);
        }
        for l in scored.iter().filter(|l| l.kind == LabelKind::Negative) {
            if concerns(&l.subject, a, inv) && a.opened_at >= l.start && a.opened_at <= l.end {
                s.false_alarms.push((i, l.line));
            }
        }
        if a.kind == AlertKind::TreeWater && !hit {
            let faulty = scored.iter().any(|l| {
                l.kind == LabelKind::SensorFault
                    && a.opened_at >= l.start
                    && a.opened_at <= l.end + TimeDelta::days(1)
                    && a.tree.as_ref().is_some_and(|t| {
                        l.subject == t.as_str()
                            || inv
                                .trees
                                .iter()
                                .any(|x| &x.id == t && x.sensors.iter().any(|d| d.as_str() == l.subject))
                    })
            });
            s.water_fault_fp += usize::from(faulty);
        }
    }
    for l in &scored {
        if l.kind == LabelKind::Negative {
            s.negatives.0 += 1;
            s.negatives.1 += usize::from(s.false_alarms.iter().any(|(_, line)| *line == l.line));
            continue;
        }
        let e = s.kinds.entry(l.kind).or_default();
        e.labels += 1;
        let first = alerts
            .iter()
            .filter(|a| counted(a) && (matches(l, a, inv, within_days) || covers(l, a, inv, within_days)))
            .map(|a| a.opened_at)
            .min();
        match first {
            Some(t) => {
                e.detected += 1;
                e.ttd_min.push((t - l.start).num_seconds() as f64 / 60.0);
            }
            None => s.missed.push(l.line),
        }
    }
    s.negatives.2 = s.false_alarms.len();
    score_forecasts(&mut s, &scored, forecasts);
    s
}

/// The forecast at moments 3 ± 0.5 days before a labelled need, after the previous need ended.
fn score_forecasts(s: &mut Scored, labels: &[&Label], forecasts: &[(DateTime<Utc>, Id, Option<f64>)]) {
    type Spans = Vec<(DateTime<Utc>, DateTime<Utc>)>;
    let mut needs: BTreeMap<&str, Spans> = BTreeMap::new();
    for l in labels.iter().filter(|l| l.kind == LabelKind::WateringNeed) {
        needs
            .entry(l.subject.as_str())
            .or_default()
            .push((l.start, l.end));
    }
    needs.values_mut().for_each(|v| v.sort());
    for (t, tree, f) in forecasts {
        let Some(spans) = needs.get(tree.as_str()) else {
            continue;
        };
        let Some(next) = spans.iter().position(|(start, _)| *start > *t) else {
            continue;
        };
        if next > 0 && spans[next - 1].1 > *t {
            continue;
        }
        let truth = (spans[next].0 - *t).num_seconds() as f64 / 86_400.0;
        if !(2.5..=3.5).contains(&truth) {
            continue;
        }
        match f {
            Some(f) => s.forecast_errors.push((f - truth).abs()),
            None => s.forecast_missing += 1,
        }
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn fmt(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

impl Scored {
    /// Energy precision and recall, watering precision and recall (`None`: nothing to score).
    pub fn headline(&self) -> [Option<f64>; 4] {
        let (mut det, mut n) = (0, 0);
        for (_, k) in self.kinds.iter().filter(|(k, _)| k.is_energy()) {
            det += k.detected;
            n += k.labels;
        }
        let w = self
            .kinds
            .get(&LabelKind::WateringNeed)
            .cloned()
            .unwrap_or_default();
        [
            ratio(self.energy.0, self.energy.1),
            ratio(det, n),
            ratio(w.matched, w.alerts),
            ratio(w.detected, w.labels),
        ]
    }

    /// The targets of issue 22 on external data: precision and recall ≥ 0.95 for energy and watering
    /// (where there is something to score), no alert on a negative, no watering alert from a sensor fault.
    pub fn targets_met(&self) -> bool {
        self.headline().iter().all(|x| x.is_none_or(|x| x >= 0.95))
            && self.negatives.2 == 0
            && self.water_fault_fp == 0
    }

    /// The figures as Markdown; `alerts` to name the false alarms.
    pub fn markdown(&self, alerts: &[Occurrence], verbose: bool) -> String {
        let ok = |b: bool| if b { "✅" } else { "❌" };
        let okf = |x: Option<f64>| ok(x.is_none_or(|x| x >= 0.95));
        let [ep, er, wp, wr] = self.headline();
        let mut o = String::new();
        let _ = writeln!(o, "| Measure | Value | Target | |\n|---|---|---|---|");
        let _ = writeln!(
            o,
            "| Energy alert precision | {} ({}/{}) | ≥ 0.95 | {} |",
            fmt(ep),
            self.energy.0,
            self.energy.1,
            okf(ep)
        );
        let _ = writeln!(o, "| Energy event recall | {} | ≥ 0.95 | {} |", fmt(er), okf(er));
        let w = self
            .kinds
            .get(&LabelKind::WateringNeed)
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "| Watering-alert precision (alerts with real need) | {} ({}/{}) | ≥ 0.95 | {} |",
            fmt(wp),
            w.matched,
            w.alerts,
            okf(wp)
        );
        let _ = writeln!(
            o,
            "| Watering-need recall | {} ({}/{}) | ≥ 0.95 | {} |",
            fmt(wr),
            w.detected,
            w.labels,
            okf(wr)
        );
        let (n, with, count) = self.negatives;
        let _ = writeln!(
            o,
            "| False alarms on `negative` labels (alerts; labels with one) | {count}; {with}/{n} | 0 | {} |",
            ok(count == 0)
        );
        let _ = writeln!(
            o,
            "| Watering alerts without need during a labelled sensor fault | {} | 0 | {} |",
            self.water_fault_fp,
            ok(self.water_fault_fp == 0)
        );
        let _ = writeln!(
            o,
            "| Days-until-critical MAE, 3 ± 0.5 days before a labelled need | {} d (n = {}, {} without forecast) | | |",
            if self.forecast_errors.is_empty() {
                "–".to_string()
            } else {
                format!("{:.2}", mean(&self.forecast_errors))
            },
            self.forecast_errors.len(),
            self.forecast_missing
        );
        let _ = writeln!(
            o,
            "\n| Label kind | Alerts (matching/all) | Precision | Labels detected | Recall | Median time to detect |\n|---|---|---|---|---|---|"
        );
        for (kind, k) in &self.kinds {
            let mut ttd = k.ttd_min.clone();
            let ttd = if ttd.is_empty() {
                "–".to_string()
            } else {
                let m = median(&mut ttd);
                if m.abs() >= 180.0 {
                    format!("{:.1} h", m / 60.0)
                } else {
                    format!("{m:.0} min")
                }
            };
            let _ = writeln!(
                o,
                "| {} | {}/{} | {} | {}/{} | {} | {ttd} |",
                kind.name(),
                k.matched,
                k.alerts,
                fmt(ratio(k.matched, k.alerts)),
                k.detected,
                k.labels,
                fmt(ratio(k.detected, k.labels))
            );
        }
        let _ = writeln!(
            o,
            "\nEnergy labels in the learning period (not scored): {}. A negative time to detect: the alert came before the labelled start (for a watering need, ahead of the critical moment, as meant).",
            self.learning_labels
        );
        if !self.unknown.is_empty() {
            let _ = writeln!(
                o,
                "\nLabels whose subject is no site, device or tree of the inventory (not scored):\n"
            );
            for (line, s) in &self.unknown {
                let _ = writeln!(o, "- line {line}: `{s}`");
            }
        }
        if !self.missed.is_empty() {
            let lines: Vec<String> = self.missed.iter().map(u64::to_string).collect();
            let _ = writeln!(o, "\nLabels no alert matched (lines): {}", lines.join(", "));
        }
        for (i, line) in &self.false_alarms {
            let a = &alerts[*i];
            let _ = writeln!(
                o,
                "\nFalse alarm on the negative of line {line}: {} {} {}: {}",
                a.opened_at,
                a.kind.name(),
                subject(a),
                a.text
            );
        }
        if verbose {
            let _ = writeln!(o, "\nAlerts matching no label:\n");
            for &i in &self.unmatched {
                let a = &alerts[i];
                let _ = writeln!(
                    o,
                    "- {} {} {}: {}",
                    a.opened_at,
                    a.kind.name(),
                    subject(a),
                    a.text
                );
            }
        }
        o
    }
}

/// An alert's subject: its tree, else its device, else its site.
pub fn subject(a: &Occurrence) -> &str {
    a.tree.as_ref().or(a.device.as_ref()).unwrap_or(&a.site).as_str()
}
