//! The maintenance alert of each soil sensor: opened while it has a fault, explained per fault kind. A
//! multi-depth probe has one alert for all its depths.

use zw_model::Id;
use zw_model::alert::{AlertKind, Explanation, Severity, Subject};
use zw_model::tree::FaultKind;

use crate::condition::Transition;
use crate::config::TreesConfig;
use crate::explain::{self, Change, Signal, round};
use crate::trees::Sensor;
use crate::trees::status::{ms, signal};

/// The order faults are reported in when a probe's depths have several.
fn rank(k: FaultKind) -> u8 {
    match k {
        FaultKind::Impossible => 0,
        FaultKind::Stuck => 1,
        FaultKind::Gap => 2,
        FaultKind::LowBattery => 3,
    }
}

/// Updates a device's maintenance alert from its fault state: `group` is a sensor, or every depth of a
/// multi-depth probe (the first holds the alert; the most serious fault of any depth is reported).
pub(crate) fn maintenance(
    group: &mut [Sensor],
    site: &Id,
    tree: &Id,
    now: i64,
    cfg: &TreesConfig,
    out: &mut Vec<Signal>,
) {
    let probe = group.len() > 1;
    let worst = group
        .iter()
        .filter_map(|x| x.fault().map(|f| (f, x.rejected, x.depth_cm)))
        .min_by_key(|((k, _), _, _)| rank(*k));
    let Some(s) = group.first_mut() else {
        return;
    };
    let fault = worst.map(|w| w.0);
    let (rejected, depth) = worst.map_or((None, None), |w| (w.1, w.2));
    let at = match depth.filter(|_| probe) {
        Some(d) => format!(" ({d} cm)"),
        None => String::new(),
    };
    let subject = || Subject {
        device: Some(s.device.clone()),
        tree: Some(tree.clone()),
    };
    let tr = s
        .alert
        .update(now, fault.is_some(), fault.is_none(), 0, ms(cfg.faults.gap_after));
    let raise = |(kind, since): (FaultKind, i64)| {
        let hours = (now - since) as f64 / 3_600_000.0;
        let (observed, threshold, unit, text) = match kind {
            FaultKind::Stuck => (
                hours,
                ms(cfg.faults.stuck_after) as f64 / 3.6e6,
                "h",
                format!(
                    "reports exactly the same value for {}",
                    explain::duration(now - since)
                ),
            ),
            FaultKind::Gap => (
                hours,
                ms(cfg.faults.gap_after) as f64 / 3.6e6,
                "h",
                format!("no reading for {}", explain::duration(now - since)),
            ),
            FaultKind::Impossible => {
                let v = rejected.unwrap_or(f64::NAN);
                (
                    if v.is_finite() { v } else { 0.0 },
                    0.0,
                    "",
                    format!(
                        "implausible values (latest {v:.2}) for {}",
                        explain::duration(now - since)
                    ),
                )
            }
            FaultKind::LowBattery => {
                let v = s.battery.unwrap_or(0.0);
                (
                    v,
                    s.battery_low_v,
                    "V",
                    format!(
                        "battery at {v:.2} V, below {:.2} V: replace it soon",
                        s.battery_low_v
                    ),
                )
            }
        };
        let severity = if kind == FaultKind::LowBattery {
            Severity::Info
        } else {
            Severity::Warning
        };
        let explanation = Explanation {
            observed: round(observed),
            expected: 0.0,
            threshold: round(threshold),
            unit: unit.into(),
            baseline: format!("sensor fault rule: {kind:?}").to_lowercase(),
            since: explain::utc(since),
            text: format!("sensor {}{at} at tree {tree}: {text}", s.device),
        };
        Change::Raise {
            severity,
            explanation,
        }
    };
    match (tr, fault) {
        (Transition::Opened { .. }, Some(f)) => {
            s.refresh = now;
            out.push(signal(AlertKind::SensorFault, site, subject(), now, raise(f)));
        }
        (Transition::Closed, _) => {
            let reason = "the sensor reads plausibly again".to_string();
            out.push(signal(
                AlertKind::SensorFault,
                site,
                subject(),
                now,
                Change::Clear { reason },
            ));
        }
        (_, Some(f)) if s.alert.is_active() && now - s.refresh >= 3_600_000 => {
            s.refresh = now;
            out.push(signal(AlertKind::SensorFault, site, subject(), now, raise(f)));
        }
        _ => {}
    }
}
