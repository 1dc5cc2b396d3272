//! Warm-up and restart of the energy detectors: learning historic windows from InfluxDB at start, and
//! re-arming the conditions behind alerts that were open before a restart.

use zw_model::Id;
use zw_model::alert::AlertKind;

use super::Energy;
use crate::calendar::{Local, as_sunday, period};

impl Energy {
    /// Learns one historic window mean of `device` (warm-up from InfluxDB), in time order per device.
    pub fn warm(&mut self, site: &Id, device: &Id, how: usize, mean: f64) {
        if let Some(i) = self.device(site, device) {
            let (prm, cfg) = (&self.prm, &self.cfg);
            self.devs[i].normal.learn(how, mean, prm.min_samples, &cfg.normal);
        }
    }

    /// Learns one historic window of a site's total (warm-up), with its baseload period.
    pub fn warm_site(&mut self, site: &Id, start: i64, local: Local, total: f64) {
        let i = self.site(site, None);
        let (prm, cfg, s) = (&self.prm, &self.cfg, &mut self.sites[i]);
        let off = s.off.contains(local.day());
        let how = if off { as_sunday(local) } else { local }.hour_of_week();
        s.normal.learn(how, total, prm.min_samples, &cfg.normal);
        if s.baseload_on {
            let p = period(local, &cfg.baseload, off);
            s.base.window(
                start,
                p,
                total,
                &cfg.baseload,
                prm.hysteresis,
                prm.adopt_after,
                &s.id,
                &mut Vec::new(),
            );
        }
    }

    /// Devices whose power counts into `site`'s total (for the warm-up).
    pub fn contributors(&self, site: &Id) -> Vec<Id> {
        let classes = &self.cfg.power.site_classes;
        let main: Vec<Id> = self
            .inventory
            .iter()
            .filter(|(_, (s, c))| s == site && classes.contains(c))
            .map(|(d, _)| d.clone())
            .collect();
        if main.is_empty() {
            self.inventory
                .iter()
                .filter(|(_, (s, _))| s == site)
                .map(|(d, _)| d.clone())
                .collect()
        } else {
            main
        }
    }

    /// Re-arms the condition behind an alert that was open before a restart, so it resolves through the
    /// normal clear path instead of opening again. `false` if the kind is not an energy kind.
    pub fn restore(&mut self, kind: AlertKind, site: &Id, device: Option<&Id>, since: i64, now: i64) -> bool {
        match (kind, device) {
            (AlertKind::HighConsumption | AlertKind::LeftOn, Some(dev)) => {
                let Some(i) = self.device(site, dev) else {
                    return false;
                };
                let d = &mut self.devs[i];
                d.last_seen = d.last_seen.max(now);
                let cond = if kind == AlertKind::LeftOn {
                    &mut d.left
                } else {
                    &mut d.high
                };
                cond.restore(since);
                true
            }
            (AlertKind::HighConsumption, None) => {
                let i = self.site(site, None);
                self.sites[i].high.restore(since);
                self.sites[i].last_ts = self.sites[i].last_ts.max(now);
                true
            }
            (AlertKind::Baseload, _) => {
                let i = self.site(site, None);
                self.sites[i].base.restore(since);
                true
            }
            _ => false,
        }
    }
}
