//! The Markdown rendering of one evaluation report.

use std::fmt::Write as _;

use super::{Report, median};

impl Report {
    /// The report as Markdown.
    pub fn markdown(&self, verbose: bool) -> String {
        let (p, r, ttd, opens) = self.energy();
        let ok = |b: bool| if b { "✅" } else { "❌" };
        let mut o = String::new();
        let rate = self.readings as f64 / self.seconds.max(1e-9);
        let _ = writeln!(o, "### Analytics evaluation ({})\n", self.title);
        let _ = writeln!(
            o,
            "Replayed {} readings through all detectors in {:.1} s ({rate:.0} readings/s, one core).\n",
            self.readings, self.seconds
        );
        let _ = writeln!(o, "| Measure | Value | Target | |\n|---|---|---|---|");
        let _ = writeln!(
            o,
            "| Energy alert precision | {p:.3} ({}/{}) | ≥ 0.95 | {} |",
            self.energy_matched,
            self.energy_alerts,
            ok(p >= 0.95)
        );
        let (n, d) = self
            .incidents
            .values()
            .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        let _ = writeln!(
            o,
            "| Energy incident recall | {r:.3} ({d}/{n}) | ≥ 0.95 | {} |",
            ok(r >= 0.95)
        );
        let _ = writeln!(
            o,
            "| Median time to detect (left on, stuck heater, over limit) | {ttd:.1} min | ≤ 15 min | {} |",
            ok(ttd <= 15.0)
        );
        let mean_opens = self.opens.iter().sum::<usize>() as f64 / self.opens.len().max(1) as f64;
        let _ = writeln!(
            o,
            "| Opens per incident and alert (max, mean) | {opens}, {mean_opens:.2} | ≤ 1 | {} |",
            ok(opens <= 1)
        );
        let mae = self.mae();
        let _ = writeln!(
            o,
            "| Forecast MAE, days until critical at a 3 ± 0.5 day horizon, dry spells | {mae:.2} days (n = {}, {} without forecast) | ≤ 0.5 | {} |",
            self.forecast_errors.len(),
            self.forecast_missing,
            ok(mae <= 0.5)
        );
        let _ = writeln!(
            o,
            "| Forecast MAE as above without the weather feed (trend only, the same moments) | {:.2} days (n = {}, {} without forecast) | | |",
            super::mean(&self.forecast_errors_trend),
            self.forecast_errors_trend.len(),
            self.forecast_missing_trend,
        );
        let _ = writeln!(
            o,
            "| Watering alerts caused by sensor faults | {} | 0 | {} |",
            self.water_fault_fp,
            ok(self.water_fault_fp == 0)
        );
        let water_precision = if self.water_alerts == 0 {
            1.0
        } else {
            (self.water_alerts - self.water_fp) as f64 / self.water_alerts as f64
        };
        let _ = writeln!(
            o,
            "| Watering-alert precision (alerts that came with real need; issue 22, not yet in the exit code) | {water_precision:.3} ({}/{}) | ≥ 0.95 | {} |",
            self.water_alerts - self.water_fp,
            self.water_alerts,
            ok(water_precision >= 0.95)
        );
        let _ = writeln!(
            o,
            "| False alarms on negatives: quiet building-days (no incident) with an energy alert | {}/{} | 0 | {} |",
            self.quiet.0,
            self.quiet.1,
            ok(self.quiet.0 == 0)
        );
        let mut creep = self.creep_ttd_days.clone();
        let _ = writeln!(o, "\n| Detail | Value |\n|---|---|");
        for (kind, (n, d)) in &self.incidents {
            let _ = writeln!(o, "| {kind} incidents detected | {d}/{n} |");
        }
        let _ = writeln!(
            o,
            "| Baseload creep, median time to detect | {:.1} days |",
            median(&mut creep)
        );
        let _ = writeln!(
            o,
            "| Energy alerts while learning (first weeks, not scored) | {} |",
            self.learning_alerts
        );
        let _ = writeln!(
            o,
            "| Common-cause notices (a class elevated at many sites at once; not alerts) | {} |",
            self.notices.len()
        );
        let mean = super::mean;
        let _ = writeln!(
            o,
            "| Scored forecasts resting on the ET0 forecast (every sensor of the tree) | {}/{} |",
            self.forecast_et0.0, self.forecast_et0.1
        );
        let _ = writeln!(
            o,
            "| Forecast MAE at 3 ± 0.5 days when rain or watering came first (no rain forecast used) | {:.2} days (n = {}) |",
            mean(&self.forecast_errors_rain),
            self.forecast_errors_rain.len()
        );
        let _ = writeln!(
            o,
            "| Forecast MAE at 3 ± 0.5 days for trees with a faulty sensor (its depth unseen) | {:.2} days (n = {}) |",
            mean(&self.forecast_errors_fault),
            self.forecast_errors_fault.len()
        );
        let _ = writeln!(
            o,
            "| Watering alerts: true need / all | {}/{} |",
            self.water_alerts - self.water_fp,
            self.water_alerts
        );
        let _ = writeln!(
            o,
            "| Watering alerts without true need: overtaken by rain or watering / with a sensor fault at the tree within 24 h | {}: {} / {} |",
            self.water_fp, self.water_fp_rain, self.water_fp_near_fault
        );
        let _ = writeln!(
            o,
            "| Watering alerts without need on a sensor after a fault, raised on the same park with working sensors too (not caused) | {} |",
            self.water_fault_near_not_caused
        );
        let _ = writeln!(
            o,
            "| Critical episodes with a watering alert (from 1.5 days before) | {}/{} |",
            self.episodes.1, self.episodes.0
        );
        for (kind, (n, d)) in &self.faults {
            let _ = writeln!(o, "| Sensor faults detected: {kind} | {d}/{n} |");
        }
        let _ = writeln!(
            o,
            "| Maintenance alerts matching a labelled fault | {}/{} |",
            self.maint.1, self.maint.0
        );
        if verbose {
            let _ = writeln!(o, "\nAlerts while learning:\n");
            for &k in &self.learning {
                let a = &self.alerts[k];
                let until = a
                    .resolved_at
                    .map_or("open".into(), |r| r.format("%m-%d %H:%M").to_string());
                let _ = writeln!(
                    o,
                    "- {} until {until} {:?} {:?}: {}",
                    a.opened_at.format("%a %m-%d %H:%M"),
                    a.kind,
                    a.device,
                    a.text
                );
            }
            for (t, n) in &self.notices {
                let _ = writeln!(o, "\nCommon-cause notice {}: {n}", t.format("%a %m-%d %H:%M"));
            }
            for f in &self.flaps {
                let _ = writeln!(o, "\nFlapping: {f}");
            }
            for m in &self.missed {
                let _ = writeln!(o, "\nMissed incident: {m}");
            }
            for n in &self.fault_notes {
                let _ = writeln!(o, "\nWatering alert during a sensor fault: {n}");
            }
            let _ = writeln!(o, "\nUnmatched alerts:\n");
            for &k in &self.unmatched {
                let a = &self.alerts[k];
                let _ = writeln!(
                    o,
                    "- {} {:?} {}/{:?}/{:?}: {}",
                    a.opened_at.format("%a %m-%d %H:%M"),
                    a.kind,
                    a.site,
                    a.device,
                    a.tree,
                    a.text
                );
            }
        }
        o
    }
}
