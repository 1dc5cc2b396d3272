//! High consumption (static limit per class, learned normal per hour-of-week) and devices left on outside
//! usage hours: the per-reading checks and how their alerts explain themselves.

use zw_model::Id;
use zw_model::alert::{AlertKind, Subject};

use crate::calendar::Local;
use crate::condition::{Condition, Transition};
use crate::config::NormalConfig;
use crate::energy::state::{Opened, Params};
use crate::explain::{self, Change, Signal};
use crate::normal::{Baseline, Normal, Slot};

/// The subject of a check: a device (with its class and limit) or a site total.
pub(crate) struct Target<'a> {
    pub site: &'a Id,
    pub device: Option<&'a Id>,
    pub class: &'a str,
    pub limit: Option<f64>,
    /// Power already explained by an open baseload alert, subtracted before checking (shown in the text).
    pub adj: f64,
    /// Power explained by open alerts on other devices of the site, subtracted before checking.
    pub explained: f64,
}

impl Target<'_> {
    fn signal(&self, kind: AlertKind, ts: i64, change: Change) -> Signal {
        Signal {
            kind,
            site: self.site.clone(),
            subject: Subject {
                device: self.device.cloned(),
                tree: None,
            },
            at: explain::utc(ts),
            change,
        }
    }
}

/// Checks the power against the limit and the normal: above means the smoothed power `ema` *and* the
/// latest reading `raw` are above (a short burst's smoothed tail does not count, nor does one spike);
/// clearing looks at the smoothed power only. `suppressed` holds the check off (another alert already
/// explains the power); `common` (a common cause of the class, [`crate::energy::common`]) only keeps the
/// learned normal from opening an alert. Returns how many times its usual the power is while *elevated*
/// (its slow average `slow` above the hour's median by the normal's floor, `min_rel` and `min_abs`;
/// the usual counts as at least `min_abs`), 0 when not elevated (NaN `slow`: never); the common-cause
/// check counts elevated devices and compares their ratios.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_high(
    cond: &mut Condition,
    (refresh, open): (&mut i64, &mut Opened),
    normal: &Normal,
    t: &Target<'_>,
    ts: i64,
    local: Local,
    (ema, raw, slow): (f64, f64, f64),
    (suppressed, common): (bool, bool),
    prm: &Params,
    ncfg: &NormalConfig,
    out: &mut Vec<Signal>,
) -> f64 {
    let (how, base) = match normal.baseline(local.hour_of_week(), prm.min_samples, ncfg, prm.hysteresis) {
        Some((h, b)) => (h, Some(b)),
        None => (Slot::Week(local.hour_of_week()), None),
    };
    let level = ema.min(raw);
    let above_n = !common && base.is_some_and(|b| level > b.threshold);
    let above_l = t.limit.is_some_and(|l| level > l);
    // Clearing compares with the hour's own clear level: the wider neighbours of a boost hour must not
    // end an alert that is still going on (a stuck heater passing its morning boost time).
    let own = normal.hour(local.hour_of_week(), prm.min_samples, ncfg, prm.hysteresis);
    let clear = own.or(base).map(|b| b.clear);
    let excess = own.or(base).map_or(0.0, |b| ema - b.expected);
    // Elevated against the lower of the hour's own median and the baseline the alert compares with, so a
    // device counts whenever either would call its power unusual.
    let usual = match (own, base) {
        (Some(o), Some(b)) => Some(o.expected.min(b.expected)),
        (o, b) => o.or(b).map(|x| x.expected),
    };
    let ratio = match usual {
        Some(u) if slow > u + ncfg.floor(u) => slow / u.max(ncfg.min_abs.0),
        _ => 0.0,
    };
    // …and only once the power itself came down, both in level and in excess over the usual, from where
    // it was when the alert opened: a device that still does what triggered the alert (a heater stuck at
    // full power) keeps its alert through hours where that much happens to be usual.
    let keep = 1.0 - prm.hysteresis;
    let changed = !(ema >= open.ema * keep || excess >= open.excess * keep);
    let below =
        clear.is_none_or(|c| ema < c && changed) && t.limit.is_none_or(|l| ema < l * (1.0 - prm.hysteresis));
    let (above, below) = if suppressed {
        (false, true)
    } else {
        (above_n || above_l, below)
    };
    match cond.update(ts, above, below, prm.hold, prm.clear_hold) {
        Transition::Opened { since } => {
            *refresh = ts;
            *open = Opened {
                ema,
                excess,
                adj: t.adj,
            };
            out.push(raise_high(t, ts, since, how, ema, base, above_l));
        }
        Transition::Closed => {
            let reason = match base {
                _ if suppressed => "explained by another open alert (left on, baseload)".to_string(),
                _ if t.explained > 0.0 => format!(
                    "{} of it explained by an open alert on another device of the site",
                    explain::power(t.explained)
                ),
                Some(_) => format!(
                    "back to {}, below {}",
                    explain::power(ema),
                    explain::power(clear.unwrap_or_default())
                ),
                None => format!("back to {}", explain::power(ema)),
            };
            out.push(t.signal(AlertKind::HighConsumption, ts, Change::Clear { reason }));
        }
        Transition::None => {
            if let Some(since) = cond
                .since()
                .filter(|_| cond.is_active() && ts - *refresh >= prm.refresh)
            {
                *refresh = ts;
                out.push(raise_high(
                    t,
                    ts,
                    since,
                    how,
                    ema,
                    base,
                    above_l || base.is_none(),
                ));
            }
        }
    }
    ratio
}

fn raise_high(
    t: &Target<'_>,
    ts: i64,
    since: i64,
    how: Slot,
    ema: f64,
    base: Option<Baseline>,
    by_limit: bool,
) -> Signal {
    let who = if t.device.is_some() { "" } else { "site total " };
    let dur = explain::duration(ts - since);
    let explanation = match (base, t.limit) {
        (Some(b), _) if !by_limit => {
            let hour = how.name();
            let besides = if t.adj > 0.0 {
                format!(
                    " besides the baseload rise of {} already reported",
                    explain::power(t.adj)
                )
            } else {
                String::new()
            };
            let text = format!(
                "{who}{}, {} above the usual {} for {hour}{besides}, for {dur}",
                explain::power(ema + t.adj),
                explain::power(ema - b.expected),
                explain::power(b.expected),
            );
            let baseline = format!("learned normal for {hour} (median of {} windows)", b.samples);
            explain::watts(
                ema + t.adj,
                b.expected,
                b.threshold + t.adj,
                baseline,
                since,
                text,
            )
        }
        (_, Some(l)) => {
            let text = format!(
                "{who}{}, above the {} limit for class {}, for {dur}",
                explain::power(ema),
                explain::power(l),
                t.class
            );
            explain::watts(
                ema,
                l,
                l,
                format!("static limit for class {}", t.class),
                since,
                text,
            )
        }
        (b, None) => {
            let (e, thr) = b.map_or((0.0, 0.0), |b| (b.expected, b.threshold));
            let text = format!(
                "{who}{}, above the usual {}, for {dur}",
                explain::power(ema),
                explain::power(e)
            );
            explain::watts(ema, e, thr, "learned normal".into(), since, text)
        }
    };
    let severity = explain::power_severity(ema, explanation.threshold);
    t.signal(
        AlertKind::HighConsumption,
        ts,
        Change::Raise {
            severity,
            explanation,
        },
    )
}

/// Checks a watched device for drawing power `outside` usage hours, or outside its learned use (then
/// `usual_run` is its longest recent run in ms, [`crate::energy::learned`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_left_on(
    cond: &mut Condition,
    refresh: &mut i64,
    t: &Target<'_>,
    ts: i64,
    (outside, usual_run): (bool, Option<i64>),
    (ema, raw): (f64, f64),
    prm: &Params,
    out: &mut Vec<Signal>,
) {
    let above = outside && ema.min(raw) > prm.left_min;
    let below = !outside || ema < prm.left_min / 2.0;
    let raise = |since: i64| {
        let (what, baseline) = match usual_run {
            None => ("outside usage hours".to_string(), "off outside usage hours"),
            Some(0) => (
                "at a time it is hardly ever on".to_string(),
                "its learned use: off at this time",
            ),
            Some(r) => (
                format!(
                    "at a time it is hardly ever on (its recent runs took up to {})",
                    explain::duration(r)
                ),
                "its learned use: off at this time",
            ),
        };
        let text = format!(
            "{} drawn {what}, for {}",
            explain::power(ema),
            explain::duration(ts - since)
        );
        let explanation = explain::watts(ema, 0.0, prm.left_min, baseline.into(), since, text);
        let severity = explain::power_severity(ema, 100.0 * prm.left_min);
        t.signal(
            AlertKind::LeftOn,
            ts,
            Change::Raise {
                severity,
                explanation,
            },
        )
    };
    match cond.update(ts, above, below, prm.left_hold, prm.clear_hold) {
        Transition::Opened { since } => {
            *refresh = ts;
            out.push(raise(since));
        }
        Transition::Closed => {
            let reason = match (outside, usual_run) {
                (true, _) => format!("switched off ({})", explain::power(ema)),
                (false, None) => "usage hours began".to_string(),
                (false, Some(_)) => "within its learned use".to_string(),
            };
            out.push(t.signal(AlertKind::LeftOn, ts, Change::Clear { reason }));
        }
        Transition::None => {
            if let Some(since) = cond
                .since()
                .filter(|_| cond.is_active() && ts - *refresh >= prm.refresh)
            {
                *refresh = ts;
                out.push(raise(since));
            }
        }
    }
}
