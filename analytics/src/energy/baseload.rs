//! Night and weekend baseload of a building against its own normal.
//!
//! Every closed period (a night, a weekend day; see [`crate::calendar::period`]) yields one baseload: a low
//! quantile (R-8, statrs) of the site total's window means in that period. It is compared with the median of
//! the previous periods of the same type. Periods that look suspicious (above half the margin) are not
//! learned, so a slow creep cannot drag the reference up behind it, unless the level persists longer than
//! `normal.adopt_after` (new equipment is the new normal). An alert opens after `periods` consecutive
//! periods above the threshold and resolves after `periods` consecutive periods below the clear level: one
//! night just below it (a stuck heater repaired while a creep goes on) does not end it only to open it again.

use std::collections::VecDeque;

use zw_model::Id;
use zw_model::alert::{AlertKind, Severity, Subject};

use crate::calendar::Period;
use crate::condition::{Condition, Transition};
use crate::config::BaseloadConfig;
use crate::explain::{self, Change, Signal};
use crate::normal::{median_mad, quantile};

/// Fewest window means a period needs to count.
const MIN_WINDOWS: usize = 4;

/// Baseload state of one site.
#[derive(Debug, Clone, Default)]
pub(crate) struct Baseload {
    cur: Option<Period>,
    start: i64,
    means: Vec<f64>,
    nights: VecDeque<f64>,
    weekends: VecDeque<f64>,
    /// The alert condition, in periods: its "time" is the number of periods judged so far, so holding
    /// for `periods − 1` means `periods` consecutive periods above (or below the clear level).
    cond: Condition,
    /// Periods judged so far.
    judged: i64,
    /// Start (ms) of the first period above, for the explanation.
    first_above: i64,
    /// The last period's excess over the reference while the alert is open.
    excess: f64,
    suspicious_since: Option<i64>,
}

/// What a closed period is compared with.
struct Verdict {
    value: f64,
    reference: f64,
    threshold: f64,
    clear: f64,
    n: usize,
}

impl Baseload {
    /// Feeds one closed window of the site total starting at `ts` in `period`; closes the current period
    /// when the window belongs to another one.
    #[allow(clippy::too_many_arguments)]
    pub fn window(
        &mut self,
        ts: i64,
        period: Option<Period>,
        mean: f64,
        cfg: &BaseloadConfig,
        hysteresis: f64,
        adopt_after: i64,
        site: &Id,
        out: &mut Vec<Signal>,
    ) {
        if period != self.cur {
            if let Some(p) = self.cur {
                self.close(p, ts, cfg, hysteresis, adopt_after, site, out);
            }
            self.cur = period;
            self.start = ts;
            self.means.clear();
        }
        if period.is_some() {
            self.means.push(mean);
        }
    }

    /// The baseload excess the open alert reports (0 without an open alert).
    pub fn open_excess(&self) -> f64 {
        if self.cond.is_active() {
            self.excess.max(0.0)
        } else {
            0.0
        }
    }

    /// Marks an alert restored after a restart as open since `since`.
    pub fn restore(&mut self, since: i64) {
        self.cond.restore(self.judged);
        self.first_above = since;
    }

    #[allow(clippy::too_many_arguments)]
    fn close(
        &mut self,
        p: Period,
        ts: i64,
        cfg: &BaseloadConfig,
        h: f64,
        adopt: i64,
        site: &Id,
        out: &mut Vec<Signal>,
    ) {
        if self.means.len() < MIN_WINDOWS {
            return;
        }
        let value = quantile(&mut self.means, cfg.quantile);
        let night = matches!(p, Period::Night(_));
        let hist = if night {
            &mut self.nights
        } else {
            &mut self.weekends
        };
        let learn = |hist: &mut VecDeque<f64>| {
            hist.push_back(value);
            while hist.len() > cfg.history {
                hist.pop_front();
            }
        };
        if hist.len() < cfg.min_history {
            learn(hist);
            return;
        }
        let mut scratch: Vec<f64> = hist.iter().copied().collect();
        let (reference, _) = median_mad(&mut scratch);
        let margin = (cfg.rel * reference.abs()).max(cfg.min_abs.0);
        let v = Verdict {
            value,
            reference,
            threshold: reference + margin,
            clear: reference + margin * (1.0 - h),
            n: hist.len(),
        };
        let suspicious = value > reference + margin / 2.0;
        let since = *self.suspicious_since.get_or_insert(self.start);
        if !suspicious {
            self.suspicious_since = None;
        }
        if !suspicious || ts - since >= adopt {
            learn(hist);
        }
        let name = if night { "night" } else { "weekend" };
        self.excess = value - reference;
        let (above, below) = (value > v.threshold, value < v.clear);
        if above && !self.cond.is_engaged() {
            self.first_above = self.start;
        }
        let hold = i64::from(cfg.periods.max(1)) - 1;
        self.judged += 1;
        match self.cond.update(self.judged, above, below && !above, hold, hold) {
            Transition::Opened { .. } => out.push(self.raise(&v, name, ts, site)),
            Transition::Closed => {
                let reason = format!(
                    "{name} baseload {} is back below {}",
                    explain::power(value),
                    explain::power(v.clear)
                );
                out.push(signal(site, ts, Change::Clear { reason }));
            }
            Transition::None if self.cond.is_active() => out.push(self.raise(&v, name, ts, site)),
            Transition::None => {}
        }
    }

    fn raise(&self, v: &Verdict, name: &str, ts: i64, site: &Id) -> Signal {
        let text = format!(
            "{name} baseload {}, {} above the usual {} (median of the last {} {name}s), for {}",
            explain::power(v.value),
            explain::power(v.value - v.reference),
            explain::power(v.reference),
            v.n,
            explain::duration(ts - self.first_above),
        );
        let baseline = format!("median {name} baseload of the last {} {name}s", v.n);
        let explanation = explain::watts(
            v.value,
            v.reference,
            v.threshold,
            baseline,
            self.first_above,
            text,
        );
        let severity = if v.value >= 2.0 * v.threshold {
            Severity::Critical
        } else {
            Severity::Warning
        };
        signal(
            site,
            ts,
            Change::Raise {
                severity,
                explanation,
            },
        )
    }
}

fn signal(site: &Id, ts: i64, change: Change) -> Signal {
    Signal {
        kind: AlertKind::Baseload,
        site: site.clone(),
        subject: Subject::default(),
        at: explain::utc(ts),
        change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    /// Feeds `nights` nights of 8 windows each at the given level; returns the signals.
    fn feed(b: &mut Baseload, levels: &[f64], out: &mut Vec<Signal>) {
        let cfg = BaseloadConfig::default();
        let site = Id::new("s").expect("id");
        for (day, level) in levels.iter().enumerate() {
            let base = day as i64 * 24 * H;
            for w in 0..8 {
                b.window(
                    base + w * 900_000,
                    Some(Period::Night(day as i64)),
                    *level,
                    &cfg,
                    0.3,
                    14 * 24 * H,
                    &site,
                    out,
                );
            }
            // Daytime closes the night.
            b.window(base + 12 * H, None, *level, &cfg, 0.3, 14 * 24 * H, &site, out);
        }
    }

    #[test]
    fn steady_nights_stay_quiet_and_a_jump_opens_after_two_nights() {
        let (mut b, mut out) = (Baseload::default(), Vec::new());
        feed(&mut b, &[1000.0; 10], &mut out);
        assert!(out.is_empty(), "{out:?}");
        feed(&mut b, &[1500.0], &mut out);
        assert!(out.is_empty(), "one night is not enough: {out:?}");
        feed(&mut b, &[1500.0, 1500.0], &mut out);
        assert_eq!(out.len(), 2, "opened, then refreshed: {out:?}");
        assert!(matches!(out[0].change, Change::Raise { .. }));
        feed(&mut b, &[1000.0], &mut out);
        assert_eq!(out.len(), 3, "one night below is not enough to resolve: {out:?}");
        assert!(matches!(out[2].change, Change::Raise { .. }), "{out:?}");
        feed(&mut b, &[1000.0], &mut out);
        assert!(matches!(out[3].change, Change::Clear { .. }), "{out:?}");
    }

    #[test]
    fn a_night_between_clear_level_and_threshold_restarts_the_count() {
        let (mut b, mut out) = (Baseload::default(), Vec::new());
        feed(&mut b, &[1000.0; 10], &mut out);
        // Threshold 1250 W, clear level 1175 W (hysteresis 0.3 of the 250 W margin).
        feed(&mut b, &[1500.0, 1500.0, 1000.0, 1200.0, 1000.0], &mut out);
        assert!(
            out.iter().all(|s| matches!(s.change, Change::Raise { .. })),
            "below, between, below: still open: {out:?}"
        );
        feed(&mut b, &[1000.0], &mut out);
        assert!(
            matches!(out.last().map(|s| &s.change), Some(Change::Clear { .. })),
            "{out:?}"
        );
    }

    #[test]
    fn an_open_alert_keeps_its_since_through_a_night_in_between() {
        let (mut b, mut out) = (Baseload::default(), Vec::new());
        feed(&mut b, &[1000.0; 10], &mut out);
        // Above, above (opens), between the clear level and the threshold, above again: one alert since
        // the first night above.
        feed(&mut b, &[1500.0, 1500.0, 1200.0, 1500.0], &mut out);
        let since: Vec<_> = out
            .iter()
            .filter_map(|s| match &s.change {
                Change::Raise { explanation, .. } => Some(explanation.since),
                Change::Clear { .. } => None,
            })
            .collect();
        assert_eq!(since.len(), 3, "{out:?}");
        assert!(since.iter().all(|t| *t == since[0]), "{since:?}");
    }

    #[test]
    fn slow_creep_is_not_learned_away() {
        let (mut b, mut out) = (Baseload::default(), Vec::new());
        feed(&mut b, &[1000.0; 14], &mut out);
        let creep: Vec<f64> = (1..=20).map(|d| 1000.0 + 30.0 * f64::from(d)).collect();
        feed(&mut b, &creep, &mut out);
        assert!(
            out.iter().any(|s| matches!(s.change, Change::Raise { .. })),
            "creep of 30 W/night undetected"
        );
    }
}
