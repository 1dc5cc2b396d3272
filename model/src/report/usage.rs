//! Usage hours (Nutzungszeiten) and the split of a span into stretches wholly inside or outside them, so the
//! energy used at night and at weekends is read exactly from counter deltas at these edges.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// When a building is in use: the same local hours on the given weekdays (holidays are not known here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageHours {
    /// Days in use, e.g. `["Mon", "Tue", "Wed", "Thu", "Fri"]`.
    pub days: Vec<Weekday>,
    /// Local start, inclusive (`"07:00"`).
    pub from: NaiveTime,
    /// Local end, exclusive (`"18:00"`); after `from`.
    pub to: NaiveTime,
}

impl Default for UsageHours {
    /// Monday to Friday, 07:00 to 18:00.
    fn default() -> Self {
        Self {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            from: NaiveTime::from_hms_opt(7, 0, 0).expect("a valid time"),
            to: NaiveTime::from_hms_opt(18, 0, 0).expect("a valid time"),
        }
    }
}

impl UsageHours {
    /// Reports `to` not after `from`, prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        if self.to <= self.from {
            return vec![format!(
                "{path}.to: {} must be after from ({})",
                self.to, self.from
            )];
        }
        Vec::new()
    }

    /// The edges of the local days `from..to` (end exclusive) split at the usage hours, and for each
    /// stretch `[edges[k], edges[k + 1])` whether it lies inside them. A local time that does not exist
    /// (DST) is taken at its next hour, an ambiguous one at its first occurrence.
    pub fn split<Z: TimeZone>(
        &self,
        tz: &Z,
        from: NaiveDate,
        to: NaiveDate,
    ) -> (Vec<DateTime<Utc>>, Vec<bool>) {
        let at = |d: NaiveDate, t: NaiveTime| -> Option<DateTime<Utc>> {
            let local = d.and_time(t);
            tz.from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
        };
        let (mut edges, mut inside) = (Vec::new(), Vec::new());
        for d in from.iter_days().take_while(|d| *d < to) {
            let Some(midnight) = at(d, NaiveTime::MIN) else {
                continue;
            };
            edges.push(midnight);
            if self.days.contains(&d.weekday())
                && let (Some(a), Some(b)) = (at(d, self.from), at(d, self.to))
            {
                if a > midnight {
                    inside.push(false);
                    edges.push(a);
                }
                inside.push(true);
                edges.push(b);
            }
            inside.push(false);
        }
        if let Some(end) = at(to, NaiveTime::MIN) {
            edges.push(end);
        }
        // A stretch that ends where the next begins (usage until midnight) has no length: drop it.
        let mut k = 0;
        while k + 1 < edges.len() {
            if edges[k + 1] <= edges[k] {
                edges.remove(k + 1);
                inside.remove(k);
            } else {
                k += 1;
            }
        }
        inside.truncate(edges.len().saturating_sub(1));
        (edges, inside)
    }
}
