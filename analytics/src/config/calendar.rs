//! Usage hours, public and school holidays (`[analytics.calendar]`).
//!
//! ```toml
//! [analytics.calendar]
//! state = "NW"                                   # public holidays of North Rhine-Westphalia everywhere
//! days_off = ["2026-05-15"]                      # bridge days, commune holidays
//! [analytics.calendar.school_holidays]           # per state: first and last day, both inclusive
//! NW = [{ from = "2026-07-20", to = "2026-09-01" }]
//! [analytics.calendar.class_usage.heater]        # usage hours of a device class everywhere
//! days = ["mon", "tue", "wed", "thu", "fri"]
//! from = "06:00"
//! to = "18:00"
//! [analytics.calendar.sites.pool]                # one site: its own hours, state, holidays
//! usage = { days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], from = "06:00", to = "22:00" }
//! ```
//!
//! The usage hours of a device are, first found: the site's `classes.<class>`, the site's `usage`,
//! `class_usage.<class>`, and the default, `analytics.left_on`'s `days`, `from`, `to`. A public holiday
//! of the site's state, and a day in `days_off`, counts as a Sunday: no usage hours, a weekend day for the
//! baseload, and the learned normal of Sunday. School holidays count the same for school sites (category
//! `schule` or `gymnasium`) only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ClockTime, Date, Day};
use crate::calendar::holidays::State;

/// Usage hours: on `days`, from `from` to `to` (local time).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UsageHours {
    /// Days with usage hours.
    pub days: Vec<Day>,
    /// Start (local time).
    pub from: ClockTime,
    /// End (local time), after `from`.
    pub to: ClockTime,
}

/// A span of days, `from` to `to`, both inclusive; at most a year long.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day.
    pub from: Date,
    /// Last day (inclusive), not before `from`.
    pub to: Date,
}

/// The calendar of one site (`[analytics.calendar.sites.<site id>]`); every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteCalendar {
    /// The site's federal state (public holidays); absent: `calendar.state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The site's usage hours; absent: the class's or the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageHours>,
    /// Usage hours per device class at this site.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, UsageHours>,
    /// The site's school holidays, replacing its state's (a school site only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub school_holidays: Option<Vec<DateRange>>,
    /// Days off at this site besides the public holidays.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days_off: Vec<Date>,
}

/// Usage hours and holidays (`[analytics.calendar]`; see the module doc for the order of lookup).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Federal state whose public holidays apply to sites without their own (`BW`, `BY`, `BE`, `BB`,
    /// `HB`, `HH`, `HE`, `MV`, `NI`, `NW`, `RP`, `SL`, `SN`, `ST`, `SH`, `TH`); absent: no public holidays
    /// are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Days off at every site (bridge days, commune holidays).
    pub days_off: Vec<Date>,
    /// School holidays per federal state code: first and last day of each.
    pub school_holidays: BTreeMap<String, Vec<DateRange>>,
    /// Usage hours per device class at every site.
    pub class_usage: BTreeMap<String, UsageHours>,
    /// Settings of single sites, by site id.
    pub sites: BTreeMap<String, SiteCalendar>,
}

impl UsageHours {
    fn validate(&self, path: &str, e: &mut Vec<String>) {
        if self.from >= self.to {
            e.push(format!("analytics.{path}.from: must be earlier than to"));
        }
        if self.days.is_empty() {
            e.push(format!(
                "analytics.{path}.days: must name at least one day (a site without usage hours: use \
                 left_on.exclude)"
            ));
        }
    }
}

fn ranges(list: &[DateRange], path: &str, e: &mut Vec<String>) {
    for (i, r) in list.iter().enumerate() {
        if r.to < r.from {
            e.push(format!("analytics.{path}[{i}].to: must not be before from"));
        } else if (r.to.0 - r.from.0).num_days() > 366 {
            e.push(format!(
                "analytics.{path}[{i}]: at most a year long (one entry per holiday)"
            ));
        }
    }
}

fn state(code: &str, path: &str, e: &mut Vec<String>) {
    if State::parse(code).is_none() {
        e.push(format!(
            "analytics.{path}: unknown federal state {code:?}; allowed: BW, BY, BE, BB, HB, HH, HE, MV, NI, \
             NW, RP, SL, SN, ST, SH, TH"
        ));
    }
}

fn classes(map: &BTreeMap<String, UsageHours>, path: &str, e: &mut Vec<String>) {
    for (class, u) in map {
        super::known_class(class, &format!("{path}.{class}"), e);
        u.validate(&format!("{path}.{class}"), e);
    }
}

impl CalendarConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        if let Some(s) = &self.state {
            state(s, "calendar.state", e);
        }
        for (code, list) in &self.school_holidays {
            state(code, &format!("calendar.school_holidays.{code}"), e);
            ranges(list, &format!("calendar.school_holidays.{code}"), e);
        }
        classes(&self.class_usage, "calendar.class_usage", e);
        for (site, c) in &self.sites {
            let path = format!("calendar.sites.{site}");
            if let Some(s) = &c.state {
                state(s, &format!("{path}.state"), e);
            }
            if let Some(u) = &c.usage {
                u.validate(&format!("{path}.usage"), e);
            }
            classes(&c.classes, &format!("{path}.classes"), e);
            if let Some(list) = &c.school_holidays {
                ranges(list, &format!("{path}.school_holidays"), e);
            }
        }
    }

    /// The federal state of `site` (its own, else the default; `None`: no public holidays).
    pub fn state_of(&self, site: &str) -> Option<State> {
        self.sites
            .get(site)
            .and_then(|s| s.state.as_deref())
            .or(self.state.as_deref())
            .and_then(State::parse)
    }
}
