//! Settings of the energy detectors, alert handling and warm-up.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ClockTime, Day, Watts, check, within};

/// Smoothing, windows, durations and hysteresis shared by the power detectors (`[analytics.power]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PowerConfig {
    /// Time constant of the exponential smoothing of `active_power` that every power check compares.
    #[serde(with = "humantime_serde")]
    pub smoothing: Duration,
    /// Length of the windows whose mean power feeds the learned normal and the baseload; divides 1 h.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How long a condition must hold before an alert opens.
    #[serde(with = "humantime_serde")]
    pub hold: Duration,
    /// How long the value must stay below the clear level before an alert resolves.
    #[serde(with = "humantime_serde")]
    pub clear_hold: Duration,
    /// Hysteresis: the clear level lies this fraction of the way from the threshold down to the expected
    /// value (or to 0 for static limits), so a value hovering at the threshold cannot flap.
    pub hysteresis: f64,
    /// A device silent for this long no longer counts; its open conditions resolve ("no data").
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// Device classes summed into a site's total; without such devices, every power device counts. Sites
    /// whose total comes from one device get no site-level alert (the device alert says it all).
    pub site_classes: Vec<String>,
    /// At most this many devices are tracked (bounds memory against unknown senders).
    pub max_devices: usize,
    /// How often an active alert's explanation is refreshed.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
}

impl Default for PowerConfig {
    fn default() -> Self {
        Self {
            smoothing: Duration::from_secs(120),
            window: Duration::from_secs(900),
            hold: Duration::from_secs(600),
            clear_hold: Duration::from_secs(600),
            hysteresis: 0.3,
            stale_after: Duration::from_secs(900),
            site_classes: vec!["main_meter".into()],
            max_devices: 100_000,
            refresh: Duration::from_secs(300),
        }
    }
}

impl PowerConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        let w = self.window.as_secs();
        check(
            e,
            self.window.subsec_nanos() == 0 && w >= 60 && 3600 % w == 0,
            "power.window",
            "whole seconds >= 1m dividing 1h",
        );
        check(e, !self.smoothing.is_zero(), "power.smoothing", "positive");
        check(
            e,
            within(self.hysteresis, 0.0, 1.0),
            "power.hysteresis",
            "between 0 and 1",
        );
        check(
            e,
            self.stale_after >= Duration::from_secs(60),
            "power.stale_after",
            "at least 1m",
        );
        check(e, self.max_devices > 0, "power.max_devices", "at least 1");
        check(
            e,
            self.refresh >= Duration::from_secs(1),
            "power.refresh",
            "at least 1s",
        );
    }
}

/// The learned normal per hour-of-week (`[analytics.normal]`): median, MAD and a high quantile of the window
/// means of the same hour of the week over the last weeks. An alert needs the power above
/// `max(median + max(k_mad · 1.4826 · MAD, min_rel · median, min_abs), quantile(q_high) · (1 + high_margin))`:
/// far above the typical value *and* above what the hour has usually reached (loads that run on some days
/// only, like a fan heater on cold mornings, are not anomalies when they run).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalConfig {
    /// Weeks of history kept per hour-of-week.
    pub history_weeks: u32,
    /// Weeks of history needed before the normal is used (until then only static limits apply).
    pub min_weeks: u32,
    /// Robust z-score: MADs (scaled to σ) above the median.
    pub k_mad: f64,
    /// Relative margin above the median, whatever the spread.
    pub min_rel: f64,
    /// Absolute margin above the median, whatever the spread.
    pub min_abs: Watts,
    /// The high quantile (0–1, R-8) of the hour's window means that counts as "usually reached".
    pub q_high: f64,
    /// Margin above that quantile.
    pub high_margin: f64,
    /// Windows (and baseload periods) are not learned while their subject's condition holds, so an
    /// anomaly does not become the normal; a condition lasting longer than this is adopted as the new normal
    /// (new equipment), and its alert resolves once the normal has caught up.
    #[serde(with = "humantime_serde")]
    pub adopt_after: Duration,
}

impl Default for NormalConfig {
    fn default() -> Self {
        Self {
            history_weeks: 6,
            min_weeks: 2,
            k_mad: 4.0,
            min_rel: 0.5,
            min_abs: Watts(200.0),
            q_high: 0.95,
            high_margin: 0.25,
            adopt_after: Duration::from_secs(14 * 86_400),
        }
    }
}

impl NormalConfig {
    /// The least margin above a `median` that counts as a deviation: `min_rel` of it, at least `min_abs`.
    pub fn floor(&self, median: f64) -> f64 {
        (self.min_rel * median.abs()).max(self.min_abs.0)
    }

    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        check(
            e,
            (1..=52).contains(&self.history_weeks),
            "normal.history_weeks",
            "1..=52",
        );
        check(
            e,
            self.min_weeks >= 1 && self.min_weeks <= self.history_weeks,
            "normal.min_weeks",
            "1..=history_weeks",
        );
        check(
            e,
            within(self.k_mad, 0.5, 100.0),
            "normal.k_mad",
            "between 0.5 and 100",
        );
        check(
            e,
            within(self.min_rel, 0.0, 100.0),
            "normal.min_rel",
            "between 0 and 100",
        );
        check(
            e,
            within(self.min_abs.0, 0.0, 1e9),
            "normal.min_abs",
            "a non-negative power",
        );
        check(
            e,
            within(self.q_high, 0.5, 1.0),
            "normal.q_high",
            "between 0.5 and 1",
        );
        check(
            e,
            within(self.high_margin, 0.0, 100.0),
            "normal.high_margin",
            "between 0 and 100",
        );
    }
}

/// Devices left on outside usage hours (`[analytics.left_on]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeftOnConfig {
    /// Device classes watched.
    pub classes: Vec<String>,
    /// Devices that may run around the clock (fridges, routers).
    pub exclude: Vec<String>,
    /// Site kinds whose devices are judged against their own learned use instead of usage hours (a
    /// household's fridge runs all night, its iron does not): a device there is left on when it draws power
    /// in an hour of the week where, in its learned normal, even the high quantile (`normal.q_high`) of its
    /// window means stays below half of `min_power`, i.e. it has hardly ever been on then. Until that hour
    /// is learned (`normal.min_weeks`) no left-on alert is raised for it.
    pub learned_use_kinds: Vec<String>,
    /// Days with usage hours (the default usage hours; per site and class: `[analytics.calendar]`).
    pub days: Vec<Day>,
    /// Default usage hours start (local time).
    pub from: ClockTime,
    /// Default usage hours end (local time).
    pub to: ClockTime,
    /// Drawing more than this outside usage hours counts as on (standby stays below).
    pub min_power: Watts,
    /// How long it must stay on before an alert opens.
    #[serde(with = "humantime_serde")]
    pub hold: Duration,
}

impl Default for LeftOnConfig {
    fn default() -> Self {
        use chrono::Weekday::*;
        Self {
            classes: vec!["plug".into()],
            exclude: Vec::new(),
            learned_use_kinds: vec!["household".into()],
            days: [Mon, Tue, Wed, Thu, Fri].map(Day).to_vec(),
            from: ClockTime::hm(7, 0),
            to: ClockTime::hm(19, 0),
            min_power: Watts(15.0),
            hold: Duration::from_secs(600),
        }
    }
}

impl LeftOnConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        check(e, self.from < self.to, "left_on.from", "earlier than left_on.to");
        for (i, k) in self.learned_use_kinds.iter().enumerate() {
            let ok = matches!(k.as_str(), "building" | "household" | "park" | "business");
            let path = format!("left_on.learned_use_kinds[{i}]");
            check(e, ok, &path, "building, household, park or business");
        }
        check(
            e,
            within(self.min_power.0, 0.0, 1e9),
            "left_on.min_power",
            "a non-negative power",
        );
    }
}

/// Night and weekend baseload per building (`[analytics.baseload]`). Each closed period (every night, and
/// weekend days) yields one baseload: a low quantile of the site total's window means. It is compared with
/// the median of the previous periods.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseloadConfig {
    /// Site kinds watched (`building`, `household`, `park`).
    pub site_kinds: Vec<String>,
    /// Night start (local time).
    pub night_from: ClockTime,
    /// Night end (local time); weekend days run from here to `night_from`.
    pub night_to: ClockTime,
    /// Quantile of the period's window means taken as its baseload (0–1, R-8).
    pub quantile: f64,
    /// Previous periods kept as the reference.
    pub history: usize,
    /// Periods needed before comparing.
    pub min_history: usize,
    /// Relative margin above the reference median.
    pub rel: f64,
    /// Absolute margin above the reference median.
    pub min_abs: Watts,
    /// Consecutive periods above the threshold before an alert opens, and below the clear level before
    /// it resolves.
    pub periods: u32,
}

impl Default for BaseloadConfig {
    fn default() -> Self {
        Self {
            site_kinds: vec!["building".into()],
            night_from: ClockTime::hm(22, 0),
            night_to: ClockTime::hm(5, 0),
            quantile: 0.1,
            history: 14,
            min_history: 5,
            rel: 0.25,
            min_abs: Watts(200.0),
            periods: 2,
        }
    }
}

impl BaseloadConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        for (i, k) in self.site_kinds.iter().enumerate() {
            let ok = matches!(k.as_str(), "building" | "household" | "park");
            check(
                e,
                ok,
                &format!("baseload.site_kinds[{i}]"),
                "building, household or park",
            );
        }
        check(
            e,
            self.night_to < self.night_from,
            "baseload.night_to",
            "earlier than night_from",
        );
        check(
            e,
            within(self.quantile, 0.0, 1.0),
            "baseload.quantile",
            "between 0 and 1",
        );
        check(
            e,
            (1..=365).contains(&self.history),
            "baseload.history",
            "1..=365",
        );
        check(
            e,
            self.min_history >= 1 && self.min_history <= self.history,
            "baseload.min_history",
            "1..=history",
        );
        check(
            e,
            within(self.rel, 0.0, 100.0),
            "baseload.rel",
            "between 0 and 100",
        );
        check(
            e,
            within(self.min_abs.0, 0.0, 1e9),
            "baseload.min_abs",
            "a non-negative power",
        );
        check(e, self.periods >= 1, "baseload.periods", "at least 1");
    }
}

/// Alert lifecycle, persistence and delivery (`[analytics.alerts]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Resolved alerts stay on their retained topic this long, then the topic is cleared.
    #[serde(with = "humantime_serde")]
    pub resolved_retention: Duration,
    /// At start, read retained alerts back for at most this long before evaluating.
    #[serde(with = "humantime_serde")]
    pub restore_wait: Duration,
    /// …or until no retained alert arrived for this long.
    #[serde(with = "humantime_serde")]
    pub restore_quiet: Duration,
    /// Write every alert change to InfluxDB (measurement `alerts`).
    pub store_influx: bool,
    /// Optional webhook: every alert change is POSTed there as JSON (`http://` or `https://`, TLS by rustls).
    pub webhook_url: Option<String>,
    /// PEM file with the CA certificate(s) that signed the webhook's certificate (a private CA). When set,
    /// only these are trusted; absent: the system's trusted roots. Only with an `https://` webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_ca_file: Option<PathBuf>,
    /// Webhook attempts per alert change before it is dropped (counted).
    pub webhook_attempts: u32,
    /// Capacity of the queue of alert changes waiting for InfluxDB or the webhook; when full the newest is
    /// dropped and counted (the retained topic still carries the alert).
    pub queue: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            resolved_retention: Duration::from_secs(7 * 86_400),
            restore_wait: Duration::from_secs(3),
            restore_quiet: Duration::from_millis(500),
            store_influx: true,
            webhook_url: None,
            webhook_ca_file: None,
            webhook_attempts: 5,
            queue: 1000,
        }
    }
}

impl AlertsConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        check(
            e,
            self.restore_quiet <= self.restore_wait,
            "alerts.restore_quiet",
            "at most restore_wait",
        );
        if let Some(url) = &self.webhook_url {
            let ok = url.starts_with("http://") || url.starts_with("https://");
            check(e, ok, "alerts.webhook_url", "an http:// or https:// URL");
        }
        if let Some(path) = &self.webhook_ca_file {
            let https = self
                .webhook_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"));
            check(
                e,
                https,
                "alerts.webhook_ca_file",
                "set only with an https:// webhook_url",
            );
            if let Err(err) = zw_influx::tls::load_ca(path) {
                e.push(format!("analytics.alerts.webhook_ca_file: {err}"));
            }
        }
        check(
            e,
            (1..=100).contains(&self.webhook_attempts),
            "alerts.webhook_attempts",
            "1..=100",
        );
        check(e, self.queue > 0, "alerts.queue", "at least 1");
    }
}

/// Learning the normal from InfluxDB at start (`[analytics.warmup]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarmupConfig {
    /// Query history at start.
    pub enabled: bool,
    /// How far back (bounded; at most `normal.history_weeks` are kept anyway).
    #[serde(with = "humantime_serde")]
    pub history: Duration,
    /// Give up on the warm-up after this long and start with what was learned.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for WarmupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            history: Duration::from_secs(28 * 86_400),
            timeout: Duration::from_secs(60),
        }
    }
}

impl WarmupConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        let ok =
            self.history >= Duration::from_secs(3600) && self.history <= Duration::from_secs(366 * 86_400);
        check(e, ok, "warmup.history", "between 1h and 366 days");
        check(
            e,
            self.timeout >= Duration::from_secs(1),
            "warmup.timeout",
            "at least 1s",
        );
    }
}
